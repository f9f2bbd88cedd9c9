#!/usr/bin/python3
"""The test vectors of docs/e2e.md, computed independently of the C code
(hashlib/hmac for HKDF, python3-cryptography for AES-CCM and AES-CBC).
tests/unit/test_e2e_proto.c checks the C implementation against them."""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives import padding

SALT = b"fleetpki-device-v1"


def hkdf(secret, rot, label, ctx, n):
    prk = hmac.new(SALT, secret, hashlib.sha256).digest()
    info = label.encode() + b"\0" + rot + ctx
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def kiv(version, suite, rot, epoch):
    if version == 1:
        return bytes([1, suite]) + rot + struct.pack(">I", epoch) + b"\0\0"
    return bytes([2, suite]) + rot + struct.pack(">H", epoch & 0xFFFF)


def uplink_key(secret, rot, epoch, suite):
    n = 16 if suite == 1 else 32
    return hkdf(secret, rot, "e2e-uplink", struct.pack(">I", epoch) + bytes([suite]), n)


def uplink(secret, rot, version, suite, epoch, nonce, pt):
    key = uplink_key(secret, rot, epoch, suite)
    hdr = kiv(version, suite, rot, epoch) + nonce + struct.pack(">I", len(pt))
    ct = AESCCM(key, tag_length=16).encrypt(nonce, pt, hdr)
    return key, hdr + ct


def downlink(secret, rot, epoch, iv, pt):
    ctx = struct.pack(">I", epoch)
    ek = hkdf(secret, rot, "e2e-downlink-enc", ctx, 16)
    mk = hkdf(secret, rot, "e2e-downlink-mac", ctx, 16)
    p = padding.PKCS7(128).padder()
    data = p.update(pt) + p.finalize()
    e = Cipher(algorithms.AES(ek), modes.CBC(iv)).encryptor()
    ct = e.update(data) + e.finalize()
    head = kiv(1, 0x10, rot, epoch) + iv
    mac = hmac.new(mk, head + ct, hashlib.sha256).digest()[:16]
    return ek, mk, head + ct + mac


if __name__ == "__main__":
    secret = bytes(range(32))
    rot = bytes.fromhex("0000200456789544")
    nonce = bytes(range(0xA0, 0xAC))
    iv = bytes(range(0xC0, 0xD0))
    pt = b"fleetpki e2e test vector"
    for version, suite in ((1, 1), (1, 2), (2, 1)):
        key, msg = uplink(secret, rot, version, suite, 7, nonce, pt)
        print(f"uplink v{version} suite {suite:#04x} epoch 7")
        print("  key", key.hex())
        print("  msg", msg.hex())
    ek, mk, msg = downlink(secret, rot, 7, iv, pt)
    print("downlink CS1 epoch 7")
    print("  enc", ek.hex())
    print("  mac", mk.hex())
    print("  msg", msg.hex())
