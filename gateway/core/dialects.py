"""Wire dialects: how each error meaning (:class:`Err`) looks to a client.

The core raises errors by meaning only; a dialect turns a meaning into (HTTP status, code, message).
Two dialects exist because two providers' KMS APIs reuse the same code numbers for different
meanings (KMS.0201 is "Invalid request URL." in one, "Alias already exists" in the other), so the
code a client sees depends on which provider's SDK it was written for.

Each table below has one line per meaning; a row is ``(status, code)`` to reuse the meaning's own
English message, or ``(status, code, message)`` to state that dialect's message. Building a dialect
fails at import time when any meaning is missing, so a new :class:`Err` cannot reach the wire
without a code in every dialect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gateway.core.errors import Err, KmsError

__all__ = ["DIALECTS", "PRIMARY", "SECONDARY", "Dialect", "WireError", "get_dialect"]

_CODE = re.compile(r"^KMS\.\d{4}$")

_Row = tuple[int, str] | tuple[int, str, str]


@dataclass(frozen=True)
class WireError:
    """An error as the client sees it: HTTP status, ``error_code`` and ``error_msg``."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, eq=False)
class Dialect:
    """One provider's error catalog, total over :class:`Err` (compared and hashed by identity)."""

    name: str
    table: Mapping[Err, WireError]

    def wire(self, err: Err) -> WireError:
        """The catalog entry for a meaning (every meaning has one)."""
        return self.table[err]

    def render(self, exc: KmsError) -> WireError:
        """The wire form of a raised error; its detail wins because it states the real rule."""
        entry = self.table[exc.err]
        if exc.detail:
            return WireError(entry.status, entry.code, exc.detail)
        return entry


def _build(name: str, rows: Mapping[Err, _Row]) -> Dialect:
    """Freeze a table into a dialect, refusing an incomplete or malformed one."""
    missing = [err.name for err in Err if err not in rows]
    if missing:
        raise RuntimeError(f"error dialect {name!r} has no entry for: {', '.join(missing)}")
    table: dict[Err, WireError] = {}
    for err in Err:
        row = rows[err]
        status, code = row[0], row[1]
        message = row[2] if len(row) == 3 else err.message
        if not _CODE.match(code):
            raise RuntimeError(f"error dialect {name!r}: malformed code {code!r} for {err.name}")
        table[err] = WireError(status, code, message)
    return Dialect(name, MappingProxyType(table))


# Primary catalog: the provider's KMS API reference (its error-code appendix), completed by its full
# error-code table (grants, rotation, import). Codes keep their numbers; the messages are the
# meanings' own (errors.py), which already state the real ranges where the tables are wrong
# (KMS.1801, 1901, 2001, 2102, 2202) and fix the tables' typos (KMS.0208, 2604 "32 bits").
_PRIMARY: dict[Err, _Row] = {
    Err.INTERNAL: (500, "KMS.0101"),
    Err.HSM_IO: (500, "KMS.0102"),
    Err.INVALID_URL: (400, "KMS.0201"),
    Err.INVALID_JSON: (400, "KMS.0202"),
    Err.BODY_TOO_LARGE: (400, "KMS.0203"),
    Err.MISSING_PARAMETER: (400, "KMS.0204"),
    Err.INVALID_KEY_ID: (400, "KMS.0205"),
    Err.INVALID_SEQUENCE: (400, "KMS.0206"),
    Err.INVALID_PARAMETER: (400, "KMS.0308"),
    Err.INVALID_ENCRYPTION_CONTEXT: (400, "KMS.0208"),
    # No table entry: KMS.0308 is the catalog's "XXX field invalid", the closest bad-input code.
    Err.UNSUPPORTED_ALGORITHM: (400, "KMS.0308"),
    Err.KEY_USAGE_MISMATCH: (400, "KMS.0308"),
    Err.KEY_NOT_FOUND: (404, "KMS.0207"),
    Err.KEY_DISABLED: (400, "KMS.0209"),
    Err.KEY_PENDING_DELETION: (400, "KMS.0210"),
    # No table entry: KMS.0310 is the catalog's pending-import state code, so a client keyed on it
    # knows the key's material is the issue (KMS.0308 would say "bad input", which it is not).
    Err.KEY_PENDING_IMPORT: (400, "KMS.0310"),
    Err.DEFAULT_KEY_IMMUTABLE: (400, "KMS.0211"),
    Err.INVALID_ALIAS: (400, "KMS.1101"),
    Err.INVALID_REALM: (400, "KMS.1102"),
    Err.INVALID_DESCRIPTION: (400, "KMS.1103"),
    Err.DUPLICATE_ALIAS: (400, "KMS.1104"),
    Err.KEY_QUOTA_EXCEEDED: (400, "KMS.1105"),
    Err.KEY_NOT_DISABLED: (400, "KMS.1201"),
    Err.KEY_NOT_ENABLED: (400, "KMS.1301"),
    Err.INVALID_PENDING_DAYS: (400, "KMS.1401"),
    Err.ALREADY_PENDING_DELETION: (400, "KMS.1402"),
    Err.NOT_PENDING_DELETION: (400, "KMS.1501"),
    Err.INVALID_LIMIT: (400, "KMS.1601"),
    Err.INVALID_MARKER: (400, "KMS.1602"),
    Err.INVALID_RANDOM_LENGTH: (400, "KMS.1801"),
    Err.INVALID_DATAKEY_LENGTH: (400, "KMS.1901"),
    Err.INVALID_DATAKEY_LENGTH_NO_PLAINTEXT: (400, "KMS.2001"),
    Err.INVALID_PLAIN_TEXT: (400, "KMS.2101"),
    Err.INVALID_PLAIN_TEXT_LENGTH: (400, "KMS.2102"),
    Err.DEK_HASH_MISMATCH: (400, "KMS.2103"),
    Err.INVALID_CIPHER_TEXT: (400, "KMS.2201"),
    Err.INVALID_CIPHER_TEXT_LENGTH: (400, "KMS.2202"),
    Err.DEK_HASH_MISMATCH_DECRYPT: (400, "KMS.2203"),
    Err.TOKEN_MISSING: (403, "KMS.0301"),
    Err.TOKEN_INVALID: (403, "KMS.0302"),
    Err.TOKEN_EXPIRED: (403, "KMS.0303"),
    # No table entries: a bad AK/SK signature is an invalid credential (0302), a stale X-Sdk-Date an
    # expired one (0303), and a path project other than the caller's is the project check (0305).
    Err.SIGNATURE_INVALID: (403, "KMS.0302"),
    Err.REQUEST_EXPIRED: (403, "KMS.0303"),
    Err.PROJECT_MISMATCH: (403, "KMS.0305"),
    Err.KEY_ACCESS_DENIED: (403, "KMS.0306"),
    Err.OPERATION_DENIED: (403, "KMS.0307"),
    # No table entry (neither of the provider's tables has a throttling code): KMS.0314, the next free number after
    # the 03xx access codes, with HTTP 429 so clients and proxies recognise a retryable throttle.
    Err.RATE_LIMITED: (429, "KMS.0314"),
    Err.EXTERNAL_KEY_REQUIRED: (400, "KMS.0309"),
    Err.NOT_PENDING_IMPORT: (400, "KMS.0310"),
    Err.RSA_DECRYPT_FAILED: (400, "KMS.0311"),
    Err.IMPORT_TOKEN_EXPIRED: (400, "KMS.2601"),
    Err.IMPORT_EXPIRATION_IN_PAST: (400, "KMS.2602"),
    Err.IMPORT_KEY_ID_MISMATCH: (400, "KMS.2603"),
    Err.IMPORT_MATERIAL_LENGTH: (400, "KMS.2604"),
    Err.IMPORT_TOKEN_INVALID: (400, "KMS.2605"),
    Err.IMPORT_MATERIAL_MISMATCH: (400, "KMS.2606"),
    Err.MATERIAL_NOT_DELETABLE: (400, "KMS.2701"),
    Err.ROTATION_EXTERNAL_KEY: (400, "KMS.0312"),
    Err.ROTATION_NOT_ENABLED: (400, "KMS.0313"),
    Err.ROTATION_NOT_DISABLED: (400, "KMS.2901"),
    Err.INVALID_ROTATION_INTERVAL: (400, "KMS.3001"),
    # No table entry: a rotation racing another process for the same version; 0308 like other
    # conditions the catalog lacks, with the message saying to retry.
    Err.ROTATION_IN_PROGRESS: (400, "KMS.0308"),
    Err.GRANT_ONLY_CREATE_GRANT: (400, "KMS.2401"),
    Err.GRANT_INVALID_PRINCIPAL: (400, "KMS.2402"),
    Err.GRANT_CREATE_FAILED: (400, "KMS.2403"),
    Err.GRANT_QUOTA_PER_KEY: (400, "KMS.2404"),
    Err.GRANT_QUOTA_PER_PRINCIPAL: (400, "KMS.2405"),
    Err.GRANT_NOT_FOUND: (404, "KMS.2501"),
    Err.GRANT_KEY_MISMATCH: (400, "KMS.2502"),
    Err.TAG_LIST_EMPTY: (400, "KMS.0401"),
    Err.INVALID_MATCH_VALUE: (400, "KMS.0402"),
    Err.INVALID_MATCH_KEY: (400, "KMS.0403"),
    Err.INVALID_ACTION: (400, "KMS.0404"),
    Err.INVALID_TAG_VALUE: (400, "KMS.0405"),
    Err.INVALID_TAG_KEY: (400, "KMS.0406"),
    Err.INVALID_TAG_LIST_SIZE: (400, "KMS.0407"),
    Err.INVALID_RESOURCE_TYPE: (400, "KMS.0408"),
    Err.TOO_MANY_TAGS: (400, "KMS.0409"),
    Err.INVALID_TAG_VALUE_LENGTH: (400, "KMS.0410"),
    Err.INVALID_TAG_KEY_LENGTH: (400, "KMS.0411"),
    Err.INVALID_TAG_LIST: (400, "KMS.0412"),
    Err.TOO_MANY_TAG_VALUES: (400, "KMS.0413"),
    Err.INVALID_MATCHES: (400, "KMS.0415"),
    Err.INVALID_OFFSET: (400, "KMS.0417"),
}

# Second provider (its own status/error-code table; docs/api.md). It has no grants, tags, import-token
# or rotation-state codes, no 403 (authentication and permission are 401) and no generic "KMS error".
# Fallbacks, all carrying the meaning's own message: KMS.0101 (400, its catch-all parameter error) for
# bad input and state without a closer code, KMS.0301 (404) for anything not found, KMS.0405 (401 "You
# cannot visit the url") for permission, KMS.05xx (500) for faults. A third element is that table's
# own English text, kept only where it says the same thing as the meaning; loose fits keep the
# meaning's message so the text stays true.
_SECONDARY: dict[Err, _Row] = {
    Err.INTERNAL: (500, "KMS.0503"),
    Err.HSM_IO: (500, "KMS.0505"),
    Err.INVALID_URL: (400, "KMS.0101"),
    Err.INVALID_JSON: (400, "KMS.0128", "Request JSON format is illegal"),
    Err.BODY_TOO_LARGE: (400, "KMS.0129", "The request message is too long"),
    Err.MISSING_PARAMETER: (400, "KMS.0101", "Parameter missing"),
    Err.INVALID_KEY_ID: (400, "KMS.0240", "Cmkuuid is not legal"),
    Err.INVALID_SEQUENCE: (400, "KMS.0101"),
    Err.INVALID_PARAMETER: (400, "KMS.0101"),
    Err.INVALID_ENCRYPTION_CONTEXT: (400, "KMS.0101"),
    Err.UNSUPPORTED_ALGORITHM: (400, "KMS.0212", "The selection algorithm is not supported"),
    Err.KEY_USAGE_MISMATCH: (400, "KMS.0216"),
    Err.KEY_NOT_FOUND: (404, "KMS.0301", "The CMK does not exist or has been deleted"),
    Err.KEY_DISABLED: (400, "KMS.0206", "The CMK is disabled"),
    Err.KEY_PENDING_DELETION: (400, "KMS.0208", "The Cmk has deletion task"),
    Err.KEY_PENDING_IMPORT: (400, "KMS.0203"),
    Err.DEFAULT_KEY_IMMUTABLE: (400, "KMS.0243"),
    Err.INVALID_ALIAS: (400, "KMS.0133", "AliasName is not legal"),
    Err.INVALID_REALM: (400, "KMS.0101"),
    Err.INVALID_DESCRIPTION: (400, "KMS.0101"),
    Err.DUPLICATE_ALIAS: (400, "KMS.0201", "Alias already exists"),
    Err.KEY_QUOTA_EXCEEDED: (400, "KMS.0238"),
    Err.KEY_NOT_DISABLED: (400, "KMS.0207"),
    # The second table's KMS.0306 "The cmk is not enable" is a 404; a state error is not "not found", so 0206
    # (its Chinese text: "the key is not in a usable state") carries it.
    Err.KEY_NOT_ENABLED: (400, "KMS.0206"),
    Err.INVALID_PENDING_DAYS: (400, "KMS.0226"),
    Err.ALREADY_PENDING_DELETION: (400, "KMS.0208", "The Cmk has deletion task"),
    Err.NOT_PENDING_DELETION: (400, "KMS.0209", "The CMK has no deletion task"),
    Err.INVALID_LIMIT: (400, "KMS.0231"),
    Err.INVALID_MARKER: (400, "KMS.0101"),
    Err.INVALID_RANDOM_LENGTH: (400, "KMS.0101"),
    Err.INVALID_DATAKEY_LENGTH: (400, "KMS.0101"),
    Err.INVALID_DATAKEY_LENGTH_NO_PLAINTEXT: (400, "KMS.0101"),
    Err.INVALID_PLAIN_TEXT: (400, "KMS.0101"),
    Err.INVALID_PLAIN_TEXT_LENGTH: (400, "KMS.0249"),
    Err.DEK_HASH_MISMATCH: (400, "KMS.0101"),
    Err.INVALID_CIPHER_TEXT: (400, "KMS.0219", "Wrong ciphertext"),
    Err.INVALID_CIPHER_TEXT_LENGTH: (400, "KMS.0219"),
    Err.DEK_HASH_MISMATCH_DECRYPT: (400, "KMS.0247"),
    Err.TOKEN_MISSING: (401, "KMS.0401"),
    Err.TOKEN_INVALID: (401, "KMS.0401", "Token validation failed"),
    Err.TOKEN_EXPIRED: (401, "KMS.0401"),
    Err.SIGNATURE_INVALID: (401, "KMS.0402"),
    Err.REQUEST_EXPIRED: (401, "KMS.0404"),
    Err.PROJECT_MISMATCH: (401, "KMS.0405"),
    Err.KEY_ACCESS_DENIED: (401, "KMS.0405"),
    Err.OPERATION_DENIED: (401, "KMS.0405"),
    # The second table's kms.0407 "Interface counter exceeded" is its throttling code; that table says
    # 401, but a 401 would send clients to re-authenticate, so it is answered 429 like the primary.
    Err.RATE_LIMITED: (429, "KMS.0407", "Interface counter exceeded"),
    Err.EXTERNAL_KEY_REQUIRED: (400, "KMS.0210"),
    Err.NOT_PENDING_IMPORT: (400, "KMS.0248"),
    Err.RSA_DECRYPT_FAILED: (400, "KMS.0239"),
    Err.IMPORT_TOKEN_EXPIRED: (400, "KMS.0101"),
    Err.IMPORT_EXPIRATION_IN_PAST: (400, "KMS.0235"),
    Err.IMPORT_KEY_ID_MISMATCH: (400, "KMS.0101"),
    Err.IMPORT_MATERIAL_LENGTH: (400, "KMS.0241"),
    Err.IMPORT_TOKEN_INVALID: (400, "KMS.0101"),
    Err.IMPORT_MATERIAL_MISMATCH: (400, "KMS.0101"),
    Err.MATERIAL_NOT_DELETABLE: (400, "KMS.0203"),
    Err.ROTATION_EXTERNAL_KEY: (400, "KMS.0211"),
    Err.ROTATION_NOT_ENABLED: (400, "KMS.0101"),
    Err.ROTATION_NOT_DISABLED: (400, "KMS.0101"),
    Err.INVALID_ROTATION_INTERVAL: (400, "KMS.0224"),
    Err.ROTATION_IN_PROGRESS: (400, "KMS.0101"),
    Err.GRANT_ONLY_CREATE_GRANT: (400, "KMS.0101"),
    Err.GRANT_INVALID_PRINCIPAL: (400, "KMS.0101"),
    Err.GRANT_CREATE_FAILED: (400, "KMS.0101"),
    Err.GRANT_QUOTA_PER_KEY: (400, "KMS.0101"),
    Err.GRANT_QUOTA_PER_PRINCIPAL: (400, "KMS.0101"),
    Err.GRANT_NOT_FOUND: (404, "KMS.0301"),
    Err.GRANT_KEY_MISMATCH: (400, "KMS.0101"),
    Err.TAG_LIST_EMPTY: (400, "KMS.0101"),
    Err.INVALID_MATCH_VALUE: (400, "KMS.0101"),
    Err.INVALID_MATCH_KEY: (400, "KMS.0101"),
    Err.INVALID_ACTION: (400, "KMS.0101"),
    Err.INVALID_TAG_VALUE: (400, "KMS.0101"),
    Err.INVALID_TAG_KEY: (400, "KMS.0101"),
    Err.INVALID_TAG_LIST_SIZE: (400, "KMS.0101"),
    Err.INVALID_RESOURCE_TYPE: (400, "KMS.0101"),
    Err.TOO_MANY_TAGS: (400, "KMS.0101"),
    Err.INVALID_TAG_VALUE_LENGTH: (400, "KMS.0101"),
    Err.INVALID_TAG_KEY_LENGTH: (400, "KMS.0101"),
    Err.INVALID_TAG_LIST: (400, "KMS.0101"),
    Err.TOO_MANY_TAG_VALUES: (400, "KMS.0101"),
    Err.INVALID_MATCHES: (400, "KMS.0101"),
    Err.INVALID_OFFSET: (400, "KMS.0101"),
}

PRIMARY = _build("primary", _PRIMARY)
SECONDARY = _build("secondary", _SECONDARY)

DIALECTS: Mapping[str, Dialect] = MappingProxyType({d.name: d for d in (PRIMARY, SECONDARY)})


def get_dialect(name: str) -> Dialect:
    """The dialect chosen by configuration; an unknown name is a configuration error."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown error dialect {name!r}; expected one of {sorted(DIALECTS)}") from None
