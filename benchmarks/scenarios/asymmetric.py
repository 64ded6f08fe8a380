"""Asymmetric signing: RSA-2048 and P-256 sign rates through the gateway, next to the raw PKCS#11 rate.

* ``asym.raw_sign_*``: python-pkcs11 straight into SoftHSM2 (a spawned process with its own library
  init, a key pair on the run's token), signing a SHA-256 digest in a loop: the HSM's limit.
* ``asym.gateway_sign_*``: gRPC ``Sign`` (DIGEST, 32 bytes) against ``kmsgw serve --workers 1`` on
  its own data dir (managed SoftHSM2 token), 32 calls in flight from a separate loader process
  that sends the ``x-auth-token`` metadata. The ratio to the raw rate is the gateway's overhead
  (transport + executor hand-off + DER conversion); for RSA the token's private-key operation
  dominates both.

Self-contained on purpose (its own gateway start and loader) so it does not wait for the data-key
scenarios' harness (``benchmarks/scenarios/gateway.py``).
Run alone: ``python -m benchmarks --only asym``.
"""

from __future__ import annotations

import json
import os

from benchmarks.engine import GrpcLoad, raw_row
from benchmarks.harness import Context, Result, free_port, scenario, wait_for_port

SIGNERS = {
    "rsa2048": ("RSA_2048", "RSASSA_PSS_SHA_256"),
    "p256": ("EC_P256", "ECDSA_SHA_256"),
}
CONCURRENCY = 32


# -- raw PKCS#11 (the engine's bench p11 cell) --------------------------------------------------
def _raw(ctx: Context, kind: str) -> Result:
    mechanism = {"rsa2048": "rsa-pss:2048", "p256": "ecdsa:p256"}[kind]
    return raw_row(ctx, mechanism, unit="sig/s", notes="python-pkcs11 -> SoftHSM2, 1 thread")


@scenario("asym.raw_sign_rsa2048", "raw PKCS#11 RSA-2048 PSS sign, 1 process")
def raw_sign_rsa2048(ctx: Context) -> Result:
    return _raw(ctx, "rsa2048")


@scenario("asym.raw_sign_p256", "raw PKCS#11 P-256 ECDSA sign, 1 process")
def raw_sign_p256(ctx: Context) -> Result:
    return _raw(ctx, "p256")


# -- through the gateway ------------------------------------------------------------------------
def _gateway(ctx: Context) -> tuple[str, str]:
    """``kmsgw serve --workers 1`` on this run's own data dir (stopped with the scenario); (target, token)."""
    data_dir = ctx.workdir / "asym-gateway"
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}  # the data dir's own token
    token = ctx.state.get("asym.token")
    if token is None:  # first use: initializes the data dir (SoftHSM2 token, store) and a bearer token
        argv = [ctx.python, "-m", "gateway", "token", "create", "--project-id", "benchasym", "--ttl", "86400",
                "--data-dir", str(data_dir)]  # fmt: skip
        made = ctx.spawn("asym-token", argv, env=env)
        if made.wait(120) != 0:
            raise RuntimeError(f"kmsgw token create failed\n{made.log_tail()}")
        token = ctx.state["asym.token"] = json.loads(made.stdout_text())["token"]
    port = free_port()
    argv = [
        ctx.python, "-m", "gateway", "serve", "--data-dir", str(data_dir), "--workers", "1",
        "--grpc-listen", f"127.0.0.1:{port}", "--rest-listen", f"127.0.0.1:{free_port()}",
        "--log-level", "WARNING",
    ]  # fmt: skip
    proc = ctx.spawn("asym-gateway", argv, env=env)
    wait_for_port(port, proc, timeout=60)
    return f"127.0.0.1:{port}", str(token)


def _through_gateway(ctx: Context, kind: str) -> Result:
    from gateway.bench.gw.ops import Endpoint
    from gateway.bench.gw.runner import GwSettings
    from gateway.bench.gw.setup import make_keys

    target, token = _gateway(ctx)
    spec = SIGNERS[kind][0]
    # key_id given: the engine makes only the signing key pair (and reads its public key for --verify)
    fx, _ = make_keys(GwSettings(operations=["sign"], sign_spec=spec, key_id="-"), Endpoint(target, None, None, token))
    result = GrpcLoad.open(ctx, target, token).row("sign", fx, unit="sig/s", concurrency=CONCURRENCY, connections=1)
    raw = ctx.results.get(f"asym.raw_sign_{kind}")
    result.notes = f"gRPC Sign DIGEST, {CONCURRENCY} in flight, --workers 1, engine loader"
    if raw is not None and raw.rate:
        result.notes += f", {result.rate / raw.rate:.2f}x raw"
    return result


@scenario("asym.gateway_sign_rsa2048", "gateway gRPC Sign RSA-2048 PSS, 32 in flight")
def gateway_sign_rsa2048(ctx: Context) -> Result:
    return _through_gateway(ctx, "rsa2048")


@scenario("asym.gateway_sign_p256", "gateway gRPC Sign P-256 ECDSA, 32 in flight")
def gateway_sign_p256(ctx: Context) -> Result:
    return _through_gateway(ctx, "p256")
