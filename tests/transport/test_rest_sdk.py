"""The official SDK (``huaweicloudsdkkms.v2``), unmodified, drives every REST operation of the gateway.

The client is built exactly as a user builds it (``with_credentials(BasicCredentials(ak, sk,
project_id)).with_endpoint("http://127.0.0.1:PORT")``) against the real in-process server and a
real SoftHSM2 token; the SDK signs every request with SDK-HMAC-SHA256.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkkms.v2 import model as m

from tests.support.gateway import new_project_id
from tests.support.rest import sdk_client

MISSING_KEY = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("sdk-home"))


@pytest.fixture(scope="module")
def creds(gateway) -> dict[str, str]:
    return gateway.credentials(new_project_id())


@pytest.fixture(scope="module")
def sdk(gateway, creds, home):
    return sdk_client(gateway.rest_url, creds, home)


def _alias() -> str:
    return f"sdk-{uuid.uuid4().hex[:12]}"


def _create_key(sdk) -> str:
    resp = sdk.create_key(m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=_alias())))
    return resp.key_info.key_id


def _op(key_id: str) -> m.OperateKeyRequestBody:
    return m.OperateKeyRequestBody(key_id=key_id)


def _sdk_error(fn, *args) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as info:
        fn(*args)
    err = info.value
    assert err.request_id, "the SDK reads X-Request-Id into request_id"
    return err


# -- keys ---------------------------------------------------------------------------------------
def test_create_and_describe_key(sdk, creds) -> None:
    alias = _alias()
    created = sdk.create_key(
        m.CreateKeyRequest(
            body=m.CreateKeyRequestBody(
                key_alias=alias,
                key_spec="AES_256",
                key_description='clé ü 鍵 "quoted"',
                sequence=str(uuid.uuid4()),
            )
        )
    )
    assert created.status_code == 200
    key_id = created.key_info.key_id
    assert created.key_info.domain_id == creds["domain_id"]

    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=_op(key_id))).key_info
    assert info.key_id == key_id
    assert info.key_alias == alias
    assert info.key_description == 'clé ü 鍵 "quoted"'
    assert info.key_state == "2"
    assert info.key_spec == "AES_256"
    assert info.key_usage == "ENCRYPT_DECRYPT"
    assert info.origin == "kms"
    assert info.default_key_flag == "0"
    assert info.scheduled_deletion_date == ""
    assert info.key_rotation_enabled == "false"
    assert info.creation_date.isdigit() and len(info.creation_date) == 13  # ms epoch


def test_list_keys_pages(sdk) -> None:
    for _ in range(3):
        _create_key(sdk)
    everything = sdk.list_keys(m.ListKeysRequest())  # no body model: the SDK sends an empty body
    assert everything.total >= 3 and everything.truncated == "false" and everything.next_marker == ""
    first = sdk.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody(limit="2")))
    assert len(first.keys) == 2 and first.truncated == "true" and first.total == everything.total
    second = sdk.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody(limit="2", marker=first.next_marker)))
    assert not set(first.keys) & set(second.keys)
    assert [d.key_id for d in second.key_details] == second.keys
    enabled = sdk.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody(key_state="2")))
    assert all(d.key_state == "2" for d in enabled.key_details)


def test_enable_disable(sdk) -> None:
    key_id = _create_key(sdk)
    out = sdk.disable_key(m.DisableKeyRequest(body=_op(key_id)))
    assert (out.key_info.key_id, out.key_info.key_state) == (key_id, "3")
    err = _sdk_error(sdk.disable_key, m.DisableKeyRequest(body=_op(key_id)))
    assert (err.status_code, err.error_code) == (400, "KMS.1301")
    out = sdk.enable_key(m.EnableKeyRequest(body=_op(key_id)))
    assert (out.key_info.key_id, out.key_info.key_state) == (key_id, "2")
    err = _sdk_error(sdk.enable_key, m.EnableKeyRequest(body=_op(key_id)))
    assert (err.status_code, err.error_code) == (400, "KMS.1201")


def test_schedule_and_cancel_deletion(sdk) -> None:
    key_id = _create_key(sdk)
    out = sdk.delete_key(m.DeleteKeyRequest(body=m.ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7")))
    assert (out.key_id, out.key_state) == (key_id, "4")
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=_op(key_id))).key_info
    assert info.key_state == "4" and info.scheduled_deletion_date.isdigit()
    err = _sdk_error(
        sdk.delete_key, m.DeleteKeyRequest(body=m.ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days="7"))
    )
    assert (err.status_code, err.error_code) == (400, "KMS.1402")
    out = sdk.cancel_key_deletion(m.CancelKeyDeletionRequest(body=_op(key_id)))
    assert (out.key_id, out.key_state) == (key_id, "3")
    err = _sdk_error(sdk.cancel_key_deletion, m.CancelKeyDeletionRequest(body=_op(key_id)))
    assert (err.status_code, err.error_code) == (400, "KMS.1501")


def test_schedule_deletion_range(sdk) -> None:
    key_id = _create_key(sdk)
    for days in ("6", "1097"):
        err = _sdk_error(
            sdk.delete_key, m.DeleteKeyRequest(body=m.ScheduleKeyDeletionRequestBody(key_id=key_id, pending_days=days))
        )
        assert (err.status_code, err.error_code) == (400, "KMS.1401")


def test_update_alias_and_description(sdk) -> None:
    key_id = _create_key(sdk)
    alias = _alias()
    out = sdk.update_key_alias(
        m.UpdateKeyAliasRequest(body=m.UpdateKeyAliasRequestBody(key_id=key_id, key_alias=alias))
    )
    assert (out.key_info.key_id, out.key_info.key_alias) == (key_id, alias)
    out = sdk.update_key_description(
        m.UpdateKeyDescriptionRequest(body=m.UpdateKeyDescriptionRequestBody(key_id=key_id, key_description="new"))
    )
    assert (out.key_info.key_id, out.key_info.key_description) == (key_id, "new")
    info = sdk.list_key_detail(m.ListKeyDetailRequest(body=_op(key_id))).key_info
    assert (info.key_alias, info.key_description) == (alias, "new")

    other = _create_key(sdk)
    err = _sdk_error(
        sdk.update_key_alias, m.UpdateKeyAliasRequest(body=m.UpdateKeyAliasRequestBody(key_id=other, key_alias=alias))
    )
    assert (err.status_code, err.error_code) == (400, "KMS.1104")
    err = _sdk_error(
        sdk.update_key_alias,
        m.UpdateKeyAliasRequest(body=m.UpdateKeyAliasRequestBody(key_id=other, key_alias="svc/default")),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.1101")
    err = _sdk_error(
        sdk.update_key_description,
        m.UpdateKeyDescriptionRequest(body=m.UpdateKeyDescriptionRequestBody(key_id=other, key_description="x" * 256)),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.1103")


# -- random, data keys, data --------------------------------------------------------------------
def test_create_random(sdk) -> None:
    out = sdk.create_random(m.CreateRandomRequest(body=m.GenRandomRequestBody(random_data_length="512")))
    assert len(out.random_data) == 128 and bytes.fromhex(out.random_data)
    other = sdk.create_random(m.CreateRandomRequest(body=m.GenRandomRequestBody(random_data_length="8")))
    assert len(other.random_data) == 2
    for bad in ("7", "0", "8200"):
        err = _sdk_error(sdk.create_random, m.CreateRandomRequest(body=m.GenRandomRequestBody(random_data_length=bad)))
        assert (err.status_code, err.error_code) == (400, "KMS.1801")


def test_data_key_round_trip(sdk) -> None:
    key_id = _create_key(sdk)
    aad = "orders:v1"
    made = sdk.create_datakey(
        m.CreateDatakeyRequest(
            body=m.CreateDatakeyRequestBody(key_id=key_id, datakey_length="512", additional_authenticated_data=aad)
        )
    )
    assert made.key_id == key_id
    dek = bytes.fromhex(made.plain_text)
    assert len(dek) == 64

    opened = sdk.decrypt_datakey(
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(
                key_id=key_id,
                cipher_text=made.cipher_text,
                datakey_cipher_length="64",
                additional_authenticated_data=aad,
            )
        )
    )
    assert bytes.fromhex(opened.data_key) == dek
    assert opened.datakey_length == "64"
    assert opened.datakey_dgst.lower() == hashlib.sha256(dek).hexdigest()

    err = _sdk_error(
        sdk.decrypt_datakey,
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(
                key_id=key_id,
                cipher_text=made.cipher_text,
                datakey_cipher_length="64",
                additional_authenticated_data="x",
            )
        ),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.2201")


def test_data_key_without_plaintext_and_key_spec(sdk) -> None:
    key_id = _create_key(sdk)
    out = sdk.create_datakey_without_plaintext(
        m.CreateDatakeyWithoutPlaintextRequest(body=m.CreateDatakeyRequestBody(key_id=key_id, key_spec="AES_128"))
    )
    assert out.key_id == key_id and bytes.fromhex(out.cipher_text)
    opened = sdk.decrypt_datakey(
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(key_id=key_id, cipher_text=out.cipher_text, datakey_cipher_length="16")
        )
    )
    assert opened.datakey_length == "16"
    default = sdk.create_datakey(m.CreateDatakeyRequest(body=m.CreateDatakeyRequestBody(key_id=key_id)))
    assert len(bytes.fromhex(default.plain_text)) == 32
    err = _sdk_error(
        sdk.create_datakey_without_plaintext,
        m.CreateDatakeyWithoutPlaintextRequest(body=m.CreateDatakeyRequestBody(key_id=key_id, datakey_length="12")),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.2001")
    err = _sdk_error(
        sdk.create_datakey, m.CreateDatakeyRequest(body=m.CreateDatakeyRequestBody(key_id=key_id, datakey_length="12"))
    )
    assert (err.status_code, err.error_code) == (400, "KMS.1901")


def test_encrypt_and_decrypt_datakey(sdk) -> None:
    key_id = _create_key(sdk)
    dek = os.urandom(64)
    plain = (dek + hashlib.sha256(dek).digest()).hex()
    out = sdk.encrypt_datakey(
        m.EncryptDatakeyRequest(
            body=m.EncryptDatakeyRequestBody(key_id=key_id, plain_text=plain, datakey_plain_length="64")
        )
    )
    assert out.key_id == key_id and out.datakey_length == "64"
    opened = sdk.decrypt_datakey(
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(key_id=key_id, cipher_text=out.cipher_text, datakey_cipher_length="64")
        )
    )
    assert bytes.fromhex(opened.data_key) == dek

    bad_digest = (dek + bytes(32)).hex()
    err = _sdk_error(
        sdk.encrypt_datakey,
        m.EncryptDatakeyRequest(
            body=m.EncryptDatakeyRequestBody(key_id=key_id, plain_text=bad_digest, datakey_plain_length="64")
        ),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.2103")
    err = _sdk_error(
        sdk.encrypt_datakey,
        m.EncryptDatakeyRequest(
            body=m.EncryptDatakeyRequestBody(key_id=key_id, plain_text=plain, datakey_plain_length="1025")
        ),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.2102")
    err = _sdk_error(
        sdk.decrypt_datakey,
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(key_id=key_id, cipher_text=out.cipher_text, datakey_cipher_length="0")
        ),
    )
    assert (err.status_code, err.error_code) == (400, "KMS.2202")


def test_encrypt_and_decrypt_data(sdk) -> None:
    key_id = _create_key(sdk)
    text = "12345678 — ü 鍵"
    out = sdk.encrypt_data(
        m.EncryptDataRequest(
            body=m.EncryptDataRequestBody(key_id=key_id, plain_text=text, additional_authenticated_data="a")
        )
    )
    assert out.key_id == key_id and base64.b64decode(out.cipher_text, validate=True)
    back = sdk.decrypt_data(
        m.DecryptDataRequest(
            body=m.DecryptDataRequestBody(cipher_text=out.cipher_text, additional_authenticated_data="a")
        )
    )
    assert back.key_id == key_id
    assert back.plain_text == text
    assert base64.b64decode(back.plain_text_base64) == text.encode()
    with_key = sdk.decrypt_data(
        m.DecryptDataRequest(
            body=m.DecryptDataRequestBody(cipher_text=out.cipher_text, key_id=key_id, additional_authenticated_data="a")
        )
    )
    assert with_key.plain_text == text
    err = _sdk_error(sdk.decrypt_data, m.DecryptDataRequest(body=m.DecryptDataRequestBody(cipher_text=out.cipher_text)))
    assert (err.status_code, err.error_code) == (400, "KMS.0308")
    err = _sdk_error(
        sdk.encrypt_data, m.EncryptDataRequest(body=m.EncryptDataRequestBody(key_id=key_id, plain_text="x" * 4097))
    )
    assert (err.status_code, err.error_code) == (400, "KMS.0308")


def test_disabled_key_cannot_be_used(sdk) -> None:
    key_id = _create_key(sdk)
    sdk.disable_key(m.DisableKeyRequest(body=_op(key_id)))
    err = _sdk_error(sdk.create_datakey, m.CreateDatakeyRequest(body=m.CreateDatakeyRequestBody(key_id=key_id)))
    assert (err.status_code, err.error_code) == (400, "KMS.0209")


# -- counts and quotas --------------------------------------------------------------------------
def test_user_instances_and_quotas(gateway, home) -> None:
    sdk = sdk_client(gateway.rest_url, gateway.credentials(new_project_id()), home)
    assert sdk.show_user_instances(m.ShowUserInstancesRequest()).instance_num == 0
    _create_key(sdk)
    _create_key(sdk)
    assert sdk.show_user_instances(m.ShowUserInstancesRequest()).instance_num == 2
    quotas = sdk.show_user_quotas(m.ShowUserQuotasRequest()).quotas.resources
    by_type = {r.type: r for r in quotas}
    assert by_type["CMK"].used == 2 and by_type["CMK"].quota == gateway.rt.config.cmk_quota
    assert isinstance(by_type["grant_per_CMK"].quota, int)


# -- errors as the SDK sees them ----------------------------------------------------------------
def test_missing_key_is_404(sdk) -> None:
    err = _sdk_error(sdk.list_key_detail, m.ListKeyDetailRequest(body=_op(MISSING_KEY)))
    assert (err.status_code, err.error_code) == (404, "KMS.0207")
    assert err.error_msg == "The key does not exist."


def test_malformed_key_id(sdk) -> None:
    err = _sdk_error(sdk.enable_key, m.EnableKeyRequest(body=_op("not-a-key")))
    assert (err.status_code, err.error_code) == (400, "KMS.0205")


def test_missing_parameter(sdk) -> None:
    err = _sdk_error(sdk.create_key, m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_description="no alias")))
    assert (err.status_code, err.error_code) == (400, "KMS.0204")


def test_bad_sequence(sdk) -> None:
    err = _sdk_error(
        sdk.create_key, m.CreateKeyRequest(body=m.CreateKeyRequestBody(key_alias=_alias(), sequence="short"))
    )
    assert (err.status_code, err.error_code) == (400, "KMS.0206")


def test_wrong_secret_is_rejected(gateway, creds, home) -> None:
    forged = dict(creds, secret_key=creds["secret_key"][::-1])
    sdk = sdk_client(gateway.rest_url, forged, home)
    err = _sdk_error(sdk.list_keys, m.ListKeysRequest())
    assert (err.status_code, err.error_code) == (403, "KMS.0302")


def test_other_project_in_path_is_403(gateway, creds, home) -> None:
    sdk = sdk_client(gateway.rest_url, creds, home, project_id=new_project_id())
    err = _sdk_error(sdk.list_keys, m.ListKeysRequest())
    assert (err.status_code, err.error_code) == (403, "KMS.0305")


def test_list_keys_errors(sdk) -> None:
    err = _sdk_error(sdk.list_keys, m.ListKeysRequest(body=m.ListKeysRequestBody(limit="many")))
    assert (err.status_code, err.error_code) == (400, "KMS.1601")
    err = _sdk_error(sdk.list_keys, m.ListKeysRequest(body=m.ListKeysRequestBody(marker="-1")))
    assert (err.status_code, err.error_code) == (400, "KMS.1602")


def test_counts_refuse_another_project(gateway, creds, home) -> None:
    sdk = sdk_client(gateway.rest_url, creds, home, project_id=new_project_id())
    for call, request in (
        (sdk.show_user_instances, m.ShowUserInstancesRequest()),
        (sdk.show_user_quotas, m.ShowUserQuotasRequest()),
    ):
        err = _sdk_error(call, request)
        assert (err.status_code, err.error_code) == (403, "KMS.0305")
