"""Pure helpers for the asymmetric token operations: no PKCS#11 call and no secret state here.

- DER encodings: SubjectPublicKeyInfo of an RSA key, PKCS#1 v1.5 DigestInfo prefixes, the
  ECDSA signature conversion between PKCS#11's raw r||s and DER (what `cryptography`,
  OpenSSL and Java verify).
- RSAES-OAEP encoding and decoding (RFC 8017 §7.1) for tokens whose CKM_RSA_PKCS_OAEP offers
  SHA-1 only (SoftHSM2 2.6.1 refuses any other hashAlg): the RSA operation itself still runs
  in the token as CKM_RSA_X_509; only the padding is done here.
- A SHA-256 length-extension step, used to learn whether an unwrapped secret is exactly 32
  bytes long from two token digests of it, on tokens that do not report CKA_VALUE_LEN.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from asn1crypto.algos import DSASignature
from asn1crypto.core import Null
from asn1crypto.keys import PublicKeyInfo, RSAPublicKey

HASH_LEN = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

# DER DigestInfo prefixes (RFC 8017 §9.2, note 1): prefix || digest is what PKCS#1 v1.5 signs.
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def rsa_spki(modulus: bytes, exponent: bytes) -> bytes:
    """DER SubjectPublicKeyInfo of an RSA public key given its big-endian modulus and exponent."""
    pub = RSAPublicKey({"modulus": int.from_bytes(modulus, "big"), "public_exponent": int.from_bytes(exponent, "big")})
    return PublicKeyInfo({"algorithm": {"algorithm": "rsa", "parameters": Null()}, "public_key": pub}).dump()


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    return DSASignature({"r": int.from_bytes(raw[:half], "big"), "s": int.from_bytes(raw[half:], "big")}).dump()


def ecdsa_der_to_raw(der: bytes, field_bytes: int) -> bytes | None:
    """r||s at the curve's fixed width, or None when ``der`` is not a well-formed signature."""
    try:
        sig = DSASignature.load(der, strict=True)
        r, s = sig["r"].native, sig["s"].native
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(r, int) and isinstance(s, int)) or r <= 0 or s <= 0:
        return None
    if r.bit_length() > field_bytes * 8 or s.bit_length() > field_bytes * 8:
        return None
    return r.to_bytes(field_bytes, "big") + s.to_bytes(field_bytes, "big")


# -- RSAES-OAEP (RFC 8017 §7.1), label always empty --------------------------------------
def _mgf1(seed: bytes, length: int, hash_name: str) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.new(hash_name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:length])


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def oaep_max_plaintext(k: int, hash_name: str) -> int:
    """Longest message OAEP fits in a k-byte modulus: k - 2*hLen - 2."""
    return k - 2 * HASH_LEN[hash_name] - 2


def oaep_encode(message: bytes, k: int, hash_name: str, seed: bytes) -> bytes:
    """EM = 0x00 || maskedSeed || maskedDB for a k-byte modulus; ``seed`` is hLen random bytes."""
    h_len = HASH_LEN[hash_name]
    if len(message) > oaep_max_plaintext(k, hash_name) or len(seed) != h_len:
        raise ValueError("message too long for OAEP with this key")
    l_hash = hashlib.new(hash_name, b"").digest()
    db = l_hash + b"\x00" * (k - len(message) - 2 * h_len - 2) + b"\x01" + message
    masked_db = _xor(db, _mgf1(seed, k - h_len - 1, hash_name))
    masked_seed = _xor(seed, _mgf1(masked_db, h_len, hash_name))
    return b"\x00" + masked_seed + masked_db


def oaep_decode(em: bytes, k: int, hash_name: str) -> bytes | None:
    """The message, or None on any decoding error (one answer for every failure, RFC 8017 note)."""
    h_len = HASH_LEN[hash_name]
    if k < 2 * h_len + 2:
        return None
    if len(em) < k:
        em = em.rjust(k, b"\x00")
    if len(em) != k:
        return None
    y, masked_seed, masked_db = em[0], em[1 : 1 + h_len], em[1 + h_len :]
    seed = _xor(masked_seed, _mgf1(masked_db, h_len, hash_name))
    db = _xor(masked_db, _mgf1(seed, k - h_len - 1, hash_name))
    l_hash_ok = hmac.compare_digest(db[:h_len], hashlib.new(hash_name, b"").digest())
    # Find the 0x01 separator without an early exit on the secret bytes.
    index, looking, bad_pad = 0, 1, 0
    for i in range(h_len, len(db)):
        byte = db[i]
        is_one = int(byte == 1)
        is_zero = int(byte == 0)
        index = index if not (looking and is_one) else i
        bad_pad |= looking & (1 - is_one) & (1 - is_zero)
        looking &= 1 - is_one
    if y != 0 or not l_hash_ok or looking or bad_pad:
        return None
    return db[index + 1 :]


# -- SHA-256 length extension ---------------------------------------------------------------
_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)  # fmt: skip
_MASK = 0xFFFFFFFF


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (32 - n))) & _MASK


def _compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) & _MASK
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _MASK
        a, b, c, d, e, f, g, h = (t1 + t2) & _MASK, a, b, c, (d + t1) & _MASK, e, f, g
    return tuple((x + y) & _MASK for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


def sha256_padding(length: int) -> bytes:
    """The bytes SHA-256 appends to a ``length``-byte message before its last compression."""
    return b"\x80" + b"\x00" * ((55 - length) % 64) + (8 * length).to_bytes(8, "big")


def sha256_extend(digest: bytes, length: int, suffix: bytes) -> bytes:
    """SHA-256(M || padding(len M) || suffix) from SHA-256(M) and len(M) alone."""
    state = struct.unpack(">8I", digest)
    done = length + len(sha256_padding(length))
    tail = suffix + sha256_padding(done + len(suffix))
    for i in range(0, len(tail), 64):
        state = _compress(state, tail[i : i + 64])
    return struct.pack(">8I", *state)
