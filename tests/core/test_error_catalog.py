"""The error catalogs: every meaning reaches the wire with a well-formed code and a status of its kind."""

from __future__ import annotations

import re

import pytest

from gateway.core import dialects
from gateway.core.dialects import DIALECTS, PRIMARY, SECONDARY, Dialect, WireError, get_dialect
from gateway.core.errors import Err, Kind, KmsError

ALLOWED_STATUS = {"primary": {400, 403, 404, 429, 500}, "secondary": {400, 401, 404, 429, 500}}
AUTH_KINDS = {Kind.UNAUTHENTICATED, Kind.PERMISSION}
CASES = [(d, e) for d in DIALECTS.values() for e in Err]


def _id(case: tuple[Dialect, Err]) -> str:
    return f"{case[0].name}-{case[1].name}"


def test_dialect_registry() -> None:
    assert set(DIALECTS) == {"primary", "secondary"}
    assert get_dialect("primary") is PRIMARY
    assert get_dialect("secondary") is SECONDARY
    with pytest.raises(ValueError, match="nope"):
        get_dialect("nope")


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=lambda d: d.name)
def test_every_meaning_covered(dialect: Dialect) -> None:
    assert set(dialect.table) == set(Err)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_entry_shape_and_status(case: tuple[Dialect, Err]) -> None:
    dialect, err = case
    wire = dialect.wire(err)
    assert re.fullmatch(r"KMS\.\d{4}", wire.code)
    assert wire.message.strip()
    assert wire.status in ALLOWED_STATUS[dialect.name]
    # 5xx is reserved for faults: bad input must never look like a server error, and vice versa.
    assert (wire.status >= 500) == (err.kind is Kind.INTERNAL)
    assert (wire.status in (401, 403)) == (err.kind in AUTH_KINDS)
    assert (wire.status == 404) == (err.kind is Kind.NOT_FOUND)


def test_primary_auth_codes_are_the_03xx_block() -> None:
    for err in Err:
        if err.kind in AUTH_KINDS:
            assert PRIMARY.wire(err).code in {f"KMS.030{i}" for i in range(1, 8)}, err


@pytest.mark.parametrize(
    ("dialect", "err", "status", "code"),
    [
        (PRIMARY, Err.KEY_NOT_FOUND, 404, "KMS.0207"),
        (PRIMARY, Err.GRANT_NOT_FOUND, 404, "KMS.2501"),
        (PRIMARY, Err.INTERNAL, 500, "KMS.0101"),
        (PRIMARY, Err.HSM_IO, 500, "KMS.0102"),
        (PRIMARY, Err.INVALID_URL, 400, "KMS.0201"),
        (PRIMARY, Err.INVALID_JSON, 400, "KMS.0202"),
        (PRIMARY, Err.BODY_TOO_LARGE, 400, "KMS.0203"),
        (PRIMARY, Err.MISSING_PARAMETER, 400, "KMS.0204"),
        (PRIMARY, Err.INVALID_KEY_ID, 400, "KMS.0205"),
        (PRIMARY, Err.INVALID_SEQUENCE, 400, "KMS.0206"),
        (PRIMARY, Err.DUPLICATE_ALIAS, 400, "KMS.1104"),
        (PRIMARY, Err.INVALID_PENDING_DAYS, 400, "KMS.1401"),
        (PRIMARY, Err.DEK_HASH_MISMATCH, 400, "KMS.2103"),
        (PRIMARY, Err.DEK_HASH_MISMATCH_DECRYPT, 400, "KMS.2203"),
        (PRIMARY, Err.KEY_QUOTA_EXCEEDED, 400, "KMS.1105"),
        (PRIMARY, Err.GRANT_QUOTA_PER_KEY, 400, "KMS.2404"),
        (PRIMARY, Err.TOO_MANY_TAGS, 400, "KMS.0409"),
        (PRIMARY, Err.TOKEN_MISSING, 403, "KMS.0301"),
        (PRIMARY, Err.PROJECT_MISMATCH, 403, "KMS.0305"),
        (PRIMARY, Err.ROTATION_NOT_DISABLED, 400, "KMS.2901"),
        (PRIMARY, Err.INVALID_ROTATION_INTERVAL, 400, "KMS.3001"),
        (SECONDARY, Err.DUPLICATE_ALIAS, 400, "KMS.0201"),
        (SECONDARY, Err.KEY_NOT_FOUND, 404, "KMS.0301"),
        (SECONDARY, Err.TOKEN_INVALID, 401, "KMS.0401"),
        (SECONDARY, Err.INVALID_JSON, 400, "KMS.0128"),
        (SECONDARY, Err.BODY_TOO_LARGE, 400, "KMS.0129"),
    ],
    ids=lambda v: v.name if isinstance(v, (Dialect, Err)) else str(v),
)
def test_spot_codes(dialect: Dialect, err: Err, status: int, code: str) -> None:
    wire = dialect.wire(err)
    assert (wire.status, wire.code) == (status, code)


def test_primary_messages_state_the_real_ranges() -> None:
    # The tables say "512 bits" / "64 bytes"; the operation pages' ranges win.
    assert "8192" in PRIMARY.wire(Err.INVALID_RANDOM_LENGTH).message
    assert "8192" in PRIMARY.wire(Err.INVALID_DATAKEY_LENGTH).message
    assert "8192" in PRIMARY.wire(Err.INVALID_DATAKEY_LENGTH_NO_PLAINTEXT).message
    assert "1024" in PRIMARY.wire(Err.INVALID_PLAIN_TEXT_LENGTH).message
    assert "1024" in PRIMARY.wire(Err.INVALID_CIPHER_TEXT_LENGTH).message
    for err in Err:
        assert "512 bits" not in PRIMARY.wire(err).message
        assert "64 bytes" not in PRIMARY.wire(err).message


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=lambda d: d.name)
def test_render_prefers_detail(dialect: Dialect) -> None:
    entry = dialect.wire(Err.INVALID_PENDING_DAYS)
    detail = "pending_days must be between 7 and 1096, got 3."
    assert dialect.render(KmsError(Err.INVALID_PENDING_DAYS, detail)) == WireError(entry.status, entry.code, detail)
    assert dialect.render(KmsError(Err.INVALID_PENDING_DAYS)) == entry


def test_missing_meaning_fails_loudly() -> None:
    partial = {err: (400, "KMS.0101") for err in Err if err is not Err.INVALID_OFFSET}
    with pytest.raises(RuntimeError, match="INVALID_OFFSET"):
        dialects._build("broken", partial)


def test_malformed_code_fails_loudly() -> None:
    rows = {err: (400, "KMS.0101") for err in Err}
    rows[Err.INTERNAL] = (500, "KMS0101")
    with pytest.raises(RuntimeError, match="KMS0101"):
        dialects._build("broken", rows)
