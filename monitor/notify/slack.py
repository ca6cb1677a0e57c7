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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from monitor.decide import parse_retry_after
from monitor.errors import NotifyError
from monitor.notify.render import render_blocks, render_fallback
from monitor.types import Alert, DeliveryReceipt

log = logging.getLogger(__name__)


def _drop_debug(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


# slack-sdk's debug lines hold the full webhook URL and request bodies: never make them
# (the level stops the SDK from building them; the filter holds if someone lowers the level).
_sdk_log = logging.getLogger(__name__ + ".sdk")
_sdk_log.setLevel(logging.INFO)
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


def _http_failure(channel: str, status: int, headers: Mapping[str, Any], what: str) -> NotifyError:
    if status == 429:
        retry_after = retry_after_seconds(headers)
        return NotifyError(channel, "rate limited by Slack (HTTP 429)", retry_after=retry_after)
    if status >= 500:
        return NotifyError(channel, f"Slack is unavailable (HTTP {status}); will retry")
    return NotifyError(channel, f"{what} (HTTP {status})")


class SlackBotNotifier:
    """Posts alerts with a bot token through ``chat.postMessage``.

    ``channel`` is a channel ID (``C0123``) or name (``#investing``); the notifier's
    ``channel`` attribute is ``slack:<channel>``. ``base_url`` replaces
    ``https://slack.com/api/`` (tests point it at a loopback fake).
    Raises :class:`NotifyError` as described in the module docstring.
    """

    def __init__(
        self, token: str, channel: str, *, base_url: str | None = None, timeout: float = 10.0
    ) -> None:
        self.channel = f"slack:{channel}"
        self._slack_channel = channel
        self._client = WebClient(
            token=token,
            base_url=base_url or WebClient.BASE_URL,
            timeout=timeout,  # type: ignore[arg-type]  # annotated int; urllib takes a float
            logger=_sdk_log,
            retry_handlers=[],
        )

    def send(self, alert: Alert) -> DeliveryReceipt:
        try:
            response = self._client.chat_postMessage(
                channel=self._slack_channel,
                text=render_fallback(alert),
                blocks=render_blocks(alert),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as e:
            raise self._api_failure(e) from e
        except (SlackClientError, OSError, HTTPException) as e:  # refused, timeout, cut off
            raise NotifyError(self.channel, f"cannot reach Slack: {_reason(e)}") from e
        ts = response.get("ts")
        log.info("posted signal %s to %s (ts %s)", alert.signal_id, self.channel, ts)
        return DeliveryReceipt(channel=self.channel, ts=str(ts) if ts is not None else None)

    def _api_failure(self, e: SlackApiError) -> NotifyError:
        status = e.response.status_code
        data = e.response.data if isinstance(e.response.data, dict) else {}
        error = str(data.get("error") or "unknown_error")
        if status == 429 or status >= 500:
            return _http_failure(self.channel, status, e.response.headers, error)
        hint = _API_HINTS.get(error, "Slack refused the message")
        return NotifyError(self.channel, f"{error}: {hint}")


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

    def send(self, alert: Alert) -> DeliveryReceipt:
        try:
            response = self._client.send(
                text=render_fallback(alert),
                blocks=render_blocks(alert),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError, HTTPException) as e:
            raise NotifyError(
                self.channel, f"cannot reach webhook host {self.host}: {_reason(e)}"
            ) from e
        status = response.status_code
        if status != 200:
            error = (response.body or "").strip()[:100]
            hint = _WEBHOOK_HINTS.get(error, f"webhook host {self.host} refused the message")
            raise _http_failure(self.channel, status, response.headers, f"{error}: {hint}")
        log.info("posted signal %s to webhook host %s", alert.signal_id, self.host)
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
