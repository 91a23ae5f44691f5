"""Mangopay's credentials (chalicelib/adapters/mangopay_client.py): SecureString parameters of the
stage in SSM Parameter Store (here in-process moto), read once per container, and what the
SDK then authenticates with. Mangopay itself is answered by `responses` (tests/unit/test_mangopay.py)."""

import base64

import boto3
import pytest
import responses
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

from chalicelib.adapters import mangopay_client
from chalicelib.adapters.mangopay import MangopayEscrow
from chalicelib.adapters.mangopay_client import Credentials, parameter_names
from tests.unit.test_mangopay import OAUTH_TOKEN, WALLET

pytestmark = pytest.mark.usefixtures("emulated_aws")

STAGE = "local"  # the test stage's STAGE (.chalice/config.json)
SECRETS = Credentials("oze-depuis-ssm", "cle-api-depuis-ssm")


@pytest.fixture
def stored():
    """The stage's credentials as the operator stores them (README, Operations)."""
    ssm = boto3.client("ssm")
    names = parameter_names(STAGE)
    for name, value in zip(names, SECRETS, strict=True):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    mangopay_client.stage_credentials.cache_clear()
    mangopay_client._handler.cache_clear()
    yield names
    ssm.delete_parameters(Names=list(names))
    mangopay_client.stage_credentials.cache_clear()
    mangopay_client._handler.cache_clear()


@pytest.fixture
def reads(monkeypatch):
    """Every GetParameter call made through Powertools, as SSM receives it. (Counted by the
    client's events, not by wrapping a function: tests/aws_calls.py must still see the call
    as the application's, for the least-privilege check.)"""
    asked = []
    client = boto3.client("ssm")
    client.meta.events.register(
        "provide-client-params.ssm.GetParameter",
        lambda params, **_: asked.append((params["Name"], params["WithDecryption"])),
    )
    monkeypatch.setitem(DEFAULT_PROVIDERS, "ssm", parameters.SSMProvider(boto3_client=client))
    return asked


def test_credentials_are_read_from_ssm_decrypted_once_per_container(stored, reads, monkeypatch):
    monkeypatch.setenv("MANGOPAY_ESCROW_USER_ID", "user_m_01PLATEFORMEOZE")
    api_root = f"https://api.sandbox.mangopay.com/v2.01/{SECRETS.client_id}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        oauth = api.post("https://api.sandbox.mangopay.com/v2.01/oauth/token", json=OAUTH_TOKEN.body)
        api.post(f"{api_root}/wallets", json=WALLET.body)
        api.get(f"{api_root}/wallets/wlt_m_01ESCROW", json=WALLET.body)

        MangopayEscrow().open_escrow("c0ffee", "Le rythme des maux")
        MangopayEscrow().escrow_balance("wlt_m_01ESCROW")  # another call, another instance

    assert reads == [(stored.client_id, True), (stored.api_key, True)]  # once, decrypted
    basic = base64.b64encode(f"{SECRETS.client_id}:{SECRETS.api_key}".encode()).decode()
    assert oauth.call_count == 1 and oauth.calls[0].request.headers["Authorization"] == f"Basic {basic}"
