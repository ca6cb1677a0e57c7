"""``monitor notify-test``: a sample alert through each route's destinations, each result
reported, so a new route, token or channel is known to work before a real signal needs it.

Decisions:

* Each destination is first checked (``Notifier.check``: for a bot ``auth.test`` and the
  channel, with whether the bot is in it), then sent one sample alert, directly: the test
  does not go through the outbox, is not recorded as a signal, and is marked as a test in
  its header, title and thesis.
* A destination that several routes name is tested once and reported under each route.
* Any failure makes the command exit non-zero; the report says what to do (the notifier's
  own hint: invite the bot, set the variable, …). Secrets are never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from monitor.errors import MonitorError
from monitor.notify import Notifier
from monitor.notify.factory import destination_notifiers, notifier_from_env
from monitor.notify.routes import DEFAULT, Routing
from monitor.types import Alert


@dataclass(frozen=True)
class TestResult:
    """One destination of one route: ``ok`` with what it answered, or the problem."""

    route: str
    destination: str
    channel: str
    ok: bool
    detail: str


def sample_alert(now: datetime) -> Alert:
    return Alert(
        signal_id=0,
        polarity="confirm",
        thesis_id="notify-test",
        thesis_title="TEST: monitor notify-test",
        criterion_id="test",
        criterion_text="A sample alert, sent to check this destination; no signal was found.",
        item_title="TEST alert from monitor notify-test",
        item_link=None,
        source="notify-test",
        published=now,
        snippet="If you can read this, alerts reach this destination.",
        matched_terms=("test",),
        score=1.0,
    )


def notify_test(
    routing: Routing,
    env: Mapping[str, str],
    stream: TextIO,
    *,
    now: datetime | None = None,
) -> list[TestResult]:
    """Check and send a sample alert to every destination each route names."""
    alert = sample_alert(now or datetime.now(UTC))
    notifiers: dict[str, Notifier] = {DEFAULT: notifier_from_env(env, stream)}
    notifiers.update(destination_notifiers(routing.destinations, env, stream))
    outcome: dict[str, tuple[bool, str]] = {}
    results = []
    for route in routing.routes:
        for name in route.to:
            notifier = notifiers[name]
            if name not in outcome:
                outcome[name] = _try(notifier, alert)
            ok, detail = outcome[name]
            results.append(TestResult(route.name, name, notifier.channel, ok, detail))
    return results


def _try(notifier: Notifier, alert: Alert) -> tuple[bool, str]:
    problem = notifier.check()
    if problem is not None and problem.fault == "route":
        return False, problem.message
    try:
        receipt = notifier.send(alert)
    except MonitorError as e:
        return False, getattr(e, "message", str(e))
    return True, f"delivered (ts {receipt.ts})" if receipt.ts else "delivered"
