"""``monitor eval``: score labeled items against rule files or a brief imported on the fly.

Registered by ``monitor/cli/__init__.py`` as ``app.command("eval")(eval_command)``. Exit
codes: 0 printed a report; 2 unusable items, rules or brief (``file[:line]: message`` on
stderr); a requested semantic/hybrid mode without the semantic extra is exit 2 too, naming
why, and so is ``--rerank`` (or ``MONITOR_RERANKER=ms-marco``) when the re-ranker cannot
load or the mode is keyword.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.analysis.evaluation import LabeledItem
from monitor.errors import ConfigError, MonitorError
from monitor.matching.engine import Mode
from monitor.types import Thesis

if TYPE_CHECKING:
    from monitor.semantic.rerank import Reranker


class EvalFormat(StrEnum):
    table = "table"
    json = "json"


class EvalMode(StrEnum):
    hybrid = "hybrid"
    keyword = "keyword"
    semantic = "semantic"


def eval_command(
    items: Annotated[
        list[Path] | None,
        typer.Argument(help="Labeled items (JSONL, see corpus/eval/FORMAT.md)."),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="A rule file or a folder of rule files to judge."),
    ] = None,
    brief: Annotated[
        Path | None,
        typer.Option("--brief", help="A brief to import on the fly (automatic rules)."),
    ] = None,
    output_format: Annotated[
        EvalFormat, typer.Option("--format", help="table (default) or json.")
    ] = EvalFormat.table,
    mode: Annotated[
        EvalMode | None,
        typer.Option(
            "--mode",
            help="hybrid, keyword or semantic (default: hybrid when the semantic extra "
            "is available, else keyword).",
        ),
    ] = None,
    feedback: Annotated[
        bool,
        typer.Option(
            "--feedback",
            help="Also take the analyst's feedback in the database as labels "
            "(`monitor feedback`); with it, --rules defaults to the config's rules.",
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (for --feedback: database, rules)."),
    ] = None,
    learn_from: Annotated[
        list[Path] | None,
        typer.Option(
            "--learn-from",
            help="Labeled items (JSONL) to learn from, as if they were verdicts, before "
            "scoring ITEMS (an item in both is not learned from). Repeatable.",
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            min=2,
            help="K-fold cross-validation over ITEMS: each fold is scored by a matcher "
            "that learned from the other folds (and --learn-from).",
        ),
    ] = None,
    rerank: Annotated[
        bool,
        typer.Option(
            "--rerank",
            help="Re-rank each thesis' shortlisted criteria with the ms-marco cross-encoder "
            "(the rerank extra); the default follows MONITOR_RERANKER.",
        ),
    ] = False,
) -> None:
    """Score labeled items: precision, recall and F1 per criterion and micro-averaged,
    plus the misses and false alarms. Only confirm/kill criteria are scored."""
    from monitor.analysis.evaluation import evaluate, format_table, load_labeled

    if not items and not feedback:
        typer.echo("error: give labeled ITEMS.jsonl files and/or --feedback", err=True)
        raise typer.Exit(2)
    if (rules is not None and brief is not None) or (
        rules is None and brief is None and not feedback
    ):
        typer.echo("error: give exactly one of --rules FILE|DIR or --brief BRIEF.txt", err=True)
        raise typer.Exit(2)
    try:
        labeled = [row for path in items or [] for row in load_labeled(path)]
        training = [row for path in learn_from or [] for row in load_labeled(path)]
        theses = _theses(rules, brief) if rules or brief else _config_theses(config)
        if feedback:
            labeled += _feedback_labels(config, theses)
    except MonitorError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error

    embedder = None
    note = ""
    if mode is not EvalMode.keyword:
        from monitor.semantic import semantic_status

        embedder, reason = semantic_status()
        if embedder is None:
            if mode is not None:
                typer.echo(f"error: --mode {mode.value} needs semantic scoring: {reason}", err=True)
                raise typer.Exit(2)
            note = f" ({reason})"
    chosen: Mode = "keyword"
    if mode is not None:
        chosen = mode.value
    elif embedder is not None:
        chosen = "hybrid"
    reranker = _reranker(rerank, chosen)
    if reranker is not None:
        note += f" + re-ranking by {reranker.model_name}"
    try:
        report = evaluate(
            labeled,
            theses,
            mode=chosen,
            embedder=embedder,
            single=brief is not None,
            learn_from=training,
            folds=folds,
            reranker=reranker,
        )
    except MonitorError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    report.mode = chosen + note
    rules_label = "automatic rules from " + str(brief) if brief else "rules " + str(rules)
    validation = _validation(folds, learn_from or [])
    if output_format is EvalFormat.json:
        data = report.as_dict()
        data["rules"] = rules_label
        data["validation"] = validation
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{rules_label}; {validation}")
        typer.echo(format_table(report))


def _reranker(requested: bool, mode: Mode) -> Reranker | None:
    """The re-ranker ``--rerank`` or ``MONITOR_RERANKER`` asks for; exit 2 when it cannot
    load, or when it is requested with keyword matching (which has no shortlist)."""
    import os

    from monitor.semantic.rerank import load_ms_marco, load_reranker
    from monitor.semantic.runtime import SemanticUnavailable

    try:
        wanted = load_ms_marco() if requested else load_reranker(os.environ)
    except (SemanticUnavailable, ConfigError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    if wanted is not None and mode == "keyword":
        typer.echo("error: re-ranking needs hybrid or semantic matching", err=True)
        raise typer.Exit(2)
    return wanted


def _validation(folds: int | None, learn_from: list[Path]) -> str:
    """How the figures were obtained, in words (printed with every report)."""
    trained = " + ".join(str(p) for p in learn_from)
    if folds:
        extra = f", each also learning from {trained}" if trained else ""
        return f"{folds}-fold cross-validation over the items{extra}"
    if trained:
        return f"learned from {trained}, scored on the items (overlap left out of training)"
    return "rules as written, no learning"


def _config_theses(config: Path | None) -> list[Thesis]:
    from monitor.settings import default_config_path, load_config

    cfg = load_config(config or default_config_path(Path.cwd()))
    return [t for entry in cfg.rule_paths for t in _theses(entry, None)]


def _feedback_labels(config: Path | None, theses: list[Thesis]) -> list[LabeledItem]:
    """The analyst's verdicts in the database, as labels (read-only: never migrates)."""
    from monitor.analysis.feedback import labeled_from_feedback
    from monitor.app import open_monitor

    with open_monitor(config=config, read_only=True) as m:
        return labeled_from_feedback(m.store, theses)


def _theses(rules: Path | None, brief: Path | None) -> list[Thesis]:
    if brief is not None:
        from monitor.briefs import parse_brief
        from monitor.textfile import read_text_file

        return [parse_brief(read_text_file(brief, "brief"), str(brief))]
    assert rules is not None
    from monitor.rules.files import check_rule_files, expand_rule_paths

    paths = expand_rule_paths([rules])
    if not paths:
        raise ConfigError("no rule files found", str(rules))
    theses, problems = check_rule_files(paths)
    if problems:
        raise problems[0]
    return theses
