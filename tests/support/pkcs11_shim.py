"""A PKCS#11 forwarding shim, compiled in the test, that makes the real SoftHSM2 answer CKR_DEVICE_ERROR.

Why a shim: SoftHSM2 has no natural way to return CKR_DEVICE_ERROR (a removed or unreadable token
directory gives CKR_GENERAL_ERROR or empty searches instead; see tests/hsm/test_hsm_faults.py). The shim
exports ``C_GetFunctionList``; every call goes to the real ``libsofthsm2.so`` — the token, its
objects and its cryptography stay real — except that while the file named by
``KMSGW_SHIM_FAULT_FILE`` exists, every call that talks to the token returns CKR_DEVICE_ERROR
without reaching it (library set-up and session closing still pass, as a driver's would).

The wrappers are generated from the PKCS#11 v2.40 declarations in p11-kit's ``pkcs11.h``, so the
shim forwards all 68 functions without a hand-written list of signatures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

HEADER = Path("/usr/include/p11-kit-1/p11-kit/pkcs11.h")
FAULT_ENV = "KMSGW_SHIM_FAULT_FILE"
REAL_ENV = "KMSGW_SHIM_REAL_MODULE"
PASS_THROUGH = {
    "C_Initialize",
    "C_Finalize",
    "C_GetInfo",
    "C_GetFunctionList",
    "C_GetSlotList",
    "C_GetSlotInfo",
    "C_CloseSession",
    "C_CloseAllSessions",
    "C_WaitForSlotEvent",
}
_DECL = re.compile(r"_CK_DECLARE_FUNCTION\s*\(\s*(\w+)\s*,\s*\((.*?)\)\s*\)\s*;", re.S)


def available() -> bool:
    return HEADER.exists() and shutil.which("gcc") is not None


def _functions() -> list[tuple[str, str, list[str]]]:
    """(name, parameter list, argument names) of each function in struct ck_function_list."""
    text = HEADER.read_text()
    struct = text[text.index("struct ck_function_list\n{") :]
    struct = struct[: struct.index("};")]
    members = re.findall(r"CK_C_(\w+)\s+(C_\w+);", struct)
    decls = {name: params for name, params in _DECL.findall(text)}
    out = []
    for _, name in members:
        params = " ".join(decls[name].split())
        args = [] if params in ("", "void") else [re.findall(r"(\w+)\s*$", p.strip())[0] for p in params.split(",")]
        out.append((name, params or "void", args))
    return out


def source() -> str:
    lines = [
        "#include <dlfcn.h>",
        "#include <stdlib.h>",
        "#include <unistd.h>",
        "#define CRYPTOKI_GNU 1  /* the header's lower-case names, as its declarations use them */",
        '#include "p11-kit/pkcs11.h"',
        "static struct ck_function_list *real;",
        "static struct ck_function_list shim;",
        "static int faulty(void) {",
        f'  const char *path = getenv("{FAULT_ENV}");',
        "  return path != NULL && access(path, F_OK) == 0;",
        "}",
    ]
    functions = _functions()
    for name, params, args in functions:
        if name == "C_GetFunctionList":
            continue
        call = f"real->{name}({', '.join(args)})"
        guard = "" if name in PASS_THROUGH else "  if (faulty()) return CKR_DEVICE_ERROR;\n"
        lines.append(f"static ck_rv_t shim_{name}({params}) {{\n{guard}  return {call};\n}}")
    assigns = "\n".join(f"  shim.{name} = shim_{name};" for name, _, _ in functions if name != "C_GetFunctionList")
    lines.append(
        "ck_rv_t C_GetFunctionList(struct ck_function_list **list) {\n"
        "  if (real == NULL) {\n"
        f'    const char *module = getenv("{REAL_ENV}");\n'
        "    void *handle = dlopen(module, RTLD_NOW | RTLD_LOCAL);\n"
        "    if (handle == NULL) return CKR_GENERAL_ERROR;\n"
        '    ck_rv_t (*get)(struct ck_function_list **) = dlsym(handle, "C_GetFunctionList");\n'
        "    if (get == NULL || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;\n"
        "    shim = *real;\n"
        f"{assigns}\n"
        "    shim.C_GetFunctionList = C_GetFunctionList;\n"
        "  }\n"
        "  *list = &shim;\n"
        "  return CKR_OK;\n"
        "}"
    )
    return "\n".join(lines) + "\n"


def build(directory: Path) -> Path:
    """Compile the shim into ``directory``; returns the path of the shared object."""
    c_file, so_file = directory / "kmsgw_shim.c", directory / "libkmsgw_shim.so"
    c_file.write_text(source())
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O1", "-I", str(HEADER.parent.parent), "-o", str(so_file), str(c_file), "-ldl"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return so_file
