"""Rotation, grants and tags over REST: the official SDK (AK/SK-signed, unmodified) and raw HTTP.

Two projects each with their own credentials: the owner grants, the grantee uses and retires,
the owner revokes. Raw requests are validated against the committed OpenAPI document.
"""

from __future__ import annotations

import uuid

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkkms.v2 import model as m

from tests.support.gateway import new_project_id
from tests.support.rest import Rest, error_of, sdk_client


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("sdk-home-lifecycle"))


@pytest.fixture(scope="module")
def owner_creds(gateway) -> dict[str, str]:
    return gateway.credentials(new_project_id())


@pytest.fixture(scope="module")
def grantee_creds(gateway) -> dict[str, str]:
    return gateway.credentials(new_project_id())


@pytest.fixture(scope="module")
def owner(gateway, owner_creds, home):
    return sdk_client(gateway.rest_url, owner_creds, home)


@pytest.fixture(scope="module")
def grantee(gateway, grantee_creds, home):
    return sdk_client(gateway.rest_url, grantee_creds, home)


@pytest.fixture
def rest(gateway, owner_creds):
    client = Rest(gateway.rest_url, owner_creds["project_id"], creds=owner_creds)
    yield client
    client.close()


def create_key(sdk) -> str:
    body = m.CreateKeyRequestBody(key_alias=f"rl-{uuid.uuid4().hex[:12]}")
    return sdk.create_key(m.CreateKeyRequest(body=body)).key_info.key_id


def sdk_error(fn, *args) -> tuple[int, str]:
    with pytest.raises(ClientRequestException) as info:
        fn(*args)
    return info.value.status_code, info.value.error_code


def op(key_id: str) -> m.OperateKeyRequestBody:
    return m.OperateKeyRequestBody(key_id=key_id)


# -- rotation -----------------------------------------------------------------------------
def test_rotation_through_the_sdk(owner):
    key_id = create_key(owner)
    before = owner.encrypt_data(m.EncryptDataRequest(body=m.EncryptDataRequestBody(key_id=key_id, plain_text="v1")))

    status = owner.show_key_rotation_status(m.ShowKeyRotationStatusRequest(body=op(key_id)))
    assert (status.key_rotation_enabled, status.rotation_interval, status.number_of_rotations) == (False, 365, 0)
    assert status.last_rotation_time == ""

    describe = m.ListKeyDetailRequest(body=op(key_id))
    assert owner.list_key_detail(describe).key_info.key_rotation_enabled == "false"
    assert owner.enable_key_rotation(m.EnableKeyRotationRequest(body=op(key_id))).status_code == 200
    # describe-key and list-keys show the setting (a "true"/"false" string in KeyDetails).
    assert owner.list_key_detail(describe).key_info.key_rotation_enabled == "true"
    listed = owner.list_keys(m.ListKeysRequest(body=m.ListKeysRequestBody(limit="1000")))
    assert {d.key_id: d.key_rotation_enabled for d in listed.key_details}[key_id] == "true"
    assert sdk_error(owner.enable_key_rotation, m.EnableKeyRotationRequest(body=op(key_id))) == (400, "KMS.2901")
    owner.update_key_rotation_interval(
        m.UpdateKeyRotationIntervalRequest(
            body=m.UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=30)
        )
    )
    for bad in (29, 366):
        req = m.UpdateKeyRotationIntervalRequest(
            body=m.UpdateKeyRotationIntervalRequestBody(key_id=key_id, rotation_interval=bad)
        )
        assert sdk_error(owner.update_key_rotation_interval, req) == (400, "KMS.3001")

    out = owner.rotate_on_demand(m.RotateOnDemandRequest(body=m.RotateOnDemandRequestBody(key_id=key_id)))
    assert out.key_id == key_id
    status = owner.show_key_rotation_status(m.ShowKeyRotationStatusRequest(body=op(key_id)))
    assert (status.key_rotation_enabled, status.rotation_interval, status.number_of_rotations) == (True, 30, 1)
    assert int(status.last_rotation_time) > 0

    after = owner.encrypt_data(m.EncryptDataRequest(body=m.EncryptDataRequestBody(key_id=key_id, plain_text="v2")))
    for sealed, text in ((before, "v1"), (after, "v2")):
        back = owner.decrypt_data(m.DecryptDataRequest(body=m.DecryptDataRequestBody(cipher_text=sealed.cipher_text)))
        assert back.plain_text == text

    owner.disable_key_rotation(m.DisableKeyRotationRequest(body=op(key_id)))
    assert owner.list_key_detail(describe).key_info.key_rotation_enabled == "false"
    assert sdk_error(owner.disable_key_rotation, m.DisableKeyRotationRequest(body=op(key_id))) == (400, "KMS.0313")


def test_rotation_raw_wire(rest):
    key_id = rest.create_key()
    # rotation_interval: a JSON number (the SDK) or a string of digits; anything else is KMS.3001.
    assert rest.ok("/update-key-rotation-interval", {"key_id": key_id, "rotation_interval": "45"}) == {}
    assert error_of(rest.call("/update-key-rotation-interval", {"key_id": key_id, "rotation_interval": "x"})) == (
        400,
        "KMS.3001",
    )
    assert error_of(rest.call("/update-key-rotation-interval", {"key_id": key_id, "rotation_interval": 4.5})) == (
        400,
        "KMS.3001",
    )
    assert error_of(rest.call("/update-key-rotation-interval", {"key_id": key_id})) == (400, "KMS.0204")
    status = rest.ok("/get-key-rotation-status", {"key_id": key_id})
    assert status == {
        "key_rotation_enabled": False,
        "rotation_interval": 45,
        "last_rotation_time": "",
        "number_of_rotations": 0,
    }
    assert rest.ok("/rotate-on-demand", {"key_id": key_id}) == {"key_id": key_id}
    assert error_of(rest.call("/rotate-on-demand", {"key_id": "nope"})) == (400, "KMS.0205")
    assert error_of(rest.call("/rotate-on-demand", {"key_id": str(uuid.uuid4())})) == (404, "KMS.0207")


# -- grants -------------------------------------------------------------------------------
def test_grant_use_revoke_retire_through_the_sdk(owner, grantee, grantee_creds):
    key_id = create_key(owner)
    describe = m.ListKeyDetailRequest(body=op(key_id))
    assert sdk_error(grantee.list_key_detail, describe) == (404, "KMS.0207")

    made = owner.create_grant(
        m.CreateGrantRequest(
            body=m.CreateGrantRequestBody(
                key_id=key_id,
                grantee_principal=grantee_creds["user_id"],
                operations=["create-datakey", "decrypt-datakey", "describe-key"],
                name="app-b",
                retiring_principal=grantee_creds["user_id"],
            )
        )
    )
    grant_id = made.grant_id
    assert len(grant_id) == 64

    # The grantee uses exactly what it was granted...
    assert grantee.list_key_detail(describe).key_info.key_id == key_id
    dk = grantee.create_datakey(m.CreateDatakeyRequest(body=m.CreateDatakeyRequestBody(key_id=key_id)))
    opened = grantee.decrypt_datakey(
        m.DecryptDatakeyRequest(
            body=m.DecryptDatakeyRequestBody(key_id=key_id, cipher_text=dk.cipher_text, datakey_cipher_length="32")
        )
    )
    assert opened.data_key == dk.plain_text
    # ...and nothing else (403, KMS.0306).
    enc = m.EncryptDataRequest(body=m.EncryptDataRequestBody(key_id=key_id, plain_text="x"))
    assert sdk_error(grantee.encrypt_data, enc) == (403, "KMS.0306")
    assert sdk_error(grantee.disable_key, m.DisableKeyRequest(body=op(key_id))) == (403, "KMS.0306")
    assert sdk_error(grantee.list_grants, m.ListGrantsRequest(body=m.ListGrantsRequestBody(key_id=key_id))) == (
        403,
        "KMS.0306",
    )

    listed = owner.list_grants(m.ListGrantsRequest(body=m.ListGrantsRequestBody(key_id=key_id, limit="10")))
    assert (listed.total, listed.truncated, listed.next_marker) == (1, "false", "")
    [g] = listed.grants
    assert (g.grant_id, g.grantee_principal, g.grantee_principal_type, g.name) == (
        grant_id,
        grantee_creds["user_id"],
        "user",
        "app-b",
    )
    assert g.operations == ["create-datakey", "decrypt-datakey", "describe-key"]
    assert int(g.creation_date) > 0

    retirable = grantee.list_retirable_grants(m.ListRetirableGrantsRequest())  # no body: the SDK sends none
    assert [x.grant_id for x in retirable.grants] == [grant_id]

    # The grantee (as retiring principal) retires it; the next request is refused.
    revoke_body = m.RevokeGrantRequestBody(key_id=key_id, grant_id=grant_id)
    assert grantee.cancel_self_grant(m.CancelSelfGrantRequest(body=revoke_body)).status_code == 200
    assert sdk_error(grantee.list_key_detail, describe) == (404, "KMS.0207")
    assert sdk_error(grantee.cancel_self_grant, m.CancelSelfGrantRequest(body=revoke_body)) == (404, "KMS.2501")

    # A second grant, revoked by the owner.
    second = owner.create_grant(
        m.CreateGrantRequest(
            body=m.CreateGrantRequestBody(
                key_id=key_id,
                grantee_principal=grantee_creds["domain_id"],
                grantee_principal_type="domain",
                operations=["describe-key"],
            )
        )
    ).grant_id
    assert grantee.list_key_detail(describe).key_info.key_id == key_id
    owner.cancel_grant(m.CancelGrantRequest(body=m.RevokeGrantRequestBody(key_id=key_id, grant_id=second)))
    assert sdk_error(grantee.list_key_detail, describe) == (404, "KMS.0207")

    quotas = owner.show_user_quotas(m.ShowUserQuotasRequest()).quotas.resources
    assert {q.type: q.used for q in quotas}["grant_per_CMK"] == 0


def test_grant_errors_raw(rest):
    key_id = rest.create_key()

    def grant(**kw):
        return rest.call("/create-grant", {"key_id": key_id, "grantee_principal": "u1", **kw})

    assert error_of(grant(operations=["create-grant"])) == (400, "KMS.2401")
    assert error_of(grant(operations=["describe-key"], grantee_principal="not valid")) == (400, "KMS.2402")
    assert error_of(grant(operations="describe-key")) == (400, "KMS.0308")
    assert error_of(grant()) == (400, "KMS.0204")
    ok = grant(operations=["describe-key"])
    assert ok.status_code == 200
    grant_id = ok.json()["grant_id"]
    other = rest.create_key()
    assert error_of(rest.call("/revoke-grant", {"key_id": other, "grant_id": grant_id})) == (400, "KMS.2502")
    assert error_of(rest.call("/revoke-grant", {"key_id": key_id, "grant_id": "0" * 64})) == (404, "KMS.2501")
    assert error_of(rest.call("/list-grants", {"key_id": key_id, "limit": "1001"})) == (400, "KMS.1601")
    assert error_of(rest.call("/list-grants", {"key_id": key_id, "marker": "-1"})) == (400, "KMS.1602")
    assert rest.ok("/revoke-grant", {"key_id": key_id, "grant_id": grant_id}) == {}


# -- tags ---------------------------------------------------------------------------------
def test_tags_through_the_sdk(owner):
    key_id = create_key(owner)
    resp = owner.create_kms_tag(
        m.CreateKmsTagRequest(key_id=key_id, body=m.CreateKmsTagRequestBody(tag=m.TagItem(key="DEV", value="DEV1")))
    )
    assert resp.status_code == 204
    owner.batch_create_kms_tags(
        m.BatchCreateKmsTagsRequest(
            key_id=key_id,
            body=m.BatchCreateKmsTagsRequestBody(
                action="create",
                tags=[m.TagItem(key="env/prod é", value="1"), m.TagItem(key="team", value="blue")],
            ),
        )
    )
    shown = owner.show_kms_tags(m.ShowKmsTagsRequest(key_id=key_id))
    assert shown.exist_tags_num == 3
    assert {t.key: t.value for t in shown.tags} == {"DEV": "DEV1", "env/prod é": "1", "team": "blue"}
    # A tag key holding "/" and non-ASCII travels percent-encoded in the DELETE path.
    assert owner.delete_tag(m.DeleteTagRequest(key_id=key_id, key="env/prod é")).status_code == 204
    shown = owner.show_kms_tags(m.ShowKmsTagsRequest(key_id=key_id))
    assert {t.key for t in shown.tags} == {"DEV", "team"}

    project_tags = owner.list_kms_tags(m.ListKmsTagsRequest()).tags
    assert {t.key: t.values for t in project_tags}["team"] == ["blue"]

    found = owner.list_kms_by_tags(
        m.ListKmsByTagsRequest(
            resource_instances="resource_instances",
            body=m.ListKmsByTagsRequestBody(
                action="filter", limit="10", offset="0", tags=[m.Tag(key="team", values=["blue"])]
            ),
        )
    )
    assert found.total_count == 1
    [res] = found.resources
    assert res.resource_id == key_id == res.resource_detail.key_id
    assert res.resource_name == res.resource_detail.key_alias
    assert {t.key: t.value for t in res.tags} == {"DEV": "DEV1", "team": "blue"}
    counted = owner.list_kms_by_tags(
        m.ListKmsByTagsRequest(
            resource_instances="resource_instances",
            body=m.ListKmsByTagsRequestBody(action="count", tags=[m.Tag(key="DEV", values=[])]),
        )
    )
    assert counted.total_count == 1

    too_long = m.CreateKmsTagRequest(
        key_id=key_id, body=m.CreateKmsTagRequestBody(tag=m.TagItem(key="k" * 37, value="v"))
    )
    assert sdk_error(owner.create_kms_tag, too_long) == (400, "KMS.0411")


def test_tags_raw_wire(rest):
    key_id = rest.create_key()
    resp = rest.call(f"/{key_id}/tags", {"tag": {"key": "a", "value": "1"}})
    assert (resp.status_code, resp.content) == (204, b"")
    assert rest.ok(f"/{key_id}/tags", method="GET") == {"tags": [{"key": "a", "value": "1"}], "existTagsNum": 1}
    assert error_of(rest.call(f"/{key_id}/tags", {"tag": {"key": 5, "value": "1"}})) == (400, "KMS.0406")
    assert error_of(rest.call(f"/{key_id}/tags", {"tag": {"key": "a", "value": 5}})) == (400, "KMS.0405")
    assert error_of(rest.call(f"/{key_id}/tags", {})) == (400, "KMS.0204")
    assert error_of(rest.call(f"/{key_id}/tags/action", {"action": "create", "tags": []})) == (400, "KMS.0401")
    assert error_of(rest.call(f"/{key_id}/tags/action", {"action": "nope", "tags": [{"key": "a"}]})) == (
        400,
        "KMS.0404",
    )
    assert error_of(rest.call(f"/{key_id}/tags/action", {"action": "create", "tags": "a"})) == (400, "KMS.0412")
    assert error_of(rest.call("/not-a-key/tags", method="GET")) == (400, "KMS.0205")
    resp = rest.call(f"/{key_id}/tags/a", method="DELETE")
    assert (resp.status_code, resp.content) == (204, b"")

    def by_tags(body):
        return rest.call("/resource_instances/action", body)

    assert error_of(by_tags({"action": "filter", "offset": "-1"})) == (400, "KMS.0417")
    assert error_of(by_tags({"action": "filter", "limit": "1001"})) == (400, "KMS.1601")
    assert error_of(by_tags({"action": "sum"})) == (400, "KMS.0404")
    assert error_of(by_tags({})) == (400, "KMS.0204")
    assert error_of(by_tags({"action": "filter", "matches": [{"key": "alias", "value": "x"}]})) == (400, "KMS.0403")
    assert error_of(by_tags({"action": "filter", "matches": [{"key": "resource_name", "value": ""}]})) == (
        400,
        "KMS.0402",
    )
    assert error_of(by_tags({"action": "filter", "matches": {"key": "resource_name"}})) == (400, "KMS.0415")
    marker = uuid.uuid4().hex[:20]
    rest.call(f"/{key_id}/tags", {"tag": {"key": "marker", "value": marker}})
    only_mine = [{"key": "marker", "values": [marker]}]
    out = by_tags({"action": "count", "tags": only_mine})
    assert out.status_code == 200 and out.json() == {"total_count": 1}
    out = by_tags({"action": "filter", "tags": only_mine}).json()
    assert out["total_count"] == 1 and out["resources"][0]["resource_detail"]["key_state"] == "2"
    assert out["resources"][0]["tags"] == [{"key": "marker", "value": marker}]
