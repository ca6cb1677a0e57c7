"""Configuration: the YAML config file and the environment, each read once.

Config file (``--config FILE``; default ``monitor.yaml`` in the working directory when it
exists, else the shipped default, the repository's ``monitor.yaml``)::

    sources:                  # required, a list of feeds
      - name: interconnects   # required, unique
        url: https://…        # required, http or https
        interval: 30m         # optional, default 15m; units s, m, h, d (e.g. 1h30m); >= 30s
        tags: [ai, research]  # optional
    rules:                    # optional, default [rules]; rule files or folders,
      - rules                 # relative to the config file

Environment (read through an injectable mapping, never at import time):

``DATABASE_URL``
    SQLAlchemy URL; default ``sqlite:///<data dir>/monitor.db``.
``MONITOR_DATA_DIR``
    Where the default SQLite file lives; default ``$XDG_DATA_HOME/signal-monitor``
    (``~/.local/share/signal-monitor``).
``MONITOR_SEMANTIC``
    ``auto`` (default): semantic scoring when the ``semantic`` extra is installed; ``off``:
    keyword-only even when it is.
``SLACK_BOT_TOKEN`` + ``SLACK_CHANNEL``, or ``SLACK_WEBHOOK_URL``; ``SLACK_API_URL``
    Slack delivery (see ``monitor.notify``); with none of them alerts go to the console.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.textfile import read_text_file
from monitor.types import SourceConfig
from monitor.yamlutil import LineMap, load_yaml

CONFIG_FILENAME = "monitor.yaml"
MIN_INTERVAL = timedelta(seconds=30)
DEFAULT_INTERVAL = timedelta(minutes=15)
_SOURCE_FIELDS = {"name", "url", "interval", "tags"}
_TOP_FIELDS = {"sources", "rules"}
_INTERVAL_PART = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Config:
    path: Path
    sources: tuple[SourceConfig, ...]
    rule_paths: tuple[Path, ...]


@dataclass(frozen=True)
class Environment:
    database_url: str
    data_dir: Path
    values: Mapping[str, str]
    semantic: bool = True  # False when MONITOR_SEMANTIC=off

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Environment:
        data_dir = Path(env.get("MONITOR_DATA_DIR") or _default_data_dir(env))
        url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'monitor.db'}"
        semantic = env.get("MONITOR_SEMANTIC", "auto").strip().lower()
        if semantic not in ("auto", "off"):
            raise ConfigError(f"MONITOR_SEMANTIC must be 'auto' or 'off', not {semantic!r}")
        return cls(
            database_url=url, data_dir=data_dir, values=dict(env), semantic=semantic == "auto"
        )


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "signal-monitor"


def shipped_config_path() -> Path:
    """The repository's own ``monitor.yaml``, beside the ``monitor`` package."""
    return Path(__file__).resolve().parent.parent / CONFIG_FILENAME


def default_config_path(cwd: Path) -> Path:
    local = cwd / CONFIG_FILENAME
    return local if local.exists() else shipped_config_path()


def parse_interval(text: str) -> timedelta:
    """``15m``, ``1h30m``, ``45s``, ``2d`` -> timedelta. Raises ValueError."""
    compact = str(text).strip().lower()
    parts = _INTERVAL_PART.findall(compact)
    if not parts or _INTERVAL_PART.sub("", compact).strip():
        raise ValueError(f"bad interval {text!r}: use a number and a unit, like 30s, 15m, 1h, 1d")
    total = timedelta()
    try:
        for number, unit in parts:
            total += timedelta(**{_UNITS[unit]: int(number)})
    except OverflowError as e:
        raise ValueError(f"bad interval {text!r}: too long") from e
    return total


def load_config(path: Path) -> Config:
    """Read and validate the config file; raises ConfigError with ``file:line``."""
    text = read_text_file(path, "config file")
    data, lines = load_yaml(text, str(path), error_cls=ConfigError)
    where = str(path)
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with 'sources' and 'rules'", where, 1)
    for key in data:
        if key not in _TOP_FIELDS:
            raise ConfigError(
                f"unknown field {key!r} (expected one of: sources, rules)",
                where,
                lines.key_line(key),
            )
    sources = _sources(data.get("sources"), where, lines)
    rules = data.get("rules", ["rules"])
    if isinstance(rules, str):
        rules = [rules]
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ConfigError("'rules' must be a list of files or folders", where, lines.line("rules"))
    base = path.resolve().parent
    return Config(path=path, sources=sources, rule_paths=tuple(base / r for r in rules))


def _sources(raw: Any, where: str, lines: LineMap) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            "'sources' must be a non-empty list of {name, url} mappings",
            where,
            lines.line("sources"),
        )
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(raw):
        line = lines.line("sources", i)
        if not isinstance(entry, dict):
            raise ConfigError("each source must be a mapping with name and url", where, line)
        for key in entry:
            if key not in _SOURCE_FIELDS:
                raise ConfigError(
                    f"unknown source field {key!r} (expected name, url, interval, tags)",
                    where,
                    lines.key_line("sources", i, key),
                )
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("source needs a 'name'", where, line)
        if name in seen:
            raise ConfigError(f"duplicate source name {name!r}", where, line)
        seen.add(name)
        if not isinstance(url, str) or not re.match(r"https?://", url):
            raise ConfigError(
                f"source {name!r} needs an http(s) 'url'", where, lines.line("sources", i, "url")
            )
        interval = DEFAULT_INTERVAL
        if "interval" in entry:
            try:
                interval = parse_interval(entry["interval"])
            except ValueError as e:
                raise ConfigError(str(e), where, lines.line("sources", i, "interval")) from e
            if interval < MIN_INTERVAL:
                raise ConfigError(
                    f"interval of {name!r} is below the minimum of 30s",
                    where,
                    lines.line("sources", i, "interval"),
                )
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError("'tags' must be a list of strings", where, line)
        out.append(SourceConfig(name=name, url=url, interval=interval, tags=tuple(tags)))
    return tuple(out)
