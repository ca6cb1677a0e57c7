"""The deployment files pass their checkers: hadolint on deploy/Dockerfile, the Compose
specification's JSON schema on docker-compose.yml, Kubernetes' JSON schemas on
deploy/kubernetes/, `systemd-analyze verify` and `security` on the systemd unit. Each checker
comes from a package registry (the deploy extra, which the test extra includes; systemd from
Debian), and a negative case shows that each one rejects a broken file. Structural tests
assert what the files are for: two replicas on PostgreSQL, a non-root user, a healthcheck
against /healthz, the unit's hardening, secrets only from the environment."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from monitor.scheduler import STOP_GRACE_SECONDS

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "signal-monitor.service"
KUBE = DEPLOY / "kubernetes"
COMPOSE = REPO / "docker-compose.yml"
OPS_PORT = 9100
SECRETS = ("DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL", "SLACK_APP_TOKEN")


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, **kwargs
    )


def tool(name: str) -> Path:
    """A checker's executable from this environment's scripts (where pip put it)."""
    found = Path(sysconfig.get_path("scripts")) / name
    if not found.exists():
        path = shutil.which(name)
        assert path, f"{name} is missing: pip install -e '.[deploy]'"
        found = Path(path)
    return found


# --- Dockerfile ---------------------------------------------------------------------------


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # No config file of the user's or the machine's: the default rules, all of them.
    return run(tool("hadolint"), "--no-color", "--failure-threshold", "info", dockerfile)


def test_hadolint_passes_the_dockerfile() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_rejects_a_careless_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nCMD monitor run\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3013" in result.stdout  # unpinned pip install


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [ln for ln in dockerfile.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def test_the_image_is_slim_non_root_and_healthchecked() -> None:
    steps = instructions(DOCKERFILE)
    args = {v.split("=")[0]: v.partition("=")[2] for k, v in steps if k == "ARG"}
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    stages = [v for k, v in steps if k == "FROM"]
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    users = [v for k, v in final if k == "USER"]
    assert len(users) == 1 and users[0].split(":")[0].isdigit(), users
    assert int(users[0].split(":")[0]) >= 1000  # numeric, so runAsNonRoot can check it
    assert final[-1] == ("CMD", '["run", "--ops-host", "0.0.0.0", "--ops-port", "9100"]')
    health = [v for k, v in final if k == "HEALTHCHECK"]
    assert len(health) == 1 and f"127.0.0.1:{OPS_PORT}/healthz" in health[0]
    # the service alone by default; the semantic extra only when asked for
    assert args["EXTRAS"] == '""'
    installs = [v for k, v in steps if k == "RUN" and "pip install" in v]
    assert any('".${EXTRAS:+[$EXTRAS]}"' in v for v in installs)
    assert not any("semantic" in v for v in installs)
    assert not any(k == "ENV" and re.search(r"TOKEN|PASSWORD|DATABASE_URL", v) for k, v in steps)
    # the only rule switched off is DL3013, for installing the project itself
    ignores = re.findall(r"hadolint ignore=(\S+)", DOCKERFILE.read_text())
    assert ignores == ["DL3013"]


def test_the_build_context_leaves_out_the_local_state() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    ignored = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    for entry in (".git", ".venv", "tests", "*.db", ".env", "**/__pycache__"):
        assert entry in ignored
    copied = [v.split()[:-1] for k, v in instructions(DOCKERFILE) if k == "COPY"]
    sources = {s for args in copied for s in args if not s.startswith("--")}
    assert sources == {"pyproject.toml", "README.md", "monitor", "/opt/venv"}
    assert not any(s in ignored for s in sources - {"/opt/venv"})


# --- docker-compose.yml ------------------------------------------------------------------


def compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", path
    )


def test_the_compose_file_passes_the_compose_specification_schema() -> None:
    result = compose_schema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_rejects_a_broken_file(tmp_path: Path) -> None:
    data = yaml.safe_load(COMPOSE.read_text())
    data["services"]["monitor"]["depends_on"]["db"] = {"condition": "healthy"}
    data["services"]["dashboard"]["restart_policy"] = "always"
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(data))
    result = compose_schema(bad)
    assert result.returncode != 0
    assert "condition" in result.stdout and "restart_policy" in result.stdout


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_runs_the_daemon_after_a_healthy_postgresql_and_the_dashboard() -> None:
    services = compose()["services"]
    assert set(services) == {"db", "monitor", "dashboard"}
    db, daemon, dashboard = services["db"], services["monitor"], services["dashboard"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert daemon["depends_on"]["db"]["condition"] == "service_healthy"
    assert dashboard["depends_on"]["db"]["condition"] == "service_healthy"
    assert daemon["command"][0] == "run" and daemon["command"][-2:] == ["--ops-port", "9100"]
    serve = dashboard["command"]
    assert serve[0] == "serve"
    assert serve[serve.index("--host") + 1] == "0.0.0.0"
    assert serve[serve.index("--port") + 1] == "8080"
    for service in (daemon, dashboard):
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        # published on the host's loopback only
        assert all(p.startswith("127.0.0.1:") for p in service["ports"])
    assert daemon["stop_grace_period"] == "15s"
    assert float(daemon["stop_grace_period"].rstrip("s")) > STOP_GRACE_SECONDS


def test_compose_takes_every_secret_from_the_host() -> None:
    services = compose()["services"]
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]
    for name in ("monitor", "dashboard"):
        for key, value in services[name]["environment"].items():
            if key == "DATABASE_URL":
                assert ":${POSTGRES_PASSWORD:?" in value
            elif key == "MONITOR_WEB_TOKEN":  # required: serving beyond loopback needs it
                assert value.startswith("${MONITOR_WEB_TOKEN:?"), value
            else:
                assert value == "${" + key + ":-}", (key, value)


# --- Kubernetes --------------------------------------------------------------------------


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    return data


def manifests() -> list[Path]:
    return [KUBE / name for name in kustomization()["resources"]]


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def by_kind(kind: str) -> dict[str, Any]:
    found = [d for p in manifests() for d in documents(p) if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def test_the_kustomization_lists_every_manifest() -> None:
    data = kustomization()
    assert data["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert data["kind"] == "Kustomization"
    assert set(data) <= {"apiVersion", "kind", "commonLabels", "resources", "images"}
    files = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert sorted(data["resources"]) == sorted(files)
    assert all(p.is_file() for p in manifests())


@pytest.mark.parametrize(
    "name", sorted(p.name for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_each_manifest_passes_the_kubernetes_schemas(name: str) -> None:
    docs = documents(KUBE / name)
    assert docs
    for doc in docs:
        # strict: a property the schema does not know is an error
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_kubernetes_schemas_reject_a_broken_deployment() -> None:
    doc = copy.deepcopy(by_kind("Deployment"))
    doc["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    doc = copy.deepcopy(by_kind("Deployment"))
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["url"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_deployment_runs_two_hardened_replicas_with_secrets_from_a_secret() -> None:
    deployment = by_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["terminationGracePeriodSeconds"] > STOP_GRACE_SECONDS
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    args = container["args"]
    assert args[0] == "run" and args[args.index("--ops-port") + 1] == str(OPS_PORT)
    assert args[args.index("--ops-host") + 1] == "0.0.0.0"
    (port,) = container["ports"]
    assert port == {"name": "ops", "containerPort": OPS_PORT, "protocol": "TCP"}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "ops"}
    env = {e["name"]: e for e in container["env"]}
    for name in SECRETS:
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "signal-monitor"
    assert "optional" not in env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]  # required
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert {"/etc/signal-monitor", "/data", "/tmp"} <= set(mounts)
    assert args[args.index("--config") + 1] == "/etc/signal-monitor/monitor.yaml"


def test_the_service_exposes_the_metrics_port_of_the_replicas() -> None:
    service = by_kind("Service")
    selector = by_kind("Deployment")["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == selector
    (port,) = service["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "ops"
    pdb = by_kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_the_configmap_passes_monitor_check(tmp_path: Path) -> None:
    config = by_kind("ConfigMap")
    volumes = by_kind("Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config["metadata"]["name"]}} in volumes
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    listed = yaml.safe_load(config["data"]["monitor.yaml"])["rules"]
    assert sorted(listed) == sorted(set(config["data"]) - {"monitor.yaml"})
    env = {**os.environ, "MONITOR_SEMANTIC": "off", "MONITOR_DATA_DIR": str(tmp_path / "d")}
    env.pop("DATABASE_URL", None)
    result = run(
        sys.executable, "-m", "monitor", "check", "--config", tmp_path / "monitor.yaml", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stdout + result.stderr


# --- systemd -----------------------------------------------------------------------------


def unit() -> dict[str, list[tuple[str, str]]]:
    """The unit's sections as (key, value) lists (keys may repeat, as systemd allows)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        else:
            key, _, value = line.partition("=")
            sections[current].append((key.strip(), value.strip()))
    return sections


def service() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in unit()["Service"]:
        out.setdefault(key, []).append(value)
    return out


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        message = "systemd-analyze is missing (Debian: apt-get install systemd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def unit_root(tmp_path: Path) -> Path:
    """A root for `systemd-analyze --root`: the machine's own units, ours in etc/, and a stub
    at the ExecStart path (the virtualenv of a real install)."""
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    executable = Path(service()["ExecStart"][0].split()[0])
    stub = tmp_path / executable.relative_to("/")
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    return tmp_path


def verify(root: Path, text: str) -> subprocess.CompletedProcess[str]:
    (root / "etc/systemd/system" / UNIT.name).write_text(text)
    return run(systemd_analyze(), "verify", "--man=no", f"--root={root}", UNIT.name)


def test_systemd_analyze_verifies_the_unit(unit_root: Path) -> None:
    result = verify(unit_root, UNIT.read_text())
    # warnings (an unknown key, a bad value) go to stderr with exit status 0: none allowed
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_analyze_rejects_a_broken_unit(unit_root: Path) -> None:
    text = UNIT.read_text().replace("ProtectHome=yes", "ProtectHomes=yes")
    result = verify(unit_root, text)
    assert "Unknown key" in result.stderr and "ProtectHomes" in result.stderr


def test_systemd_analyze_rates_the_unit_s_exposure_low(unit_root: Path) -> None:
    (unit_root / "etc/systemd/system" / UNIT.name).write_text(UNIT.read_text())
    result = run(
        systemd_analyze(),
        "security",
        "--offline=yes",
        f"--root={unit_root}",
        "--no-pager",
        UNIT.name,
    )
    assert result.returncode == 0, result.stderr
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert exposure, result.stdout[-500:]
    assert float(exposure.group(1)) <= 2.0, result.stdout  # 0 (safe) … 10 (exposed)


def test_the_unit_is_hardened_and_stops_within_the_daemon_s_grace() -> None:
    s = service()
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "StateDirectory": "signal-monitor",
        "Restart": "on-failure",
        "EnvironmentFile": "-/etc/signal-monitor/env",
        "Environment": "MONITOR_DATA_DIR=%S/signal-monitor",
    }.items():
        assert s[key] == [value], key
    assert s["SystemCallFilter"][0] == "@system-service"
    assert STOP_GRACE_SECONDS < int(s["TimeoutStopSec"][0]) <= 30
    command = s["ExecStart"][0].split()
    assert command[1:3] == ["run", "--config"]
    assert command[command.index("--ops-port") + 1] == str(OPS_PORT)
    assert not any(re.search(r"TOKEN|PASSWORD|DATABASE_URL", v) for v in s["Environment"])
    assert unit()["Install"] == [("WantedBy", "multi-user.target")]


# --- README ------------------------------------------------------------------------------


def test_the_readme_describes_the_deployment_files() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Deployment files", 1)[1].split("\n## ", 1)[0]
    for name in (
        "deploy/Dockerfile",
        "deploy/signal-monitor.service",
        "deploy/kubernetes/",
        "docker-compose.yml",
        "tests/test_deploy.py",
        "/healthz",
        "--ops-port",
        "monitor serve",
    ):
        assert name in section, name
