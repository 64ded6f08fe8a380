"""KeyMetadata and the other records as AWS spells them (botocore's service model): the one place the
gateway's key rows become AWS's fields. Times are epoch seconds (JSON 1.1 timestamps)."""

from __future__ import annotations

from typing import Any

from gateway.core.asymmetric import SIGNING_ALGORITHMS
from gateway.core.aws.access import AwsKey
from gateway.core.aws.keys import GATEWAY_TO_AWS_SPEC
from gateway.core.keyspecs import KeyFamily, family
from gateway.core.model import KeyState, KeyUsage, Origin
from gateway.core.ports.store import AwsGrantRow

KEY_STATES = {
    KeyState.PENDING_ACTIVATION: "Creating",
    KeyState.ENABLED: "Enabled",
    KeyState.DISABLED: "Disabled",
    KeyState.PENDING_DELETION: "PendingDeletion",
    KeyState.PENDING_IMPORT: "PendingImport",
}
RSA_ENCRYPTION = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]


def seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def algorithms(key: AwsKey) -> dict[str, list[str]]:
    rec = key.rec
    if rec.key_type == 1:
        return {"EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]}
    fam = family(rec.key_spec)
    if rec.key_usage == KeyUsage.ENCRYPT_DECRYPT:
        return {"EncryptionAlgorithms": RSA_ENCRYPTION if fam == KeyFamily.RSA else []}
    return {"SigningAlgorithms": [name for name, (f, _, _) in SIGNING_ALGORITHMS.items() if f == fam]}


def key_metadata(key: AwsKey) -> dict[str, Any]:
    rec, row = key.rec, key.row
    spec = GATEWAY_TO_AWS_SPEC.get(rec.key_spec, str(rec.key_spec))
    external = rec.origin == Origin.EXTERNAL
    meta: dict[str, Any] = {
        "AWSAccountId": row.account_id,
        "KeyId": rec.key_id,
        "Arn": key.arn,
        "CreationDate": seconds(rec.creation_date),
        "Enabled": rec.key_state == KeyState.ENABLED,
        "Description": rec.key_description,
        "KeyUsage": str(rec.key_usage),
        "KeyState": KEY_STATES[rec.key_state],
        "DeletionDate": seconds(rec.scheduled_deletion_date) if rec.key_state == KeyState.PENDING_DELETION else None,
        "Origin": "EXTERNAL" if external else "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": spec,
        "KeySpec": spec,
        "MultiRegion": False,
        **algorithms(key),
    }
    if external and rec.key_state != KeyState.PENDING_IMPORT:
        meta["ExpirationModel"] = "KEY_MATERIAL_EXPIRES" if rec.expiration_time else "KEY_MATERIAL_DOES_NOT_EXPIRE"
        meta["ValidTo"] = seconds(rec.expiration_time)
    return {k: v for k, v in meta.items() if v is not None}


def grant_entry(grant: AwsGrantRow, key_arn: str) -> dict[str, Any]:
    import json

    entry: dict[str, Any] = {
        "KeyId": key_arn,
        "GrantId": grant.grant_id,
        "Name": grant.name or None,
        "CreationDate": seconds(grant.created_at),
        "GranteePrincipal": grant.grantee_principal,
        "RetiringPrincipal": grant.retiring_principal or None,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
        "Constraints": json.loads(grant.constraints) if grant.constraints else None,
    }
    return {k: v for k, v in entry.items() if v is not None}
