"""Regenerate gateway/aws/service.json from botocore's KMS service model (a development tool).

The wire schema of every operation the gateway serves is AWS's own: botocore's ``kms`` service model
(``service-2.json``), trimmed to the operations in :data:`OPERATIONS` and to what validation and
encoding read (type, members, required, min, max, enum, pattern; no documentation). Run
``.venv/bin/python -m gateway.aws.shapes_gen`` after upgrading botocore; tests/aws checks that the
committed file matches the installed model.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

OPERATIONS = (
    # first group
    "CreateKey", "DescribeKey", "ListKeys", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
    "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "TagResource", "UntagResource",
    "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "EnableKeyRotation", "DisableKeyRotation",
    "GetKeyRotationStatus", "UpdateKeyDescription",
    # second group
    "Sign", "Verify", "GetPublicKey", "CreateGrant", "ListGrants", "ListRetirableGrants", "RevokeGrant",
    "RetireGrant", "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial", "RotateKeyOnDemand",
    "ListKeyRotations",
)  # fmt: skip
_KEPT = ("type", "required", "min", "max", "enum", "pattern", "sensitive")
TARGET = Path(__file__).with_name("service.json")


def botocore_model() -> dict[str, Any]:
    import botocore  # a test and development dependency only

    folder = Path(botocore.__file__).parent / "data" / "kms" / "2014-11-01"
    return json.loads(gzip.decompress((folder / "service-2.json.gz").read_bytes()))


def trim(model: dict[str, Any]) -> dict[str, Any]:
    shapes: dict[str, Any] = {}

    def visit(name: str) -> None:
        if name in shapes:
            return
        src = model["shapes"][name]
        out = {k: src[k] for k in _KEPT if k in src}
        shapes[name] = out
        if src["type"] == "structure":
            out["members"] = {m: spec["shape"] for m, spec in src["members"].items()}
            for target in out["members"].values():
                visit(target)
        elif src["type"] == "list":
            out["member"] = src["member"]["shape"]
            visit(out["member"])
        elif src["type"] == "map":
            out["key"], out["value"] = src["key"]["shape"], src["value"]["shape"]
            visit(out["key"])
            visit(out["value"])

    operations = {}
    for op in OPERATIONS:
        spec = model["operations"][op]
        operations[op] = {"input": spec["input"]["shape"], "output": spec.get("output", {}).get("shape", "")}
        visit(spec["input"]["shape"])
        if operations[op]["output"]:
            visit(operations[op]["output"])
    meta = {k: model["metadata"][k] for k in ("apiVersion", "targetPrefix", "jsonVersion")}
    return {"metadata": meta, "operations": operations, "shapes": dict(sorted(shapes.items()))}


def render() -> str:
    return json.dumps(trim(botocore_model()), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
