"""The one exception tree of the service.

    MonitorError                 base of everything we raise on purpose
    ├── ConfigError              the config file is unusable (path, line)
    ├── RuleError                a rule file or brief is unusable (path, line, column)
    │   ├── BriefError           a brief cannot be turned into a thesis
    │   └── QuerySyntaxError     a criterion query does not parse (position)
    ├── FeedError                one source failed (url); recorded on the source, cycle goes on
    │   ├── FetchError           HTTP/transport problem (status when there is one)
    │   └── ParseError           the body is not a feed we can read
    ├── StorageError             the database is unreachable or refused a write
    │   └── SchemaBehind         read-only, and the schema is older than the code
    └── NotifyError              an alert could not be delivered (channel, retry_after)

Every error carries the object it is about so that the CLI can print ``where: what``.
"""

from __future__ import annotations

from typing import Literal


class MonitorError(Exception):
    """Base class of every error the service raises on purpose."""


class ConfigError(MonitorError):
    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.location() + message)

    def location(self) -> str:
        if self.path is None:
            return ""
        if self.line is None:
            return f"{self.path}: "
        return f"{self.path}:{self.line}: "


class RuleError(ConfigError):
    """A rule file (or a brief) is unusable; ``line``/``column`` are 1-based when known."""

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.column = column
        super().__init__(message, path, line)

    def location(self) -> str:
        if self.path is None:
            return ""
        if self.line is None:
            return f"{self.path}: "
        if self.column is None:
            return f"{self.path}:{self.line}: "
        return f"{self.path}:{self.line}:{self.column}: "


class BriefError(RuleError):
    """A brief lacks a part the importer needs (for example the Investor overlay)."""


class QuerySyntaxError(RuleError):
    """A query does not parse. ``position`` is the 0-based offset inside the query string."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        super().__init__(f"{message} at column {position + 1} of query {query!r}")


class FeedError(MonitorError):
    """``url`` is the URL as configured (it may carry a credential); the message shows it
    masked (``monitor.redact.mask_url``), so it can be logged and stored."""

    def __init__(self, url: str, message: str) -> None:
        from monitor.redact import mask_url, mask_urls_in

        self.url = url
        self.message = mask_urls_in(message, [url])
        super().__init__(f"{mask_url(url)}: {self.message}")


class FetchError(FeedError):
    """``retry_after``: the server's ``Retry-After`` on a 429 or 503, in seconds (capped)."""

    def __init__(
        self, url: str, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, message)


class ParseError(FeedError):
    pass


class StorageError(MonitorError):
    pass


class SchemaBehind(StorageError):
    """The database's schema is older than this code (or absent), and the caller opened it
    read-only, so it was not migrated; the message says what to run."""


class NotifyError(MonitorError):
    """A delivery failed. What the outbox does next depends on the kind:

    * ``retry_after``: the destination asked us to wait that many seconds (HTTP 429).
    * ``fault="route"``: the destination itself is misconfigured (a bad token, an unknown
      channel, the bot not in it): every alert to it would fail the same way, so the route
      is marked unhealthy until a check passes again.
    * ``fault="message"``: this one message was refused (too long, bad blocks): it is set
      aside as rejected and the queue moves on.
    * ``maybe_sent``: the request may have reached the destination (a timeout or a lost
      answer after it was sent, a 5xx): the next attempt first looks for it.
    """

    def __init__(
        self,
        channel: str,
        message: str,
        retry_after: float | None = None,
        *,
        fault: Literal["transient", "route", "message"] = "transient",
        maybe_sent: bool = False,
        code: str | None = None,
    ) -> None:
        self.channel = channel
        self.message = message
        self.retry_after = retry_after
        self.fault = fault
        self.maybe_sent = maybe_sent
        self.code = code  # Slack's error code (``channel_not_found``), when it gave one
        super().__init__(f"{channel}: {message}")
