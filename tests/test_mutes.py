"""Mutes: the store on SQLite and PostgreSQL (injected ``now``), the pure ``mute_for``, and
``monitor mute`` / ``unmute`` / ``mutes`` as a user runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.decide import mute_for
from monitor.store import SqlStore
from monitor.types import Mute, MuteKind, SourceConfig
from tests.dbfixtures import pg_schema, pg_url, sqlite_url, store
from tests.e2e import write_config
from tests.test_cli import monitor
from tests.test_store import thesis

__all__ = ["pg_schema", "pg_url", "sqlite_url", "store"]  # fixtures used by name

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# -- the store ----------------------------------------------------------------------------------


def test_a_mute_is_active_until_it_expires(store: SqlStore) -> None:
    added = store.add_mute("source", "wire", until=NOW + 7 * DAY, now=NOW, note="chatty")
    assert (added.kind, added.value, added.until, added.note) == (
        "source",
        "wire",
        NOW + 7 * DAY,
        "chatty",
    )
    assert added.created_at == NOW and added.lifted_at is None
    assert store.active_mutes(NOW) == [added]
    assert store.active_mutes(NOW + 7 * DAY - timedelta(seconds=1)) == [added]
    assert store.active_mutes(NOW + 7 * DAY) == []  # until is exclusive
    assert store.list_mutes(NOW + 8 * DAY) == []
    assert store.list_mutes(NOW + 8 * DAY, include_expired=True) == [added]


def test_a_mute_without_end_lasts_until_lifted_and_history_is_kept(store: SqlStore) -> None:
    forever = store.add_mute("thesis", "t1", until=None, now=NOW)
    other = store.add_mute("criterion", "t1/k1", until=NOW + DAY, now=NOW)
    assert store.active_mutes(NOW + 365 * DAY) == [forever]

    assert store.lift_mutes("thesis", "t1", NOW + 2 * DAY) == 1
    assert store.lift_mutes("thesis", "t1", NOW + 2 * DAY) == 0  # nothing left to lift
    assert store.lift_mutes("criterion", "t1/k1", NOW + 2 * DAY) == 0  # already expired
    assert store.active_mutes(NOW + 2 * DAY) == []
    history = store.list_mutes(NOW + 2 * DAY, include_expired=True)
    assert [m.id for m in history] == [forever.id, other.id]
    assert history[0].lifted_at == NOW + 2 * DAY and history[1].lifted_at is None


def test_muting_again_replaces_the_active_mute(store: SqlStore) -> None:
    first = store.add_mute("source", "wire", until=NOW + 7 * DAY, now=NOW)
    second = store.add_mute("source", "wire", until=NOW + DAY, now=NOW + timedelta(hours=1))
    assert store.active_mutes(NOW + timedelta(hours=2)) == [second]
    lifted = store.list_mutes(NOW, include_expired=True)[0]
    assert lifted.id == first.id and lifted.lifted_at == NOW + timedelta(hours=1)
    # another target is left alone
    store.add_mute("source", "other", until=None, now=NOW)
    assert store.lift_mutes("source", "wire", NOW + timedelta(hours=3)) == 1
    assert [m.value for m in store.active_mutes(NOW + timedelta(hours=3))] == ["other"]


@pytest.mark.parametrize(
    ("kind", "value", "until"),
    [
        ("topic", "x", None),  # unknown kind
        ("source", "  ", None),  # no target
        ("source", "wire", NOW),  # ends when it starts
        ("source", "wire", NOW - DAY),
    ],
)
def test_a_bad_mute_is_refused(
    store: SqlStore, kind: str, value: str, until: datetime | None
) -> None:
    with pytest.raises(ValueError):
        store.add_mute(kind, value, until=until, now=NOW)  # type: ignore[arg-type]
    assert store.list_mutes(NOW, include_expired=True) == []


def test_mute_targets_known_to_the_database(store: SqlStore) -> None:
    store.sync_theses([thesis("t1")], NOW)
    store.sync_sources([SourceConfig("wire", "https://wire.example/feed")], NOW)
    assert store.mute_target_known("thesis", "t1")
    assert not store.mute_target_known("thesis", "t2")
    assert store.mute_target_known("criterion", "t1/k1")
    assert not store.mute_target_known("criterion", "t1/k9")
    assert not store.mute_target_known("criterion", "t1")
    assert store.mute_target_known("source", "wire")
    assert not store.mute_target_known("source", "t1")


# -- mute_for (pure) ----------------------------------------------------------------------------


def mute(kind: MuteKind, value: str, n: int = 1, until: datetime | None = None) -> Mute:
    return Mute(id=n, kind=kind, value=value, until=until, created_at=NOW)


@pytest.mark.parametrize(
    ("mutes", "expected"),
    [
        ([], None),
        ([mute("thesis", "t1")], "thesis"),
        ([mute("criterion", "t1/k1")], "criterion"),
        ([mute("source", "wire")], "source"),
        ([mute("thesis", "t2"), mute("criterion", "t1/c1"), mute("source", "other")], None),
        ([mute("criterion", "t1"), mute("thesis", "t1/k1")], None),  # kinds are not mixed up
        ([mute("source", "wire", 1), mute("thesis", "t1", 2)], "thesis"),
        ([mute("source", "wire", 1), mute("criterion", "t1/k1", 2)], "criterion"),
        ([mute("thesis", "t1", 1), mute("criterion", "t1/k1", 2)], "criterion"),
    ],
)
def test_mute_for_names_the_most_specific_mute(mutes: list[Mute], expected: str | None) -> None:
    found = mute_for("t1", "k1", "wire", mutes)
    assert (found.kind if found else None) == expected


def test_mute_for_prefers_the_longest_and_ignores_lifted_ones() -> None:
    short = mute("source", "wire", 1, until=NOW + DAY)
    long = mute("source", "wire", 2, until=NOW + 7 * DAY)
    endless = mute("source", "wire", 3)
    assert mute_for("t1", "k1", "wire", [short, long]) == long
    assert mute_for("t1", "k1", "wire", [short, endless, long]) == endless
    lifted = Mute(4, "thesis", "t1", None, NOW, lifted_at=NOW)
    assert mute_for("t1", "k1", "other", [lifted]) is None


# -- the CLI ------------------------------------------------------------------------------------


def test_mute_unmute_and_mutes_round_trip(tmp_path: Path) -> None:
    write_config(tmp_path, {"wire": "http://127.0.0.1:9/feed.xml"})

    assert monitor(tmp_path, "mutes").stdout.strip() == "nothing is muted"
    muted = monitor(tmp_path, "mute", "--source", "wire", "--for", "7d", "--note", "too chatty")
    assert muted.returncode == 0, muted.stderr
    assert muted.stdout.startswith("muted source wire until ")
    crit = monitor(tmp_path, "mute", "--criterion", "test-nuclear/kill-1")
    assert crit.returncode == 0, crit.stderr
    assert "until unmuted" in crit.stdout
    assert monitor(tmp_path, "mute", "--thesis", "test-nuclear", "--for", "12h").returncode == 0

    listed = monitor(tmp_path, "mutes")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[2:]}
    assert set(rows) == {"source", "criterion", "thesis"}
    assert "wire" in rows["source"] and "too chatty" in rows["source"]
    assert "test-nuclear/kill-1" in rows["criterion"] and "until unmuted" in rows["criterion"]

    unmuted = monitor(tmp_path, "unmute", "--source", "wire")
    assert (unmuted.returncode, unmuted.stdout.strip()) == (0, "unmuted source wire")
    again = monitor(tmp_path, "unmute", "--source", "wire")
    assert again.returncode == 1 and "not muted" in again.stderr
    left = monitor(tmp_path, "mutes").stdout
    assert "wire" not in left and "test-nuclear/kill-1" in left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "nowhere"], "no source 'nowhere'"),
        (["--thesis", "no-such-thesis"], "no thesis 'no-such-thesis'"),
        (["--criterion", "test-nuclear/kill-9"], "no criterion 'test-nuclear/kill-9'"),
        (["--criterion", "kill-1"], "THESIS/CRITERION"),
        (["--source", "wire", "--thesis", "test-nuclear"], "exactly one"),
        ([], "exactly one"),
        (["--source", "wire", "--for", "soon"], "bad interval"),
    ],
)
def test_mute_says_clearly_what_is_wrong(tmp_path: Path, args: list[str], message: str) -> None:
    write_config(tmp_path, {"wire": "http://127.0.0.1:9/feed.xml"})
    result = monitor(tmp_path, "mute", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert monitor(tmp_path, "mutes").stdout.strip() == "nothing is muted"
