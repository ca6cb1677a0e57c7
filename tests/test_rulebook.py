"""Rule files are reloaded when they change; a broken file holds its thesis back."""

from __future__ import annotations

from pathlib import Path

from monitor.rulebook import RuleBook
from tests.e2e import RULE_FILE


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_changed_file_is_reloaded_and_an_invalid_version_holds_its_thesis(tmp_path: Path) -> None:
    rule = tmp_path / "nuclear.yaml"
    write(rule, RULE_FILE)
    book = RuleBook([tmp_path])

    changed, errors = book.refresh()
    assert changed and errors == []
    assert [c.id for c in book.theses[0].criteria] == ["confirm-1", "kill-1", "unknown-1"]

    assert book.refresh() == (False, [])  # nothing changed

    write(rule, RULE_FILE.replace("query: HALEU", "query: (HALEU"))
    changed, errors = book.refresh()
    assert changed  # the thesis is no longer matched
    assert len(errors) == 1 and str(errors[0]).startswith(f"{rule}:")
    assert book.theses[0].criterion("unknown-1").query == "HALEU"  # last good stays known
    assert list(book.held) == ["test-nuclear"] and str(rule) in book.held["test-nuclear"]
    assert book.matchable == [] and book.matcher.theses == ()  # held: its items wait
    assert book.refresh() == (False, [])  # reported once, not on every tick

    write(rule, RULE_FILE.replace("query: HALEU", "query: HALEU OR enrichment"))
    changed, errors = book.refresh()
    assert changed and errors == []
    assert book.theses[0].criterion("unknown-1").query == "HALEU OR enrichment"
    assert book.held == {} and book.matcher.theses == tuple(book.theses)


def test_new_deleted_and_duplicate_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", RULE_FILE)
    book = RuleBook([tmp_path])
    book.refresh()

    write(tmp_path / "b.yaml", RULE_FILE)  # same thesis id as a.yaml
    changed, errors = book.refresh()
    assert not changed
    assert len(errors) == 1 and "already used" in str(errors[0]) and "b.yaml" in str(errors[0])
    assert list(book.waiting_files) == [tmp_path / "b.yaml"]

    (tmp_path / "a.yaml").unlink()
    changed, errors = book.refresh()
    assert changed and errors == []
    assert [t.path for t in book.theses] == [str(tmp_path / "b.yaml")]


def test_no_rule_file_holds_all_matching_and_keeps_the_theses(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    write(folder / "a.yaml", RULE_FILE)
    book = RuleBook([folder])
    book.refresh()

    (folder / "a.yaml").rename(tmp_path / "a.yaml.bak")  # an emptied folder: a mistake
    changed, errors = book.refresh()
    assert changed and errors == []
    assert book.hold_all is not None and "no rule file" in book.hold_all
    assert book.matchable == [] and [t.id for t in book.theses] == ["test-nuclear"]

    folder.rmdir()  # a missing folder too
    changed, errors = book.refresh()
    assert not changed and len(errors) == 1 and "no such rule file or folder" in str(errors[0])
    assert book.hold_all is not None

    folder.mkdir()
    (tmp_path / "a.yaml.bak").rename(folder / "a.yaml")
    changed, errors = book.refresh()
    assert changed and errors == [] and book.hold_all is None
    assert [t.id for t in book.matchable] == ["test-nuclear"]


def test_the_digest_changes_with_the_rules_not_with_comments(tmp_path: Path) -> None:
    rule = tmp_path / "a.yaml"
    write(rule, RULE_FILE)
    book = RuleBook([tmp_path])
    book.refresh()
    first = book.digest(book.theses[0])

    write(rule, "# a comment\n" + RULE_FILE)
    book.refresh()
    assert book.digest(book.theses[0]) == first

    write(rule, RULE_FILE.replace("query: HALEU", "query: HALEU OR enrichment"))
    book.refresh()
    assert book.digest(book.theses[0]) != first
