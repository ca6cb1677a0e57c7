"""The feedback buttons on alerts, clicked through a fake Slack Socket Mode on loopback
(``tests/fakesocketmode.py``): each click is acknowledged, recorded as the same feedback
``monitor feedback`` records (or as a mute of the source), and the message is updated to show
who marked it. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from monitor.errors import ConfigError
from monitor.notify.interactive import (
    FeedbackListener,
    Outcome,
    parse_click,
    start_feedback_listener,
)
from monitor.notify.render import ACTION_MUTE_SOURCE, ACTION_NOISE, ACTION_USEFUL
from monitor.store import SqlStore
from monitor.store.tables import feedback as feedback_t
from tests.dbfixtures import pg_schema, pg_url, sqlite_url, store
from tests.fakesocketmode import (
    APP_TOKEN,
    BOT_TOKEN,
    TIMEOUT,
    FakeSocketMode,
    block_actions,
    fake_socket_mode,
)
from tests.test_store import match, seeded

__all__ = ["fake_socket_mode", "pg_schema", "pg_url", "sqlite_url", "store"]  # fixtures

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


class Outcomes:
    """What the listener reports per envelope, to wait on (no sleeping)."""

    def __init__(self) -> None:
        self.seen: list[Outcome] = []
        self._changed = threading.Condition()

    def __call__(self, outcome: Outcome) -> None:
        with self._changed:
            self.seen.append(outcome)
            self._changed.notify_all()

    def wait(self, envelope_id: str) -> Outcome:
        with self._changed:
            assert self._changed.wait_for(
                lambda: any(o.envelope_id == envelope_id for o in self.seen), TIMEOUT
            ), f"envelope {envelope_id} was not handled"
            return next(o for o in self.seen if o.envelope_id == envelope_id)


@pytest.fixture
def signal_id(store: SqlStore) -> int:
    """One stored confirm signal of thesis t1 on an item of source "wire"."""
    item_ids = seeded(store, 1)
    (sid,) = store.add_signals([(item_ids[0], match("c1"))], NOW)
    return sid


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
def listener(
    store: SqlStore, fake_socket_mode: FakeSocketMode, outcomes: Outcomes
) -> Iterator[FeedbackListener]:
    env = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": BOT_TOKEN}
    started = start_feedback_listener(
        store, env, base_url=fake_socket_mode.base_url, clock=lambda: NOW, on_outcome=outcomes
    )
    assert started is not None
    try:
        yield started
    finally:
        started.close()


def feedback_rows(store: SqlStore) -> list[tuple[int, str, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(feedback_t.c.signal_id, feedback_t.c.verdict, feedback_t.c.note).order_by(
                feedback_t.c.id
            )
        )
        return [(r.signal_id, r.verdict, r.note) for r in rows]


def update_text(update: dict[str, Any]) -> str:
    return json.dumps(update["blocks"], ensure_ascii=False)


def click(fake: FakeSocketMode, outcomes: Outcomes, action: str, value: str, **kw: Any) -> Outcome:
    envelope_id = fake.push(block_actions(action, value, **kw))
    assert fake.wait_ack(envelope_id), "the envelope was not acknowledged"
    return outcomes.wait(envelope_id)


def test_useful_is_recorded_acked_and_the_message_shows_who(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    outcome = click(fake_socket_mode, outcomes, ACTION_USEFUL, str(signal_id), ts="1700.0001")
    assert outcome.updated and outcome.ignored is None
    assert feedback_rows(store) == [(signal_id, "useful", "from Slack by ann")]
    assert store.latest_feedback() == {signal_id: "useful"}
    assert fake_socket_mode.calls == ["apps.connections.open", "chat.update"]
    (update,) = fake_socket_mode.updates
    assert (update["channel"], update["ts"]) == ("C123", "1700.0001")
    assert "Marked useful by ann" in update_text(update)
    assert "Marked useful by ann" in update["text"]
    assert "monitor_useful" not in update_text(update)  # the buttons are gone
    assert f"signal #{signal_id}" in update_text(update)


def test_noise_is_recorded_and_the_latest_verdict_counts(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    click(fake_socket_mode, outcomes, ACTION_USEFUL, str(signal_id))
    bob = {"id": "U222", "username": "bob"}  # no "name": the username is used
    outcome = click(fake_socket_mode, outcomes, ACTION_NOISE, str(signal_id), user=bob)
    assert outcome.updated
    assert [v for _, v, _ in feedback_rows(store)] == ["useful", "noise"]
    assert store.latest_feedback() == {signal_id: "noise"}
    assert "Marked noise by bob" in update_text(fake_socket_mode.updates[-1])


def test_mute_source_mutes_it_for_seven_days_without_a_verdict(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    outcome = click(fake_socket_mode, outcomes, ACTION_MUTE_SOURCE, str(signal_id))
    assert outcome.updated
    (mute,) = store.active_mutes(NOW)
    assert (mute.kind, mute.value, mute.until, mute.note) == (
        "source",
        "wire",
        NOW + timedelta(days=7),
        "from Slack by ann",
    )
    assert store.active_mutes(NOW + timedelta(days=7)) == []
    assert feedback_rows(store) == []  # a judgement on the source, not on the match
    assert "Source muted for 7 days by ann" in update_text(fake_socket_mode.updates[-1])


@pytest.mark.parametrize(
    ("action", "value", "block_id"),
    [
        (ACTION_USEFUL, "999999", None),  # unknown signal
        (ACTION_USEFUL, "1; DROP TABLE signals", None),  # not an id
        (ACTION_USEFUL, "1", "monitor_feedback:2"),  # block and value disagree
        ("someone_elses_button", "1", None),
        (ACTION_MUTE_SOURCE, "-1", None),
    ],
)
def test_a_click_that_is_not_ours_or_unknown_is_acked_and_ignored(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
    action: str,
    value: str,
    block_id: str | None,
) -> None:
    outcome = click(fake_socket_mode, outcomes, action, value, block_id=block_id)
    assert outcome.ignored is not None and not outcome.updated
    assert feedback_rows(store) == [] and store.active_mutes(NOW) == []
    assert fake_socket_mode.updates == []
    # the listener goes on
    assert click(fake_socket_mode, outcomes, ACTION_USEFUL, str(signal_id)).updated


def test_hostile_envelopes_never_stop_the_listener(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    fake_socket_mode.push_raw("not json at all")
    fake_socket_mode.push_raw(json.dumps([1, 2, 3]))
    hostile: list[dict[str, Any]] = [
        {"envelope_id": "e1", "type": "interactive", "payload": {"type": "block_actions"}},
        {"envelope_id": "e2", "type": "interactive", "payload": {"actions": "x"}},
        {"envelope_id": "e3", "type": "interactive", "payload": "text"},
        {"envelope_id": "e4", "type": "events_api", "payload": {}},
        {
            "envelope_id": "e5",
            "type": "interactive",
            "payload": {"type": "block_actions", "actions": [None, 7, {"action_id": 3}]},
        },
    ]
    for envelope in hostile:
        fake_socket_mode.push(envelope)
    for envelope in hostile:
        assert fake_socket_mode.wait_ack(envelope["envelope_id"])
        assert outcomes.wait(envelope["envelope_id"]).ignored is not None
    # no channel or ts to update: recorded, the update skipped
    bare = block_actions(ACTION_USEFUL, str(signal_id), channel="", ts="")
    bare["payload"]["channel"] = bare["payload"]["message"] = None
    envelope_id = fake_socket_mode.push(bare)
    assert not outcomes.wait(envelope_id).updated
    assert feedback_rows(store) == [(signal_id, "useful", "from Slack by ann")]
    assert click(fake_socket_mode, outcomes, ACTION_NOISE, str(signal_id)).updated


def test_a_hostile_user_name_is_escaped_in_the_update(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    user = {"id": "U666", "name": "<!channel> *boss* <https://evil.example|x>"}
    assert click(fake_socket_mode, outcomes, ACTION_USEFUL, str(signal_id), user=user).updated
    (update,) = fake_socket_mode.updates
    shown = update_text(update) + update["text"]
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in update_text(update)
    note = feedback_rows(store)[0][2]
    assert note == "from Slack by <!channel> *boss* <https://evil.example|x>"  # stored as given


def test_the_message_metadata_is_kept_on_update(
    store: SqlStore,
    signal_id: int,
    fake_socket_mode: FakeSocketMode,
    listener: FeedbackListener,
    outcomes: Outcomes,
) -> None:
    envelope = block_actions(ACTION_USEFUL, str(signal_id))
    metadata = {"event_type": "monitor_alert", "event_payload": {"key": "k1", "signal": 1}}
    envelope["payload"]["message"]["metadata"] = metadata
    envelope_id = fake_socket_mode.push(envelope)
    assert outcomes.wait(envelope_id).updated
    assert fake_socket_mode.updates[-1]["metadata"] == metadata


def test_no_app_token_no_listener_and_half_settings_are_errors(store: SqlStore) -> None:
    assert start_feedback_listener(store, {}) is None
    assert start_feedback_listener(store, {"SLACK_APP_TOKEN": "  "}) is None
    with pytest.raises(ConfigError, match="app-level token"):
        start_feedback_listener(store, {"SLACK_APP_TOKEN": BOT_TOKEN, "SLACK_BOT_TOKEN": BOT_TOKEN})
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is missing") as raised:
        start_feedback_listener(store, {"SLACK_APP_TOKEN": APP_TOKEN})
    assert APP_TOKEN not in str(raised.value)


def test_a_refused_app_token_is_logged_not_raised(
    store: SqlStore, fake_socket_mode: FakeSocketMode, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"SLACK_APP_TOKEN": "xapp-wrong", "SLACK_BOT_TOKEN": BOT_TOKEN}
    listener = start_feedback_listener(store, env, base_url=fake_socket_mode.base_url)
    assert listener is not None
    listener.close()
    assert "invalid_auth" in caplog.text and "SLACK_APP_TOKEN" in caplog.text
    assert "xapp-wrong" not in caplog.text


@pytest.mark.parametrize(
    "payload",
    [None, [], "x", {"type": "view_submission"}, {"type": "block_actions", "actions": [{}]}],
)
def test_parse_click_refuses_what_is_not_a_feedback_click(payload: object) -> None:
    assert parse_click(payload) is None


def test_parse_click_reads_slacks_payload() -> None:
    payload = block_actions(ACTION_NOISE, "42", ts="1.2")["payload"]
    parsed = parse_click(payload)
    assert parsed is not None
    assert (parsed.signal_id, parsed.verdict, parsed.user, parsed.channel, parsed.ts) == (
        42,
        "noise",
        "ann",
        "C123",
        "1.2",
    )
