"""Choose the notifier from the environment (an injected mapping, read once).

``SLACK_BOT_TOKEN`` + ``SLACK_CHANNEL`` → :class:`SlackBotNotifier` (``SLACK_API_URL``
overrides the Web API base URL); else ``SLACK_WEBHOOK_URL`` → :class:`SlackWebhookNotifier`;
else :class:`ConsoleNotifier`. Blank values count as unset. Half a bot configuration is an
error rather than a silent fall-back, so a typo cannot send alerts to the wrong place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.notify.console import ConsoleNotifier
from monitor.notify.routes import DEFAULT, Destination
from monitor.notify.slack import SlackBotNotifier, SlackWebhookNotifier

if TYPE_CHECKING:
    from monitor.notify import Notifier

log = logging.getLogger(__name__)


def _http_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL")  # the value may hold a secret
    return value


def notifier_from_env(env: Mapping[str, str], stream: TextIO) -> Notifier:
    """The notifier the environment asks for; raises ConfigError when it is half-configured.

    No message or log line contains the token or the webhook URL (only the webhook's host).
    """
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    channel = env.get("SLACK_CHANNEL", "").strip()
    if token and not channel:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but SLACK_CHANNEL is missing: set both or neither"
        )
    if channel and not token:
        raise ConfigError(
            "SLACK_CHANNEL is set but SLACK_BOT_TOKEN is missing: set both or neither"
        )
    if token:
        api_url = env.get("SLACK_API_URL", "").strip() or None
        if api_url is not None:
            _http_url(api_url, "SLACK_API_URL")
        # buttons only when SLACK_APP_TOKEN lets the daemon listen for them (Socket Mode)
        buttons = bool(env.get("SLACK_APP_TOKEN", "").strip())
        bot = SlackBotNotifier(token, channel, base_url=api_url, buttons=buttons)
        log.info("alerts go to Slack channel %s", channel)
        return bot
    webhook_url = env.get("SLACK_WEBHOOK_URL", "").strip()
    if webhook_url:
        hook = SlackWebhookNotifier(_http_url(webhook_url, "SLACK_WEBHOOK_URL"))
        log.info("alerts go to a Slack webhook on %s", hook.host)
        return hook
    log.info("no Slack settings: alerts go to the console")
    return ConsoleNotifier(stream)


def destination_notifiers(
    destinations: Mapping[str, Destination], env: Mapping[str, str], stream: TextIO
) -> dict[str, Notifier]:
    """A notifier per named destination of the config (``default`` aside, which is
    :func:`notifier_from_env`'s). ConfigError when one cannot work: a Slack channel without
    ``SLACK_BOT_TOKEN``, a webhook whose environment variable is unset or not http(s)."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    api_url = env.get("SLACK_API_URL", "").strip() or None
    buttons = bool(env.get("SLACK_APP_TOKEN", "").strip())
    made: dict[str, Notifier] = {}
    for name, d in destinations.items():
        if name == DEFAULT:
            continue
        if d.slack_channel is not None:
            if not token:
                raise ConfigError(
                    f"destination {name!r} posts to {d.slack_channel} through the bot: "
                    "set SLACK_BOT_TOKEN"
                )
            made[name] = SlackBotNotifier(token, d.slack_channel, base_url=api_url, buttons=buttons)
        elif d.webhook_env is not None:
            url = env.get(d.webhook_env, "").strip()
            if not url:
                raise ConfigError(
                    f"destination {name!r} is an incoming webhook: set {d.webhook_env} to its URL"
                )
            made[name] = SlackWebhookNotifier(_http_url(url, d.webhook_env))
        else:
            made[name] = ConsoleNotifier(stream)
    return made
