-- fleetpki schema 017: the worker's "which CAs need a CRL" costs what
-- changed, not the size of the revocation table.  sql/014 counts every
-- CA's revocations on each pass (every worker_interval, and after every
-- burst): with millions revoked across CAs that is a scan of them all, a
-- few times a minute.  The count is exact, so it stays; it is now asked
-- only of CAs with a revocation whose transaction began less than ten
-- minutes before their newest CRL's did, or after it (revoked_at is its
-- transaction's start).  A revocation the CRL missed committed after the
-- CRL read the table, so it began at most its own duration before: a
-- revocation is one statement, far below ten minutes.  Once a CRL
-- includes them, those revocations are older than its start less the
-- margin at the next CRL, and the CA drops out of the count.
CREATE INDEX revocations_ca_time ON revocations (ca_id, revoked_at);

CREATE OR REPLACE FUNCTION fleetpki_crl_due(p_before bigint)
RETURNS TABLE (tenant_id bigint, ca_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT ca.tenant_id, ca.id FROM cas ca
	LEFT JOIN LATERAL (SELECT l.next_update, l.revocations, l.created_at
	                   FROM crls l WHERE l.ca_id = ca.id
	                   ORDER BY l.crl_number DESC LIMIT 1) l ON true
	WHERE l.next_update IS NULL
	   OR l.next_update < to_timestamp(p_before)
	   OR l.revocations IS NULL
	   OR (EXISTS (SELECT 1 FROM revocations r WHERE r.ca_id = ca.id
	               AND r.revoked_at > l.created_at - interval '10 minutes')
	       AND l.revocations <> (SELECT count(*) FROM revocations r
	                             WHERE r.ca_id = ca.id))
	ORDER BY ca.id
$$;
