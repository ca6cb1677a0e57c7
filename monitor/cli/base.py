"""What every command shares: the Typer app, the ``--config`` option, output formats, exit
codes, logging, and :func:`opened` (the library façade for one command).

Exit codes: 0 success; 1 ``check`` found problems (or, as each command says, nothing was
done); 2 unusable config/rules/brief; 3 database unreachable (or its schema behind, for a
read-only command).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.errors import MonitorError, StorageError
from monitor.settings import (
    Config,
    Environment,
    default_config_path,
    load_config,
    parse_interval,
    with_user_rules,
)

if TYPE_CHECKING:
    from monitor.app import Monitor

log = logging.getLogger("monitor.cli")

app = typer.Typer(
    name="monitor",
    help="Signal monitor: turns research briefs into rules, polls feeds, alerts on evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: ./monitor.yaml if present, else the shipped default).",
    ),
]


class OutputFormat(StrEnum):
    """``monitor signals --format``."""

    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    """``--format`` of the commands that print a report (no flat rows for csv)."""

    table = "table"
    json = "json"


class Verdict(StrEnum):
    useful = "useful"
    noise = "noise"


def fail(error: MonitorError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(3 if isinstance(error, StorageError) else 2)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    from monitor.ops import setup_logging as setup

    setup(level, fmt)


@contextmanager
def opened(config: Path | None, *, read_only: bool = False) -> Iterator[Monitor]:
    """The façade for one command (``monitor.app``): opened, closed, and its errors turned
    into exit codes (2: the config; 3: the database, a schema behind included). Read-only
    commands never migrate."""
    from monitor.app import open_monitor

    try:
        monitor = open_monitor(config=config, read_only=read_only)
    except MonitorError as e:
        raise fail(e) from e
    try:
        yield monitor
    except MonitorError as e:
        raise fail(e) from e
    finally:
        monitor.close()


def load(config: Path | None) -> tuple[Config, Environment]:
    path = config or default_config_path(Path.cwd())
    env = Environment.from_mapping(os.environ)
    return with_user_rules(load_config(path), env), env


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``/``12h``/``30m`` ago, or an ISO date/datetime (UTC when no zone is given)."""
    try:
        return now - parse_interval(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(f"{text!r}: use 7d, 12h, 30m or an ISO date") from e
    return when if when.tzinfo else when.replace(tzinfo=UTC)
