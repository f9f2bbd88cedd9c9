-- fleetpki schema 022: reports in psql (issue 10), and the reporting role.
--
-- One view per question, in a schema of their own, `report`, each with
-- the tenant's name (and the CA's, the profile's) so that a report reads
-- without joins.  Days and weeks are UTC (`AT TIME ZONE 'UTC'`); weeks
-- start on Monday (date_trunc('week')).  README, "Reports", has an
-- example query for each.
--
--   certificates_expiring_weekly  valid certificates by the week they
--                                 expire, per tenant, CA and source
--   issuance_daily                certificates issued per day
--   revocation_daily              revocations per day and reason
--   device_heartbeats             every registry device: its last
--                                 heartbeat, the interval it was told,
--                                 whether it has gone silent
--   silent_devices                the silent ones only
--   devices_by_state              devices per tenant, profile and state,
--                                 with heartbeat counts
--   usage_daily                   usage per day, device and event
--   webhook_health                per webhook: delivered, retrying, dead,
--                                 pending and how far behind it is
--   enroll_devices_by_state       device-enrollment devices per state
--   acme_orders                   ACME orders per state, kind and the
--                                 last problem (why parked or failed)
--   acme_rate_budget              per tenant: the weekly budget of new
--                                 ACME certificates, used, left, queued,
--                                 rate-limited, when the next slot opens
--
-- Source of a certificate (the "source" column): 'issued' (a tenant CA:
-- X.509 identity API, device protocol, CLI), 'certmaker' (a tenant CA,
-- asked by a certificate-maker user), 'registered' (an external
-- certificate registered with the identity API, issued_by_pki false),
-- 'acme' (a device-enrollment certificate from the ACME CA, enroll_certs;
-- its CA is shown as 'ACME', as the webhook events name it).
--
-- ---- the role ----------------------------------------------------------
-- fleetpki_report is a NOLOGIN group role: a login role made IN ROLE
-- fleetpki_report reads the views and nothing else.
--
--   CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE fleetpki_report;
--
-- It is granted USAGE on the schema report and SELECT on its views,
-- never anything on a base table, so no secret column (sealed keys and
-- secrets, token and password hashes, webhook tokens, setting values
-- such as acme.eab_hmac_key) is reachable through it.  Operators report
-- across tenants, so the views do not run as the caller
-- (security_invoker is off): they run with the rights of their owner,
-- the role that migrates, and the owner's policy (sql/005,
-- fleetpki_owner: USING (true)) lets them see every tenant.  No view
-- selects a secret column.  Every view is a security_barrier: a
-- condition the caller adds (WHERE tenant = 'x') is applied to what the
-- view returns, never pushed below its own filters unless it is
-- leakproof (the built-in comparisons are, so they still use indexes),
-- so a caller's function cannot see the rows the view filters out (the
-- settings rows of other keys).
--
-- Set-based: each view is joins and GROUP BYs over the tables, no
-- function called per row; the per-tenant settings they read (the
-- budget, the heartbeat default) are joined by (tenant_id, key), the
-- primary key of settings.

-- The role: made here when it does not exist (needs CREATEROLE);
-- scripts/up makes it beforehand, as it does fleetpki_app.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_report') THEN
		BEGIN
			CREATE ROLE fleetpki_report NOLOGIN NOSUPERUSER NOBYPASSRLS
				NOCREATEDB NOCREATEROLE;
		EXCEPTION WHEN insufficient_privilege THEN
			RAISE EXCEPTION 'role fleetpki_report does not exist and % may not create it',
				current_user
			USING HINT = 'As a superuser: CREATE ROLE fleetpki_report NOLOGIN; then migrate again.';
		END;
	END IF;
	-- A role that bypasses row-level security or is a superuser reads
	-- every table: "reads the views only" would be false.
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleetpki_report'
	           AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'role fleetpki_report must be NOSUPERUSER NOBYPASSRLS';
	END IF;
END;
$$;

CREATE SCHEMA report;
COMMENT ON SCHEMA report IS
	'fleetpki reports: views for operators, readable by fleetpki_report (sql/022)';
REVOKE ALL ON SCHEMA report FROM PUBLIC;

-- ---- certificates ----------------------------------------------------

-- Grouped by ids, names joined to the groups (ACME rows have no CA row).
CREATE VIEW report.certificates_expiring_weekly WITH (security_barrier) AS
SELECT	t.name AS tenant, coalesce(ca.name, 'ACME') AS ca, x.source, x.week,
	x.certificates, x.first_not_after
FROM (
	SELECT	c.tenant_id, c.ca_id,
		CASE WHEN NOT c.issued_by_pki THEN 'registered'
		     WHEN c.user_id IS NOT NULL THEN 'certmaker'
		     ELSE 'issued' END AS source,
		date_trunc('week', c.not_after AT TIME ZONE 'UTC')::date AS week,
		count(*) AS certificates, min(c.not_after) AS first_not_after
	FROM certificates c
	WHERE c.not_after >= now() AND c.removed_at IS NULL
	  AND NOT EXISTS (SELECT 1 FROM revocations r
	                  WHERE r.certificate_id = c.id)
	GROUP BY c.tenant_id, c.ca_id, 3, 4
	UNION ALL
	-- a device's current certificate (a superseded one was replaced)
	SELECT	e.tenant_id, NULL, 'acme',
		date_trunc('week', e.not_after AT TIME ZONE 'UTC')::date,
		count(*), min(e.not_after)
	FROM enroll_certs e
	WHERE e.superseded_at IS NULL AND e.not_after >= now()
	GROUP BY e.tenant_id, 4
) x
JOIN tenants t ON t.id = x.tenant_id
LEFT JOIN cas ca ON ca.id = x.ca_id;

CREATE VIEW report.issuance_daily WITH (security_barrier) AS
SELECT	t.name AS tenant, coalesce(ca.name, 'ACME') AS ca, x.source, x.day,
	x.certificates
FROM (
	SELECT	c.tenant_id, c.ca_id,
		CASE WHEN NOT c.issued_by_pki THEN 'registered'
		     WHEN c.user_id IS NOT NULL THEN 'certmaker'
		     ELSE 'issued' END AS source,
		(c.created_at AT TIME ZONE 'UTC')::date AS day,
		count(*) AS certificates
	FROM certificates c
	GROUP BY c.tenant_id, c.ca_id, 3, 4
	UNION ALL
	SELECT	e.tenant_id, NULL, 'acme',
		(e.created_at AT TIME ZONE 'UTC')::date, count(*)
	FROM enroll_certs e
	GROUP BY e.tenant_id, 4
) x
JOIN tenants t ON t.id = x.tenant_id
LEFT JOIN cas ca ON ca.id = x.ca_id;

-- Reason names are RFC 5280's CRLReason (7 is unused).
CREATE VIEW report.revocation_daily WITH (security_barrier) AS
SELECT	t.name AS tenant, ca.name AS ca, x.day, x.reason_code,
	CASE x.reason_code
		WHEN 0 THEN 'unspecified' WHEN 1 THEN 'keyCompromise'
		WHEN 2 THEN 'cACompromise' WHEN 3 THEN 'affiliationChanged'
		WHEN 4 THEN 'superseded' WHEN 5 THEN 'cessationOfOperation'
		WHEN 6 THEN 'certificateHold' WHEN 8 THEN 'removeFromCRL'
		WHEN 9 THEN 'privilegeWithdrawn' WHEN 10 THEN 'aACompromise'
	END AS reason,
	x.revoked
FROM (
	SELECT	r.tenant_id, r.ca_id, (r.revoked_at AT TIME ZONE 'UTC')::date AS day,
		r.reason AS reason_code, count(*) AS revoked
	FROM revocations r
	GROUP BY r.tenant_id, r.ca_id, 3, 4
) x
JOIN tenants t ON t.id = x.tenant_id
JOIN cas ca ON ca.id = x.ca_id;

-- ---- devices (the security-services registry) ------------------------
-- A device is told to heartbeat every HeartbeatInSec: the
-- SecurityHeartbeatInSec of its current properties when positive
-- (capped as the device protocol caps it), else the tenant's
-- device_heartbeat_default (86400).  It is silent when it has
-- bootstrapped, is not on the deny list, and neither heartbeat nor
-- bootstrap came for twice that interval.
CREATE VIEW report.device_heartbeats WITH (security_barrier) AS
SELECT	t.name AS tenant, d.rot, d.serial, p.name AS profile,
	p.uid AS profile_uid, d.state, d.blocked_at IS NOT NULL AS blocked,
	d.bootstrapped_at, d.last_seen, d.last_heartbeat,
	x.interval_s AS heartbeat_interval_s,
	d.bootstrapped_at IS NOT NULL AND d.blocked_at IS NULL
	    AND coalesce(d.last_heartbeat, d.bootstrapped_at)
	        < now() - make_interval(secs => 2 * x.interval_s) AS silent,
	now() - coalesce(d.last_heartbeat, d.bootstrapped_at) AS silent_for
FROM devices d
JOIN tenants t ON t.id = d.tenant_id
LEFT JOIN device_profiles p ON p.tenant_id = d.tenant_id AND p.id = d.profile_id
LEFT JOIN settings s ON s.tenant_id = d.tenant_id
    AND s.key = 'device_heartbeat_default'
CROSS JOIN LATERAL (SELECT CASE
	WHEN jsonb_typeof(d.current_props -> 'SecurityHeartbeatInSec') = 'number'
	     AND (d.current_props ->> 'SecurityHeartbeatInSec')::numeric >= 1
	THEN least((d.current_props ->> 'SecurityHeartbeatInSec')::numeric,
	           31622400)::bigint
	WHEN s.value ~ '^[0-9]{1,8}$' AND s.value::bigint >= 1
	THEN s.value::bigint
	ELSE 86400 END AS interval_s) x;

CREATE VIEW report.silent_devices WITH (security_barrier) AS
SELECT	tenant, rot, serial, profile, profile_uid, state, bootstrapped_at,
	last_seen, last_heartbeat, heartbeat_interval_s, silent_for
FROM report.device_heartbeats
WHERE silent;

-- Grouped from devices itself, names joined to the groups (not to each
-- of a million devices first); "silent" as in device_heartbeats.
CREATE VIEW report.devices_by_state WITH (security_barrier) AS
SELECT	t.name AS tenant, p.name AS profile, p.uid AS profile_uid, x.state,
	x.blocked, x.devices, x.never_bootstrapped, x.heartbeat_1d,
	x.heartbeat_7d, x.silent, x.oldest_heartbeat, x.newest_heartbeat
FROM (
	SELECT	d.tenant_id, d.profile_id, d.state,
		d.blocked_at IS NOT NULL AS blocked, count(*) AS devices,
		count(*) FILTER (WHERE d.bootstrapped_at IS NULL)
		    AS never_bootstrapped,
		count(*) FILTER (WHERE d.last_heartbeat > now() - interval '1 day')
		    AS heartbeat_1d,
		count(*) FILTER (WHERE d.last_heartbeat > now() - interval '7 days')
		    AS heartbeat_7d,
		count(*) FILTER (WHERE d.bootstrapped_at IS NOT NULL
		    AND d.blocked_at IS NULL
		    AND coalesce(d.last_heartbeat, d.bootstrapped_at)
		        < now() - make_interval(secs => 2 * CASE
			WHEN jsonb_typeof(d.current_props -> 'SecurityHeartbeatInSec') = 'number'
			     AND (d.current_props ->> 'SecurityHeartbeatInSec')::numeric >= 1
			THEN least((d.current_props ->> 'SecurityHeartbeatInSec')::numeric,
			           31622400)::bigint
			WHEN s.value ~ '^[0-9]{1,8}$' AND s.value::bigint >= 1
			THEN s.value::bigint
			ELSE 86400 END)) AS silent,
		min(d.last_heartbeat) AS oldest_heartbeat,
		max(d.last_heartbeat) AS newest_heartbeat
	FROM devices d
	LEFT JOIN settings s ON s.tenant_id = d.tenant_id
	    AND s.key = 'device_heartbeat_default'
	GROUP BY d.tenant_id, d.profile_id, d.state, 4
) x
JOIN tenants t ON t.id = x.tenant_id
LEFT JOIN device_profiles p ON p.tenant_id = x.tenant_id AND p.id = x.profile_id;

CREATE VIEW report.usage_daily WITH (security_barrier) AS
SELECT	t.name AS tenant, u.day, d.rot, d.serial, u.event, u.count
FROM device_usage u
JOIN tenants t ON t.id = u.tenant_id
JOIN devices d ON d.tenant_id = u.tenant_id AND d.id = u.device_id;

-- ---- webhooks --------------------------------------------------------
-- A webhook is named by its uid and the host of its URL only: a URL's
-- path or query may itself be a credential (hooks.example/T0/B0/XXXX),
-- and its token and signing secret are never read.  'retrying':
-- pending after at least one failed attempt; 'lag': how long the oldest
-- pending delivery has waited.
CREATE VIEW report.webhook_health WITH (security_barrier) AS
SELECT	t.name AS tenant, w.uid AS webhook,
	substring(w.url FROM '^https://(?:[^/?#@]*@)?([^/?#]*)') AS host,
	w.types, w.enabled, w.disabled_reason, w.disabled_at,
	coalesce(d.delivered, 0) AS delivered,
	coalesce(d.delivered_1d, 0) AS delivered_1d,
	coalesce(d.pending, 0) AS pending,
	coalesce(d.retrying, 0) AS retrying,
	coalesce(d.dead, 0) AS dead,
	d.oldest_pending_at,
	now() - d.oldest_pending_at AS lag,
	d.last_delivered_at,
	d.avg_delivery_1d,
	CASE WHEN w.blocked_until > now() THEN w.blocked_until END
	    AS backing_off_until,
	w.lease_until > now() AS served
FROM webhooks w
JOIN tenants t ON t.id = w.tenant_id
LEFT JOIN (
	SELECT	webhook_id,
		count(*) FILTER (WHERE state = 'delivered') AS delivered,
		count(*) FILTER (WHERE state = 'delivered'
		                 AND delivered_at > now() - interval '1 day')
		    AS delivered_1d,
		count(*) FILTER (WHERE state = 'pending') AS pending,
		count(*) FILTER (WHERE state = 'pending' AND attempts > 0)
		    AS retrying,
		count(*) FILTER (WHERE state = 'dead') AS dead,
		min(created_at) FILTER (WHERE state = 'pending')
		    AS oldest_pending_at,
		max(delivered_at) AS last_delivered_at,
		avg(delivered_at - created_at) FILTER (WHERE state = 'delivered'
		    AND delivered_at > now() - interval '1 day') AS avg_delivery_1d
	FROM webhook_deliveries
	GROUP BY webhook_id
) d ON d.webhook_id = w.id;

-- ---- ACME (device enrollment) ----------------------------------------
-- error_type of an open order is why it waits: 'fleetpki:budget' (the
-- weekly budget), 'urn:ietf:params:acme:error:rateLimited' (the CA's
-- limits, Retry-After honoured), a polling pause; of a failed one, why
-- it failed.
CREATE VIEW report.acme_orders WITH (security_barrier) AS
SELECT	t.name AS tenant, x.kind, x.state, x.error_type, x.orders,
	x.finished_7d, x.oldest_created_at, x.last_updated_at, x.next_retry_at
FROM (
	SELECT	o.tenant_id, o.kind, o.state, o.error_type, count(*) AS orders,
		count(*) FILTER (WHERE o.finished_at > now() - interval '7 days')
		    AS finished_7d,
		min(o.created_at) AS oldest_created_at,
		max(o.updated_at) AS last_updated_at,
		min(o.retry_at) FILTER (WHERE o.retry_at > now()
		    AND o.state NOT IN ('valid', 'failed')) AS next_retry_at
	FROM acme_orders o
	GROUP BY o.tenant_id, o.kind, o.state, o.error_type
) x
JOIN tenants t ON t.id = x.tenant_id;

-- Device enrollment's devices (sql/018) by the state the portal and
-- `fleetpki device list` show: 'disabled' when disabled, else the state.
CREATE VIEW report.enroll_devices_by_state WITH (security_barrier) AS
SELECT	t.name AS tenant, x.state, x.devices, x.registered, x.expiring_30d,
	x.expired, x.oldest_seen, x.newest_seen
FROM (
	SELECT	d.tenant_id,
		CASE WHEN NOT d.enabled THEN 'disabled' ELSE d.state END AS state,
		count(*) AS devices,
		count(*) FILTER (WHERE d.registered_at IS NOT NULL) AS registered,
		count(*) FILTER (WHERE d.not_after >= now()
		                 AND d.not_after < now() + interval '30 days')
		    AS expiring_30d,
		count(*) FILTER (WHERE d.not_after < now()) AS expired,
		min(d.last_seen) AS oldest_seen, max(d.last_seen) AS newest_seen
	FROM enroll_devices d
	GROUP BY d.tenant_id, 2
) x
JOIN tenants t ON t.id = x.tenant_id;

-- The weekly budget as the worker's gate counts it (stmt_acme.h
-- ACME_BUDGET, acme_budget_wait_s): 'used' is every order finalized in
-- the last seven days, 'in_flight' those past the queue (ordering ..
-- downloading); a new order starts while used + in_flight < budget;
-- renewals never wait.  When the budget is spent the next slot opens as
-- the oldest of the window leaves it.  Tenants with an ACME directory
-- or with orders.
CREATE VIEW report.acme_rate_budget WITH (security_barrier) AS
SELECT	t.name AS tenant, dir.value AS directory_url,
	a.status AS account_status, b.budget AS weekly_budget,
	coalesce(o.used_7d, 0) AS used_7d,
	coalesce(o.renewals_7d, 0) AS renewals_7d,
	greatest(b.budget - coalesce(o.used_7d, 0), 0) AS left_7d,
	coalesce(o.in_flight, 0) AS in_flight,
	coalesce(o.queued, 0) AS queued,
	o.oldest_queued_at,
	coalesce(o.rate_limited, 0) AS rate_limited,
	o.rate_limited_until,
	b.budget > 0 AND coalesce(o.used_7d, 0) + coalesce(o.in_flight, 0)
	    < b.budget AS new_order_may_start,
	CASE WHEN b.budget > 0 AND coalesce(o.used_7d, 0) >= b.budget
	     THEN o.oldest_used_at + interval '7 days' END AS next_slot_at
FROM tenants t
LEFT JOIN settings dir ON dir.tenant_id = t.id
    AND dir.key = 'acme.directory_url'
LEFT JOIN settings bs ON bs.tenant_id = t.id AND bs.key = 'acme.weekly_budget'
LEFT JOIN acme_accounts a ON a.tenant_id = t.id
    AND a.directory_url = dir.value
CROSS JOIN LATERAL (SELECT CASE WHEN bs.value ~ '^[0-9]{1,9}$'
	THEN bs.value::bigint ELSE 50 END AS budget) b
LEFT JOIN (
	SELECT	o.tenant_id,
		count(*) FILTER (WHERE o.state = 'valid') AS used_7d,
		count(*) FILTER (WHERE o.state = 'valid' AND o.kind = 'renew')
		    AS renewals_7d,
		min(o.finished_at) FILTER (WHERE o.state = 'valid')
		    AS oldest_used_at,
		count(*) FILTER (WHERE o.state IN ('ordering', 'validating',
		    'finalizing', 'downloading')) AS in_flight,
		count(*) FILTER (WHERE o.state = 'queued') AS queued,
		min(o.created_at) FILTER (WHERE o.state = 'queued')
		    AS oldest_queued_at,
		count(*) FILTER (WHERE o.state NOT IN ('valid', 'failed')
		    AND o.error_type = 'urn:ietf:params:acme:error:rateLimited'
		    AND o.retry_at > now()) AS rate_limited,
		max(o.retry_at) FILTER (WHERE o.state NOT IN ('valid', 'failed')
		    AND o.error_type = 'urn:ietf:params:acme:error:rateLimited')
		    AS rate_limited_until
	FROM acme_orders o
	-- the budget's index (acme_orders_finished) and the open orders'
	-- (acme_orders_open): never the whole history
	WHERE (o.state = 'valid' AND o.finished_at > now() - interval '7 days')
	   OR o.state NOT IN ('valid', 'failed')
	GROUP BY o.tenant_id
) o ON o.tenant_id = t.id
WHERE coalesce(dir.value, '') <> '' OR o.tenant_id IS NOT NULL;

-- ---- what the role may do --------------------------------------------
-- Read the views; nothing else (no TRIGGER, REFERENCES, no base table).
GRANT USAGE ON SCHEMA report TO fleetpki_report;
GRANT SELECT ON ALL TABLES IN SCHEMA report TO fleetpki_report;
-- Views later migrations add here (as the owner) are readable as they
-- are created; a later migration must put nothing but views here, each
-- free of secret columns (test_reports.py checks both).
ALTER DEFAULT PRIVILEGES IN SCHEMA report GRANT SELECT ON TABLES TO fleetpki_report;
