"""``monitor export-opml`` and ``import-opml``: sources to and from feed readers."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.base import ConfigOption, app, fail, load
from monitor.errors import ConfigError, MonitorError
from monitor.settings import (
    is_inside_package,
    load_config,
)


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
