"""Key administration through the official huaweicloudsdkkms SDK (AK/SK signed REST calls)."""

from __future__ import annotations

from typing import Any

from huaweicloudsdkkms.v2 import model


class KeyAdmin:
    def __init__(self, sdk: Any) -> None:
        self.sdk = sdk  # a huaweicloudsdkkms.v2.KmsClient

    def create(self, alias: str, description: str = "") -> str:
        body = model.CreateKeyRequestBody(key_alias=alias, key_description=description)
        return self.sdk.create_key(model.CreateKeyRequest(body=body)).key_info.key_id

    def state(self, key_id: str) -> str:
        """The key's state as the API reports it ("2" enabled, "3" disabled, "4" pending deletion...)."""
        body = model.OperateKeyRequestBody(key_id=key_id)
        return self.sdk.list_key_detail(model.ListKeyDetailRequest(body=body)).key_info.key_state

    def retire(self, key_id: str, pending_days: int = 7) -> None:
        """Schedule the key's deletion (the KMS destroys it after ``pending_days``)."""
        body = model.ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days=str(pending_days))
        self.sdk.delete_key(model.DeleteKeyRequest(body=body))

    def aliases(self) -> list[str]:
        body = model.ListKeysRequestBody(limit="100")
        keys = self.sdk.list_keys(model.ListKeysRequest(body=body)).key_details or []
        return sorted(k.key_alias for k in keys)

    def exists(self, key_id: str) -> bool:
        body = model.ListKeysRequestBody(limit="1000")
        keys = self.sdk.list_keys(model.ListKeysRequest(body=body)).key_details or []
        return any(k.key_id == key_id for k in keys)
