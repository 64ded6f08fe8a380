"""A marker's ``config={...}`` as the TOML file a gateway reads (no TOML writer in the standard library).

Top-level scalars go under ``[gateway]``; a dict becomes its own table (``{"limits": {...}}`` ->
``[limits]``, nested dicts -> ``[limits.operations.create_datakey]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def dumps(config: Mapping[str, Any]) -> str:
    scalars = {k: v for k, v in config.items() if not isinstance(v, Mapping)}
    lines: list[str] = []
    if scalars:
        lines += ["[gateway]", *(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())]
    for name, table in config.items():
        if isinstance(table, Mapping):
            _table(lines, [name], table)
    return "\n".join(lines) + "\n"


def _table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    lines += ["", "[" + ".".join(_key(p) for p in path) + "]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items() if not isinstance(v, Mapping)]
    for name, sub in table.items():
        if isinstance(sub, Mapping):
            _table(lines, [*path, name], sub)


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} into a kmsgw config")
