"""``monitor eval``: exact P/R/F1 on a small labeled file, the JSON shape, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from monitor.analysis.evaluation import evaluate, load_labeled
from monitor.errors import ConfigError
from monitor.evalcli import eval_command
from monitor.types import Criterion, Thesis

THESIS = Thesis(
    id="t",
    title="T",
    source_brief="brief-1.txt",
    criteria=(
        Criterion(id="confirm-1", polarity="confirm", text="Reactors restart.", query="restart*"),
        Criterion(id="kill-1", polarity="kill", text="Forecasts cut.", query="forecast*"),
        Criterion(id="unknown-1", polarity="watch", text="HALEU?", query="restart*"),
    ),
)
RULE_FILE = """\
thesis:
  id: t
  title: T
  source_brief: brief-1.txt
criteria:
  - id: confirm-1
    polarity: confirm
    text: Reactors restart.
    query: restart*
  - id: kill-1
    polarity: kill
    text: Forecasts cut.
    query: forecast*
"""
ROWS = [
    # confirm-1: tp (a), fp (c), fn (d); kill-1: tp (b), fp (a), fn none
    {"id": "a", "title": "Restart and forecast", "labels": ["confirm-1"]},
    {"id": "b", "title": "Forecast cut", "labels": ["kill-1"]},
    {"id": "c", "title": "Restart rumour", "labels": []},
    {"id": "d", "title": "Plant returns to service", "labels": ["confirm-1", "unknown-1"]},
    {"id": "e", "title": "Nothing here", "labels": []},
]


def write_items(folder: Path, brief: str = "brief-1.txt") -> Path:
    path = folder / "items.jsonl"
    lines = [json.dumps({**row, "brief": brief, "summary": "", "source": "x"}) for row in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def app() -> typer.Typer:
    application = typer.Typer()
    application.command("eval")(eval_command)
    application.command("version")(lambda: None)  # a second command keeps "eval" a subcommand
    return application


def test_keyword_eval_gives_exact_counts_and_metrics(tmp_path: Path) -> None:
    report = evaluate(load_labeled(write_items(tmp_path)), [THESIS], mode="keyword")
    assert report.criteria["confirm-1"].as_dict() == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1,
    }  # fmt: skip
    assert report.criteria["kill-1"].as_dict() == {
        "precision": 0.5, "recall": 1.0, "f1": 0.667, "tp": 1, "fp": 1, "fn": 0,
    }  # fmt: skip
    assert "unknown-1" not in report.criteria  # watch criteria are never scored
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (2, 2, 1)
    assert report.micro.precision == 0.5
    assert report.micro.recall == pytest.approx(2 / 3)
    assert report.micro.f1 == pytest.approx(4 / 7)
    assert [(o.item_id, o.criterion_id) for o in report.misses] == [("d", "confirm-1")]
    assert [(o.item_id, o.criterion_id) for o in report.false_alarms] == [
        ("a", "kill-1"),
        ("c", "confirm-1"),
    ]


def test_eval_json_has_micro_criteria_misses_and_false_alarms(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE_FILE, encoding="utf-8")
    items = write_items(tmp_path)
    result = CliRunner().invoke(
        app(), ["eval", str(items), "--rules", str(rules), "--format", "json", "--mode", "keyword"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"micro", "criteria", "misses", "false_alarms", "mode"}
    assert set(data["micro"]) >= {"precision", "recall", "f1"}
    assert data["micro"]["f1"] == 0.571
    assert list(data["criteria"]) == ["confirm-1", "kill-1"]
    assert data["misses"] == [
        {"id": "d", "title": "Plant returns to service", "thesis": "t", "criterion": "confirm-1"}
    ]
    assert data["mode"] == "keyword"


def test_eval_table_names_mode_misses_and_false_alarms(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE_FILE, encoding="utf-8")
    result = CliRunner().invoke(
        app(), ["eval", str(write_items(tmp_path)), "--rules", str(rules), "--mode", "keyword"]
    )
    assert result.exit_code == 0, result.output
    assert "mode: keyword" in result.stdout
    assert "micro" in result.stdout and "0.571" in result.stdout
    assert "misses (1):\n  d  confirm-1   Plant returns to service" in result.stdout
    assert "false alarms (2):" in result.stdout


def test_eval_with_a_brief_imports_it_on_the_fly(tmp_path: Path) -> None:
    from tests.briefdata import real_brief_paths

    brief = real_brief_paths()[0]
    items = write_items(tmp_path, brief=brief.name)
    result = CliRunner().invoke(
        app(), ["eval", str(items), "--brief", str(brief), "--format", "json", "--mode", "keyword"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["criteria"]) == [
        "confirm-1",
        "confirm-2",
        "confirm-3",
        "kill-1",
        "kill-2",
        "kill-3",
    ]
    assert data["rules"].startswith("automatic rules from ")


def test_eval_hybrid_mode_runs_with_the_model(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE_FILE, encoding="utf-8")
    result = CliRunner().invoke(
        app(), ["eval", str(write_items(tmp_path)), "--rules", str(rules), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mode"] == "hybrid"


def test_items_of_an_unknown_brief_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no rules for brief 'other\.txt'"):
        evaluate(load_labeled(write_items(tmp_path, "other.txt")), [THESIS], mode="keyword")


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "brief": "b", "title": "t", "labels": []}\n{"id": 1}\n')
    with pytest.raises(ConfigError) as caught:
        load_labeled(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)


def test_eval_needs_exactly_one_of_rules_or_brief(tmp_path: Path) -> None:
    result = CliRunner().invoke(app(), ["eval", str(write_items(tmp_path))])
    assert result.exit_code == 2
    assert "exactly one of --rules" in result.output
