"""The ``monitor`` command line: each command a few lines over the library façade
(:func:`monitor.open_monitor`), one module per group of commands; :mod:`monitor.cli.base`
holds what they share.

Exit codes: 0 success; 1 ``check`` found problems; 2 unusable config/rules/brief;
3 database unreachable.
"""

from monitor.cli import daemon, history, mutes, opml, rules  # noqa: F401  (registers commands)
from monitor.cli.base import app, fail, opened, parse_since, setup_logging
from monitor.evalcli import eval_command

app.command("eval")(eval_command)

__all__ = ["app", "fail", "main", "opened", "parse_since", "setup_logging"]


def main() -> None:
    app()
