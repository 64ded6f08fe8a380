"""What the module and token say about themselves, before anything is measured.

The report carries it so a reader knows which device (manufacturer, model, firmware, session
limits) and which mechanisms (with their key-size bounds) the figures belong to, and so a cell the
token cannot run is skipped with the token's own words rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.bench.p11.module import token_counts

# Mechanism flags (CKF_*) worth naming; some modules leave junk in the other bits.
FLAG_NAMES = {
    0x1: "HW", 0x100: "ENCRYPT", 0x200: "DECRYPT", 0x400: "DIGEST", 0x800: "SIGN", 0x1000: "SIGN_RECOVER",
    0x2000: "VERIFY", 0x4000: "VERIFY_RECOVER", 0x8000: "GENERATE", 0x10000: "GENERATE_KEY_PAIR",
    0x20000: "WRAP", 0x40000: "UNWRAP", 0x80000: "DERIVE",
}  # fmt: skip


def flag_names(flags: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


def mechanism_name(number: int) -> str:
    from pkcs11 import Mechanism

    try:
        return "CKM_" + Mechanism(number).name.lstrip("_")
    except ValueError:
        return f"CKM_{number:#010x}"


@dataclass
class MechanismInfo:
    number: int
    name: str
    min_key: int | None
    max_key: int | None
    flags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "min_key": self.min_key,
            "max_key": self.max_key,
            "flags": self.flags,
        }


@dataclass
class Discovery:
    library: dict[str, Any]
    token: dict[str, Any]
    mechanisms: dict[int, MechanismInfo]

    def to_json(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "token": self.token,
            "mechanisms": [m.to_json() for _, m in sorted(self.mechanisms.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Discovery:
        mechs = {
            int(m["number"]): MechanismInfo(int(m["number"]), m["name"], m["min_key"], m["max_key"], list(m["flags"]))
            for m in data["mechanisms"]
        }
        return cls(dict(data["library"]), dict(data["token"]), mechs)


def _version(value: Any) -> str:
    if isinstance(value, tuple):
        return ".".join(str(v) for v in value)
    return str(value)


def discover(lib: Any, token: Any, module_path: str) -> Discovery:
    """Library info, token info (with C_GetTokenInfo's counters) and every mechanism's bounds."""
    from pkcs11 import TokenFlag

    library = {
        "manufacturer": lib.manufacturer_id,
        "description": lib.library_description,
        "cryptoki_version": _version(lib.cryptoki_version),
        "library_version": _version(lib.library_version),
    }
    slot = token.slot
    flags = int(token.flags)
    info: dict[str, Any] = {
        "label": token.label,
        "manufacturer": token.manufacturer_id,
        "model": token.model,
        "serial": token.serial.decode(errors="replace") if isinstance(token.serial, bytes) else str(token.serial),
        "hardware_version": _version(token.hardware_version),
        "firmware_version": _version(token.firmware_version),
        "slot_id": int(slot.slot_id),
        "slot_description": slot.slot_description,
        "flags": [f.name for f in TokenFlag if f.value and flags & f.value == f.value and f.name],
    }
    info.update(token_counts(module_path, int(slot.slot_id)))
    mechanisms: dict[int, MechanismInfo] = {}
    for mech in slot.get_mechanisms():
        number = int(mech)
        try:
            mi = slot.get_mechanism_info(mech)
            low, high, mflags = mi.min_key_length, mi.max_key_length, int(mi.flags)
        except Exception:  # a module that lists a mechanism it cannot describe
            low, high, mflags = None, None, 0
        mechanisms[number] = MechanismInfo(number, mechanism_name(number), low, high, flag_names(mflags))
    return Discovery(library, info, mechanisms)
