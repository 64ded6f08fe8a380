"""How tests/data/record-v1.json and record-v2.json were made (run once; the files are committed).

Version 1: `kmsgw dev` seeded with the records key's first material entry only; version 2: the same
data dir seeded again with both entries, which gives the key its second version. Any later run that
seeds the same material, under the same key id, opens both records.

    python scripts/seal_records.py        # from examples/envelope-app, with kmsgw installed
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from envelope_app import Vault

from gateway.client import KmsClient
from gateway.testing import envfile

HERE = Path(__file__).resolve().parent.parent
PROJECT, KEY = "0e5a7c3b9d2f4a6b8c1d3e5f7a9b0c2d", "4f1d2c3b-5a69-4788-9a0b-1c2d3e4f5a6b"


def first_version_only(seed: str) -> str:
    """The seed with the records key's material list cut to its first entry."""
    return re.sub(r'material = \[\s*("[0-9a-f]{64}"),\s*"[0-9a-f]{64}",\s*\]', r"material = [\1]", seed, count=1)


def seal(seed: Path, data_dir: Path, version: int) -> None:
    argv = [sys.executable, "-m", "gateway", "dev", "--seed", str(seed), "--data-dir", str(data_dir)]
    argv += ["--project-id", PROJECT, "--no-env-file"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        info = next(i for line in proc.stdout if (i := envfile.parse_ready(line.strip())) is not None)
        with KmsClient(str(info["grpc_target"]), token=str(info["token"])) as kms:
            text = f"sealed under version {version} of the seeded records key".encode()
            record = Vault(kms, KEY).seal(text, {"record": f"v{version}"})
        (HERE / "tests" / "data" / f"record-v{version}.json").write_text(record.to_json())
        proc.terminate()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "seed-v1.toml"
        first.write_text(first_version_only((HERE / "kmsgw-seed.toml").read_text()))
        data_dir = Path(tmp) / "var"
        seal(first, data_dir, 1)
        seal(HERE / "kmsgw-seed.toml", data_dir, 2)


if __name__ == "__main__":
    main()
