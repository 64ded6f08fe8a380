"""`kmsgw key ...`, `kmsgw encrypt` / `kmsgw decrypt` as subprocesses against a real `kmsgw serve`.

Covers the key commands' JSON and errors, a file larger than 100 MB round-tripped with bounded
memory, tampered / truncated / reordered / spliced / wrong-key files refused without output,
the token file's mode, the token never in argv, and the progress bar only on a terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.client import KmsClient
from gateway.client.envelope import TAG_SIZE, read_header
from tests.support.gateway import new_project_id
from tests.support.kms import free_port
from tests.support.serve import ServeProcess, cli, start_serve

MiB = 1024 * 1024


@dataclass
class Remote:
    srv: ServeProcess
    target: str
    token: str
    token_file: Path
    key_id: str
    other_key_id: str
    tls: tuple[str, ...] = ()  # --ca-file/--cert-file/--key-file options, for a TLS gateway

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KMSGW_") and k != "SOFTHSM2_CONF"}
        env["KMSGW_TARGET"] = self.target
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Remote:
    data_dir = tmp_path_factory.mktemp("cli-files") / "var"
    srv = start_serve(data_dir, "--workers", "1")
    token = cli(data_dir, "token", "create", "--project-id", new_project_id())["token"]
    token_file = data_dir.parent / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    target = f"127.0.0.1:{srv.grpc_port}"
    with KmsClient(target, token=token) as c:
        keys = [c.create_key(f"f-{uuid.uuid4().hex[:10]}").key_id for _ in range(2)]
    yield Remote(srv, target, token, token_file, *keys)
    srv.terminate()


def kmsgw(remote: Remote, *args: str, env: dict[str, str] | None = None, auth: bool = True):
    argv = [sys.executable, "-m", "gateway", *args]
    if auth:
        argv += ["--token-file", str(remote.token_file)]
    return subprocess.run(argv, capture_output=True, text=True, env=env or remote.env(), timeout=300)


def ok_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def one_line_error(proc: subprocess.CompletedProcess, rc: int, *needles: str) -> str:
    assert proc.returncode == rc, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmsgw: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- key commands --------------------------------------------------------------------------
def test_key_commands(remote):
    alias = f"cli-{uuid.uuid4().hex[:10]}"
    created = ok_json(kmsgw(remote, "key", "create", alias, "--description", "from the CLI"))
    key_id = created["key_id"]
    assert (created["key_alias"], created["key_state"], created["key_spec"]) == (alias, 2, "AES_256")
    listed = ok_json(kmsgw(remote, "key", "list"))
    assert key_id in {k["key_id"] for k in listed["keys"]} and listed["total"] == len(listed["keys"])
    assert ok_json(kmsgw(remote, "key", "describe", key_id))["key_description"] == "from the CLI"
    assert ok_json(kmsgw(remote, "key", "disable", key_id))["key_state"] == 3
    assert [k["key_id"] for k in ok_json(kmsgw(remote, "key", "list", "--key-state", "3"))["keys"]] == [key_id]
    assert ok_json(kmsgw(remote, "key", "enable", key_id))["key_state"] == 2
    assert ok_json(kmsgw(remote, "key", "schedule-deletion", key_id, "--pending-days", "30")) == {
        "key_id": key_id,
        "key_state": 4,
    }
    assert ok_json(kmsgw(remote, "key", "cancel-deletion", key_id))["key_state"] == 3


def test_key_command_errors(remote):
    one_line_error(kmsgw(remote, "key", "describe", str(uuid.uuid4())), 1, "KMS.0207", "NOT_FOUND")
    one_line_error(kmsgw(remote, "key", "create", "bad alias!"), 1, "KMS.1101", "INVALID_ARGUMENT")
    unreachable = remote.env(KMSGW_TARGET=f"127.0.0.1:{free_port()}")
    one_line_error(kmsgw(remote, "key", "list", "--retries", "1", env=unreachable), 3, "unreachable")


# -- the token -------------------------------------------------------------------------------
def test_token_sources(remote, tmp_path):
    loose = tmp_path / "token"
    loose.write_text(remote.token)
    loose.chmod(0o640)
    proc = kmsgw(remote, "key", "list", "--token-file", str(loose), auth=False)
    line = one_line_error(proc, 2, "chmod 600")
    assert remote.token not in line
    one_line_error(kmsgw(remote, "key", "list", auth=False), 2, "no token")
    from_env = kmsgw(remote, "key", "list", auth=False, env=remote.env(KMSGW_TOKEN=remote.token))
    assert ok_json(from_env)["total"] >= 2
    file_env = remote.env(KMSGW_TOKEN_FILE=str(remote.token_file))
    assert ok_json(kmsgw(remote, "key", "list", auth=False, env=file_env))["total"] >= 2
    # There is no option that takes a token in argv.
    assert kmsgw(remote, "key", "list", "--token", remote.token, auth=False).returncode == 2


# -- a file larger than 100 MB ---------------------------------------------------------------
def run_watched(remote: Remote, *args: str) -> tuple[int, int, str, str, list[str]]:
    """Run the CLI, watching what `ps` shows of it; (rc, peak RSS in bytes, stdout, stderr, argv seen).

    Peak RSS is the child's own VmHWM, sampled until it exits (``ru_maxrss`` would count the pytest
    process it was forked from).
    """
    argv = [sys.executable, "-m", "gateway", *args, "--token-file", str(remote.token_file)]
    seen: list[str] = []
    with open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            argv, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=remote.env(), text=True
        )
    pid = proc.pid
    peak = 0
    while True:
        try:
            seen.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            status_lines = Path(f"/proc/{pid}/status").read_text().splitlines()
            hwm = [int(line.split()[1]) for line in status_lines if line.startswith("VmHWM:")]
            peak = max([peak, *hwm])
        except (OSError, ValueError):
            pass
        ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
        seen.append(ps.stdout)
        done_pid, status, _ = os.wait4(pid, os.WNOHANG)
        if done_pid == pid:
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode, peak * 1024, out, err, seen


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            h.update(block)
    return h.hexdigest()


def test_large_file_round_trip_with_bounded_memory(remote, tmp_path):
    size = 110 * MiB + 12345
    plain = tmp_path / "big.bin"
    with open(plain, "wb") as f:  # sparse, with random blocks so the digest means something
        f.truncate(size)
        for offset in (0, 37 * MiB + 3, 80 * MiB, size - MiB):
            f.seek(offset)
            f.write(os.urandom(MiB))
    enc, dec = tmp_path / "big.enc", tmp_path / "big.out"

    rc, baseline_rss, _, err, _ = run_watched(remote, "key", "list")
    assert rc == 0, err
    rc, enc_rss, out, err, seen_enc = run_watched(remote, "encrypt", "--key-id", remote.key_id, str(plain), str(enc))
    assert rc == 0, err
    assert json.loads(out) == {"key_id": remote.key_id, "plaintext_bytes": size, "output": str(enc)}
    assert err == ""  # not a terminal: no progress bar
    rc, dec_rss, out, err, seen_dec = run_watched(remote, "decrypt", "--key-id", remote.key_id, str(enc), str(dec))
    assert rc == 0, err
    assert json.loads(out)["plaintext_bytes"] == size

    print(f"peak RSS MiB: baseline {baseline_rss / MiB:.0f}, encrypt {enc_rss / MiB:.0f}, decrypt {dec_rss / MiB:.0f}")
    assert sha256(dec) == sha256(plain)
    assert enc.stat().st_size < size + 64 * 1024 and enc.read_bytes()[:8] == b"KMSGWENC"
    assert (enc.stat().st_mode & 0o777, dec.stat().st_mode & 0o777) == (0o600, 0o600)
    # Streaming: peak RSS stays far below the 110 MB a whole-file implementation would add.
    assert baseline_rss > 0 and max(enc_rss, dec_rss) < baseline_rss + 40 * MiB, (baseline_rss, enc_rss, dec_rss)
    # The token never shows in the process list.
    assert any("encrypt" in s for s in seen_enc) and any("decrypt" in s for s in seen_dec)
    assert not [s for s in seen_enc + seen_dec if remote.token in s]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "big.enc", "big.out"]


def test_refuses_to_overwrite_without_force(remote, tmp_path):
    src, dst = tmp_path / "a.txt", tmp_path / "a.enc"
    src.write_bytes(b"x" * 1000)
    dst.write_bytes(b"keep me")
    one_line_error(kmsgw(remote, "encrypt", "--key-id", remote.key_id, str(src), str(dst)), 2, "exists")
    assert dst.read_bytes() == b"keep me"
    ok_json(kmsgw(remote, "encrypt", "--key-id", remote.key_id, "--force", str(src), str(dst)))
    back = tmp_path / "a.out"
    ok_json(kmsgw(remote, "decrypt", str(dst), str(back)))
    assert back.read_bytes() == src.read_bytes()


def test_encryption_context_is_carried_and_bound(remote, tmp_path):
    src, enc, out = tmp_path / "c.txt", tmp_path / "c.enc", tmp_path / "c.out"
    src.write_bytes(os.urandom(5000))
    args = ("encrypt", "--key-id", remote.key_id, "--context", "app=billing", "--context", "tenant=t1")
    ok_json(kmsgw(remote, *args, str(src), str(enc)))
    assert read_header(enc).context == {"app": "billing", "tenant": "t1"}
    ok_json(kmsgw(remote, "decrypt", str(enc), str(out)))
    assert out.read_bytes() == src.read_bytes()
    one_line_error(kmsgw(remote, "encrypt", "--key-id", remote.key_id, "--context", "novalue", str(src), "x"), 2)


# -- damaged files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(remote, tmp_path_factory) -> dict:
    """Two files encrypted under the same key: 5 chunks of 64 KiB (the last partial) each."""
    d = tmp_path_factory.mktemp("sample")
    out = {}
    for name in ("a", "b"):
        src, enc = d / f"{name}.txt", d / f"{name}.enc"
        src.write_bytes(os.urandom(300_000))
        ok_json(kmsgw(remote, "encrypt", "--key-id", remote.key_id, str(src), str(enc)))
        out[name] = enc.read_bytes()
    header = read_header(d / "a.enc")
    out["header_len"] = len(header.raw)
    out["frame"] = header.chunk_size + TAG_SIZE
    out["wrapped_at"] = out["a"].index(header.wrapped_key)
    out["key_id_at"] = out["a"].index(header.key_id.encode())
    return out


def chunks(blob: bytes, s: dict) -> tuple[bytes, list[bytes]]:
    h, f = s["header_len"], s["frame"]
    body = blob[h:]
    return blob[:h], [body[i : i + f] for i in range(0, len(body), f)]


def flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :]


def swap_chunks(blob: bytes, s: dict) -> bytes:
    head, cs = chunks(blob, s)
    cs[1], cs[2] = cs[2], cs[1]
    return head + b"".join(cs)


def splice(blob: bytes, s: dict) -> bytes:
    head, cs = chunks(blob, s)
    cs[1] = chunks(s["b"], s)[1][1]  # same position, same key, another file
    return head + b"".join(cs)


def drop_last_chunk(blob: bytes, s: dict) -> bytes:
    head, cs = chunks(blob, s)
    return head + b"".join(cs[:-1])


def other_key_in_header(blob: bytes, s: dict, remote: Remote) -> bytes:
    at = s["key_id_at"]
    return blob[:at] + remote.other_key_id.encode() + blob[at + len(remote.other_key_id) :]


DAMAGE = {
    "chunk byte flipped": (lambda b, s, r: flip(b, s["header_len"] + s["frame"] * 2 + 100), 4, "modified"),
    "tag byte flipped": (lambda b, s, r: flip(b, len(b) - 1), 4, "chunk 4"),
    "file nonce flipped": (lambda b, s, r: flip(b, 20), 4, "chunk 0"),
    "wrapped key flipped": (lambda b, s, r: flip(b, s["wrapped_at"] + 10), 1, "KMS."),
    "header key id swapped": (other_key_in_header, 1, "KMS."),
    "chunks reordered": (lambda b, s, r: swap_chunks(b, s), 4, "chunk 1"),
    "chunk from another file": (lambda b, s, r: splice(b, s), 4, "chunk 1"),
    "last chunk dropped": (lambda b, s, r: drop_last_chunk(b, s), 4, "truncated"),
    "cut mid-chunk": (lambda b, s, r: b[: s["header_len"] + s["frame"] * 2 + 777], 4, "truncated"),
    "header only": (lambda b, s, r: b[: s["header_len"]], 4, "truncated"),
    "cut inside header": (lambda b, s, r: b[: s["header_len"] - 5], 4, "truncated"),
    "chunk appended": (lambda b, s, r: b + chunks(b, s)[1][0], 4, "chunk 4"),
    "not an encrypted file": (lambda b, s, r: os.urandom(4096), 4, "bad magic"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_file_is_refused_without_output(remote, sample, tmp_path, damage):
    fn, rc, needle = DAMAGE[damage]
    src, dst = tmp_path / "in.enc", tmp_path / "out.txt"
    src.write_bytes(fn(sample["a"], sample, remote))
    one_line_error(kmsgw(remote, "decrypt", str(src), str(dst)), rc, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.enc"]  # no output, no temp file left


def test_wrong_key_is_refused_without_output(remote, sample, tmp_path):
    src, dst = tmp_path / "in.enc", tmp_path / "out.txt"
    src.write_bytes(sample["a"])
    line = one_line_error(kmsgw(remote, "decrypt", "--key-id", remote.other_key_id, str(src), str(dst)), 4)
    assert remote.key_id in line and remote.other_key_id in line
    assert not dst.exists()


# -- the progress bar ------------------------------------------------------------------------
def run_on_tty(remote: Remote, *args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; (rc, what the terminal got)."""
    master, slave = pty.openpty()
    argv = [sys.executable, "-m", "gateway", *args, "--token-file", str(remote.token_file)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave, env=remote.env())
    os.close(slave)
    chunks_: list[bytes] = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks_.append(data)
    os.close(master)
    return proc.wait(60), b"".join(chunks_).decode(errors="replace")


def test_progress_bar_on_a_terminal_only(remote, tmp_path):
    src = tmp_path / "mid.bin"
    with open(src, "wb") as f:
        f.truncate(12 * MiB)
    rc, shown = run_on_tty(remote, "encrypt", "--key-id", remote.key_id, str(src), str(tmp_path / "1.enc"))
    assert rc == 0 and "encrypt" in shown and "100%" in shown, shown
    rc, shown = run_on_tty(remote, "decrypt", "--quiet", str(tmp_path / "1.enc"), str(tmp_path / "1.out"))
    assert rc == 0 and shown == ""
    assert sha256(tmp_path / "1.out") == sha256(src)


# -- TLS: `kmsgw serve` with [tls], client_auth = "required" ------------------------------------
@pytest.fixture(scope="module")
def tls_remote(tmp_path_factory) -> Remote:
    from tests.support.tls import CertificateAuthority, write_config

    folder = tmp_path_factory.mktemp("cli-tls")
    ca = CertificateAuthority(folder / "ca")
    server, alice = ca.issue("server", server=True), ca.issue("alice")
    data_dir = folder / "var"
    data_dir.mkdir()
    cfg = write_config(folder / "kmsgw.toml", server, client_ca=ca.path, client_auth="required")
    srv = start_serve(data_dir, "--config", str(cfg), timeout=120)
    project_id = new_project_id()
    token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
    creds = cli(data_dir, "credentials", "create", "--project-id", project_id)
    cli(data_dir, "certificates", "bind", "--access-key", creds["access_key"], "--cert", str(alice.cert))
    token_file = folder / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    tls = ("--ca-file", str(ca.path), "--cert-file", str(alice.cert), "--key-file", str(alice.key))
    yield Remote(srv, f"127.0.0.1:{srv.grpc_port}", token, token_file, "", "", tls)
    srv.terminate()


def test_cli_over_mutual_tls(tls_remote, tmp_path):
    r = tls_remote
    key_id = ok_json(kmsgw(r, "key", "create", f"tls-{uuid.uuid4().hex[:8]}", *r.tls))["key_id"]
    src, enc, out = tmp_path / "t.txt", tmp_path / "t.enc", tmp_path / "t.out"
    src.write_bytes(os.urandom(200_000))
    ok_json(kmsgw(r, "encrypt", "--key-id", key_id, str(src), str(enc), *r.tls))
    # The bound certificate alone authenticates (no token anywhere).
    ok_json(kmsgw(r, "decrypt", str(enc), str(out), *r.tls, auth=False))
    assert out.read_bytes() == src.read_bytes()
    assert key_id in {k["key_id"] for k in ok_json(kmsgw(r, "key", "list", *r.tls, auth=False))["keys"]}
    # Without a client certificate, or in plaintext, the handshake fails: unreachable.
    no_cert = kmsgw(r, "key", "list", "--ca-file", r.tls[1], "--retries", "0")
    one_line_error(no_cert, 3, "unreachable")
    one_line_error(kmsgw(r, "key", "list", "--retries", "0"), 3, "unreachable")
