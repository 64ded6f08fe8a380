"""A token vendor's quirks, in one record the adapter consults instead of prose inside its methods.

The record is chosen from the token's manufacturer and model at the first login. A token nobody
measured gets :data:`GENERIC`: every workaround on, which costs a little time and never a wrong
answer. SoftHSM2 (Debian ``softhsm2``, the development and test token) is the measured one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class TokenQuirks:
    name: str
    # Keep a marker data object on the token and search for it before believing "no such object":
    # SoftHSM2 with its token directory gone answers every search with nothing, not with an error.
    canary: bool = True
    # Re-read the token's object list (library re-initialized) before believing a miss and before
    # every listing: SoftHSM2 misses objects other processes made just before this one wrote its own.
    refresh_object_list: bool = True
    # A token missed at login stays missed until C_Initialize runs again (SoftHSM2 reads its token
    # files then): retry the login on a re-initialized library.
    reinit_on_login_miss: bool = True
    # Seal and open with a session copy of a master key (C_CopyObject, CKA_TOKEN false): SoftHSM2
    # locks its token files on every C_Encrypt with a token object; a copy works in memory.
    session_copies: bool = True
    # The caller draws the AES-GCM IV (96 bits from the token RNG): SoftHSM2 cannot generate it.
    # The only mode this adapter implements.
    gcm_iv_from_caller: bool = True
    # A failed GCM tag may come back as CKR_GENERAL_ERROR / CKR_FUNCTION_FAILED (SoftHSM2): treat those
    # as a bad blob once a cheap call proves the session still answers, not as a session fault.
    bad_tag_is_general_error: bool = True
    # The hashes the token's CKM_RSA_PKCS_OAEP takes; None: probe the token once per hash.
    oaep_hashes: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.gcm_iv_from_caller:
            raise ValueError(f"{self.name}: token-generated AES-GCM IVs are not implemented by this adapter")


GENERIC = TokenQuirks("unmeasured token")
# SoftHSM2 2.6 does OAEP (encrypt, decrypt, unwrap) with SHA-1 only.
SOFTHSM2 = TokenQuirks("SoftHSM2", oaep_hashes=frozenset({"sha1"}))
_SOFTHSM2_OAEP_MEASURED_UP_TO = (2, 6)


def quirks_for(manufacturer: str, model: str, firmware: tuple[int, int]) -> TokenQuirks:
    """The record for a token as ``C_GetTokenInfo`` describes it."""
    if manufacturer.strip().startswith("SoftHSM") and model.strip().startswith("SoftHSM v2"):
        if firmware <= _SOFTHSM2_OAEP_MEASURED_UP_TO:
            return SOFTHSM2
        return replace(SOFTHSM2, oaep_hashes=None)  # a newer release may do more: ask it
    return GENERIC
