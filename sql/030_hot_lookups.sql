-- The lookups made once per request before a tenant is known, in
-- PL/pgSQL instead of SQL.
--
-- A LANGUAGE sql function with SECURITY DEFINER and SET search_path is
-- never inlined, and PostgreSQL parses and plans its body at every call
-- (fmgr_sql keeps nothing past the statement).  PL/pgSQL keeps its plans
-- for the session, so each of these costs an index probe and no parse:
-- fleetpki_device_tenant 0.14-0.17 ms -> 0.07-0.09 ms a call (pgbench,
-- one connection, 2026-12-03).  Same signatures, same answers, same
-- owner and grants (CREATE OR REPLACE keeps them).

-- Every heartbeat and bootstrap (010).
CREATE OR REPLACE FUNCTION fleetpki_device_tenant(p_rot text)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	RETURN (SELECT d.tenant_id FROM devices d WHERE d.rot = upper(p_rot));
END;
$$;

-- Every request with an API key (008).
CREATE OR REPLACE FUNCTION fleetpki_apikey_tenant(p_key text)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	RETURN (SELECT k.tenant_id FROM api_keys k WHERE k.key = p_key);
END;
$$;

-- Every POST /api/register and /api/renew (018).
CREATE OR REPLACE FUNCTION fleetpki_enroll_lookup(p_device text)
RETURNS TABLE (tenant_id bigint, id bigint, secret_hash text,
	enabled boolean, locked boolean, failures integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	SELECT d.tenant_id, d.id, d.secret_hash, coalesce(d.enabled, false),
	       coalesce(f.locked_until > now(), false), coalesce(f.failures, 0)
	FROM (SELECT 1) one
	LEFT JOIN enroll_devices d ON d.device_id = p_device
	LEFT JOIN enroll_failures f ON f.device_id = p_device;
END;
$$;
