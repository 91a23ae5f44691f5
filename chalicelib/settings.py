"""Every setting of a stage, read from environment variables in this one place.

Read lazily: the Chalice test client sets a stage's variables only during a call, and
Lambda sets them before the first invocation, not at import. Parsing is cached per
distinct environment, so a warm Lambda parses once.
"""

import os
import re
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

DEFAULT_CATEGORIES = "business,culture,social,environment,heritage,sport,education,other"

# name of the variable -> default; None means required.
VARIABLES = {
    "STAGE": "local",
    # Set by the Lambda runtime, empty elsewhere: a function in AWS is never the local stage.
    "AWS_LAMBDA_FUNCTION_NAME": "",
    "TABLE_NAME": None,
    "MEDIA_BUCKET": "",
    "TERRITORY_NAME": "Manche",
    "POSTCODE_PREFIXES": "50",
    "GOAL_MIN_CENTS": "10000",
    "GOAL_MAX_CENTS": "100000000",
    "PLEDGE_MIN_CENTS": "100",
    "PLEDGE_MAX_CENTS": "1000000",
    "DURATION_MIN_DAYS": "1",
    "DURATION_MAX_DAYS": "90",
    "CATEGORIES": DEFAULT_CATEGORIES,
    "TIMEZONE": "Europe/Paris",
    "DEV_JWT_SECRET": "",
    "COGNITO_USER_POOL_ID": "",
    "COGNITO_APP_CLIENT_ID": "",
    "AWS_REGION": "eu-west-3",
    # The HTTP edge (chalicelib/http.py): web origins answered with CORS headers (exact
    # scheme://host[:port], comma-separated; empty: none), and the largest request body.
    "ALLOWED_ORIGINS": "",
    "MAX_BODY_BYTES": str(64 * 1024),
    # Project media: accepted types per kind (see KNOWN_MEDIA_TYPES), sizes, count, expiries.
    "MEDIA_IMAGE_TYPES": "image/jpeg,image/png,image/webp",
    "MEDIA_VIDEO_TYPES": "video/mp4",
    "MEDIA_IMAGE_MAX_BYTES": str(10 * 1024 * 1024),
    "MEDIA_VIDEO_MAX_BYTES": str(200 * 1024 * 1024),
    "MEDIA_MAX_COUNT": "12",
    "MEDIA_UPLOAD_SECONDS": "600",
    "MEDIA_URL_SECONDS": "3600",
    # A CDN in front of the bucket's media/ keys; empty: presigned GET URLs.
    "MEDIA_PUBLIC_BASE_URL": "",
    # Closure and settlement (chalicelib/finalisation.py).
    # The escrow provider (chalicelib/escrow.py), how long a pledge may wait for its
    # payment, and how many refunds a settlement asks of the provider at once.
    "PAYMENT_PROVIDER": "sandbox",
    "PAYMENT_WINDOW_SECONDS": "1800",
    # 32: 10,000 refunds at 400 ms each within 5 minutes (README); botocore keeps as many connections.
    "REFUND_CONCURRENCY": "32",
    "SETTLEMENT_QUEUE_URL": "",  # empty: settle in the calling process (local runs)
    "SETTLEMENT_BATCH_COUNT": "2000",  # pledges one invocation settles before handing on
    # The platform's commission on a succeeded campaign's escrow, in basis points of it
    # (100 = 1 %), kept at the provider as the transfer's fees (chalicelib/payouts.py).
    "COMMISSION_BASIS_POINTS": "0",
    # E-mails (chalicelib/notifications.py); no sender, no mail.
    "SENDER_EMAIL": "",
    "SITE_URL": "http://localhost:3000",
    # Unsubscribe links of news e-mails (chalicelib/updates.py): the API's public URL, and
    # the key that signs them (empty: a key made once and kept in the table).
    "API_URL": "http://127.0.0.1:8000",
    "UNSUBSCRIBE_SECRET": "",
    # The escrow provider Mangopay (chalicelib/adapters/mangopay.py): its API (the sandbox
    # unless the stage says https://api.mangopay.com), and the platform's own user there,
    # who owns the campaigns' escrow wallets. Its credentials are not settings: SSM
    # Parameter Store SecureStrings /oze-<stage>/mangopay/client-id and …/api-key.
    "MANGOPAY_API_URL": "https://api.sandbox.mangopay.com",
    "MANGOPAY_ESCROW_USER_ID": "",
}
# Variables holding comma-separated lists, and the endings of those holding integers.
LISTS = {"POSTCODE_PREFIXES", "CATEGORIES", "MEDIA_IMAGE_TYPES", "MEDIA_VIDEO_TYPES", "ALLOWED_ORIGINS"}
NUMBERS = ("_CENTS", "_DAYS", "_BYTES", "_COUNT", "_SECONDS", "_CONCURRENCY", "_POINTS")
# A web origin as browsers send it: no path, no trailing slash (which would never match).
ORIGIN = re.compile(r"https?://[^/\s]+")
# The types whose content chalicelib/media.py can recognise; a stage may allow fewer.
KNOWN_MEDIA_TYPES = {"image": ("image/jpeg", "image/png", "image/webp"), "video": ("video/mp4",)}


# Stages that may run on the sandbox provider, with loopback URLs: the local stack and the
# hosted dev stage. Every other stage takes real money.
SANDBOX_STAGES = ("local", "dev")


class ConfigurationError(RuntimeError):
    """The stage is misconfigured: the function must not serve."""


class Settings(NamedTuple):
    # NamedTuple rather than a frozen dataclass: as immutable, and a fifth of its cost at
    # import (make bench), where a dataclass generates and compiles its methods.

    stage: str
    aws_lambda_function_name: str
    table_name: str
    media_bucket: str
    territory_name: str
    postcode_prefixes: tuple[str, ...]
    goal_min_cents: int
    goal_max_cents: int
    pledge_min_cents: int
    pledge_max_cents: int
    duration_min_days: int
    duration_max_days: int
    categories: tuple[str, ...]
    timezone: str
    dev_jwt_secret: str
    cognito_user_pool_id: str
    cognito_app_client_id: str
    aws_region: str
    media_image_types: tuple[str, ...]
    media_video_types: tuple[str, ...]
    media_image_max_bytes: int
    media_video_max_bytes: int
    media_max_count: int
    media_upload_seconds: int
    media_url_seconds: int
    media_public_base_url: str
    payment_provider: str
    payment_window_seconds: int
    refund_concurrency: int
    settlement_queue_url: str
    settlement_batch_count: int
    commission_basis_points: int
    sender_email: str
    site_url: str
    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    api_url: str
    unsubscribe_secret: str
    mangopay_api_url: str
    mangopay_escrow_user_id: str

    def media_types(self, kind: str) -> tuple[str, ...]:
        return self.media_image_types if kind == "image" else self.media_video_types

    def media_max_bytes(self, kind: str) -> int:
        return self.media_image_max_bytes if kind == "image" else self.media_video_max_bytes

    @property
    def is_local(self) -> bool:
        """The local stage on a developer's machine: dev tokens are accepted there only, so
        never in AWS, whatever STAGE says (or when it is unset)."""
        return self.stage == "local" and not self.aws_lambda_function_name


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _typed(name: str, value: str) -> str | int | tuple[str, ...]:
    if name in LISTS:
        return _csv(value)
    if name.endswith(NUMBERS):
        return int(value)
    return value.rstrip("/") if name.endswith("_URL") else value


@lru_cache(maxsize=8)
def _parse(values: tuple[tuple[str, str | None], ...]) -> Settings:
    missing = [name for name, value in values if value is None]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    try:
        # Each value as its field has it (_typed knows by the variable's name).
        fields: dict[str, Any] = {name.lower(): _typed(name, value) for name, value in values if value is not None}
        settings = Settings(**fields)
    except ValueError as exc:
        raise ConfigurationError(f"invalid setting: {exc}") from exc
    if settings.dev_jwt_secret and not settings.is_local:
        raise ConfigurationError(
            f"stage {settings.stage!r} has DEV_JWT_SECRET set: dev tokens are for the local stage only, "
            "on a developer's machine (never in AWS)"
        )
    bad_origins = [origin for origin in settings.allowed_origins if not ORIGIN.fullmatch(origin)]
    if bad_origins:
        raise ConfigurationError(f"ALLOWED_ORIGINS: {', '.join(bad_origins)} is not scheme://host[:port]")
    _check_money_stage(settings)
    for kind, known in KNOWN_MEDIA_TYPES.items():
        unknown = set(settings.media_types(kind)) - set(known)
        if unknown:
            raise ConfigurationError(f"MEDIA_{kind.upper()}_TYPES: cannot verify {', '.join(sorted(unknown))}")
    return settings


def _check_money_stage(settings: Settings) -> None:
    """A hosted stage other than dev takes real money: never the sandbox provider, never a
    loopback URL (its payment pages and links would point nowhere), and its web origins
    named (SPEC "Money (v2)")."""
    if settings.stage in SANDBOX_STAGES:
        return
    wrong = []
    if settings.payment_provider == "sandbox":
        wrong.append("PAYMENT_PROVIDER is the sandbox")
    wrong += [f"{name} is a loopback URL" for name, url in _urls(settings) if _loopback(url)]
    if not settings.allowed_origins:
        wrong.append("ALLOWED_ORIGINS is empty")
    if wrong:
        raise ConfigurationError(f"stage {settings.stage!r} cannot take real money: {'; '.join(wrong)}")


def _urls(settings: Settings) -> list[tuple[str, str]]:
    return [
        ("API_URL", settings.api_url),
        ("SITE_URL", settings.site_url),
        *(("ALLOWED_ORIGINS", origin) for origin in settings.allowed_origins),
    ]


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host in ("::1", "0.0.0.0")


def get_settings() -> Settings:
    return _parse(tuple((name, os.environ.get(name, default)) for name, default in VARIABLES.items()))


def wiring(name: str, default: str) -> str:
    """What chalice must know when it reads app.py (a schedule's rate, a queue's name):
    `chalice package` and `deploy` set the stage's variables before importing the app."""
    return os.environ.get(name, default)
