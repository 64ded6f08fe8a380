"""Parsing ``--mechanisms`` and deciding, from discovery alone, which cells the token can run."""

from __future__ import annotations

from gateway.bench.p11.asymmetric import Ecdsa, RsaOaep, RsaPss, Unwrap
from gateway.bench.p11.discovery import Discovery, mechanism_name
from gateway.bench.p11.mechanisms import AUTO, AesGcm, AesKwp, Family, Hmac, MechSpec, Random

FAMILIES: dict[str, Family] = {
    f.name: f for f in (AesGcm(), AesKwp(), RsaPss(), RsaOaep(), Ecdsa(), Hmac(), Random(), Unwrap())
}


def parse_mechanisms(text: str) -> list[MechSpec]:
    """``auto`` or a comma list of ``family[:param]``; ValueError names the bad entry."""
    names = list(AUTO) if text.strip() == "auto" else [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError("--mechanisms: empty list")
    specs: list[MechSpec] = []
    for entry in names:
        family, _, param = entry.partition(":")
        fam = FAMILIES.get(family.lower())
        if fam is None:
            raise ValueError(f"--mechanisms: unknown mechanism {family!r}; known: {', '.join(FAMILIES)} or auto")
        spec = MechSpec(fam.name, fam.parse(param.strip()))
        if spec not in specs:
            specs.append(spec)
    return specs


def family(spec: MechSpec) -> Family:
    return FAMILIES[spec.family]


def unsupported(spec: MechSpec, discovery: Discovery, keys_mode: str) -> str | None:
    """Why the token cannot run ``spec`` at all (a mechanism missing, a key size out of bounds), or None.

    Key generation mechanisms are not needed when the keys already exist.
    """
    fam = family(spec)
    for need in fam.needs(spec.param):
        if keys_mode == "existing" and need.keygen:
            continue
        info = discovery.mechanisms.get(need.mechanism)
        if info is None:
            return f"the token does not list {mechanism_name(need.mechanism)}"
        if need.bits is None or info.max_key in (None, 0):
            continue
        low, high = info.min_key or 0, info.max_key or 0
        if need.unit == "bytes" and high < 128:  # PKCS#11 states AES and HMAC bounds in bytes
            low, high = low * 8, high * 8
        if not low <= need.bits <= high:
            return f"{need.bits}-bit keys are outside {info.name}'s bounds ({low}..{high} bits)"
    return None


def payload_sizes(spec: MechSpec, payloads: list[int]) -> list[int]:
    """The payload sweep for a mechanism that uses one; the fixed digest size for signatures."""
    fam = family(spec)
    return payloads if fam.uses_payload else [fam.fixed_payload(spec.param)]
