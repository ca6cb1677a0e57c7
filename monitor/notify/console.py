"""A notifier that writes alerts to a text stream (stdout in the CLI, a StringIO in tests)."""

from __future__ import annotations

import logging
from typing import TextIO

from monitor.errors import NotifyError
from monitor.notify.render import render_console
from monitor.types import Alert, DeliveryReceipt

log = logging.getLogger(__name__)


class ConsoleNotifier:
    """Writes :func:`render_console` followed by a blank line, then flushes.

    Raises :class:`NotifyError` (channel ``console``) when the stream cannot be written,
    for example a closed pipe.
    """

    def __init__(self, stream: TextIO) -> None:
        self.channel = "console"
        self._stream = stream

    def send(self, alert: Alert) -> DeliveryReceipt:
        try:
            self._stream.write(render_console(alert) + "\n\n")
            self._stream.flush()
        except (OSError, ValueError) as e:  # ValueError: I/O operation on closed file
            raise NotifyError(self.channel, f"cannot write to the console: {e}") from e
        log.debug("printed alert for signal %s", alert.signal_id)
        return DeliveryReceipt(channel=self.channel)
