"""Fixtures shared by every test module: real servers on loopback and real databases."""

pytest_plugins = ["tests.feedserver", "tests.fakeslack", "tests.dbfixtures"]
