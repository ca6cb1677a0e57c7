"""The web dashboard (``monitor serve``): read-only pages over the :class:`~monitor.app.Monitor`
façade, the same data as JSON under ``/api/``. See :mod:`monitor.web.server`."""

from monitor.web.server import (
    Dashboard,
    DashboardError,
    DashboardServer,
    make_server,
    run_server,
)

__all__ = ["Dashboard", "DashboardError", "DashboardServer", "make_server", "run_server"]
