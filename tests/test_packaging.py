"""The package carries its defaults: an installed wheel (not an editable checkout) runs
`monitor demo`, `check` and `import-brief` from any directory, and never writes into itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import corpus_dir

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "monitor" / "data" / "default"


def test_the_shipped_defaults_are_the_repository_s_config_and_rules() -> None:
    assert (SHIPPED / "monitor.yaml").read_bytes() == (REPO / "monitor.yaml").read_bytes()
    ours = sorted(p.name for p in (REPO / "rules").glob("*.yaml"))
    assert sorted(p.name for p in (SHIPPED / "rules").glob("*.yaml")) == ours
    for name in ours:
        assert (SHIPPED / "rules" / name).read_bytes() == (REPO / "rules" / name).read_bytes()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and installed (without dependencies: the test
    environment has them) into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (root / "dist").glob("*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(root / "site"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return root / "site"


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    env.update(PYTHONPATH=str(site), MONITOR_DATA_DIR=str(cwd / "data"), MONITOR_SEMANTIC="off")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from monitor.cli import main; sys.argv[0] = 'monitor'; main()",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_installed_wheel_runs_from_any_directory(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [sys.executable, "-c", "import monitor; print(monitor.__file__)"],
        env={**os.environ, "PYTHONPATH": str(installed)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(installed))  # the wheel, not the checkout

    demo = run(installed, tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "🟢 CONFIRM" in demo.stdout and "cannot read config file" not in demo.stderr

    check = run(installed, tmp_path, "check")
    assert check.returncode == 0, check.stderr
    assert "2 rule file(s), 2 valid thesis(es)" in check.stdout
    assert str(installed) in check.stdout  # the shipped config, inside the package


def test_import_brief_writes_to_the_user_rules_folder_not_into_the_package(
    installed: Path, tmp_path: Path
) -> None:
    brief = next((corpus_dir() / "briefs").glob("*issue-81.txt"))
    before = sorted(p.name for p in installed.rglob("*.yaml"))

    imported = run(installed, tmp_path, "import-brief", str(brief))

    assert imported.returncode == 0, imported.stderr
    written = list((tmp_path / "data" / "rules").glob("*.yaml"))
    assert len(written) == 1 and str(written[0]) in imported.stdout
    assert sorted(p.name for p in installed.rglob("*.yaml")) == before
    check = run(installed, tmp_path, "check")
    assert "3 rule file(s)" in check.stdout  # the daemon reads the user's folder too


def test_the_wheel_carries_the_dashboard_s_templates_and_static_files(installed: Path) -> None:
    web = installed / "monitor" / "web"
    shipped = {p.name for p in (web / "templates").glob("*.html")}
    assert {"base.html", "board.html", "signals.html", "signal.html", "sources.html"} <= shipped
    assert (web / "static" / "style.css").is_file()
