"""The token seen from outside the gateway: `pkcs11-tool --list-objects` on the gateway's data dir.

The PIN reaches pkcs11-tool as ``--pin env:KMSGW_TEST_PIN`` (OpenSC reads the variable), so it
is never on a command line.
"""

from __future__ import annotations

import re
import uuid

import pytest

from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.kms import list_objects

ACCESS = "sensitive, always sensitive, never extractable"


def test_master_key_on_token(gateway, kms):
    key_id = kms.CreateKey(pb.CreateKeyRequest(key_alias=f"tok-{uuid.uuid4().hex[:8]}")).key_info.key_id
    objects = list_objects(gateway.rt.config.data_dir)
    mine = [o for o in objects if o.get("label", "").startswith(key_id)]
    assert len(mine) == 1, objects
    obj = mine[0]
    assert obj["type"].startswith("Secret Key Object; AES length 32"), obj
    assert obj["label"] == f"{key_id}:v1"
    assert obj["ID"] == uuid.UUID(key_id).hex
    assert obj["Access"].startswith(ACCESS), obj
    usage = {u.strip() for u in obj["Usage"].split(",")}
    assert {"encrypt", "decrypt"} <= usage
    assert not usage & {"wrap", "unwrap", "sign", "verify", "derive"}, obj


def test_every_gateway_object_is_non_extractable(gateway, kms, key_id):
    objects = list_objects(gateway.rt.config.data_dir)
    secret = [o for o in objects if o["type"].startswith("Secret Key Object")]
    assert any(o["label"] == "kmsgw:seal" for o in secret)
    assert any(o["label"] == f"{key_id}:v1" for o in secret)
    for obj in secret:
        rec = None if obj["label"].startswith("kmsgw:") else gateway.rt.store.get_key_by_id(obj["label"][:36])
        if rec is not None and rec.origin == "external":
            # Imported material (BYOK) entered by C_UnwrapKey: PKCS#11 never marks such an object
            # "always sensitive" or "never extractable", but it is sensitive and not extractable.
            assert obj["Access"] == "sensitive", obj
        else:
            assert obj["Access"].startswith(ACCESS), obj
        assert re.fullmatch(r"kmsgw:.+|[0-9a-f-]{36}:v\d+", obj["label"]), obj


def test_deleted_key_leaves_no_object(gateway, kms, key_id, clock):
    kms.ScheduleKeyDeletion(pb.ScheduleKeyDeletionRequest(key_id=key_id, pending_days=7))
    clock.advance(7 * 86400 + 60)
    assert key_id in gateway.call(gateway.rt.kms.delete_due_keys())
    clock.reset()
    labels = [o.get("label", "") for o in list_objects(gateway.rt.config.data_dir)]
    assert not [lbl for lbl in labels if lbl.startswith(key_id)]


@pytest.mark.parametrize("name", ["hsm.pin", "so.pin"])
def test_pin_files_owner_only(gateway, name):
    path = gateway.rt.config.data_dir / name
    assert path.stat().st_mode & 0o777 == 0o600


def test_hot_path_session_copy_stays_sensitive(gateway, kms, key_id):
    """Data keys are sealed by a session copy of the master key (faster on SoftHSM2): the copy
    is a session object with the original's protection, and the master key's protection cannot
    be weakened through its (modifiable) attributes."""
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeReadOnly

    kms.CreateDataKey(pb.CreateDataKeyRequest(key_id=key_id))
    label = f"{key_id}:v1"

    def inspect(t):
        copy = t.objects.crypto_key(label)
        attrs = (copy[Attribute.TOKEN], copy[Attribute.SENSITIVE], copy[Attribute.EXTRACTABLE], copy[Attribute.LABEL])
        refused = []
        for attr, value in ((Attribute.EXTRACTABLE, True), (Attribute.SENSITIVE, False)):
            try:
                t.objects.secret_key(label)[attr] = value
            except AttributeReadOnly:
                refused.append(attr)
        return attrs, refused

    (token, sensitive, extractable, copy_label), refused = gateway.rt.executor.run_sync(inspect)
    assert (token, sensitive, extractable) == (False, True, False)
    assert copy_label == "kmsgw:copy:" + label
    assert refused == [Attribute.EXTRACTABLE, Attribute.SENSITIVE]
    # The copy is never mistaken for a master key by searches on the token.
    labels = [o.get("label", "") for o in list_objects(gateway.rt.config.data_dir)]
    assert labels.count(label) == 1
