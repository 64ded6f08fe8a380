"""kill -9 under write load: no acknowledged write is lost, nothing half-made shows, every enabled key works.

A real `kmsgw serve` (1 and 2 workers) takes writes from several client threads — create-key (AES and
EC), enable/disable, schedule/cancel deletion, rotate, create grant, tags, create-datakey — and is
killed with SIGKILL (the whole process tree, as systemd or a node failure would) at a random moment,
several rounds in a row (seeded: a failure names its seed). Each thread owns its keys and runs one
operation at a time, so at a kill each key has at most one unacknowledged operation: its outcome may
go either way, every acknowledged one must be there. After each restart:
- every key answers with its acknowledged state (or the in-flight operation's), grants, tags and
  rotations; nothing unknown is listed (a half-made key would be);
- every key listed as enabled works (encrypt/decrypt or sign/verify), and every version of every
  key exists on the token;
- every data key produced before the kill still decrypts to its plaintext.
`KMSGW_CRASH_SEED` reruns one seed; the soak form (`-m soak`) runs many more rounds.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from gateway.core.ports.hsm import key_label
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.gateway import kms_code
from tests.support.kms import list_objects
from tests.support.serve import GrpcClient, cli, start_serve

THREADS = 4
KEYS_PER_THREAD = 5
ENABLED, DISABLED, PENDING_DELETION = 2, 3, 4


@dataclass
class Key:
    key_id: str
    spec: str
    state: int = ENABLED
    rotations: int = 0
    grants: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)
    samples: list[tuple[bytes, bytes]] = field(default_factory=list)  # (data key ciphertext, plaintext)
    pending: tuple | None = None  # the operation in flight when the server died


@dataclass
class Owner:
    """One client thread's keys, and creations whose answer was lost (alias -> spec)."""

    index: int
    keys: dict[str, Key] = field(default_factory=dict)
    lost_creates: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    acked: int = 0


Client = functools.partial(GrpcClient, timeout=20)


# -- the write load -----------------------------------------------------------------------
def one_op(kms: Client, owner: Owner, rng: random.Random) -> None:
    """Pick and run one write; the model changes only once the server acknowledged it."""
    if len(owner.keys) < KEYS_PER_THREAD or rng.random() < 0.05:
        spec = "EC_P256" if rng.random() < 0.25 else "AES_256"
        alias = f"t{owner.index}-{uuid.uuid4().hex[:12]}"
        owner.lost_creates[alias] = spec  # until the answer comes
        info = kms.CreateKey(pb.CreateKeyRequest(key_alias=alias, key_spec=spec)).key_info
        del owner.lost_creates[alias]
        owner.keys[info.key_id] = Key(info.key_id, spec)
        return
    key = owner.keys[rng.choice(sorted(owner.keys))]
    choices = {
        ENABLED: ["disable", "schedule", "grant", "tag"]
        + (["rotate", "datakey", "datakey"] if key.spec == "AES_256" else []),
        DISABLED: ["enable", "schedule", "grant", "tag"],
        PENDING_DELETION: ["cancel"],
    }[key.state]
    op = rng.choice(choices)
    kid = key.key_id
    if op == "disable":
        key.pending = ("state", DISABLED)
        kms.DisableKey(pb.KeyIdRequest(key_id=kid))
        key.state = DISABLED
    elif op == "enable":
        key.pending = ("state", ENABLED)
        kms.EnableKey(pb.KeyIdRequest(key_id=kid))
        key.state = ENABLED
    elif op == "schedule":
        key.pending = ("state", PENDING_DELETION)
        kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=kid, pending_days=7))
        key.state = PENDING_DELETION
    elif op == "cancel":
        key.pending = ("state", DISABLED)
        kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=kid))
        key.state = DISABLED
    elif op == "rotate":
        key.pending = ("rotate",)
        kms.RotateOnDemand(pb.KeyIdRequest(key_id=kid))
        key.rotations += 1
    elif op == "grant":
        key.pending = ("grant",)
        grant_id = kms.CreateGrant(
            pb.CreateGrantRequest(key_id=kid, grantee_principal=uuid.uuid4().hex, operations=["describe-key"])
        ).grant_id
        key.grants.add(grant_id)
    elif op == "tag":
        tag = (f"k{rng.randrange(3)}", uuid.uuid4().hex[:8])
        key.pending = ("tag", tag)
        kms.CreateKeyTag(pb.CreateKeyTagRequest(key_id=kid, tag=pb.TagItem(key=tag[0], value=tag[1])))
        key.tags[tag[0]] = tag[1]
    elif op == "datakey":
        key.pending = ("datakey",)  # a data key whose answer is lost was never given to anyone
        dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=kid, encryption_context={"owner": str(owner.index)}))
        key.samples.append((dk.cipher_text, dk.plain_text))
    key.pending = None


def load(kms: Client, owner: Owner, rng: random.Random, killed: threading.Event) -> None:
    while True:
        try:
            one_op(kms, owner, rng)
            owner.acked += 1
        except grpc.RpcError as err:
            if killed.is_set():
                return  # the server is gone: whatever was in flight stays pending
            owner.failures.append(f"{err.code()} {kms_code(err)} {err.details()}")
            return
        if killed.is_set():
            return


# -- killing the whole process tree ------------------------------------------------------
def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(srv) -> None:
    pids = [srv.proc.pid, *descendants(srv.proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.proc.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() and _alive(p) for p in pids[1:]):
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def restart(data_dir: Path, *extra: str, seed: int):
    """start_serve, but a failure to start names the seed and keeps the raw output (tracebacks)."""
    raw = data_dir.parent / "serve-output.txt"
    try:
        return start_serve(data_dir, *extra)
    except RuntimeError as exc:
        raw.write_text(str(exc))
        raise AssertionError(f"seed {seed}: kmsgw serve did not restart after kill -9: {exc}") from exc


# -- verification after a restart ------------------------------------------------------------
def listed(kms: Client, **kw) -> list[pb.KeyInfo]:
    out, marker = [], ""
    while True:
        page = kms.ListKeys(pb.ListKeysRequest(limit=1000, marker=marker, **kw))
        out += list(page.key_details)
        if not page.truncated:
            return out
        marker = page.next_marker


def adopt_lost_creates(owners: list[Owner], infos: list[pb.KeyInfo]) -> None:
    """A creation whose answer was lost either never happened or made a complete, working key."""
    by_alias = {info.key_alias: info for info in infos}
    for owner in owners:
        for alias, spec in list(owner.lost_creates.items()):
            info = by_alias.get(alias)
            if info is not None:
                assert info.key_state == ENABLED, info
                owner.keys[info.key_id] = Key(info.key_id, spec)
            del owner.lost_creates[alias]


def verify(kms: Client, owners: list[Owner], data_dir: Path, rng: random.Random) -> int:
    infos = listed(kms)
    adopt_lost_creates(owners, infos)
    model = {kid: key for owner in owners for kid, key in owner.keys.items()}
    assert {i.key_id for i in infos} == set(model), "listed keys differ from the acknowledged ones"
    labels = {o.get("label") for o in list_objects(data_dir)}
    for info in infos:
        key = model[info.key_id]
        pending = key.pending or ()
        # State: the acknowledged one, or the in-flight change's.
        allowed = {key.state} | ({pending[1]} if pending[:1] == ("state",) else set())
        assert info.key_state in allowed, (info.key_id, info.key_state, allowed)
        key.state = info.key_state
        # Rotations.
        if key.spec == "AES_256":
            status = kms.GetKeyRotationStatus(pb.KeyIdRequest(key_id=key.key_id))
            allowed = {key.rotations} | ({key.rotations + 1} if pending == ("rotate",) else set())
            assert status.number_of_rotations in allowed, (key.key_id, status.number_of_rotations, allowed)
            key.rotations = status.number_of_rotations
            assert status.key_version == key.rotations + 1
            for version in range(1, key.rotations + 2):  # every version is on the token
                assert key_label(key.key_id, version) in labels, (key.key_id, version)
        else:
            assert key_label(key.key_id, 1) in labels
        # Grants and tags.
        grants = {g.grant_id for g in kms.ListGrants(pb.ListGrantsRequest(key_id=key.key_id, limit=100)).grants}
        assert key.grants <= grants and len(grants - key.grants) <= (1 if pending == ("grant",) else 0)
        key.grants = grants
        tags = {t.key: t.value for t in kms.ListKeyTags(pb.KeyIdRequest(key_id=key.key_id)).tags}
        expected = [dict(key.tags)]
        if pending[:1] == ("tag",):
            expected.append({**key.tags, pending[1][0]: pending[1][1]})
        assert tags in expected, (key.key_id, tags, expected)
        key.tags = tags
        key.pending = None
    # Every enabled key works, and every data key made before the kill still decrypts. Keys that are
    # not enabled are brought back first (acknowledged writes, recorded in the model).
    checked = 0
    for key in model.values():
        if key.state == PENDING_DELETION:
            kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=key.key_id))
            key.state = DISABLED
        if key.state == DISABLED and (key.samples or rng.random() < 0.5):
            kms.EnableKey(pb.KeyIdRequest(key_id=key.key_id))
            key.state = ENABLED
        if key.state != ENABLED:
            continue
        if key.spec == "AES_256":
            enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key.key_id, plain_text=b"after the crash"))
            assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"after the crash"
        else:
            digest = os.urandom(32)
            sig = kms.Sign(pb.SignRequest(key_id=key.key_id, message=digest, signing_algorithm="ECDSA_SHA_256"))
            assert kms.Verify(
                pb.VerifyRequest(
                    key_id=key.key_id, message=digest, signature=sig.signature, signing_algorithm="ECDSA_SHA_256"
                )
            ).signature_valid
        for blob, plain in key.samples:
            owner = next(o for o in owners if key.key_id in o.keys)
            out = kms.DecryptDataKey(
                pb.DecryptDataKeyRequest(
                    key_id=key.key_id,
                    cipher_text=blob,
                    datakey_cipher_length=32,
                    encryption_context={"owner": str(owner.index)},
                )
            )
            assert out.data_key == plain
            checked += 1
    assert {i.key_id for i in listed(kms, key_state=ENABLED)} == {k for k, v in model.items() if v.state == ENABLED}
    return checked


# -- the rounds ---------------------------------------------------------------------------------
def crash_rounds(tmp_path: Path, workers: int, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    data_dir = tmp_path / "var"
    project_id = uuid.uuid4().hex
    token = cli(data_dir, "token", "create", "--project-id", project_id, "--ttl", "86400")["token"]
    owners = [Owner(i) for i in range(THREADS)]
    # A quiet machine creates more than the default 100 keys per project over the rounds.
    config = tmp_path / "kmsgw.toml"
    config.write_text("[gateway]\ncmk_quota = 100000\n")
    extra = ("--workers", str(workers), "--config", str(config))
    totals = {"acked": 0, "decrypted": 0}
    srv = start_serve(data_dir, *extra)
    try:
        for round_no in range(rounds):
            kms = Client(srv.grpc_port, token)
            killed = threading.Event()
            threads = [
                threading.Thread(target=load, args=(kms, o, random.Random(rng.random()), killed), daemon=True)
                for o in owners
            ]
            before = sum(o.acked for o in owners)
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.8, 3.0))
            killed.set()
            kill_tree(srv)
            for t in threads:
                t.join(60)
            kms.close()
            failures = [f for o in owners for f in o.failures]
            assert not failures, f"seed {seed} round {round_no}: writes failed before the kill: {failures[:3]}"
            totals["acked"] += sum(o.acked for o in owners) - before
            srv = restart(data_dir, *extra, seed=seed)
            kms = Client(srv.grpc_port, token)
            try:
                totals["decrypted"] += verify(kms, owners, data_dir, rng)
            except AssertionError as exc:
                raise AssertionError(f"seed {seed} round {round_no} ({workers} workers): {exc}") from exc
            finally:
                kms.close()
    finally:
        kill_tree(srv)
    assert totals["acked"] > rounds * 10, totals  # the load really ran
    print(f"crash rounds: seed={seed} workers={workers} rounds={rounds} {totals}")


def _seed() -> int:
    return int(os.environ.get("KMSGW_CRASH_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_under_write_load(tmp_path: Path, workers: int) -> None:
    crash_rounds(tmp_path, workers, rounds=4 if workers == 1 else 3, seed=_seed())


@pytest.mark.soak
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_soak(tmp_path: Path, workers: int, request: pytest.FixtureRequest) -> None:
    if "soak" not in (request.config.getoption("markexpr") or "").replace("not soak", ""):
        pytest.skip("the soak form runs only when selected: pytest -m soak")
    crash_rounds(tmp_path, workers, rounds=int(os.environ.get("KMSGW_CRASH_ROUNDS", "40")), seed=_seed())
