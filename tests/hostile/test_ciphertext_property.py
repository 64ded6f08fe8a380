"""Property: any bytes handed to decrypt-data / decrypt-datakey give a clean KmsError with the
operation's own code, or the one correct plaintext — never another plaintext, never a crash.

Through the real core and the real SoftHSM2 token (the session ``gateway`` fixture): the blobs are
real ciphertexts of a key that has been rotated once (so version 1 and version 2 blobs both exist),
then mutated — bit flips, truncation, extension, byte edits of each header field (format, kind,
key id, version), IV and tag edits, splices of two blobs — plus arbitrary bytes and arbitrary
encryption contexts. A success is only allowed for the very bytes and context that were sealed.

Derandomized and bounded in CI; ``pytest -m fuzz`` (``make fuzz``) runs a randomized long form.
"""

from __future__ import annotations

import os
import struct
import uuid
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core import ciphertext as ct
from gateway.core.datakeys import DecryptDataKeyItem
from gateway.core.errors import Err, KmsError
from gateway.grpc_api.gen.kms.v1 import kms_pb2 as pb
from tests.support.gateway import Gateway, kms_code
from tests.support.kms import caller_for

CI = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LONG = settings(CI, max_examples=5000, derandomize=False, print_blob=True)

CONTEXT = {"app": "property"}
DATA_ERRORS = {Err.INVALID_PARAMETER, Err.KEY_NOT_FOUND}
DATAKEY_ERRORS = {Err.INVALID_CIPHER_TEXT, Err.INVALID_CIPHER_TEXT_LENGTH}


@dataclass(frozen=True)
class Sealed:
    blob: bytes
    plain: bytes
    context: dict[str, str] | None


@dataclass(frozen=True)
class World:
    caller: Any
    token: str
    key_id: str
    data: list[Sealed]  # encrypt-data blobs, versions 1 and 2, with and without a context
    datakeys: list[Sealed]  # data-key blobs, likewise


@pytest.fixture(scope="module")
def world(gateway: Gateway) -> World:
    token = gateway.token()
    caller = caller_for(gateway, token)
    kms = gateway.rt.kms
    key_id = gateway.call(kms.create_key(caller, key_alias=f"prop-{uuid.uuid4().hex[:12]}")).key_id
    data, datakeys = [], []
    for rotate in (False, True):
        if rotate:
            gateway.call(kms.rotate_on_demand(caller, key_id))
        for context in (CONTEXT, None):
            plain = os.urandom(1 + len(data) * 7)
            sealed = gateway.call(kms.encrypt_data(caller, key_id, plain, context))
            data.append(Sealed(sealed.cipher_text, plain, context))
            dk = gateway.call(kms.create_data_key(caller, key_id, 256, context))
            datakeys.append(Sealed(dk.cipher_text, dk.plain_text, context))
    versions = {struct.unpack_from(">I", s.blob, 18)[0] for s in data}
    assert versions == {1, 2}, versions
    return World(caller, token, key_id, data, datakeys)


# -- mutations of a real blob ------------------------------------------------------------------
_FIELDS = {"format": (0, 1), "kind": (1, 1), "key_id": (2, 16), "version": (18, 4), "iv": (22, 12)}


@st.composite
def mutated(draw: Any, blobs: list[Sealed]) -> tuple[bytes, Sealed]:
    """(bytes to decrypt, the sealed original they came from)."""
    original = draw(st.sampled_from(blobs))
    data = bytearray(original.blob)
    how = draw(st.sampled_from(["none", "flip", "truncate", "extend", "field", "tag", "splice", "many"]))
    if how == "flip":
        bit = draw(st.integers(0, len(data) * 8 - 1))
        data[bit // 8] ^= 1 << (bit % 8)
    elif how == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif how == "extend":
        data += draw(st.binary(min_size=1, max_size=64))
    elif how == "field":
        start, size = _FIELDS[draw(st.sampled_from(sorted(_FIELDS)))]
        data[start : start + size] = draw(st.binary(min_size=size, max_size=size))
    elif how == "tag":
        data[-ct.TAG_BYTES :] = draw(st.binary(min_size=ct.TAG_BYTES, max_size=ct.TAG_BYTES))
    elif how == "splice":  # the header of one blob on the body of another
        other = draw(st.sampled_from(blobs)).blob
        cut = draw(st.integers(1, min(len(data), len(other)) - 1))
        data = bytearray(data[:cut] + other[cut:])
    elif how == "many":
        for _ in range(draw(st.integers(2, 8))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
    return bytes(data), original


def _any_context() -> st.SearchStrategy[dict[str, str] | None]:
    return st.one_of(st.none(), st.just(CONTEXT), st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))


def _contexts(original: Sealed) -> st.SearchStrategy[dict[str, str] | None]:
    return st.one_of(st.just(original.context), st.just(original.context), _any_context())


def _candidates(blobs: list[Sealed]) -> st.SearchStrategy[tuple[bytes, dict[str, str] | None]]:
    """Mutated real blobs with a context that is mostly the sealed one, or any bytes at all."""
    real = mutated(blobs).flatmap(lambda pair: _contexts(pair[1]).map(lambda c: (pair[0], c)))
    arbitrary = st.tuples(st.binary(max_size=200), _any_context())
    header_only = st.tuples(  # a well-formed header for our key (any version) on random bytes
        st.tuples(st.integers(0, 3), st.integers(0, 2**32 - 1), st.binary(max_size=80)).map(
            lambda t: bytes([1, t[0]]) + uuid.UUID(blobs[0].blob[2:18].hex()).bytes + struct.pack(">I", t[1]) + t[2]
        ),
        _any_context(),
    )
    return st.one_of(real, real, real, arbitrary, header_only)


def _sealed_as(data: bytes, context: dict[str, str] | None, blobs: list[Sealed]) -> Sealed | None:
    """The sealed original these exact bytes and context are, if any (a splice may rebuild another)."""
    return next((s for s in blobs if data == s.blob and (context or None) == (s.context or None)), None)


# -- the properties ----------------------------------------------------------------------------
def _decrypt_data(gateway: Gateway, w: World, data: bytes, context: Any) -> None:
    sealed = _sealed_as(data, context, w.data)
    try:
        out = gateway.call(gateway.rt.kms.decrypt_data(w.caller, data, context))
    except KmsError as exc:
        assert exc.err in DATA_ERRORS, (exc.err, exc.detail)
        assert sealed is None, "the sealed bytes and context must decrypt"
        return
    assert sealed is not None, "a plaintext for bytes that were never sealed so"
    assert (out.plain_text, out.key_id) == (sealed.plain, w.key_id)


def _decrypt_datakey(gateway: Gateway, w: World, data: bytes, context: Any) -> None:
    sealed = _sealed_as(data, context, w.datakeys)
    item = DecryptDataKeyItem(key_id=w.key_id, cipher_text=data, datakey_cipher_length=32, encryption_context=context)
    try:
        out = gateway.call(gateway.rt.kms.decrypt_data_key(w.caller, item))
    except KmsError as exc:
        assert exc.err in DATAKEY_ERRORS, (exc.err, exc.detail)
        assert sealed is None, "the sealed bytes and context must decrypt"
        return
    assert sealed is not None, "a data key for bytes that were never sealed so"
    assert out.data_key == sealed.plain


def _data_property(gateway: Gateway, world: World, data: st.DataObject) -> None:
    blob, context = data.draw(_candidates(world.data))
    _decrypt_data(gateway, world, blob, context)


def _datakey_property(gateway: Gateway, world: World, data: st.DataObject) -> None:
    blob, context = data.draw(_candidates(world.datakeys))
    _decrypt_datakey(gateway, world, blob, context)


@CI
@given(data=st.data())
def test_decrypt_data_any_bytes(gateway: Gateway, world: World, data: st.DataObject) -> None:
    _data_property(gateway, world, data)


@CI
@given(data=st.data())
def test_decrypt_datakey_any_bytes(gateway: Gateway, world: World, data: st.DataObject) -> None:
    _datakey_property(gateway, world, data)


@pytest.mark.fuzz
@LONG
@given(data=st.data())
def test_decrypt_data_any_bytes_long(gateway: Gateway, world: World, data: st.DataObject) -> None:
    _data_property(gateway, world, data)


@pytest.mark.fuzz
@LONG
@given(data=st.data())
def test_decrypt_datakey_any_bytes_long(gateway: Gateway, world: World, data: st.DataObject) -> None:
    _datakey_property(gateway, world, data)


def test_every_sealed_blob_still_opens(gateway: Gateway, world: World) -> None:
    """The control: the unmutated blobs (both key versions) open, with their own context only."""
    for sealed in world.data:
        _decrypt_data(gateway, world, sealed.blob, sealed.context)
    for sealed in world.datakeys:
        _decrypt_datakey(gateway, world, sealed.blob, sealed.context)


def test_the_same_over_grpc(gateway: Gateway, world: World) -> None:
    """The transports map those errors to INVALID_ARGUMENT / NOT_FOUND with a KMS code (one pass)."""
    kms = gateway.stub(world.token)
    blob = bytearray(world.data[0].blob)
    blob[30] ^= 1
    with pytest.raises(grpc.RpcError) as err:
        kms.DecryptData(pb.DecryptDataRequest(cipher_text=bytes(blob), encryption_context=CONTEXT))
    assert (err.value.code(), kms_code(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "KMS.0308")
    blob = bytearray(world.data[0].blob)
    blob[5] ^= 1  # another key id: not found in this project
    with pytest.raises(grpc.RpcError) as err:
        kms.DecryptData(pb.DecryptDataRequest(cipher_text=bytes(blob), encryption_context=CONTEXT))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    dk = bytearray(world.datakeys[0].blob)
    dk[-1] ^= 1
    request = pb.DecryptDataKeyRequest(
        key_id=world.key_id, cipher_text=bytes(dk), datakey_cipher_length=32, encryption_context=CONTEXT
    )
    with pytest.raises(grpc.RpcError) as err:
        kms.DecryptDataKey(request)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT and kms_code(err.value).startswith("KMS.")
