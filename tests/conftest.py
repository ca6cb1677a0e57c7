"""Fixtures shared by every test module: real servers on loopback and real databases."""

import pytest

from tests.e2e import Clock

pytest_plugins = ["tests.feedserver", "tests.fakeslack", "tests.dbfixtures"]


@pytest.fixture
def clock() -> Clock:
    """A settable clock for services under test (``tests.e2e.Clock``)."""
    return Clock()
