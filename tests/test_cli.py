"""The ``monitor`` command as a user runs it: real processes, real servers, real files."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.corpus import corpus_dir
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, NOISE_ITEM, WATCH_ITEM, rss, write_config
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer

REPO = Path(__file__).resolve().parents[1]
BRIEFS = sorted((corpus_dir() / "briefs").glob("*.txt"))


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env["MONITOR_DATA_DIR"] = str(tmp_path / "data")
    env["MONITOR_SEMANTIC"] = "off"  # keyword-only: these tests are about the CLI
    env.update(extra)
    return env


def monitor(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=tmp_path,
        env=env or clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_daemon(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``monitor run ARGS`` in the background, returned once it logged that it is starting
    (its signal handlers are set by then)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "starting" in line:
            break
    return proc


def slack_env(tmp_path: Path, slack: FakeSlack) -> dict[str, str]:
    return clean_env(
        tmp_path,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_CHANNEL="#investing",
        SLACK_API_URL=slack.base_url,
    )


@contextmanager
def daemon(tmp_path: Path, slack: FakeSlack) -> Iterator[subprocess.Popen[str]]:
    """`monitor run` as a real process, ticking fast; killed if a test leaves it running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--tick", "0.2"],
        cwd=tmp_path,
        env=slack_env(tmp_path, slack),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_every_command_has_help(tmp_path: Path) -> None:
    out = monitor(tmp_path, "--help")
    assert out.returncode == 0
    commands = ["run", "check", "import-brief", "signals", "theses", "sources", "demo"]
    for command in commands:
        assert command in out.stdout
        sub = monitor(tmp_path, command, "--help")
        assert sub.returncode == 0 and "--config" in sub.stdout, command


def test_run_once_posts_alerts_to_slack_and_signals_lists_them(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM, WATCH_ITEM, NOISE_ITEM]))
    write_config(tmp_path, {"wire": url, "down": feed_server.url("/missing.xml")})
    env = slack_env(tmp_path, fake_slack)

    run = monitor(tmp_path, "run", "--once", env=env)

    assert run.returncode == 0, run.stderr
    assert "source down failed" in run.stderr and "404" in run.stderr
    assert "3 new signal(s)" in run.stderr and "2 alert(s) sent" in run.stderr
    assert len(fake_slack.messages) == 2
    assert DEFAULT_TOKEN not in run.stderr + run.stdout

    table = monitor(tmp_path, "signals", env=env)
    assert table.returncode == 0
    assert CONFIRM_ITEM[1][:40] in table.stdout and "KILL" in table.stdout

    as_json = json.loads(monitor(tmp_path, "signals", "--format", "json", env=env).stdout)
    assert {r["criterion_id"] for r in as_json} == {"confirm-1", "kill-1", "unknown-1"}
    kills = json.loads(
        monitor(tmp_path, "signals", "--polarity", "kill", "--format", "json", env=env).stdout
    )
    assert [r["item_title"] for r in kills] == [KILL_ITEM[1]]
    rows = list(csv.DictReader(io.StringIO(monitor(tmp_path, "signals", "--format", "csv").stdout)))
    assert len(rows) == 3 and rows[0]["thesis_id"] == "test-nuclear"
    assert monitor(tmp_path, "signals", "--source", "other", env=env).stdout == "no signals\n"
    limited = monitor(tmp_path, "signals", "--limit", "1", "--format", "json", env=env)
    assert len(json.loads(limited.stdout)) == 1
    since = monitor(tmp_path, "signals", "--since", "7d", "--format", "json", env=env)
    assert len(json.loads(since.stdout)) == 3  # created now, by the wall clock

    theses = monitor(tmp_path, "theses", env=env)
    assert theses.returncode == 0
    line = next(ln for ln in theses.stdout.splitlines() if ln.startswith("test-nuclear"))
    assert line.split()[1:4] == ["1/1", "1/1", "1/1"]

    health = monitor(tmp_path, "sources", env=env)
    assert "down" in health.stdout and "404" in health.stdout

    # `sources` only reads: another config must not change what the daemon polls
    other = tmp_path / "other.yaml"
    other.write_text("sources:\n  - name: fresh\n    url: https://example.com/f\n", "utf-8")
    listed = monitor(tmp_path, "sources", "--config", str(other), env=env).stdout
    assert "fresh" in listed and "wire" not in listed
    from monitor.store import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        assert {h.name for h in store.source_health()} == {"wire", "down"}
    finally:
        store.close()


def test_run_once_without_slack_prints_alerts_to_the_console(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    write_config(tmp_path, {"wire": url})

    run = monitor(tmp_path, "run", "--once")

    assert run.returncode == 0, run.stderr
    assert "CONFIRM" in run.stdout and CONFIRM_ITEM[1] in run.stdout
    assert (tmp_path / "data" / "monitor.db").exists()  # the documented default place


def test_run_once_fails_clearly_on_fatal_problems(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_text("sources: [\n", encoding="utf-8")
    bad_config = monitor(tmp_path, "run", "--once")
    assert bad_config.returncode == 2
    assert "monitor.yaml:2" in bad_config.stderr and "invalid YAML" in bad_config.stderr

    write_config(tmp_path, {"wire": "http://127.0.0.1:9/feed"})
    env = clean_env(tmp_path, DATABASE_URL="postgresql+psycopg://postgres:s3cret@127.0.0.1:1/x")
    no_db = monitor(tmp_path, "run", "--once", env=env)
    assert no_db.returncode == 3
    assert "cannot reach database" in no_db.stderr and "s3cret" not in no_db.stderr


def test_daemon_polls_alerts_and_stops_cleanly_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    write_config(tmp_path, {"wire": url})
    with daemon(tmp_path, fake_slack) as proc:
        assert fake_slack.wait_for_messages(2, timeout=60), "daemon sent no alerts"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "received SIGTERM" in stderr and "stopped" in stderr
    assert len(fake_slack.messages) == 2  # polled again on later ticks, no repeats


def test_check_accepts_valid_rules_and_lists_every_problem(tmp_path: Path) -> None:
    write_config(tmp_path, {"wire": "https://example.com/feed"})
    ok = monitor(tmp_path, "check")
    assert ok.returncode == 0, ok.stderr
    assert "1 valid thesis(es), 3 criteria; 0 problem(s)" in ok.stdout
    assert "matching: keyword-only (MONITOR_SEMANTIC=off)" in ok.stdout
    env = clean_env(tmp_path)
    del env["MONITOR_SEMANTIC"]
    semantic = monitor(tmp_path, "check", env=env)
    assert "matching: keyword + semantic scoring on (all-MiniLM-L6-v2" in semantic.stdout

    (tmp_path / "rules" / "broken.yaml").write_text(
        "thesis:\n  id: broken\n  title: Broken\n  colour: red\ncriteria:\n"
        "  - id: confirm-1\n    polarity: confirm\n    text: x\n    query: a OR b\n"
        "  - id: confirm-1\n    polarity: confirm\n    text: y\n    query: c\n"
        "  - id: kill-1\n    polarity: kill\n    text: z\n    query: (a OR b\n",
        encoding="utf-8",
    )
    (tmp_path / "rules" / "bad-yaml.yaml").write_text("thesis: [\n", encoding="utf-8")
    bad = monitor(tmp_path, "check")
    assert bad.returncode == 1
    problems = bad.stderr.strip().splitlines()
    broken = str(tmp_path / "rules" / "broken.yaml")
    assert any(p.startswith(f"{broken}:4") and "colour" in p for p in problems)
    assert any(p.startswith(f"{broken}:10") and "duplicate" in p for p in problems)
    assert any(p.startswith(f"{broken}:17:12") and "never closed" in p for p in problems)
    assert any(p.startswith(str(tmp_path / "rules" / "bad-yaml.yaml") + ":2") for p in problems)


def test_check_says_which_theses_the_daemon_holds_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    write_config(tmp_path, {"wire": feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))})
    assert monitor(tmp_path, "run", "--once").returncode == 0  # the database knows the thesis
    rule = tmp_path / "rules" / "nuclear.yaml"
    rule.write_text(rule.read_text("utf-8").replace("query: HALEU", "query: (HALEU"), "utf-8")
    (tmp_path / "rules" / "new.yaml").write_text("thesis: [\n", "utf-8")

    held = monitor(tmp_path, "check")

    assert held.returncode == 1
    assert f"{rule}: thesis test-nuclear is held back: its items wait" in held.stderr
    assert f"{tmp_path / 'rules' / 'new.yaml'}: never loaded" in held.stderr

    rule.unlink()
    (tmp_path / "rules" / "new.yaml").unlink()
    empty = monitor(tmp_path, "check")
    assert "no rule file: the daemon holds all matching back" in empty.stderr


@pytest.mark.parametrize("brief", BRIEFS, ids=lambda p: p.name)
def test_import_brief_writes_a_rule_file_that_check_accepts(tmp_path: Path, brief: Path) -> None:
    write_config(tmp_path, {"wire": "https://example.com/feed"})
    (tmp_path / "rules" / "nuclear.yaml").unlink()

    out = monitor(tmp_path, "import-brief", str(brief))

    assert out.returncode == 0, out.stderr
    assert "3 read-through(s), 3 confirm, 3 kill" in out.stdout
    written = list((tmp_path / "rules").glob("*.yaml"))
    assert len(written) == 1
    check = monitor(tmp_path, "check")
    assert check.returncode == 0, check.stderr
    again = monitor(tmp_path, "import-brief", str(brief))
    assert again.returncode == 2 and "--force" in again.stderr


def test_import_brief_without_overlay_names_the_file(tmp_path: Path) -> None:
    brief = tmp_path / "no-overlay.txt"
    brief.write_text("Rosa Del Mar\n\nDaily Brief\n\nIssue 1 2026-01-01\n\nTitle\n", "utf-8")
    out = monitor(tmp_path, "import-brief", str(brief), "-o", "-")
    assert out.returncode == 2
    assert str(brief) in out.stderr and "Investor overlay" in out.stderr


def test_shipped_rules_pass_check(tmp_path: Path) -> None:
    out = monitor(tmp_path, "check", "--config", str(REPO / "monitor.yaml"))
    assert out.returncode == 0, out.stderr
    assert f"{len(BRIEFS)} rule file(s), {len(BRIEFS)} valid thesis(es)" in out.stdout


def test_feedback_is_recorded_and_theses_shows_precision_per_criterion(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    write_config(tmp_path, {"wire": url})
    assert monitor(tmp_path, "run", "--once").returncode == 0
    rows = json.loads(monitor(tmp_path, "signals", "--format", "json").stdout)
    ids = {r["criterion_id"]: r["id"] for r in rows}

    useful = monitor(tmp_path, "feedback", str(ids["confirm-1"]), "useful", "--note", "spot on")
    noise = monitor(tmp_path, "feedback", str(ids["kill-1"]), "noise")
    unknown = monitor(tmp_path, "feedback", "999", "useful")
    bad = monitor(tmp_path, "feedback", str(ids["kill-1"]), "meh")

    assert useful.returncode == 0 and "marked useful" in useful.stdout
    assert noise.returncode == 0
    assert unknown.returncode == 2 and "no signal #999" in unknown.stderr
    assert bad.returncode == 2  # usage error: the verdict is checked before anything runs
    theses = monitor(tmp_path, "theses").stdout
    feedback, _, learned = theses.partition("Learned from verdicts")

    def rows(section: str) -> dict[str, list[str]]:
        return {
            line.split()[1]: line.split()[2:]
            for line in section.splitlines()
            if line.startswith("test-nuclear ") and "-" in line.split()[1]
        }

    assert rows(feedback) == {"confirm-1": ["1", "0", "1.00"], "kill-1": ["0", "1", "0.00"]}
    # the verdicts are the matcher's labels: evidence/not evidence, too few to measure
    assert rows(learned) == {"confirm-1": ["1/0", "0", "-", "-"], "kill-1": ["0/1", "0", "-", "-"]}
    assert "test-nuclear: 2 labeled item(s), 1 positive: verdicts refine" in learned

    evaluated = monitor(tmp_path, "eval", "--feedback", "--mode", "keyword", "--format", "json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    # the current rules still fire on both items: the useful one is a hit, the noise a false alarm
    assert report["items"] == 2
    assert report["criteria"]["confirm-1"]["tp"] == 1
    assert report["criteria"]["kill-1"]["fp"] == 1


def test_signals_explain_shows_evidence_and_matched_terms(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    write_config(tmp_path, {"wire": url})
    assert monitor(tmp_path, "run", "--once").returncode == 0

    out = monitor(tmp_path, "signals", "--explain").stdout

    assert "evidence: Utility agrees to restart shuttered reactor" in out
    assert "matched: restart*, reactor" in out


def test_eval_prints_micro_and_per_criterion_figures_for_curated_and_automatic_rules(
    tmp_path: Path,
) -> None:
    items = corpus_dir() / "eval" / "dev-rosa-97.jsonl"
    brief = next(b for b in BRIEFS if "issue-97" in b.name)

    curated = monitor(
        tmp_path,
        "eval",
        str(items),
        "--rules",
        str(REPO / "rules"),
        "--mode",
        "keyword",
        "--format",
        "json",
    )
    automatic = monitor(tmp_path, "eval", str(items), "--brief", str(brief), "--mode", "keyword")
    neither = monitor(tmp_path, "eval", str(items))

    assert curated.returncode == 0, curated.stderr
    report = json.loads(curated.stdout)
    assert set(report["micro"]) >= {"precision", "recall", "f1"}
    assert sorted(report["criteria"]) == [
        f"{p}-{n}" for p in ("confirm", "kill") for n in (1, 2, 3)
    ]
    assert report["micro"]["f1"] >= 0.9
    assert automatic.returncode == 0 and "micro" in automatic.stdout
    assert "misses" in automatic.stdout and "false alarms" in automatic.stdout
    assert neither.returncode == 2 and "--rules" in neither.stderr


def test_unreadable_inputs_are_clear_errors_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "monitor.yaml").write_bytes(b"sources:\n  - name: caf\xe9\n")
    config = monitor(tmp_path, "check")
    assert config.returncode == 1 and "monitor.yaml: config file is not UTF-8" in config.stderr

    brief = tmp_path / "latin1.txt"
    brief.write_bytes(b"Investor overlay\n- caf\xe9\n")
    imported = monitor(tmp_path, "import-brief", str(brief), "-o", "-")
    assert imported.returncode == 2 and "brief is not UTF-8" in imported.stderr

    write_config(tmp_path, {"wire": "https://example.com/feed"})
    env = clean_env(tmp_path, DATABASE_URL="postgresql+psycopg://u:pw@localhost:99x/db")
    bad_url = monitor(tmp_path, "signals", env=env)
    assert bad_url.returncode == 3 and "invalid database URL" in bad_url.stderr
    assert "Traceback" not in config.stderr + imported.stderr + bad_url.stderr


def test_run_once_ends_within_the_fetch_deadline_among_hostile_sources(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    """A drip, a hung server and a redirect loop beside a healthy source: the cycle ends
    within the 2 s fetch deadline plus start-up, and the healthy source's alerts are sent."""
    sources = {
        "good": feed_server.add("/good.xml", rss([CONFIRM_ITEM, KILL_ITEM])),
        "drip": feed_server.add_drip("/drip.xml", rss([NOISE_ITEM]), every=0.5),
        "hung": feed_server.add_hanging("/hung.xml"),
        "loop": feed_server.add_redirect("/loop.xml", "/loop.xml"),
    }
    write_config(tmp_path, sources, "fetch:\n  deadline: 2s\n  timeout: 10s")
    started = time.monotonic()

    run = monitor(tmp_path, "run", "--once", env=slack_env(tmp_path, fake_slack))

    assert time.monotonic() - started < 2 + 8  # deadline + process start-up and the cycle
    assert run.returncode == 0, run.stderr
    assert "3 failed" in run.stderr and "2 alert(s) sent" in run.stderr
    assert "2s fetch deadline" in run.stderr and "redirects" in run.stderr
    assert len(fake_slack.messages) == 2


def test_sigterm_during_a_cycle_stops_at_once_and_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack
) -> None:
    """SIGTERM while the cycle's fetch hangs: the daemon ends within seconds (not at the
    30 s fetch deadline), with nothing half-done; the next start polls the source again and
    stores and alerts its item once."""
    url = feed_server.add_held("/feed.xml", rss([CONFIRM_ITEM]))
    write_config(tmp_path, {"wire": url})
    with daemon(tmp_path, fake_slack) as proc:
        assert feed_server.wait_for_request("/feed.xml"), "the daemon never polled"
        proc.send_signal(signal.SIGTERM)  # the cycle is in flight: its fetch is held
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "received SIGTERM" in stderr and "stopped" in stderr
    assert fake_slack.messages == []
    assert json.loads(monitor(tmp_path, "signals", "--format", "json").stdout) == []

    feed_server.release.set()
    again = monitor(tmp_path, "run", "--once", env=slack_env(tmp_path, fake_slack))
    assert again.returncode == 0, again.stderr
    assert len(fake_slack.messages) == 1
    rows = json.loads(monitor(tmp_path, "signals", "--format", "json").stdout)
    assert [r["item_title"] for r in rows] == [CONFIRM_ITEM[1]]
