"""Two complete fleetpki hosts over one PostgreSQL (issue 7): the stack
under test is host A; host B is started beside it the way README tells an
operator to, `scripts/up --dir B --port .. --http-port .. --join A`, with
its own nginx, fleetpkid and fleetpki-worker.  Nothing a second host would
need lives in a process: certificates issued through both land with
distinct serials, a revocation through A shows through B's OCSP and CRL,
CRL numbers only grow, a token minted by one host is good on the other, and
the worker's scheduled jobs run once, not once per host."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import helpers
from conftest import Cli, free_ports, read_env
from helpers import Client, crl_with, random_name, scripts_down, scripts_up, wait_until


def psql(env, sql):
    return helpers.psql(env["FLEETPKI_DATABASE_URL"], sql)

CERTS = "/x509/v1/certificates"



@pytest.fixture(scope="module")
def host_a(stack):
    """Host A: the stack under test, when this session started it."""
    if not stack.owned:
        pytest.skip("an external stack: no second host is started beside it")
    return stack


@pytest.fixture(scope="module")
def host_b(host_a):
    """Host B, joined to the stack's database, secrets and TLS."""
    d = Path(tempfile.mkdtemp(prefix="fleetpki-host-b-", dir="/tmp"))
    os.chmod(d, 0o711)
    https, http = free_ports(2)
    r = scripts_up(d, "--port", str(https), "--http-port", str(http), "--workers", "2",
                   "--join", str(host_a.dir), "--set", "outbound_allow=127.0.0.0/8")
    try:
        assert r.returncode == 0, r.stderr[-4000:]
        env = read_env(d / "env")
        yield env
    finally:
        scripts_down(d)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tenant(host_a):
    """A tenant of its own, made through host A's CLI."""
    name = random_name()
    host_a.cli.run("tenant", "create", name)
    host_a.cli.run("ca", "create", "--tenant", name, "--name", "ca1")
    return name


def test_b_shares_a_database_secrets_and_tls(host_a, host_b):
    owned = host_a
    assert host_b["FLEETPKI_DATABASE_URL"] == owned.env["FLEETPKI_DATABASE_URL"]
    assert host_b["FLEETPKI_URL"] != owned.env["FLEETPKI_URL"]
    assert (Path(host_b["FLEETPKI_TLS_CA"]).read_bytes()
            == Path(owned.env["FLEETPKI_TLS_CA"]).read_bytes())
    # Nothing of B's runs on A's ports, and B runs its own processes.
    assert Client(host_b).get("/api/health").json()["status"] == "ok"


def test_issuance_through_both_hosts(host_a, host_b, tenant, work):
    owned = host_a
    a, b = owned.client, Client(host_b)
    tok_a = owned.cli.token(tenant)
    tok_b = Cli(host_b).token(tenant)
    fingerprints = set()
    for i in range(10):
        # A token minted by either host's CLI is good on both.
        client = (a, b)[i % 2]
        tok = (tok_a, tok_b)[(i // 2) % 2]
        r = client.post(CERTS, {"csr": work.csr(subject=f"/CN=host {i}")}, token=tok)
        assert r.status == 201, (i, r)
        fingerprints.add(r.json()["certificateFingerprint"])
    assert len(fingerprints) == 10
    listed_a = a.get(f"{CERTS}?limit=250", token=tok_a).json()
    listed_b = b.get(f"{CERTS}?limit=250", token=tok_b).json()
    assert {c["fingerprint"] for c in listed_a["certificates"]} == fingerprints
    assert listed_a == listed_b
    serials = psql(owned.env, "SELECT count(DISTINCT serial), count(*) FROM certificates c "
                              f"JOIN tenants t ON t.id = c.tenant_id WHERE t.name = '{tenant}'")
    assert serials == "10|10"


def test_revocation_on_a_shows_on_b(host_a, host_b, tenant, work):
    owned = host_a
    from cm_helpers import cert_serial_hex, ocsp_query
    a, b = owned.client, Client(host_b)
    tok = owned.cli.token(tenant)
    ca_pem = a.get("/x509/v1/ca", token=tok).json()["caPem"]
    numbers = []
    for i in range(3):
        r = a.post(CERTS, {"csr": work.csr(subject=f"/CN=revoke {i}")}, token=tok)
        assert r.status == 201, r
        fp, pem = r.json()["certificateFingerprint"], r.json()["certificatePem"]
        # Both hosts say good first ...
        for h in (host_b, owned.env):
            res = ocsp_query(work, ca_pem, certs=[pem], url=h["FLEETPKI_HTTP_URL"] + "/ocsp")
            assert res.summary("cert0.pem") == "good", res
        assert a.delete(f"{CERTS}/{fp}", token=tok).status == 204
        # ... and B says revoked at once, through its own nginx.
        res = ocsp_query(work, ca_pem, certs=[pem], url=host_b["FLEETPKI_HTTP_URL"] + "/ocsp")
        assert res.summary("cert0.pem") == "revoked", res
        serial = int(cert_serial_hex(pem), 16)
        # The CRL follows within seconds, from either host's worker.
        crl_b = crl_with(lambda: b.get("/x509/v1/ca/crl", token=tok).json()["crl"], serial)
        crl_a = crl_with(lambda: a.get("/x509/v1/ca/crl", token=tok).json()["crl"], serial)
        assert serial in crl_b.serials and serial in crl_a.serials
        assert len(crl_b.serials) == i + 1 and len(crl_a.serials) == i + 1
        numbers += [crl_a.number, crl_b.number]
    # CRL numbers only grow, whichever host is asked.
    assert numbers == sorted(numbers), numbers
    assert numbers[-1] > numbers[0]


def test_revocation_on_a_empties_bs_ocsp_cache(host_a, host_b, tenant, work):
    """Host B's worker hears every revocation (sql/016) and empties B's
    nginx OCSP cache: a file placed there (nginx would never remove it)
    is gone after a revocation through host A."""
    owned = host_a
    a = owned.client
    tok = owned.cli.token(tenant)
    cache = Path(host_b["FLEETPKI_DIR"]) / "nginx/cache/ocsp"
    marker = cache / "marker"
    marker.write_text("an answer B's nginx kept\n")
    r = a.post(CERTS, {"csr": work.csr(subject="/CN=purge b")}, token=tok)
    assert r.status == 201, r
    assert marker.exists()
    assert a.delete(f"{CERTS}/{r.json()['certificateFingerprint']}", token=tok).status == 204
    wait_until(lambda: not marker.exists(), 30, "host B's worker to empty its OCSP cache")


def test_scheduled_jobs_run_once_across_hosts(host_a, host_b):
    owned = host_a
    """Both hosts' workers schedule crl.refresh (B's scheduled on start):
    one row is ever queued, and no run is duplicated."""
    env = owned.env
    queued = psql(env, "SELECT count(*) FROM jobs WHERE kind = 'crl.refresh' "
                       "AND state IN ('pending', 'running')")
    assert int(queued) <= 1, queued
    dup = psql(env, "SELECT count(*) - count(DISTINCT run_at) FROM jobs "
                    "WHERE kind = 'crl.refresh'")
    assert dup == "0", dup
