"""End-to-end data protection (docs/e2e.md, issue 11): the /e2e/... routes
of the security-services dialect, with the device side played by
fleetpki-device-sim (libfleetpki-device) and the back end's side by this
test with python3-cryptography (Debian's): uplink messages the library
seals open with the parameters the server gives; downlink messages built
from the server's parameters open in the library; a flipped bit anywhere
fails; rotation (AUTOMATIC, CONTINUOUS) and the old epochs; tenant
isolation; bad input changes nothing."""

import base64
import hashlib
import hmac
import json
import re
import struct

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from helpers import assert_json_error, psql
from secsvc_helpers import make_secsvc_tenant
from test_device_protocol import allow, rot, seal, set_bootstrap, sim

PT = b"temperature=21.5;door=closed"
NO_KEY = "Not Found. No E2E key for this header."


def b64(s):
    return base64.b64decode(s)


def q(t, sql):
    return psql(t.url, sql)


def sim_out(res, label):
    m = re.search(rf"^{label}: (\S+)$", res.stdout, re.M)
    assert m, (res.stdout, res.stderr)
    return m.group(1)


class E2EDevice:
    """A sealed, activated, bootstrapped device and the sim that is it."""

    def __init__(self, stack, t, heartbeat=3600):
        self.stack, self.t = stack, t
        prof = t.profile()
        set_bootstrap(t, prof, {"LocalDPR": True, "SecurityHeartbeatInSec": heartbeat})
        self.rot, self.secret = seal(stack, t, profile=prof)
        allow(t, "ROTPublicUID", self.rot)
        res = self.run("--heartbeats", "1")
        assert res.returncode == 0, res.stderr
        self.state = None

    def run(self, *args):
        return sim(self.stack, "--rot", self.rot, "--secret", self.secret, *args)

    def heartbeat(self):
        """One heartbeat: the E2E properties arrive; keep the state."""
        res = self.run("--no-bootstrap", "--heartbeats", "1", "--e2e-state",
                       self.state or "0,0,0,0,0,0")
        assert res.returncode == 0, res.stderr
        self.state = sim_out(res, "e2e-state")
        return res

    def offline(self, *args):
        return self.run("--no-bootstrap", "--heartbeats", "0", "--e2e-state",
                        self.state, *args)

    def seal(self, pt=PT, version=1, bits=128):
        res = self.offline("--e2e-seal", pt.hex(), "--e2e-version", str(version),
                           "--e2e-bits", str(bits))
        assert res.returncode == 0, res.stderr
        self.state = sim_out(res, "e2e-state")
        return bytes.fromhex(sim_out(res, "e2e-message"))

    def open(self, msg):
        """The plaintext, or None when the library refused the message."""
        res = self.offline("--e2e-open", msg.hex())
        if res.returncode != 0:
            assert "e2e open" in res.stderr, res.stderr
            return None
        self.state = sim_out(res, "e2e-state")
        return bytes.fromhex(sim_out(res, "e2e-plaintext"))


def hdr_len(msg):
    return {1: 32, 2: 28}[msg[0]]


def kiv_len(msg):
    return {1: 16, 2: 12}[msg[0]]


def ccm_open(key, msg, version=None):
    """Open as a header of 'version' (default: the one the message says)."""
    version = version or msg[0]
    h, k = {1: (32, 16), 2: (28, 12)}[version]
    return AESCCM(key, tag_length=16).decrypt(msg[k:k + 12], msg[h:], msg[:h])


def cs1_seal(p, pt):
    """A downlink message from /e2e/downlink/protectionparameters/get."""
    enc, mac, kiv, iv = (b64(p[k]) for k in ("EncryptionKey", "AuthenticationKey", "KIV", "AESIV"))
    pad = padding.PKCS7(128).padder()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(pad.update(pt) + pad.finalize()) + e.finalize()
    head = kiv + iv
    return head + ct + hmac.new(mac, head + ct, hashlib.sha256).digest()[:16]


def rotate(t, rots, typ="AUTOMATIC", days=None, tags=None):
    body = {"Type": typ}
    if rots is not None:
        body["ROTPublicUIDs"] = rots
    if tags is not None:
        body["TagNames"] = tags
    if days is not None:
        body["Days"] = days
    return t.post("/e2e/key/rotate", body)


def uplink(t, header, what="protection"):
    return t.post(f"/e2e/uplink/{what}parameters/get", {"EncryptedHeader": header.hex()})


def downlink(t, r, what="protection"):
    return t.post(f"/e2e/downlink/{what}parameters/get", {"ROTPublicUID": r})


def usage(t, r):
    return dict(tuple(line.split("|")) for line in q(t, f"""
        SELECT u.event, u.count FROM device_usage u JOIN devices d ON d.id = u.device_id
        WHERE d.rot = '{r}' AND u.event LIKE 'E2E%' ORDER BY 1""").splitlines())


def e2e_row(t, r):
    return q(t, f"""SELECT e.rotation, e.days, e.base_epoch, e.last_uplink, e.last_downlink
        FROM device_e2e e JOIN devices d ON d.id = e.device_id WHERE d.rot = '{r}'""")


@pytest.fixture(scope="module")
def tenant(stack):
    t = make_secsvc_tenant(stack)
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_burst", "1000")
    return t


@pytest.fixture(scope="module")
def auto_dev(stack, tenant):
    d = E2EDevice(stack, tenant)
    r = rotate(tenant, [d.rot.lower()], days=1)
    assert r.status == 200, r
    assert r.json() == {"Message": "The automatic rotation has been set. The key will be "
                                   "rotated every 1 day.", "Devices": 1}
    res = d.heartbeat()
    assert "E2EContinuous=false" in res.stdout and "E2EKeyDays=1" in res.stdout
    return d


# ---- uplink round trips --------------------------------------------------------

@pytest.mark.parametrize("version,bits", [(1, 128), (1, 256), (2, 128), (2, 256)])
def test_uplink_round_trip(tenant, auto_dev, version, bits):
    d, t = auto_dev, tenant
    msg = d.seal(version=version, bits=bits)
    assert len(msg) == {1: 32, 2: 28}[version] + len(PT) + 16
    before = usage(t, d.rot)
    r = uplink(t, msg[:kiv_len(msg)])
    assert r.status == 200, r
    p = r.json()
    assert p["CipherSuite"] == {128: "AES_128_CCM", 256: "AES_256_CCM"}[bits]
    assert p["MACLength"] == 128 and p["ROTPublicUID"] == d.rot
    assert b64(p["KIV"]) == msg[:kiv_len(msg)] and "Nonce" not in p
    key = b64(p["Key"])
    assert len(key) == bits // 8
    assert ccm_open(key, msg) == PT
    # the whole header: its nonce comes back too
    r = uplink(t, msg[:hdr_len(msg)])
    assert r.status == 200 and b64(r.json()["Nonce"]) == msg[kiv_len(msg):kiv_len(msg) + 12]
    # integrity parameters: CCM's one key
    r = uplink(t, msg[:kiv_len(msg)], "integrity")
    assert r.status == 200, r
    i = r.json()
    assert b64(i["AuthenticationKey"]) == key and i["AuthKeyLength"] == bits
    assert i["MACLength"] == 128 and i["KIV"] == p["KIV"] and i["KeyEpoch"] == p["KeyEpoch"]
    # the symmetric key by KeyID (v1: the KIV after version and suite)
    if version == 1:
        r = t.post("/e2e/uplink/symmetrickey/get",
                   {"KeyID": msg[2:16].hex().upper(), "KeyLength": bits})
        assert r.status == 200, r
        assert b64(r.json()["Key"]) == key and r.json()["ROTPublicUID"] == d.rot
    after = usage(t, d.rot)
    assert int(after["E2EUplinkProtection"]) == int(before.get("E2EUplinkProtection", 0)) + 2
    assert int(after["E2EUplinkIntegrity"]) == int(before.get("E2EUplinkIntegrity", 0)) + 1
    if version == 1:
        assert int(after["E2EUplinkSymmetricKey"]) == \
            int(before.get("E2EUplinkSymmetricKey", 0)) + 1


def test_uplink_flipped_bits_fail(tenant, auto_dev):
    msg = auto_dev.seal(version=1, bits=256)
    key = b64(uplink(tenant, msg[:16]).json()["Key"])
    assert ccm_open(key, msg) == PT
    for i in range(len(msg) * 8):
        bad = bytearray(msg)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(InvalidTag):
            ccm_open(key, bytes(bad), version=1)


def test_symmetric_key_default_length_is_256(tenant, auto_dev):
    msg = auto_dev.seal(version=1, bits=256)
    r = tenant.post("/e2e/uplink/symmetrickey/get", {"KeyID": msg[2:16].hex()})
    assert r.status == 200, r
    assert ccm_open(b64(r.json()["Key"]), msg) == PT


# ---- downlink round trips ------------------------------------------------------

def test_downlink_round_trip(tenant, auto_dev):
    d, t = auto_dev, tenant
    r = downlink(t, d.rot.lower())
    assert r.status == 200, r
    p = r.json()
    assert p["CipherSuite"] == "AES_128_CS1_HMAC_SHA256"
    assert (p["MACLength"], p["KeyLength"], p["AuthKeyLength"]) == (128, 128, 128)
    assert p["ROTPublicUID"] == d.rot and len(b64(p["AESIV"])) == 16
    kiv = b64(p["KIV"])
    assert len(kiv) == 16 and kiv[:2] == b"\x01\x10" and kiv[2:10] == bytes.fromhex(d.rot)
    msg = cs1_seal(p, PT)
    assert d.open(msg) == PT
    # integrity parameters: the same authentication key (AUTOMATIC: same epoch)
    r = downlink(t, d.rot, "integrity")
    assert r.status == 200, r
    assert r.json()["AuthenticationKey"] == p["AuthenticationKey"]
    assert r.json()["KIV"] == p["KIV"] and "EncryptionKey" not in r.json()
    # a fresh IV each call
    assert downlink(t, d.rot).json()["AESIV"] != p["AESIV"]
    u = usage(t, d.rot)
    assert int(u["E2EDownlinkProtection"]) >= 2 and int(u["E2EDownlinkIntegrity"]) >= 1


def test_downlink_flipped_bits_fail(tenant, auto_dev):
    p = downlink(tenant, auto_dev.rot).json()
    msg = cs1_seal(p, PT)
    # a bit in each part: KIV (version, suite, ROT, epoch, reserved), IV,
    # each ciphertext block, MAC
    for pos in (0, 1, 5, 12, 15, 16, 31, 32, 47, 48, 63, len(msg) - 16, len(msg) - 1):
        bad = bytearray(msg)
        bad[pos] ^= 0x04
        assert auto_dev.open(bytes(bad)) is None, pos
    # and another device's key does not open it
    assert auto_dev.open(msg[:-1]) is None
    assert auto_dev.open(msg) == PT


# ---- rotation -------------------------------------------------------------------

def kiv_of(version, suite, r, epoch):
    if version == 1:
        return bytes([1, suite]) + bytes.fromhex(r) + struct.pack(">I", epoch) + b"\0\0"
    return bytes([2, suite]) + bytes.fromhex(r) + struct.pack(">H", epoch & 0xFFFF)


def test_automatic_rotation_and_old_epochs(stack, tenant):
    t = tenant
    d = E2EDevice(stack, t)
    assert rotate(t, [d.rot]).status == 200  # Days defaults to 7
    assert e2e_row(t, d.rot) == "AUTOMATIC|7|1|0|0"
    d.heartbeat()
    m1 = d.seal()
    k1 = b64(uplink(t, m1[:16]).json()["Key"])
    assert ccm_open(k1, m1) == PT
    # the same key again while the period lasts
    assert b64(uplink(t, m1[:16]).json()["Key"]) == k1
    assert m1[10:14] == struct.pack(">I", 1)
    # rotate: a new base epoch; the device hears of it at its heartbeat
    r = rotate(t, [d.rot], days=3)
    assert r.status == 200 and "every 3 days." in r.json()["Message"]
    assert e2e_row(t, d.rot) == "AUTOMATIC|3|2|1|0"
    d.heartbeat()
    m2 = d.seal()
    assert m2[10:14] == struct.pack(">I", 2)
    k2 = b64(uplink(t, m2[:16]).json()["Key"])
    assert k2 != k1 and ccm_open(k2, m2) == PT
    # the previous epoch still opens (messages in flight), the key unchanged
    r = uplink(t, m1[:16])
    assert r.status == 200 and b64(r.json()["Key"]) == k1
    # a third rotation: epoch 1 is now two behind and refused
    assert rotate(t, [d.rot], days=3).status == 200
    assert e2e_row(t, d.rot).split("|")[2] == "3"
    assert_json_error(uplink(t, m1[:16]), 404, NO_KEY)
    assert uplink(t, m2[:16]).status == 200
    # an epoch from the future (beyond the clock's grace) is refused
    assert uplink(t, kiv_of(1, 1, d.rot, 3)).status == 200
    assert uplink(t, kiv_of(1, 1, d.rot, 4)).status == 200
    assert_json_error(uplink(t, kiv_of(1, 1, d.rot, 5)), 404, NO_KEY)
    # v2 carries 16 bits of the epoch: resolved in the window
    assert uplink(t, kiv_of(2, 1, d.rot, 3)).json()["KeyEpoch"] == 3
    # downlink uses the current epoch
    p = downlink(t, d.rot).json()
    assert p["KeyEpoch"] == 3
    d.heartbeat()
    assert d.open(cs1_seal(p, PT)) == PT


def test_heartbeat_adjusted_to_the_period(stack, tenant):
    t = tenant
    d = E2EDevice(stack, t, heartbeat=2 * 86400)
    r = rotate(t, [d.rot], days=1)
    assert r.status == 200, r
    assert r.json()["Message"] == ("The automatic rotation has been set. The key will be rotated "
                                   "every 1 day. The Security heartbeat has been adjusted to 1 day.")
    res = d.heartbeat()
    assert "SecurityHeartbeatInSec=86400" in res.stdout
    assert json.loads(q(t, f"SELECT current_props FROM devices WHERE rot = '{d.rot}'"))[
        "SecurityHeartbeatInSec"] == 86400
    # a heartbeat already short enough is left alone
    r = rotate(t, [d.rot], days=2)
    assert r.json()["Message"] == ("The automatic rotation has been set. The key will be rotated "
                                   "every 2 days.")


def test_continuous_rotation(stack, tenant):
    t = tenant
    d = E2EDevice(stack, t)
    assert rotate(t, [d.rot], days=2).status == 200
    d.heartbeat()
    r = rotate(t, [d.rot], "CONTINUOUS")
    assert r.status == 200, r
    assert r.json()["Message"] == ("The continuous rotation has been set. The key will be "
                                   "rotated on every call.")
    base = int(e2e_row(t, d.rot).split("|")[2])
    res = d.heartbeat()
    assert "E2EContinuous=true" in res.stdout
    m1, m2 = d.seal(), d.seal(version=2)
    e1, e2 = struct.unpack(">I", m1[10:14])[0], struct.unpack(">H", m2[10:12])[0]
    assert (e1, e2) == (base, (base + 1) & 0xFFFF)
    p1 = uplink(t, m1[:16]).json()
    assert ccm_open(b64(p1["Key"]), m1) == PT and p1["KeyEpoch"] == base
    # each key is given once: the old message's epoch is refused now
    assert_json_error(uplink(t, m1[:16]), 404, NO_KEY)
    assert_json_error(uplink(t, m1[:16], "integrity"), 404, NO_KEY)
    p2 = uplink(t, m2[:12]).json()
    assert ccm_open(b64(p2["Key"]), m2) == PT and p2["KeyEpoch"] == base + 1
    assert p2["Key"] != p1["Key"]
    # downlink: a new epoch each call; the device takes each once
    a, b = downlink(t, d.rot).json(), downlink(t, d.rot).json()
    assert b["KeyEpoch"] == a["KeyEpoch"] + 1 and a["EncryptionKey"] != b["EncryptionKey"]
    ma, mb = cs1_seal(a, b"first"), cs1_seal(b, b"second")
    assert d.open(ma) == b"first"
    assert d.open(ma) is None  # replayed
    assert d.open(mb) == b"second"
    assert d.open(ma) is None  # older than the last accepted


# ---- refusals --------------------------------------------------------------------

def test_no_rotation_set_is_not_found(stack, tenant):
    d = E2EDevice(stack, tenant)
    assert_json_error(uplink(tenant, kiv_of(1, 1, d.rot, 1)), 404, NO_KEY)
    assert_json_error(downlink(tenant, d.rot), 404, "Not Found. No E2E key for this device.")
    assert_json_error(uplink(tenant, kiv_of(1, 1, rot(), 1)), 404, NO_KEY)
    assert_json_error(rotate(tenant, [rot()]), 404, "Not Found. No activated device matches.")


def test_tenant_isolation(stack, tenant, auto_dev):
    other = make_secsvc_tenant(stack)
    msg = auto_dev.seal()
    row = e2e_row(tenant, auto_dev.rot)
    assert_json_error(uplink(other, msg[:16]), 404, NO_KEY)
    assert_json_error(uplink(other, msg[:16], "integrity"), 404, NO_KEY)
    assert_json_error(other.post("/e2e/uplink/symmetrickey/get", {"KeyID": msg[2:16].hex()}),
                      404, NO_KEY)
    assert_json_error(downlink(other, auto_dev.rot), 404)
    assert_json_error(downlink(other, auto_dev.rot, "integrity"), 404)
    assert_json_error(rotate(other, [auto_dev.rot], "CONTINUOUS"), 404)
    assert e2e_row(tenant, auto_dev.rot) == row
    assert q(tenant, f"SELECT count(*) FROM device_usage u JOIN devices d ON d.id = u.device_id "
                     f"WHERE d.rot = '{auto_dev.rot}' AND u.tenant_id = {other.id}") == "0"
    # and the owner still gets its keys
    assert ccm_open(b64(uplink(tenant, msg[:16]).json()["Key"]), msg) == PT


def test_blocked_device_gets_no_key(stack, tenant):
    """A device on the deny list gets no E2E key, up or down, and no epoch
    or usage is taken; unblocked, the same message opens."""
    blocked = "Forbidden. The device is blacklisted."
    d = E2EDevice(stack, tenant)
    assert rotate(tenant, [d.rot], days=1).status == 200
    d.heartbeat()
    msg = d.seal()
    stack.cli.run("device", "block", "--tenant", tenant.name, d.rot)
    row, used = e2e_row(tenant, d.rot), usage(tenant, d.rot)
    assert_json_error(uplink(tenant, msg[:16]), 403, blocked)
    assert_json_error(uplink(tenant, msg[:32], "integrity"), 403, blocked)
    assert_json_error(tenant.post("/e2e/uplink/symmetrickey/get",
                                  {"KeyID": msg[2:16].hex(), "KeyLength": 128}), 403, blocked)
    assert_json_error(downlink(tenant, d.rot), 403, blocked)
    assert_json_error(downlink(tenant, d.rot, "integrity"), 403, blocked)
    assert e2e_row(tenant, d.rot) == row and usage(tenant, d.rot) == used
    # another tenant still learns nothing about it, blocked or not
    other = make_secsvc_tenant(stack)
    assert_json_error(uplink(other, msg[:16]), 404, NO_KEY)
    stack.cli.run("device", "unblock", "--tenant", tenant.name, d.rot)
    assert ccm_open(b64(uplink(tenant, msg[:16]).json()["Key"]), msg) == PT


def test_unauthenticated(stack):
    r = stack.client.post("/e2e/downlink/protectionparameters/get",
                          {"ROTPublicUID": "0000200456789544"})
    assert r.status == 401


ROTATE = "/e2e/key/rotate"
SYMKEY = "/e2e/uplink/symmetrickey/get"
UP = "/e2e/uplink/protectionparameters/get"
UPI = "/e2e/uplink/integrityparameters/get"
DOWN = "/e2e/downlink/protectionparameters/get"
DOWNI = "/e2e/downlink/integrityparameters/get"


# each body from (ROT, a good v1 KIV in hex)
@pytest.mark.parametrize("path,body", [
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r]}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "SOMETIMES"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "automatic"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "AUTOMATIC", "Days": 0}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "AUTOMATIC", "Days": 31}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "AUTOMATIC", "Days": "7"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "AUTOMATIC", "Days": 1.5}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [r], "Type": "CONTINUOUS", "Days": 3}),
    (ROTATE, lambda r, k: {"Type": "AUTOMATIC"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": [], "TagNames": [], "Type": "AUTOMATIC"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": ["XYZ"], "Type": "AUTOMATIC"}),
    (ROTATE, lambda r, k: {"ROTPublicUIDs": r, "Type": "AUTOMATIC"}),
    (SYMKEY, lambda r, k: {}),
    (SYMKEY, lambda r, k: {"KeyID": k[4:], "KeyLength": 192}),
    (SYMKEY, lambda r, k: {"KeyID": k[4:], "KeyLength": "128"}),
    (SYMKEY, lambda r, k: {"KeyID": k[4:] + "00"}),
    (SYMKEY, lambda r, k: {"KeyID": k[4:-2]}),
    (SYMKEY, lambda r, k: {"KeyID": "zz" * 14}),
    (SYMKEY, lambda r, k: {"KeyID": k[4:-2] + "01"}),
    (UP, lambda r, k: {}),
    (UP, lambda r, k: {"EncryptedHeader": 12}),
    (UP, lambda r, k: {"EncryptedHeader": k[:-1]}),
    (UP, lambda r, k: {"EncryptedHeader": k[:20]}),
    (UP, lambda r, k: {"EncryptedHeader": k + "00" * 17}),
    (UP, lambda r, k: {"EncryptedHeader": "03" + k[2:]}),
    (UP, lambda r, k: {"EncryptedHeader": "0110" + k[4:]}),
    (UP, lambda r, k: {"EncryptedHeader": "0103" + k[4:]}),
    (UP, lambda r, k: {"EncryptedHeader": k[:-2] + "01"}),
    (UP, lambda r, k: {"EncryptedHeader": k, "EncryptedHeader ": k}),
    (UPI, lambda r, k: {"EncryptedHeader": "gg" + k[2:]}),
    (UPI, lambda r, k: {"EncryptedHeader": k[:24]}),
    (DOWN, lambda r, k: {}),
    (DOWN, lambda r, k: {"ROTPublicUID": "12345"}),
    (DOWN, lambda r, k: {"ROTPublicUID": r + "0"}),
    (DOWNI, lambda r, k: {"ROTPublicUID": 2000089282245}),
])
def test_bad_input_changes_nothing(tenant, auto_dev, path, body):
    kiv = kiv_of(1, 1, auto_dev.rot, 1).hex()
    row, used = e2e_row(tenant, auto_dev.rot), usage(tenant, auto_dev.rot)
    r = tenant.post(path, body(auto_dev.rot, kiv))
    assert_json_error(r, 400)
    assert e2e_row(tenant, auto_dev.rot) == row and usage(tenant, auto_dev.rot) == used


def test_body_not_json(tenant):
    r = tenant.post(UP, body=b"{\"EncryptedHeader\": ", headers={"Content-Type": "application/json"})
    assert_json_error(r, 400)


# ---- usage, tags, the lookup's plan ------------------------------------------------

def test_usage_report_counts_e2e_calls(stack, tenant):
    t = tenant
    d = E2EDevice(stack, t)
    assert rotate(t, [d.rot], days=1).status == 200
    d.heartbeat()
    msg = d.seal()
    for _ in range(3):
        assert uplink(t, msg[:16]).status == 200
    assert t.post("/e2e/uplink/symmetrickey/get", {"KeyID": msg[2:16].hex(),
                                                   "KeyLength": 128}).status == 200
    assert downlink(t, d.rot).status == 200 and downlink(t, d.rot, "integrity").status == 200
    assert uplink(t, msg[:16], "integrity").status == 200
    # refused calls count nothing
    assert uplink(t, kiv_of(1, 1, d.rot, 9)).status == 404
    import datetime
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    r = t.post("/device/usage/get", {"FromDate": today, "ROTPublicUIDs": [d.rot]})
    assert r.status == 200, r
    got = {k: v for k, v in r.json()[d.rot].items() if k.startswith("E2E")}
    assert {d.rot: got} == {d.rot: {"E2EDownlinkIntegrity": 1, "E2EDownlinkProtection": 1,
                                "E2EUplinkIntegrity": 1, "E2EUplinkProtection": 3,
                                "E2EUplinkSymmetricKey": 1}}


def test_rotate_by_tag(stack, tenant):
    t = tenant
    d1, d2, d3 = (E2EDevice(stack, t) for _ in range(3))
    name = "e2e-" + d1.rot.lower()
    assert t.post("/tag/create", {"TagName": name}).status == 200
    assert t.post("/tag/assign", {"TagNames": [name], "ROTPublicUIDs": [d1.rot, d2.rot]}).status == 200
    r = rotate(t, None, "CONTINUOUS", tags=[name.upper()])
    assert r.status == 200 and r.json()["Devices"] == 2, r
    assert e2e_row(t, d1.rot).startswith("CONTINUOUS|") and e2e_row(t, d2.rot).startswith("CONTINUOUS|")
    assert e2e_row(t, d3.rot) == ""
    # ROTs and tags together: one set, each device once
    r = rotate(t, [d1.rot, d3.rot], days=5, tags=[name])
    assert r.status == 200 and r.json()["Devices"] == 3, r


def lookup_sql():
    """E2E_LOOKUP as fleetpkid prepares it (include/fleetpki/stmt_e2e.h)."""
    import pathlib
    src = (pathlib.Path(__file__).parents[2] / "include/fleetpki/stmt_e2e.h").read_text()
    lit = lambda block: "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block)).replace('\\"', '"')
    cur = lit(re.search(r"#define SQL_E2E_CURRENT(.*?)\n\n", src, re.S).group(1))
    block = re.search(r"X\(E2E_LOOKUP,(.*?)\)\s*\\\n", src, re.S).group(1)
    return block.replace("SQL_E2E_CURRENT", '"' + cur + '"'), lit


def test_header_lookup_is_one_indexed_query(stack):
    """At fleet scale (5,000 devices with E2E set) the header's lookup is
    two index scans: the ROT's unique index, then device_e2e's key."""
    block, lit = lookup_sql()
    sql = lit(block)
    assert sql.startswith("SELECT d.id") and "$2" in sql
    t = make_secsvc_tenant(stack)
    rots = t.seed_devices(5000, state="ACTIVATED")
    psql(t.url, f"""INSERT INTO device_e2e (tenant_id, device_id, rotation, days, base_epoch, since)
        SELECT tenant_id, id, 'AUTOMATIC', 7, 1, now() FROM devices WHERE tenant_id = {t.id};
        ANALYZE devices; ANALYZE device_e2e""")
    plan = psql(t.url, f"""PREPARE l(bigint, text) AS {sql};
        EXPLAIN EXECUTE l({t.id}, '{rots[1234]}');""")
    assert "Seq Scan" not in plan, plan
    assert "devices_rot_key" in plan and "device_e2e_pkey" in plan, plan


def test_continuous_key_is_given_once_under_concurrency(stack, tenant):
    """Eight back ends ask for one CONTINUOUS header at once: one gets the key."""
    import concurrent.futures
    t = tenant
    d = E2EDevice(stack, t)
    assert rotate(t, [d.rot], "CONTINUOUS").status == 200
    d.heartbeat()
    msg = d.seal()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = sorted(ex.map(lambda _: uplink(t, msg[:16]).status, range(8)))
    assert codes == [200] + [404] * 7, codes
    # downlink: concurrent calls each get their own epoch (or a retry answer)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        answers = list(ex.map(lambda _: downlink(t, d.rot), range(4)))
    epochs = [a.json()["KeyEpoch"] for a in answers if a.status == 200]
    assert all(a.status in (200, 503) for a in answers) and epochs
    assert len(set(epochs)) == len(epochs)


def test_allocated_device_is_not_rotated(stack, tenant):
    t = tenant
    r, secret = seal(stack, t)  # not on the allow list: ALLOCATED
    res = sim(stack, "--rot", r, "--secret", secret, "--heartbeats", "0")
    assert res.returncode == 0, res.stderr
    assert q(t, f"SELECT state FROM devices WHERE rot = '{r}'") == "ALLOCATED"
    assert_json_error(rotate(t, [r]), 404, "Not Found. No activated device matches.")
    assert e2e_row(t, r) == ""


def test_heartbeat_default_counts_when_none_is_set(stack):
    """A device without SecurityHeartbeatInSec beats at the tenant's
    device_heartbeat_default: longer than the period, it is shortened too."""
    t = make_secsvc_tenant(stack)
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_default", str(3 * 86400))
    prof = t.profile()
    set_bootstrap(t, prof, {"LocalDPR": True})
    r, secret = seal(stack, t, profile=prof)
    allow(t, "ROTPublicUID", r)
    assert sim(stack, "--rot", r, "--secret", secret, "--heartbeats", "1").returncode == 0
    res = rotate(t, [r], days=2)
    assert res.status == 200, res
    assert res.json()["Message"].endswith("The Security heartbeat has been adjusted to 2 days.")
    assert json.loads(q(t, f"""SELECT dd.props FROM device_desired dd JOIN devices d
        ON d.id = dd.device_id WHERE d.rot = '{r}'"""))["SecurityHeartbeatInSec"] == 2 * 86400
    assert rotate(t, [r], days=3).json()["Message"].endswith("every 3 days.")
