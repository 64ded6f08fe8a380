"""Asymmetric keys on a real SoftHSM2 token: key pairs, sign / verify, public keys, RSA encryption.

Every signature is checked twice: by `cryptography` with the public key GetPublicKey returned
(what any client would do), and by the gateway's Verify. SM2/SM4 are refused on SoftHSM2 and
accepted once the mechanism table maps them to mechanisms the token has (plumbing test).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11 import Attribute, ObjectClass

from gateway.app import config as config_mod
from gateway.core.model import KeyRecord, KeySpec, KeyState, KeyUsage
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from gateway.hsm.mechanisms import build_table
from tests.support.gateway import Gateway, KmsClient, kms_code
from tests.support.kms import INVALID, PRECONDITION, alias, caller_for, expect_error, new_key

HASHES = {"SHA_256": hashes.SHA256(), "SHA_384": hashes.SHA384(), "SHA_512": hashes.SHA512()}
RSA_ALGOS = [f"RSASSA_{s}_{h}" for s in ("PSS", "PKCS1_V1_5") for h in HASHES]
EC_ALGOS = [f"ECDSA_{h}" for h in HASHES]
SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "EC_P256", "EC_P384"]
CASES = [(s, a) for s in SPECS for a in (RSA_ALGOS if s.startswith("RSA") else EC_ALGOS)]


@pytest.fixture(scope="module")
def owner(gateway: Gateway) -> tuple[str, KmsClient]:
    project_id = uuid.uuid4().hex
    token = gateway.token(project_id, ttl=30 * 86400)
    return token, gateway.stub(token)


@pytest.fixture(scope="module")
def akms(owner: tuple[str, KmsClient]) -> KmsClient:
    return owner[1]


@pytest.fixture(scope="module")
def signing_keys(akms: KmsClient) -> dict[str, str]:
    """One SIGN_VERIFY key per spec (RSA-4096 generation takes a while: made once)."""
    return {spec: new_key(akms, key_spec=spec) for spec in SPECS}


@pytest.fixture(scope="module")
def rsa_crypt_key(akms: KmsClient) -> str:
    return new_key(akms, key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT")


def public_key(kms: KmsClient, key_id: str):
    out = kms.GetPublicKey(pb.KeyIdRequest(key_id=key_id))
    pem_key = serialization.load_pem_public_key(out.public_key.encode())
    der_key = serialization.load_der_public_key(out.public_key_der)
    assert pem_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        out.public_key_der
    )
    return der_key


def check_signature(pub, algorithm: str, message: bytes, signature: bytes) -> None:
    """What a client does with the PEM: raises InvalidSignature when it does not verify."""
    h = HASHES[algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]]
    if algorithm.startswith("RSASSA_PSS"):
        pub.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    elif algorithm.startswith("RSASSA_PKCS1"):
        pub.verify(signature, message, padding.PKCS1v15(), h)
    else:
        pub.verify(signature, message, ec.ECDSA(h))


def digest_of(algorithm: str, message: bytes) -> bytes:
    name = {"256": "sha256", "384": "sha384", "512": "sha512"}[algorithm[-3:]]
    return hashlib.new(name, message).digest()


# -- key pairs --------------------------------------------------------------------------
def test_key_pairs_describe_and_token_objects(gateway: Gateway, akms: KmsClient, signing_keys, rsa_crypt_key):
    for spec, key_id in signing_keys.items():
        info = akms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
        assert (info.key_spec, info.key_usage, info.key_type, info.origin) == (spec, "SIGN_VERIFY", 2, "kms")
        assert info.key_state == 2
    info = akms.DescribeKey(pb.KeyIdRequest(key_id=rsa_crypt_key)).key_info
    assert (info.key_spec, info.key_usage) == ("RSA_2048", "ENCRYPT_DECRYPT")

    def attrs(t, label: str) -> dict:
        priv = t.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        pub = t.session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        return {
            "sensitive": priv[Attribute.SENSITIVE],
            "extractable": priv[Attribute.EXTRACTABLE],
            "token": priv[Attribute.TOKEN] and pub[Attribute.TOKEN],
            "sign": priv[Attribute.SIGN],
            "decrypt": priv[Attribute.DECRYPT],
            "id": bytes(priv[Attribute.ID]),
        }

    for key_id in [signing_keys["RSA_2048"], signing_keys["EC_P256"]]:
        a = gateway.rt.executor.run_sync(lambda t, k=key_id: attrs(t, f"{k}:v1"))
        assert a == {
            "sensitive": True,
            "extractable": False,
            "token": True,
            "sign": True,
            "decrypt": False,
            "id": uuid.UUID(key_id).bytes,
        }
    a = gateway.rt.executor.run_sync(lambda t: attrs(t, f"{rsa_crypt_key}:v1"))
    assert (a["sensitive"], a["extractable"], a["sign"], a["decrypt"]) == (True, False, False, True)


def test_public_key_is_spki_of_the_right_kind(akms: KmsClient, signing_keys):
    sizes = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
    for spec, key_id in signing_keys.items():
        pub = public_key(akms, key_id)
        if spec in sizes:
            assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == sizes[spec]
            assert pub.public_numbers().e == 65537
        else:
            assert isinstance(pub, ec.EllipticCurvePublicKey)
            assert pub.curve.name == {"EC_P256": "secp256r1", "EC_P384": "secp384r1"}[spec]
    out = akms.GetPublicKey(pb.KeyIdRequest(key_id=signing_keys["EC_P256"]))
    assert out.public_key.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert (out.key_spec, out.key_usage) == ("EC_P256", "SIGN_VERIFY")


# -- sign / verify ----------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "algorithm"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_sign_verifies_with_cryptography_and_gateway(akms: KmsClient, signing_keys, spec: str, algorithm: str):
    key_id = signing_keys[spec]
    pub = public_key(akms, key_id)
    message = os.urandom(100)
    for message_type, payload in (("RAW", message), ("DIGEST", digest_of(algorithm, message)), ("", None)):
        if payload is None:  # message_type defaults to DIGEST, as in the SDK
            payload = digest_of(algorithm, message)
        sig = akms.Sign(
            pb.SignRequest(key_id=key_id, message=payload, signing_algorithm=algorithm, message_type=message_type)
        )
        assert sig.key_id == key_id
        check_signature(pub, algorithm, message, sig.signature)
        ok = akms.Verify(
            pb.VerifyRequest(
                key_id=key_id,
                message=payload,
                signature=sig.signature,
                signing_algorithm=algorithm,
                message_type=message_type,
            )
        )
        assert ok.signature_valid is True
    # Tampered message: neither cryptography nor the gateway accept the signature.
    tampered = bytes([message[0] ^ 1]) + message[1:]
    with pytest.raises(InvalidSignature):
        check_signature(pub, algorithm, tampered, sig.signature)
    bad = akms.Verify(
        pb.VerifyRequest(
            key_id=key_id, message=tampered, signature=sig.signature, signing_algorithm=algorithm, message_type="RAW"
        )
    )
    assert bad.signature_valid is False


def test_verify_accepts_client_made_signatures_and_rejects_garbage(akms: KmsClient, signing_keys):
    key_id = signing_keys["EC_P384"]
    digest = hashlib.sha384(b"x").digest()
    sig = akms.Sign(pb.SignRequest(key_id=key_id, message=digest, signing_algorithm="ECDSA_SHA_384")).signature
    r, s = utils.decode_dss_signature(sig)
    assert 0 < r and 0 < s
    for garbage in (b"\x30\x00", b"not der", sig[:-1], sig + b"\x00", os.urandom(600), os.urandom(2000)):
        out = akms.Verify(
            pb.VerifyRequest(key_id=key_id, message=digest, signature=garbage, signing_algorithm="ECDSA_SHA_384")
        )
        assert out.signature_valid is False
    rsa_key = signing_keys["RSA_2048"]
    digest = hashlib.sha256(b"y").digest()
    for garbage in (b"\x00", os.urandom(256), os.urandom(255)):
        out = akms.Verify(
            pb.VerifyRequest(key_id=rsa_key, message=digest, signature=garbage, signing_algorithm="RSASSA_PSS_SHA_256")
        )
        assert out.signature_valid is False
    # A signature under another algorithm of the same key does not verify as this one.
    pss = akms.Sign(pb.SignRequest(key_id=rsa_key, message=digest, signing_algorithm="RSASSA_PSS_SHA_256")).signature
    out = akms.Verify(
        pb.VerifyRequest(key_id=rsa_key, message=digest, signature=pss, signing_algorithm="RSASSA_PKCS1_V1_5_SHA_256")
    )
    assert out.signature_valid is False


def test_sign_input_rules(akms: KmsClient, signing_keys):
    key_id = signing_keys["RSA_2048"]

    def sign(kw: dict):
        return akms.Sign(pb.SignRequest(key_id=key_id, **kw))

    d256 = hashlib.sha256(b"m").digest()
    # DIGEST must be the hash's length.
    expect_error(INVALID, "KMS.0308", sign, dict(message=d256[:31], signing_algorithm="RSASSA_PSS_SHA_256"))
    expect_error(INVALID, "KMS.0308", sign, dict(message=d256, signing_algorithm="RSASSA_PSS_SHA_384"))
    # Unknown algorithm, missing algorithm, bad message type, empty and oversized messages.
    expect_error(INVALID, "KMS.0308", sign, dict(message=d256, signing_algorithm="ED25519_SHA_512"))
    expect_error(INVALID, "KMS.0204", sign, dict(message=d256))
    expect_error(
        INVALID, "KMS.0308", sign, dict(message=d256, signing_algorithm="RSASSA_PSS_SHA_256", message_type="HEX")
    )
    expect_error(INVALID, "KMS.0308", sign, dict(message=b"", signing_algorithm="RSASSA_PSS_SHA_256"))
    expect_error(
        INVALID,
        "KMS.0308",
        sign,
        dict(message=b"a" * 4097, signing_algorithm="RSASSA_PSS_SHA_256", message_type="RAW"),
    )
    assert sign(dict(message=b"a" * 4096, signing_algorithm="RSASSA_PSS_SHA_256", message_type="RAW")).signature
    # An algorithm of the other family is a key usage error, not an internal one.
    expect_error(INVALID, "KMS.0308", sign, dict(message=d256, signing_algorithm="ECDSA_SHA_256"))
    err = expect_error(
        INVALID,
        "KMS.0308",
        lambda r: akms.Sign(r),
        pb.SignRequest(key_id=signing_keys["EC_P256"], message=d256, signing_algorithm="RSASSA_PSS_SHA_256"),
    )
    assert "does not apply" in err.details()


# -- RSA encryption ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("algorithm", "h"), [("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())]
)
def test_rsa_oaep_encrypt_decrypt_and_limits(akms: KmsClient, rsa_crypt_key: str, algorithm: str, h):
    key_id = rsa_crypt_key
    limit = 256 - 2 * h.digest_size - 2  # k - 2*hLen - 2: 214 for SHA-1, 190 for SHA-256
    pub = public_key(akms, key_id)
    for size in (1, 100, limit):
        plain = os.urandom(size)
        enc = akms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=plain, encryption_algorithm=algorithm))
        assert len(enc.cipher_text) == 256  # raw OAEP block
        dec = akms.DecryptData(
            pb.DecryptDataRequest(cipher_text=enc.cipher_text, key_id=key_id, encryption_algorithm=algorithm)
        )
        assert (dec.key_id, dec.plain_text) == (key_id, plain)
        # A client encrypting with the public key alone: the gateway decrypts it.
        mine = pub.encrypt(plain, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
        dec = akms.DecryptData(pb.DecryptDataRequest(cipher_text=mine, key_id=key_id, encryption_algorithm=algorithm))
        assert dec.plain_text == plain
    expect_error(
        INVALID,
        "KMS.0308",
        akms.EncryptData,
        pb.EncryptDataRequest(key_id=key_id, plain_text=b"a" * (limit + 1), encryption_algorithm=algorithm),
    )
    # Undecryptable input is KMS.0311, never a 500: garbage, truncated, the other hash's ciphertext.
    other = "RSAES_OAEP_SHA_1" if algorithm == "RSAES_OAEP_SHA_256" else "RSAES_OAEP_SHA_256"
    enc = akms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"abc", encryption_algorithm=other))
    for blob in (os.urandom(256), enc.cipher_text[:-1], enc.cipher_text, b"\xff" * 256):
        expect_error(
            INVALID,
            "KMS.0311",
            akms.DecryptData,
            pb.DecryptDataRequest(cipher_text=blob, key_id=key_id, encryption_algorithm=algorithm),
        )
    # An RSA ciphertext names no key: key_id is required.
    expect_error(
        INVALID,
        "KMS.0204",
        akms.DecryptData,
        pb.DecryptDataRequest(cipher_text=enc.cipher_text, encryption_algorithm=algorithm),
    )
    # No encryption context with RSA.
    expect_error(
        INVALID,
        "KMS.0308",
        akms.EncryptData,
        pb.EncryptDataRequest(
            key_id=key_id, plain_text=b"x", encryption_algorithm=algorithm, encryption_context={"a": "b"}
        ),
    )


# -- wrong key types: 400, never 500 ----------------------------------------------------
def test_wrong_key_types_are_usage_errors(akms: KmsClient, signing_keys, rsa_crypt_key):
    aes = new_key(akms)
    d = hashlib.sha256(b"m").digest()
    mismatch = [
        # a symmetric key asked to sign, verify or give a public key
        (akms.Sign, pb.SignRequest(key_id=aes, message=d, signing_algorithm="RSASSA_PSS_SHA_256")),
        (akms.Verify, pb.VerifyRequest(key_id=aes, message=d, signature=b"x", signing_algorithm="ECDSA_SHA_256")),
        (akms.GetPublicKey, pb.KeyIdRequest(key_id=aes)),
        # a SIGN_VERIFY key asked to encrypt or decrypt
        (
            akms.EncryptData,
            pb.EncryptDataRequest(
                key_id=signing_keys["RSA_2048"], plain_text=b"x", encryption_algorithm="RSAES_OAEP_SHA_256"
            ),
        ),
        (akms.EncryptData, pb.EncryptDataRequest(key_id=signing_keys["EC_P256"], plain_text=b"x")),
        (
            akms.DecryptData,
            pb.DecryptDataRequest(
                key_id=signing_keys["RSA_2048"], cipher_text=b"x" * 256, encryption_algorithm="RSAES_OAEP_SHA_1"
            ),
        ),
        # an ENCRYPT_DECRYPT RSA key asked to sign, or to encrypt symmetrically
        (akms.Sign, pb.SignRequest(key_id=rsa_crypt_key, message=d, signing_algorithm="RSASSA_PSS_SHA_256")),
        (akms.EncryptData, pb.EncryptDataRequest(key_id=rsa_crypt_key, plain_text=b"x")),
        # RSA encryption asked of a symmetric key
        (akms.EncryptData, pb.EncryptDataRequest(key_id=aes, plain_text=b"x", encryption_algorithm="RSAES_OAEP_SHA_1")),
        # asymmetric keys asked for data keys
        (akms.CreateDataKey, pb.CreateDataKeyRequest(key_id=signing_keys["EC_P256"])),
        (akms.CreateDataKeyWithoutPlaintext, pb.CreateDataKeyRequest(key_id=rsa_crypt_key)),
        (
            akms.EncryptDataKey,
            pb.EncryptDataKeyRequest(
                key_id=signing_keys["RSA_2048"],
                plain_text=b"k" * 32 + hashlib.sha256(b"k" * 32).digest(),
                datakey_plain_length=32,
            ),
        ),
    ]
    for fn, request in mismatch:
        expect_error(INVALID, "KMS.0308", fn, request)
    # Impossible specs and usages at creation.
    for kw in (
        dict(key_spec="EC_P256", key_usage="ENCRYPT_DECRYPT"),
        dict(key_spec="AES_256", key_usage="SIGN_VERIFY"),
        dict(key_spec="RSA_2048", key_usage="WRAP"),
        dict(key_spec="RSA_1024"),
        dict(key_spec="RSA_2048", origin="external"),
    ):
        expect_error(INVALID, "KMS.0308", akms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), **kw))


def test_key_state_rules_apply_to_key_pairs(akms: KmsClient):
    key_id = new_key(akms, key_spec="EC_P256")
    d = hashlib.sha256(b"m").digest()
    akms.DisableKey(pb.KeyIdRequest(key_id=key_id))
    expect_error(
        PRECONDITION,
        "KMS.0209",
        akms.Sign,
        pb.SignRequest(key_id=key_id, message=d, signing_algorithm="ECDSA_SHA_256"),
    )
    expect_error(PRECONDITION, "KMS.0209", akms.GetPublicKey, pb.KeyIdRequest(key_id=key_id))
    akms.EnableKey(pb.KeyIdRequest(key_id=key_id))
    assert akms.Sign(pb.SignRequest(key_id=key_id, message=d, signing_algorithm="ECDSA_SHA_256")).signature


def test_other_projects_cannot_use_a_key_pair(gateway: Gateway, signing_keys):
    stranger = gateway.stub(gateway.token())
    d = hashlib.sha256(b"m").digest()
    with pytest.raises(grpc.RpcError) as info:
        stranger.Sign(pb.SignRequest(key_id=signing_keys["EC_P256"], message=d, signing_algorithm="ECDSA_SHA_256"))
    assert (info.value.code(), kms_code(info.value)) == (grpc.StatusCode.NOT_FOUND, "KMS.0207")
    with pytest.raises(grpc.RpcError) as info:
        stranger.GetPublicKey(pb.KeyIdRequest(key_id=signing_keys["EC_P256"]))
    assert kms_code(info.value) == "KMS.0207"


def test_key_pairs_are_destroyed_with_their_key(gateway: Gateway, owner, clock):
    _token, kms = owner
    key_id = new_key(kms, key_spec="EC_P256")
    label = f"{key_id}:v1"
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    clock.advance(8 * 86400)
    assert key_id in gateway.call(gateway.rt.kms.delete_due_keys())
    assert label not in gateway.call(gateway.rt.kms.hsm.private_key_labels())
    left = gateway.rt.executor.run_sync(lambda t: list(t.session.get_objects({Attribute.LABEL: label})))
    assert left == []


# -- crash safety -----------------------------------------------------------------------
def test_reconcile_finishes_and_removes_key_pairs(gateway: Gateway, owner, clock):
    token, _ = owner
    caller = caller_for(gateway, token)
    kms = gateway.rt.kms

    def row(**kw) -> KeyRecord:
        rec = KeyRecord(
            key_id=str(uuid.uuid4()),
            project_id=caller.project_id,
            domain_id=caller.domain_id,
            key_alias=alias(),
            key_description="",
            key_spec="EC_P256",
            key_usage="SIGN_VERIFY",
            origin="kms",
            key_state=KeyState.ENABLED,
            creation_date=kms.now_ms(),
            provisioning=True,
            **kw,
        )
        return rec

    finished, lost, orphan = row(), row(), str(uuid.uuid4())
    for rec in (finished, lost):
        gateway.rt.store.insert_key(rec)
    # "Crash" after the pair of `finished` was generated; `lost` never got one; `orphan` has no row.
    gateway.call(kms.hsm.create_key(f"{finished.key_id}:v1", finished.key_id, KeySpec.EC_P256, KeyUsage.SIGN_VERIFY))
    gateway.call(kms.hsm.create_key(f"{orphan}:v1", orphan, KeySpec.EC_P256, KeyUsage.SIGN_VERIFY))
    report = gateway.call(kms.reconcile())
    assert finished.key_id in report.finished
    assert lost.key_id in report.removed_rows
    assert f"{orphan}:v1" in report.orphans  # reported at once, destroyed after the grace period
    assert f"{orphan}:v1" not in report.destroyed_orphans
    clock.advance(gateway.rt.config.orphan_grace_seconds + 1)
    destroyed = gateway.call(kms.reconcile()).destroyed_orphans
    clock.reset()
    assert f"{orphan}:v1" in destroyed
    labels = gateway.call(kms.hsm.private_key_labels())
    assert f"{finished.key_id}:v1" in labels and f"{orphan}:v1" not in labels
    assert gateway.rt.store.get_key_by_id(finished.key_id).provisioning is False


# -- SM2 / SM4 and the mechanism table --------------------------------------------------
@pytest.fixture
def mechanism_table(gateway: Gateway) -> Iterator[Callable[[dict], None]]:
    """Lay configuration entries over the running gateway's mechanism table (the HSM adapter's) for
    one test, as ``[mechanisms]`` in the configuration would, then put the table back."""
    hsm = gateway.rt.kms.hsm
    saved = hsm.table

    def use(entries: dict) -> None:
        hsm.table = build_table(entries)

    yield use
    hsm.table = saved


def test_sm2_and_sm4_refused_on_softhsm(akms: KmsClient):
    for spec in ("SM4", "SM2"):
        err = expect_error(INVALID, "KMS.0308", akms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), key_spec=spec))
        assert "docs/asymmetric.md" in err.details() and spec in err.details()


def test_sm4_accepted_when_the_table_maps_it(gateway: Gateway, akms: KmsClient, mechanism_table):
    # Plumbing only: SoftHSM2 has no SM4, so map it to AES key generation (0x1080, CKK_AES 0x1f).
    # Without a data cipher in the table, the key exists but the data path refuses it with a 400.
    mechanism_table({"SM4": {"key_type": 0x1F, "keygen": 0x1080, "bits": 256}})
    key_id = new_key(akms, key_spec="SM4")
    info = akms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_spec, info.key_usage, info.key_type) == ("SM4", "ENCRYPT_DECRYPT", 1)
    err = expect_error(INVALID, "KMS.0308", akms.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"x"))
    assert "not wired" in err.details()
    expect_error(INVALID, "KMS.0308", akms.CreateDataKey, pb.CreateDataKeyRequest(key_id=key_id))
    # With CKM_AES_GCM (0x1087) as its cipher, the data path runs.
    mechanism_table({"SM4": {"key_type": 0x1F, "keygen": 0x1080, "bits": 256, "cipher": 0x1087}})
    enc = akms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"through the table"))
    assert akms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"through the table"


def test_sm4_with_a_mechanism_the_token_lacks(gateway: Gateway, akms: KmsClient, mechanism_table):
    mechanism_table({"SM4": {"key_type": 0x1F, "keygen": 0x80001234}})
    err = expect_error(INVALID, "KMS.0308", akms.CreateKey, pb.CreateKeyRequest(key_alias=alias(), key_spec="SM4"))
    assert "0x80001234" in err.details()


def test_sm2_accepted_when_the_table_maps_it(akms: KmsClient, mechanism_table):
    # Plumbing only: SM2 mapped to EC key-pair generation on P-256 and raw CKM_ECDSA as the
    # "SM2 signature over a 32-byte digest" mechanism.
    mechanism_table({"SM2": {"key_type": 0x3, "keygen": 0x1040, "sign": 0x1041, "curve": "secp256r1"}})
    key_id = new_key(akms, key_spec="SM2")
    info = akms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_spec, info.key_usage, info.key_type) == ("SM2", "SIGN_VERIFY", 2)
    digest = hashlib.sha256(b"sm2 message").digest()  # stands in for SM3(Z(A) || M)
    sig = akms.Sign(pb.SignRequest(key_id=key_id, message=digest, signing_algorithm="SM2DSA_SM3")).signature
    pub = public_key(akms, key_id)
    pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    ok = akms.Verify(
        pb.VerifyRequest(key_id=key_id, message=digest, signature=sig, signing_algorithm="SM2DSA_SM3")
    ).signature_valid
    assert ok is True
    expect_error(
        INVALID,
        "KMS.0308",
        akms.Sign,
        pb.SignRequest(key_id=key_id, message=b"raw", signing_algorithm="SM2DSA_SM3", message_type="RAW"),
    )
    expect_error(
        INVALID,
        "KMS.0308",
        akms.CreateKey,
        pb.CreateKeyRequest(key_alias=alias(), key_spec="SM2", key_usage="ENCRYPT_DECRYPT"),
    )


def test_mechanism_table_from_toml(tmp_path):
    path = tmp_path / "kmsgw.toml"
    path.write_text(
        "[gateway]\ndata_dir = 'var'\n"
        "[hsm]\nsoftware_oaep_unwrap = true\n"
        "[mechanisms.SM4]\nkey_type = 0x80000001\nkeygen = 0x80000002\n"
        "[mechanisms.SM2]\nkey_type = 0x80000003\nkeygen = 0x80000004\nsign = 0x80000005\n"
    )
    cfg = config_mod.load(str(path))
    assert cfg.mechanisms["SM4"] == {"key_type": 0x80000001, "keygen": 0x80000002}
    assert cfg.hsm.software_oaep_unwrap is True
    for bad in (
        "[mechanisms.SM4]\nkeygen = 0x80000002\n",  # no key_type
        "[mechanisms.SM2]\nkey_type = 1\nkeygen = 2\n",  # no sign
        "[mechanisms.DES]\nkey_type = 1\nkeygen = 2\n",  # unknown spec
        "[mechanisms.SM4]\nkey_type = 1\nkeygen = 'x'\n",  # not a number
        "[mechanisms.SM4]\nkey_type = 1\nkeygen = 2\ncolour = 3\n",  # unknown field
    ):
        path.write_text(bad)
        with pytest.raises(ValueError):
            config_mod.load(str(path))


# -- REST, driven by the official SDK ---------------------------------------------------
@pytest.fixture(scope="module")
def sdk(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory):
    from tests.support.rest import sdk_client

    creds = gateway.credentials(uuid.uuid4().hex)
    return sdk_client(gateway.rest_url, creds, str(tmp_path_factory.mktemp("sdk-home-asym")))


@pytest.mark.parametrize(("spec", "algorithm"), [("RSA_3072", "RSASSA_PSS_SHA_384"), ("EC_P256", "ECDSA_SHA_256")])
def test_sdk_sign_verify_and_public_key(sdk, spec: str, algorithm: str):
    import base64

    from huaweicloudsdkkms.v2 import model as m

    key_id = sdk.create_key(
        m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=alias(), key_spec=spec, key_usage="SIGN_VERIFY"))
    ).key_info.key_id
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id))).key_info
    assert (info.key_spec, info.key_usage, info.key_state) == (spec, "SIGN_VERIFY", "2")
    pem = sdk.show_public_key(m.ShowPublicKeyRequest(body=m.OperateKeyRequestBody(key_id=key_id))).public_key
    pub = serialization.load_pem_public_key(pem.encode())
    message = b"signed through the official SDK"
    for message_type, payload in (("RAW", message), ("DIGEST", digest_of(algorithm, message))):
        body = m.SignRequestBody(
            key_id=key_id,
            message=base64.b64encode(payload).decode(),
            signing_algorithm=algorithm,
            message_type=message_type,
        )
        sig = sdk.sign(m.SignRequest(body=body))
        assert sig.key_id == key_id
        check_signature(pub, algorithm, message, base64.b64decode(sig.signature))
        verify = m.VerifyRequestBody(
            key_id=key_id,
            message=base64.b64encode(payload).decode(),
            signature=sig.signature,
            signing_algorithm=algorithm,
            message_type=message_type,
        )
        assert sdk.validate_signature(m.ValidateSignatureRequest(body=verify)).signature_valid == "true"
        verify.message = base64.b64encode(payload[:-1] + bytes([payload[-1] ^ 1])).decode()
        assert sdk.validate_signature(m.ValidateSignatureRequest(body=verify)).signature_valid == "false"


def test_sdk_rsa_encrypt_data_and_errors(sdk):
    import base64

    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkkms.v2 import model as m

    key_id = sdk.create_key(
        m.CreateKeyRequest(
            body=m.CreateKeyRequestBody(key_alias=alias(), key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT")
        )
    ).key_info.key_id
    enc = sdk.encrypt_data(
        m.EncryptDataRequest(
            body=m.EncryptDataRequestBody(
                key_id=key_id, plain_text="hello rsa", encryption_algorithm="RSAES_OAEP_SHA_256"
            )
        )
    )
    assert len(base64.b64decode(enc.cipher_text)) == 256
    dec = sdk.decrypt_data(
        m.DecryptDataRequest(
            body=m.DecryptDataRequestBody(
                cipher_text=enc.cipher_text, key_id=key_id, encryption_algorithm="RSAES_OAEP_SHA_256"
            )
        )
    )
    assert dec.plain_text == "hello rsa"
    with pytest.raises(ClientRequestException) as info:
        sdk.decrypt_data(
            m.DecryptDataRequest(
                body=m.DecryptDataRequestBody(
                    cipher_text=base64.b64encode(os.urandom(256)).decode(),
                    key_id=key_id,
                    encryption_algorithm="RSAES_OAEP_SHA_256",
                )
            )
        )
    assert (info.value.status_code, info.value.error_code) == (400, "KMS.0311")
    # A symmetric key asked to sign: 400 KMS.0308, never 500.
    aes = sdk.create_key(m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=alias()))).key_info.key_id
    body = m.SignRequestBody(
        key_id=aes, message=base64.b64encode(b"\x00" * 32).decode(), signing_algorithm="ECDSA_SHA_256"
    )
    with pytest.raises(ClientRequestException) as info:
        sdk.sign(m.SignRequest(body=body))
    assert (info.value.status_code, info.value.error_code) == (400, "KMS.0308")
