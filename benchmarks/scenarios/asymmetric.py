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
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor

from benchmarks.harness import (
    BenchToken,
    Context,
    Result,
    free_port,
    scenario,
    wait_for_port,
)

SIGNERS = {
    "rsa2048": ("RSA_2048", "RSASSA_PSS_SHA_256"),
    "p256": ("EC_P256", "ECDSA_SHA_256"),
}
DIGEST = bytes(range(32))  # a SHA-256-sized digest (content is irrelevant)
CONCURRENCY = 32


# -- raw PKCS#11 --------------------------------------------------------------------------------
def _raw_sign(token: BenchToken, kind: str, seconds: float, warmup: float) -> tuple[int, float]:
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    import pkcs11
    from pkcs11 import MGF, Attribute, KeyType, Mechanism
    from pkcs11.util.ec import encode_named_curve_parameters

    lib = pkcs11.lib(token.module)
    with lib.get_token(token_label=token.label).open(user_pin=token.pin, rw=True) as session:
        private = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False}
        if kind == "rsa2048":
            _, key = session.generate_keypair(KeyType.RSA, 2048, store=False, private_template=private)
            mech, param = Mechanism.RSA_PKCS_PSS, (Mechanism.SHA256, MGF.SHA256, 32)
        else:
            params = {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}
            _, key = session.generate_keypair(
                KeyType.EC, None, store=False, public_template=params, private_template=private
            )
            mech, param = Mechanism.ECDSA, None
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            key.sign(DIGEST, mechanism=mech, mechanism_param=param)
        ops, start = 0, time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            for _ in range(16):
                key.sign(DIGEST, mechanism=mech, mechanism_param=param)
            ops += 16
        return ops, now - start


def _raw(ctx: Context, kind: str) -> Result:
    token = ctx.token()
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        ops, secs = pool.submit(_raw_sign, token, kind, ctx.seconds, ctx.warmup).result(timeout=ctx.seconds + 120)
    return Result(rate=ops / secs, unit="sig/s", ops=ops, seconds=secs, notes="python-pkcs11 -> SoftHSM2, 1 thread")


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
    target, token = _gateway(ctx)
    spec, algorithm = SIGNERS[kind]
    argv = [
        ctx.python, "-m", "benchmarks.scenarios.asym_loader", "--target", target, "--token", token,
        "--spec", spec, "--algorithm", algorithm, "--seconds", str(ctx.seconds), "--warmup", str(ctx.warmup),
        "--concurrency", str(CONCURRENCY),
    ]  # fmt: skip
    proc = ctx.spawn("asym-load", argv)
    if proc.wait(ctx.seconds + ctx.warmup + 180) != 0:
        raise RuntimeError(f"sign loader failed\n{proc.log_tail()}")
    fig = json.loads(proc.stdout_text().splitlines()[-1])
    raw = ctx.results.get(f"asym.raw_sign_{kind}")
    notes = f"gRPC Sign DIGEST, {CONCURRENCY} in flight, --workers 1"
    if raw is not None and raw.rate:
        notes += f", {fig['rate'] / raw.rate:.2f}x raw"
    return Result(
        rate=fig["rate"],
        unit="sig/s",
        ops=int(fig["ops"]),
        seconds=fig["seconds"],
        p50_ms=fig["p50_ms"],
        p99_ms=fig["p99_ms"],
        errors=int(fig["errors"]),
        notes=notes,
    )


@scenario("asym.gateway_sign_rsa2048", "gateway gRPC Sign RSA-2048 PSS, 32 in flight")
def gateway_sign_rsa2048(ctx: Context) -> Result:
    return _through_gateway(ctx, "rsa2048")


@scenario("asym.gateway_sign_p256", "gateway gRPC Sign P-256 ECDSA, 32 in flight")
def gateway_sign_p256(ctx: Context) -> Result:
    return _through_gateway(ctx, "p256")
