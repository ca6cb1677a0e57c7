"""The dashboard over HTTP (urllib against the real server on a free port): pages and their
JSON, filters and paging, escaping, security headers, the token off loopback, feedback only
with --allow-feedback and a CSRF token, and `monitor serve` stopping on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.web.server import DashboardError, is_loopback, make_server, redact_token
from tests.webfixtures import (
    CAPEX_CONFIRM,
    CAPEX_KILL,
    HOSTILE_TITLE,
    NUCLEAR_CONFIRM,
    NUCLEAR_KILL,
    Seeded,
    seed,
    serving,
)

TOTAL = (
    sum(sum(w.values()) for w in (NUCLEAR_CONFIRM, NUCLEAR_KILL, CAPEX_CONFIRM, CAPEX_KILL)) + 1
)  # the hostile one


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) without following redirects; errors are answers too."""
    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read().decode()


def api(base: str, path: str) -> Any:
    status, _, body = fetch(base + path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def base(seeded: Seeded) -> Iterator[str]:
    with serving(seeded) as server:
        yield server.url.rstrip("/")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/signals",
        "/signals/1",
        "/sources",
        "/api/theses",
        "/api/signals",
        "/api/signals/1",
        "/api/sources",
        "/healthz",
    ],
)
def test_every_page_answers_with_the_security_headers(base: str, path: str) -> None:
    status, headers, _ = fetch(base + path)
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script at all
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_the_api_gives_the_board_with_weekly_counts_and_momentum(base: str) -> None:
    board = api(base, "/api/theses")
    by_id = {t["id"]: t for t in board["theses"]}
    assert list(by_id) == ["ai-capex", "test-nuclear"]  # rule files, in path order
    capex = by_id["ai-capex"]
    assert [w["confirm"] for w in capex["weeks"]][::-1][:9] == [
        CAPEX_CONFIRM.get(n, 0) for n in range(9)
    ]
    assert [w["kill"] for w in capex["weeks"]][::-1][:9] == [CAPEX_KILL.get(n, 0) for n in range(9)]
    assert capex["momentum"]["state"] == -1 and capex["momentum"]["turned"]["direction"] == "down"
    assert capex["read_throughs"] == ["NVDA", "VRT", "ETN"]
    assert [c["id"] for c in capex["criteria"]] == ["confirm-1", "kill-1"]
    assert by_id["test-nuclear"]["momentum"]["state"] == 1


def test_signals_filter_search_and_page(base: str) -> None:
    everything = api(base, "/api/signals?limit=500")["signals"]
    assert len(everything) == TOTAL
    kills = api(base, "/api/signals?" + urlencode({"polarity": "kill", "limit": 500}))["signals"]
    assert {s["polarity"] for s in kills} == {"kill"}
    assert len(kills) == sum(NUCLEAR_KILL.values()) + sum(CAPEX_KILL.values())
    capex = api(base, "/api/signals?thesis=ai-capex&limit=500")["signals"]
    assert {s["thesis_id"] for s in capex} == {"ai-capex"} and len(capex) == 11
    found = api(base, "/api/signals?" + urlencode({"search": "NUCLEAR 7"}))["signals"]
    assert [s["item_title"] for s in found] == ["test-nuclear kill evidence number 7"]
    journal = api(base, "/api/signals?source=journal&limit=500")["signals"]
    assert journal and {s["source"] for s in journal} == {"journal"}
    first = api(base, "/api/signals?limit=10")
    assert first["next_offset"] == 10 and first["previous_offset"] is None
    last = api(base, "/api/signals?limit=10&offset=20")
    assert last["next_offset"] is None and last["previous_offset"] == 10
    assert len(last["signals"]) == TOTAL - 20
    ids = [s["id"] for s in first["signals"]] + [
        s["id"] for s in api(base, "/api/signals?limit=10&offset=10")["signals"]
    ]
    assert len(set(ids)) == 20  # pages do not overlap


def test_a_date_range_keeps_whole_days(base: str) -> None:
    one_day = api(base, "/api/signals?since=2026-05-12&until=2026-05-12&limit=500")["signals"]
    assert one_day and {s["created_at"][:10] for s in one_day} == {"2026-05-12"}


def test_paging_links_keep_the_filters(base: str) -> None:
    _, _, page = fetch(base + "/signals?" + urlencode({"polarity": "confirm", "limit": 3}))
    (nxt,) = re.findall(r'rel="next" href="([^"]+)"', page)
    assert nxt.replace("&amp;", "&") == "/signals?polarity=confirm&limit=3&offset=3"
    assert len(re.findall(r'<tr class="signal"', page)) == 3


@pytest.mark.parametrize(
    "query", ["polarity=maybe", "since=yesterday", "limit=0", "limit=x", "offset=-1"]
)
def test_bad_parameters_are_a_400_that_says_why(base: str, query: str) -> None:
    status, _, body = fetch(f"{base}/api/signals?{query}")
    assert status == 400 and json.loads(body)["error"]
    status, _, _ = fetch(f"{base}/signals?{query}")
    assert status == 400


def test_unknown_pages_and_signals_are_404(base: str) -> None:
    assert fetch(base + "/signals/99999")[0] == 404
    assert fetch(base + "/api/signals/99999")[0] == 404
    assert fetch(base + "/nowhere")[0] == 404
    assert fetch(base + "/static/../server.py")[0] == 404


def test_feed_text_is_escaped_and_unsafe_links_are_dropped(base: str, seeded: Seeded) -> None:
    _, _, page = fetch(f"{base}/signals/{seeded.hostile_id}")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "javascript:" not in page
    data = api(base, f"/api/signals/{seeded.hostile_id}")
    assert data["item_title"] == HOSTILE_TITLE and data["item_link"] is None


def test_the_signal_page_shows_the_story_s_other_sources(base: str, seeded: Seeded) -> None:
    data = api(base, f"/api/signals/{seeded.story_id}")
    assert sorted(x["source"] for x in data["sources"]) == ["journal", "wire"]
    _, _, page = fetch(f"{base}/signals/{seeded.story_id}")
    assert 'href="https://j.example.org/1"' in page


def test_the_sources_page_counts_items_per_day(base: str) -> None:
    data = api(base, "/api/sources")
    by_name = {s["name"]: s for s in data["sources"]}
    assert list(by_name) == ["wire", "journal"]
    per_day = {d["day"]: d["items"] for d in by_name["wire"]["items_per_day"]}
    assert len(per_day) == 14 and per_day["2026-05-12"] > 0
    assert by_name["wire"]["health"] == "never polled"


# -- access ------------------------------------------------------------------------------------


def test_a_non_loopback_bind_needs_a_token(seeded: Seeded) -> None:
    with seeded.open() as m, pytest.raises(DashboardError, match="MONITOR_WEB_TOKEN"):
        make_server(m, "0.0.0.0", 0)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_serve_refuses_a_non_loopback_host_without_a_token(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_WEB_TOKEN", raising=False)
    for name, value in {**seeded.env, "DATABASE_URL": seeded.url}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        app, ["serve", "--config", str(seeded.config), "--host", "0.0.0.0", "--port", "0"]
    )
    assert result.exit_code == 2
    assert "not a loopback address" in result.output and "MONITOR_WEB_TOKEN" in result.output


def test_with_a_token_every_request_carries_it(
    seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    token = "s3cret-t0ken-0123456789"
    caplog.set_level(logging.INFO, logger="monitor.web")
    with serving(seeded, host="0.0.0.0", token=token) as server:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert fetch(base + "/")[0] == 401
        assert fetch(base + "/api/theses")[0] == 401
        assert fetch(base + "/api/theses", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert fetch(base + "/api/theses", headers={"Authorization": f"Bearer {token}"})[0] == 200
        assert fetch(base + "/healthz")[0] == 200  # for health checks: says only "ok"
        assert fetch(base + "/?token=wrong")[0] == 401
        status, headers, _ = fetch(base + f"/signals?polarity=kill&token={token}")
        assert status == 303 and headers["Location"] == "/signals?polarity=kill"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert token not in cookie and "HttpOnly" in headers["Set-Cookie"]
        assert fetch(base + "/signals", headers={"Cookie": cookie})[0] == 200
        assert fetch(base + "/signals", headers={"Cookie": "token=forged"})[0] == 401
    assert token not in caplog.text and "/?***" in caplog.text
    assert redact_token("GET /?a=1&token=abc&b=2 HTTP/1.1") == "GET /?*** HTTP/1.1"
    assert redact_token("GET /?%74oken=abc HTTP/1.1") == "GET /?*** HTTP/1.1"  # encoded name
    assert redact_token("GET /signals?thesis=x HTTP/1.1") == "GET /signals?thesis=x HTTP/1.1"


def test_without_a_token_only_loopback_host_names_are_answered(base: str) -> None:
    assert fetch(base + "/", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    assert fetch(base + "/", headers={"Host": "localhost"})[0] == 200


# -- feedback ----------------------------------------------------------------------------------


def csrf_of(page: str) -> str:
    (token,) = re.findall(r'name="csrf" value="([0-9a-f]+)"', page)
    return token


def test_feedback_is_refused_when_read_only(base: str, seeded: Seeded) -> None:
    sid = seeded.ids[0]
    _, _, page = fetch(f"{base}/signals/{sid}")
    assert "read-only" in page and '<form class="feedback"' not in page
    status, _, body = fetch(f"{base}/signals/{sid}/feedback", data={"verdict": "useful"})
    assert status == 403 and "--allow-feedback" in body


def test_feedback_needs_allow_feedback_and_a_csrf_token(tmp_path: Path) -> None:
    seeded = seed(tmp_path)
    sid = seeded.ids[1]
    with serving(seeded, allow_feedback=True) as server:
        base = server.url.rstrip("/")
        _, _, page = fetch(f"{base}/signals/{sid}")
        token = csrf_of(page)
        url = f"{base}/signals/{sid}/feedback"
        assert fetch(url, data={"verdict": "useful"})[0] == 403
        assert fetch(url, data={"verdict": "useful", "csrf": "0" * 64})[0] == 403
        other = csrf_of(fetch(f"{base}/signals/{seeded.ids[2]}")[2])
        assert fetch(url, data={"verdict": "useful", "csrf": other})[0] == 403  # per signal
        cross = {"Origin": "https://evil.example"}
        assert fetch(url, data={"verdict": "noise", "csrf": token}, headers=cross)[0] == 403
        assert fetch(url, data={"verdict": "maybe", "csrf": token})[0] == 400
        status, headers, _ = fetch(url, data={"verdict": "noise", "csrf": token, "note": "dup"})
        assert status == 303 and headers["Location"] == f"/signals/{sid}?recorded=noise"
        assert api(base, f"/api/signals/{sid}")["verdict"] == "noise"
    with seeded.open() as m:
        assert m.latest_feedback() == {sid: "noise"}


# -- the command -------------------------------------------------------------------------------


def test_monitor_serve_answers_and_stops_on_sigterm(seeded: Seeded) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MONITOR_WEB"))}
    env.update(seeded.env, DATABASE_URL=seeded.url)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "serve",
            "--config",
            str(seeded.config),
            "--port",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = ""
        for line in process.stderr:  # logging lines first, then the address
            if "dashboard on" in line:
                break
        url = re.search(r"(http://\S+/)", line)
        assert url, line
        assert "read-only" in line
        status, _, body = fetch(url.group(1))
        assert status == 200 and "Thesis board" in body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_hostile_transport_inputs_get_clean_refusals(base: str) -> None:
    """From the security review: a body that is not read ends the connection (nothing can be
    smuggled after it), and ids, dates and searches that would overflow are refused."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    for raw in (
        b"POST /signals/1/feedback HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        b"GET /api/theses HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /api/theses HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ):
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(raw)
            answers = b""
            while chunk := conn.recv(65536):
                answers += chunk
        assert answers.count(b"HTTP/1.1 ") == 1, answers[:200]  # no smuggled second one
    for path in (
        "/signals/99999999999999999999",
        "/signals?until=9999-12-31",
        "/signals?search=" + "+".join(["a"] * 11),
    ):
        code = _status(base + path)
        assert code in (400, 404), (path, code)


def _status(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
