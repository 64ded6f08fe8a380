"""docs/xks.md says what the code does: its operation table is the catalog's XKS entries, its
error table the specification's names with the statuses the dialect answers, and the [xks]
settings it and deploy/kmsgw.example.toml list are the configuration's."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from gateway.app.config import XksConfig
from gateway.core import operations
from gateway.core.xks.errors import STATUS
from gateway.xks.routing import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "xks.md").read_text()
OP_ROW = re.compile(r"^\| (\w+) \| POST `/\{prefix\}/kms/xks/v1/([^`]+)` \| `(\w+)` \| `(kms:xks:\w+)` \|$", re.M)
ERROR_ROW = re.compile(r"^\| (\d{3}) \| (\w+Exception) \| ", re.M)


def test_the_operation_table_is_the_catalog():
    rows = {m[2]: m for m in OP_ROW.findall(DOC)}  # (operation, path, catalog name, action)
    xks_ops = [op for op in operations.CATALOG if op.transport == "xks"]
    assert sorted(rows) == sorted(op.name for op in xks_ops) == sorted(op.name for op in OPERATIONS)
    for op in xks_ops:
        assert rows[op.name][3] == op.action, op.name
    assert not set(rows) & {op.name for op in operations.KMS_API}


def test_the_error_table_is_the_dialects():
    rows = ERROR_ROW.findall(DOC)
    named = {name for _, name in rows}
    assert named == {n.value for n in STATUS}, "every XKS error name has a row"
    for status, name in rows:
        if status != "405":  # the method check: HTTP's own status, with a ValidationException body
            assert STATUS[next(n for n in STATUS if n.value == name)] == int(status), name


def test_the_settings_are_the_configurations():
    fields = {
        f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
        for f in dataclasses.fields(XksConfig)
    }  # type: ignore[misc]
    block = DOC[DOC.index("[xks]\nenabled = true") :].split("```", 1)[0]
    documented = tomllib.loads(block)["xks"]
    assert set(documented) == set(fields)
    example = tomllib.loads((ROOT / "deploy" / "kmsgw.example.toml").read_text())["xks"]
    assert example == {**fields, "enabled": False}
