"""Key administration through the official huaweicloudsdkkms SDK, and the clock reaching a deletion."""

from __future__ import annotations


def test_keys_made_with_the_sdk_are_listed(admin):
    admin.create("invoices")
    admin.create("receipts")
    assert admin.aliases() == ["invoices", "receipts"]  # the project is this test's alone


def test_a_retired_key_is_destroyed_when_its_pending_days_pass(admin, kms_clock):
    key_id = admin.create("old-invoices")
    admin.retire(key_id, pending_days=7)
    assert admin.state(key_id) == "4"  # pending deletion

    assert key_id not in kms_clock.advance(days=6)["deleted"]
    assert admin.exists(key_id)

    assert key_id in kms_clock.advance(days=1, minutes=1)["deleted"]
    assert not admin.exists(key_id)
