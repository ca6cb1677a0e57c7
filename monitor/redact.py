"""Secrets in URLs, masked for anything a person or a log reads (pure).

A feed URL may carry a credential: ``https://user:pass@host/feed``, ``?token=…``,
``?api_key=…``. :func:`mask_url` replaces the user info and the values of query parameters
whose names say they are secret with ``***``; everything else (host, path, other parameters)
stays readable so the message still says which feed it is. The fetcher must send the real URL,
so the database keeps it in ``sources.url`` (the one place it must be); every error message,
log line, CLI table and stored error shows the masked form.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
SECRET_PARAM = re.compile(
    r"(token|key|secret|pass(word|wd)?|auth|sig(nature)?|credential|session|code|jwt)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """``url`` with its user info and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # not even a URL: show nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_PARAM.search(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={MASK if SECRET_PARAM.search(name) else quote(value)}"
                for name, value in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_urls_in(text: str, urls: list[str]) -> str:
    """``text`` with every occurrence of each of ``urls`` replaced by its masked form."""
    for url in sorted(set(urls), key=len, reverse=True):
        if url:
            text = text.replace(url, mask_url(url))
    return text
