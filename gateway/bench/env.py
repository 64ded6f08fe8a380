"""The environment block of a result file: what two runs must share before their figures compare.

CPU, cores, memory, load average (a busy machine depresses every rate), kernel, Python, library
versions, and for the token layer the module's path and SHA-256 (two files from two machines are
only comparable when they name the same module build).
"""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def module_facts(path: str) -> dict[str, Any]:
    """Path, size and SHA-256 of a PKCS#11 module file (the build measured)."""
    real = os.path.realpath(path)
    digest = hashlib.sha256()
    with open(real, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return {"path": path, "resolved": real, "sha256": digest.hexdigest(), "size": os.path.getsize(real)}


def machine() -> dict[str, Any]:
    """Taken before the load starts, so the load average says what else was running."""
    cores = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(),
        "cores_online": cores,
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores,
        "memory_bytes": _memory_bytes(),
        "load_average_start": load_average(),
        "load_average_end": None,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {name: version_of(name) for name in ("kmsgw", "python-pkcs11", "grpcio", "matplotlib")},
    }


def busy(env: dict[str, Any]) -> str | None:
    """A warning when the machine was loaded before the run (every rate is then depressed)."""
    load = (env.get("load_average_start") or [0.0])[0]
    cores = env.get("cores_usable") or 1
    if load > 0.5 * cores:
        return f"busy machine: 1-minute load average {load:.2f} on {cores} cores before the run; rates are depressed"
    return None


SOFTWARE_TOKENS = ("softhsm",)


def is_software_token(*names: str | None) -> bool:
    """SoftHSM2 (and any token named like it): its figures must be labelled as a software token's."""
    text = " ".join(n for n in names if n).lower()
    return any(word in text for word in SOFTWARE_TOKENS)
