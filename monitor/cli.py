"""The ``monitor`` command line: each command a few lines over the modules.

Exit codes: 0 success; 1 ``check`` found problems; 2 unusable config/rules/brief;
3 database unreachable.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor import __version__
from monitor.errors import ConfigError, MonitorError, StorageError
from monitor.evalcli import eval_command
from monitor.settings import (
    Config,
    Environment,
    default_config_path,
    is_inside_package,
    load_config,
    parse_interval,
    user_rules_dir,
    with_user_rules,
)
from monitor.types import MUTE_KINDS, MuteKind

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


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one full cycle and exit.")] = False,
    tick: Annotated[float, typer.Option(help="Seconds between scheduler ticks.")] = 15.0,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: Annotated[
        str, typer.Option(help="text (UTC ISO timestamps) or json (one object per line).")
    ] = "text",
    ops_port: Annotated[
        int | None,
        typer.Option(help="Serve /metrics and /healthz on this port (0: any free one)."),
    ] = None,
    ops_host: Annotated[str, typer.Option(help="Address of the ops endpoints.")] = "127.0.0.1",
) -> None:
    """Poll the sources, match new items, store signals and send alerts."""
    from monitor.scheduler import request_stop, run_daemon
    from monitor.service import Service

    if log_format not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--log-format")
    setup_logging(log_level, log_format)
    stop = threading.Event()  # SIGTERM/SIGINT at any point from here on: stop within seconds
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: request_stop(stop, s))
    log.info("starting (pid %d)", os.getpid())
    try:
        cfg, env = load(config)
        service = Service(cfg, env, stop=stop)
        service.start(daemon=True)
    except MonitorError as e:
        raise fail(e) from e
    try:
        if once:
            report = service.run_cycle()
            typer.echo(report.summary(), err=True)
            for name, error in report.failed.items():
                typer.echo(f"source {name} failed: {error}", err=True)
        else:
            ops = (ops_host, ops_port) if ops_port is not None else None
            run_daemon(service, tick=tick, stop=stop, install_signal_handlers=False, ops=ops)
    except MonitorError as e:
        raise fail(e) from e
    finally:
        service.close()
    if stop.is_set():  # asked to stop: no helper thread (a name lookup, say) may delay it
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@app.command("notify-test")
def notify_test(config: ConfigOption = None) -> None:
    """Send a sample alert through each route's destinations and report each result
    (exit 1 if any failed). Records nothing."""
    from monitor.notify.selftest import notify_test as run_test

    try:
        cfg, env = load(config)
        results = run_test(cfg.routing, env.values, sys.stdout)
    except MonitorError as e:
        raise fail(e) from e
    for r in results:
        state = "ok" if r.ok else "FAILED"
        typer.echo(f"route {r.route} → {r.destination} ({r.channel}): {state}: {r.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and every rule file; print file:line: message per problem."""
    from monitor.rules.files import check_rule_files, expand_rule_paths

    try:
        cfg, env = load(config)
        paths = expand_rule_paths(list(cfg.rule_paths))
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from e
    theses, problems = check_rule_files(paths)
    for problem in problems:
        typer.echo(str(problem), err=True)
    for line in held_lines(env, paths, [p.path for p in problems if p.path], cfg):
        typer.echo(line, err=True)
    criteria = sum(len(t.criteria) for t in theses)
    typer.echo(
        f"{cfg.path}: {len(cfg.sources)} source(s); {len(paths)} rule file(s), "
        f"{len(theses)} valid thesis(es), {criteria} criteria; {len(problems)} problem(s)"
    )
    typer.echo(f"matching: {semantic_line(env)}")
    if problems:
        raise typer.Exit(1)


def held_lines(env: Environment, paths: list[Path], broken: list[str], config: Config) -> list[str]:
    """What the daemon holds back, as the check sees it: every item while there is no rule
    file; the thesis of each broken file (known from the database) while it fails."""
    if not paths:
        return ["no rule file: the daemon holds all matching back; every item waits"]
    from monitor.app import open_monitor

    try:
        with open_monitor(env.database_url, config=config, read_only=True) as m:
            known = m.store.theses_by_path(sorted(set(broken)))
    except MonitorError:
        known = {}  # no database yet, or unreachable: nothing is held there
    return [
        f"{path}: thesis {thesis_id} is held back: its items wait until this file loads"
        for path, thesis_id in sorted(known.items())
    ] + [
        f"{path}: never loaded: its thesis will be matched, with a backfill, once it loads"
        for path in sorted(set(broken) - set(known))
    ]


def semantic_line(env: Environment) -> str:
    if not env.semantic:
        return "keyword-only (MONITOR_SEMANTIC=off)"
    from monitor.semantic import semantic_status

    embedder, reason = semantic_status()
    return f"keyword + {reason}" if embedder else f"keyword-only: {reason}"


@app.command("import-brief")
def import_brief(
    brief: Annotated[Path, typer.Argument(help="The brief (.txt) to import.")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Rule file to write ('-' for stdout)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing rule file.")] = False,
    config: ConfigOption = None,
) -> None:
    """Turn a brief into a rule file (default: <first rules folder>/<thesis id>.yaml)."""
    from monitor.briefs import parse_brief
    from monitor.rules.files import dump_rule_file
    from monitor.textfile import read_text_file

    try:
        thesis = parse_brief(read_text_file(brief, "brief"), str(brief))
        if output is None:
            cfg, env = load(config)
            folder = next(
                (
                    p
                    for p in cfg.rule_paths
                    if p.suffix not in (".yaml", ".yml") and not is_inside_package(p)
                ),
                user_rules_dir(env),  # never into the installed package
            )
            output = folder / f"{thesis.id}.yaml"
    except MonitorError as e:
        raise fail(e) from e
    text = dump_rule_file(thesis)
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        typer.echo(
            f"error: {output} exists (hand-tuned rules win); use --force to replace it", err=True
        )
        raise typer.Exit(2)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    counts = {
        p: sum(1 for c in thesis.criteria if c.polarity == p) for p in ("confirm", "kill", "watch")
    }
    typer.echo(
        f"wrote {output}: thesis {thesis.id}, {len(thesis.read_throughs)} read-through(s), "
        f"{counts['confirm']} confirm, {counts['kill']} kill, {counts['watch']} watch criteria"
    )


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


@app.command()
def demo(config: ConfigOption = None) -> None:
    """Offline demo: serve bundled feeds locally, run the real pipeline, print alerts."""
    from monitor.demo import run_demo

    setup_logging("WARNING")
    try:
        cfg, _ = load(config)
        run_demo(cfg.rule_paths, sys.stdout)
    except MonitorError as e:
        raise fail(e) from e


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command("export-opml")
def export_opml(
    file: Annotated[str, typer.Argument(help="The OPML file to write; - for stdout.")] = "-",
    config: ConfigOption = None,
) -> None:
    """Write the configured sources as an OPML 2.0 subscription list (tags as categories);
    Hacker News sources, which answer JSON, are left out and named on stderr."""
    from monitor.feeds.opml import exportable, write_opml

    try:
        cfg, _env = load(config)
    except MonitorError as e:
        raise fail(e) from e
    kept, left = exportable(cfg.sources)
    document = write_opml(kept, now=datetime.now(UTC))
    if file == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        Path(file).write_bytes(document)
    for source in left:
        typer.echo(f"left out {source.name!r}: a {source.kind} source is not a feed", err=True)
    typer.echo(f"exported {len(kept)} source(s)", err=True)


@app.command("import-opml")
def import_opml(
    file: Annotated[Path, typer.Argument(help="The OPML file of a feed reader.")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="The config file to add the feeds to (default: ./monitor.yaml)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be added; change nothing.")
    ] = False,
) -> None:
    """Add the feeds of an OPML file to the config's sources, keeping its comments and
    layout; feeds already configured (same URL or name) are refused and named. Exit 1 when
    any was refused."""
    from monitor.feeds.opml import import_into_config, plan_import, read_opml

    target = to or Path.cwd() / "monitor.yaml"
    try:
        if is_inside_package(target):
            raise ConfigError("the shipped config is read-only: give --to CONFIG", str(target))
        if not target.exists():
            raise ConfigError("no such config file: give --to CONFIG", str(target))
        try:
            content = file.read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read it: {e.strerror or e}", str(file)) from e
        feeds = read_opml(content, str(file))
        if dry_run:
            plan = plan_import(feeds, load_config(target).sources)
        else:
            plan = import_into_config(target, feeds, note=f"imported from {file.name}")
    except MonitorError as e:
        raise fail(e) from e
    verb = "would add" if dry_run else "added"
    for feed in plan.added:
        typer.echo(f"{verb} {feed.name}: {feed.url}")
    for feed, reason in plan.refused:
        typer.echo(f"refused {feed.name} ({feed.url}): {reason}", err=True)
    typer.echo(
        f"{len(plan.added)} feed(s) {verb} to {target}, {len(plan.refused)} refused", err=True
    )
    if plan.refused:
        raise typer.Exit(1)


app.command("eval")(eval_command)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs MONITOR_WEB_TOKEN.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8080,
    allow_feedback: Annotated[
        bool,
        typer.Option(
            "--allow-feedback", help="Let the signal pages record verdicts (opens it writable)."
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Serve the web dashboard (thesis board, signal log, sources, JSON under /api/),
    read-only unless --allow-feedback; stops cleanly on SIGTERM/SIGINT."""
    from monitor.app import open_monitor
    from monitor.web.server import TOKEN_VAR, DashboardError, make_server, run_server

    setup_logging(log_level)
    token = os.environ.get(TOKEN_VAR) or None  # the environment only: never a file or flag
    try:
        monitor = open_monitor(config=config, read_only=not allow_feedback)
    except MonitorError as e:
        raise fail(e) from e
    try:
        try:
            server = make_server(monitor, host, port, token=token, allow_feedback=allow_feedback)
        except DashboardError as e:
            raise fail(e) from e
        except OSError as e:
            typer.echo(f"error: cannot listen on {host}:{port}: {e.strerror or e}", err=True)
            raise typer.Exit(2) from e
        mode = "feedback enabled" if allow_feedback else "read-only"
        stop = threading.Event()  # SIGTERM/SIGINT: stop within the server's poll interval
        previous = {
            s: signal.signal(s, lambda _s, _f: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)
        }
        typer.echo(f"dashboard on {server.url} ({mode}); Ctrl-C stops it", err=True)
        try:
            run_server(server, stop)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        monitor.close()


def main() -> None:
    app()
