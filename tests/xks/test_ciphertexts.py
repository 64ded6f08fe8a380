"""Decrypt refuses every tampered part, and finds the key version after rotations.

Each field of an Encrypt answer — ciphertext, tag, IV, metadata — and the AAD is changed in turn;
every change is InvalidCiphertextException (400), including the specification's own example of a
metadata passed off as AAD. A key rotated (twice) still decrypts what each of its versions made.
"""

from __future__ import annotations

import os
import struct

from tests.xks.support import b64, decrypt_body, encrypt_body, unb64


def _flip(text: str, at: int = 0) -> str:
    raw = bytearray(unb64(text))
    raw[at % len(raw)] ^= 0x01
    return b64(bytes(raw))


def test_every_tampered_part_is_an_invalid_ciphertext(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    aad = b"bucket=photos"
    out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"sixteen byte key" * 2, aad)).body
    path = f"keys/{xks_key}/decrypt"
    assert client.post(path, decrypt_body(out, aad)).status == 200
    meta = unb64(out["ciphertextMetadata"])
    tampered = {
        "ciphertext": decrypt_body(out | {"ciphertext": _flip(out["ciphertext"], 5)}, aad),
        "ciphertext truncated": decrypt_body(out | {"ciphertext": b64(unb64(out["ciphertext"])[:-1])}, aad),
        "tag": decrypt_body(out | {"authenticationTag": _flip(out["authenticationTag"], 15)}, aad),
        "iv": decrypt_body(out | {"initializationVector": _flip(out["initializationVector"], 3)}, aad),
        "iv of 16 bytes": decrypt_body(
            out | {"initializationVector": b64(unb64(out["initializationVector"]) + bytes(4))}, aad
        ),
        "aad changed": decrypt_body(out, b"bucket=photoz"),
        "aad dropped": decrypt_body(out),
        "aad added": decrypt_body(out, aad + b"!"),
        "metadata version": decrypt_body(out | {"ciphertextMetadata": _flip(out["ciphertextMetadata"], -1)}, aad),
        "metadata format": decrypt_body(out | {"ciphertextMetadata": _flip(out["ciphertextMetadata"], 0)}, aad),
        "metadata longer": decrypt_body(out | {"ciphertextMetadata": b64(meta + b"\x00")}, aad),
        "metadata dropped": {k: v for k, v in decrypt_body(out, aad).items() if k != "ciphertextMetadata"},
        "version that does not exist": decrypt_body(out | {"ciphertextMetadata": b64(struct.pack(">BI", 1, 99))}, aad),
    }
    for why, body in tampered.items():
        reply = client.post(path, body)
        assert (reply.status, reply.error) == (400, "InvalidCiphertextException"), why


def test_metadata_cannot_pass_for_aad(xks_gateway):
    """The specification's example: encrypt without AAD, then decrypt with the metadata as the AAD and
    no metadata. The length prefixes in the token's AAD make the two inputs different."""
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"secret")).body
    swapped = {k: v for k, v in decrypt_body(out).items() if k != "ciphertextMetadata"}
    swapped["additionalAuthenticatedData"] = out["ciphertextMetadata"]
    assert client.post(f"keys/{xks_key}/decrypt", swapped).error == "InvalidCiphertextException"
    # and AAD whose tail is the metadata cannot stand in for AAD + metadata either
    aad = b"ab"
    out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"secret", aad)).body
    moved = decrypt_body(out, aad + unb64(out["ciphertextMetadata"]))
    moved["ciphertextMetadata"] = b64(b"")
    assert client.post(f"keys/{xks_key}/decrypt", moved).error == "InvalidCiphertextException"


def test_malformed_ivs_tags_and_metadata_are_refused_before_the_key(xks_gateway):
    client = xks_gateway.client()
    _, xks_key = xks_gateway.mapped_key()
    out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"x")).body
    for why, change in {
        "iv of 13 bytes": {"initializationVector": b64(os.urandom(13))},
        "tag of 15 bytes": {"authenticationTag": b64(os.urandom(15))},
        "metadata of 21 bytes": {"ciphertextMetadata": b64(os.urandom(21))},
    }.items():
        for key in (xks_key, "not-mapped-anywhere"):  # step 5 comes before the key's lookup (step 6)
            reply = client.post(f"keys/{key}/decrypt", decrypt_body(out | change))
            assert (reply.status, reply.error) == (400, "InvalidCiphertextException"), why


def test_another_key_cannot_open_a_ciphertext(xks_gateway):
    client = xks_gateway.client()
    _, key_a = xks_gateway.mapped_key()
    _, key_b = xks_gateway.mapped_key()
    out = client.post(f"keys/{key_a}/encrypt", encrypt_body(b"for a")).body
    assert client.post(f"keys/{key_b}/decrypt", decrypt_body(out)).error == "InvalidCiphertextException"


def test_a_rotated_key_still_decrypts_old_ciphertexts(xks_gateway):
    client = xks_gateway.client()
    key_id, xks_key = xks_gateway.mapped_key()
    made = []
    for version in (1, 2, 3):
        out = client.post(f"keys/{xks_key}/encrypt", encrypt_body(f"v{version}".encode(), b"ctx")).body
        assert struct.unpack(">BI", unb64(out["ciphertextMetadata"])) == (1, version)
        made.append((version, out))
        assert xks_gateway.rest.ok("/rotate-on-demand", {"key_id": key_id}) == {"key_id": key_id}
    for version, out in made:
        reply = client.curl(f"keys/{xks_key}/decrypt", decrypt_body(out, b"ctx"))
        assert reply.status == 200, (version, reply.body)
        assert unb64(reply.body["plaintext"]) == f"v{version}".encode()
    newest = client.post(f"keys/{xks_key}/encrypt", encrypt_body(b"v4")).body
    assert struct.unpack(">BI", unb64(newest["ciphertextMetadata"])) == (1, 4)
