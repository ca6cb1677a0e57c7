"""arXiv's query API (``export.arxiv.org/api/query``): the request from an
:class:`~monitor.types.ArxivQuery`, and its Atom answer as items.

Decisions:

* The query is ``(cat:A OR cat:B) AND (ti:"k" OR abs:"k" OR …)``: any of the categories, and
  any keyword in the title or the abstract (a keyword of several words is a phrase). Either
  part may be missing, not both (the config loader sees to it). Newest submissions first
  (``sortBy=submittedDate``), ``max_results`` of them (arXiv allows up to 2000 a call;
  we cap at 500).
* The answer is Atom and is read by :func:`monitor.feeds.parse.parse_feed` (the fast path
  takes it); arXiv's extension elements are ignored, the categories become tags.
* A paper is one item whatever its version: ``item_id`` and ``link`` are the abstract page
  without the version (``https://arxiv.org/abs/2605.08817``), so a v2 is not a new item.
* arXiv reports a bad query as a 200 feed with one entry whose id is under
  ``http://arxiv.org/api/errors``: that is a :class:`ParseError` carrying arXiv's message.
* The fetcher keeps arXiv's rate (one request per 3 seconds to ``export.arxiv.org``,
  :data:`monitor.feeds.fetch.HOST_RATES`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

from monitor.errors import ParseError
from monitor.feeds.parse import parse_feed
from monitor.types import ArxivQuery, Item

API_URL = "https://export.arxiv.org/api/query"
MAX_RESULTS = 500
ERROR_ID = re.compile(r"^https?://arxiv\.org/api/errors", re.IGNORECASE)
ABS_ID = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/abs/(.+?)(?:v\d+)?$", re.IGNORECASE)


def search_query(query: ArxivQuery) -> str:
    """arXiv's ``search_query`` for ``query`` (see the module docstring)."""
    parts = []
    if query.categories:
        parts.append(" OR ".join(f"cat:{c}" for c in query.categories))
    if query.keywords:
        terms = [_phrase(k) for k in query.keywords]
        parts.append(" OR ".join(f"{field}:{t}" for t in terms for field in ("ti", "abs")))
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({p})" for p in parts)


def request_url(query: ArxivQuery, endpoint: str = API_URL) -> str:
    """The GET URL of ``query`` on ``endpoint`` (arXiv's API unless a mirror is given)."""
    params = {
        "search_query": search_query(query),
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": "0",
        "max_results": str(min(query.max_results, MAX_RESULTS)),
    }
    return _join(endpoint, urlencode(params, safe=":"))


def parse_arxiv(
    content: bytes, *, source: str, url: str, content_type: str | None = None
) -> list[Item]:
    """arXiv's Atom answer as items, one per paper; ParseError for arXiv's error feed."""
    items = parse_feed(content, source=source, url=url, content_type=content_type)
    for item in items:
        if ERROR_ID.match(item.item_id):
            message = item.summary or item.title
            raise ParseError(url, f"arXiv refused the query: {message}; fix the source's fields")
    return [_versionless(item) for item in items]


def paper_id(ident: str) -> str | None:
    """``2605.08817`` (or ``hep-ex/0307015``) of an abstract URL with or without version."""
    found = ABS_ID.match(ident.strip())
    return found.group(1) if found else None


def _versionless(item: Item) -> Item:
    paper = paper_id(item.item_id) or (paper_id(item.link) if item.link else None)
    if paper is None:
        return item
    abs_url = f"https://arxiv.org/abs/{paper}"
    return replace(item, item_id=abs_url, link=abs_url)


def _phrase(keyword: str) -> str:
    words = keyword.split()
    return f'"{" ".join(words)}"' if len(words) > 1 else words[0]


def _join(endpoint: str, query_string: str) -> str:
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query_string}"
