"""Tags of the security-services dialect (issue 8): /tag/create, /tag/delete,
/tag/get, /tag/assign and /tag/remove -- the spec's name rules, case-insensitive
uniqueness per tenant, delete refused while assigned, all-or-nothing assignment
to ROTPublicUIDs or DeviceProfileUIDs (a profile's tag reaches its devices),
the {*} wildcards of removal, and tenant isolation."""

import concurrent.futures
import re

import pytest

from helpers import assert_json_error, psql, random_name
from secsvc_helpers import make_secsvc_tenant

ASSIGNED = "Request aborted. This tag is currently assigned to ROTPublicUID(s)"
FORBIDDEN = "^`~<>\"{}|\\,"


@pytest.fixture(scope="module")
def t(stack):
    return make_secsvc_tenant(stack)


@pytest.fixture(scope="module")
def other(stack):
    return make_secsvc_tenant(stack)


def tag(t, name=None):
    name = name or random_name("tag")
    r = t.post("/tag/create", {"TagName": name})
    assert r.status == 200, r
    return name


def tag_id(t, name):
    return psql(t.url, f"SELECT id FROM tags WHERE tenant_id = {t.id} AND name_key = lower('{name}')")


def device_tags(t, name):
    """The ROTs tag 'name' reaches (directly or through a profile)."""
    out = psql(t.url, f"""
        SELECT d.rot FROM tag_devices td JOIN devices d ON d.id = td.device_id
        JOIN tags g ON g.id = td.tag_id
        WHERE g.tenant_id = {t.id} AND g.name_key = lower('{name}') ORDER BY d.rot""")
    return out.splitlines() if out else []


def direct_count(t, name):
    return int(psql(t.url, f"""
        SELECT (SELECT count(*) FROM device_tags x JOIN tags g ON g.id = x.tag_id
                WHERE g.tenant_id = {t.id} AND g.name_key = lower('{name}'))
             + (SELECT count(*) FROM profile_tags x JOIN tags g ON g.id = x.tag_id
                WHERE g.tenant_id = {t.id} AND g.name_key = lower('{name}'))"""))


# ---------------------------------------------------------------- create


def test_create_answers_the_tag(t):
    name = random_name("downtown")
    r = t.post("/tag/create", {"TagName": name})
    assert r.status == 200, r
    body = r.json()
    assert body["TagName"] == name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["CreatedAt"]), body
    assert tag_id(t, name)


@pytest.mark.parametrize("ch", list(FORBIDDEN))
def test_create_refuses_each_forbidden_character(t, ch):
    name = "bad" + ch + random_name("x")
    r = t.post("/tag/create", {"TagName": name})
    body = assert_json_error(r, 400, prefix="Bad Request. TagName must not contain")
    assert ch in body["message"]
    assert psql(t.url, f"SELECT count(*) FROM tags WHERE tenant_id = {t.id} AND name LIKE 'bad%'") == "0"


def test_create_allows_other_symbols_and_unicode(t):
    for name in ("a b-c_d.e/f:g;h!@#$%&*()+=[]?'" + random_name(""), "Zürich ☃ " + random_name("")):
        r = t.post("/tag/create", {"TagName": name})
        assert r.status == 200, (name, r)
        assert r.json()["TagName"] == name


def test_create_255_characters_but_not_256(t):
    ok = ("L" + random_name("")).ljust(255, "x")
    assert len(ok) == 255
    assert t.post("/tag/create", {"TagName": ok}).status == 200
    too_long = ok + "y"
    assert_json_error(t.post("/tag/create", {"TagName": too_long}), 400,
                      "Bad Request. TagName can only be 255 characters long")
    # 255 characters of 4 bytes each are still 255 characters
    assert t.post("/tag/create", {"TagName": "🚀" * 245 + random_name("")}).status == 200


def test_create_is_case_insensitive_and_unique_per_tenant(t, other):
    name = random_name("Case")
    tag(t, name)
    for variant in (name, name.upper(), name.lower()):
        assert_json_error(t.post("/tag/create", {"TagName": variant}), 400,
                          prefix="Bad Request. TagName already exists")
    assert psql(t.url, f"SELECT count(*) FROM tags WHERE name_key = lower('{name}')") == "1"
    # another tenant has its own names
    tag(other, name.upper())


@pytest.mark.parametrize("body", [
    {"TagName": 5}, {"TagName": None}, {"TagName": ["a"]}, {}, {"TagName": "a", "Extra": 1},
    {"tagname": "a"}, [],
])
def test_create_refuses_bad_bodies(t, body):
    assert_json_error(t.post("/tag/create", body), 400)


def test_create_refuses_empty_name_and_no_token(t, stack):
    assert_json_error(t.post("/tag/create", {"TagName": ""}), 400,
                      "Bad Request. TagName must not be empty")
    r = stack.client.post("/tag/create", {"TagName": random_name("t")})
    assert r.status == 401, r
    r = stack.client.post("/tag/create", {"TagName": random_name("t")}, token="not-a-token")
    assert r.status == 401, r


# ---------------------------------------------------------------- delete


def test_delete_any_case(t):
    name = tag(t, random_name("Del"))
    r = t.post("/tag/delete", {"TagName": name.upper()})
    assert r.status == 200, r
    assert r.json() == {"message": "Tag deleted successfully."}
    assert not tag_id(t, name)
    assert_json_error(t.post("/tag/delete", {"TagName": name}), 400, "Bad Request. Invalid TagName")


def test_delete_refused_while_assigned_to_a_device_or_a_profile(t):
    rots = t.seed_devices(2)
    name = tag(t)
    assert t.post("/tag/assign", {"TagNames": [name], "ROTPublicUIDs": rots}).status == 200
    assert_json_error(t.post("/tag/delete", {"TagName": name}), 400, ASSIGNED)
    assert tag_id(t, name)
    assert t.post("/tag/remove", {"TagNames": [name], "ROTPublicUIDs": rots}).status == 200
    uid = t.profile()
    assert t.post("/tag/assign", {"TagNames": [name], "DeviceProfileUIDs": [uid]}).status == 200
    assert_json_error(t.post("/tag/delete", {"TagName": name}), 400, ASSIGNED)
    assert t.post("/tag/remove", {"TagNames": ["{*}"], "DeviceProfileUIDs": [uid]}).status == 200
    assert t.post("/tag/delete", {"TagName": name}).status == 200
    assert not tag_id(t, name)


def test_delete_racing_assign_one_wins(t):
    """An assignment and a deletion of one tag at once: exactly one of them
    succeeds, the other is refused in the spec's words (never a 500), and
    what is left agrees with the winner."""
    rots = t.seed_devices(200)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for _ in range(12):
            name = tag(t)
            fa = ex.submit(t.post, "/tag/assign", {"TagNames": [name], "ROTPublicUIDs": rots})
            fd = ex.submit(t.post, "/tag/delete", {"TagName": name})
            ra, rd = fa.result(), fd.result()
            if rd.status == 200:
                assert_json_error(ra, 400, "Bad Request. Invalid TagNames")
                assert not tag_id(t, name)
            else:
                assert ra.status == 200, ra
                assert_json_error(rd, 400, ASSIGNED)
                assert direct_count(t, name) == 200


def test_delete_refuses_bad_bodies(t):
    for body in ({}, {"TagName": 1}, {"TagName": "a", "TagNames": ["a"]}):
        assert_json_error(t.post("/tag/delete", body), 400)
    assert_json_error(t.post("/tag/delete", {"TagName": "a,b"}), 400, "Bad Request. Invalid TagName")


# ---------------------------------------------------------------- get


def test_get_pages_by_number_and_token(stack):
    u = make_secsvc_tenant(stack)
    psql(u.url, f"INSERT INTO tags (tenant_id, name) SELECT {u.id}, 'T' || lpad(g::text, 4, '0') "
                "FROM generate_series(1, 205) g")
    r = u.post("/tag/get", {})
    assert r.status == 200, r
    p1 = r.json()
    assert p1["PageNumber"] == 1 and p1["PageSize"] == 100 and p1["TotalRecords"] == 205
    assert [x["TagName"] for x in p1["Tags"]] == ["T%04d" % i for i in range(1, 101)]
    assert set(p1["Tags"][0]) == {"TagName", "CreatedAt"}
    # no body at all is page 1 too
    assert u.post("/tag/get").json()["Tags"] == p1["Tags"]
    p2 = u.post("/tag/get", {"PageNumber": 2}).json()
    assert [x["TagName"] for x in p2["Tags"]] == ["T%04d" % i for i in range(101, 201)]
    by_token = u.post("/tag/get", {"NextPageToken": p1["NextPageToken"]}).json()
    assert by_token["Tags"] == p2["Tags"] and by_token["PageNumber"] == 2
    p3 = u.post("/tag/get", {"NextPageToken": by_token["NextPageToken"], "PageNumber": 3}).json()
    assert [x["TagName"] for x in p3["Tags"]] == ["T%04d" % i for i in range(201, 206)]
    assert "NextPageToken" not in p3
    assert u.post("/tag/get", {"PageNumber": 9}).json()["Tags"] == []
    assert_json_error(u.post("/tag/get", {"NextPageToken": p1["NextPageToken"], "PageNumber": 5}), 400,
                      "Bad Request. PageNumber does not match NextPageToken")


@pytest.mark.parametrize("body", [
    {"PageNumber": 0}, {"PageNumber": -1}, {"PageNumber": "1"}, {"PageNumber": 1.5},
    {"NextPageToken": "garbage"}, {"NextPageToken": 7}, {"Page": 1},
])
def test_get_refuses_bad_bodies(t, body):
    assert_json_error(t.post("/tag/get", body), 400)


def test_get_lists_only_own_tags(t, other):
    mine = tag(t, random_name("mine"))
    theirs = tag(other, random_name("theirs"))

    def names(x):
        out, page = [], 1
        while True:
            b = x.post("/tag/get", {"PageNumber": page}).json()
            out += [i["TagName"] for i in b["Tags"]]
            if len(b["Tags"]) < 100:
                return out
            page += 1
    assert mine in names(t) and theirs not in names(t)
    assert theirs in names(other) and mine not in names(other)


# ---------------------------------------------------------------- assign


def test_assign_every_tag_to_every_rot(t):
    rots = t.seed_devices(3)
    a, b = tag(t), tag(t)
    r = t.post("/tag/assign", {"TagNames": [a, b.upper()], "ROTPublicUIDs": [x.lower() for x in rots],
                               "SyncRequired": True})
    assert r.status == 200, r
    assert r.json()["Assigned"] == 6
    assert device_tags(t, a) == sorted(rots) and device_tags(t, b) == sorted(rots)
    # again: nothing new, still fine
    r = t.post("/tag/assign", {"TagNames": [a], "ROTPublicUIDs": rots})
    assert r.status == 200 and r.json()["Assigned"] == 0


def test_assign_to_a_profile_reaches_its_devices(t):
    uid = t.profile()
    rots = t.seed_devices(4, profile=uid)
    outside = t.seed_devices(1)
    name = tag(t)
    r = t.post("/tag/assign", {"TagNames": [name], "DeviceProfileUIDs": [uid]})
    assert r.status == 200 and r.json()["Assigned"] == 1, r
    assert device_tags(t, name) == sorted(rots)
    assert outside[0] not in device_tags(t, name)
    # a device sealed into the profile later is reached too
    later = t.seed_devices(1, profile=uid)
    assert later[0] in device_tags(t, name)


def test_assign_is_all_or_nothing(t):
    rots = t.seed_devices(2)
    name = tag(t)
    unknown = "00000000DEADBEEF"
    assert_json_error(t.post("/tag/assign", {"TagNames": [name], "ROTPublicUIDs": rots + [unknown]}),
                      400, "Bad Request. Invalid ROTPublicUIDs")
    assert_json_error(t.post("/tag/assign", {"TagNames": [name, random_name("nosuch")],
                                             "ROTPublicUIDs": rots}),
                      400, "Bad Request. Invalid TagNames")
    assert_json_error(t.post("/tag/assign", {"TagNames": [name], "DeviceProfileUIDs": ["nosuchprofileuid000000"]}),
                      400, "Bad Request. Invalid DeviceProfileUIDs")
    assert direct_count(t, name) == 0


@pytest.mark.parametrize("body,message", [
    ({"ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"TagNames": [], "ROTPublicUIDs": ["0000200456789544"]}, "Bad Request. TagNames is required"),
    ({"TagNames": ["a"]}, "Bad Request. ROTPublicUIDs or DeviceProfileUIDs is required"),
    ({"TagNames": ["a"], "ROTPublicUIDs": [], "DeviceProfileUIDs": []},
     "Bad Request. ROTPublicUIDs or DeviceProfileUIDs is required"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["0000200456789544"], "DeviceProfileUIDs": ["abcdefabcdefabcdefabcd"]},
     "Bad Request. Give either ROTPublicUIDs or DeviceProfileUIDs, not both"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["000020045678954"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["000020045678954X"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["00002004567895441"]}, None),
    ({"TagNames": ["{*}"], "ROTPublicUIDs": ["0000200456789544"]}, "Bad Request. Invalid TagNames"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["{*}"]}, "Bad Request. Invalid ROTPublicUIDs"),
    ({"TagNames": ["a"], "DeviceProfileUIDs": ["bad uid!"]}, "Bad Request. Invalid DeviceProfileUIDs"),
    ({"TagNames": "a", "ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"TagNames": [1], "ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"TagNames": ["a"], "ROTPublicUIDs": "0000200456789544"}, None),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["0000200456789544"], "SyncRequired": "yes"}, None),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["0000200456789544"], "Tags": ["a"]}, None),
    ({"TagNames": ["t%d" % i for i in range(101)], "ROTPublicUIDs": ["0000200456789544"]}, None),
    ({"TagNames": ["a"], "DeviceProfileUIDs": ["p%021d" % i for i in range(1001)]}, None),
])
def test_assign_refuses_bad_bodies(t, body, message):
    assert_json_error(t.post("/tag/assign", body), 400, message)


def test_assign_counts_tags_times_targets(t):
    # 100 tags x 10,001 ROTs is above the 1,000,000 pairs one request may make
    rots = ["%016X" % (0xA000000000000000 + i) for i in range(10001)]
    body = {"TagNames": ["t%d" % i for i in range(100)], "ROTPublicUIDs": rots}
    assert_json_error(t.post("/tag/assign", body), 400,
                      "Bad Request. TagNames x ROTPublicUIDs is more than 1000000 assignments")


def test_assign_many_rots_in_one_request(t):
    """The most one request takes, 100,000 ROTs (~2 MB: nginx allows 4 MiB
    on this route), in one statement."""
    rots = t.seed_devices(100000)
    # the statistics a grown fleet has (autovacuum would take a minute):
    # plans cached while the table was tiny are made again
    psql(t.url, "ANALYZE devices")
    name = tag(t)
    r = t.post("/tag/assign", {"TagNames": [name], "ROTPublicUIDs": rots})
    assert r.status == 200, r
    assert r.json()["Assigned"] == 100000
    assert direct_count(t, name) == 100000
    r = t.post("/tag/remove", {"TagNames": [name], "ROTPublicUIDs": ["{*}"]})
    assert r.status == 200 and r.json()["Removed"] == 100000


# ---------------------------------------------------------------- remove


def test_remove_given_pairs_only(t):
    rots = t.seed_devices(3)
    a, b = tag(t), tag(t)
    t.post("/tag/assign", {"TagNames": [a, b], "ROTPublicUIDs": rots})
    r = t.post("/tag/remove", {"TagNames": [a], "ROTPublicUIDs": rots[:2]})
    assert r.status == 200 and r.json()["Removed"] == 2, r
    assert device_tags(t, a) == [rots[2]] and device_tags(t, b) == sorted(rots)
    # pairs that do not exist are ignored
    r = t.post("/tag/remove", {"TagNames": [a], "ROTPublicUIDs": rots[:2]})
    assert r.status == 200 and r.json()["Removed"] == 0
    # unknown names are refused and change nothing
    assert_json_error(t.post("/tag/remove", {"TagNames": [b], "ROTPublicUIDs": rots + ["00000000DEADBEEF"]}),
                      400, "Bad Request. Invalid ROTPublicUIDs")
    assert device_tags(t, b) == sorted(rots)


def test_remove_wildcards(t):
    uid = t.profile()
    prof_rots = t.seed_devices(2, profile=uid)
    rots = t.seed_devices(3)
    a, b, c = tag(t), tag(t), tag(t)
    t.post("/tag/assign", {"TagNames": [a, b, c], "ROTPublicUIDs": rots})
    t.post("/tag/assign", {"TagNames": [a, b], "DeviceProfileUIDs": [uid]})
    # every tag of one device
    r = t.post("/tag/remove", {"TagNames": ["{*}"], "ROTPublicUIDs": [rots[0].lower()]})
    assert r.status == 200 and r.json()["Removed"] == 3, r
    assert rots[0] not in device_tags(t, a) + device_tags(t, b) + device_tags(t, c)
    # one tag from every device: the profile keeps it
    r = t.post("/tag/remove", {"TagNames": [a], "ROTPublicUIDs": ["{*}"]})
    assert r.status == 200 and r.json()["Removed"] == 2, r
    assert device_tags(t, a) == sorted(prof_rots)
    # one tag from every profile
    r = t.post("/tag/remove", {"TagNames": [a], "DeviceProfileUIDs": ["{*}"]})
    assert r.status == 200 and r.json()["Removed"] == 1, r
    assert device_tags(t, a) == []
    # every tag of a profile
    r = t.post("/tag/remove", {"TagNames": ["{*}"], "DeviceProfileUIDs": [uid]})
    assert r.status == 200 and r.json()["Removed"] == 1, r
    assert device_tags(t, b) == sorted(rots[1:])
    assert device_tags(t, c) == sorted(rots[1:])


@pytest.mark.parametrize("body,message", [
    ({"TagNames": ["{*}"], "ROTPublicUIDs": ["{*}"]}, "Bad Request. TagNames and ROTPublicUIDs cannot both be {*}"),
    ({"TagNames": ["{*}"], "DeviceProfileUIDs": ["{*}"]},
     "Bad Request. TagNames and DeviceProfileUIDs cannot both be {*}"),
    ({"TagNames": ["{*}", "a"], "ROTPublicUIDs": ["0000200456789544"]},
     "Bad Request. {*} must be the only element of TagNames"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["{*}", "0000200456789544"]},
     "Bad Request. {*} must be the only element of ROTPublicUIDs"),
    ({"TagNames": ["{*}"]}, "Bad Request. ROTPublicUIDs or DeviceProfileUIDs is required"),
    ({"TagNames": ["a"], "ROTPublicUIDs": ["{*}"], "DeviceProfileUIDs": ["{*}"]},
     "Bad Request. Give either ROTPublicUIDs or DeviceProfileUIDs, not both"),
    ({"ROTPublicUIDs": ["{*}"]}, None),
    ({"TagNames": ["a"], "ROTPublicUIDs": [7]}, None),
])
def test_remove_refuses_bad_bodies(t, body, message):
    assert_json_error(t.post("/tag/remove", body), 400, message)


# ---------------------------------------------------------------- isolation


def test_other_tenants_things_are_invalid_here(t, other):
    mine_rots = t.seed_devices(1)
    their_rots = other.seed_devices(2)
    their_uid = other.profile()
    mine, theirs = tag(t), tag(other)
    other.post("/tag/assign", {"TagNames": [theirs], "ROTPublicUIDs": their_rots})
    assert_json_error(t.post("/tag/assign", {"TagNames": [mine], "ROTPublicUIDs": their_rots}),
                      400, "Bad Request. Invalid ROTPublicUIDs")
    assert_json_error(t.post("/tag/assign", {"TagNames": [mine], "DeviceProfileUIDs": [their_uid]}),
                      400, "Bad Request. Invalid DeviceProfileUIDs")
    assert_json_error(t.post("/tag/assign", {"TagNames": [theirs], "ROTPublicUIDs": mine_rots}),
                      400, "Bad Request. Invalid TagNames")
    assert_json_error(t.post("/tag/remove", {"TagNames": [theirs], "ROTPublicUIDs": ["{*}"]}),
                      400, "Bad Request. Invalid TagNames")
    assert_json_error(t.post("/tag/remove", {"TagNames": ["{*}"], "ROTPublicUIDs": their_rots}),
                      400, "Bad Request. Invalid ROTPublicUIDs")
    assert_json_error(t.post("/tag/delete", {"TagName": theirs}), 400, "Bad Request. Invalid TagName")
    # theirs untouched
    assert device_tags(other, theirs) == sorted(their_rots)
    assert direct_count(t, mine) == 0
