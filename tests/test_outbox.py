"""The outbox against a fake Slack on loopback and a real SQLite store: pacing, 429 with
``Retry-After``, 5xx storms, route errors at start-up and mid-run, refused messages, and the
lost answer after a post (effectively-once). Time is a fake timer: waits advance it and the
wall clock together, nothing sleeps."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import NotifyError
from monitor.notify import SlackBotNotifier
from monitor.notify.outbox import BURST, RECHECK, Outbox, RoundReport
from monitor.notify.selftest import sample_alert
from monitor.store import SqlStore
from monitor.types import FoundMatch
from tests.e2e import Clock
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.test_store import item, match, thesis

CHANNEL = "#investing"
LEASE = timedelta(minutes=2)


@dataclass
class FakeTimer:
    """Monotonic seconds that move only when waited on; each wait moves the clock too."""

    clock: Clock
    seconds: float = 0.0
    waits: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.seconds

    def wait(self, seconds: float, stop: object = None) -> bool:
        self.waits.append(round(seconds, 6))
        self.seconds += seconds
        self.clock.advance(seconds=seconds)
        return False

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.clock.advance(seconds=seconds)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> SqlStore:
    store = SqlStore(f"sqlite:///{tmp_path / 'outbox.db'}")
    store.migrate()
    return store


def queue_alerts(store: SqlStore, now: datetime, n: int, channel: str, first: int = 0) -> list[int]:
    """``n`` confirm signals on thesis t1 (items ``first``…), each queued for ``channel``;
    their ids."""
    store.sync_theses([thesis("t1")], now)
    numbers = range(first, first + n)
    stored = store.add_items([item(i, link=f"https://x/{i}") for i in numbers], now)
    ids = store.add_signals([(s.id, match("c1")) for s in stored], now)
    store.enqueue_deliveries(ids, channel, now)
    return ids


def make_outbox(
    store: SqlStore,
    slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    *,
    channel: str = CHANNEL,
    token: str = DEFAULT_TOKEN,
    owner: str = "replica-a",
) -> Outbox:
    notifier = SlackBotNotifier(token, channel, base_url=slack.base_url, timeout=5)
    return Outbox(store, notifier, owner=owner, lease=LEASE, clock=clock, timer=timer)  # type: ignore[arg-type]


def statuses(store: SqlStore) -> dict[str, int]:
    return {k: v for k, v in store.delivery_counts().items() if v}


def posted_signals(slack: FakeSlack) -> list[int]:
    return [int(n) for m in slack.messages for n in (m.metadata or {})["event_payload"]["signals"]]


@pytest.fixture
def timer(clock: Clock) -> FakeTimer:
    return FakeTimer(clock)


# -- pacing and retries ------------------------------------------------------------------------


def test_a_channel_gets_a_short_burst_then_about_one_message_per_second(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 12, "slack:#investing")
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    report = outbox.run_round(patience=60)

    assert report == RoundReport(sent=12)
    assert posted_signals(fake_slack) == ids  # in the order they were found
    assert len(timer.waits) == 12 - BURST
    assert all(w == pytest.approx(1.0) for w in timer.waits)


def test_a_rate_limit_waits_exactly_retry_after_then_goes_on(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 3, "slack:#investing")
    fake_slack.queue_rate_limit(1, retry_after=7)
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    report = outbox.run_round(patience=60)

    assert report == RoundReport(sent=3, failed=1)
    assert timer.waits == [7.0]
    assert posted_signals(fake_slack) == ids


def test_a_5xx_storm_is_retried_within_seconds_backing_off_with_jitter(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 2, "slack:#investing")
    fake_slack.queue_server_error(4, status=503)
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    report = outbox.run_round(patience=120)

    assert report.sent == 2 and report.failed == 4
    assert posted_signals(fake_slack) == ids  # once each, in order
    backoffs = [w for w in timer.waits if w > 0]
    assert len(backoffs) == 4
    for n, wait in enumerate(backoffs):  # 1 s, 2 s, 4 s, 8 s, each up to +50 %
        assert 2**n <= wait <= 1.5 * 2**n, backoffs
    assert backoffs[0] < 2  # the first retry within seconds, not 30 s


def test_without_patience_the_first_failure_ends_the_round_and_the_rest_stay_queued(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    queue_alerts(sqlite_store, clock(), 3, "slack:#investing")
    fake_slack.queue_server_error(1)
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    assert outbox.run_round() == RoundReport(failed=1)
    assert timer.waits == [] and fake_slack.messages == []
    assert statuses(sqlite_store) == {"pending": 2, "sending": 1}  # a 5xx may have posted
    timer.advance(2)
    assert outbox.run_round() == RoundReport(sent=3)


# -- route errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "code", "advice"),
    [
        ("token", "invalid_auth", "SLACK_BOT_TOKEN"),
        ("channel", "channel_not_found", "SLACK_CHANNEL"),
        ("membership", "not_in_channel", "/invite"),
    ],
)
def test_a_broken_route_is_reported_once_at_start_holds_alerts_and_resumes_once_fixed(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
    code: str,
    advice: str,
) -> None:
    channel = "#nowhere" if breakage == "channel" else CHANNEL
    ids = queue_alerts(sqlite_store, clock(), 2, f"slack:{channel}")
    if breakage == "token":
        fake_slack.token = "xoxb-another"
    if breakage == "membership":
        fake_slack.member = False
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer, channel=channel)
    caplog.set_level(logging.INFO, logger="monitor")

    assert outbox.check_route() is False  # at start-up
    (health,) = sqlite_store.route_health()
    assert (health.healthy, health.code, health.unsent) == (False, code, 2)
    assert advice in (health.error or "")
    calls = len(fake_slack.calls)
    for _ in range(3):  # rounds within the recheck interval do not call Slack at all
        assert outbox.run_round(patience=5) == RoundReport()
        timer.advance(10)
    assert len(fake_slack.calls) == calls and fake_slack.messages == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and code in errors[0].getMessage()
    assert "still recorded" in errors[0].getMessage()

    if breakage == "token":
        fake_slack.token = DEFAULT_TOKEN
    if breakage == "channel":
        fake_slack.channels["#nowhere"] = "C999"
    fake_slack.member = True
    timer.advance(RECHECK.total_seconds())
    assert outbox.run_round(patience=5) == RoundReport(sent=2)
    assert posted_signals(fake_slack) == ids
    assert sqlite_store.route_health()[0].healthy
    assert any("can be delivered again" in r.getMessage() for r in caplog.records)


def test_a_route_error_on_a_post_marks_the_route_unhealthy_and_keeps_the_alert(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 2, "slack:#investing")
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)
    assert outbox.check_route() is True
    fake_slack.queue_api_error("not_in_channel")

    assert outbox.run_round(patience=5) == RoundReport(failed=1)
    assert statuses(sqlite_store) == {"pending": 1, "failed": 1}
    assert [r.levelno for r in caplog.records if "not_in_channel" in r.getMessage()] == [
        logging.ERROR
    ]
    timer.advance(RECHECK.total_seconds())  # the check passes again (it was a blip)
    assert outbox.run_round(patience=5) == RoundReport(sent=2)
    assert posted_signals(fake_slack) == ids


def test_a_refused_message_is_set_aside_and_the_queue_goes_on(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 3, "slack:#investing")
    fake_slack.queue_api_error("msg_too_long")
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    assert outbox.run_round() == RoundReport(sent=2, rejected=1)
    assert statuses(sqlite_store) == {"sent": 2, "rejected": 1}
    assert posted_signals(fake_slack) == ids[1:]
    assert any(r.levelno == logging.ERROR and "set aside" in r.getMessage() for r in caplog.records)


# -- effectively once --------------------------------------------------------------------------


def test_a_lost_answer_after_a_post_is_found_in_history_not_posted_again(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 3, "slack:#investing")
    fake_slack.queue_dropped_answer(1)
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    report = outbox.run_round(patience=30)

    assert fake_slack.dropped == 1
    assert report == RoundReport(sent=2, failed=1, recovered=1)
    assert posted_signals(fake_slack) == ids  # each exactly once
    assert "conversations.history" in fake_slack.calls
    assert statuses(sqlite_store) == {"sent": 3}


def test_a_crash_between_slacks_answer_and_the_database_write_posts_nothing_twice(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 2, "slack:#investing")
    dead = make_outbox(sqlite_store, fake_slack, clock, timer, owner="dead")
    (task, _) = sqlite_store.claim_deliveries("slack:#investing", "dead", clock(), LEASE)
    sqlite_store.mark_sending(task.id, clock(), "dead")
    dead.notifier.send(task.alert(), key=task.key)  # Slack has it; then SIGKILL
    timer.advance(LEASE.total_seconds() + 1)  # the dead replica's lease runs out

    live = make_outbox(sqlite_store, fake_slack, clock, timer, owner="live")
    assert live.run_round(patience=30) == RoundReport(sent=1, recovered=1)
    assert posted_signals(fake_slack) == ids


def test_an_attempt_that_never_reached_slack_is_posted_after_history_shows_nothing(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 1, "slack:#investing")
    fake_slack.queue_server_error(1)  # a 5xx: maybe posted; the fake did not
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    assert outbox.run_round(patience=30) == RoundReport(sent=1, failed=1)
    assert posted_signals(fake_slack) == ids
    assert fake_slack.calls.count("conversations.history") == 1


def test_without_the_history_scope_delivery_is_at_least_once_and_says_so_once(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 2, "slack:#investing")
    fake_slack.missing_scopes = {"conversations.history"}
    fake_slack.queue_dropped_answer(1)
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    outbox.run_round(patience=60)

    assert posted_signals(fake_slack) == [ids[0], ids[0], ids[1]]  # the lost one twice
    warnings = [r for r in caplog.records if "history" in r.getMessage()]
    assert len(warnings) == 1 and "channels:history" in warnings[0].getMessage()


def test_a_replica_whose_lease_was_taken_over_cannot_record_an_outcome(
    sqlite_store: SqlStore, clock: Clock
) -> None:
    queue_alerts(sqlite_store, clock(), 1, "slack:#investing")
    (task,) = sqlite_store.claim_deliveries("slack:#investing", "slow", clock(), LEASE)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    (again,) = sqlite_store.claim_deliveries("slack:#investing", "fast", clock(), LEASE)
    sqlite_store.mark_sent(again.id, clock(), "1.2", "fast")
    with pytest.raises(Exception, match="no longer claimed by slow"):
        sqlite_store.mark_failed(task.id, clock(), "late", clock(), "slow")
    assert statuses(sqlite_store) == {"sent": 1}


def test_a_notify_error_says_whose_fault_it_is(fake_slack: FakeSlack) -> None:
    notifier = SlackBotNotifier(DEFAULT_TOKEN, CHANNEL, base_url=fake_slack.base_url)
    fake_slack.queue_api_error("invalid_auth")
    fake_slack.queue_api_error("invalid_blocks")
    fake_slack.queue_server_error(1)
    faults = []
    for _ in range(3):
        with pytest.raises(NotifyError) as failed:
            notifier.send(_ALERT)
        faults.append((failed.value.fault, failed.value.maybe_sent, failed.value.code))
    assert faults == [
        ("route", False, "invalid_auth"),
        ("message", False, "invalid_blocks"),
        ("transient", True, None),
    ]


_ALERT = sample_alert(datetime(2026, 5, 14, tzinfo=UTC))  # the notify-test sample


def test_a_round_out_of_patience_for_pacing_sends_the_burst_and_gives_the_rest_back(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = queue_alerts(sqlite_store, clock(), 10, "slack:#investing")
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)

    assert outbox.run_round(patience=0) == RoundReport(sent=BURST)
    assert posted_signals(fake_slack) == ids[:BURST]
    assert statuses(sqlite_store) == {"sent": BURST, "pending": 10 - BURST}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(sqlite_store.claim_deliveries("slack:#investing", "other", clock(), LEASE)) == 6


def test_a_delivery_posted_alone_before_a_crash_is_not_posted_again_inside_a_group(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    from monitor.types import QueuedDelivery

    sqlite_store.sync_theses([thesis("t1")], clock())
    stored = sqlite_store.add_items([item(i, link=f"https://x/{i}") for i in range(3)], clock())
    burst = [QueuedDelivery("slack:#investing", clock(), digest="~all")]
    found = [FoundMatch(s.id, match("c1"), alert=True) for s in stored]
    recorded = sqlite_store.record_matches(found, lambda f: burst, clock())
    ids = [r.signal_id for r in recorded]
    # the first delivery went out alone (a claim of one), then the process died
    (first,) = sqlite_store.claim_deliveries("slack:#investing", "dead", clock(), LEASE, 1)
    sqlite_store.mark_sending(first.id, clock(), "dead", LEASE)
    make_outbox(sqlite_store, fake_slack, clock, timer).notifier.send(
        first.alert(),
        key=first.key,
    )
    timer.advance(LEASE.total_seconds() + 1)

    live = make_outbox(sqlite_store, fake_slack, clock, timer, owner="live")
    assert live.run_round(patience=30) == RoundReport(sent=2, recovered=1)
    assert sorted(posted_signals(fake_slack)) == sorted(ids)  # each once
    assert len(fake_slack.messages) == 2  # the lone one, then a group of the other two


def test_a_replica_whose_claim_ran_out_does_not_post(
    sqlite_store: SqlStore, fake_slack: FakeSlack, clock: Clock, timer: FakeTimer
) -> None:
    queue_alerts(sqlite_store, clock(), 1, "slack:#investing")
    (task,) = sqlite_store.claim_deliveries("slack:#investing", "slow", clock(), LEASE)
    clock.advance(seconds=LEASE.total_seconds() + 1)  # "slow" stalled past its lease
    slow = make_outbox(sqlite_store, fake_slack, clock, timer, owner="slow")
    assert slow.deliver(task, RoundReport()) is False
    assert fake_slack.messages == []  # the claim could not be renewed: no post
    fast = make_outbox(sqlite_store, fake_slack, clock, timer, owner="fast")
    assert fast.run_round(patience=10) == RoundReport(sent=1)


def test_an_unknown_refusal_is_set_aside_and_a_bug_is_retried_then_set_aside(
    sqlite_store: SqlStore,
    fake_slack: FakeSlack,
    clock: Clock,
    timer: FakeTimer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.notify import outbox as outbox_module

    ids = queue_alerts(sqlite_store, clock(), 2, "slack:#investing")
    fake_slack.queue_api_error("metadata_too_large")  # not in any list: the message's fault
    outbox = make_outbox(sqlite_store, fake_slack, clock, timer)
    assert outbox.run_round() == RoundReport(sent=1, rejected=1)
    assert posted_signals(fake_slack) == ids[1:]

    queue_alerts(sqlite_store, clock(), 1, "slack:#investing", first=10)

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a rendering bug")

    monkeypatch.setattr(outbox.notifier, "send", broken)
    for _ in range(outbox_module.MAX_UNEXPECTED):
        outbox.run_round(patience=600)
        timer.advance(600)
    assert statuses(sqlite_store) == {"sent": 1, "rejected": 2}  # the queue is free again


def test_signals_found_together_count_1st_2nd_3rd(sqlite_store: SqlStore, clock: Clock) -> None:
    # each counts the 30 days up to itself: the 35-day-old signal is within those of the
    # 20-day-old one, not of today's
    queue_alerts(sqlite_store, clock() - timedelta(days=35), 1, "slack:#archive")
    queue_alerts(sqlite_store, clock() - timedelta(days=20), 1, "slack:#investing", first=5)
    queue_alerts(sqlite_store, clock(), 3, "slack:#investing", first=10)
    due = sqlite_store.due_deliveries("slack:#investing", clock())
    assert [t.tally for t in due] == [2, 2, 3, 4]


def test_a_restart_moves_only_the_deliveries_of_unconfigured_channels(
    sqlite_store: SqlStore, clock: Clock
) -> None:
    from monitor.types import QueuedDelivery

    sqlite_store.sync_theses([thesis("t1")], clock())
    stored = sqlite_store.add_items([item(i, link=f"https://x/{i}") for i in range(2)], clock())
    at_eight = clock() + timedelta(hours=3)
    plans = {
        stored[0].id: [QueuedDelivery("slack:#desk", at_eight, digest="morning@8")],
        stored[1].id: [QueuedDelivery("slack:#gone", at_eight, digest="morning@8")],
    }
    found = [FoundMatch(s.id, match("c1"), alert=True) for s in stored]
    sqlite_store.record_matches(found, lambda f: plans[f.item_id], clock())

    moved = sqlite_store.requeue_deliveries(
        "slack:#investing", clock(), keep=["slack:#investing", "slack:#desk"]
    )
    assert moved == 1
    assert sqlite_store.due_deliveries("slack:#desk", at_eight)[0].digest == "morning@8"
    assert sqlite_store.due_deliveries("slack:#investing", clock()) == []  # keeps its time
    assert len(sqlite_store.due_deliveries("slack:#investing", at_eight)) == 1
