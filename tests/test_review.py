"""The review tables (`monitor signals`, `theses`, `sources`, `mutes`, …): feed text prints
as written, never as Rich markup, emoji codes or terminal escapes; long cells wrap instead of
being cut."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from monitor.review import PIPE_WIDTH, print_signals, print_table
from monitor.types import Signal

HOSTILE = "[bold red]x[/] :smile: \x1b[31m [link=http://evil]y[/link]"
LITERAL = "[bold red]x[/] :smile:  [31m [link=http://evil]y[/link]"  # the escape: a space
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def signal(title: str, *, snippet: str = "the evidence", id: int = 1) -> Signal:
    return Signal(
        id=id,
        created_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        thesis_id="test-nuclear",
        thesis_title="Nuclear restarts",
        criterion_id="confirm-1",
        criterion_text="A restart is agreed",
        polarity="confirm",
        score=0.91,
        matched_terms=("restart*", "reactor"),
        snippet=snippet,
        item_id=7,
        item_title=title,
        item_link="https://news.example.com/a-1",
        source="[green]wire[/green]",
        published=None,
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


def test_a_hostile_title_prints_literally_without_escapes() -> None:
    out = io.StringIO()
    print_signals([signal(HOSTILE, snippet=f"said {HOSTILE}")], "table", out, explain=True)

    text = out.getvalue()
    assert "\x1b" not in text and "😄" not in text
    assert LITERAL in text  # brackets and colons kept
    assert f"evidence: said {LITERAL}" in text
    assert "[green]wire[/green]" in text
    assert text.splitlines()[0].split() == [
        "ID", "FOUND", "(UTC)", "POLARITY", "THESIS", "CRITERION", "SCORE", "SOURCE", "TITLE"
    ]  # fmt: skip


def test_on_a_terminal_only_the_header_is_styled_and_feed_text_stays_literal() -> None:
    out = Terminal()
    print_table([("note", HOSTILE)], ("KIND", "NOTE"), out)

    text = out.getvalue()
    assert "\x1b]8;" not in text  # no hyperlink
    assert set(ANSI.findall(text)) <= {"\x1b[1m", "\x1b[0m"}  # bold headers, nothing else
    assert LITERAL in ANSI.sub("", text)


def test_long_titles_wrap_within_the_width_instead_of_being_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    title = " ".join(f"word{n}" for n in range(40))  # 269 characters
    out = io.StringIO()
    print_signals([signal("short"), signal(title, id=2)], "table", out)

    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= PIPE_WIDTH
    assert "…" not in out.getvalue()
    assert " ".join(" ".join(lines[3:]).split()).endswith(title.split(" ", 3)[-1])
    assert lines[3].startswith("2 ") and "word0 word1" in lines[3]  # the row, then its rest
    assert all(line.startswith(" ") for line in lines[4:])

    monkeypatch.setenv("COLUMNS", "80")
    narrow = io.StringIO()
    print_signals([signal(title)], "table", narrow)
    lines = narrow.getvalue().splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) > 4
    assert all(f"word{n}" in narrow.getvalue() for n in range(40))


def test_rows_and_headers_must_agree() -> None:
    with pytest.raises(ValueError, match="a row of 1 cells under 2 headers"):
        print_table([("one",)], ("A", "B"), io.StringIO())
