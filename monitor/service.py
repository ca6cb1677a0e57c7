"""Wiring: builds the store, rules, fetcher, notifier and pipeline from config + environment.

The CLI and the scheduler use a :class:`Service`; tests build one with a fake clock and
real loopback servers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from monitor.errors import MonitorError, RuleError
from monitor.feeds.fetch import Fetcher, HttpFetcher
from monitor.notify import Notifier
from monitor.notify.factory import notifier_from_env
from monitor.pipeline import CycleReport, Pipeline
from monitor.rulebook import RuleBook
from monitor.settings import Config, Environment
from monitor.store.sql import SqlStore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(
        self,
        config: Config,
        env: Environment,
        *,
        stream: TextIO | None = None,
        clock: Clock = utcnow,
        fetcher: Fetcher | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.clock = clock
        self.store = SqlStore(env.database_url)
        self.rulebook = RuleBook(config.rule_paths)
        self.notifier = notifier or notifier_from_env(env.values, stream or sys.stdout)
        self.fetcher = fetcher or HttpFetcher()
        self.pipeline = Pipeline(self.store, self.fetcher, self.notifier)

    def start(self) -> list[RuleError]:
        """Migrate the database, register sources, load rules. Raises StorageError when
        the database is unreachable; returns the rule problems (reported, not fatal)."""
        now = self.clock()
        self.store.migrate()
        self.store.sync_sources(self.config.sources, now)
        return self.refresh_rules()

    def refresh_rules(self) -> list[RuleError]:
        changed, errors = self.rulebook.refresh()
        for error in errors:
            log.error("rule file problem: %s", error)
        if changed:
            theses = self.rulebook.theses
            self.store.sync_theses(theses, self.clock())
            log.info("monitoring %d thesis(es): %s", len(theses), ", ".join(t.id for t in theses))
        return errors

    def run_cycle(self) -> CycleReport:
        self.refresh_rules()
        return self.pipeline.run_cycle(self.rulebook.matcher, self.clock())

    def run_cycle_safely(self) -> CycleReport | None:
        """For the daemon: a failed cycle (database down, a bug) is logged and the next
        tick tries again; nothing already stored is lost."""
        try:
            return self.run_cycle()
        except MonitorError as e:
            log.error("cycle failed: %s; retrying on the next tick", e)
        except Exception:
            log.exception("cycle failed with an unexpected error; retrying on the next tick")
        return None

    def close(self) -> None:
        close = getattr(self.fetcher, "close", None)
        if close is not None:
            close()
        self.store.close()
