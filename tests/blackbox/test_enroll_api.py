"""Device enrollment without the ACME CA (issue 9): pre-provisioning with
the CLI, POST /api/register and /api/renew up to the order they leave for
fleetpki-worker, the answer once a certificate is stored, and every way
of being refused.  The ACME side, end to end against Pebble, is
test_enroll_acme.py."""

import os
import stat
import subprocess
import time

import pytest

from helpers import assert_json_error, psql, random_name

DOMAIN = "devices.example.test"


def rid(prefix="dev"):
    return f"{prefix}-{random_name().lower().replace('_', '-')}"[:40].rstrip("-")


class Tenant:
    def __init__(self, stack, configured=True):
        self.stack = stack
        self.url = stack.env["FLEETPKI_DATABASE_URL"]
        self.name = random_name()
        stack.cli.run("tenant", "create", self.name)
        self.id = int(psql(self.url, f"SELECT id FROM tenants WHERE name = '{self.name}'"))
        if configured:
            self.set("enroll.domain", DOMAIN)
            # Never reached here: no acme.order job runs in this file's stack
            # unless the ACME worker is built; the orders are what is checked.
            self.set("acme.directory_url", "https://127.0.0.1:9/dir")

    def set(self, key, value):
        return self.stack.cli.run("setting", "set", "--tenant", self.name, key, value)

    def cli(self, *args, check=True):
        return self.stack.cli.run(*args[:2], "--tenant", self.name, *args[2:], check=check)

    def add(self, device_id=None):
        device_id = device_id or rid()
        out = self.cli("device", "add", "--id", device_id).stdout
        return device_id, out.splitlines()[-1]

    def sql(self, q):
        return psql(self.url, q)


def register(client, device_id, secret, path="/api/register", **body):
    headers = {} if secret is None else {"X-Device-Secret": secret}
    return client.post(path, {"deviceId": device_id,
                              "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              **body}, headers=headers)


@pytest.fixture(scope="module")
def tenant(stack):
    return Tenant(stack)


def test_add_prints_the_secret_once_and_keeps_only_its_hmac(stack, tenant):
    device_id, secret = tenant.add()
    assert len(secret) == 32 and secret.isalnum()
    stored = tenant.sql(f"SELECT secret_hash FROM enroll_devices WHERE device_id = '{device_id}'")
    assert len(stored) == 64 and secret not in stored
    shown = tenant.cli("device", "show", device_id).stdout
    assert f"device {device_id}" in shown and "state pending" in shown and secret not in shown


@pytest.mark.parametrize("bad", ["abcd", "-abcde", "abcde-", "ABCDE", "ab_cde", "a" * 64, "ab.cde"])
def test_add_refuses_an_id_that_is_no_dns_label(tenant, bad):
    r = tenant.cli("device", "add", "--id", bad, check=False)
    assert r.returncode != 0 and "device id" in r.stderr
    assert tenant.sql(f"SELECT count(*) FROM enroll_devices WHERE device_id = '{bad}'") == "0"


def test_an_id_is_unique_across_tenants_and_the_refusal_names_no_tenant(stack, tenant):
    device_id, _ = tenant.add()
    other = Tenant(stack)
    r = other.cli("device", "add", "--id", device_id, check=False)
    assert r.returncode != 0 and "taken" in r.stderr and tenant.name not in r.stderr
    assert other.sql(f"SELECT count(*) FROM enroll_devices WHERE tenant_id = {other.id}") == "0"


def test_register_answers_202_and_leaves_one_order_for_the_worker(stack, tenant):
    device_id, secret = tenant.add()
    r = register(stack.client, device_id, secret)
    assert r.status == 202, r
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["hostname"] == f"{device_id}.{DOMAIN}" and body["status"] == "pending"
    # Again, while it is open: the same order, no second job.
    r = register(stack.client, device_id, secret)
    assert r.status == 202, r
    rows = tenant.sql(f"""SELECT o.kind, o.state, o.hostname, o.csr_pem IS NULL, d.state
        FROM acme_orders o JOIN enroll_devices d ON d.id = o.device_ref
        WHERE d.device_id = '{device_id}'""").splitlines()
    assert rows == [f"new|queued|{device_id}.{DOMAIN}|t|issuing"]
    jobs = tenant.sql(f"""SELECT count(*) FROM jobs WHERE kind = 'acme.order' AND key =
        (SELECT o.id::text FROM acme_orders o JOIN enroll_devices d ON d.id = o.device_ref
         WHERE d.device_id = '{device_id}') AND tenant_id = {tenant.id}""")
    assert jobs == "1"
    seen = tenant.sql(f"SELECT registered_at IS NOT NULL AND last_seen IS NOT NULL "
                      f"FROM enroll_devices WHERE device_id = '{device_id}'")
    assert seen == "t"


def test_wrong_secret_unknown_and_disabled_devices_get_the_same_401(stack, tenant):
    device_id, secret = tenant.add()
    disabled, dsecret = tenant.add()
    tenant.cli("device", "disable", disabled)
    answers = [
        register(stack.client, device_id, "x" * 32),
        register(stack.client, rid("nobody"), secret),
        register(stack.client, disabled, dsecret),
        register(stack.client, device_id, None),
        register(stack.client, "NOT_AN_ID", secret),
    ]
    for r in answers:
        assert_json_error(r, 401)
    assert len({r.body for r in answers}) == 1, [r.body for r in answers]
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id IN ('{device_id}', '{disabled}')") == "0"
    # Enabled again, the device registers.
    tenant.cli("device", "enable", disabled)
    assert register(stack.client, disabled, dsecret).status == 202


def test_repeated_failures_lock_an_id_known_or_not(stack, tenant):
    device_id, secret = tenant.add()
    unknown = rid("ghost")
    for who in (device_id, unknown):
        codes = [register(stack.client, who, "wrong-secret").status for _ in range(10)]
        assert codes == [401] * 9 + [429], codes
        # Locked: even the right secret is refused for a while.
        r = register(stack.client, who, secret)
        assert_json_error(r, 429)
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "0"
    # The operator's view of the lock: the failures table, cleared by hand.
    tenant.sql(f"DELETE FROM enroll_failures WHERE device_id = '{device_id}'")
    assert register(stack.client, device_id, secret).status == 202


def test_a_success_forgets_earlier_failures(stack, tenant):
    device_id, secret = tenant.add()
    for _ in range(3):
        assert register(stack.client, device_id, "nope").status == 401
    assert tenant.sql(f"SELECT failures FROM enroll_failures WHERE device_id = '{device_id}'") == "3"
    assert register(stack.client, device_id, secret).status == 202
    assert tenant.sql(f"SELECT count(*) FROM enroll_failures WHERE device_id = '{device_id}'") == "0"


def test_rotate_secret_replaces_the_old_one_at_once(stack, tenant):
    device_id, old = tenant.add()
    out = tenant.cli("device", "rotate-secret", device_id).stdout
    new = out.splitlines()[-1]
    assert new != old and len(new) == 32
    assert_json_error(register(stack.client, device_id, old), 401)
    assert register(stack.client, device_id, new).status == 202


def test_register_without_enrollment_configured_is_503(stack):
    t = Tenant(stack, configured=False)
    device_id, secret = t.add()
    r = register(stack.client, device_id, secret)
    assert_json_error(r, 503)
    assert "enroll.domain" in r.json()["message"]
    assert t.sql(f"SELECT count(*) FROM acme_orders WHERE tenant_id = {t.id}") == "0"


def test_bad_requests_are_400_and_change_nothing(stack, tenant):
    device_id, secret = tenant.add()
    c = stack.client
    h = {"X-Device-Secret": secret}
    assert_json_error(c.post("/api/register", {"timestamp": "x"}, headers=h), 400)
    assert_json_error(c.post("/api/register", {"deviceId": device_id, "extra": 1}, headers=h), 400)
    assert_json_error(c.post("/api/register", {"deviceId": 5}, headers=h), 400)
    assert_json_error(c.post("/api/register", "not json", headers={**h, "Content-Type": "application/json"}), 400)
    r = c.post("/api/register", "deviceId=x", headers={**h, "Content-Type": "text/plain"})
    assert r.status == 415, r
    # Renew needs the device's own hostname.
    r = register(c, device_id, secret, path="/api/renew", hostname=f"other.{DOMAIN}")
    assert_json_error(r, 400)
    assert "hostname" in r.json()["message"]
    r = c.post("/api/renew", {"deviceId": device_id}, headers=h)
    assert_json_error(r, 400)
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "0"
    r = c.get("/api/register")
    assert r.status == 405, r


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, input=input).stdout


def make_csr(tmp_path, cn, sans, curve="prime256v1"):
    key = tmp_path / f"{random_name()}.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", str(key))
    args = ["req", "-new", "-key", str(key), "-subj", f"/CN={cn}"]
    if sans:
        args += ["-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans)]
    csr = openssl(*args).decode()
    spki = openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")
    import hashlib
    return key, csr, hashlib.sha256(spki).hexdigest()


def test_a_csr_must_be_well_formed_and_for_exactly_the_hostname(stack, tenant, tmp_path):
    device_id, secret = tenant.add()
    host = f"{device_id}.{DOMAIN}"
    c = stack.client
    _, wrong, _ = make_csr(tmp_path, host, [host, "extra." + DOMAIN])
    assert_json_error(register(c, device_id, secret, csr=wrong), 400)
    _, other, _ = make_csr(tmp_path, "someone.else", ["someone.else"])
    assert_json_error(register(c, device_id, secret, csr=other), 400)
    assert_json_error(register(c, device_id, secret, csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                                       "-----END CERTIFICATE REQUEST-----\n"), 400)
    _, weak, _ = make_csr(tmp_path, host, [host], curve="secp224r1")
    r = register(c, device_id, secret, csr=weak)
    assert_json_error(r, 400)
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "0"
    _, good, _ = make_csr(tmp_path, host, [host])
    assert register(c, device_id, secret, csr=good).status == 202
    assert tenant.sql(f"SELECT csr_pem IS NOT NULL FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "t"


def store_certificate(tenant, device_id, key, spki, tmp_path, days=90, age_days=0):
    """What the worker stores once the CA has answered (here: a certificate
    of our own making for the device's key, for its hostname)."""
    host = f"{device_id}.{DOMAIN}"
    cert = tmp_path / f"{random_name()}.pem"
    openssl("req", "-new", "-x509", "-key", str(key), "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host}", "-days", str(days), "-out", str(cert))
    pem = cert.read_text()
    dev = f"(SELECT id FROM enroll_devices WHERE device_id = '{device_id}')"
    tenant.sql(f"""
        UPDATE acme_orders SET state = 'valid', finished_at = now() WHERE device_ref = {dev}
            AND state NOT IN ('valid', 'failed');
        UPDATE enroll_certs SET superseded_at = now() WHERE device_ref = {dev} AND superseded_at IS NULL;
        INSERT INTO enroll_certs (tenant_id, device_ref, hostname, chain_pem, spki_sha256, serial,
                                  not_before, not_after)
        VALUES ({tenant.id}, {dev}, '{host}', $pem${pem}$pem$, '{spki}', 'AB01',
                now() - interval '{age_days} days', now() - interval '{age_days} days'
                + interval '{days} days');
        UPDATE enroll_devices SET state = 'issued', not_after = now() - interval '{age_days} days'
            + interval '{days} days' WHERE id = {dev}""")
    return pem


def test_once_stored_the_certificate_is_the_answer_and_register_is_idempotent(stack, tenant, tmp_path):
    device_id, secret = tenant.add()
    host = f"{device_id}.{DOMAIN}"
    key, csr, spki = make_csr(tmp_path, host, [host])
    assert register(stack.client, device_id, secret, csr=csr).status == 202
    pem = store_certificate(tenant, device_id, key, spki, tmp_path)
    for _ in range(2):
        r = register(stack.client, device_id, secret, csr=csr)
        assert r.status == 200, r
        body = r.json()
        assert body["hostname"] == host and body["certificate"] == pem
        assert "privateKey" not in body
        assert body["expiresAt"].endswith("Z") and body["expiresAt"][:4].isdigit()
        assert r.headers.get("cache-control") == "no-store"
    # Renew of a fresh certificate answers the same one at once.
    r = register(stack.client, device_id, secret, path="/api/renew", hostname=host, csr=csr)
    assert r.status == 200 and r.json()["certificate"] == pem, r
    # A new key (another CSR): another order, not the old certificate.
    _, csr2, _ = make_csr(tmp_path, host, [host])
    assert register(stack.client, device_id, secret, csr=csr2).status == 202
    rows = tenant.sql(f"""SELECT kind FROM acme_orders o JOIN enroll_devices d ON d.id = o.device_ref
        WHERE d.device_id = '{device_id}' ORDER BY o.id""").splitlines()
    assert rows == ["new", "renew"]


def test_renew_in_the_renewal_window_opens_a_renewal(stack, tenant, tmp_path):
    device_id, secret = tenant.add()
    host = f"{device_id}.{DOMAIN}"
    key, csr, spki = make_csr(tmp_path, host, [host])
    assert register(stack.client, device_id, secret, csr=csr).status == 202
    # 90 days, 70 gone: less than a third left.
    pem = store_certificate(tenant, device_id, key, spki, tmp_path, days=90, age_days=70)
    # Register still answers the valid certificate...
    r = register(stack.client, device_id, secret, csr=csr)
    assert r.status == 200 and r.json()["certificate"] == pem
    # ...renew asks the worker for the next one.
    r = register(stack.client, device_id, secret, path="/api/renew", hostname=host, csr=csr)
    assert r.status == 202, r
    assert tenant.sql(f"""SELECT o.kind || '|' || d.state FROM acme_orders o JOIN enroll_devices d
        ON d.id = o.device_ref WHERE d.device_id = '{device_id}' AND o.state = 'queued'""") == "renew|renewing"


def test_a_failed_order_is_not_retried_by_every_call(stack, tenant):
    device_id, secret = tenant.add()
    assert register(stack.client, device_id, secret).status == 202
    tenant.sql(f"""UPDATE acme_orders SET state = 'failed', finished_at = now(),
        error_type = 'urn:ietf:params:acme:error:dns', error_detail = 'no TXT record'
        WHERE device_ref = (SELECT id FROM enroll_devices WHERE device_id = '{device_id}');
        UPDATE enroll_devices SET state = 'failed', last_error = 'no TXT record'
        WHERE device_id = '{device_id}'""")
    r = register(stack.client, device_id, secret)
    assert r.status == 202 and int(r.headers["retry-after"]) > 60, r
    assert "failed" in r.json()["message"]
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "1"
    shown = tenant.cli("device", "show", device_id).stdout
    assert "state failed" in shown and "no TXT record" in shown and "urn:ietf:params:acme:error:dns" in shown


def test_list_pages_by_keyset_filters_and_stays_in_its_tenant(stack):
    t = Tenant(stack)
    ids = sorted(rid("list") for _ in range(7))
    for i in ids:
        t.add(i)
    t.cli("device", "disable", ids[2])
    other = Tenant(stack)
    other.add(rid("list"))

    def page(*args):
        out = t.cli("device", "list", *args).stdout.splitlines()
        rows = [line.split()[0] for line in out[1:] if not line.startswith("more:")]
        return rows, out[-1].startswith("more:")

    first, more = page("--limit", "3")
    assert first == ids[:3] and more
    second, more = page("--limit", "3", "--after", first[-1])
    assert second == ids[3:6] and more
    third, more = page("--limit", "3", "--after", second[-1])
    assert third == ids[6:] and not more
    disabled, _ = page("--state", "disabled")
    assert disabled == [ids[2]]
    pending, _ = page("--state", "pending")
    assert pending == [i for i in ids if i != ids[2]]
    pre, _ = page("--prefix", ids[4][:len(ids[4])])
    assert pre == [ids[4]]
    r = t.cli("device", "list", "--state", "bogus", check=False)
    assert r.returncode != 0 and "state" in r.stderr
    # Another tenant's device is never listed, shown, or disabled here.
    oid = other.sql(f"SELECT device_id FROM enroll_devices WHERE tenant_id = {other.id}")
    all_rows, _ = page("--limit", "1000")
    assert oid not in all_rows
    assert t.cli("device", "show", oid, check=False).returncode != 0
    assert t.cli("device", "disable", oid, check=False).returncode != 0
    assert other.sql(f"SELECT enabled FROM enroll_devices WHERE device_id = '{oid}'") == "t"


def test_import_reports_each_refused_row_and_writes_secrets_0600(stack, tmp_path):
    t = Tenant(stack)
    taken, _ = t.add()
    good = [rid("imp") for _ in range(1500)]
    rows = ["deviceId"] + good[:700] + ["Bad_Id", taken, good[5]] + good[700:]
    src = tmp_path / "ids.csv"
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "secrets.csv"
    r = t.cli("device", "import", str(src), "--secrets-out", str(out), check=False)
    assert r.returncode == 1, r.stderr
    assert "1503 devices, 1500 added, 3 refused" in r.stdout
    assert "line 702: Bad_Id: not a valid device id" in r.stderr
    assert f"line 703: {taken}: device id taken" in r.stderr
    assert f"line 704: {good[5]}: device id taken" in r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_text().splitlines()
    assert len(lines) == 1500 and [line.split(",")[0] for line in lines] == good
    assert t.sql(f"SELECT count(*) FROM enroll_devices WHERE tenant_id = {t.id}") == "1501"
    # A secret from the file works.
    device_id, secret = lines[0].split(",")
    assert register(stack.client, device_id, secret).status == 202
    # The file is never overwritten.
    r = t.cli("device", "import", str(src), "--secrets-out", str(out), check=False)
    assert r.returncode != 0 and "must not exist" in r.stderr


def test_import_atomic_adds_nothing_when_a_row_fails(stack, tmp_path):
    t = Tenant(stack)
    taken, _ = t.add()
    ids = [rid("atom") for _ in range(1200)] + [taken]
    src = tmp_path / "ids.txt"
    src.write_text("\n".join(ids) + "\n")
    out = tmp_path / "secrets.csv"
    r = t.cli("device", "import", str(src), "--secrets-out", str(out), "--atomic", check=False)
    assert r.returncode == 1
    assert "none added" in r.stdout
    assert out.read_text() == ""
    assert t.sql(f"SELECT count(*) FROM enroll_devices WHERE tenant_id = {t.id}") == "1"
    # Without the bad row, all land.
    src.write_text("\n".join(ids[:-1]) + "\n")
    out2 = tmp_path / "secrets2.csv"
    r = t.cli("device", "import", str(src), "--secrets-out", str(out2), "--atomic")
    assert "1200 added, 0 refused" in r.stdout
    assert t.sql(f"SELECT count(*) FROM enroll_devices WHERE tenant_id = {t.id}") == "1201"


def test_settings_check_their_values_and_keep_secrets_sealed(stack, tenant):
    for key, bad in [("enroll.domain", "no_underscores.example"), ("enroll.domain", "single"),
                     ("acme.directory_url", "http://insecure.example/dir"),
                     ("acme.dns_provider", "route53"), ("acme.dns_resolvers", "127.0.0.1"),
                     ("acme.dns_hook", "relative/hook"), ("acme.contact", "not-an-email")]:
        r = tenant.cli("setting", "set", key, bad, check=False)
        assert r.returncode != 0 and key in r.stderr, (key, bad, r.stderr)
    tenant.set("acme.dns_resolvers", "127.0.0.1:8053,[::1]:53")
    tenant.set("acme.eab_hmac_key", "c2VjcmV0LW1hYy1rZXk")
    listed = tenant.cli("setting", "list").stdout
    assert "c2VjcmV0LW1hYy1rZXk" not in listed and "acme.eab_hmac_key" in listed and "(set)" in listed
    stored = tenant.sql(f"SELECT value FROM settings WHERE tenant_id = {tenant.id} "
                        f"AND key = 'acme.eab_hmac_key'")
    assert stored and "c2VjcmV0LW1hYy1rZXk" not in stored
    tenant.set("acme.eab_hmac_key", "")


def self_signed(tmp_path, key, host, days=90):
    cert = tmp_path / f"{random_name()}.pem"
    openssl("req", "-new", "-x509", "-key", str(key), "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host}", "-days", str(days), "-out", str(cert))
    return cert


def test_import_cert_with_its_key_is_answered_to_the_device(stack, tenant, tmp_path):
    """A fleet moving from another provisioning server: the operator brings
    each device's certificate and key; the device registers and gets them,
    without an order."""
    device_id, secret = tenant.add()
    host = f"{device_id}.{DOMAIN}"
    key, _, spki = make_csr(tmp_path, host, [host])
    cert = self_signed(tmp_path, key, host)
    out = tenant.cli("device", "import-cert", device_id, "--cert", str(cert),
                     "--key-file", str(key)).stdout
    assert "certificate imported with its key" in out
    sealed = tenant.sql(f"SELECT encode(key_sealed, 'hex') FROM enroll_certs c JOIN enroll_devices d "
                        f"ON d.id = c.device_ref WHERE d.device_id = '{device_id}'")
    assert sealed and "PRIVATE" not in sealed
    r = register(stack.client, device_id, secret)
    assert r.status == 200, r
    body = r.json()
    assert body["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    # The key answered is the key imported.
    answered = tmp_path / "answered.key"
    answered.write_text(body["privateKey"])
    assert openssl("pkey", "-in", str(answered), "-pubout", "-outform", "DER") == \
        openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER")
    assert tenant.sql(f"SELECT count(*) FROM acme_orders o JOIN enroll_devices d ON "
                      f"d.id = o.device_ref WHERE d.device_id = '{device_id}'") == "0"
    assert "state issued" in tenant.cli("device", "show", device_id).stdout


def test_import_cert_refuses_what_does_not_fit(stack, tenant, tmp_path):
    device_id, _ = tenant.add()
    host = f"{device_id}.{DOMAIN}"
    key, _, _ = make_csr(tmp_path, host, [host])
    other_key, _, _ = make_csr(tmp_path, host, [host])
    wrong_host = self_signed(tmp_path, key, "elsewhere.example")
    good = self_signed(tmp_path, key, host)
    for args, why in [
        (["--cert", str(wrong_host), "--key-file", str(key)], "not for"),
        (["--cert", str(good), "--key-file", str(other_key)], "not for the key"),
        (["--cert", str(key)], "no PEM certificate"),
    ]:
        r = tenant.cli("device", "import-cert", device_id, *args, check=False)
        assert r.returncode != 0 and why in r.stderr, (args, r.stderr)
    r = tenant.cli("device", "import-cert", rid("nobody"), "--cert", str(good), check=False)
    assert r.returncode != 0 and "no device" in r.stderr
    assert tenant.sql(f"SELECT count(*) FROM enroll_certs c JOIN enroll_devices d ON "
                      f"d.id = c.device_ref WHERE d.device_id = '{device_id}'") == "0"
