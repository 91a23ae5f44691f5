"""Every setting of a stage, read from environment variables in this one place.

Read lazily: the Chalice test client sets a stage's variables only during a call, and
Lambda sets them before the first invocation, not at import. Parsing is cached per
distinct environment, so a warm Lambda parses once.
"""

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_CATEGORIES = "business,culture,social,environment,heritage,sport,education,other"

# name of the variable -> default; None means required.
VARIABLES = {
    "STAGE": "local",
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
}


class ConfigurationError(RuntimeError):
    """The stage is misconfigured: the function must not serve."""


@dataclass(frozen=True)
class Settings:
    stage: str
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

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@lru_cache(maxsize=8)
def _parse(values: tuple[tuple[str, str | None], ...]) -> Settings:
    raw = dict(values)
    missing = [name for name, value in raw.items() if value is None]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    ints = {name.lower(): int(raw[name]) for name in raw if name.endswith(("_CENTS", "_DAYS"))}
    settings = Settings(
        stage=raw["STAGE"],
        table_name=raw["TABLE_NAME"],
        media_bucket=raw["MEDIA_BUCKET"],
        territory_name=raw["TERRITORY_NAME"],
        postcode_prefixes=_csv(raw["POSTCODE_PREFIXES"]),
        categories=_csv(raw["CATEGORIES"]),
        timezone=raw["TIMEZONE"],
        dev_jwt_secret=raw["DEV_JWT_SECRET"],
        cognito_user_pool_id=raw["COGNITO_USER_POOL_ID"],
        cognito_app_client_id=raw["COGNITO_APP_CLIENT_ID"],
        aws_region=raw["AWS_REGION"],
        **ints,
    )
    if settings.dev_jwt_secret and not settings.is_local:
        raise ConfigurationError(
            f"stage {settings.stage!r} has DEV_JWT_SECRET set: dev tokens are for the local stage only"
        )
    return settings


def get_settings() -> Settings:
    return _parse(tuple((name, os.environ.get(name, default)) for name, default in VARIABLES.items()))
