"""A farm of RSS 2.0 feeds on loopback, run as its own process, for the cycle benchmark.

Run ``python benchmarks/feedfarm.py --feeds 1000`` (it prints ``FEEDFARM PORT <port>`` once
it listens) or, from Python, ``with FeedFarm(1000) as farm: farm.url(0)``, which starts it
as a child process so that its CPU does not count in the measuring process.

Feeds: ``GET /feed/<i>.xml`` for ``0 <= i < feeds``, RSS 2.0, the newest 25 items of feed
``i``, newest first. Every item is generated once, deterministically from the seed, the
feed and the item's number: a title of 6-12 words and a summary of 30-80 words (sentences
of 6-18 words) drawn from a Zipf-distributed vocabulary (exponent 1.0, ``--vocabulary``
words, default 3,000: about 120 English function words at the head, then about 300 common
news words, then made-up syllable words), some words capitalised as names. No two items
share a title (a repeat is redrawn), so every item is its own story. Each item has a
``guid`` (``farm-<i>-<k>``, not a permalink), a ``link`` under ``https://news.example/``
(never fetched) and a ``pubDate``.

HTTP: keep-alive (HTTP/1.1 by default, ``Connection: close`` honoured), any number of
concurrent connections, identity encoding, ``Content-Length`` always. Every feed answer
carries an ``ETag`` (a hash of the body); ``If-None-Match`` with the current ETag gets a
``304 Not Modified``. Bodies are rendered when a feed changes, never while answering.

Control (for the benchmark; bodies are JSON):

* ``POST /advance?fraction=0.1&items=5``: that fraction of the feeds, chosen from the seed
  and the number of advances since the last reset, each gains ``items`` new items (new
  ETag). Answers ``{"feeds": changed, "new_items": n}``.
* ``POST /reset``: every feed back to its first 25 items (same bodies, same ETags), the
  advance counter, published items and counters cleared.
* ``POST /publish`` with ``{"items": [{"feed": i, "guid": g, "title": t, "summary": s,
  "link": url}]}``: adds those items to the top of their feeds now; the farm then records
  when each was first served in a 200 answer.
* ``GET /served``: ``{"published": {guid: unix time}, "first_served": {guid: unix time}}``.
* ``GET /stats``: counts of answers by status, connections and body bytes served.
* ``POST /shutdown``: stop.

The process also stops by itself after ``--max-seconds`` (default 2 hours) and as soon as
its standard input reaches end of file (``FeedFarm`` holds a pipe to it, so the farm dies
with the benchmark), and closes a keep-alive connection idle for 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

ITEMS_PER_FEED = 25
IDLE_TIMEOUT = 60.0
BASE_DATE = datetime(2026, 1, 1, tzinfo=UTC)
POOL_SIZE = 1 << 17  # Zipf sampling: a word appears in the pool in proportion to its weight

FUNCTION_WORDS = """
the of and to a in is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so
no will more can who said its about what up out into than them only other new some could
time these two may first then do any like now over such our even most made after also did
many before must through back years where much your way well down should because each
just those people how too little state good very make world still own see work long get
here between both life being under never day same another know while last might us great
old year off come since against go came right used take three
""".split()  # noqa: SIM905 - a word list reads better as text

NEWS_WORDS = """
company market report plan deal price week month quarter group power data growth news
cost set high low large small early late government minister official president election
vote court ruling judge police city council state federal agency bank rate inflation
economy jobs workers union strike trade tariff export import oil gas energy grid utility
climate storm flood heat drought fire water health hospital patients drug vaccine study
research university school students teachers budget tax spending debt bond stock shares
investors profit revenue sales earnings forecast outlook chief executive board merger
acquisition startup funding software cloud chip model system network security attack
breach privacy platform users app service launch product device phone car electric
battery factory plant production supply chain shipping port airline flight airport
train rail road bridge housing rent home prices mortgage land farm food crop weather
season team game match player coach league title win loss record final cup club fans
film music show festival award star book art museum history war peace troops border
talks treaty sanctions protest rights law bill senate house parliament party leader
campaign poll voters district region county village residents community program project
contract license permit review probe investigation charges trial verdict appeal
decision policy rules reform proposal agreement partnership expansion closure delay
shortage surge drop rise fall gain cut increase decline recovery crisis risk threat
warning alert emergency response support aid relief effort plan target goal deadline
""".split()  # noqa: SIM905 - a word list reads better as text

SYLLABLES = """
ba be bi bo bu ca ce co cu da de di do du fa fe fi fo ga ge go ha he hi ho ka ke ki ko
la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su
ta te ti to tu va ve vi vo za zo tra tre tri tro bra bre cla cle dra dre fla fre gra gre
pla pre sta ste sti str ver var mor nor lan len lin ton ten tan son sen del dal mar mer
""".split()  # noqa: SIM905 - a word list reads better as text
ENDINGS = ("", "", "", "n", "r", "s", "t", "l", "x", "nd", "rt", "ck", "sh", "th")


def _pool(words: Sequence[str], weights: Sequence[float]) -> list[str]:
    """Each word repeated in proportion to its weight (at least once): uniform draws from
    the pool are draws from the distribution, and cheap."""
    total = sum(weights)
    pool: list[str] = []
    for word, weight in zip(words, weights, strict=True):
        pool.extend([word] * max(1, round(weight / total * POOL_SIZE)))
    return pool


class Vocabulary:
    """Zipf-distributed words.

    ``sample(rng, k)``: prose, Zipf (exponent 1.0) over the whole vocabulary, so function
    words dominate as in running text. ``sample_title(rng, k)``: a headline, about 80 %
    content words (news and made-up words, Zipf-Mandelbrot ``1 / (rank + 10)``, so that the
    commonest content word is in about 1.5 % of the draws, not 12 %) and 20 % function words.
    """

    def __init__(self, size: int, seed: int, exponent: float = 1.0) -> None:
        rng = random.Random(f"vocabulary:{seed}")
        words: list[str] = []
        seen: set[str] = set()
        for word in [*FUNCTION_WORDS, *NEWS_WORDS]:
            if word not in seen:
                seen.add(word)
                words.append(word)
        while len(words) < size:
            parts = rng.randint(2, 4)
            word = "".join(rng.choice(SYLLABLES) for _ in range(parts)) + rng.choice(ENDINGS)
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words[:size]
        ranks = range(1, len(self.words) + 1)
        self.pool = _pool(self.words, [1.0 / (r**exponent) for r in ranks])
        function = set(FUNCTION_WORDS)
        content = [w for w in self.words if w not in function]
        self.content_pool = _pool(content, [1.0 / (r + 10) for r in range(1, len(content) + 1)])
        heads = [w for w in self.words if w in function]
        self.function_pool = _pool(heads, [1.0 / r for r in range(1, len(heads) + 1)])

    def sample(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.pool, k=k)

    def sample_title(self, rng: random.Random, k: int) -> list[str]:
        function = round(k * 0.2)
        words = rng.choices(self.content_pool, k=k - function)
        for word in rng.choices(self.function_pool, k=function):
            words.insert(rng.randint(1, len(words)), word)
        return words


@dataclass(frozen=True)
class Story:
    guid: str
    title: str
    summary: str
    link: str
    published: datetime


def _capitalise(words: list[str], rng: random.Random, names: float) -> list[str]:
    out = [w.capitalize() if rng.random() < names else w for w in words]
    out[0] = out[0].capitalize()
    return out


class StoryMaker:
    """Item ``k`` of feed ``i``: always the same text for the same seed."""

    def __init__(self, vocabulary: Vocabulary, seed: int) -> None:
        self.vocabulary = vocabulary
        self.seed = seed
        self.titles: set[str] = set()

    def story(self, feed: int, k: int) -> Story:
        rng = random.Random(f"{self.seed}:{feed}:{k}")
        title = ""
        for _ in range(100):  # a repeated title (rare) is drawn again; bounded
            words = self.vocabulary.sample_title(rng, rng.randint(6, 12))
            title = " ".join(_capitalise(words, rng, 0.12))
            if title not in self.titles:
                break
        self.titles.add(title)
        remaining = rng.randint(30, 80)
        sentences: list[str] = []
        while remaining > 0:
            n = min(remaining, rng.randint(6, 18))
            remaining -= n
            words = _capitalise(self.vocabulary.sample(rng, n), rng, 0.06)
            if n > 8 and rng.random() < 0.4:
                cut = rng.randint(3, n - 3)
                words[cut] += ","
            sentences.append(" ".join(words) + ".")
        published = BASE_DATE + timedelta(minutes=37 * k + (feed % 997))
        return Story(
            guid=f"farm-{feed}-{k}",
            title=title,
            summary=" ".join(sentences),
            link=f"https://news.example/{feed}/{k}",
            published=published,
        )


def item_xml(story: Story) -> bytes:
    return (
        "<item>"
        f"<title>{escape(story.title)}</title>"
        f"<link>{escape(story.link)}</link>"
        f'<guid isPermaLink="false">{escape(story.guid)}</guid>'
        f"<pubDate>{format_datetime(story.published)}</pubDate>"
        f"<description>{escape(story.summary)}</description>"
        "</item>"
    ).encode()


@dataclass
class Entry:
    xml: bytes
    tracked: str | None = None  # guid of a published item whose first serving is recorded


@dataclass
class Feed:
    index: int
    generated: list[bytes] = field(default_factory=list)  # item k's XML, k = 0, 1, ...
    entries: list[Entry] = field(default_factory=list)  # current items, oldest first
    body: bytes = b""
    etag: str = ""


class Farm:
    """The feeds' state; all methods run on the event loop thread."""

    def __init__(self, feeds: int, seed: int, vocabulary: int) -> None:
        self.seed = seed
        self.maker = StoryMaker(Vocabulary(vocabulary, seed), seed)
        self.feeds = [Feed(i) for i in range(feeds)]
        self.advances = 0
        self.published: dict[str, float] = {}
        self.first_served: dict[str, float] = {}
        self.stats: dict[str, int] = {}
        for feed in self.feeds:
            self._generate(feed, ITEMS_PER_FEED)
            feed.entries = [Entry(x) for x in feed.generated[:ITEMS_PER_FEED]]
            self._render(feed)

    def _generate(self, feed: Feed, upto: int) -> None:
        while len(feed.generated) < upto:
            feed.generated.append(item_xml(self.maker.story(feed.index, len(feed.generated))))

    def _render(self, feed: Feed) -> None:
        newest = feed.entries[-ITEMS_PER_FEED:][::-1]
        body = b"".join(
            [
                b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
                f"<title>Farm feed {feed.index}</title>".encode(),
                f"<link>https://news.example/{feed.index}/</link>".encode(),
                f"<description>Generated feed {feed.index}</description>".encode(),
                *(e.xml for e in newest),
                b"</channel></rss>\n",
            ]
        )
        feed.body = body
        feed.etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    # -- control ------------------------------------------------------------------------
    def reset(self) -> dict[str, Any]:
        for feed in self.feeds:
            if len(feed.entries) != ITEMS_PER_FEED or any(e.tracked for e in feed.entries):
                feed.entries = [Entry(x) for x in feed.generated[:ITEMS_PER_FEED]]
                self._render(feed)
        self.advances = 0
        self.published.clear()
        self.first_served.clear()
        self.stats.clear()
        return {"ok": True}

    def advance(self, fraction: float, items: int) -> dict[str, Any]:
        rng = random.Random(f"advance:{self.seed}:{self.advances}")
        self.advances += 1
        n = max(0, min(len(self.feeds), round(fraction * len(self.feeds))))
        chosen = sorted(rng.sample(range(len(self.feeds)), n))
        for i in chosen:
            feed = self.feeds[i]
            generated = sum(1 for e in feed.entries if e.tracked is None)
            self._generate(feed, generated + items)
            feed.entries.extend(Entry(x) for x in feed.generated[generated : generated + items])
            self._render(feed)
        return {"feeds": len(chosen), "new_items": len(chosen) * items}

    def publish(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        now = time.time()
        touched: set[int] = set()
        for raw in items:
            index = int(raw["feed"]) % len(self.feeds)
            guid = str(raw["guid"])
            story = Story(
                guid=guid,
                title=str(raw["title"]),
                summary=str(raw.get("summary", "")),
                link=str(raw.get("link") or f"https://news.example/published/{guid}"),
                published=datetime.fromtimestamp(now, UTC),
            )
            self.feeds[index].entries.append(Entry(item_xml(story), tracked=guid))
            self.published[guid] = now
            touched.add(index)
        for index in touched:
            self._render(self.feeds[index])
        return {"published": len(items), "at": now}

    # -- serving -------------------------------------------------------------------------
    def feed_response(self, index: int, if_none_match: bytes | None) -> tuple[int, Feed]:
        feed = self.feeds[index]
        if if_none_match is not None and _etag_matches(feed.etag.encode(), if_none_match):
            return 304, feed
        now = time.time()
        for entry in feed.entries[-ITEMS_PER_FEED:]:
            if entry.tracked is not None and entry.tracked not in self.first_served:
                self.first_served[entry.tracked] = now
        return 200, feed


def _etag_matches(etag: bytes, header: bytes) -> bool:
    """``If-None-Match`` (a list of tags, weak or not, or ``*``) names ``etag``."""
    tags = {t.strip().removeprefix(b"W/") for t in header.split(b",")}
    return etag in tags or b"*" in tags


REASONS = {
    200: "OK",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
}


def _response(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: Iterable[tuple[str, str]] = (),
    keep_alive: bool = True,
    head: bool = False,
) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    if status != 304:
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{k}: {v}" for k, v in extra)
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    start = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return start if status == 304 or head else start + body


class Server:
    def __init__(self, farm: Farm, max_seconds: float) -> None:
        self.farm = farm
        self.max_seconds = max_seconds
        self.stop = asyncio.Event()
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.farm.count("connections")
        self.writers.add(writer)
        try:
            while not self.stop.is_set():
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
                except (
                    TimeoutError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    ConnectionError,
                ):
                    break
                lines = head.split(b"\r\n")
                try:
                    method, target, version = lines[0].split(b" ", 2)
                except ValueError:
                    writer.write(_response(400, b"{}", keep_alive=False))
                    break
                headers: dict[bytes, bytes] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(b":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0") or 0)
                body = await reader.readexactly(length) if length else b""
                connection = headers.get(b"connection", b"").lower()
                keep_alive = (
                    connection != b"close"
                    if version.strip() == b"HTTP/1.1"
                    else connection == b"keep-alive"
                )
                writer.write(self.answer(method, target, headers, body, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def answer(
        self, method: bytes, target: bytes, headers: dict[bytes, bytes], body: bytes, keep: bool
    ) -> bytes:
        parts = urlsplit(target.decode("latin-1"))
        path = parts.path
        if path.startswith("/feed/") and path.endswith(".xml"):
            if method not in (b"GET", b"HEAD"):
                return _response(405, b"{}", keep_alive=keep)
            number = path[len("/feed/") : -len(".xml")]
            if not number.isdigit() or int(number) >= len(self.farm.feeds):
                self.farm.count("404")
                return _response(404, b'{"error": "no such feed"}', keep_alive=keep)
            status, feed = self.farm.feed_response(int(number), headers.get(b"if-none-match"))
            self.farm.count(str(status))
            if status == 200:
                self.farm.count("bytes", len(feed.body))
            return _response(
                status,
                feed.body,
                content_type="application/rss+xml; charset=utf-8",
                extra=[("ETag", feed.etag)],
                keep_alive=keep,
                head=method == b"HEAD",
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        result: dict[str, Any]
        if method == b"POST" and path == "/advance":
            result = self.farm.advance(
                float(query.get("fraction", "0.1")), int(query.get("items", "5"))
            )
        elif method == b"POST" and path == "/reset":
            result = self.farm.reset()
        elif method == b"POST" and path == "/publish":
            result = self.farm.publish(json.loads(body or b"{}").get("items", []))
        elif method == b"GET" and path == "/served":
            result = {"published": self.farm.published, "first_served": self.farm.first_served}
        elif method == b"GET" and path == "/stats":
            result = dict(self.farm.stats)
        elif method == b"POST" and path == "/shutdown":
            self.stop.set()
            return _response(200, b'{"ok": true}', keep_alive=False)
        else:
            return _response(404, b'{"error": "unknown path"}', keep_alive=keep)
        return _response(200, json.dumps(result).encode(), keep_alive=keep)

    async def serve(self, port: int, announce: bool) -> None:
        server = await asyncio.start_server(
            self.handle, "127.0.0.1", port, backlog=4096, limit=1 << 16
        )
        bound = server.sockets[0].getsockname()[1]
        if announce:
            print(f"FEEDFARM PORT {bound}", flush=True)
        loop = asyncio.get_running_loop()
        threading.Thread(target=_watch_stdin, args=(loop, self.stop), daemon=True).start()
        try:
            await asyncio.wait_for(self.stop.wait(), self.max_seconds)
        except TimeoutError:
            print("feedfarm: --max-seconds reached, stopping", file=sys.stderr, flush=True)
        server.close()
        for writer in list(self.writers):
            writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stop the farm when standard input closes (the process that started it is gone)."""
    with contextlib.suppress(Exception):  # os.read: no buffered-reader lock at shutdown
        while os.read(sys.stdin.fileno(), 4096):
            pass
    with contextlib.suppress(RuntimeError):  # the loop may be closed already
        loop.call_soon_threadsafe(stop.set)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--vocabulary", type=int, default=3000)
    parser.add_argument("--max-seconds", type=float, default=7200.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    farm = Farm(args.feeds, args.seed, args.vocabulary)
    print(
        f"feedfarm: {args.feeds} feeds generated in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
        flush=True,
    )
    asyncio.run(Server(farm, args.max_seconds).serve(args.port, announce=True))


# -- the parent's side ---------------------------------------------------------------------


def die_with_parent() -> None:
    """``preexec_fn`` for children: on Linux the child gets SIGTERM when its parent dies, so
    that nothing the benchmark started outlives it (elsewhere: no effect)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class FarmControl:
    """Talks to a running farm's control endpoints (one short request each)."""

    def __init__(self, port: int, timeout: float = 120.0) -> None:
        self.port = port
        self.timeout = timeout

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{index}.xml"

    def call(self, method: str, path: str, payload: Any = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            body = None if payload is None else json.dumps(payload).encode()
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"farm {method} {path}: HTTP {response.status} {data[:200]!r}")
            return json.loads(data)
        finally:
            conn.close()

    def advance(self, fraction: float, items: int = 5) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/advance?fraction={fraction}&items={items}")
        return result

    def reset(self) -> None:
        self.call("POST", "/reset")

    def publish(self, items: Sequence[dict[str, Any]]) -> float:
        return float(self.call("POST", "/publish", {"items": list(items)})["at"])

    def served(self) -> tuple[dict[str, float], dict[str, float]]:
        data = self.call("GET", "/served")
        return data["published"], data["first_served"]

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self.call("GET", "/stats")
        return result


class FeedFarm(FarmControl):
    """Starts ``feedfarm.py`` as a child process; a context manager that always stops it."""

    def __init__(
        self,
        feeds: int,
        *,
        seed: int = 1,
        max_seconds: float = 7200.0,
        startup_timeout: float = 600.0,
        python: str = sys.executable,
    ) -> None:
        self.feeds = feeds
        self.process = subprocess.Popen(
            [
                python,
                str(Path(__file__).resolve()),
                "--feeds",
                str(feeds),
                "--seed",
                str(seed),
                "--max-seconds",
                str(max_seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        port = self._wait_for_port(startup_timeout)
        super().__init__(port)

    def _wait_for_port(self, timeout: float) -> int:
        found: list[int] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if line.startswith("FEEDFARM PORT "):
                    found.append(int(line.split()[-1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"the feed farm did not start within {timeout:.0f}s")
        return found[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.call("POST", "/shutdown")
            with contextlib.suppress(Exception):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> FeedFarm:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    main()
