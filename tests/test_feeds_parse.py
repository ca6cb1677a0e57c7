"""parse_feed over the real captured feeds in corpus/feeds (see its MANIFEST.tsv)."""

# ruff: noqa: RUF001  (the expected titles are non-English on purpose)

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from monitor.errors import ParseError
from monitor.feeds.parse import parse_feed
from monitor.types import Item
from tests.corpus import feed_bytes

FEED_URL = "https://example.org/feed"


def parse(name: str, *, url: str = FEED_URL, content_type: str | None = None) -> list[Item]:
    return parse_feed(feed_bytes(name), source="corpus", url=url, content_type=content_type)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_rss2_item_fields() -> None:
    (item,) = parse("feed-rs__rss_2.0_bbc.xml")

    assert item == Item(
        source="corpus",
        item_id="urn:bbc:podcast:m000sjxt",
        title="Marcus Aurelius",
        summary="Melvyn Bragg and guests discuss...",
        link="http://www.bbc.co.uk/programmes/m000sjxt",
        published=utc(2021, 2, 25, 10, 15),
        updated=None,
        authors=("BBC Radio 4",),
        tags=(),
    )


def test_rss2_many_items_with_categories_and_creators() -> None:
    items = parse("rss-parser__guardian.rss")

    assert len(items) == 55
    first = items[0]
    assert first.title == "Trump State of the Union address promised unity but emphasized discord"
    assert first.published == utc(2018, 1, 31, 7, 26, 5)
    assert first.authors == ("David Smith in Washington",)
    assert first.tags[:3] == ("Donald Trump", "State of the Union address", "US news")


def test_rss10_rdf_with_dc_date() -> None:
    items = parse("RSParser__bio.rdf")

    assert len(items) == 30
    first = items[0]
    assert first.item_id == "http://biorxiv.org/cgi/content/short/743294v1?rss=1"
    assert first.title.startswith("Wheat inositol pyrophosphate kinase (TaVIH2-3B)")
    assert first.updated == utc(2019, 8, 27)  # dc:date
    assert first.published is None
    assert first.summary.startswith("Inositol pyrophosphates (PPx-InsPs) are of key interest")


def test_rss09_without_any_dates_keeps_every_item_with_link_ids() -> None:
    items = parse("miniflux__rdf_UTF8.xml")

    assert len(items) == 60
    assert all(i.published is None and i.updated is None for i in items)
    assert items[1].title == "Mega-Deal: IBM übernimmt Red Hat"
    assert items[1].item_id == items[1].link
    assert items[1].link == (
        "https://www.heise.de/newsticker/meldung/Mega-Deal-IBM-uebernimmt-Red-Hat-4205582.html"
        "?wt_mc=rss.ho.beitrag.rdf"
    )


def test_item_without_date() -> None:
    (item,) = parse("newsyacht__nodate.xml")

    assert item.title == "waydroid >= 1.5.4-3 update may require manual intervention"
    assert (item.published, item.updated) == (None, None)
    assert item.item_id.startswith("tag:archlinux.org,2025-11-06:/news/waydroid-154-3-update")


def test_atom_entries_with_html_content() -> None:
    items = parse("feed-rs__atom_example_6.xml")

    assert [i.title for i in items] == ["0.2.0", "0.1.3", "0.1.1", "0.1.0"]
    first = items[0]
    assert first.item_id == "tag:github.com,2008:Repository/90976281/v0.2.0"
    assert first.link == "https://github.com/feed-rs/feed-rs/releases/tag/v0.2.0"
    assert first.updated == utc(2020, 1, 19, 5, 8, 59)
    assert first.authors == ("markpritchard",)
    assert first.summary.startswith("A range of maintenance work, including: migrate to Rust 2018")
    assert "<" not in first.summary


def test_atom_with_several_authors_and_hard_line_breaks() -> None:
    items = parse("arxiv.py__search_query=au_del_maestro.xml")

    assert len(items) == 10
    second = items[1]
    assert second.title == "Thermal melting of density waves on the square lattice"
    assert second.authors == ("Adrian Del Maestro", "Subir Sachdev")
    assert second.tags == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert second.published == utc(2004, 12, 19, 16, 18, 24)
    assert "\n" not in second.summary and "  " not in second.summary


def test_atom_named_rss_is_sniffed_by_content() -> None:
    items = parse("RSParser__DaringFireball.rss")

    assert len(items) == 47
    assert items[0].item_id == "tag:daringfireball.net,2016:/linked//6.32173"
    assert items[0].title == "Apple Product Event: Monday March 21"
    # an escaped tag in the HTML is text, and survives as text
    assert "although the <title> tag on her story" in items[0].summary


def test_json_feed_1_1() -> None:
    items = parse("feed-rs__jsonfeed_elastic_1.1.json")

    assert len(items) == 3
    first = items[0]
    assert first.item_id == (
        "https://www.influxdata.com/blog/influxdb-outperforms-graphite-in-time-series-data"
        "-metrics-benchmark"
    )
    assert first.title == "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark"
    assert first.published == utc(2019, 5, 31, 19, 17, 58)
    assert first.authors == ("Chris Churilo", "Fake Author 1")
    assert first.tags == ("InfluxDB", "Community", "Elasticsearch", "Time Series Database")
    assert items[1].authors == ("Chris Churilo",)


def test_json_feed_1_1_html_content_and_feed_authors() -> None:
    items = parse("RSParser__3960.json", url="https://journal.3960.org/feed.json")

    assert len(items) == 20
    first = items[0]
    assert first.item_id == "user/posts/2020-02-21-lecker-lecker/index.md"
    assert first.title == "Lecker, lecker"
    assert first.link == "https://journal.3960.org/posts/2020-02-21-lecker-lecker/"
    assert first.summary == "Da ist es zwar nicht ganz billig, dafür schmeckt's aber auch nicht."
    assert first.authors == ("Frank Boës",)
    assert first.tags == ("Lustiges",)


def test_json_feed_1_0_with_escaped_slashes() -> None:
    items = parse("feedjira__json_feed_with_escaped_uris.json")

    assert len(items) == 30
    assert items[0].link == "https://lukedorny.com/updates/new-font"
    assert items[0].updated == utc(2025, 1, 7, 1, 2, 25)

    inessential = parse("feedjira__json_feed.json")
    assert inessential[0].title == "James Dempsey and the Breakpoints Benefit App Camp for Girls"
    assert inessential[0].authors == ("Brent Simmons",)  # 1.0 feed-level "author"
    assert inessential[0].published == utc(2017, 6, 3, 5, 5, 47)


def test_json_feed_detected_by_content_type_despite_leading_whitespace() -> None:
    body = (
        b'\n  {"version": "https://jsonfeed.org/version/1.1", "items": [{"id": 7, "title": "T"}]}'
    )

    (item,) = parse_feed(body, source="s", url=FEED_URL, content_type="application/feed+json")

    assert (item.item_id, item.title) == ("7", "T")


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("rss-parser__encoding.rss", "Mãe de utente é a nova presidente da Raríssimas"),
        ("miniflux__encoding_WINDOWS-1251.xml", "Цитата #17703"),
        (
            "node-feedparser__iconv.xml",
            "В Бузулуке главные стройплощадки – детсад и Ледовый дворец",
        ),
        ("RSParser__kc0011.rss", "建国35周年纪念，华表，和平鸽"),
        ("miniflux__encoding_ISO-8859-1.xml", None),
    ],
)
def test_legacy_encodings_are_decoded(name: str, title: str | None) -> None:
    items = parse(name)

    if title is not None:
        assert items[0].title == title
    assert not any("\ufffd" in i.title + i.summary for i in items)


def test_latin1_without_declaration_uses_http_charset() -> None:
    items = parse(
        "miniflux__no_encoding_ISO-8859-1.xml",
        content_type="application/rss+xml; charset=ISO-8859-1",
    )

    assert items[0].title == "Perturbateurs endocriniens : quels effets sur le cerveau ?"
    assert items[0].summary.startswith(
        "Si leur impact semble discret au premier abord, nombre d'études"
    )


def test_latin1_without_declaration_or_charset_falls_back() -> None:
    items = parse("rss-parser__uolNoticias.rss", content_type="application/rss+xml")

    assert len(items) == 15
    assert (
        items[0].title
        == "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    )


def test_bom_and_cr_line_endings() -> None:
    items = parse("RSParser__donthitsave.xml")

    assert len(items) == 10
    assert items[0].title == "Skipping Around"
    assert items[0].published == utc(2019, 5, 24, 7)


def test_relative_entry_links_resolve_against_feed_url() -> None:
    items = parse("rss-parser__gulp-atom.atom", url="https://github.com/gulpjs/gulp/releases.atom")

    assert items[0].link == "https://github.com/gulpjs/gulp/releases/tag/v3.9.0"

    tpm = parse("node-feedparser__tpm.atom", url="https://talkingpointsmemo.com/feed/all")
    assert tpm[0].link == (
        "https://talkingpointsmemo.com/livewire/"
        "hannity-announces-fox-hired-sebastian-gorka-national-security-strategist"
    )


def test_item_level_xml_base_and_mixed_html_description() -> None:
    items = parse("feed-rs__rss_2.0_relurl_1.xml")

    assert [i.link for i in items] == [
        "https://insanity.industries/post/pareto-optimal-compression/",
        "https://insanity.industries/post/pacman-tracking-leftover-packages/",
    ]
    assert items[0].summary == (
        "Everyone wants good compression. But what exactly is good compression? "
        "Time for a closer look."
    )


def test_html_heavy_content_encoded_becomes_plain_text() -> None:
    items = parse("rss-parser__content-encoded.rss")

    first = items[0]
    assert first.title == "THE CREATIVE FORAGER"
    assert first.summary.startswith(
        "Using Wild Ingredients in the Kitchen HEY, YOU! YES, YOU WITH THE EYEBALLS!"
    )
    for item in items:
        assert "<" not in item.summary and "&amp;" not in item.summary
        assert len(item.summary) <= 4000


def test_escaped_html_tables_in_reddit_descriptions() -> None:
    items = parse("rss-parser__reddit.rss")

    assert items[0].summary == "submitted by cakebeerandmorebeer to funny [link] [275 comments]"
    assert all("<td" not in i.summary for i in items)


def test_html_title_is_stripped() -> None:
    items = parse("feedjira__google_alerts_atom.xml")

    assert items[0].title == (
        "Report offers Prediction of Automotive Slack Market by Top key players like Haldex, "
        "Meritor, Bendix ..."
    )


def test_bozo_feed_with_entries_is_accepted_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.feeds"):
        items = parse("feedjira__TechCrunch.xml", url="https://techcrunch.com/feed/")

    assert len(items) == 20
    assert items[0].title.startswith("Angie’s List Sets Price Range IPO At $11 To $13 Per Share")
    assert any(
        "https://techcrunch.com/feed/" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )


def test_routine_content_type_mismatch_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.feeds"):
        items = parse("feed-rs__rss_2.0_bbc.xml", content_type="text/html; charset=utf-8")

    assert len(items) == 1
    assert caplog.records == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("feed-rs__rss_2.0_invalid_1.xml", "not a readable feed"),
        ("RSParser__allthis-partial.json", "not valid JSON"),
        ("RSParser__ScriptingNews.json", "JSON but not a JSON Feed"),
        ("arxiv.py__q_testing_s0_m10_bc5a6c384fe9.json", "JSON but not a JSON Feed"),
    ],
)
def test_broken_corpus_files_are_parse_errors(name: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse(name, url="https://broken.example/feed")

    assert info.value.url == "https://broken.example/feed"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", None, "body is empty"),
        (b"  \n\t", None, "body is empty"),
        (
            b"<!DOCTYPE html><html><head><title>Shop</title></head><body>hi</body></html>",
            "text/html",
            "HTML page, not a feed",
        ),
        (b"\x00\x01\x02 garbage \xff\xfe", None, "not a readable feed"),
        (b"<note><to>Tove</to></note>", "application/xml", "not RSS, RDF or Atom"),
        (b"{not json", "application/json", "not valid JSON"),
        (b"[1, 2, 3]", "application/json", "JSON but not a JSON Feed"),
        (b"plain words", "application/feed+json", "not valid JSON"),
        (b"[" * 100_000, "application/json", "not valid JSON"),
    ],
)
def test_bodies_that_are_not_feeds_are_parse_errors(
    body: bytes, content_type: str | None, message: str
) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, source="s", url=FEED_URL, content_type=content_type)


def test_valid_feed_without_items_is_empty() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'

    assert parse_feed(body, source="s", url=FEED_URL, content_type="application/rss+xml") == []


def test_hostile_json_items_are_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [
                42,
                {"id": "ok-1", "title": "Good one"},
                {"id": ["not", "a", "string"], "title": {"x": 1}, "tags": "nope"},
                {"id": "ok-2", "title": "Also good", "date_published": "not a date"},
                {},
            ],
        }
    ).encode()

    with caplog.at_level(logging.WARNING, logger="monitor.feeds"):
        items = parse_feed(body, source="s", url=FEED_URL)

    assert [(i.item_id, i.title, i.published) for i in items] == [
        ("ok-1", "Good one", None),
        ("ok-2", "Also good", None),
    ]
    skipped = [r.getMessage() for r in caplog.records if "skipping entry" in r.getMessage()]
    assert skipped == [
        f"skipping entry 0 of {FEED_URL}: JSON Feed item is a int, not an object",
        f"skipping entry 2 of {FEED_URL}: entry has no id, link, title or text",
        f"skipping entry 4 of {FEED_URL}: entry has no id, link, title or text",
    ]


def test_empty_rss_items_are_skipped_and_repeated_ids_dropped() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><guid>urn:x:a</guid><title>First</title></item>
      <item></item>
      <item><guid>urn:x:a</guid><title>Repeat of first</title></item>
      <item><link>javascript:alert(1)</link><description>&lt;script&gt;x()&lt;/script&gt;</description></item>
    </channel></rss>"""

    items = parse_feed(body, source="s", url=FEED_URL, content_type="application/rss+xml")

    assert [(i.item_id, i.title) for i in items] == [("urn:x:a", "First")]


def test_item_without_guid_or_link_gets_a_content_hash_id() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>Outage resolved</title><description>All good now.</description></item>
    </channel></rss>"""

    (item,) = parse_feed(body, source="s", url=FEED_URL, content_type="application/rss+xml")
    (again,) = parse_feed(body, source="s", url=FEED_URL, content_type="application/rss+xml")

    assert item.item_id.startswith("sha256:") and len(item.item_id) == len("sha256:") + 64
    assert item.item_id == again.item_id
    assert item.link is None


def test_guid_without_link_is_kept_as_id() -> None:
    items = parse("rss2email__fastmailstatus_feed.rss")

    assert items[0].item_id == "2EC9D062-A182-11EB-8CC4-B51653FE9AF7"
    assert items[0].title == "Login & sessions - Up"
    assert items[0].link is None


def test_every_readable_corpus_feed_parses_to_clean_items() -> None:
    """A sweep: whatever the quirk, items come out normalised (or the file is a ParseError)."""
    from tests.corpus import corpus_dir

    feeds = sorted((corpus_dir() / "feeds").glob("*"))
    parsed = 0
    for path in feeds:
        if path.suffix == ".tsv":
            continue
        try:
            items = parse_feed(path.read_bytes(), source="corpus", url=FEED_URL)
        except ParseError:
            continue
        parsed += 1
        for item in items:
            assert item.item_id and len(item.item_id) <= 512
            assert len(item.title) <= 500 and len(item.summary) <= 4000
            assert item.link is None or item.link.startswith(("http://", "https://"))
            assert item.published is None or item.published.tzinfo is UTC
            assert "\n" not in item.title and "\x00" not in item.summary
    assert parsed >= 50
