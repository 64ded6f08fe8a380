"""The audit trail: format, tamper detection, concurrent writers, and real gateways writing it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest

from gateway.audit import key as audit_key
from gateway.audit.trail import FIELDS, GENESIS, PATH_CHECK_INTERVAL_S, AuditLog, line_hash
from gateway.audit.verify import verify
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.audit import append_many, event
from tests.support.rest import Rest
from tests.support.serve import cli, start_serve

KEY = bytes(range(32))
LINES = 50


def write_chain(path: Path, count: int = LINES, key: bytes | None = KEY) -> list[bytes]:
    log = AuditLog(path, key, fsync="never")
    for i in range(count):
        log.record(event(i))
    log.close()
    return path.read_bytes().splitlines(keepends=True)


def forge(line: bytes, key: bytes, **changes: object) -> bytes:
    """The line with fields changed and its MAC recomputed under ``key``."""
    rec = json.loads(line)
    rec.pop("mac", None)
    rec.update(changes)
    body = json.dumps(rec, separators=(",", ":")).encode()[:-1]
    return body + b',"mac":"' + hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b'"}\n'


def run_verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# -- format ---------------------------------------------------------------------------------
def test_line_format_is_canonical_json_with_fixed_keys(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, KEY, fsync="never")
    log.record(event(0, sequence="919c82d4-8046-4722-9094-35c3c6524cff"))
    log.record(event(1, request_id='quote" back\\ ctl\x01 nl\n é 漢 \U0001f600', principal=""))
    log.record(event(2, request_id="x" * 10_000))
    log.close()
    raw = path.read_bytes()
    assert raw.isascii() and raw.endswith(b"\n")
    lines = raw.splitlines()
    recs = [json.loads(line) for line in lines]
    for line, rec in zip(lines, recs, strict=True):
        assert list(rec) == [*FIELDS, "mac"]
        # Canonical: exactly what json.dumps gives with no spaces, so anyone can rebuild the bytes.
        assert json.dumps(rec, separators=(",", ":")).encode() == line
    assert [r["seq"] for r in recs] == [1, 2, 3]
    assert recs[0]["prev"] == GENESIS == hashlib.sha256(b"kmsgw audit v1 genesis").hexdigest()
    assert recs[1]["prev"] == line_hash(lines[0]) == hashlib.sha256(lines[0]).hexdigest()
    assert recs[0]["sequence"] == "919c82d4-8046-4722-9094-35c3c6524cff" and recs[1]["sequence"] is None
    assert recs[1]["request_id"] == 'quote" back\\ ctl\x01 nl\n é 漢 \U0001f600'
    assert len(recs[2]["request_id"]) == 256  # client-chosen values are clipped
    assert recs[0]["time"].endswith("Z") and len(recs[0]["time"]) == len("2026-11-03T10:00:00.123Z")
    body = lines[0][: lines[0].index(b',"mac":')]
    assert recs[0]["mac"] == hmac.new(KEY, body, hashlib.sha256).hexdigest()


def test_file_and_directory_modes(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "audit.jsonl"
    write_chain(path, 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_bad_fsync_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync"):
        AuditLog(tmp_path / "a", KEY, fsync="sometimes")


@pytest.mark.parametrize("mode", ["always", "interval", "never"])
def test_every_fsync_mode_writes_a_valid_chain(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, KEY, fsync=mode, fsync_interval_s=0.05)
    for i in range(20):
        log.record(event(i))
    log.close()
    assert verify(path, KEY).ok


# -- verification ---------------------------------------------------------------------------
def test_a_long_chain_verifies(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_chain(path, 2000)
    for key in (KEY, None):
        report = verify(path, key)
        assert report.ok and report.lines == 2000, report
        assert report.macs_checked is (key is not None)
        assert report.first_time <= report.last_time


def test_empty_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"")
    assert verify(path, KEY).ok


def _edit(lines: list[bytes]) -> list[bytes]:
    rec = json.loads(lines[19])
    rec["result"] = "KMS.0207" if rec["result"] == "OK" else "OK"
    lines[19] = json.dumps(rec, separators=(",", ":")).encode() + b"\n"
    return lines


def _delete(lines: list[bytes]) -> list[bytes]:
    del lines[19]
    return lines


def _swap(lines: list[bytes]) -> list[bytes]:
    lines[19], lines[20] = lines[20], lines[19]
    return lines


def _move_far(lines: list[bytes]) -> list[bytes]:
    moved = lines.pop(19)
    lines.insert(30, moved)
    return lines


def _insert_copy_of_earlier(lines: list[bytes]) -> list[bytes]:
    lines.insert(19, lines[9])
    return lines


def _insert_copy_of_later(lines: list[bytes]) -> list[bytes]:
    lines.insert(19, lines[29])
    return lines


def _duplicate(lines: list[bytes]) -> list[bytes]:
    lines.insert(20, lines[19])
    return lines


def _insert_crafted(lines: list[bytes]) -> list[bytes]:
    """A new line that claims seq 20 and chains from line 19 (MAC under a key the forger guessed)."""
    lines.insert(19, forge(lines[19], os.urandom(32), result="OK", principal="someone-else"))
    return lines


def _not_json(lines: list[bytes]) -> list[bytes]:
    lines[19] = b"this is not json\n"
    return lines


def _torn_tail(lines: list[bytes]) -> list[bytes]:
    lines[-1] = lines[-1][:40]
    return lines


def _drop_head(lines: list[bytes]) -> list[bytes]:
    return lines[1:]


def _rechain_after_edit(lines: list[bytes]) -> list[bytes]:
    """The attacker edits line 20 and recomputes every later prev (without the real MAC key)."""
    attacker = os.urandom(32)
    out = lines[:19]
    for line in lines[19:]:
        changes: dict[str, object] = {"prev": line_hash(out[-1].rstrip(b"\n"))}
        if len(out) == 19:
            changes["result"] = "KMS.0207"
        out.append(forge(line, attacker, **changes))
    return out


# (mutation, bad line with the MAC key, reason, bad line without the key, reason)
TAMPERING = [
    (_edit, 20, "edited", 20, "edited"),
    (_delete, 20, "missing line 20", 20, "missing line 20"),
    (_swap, 20, "reordered (swapped with line 21)", 20, "reordered (swapped"),
    (_move_far, 20, "reordered (seq 21 at line 20; seq 20 is at line 31)", 20, "reordered"),
    (_insert_copy_of_earlier, 20, "duplicate of line 10", 20, "duplicate of line 10"),
    (_insert_copy_of_later, 20, "inserted", 20, "inserted"),
    (_duplicate, 21, "duplicate of line 20", 21, "duplicate of line 20"),
    (_insert_crafted, 20, "MAC does not match", 20, "inserted"),
    (_not_json, 20, "not JSON", 20, "not JSON"),
    (_torn_tail, LINES, "incomplete", LINES, "incomplete"),
    (_drop_head, 1, "missing line 1", 1, "missing line 1"),
]


@pytest.mark.parametrize(
    ("mutate", "line_k", "why_k", "line_n", "why_n"), TAMPERING, ids=lambda v: getattr(v, "__name__", None)
)
def test_tampering_is_found_at_its_line(tmp_path: Path, mutate, line_k, why_k, line_n, why_n) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(mutate(write_chain(path))))
    with_key = verify(path, KEY)
    assert not with_key.ok and (with_key.bad_line, with_key.lines) == (line_k, line_k - 1), with_key
    assert why_k in with_key.reason, with_key
    chain_only = verify(path, None)
    assert not chain_only.ok and chain_only.bad_line == line_n and why_n in chain_only.reason, chain_only


def test_a_rechained_file_needs_the_mac_key_to_be_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(_rechain_after_edit(write_chain(path))))
    report = verify(path, KEY)
    assert not report.ok and report.bad_line == 20 and "MAC" in report.reason
    assert verify(path, None).ok  # documented: the hash chain alone cannot tell (docs/audit.md)


def test_lines_without_mac_fail_when_the_key_is_known(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_chain(path, 5, key=None)
    assert verify(path, None).ok
    report = verify(path, KEY)
    assert not report.ok and report.bad_line == 1 and "no MAC" in report.reason


def test_a_removed_tail_is_not_detectable(tmp_path: Path) -> None:
    """Documented limit: dropping the last lines leaves a valid shorter chain."""
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"".join(write_chain(path)[:-5]))
    assert verify(path, KEY).ok


# -- the writer -----------------------------------------------------------------------------
def test_a_new_writer_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_chain(path, 10)
    write_chain(path, 10)
    report = verify(path, KEY)
    assert report.ok and report.lines == 20


def test_writers_interleaving_in_one_process_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    logs = [AuditLog(path, KEY, fsync="never") for _ in range(3)]
    for i in range(30):
        logs[i % 3].record(event(i))
    for log in logs:
        log.close()
    report = verify(path, KEY)
    assert report.ok and report.lines == 30


def test_a_torn_last_line_is_closed_and_numbered_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_chain(path, 5)
    with open(path, "ab") as f:
        f.write(b'{"time":"2026-')  # a write cut short (power loss)
    write_chain(path, 3)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 9 and lines[5] == b'{"time":"2026-'
    assert [json.loads(line)["seq"] for line in lines[6:]] == [7, 8, 9]  # seq stays the line number
    assert json.loads(lines[6])["prev"] == line_hash(lines[5])
    report = verify(path, KEY)
    assert not report.ok and report.bad_line == 6 and "not JSON" in report.reason


def test_rotation_by_rename_starts_a_new_chain(tmp_path: Path) -> None:
    """A writer notices the rename within PATH_CHECK_INTERVAL_S (docs/audit.md, "Rotation")."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, KEY, fsync="interval")
    for i in range(5):
        log.record(event(i))
    archived = tmp_path / "audit-1.jsonl"
    path.rename(archived)
    time.sleep(PATH_CHECK_INTERVAL_S)
    for i in range(3):
        log.record(event(i))
    log.close()
    assert verify(archived, KEY).ok and verify(archived, KEY).lines == 5
    report = verify(path, KEY)
    assert report.ok and report.lines == 3
    assert json.loads(path.read_bytes().splitlines()[0])["prev"] == GENESIS


def test_lines_written_just_after_a_rename_stay_in_a_whole_chain(tmp_path: Path) -> None:
    """Before the writer notices a rename, its lines go on in the renamed file: none is lost, and
    each file verifies on its own, with every line in one of them."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, KEY, fsync="never")
    for i in range(5):
        log.record(event(i))
    archived = tmp_path / "audit-1.jsonl"
    path.rename(archived)
    for i in range(5, 8):  # within the check interval (or not, on a slow machine: either is right)
        log.record(event(i))
    time.sleep(PATH_CHECK_INTERVAL_S)
    log.record(event(8))
    log.close()
    old, new = verify(archived, KEY), verify(path, KEY)
    assert old.ok and new.ok and old.lines + new.lines == 9 and new.lines >= 1
    ids = [json.loads(line)["request_id"] for f in (archived, path) for line in f.read_bytes().splitlines()]
    assert ids == [f"req-{i}" for i in range(9)]


def test_a_removed_file_is_replaced_at_the_next_line(tmp_path: Path) -> None:
    """Removal needs no path check: the append sees that its file has no name left, at once."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, KEY, fsync="interval")
    log.record(event(0))
    path.unlink()
    log.record(event(1))  # no sleep: not one line goes to the removed file
    assert [json.loads(line)["request_id"] for line in path.read_bytes().splitlines()] == ["req-1"]
    log.close()
    report = verify(path, KEY)
    assert report.ok and report.lines == 1


def test_a_removed_directory_fails_the_next_line_closed(tmp_path: Path) -> None:
    """No file can be made: record() raises (the pipeline answers an internal error), at once and
    again on every later line, and writes again once the directory is back."""
    path = tmp_path / "trail" / "audit.jsonl"
    log = AuditLog(path, KEY, fsync="never")
    log.record(event(0))
    shutil.rmtree(path.parent)
    for i in range(2):
        with pytest.raises(OSError):
            log.record(event(i))
    path.parent.mkdir()
    log.record(event(3))
    log.close()
    report = verify(path, KEY)
    assert report.ok and report.lines == 1


def test_processes_appending_at_once_make_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    workers, each = 4, 300
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=append_many, args=(str(path), KEY, w, each)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    report = verify(path, KEY)
    assert report.ok and report.lines == workers * each, report
    recs = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [r["seq"] for r in recs] == list(range(1, workers * each + 1))
    for w in range(workers):  # each writer's own records stay in its order
        mine = [r["request_id"] for r in recs if r["request_id"].startswith(f"w{w}-")]
        assert mine == [f"w{w}-{i}" for i in range(each)]


class _FakeSealingToken:
    """Pure-logic stand-in for the token's seal/open (the real one is used by the gateway tests below)."""

    def has_key(self, label: str) -> bool:
        return True

    def random(self, n: int) -> bytes:
        return os.urandom(n)

    def gcm_seal(self, label: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        return os.urandom(12), plaintext + hashlib.sha256(aad + plaintext).digest()[:16]

    def gcm_open(self, label: str, iv: bytes, body: bytes, aad: bytes) -> bytes | None:
        plain = body[:-16]
        return plain if hashlib.sha256(aad + plain).digest()[:16] == body[-16:] else None


def test_processes_starting_at_once_agree_on_one_mac_key(tmp_path: Path) -> None:
    token = _FakeSealingToken()
    path = tmp_path / "audit-mac.sealed"
    barrier = threading.Barrier(8)
    keys: list[bytes] = []

    def start() -> None:
        barrier.wait()
        keys.append(audit_key.load_or_create(lambda job: job(token), path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    path.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 1]))
    with pytest.raises(audit_key.AuditKeyError, match="does not unseal"):
        audit_key.load_or_create(lambda job: job(token), path)


# -- a real gateway -------------------------------------------------------------------------
def test_no_secret_reaches_the_audit_file(gateway) -> None:
    rt = gateway.rt
    assert rt.audit is not None and rt.audit.path == rt.config.data_dir / "audit.jsonl"
    sealed = rt.config.data_dir / "audit-mac.sealed"
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    project_id = uuid.uuid4().hex
    token = gateway.token(project_id)
    creds = gateway.credentials(project_id)
    kms = gateway.stub(token)
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias=f"a-{uuid.uuid4().hex[:8]}")).key_info.key_id
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    secret_text = b"audit-must-never-see-" + uuid.uuid4().hex.encode()
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=secret_text))
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == secret_text
    rest = Rest(gateway.rest_url, project_id, creds=creds)
    try:
        rest_dk = rest.ok("/create-datakey", {"key_id": key_id, "datakey_length": "256"})
        rest_text = "rest-plaintext-" + uuid.uuid4().hex
        rest_ct = rest.ok("/encrypt-data", {"key_id": key_id, "plain_text": rest_text})["cipher_text"]
        assert rest.ok("/decrypt-data", {"cipher_text": rest_ct})["plain_text"] == rest_text
        rest.call("/describe-key", {"key_id": str(uuid.uuid4())})  # an error is audited too
    finally:
        rest.close()
    pin = (rt.config.data_dir / "hsm.pin").read_text().strip()
    text = rt.audit.path.read_bytes()
    forbidden = {
        "token": token.encode(),
        "token (no prefix)": token.split(".", 1)[1].encode(),
        "secret key": creds["secret_key"].encode(),
        "pin": pin.encode(),
        "grpc data key": dk.plain_text,
        "grpc data key hex": dk.plain_text.hex().encode(),
        "grpc data key b64": base64.b64encode(dk.plain_text),
        "plaintext": secret_text,
        "plaintext b64": base64.b64encode(secret_text),
        "rest data key": rest_dk["plain_text"].encode(),
        "rest data key HEX": rest_dk["plain_text"].upper().encode(),
        "rest plaintext": rest_text.encode(),
    }
    for what, value in forbidden.items():
        assert value not in text, f"the {what} is in the audit file"
    mine = [json.loads(line) for line in text.splitlines() if project_id.encode() in line]
    assert any(r["transport"] == "grpc" and r["key_id"] == key_id and r["result"] == "OK" for r in mine), mine
    assert any(r["transport"] == "rest" and r["result"] != "OK" for r in mine), mine
    assert all(r["project_id"] == project_id for r in mine)
    assert {r["principal"] for r in mine if r["transport"] == "rest"} == {creds["access_key"]}
    # The running gateway's file verifies from outside, MACs included (the CLI unseals the key).
    out = run_verify(str(rt.audit.path), "--data-dir", str(rt.config.data_dir))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "MACs verified" in out.stdout


def test_serve_with_two_workers_under_load_writes_one_verifiable_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    srv = start_serve(data_dir, "--workers", "2")
    calls = 0
    try:
        project_id = uuid.uuid4().hex
        token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
        md = (("x-auth-token", token),)
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        stub = pb_grpc.KeyManagementServiceStub(channel)
        key_id = stub.CreateKey(pb.CreateKeyRequest(key_alias="audit-load"), metadata=md, timeout=30).key_info.key_id
        errors: list[BaseException] = []
        per_thread = 40

        def load(t: int) -> None:
            ch = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")  # one connection each: both workers serve
            s = pb_grpc.KeyManagementServiceStub(ch)
            try:
                for i in range(per_thread):
                    if i % 4 == 3:
                        try:
                            s.DescribeKey(pb.KeyIdRequest(key_id=str(uuid.uuid4())), metadata=md, timeout=30)
                        except grpc.RpcError:
                            pass
                    else:
                        s.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id), metadata=md, timeout=30)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                ch.close()

        threads = [threading.Thread(target=load, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        rest = Rest(f"http://127.0.0.1:{srv.http_port}", project_id, token=token)
        for _ in range(20):
            rest.ok("/create-datakey", {"key_id": key_id})
        rest.close()
        for t in threads:
            t.join(120)
        channel.close()
        assert not errors, errors
        calls = 1 + 6 * per_thread + 20
        live = run_verify("--data-dir", str(data_dir))  # the default file, while both workers write
        assert live.returncode == 0, live.stdout + live.stderr
    finally:
        rc = srv.terminate()
    assert rc == 0
    path = data_dir / "audit.jsonl"
    out = run_verify(str(path), "--data-dir", str(data_dir))
    assert out.returncode == 0 and "MACs verified" in out.stdout, out.stdout + out.stderr
    recs = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert len(recs) >= calls
    assert sum(r["transport"] == "rest" and r["project_id"] == project_id for r in recs) >= 20
    # The CLI names the first bad line of a tampered copy, and the chain-only mode works off-token.
    lines = path.read_bytes().splitlines(keepends=True)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"".join(_edit(list(lines))))
    bad = run_verify(str(tampered), "--data-dir", str(data_dir))
    assert bad.returncode == 1 and "line 20: edited or forged (MAC does not match)" in bad.stdout, bad.stdout
    shutil.copy(path, tmp_path / "copy.jsonl")
    chain_only = run_verify(str(tmp_path / "copy.jsonl"), "--no-mac")
    assert chain_only.returncode == 0 and "MACs NOT checked" in chain_only.stdout
    missing_key = run_verify(str(path), "--data-dir", str(tmp_path / "elsewhere"))
    assert missing_key.returncode == 2 and "no audit MAC key" in missing_key.stderr
    unreadable = run_verify(str(tmp_path), "--no-mac")  # a directory: could not check (2), not tampered (1)
    assert unreadable.returncode == 2 and "cannot read" in unreadable.stderr, unreadable.stderr
