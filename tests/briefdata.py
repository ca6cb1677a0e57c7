"""Briefs built from text for parser tests: one layout knob at a time.

``make_brief()`` with no arguments gives a small well-formed brief; each keyword changes one
thing (bullet character, blank lines, heading colons and case, line ends, list lengths, wrapped
items, missing parts), so a failing test names the layout it could not read.
"""

from __future__ import annotations

from pathlib import Path

from tests.corpus import corpus_dir


def real_brief_paths() -> list[Path]:
    """The sample briefs in corpus/briefs (issue 81 and 97)."""
    return sorted((corpus_dir() / "briefs").glob("*.txt"))


def item_text(section: str, number: int) -> str:
    return f"{section} item {number} about consolidation of frontier labs and HALEU supply."


def make_brief(
    *,
    bullet: str = "•",
    blank_lines: int = 1,
    colon: bool = False,
    upper: bool = False,
    crlf: bool = False,
    items: int = 3,
    wrap: bool = False,
    overlay: bool = True,
    confirm: bool = True,
    kill: bool = True,
    title: str = "Grid Access Vs Reactor Technology",
) -> str:
    """A brief whose confirm and kill lists each hold ``items`` items (see the module doc)."""

    def heading(text: str) -> str:
        text = text.upper() if upper else text
        return text + (":" if colon else "")

    def bullets(section: str, count: int) -> list[str]:
        lines: list[str] = []
        for n in range(1, count + 1):
            text = item_text(section, n)
            prefix = f"  {bullet} " if bullet else "  "
            if wrap:
                first, rest = text.split(" about ", 1)
                lines += [prefix + first, "    about " + rest]
            else:
                lines.append(prefix + text)
        return lines

    gap = [""] * blank_lines
    parts: list[list[str]] = [
        ["Rosa Del Mar"],
        ["Daily Brief"],
        ["Issue 12 2026-01-05"],
        [title],
        ["Issue 12 Edition 2026-01-05 3 min read", "General", "Sources: 1 • Confidence: Low"],
        [heading("Key takeaways")],
        bullets("Takeaway", 2),
        [heading("Sections")],
        ["First Sub-Heading"],
        bullets("Section one", 2),
        ["Second Sub-Heading"],
        bullets("Section two", 1),
        [heading("Unknowns")],
        bullets("Unknown", 2),
    ]
    if overlay:
        parts += [[heading("Investor overlay")], [heading("Read-throughs")], bullets("Read", 2)]
        if confirm:
            parts += [[heading("What would confirm")], bullets("Confirm", items)]
        if kill:
            parts += [[heading("What would kill")], bullets("Kill", items)]
    parts += [[heading("Sources")], ["  1. 2026-01-05 example.org"]]
    lines: list[str] = []
    for part in parts:
        lines += part + gap
    newline = "\r\n" if crlf else "\n"
    return newline.join(lines) + newline
