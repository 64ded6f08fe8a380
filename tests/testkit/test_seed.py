"""Seed files: every problem named by file, entry and reason; test mode enforced in code; a kept data
dir re-seeded with a rotated version keeps every earlier ciphertext decryptable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.app.devmode.errors import SeedError
from gateway.app.devmode.seed import load
from gateway.client import KmsClient
from gateway.core.auth import FixedCredential
from gateway.core.seeding import Seeding
from gateway.testing.handle import KmsGateway
from gateway.testing.launcher import ChildGateway

KEY = "4f1d2c3b-5a69-4788-9a0b-1c2d3e4f5a6b"
M1, M2 = "11" * 32, "22" * 32


def seed_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "seed.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "entry", "reason"),
    [
        (
            '[[projects]]\nid = "p"\n[[projects.keys]]\nid = "nope"\nalias = "a"\n',
            "keys[0] (alias 'a').id",
            "lowercase UUID",
        ),
        (
            f'[[projects]]\nid = "p"\n[[projects.keys]]\nid = "{KEY}"\nalias = "a"\nspec = "RSA_2048"\n'
            f'material = "{M1}"\n',
            "keys[0] (alias 'a')",
            "known material is for AES_256 keys only",
        ),
        (
            f'[[projects]]\nid = "p"\n[[projects.keys]]\nid = "{KEY}"\nalias = "a"\norigin = "external"\n'
            f'material = ["{M1}", "{M2}"]\n',
            "keys[0] (alias 'a')",
            "imported keys do not rotate",
        ),
        (
            '[[projects]]\nid = "p"\n[[projects.credentials]]\naccess_key = "AKAKAKAKAK"\nsecret_key = "s"\n',
            "secret_key",
            "16-128 printable ASCII",
        ),
        ('[[projects]]\nid = "p"\ncolour = "red"\n', "projects[0] (id 'p').colour", "unknown field"),
        ('[[projects]]\nid = "p"\n[[projects]]\nid = "p"\n', "top level", "project id used twice: p"),
        ("projects = [", "", "not TOML"),
    ],
)
def test_a_bad_seed_names_the_file_the_entry_and_the_reason(tmp_path: Path, text: str, entry: str, reason: str) -> None:
    path = seed_file(tmp_path, text)
    with pytest.raises(SeedError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and entry in message and reason in message, message
    assert "Traceback" not in message


def test_fixed_ids_and_credentials_exist_in_test_mode_only(gateway) -> None:
    """The project's own session gateway is opened as `kmsgw serve` opens it: no test mode."""
    assert gateway.rt.kms.settings.test_mode is False
    with pytest.raises(PermissionError, match="test mode only"):
        Seeding(gateway.rt.kms)
    fixed = FixedCredential("AKFIXEDFIXED0001", "a-chosen-secret-key-0001")
    with pytest.raises(PermissionError, match="test mode only"):
        gateway.call(gateway.rt.auth.create_credentials("p" * 32, fixed=fixed))


def test_a_kept_data_dir_reseeded_with_a_new_version_keeps_old_ciphertexts(tmp_path: Path) -> None:
    project = "0e5a7c3b9d2f4a6b8c1d3e5f7a9b0c2d"
    seed = f'[[projects]]\nid = "{project}"\n[[projects.keys]]\nid = "{KEY}"\nalias = "records"\nmaterial = [{{}}]\n'
    v1 = seed_file(tmp_path, seed.format(f'"{M1}"'))
    child = ChildGateway(tmp_path / "gw", ["--seed", str(v1)], watch_pid=os.getpid())
    gateway = KmsGateway(child.start(120), mode="subprocess", restart=lambda: child.restart(120), stop=child.stop)
    try:
        with KmsClient(gateway.grpc_target, token=gateway.token(project)) as kms:
            old = kms.encrypt_data(KEY, b"sealed under v1").cipher_text
        v1.write_text(seed.format(f'"{M1}", "{M2}"'))  # the seed gains a rotated version
        gateway.restart()  # same data dir, same ports
        with KmsClient(gateway.grpc_target, token=gateway.token(project)) as kms:
            assert kms.decrypt_data(old).plain_text == b"sealed under v1"
            assert kms.call("GetKeyRotationStatus", _key(KEY)).number_of_rotations == 1
            new = kms.encrypt_data(KEY, b"sealed under v2").cipher_text
            assert new[18:22] == (2).to_bytes(4, "big") and old[18:22] == (1).to_bytes(4, "big")
    finally:
        gateway.close()


def _key(key_id: str):
    from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb

    return pb.KeyIdRequest(key_id=key_id)
