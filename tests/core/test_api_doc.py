"""docs/api.md is the API's contract: its error catalog must say what the code answers."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.core.dialects import PRIMARY, SECONDARY
from gateway.core.errors import Err

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
ERROR_ROW = re.compile(
    r"^\| `(?P<name>[A-Z_]+)` \| (?P<kind>[a-z_]+) \| (?P<p_status>\d{3}) (?P<p_code>KMS\.\d{4}) "
    r"\| (?P<s_status>\d{3}) (?P<s_code>KMS\.\d{4}) \| (?P<message>.*) \|$",
    re.M,
)


def _section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def test_the_error_catalog_lists_every_meaning_as_both_dialects_answer_it() -> None:
    rows = {m["name"]: m for m in ERROR_ROW.finditer(_section("Errors"))}
    assert sorted(rows) == sorted(err.name for err in Err)
    for err in Err:
        row, primary, secondary = rows[err.name], PRIMARY.wire(err), SECONDARY.wire(err)
        assert row["kind"] == err.kind.value, err.name
        assert (int(row["p_status"]), row["p_code"]) == (primary.status, primary.code), err.name
        assert (int(row["s_status"]), row["s_code"]) == (secondary.status, secondary.code), err.name
        assert row["message"] == primary.message, err.name
