"""Idempotency-Key on the issuing POSTs (X.509 identity and certificate
maker): a retry with the same key and the same request answers the
certificate the first try issued, and issues nothing; the same key with a
different request is 422; a request whose answer was lost after the commit
is found again by its retry."""

import concurrent.futures
import json
import socket
import time
import uuid

import pytest

from cm_helpers import make_cm_tenant  # noqa: F401  (a fixture)
from helpers import assert_json_error, psql

CERTS = "/x509/v1/certificates"
REQUEST = "/api/v1/certificate/request"
REQUEST_CSR = "/api/v1/certificate/request-with-csr"


def age(env, k):
    """Make key 'k' a day and an hour old, as if used yesterday."""
    psql(env["FLEETPKI_DATABASE_URL"], "UPDATE idempotency_keys SET created_at = "
         f"now() - interval '25 hours' WHERE key = '{k}'")


def key():
    return "k-" + uuid.uuid4().hex


def total(t):
    return t.get(CERTS).json()["paging"]["totalItems"]


@pytest.fixture(scope="module")
def x509(make_tenant):
    return make_tenant()


@pytest.fixture(scope="module")
def cm(make_cm_tenant):
    return make_cm_tenant()


def test_x509_retry_answers_the_same_certificate(x509, work):
    csr = work.csr(subject="/CN=idem 1")
    k = key()
    before = total(x509)
    first = x509.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    assert first.status == 201, first
    assert "idempotent-replayed" not in first.headers
    again = x509.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    assert again.status == 201, again
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert total(x509) == before + 1


def test_x509_without_a_key_issues_each_time(x509, work):
    csr = work.csr(subject="/CN=idem 2")
    before = total(x509)
    a = x509.post(CERTS, {"csr": csr})
    b = x509.post(CERTS, {"csr": csr})
    assert a.status == b.status == 201
    assert a.json()["certificateFingerprint"] != b.json()["certificateFingerprint"]
    assert total(x509) == before + 2


def test_x509_same_key_other_request_is_422(x509, work):
    k = key()
    r = x509.post(CERTS, {"csr": work.csr(subject="/CN=idem 3")},
                  headers={"Idempotency-Key": k})
    assert r.status == 201, r
    before = total(x509)
    r = x509.post(CERTS, {"csr": work.csr(subject="/CN=idem 3b")},
                  headers={"Idempotency-Key": k})
    assert_json_error(r, 422, message="This Idempotency-Key was used with a different request.")
    assert total(x509) == before


def test_keys_are_per_tenant(make_tenant, work):
    a, b = make_tenant(), make_tenant()
    k = key()
    csr = work.csr(subject="/CN=idem 4")
    ra = a.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    rb = b.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    assert ra.status == rb.status == 201
    assert ra.json()["certificateFingerprint"] != rb.json()["certificateFingerprint"]


@pytest.mark.parametrize("bad", ["", "a b", "x" * 256, "\u00e9t\u00e9"])
def test_malformed_key_is_400(x509, work, bad):
    before = total(x509)
    r = x509.client.request("POST", CERTS, body=json.dumps({"csr": work.csr()}).encode(),
                            token=x509.token,
                            headers={"Content-Type": "application/json",
                                     "Idempotency-Key": bad.encode("utf-8")})
    assert_json_error(r, 400, prefix="Idempotency-Key must be")
    assert total(x509) == before


def test_concurrent_twins_issue_once(x509, work):
    csr = work.csr(subject="/CN=idem 5")
    k = key()
    before = total(x509)

    def one(_):
        return x509.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(16)))
    ok = [r for r in answers if r.status == 201]
    assert ok, answers
    assert len({r.json()["certificateFingerprint"] for r in ok}) == 1
    assert all(r.status in (201, 409) for r in answers), answers
    assert total(x509) == before + 1


def test_answer_lost_after_commit(x509, work, stack):
    """The client gives up before the answer: the commit stands, and the
    retry finds it instead of issuing a second certificate."""
    csr = work.csr(subject="/CN=idem 6")
    k = key()
    before = total(x509)
    body = json.dumps({"csr": csr}).encode()
    c = x509.client
    raw = socket.create_connection((c.https_host, c.https_port))
    tls = c.ctx.wrap_socket(raw, server_hostname=c.https_host)
    tls.sendall((f"POST {CERTS} HTTP/1.1\r\nHost: {c.https_host}\r\n"
                 f"Authorization: Bearer {x509.token}\r\n"
                 f"Content-Type: application/json\r\nIdempotency-Key: {k}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
    tls.close()  # never read the answer
    deadline = time.monotonic() + 30
    while total(x509) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert total(x509) == before + 1
    r = x509.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    assert r.status == 201, r
    assert r.headers.get("idempotent-replayed") == "true"
    assert total(x509) == before + 1


def test_certmaker_retry_answers_the_same_certificate(cm):
    u = cm.user()
    k = key()
    body = json.dumps({"domains": ["idem.example.com"]})
    before = cm.x509_total()
    hdrs = {"Content-Type": "application/json", "Idempotency-Key": k}
    first = u.post(REQUEST, body, headers=hdrs)
    assert first.status == 200, first
    again = u.post(REQUEST, body, headers=hdrs)
    assert again.status == 200, again
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    # The replayed answer still leads to the server-made key.
    assert "privatekey_location" in again.json()
    assert cm.x509_total() == before + 1
    # Another request under the key is refused.
    r = u.post(REQUEST, json.dumps({"domains": ["other.example.com"]}), headers=hdrs)
    assert_json_error(r, 422)
    # So is the same request from another user of the tenant.
    r = cm.user().post(REQUEST, body, headers=hdrs)
    assert_json_error(r, 422)
    assert cm.x509_total() == before + 1


def test_certmaker_csr_retry(cm, work):
    u = cm.user()
    k = key()
    csr = work.csr(subject="/CN=idem csr.example.com",
                   addext=["subjectAltName=DNS:idem-csr.example.com"])
    hdrs = {"Content-Type": "application/x-pem-file", "Idempotency-Key": k}
    first = u.post(REQUEST_CSR + "?days=30", csr, headers=hdrs)
    assert first.status == 200, first
    again = u.post(REQUEST_CSR + "?days=30", csr, headers=hdrs)
    assert again.json()["serial"] == first.json()["serial"]
    # The query is part of the request.
    r = u.post(REQUEST_CSR + "?days=31", csr, headers=hdrs)
    assert_json_error(r, 422)


def test_expired_keys_are_forgotten(x509, work, env):
    """A key older than a day may be used afresh (here aged by hand)."""
    csr = work.csr(subject="/CN=idem 7")
    k = key()
    r = x509.post(CERTS, {"csr": csr}, headers={"Idempotency-Key": k})
    assert r.status == 201, r
    first = r.json()["certificateFingerprint"]
    age(env, k)
    r = x509.post(CERTS, {"csr": work.csr(subject="/CN=idem 7b")},
                  headers={"Idempotency-Key": k})
    assert r.status == 201, r
    assert r.json()["certificateFingerprint"] != first
    assert "idempotent-replayed" not in r.headers


def test_worker_prunes_day_old_keys(x509, work, env, cli):
    """fleetpki-worker's idempotency.prune forgets keys past their day, and
    only those."""
    old, fresh = key(), key()
    for k in (old, fresh):
        r = x509.post(CERTS, {"csr": work.csr(subject="/CN=idem prune")},
                      headers={"Idempotency-Key": k})
        assert r.status == 201, r

    def count(k):
        return int(psql(env["FLEETPKI_DATABASE_URL"],
                        f"SELECT count(*) FROM idempotency_keys WHERE key = '{k}'"))

    age(env, old)
    cli.run("--once", program="fleetpki-worker")
    assert count(old) == 0
    assert count(fresh) == 1
