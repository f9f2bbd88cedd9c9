"""Row-level security, the second wall between tenants (sql/005, issue 7).

fleetpkid and fleetpki-worker connect as the role fleetpki_app
(FLEETPKI_APP_DATABASE_URL), the schema belongs to fleetpki_owner
(FLEETPKI_DATABASE_URL).  Here psql plays the app: the same role, the
same setting the store makes (set_config('fleetpki.tenant', id, true)
inside a transaction), statements with and without a tenant predicate.
That every request path still works with the app role in use is the
rest of the suite.
"""

import secrets
import shutil
import subprocess

import pytest

# Every tenant-owned table and the column that names its tenant.  The
# job queue (jobs.tenant_id, nullable) is the system's: the worker claims
# every tenant's jobs, so it has no wall by design.
TENANT_TABLES = {
    "tenants": "id", "cas": "tenant_id", "certificates": "tenant_id",
    "revocations": "tenant_id", "crls": "tenant_id", "users": "tenant_id",
    "settings": "tenant_id", "challenges": "tenant_id",
    "idempotency_keys": "tenant_id",
}
NOT_TENANT_OWNED = {"jobs"}


def _psql(url, sql, check=True):
    if not shutil.which("psql"):
        pytest.skip("no psql")
    r = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if check:
        assert r.returncode == 0, f"{sql}: {r.stderr}"
    return r


@pytest.fixture(scope="module")
def urls(env):
    owner, app = env.get("FLEETPKI_DATABASE_URL"), env.get("FLEETPKI_APP_DATABASE_URL")
    if not owner or not app or owner == app:
        pytest.skip("the stack runs with one database role")
    return owner, app


def owner_q(urls, sql):
    return _psql(urls[0], sql).stdout.strip()


def app_q(urls, sql, tenant=None, check=True):
    """'sql' as the app role, in one transaction with 'tenant' set as the
    store sets it (None: no tenant at all)."""
    pre = "" if tenant is None else \
        f"SELECT set_config('fleetpki.tenant', '{int(tenant)}', true) \\g /dev/null\n"
    r = subprocess.run(["psql", urls[1], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"],
                       input=f"BEGIN;\n{pre}{sql};\nCOMMIT;\n", capture_output=True,
                       text=True, timeout=60) if shutil.which("psql") else pytest.skip("no psql")
    if check:
        assert r.returncode == 0, f"{sql}: {r.stderr}"
    return r


def app_one(urls, sql, tenant=None):
    return app_q(urls, sql, tenant).stdout.strip()


def _populate(make_tenant, cli, work, urls):
    """A tenant with a row in every tenant-owned table; returns its id."""
    t = make_tenant()
    fp, _ = t.issue(work.csr(subject="/CN=wall one"))
    r = t.post("/x509/v1/certificates", {"csr": work.csr(subject="/CN=wall two")},
               headers={"Idempotency-Key": "wall-" + secrets.token_hex(8)})
    assert r.status == 201, r
    r = t.delete("/x509/v1/certificates/" + fp)
    assert r.status == 204, r
    cli.run("user", "create", "--tenant", t.name, "--name", "wall")
    cli.run("setting", "set", "--tenant", t.name, "certmaker.max_days", "30")
    tid = int(owner_q(urls, f"SELECT id FROM tenants WHERE name = '{t.name}'"))
    # A challenge as the certificate maker leaves one (issuing it takes
    # an HTTP server; the row is what matters here).
    owner_q(urls, f"""
        INSERT INTO challenges (tenant_id, user_id, public_id, token, request_kind,
                                request, expires_at)
        SELECT {tid}, id, '{secrets.token_hex(16)}', '{secrets.token_hex(40)}',
               'simple', '{{}}', now() + interval '1 hour'
        FROM users WHERE tenant_id = {tid}""")
    for table, col in TENANT_TABLES.items():
        n = owner_q(urls, f"SELECT count(*) FROM {table} WHERE {col} = {tid}")
        assert int(n) > 0, f"{table} has no row of tenant {tid}"
    return tid


@pytest.fixture(scope="module")
def two(make_tenant, cli, tmp_path_factory, urls):
    from helpers import Workdir
    work = Workdir(tmp_path_factory.mktemp("rls"))
    return _populate(make_tenant, cli, work, urls), _populate(make_tenant, cli, work, urls)


def test_every_tenant_owned_table_has_the_wall(urls):
    """ENABLE and FORCE row-level security and the tenant policy on every
    table with a tenant column: tables later migrations add included."""
    rows = owner_q(urls, """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
                       AND p.polname = 'fleetpki_tenant')
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND (c.relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
               AND NOT a.attisdropped))""").splitlines()
    found = {r.split("|")[0]: r.split("|")[1:] for r in rows}
    assert set(TENANT_TABLES) <= set(found), found
    for table, flags in found.items():
        if table in NOT_TENANT_OWNED:
            continue
        assert flags == ["t", "t", "t"], f"{table}: rowsecurity, force, policy = {flags}"


def test_no_tenant_sees_no_rows(urls, two):
    for table in TENANT_TABLES:
        assert app_one(urls, f"SELECT count(*) FROM {table}") == "0", table
    # An empty setting is no tenant too (what a finished transaction leaves).
    for table in TENANT_TABLES:
        assert app_one(urls, f"SELECT set_config('fleetpki.tenant', '', true) "
                             f"\\g /dev/null\nSELECT count(*) FROM {table}") == "0", table


def test_another_tenant_sees_none_of_its_rows(urls, two):
    a, b = two
    for table, col in TENANT_TABLES.items():
        # The control: the tenant itself does see its rows ...
        assert int(app_one(urls, f"SELECT count(*) FROM {table} WHERE {col} = {a}",
                           tenant=a)) > 0, table
        # ... the other tenant, asking for them by name, none.
        assert app_one(urls, f"SELECT count(*) FROM {table} WHERE {col} = {a}",
                       tenant=b) == "0", table


def test_unscoped_statement_sees_only_the_current_tenant(urls, two):
    """A statement that forgets its tenant predicate, as the app runs it:
    only the current tenant's rows come back."""
    a, b = two
    assert int(owner_q(urls, "SELECT count(DISTINCT tenant_id) FROM certificates")) >= 2
    for t in (a, b):
        got = app_one(urls, "SELECT DISTINCT tenant_id FROM certificates", tenant=t)
        assert got == str(t), got
        got = app_one(urls, "SELECT DISTINCT c.tenant_id FROM certificates c "
                            "JOIN cas ca ON ca.id = c.ca_id "
                            "JOIN revocations r ON r.certificate_id = c.id", tenant=t)
        assert got == str(t), got


def test_the_setting_ends_with_its_transaction(urls, two):
    """set_config(..., true), as the store makes it: gone after COMMIT, so a
    connection's next transaction starts with no tenant."""
    a, _ = two
    r = subprocess.run(["psql", urls[1], "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At"],
                       input=f"BEGIN;\nSELECT set_config('fleetpki.tenant', '{a}', true) "
                             f"\\g /dev/null\nSELECT count(*) FROM cas;\nCOMMIT;\n"
                             f"SELECT count(*) FROM cas;\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    inside, after = r.stdout.split()
    assert int(inside) > 0 and after == "0", r.stdout


def test_app_cannot_write_into_another_tenant(urls, two):
    a, b = two
    r = app_q(urls, f"UPDATE certificates SET modified_at = now() WHERE tenant_id = {a}",
              tenant=b)
    assert r.returncode == 0, r.stderr
    assert owner_q(urls, f"SELECT count(*) FROM certificates WHERE tenant_id = {a} "
                         f"AND modified_at > now() - interval '1 second'") == "0"
    ca = owner_q(urls, f"SELECT id FROM cas WHERE tenant_id = {a} LIMIT 1")
    r = app_q(urls, f"INSERT INTO crls (ca_id, tenant_id, crl_number, this_update, "
                    f"next_update, der) VALUES ({ca}, {a}, 999999, now(), now(), "
                    f"'\\x00')", tenant=b, check=False)
    assert r.returncode != 0 and "row-level security" in r.stderr, r.stderr


def test_app_cannot_read_another_tenants_ca_key(urls, two):
    a, b = two
    assert app_one(urls, f"SELECT count(*) FROM cas WHERE tenant_id = {a}",
                   tenant=b) == "0"
    assert app_one(urls, f"SELECT encode(key_sealed, 'hex') FROM cas "
                         f"WHERE tenant_id = {a}", tenant=b) == ""
    # Control: under its own tenant the sealed key is there.
    assert len(app_one(urls, f"SELECT encode(key_sealed, 'hex') FROM cas "
                             f"WHERE tenant_id = {a} LIMIT 1", tenant=a)) > 64
    # The cross-tenant lookups answer a tenant id, never a key.
    key_id = owner_q(urls, f"SELECT key_id FROM cas WHERE tenant_id = {a} LIMIT 1")
    r = app_q(urls, f"SELECT * FROM fleetpki_ca_tenant_by_key_id('{key_id}')")
    assert r.stdout.strip() == str(a), r.stdout
    # The reporting views run with the owner's rights: not the app's to read.
    for view in ("certificate_status", "ca_summary", "user_summary"):
        r = app_q(urls, f"SELECT count(*) FROM {view}", check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (view, r.stderr)


def test_app_cannot_turn_the_wall_off(urls, two):
    a, _ = two
    r = app_q(urls, "ALTER TABLE cas DISABLE ROW LEVEL SECURITY", check=False)
    assert r.returncode != 0 and "must be owner" in r.stderr, r.stderr
    r = app_q(urls, "ALTER TABLE cas NO FORCE ROW LEVEL SECURITY", check=False)
    assert r.returncode != 0 and "must be owner" in r.stderr, r.stderr
    r = app_q(urls, "DROP POLICY fleetpki_tenant ON cas", check=False)
    assert r.returncode != 0 and "must be owner" in r.stderr, r.stderr
    # row_security = off does not bypass: it refuses the query instead.
    r = app_q(urls, "SET LOCAL row_security = off;\nSELECT count(*) FROM cas",
              tenant=a, check=False)
    assert r.returncode != 0 and "row-level security" in r.stderr, r.stderr
    for sql in ("SET ROLE fleetpki_owner", "SET SESSION AUTHORIZATION fleetpki_owner",
                "SET ROLE postgres"):
        r = app_q(urls, sql, check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (sql, r.stderr)
    # What it is: no superuser, no bypass, owner of nothing.
    assert app_one(urls, "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                         "WHERE rolname = current_user") == "f|f|f"
    assert app_one(urls, "SELECT count(*) FROM pg_class WHERE relowner = "
                         "current_user::regrole") == "0"
    assert app_one(urls, "SELECT count(*) FROM pg_proc WHERE proowner = "
                         "current_user::regrole") == "0"
    assert app_one(urls, "SELECT pg_has_role(current_user, 'fleetpki_owner', "
                         "'MEMBER')") == "f"


def test_fleetpkid_runs_as_the_app_role(env, urls):
    """The processes use the app role (the owner's URL is the CLI's only)."""
    conf = open(env["FLEETPKI_CONFIG"]).read()
    lines = dict(l.split(" = ", 1) for l in conf.splitlines()
                 if " = " in l and not l.startswith("#"))
    assert lines["database_url"] == urls[1]
    assert lines["owner_database_url"] == urls[0]
    users = owner_q(urls, "SELECT DISTINCT usename FROM pg_stat_activity "
                          "WHERE datname = 'fleetpki' AND application_name = 'fleetpki' "
                          "AND pid <> pg_backend_pid()").split()
    assert "fleetpki_app" in users, users
