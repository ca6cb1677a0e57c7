"""``monitor check`` and ``monitor import-brief``: the config, the rule files, the briefs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.base import ConfigOption, app, fail, load
from monitor.errors import ConfigError, MonitorError
from monitor.settings import (
    Config,
    Environment,
    is_inside_package,
    user_rules_dir,
)


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
