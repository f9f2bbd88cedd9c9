"""Revocation: DELETE feeds the CRL (through the worker, within seconds);
GET /x509/v1/ca/crl and the DER CRL at the certificate's CRL distribution
point, checked with openssl."""

import datetime
import re

from helpers import Crl, crl_dp_urls, der_pem, pem_der, serial, verify

CERTS = "/x509/v1/certificates"


def test_revocation_reaches_the_crl(make_tenant, client, work):
    t = make_tenant()
    ca = t.ca_pem()
    fp_a, pem_a = t.issue(work.csr("p256", subject="/CN=device a"))
    fp_b, pem_b = t.issue(work.csr("p384", subject="/CN=device b"))
    fp_c, pem_c = t.issue(work.csr("rsa2048", subject="/CN=device c"))

    crl0 = Crl(t.crl_pem())
    assert crl0.verifies_with(ca, work)
    assert crl0.has_next_update
    assert crl0.serials == set()

    # Both certificates verify against the first CRL.
    for pem in (pem_a, pem_b):
        ok, out = verify(ca, pem, work, crl_pem=crl0.pem)
        assert ok, out

    assert t.delete(f"{CERTS}/{fp_a}").status == 204
    crl1 = t.crl_with(serial(pem_a))
    assert crl1.verifies_with(ca, work)
    assert crl1.serials == {serial(pem_a)}
    assert crl1.number > crl0.number
    ok, out = verify(ca, pem_a, work, crl_pem=crl1.pem)
    assert not ok and "certificate revoked" in out, out
    ok, out = verify(ca, pem_b, work, crl_pem=crl1.pem)
    assert ok, out

    assert t.delete(f"{CERTS}/{fp_b}").status == 204
    crl2 = t.crl_with(serial(pem_b))
    assert crl2.verifies_with(ca, work)
    assert crl2.serials == {serial(pem_a), serial(pem_b)}
    assert crl2.number > crl1.number
    ok, out = verify(ca, pem_b, work, crl_pem=crl2.pem)
    assert not ok and "certificate revoked" in out, out
    ok, out = verify(ca, pem_c, work, crl_pem=crl2.pem)
    assert ok, out

    # The DER CRL at the distribution point written in the certificates is
    # the same CRL, over plain HTTP.
    urls = crl_dp_urls(pem_c)
    assert urls == crl_dp_urls(pem_a)
    r = client.fetch_url(urls[0])
    assert r.status == 200, r
    assert r.content_type == "application/pkix-crl", r.headers
    assert r.body == pem_der(crl2.pem)


def test_crl_is_not_rebuilt_per_request(make_tenant):
    t = make_tenant()
    a = t.crl_pem()
    b = t.crl_pem()
    assert a == b


def test_crl_next_update_is_in_the_future(make_tenant):
    t = make_tenant()
    text = Crl(t.crl_pem()).text
    m = re.search(r"Next Update: (.*)", text)
    nu = datetime.datetime.strptime(m.group(1).strip(), "%b %d %H:%M:%S %Y %Z")
    assert nu > datetime.datetime.utcnow()


def test_crl_of_each_tenant_is_its_own(make_tenant, work):
    a, b = make_tenant(), make_tenant()
    fp, pem = a.issue(work.csr("p256"))
    assert a.delete(f"{CERTS}/{fp}").status == 204
    a.crl_with(serial(pem))
    crl_b = Crl(b.crl_pem())
    assert crl_b.serials == set()
    assert crl_b.verifies_with(b.ca_pem(), work)
    assert not crl_b.verifies_with(a.ca_pem(), work)


def test_unknown_crl_is_404(client):
    for path in ("/crl/00000000-0000-0000-0000-000000000000.crl", "/crl/nope.crl",
                 "/crl/", "/crl/..%2f..%2fetc%2fpasswd"):
        r = client.get(path, plain=True)
        assert r.status in (400, 404), (path, r)
        assert r.content_type == "application/json", (path, r)


def test_concurrent_issue_and_revoke(make_tenant, work):
    """Issuance and revocation from several workers at once: unique serials,
    every revocation in the final CRL, each DELETE succeeding exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    t = make_tenant()
    ca = t.ca_pem()
    csrs = [work.csr("p256", subject=f"/CN=concurrent {i}") for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        issued = list(pool.map(t.issue, csrs))
    assert len({fp for fp, _ in issued}) == 12
    assert len({serial(pem) for _, pem in issued}) == 12
    before = Crl(t.crl_pem()).number

    # Every certificate deleted twice, concurrently: one 204 and one 404 each.
    fps = [fp for fp, _ in issued] * 2
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda fp: t.delete(f"{CERTS}/{fp}").status, fps))
    for fp in {fp for fp, _ in issued}:
        got = sorted(s for f, s in zip(fps, statuses) if f == fp)
        assert got == [204, 404], (fp, got)

    crl = t.crl_with(*[serial(pem) for _, pem in issued])
    assert crl.serials == {serial(pem) for _, pem in issued}
    assert crl.number > before
    assert crl.verifies_with(ca, work)
    assert t.get(CERTS).json()["paging"]["totalItems"] == 0


def test_revocation_does_not_wait_for_the_crl(owned, make_tenant, work):
    """No request builds a CRL: with fleetpki-worker stopped, DELETE still
    answers, OCSP-free readers see the old CRL, and the CRL with the
    revocation appears once the worker runs again (its queued job)."""
    import os
    import signal
    import subprocess
    import time

    from helpers import psql, wait_until

    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=stopped worker"))
    first = t.crl_pem()
    url = owned.env["FLEETPKI_DATABASE_URL"]
    # Earlier tests' CRL jobs done first: one running when the worker
    # stops would take this revocation along instead of a new job.
    wait_until(lambda: psql(url, "SELECT count(*) FROM jobs WHERE kind = 'crl.revoked' "
                                 "AND state IN ('pending', 'running')") == "0",
               60, "earlier crl.revoked jobs to finish")
    sup = int((owned.dir / "run/fleetpki-worker.pid").read_text().split()[0])
    kids = [int(p) for p in subprocess.run(["pgrep", "-P", str(sup)], capture_output=True,
                                           text=True).stdout.split()]
    stopped = [sup] + kids
    for p in stopped:
        os.kill(p, signal.SIGSTOP)
    try:
        assert t.delete(f"{CERTS}/{fp}").status == 204
        queued = psql(url, "SELECT count(*) FROM jobs WHERE kind = 'crl.revoked' "
                           "AND state = 'pending'")
        assert int(queued) >= 1
        time.sleep(2)
        assert t.crl_pem() == first
    finally:
        for p in stopped:
            os.kill(p, signal.SIGCONT)
    crl = t.crl_with(serial(pem))
    assert crl.verifies_with(t.ca_pem(), work)


def test_crl_is_served_from_nginx_cache(make_tenant, client, work):
    """The distribution point is cached by nginx (nginx/crl.conf): repeated
    fetches within two seconds are HITs with the same bytes, validators
    are answered from the cache, and a new CRL arrives all the same."""
    import email.utils
    import time
    import urllib.parse

    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=cached crl"))
    url = crl_dp_urls(pem)[0]
    first = client.fetch_url(url)
    assert first.status == 200, first
    hits = [client.fetch_url(url) for _ in range(5)]
    assert all(r.body == first.body for r in hits)
    assert any(r.headers.get("x-cache") == "HIT" for r in hits), [r.headers for r in hits]
    crl = Crl(der_pem(first.body, "X509 CRL"))
    etag = first.headers["etag"]
    assert etag == f'"crl-{crl.number}"'
    lm = email.utils.parsedate_to_datetime(first.headers["last-modified"])
    exp = email.utils.parsedate_to_datetime(first.headers["expires"])
    assert lm < exp and exp.timestamp() > time.time()
    assert first.headers["cache-control"].startswith("public, max-age=")
    path = urllib.parse.urlsplit(url).path
    r = client.get(path, plain=True, headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b"", r
    # A revocation: the worker's CRL, then nginx's copy, within seconds.
    assert t.delete(f"{CERTS}/{fp}").status == 204

    def fresh():
        r = client.fetch_url(url)
        return r.status == 200 and serial(pem) in Crl(der_pem(r.body, "X509 CRL")).serials

    from helpers import wait_until
    wait_until(fresh, 30, "the new CRL through nginx")
