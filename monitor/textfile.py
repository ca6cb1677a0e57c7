"""Reading the user's text files (config, briefs, labeled items) with one clear error."""

from __future__ import annotations

from pathlib import Path

from monitor.errors import ConfigError


def read_text_file(path: Path, what: str) -> str:
    """The file's text; ConfigError naming the file when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read {what}: {e.strerror}", str(path)) from e
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{what} is not UTF-8 text (bad byte at offset {e.start}): save it as UTF-8",
            str(path),
        ) from e
