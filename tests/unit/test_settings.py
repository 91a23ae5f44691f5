"""A stage's settings: parsed from environment variables into one typed object, with the
SPEC's defaults, another territory's values, and the refusals that stop a misconfigured
stage from serving (a dev token secret outside the local stage above all)."""

import os
import subprocess
import sys

import pytest

from chalicelib.models.campaigns import CampaignCreate
from chalicelib.settings import VARIABLES, ConfigurationError, get_settings
from tests.api.test_campaigns_api import DRAFT
from tests.conftest import ROOT
from tests.unit.conftest import REAL_MONEY


@pytest.fixture
def settings_from(monkeypatch):
    """Settings from exactly the given variables (plus the one required TABLE_NAME)."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def parse(**values: str):
        for name, value in {"TABLE_NAME": "oze-test", **values}.items():
            monkeypatch.setenv(name, value)
        return get_settings()

    return parse


def test_defaults_are_the_spec_bounds_for_la_manche(settings_from):
    settings = settings_from()

    assert (settings.stage, settings.is_local, settings.table_name) == ("local", True, "oze-test")
    assert (settings.territory_name, settings.postcode_prefixes) == ("Manche", ("50",))
    assert (settings.goal_min_cents, settings.goal_max_cents) == (10_000, 100_000_000)
    assert (settings.pledge_min_cents, settings.pledge_max_cents) == (100, 1_000_000)
    assert (settings.duration_min_days, settings.duration_max_days) == (1, 90)
    assert settings.categories == (
        "business", "culture", "social", "environment", "heritage", "sport", "education", "other",
    )  # fmt: skip
    assert settings.timezone == "Europe/Paris"
    assert settings.dev_jwt_secret == ""
    assert settings.payment_provider == "sandbox"
    assert settings.payment_window_seconds == 30 * 60  # SPEC "Money (v2)": the payment window


@pytest.mark.parametrize("prefixes", ["14,61", " 14 , 61 ", "14,,61,"])
def test_another_departement_sets_its_own_prefixes(settings_from, prefixes):
    assert settings_from(POSTCODE_PREFIXES=prefixes).postcode_prefixes == ("14", "61")


def _validate(settings, **changes):
    return CampaignCreate.model_validate({**DRAFT, **changes}, context={"settings": settings})


def test_the_territory_and_bounds_of_a_stage_are_what_validation_applies(settings_from):
    settings = settings_from(
        TERRITORY_NAME="Calvados et Orne",
        POSTCODE_PREFIXES="14,61",
        GOAL_MIN_CENTS="50000",
        DURATION_MAX_DAYS="60",
        CATEGORIES="culture,patrimoine",
    )

    assert _validate(settings, postcode="14000", category="patrimoine", goal_cents=50_000).postcode == "14000"
    assert _validate(settings, postcode="61000", category="culture", duration_days=60).postcode == "61000"
    refusals = {
        "postcode": {"postcode": "50000", "category": "culture"},
        "goal_cents": {"postcode": "14000", "category": "culture", "goal_cents": 49_999},
        "duration_days": {"postcode": "14000", "category": "culture", "duration_days": 61},
        "category": {"postcode": "14000", "category": "business"},
    }
    for field, changes in refusals.items():
        with pytest.raises(ValueError) as refused:
            _validate(settings, **changes)
        assert [error["loc"] for error in refused.value.errors()] == [(field,)]
    with pytest.raises(ValueError, match=r"Calvados et Orne \(14, 61"):
        _validate(settings, postcode="50000", category="culture")


@pytest.mark.parametrize("stage", ["prod", "staging", "dev"])
def test_a_dev_token_secret_outside_the_local_stage_is_refused(settings_from, stage):
    with pytest.raises(ConfigurationError, match="DEV_JWT_SECRET"):
        settings_from(STAGE=stage, DEV_JWT_SECRET="x")


@pytest.mark.parametrize("stage", [{"STAGE": "local"}, {}], ids=["STAGE local", "STAGE unset"])
def test_a_function_in_aws_is_never_the_local_stage(settings_from, stage):
    """The Lambda runtime names the function: dev tokens are refused there whatever STAGE says."""
    in_aws = {"AWS_LAMBDA_FUNCTION_NAME": "oze-dev-APIHandler-1A2B3C", **stage}
    with pytest.raises(ConfigurationError, match="DEV_JWT_SECRET"):
        settings_from(**in_aws, DEV_JWT_SECRET="x")
    assert not settings_from(**in_aws, DEV_JWT_SECRET="").is_local
    assert settings_from(**stage, AWS_LAMBDA_FUNCTION_NAME="", DEV_JWT_SECRET="").is_local  # a developer's machine


def test_a_hosted_stage_without_a_dev_secret_is_fine(settings_from):
    settings = settings_from(
        STAGE="prod", COGNITO_USER_POOL_ID="eu-west-3_Abc", COGNITO_APP_CLIENT_ID="client", **REAL_MONEY
    )
    assert (settings.stage, settings.is_local, settings.dev_jwt_secret) == ("prod", False, "")
    assert (settings.payment_provider, settings.allowed_origins) == ("mangopay", ("https://oze-manche.fr",))


def test_the_local_stage_may_hold_a_dev_secret(settings_from):
    assert settings_from(STAGE="local", DEV_JWT_SECRET="secret-local").dev_jwt_secret == "secret-local"


def test_a_missing_table_name_is_a_configuration_error(settings_from, monkeypatch):
    settings_from()
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(ConfigurationError, match="TABLE_NAME"):
        get_settings()


@pytest.mark.parametrize("name", ["GOAL_MIN_CENTS", "DURATION_MAX_DAYS"])
def test_a_number_that_is_not_one_is_a_configuration_error(settings_from, name):
    with pytest.raises(ConfigurationError):
        settings_from(**{name: "cent"})


def test_parsed_once_per_environment(settings_from, monkeypatch):
    first = settings_from()
    assert get_settings() is first
    monkeypatch.setenv("TERRITORY_NAME", "Orne")
    assert get_settings().territory_name == "Orne"


def _import_app(**variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES and k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=ROOT,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_app_refuses_to_start_in_a_hosted_stage_with_a_dev_secret():
    refused = _import_app(STAGE="prod", DEV_JWT_SECRET="x", TABLE_NAME="t", **REAL_MONEY)

    assert refused.returncode != 0
    assert "ConfigurationError" in refused.stderr
    assert "stage 'prod' has DEV_JWT_SECRET set" in refused.stderr

    # the control: the same stage without the dev secret starts
    started = _import_app(STAGE="prod", TABLE_NAME="t", **REAL_MONEY)
    assert started.returncode == 0, started.stderr
