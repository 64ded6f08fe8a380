"""The AWS side of the core in one object: what the AWS transport is handed (beside ``Services``).

It composes the directory (who calls), the access rules (which key, may they), and one collaborator
per operation group; key import (GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial)
is the core's own bring-your-own-key (gateway/core/byok.py: C_UnwrapKey into the token) behind the
AWS access rules. ``reset`` wipes the AWS side of a test gateway (``POST /moto-api/reset``).
"""

from __future__ import annotations

from gateway.core.aws.access import AwsAccess, AwsKey
from gateway.core.aws.aliases_grants import AwsAliases, AwsGrants
from gateway.core.aws.crypto import AwsCrypto
from gateway.core.aws.directory import AwsDirectory, AwsIdentity
from gateway.core.aws.errors import AwsError, AwsName, validation
from gateway.core.aws.keys import AwsKeys
from gateway.core.byok import ImportParameters
from gateway.core.ports.hsm import key_label
from gateway.core.service import Kms

WRAPPING_ALGORITHMS = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")


class AwsService:
    def __init__(self, kms: Kms, *, test_mode: bool = False, hsm_start_timeout_s: float | None = None) -> None:
        self.kms = kms
        self.test_mode = test_mode
        store, hsm, clock = kms.store, kms.hsm, kms.clock
        self.directory = AwsDirectory(store, hsm, clock, test_mode=test_mode)
        self.access = AwsAccess(store, kms.key_access, self.directory)
        self.keys = AwsKeys(kms, store, self.access, clock)
        self.crypto = AwsCrypto(kms, hsm, self.access, self.directory, hsm_start_timeout_s)
        self.aliases = AwsAliases(store, self.access, clock)
        self.grants = AwsGrants(store, self.access, clock)

    # -- bring your own key ------------------------------------------------------------------------
    async def get_parameters_for_import(
        self, who: AwsIdentity, key_id: str, wrapping_algorithm: str, wrapping_key_spec: str
    ) -> tuple[AwsKey, ImportParameters]:
        key = self._external(who, key_id, "kms:GetParametersForImport")
        if wrapping_key_spec != "RSA_2048" or wrapping_algorithm not in WRAPPING_ALGORITHMS:
            raise AwsError(
                AwsName.UNSUPPORTED_OPERATION,
                "This gateway imports with WrappingKeySpec RSA_2048 and RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.",
            )
        return key, await self.kms.get_parameters_for_import(key.owner(who), key.key_id, wrapping_algorithm)

    async def import_key_material(
        self,
        who: AwsIdentity,
        key_id: str,
        import_token: bytes,
        material: bytes,
        valid_to_s: int | None,
        expiration_model: str | None,
    ) -> AwsKey:
        key = self._external(who, key_id, "kms:ImportKeyMaterial")
        model = expiration_model or (
            "KEY_MATERIAL_EXPIRES" if valid_to_s is not None else "KEY_MATERIAL_DOES_NOT_EXPIRE"
        )
        if (model == "KEY_MATERIAL_EXPIRES") != (valid_to_s is not None):
            raise validation(
                "ValidTo is required with KEY_MATERIAL_EXPIRES and refused with KEY_MATERIAL_DOES_NOT_EXPIRE."
            )
        key.rec = await self.kms.import_key_material(key.owner(who), key.key_id, import_token, material, valid_to_s)
        return key

    async def delete_imported_key_material(self, who: AwsIdentity, key_id: str) -> AwsKey:
        key = self._external(who, key_id, "kms:DeleteImportedKeyMaterial")
        key.rec = await self.kms.delete_imported_key_material(key.owner(who), key.key_id)
        return key

    def _external(self, who: AwsIdentity, key_id: str, action: str) -> AwsKey:
        key = self.access.key(who, key_id, cached=False)
        self.access.authorize(who, key, action)
        if key.rec.origin != "external":
            raise AwsError(AwsName.UNSUPPORTED_OPERATION, f"{key.arn} has no imported key material (Origin AWS_KMS).")
        return key

    # -- test mode -----------------------------------------------------------------------------
    async def reset(self) -> int:
        """Destroy every key the AWS API made, with its token objects, aliases and grants; how many."""
        store = self.kms.store
        key_ids = store.aws_key_ids()
        for key_id in key_ids:
            labels = [key_label(key_id, v) for v in store.key_versions(key_id) or [1]]
            store.delete_key(key_id)
            await self.kms.hsm.destroy(labels)
        return len(key_ids)
