"""The daemon's ops endpoints, read with curl while it runs, the health rules, and the log
formats."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from monitor.ops import health_report
from tests.e2e import CONFIRM_ITEM, KILL_ITEM, rss
from tests.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.feedserver import FeedServer
from tests.test_cli import clean_env, monitor, start_daemon, write_config


def curl(url: str) -> tuple[int, str]:
    done = subprocess.run(
        ["curl", "-s", "-m", "10", "-w", "\n%{http_code}", url],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def test_curl_reads_metrics_and_health_from_a_running_daemon(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, daemon: list
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM, KILL_ITEM]))
    broken = feed_server.add("/gone.xml", b"", status=500)
    write_config(tmp_path, {"wire": url, "gone": broken})
    env = clean_env(
        tmp_path,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_CHANNEL="#investing",
        SLACK_API_URL=fake_slack.base_url,
    )
    proc = start_daemon(tmp_path, env, "--tick", "0.5", "--ops-port", "0")
    daemon.append(proc)
    assert proc.stderr is not None
    port = None
    for line in proc.stderr:
        found = re.search(r"ops endpoints on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    assert port is not None
    assert fake_slack.wait_for_messages(2, timeout=60)
    base = f"http://127.0.0.1:{port}"

    def metrics_once_delivered() -> str:
        # the cycle's counters land when it ends; the alerts may be posted just before
        for _ in range(100):
            code, text = curl(f"{base}/metrics")
            assert code == 200
            if 'outcome="sent"' in text and "monitor_signals_total" in text:
                return text
            assert proc.poll() is None
        raise AssertionError(text)

    text = metrics_once_delivered()
    assert 'monitor_polls_total{outcome="ok",source="wire"}' in text
    assert 'monitor_poll_errors_total{source="gone"}' in text
    assert re.search(r'monitor_signals_total\{polarity="confirm"\} [1-9]', text)
    assert re.search(r'monitor_signals_total\{polarity="kill"\} [1-9]', text)
    assert 'monitor_deliveries_total{channel="slack:#investing",outcome="sent"} 2.0' in text
    assert "monitor_delivery_latency_seconds_bucket" in text
    assert "monitor_cycle_seconds_count" in text
    assert "monitor_deliveries_unsent" in text
    assert DEFAULT_TOKEN not in text

    code, body = curl(f"{base}/healthz")
    health = json.loads(body)
    assert code == 200, health
    assert health["status"] == "degraded" and health["database"] == "ok"
    assert health["scheduler"] == "ok" and health["failing_sources"] == ["gone"]
    assert curl(f"{base}/nothing")[0] == 404

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(
    ("database_ok", "last_cycle", "sources", "routes", "code", "status"),
    [
        (True, 95.0, [], [], 200, "ok"),
        (True, 95.0, ["gone"], [], 200, "degraded"),
        (True, 95.0, [], [{"route": "slack:#x"}], 200, "degraded"),
        (False, 95.0, [], [], 503, "failing"),
        (True, 10.0, [], [], 503, "failing"),  # no cycle ended for 90 s, 60 allowed
        (True, None, [], [], 200, "ok"),  # just started: not stale yet
    ],
)
def test_health_fails_only_for_the_database_or_a_stuck_scheduler(
    database_ok: bool,
    last_cycle: float | None,
    sources: list[str],
    routes: list[dict[str, str]],
    code: int,
    status: str,
) -> None:
    def database() -> None:
        if not database_ok:
            raise RuntimeError("connection refused")

    got, body = health_report(
        database=database,
        last_cycle=last_cycle,
        started=90.0,
        stale_after=60.0,
        failing_sources=lambda: sources,
        failing_routes=lambda: routes,
        now=100.0,
    )
    assert (got, body["status"]) == (code, status)
    if not database_ok:
        assert "connection refused" in body["database"]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_lines_carry_utc_timestamps_with_the_offset(
    tmp_path: Path, feed_server: FeedServer, fmt: str
) -> None:
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    write_config(tmp_path, {"wire": url})
    done = monitor(tmp_path, "run", "--once", "--log-format", fmt, env=clean_env(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(("{", "20"))]
    assert len(lines) >= 3
    for line in lines:
        if fmt == "json":
            entry = json.loads(line)
            assert set(entry) >= {"ts", "level", "logger", "message"}
            stamp = entry["ts"]
        else:
            stamp = line.split(" ", 1)[0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", stamp), line
