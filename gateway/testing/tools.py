"""What the function fixtures hand a test: the clock, the HSM faults, and a key factory.

Each talks to the gateway the way a test in another language would (the control surface, the
public gRPC API), so they work the same against a subprocess, an in-process or an external dev
gateway. docs/testing-with-kmsgw.md documents them.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from gateway.testing.control import ControlClient
from gateway.testing.handle import KmsGateway, KmsProject

if TYPE_CHECKING:
    from gateway.client import KmsClient
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

RECOVERY_TIMEOUT_S = 15.0
_STATES = ("enabled", "disabled", "pending_deletion", "pending_import")


class KmsClock:
    """The gateway's clock. ``advance`` moves it forward and runs the background sweeps at once."""

    def __init__(self, gateway: KmsGateway) -> None:
        self._gateway = gateway
        gateway.require_control("kms_clock")

    @property
    def _control(self) -> ControlClient:  # read at each call: a restart gives the gateway a new one
        return self._gateway.require_control("kms_clock")

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dict[str, Any]:
        """Move the clock forward; returns what the sweeps did: ``{"deleted": [...], "rotated": [...],
        "expired_material": [...], "dropped_import_parameters": [...]}`` (key ids, import-token ids)."""
        step = days * 86400 + hours * 3600 + minutes * 60 + seconds
        return dict(self._control.post("/v1/clock/advance", {"seconds": step})["swept"])

    def now(self) -> float:
        """The gateway's time (seconds since the epoch), offset included."""
        return float(self._control.get("/v1/clock")["now"])

    @property
    def offset(self) -> float:
        return float(self._control.get("/v1/clock")["offset"])

    def sweep(self) -> dict[str, Any]:
        """Run the deletion, rotation and import-expiry sweeps now, without moving the clock."""
        return dict(self._control.post("/v1/sweep"))

    def reset(self) -> None:
        """Back to real time (the fixture does it after each test)."""
        self._control.post("/v1/clock/reset")


class _Fault:
    """An active fault; ``with`` ends it at the block's end (the fixture ends it after the test anyway)."""

    def __init__(self, faults: KmsFaults, clear: dict[str, Any]) -> None:
        self._faults, self._clear = faults, clear

    def __enter__(self) -> _Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def end(self) -> None:
        self._faults._set(self._clear)
        self._faults.wait_recovered()


class KmsFaults:
    """HSM faults inside the gateway; it heals by itself once they end (its real recovery code runs)."""

    def __init__(self, gateway: KmsGateway) -> None:
        self._gateway = gateway
        gateway.require_control("kms_faults")

    @property
    def _control(self) -> ControlClient:
        return self._gateway.require_control("kms_faults")

    def _set(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._control.post("/v1/faults", body))

    def hsm_unavailable(self, seconds: float | None = None) -> _Fault:
        """From now on every token call answers CKR_DEVICE_ERROR: callers get KMS.0102 (gRPC INTERNAL,
        REST 500), readiness turns off. Ends with the ``with`` block, after ``seconds`` (by itself, on
        the gateway's side: a retry loop in the code under test can ride it out), or after the test."""
        body: dict[str, Any] = {"hsm_unavailable": True}
        if seconds is not None:
            body["seconds"] = seconds
        self._set(body)
        return _Fault(self, {"hsm_unavailable": False})

    def latency(self, ms: float) -> _Fault:
        """Every token call takes ``ms`` longer (calls queue behind each other, as behind a slow HSM)."""
        self._set({"latency_ms": ms})
        return _Fault(self, {"latency_ms": 0})

    def close_sessions(self) -> None:
        """Close the token session under the gateway now; its next call heals it transparently."""
        self._control.post("/v1/faults/close-sessions")

    def state(self) -> dict[str, Any]:
        """``{"hsm_unavailable", "latency_ms", "failed_jobs", ...}``."""
        return dict(self._control.get("/v1/faults"))

    def reset(self) -> None:
        """End every fault and wait until the gateway is ready again."""
        self._control.post("/v1/faults/reset")
        self.wait_recovered()

    def wait_recovered(self, timeout: float = RECOVERY_TIMEOUT_S) -> None:
        """Wait until the gateway reports ready again (it probes its token every second by itself)."""
        deadline = time.monotonic() + timeout
        while not self._gateway.healthy():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gateway did not recover within {timeout:.0f} s")
            time.sleep(0.05)


class KeyFactory:
    """``kms_key(spec, alias=..., state=..., rotation=..., tags=..., origin=..., material=...)`` -> KeyInfo."""

    def __init__(self, client: KmsClient, project: KmsProject) -> None:
        self._client = client
        self.project = project

    def __call__(
        self,
        spec: str = "AES_256",
        *,
        alias: str | None = None,
        usage: str = "",
        description: str = "",
        state: str = "enabled",
        rotation: bool | int = False,
        tags: dict[str, str] | None = None,
        origin: str = "kms",
        material: bytes | None = None,
        pending_days: int = 7,
    ) -> pb.KeyInfo:
        """A key of this test's project made through the public API. ``rotation``: True (365 days) or
        an interval in days; ``material``: 32 bytes imported through the BYOK operations (origin
        external); ``state``: enabled, disabled, pending_deletion (``pending_days``) or pending_import."""
        from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

        if state not in _STATES:
            raise ValueError(f"state must be one of {', '.join(_STATES)}")
        if material is not None:
            origin = "external"
        client = self._client
        alias = alias or f"k-{uuid.uuid4().hex[:12]}"
        info = client.create_key(alias, key_spec=spec, key_usage=usage, description=description, origin=origin)
        key_id = info.key_id
        if material is not None:
            import_material(client, key_id, material)
        for tag_key, value in (tags or {}).items():
            client.call("CreateKeyTag", pb.CreateKeyTagRequest(key_id=key_id, tag=pb.TagItem(key=tag_key, value=value)))
        if rotation:
            client.call("EnableKeyRotation", pb.KeyIdRequest(key_id=key_id))
            if rotation is not True:
                req = pb.UpdateKeyRotationIntervalRequest(key_id=key_id, rotation_interval=int(rotation))
                client.call("UpdateKeyRotationInterval", req)
        if state == "disabled":
            client.disable_key(key_id)
        elif state == "pending_deletion":
            client.schedule_key_deletion(key_id, pending_days)
        elif state == "pending_import" and material is not None:
            raise ValueError("state pending_import means no material")
        return client.describe_key(key_id)


def import_material(client: KmsClient, key_id: str, material: bytes, *, expiration_time: int = 0) -> None:
    """Import 32 bytes into an external key as a BYOK client does: parameters, RSAES-OAEP wrap, import."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    params = client.call(
        "GetParametersForImport", pb.GetParametersForImportRequest(key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_1")
    )
    public = serialization.load_der_public_key(params.public_key)
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - the API's wrapping algorithm
    wrapped = public.encrypt(material, oaep)
    request = pb.ImportKeyMaterialRequest(
        key_id=key_id, import_token=params.import_token, encrypted_key_material=wrapped, expiration_time=expiration_time
    )
    client.call("ImportKeyMaterial", request)
