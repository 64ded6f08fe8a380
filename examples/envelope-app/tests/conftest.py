"""The application's fixtures, built only from the kmsgw plugin's public fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from envelope_app import KeyAdmin, Vault

# What kmsgw-seed.toml fixes (the application's deployment configuration would hold the same).
SEEDED_PROJECT = "0e5a7c3b9d2f4a6b8c1d3e5f7a9b0c2d"
RECORDS_KEY = "4f1d2c3b-5a69-4788-9a0b-1c2d3e4f5a6b"
RETIRED_KEY = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
APP_ACCESS_KEY, APP_SECRET_KEY = "ENVELOPEAPPTEST00001", "envelope-app-test-only-secret-key-0001"
AUDITOR_ACCESS_KEY, AUDITOR_SECRET_KEY = "ENVELOPEAPPAUDITOR01", "envelope-app-test-only-auditor-key-0001"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def vault(kms_client, kms_key) -> Vault:
    """A vault over gRPC with a key of its own, in a project no other test sees."""
    return Vault(kms_client, kms_key("AES_256", alias="records").key_id)


@pytest.fixture
def admin(kms_sdk) -> KeyAdmin:
    """Key administration through the official SDK, signed with the project's AK/SK."""
    return KeyAdmin(kms_sdk)


@pytest.fixture
def seeded_vault(kms_gateway) -> Vault:
    """The vault as deployed: the seeded project and its fixed records key."""
    return Vault(kms_gateway.client(SEEDED_PROJECT), RECORDS_KEY)
