"""The history reports of the security-services dialect (issue 8):
/notification/get, /device/activity/get, /device/usage/get,
/device/clone/get and /device/suspicious/get.  The history tables are
written by the device protocol; here their rows are inserted as the owner
and devices seeded in bulk, so each report is checked on known data: its
selectors (exclusive, conditionally required), strict dates and how far
back they may go, paging by PageNumber and by NextPageToken, and tenant
isolation (another tenant's ROTs, tags and profiles give nothing)."""

import datetime
import json
import re

import pytest

from helpers import assert_json_error, psql, random_name
from secsvc_helpers import make_secsvc_tenant

UTC = datetime.timezone.utc


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**kw):
    return iso(now() - datetime.timedelta(**kw))


def day(days_ago):
    return (now() - datetime.timedelta(days=days_ago)).strftime("%Y-%m-%d")


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def add_event(t, rot, type_, payload=None, at="now()"):
    psql(t.url, f"""
        INSERT INTO events (tenant_id, device_id, rot, type, payload, created_at)
        SELECT {t.id}, id, rot, '{type_}', {sql_str(json.dumps(payload or {}))}::jsonb, {at}
        FROM devices WHERE rot = '{rot}'""")


def add_activity(t, rot, cmd_id, command, status, detail=None, at="now()"):
    psql(t.url, f"""
        INSERT INTO device_activity (tenant_id, device_id, command_id, command, status, detail, created_at)
        SELECT {t.id}, id, '{cmd_id}', '{command}', '{status}', {sql_str(json.dumps(detail or {}))}::jsonb, {at}
        FROM devices WHERE rot = '{rot}'""")


def add_usage(t, rot, days_ago, event, count):
    psql(t.url, f"""
        INSERT INTO device_usage (tenant_id, device_id, day, event, count)
        SELECT {t.id}, id, current_date - {days_ago}, '{event}', {count}
        FROM devices WHERE rot = '{rot}'""")


def add_clone(t, rot, counter, last, peer=None, at="now()"):
    psql(t.url, f"""
        INSERT INTO device_clone_events (tenant_id, device_id, reason, counter, last_counter, peer, created_at)
        SELECT {t.id}, id, 'COUNTER_REPLAY', {counter}, {last}, {sql_str(peer) if peer else 'NULL'}, {at}
        FROM devices WHERE rot = '{rot}'""")


def add_prod_log(t, rows):
    values = ", ".join(
        f"({t.id}, 'batch1', {i + 1}, '{rot}', {sql_str(s) if s else 'NULL'}, {sql_str(c) if c else 'NULL'})"
        for i, (rot, s, c) in enumerate(rows))
    psql(t.url, f"INSERT INTO device_prod_log (tenant_id, batch, line, rot, serial, scl_serial) VALUES {values}")


def new_tag(t, target):
    name = random_name("rt")
    assert t.post("/tag/create", {"TagName": name}).status == 200
    r = t.post("/tag/assign", {"TagNames": [name], **target})
    assert r.status == 200, r
    return name


@pytest.fixture(scope="module")
def t(stack):
    return make_secsvc_tenant(stack)


@pytest.fixture(scope="module")
def other(stack):
    return make_secsvc_tenant(stack)


TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

# Bad dates every ISO 8601 route refuses, naming the field.
BAD_DATES = ["2020-02-01", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
             "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-01-01T25:00:00Z", ""]


# ---------------------------------------------------------- /notification/get


def test_notifications_by_rot_type_and_range(t):
    rots = t.seed_devices(2)
    add_event(t, rots[0], "DEVICE_STATE_CHANGE", {"State": "ACTIVATED"}, "now() - interval '3 hours'")
    add_event(t, rots[0], "DEVICE_INFO_CHANGE", {"Firmware": "1.2"}, "now() - interval '2 hours'")
    add_event(t, rots[1], "DEVICE_ERROR", {"Error": "boom"}, "now() - interval '1 hour'")
    r = t.post("/notification/get", {"FromDate": ago(days=1), "ROTPublicUIDs": [x.lower() for x in rots]})
    assert r.status == 200, r
    b = r.json()
    assert b["PageNumber"] == 1 and b["PageSize"] == 100 and b["TotalRecords"] == 3
    n = b["Notifications"]
    assert [x["Type"] for x in n] == ["DEVICE_STATE_CHANGE", "DEVICE_INFO_CHANGE", "DEVICE_ERROR"]
    assert n[0]["ROTPublicUID"] == rots[0] and n[0]["State"] == "ACTIVATED"
    assert n[2]["ROTPublicUID"] == rots[1] and n[2]["Error"] == "boom"
    assert all(TS.fullmatch(x["Timestamp"]) for x in n)
    assert "NextPageToken" not in b
    r = t.post("/notification/get", {"FromDate": ago(days=1), "ROTPublicUIDs": rots,
                                     "NotificationType": "DEVICE_INFO_CHANGE"})
    assert [x["Firmware"] for x in r.json()["Notifications"]] == ["1.2"]
    # the range: ToDate before the last one, with an offset
    to = (now() - datetime.timedelta(minutes=90)).astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    r = t.post("/notification/get", {"FromDate": ago(days=1), "ToDate": to.isoformat(), "ROTPublicUIDs": rots})
    assert r.json()["TotalRecords"] == 2
    r = t.post("/notification/get", {"FromDate": ago(minutes=150), "ROTPublicUIDs": rots})
    assert [x["Type"] for x in r.json()["Notifications"]] == ["DEVICE_INFO_CHANGE", "DEVICE_ERROR"]


def test_notifications_are_the_four_types_only(t):
    """The events table also holds what only operators and webhooks see (a
    blocked device's attempt): /notification/get shows the spec's four."""
    rot = t.seed_devices(1)[0]
    add_event(t, rot, "DEVICE_BLOCKED_ATTEMPT", {"Request": "heartbeat"})
    add_event(t, rot, "DEVICE_ERROR", {"Error": "boom"})
    r = t.post("/notification/get", {"FromDate": ago(days=1), "ROTPublicUIDs": [rot]})
    assert r.status == 200, r
    assert [x["Type"] for x in r.json()["Notifications"]] == ["DEVICE_ERROR"]
    assert r.json()["TotalRecords"] == 1


def test_notifications_by_tag_through_a_profile(t):
    uid = t.profile()
    rots = t.seed_devices(2, profile=uid)
    outside = t.seed_devices(1)
    for rot in rots + outside:
        add_event(t, rot, "DEVICE_PROPERTIES_CHANGE", {"Rot": rot})
    name = new_tag(t, {"DeviceProfileUIDs": [uid]})
    r = t.post("/notification/get", {"FromDate": ago(hours=1), "TagNames": [name.upper()]})
    assert r.status == 200, r
    assert sorted(x["ROTPublicUID"] for x in r.json()["Notifications"]) == sorted(rots)


def test_tag_names_with_spaces_quotes_and_unicode_select(t):
    rots = t.seed_devices(2)
    add_event(t, rots[0], "DEVICE_ERROR", {"Error": "x"})
    name = "O'Brien  Zürich/line; " + random_name("")
    assert t.post("/tag/create", {"TagName": name}).status == 200
    assert t.post("/tag/assign", {"TagNames": [name.upper()], "ROTPublicUIDs": [rots[0]]}).status == 200
    r = t.post("/notification/get", {"FromDate": ago(hours=1), "TagNames": [name]})
    assert [x["ROTPublicUID"] for x in r.json()["Notifications"]] == [rots[0]]
    r = t.post("/device/suspicious/get", {"TagNames": [name.lower()]})
    assert r.status == 200 and r.json()["TotalRecords"] == 0


def test_notifications_page_by_number_and_token(t):
    rot = t.seed_devices(1)[0]
    psql(t.url, f"""
        INSERT INTO events (tenant_id, device_id, rot, type, payload, created_at)
        SELECT {t.id}, d.id, d.rot, 'DEVICE_INFO_CHANGE', jsonb_build_object('N', g),
               now() - interval '1 day' + g * interval '1 second'
        FROM devices d, generate_series(1, 250) g WHERE d.rot = '{rot}'""")
    q = {"FromDate": ago(days=2), "ROTPublicUIDs": [rot]}
    p1 = t.post("/notification/get", q).json()
    assert p1["TotalRecords"] == 250 and [x["N"] for x in p1["Notifications"]] == list(range(1, 101))
    p2 = t.post("/notification/get", {**q, "PageNumber": 2}).json()
    assert [x["N"] for x in p2["Notifications"]] == list(range(101, 201))
    p2t = t.post("/notification/get", {**q, "NextPageToken": p1["NextPageToken"]}).json()
    assert p2t["Notifications"] == p2["Notifications"] and p2t["PageNumber"] == 2
    p3 = t.post("/notification/get", {**q, "NextPageToken": p2t["NextPageToken"]}).json()
    assert [x["N"] for x in p3["Notifications"]] == list(range(201, 251)) and "NextPageToken" not in p3
    assert t.post("/notification/get", {**q, "PageNumber": 4}).json()["Notifications"] == []
    assert_json_error(t.post("/notification/get", {**q, "NextPageToken": "2.x.1"}), 400,
                      "Bad Request. Invalid NextPageToken")


@pytest.mark.parametrize("bad", BAD_DATES)
def test_notifications_refuse_bad_dates(t, bad):
    rot = "0000200456789544"
    assert_json_error(t.post("/notification/get", {"FromDate": bad, "ROTPublicUIDs": [rot]}), 400,
                      prefix="Bad Request. FromDate must be an ISO 8601 date")
    assert_json_error(t.post("/notification/get", {"FromDate": ago(days=1), "ToDate": bad,
                                                   "ROTPublicUIDs": [rot]}), 400,
                      prefix="Bad Request. ToDate must be an ISO 8601 date")


@pytest.mark.parametrize("body,message", [
    ({"ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"FromDate": "FROM"}, "Bad Request. ROTPublicUIDs or TagNames is required"),
    ({"FromDate": "FROM", "ROTPublicUIDs": [], "TagNames": []}, "Bad Request. ROTPublicUIDs or TagNames is required"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "TagNames": ["a"]},
     "Bad Request. Give only one of ROTPublicUIDs and TagNames"),
    ({"FromDate": "OLD", "ROTPublicUIDs": ["0000200456789544"]}, "Bad Request. FromDate can be at most 180 days ago"),
    ({"FromDate": "FROM", "ToDate": "OLDER", "ROTPublicUIDs": ["0000200456789544"]},
     "Bad Request. FromDate is after ToDate"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "NotificationType": "DEVICE_BOOTSTRAP_EVENT"},
     None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["000020045678954Z"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["00002004567895"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["00002004567895441"]}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": "0000200456789544"}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": [1]}, None),
    ({"FromDate": 20200201, "ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "PageNumber": "1"}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "PageNumber": 0}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "DeviceProfileUID": "x"}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["%016X" % i for i in range(10001)]}, None),
    ({"FromDate": "FROM", "TagNames": ["t%d" % i for i in range(101)]}, None),
])
def test_notifications_refuse_bad_bodies(t, body, message):
    body = dict(body)
    for k, v in list(body.items()):
        body[k] = {"FROM": ago(days=1), "OLD": ago(days=181), "OLDER": ago(days=2)}.get(v, v) \
            if isinstance(v, str) else v
    r = t.post("/notification/get", body)
    b = assert_json_error(r, 400, message)
    if "NotificationType" in body:
        assert "NotificationType" in b["message"]


def test_notifications_180_days_is_the_limit(t):
    rot = t.seed_devices(1)[0]
    r = t.post("/notification/get", {"FromDate": ago(days=179, hours=23), "ROTPublicUIDs": [rot]})
    assert r.status == 200, r


def test_notifications_of_another_tenant_are_not_found(t, other):
    theirs = other.seed_devices(1)
    add_event(other, theirs[0], "DEVICE_ERROR", {"Error": "secret"})
    their_tag = new_tag(other, {"ROTPublicUIDs": theirs})
    for sel in ({"ROTPublicUIDs": theirs}, {"TagNames": [their_tag]}):
        r = t.post("/notification/get", {"FromDate": ago(days=1), **sel})
        assert r.status == 200, r
        assert r.json()["TotalRecords"] == 0 and r.json()["Notifications"] == []
    r = other.post("/notification/get", {"FromDate": ago(days=1), "ROTPublicUIDs": theirs})
    assert r.json()["TotalRecords"] == 1


# ---------------------------------------------------------- /device/activity/get


def test_activity_with_last_seen(t):
    rot = t.seed_devices(1)[0]
    add_activity(t, rot, "p-1", "SET_PROPERTIES", "SUCCESS", {"Properties": {"LocalDPR": True}},
                 "now() - interval '2 hours'")
    add_activity(t, rot, "p-2", "SET_PROPERTIES", "FAILURE", {"Error": "denied"}, "now() - interval '1 hour'")
    r = t.post("/device/activity/get", {"FromDate": ago(days=1), "ROTPublicUID": rot.lower()})
    assert r.status == 200, r
    b = r.json()
    assert b["LastSeen"] is None
    assert b["TotalRecords"] == 2 and b["PageSize"] == 100 and b["PageNumber"] == 1
    a = b["Activities"]
    assert [(x["Id"], x["Command"], x["Status"]) for x in a] == [
        ("p-1", "SET_PROPERTIES", "SUCCESS"), ("p-2", "SET_PROPERTIES", "FAILURE")]
    assert a[0]["Properties"] == {"LocalDPR": True} and a[1]["Error"] == "denied"
    assert TS.fullmatch(a[0]["Timestamp"])
    psql(t.url, f"UPDATE devices SET last_seen = '2026-03-02T07:40:19Z' WHERE rot = '{rot}'")
    r = t.post("/device/activity/get", {"FromDate": ago(minutes=90), "ROTPublicUID": rot, "PageNumber": 1})
    assert r.json()["LastSeen"] == "2026-03-02T07:40:19Z"
    assert [x["Id"] for x in r.json()["Activities"]] == ["p-2"]


def test_activity_pages(t):
    rot = t.seed_devices(1)[0]
    psql(t.url, f"""
        INSERT INTO device_activity (tenant_id, device_id, command_id, command, status, created_at)
        SELECT {t.id}, d.id, 'p-' || g, 'SET_PROPERTIES', 'SUCCESS', now() - interval '1 day' + g * interval '1 second'
        FROM devices d, generate_series(1, 130) g WHERE d.rot = '{rot}'""")
    q = {"FromDate": ago(days=2), "ROTPublicUID": rot}
    p1 = t.post("/device/activity/get", q).json()
    assert p1["TotalRecords"] == 130 and len(p1["Activities"]) == 100
    p2 = t.post("/device/activity/get", {**q, "NextPageToken": p1["NextPageToken"]}).json()
    assert [x["Id"] for x in p2["Activities"]] == ["p-%d" % i for i in range(101, 131)]
    assert t.post("/device/activity/get", {**q, "PageNumber": 2}).json()["Activities"] == p2["Activities"]


@pytest.mark.parametrize("body,message", [
    ({"FromDate": "FROM"}, None),
    ({"ROTPublicUID": "0000200456789544"}, None),
    ({"FromDate": "FROM", "ROTPublicUID": "0000200456789544"}, "Bad Request. Invalid ROTPublicUID"),
    ({"FromDate": "FROM", "ROTPublicUID": "nothex"}, "Bad Request. Invalid ROTPublicUID"),
    ({"FromDate": "FROM", "ROTPublicUID": ["0000200456789544"]}, None),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"FromDate": "2020-02-01", "ROTPublicUID": "0000200456789544"},
     "Bad Request. FromDate must be an ISO 8601 date and time with a time zone (2020-02-01T00:00:00+00:00)"),
    ({"FromDate": "FROM", "ToDate": "OLDER", "ROTPublicUID": "0000200456789544"},
     "Bad Request. FromDate is after ToDate"),
])
def test_activity_refuses_bad_bodies(t, body, message):
    body = {k: ({"FROM": ago(days=1), "OLDER": ago(days=2)}.get(v, v) if isinstance(v, str) else v)
            for k, v in body.items()}
    assert_json_error(t.post("/device/activity/get", body), 400, message)


def test_activity_of_another_tenants_device_is_not_found(t, other):
    theirs = other.seed_devices(1)[0]
    add_activity(other, theirs, "p-9", "SET_PROPERTIES", "SUCCESS")
    assert_json_error(t.post("/device/activity/get", {"FromDate": ago(days=1), "ROTPublicUID": theirs}),
                      400, "Bad Request. Invalid ROTPublicUID")
    assert other.post("/device/activity/get", {"FromDate": ago(days=1), "ROTPublicUID": theirs}
                      ).json()["TotalRecords"] == 1


# ---------------------------------------------------------- /device/usage/get


def test_usage_aggregated_per_device(stack):
    u = make_secsvc_tenant(stack)
    rots = u.seed_devices(3)
    add_usage(u, rots[0], 1, "LocalDPR", 2)
    add_usage(u, rots[0], 2, "LocalDPR", 3)
    add_usage(u, rots[0], 2, "ZTPV1", 1)
    add_usage(u, rots[1], 0, "LocalC2C", 7)
    add_usage(u, rots[1], 59, "LocalC2C", 100)
    r = u.post("/device/usage/get", {"FromDate": day(10)})
    assert r.status == 200, r
    assert r.json() == {rots[0]: {"LocalDPR": 5, "ZTPV1": 1}, rots[1]: {"LocalC2C": 7}}
    assert "x-next-page-token" not in r.headers
    r = u.post("/device/usage/get", {"FromDate": day(60), "ToDate": day(1), "ROTPublicUIDs": [rots[1].lower()]})
    assert r.json() == {rots[1]: {"LocalC2C": 100}}
    r = u.post("/device/usage/get", {"FromDate": day(2), "ToDate": day(2), "ROTPublicUIDs": rots})
    assert r.json() == {rots[0]: {"LocalDPR": 3, "ZTPV1": 1}}
    name = new_tag(u, {"ROTPublicUIDs": [rots[1], rots[2]]})
    r = u.post("/device/usage/get", {"FromDate": day(5), "TagNames": [name]})
    assert r.json() == {rots[1]: {"LocalC2C": 7}}


def test_usage_answers_at_most_1000_devices(stack):
    u = make_secsvc_tenant(stack)
    rots = u.seed_devices(1001)
    psql(u.url, f"""INSERT INTO device_usage (tenant_id, device_id, day, event, count)
                    SELECT tenant_id, id, current_date, 'LocalDPR', 1 FROM devices WHERE tenant_id = {u.id}""")
    r = u.post("/device/usage/get", {"FromDate": day(0)})
    assert r.status == 200, r
    first = r.json()
    assert len(first) == 1000
    token = r.headers.get("x-next-page-token")
    assert token
    r = u.post("/device/usage/get", {"FromDate": day(0), "NextPageToken": token})
    rest = r.json()
    assert len(rest) == 1 and not set(rest) & set(first)
    assert sorted(set(first) | set(rest)) == sorted(rots)


@pytest.mark.parametrize("body,message", [
    ({}, None),
    ({"FromDate": "2026-01-01T00:00:00Z"}, "Bad Request. FromDate must be a date yyyy-mm-dd"),
    ({"FromDate": "01/02/2026"}, "Bad Request. FromDate must be a date yyyy-mm-dd"),
    ({"FromDate": "DAY61"}, "Bad Request. FromDate can be at most 60 days ago"),
    ({"FromDate": "DAY1", "ToDate": "DAY2"}, "Bad Request. FromDate is after ToDate"),
    ({"FromDate": "DAY1", "ToDate": "2026-02-30"}, "Bad Request. ToDate must be a date yyyy-mm-dd"),
    ({"FromDate": "DAY1", "ROTPublicUIDs": ["0000200456789544"], "TagNames": ["a"]},
     "Bad Request. Give only one of ROTPublicUIDs and TagNames"),
    ({"FromDate": "DAY1", "ROTPublicUIDs": ["xyz0200456789544"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"FromDate": "DAY1", "DeviceProfileUID": "abc"}, None),
    ({"FromDate": "DAY1", "PageNumber": 1}, None),
    ({"FromDate": "DAY1", "NextPageToken": "bad"}, "Bad Request. Invalid NextPageToken"),
    ({"FromDate": 1}, None),
])
def test_usage_refuses_bad_bodies(t, body, message):
    body = {k: ({"DAY61": day(61), "DAY1": day(1), "DAY2": day(2)}.get(v, v) if isinstance(v, str) else v)
            for k, v in body.items()}
    assert_json_error(t.post("/device/usage/get", body), 400, message)


def test_usage_60_days_is_the_limit(t):
    assert t.post("/device/usage/get", {"FromDate": day(60)}).status == 200


def test_usage_of_another_tenant_is_empty(t, other):
    theirs = other.seed_devices(1)
    add_usage(other, theirs[0], 0, "LocalDPR", 4)
    their_tag = new_tag(other, {"ROTPublicUIDs": theirs})
    for sel in ({"ROTPublicUIDs": theirs}, {"TagNames": [their_tag]}, {}):
        r = t.post("/device/usage/get", {"FromDate": day(1), **sel})
        assert r.status == 200, r
        assert theirs[0] not in r.json()
    assert other.post("/device/usage/get", {"FromDate": day(1)}).json() == {theirs[0]: {"LocalDPR": 4}}


# ---------------------------------------------------------- /device/clone/get


def test_clones_by_rot_profile_and_tag(t):
    uid = t.profile()
    in_prof = t.seed_devices(2, profile=uid)
    loose = t.seed_devices(1)
    add_clone(t, in_prof[0], 5, 9, "192.0.2.7", "now() - interval '2 hours'")
    add_clone(t, in_prof[1], 3, 3, None, "now() - interval '1 hour'")
    add_clone(t, loose[0], 1, 2)
    r = t.post("/device/clone/get", {"FromDate": ago(days=1), "DeviceProfileUID": uid})
    assert r.status == 200, r
    b = r.json()
    assert b["TotalRecords"] == 2 and b["PageSize"] == 100
    c = b["ClonedEvents"]
    assert [x["ROTPublicUID"] for x in c] == in_prof
    assert c[0]["Reason"] == "COUNTER_REPLAY" and c[0]["Counter"] == 5 and c[0]["LastCounter"] == 9
    assert c[0]["Peer"] == "192.0.2.7" and "Peer" not in c[1] and TS.fullmatch(c[0]["Timestamp"])
    r = t.post("/device/clone/get", {"FromDate": ago(days=1), "ROTPublicUIDs": loose})
    assert [x["ROTPublicUID"] for x in r.json()["ClonedEvents"]] == loose
    name = new_tag(t, {"ROTPublicUIDs": [in_prof[1], loose[0]]})
    r = t.post("/device/clone/get", {"FromDate": ago(days=1), "TagNames": [name]})
    assert sorted(x["ROTPublicUID"] for x in r.json()["ClonedEvents"]) == sorted([in_prof[1], loose[0]])
    r = t.post("/device/clone/get", {"FromDate": ago(minutes=90), "ToDate": ago(minutes=30), "DeviceProfileUID": uid})
    assert [x["ROTPublicUID"] for x in r.json()["ClonedEvents"]] == [in_prof[1]]


def test_clones_of_unattributed_devices(stack):
    u = make_secsvc_tenant(stack)
    uid = u.profile()
    loose = u.seed_devices(1)
    prof = u.seed_devices(1, profile=uid)
    add_clone(u, loose[0], 1, 1)
    add_clone(u, prof[0], 1, 1)
    r = u.post("/device/clone/get", {"FromDate": ago(days=1), "DeviceProfileUID": "UNATTRIBUTED DEVICE PROFILE"})
    assert [x["ROTPublicUID"] for x in r.json()["ClonedEvents"]] == loose


@pytest.mark.parametrize("body,message", [
    ({"ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"FromDate": "FROM"}, "Bad Request. ROTPublicUIDs, TagNames or DeviceProfileUID is required"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "DeviceProfileUID": "abc"},
     "Bad Request. Give only one of ROTPublicUIDs and DeviceProfileUID"),
    ({"FromDate": "FROM", "TagNames": ["a"], "DeviceProfileUID": "abc"},
     "Bad Request. Give only one of TagNames and DeviceProfileUID"),
    ({"FromDate": "FROM", "ROTPublicUIDs": ["0000200456789544"], "TagNames": ["a"], "DeviceProfileUID": "abc"},
     "Bad Request. Give only one of ROTPublicUIDs, TagNames and DeviceProfileUID"),
    ({"FromDate": "FROM", "DeviceProfileUID": ""}, "Bad Request. Invalid DeviceProfileUID"),
    ({"FromDate": "FROM", "DeviceProfileUID": ["abc"]}, None),
    ({"FromDate": "2020-02-01", "DeviceProfileUID": "abc"}, None),
    ({"FromDate": "FROM", "ToDate": "OLDER", "DeviceProfileUID": "abc"}, "Bad Request. FromDate is after ToDate"),
    ({"FromDate": "FROM", "DeviceProfileUID": "abc", "NotificationType": "DEVICE_ERROR"}, None),
])
def test_clones_refuse_bad_bodies(t, body, message):
    body = {k: ({"FROM": ago(days=1), "OLDER": ago(days=2)}.get(v, v) if isinstance(v, str) else v)
            for k, v in body.items()}
    assert_json_error(t.post("/device/clone/get", body), 400, message)


def test_clones_of_another_tenant_are_not_found(t, other):
    uid = other.profile()
    theirs = other.seed_devices(1, profile=uid)
    add_clone(other, theirs[0], 1, 4)
    their_tag = new_tag(other, {"ROTPublicUIDs": theirs})
    for sel in ({"ROTPublicUIDs": theirs}, {"TagNames": [their_tag]}, {"DeviceProfileUID": uid}):
        r = t.post("/device/clone/get", {"FromDate": ago(days=1), **sel})
        assert r.status == 200 and r.json()["TotalRecords"] == 0 and r.json()["ClonedEvents"] == [], r
    assert other.post("/device/clone/get", {"FromDate": ago(days=1), "DeviceProfileUID": uid}
                      ).json()["TotalRecords"] == 1


# ---------------------------------------------------------- /device/suspicious/get


def reasons(answer):
    return sorted((x["ROTPublicUID"], x["Reason"]) for x in answer["SuspiciousDevices"])


def test_suspicious_the_four_reasons(stack):
    u = make_secsvc_tenant(stack)
    uid = u.profile()
    sealed_dup = u.seed_devices(2, profile=uid, serial="DUPSEALED1")
    scl = u.seed_devices(2, profile=uid)
    psql(u.url, f"UPDATE devices SET scl_serial = 'SCL-7' WHERE rot IN ('{scl[0]}', '{scl[1]}')")
    logged = u.seed_devices(2, profile=uid)
    clean = u.seed_devices(1, profile=uid)
    add_prod_log(u, [(logged[0], "PLSER", "PLSCL"), (logged[1].lower(), "PLSER", None),
                     ("00000000000000AA", None, "PLSCL"), (clean[0], "UNIQUE", "UNIQUESCL"),
                     (clean[0], "UNIQUE", None)])
    r = u.post("/device/suspicious/get", {"DeviceProfileUID": uid})
    assert r.status == 200, r
    b = r.json()
    assert b["PageNumber"] == 1 and b["PageSize"] == 100 and b["TotalRecords"] == 7
    assert reasons(b) == sorted(
        [(x, "DUPLICATED_DEV_SERIAL_NUM_SEALING") for x in sealed_dup]
        + [(x, "DUPLICATED_SCL_SERIAL_NUM_SEALED_INFO") for x in scl]
        + [(x, "DUPLICATED_DEV_SERIAL_NUM_PROD_LOG") for x in logged]
        + [(logged[0], "DUPLICATED_SCL_SERIAL_NUM_PROD_LOG")])
    item = next(x for x in b["SuspiciousDevices"] if x["ROTPublicUID"] == sealed_dup[0])
    assert item["DeviceSerialNumber"] == "DUPSEALED1" and item["DuplicatedValue"] == "DUPSEALED1"
    assert item["DuplicatedCount"] == 1
    item = next(x for x in b["SuspiciousDevices"] if x["ROTPublicUID"] == scl[0])
    assert item["SCLSerialNumber"] == "SCL-7"
    # by ROT and by tag
    r = u.post("/device/suspicious/get", {"ROTPublicUIDs": [clean[0], sealed_dup[1].lower()]})
    assert reasons(r.json()) == [(sealed_dup[1], "DUPLICATED_DEV_SERIAL_NUM_SEALING")]
    name = new_tag(u, {"DeviceProfileUIDs": [uid]})
    assert reasons(u.post("/device/suspicious/get", {"TagNames": [name]}).json()) == reasons(b)


def test_suspicious_pages(stack):
    u = make_secsvc_tenant(stack)
    uid = u.profile()
    u.seed_devices(150, profile=uid, serial="SAMESERIAL")
    p1 = u.post("/device/suspicious/get", {"DeviceProfileUID": uid}).json()
    assert p1["TotalRecords"] == 150 and len(p1["SuspiciousDevices"]) == 100
    p2 = u.post("/device/suspicious/get", {"DeviceProfileUID": uid, "NextPageToken": p1["NextPageToken"]}).json()
    p2n = u.post("/device/suspicious/get", {"DeviceProfileUID": uid, "PageNumber": 2}).json()
    assert p2["SuspiciousDevices"] == p2n["SuspiciousDevices"] and len(p2["SuspiciousDevices"]) == 50
    assert p2["SuspiciousDevices"][0]["DuplicatedCount"] == 149
    seen = [x["ROTPublicUID"] for x in p1["SuspiciousDevices"] + p2["SuspiciousDevices"]]
    assert len(set(seen)) == 150


@pytest.mark.parametrize("body,message", [
    ({}, "Bad Request. ROTPublicUIDs, TagNames or DeviceProfileUID is required"),
    ({"ROTPublicUIDs": ["0000200456789544"], "TagNames": ["x"]},
     "Bad Request. Give only one of ROTPublicUIDs and TagNames"),
    ({"ROTPublicUIDs": ["0000200456789544"], "FromDate": "2026-01-01T00:00:00Z"}, None),
    ({"ROTPublicUIDs": ["12"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"TagNames": ["a|b"]}, "Bad Request. Invalid TagNames"),
    ({"DeviceProfileUID": 5}, None),
    ({"ROTPublicUIDs": ["0000200456789544"], "PageNumber": -3}, None),
    ({"ROTPublicUIDs": ["%016X" % i for i in range(10001)]}, None),
])
def test_suspicious_refuses_bad_bodies(t, body, message):
    assert_json_error(t.post("/device/suspicious/get", body), 400, message)


def test_suspicious_ignores_other_tenants(stack):
    a, b = make_secsvc_tenant(stack), make_secsvc_tenant(stack)
    mine = a.seed_devices(1, serial="CROSSTENANT")
    theirs = b.seed_devices(2, serial="CROSSTENANT")
    add_prod_log(b, [(theirs[0], "X1", None), (mine[0], "X1", None)])
    # one serial in two tenants is not a duplicate of either
    assert a.post("/device/suspicious/get", {"ROTPublicUIDs": mine}).json()["TotalRecords"] == 0
    # tenant B's devices through A's token: nothing
    r = a.post("/device/suspicious/get", {"ROTPublicUIDs": theirs})
    assert r.status == 200 and r.json()["SuspiciousDevices"] == []
    # B's production log names A's ROT: for B that is another ROT with X1
    assert reasons(b.post("/device/suspicious/get", {"ROTPublicUIDs": theirs}).json()) == sorted(
        [(x, "DUPLICATED_DEV_SERIAL_NUM_SEALING") for x in theirs]
        + [(theirs[0], "DUPLICATED_DEV_SERIAL_NUM_PROD_LOG")])
