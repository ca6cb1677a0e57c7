"""Wiring: builds the store, rules, fetcher, notifier and pipeline from config + environment.

The CLI and the scheduler use a :class:`Service`; tests build one with a fake clock and
real loopback servers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from monitor.errors import MonitorError, RuleError
from monitor.feeds.fetch import Fetcher, HttpFetcher
from monitor.learner import BackgroundLearner, SerialEmbedder
from monitor.matching.engine import Matcher
from monitor.matching.judge import Judge
from monitor.matching.stories import STORY_WINDOW
from monitor.notify import Notifier
from monitor.notify.factory import destination_notifiers, notifier_from_env
from monitor.notify.interactive import FeedbackListener, start_feedback_listener
from monitor.notify.outbox import DeliveryWorker, DeliveryWorkers
from monitor.ops import Metrics, health_report
from monitor.pipeline import CycleReport, MatchPlan, Pipeline
from monitor.rulebook import RuleBook
from monitor.semantic.embedder import Embedder
from monitor.settings import Config, Environment
from monitor.store.sql import SqlStore
from monitor.types import Notice, PruneReport, Signal, Thesis, ThesisTurn

if TYPE_CHECKING:
    from monitor.semantic.rerank import Reranker

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=6)  # the daemon applies the retention this often
TURNS_EVERY = timedelta(minutes=10)  # how often thesis momentum is checked for turns
TURN_WINDOW = timedelta(days=98)  # signals older weigh under 2**-7 of a fresh one

Clock = Callable[[], datetime]


def release_freed_memory() -> None:
    """Give the memory a cycle freed back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere): a cycle at 10,000 feeds allocates and frees hundreds of megabytes, which
    glibc would otherwise keep mapped in its per-thread arenas."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def choose_embedder(env: Environment) -> Embedder | None:
    """The semantic embedder when the extra is installed and not switched off, else None."""
    if not env.semantic:
        log.info("semantic scoring off (MONITOR_SEMANTIC=off): keyword matching only")
        return None
    from monitor.semantic import semantic_status

    embedder, reason = semantic_status(env.values)
    log.info("%s", reason)
    return embedder


def choose_reranker(env: Environment) -> Reranker | None:
    """The cross-encoder ``MONITOR_RERANKER`` asks for, loaded once; None when off or when
    it cannot load (said at WARNING: matching goes on without it)."""
    if env.reranker == "off":
        return None
    from monitor.semantic.rerank import load_reranker
    from monitor.semantic.runtime import SemanticUnavailable

    try:
        reranker = load_reranker(env.values)
    except SemanticUnavailable as error:
        log.warning("%s; matching without re-ranking", error.reason)
        return None
    log.info("re-ranking shortlisted criteria with %s", getattr(reranker, "model_name", "?"))
    return reranker


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
        embedder: Embedder | Literal["auto"] | None = "auto",
        stop: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.env = env
        self.clock = clock
        self.store = SqlStore(env.database_url)
        chosen = choose_embedder(env) if embedder == "auto" else embedder
        # the cycle and the background learner share the model: one call at a time
        self.embedder = SerialEmbedder(chosen) if chosen is not None else None
        self.reranker = choose_reranker(env) if self.embedder is not None else None
        self.rulebook = RuleBook(config.rule_paths, make_matcher=self.make_matcher)
        self.notifier = notifier or notifier_from_env(env.values, stream or sys.stdout)
        self.fetcher = fetcher or HttpFetcher(
            timeout=config.fetch.timeout.total_seconds(),
            deadline=config.fetch.deadline.total_seconds(),
            max_connections=config.fetch.concurrency,
            per_host=config.fetch.per_host,
        )
        self.pipeline = Pipeline(
            self.store,
            self.fetcher,
            self.notifier,
            embedder=self.embedder,
            limits=config.limits,
            backfill=config.backfill,
            source_lease=max(config.replicas.lease, 2 * config.fetch.deadline),
            delivery_lease=config.replicas.lease,
            polling=config.polling,
            clock=clock,
            judge=Judge(env.judge) if env.judge is not None else None,
            routing=config.routing,
            destinations=destination_notifiers(
                config.routing.destinations, env.values, stream or sys.stdout
            ),
            source_tags={s.name: s.tags for s in config.sources},
            sources=config.sources,
        )
        for outbox in self.pipeline.outboxes.values():
            outbox.set_pace(config.delivery.interval, config.delivery.burst)
        self._reported_holds: tuple[object, ...] = ()
        self._waiting_paths: tuple[str, ...] = ()
        # theses an earlier run loaded whose files fail to load since this one started
        self.unloaded_held: dict[str, str] = {}
        self._unloaded_paths: set[str] = set()
        self.last_prune: datetime | None = None
        self.last_turns: datetime | None = None  # when thesis momentum was last checked
        self.theses_synced = False  # the loaded rule set is in the database
        self.learner = (
            BackgroundLearner(
                self.store,
                self.embedder,
                self.store.feedback_version,
                self.rulebook.reset_matcher,
            )
            if self.embedder is not None
            else None
        )
        self.metrics = Metrics(unsent=self.store.unsent_counts)
        for outbox in self.pipeline.outboxes.values():
            outbox.observe = self.metrics.observe_delivery
        self.started = time.monotonic()
        self.last_cycle: float | None = None  # monotonic time the last cycle ended
        self.stop = stop or threading.Event()  # SIGTERM: the running cycle ends at its next step
        self.deliveries: DeliveryWorkers | None = None  # the daemon's delivery threads
        self.feedback: FeedbackListener | None = None  # Slack's buttons, over Socket Mode
        self.cycle_lock = threading.Lock()  # held while a cycle runs

    def make_matcher(self, theses: Sequence[Thesis]) -> Matcher:
        """The matcher of ``theses``, with what was learned from the stored verdicts (when
        semantic scoring is on; learning runs in the background, see monitor.learner)."""
        learning = self.learner.learning_for(theses) if self.learner is not None else None
        return Matcher(theses, embedder=self.embedder, learning=learning, reranker=self.reranker)

    def refresh_learning(self) -> bool:
        """Learn again when verdicts arrived since the last cycle (one cheap query).
        Keyword-only, verdicts are stored and measured but not learned from."""
        if self.learner is None or not self.learner.refresh():
            return False
        log.info("new verdicts: the matcher learns again")
        self.rulebook.reset_matcher()
        return True

    def start(self, *, daemon: bool = False) -> list[RuleError]:
        """Migrate the database, register sources, load rules. Raises StorageError when
        the database is unreachable, or (``daemon``: a ``monitor run``) when another daemon
        holds the same SQLite file; returns the rule problems (reported, not fatal)."""
        now = self.clock()
        if daemon:
            self.store.lock_for_daemon()
        self.store.migrate()
        if daemon:
            self.store.clear_stale_claims()
        moved = self.store.requeue_deliveries(
            self.notifier.channel, now, keep=list(self.pipeline.outboxes)
        )
        if moved:
            log.warning(
                "%d unsent alert(s) queued for another destination now go to %s",
                moved,
                self.notifier.channel,
            )
        for outbox in self.pipeline.outboxes.values():
            outbox.check_route()  # a bad token or channel is reported now
        self.store.sync_sources(self.config.sources, now)
        errors = self.refresh_rules()
        release_freed_memory()  # the config, the rules and the sync are done with
        return errors

    def start_deliveries(self) -> DeliveryWorkers:
        """For the daemon: deliver from threads of their own from now on, one per channel
        (cycles only queue alerts and wake them), so Slack's pace and outages never hold up
        polling, nor one channel another."""
        workers = DeliveryWorkers(
            [DeliveryWorker(o, self.stop) for o in self.pipeline.outboxes.values()]
        )
        self.pipeline.deliver_in_cycle = False
        self.pipeline.on_queued = workers.wake
        workers.start()
        self.deliveries = workers
        # the feedback buttons (Socket Mode), when SLACK_APP_TOKEN is set
        self.feedback = start_feedback_listener(
            self.store, self.env.values, alert_for=self.store.alert_for, clock=self.clock
        )
        return workers

    def refresh_rules(self) -> list[RuleError]:
        changed, errors = self.rulebook.refresh()
        for error in errors:
            log.error("rule file problem: %s", error)
        if changed:
            self.theses_synced = False
        waiting = tuple(str(p) for p in self.rulebook.waiting_files)
        if waiting != self._waiting_paths:  # a file that fails to load since this start
            known = self.store.theses_by_path(list(waiting))
            self.unloaded_held = {
                thesis_id: f"{path} fails to load: {self.rulebook.waiting_files[Path(path)]}"
                for path, thesis_id in known.items()
            }
            self._unloaded_paths = set(known)
            self._waiting_paths = waiting
            self.theses_synced = False
        if not self.theses_synced and self.rulebook.hold_all is None:
            theses = self.rulebook.theses  # held ones too: they stay known and active
            keep = list(self.unloaded_held)  # known from an earlier run: held, not dropped
            self.store.sync_theses(theses, self.clock(), keep=keep)  # retried until it succeeds
            self.store.drop_progress([t.id for t in theses] + keep)
            # a new or changed thesis starts here: items stored from now on are no backfill
            plan = self.match_plan()
            since = self.clock() - self.config.backfill.window
            self.store.sync_progress(plan.digests, self.clock(), since)
            self.theses_synced = True
            log.info("monitoring %d thesis(es): %s", len(theses), ", ".join(t.id for t in theses))
        self.report_holds()
        return errors

    def report_holds(self) -> None:
        """Log once per change which theses are held back and why (``monitor check`` too)."""
        book = self.rulebook
        held = {**book.held, **self.unloaded_held}
        waiting = {
            p: m for p, m in book.waiting_files.items() if str(p) not in self._unloaded_paths
        }
        holds = (book.hold_all, tuple(held.items()), tuple(waiting.items()))
        if holds == self._reported_holds:
            return
        self._reported_holds = holds
        for thesis_id, reason in held.items():
            log.error("thesis %s held back, its items wait: %s", thesis_id, reason)
        for path, problem in waiting.items():
            log.error(
                "%s has never loaded (%s): its thesis is matched, with a backfill, once it loads",
                path,
                problem,
            )
        if holds[1:] == ((), ()) and book.hold_all is None:
            log.info("no thesis held back")

    def match_plan(self) -> MatchPlan:
        book = self.rulebook
        return MatchPlan(
            book.matcher,
            {t.id: book.digest(t) for t in book.matchable},
            held={**book.held, **self.unloaded_held},
            hold_all=book.hold_all,
        )

    def run_cycle(self) -> CycleReport:
        with self.cycle_lock:
            self.refresh_rules()
            self.refresh_learning()
            began = time.monotonic()
            report = self.pipeline.run_cycle(self.match_plan(), self.clock(), self.stop)
            self.last_cycle = time.monotonic()
            self.metrics.observe_cycle(report, self.last_cycle - began)
            now = self.clock()
            due = self.last_prune is None or now - self.last_prune >= PRUNE_EVERY
            if due and not self.stop.is_set():
                self.last_prune = now
                with self.store.exclusive("prune") as mine:
                    pruned = self.prune() if mine else PruneReport()
                log.log(
                    logging.INFO if pruned != PruneReport() else logging.DEBUG,
                    "retention: removed %s",
                    pruned.summary(),
                )
            turns_due = self.last_turns is None or now - self.last_turns >= TURNS_EVERY
            if turns_due and not self.stop.is_set():
                self.last_turns = now
                with self.store.exclusive("turns") as mine:
                    if mine:
                        self.announce_turns(now)
            release_freed_memory()
            return report

    def announce_turns(self, now: datetime) -> int:
        """Record the theses whose momentum turned (``monitor.analysis.momentum``) and
        announce each once through the default destination; a notice that fails is tried
        again at the next check. Returns how many notices went out."""
        from monitor.analysis.momentum import DEFAULT_SETTINGS, momentum

        verdicts = self.store.latest_feedback()
        since = now - TURN_WINDOW
        found: list[ThesisTurn] = []
        states: dict[str, tuple[Thesis | None, object, Signal | None]] = {}
        for thesis in self.rulebook.theses:
            signals = self.store.list_signals(thesis=thesis.id, since=since)
            trend = momentum(signals, verdicts, now, days=DEFAULT_SETTINGS.turn_days)
            states[thesis.id] = (thesis, trend, signals[0] if signals else None)
            if trend.turn is not None:
                found.append(
                    ThesisTurn(
                        thesis.id, trend.turn.direction, trend.turn.on.isoformat(), trend.value
                    )
                )
        if self.store.record_turns(found, now):
            log.info("thesis momentum turned: %s", ", ".join(t.thesis_id for t in found))
        sent = 0
        for turn in self.store.unannounced_turns():
            notice = turn_notice(turn, *states.get(turn.thesis_id, (None, None, None)))
            try:
                self.notifier.send_notice(notice, key=f"turn-{turn.id}")
            except MonitorError as e:
                log.warning("the notice that %s turned was not delivered (%s)", turn.thesis_id, e)
                break  # the rest wait for the next check
            self.store.mark_turn_announced(turn.id or 0, now)
            sent += 1
        return sent

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Apply the config's retention (see ``SqlStore.prune``); items are kept at least as
        long as story dedupe and the backfill look back."""
        retention = self.config.retention
        items_age = max(retention.items, STORY_WINDOW, self.config.backfill.window)
        return self.store.prune(
            self.clock(),
            signals_older_than=retention.signals,
            items_older_than=items_age,
            dry_run=dry_run,
        )

    def health(self, stale_after: float) -> tuple[int, dict[str, Any]]:
        """The ``/healthz`` answer (see monitor.ops): database, scheduler, failing sources
        and alert routes."""

        def failing_sources() -> list[str]:
            return sorted(
                h.name
                for h in self.store.source_health()
                if h.consecutive_failures > 0 or h.parked_since is not None
            )

        def failing_routes() -> list[dict[str, Any]]:
            return [
                {"route": r.channel, "error": r.error, "unsent": r.unsent}
                for r in self.store.route_health()
                if not r.healthy
            ]

        return health_report(
            database=self.store.ping,
            last_cycle=self.last_cycle,
            started=self.started,
            stale_after=stale_after,
            failing_sources=failing_sources,
            failing_routes=failing_routes,
        )

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no cycle runs (True), or give up after ``timeout`` seconds (False)."""
        if not self.cycle_lock.acquire(timeout=timeout):
            return False
        self.cycle_lock.release()
        return True

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
        if self.pipeline.judge is not None:
            self.pipeline.judge.close()
        if self.feedback is not None:
            self.feedback.close()
        self.store.close()


def turn_notice(
    turn: ThesisTurn, thesis: Thesis | None, trend: object, latest: Signal | None
) -> Notice:
    """The message that a thesis turned: its title, direction, momentum and latest evidence."""
    toward = "confirm" if turn.direction == "up" else "kill"
    title = thesis.title if thesis is not None else turn.thesis_id
    lines = [
        f"Momentum {turn.momentum:+.2f}: the balance of confirm against kill evidence "
        f"crossed toward {toward} on {turn.turned_on} (thesis {turn.thesis_id}).",
    ]
    if trend is not None:
        lines.append(
            f"Now: confirm {getattr(trend, 'confirm', 0.0):.2f} · "
            f"kill {getattr(trend, 'kill', 0.0):.2f}."
        )
    if latest is not None:
        lines.append(f"Latest evidence: {latest.polarity} · {latest.item_title} ({latest.source})")
    lines.append("See `monitor theses` or the dashboard's board.")
    return Notice(
        title=f"Thesis turned toward {toward}: {title}",
        lines=tuple(lines),
        tone="up" if turn.direction == "up" else "down",
    )
