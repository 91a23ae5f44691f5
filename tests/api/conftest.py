"""Fixtures of the API tier."""

import pytest

from devtools.stream import StreamReader
from tests.conftest import STAGE_ENV


@pytest.fixture
def figures(emulated_aws):
    """The platform figures kept from the table's stream, from the test's start on: call
    `figures.catch_up()` where the `figures` function would have run in AWS."""
    return StreamReader(STAGE_ENV["TABLE_NAME"])
