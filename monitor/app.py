"""The library façade: ``open_monitor(...)`` → a :class:`Monitor`, the operations that the CLI,
the daemon and the web pages share, over one store.

    with open_monitor(read_only=True) as m:          # the config and environment as the CLI
        for s in m.signals(thesis="ai-capex", polarity="kill", since=m.now() - 30 * DAY):
            ...

Decisions:

* **One wiring.** Opening reads the config (``config=`` a path, a loaded
  :class:`~monitor.settings.Config`, or None: the CLI's default lookup) and the environment
  (``env=``, default ``os.environ``), and opens the store on ``database_url`` (default: the
  environment's). Every CLI command goes through here; none repeats open/migrate/close.
* **Read-only never migrates.** ``read_only=True`` opens the store without touching the
  schema; when the database is behind the code, :class:`SchemaBehind` says so (what to run);
  when it has no schema at all (nothing was ever recorded there) the Monitor is ``empty``:
  reads answer with nothing (``monitor signals`` before the first run says "no signals").
  A read-only Monitor refuses the operations that write (``feedback``, ``mute``, cycles).
* **A context manager**: ``close()`` releases the store (and a service, when one was made).
* **Time** comes from ``clock`` (UTC), injectable for tests and for the web pages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from monitor.errors import MonitorError, SchemaBehind
from monitor.settings import (
    Config,
    Environment,
    default_config_path,
    load_config,
    with_user_rules,
)
from monitor.store.sql import SqlStore
from monitor.types import (
    Mute,
    MuteKind,
    RouteHealth,
    Signal,
    SourceHealth,
    ThesisSummary,
)

if TYPE_CHECKING:
    from monitor.service import Service

__all__ = ["DAY", "Monitor", "ReadOnly", "SchemaBehind", "SignalQuery", "open_monitor"]

DAY = timedelta(days=1)
Verdict = Literal["useful", "noise"]


class ReadOnly(MonitorError):
    """A write was asked of a Monitor opened read-only."""


@dataclass(frozen=True)
class SignalQuery:
    """Filters of :meth:`Monitor.signals` (all optional; they combine)."""

    thesis: str | None = None
    polarity: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None  # words that must all appear in the title or the evidence
    limit: int = 50
    offset: int = 0


class Monitor:
    """The operations over one database and one config (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        env: Environment,
        store: SqlStore,
        *,
        read_only: bool,
        clock: Callable[[], datetime],
        empty: bool = False,
    ) -> None:
        self.config = config
        self.env = env
        self.store = store
        self.read_only = read_only
        self.empty = empty  # read-only over a database without a schema: nothing to read
        self.now = clock
        self._service: Service | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Monitor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._service is not None:
            self._service.close()  # closes the store too
            self._service = None
        else:
            self.store.close()

    # -- reads -------------------------------------------------------------------------------

    def signals(self, query: SignalQuery | None = None, **filters: object) -> list[Signal]:
        """Signals newest first, filtered (a :class:`SignalQuery`, or its fields as keywords)."""
        q = query or SignalQuery(**filters)  # type: ignore[arg-type]
        if self.empty:
            return []
        return self.store.list_signals(
            thesis=q.thesis,
            polarity=q.polarity,
            since=q.since,
            until=q.until,
            source=q.source,
            search=q.search,
            limit=q.limit,
            offset=q.offset,
        )

    def signal(self, signal_id: int) -> Signal | None:
        found = self.store.get_signals([signal_id]) if not self.empty else []
        return found[0] if found else None

    def theses(self) -> list[ThesisSummary]:
        return self.store.thesis_summaries(self.now()) if not self.empty else []

    def sources(self) -> list[SourceHealth]:
        """Each configured source's health, in config order (a source never polled: as
        configured, with no history). Other databases' sources are not shown."""
        stored = self.store.source_health(active_only=False) if not self.empty else []
        known = {h.name: h for h in stored}
        return [
            known.get(s.name) or SourceHealth(s.name, s.url, s.interval, s.tags)
            for s in self.config.sources
        ]

    def routes(self) -> list[RouteHealth]:
        return self.store.route_health() if not self.empty else []

    def mutes(self, *, include_expired: bool = False) -> list[Mute]:
        if self.empty:
            return []
        return self.store.list_mutes(self.now(), include_expired=include_expired)

    def criterion_feedback(self) -> dict[tuple[str, str], tuple[int, int]]:
        return self.store.criterion_feedback() if not self.empty else {}

    def latest_feedback(self) -> dict[int, str]:
        return self.store.latest_feedback() if not self.empty else {}

    def items_per_day(self, days: int = 14) -> dict[str, list[tuple[date, int]]]:
        """Each configured source's stored items per UTC day (by first seen), the ``days``
        days up to today, oldest first; days without items count 0."""
        today = self.now().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        seen = self.store.item_days(datetime.combine(first, time(), UTC))
        result: dict[str, list[tuple[date, int]]] = {}
        for s in self.config.sources:
            counts = dict.fromkeys((first + timedelta(days=n) for n in range(days)), 0)
            for when in seen.get(s.name, ()):
                day = when.astimezone(UTC).date()
                if day in counts:
                    counts[day] += 1
            result[s.name] = list(counts.items())
        return result

    # -- writes ------------------------------------------------------------------------------

    def feedback(self, signal_id: int, verdict: Verdict, note: str | None = None) -> bool:
        """Record a verdict on a signal; False when there is no such signal."""
        self._writable("record feedback")
        if self.signal(signal_id) is None:
            return False
        self.store.add_feedback(signal_id, verdict, note, self.now())
        return True

    def mute(
        self, kind: MuteKind, value: str, *, until: datetime | None, note: str | None = None
    ) -> Mute:
        self._writable("mute")
        return self.store.add_mute(kind, value, until=until, now=self.now(), note=note)

    def unmute(self, kind: MuteKind, value: str) -> int:
        self._writable("unmute")
        return self.store.lift_mutes(kind, value, self.now())

    def service(self, **kwargs: object) -> Service:
        """The daemon's wiring over this Monitor's config and environment (made once):
        cycles, backtests, pruning. ``kwargs`` go to :class:`~monitor.service.Service`."""
        self._writable("run the pipeline")
        if self._service is None:
            from monitor.service import Service

            self.store.close()  # the service opens its own store on the same URL
            self._service = Service(self.config, self.env, **kwargs)  # type: ignore[arg-type]
            self.store = self._service.store
        return self._service

    def run_cycle(self) -> object:
        """One poll cycle (start-up included the first time): a CycleReport."""
        service = self.service()
        if not service.theses_synced:
            service.start()
        return service.run_cycle()

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise ReadOnly(f"cannot {what}: this monitor was opened read-only")


def open_monitor(
    database_url: str | None = None,
    *,
    config: Config | Path | str | None = None,
    rules: Sequence[Path] | None = None,
    read_only: bool = False,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Monitor:
    """Open the monitor: the config (a path, a Config, or the CLI's default), the
    environment, and the store at ``database_url`` (default: ``DATABASE_URL`` or the
    embedded SQLite). ``rules`` replaces the config's rule paths. Writable openings migrate
    the schema; read-only ones never do (:class:`SchemaBehind` when it is behind)."""
    environment = Environment.from_mapping(os.environ if env is None else env)
    if isinstance(config, Config):
        cfg = config
    else:
        path = Path(config) if config is not None else default_config_path(Path.cwd())
        cfg = with_user_rules(load_config(path), environment)
    if rules is not None:
        from dataclasses import replace

        cfg = replace(cfg, rule_paths=tuple(Path(r) for r in rules))
    if database_url is not None:
        from dataclasses import replace

        environment = replace(environment, database_url=database_url)
    store = SqlStore(environment.database_url)
    empty = False
    try:
        if read_only:
            empty = not store.require_current_schema()
        else:
            store.migrate()
    except BaseException:
        store.close()
        raise
    return Monitor(cfg, environment, store, read_only=read_only, clock=clock, empty=empty)
