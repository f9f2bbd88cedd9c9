"""Reports in psql and the reporting role (sql/022, issue 10).

Data is made through the APIs and the CLI (X.509 identity, certificate
maker, `fleetpki revoke`, `fleetpki device seal` and the device
simulator, webhooks, `fleetpki device add`); what only time or an ACME CA
would make (a heartbeat hours ago, delivery outcomes, finalized ACME
orders) is written as the owner, as the other suites do.  Every view is
then read through psql as a login role made IN ROLE fleetpki_report,
with no tenant set, and its numbers compared with what was made.  The
role is checked to reach no base table, no secret column, no SECURITY
DEFINER function, and to write nothing; the app role to be untouched.
"""

import csv
import datetime
import io
import json
import secrets
import shutil
import subprocess

import pytest

from cm_helpers import cert_dates, cert_serial_hex, make_cm_tenant  # noqa: F401
from helpers import psql, random_name
from secsvc_helpers import SecsvcTenant

VIEWS = ["certificates_expiring_weekly", "issuance_daily", "revocation_daily",
         "device_heartbeats", "silent_devices", "devices_by_state", "usage_daily",
         "webhook_health", "enroll_devices_by_state", "acme_orders", "acme_rate_budget"]

# Base-table columns no report may read (view_column_usage).
SECRET_COLUMNS = {
    ("cas", "key_sealed"), ("certificates", "key_sealed"), ("certificates", "pem"),
    ("jwt_keys", "private_sealed"), ("users", "token_hash"), ("api_keys", "secret_hash"),
    ("api_keys", "key"), ("refresh_tokens", "token_hash"), ("devices", "secret_sealed"),
    ("devices", "last_mac"), ("webhooks", "token_sealed"), ("webhooks", "secret_sealed"),
    ("webhooks", "url"), ("webhook_deliveries", "body"), ("acme_accounts", "key_sealed"),
    ("acme_orders", "key_sealed"), ("enroll_certs", "key_sealed"),
    ("enroll_devices", "secret_hash"), ("admin_operators", "password_hash"),
    ("admin_sessions", "token_hash"), ("challenges", "token"),
}
# webhooks.url is read for its host only: listed above so that the check
# below must name it as the one allowed exception.
ALLOWED = {("webhooks", "url")}

BASE_TABLES = ["certificates", "cas", "webhooks", "webhook_deliveries", "api_keys",
               "refresh_tokens", "users", "settings", "devices", "device_usage",
               "enroll_devices", "enroll_certs", "acme_accounts", "acme_orders",
               "jwt_keys", "admin_operators", "admin_sessions", "revocations", "tenants",
               "certificate_status", "ca_summary", "acme_backlog"]


def _run(url, sql, check=True, stdin=None):
    if not shutil.which("psql"):
        pytest.skip("no psql")
    args = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"]
    if stdin is None:
        args += ["-c", sql]
    if stdin is None:
        r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    else:
        r = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, f"{sql or stdin}: {r.stderr}"
    return r


@pytest.fixture(scope="module")
def urls(stack):
    env = stack.env
    owner, app, port = (env.get("FLEETPKI_DATABASE_URL"), env.get("FLEETPKI_APP_DATABASE_URL"),
                        env.get("FLEETPKI_PG_PORT"))
    if not owner or not app or owner == app or not port:
        pytest.skip("needs the stack's own cluster with two roles")
    return {"owner": owner, "app": app,
            "super": f"postgresql://postgres@127.0.0.1:{port}/fleetpki",
            "port": port}


@pytest.fixture(scope="module")
def reporter(urls):
    """A login role IN ROLE fleetpki_report, made as README says; its URL."""
    name = random_name("rep")
    _run(urls["super"], f"CREATE ROLE {name} LOGIN IN ROLE fleetpki_report")
    yield f"postgresql://{name}@127.0.0.1:{urls['port']}/fleetpki"
    _run(urls["super"], f"DROP ROLE {name}", check=False)


def rows(url, sql):
    """'sql' as a list of dicts (CSV through COPY: text as psql shows it)."""
    out = _run(url, f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)").stdout
    return list(csv.DictReader(io.StringIO(out)))


def owner(urls, sql):
    return psql(urls["owner"], sql)


def week_of(epoch):
    d = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).date()
    return (d - datetime.timedelta(days=d.weekday())).isoformat()


# ---- the data ----------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(stack, make_cm_tenant, cli, tmp_path_factory, urls):  # noqa: F811
    """Two certificates through the X.509 API, one through the certificate
    maker valid 10 days; one of the X.509 ones revoked (keyCompromise)."""
    from helpers import Workdir
    work = Workdir(tmp_path_factory.mktemp("reports"))
    t = make_cm_tenant()
    _, pem1 = t.x509_issue(work.csr(subject="/CN=report one"))
    _, pem2 = t.x509_issue(work.csr(subject="/CN=report two"))
    alice = t.user()
    _, pem3, _ = alice.issue(domains=["report.example.com"], days=10)
    f = work.file("serials.txt")
    f.write_text(cert_serial_hex(pem2) + "\n")
    r = cli.run("revoke", "--tenant", t.name, "--ca", "ca1", "--serials", str(f),
                "--reason", "keyCompromise")
    assert "revoked 1" in r.stdout, r.stdout
    return {"tenant": t.name, "x509": pem1, "revoked": pem2, "cm": pem3}


@pytest.fixture(scope="module")
def fleet(stack, urls):
    """A security-services tenant: a profile asking for hourly heartbeats;
    two devices bootstrapped and heartbeating through the simulator, one
    of whose last heartbeat is then put three hours back (silent: twice
    the interval has passed); one sealed and never seen; usage."""
    t = SecsvcTenant(stack)
    prof = t.profile("reports")
    psql(t.url, f"UPDATE device_profiles SET bootstrap = "
                f"'{{\"SecurityHeartbeatInSec\": 3600}}', bootstrap_at = now() "
                f"WHERE uid = '{prof}'")
    rots = []
    for i in range(3):
        r = secrets.token_hex(8).upper()
        out = stack.cli.run("device", "seal", "--tenant", t.name, "--rot", r,
                            "--serial", f"SN-R{i}", "--profile", prof).stdout
        rots.append((r, out.splitlines()[-1]))
        psql(t.url, f"INSERT INTO device_allowlist (tenant_id, kind, value) "
                    f"VALUES ({t.id}, 'ROTPublicUID', '{r}')")
    env = stack.env
    for r, secret in rots[:2]:
        res = stack.cli.run("--url", env["FLEETPKI_URL"], "--cacert", env["FLEETPKI_TLS_CA"],
                            "--rot", r, "--secret", secret, "--serial", "SN",
                            "--heartbeats", "1", program="fleetpki-device-sim",
                            config=False, check=False)
        assert res.returncode == 0, res.stderr
    psql(t.url, f"UPDATE devices SET last_heartbeat = now() - interval '3 hours', "
                f"bootstrapped_at = now() - interval '4 hours' WHERE rot = '{rots[1][0]}'")
    psql(t.url, f"""
        INSERT INTO device_usage (tenant_id, device_id, day, event, count)
        SELECT {t.id}, id, current_date - 40, 'LocalDPR', 3 FROM devices
        WHERE rot = '{rots[0][0]}'
        UNION ALL
        SELECT {t.id}, id, current_date - 40, 'ZTPV1', 1 FROM devices WHERE rot = '{rots[0][0]}'
        UNION ALL
        SELECT {t.id}, id, current_date - 41, 'LocalDPR', 7 FROM devices
        WHERE rot = '{rots[1][0]}'""")
    return {"t": t, "profile": prof, "live": rots[0][0], "silent": rots[1][0],
            "sealed": rots[2][0]}


HOOK_PATH = "/T0/B0/" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def hooks(stack, urls):
    """A webhook made through the API, five deliveries: two delivered, one
    dead, one retrying, one pending never tried.  The outcomes are written
    as the owner with the webhook disabled in the same transaction, so no
    worker serves it meanwhile."""
    t = SecsvcTenant(stack)
    url = "https://hooks.example.com" + HOOK_PATH + "?sig=" + secrets.token_hex(4)
    r = t.post("/notification/webhook/create", {
        "NotificationURL": url, "AuthorizationToken": "Bearer tok-" + random_name(),
        "NotificationType": "ROOTCA_EXPIRATION_EVENT"})
    assert r.status == 200, r
    psql(t.url, f"""
        INSERT INTO events (tenant_id, type, payload)
        SELECT {t.id}, 'ROOTCA_EXPIRATION_EVENT', jsonb_build_object('N', g)
        FROM generate_series(1, 5) g;
        UPDATE webhooks SET enabled = false, disabled_reason = 'reports test',
            disabled_at = now() WHERE tenant_id = {t.id};
        WITH d AS (SELECT id, row_number() OVER (ORDER BY id) AS n
                   FROM webhook_deliveries WHERE tenant_id = {t.id})
        UPDATE webhook_deliveries w SET
            state = CASE WHEN d.n <= 2 THEN 'delivered' WHEN d.n = 3 THEN 'dead'
                         ELSE 'pending' END,
            attempts = CASE WHEN d.n = 3 THEN 5 WHEN d.n = 4 THEN 2
                            WHEN d.n <= 2 THEN 1 ELSE 0 END,
            created_at = now() - interval '10 minutes',
            delivered_at = CASE WHEN d.n <= 2 THEN now() - interval '9 minutes' END
        FROM d WHERE w.id = d.id""")
    assert psql(t.url, f"SELECT count(*) FROM webhook_deliveries WHERE tenant_id = {t.id}") == "5"
    return t


@pytest.fixture(scope="module")
def acme(stack, urls):
    """An enrollment tenant (CLI): budget 4 a week; devices; orders as the
    worker leaves them: 3 valid in the week (one a renewal), one valid
    10 days ago, one in flight, two queued, one parked by the CA's rate
    limit, one failed.  Current certificates: one expiring in 20 days."""
    name = random_name()
    cli = stack.cli
    cli.run("tenant", "create", name)
    cli.run("setting", "set", "--tenant", name, "enroll.domain", "dev.example.com")
    cli.run("setting", "set", "--tenant", name, "acme.directory_url", "https://127.0.0.1:9/dir")
    cli.run("setting", "set", "--tenant", name, "acme.weekly_budget", "4")
    eab = "eabsecret" + secrets.token_hex(8)
    cli.run("setting", "set", "--tenant", name, "acme.eab_hmac_key", eab)
    tid = int(psql(urls["owner"], f"SELECT id FROM tenants WHERE name = '{name}'"))
    devs = []
    for i in range(9):
        d = f"rep{i}-{secrets.token_hex(4)}"
        cli.run("device", "add", "--tenant", name, "--id", d)
        devs.append(d)
    states = [("valid", "new", "2 days"), ("valid", "new", "1 day"), ("valid", "renew", "3 days"),
              ("valid", "new", "10 days"), ("finalizing", "new", None), ("queued", "new", None),
              ("queued", "new", None), ("ordering", "new", None), ("failed", "new", "1 hour")]
    values = []
    for d, (state, kind, ago) in zip(devs, states):
        fin = f"now() - interval '{ago}'" if ago else "NULL"
        et, ra = "NULL", "NULL"
        if d == devs[7]:
            et, ra = "'urn:ietf:params:acme:error:rateLimited'", "now() + interval '1 hour'"
        if state == "failed":
            et = "'urn:ietf:params:acme:error:dns'"
        values.append(f"('{d}', '{state}', '{kind}', {fin}, {et}, {ra})")
    psql(urls["owner"], f"""
        INSERT INTO acme_orders (tenant_id, device_ref, kind, state, hostname, finished_at,
                                 error_type, retry_at, created_at)
        SELECT {tid}, e.id, v.kind, v.state, e.device_id || '.dev.example.com', v.fin,
               v.et, v.ra, now() - interval '11 days'
        FROM (VALUES {", ".join(values)}) v (dev, state, kind, fin, et, ra)
        JOIN enroll_devices e ON e.tenant_id = {tid} AND e.device_id = v.dev;
        INSERT INTO enroll_certs (tenant_id, device_ref, order_id, hostname, chain_pem,
                                  spki_sha256, serial, not_before, not_after)
        SELECT o.tenant_id, o.device_ref, o.id, o.hostname, 'x', repeat('a', 64), 'AB',
               now() - interval '1 day', now() + interval '20 days'
        FROM acme_orders o WHERE o.tenant_id = {tid} AND o.state = 'valid'
        ORDER BY o.id LIMIT 1""")
    cli.run("device", "disable", "--tenant", name, devs[8])
    psql(urls["owner"], f"UPDATE enroll_devices SET state = 'issued', registered_at = now(), "
                        f"last_seen = now(), not_after = now() + interval '20 days' "
                        f"WHERE tenant_id = {tid} AND device_id = '{devs[0]}'")
    return {"tenant": name, "id": tid, "eab": eab}


# ---- the role ----------------------------------------------------------------

def test_the_role_is_a_group_that_reads_the_views_only(urls):
    assert owner(urls, "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, "
                       "rolcreatedb FROM pg_roles WHERE rolname = 'fleetpki_report'") == \
        "f|f|f|f|f"
    got = owner(urls, "SELECT c.relname, c.relkind FROM pg_class c "
                      "WHERE c.relnamespace = 'report'::regnamespace ORDER BY 1").splitlines()
    assert got == sorted(f"{v}|v" for v in VIEWS), got
    for v in VIEWS:
        assert owner(urls, f"SELECT has_table_privilege('fleetpki_report', 'report.{v}', "
                           f"'SELECT'), has_table_privilege('fleetpki_report', 'report.{v}', "
                           f"'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')") == \
            "t|f", v
    # Nothing at all on any table, view or sequence outside the schema.
    n = owner(urls, """
        SELECT count(*) FROM pg_class c
        WHERE c.relnamespace <> 'report'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S', 'p')
          AND c.relnamespace NOT IN ('pg_catalog'::regnamespace,
                                     'information_schema'::regnamespace)
          AND (has_table_privilege('fleetpki_report', c.oid,
                   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
               OR has_any_column_privilege('fleetpki_report', c.oid,
                   'SELECT, INSERT, UPDATE, REFERENCES'))""")
    assert n == "0"
    # The views run as their owner (not security_invoker) and are barriers.
    opts = owner(urls, "SELECT DISTINCT array_to_string(reloptions, ',') FROM pg_class "
                       "WHERE relnamespace = 'report'::regnamespace").splitlines()
    assert opts == ["security_barrier=true"], opts


def test_the_login_cannot_read_base_tables(reporter):
    for table in BASE_TABLES:
        r = _run(reporter, f"SELECT count(*) FROM {table}", check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (table, r.stderr)


def test_the_login_cannot_write(reporter, urls):
    for sql in ("INSERT INTO report.usage_daily (tenant) VALUES ('x')",
                "UPDATE report.silent_devices SET serial = 'x'",
                "DELETE FROM report.webhook_health",
                "DELETE FROM certificates", "UPDATE cas SET name = 'x'",
                "CREATE TABLE report.mine (x int)", "CREATE TABLE public.mine (x int)",
                "CREATE VIEW report.mine AS SELECT 1",
                "ALTER VIEW report.usage_daily SET (security_barrier = false)"):
        r = _run(reporter, sql, check=False)
        assert r.returncode != 0, sql
        # refused for want of the privilege, or (views with joins) as no
        # view of the schema is updatable at all
        assert any(w in r.stderr for w in ("permission denied", "must be owner",
                                           "cannot insert into view", "cannot update view",
                                           "cannot delete from view")), (sql, r.stderr)
    # It holds no grant option: granting on is a warning that grants nothing.
    r = _run(reporter, "GRANT SELECT ON report.usage_daily TO PUBLIC")
    assert "no privileges were granted" in r.stderr, r.stderr
    assert owner(urls, "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
                       "WHERE c.relnamespace = 'report'::regnamespace "
                       "AND a.grantee <> 'fleetpki_report'::regrole "
                       "AND a.grantee <> c.relowner") == "0"


def test_no_view_reads_a_secret_column(urls):
    used = {tuple(line.split("|")) for line in owner(urls, """
        SELECT table_name, column_name FROM information_schema.view_column_usage
        WHERE view_schema = 'report' AND table_schema = 'public'""").splitlines()}
    assert used, "view_column_usage says nothing"
    assert used & SECRET_COLUMNS == ALLOWED, used & SECRET_COLUMNS
    # settings are read by key, the value of three keys only
    keys = owner(urls, "SELECT string_agg(pg_get_viewdef(c.oid), ' ') FROM pg_class c "
                       "WHERE c.relnamespace = 'report'::regnamespace")
    assert "eab" not in keys
    cols = owner(urls, "SELECT attname FROM pg_attribute WHERE attrelid IN (SELECT oid "
                       "FROM pg_class WHERE relnamespace = 'report'::regnamespace) "
                       "AND attnum > 0").split()
    for c in cols:
        assert not any(s in c for s in ("sealed", "secret", "hash", "token", "password",
                                        "pem", "key", "body", "mac")), c


def test_no_security_definer_function_is_callable(urls):
    got = owner(urls, """
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace
          AND has_function_privilege('fleetpki_report', p.oid, 'EXECUTE')""")
    assert got == "", got


def test_a_callers_function_sees_no_filtered_row(reporter, acme):
    """A cheap function of the caller's (pg_temp) in the WHERE runs on what
    the view returns, never on the settings rows it filters out: the EAB
    key stays unseen.  Today's views read settings on the nullable side of
    outer joins, where no caller's condition goes anyway; this guards the
    views to come (and their security_barrier, checked above), with the
    planner pushed off the indexes as a caller may do."""
    sql = """
        SET enable_indexscan = off; SET enable_bitmapscan = off;
        SET enable_hashjoin = off; SET enable_mergejoin = off;
        CREATE FUNCTION pg_temp.peek(text) RETURNS boolean LANGUAGE plpgsql
        COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'peek %', $1; RETURN true; END $$;
        SELECT count(*) FROM report.acme_rate_budget WHERE pg_temp.peek(directory_url);
        SELECT count(*) FROM report.device_heartbeats WHERE pg_temp.peek(serial);
    """
    r = _run(reporter, None, stdin=sql)
    assert "peek https://127.0.0.1:9/dir" in r.stderr, r.stderr
    assert acme["eab"] not in r.stderr + r.stdout


def test_the_app_role_is_unchanged(urls):
    assert owner(urls, "SELECT pg_has_role('fleetpki_app', 'fleetpki_report', 'MEMBER'), "
                       "pg_has_role('fleetpki_report', 'fleetpki_app', 'MEMBER'), "
                       "pg_has_role('fleetpki_report', current_user, 'MEMBER'), "
                       "has_schema_privilege('fleetpki_app', 'report', 'USAGE')") == "f|f|f|f"
    assert owner(urls, "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                       "WHERE rolname = 'fleetpki_app'") == "f|f|f"
    # What the app had before 022, as 005 and 010 grant it.
    assert owner(urls, "SELECT has_table_privilege('fleetpki_app', 'certificates', 'SELECT'), "
                       "has_table_privilege('fleetpki_app', 'certificates', 'INSERT'), "
                       "has_table_privilege('fleetpki_app', 'certificates', 'DELETE'), "
                       "has_table_privilege('fleetpki_app', 'device_usage', 'UPDATE')") == \
        "t|t|f|t"
    r = _run(urls["app"], "SELECT count(*) FROM report.issuance_daily", check=False)
    assert r.returncode != 0 and "permission denied" in r.stderr, r.stderr


# ---- the numbers -------------------------------------------------------------

def test_issuance_daily(reporter, certs, urls):
    got = rows(reporter, f"SELECT * FROM report.issuance_daily WHERE tenant = '{certs['tenant']}'")
    by_source = {}
    for g in got:
        assert g["ca"] == "ca1"
        by_source[g["source"]] = by_source.get(g["source"], 0) + int(g["certificates"])
    assert by_source == {"issued": 2, "certmaker": 1}, got
    days = owner(urls, f"SELECT DISTINCT (c.created_at AT TIME ZONE 'UTC')::date FROM "
                       f"certificates c JOIN tenants t ON t.id = c.tenant_id "
                       f"WHERE t.name = '{certs['tenant']}'").split()
    assert sorted({g["day"] for g in got}) == sorted(days)


def test_revocation_daily(reporter, certs, urls):
    got = rows(reporter, f"SELECT * FROM report.revocation_daily "
                         f"WHERE tenant = '{certs['tenant']}'")
    day = owner(urls, f"SELECT (r.revoked_at AT TIME ZONE 'UTC')::date FROM revocations r "
                      f"JOIN tenants t ON t.id = r.tenant_id WHERE t.name = '{certs['tenant']}'")
    assert [(g["ca"], g["day"], g["reason_code"], g["reason"], g["revoked"]) for g in got] == \
        [("ca1", day, "1", "keyCompromise", "1")], got


def test_certificates_expiring_weekly(reporter, certs, acme):
    got = rows(reporter, f"SELECT * FROM report.certificates_expiring_weekly "
                         f"WHERE tenant = '{certs['tenant']}' ORDER BY week")
    # The revoked one is gone; the 10-day one lands in its week, the
    # 365-day one in its own.
    want = sorted([(week_of(cert_dates(certs["cm"])[1]), "certmaker", "1"),
                   (week_of(cert_dates(certs["x509"])[1]), "issued", "1")])
    assert [(g["week"], g["source"], g["certificates"]) for g in got] == want, got
    # ACME: the current enrollment certificate, 20 days left.
    got = rows(reporter, f"SELECT * FROM report.certificates_expiring_weekly "
                         f"WHERE tenant = '{acme['tenant']}'")
    assert [(g["ca"], g["source"], g["certificates"]) for g in got] == \
        [("ACME", "acme", "1")], got
    in20 = datetime.datetime.now(datetime.timezone.utc).timestamp() + 20 * 86400
    assert got[0]["week"] in (week_of(in20 - 60), week_of(in20 + 60))


def test_devices_by_state_and_silent(reporter, fleet):
    t = fleet["t"]
    got = rows(reporter, f"SELECT * FROM report.devices_by_state WHERE tenant = '{t.name}' "
                         f"ORDER BY state")
    assert [(g["profile"], g["profile_uid"], g["state"], g["blocked"], g["devices"],
             g["never_bootstrapped"], g["heartbeat_1d"], g["silent"]) for g in got] == [
        ("reports", fleet["profile"], "ACTIVATED", "f", "2", "0", "2", "1"),
        ("reports", fleet["profile"], "SEALED", "f", "1", "1", "0", "0")], got
    silent = rows(reporter, f"SELECT * FROM report.silent_devices WHERE tenant = '{t.name}'")
    assert [(s["rot"], s["heartbeat_interval_s"]) for s in silent] == \
        [(fleet["silent"], "3600")], silent
    beats = {b["rot"]: b for b in rows(
        reporter, f"SELECT * FROM report.device_heartbeats WHERE tenant = '{t.name}'")}
    assert set(beats) == {fleet["live"], fleet["silent"], fleet["sealed"]}
    assert beats[fleet["live"]]["silent"] == "f" and beats[fleet["live"]]["last_heartbeat"]
    assert beats[fleet["sealed"]]["silent"] == "f" and not beats[fleet["sealed"]]["last_seen"]
    # the tenant's default applies where the properties ask nothing
    assert beats[fleet["sealed"]]["heartbeat_interval_s"] == "86400"


def test_usage_daily(reporter, fleet, urls):
    t = fleet["t"]
    d40, d41 = owner(urls, "SELECT current_date - 40, current_date - 41").split("|")
    got = rows(reporter, f"SELECT * FROM report.usage_daily WHERE tenant = '{t.name}' "
                         f"AND day < current_date - 30 ORDER BY day, rot, event")
    assert [(g["day"], g["rot"], g["event"], g["count"]) for g in got] == [
        (d41, fleet["silent"], "LocalDPR", "7"),
        (d40, fleet["live"], "LocalDPR", "3"),
        (d40, fleet["live"], "ZTPV1", "1")], got
    assert {g["serial"] for g in got} == {"SN-R0", "SN-R1"}
    # What the device protocol counted itself (today) is there as well,
    # as the registry's own table has it.
    want = owner(urls, f"SELECT count(*) FROM device_usage WHERE tenant_id = {t.id}")
    every = rows(reporter, f"SELECT * FROM report.usage_daily WHERE tenant = '{t.name}'")
    assert len(every) == int(want)


def test_webhook_health(reporter, hooks):
    got = rows(reporter, f"SELECT * FROM report.webhook_health WHERE tenant = '{hooks.name}'")
    assert len(got) == 1, got
    g = got[0]
    assert (g["host"], g["enabled"], g["disabled_reason"], g["delivered"], g["delivered_1d"],
            g["pending"], g["retrying"], g["dead"]) == \
        ("hooks.example.com", "f", "reports test", "2", "2", "2", "1", "1"), g
    assert g["oldest_pending_at"] and g["lag"].startswith("00:1"), g
    assert g["avg_delivery_1d"].startswith("00:01:00"), g
    assert HOOK_PATH not in json.dumps(got)


def test_enroll_devices_by_state(reporter, acme):
    got = rows(reporter, f"SELECT * FROM report.enroll_devices_by_state "
                         f"WHERE tenant = '{acme['tenant']}' ORDER BY state")
    assert [(g["state"], g["devices"], g["registered"], g["expiring_30d"], g["expired"])
            for g in got] == [("disabled", "1", "0", "0", "0"), ("issued", "1", "1", "1", "0"),
                              ("pending", "7", "0", "0", "0")], got
    assert got[1]["newest_seen"] and not got[2]["newest_seen"]


def test_acme_orders(reporter, acme):
    got = rows(reporter, f"SELECT * FROM report.acme_orders WHERE tenant = '{acme['tenant']}'")
    n = {(g["kind"], g["state"], g["error_type"]): int(g["orders"]) for g in got}
    assert n == {("new", "valid", ""): 3, ("renew", "valid", ""): 1,
                 ("new", "finalizing", ""): 1, ("new", "queued", ""): 2,
                 ("new", "ordering", "urn:ietf:params:acme:error:rateLimited"): 1,
                 ("new", "failed", "urn:ietf:params:acme:error:dns"): 1}, got
    valid = [g for g in got if g["kind"] == "new" and g["state"] == "valid"][0]
    assert valid["finished_7d"] == "2"
    limited = [g for g in got if g["state"] == "ordering"][0]
    assert limited["next_retry_at"]


def test_acme_rate_budget(reporter, acme):
    got = rows(reporter, f"SELECT * FROM report.acme_rate_budget "
                         f"WHERE tenant = '{acme['tenant']}'")
    assert len(got) == 1, got
    g = got[0]
    # 3 finalized this week (the one 10 days ago is out of the window),
    # 2 in flight (finalizing, ordering): 3 + 2 >= 4, so none may start.
    assert (g["directory_url"], g["weekly_budget"], g["used_7d"], g["renewals_7d"],
            g["left_7d"], g["in_flight"], g["queued"], g["rate_limited"],
            g["new_order_may_start"], g["next_slot_at"]) == \
        ("https://127.0.0.1:9/dir", "4", "3", "1", "1", "2", "2", "1", "f", ""), g
    assert g["oldest_queued_at"] and g["rate_limited_until"]


def test_every_tenant_is_seen_without_a_tenant_setting(reporter, certs, fleet, hooks, acme):
    """The views see across tenants (their owner's policy), the login
    having no fleetpki.tenant set at all."""
    names = {certs["tenant"], fleet["t"].name, hooks.name, acme["tenant"]}
    seen = set()
    for v in VIEWS:
        seen |= {g["tenant"] for g in rows(reporter, f"SELECT tenant FROM report.{v}")}
    assert names <= seen, names - seen
    assert _run(reporter, "SELECT current_setting('fleetpki.tenant', true)").stdout.strip() == ""
