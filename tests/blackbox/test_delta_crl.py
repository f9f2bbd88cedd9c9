"""Delta CRLs (RFC 5280 5.2.4), issue 12: certificates and complete CRLs
name the delta CRL in their Freshest CRL extension; after a revocation
the worker issues a delta over the CA's newest base, numbered above every
complete CRL; `openssl verify -crl_check -use_deltas` with an older
complete CRL and the delta finds the revocation; a base is issued once
crl_base_interval has passed, and the complete CRL stays current."""

import contextlib
import os
import re
import signal
import subprocess

from helpers import Crl, openssl, psql, serial, wait_until, x509_text
from test_worker import config_with


def freshest_urls(text):
    m = re.search(r"X509v3 Freshest CRL:\s*\n(.*?)(?:\n\s*X509v3|\n\s*Authority|"
                  r"\n\s*Signature Algorithm|\n\s*Revoked|\Z)", text, re.S)
    assert m, f"no Freshest CRL in:\n{text}"
    return re.findall(r"URI:(\S+)", m.group(1))


def crl_dp(cert_pem):
    m = re.search(r"X509v3 CRL Distribution Points:\s*\n\s*Full Name:\s*\n\s*URI:(\S+)",
                  x509_text(cert_pem))
    assert m, x509_text(cert_pem)
    return m.group(1)


def fetch_crl(client, url):
    """(Crl, response) of the DER CRL at 'url' on the plain listener."""
    r = client.fetch_url(url)
    assert r.status == 200, r
    assert r.content_type == "application/pkix-crl", r
    pem = openssl("crl", "-inform", "DER", "-outform", "PEM", input=r.body).stdout_text
    return Crl(pem), r


def delta_base(crl):
    m = re.search(r"X509v3 Delta CRL Indicator: critical\s*\n\s*(\S+)", crl.text)
    return int(m.group(1), 0) if m else None


@contextlib.contextmanager
def stopped_worker(stack):
    """The stack's fleetpki-worker (supervisor and children) stopped."""
    sup = int((stack.dir / "run/fleetpki-worker.pid").read_text().split()[0])
    kids = [int(p) for p in subprocess.run(["pgrep", "-P", str(sup)], capture_output=True,
                                           text=True).stdout.split()]
    for p in [sup] + kids:
        os.kill(p, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in [sup] + kids:
            os.kill(p, signal.SIGCONT)


def test_certificates_and_crls_name_the_delta(stack, make_tenant, work):
    t = make_tenant()
    _, pem = t.issue(work.csr("p256", subject="/CN=freshest"))
    dp = crl_dp(pem)
    assert dp.endswith(".crl")
    urls = freshest_urls(x509_text(pem))
    assert urls == [dp[:-len(".crl")] + "-delta.crl"], urls
    complete = Crl(t.crl_pem())
    assert freshest_urls(complete.text) == urls
    assert delta_base(complete) is None
    delta, r = fetch_crl(stack.client, urls[0])
    assert delta_base(delta) is not None and delta_base(delta) <= complete.number
    assert delta.number > delta_base(delta)
    assert "Freshest CRL" not in delta.text
    assert delta.verifies_with(t.ca_pem(), work)
    assert r.headers.get("etag") == f'"crl-{delta.number}"', r
    # A delta of no CA, and names that are no CRL's.
    other = dp[:-len(".crl")].rsplit("/", 1)[0]
    for name in ("0" * 32 + "-delta.crl", "-delta.crl", "x" * 40 + "-delta.crl",
                 dp.rsplit("/", 1)[1][:-4] + "-delta-delta.crl"):
        assert stack.client.fetch_url(f"{other}/{name}").status == 404, name


def test_a_revocation_reaches_the_delta_and_use_deltas_finds_it(stack, make_tenant, work):
    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=delta revoked"))
    _, keep_pem = t.issue(work.csr("p256", subject="/CN=delta kept"))
    url = freshest_urls(x509_text(pem))[0]
    before = Crl(t.crl_pem())        # complete, without the serial
    assert serial(pem) not in before.serials

    assert t.delete(f"/x509/v1/certificates/{fp}").status == 204

    def delta_lists():
        d, _ = fetch_crl(stack.client, url)
        return d if serial(pem) in d.serials else None

    delta = wait_until(delta_lists, 30, "a delta CRL listing the revocation")
    assert serial(keep_pem) not in delta.serials
    assert delta_base(delta) <= before.number < delta.number
    # The complete CRL follows too (crl_complete_on_revoke, the default),
    # numbered below the delta that completes it.
    after = t.crl_with(serial(pem))

    def delta_above():
        d, _ = fetch_crl(stack.client, url)
        return d if d.number > after.number else None

    wait_until(delta_above, 30, "a delta numbered above the complete CRL")

    ca = work.write("delta-ca.pem", t.ca_pem())
    base_f = work.write("delta-base.pem", before.pem)
    delta_f = work.write("delta-delta.pem", delta.pem)
    cert_f = work.write("delta-cert.pem", pem)
    keep_f = work.write("delta-keep.pem", keep_pem)
    # The older complete CRL alone still says good; with the delta, revoked.
    r = openssl("verify", "-CAfile", str(ca), "-crl_check", "-CRLfile", str(base_f),
                str(cert_f), check=False)
    assert r.returncode == 0, r.stdout_text + r.stderr_text
    r = openssl("verify", "-CAfile", str(ca), "-crl_check", "-use_deltas",
                "-CRLfile", str(base_f), "-CRLfile", str(delta_f), str(cert_f), check=False)
    assert r.returncode != 0
    assert "certificate revoked" in r.stdout_text + r.stderr_text
    r = openssl("verify", "-CAfile", str(ca), "-crl_check", "-use_deltas",
                "-CRLfile", str(base_f), "-CRLfile", str(delta_f), str(keep_f), check=False)
    assert r.returncode == 0, r.stdout_text + r.stderr_text


def test_a_new_base_after_the_base_interval(cli, stack, make_tenant, work, env, tmp_path):
    """Once the newest base is crl_base_interval old, the worker issues a
    complete CRL that is a base, and a delta over it that repeats nothing
    older: the delta lists only revocations since (plus the overlap)."""
    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=old revocation"))
    assert t.delete(f"/x509/v1/certificates/{fp}").status == 204
    url = freshest_urls(x509_text(pem))[0]
    wait_until(lambda: serial(pem) in fetch_crl(stack.client, url)[0].serials, 30,
               "the delta listing the first revocation")
    db = env["FLEETPKI_DATABASE_URL"]
    scope = (f"ca_id = (SELECT c.id FROM cas c JOIN tenants n ON n.id = c.tenant_id "
             f"WHERE n.name = '{t.name}')")
    old_base = int(psql(db, f"SELECT max(crl_number) FROM crls WHERE {scope} AND is_base"))
    # As if the base and the revocation were two days old.
    psql(db, f"UPDATE crls SET created_at = created_at - interval '2 days' WHERE {scope}; "
             f"UPDATE revocations SET revoked_at = revoked_at - interval '2 days' "
             f"WHERE {scope}")
    conf = config_with(cli, tmp_path, crl_base_interval=86400)
    cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
    new_base = int(psql(db, f"SELECT max(crl_number) FROM crls WHERE {scope} AND is_base"))
    assert new_base > old_base

    def delta_over_new_base():
        d, _ = fetch_crl(stack.client, url)
        return d if delta_base(d) == new_base else None

    delta = wait_until(delta_over_new_base, 30, "a delta over the new base")
    assert serial(pem) not in delta.serials
    base = Crl(t.crl_pem())
    assert serial(pem) in base.serials and base.number >= new_base


def test_complete_on_revoke_off_leaves_it_to_the_delta(cli, stack, make_tenant, work, env,
                                                      tmp_path):
    """crl_complete_on_revoke = off: a revocation makes a delta only; the
    complete CRL waits for its schedule (the base interval, nextUpdate)."""
    t = make_tenant()
    fp, pem = t.issue(work.csr("p256", subject="/CN=delta only"))
    before = Crl(t.crl_pem())
    url = freshest_urls(x509_text(pem))[0]
    conf = config_with(cli, tmp_path, crl_complete_on_revoke="off")
    with stopped_worker(stack):
        assert t.delete(f"/x509/v1/certificates/{fp}").status == 204
        cli.run("--once", program="fleetpki-worker", config=conf, timeout=120)
        delta, _ = fetch_crl(stack.client, url)
        assert serial(pem) in delta.serials and delta.number > before.number
        now = Crl(t.crl_pem())
        assert now.number == before.number and serial(pem) not in now.serials
