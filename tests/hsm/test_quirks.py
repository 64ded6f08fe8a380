"""The vendor quirks record: chosen from the token's own description, and true to what the token does."""

from __future__ import annotations

import pytest

from gateway.hsm.asymmetric import AsymmetricKeys
from gateway.hsm.quirks import GENERIC, SOFTHSM2, TokenQuirks, quirks_for


def test_records_by_manufacturer_and_model():
    assert quirks_for("SoftHSM project", "SoftHSM v2", (2, 6)) is SOFTHSM2
    newer = quirks_for("SoftHSM project", "SoftHSM v2", (2, 7))
    assert newer.oaep_hashes is None  # a release nobody measured here: its OAEP hashes are probed
    assert quirks_for("Some Vendor", "Network HSM", (7, 1)) is GENERIC
    assert GENERIC.canary and GENERIC.refresh_object_list and GENERIC.oaep_hashes is None


def test_token_generated_gcm_ivs_are_refused():
    with pytest.raises(ValueError, match="not implemented"):
        TokenQuirks("iv-making token", gcm_iv_from_caller=False)


def test_the_test_token_is_recognised_as_softhsm2(gateway):
    assert gateway.rt.executor.run_sync(lambda t: t.link.quirks) is SOFTHSM2


def test_the_softhsm2_oaep_record_matches_a_probe_of_the_token(gateway):
    """The record saves a probe; it must say what probing the token would have said."""

    def probe(t) -> dict[str, bool]:
        saved = t.link.quirks
        t.link.quirks = GENERIC  # no record: the adapter asks the token
        try:
            keys = AsymmetricKeys(t.link, t.objects)
            return {h: keys.oaep_supported(h) for h in ("sha1", "sha256")}
        finally:
            t.link.quirks = saved

    probed = gateway.rt.executor.run_sync(probe)
    assert SOFTHSM2.oaep_hashes is not None
    assert probed == {h: h in SOFTHSM2.oaep_hashes for h in ("sha1", "sha256")}
