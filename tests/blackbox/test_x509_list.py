"""GET /x509/v1/certificates (paging, fields, keyVal) and
GET/DELETE /x509/v1/certificates/{fingerprint}."""

import re
import urllib.parse

import pytest

from helpers import assert_json_error

CERTS = "/x509/v1/certificates"
RECORD_KEYS = {"fingerprint", "pem", "issuedByDojotPki", "autoRegistered",
               "belongsTo", "tenant", "createdAt"}
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="module")
def seven(make_tenant, tmp_path_factory):
    """A tenant with exactly seven certificates."""
    from helpers import Workdir
    t = make_tenant()
    w = Workdir(tmp_path_factory.mktemp("seven"))
    t.certs = {}
    for i in range(7):
        fp, pem = t.issue(w.csr("p256", subject=f"/CN=device {i}"))
        t.certs[fp] = pem
    return t


def page_url(n, limit):
    return f"/x509/v1/certificates?page={n}&limit={limit}"


def test_paging_shape(seven):
    seen = []
    for n in (1, 2, 3):
        r = seven.get(f"{CERTS}?page={n}&limit=3")
        assert r.status == 200, r
        assert r.content_type == "application/json"
        body = r.json()
        assert set(body) == {"paging", "certificates"}, body.keys()
        paging = body["paging"]
        assert paging["current"] == {"number": n, "url": page_url(n, 3)}
        assert paging["previous"] == (None if n == 1 else
                                      {"number": n - 1, "url": page_url(n - 1, 3)})
        assert paging["next"] == (None if n == 3 else
                                  {"number": n + 1, "url": page_url(n + 1, 3)})
        assert paging["totalItems"] == 7
        assert paging["totalPages"] == 3
        assert paging["limitPerPage"] == 3
        assert len(body["certificates"]) == (1 if n == 3 else 3)
        seen += [c["fingerprint"] for c in body["certificates"]]
    # Pages do not overlap and together hold every certificate.
    assert sorted(seen) == sorted(seven.certs)


def test_records(seven):
    body = seven.get(CERTS).json()
    for rec in body["certificates"]:
        assert RECORD_KEYS <= set(rec), rec.keys()
        assert rec["pem"] == seven.certs[rec["fingerprint"]]
        assert rec["issuedByDojotPki"] is True
        assert rec["autoRegistered"] is False
        assert rec["belongsTo"] == {}
        assert rec["tenant"] == seven.name
        assert ISO_RE.match(rec["createdAt"]), rec["createdAt"]


def test_default_limit_is_25(seven):
    body = seven.get(CERTS).json()
    p = body["paging"]
    assert p["limitPerPage"] == 25
    assert p["totalItems"] == 7 and p["totalPages"] == 1
    assert p["current"] == {"number": 1, "url": page_url(1, 25)}
    assert p["previous"] is None and p["next"] is None
    assert len(body["certificates"]) == 7


def test_limit_is_capped_at_250(seven):
    r = seven.get(f"{CERTS}?limit=100000")
    assert r.status == 200, r
    assert r.json()["paging"]["limitPerPage"] == 250


def test_page_past_the_end_is_empty(seven):
    r = seven.get(f"{CERTS}?page=9&limit=3")
    assert r.status == 200, r
    body = r.json()
    assert body["certificates"] == []
    assert body["paging"]["totalItems"] == 7
    assert body["paging"]["next"] is None


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "limit=0",
                                   "limit=-5", "limit=x", "page=99999999999999999999",
                                   "page=1&page=2", "limit=%00", "fields=", "keyVal=",
                                   "keyVal=%3D", "keyVal=fingerprint", "foo=bar"])
def test_odd_queries_are_answered(seven, query):
    """Odd paging input is answered with 200 or 400 JSON, never 5xx."""
    r = seven.get(f"{CERTS}?{query}")
    assert r.status in (200, 400), r
    assert r.content_type == "application/json"
    if r.status == 400:
        assert_json_error(r, 400)


def test_fields_projection(seven):
    body = seven.get(f"{CERTS}?fields=fingerprint,pem").json()
    assert len(body["certificates"]) == 7
    for rec in body["certificates"]:
        assert set(rec) == {"fingerprint", "pem"}, rec.keys()
        assert rec["pem"] == seven.certs[rec["fingerprint"]]


def test_fields_validity(seven):
    body = seven.get(f"{CERTS}?fields=fingerprint,validity").json()
    for rec in body["certificates"]:
        assert set(rec) == {"fingerprint", "validity"}, rec.keys()
        assert set(rec["validity"]) == {"notBefore", "notAfter"}, rec["validity"]


def test_unknown_field_refused(seven):
    r = seven.get(f"{CERTS}?fields=fingerprint,secretKey")
    body = assert_json_error(r, 400, prefix="The fields provided are not valid: [")
    assert "secretKey" in body["message"]


def test_keyval_filter(seven):
    fp = sorted(seven.certs)[3]
    q = urllib.parse.quote(f"fingerprint={fp}", safe="=")
    body = seven.get(f"{CERTS}?keyVal={q}").json()
    assert body["paging"]["totalItems"] == 1
    assert [c["fingerprint"] for c in body["certificates"]] == [fp]


def test_keyval_all_pairs_must_match(seven):
    fp = sorted(seven.certs)[0]
    q = urllib.parse.quote(f"fingerprint={fp},issuedByDojotPki=false", safe="=,")
    assert seven.get(f"{CERTS}?keyVal={q}").json()["paging"]["totalItems"] == 0
    q = urllib.parse.quote(f"fingerprint={fp},issuedByDojotPki=true", safe="=,")
    assert seven.get(f"{CERTS}?keyVal={q}").json()["paging"]["totalItems"] == 1


def test_keyval_cannot_reach_another_tenant(seven, default_tenant):
    q = urllib.parse.quote(f"tenant={default_tenant.name}", safe="=")
    body = seven.get(f"{CERTS}?keyVal={q}").json()
    assert body["paging"]["totalItems"] == 0
    assert body["certificates"] == []


@pytest.mark.parametrize("order", ["tenant first", "tenant last"])
def test_keyval_pairs_combine_in_any_order(seven, default_tenant, order):
    """Another tenant's name matches nothing, whatever pairs follow it."""
    fp = sorted(seven.certs)[2]
    pairs = [f"tenant={default_tenant.name}", f"fingerprint={fp}"]
    if order == "tenant last":
        pairs.reverse()
    q = urllib.parse.quote(",".join(pairs), safe="=,")
    body = seven.get(f"{CERTS}?keyVal={q}").json()
    assert body["paging"]["totalItems"] == 0, (order, body["paging"])
    assert body["certificates"] == []
    # The caller's own tenant narrows nothing, in either order.
    pairs = [f"tenant={seven.name}", f"fingerprint={fp}"]
    if order == "tenant last":
        pairs.reverse()
    q = urllib.parse.quote(",".join(pairs), safe="=,")
    body = seven.get(f"{CERTS}?keyVal={q}").json()
    assert [c["fingerprint"] for c in body["certificates"]] == [fp]


def test_get_one(seven):
    fp = sorted(seven.certs)[1]
    for form in (fp, fp.replace(":", ""), fp.lower(), fp.replace(":", "").lower()):
        r = seven.get(f"{CERTS}/{form}")
        assert r.status == 200, (form, r)
        rec = r.json()
        assert RECORD_KEYS <= set(rec), rec.keys()
        assert rec["fingerprint"] == fp
        assert rec["pem"] == seven.certs[fp]
        assert rec["tenant"] == seven.name


def test_get_one_with_fields(seven):
    fp = sorted(seven.certs)[2]
    r = seven.get(f"{CERTS}/{fp}?fields=pem,createdAt")
    assert r.status == 200, r
    assert set(r.json()) == {"pem", "createdAt"}
    assert_json_error(seven.get(f"{CERTS}/{fp}?fields=nope"), 400,
                      prefix="The fields provided are not valid: [")


def test_get_unknown_fingerprint(seven):
    r = seven.get(f"{CERTS}/" + ":".join(["00"] * 32))
    assert_json_error(r, 404, prefix="No records found for the following parameters:")


@pytest.mark.parametrize("fp", ["xyz", "00", "G" * 64, "%00", "00:" * 40 + "00", "A" * 5000])
def test_get_malformed_fingerprint(seven, fp):
    r = seven.get(f"{CERTS}/{fp}")
    assert r.status in (400, 404), r
    assert_json_error(r, r.status)


def test_delete(make_tenant, work):
    t = make_tenant()
    fp, _ = t.issue(work.csr("p256", subject="/CN=short lived"))
    keep, _ = t.issue(work.csr("p256", subject="/CN=stays"))
    r = t.delete(f"{CERTS}/{fp}")
    assert r.status == 204, r
    assert r.body == b""
    assert_json_error(t.get(f"{CERTS}/{fp}"), 404)
    assert_json_error(t.delete(f"{CERTS}/{fp}"), 404)
    assert_json_error(t.delete(f"{CERTS}/{fp.replace(':', '').lower()}"), 404)
    body = t.get(CERTS).json()
    assert [c["fingerprint"] for c in body["certificates"]] == [keep]
    assert t.get(f"{CERTS}/{keep}").status == 200


def test_delete_by_lower_case_fingerprint_without_colons(make_tenant, work):
    t = make_tenant()
    fp, _ = t.issue(work.csr("p256"))
    r = t.delete(f"{CERTS}/{fp.replace(':', '').lower()}")
    assert r.status == 204, r
    assert t.get(f"{CERTS}/{fp}").status == 404
