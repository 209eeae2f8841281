#!/usr/bin/env python3
"""Independent checker of the Hush test vectors, written from test-vectors/SPEC.md alone (and,
for payload.json and content.json, from the "End to end" section of proto/PROTOCOL.md; for
frames.json, from its "Frames", "Frames in detail", "Shared sends", "Ephemeral sends" and
"Prekeys" sections).

Uses only the standard library, pyca `cryptography` (pip install cryptography) and, for ML-KEM
(FIPS 203, pqxdh.json), `kyber-py` (pip install kyber-py==1.2.0, a pure-Python ML-KEM whose 1.x
releases implement final FIPS 203; only its KeyGen_internal, Encaps_internal and Decaps are used,
the encapsulation-key check is done here). It never runs Rust: every value in vectors/*.json is recomputed from the vector inputs (seeds and the random
bytes each operation drew), by a second implementation of the protocol that lives in this file.

Usage: python3 test-vectors/check.py [vectors-dir]
Prints one line per check and ends with `N passed, M failed` (exit status 1 if any failed).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import struct
import sys
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from kyber_py.ml_kem import ML_KEM_1024

# ---------------------------------------------------------------------------------------------
# Constants (SPEC.md §2, §7)

VERSION = 1
TYPE_MESSAGE, TYPE_PREKEY_MESSAGE, TYPE_SENDER_KEY_MESSAGE = 0x01, 0x02, 0x03
TYPE_SENDER_KEY_DISTRIBUTION, TYPE_PREKEY_BUNDLE = 0x04, 0x05
X3DH_INFO = b"Hush_v1_X3DH"
PQXDH_VERSION = 2
PQXDH_INFO = b"Hush_v2_PQXDH_CURVE25519_SHA-256_ML-KEM-1024"
TYPE_KEM_PREKEY = 0x09
KEM_ALGORITHM_ML_KEM_1024 = 0x01
KEM_ONE_TIME, KEM_LAST_RESORT = 1, 2
KEM_PUBLIC_KEY_LEN = KEM_CIPHERTEXT_LEN = 1568
PURPOSE_KEM_PREKEY = 5
RATCHET_INFO = b"Hush_v1_Ratchet"
MESSAGE_KEYS_INFO = b"Hush_v1_MessageKeys"
SENDER_KEY_INFO = b"Hush_v1_SenderKey"
SALT_LABEL = b"Hush_v1_Salt"
SENDER_KEY_SALT_LABEL = b"Hush_v1_SenderKeySalt"
SIGNED_PREKEY_LABEL = b"Hush_v1_SignedPreKey"
SEAL_EPHEMERAL_INFO = b"Hush_v2_SealEphemeralSecret"
SEAL_SENDER_INFO = b"Hush_v2_SealSender"
SEAL_INNER_INFO = b"Hush_v2_SealInner"
SEALED_VERSION = 2
SEAL_HEADER_LEN = 1 + 32 + 32 + 16
SEAL_OVERHEAD = SEAL_HEADER_LEN + 16
SHARED_SEAL_VERSION = 3
SHARED_SECRET_INFO = b"Hush_v1_SharedSecret"
SHARED_MESSAGE_INFO = b"Hush_v1_SharedMessage"
SHARED_WRAP_INFO = b"Hush_v1_SharedWrap"
SHARED_PART_LEN = 1 + 32 + 16
SHARED_BODY_HEADER_LEN = 1 + 32
SHARED_BODY_OVERHEAD = SHARED_BODY_HEADER_LEN + 16
MAX_SHARED_RECIPIENTS = 1000
SALT_LEN, TAG_LEN = 16, 16
MESSAGE_HEADER_LEN = 58
MAX_PLAINTEXT_LEN = 1 << 20
MAX_CIPHERTEXT_LEN = MAX_PLAINTEXT_LEN + TAG_LEN
MAX_ADDRESS_LEN = 255
MAX_SKIP = 2000
MAX_SKIPPED_KEYS = 2000
MAX_RECEIVING_CHAINS = 5
MAX_GROUP_SKIPPED_KEYS = 2000
MAX_BASE_KEYS_PER_SIGNED_PREKEY = 2000
DAY = 24 * 60 * 60
SIGNED_PREKEY_ROTATION, SIGNED_PREKEY_GRACE = 7 * DAY, 14 * DAY
MAX_SIGNED_PREKEY_CLOCK_SKEW = DAY
SAFETY_ITERATIONS = 5200

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

H = bytes.fromhex


def hx(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


# ---------------------------------------------------------------------------------------------
# Errors: the spec's error variant names


class HushError(Exception):
    """A refusal, named as in SPEC.md (`Unauthenticated`, `Duplicate`, ...)."""

    def __init__(self, variant: str, field: str | None = None, key_error: str | None = None):
        super().__init__(variant)
        self.variant, self.field, self.key_error = variant, field, key_error


class KeyRefused(Exception):
    def __init__(self, variant: str):
        super().__init__(variant)
        self.variant = variant


class Replay:
    """Hands out the random bytes a vector recorded for one operation, in order."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise AssertionError(f"operation drew more random bytes than recorded ({len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def done(self) -> bool:
        return self.pos == len(self.data)


# ---------------------------------------------------------------------------------------------
# Primitives (SPEC.md §3)

KDF_CK_CALLS = 0  # counts chain-key derivations, to check "refused before deriving"

LOW_ORDER = [
    bytes(32),
    b"\x01" + bytes(31),
    H("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    H("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    H("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


def check_x25519_public(u: bytes) -> None:
    if u[31] & 0x80 or int.from_bytes(u, "little") >= P:
        raise KeyRefused("NonCanonical")
    if u in LOW_ORDER:
        raise KeyRefused("LowOrder")


def x25519(secret: bytes, public: bytes) -> bytes:
    check_x25519_public(public)
    try:
        shared = X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:  # OpenSSL refuses an all-zero result itself
        raise KeyRefused("NonContributory")
    if shared == bytes(32):
        raise KeyRefused("NonContributory")
    return shared


def x25519_base(secret: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()


def hkdf(salt: bytes | None, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def aead_seal(key: bytes, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, ad)


def aead_open(key: bytes, nonce: bytes, ad: bytes, ciphertext: bytes) -> bytes:
    if len(ciphertext) < TAG_LEN:
        raise InvalidTag()
    return AESGCM(key).decrypt(nonce, ciphertext, ad)


def _inv(x: int) -> int:
    return pow(x, P - 2, P)


def _ed_add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + y1 * x2) * _inv(1 + t) % P, (y1 * y2 + x1 * x2) * _inv(1 - t) % P)


def ed25519_point(encoded: bytes):
    """Decodes an Ed25519 public key as IdentityKey does: canonical, on the curve, not small order."""
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    sign = encoded[31] >> 7
    if y >= P:
        raise KeyRefused("InvalidEd25519")
    x2 = (y * y - 1) * _inv(D * y * y + 1) % P
    x = pow(x2, (P + 3) // 8, P)
    if x * x % P != x2:
        x = x * SQRT_M1 % P
    if x * x % P != x2:
        raise KeyRefused("InvalidEd25519")
    if x == 0 and sign:
        raise KeyRefused("InvalidEd25519")
    if x & 1 != sign:
        x = P - x
    point = (x, y)
    small = point
    for _ in range(3):
        small = _ed_add(small, small)
    if small == (0, 1):
        raise KeyRefused("InvalidEd25519")
    return point


def identity_to_x25519(identity: bytes) -> bytes:
    """u = (1 + y) / (1 - y) mod p, then the X25519 public-key checks."""
    _, y = ed25519_point(identity)
    u = (1 + y) * _inv((1 - y) % P) % P
    out = u.to_bytes(32, "little")
    check_x25519_public(out)
    return out


def ed25519_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


L_ORDER = 2**252 + 27742317777372353535851937790883648493


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        ed25519_point(public)
        ed25519_point(signature[:32])  # R: canonical, not small order (strict)
    except KeyRefused:
        return False
    if int.from_bytes(signature[32:], "little") >= L_ORDER:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def identity_x25519_secret(seed: bytes) -> bytes:
    return hashlib.sha512(seed).digest()[:32]


# ---------------------------------------------------------------------------------------------
# KDFs (SPEC.md §5, §6)


def x3dh_kdf(dhs: list[bytes], kem_shared: bytes | None = None) -> bytes:
    if kem_shared is None:
        return hkdf(bytes(32), b"\xff" * 32 + b"".join(dhs), X3DH_INFO, 32)
    return hkdf(bytes(32), b"\xff" * 32 + b"".join(dhs) + kem_shared, PQXDH_INFO, 32)


# ---------------------------------------------------------------------------------------------
# ML-KEM-1024 (SPEC.md §17.1): kyber-py's FIPS 203 internals, the input check written here


def kem_check_public(ek: bytes) -> None:
    """FIPS 203 §7.2: 1568 bytes, and every 12-bit coefficient of ek[0:1536] below q = 3329."""
    if len(ek) != KEM_PUBLIC_KEY_LEN:
        raise KeyRefused("InvalidKemKey")
    for i in range(0, 1536, 3):
        b0, b1, b2 = ek[i], ek[i + 1], ek[i + 2]
        if (b0 | (b1 & 0x0F) << 8) >= 3329 or (b1 >> 4 | b2 << 4) >= 3329:
            raise KeyRefused("InvalidKemKey")


def kem_keygen(seed: bytes) -> tuple[bytes, bytes]:
    """KeyGen_internal(d, z) with seed = d || z: (ek, dk)."""
    return ML_KEM_1024._keygen_internal(seed[:32], seed[32:])


def kem_encaps(ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """Encaps_internal(ek, m): (ciphertext, shared secret)."""
    kem_check_public(ek)
    shared, ciphertext = ML_KEM_1024._encaps_internal(ek, m)
    return ciphertext, shared


def kem_decaps(seed: bytes, ciphertext: bytes) -> bytes:
    return ML_KEM_1024.decaps(kem_keygen(seed)[1], ciphertext)


def kem_prekey_message(kind: int, kem_id: int, ek: bytes) -> bytes:
    return bytes([KEM_ALGORITHM_ML_KEM_1024, kind]) + u32(kem_id) + ek


def kdf_rk(root_key: bytes, dh_out: bytes) -> tuple[bytes, bytes]:
    out = hkdf(root_key, dh_out, RATCHET_INFO, 64)
    return out[:32], out[32:]


def kdf_ck(chain_key: bytes) -> tuple[bytes, bytes]:
    global KDF_CK_CALLS
    KDF_CK_CALLS += 1
    return hmac_sha256(chain_key, b"\x01"), hmac_sha256(chain_key, b"\x02")


def synthetic_salt(message_key: bytes, label: bytes, random: bytes, plaintext: bytes) -> bytes:
    """SPEC.md §7.2: SALT(mk, label, random, plaintext) = HMAC(mk, label || random || plaintext)[0..16]."""
    assert len(random) == SALT_LEN
    return hmac_sha256(message_key, label + random + plaintext)[:SALT_LEN]


def expand_message_key(message_key: bytes, salt: bytes, info: bytes) -> tuple[bytes, bytes]:
    out = hkdf(salt, message_key, info, 44)
    return out[:32], out[32:]


def session_ad(ik_a: bytes, addr_a: bytes, ik_b: bytes, addr_b: bytes) -> bytes:
    return ik_a + ik_b + struct.pack(">H", len(addr_a)) + addr_a + struct.pack(">H", len(addr_b)) + addr_b


def aead_ad(sess_ad: bytes, header: bytes) -> bytes:
    return u32(len(sess_ad)) + sess_ad + header


# ---------------------------------------------------------------------------------------------
# Wire encodings (SPEC.md §8)


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, field: str, n: int) -> bytes:
        if len(self.data) - self.pos < n:
            raise HushError("Truncated", field)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, field):
        return self.take(field, 1)[0]

    def u16(self, field):
        return struct.unpack(">H", self.take(field, 2))[0]

    def u32(self, field):
        return struct.unpack(">I", self.take(field, 4))[0]

    def u64(self, field):
        return struct.unpack(">Q", self.take(field, 8))[0]

    def header(self, expected_type: int, versions=(VERSION,)) -> int:
        version = self.u8("version")
        if version not in versions:
            raise HushError("UnsupportedVersion")
        if self.u8("type") != expected_type:
            raise HushError("UnexpectedType")
        return version

    def kem_algorithm(self):
        value = self.u8("kem_algorithm")
        if value != KEM_ALGORITHM_ML_KEM_1024:
            raise HushError("InvalidFlag", "kem_algorithm")

    def kem_kind(self) -> int:
        value = self.u8("kem_prekey_kind")
        if value not in (KEM_ONE_TIME, KEM_LAST_RESORT):
            raise HushError("InvalidFlag", "kem_prekey_kind")
        return value

    def kem_key(self, field) -> bytes:
        key = self.take(field, KEM_PUBLIC_KEY_LEN)
        try:
            kem_check_public(key)
        except KeyRefused as e:
            raise HushError("InvalidKey", field, e.variant)
        return key

    def flag(self, field):
        value = self.u8(field)
        if value not in (0, 1):
            raise HushError("InvalidFlag", field)
        return value == 1

    def bytes_u16(self, field, maximum):
        n = self.u16(field)
        if n > maximum:
            raise HushError("TooLong", field)
        return self.take(field, n)

    def bytes_u32(self, field, minimum, maximum):
        n = self.u32(field)
        if n > maximum:
            raise HushError("TooLong", field)
        if n < minimum:
            raise HushError("TooShort", field)
        return self.take(field, n)

    def curve_key(self, field):
        key = self.take(field, 32)
        try:
            check_x25519_public(key)
        except KeyRefused as e:
            raise HushError("InvalidKey", field, e.variant)
        return key

    def identity_key(self, field):
        key = self.take(field, 32)
        try:
            ed25519_point(key)
        except KeyRefused as e:
            raise HushError("InvalidKey", field, e.variant)
        return key

    def finish(self):
        if self.pos != len(self.data):
            raise HushError("TrailingBytes")


@dataclass
class Message:
    ratchet_key: bytes
    previous_counter: int
    counter: int
    salt: bytes
    ciphertext: bytes

    def header(self) -> bytes:
        return (
            bytes([VERSION, TYPE_MESSAGE])
            + self.ratchet_key
            + u32(self.previous_counter)
            + u32(self.counter)
            + self.salt
        )

    def encode(self) -> bytes:
        return self.header() + u32(len(self.ciphertext)) + self.ciphertext

    @staticmethod
    def decode(data: bytes) -> "Message":
        r = Reader(data)
        r.header(TYPE_MESSAGE)
        m = Message(
            r.curve_key("ratchet_key"),
            r.u32("previous_counter"),
            r.u32("counter"),
            r.take("salt", SALT_LEN),
            r.bytes_u32("ciphertext", TAG_LEN, MAX_CIPHERTEXT_LEN),
        )
        r.finish()
        return m


@dataclass
class PreKeyMessage:
    identity_key: bytes
    base_key: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None
    sender_address: bytes
    message: Message
    kem: tuple[int, int, bytes] | None = None  # PQXDH (§17.4): (kind, id, ciphertext)

    def encode(self) -> bytes:
        version = VERSION if self.kem is None else PQXDH_VERSION
        out = bytes([version, TYPE_PREKEY_MESSAGE]) + self.identity_key + self.base_key + u32(self.signed_prekey_id)
        out += b"\x00" if self.one_time_prekey_id is None else b"\x01" + u32(self.one_time_prekey_id)
        if self.kem is not None:
            kind, kem_id, ciphertext = self.kem
            out += bytes([KEM_ALGORITHM_ML_KEM_1024, kind]) + u32(kem_id) + ciphertext
        inner = self.message.encode()
        return out + struct.pack(">H", len(self.sender_address)) + self.sender_address + u32(len(inner)) + inner

    @staticmethod
    def decode(data: bytes) -> "PreKeyMessage":
        r = Reader(data)
        version = r.header(TYPE_PREKEY_MESSAGE, (VERSION, PQXDH_VERSION))
        identity = r.identity_key("identity_key")
        base = r.curve_key("base_key")
        spk_id = r.u32("signed_prekey_id")
        otk_id = r.u32("one_time_prekey_id") if r.flag("has_one_time_prekey") else None
        kem = None
        if version == PQXDH_VERSION:
            r.kem_algorithm()
            kem = (r.kem_kind(), r.u32("kem_prekey_id"), r.take("kem_ciphertext", KEM_CIPHERTEXT_LEN))
        address = r.bytes_u16("sender_address", MAX_ADDRESS_LEN)
        inner = r.bytes_u32(
            "message", MESSAGE_HEADER_LEN + 4 + TAG_LEN, MESSAGE_HEADER_LEN + 4 + MAX_CIPHERTEXT_LEN
        )
        r.finish()
        return PreKeyMessage(identity, base, spk_id, otk_id, address, Message.decode(inner), kem)


def decode_whole(data: bytes, expected_type: int, read):
    """Header (version 1), the fields `read` reads, nothing after them."""
    r = Reader(data)
    r.header(expected_type)
    value = read(r)
    r.finish()
    return value


def decode_session_message(data: bytes):
    if len(data) > 1 and data[1] == TYPE_PREKEY_MESSAGE:
        return PreKeyMessage.decode(data)
    return Message.decode(data)


@dataclass
class PreKeyBundle:
    identity_key: bytes
    spk_id: int
    spk_created_at: int
    spk: bytes
    spk_signature: bytes
    otk_id: int | None
    otk: bytes | None

    def encode(self) -> bytes:
        out = bytes([VERSION, TYPE_PREKEY_BUNDLE]) + self.identity_key + u32(self.spk_id)
        out += struct.pack(">Q", self.spk_created_at) + self.spk + self.spk_signature
        return out + (b"\x00" if self.otk_id is None else b"\x01" + u32(self.otk_id) + self.otk)

    @staticmethod
    def decode(data: bytes) -> "PreKeyBundle":
        return decode_whole(data, TYPE_PREKEY_BUNDLE, PreKeyBundle.read_fields)

    @staticmethod
    def read_fields(r: Reader) -> "PreKeyBundle":
        identity = r.identity_key("identity_key")
        spk_id = r.u32("signed_prekey_id")
        created = r.u64("signed_prekey_created_at")
        spk = r.curve_key("signed_prekey")
        sig = r.take("signed_prekey_signature", 64)
        otk_id = otk = None
        if r.flag("has_one_time_prekey"):
            otk_id = r.u32("one_time_prekey_id")
            otk = r.curve_key("one_time_prekey")
        return PreKeyBundle(identity, spk_id, created, spk, sig, otk_id, otk)


@dataclass
class KemPreKey:
    """A signed KEM prekey (§17.2)."""

    kind: int
    kem_id: int
    key: bytes
    signature: bytes

    def body(self) -> bytes:
        return kem_prekey_message(self.kind, self.kem_id, self.key) + self.signature

    def encode(self) -> bytes:
        return bytes([VERSION, TYPE_KEM_PREKEY]) + self.body()

    @staticmethod
    def read(r: Reader) -> "KemPreKey":
        r.kem_algorithm()
        return KemPreKey(r.kem_kind(), r.u32("kem_prekey_id"), r.kem_key("kem_prekey"),
                         r.take("kem_prekey_signature", 64))

    @staticmethod
    def decode(data: bytes) -> "KemPreKey":
        return decode_whole(data, TYPE_KEM_PREKEY, KemPreKey.read)

    def verify(self, identity: bytes) -> bool:
        return ed25519_verify(identity, purpose_message(PURPOSE_KEM_PREKEY, kem_prekey_message(
            self.kind, self.kem_id, self.key)), self.signature)


@dataclass
class PqBundle:
    """Version 2 of the bundle (§17.3): the classical fields then a KEM prekey; version 1 has none."""

    bundle: PreKeyBundle
    kem: KemPreKey | None

    def encode(self) -> bytes:
        if self.kem is None:
            return self.bundle.encode()
        return bytes([PQXDH_VERSION]) + self.bundle.encode()[1:] + self.kem.body()

    @staticmethod
    def decode(data: bytes) -> "PqBundle":
        r = Reader(data)
        version = r.header(TYPE_PREKEY_BUNDLE, (VERSION, PQXDH_VERSION))
        bundle = PreKeyBundle.read_fields(r)
        kem = KemPreKey.read(r) if version == PQXDH_VERSION else None
        r.finish()
        return PqBundle(bundle, kem)

    def verify(self) -> None:
        """§17.3's checks after §5's (those are made by create_outbound_session)."""
        if self.kem is None:
            return
        if not self.kem.verify(self.bundle.identity_key):
            raise HushError("BadKemSignature")
        if self.kem.kind == KEM_LAST_RESORT and self.kem.kem_id != self.bundle.spk_id:
            raise HushError("KemPreKeyMismatch")


def signed_prekey_message(spk_id: int, created_at: int, key: bytes) -> bytes:
    return SIGNED_PREKEY_LABEL + u32(spk_id) + struct.pack(">Q", created_at) + key


SENDER_KEY_VERSION = 2


@dataclass
class ChainLabel:
    """SPEC.md §8: the group, the sending device's identity key, the epoch and the chain's id."""
    group_id: bytes
    sender: bytes
    epoch: int
    distribution_id: bytes

    def encode(self) -> bytes:
        return self.group_id + self.sender + struct.pack(">Q", self.epoch) + self.distribution_id

    @staticmethod
    def read(r: "Reader") -> "ChainLabel":
        return ChainLabel(r.take("group_id", 16), r.identity_key("sender"), r.u64("epoch"), r.take("distribution_id", 16))


@dataclass
class SenderKeyMessage:
    label: ChainLabel
    iteration: int
    salt: bytes
    ciphertext: bytes
    signature: bytes

    def header(self) -> bytes:
        return (
            bytes([SENDER_KEY_VERSION, TYPE_SENDER_KEY_MESSAGE])
            + self.label.encode()
            + u32(self.iteration)
            + self.salt
        )

    def signed_bytes(self) -> bytes:
        return self.header() + u32(len(self.ciphertext)) + self.ciphertext

    def encode(self) -> bytes:
        return self.signed_bytes() + self.signature

    @staticmethod
    def decode(data: bytes) -> "SenderKeyMessage":
        r = Reader(data)
        r.header(TYPE_SENDER_KEY_MESSAGE, (SENDER_KEY_VERSION,))
        m = SenderKeyMessage(
            ChainLabel.read(r),
            r.u32("iteration"),
            r.take("salt", SALT_LEN),
            r.bytes_u32("ciphertext", TAG_LEN, MAX_CIPHERTEXT_LEN),
            r.take("signature", 64),
        )
        r.finish()
        return m


@dataclass
class SenderKeyDistribution:
    label: ChainLabel
    iteration: int
    chain_key: bytes
    signing_key: bytes

    def encode(self) -> bytes:
        return (
            bytes([SENDER_KEY_VERSION, TYPE_SENDER_KEY_DISTRIBUTION])
            + self.label.encode()
            + u32(self.iteration)
            + self.chain_key
            + self.signing_key
        )

    @staticmethod
    def decode(data: bytes) -> "SenderKeyDistribution":
        r = Reader(data)
        r.header(TYPE_SENDER_KEY_DISTRIBUTION, (SENDER_KEY_VERSION,))
        d = SenderKeyDistribution(
            ChainLabel.read(r),
            r.u32("iteration"),
            r.take("chain_key", 32),
            r.identity_key("signing_key"),
        )
        r.finish()
        return d


DECODERS = {
    "message": Message.decode,
    "prekey_message": PreKeyMessage.decode,
    "prekey_bundle": PreKeyBundle.decode,
    "sender_key_message": SenderKeyMessage.decode,
    "sender_key_distribution": SenderKeyDistribution.decode,
}


# ---------------------------------------------------------------------------------------------
# Double Ratchet (SPEC.md §6)


@dataclass
class Chain:
    ratchet_key: bytes
    chain_key: bytes | None
    next: int
    evicted_below: int = 0
    skipped: list = field(default_factory=list)  # [(counter, message key)] ascending


def skip(chain_key: bytes, start: int, to: int):
    """Keys start..to-1 (skipped), the key for `to`, and the chain key after it."""
    gap = max(0, to - start)
    if gap > MAX_SKIP:
        raise HushError("TooManySkipped")
    skipped = []
    for n in range(start, to):
        mk, chain_key = kdf_ck(chain_key)
        skipped.append((n, mk))
    mk, chain_key = kdf_ck(chain_key)
    return skipped, mk, chain_key


class Ratchet:
    def __init__(self, root_key: bytes, own_secret: bytes):
        self.root_key = root_key
        self.own_secret = own_secret
        self.own_public = x25519_base(own_secret)
        self.sending: list | None = None  # [chain key, next counter]
        self.previous_sending_length = 0
        self.chains: list[Chain] = []

    @staticmethod
    def init_initiator(sk: bytes, remote_spk: bytes, rng: Replay) -> "Ratchet":
        r = Ratchet(sk, rng.take(32))
        r.root_key, ck = kdf_rk(sk, x25519(r.own_secret, remote_spk))
        r.sending = [ck, 0]
        return r

    @staticmethod
    def init_responder(sk: bytes, spk_secret: bytes) -> "Ratchet":
        return Ratchet(sk, spk_secret)

    def skipped_total(self) -> int:
        return sum(len(c.skipped) for c in self.chains)

    def state(self) -> dict:
        return {
            "root_key": self.root_key.hex(),
            "own_ratchet_secret": self.own_secret.hex(),
            "own_ratchet_key": self.own_public.hex(),
            "sending_chain_key": None if self.sending is None else self.sending[0].hex(),
            "skipped_key_count": self.skipped_total(),
            "receiving_chain_count": len(self.chains),
        }

    def encrypt(self, ad: bytes, plaintext: bytes, rng: Replay) -> Message:
        if len(plaintext) > MAX_PLAINTEXT_LEN:
            raise HushError("PlaintextTooLong")
        chain_key, counter = self.sending
        mk, next_ck = kdf_ck(chain_key)
        salt = synthetic_salt(mk, SALT_LABEL, rng.take(SALT_LEN), plaintext)
        m = Message(self.own_public, self.previous_sending_length, counter, salt, b"")
        key, nonce = expand_message_key(mk, salt, MESSAGE_KEYS_INFO)
        m.ciphertext = aead_seal(key, nonce, aead_ad(ad, m.header()), plaintext)
        self.sending = [next_ck, counter + 1]
        return m

    @staticmethod
    def _open(ad: bytes, m: Message, mk: bytes) -> bytes:
        key, nonce = expand_message_key(mk, m.salt, MESSAGE_KEYS_INFO)
        try:
            return aead_open(key, nonce, aead_ad(ad, m.header()), m.ciphertext)
        except InvalidTag:
            raise HushError("Unauthenticated")

    def _evict(self):
        while self.skipped_total() > MAX_SKIPPED_KEYS:
            chain = next(c for c in self.chains if c.skipped)
            n, _ = chain.skipped.pop(0)
            chain.evicted_below = n + 1

    def decrypt(self, ad: bytes, m: Message, rng: Replay) -> bytes:
        """Works on the live state but changes it only after the tag verifies."""
        chain = next((c for c in self.chains if c.ratchet_key == m.ratchet_key), None)
        if chain is not None:
            if m.counter < chain.next:
                key = next((k for n, k in chain.skipped if n == m.counter), None)
                if key is None:
                    raise HushError("MessageKeyEvicted" if m.counter < chain.evicted_below else "Duplicate")
                plaintext = self._open(ad, m, key)
                chain.skipped = [(n, k) for n, k in chain.skipped if n != m.counter]
                return plaintext
            if chain.chain_key is None:
                raise HushError("Unauthenticated")
            skipped, mk, next_ck = skip(chain.chain_key, chain.next, m.counter)
            plaintext = self._open(ad, m, mk)
            chain.chain_key, chain.next = next_ck, m.counter + 1
            chain.skipped.extend(skipped)
            self._evict()
            return plaintext
        return self._dh_step(ad, m, rng)

    def _dh_step(self, ad: bytes, m: Message, rng: Replay) -> bytes:
        current = self.chains[-1] if self.chains and self.chains[-1].chain_key is not None else None
        closed = None
        if current is not None and m.previous_counter > current.next:
            if m.previous_counter - current.next > MAX_SKIP:
                raise HushError("TooManySkipped")
            closed = (current.chain_key, current.next)
        if m.counter > MAX_SKIP:
            raise HushError("TooManySkipped")
        closed_skipped = skip(closed[0], closed[1], m.previous_counter)[0] if closed else []
        try:
            dh = x25519(self.own_secret, m.ratchet_key)
        except KeyRefused:
            raise HushError("BadRatchetKey")
        root_key, receiving_ck = kdf_rk(self.root_key, dh)
        skipped, mk, next_ck = skip(receiving_ck, 0, m.counter)
        plaintext = self._open(ad, m, mk)
        # Authenticated: the sending half of the step, then commit.
        own_secret = rng.take(32)
        try:
            dh = x25519(own_secret, m.ratchet_key)
        except KeyRefused:
            raise HushError("BadRatchetKey")
        root_key, sending_ck = kdf_rk(root_key, dh)
        if current is not None:
            current.chain_key = None
            current.next = max(current.next, m.previous_counter)
            current.skipped.extend(closed_skipped)
        self.chains.append(Chain(m.ratchet_key, next_ck, m.counter + 1, 0, skipped))
        while len(self.chains) > MAX_RECEIVING_CHAINS:
            self.chains.pop(0)
        self._evict()
        self.previous_sending_length = 0 if self.sending is None else self.sending[1]
        self.sending = [sending_ck, 0]
        self.own_secret, self.own_public = own_secret, x25519_base(own_secret)
        self.root_key = root_key
        return plaintext


class Session:
    def __init__(self, ratchet, ad, local_identity, remote_identity, base_key, initiator, pending):
        self.ratchet, self.ad = ratchet, ad
        self.local_identity, self.remote_identity = local_identity, remote_identity
        self.base_key, self.initiator, self.pending = base_key, initiator, pending

    def encrypt(self, plaintext: bytes, rng: Replay):
        m = self.ratchet.encrypt(self.ad, plaintext, rng)
        if self.pending is None:
            return m
        spk_id, otk_id, local_address, *kem = self.pending
        return PreKeyMessage(self.local_identity, self.base_key, spk_id, otk_id, local_address, m,
                             kem[0] if kem else None)

    def matches(self, pkm: PreKeyMessage) -> bool:
        return not self.initiator and pkm.base_key == self.base_key and pkm.identity_key == self.remote_identity

    def decrypt(self, message, rng: Replay) -> bytes:
        if isinstance(message, PreKeyMessage):
            if not self.matches(message):
                raise HushError("WrongSession")
            message = message.message
        trial = copy.deepcopy(self.ratchet)
        plaintext = trial.decrypt(self.ad, message, rng)
        self.ratchet = trial
        self.pending = None
        return plaintext


class Account:
    """An account rebuilt from the 64 bytes Account::new drew: identity seed, signed-prekey secret."""

    def __init__(self, random64: bytes, now: int):
        self.seed, spk_secret = random64[:32], random64[32:]
        self.identity = ed25519_public(self.seed)
        self.identity_x_secret = identity_x25519_secret(self.seed)
        spk_public = x25519_base(spk_secret)
        signature = ed25519_sign(self.seed, signed_prekey_message(1, now, spk_public))
        self.spks = {1: (now, spk_secret, spk_public, signature)}
        self.otks: dict[int, bytes] = {}
        self.next_otk_id = 1
        # Base keys remembered per signed prekey id (SPEC.md §6.4).
        self.used_base_keys: dict[int, list[bytes]] = {}
        # KEM prekey seeds d || z (§17.2): one-time by id, last-resort by signed prekey id.
        self.kem_one_time: dict[int, bytes] = {}
        self.kem_last_resort: dict[int, bytes] = {}
        self.next_kem_id = 1

    def sign_kem(self, kind: int, kem_id: int, seed: bytes) -> KemPreKey:
        ek, _ = kem_keygen(seed)
        message = purpose_message(PURPOSE_KEM_PREKEY, kem_prekey_message(kind, kem_id, ek))
        return KemPreKey(kind, kem_id, ek, ed25519_sign(self.seed, message))

    def generate_kem_one_time_prekeys(self, count: int, rng: Replay) -> list[KemPreKey]:
        out = []
        for _ in range(count):
            seed = rng.take(64)
            self.kem_one_time[self.next_kem_id] = seed
            out.append(self.sign_kem(KEM_ONE_TIME, self.next_kem_id, seed))
            self.next_kem_id += 1
        return out

    def generate_last_resort_kem_prekey(self, rng: Replay) -> KemPreKey:
        spk_id = max(self.spks)
        self.kem_last_resort[spk_id] = rng.take(64)
        return self.sign_kem(KEM_LAST_RESORT, spk_id, self.kem_last_resort[spk_id])

    def pq_bundle(self, otk_id: int | None, kem_id: int | None) -> PqBundle:
        bundle = self.bundle(otk_id)
        if kem_id is not None:
            kem = self.sign_kem(KEM_ONE_TIME, kem_id, self.kem_one_time[kem_id])
        else:
            kem = self.sign_kem(KEM_LAST_RESORT, bundle.spk_id, self.kem_last_resort[bundle.spk_id])
        return PqBundle(bundle, kem)

    def kem_seed(self, kind: int, kem_id: int) -> bytes | None:
        return (self.kem_one_time if kind == KEM_ONE_TIME else self.kem_last_resort).get(kem_id)

    def generate_one_time_prekeys(self, count: int, rng: Replay) -> list[tuple[int, bytes, bytes]]:
        out = []
        for _ in range(count):
            secret = rng.take(32)
            self.otks[self.next_otk_id] = secret
            out.append((self.next_otk_id, secret, x25519_base(secret)))
            self.next_otk_id += 1
        return out

    def bundle(self, otk_id: int | None) -> PreKeyBundle:
        created, _, spk_public, signature = self.spks[1]
        otk = None if otk_id is None else x25519_base(self.otks[otk_id])
        return PreKeyBundle(self.identity, 1, created, spk_public, signature, otk_id, otk)

    def create_outbound_session(self, local_address, remote_address, bundle: PreKeyBundle, now: int, rng: Replay,
                                kem: KemPreKey | None = None, require_pq: bool = False):
        if kem is None and require_pq:
            raise HushError("ClassicalSetupRefused")
        if now - bundle.spk_created_at >= SIGNED_PREKEY_ROTATION + SIGNED_PREKEY_GRACE:
            raise HushError("SignedPreKeyTooOld")
        if bundle.spk_created_at - now > MAX_SIGNED_PREKEY_CLOCK_SKEW:
            raise HushError("SignedPreKeyInTheFuture")
        if not ed25519_verify(
            bundle.identity_key,
            signed_prekey_message(bundle.spk_id, bundle.spk_created_at, bundle.spk),
            bundle.spk_signature,
        ):
            raise HushError("BadSignature")
        remote_x = identity_to_x25519(bundle.identity_key)
        base_secret = rng.take(32)
        pending = (bundle.spk_id, bundle.otk_id, local_address)
        kem_trace = {}
        if kem is not None:
            m = rng.take(32)
            ciphertext, shared = kem_encaps(kem.key, m)
            pending += ((kem.kind, kem.kem_id, ciphertext),)
            kem_trace = {"m": m, "ciphertext": ciphertext, "ss": shared}
        dhs = [
            x25519(self.identity_x_secret, bundle.spk),
            x25519(base_secret, remote_x),
            x25519(base_secret, bundle.spk),
        ]
        if bundle.otk is not None:
            dhs.append(x25519(base_secret, bundle.otk))
        sk = x3dh_kdf(dhs, kem_trace.get("ss"))
        ratchet = Ratchet.init_initiator(sk, bundle.spk, rng)
        ad = session_ad(self.identity, local_address, bundle.identity_key, remote_address)
        session = Session(
            ratchet, ad, self.identity, bundle.identity_key, x25519_base(base_secret), True, pending,
        )
        return session, {"base_secret": base_secret, "dhs": dhs, "sk": sk, **kem_trace}

    def create_inbound_session(self, local_address: bytes, m: PreKeyMessage, rng: Replay, require_pq: bool = False):
        if m.kem is None and require_pq:
            raise HushError("ClassicalSetupRefused")
        if m.signed_prekey_id not in self.spks:
            raise HushError("UnknownSignedPreKey")
        _, spk_secret, _, _ = self.spks[m.signed_prekey_id]
        if any(m.base_key in keys for keys in self.used_base_keys.values()):
            raise HushError("ReplayedBaseKey")
        remembered = self.used_base_keys.get(m.signed_prekey_id, [])
        full = len(remembered) >= MAX_BASE_KEYS_PER_SIGNED_PREKEY
        otk_secret = None
        one_time_kem = m.kem is not None and m.kem[0] == KEM_ONE_TIME
        if m.one_time_prekey_id is not None:
            if m.one_time_prekey_id not in self.otks:
                raise HushError("UnknownOneTimePreKey")
            otk_secret = self.otks[m.one_time_prekey_id]
        elif full and not one_time_kem:
            raise HushError("ReplayCacheFull")
        kem_shared = None
        if m.kem is not None:
            kind, kem_id, ciphertext = m.kem
            seed = self.kem_seed(kind, kem_id)
            if seed is None:
                raise HushError("UnknownKemPreKey")
            kem_shared = kem_decaps(seed, ciphertext)
        try:
            remote_x = identity_to_x25519(m.identity_key)
            dhs = [
                x25519(spk_secret, remote_x),
                x25519(self.identity_x_secret, m.base_key),
                x25519(spk_secret, m.base_key),
            ]
            if otk_secret is not None:
                dhs.append(x25519(otk_secret, m.base_key))
        except KeyRefused:
            raise HushError("Unauthenticated")
        sk = x3dh_kdf(dhs, kem_shared)
        ad = session_ad(m.identity_key, m.sender_address, self.identity, local_address)
        session = Session(
            Ratchet.init_responder(sk, spk_secret), ad, self.identity, m.identity_key, m.base_key, False, None
        )
        try:
            plaintext = session.decrypt(m, rng)
        except HushError:
            raise HushError("Unauthenticated")
        if m.one_time_prekey_id is not None:
            del self.otks[m.one_time_prekey_id]
        if one_time_kem:
            del self.kem_one_time[m.kem[1]]
        if not full:
            self.used_base_keys.setdefault(m.signed_prekey_id, []).append(m.base_key)
        return session, plaintext, sk


# ---------------------------------------------------------------------------------------------
# Sender keys (SPEC.md §7)


class GroupSender:
    def __init__(self, group_id: bytes, sender: bytes, epoch: int, rng: Replay):
        self.label = ChainLabel(group_id, sender, epoch, rng.take(16))
        self.chain_key = rng.take(32)
        self.signing_seed = rng.take(32)
        self.iteration = 0

    def distribution(self) -> SenderKeyDistribution:
        return SenderKeyDistribution(self.label, self.iteration, self.chain_key, ed25519_public(self.signing_seed))

    def encrypt(self, plaintext: bytes, rng: Replay) -> SenderKeyMessage:
        if len(plaintext) > MAX_PLAINTEXT_LEN:
            raise HushError("PlaintextTooLong")
        mk, next_ck = kdf_ck(self.chain_key)
        salt = synthetic_salt(mk, SENDER_KEY_SALT_LABEL, rng.take(SALT_LEN), plaintext)
        m = SenderKeyMessage(self.label, self.iteration, salt, b"", b"")
        key, nonce = expand_message_key(mk, salt, SENDER_KEY_INFO)
        m.ciphertext = aead_seal(key, nonce, m.header(), plaintext)
        m.signature = ed25519_sign(self.signing_seed, m.signed_bytes())
        self.chain_key, self.iteration = next_ck, self.iteration + 1
        return m


class GroupReceiver:
    def __init__(self, d: SenderKeyDistribution, session_peer: bytes):
        if d.label.sender != session_peer:
            raise HushError("ForwardedDistribution")
        self.label, self.signing_key = d.label, d.signing_key
        self.next, self.chain_key, self.evicted_below = d.iteration, d.chain_key, d.iteration
        self.skipped: list = []

    @staticmethod
    def _open(m: SenderKeyMessage, mk: bytes) -> bytes:
        key, nonce = expand_message_key(mk, m.salt, SENDER_KEY_INFO)
        try:
            return aead_open(key, nonce, m.header(), m.ciphertext)
        except InvalidTag:
            raise HushError("Unauthenticated")

    def decrypt(self, m: SenderKeyMessage) -> bytes:
        for field, error in (("group_id", "WrongGroup"), ("sender", "WrongSender"),
                             ("distribution_id", "WrongChain"), ("epoch", "WrongEpoch")):
            if getattr(m.label, field) != getattr(self.label, field):
                raise HushError(error)
        if not ed25519_verify(self.signing_key, m.signed_bytes(), m.signature):
            raise HushError("BadSignature")
        if m.iteration < self.next:
            key = next((k for n, k in self.skipped if n == m.iteration), None)
            if key is None:
                raise HushError("MessageKeyEvicted" if m.iteration < self.evicted_below else "Duplicate")
            plaintext = self._open(m, key)
            self.skipped = [(n, k) for n, k in self.skipped if n != m.iteration]
            return plaintext
        if m.iteration - self.next > MAX_SKIP:
            raise HushError("TooManySkipped")
        skipped, mk, next_ck = skip(self.chain_key, self.next, m.iteration)
        plaintext = self._open(m, mk)
        self.chain_key, self.next = next_ck, m.iteration + 1
        self.skipped.extend(skipped)
        while len(self.skipped) > MAX_GROUP_SKIPPED_KEYS:
            n, _ = self.skipped.pop(0)
            self.evicted_below = n + 1
        return plaintext


# ---------------------------------------------------------------------------------------------
# Safety numbers (SPEC.md §9)


def fingerprint(identity: bytes, stable_id: bytes) -> bytes:
    h = hashlib.sha512(b"\x00\x00" + identity + stable_id).digest()
    for _ in range(1, SAFETY_ITERATIONS):
        h = hashlib.sha512(h + identity).digest()
    return h


def fingerprint_digits(fp: bytes) -> str:
    return "".join(f"{int.from_bytes(fp[i * 5 : i * 5 + 5], 'big') % 100000:05d}" for i in range(6))


def safety_number(local_id, local_stable, remote_id, remote_stable):
    lf, rf = fingerprint(local_id, local_stable), fingerprint(remote_id, remote_stable)
    ld, rd = fingerprint_digits(lf), fingerprint_digits(rf)
    digits = ld + rd if ld <= rd else rd + ld
    return digits, b"\x01" + lf[:32] + rf[:32]


# ---------------------------------------------------------------------------------------------
# The checks


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name: str, ok: bool, detail: str = ""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}{': ' + detail if detail else ''}")

    def run(self, name: str, fn):
        """Runs fn() -> None|str (a problem); exceptions are failures."""
        try:
            problem = fn()
        except Exception as e:  # noqa: BLE001 - any exception is a failed check
            problem = f"{type(e).__name__}: {e}"
        self.check(name, problem is None, problem or "")


def expect_eq(pairs) -> str | None:
    for label, got, want in pairs:
        if got != want:
            return f"{label}: computed {got!r}, vector has {want!r}"
    return None


def check_identity(report: Report, v: dict):
    for i, case in enumerate(v["cases"]):
        def run(case=case):
            seed = H(case["seed"])
            x_secret = identity_x25519_secret(seed)
            ed = ed25519_public(seed)
            return expect_eq([
                ("ed25519_public", ed.hex(), case["ed25519_public"]),
                ("x25519_secret", x_secret.hex(), case["x25519_secret"]),
                ("x25519_public (map)", identity_to_x25519(ed).hex(), case["x25519_public"]),
                ("x25519_public (base)", x25519_base(x_secret).hex(), case["x25519_public"]),
            ])
        report.run(f"identity.cases[{i}] seed -> Ed25519 -> X25519", run)


def account_from(vector_account: dict, now: int) -> tuple[Account, str | None]:
    acc = Account(H(vector_account["account_new_random"]), now)
    _, spk_secret, spk_public, signature = acc.spks[1]
    return acc, expect_eq([
        ("identity_seed", acc.seed.hex(), vector_account["identity_seed"]),
        ("identity_key", acc.identity.hex(), vector_account["identity_key"]),
        ("identity_x25519_secret", acc.identity_x_secret.hex(), vector_account["identity_x25519_secret"]),
        ("identity_x25519_public", identity_to_x25519(acc.identity).hex(), vector_account["identity_x25519_public"]),
        ("signed_prekey.secret", spk_secret.hex(), vector_account["signed_prekey"]["secret"]),
        ("signed_prekey.public", spk_public.hex(), vector_account["signed_prekey"]["public"]),
        ("signed_prekey.signature", signature.hex(), vector_account["signed_prekey"]["signature"]),
    ])


def otks_from(acc: Account, v: dict) -> str | None:
    rng = Replay(H(v["random"]))
    made = acc.generate_one_time_prekeys(len(v["keys"]), rng)
    if not rng.done():
        return "one-time prekeys drew fewer random bytes than recorded"
    return expect_eq(
        [(f"one_time_prekey {k['id']}", (i, s.hex(), p.hex()), (k["id"], k["secret"], k["public"]))
         for (i, s, p), k in zip(made, v["keys"])]
    )


def check_x3dh(report: Report, v: dict):
    for case in v["cases"]:
        name = f"x3dh.{case['name']}"
        now = case["now"]
        alice_addr, bob_addr = H(case["alice_address"]), H(case["bob_address"])
        st: dict = {}

        def accounts():
            st["alice"], p1 = account_from(case["alice"], now)
            st["bob"], p2 = account_from(case["bob"], now)
            return p1 or p2 or otks_from(st["bob"], case["bob_one_time_prekeys"])
        report.run(f"{name}: accounts and prekeys from their random bytes", accounts)

        def bundle():
            b = st["bob"].bundle(case["bundle_one_time_prekey_id"])
            st["bundle"] = PreKeyBundle.decode(H(case["bundle"]))
            return expect_eq([("bundle bytes", b.encode().hex(), case["bundle"])])
        report.run(f"{name}: PreKeyBundle bytes", bundle)

        def outbound():
            co = case["create_outbound_session"]
            rng = Replay(H(co["random"]))
            session, x = st["alice"].create_outbound_session(alice_addr, bob_addr, st["bundle"], now, rng)
            st["alice_session"] = session
            r = session.ratchet
            dhs = x["dhs"] + [None] * (4 - len(x["dhs"]))
            return expect_eq([
                ("random fully used", rng.done(), True),
                ("base_key_secret", x["base_secret"].hex(), co["base_key_secret"]),
                ("base_key", session.base_key.hex(), co["base_key"]),
                ("dh1", dhs[0].hex(), co["dh1"]),
                ("dh2", dhs[1].hex(), co["dh2"]),
                ("dh3", dhs[2].hex(), co["dh3"]),
                ("dh4", hx(dhs[3]), co["dh4"]),
                ("sk", x["sk"].hex(), co["sk"]),
                ("associated_data", session.ad.hex(), co["associated_data"]),
                ("ratchet_secret", r.own_secret.hex(), co["ratchet_secret"]),
                ("ratchet_key", r.own_public.hex(), co["ratchet_key"]),
                ("ratchet_dh", x25519(r.own_secret, st["bundle"].spk).hex(), co["ratchet_dh"]),
                ("root_key", r.root_key.hex(), co["root_key"]),
                ("sending_chain_key", r.sending[0].hex(), co["sending_chain_key"]),
            ])
        report.run(f"{name}: X3DH initiator (DH1..DH4, SK, AD) and RatchetInitAlice", outbound)

        def first():
            fm = case["first_message"]
            session = st["alice_session"]
            ck = session.ratchet.sending[0]
            rng = Replay(H(fm["random"]))
            pkm = session.encrypt(H(fm["plaintext"]), rng)
            mk, _ = kdf_ck(ck)
            key, nonce = expand_message_key(mk, pkm.message.salt, MESSAGE_KEYS_INFO)
            return expect_eq([
                ("random fully used", rng.done(), True),
                ("message_key", mk.hex(), fm["message_key"]),
                ("salt = SALT(mk, Hush_v1_Salt, random, plaintext)",
                 synthetic_salt(mk, SALT_LABEL, H(fm["random"]), H(fm["plaintext"])).hex(), fm["salt"]),
                ("salt in the header", pkm.message.salt.hex(), fm["salt"]),
                ("aead_key", key.hex(), fm["aead_key"]),
                ("aead_nonce", nonce.hex(), fm["aead_nonce"]),
                ("aead_associated_data", aead_ad(session.ad, pkm.message.header()).hex(), fm["aead_associated_data"]),
                ("PreKeyMessage bytes", pkm.encode().hex(), fm["bytes"]),
                ("state after", session.ratchet.state(), case["alice_state_after_encrypt"]),
            ])
        report.run(f"{name}: first PreKeyMessage bytes", first)

        def inbound():
            bi = case["bob_inbound"]
            rng = Replay(H(bi["random"]))
            m = PreKeyMessage.decode(H(case["first_message"]["bytes"]))
            session, plaintext, sk = st["bob"].create_inbound_session(bob_addr, m, rng)
            return expect_eq([
                ("random fully used", rng.done(), True),
                ("sk", sk.hex(), case["create_outbound_session"]["sk"]),
                ("associated_data", session.ad.hex(), case["create_outbound_session"]["associated_data"]),
                ("plaintext", plaintext.hex(), bi["plaintext"]),
                ("state", session.ratchet.state(), bi["state"]),
            ])
        report.run(f"{name}: X3DH responder and first decrypt", inbound)


class Conversation:
    """Replays a recorded two-party transcript (ratchet.json / negative.json `events`)."""

    def __init__(self, setup: dict):
        self.now = setup["now"]
        self.alice_addr, self.bob_addr = H(setup["alice_address"]), H(setup["bob_address"])
        self.alice, p1 = account_from(setup["alice"], self.now)
        self.bob, p2 = account_from(setup["bob"], self.now)
        p3 = otks_from(self.bob, setup["bob_one_time_prekeys"])
        bundle = self.bob.bundle(setup["bundle_one_time_prekey_id"])
        co = setup["create_outbound_session"]
        rng = Replay(H(co["random"]))
        self.sessions = {}
        self.sessions["alice"], _ = self.alice.create_outbound_session(self.alice_addr, self.bob_addr, bundle, self.now, rng)
        self.setup_problem = p1 or p2 or p3 or expect_eq([
            ("bundle", bundle.encode().hex(), setup["bundle"]),
            ("random fully used", rng.done(), True),
            ("associated_data", self.sessions["alice"].ad.hex(), co["associated_data"]),
            ("state", self.sessions["alice"].ratchet.state(), co["state"]),
        ])
        self.sent: list[bytes] = []

    def encrypt(self, party: str, plaintext: bytes, random: bytes) -> tuple[bytes, dict]:
        rng = Replay(random)
        session = self.sessions[party]
        out = session.encrypt(plaintext, rng).encode()
        assert rng.done(), "encrypt drew fewer random bytes than recorded"
        return out, session.ratchet.state()

    def receive(self, party: str, data: bytes, random: bytes):
        """-> (result variant or 'ok', plaintext, state after)."""
        rng = Replay(random)
        try:
            message = decode_session_message(data)
            if party == "bob" and "bob" not in self.sessions:
                if not isinstance(message, PreKeyMessage):
                    raise HushError("NoSession")
                self.sessions["bob"], plaintext, _ = self.bob.create_inbound_session(self.bob_addr, message, rng)
            else:
                plaintext = self.sessions[party].decrypt(message, rng)
            result = "ok"
        except HushError as e:
            result, plaintext = e.variant, None
        assert rng.done(), "decrypt drew a different number of random bytes than recorded"
        return result, plaintext, self.sessions[party].ratchet.state()


def salt_of(data: bytes) -> bytes:
    message = decode_session_message(data)
    return (message.message if isinstance(message, PreKeyMessage) else message).salt


def replay_events(report: Report, prefix: str, conv: Conversation, messages: list, events: list):
    for i, ev in enumerate(events):
        def run(ev=ev):
            msg = messages[ev["message"]]
            if ev["op"] == "encrypt":
                data, state = conv.encrypt(ev["party"], H(msg["plaintext"]), H(ev["random"]))
                conv.sent.append(data)
                return expect_eq([
                    ("synthetic salt in the header", salt_of(data).hex(), msg["salt"]),
                    ("message bytes", data.hex(), msg["bytes"]),
                    ("state after", state, ev["state_after"]),
                ])
            data = conv.sent[ev["message"]]
            result, plaintext, state = conv.receive(ev["party"], data, H(ev["random"]))
            return expect_eq([
                ("result", result, ev["result"]),
                ("plaintext", hx(plaintext), ev.get("plaintext")),
                ("plaintext is the sent one", plaintext is None or plaintext.hex() == msg["plaintext"], True),
                ("state after", state, ev["state_after"]),
            ])
        kind = f"{ev['op']} #{ev['message']} by {ev['party']}"
        if ev["op"] == "decrypt" and ev["random"]:
            kind += " (DH step)"
        if ev["op"] == "decrypt" and ev["result"] != "ok":
            kind += f" -> {ev['result']}"
        report.run(f"{prefix}.events[{i}] {kind}", run)


def check_ratchet(report: Report, v: dict):
    conv = Conversation(v["setup"])
    report.check("ratchet.setup: accounts, bundle, outbound session", conv.setup_problem is None, conv.setup_problem or "")
    replay_events(report, "ratchet", conv, v["messages"], v["events"])
    decrypts = [e for e in v["events"] if e["op"] == "decrypt"]
    steps = sum(1 for e in decrypts if e["random"] and e["result"] == "ok")
    order = [e["message"] for e in decrypts]
    report.check(
        "ratchet: >= 50 messages, >= 5 DH steps, out-of-order delivery",
        len(v["messages"]) >= 50 and steps >= 5 and steps == v["dh_steps"] and order == v["delivery_order"]
        and any(a > b for a, b in zip(order, order[1:])),
        f"{len(v['messages'])} messages, {steps} DH steps",
    )


def check_negative(report: Report, v: dict):
    conv = Conversation(v["setup"])
    report.check("negative.setup: accounts, bundle, outbound session", conv.setup_problem is None, conv.setup_problem or "")
    replay_events(report, "negative.setup", conv, v["messages"], v["events"])
    for i, case in enumerate(v["cases"]):
        def run(case=case):
            data = H(case["bytes"])
            before_session = copy.deepcopy(conv.sessions["bob"].ratchet.state())
            before_account = (dict(conv.bob.otks), copy.deepcopy(conv.bob.used_base_keys))
            calls = KDF_CK_CALLS
            rng = Replay(H(case["random"]))
            plaintext = None
            try:
                if case["target"] == "bob_session":
                    plaintext = conv.sessions["bob"].decrypt(decode_session_message(data), rng)
                else:
                    _, plaintext, _ = conv.bob.create_inbound_session(conv.bob_addr, PreKeyMessage.decode(data), rng)
                result = "ok"
            except HushError as e:
                result = e.variant
            problems = [
                ("result", result, case["result"]),
                ("random fully used", rng.done(), True),
                ("plaintext", hx(plaintext), case.get("plaintext")),
                ("state after", conv.sessions["bob"].ratchet.state(), case["state_after"]),
            ]
            if result != "ok":
                problems.append(("session unchanged", conv.sessions["bob"].ratchet.state(), before_session))
                problems.append(("account unchanged", (conv.bob.otks, conv.bob.used_base_keys), before_account))
            if result == "TooManySkipped":
                problems.append(("chain keys derived before refusing", KDF_CK_CALLS - calls, 0))
            return expect_eq(problems)
        report.run(f"negative.cases[{i}] {case['name']} -> {case['result']}", run)


def check_group(report: Report, v: dict):
    st: dict = {}

    def sender():
        gs = v["group_sender_new"]
        rng = Replay(H(gs["random"]))
        sender = ed25519_public(H(v["sender_seed"]))
        st["sender"] = s = GroupSender(H(v["group_id"]), sender, v["epoch"], rng)
        return expect_eq([
            ("random fully used", rng.done(), True),
            ("sender = identity key of sender_seed", sender.hex(), v["sender"]),
            ("other_member = identity key of other_member_seed", ed25519_public(H(v["other_member_seed"])).hex(),
             v["other_member"]),
            ("distribution_id", s.label.distribution_id.hex(), gs["distribution_id"]),
            ("chain_key", s.chain_key.hex(), gs["chain_key"]),
            ("signing_seed", s.signing_seed.hex(), gs["signing_seed"]),
            ("signing_key", ed25519_public(s.signing_seed).hex(), gs["signing_key"]),
            ("distribution bytes", s.distribution().encode().hex(), v["distribution"]),
        ])
    report.run("group: GroupSender::new and SenderKeyDistribution", sender)

    for i, m in enumerate(v["messages"]):
        def run(m=m):
            s = st["sender"]
            late = None
            if s.iteration == 3:
                late = s.distribution().encode().hex()
            ck = s.chain_key
            rng = Replay(H(m["random"]))
            out = s.encrypt(H(m["plaintext"]), rng)
            problems = [
                ("random fully used", rng.done(), True),
                ("chain_key", ck.hex(), m["chain_key"]),
                ("message_key", kdf_ck(ck)[0].hex(), m["message_key"]),
                ("salt = SALT(mk, Hush_v1_SenderKeySalt, random, plaintext)", out.salt.hex(), m["salt"]),
                ("bytes", out.encode().hex(), m["bytes"]),
            ]
            if late is not None:
                problems.append(("late distribution", late, v["late_distribution"]))
            return expect_eq(problems)
        report.run(f"group.messages[{i}] encrypt iteration {m['iteration']}", run)

    def forwarded():
        f = v["forwarded"]
        try:
            GroupReceiver(SenderKeyDistribution.decode(H(v[f["distribution"]])), H(f["session_peer"]))
            result = "ok"
        except HushError as e:
            result = e.variant
        return expect_eq([("result", result, f["result"])])
    report.run(f"group.forwarded distribution over another member's session -> {v['forwarded']['result']}", forwarded)

    receivers = {
        which: GroupReceiver(SenderKeyDistribution.decode(H(v[r["distribution"]])), H(v[r["session_peer"]]))
        for which, r in (("a", v["receiver_a"]), ("b", v["receiver_b"]))
    }

    def attempt(receiver: GroupReceiver, data: bytes):
        try:
            return "ok", receiver.decrypt(SenderKeyMessage.decode(data))
        except HushError as e:
            return e.variant, None

    for which in ("a", "b"):
        for i, d in enumerate(v[f"receiver_{which}"]["deliveries"]):
            def run(d=d, which=which):
                r = receivers[which]
                result, plaintext = attempt(r, H(v["messages"][d["message"]]["bytes"]))
                return expect_eq([
                    ("result", result, d["result"]),
                    ("plaintext", hx(plaintext), d.get("plaintext")),
                    ("plaintext is the sent one", plaintext is None or plaintext.hex() == v["messages"][d["message"]]["plaintext"], True),
                    ("skipped_key_count", len(r.skipped), d["skipped_key_count"]),
                ])
            report.run(f"group.receiver_{which}.deliveries[{i}] message {d['message']} -> {d['result']}", run)

    for i, case in enumerate(v["refused"]):
        def run(case=case):
            r = receivers[case["receiver"]]
            before = copy.deepcopy(r.__dict__)
            calls = KDF_CK_CALLS
            result, _ = attempt(r, H(case["bytes"]))
            problems = [("result", result, case["result"])]
            if result != "ok":
                problems.append(("receiver unchanged", r.__dict__, before))
            if result in ("TooManySkipped", "BadSignature", "WrongChain", "WrongGroup", "WrongSender", "WrongEpoch"):
                problems.append(("chain keys derived before refusing", KDF_CK_CALLS - calls, 0))
            return expect_eq(problems)
        report.run(f"group.refused[{i}] {case['name']} -> {case['result']}", run)


def check_safety(report: Report, v: dict):
    for i, c in enumerate(v["cases"]):
        def run(c=c):
            alice, bob = ed25519_public(H(c["alice_seed"])), ed25519_public(H(c["bob_seed"]))
            digits_a, qr_a = safety_number(alice, H(c["alice_stable_id"]), bob, H(c["bob_stable_id"]))
            digits_b, qr_b = safety_number(bob, H(c["bob_stable_id"]), alice, H(c["alice_stable_id"]))
            return expect_eq([
                ("alice_identity", alice.hex(), c["alice_identity"]),
                ("bob_identity", bob.hex(), c["bob_identity"]),
                ("digits (alice)", digits_a, c["digits"]),
                ("digits (bob)", digits_b, c["digits"]),
                ("display", " ".join(digits_a[j : j + 5] for j in range(0, 60, 5)), c["display"]),
                ("qr_alice", qr_a.hex(), c["qr_alice"]),
                ("qr_bob", qr_b.hex(), c["qr_bob"]),
                ("qr cross-match", (qr_a[1:33], qr_a[33:]), (qr_b[33:], qr_b[1:33])),
            ])
        report.run(f"safety.cases[{i}] 60 digits and QR bytes, both sides", run)


# ---------------------------------------------------------------------------------------------
# Sealed sender (SPEC.md §15)


def seal_ephemeral(r: bytes, static_shared: bytes, sender: bytes, recipient: bytes, inner: bytes):
    """Seal step 3: -> (info, inner digest, e)."""
    digest = hashlib.sha256(inner).digest()
    info = SEAL_EPHEMERAL_INFO + sender + recipient + digest
    return info, digest, hkdf(r, static_shared, info, 32)


def seal_layer1(ephemeral_shared: bytes, ephemeral: bytes, recipient: bytes):
    """Seal step 4's keys: -> (info, chain_key, sender_key, sender_nonce, sender_ad)."""
    info = SEAL_SENDER_INFO + ephemeral + recipient
    okm = hkdf(bytes(32), ephemeral_shared, info, 76)
    return info, okm[:32], okm[32:64], okm[64:76], bytes([SEALED_VERSION]) + ephemeral + recipient


def seal_layer2(chain_key: bytes, static_shared: bytes, ephemeral: bytes, recipient: bytes, sender: bytes,
                sender_box: bytes):
    """Seal step 5's keys: -> (info, inner_key, inner_nonce)."""
    info = SEAL_INNER_INFO + ephemeral + recipient + sender + sender_box
    okm = hkdf(chain_key, static_shared, info, 44)
    return info, okm[:32], okm[32:44]


def seal_trace(sender_seed: bytes, recipient: bytes, inner: bytes, rng: Replay) -> dict:
    """seal(sender_account, IK_R, inner), every intermediate value by its vector name."""
    t = {"random": rng.take(32)}
    sender = ed25519_public(sender_seed)
    recipient_x = identity_to_x25519(recipient)
    t["static_shared_secret"] = x25519(identity_x25519_secret(sender_seed), recipient_x)
    t["ephemeral_hkdf_info"], t["inner_sha256"], e = seal_ephemeral(
        t["random"], t["static_shared_secret"], sender, recipient, inner)
    t["ephemeral_secret"] = e
    t["ephemeral_public"] = ephemeral = x25519_base(e)
    t["ephemeral_shared_secret"] = x25519(e, recipient_x)
    (t["sender_hkdf_info"], t["chain_key"], t["sender_key"], t["sender_nonce"],
     t["sender_associated_data"]) = seal_layer1(t["ephemeral_shared_secret"], ephemeral, recipient)
    t["sender_box"] = aead_seal(t["sender_key"], t["sender_nonce"], t["sender_associated_data"], sender)
    header = bytes([SEALED_VERSION]) + ephemeral + t["sender_box"]
    t["inner_hkdf_info"], t["inner_key"], t["inner_nonce"] = seal_layer2(
        t["chain_key"], t["static_shared_secret"], ephemeral, recipient, sender, t["sender_box"])
    t["inner_associated_data"] = header + recipient
    t["inner_box"] = aead_seal(t["inner_key"], t["inner_nonce"], t["inner_associated_data"], inner)
    t["sealed"] = header + t["inner_box"]
    return t


def open_layer1(seed: bytes, sealed: bytes) -> tuple[bytes, bytes]:
    """Open steps 1-4 for the account with identity seed `seed`: -> (claimed IK_S, chain_key)."""
    if len(sealed) < SEAL_OVERHEAD:
        raise HushError("TooShort")
    if sealed[0] != SEALED_VERSION:
        raise HushError("UnknownVersion")
    ephemeral = sealed[1:33]
    recipient = ed25519_public(seed)
    try:
        ephemeral_shared = x25519(identity_x25519_secret(seed), ephemeral)
    except KeyRefused as e:
        raise HushError("Key", key_error=e.variant)
    _, chain_key, key, nonce, ad = seal_layer1(ephemeral_shared, ephemeral, recipient)
    try:
        sender = aead_open(key, nonce, ad, sealed[33:SEAL_HEADER_LEN])
        ed25519_point(sender)
    except (InvalidTag, KeyRefused):
        raise HushError("Unauthenticated")
    if len(sender) != 32:
        raise HushError("Unauthenticated")
    return sender, chain_key


def open_layer2(seed: bytes, sealed: bytes, sender: bytes, chain_key: bytes, static_shared: bytes) -> bytes:
    """Open step 6 with a given static DH output: -> inner."""
    recipient = ed25519_public(seed)
    _, key, nonce = seal_layer2(chain_key, static_shared, sealed[1:33], recipient, sender,
                                sealed[33:SEAL_HEADER_LEN])
    try:
        return aead_open(key, nonce, sealed[:SEAL_HEADER_LEN] + recipient, sealed[SEAL_HEADER_LEN:])
    except InvalidTag:
        raise HushError("Unauthenticated")


def open_sealed(seed: bytes, sealed: bytes) -> tuple[bytes, bytes]:
    """Account::open_sealed for the account with identity seed `seed`: -> (sender, inner)."""
    sender, chain_key = open_layer1(seed, sealed)
    try:
        static_shared = x25519(identity_x25519_secret(seed), identity_to_x25519(sender))
    except KeyRefused:
        raise HushError("Unauthenticated")
    return sender, open_layer2(seed, sealed, sender, chain_key, static_shared)


def check_sealed(report: Report, v: dict):
    seeds = {"other": H(v["other_seed"])}
    problem = expect_eq([("other_identity", ed25519_public(seeds["other"]).hex(), v["other_identity"]),
                         ("seal_overhead", SEAL_OVERHEAD, v["seal_overhead"])])
    report.check("sealed: other identity and overhead", problem is None, problem or "")
    for i, c in enumerate(v["cases"]):
        def run(c=c):
            sender_seed, recipient_seed = H(c["sender_seed"]), H(c["recipient_seed"])
            sender, recipient = ed25519_public(sender_seed), ed25519_public(recipient_seed)
            inner = H(c["inner"])
            rng = Replay(H(c["random"]))
            t = seal_trace(sender_seed, recipient, inner, rng)
            # The recipient's side: its static DH from its own secret agrees with the sender's.
            static_r = x25519(identity_x25519_secret(recipient_seed), identity_to_x25519(sender))
            opened_sender, opened_inner = open_sealed(recipient_seed, H(c["sealed"]))
            return expect_eq([
                ("random fully used", rng.done(), True),
                ("sender_identity", sender.hex(), c["sender_identity"]),
                ("sender_x25519_public", identity_to_x25519(sender).hex(), c["sender_x25519_public"]),
                ("recipient_identity", recipient.hex(), c["recipient_identity"]),
                ("recipient_x25519_public", identity_to_x25519(recipient).hex(), c["recipient_x25519_public"]),
                ("static_shared_secret (recipient side)", static_r.hex(), c["static_shared_secret"]),
            ] + [(name, t[name].hex(), c[name]) for name in (
                "random", "static_shared_secret", "inner_sha256", "ephemeral_hkdf_info", "ephemeral_secret",
                "ephemeral_public", "ephemeral_shared_secret", "sender_hkdf_info", "chain_key", "sender_key",
                "sender_nonce", "sender_associated_data", "sender_box", "inner_hkdf_info", "inner_key",
                "inner_nonce", "inner_associated_data", "inner_box", "sealed")] + [
                ("length", len(t["sealed"]), SEAL_OVERHEAD + len(inner)),
                ("opened.sender", opened_sender.hex(), c["opened"]["sender"]),
                ("opened.inner", opened_inner.hex(), c["opened"]["inner"]),
                ("opened is the sealed", (opened_sender, opened_inner), (sender, inner)),
            ])
        report.run(f"sealed.cases[{i}] {c['name']}: seal ({len(c['inner']) // 2}-byte inner) and open", run)

    text_case = next(c for c in v["cases"] if c["name"] == "text_inner")
    for i, case in enumerate(v["refused"]):
        def run(case=case):
            seed = H(case["opened_by_seed"])
            data = H(case["bytes"])
            problems = []
            if case["opened_by"] == "other":
                problems.append(("opened_by_seed is other_seed", seed, seeds["other"]))
            try:
                open_sealed(seed, data)
                return "opened"
            except HushError as e:
                problems += [("error", e.variant, case["error"]), ("key_error", e.key_error, case.get("key_error"))]
            recipient = ed25519_public(seed)
            if case["name"] == "sender_field_not_an_identity_key":
                # The refusal must come from the sender field, not from layer 1's tag.
                e = H(v["bad_sender_ephemeral_secret"])
                shared = x25519(e, identity_to_x25519(recipient))
                _, _, key, nonce, ad = seal_layer1(shared, x25519_base(e), recipient)
                problems += [("ephemeral key", data[1:33], x25519_base(e)),
                             ("sender field", aead_open(key, nonce, ad, data[33:81]).hex(), "01" + "00" * 31)]
            if case["name"] == "forged_claim_of_text_sender":
                # Layer 1 opens and names the text case's sender; layer 2 opens under the other
                # identity's static DH (a well-formed forgery), not under the claimed sender's.
                e = H(v["forged_ephemeral_secret"])
                claimed, chain_key = open_layer1(seed, data)
                forger = x25519(identity_x25519_secret(seeds["other"]), identity_to_x25519(recipient))
                problems += [("ephemeral key", data[1:33], x25519_base(e)),
                             ("claimed sender", claimed.hex(), text_case["sender_identity"]),
                             ("opens under the forger's DH", open_layer2(seed, data, claimed, chain_key, forger),
                              b"inner")]
            return expect_eq(problems)
        report.run(f"sealed.refused[{i}] {case['name']} -> {case['error']}", run)


# ---------------------------------------------------------------------------------------------
# Shared seals (SPEC.md §15.1)


def shared_message_keys(m: bytes) -> tuple[bytes, bytes, bytes]:
    """Seal step 4: M -> (e, body_key, body_nonce)."""
    okm = hkdf(bytes(32), m, SHARED_MESSAGE_INFO, 76)
    return okm[:32], okm[32:64], okm[64:76]


def shared_wrap(e: bytes, m: bytes, body_sha256: bytes, recipient: bytes) -> dict:
    """Seal step 6 for one recipient, every value by its vector name."""
    t = {"identity": recipient, "x25519_public": identity_to_x25519(recipient)}
    ephemeral = x25519_base(e)
    t["ephemeral_shared_secret"] = x25519(e, t["x25519_public"])
    t["wrap_hkdf_info"] = SHARED_WRAP_INFO + ephemeral + recipient
    okm = hkdf(bytes(32), t["ephemeral_shared_secret"], t["wrap_hkdf_info"], 64)
    t["pad"], t["mac_key"] = okm[:32], okm[32:]
    t["wrap"] = bytes(a ^ b for a, b in zip(m, t["pad"]))
    t["tag"] = hmac_sha256(t["mac_key"], bytes([SHARED_SEAL_VERSION]) + t["wrap"] + body_sha256)[:16]
    t["part"] = bytes([SHARED_SEAL_VERSION]) + t["wrap"] + t["tag"]
    return t


def seal_shared_trace(recipients: list[bytes], plaintext: bytes, rng: Replay) -> dict:
    """seal_shared(recipients, plaintext): every intermediate value by its vector name."""
    if not recipients:
        raise HushError("NoRecipients")
    if len(recipients) > MAX_SHARED_RECIPIENTS:
        raise HushError("TooManyRecipients", field=str(len(recipients)))
    for i, key in enumerate(recipients):
        if key in recipients[:i]:
            raise HushError("DuplicateRecipient", field=str(i))
    t = {"random": rng.take(32), "plaintext_sha256": hashlib.sha256(plaintext).digest()}
    t["message_secret"] = hkdf(t["random"], t["plaintext_sha256"], SHARED_SECRET_INFO, 32)
    t["ephemeral_secret"], t["body_key"], t["body_nonce"] = shared_message_keys(t["message_secret"])
    t["ephemeral_public"] = x25519_base(t["ephemeral_secret"])
    t["body_associated_data"] = header = bytes([SHARED_SEAL_VERSION]) + t["ephemeral_public"]
    t["body"] = header + aead_seal(t["body_key"], t["body_nonce"], header, plaintext)
    t["body_sha256"] = hashlib.sha256(t["body"]).digest()
    t["parts"] = [shared_wrap(t["ephemeral_secret"], t["message_secret"], t["body_sha256"], r) for r in recipients]
    return t


def open_shared(seed: bytes, part: bytes, body: bytes) -> bytes:
    """Account::open_shared for the account with identity seed `seed`, checks in SPEC order."""
    if len(part) != SHARED_PART_LEN:
        raise HushError("PartLength")
    if part[0] != SHARED_SEAL_VERSION:
        raise HushError("UnknownPartVersion")
    if len(body) < SHARED_BODY_OVERHEAD:
        raise HushError("BodyTooShort")
    if body[0] != SHARED_SEAL_VERSION:
        raise HushError("UnknownBodyVersion")
    ephemeral = body[1:33]
    try:
        shared = x25519(identity_x25519_secret(seed), ephemeral)
    except KeyRefused as e:
        raise HushError("Key", key_error=e.variant)
    okm = hkdf(bytes(32), shared, SHARED_WRAP_INFO + ephemeral + ed25519_public(seed), 64)
    tag = hmac_sha256(okm[32:], part[:33] + hashlib.sha256(body).digest())[:16]
    if not hmac.compare_digest(tag, part[33:]):
        raise HushError("PartMismatch")
    m = bytes(a ^ b for a, b in zip(part[1:33], okm[:32]))
    e, key, nonce = shared_message_keys(m)
    if x25519_base(e) != ephemeral:
        raise HushError("EphemeralMismatch")
    try:
        return aead_open(key, nonce, body[:SHARED_BODY_HEADER_LEN], body[SHARED_BODY_HEADER_LEN:])
    except InvalidTag:
        raise HushError("BodyUnauthenticated")


def shared_by_hand(ephemeral_secret: bytes, body_secret: bytes, wrapped: bytes, recipient: bytes,
                   plaintext: bytes) -> tuple[bytes, bytes]:
    """A body under `ephemeral_secret` and the keys of `body_secret`, a part wrapping `wrapped`."""
    _, key, nonce = shared_message_keys(body_secret)
    header = bytes([SHARED_SEAL_VERSION]) + x25519_base(ephemeral_secret)
    body = header + aead_seal(key, nonce, header, plaintext)
    return shared_wrap(ephemeral_secret, wrapped, hashlib.sha256(body).digest(), recipient)["part"], body


def check_sealed_shared(report: Report, v: dict):
    pool_seeds = [H(seed) for seed in v["pool_seeds"]]
    pool = [ed25519_public(seed) for seed in pool_seeds]
    other = H(v["other_seed"])
    problem = expect_eq([
        ("pool_identities", [key.hex() for key in pool], v["pool_identities"]),
        ("other_identity", ed25519_public(other).hex(), v["other_identity"]),
        ("part_len", SHARED_PART_LEN, v["part_len"]),
        ("body_overhead", SHARED_BODY_OVERHEAD, v["body_overhead"]),
        ("max_recipients", MAX_SHARED_RECIPIENTS, v["max_recipients"]),
        ("other is in no case", other in pool_seeds, False),
    ])
    report.check("sealed_shared: pool, other identity and sizes", problem is None, problem or "")
    for i, c in enumerate(v["cases"]):
        def run(c=c):
            plaintext = H(c["plaintext"])
            rng = Replay(H(c["random"]))
            t = seal_shared_trace([pool[j] for j in c["recipients"]], plaintext, rng)
            pairs = [("random fully used", rng.done(), True), ("part count", len(c["parts"]), len(t["parts"])),
                     ("body length", len(t["body"]), SHARED_BODY_OVERHEAD + len(plaintext))]
            pairs += [(name, t[name].hex(), c[name]) for name in (
                "random", "plaintext_sha256", "message_secret", "ephemeral_secret", "body_key", "body_nonce",
                "ephemeral_public", "body_associated_data", "body", "body_sha256")]
            for k, (mine, theirs) in enumerate(zip(t["parts"], c["parts"])):
                pairs += [(f"parts[{k}].{name}", mine[name].hex(), theirs[name]) for name in (
                    "identity", "x25519_public", "ephemeral_shared_secret", "wrap_hkdf_info", "pad", "mac_key",
                    "wrap", "tag", "part")]
                envelope = shared_envelope(mine["part"], t["body"])
                pairs += [(f"parts[{k}] envelope", envelope.hex(), theirs["envelope"]),
                          (f"parts[{k}] envelope splits", split_shared_envelope(envelope), (mine["part"], t["body"]))]
                pairs += [(f"parts[{k}] pool_index", theirs["pool_index"], c["recipients"][k]),
                          (f"parts[{k}] length", len(mine["part"]), SHARED_PART_LEN)]
                opened = open_shared(pool_seeds[c["recipients"][k]], H(theirs["part"]), H(c["body"]))
                pairs += [(f"parts[{k}] opened", opened.hex(), theirs["opened"]),
                          (f"parts[{k}] opened is the plaintext", opened, plaintext)]
            return expect_eq(pairs)
        report.run(f"sealed_shared.cases[{i}] {c['name']}: seal for {len(c['recipients'])} and open each part", run)

    hand_e, hand_m = H(v["hand_ephemeral_secret"]), H(v["hand_message_secret"])
    for i, case in enumerate(v["refused_opens"]):
        def run(case=case):
            seed, part, body = H(case["opened_by_seed"]), H(case["part"]), H(case["body"])
            problems = [("opened_by_seed", seed, other if case["opened_by"] == "other" else pool_seeds[0])]
            try:
                open_shared(seed, part, body)
                return "opened"
            except HushError as e:
                problems += [("error", e.variant, case["error"]), ("key_error", e.key_error, case.get("key_error"))]
            recipient = ed25519_public(seed)
            if case["name"] == "ephemeral_mismatch_by_hand":
                problems.append(("made by hand", (part, body),
                                 shared_by_hand(hand_e, hand_m, hand_m, recipient, b"plaintext")))
            if case["name"] == "body_unauthenticated_by_hand":
                own_e = shared_message_keys(hand_m)[0]
                problems.append(("made by hand", (part, body),
                                 shared_by_hand(own_e, hand_e, hand_m, recipient, b"plaintext")))
            return expect_eq(problems)
        report.run(f"sealed_shared.refused_opens[{i}] {case['name']} -> {case['error']}", run)

    for i, case in enumerate(v["refused_seals"]):
        def run(case=case):
            rng = Replay(b"")
            try:
                seal_shared_trace([pool[j] for j in case["recipients"]], b"x", rng)
                return "sealed"
            except HushError as e:
                detail = case.get("count", case.get("index"))
                return expect_eq([("error", e.variant, case["error"]), ("drew nothing", rng.pos, 0),
                                  ("count or index", e.field, None if detail is None else str(detail))])
        report.run(f"sealed_shared.refused_seals[{i}] {case['name']} -> {case['error']}", run)


def fields_of(kind: str, obj) -> dict:
    if kind == "message":
        return {"version": 1, "type": 1, "ratchet_key": obj.ratchet_key.hex(), "previous_counter": obj.previous_counter,
                "counter": obj.counter, "salt": obj.salt.hex(), "ciphertext": obj.ciphertext.hex()}
    if kind == "prekey_message":
        return {"version": 1, "type": 2, "identity_key": obj.identity_key.hex(), "base_key": obj.base_key.hex(),
                "signed_prekey_id": obj.signed_prekey_id, "one_time_prekey_id": obj.one_time_prekey_id,
                "sender_address": obj.sender_address.hex(), "message": obj.message.encode().hex()}
    if kind == "prekey_bundle":
        return {"version": 1, "type": 5, "identity_key": obj.identity_key.hex(), "signed_prekey_id": obj.spk_id,
                "signed_prekey_created_at": obj.spk_created_at, "signed_prekey": obj.spk.hex(),
                "signed_prekey_signature": obj.spk_signature.hex(), "one_time_prekey_id": obj.otk_id,
                "one_time_prekey": hx(obj.otk)}
    if kind in ("sender_key_message", "sender_key_distribution"):
        label = {"group_id": obj.label.group_id.hex(), "sender": obj.label.sender.hex(), "epoch": obj.label.epoch,
                 "distribution_id": obj.label.distribution_id.hex()}
        if kind == "sender_key_message":
            return {"version": 2, "type": 3, **label, "iteration": obj.iteration, "salt": obj.salt.hex(),
                    "ciphertext": obj.ciphertext.hex(), "signature": obj.signature.hex()}
        return {"version": 2, "type": 4, **label, "iteration": obj.iteration, "chain_key": obj.chain_key.hex(),
                "signing_key": obj.signing_key.hex()}


def check_encodings(report: Report, v: dict):
    for name, case in v["valid"].items():
        kind = name.replace("_with_one_time_prekey", "").replace("_without_one_time_prekey", "")

        def run(case=case, kind=kind):
            obj = DECODERS[kind](H(case["bytes"]))
            problems = [("fields", fields_of(kind, obj), case["fields"]), ("re-encoding", obj.encode().hex(), case["bytes"])]
            if kind == "prekey_bundle":
                problems.append(("signature verifies", ed25519_verify(
                    obj.identity_key, signed_prekey_message(obj.spk_id, obj.spk_created_at, obj.spk), obj.spk_signature), True))
            return expect_eq(problems)
        report.run(f"encodings.valid.{name} decodes to its fields and back", run)
    for i, case in enumerate(v["decode_errors"]):
        def run(case=case):
            try:
                DECODERS[case["kind"]](H(case["bytes"]))
                return "decoded"
            except HushError as e:
                return expect_eq([
                    ("error", e.variant, case["error"]),
                    ("field", e.field, case["field"]),
                    ("key_error", e.key_error, case.get("key_error")),
                ])
        report.run(f"encodings.decode_errors[{i}] {case['kind']}/{case['name']} -> {case['error']}", run)


# ---------------------------------------------------------------------------------------------
# End-to-end payloads (proto/PROTOCOL.md, "End to end: what an envelope carries")

MAX_PAYLOAD_LEN, MAX_TEXT_LEN, MAX_RECEIPT_IDS, KIND_TEXT = 65536, 32768, 512, 1


class PayloadRefused(Exception):
    """A payload PROTOCOL.md says to refuse; args[0] is the error name."""


class _Reader:
    refused = PayloadRefused

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise self.refused("Malformed")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def varint(self, bits: int) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift >= bits:
                raise PayloadRefused("Malformed")
        if value >= 1 << bits:
            raise PayloadRefused("Malformed")
        return value

    def boolean(self) -> bool:
        byte = self.take(1)[0]
        if byte > 1:
            raise PayloadRefused("Malformed")
        return byte == 1


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_payload(p: dict) -> bytes:
    body = p["body"]
    out = H(p["id"]) + varint(p["conv_seq"]) + varint(p["sent_at"])
    if body["type"] == "content":
        data = H(body["data"])
        return out + varint(0) + varint(body["kind"]) + varint(len(data)) + data
    if body["type"] == "receipt":
        ids = [H(i) for i in body["ids"]]
        kind = {"delivered": 0, "read": 1}[body["kind"]]
        return out + varint(1) + varint(kind) + varint(len(ids)) + b"".join(ids)
    if body["type"] == "reset":
        flags = bytes([int(body["answer"]), int(body["reuse_seen"])])
        return out + varint(2) + varint(body["next_seq"]) + flags
    if body["type"] == "sent":
        data = H(body["data"])
        return (out + varint(4) + H(body["to"]) + varint(body["seq"]) + varint(body["kind"])
                + varint(len(data)) + data)
    if body["type"] == "read_sync":
        ids = [H(i) for i in body["ids"]]
        return out + varint(5) + H(body["peer"]) + varint(len(ids)) + b"".join(ids)
    if body["type"] == "list_changed":
        return out + varint(6) + H(body["account"]) + varint(body["counter"])
    if body["type"] == "group":
        data = H(body["data"])
        return out + varint(7) + varint(len(data)) + data
    return out + varint(3) + H(body["key"])


def _payload_key(key: bytes) -> str:
    """A key a payload names (an address): a valid Ed25519 key (SPEC §3.2), else Malformed."""
    try:
        ed25519_point(key)
    except KeyRefused:
        raise PayloadRefused("Malformed") from None
    return key.hex()


def decode_payload(data: bytes) -> dict:
    if len(data) > MAX_PAYLOAD_LEN:
        raise PayloadRefused("TooLong")
    r = _Reader(data)
    p = {"id": r.take(16).hex(), "conv_seq": r.varint(64), "sent_at": r.varint(64)}
    index = r.varint(32)
    if index == 0:
        kind = r.varint(16)
        body = {"type": "content", "kind": kind, "data": r.take(r.varint(64))}
    elif index == 1:
        kind = {0: "delivered", 1: "read"}.get(r.varint(32))
        if kind is None:
            raise PayloadRefused("Malformed")
        count = r.varint(64)
        body = {"type": "receipt", "kind": kind, "ids": [r.take(16).hex() for _ in range(count)]}
    elif index == 2:
        body = {"type": "reset", "next_seq": r.varint(64), "answer": r.boolean(),
                "reuse_seen": r.boolean()}
    elif index == 3:
        body = {"type": "access_key", "key": r.take(32).hex()}
    elif index == 4:
        to, seq = r.take(32), r.varint(64)
        kind = r.varint(16)
        body = {"type": "sent", "to": to, "seq": seq, "kind": kind, "data": r.take(r.varint(64))}
    elif index == 5:
        peer, count = r.take(32), r.varint(64)
        body = {"type": "read_sync", "peer": peer, "ids": [r.take(16).hex() for _ in range(count)]}
    elif index == 6:
        body = {"type": "list_changed", "account": r.take(32), "counter": r.varint(64)}
    elif index == 7:
        raw = r.take(r.varint(64))
        body = {"type": "group", "data": raw.hex()}
        # A group control message (PROTOCOL.md "Group control messages"): kind 3 is a key
        # request, the 16-byte group id and nothing more; kind 4 a sender key after a previous
        # chain: its id, a u32 count, then a distribution (SPEC §10.5) that must decode and
        # name another chain.
        if raw[:1] == b"\x03" and len(raw) == 17:
            body["control"] = {"kind": "key_request", "group_id": raw[1:].hex()}
        if raw[:1] == b"\x04" and len(raw) >= 21:
            distribution = SenderKeyDistribution.decode(raw[21:])
            if distribution.label.distribution_id == raw[1:17]:
                raise PayloadRefused("Malformed")
            body["control"] = {"kind": "sender_key_after", "previous": raw[1:17].hex(),
                               "count": struct.unpack(">I", raw[17:21])[0],
                               "distribution": raw[21:].hex()}
    else:
        raise PayloadRefused("Malformed")
    if r.at != len(data):
        raise PayloadRefused("Malformed")
    # The keys a body names are checked before its text and its ids.
    for field in ("to", "peer", "account"):
        if field in body:
            body[field] = _payload_key(body[field])
    if body["type"] in ("content", "sent"):
        raw = body["data"]
        body["data"] = raw.hex()
        if body["kind"] == KIND_TEXT:
            if len(raw) > MAX_TEXT_LEN:
                raise PayloadRefused("TextTooLong")
            try:
                body["text"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise PayloadRefused("TextNotUtf8") from None
    if body["type"] in ("receipt", "read_sync") and len(body["ids"]) > MAX_RECEIPT_IDS:
        raise PayloadRefused("TooManyIds")
    p["body"] = body
    if encode_payload(p) != data:
        raise PayloadRefused("Malformed")
    return p


PAYLOAD_VERSION = 2


def unframe_payload(data: bytes) -> tuple[str, bytes]:
    """A session message's plaintext: version byte 2, the sender's account key, the payload."""
    if not data:
        raise PayloadRefused("Malformed")
    if data[0] != PAYLOAD_VERSION:
        raise PayloadRefused("UnsupportedVersion")
    if len(data) < 33:
        raise PayloadRefused("Malformed")
    return _payload_key(data[1:33]), data[33:]


def check_payload(report: Report, v: dict):
    for c in v["framed"]["cases"]:
        def run(c=c):
            account, payload = unframe_payload(H(c["framed"]))
            return expect_eq([("account", account, c["account"]), ("payload", payload.hex(), c["payload"]),
                              ("framed", (bytes([PAYLOAD_VERSION]) + H(c["account"]) + H(c["payload"])).hex(),
                               c["framed"])])
        report.run(f"payload.framed {c['name']} splits into its account and payload", run)
    for c in v["framed"]["refused"]:
        def run(c=c):
            try:
                unframe_payload(H(c["bytes"]))
            except PayloadRefused as e:
                return expect_eq([("error", e.args[0], c["error"])])
            return "accepted"
        report.run(f"payload.framed.refused {c['name']} is {c['error']}", run)
    for c in v["cases"]:
        def run(c=c):
            return expect_eq([
                ("decoded", decode_payload(H(c["bytes"])), c["payload"]),
                ("encoded", encode_payload(c["payload"]).hex(), c["bytes"]),
            ])
        report.run(f"payload.cases {c['name']} decodes to its fields and back", run)
    for c in v["refused"]:
        def run(c=c):
            data = H(c["bytes"]) + H(c["fill_byte"]) * c["fill_count"]
            try:
                decode_payload(data)
            except PayloadRefused as e:
                return expect_eq([("error", e.args[0], c["error"])])
            return "decodes"
        report.run(f"payload.refused {c['name']} is {c['error']}", run)


# ---------------------------------------------------------------------------------------------
# Client-relay frames of protocol versions 4 and 5 (proto/PROTOCOL.md, "Frames in detail",
# "Shared sends", "Ephemeral sends", "Prekeys"): postcard bodies, no length prefix.

MAX_RECIPIENTS, MAX_PART_LEN, MAX_EPHEMERAL_LEN = 1000, 200, 4096
MAX_ENVELOPE_LEN = (1 << 20) + 2048
MAX_SHARED_BODY_LEN = MAX_ENVELOPE_LEN - MAX_PART_LEN - 3
SHARED_ENVELOPE_TAG = 0xF4
REQUEST_SEND_SHARED, REQUEST_SEND_EPHEMERAL, REQUEST_UPLOAD_KEM_PREKEYS = 12, 13, 14
RESPONSES = {11: "EphemeralPushed", 12: "EphemeralDropped"}
RESPONSE_BUNDLE, RESPONSE_KEM_PREKEYS_STORED = 2, 13
PUSH_EPHEMERAL, PUSH_KEM_PREKEYS_LOW = 3, 4
# Protocol version 5 ("Prekeys"): a KEM prekey is { kind varint, id u32, key bytes of exactly
# 1568 (ML-KEM-1024), signature [64 as bytes] }; at most 100 one-time ones per upload.
KEM_KINDS = ["OneTime", "LastResort"]
KEM_KEY_LEN, MAX_KEM_PREKEYS_PER_UPLOAD = 1568, 100


class FrameRefused(Exception):
    """A frame body PROTOCOL.md says does not decode; args[0] is the FrameError name."""


class _FrameReader(_Reader):
    """Postcard as PROTOCOL.md's "Frames" describes it. Overlong varints are read (and caught by
    the canonical check after the whole frame): a frame with one is `NonCanonical`."""

    refused = FrameRefused

    def varint(self, max_bytes: int) -> int:
        value = 0
        for i in range(max_bytes):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value
        raise FrameRefused("Malformed")

    def byte_string(self, limit: int) -> bytes:
        length = self.varint(10)
        if length > limit:
            raise FrameRefused("Malformed")
        return self.take(length)

    def option_key(self):
        flag = self.take(1)[0]
        if flag > 1:
            raise FrameRefused("Malformed")
        return self.take(32).hex() if flag else None

    def option(self, read):
        flag = self.take(1)[0]
        if flag > 1:
            raise FrameRefused("Malformed")
        return read() if flag else None

    def kem_prekey(self) -> dict:
        kind = self.varint(5)
        if kind >= len(KEM_KINDS):
            raise FrameRefused("Malformed")
        prekey = {"id": self.varint(5)}
        key = self.byte_string(KEM_KEY_LEN)
        if len(key) != KEM_KEY_LEN:
            raise FrameRefused("Malformed")
        signature = self.byte_string(64)
        if len(signature) != 64:
            raise FrameRefused("Malformed")
        return {**prekey, "key": key.hex(), "kind": KEM_KINDS[kind], "signature": signature.hex()}

    def bundle(self) -> dict:
        identity_key = self.take(32).hex()
        spk = {"id": self.varint(5), "created_at": self.varint(10), "key": self.take(32).hex()}
        signature = self.byte_string(64)
        if len(signature) != 64:
            raise FrameRefused("Malformed")
        spk["signature"] = signature.hex()
        one_time = self.option(lambda: {"id": self.varint(5), "key": self.take(32).hex()})
        kem = self.option(self.kem_prekey)
        return {"identity_key": identity_key, "kem_prekey": kem, "one_time_prekey": one_time,
                "signed_prekey": spk}


def _bytes_field(data: bytes) -> bytes:
    return varint(len(data)) + data


def _option_key(key) -> bytes:
    return b"\x00" if key is None else b"\x01" + H(key)


def _encode_kem_prekey(k: dict) -> bytes:
    return (varint(KEM_KINDS.index(k["kind"])) + varint(k["id"]) + _bytes_field(H(k["key"]))
            + _bytes_field(H(k["signature"])))


def _encode_option(value, encode) -> bytes:
    return b"\x00" if value is None else b"\x01" + encode(value)


def _encode_bundle(b: dict) -> bytes:
    spk = b["signed_prekey"]
    out = H(b["identity_key"]) + varint(spk["id"]) + varint(spk["created_at"]) + H(spk["key"])
    out += _bytes_field(H(spk["signature"]))
    out += _encode_option(b["one_time_prekey"], lambda otk: varint(otk["id"]) + H(otk["key"]))
    return out + _encode_option(b["kem_prekey"], _encode_kem_prekey)


def encode_client_frame(f: dict) -> bytes:
    r = f["request"]
    out = varint(f["id"])
    if r["type"] == "UploadKemPreKeys":
        out += varint(REQUEST_UPLOAD_KEM_PREKEYS) + _encode_option(r["last_resort"], _encode_kem_prekey)
        return out + varint(len(r["one_time"])) + b"".join(_encode_kem_prekey(k) for k in r["one_time"])
    if r["type"] == "SendShared":
        out += varint(REQUEST_SEND_SHARED) + _bytes_field(H(r["body"])) + varint(len(r["deliveries"]))
        for d in r["deliveries"]:
            out += H(d["to"]) + _option_key(d["access"]) + _bytes_field(H(d["part"]))
        return out
    return (out + varint(REQUEST_SEND_EPHEMERAL) + H(r["to"]) + _option_key(r["access"])
            + _bytes_field(H(r["envelope"])))


def decode_client_frame(data: bytes) -> dict:
    r = _FrameReader(data)
    frame = {"id": r.varint(5)}
    index = r.varint(5)
    if index == REQUEST_SEND_SHARED:
        body = r.byte_string(MAX_SHARED_BODY_LEN).hex()
        count = r.varint(10)
        deliveries = []
        for _ in range(count):
            to = r.take(32).hex()
            access = r.option_key()
            deliveries.append({"access": access, "part": r.byte_string(MAX_PART_LEN).hex(), "to": to})
        if count > MAX_RECIPIENTS:
            raise FrameRefused("Malformed")
        frame["request"] = {"body": body, "deliveries": deliveries, "type": "SendShared"}
    elif index == REQUEST_SEND_EPHEMERAL:
        to = r.take(32).hex()
        access = r.option_key()
        envelope = r.byte_string(MAX_EPHEMERAL_LEN).hex()
        frame["request"] = {"access": access, "envelope": envelope, "to": to, "type": "SendEphemeral"}
    elif index == REQUEST_UPLOAD_KEM_PREKEYS:
        last_resort = r.option(r.kem_prekey)
        count = r.varint(10)
        one_time = [r.kem_prekey() for _ in range(count)]
        if count > MAX_KEM_PREKEYS_PER_UPLOAD:
            raise FrameRefused("Malformed")
        frame["request"] = {"last_resort": last_resort, "one_time": one_time, "type": "UploadKemPreKeys"}
    else:
        raise FrameRefused("Malformed")  # other requests are not in frames.json
    if r.at != len(data):
        raise FrameRefused("TrailingBytes")
    if len(encode_client_frame(frame)) != len(data):
        raise FrameRefused("NonCanonical")
    return frame


def encode_server_frame(f: dict) -> bytes:
    if "response" in f:
        response = f["response"]
        head = b"\x00" + varint(response["id"]) + b"\x00"
        if response["ok"] == "Bundle":
            return head + varint(RESPONSE_BUNDLE) + _encode_bundle(response["bundle"])
        if response["ok"] == "KemPreKeysStored":
            return head + varint(RESPONSE_KEM_PREKEYS_STORED) + varint(response["one_time_kem_prekeys"])
        index = {name: i for i, name in RESPONSES.items()}[response["ok"]]
        return head + varint(index)
    if f["push"]["type"] == "KemPreKeysLow":
        return b"\x01" + varint(PUSH_KEM_PREKEYS_LOW) + varint(f["push"]["remaining"])
    return b"\x01" + varint(PUSH_EPHEMERAL) + _bytes_field(H(f["push"]["envelope"]))


def decode_server_frame(data: bytes) -> dict:
    r = _FrameReader(data)
    kind = r.varint(5)
    if kind == 0:
        frame_id = r.varint(5)
        if r.take(1) != b"\x00":
            raise FrameRefused("Malformed")
        index = r.varint(5)
        if index == RESPONSE_BUNDLE:
            frame = {"response": {"bundle": r.bundle(), "id": frame_id, "ok": "Bundle"}}
        elif index == RESPONSE_KEM_PREKEYS_STORED:
            frame = {"response": {"id": frame_id, "ok": "KemPreKeysStored",
                                  "one_time_kem_prekeys": r.varint(5)}}
        elif index in RESPONSES:
            frame = {"response": {"id": frame_id, "ok": RESPONSES[index]}}
        else:
            raise FrameRefused("Malformed")
    elif kind == 1:
        index = r.varint(5)
        if index == PUSH_EPHEMERAL:
            frame = {"push": {"envelope": r.byte_string(MAX_EPHEMERAL_LEN).hex(), "type": "Ephemeral"}}
        elif index == PUSH_KEM_PREKEYS_LOW:
            frame = {"push": {"remaining": r.varint(5), "type": "KemPreKeysLow"}}
        else:
            raise FrameRefused("Malformed")
    else:
        raise FrameRefused("Malformed")
    if r.at != len(data):
        raise FrameRefused("TrailingBytes")
    if len(encode_server_frame(frame)) != len(data):
        raise FrameRefused("NonCanonical")
    return frame


def shared_envelope(part: bytes, body: bytes) -> bytes:
    return bytes([SHARED_ENVELOPE_TAG]) + varint(len(part)) + part + body


def split_shared_envelope(data: bytes) -> tuple[bytes, bytes]:
    """The "Shared sends" rules, in their order; raises FrameRefused with the error name."""
    if not data or data[0] != SHARED_ENVELOPE_TAG:
        raise FrameRefused("NotShared")
    rest = data[1:]
    if not rest or (rest[0] & 0x80 and len(rest) == 1):
        raise FrameRefused("Truncated")
    if not rest[0] & 0x80:
        length, rest = rest[0], rest[1:]
    elif rest[1] == 0:
        raise FrameRefused("NonCanonicalLength")
    elif rest[1] & 0x80:
        raise FrameRefused("PartTooLong")
    else:
        length, rest = (rest[0] & 0x7F) | (rest[1] << 7), rest[2:]
    if length > MAX_PART_LEN:
        raise FrameRefused("PartTooLong")
    if len(rest) < length:
        raise FrameRefused("Truncated")
    return rest[:length], rest[length:]


def check_frames(report: Report, v: dict):
    codecs = {"client": (decode_client_frame, encode_client_frame),
              "server": (decode_server_frame, encode_server_frame)}
    for c in v["frames"]:
        def run(c=c):
            decode, encode = codecs[c["kind"]]
            return expect_eq([
                ("decoded", decode(H(c["bytes"])), c["frame"]),
                ("encoded", encode(c["frame"]).hex(), c["bytes"]),
            ])
        report.run(f"frames.frames {c['name']} decodes to its fields and back", run)
    for c in v["shared_envelopes"]:
        def run(c=c):
            part, body = H(c["part"]), H(c["body"])
            return expect_eq([
                ("built", shared_envelope(part, body).hex(), c["envelope"]),
                ("split", split_shared_envelope(H(c["envelope"])), (part, body)),
            ])
        report.run(f"frames.shared_envelopes {c['name']} builds and splits", run)
    for key, decode in (("refused_frames", decode_client_frame), ("refused_envelopes", split_shared_envelope)):
        for c in v[key]:
            def run(c=c, decode=decode):
                data = H(c["bytes"]) + H(c["fill_byte"]) * c["fill_count"]
                try:
                    decode(data)
                except FrameRefused as e:
                    return expect_eq([("error", e.args[0], c["error"])])
                return "accepted"
            report.run(f"frames.{key} {c['name']} is {c['error']}", run)


# Content kinds (proto/PROTOCOL.md, "Content kinds")

MAX_EMOJI_LEN = 64
CONTENT_NAMES = {3: "edit", 5: "reply", 6: "thread"}
KIND_TIMER = 7


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadRefused("TextNotUtf8") from None


def decode_content(kind: int, data: bytes) -> dict:
    if kind == KIND_TEXT:
        if len(data) > MAX_TEXT_LEN:
            raise PayloadRefused("TextTooLong")
        return {"type": "text", "text": _utf8(data)}
    if kind == KIND_TIMER:
        if len(data) != 4:
            raise PayloadRefused("Malformed")
        return {"type": "timer", "seconds": int.from_bytes(data, "big")}
    if not 2 <= kind <= 6:
        return {"type": "unsupported"}
    if len(data) < 16:
        raise PayloadRefused("Malformed")
    target, rest = data[:16].hex(), data[16:]
    if kind == 2:
        if not rest or rest[0] not in (0, 1):
            raise PayloadRefused("Malformed")
        emoji = rest[1:]
        if not 1 <= len(emoji) <= MAX_EMOJI_LEN:
            raise PayloadRefused("BadEmoji")
        return {"type": "reaction", "target": target, "emoji": _utf8(emoji), "added": rest[0] == 1}
    if kind == 4:
        if rest:
            raise PayloadRefused("Malformed")
        return {"type": "delete", "target": target}
    if len(rest) > MAX_TEXT_LEN:
        raise PayloadRefused("TextTooLong")
    return {"type": CONTENT_NAMES[kind], "target": target, "text": _utf8(rest)}


def encode_content(c: dict) -> bytes:
    if c["type"] == "text":
        return c["text"].encode()
    if c["type"] == "timer":
        return c["seconds"].to_bytes(4, "big")
    target = H(c.get("target", ""))
    if c["type"] == "reaction":
        return target + bytes([1 if c["added"] else 0]) + c["emoji"].encode()
    if c["type"] == "delete":
        return target
    return target + c["text"].encode()


def check_content(report: Report, v: dict):
    for c in v["cases"]:
        def run(c=c):
            checks = [("decoded", decode_content(c["kind"], H(c["data"])), c["content"])]
            if c["content"]["type"] != "unsupported":
                checks.append(("encoded", encode_content(c["content"]).hex(), c["data"]))
            return expect_eq(checks)
        report.run(f"content.cases {c['name']} decodes to its fields and back", run)
    for c in v["refused"]:
        def run(c=c):
            data = H(c["data"]) + H(c["fill_byte"]) * c["fill_count"]
            try:
                decode_content(c["kind"], data)
            except PayloadRefused as e:
                return expect_eq([("error", e.args[0], c["error"])])
            return "decodes"
        report.run(f"content.refused {c['name']} is {c['error']}", run)


# ---------------------------------------------------------------------------------------------
# Ephemerals: typing and presence (SPEC.md §18)

EPHEMERAL_TAG = 0xE1
EPHEMERAL_LENGTHS = {1: 27, 2: 36}


def decode_ephemeral(data: bytes) -> dict:
    """§18.1: the fields of an ephemeral, or HushError(Length | Tag | Kind | Value)."""
    if len(data) < 26:
        raise HushError("Length")
    if data[0] != EPHEMERAL_TAG:
        raise HushError("Tag")
    kind = data[25]
    if kind not in EPHEMERAL_LENGTHS:
        raise HushError("Kind")
    if len(data) != EPHEMERAL_LENGTHS[kind]:
        raise HushError("Length")
    out = {"sent_at": int.from_bytes(data[1:9], "big"), "id": data[9:25].hex()}

    def flag(b: int) -> bool:
        if b not in (0, 1):
            raise HushError("Value")
        return b == 1

    if kind == 1:
        out.update({"type": "typing", "started": flag(data[26])})
        return out
    state, last_seen = data[26], int.from_bytes(data[27:35], "big")
    if state == 1 and last_seen == 0:
        name = "online"
    elif state == 2:
        name = "offline"
    else:
        raise HushError("Value")
    out.update({"type": "presence", "state": name, "last_seen": last_seen, "reply": flag(data[35])})
    return out


def encode_ephemeral(f: dict) -> bytes:
    head = bytes([EPHEMERAL_TAG]) + f["sent_at"].to_bytes(8, "big") + H(f["id"])
    if f["type"] == "typing":
        return head + bytes([1, int(f["started"])])
    state = 1 if f["state"] == "online" else 2
    return head + bytes([2, state]) + f["last_seen"].to_bytes(8, "big") + bytes([int(f["reply"])])


def check_refusals(report: Report, cases: list, decode, what: str):
    """Each case's `bytes` must make `decode` refuse with the HushError named `error`."""
    for c in cases:
        def run(c=c):
            try:
                decode(H(c["bytes"]))
            except HushError as e:
                return expect_eq([("error", e.variant, c["error"])])
            return "decodes"
        report.run(f"{what} {c['name']} -> {c['error']}", run)


def check_ephemeral(report: Report, v: dict):
    for c in v["cases"]:
        def run(c=c):
            return expect_eq([("decoded", decode_ephemeral(H(c["bytes"])), c["fields"]),
                              ("encoded", encode_ephemeral(c["fields"]).hex(), c["bytes"])])
        report.run(f"ephemeral.cases {c['name']} decodes to its fields and back", run)
    check_refusals(report, v["refused"], decode_ephemeral, "ephemeral.refused")
    sealed = v["sealed"]

    def run():
        sender, inner = open_sealed(H(sealed["recipient_seed"]), H(sealed["sealed"]))
        decode_ephemeral(inner)
        return expect_eq([("sender", sender.hex(), sealed["sender_identity"]),
                          ("plaintext", inner.hex(), sealed["plaintext"])])
    report.run("ephemeral.sealed opens to the sender and a typing ephemeral", run)


# ---------------------------------------------------------------------------------------------
# Accounts and devices (SPEC.md §16)

ACCOUNT_VERSION = 2
TYPE_DEVICE_LIST, TYPE_LINK_CODE, TYPE_LINK_MESSAGE = 0x06, 0x07, 0x08
MAX_DEVICES = 6
MAX_DEVICE_LIST_LEN = 43 + 6 * 73 + 64
LINK_CODE_LEN = 90
LINK_CODE_LIFETIME = 600
MAX_LINK_CONTACTS_LEN = MAX_LINK_HISTORY_LEN = 1 << 20
MAX_LINK_PAYLOAD_LEN = 32 + 2 + MAX_DEVICE_LIST_LEN + 1 + 32 + 4 + MAX_LINK_CONTACTS_LEN + 4 + MAX_LINK_HISTORY_LEN
PURPOSE_LABEL = b"Hush_v1_IdentitySignature"
PURPOSE_DEVICE_LIST, PURPOSE_MEMBERSHIP = 3, 4
LINK_EPHEMERAL_INFO = b"Hush_v2_LinkEphemeralSecret"
LINK_MESSAGE_INFO = b"Hush_v2_LinkMessage"
ACCOUNT_SAFETY_VERSION = 2


class Refused(Exception):
    """An account-layer refusal (§16): `variant`, and the inner error it carries, if any."""

    def __init__(self, variant: str, inner: Exception | None = None):
        super().__init__(variant)
        self.variant, self.inner = variant, inner


def account_reader(data: bytes, expected_type: int) -> Reader:
    """A reader past the version and type bytes of an account-layer encoding (§16)."""
    r = Reader(data)
    if r.u8("version") != ACCOUNT_VERSION:
        raise HushError("UnsupportedVersion")
    if r.u8("type") != expected_type:
        raise HushError("UnexpectedType")
    return r


def purpose_message(purpose: int, message: bytes) -> bytes:
    return PURPOSE_LABEL + bytes([purpose]) + message


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


def encode_list_body(account_key: bytes, counter: int, devices: list) -> bytes:
    out = bytes([ACCOUNT_VERSION, TYPE_DEVICE_LIST]) + account_key + u64(counter) + bytes([len(devices)])
    for identity, created_at, mailbox in devices:
        out += identity + u64(created_at) + (b"\x01" + mailbox if mailbox is not None else b"\x00")
    return out


def decode_device_list(data: bytes) -> dict:
    """§16.2 decoding; HushError inside Refused("Decode"), list errors as Refused(variant)."""
    try:
        r = account_reader(data, TYPE_DEVICE_LIST)
        account_key = r.identity_key("account_key")
        counter = r.u64("counter")
        count = r.u8("device_count")
        if count == 0:
            raise Refused("NoDevices")
        if count > MAX_DEVICES:
            raise Refused("TooManyDevices")
        devices = []
        for _ in range(count):
            identity = r.identity_key("device_identity_key")
            if devices and devices[-1][0] == identity:
                raise Refused("DuplicateDevice")
            if devices and devices[-1][0] > identity:
                raise Refused("DevicesOutOfOrder")
            created_at = r.u64("device_created_at")
            mailbox = r.take("device_mailbox", 32) if r.flag("device_has_mailbox") else None
            devices.append((identity, created_at, mailbox))
        signature = r.take("signature", 64)
        r.finish()
    except HushError as e:
        raise Refused("Decode", e)
    if not ed25519_verify(account_key, purpose_message(PURPOSE_DEVICE_LIST, data[:-64]), signature):
        raise Refused("BadSignature")
    return {"account_key": account_key, "counter": counter, "devices": devices, "signature": signature}


def verify_list_update(data: bytes, pinned: dict) -> dict:
    new = decode_device_list(data)
    if new["account_key"] != pinned["account_key"]:
        raise Refused("AccountKeyChanged")
    if new["counter"] <= pinned["counter"]:
        raise Refused("CounterNotGrowing")
    return new


def refusal_fields(e: Exception) -> dict:
    """The vector fields of an account-layer refusal."""
    if not isinstance(e, Refused):
        raise e
    fields = {"error": e.variant}
    if isinstance(e.inner, HushError):
        fields["decode_error"], fields["field"] = e.inner.variant, e.inner.field
    if isinstance(e.inner, Refused):
        fields["list_error"] = e.inner.variant
    return fields


def expect_refusal(fn, case: dict) -> str | None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - anything but the named refusal is a failure
        got = refusal_fields(e)
        want = {k: case.get(k) for k in got}
        return None if got == want else f"refused with {got}, vector has {want}"
    return "accepted"


def check_devices(report: Report, v: dict):
    account_seed = Replay(H(v["account_generate_random"])).take(32)
    account_key = ed25519_public(account_seed)
    report.check("devices: account key from its seed", account_key.hex() == v["account_key"]
                 and account_seed.hex() == v["account_seed"])
    devices = [ed25519_public(H(seed)) for seed in v["device_seeds"]]
    report.check("devices: device identity keys", [d.hex() for d in devices] == v["device_identity_keys"])
    for name, lst in v["lists"].items():
        def run(lst=lst):
            entries = sorted((H(d["identity_key"]), d["created_at"], None if d["mailbox"] is None
                              else H(d["mailbox"])) for d in lst["devices"])
            body = encode_list_body(account_key, lst["counter"], entries)
            signed = purpose_message(PURPOSE_DEVICE_LIST, body)
            signature = ed25519_sign(account_seed, signed)
            decoded = decode_device_list(body + signature)
            return expect_eq([
                ("entries sorted as stored", [e[0].hex() for e in entries],
                 [d["identity_key"] for d in lst["devices"]]),
                ("signed_message", signed.hex(), lst["signed_message"]),
                ("signature", signature.hex(), lst["signature"]),
                ("bytes", (body + signature).hex(), lst["bytes"]),
                ("decoded", (decoded["counter"], decoded["devices"]), (lst["counter"], entries)),
            ])
        report.run(f"devices.lists.{name}: encoding and signature", run)
    seeds = {ed25519_public(H(seed)).hex(): H(seed) for seed in v["device_seeds"]}
    for i, m in enumerate(v["membership"]):
        def run(m=m):
            signed = purpose_message(PURPOSE_MEMBERSHIP, account_key)
            signature = ed25519_sign(seeds[m["device_identity_key"]], signed)
            return expect_eq([
                ("signed_message", signed.hex(), m["signed_message"]),
                ("signature", signature.hex(), m["signature"]),
                ("verifies", ed25519_verify(H(m["device_identity_key"]), signed, signature), True),
            ])
        report.run(f"devices.membership[{i}]", run)
    other = ed25519_public(Replay(H(v["other_account_generate_random"])).take(32))
    report.check("devices: other account key", other.hex() == v["other_account_key"])
    for case in v["refused"]:
        def run(case=case):
            data = H(case["bytes"])
            if case["mode"] == "update":
                pinned = decode_device_list(H(case["pinned"]))
                return expect_refusal(lambda: verify_list_update(data, pinned), case)
            return expect_refusal(lambda: decode_device_list(data), case)
        report.run(f"devices.refused {case['name']} -> {case['error']}", run)


def base32_text(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def link_request(identity: bytes, random: bytes, created_at: int) -> dict:
    rng = Replay(random)
    e_n = rng.take(32)
    secret = rng.take(16)
    assert rng.done(), "LinkRequest::new draws 48 bytes"
    ephemeral = x25519_base(e_n)
    code = bytes([ACCOUNT_VERSION, TYPE_LINK_CODE]) + identity + ephemeral + secret + u64(created_at)
    return {"identity": identity, "e": e_n, "E": ephemeral, "secret": secret, "created_at": created_at,
            "code": code, "used": False}


def decode_link_code(data: bytes) -> dict:
    r = account_reader(data, TYPE_LINK_CODE)
    out = {"identity": r.identity_key("identity_key"), "E": r.curve_key("link_ephemeral"),
           "secret": r.take("link_secret", 16), "created_at": r.u64("created_at")}
    r.finish()
    return out


def link_keys(secret: bytes, shared: bytes, code: bytes, sender_ephemeral: bytes):
    info = LINK_MESSAGE_INFO + hashlib.sha256(code).digest() + sender_ephemeral
    okm = hkdf(secret, shared, info, 44)
    return info, okm[:32], okm[32:]


def link_payload(sender: bytes, device_list: bytes, seed: bytes | None, contacts: bytes, history: bytes):
    return (sender + struct.pack(">H", len(device_list)) + device_list
            + (b"\x01" + seed if seed is not None else b"\x00")
            + u32(len(contacts)) + contacts + u32(len(history)) + history)


def link_seal(code: bytes, payload: bytes, r: bytes) -> dict:
    c = decode_link_code(code)
    t = {"r": r, "code_hash": hashlib.sha256(code).digest(), "payload": payload,
         "payload_hash": hashlib.sha256(payload).digest()}
    t["ephemeral_info"] = LINK_EPHEMERAL_INFO + t["code_hash"] + t["payload_hash"]
    t["sender_ephemeral_secret"] = hkdf(r, c["secret"], t["ephemeral_info"], 32)
    t["sender_ephemeral"] = x25519_base(t["sender_ephemeral_secret"])
    t["shared"] = x25519(t["sender_ephemeral_secret"], c["E"])
    t["message_info"], t["key"], t["nonce"] = link_keys(c["secret"], t["shared"], code, t["sender_ephemeral"])
    t["header"] = bytes([ACCOUNT_VERSION, TYPE_LINK_MESSAGE]) + c["identity"] + c["E"] + t["sender_ephemeral"]
    t["associated_data"] = t["header"] + code
    box = aead_seal(t["key"], t["nonce"], t["associated_data"], payload)
    t["message"] = t["header"] + u32(len(box)) + box
    return t


def decode_link_header(message: bytes) -> tuple:
    r = account_reader(message, TYPE_LINK_MESSAGE)
    fields = (r.identity_key("new_device_key"), r.curve_key("link_ephemeral"), r.curve_key("sender_ephemeral"),
              r.bytes_u32("ciphertext", TAG_LEN, MAX_LINK_PAYLOAD_LEN + TAG_LEN))
    r.finish()
    return fields


def link_open(request: dict, message: bytes, now: int) -> dict:
    """LinkRequest::open (§16.5), checks in the SPEC's order."""
    try:
        new_device, link_ephemeral, sender_ephemeral, box = decode_link_header(message)
    except HushError as e:
        raise Refused("Decode", e)
    if request["used"]:
        raise Refused("AlreadyUsed")
    if now - request["created_at"] > LINK_CODE_LIFETIME:
        raise Refused("Expired")
    if new_device != request["identity"]:
        raise Refused("WrongDevice")
    if link_ephemeral != request["E"]:
        raise Refused("WrongEphemeral")
    try:
        shared = x25519(request["e"], sender_ephemeral)
        _, key, nonce = link_keys(request["secret"], shared, request["code"], sender_ephemeral)
        payload = aead_open(key, nonce, message[:98] + request["code"], box)
    except (KeyRefused, InvalidTag):
        raise Refused("Unauthenticated")
    p = Reader(payload)
    try:
        sender = p.identity_key("sender_device_key")
        list_bytes = p.bytes_u16("device_list", MAX_DEVICE_LIST_LEN)
        seed = p.take("account_seed", 32) if p.flag("has_account_seed") else None
        contacts = p.bytes_u32("contacts", 0, MAX_LINK_CONTACTS_LEN)
        history = p.bytes_u32("history", 0, MAX_LINK_HISTORY_LEN)
        p.finish()
    except HushError as e:
        raise Refused("MalformedPayload", e)
    try:
        device_list = decode_device_list(list_bytes)
    except Refused as e:
        raise Refused("DeviceList", e)
    listed = {d[0] for d in device_list["devices"]}
    if request["identity"] not in listed:
        raise Refused("NotInDeviceList")
    if sender == request["identity"] or sender not in listed:
        raise Refused("SenderNotInDeviceList")
    if seed is not None and ed25519_public(seed) != device_list["account_key"]:
        raise Refused("AccountSeedMismatch")
    request["used"] = True
    return {"sender_device": sender, "device_list": list_bytes, "account_key": device_list["account_key"],
            "seed": seed, "contacts": contacts, "history": history}


def check_link(report: Report, v: dict):
    phone, laptop = ed25519_public(H(v["phone_seed"])), ed25519_public(H(v["laptop_seed"]))
    account_seed = Replay(H(v["account_generate_random"])).take(32)
    account_key = ed25519_public(account_seed)
    report.check("link: device and account keys", (phone.hex(), laptop.hex(), account_seed.hex())
                 == (v["phone_identity_key"], v["laptop_identity_key"], v["account_seed"]))
    device_list = H(v["device_list"])
    requests = []
    for i, c in enumerate(v["cases"]):
        request = link_request(laptop, H(c["request_random"]), c["created_at"])
        requests.append(request)

        def run(c=c, request=request):
            seed = account_seed if c["with_account_seed"] else None
            payload = link_payload(phone, device_list, seed, H(c["contacts"]), H(c["history"]))
            t = link_seal(request["code"], payload, H(c["seal"]["r"]))
            parsed = decode_link_code(base64.b32decode(c["code_text"].upper() + "=" * (-len(c["code_text"]) % 8)))
            opened = link_open(dict(request), t["message"], c["sealed_at"] + 30)
            listed = decode_device_list(device_list)
            return expect_eq([
                ("code", request["code"].hex(), c["code"]),
                ("code length", len(request["code"]), LINK_CODE_LEN),
                ("code_text", base32_text(request["code"]), c["code_text"]),
                ("code_text parses", parsed["secret"], request["secret"]),
                ("link_ephemeral", request["E"].hex(), c["link_ephemeral"]),
                ("list names both", {laptop, phone} <= {d[0] for d in listed["devices"]}, True),
            ] + [(name, t[name].hex(), c["seal"][name]) for name in (
                "code_hash", "payload", "payload_hash", "ephemeral_info", "sender_ephemeral_secret",
                "sender_ephemeral", "shared", "message_info", "key", "nonce", "header",
                "associated_data", "message")] + [
                ("opened sender", opened["sender_device"].hex(), c["opened"]["sender_device"]),
                ("opened list", opened["device_list"].hex(), c["opened"]["device_list"]),
                ("opened account key", opened["account_key"], account_key),
                ("opened seed", opened["seed"] is not None, c["opened"]["has_account_seed"]),
                ("opened contacts", opened["contacts"].hex(), c["opened"]["contacts"]),
                ("opened history", opened["history"].hex(), c["opened"]["history"]),
            ])
        report.run(f"link.cases[{i}] code, seal ({'with' if c['with_account_seed'] else 'without'} account seed)"
                   " and open", run)
    for case in v["refused"]:
        def run(case=case):
            request = dict(requests[case["opened_by"]])
            request["used"] = bool(case.get("after_genuine"))
            return expect_refusal(lambda: link_open(request, H(case["message"]), case["now"]), case)
        report.run(f"link.refused {case['name']} -> {case['error']}", run)


def account_safety_number(local, local_stable, remote, remote_stable):
    def fp(key, stable):
        h = hashlib.sha512(bytes([0, ACCOUNT_SAFETY_VERSION]) + key + stable).digest()
        for _ in range(1, SAFETY_ITERATIONS):
            h = hashlib.sha512(h + key).digest()
        return h
    lf, rf = fp(local, local_stable), fp(remote, remote_stable)
    ld, rd = fingerprint_digits(lf), fingerprint_digits(rf)
    return (ld + rd if ld <= rd else rd + ld), bytes([ACCOUNT_SAFETY_VERSION]) + lf[:32] + rf[:32], ld


def check_account_safety(report: Report, v: dict):
    for i, c in enumerate(v["cases"]):
        def run(c=c):
            alice, bob = ed25519_public(H(c["alice_seed"])), ed25519_public(H(c["bob_seed"]))
            digits_a, qr_a, half_a = account_safety_number(alice, H(c["alice_stable_id"]), bob,
                                                           H(c["bob_stable_id"]))
            digits_b, qr_b, _ = account_safety_number(bob, H(c["bob_stable_id"]), alice, H(c["alice_stable_id"]))
            return expect_eq([
                ("alice_account_key", alice.hex(), c["alice_account_key"]),
                ("bob_account_key", bob.hex(), c["bob_account_key"]),
                ("alice_half", half_a, c["alice_half"]),
                ("digits (alice)", digits_a, c["digits"]),
                ("digits (bob)", digits_b, c["digits"]),
                ("display", " ".join(digits_a[j : j + 5] for j in range(0, 60, 5)), c["display"]),
                ("qr_alice", qr_a.hex(), c["qr_alice"]),
                ("qr_bob", qr_b.hex(), c["qr_bob"]),
                ("not the version-1 number", digits_a != safety_number(alice, H(c["alice_stable_id"]), bob,
                                                                       H(c["bob_stable_id"]))[0], True),
            ])
        report.run(f"account_safety.cases[{i}] 60 digits and QR bytes, both sides", run)


# ---------------------------------------------------------------------------------------------
# PQXDH (SPEC.md §17)


def kem_keys_match(acc: Account, made: list[KemPreKey], recorded: list[dict]) -> str | None:
    pairs = [("count", len(made), len(recorded))]
    for key, rec in zip(made, recorded):
        seed = acc.kem_seed(key.kind, key.kem_id)
        signed = purpose_message(PURPOSE_KEM_PREKEY, kem_prekey_message(key.kind, key.kem_id, key.key))
        name = f"kem prekey {key.kind}/{key.kem_id}"
        pairs += [
            (f"{name} id", (key.kind, key.kem_id), (rec["kind"], rec["id"])),
            (f"{name} d", seed[:32].hex(), rec["d"]),
            (f"{name} z", seed[32:].hex(), rec["z"]),
            (f"{name} ek = KeyGen_internal(d, z)", key.key.hex(), rec["public"]),
            (f"{name} signed message", signed.hex(), rec["signed_message"]),
            (f"{name} signature", key.signature.hex(), rec["signature"]),
            (f"{name} bytes", key.encode().hex(), rec["bytes"]),
            (f"{name} decodes", KemPreKey.decode(H(rec["bytes"])), key),
            (f"{name} verifies", key.verify(acc.identity), True),
        ]
    return expect_eq(pairs)


def pq_bob(v: dict, now: int) -> tuple[Account, str | None]:
    bob, problem = account_from(v["account"], now)
    problem = problem or otks_from(bob, v["one_time_prekeys"])
    for name, make in [
        ("kem_one_time_prekeys", lambda rng, n: bob.generate_kem_one_time_prekeys(n, rng)),
        ("kem_last_resort_prekey", lambda rng, n: [bob.generate_last_resort_kem_prekey(rng)]),
    ]:
        rng = Replay(H(v[name]["random"]))
        made = make(rng, len(v[name]["keys"]))
        if not rng.done():
            return bob, f"{name} drew fewer random bytes than recorded"
        problem = problem or kem_keys_match(bob, made, v[name]["keys"])
    return bob, problem


def check_pqxdh(report: Report, v: dict):
    st: dict = {}

    def bob():
        st["bob"], problem = pq_bob(v["bob"], v["cases"][0]["now"])
        return problem
    report.run("pqxdh.bob: account, one-time and last-resort KEM prekeys from d || z", bob)
    for case in v["cases"]:
        check_pqxdh_case(report, case, st["bob"])
    check_pqxdh_refused(report, v["refused"], st["bob"], v["cases"][0]["now"])
    for case in v["decode_errors"]:
        def run(case=case):
            decode = KemPreKey.decode if case["kind"] == "kem_prekey" else PqBundle.decode
            try:
                decode(H(case["bytes"]))
                return "decoded"
            except HushError as e:
                return expect_eq([("error", (e.variant, e.field, e.key_error),
                                   (case["error"], case["field"], case["key_error"]))])
        report.run(f"pqxdh.decode_errors {case['name']} -> {case['error']}", run)


def check_pqxdh_case(report: Report, case: dict, bob: Account):
    name, now = f"pqxdh.{case['name']}", case["now"]
    alice_addr, bob_addr = H(case["alice_address"]), H(case["bob_address"])
    bob = copy.deepcopy(bob)
    st: dict = {}

    def bundle():
        st["alice"], problem = account_from(case["alice"], now)
        kem = case["bundle_kem_prekey"]
        made = bob.pq_bundle(case["bundle_one_time_prekey_id"], kem["id"] if kem["kind"] == KEM_ONE_TIME else None)
        st["bundle"] = PqBundle.decode(H(case["bundle"]))
        st["bundle"].verify()
        return problem or expect_eq([("bundle bytes", made.encode().hex(), case["bundle"]),
                                     ("decoded", st["bundle"], made)])
    report.run(f"{name}: version-2 bundle bytes and its KEM prekey's checks", bundle)

    def outbound():
        co = case["create_session"]
        rng = Replay(H(co["random"]))
        b = st["bundle"]
        session, x = st["alice"].create_outbound_session(alice_addr, bob_addr, b.bundle, now, rng, b.kem, True)
        st["session"] = session
        r = session.ratchet
        dhs = x["dhs"] + [None] * (4 - len(x["dhs"]))
        seed = bob.kem_seed(b.kem.kind, b.kem.kem_id)
        return expect_eq([
            ("random fully used", rng.done(), True),
            ("base_key_secret", x["base_secret"].hex(), co["base_key_secret"]),
            ("base_key", session.base_key.hex(), co["base_key"]),
            ("m", x["m"].hex(), co["kem_m"]),
            ("ciphertext = Encaps_internal(ek, m)", x["ciphertext"].hex(), co["kem_ciphertext"]),
            ("SS", x["ss"].hex(), co["kem_shared_secret"]),
            ("Decaps(dk, ciphertext) = SS", kem_decaps(seed, x["ciphertext"]).hex(), co["kem_shared_secret"]),
            ("dh1", dhs[0].hex(), co["dh1"]),
            ("dh2", dhs[1].hex(), co["dh2"]),
            ("dh3", dhs[2].hex(), co["dh3"]),
            ("dh4", hx(dhs[3]), co["dh4"]),
            ("sk = HKDF(0xFF*32 || DH1..DH4 || SS, PQXDH info)", x["sk"].hex(), co["sk"]),
            ("associated_data", session.ad.hex(), co["associated_data"]),
            ("ratchet_secret", r.own_secret.hex(), co["ratchet_secret"]),
            ("ratchet_dh", x25519(r.own_secret, b.bundle.spk).hex(), co["ratchet_dh"]),
            ("root_key", r.root_key.hex(), co["root_key"]),
            ("sending_chain_key", r.sending[0].hex(), co["sending_chain_key"]),
        ])
    report.run(f"{name}: PQXDH initiator (Encaps, DH1..DH4, SK) and RatchetInitAlice", outbound)

    def first():
        fm = case["first_message"]
        rng = Replay(H(fm["random"]))
        pkm = st["session"].encrypt(H(fm["plaintext"]), rng)
        return expect_eq([("random fully used", rng.done(), True), ("PreKeyMessage v2 bytes", pkm.encode().hex(), fm["bytes"]),
                          ("decodes back", PreKeyMessage.decode(H(fm["bytes"])), pkm)])
    report.run(f"{name}: first PreKeyMessage (version 2) bytes", first)

    def inbound():
        bi = case["bob_inbound"]
        rng = Replay(H(bi["random"]))
        m = PreKeyMessage.decode(H(case["first_message"]["bytes"]))
        one_time_before = len(bob.kem_one_time)
        session, plaintext, sk = bob.create_inbound_session(bob_addr, m, rng, True)
        erased = one_time_before - len(bob.kem_one_time)
        return expect_eq([
            ("random fully used", rng.done(), True),
            ("sk", sk.hex(), case["create_session"]["sk"]),
            ("plaintext", plaintext.hex(), bi["plaintext"]),
            ("state", session.ratchet.state(), bi["state"]),
            ("one-time KEM prekeys erased", erased, 1 if m.kem[0] == KEM_ONE_TIME else 0),
        ])
    report.run(f"{name}: PQXDH responder (Decaps) and first decrypt", inbound)


def check_pqxdh_refused(report: Report, v: dict, bob: Account, now: int):
    alice, problem = account_from(v["alice"], now)
    report.check("pqxdh.refused.alice from its random bytes", problem is None, problem or "")
    alice_addr, bob_addr = H(v["alice_address"]), H(v["bob_address"])

    def attempt(fn) -> str:
        try:
            fn()
            return "ok"
        except HushError as e:
            return e.variant

    def bundle_case(case):
        b = PqBundle.decode(H(case["bundle"]))
        require_pq = case["policy"] == "RequirePostQuantum"

        def go():
            b.verify()
            alice.create_outbound_session(b"a", b"b", b.bundle, now, Replay(b""), b.kem, require_pq)
        return expect_eq([("error", attempt(go), case["error"])])

    def message_case(case):
        account = copy.deepcopy(bob)
        m = PreKeyMessage.decode(H(case["message"]))
        require_pq = case["policy"] == "RequirePostQuantum"
        result = attempt(lambda: account.create_inbound_session(bob_addr, m, Replay(b""), require_pq))
        return expect_eq([("error", result, case["error"]),
                          ("account unchanged", (account.otks, account.kem_one_time, account.used_base_keys),
                           (bob.otks, bob.kem_one_time, bob.used_base_keys))])

    for case in v["cases"]:
        run = bundle_case if case["target"] == "alice_create_session" else message_case
        report.run(f"pqxdh.refused {case['name']} -> {case['error']}", lambda case=case, run=run: run(case))

    def genuine():
        b = PqBundle.decode(H(v["genuine_bundle"]))
        b.verify()
        rng = Replay(H(v["setup_random"]))
        session, _ = alice.create_outbound_session(alice_addr, bob_addr, b.bundle, now, rng, b.kem, True)
        message = session.encrypt(b"to be refused", rng)
        account = copy.deepcopy(bob)
        _, plaintext, _ = account.create_inbound_session(bob_addr, message, Replay(bytes(32)), True)
        return expect_eq([("random fully used", rng.done(), True),
                          ("genuine message", message.encode().hex(), v["genuine_message"]),
                          ("it is accepted", plaintext, b"to be refused")])
    report.run("pqxdh.refused: the genuine message the cases alter", genuine)

    def reused():
        r = v["reused_one_time_kem_prekey"]
        b = PqBundle.decode(H(r["bundle"]))
        b.verify()
        rng = Replay(H(r["setup_random"]))
        messages = []
        for text in (b"first", b"second"):
            session, _ = alice.create_outbound_session(alice_addr, bob_addr, b.bundle, now, rng, b.kem, True)
            messages.append(session.encrypt(text, rng))
        account = copy.deepcopy(bob)
        _, plaintext, _ = account.create_inbound_session(bob_addr, messages[0], Replay(H(r["first_use_random"])), False)
        second = attempt(lambda: account.create_inbound_session(bob_addr, messages[1], Replay(b""), False))
        return expect_eq([
            ("random fully used", rng.done(), True),
            ("first message", messages[0].encode().hex(), r["first_message"]),
            ("second message", messages[1].encode().hex(), r["message"]),
            ("first use", plaintext, b"first"),
            ("second use", second, r["error"]),
        ])
    report.run("pqxdh.refused one-time KEM prekey served twice -> UnknownKemPreKey on the second", reused)

    def classical():
        c = v["classical_message_default_policy"]
        m = PreKeyMessage.decode(H(c["message"]))
        account = copy.deepcopy(bob)
        refused = attempt(lambda: account.create_inbound_session(bob_addr, m, Replay(b""), True))
        # Any 32 bytes serve as Bob's next ratchet secret: this only shows the message is genuine.
        _, plaintext, _ = copy.deepcopy(bob).create_inbound_session(bob_addr, m, Replay(bytes(32)), False)
        return expect_eq([("kem", m.kem, None), ("under RequirePostQuantum", refused, c["error"]),
                          ("under AllowClassical", plaintext, b"classical")])
    report.run("pqxdh.refused classical pre-key message under the default policy -> ClassicalSetupRefused", classical)


# ---------------------------------------------------------------------------------------------
# Group updates (proto/PROTOCOL.md, "Group updates")

GROUP_UPDATE_FORMAT, KIND_GROUP_UPDATE = 1, 0x47
PURPOSE_GROUP_UPDATE = 6
GROUP_UPDATE_HASH_KEY = b"Hush_v1_GroupUpdateHash"
MAX_GROUP_MEMBERS, MAX_GROUP_NAME_LEN, MAX_GROUP_DESCRIPTION_LEN = 1000, 128, 1024
GROUP_OPS = {1: "create", 2: "add", 3: "remove", 4: "leave", 5: "rename", 6: "set_role"}
GROUP_ROLES = {1: "admin", 2: "member"}


def group_key(r: Reader, field: str) -> bytes:
    key = r.take(field, 32)
    try:
        ed25519_point(key)
    except KeyRefused:
        raise HushError("InvalidKey", field)
    return key


def group_count(r: Reader, field: str) -> int:
    count = r.u16(field)
    if count == 0:
        raise HushError("Empty", field)
    if count > MAX_GROUP_MEMBERS:
        raise HushError("TooLong", field)
    return count


def group_text(r: Reader, field: str, limit: int) -> str:
    length = r.u16(field)
    if length > limit:
        raise HushError("TooLong", field)
    try:
        return r.take(field, length).decode("utf-8")
    except UnicodeDecodeError:
        raise HushError("NotUtf8", field)


def group_texts(r: Reader) -> dict:
    name = group_text(r, "name", MAX_GROUP_NAME_LEN)
    if name == "":
        raise HushError("Empty", "name")
    flag = r.u8("description")
    if flag not in (0, 1):
        raise HushError("InvalidFlag", "description")
    description = group_text(r, "description", MAX_GROUP_DESCRIPTION_LEN) if flag == 1 else None
    return {"name": name, "description": description}


def group_accounts(r: Reader, field: str, with_roles: bool) -> list:
    out = []
    for _ in range(group_count(r, field)):
        account = group_key(r, field)
        if with_roles:
            role = r.u8("role")
            if role not in GROUP_ROLES:
                raise HushError("UnknownRole")
        if out and (out[-1]["account"] if with_roles else out[-1]) >= account.hex():
            raise HushError("OutOfOrder", field)
        out.append({"account": account.hex(), "role": GROUP_ROLES[role]} if with_roles else account.hex())
    return out


def decode_group_update(data: bytes) -> dict:
    """The fields of a group update, checked in byte order, then the version rule, then the
    signature."""
    r = Reader(data)
    if r.u8("format") != GROUP_UPDATE_FORMAT:
        raise HushError("UnsupportedVersion")
    if r.u8("kind") != KIND_GROUP_UPDATE:
        raise HushError("UnexpectedKind")
    f = {"group_id": r.take("group_id", 16).hex(), "version": r.u64("version"),
         "author_account": group_key(r, "author_account").hex(), "author_device": group_key(r, "author_device").hex()}
    op = r.u8("operation")
    kind = GROUP_OPS.get(op)
    if kind is None:
        raise HushError("UnknownOperation")
    operation = {"kind": kind}
    if kind == "create":
        operation.update(group_texts(r))
        operation["members"] = group_accounts(r, "members", True)
    elif kind == "add":
        operation["members"] = group_accounts(r, "members", True)
    elif kind == "remove":
        operation["accounts"] = group_accounts(r, "accounts", False)
    elif kind == "rename":
        operation.update(group_texts(r))
    elif kind == "set_role":
        operation["account"] = group_key(r, "account").hex()
        role = r.u8("role")
        if role not in GROUP_ROLES:
            raise HushError("UnknownRole")
        operation["role"] = GROUP_ROLES[role]
    f["operation"] = operation
    f["signature"] = r.take("signature", 64).hex()
    if r.pos != len(data):
        raise HushError("TrailingBytes")
    if f["version"] == 0 or (f["version"] == 1) != (kind == "create"):
        raise HushError("BadVersion")
    if not ed25519_verify(H(f["author_device"]), purpose_message(PURPOSE_GROUP_UPDATE, data[:-64]), H(f["signature"])):
        raise HushError("BadSignature")
    return f


def encode_group_update(f: dict, device_seed: bytes) -> bytes:
    """The update of these fields, signed again with the author device's seed."""
    def text(t: str) -> bytes:
        b = t.encode("utf-8")
        return struct.pack(">H", len(b)) + b

    def texts(o: dict) -> bytes:
        return text(o["name"]) + (b"\x00" if o["description"] is None else b"\x01" + text(o["description"]))

    def members(ms: list) -> bytes:
        return struct.pack(">H", len(ms)) + b"".join(H(m["account"]) + bytes([1 if m["role"] == "admin" else 2]) for m in ms)

    o = f["operation"]
    op = {v: k for k, v in GROUP_OPS.items()}[o["kind"]]
    body = {"create": lambda: texts(o) + members(o["members"]), "add": lambda: members(o["members"]),
            "remove": lambda: struct.pack(">H", len(o["accounts"])) + b"".join(H(a) for a in o["accounts"]),
            "leave": lambda: b"", "rename": lambda: texts(o),
            "set_role": lambda: H(o["account"]) + bytes([1 if o["role"] == "admin" else 2])}[o["kind"]]()
    unsigned = (bytes([GROUP_UPDATE_FORMAT, KIND_GROUP_UPDATE]) + H(f["group_id"]) + struct.pack(">Q", f["version"])
                + H(f["author_account"]) + H(f["author_device"]) + bytes([op]) + body)
    return unsigned + ed25519_sign(device_seed, purpose_message(PURPOSE_GROUP_UPDATE, unsigned))


def group_apply(state: dict, f: dict) -> dict:
    """The rules: the state after update `f`, or HushError naming the refusal."""
    author, o = f["author_account"], f["operation"]
    members = dict(state["members"])
    if author not in members:
        raise HushError("AuthorNotMember")
    if o["kind"] not in ("leave", "create") and members[author] != "admin":
        raise HushError("AuthorNotAdmin")
    new = dict(state, members=members, version=state["version"] + 1)
    if o["kind"] == "create":
        raise HushError("SecondCreation")
    if o["kind"] == "add":
        if any(m["account"] in members for m in o["members"]):
            raise HushError("AlreadyMember")
        if len(members) + len(o["members"]) > MAX_GROUP_MEMBERS:
            raise HushError("TooManyMembers")
        members.update({m["account"]: m["role"] for m in o["members"]})
    elif o["kind"] == "remove":
        if author in o["accounts"]:
            raise HushError("RemovesAuthor")
        for a in o["accounts"]:
            if a not in members:
                raise HushError("NotMember")
            del members[a]
    elif o["kind"] == "leave":
        del members[author]
    elif o["kind"] == "rename":
        new["name"], new["description"] = o["name"], o["description"]
    elif o["kind"] == "set_role":
        if o["account"] not in members:
            raise HushError("NotMember")
        if members[o["account"]] == o["role"]:
            raise HushError("RoleUnchanged")
        members[o["account"]] = o["role"]
    if members and "admin" not in members.values():
        raise HushError("NoAdminLeft")
    return new


def group_order(creation: dict, updates: list) -> tuple:
    """The ordering rule: -> (state, {hash: outcome})."""
    o = creation["operation"]
    members = {m["account"]: m["role"] for m in o["members"]}
    if members.get(creation["author_account"]) != "admin":
        raise HushError("CreatorNotAdmin")
    state = {"group_id": creation["group_id"], "name": o["name"], "description": o["description"],
             "members": members, "version": 1}
    demotes = ("remove", "leave", "set_role")
    outcomes = {}
    waiting = False
    for h, f in sorted(updates, key=lambda u: (u[1]["version"], u[1]["operation"]["kind"] not in demotes, u[0])):
        if waiting or f["version"] > state["version"] + 1:
            waiting = True
            outcomes[h] = "waiting"
            continue
        try:
            state = group_apply(state, f)
            outcomes[h] = "applied"
        except HushError as e:
            state = dict(state, version=state["version"] + 1)
            outcomes[h] = f"refused:{e.variant}"
    return state, outcomes


def check_group_update(report: Report, v: dict):
    seeds = {}
    for p in v["people"]:
        def run(p=p):
            seeds[p["device"]] = H(p["device_seed"])
            return expect_eq([("account", ed25519_public(H(p["account_seed"])).hex(), p["account"]),
                              ("device", ed25519_public(H(p["device_seed"])).hex(), p["device"])])
        report.run(f"group_update.people {p['name']} keys from seeds", run)
    decoded = {}
    for c in v["updates"]:
        def run(c=c):
            f = decode_group_update(H(c["bytes"]))
            h = hmac.new(GROUP_UPDATE_HASH_KEY, H(c["bytes"]), hashlib.sha256).digest()
            decoded[c["name"]] = (h, f)
            return expect_eq([
                ("fields", f, c["fields"]),
                ("encoded and signed again", encode_group_update(f, seeds[f["author_device"]]).hex(), c["bytes"]),
                ("hash", h.hex(), c["hash"]),
            ])
        report.run(f"group_update.updates {c['name']} decodes, re-encodes and hashes", run)
    check_refusals(report, v["refused"], decode_group_update, "group_update.refused")

    def order():
        o = v["order"]
        names = [c["name"] for c in v["updates"]]
        creation = decoded[names[o["creation"]]][1]
        arrived = [decoded[names[i]] for i in o["arrival"]]
        state, outcomes = group_order(creation, arrived)
        shown = dict(state, members=[{"account": a, "role": r} for a, r in sorted(state["members"].items())])
        problems = [("state", shown, o["state"])]
        for entry in o["outcomes"]:
            h = decoded[entry["update"]][0]
            problems.append((f"outcome of {entry['update']}", outcomes.get(h, "absent"), entry["outcome"]))
        for reordered in (list(reversed(arrived)), sorted(arrived, key=lambda u: u[0])):
            problems.append(("same state in another arrival order", group_order(creation, reordered)[0], state))
        return expect_eq(problems)
    report.run("group_update.order concurrent updates order to one state", order)



def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "vectors")
    report = Report()
    checks = [
        ("identity", check_identity),
        ("x3dh", check_x3dh),
        ("ratchet", check_ratchet),
        ("group", check_group),
        ("safety", check_safety),
        ("encodings", check_encodings),
        ("negative", check_negative),
        ("sealed", check_sealed),
        ("sealed_shared", check_sealed_shared),
        ("payload", check_payload),
        ("frames", check_frames),
        ("devices", check_devices),
        ("link", check_link),
        ("account_safety", check_account_safety),
        ("pqxdh", check_pqxdh),
        ("group_update", check_group_update),
        ("content", check_content),
        ("ephemeral", check_ephemeral),
    ]
    for name, fn in checks:
        try:
            with open(os.path.join(directory, f"{name}.json")) as f:
                vectors = json.load(f)
        except OSError as e:
            report.check(f"{name}.json readable", False, str(e))
            continue
        try:
            fn(report, vectors)
        except Exception as e:  # noqa: BLE001 - a crash in one file is a failure, not the end
            report.check(f"{name}.json", False, f"{type(e).__name__}: {e}")
    print(f"{report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
