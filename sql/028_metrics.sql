-- Metrics (issue 10): the queue gauges GET /metrics reads at scrape
-- time, for every tenant at once, in one set-based query.
--
-- The webhook deliveries are behind the tenant wall (021), and a scrape
-- belongs to no tenant, so the app role reads them through this owner's
-- function; it returns aggregates only (counts and ages per kind and
-- state), never a row of any tenant.
--
--   queue    'job' or 'webhook'
--   kind     the job kind; '' for webhooks
--   state    job: 'pending' (due or not), 'running';
--            webhook: 'pending' (never tried), 'retrying' (tried, will be
--            again), 'dead' (gave up; until replayed)
--   n        how many
--   oldest_ms  job: how long the oldest due pending job has been due
--            (0 when none is due); webhook: age of the oldest
--            pending/retrying delivery (the delivery lag); 0 for dead
CREATE FUNCTION fleetpki_metrics_queues()
RETURNS TABLE (queue text, kind text, state text, n bigint, oldest_ms bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT 'job'::text, j.kind, j.state, count(*),
	       coalesce(floor(extract(epoch FROM now() - min(j.run_at)
	                FILTER (WHERE j.state = 'pending' AND j.run_at <= now()))
	                * 1000)::bigint, 0)
	FROM jobs j
	WHERE j.state IN ('pending', 'running')
	GROUP BY j.kind, j.state
	UNION ALL
	SELECT 'webhook'::text, ''::text, s.state, count(*),
	       CASE WHEN s.state = 'dead' THEN 0
	            ELSE coalesce(floor(extract(epoch FROM now() -
	                 min(s.created_at)) * 1000)::bigint, 0) END
	FROM (SELECT CASE WHEN d.state = 'pending' AND d.attempts > 0
	                  THEN 'retrying' ELSE d.state END AS state,
	             d.created_at
	      FROM webhook_deliveries d
	      WHERE d.state IN ('pending', 'dead')) s
	GROUP BY s.state
$$;

REVOKE ALL ON FUNCTION fleetpki_metrics_queues() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_metrics_queues() TO fleetpki_app;

-- The worker's delivery lag histogram needs when each delivery's event
-- was recorded: fleetpki_webhook_next (021) with created_at (Unix ms).
CREATE FUNCTION fleetpki_webhook_next_at(p_webhook bigint, p_owner text,
	p_limit integer)
RETURNS TABLE (id bigint, event_id bigint, body text, attempts integer,
	created_ms bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT d.id, d.event_id, d.body, d.attempts,
	       floor(extract(epoch FROM d.created_at) * 1000)::bigint
	FROM webhook_deliveries d
	WHERE d.webhook_id = p_webhook AND d.state = 'pending'
	  AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = p_webhook
	              AND w.locked_by = p_owner AND w.lease_until > now()
	              AND w.enabled)
	ORDER BY d.id LIMIT p_limit
$$;

REVOKE ALL ON FUNCTION fleetpki_webhook_next_at(bigint, text, integer)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_webhook_next_at(bigint, text, integer)
	TO fleetpki_app;

-- fleetpki_webhook_next (021) had no other caller: the worker reads
-- deliveries through fleetpki_webhook_next_at only.
DROP FUNCTION fleetpki_webhook_next(bigint, text, integer);
