"""Small helpers shared by the gRPC acceptance tests (fixtures live in conftest.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from gateway.core.model import Caller
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.hsm.softhsm import find_softhsm_module
from tests.support.gateway import Gateway, kms_code

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
PKCS11_TOOL = shutil.which("pkcs11-tool")


def expect_error(status: grpc.StatusCode, code: str, fn: Callable[[Any], Any], request: Any) -> grpc.RpcError:
    """Call ``fn(request)``, assert it fails with this status and this ``kms-error-code``."""
    with pytest.raises(grpc.RpcError) as info:
        fn(request)
    err = info.value
    assert (err.code(), kms_code(err)) == (status, code), err.details()
    return err


def alias() -> str:
    return f"k-{uuid.uuid4().hex[:12]}"


def new_key(kms: Any, **kw: Any) -> str:
    return kms.CreateKey(pb.CreateKeyRequest(key_alias=kw.pop("key_alias", alias()), **kw)).key_info.key_id


def dek_plain(dek: bytes) -> bytes:
    """encrypt-datakey's plain_text: the data key followed by its SHA-256."""
    return dek + hashlib.sha256(dek).digest()


def caller_for(gateway: Gateway, token: str) -> Caller:
    return gateway.rt.auth.caller_from_token(token)


def default_key(gateway: Gateway, token: str, alias_: str = "obs/default") -> str:
    """A service default key (alias ending in /default), made through the core as a service would."""
    rec = gateway.call(gateway.rt.kms.create_key(caller_for(gateway, token), key_alias=alias_, default_key=True))
    return rec.key_id


def list_objects(data_dir: Path) -> list[dict[str, str]]:
    """Every object pkcs11-tool lists, as {"type": first line, field: value}."""
    assert PKCS11_TOOL, "pkcs11-tool (Debian opensc) is required"
    pin = (data_dir / "hsm.pin").read_text().strip()
    env = dict(os.environ, SOFTHSM2_CONF=str(data_dir / "softhsm2.conf"), KMSGW_TEST_PIN=pin)
    argv = [PKCS11_TOOL, "--module", find_softhsm_module(), "--login", "--pin", "env:KMSGW_TEST_PIN", "--list-objects"]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=True)
    assert pin not in out.stdout + out.stderr
    objects: list[dict[str, str]] = []
    for line in out.stdout.splitlines():
        if line and not line.startswith(" "):
            objects.append({"type": line.strip()})
        elif objects and ":" in line:
            name, _, value = line.strip().partition(":")
            objects[-1][name.strip()] = value.strip()
    return objects


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
