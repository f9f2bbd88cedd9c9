"""The security-services registry routes (issue 8): device lists, the
allow list (JSON and CSV), provisioning, device info and ROTs by profile
or tag.  Devices are seeded straight into the registry (secsvc_helpers);
tags are inserted as the owner (the tag routes are another module's)."""

import json
import re

import pytest

from helpers import psql, random_name
from secsvc_helpers import make_secsvc_tenant

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def a(stack):
    return make_secsvc_tenant(stack)


@pytest.fixture(scope="module")
def b(stack):
    return make_secsvc_tenant(stack)


def msg_error(r, status, key="message", contains=None):
    """'r' is 'status' with a JSON body {key: "..."} (key spelled exactly)."""
    assert r.status == status, r
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get(key), str), body
    other = "Message" if key == "message" else "message"
    assert other not in body, body
    if contains is not None:
        assert contains in body[key], body
    return body[key]


def tag(t, name, rots=(), profiles=()):
    """Tag 'name' of tenant 't' on devices 'rots' and profiles (UIDs)."""
    tid = psql(t.url, f"INSERT INTO tags (tenant_id, name) VALUES ({t.id}, '{name}') RETURNING id")
    if rots:
        arr = ",".join(f"'{r}'" for r in rots)
        psql(t.url, f"""INSERT INTO device_tags (tenant_id, tag_id, device_id)
                        SELECT {t.id}, {tid}, id FROM devices
                        WHERE tenant_id = {t.id} AND rot IN ({arr})""")
    for uid in profiles:
        psql(t.url, f"""INSERT INTO profile_tags (tenant_id, tag_id, profile_id)
                        VALUES ({t.id}, {tid}, {t.profile_id(uid)})""")
    return name


def bootstrapped(t, rots, state="ACTIVATED"):
    arr = ",".join(f"'{r}'" for r in rots)
    psql(t.url, f"UPDATE devices SET state = '{state}', bootstrapped_at = now() WHERE rot IN ({arr})")


def block(t, rots, on=True):
    arr = ",".join(f"'{r}'" for r in rots)
    val = "now()" if on else "NULL"
    psql(t.url, f"UPDATE devices SET blocked_at = {val} WHERE rot IN ({arr})")


def csv_post(t, text, ctype="application/octet-stream"):
    return t.post("/device/whitelist/add", text.encode() if isinstance(text, str) else text,
                  headers={"Content-Type": ctype})


def all_pages(t, path, body, key):
    """Every item of a paged list, following PageNumber."""
    out, page = [], 1
    while True:
        r = t.post(path, dict(body, PageNumber=page))
        assert r.status == 200, r
        j = r.json()
        out += j[key]
        if len(j[key]) < 100:
            return out, j["TotalRecords"]
        page += 1


# ---- /device/list/get ------------------------------------------------

def test_device_list_pages_in_insert_order(stack):
    t = make_secsvc_tenant(stack)
    rots = t.seed_devices(250)
    r = t.post("/device/list/get", {})
    assert r.status == 200, r
    j = r.json()
    assert j["PageNumber"] == 1 and j["PageSize"] == 100 and j["TotalRecords"] == 250
    assert j["ROTPublicUIDs"] == rots[:100]
    j3 = t.post("/device/list/get", {"Filter": "ALL", "PageNumber": 3}).json()
    assert j3["ROTPublicUIDs"] == rots[200:] and j3["PageNumber"] == 3
    assert "NextPageToken" not in j3
    j4 = t.post("/device/list/get", {"PageNumber": 4}).json()
    assert j4["ROTPublicUIDs"] == [] and j4["TotalRecords"] == 250


def test_device_list_deep_pages_match_order_by(stack):
    """Page N of ALL is exactly rows (N-1)*100.. of ORDER BY (insert order),
    in a tenant seeded in several statements."""
    t = make_secsvc_tenant(stack)
    for _ in range(3):
        t.seed_devices(700)
    order = psql(t.url, f"SELECT rot FROM devices WHERE tenant_id = {t.id} ORDER BY id").splitlines()
    assert len(order) == 2100
    for page in (1, 7, 13, 21, 22):
        j = t.post("/device/list/get", {"PageNumber": page}).json()
        assert j["ROTPublicUIDs"] == order[(page - 1) * 100:page * 100], page
        assert j["TotalRecords"] == 2100


def test_device_list_next_page_token(stack):
    t = make_secsvc_tenant(stack)
    rots = t.seed_devices(230)
    j = t.post("/device/list/get", {}).json()
    seen = list(j["ROTPublicUIDs"])
    while "NextPageToken" in j:
        j = t.post("/device/list/get", {"NextPageToken": j["NextPageToken"]}).json()
        seen += j["ROTPublicUIDs"]
    assert seen == rots
    for bad in ("x", "", "-1", "0", "1e3", "99999999999999999999"):
        msg_error(t.post("/device/list/get", {"NextPageToken": bad}), 400,
                  contains="NextPageToken")


def test_device_list_filters(stack):
    t = make_secsvc_tenant(stack)
    rots = t.seed_devices(10)
    psql(t.url, f"UPDATE devices SET imei = '35000000000000{rots[0][-1]}' WHERE rot = '{rots[0]}'")
    block(t, rots[3:6])
    j = t.post("/device/list/get", {"Filter": "BLACKLISTED"}).json()
    assert j["ROTPublicUIDs"] == rots[3:6] and j["TotalRecords"] == 3
    block(t, rots[4:5], on=False)
    j = t.post("/device/list/get", {"Filter": "BLACKLISTED"}).json()
    assert j["ROTPublicUIDs"] == [rots[3], rots[5]] and j["TotalRecords"] == 2
    assert t.post("/device/list/get", {"Filter": "WHITELISTED"}).json()["TotalRecords"] == 0
    imei = psql(t.url, f"SELECT imei FROM devices WHERE rot = '{rots[0]}'")
    r = t.post("/device/whitelist/add", {"ROTPublicUIDs": [rots[7].lower(), rots[2], "00000000DEADBEEF"],
                                          "IMEIs": [imei], "Action": "ADD"})
    assert r.status == 200, r
    j = t.post("/device/list/get", {"Filter": "WHITELISTED"}).json()
    assert j["ROTPublicUIDs"] == [rots[0], rots[2], rots[7]] and j["TotalRecords"] == 3
    # A device on the list by ROT and by IMEI is listed once.
    t.post("/device/whitelist/add", {"ROTPublicUIDs": [rots[0]], "Action": "ADD"})
    j = t.post("/device/list/get", {"Filter": "WHITELISTED"}).json()
    assert j["ROTPublicUIDs"] == [rots[0], rots[2], rots[7]] and j["TotalRecords"] == 3


def test_device_list_bad_input(a):
    for body, what in (({"Filter": "SOME"}, "Filter"), ({"Filter": 1}, "Filter"),
                       ({"PageNumber": 0}, "PageNumber"), ({"PageNumber": "1"}, "PageNumber"),
                       ({"PageNumber": 1.5}, "PageNumber"), ({"Page": 1}, "Page")):
        m = msg_error(a.post("/device/list/get", body), 400)
        assert what in m, (body, m)
    r = a.client.post("/device/list/get", {})
    assert r.status == 401, r


def test_device_list_isolation(stack, a, b):
    rb = b.seed_devices(3)
    block(b, rb)
    for f in ("ALL", "BLACKLISTED", "WHITELISTED"):
        j = a.post("/device/list/get", {"Filter": f}).json()
        assert not set(rb) & set(j["ROTPublicUIDs"]), f


# ---- /device/whitelist/add and /get (JSON) --------------------------

def test_whitelist_json_add_get_delete(stack):
    t = make_secsvc_tenant(stack)
    r = t.post("/device/whitelist/add", {"ROTPublicUIDs": ["00020001003fffff", "00020001003FFFFE"],
                                          "IMEIs": ["356938035643809"], "Action": "ADD"})
    assert r.status == 200 and r.json() == {"Message": "Success", "Added": 3}, r
    # Again: nothing new.
    r = t.post("/device/whitelist/add", {"ROTPublicUIDs": ["00020001003FFFFF"]})
    assert r.json()["Added"] == 0
    j = t.post("/device/whitelist/get", {}).json()
    assert j["TotalRecords"] == 3 and j["PageSize"] == 100 and j["PageNumber"] == 1
    items = j["DeviceWhitelist"]
    assert [(i["Id"], i["Type"]) for i in items] == [
        ("00020001003FFFFF", "ROTPublicUID"), ("00020001003FFFFE", "ROTPublicUID"),
        ("356938035643809", "IMEI")]
    assert all(ISO.fullmatch(i["AddedAt"]) for i in items)
    r = t.post("/device/whitelist/add", {"ROTPublicUIDs": ["00020001003FFFFE"],
                                          "IMEIs": ["356938035643809"], "Action": "DELETE"})
    assert r.json() == {"Message": "Success", "Deleted": 2}, r
    j = t.post("/device/whitelist/get", {"PageNumber": 1}).json()
    assert [i["Id"] for i in j["DeviceWhitelist"]] == ["00020001003FFFFF"] and j["TotalRecords"] == 1


def test_whitelist_json_bad_input_changes_nothing(stack):
    t = make_secsvc_tenant(stack)
    good = "00020001003FFFFF"
    for body, what in (
            ({"ROTPublicUIDs": [good, "XYZ"]}, "Invalid ROTPublicUIDs"),
            ({"ROTPublicUIDs": [good, "00020001003FFFF"]}, "Invalid ROTPublicUIDs"),
            ({"ROTPublicUIDs": [good], "IMEIs": ["12ab"]}, "Invalid IMEIs"),
            ({"ROTPublicUIDs": [good], "Action": "REMOVE"}, "Action"),
            ({"ROTPublicUIDs": [good], "Action": 1}, "Action"),
            ({"ROTPublicUIDs": good}, "ROTPublicUIDs"),
            ({"ROTPublicUIDs": [1]}, "ROTPublicUIDs"),
            ({"ROTPublicUIDs": [good], "Extra": 1}, "Extra"),
            ({}, "ROTPublicUIDs or IMEIs"),
            ({"ROTPublicUIDs": [], "IMEIs": []}, "ROTPublicUIDs or IMEIs"),
            ({"ROTPublicUIDs": ["%016X" % i for i in range(10001)]}, "ROTPublicUIDs")):
        m = msg_error(t.post("/device/whitelist/add", body), 400, key="Message")
        assert what in m, (body, m)
    assert t.post("/device/whitelist/get", {}).json()["TotalRecords"] == 0
    assert psql(t.url, f"SELECT count(*) FROM device_allowlist WHERE tenant_id = {t.id}") == "0"
    msg_error(t.post("/device/whitelist/add", b"{not json",
                     headers={"Content-Type": "application/json"}), 400, key="Message")
    r = t.post("/device/whitelist/add", b"Id,Type,Action\n", headers={"Content-Type": "text/csv"})
    msg_error(r, 415, key="Message")


def test_whitelist_get_paging(stack):
    t = make_secsvc_tenant(stack)
    ids = ["%016X" % (0xA000000000000000 + i) for i in range(250)]
    assert t.post("/device/whitelist/add", {"ROTPublicUIDs": ids}).json()["Added"] == 250
    got, total = all_pages(t, "/device/whitelist/get", {}, "DeviceWhitelist")
    assert [i["Id"] for i in got] == ids and total == 250
    j = t.post("/device/whitelist/get", {}).json()
    j2 = t.post("/device/whitelist/get", {"NextPageToken": j["NextPageToken"]}).json()
    assert [i["Id"] for i in j2["DeviceWhitelist"]] == ids[100:200]
    msg_error(t.post("/device/whitelist/get", {"PageNumber": -1}), 400)


def test_whitelist_isolation(stack, a, b):
    rb = b.seed_devices(1)
    b.post("/device/whitelist/add", {"ROTPublicUIDs": rb})
    ja = a.post("/device/whitelist/get", {}).json()
    assert rb[0] not in [i["Id"] for i in ja["DeviceWhitelist"]]
    # A deleting A's entry of B's ROT leaves B's alone.
    a.post("/device/whitelist/add", {"ROTPublicUIDs": rb, "Action": "DELETE"})
    jb = b.post("/device/whitelist/get", {}).json()
    assert rb[0] in [i["Id"] for i in jb["DeviceWhitelist"]]


# ---- /device/whitelist/add (CSV) -------------------------------------

def test_csv_upload_applies_good_rows_and_reports_bad_ones(stack):
    t = make_secsvc_tenant(stack)
    text = ("Id,Type,Action\r\n"
            "00020001003fffff,ROTPublicUID,ADD\r\n"        # 2 ok (lower case)
            "\r\n"                                          # 3 blank: skipped
            "00020001003FFFF,ROTPublicUID,ADD\r\n"          # 4 short ROT
            "00020001003FFFFE,ROT,ADD\r\n"                  # 5 bad Type
            "00020001003FFFFD,ROTPublicUID,UPSERT\r\n"      # 6 bad Action
            "356938035643809,IMEI,ADD\r\n"                  # 7 ok
            "00020001003FFFFC,ROTPublicUID\r\n"             # 8 two fields
            "00020001003FFFFB,ROTPublicUID,ADD,x\r\n"       # 9 four fields
            "35693803564380A,IMEI,ADD\r\n"                  # 10 bad IMEI
            "\n"
            "00020001003FFFFA,ROTPublicUID,ADD")            # 12 ok, no newline
    r = csv_post(t, text)
    assert r.status == 200, r
    j = r.json()
    assert j["Rows"] == 9 and j["Accepted"] == 3 and j["Rejected"] == 6 and j["Added"] == 3, j
    assert j["Message"].startswith("Partial")
    rows = {e["Row"]: e for e in j["Errors"]}
    assert sorted(rows) == [4, 5, 6, 8, 9, 10], rows
    assert rows[4]["Id"] == "00020001003FFFF" and "16 hex" in rows[4]["Reason"]
    assert "Type" in rows[5]["Reason"] and "Action" in rows[6]["Reason"]
    assert "three fields" in rows[8]["Reason"] and "three fields" in rows[9]["Reason"]
    assert "IMEI" in rows[10]["Reason"]
    j = t.post("/device/whitelist/get", {}).json()
    assert sorted(i["Id"] for i in j["DeviceWhitelist"]) == [
        "00020001003FFFFA", "00020001003FFFFF", "356938035643809"]
    assert j["TotalRecords"] == 3


def test_csv_rejected_counts_all_bad_rows(stack):
    """The reject count and the listed errors agree; Ids of any length are
    refused by their Type's rule."""
    t = make_secsvc_tenant(stack)
    r = csv_post(t, "Id,Type,Action\nA,ROTPublicUID,ADD\nB,IMEI,ADD\n00020001003FFFFF,ROTPublicUID,ADD\n")
    j = r.json()
    assert j["Rejected"] == len(j["Errors"]) == 2 and j["Accepted"] == 1


def test_csv_delete_and_last_row_wins(stack):
    t = make_secsvc_tenant(stack)
    csv_post(t, "Id,Type,Action\n00020001003FFFFF,ROTPublicUID,ADD\n00020001003FFFFE,ROTPublicUID,ADD\n")
    r = csv_post(t, "Id,Type,Action\n"
                    "00020001003FFFFF,ROTPublicUID,DELETE\n"
                    "00020001003FFFFD,ROTPublicUID,ADD\n"
                    "00020001003FFFFD,ROTPublicUID,DELETE\n"
                    "00020001003FFFFC,ROTPublicUID,DELETE\n"
                    "00020001003FFFFC,ROTPublicUID,ADD\n")
    j = r.json()
    assert r.status == 200 and j["Deleted"] == 1 and j["Added"] == 1 and j["Rejected"] == 0, j
    assert j["Message"] == "Success"
    ids = [i["Id"] for i in t.post("/device/whitelist/get", {}).json()["DeviceWhitelist"]]
    assert sorted(ids) == ["00020001003FFFFC", "00020001003FFFFE"]


def test_csv_bad_header_or_no_rows_changes_nothing(stack):
    t = make_secsvc_tenant(stack)
    for text in ("id,type,action\n00020001003FFFFF,ROTPublicUID,ADD\n",
                 "Id,Type\n00020001003FFFFF,ROTPublicUID,ADD\n",
                 "00020001003FFFFF,ROTPublicUID,ADD\n",
                 "Id,Type,Action,Extra\n00020001003FFFFF,ROTPublicUID,ADD\n",
                 "Id,Type,Action\n", "Id,Type,Action\n\n\r\n", ""):
        r = csv_post(t, text)
        msg_error(r, 400, key="Message")
    # Every row bad: a 400 with the report; nothing applied.
    r = csv_post(t, "Id,Type,Action\nXX,ROTPublicUID,ADD\n00020001003FFFFF,ROTPublicUID,NOPE\n")
    assert r.status == 400 and r.json()["Accepted"] == 0 and len(r.json()["Errors"]) == 2, r
    assert "Message" in r.json()
    assert psql(t.url, f"SELECT count(*) FROM device_allowlist WHERE tenant_id = {t.id}") == "0"


def test_csv_binary_junk_is_reported_not_echoed_raw(stack):
    t = make_secsvc_tenant(stack)
    body = b"Id,Type,Action\n\x00\xff\xfe\x01,ROTPublicUID,ADD\n00020001003FFFFF,ROTPublicUID,ADD\n"
    r = csv_post(t, body)
    assert r.status == 200, r
    j = r.json()
    assert j["Accepted"] == 1 and j["Errors"][0]["Row"] == 2
    assert all(32 <= ord(c) < 127 for c in j["Errors"][0]["Id"])


def test_csv_large_upload(stack):
    """100,000 rows (~3 MB) through nginx and COPY in one request."""
    t = make_secsvc_tenant(stack)
    lines = ["Id,Type,Action"] + ["%016X,ROTPublicUID,ADD" % (0xB000000000000000 + i)
                                  for i in range(100000)]
    body = "\n".join(lines) + "\n"
    assert len(body) > 2_500_000
    r = csv_post(t, body)
    assert r.status == 200, r
    j = r.json()
    assert j["Accepted"] == 100000 and j["Added"] == 100000 and j["Rejected"] == 0
    assert t.post("/device/whitelist/get", {}).json()["TotalRecords"] == 100000
    assert psql(t.url, f"SELECT count(*) FROM device_allowlist WHERE tenant_id = {t.id}") == "100000"


def test_csv_too_large_for_the_route(stack, a):
    body = b"Id,Type,Action\n" + b"0002000100300000,ROTPublicUID,ADD\n" * 300000
    assert len(body) > 8 * 1024 * 1024
    r = csv_post(a, body)
    assert r.status == 413, r


def test_json_routes_keep_their_small_limit(a):
    r = a.post("/device/list/get", b'{"Filter": "' + b"A" * (2 * 1024 * 1024) + b'"}',
               headers={"Content-Type": "application/json"})
    assert r.status == 413, r


# ---- /device/provisioning/set|get|delete -----------------------------

def test_provisioning_by_rots_and_tags(stack):
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    rots = t.seed_devices(6, profile=uid)
    bootstrapped(t, rots[:4])
    bootstrapped(t, rots[4:5], state="ALLOCATED")
    name = tag(t, random_name("tag"), profiles=[uid])
    r = t.post("/device/provisioning/set", {"ROTPublicUIDs": [rots[0].lower(), rots[5]],
                                             "Provisioning": {"LocalDPR": True}})
    assert r.status == 200 and r.json() == {"Message": "Success", "Devices": 1}, r
    seq1 = psql(t.url, f"SELECT seq FROM device_desired dd JOIN devices d ON d.id = dd.device_id WHERE d.rot = '{rots[0]}'")
    r = t.post("/device/provisioning/set", {"TagNames": [name.upper()],
                                             "Provisioning": {"SecurityHeartbeatInSec": 3600,
                                                              "LocalC2C": False}})
    assert r.json()["Devices"] == 5, r
    got = t.post("/device/provisioning/get", {"TagNames": [name]}).json()
    assert [g["ROTPublicUID"] for g in got] == rots[:5]
    assert got[0]["DesiredProperties"] == {"LocalDPR": True, "SecurityHeartbeatInSec": 3600, "LocalC2C": False}
    assert got[1]["DesiredProperties"] == {"SecurityHeartbeatInSec": 3600, "LocalC2C": False}
    seq2 = psql(t.url, f"SELECT seq FROM device_desired dd JOIN devices d ON d.id = dd.device_id WHERE d.rot = '{rots[0]}'")
    assert int(seq2) > int(seq1)
    seqs = psql(t.url, f"SELECT count(DISTINCT seq) FROM device_desired WHERE tenant_id = {t.id}")
    assert seqs == "5"
    got = t.post("/device/provisioning/get", {"ROTPublicUIDs": [rots[1], rots[5]]}).json()
    assert [g["ROTPublicUID"] for g in got] == [rots[1]]
    r = t.post("/device/provisioning/delete", {"ROTPublicUIDs": [rots[1]]})
    assert r.status == 200 and r.json()["Devices"] == 1 and "message" in r.json()
    r = t.post("/device/provisioning/delete", {"TagNames": [name]})
    assert r.json()["Devices"] == 4
    assert t.post("/device/provisioning/get", {"TagNames": [name]}).json() == []


def test_provisioning_bad_input(a):
    rot = "00020001003FFFFF"
    for path, key in (("/device/provisioning/set", "Message"),):
        for body, what in (({"Provisioning": {"LocalDPR": True}}, "ROTPublicUIDs or TagNames"),
                           ({"ROTPublicUIDs": [rot]}, "Provisioning"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": {}}, "at least one"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": {"LocalDPR": "yes"}}, "LocalDPR"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": {"Other": True}}, "Other"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": {"SecurityHeartbeatInSec": 1}},
                            "SecurityHeartbeatInSec"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": {"SecurityHeartbeatInSec": 10**9}},
                            "SecurityHeartbeatInSec"),
                           ({"ROTPublicUIDs": ["nothex"], "Provisioning": {"ZTPV1": True}},
                            "Invalid ROTPublicUIDs"),
                           ({"ROTPublicUIDs": [rot] * 1001, "Provisioning": {"ZTPV1": True}},
                            "ROTPublicUIDs"),
                           ({"TagNames": ["t"] * 101, "Provisioning": {"ZTPV1": True}}, "TagNames"),
                           ({"ROTPublicUIDs": [rot], "Provisioning": [1]}, "Provisioning")):
            m = msg_error(a.post(path, body), 400, key=key)
            assert what in m, (body, m)
    for path in ("/device/provisioning/get", "/device/provisioning/delete"):
        msg_error(a.post(path, {}), 400, key="message", contains="ROTPublicUIDs or TagNames")
        msg_error(a.post(path, {"ROTPublicUIDs": ["x"]}), 400, key="message", contains="Invalid")
        msg_error(a.post(path, {"ROTPublicUIDs": [rot], "Provisioning": {}}), 400, key="message")


def test_provisioning_isolation(stack, a, b):
    rb = b.seed_devices(2)
    bootstrapped(b, rb)
    name = tag(b, random_name("btag"), rots=rb)
    tag(a, name)  # the same name in A: A's tag, no devices
    r = a.post("/device/provisioning/set", {"ROTPublicUIDs": rb, "TagNames": [name],
                                             "Provisioning": {"LocalDPR": True}})
    assert r.status == 200 and r.json()["Devices"] == 0, r
    b.post("/device/provisioning/set", {"ROTPublicUIDs": rb, "Provisioning": {"ZTPV1": True}})
    assert a.post("/device/provisioning/get", {"ROTPublicUIDs": rb, "TagNames": [name]}).json() == []
    assert a.post("/device/provisioning/delete", {"ROTPublicUIDs": rb}).json()["Devices"] == 0
    assert len(b.post("/device/provisioning/get", {"ROTPublicUIDs": rb}).json()) == 2


# ---- /device/info/get ------------------------------------------------

def test_device_info_options(stack):
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    rots = t.seed_devices(2, profile=uid) + t.seed_devices(1)
    bootstrapped(t, rots[:1])
    block(t, rots[1:2])
    psql(t.url, f"UPDATE devices SET firmware = '1.2.3', imei = '356938035643809', last_seen = now(), "
                f"current_props = '{{\"LocalDPR\": false}}' WHERE rot = '{rots[0]}'")
    t.post("/device/provisioning/set", {"ROTPublicUIDs": [rots[0]], "Provisioning": {"LocalDPR": True}})
    r = t.post("/device/info/get", {"ROTPublicUIDs": [r.lower() for r in rots]})
    assert r.status == 200, r
    info = r.json()["DeviceInfo"]
    assert [i["ROTPublicUID"] for i in info] == rots
    d0, d1, d2 = info
    assert d0["DeviceProfileUID"] == uid and d0["State"] == "ACTIVATED" and d0["Blocked"] is False
    assert d0["FirmwareVersion"] == "1.2.3" and d0["IMEI"] == "356938035643809"
    assert ISO.fullmatch(d0["SealedAt"]) and ISO.fullmatch(d0["BootstrappedAt"]) and ISO.fullmatch(d0["LastSeen"])
    assert "DesiredProperties" not in d0 and "ZTP" not in d0
    assert d1["Blocked"] is True and d1["State"] == "SEALED" and d1["BootstrappedAt"] is None
    assert d2["DeviceProfileUID"] == "UNATTRIBUTED DEVICE PROFILE"
    serial = psql(t.url, f"SELECT serial FROM devices WHERE rot = '{rots[0]}'")
    r = t.post("/device/info/get", {"DeviceSerialNumbers": [serial], "Options": ["PROVISIONING", "ZTP"]})
    info = r.json()["DeviceInfo"]
    assert info == [{"ROTPublicUID": rots[0], "DesiredProperties": {"LocalDPR": True},
                     "CurrentProperties": {"LocalDPR": False}, "ZTP": {}}], info
    name = tag(t, random_name("itag"), profiles=[uid])
    info = t.post("/device/info/get", {"TagNames": [name], "Options": ["CORE"]}).json()["DeviceInfo"]
    assert [i["ROTPublicUID"] for i in info] == rots[:2]


def test_device_info_bad_input_and_bound(stack, a):
    for body, what in (({}, "ROTPublicUIDs, TagNames or DeviceSerialNumbers"),
                       ({"Options": ["CORE"]}, "ROTPublicUIDs, TagNames or DeviceSerialNumbers"),
                       ({"ROTPublicUIDs": ["00020001003FFFFF"], "Options": ["ALL"]}, "Options"),
                       ({"ROTPublicUIDs": ["00020001003FFFFF"], "Options": "CORE"}, "Options"),
                       ({"ROTPublicUIDs": ["zz"]}, "Invalid ROTPublicUIDs"),
                       ({"ROTPublicUIDs": ["00020001003FFFFF"], "More": 1}, "More"),
                       ({"DeviceSerialNumbers": ["s"] * 1001}, "DeviceSerialNumbers")):
        m = msg_error(a.post("/device/info/get", body), 400)
        assert what in m, (body, m)
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    t.seed_devices(1001, profile=uid)
    name = tag(t, random_name("big"), profiles=[uid])
    msg_error(t.post("/device/info/get", {"TagNames": [name]}), 400, contains="more than 1000")


def test_device_info_isolation(stack, a, b):
    uid = b.profile()
    rb = b.seed_devices(2, profile=uid, serial="SHARED1")
    name = tag(b, random_name("itag"), rots=rb)
    a.seed_devices(1, serial="SHARED1")
    info = a.post("/device/info/get", {"ROTPublicUIDs": rb, "TagNames": [name],
                                        "DeviceSerialNumbers": ["SHARED1"]}).json()["DeviceInfo"]
    assert len(info) == 1 and info[0]["ROTPublicUID"] not in rb


# ---- /device/rotpublicuid/get ----------------------------------------

def test_rotpublicuid_by_profile_tag_unattributed(stack):
    t = make_secsvc_tenant(stack)
    p1, p2 = t.profile(), t.profile()
    r1 = t.seed_devices(150, profile=p1)
    r2 = t.seed_devices(3, profile=p2)
    r0 = t.seed_devices(2)
    got, total = all_pages(t, "/device/rotpublicuid/get", {"DeviceProfileUID": p1}, "ROTPublicUIDs")
    assert got == r1 and total == 150
    j = t.post("/device/rotpublicuid/get", {"DeviceProfileUID": p1}).json()
    j2 = t.post("/device/rotpublicuid/get", {"DeviceProfileUID": p1,
                                              "NextPageToken": j["NextPageToken"]}).json()
    assert j2["ROTPublicUIDs"] == r1[100:]
    j = t.post("/device/rotpublicuid/get", {"DeviceProfileUID": "UNATTRIBUTED DEVICE PROFILE"}).json()
    assert j["ROTPublicUIDs"] == r0 and j["TotalRecords"] == 2
    name = tag(t, random_name("rtag"), rots=r0[:1], profiles=[p2])
    j = t.post("/device/rotpublicuid/get", {"TagNames": [name.lower()], "PageNumber": 1}).json()
    assert j["ROTPublicUIDs"] == r2 + r0[:1] and j["TotalRecords"] == 4


def test_rotpublicuid_bad_input_and_isolation(stack, a, b):
    pb = b.profile()
    rb = b.seed_devices(2, profile=pb)
    name = tag(b, random_name("rt"), rots=rb)
    msg_error(a.post("/device/rotpublicuid/get", {"DeviceProfileUID": pb}), 404, contains=pb)
    msg_error(a.post("/device/rotpublicuid/get", {"DeviceProfileUID": "nope"}), 404)
    j = a.post("/device/rotpublicuid/get", {"TagNames": [name]}).json()
    assert j["ROTPublicUIDs"] == [] and j["TotalRecords"] == 0
    for body, what in (({}, "DeviceProfileUID or TagNames"),
                       ({"DeviceProfileUID": pb, "TagNames": [name]}, "not both"),
                       ({"TagNames": []}, "DeviceProfileUID or TagNames"),
                       ({"DeviceProfileUID": 5}, "DeviceProfileUID"),
                       ({"DeviceProfileUID": pb, "PageNumber": "2"}, "PageNumber")):
        m = msg_error(a.post("/device/rotpublicuid/get", body), 400)
        assert what in m, (body, m)
    # the unattributed devices of B are not A's
    b.seed_devices(1)
    ja = a.post("/device/rotpublicuid/get", {"DeviceProfileUID": "UNATTRIBUTED DEVICE PROFILE"}).json()
    assert not set(ja["ROTPublicUIDs"]) & set(psql(b.url, f"SELECT rot FROM devices WHERE tenant_id = {b.id}").split())


def test_counters_follow_inserts_and_blocks(stack):
    """sql/013's counter and positions: what TotalRecords reads equals
    count(*), positions are 1..n."""
    t = make_secsvc_tenant(stack)
    rots = t.seed_devices(20) + t.seed_devices(5)
    block(t, rots[:7])
    block(t, rots[:2], on=False)
    block(t, rots[3:4])  # already blocked: counted once
    row = psql(t.url, f"SELECT devices FROM device_counts WHERE tenant_id = {t.id}")
    assert row == "25"
    assert t.post("/device/list/get", {"Filter": "BLACKLISTED"}).json()["TotalRecords"] == 5
    pos = psql(t.url, f"SELECT min(list_pos), max(list_pos), count(DISTINCT list_pos) FROM devices WHERE tenant_id = {t.id}")
    assert pos == "1|25|25"


def _insert(t, first, n):
    return (f"INSERT INTO devices (tenant_id, rot, serial, secret_sealed) "
            f"SELECT {t.id}, upper(lpad(to_hex({first}::bigint + g), 16, '0')), 'S' || g, "
            f"'\\x00'::bytea FROM generate_series(1, {n}) g;")


def test_positions_stay_dense_across_statements_and_rollbacks(stack):
    """Several statements in one transaction, a rolled-back transaction and
    a rolled-back savepoint: positions stay 1..n with no gap, the counter
    equals n, and page N still starts at device (N-1)*100+1."""
    t = make_secsvc_tenant(stack)
    base = (0xD0000000 + t.id) << 24
    psql(t.url, "BEGIN; " + _insert(t, base, 150) + _insert(t, base + 1000, 60) + "COMMIT;")
    psql(t.url, "BEGIN; " + _insert(t, base + 2000, 70) + "ROLLBACK;")
    psql(t.url, "BEGIN; " + _insert(t, base + 3000, 5) + "SAVEPOINT s; " + _insert(t, base + 4000, 40)
         + "ROLLBACK TO SAVEPOINT s; " + _insert(t, base + 5000, 45) + "COMMIT;")
    t.seed_devices(1)
    n = 150 + 60 + 5 + 45 + 1
    pos = psql(t.url, f"SELECT min(list_pos), max(list_pos), count(*) FROM devices WHERE tenant_id = {t.id}")
    assert pos == f"1|{n}|{n}"
    assert psql(t.url, f"SELECT devices FROM device_counts WHERE tenant_id = {t.id}") == str(n)
    order = psql(t.url, f"SELECT rot FROM devices WHERE tenant_id = {t.id} ORDER BY id").splitlines()
    got, total = all_pages(t, "/device/list/get", {}, "ROTPublicUIDs")
    assert got == order and total == n


def test_positions_stay_dense_when_on_conflict_skips_rows(stack):
    """`device seal` inserts with ON CONFLICT (rot) DO NOTHING: rows it
    skips (in the middle, at the end, all of them, another tenant's ROT)
    leave no gap in the positions."""
    t = make_secsvc_tenant(stack)
    other = make_secsvc_tenant(stack)
    base = (0xE0000000 + t.id) << 24
    theirs = other.seed_devices(1)[0]
    psql(t.url, _insert(t, base, 10))
    mine = psql(t.url, f"SELECT rot FROM devices WHERE tenant_id = {t.id} ORDER BY id").splitlines()

    def ins(rots):
        vals = ",".join(f"({t.id}, '{r}', 'S', '\\x00'::bytea)" for r in rots)
        return (f"INSERT INTO devices (tenant_id, rot, serial, secret_sealed) VALUES {vals} "
                f"ON CONFLICT (rot) DO NOTHING;")
    new = ["%016X" % (base + 100 + i) for i in range(6)]
    psql(t.url, "BEGIN; " + ins([new[0], mine[3], new[1], theirs, new[2]])   # skips in the middle
         + ins([new[3], mine[0]])                                           # skips at the end
         + ins([mine[1], theirs])                                           # skips all
         + ins([new[4], new[5]]) + "COMMIT;")
    t.seed_devices(2)
    n = 10 + 6 + 2
    assert psql(t.url, f"SELECT min(list_pos), max(list_pos), count(*) FROM devices "
                       f"WHERE tenant_id = {t.id}") == f"1|{n}|{n}"
    assert psql(t.url, f"SELECT devices FROM device_counts WHERE tenant_id = {t.id}") == str(n)
    by_pos = psql(t.url, f"SELECT rot FROM devices WHERE tenant_id = {t.id} ORDER BY list_pos").splitlines()
    assert by_pos[:16] == mine + new
    j = t.post("/device/list/get", {}).json()
    assert j["ROTPublicUIDs"] == by_pos and j["TotalRecords"] == n
    assert psql(t.url, f"SELECT tenant_id FROM devices WHERE rot = '{theirs}'") == str(other.id)


def test_whitelisted_set_follows_entries_and_devices(stack):
    """WHITELISTED is kept as a set of its own (sql/013, device_allowed):
    entries added before the device is sealed, a device named by both its
    ROT and its IMEI until both entries go, an IMEI the owner repairs."""
    t = make_secsvc_tenant(stack)
    base = (0xF0000000 + t.id) << 24
    early = ["%016X" % (base + 1), "%016X" % (base + 2)]
    t.post("/device/whitelist/add", {"ROTPublicUIDs": early, "IMEIs": ["111"]})
    psql(t.url, _insert(t, base, 4))  # base+1 .. base+4: two already listed
    rots = psql(t.url, f"SELECT rot FROM devices WHERE tenant_id = {t.id} ORDER BY list_pos").splitlines()

    def wl():
        j = t.post("/device/list/get", {"Filter": "WHITELISTED"}).json()
        assert j["TotalRecords"] == len(j["ROTPublicUIDs"]), j
        assert psql(t.url, f"SELECT allowed FROM device_counts WHERE tenant_id = {t.id}") == \
            psql(t.url, f"SELECT count(*) FROM device_allowed WHERE tenant_id = {t.id}")
        return j["ROTPublicUIDs"]
    assert wl() == early
    psql(t.url, f"UPDATE devices SET imei = '111' WHERE rot = '{rots[3]}'")
    assert wl() == early + [rots[3]]
    psql(t.url, f"UPDATE devices SET imei = '111' WHERE rot = '{rots[0]}'")
    # rots[0] is listed by ROT and by IMEI: deleting one entry keeps it.
    t.post("/device/whitelist/add", {"ROTPublicUIDs": [rots[0]], "Action": "DELETE"})
    assert wl() == [rots[0], rots[1], rots[3]]
    t.post("/device/whitelist/add", {"IMEIs": ["111"], "Action": "DELETE"})
    assert wl() == [rots[1]]
    psql(t.url, f"UPDATE devices SET imei = NULL WHERE rot = '{rots[3]}'")
    csv_post(t, f"Id,Type,Action\n{rots[2]},ROTPublicUID,ADD\n{rots[1]},ROTPublicUID,DELETE\n")
    assert wl() == [rots[2]]


def test_names_with_array_syntax_match_nothing_and_break_nothing(stack):
    """Names travel as one text[] literal: quotes, backslashes, commas and
    braces in them are data, never syntax (no 500, no extra element)."""
    t = make_secsvc_tenant(stack)
    uid = t.profile()
    rots = t.seed_devices(2, profile=uid, serial="A")
    name = tag(t, random_name("ok"), profiles=[uid])
    weird = ['a"b', 'x\\y', '{', '}', 'a,b', '"', '\\', 'NULL', ' ', '{"A"}', 'A","B']
    r = t.post("/device/rotpublicuid/get", {"TagNames": weird})
    assert r.status == 200 and r.json()["ROTPublicUIDs"] == [], r
    r = t.post("/device/rotpublicuid/get", {"TagNames": weird + [name]})
    assert r.status == 200 and r.json()["ROTPublicUIDs"] == rots, r
    r = t.post("/device/info/get", {"DeviceSerialNumbers": weird})
    assert r.status == 200 and r.json()["DeviceInfo"] == [], r
    r = t.post("/deviceprofile/get", {"TagNames": weird})
    assert r.status == 200 and r.json()["DeviceProfiles"] == [], r
    r = t.post("/device/provisioning/get", {"TagNames": weird})
    assert r.status == 200 and r.json() == [], r
