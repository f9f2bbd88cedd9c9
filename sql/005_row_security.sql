-- fleetpki schema 005: row-level security, the second wall between
-- tenants.  Every statement of the store is scoped by tenant (the first
-- wall); this makes PostgreSQL refuse rows of any other tenant even to a
-- statement that forgets to say which.
--
-- Two roles (README, "Database roles"):
--   the owner          owns every table, function and view (whoever runs
--                      `fleetpki migrate`: owner_database_url); sees every
--                      row through its own policy (the CLI's cross-tenant
--                      commands, reporting views);
--   fleetpki_app       what fleetpkid and fleetpki-worker connect as
--                      (database_url): owns nothing, NOBYPASSRLS, DML only
--                      on what the processes touch.  A login role that is a
--                      member of it works as well.
--
-- The current tenant is the setting fleetpki.tenant, which the store
-- sets with set_config(..., true) inside each transaction only (db.c):
-- never for the session, so nothing carries over to the next request on
-- the same connection.  Unset, or set to '', no tenant-owned row is
-- visible, and none may be written.
--
-- What must cross tenants (OCSP and CRLs find their CA by key or public
-- id, the certificate maker finds its user by token, bearer tokens name
-- their tenant, the worker refreshes every CA's CRL) goes through the
-- narrow SECURITY DEFINER functions below, which answer only which
-- tenant; the caller then sets it and reads as usual.

-- The app role: made here when it does not exist (needs CREATEROLE);
-- scripts/up and docker make it beforehand, with LOGIN.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_app') THEN
		BEGIN
			CREATE ROLE fleetpki_app NOLOGIN NOBYPASSRLS;
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE EXCEPTION 'role fleetpki_app does not exist and % may not create it',
				current_user
			USING HINT = 'As a superuser: CREATE ROLE fleetpki_app LOGIN PASSWORD ''...'' NOBYPASSRLS; then migrate again.';
		END;
	END IF;
	-- A role that bypasses the policies, or is the owner, would make
	-- the wall decorative: refuse rather than pretend.
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_app'
	           AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'role fleetpki_app must be NOSUPERUSER NOBYPASSRLS';
	END IF;
	IF current_user = 'fleetpki_app' THEN
		RAISE EXCEPTION 'run migrations as the owner, not as fleetpki_app'
		USING HINT = 'owner_database_url in fleetpki.conf';
	END IF;
END;
$$;

-- Enable and force the wall on one table: the tenant policy for
-- everyone, and the owner's own policy (FORCE subjects the owner too,
-- and the owner is who migrates, reports and runs the SECURITY DEFINER
-- functions).  Later migrations call it for every tenant-owned table
-- they add:  SELECT fleetpki_tenant_wall('new_table');
CREATE FUNCTION fleetpki_tenant_wall(tbl regclass, col name DEFAULT 'tenant_id')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	owner name := (SELECT relowner::regrole::name FROM pg_class WHERE oid = tbl);
BEGIN
	EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
	EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
	EXECUTE format('CREATE POLICY fleetpki_tenant ON %s USING (%I = '
		'nullif(current_setting(''fleetpki.tenant'', true), '''')::bigint) '
		'WITH CHECK (%I = nullif(current_setting(''fleetpki.tenant'', '
		'true), '''')::bigint)', tbl, col, col);
	EXECUTE format('CREATE POLICY fleetpki_owner ON %s TO %I USING (true) '
		'WITH CHECK (true)', tbl, owner);
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_tenant_wall(regclass, name) FROM PUBLIC;

-- tenants is the root: a tenant sees its own row (the statements join
-- it for the tenant's name), nobody else's.
SELECT fleetpki_tenant_wall('tenants', 'id');
SELECT fleetpki_tenant_wall('cas');
SELECT fleetpki_tenant_wall('certificates');
SELECT fleetpki_tenant_wall('revocations');
SELECT fleetpki_tenant_wall('crls');
SELECT fleetpki_tenant_wall('users');
SELECT fleetpki_tenant_wall('settings');
SELECT fleetpki_tenant_wall('challenges');

-- ---- the cross-tenant lookups --------------------------------------
-- Each answers the least that lets the caller go on: a tenant id (and a
-- user's own fields), never a CA's key.  search_path is pinned so that
-- no object of the caller's making is resolved inside.

-- Bearer tokens name their tenant; nothing is known before.
CREATE FUNCTION fleetpki_tenant_by_name(p_name text)
RETURNS TABLE (id bigint, name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT t.id, t.name FROM tenants t WHERE t.name = p_name
$$;

-- OCSP names the issuer by its key hash.
CREATE FUNCTION fleetpki_ca_tenant_by_key_id(p_key_id text)
RETURNS TABLE (tenant_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT ca.tenant_id FROM cas ca WHERE ca.key_id = p_key_id
$$;

-- The CRL URL names its CA by public id (plain HTTP, no auth).
CREATE FUNCTION fleetpki_ca_tenant_by_public_id(p_public_id text)
RETURNS TABLE (tenant_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT ca.tenant_id FROM cas ca WHERE ca.public_id = p_public_id
$$;

-- The certificate maker's X-Auth-Token names its user (by HMAC).
CREATE FUNCTION fleetpki_user_by_token(p_token_hash text)
RETURNS TABLE (id bigint, tenant_id bigint, tenant text, name text,
	is_admin boolean, disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT u.id, u.tenant_id, t.name, u.name, u.is_admin, u.disabled
	FROM users u JOIN tenants t ON t.id = u.tenant_id
	WHERE u.token_hash = p_token_hash
$$;

-- The worker's CRL refresh: which CAs of any tenant need a new CRL
-- (none, one whose nextUpdate is before p_before, or one older than a
-- revocation).  The worker then issues each under its tenant.
CREATE FUNCTION fleetpki_crl_due(p_before bigint)
RETURNS TABLE (tenant_id bigint, ca_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT ca.tenant_id, ca.id FROM cas ca
	WHERE NOT EXISTS (SELECT 1 FROM crls l WHERE l.ca_id = ca.id
	                  AND l.next_update >= to_timestamp(p_before))
	   OR EXISTS (SELECT 1 FROM revocations r WHERE r.ca_id = ca.id
	              AND r.revoked_at > (SELECT max(l.created_at) FROM crls l
	                                  WHERE l.ca_id = ca.id))
	ORDER BY ca.id
$$;

REVOKE ALL ON FUNCTION fleetpki_tenant_by_name(text),
	fleetpki_ca_tenant_by_key_id(text), fleetpki_ca_tenant_by_public_id(text),
	fleetpki_user_by_token(text), fleetpki_crl_due(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_tenant_by_name(text),
	fleetpki_ca_tenant_by_key_id(text), fleetpki_ca_tenant_by_public_id(text),
	fleetpki_user_by_token(text), fleetpki_crl_due(bigint) TO fleetpki_app;

-- ---- what the app may do ---------------------------------------------
-- Exactly what fleetpkid and fleetpki-worker run (statements.h); users,
-- settings, tenants, jwt keys and server certificates are written by the
-- operator's CLI, as the owner (so are CAs and token signing keys).
-- No DELETE anywhere, no TRUNCATE, no
-- REFERENCES or TRIGGER, nothing on schema_migrations or the views.
GRANT SELECT ON tenants, cas, users, settings, jwt_keys, server_certs
	TO fleetpki_app;
GRANT SELECT, INSERT ON certificates, revocations, crls, challenges
	TO fleetpki_app;
-- Updates only of the columns that change after an insert.
GRANT UPDATE (crl_number) ON cas TO fleetpki_app;
GRANT UPDATE (removed_at, modified_at) ON certificates TO fleetpki_app;
GRANT UPDATE (claimed_at, serial) ON challenges TO fleetpki_app;

-- The job queue (004) is the system's, not a tenant's: the worker
-- claims every tenant's jobs, so it has no wall, only grants.
DO $$
BEGIN
	IF to_regclass('public.jobs') IS NOT NULL THEN
		GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO fleetpki_app;
	END IF;
END;
$$;

-- Tables later migrations add are reachable by the app as they are
-- created (DML only); a tenant-owned one must also get its wall,
-- fleetpki_tenant_wall() above, which the black-box suite checks for
-- every table with a tenant_id column.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
	GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fleetpki_app;
