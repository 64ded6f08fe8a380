"""The endpoint variables of a dev gateway: what `kmsgw dev` prints and writes to ``.kmsgw-dev.env``.

One format for every consumer: a shell (``set -a; . ./.kmsgw-dev.env; set +a``), ``docker run
--env-file``, a testcontainers log-line wait (the ``kmsgw dev: ready {json}`` line carries the same
values) and the pytest plugin's external mode, which reads the file or the same names prefixed
``KMSGW_TEST_`` from its environment. Standard library only: the plugin imports it at start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

DEFAULT_NAME = ".kmsgw-dev.env"
READY_PREFIX = "kmsgw dev: ready "  # the last line `kmsgw dev` prints once it serves
# The names `kmsgw dev` writes, in this order (transports may add theirs after, see
# gateway/app/devmode/extensions.py). KMSGW_TARGET and KMSGW_TOKEN_FILE are what the kmsgw CLI reads.
NAMES = {
    "grpc_target": "KMSGW_TARGET",
    "rest_url": "KMSGW_REST_URL",
    "project_id": "KMSGW_PROJECT_ID",
    "token": "KMSGW_TOKEN",
    "token_file": "KMSGW_TOKEN_FILE",
    "access_key": "KMSGW_ACCESS_KEY",
    "secret_key": "KMSGW_SECRET_KEY",
    "control_url": "KMSGW_CONTROL_URL",
    "control_token": "KMSGW_CONTROL_TOKEN",
    "pid": "KMSGW_DEV_PID",
}
_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+=,-]*$")


def render(values: Mapping[str, object], extra: Mapping[str, str] | None = None) -> str:
    """``NAME=value`` lines (values quoted only when a shell would need it) for the known fields."""
    lines = ["# kmsgw dev: endpoints of a throwaway gateway, removed when it stops (set -a; . ./.kmsgw-dev.env)"]
    pairs = [(NAMES[k], str(values[k])) for k in NAMES if values.get(k) not in (None, "")]
    pairs += list((extra or {}).items())
    for name, value in pairs:
        lines.append(f"{name}={value if _SAFE.fullmatch(value) else _quote(value)}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def write(path: Path, text: str) -> None:
    """Owner-only (it holds a token and a secret key), replaced whole."""
    tmp = path.with_name(path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse(text: str) -> dict[str, str]:
    """``NAME=value`` lines of an env file (comments and blank lines skipped, simple quotes undone)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].replace("'\"'\"'", "'")
        out[name.strip().removeprefix("export ").strip()] = value
    return out


def fields(variables: Mapping[str, str], prefix: str = "KMSGW_") -> dict[str, str]:
    """The known fields (``grpc_target``...) from variables named ``<prefix>TARGET`` and so on."""
    out = {}
    for field, name in NAMES.items():
        value = variables.get(prefix + name.removeprefix("KMSGW_"))
        if value:
            out[field] = value
    return out


def ready_line(values: Mapping[str, object]) -> str:
    return READY_PREFIX + json.dumps(dict(values), sort_keys=True)


def parse_ready(line: str) -> dict[str, object] | None:
    """The values of a ready line, or None for any other line."""
    if not line.startswith(READY_PREFIX):
        return None
    value = json.loads(line[len(READY_PREFIX) :])
    return value if isinstance(value, dict) else None
