"""SEC EDGAR's Atom feeds (``www.sec.gov/cgi-bin/browse-edgar``): the request from an
:class:`~monitor.types.EdgarQuery`, and the answer as items.

Decisions:

* A company (``CIK=`` takes a CIK or a ticker): ``action=getcompany``; the current filings
  of all filers: ``action=getcurrent``. Both ``output=atom``, ``owner=include`` (insiders'
  Forms 3, 4 and 5 are there to be asked for).
* Forms: one form is asked of EDGAR (``type=8-K``; EDGAR matches by prefix, so amendments such
  as 8-K/A come too); several are one request for all forms, filtered here. So a
  ``current`` source with several forms sees only those among the latest ``count`` filings
  of all forms: give it one form, or one source per form, when they are rare. A filing is
  kept when its form (the entry's category) is one asked for or its amendment (``8-K/A``).
* ``count`` is ``max_results`` rounded up to what EDGAR offers (10, 20, 40, 80, 100).
* The Atom is read by :func:`monitor.feeds.parse.parse_feed` (feedparser: EDGAR declares
  ISO-8859-1). The company feed's entries name no company ("8-K - Current report"): the
  title gets the company's name from the feed's ``company-info`` (read with ``defusedxml``),
  and the company is the author, instead of EDGAR's "Webmaster"; in the current feed the
  filer's name is taken from the title ("8-K - Name (CIK) (Filer)").
* EDGAR requires a User-Agent with contact details, sent by the pipeline with each request
  of an edgar source (``SourceConfig.user_agent``), and at most 10 requests per second,
  which the fetcher keeps for sec.gov (:data:`monitor.feeds.fetch.HOST_RATES`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from urllib.parse import urlencode
from xml.etree.ElementTree import ParseError as XMLParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from monitor.feeds.parse import parse_feed
from monitor.types import EdgarQuery, Item

logger = logging.getLogger(__name__)

BROWSE_URL = "https://www.sec.gov/cgi-bin/browse-edgar"
COUNTS = (10, 20, 40, 80, 100)
ATOM = "{http://www.w3.org/2005/Atom}"
CURRENT_TITLE = re.compile(r"^\s*\S+\s+-\s+(.+?)\s+\(\d{1,10}\)\s+\((?:Filer|Subject|[^)]*)\)\s*$")
CIK = re.compile(r"^\d{1,10}$")
TICKER = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")
FORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./\-]{0,19}$")


def request_url(query: EdgarQuery, endpoint: str = BROWSE_URL) -> str:
    """The GET URL of ``query`` on ``endpoint`` (EDGAR's browse-edgar unless a mirror)."""
    count = next((c for c in COUNTS if c >= query.max_results), COUNTS[-1])
    form = query.forms[0] if len(query.forms) == 1 else ""
    if query.company is not None:
        params = {"action": "getcompany", "CIK": query.company, "type": form, "dateb": ""}
    else:
        params = {"action": "getcurrent", "type": form, "company": "", "dateb": ""}
    params |= {"owner": "include", "start": "0", "count": str(count), "output": "atom"}
    sep = "&" if "?" in endpoint else "?"
    return f"{endpoint}{sep}{urlencode(params)}"


def wanted(form: str, forms: tuple[str, ...]) -> bool:
    """Whether a filing of ``form`` is one of ``forms`` or an amendment of one."""
    if not forms:
        return True
    f = form.strip().upper()
    return any(f == w.upper() or f == f"{w.upper()}/A" for w in forms)


def parse_edgar(
    content: bytes,
    *,
    source: str,
    url: str,
    content_type: str | None = None,
    forms: tuple[str, ...] = (),
) -> list[Item]:
    """EDGAR's Atom answer as items: the wanted forms, titled with the company."""
    items = parse_feed(content, source=source, url=url, content_type=content_type)
    company = company_name(content)
    out = []
    for item in items:
        if not any(wanted(tag, forms) for tag in item.tags or ("",)):
            continue
        out.append(_with_company(item, company))
    return out


def company_name(content: bytes) -> str | None:
    """The company feed's ``company-info/conformed-name``; None in the current feed or when
    the body cannot be read safely (then the titles stay as EDGAR wrote them)."""
    try:
        root = SafeET.fromstring(content)
    except (XMLParseError, DefusedXmlException, ValueError) as e:
        logger.debug("no company name in an EDGAR feed: %s", e)
        return None
    name = root.findtext(f"{ATOM}company-info/{ATOM}conformed-name")
    return " ".join(name.split()) if name and name.strip() else None


def _with_company(item: Item, company: str | None) -> Item:
    if company is None:
        found = CURRENT_TITLE.match(item.title)
        return replace(item, authors=(found.group(1),)) if found else item
    title = item.title if company.lower() in item.title.lower() else f"{company}: {item.title}"
    return replace(item, title=title, authors=(company,))
