"""Security services end to end (issue 8): the fleet back end's routes and
fleetpki-device-sim together, with no write behind the API's back.

seal -> allow list (/device/whitelist/add) -> bootstrap (ACTIVATED, the
profile's bootstrap provisioning) -> provisioning set by tag
(/device/provisioning/set) -> heartbeat -> acknowledged -> current
properties (/device/info/get) -> notifications, activity and usage; a device
off the allow list bootstraps ALLOCATED; a replayed and a cloned device in
/device/clone/get; duplicated serials in /device/suspicious/get; a blocked
device refused; and none of it visible to another tenant."""

import datetime
import secrets

import pytest

from helpers import wait_until
from secsvc_helpers import make_secsvc_tenant


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def ago(**kw):
    return (now() - datetime.timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rot():
    return secrets.token_hex(8).upper()


def seal(stack, t, profile, serial, r=None):
    r = r or rot()
    out = stack.cli.run("device", "seal", "--tenant", t.name, "--profile", profile,
                        "--rot", r, "--serial", serial).stdout.splitlines()
    return r, out[-1]


def sim(stack, r, secret, *args):
    env = stack.env
    return stack.cli.run("--url", env["FLEETPKI_URL"], "--cacert", env["FLEETPKI_TLS_CA"],
                         "--rot", r, "--secret", secret, *args,
                         program="fleetpki-device-sim", config=False, check=False)


def ok(r, status=200):
    assert r.status == status, r
    return r.json()


@pytest.fixture(scope="module")
def fleet(stack):
    t = make_secsvc_tenant(stack)
    uid = t.profile("meters")
    ok(t.post("/deviceprofile/bootstrapprovisioning/set", {
        "DeviceProfileUID": uid,
        "Provisioning": {"LocalDPR": True, "SecurityHeartbeatInSec": 3600}}))
    ok(t.post("/tag/create", {"TagName": "Downtown"}))
    return t, uid


def test_life_cycle(stack, fleet):
    t, uid = fleet
    r, secret = seal(stack, t, uid, "SN-LIFE-1")
    info = ok(t.post("/device/info/get", {"ROTPublicUIDs": [r], "Options": ["CORE"]}))
    assert info["DeviceInfo"][0]["State"] == "SEALED"

    assert ok(t.post("/device/whitelist/add", {"ROTPublicUIDs": [r.lower()], "Action": "ADD"}))
    listed = ok(t.post("/device/list/get", {"Filter": "WHITELISTED"}))
    assert r in listed["ROTPublicUIDs"]

    # Bootstrap: ACTIVATED, the profile's provisioning applied and acked.
    out = sim(stack, r, secret, "--serial", "SN-LIFE-1", "--heartbeats", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    info = ok(t.post("/device/info/get", {"ROTPublicUIDs": [r],
                                          "Options": ["CORE", "PROVISIONING"]}))["DeviceInfo"][0]
    assert info["State"] == "ACTIVATED" and info["DeviceProfileUID"] == uid
    assert info["CurrentProperties"] == {"LocalDPR": True, "SecurityHeartbeatInSec": 3600}
    assert info["DesiredProperties"] in ({}, None)

    # Provisioning by tag: desired until the next heartbeat acknowledges it.
    ok(t.post("/tag/assign", {"TagNames": ["downtown"], "ROTPublicUIDs": [r]}))
    got = ok(t.post("/device/provisioning/set", {"TagNames": ["DOWNTOWN"],
                                                 "Provisioning": {"LocalC2C": True}}))
    assert got.get("Devices") == 1, got
    pending = ok(t.post("/device/provisioning/get", {"TagNames": ["Downtown"]}))
    assert pending == [{"ROTPublicUID": r, "DesiredProperties": {"LocalC2C": True}}]
    out = sim(stack, r, secret, "--no-bootstrap", "--heartbeats", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    info = ok(t.post("/device/info/get", {"TagNames": ["downtown"],
                                          "Options": ["PROVISIONING"]}))["DeviceInfo"][0]
    assert info["CurrentProperties"] == {"LocalDPR": True, "LocalC2C": True,
                                         "SecurityHeartbeatInSec": 3600}
    assert ok(t.post("/device/provisioning/get", {"ROTPublicUIDs": [r]})) == []

    # What happened, as the history routes tell it.
    n = ok(t.post("/notification/get", {"FromDate": ago(hours=1), "ROTPublicUIDs": [r]}))
    types = [x["Type"] for x in n["Notifications"]]
    assert "DEVICE_STATE_CHANGE" in types and "DEVICE_INFO_CHANGE" in types
    assert types.count("DEVICE_PROPERTIES_CHANGE") == 2, types
    assert types.index("DEVICE_STATE_CHANGE") < types.index("DEVICE_PROPERTIES_CHANGE")
    act = ok(t.post("/device/activity/get", {"FromDate": ago(hours=1), "ROTPublicUID": r}))
    assert act["TotalRecords"] == 2 and act["LastSeen"]
    usage = ok(t.post("/device/usage/get", {"FromDate": now().strftime("%Y-%m-%d"),
                                            "ROTPublicUIDs": [r]}))
    assert usage[r].get("LocalDPR") == 1 and usage[r].get("LocalC2C") == 1, usage


def test_off_the_allow_list_is_allocated(stack, fleet):
    t, uid = fleet
    r, secret = seal(stack, t, uid, "SN-ALLOC-1")
    out = sim(stack, r, secret, "--serial", "SN-ALLOC-1", "--heartbeats", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    info = ok(t.post("/device/info/get", {"ROTPublicUIDs": [r],
                                          "Options": ["CORE", "PROVISIONING"]}))["DeviceInfo"][0]
    assert info["State"] == "ALLOCATED"
    # No feature authorization reached it; the heartbeat interval may.
    assert "LocalDPR" not in (info["CurrentProperties"] or {})


def test_replayed_and_cloned_devices_are_reported(stack, fleet):
    t, uid = fleet
    replayed, s1 = seal(stack, t, uid, "SN-REPLAY")
    cloned, s2 = seal(stack, t, uid, "SN-CLONE")
    honest, s3 = seal(stack, t, uid, "SN-HONEST")
    for r, s, flag in ((replayed, s1, "--replay"), (cloned, s2, "--clone"), (honest, s3, None)):
        args = ["--serial", {replayed: "SN-REPLAY", cloned: "SN-CLONE", honest: "SN-HONEST"}[r],
                "--heartbeats", "1"] + ([flag] if flag else [])
        out = sim(stack, r, s, *args)
        assert out.returncode == 0, (flag, out.stdout + out.stderr)
    got = ok(t.post("/device/clone/get", {"FromDate": ago(hours=1),
                                          "ROTPublicUIDs": [replayed, cloned, honest]}))
    seen = {e["ROTPublicUID"] for e in got["ClonedEvents"]}
    assert seen == {replayed, cloned}, got


def test_duplicated_serials_are_suspicious(stack, fleet):
    t, uid = fleet
    a, _ = seal(stack, t, uid, "SN-TWICE")
    b, _ = seal(stack, t, uid, "SN-TWICE")
    c, _ = seal(stack, t, uid, "SN-ONCE")
    got = ok(t.post("/device/suspicious/get", {"ROTPublicUIDs": [a, b, c]}))
    reasons = {(d["ROTPublicUID"], d["Reason"]) for d in got["SuspiciousDevices"]}
    assert reasons == {(a, "DUPLICATED_DEV_SERIAL_NUM_SEALING"),
                       (b, "DUPLICATED_DEV_SERIAL_NUM_SEALING")}, got


def test_blocked_device_is_refused(stack, fleet):
    t, uid = fleet
    r, secret = seal(stack, t, uid, "SN-BLOCK")
    ok(t.post("/device/whitelist/add", {"ROTPublicUIDs": [r], "Action": "ADD"}))
    assert sim(stack, r, secret, "--serial", "SN-BLOCK", "--heartbeats", "1").returncode == 0
    stack.cli.run("device", "block", "--tenant", t.name, r)
    assert r in ok(t.post("/device/list/get", {"Filter": "BLACKLISTED"}))["ROTPublicUIDs"]
    out = sim(stack, r, secret, "--no-bootstrap", "--heartbeats", "1")
    assert out.returncode != 0 and "401" in out.stderr + out.stdout, out.stdout + out.stderr
    # Refused as if unknown, but reported to the operator: a log line.
    line = f"device {r} of tenant {t.id}: heartbeat refused, the device is blocked"
    wait_until(lambda: any(line in f.read_text(errors="replace") for f in stack.logs()),
               10, "the blocked attempt's log line")
    stack.cli.run("device", "unblock", "--tenant", t.name, r)
    assert sim(stack, r, secret, "--no-bootstrap", "--heartbeats", "1").returncode == 0


def test_another_tenant_sees_none_of_it(stack, fleet):
    t, uid = fleet
    r, _ = seal(stack, t, uid, "SN-MINE")
    other = make_secsvc_tenant(stack)
    info = other.post("/device/info/get", {"ROTPublicUIDs": [r], "Options": ["CORE"]})
    assert info.status in (200, 404) and r not in info.body.decode()
    for path, body in (
            ("/notification/get", {"FromDate": ago(hours=1), "ROTPublicUIDs": [r]}),
            ("/device/clone/get", {"FromDate": ago(hours=1), "ROTPublicUIDs": [r]}),
            ("/device/suspicious/get", {"ROTPublicUIDs": [r]}),
            ("/device/provisioning/get", {"ROTPublicUIDs": [r]}),
            ("/device/list/get", {"Filter": "ALL"}),
            ("/deviceprofile/get", {"ProfileName": "meters"})):
        got = other.post(path, body)
        assert r not in got.body.decode() and uid not in got.body.decode(), (path, got)
    bad = other.post("/deviceprofile/bootstrapprovisioning/get", {"DeviceProfileUID": uid})
    assert bad.status == 404, bad


def test_a_fleet_of_replays_and_clones(stack, fleet, tmp_path):
    """fleetpki-device-sim --devices with --replay and --clone: each device
    of the file replays and clones itself after its schedule; every one
    shows up in /device/clone/get, once per kind of evidence."""
    t, uid = fleet
    lines = []
    rots = []
    for i in range(4):
        r, secret = seal(stack, t, uid, f"SN-FLEET-{i}")
        rots.append(r)
        lines.append(f"{r},{secret}")
    devices = tmp_path / "fleet.secrets"
    devices.write_text("\n".join(lines) + "\n")
    env = stack.env
    out = stack.cli.run("--url", env["FLEETPKI_URL"], "--cacert", env["FLEETPKI_TLS_CA"],
                        "--devices", devices, "--heartbeats", "1", "--concurrency", "2",
                        "--interval", "0", "--replay", "--clone",
                        program="fleetpki-device-sim", config=False, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "devices 4," in out.stdout and "failed 0" in out.stdout, out.stdout
    got = ok(t.post("/device/clone/get", {"FromDate": ago(hours=1), "ROTPublicUIDs": rots}))
    by_rot = {}
    for e in got["ClonedEvents"]:
        by_rot.setdefault(e["ROTPublicUID"], []).append(e)
    assert set(by_rot) == set(rots), got
    # The replay, the twin's first heartbeat and the original's after it.
    assert all(len(v) >= 3 for v in by_rot.values()), by_rot
