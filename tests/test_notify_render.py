"""Rendering of alerts: content, escaping of hostile feed text, limits, console output."""

from __future__ import annotations

import io
import json
import re
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
from monitor.notify.render import mrkdwn
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
        "Microsoft said *capex* would rise 20% next year",
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


# -- hostile text in every field, anywhere in the message ------------------------------------

HOSTILE_TEXT = (
    "> quote <!channel> <!here> <@U123> <#C1|general> <!subteam^S1|@team> "
    "<http://evil.example|click> *bold* _it_ ~strike~ `code` &gt; x @here @channel @everyone "
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 \u202egnp.exe AT&T capex"
)
SAFE_URL = "https://example.com/"
_OUR_LINK = re.compile(r"<https://example\.com/[^|<>\s]*\|([^<>]*)>")
_BROADCASTS = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_TEXT_KEYS = {"text", "title", "confirm", "deny"}


def hostile_alert(size: int = 1, **changes: Any) -> Alert:
    """An alert whose every text field is hostile, ``size`` copies long."""
    text = " ".join([HOSTILE_TEXT] * size)
    fields: dict[str, Any] = {
        "thesis_id": text,
        "thesis_title": text,
        "criterion_id": text,
        "criterion_text": text,
        "item_title": text,
        "item_link": SAFE_URL + "a|<!channel>&b= c>" + "p" * size,
        "source": text,
        "snippet": text,
        "matched_terms": ("capex", "channel", "here", "gt", "amp", "*bold*", "<@U123>", text),
        "judge_reason": text,
        "urgent_reason": text,
        "mixed_with": (("kill", text, text), (text, text, text)),
        "verdict_by": text,
    }
    fields.update(changes)
    return replace(ALERT, **fields)


def block_strings(value: Any, key: str = "") -> list[str]:
    """Every human-visible string in Block Kit JSON (ids, types and values left out)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in block_strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in block_strings(v, key)]
    return [value] if isinstance(value, str) and key in _TEXT_KEYS else []


def assert_inert(text: str) -> None:
    """No mention, link, formatting, quote or terminal control that is not ours."""
    assert "\x1b" not in text and "\u202e" not in text
    assert all(ch.isprintable() or ch in "\n\u200b" for ch in text)
    bare = _OUR_LINK.sub(r"\1", text)
    assert "<" not in bare and ">" not in bare, text[:300]
    assert not _BROADCASTS.search(text)
    for forbidden in ("_", "~", "`", "*bold*"):
        assert forbidden not in bare
    for line in bare.splitlines():
        assert line.count("*") % 2 == 0
        assert not line.lstrip(" \t").startswith(("&gt;", ">"))


def assert_blocks_inert(blocks: list[dict[str, Any]]) -> None:
    strings = block_strings(blocks)
    assert strings
    for text in strings:
        assert_inert(text)
    assert all(len(t) <= 3000 for t in mrkdwn_texts(blocks))
    assert len(header_text(blocks)) <= 150


@pytest.mark.parametrize("size", [1, 3, 40, 400])
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"urgent": True, "polarity": "kill"},
        {"mixed_with": ()},
        {"verdict": "useful"},
        {"verdict": "<!channel> *x*"},
        {"item_link": "javascript:alert(1)"},
    ],
)
def test_hostile_text_in_every_field_stays_inert(size: int, changes: dict[str, Any]) -> None:
    alert = hostile_alert(size, **changes)
    for buttons in (False, True):
        assert_blocks_inert(render_blocks(alert, buttons=buttons))
    fallback = render_fallback(alert)
    assert len(fallback) <= 300
    assert_inert(fallback)
    console = render_console(alert)
    assert "\x1b" not in console and all(ch.isprintable() or ch == "\n" for ch in console)


def test_ten_thousand_character_title_keeps_every_limit() -> None:
    alert = hostile_alert(item_title="<!channel> *" * 1000, snippet="capex " * 2000)
    blocks = render_blocks(alert, buttons=True)
    assert_blocks_inert(blocks)
    assert len(render_fallback(alert)) <= 300


# -- emphasis of the matched words ------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "terms", "expected"),
    [
        ("Microsoft raised capex", ("capex",), "Microsoft raised *capex*"),
        ("CAPEX and Capex", ("capex",), "*CAPEX* and *Capex*"),
        ("capexes and xcapex and capex_x", ("capex",), "capexes and xcapex and *capex*\u02cdx"),
        ("hyperscalers spend", ("hyperscal*",), "*hyperscalers* spend"),
        ("capex-driven growth", ('"capex driven"',), "*capex-driven* growth"),
        ("capex guidance up", ("capex", "capex guidance"), "*capex guidance* up"),
        ("AT&T amp", ("amp", "t"), "AT&amp;*T* *amp*"),
        ("ping @here now", ("here",), "ping @\u200bhere now"),
        ("*capex* _capex_", ("capex",), "\u2217*capex*\u2217 \u02cd*capex*\u02cd"),
        ("no match here", ("capex",), "no match here"),
        ("capex", (), "capex"),
        ("capex", ("*", '""', "  "), "capex"),
    ],
)
def test_matched_words_are_emphasised_after_escaping(
    snippet: str, terms: tuple[str, ...], expected: str
) -> None:
    evidence = mrkdwn_texts(render_blocks(replace(ALERT, snippet=snippet, matched_terms=terms)))[2]
    assert evidence.startswith(f"*Evidence:*\n{expected}")
    assert evidence.count("*") % 2 == 0


@pytest.mark.parametrize("limit", range(1, 40))
def test_a_cut_never_leaves_an_emphasis_open(limit: int) -> None:
    from monitor.notify.render import emphasise_within

    text = emphasise_within("alpha capex beta capex & capex gamma", ("capex", "beta"), limit)
    assert len(text) <= limit
    assert text.count("*") % 2 == 0
    assert "**" not in text


# -- tally, mixed evidence, urgency, feedback -------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"),
        (12, "12th"), (13, "13th"), (14, "14th"), (21, "21st"), (22, "22nd"), (23, "23rd"),
        (101, "101st"), (111, "111th"), (112, "112th"), (113, "113th"), (1002, "1002nd"),
    ],
)  # fmt: skip
def test_ordinals(n: int, expected: str) -> None:
    from monitor.notify.render import ordinal

    assert ordinal(n) == expected


def test_running_tally_is_shown_when_known() -> None:
    alert = replace(ALERT, polarity="kill", tally=3)
    for text in (
        "\n".join(mrkdwn_texts(render_blocks(alert))),
        render_fallback(alert),
        render_console(alert),
    ):
        assert "3rd kill signal in 30 days" in text
    assert "1st confirm signal in 1 day" in render_console(replace(ALERT, tally=1, tally_days=1))
    plain = "\n".join(mrkdwn_texts(render_blocks(ALERT))) + render_console(ALERT)
    assert "signal in" not in plain and "Tally" not in plain


def test_mixed_evidence_says_so_and_lists_both_sides() -> None:
    alert = replace(ALERT, mixed_with=(("kill", "K2", "Capex guidance is cut"),))
    blocks = render_blocks(alert)
    assert header_text(blocks) == "⚖️ MIXED EVIDENCE · AI capex keeps rising"
    criterion = mrkdwn_texts(blocks)[0]
    assert "*Mixed evidence:*" in criterion
    assert "*🟢 CONFIRM* C1: Hyperscaler raises capex guidance" in criterion
    assert "*🔴 KILL* K2: Capex guidance is cut" in criterion
    assert render_fallback(alert).startswith("⚖️ MIXED EVIDENCE")
    assert "C1 vs K2" in render_fallback(alert)
    console = render_console(alert)
    assert console.startswith("⚖️ MIXED EVIDENCE")
    assert "also evidence for kill K2 — Capex guidance is cut" in console


def test_many_mixed_sides_are_capped() -> None:
    sides = tuple(("kill", f"K{i}", "x" * 1000) for i in range(20))
    criterion = mrkdwn_texts(render_blocks(replace(ALERT, mixed_with=sides)))[0]
    assert "…and 16 more criteria" in criterion and len(criterion) <= 3000


def test_urgent_alert_says_it_bypassed_digests_quiet_hours_and_mutes() -> None:
    alert = replace(ALERT, polarity="kill", urgent=True)
    blocks = render_blocks(alert)
    assert header_text(blocks).startswith("🚨 URGENT 🔴 KILL")
    assert blocks[1]["type"] == "context"
    assert "bypassed digests, quiet hours and mutes" in blocks[1]["elements"][0]["text"]
    reason = "kill score 0.93 ≥ 0.90 bypasses digests, quiet hours and mutes"
    custom = replace(alert, urgent_reason=reason)
    assert f"🚨 *Urgent:* {reason}" in mrkdwn_texts(render_blocks(custom))
    assert render_fallback(custom).startswith("🚨 URGENT 🔴 KILL")
    assert f"  Urgent:    {reason}" in render_console(custom).splitlines()
    assert "URGENT" not in json.dumps(render_blocks(ALERT)) + render_console(ALERT)


def test_buttons_only_when_asked() -> None:
    assert all(b["type"] != "actions" for b in render_blocks(ALERT))
    actions = render_blocks(ALERT, buttons=True)[-1]
    assert actions["type"] == "actions"
    assert actions["block_id"] == "monitor_feedback:42"
    useful, noise, mute = actions["elements"]
    assert [e["action_id"] for e in actions["elements"]] == [
        "monitor_useful",
        "monitor_noise",
        "monitor_mute_source",
    ]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Useful",
        "Noise",
        "Mute source 7 days",
    ]
    assert all(e["type"] == "button" and e["value"] == "42" for e in actions["elements"])
    assert useful["style"] == "primary" and "style" not in noise and "confirm" not in useful
    dialog = mute["confirm"]
    assert {"title", "text", "confirm", "deny"} <= dialog.keys()
    assert "Reuters" in dialog["text"]["text"] and len(dialog["text"]["text"]) <= 300


@pytest.mark.parametrize(
    ("verdict", "by", "shown"),
    [
        ("useful", "Ann", "✅ Marked useful by Ann"),
        ("noise", "Bob", "🗑️ Marked noise by Bob"),
        ("mute_source", "Cy", "🔕 Source muted for 7 days by Cy"),
        ("useful", None, "✅ Marked useful"),
        (
            "useful",
            "<@U1> *Ann* @here",
            "✅ Marked useful by &lt;@U1&gt; \u2217Ann\u2217 @\u200bhere",
        ),
    ],
)
def test_verdict_replaces_the_buttons(verdict: str, by: str | None, shown: str) -> None:
    alert = replace(ALERT, verdict=verdict, verdict_by=by)
    blocks = render_blocks(alert, buttons=True)
    assert all(b["type"] != "actions" for b in blocks)
    assert blocks[-1] == {"type": "context", "elements": [mrkdwn(shown)]}
    assert shown.split(" by ")[0] in render_fallback(alert)
    assert "  Verdict:   " in render_console(alert)


def test_fallback_keeps_its_limit_with_every_extra() -> None:
    alert = hostile_alert(
        40, urgent=True, tally=10**30, tally_days=10**30, verdict="useful", polarity="kill"
    )
    assert len(render_fallback(alert)) <= 300
