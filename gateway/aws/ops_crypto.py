"""Cryptography: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext), GenerateRandom,
Sign, Verify, GetPublicKey. Every KeyId these answer is the key ARN."""

from __future__ import annotations

from typing import Any

from gateway.aws.metadata import algorithms
from gateway.aws.routing import handles
from gateway.core import operations as ops
from gateway.core.aws import AwsService
from gateway.core.aws.directory import AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName
from gateway.core.aws.keys import GATEWAY_TO_AWS_SPEC

Req = dict[str, Any]
Resp = dict[str, Any]


def _dry_run(req: Req) -> None:
    """DryRun: everything was checked (authorization, key state); AWS answers this instead of working."""
    if req.get("DryRun"):
        raise AwsError(AwsName.DRY_RUN, "The request would have succeeded, but the DryRun flag is set.")


def _no_recipient(req: Req) -> None:
    """Recipient (a Nitro Enclave's attestation document) asks for the plaintext sealed to the enclave
    instead of returned: answering it in clear would leak what the caller meant to protect."""
    if req.get("Recipient"):
        raise AwsError(AwsName.UNSUPPORTED_OPERATION, "Recipient (Nitro Enclaves attestation) is not supported.")


@handles("Encrypt", ops.AWS_ENCRYPT)
async def encrypt(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    context = req.get("EncryptionContext") or {}
    if req.get("DryRun"):
        aws.access.authorize(who, aws.access.key(who, req["KeyId"]), "kms:Encrypt", context, "Encrypt")
        _dry_run(req)
    blob, key, algorithm = await aws.crypto.encrypt(
        who, req["KeyId"], req["Plaintext"], context, req.get("EncryptionAlgorithm")
    )
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


@handles("Decrypt", ops.AWS_DECRYPT)
async def decrypt(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    _no_recipient(req)
    opened = await aws.crypto.decrypt(
        who, req["CiphertextBlob"], req.get("EncryptionContext") or {}, req.get("KeyId"), req.get("EncryptionAlgorithm")
    )
    _dry_run(req)
    return {"KeyId": opened.key.arn, "Plaintext": opened.plaintext, "EncryptionAlgorithm": opened.algorithm}


@handles("ReEncrypt", ops.AWS_RE_ENCRYPT)
async def re_encrypt(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    blob, opened, dest, algorithm = await aws.crypto.re_encrypt(
        who,
        req["CiphertextBlob"],
        req.get("SourceEncryptionContext") or {},
        req.get("SourceKeyId"),
        req.get("SourceEncryptionAlgorithm"),
        req["DestinationKeyId"],
        req.get("DestinationEncryptionContext") or {},
        req.get("DestinationEncryptionAlgorithm"),
    )
    _dry_run(req)
    return {
        "CiphertextBlob": blob,
        "SourceKeyId": opened.key.arn,
        "KeyId": dest.arn,
        "SourceEncryptionAlgorithm": opened.algorithm,
        "DestinationEncryptionAlgorithm": algorithm,
    }


async def _data_key(aws: AwsService, who: AwsIdentity, req: Req, *, with_plaintext: bool) -> Resp:
    _no_recipient(req)
    plain, blob, key = await aws.crypto.generate_data_key(
        who,
        req["KeyId"],
        req.get("EncryptionContext") or {},
        req.get("NumberOfBytes"),
        req.get("KeySpec"),
        with_plaintext=with_plaintext,
    )
    _dry_run(req)
    out: Resp = {"CiphertextBlob": blob, "KeyId": key.arn}
    if with_plaintext:
        out["Plaintext"] = plain
    return out


@handles("GenerateDataKey", ops.AWS_GENERATE_DATA_KEY)
async def generate_data_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return await _data_key(aws, who, req, with_plaintext=True)


@handles("GenerateDataKeyWithoutPlaintext", ops.AWS_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT)
async def generate_data_key_without_plaintext(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    return await _data_key(aws, who, req, with_plaintext=False)


@handles("GenerateRandom", ops.AWS_GENERATE_RANDOM)
async def generate_random(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    _no_recipient(req)
    if req.get("CustomKeyStoreId"):
        raise AwsError(AwsName.UNSUPPORTED_OPERATION, "Custom key stores are not supported by this gateway.")
    return {"Plaintext": await aws.crypto.generate_random(who, req.get("NumberOfBytes"))}


@handles("Sign", ops.AWS_SIGN)
async def sign(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    signature, key = await aws.crypto.sign(
        who, req["KeyId"], req["Message"], req.get("MessageType"), req["SigningAlgorithm"]
    )
    _dry_run(req)
    return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": req["SigningAlgorithm"]}


@handles("Verify", ops.AWS_VERIFY)
async def verify(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    key = await aws.crypto.verify(
        who, req["KeyId"], req["Message"], req.get("MessageType"), req["Signature"], req["SigningAlgorithm"]
    )
    _dry_run(req)
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": req["SigningAlgorithm"]}


@handles("GetPublicKey", ops.AWS_GET_PUBLIC_KEY)
async def get_public_key(aws: AwsService, who: AwsIdentity, req: Req) -> Resp:
    der, key = await aws.crypto.get_public_key(who, req["KeyId"])
    spec = GATEWAY_TO_AWS_SPEC.get(key.rec.key_spec, str(key.rec.key_spec))
    return {
        "KeyId": key.arn,
        "PublicKey": der,
        "CustomerMasterKeySpec": spec,
        "KeySpec": spec,
        "KeyUsage": str(key.rec.key_usage),
        **algorithms(key),
    }
