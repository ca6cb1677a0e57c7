"""Config file and environment parsing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.settings import Environment, default_config_path, load_config, parse_interval


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("2d", timedelta(days=2)),
        (" 1H ", timedelta(hours=1)),
    ],
)
def test_parse_interval(text: str, expected: timedelta) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "15 minutes", "1h-", "abc", "999999999999d"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad interval"):
        parse_interval(text)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_config_reads_sources_and_rule_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n  - name: a\n    url: https://a.example/feed\n    interval: 1h\n"
        "    tags: [ai]\n  - name: b\n    url: http://b.example/rss\n"
        "rules: [rules, extra/x.yaml]\n",
    )
    config = load_config(path)
    assert [(s.name, s.interval, s.tags) for s in config.sources] == [
        ("a", timedelta(hours=1), ("ai",)),
        ("b", timedelta(minutes=15), ()),
    ]
    assert config.rule_paths == (tmp_path / "rules", tmp_path / "extra/x.yaml")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("sources: [\n", 2, "invalid YAML"),
        ("sources:\n  - name: a\n    url: https://a\nfeeds: []\n", 4, "unknown field 'feeds'"),
        ("sources:\n  - name: a\n    url: https://a\n    every: 5m\n", 4, "unknown source field"),
        ("sources:\n  - name: a\n    url: ftp://a\n", 3, r"needs an http\(s\) 'url'"),
        ("sources:\n  - url: https://a\n", 2, "needs a 'name'"),
        (
            "sources:\n  - {name: a, url: 'https://a'}\n  - {name: a, url: 'https://b'}\n",
            3,
            "duplicate",
        ),
        ("sources:\n  - name: a\n    url: https://a\n    interval: soon\n", 4, "bad interval"),
        ("sources:\n  - name: a\n    url: https://a\n    interval: 5s\n", 4, "minimum"),
        ("sources: []\n", 1, "non-empty list"),
        ("rules: [x]\n", 1, "non-empty list"),
    ],
)
def test_bad_config_names_file_and_line(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert info.value.path == str(path)
    assert info.value.line == line


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_default_config_prefers_the_working_directory(tmp_path: Path) -> None:
    assert default_config_path(tmp_path).name == "monitor.yaml"
    assert default_config_path(tmp_path).parent != tmp_path
    write(tmp_path, "sources: []\n")
    assert default_config_path(tmp_path) == tmp_path / "monitor.yaml"


def test_environment_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    env = Environment.from_mapping({"MONITOR_DATA_DIR": str(tmp_path)})
    assert env.database_url == f"sqlite:///{tmp_path / 'monitor.db'}"
    env = Environment.from_mapping({"HOME": str(tmp_path)})
    assert env.data_dir == tmp_path / ".local/share/signal-monitor"
    env = Environment.from_mapping({"DATABASE_URL": "postgresql+psycopg://x@h/db"})
    assert env.database_url == "postgresql+psycopg://x@h/db"


def test_shipped_config_is_valid() -> None:
    config = load_config(default_config_path(Path("/nonexistent")))
    assert len(config.sources) >= 5
    assert all(p.exists() for p in config.rule_paths)
