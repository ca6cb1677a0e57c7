"""Pure rendering of an :class:`~monitor.types.Alert` for Slack (Block Kit) and the console.

Nothing here does I/O; every function maps an alert (plain data) to text or dicts.

Decisions:

* **Feed text is hostile.** Titles, snippets, source names and links come from the internet.
  :func:`escape_mrkdwn` escapes ``&``, ``<`` and ``>`` the way Slack documents
  (``&amp;``, ``&lt;``, ``&gt;``), which defuses every control sequence Slack parses
  (``<!channel>``, ``<!here>``, ``<@U…>``, ``<!subteam^…>``, ``<http://evil|click>``), because
  they all need a literal ``<``.
* **Formatting characters are replaced by look-alikes**, not by zero-width spaces: Slack's
  handling of a zero-width space next to ``*`` is undocumented and has changed, whereas a
  different code point can never start formatting: ``*`` becomes U+2217 ASTERISK OPERATOR,
  ``_`` U+02CD MODIFIER LETTER LOW MACRON, ``~`` U+223C TILDE OPERATOR and the backtick
  U+02CB MODIFIER LETTER GRAVE ACCENT. A reader sees the same text; the cost is that
  copied text differs in those characters.
* **Quotes:** ``&gt;`` at the start of a line would still render as a block quote, so a
  zero-width space (U+200B) is put in front of such a line. Plain-text ``@channel``,
  ``@here`` and ``@everyone`` get a zero-width space after the ``@``, and every mrkdwn text
  object is sent with ``verbatim: true`` so that Slack does not auto-parse mentions or URLs.
* **Links:** only ``http``/``https`` URLs with a host become the title link; ``|``, ``<``,
  ``>``, whitespace and control characters in the URL are percent-encoded and ``&`` is
  escaped. Any other link is dropped and the title shown unlinked (the console still prints it).
* **Limits:** Block Kit allows 3000 characters per section text and 150 per header. Every
  field has a budget measured *after* escaping, so a cut never splits an entity or a link;
  a cut field ends with "…" (:func:`monitor.text.truncate`: plain fields are cut anywhere).
* **Console text** has ANSI escape sequences, C0/C1 control characters and bidi overrides
  removed, so an item cannot move the cursor, recolour the terminal or reorder text.
* **The judge's reason** (optional, see ``monitor.matching.judge``) is model output that may
  echo feed text: it is sanitised there and goes through the same escaping here.
* **Plain-text objects** (headers, button labels, dialog titles) are not parsed by Slack, but
  they get the same defence anyway (:func:`plain_text`): ``<``/``>`` become the look-alikes
  U+2039/U+203A, formatting characters their look-alikes and broadcast words get the
  zero-width space, so no feed text anywhere in a message carries a control sequence, even if
  Slack's handling of plain text changes.

Layout (one alert, :func:`render_blocks`): header (polarity, or "⚖️ MIXED EVIDENCE", with
"🚨 URGENT" in front for an urgent alert) · the urgent reason (context) · thesis and criterion
(for mixed evidence, every side with its polarity) · linked title, source and time · evidence
with the matched words in bold · the judge's reason · context (running tally, matched terms,
score, thesis, signal id) · the "more" line · the verdict, or the feedback buttons.

* **Emphasis is ours alone.** Matched terms are found in the *raw* snippet (case-insensitive,
  on letter/digit boundaries, not after ``@``; a query's trailing ``*`` matches a prefix, and
  the words of a phrase match across any run of other characters, as tokenising does, so
  ``"capex driven"`` finds ``capex-driven``) and marked with the control characters
  U+0001/U+0002, which :func:`one_line` has already removed from feed text. The marked text
  is then escaped and cut as usual (the marks count one character each, like the ``*`` that
  replaces them), a mark left open by a cut is dropped, and only then do the marks become
  ``*``. So a match never lands inside an entity such as ``&amp;``, and since feed
  ``*``/``_``/``~``/backticks are look-alikes, every ``*`` in the evidence is one of a balanced
  pair of ours.
* **Mixed evidence** (``Alert.mixed_with``): the header says "⚖️ MIXED EVIDENCE" instead of a
  polarity, and the criterion section lists the alert's own side first, then up to
  :data:`MIXED_SHOWN` sides in all, with "…and N more".
* **Tally** ("3rd kill signal in 30 days", :func:`tally_line`): shown only when known
  (``tally > 0``), with English ordinals (11th-13th are "th").
* **Feedback:** with ``buttons=True`` an ``actions`` block (block_id ``monitor_feedback:<id>``)
  holds Useful (primary), Noise and "Mute source 7 days" (with a confirm dialog); every value
  is the signal id. Once a verdict is known the buttons give way to "Marked useful by <name>"
  (the name is escaped like feed text), so a message updated after a click cannot be clicked
  twice.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.text import ELLIPSIS, truncate
from monitor.types import Alert, Notice, Polarity

ZWSP = "\u200b"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FALLBACK_LIMIT = 300
URL_LIMIT = 2000
MIXED_SHOWN = 5
MUTE_DAYS = 7

MIXED_LABEL = "⚖️ MIXED EVIDENCE"
URGENT_LABEL = "🚨 URGENT"
URGENT_DEFAULT = (
    "this kill signal is over the severity threshold, so it bypassed digests, quiet hours and mutes"
)
FEEDBACK_BLOCK_PREFIX = "monitor_feedback:"
ACTION_USEFUL = "monitor_useful"
ACTION_NOISE = "monitor_noise"
ACTION_MUTE_SOURCE = "monitor_mute_source"

POLARITY_LABELS: dict[Polarity, str] = {
    "confirm": "🟢 CONFIRM",
    "kill": "🔴 KILL",
    "watch": "🟡 WATCH",
}

_LOOKALIKES = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_QUOTE_LINE = re.compile(r"^(?=[ \t]*&gt;)", re.MULTILINE)
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f|<>\"]")
_PLAIN_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})
_MARK_OPEN, _MARK_CLOSE = "\x01", "\x02"  # removed from feed text by one_line
_TERM_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
_TERM_SPLIT = re.compile(r"[\W_]+")
_VERDICTS: dict[str, tuple[str, str]] = {
    "useful": ("✅", "Marked useful"),
    "noise": ("🗑️", "Marked noise"),
    "mute_source": ("🔕", f"Source muted for {MUTE_DAYS} days"),
}


def escape_mrkdwn(text: str) -> str:
    """Make feed text inert in Slack mrkdwn (see the module docstring for the choices)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.translate(_LOOKALIKES)
    text = _BROADCAST.sub("@" + ZWSP, text)
    return _QUOTE_LINE.sub(ZWSP, text)


def strip_terminal_controls(text: str) -> str:
    """Remove ANSI escape sequences, control characters (except newline/tab) and bidi overrides."""
    return _CONTROL.sub("", _ANSI.sub("", text))


def one_line(text: str) -> str:
    """Control characters removed and every run of whitespace collapsed to one space."""
    return _WHITESPACE.sub(" ", strip_terminal_controls(text)).strip()


def escape_within(text: str, limit: int) -> str:
    """Escape ``text`` for mrkdwn and cut the *raw* text so the escaped result fits ``limit``.

    Cutting before escaping means an entity such as ``&amp;`` is never split.
    """
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    keep = min(len(text), limit)
    while keep > 0:
        escaped = escape_mrkdwn(text[:keep].rstrip()) + ELLIPSIS
        if len(escaped) <= limit:
            return escaped
        keep -= max(1, (len(escaped) - limit) // 5)
    return ELLIPSIS


def safe_link(url: str | None) -> str | None:
    """The URL made safe inside ``<url|text>``, or None if it is not a usable http(s) link."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    encoded = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), url)
    encoded = encoded.replace("&", "&amp;")
    return encoded if len(encoded) <= URL_LIMIT else None


def format_published(published: datetime | None) -> str:
    """``2026-03-25 17:00 UTC``, or ``date unknown``. A naive datetime is taken as UTC."""
    if published is None:
        return "date unknown"
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plain_text(text: str, limit: int) -> str:
    """Text for a ``plain_text`` object: one line, angle brackets as look-alikes, broadcast
    words defused, cut to ``limit``."""
    text = one_line(text).translate(_PLAIN_ANGLES).translate(_LOOKALIKES)
    return truncate(_BROADCAST.sub("@" + ZWSP, text), limit)


def mrkdwn(text: str) -> dict[str, Any]:
    """A ``mrkdwn`` text object sent verbatim (Slack does not auto-link or auto-mention)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def header_block(text: str) -> dict[str, Any]:
    """A header block; ``text`` is made safe and cut to the header limit."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": plain_text(text, HEADER_LIMIT), "emoji": True},
    }


def polarity_label(polarity: str) -> str:
    """The emoji label of a polarity; an unknown one (from data) is shown escaped."""
    known = {str(p): label for p, label in POLARITY_LABELS.items()}
    return known.get(polarity) or escape_within(one_line(polarity).upper() or "?", 20)


def alert_label(alert: Alert) -> str:
    """What the alert is at a glance: urgent, mixed or its polarity (plain text, no feed text)."""
    label = MIXED_LABEL if alert.mixed_with else POLARITY_LABELS[alert.polarity]
    return f"{URGENT_LABEL} {label}" if alert.urgent else label


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ``112th``…"""
    if n % 100 in (11, 12, 13):
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def tally_line(alert: Alert) -> str:
    """``3rd kill signal in 30 days`` (plain text), or "" when the tally is unknown."""
    if alert.tally <= 0:
        return ""
    days = "1 day" if alert.tally_days == 1 else f"{alert.tally_days} days"
    return f"{ordinal(alert.tally)} {alert.polarity} signal in {days}"


def verdict_text(alert: Alert, *, escape: bool = True) -> str:
    """``✅ Marked useful by Ann`` (mrkdwn-escaped unless ``escape=False``), or ""."""
    if alert.verdict is None:
        return ""
    clean = escape_within if escape else truncate
    icon, phrase = _VERDICTS.get(alert.verdict, ("☑️", ""))
    if not phrase:
        phrase = f"Marked {clean(one_line(alert.verdict), 40)}"
    who = one_line(alert.verdict_by or "")
    return f"{icon} {phrase} by {clean(who, 80)}" if who else f"{icon} {phrase}"


def urgent_text(alert: Alert) -> str:
    """The urgent reason as plain text (the caller escapes it)."""
    return one_line(alert.urgent_reason) or URGENT_DEFAULT


def _header_text(alert: Alert) -> str:
    title = one_line(alert.thesis_title) or alert.thesis_id
    return f"{alert_label(alert)} · {title}"


def title_mrkdwn(alert: Alert, limit: int) -> str:
    """The item title escaped to ``limit``, as a link to the item when the link is safe."""
    title = escape_within(one_line(alert.item_title) or "(untitled)", limit)
    link = safe_link(alert.item_link)
    return f"<{link}|{title}>" if link else title


def _terms_mrkdwn(alert: Alert, limit: int) -> str:
    terms = ", ".join(one_line(t) for t in alert.matched_terms if one_line(t))
    return escape_within(terms, limit) if terms else "—"


def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = []
    for term in terms:
        word = one_line(term).strip('"')
        prefix = word.endswith("*")
        word = _TERM_EDGES.sub("", word)
        if word:
            body = r"[\W_]+".join(re.escape(part) for part in _TERM_SPLIT.split(word))
            alternatives.append(body + (r"[^\W_]*" if prefix else ""))
    if not alternatives:
        return None
    alternatives.sort(key=len, reverse=True)  # phrases before their words
    return re.compile(
        r"(?<![^\W_])(?<!@)(?:" + "|".join(alternatives) + r")(?![^\W_])", re.IGNORECASE
    )


def emphasise_within(text: str, terms: tuple[str, ...], limit: int) -> str:
    """``text`` escaped and cut to ``limit`` with the matched ``terms`` in bold.

    See the module docstring: terms are marked in the raw text, then escaped and cut."""
    text = one_line(text)
    pattern = _terms_pattern(terms)
    if pattern is not None:
        text = pattern.sub(lambda m: f"{_MARK_OPEN}{m[0]}{_MARK_CLOSE}", text)
    escaped = escape_within(text, limit)
    opened = escaped.rfind(_MARK_OPEN)
    if opened > escaped.rfind(_MARK_CLOSE):  # a cut fell inside a match
        escaped = escaped[:opened] + escaped[opened + 1 :]
    return escaped.replace(_MARK_OPEN, "*").replace(_MARK_CLOSE, "*")


def _criterion_mrkdwn(alert: Alert) -> str:
    if not alert.mixed_with:
        return (
            f"*Criterion* {escape_within(one_line(alert.criterion_id), 100)}: "
            f"{escape_within(one_line(alert.criterion_text), 2500)}"
        )
    sides = [(alert.polarity, alert.criterion_id, alert.criterion_text), *alert.mixed_with]
    lines = ["*Mixed evidence:* this item is evidence for both sides of the thesis."]
    for polarity, criterion_id, criterion_text in sides[:MIXED_SHOWN]:
        lines.append(
            f"*{polarity_label(polarity)}* {escape_within(one_line(criterion_id), 100)}: "
            f"{escape_within(one_line(criterion_text), 300)}"
        )
    if len(sides) > MIXED_SHOWN:
        lines.append(f"…and {len(sides) - MIXED_SHOWN} more criteria")
    return "\n".join(lines)


def feedback_actions(alert: Alert) -> dict[str, Any]:
    """The ``actions`` block with the Useful / Noise / Mute source buttons of one signal."""
    value = str(alert.signal_id)
    source = escape_within(one_line(alert.source) or "this source", 150)

    def button(action_id: str, label: str) -> dict[str, Any]:
        text = {"type": "plain_text", "text": label, "emoji": True}
        return {"type": "button", "action_id": action_id, "text": text, "value": value}

    mute = button(ACTION_MUTE_SOURCE, f"Mute source {MUTE_DAYS} days")
    mute["confirm"] = {
        "title": {"type": "plain_text", "text": "Mute this source?"},
        "text": mrkdwn(f"No alerts from {source} for {MUTE_DAYS} days."),
        "confirm": {"type": "plain_text", "text": "Mute"},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }
    return {
        "type": "actions",
        "block_id": f"{FEEDBACK_BLOCK_PREFIX}{alert.signal_id}",
        "elements": [
            {**button(ACTION_USEFUL, "Useful"), "style": "primary"},
            button(ACTION_NOISE, "Noise"),
            mute,
        ],
    }


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts if t]}


def render_blocks(alert: Alert, *, buttons: bool = False) -> list[dict[str, Any]]:
    """The alert as Block Kit blocks (the layout is in the module docstring)."""
    item = (
        f"*{title_mrkdwn(alert, 300)}*\n"
        f"*Source:* {escape_within(one_line(alert.source), 200)}"
        f" · *Published:* {format_published(alert.published)}"
    )
    snippet = one_line(alert.snippet) or "—"
    evidence = f"*Evidence:*\n{emphasise_within(snippet, alert.matched_terms, 2900)}"
    context = (
        f"*Matched:* {_terms_mrkdwn(alert, 2000)} · score {alert.score:.2f}"
        f" · thesis {escape_within(one_line(alert.thesis_id), 200)}"
        f" · signal #{alert.signal_id}"
    )
    tally = tally_line(alert)
    blocks: list[dict[str, Any]] = [header_block(_header_text(alert))]
    if alert.urgent:
        blocks.append(_context(f"🚨 *Urgent:* {escape_within(urgent_text(alert), 2800)}"))
    blocks += [
        {"type": "section", "text": mrkdwn(_criterion_mrkdwn(alert))},
        {"type": "section", "text": mrkdwn(item)},
        {"type": "section", "text": mrkdwn(evidence)},
    ]
    reason = one_line(alert.judge_reason or "")
    if reason:
        judge = f"*Judge:* {escape_within(reason, 500)}"
        blocks.append({"type": "section", "text": mrkdwn(judge)})
    blocks.append(_context(f"📈 *{tally}* for this thesis" if tally else "", context))
    if alert.more:
        blocks.append({"type": "section", "text": mrkdwn(escape_within(more_line(alert), 500))})
    if alert.verdict is not None:
        blocks.append(_context(verdict_text(alert)))
    elif buttons:
        blocks.append(feedback_actions(alert))
    return blocks


def more_line(alert: Alert) -> str:
    """The summary line of an alert that stands for capped signals (plain text)."""
    source = one_line(alert.source)
    return (
        f"…and {alert.more} more signal(s) from {source} in the same cycle, over the limit of "
        f"alerts per source: recorded, not alerted; see `monitor signals --source {source}`"
    )


def render_fallback(alert: Alert) -> str:
    """The message ``text``: what push notifications and screen readers show (≤ 300 chars)."""
    head = f"{alert_label(alert)} {escape_within(one_line(alert.thesis_title), 80)}"
    ids = [alert.criterion_id, *(side[1] for side in alert.mixed_with)]
    crit = escape_within(" vs ".join(one_line(i) for i in ids), 40)
    source = escape_within(one_line(alert.source), 40)
    extras = [truncate(tally_line(alert), 40), escape_within(verdict_text(alert, escape=False), 40)]
    while True:  # the verdict goes first when the title would get too little room
        tail = "".join(f" · {text}" for text in extras if text)
        room = FALLBACK_LIMIT - len(head) - len(crit) - len(source) - len(tail) - 10
        if room >= 20 or not extras:
            break
        extras.pop()
    title = escape_within(one_line(alert.item_title) or "(untitled)", max(room, 20))
    return f"{head} — {crit}: {title} ({source}){tail}"


def render_console(alert: Alert) -> str:
    """A multi-line plain-text layout with the same information as the Slack message."""
    terms = ", ".join(one_line(t) for t in alert.matched_terms) or "—"
    link = one_line(alert.item_link or "") or "—"
    criterion_text = one_line(alert.criterion_text)
    lines = [
        f"{alert_label(alert)}  {one_line(alert.thesis_title)}  [{one_line(alert.thesis_id)}]",
    ]
    if alert.urgent:
        lines.append(f"  Urgent:    {truncate(urgent_text(alert), 500)}")
    lines.append(f"  Criterion: {one_line(alert.criterion_id)} — {truncate(criterion_text, 500)}")
    for polarity, criterion_id, text in alert.mixed_with:
        side = f"{one_line(polarity)} {one_line(criterion_id)} — {one_line(text)}"
        lines.append(f"  Mixed:     also evidence for {truncate(side, 500)}")
    lines += [
        f"  Item:      {truncate(one_line(alert.item_title) or '(untitled)', 300)}",
        f"  Link:      {truncate(link, URL_LIMIT)}",
        f"  Source:    {truncate(one_line(alert.source), 200)}",
        f"  Published: {format_published(alert.published)}",
        f"  Evidence:  {truncate(one_line(alert.snippet) or '—', 1000)}",
        f"  Matched:   {truncate(terms, 500)} (score {alert.score:.2f}, signal #{alert.signal_id})",
    ]
    if alert.tally > 0:
        lines.append(f"  Tally:     {tally_line(alert)}")
    if one_line(alert.judge_reason or ""):
        lines.append(f"  Judge:     {truncate(one_line(alert.judge_reason or ''), 500)}")
    if alert.more:
        lines.append(f"  More:      {truncate(more_line(alert), 500)}")
    if alert.verdict is not None:
        lines.append(f"  Verdict:   {verdict_text(alert, escape=False)}")
    return "\n".join(lines)


_NOTICE_ICONS = {"up": "📈", "down": "📉", "info": "🔔"}


def notice_blocks(notice: Notice) -> list[dict[str, Any]]:
    """A :class:`~monitor.types.Notice` as Block Kit: a header and its lines, escaped."""
    header = truncate(f"{_NOTICE_ICONS[notice.tone]} {one_line(notice.title)}", HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    ]
    text = "\n".join(escape_within(one_line(line), 600) for line in notice.lines)
    if text:
        blocks.append({"type": "section", "text": mrkdwn(text[:SECTION_LIMIT])})
    return blocks


def notice_fallback(notice: Notice) -> str:
    return escape_within(f"{_NOTICE_ICONS[notice.tone]} {one_line(notice.title)}", FALLBACK_LIMIT)


def notice_console(notice: Notice) -> str:
    lines = [f"{_NOTICE_ICONS[notice.tone]}  {one_line(notice.title)}"]
    lines += [f"  {truncate(one_line(line), 600)}" for line in notice.lines]
    return "\n".join(lines)
