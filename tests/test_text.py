"""The shared text helpers (monitor/text.py) and the import layering they are the bottom of."""

from __future__ import annotations

import ast
import random
import re
import string
import unicodedata
from pathlib import Path

import pytest

from monitor import text
from monitor.text import (
    ELLIPSIS,
    STOPWORDS,
    TITLE_STOPWORDS,
    sentences,
    shorten,
    stem,
    stem_all,
    tokenize,
    truncate,
)

PACKAGE = Path(text.__file__).parent

# ------------------------------------------------------------------------------------- tokens


def regex_tokens(value: str) -> list[str]:
    """The definition the fast path must agree with: the regex over NFKC + casefold."""
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", value).casefold())


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("AI-driven post-training", ["ai", "driven", "post", "training"]),
        ("snake_case R&D 3.5%", ["snake", "case", "r", "d", "3", "5"]),
        ("  \t\n", []),
        ("", []),
        ("Zürich ÉCOLE", ["zürich", "école"]),
        ("Straße STRASSE", ["strasse", "strasse"]),  # casefold, not lower
        ("\uff21\uff29 lab", ["ai", "lab"]),  # full-width letters (NFKC)
        ("\ufb01nance", ["finance"]),  # the fi ligature
        ("cafe\u0301 menu", ["café", "menu"]),  # a combining accent joins its letter
        ("x\u00b2 \u2460", ["x2", "1"]),  # superscript two, circled one
        ("naïve — “quoted” …", ["naïve", "quoted"]),
        ("日本語のテキスト", ["日本語のテキスト"]),
    ],
)
def test_tokenize_folds_case_and_compatibility_forms(value: str, tokens: list[str]) -> None:
    assert tokenize(value) == tokens
    assert regex_tokens(value) == tokens


def test_the_ascii_fast_path_agrees_with_the_regex() -> None:
    every_ascii = "".join(map(chr, range(128)))
    samples = [every_ascii, every_ascii[::-1], string.printable]
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + string.punctuation + " \t\n\x00\x7f"
    samples += ["".join(rng.choices(alphabet, k=rng.randint(0, 60))) for _ in range(2000)]
    for sample in samples:
        assert sample.isascii()
        assert tokenize(sample) == regex_tokens(sample), sample


# -------------------------------------------------------------------------------------- stems


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("restarted", "restart"),
        ("restarts", "restart"),
        ("consolidating", "consolid"),
        ("consolidation", "consolid"),
        ("delays", "delay"),
        ("ai", "ai"),
        ("2026", "2026"),
    ],
)
def test_stem(token: str, expected: str) -> None:
    assert stem(token) == expected


def test_stem_all_maps_in_order_and_the_cache_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = ["restarted", "delays", "restarted", "consolidation"]
    assert list(stem_all(words)) == ["restart", "delay", "restart", "consolid"]
    monkeypatch.setattr(text, "STEM_CACHE_LIMIT", 3)
    for word in ("alpha", "beta", "gamma", "delta", "epsilon"):
        stem(word)
    assert len(text._STEMS) <= 3
    assert stem("restarted") == "restart"  # recomputed after a clear


# --------------------------------------------------------------------------------- stop words


def test_title_stop_words_are_a_subset_of_the_stop_words() -> None:
    assert TITLE_STOPWORDS < STOPWORDS
    assert {"the", "says", "new"} <= TITLE_STOPWORDS
    assert not {"down", "against", "without"} & TITLE_STOPWORDS  # kept in titles
    assert all(word == word.casefold() for word in STOPWORDS)  # comparable with tokens


# ---------------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Title here\nRegulators approved it.", ["Title here", "Regulators approved it."]),
        ("Version 2.5 ships. Price: $3.50.", ["Version 2.5 ships.", "Price: $3.50."]),
        ("  spaced .  out  ", ["spaced .", "out"]),
        ("\n\n", []),
        ("", []),
    ],
)
def test_sentences(value: str, expected: list[str]) -> None:
    assert sentences(value) == expected


# --------------------------------------------------------------------------------------- cuts


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("alpha beta gamma delta", 12, "alpha beta…"),  # cut anywhere, trailing space dropped
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
        ("abc", 1, "…"),
        ("abc", 0, "…"),
    ],
)
def test_truncate_cuts_anywhere(value: str, limit: int, expected: str) -> None:
    assert truncate(value, limit) == expected


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("alpha beta gamma delta epsilon", 20, "alpha beta gamma…"),  # a space near the end
        ("one two three four five", 12, "one two thr…"),  # the last space is too far back
        ("A " + "x" * 300, 280, "A " + "x" * 277 + ELLIPSIS),  # one long word: not just "A…"
        ("word " * 10, 20, "word word word word…"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
    ],
)
def test_shorten_cuts_at_a_word_when_one_is_near(value: str, limit: int, expected: str) -> None:
    assert shorten(value, limit) == expected


@pytest.mark.parametrize("cut", [truncate, shorten])
def test_cuts_never_exceed_the_limit(cut: object) -> None:
    assert callable(cut)
    rng = random.Random(11)
    for _ in range(500):
        value = "".join(rng.choices("ab  é…\t", k=rng.randint(0, 40)))
        limit = rng.randint(1, 30)
        result = cut(value, limit)
        assert len(result) <= limit
        assert result == value if len(value) <= limit else result.endswith(ELLIPSIS)


# ----------------------------------------------------------------------------------- layering


def imported_modules(source: str, package: str) -> set[str]:
    """Every module ``source`` imports (also inside functions and TYPE_CHECKING blocks), with
    relative imports resolved against ``package``, the package the module belongs to."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imports_of(path: Path) -> set[str]:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
    return imported_modules(path.read_text(encoding="utf-8"), package)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("layer", ["rules", "semantic"])
def test_rules_and_semantic_do_not_import_matching(layer: str) -> None:
    modules = sorted((PACKAGE / layer).rglob("*.py"))
    assert modules
    for path in modules:
        wrong = sorted(m for m in imports_of(path) if within(m, "monitor.matching"))
        assert not wrong, f"{path.relative_to(PACKAGE.parent)} imports {wrong}"


def test_text_is_the_bottom_layer() -> None:
    ours = {m for m in imports_of(PACKAGE / "text.py") if within(m, "monitor")}
    assert all(within(m, "monitor.types") for m in ours), ours


def test_the_layering_check_sees_relative_and_late_imports() -> None:
    source = (
        "from ..matching import engine\n"
        "from . import files\n"
        "def f():\n"
        "    import monitor.matching.text\n"
    )
    found = imported_modules(source, "monitor.rules")
    assert {"monitor.matching.engine", "monitor.rules.files", "monitor.matching.text"} <= found
