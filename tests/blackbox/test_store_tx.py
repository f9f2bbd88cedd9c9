"""The store composes writes: a change and its consequences commit together.

Read and provoked through psql (the database is part of the stack): a
trigger makes the second write of `fleetpki ca create` (the CA's first
CRL) fail, and nothing of the first (the CA row) may be left behind.
"""

import shutil
import subprocess

import pytest

from helpers import random_name


def _psql(env, sql, check=True):
    if not shutil.which("psql") or not env.get("FLEETPKI_DATABASE_URL"):
        pytest.skip("no psql or no database URL")
    r = subprocess.run(["psql", env["FLEETPKI_DATABASE_URL"], "-X", "-v",
                        "ON_ERROR_STOP=1", "-Atc", sql],
                       capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def _one(env, sql):
    return _psql(env, sql).stdout.strip()


@pytest.fixture
def fresh_tenant(cli, env):
    name = random_name("tx")
    cli.run("tenant", "create", name)
    return name, int(_one(env, f"SELECT id FROM tenants WHERE name = '{name}'"))


def test_ca_create_is_one_transaction(cli, env, fresh_tenant):
    name, tid = fresh_tenant
    fn = f"fail_crl_{tid}"
    # Only this tenant's CRL inserts fail: other tests are unaffected.
    _psql(env, f"""
        CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.tenant_id = {tid} THEN
                RAISE EXCEPTION 'CRL insert refused for the test';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {fn} BEFORE INSERT ON crls
            FOR EACH ROW EXECUTE FUNCTION {fn}();""")
    try:
        r = cli.run("ca", "create", "--tenant", name, "--name", "first",
                    check=False)
        assert r.returncode != 0, r.stdout
        # The CA insert succeeded before the CRL failed: rolled back.
        assert _one(env, f"SELECT count(*) FROM cas WHERE tenant_id = {tid}") == "0"
        assert _one(env, f"SELECT count(*) FROM crls WHERE tenant_id = {tid}") == "0"
        assert "first" not in cli.run("ca", "list", "--tenant", name).stdout
    finally:
        _psql(env, f"DROP TRIGGER {fn} ON crls; DROP FUNCTION {fn}();")
    # Nothing was left half-made: the same name is free, and the CA is
    # the tenant's first (its default) with CRL number 1.
    cli.run("ca", "create", "--tenant", name, "--name", "first")
    assert _one(env, f"SELECT count(*) || ' ' || bool_and(is_default) FROM cas "
                     f"WHERE tenant_id = {tid}") == "1 true"
    # (The worker may have issued the CA's first delta CRL since.)
    assert _one(env, f"SELECT string_agg(crl_number::text, ',') FROM crls "
                     f"WHERE tenant_id = {tid} AND base_number IS NULL") == "1"


@pytest.mark.parametrize("failures,ok", [(1, True), (100, False)])
def test_ca_create_retries_serialization_failures(cli, env, fresh_tenant,
                                                  failures, ok):
    """A serialization failure reruns the whole transaction, a few times."""
    name, tid = fresh_tenant
    fn = f"conflict_crl_{tid}"
    # A sequence counts tries: nextval is not rolled back with them.
    _psql(env, f"""
        CREATE SEQUENCE {fn}_tries;
        CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Nested: only this tenant's inserts count as tries.
            IF NEW.tenant_id = {tid} THEN
                IF nextval('{fn}_tries') <= {failures} THEN
                    RAISE EXCEPTION 'conflict for the test'
                        USING ERRCODE = 'serialization_failure';
                END IF;
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {fn} BEFORE INSERT ON crls
            FOR EACH ROW EXECUTE FUNCTION {fn}();""")
    try:
        r = cli.run("ca", "create", "--tenant", name, "--name", "busy",
                    check=False)
        tries = int(_one(env, f"SELECT last_value FROM {fn}_tries"))
    finally:
        _psql(env, f"DROP TRIGGER {fn} ON crls; DROP FUNCTION {fn}(); "
                   f"DROP SEQUENCE {fn}_tries;")
    cas = _one(env, f"SELECT count(*) FROM cas WHERE tenant_id = {tid}")
    crls = _one(env, f"SELECT count(*) FROM crls WHERE tenant_id = {tid} "
                     f"AND base_number IS NULL")
    if ok:
        assert r.returncode == 0, r.stderr
        assert tries == 2 and cas == "1" and crls == "1"
    else:
        # Bounded: STORE_TX_ATTEMPTS tries, then the error, nothing kept.
        assert r.returncode != 0
        assert tries == 4 and cas == "0" and crls == "0"


def test_crl_belongs_to_its_tenants_ca(cli, env, fresh_tenant):
    """sql/003: crls references cas by (tenant_id, ca_id), like the others."""
    name, tid = fresh_tenant
    cli.run("ca", "create", "--tenant", name, "--name", "own")
    other_name, other = random_name("tx"), None
    cli.run("tenant", "create", other_name)
    other = _one(env, f"SELECT id FROM tenants WHERE name = '{other_name}'")
    ca = _one(env, f"SELECT id FROM cas WHERE tenant_id = {tid}")
    r = _psql(env, f"INSERT INTO crls (ca_id, tenant_id, crl_number, "
                   f"this_update, next_update, der) VALUES ({ca}, {other}, "
                   f"99, now(), now(), '\\x00')", check=False)
    assert r.returncode != 0 and "foreign key" in r.stderr, r.stderr
    assert _one(env, "SELECT name FROM schema_migrations WHERE version = 3") \
        == "003_crls_fk.sql"
