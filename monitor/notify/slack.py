"""Slack adapters over slack-sdk: a bot (``chat.postMessage``) and an incoming webhook.

Decisions:

* **No retries here.** slack-sdk retries connection errors (and, if asked, 429s) by itself;
  both clients get ``retry_handlers=[]`` so that one failed request is one
  :class:`~monitor.errors.NotifyError` and the delivery outbox alone decides when to retry.
* **Errors are translated**, never leaked: 429 → ``retry_after`` from ``Retry-After``;
  5xx, connection errors and timeouts → ``retry_after=None``; ``ok: false`` → a message
  that says what to fix (invite the bot, add the ``chat:write`` scope, …).
* **Secrets stay out of logs and messages.** Messages name the channel, or only the host of
  a webhook URL. slack-sdk's own debug output includes the full webhook URL, so both clients
  log through ``monitor.notify.slack.sdk``, held at INFO so those debug lines are never made.
* Links are not unfurled (``unfurl_links``/``unfurl_media`` false): a feed must not be able
  to put a preview of arbitrary content into the channel.
* **Errors say whose fault they are** (:class:`~monitor.errors.NotifyError` ``fault``): a
  bad token or channel (:data:`ROUTE_ERRORS`) is the route's, every later alert would fail
  the same way; a refused message (:data:`MESSAGE_ERRORS`) is that message's; the rest are
  transient. A 5xx, a timeout or a connection cut after the request went out may have
  posted the message (``maybe_sent``); a refused connection did not.
* **Effectively once** (bot only): every message carries in Slack message ``metadata``
  (event type :data:`EVENT_TYPE`) the keys of the deliveries it carries;
  :meth:`SlackBotNotifier.find_posted_keys` reads the channel's history since a time, with
  metadata, in one scan for many keys, so an attempt whose outcome is unknown is looked for
  before it is posted again. Unknown is never read as "not posted": a scan that cannot
  reach back far enough raises. Reading history needs the ``channels:history``
  (``groups:history`` for a private channel) scope; without it the bot is at-least-once and
  says so once. The channel's ID, needed to read history, is known from any post. Incoming
  webhooks can neither carry metadata nor read history: they stay at-least-once.
* **Checks** (:meth:`SlackBotNotifier.check`): ``auth.test`` for the token, then the channel:
  an ID through ``conversations.info`` (also whether the bot is a member), a ``#name``
  through ``conversations.list`` (at most :data:`MAX_LIST_PAGES` pages). A check that lacks
  the scope to look is inconclusive, not a failure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from monitor.decide import parse_retry_after
from monitor.errors import NotifyError
from monitor.notify.grouped import group_messages
from monitor.notify.render import (
    notice_blocks,
    notice_fallback,
    render_blocks,
    render_fallback,
)
from monitor.types import Alert, AlertGroup, DeliveryReceipt, Notice

log = logging.getLogger(__name__)


def _drop_debug(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


# slack-sdk's debug lines hold the full webhook URL and request bodies: never make them
# (the level stops the SDK from building them; the filter holds if someone lowers the level).
# Its ERROR lines repeat, out of context, failures the outbox reports itself with what to
# do, so only its CRITICAL ones pass.
_sdk_log = logging.getLogger(__name__ + ".sdk")
_sdk_log.setLevel(logging.CRITICAL)
_sdk_log.addFilter(_drop_debug)

_TOKEN_HINT = "check that SLACK_BOT_TOKEN is a current bot token (xoxb-…) with the chat:write scope"
_API_HINTS: dict[str, str] = {
    "invalid_auth": f"Slack rejected the bot token: {_TOKEN_HINT}",
    "not_authed": f"no token reached Slack: {_TOKEN_HINT}",
    "token_revoked": f"the bot token was revoked: {_TOKEN_HINT}",
    "token_expired": f"the bot token has expired: {_TOKEN_HINT}",
    "account_inactive": f"the bot user is deactivated: {_TOKEN_HINT}",
    "missing_scope": (
        "the token lacks the chat:write scope: add it under OAuth & Permissions "
        "and reinstall the app"
    ),
    "channel_not_found": (
        "channel not found: check SLACK_CHANNEL (a channel ID like C0123 or #name) and, "
        "for a private channel, invite the bot with /invite @<bot>"
    ),
    "not_in_channel": "the bot is not a member of the channel: invite it with /invite @<bot>",
    "is_archived": "the channel is archived: unarchive it or set another SLACK_CHANNEL",
    "restricted_action": "the workspace does not let this bot post in the channel",
    "invalid_blocks": "Slack rejected the message blocks (a rendering bug; please report)",
    "msg_too_long": "Slack rejected the message as too long (a rendering bug; please report)",
}
# ok:false errors that every alert to this destination would get: the route is unhealthy
ROUTE_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "no_service",
        "no_active_hooks",
        "channel_is_archived",
        "action_prohibited",
        "invalid_token",
    }
)
# ok:false errors about this one message: it is set aside, the queue goes on
MESSAGE_ERRORS = frozenset(
    {"invalid_blocks", "msg_too_long", "no_text", "invalid_payload", "invalid_metadata_format"}
)
EVENT_TYPE = "monitor_alert"
NO_ANSWER = "no_answer"  # NotifyError.code: the connection closed with no answer
TIMED_OUT = "timed_out"  # NotifyError.code: no answer within the timeout (Slack may be busy)
# ok:false errors that are Slack's own trouble (retried); any other is about the message
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
MAX_LIST_PAGES = 20
MAX_HISTORY_PAGES = 10
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")

_WEBHOOK_HINTS: dict[str, str] = {
    "no_service": "the webhook is unknown or was removed: create a new SLACK_WEBHOOK_URL",
    "no_active_hooks": "the webhook is disabled: create a new SLACK_WEBHOOK_URL",
    "channel_not_found": "the webhook's channel no longer exists: create a new webhook",
    "channel_is_archived": "the webhook's channel is archived: unarchive it or create a new hook",
    "action_prohibited": "a workspace admin restricted posting through this webhook",
    "invalid_payload": "Slack rejected the payload (a rendering bug; please report)",
    "invalid_token": "the webhook's token is invalid: create a new SLACK_WEBHOOK_URL",
}


def retry_after_seconds(headers: Mapping[str, Any]) -> float | None:
    """The ``Retry-After`` header (any case of the name) as seconds, capped at an hour
    (``decide.parse_retry_after``), or None if absent or unreadable."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            return parse_retry_after(str(raw), datetime.now(UTC))
    return None


def _http_failure(
    channel: str, status: int, headers: Mapping[str, Any], what: str, code: str | None = None
) -> NotifyError:
    if status == 429:
        retry_after = retry_after_seconds(headers)
        return NotifyError(channel, "rate limited by Slack (HTTP 429)", retry_after=retry_after)
    if status >= 500:
        return NotifyError(
            channel, f"Slack is unavailable (HTTP {status}); will retry", maybe_sent=True
        )
    return NotifyError(channel, f"{what} (HTTP {status})", fault=_fault(code), code=code)


def _fault(code: str | None) -> Any:
    """Whose fault an ok:false error is: the route's, Slack's own (transient), or else the
    message's (set aside, so that an unknown refusal cannot block the queue for ever)."""
    if code in ROUTE_ERRORS:
        return "route"
    if code is None or code in TRANSIENT_ERRORS or code == "unknown_error":
        return "transient"
    return "message"


def _transport_failure(channel: str, what: str, e: BaseException) -> NotifyError:
    """A request that got no answer: sent, unless the connection was refused."""
    reason = getattr(e, "reason", None)
    refused = isinstance(e, ConnectionRefusedError) or isinstance(reason, ConnectionRefusedError)
    reason = _reason(e)
    code = None if refused else (TIMED_OUT if reason == "timed out" else NO_ANSWER)
    return NotifyError(channel, f"{what}: {reason}", maybe_sent=not refused, code=code)


class SlackBotNotifier:
    """Posts alerts with a bot token through ``chat.postMessage``.

    ``channel`` is a channel ID (``C0123``) or name (``#investing``); the notifier's
    ``channel`` attribute is ``slack:<channel>``. ``base_url`` replaces
    ``https://slack.com/api/`` (tests point it at a loopback fake).
    Raises :class:`NotifyError` as described in the module docstring.
    """

    verifies = True  # find_posted can tell whether a message was posted

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        buttons: bool = False,
    ) -> None:
        self.channel = f"slack:{channel}"
        self.buttons = buttons  # feedback buttons: only when a listener handles them
        self._slack_channel = channel
        self._channel_id: str | None = channel if _CHANNEL_ID.match(channel) else None
        self._history_warned = False
        self._channel_checked = False  # _channel_id is known to be this channel's
        self._client = WebClient(
            token=token,
            base_url=base_url or WebClient.BASE_URL,
            timeout=timeout,  # type: ignore[arg-type]  # annotated int; urllib takes a float
            logger=_sdk_log,
            retry_handlers=[],
        )

    def send(self, alert: Alert, *, key: str | None = None) -> DeliveryReceipt:
        receipt = self._post(
            render_fallback(alert),
            render_blocks(alert, buttons=self.buttons),
            key or f"signal-{alert.signal_id}",
            signals=[alert.signal_id],
        )
        log.info("posted signal %s to %s (ts %s)", alert.signal_id, self.channel, receipt.ts)
        return receipt

    def send_group(
        self, group: AlertGroup, *, key: str, keys: Sequence[str] = ()
    ) -> DeliveryReceipt:
        """Post a group or digest; its metadata names every delivery it carries (``keys``),
        so :meth:`find_posted_keys` finds each. The outbox sends groups that render as one
        message; a longer one is posted part by part. The receipt is the first part's."""
        first: str | None = None
        for message in group_messages(group):
            signals = [a.signal_id for a in group.alerts]
            receipt = self._post(message.text, message.blocks, key, keys, signals)
            first = first if first is not None else receipt.ts
        return DeliveryReceipt(channel=self.channel, ts=first)

    def _post(
        self,
        text: str,
        blocks: list[dict[str, Any]],
        key: str,
        keys: Sequence[str] = (),
        signals: Sequence[int] = (),
    ) -> DeliveryReceipt:
        payload = {"key": key, "deliveries": list(keys) or [key], "signals": list(signals)}
        try:
            response = self._client.chat_postMessage(
                channel=self._slack_channel,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": EVENT_TYPE, "event_payload": payload},
            )
        except SlackApiError as e:
            raise self._api_failure(e) from e
        except (SlackClientError, OSError, HTTPException) as e:
            raise _transport_failure(self.channel, "cannot reach Slack", e) from e
        if isinstance(response.get("channel"), str):  # a post names the channel's ID
            self._channel_id = str(response["channel"])
            self._channel_checked = True
        ts = response.get("ts")
        return DeliveryReceipt(channel=self.channel, ts=str(ts) if ts is not None else None)

    def send_notice(self, notice: Notice, *, key: str) -> DeliveryReceipt:
        """A notice that is no signal (a thesis turned), as one message."""
        return self._post(notice_fallback(notice), notice_blocks(notice), key)

    def check(self) -> NotifyError | None:
        """None when the token works and the channel exists with the bot in it (or the
        token lacks the scope to look); else the problem, as :meth:`send` would raise it."""
        try:
            self._client.auth_test()
            self._resolve_channel()
        except SlackApiError as e:
            failure = self._api_failure(e)
            if failure.code == "missing_scope" and "auth" not in failure.message:
                return None  # cannot look at channels: the first post will tell
            return failure
        except (SlackClientError, OSError, HTTPException) as e:
            return _transport_failure(self.channel, "cannot reach Slack", e)
        except NotifyError as e:
            return e
        return None

    def find_posted(self, key: str, since: datetime) -> DeliveryReceipt | None:
        """The receipt of the message carrying delivery ``key``, posted since ``since``."""
        return self.find_posted_keys([key], since).get(key)

    def find_posted_keys(self, keys: Sequence[str], since: datetime) -> dict[str, DeliveryReceipt]:
        """Of ``keys``, the deliveries found in the channel's messages since ``since`` (one
        history scan for all), with the receipt of the message that carries each.

        Raises NotifyError (transient) when history cannot be read now, and when the scan
        ends before it reached ``since`` (over :data:`MAX_HISTORY_PAGES` pages): unknown is
        not "not posted". Returns {} after a warning once when the token may not read the
        history at all (at-least-once then)."""
        wanted = set(keys)
        found: dict[str, DeliveryReceipt] = {}
        try:
            channel_id = self._history_channel()
            cursor: str | None = None
            for _ in range(MAX_HISTORY_PAGES):
                page = self._client.conversations_history(
                    channel=channel_id,
                    oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
                for message in page.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    if metadata.get("event_type") != EVENT_TYPE:
                        continue
                    payload = metadata.get("event_payload") or {}
                    carried = {payload.get("key"), *(payload.get("deliveries") or [])}
                    receipt = DeliveryReceipt(channel=self.channel, ts=str(message.get("ts")))
                    for key in wanted & carried:
                        found.setdefault(key, receipt)
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if found.keys() >= wanted or not page.get("has_more") or not cursor:
                    return found
        except SlackApiError as e:
            failure = self._api_failure(e)
            if failure.code in ("missing_scope", "not_allowed_token_type"):
                if not self._history_warned:
                    self._history_warned = True
                    log.warning(
                        "%s: the bot token may not read the channel's history (add the "
                        "channels:history or groups:history scope): a delivery whose outcome "
                        "was lost is posted again, so it may appear twice",
                        self.channel,
                    )
                return {}
            raise failure from e
        except (SlackClientError, OSError, HTTPException) as e:
            raise _transport_failure(self.channel, "cannot read Slack history", e) from e
        raise NotifyError(
            self.channel,
            f"more than {MAX_HISTORY_PAGES * 200} messages since the attempt: cannot tell "
            "whether it was posted; retrying later",
            maybe_sent=True,
        )

    def _history_channel(self) -> str:
        """The channel ID to read history from: known from an earlier post or check, else
        looked up (conversations.info or .list)."""
        if self._channel_id is not None and self._channel_checked:
            return self._channel_id
        return self._resolve_channel()

    def _resolve_channel(self) -> str:
        """The channel's ID (looked up once by name); raises SlackApiError or NotifyError."""
        if self._channel_id is not None:
            info = self._client.conversations_info(channel=self._channel_id)
            self._require_member(info.get("channel") or {})
            self._channel_checked = True
            return self._channel_id
        name = self._slack_channel.lstrip("#")
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    self._require_member(channel)
                    self._channel_id = str(channel["id"])
                    self._channel_checked = True
                    return self._channel_id
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        raise NotifyError(
            self.channel,
            f"channel_not_found: {_API_HINTS['channel_not_found']}",
            fault="route",
            code="channel_not_found",
        )

    def _require_member(self, channel: Mapping[str, Any]) -> None:
        if channel.get("is_archived"):
            code = "is_archived"
        elif channel.get("is_member") is False:
            code = "not_in_channel"
        else:
            return
        raise NotifyError(self.channel, f"{code}: {_API_HINTS[code]}", fault="route", code=code)

    def _api_failure(self, e: SlackApiError) -> NotifyError:
        status = e.response.status_code
        data = e.response.data if isinstance(e.response.data, dict) else {}
        error = str(data.get("error") or "unknown_error")
        if status == 429 or status >= 500:
            return _http_failure(self.channel, status, e.response.headers, error)
        hint = _API_HINTS.get(error, "Slack refused the message")
        return NotifyError(self.channel, f"{error}: {hint}", fault=_fault(error), code=error)


class SlackWebhookNotifier:
    """Posts alerts to an incoming webhook; its channel is ``slack-webhook``.

    The receipt has no ``ts`` (webhooks answer a bare ``ok``). Messages and logs name only
    the webhook's host: the path of the URL is its secret.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.channel = "slack-webhook"
        self.host = urlsplit(url).hostname or "?"
        self._client = WebhookClient(
            url,
            timeout=timeout,  # type: ignore[arg-type]  # annotated int; urllib takes a float
            logger=_sdk_log,
            retry_handlers=[],
        )

    verifies = False  # a webhook cannot read back what it posted: at-least-once

    def send(self, alert: Alert, *, key: str | None = None) -> DeliveryReceipt:
        """Posts the alert; ``key`` is ignored (a webhook carries no metadata)."""
        self._send(render_fallback(alert), render_blocks(alert))
        log.info("posted signal %s to webhook host %s", alert.signal_id, self.host)
        return DeliveryReceipt(channel=self.channel)

    def _send(self, text: str, blocks: list[dict[str, Any]]) -> None:
        try:
            response = self._client.send(
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError, HTTPException) as e:
            raise _transport_failure(
                self.channel, f"cannot reach webhook host {self.host}", e
            ) from e
        status = response.status_code
        if status != 200:
            error = (response.body or "").strip()[:100]
            hint = _WEBHOOK_HINTS.get(error, f"webhook host {self.host} refused the message")
            raise _http_failure(self.channel, status, response.headers, f"{error}: {hint}", error)

    def check(self) -> NotifyError | None:
        """A webhook cannot be checked without posting: None (healthy until a post fails)."""
        return None

    def send_notice(self, notice: Notice, *, key: str) -> DeliveryReceipt:
        self._send(notice_fallback(notice), notice_blocks(notice))
        return DeliveryReceipt(channel=self.channel)

    def send_group(
        self, group: AlertGroup, *, key: str, keys: Sequence[str] = ()
    ) -> DeliveryReceipt:
        """Post a group or digest part by part (at-least-once: nothing to look up)."""
        messages = group_messages(group)
        for message in messages:
            self._send(message.text, message.blocks)
        log.info("posted %d message(s) to webhook host %s", len(messages), self.host)
        return DeliveryReceipt(channel=self.channel)


def _reason(e: BaseException) -> str:
    """A short reason for a transport error, built so that it cannot contain the URL."""
    reason = getattr(e, "reason", None)  # URLError wraps the socket error
    cause = reason if isinstance(reason, BaseException) else e
    if isinstance(cause, TimeoutError):
        return "timed out"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(cause).__name__
