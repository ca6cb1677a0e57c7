"""Table tests of the pure normalisation rules (monitor/feeds/normalise.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.feeds.normalise import (
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    EmptyEntryError,
    RawEntry,
    Text,
    canonical_link,
    clean_strings,
    item_id,
    normalise_entry,
    plain_text,
    sha256_id,
    to_utc,
)
from monitor.text import shorten as truncate  # feed text is cut at a word when one is near
from monitor.types import Item

BASE = "https://Example.org/feeds/news.xml"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("/post/1", "https://example.org/post/1"),
        ("post/1", "https://example.org/feeds/post/1"),
        ("//cdn.example.net/x", "https://cdn.example.net/x"),
        ("HTTPS://WWW.Example.ORG/Path/Keeps/Case", "https://www.example.org/Path/Keeps/Case"),
        ("https://example.org/a#comments", "https://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        (
            "https://example.org/a?id=7&utm_source=rss&utm_medium=feed&UTM_Campaign=x",
            "https://example.org/a?id=7",
        ),
        ("https://example.org/a?fbclid=abc&gclid=def", "https://example.org/a"),
        ("https://example.org/a?b=2&a=1&utm_x=&c", "https://example.org/a?b=2&a=1&c"),
        ("https://example.org/a?q=caf%C3%A9+au+lait", "https://example.org/a?q=caf%C3%A9+au+lait"),
        ("https://example.org/a?utm_notreally_a_prefix", "https://example.org/a"),
        ("  https://example.org/a \n", "https://example.org/a"),
        ("https://[2001:DB8::1]/a", "https://[2001:db8::1]/a"),
        ("https://user@Example.org/a", "https://user@example.org/a"),
        ("mailto:someone@example.org", None),
        ("javascript:alert(1)", None),
        ("ftp://example.org/file", None),
        ("data:text/html,hi", None),
        ("https://[broken/a", None),
        ("https://example.org:99999/a", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_canonical_link(link: str | None, expected: str | None) -> None:
    assert canonical_link(link, base=BASE) == expected


def test_canonical_link_without_base_keeps_relative_links_out() -> None:
    assert canonical_link("/post/1") is None
    assert canonical_link("https://example.org/post/1") == "https://example.org/post/1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (Text("<p>Hello <b>world</b></p>"), "Hello world"),
        (Text("<p>one</p><p>two</p>"), "one two"),
        (Text("line<br>break<br/>here"), "line break here"),
        (Text("<ul><li>a</li><li>b</li></ul>"), "a b"),
        (Text("x<script>alert('hi')</script>y"), "xy"),
        (Text("<style>p { color: red }</style>Visible"), "Visible"),
        (Text("<SCRIPT type='text/javascript'>var a = '<p>';</SCRIPT>after"), "after"),
        (
            Text("Fish &amp; Chips &lt;3 &#8212; &eacute;t&eacute; &#x1F609;"),
            "Fish & Chips <3 — été 😉",
        ),
        (Text("  lots \n\n of\t\twhitespace  "), "lots of whitespace"),
        (Text("non&nbsp;breaking"), "non breaking"),
        (Text("bell\x07 and nul\x00 and esc\x1b gone"), "bell and nul and esc gone"),
        (Text("c1\x85control\x9f"), "c1 control"),
        (Text("unclosed <b>bold"), "unclosed bold"),
        (Text("a < b and c > d"), "a < b and c > d"),
        (Text("<!-- a comment -->text<![CDATA[ x ]]>"), "text"),
        (Text("AT&T <rocks>", html=False), "AT&T <rocks>"),
        (Text("double &amp;amp; escaped", html=False), "double &amp; escaped"),
        (Text("plain\r\nlines", html=False), "plain lines"),
        (Text(""), ""),
        (None, ""),
    ],
)
def test_plain_text(text: Text | None, expected: str) -> None:
    assert plain_text(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("alpha beta gamma delta epsilon", 20, "alpha beta gamma…"),  # cut at a near space
        ("one two three four five", 12, "one two thr…"),  # the last space is too far back
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi…"),
        ("word " * 10, 20, "word word word word…"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("not a date", None),
        ("2019-05-31T19:17:58Z", datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)),
        ("2019-05-31T21:17:58+02:00", datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)),
        ("2019-05-31T19:17:58", datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)),
        ("2019-05-31", datetime(2019, 5, 31, tzinfo=UTC)),
        ("Thu, 25 Feb 2021 10:15:00 GMT", datetime(2021, 2, 25, 10, 15, tzinfo=UTC)),
        ("Thu, 25 Feb 2021 05:15:00 -0500", datetime(2021, 2, 25, 10, 15, tzinfo=UTC)),
        ("  Thu, 25 Feb 2021 10:15:00 +0000\n", datetime(2021, 2, 25, 10, 15, tzinfo=UTC)),
        ("Thu, 45 Feb 2021 10:15:00 GMT", None),
        (
            time.struct_time((2020, 1, 19, 5, 8, 59, 6, 19, 0)),
            datetime(2020, 1, 19, 5, 8, 59, tzinfo=UTC),
        ),
        (time.struct_time((2020, 13, 40, 5, 8, 59, 6, 19, 0)), None),
        (datetime(2020, 1, 1, 12), datetime(2020, 1, 1, 12, tzinfo=UTC)),
        (
            datetime(2020, 1, 1, 12, tzinfo=timezone(timedelta(hours=5))),
            datetime(2020, 1, 1, 7, tzinfo=UTC),
        ),
    ],
)
def test_to_utc(value: object, expected: datetime | None) -> None:
    result = to_utc(value)  # type: ignore[arg-type]
    assert result == expected
    if result is not None:
        assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw_id", "link", "title", "summary", "expected"),
    [
        ("  urn:x:1 ", "https://example.org/a", "T", "S", "urn:x:1"),
        ("", "https://example.org/a", "T", "S", "https://example.org/a"),
        (None, "https://example.org/a", "T", "S", "https://example.org/a"),
        ("\x00\x01", "https://example.org/a", "T", "S", "https://example.org/a"),
        (None, None, "T", "S", sha256_id("T\nS")),
        (None, None, "", "only summary", sha256_id("\nonly summary")),
        ("x" * 600, None, "T", "", sha256_id("x" * 600)),
        (None, None, "", "", None),
    ],
)
def test_item_id(
    raw_id: str | None, link: str | None, title: str, summary: str, expected: str | None
) -> None:
    assert item_id(raw_id, link=link, title=title, summary=summary) == expected


def test_sha256_id_format() -> None:
    assert sha256_id("abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((" Alice ", "Bob", "", "  ", "Alice", "Carol\n Dee"), ("Alice", "Bob", "Carol Dee")),
        ((), ()),
    ],
)
def test_clean_strings(values: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert clean_strings(values) == expected


def test_normalise_entry_full() -> None:
    raw = RawEntry(
        id="tag:example.org,2025:1",
        link="/news/1?utm_source=rss#top",
        title=Text("Acme <em>beats</em> estimates", html=True),
        summary=Text("<p>Revenue &amp; margin up.</p>"),
        content=Text("<p>ignored because there is a summary</p>"),
        published="2025-03-01T09:00:00+01:00",
        updated=time.struct_time((2025, 3, 2, 0, 0, 0, 6, 61, 0)),
        authors=(" Jane Roe ", "Jane Roe"),
        tags=("Earnings", " ", "Acme"),
    )

    assert normalise_entry(raw, source="wire", feed_url=BASE) == Item(
        source="wire",
        item_id="tag:example.org,2025:1",
        title="Acme beats estimates",
        summary="Revenue & margin up.",
        link="https://example.org/news/1",
        published=datetime(2025, 3, 1, 8, tzinfo=UTC),
        updated=datetime(2025, 3, 2, tzinfo=UTC),
        authors=("Jane Roe",),
        tags=("Earnings", "Acme"),
    )


def test_summary_falls_back_to_content() -> None:
    raw = RawEntry(
        id="1", title=Text("T", html=False), summary=Text("  "), content=Text("<p>Body</p>")
    )

    assert normalise_entry(raw, source="s", feed_url=BASE).summary == "Body"


def test_title_falls_back_to_summary_then_link() -> None:
    from_summary = RawEntry(summary=Text("Word " * 60))
    from_link = RawEntry(link="https://example.org/x")

    title = normalise_entry(from_summary, source="s", feed_url=BASE).title
    assert title.startswith("Word Word") and title.endswith("…") and len(title) <= 120
    assert normalise_entry(from_link, source="s", feed_url=BASE).title == "https://example.org/x"


def test_caps_title_and_summary() -> None:
    raw = RawEntry(id="1", title=Text("t" * 2000, html=False), summary=Text("s " * 5000))

    item = normalise_entry(raw, source="s", feed_url=BASE)

    assert len(item.title) == MAX_TITLE_CHARS
    assert len(item.summary) <= MAX_SUMMARY_CHARS
    assert item.summary.endswith("…")


def test_empty_entry_is_refused() -> None:
    with pytest.raises(EmptyEntryError):
        normalise_entry(RawEntry(link="javascript:void(0)"), source="s", feed_url=BASE)


def test_caps_tags_authors_and_links_of_a_hostile_entry() -> None:
    from monitor.feeds.normalise import MAX_AUTHORS, MAX_LABEL_CHARS, MAX_LINK_CHARS, MAX_TAGS

    raw = RawEntry(
        id="1",
        title=Text("t", html=False),
        link="https://example.com/" + "a" * MAX_LINK_CHARS,
        tags=("x" * 50_000, *(f"tag{n}" for n in range(10_000))),
        authors=tuple(f"author {n} " + "y" * 1000 for n in range(500)),
    )

    item = normalise_entry(raw, source="s", feed_url=BASE)

    assert len(item.tags) == MAX_TAGS and item.tags[1] == "tag0"
    assert len(item.authors) == MAX_AUTHORS
    assert all(len(a) <= MAX_LABEL_CHARS for a in item.authors + item.tags)
    assert item.link is None  # a link longer than any real one is dropped
    assert (
        normalise_entry(
            RawEntry(id="2", title=Text("t", html=False), link="https://example.com/ok"),
            source="s",
            feed_url=BASE,
        ).link
        == "https://example.com/ok"
    )


@pytest.mark.parametrize("keep_whitespace", [False, True])
def test_remove_control_chars_drops_exactly_unicode_controls_and_surrogates(
    keep_whitespace: bool,
) -> None:
    """Against the definition, over every code point."""
    import unicodedata

    from monitor.feeds.normalise import remove_control_chars

    everything = "".join(chr(c) for c in range(0x110000))
    expected = "".join(
        ch
        for ch in everything
        if (keep_whitespace and ch.isspace()) or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    assert remove_control_chars(everything, keep_whitespace=keep_whitespace) == expected
