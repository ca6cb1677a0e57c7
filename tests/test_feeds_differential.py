"""The fast XML path against feedparser: same items, or the body is routed to feedparser.

For every captured feed in corpus/feeds, ``parse_feed`` (``engine="auto"``) must give what
the feedparser path gives. Where the fast path reads a body (``engine="fast"``) it must give
the same items; where it refuses, the body must be listed in ACCEPTED_DIFFERENCES with the
refusal that routes it to feedparser. A second table does the same for small constructed
bodies that exercise feedparser's rules one at a time.
"""

from __future__ import annotations

import logging

import pytest

from monitor.errors import ParseError
from monitor.feeds import fastparse
from monitor.feeds.fastparse import FastPathRefused
from monitor.feeds.parse import Engine, ParsedFeed, parse_feed, parse_feed_detailed
from monitor.types import Item
from tests.corpus import corpus_dir, feed_bytes

URL = "https://example.org/dir/feed"
CORPUS = sorted(p.name for p in (corpus_dir() / "feeds").iterdir() if p.name != "MANIFEST.tsv")

# Corpus files the fast path does not read, each with the start of the refusal that sends it to
# feedparser. Everything else in the corpus is read by the fast path (or is JSON) and compared.
ACCEPTED_DIFFERENCES: dict[str, str] = {
    "RSParser__bio.rdf": "root <rdf:RDF> is not RSS 2.0 or Atom 1.0",
    "RSParser__kc0011.rss": "declared encoding gb2312 is not UTF-8",
    "edgarkit__edgar_company_atom.xml": "declared encoding ISO-8859-1 is not UTF-8",
    "edgarkit__usgaap.rss": "declared encoding windows-1252 is not UTF-8",
    "feed-rs__rss_2.0_invalid_1.xml": "not well-formed XML",  # truncated: feedparser's errors
    "feed-rs__rss_2.0_relurl_1.xml": "<em> inside <description> is read as markup",
    "feedjira__DuplicateContentAtomFeed.xml": "a DOCTYPE",  # an XHTML page wrapping a feed
    "feedjira__TechCrunch.xml": "not well-formed XML",  # newline before <?xml: lenient parse
    "feedjira__youtube_atom.xml": "not well-formed XML",  # whitespace before <?xml: lenient
    "miniflux__encoding_ISO-8859-1.xml": "declared encoding ISO-8859-1 is not UTF-8",
    "miniflux__encoding_WINDOWS-1251.xml": "declared encoding windows-1251 is not UTF-8",
    "miniflux__no_encoding_ISO-8859-1.xml": "the body is not valid UTF-8",
    "miniflux__rdf_UTF8.xml": "root <rdf:RDF> is not RSS 2.0 or Atom 1.0",
    "node-feedparser__iconv.xml": "declared encoding windows-1251 is not UTF-8",
    "node-feedparser__illegally-nested.xml": "an <item> where no entry belongs",
    "node-feedparser__intertwingly.atom": "<xhtml:div> inside <content> is read as markup",
    "node-feedparser__invalid-characters-gzipped.xml": "root <?> is not RSS 2.0 or Atom 1.0",
    "rss-parser__craigslist.rss": "root <rdf:RDF> is not RSS 2.0 or Atom 1.0",
    "rss-parser__encoding.rss": "declared encoding ISO-8859-1 is not UTF-8",
    "rss-parser__uolNoticias.rss": "root <rss> is not RSS 2.0",  # no version, Latin-1 bytes
}


def outcome(body: bytes, engine: Engine, content_type: str | None = None) -> list[Item] | str:
    """The items, or the ParseError's message when the body is no feed."""
    try:
        return parse_feed(body, source="corpus", url=URL, content_type=content_type, engine=engine)
    except ParseError as e:
        return f"ParseError: {e}"


def detailed(body: bytes, content_type: str | None = None) -> ParsedFeed | None:
    try:
        return parse_feed_detailed(body, source="corpus", url=URL, content_type=content_type)
    except ParseError:
        return None


def test_every_accepted_difference_is_a_corpus_file() -> None:
    assert set(ACCEPTED_DIFFERENCES) <= set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_file_reads_the_same_on_both_paths(name: str) -> None:
    body = feed_bytes(name)
    expected = outcome(body, "feedparser")

    assert outcome(body, "auto") == expected
    auto = detailed(body)
    try:
        fast = outcome(body, "fast")
    except FastPathRefused as refusal:
        assert name in ACCEPTED_DIFFERENCES, f"fast path refuses {name} ({refusal}): list it"
        assert str(refusal).startswith(ACCEPTED_DIFFERENCES[name])
        assert auto is None or auto.engine == "feedparser"
        return
    assert name not in ACCEPTED_DIFFERENCES, f"the fast path now reads {name}: unlist it"
    assert fast == expected
    assert auto is None or auto.engine in ("fast", "json")


def test_most_corpus_xml_takes_the_fast_path() -> None:
    engines = [d.engine for name in CORPUS if (d := detailed(feed_bytes(name))) is not None]

    assert engines.count("fast") >= 30


# --- routing --------------------------------------------------------------------------------


def test_a_body_fastfeedparser_raises_on_goes_to_feedparser() -> None:
    # fastfeedparser looks for "<rss" in the raw bytes and starts its parse in the comment
    body = (
        b'<!-- served as <rss> --><rss version="2.0"><channel><title>t</title>'
        b"<item><title>One</title><guid>urn:1</guid></item></channel></rss>"
    )

    result = parse_feed_detailed(body, source="s", url=URL)

    assert result.engine == "feedparser"
    assert result.fallback_reason is not None
    assert result.fallback_reason.startswith("fastfeedparser failed")
    assert [i.title for i in result.items] == ["One"]
    assert result.items == parse_feed(body, source="s", url=URL, engine="feedparser")


def test_any_error_on_the_fast_path_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in the adapter")

    monkeypatch.setattr(fastparse, "_to_raw", broken)
    body = feed_bytes("rss-parser__guardian.rss")

    with caplog.at_level(logging.WARNING, logger="monitor.feeds"):
        result = parse_feed_detailed(body, source="corpus", url=URL)

    assert result.engine == "feedparser"
    assert result.items == outcome(body, "feedparser")
    assert any("bug in the adapter" in r.getMessage() for r in caplog.records)
    with pytest.raises(RuntimeError):
        parse_feed(body, source="corpus", url=URL, engine="fast")


@pytest.mark.parametrize(
    ("name", "content_type", "reason"),
    [
        ("RSParser__bio.rdf", None, "root <rdf:RDF>"),
        ("miniflux__rdf_UTF8.xml", "application/rdf+xml", "root <rdf:RDF>"),
        ("miniflux__encoding_ISO-8859-1.xml", None, "declared encoding ISO-8859-1"),
        ("node-feedparser__iconv.xml", "text/xml; charset=windows-1251", "HTTP charset"),
        ("rss-parser__guardian.rss", "application/rss+xml; charset=iso-8859-1", "HTTP charset"),
    ],
)
def test_rdf_and_legacy_encodings_go_to_feedparser(
    name: str, content_type: str | None, reason: str
) -> None:
    body = feed_bytes(name)

    result = parse_feed_detailed(body, source="corpus", url=URL, content_type=content_type)

    assert result.engine == "feedparser"
    assert result.fallback_reason is not None and result.fallback_reason.startswith(reason)
    assert result.items == outcome(body, "feedparser", content_type)


def test_utf8_charset_and_content_types_keep_the_fast_path() -> None:
    body = feed_bytes("rss-parser__guardian.rss")
    for content_type in (None, "application/rss+xml; charset=UTF-8", "text/xml", "text/html"):
        result = parse_feed_detailed(body, source="corpus", url=URL, content_type=content_type)
        assert result.engine == "fast"
        assert result.items == outcome(body, "feedparser", content_type)


@pytest.mark.parametrize("engine", ["fast", "feedparser"])
def test_hostile_entries_are_skipped_one_by_one_on_both_paths(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><guid>urn:x:a</guid><title>First</title></item>
      <item></item>
      <item><guid>urn:x:a</guid><title>Repeat of first</title></item>
      <item><link>javascript:alert(1)</link><description>&lt;script&gt;x()&lt;/script&gt;</description></item>
      <item><guid isPermaLink="false">urn:x:b</guid><title>Second</title></item>
    </channel></rss>"""

    with caplog.at_level(logging.WARNING, logger="monitor.feeds"):
        items = parse_feed(body, source="s", url=URL, engine=engine)

    assert [(i.item_id, i.title) for i in items] == [("urn:x:a", "First"), ("urn:x:b", "Second")]
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping entry 1 of {URL}: entry has no id, link, title or text",
        f"skipping entry 3 of {URL}: entry has no id, link, title or text",
    ]


def test_fast_engine_refuses_what_it_cannot_read() -> None:
    with pytest.raises(FastPathRefused, match="not well-formed"):
        parse_feed(b"<rss version='2.0'><channel>", source="s", url=URL, engine="fast")


def test_json_is_json_whatever_the_engine() -> None:
    body = feed_bytes("feed-rs__jsonfeed_elastic_1.1.json")

    results = [
        parse_feed_detailed(body, source="corpus", url=URL, engine=engine)
        for engine in ("auto", "fast", "feedparser")
    ]

    assert {r.engine for r in results} == {"json"}
    assert results[0].items == results[1].items == results[2].items


# --- feedparser's rules, one construct at a time ---------------------------------------------

NS = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)


def rss(item: str, channel: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" {NS}><channel><title>T</title>'
        f"{channel}<item>{item}</item></channel></rss>"
    ).encode()


def atom(entry: str, feed: str = "", entry_attrs: str = "") -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:thr="http://purl.org/syndication/thread/1.0"><title>T</title><id>urn:f</id>'
        f"{feed}<entry{entry_attrs}>{entry}</entry></feed>"
    ).encode()


G = "<title>A</title><guid>u</guid>"
CONSTRUCTS: dict[str, bytes] = {
    "guid as link, relative guid": rss("<title>A</title><guid>12345</guid>"),
    "guid isPermaLink=false": rss('<title>A</title><guid isPermaLink="false">https://x/p</guid>'),
    "guid then link": rss("<guid>https://x.org/g</guid><link>https://x.org/l</link>"),
    "empty link after guid": rss("<guid>https://x.org/g</guid><link/><title>A</title>"),
    "relative link, tracking": rss("<title>A</title><link>/p/2?utm_source=x&amp;b=1</link>"),
    "item xml:base": rss("<title>A</title><link>p/3</link><guid>g3</guid>").replace(
        b"<item>", b'<item xml:base="https://other.org/base/">'
    ),
    "dc:date is updated": rss(G + "<dc:date>2024-01-02T03:04:05Z</dc:date>"),
    "last pubDate wins": rss(
        G + "<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate><pubDate>2 Jan 2024</pubDate>"
    ),
    "unparseable and odd dates": rss(G + "<pubDate>last week</pubDate><dc:date>2024-01</dc:date>"),
    "dcterms dates": rss(G + "<dcterms:issued>2024-01-01</dcterms:issued>"),
    "several dc:creators": rss(G + "<dc:creator>Ann</dc:creator><dc:creator>Bob</dc:creator>"),
    "author email (name)": rss(G + "<author>ann@x.org (Ann)</author>"),
    "author email, long TLD": rss(G + "<author>jo@insanity.industries (Jo)</author>"),
    "feed-level author": rss(G, "<managingEditor>ed@x.org (Ed)</managingEditor>"),
    "categories and subjects": rss(
        G + '<category>x</category><category domain="d">y</category><dc:subject>z</dc:subject>'
    ),
    "itunes categories and keywords": rss(
        G + '<itunes:category text="Tech"><itunes:category text="Gadgets"/></itunes:category>'
        "<itunes:keywords>a, b,,c</itunes:keywords><media:keywords>m1,m2</media:keywords>"
    ),
    "media:category": rss(G + '<media:category>mc</media:category><media:category label="L"/>'),
    "empty description, itunes:summary": rss(
        G + "<description/><itunes:summary>Sum &lt;b&gt;x&lt;/b&gt;</itunes:summary>"
    ),
    "itunes:summary first": rss(
        G + "<itunes:summary>S</itunes:summary><description>D</description>"
    ),
    "content:encoded then description": rss(
        G + "<content:encoded><![CDATA[<p>Full</p>]]></content:encoded><description>D</description>"
    ),
    "content:encoded only": rss(G + "<content:encoded>&lt;p&gt;Full&lt;/p&gt;</content:encoded>"),
    "HTML-looking RSS title": rss("<title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; 1 &lt; 2</title>"),
    "C1 controls and mojibake": rss("<title>&#147;x&#148; CafÃ© &#x80;</title><guid>u</guid>"),
    "media:title only": rss(
        "<guid>u</guid><media:group><media:title>MT</media:title></media:group>"
    ),
    "empty title, then media:title": rss(
        "<title></title><guid>u</guid><media:content url='https://x/v'><media:title>MT"
        "</media:title><media:description>MD</media:description></media:content>"
    ),
    "atom:link in RSS": rss('<title>A</title><atom:link href="https://x.org/al" rel="alternate"/>'),
    "RSS source": rss(G + '<source url="https://s.org/">S</source>'),
    "script and noscript": rss(
        G + "<description>&lt;script&gt;x&lt;/script&gt;ok&lt;noscript&gt;n&lt;/noscript&gt;"
        "</description>"
    ),
    "atom html title, authors, categories": atom(
        '<id>tag:x,2024:1</id><title type="html">&lt;b&gt;T&lt;/b&gt;</title><link href="/a"/>'
        "<updated>2024-01-01T00:00:00.5Z</updated><summary>S &lt;x&gt;</summary><author><name>"
        "Ann</name><email>a@x.org</email></author><author><email>b@x.org</email></author>"
        '<category term="t1"/><category label="L2"/>'
    ),
    "atom published and html content": atom(
        "<id>urn:2</id><title>T</title><published>2024-01-01T00:00:00+01:00</published>"
        '<updated>2024-02-01T00:00:00Z</updated><content type="html">&lt;p&gt;C&lt;/p&gt;</content>'
    ),
    "atom last alternate link wins": atom(
        '<id>urn:3</id><title>T</title><link rel="self" href="https://x/s"/><link rel="alternate"'
        ' href="https://x/a1"/><link href="https://x/a2"/><link rel="enclosure" href="https://x/e"/>'
    ),
    "atom id as link": atom(
        '<id>https://x.org/id/4</id><title>T</title><link rel="related" href="/r"/>'
    ),
    "atom relative id": atom("<id>t3_abc</id><title>T</title>"),
    "atom feed author inherited": atom(
        "<id>urn:7</id><title>T</title>", "<author><name>F</name></author>"
    ),
    "atom plain-text summary with <": atom(
        "<id>u</id><title>a &lt;b&gt;</title><summary>x &lt;y&gt;</summary>"
    ),
    "atom empty summary, content": atom(
        "<id>urn:9</id><title>T</title><summary/>"
        '<content type="html">&lt;p&gt;B&lt;/p&gt;</content>'
    ),
    "atom xml:base": atom(
        '<id>rel/10</id><title>T</title><link href="../y"/>', "", ' xml:base="https://b.org/x/"'
    ),
    "atom media:group description": atom(
        '<id>yt:video:1</id><title>V</title><link rel="alternate" href="https://y/w"/><media:group>'
        "<media:title>V</media:title><media:description>Desc</media:description></media:group>"
    ),
    "atom threading": atom(
        '<id>u</id><title>T</title><thr:total>4</thr:total><link rel="replies" href="/c"/>'
    ),
    "prefix of another namespace": (
        b'<rss version="2.0" xmlns:dc="http://purl.org/dc/terms/"><channel><item><title>A</title>'
        b"<dc:modified>2024-01-01</dc:modified><dc:creator>X</dc:creator></item></channel></rss>"
    ),
    "itunes:owner name becomes the feed's author": rss(
        G,
        "<itunes:owner><itunes:name>O</itunes:name><itunes:email>o@x.org</itunes:email>"
        "</itunes:owner>",
    ),
    "channel itunes:summary then description leaks into the entry": rss(
        G + "<description>D</description><itunes:summary>S</itunes:summary>",
        "<itunes:summary>CS</itunes:summary><description>CD</description>",
    ),
    "later author inherits the earlier name": atom(
        "<id>u</id><title>T</title><author><name>Ann</name></author><author><email>b@x.org"
        "</email></author><author><uri>/me</uri></author>"
    ),
    "ignored nested title still moves the title depth": rss(
        '<title>First</title><x:t xmlns:x="urn:x"><title>Nested</title></x:t><title>Last</title>'
    ),
    "unknown default namespace": (
        b'<rss version="2.0"><channel><item><title>A</title><x xmlns="urn:other"><title>In</title>'
        b"</x></item></channel></rss>"
    ),
}
# Constructs the fast path refuses (feedparser reads them), with the start of the reason.
REFUSED_CONSTRUCTS = {
    "comment in description": (
        rss(G + "<description><!-- c -->Text</description>"),
        "a comment or processing instruction",
    ),
    "applet in HTML": (
        rss(G + "<description>&lt;applet&gt;a&lt;/applet&gt;ok</description>"),
        "<description> holds HTML",
    ),
    "XHTML content": (
        atom(
            '<id>u</id><title>T</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/'
            'xhtml">x</div></content>'
        ),
        "<xhtml:div> inside <content>",
    ),
    "entry <image>": (rss(G + "<image><url>https://x/i</url></image>"), "entry element <image>"),
}


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_construct_reads_the_same_on_both_paths(name: str) -> None:
    body = CONSTRUCTS[name]

    assert outcome(body, "fast") == outcome(body, "feedparser")
    assert parse_feed_detailed(body, source="corpus", url=URL).engine == "fast"


@pytest.mark.parametrize("name", REFUSED_CONSTRUCTS)
def test_construct_the_fast_path_refuses_goes_to_feedparser(name: str) -> None:
    body, reason = REFUSED_CONSTRUCTS[name]

    result = parse_feed_detailed(body, source="corpus", url=URL)

    assert result.engine == "feedparser"
    assert result.fallback_reason is not None and result.fallback_reason.startswith(reason)
    assert result.items == outcome(body, "feedparser")
