"""deploy/: what can be checked without a cluster, a container daemon or systemd as init.

- Kubernetes: every YAML parses; objects are well-formed (kind, apiVersion, metadata.name);
  probes, Service target ports and selectors match the Deployment's containers; the ConfigMap's
  TOML is loadable by gateway.app.config and names files the Secret provides; with kubectl, both
  kustomizations render and the rendered objects pass the same checks.
- systemd: `systemd-analyze verify` on the unit (when the binary exists) and its hardening.
- Containerfile: COPY sources exist and pass the ignore file, apt packages exist in Debian
  (when apt-cache sees bookworm), the user is not root, ports agree with the baked config,
  the HEALTHCHECK command really passes against a running gateway and fails against nothing.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import config as config_mod
from gateway.app.server import split_host_port
from gateway.cli import parser as cli_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
CONTAINERFILE = DEPLOY / "Containerfile"
UNIT = DEPLOY / "kmsgw.service"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
PROBE_HANDLERS = ("httpGet", "grpc", "tcpSocket", "exec")
KUSTOMIZE_DIRS = (K8S / "base", K8S / "trial-softhsm")


# -- Kubernetes ------------------------------------------------------------------------------
def _yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _base_objects() -> list[dict[str, Any]]:
    kustomization = _yaml_docs(K8S / "base" / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in _yaml_docs(K8S / "base" / name)]


def _rendered(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_every_yaml_parses_and_objects_are_well_formed():
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        docs = _yaml_docs(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            assert doc.get("apiVersion") == "v1" or "/" in str(doc.get("apiVersion")), path
            assert isinstance(doc.get("kind"), str), path
            if doc["kind"] != "Kustomization":
                assert doc.get("metadata", {}).get("name"), f"{path}: {doc['kind']} without metadata.name"
    for directory in KUSTOMIZE_DIRS:
        kustomization = _yaml_docs(directory / "kustomization.yaml")[0]
        for entry in kustomization.get("resources", []) + [p["path"] for p in kustomization.get("patches", [])]:
            assert (directory / entry).exists(), f"{directory}: {entry} does not exist"


def _check_workload(objects: list[dict[str, Any]]) -> config_mod.Config:
    """The checks every rendering must pass; returns the configuration its ConfigMap holds."""
    deployment, service = _one(objects, "Deployment"), _one(objects, "Service")
    configmap, secret = _one(objects, "ConfigMap"), _one(objects, "Secret")
    assert deployment["apiVersion"] == "apps/v1"
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()

    [container] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe_name in PROBES:
        probe = container[probe_name]
        handlers = [h for h in PROBE_HANDLERS if h in probe]
        assert len(handlers) == 1, f"{probe_name}: one handler expected, found {handlers}"
        port = probe[handlers[0]]["port"]
        assert port in ports or port in ports.values(), f"{probe_name} probes port {port}, not a container port"
        if handlers[0] == "grpc":
            assert port in (ports["grpc"], "grpc")
        if handlers[0] == "httpGet":
            assert probe["httpGet"]["path"] in ("/healthz", "/livez")
            assert port in (ports["http"], "http")
    assert container["livenessProbe"].get("httpGet", {}).get("path") != "/healthz", (
        "liveness must not follow HSM health: an HSM fault heals without a restart"
    )
    for sp in service["spec"]["ports"]:
        assert sp["targetPort"] in ports or sp["targetPort"] in ports.values()

    # Non-root, no privilege escalation, no capabilities, matching the image's user.
    pod_sc = pod["spec"]["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] == _containerfile_uid()
    for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]

    # The ConfigMap's TOML loads; listeners match the container ports; secret files come from the Secret.
    text = configmap["data"]["kmsgw.toml"]
    tomllib.loads(text)
    cfg = _load_toml_text(text)
    assert split_host_port(cfg.grpc_listen) == ("0.0.0.0", ports["grpc"])
    assert split_host_port(cfg.rest_listen) == ("0.0.0.0", ports["http"])
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == "/etc/kmsgw" and container["args"][-1] == "/etc/kmsgw/kmsgw.toml"
    assert mounts["data"] == str(cfg.data_dir)
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for path in _secret_paths(cfg):
        assert Path(path).parent == Path(mounts["secrets"]), f"{path} is not under the secrets mount"
        assert Path(path).name in secret_keys, f"the Secret has no {Path(path).name}"
    cli_parser().parse_args(container["args"])  # the image's entrypoint is `kmsgw`
    return cfg


def _load_toml_text(text: str, tmp_dir: Path | None = None) -> config_mod.Config:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", dir=tmp_dir) as f:
        f.write(text)
        f.flush()
        return config_mod.load(f.name)


def _secret_paths(cfg: config_mod.Config) -> list[str]:
    paths = [cfg.hsm.pin_file, cfg.postgres.password_file, cfg.tls.cert_file, cfg.tls.key_file]
    return [p for p in paths if p]


def test_base_manifests():
    objects = _base_objects()
    assert {o["kind"] for o in objects} == {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"}
    cfg = _check_workload(objects)
    # Production shape: a real HSM module, PostgreSQL, TLS, several replicas.
    assert not cfg.managed_softhsm and cfg.hsm.pin_file
    assert cfg.store.startswith("postgresql://") and cfg.postgres.password_file
    assert cfg.tls.enabled
    deployment = _one(objects, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    probes = deployment["spec"]["template"]["spec"]["containers"][0]
    assert all(probes[p]["httpGet"]["scheme"] == "HTTPS" for p in PROBES), "TLS is on: probes must use HTTPS"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed: kustomizations not rendered")
def test_kustomizations_render():
    base = _rendered(K8S / "base")
    _check_workload(base)
    assert {o["metadata"].get("namespace") for o in base if o["kind"] != "Namespace"} == {"kmsgw"}

    trial = _rendered(K8S / "trial-softhsm")
    cfg = _check_workload(trial)
    assert cfg.managed_softhsm and not cfg.store and not cfg.tls.enabled
    deployment, pvc = _one(trial, "Deployment"), _one(trial, "PersistentVolumeClaim")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"] and pvc["metadata"]["namespace"] == "kmsgw"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["grpc"]["port"] == 50051
    assert all(container[p]["httpGet"]["scheme"] == "HTTP" for p in ("startupProbe", "livenessProbe"))


# -- systemd ---------------------------------------------------------------------------------
def _unit_options() -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            name, _, value = line.partition("=")
            options.setdefault(name.strip(), []).append(value.strip())
    return options


def test_unit_hardening_options():
    o = _unit_options()
    assert o["User"] == ["kmsgw"] and o["Group"] == ["kmsgw"]
    assert o["NoNewPrivileges"] == ["yes"] and o["ProtectSystem"] == ["strict"]
    assert o["PrivateTmp"] == ["yes"] and o["ProtectHome"] == ["yes"] and o["UMask"] == ["0077"]
    assert o["CapabilityBoundingSet"] == [""] and o["SystemCallFilter"] == ["@system-service"]
    assert set(o["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    # The data dir of the example config is the one writable path.
    example = config_mod.load(str(DEPLOY / "kmsgw.example.toml"))
    assert o["ReadWritePaths"] == [str(example.data_dir)]
    assert o["ExecStart"][0].split()[1:] == ["serve", "--config", "/etc/kmsgw/kmsgw.toml"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies(tmp_path):
    # verify insists that ExecStart's binary exists: point it at this checkout's kmsgw.
    kmsgw = Path(sys.executable).parent / "kmsgw"
    if not kmsgw.exists():
        pytest.skip(f"{kmsgw} not installed")
    unit = tmp_path / "kmsgw.service"
    unit.write_text(UNIT.read_text().replace("/opt/kmsgw/.venv/bin/kmsgw", str(kmsgw)))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    # Unknown or misspelt options are only warnings (exit 0): fail on them too.
    assert not re.search(r"Unknown|ignoring|Failed|Invalid", report), report


# -- Containerfile ---------------------------------------------------------------------------
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _containerfile_uid() -> int:
    [user] = [args for word, args in _instructions() if word == "USER"]
    return int(user.split(":")[0])


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last matching pattern wins; "!" re-includes (a dir covers its files)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern.lstrip("!").rstrip("/")
        if p == "*" or path == p or path.startswith(p + "/"):
            ignored = not negate
    return ignored


def test_containerfile_copies_existing_files_that_reach_the_context():
    patterns = [
        line.strip()
        for line in (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "**" not in line
    ]
    copies = [args for word, args in _instructions() if word == "COPY" and not args.startswith("--from")]
    assert copies
    for args in copies:
        *sources, _dest = shlex.split(args)
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: no such file in the build context"
            assert not _ignored(src.rstrip("/"), patterns), f"COPY {src}: excluded by the ignore file"


def test_containerfile_image_shape():
    ins = _instructions()
    froms = [args for word, args in ins if word == "FROM"]
    assert froms and all(f.split()[0] == "debian:bookworm-slim" for f in froms)
    assert _containerfile_uid() != 0
    [volume] = [json.loads(args) for word, args in ins if word == "VOLUME"]
    baked = config_mod.load(str(DEPLOY / "container" / "kmsgw.toml"))
    assert volume == [str(baked.data_dir)] and baked.managed_softhsm
    [expose] = [args.split() for word, args in ins if word == "EXPOSE"]
    listen_ports = {split_host_port(baked.grpc_listen)[1], split_host_port(baked.rest_listen)[1]}
    assert {int(p) for p in expose} == listen_ports
    [entry] = [json.loads(args) for word, args in ins if word == "ENTRYPOINT"]
    [cmd] = [json.loads(args) for word, args in ins if word == "CMD"]
    assert entry == ["kmsgw"]
    cli_parser().parse_args(cmd)
    assert [args for word, args in ins if word == "HEALTHCHECK"]


def _apt_packages() -> set[str]:
    names: set[str] = set()
    for word, args in _instructions():
        if word == "RUN" and "apt-get install" in args:
            tail = args.split("apt-get install", 1)[1].split("&&", 1)[0]
            names |= {w for w in tail.split() if not w.startswith("-")}
    return names


def test_containerfile_apt_packages_exist_in_bookworm():
    names = _apt_packages()
    assert {"softhsm2", "opensc", "python3"} <= names
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    if shutil.which("apt-cache") is None or "VERSION_CODENAME=bookworm" not in os_release:
        pytest.skip("no Debian bookworm apt cache here to look the packages up in")
    out = subprocess.run(["apt-cache", "show", *sorted(names)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    found = set(re.findall(r"^Package: (\S+)$", out.stdout, re.MULTILINE))
    assert names <= found, f"not in the apt cache: {names - found}"


def _healthcheck_command(port: int) -> list[str]:
    [args] = [args for word, args in _instructions() if word == "HEALTHCHECK"]
    command = json.loads(args.split("CMD", 1)[1].strip())
    return [sys.executable if command[0] == "python3" else command[0]] + [
        part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in command[1:]
    ]


def test_healthcheck_passes_against_a_gateway_and_fails_without_one(gateway):
    ok = subprocess.run(_healthcheck_command(gateway.http_port), capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # bound, not listening: connection refused
        down = subprocess.run(_healthcheck_command(closed), capture_output=True, timeout=30)
    assert down.returncode != 0


def test_example_configs_load():
    for path in (DEPLOY / "kmsgw.example.toml", DEPLOY / "container" / "kmsgw.toml"):
        config_mod.load(str(path))
