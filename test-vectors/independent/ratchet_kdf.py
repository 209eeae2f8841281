#!/usr/bin/env python3
"""Independent generator of the Double Ratchet KDF vectors in ratchet_kdf.json (python3 ratchet_kdf.py > ratchet_kdf.json).

Uses only Python's hmac and hashlib (no Hush code):
  KDF_CK: mk = HMAC-SHA256(ck, 0x01), ck' = HMAC-SHA256(ck, 0x02)
  KDF_RK: HKDF-SHA256(salt = rk, ikm = dh_out, info = "Hush_v1_Ratchet") -> rk' (32) || ck (32)
  message keys: HKDF-SHA256(salt = message salt, ikm = mk, info = "Hush_v1_MessageKeys")
                -> AES-256 key (32) || GCM nonce (12)
Checked by crypto/tests/ratchet_security/kdf_known_answers.rs (shipped_vectors_match).
"""
import hashlib
import hmac
import json


def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def counting(start, n):
    return bytes((start + i) % 256 for i in range(n))


kdf_ck = []
for ck in [counting(0x00, 32), bytes(32), bytes([0xFF] * 32)]:
    kdf_ck.append({
        "chain_key": ck.hex(),
        "message_key": hmac.new(ck, b"\x01", hashlib.sha256).hexdigest(),
        "next_chain_key": hmac.new(ck, b"\x02", hashlib.sha256).hexdigest(),
    })

kdf_rk = []
for rk, dh in [(counting(0x00, 32), counting(0x20, 32)), (bytes(32), bytes([0xAA] * 32))]:
    okm = hkdf(rk, dh, b"Hush_v1_Ratchet", 64)
    kdf_rk.append({"root_key": rk.hex(), "dh_out": dh.hex(),
                   "new_root_key": okm[:32].hex(), "chain_key": okm[32:].hex()})

message_keys = []
for mk, salt in [(counting(0x40, 32), counting(0x60, 16)), (bytes(32), bytes(16))]:
    okm = hkdf(salt, mk, b"Hush_v1_MessageKeys", 44)
    message_keys.append({"message_key": mk.hex(), "salt": salt.hex(),
                         "aead_key": okm[:32].hex(), "aead_nonce": okm[32:].hex()})

print(json.dumps({"kdf_ck": kdf_ck, "kdf_rk": kdf_rk, "message_keys": message_keys}, indent=2))
