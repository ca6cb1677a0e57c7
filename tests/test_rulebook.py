"""Rule files are reloaded when they change; a broken new version keeps the last good one."""

from __future__ import annotations

from pathlib import Path

from monitor.rulebook import RuleBook
from tests.e2e import RULE_FILE


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_changed_file_is_reloaded_and_invalid_version_keeps_last_good(tmp_path: Path) -> None:
    rule = tmp_path / "nuclear.yaml"
    write(rule, RULE_FILE)
    book = RuleBook([tmp_path])

    changed, errors = book.refresh()
    assert changed and errors == []
    assert [c.id for c in book.theses[0].criteria] == ["confirm-1", "kill-1", "unknown-1"]

    assert book.refresh() == (False, [])  # nothing changed

    write(rule, RULE_FILE.replace("query: HALEU", "query: (HALEU"))
    changed, errors = book.refresh()
    assert not changed
    assert len(errors) == 1 and str(errors[0]).startswith(f"{rule}:")
    assert book.theses[0].criterion("unknown-1").query == "HALEU"  # last good stays
    assert book.matcher.theses == tuple(book.theses)
    assert book.refresh() == (False, [])  # reported once, not on every tick

    write(rule, RULE_FILE.replace("query: HALEU", "query: HALEU OR enrichment"))
    changed, errors = book.refresh()
    assert changed and errors == []
    assert book.theses[0].criterion("unknown-1").query == "HALEU OR enrichment"


def test_new_deleted_and_duplicate_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", RULE_FILE)
    book = RuleBook([tmp_path])
    book.refresh()

    write(tmp_path / "b.yaml", RULE_FILE)  # same thesis id as a.yaml
    changed, errors = book.refresh()
    assert not changed
    assert len(errors) == 1 and "already used" in str(errors[0]) and "b.yaml" in str(errors[0])

    (tmp_path / "a.yaml").unlink()
    changed, errors = book.refresh()
    assert changed and errors == []
    assert [t.path for t in book.theses] == [str(tmp_path / "b.yaml")]
