"""A module with ``@pytest.mark.kmsgw(config=...)``: a gateway of its own, its settings, its restart."""

from __future__ import annotations

import grpc
import pytest
from huaweicloudsdkkms.v2.model import ListKeysRequest, ListKeysRequestBody

from gateway.client import KmsClientError

pytestmark = pytest.mark.kmsgw(config={"error_dialect": "secondary"})


def test_the_module_gateway_speaks_the_configured_dialect(kms_client, kms_project, kms_gateway) -> None:
    assert kms_project.gateway is not kms_gateway
    with pytest.raises(KmsClientError) as err:
        kms_client.describe_key("00000000-0000-4000-8000-000000000000")
    assert (err.value.status, err.value.code) == (grpc.StatusCode.NOT_FOUND, "KMS.0301")  # primary says KMS.0207


def test_restart_keeps_keys_credentials_and_ports(kms_project, kms_key, kms_client) -> None:
    gateway = kms_project.gateway
    key = kms_key()
    sealed = kms_client.encrypt_data(key.key_id, b"before the restart").cipher_text
    target = gateway.grpc_target
    gateway.restart()
    assert gateway.grpc_target == target
    assert kms_client.decrypt_data(sealed).plain_text == b"before the restart"  # the client reconnects by itself
    listed = kms_project.sdk().list_keys(ListKeysRequest(body=ListKeysRequestBody(limit="10")))
    assert listed.keys == [key.key_id]  # the AK/SK still signs, the key is still there
