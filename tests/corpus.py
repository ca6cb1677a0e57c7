"""Where the shared sample data lives (briefs, captured feeds), for tests.

``MONITOR_SHARED_DIR`` points at it; by default it is the ``shared`` folder beside the
repository root (in CI the repository is cloned with ``shared/`` next to it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULT_SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


def shared_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get("MONITOR_SHARED_DIR")
    return Path(value) if value else DEFAULT_SHARED_DIR


def feed_path(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The path of a captured feed in ``corpus/feeds`` (see its MANIFEST.tsv)."""
    return shared_dir(environ) / "corpus" / "feeds" / name


def feed_bytes(name: str, environ: Mapping[str, str] | None = None) -> bytes:
    return feed_path(name, environ).read_bytes()
