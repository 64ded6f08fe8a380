"""Rate limits: the token bucket logic (a fake clock), then a real `kmsgw serve` with a [limits] table.

Over the limit: REST 429 + KMS.0314 + Retry-After; gRPC RESOURCE_EXHAUSTED + kms-error-code +
retry-after trailers; the bucket refills at its rate. The in-process session gateway has no limits,
so these run against their own server process.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from gateway.core.errors import Err
from gateway.core.gate import RequestGate
from gateway.core.model import Caller
from gateway.core.ratelimit import Limit, RateLimited, RateLimiter
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.grpc_api.gen.kms.v1 import kms_pb2_grpc as pb_grpc
from tests.support.gateway import KmsClient, kms_code, new_project_id
from tests.support.rest import Rest, error_of
from tests.support.serve import cli, start_serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refused(limiter: RateLimiter, principal: str, op: str) -> int:
    with pytest.raises(RateLimited) as info:
        limiter.take(principal, op)
    assert info.value.err is Err.RATE_LIMITED
    return info.value.retry_after


# -- the bucket ---------------------------------------------------------------------------
def test_bucket_burst_refill_and_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limit.of(0.5, 2), clock=clock)
    limiter.take("ak", "create_key")
    limiter.take("ak", "create_key")
    assert _refused(limiter, "ak", "create_key") == 2  # one token at 0.5/s: 2 s
    limiter.take("ak", "describe_key")  # another operation has its own bucket
    limiter.take("other", "create_key")  # so has another principal
    clock.now += 1.0
    assert _refused(limiter, "ak", "create_key") == 1  # half a token refilled: 1 s more
    clock.now += 1.0
    limiter.take("ak", "create_key")
    clock.now += 100.0  # refill caps at burst
    for _ in range(2):
        limiter.take("ak", "create_key")
    _refused(limiter, "ak", "create_key")


def test_retry_after_is_at_least_one_second() -> None:
    limiter = RateLimiter(Limit.of(1000, 1), clock=FakeClock())
    limiter.take("ak", "op")
    assert _refused(limiter, "ak", "op") == 1


def test_override_precedence() -> None:
    limiter = RateLimiter(
        default=Limit.of(1),
        operations={"create_datakey": Limit.of(5), "kms:dek:crypto": Limit.of(7), "describe_key": Limit.of(0)},
        principals={"vip": Limit.of(100)},
    )
    assert limiter.limit_for("vip", "create_datakey").rate == 100  # the principal's override first
    assert limiter.limit_for("ak", "create_datakey").rate == 5  # then the operation's
    assert limiter.limit_for("ak", "batch_decrypt_datakey").rate == 7  # then its action's
    assert limiter.limit_for("ak", "create_key").rate == 1  # then the default
    assert limiter.limit_for("ak", "describe_key").rate == 0  # 0: unlimited
    assert limiter.limit_for("ak", "create_key").burst == 1  # default burst: one second's worth


def test_unlimited_by_default_and_gate_skips_limiter() -> None:
    assert not RateLimiter().active
    gate = RequestGate()
    for _ in range(1000):
        gate.admit(Caller("p", "d", "u", "ak"), "create_datakey")


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limit.of(1, 1), max_buckets=100, clock=clock)
    for i in range(1000):
        limiter.take(f"ak{i}", "op")  # each takes its only token: none is full again yet
        assert len(limiter) <= 100
    clock.now += 2.0  # every bucket is full again: the next sweep drops them all
    clock.now += 60.0
    limiter.take("late", "op")
    assert len(limiter) == 1


def test_config_validation() -> None:
    def cfg(**kw: object) -> SimpleNamespace:
        base = {"rate": 0.0, "burst": 0.0, "operations": {}, "principals": {}, "max_buckets": 10}
        return SimpleNamespace(**{**base, **kw})

    with pytest.raises(ValueError, match="unknown operation"):
        RateLimiter.from_config(cfg(operations={"fly": {"rate": 1}}))
    with pytest.raises(ValueError, match="rate"):
        RateLimiter.from_config(cfg(principals={"ak": {"burst": 1}}))
    with pytest.raises(ValueError, match=">= 0"):
        RateLimiter.from_config(cfg(rate=-1))
    ok = RateLimiter.from_config(cfg(operations={"kms:dek:create": {"rate": 2, "burst": 4}}))
    assert ok.active and ok.limit_for("x", "create_datakey") == Limit(2.0, 4.0)


# -- a real server with [limits] -------------------------------------------------------------
@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("limits") / "var"
    project_id = new_project_id()
    creds = cli(data_dir, "credentials", "create", "--project-id", project_id)
    vip = cli(data_dir, "credentials", "create", "--project-id", project_id)
    token = cli(data_dir, "token", "create", "--project-id", project_id)["token"]
    config = Path(data_dir).parent / "kmsgw.toml"
    config.write_text(
        "[limits]\n"
        "rate = 0\n"
        "[limits.operations]\n"
        "list_keys = { rate = 2, burst = 2 }\n"
        '"kms:cmk:generate" = { rate = 0.2, burst = 1 }\n'
        "[limits.principals]\n"
        f"{vip['access_key']} = {{ rate = 0 }}\n"
    )
    server = start_serve(data_dir, "--config", str(config), "--workers", "1")  # buckets are per process
    yield SimpleNamespace(server=server, project_id=project_id, creds=creds, vip=vip, token=token)
    server.terminate()


def test_rest_429_retry_after_and_refill(limited_server) -> None:
    s = limited_server
    rest = Rest(f"http://127.0.0.1:{s.server.http_port}", s.project_id, creds=s.creds)
    vip = Rest(f"http://127.0.0.1:{s.server.http_port}", s.project_id, creds=s.vip)
    try:
        statuses = [rest.call("/list-keys", {}).status_code for _ in range(4)]
        assert statuses[0] == 200 and 429 in statuses  # burst 2 (a slow machine may refill one)
        resp = rest.call("/list-keys", {})
        assert error_of(resp) == (429, "KMS.0314")
        assert resp.headers["retry-after"] == "1"
        assert resp.headers["x-request-id"]
        rest.ok("/describe-key", {"key_id": rest.create_key()})  # other operations are unlimited
        for _ in range(6):
            vip.ok("/list-keys", {})  # the principal override (rate 0) exempts this access key
        time.sleep(1.1)  # 2 tokens/s: refilled
        rest.ok("/list-keys", {})
        # An action override: gen-random is kms:cmk:generate, one request per 5 s.
        rest.ok("/gen-random", {"random_data_length": "256"})
        resp = rest.call("/gen-random", {"random_data_length": "256"})
        assert error_of(resp) == (429, "KMS.0314")
        assert 1 <= int(resp.headers["retry-after"]) <= 5
    finally:
        rest.close()
        vip.close()


def test_grpc_resource_exhausted(limited_server) -> None:
    s = limited_server
    channel = grpc.insecure_channel(f"127.0.0.1:{s.server.grpc_port}")
    try:
        kms = KmsClient(pb_grpc.KeyManagementServiceStub(channel), s.token)
        codes = []
        for _ in range(4):
            try:
                kms.ListKeys(pb.ListKeysRequest())
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
                err = exc
        assert codes[0] == grpc.StatusCode.OK and grpc.StatusCode.RESOURCE_EXHAUSTED in codes
        assert kms_code(err) == "KMS.0314"
        trailers = dict(err.trailing_metadata() or ())
        assert trailers["retry-after"] == "1"
        assert trailers["x-request-id"]
        kms.CreateKey(pb.CreateKeyRequest(key_alias=f"r-{uuid.uuid4().hex[:8]}"))  # unlimited op
        time.sleep(1.1)
        kms.ListKeys(pb.ListKeysRequest())
    finally:
        channel.close()
