"""A notifier that writes alerts to a text stream (stdout in the CLI, a StringIO in tests)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TextIO

from monitor.errors import NotifyError
from monitor.notify.grouped import group_console
from monitor.notify.render import notice_console, render_console
from monitor.types import Alert, AlertGroup, DeliveryReceipt, Notice

log = logging.getLogger(__name__)


class ConsoleNotifier:
    """Writes :func:`render_console` followed by a blank line, then flushes.

    Raises :class:`NotifyError` (channel ``console``) when the stream cannot be written,
    for example a closed pipe.
    """

    def __init__(self, stream: TextIO) -> None:
        self.channel = "console"
        self._stream = stream

    verifies = False  # nothing to look up: a write either raised or happened

    def send(self, alert: Alert, *, key: str | None = None) -> DeliveryReceipt:
        try:
            self._stream.write(render_console(alert) + "\n\n")
            self._stream.flush()
        except (OSError, ValueError) as e:  # ValueError: I/O operation on closed file
            raise NotifyError(self.channel, f"cannot write to the console: {e}") from e
        log.debug("printed alert for signal %s", alert.signal_id)
        return DeliveryReceipt(channel=self.channel)

    def check(self) -> NotifyError | None:
        return None

    def send_notice(self, notice: Notice, *, key: str) -> DeliveryReceipt:
        try:
            self._stream.write(notice_console(notice) + "\n\n")
            self._stream.flush()
        except (OSError, ValueError) as e:
            raise NotifyError(self.channel, f"cannot write to the console: {e}") from e
        return DeliveryReceipt(channel=self.channel)

    def send_group(
        self, group: AlertGroup, *, key: str, keys: Sequence[str] = ()
    ) -> DeliveryReceipt:
        """Writes a group or digest in the console layout."""
        try:
            self._stream.write(group_console(group) + "\n\n")
            self._stream.flush()
        except (OSError, ValueError) as e:
            raise NotifyError(self.channel, f"cannot write to the console: {e}") from e
        return DeliveryReceipt(channel=self.channel)
