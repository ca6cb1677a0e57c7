"""Signal monitor: turns research briefs into monitoring rules, polls feeds, alerts on evidence.

The library façade is :func:`open_monitor` (→ :class:`Monitor`, in :mod:`monitor.app`); it is
imported on first use, so ``import monitor.<module>`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
__all__ = ["Monitor", "ReadOnly", "SchemaBehind", "SignalQuery", "__version__", "open_monitor"]

if TYPE_CHECKING:
    from monitor.app import Monitor, ReadOnly, SchemaBehind, SignalQuery, open_monitor


def __getattr__(name: str) -> Any:
    if name in {"Monitor", "ReadOnly", "SchemaBehind", "SignalQuery", "open_monitor"}:
        from monitor import app

        return getattr(app, name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
