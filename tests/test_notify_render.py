"""Rendering of alerts: content, escaping of hostile feed text, limits, console output."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.notify import (
    ConsoleNotifier,
    escape_mrkdwn,
    render_blocks,
    render_console,
    render_fallback,
)
from monitor.types import Alert, DeliveryReceipt, Polarity

ALERT = Alert(
    signal_id=42,
    polarity="confirm",
    thesis_id="ai-capex",
    thesis_title="AI capex keeps rising",
    criterion_id="C1",
    criterion_text="Hyperscaler raises capex guidance",
    item_title="Microsoft lifts capex outlook",
    item_link="https://example.com/news/1",
    source="Reuters",
    published=datetime(2026, 3, 25, 17, 0, tzinfo=UTC),
    snippet="Microsoft said capex would rise 20% next year",
    matched_terms=("capex", "guidance"),
    score=0.82,
)


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text object in the blocks (section texts and context elements)."""
    texts = []
    for block in blocks:
        objects = [block.get("text"), *block.get("elements", [])]
        texts += [o["text"] for o in objects if o and o["type"] == "mrkdwn"]
    return texts


def header_text(blocks: list[dict[str, Any]]) -> str:
    return str(next(b for b in blocks if b["type"] == "header")["text"]["text"])


def slack_output(alert: Alert) -> str:
    blocks = render_blocks(alert)
    return "\n".join([header_text(blocks), *mrkdwn_texts(blocks), render_fallback(alert)])


@pytest.mark.parametrize(
    ("polarity", "label"),
    [("confirm", "🟢 CONFIRM"), ("kill", "🔴 KILL"), ("watch", "🟡 WATCH")],
)
def test_polarity_is_shown_in_header_fallback_and_console(polarity: Polarity, label: str) -> None:
    alert = replace(ALERT, polarity=polarity)
    assert header_text(render_blocks(alert)) == f"{label} · AI capex keeps rising"
    assert render_fallback(alert).startswith(label)
    assert render_console(alert).startswith(label)


def test_blocks_carry_criterion_item_link_source_date_snippet_and_terms() -> None:
    text = "\n".join(mrkdwn_texts(render_blocks(ALERT)))
    for expected in [
        "C1",
        "Hyperscaler raises capex guidance",
        "<https://example.com/news/1|Microsoft lifts capex outlook>",
        "Reuters",
        "2026-03-25 17:00 UTC",
        "Microsoft said capex would rise 20% next year",
        "capex, guidance",
        "0.82",
        "ai-capex",
    ]:
        assert expected in text


def test_every_mrkdwn_object_is_verbatim() -> None:
    blocks = render_blocks(ALERT)
    objects = [b["text"] for b in blocks if "text" in b and b["type"] == "section"]
    objects += [e for b in blocks for e in b.get("elements", [])]
    assert objects
    assert all(o["verbatim"] is True for o in objects)


HOSTILE = [
    # (feed text, what must not survive, what it becomes)
    ("<!channel> buy now", "<!channel>", "&lt;!channel&gt;"),
    ("<!here>", "<!here>", "&lt;!here&gt;"),
    ("<!everyone>", "<!everyone>", "&lt;!everyone&gt;"),
    ("hey <@U024BE7LH>", "<@U", "&lt;@U024BE7LH&gt;"),
    ("<!subteam^S123|@analysts>", "<!subteam", "&lt;!subteam^S123|@analysts&gt;"),
    ("<http://evil.example|click>", "<http://evil", "&lt;http://evil.example|click&gt;"),
    ("@channel wake up", "@channel", "@\u200bchannel"),
    ("@here and @everyone", "@here", "@\u200bhere and @\u200beveryone"),
    ("*bold*", "*bold*", "\u2217bold\u2217"),
    ("_it_", "_it_", "\u02cdit\u02cd"),
    ("~strike~", "~strike~", "\u223cstrike\u223c"),
    ("`code`", "`code`", "\u02cbcode\u02cb"),
    ("AT&T", "AT&T", "AT&amp;T"),
]


@pytest.mark.parametrize(("hostile", "forbidden", "escaped"), HOSTILE)
def test_escape_mrkdwn_neutralises(hostile: str, forbidden: str, escaped: str) -> None:
    assert escaped in escape_mrkdwn(hostile)
    assert forbidden not in escape_mrkdwn(hostile)


@pytest.mark.parametrize("field", ["item_title", "snippet", "source"])
@pytest.mark.parametrize(("hostile", "forbidden", "escaped"), HOSTILE)
def test_feed_fields_are_escaped_everywhere_in_slack(
    field: str, hostile: str, forbidden: str, escaped: str
) -> None:
    changes: dict[str, Any] = {field: f"news {hostile} end"}
    output = slack_output(replace(ALERT, **changes))
    assert forbidden not in output
    assert escaped in output


@pytest.mark.parametrize(
    "text",
    ["> quoted", "  > indented quote", ">>> block quote"],
)
def test_quote_markers_cannot_start_a_line(text: str) -> None:
    assert escape_mrkdwn(text).startswith("\u200b")
    evidence = mrkdwn_texts(render_blocks(replace(ALERT, snippet=text)))[2]
    assert all(not line.lstrip().startswith(("&gt;", ">")) for line in evidence.splitlines())


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://example.com/a?x=1&y=2", "<https://example.com/a?x=1&amp;y=2|Title>"),
        ("http://example.com/a", "<http://example.com/a|Title>"),
        ("https://example.com/a|b>c<d", "<https://example.com/a%7Cb%3Ec%3Cd|Title>"),
        ("https://example.com/a b\nc", "<https://example.com/a%20b%0Ac|Title>"),
    ],
)
def test_http_links_become_the_title_link(link: str, expected: str) -> None:
    item = mrkdwn_texts(render_blocks(replace(ALERT, item_title="Title", item_link=link)))[1]
    assert item.startswith(f"*{expected}*")


@pytest.mark.parametrize(
    "link",
    [None, "", "javascript:alert(1)", "ftp://example.com/x", "mailto:a@b.c", "https://", "/rel"],
)
def test_other_links_leave_the_title_unlinked(link: str | None) -> None:
    item = mrkdwn_texts(render_blocks(replace(ALERT, item_title="Title", item_link=link)))[1]
    assert item.startswith("*Title*")
    assert "<" not in item


@pytest.mark.parametrize(
    ("published", "shown"),
    [
        (None, "date unknown"),
        (datetime(2026, 3, 25, 17, 0, tzinfo=UTC), "2026-03-25 17:00 UTC"),
        (datetime(2026, 3, 25, 19, 0, tzinfo=timezone(timedelta(hours=2))), "2026-03-25 17:00 UTC"),
        (datetime(2026, 3, 25, 17, 0), "2026-03-25 17:00 UTC"),
    ],
)
def test_publication_time_is_utc_or_unknown(published: datetime | None, shown: str) -> None:
    alert = replace(ALERT, published=published)
    assert shown in mrkdwn_texts(render_blocks(alert))[1]
    assert f"Published: {shown}" in render_console(alert)


@pytest.mark.parametrize(
    "changes",
    [
        {"item_title": "T" * 10_000},
        {"snippet": "word " * 5_000},
        {"snippet": "&" * 5_000},
        {"criterion_text": "<" * 5_000},
        {"source": "S" * 5_000, "matched_terms": tuple("term" * 50 for _ in range(100))},
        {"item_link": "https://example.com/" + "p" * 5_000},
        {"thesis_title": "A very long thesis title " * 20},
    ],
)
def test_block_kit_limits_are_kept(changes: dict[str, Any]) -> None:
    alert = replace(ALERT, **changes)
    blocks = render_blocks(alert)
    assert len(header_text(blocks)) <= 150
    assert all(len(text) <= 3000 for text in mrkdwn_texts(blocks))
    assert len(render_fallback(alert)) <= 300


def test_truncation_ends_with_ellipsis_and_never_splits_an_entity() -> None:
    blocks = render_blocks(replace(ALERT, snippet="&" * 5_000, thesis_title="X" * 500))
    evidence = mrkdwn_texts(blocks)[2]
    assert evidence.endswith("&amp;…")
    assert header_text(blocks).endswith("…")


def test_console_layout_has_the_same_information() -> None:
    text = render_console(ALERT)
    for expected in [
        "🟢 CONFIRM",
        "AI capex keeps rising",
        "C1 — Hyperscaler raises capex guidance",
        "Microsoft lifts capex outlook",
        "https://example.com/news/1",
        "Reuters",
        "2026-03-25 17:00 UTC",
        "Microsoft said capex would rise 20% next year",
        "capex, guidance",
    ]:
        assert expected in text
    assert len(text.splitlines()) > 5


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[31mred\x1b[0m",
        "\x1b]0;title\x07",
        "bell\x07 backspace\x08",
        "\u202egnp.exe",
        "\x9bcsi",
        "line\r\noverwrite",
    ],
)
def test_console_strips_control_and_escape_characters(hostile: str) -> None:
    text = render_console(replace(ALERT, item_title=hostile, snippet=hostile, source=hostile))
    assert all(ch == "\n" or ch.isprintable() for ch in text)
    assert "\x1b" not in text
    assert "\u202e" not in text


def test_console_notifier_writes_alert_and_blank_line() -> None:
    stream = io.StringIO()
    receipt = ConsoleNotifier(stream).send(ALERT)
    assert stream.getvalue() == render_console(ALERT) + "\n\n"
    assert receipt == DeliveryReceipt(channel="console")


def test_console_notifier_reports_a_closed_stream() -> None:
    from monitor.errors import NotifyError

    stream = io.StringIO()
    stream.close()
    with pytest.raises(NotifyError) as info:
        ConsoleNotifier(stream).send(ALERT)
    assert info.value.channel == "console"
