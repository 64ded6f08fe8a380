"""The HSM port (gateway/core/ports/hsm.py) over a PKCS#11 token, through the per-process executor.

The core speaks in labels, key specs and signing schemes; this class turns them into PKCS#11
mechanisms through the mechanism table (gateway/hsm/mechanisms.py, vendor SM2/SM4 numbers from the
configuration) and runs each call as one job on the executor's single thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pkcs11.exceptions import NoSuchKey

from gateway.core.model import KeySpec, KeyUsage
from gateway.core.ports.hsm import (
    DataCipher,
    ImportRejection,
    MaterialRejected,
    OpenItem,
    Sealed,
    SealedDataKey,
    SealItem,
    SignatureScheme,
    SignScheme,
    SpecSupport,
    TokenInfo,
)
from gateway.hsm import asymutil
from gateway.hsm.executor import HsmExecutor
from gateway.hsm.mechanisms import WRAPPING_KEY, SpecMechanisms, build_table, sign_mechanism
from gateway.hsm.token import TokenSession

_DER_SIGNATURES = (SignatureScheme.ECDSA, SignatureScheme.SM2)  # raw r||s on the token, DER on the wire


class Pkcs11Hsm:
    """Implements :class:`gateway.core.ports.hsm.HsmPort`."""

    def __init__(self, executor: HsmExecutor, mechanisms: Mapping[str, Mapping[str, object]] | None = None) -> None:
        self.executor = executor
        self.table: dict[KeySpec, SpecMechanisms] = build_table(mechanisms)
        self._token_mechanisms: set[int] | None = None  # C_GetMechanismList: fixed while we run

    # -- symmetric: the data path -----------------------------------------------------------
    async def seal_many(
        self, label: str, items: Sequence[SealItem], *, start_within: float | None = None
    ) -> list[Sealed]:
        def job(t: TokenSession) -> list[Sealed]:
            return [Sealed(*t.symmetric.gcm_seal(label, plaintext, aad)) for plaintext, aad in items]

        return await self.executor.run(job, "seal", start_within=start_within)

    async def open_many(self, items: Sequence[OpenItem], *, start_within: float | None = None) -> list[bytes | None]:
        def job(t: TokenSession) -> list[bytes | None]:
            out: list[bytes | None] = []
            for label, iv, body, aad in items:
                try:
                    out.append(t.symmetric.gcm_open(label, iv, body, aad))
                except NoSuchKey:  # that version's object is gone: the blob cannot open
                    out.append(None)
            return out

        return await self.executor.run(job, "open", start_within=start_within)

    async def generate_sealed(
        self, label: str, count: int, nbytes: int, aad: bytes, *, start_within: float | None = None
    ) -> list[SealedDataKey]:
        def job(t: TokenSession) -> list[SealedDataKey]:
            keys = t.link.random(count * nbytes)  # one C_GenerateRandom for the whole batch
            out = []
            for i in range(count):
                dek = keys[i * nbytes : (i + 1) * nbytes]
                out.append(SealedDataKey(dek, Sealed(*t.symmetric.gcm_seal(label, dek, aad))))
            return out

        return await self.executor.run(job, "generate_data_keys", start_within=start_within)

    async def random(self, nbytes: int, *, start_within: float | None = None) -> bytes:
        return await self.executor.run(lambda t: t.link.random(nbytes), "random", start_within=start_within)

    # -- key specs and key objects ------------------------------------------------------------
    async def spec_support(self, spec: KeySpec) -> SpecSupport:
        entry = self.table.get(spec)
        if entry is None:
            return SpecSupport(configured=False)
        if self._token_mechanisms is None:
            self._token_mechanisms = await self.executor.run(lambda t: t.link.mechanisms(), "mechanisms")
        return SpecSupport(configured=True, missing_mechanisms=tuple(sorted(entry.required() - self._token_mechanisms)))

    def data_cipher(self, spec: KeySpec) -> DataCipher:
        entry = self.table.get(spec)
        if entry is None:
            return DataCipher(gcm=False)
        return DataCipher(gcm=entry.gcm_data_path, mechanism=entry.cipher)

    async def create_key(self, label: str, key_id: str, spec: KeySpec, usage: KeyUsage) -> None:
        if spec == KeySpec.AES_256:  # the gateway's own key type, made as it always was
            await self.executor.run(lambda t: t.symmetric.generate_aes_key(label, key_id), "generate_key")
            return
        entry = self.table[spec]
        if not entry.asymmetric:
            await self.executor.run(lambda t: t.symmetric.generate_secret_key(label, key_id, entry), "generate_key")
            return
        sign, decrypt = usage == KeyUsage.SIGN_VERIFY, usage == KeyUsage.ENCRYPT_DECRYPT
        await self.executor.run(
            lambda t: t.asymmetric.generate_key_pair(label, key_id, entry, sign=sign, decrypt=decrypt),
            "generate_key_pair",
        )

    async def ensure_aes_key(self, label: str) -> bool:
        def job(t: TokenSession) -> bool:
            if t.objects.has_key(label):
                return False
            t.symmetric.generate_aes_key(label)
            return True

        return await self.executor.run(job, "ensure_key")

    async def create_wrapping_key(self, label: str, key_id: str) -> None:
        await self.executor.run(
            lambda t: t.asymmetric.generate_key_pair(
                label, key_id, WRAPPING_KEY, sign=False, decrypt=False, unwrap=True
            ),
            "generate_key_pair",
        )

    async def destroy(self, labels: Sequence[str]) -> int:
        return await self.executor.run(lambda t: sum(t.objects.destroy(lbl) for lbl in labels), "destroy")

    async def secret_key_labels(self) -> list[str]:
        return await self.executor.run(TokenSession.secret_key_labels, "list_objects")

    async def private_key_labels(self) -> list[str]:
        return await self.executor.run(TokenSession.private_key_labels, "list_objects")

    # -- asymmetric -----------------------------------------------------------------------
    async def public_key_der(self, label: str) -> bytes:
        return await self.executor.run(lambda t: t.asymmetric.public_key_der(label), "public_key")

    async def sign(self, label: str, scheme: SignScheme, data: bytes) -> bytes:
        def job(t: TokenSession) -> bytes:
            mech, param, payload = sign_mechanism(scheme, data, self.table)
            sig = t.asymmetric.sign(label, mech, param, payload)
            return asymutil.ecdsa_raw_to_der(sig) if scheme.scheme in _DER_SIGNATURES else sig

        return await self.executor.run(job, "sign")

    async def verify(self, label: str, scheme: SignScheme, data: bytes, signature: bytes) -> bool:
        if scheme.scheme in _DER_SIGNATURES:
            raw = asymutil.ecdsa_der_to_raw(signature, scheme.field_bytes)
            if raw is None:
                return False
            signature = raw

        def job(t: TokenSession) -> bool:
            mech, param, payload = sign_mechanism(scheme, data, self.table)
            return t.asymmetric.verify(label, mech, param, payload, signature)

        return await self.executor.run(job, "verify")

    async def rsa_encrypt(self, label: str, plaintext: bytes, hash_name: str) -> bytes:
        return await self.executor.run(lambda t: t.asymmetric.rsa_encrypt(label, plaintext, hash_name), "rsa_encrypt")

    async def rsa_decrypt(self, label: str, ciphertext: bytes, hash_name: str) -> bytes | None:
        return await self.executor.run(lambda t: t.asymmetric.rsa_decrypt(label, ciphertext, hash_name), "rsa_decrypt")

    # -- key import (BYOK) ----------------------------------------------------------------
    async def oaep_supported(self, hash_name: str) -> bool:
        return await self.executor.run(lambda t: t.asymmetric.oaep_supported(hash_name), "probe")

    async def unwrap_aes_key(
        self,
        wrap_label: str,
        label: str,
        key_id: str,
        wrapped: bytes,
        hash_name: str,
        *,
        software_oaep: bool,
        expected_kcv: bytes | None,
    ) -> bytes:
        def job(t: TokenSession) -> bytes:
            try:
                return t.unwrapper.unwrap_aes_key(
                    wrap_label,
                    label,
                    key_id,
                    wrapped,
                    hash_name,
                    software_oaep=software_oaep,
                    expected_kcv=expected_kcv,
                )
            except NoSuchKey:  # the wrapping key is gone (swept at expiry)
                raise MaterialRejected(ImportRejection.WRAPPING_KEY_GONE) from None

        return await self.executor.run(job, "unwrap_key")

    # -- health -------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self.executor.healthy

    async def probe(self) -> bool:
        return await self.executor.probe()

    async def token_info(self) -> TokenInfo:
        def job(t: TokenSession) -> TokenInfo:
            token = t.session.token
            serial = token.serial.decode("ascii", "replace") if isinstance(token.serial, bytes) else str(token.serial)
            return TokenInfo(token.manufacturer_id.strip(), token.model.strip(), serial.strip(), token.label.strip())

        return await self.executor.run(job, "token_info")
