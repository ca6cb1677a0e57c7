"""The public surface is documented: every command, setting and rule-file field is in the
README, and the README's two quick-start commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.cli import app
from monitor.rules.files import CRITERION_FIELDS, THESIS_FIELDS, TOP_FIELDS
from monitor.settings import _SOURCE_FIELDS, _TOP_FIELDS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
ENV_VARS = [
    "DATABASE_URL",
    "MONITOR_DATA_DIR",
    "SLACK_BOT_TOKEN",
    "SLACK_CHANNEL",
    "SLACK_WEBHOOK_URL",
    "SLACK_API_URL",
    "SLACK_APP_TOKEN",
    "MONITOR_SEMANTIC",
    "MONITOR_MODEL",
    "MONITOR_WEB_TOKEN",
    "MONITOR_RERANKER",
    "MONITOR_TEST_PG_URL",
    "MONITOR_JUDGE_URL",
    "MONITOR_JUDGE_MODEL",
    "MONITOR_JUDGE_API_KEY",
    "MONITOR_JUDGE_BUDGET",
    "MONITOR_JUDGE_TIMEOUT",
    "MONITOR_EDGAR_USER_AGENT",
]


def command_names() -> list[str]:
    return [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]


@pytest.mark.parametrize("name", command_names())
def test_every_command_is_in_the_readme_and_has_help(name: str) -> None:
    assert f"`monitor {name}" in README
    command = next(c for c in app.registered_commands if (c.name or c.callback.__name__) == name)  # type: ignore[union-attr]
    assert command.callback is not None and command.callback.__doc__


@pytest.mark.parametrize("var", ENV_VARS)
def test_every_environment_variable_is_documented(var: str) -> None:
    assert f"`{var}`" in README


def test_every_environment_variable_the_code_reads_is_in_the_list() -> None:
    read = set()
    for path in (REPO / "monitor").rglob("*.py"):
        read |= set(re.findall(r"""env(?:iron)?\.get\(\s*["']([A-Z_]+)["']""", path.read_text()))
        read |= set(re.findall(r"""env\[["']([A-Z_]+)["']\]""", path.read_text()))
    assert read - {"HOME", "XDG_DATA_HOME", "COLUMNS"} <= set(ENV_VARS)  # standard ones


@pytest.mark.parametrize(
    "field",
    sorted(set(THESIS_FIELDS) | set(CRITERION_FIELDS) | set(TOP_FIELDS)),
)
def test_every_rule_file_field_is_documented(field: str) -> None:
    assert re.search(rf"^\s*(- )?{field}:", README, re.MULTILINE), field


@pytest.mark.parametrize("field", sorted(_SOURCE_FIELDS | _TOP_FIELDS))
def test_every_config_field_is_documented(field: str) -> None:
    assert re.search(rf"^\s*(- )?{field}:", README, re.MULTILINE), field


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*)\n```", README)
    assert len(commands) == 2, "the quick start has exactly two commands"
    install_and_run, install_and_test = commands
    assert install_and_run.endswith("monitor run")
    assert install_and_test in (REPO / ".ci" / "run").read_text(encoding="utf-8")
