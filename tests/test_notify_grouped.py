"""Groups and digests: layout, Slack's limits on every part, hostile text, console output."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.notify.grouped import (
    MAX_BLOCKS,
    SlackMessage,
    paginate,
    render_digest,
    render_digest_console,
    render_group,
    render_group_console,
)
from monitor.types import Alert, Polarity
from tests.test_notify_render import (
    ALERT,
    SAFE_URL,
    assert_blocks_inert,
    assert_inert,
    header_text,
    hostile_alert,
    mrkdwn_texts,
)

START = datetime(2026, 3, 25, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)
_SIGNAL = re.compile(r"signal #(\d+)")
POLARITIES: tuple[Polarity, ...] = ("confirm", "kill", "watch")


def many(n: int, *, theses: int = 1, **changes: Any) -> list[Alert]:
    return [
        replace(
            ALERT,
            signal_id=i,
            thesis_id=f"t{i % theses}",
            thesis_title=f"Thesis {i % theses}",
            polarity=POLARITIES[i % 3],
            score=(i * 37 % 100) / 100,
            published=START + timedelta(minutes=i),
            **changes,
        )
        for i in range(n)
    ]


def digest(alerts: list[Alert], title: str = "Daily digest") -> list[SlackMessage]:
    return render_digest(alerts, title=title, period_start=START, period_end=END)


def assert_within_limits(messages: list[SlackMessage], alerts: list[Alert]) -> None:
    """Every part within Slack's limits, numbered, and every alert in exactly one part, once."""
    assert messages
    seen: Counter[int] = Counter()
    for number, message in enumerate(messages, start=1):
        assert len(message.blocks) <= MAX_BLOCKS
        assert all(len(t) <= 3000 for t in mrkdwn_texts(message.blocks))
        assert len(header_text(message.blocks)) <= 150
        assert len(message.text) <= 300
        if len(messages) > 1:
            assert header_text(message.blocks).endswith(f"(part {number} of {len(messages)})")
            assert message.text.endswith(f"(part {number} of {len(messages)})")
        body = "\n".join(mrkdwn_texts(message.blocks)[1:])
        seen.update(int(i) for i in _SIGNAL.findall(body))
    assert seen == Counter(a.signal_id for a in alerts)


# -- packing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_a_section_holds_lines_up_to_exactly_the_text_limit(extra: int) -> None:
    heading = "H" * 100
    line = "x" * (3000 - len(heading) - 1 - 1 - 1000 + extra)  # heading \n line \n 1000
    pages = paginate([(heading, [line, "y" * 1000])])
    assert len(pages) == 1
    sections = pages[0]
    assert len(sections) == (1 if extra <= 0 else 2)
    assert all(len(s) <= 3000 for s in sections)
    if extra == 0:
        assert len(sections[0]) == 3000


@pytest.mark.parametrize("n", [0, 1, 47, 48, 49, 96, 97, 200])
def test_pages_hold_up_to_exactly_the_block_limit(n: int) -> None:
    pages = paginate([(None, [f"line {i}" for i in range(n)])], pack=False)
    assert [len(p) for p in pages] == (
        [48] * (n // 48) + [n % 48] if n % 48 or not n else [48] * (n // 48)
    )
    assert [s for p in pages for s in p] == [f"line {i}" for i in range(n)]


def test_a_continued_thesis_repeats_its_heading() -> None:
    pages = paginate([("*T*", ["a" * 2000] * 60)], body_blocks=48)
    assert pages[0][0].startswith("*T*\n") and pages[1][0].startswith("*T* (continued)\n")
    assert not any(s.startswith("*T*") for s in pages[0][1:])


def test_a_line_that_cannot_fit_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        paginate([("h", ["x" * 3000])])


# -- a burst of one thesis --------------------------------------------------------------------


def test_group_has_header_one_section_per_alert_and_the_latest_tally() -> None:
    alerts = [
        replace(ALERT, signal_id=1, polarity="kill", tally=2, published=START),
        replace(ALERT, signal_id=2, polarity="kill", tally=3, published=START + timedelta(1)),
        replace(ALERT, signal_id=3, tally=5, published=START + timedelta(hours=1)),
    ]
    [message] = render_group(alerts)
    assert header_text(message.blocks) == "3 signals · AI capex keeps rising"
    texts = mrkdwn_texts(message.blocks)
    assert "3rd kill signal in 30 days" in texts[0] and "5th confirm signal in 30 days" in texts[0]
    assert "2nd" not in texts[0]
    sections = texts[1:]
    assert [int(_SIGNAL.findall(s)[0]) for s in sections] == [1, 3, 2]  # time order
    assert "🔴 KILL *C1*" in sections[0]
    assert "*<https://example.com/news/1|Microsoft lifts capex outlook>*" in sections[0]
    assert "Reuters" in sections[0] and "score 0.82" in sections[0]
    assert message.text.startswith("3 signals · AI capex keeps rising")
    with pytest.raises(FrozenInstanceError):
        message.text = "x"  # type: ignore[misc]


def test_group_refuses_several_theses_or_none() -> None:
    with pytest.raises(ValueError):
        render_group([ALERT, replace(ALERT, thesis_id="other")])
    with pytest.raises(ValueError):
        render_group([])


def test_group_marks_mixed_urgent_and_judged_alerts() -> None:
    alerts = [
        replace(ALERT, signal_id=1, mixed_with=(("kill", "K2", "cut"),)),
        replace(ALERT, signal_id=2, polarity="kill", urgent=True),
        replace(ALERT, signal_id=3, verdict="noise", verdict_by="Ann"),
    ]
    body = "\n".join(mrkdwn_texts(render_group(alerts)[0].blocks)[1:])
    assert "⚖️ MIXED EVIDENCE" in body and "also kill K2" in body
    assert "🚨 URGENT 🔴 KILL" in body
    assert "Marked noise by Ann" in body


@pytest.mark.parametrize("n", [1, 2, 47, 48, 49, 96, 97, 150])
def test_group_splits_within_the_limits(n: int) -> None:
    alerts = many(n)
    messages = render_group(alerts)
    assert len(messages) == -(-n // 48)
    assert_within_limits(messages, alerts)


# -- a digest ---------------------------------------------------------------------------------


def test_digest_groups_by_thesis_then_polarity_sorted_by_score_with_counts() -> None:
    alerts = [
        replace(ALERT, signal_id=1, thesis_id="a", thesis_title="Alpha", score=0.5),
        replace(ALERT, signal_id=2, thesis_id="a", thesis_title="Alpha", score=0.9),
        replace(
            ALERT, signal_id=3, thesis_id="a", thesis_title="Alpha", polarity="kill", score=0.1
        ),
        replace(ALERT, signal_id=4, thesis_id="b", thesis_title="Beta", score=0.95),
    ]
    [message] = digest(alerts)
    assert header_text(message.blocks) == "Daily digest"
    texts = mrkdwn_texts(message.blocks)
    assert "2026-03-25 00:00 UTC to 2026-03-26 00:00 UTC" in texts[0]
    assert "4 signals across 2 theses" in texts[0]
    beta, alpha = texts[1:]
    assert beta.startswith("*Beta* · 1 signal: 1 🟢 CONFIRM")
    assert alpha.startswith("*Alpha* · 3 signals: 1 🔴 KILL, 2 🟢 CONFIRM")
    assert [int(i) for i in _SIGNAL.findall(alpha)] == [3, 2, 1]
    assert message.text == "Daily digest: 4 signals across 2 theses"


def test_empty_digest_is_one_message() -> None:
    [message] = digest([])
    assert "No signals in this period." in mrkdwn_texts(message.blocks)
    assert "0 signals across 0 theses" in message.text


@pytest.mark.parametrize("n", [0, 1, 2, 10, 47, 48, 49, 50, 95, 96, 97, 300])
@pytest.mark.parametrize("theses", [1, 3, 40])
@pytest.mark.parametrize("hostile", [False, True])
def test_digest_parts_keep_the_limits_and_every_alert_once(
    n: int, theses: int, hostile: bool
) -> None:
    changes: dict[str, Any] = {}
    if hostile:
        long = hostile_alert(12)  # every field over its budget
        changes = {
            "item_title": long.item_title,
            "source": long.source,
            "criterion_text": long.criterion_text,
            "criterion_id": long.criterion_id,
            "item_link": SAFE_URL + "p" * 1990,
            "mixed_with": long.mixed_with,
            "verdict": "useful",
            "verdict_by": long.verdict_by,
        }
    alerts = many(n, theses=theses, **changes)
    messages = digest(alerts, title=hostile_alert(40).thesis_title if hostile else "Digest")
    assert_within_limits(messages, alerts)
    if hostile:
        for message in messages:
            assert_blocks_inert(message.blocks)
            assert_inert(message.text)


@pytest.mark.parametrize(("n", "parts"), [(48, 1), (49, 2), (96, 2), (97, 3)])
def test_digest_at_exactly_fifty_blocks(n: int, parts: int) -> None:
    # lines of ~1,600 characters: one per section, so n alerts are n sections
    alerts = many(n, item_link=SAFE_URL + "p" * 1400)
    messages = digest(alerts)
    assert len(messages) == parts
    assert len(messages[0].blocks) == 50
    assert_within_limits(messages, alerts)


def test_hostile_text_in_a_group_stays_inert() -> None:
    for size in (1, 10, 40):  # 40 copies: 10,000-character fields
        alerts = [replace(hostile_alert(size), signal_id=i, tally=i + 1) for i in range(60)]
        for message in render_group(alerts):
            assert_blocks_inert(message.blocks)
            assert_inert(message.text)


# -- console --------------------------------------------------------------------------------


def test_console_renderings_have_the_information_and_no_controls() -> None:
    alerts = many(5, theses=2, tally=3)
    group = render_group_console([a for a in alerts if a.thesis_id == "t0"])
    text = render_digest_console(alerts, title="Daily", period_start=START, period_end=END)
    assert group.startswith("3 signals · Thesis 0  [t0]")
    assert text.startswith("Daily\n  2026-03-25 00:00 UTC to 2026-03-26 00:00 UTC · 5 signals")
    for expected in ("Thesis 1  [t1] · 2 signals", "Microsoft lifts capex outlook", "signal #4"):
        assert expected in text
    assert "https://example.com/news/1" in group and "signal in 30 days" in group
    hostile = [replace(hostile_alert(3), signal_id=i) for i in range(3)]
    for rendered in (
        render_group_console(hostile),
        render_digest_console(hostile, title="\x1b[2J", period_start=START, period_end=END),
    ):
        assert "\x1b" not in rendered and "\u202e" not in rendered
        assert all(ch.isprintable() or ch == "\n" for ch in rendered)
    empty = render_digest_console([], title="D", period_start=START, period_end=END)
    assert "No signals in this period." in empty
