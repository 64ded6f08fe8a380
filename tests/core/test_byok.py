"""Bring your own key (docs/asymmetric.md) on a real SoftHSM2 token.

The client side is what a user does with `cryptography`: take the RSA-2048 public key from
get-parameters-for-import, wrap 32 random bytes with RSAES-OAEP, send them with the import token.
Ciphertexts made by the gateway are then opened here with AES-GCM under the material the test
kept: proof that the imported material, not some other key, is what the gateway uses.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute, ObjectClass

from gateway.core import ciphertext as ct
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.gateway import Gateway, KmsClient
from tests.support.kms import INVALID, PRECONDITION, alias, expect_error, new_key

SHA = {"RSAES_OAEP_SHA_1": hashes.SHA1(), "RSAES_OAEP_SHA_256": hashes.SHA256()}
DAY = 86400


@dataclass
class Project:
    project_id: str
    kms: KmsClient


@pytest.fixture
def proj(gateway: Gateway) -> Project:
    project_id = uuid.uuid4().hex
    return Project(project_id, gateway.stub(gateway.token(project_id, ttl=30 * DAY)))


@pytest.fixture
def software_oaep(gateway: Gateway) -> Iterator[None]:
    """SoftHSM2's OAEP unwrap is SHA-1 only: allow the gateway to decode OAEP-SHA-256 itself."""
    settings = gateway.rt.kms.settings
    saved = settings.software_oaep_unwrap
    settings.software_oaep_unwrap = True
    yield
    settings.software_oaep_unwrap = saved


def external_key(kms: KmsClient) -> str:
    info = kms.CreateKey(pb.CreateKeyRequest(key_alias=alias(), origin="external")).key_info
    assert (info.key_state, info.origin, info.key_spec, info.key_type) == (5, "external", "AES_256", 1)
    return info.key_id


def params(kms: KmsClient, key_id: str, algorithm: str = "RSAES_OAEP_SHA_1") -> pb.GetParametersForImportResponse:
    return kms.GetParametersForImport(pb.GetParametersForImportRequest(key_id=key_id, wrapping_algorithm=algorithm))


def wrap(p: pb.GetParametersForImportResponse, material: bytes, algorithm: str = "RSAES_OAEP_SHA_1") -> bytes:
    pub = serialization.load_der_public_key(p.public_key)
    h = SHA[algorithm]
    return pub.encrypt(material, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))


def do_import(kms: KmsClient, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_1", **kw) -> pb.KeyInfo:
    p = params(kms, key_id, algorithm)
    req = pb.ImportKeyMaterialRequest(
        key_id=key_id, import_token=p.import_token, encrypted_key_material=wrap(p, material, algorithm), **kw
    )
    return kms.ImportKeyMaterial(req).key_info


def open_with(material: bytes, blob: bytes) -> bytes:
    """Open an encrypt-data ciphertext (no context) with the material the client kept."""
    parsed = ct.parse(blob, ct.KIND_DATA, None)  # type: ignore[arg-type]
    return AESGCM(material).decrypt(parsed.iv, parsed.sealed, ct.aad(parsed.header, b""))


def token_object(gateway: Gateway, label: str) -> dict | None:
    def job(t):
        objs = list(t.session.get_objects({Attribute.LABEL: label, Attribute.CLASS: ObjectClass.SECRET_KEY}))
        if not objs:
            return None
        o = objs[0]
        return {"sensitive": o[Attribute.SENSITIVE], "extractable": o[Attribute.EXTRACTABLE], "n": len(objs)}

    return gateway.rt.executor.run_sync(job)


# -- the full cycle ---------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_full_import_cycle(gateway: Gateway, proj: Project, software_oaep, algorithm: str):
    kms = proj.kms
    key_id = external_key(kms)
    # Pending import: no material, unusable.
    expect_error(PRECONDITION, "KMS.0310", kms.EncryptData, pb.EncryptDataRequest(key_id=key_id, plain_text=b"x"))
    assert token_object(gateway, f"{key_id}:v1") is None

    p = params(kms, key_id, algorithm)
    assert p.key_id == key_id
    assert abs(p.expiration_time - (time.time() + DAY)) < 120  # 24 h, in seconds
    pub = serialization.load_der_public_key(p.public_key)
    assert pub.key_size == 2048
    assert 200 <= len(__import__("base64").b64encode(p.import_token)) <= 6144  # the API reference's import_token length

    material = os.urandom(32)
    info = kms.ImportKeyMaterial(
        pb.ImportKeyMaterialRequest(
            key_id=key_id, import_token=p.import_token, encrypted_key_material=wrap(p, material, algorithm)
        )
    ).key_info
    assert (info.key_state, info.expiration_time) == (2, 0)
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 2
    assert token_object(gateway, f"{key_id}:v1") == {"sensitive": True, "extractable": False, "n": 1}

    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"imported key at work"))
    assert open_with(material, enc.cipher_text) == b"imported key at work"
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"imported key at work"
    dk = kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    assert len(dk.plain_text) == 32

    # Delete the material: pending import again, the object is gone, old ciphertexts do not open.
    info = kms.DeleteImportedKeyMaterial(pb.KeyIdRequest(key_id=key_id)).key_info
    assert info.key_state == 5
    assert token_object(gateway, f"{key_id}:v1") is None
    expect_error(PRECONDITION, "KMS.0310", kms.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text))

    # Re-import: other material is refused (KMS.2606) and changes nothing; the same material works
    # and the old ciphertexts decrypt again.
    expect_error(
        INVALID,
        "KMS.2606",
        kms.ImportKeyMaterial,
        pb.ImportKeyMaterialRequest(
            key_id=key_id, import_token=p.import_token, encrypted_key_material=wrap(p, os.urandom(32), algorithm)
        ),
    )
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 5
    assert token_object(gateway, f"{key_id}:v1") is None
    do_import(kms, key_id, material, algorithm)
    assert kms.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"imported key at work"
    out = kms.DecryptDataKey(
        pb.DecryptDataKeyRequest(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length=32)
    )
    assert out.data_key == dk.plain_text


def test_oaep_sha256_refused_without_software_oaep_on_softhsm(gateway: Gateway, proj: Project):
    assert gateway.rt.kms.settings.software_oaep_unwrap is False
    key_id = external_key(proj.kms)
    err = expect_error(
        INVALID,
        "KMS.0308",
        proj.kms.GetParametersForImport,
        pb.GetParametersForImportRequest(key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256"),
    )
    assert "RSAES_OAEP_SHA_1" in err.details()
    # SHA-1 goes through C_UnwrapKey: no setting needed.
    material = os.urandom(32)
    do_import(proj.kms, key_id, material)
    enc = proj.kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"sha1"))
    assert open_with(material, enc.cipher_text) == b"sha1"


def test_wrapping_key_is_a_non_extractable_token_pair(gateway: Gateway, proj: Project):
    key_id = external_key(proj.kms)
    p = params(proj.kms, key_id)

    def job(t):
        out = []
        for obj in t.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
            label = obj[Attribute.LABEL]
            if label.startswith(f"{key_id}:wrap:"):
                out.append(
                    (obj[Attribute.SENSITIVE], obj[Attribute.EXTRACTABLE], obj[Attribute.UNWRAP], obj[Attribute.SIGN])
                )
        return out

    assert gateway.rt.executor.run_sync(job) == [(True, False, True, False)]
    # Asked again, the same live wrapping key is handed out (no RSA key generation per call).
    again = params(proj.kms, key_id)
    assert again.public_key == p.public_key


# -- the KMS.26xx / 27xx / 03xx errors --------------------------------------------------
def test_import_token_errors(gateway: Gateway, proj: Project, clock):
    kms = proj.kms
    key_id, other_id = external_key(kms), external_key(kms)
    p = params(kms, key_id)
    wrapped = wrap(p, os.urandom(32))

    def imp(**kw) -> pb.ImportKeyMaterialRequest:
        base = dict(key_id=key_id, import_token=p.import_token, encrypted_key_material=wrapped)
        base.update(kw)
        return pb.ImportKeyMaterialRequest(**base)

    # Forged: any changed byte (body, IV or tag), truncation, garbage.
    tok = bytearray(p.import_token)
    for i in (0, 5, 20, 40, len(tok) // 2, len(tok) - 20, len(tok) - 1):
        forged = bytearray(tok)
        forged[i] ^= 0x01
        expect_error(INVALID, "KMS.2605", kms.ImportKeyMaterial, imp(import_token=bytes(forged)))
    for junk in (bytes(tok[:-1]), bytes(tok[:40]), os.urandom(300), b"x"):
        expect_error(INVALID, "KMS.2605", kms.ImportKeyMaterial, imp(import_token=junk))
    # Another key's token.
    other = params(kms, other_id)
    expect_error(INVALID, "KMS.2603", kms.ImportKeyMaterial, imp(import_token=other.import_token))
    # Material of the wrong length (16, 24, 31, 33, 64 bytes), still properly wrapped.
    for size in (16, 24, 31, 33, 64):
        expect_error(INVALID, "KMS.2604", kms.ImportKeyMaterial, imp(encrypted_key_material=wrap(p, os.urandom(size))))
    # Not decryptable under this wrapping key: garbage, or wrapped for another import.
    expect_error(INVALID, "KMS.0311", kms.ImportKeyMaterial, imp(encrypted_key_material=os.urandom(256)))
    expect_error(INVALID, "KMS.0311", kms.ImportKeyMaterial, imp(encrypted_key_material=wrap(other, os.urandom(32))))
    expect_error(INVALID, "KMS.0311", kms.ImportKeyMaterial, imp(encrypted_key_material=wrapped[:100]))
    # expiration_time in the past.
    expect_error(INVALID, "KMS.2602", kms.ImportKeyMaterial, imp(expiration_time=int(time.time()) - 10))
    # Nothing above changed the key.
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.key_state == 5
    # Expired token (the parameters last 24 h).
    clock.advance(DAY + 60)
    late = gateway.stub(gateway.token(proj.project_id))
    expect_error(INVALID, "KMS.2601", late.ImportKeyMaterial, imp())
    # Once swept, the wrapping key itself is gone from the token.
    gateway.call(gateway.rt.kms.import_sweep())
    labels = gateway.call(gateway.rt.kms.hsm.private_key_labels())
    assert not [lbl for lbl in labels if lbl.startswith(f"{key_id}:wrap:")]
    expect_error(INVALID, "KMS.2601", late.ImportKeyMaterial, imp())
    # New parameters work.
    do_import(late, key_id, os.urandom(32))


def test_state_and_origin_errors(proj: Project):
    kms = proj.kms
    normal = new_key(kms)
    ext = external_key(kms)
    # Import operations on a key generated by the gateway: KMS.0309.
    expect_error(
        INVALID,
        "KMS.0309",
        kms.GetParametersForImport,
        pb.GetParametersForImportRequest(key_id=normal, wrapping_algorithm="RSAES_OAEP_SHA_1"),
    )
    expect_error(INVALID, "KMS.0309", kms.DeleteImportedKeyMaterial, pb.KeyIdRequest(key_id=normal))
    p = params(kms, ext)
    expect_error(
        INVALID,
        "KMS.0309",
        kms.ImportKeyMaterial,
        pb.ImportKeyMaterialRequest(key_id=normal, import_token=p.import_token, encrypted_key_material=b"x" * 256),
    )
    # Deleting material that is not there: KMS.2701.
    expect_error(PRECONDITION, "KMS.2701", kms.DeleteImportedKeyMaterial, pb.KeyIdRequest(key_id=ext))
    # Unsupported wrapping algorithms.
    for algorithm in ("RSAES_PKCS1_V1_5", "SM2_ENCRYPT", "RSA"):
        expect_error(
            INVALID,
            "KMS.0308",
            kms.GetParametersForImport,
            pb.GetParametersForImportRequest(key_id=ext, wrapping_algorithm=algorithm),
        )
    expect_error(INVALID, "KMS.0204", kms.GetParametersForImport, pb.GetParametersForImportRequest(key_id=ext))
    # Once imported: no new parameters, no second import (KMS.0310), deletion allowed when disabled.
    material = os.urandom(32)
    do_import(kms, ext, material)
    expect_error(
        PRECONDITION,
        "KMS.0310",
        kms.GetParametersForImport,
        pb.GetParametersForImportRequest(key_id=ext, wrapping_algorithm="RSAES_OAEP_SHA_1"),
    )
    expect_error(
        PRECONDITION,
        "KMS.0310",
        kms.ImportKeyMaterial,
        pb.ImportKeyMaterialRequest(key_id=ext, import_token=p.import_token, encrypted_key_material=wrap(p, material)),
    )
    kms.DisableKey(pb.KeyIdRequest(key_id=ext))
    assert kms.DeleteImportedKeyMaterial(pb.KeyIdRequest(key_id=ext)).key_info.key_state == 5
    # Pending deletion: deleting material refused.
    do_import(kms, ext, material)
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=ext, pending_days=7))
    expect_error(PRECONDITION, "KMS.2701", kms.DeleteImportedKeyMaterial, pb.KeyIdRequest(key_id=ext))


def test_cancelled_deletion_of_a_key_without_material_stays_pending_import(proj: Project):
    kms = proj.kms
    ext = external_key(kms)
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=ext, pending_days=7))
    assert kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=ext)).key_state == 5
    # With material it comes back disabled, as every cancelled key does.
    do_import(kms, ext, os.urandom(32))
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=ext, pending_days=7))
    assert kms.CancelKeyDeletion(pb.KeyIdRequest(key_id=ext)).key_state == 3


# -- expiry of the material -------------------------------------------------------------
def test_material_with_expiration_time_is_deleted_when_it_expires(gateway: Gateway, proj: Project, clock):
    kms = proj.kms
    key_id = external_key(kms)
    material = os.urandom(32)
    expires = int(time.time()) + 3600
    info = do_import(kms, key_id, material, expiration_time=expires)
    assert (info.key_state, info.expiration_time) == (2, expires * 1000)
    assert kms.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info.expiration_time == expires * 1000
    enc = kms.EncryptData(pb.EncryptDataRequest(key_id=key_id, plain_text=b"short-lived"))

    expired, _ = gateway.call(gateway.rt.kms.import_sweep())
    assert key_id not in expired  # not yet
    clock.advance(3601)
    expired, _ = gateway.call(gateway.rt.kms.import_sweep())
    assert key_id in expired
    late = gateway.stub(gateway.token(proj.project_id))
    info = late.DescribeKey(pb.KeyIdRequest(key_id=key_id)).key_info
    assert (info.key_state, info.expiration_time) == (5, 0)
    assert token_object(gateway, f"{key_id}:v1") is None
    expect_error(PRECONDITION, "KMS.0310", late.DecryptData, pb.DecryptDataRequest(cipher_text=enc.cipher_text))
    # The same material, imported again (without expiry), opens the old ciphertext.
    do_import(late, key_id, material)
    assert late.DecryptData(pb.DecryptDataRequest(cipher_text=enc.cipher_text)).plain_text == b"short-lived"


def test_external_key_rows_keep_their_origin(gateway: Gateway, proj: Project):
    key_id = external_key(proj.kms)
    rec = gateway.rt.store.get_key_by_id(key_id)
    assert (rec.origin, int(rec.key_state)) == ("external", 5)
    listed = proj.kms.ListKeys(pb.ListKeysRequest(key_state=5))
    assert key_id in listed.keys


# -- REST, driven by the official SDK ---------------------------------------------------
@pytest.fixture(scope="module")
def sdk(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory):
    from tests.support.rest import sdk_client

    creds = gateway.credentials(uuid.uuid4().hex)
    return sdk_client(gateway.rest_url, creds, str(tmp_path_factory.mktemp("sdk-home-byok")))


def test_sdk_import_cycle(sdk, software_oaep):
    import base64

    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkkms.v2 import model as m

    key_id = sdk.create_key(
        m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=alias(), origin="external"))
    ).key_info.key_id
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id))).key_info
    assert (info.key_state, info.origin) == ("5", "external")
    # The SDK's documented wrapping algorithm is RSAES_OAEP_SHA_256.
    p = sdk.create_parameters_for_import(
        m.CreateParametersForImportRequest(
            body=m.GetParametersForImportRequestBody(key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256")
        )
    )
    assert p.key_id == key_id and isinstance(p.expiration_time, int)
    pub = serialization.load_der_public_key(base64.b64decode(p.public_key))
    material = os.urandom(32)
    h = hashes.SHA256()
    wrapped = pub.encrypt(material, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))

    def import_body(**kw):
        base = dict(
            key_id=key_id, import_token=p.import_token, encrypted_key_material=base64.b64encode(wrapped).decode()
        )
        base.update(kw)
        return m.ImportKeyMaterialRequest(body=m.ImportKeyMaterialRequestBody(**base))

    with pytest.raises(ClientRequestException) as err:
        sdk.import_key_material(import_body(expiration_time=int(time.time()) - 5))
    assert (err.value.status_code, err.value.error_code) == (400, "KMS.2602")
    forged = bytearray(base64.b64decode(p.import_token))
    forged[-1] ^= 1
    with pytest.raises(ClientRequestException) as err:
        sdk.import_key_material(import_body(import_token=base64.b64encode(bytes(forged)).decode()))
    assert (err.value.status_code, err.value.error_code) == (400, "KMS.2605")

    sdk.import_key_material(import_body(expiration_time=int(time.time()) + 7 * DAY))
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id))).key_info
    assert info.key_state == "2"
    enc = sdk.encrypt_data(m.EncryptDataRequest(body=m.EncryptDataRequestBody(key_id=key_id, plain_text="byok")))
    assert open_with(material, base64.b64decode(enc.cipher_text)) == b"byok"

    sdk.delete_imported_key_material(m.DeleteImportedKeyMaterialRequest(body=m.OperateKeyRequestBody(key_id=key_id)))
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=m.OperateKeyRequestBody(key_id=key_id))).key_info
    assert info.key_state == "5"
    with pytest.raises(ClientRequestException) as err:
        sdk.delete_imported_key_material(
            m.DeleteImportedKeyMaterialRequest(body=m.OperateKeyRequestBody(key_id=key_id))
        )
    assert (err.value.status_code, err.value.error_code) == (400, "KMS.2701")
    sdk.import_key_material(import_body())
    dec = sdk.decrypt_data(m.DecryptDataRequest(body=m.DecryptDataRequestBody(cipher_text=enc.cipher_text)))
    assert dec.plain_text == "byok"
