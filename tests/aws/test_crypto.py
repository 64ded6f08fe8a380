"""Encrypt, Decrypt, ReEncrypt, data keys, random, Sign/Verify/GetPublicKey and key import through boto3:
the semantics SDKs check (ARNs in answers, Decrypt without KeyId, IncorrectKeyException, the
encryption context bound exactly, tampered blobs), and a key disabled on the REST API refused here."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from tests.aws.conftest import ACCOUNT, AwsGateway
from tests.aws.test_keys import error


def test_encrypt_decrypt_without_key_id(kms: Any, key: dict[str, Any]) -> None:
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"a": "1", "b": "2"})
    assert (out["KeyId"], out["EncryptionAlgorithm"]) == (key["Arn"], "SYMMETRIC_DEFAULT")
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2", "a": "1"})  # any order
    assert (back["Plaintext"], back["KeyId"]) == (b"secret", key["Arn"])
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=key["Arn"], EncryptionContext={"a": "1", "b": "2"})


@pytest.mark.parametrize(
    "context",
    [{}, {"a": "1"}, {"A": "1", "b": "2"}, {"a": "1", "b": "2", "c": "3"}, {"a": "12", "b": "2"}],
)
def test_context_is_bound_exactly(kms: Any, key: dict[str, Any], context: dict[str, str]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "1", "b": "2"})["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert error(exc) == ("InvalidCiphertextException", 400, "")


def test_context_encoding_is_unambiguous(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"ab": "c"})["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "bc"})
    assert error(exc)[0] == "InvalidCiphertextException"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"ab": "c"})["Plaintext"] == b"x"


def test_incorrect_key_and_tampered_blobs(kms: Any, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"payload")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"])
    assert error(exc)[:2] == ("IncorrectKeyException", 400)
    for i in (0, 1, 5, 20, 30, len(blob) - 1):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=bytes(bad))
        assert error(exc)[0] in ("InvalidCiphertextException", "NotFoundException"), i
    for bad in (blob[:-1], blob[:10], os.urandom(64)):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=bad)
        assert error(exc)[0] == "InvalidCiphertextException"


def test_generate_data_key(kms: Any, key: dict[str, Any]) -> None:
    for kwargs, size in (({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 1}, 1)):
        out = kms.generate_data_key(KeyId=key["Arn"], EncryptionContext={"p": "q"}, **kwargs)
        assert len(out["Plaintext"]) == size and out["KeyId"] == key["Arn"]
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"p": "q"})
        assert back["Plaintext"] == out["Plaintext"]
    out = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=1024)
    assert len(out["Plaintext"]) == 1024
    wo = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in wo and len(kms.decrypt(CiphertextBlob=wo["CiphertextBlob"])["Plaintext"]) == 32
    for kwargs in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(ClientError) as exc:
            kms.generate_data_key(KeyId=key["KeyId"], **kwargs)
        assert error(exc)[:2] == ("ValidationException", 400)


def test_re_encrypt(kms: Any, key: dict[str, Any]) -> None:
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"s": "1"})["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dest["KeyId"], SourceEncryptionContext={"s": "2"})
    assert error(exc)[0] == "InvalidCiphertextException"
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"s": "1"},
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"d": "1"},
    )
    assert (out["SourceKeyId"], out["KeyId"]) == (key["Arn"], dest["Arn"])
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"d": "1"})
    assert (back["Plaintext"], back["KeyId"]) == (b"move me", dest["Arn"])


def test_generate_random(kms: Any) -> None:
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024


def test_a_recipient_is_refused_not_ignored(kms: Any, key: dict[str, Any]) -> None:
    """A Nitro Enclave recipient expects the plaintext sealed to it: never answered in clear."""
    recipient = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"attestation"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    for call in (
        lambda: kms.decrypt(CiphertextBlob=blob, Recipient=recipient),
        lambda: kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", Recipient=recipient),
        lambda: kms.generate_random(NumberOfBytes=8, Recipient=recipient),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("UnsupportedOperationException", 400)


def test_sign_verify_public_key(kms: Any) -> None:
    meta = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512"]
    sig = kms.sign(KeyId=meta["KeyId"], Message=b"hello", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    assert sig["KeyId"] == meta["Arn"]
    der = kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"]
    public = serialization.load_der_public_key(der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(sig["Signature"], b"hello", ec.ECDSA(hashes.SHA256()))
    ok = kms.verify(
        KeyId=meta["KeyId"],
        Message=b"hello",
        MessageType="RAW",
        Signature=sig["Signature"],
        SigningAlgorithm="ECDSA_SHA_256",
    )
    assert ok["SignatureValid"] is True
    with pytest.raises(ClientError) as exc:
        kms.verify(
            KeyId=meta["KeyId"],
            Message=b"other",
            MessageType="RAW",
            Signature=sig["Signature"],
            SigningAlgorithm="ECDSA_SHA_256",
        )
    assert error(exc)[:2] == ("KMSInvalidSignatureException", 400)
    digest = hashlib.sha256(b"hello").digest()
    assert kms.sign(KeyId=meta["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=meta["KeyId"], Message=digest[:31], MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert error(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.sign(KeyId=meta["KeyId"], Message=b"x", MessageType="RAW", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert error(exc)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error(exc)[0] == "InvalidKeyUsageException"


def test_rsa_sign_and_encrypt(kms: Any) -> None:
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sig = kms.sign(KeyId=signing["KeyId"], Message=b"m", MessageType="RAW", SigningAlgorithm="RSASSA_PSS_SHA_256")
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=signing["KeyId"])["PublicKey"])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    public.verify(sig["Signature"], b"m", pss, hashes.SHA256())  # type: ignore[union-attr,call-arg]
    crypt = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert crypt["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    out = kms.encrypt(KeyId=crypt["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    back = kms.decrypt(
        CiphertextBlob=out["CiphertextBlob"], KeyId=crypt["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert back["Plaintext"] == b"rsa"


def test_import_key_material(kms: Any) -> None:
    meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"]) == ("EXTERNAL", "PendingImport")
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")
    assert error(exc)[:2] == ("KMSInvalidStateException", 400)
    params = kms.get_parameters_for_import(
        KeyId=meta["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
    )
    wrapping = serialization.load_der_public_key(params["PublicKey"])
    material = os.urandom(32)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    wrapped = wrapping.encrypt(material, oaep)  # type: ignore[union-attr,call-arg]
    kms.import_key_material(
        KeyId=meta["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    described = kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]
    assert (described["KeyState"], described["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    assert kms.delete_imported_key_material(KeyId=meta["KeyId"])["KeyId"] == meta["Arn"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert error(exc)[0] == "KMSInvalidStateException"


def test_key_disabled_on_rest_is_refused_here(aws_gateway: AwsGateway, kms: Any, key: dict[str, Any]) -> None:
    rest = aws_gateway.rest(f"aws-{ACCOUNT}")
    try:
        assert rest.ok("/disable-key", {"key_id": key["KeyId"]})["key_info"]["key_state"] == "3"
        for call in (
            lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"),
            lambda: kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32),
        ):
            with pytest.raises(ClientError) as exc:
                call()
            assert error(exc)[:2] == ("DisabledException", 400)
        assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    finally:
        rest.close()
