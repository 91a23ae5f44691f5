"""Stages that take real money (SPEC "Money (v2)"): a hosted stage other than dev refuses to
start with the sandbox provider, loopback URLs or no web origins; local and dev may."""

import pytest

from chalicelib.settings import VARIABLES, ConfigurationError, get_settings

REAL = {
    "PAYMENT_PROVIDER": "mangopay",
    "API_URL": "https://api.oze.manche.fr",
    "SITE_URL": "https://oze.manche.fr",
    "ALLOWED_ORIGINS": "https://oze.manche.fr",
}


@pytest.fixture
def stage(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def parse(name: str, **values: str):
        for variable, value in {"TABLE_NAME": f"oze-{name}", "STAGE": name, **values}.items():
            monkeypatch.setenv(variable, value)
        return get_settings()

    return parse


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_a_money_stage_with_a_real_provider_and_its_own_urls_starts(stage, name):
    settings = stage(name, **REAL)

    assert (settings.stage, settings.payment_provider) == (name, "mangopay")


@pytest.mark.parametrize(
    ("changed", "named"),
    [
        ({"PAYMENT_PROVIDER": "sandbox"}, "PAYMENT_PROVIDER is the sandbox"),
        ({"API_URL": "http://127.0.0.1:8000"}, "API_URL is a loopback URL"),
        ({"SITE_URL": "http://localhost:3000"}, "SITE_URL is a loopback URL"),
        ({"ALLOWED_ORIGINS": "https://oze.manche.fr,http://[::1]:3000"}, "ALLOWED_ORIGINS is a loopback URL"),
        ({"ALLOWED_ORIGINS": ""}, "ALLOWED_ORIGINS is empty"),
    ],
)
def test_prod_refuses_to_start_on_the_sandbox_loopback_urls_or_no_origins(stage, changed, named):
    with pytest.raises(ConfigurationError, match=named):
        stage("prod", **{**REAL, **changed})


@pytest.mark.parametrize("name", ["local", "dev"])
def test_local_and_dev_run_on_the_sandbox_with_loopback_urls(stage, name):
    settings = stage(name)

    assert (settings.payment_provider, settings.api_url) == ("sandbox", "http://127.0.0.1:8000")
