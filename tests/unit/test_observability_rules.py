"""Logs without the emulator: what scrubbing takes out of a line, and Powertools left out
of a cold start. Logs and metrics of invocations are in tests/api/test_observability.py."""

import subprocess
import sys

import pytest

from chalicelib import observability
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("mail to lea.dupont+oze@exemple.fr failed", "mail to [e-mail] failed"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [token]"),
        ('{"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}', '{"token": "[token]"}'),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F20261126&X-Amz-Signature=0a1b2c&x=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&x=1",
        ),
        ("campagne 50000 Saint-Lô, 2 900 €", "campagne 50000 Saint-Lô, 2 900 €"),
    ],
)
def test_scrubbing(text, scrubbed):
    assert observability.scrub(text) == scrubbed


def test_powertools_is_not_imported_with_the_app():
    """Cold starts import app.py; Powertools waits for the first invocation."""
    code = "import sys, app; print('aws_lambda_powertools' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={"TABLE_NAME": "x"}
    )
    assert result.stdout.strip() == "False"
