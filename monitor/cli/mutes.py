"""``monitor mute``, ``unmute`` and ``mutes``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from monitor.cli.base import ConfigOption, app, opened
from monitor.errors import MonitorError
from monitor.settings import (
    Config,
    parse_interval,
)
from monitor.types import MUTE_KINDS, MuteKind

ThesisTarget = Annotated[str | None, typer.Option("--thesis", help="A thesis id.")]
CriterionTarget = Annotated[
    str | None, typer.Option("--criterion", help="THESIS/CRITERION, e.g. ai-capex/kill-1.")
]
SourceTarget = Annotated[str | None, typer.Option("--source", help="A source name.")]


def _mute_target(
    thesis: str | None, criterion: str | None, source: str | None
) -> tuple[MuteKind, str]:
    """The one target given to ``mute``/``unmute``; exits 2 unless exactly one is usable."""
    given: list[tuple[MuteKind, str]] = [
        (kind, value.strip())
        for kind, value in zip(MUTE_KINDS, (thesis, criterion, source), strict=True)
        if value is not None
    ]
    if len(given) != 1:
        typer.echo("error: give exactly one of --thesis, --criterion or --source", err=True)
        raise typer.Exit(2)
    kind, value = given[0]
    parts = value.split("/")
    if not value or (kind == "criterion" and (len(parts) != 2 or not all(parts))):
        shape = "THESIS/CRITERION (see `monitor theses`)" if kind == "criterion" else f"a {kind}"
        typer.echo(f"error: --{kind} needs {shape}, not {value!r}", err=True)
        raise typer.Exit(2)
    return kind, value


def _configured(cfg: Config, kind: MuteKind, value: str) -> bool:
    """Whether the config names the target: a source, or a thesis or criterion of a rule
    file that loads (a broken rule set simply names none)."""
    from monitor.rules.files import check_rule_files, expand_rule_paths

    if kind == "source":
        return any(s.name == value for s in cfg.sources)
    try:
        theses, _ = check_rule_files(expand_rule_paths(list(cfg.rule_paths)))
    except MonitorError:
        return False
    if kind == "thesis":
        return any(t.id == value for t in theses)
    thesis_id, _, criterion_id = value.partition("/")
    return any(t.id == thesis_id and any(c.id == criterion_id for c in t.criteria) for t in theses)


def _until_text(until: datetime | None) -> str:
    return f"until {until:%Y-%m-%d %H:%M} UTC" if until is not None else "until unmuted"


@app.command()
def mute(
    thesis: ThesisTarget = None,
    criterion: CriterionTarget = None,
    source: SourceTarget = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="How long: 7d, 12h, 1d12h (default: until unmuted)."),
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why, in a few words.")] = None,
    config: ConfigOption = None,
) -> None:
    """Hold back the alerts of a thesis, a criterion or a source, for a while or until
    unmuted; muted signals are still recorded and shown as muted."""
    kind, value = _mute_target(thesis, criterion, source)
    now = datetime.now(UTC)
    try:
        until = now + parse_interval(for_) if for_ is not None else None
    except ValueError as e:
        typer.echo(f"error: --for: {e}", err=True)
        raise typer.Exit(2) from e
    with opened(config) as m:
        known = m.store.mute_target_known(kind, value) or _configured(m.config, kind, value)
        added = m.mute(kind, value, until=until, note=note) if known else None
    if added is None:
        where = "`monitor sources`" if kind == "source" else "`monitor theses` and the rule files"
        typer.echo(
            f"error: no {kind} {value!r} in the database or the config: see {where}", err=True
        )
        raise typer.Exit(2)
    typer.echo(f"muted {kind} {value} {_until_text(added.until)} (signals are still recorded)")


@app.command()
def unmute(
    thesis: ThesisTarget = None,
    criterion: CriterionTarget = None,
    source: SourceTarget = None,
    config: ConfigOption = None,
) -> None:
    """Lift the mute of a thesis, a criterion or a source (the history is kept)."""
    kind, value = _mute_target(thesis, criterion, source)
    with opened(config) as m:
        lifted = m.unmute(kind, value)
    if not lifted:
        typer.echo(f"{kind} {value} is not muted (see `monitor mutes`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"unmuted {kind} {value}")


@app.command()
def mutes(config: ConfigOption = None) -> None:
    """The mutes in force: kind, target, until when (or "until unmuted") and the note."""
    from monitor.review import print_table

    with opened(config, read_only=True) as m:
        active = m.mutes()
    if not active:
        typer.echo("nothing is muted")
        return
    rows = [
        (
            m.kind,
            m.value,
            _until_text(m.until).removeprefix("until " if m.until else ""),
            m.note or "",
        )
        for m in active
    ]
    print_table(rows, ("KIND", "MUTED", "UNTIL", "NOTE"), sys.stdout)
