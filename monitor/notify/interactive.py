"""Feedback from Slack: the buttons on each alert, received over Socket Mode.

:func:`start_feedback_listener` connects a :class:`FeedbackListener` (slack-sdk's builtin
``SocketModeClient``: a websocket the daemon opens to Slack, so no public endpoint is needed)
when ``SLACK_APP_TOKEN`` is set. Each click arrives as an ``interactive`` envelope with a
``block_actions`` payload; :func:`parse_click` turns it into a :class:`Click` (pure, no I/O),
and the listener applies it::

    ack the envelope                      # at once, whatever follows (Slack retries otherwise)
    click = parse_click(payload)          # None: not ours or malformed -> logged, ignored
    signal = store.get_signals([id])      # unknown id -> logged, ignored
    useful / noise -> store.add_feedback(signal, verdict, note)
    mute source    -> store.add_mute("source", signal.source, until=now + 7 days)
    chat.update(channel, ts, the alert re-rendered with the verdict and who gave it)

Decisions:

* **The same feedback as ``monitor feedback``:** Useful and Noise call ``add_feedback`` with
  the verdict and the note ``from Slack by <name>``; the latest verdict counts, so a second
  click (on a message not yet updated) simply wins.
* **"Mute source 7 days" records a mute, not a verdict.** It says the *source* is too chatty
  for now, not that this criterion matched wrongly; recording it as "noise" would lower the
  criterion's precision and teach the matcher from a judgement about the source. The mute
  is ``add_mute("source", <the signal's source>, until=now + 7 days, note="from Slack by
  <name>")``; it shows in ``monitor mutes`` and is lifted with ``monitor unmute``.
* **Ack first.** Every envelope that has an ``envelope_id`` is acknowledged before anything
  else (Slack wants it within 3 seconds and redelivers otherwise), including ones we ignore.
* **Clicks are handled one at a time, in order** (``concurrency=1``): feedback is a trickle,
  and a Useful followed quickly by a Noise must be recorded in that order.
* **The payload is untrusted data.** Only our three ``action_id`` values count; the value
  must be a signal id (digits) that matches the ``monitor_feedback:<id>`` block id; names,
  channel and ts must be strings of sane length. Anything else is logged (``%r``, cut) and
  ignored; no payload can make the listener raise. The clicker's name goes into the note and
  the updated message only through the renderer's escaping (``<!channel>`` stays inert).
* **The message is re-rendered from the stored signal** (``alert_for``, by default
  ``Alert.from_signal``; the daemon can pass its own builder to keep the tally and mixed
  evidence lines) with ``verdict`` and ``verdict_by``, so the buttons give way to
  "Marked useful by <name>" and cannot be clicked twice. The message's own ``metadata`` (the
  delivery key) is sent back with the update so the outbox can still find the message.
  A failed ``chat.update`` is logged: the feedback is already recorded.
* Tokens: ``SLACK_APP_TOKEN`` (``xapp-…``, ``connections:write``) opens the socket;
  ``SLACK_BOT_TOKEN`` updates the message. Neither is ever logged; slack-sdk logs through
  ``monitor.notify.interactive.sdk`` with its debug lines (request bodies) suppressed.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any, Literal, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.errors import ConfigError, MonitorError
from monitor.notify.render import (
    ACTION_MUTE_SOURCE,
    ACTION_NOISE,
    ACTION_USEFUL,
    FEEDBACK_BLOCK_PREFIX,
    MUTE_DAYS,
    render_blocks,
    render_fallback,
)
from monitor.types import Alert, Mute, MuteKind, Signal

log = logging.getLogger(__name__)

Verdict = Literal["useful", "noise", "mute_source"]
ACTIONS: dict[str, Verdict] = {
    ACTION_USEFUL: "useful",
    ACTION_NOISE: "noise",
    ACTION_MUTE_SOURCE: "mute_source",
}
MUTE_FOR = timedelta(days=MUTE_DAYS)
NAME_LIMIT = 80
_SIGNAL_ID = re.compile(r"[0-9]{1,18}")
_SLACK_TOKEN = re.compile(r"[A-Za-z0-9._-]{1,64}")  # channel ids and message ts


def _drop_debug(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


# slack-sdk's debug lines hold request bodies and message payloads: never make them
_sdk_log = logging.getLogger(f"{__name__}.sdk")
_sdk_log.addFilter(_drop_debug)


class FeedbackStore(Protocol):
    """What the listener needs of the store; each method raises ``StorageError``."""

    def get_signals(self, ids: Sequence[int]) -> list[Signal]: ...

    def add_feedback(
        self, signal_id: int, verdict: str, note: str | None, now: datetime
    ) -> None: ...

    def add_mute(
        self,
        kind: MuteKind,
        value: str,
        *,
        until: datetime | None,
        now: datetime,
        note: str | None = None,
    ) -> Mute: ...


@dataclass(frozen=True)
class Click:
    """One click on a feedback button, as read from a ``block_actions`` payload."""

    signal_id: int
    verdict: Verdict
    user: str  # the clicker's name (untrusted text)
    channel: str | None  # where the message is, for chat.update
    ts: str | None
    metadata: dict[str, Any] | None = None  # the message's own metadata, sent back


@dataclass(frozen=True)
class Outcome:
    """What became of one envelope (for logs and tests): ``ignored`` says why when nothing
    was recorded."""

    envelope_id: str | None
    click: Click | None = None
    ignored: str | None = None
    updated: bool = False  # the message was updated to show the verdict


def parse_click(payload: object) -> Click | None:
    """The click in a ``block_actions`` payload, or None when it is not one of our buttons
    or is malformed. Pure; never raises."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list):
        return None
    for action in actions:
        if not isinstance(action, dict) or action.get("action_id") not in ACTIONS:
            continue
        value, block_id = action.get("value"), action.get("block_id")
        if not isinstance(value, str) or not _SIGNAL_ID.fullmatch(value):
            return None
        if block_id != f"{FEEDBACK_BLOCK_PREFIX}{value}":
            return None
        container = _dict(payload.get("container"))
        message = _dict(payload.get("message"))
        channel = _short(container.get("channel_id")) or _short(
            _dict(payload.get("channel")).get("id")
        )
        ts = _short(container.get("message_ts")) or _short(message.get("ts"))
        metadata = message.get("metadata")
        return Click(
            signal_id=int(value),
            verdict=ACTIONS[str(action["action_id"])],
            user=_user_name(payload.get("user")),
            channel=channel,
            ts=ts,
            metadata=metadata if _our_metadata(metadata) else None,
        )
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(value: object) -> str | None:
    return value if isinstance(value, str) and _SLACK_TOKEN.fullmatch(value) else None


def _user_name(user: object) -> str:
    found = _dict(user)
    for key in ("name", "username", "id"):
        value = found.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:NAME_LIMIT]
    return "someone"


def _our_metadata(metadata: object) -> bool:
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    )


class FeedbackListener:
    """Receives the feedback buttons' clicks over Socket Mode and records them.

    ``alert_for`` builds the alert to re-render from a stored signal; ``clock`` gives ``now``;
    ``on_outcome`` is told what became of each envelope (tests wait on it). :meth:`start`
    connects (``apps.connections.open``, then the websocket it names); :meth:`close` stops.
    """

    def __init__(
        self,
        store: FeedbackStore,
        app_token: str,
        bot_token: str,
        *,
        base_url: str | None = None,
        alert_for: Callable[[Signal], Alert] = Alert.from_signal,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_outcome: Callable[[Outcome], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._alert_for = alert_for
        self._clock = clock
        self._on_outcome = on_outcome
        self._web = WebClient(
            token=bot_token,
            base_url=base_url or WebClient.BASE_URL,
            timeout=timeout,  # type: ignore[arg-type]  # annotated int; urllib takes a float
            logger=_sdk_log,
            retry_handlers=[],
        )
        self._client = SocketModeClient(
            app_token=app_token, web_client=self._web, logger=_sdk_log, concurrency=1
        )
        self._client.socket_mode_request_listeners.append(self._on_request)

    def start(self) -> FeedbackListener:
        """Connect to Slack. Never raises: a refused ``apps.connections.open`` (a bad token,
        Socket Mode off) is logged at ERROR and not retried until restart; once connected,
        slack-sdk reconnects by itself."""
        try:
            self._client.connect()
        except (SlackApiError, SlackClientError, OSError, HTTPException) as e:
            log.error(
                "cannot open the Slack Socket Mode connection for the feedback buttons "
                "(%s): check SLACK_APP_TOKEN (an xapp- token with connections:write) and "
                "that Socket Mode is enabled for the app",
                _reason(e),
            )
        else:
            log.info("listening for feedback buttons over Slack Socket Mode")
        return self

    def close(self) -> None:
        """Disconnect and stop slack-sdk's threads, at once rather than after their
        timeouts: the socket is shut down first (the client's reader holds a lock in a
        blocking ``recv`` with a 3 s timeout) and its message queue is woken (a 1 s ``get``)."""
        self._client.closed = True  # what close() sets first; the queue loop checks it
        self._client.message_queue.put(None)  # None is skipped by the queue loop
        sock = getattr(self._client.current_session, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._client.close()

    def _on_request(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        outcome = Outcome(envelope_id=request.envelope_id, ignored="not handled")
        try:
            if request.envelope_id:
                client.send_socket_mode_response(
                    SocketModeResponse(envelope_id=request.envelope_id)
                )
            outcome = self.handle(request.type, request.envelope_id, request.payload)
        except Exception:  # a bug here must not kill the listener's worker: log it whole
            log.exception("handling a Slack interaction failed; it is ignored")
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def handle(self, kind: str, envelope_id: str | None, payload: object) -> Outcome:
        """Apply one acknowledged envelope (see the module docstring); never raises for a
        bad payload, an unknown signal, a database or a Slack error: they are logged."""
        if kind != "interactive":
            return Outcome(envelope_id, ignored=f"envelope type {str(kind)[:40]!r}")
        click = parse_click(payload)
        if click is None:
            log.warning("ignored a Slack interaction that is not a feedback button click")
            return Outcome(envelope_id, ignored="not a feedback click")
        try:
            found = self._store.get_signals([click.signal_id])
            if not found:
                log.warning("ignored feedback from Slack on unknown signal #%d", click.signal_id)
                return Outcome(envelope_id, click, ignored="unknown signal")
            signal = found[0]
            self._record(click, signal)
        except MonitorError as e:
            log.error("cannot record feedback from Slack on signal #%d: %s", click.signal_id, e)
            return Outcome(envelope_id, click, ignored="not recorded")
        log.info(
            "signal #%d marked %s from Slack by %r", click.signal_id, click.verdict, click.user
        )
        return Outcome(envelope_id, click, updated=self._update_message(click, signal))

    def _record(self, click: Click, signal: Signal) -> None:
        now = self._clock()
        note = f"from Slack by {click.user}"
        if click.verdict == "mute_source":
            self._store.add_mute("source", signal.source, until=now + MUTE_FOR, now=now, note=note)
        else:
            self._store.add_feedback(signal.id, click.verdict, note, now)

    def _update_message(self, click: Click, signal: Signal) -> bool:
        if click.channel is None or click.ts is None:
            log.warning("cannot update the message of signal #%d: no channel or ts", signal.id)
            return False
        alert = replace(self._alert_for(signal), verdict=click.verdict, verdict_by=click.user)
        extra: dict[str, Any] = {"metadata": click.metadata} if click.metadata else {}
        try:
            self._web.chat_update(
                channel=click.channel,
                ts=click.ts,
                text=render_fallback(alert),
                blocks=render_blocks(alert),
                **extra,
            )
        except (SlackApiError, SlackClientError, OSError, HTTPException) as e:
            log.warning(
                "feedback on signal #%d is recorded but its message was not updated: %s",
                signal.id,
                _reason(e),
            )
            return False
        return True


def _reason(e: BaseException) -> str:
    if isinstance(e, SlackApiError):
        return str(e.response.get("error") or "Slack refused the call")
    return type(e).__name__


def start_feedback_listener(
    store: FeedbackStore,
    env_values: Mapping[str, str],
    *,
    base_url: str | None = None,
    alert_for: Callable[[Signal], Alert] = Alert.from_signal,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_outcome: Callable[[Outcome], None] | None = None,
) -> FeedbackListener | None:
    """A started listener when ``SLACK_APP_TOKEN`` is set, else None. ``base_url``: the Web
    API (default ``SLACK_API_URL``, else Slack's own). Raises ConfigError for an app token
    that is not ``xapp-…`` or one set without ``SLACK_BOT_TOKEN`` (messages are updated by
    the bot)."""
    app_token = env_values.get("SLACK_APP_TOKEN", "").strip()
    if not app_token:
        return None
    if not app_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN must be an app-level token (xapp-…, scope connections:write), "
            "made under Basic Information → App-Level Tokens"
        )
    bot_token = env_values.get("SLACK_BOT_TOKEN", "").strip()
    if not bot_token:
        raise ConfigError(
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is missing: the feedback buttons "
            "need the bot (set both, or unset SLACK_APP_TOKEN)"
        )
    api_url = base_url or env_values.get("SLACK_API_URL", "").strip() or None
    listener = FeedbackListener(
        store,
        app_token,
        bot_token,
        base_url=api_url,
        alert_for=alert_for,
        clock=clock,
        on_outcome=on_outcome,
    )
    return listener.start()
