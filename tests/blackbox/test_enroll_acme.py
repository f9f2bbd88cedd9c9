"""Device enrollment's ACME client end to end: the stack's fleetpki-worker
against Pebble and pebble-challtestsrv on loopback (acme_helpers.py).

Orders are made as fleetpkid's request path makes them (an acme_orders
row, the device 'issuing', an acme.order job), here with psql as the
owner; the worker carries them to a certificate that chains to Pebble's
root, for exactly <deviceId>.<domain>.
"""

import hashlib
import json
import shutil
import subprocess
import time

import pytest

from acme_helpers import FakeAcme, Knot, Pebble, configure_tenant
from helpers import openssl, psql, random_name, wait_until

ISSUE_TIMEOUT = 300  # a loaded machine; not a threshold


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def new_device(db, tenant, device_id, csr_pem=None, domain="devices.test",
               kind="new", state="issuing"):
    """A device with an open order and its job; the order id."""
    csr = sql_str(csr_pem) if csr_pem else "NULL"
    return int(psql(db, f"""
        WITH t AS (SELECT id FROM tenants WHERE name = {sql_str(tenant)}),
        d AS (INSERT INTO enroll_devices (tenant_id, device_id, secret_hash, state)
              SELECT id, {sql_str(device_id)}, repeat('a', 64), {sql_str(state)} FROM t
              RETURNING tenant_id, id),
        o AS (INSERT INTO acme_orders (tenant_id, device_ref, kind, hostname, csr_pem)
              SELECT tenant_id, id, {sql_str(kind)},
                     {sql_str(device_id + '.' + domain)}, {csr} FROM d
              RETURNING id, tenant_id),
        j AS (INSERT INTO jobs (kind, key, tenant_id, max_attempts)
              SELECT 'acme.order', id::text, tenant_id, 12 FROM o)
        SELECT id FROM o"""))


def order_row(db, order_id):
    out = psql(db, f"""SELECT row_to_json(o) FROM (SELECT state, error_type,
        error_detail, key_sealed IS NOT NULL AS has_key, retry_at, order_url,
        dns_name FROM acme_orders WHERE id = {order_id}) o""")
    return json.loads(out)


def cert_of(db, order_id):
    out = psql(db, f"""SELECT row_to_json(c) FROM (SELECT c.chain_pem,
        c.spki_sha256, c.serial, c.hostname, c.key_sealed IS NOT NULL AS has_key,
        extract(epoch FROM c.not_after)::bigint AS not_after,
        c.superseded_at, d.state AS device_state, d.last_error,
        extract(epoch FROM d.not_after)::bigint AS device_not_after
        FROM enroll_certs c JOIN enroll_devices d ON d.id = c.device_ref
        WHERE c.order_id = {order_id}) c""")
    return json.loads(out) if out else None


def wait_final(db, order_id, timeout=ISSUE_TIMEOUT):
    def final():
        o = order_row(db, order_id)
        return o if o["state"] in ("valid", "failed") else None
    try:
        return wait_until(final, timeout, f"order {order_id} to finish",
                          step=0.5)
    except AssertionError as e:
        # Where it stood: the order, its job (attempts, last error, when
        # it is due again), so a slow run says why it was slow.
        raise AssertionError(f"{e}: order {order_row(db, order_id)}, "
                             f"job {job_of(db, order_id)}") from None


def pem_blocks(chain):
    out, cur = [], []
    for line in chain.splitlines():
        cur.append(line)
        if line.startswith("-----END"):
            out.append("\n".join(cur) + "\n")
            cur = []
    return out


def check_chain(work, pebble, chain, hostname):
    """The chain verifies against Pebble's root for exactly 'hostname'."""
    root, inter = pebble.roots()
    blocks = pem_blocks(chain)
    assert len(blocks) >= 2, chain
    leaf = blocks[0]
    root_f, untrusted_f, leaf_f = (work.path / "root.pem",
                                   work.path / "untrusted.pem",
                                   work.path / "leaf.pem")
    root_f.write_text(root)
    untrusted_f.write_text("".join(blocks[1:]) + inter)
    leaf_f.write_text(leaf)
    r = subprocess.run(["openssl", "verify", "-CAfile", str(root_f),
                        "-untrusted", str(untrusted_f), "-verify_hostname",
                        hostname, str(leaf_f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    text = openssl("x509", "-noout", "-ext", "subjectAltName", input=leaf).stdout
    assert f"DNS:{hostname}" in text
    assert text.count("DNS:") == 1, text
    return leaf


def spki_sha256(leaf_pem):
    der = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=leaf_pem,
                         capture_output=True, text=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=der.encode(), capture_output=True, check=True).stdout
    return hashlib.sha256(spki).hexdigest()


@pytest.fixture(scope="module")
def pebble(tmp_path_factory):
    p = Pebble(tmp_path_factory.mktemp("acme")).start()
    yield p
    p.close()


@pytest.fixture(scope="module")
def acme_tenant(stack, pebble):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, pebble, "devices.test")
    return name


@pytest.fixture
def db(stack):
    return stack.env["FLEETPKI_DATABASE_URL"]


def make_csr(work, hostname, key="ec"):
    k, c = work.path / f"{hostname}.key", work.path / f"{hostname}.csr"
    args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" \
        else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-new", *args, "-nodes", "-keyout", str(k),
                    "-out", str(c), "-subj", f"/CN={hostname}", "-addext",
                    f"subjectAltName=DNS:{hostname}"], check=True,
                   capture_output=True)
    return k, c.read_text()


def test_order_with_server_key(stack, pebble, acme_tenant, db, work):
    dev = "acme-" + random_name().lower()[:20]
    host = f"{dev}.devices.test"
    oid = new_device(db, acme_tenant, dev)
    o = wait_final(db, oid)
    assert o["state"] == "valid", o
    assert o["has_key"]
    c = cert_of(db, oid)
    assert c is not None
    assert c["hostname"] == host
    assert c["has_key"]
    assert c["device_state"] == "issued"
    assert c["last_error"] is None
    assert c["device_not_after"] == c["not_after"]
    assert c["superseded_at"] is None
    leaf = check_chain(work, pebble, c["chain_pem"], host)
    assert c["spki_sha256"] == spki_sha256(leaf)
    ser = openssl("x509", "-noout", "-serial", input=leaf).stdout.strip().split("=")[1]
    assert c["serial"] == ser.upper().lstrip("0") or c["serial"] == ser.upper()
    # The DNS-01 record was set, then removed.
    calls = [x for x in pebble.hook_calls() if x[1] == f"_acme-challenge.{host}"]
    assert [x[0] for x in calls] == ["present", "cleanup"], calls
    assert o["dns_name"] is None
    # The account is the tenant's, made once, its key sealed.
    acct = psql(db, f"""SELECT status, account_url LIKE 'https://127.0.0.1:%',
        length(key_sealed) > 0 FROM acme_accounts a JOIN tenants t ON t.id =
        a.tenant_id WHERE t.name = {sql_str(acme_tenant)}""")
    assert acct == "valid|t|t"
    # The job is done.
    assert psql(db, f"SELECT state FROM jobs WHERE kind = 'acme.order' "
                    f"AND key = '{oid}' ORDER BY id DESC LIMIT 1") == "done"


def test_order_with_device_csr(stack, pebble, acme_tenant, db, work):
    dev = "csr-" + random_name().lower()[:20]
    host = f"{dev}.devices.test"
    key, csr = make_csr(work, host)
    oid = new_device(db, acme_tenant, dev, csr_pem=csr)
    o = wait_final(db, oid)
    assert o["state"] == "valid", o
    assert not o["has_key"]
    c = cert_of(db, oid)
    assert not c["has_key"]
    leaf = check_chain(work, pebble, c["chain_pem"], host)
    mine = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"],
                          capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=leaf,
                            capture_output=True, text=True, check=True).stdout
    assert mine == theirs


def test_csr_for_another_name_fails(stack, pebble, acme_tenant, db, work):
    dev = "bad-" + random_name().lower()[:20]
    _, csr = make_csr(work, "someone-else.devices.test")
    oid = new_device(db, acme_tenant, dev, csr_pem=csr)
    o = wait_final(db, oid)
    assert o["state"] == "failed", o
    assert o["error_type"] == "fleetpki:csr"
    assert psql(db, f"""SELECT d.state, d.last_error LIKE 'fleetpki:csr:%'
        FROM enroll_devices d WHERE device_id = {sql_str(dev)}""") == "failed|t"
    # No record was left behind.
    calls = [x for x in pebble.hook_calls() if dev in x[1]]
    assert [x[0] for x in calls].count("present") == \
        [x[0] for x in calls].count("cleanup")


def test_health_reports_worker_and_acme(stack, pebble, acme_tenant):
    def probed():
        r = stack.client.get("/api/health")
        assert r.status == 200
        b = r.json()
        return b if b["acme"].get("status") == "ok" else None
    b = wait_until(probed, 120, "the worker's probe of Pebble", step=1)
    assert b["status"] == "ok" and b["database"] == "ok"
    assert b["worker"]["status"] == "ok"
    assert b["worker"]["lastSeenSecondsAgo"] >= 0
    assert b["acme"]["reachable"] == b["acme"]["directories"] >= 1


def new_order_for(db, device_id, kind="renew", domain="devices.test"):
    """Another order (and its job) for an existing device."""
    return int(psql(db, f"""
        WITH d AS (SELECT tenant_id, id FROM enroll_devices
                   WHERE device_id = {sql_str(device_id)}),
        o AS (INSERT INTO acme_orders (tenant_id, device_ref, kind, hostname)
              SELECT tenant_id, id, {sql_str(kind)},
                     {sql_str(device_id + '.' + domain)} FROM d
              RETURNING id, tenant_id),
        j AS (INSERT INTO jobs (kind, key, tenant_id, max_attempts)
              SELECT 'acme.order', id::text, tenant_id, 12 FROM o)
        SELECT id FROM o"""))


def job_of(db, oid):
    out = psql(db, f"""SELECT row_to_json(j) FROM (SELECT state, attempts,
        last_error, extract(epoch FROM run_at - now())::bigint AS due_in
        FROM jobs WHERE kind = 'acme.order' AND key = '{oid}'
        ORDER BY id DESC LIMIT 1) j""")
    return json.loads(out)


def test_pebble_stopped_mid_order_recovers(stack, pebble, acme_tenant, db, work):
    """Pebble dies once the DNS record is set: the order records the
    failure where it stood, and when Pebble is back (having forgotten the
    account and the order) the job carries it through by itself."""
    dev = "resume-" + random_name().lower()[:18]
    host = f"{dev}.devices.test"
    pebble.kill_on_next_present()
    oid = new_device(db, acme_tenant, dev)
    wait_until(lambda: pebble.proc.poll() is not None, 60, "pebble to die")
    o = wait_until(lambda: (lambda r: r if r["error_type"] else None)(
        order_row(db, oid)), 60, "the failure on the order")
    assert o["state"] == "validating", o
    assert o["order_url"] is not None
    j = job_of(db, oid)
    assert j["state"] == "pending" and j["attempts"] >= 1, j
    assert j["last_error"], j
    pebble.proc = None
    pebble.start()
    o = wait_final(db, oid, timeout=180)
    assert o["state"] == "valid", o
    check_chain(work, pebble, cert_of(db, oid)["chain_pem"], host)
    assert job_of(db, oid)["state"] == "done"
    # The record of the forgotten order was removed too.
    calls = [x[0] for x in pebble.hook_calls()
             if x[1] == f"_acme-challenge.{host}"]
    assert calls.count("present") == calls.count("cleanup") >= 2, calls


@pytest.fixture(scope="module")
def nonce_pebble(tmp_path_factory):
    p = Pebble(tmp_path_factory.mktemp("acme-nonce"), name="pebble-nonce",
               env={"PEBBLE_WFE_NONCEREJECT": "50"}).start()
    yield p
    p.close()


def test_bad_nonces_are_retried(stack, nonce_pebble, db, work):
    """Pebble refuses half the nonces: every order still completes."""
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, nonce_pebble, "nonce.test")
    devs = ["nonce-" + random_name().lower()[:16] for _ in range(3)]
    oids = [new_device(db, name, d, domain="nonce.test") for d in devs]
    for d, oid in zip(devs, oids):
        o = wait_final(db, oid)
        assert o["state"] == "valid", o
        check_chain(work, nonce_pebble, cert_of(db, oid)["chain_pem"],
                    f"{d}.nonce.test")
    # Pebble did refuse some (its log says so).
    assert "badNonce" in (nonce_pebble.dir / "pebble.log").read_text() or \
        "nonce" in (nonce_pebble.dir / "pebble.log").read_text().lower()


def test_weekly_budget_holds_new_orders_not_renewals(stack, pebble, db, work):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, pebble, "budget.test",
                     extra=[("acme.weekly_budget", "1")])
    d1 = "bud1-" + random_name().lower()[:16]
    d2 = "bud2-" + random_name().lower()[:16]
    o1 = new_device(db, name, d1, domain="budget.test")
    assert wait_final(db, o1)["state"] == "valid"
    o2 = new_device(db, name, d2, domain="budget.test")
    o = wait_until(lambda: (lambda r: r if r["error_type"] else None)(
        order_row(db, o2)), 60, "the budget to hold the order")
    assert o["state"] == "queued", o
    assert o["error_type"] == "fleetpki:budget", o
    assert o["retry_at"] is not None
    j = job_of(db, o2)
    # Parked until the first leaves the week; no attempt spent.
    assert j["state"] == "pending" and j["attempts"] == 0, j
    assert j["due_in"] > 6 * 86400, j
    # A renewal goes first: it is not held.
    r1 = new_order_for(db, d1, kind="renew", domain="budget.test")
    assert wait_final(db, r1)["state"] == "valid"
    assert psql(db, f"""SELECT count(*), count(*) FILTER (WHERE superseded_at
        IS NULL) FROM enroll_certs c JOIN enroll_devices d ON d.id =
        c.device_ref WHERE d.device_id = {sql_str(d1)}""") == "2|1"
    # The backlog, for operators.
    out = stack.cli.run("acme", "status", "--tenant", name).stdout
    assert "budget: 1 per 7 days, used 2, left 0" in out, out
    assert "queued: 1 " in out, out
    assert "account: https://127.0.0.1:" in out and "(valid)" in out, out
    assert d2 in out and "fleetpki:budget" in out, out
    assert order_row(db, o2)["state"] == "queued"


def test_worker_renews_certificates_near_expiry(stack, pebble, db, work):
    """The renewal scan (acme.renew) queues 'renew' orders for current
    certificates with less than enroll.renew_percent of their life left;
    a device's CSR is used again (its key stays on the device)."""
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, pebble, "renew.test",
                     extra=[("enroll.renew_percent", "50")])
    due = "due-" + random_name().lower()[:16]
    fresh = "fresh-" + random_name().lower()[:16]
    withcsr = "rcsr-" + random_name().lower()[:16]
    key, csr = make_csr(work, f"{withcsr}.renew.test")
    oids = [new_device(db, name, due, domain="renew.test"),
            new_device(db, name, fresh, domain="renew.test"),
            new_device(db, name, withcsr, csr_pem=csr, domain="renew.test")]
    for oid in oids:
        assert wait_final(db, oid)["state"] == "valid"
    # Two of them as if most of their life had passed.
    psql(db, f"""UPDATE enroll_certs c SET not_before = c.not_after -
        (c.not_after - c.not_before) * 10 FROM enroll_devices d WHERE d.id =
        c.device_ref AND d.device_id IN ({sql_str(due)}, {sql_str(withcsr)})""")
    stack.cli.run("--once", program="fleetpki-worker", timeout=120)

    def renewed(dev):
        out = psql(db, f"""SELECT o.id FROM acme_orders o JOIN enroll_devices d
            ON d.id = o.device_ref WHERE d.device_id = {sql_str(dev)} AND
            o.kind = 'renew'""")
        return int(out) if out else None
    for dev in (due, withcsr):
        rid = wait_until(lambda: renewed(dev), 60, f"a renewal of {dev}")
        assert wait_final(db, rid)["state"] == "valid"
        assert psql(db, f"""SELECT count(*), count(*) FILTER (WHERE
            superseded_at IS NULL), bool_and(d.state = 'issued') FROM
            enroll_certs c JOIN enroll_devices d ON d.id = c.device_ref
            WHERE d.device_id = {sql_str(dev)}""") == "2|1|t"
    assert renewed(fresh) is None
    # The CSR's key again.
    c = cert_of(db, renewed(withcsr))
    leaf = check_chain(work, pebble, c["chain_pem"], f"{withcsr}.renew.test")
    mine = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"],
                          capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=leaf,
                            capture_output=True, text=True, check=True).stdout
    assert mine == theirs
    # Renewed ones are not queued again.
    stack.cli.run("--once", program="fleetpki-worker", timeout=120)
    assert psql(db, f"""SELECT count(*) FROM acme_orders o JOIN tenants t ON
        t.id = o.tenant_id WHERE t.name = {sql_str(name)}""") == "5"


EAB_KID = "kid-fleet"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


@pytest.fixture(scope="module")
def eab_pebble(tmp_path_factory):
    p = Pebble(tmp_path_factory.mktemp("acme-eab"), name="pebble-eab",
               eab_keys={EAB_KID: EAB_KEY}).start()
    yield p
    p.close()


def test_external_account_binding(stack, eab_pebble, db, work):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, eab_pebble, "eab.test",
                     extra=[("acme.eab_kid", EAB_KID),
                            ("acme.eab_hmac_key", EAB_KEY)])
    dev = "eab-" + random_name().lower()[:16]
    oid = new_device(db, name, dev, domain="eab.test")
    o = wait_final(db, oid)
    assert o["state"] == "valid", o
    check_chain(work, eab_pebble, cert_of(db, oid)["chain_pem"],
                f"{dev}.eab.test")
    # The MAC key is a secret setting: never listed in clear.
    out = stack.cli.run("setting", "list", "--tenant", name).stdout
    assert EAB_KEY not in out


def test_eab_required_but_not_configured(stack, eab_pebble, db, work):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, eab_pebble, "noeab.test")
    dev = "noeab-" + random_name().lower()[:16]
    oid = new_device(db, name, dev, domain="noeab.test")
    o = wait_until(lambda: (lambda r: r if r["error_type"] else None)(
        order_row(db, oid)), 60, "the refusal on the order")
    assert "externalAccountRequired" in o["error_type"], o
    assert "acme.eab_kid" in o["error_detail"], o
    j = job_of(db, oid)
    assert j["state"] == "pending" and "externalAccountRequired" in j["last_error"]
    # Disabled, the device's order ends at the next attempt.
    psql(db, f"UPDATE enroll_devices SET enabled = false WHERE device_id = "
             f"{sql_str(dev)}")
    jid = psql(db, f"SELECT id FROM jobs WHERE kind = 'acme.order' AND key = "
                   f"'{oid}' ORDER BY id DESC LIMIT 1")
    stack.cli.run("job", "retry", jid)
    o = wait_final(db, oid)
    assert o["state"] == "failed" and o["error_type"] == "fleetpki:disabled"
    assert job_of(db, oid)["state"] == "failed"


@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    if not shutil.which("knotd") or not shutil.which("nsupdate"):
        pytest.skip("no knotd or nsupdate")
    k = Knot(tmp_path_factory.mktemp("knot")).start()
    yield k
    k.close()


def test_rfc2136_provider_with_knot(stack, knot, tmp_path_factory, db, work):
    """DNS-01 through RFC 2136 updates (nsupdate, TSIG) to knotd, which
    Pebble asks; the record is gone afterwards."""
    p = Pebble(tmp_path_factory.mktemp("acme-knot"), name="pebble-knot",
               dns_server=knot.server).start()
    try:
        name = random_name()
        stack.cli.run("tenant", "create", name)
        configure_tenant(stack.cli, name, p, knot.zone, extra=[
            ("acme.dns_provider", "rfc2136"),
            ("acme.rfc2136_server", knot.server),
            ("acme.rfc2136_key_file", str(knot.key_file)),
            ("acme.dns_resolvers", knot.server)])
        dev = "knot-" + random_name().lower()[:16]
        host = f"{dev}.{knot.zone}"
        oid = new_device(db, name, dev, domain=knot.zone)
        o = wait_final(db, oid)
        assert o["state"] == "valid", o
        check_chain(work, p, cert_of(db, oid)["chain_pem"], host)
        assert knot.dig(f"_acme-challenge.{host}").strip() == ""
        # The exec hook was not used.
        assert p.hook_calls() == []
    finally:
        p.close()


def test_rate_limit_parks_the_order(stack, tmp_path_factory, db):
    """A 429 rateLimited answer with Retry-After parks the job until then
    (no attempt spent, no second request) and is reported."""
    fake = FakeAcme(tmp_path_factory.mktemp("fake-acme"), retry_after="120")
    try:
        name = random_name()
        stack.cli.run("tenant", "create", name)
        configure_tenant(stack.cli, name, fake, "limited.test")
        dev = "limited-" + random_name().lower()[:16]
        oid = new_device(db, name, dev, domain="limited.test")
        o = wait_until(lambda: (lambda r: r if r["error_type"] else None)(
            order_row(db, oid)), 60, "the rate limit on the order")
        assert o["error_type"] == "urn:ietf:params:acme:error:rateLimited", o
        assert "too many certificates" in o["error_detail"]
        assert o["retry_at"] is not None
        assert o["state"] == "ordering"
        j = job_of(db, oid)
        assert j["state"] == "pending" and j["attempts"] == 0, j
        assert 100 <= j["due_in"] <= 121, j
        assert "rateLimited" in j["last_error"]
        time.sleep(3)
        assert fake.hits.get("/order") == 1, fake.hits
        log = (stack.dir / "log/fleetpki-worker.log").read_text()
        assert f"acme order {oid} " in log and "rate limited by the CA" in log
        # Ended: the device disabled, the next attempt fails it for good.
        psql(db, f"UPDATE enroll_devices SET enabled = false WHERE "
                 f"device_id = {sql_str(dev)}")
        jid = psql(db, f"SELECT id FROM jobs WHERE kind = 'acme.order' AND "
                       f"key = '{oid}' ORDER BY id DESC LIMIT 1")
        stack.cli.run("job", "retry", jid)
        assert wait_final(db, oid)["state"] == "failed"
        assert fake.hits.get("/order") == 1
    finally:
        fake.close()


# ---- through fleetpkid's POST /api/register and /api/renew ------------

def register(client, device_id, secret, path="/api/register", **body):
    return client.post(path, {"deviceId": device_id,
                              "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                         time.gmtime()),
                              **body}, headers={"X-Device-Secret": secret})


def add_device(stack, tenant, device_id):
    out = stack.cli.run("device", "add", "--tenant", tenant, "--id",
                        device_id).stdout
    return out.splitlines()[-1]


def register_until_issued(stack, device_id, secret, path="/api/register",
                          **body):
    def issued():
        r = register(stack.client, device_id, secret, path=path, **body)
        assert r.status in (200, 202), r
        return r if r.status == 200 else None
    return wait_until(issued, ISSUE_TIMEOUT, f"{device_id}'s certificate",
                      step=1)


def pub_of(pem, kind="x509"):
    args = ["x509", "-noout", "-pubkey"] if kind == "x509" else ["pkey", "-pubout"]
    return subprocess.run(["openssl", *args], input=pem, capture_output=True,
                          text=True, check=True).stdout


def test_register_202_then_200_with_server_key(stack, pebble, acme_tenant, work):
    dev = "reg-" + random_name().lower()[:18]
    host = f"{dev}.devices.test"
    secret = add_device(stack, acme_tenant, dev)
    r = register(stack.client, dev, secret)
    assert r.status == 202, r
    assert r.headers.get("retry-after", "").isdigit()
    r = register_until_issued(stack, dev, secret)
    b = r.json()
    assert b["hostname"] == host
    leaf = check_chain(work, pebble, b["certificate"], host)
    assert "PRIVATE KEY" in b["privateKey"]
    assert pub_of(b["privateKey"], "key") == pub_of(leaf)
    assert b["expiresAt"].endswith("Z")
    # Idempotent: the same certificate and key again.
    again = register(stack.client, dev, secret)
    assert again.status == 200
    assert again.json()["certificate"] == b["certificate"]
    assert again.json()["privateKey"] == b["privateKey"]
    shown = stack.cli.run("device", "show", "--tenant", acme_tenant, dev).stdout
    assert "issued" in shown


def test_register_with_csr_no_private_key(stack, pebble, acme_tenant, work):
    dev = "regcsr-" + random_name().lower()[:16]
    host = f"{dev}.devices.test"
    secret = add_device(stack, acme_tenant, dev)
    key, csr = make_csr(work, host)
    assert register(stack.client, dev, secret, csr=csr).status == 202
    b = register_until_issued(stack, dev, secret, csr=csr).json()
    assert "privateKey" not in b
    leaf = check_chain(work, pebble, b["certificate"], host)
    mine = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"],
                          capture_output=True, text=True, check=True).stdout
    assert pub_of(leaf) == mine


def test_renew_answers_the_certificate_the_worker_renewed(stack, pebble, db,
                                                          work):
    name = random_name()
    stack.cli.run("tenant", "create", name)
    configure_tenant(stack.cli, name, pebble, "devices.test",
                     extra=[("enroll.renew_percent", "50")])
    dev = "ren-" + random_name().lower()[:18]
    host = f"{dev}.devices.test"
    secret = add_device(stack, name, dev)
    assert register(stack.client, dev, secret).status == 202
    first = register_until_issued(stack, dev, secret).json()
    psql(db, f"""UPDATE enroll_certs c SET not_before = c.not_after -
        (c.not_after - c.not_before) * 10 FROM enroll_devices d WHERE
        d.id = c.device_ref AND d.device_id = {sql_str(dev)}""")
    stack.cli.run("--once", program="fleetpki-worker", timeout=120)

    def renewed():
        return psql(db, f"""SELECT count(*) = 2 FROM enroll_certs c JOIN
            enroll_devices d ON d.id = c.device_ref WHERE d.device_id =
            {sql_str(dev)}""") == "t"
    wait_until(renewed, ISSUE_TIMEOUT, "the worker's renewal", step=1)
    r = register_until_issued(stack, dev, secret, path="/api/renew",
                              hostname=host)
    b = r.json()
    assert b["certificate"] != first["certificate"]
    leaf = check_chain(work, pebble, b["certificate"], host)
    assert pub_of(b["privateKey"], "key") == pub_of(leaf)


def test_an_order_whose_job_is_gone_fails(stack, acme_tenant, db):
    """An open order with no job left (a worker died on its last attempt)
    does not hold its device 'issuing' for ever."""
    dev = "orphan-" + random_name().lower()[:16]
    oid = new_device(db, acme_tenant, dev)
    wait_final(db, oid)
    psql(db, f"""
        WITH d AS (SELECT tenant_id, id FROM enroll_devices
                   WHERE device_id = {sql_str(dev)}),
        o AS (INSERT INTO acme_orders (tenant_id, device_ref, kind, hostname,
                                       updated_at)
              SELECT tenant_id, id, 'renew', {sql_str(dev + '.devices.test')},
                     now() - interval '1 hour' FROM d RETURNING device_ref)
        UPDATE enroll_devices SET state = 'renewing' WHERE id IN
            (SELECT device_ref FROM o)""")
    stack.cli.run("--once", program="fleetpki-worker", timeout=120)
    assert psql(db, f"""SELECT o.state, o.error_type, d.state FROM acme_orders o
        JOIN enroll_devices d ON d.id = o.device_ref WHERE d.device_id =
        {sql_str(dev)} AND o.kind = 'renew'""") == "failed|fleetpki:job|failed"


def test_renewal_follows_the_ari_window(stack, tmp_path_factory, db, work):
    """A CA offering renewalInfo (RFC 9773): the worker asks it for the
    new certificate's window and stores it; past the window's start the
    renewal scan renews it, however young it is."""
    fake = FakeAcme(tmp_path_factory.mktemp("fake-ari"), issue=True,
                    ari_window=("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z"))
    dev = "ari-" + random_name().lower()[:16]
    try:
        name = random_name()
        stack.cli.run("tenant", "create", name)
        configure_tenant(stack.cli, name, fake, "ari.test")
        oid = new_device(db, name, dev, domain="ari.test")
        o = wait_final(db, oid)
        assert o["state"] == "valid", o
        row = psql(db, f"""SELECT ari_id, extract(epoch FROM renew_after)::bigint,
            extract(epoch FROM not_after - now())::bigint FROM enroll_certs
            WHERE order_id = {oid}""").split("|")
        assert fake.ari_asked == [row[0]], (fake.ari_asked, row)
        assert 1577836800 <= int(row[1]) <= 1577923200, row
        assert int(row[2]) > 80 * 86400  # young: by its life, not due
        stack.cli.run("--once", program="fleetpki-worker", timeout=120)
        rid = wait_until(lambda: psql(db, f"""SELECT o.id FROM acme_orders o
            JOIN enroll_devices d ON d.id = o.device_ref WHERE d.device_id =
            {sql_str(dev)} AND o.kind = 'renew'"""), 60, "the ARI renewal")
        assert wait_final(db, int(rid))["state"] == "valid"
    finally:
        # The window stays in the past: no renewals after this test.
        psql(db, f"UPDATE enroll_devices SET enabled = false WHERE "
                 f"device_id = {sql_str(dev)}")
        fake.close()
