"""Hacker News through Algolia's search API (``hn.algolia.com/api/v1/search_by_date``):
the request from a :class:`~monitor.types.HackerNewsQuery`, and its JSON answer as items.

Decisions:

* Stories only (``tags=story``), newest first, matching ``query`` (Algolia's full-text
  search: every word, typo-tolerant), with at least ``min_points`` points
  (``numericFilters=points>=N``); ``max_results`` per request (``hitsPerPage``, Algolia
  allows up to 1000; we cap at 500). The points filter is applied again on our side, so a
  mirror that ignores it gives the same items.
* An item: ``item_id`` is ``hn:<objectID>``; the link is the story's URL, or its Hacker News
  page when it has none (Ask HN); the summary is the story's own text (HTML) when it has
  one, then a line with its points and comments and the discussion page; the author and
  ``created_at`` (else ``created_at_i``) as usual. The points are those at the time of the
  poll: an item is stored once.
* A body that is not JSON, or not an object with a ``hits`` list, is a :class:`ParseError`;
  a hit without an ``objectID`` or a title is skipped.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from monitor.errors import ParseError
from monitor.feeds.normalise import RawEntry, Text, normalise_entry
from monitor.types import HackerNewsQuery, Item

logger = logging.getLogger(__name__)

API_URL = "https://hn.algolia.com/api/v1/search_by_date"
ITEM_URL = "https://news.ycombinator.com/item?id="
MAX_RESULTS = 500


def request_url(query: HackerNewsQuery, endpoint: str = API_URL) -> str:
    """The GET URL of ``query`` on ``endpoint`` (Algolia's unless a mirror is given)."""
    params = {"query": query.query, "tags": "story"}
    if query.min_points > 0:
        params["numericFilters"] = f"points>={query.min_points}"
    params["hitsPerPage"] = str(min(query.max_results, MAX_RESULTS))
    sep = "&" if "?" in endpoint else "?"
    return f"{endpoint}{sep}{urlencode(params)}"


def parse_hackernews(
    content: bytes,
    *,
    source: str,
    url: str,
    content_type: str | None = None,
    min_points: int = 0,
) -> list[Item]:
    """Algolia's answer as items (see the module docstring); ParseError if it is not one."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError(
            url, f"the body is not JSON ({e}): not an answer of the Hacker News search API"
        ) from e
    hits = data.get("hits") if isinstance(data, dict) else None
    if not isinstance(hits, list):
        raise ParseError(
            url, "the JSON has no 'hits' list: not an answer of the Hacker News search API"
        )
    items: list[Item] = []
    seen: set[str] = set()
    for index, hit in enumerate(hits):
        try:
            raw = hit_to_raw(hit, min_points=min_points)
            item = normalise_entry(raw, source=source, feed_url=url) if raw else None
        except Exception as e:  # one odd hit must not sink the answer
            logger.warning("skipping hit %d of %s: %s", index, url, e)
            continue
        if item is not None and item.item_id not in seen:
            seen.add(item.item_id)
            items.append(item)
    return items


def hit_to_raw(hit: Any, *, min_points: int = 0) -> RawEntry | None:
    """One Algolia hit as a :class:`RawEntry`; None when it is not a usable story."""
    if not isinstance(hit, dict):
        return None
    object_id = hit.get("objectID")
    title = hit.get("title") or hit.get("story_title")
    if not isinstance(object_id, str | int) or not isinstance(title, str) or not title.strip():
        return None
    points = hit.get("points") if isinstance(hit.get("points"), int) else None
    if min_points > 0 and (points is None or points < min_points):
        return None
    comments = hit.get("num_comments") if isinstance(hit.get("num_comments"), int) else None
    discussion = f"{ITEM_URL}{object_id}"
    link = hit.get("url") if isinstance(hit.get("url"), str) and hit.get("url") else discussion
    facts = []
    if points is not None:
        facts.append(f"{points} points")
    if comments is not None:
        facts.append(f"{comments} comments")
    line = f"{', '.join(facts)} on Hacker News: {discussion}" if facts else discussion
    text = hit.get("story_text") if isinstance(hit.get("story_text"), str) else ""
    summary = f"{text}<p>{line}</p>" if text else line
    author = hit.get("author") if isinstance(hit.get("author"), str) else None
    return RawEntry(
        id=f"hn:{object_id}",
        link=link,
        title=Text(title, html=False),
        summary=Text(summary, html=bool(text)),
        published=_created(hit),
        updated=hit.get("updated_at") if isinstance(hit.get("updated_at"), str) else None,
        authors=(author,) if author else (),
    )


def _created(hit: dict[str, Any]) -> datetime | str | None:
    created = hit.get("created_at")
    if isinstance(created, str) and created:
        return created
    stamp = hit.get("created_at_i")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
