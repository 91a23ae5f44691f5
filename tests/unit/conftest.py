"""The unit tier: rules and records, in this process only. Any socket connection fails
(so no emulator, no AWS, no HTTP), and the fixtures that bring the emulator refuse."""

import socket

import pytest

# What a hosted stage that takes real money sets besides its own variables
# (chalicelib/settings.py): a payment provider other than the sandbox, and public URLs.
REAL_MONEY = {
    "PAYMENT_PROVIDER": "mangopay",
    "API_URL": "https://api.oze-manche.fr",
    "SITE_URL": "https://oze-manche.fr",
    "ALLOWED_ORIGINS": "https://oze-manche.fr",
}


class SocketUsedInUnitTest(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise SocketUsedInUnitTest("tests/unit opens no socket: a test that needs one belongs to another tier")


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)


def _no_emulator():
    pytest.fail("tests/unit uses no emulator: a test that needs one belongs to tests/storage or tests/api")


@pytest.fixture
def emulated_aws():
    _no_emulator()


@pytest.fixture
def client():
    _no_emulator()
