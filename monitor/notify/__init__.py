"""Alerts: the :class:`Notifier` port, its console and Slack adapters, and pure rendering.

render.py    Alert -> Block Kit blocks, fallback text, console text (pure, escapes feed text)
console.py   ConsoleNotifier (a text stream)
slack.py     SlackBotNotifier (chat.postMessage), SlackWebhookNotifier (incoming webhook)
factory.py   notifier_from_env: pick one from SLACK_* settings
"""

from __future__ import annotations

from typing import Protocol

from monitor.notify.console import ConsoleNotifier
from monitor.notify.factory import notifier_from_env
from monitor.notify.render import (
    escape_mrkdwn,
    render_blocks,
    render_console,
    render_fallback,
)
from monitor.notify.slack import SlackBotNotifier, SlackWebhookNotifier
from monitor.types import Alert, DeliveryReceipt


class Notifier(Protocol):
    """Delivers one alert to one place.

    ``channel`` names the destination for the outbox and for error messages, e.g.
    ``console``, ``slack:#investing`` or ``slack-webhook``.

    ``send`` returns a :class:`DeliveryReceipt` once the destination accepted the alert, and
    raises :class:`~monitor.errors.NotifyError` otherwise: ``retry_after`` is the number of
    seconds the destination asked us to wait (HTTP 429), or None. A notifier never retries by
    itself; the outbox owns retrying.
    """

    channel: str

    def send(self, alert: Alert) -> DeliveryReceipt: ...


__all__ = [
    "ConsoleNotifier",
    "Notifier",
    "SlackBotNotifier",
    "SlackWebhookNotifier",
    "escape_mrkdwn",
    "notifier_from_env",
    "render_blocks",
    "render_console",
    "render_fallback",
]
