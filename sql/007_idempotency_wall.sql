-- fleetpki schema 007: the row-level security wall of 005 on the
-- tenant-owned table 006 added, idempotency_keys, like every other.
--
-- Its one cross-tenant statement, the worker's pruning of keys older
-- than they are honoured, goes through an owner's function that deletes
-- by age only and answers how many it deleted.

SELECT fleetpki_tenant_wall('idempotency_keys');

-- What the app runs on it: CERT_INSERT adds a key, IDEM_GET reads one,
-- IDEM_EXPIRE deletes the tenant's expired one.  Never an update.
REVOKE ALL ON idempotency_keys FROM fleetpki_app;
GRANT SELECT, INSERT, DELETE ON idempotency_keys TO fleetpki_app;

CREATE FUNCTION fleetpki_idempotency_prune(p_ttl bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH d AS (DELETE FROM idempotency_keys
	           WHERE created_at <= now() - make_interval(secs => p_ttl)
	           RETURNING 1)
	SELECT count(*) FROM d
$$;
REVOKE ALL ON FUNCTION fleetpki_idempotency_prune(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_idempotency_prune(bigint) TO fleetpki_app;
