"""Delegated OCSP responders (issue 12, sql/025): `fleetpki ca
ocsp-signer --tenant T --ca NAME [--off]`.  The CA issues a short-lived
OCSP signing certificate (EKU OCSPSigning, id-pkix-ocsp-nocheck) that
fleetpkid signs the CA's answers with and includes in them, so that
`openssl ocsp -CAfile` with just the CA verifies them; fleetpki-worker
issues the next one at half its life and deletes expired ones."""

import re
import subprocess
import time

import pytest

from cm_helpers import cert_serial_hex, make_cm_tenant, ocsp_query  # noqa: F401  (make_cm_tenant is a fixture)
from helpers import openssl, psql, random_name, wait_until

ON = re.compile(r"^CA 'ca1' of tenant '(\S+)': OCSP answers signed by responder "
                r"([0-9A-F]+) until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$")


@pytest.fixture(scope="module")
def url(env):
    return env["FLEETPKI_HTTP_URL"] + "/ocsp"


@pytest.fixture(scope="module")
def db(stack):
    return stack.env["FLEETPKI_DATABASE_URL"]


@pytest.fixture
def tenant(make_cm_tenant):
    t = make_cm_tenant()
    u = t.user()
    r = u.get("/api/v1/root-certificate/obtain")
    assert r.status == 200, r
    t.ca = r.text
    _, t.good, _ = u.issue(domains=["good.example.com"])
    _, t.bad, _ = u.issue(domains=["bad.example.com"])
    assert u.revoke(cert_serial_hex(t.bad), "keyCompromise").status == 200
    return t


def responders(db, t):
    rows = psql(db, f"""SELECT r.serial FROM ocsp_responders r JOIN tenants t
                        ON t.id = r.tenant_id WHERE t.name = '{t.name}'
                        ORDER BY r.not_after DESC""")
    return rows.split()


def signed_by(res):
    """The serial of the responder certificate in the answer, or None
    when the CA signed it (no certificate included)."""
    m = re.search(r"^Certificate:\n(?:.*\n)*?\s+Serial Number:\s*\n?\s*([0-9a-f:]+)",
                  res.out, re.M)
    if not m:
        return None
    return m.group(1).replace(":", "").upper().lstrip("0")


def ask(work, t, url):
    res = ocsp_query(work, t.ca, certs=[t.good, t.bad], url=url)
    assert res.rc == 0 and res.verified, res
    assert res.summary("cert0.pem") == "good"
    assert res.summary("cert1.pem") == "revoked"
    return res


def test_the_responder_signs_and_verifies_against_the_ca_alone(stack, tenant, url, work, db):
    before = ask(work, tenant, url)
    assert signed_by(before) is None, before
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", tenant.name, "--ca", "ca1")
    m = ON.match(r.stdout.strip())
    assert m and m.group(1) == tenant.name, r.stdout
    serial = m.group(2)
    until = time.mktime(time.strptime(m.group(3)[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    # Four days (ocsp.responder_days), not years.
    assert abs(until - time.time() - 4 * 86400) < 600, m.group(3)
    assert responders(db, tenant) == [serial]

    # The certificate, as stored: the profile clients check.
    pem = openssl("x509", "-inform", "DER", input=bytes.fromhex(psql(
        db, f"SELECT encode(cert_der, 'hex') FROM ocsp_responders WHERE serial = '{serial}'"))
    ).stdout_text
    text = openssl("x509", "-noout", "-text", input=pem).stdout_text
    assert "OCSP Signing" in text and "OCSP No Check" in text, text
    assert "CA:FALSE" in text and "Digital Signature" in text, text
    assert "OCSP responder" in text
    v = openssl("verify", "-CAfile", str(work.file("ca-only.pem", tenant.ca)),
                "-purpose", "ocsphelper", input=pem, check=False)
    assert v.returncode == 0, v.stdout_text + v.stderr_text
    # The key is sealed, not stored in the clear.
    sealed = psql(db, f"SELECT length(key_sealed) > 0 AND position('PRIVATE'::bytea "
                      f"in key_sealed) = 0 FROM ocsp_responders "
                      f"WHERE serial = '{serial}'")
    assert sealed == "t"

    # Answers now come from it (a worker that cached the issuer before
    # re-reads it within 30 seconds), verified with just the CA.
    res = wait_until(lambda: (lambda x: x if signed_by(x) == serial.lstrip("0") else None)(
        ask(work, tenant, url)), 60, "an answer signed by the responder")
    assert "OCSP Signing" in res.out, res
    assert res.detail("cert1.pem").get("Reason") == "keyCompromise"


def test_the_worker_renews_at_half_life_and_deletes_expired(stack, tenant, url, work, db):
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", tenant.name, "--ca", "ca1")
    first = ON.match(r.stdout.strip()).group(2)
    # Its life as if it had run out (the owner may; the app may not).
    psql(db, f"""UPDATE ocsp_responders SET not_before = now() - interval '5 days',
                 not_after = now() - interval '1 second' WHERE serial = '{first}'""")
    got = wait_until(lambda: (lambda s: s if s and s != [first] else None)(
        responders(db, tenant)), 90, "the worker's next responder")
    # Issued once, the expired one deleted in the same transaction.
    assert len(got) == 1 and got[0] != first, got
    res = wait_until(lambda: (lambda x: x if signed_by(x) == got[0].lstrip("0") else None)(
        ask(work, tenant, url)), 60, "answers from the new responder")
    assert res.verified


def test_off_goes_back_to_the_ca(stack, tenant, url, work, db):
    stack.cli.run("ca", "ocsp-signer", "--tenant", tenant.name, "--ca", "ca1")
    wait_until(lambda: signed_by(ask(work, tenant, url)) is not None, 60, "the responder")
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", tenant.name, "--ca", "ca1", "--off")
    assert r.stdout.strip() == (f"CA 'ca1' of tenant '{tenant.name}': OCSP answers signed "
                                "by the CA (1 responder deleted)"), r.stdout
    assert responders(db, tenant) == []
    wait_until(lambda: signed_by(ask(work, tenant, url)) is None, 60, "the CA signing again")


def test_refusals(stack, make_cm_tenant):
    t = make_cm_tenant()
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", t.name, "--ca", "nope", check=False)
    assert r.returncode != 0 and "no CA 'nope'" in r.stderr, r
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", t.name, check=False)
    assert r.returncode != 0, r
    r = stack.cli.run("ca", "ocsp-signer", "--tenant", "no-such-" + random_name(), "--ca", "ca1",
                      check=False)
    assert r.returncode != 0, r


def test_the_app_role_cannot_change_or_read_another_tenants_responder(stack, tenant, db):
    stack.cli.run("ca", "ocsp-signer", "--tenant", tenant.name, "--ca", "ca1")
    app = stack.env.get("FLEETPKI_APP_DATABASE_URL")
    if not app:
        pytest.skip("one-role stack")
    # No tenant set: nothing visible; no UPDATE privilege at all.
    assert psql(app, "SELECT count(*) FROM ocsp_responders") == "0"
    r = subprocess.run(
        ["psql", app, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-Atc",
         "UPDATE ocsp_responders SET not_after = now()"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "permission denied" in r.stderr, r
