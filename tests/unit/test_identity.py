"""Who is calling: dev tokens (HS256) on the local stage, Cognito tokens (RS256, checked
against the pool's keys) on hosted stages, and every way a token must be refused.

The RSA key is made here with `cryptography` (a moto dependency; test-only use), and the
pool's JWKS is served by patching chalicelib.identity._cognito_keys or urlopen."""

import hashlib
import hmac
import io
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib import identity
from chalicelib.errors import Unauthorized
from chalicelib.identity import _b64encode, authenticate, sign_dev_token
from chalicelib.settings import VARIABLES, get_settings
from tests.unit.conftest import REAL_MONEY

SECRET = "secret-de-test"
POOL = "eu-west-3_OzeP00l"
CLIENT_ID = "oze-web-client"
ISSUER = f"https://cognito-idp.eu-west-3.amazonaws.com/{POOL}"
KID = "cle-2026"


@pytest.fixture
def settings(monkeypatch):
    """Settings of a stage from the given variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def make(**values: str):
        for name, value in {"TABLE_NAME": "oze-test", **values}.items():
            monkeypatch.setenv(name, value)
        return get_settings()

    return make


@pytest.fixture
def local(settings):
    return settings(STAGE="local", DEV_JWT_SECRET=SECRET)


@pytest.fixture
def hosted(settings):
    return settings(
        STAGE="prod", COGNITO_USER_POOL_ID=POOL, COGNITO_APP_CLIENT_ID=CLIENT_ID, AWS_REGION="eu-west-3", **REAL_MONEY
    )


def bearer(token: str) -> str:
    return f"Bearer {token}"


def unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join(_b64encode(part) for part in (json.dumps(header).encode(), json.dumps(payload).encode(), signature))


# --- local stage: HS256 dev tokens -------------------------------------------------------


def test_a_dev_token_gives_its_claims(local):
    claims = {"sub": "u-42", "email": "lea@exemple.fr", "name": "Léa Dupont", "cognito:groups": ["moderators"]}

    user = authenticate(bearer(sign_dev_token(SECRET, claims)), local)

    assert (user.sub, user.email, user.name, user.display_name) == (
        "u-42",
        "lea@exemple.fr",
        "Léa Dupont",
        "Léa Dupont",
    )
    assert user.groups == frozenset({"moderators"}) and user.is_moderator


def test_a_dev_token_without_groups_is_not_a_moderator(local):
    user = authenticate(bearer(sign_dev_token(SECRET, {"sub": "u-1"})), local)
    assert (user.groups, user.is_moderator, user.display_name) == (frozenset(), False, "Contributeur")


def test_a_single_group_as_a_string_is_read_as_one_group(local):
    user = authenticate(bearer(sign_dev_token(SECRET, {"sub": "u-1", "cognito:groups": "moderators"})), local)
    assert user.is_moderator


def test_no_header_is_anonymous(local):
    assert authenticate(None, local) is None
    assert authenticate("", local) is None


def test_the_scheme_is_case_insensitive(local):
    assert authenticate("bearer " + sign_dev_token(SECRET, {"sub": "u-1"}), local).sub == "u-1"


def test_a_token_just_past_its_expiry_is_accepted_within_the_clock_skew(local):
    token = sign_dev_token(SECRET, {"sub": "u-1"}, ttl_seconds=-(identity.CLOCK_SKEW_SECONDS // 2))
    assert authenticate(bearer(token), local).sub == "u-1"


def _tampered(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(identity._b64decode(payload)) | changes
    return f"{header}.{_b64encode(json.dumps(claims).encode())}.{signature}"


def unsigned_hs256(payload: dict) -> str:
    """An HS256 token with exactly these claims (sign_dev_token adds exp)."""
    signing_input = unsigned({"alg": "HS256", "typ": "JWT"}, payload).rsplit(".", 1)[0]
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


LOCAL_REFUSALS = {
    "other secret": lambda: bearer(sign_dev_token("un-autre-secret", {"sub": "u-1"})),
    "expired": lambda: bearer(sign_dev_token(SECRET, {"sub": "u-1"}, ttl_seconds=-3600)),
    "no expiry": lambda: bearer(unsigned_hs256({"sub": "u-1"})),
    "expiry not a number": lambda: bearer(unsigned_hs256({"sub": "u-1", "exp": "demain"})),
    "claims changed after signing": lambda: bearer(
        _tampered(sign_dev_token(SECRET, {"sub": "u-1"}), **{"cognito:groups": ["moderators"]})
    ),
    "another subject after signing": lambda: bearer(_tampered(sign_dev_token(SECRET, {"sub": "u-1"}), sub="u-2")),
    "alg none": lambda: bearer(unsigned({"alg": "none"}, {"sub": "u-1", "exp": time.time() + 600})),
    "alg RS256 on the local stage": lambda: bearer(
        unsigned({"alg": "RS256", "kid": KID}, {"sub": "u-1", "exp": time.time() + 600}, b"x" * 256)
    ),
    "no subject": lambda: bearer(sign_dev_token(SECRET, {"name": "Personne"})),
    "empty subject": lambda: bearer(sign_dev_token(SECRET, {"sub": ""})),
    "two parts": lambda: "Bearer abc.def",
    "not base64 json": lambda: "Bearer abc.def.ghi",
    "payload not an object": lambda: bearer(unsigned({"alg": "HS256"}, ["u-1"])),  # type: ignore[arg-type]
    "empty token": lambda: "Bearer ",
    "basic scheme": lambda: "Basic dTE6bW90LWRlLXBhc3Nl",
    "no scheme": lambda: sign_dev_token(SECRET, {"sub": "u-1"}),
}


@pytest.mark.parametrize("case", LOCAL_REFUSALS)
def test_a_bad_dev_token_is_refused(local, case):
    with pytest.raises(Unauthorized):
        authenticate(LOCAL_REFUSALS[case](), local)


def test_dev_tokens_are_refused_on_a_hosted_stage(hosted, monkeypatch):
    monkeypatch.setattr(identity, "_cognito_keys", lambda issuer: {})
    with pytest.raises(Unauthorized):
        authenticate(bearer(sign_dev_token(SECRET, {"sub": "u-1", "iss": ISSUER, "aud": CLIENT_ID})), hosted)


def test_a_stage_without_sign_in_configured_refuses_every_token(settings):
    bare = settings(STAGE="prod", **REAL_MONEY)
    with pytest.raises(Unauthorized, match="not configured"):
        authenticate(bearer(sign_dev_token(SECRET, {"sub": "u-1"})), bare)


# --- hosted stages: Cognito RS256 ----------------------------------------------------------


@pytest.fixture(scope="module")
def pool_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def cognito(hosted, pool_key, monkeypatch):
    """The pool's public keys, as _cognito_keys would have fetched them."""
    numbers = pool_key.public_key().public_numbers()
    asked = []

    def keys(issuer):
        asked.append(issuer)
        return {KID: (numbers.n, numbers.e)}

    monkeypatch.setattr(identity, "_cognito_keys", keys)
    return asked


def cognito_token(key, claims: dict | None = None, *, kid: str = KID, **changes) -> str:
    now = int(time.time())
    payload = {
        "sub": "c0gn1t0-5ub",
        "email": "gregory@exemple.fr",
        "name": "Grégory Jamard",
        "cognito:groups": ["moderators"],
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        **(claims or {}),
    }
    payload = {k: v for k, v in {**payload, **changes}.items() if v is not None}
    signing_input = unsigned({"alg": "RS256", "kid": kid}, payload).rsplit(".", 1)[0]
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64encode(signature)}"


def test_a_cognito_id_token_gives_its_claims(hosted, cognito, pool_key):
    user = authenticate(bearer(cognito_token(pool_key)), hosted)

    assert (user.sub, user.email, user.name) == ("c0gn1t0-5ub", "gregory@exemple.fr", "Grégory Jamard")
    assert user.is_moderator
    assert cognito == [ISSUER]  # keys asked of this pool's issuer


def test_a_cognito_access_token_is_checked_against_client_id(hosted, cognito, pool_key):
    token = cognito_token(pool_key, token_use="access", aud=None, client_id=CLIENT_ID, email=None, name=None)
    user = authenticate(bearer(token), hosted)
    assert (user.sub, user.email) == ("c0gn1t0-5ub", "")


def _flip_last_byte(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(identity._b64decode(signature))
    raw[-1] ^= 1
    return f"{header}.{payload}.{_b64encode(bytes(raw))}"


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


COGNITO_REFUSALS = {
    "claims changed after signing": lambda key, other: _tampered(cognito_token(key, **{"cognito:groups": []}), sub="x"),
    "signature altered": lambda key, other: _flip_last_byte(cognito_token(key)),
    "signed by another key": lambda key, other: cognito_token(other),
    "unknown key id": lambda key, other: cognito_token(key, kid="autre-cle"),
    "wrong audience": lambda key, other: cognito_token(key, aud="un-autre-client"),
    "access token for another client": lambda key, other: cognito_token(
        key, token_use="access", aud=None, client_id="un-autre-client"
    ),
    "wrong issuer": lambda key, other: cognito_token(key, iss="https://cognito-idp.eu-west-3.amazonaws.com/autre"),
    "no issuer": lambda key, other: cognito_token(key, iss=None),
    "expired": lambda key, other: cognito_token(key, exp=int(time.time()) - 3600),
    "no subject": lambda key, other: cognito_token(key, sub=None),
    "HS256 signed with the client id": lambda key, other: sign_dev_token(CLIENT_ID, {"sub": "x", "aud": CLIENT_ID}),
    "signature too short": lambda key, other: cognito_token(key).rsplit(".", 1)[0] + "." + _b64encode(b"\x01" * 16),
}


@pytest.mark.parametrize("case", COGNITO_REFUSALS)
def test_a_bad_cognito_token_is_refused(hosted, cognito, pool_key, other_key, case):
    with pytest.raises(Unauthorized):
        authenticate(bearer(COGNITO_REFUSALS[case](pool_key, other_key)), hosted)


def test_the_pool_keys_are_read_from_its_jwks(pool_key, monkeypatch):
    numbers = pool_key.public_key().public_numbers()
    jwks = {
        "keys": [
            {"kid": KID, "kty": "RSA", "alg": "RS256", "use": "sig", "n": _b64encode(numbers.n.to_bytes(256, "big")),
             "e": _b64encode(numbers.e.to_bytes(3, "big"))},
            {"kid": "ec", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        ]
    }  # fmt: skip
    urls = []

    def urlopen(url, timeout):
        urls.append(url)
        return io.BytesIO(json.dumps(jwks).encode())

    monkeypatch.setattr(identity.urllib.request, "urlopen", urlopen)
    identity._cognito_keys.cache_clear()
    try:
        keys = identity._cognito_keys(ISSUER)
        assert identity._cognito_keys(ISSUER) is keys  # fetched once per container
    finally:
        identity._cognito_keys.cache_clear()

    assert keys == {KID: (numbers.n, numbers.e)}
    assert urls == [f"{ISSUER}/.well-known/jwks.json"]
