"""Where the sample data lives (briefs, captured feeds, labeled items), for tests.

Everything is in this repository's ``corpus/`` folder (copied from the team's shared folder), so
the tests pass on a fresh clone with nothing beside it:

* ``corpus/briefs/``: the analyst's briefs, in the layout the importer reads;
* ``corpus/eval/``: labeled items (``FORMAT.md``);
* ``corpus/feeds/``: captured real-world feeds with a ``MANIFEST.tsv`` of where each is from.
"""

from __future__ import annotations

from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus"


def corpus_dir() -> Path:
    return CORPUS_DIR


def feed_path(name: str) -> Path:
    """The path of a captured feed in ``corpus/feeds`` (see its MANIFEST.tsv)."""
    return CORPUS_DIR / "feeds" / name


def feed_bytes(name: str) -> bytes:
    return feed_path(name).read_bytes()
