"""Device profiles (issue 8): `fleetpki profile create`."""

import re

import pytest

from helpers import psql
from secsvc_helpers import make_secsvc_tenant


@pytest.fixture(scope="module")
def t(stack):
    return make_secsvc_tenant(stack)


def test_profile_create_prints_uid_last(stack, t):
    out = stack.cli.run("profile", "create", "--tenant", t.name, "--name", "Line A").stdout
    uid = out.splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", uid), out
    row = psql(t.url, f"SELECT tenant_id, name FROM device_profiles WHERE uid = '{uid}'")
    assert row == f"{t.id}|Line A"


def test_profile_names_are_unique_per_tenant_and_case_sensitive(stack, t):
    t.profile("dup")
    t.profile("DUP")
    r = stack.cli.run("profile", "create", "--tenant", t.name, "--name", "dup", check=False)
    assert r.returncode == 1 and "has a profile named 'dup'" in r.stderr
    other = make_secsvc_tenant(stack)
    other.profile("dup")


def test_seeded_devices(t):
    uid = t.profile()
    rots = t.seed_devices(5, profile=uid)
    assert len(rots) == 5 and all(re.fullmatch(r"[0-9A-F]{16}", r) for r in rots)
    assert psql(t.url, f"SELECT count(*) FROM devices WHERE profile_id = {t.profile_id(uid)}") == "5"


# ---- /deviceprofile/get and bootstrap provisioning (the routes) -------

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _error(r, status, contains=None):
    """The {"message"} shape of these routes (never "Message")."""
    assert r.status == status, r
    body = r.json()
    assert isinstance(body.get("message"), str) and "Message" not in body, body
    if contains is not None:
        assert contains in body["message"], body
    return body["message"]


def _tag(t, name, uids):
    tid = psql(t.url, f"INSERT INTO tags (tenant_id, name) VALUES ({t.id}, '{name}') RETURNING id")
    for uid in uids:
        psql(t.url, f"INSERT INTO profile_tags (tenant_id, tag_id, profile_id) "
                    f"VALUES ({t.id}, {tid}, {t.profile_id(uid)})")
    return name


def test_profile_get_all_by_name_by_tags(stack):
    t = make_secsvc_tenant(stack)
    uids = [t.profile(f"P{i}") for i in range(3)]
    r = t.post("/deviceprofile/get", {})
    assert r.status == 200, r
    j = r.json()
    assert j["PageNumber"] == 1 and j["PageSize"] == 100 and j["TotalRecords"] == 3
    assert [p["DeviceProfileUID"] for p in j["DeviceProfiles"]] == uids
    assert [p["ProfileName"] for p in j["DeviceProfiles"]] == ["P0", "P1", "P2"]
    assert all(ISO.fullmatch(p["CreatedAt"]) and p["TagNames"] == [] for p in j["DeviceProfiles"])
    j = t.post("/deviceprofile/get", {"ProfileName": "P1"}).json()
    assert [p["DeviceProfileUID"] for p in j["DeviceProfiles"]] == [uids[1]] and j["TotalRecords"] == 1
    # case-sensitive
    j = t.post("/deviceprofile/get", {"ProfileName": "p1"}).json()
    assert j["DeviceProfiles"] == [] and j["TotalRecords"] == 0
    _tag(t, "Line A", uids[:2])
    _tag(t, "Zeta", uids[1:2])
    j = t.post("/deviceprofile/get", {"TagNames": ["line a"]}).json()
    assert [p["DeviceProfileUID"] for p in j["DeviceProfiles"]] == uids[:2]
    assert j["DeviceProfiles"][1]["TagNames"] == ["Line A", "Zeta"]
    j = t.post("/deviceprofile/get", {"TagNames": ["Zeta", "none"], "PageNumber": 1}).json()
    assert [p["DeviceProfileUID"] for p in j["DeviceProfiles"]] == [uids[1]]
    j = t.post("/deviceprofile/get", {"PageNumber": 2}).json()
    assert j["DeviceProfiles"] == [] and j["PageNumber"] == 2 and j["TotalRecords"] == 3


def test_profile_get_pages(stack):
    t = make_secsvc_tenant(stack)
    psql(t.url, f"INSERT INTO device_profiles (tenant_id, uid, name) SELECT {t.id}, "
                f"'u{t.id}x' || lpad(g::text, 20, '0'), 'n' || lpad(g::text, 4, '0') "
                f"FROM generate_series(1, 205) g")
    names = []
    for page in (1, 2, 3):
        j = t.post("/deviceprofile/get", {"PageNumber": page}).json()
        assert j["TotalRecords"] == 205
        names += [p["ProfileName"] for p in j["DeviceProfiles"]]
    assert names == ["n%04d" % g for g in range(1, 206)]


def test_profile_get_bad_input(t):
    for body, what in (({"TagNames": ["a"], "ProfileName": "b"}, "not both"),
                       ({"TagNames": "a"}, "TagNames"),
                       ({"TagNames": ["x" * 256]}, "TagNames"),
                       ({"TagNames": ["a"] * 101}, "TagNames"),
                       ({"ProfileName": 3}, "ProfileName"),
                       ({"PageNumber": 0}, "PageNumber"),
                       ({"PageNumber": "1"}, "PageNumber"),
                       ({"Other": 1}, "Other")):
        m = _error(t.post("/deviceprofile/get", body), 400)
        assert what in m, (body, m)
    r = t.client.post("/deviceprofile/get", {})
    assert r.status == 401


def test_profile_get_isolation(stack, t):
    other = make_secsvc_tenant(stack)
    uid = other.profile("Secret line")
    _tag(other, "shared-tag", [uid])
    _tag(t, "shared-tag", [])
    for body in ({}, {"ProfileName": "Secret line"}, {"TagNames": ["shared-tag"]}):
        j = t.post("/deviceprofile/get", body).json()
        assert uid not in [p["DeviceProfileUID"] for p in j["DeviceProfiles"]], body


def test_bootstrap_provisioning_set_get_delete(stack):
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    r = t.post("/deviceprofile/bootstrapprovisioning/get", {"DeviceProfileUID": uid})
    assert r.status == 200 and r.json() == {"DeviceProfileUID": uid, "DesiredProperties": {}}, r
    r = t.post("/deviceprofile/bootstrapprovisioning/set",
               {"DeviceProfileUID": uid, "Provisioning": {"LocalDPR": True, "ZTPV1": False}})
    assert r.status == 200, r
    assert r.json()["DesiredProperties"] == {"LocalDPR": True, "ZTPV1": False}
    r = t.post("/deviceprofile/bootstrapprovisioning/set",
               {"DeviceProfileUID": uid, "Provisioning": {"LocalDPR": False, "SecurityHeartbeatInSec": 86400,
                                                          "LocalC2C": True, "LocalC2CKeyPairing": True}})
    want = {"LocalDPR": False, "ZTPV1": False, "SecurityHeartbeatInSec": 86400,
            "LocalC2C": True, "LocalC2CKeyPairing": True}
    assert r.json()["DesiredProperties"] == want
    r = t.post("/deviceprofile/bootstrapprovisioning/get", {"DeviceProfileUID": uid})
    assert r.json() == {"DeviceProfileUID": uid, "DesiredProperties": want}
    assert psql(t.url, f"SELECT bootstrap->>'SecurityHeartbeatInSec' FROM device_profiles WHERE uid = '{uid}'") == "86400"
    r = t.post("/deviceprofile/bootstrapprovisioning/delete", {"DeviceProfileUID": uid})
    assert r.status == 200 and r.json()["DesiredProperties"] == {}, r
    assert psql(t.url, f"SELECT bootstrap IS NULL FROM device_profiles WHERE uid = '{uid}'") == "t"
    assert t.post("/deviceprofile/bootstrapprovisioning/get",
                  {"DeviceProfileUID": uid}).json()["DesiredProperties"] == {}


def test_bootstrap_provisioning_bad_input_changes_nothing(stack):
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    t.post("/deviceprofile/bootstrapprovisioning/set", {"DeviceProfileUID": uid,
                                                        "Provisioning": {"LocalDPR": True}})
    path = "/deviceprofile/bootstrapprovisioning/set"
    for body, what in (({"DeviceProfileUID": uid}, "Provisioning"),
                       ({"Provisioning": {"LocalDPR": True}}, "DeviceProfileUID"),
                       ({"DeviceProfileUID": uid, "Provisioning": {}}, "at least one"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"LocalDPR": 1}}, "LocalDPR"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"Unknown": True}}, "Unknown"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"SecurityHeartbeatInSec": 59}},
                        "SecurityHeartbeatInSec"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"SecurityHeartbeatInSec": 86400.5}},
                        "SecurityHeartbeatInSec"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"SecurityHeartbeatInSec": True}},
                        "SecurityHeartbeatInSec"),
                       ({"DeviceProfileUID": uid, "Provisioning": "on"}, "Provisioning"),
                       ({"DeviceProfileUID": uid, "Provisioning": {"LocalDPR": False}, "X": 1}, "X")):
        m = _error(t.post(path, body), 400)
        assert what in m, (body, m)
    for p in ("get", "delete"):
        _error(t.post(f"/deviceprofile/bootstrapprovisioning/{p}", {}), 400, "DeviceProfileUID")
        _error(t.post(f"/deviceprofile/bootstrapprovisioning/{p}", {"DeviceProfileUID": uid, "Y": 1}), 400, "Y")
    assert t.post("/deviceprofile/bootstrapprovisioning/get",
                  {"DeviceProfileUID": uid}).json()["DesiredProperties"] == {"LocalDPR": True}


def test_bootstrap_provisioning_isolation(stack, t):
    other = make_secsvc_tenant(stack)
    uid = other.profile()
    other.post("/deviceprofile/bootstrapprovisioning/set", {"DeviceProfileUID": uid,
                                                            "Provisioning": {"LocalDPR": True}})
    for p, extra in (("set", {"Provisioning": {"LocalDPR": False}}), ("get", {}), ("delete", {})):
        r = t.post(f"/deviceprofile/bootstrapprovisioning/{p}", dict({"DeviceProfileUID": uid}, **extra))
        m = _error(r, 404, uid)
        assert "LocalDPR" not in r.text
    _error(t.post("/deviceprofile/bootstrapprovisioning/get", {"DeviceProfileUID": "nosuchprofile"}), 404)
    assert other.post("/deviceprofile/bootstrapprovisioning/get",
                      {"DeviceProfileUID": uid}).json()["DesiredProperties"] == {"LocalDPR": True}
