"""Replicas on one PostgreSQL share the work through claims with leases; SQLite serves one
daemon. Store-level claim semantics on both backends, then real `monitor run` processes."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store.sql import SqlStore
from monitor.types import FoundMatch, PollOutcome, SourceConfig
from tests.e2e import rss
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack, PostedMessage
from tests.feedserver import FeedServer
from tests.test_cli import clean_env, monitor, start_daemon, write_config
from tests.test_store import NOW, item, match, thesis

LEASE = timedelta(minutes=2)


def test_a_due_source_is_claimed_by_one_replica_until_its_lease_ends(store: SqlStore) -> None:
    store.sync_sources([SourceConfig("a", "https://a/f"), SourceConfig("b", "https://b/f")], NOW)

    first = store.claim_due_sources("r1", NOW, LEASE)
    assert sorted(h.name for h in first) == ["a", "b"]
    assert store.claim_due_sources("r2", NOW, LEASE) == []  # held by r1

    store.record_polls([PollOutcome("a", ok=True, next_poll=NOW)], NOW, owner="r1")
    assert [h.name for h in store.claim_due_sources("r2", NOW, LEASE)] == ["a"]  # released
    hour = NOW + timedelta(hours=1)
    store.record_polls([PollOutcome("a", ok=True, next_poll=hour)], NOW, owner="r2")
    later = NOW + LEASE + timedelta(seconds=1)
    assert [h.name for h in store.claim_due_sources("r3", later, LEASE)] == ["b"]  # r1 died

    # r1 comes back late: its poll of b is not recorded over r3's claim
    store.record_polls([PollOutcome("b", ok=False, next_poll=later, error="x")], later, owner="r1")
    health = store.get_source_health("b")
    assert health is not None and health.consecutive_failures == 0


def test_a_delivery_is_claimed_before_it_is_sent(store: SqlStore) -> None:
    store.sync_theses([thesis("t1")], NOW)
    ids = [s.id for s in store.add_items([item(n, link=f"https://x/{n}") for n in range(3)], NOW)]
    store.record_matches(
        [FoundMatch(i, match("c1" if n == 0 else "k1"), alert=True) for n, i in enumerate(ids[:2])],
        "console",
        NOW,
    )

    mine = store.claim_deliveries("console", "r1", NOW, LEASE)
    assert len(mine) == 2
    assert store.claim_deliveries("console", "r2", NOW, LEASE) == []
    store.mark_sent(mine[0].id, NOW, None)
    store.release_deliveries([mine[1].id])
    assert [t.id for t in store.claim_deliveries("console", "r2", NOW, LEASE)] == [mine[1].id]
    assert store.claim_deliveries("r3", "console", NOW + LEASE * 2, LEASE) == []  # no channel
    again = store.claim_deliveries("console", "r3", NOW + LEASE * 2, LEASE)
    assert [t.id for t in again] == [mine[1].id]  # r2's lease ran out: r3 takes it over


def test_one_replica_at_a_time_runs_an_exclusive_job(pg_url: str) -> None:
    one, two = SqlStore(pg_url), SqlStore(pg_url)
    try:
        one.migrate()
        with one.exclusive("match") as first, two.exclusive("match") as second:
            assert first and not second
        with two.exclusive("match") as after:
            assert after
    finally:
        one.close()
        two.close()


def test_a_second_daemon_on_one_sqlite_file_is_refused(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    write_config(tmp_path, {"wire": feed_server.add("/feed.xml", rss([]))})
    first = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--tick", "0.2"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert feed_server.wait_for_request("/feed.xml"), "the first daemon never polled"
        second = monitor(tmp_path, "run", "--once")
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=20)

    assert second.returncode == 3
    assert "another `monitor run` (pid " in second.stderr and "PostgreSQL" in second.stderr
    assert monitor(tmp_path, "run", "--once").returncode == 0  # free again once it stopped


# -- three replicas, one killed and restarted ---------------------------------------------------


def story(rng: random.Random, n: int) -> tuple[str, str, str]:
    """A distinct story that the test rules' confirm criterion matches."""
    words = rng.sample(WORDS, 12)
    title = f"Plan {n} to restart reactor " + " ".join(words[:5])
    return (f"s-{n}", title, "The nuclear unit " + " ".join(words[5:]) + f" case {n}.")


WORDS = [f"{a}{b}" for a in ("kal", "mor", "tes", "vin", "dru", "pel") for b in "aeiouyrsnt"]


@pytest.fixture
def replicas(
    tmp_path: Path, pg_url: str, fake_slack: FakeSlack
) -> Iterator[list[subprocess.Popen[str] | None]]:
    procs: list[subprocess.Popen[str] | None] = []
    yield procs
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_three_replicas_post_every_alert_once_when_one_is_killed_and_restarted(
    tmp_path: Path, pg_url: str, feed_server: FeedServer, fake_slack: FakeSlack, replicas: list
) -> None:
    seed = random.randrange(1 << 30)  # the kill comes at a random point; the seed says which
    rng = random.Random(seed)
    feeds = {}
    for f in range(12):
        items = [story(rng, f * 10 + k) for k in range(4)]
        feeds[f"f{f}"] = feed_server.add(f"/f{f}.xml", rss(items, base=f"https://n{f}.example"))
    write_config(tmp_path, feeds, "replicas:\n  lease: 3s\nfetch:\n  deadline: 1s\n  timeout: 1s")
    env = clean_env(
        tmp_path,
        DATABASE_URL=pg_url,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_CHANNEL="#investing",
        SLACK_API_URL=fake_slack.base_url,
    )
    assert monitor(tmp_path, "check", env=env).returncode == 0

    def start() -> subprocess.Popen[str]:
        return start_daemon(tmp_path, env, "--tick", "0.2")

    replicas.extend(start() for _ in range(3))
    expected = 12 * 4
    assert fake_slack.wait_for_messages(rng.randint(3, 15), timeout=60)
    victim = rng.randrange(3)
    replicas[victim].kill()  # SIGKILL: its claims are left to expire
    replicas[victim].communicate()
    replicas[victim] = start()

    def signals(messages: list[PostedMessage]) -> Counter[int]:
        return Counter(
            int(m) for msg in messages for m in re.findall(r"signal #(\d+)", str(msg.blocks))
        )

    arrived = fake_slack.wait_until(lambda got: len(signals(got)) >= expected, timeout=90)
    posted = signals(fake_slack.messages)
    assert arrived, f"only {len(posted)} of {expected} alerts arrived (seed {seed})"
    assert len(posted) == expected, seed  # every alertable signal, none lost
    twice = [sid for sid, n in posted.items() if n > 1]
    # not even the alert in flight when the replica was killed (Slack answered, the database
    # write did not happen): it is found in the channel's history before it is posted again
    assert twice == [], (twice, seed)
    for proc in replicas:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err


def test_matching_never_passes_an_item_still_being_stored(pg_url: str) -> None:
    """PostgreSQL hands out ids at insert time: an item stored in a transaction that commits
    late must not be passed over by matching, which reads up to the committed bound."""
    import threading

    a, b = SqlStore(pg_url), SqlStore(pg_url)
    try:
        a.migrate()
        bound: list[int] = []
        with a._transaction("a slow store") as conn:
            (slow,) = a._insert_items(conn, [item(1, link="https://x/1")], NOW)
            (fast,) = b.add_items([item(2, link="https://x/2")], NOW)  # committed, a higher id
            reader = threading.Thread(target=lambda: bound.append(b.committed_item_bound()))
            reader.start()
            reader.join(timeout=0.5)
            assert reader.is_alive()  # it waits for the store in flight
        reader.join(timeout=10)
        assert bound == [max(slow.id, fast.id)]
        assert [s.id for s in b.items_from(0, 10, upto=bound[0])] == [slow.id, fast.id]
    finally:
        a.close()
        b.close()


def test_due_sources_are_claimed_a_chunk_at_a_time_most_overdue_first(store: SqlStore) -> None:
    store.sync_sources([SourceConfig(n, f"https://{n}/f") for n in ("a", "b", "c")], NOW)
    store.record_polls([PollOutcome("a", ok=True, next_poll=NOW - timedelta(hours=1))], NOW)
    store.record_polls([PollOutcome("c", ok=True, next_poll=NOW - timedelta(hours=2))], NOW)
    store.record_polls([PollOutcome("b", ok=True, next_poll=NOW - timedelta(minutes=1))], NOW)

    chunks = [store.claim_due_sources("r1", NOW, LEASE, limit=2) for _ in range(3)]

    assert [sorted(h.name for h in chunk) for chunk in chunks] == [["a", "c"], ["b"], []]
