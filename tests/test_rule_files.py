"""Rule files: round trip, the shipped rules, and every error with its line (and column)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from monitor.briefs import parse_brief
from monitor.errors import ConfigError, RuleError
from monitor.matching.document import Document
from monitor.matching.evaluate import evaluate, query_matches
from monitor.rules.files import (
    check_rule_files,
    dump_rule_file,
    expand_rule_paths,
    load_rule_file,
)
from monitor.rules.query import parse_query
from monitor.types import Criterion, Thesis
from monitor.yamlutil import load_yaml
from tests.briefdata import real_brief_paths
from tests.corpus import corpus_dir

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"

VALID = """\
thesis:
  id: grid-access
  title: Grid access is the binding constraint
  date: 2026-05-14
  source_brief: brief.txt
  read_throughs:
    - Co-location rulings matter.
criteria:
  - id: confirm-1
    polarity: confirm
    text: Regulators delay co-location.
    query: '(FERC OR regulator*) AND "co-location"'
  - id: kill-1
    polarity: kill
    text: Regulators approve co-location.
    query: FERC AND approv*
    threshold: 0.5
"""


def where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def write(tmp_path: Path, text: str, name: str = "rule.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> RuleError:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rule_file(path)
    assert caught.value.path == str(path)
    return caught.value


def without_locations(thesis: Thesis) -> Thesis:
    return dataclasses.replace(
        thesis,
        path=None,
        criteria=tuple(dataclasses.replace(c, line=None) for c in thesis.criteria),
    )


# ---------------------------------------------------------------------------------- loading


def test_valid_file_loads_with_paths_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    thesis = load_rule_file(path)
    assert thesis.id == "grid-access"
    assert thesis.date == date(2026, 5, 14)
    assert thesis.source_brief == "brief.txt"
    assert thesis.read_throughs == ("Co-location rulings matter.",)
    assert thesis.path == str(path)
    assert [c.line for c in thesis.criteria] == [
        where(VALID, "- id: confirm-1")[0],
        where(VALID, "- id: kill-1")[0],
    ]
    assert thesis.criterion("kill-1").threshold == 0.5
    assert thesis.criterion("confirm-1").threshold == 0.0
    assert thesis.criterion("confirm-1").query == '(FERC OR regulator*) AND "co-location"'


def test_optional_thesis_fields_may_be_left_out(tmp_path: Path) -> None:
    text = VALID.replace("  date: 2026-05-14\n", "").replace("  source_brief: brief.txt\n", "")
    text = text.replace("  read_throughs:\n    - Co-location rulings matter.\n", "")
    thesis = load_rule_file(write(tmp_path, text))
    assert (thesis.date, thesis.source_brief, thesis.read_throughs) == (None, None, ())


def test_quoted_date_is_accepted(tmp_path: Path) -> None:
    thesis = load_rule_file(write(tmp_path, VALID.replace("2026-05-14", "'2026-05-14'")))
    assert thesis.date == date(2026, 5, 14)


# -------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("brief", real_brief_paths(), ids=lambda p: p.name)
def test_imported_brief_round_trips(tmp_path: Path, brief: Path) -> None:
    thesis = parse_brief(brief.read_text(encoding="utf-8"), brief.name)
    path = write(tmp_path, dump_rule_file(thesis))
    loaded = load_rule_file(path)
    assert without_locations(loaded) == thesis
    assert all(c.line is not None for c in loaded.criteria)


AWKWARD = Thesis(
    id="awkward_1.x",
    title="Title: with colon # and hash",
    date=None,
    source_brief=None,
    read_throughs=("- starts with a dash", "'quoted' and \"double\"", "x" * 30 + " y" * 60),
    criteria=(
        Criterion("watch-1", "watch", "Ünïcödé \u2013 dash: text", "a OR b", threshold=1.25),
        Criterion("confirm-a", "confirm", "  padded  ", '"say x" OR it\'s', 0.0),
        Criterion("kill-1", "kill", "Long " * 40 + "end.", "(" + " OR ".join(["term"] * 40) + ")"),
        Criterion("custom", "kill", "multi\nline\ntext", "x  AND\ny"),
        Criterion("yes", "confirm", "true", "null OR yes OR 'no'"),
    ),
)


def test_awkward_values_round_trip(tmp_path: Path) -> None:
    text = dump_rule_file(AWKWARD)
    loaded = load_rule_file(write(tmp_path, text))
    expected = dataclasses.replace(
        AWKWARD,
        criteria=tuple(dataclasses.replace(c, text=c.text.strip()) for c in AWKWARD.criteria),
    )
    assert without_locations(loaded) == expected


def test_dump_is_block_style_with_folded_long_text() -> None:
    text = dump_rule_file(AWKWARD)
    assert text.startswith("# Rule file for thesis awkward_1.x.")
    assert "\ncriteria:\n  - id: watch-1\n    polarity: watch\n" in text
    assert "text: >-\n      Long Long" in text
    assert "threshold: 1.25" in text
    assert text.count("threshold:") == 1
    assert "{" not in text
    assert max(len(line) for line in text.splitlines()) <= 100


# --------------------------------------------------------------------------- shipped rules


def test_shipped_rule_files_load_without_problems() -> None:
    paths = expand_rule_paths([SHIPPED_RULES])
    theses, problems = check_rule_files(paths)
    assert problems == []
    briefs = {p.name: p for p in real_brief_paths()}
    assert sorted(t.source_brief or "" for t in theses) == sorted(briefs)
    for thesis in theses:
        brief = briefs[thesis.source_brief or ""]
        imported = parse_brief(brief.read_text(encoding="utf-8"), brief.name)
        assert thesis.id == imported.id
        assert Path(thesis.path or "").name == f"{thesis.id}.yaml"
        assert [(c.id, c.text) for c in thesis.criteria] == [
            (c.id, c.text) for c in imported.criteria
        ]


# ---------------------------------------------------------------------------------- errors


def test_bad_yaml_gives_line_and_column(tmp_path: Path) -> None:
    text = VALID.replace("    polarity: kill\n", "    polarity: [kill\n")
    error = load_error(tmp_path, text)
    assert "invalid YAML" in error.message
    assert error.line is not None and error.column is not None
    assert where(text, "[kill")[0] <= error.line <= where(text, "[kill")[0] + 2


def test_tab_indentation_is_reported_where_it_is(tmp_path: Path) -> None:
    text = VALID.replace("  title:", "\ttitle:")
    error = load_error(tmp_path, text)
    assert (error.line, error.column) == where(text, "\ttitle:")


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("criteria:\n", "colour: red\ncriteria:\n", "colour", "rule file: unknown field 'colour'"),
        ("  title:", "  titel: x\n  title:", "titel", "thesis: unknown field 'titel'"),
        (
            "    threshold: 0.5\n",
            "    threshold: 0.5\n    weight: 2\n",
            "weight",
            "criteria[1]: unknown field 'weight'",
        ),
    ],
    ids=["top level", "thesis", "criterion"],
)
def test_unknown_fields_point_at_the_key(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = VALID.replace(old, new)
    error = load_error(tmp_path, text)
    assert message in error.message
    assert (error.line, error.column) == where(text, needle)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("  title: Grid access is the binding constraint\n", "", "thesis:", "'title'"),
        ("    query: FERC AND approv*\n", "", "- id: kill-1", "criteria[1]: missing required"),
        ("    polarity: confirm\n", "", "- id: confirm-1", "'polarity'"),
    ],
    ids=["thesis title", "criterion query", "criterion polarity"],
)
def test_missing_fields_point_at_their_entry(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = VALID.replace(old, new)
    error = load_error(tmp_path, text)
    assert "missing required field" in error.message and message in error.message
    assert error.line == where(text, needle)[0]


def test_missing_top_level_sections(tmp_path: Path) -> None:
    error = load_error(tmp_path, "thesis:\n  id: a\n  title: b\n")
    assert "missing required field 'criteria'" in error.message
    assert error.line == 1


VALUE_ERRORS = [
    ("title: Grid access is the binding constraint", "title: [a, b]", "[a, b]", "thesis.title"),
    ("date: 2026-05-14", "date: 14/05/2026", "14/05/2026", "thesis.date"),
    ("- Co-location rulings matter.", "- {a: 1}", "{a: 1}", "thesis.read_throughs[0]"),
    ("read_throughs:\n    - Co-location rulings matter.", "read_throughs: yes", "yes", "a list"),
    ("id: grid-access", "id: Grid Access", "Grid Access", "lower-case"),
    ("polarity: kill", "polarity: refute", "refute", "confirm, kill, watch"),
    ("threshold: 0.5", "threshold: high", "high", "threshold must be a number"),
    ("threshold: 0.5", "threshold: -1", "-1", "threshold must be a number"),
    ("threshold: 0.5", "threshold: true", "true", "threshold must be a number"),
    ("threshold: 0.5", "threshold: .nan", ".nan", "threshold must be a number"),
    ("threshold: 0.5", "threshold: .inf", ".inf", "threshold must be a number"),
    ("text: Regulators approve co-location.", "text: ''", "''", "criteria[1].text"),
    (
        "id: kill-1\n    polarity: kill",
        "id: confirm-1\n    polarity: confirm",
        "confirm-1",
        "duplicate criterion id 'confirm-1'",
    ),
    ("id: kill-1", "id: confirm-9", "confirm-9", "starts with 'confirm' but its polarity"),
    (
        "criteria:\n  - id: confirm-1",
        "criteria:\n  - just text\n  - id: confirm-1",
        "just",
        "mapping of",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"), VALUE_ERRORS, ids=[v[1] for v in VALUE_ERRORS]
)
def test_wrong_values_point_at_the_value(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = VALID.replace(old, new)
    assert text != VALID
    error = load_error(tmp_path, text)
    assert message in error.message
    assert (error.line, error.column) == where(text, needle, text.count(needle))


def test_duplicate_id_names_the_first_line(tmp_path: Path) -> None:
    text = VALID.replace("id: kill-1\n    polarity: kill", "id: confirm-1\n    polarity: confirm")
    error = load_error(tmp_path, text)
    assert f"first at line {where(text, '- id: confirm-1')[0]}" in error.message


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace("    polarity: kill\n", "    polarity: kill\n    polarity: watch\n")
    error = load_error(tmp_path, text)
    assert "duplicate key 'polarity'" in error.message
    assert (error.line, error.column) == where(text, "polarity: watch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "got nothing"),
        ("- a\n- b\n", "got a list"),
        ("thesis: x\ncriteria: []\n", "thesis must be a mapping"),
        ("thesis: {id: a, title: b}\ncriteria: []\n", "criteria must be a non-empty list"),
    ],
)
def test_wrong_shapes(tmp_path: Path, text: str, message: str) -> None:
    assert message in load_error(tmp_path, text).message


QUERY_ERRORS = [
    # (query as written in YAML, what the error position points at, message)
    ("FERC AND (approv*", "(approv*", "never closed"),
    ("'a OR b AND'", "AND'", "has no term after it"),
    ("'it''s OR OR x'", "OR x", "'OR' cannot follow 'OR'"),
    ('"say \\"x\\" OR -y -z"', "-y -z", "NOT alone"),
    (">-\n      (FERC OR regulator*)\n      AND approv* AND\n      OR x", "OR x", "'OR' cannot"),
    ('|\n      a AND\n        ""', '""', "empty phrase"),
]


@pytest.mark.parametrize(
    ("written", "needle", "message"), QUERY_ERRORS, ids=[q[0] for q in QUERY_ERRORS]
)
def test_query_errors_point_into_the_query(
    tmp_path: Path, written: str, needle: str, message: str
) -> None:
    text = VALID.replace("query: FERC AND approv*", f"query: {written}")
    error = load_error(tmp_path, text)
    assert error.message.startswith("criteria[1].query: ")
    assert message in error.message
    assert (error.line, error.column) == where(text, needle, text.count(needle))
    assert str(error).startswith(f"{error.path}:{error.line}:{error.column}: ")


def test_unreadable_file_is_a_rule_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("thesis: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_rule_file(path)


# --------------------------------------------------------------------- many files at once


def test_check_collects_every_problem_of_every_file(tmp_path: Path) -> None:
    first = write(tmp_path, VALID, "a.yaml")
    bad = VALID.replace("polarity: kill", "polarity: nope").replace("titel", "x")
    bad = bad.replace("  title:", "  colour: red\n  title:")
    bad = bad.replace("query: FERC AND approv*", "query: 'AND'")
    second = write(tmp_path, bad, "b.yaml")
    broken = write(tmp_path, "thesis: [\n", "c.yaml")
    duplicate = write(tmp_path, VALID.replace("brief.txt", "other.txt"), "d.yaml")
    theses, problems = check_rule_files([first, second, broken, duplicate])
    assert [t.path for t in theses] == [str(first)]
    assert [(Path(p.path or "").name, p.line) for p in problems] == [
        ("b.yaml", where(bad, "colour")[0]),
        ("b.yaml", where(bad, "nope")[0]),
        ("b.yaml", where(bad, "'AND'")[0]),
        ("c.yaml", 2),
        ("d.yaml", where(VALID, "id: grid-access")[0]),
    ]
    assert f"already used by {first}" in problems[-1].message


# ---------------------------------------------------------------------------- rule paths


def test_expand_rule_paths(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("b.yaml", "a.yml", "c.txt", "d.YAML.bak"):
        (folder / name).write_text("x", encoding="utf-8")
    (folder / "sub.yaml").mkdir()
    extra = write(tmp_path, "x", "extra.rules")
    found = expand_rule_paths([folder, extra, folder / "a.yml"])
    assert found == [folder / "a.yml", folder / "b.yaml", extra]


def test_expand_rule_paths_rejects_missing_entries(tmp_path: Path) -> None:
    with pytest.raises(RuleError) as caught:
        expand_rule_paths([tmp_path / "nowhere"])
    assert caught.value.path == str(tmp_path / "nowhere")


# ------------------------------------------------------------------------------- yamlutil


def test_line_map_answers_for_values_and_keys() -> None:
    data, lines = load_yaml(VALID, "x.yaml")
    assert data["criteria"][1]["threshold"] == 0.5
    assert lines.line("criteria", 1) == where(VALID, "- id: kill-1")[0]
    assert lines.position("criteria", 1, "query") == where(VALID, "FERC AND")
    assert lines.key_position("thesis", "title") == where(VALID, "title:")
    assert lines.key_line("criteria", 0, "nope") == where(VALID, "- id: confirm-1")[0]
    assert lines.line("criteria", 7, "query") == where(VALID, "criteria:")[0] + 1
    assert lines.line("nothing") == 1


def test_config_errors_get_the_column_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml("a: 1\nb: [\n", "config.yaml", error_cls=ConfigError)
    assert type(caught.value) is ConfigError
    assert caught.value.line == 3
    assert "(column 1)" in caught.value.message
    assert str(caught.value).startswith("config.yaml:3: invalid YAML")


def test_empty_yaml_is_none() -> None:
    data, lines = load_yaml("# only a comment\n", "x.yaml")
    assert data is None and lines.line("a") is None


# ------------------------------------------------------------------ groups and examples

GROUPED = """\
thesis:
  id: labs
  title: Frontier labs
groups:
  frontier_labs: [OpenAI, Anthropic, "Google DeepMind"]
  compute:
    - compute deal*
    - '"GPU cluster"~2'
criteria:
  - id: confirm-1
    polarity: confirm
    text: Labs sign compute deals.
    query: $frontier_labs AND ($compute OR title:$frontier_labs)
    examples:
      - OpenAI signs a 10 GW compute deal.
    counter_examples:
      - OpenAI comments on compute prices.
      - Analysts discuss GPU clusters.
"""


def test_groups_are_expanded_into_the_loaded_query(tmp_path: Path) -> None:
    criterion = load_rule_file(write(tmp_path, GROUPED)).criterion("confirm-1")
    assert criterion.query == (
        '(OpenAI OR Anthropic OR "Google DeepMind") AND (("compute deal*" OR "GPU cluster"~2)'
        ' OR title:(OpenAI OR Anthropic OR "Google DeepMind"))'
    )
    doc = Document.from_text("Google DeepMind signs GPU compute cluster lease")
    assert evaluate(parse_query(criterion.query), doc) == ("Google DeepMind", "GPU cluster~2")


def test_examples_and_counter_examples_load_and_round_trip(tmp_path: Path) -> None:
    thesis = load_rule_file(write(tmp_path, GROUPED))
    criterion = thesis.criterion("confirm-1")
    assert criterion.examples == ("OpenAI signs a 10 GW compute deal.",)
    assert criterion.counter_examples == (
        "OpenAI comments on compute prices.",
        "Analysts discuss GPU clusters.",
    )
    text = dump_rule_file(thesis)
    assert "    examples:\n      - OpenAI signs" in text
    again = load_rule_file(write(tmp_path, text, "again.yaml"))
    assert without_locations(again) == without_locations(thesis)


GROUP_ERRORS = [
    # (old, new, needle the error points at, message)
    ('"Google DeepMind"]', '"Google Deep*Mind"]', "*Mind", "groups.frontier_labs[2]: "),
    ("- compute deal*", "- compute deal* OR x*", "x*", "too short"),
    ("- '\"GPU cluster\"~2'", "- '\"GPU cluster\"~'", "~'", "needs a number"),
    ("- '\"GPU cluster\"~2'", "- title:x", "title:x", "cannot name a field"),
    ("- '\"GPU cluster\"~2'", "- $frontier_labs", "$frontier_labs\n", "another group"),
    ("- '\"GPU cluster\"~2'", "- ''", "''", "must be non-empty text"),
    ("  compute:\n", "  bad-name:\n", "bad-name", "group name 'bad-name'"),
    ("  frontier_labs: [OpenAI", "  frontier_labs: [1, OpenAI", "1,", "must be non-empty text"),
    (
        '  frontier_labs: [OpenAI, Anthropic, "Google DeepMind"]',
        "  frontier_labs: []",
        "[]",
        "non-empty list",
    ),
    ("groups:\n  frontier_labs", "groups: 3\nx:\n  frontier_labs", "3", "groups must be a mapping"),
    ("AND ($compute", "AND ($computers", "$computers", "undefined group $computers"),
    (
        "    query: $frontier_labs AND",
        "    query: title:$frontier_labs NEAR x AND",
        "NEAR",
        "same field",
    ),
    (
        "    examples:\n      - OpenAI",
        "    examples:\n      - [a]\n      - OpenAI",
        "[a]",
        "examples[0]",
    ),
    (
        "    counter_examples:\n      - OpenAI comments on compute prices.\n",
        "    counter_examples: plain text\n    examples_too:\n",
        "plain text",
        "a list",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"), GROUP_ERRORS, ids=[e[1] for e in GROUP_ERRORS]
)
def test_group_and_example_errors_point_at_file_line_and_column(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    assert old in GROUPED
    text = GROUPED.replace(old, new)
    _, problems = check_rule_files([write(tmp_path, text)])
    assert problems, text
    error = next(p for p in problems if message in p.message)
    assert (error.line, error.column) == where(text, needle)
    assert str(error).startswith(f"{error.path}:{error.line}:{error.column}: ")


def test_a_broken_group_is_reported_once_not_at_every_use(tmp_path: Path) -> None:
    text = GROUPED.replace('"Google DeepMind"]', '"Google Deep*Mind"]')
    _, problems = check_rule_files([write(tmp_path, text)])
    assert [p.message.split(":")[0] for p in problems] == ["groups.frontier_labs[2]"]


# ----------------------------------------------------------------- quality on eval items


def _micro_f1(theses: list[Thesis], path: Path) -> float:
    by_brief = {t.source_brief: t for t in theses}
    true_pos = false_pos = false_neg = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        thesis = by_brief[record["brief"]]
        doc = Document.from_text(record["title"] + "\n" + record["summary"])
        for criterion in thesis.criteria:
            if criterion.polarity == "watch":
                continue  # open questions are never scored
            hit = query_matches(parse_query(criterion.query), doc)
            labelled = criterion.id in record["labels"]
            true_pos += hit and labelled
            false_pos += hit and not labelled
            false_neg += labelled and not hit
    return 2 * true_pos / (2 * true_pos + false_pos + false_neg)


@pytest.mark.parametrize(
    "path", sorted((corpus_dir() / "eval").glob("*.jsonl")), ids=lambda p: p.name
)
def test_shipped_rules_keep_their_keyword_quality_on_the_eval_items(path: Path) -> None:
    theses, problems = check_rule_files(expand_rule_paths([SHIPPED_RULES]))
    assert problems == []
    assert _micro_f1(theses, path) >= 0.98
