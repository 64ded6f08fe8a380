"""Bring your own key (docs/api.md, docs/asymmetric.md): import parameters, import and deletion of material.

- get-parameters-for-import hands out an RSA-2048 wrapping public key whose private half is a
  non-extractable token object (``<key_id>:wrap:<token_id>``), and an ``import_token`` that binds
  the key id, the wrapping key and the expiry (24 h). The token is authenticated by the gateway's
  own AES key inside the token (AES-GCM with no plaintext: a GMAC over the token body), so a
  forged or altered token never reaches the HSM's unwrap.
- import-key-material unwraps the 32-byte AES key with C_UnwrapKey (CKM_RSA_PKCS_OAEP) straight
  into a sensitive, non-extractable token object ``<key_id>:v1``: the gateway never holds the
  material. Its key check value (AES-ECB of a fixed block, computed by the token) is stored at
  the first import; a re-import after deletion must produce the same value (KMS.2606).
- Material with an expiration_time is deleted by the background sweep once that time passes.

The one exception to "never in gateway memory": a token whose OAEP unwrap lacks the requested
hash (SoftHSM2 2.6 supports SHA-1 only) can still take RSAES_OAEP_SHA_256 when configuration
allows ``software_oaep_unwrap``; the token then does the raw RSA step and the gateway the OAEP
decoding (see docs/asymmetric.md). Off by default: such an import is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
import uuid
from dataclasses import dataclass

from gateway.core import validate
from gateway.core.clock import Clock, ms
from gateway.core.errors import Err, KmsError
from gateway.core.keyaccess import KeyAccess
from gateway.core.model import Caller, KeyRecord, KeyState, Origin
from gateway.core.ports.hsm import HsmPort, ImportRejection, MaterialRejected, OpenItem, SealItem, key_label
from gateway.core.ports.store import ImportParamsRow, MetadataStore
from gateway.core.settings import Settings

log = logging.getLogger(__name__)

WRAPPING_ALGORITHMS = {"RSAES_OAEP_SHA_1": "sha1", "RSAES_OAEP_SHA_256": "sha256"}
REFUSED_WRAPPING = {"RSAES_PKCS1_V1_5", "SM2_ENCRYPT"}
IMPORT_VALIDITY_MS = 24 * 3600 * 1000
REUSE_MIN_LEFT_MS = 3600 * 1000  # a wrapping key with at least an hour left is handed out again
TOKEN_KEY_LABEL = "kmsgw:import-token"  # noqa: S105 - a token object label, not a secret
_TOKEN_AAD = b"kmsgw import token\x00"
_TOKEN_HEAD = struct.Struct(">BB16s16sQH")  # format, algorithm, token id, key id, expires ms, spki length
_TOKEN_FORMAT = 1
_ALGORITHM_CODES = {"RSAES_OAEP_SHA_1": 1, "RSAES_OAEP_SHA_256": 2}
_IV, _TAG = 12, 16
MATERIAL_BYTES = 32
# Why the token refused imported material -> the error the caller gets.
_REJECTIONS: dict[ImportRejection, tuple[Err, str | None]] = {
    ImportRejection.DECRYPT: (
        Err.RSA_DECRYPT_FAILED,
        "encrypted_key_material does not decrypt under this import's wrapping key.",
    ),
    ImportRejection.LENGTH: (
        Err.IMPORT_MATERIAL_LENGTH,
        "The imported key material must be exactly 32 bytes (AES-256).",
    ),
    ImportRejection.MISMATCH: (Err.IMPORT_MATERIAL_MISMATCH, None),
    ImportRejection.UNSUPPORTED: (
        Err.UNSUPPORTED_ALGORITHM,
        "This token cannot unwrap with this OAEP hash; see docs/asymmetric.md (software_oaep_unwrap).",
    ),
    ImportRejection.WRAPPING_KEY_GONE: (Err.IMPORT_TOKEN_EXPIRED, None),
}


@dataclass
class ImportParameters:
    key_id: str
    import_token: bytes  # base64 on REST
    expiration_time: int  # seconds since the epoch
    public_key: bytes  # SubjectPublicKeyInfo DER (base64 on REST)
    wrapping_algorithm: str


@dataclass(frozen=True)
class _Token:
    token_id: str
    key_id: str
    wrapping_algorithm: str
    expires_at: int  # ms
    public_key: bytes


class ImportOps:
    def __init__(self, store: MetadataStore, hsm: HsmPort, keys: KeyAccess, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._hsm = hsm
        self._keys = keys
        self._clock = clock
        self._settings = settings
        self._token_key_ready = False  # the import-token key exists on the token (checked once)

    def _now_ms(self) -> int:
        return ms(self._clock.now())

    def _external_key(self, caller: Caller, key_id: str, operation: str) -> KeyRecord:
        validate.key_id(key_id)
        rec = self._keys.owned(caller, key_id, operation)
        if rec.origin != Origin.EXTERNAL:
            raise KmsError(Err.EXTERNAL_KEY_REQUIRED)
        return rec

    async def _ensure_token_key(self) -> None:
        if not self._token_key_ready:
            await self._hsm.ensure_aes_key(TOKEN_KEY_LABEL)
            self._token_key_ready = True

    async def _check_wrapping_algorithm(self, wrapping_algorithm: str) -> str:
        if not wrapping_algorithm:
            raise KmsError(Err.MISSING_PARAMETER, "wrapping_algorithm is required.")
        hash_name = WRAPPING_ALGORITHMS.get(wrapping_algorithm)
        if hash_name is None:
            why = " (refused: PKCS#1 v1.5 padding)" if wrapping_algorithm == "RSAES_PKCS1_V1_5" else ""
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"wrapping_algorithm must be RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256; got {wrapping_algorithm!r}{why}.",
            )
        if not self._settings.software_oaep_unwrap and not await self._hsm.oaep_supported(hash_name):
            raise KmsError(
                Err.UNSUPPORTED_ALGORITHM,
                f"This HSM cannot unwrap with {wrapping_algorithm} (its CKM_RSA_PKCS_OAEP lacks that hash): "
                "use RSAES_OAEP_SHA_1, or see software_oaep_unwrap in docs/asymmetric.md.",
            )
        return hash_name

    # -- get-parameters-for-import -------------------------------------------------------
    async def get_parameters_for_import(
        self, caller: Caller, key_id: str, wrapping_algorithm: str, *, sequence: str | None = None
    ) -> ImportParameters:
        validate.sequence(sequence)
        rec = self._external_key(caller, key_id, "get-parameters-for-import")
        if rec.key_state != KeyState.PENDING_IMPORT:
            raise KmsError(Err.NOT_PENDING_IMPORT)
        await self._check_wrapping_algorithm(wrapping_algorithm)
        await self._ensure_token_key()
        now = self._now_ms()
        row = self._store.live_import_parameters(rec.key_id, wrapping_algorithm, now + REUSE_MIN_LEFT_MS)
        if row is None:
            token_id = uuid.uuid4().hex
            row = ImportParamsRow(
                token_id=token_id,
                key_id=rec.key_id,
                wrapping_label=f"{rec.key_id}:wrap:{token_id}",
                wrapping_algorithm=wrapping_algorithm,
                public_key=None,
                created_at=now,
                expires_at=now + IMPORT_VALIDITY_MS,
            )
            # Row first: a crash after it leaves a row whose expiry sweep destroys any object made.
            self._store.put_import_parameters(row)
            await self._hsm.create_wrapping_key(row.wrapping_label, rec.key_id)
            public_key = await self._hsm.public_key_der(row.wrapping_label)
            self._store.set_import_public_key(token_id, public_key)
            row = dataclasses.replace(row, public_key=public_key)
        assert row.public_key is not None
        token = await self._seal_token(row)
        return ImportParameters(rec.key_id, token, row.expires_at // 1000, row.public_key, wrapping_algorithm)

    async def _seal_token(self, row: ImportParamsRow) -> bytes:
        assert row.public_key is not None
        body = (
            _TOKEN_HEAD.pack(
                _TOKEN_FORMAT,
                _ALGORITHM_CODES[row.wrapping_algorithm],
                bytes.fromhex(row.token_id),
                uuid.UUID(row.key_id).bytes,
                row.expires_at,
                len(row.public_key),
            )
            + row.public_key
        )
        [(iv, tag)] = await self._hsm.seal_many(TOKEN_KEY_LABEL, [SealItem(b"", _TOKEN_AAD + body)])
        return body + iv + tag

    async def _open_token(self, token: bytes) -> _Token:
        """The token's fields once its tag verifies inside the token; KMS.2605 for anything else."""
        bad = KmsError(Err.IMPORT_TOKEN_INVALID)
        if len(token) < _TOKEN_HEAD.size + _IV + _TAG or len(token) > 4608:
            raise bad
        body, iv, tag = token[: -_IV - _TAG], token[-_IV - _TAG : -_TAG], token[-_TAG:]
        fmt, algo, token_id, key_bytes, expires_at, spki_len = _TOKEN_HEAD.unpack_from(body)
        algorithms = {v: k for k, v in _ALGORITHM_CODES.items()}
        if fmt != _TOKEN_FORMAT or algo not in algorithms or len(body) != _TOKEN_HEAD.size + spki_len:
            raise bad
        await self._ensure_token_key()
        [opened] = await self._hsm.open_many([OpenItem(TOKEN_KEY_LABEL, iv, tag, _TOKEN_AAD + body)])
        if opened is None:
            raise bad
        return _Token(
            token_id=token_id.hex(),
            key_id=str(uuid.UUID(bytes=key_bytes)),
            wrapping_algorithm=algorithms[algo],
            expires_at=expires_at,
            public_key=body[_TOKEN_HEAD.size :],
        )

    # -- import-key-material ---------------------------------------------------------------
    async def import_key_material(
        self,
        caller: Caller,
        key_id: str,
        import_token: bytes,
        encrypted_key_material: bytes,
        expiration_time: int | None = None,
        *,
        sequence: str | None = None,
    ) -> KeyRecord:
        validate.sequence(sequence)
        rec = self._external_key(caller, key_id, "import-key-material")
        if not import_token:
            raise KmsError(Err.MISSING_PARAMETER, "import_token is required.")
        if not encrypted_key_material:
            raise KmsError(Err.MISSING_PARAMETER, "encrypted_key_material is required.")
        if rec.key_state != KeyState.PENDING_IMPORT:
            raise KmsError(Err.NOT_PENDING_IMPORT)
        now = self._now_ms()
        expires_ms = None
        if expiration_time not in (None, 0):
            if isinstance(expiration_time, bool) or not isinstance(expiration_time, int) or expiration_time < 0:
                raise KmsError(Err.INVALID_PARAMETER, "expiration_time must be seconds since the epoch.")
            expires_ms = expiration_time * 1000
            if expires_ms <= now:
                raise KmsError(Err.IMPORT_EXPIRATION_IN_PAST)
        token = await self._open_token(import_token)
        if token.key_id != rec.key_id:
            raise KmsError(Err.IMPORT_KEY_ID_MISMATCH)
        if token.expires_at <= now:
            raise KmsError(Err.IMPORT_TOKEN_EXPIRED)
        row = self._store.get_import_parameters(token.token_id)
        if row is None or row.key_id != rec.key_id or row.public_key != token.public_key:
            raise KmsError(Err.IMPORT_TOKEN_EXPIRED, "These import parameters no longer exist; get new ones.")
        hash_name = await self._check_wrapping_algorithm(token.wrapping_algorithm)
        known = self._store.get_key_material(rec.key_id)
        try:
            check_value = await self._hsm.unwrap_aes_key(
                row.wrapping_label,
                key_label(rec.key_id, rec.current_version),
                rec.key_id,
                encrypted_key_material,
                hash_name,
                software_oaep=self._settings.software_oaep_unwrap,
                expected_kcv=known.check_value if known else None,
            )
        except MaterialRejected as exc:
            err, detail = _REJECTIONS[exc.reason]
            raise KmsError(err, detail or err.message) from None
        self._store.material_imported(rec.key_id, check_value, now, expires_ms)
        rec.key_state, rec.expiration_time = KeyState.ENABLED, expires_ms
        log.info("key material imported", extra={"key_id": rec.key_id, "reimport": known is not None})
        return rec

    # -- delete-imported-key-material and expiry -----------------------------------------
    async def delete_imported_key_material(
        self, caller: Caller, key_id: str, *, sequence: str | None = None
    ) -> KeyRecord:
        validate.sequence(sequence)
        rec = self._external_key(caller, key_id, "delete-imported-key-material")
        if rec.key_state not in (KeyState.ENABLED, KeyState.DISABLED):
            raise KmsError(Err.MATERIAL_NOT_DELETABLE)
        await self._remove_material(rec)
        return rec

    async def _remove_material(self, rec: KeyRecord) -> None:
        """State first, object second: a crash between leaves an unusable key and a stray object
        that the next import destroys before it unwraps (never a usable key without material)."""
        self._store.material_removed(rec.key_id)
        versions = self._store.key_versions(rec.key_id) or [rec.current_version]
        await self._hsm.destroy([key_label(rec.key_id, v) for v in versions])
        rec.key_state, rec.expiration_time = KeyState.PENDING_IMPORT, None

    async def import_sweep(self) -> tuple[list[str], list[str]]:
        """Background duty: delete expired imported material, destroy expired wrapping keys.

        Returns (key ids whose material expired, token ids whose parameters were dropped).
        """
        now = self._now_ms()
        expired = []
        for rec in self._store.keys_with_expired_material(now):
            await self._remove_material(rec)
            expired.append(rec.key_id)
            log.info("imported key material expired and was deleted", extra={"key_id": rec.key_id})
        dropped = []
        for row in self._store.expired_import_parameters(now):
            await self._hsm.destroy([row.wrapping_label])
            self._store.delete_import_parameters(row.token_id)
            dropped.append(row.token_id)
        return expired, dropped
