"""The device protocol's server side (docs/device-protocol.md, issue 8):
POST /device/v1/bootstrap and /device/v1/heartbeat through nginx, with
fleetpki-device-sim for the life cycle, replay and clone, and a small
device written here (independent of libfleetpki-device) for what a good
device never sends: malformed headers and bodies, skewed clocks,
regressed counters, bursts of heartbeats."""

import hashlib
import hmac
import json
import re
import secrets
import struct
import time

import pytest

from helpers import psql
from secsvc_helpers import make_secsvc_tenant

BOOTSTRAP = "/device/v1/bootstrap"
HEARTBEAT = "/device/v1/heartbeat"
UNAUTH = {"Error": "UNAUTHORIZED", "Message": "The device could not be authenticated."}


# ---- a device, after docs/device-protocol.md §1-§5 -------------------------

def hkdf(ikm, salt, info, n=32):
    prk, t, out, i = hmac.new(salt, ikm, hashlib.sha256).digest(), b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def lv(b):
    return struct.pack(">I", len(b)) + b


class Device:
    def __init__(self, stack, rot, secret_hex):
        self.client = stack.client
        self.rot = rot.upper()
        raw, secret = bytes.fromhex(rot), bytes.fromhex(secret_hex)
        self.raw = raw
        key = lambda label: hkdf(secret, b"fleetpki-device-v1", label.encode() + b"\0" + raw)
        self.req_key, self.resp_key = key("request-mac"), key("response-mac")
        self.counter = int(time.time() * 1e6)

    def send(self, path, body, counter=None, ts=None, headers=None, drop=(),
             content_type="application/json", mac=None, query=""):
        if not isinstance(body, bytes):
            body = json.dumps(body, separators=(",", ":")).encode()
        if counter is None:
            self.counter += 1
            counter = self.counter
        ts = int(time.time()) if ts is None else ts
        form = (b"FPDREQ01" + self.raw + struct.pack(">QQ", counter, ts)
                + lv(b"POST") + lv(path.encode()) + lv(body))
        req_mac = hmac.new(self.req_key, form, hashlib.sha256).digest()
        h = {"X-Device-ROT": self.rot, "X-Device-Counter": str(counter),
             "X-Device-Timestamp": str(ts),
             "X-Device-MAC": mac if mac is not None else req_mac.hex()}
        if content_type:
            h["Content-Type"] = content_type
        h.update(headers or {})
        for k in drop:
            h.pop(k)
        r = self.client.request("POST", path + query, body=body, headers=h)
        r.counter, r.req_mac = counter, req_mac
        return r

    def verified(self, r):
        """The answer's MAC checks (§5): True, or False when absent/wrong."""
        mac, ts = r.headers.get("x-device-mac"), r.headers.get("x-device-timestamp")
        if mac is None or ts is None:
            return False
        form = (b"FPDRSP01" + self.raw + struct.pack(">Q", r.counter) + r.req_mac
                + struct.pack(">IQ", r.status, int(ts)) + lv(r.body))
        return hmac.compare_digest(hmac.new(self.resp_key, form, hashlib.sha256).hexdigest(), mac)

    def bootstrap(self, serial=None, **kw):
        body = {"DeviceSerialNumber": serial or self.rot}
        body.update(kw)
        return self.send(BOOTSTRAP, body)

    def heartbeat(self, acks=()):
        return self.send(HEARTBEAT, {"Acks": list(acks)})


def rot():
    return secrets.token_hex(8).upper()


def seal(stack, t, profile=None, serial=None, imei=None, r=None):
    r = r or rot()
    args = ["device", "seal", "--tenant", t.name, "--rot", r, "--serial", serial or r]
    if profile:
        args += ["--profile", profile]
    if imei:
        args += ["--imei", imei]
    return r, stack.cli.run(*args).stdout.splitlines()[-1]


def sim(stack, *args):
    env = stack.env
    return stack.cli.run("--url", env["FLEETPKI_URL"], "--cacert", env["FLEETPKI_TLS_CA"],
                         *args, program="fleetpki-device-sim", config=False, check=False)


def allow(t, kind, value):
    psql(t.url, f"INSERT INTO device_allowlist (tenant_id, kind, value) "
                f"VALUES ({t.id}, '{kind}', '{value}')")


def set_bootstrap(t, uid, props):
    psql(t.url, f"UPDATE device_profiles SET bootstrap = '{json.dumps(props)}', "
                f"bootstrap_at = now() WHERE uid = '{uid}'")


def set_desired(t, r, props):
    """As /device/provisioning/set does (sql/010): merge, new seq."""
    psql(t.url, f"""INSERT INTO device_desired (tenant_id, device_id, props, seq)
        SELECT tenant_id, id, '{json.dumps(props)}', nextval('device_command_seq')
        FROM devices WHERE rot = '{r}'
        ON CONFLICT (tenant_id, device_id) DO UPDATE
        SET props = device_desired.props || EXCLUDED.props, seq = EXCLUDED.seq""")


def q(t, sql):
    return psql(t.url, sql)


def counter_of(t, r):
    return int(q(t, f"SELECT counter FROM devices WHERE rot = '{r}'"))


@pytest.fixture(scope="module")
def tenant(stack):
    return make_secsvc_tenant(stack)


# ---- the life cycle ---------------------------------------------------------

def test_life_cycle_with_the_simulator(stack, tenant):
    t = tenant
    prof = t.profile()
    set_bootstrap(t, prof, {"LocalDPR": True, "SecurityHeartbeatInSec": 3600})
    r, secret = seal(stack, t, profile=prof, serial="SN-LIFE")
    allow(t, "ROTPublicUID", r)
    res = sim(stack, "--rot", r.lower(), "--secret", secret, "--serial", "SN-LIFE",
              "--imei", "356938035643809", "--heartbeats", "1")
    assert res.returncode == 0, res.stderr
    assert "LocalDPR=true" in res.stdout and "SecurityHeartbeatInSec=3600" in res.stdout
    assert q(t, f"SELECT state, reported_serial, reported_imei, bootstrapped_at IS NOT NULL, "
                f"last_heartbeat IS NOT NULL FROM devices WHERE rot = '{r}'") == \
        "ACTIVATED|SN-LIFE|356938035643809|t|t"
    assert json.loads(q(t, f"SELECT current_props FROM devices WHERE rot = '{r}'")) == \
        {"LocalDPR": True, "SecurityHeartbeatInSec": 3600}
    # the back end sets more (as /device/provisioning/set would)
    set_desired(t, r, {"LocalC2C": True, "ZTPV1": False})
    res = sim(stack, "--rot", r, "--secret", secret, "--no-bootstrap", "--heartbeats", "1")
    assert res.returncode == 0, res.stderr
    assert "LocalC2C=true" in res.stdout
    assert json.loads(q(t, f"SELECT current_props FROM devices WHERE rot = '{r}'")) == \
        {"LocalDPR": True, "LocalC2C": True, "ZTPV1": False, "SecurityHeartbeatInSec": 3600}
    assert q(t, f"SELECT count(*) FROM device_desired dd JOIN devices d ON d.id = dd.device_id "
                f"WHERE d.rot = '{r}'") == "0"
    # events, in order, in the tenant
    ev = q(t, f"SELECT tenant_id, type, payload FROM events WHERE rot = '{r}' ORDER BY id").splitlines()
    types = [e.split("|")[1] for e in ev]
    assert types == ["DEVICE_STATE_CHANGE", "DEVICE_INFO_CHANGE",
                     "DEVICE_PROPERTIES_CHANGE", "DEVICE_PROPERTIES_CHANGE"], ev
    assert all(e.split("|")[0] == str(t.id) for e in ev)
    assert json.loads(ev[0].split("|", 2)[2]) == {"From": "SEALED", "To": "ACTIVATED"}
    info = json.loads(ev[1].split("|", 2)[2])
    assert info["Changes"]["DeviceSerialNumber"] == {"From": None, "To": "SN-LIFE"}
    assert "SerialMismatch" not in info
    assert json.loads(ev[3].split("|", 2)[2])["Properties"] == {"LocalC2C": True, "ZTPV1": False}
    # activity and usage
    assert q(t, f"SELECT string_agg(command || ':' || status, ',' ORDER BY a.id) FROM device_activity a "
                f"JOIN devices d ON d.id = a.device_id WHERE d.rot = '{r}'") == \
        "SET_PROPERTIES:SUCCESS,SET_PROPERTIES:SUCCESS"
    assert q(t, f"SELECT string_agg(event || '=' || count, ',' ORDER BY event) FROM device_usage u "
                f"JOIN devices d ON d.id = u.device_id WHERE d.rot = '{r}' "
                f"AND day = (now() AT TIME ZONE 'UTC')::date") == "LocalC2C=1,LocalDPR=1"
    # the interval now comes from the current properties
    d = Device(stack, r, secret)
    a = d.heartbeat()
    assert a.status == 200 and d.verified(a), a
    assert a.json() == {"HeartbeatInSec": 3600, "Commands": []}


def test_not_on_allow_list_is_allocated(stack, tenant):
    t = tenant
    prof = t.profile()
    set_bootstrap(t, prof, {"LocalDPR": True, "ZTPV1": True, "SecurityHeartbeatInSec": 7200})
    r, secret = seal(stack, t, profile=prof)
    d = Device(stack, r, secret)
    a = d.bootstrap(FirmwareVersion="1.0")
    assert a.status == 200 and d.verified(a), a
    body = a.json()
    assert body["State"] == "ALLOCATED" and body["DeviceProfileUID"] == prof
    (cmd,) = body["Commands"]
    assert cmd["Type"] == "SET_PROPERTIES" and re.fullmatch(r"p-\d+", cmd["Id"])
    assert cmd["Properties"] == {"SecurityHeartbeatInSec": 7200}
    a = d.heartbeat([{"Id": cmd["Id"], "Status": "SUCCESS"}])
    assert a.status == 200 and a.json() == {"HeartbeatInSec": 7200, "Commands": []}
    assert json.loads(q(t, f"SELECT current_props FROM devices WHERE rot = '{r}'")) == \
        {"SecurityHeartbeatInSec": 7200}
    # no feature authorization reaches it, even when set later
    set_desired(t, r, {"LocalDPR": True})
    assert d.heartbeat().json()["Commands"] == []
    assert q(t, f"SELECT count(*) FROM device_usage u JOIN devices d ON d.id = u.device_id "
                f"WHERE d.rot = '{r}'") == "0"


def test_imei_on_allow_list_activates_and_two_stage_bootstrap(stack, tenant):
    t = tenant
    prof = t.profile()
    set_bootstrap(t, prof, {"LocalDPR": True})
    r, secret = seal(stack, t, serial="SEALED-SN")       # sealed without a profile
    imei = str(secrets.randbelow(10**15)).zfill(15)
    allow(t, "IMEI", imei)
    d = Device(stack, r, secret)
    a = d.bootstrap(serial="OTHER-SN", IMEI=imei, DeviceProfileUID=prof)
    assert a.status == 200, a
    body = a.json()
    assert body["State"] == "ACTIVATED" and body["DeviceProfileUID"] == prof
    assert body["Commands"][0]["Properties"] == {"LocalDPR": True}
    assert q(t, f"SELECT profile_id FROM devices WHERE rot = '{r}'") == str(t.profile_id(prof))
    info = json.loads(q(t, f"SELECT payload FROM events WHERE rot = '{r}' AND type = 'DEVICE_INFO_CHANGE'"))
    assert info["SerialMismatch"] is True and info["SealedSerial"] == "SEALED-SN"
    assert info["Changes"]["DeviceProfileUID"]["To"] == prof
    # a failed command: DEVICE_ERROR and an activity row; duplicates keep the first
    cid = body["Commands"][0]["Id"]
    a = d.heartbeat([{"Id": "p-1", "Status": "SUCCESS"},
                     {"Id": cid, "Status": "FAILURE", "Error": "LocalDPR is not supported"},
                     {"Id": cid, "Status": "SUCCESS"}])
    assert a.status == 200 and a.json()["Commands"] == []
    assert json.loads(q(t, f"SELECT payload FROM events WHERE rot = '{r}' AND type = 'DEVICE_ERROR'")) == \
        {"CommandId": cid, "Error": "LocalDPR is not supported"}
    assert q(t, f"SELECT status, detail->>'Error' FROM device_activity a JOIN devices d "
                f"ON d.id = a.device_id WHERE d.rot = '{r}'") == "FAILURE|LocalDPR is not supported"
    assert q(t, f"SELECT current_props FROM devices WHERE rot = '{r}'") == "{}"
    # a profile of another tenant is not this device's
    other = make_secsvc_tenant(stack)
    r2, s2 = seal(stack, t)
    a = Device(stack, r2, s2).bootstrap(DeviceProfileUID=other.profile())
    assert a.status == 400 and a.json()["Error"] == "BAD_REQUEST"
    assert q(t, f"SELECT state, counter FROM devices WHERE rot = '{r2}'") == "SEALED|0"


# ---- replay and clone -------------------------------------------------------

def test_replay_with_the_simulator(stack, tenant):
    t = tenant
    r, secret = seal(stack, t)
    res = sim(stack, "--rot", r, "--secret", secret, "--heartbeats", "1", "--replay")
    assert res.returncode == 0, res.stderr
    assert "replay: refused (COUNTER_REPLAY)" in res.stdout
    assert q(t, f"SELECT reason, c.counter = c.last_counter FROM device_clone_events c "
                f"JOIN devices d ON d.id = c.device_id WHERE d.rot = '{r}'") == "COUNTER_REPLAY|t"


def test_clone_with_the_simulator(stack, tenant):
    t = tenant
    r, secret = seal(stack, t)
    res = sim(stack, "--rot", r, "--secret", secret, "--heartbeats", "2", "--clone")
    assert res.returncode == 0, res.stderr
    rows = q(t, f"SELECT reason, c.counter < c.last_counter, peer IS NOT NULL FROM device_clone_events c "
                f"JOIN devices d ON d.id = c.device_id WHERE d.rot = '{r}' ORDER BY c.id").splitlines()
    # the clone's lower counter with a current timestamp: a second live
    # device.  Then the original's heartbeat at the counter the clone took:
    # here byte for byte the clone's accepted request (same counter, body
    # and second), which no server can tell from a replay.
    assert len(rows) == 2 and rows[0] == "COUNTER_CONFLICT|t|t", rows
    assert rows[1] in ("COUNTER_REPLAY|f|t", "COUNTER_CONFLICT|f|t"), rows


def test_counter_regression_answer(stack, tenant):
    t = tenant
    r, secret = seal(stack, t)
    d = Device(stack, r, secret)
    a = d.bootstrap()
    assert a.status == 200
    last = a.counter
    for c in (last, last - 5):
        a = d.send(HEARTBEAT, {"Acks": []}, counter=c)
        assert a.status == 409 and d.verified(a), a
        assert a.json()["Error"] == "COUNTER_REPLAY" and a.json()["LastCounter"] == last
    assert counter_of(t, r) == last
    # an old captured request (older timestamp, lower counter) is a replay
    a = d.send(HEARTBEAT, {"Acks": []}, counter=last - 9, ts=int(time.time()) - 60)
    assert a.status == 409
    assert q(t, f"SELECT string_agg(reason, ',' ORDER BY c.id) FROM device_clone_events c "
                f"JOIN devices d ON d.id = c.device_id WHERE d.rot = '{r}'") == \
        "COUNTER_CONFLICT,COUNTER_CONFLICT,COUNTER_REPLAY"


# ---- refused devices ---------------------------------------------------------

def test_blocked_is_unknown_and_recorded(stack, tenant):
    t = tenant
    r, secret = seal(stack, t)
    d = Device(stack, r, secret)
    assert d.bootstrap().status == 200
    before = counter_of(t, r)
    stack.cli.run("device", "block", "--tenant", t.name, r)
    blocked = d.heartbeat()
    unknown = Device(stack, rot(), secret).heartbeat()
    wrong = d.send(HEARTBEAT, {"Acks": []}, mac="ab" * 32)
    stack.cli.run("device", "unblock", "--tenant", t.name, r)
    wrong_unblocked = d.send(HEARTBEAT, {"Acks": []}, mac="cd" * 32)
    for a in (blocked, unknown, wrong, wrong_unblocked):
        assert a.status == 401, a
        assert a.json() == UNAUTH
        assert "x-device-mac" not in a.headers
        assert a.body == blocked.body
    assert counter_of(t, r) == before
    ev = json.loads(q(t, f"SELECT payload FROM events WHERE rot = '{r}' AND type = 'DEVICE_BLOCKED_ATTEMPT'"))
    assert ev["Request"] == "heartbeat" and ev["Counter"] == blocked.counter
    # unblocked, it is served again
    assert d.heartbeat().status == 200


def test_heartbeat_before_bootstrap(stack, tenant):
    r, secret = seal(stack, tenant)
    d = Device(stack, r, secret)
    a = d.heartbeat()
    assert a.status == 409 and d.verified(a)
    assert a.json()["Error"] == "BOOTSTRAP_REQUIRED"
    assert counter_of(tenant, r) == 0


def test_clock_skew(stack):
    t = make_secsvc_tenant(stack)
    r, secret = seal(stack, t)
    d = Device(stack, r, secret)
    a = d.send(BOOTSTRAP, {"DeviceSerialNumber": r}, ts=int(time.time()) - 1000)
    assert a.status == 403 and d.verified(a), a
    assert a.json()["Error"] == "CLOCK_SKEW"
    assert abs(int(a.headers["x-device-timestamp"]) - time.time()) < 120
    assert counter_of(t, r) == 0   # refused: not advanced
    a = d.send(BOOTSTRAP, {"DeviceSerialNumber": r}, ts=int(time.time()) + 1000)
    assert a.status == 403
    stack.cli.run("setting", "set", "--tenant", t.name, "device_clock_skew", "2000")
    a = d.send(BOOTSTRAP, {"DeviceSerialNumber": r}, ts=int(time.time()) - 1000)
    assert a.status == 200, a


def test_rate_limit(stack):
    t = make_secsvc_tenant(stack)
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_burst", "2")
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_interval", "3600")
    r, secret = seal(stack, t)
    d = Device(stack, r, secret)
    assert d.bootstrap().status == 200
    assert d.heartbeat().status == 200
    assert d.heartbeat().status == 200
    a = d.heartbeat()
    assert a.status == 429 and d.verified(a), a
    body = a.json()
    assert body["Error"] == "RATE_LIMITED" and 1 <= body["RetryAfter"] <= 3600
    assert a.headers["retry-after"] == str(body["RetryAfter"])
    assert counter_of(t, r) == a.counter - 1
    # bootstrap is not rate-limited; another device has its own bucket
    assert d.bootstrap().status == 200
    r2, s2 = seal(stack, t)
    d2 = Device(stack, r2, s2)
    assert d2.bootstrap().status == 200 and d2.heartbeat().status == 200


# ---- malformed requests (§6) -------------------------------------------------

@pytest.fixture(scope="module")
def device(stack, tenant):
    r, secret = seal(stack, tenant)
    d = Device(stack, r, secret)
    assert d.bootstrap().status == 200
    return d


@pytest.mark.parametrize("headers,drop", [
    ({}, ["X-Device-ROT"]), ({}, ["X-Device-Counter"]), ({}, ["X-Device-Timestamp"]),
    ({}, ["X-Device-MAC"]),
    ({"X-Device-ROT": "0123456789abcde"}, []), ({"X-Device-ROT": "0123456789abcdeg"}, []),
    ({"X-Device-Counter": "0"}, []), ({"X-Device-Counter": "01"}, []),
    ({"X-Device-Counter": "-1"}, []), ({"X-Device-Counter": "+1"}, []),
    ({"X-Device-Counter": "9223372036854775808"}, []),
    ({"X-Device-Timestamp": "01"}, []), ({"X-Device-Timestamp": "1.5"}, []),
    ({"X-Device-MAC": "ab" * 31}, []), ({"X-Device-MAC": "zz" * 32}, []),
    ({"X-Device-Counter": "5, 6"}, []),
])
def test_malformed_headers(device, tenant, headers, drop):
    before = counter_of(tenant, device.rot)
    a = device.send(HEARTBEAT, {"Acks": []}, headers=headers, drop=drop)
    assert a.status == 400, a
    assert a.json()["Error"] == "BAD_REQUEST" and a.json()["Message"]
    assert "x-device-mac" not in a.headers
    assert counter_of(tenant, device.rot) == before


def test_query_string_and_content_type(device):
    a = device.send(HEARTBEAT, {"Acks": []}, query="?x=1")
    assert a.status == 400 and a.json()["Error"] == "BAD_REQUEST"
    a = device.send(HEARTBEAT, {"Acks": []}, content_type="text/plain")
    assert a.status == 415 and a.json()["Error"] == "BAD_REQUEST"
    a = device.send(HEARTBEAT, {"Acks": []}, content_type=None)
    assert a.status == 415
    r = device.client.request("GET", HEARTBEAT)
    assert r.status == 405


@pytest.mark.parametrize("path,body", [
    (HEARTBEAT, b"not json"), (HEARTBEAT, b""), (HEARTBEAT, b"[]"),
    (HEARTBEAT, b'{"Acks": [], "Acks": []}'), (HEARTBEAT, b'{"Acks": {}}'),
    (HEARTBEAT, b'{}'), (HEARTBEAT, b'{"Acks": [], "Extra": 1}'),
    (HEARTBEAT, json.dumps({"Acks": [{"Id": f"p-{i}", "Status": "SUCCESS"} for i in range(65)]}).encode()),
    (HEARTBEAT, b'{"Acks": [{"Id": "p-1"}]}'),
    (HEARTBEAT, b'{"Acks": [{"Id": "p 1", "Status": "SUCCESS"}]}'),
    (HEARTBEAT, b'{"Acks": [{"Id": "p-1", "Status": "DONE"}]}'),
    (HEARTBEAT, b'{"Acks": [{"Id": "p-1", "Status": "SUCCESS", "Error": "x"}]}'),
    (HEARTBEAT, b'{"Acks": [{"Id": "p-1", "Status": "FAILURE", "Csr": "x"}]}'),
    (HEARTBEAT, b'{"Acks": [{"Id": 1, "Status": "SUCCESS"}]}'),
    (HEARTBEAT, b'{"Acks": ["p-1"]}'),
    (BOOTSTRAP, b'{}'), (BOOTSTRAP, b'{"DeviceSerialNumber": ""}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": "12345678901234567"}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": "a\\u0001b"}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": "a", "IMEI": "12ab"}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": "a", "DeviceProfileUID": "a b"}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": "a", "Unknown": "x"}'),
    (BOOTSTRAP, b'{"DeviceSerialNumber": 5}'),
])
def test_malformed_bodies(device, tenant, path, body):
    before = counter_of(tenant, device.rot)
    a = device.send(path, body)
    assert a.status == 400, (a, body)
    assert a.json()["Error"] == "BAD_REQUEST" and a.json()["Message"]
    assert device.verified(a)   # the MAC verified: the refusal is authenticated
    assert counter_of(tenant, device.rot) == before


def test_body_over_the_limit(device):
    a = device.send(HEARTBEAT, b'{"Acks": [], "x": "' + b"a" * 70000 + b'"}')
    assert a.status == 413


# ---- tenant isolation ---------------------------------------------------------

def test_tenant_isolation(stack, tenant):
    """Tenant B's view (the app role, B's tenant set) shows none of A's
    device rows; what A's device did is written in A's tenant only."""
    t = tenant
    b = make_secsvc_tenant(stack)
    r, secret = seal(stack, t)
    res = sim(stack, "--rot", r, "--secret", secret, "--heartbeats", "1", "--replay")
    assert res.returncode == 0, res.stderr
    app = stack.env.get("FLEETPKI_APP_DATABASE_URL")
    if not app:
        pytest.skip("no app database URL")
    counts = psql(app, f"""BEGIN;
        SELECT set_config('fleetpki.tenant', '{b.id}', true);
        SELECT (SELECT count(*) FROM devices WHERE rot = '{r}') ||','||
               (SELECT count(*) FROM events WHERE rot = '{r}') ||','||
               (SELECT count(*) FROM device_clone_events) ||','||
               (SELECT count(*) FROM device_activity);
        COMMIT;""")
    assert counts.splitlines()[-1] == "0,0,0,0"
    own = psql(app, f"""BEGIN;
        SELECT set_config('fleetpki.tenant', '{t.id}', true);
        SELECT (SELECT count(*) FROM devices WHERE rot = '{r}') ||','||
               (SELECT count(*) > 0 FROM events WHERE rot = '{r}');
        COMMIT;""")
    assert own.splitlines()[-1] == "1,true"


# ---- races ------------------------------------------------------------------

def test_one_counter_passes_once_under_concurrency(stack, tenant):
    """Twenty copies of one request at once: exactly one is accepted
    (UPDATE ... WHERE counter < $n in the request's transaction)."""
    from concurrent.futures import ThreadPoolExecutor

    r, secret = seal(stack, tenant)
    d = Device(stack, r, secret)
    assert d.bootstrap().status == 200
    d.counter += 1
    c, ts = d.counter, int(time.time())
    with ThreadPoolExecutor(20) as ex:
        got = list(ex.map(lambda _: d.send(HEARTBEAT, {"Acks": []}, counter=c, ts=ts).status,
                          range(20)))
    assert sorted(got) == [200] + [409] * 19, got
    assert counter_of(tenant, r) == c


def test_bucket_is_not_overdrawn_under_concurrency(stack):
    from concurrent.futures import ThreadPoolExecutor

    t = make_secsvc_tenant(stack)
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_burst", "3")
    stack.cli.run("setting", "set", "--tenant", t.name, "device_heartbeat_interval", "86400")
    r, secret = seal(stack, t)
    d = Device(stack, r, secret)
    assert d.bootstrap().status == 200
    base = d.counter
    with ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda i: d.send(HEARTBEAT, {"Acks": []}, counter=base + 1 + i).status,
                          range(16)))
    # lower counters may lose to higher ones (409); never more than the bucket
    assert got.count(200) <= 3 and got.count(200) >= 1, got
    assert set(got) <= {200, 409, 429}, got
    # what is left of the bucket, then nothing
    d.counter = base + 100
    for _ in range(3 - got.count(200)):
        assert d.heartbeat().status == 200
    assert d.heartbeat().status == 429


def test_unknown_paths_and_methods_answer_in_the_protocols_shape(stack):
    """Under /device/v1/ even what no route takes is answered as §6 says:
    {"Error", "Message"}, never another dialect's shape."""
    c = stack.client
    r = c.post("/device/v1/nope", {"Acks": []})
    assert r.status == 404 and r.json()["Error"] == "NOT_FOUND", r
    assert set(r.json()) == {"Error", "Message"}
    r = c.get(HEARTBEAT)
    assert r.status == 405 and r.json()["Error"] == "METHOD_NOT_ALLOWED", r
    assert "POST" in r.headers.get("allow", "")
    # Elsewhere, the other dialects' shapes are untouched.
    r = c.post("/device/v2/heartbeat", {})
    assert r.status == 404 and "message" in r.json(), r
