"""Key-spec rules without a token, and the core's front door keeping every operation transports call."""

from __future__ import annotations

import inspect

import pytest

from gateway.core import keyspecs
from gateway.core.errors import Err, KmsError
from gateway.core.model import ItemResult, KeyRecord, KeySpec, KeyState, KeyUsage, Origin
from gateway.core.service import Kms

ASYNC_OPERATIONS = {
    "create_key", "create_data_key", "create_data_keys", "encrypt_data_key", "encrypt_data_keys",
    "decrypt_data_key", "decrypt_data_keys", "encrypt_data", "decrypt_data", "encrypt_data_asymmetric",
    "decrypt_data_asymmetric", "generate_random", "sign", "verify", "get_public_key", "rotate_on_demand",
    "rotate_due_keys", "get_parameters_for_import", "import_key_material", "delete_imported_key_material",
    "import_sweep", "reconcile", "sweep_reconcile", "delete_due_keys",
}  # fmt: skip
SYNC_OPERATIONS = {
    "describe_key", "list_keys", "enable_key", "disable_key", "schedule_key_deletion", "cancel_key_deletion",
    "update_key_alias", "update_key_description", "get_user_instances", "get_user_quotas",
    "enable_key_rotation", "disable_key_rotation", "update_key_rotation_interval", "get_key_rotation_status",
    "rotation_enabled_keys", "create_grant", "list_grants", "list_retirable_grants", "revoke_grant",
    "retire_grant", "create_key_tag", "batch_key_tags", "delete_key_tag", "list_key_tags", "list_project_tags",
    "list_resource_instances", "now_ms",
}  # fmt: skip


def test_the_facade_keeps_every_operation(gateway):
    kms = gateway.rt.kms
    for name in ASYNC_OPERATIONS:
        assert inspect.iscoroutinefunction(getattr(kms, name)), name
    for name in SYNC_OPERATIONS:
        method = getattr(kms, name)
        assert callable(method) and not inspect.iscoroutinefunction(method), name
    assert (kms.store, kms.clock) == (gateway.rt.store, gateway.clock)
    assert isinstance(gateway.rt.kms, Kms)


@pytest.mark.parametrize(
    ("spec", "usage", "expected"),
    [
        ("AES_256", "", (KeySpec.AES_256, KeyUsage.ENCRYPT_DECRYPT)),
        ("RSA_3072", "", (KeySpec.RSA_3072, KeyUsage.SIGN_VERIFY)),
        ("RSA_2048", "ENCRYPT_DECRYPT", (KeySpec.RSA_2048, KeyUsage.ENCRYPT_DECRYPT)),
        ("SM2", "SIGN_VERIFY", (KeySpec.SM2, KeyUsage.SIGN_VERIFY)),
    ],
)
def test_spec_and_usage(spec, usage, expected):
    assert keyspecs.parse_spec_and_usage(spec, usage) == expected


@pytest.mark.parametrize(
    ("spec", "usage", "err"),
    [
        ("DES", "", Err.UNSUPPORTED_ALGORITHM),
        ("AES_256", "SIGN_VERIFY", Err.KEY_USAGE_MISMATCH),
        ("EC_P256", "ENCRYPT_DECRYPT", Err.KEY_USAGE_MISMATCH),
        ("RSA_2048", "WRAP", Err.INVALID_PARAMETER),
    ],
)
def test_spec_and_usage_refused(spec, usage, err):
    with pytest.raises(KmsError) as info:
        keyspecs.parse_spec_and_usage(spec, usage)
    assert info.value.err is err


def test_origin_and_sizes():
    assert keyspecs.parse_origin("external") is Origin.EXTERNAL
    with pytest.raises(KmsError):
        keyspecs.parse_origin("cloud")
    assert keyspecs.oaep_max_plaintext(KeySpec.RSA_2048, "sha256") == 256 - 2 * 32 - 2
    assert keyspecs.oaep_max_plaintext(KeySpec.RSA_4096, "sha1") == 512 - 2 * 20 - 2


def test_records_hold_enums_equal_to_their_wire_text():
    rec = KeyRecord("k", "p", "d", "a", "", "AES_256", "ENCRYPT_DECRYPT", "kms", 2, 0)  # as a store hands it in
    assert (rec.key_spec, rec.key_usage, rec.origin, rec.key_state) == ("AES_256", "ENCRYPT_DECRYPT", "kms", 2)
    assert rec.key_spec is KeySpec.AES_256 and rec.origin is Origin.KMS and rec.key_state is KeyState.ENABLED
    assert f"{rec.key_spec}/{rec.origin}" == "AES_256/kms"
    assert keyspecs.rotatable(rec)


def test_item_results():
    assert ItemResult(value=3).value_or_raise() == 3
    with pytest.raises(KmsError):
        ItemResult[int](error=KmsError(Err.INVALID_CIPHER_TEXT)).value_or_raise()
