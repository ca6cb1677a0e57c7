"""Alerts: the :class:`Notifier` port, its console and Slack adapters, and pure rendering.

render.py    Alert -> Block Kit blocks, fallback text, console text (pure, escapes feed text)
console.py   ConsoleNotifier (a text stream)
slack.py     SlackBotNotifier (chat.postMessage), SlackWebhookNotifier (incoming webhook)
factory.py   notifier_from_env: pick one from SLACK_* settings
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from monitor.errors import NotifyError
from monitor.notify.console import ConsoleNotifier
from monitor.notify.factory import notifier_from_env
from monitor.notify.render import (
    escape_mrkdwn,
    render_blocks,
    render_console,
    render_fallback,
)
from monitor.notify.slack import SlackBotNotifier, SlackWebhookNotifier
from monitor.types import Alert, AlertGroup, DeliveryReceipt, Notice


class Notifier(Protocol):
    """Delivers one alert to one place.

    ``channel`` names the destination for the outbox and for error messages, e.g.
    ``console``, ``slack:#investing`` or ``slack-webhook``.

    ``send`` returns a :class:`DeliveryReceipt` once the destination accepted the alert, and
    raises :class:`~monitor.errors.NotifyError` otherwise (``retry_after``, ``fault`` and
    ``maybe_sent`` say what to do next). ``key`` identifies the delivery; a notifier that
    ``verifies`` carries it in the message so that :meth:`find_posted` can find it again.
    ``check`` says whether the destination is usable (None) or what is wrong with it. A
    notifier never retries by itself; the outbox owns retrying.
    """

    channel: str
    verifies: bool

    def send(self, alert: Alert, *, key: str | None = None) -> DeliveryReceipt: ...

    def check(self) -> NotifyError | None: ...

    def send_notice(self, notice: Notice, *, key: str) -> DeliveryReceipt: ...

    def send_group(
        self, group: AlertGroup, *, key: str, keys: Sequence[str] = ()
    ) -> DeliveryReceipt: ...


class VerifyingNotifier(Notifier, Protocol):
    """A notifier that can look up whether a delivery reached the destination."""

    def find_posted_keys(
        self, keys: Sequence[str], since: datetime
    ) -> dict[str, DeliveryReceipt]: ...


__all__ = [
    "ConsoleNotifier",
    "Notifier",
    "SlackBotNotifier",
    "SlackWebhookNotifier",
    "VerifyingNotifier",
    "escape_mrkdwn",
    "notifier_from_env",
    "render_blocks",
    "render_console",
    "render_fallback",
]
