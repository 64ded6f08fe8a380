"""``kmsgw bench p11`` against a real SoftHSM2 token: cells, skips, clean-up, the PIN rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.bench.conftest import SHORT, Token, kmsgw, load


def test_two_mechanisms_two_concurrencies_and_a_skipped_cell(softhsm: Token, tmp_path: Path) -> None:
    before = softhsm.object_count()
    out = tmp_path / "p11.json"
    r = kmsgw(
        "bench", "p11", *softhsm.args(), "--mechanisms", "aes-gcm,ecdsa:p256,aes-gcm:512", "--payload", "32,1024",
        "--concurrency", "1,2", *SHORT, "--out", str(out), env=softhsm.env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = load(out)  # validated against the schema
    cells = {c["id"]: c for c in doc["cells"]}
    ok = [c for c in cells.values() if c["status"] == "ok"]
    assert sorted((c["mechanism"], c["payload"], c["concurrency"]) for c in ok) == [
        ("aes-gcm:256", 32, 1), ("aes-gcm:256", 32, 2), ("aes-gcm:256", 1024, 1), ("aes-gcm:256", 1024, 2),
        ("ecdsa:p256", 32, 1), ("ecdsa:p256", 32, 2),
    ]  # fmt: skip
    for c in ok:
        lat = c["latency_us"]
        assert c["throughput"]["mean"] > 0 and c["error_count"] == 0
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
        assert c["histogram"]["count"] == lat["count"] > 0
        assert c["client_cpu"]["cores_used"] > 0 and c["scaling_efficiency"] is not None
    assert cells["p11/aes-gcm:256/1024B/c1/processes"]["bytes_per_s"]["mean"] > 0
    assert cells["p11/ecdsa:p256/32B/c1/processes"]["payload_applies"] is False
    skipped = [c for c in cells.values() if c["status"] == "skipped"]
    assert {c["mechanism"] for c in skipped} == {"aes-gcm:512"} and len(skipped) == 4
    assert all("CKM_AES_GCM" in c["reason"] and "bounds" in c["reason"] for c in skipped)
    # discovery, environment and the software-token label
    mechs = {m["name"]: m for m in doc["discovery"]["mechanisms"]}
    assert mechs["CKM_AES_GCM"]["max_key"] == 32 and "CKM_ECDSA" in mechs
    env = doc["environment"]
    assert env["token"]["model"] == "SoftHSM v2" and env["token"]["max_sessions"] is not None
    assert len(env["module"]["sha256"]) == 64 and len(env["load_average_start"]) == 3
    assert doc["software_token"] is True and "software token" in r.stdout
    assert {tuple(c["group"].values())[:2] for c in doc["curves"]} >= {("aes-gcm:256", 32), ("ecdsa:p256", 32)}
    # session keys: one AES key and one EC pair per worker process, all destroyed
    assert doc["settings"]["objects_destroyed"] == 6
    assert softhsm.object_count() == before


def test_token_keys_and_the_threads_model(softhsm: Token, tmp_path: Path) -> None:
    """--keys token makes token objects and removes them; --model threads gets CKF_OS_LOCKING_OK."""
    before = softhsm.object_count()
    out = tmp_path / "threads.json"
    env = {**softhsm.env(), "BENCH_PIN": softhsm.pin_file.read_text().strip()}
    r = kmsgw(
        "bench", "p11", "--module", softhsm.module, "--token-label", softhsm.label, "--pin-env", "BENCH_PIN",
        "--mechanisms", "aes-gcm,random", "--payload", "32", "--concurrency", "1,2", "--model", "threads",
        "--keys", "token", "--repeat", "2", *SHORT, "--out", str(out), env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = load(out)
    assert doc["settings"]["locking"] == "os"
    assert {c["model"] for c in doc["cells"]} == {"threads"}
    assert all(c["status"] == "ok" and c["throughput"]["n"] == 2 and c["error_count"] == 0 for c in doc["cells"])
    assert doc["settings"]["objects_destroyed"] == 1  # the one token AES key, made once, found by the other thread
    assert softhsm.object_count() == before


def test_a_pin_on_the_command_line_is_refused(softhsm: Token) -> None:
    for pin_args in (["--pin", "1234"], ["--pin=1234"], ["--so-pin", "1234"]):
        r = kmsgw("bench", "p11", "--module", softhsm.module, "--token-label", softhsm.label, *pin_args,
                  "--mechanisms", "random", *SHORT, env=softhsm.env())  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert "command line" in r.stderr and "--pin-file" in r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_pin_files_others_can_read_and_bad_options_are_usage_errors(softhsm: Token, tmp_path: Path) -> None:
    wide = tmp_path / "pin"
    shutil.copy(softhsm.pin_file, wide)
    os.chmod(wide, 0o644)
    base = ["bench", "p11", "--module", softhsm.module, "--token-label", softhsm.label]
    r = kmsgw(*base, "--pin-file", str(wide), *SHORT, env=softhsm.env())
    assert r.returncode == 2 and "readable by others" in r.stderr
    r = kmsgw(*base, "--pin-file", str(softhsm.pin_file), "--mechanisms", "des", *SHORT, env=softhsm.env())
    assert r.returncode == 2 and "unknown mechanism" in r.stderr
    r = kmsgw(*base, *SHORT, env=softhsm.env())
    assert r.returncode == 2 and "--pin-file" in r.stderr
    r = kmsgw(*base, "--pin-file", str(softhsm.pin_file), "--concurrency", "0", *SHORT, env=softhsm.env())
    assert r.returncode == 2 and "--concurrency" in r.stderr


STRESS = """
import os, sys, threading, time
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams
from gateway.bench.p11.module import open_library

opened = open_library(sys.argv[1], "threads")
assert opened.locking == "os", opened.locking
token = opened.lib.get_token(token_label=sys.argv[2])
first = token.open(user_pin=open(sys.argv[3]).read().strip(), rw=True)
first.generate_key(KeyType.AES, 256, label="stress", store=False)
errors, counts = [], [0] * 8

def run(i):
    try:
        with token.open(rw=True) as s:
            key = s.get_key(label="stress", key_type=KeyType.AES, object_class=ObjectClass.SECRET_KEY)
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                key.encrypt(b"x" * 32, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(os.urandom(12), b"", 128))
                s.generate_random(256)
                list(s.get_objects({Attribute.LABEL: "stress"}))
                counts[i] += 1
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
first.close()
print(sum(counts), errors)
assert not errors and all(counts), (counts, errors)
"""


def test_os_locking_holds_under_eight_threads(softhsm: Token) -> None:
    """The threads model's premise: with CKF_OS_LOCKING_OK, eight threads calling at once (encrypt,
    random, object search) neither crash SoftHSM2 nor get errors (with C_Initialize(NULL) they crash)."""
    import subprocess
    import sys

    from tests.bench.conftest import REPO

    r = subprocess.run(
        [sys.executable, "-c", STRESS, softhsm.module, softhsm.label, str(softhsm.pin_file)],
        env=softhsm.env(), cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split()[0] != "0"
