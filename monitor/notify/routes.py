"""Alert routing (pure): which destinations a signal goes to, when, and whether it is muted.

The config's ``destinations:``, ``routes:`` and ``severity:`` sections::

    destinations:               # optional; "default" is always there: the environment's
      desk:                     # Slack bot or webhook, else the console
        slack_channel: "#desk"  # another channel, through SLACK_BOT_TOKEN
      research:
        webhook_env: RESEARCH_WEBHOOK_URL   # an incoming webhook; the URL (a secret) is
                                            # read from that environment variable
      terminal:
        console: true
    routes:                     # optional; without it every confirm/kill alert goes to
      - name: kills-now         # "default" at once, one message each (as before routes)
        match:                  # every field optional; all given ones must hold
          polarity: [kill]
          thesis: [ai-capex]
          criterion: [kill-1]   # a criterion id, or thesis/criterion
          min_score: 0.5
          source: [sec-filings]
          source_tags: [research]   # any of the source's tags
        to: [default, desk]
        mode: immediate         # or digest
        group: true             # default: a burst of one thesis (found in one batch) is
                                # one message; false: a message per alert
        quiet_hours: "22:00-07:00 Europe/London"   # immediate: held until they end
      - name: morning
        to: [research]
        mode: digest
        schedule: "weekdays 08:00 Europe/London"   # daily, weekdays, weekends, mon,wed,…
    severity:
      kill_score: 0.8           # kill signals at or above: immediate to their routes'
                                # destinations (or "default"), past digests, quiet hours
                                # and mutes; the message says so

Decisions:

* A signal goes to every destination of every route it matches, once per destination: the
  earliest due time and "immediate" win when two routes name the same destination. A signal
  no route matches is recorded and not alerted (``monitor signals`` shows it).
* A digest is due at the next scheduled time after the signal was found; its deliveries
  carry the digest's key (route and due time), so one message (in parts within Slack's
  limits) carries them all.
* Quiet hours hold immediate alerts until they end; digests are not affected (their
  schedule says when).
* A muted signal's delivery is recorded as ``muted`` (shown, never sent). An urgent kill
  is never muted, held or digested.
* Times: schedules and quiet hours are read in their IANA time zone (``zoneinfo``; UTC
  when none is given), so 08:00 Europe/London stays 08:00 across daylight saving.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.types import Mute
from monitor.yamlutil import LineMap

DEFAULT = "default"
BURST = "~"  # a Plan.digest starting so is no digest: the route groups bursts
Mode = Literal["immediate", "digest"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_SCHEDULE = re.compile(r"^\s*(?P<days>[a-z,]+)\s+(?P<at>\d{1,2}:\d{2})(?:\s+(?P<tz>\S+))?\s*$")
_QUIET = re.compile(
    r"^\s*(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})(?:\s+(?P<tz>\S+))?\s*$"
)


@dataclass(frozen=True)
class Destination:
    """Where alerts can go: the environment's notifier, a Slack channel through the bot
    token, an incoming webhook whose URL is in an environment variable, or the console."""

    name: str
    slack_channel: str | None = None
    webhook_env: str | None = None
    console: bool = False


@dataclass(frozen=True)
class Schedule:
    """``days`` (0 = Monday) at ``at`` local time in ``zone``."""

    days: frozenset[int]
    at: time
    zone: str = "UTC"

    def next_after(self, now: datetime) -> datetime:
        """The first scheduled time strictly after ``now``, in UTC."""
        tz = ZoneInfo(self.zone)
        local = now.astimezone(tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.days:
                continue
            when = datetime.combine(day, self.at, tzinfo=tz).astimezone(UTC)
            if when > now:
                return when
        raise AssertionError("a schedule with days always has a next time")  # pragma: no cover


@dataclass(frozen=True)
class QuietHours:
    """From ``start`` to ``end`` local time (across midnight when ``end`` < ``start``)."""

    start: time
    end: time
    zone: str = "UTC"

    def until(self, now: datetime) -> datetime | None:
        """When the quiet hours ``now`` falls in end (UTC), or None when it is not quiet."""
        tz = ZoneInfo(self.zone)
        local = now.astimezone(tz)
        today = local.date()
        for start_day in (today - timedelta(days=1), today):
            start = datetime.combine(start_day, self.start, tzinfo=tz)
            end_day = start_day + timedelta(days=1) if self.end <= self.start else start_day
            end = datetime.combine(end_day, self.end, tzinfo=tz)
            if start <= local < end:
                return end.astimezone(UTC)
        return None


@dataclass(frozen=True)
class RouteMatch:
    polarity: frozenset[str] = frozenset()
    thesis: frozenset[str] = frozenset()
    criterion: frozenset[str] = frozenset()
    min_score: float | None = None
    source: frozenset[str] = frozenset()
    source_tags: frozenset[str] = frozenset()

    def holds(self, signal: SignalFacts) -> bool:
        criterion_ids = {signal.criterion_id, f"{signal.thesis_id}/{signal.criterion_id}"}
        return (
            (not self.polarity or signal.polarity in self.polarity)
            and (not self.thesis or signal.thesis_id in self.thesis)
            and (not self.criterion or bool(criterion_ids & self.criterion))
            and (self.min_score is None or signal.score >= self.min_score)
            and (not self.source or signal.source in self.source)
            and (not self.source_tags or bool(self.source_tags & set(signal.source_tags)))
        )


@dataclass(frozen=True)
class Route:
    name: str
    to: tuple[str, ...] = (DEFAULT,)
    match: RouteMatch = RouteMatch()
    mode: Mode = "immediate"
    schedule: Schedule | None = None
    quiet_hours: QuietHours | None = None
    group: bool = False  # immediate: a burst of one thesis goes out as one message


@dataclass(frozen=True)
class Routing:
    """The parsed sections; :data:`DEFAULT_ROUTING` when the config has none."""

    destinations: Mapping[str, Destination] = field(
        default_factory=lambda: {DEFAULT: Destination(DEFAULT)}
    )
    routes: tuple[Route, ...] = (Route("default"),)
    kill_score: float | None = None  # severity: kill signals at or above are urgent


DEFAULT_ROUTING = Routing()


@dataclass(frozen=True)
class SignalFacts:
    """What routing reads of a signal."""

    thesis_id: str
    criterion_id: str
    polarity: str
    score: float
    source: str
    source_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """An intent: queue a delivery of the signal to ``destination``, due at ``due``.
    ``digest``: the key of the digest that carries it; ``muted``: recorded, never sent;
    ``urgent``: a severe kill that skipped digests, quiet hours and mutes."""

    destination: str
    due: datetime
    digest: str | None = None
    muted: Mute | None = None
    urgent: bool = False
    route: str = ""


def plan(signal: SignalFacts, routing: Routing, mutes: Sequence[Mute], now: datetime) -> list[Plan]:
    """Where and when ``signal`` goes (one plan per destination; none when no route
    matches). Mutes are (kind, value) pairs from ``monitor mute``."""
    from monitor.decide import mute_for

    matched = [r for r in routing.routes if r.match.holds(signal)]
    urgent = (
        routing.kill_score is not None
        and signal.polarity == "kill"
        and signal.score >= routing.kill_score
    )
    if urgent:
        targets = {d for r in matched for d in r.to} or {DEFAULT}
        return [Plan(d, now, urgent=True, route="severity") for d in sorted(targets)]
    mute = mute_for(signal.thesis_id, signal.criterion_id, signal.source, mutes)
    plans: dict[str, Plan] = {}
    for route in matched:
        for destination in route.to:
            candidate = _plan_for(route, destination, now, mute)
            held = plans.get(destination)
            if held is None or (candidate.digest is None, -candidate.due.timestamp()) > (
                held.digest is None,
                -held.due.timestamp(),
            ):
                plans[destination] = candidate
    return [plans[d] for d in sorted(plans)]


def _plan_for(route: Route, destination: str, now: datetime, mute: Mute | None) -> Plan:
    if route.mode == "digest" and route.schedule is not None:
        due = route.schedule.next_after(now)
        key = f"{route.name}@{due.strftime('%Y-%m-%dT%H:%MZ')}"
        return Plan(destination, due, digest=key, muted=mute, route=route.name)
    quiet_end = route.quiet_hours.until(now) if route.quiet_hours is not None else None
    burst = f"{BURST}{route.name}" if route.group else None
    return Plan(destination, quiet_end or now, digest=burst, muted=mute, route=route.name)


# -- parsing ------------------------------------------------------------------------------


def parse_routing(data: Mapping[str, Any], where: str, lines: LineMap) -> Routing:
    """The ``destinations``, ``routes`` and ``severity`` sections of a loaded config;
    ConfigError with ``file:line``."""
    destinations = {DEFAULT: Destination(DEFAULT)}
    raw_destinations = data.get("destinations") or {}
    if not isinstance(raw_destinations, dict):
        raise ConfigError("'destinations' must be a mapping", where, lines.line("destinations"))
    for name, spec in raw_destinations.items():
        destinations[str(name)] = _destination(str(name), spec, where, lines)
    raw_routes = data.get("routes")
    routes: tuple[Route, ...] = DEFAULT_ROUTING.routes
    if raw_routes is not None:
        if not isinstance(raw_routes, list) or not raw_routes:
            raise ConfigError("'routes' must be a non-empty list", where, lines.line("routes"))
        routes = tuple(
            _route(n, spec, destinations, where, lines) for n, spec in enumerate(raw_routes)
        )
        names = [r.name for r in routes]
        for n, name in enumerate(names):
            if name in names[:n]:
                raise ConfigError(f"two routes are named {name!r}", where, lines.line("routes", n))
    kill_score = None
    severity = data.get("severity")
    if severity is not None:
        if not isinstance(severity, dict) or set(severity) - {"kill_score"}:
            raise ConfigError(
                "'severity' takes one field, kill_score", where, lines.line("severity")
            )
        kill_score = _score(severity.get("kill_score"), where, lines.line("severity", "kill_score"))
    return Routing(destinations, routes, kill_score)


def _destination(name: str, spec: Any, where: str, lines: LineMap) -> Destination:
    line = lines.line("destinations", name)
    if name == DEFAULT:
        raise ConfigError(
            "'default' is the environment's Slack or console destination; pick another name",
            where,
            line,
        )
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(
            f"destination {name!r} needs exactly one of slack_channel, webhook_env, console",
            where,
            line,
        )
    ((kind, value),) = spec.items()
    if kind == "slack_channel" and isinstance(value, str) and value.strip():
        return Destination(name, slack_channel=value.strip())
    if (
        kind == "webhook_env"
        and isinstance(value, str)
        and re.fullmatch(r"[A-Z_][A-Z0-9_]*", value)
    ):
        return Destination(name, webhook_env=value)
    if kind == "console" and value is True:
        return Destination(name, console=True)
    raise ConfigError(
        f'destination {name!r}: {kind}: {value!r} is not valid (slack_channel: "#name", '
        "webhook_env: AN_ENVIRONMENT_VARIABLE, or console: true)",
        where,
        line,
    )


_ROUTE_FIELDS = {"name", "match", "to", "mode", "schedule", "quiet_hours", "group"}
_MATCH_FIELDS = {"polarity", "thesis", "criterion", "min_score", "source", "source_tags"}


def _route(
    n: int, spec: Any, destinations: Mapping[str, Destination], where: str, lines: LineMap
) -> Route:
    line = lines.line("routes", n)
    if not isinstance(spec, dict):
        raise ConfigError("a route must be a mapping with name and to", where, line)
    _known_fields(spec, _ROUTE_FIELDS, "route", where, line)
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("a route needs a name", where, line)
    to = _names(spec.get("to", [DEFAULT]), "to", where, lines.line("routes", n, "to"))
    for target in to:
        if target not in destinations:
            raise ConfigError(
                f"route {name!r} goes to unknown destination {target!r} "
                f"(known: {', '.join(sorted(destinations))})",
                where,
                lines.line("routes", n, "to"),
            )
    mode = spec.get("mode", "immediate")
    if mode not in ("immediate", "digest"):
        raise ConfigError(
            f"route {name!r}: mode must be immediate or digest",
            where,
            lines.line("routes", n, "mode"),
        )
    schedule = None
    if mode == "digest":
        if "schedule" not in spec:
            raise ConfigError(f"digest route {name!r} needs a schedule", where, line)
        schedule = parse_schedule(spec["schedule"], where, lines.line("routes", n, "schedule"))
    elif "schedule" in spec:
        raise ConfigError(
            f"route {name!r}: a schedule is for mode: digest",
            where,
            lines.line("routes", n, "schedule"),
        )
    quiet = None
    if "quiet_hours" in spec:
        quiet = parse_quiet_hours(
            spec["quiet_hours"], where, lines.line("routes", n, "quiet_hours")
        )
    group = spec.get("group", True)
    if not isinstance(group, bool):
        raise ConfigError(
            f"route {name!r}: group must be true or false", where, lines.line("routes", n, "group")
        )
    return Route(
        name=name.strip(),
        to=tuple(to),
        match=_match(spec.get("match") or {}, where, lines, n),
        mode=mode,
        schedule=schedule,
        quiet_hours=quiet,
        group=group,
    )


def _match(spec: Any, where: str, lines: LineMap, n: int) -> RouteMatch:
    line = lines.line("routes", n, "match")
    if not isinstance(spec, dict):
        raise ConfigError("a route's match must be a mapping", where, line)
    _known_fields(spec, _MATCH_FIELDS, "match", where, line)

    def names(key: str) -> frozenset[str]:
        if key not in spec:
            return frozenset()
        return frozenset(_names(spec[key], key, where, lines.line("routes", n, "match", key)))

    polarity = names("polarity")
    if polarity - {"confirm", "kill", "watch"}:
        raise ConfigError("match.polarity takes confirm, kill, watch", where, line)
    min_score = None
    if "min_score" in spec:
        min_score = _score(spec["min_score"], where, lines.line("routes", n, "match", "min_score"))
    return RouteMatch(
        polarity=polarity,
        thesis=names("thesis"),
        criterion=names("criterion"),
        min_score=min_score,
        source=names("source"),
        source_tags=names("source_tags"),
    )


def _known_fields(
    spec: Mapping[str, Any], fields: set[str], what: str, where: str, line: int | None
) -> None:
    unknown = set(spec) - fields
    if unknown:
        raise ConfigError(
            f"unknown {what} field {sorted(unknown)[0]!r} (expected {', '.join(sorted(fields))})",
            where,
            line,
        )


def _names(value: Any, key: str, where: str, line: int | None) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a name or a list of names", where, line)
    return [v.strip() for v in value]


def _score(value: Any, where: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10:
        raise ConfigError(f"a score must be a number from 0 to 10, not {value!r}", where, line)
    return float(value)


def _clock(text: str, where: str, line: int | None) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours > 23 or minutes > 59:
        raise ConfigError(f"{text!r} is not a time of day (HH:MM)", where, line)
    return time(hours, minutes)


def _zone(name: str | None, where: str, line: int | None) -> str:
    if name is None:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"unknown time zone {name!r} (an IANA name such as Europe/London)", where, line
        ) from e
    return name


def parse_schedule(value: Any, where: str = "", line: int | None = None) -> Schedule:
    """``"weekdays 08:00 Europe/London"``: daily, weekdays, weekends or days (mon,thu),
    a time, and optionally an IANA time zone (default UTC)."""
    found = _SCHEDULE.match(str(value).lower()) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(
            f"schedule {value!r} is not like 'weekdays 08:00 Europe/London'", where, line
        )
    words = found["days"].split(",")
    days: set[int] = set()
    for word in words:
        if word in _DAY_SETS:
            days |= _DAY_SETS[word]
        elif word[:3] in DAYS:
            days.add(DAYS.index(word[:3]))
        else:
            raise ConfigError(
                f"schedule day {word!r} is not a day (mon…sun, daily, weekdays)", where, line
            )
    zone = _zone(str(value).split()[-1] if found["tz"] else None, where, line)
    return Schedule(frozenset(days), _clock(found["at"], where, line), zone)


def parse_quiet_hours(value: Any, where: str = "", line: int | None = None) -> QuietHours:
    """``"22:00-07:00 Europe/London"`` (a range across midnight is fine)."""
    found = _QUIET.match(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(
            f"quiet_hours {value!r} is not like '22:00-07:00 Europe/London'", where, line
        )
    start, end = _clock(found["start"], where, line), _clock(found["end"], where, line)
    if start == end:
        raise ConfigError("quiet_hours start and end must differ", where, line)
    return QuietHours(start, end, _zone(found["tz"], where, line))
