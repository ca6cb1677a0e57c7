"""Fixtures shared by every test module: real servers on loopback and real databases."""

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e import Clock

pytest_plugins = ["tests.feedserver", "tests.fakeslack", "tests.dbfixtures"]


@pytest.fixture
def clock() -> Clock:
    """A settable clock for services under test (``tests.e2e.Clock``)."""
    return Clock()


@pytest.fixture
def daemon() -> Iterator[list[subprocess.Popen[str]]]:
    """Daemons a test starts (append them): killed at the end if still running."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
