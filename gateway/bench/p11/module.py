"""Loading a PKCS#11 module for one of the two concurrency models, and what python-pkcs11 hides.

python-pkcs11 0.10 calls ``C_Initialize(NULL)``: the module may then assume that no two threads
ever call it at once (SoftHSM2 turns its own locking off, and two threads encrypting together
crash the process). That suits the ``processes`` model, where each worker process initializes
the module itself. The ``threads`` model needs ``CKF_OS_LOCKING_OK``, which python-pkcs11 has no
argument for; :func:`open_library` gets it by overriding the (Cython ``cpdef``) ``initialize``
method in a subclass and calling ``C_Initialize`` with the flag through ctypes, on the very
library handle python-pkcs11 loaded (``dlopen`` of the same path returns the same handle). A
module that answers ``CKR_CANT_LOCK`` gets ``C_Initialize(NULL)`` and one process-wide lock
around every call instead: the model is then reported as ``threads-serialized``.

``C_GetTokenInfo`` is read through ctypes too: python-pkcs11 drops the session and memory counts.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any

CKR_OK = 0x0
CKR_CANT_LOCK = 0xA
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
CKF_OS_LOCKING_OK = 0x2
CK_UNAVAILABLE_INFORMATION = ctypes.c_ulong(-1).value
CK_EFFECTIVELY_INFINITE = 0


class _InitArgs(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    ]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class _FunctionListHead(ctypes.Structure):
    """The first entries of CK_FUNCTION_LIST (v2.40 order): all this module calls."""

    _fields_ = [
        ("version", _Version),
        ("C_Initialize", ctypes.c_void_p),
        ("C_Finalize", ctypes.c_void_p),
        ("C_GetInfo", ctypes.c_void_p),
        ("C_GetFunctionList", ctypes.c_void_p),
        ("C_GetSlotList", ctypes.c_void_p),
        ("C_GetSlotInfo", ctypes.c_void_p),
        ("C_GetTokenInfo", ctypes.c_void_p),
    ]


class _TokenInfo(ctypes.Structure):
    _fields_ = [
        ("label", ctypes.c_char * 32),
        ("manufacturerID", ctypes.c_char * 32),
        ("model", ctypes.c_char * 16),
        ("serialNumber", ctypes.c_char * 16),
        ("flags", ctypes.c_ulong),
        ("ulMaxSessionCount", ctypes.c_ulong),
        ("ulSessionCount", ctypes.c_ulong),
        ("ulMaxRwSessionCount", ctypes.c_ulong),
        ("ulRwSessionCount", ctypes.c_ulong),
        ("ulMaxPinLen", ctypes.c_ulong),
        ("ulMinPinLen", ctypes.c_ulong),
        ("ulTotalPublicMemory", ctypes.c_ulong),
        ("ulFreePublicMemory", ctypes.c_ulong),
        ("ulTotalPrivateMemory", ctypes.c_ulong),
        ("ulFreePrivateMemory", ctypes.c_ulong),
        ("hardwareVersion", _Version),
        ("firmwareVersion", _Version),
        ("utcTime", ctypes.c_char * 16),
    ]


def _function_list(path: str) -> _FunctionListHead:
    dll = ctypes.CDLL(path)  # the same handle python-pkcs11 holds: dlopen counts references
    pointer = ctypes.POINTER(_FunctionListHead)()
    rv = dll.C_GetFunctionList(ctypes.byref(pointer))
    if rv != CKR_OK or not pointer:
        raise OSError(f"C_GetFunctionList of {path} failed (rv {rv:#x})")
    return pointer.contents


def _initialize_with_os_locking(path: str) -> int:
    funcs = _function_list(path)
    c_initialize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(funcs.C_Initialize)
    args = _InitArgs(None, None, None, None, CKF_OS_LOCKING_OK, None)
    return int(c_initialize(ctypes.cast(ctypes.byref(args), ctypes.c_void_p)))


def _counter(value: int) -> int | str | None:
    if value == CK_UNAVAILABLE_INFORMATION:
        return None
    if value == CK_EFFECTIVELY_INFINITE:
        return "unlimited"
    return value


def token_counts(path: str, slot_id: int) -> dict[str, Any]:
    """Session limits and memory of a token (C_GetTokenInfo), which python-pkcs11 does not expose."""
    funcs = _function_list(path)
    get_info = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(_TokenInfo))(funcs.C_GetTokenInfo)
    info = _TokenInfo()
    rv = get_info(slot_id, ctypes.byref(info))
    if rv != CKR_OK:
        return {"error": f"C_GetTokenInfo rv {rv:#x}"}
    return {
        "max_sessions": _counter(info.ulMaxSessionCount),
        "max_rw_sessions": _counter(info.ulMaxRwSessionCount),
        "sessions": _counter(info.ulSessionCount),
        "min_pin_length": info.ulMinPinLen,
        "max_pin_length": info.ulMaxPinLen,
        "total_public_memory": _counter(info.ulTotalPublicMemory),
        "free_public_memory": _counter(info.ulFreePublicMemory),
        "total_private_memory": _counter(info.ulTotalPrivateMemory),
        "free_private_memory": _counter(info.ulFreePrivateMemory),
    }


@dataclass
class Opened:
    """A loaded library and how concurrent calls into it are made safe."""

    lib: Any  # pkcs11 lib
    locking: str  # "none" (one caller per process), "os" (CKF_OS_LOCKING_OK) or "serialized" (one lock)
    call_lock: threading.Lock | None = None  # held around every call when locking == "serialized"


def open_library(path: str, model: str) -> Opened:
    """Load ``path`` for the ``processes`` or ``threads`` model (see the module docstring)."""
    import pkcs11

    if model == "processes":
        return Opened(pkcs11.lib(path), "none")
    from pkcs11 import _pkcs11

    outcome: dict[str, int] = {}

    class _OsLockingLib(_pkcs11.lib):
        def initialize(self) -> None:  # called by the base __init__; cpdef dispatches here
            outcome["rv"] = _initialize_with_os_locking(path)

    locking_lib = _OsLockingLib(path)
    rv = outcome.get("rv", CKR_OK)
    if rv in (CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED):
        return Opened(locking_lib, "os")
    if rv != CKR_CANT_LOCK:
        raise OSError(f"C_Initialize(CKF_OS_LOCKING_OK) of {path} failed (rv {rv:#x})")
    # Plain C_Initialize(NULL): calls must never overlap, so one lock around each.
    return Opened(pkcs11.lib(path), "serialized", threading.Lock())
