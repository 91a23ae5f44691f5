"""Who is calling: bearer tokens with Cognito's claims, verified inside the function.

Hosted stages verify Cognito user-pool tokens (RS256, keys from the pool's JWKS, fetched
once per container). The local stage verifies HS256 dev tokens signed with
DEV_JWT_SECRET, which settings refuse outside the local stage. Verification happens in
the function rather than in an API Gateway authorizer because public routes serve more
to a signed-in owner or moderator (their drafts), and a gateway authorizer cannot be
optional.
"""

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from functools import lru_cache
from typing import Any, NamedTuple

from .errors import Unauthorized
from .settings import Settings

MODERATORS_GROUP = "moderators"
# DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
CLOCK_SKEW_SECONDS = 60


class Identity(NamedTuple):
    sub: str
    email: str = ""
    name: str = ""
    groups: frozenset[str] = frozenset()

    @property
    def is_moderator(self) -> bool:
        return MODERATORS_GROUP in self.groups

    @property
    def display_name(self) -> str:
        return self.name or "Contributeur"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_dev_token(secret: str, claims: dict[str, Any], ttl_seconds: int = 12 * 3600) -> str:
    """An HS256 token with Cognito's claim names, for the local stage and its tests."""
    now = int(time.time())
    payload = {"iat": now, "exp": now + ttl_seconds, "token_use": "id", **claims}
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64encode(json.dumps(header).encode())}.{_b64encode(json.dumps(payload).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_part, payload_part, signature_part = token.split(".")
        header = json.loads(_b64decode(header_part))
        payload = json.loads(_b64decode(payload_part))
        signature = _b64decode(signature_part)
    except (ValueError, TypeError) as exc:
        raise Unauthorized("the bearer token is not a well-formed JWT") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise Unauthorized("the bearer token is not a well-formed JWT")
    return header, payload, f"{header_part}.{payload_part}".encode(), signature


def _verify_hs256(secret: str, header: dict[str, Any], signed: bytes, signature: bytes) -> None:
    if header.get("alg") != "HS256":
        raise Unauthorized("the local stage accepts HS256 dev tokens only")
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise Unauthorized("the bearer token's signature is invalid")


@lru_cache(maxsize=4)
def _cognito_keys(issuer: str) -> dict[str, tuple[int, int]]:
    with urllib.request.urlopen(f"{issuer}/.well-known/jwks.json", timeout=5) as answer:
        keys = json.load(answer)["keys"]
    return {
        key["kid"]: (int.from_bytes(_b64decode(key["n"]), "big"), int.from_bytes(_b64decode(key["e"]), "big"))
        for key in keys
        if key.get("kty") == "RSA"
    }


def _verify_rs256(issuer: str, header: dict[str, Any], signed: bytes, signature: bytes) -> None:
    """RSASSA-PKCS1-v1_5 with SHA-256, by encoding the expected block and comparing."""
    if header.get("alg") != "RS256":
        raise Unauthorized("hosted stages accept Cognito RS256 tokens only")
    kid = header.get("kid")
    key = _cognito_keys(issuer).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Unauthorized("the bearer token is signed with an unknown key")
    modulus, exponent = key
    size = (modulus.bit_length() + 7) // 8
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(signed).digest()
    expected = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= modulus:
        raise Unauthorized("the bearer token's signature is invalid")
    if not hmac.compare_digest(pow(value, exponent, modulus).to_bytes(size, "big"), expected):
        raise Unauthorized("the bearer token's signature is invalid")


def _check_claims(payload: dict[str, Any], settings: Settings, issuer: str) -> None:
    now = time.time()
    if not isinstance(payload.get("exp"), (int, float)) or payload["exp"] < now - CLOCK_SKEW_SECONDS:
        raise Unauthorized("the bearer token has expired")
    if not isinstance(payload.get("sub"), str) or not payload["sub"]:
        raise Unauthorized("the bearer token has no subject")
    if settings.is_local:
        return
    if payload.get("iss") != issuer:
        raise Unauthorized("the bearer token comes from another issuer")
    audience = payload.get("aud") if payload.get("token_use") == "id" else payload.get("client_id")
    if audience != settings.cognito_app_client_id:
        raise Unauthorized("the bearer token was issued for another client")


def _issuer(settings: Settings) -> str:
    return f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.cognito_user_pool_id}"


def authenticate(authorization: str | None, settings: Settings) -> Identity | None:
    """The caller of a request, None when anonymous; Unauthorized for a bad token."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use an 'Authorization: Bearer <token>' header")
    header, payload, signed, signature = _split(token.strip())
    issuer = _issuer(settings)
    if settings.is_local and settings.dev_jwt_secret:
        _verify_hs256(settings.dev_jwt_secret, header, signed, signature)
    elif settings.cognito_user_pool_id and settings.cognito_app_client_id:
        _verify_rs256(issuer, header, signed, signature)
    else:
        raise Unauthorized("sign-in is not configured on this stage")
    _check_claims(payload, settings, issuer)
    groups = payload.get("cognito:groups") or []
    return Identity(
        sub=payload["sub"],
        email=str(payload.get("email", "")),
        name=str(payload.get("name", "")),
        groups=frozenset(groups if isinstance(groups, list) else [groups]),
    )
