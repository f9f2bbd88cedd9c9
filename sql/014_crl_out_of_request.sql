-- fleetpki schema 014: CRLs are issued by the worker, never in a request.
--
-- A revocation writes its row, queues a "crl.revoked" job and answers;
-- fleetpki-worker (woken by the job's NOTIFY) issues the CRL of every CA
-- with revocations its newest CRL lacks, coalescing all that arrived
-- since.  "Lacks" must be exact: a revocation whose transaction began
-- before a CRL's and committed after it has an earlier revoked_at than
-- the CRL's created_at yet is not in it, so comparing times misses it.
-- Revocation rows are never deleted, so each CRL records how many of its
-- CA's rows it was built from, and a CA is due while that differs from
-- the count now.  (The CRL build reads them after locking the CA's
-- crl_number: its count is exactly what it contains.)
ALTER TABLE crls ADD COLUMN revocations bigint;
COMMENT ON COLUMN crls.revocations IS
	'revocation rows of its CA read to build it (NULL: before 014)';

CREATE OR REPLACE FUNCTION fleetpki_crl_due(p_before bigint)
RETURNS TABLE (tenant_id bigint, ca_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT ca.tenant_id, ca.id FROM cas ca
	LEFT JOIN LATERAL (SELECT l.next_update, l.revocations FROM crls l
	                   WHERE l.ca_id = ca.id
	                   ORDER BY l.crl_number DESC LIMIT 1) l ON true
	WHERE l.next_update IS NULL
	   OR l.next_update < to_timestamp(p_before)
	   OR l.revocations IS DISTINCT FROM
	      (SELECT count(*) FROM revocations r WHERE r.ca_id = ca.id)
	ORDER BY ca.id
$$;
