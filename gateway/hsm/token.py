"""python-pkcs11 session wrapper. Every method runs on the HSM executor thread only.

python-pkcs11 initializes the library with ``C_Initialize(NULL)``, which tells SoftHSM2 to do no
locking of its own, so PKCS#11 calls must never overlap inside one process (docs/architecture.md,
"Concurrency"). This class is therefore not thread-safe on purpose;
:class:`gateway.hsm.executor.HsmExecutor` is its only caller.
"""

from __future__ import annotations

import hmac
import logging
import random
import threading
import time
import uuid

import pkcs11
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    DataInvalid,
    DataLenRange,
    DeviceError,
    DeviceRemoved,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionFailed,
    FunctionNotSupported,
    GeneralError,
    KeyIndigestible,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismInvalid,
    MechanismParamInvalid,
    NoSuchKey,
    NoSuchToken,
    ObjectHandleInvalid,
    OperationActive,
    SessionClosed,
    SessionHandleInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateInconsistent,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from gateway.hsm import asymutil
from gateway.hsm import mechanisms as mech_table
from gateway.hsm.mechanisms import SpecMechanisms

log = logging.getLogger(__name__)

GCM_IV_BYTES = 12
GCM_TAG_BITS = 128
RANDOM_CHUNK = 4096  # one C_GenerateRandom serves many IVs and data keys
COPY_PREFIX = "kmsgw:copy:"  # session copies of token keys (reserved prefix: never a master key label)
MAX_SESSION_COPIES = 4096
# A token data object that must always be found: when a search cannot see it, the token's storage is
# gone (SoftHSM2 with its token directory removed answers searches with no token objects at all, and
# "no such key" would then be a wrong answer, not a fault). Created on the first open of a process.
CANARY_LABEL = "kmsgw:canary"


class TokenStorageMissing(DeviceRemoved):
    """The token answers, but its objects are not visible: a fault, like a removed device."""


# Errors after which the session (or the library) is presumed broken and must be rebuilt.
SESSION_FAULTS: tuple[type[Exception], ...] = (
    SessionHandleInvalid,
    SessionClosed,
    DeviceError,
    DeviceRemoved,
    GeneralError,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
    ObjectHandleInvalid,
    NoSuchToken,
    OperationActive,  # left active by a call that failed half-way: only a new session clears it
)
# What a GCM decryption of a forged or corrupted blob may raise, depending on the module.
AUTH_FAILURES: tuple[type[Exception], ...] = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    DataLenRange,
    GeneralError,
    FunctionFailed,
)
# What an RSA decryption or unwrap of a forged, corrupted or wrong-sized block may raise.
RSA_FAILURES: tuple[type[Exception], ...] = (
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    DataInvalid,
    DataLenRange,
    GeneralError,
    FunctionFailed,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    TemplateInconsistent,
    KeySizeRange,
)
KCV_BLOCK = b"kmsgw key check\x00"  # AES-ECB of this block by the key is its check value
LENGTH_PROBE = b"kmsgw length probe"

MASTER_KEY_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
    Attribute.DERIVE: False,
    # CKA_MODIFIABLE stays true: SoftHSM2 refuses C_CopyObject (the fast session copies below)
    # of a non-modifiable key, and what matters cannot be undone anyway: PKCS#11 forbids
    # turning CKA_SENSITIVE off or CKA_EXTRACTABLE on (tests/test_token_objects.py checks it).
}


class TokenSession:
    """One logged-in R/W session on the configured token, with cached object handles."""

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._lib: pkcs11.lib | None = None
        self._session: pkcs11.Session | None = None
        self._keys: dict[str, pkcs11.SecretKey] = {}
        self._copies: dict[str, pkcs11.SecretKey] = {}
        self._random = bytearray()
        self.owner_thread: int | None = None
        self.heals = 0
        self.refreshes = 0  # re-reads of the token's object list (refresh_objects)

    # -- life cycle -------------------------------------------------------------------
    def open(self, attempts: int = 5) -> None:
        """Log in. Retried: a process starting while another logs in can read SoftHSM2's token
        file half-written and see no token or a general error for a moment."""
        self.owner_thread = threading.get_ident()
        self._keys.clear()
        self._copies.clear()
        for attempt in range(attempts):
            try:
                self._lib = pkcs11.lib(self._module)
                token = self._lib.get_token(token_label=self._token_label)
                self._session = token.open(rw=True, user_pin=self._pin)
                return
            except (NoSuchToken, GeneralError, TokenNotPresent):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)  # noqa: S311 - jitter only
                # SoftHSM2 reads its token files at C_Initialize: a token missed then stays missing
                # until the library is initialized again (measured: 4 of 150 concurrent opens failed
                # for good without this, none with it). No session of this process exists yet here.
                if self._lib is not None and self._session is None:
                    self._lib.reinitialize()

    def ensure_canary(self) -> None:
        """Create the canary object unless the token has one (first open of a process only: after
        a fault, a missing canary means missing storage, and must not be papered over)."""
        if not self._canary_present():
            self.session.create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.LABEL: CANARY_LABEL,
                    Attribute.APPLICATION: "kmsgw",
                    Attribute.VALUE: b"kmsgw canary",
                }
            )

    def _canary_present(self) -> bool:
        template = {Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.LABEL: CANARY_LABEL}
        return any(True for _ in self.session.get_objects(template))

    def verify_storage(self) -> None:
        """Raise :class:`TokenStorageMissing` unless the token's objects are visible."""
        if not self._canary_present():
            raise TokenStorageMissing()

    def probe(self) -> None:
        """One cheap round trip to the token (not served from the RNG cache) and the storage check."""
        self.session.generate_random(64)
        self.verify_storage()

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            except pkcs11.PKCS11Error:
                pass
        self._session = None  # session objects (the copies) die with the session
        self._keys.clear()
        self._copies.clear()
        self._random.clear()

    def heal(self) -> None:
        """Rebuild after a session or token fault: new session, then a library re-init if needed.

        Every cached handle and session copy is dropped (``close``) and rebuilt on next use.
        Raises when the token still does not answer: the caller reports the fault.
        """
        self.heals += 1
        self.close()
        try:
            self.open(attempts=2)
            self.probe()  # proves the new session works and the token's objects are visible
            return
        except pkcs11.PKCS11Error as exc:
            log.warning("hsm session reopen failed; reinitializing library", extra={"error": type(exc).__name__})
        self.close()
        if self._lib is not None:
            self._lib.reinitialize()  # C_Finalize (when initialized) + C_Initialize: all handles die
        self.open(attempts=2)
        self.probe()

    @property
    def session(self) -> pkcs11.Session:
        if self._session is None:  # a heal failed earlier: one quick try, the executor backs off
            self.open(attempts=1)
        assert self._session is not None
        return self._session

    # -- objects ----------------------------------------------------------------------
    def secret_key(self, label: str) -> pkcs11.SecretKey:
        key = self._keys.get(label)
        if key is None:
            key = self._find(ObjectClass.SECRET_KEY, label)
            self._keys[label] = key
        return key

    def _find(self, object_class: ObjectClass, label: str) -> pkcs11.Key:
        """The token object of this class and label. "No such key" is only believed while the
        token's storage is visible: otherwise it is a fault (TokenStorageMissing), never an answer."""
        try:
            return self.session.get_key(object_class=object_class, label=label)
        except NoSuchKey:
            self.refresh_objects()  # another process may have made it unseen by us: look once more
        try:
            return self.session.get_key(object_class=object_class, label=label)
        except NoSuchKey:
            self.verify_storage()
            raise

    def refresh_objects(self) -> None:
        """See the token's objects afresh: library re-initialized, session and login reopened.

        SoftHSM2's file store learns of objects other processes made or destroyed from a change
        counter on disk, but a process that writes an object itself adopts the counter's current
        value (``Generation::commit``), so changes other processes made just before go unnoticed:
        that process answers "no such object" for a key another process created, and lists a
        stale set, until the library is initialized again. So a miss is re-checked once on a fresh
        view before it is believed. Cost: about 50 µs per token object (a full re-index), on a miss
        or a listing only; every cached handle and session copy is dropped.
        """
        self.refreshes += 1
        self.close()
        if self._lib is not None:
            self._lib.reinitialize()
        self.open(attempts=2)

    def crypto_key(self, label: str) -> pkcs11.SecretKey:
        """A session copy of a token key, for the hot path.

        With a token object SoftHSM2 opens and locks its token files on every C_Encrypt; a
        session copy (C_CopyObject with CKA_TOKEN false) works in memory, about 1.3x faster in
        one process and scaling across processes. The copy keeps the original's attributes
        (sensitive, never extractable), lives only as long as this session, and is labelled
        under the reserved ``kmsgw:copy:`` prefix so searches by the key's label never see it.
        Staleness is not a risk: the core checks key state in the store before every use, and
        re-imported material must equal what was deleted (KMS.2606).
        """
        key = self._copies.get(label)
        if key is None:
            if len(self._copies) >= MAX_SESSION_COPIES:
                for old in self._copies.values():
                    if not old[Attribute.TOKEN]:
                        old.destroy()
                self._copies.clear()
            token_key = self.secret_key(label)
            try:
                key = token_key.copy({Attribute.TOKEN: False, Attribute.LABEL: COPY_PREFIX + label})
            except (AttributeReadOnly, FunctionFailed, TemplateInconsistent, ArgumentsBad):
                key = token_key  # a token or key that refuses copies: use the object itself
            self._copies[label] = key
        return key

    def has_key(self, label: str) -> bool:
        try:
            self.secret_key(label)
            return True
        except NoSuchKey:
            return False

    def generate_aes_key(self, label: str, key_id: str | None = None) -> None:
        template = dict(MASTER_KEY_TEMPLATE)
        if key_id:
            template[Attribute.ID] = uuid.UUID(key_id).bytes
        key = self.session.generate_key(KeyType.AES, 256, label=label, store=True, template=template)
        self._keys[label] = key

    def destroy(self, label: str) -> bool:
        """Destroy every object with this label; True if one existed."""
        found = False
        objects = list(self.session.get_objects({Attribute.LABEL: label}))
        if not objects:  # made by another process unseen by us (refresh_objects)?
            self.refresh_objects()
            objects = list(self.session.get_objects({Attribute.LABEL: label}))
        for obj in objects:
            obj.destroy()
            found = True
        for cached in (label, "priv:" + label, "pub:" + label):
            self._keys.pop(cached, None)
        copy = self._copies.pop(label, None)
        if copy is not None and not copy[Attribute.TOKEN]:
            copy.destroy()
        if not found:
            self.verify_storage()  # "nothing to destroy" must not hide objects we cannot see
        return found

    def secret_key_labels(self) -> list[str]:
        return self._token_labels(ObjectClass.SECRET_KEY)

    def _token_labels(self, object_class: ObjectClass) -> list[str]:
        """Labels of the token objects of a class; raises rather than list a token it cannot see.
        Always from a fresh view (refresh_objects): this process's own writes may hide others'."""
        self.refresh_objects()
        self.verify_storage()
        found = self.session.get_objects({Attribute.CLASS: object_class, Attribute.TOKEN: True})
        labels = [o[Attribute.LABEL] for o in found]
        self.verify_storage()
        return labels

    def mechanisms(self) -> set[int]:
        return {int(m) for m in self.session.token.slot.get_mechanisms()}

    # -- crypto -----------------------------------------------------------------------
    def random(self, nbytes: int) -> bytes:
        """Bytes from the token's RNG, drawn in chunks so many small draws cost one call."""
        if nbytes > len(self._random):
            need = max(RANDOM_CHUNK, nbytes - len(self._random))
            self._random += self.session.generate_random(need * 8)
        out = bytes(self._random[:nbytes])
        del self._random[:nbytes]
        return out

    def gcm_seal(self, label: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """AES-256-GCM inside the token with a fresh 96-bit IV from the token RNG: (iv, ct||tag)."""
        iv = self.random(GCM_IV_BYTES)
        ct = self.crypto_key(label).encrypt(
            plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, aad, GCM_TAG_BITS)
        )
        return iv, ct

    def gcm_open(self, label: str, iv: bytes, ct: bytes, aad: bytes) -> bytes | None:
        """Plaintext, or None when the tag does not verify (forged or corrupted input)."""
        key = self.crypto_key(label)
        try:
            return key.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, aad, GCM_TAG_BITS))
        except AUTH_FAILURES:
            # SoftHSM2 reports a bad tag as CKR_GENERAL_ERROR: tell it apart from a broken
            # session by checking that the session still answers.
            self.session.generate_random(64)
            return None

    # -- asymmetric keys and key import (core: asymmetric.py, byok.py) --------------------
    # Key pairs carry one label on both objects (``<key_id>:v1``); the handle cache keeps
    # them under "priv:"/"pub:" prefixes beside the secret keys.
    def private_key(self, label: str) -> pkcs11.PrivateKey:
        key = self._keys.get("priv:" + label)
        if key is None:
            key = self._find(ObjectClass.PRIVATE_KEY, label)
            self._keys["priv:" + label] = key
        return key  # type: ignore[return-value]

    def public_key(self, label: str) -> pkcs11.PublicKey:
        key = self._keys.get("pub:" + label)
        if key is None:
            key = self._find(ObjectClass.PUBLIC_KEY, label)
            self._keys["pub:" + label] = key
        return key  # type: ignore[return-value]

    def private_key_labels(self) -> list[str]:
        return self._token_labels(ObjectClass.PRIVATE_KEY)

    def generate_key_pair(
        self, label: str, key_id: str, spec: SpecMechanisms, *, sign: bool, decrypt: bool, unwrap: bool = False
    ) -> None:
        """A token key pair: the private half sensitive and never extractable, both halves labelled."""
        ident = uuid.UUID(key_id).bytes
        public = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.MODIFIABLE: False,
            Attribute.VERIFY: sign,
            Attribute.ENCRYPT: decrypt,
            Attribute.WRAP: False,
        }
        private = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.MODIFIABLE: False,
            Attribute.SIGN: sign,
            Attribute.DECRYPT: decrypt or unwrap,  # unwrap keys decrypt raw RSA for software OAEP
            Attribute.UNWRAP: unwrap,
            Attribute.DERIVE: False,
        }
        bits = None
        if spec.family == "rsa":
            bits = spec.bits
            public[Attribute.PUBLIC_EXPONENT] = b"\x01\x00\x01"
        else:
            public[Attribute.EC_PARAMS] = encode_named_curve_parameters(spec.curve)
        pub, priv = self.session.generate_keypair(
            mech_table.key_type(spec.key_type),
            bits,
            id=ident,
            label=label,
            store=True,
            capabilities=0,
            mechanism=mech_table.mechanism(spec.keygen),
            public_template=public,
            private_template=private,
        )
        self._keys["pub:" + label] = pub
        self._keys["priv:" + label] = priv

    def generate_secret_key(self, label: str, key_id: str, spec: SpecMechanisms) -> None:
        """A symmetric master key made by the spec's table entry (vendor SM4, or AES by table)."""
        template = dict(MASTER_KEY_TEMPLATE)
        template[Attribute.ID] = uuid.UUID(key_id).bytes
        key = self.session.generate_key(
            mech_table.key_type(spec.key_type),
            spec.bits or None,
            label=label,
            store=True,
            capabilities=0,
            mechanism=mech_table.mechanism(spec.keygen),
            template=template,
        )
        self._keys[label] = key

    def public_key_der(self, label: str) -> bytes:
        """The DER SubjectPublicKeyInfo of a key pair (RSA, or EC-style: EC_PARAMS + EC_POINT)."""
        pub = self.public_key(label)
        if int(pub.key_type) == int(KeyType.RSA):
            return asymutil.rsa_spki(pub[Attribute.MODULUS], pub[Attribute.PUBLIC_EXPONENT])
        return encode_ec_public_key(pub)

    def modulus_bytes(self, label: str) -> int:
        return len(self.public_key(label)[Attribute.MODULUS])

    def sign(self, label: str, mech: Mechanism, param: object, data: bytes) -> bytes:
        return self.private_key(label).sign(data, mechanism=mech, mechanism_param=param)

    def verify(self, label: str, mech: Mechanism, param: object, data: bytes, signature: bytes) -> bool:
        try:
            return self.public_key(label).verify(data, signature, mechanism=mech, mechanism_param=param)
        except (DataLenRange, DataInvalid, SignatureInvalid, SignatureLenRange):
            return False

    def oaep_supported(self, hash_name: str) -> bool:
        """Whether CKM_RSA_PKCS_OAEP takes this hash (SoftHSM2 2.6.1: SHA-1 only). Probed once."""
        probes: dict[str, bool] = self.__dict__.setdefault("_oaep_probes", {})
        if hash_name not in probes:
            pub, priv = self.session.generate_keypair(
                KeyType.RSA,
                1024,
                store=False,
                capabilities=0,
                public_template={Attribute.ENCRYPT: True},
                private_template={Attribute.DECRYPT: True},
            )
            try:
                pub.encrypt(b"probe", mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=oaep_params(hash_name))
                probes[hash_name] = True
            except (ArgumentsBad, MechanismParamInvalid, MechanismInvalid):
                probes[hash_name] = False
            finally:
                pub.destroy()
                priv.destroy()
        return probes[hash_name]

    def rsa_encrypt(self, label: str, plaintext: bytes, hash_name: str) -> bytes:
        """RSAES-OAEP with the public key object (raw RSA + OAEP padding here if the token lacks the hash)."""
        pub = self.public_key(label)
        if self.oaep_supported(hash_name):
            return pub.encrypt(plaintext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=oaep_params(hash_name))
        k = self.modulus_bytes(label)
        em = asymutil.oaep_encode(plaintext, k, hash_name, self.random(asymutil.HASH_LEN[hash_name]))
        return pub.encrypt(em, mechanism=Mechanism.RSA_X_509)

    def rsa_decrypt(self, label: str, ciphertext: bytes, hash_name: str) -> bytes | None:
        """RSAES-OAEP decryption by the private key object; None for any undecryptable input."""
        priv = self.private_key(label)
        k = self.modulus_bytes(label)
        if len(ciphertext) != k:
            return None
        try:
            if self.oaep_supported(hash_name):
                params = oaep_params(hash_name)
                return priv.decrypt(ciphertext, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=params)
            em = priv.decrypt(ciphertext, mechanism=Mechanism.RSA_X_509)
        except RSA_FAILURES:
            self.session.generate_random(64)  # a bad block, not a broken session (see gcm_open)
            return None
        return asymutil.oaep_decode(em, k, hash_name)

    def unwrap_aes_key(
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
        """Unwrap 32 bytes of AES material as a sensitive, non-extractable token object ``label``.

        With CKM_RSA_PKCS_OAEP (C_UnwrapKey) the material never leaves the token. Only when the
        token lacks the OAEP hash and ``software_oaep`` is allowed does the raw RSA block come
        out for OAEP decoding here, the material then entering by C_CreateObject. Returns the
        key check value (AES-ECB of a fixed block, computed by the token); raises ImportRejected.
        """
        self.destroy(label)  # a leftover of a crash between an unwrap and its store update
        priv = self.private_key(wrap_label)
        k = self.modulus_bytes(wrap_label)
        if len(wrapped) != k:
            raise ImportRejected("decrypt")
        template = dict(MASTER_KEY_TEMPLATE)
        template[Attribute.ID] = uuid.UUID(key_id).bytes
        template[Attribute.LABEL] = label
        if self.oaep_supported(hash_name):
            try:
                key = priv.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.AES,
                    wrapped,
                    label=label,
                    store=True,
                    capabilities=0,
                    mechanism=Mechanism.RSA_PKCS_OAEP,
                    mechanism_param=oaep_params(hash_name),
                    template=template,
                )
            except RSA_FAILURES as exc:
                self.session.generate_random(64)
                raise ImportRejected("decrypt") from exc
            length = self.secret_length(key)
        elif software_oaep:
            try:
                em = priv.decrypt(wrapped, mechanism=Mechanism.RSA_X_509)
            except RSA_FAILURES as exc:
                self.session.generate_random(64)
                raise ImportRejected("decrypt") from exc
            material = asymutil.oaep_decode(em, k, hash_name)
            del em
            if material is None:
                raise ImportRejected("decrypt")
            if len(material) != 32:
                raise ImportRejected("length")
            template[Attribute.CLASS] = ObjectClass.SECRET_KEY
            template[Attribute.KEY_TYPE] = KeyType.AES
            template[Attribute.VALUE] = material
            key = self.session.create_object(template)
            del material, template
            length = 32
        else:
            raise ImportRejected("unsupported")
        try:
            if length not in (32, -1):
                raise ImportRejected("length")
            try:
                kcv = key.encrypt(KCV_BLOCK, mechanism=Mechanism.AES_ECB)
            except (MechanismInvalid, KeySizeRange, KeyTypeInconsistent, FunctionFailed) as exc:
                raise ImportRejected("length") from exc  # not a valid AES key length at all
            if expected_kcv is not None and not hmac.compare_digest(kcv, expected_kcv):
                raise ImportRejected("mismatch")
        except BaseException:
            key.destroy()
            raise
        if length == -1:
            log.warning("token reports no key length and refuses C_DigestKey: 16/24-byte imports not refused")
        self._keys[label] = key
        return kcv

    def secret_length(self, key: pkcs11.SecretKey) -> int:
        """The byte length of a secret key object without reading it; -1 when the token cannot tell.

        CKA_VALUE_LEN when the token reports it. SoftHSM2 leaves it 0 on unwrapped keys, so
        then: the token digests K and K || pad(32) || probe; the second equals the SHA-256
        length extension of the first exactly when K is 32 bytes long.
        """
        try:
            reported = int(key[Attribute.VALUE_LEN] or 0)
        except (AttributeTypeInvalid, AttributeSensitive, FunctionFailed):
            reported = 0
        if reported:
            return reported
        try:
            whole = self.session.digest(key, mechanism=Mechanism.SHA256)
            extended = self.session.digest(
                iter([key, asymutil.sha256_padding(32) + LENGTH_PROBE]), mechanism=Mechanism.SHA256
            )
        except (KeyIndigestible, MechanismInvalid, FunctionNotSupported, KeySizeRange, FunctionFailed):
            return -1
        return 32 if hmac.compare_digest(extended, asymutil.sha256_extend(whole, 32, LENGTH_PROBE)) else 0

    def key_check_value(self, label: str) -> bytes:
        return self.secret_key(label).encrypt(KCV_BLOCK, mechanism=Mechanism.AES_ECB)


class ImportRejected(Exception):
    """Why imported material was refused: decrypt | length | mismatch | unsupported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def oaep_params(hash_name: str) -> tuple[Mechanism, MGF, None]:
    return {
        "sha1": (Mechanism.SHA_1, MGF.SHA1, None),
        "sha256": (Mechanism.SHA256, MGF.SHA256, None),
    }[hash_name]
