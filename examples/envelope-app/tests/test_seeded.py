"""The seeded KMS (kmsgw-seed.toml): fixed ids, the application's fixed AK/SK, known key material."""

from __future__ import annotations

import pytest
from conftest import (
    APP_ACCESS_KEY,
    APP_SECRET_KEY,
    AUDITOR_ACCESS_KEY,
    AUDITOR_SECRET_KEY,
    DATA,
    RETIRED_KEY,
    SEEDED_PROJECT,
)
from envelope_app import KeyAdmin, SealedRecord, Vault
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

from gateway.client import KmsClientError


@pytest.mark.parametrize("version", [1, 2])
def test_records_sealed_in_an_earlier_run_open(seeded_vault, version):
    sealed = SealedRecord.from_json((DATA / f"record-v{version}.json").read_text())
    assert seeded_vault.open(sealed) == f"sealed under version {version} of the seeded records key".encode()


def test_the_application_credentials_sign_sdk_calls(kms_gateway):
    admin = KeyAdmin(kms_gateway.sdk(SEEDED_PROJECT, access_key=APP_ACCESS_KEY, secret_key=APP_SECRET_KEY))
    assert {"records", "customer-supplied", "retired"} <= set(admin.aliases())


def test_the_auditor_may_list_but_not_create(kms_gateway):
    auditor = KeyAdmin(kms_gateway.sdk(SEEDED_PROJECT, access_key=AUDITOR_ACCESS_KEY, secret_key=AUDITOR_SECRET_KEY))
    assert "records" in auditor.aliases()
    with pytest.raises(ClientRequestException) as err:
        auditor.create("not-allowed")
    assert err.value.status_code == 403


def test_the_retired_key_is_refused(kms_gateway):
    vault = Vault(kms_gateway.client(SEEDED_PROJECT), RETIRED_KEY)
    with pytest.raises(KmsClientError):
        vault.seal(b"no")
