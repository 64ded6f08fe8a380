"""What a gateway run needs around its cells: keys on the gateway, and the raw token run beside it."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.bench.gw.ops import SIGN_SPECS, USES_PAYLOAD, Endpoint, Fixture, raw_mechanism

if TYPE_CHECKING:
    from gateway.bench.gw.runner import GwSettings
    from gateway.bench.p11.runner import P11Settings

PENDING_DAYS = 7  # the shortest deletion the API allows


@dataclass(frozen=True)
class RawToken:
    """The token behind the gateway, for ``--with-raw``."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> RawToken:
        """A gateway data dir's managed SoftHSM2 token: its config, label and PIN file (0600)."""
        from gateway.hsm.softhsm import DEFAULT_TOKEN_LABEL, find_softhsm_module
        from gateway.secret_files import read_secret

        return cls(
            find_softhsm_module(), DEFAULT_TOKEN_LABEL, read_secret(data_dir / "hsm.pin"),
            {"SOFTHSM2_CONF": str(data_dir / "softhsm2.conf")},
        )  # fmt: skip


def make_keys(s: GwSettings, ep: Endpoint) -> tuple[Fixture, list[str]]:
    """An AES-256 key (unless ``--key-id``) and, for ``sign``, a key pair; over gRPC with the client library."""
    from gateway.client import KmsClient
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    if not ep.grpc_target:
        raise RuntimeError("keys are set up over gRPC: give --target")
    made: list[str] = []
    tag = secrets.token_hex(4)
    with KmsClient(ep.grpc_target, token=ep.token, ca_file=ep.ca_file, timeout=60) as client:
        key_id = s.key_id
        if not key_id:
            key_id = client.create_key(f"kmsgw-bench-{tag}", key_spec="AES_256").key_id
            made.append(key_id)
        fx = Fixture(key_id=key_id, sign_spec=s.sign_spec)
        if "sign" in s.operations:
            info = client.create_key(f"kmsgw-bench-{tag}-sign", key_spec=s.sign_spec, key_usage="SIGN_VERIFY")
            made.append(info.key_id)
            der = client.call("GetPublicKey", pb.KeyIdRequest(key_id=info.key_id)).public_key_der
            fx = Fixture(key_id, info.key_id, s.sign_spec, bytes(der))
    return fx, made


def retire_keys(s: GwSettings, ep: Endpoint, made: list[str]) -> None:
    """A started gateway goes with its temp dir; on a running one, schedule the run's keys for deletion."""
    if s.start or not made or not ep.grpc_target:
        return
    from gateway.client import KmsClient, KmsClientError

    with KmsClient(ep.grpc_target, token=ep.token, ca_file=ep.ca_file, timeout=60) as client:
        for key_id in made:
            try:
                client.schedule_key_deletion(key_id, PENDING_DAYS)
            except KmsClientError as exc:
                print(f"kmsgw: could not schedule deletion of key {key_id}: {exc.message}", file=sys.stderr)
    print(f"kmsgw: {len(made)} key(s) the run made are scheduled for deletion in {PENDING_DAYS} days", file=sys.stderr)


def raw_settings(s: GwSettings, raw: RawToken, concurrency: list[int]) -> P11Settings:
    from gateway.bench.p11.catalog import parse_mechanisms
    from gateway.bench.p11.runner import P11Settings

    mechanisms = sorted({raw_mechanism(op, s.sign_spec) for op in s.operations})
    payloads = {32} | ({p for p in s.payloads} if USES_PAYLOAD & set(s.operations) else set())
    return P11Settings(
        module=raw.module, token_label=raw.token_label, pin=raw.pin, mechanisms=parse_mechanisms(",".join(mechanisms)),
        payloads=sorted(payloads), concurrency=sorted(set(concurrency)), model="processes", keys="session",
        duration=s.duration, warmup=s.warmup, repeat=s.repeat, p99_budget_us=s.p99_budget_us, env=raw.env,
    )  # fmt: skip


def attach_raw(run: dict[str, Any], p11: P11Settings, tick: Callable[[str], None]) -> None:
    """Run ``bench p11`` on the gateway's token and fold its cells, discovery and token facts into ``run``."""
    from gateway.bench.p11.runner import run_p11

    raw = run_p11(p11, run["command"], tick)
    run["cells"] += raw["cells"]
    run["discovery"] = raw["discovery"]
    for key in ("module", "library", "token"):
        run["environment"][key] = raw["environment"].get(key)
    run["software_token"] = raw["software_token"]
    run["settings"]["raw"] = raw["settings"]


__all__ = ["SIGN_SPECS", "RawToken", "attach_raw", "make_keys", "raw_settings", "retire_keys"]
