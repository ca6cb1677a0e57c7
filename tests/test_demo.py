"""`monitor demo` shows the product offline with the shipped rules."""

from __future__ import annotations

import io
from pathlib import Path

from monitor.demo import run_demo
from monitor.settings import load_config, shipped_config_path


def test_demo_prints_alerts_signal_table_and_theses_for_the_shipped_rules(tmp_path: Path) -> None:
    out = io.StringIO()
    config = load_config(shipped_config_path())

    run_demo(config.rule_paths, out)

    text = out.getvalue()
    assert "rule problem" not in text
    assert "0 failed" in text
    assert "🟢 CONFIRM" in text and "🔴 KILL" in text
    assert "Signal history" in text and "Theses" in text
    for thesis in ("rosa-del-mar-81", "rosa-del-mar-97"):
        assert thesis in text
