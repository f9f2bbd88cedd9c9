"""The OCSP responder (RFC 6960), issue 3: POST <http_url>/ocsp and
GET <http_url>/ocsp/{url-encoded base64 request}, over plain HTTP and
HTTPS, for every CA of every tenant.  Every answer is read and verified by
`openssl ocsp`; CRLs through the X.509 dialect."""

import base64
import math
import re
import secrets
import time

import pytest

from cm_helpers import (  # noqa: F401  (make_cm_tenant is a fixture)
    CLI_REASONS, cache_max_age, cert_serial_hex, crl_dps, make_cm_tenant,
    ocsp_parse_response, ocsp_query, ocsp_request_der, ocsp_url_get_path,
    ocsp_urls)
import helpers
from helpers import fingerprint, openssl, verify

OCSP_REQ = {"Content-Type": "application/ocsp-request"}


@pytest.fixture(scope="module")
def t(make_cm_tenant):
    return make_cm_tenant()


@pytest.fixture(scope="module")
def u(t):
    return t.user()


@pytest.fixture(scope="module")
def ca(u):
    r = u.get("/api/v1/root-certificate/obtain")
    assert r.status == 200, r
    return r.text


@pytest.fixture(scope="module")
def certs(u):
    """good1, good2; rev_kc revoked for keyCompromise; rev revoked with no
    reason.  name -> (serial int, PEM)."""
    out = {}
    for name in ("good1", "good2", "rev_kc", "rev"):
        serial, pem, _ = u.issue(domains=[f"{name.replace('_', '-')}.example.com"])
        out[name] = (int(serial, 16), pem)
    assert u.revoke(cert_serial_hex(out["rev_kc"][1]), "keyCompromise").status == 200
    assert u.revoke(cert_serial_hex(out["rev"][1])).status == 200
    return out


@pytest.fixture(scope="module")
def http_url(env):
    return env["FLEETPKI_HTTP_URL"] + "/ocsp"


def assert_clean(res):
    """openssl accepted the response: exit 0, signature verified against
    the CA, nonce (when sent) echoed."""
    assert res.rc == 0, res
    assert res.verified, res
    assert "WARNING: no nonce in response" not in res.all, res
    assert "Nonce Verify error" not in res.all, res


def assert_times(single, validity=3600):
    now = time.time()
    assert single["this_update"] <= now + 5, single
    assert single["next_update"] is not None, single
    assert single["next_update"] > now, single
    assert single["next_update"] - single["this_update"] <= validity + 120, single


def post(client, der, plain=True, path="/ocsp"):
    return client.post(path, der, headers=OCSP_REQ, plain=plain)


# --------------------------------------------------------------------------
# POST, through openssl ocsp -url


def test_post_good_and_revoked(ca, certs, http_url, work):
    pems = [certs[n][1] for n in ("good1", "rev_kc", "rev", "good2")]
    res = ocsp_query(work, ca, certs=pems, url=http_url)
    assert_clean(res)
    assert res.parsed.status == "successful"
    assert res.summary("cert0.pem") == "good"
    assert res.summary("cert1.pem") == "revoked"
    assert res.summary("cert2.pem") == "revoked"
    assert res.summary("cert3.pem") == "good"
    d = res.detail("cert1.pem")
    assert d.get("Reason") == "keyCompromise", d
    assert "Revocation Time" in d, d
    d = res.detail("cert2.pem")
    assert "Revocation Time" in d and "Reason" not in d, d
    # Every asked CertID answered, with sane times, nonce echoed.
    assert set(res.parsed.single) == {certs[n][0] for n in ("good1", "rev_kc", "rev", "good2")}
    for s in res.parsed.single.values():
        assert s["hash"] == "sha1"
        assert_times(s)
    assert len(res.parsed.nonces) == 1, res
    assert abs(res.parsed.produced_at - time.time()) < 120


@pytest.mark.parametrize("alg", ["sha256", "sha384", "sha512"])
def test_sha2_certids(ca, certs, http_url, work, alg):
    """CertIDs hashed with SHA-2 (as libraries other than OpenSSL send them)
    are answered like SHA-1 ones, and the answer's CertID uses the
    request's hash."""
    pems = [certs[n][1] for n in ("good1", "rev_kc", "rev")]
    res = ocsp_query(work, ca, certs=pems, url=http_url, extra=(f"-{alg}",))
    assert_clean(res)
    assert res.summary("cert0.pem") == "good"
    assert res.summary("cert1.pem") == "revoked"
    assert res.summary("cert2.pem") == "revoked"
    assert res.detail("cert1.pem").get("Reason") == "keyCompromise"
    for s in res.parsed.single.values():
        assert s["hash"] == alg, res.parsed.single
        assert_times(s)


def test_sha2_certid_of_an_issuer_we_do_not_have(client, http_url, work):
    other, _ = _self_signed_ca(work)
    res = ocsp_query(work, other, serials=[1], url=http_url, extra=("-sha256",))
    assert "Responder Error: unauthorized (6)" in res.all, res


def test_post_without_nonce(ca, certs, http_url, work):
    res = ocsp_query(work, ca, certs=[certs["good1"][1], certs["rev_kc"][1]],
                     url=http_url, nonce=False)
    assert res.rc == 0 and res.verified, res
    assert res.summary("cert0.pem") == "good"
    assert res.summary("cert1.pem") == "revoked"
    # No nonce asked, none invented.
    assert res.parsed.nonces == [], res


def test_post_over_https(client, ca, certs, work):
    req = ocsp_request_der(work, ca, certs=[certs["good1"][1], certs["rev_kc"][1]])
    r = post(client, req, plain=False)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca, req_der=req)
    assert_clean(res)
    assert res.parsed.single[certs["good1"][0]]["status"] == "good"
    assert res.parsed.single[certs["rev_kc"][0]]["status"] == "revoked"
    assert res.parsed.single[certs["rev_kc"][0]]["reason"] == "keyCompromise"


# --------------------------------------------------------------------------
# GET


@pytest.mark.parametrize("plain", [True, False], ids=["http", "https"])
@pytest.mark.parametrize("nonce", [True, False], ids=["nonce", "no-nonce"])
def test_get(client, ca, certs, work, plain, nonce):
    req = ocsp_request_der(work, ca, certs=[certs["good2"][1], certs["rev_kc"][1]],
                           nonce=nonce)
    path = ocsp_url_get_path(req)
    r = client.get(path, plain=plain)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca, req_der=req)
    assert_clean(res)
    s = res.parsed.single
    assert s[certs["good2"][0]]["status"] == "good"
    assert s[certs["rev_kc"][0]]["status"] == "revoked"
    assert s[certs["rev_kc"][0]]["reason"] == "keyCompromise"
    assert len(res.parsed.nonces) == (1 if nonce else 0)
    cc = r.headers.get("cache-control", "")
    if nonce:
        # A nonce makes the answer unique: not for caches.
        assert "no-cache" in cc or "no-store" in cc, r.headers
        assert not cache_max_age(r.headers), r.headers
    else:
        age = cache_max_age(r.headers)
        assert age is not None and age > 0, r.headers
        nu = min(x["next_update"] for x in s.values())
        assert age <= nu - time.time() + 5, (age, nu - time.time())
        assert re.match(r'^(W/)?"[^"]+"$', r.headers.get("etag", "")), r.headers


def test_get_path_encodings(client, ca, certs, work):
    """Base64 with '/', '+' and '=' url-encoded (RFC 6960 A.1), and also
    as some clients send it, unencoded."""
    for _ in range(8):
        req = ocsp_request_der(work, ca, certs=[certs["good1"][1]])
        b64 = base64.b64encode(req).decode()
        if "/" in b64 or "+" in b64:
            break
    for path in (ocsp_url_get_path(req), "/ocsp/" + b64, "/ocsp/" + b64.replace("/", "%2F"),
                 "/ocsp/" + b64.replace("+", "%2B").replace("/", "%2f").replace("=", "%3d")):
        r = client.get(path, plain=True)
        assert r.status == 200, (path, r)
        res = ocsp_parse_response(work, r.body, ca, req_der=req)
        assert_clean(res)
        assert res.parsed.single[certs["good1"][0]]["status"] == "good"


def test_etag_revalidation(client, ca, certs, work):
    req = ocsp_request_der(work, ca, certs=[certs["good1"][1]], nonce=False)
    path = ocsp_url_get_path(req)
    seen = set()
    for _ in range(4):
        r = client.get(path, plain=True)
        assert r.status == 200, r
        etag = r.headers["etag"]
        seen.add(etag)
        r2 = client.get(path, plain=True, headers={"If-None-Match": etag})
        assert r2.status in (200, 304), r2
        if r2.status == 304:
            assert r2.body == b""
        else:
            # Another worker's signed copy: a different ETag.
            assert r2.headers["etag"] != etag
    r = client.get(path, plain=True, headers={"If-None-Match": '"nope"'})
    assert r.status == 200


# --------------------------------------------------------------------------
# nginx's OCSP cache (nginx/ocsp.conf): one second, emptied on revocation


def _kept(fetch, tries=6):
    """Ask until nginx answers from its cache (its copy lives one second,
    so a slow machine may need another pair); returns the HIT and the
    answer it repeats."""
    for _ in range(tries):
        first = fetch()
        again = fetch()
        assert first.status == 200 and again.status == 200, (first, again)
        if again.headers.get("x-cache") == "HIT":
            return first, again
    raise AssertionError(("nginx never answered from its cache", again.headers))


def test_nginx_keeps_nonce_less_answers(client, ca, certs, work):
    req1 = ocsp_request_der(work, ca, certs=[certs["good1"][1]], nonce=False)
    req2 = ocsp_request_der(work, ca, certs=[certs["rev_kc"][1]], nonce=False)
    path = ocsp_url_get_path(req1)
    for plain in (True, False):
        first, hit = _kept(lambda: client.get(path, plain=plain))
        assert hit.body == first.body
        first, hit = _kept(lambda: post(client, req1, plain=plain))
        assert hit.body == first.body
        res = ocsp_parse_response(work, hit.body, ca, req_der=req1)
        assert_clean(res)
        assert res.parsed.single[certs["good1"][0]]["status"] == "good"
        # The key is the whole request: another body is another answer.
        r = post(client, req2, plain=plain)
        res = ocsp_parse_response(work, r.body, ca, req_der=req2)
        assert set(res.parsed.single) == {certs["rev_kc"][0]}, res
        assert res.parsed.single[certs["rev_kc"][0]]["status"] == "revoked"


def test_nginx_never_keeps_nonce_or_error_answers(client, ca, certs, work):
    req = ocsp_request_der(work, ca, certs=[certs["good1"][1]], nonce=True)
    for _ in range(3):
        # The same nonce twice is still answered by fleetpkid, and echoed.
        r = post(client, req)
        assert r.headers.get("x-cache") == "MISS", r.headers
        res = ocsp_parse_response(work, r.body, ca, req_der=req)
        assert_clean(res)
        r = post(client, b"garbage")
        assert r.headers.get("x-cache") == "MISS", r.headers


def test_oversized_ocsp_body_is_refused(client):
    r = post(client, b"\x30" * (17 * 1024))
    assert r.status == 413, r
    assert r.content_type == "application/json", r


@pytest.mark.parametrize("how", ["certmaker", "x509"])
def test_revocation_empties_nginx_cache(client, t, u, ca, work, how):
    """A revocation removes nginx's copies at once: the next request is a
    MISS (the copy is gone, not expired) and says revoked."""
    serial, pem, _ = u.issue(domains=[f"kept-{how}.example.com"])
    req = ocsp_request_der(work, ca, certs=[pem], nonce=False)
    path = ocsp_url_get_path(req)
    for fetch in (lambda: client.get(path, plain=True), lambda: post(client, req)):
        _, hit = _kept(fetch)
        res = ocsp_parse_response(work, hit.body, ca)
        assert res.parsed.single[int(serial, 16)]["status"] == "good"
    if how == "certmaker":
        assert u.revoke(serial, "keyCompromise").status == 200
    else:
        r = t.client.delete(f"/x509/v1/certificates/{fingerprint(pem)}", token=t.bearer)
        assert r.status == 204, r
    for fetch in (lambda: client.get(path, plain=True), lambda: post(client, req)):
        r = fetch()
        assert r.headers.get("x-cache") == "MISS", r.headers
        res = ocsp_parse_response(work, r.body, ca)
        assert res.parsed.single[int(serial, 16)]["status"] == "revoked"


# --------------------------------------------------------------------------
# unknown, unauthorized, malformed


def test_unknown_serials(ca, certs, http_url, work):
    never = [0x1234, int.from_bytes(secrets.token_bytes(20), "big") >> 1,
             certs["good1"][0] ^ 1]
    for nonce in (True, False):
        res = ocsp_query(work, ca, serials=never, url=http_url, nonce=nonce)
        assert_clean(res)
        for s in never:
            assert res.summary(hex(s)) == "unknown", res
            assert res.parsed.single[s]["status"] == "unknown"
            assert_times(res.parsed.single[s])


@pytest.mark.parametrize("serial", [
    0,
    0x800102030405060708090A0B0C0D0E0F10111213,     # 20 bytes, 21 in DER
    0x7F0102030405060708090A0B0C0D0E0F1011121314,   # 21 bytes
    int.from_bytes(b"\x7f" + bytes(range(1, 22)), "big"),  # 22 bytes
    -5,                                             # negative
], ids=["zero", "20-bytes", "21-bytes", "22-bytes", "negative"])
def test_serials_no_ca_could_issue_are_unknown(client, ca, http_url, work, serial):
    """Still an OCSP answer (HTTP 200), saying unknown: never an HTTP error."""
    ca_path = work.file("ca.pem", ca)
    out = work.file("req.der")
    openssl("ocsp", "-issuer", str(ca_path), "-serial",
            ("-" if serial < 0 else "") + hex(abs(serial)), "-no_nonce", "-reqout", str(out))
    r = post(client, out.read_bytes())
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca)
    assert res.rc == 0 and res.verified, res
    assert [x["status"] for x in res.parsed.single.values()] == ["unknown"], res


def test_good_revoked_and_unknown_together(ca, certs, http_url, work):
    res = ocsp_query(work, ca, certs=[certs["good2"][1], certs["rev"][1]],
                     serials=[0xABCDEF], url=http_url)
    assert_clean(res)
    assert res.summary("cert0.pem") == "good"
    assert res.summary("cert1.pem") == "revoked"
    assert res.summary("0xabcdef") == "unknown"


def test_many_certificates_in_one_request(client, ca, certs, work):
    """Sixteen CertIDs: all answered.  More: still an OCSP answer (an
    error status at most), never an HTTP error."""
    serials = [certs["good1"][0], certs["rev_kc"][0]] + list(range(1, 15))
    req = ocsp_request_der(work, ca, serials=serials, nonce=False)
    r = post(client, req)
    assert r.status == 200, r
    res = ocsp_parse_response(work, r.body, ca)
    assert res.rc == 0 and res.verified, res
    assert len(res.parsed.single) == 16
    assert res.parsed.single[certs["good1"][0]]["status"] == "good"
    assert res.parsed.single[certs["rev_kc"][0]]["status"] == "revoked"
    assert {res.parsed.single[s]["status"] for s in range(1, 15)} == {"unknown"}
    req = ocsp_request_der(work, ca, serials=list(range(1, 201)), nonce=False)
    r = post(client, req)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca)
    assert res.parsed.status is not None or "Responder Error" in res.all, res


def test_signed_request_is_answered(client, ca, certs, work):
    """RFC 6960 4.1.2: the requestor may sign; a responder that does not
    require signatures answers anyway."""
    other, key = _self_signed_ca(work, "/CN=requestor")
    ca_path = work.file("ca.pem", ca)
    signer = work.file("signer.pem", other)
    out = work.file("req.der")
    openssl("ocsp", "-issuer", str(ca_path), "-cert", str(work.file("c.pem", certs["good1"][1])),
            "-signer", str(signer), "-signkey", str(key), "-reqout", str(out))
    req = out.read_bytes()
    r = post(client, req)
    assert r.status == 200, r
    res = ocsp_parse_response(work, r.body, ca, req_der=req)
    assert_clean(res)
    assert res.parsed.single[certs["good1"][0]]["status"] == "good"


def test_another_tenants_serial_is_unknown(make_cm_tenant, ca, certs, http_url, work):
    """Tenant B's CA never issued tenant A's serials, and the other way."""
    b = make_cm_tenant()
    ub = b.user()
    ca_b = ub.get("/api/v1/root-certificate/obtain").text
    serial_b, pem_b, _ = ub.issue(domains=["b.example.com"])
    res = ocsp_query(work, ca_b, serials=[certs["good1"][0], certs["rev_kc"][0]],
                     url=http_url)
    assert_clean(res)
    assert res.summary(hex(certs["good1"][0])) == "unknown"
    assert res.summary(hex(certs["rev_kc"][0])) == "unknown"
    res = ocsp_query(work, ca, serials=[int(serial_b, 16)], url=http_url)
    assert_clean(res)
    assert res.summary(hex(int(serial_b, 16))) == "unknown"
    # And B's own certificate is good under B's CA.
    res = ocsp_query(work, ca_b, certs=[pem_b], url=http_url)
    assert_clean(res)
    assert res.summary("cert0.pem") == "good"


def _self_signed_ca(work, subject="/CN=not ours"):
    key = work.key("p256")
    out = work.file("other-ca.pem")
    openssl("req", "-x509", "-new", "-key", str(key), "-subj", subject, "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-out", str(out))
    return out.read_text(), key


@pytest.mark.parametrize("path", ["post", "get"])
def test_issuer_we_do_not_have_is_unauthorized(client, ca, certs, http_url, work, path):
    other, _ = _self_signed_ca(work)
    if path == "post":
        res = ocsp_query(work, ca, serials=[0x1234], url=http_url, issuer_pem=other)
        assert "Responder Error: unauthorized (6)" in res.all, res
        assert res.rc != 0
        req = ocsp_request_der(work, other, serials=[certs["good1"][0]])
        r = post(client, req)
    else:
        req = ocsp_request_der(work, other, serials=[certs["good1"][0]])
        r = client.get(ocsp_url_get_path(req), plain=True)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca)
    assert "Responder Error: unauthorized (6)" in res.all, res
    assert not cache_max_age(r.headers), r.headers


def test_right_key_wrong_issuer_name_is_never_good(client, ca, certs, work):
    """A CertID with the CA's key hash but another issuer name hash: the
    name does not match the CA, so the answer is unauthorized (or
    unknown), never good."""
    ca_path = work.file("ca.pem", ca)
    ca_pub = work.file("ca-pub.pem", openssl("x509", "-in", str(ca_path), "-noout",
                                              "-pubkey").stdout_text)
    signer, signer_key = _self_signed_ca(work, "/CN=forger")
    signer_path = work.file("signer.pem", signer)
    csr = work.csr("p256", subject="/CN=fleetpki impostor CA")
    csr_path = work.file("forged.csr", csr)
    forged = work.file("forged.pem")
    openssl("x509", "-req", "-in", str(csr_path), "-CA", str(signer_path), "-CAkey",
            str(signer_key), "-force_pubkey", str(ca_pub), "-days", "1",
            "-set_serial", "7", "-out", str(forged))
    req = ocsp_request_der(work, forged.read_text(), serials=[certs["good1"][0]])
    r = post(client, req)
    assert r.status == 200, r
    res = ocsp_parse_response(work, r.body, ca)
    if "Responder Error" in res.all:
        assert "unauthorized (6)" in res.all, res
    else:
        assert res.parsed.single[certs["good1"][0]]["status"] == "unknown", res


def test_two_issuers_in_one_request(client, ca, certs, work, make_cm_tenant):
    b = make_cm_tenant()
    ca_b = b.user().get("/api/v1/root-certificate/obtain").text
    ca_path = work.file("ca.pem", ca)
    cab_path = work.file("cab.pem", ca_b)
    out = work.file("req.der")
    openssl("ocsp", "-issuer", str(ca_path), "-serial", hex(certs["good1"][0]),
            "-issuer", str(cab_path), "-serial", "0x1234", "-reqout", str(out))
    r = post(client, out.read_bytes())
    assert r.status == 200, r
    res = ocsp_parse_response(work, r.body, ca)
    # One response is signed by one CA: refused, or each answered correctly.
    if "Responder Error" in res.all:
        assert "unauthorized (6)" in res.all, res
    else:
        assert res.parsed.single[certs["good1"][0]]["status"] == "good"
        assert res.parsed.single[0x1234]["status"] == "unknown"


@pytest.mark.parametrize("body", [b"garbage", b"", b"\x30\x03\x02\x01\x01",
                                  b"\x30\x80" + b"\x00" * 64,
                                  b"\x30\x04\x30\x02\x30\x00"],
                         ids=["text", "empty", "wrong-der", "indefinite", "no-certids"])
def test_malformed_post(client, ca, body, work):
    r = post(client, body)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca)
    assert "Responder Error: malformedrequest (1)" in res.all.replace("malformedRequest",
                                                                      "malformedrequest"), res
    assert not cache_max_age(r.headers), r.headers


def test_malformed_truncated_request(client, ca, certs, work):
    req = ocsp_request_der(work, ca, certs=[certs["good1"][1]])
    for bad in (req[:-1], req[:len(req) // 2], req + b"\x00"):
        r = post(client, bad)
        assert r.status == 200, r
        res = ocsp_parse_response(work, r.body, ca)
        assert "malformedrequest (1)" in res.all.lower(), res


def test_malformed_get(client, ca, work):
    path = "/ocsp/" + base64.b64encode(b"this is no OCSP request").decode()
    r = client.get(path, plain=True)
    assert r.status == 200, r
    assert r.content_type == "application/ocsp-response"
    res = ocsp_parse_response(work, r.body, ca)
    assert "malformedrequest (1)" in res.all.lower(), res


# --------------------------------------------------------------------------
# Revocation, CRL agreement, times


def _status_now(client, ca, pem, work, how):
    if how == "post-nonce":
        req = ocsp_request_der(work, ca, certs=[pem])
        r = post(client, req)
    elif how == "post":
        req = ocsp_request_der(work, ca, certs=[pem], nonce=False)
        r = post(client, req)
    else:
        req = ocsp_request_der(work, ca, certs=[pem], nonce=False)
        r = client.get(ocsp_url_get_path(req), plain=True)
    assert r.status == 200, r
    res = ocsp_parse_response(work, r.body, ca, req_der=req)
    assert_clean(res)
    (s,) = res.parsed.single.values()
    return s, r.headers.get("etag")


def test_revocation_is_visible_at_once(client, u, ca, work):
    serial, pem, _ = u.issue(domains=["soon-revoked.example.com"])
    etags = set()
    # Warm every worker's cache with "good" answers.
    for _ in range(6):
        for how in ("post", "get"):
            s, etag = _status_now(client, ca, pem, work, how)
            assert s["status"] == "good"
            etags.add(etag)
    assert u.revoke(serial, "superseded").status == 200
    for _ in range(6):
        for how in ("post", "get", "post-nonce"):
            s, etag = _status_now(client, ca, pem, work, how)
            assert s["status"] == "revoked", how
            assert s["reason"] == "superseded"
            assert etag not in etags
    # An old ETag does not revalidate the old answer.
    req = ocsp_request_der(work, ca, certs=[pem], nonce=False)
    for etag in etags:
        r = client.get(ocsp_url_get_path(req), plain=True, headers={"If-None-Match": etag})
        assert r.status == 200, r
        res = ocsp_parse_response(work, r.body, ca)
        assert res.parsed.single[int(serial, 16)]["status"] == "revoked"


def _crl_entries(crl):
    """{serial: (revocation date epoch, reason text or None)}."""
    from cm_helpers import epoch
    out = {}
    for m in re.finditer(r"Serial Number: ([0-9A-F]+)\n\s*Revocation Date: (.*?)\n"
                         r"((?:\s*CRL entry extensions:\n\s*X509v3 CRL Reason Code: *\n\s*(.*)\n)?)",
                         crl.text):
        out[int(m.group(1), 16)] = (epoch(m.group(2)), m.group(4).strip() if m.group(4) else None)
    return out


def test_ocsp_agrees_with_crl(client, t, u, ca, certs, http_url, work):
    extra = {}
    for reason in ("cessationOfOperation", "affiliationChanged", None):
        serial, pem, _ = u.issue(domains=["agree.example.com"])
        assert u.revoke(serial, reason).status == 200
        extra[int(serial, 16)] = (pem, reason)
    crl = t.crl_with(*extra)
    assert crl.verifies_with(ca, work)
    entries = _crl_entries(crl)
    pems = [pem for _, pem in certs.values()] + [pem for pem, _ in extra.values()]
    res = ocsp_query(work, ca, certs=pems, url=http_url)
    assert_clean(res)
    assert len(res.parsed.single) == len(pems)
    for serial, s in res.parsed.single.items():
        if serial in crl.serials:
            assert s["status"] == "revoked", (hex(serial), s)
            date, reason_text = entries[serial]
            assert s["revocation_time"] == date, (hex(serial), s, date)
            if s["reason"] is None or s["reason"] == "unspecified":
                assert reason_text in (None, "Unspecified")
            else:
                assert reason_text == CLI_REASONS[s["reason"]][0], (s, reason_text)
        else:
            assert s["status"] == "good", (hex(serial), s)
    assert {certs["rev_kc"][0], certs["rev"][0], *extra} <= crl.serials
    assert not {certs["good1"][0], certs["good2"][0]} & crl.serials
    # And openssl's own CRL check agrees with OCSP on each.
    for name, (serial, pem) in certs.items():
        ok, out = verify(ca, pem, work, crl_pem=crl.pem)
        assert ok == name.startswith("good"), (name, out)


def test_revocation_time_is_not_in_the_future(client, t, u, ca, work):
    """The revocation time OCSP and the CRL state is when it happened, to
    the second: never later than the moment the revoke call returned.
    (Revoking late in a second shows a time rounded up instead of down.)"""
    serial, pem, _ = u.issue(domains=["when.example.com"])
    while not 0.55 <= time.time() % 1 <= 0.7:
        time.sleep(0.01)
    t0 = time.time()
    assert u.revoke(serial).status == 200
    t1 = time.time()
    s, _ = _status_now(client, ca, pem, work, "post-nonce")
    assert s["status"] == "revoked"
    assert math.floor(t0) - 1 <= s["revocation_time"] <= t1, \
        (s["revocation_time"], t0, t1)
    date, _ = _crl_entries(t.crl_with(serial))[int(serial, 16)]
    assert math.floor(t0) - 1 <= date <= t1, (date, t0, t1)


def test_validity_setting(make_cm_tenant, http_url, work, client):
    t = make_cm_tenant(settings={"ocsp.validity": 600})
    u = t.user()
    ca = u.get("/api/v1/root-certificate/obtain").text
    serial, pem, _ = u.issue(domains=["validity.example.com"])
    res = ocsp_query(work, ca, certs=[pem], url=http_url)
    assert_clean(res)
    s = res.parsed.single[int(serial, 16)]
    assert_times(s, validity=600)
    assert abs(s["next_update"] - res.parsed.produced_at - 600) <= 5, (s, res.parsed.produced_at)
    req = ocsp_request_der(work, ca, certs=[pem], nonce=False)
    r = client.get(ocsp_url_get_path(req), plain=True)
    age = cache_max_age(r.headers)
    assert age is not None and 0 < age <= 600, r.headers


def test_responses_are_signed_by_the_issuing_ca(client, ca, certs, http_url, work,
                                                 make_cm_tenant):
    """Verified with this CA as the only trust anchor, and not with
    another tenant's."""
    res = ocsp_query(work, ca, certs=[certs["good1"][1]], url=http_url)
    assert_clean(res)
    other = make_cm_tenant().user().get("/api/v1/root-certificate/obtain").text
    r = post(client, ocsp_request_der(work, ca, certs=[certs["good1"][1]]))
    der = r.body
    assert ocsp_parse_response(work, der, ca).verified
    bad = ocsp_parse_response(work, der, other)
    assert not bad.verified, bad


# --------------------------------------------------------------------------
# Every CA of every tenant; every certificate carries AIA and CRL DP


@pytest.mark.parametrize("key", ["ec-p256", "ec-p384", "rsa-2048"])
def test_x509_dialect_certificates(make_tenant, env, work, key):
    tn = make_tenant(key=key)
    ca = tn.ca_pem()
    fp, pem = tn.issue(work.csr("p256", subject="/CN=device 1"))
    http = env["FLEETPKI_HTTP_URL"]
    assert ocsp_urls(pem) == [http + "/ocsp"]
    dps = crl_dps(pem)
    assert len(dps) == 1 and dps[0].startswith(http + "/crl/"), dps
    url = ocsp_urls(pem)[0]
    res = ocsp_query(work, ca, certs=[pem], url=url)
    assert_clean(res)
    assert res.summary("cert0.pem") == "good"
    assert tn.delete(f"/x509/v1/certificates/{fp}").status == 204
    res = ocsp_query(work, ca, certs=[pem], url=url)
    assert_clean(res)
    assert res.summary("cert0.pem") == "revoked"


def test_default_tenant_ca(default_tenant, env, work):
    ca = default_tenant.ca_pem()
    fp, pem = default_tenant.issue(work.csr("p384", subject="/CN=device d"))
    res = ocsp_query(work, ca, certs=[pem], url=ocsp_urls(pem)[0])
    assert_clean(res)
    assert res.summary("cert0.pem") == "good"
    assert fp == fingerprint(pem)


def test_migrate_writes_key_hashes_of_older_cas(cli, env, ca, certs, http_url, work):
    """CAs made before their SHA-2 key hashes were kept (sql/009) get them
    from `fleetpki migrate`, and SHA-2 CertIDs find them afterwards."""
    fp = fingerprint(ca)

    def psql(sql):
        return helpers.psql(env["FLEETPKI_DATABASE_URL"], sql)

    psql("DELETE FROM ca_key_hashes WHERE ca_id = "
         f"(SELECT id FROM cas WHERE fingerprint = '{fp}')")
    out = cli.run("migrate").stdout
    assert "key hashes written for 1 CA" in out, out
    assert psql("SELECT count(*) FROM ca_key_hashes h JOIN cas c ON c.id = h.ca_id "
                f"WHERE c.fingerprint = '{fp}'") == "3"
    res = ocsp_query(work, ca, certs=[certs["good1"][1]], url=http_url, extra=("-sha512",))
    assert res.summary("cert0.pem") == "good", res
    # Run again: nothing left to write.
    assert "key hashes" not in cli.run("migrate").stdout
