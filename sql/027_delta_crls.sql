-- fleetpki schema 027: delta CRLs (RFC 5280 5.2.4).  A CA of a million
-- devices has a CRL of tens of megabytes; relying parties that fetch it
-- once a day and a small delta CRL within seconds of every revocation
-- know as much as those fetching the complete one each time.
--
-- One crlNumber sequence per CA (cas.crl_number) numbers both kinds.  A
-- complete CRL is a base when the worker marked it so: the newest base
-- is at most crl_base_interval old, and every delta lists what was
-- revoked since that base (deltaCRLIndicator = its number), so a delta
-- completes any complete CRL numbered from the base up to the delta.
-- The complete CRL at the distribution point stays current too, unless
-- the operator turns crl_complete_on_revoke off (then it follows the
-- base's schedule and the delta carries what happened since).
ALTER TABLE crls ADD COLUMN base_number bigint;
ALTER TABLE crls ADD COLUMN is_base boolean NOT NULL DEFAULT false;
ALTER TABLE crls ADD CONSTRAINT crls_kind
	CHECK (base_number IS NULL OR (NOT is_base AND base_number < crl_number));
COMMENT ON COLUMN crls.base_number IS
	'a delta CRL: the BaseCRLNumber it completes; NULL: a complete CRL';
COMMENT ON COLUMN crls.is_base IS
	'a complete CRL that deltas are issued over (the newest one is)';

-- The newest CRL of each kind, by CA: the routes and the due test.
CREATE INDEX crls_ca_kind ON crls (ca_id, (base_number IS NULL), crl_number DESC);

-- What the worker must issue, per CA: a complete CRL (none yet, near its
-- nextUpdate, no base within p_base_before, or revocations it lacks when
-- p_on_revoke) and a delta (none yet, older than the newest complete,
-- near its nextUpdate, or revocations it lacks).  "Lacks" is by count,
-- asked only of CAs with a revocation begun in the ten minutes before
-- the older of the two newest CRLs or later (sql/017's argument).
DROP FUNCTION fleetpki_crl_due(bigint);
CREATE FUNCTION fleetpki_crl_due(p_before bigint, p_delta_before bigint,
	p_base_before bigint, p_on_revoke boolean)
RETURNS TABLE (tenant_id bigint, ca_id bigint, complete boolean, delta boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT s.tenant_id, s.ca_id, s.complete, s.complete OR s.delta
	FROM (
		SELECT ca.tenant_id, ca.id AS ca_id,
		       (l.next_update IS NULL
		        OR l.next_update < to_timestamp(p_before)
		        OR l.revocations IS NULL
		        OR b.created_at IS NULL
		        OR b.created_at < to_timestamp(p_base_before)
		        OR (p_on_revoke AND c.n IS NOT NULL
		            AND l.revocations <> c.n)) AS complete,
		       (d.next_update IS NULL
		        OR d.next_update < to_timestamp(p_delta_before)
		        OR d.revocations IS NULL
		        OR d.crl_number < l.crl_number
		        OR d.base_number < b.crl_number
		        OR (c.n IS NOT NULL AND d.revocations <> c.n)) AS delta
		FROM cas ca
		LEFT JOIN LATERAL (SELECT x.crl_number, x.next_update,
		                          x.revocations, x.created_at
		                   FROM crls x WHERE x.ca_id = ca.id
		                   AND x.base_number IS NULL
		                   ORDER BY x.crl_number DESC LIMIT 1) l ON true
		LEFT JOIN LATERAL (SELECT x.crl_number, x.created_at
		                   FROM crls x WHERE x.ca_id = ca.id
		                   AND x.base_number IS NULL AND x.is_base
		                   ORDER BY x.crl_number DESC LIMIT 1) b ON true
		LEFT JOIN LATERAL (SELECT x.crl_number, x.base_number,
		                          x.next_update, x.revocations,
		                          x.created_at
		                   FROM crls x WHERE x.ca_id = ca.id
		                   AND x.base_number IS NOT NULL
		                   ORDER BY x.crl_number DESC LIMIT 1) d ON true
		LEFT JOIN LATERAL (SELECT CASE WHEN EXISTS (
		                          SELECT 1 FROM revocations r
		                          WHERE r.ca_id = ca.id
		                          AND r.revoked_at > least(l.created_at,
		                              d.created_at) - interval '10 minutes')
		                   THEN (SELECT count(*) FROM revocations r
		                         WHERE r.ca_id = ca.id) END AS n) c ON true
	) s
	WHERE s.complete OR s.delta
	ORDER BY s.ca_id
$$;
REVOKE ALL ON FUNCTION fleetpki_crl_due(bigint, bigint, bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_crl_due(bigint, bigint, bigint, boolean) TO fleetpki_app;

-- History (sql/015) per kind: the newest p_keep complete CRLs and the
-- newest p_keep deltas of each CA, and always its newest base.
CREATE OR REPLACE FUNCTION fleetpki_crl_prune(p_keep integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH ranked AS (
		SELECT ca_id, crl_number,
		       row_number() OVER (PARTITION BY ca_id, base_number IS NULL
		                          ORDER BY crl_number DESC) AS n,
		       is_base AND crl_number = max(crl_number)
		           FILTER (WHERE is_base) OVER (PARTITION BY ca_id)
		           AS newest_base
		FROM crls
	), gone AS (
		DELETE FROM crls l USING ranked r
		WHERE l.ca_id = r.ca_id AND l.crl_number = r.crl_number
		  AND r.n > greatest(p_keep, 1) AND NOT r.newest_base
		RETURNING 1
	)
	SELECT count(*) FROM gone
$$;
