-- fleetpki schema 015: CRL history is bounded.  Every CRL ever issued
-- was kept; a CA of a million devices re-issuing a 50 MB CRL daily (and
-- after every burst of revocations) would grow without end.  The worker
-- keeps the newest crl_history CRLs of each CA (fleetpki.conf, default
-- 10) and deletes the rest: CRL numbers still only grow (cas.crl_number),
-- and the newest CRL is what every route serves.
--
-- The app role may not delete CRLs; this function, owned by the owner,
-- deletes only what is beyond the newest p_keep of its CA, across
-- tenants (the worker runs it for all), and says how many it deleted.
CREATE FUNCTION fleetpki_crl_prune(p_keep integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH ranked AS (
		SELECT ca_id, crl_number, row_number() OVER (PARTITION BY ca_id
		       ORDER BY crl_number DESC) AS n
		FROM crls
	), gone AS (
		DELETE FROM crls l USING ranked r
		WHERE l.ca_id = r.ca_id AND l.crl_number = r.crl_number
		  AND r.n > greatest(p_keep, 1)
		RETURNING 1
	)
	SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION fleetpki_crl_prune(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_crl_prune(integer) TO fleetpki_app;
