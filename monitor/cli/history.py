"""The signal history and what acts on it: ``signals``, ``theses``, ``sources``,
``backtest``, ``feedback`` and ``prune``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from monitor.cli.base import (
    ConfigOption,
    OutputFormat,
    ReportFormat,
    Verdict,
    app,
    opened,
    parse_since,
    setup_logging,
)
from monitor.settings import Config


@app.command()
def signals(
    config: ConfigOption = None,
    thesis: Annotated[str | None, typer.Option(help="Only this thesis id.")] = None,
    polarity: Annotated[str | None, typer.Option(help="confirm, kill or watch.")] = None,
    since: Annotated[str | None, typer.Option(help="7d, 12h, or an ISO date.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source name.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Words that must all be in the title or evidence.")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="At most this many rows.")] = 50,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    explain: Annotated[
        bool, typer.Option("--explain", help="Table: show why each signal fired.")
    ] = False,
) -> None:
    """List the signal history, newest first."""
    from monitor.review import print_signals

    if polarity is not None and polarity not in ("confirm", "kill", "watch"):
        raise typer.BadParameter("use confirm, kill or watch", param_hint="--polarity")
    with opened(config, read_only=True) as m:
        rows = m.signals(
            thesis=thesis,
            polarity=polarity,
            since=parse_since(since, m.now()) if since else None,
            source=source,
            search=search,
            limit=limit,
        )
    print_signals(rows, format.value, sys.stdout, explain=explain)


@app.command()
def theses(config: ConfigOption = None) -> None:
    """Each thesis with its confirm/kill/watch counts over 7 and 30 days and its latest
    signal, then each criterion's precision from analyst feedback and what the matcher
    learned from it: labels per criterion and their cross-validated precision and recall."""
    from monitor.review import print_feedback, print_learning, print_theses

    with opened(config, read_only=True) as m:
        summaries = m.theses()
        verdicts = m.criterion_feedback()
        learned = _learned(m.store, m.config) if verdicts else "no verdicts to learn from yet"
    print_theses(summaries, sys.stdout)
    print_feedback(verdicts, sys.stdout)
    print_learning(learned, sys.stdout)


def _learned(store: object, cfg: Config) -> object:
    """What the daemon's matcher learns from the stored verdicts, or why it learns nothing."""
    from monitor.analysis.feedback import learning_from_feedback
    from monitor.rules.files import check_rule_files, expand_rule_paths
    from monitor.semantic import semantic_status

    embedder, reason = semantic_status()
    if embedder is None:
        return f"learning from verdicts needs semantic scoring: {reason}"
    theses, _ = check_rule_files(expand_rule_paths(list(cfg.rule_paths)))
    learning = learning_from_feedback(store, theses, embedder)  # type: ignore[arg-type]
    return learning if learning is not None else "no verdict on a loaded thesis"


@app.command()
def sources(config: ConfigOption = None) -> None:
    """Each configured source's health: last attempt and success, status, failures, next
    poll (a source never polled shows dashes); then each alert route's health. Reads only."""
    from monitor.review import print_routes, print_sources

    # read-only: a daemon may run with another config; never change what it polls
    with opened(config, read_only=True) as m:
        health, routes = m.sources(), m.routes()
    print_sources(health, sys.stdout)
    print_routes(routes, sys.stdout)


@app.command()
def backtest(
    config: ConfigOption = None,
    since: Annotated[
        str | None, typer.Option(help="Items first seen since: 30d, 12h, or an ISO date.")
    ] = None,
    thesis: Annotated[str | None, typer.Option(help="Only this thesis id.")] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", help="table or json.")
    ] = ReportFormat.table,
) -> None:
    """Replay stored items against the current rules; show what would fire and what changed.
    Sends nothing and stores no signals."""
    from monitor.backtest import run_backtest
    from monitor.notify.console import ConsoleNotifier
    from monitor.review import print_backtest

    setup_logging("WARNING")
    # migrated by the opening; no sync: the running daemon's sources and theses stay as
    # they are
    with opened(config) as m:
        now = m.now()
        service = m.service(notifier=ConsoleNotifier(sys.stderr))
        for problem in service.rulebook.refresh()[1]:
            typer.echo(f"rule problem: {problem}", err=True)
        items = service.store.items_since(parse_since(since, now) if since else None)
        with typer.progressbar(length=len(items), label="replaying", file=sys.stderr) as bar:
            report = run_backtest(
                service.store,
                service.rulebook.matcher,
                service.embedder,
                items,
                now=now,
                thesis=thesis,
                on_batch=bar.update,
            )
    print_backtest(report, format.value, sys.stdout)


@app.command()
def feedback(
    signal_id: Annotated[int, typer.Argument(help="The signal id (see `monitor signals`).")],
    verdict: Annotated[Verdict, typer.Argument(help="useful or noise.")],
    note: Annotated[str | None, typer.Option(help="Why, in a few words.")] = None,
    config: ConfigOption = None,
) -> None:
    """Record whether a signal was useful or noise; `monitor theses` shows the precision."""
    with opened(config) as m:
        known = m.feedback(signal_id, verdict.value, note)
    if not known:
        typer.echo(f"error: no signal #{signal_id}: see `monitor signals` for ids", err=True)
        raise typer.Exit(2)
    typer.echo(f"signal #{signal_id} marked {verdict.value}")


@app.command()
def prune(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Apply the config's retention now and report what was removed (the daemon does this
    every 6 hours): old signals if `retention` says so, and items that gave no signal."""
    from monitor.notify.console import ConsoleNotifier

    setup_logging("WARNING")
    with opened(config) as m:
        service = m.service(notifier=ConsoleNotifier(sys.stderr), embedder=None)
        report = service.prune(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {report.summary()}")
