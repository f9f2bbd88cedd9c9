"""Typed input at dispatch: every route's body media type, JSON fields and
parameters are checked by the front from the route's table, before the
handler runs, and refused with one consistent answer in the dialect's error
shape -- 415 for a media type the route does not take, 400 for unknown
fields, wrong types and missing required fields -- changing nothing."""

import json

import pytest

from cm_helpers import make_cm_tenant  # noqa: F401  (a fixture)
from helpers import assert_json_error

CERTS = "/x509/v1/certificates"
REQUEST = "/api/v1/certificate/request"
REVOKE = "/api/v1/certificate/revoke"


@pytest.fixture(scope="module")
def x509(make_tenant):
    return make_tenant()


@pytest.fixture(scope="module")
def cm(make_cm_tenant):
    return make_cm_tenant()


@pytest.fixture(scope="module")
def user(cm):
    return cm.user()


@pytest.mark.parametrize("ctype", ["application/jsonx", "text/json",
                                   "application/xml", "text/plain",
                                   "application/x-www-form-urlencoded"])
def test_x509_refuses_other_media_types(x509, ctype):
    before = x509.get(CERTS).json()["paging"]["totalItems"]
    r = x509.post(CERTS, json.dumps({"csr": "x"}), headers={"Content-Type": ctype})
    assert_json_error(r, 415, message="Content-Type must be application/json.")
    assert x509.get(CERTS).json()["paging"]["totalItems"] == before


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8",
                                   "Application/JSON"])
def test_x509_takes_json_with_parameters(x509, work, ctype):
    csr = work.csr(subject="/CN=typed")
    r = x509.post(CERTS, json.dumps({"csr": csr}), headers={"Content-Type": ctype})
    assert r.status == 201, r


@pytest.mark.parametrize("body, why", [
    ({"csr": "x", "extra": 1}, 'unknown field "extra"'),
    ({}, 'required field "csr" is missing'),
    ({"csr": 5}, '"csr" must be a string'),
    ({"csr": ["x"]}, '"csr" must be a string'),
    ([{"csr": "x"}], "a JSON object is expected"),
])
def test_x509_body_schema(x509, body, why):
    r = x509.post(CERTS, body)
    msg = assert_json_error(r, 400)["message"]
    assert why in msg, msg


@pytest.mark.parametrize("ctype", ["application/xml", "text/plain", "multipart/form-data",
                                   "application/jsonx"])
def test_certmaker_refuses_other_media_types(user, cm, ctype):
    before = cm.x509_total()
    r = user.post(REQUEST, json.dumps({"domains": ["t.example.com"]}),
                  headers={"Content-Type": ctype})
    assert_json_error(r, 415)
    r = user.post(REVOKE, json.dumps({"serial": "0A"}), headers={"Content-Type": ctype})
    assert_json_error(r, 415)
    assert cm.x509_total() == before


@pytest.mark.parametrize("ctype", ["application/json", "application/x-www-form-urlencoded",
                                   None])
def test_certmaker_takes_what_curl_sends(user, ctype):
    """curl -d labels a JSON body form-urlencoded; some clients send none."""
    hdrs = {"Content-Type": ctype} if ctype else {}
    r = user.post(REQUEST, json.dumps({"domains": ["curl.example.com"]}), headers=hdrs)
    assert r.status == 200, r
    assert r.json()["serial"]


@pytest.mark.parametrize("body, why", [
    ({"domains": ["a.example.com"], "domian": 1}, 'unknown field "domian"'),
    ({"domains": "a.example.com"}, '"domains" must be an array of strings'),
    ({"domains": ["a.example.com"], "days": "7"}, '"days" must be an integer'),
    ({"domains": ["a.example.com"], "subject": {"org": "x"}}, 'unknown field "org"'),
    ({"domains": ["a.example.com"], "subject": {"country": "DEU"}}, '"country" is longer'),
    ({"domains": ["a.example.com"], "subject": "x"}, '"subject" must be an object'),
])
def test_certmaker_body_schema(user, cm, body, why):
    before = cm.x509_total()
    r = user.post(REQUEST, json.dumps(body), headers={"Content-Type": "application/json"})
    msg = assert_json_error(r, 400)["message"]
    assert why in msg, msg
    r = user.post(REVOKE, json.dumps({"reason": "superseded"}),
                  headers={"Content-Type": "application/json"})
    msg = assert_json_error(r, 400)["message"]
    assert 'required field "serial" is missing' in msg, msg
    assert cm.x509_total() == before


@pytest.mark.parametrize("query", ["days=0", "days=3651", "days=x", "days=-1", "days="])
def test_certmaker_query_is_typed(user, work, query):
    csr = work.csr(subject="/CN=q.example.com", addext=["subjectAltName=DNS:q.example.com"])
    r = user.post(f"/api/v1/certificate/request-with-csr?{query}", csr,
                  headers={"Content-Type": "application/x-pem-file"})
    assert_json_error(r, 400, message="days must be a positive integer.")


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1", "8x"])
def test_certmaker_header_is_typed(user, port):
    r = user.get(f"/api/v1/challenge/{'0' * 32}/solve", headers={"X-Challenge-Port": port})
    assert_json_error(r, 400, message="X-Challenge-Port must be a port number.")


def test_ocsp_refuses_other_media_types(client):
    r = client.post("/ocsp", b"\x30\x00", headers={"Content-Type": "application/json"},
                    plain=True)
    assert_json_error(r, 415, message="Content-Type must be application/ocsp-request.")


@pytest.mark.parametrize("query, message", [
    ("encoding=PEM", "Invalid encoding: use pem or der."),
    ("encoding=", "Invalid encoding: use pem or der."),
    ("algorithm=sha1", "Invalid algorithm: use sha256 or md5."),
])
def test_servercert_query_is_typed(client, query, message):
    r = client.get(f"/api/v2/certificates/nosuch/https/hash?{query}")
    assert_json_error(r, 400, message=message)


def test_a_body_where_none_is_taken(x509):
    r = x509.client.request("GET", "/x509/v1/ca", body="{}", token=x509.token)
    assert_json_error(r, 400, message="This endpoint takes no request body.")
