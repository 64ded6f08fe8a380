"""`kmsgw dev` from outside Python (curl and the env file), the example suite against it, its clean-up,
and the boundary: dev-only surfaces never exist in `kmsgw serve`, never beyond loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.testing import envfile
from tests.support.serve import start_serve
from tests.testkit.test_example import EXAMPLE, TESTS, processes_under

CURL = shutil.which("curl")
SEED = EXAMPLE / "kmsgw-seed.toml"


@dataclass
class Dev:
    proc: subprocess.Popen[str]
    cwd: Path
    info: dict[str, object]

    @property
    def env_file(self) -> Path:
        return self.cwd / envfile.DEFAULT_NAME

    def values(self) -> dict[str, str]:
        return envfile.parse(self.env_file.read_text())


def start_dev(cwd: Path, *args: str) -> Dev:
    """`kmsgw dev ARGS` in ``cwd``, once it printed its ready line."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    with open(cwd.parent / f"{cwd.name}.log", "w") as log:  # beside cwd: the clean-up test lists cwd
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "dev", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    assert proc.stdout is not None
    for line in proc.stdout:
        info = envfile.parse_ready(line.strip())
        if info is not None:
            return Dev(proc, cwd, info)
    raise AssertionError(f"kmsgw dev did not start ({proc.wait()}): {(cwd.parent / f'{cwd.name}.log').read_text()}")


@pytest.fixture(scope="module")
def seeded_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """One seeded `kmsgw dev` for the module, as a CI service or a developer's terminal runs it."""
    dev = start_dev(tmp_path_factory.mktemp("dev"), "--seed", str(SEED))
    yield dev
    dev.proc.send_signal(signal.SIGTERM)
    assert dev.proc.wait(60) == 0


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_with_the_env_file(seeded_dev: Dev) -> None:
    """A non-Python client: a shell sources .kmsgw-dev.env and calls REST and the control surface with curl."""
    script = r"""
    set -eu
    set -a; . ./.kmsgw-dev.env; set +a
    api="$KMSGW_REST_URL/v1.0/$KMSGW_PROJECT_ID/kms"
    key=$(curl -sf -X POST "$api/create-key" -H "X-Auth-Token: $(cat "$KMSGW_TOKEN_FILE")" \
          -H 'Content-Type: application/json' -d '{"key_alias": "from-curl"}')
    key_id=$(printf '%s' "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_info"]["key_id"])')
    curl -sf -X POST "$api/create-datakey" -H "X-Auth-Token: $KMSGW_TOKEN" -H 'Content-Type: application/json' \
         -d "{\"key_id\": \"$key_id\", \"datakey_length\": \"256\"}"
    echo
    curl -sf -X POST "$KMSGW_CONTROL_URL/v1/faults" -H "Authorization: Bearer $KMSGW_CONTROL_TOKEN" \
         -d '{"hsm_unavailable": true}' > /dev/null
    curl -s -X POST "$api/create-datakey" -H "X-Auth-Token: $KMSGW_TOKEN" -H 'Content-Type: application/json' \
         -d "{\"key_id\": \"$key_id\", \"datakey_length\": \"256\"}"
    echo
    curl -sf -X POST "$KMSGW_CONTROL_URL/v1/faults/reset" -H "Authorization: Bearer $KMSGW_CONTROL_TOKEN" > /dev/null
    """
    out = subprocess.run(["bash", "-c", script], cwd=seeded_dev.cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    created, refused = (json.loads(line) for line in out.stdout.splitlines())
    assert len(bytes.fromhex(created["plain_text"])) == 32
    assert refused["error"]["error_code"] == "KMS.0102"  # what a client sees while the HSM is down


def test_the_env_file_holds_the_endpoints_owner_only(seeded_dev: Dev) -> None:
    values = seeded_dev.values()
    assert set(envfile.NAMES.values()) <= set(values)
    assert seeded_dev.env_file.stat().st_mode & 0o077 == 0
    assert values["KMSGW_TARGET"].startswith("127.0.0.1:")
    assert httpx.get(values["KMSGW_CONTROL_URL"] + "/v1/clock").status_code == 401  # the control token is needed


def test_the_example_suite_against_kmsgw_dev(pytester: pytest.Pytester, seeded_dev: Dev) -> None:
    """External mode: the suite mints projects, moves the clock and breaks the HSM of a running `kmsgw dev`."""
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    args = ("-p", "no:cacheprovider", "--kmsgw-mode", "external", "--kmsgw-env-file", str(seeded_dev.env_file))
    pytester.runpytest_subprocess(*args, timeout=240).assert_outcomes(passed=TESTS)


def test_external_mode_reads_kmsgw_test_variables(
    pytester: pytest.Pytester, seeded_dev: Dev, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an env file: the same values as KMSGW_TEST_* variables (what a CI service definition sets)."""
    pytester.makepyfile(
        test_external_env="""
        def test_it(kms_gateway, kms_client):
            assert kms_gateway.mode == "external"
            assert len(kms_client.generate_random(256).random_data) == 32
        """
    )
    for name, value in seeded_dev.values().items():
        monkeypatch.setenv("KMSGW_TEST_" + name.removeprefix("KMSGW_"), value)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--kmsgw-mode", "external").assert_outcomes(passed=1)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, "watched process exits"])
def test_kmsgw_dev_removes_everything_it_made(tmp_path: Path, how: object) -> None:
    """Ctrl-C, SIGTERM, or the end of the process it watches: no process, temp dir or env file is left."""
    watched = subprocess.Popen(["sleep", "600"]) if how == "watched process exits" else None
    extra = ["--watch-pid", str(watched.pid)] if watched else []
    dev = start_dev(tmp_path, *extra)
    data_dir = Path(str(dev.info["data_dir"]))
    assert data_dir.is_dir() and dev.env_file.exists()
    if watched is not None:
        watched.kill()
        watched.wait()
    else:
        assert isinstance(how, signal.Signals)
        dev.proc.send_signal(how)
    assert dev.proc.wait(60) == 0
    assert not data_dir.parent.exists()  # the temp dir kmsgw dev made
    assert not dev.env_file.exists()
    assert processes_under(data_dir.parent) == []


@pytest.mark.parametrize("after", [0.3, 0.8])
def test_kmsgw_dev_stopped_while_starting_leaves_nothing(tmp_path: Path, after: float) -> None:
    """SIGTERM at some moment of the start (no sleep waits for anything here: it only picks a moment)."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"} | {"TMPDIR": str(tmp_path)}
    argv = [sys.executable, "-m", "gateway", "dev", "--no-env-file"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) in (0, -signal.SIGTERM)  # -15: before Python had run any of kmsgw's code
    assert list(tmp_path.iterdir()) == []


def test_kmsgw_dev_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "dev", "--host", "0.0.0.0"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "loopback only" in out.stderr and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_container_mode_is_refused_outside_a_container() -> None:
    from gateway.app.devmode.errors import DevModeRefused
    from gateway.app.devmode.runner import check_listen_host

    check_listen_host("127.0.0.1", False)
    check_listen_host("::1", False)
    check_listen_host("0.0.0.0", True, detect=lambda: True)  # the image's dev mode
    with pytest.raises(DevModeRefused, match="inside a container"):
        check_listen_host("0.0.0.0", True, detect=lambda: False)
    with pytest.raises(DevModeRefused, match="loopback only"):
        check_listen_host("10.0.0.5", False)


def test_serve_has_no_dev_surface_and_no_dev_options(tmp_path: Path) -> None:
    """`kmsgw serve` listens on exactly its two ports, answers no control route, takes no dev option."""
    for option in ("--seed", "--control-port", "--watch-pid", "--container"):
        out = subprocess.run([sys.executable, "-m", "gateway", "serve", option, "x"], capture_output=True, text=True)
        assert out.returncode == 2 and "unrecognized arguments" in out.stderr
    node = start_serve(tmp_path / "var", "--workers", "1")
    try:
        assert sorted(listening_ports(node.proc.pid)) == sorted([node.grpc_port, node.http_port])
        for path in ("/v1/clock/advance", "/v1/faults", "/v1/projects"):  # the control routes: not here
            answer = httpx.post(f"http://127.0.0.1:{node.http_port}{path}", json={"hsm_unavailable": True})
            assert answer.status_code in (400, 404) and "error_code" in answer.json()["error"], answer.text
    finally:
        node.terminate()


def listening_ports(pid: int) -> list[int]:
    """TCP ports in LISTEN state on sockets process ``pid`` holds (/proc, no extra tool)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_the_container_image_documents_its_dev_mode() -> None:
    """The image's dev command (deploy/Containerfile's comment, docs/testing-with-kmsgw.md) parses as written."""
    import shlex

    from gateway.cli import parser

    text = (Path(__file__).resolve().parents[2] / "deploy" / "Containerfile").read_text()
    [line] = [line for line in text.splitlines() if line.startswith("#") and " kmsgw dev " in line]
    argv = shlex.split(line.split(" kmsgw ", 1)[1])
    args = parser().parse_args(argv)
    assert (args.command, args.container, args.host, args.grpc_port, args.rest_port) == (
        "dev",
        True,
        "0.0.0.0",
        50051,
        8080,
    )
