-- fleetpki schema 019: the ACME client's side of device enrollment
-- (fleetpki-worker: src/core/acme.c, src/net/acme.c; sql/018 has the
-- orders, accounts and certificates it writes).
--
--   worker_heartbeats  each worker child touches its row every pass: what
--                      GET /api/health reports as the worker's last sight
--   acme_probes        whether each ACME directory the tenants configured
--                      answered at the worker's last probe (health again:
--                      a request never calls the CA itself)
--   acme_backlog       a view for operators: per tenant, the weekly budget
--                      used and the orders still queued
--
-- The renewal scan and the probe list reach across tenants through the
-- owner's functions below; the app role gets nothing else of these
-- tables.

CREATE TABLE worker_heartbeats (
	host		text NOT NULL CHECK (length(host) <= 255),
	class		text NOT NULL CHECK (length(class) <= 64),
	pid		integer NOT NULL,
	last_seen	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (host, class)
);

CREATE TABLE acme_probes (
	directory_url	text PRIMARY KEY,
	ok		boolean NOT NULL,
	error		text,
	checked_at	timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE worker_heartbeats ENABLE ROW LEVEL SECURITY;
ALTER TABLE worker_heartbeats FORCE ROW LEVEL SECURITY;
CREATE POLICY fleetpki_owner ON worker_heartbeats
	TO CURRENT_USER USING (true) WITH CHECK (true);
ALTER TABLE acme_probes ENABLE ROW LEVEL SECURITY;
ALTER TABLE acme_probes FORCE ROW LEVEL SECURITY;
CREATE POLICY fleetpki_owner ON acme_probes
	TO CURRENT_USER USING (true) WITH CHECK (true);
REVOKE ALL ON worker_heartbeats, acme_probes FROM fleetpki_app;

-- A worker child's pass.
CREATE FUNCTION fleetpki_worker_seen(p_host text, p_class text, p_pid integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	INSERT INTO worker_heartbeats (host, class, pid, last_seen)
	VALUES (left(p_host, 255), left(p_class, 64), p_pid, now())
	ON CONFLICT (host, class) DO UPDATE SET pid = EXCLUDED.pid,
		last_seen = now()
$$;

-- The distinct ACME directories of all tenants, with the CA bundle one
-- of them trusts for it (the probe's list).
CREATE FUNCTION fleetpki_acme_directories()
RETURNS TABLE (directory_url text, ca_file text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT d.value, min(coalesce(c.value, ''))
	FROM settings d
	LEFT JOIN settings c ON c.tenant_id = d.tenant_id
	    AND c.key = 'acme.ca_file'
	WHERE d.key = 'acme.directory_url' AND d.value <> ''
	GROUP BY d.value ORDER BY d.value
$$;

-- What a probe found; directories no tenant names any more are dropped.
CREATE FUNCTION fleetpki_acme_probe_record(p_url text, p_ok boolean,
	p_error text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	DELETE FROM acme_probes p WHERE NOT EXISTS (SELECT 1 FROM settings s
	    WHERE s.key = 'acme.directory_url' AND s.value = p.directory_url);
	INSERT INTO acme_probes (directory_url, ok, error, checked_at)
	VALUES (p_url, p_ok, left(p_error, 500), now())
	ON CONFLICT (directory_url) DO UPDATE SET ok = EXCLUDED.ok,
		error = EXCLUDED.error, checked_at = now()
$$;

-- GET /api/health: seconds since any worker child was seen (NULL:
-- never), and of the ACME directories how many there are, how many
-- answered at the last probe, and how long ago that probe was.
CREATE FUNCTION fleetpki_health()
RETURNS TABLE (worker_age bigint, acme_total bigint, acme_ok bigint,
	acme_age bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT (SELECT floor(extract(epoch FROM now() - max(last_seen)))::bigint
	        FROM worker_heartbeats),
	       (SELECT count(*) FROM acme_probes),
	       (SELECT count(*) FILTER (WHERE ok) FROM acme_probes),
	       (SELECT floor(extract(epoch FROM now() - min(checked_at)))::bigint
	        FROM acme_probes)
$$;

-- The renewal scan, across tenants, one statement per batch: current
-- certificates of enabled devices with less than the tenant's
-- enroll.renew_percent of their life left, or past the CA's renewal
-- window (RFC 9773), with no open order and no order failed in the last
-- hour, get a 'renew' order (the device's CSR again when it sent one),
-- an acme.order job and the state 'renewing'.  Returns how many.
CREATE FUNCTION fleetpki_acme_renew_due(p_limit integer, p_attempts integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH due AS (
		SELECT c.tenant_id, c.device_ref, c.hostname, o.csr_pem
		FROM enroll_certs c
		JOIN enroll_devices d ON d.tenant_id = c.tenant_id
		    AND d.id = c.device_ref
		LEFT JOIN acme_orders o ON o.tenant_id = c.tenant_id
		    AND o.id = c.order_id
		LEFT JOIN settings s ON s.tenant_id = c.tenant_id
		    AND s.key = 'enroll.renew_percent'
		WHERE c.superseded_at IS NULL AND d.enabled
		  AND (c.renew_after <= now()
		       OR now() >= c.not_after - (c.not_after - c.not_before) *
		          (coalesce(nullif(s.value, '')::numeric, 33) / 100))
		  AND NOT EXISTS (SELECT 1 FROM acme_orders x
		      WHERE x.tenant_id = c.tenant_id AND x.device_ref = c.device_ref
		        AND (x.state NOT IN ('valid', 'failed')
		             OR (x.state = 'failed'
		                 AND x.finished_at > now() - interval '1 hour')))
		ORDER BY c.not_after
		LIMIT p_limit
	), ins AS (
		INSERT INTO acme_orders (tenant_id, device_ref, kind, hostname,
		    csr_pem)
		SELECT tenant_id, device_ref, 'renew', hostname, csr_pem FROM due
		ON CONFLICT (tenant_id, device_ref)
		    WHERE state NOT IN ('valid', 'failed') DO NOTHING
		RETURNING id, tenant_id, device_ref
	), jobs AS (
		INSERT INTO jobs (kind, key, tenant_id, max_attempts)
		SELECT 'acme.order', id::text, tenant_id, p_attempts FROM ins
		ON CONFLICT (kind, key) WHERE state IN ('pending', 'running')
		    DO NOTHING
	), dev AS (
		UPDATE enroll_devices d SET state = 'renewing', updated_at = now()
		FROM ins WHERE d.tenant_id = ins.tenant_id AND d.id = ins.device_ref
	)
	SELECT count(*) FROM ins
$$;

-- Open orders whose job is gone (reaped after a worker died on its last
-- attempt, or failed for good) would hold their device 'issuing' for
-- ever: failed, with the device, so that the next request or renewal
-- orders afresh.  Only the few open orders are looked at (the partial
-- index acme_orders_open); five minutes of grace for a job in the making.
CREATE FUNCTION fleetpki_acme_orphans()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH o AS (
		UPDATE acme_orders o SET state = 'failed',
		    error_type = 'fleetpki:job',
		    error_detail = 'the order''s job ended without finishing it',
		    finished_at = now(), updated_at = now()
		WHERE o.state NOT IN ('valid', 'failed')
		  AND o.updated_at < now() - interval '5 minutes'
		  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'acme.order'
		      AND j.key = o.id::text AND j.state IN ('pending', 'running'))
		RETURNING o.tenant_id, o.device_ref
	), d AS (
		UPDATE enroll_devices d SET state = 'failed',
		    last_error = 'fleetpki:job: the order''s job ended without '
		                 'finishing it',
		    updated_at = now()
		FROM o WHERE d.tenant_id = o.tenant_id AND d.id = o.device_ref
	)
	SELECT count(*) FROM o
$$;

REVOKE ALL ON FUNCTION fleetpki_acme_orphans() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_acme_orphans() TO fleetpki_app;

REVOKE ALL ON FUNCTION fleetpki_worker_seen(text, text, integer),
	fleetpki_acme_directories(), fleetpki_acme_probe_record(text, boolean, text),
	fleetpki_health(), fleetpki_acme_renew_due(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_worker_seen(text, text, integer),
	fleetpki_acme_directories(), fleetpki_acme_probe_record(text, boolean, text),
	fleetpki_health(), fleetpki_acme_renew_due(integer, integer)
	TO fleetpki_app;

-- For an operator in psql: per tenant, what the weekly budget has spent
-- and what waits.
CREATE VIEW acme_backlog AS
	SELECT t.name AS tenant,
	       (SELECT count(*) FROM acme_orders o WHERE o.tenant_id = t.id
	        AND o.state = 'valid'
	        AND o.finished_at > now() - interval '7 days') AS used_7d,
	       (SELECT count(*) FROM acme_orders o WHERE o.tenant_id = t.id
	        AND o.state = 'queued') AS queued,
	       (SELECT count(*) FROM acme_orders o WHERE o.tenant_id = t.id
	        AND o.state IN ('ordering', 'validating', 'finalizing',
	                        'downloading')) AS in_progress,
	       (SELECT min(o.created_at) FROM acme_orders o WHERE o.tenant_id = t.id
	        AND o.state = 'queued') AS oldest_queued
	FROM tenants t;
