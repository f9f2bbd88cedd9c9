-- fleetpki schema 021: webhooks (security-services.txt "Notification
-- Hook APIs"), delivered by fleetpki-worker.
--
--   webhooks            one row per tenant and NotificationURL, with the
--                       event types it is subscribed to, its
--                       AuthorizationToken and its Standard Webhooks
--                       signing secret (both sealed under the master key
--                       with AAD "webhook:<tenant>:<uid>:token" and
--                       "...:secret"), and the state of its delivery
--                       queue: the lease of the worker serving it and
--                       the back-off of its head
--   webhook_deliveries  one row per event and webhook, written by a
--                       trigger on events in the transaction of the
--                       event itself: nothing committed goes
--                       unannounced, nothing rolled back is announced
--
-- A webhook's deliveries go out one at a time in id order (the order
-- their events committed in), by whichever worker holds the webhook's
-- lease (fleetpki_webhook_claim: SKIP LOCKED, so workers on any number
-- of hosts share the webhooks and two never serve the same one).  A
-- failed attempt blocks the webhook until its retry (blocked_until), so
-- later deliveries never overtake an earlier one; other webhooks are
-- not affected.  After the last attempt a delivery is 'dead' (the next
-- one goes); `fleetpki webhook replay` makes it pending again.  A 410
-- answer disables the webhook (disabled_reason); its pending
-- deliveries wait until /notification/webhook/update enables it again.

CREATE TABLE webhooks (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- random, names the row in the seals' AAD (known before the insert)
	uid		text NOT NULL UNIQUE CHECK (uid ~ '^[0-9a-f]{32}$'),
	url		text NOT NULL
			CHECK (url ~ '^https://' AND length(url) <= 2048),
	types		text[] NOT NULL CHECK (cardinality(types) >= 1),
	token_sealed	bytea NOT NULL,
	secret_sealed	bytea NOT NULL,
	enabled		boolean NOT NULL DEFAULT true,
	disabled_reason	text,
	disabled_at	timestamptz,
	-- the queue: no attempt before blocked_until (the head's back-off);
	-- served by locked_by until lease_until
	blocked_until	timestamptz NOT NULL DEFAULT '-infinity',
	lease_until	timestamptz,
	locked_by	text,
	last_claimed	timestamptz NOT NULL DEFAULT '-infinity',
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, url),
	UNIQUE (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	webhook_id	bigint NOT NULL,
	-- the event (events.id): the webhook-id header, the same on every
	-- attempt and replay
	event_id	bigint NOT NULL,
	type		text NOT NULL,
	-- the JSON body, fixed when the event committed
	body		text NOT NULL,
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_status	integer,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_attempt_at	timestamptz,
	next_at		timestamptz,
	delivered_at	timestamptz,
	FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id)
		ON DELETE CASCADE,
	UNIQUE (webhook_id, event_id)
);
-- A webhook's queue, in order.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, id)
	WHERE state = 'pending';
-- The CLI's listing (by state, keyset on id).
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (tenant_id, state, id);

SELECT fleetpki_tenant_wall('webhooks');
SELECT fleetpki_tenant_wall('webhook_deliveries');

-- The webhook type of an event type: the spec's names for the events
-- the device protocol writes (sql/010), the others as they are.
CREATE FUNCTION fleetpki_webhook_type(p_type text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_type
		WHEN 'DEVICE_INFO_CHANGE' THEN 'DEVICE_BOOTSTRAP_EVENT'
		WHEN 'DEVICE_PROPERTIES_CHANGE' THEN 'DEVICE_PROPERTIES_CHANGE_EVENT'
		WHEN 'DEVICE_ERROR' THEN 'DEVICE_ERRORS_EVENT'
		ELSE p_type END
$$;

-- Events -> deliveries, in the event's transaction.  As the owner (the
-- app role has no rights on the deliveries), for the event's tenant
-- only.  One NOTIFY per transaction (PostgreSQL folds equal ones).
CREATE FUNCTION fleetpki_webhook_fanout() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	t text := fleetpki_webhook_type(NEW.type);
BEGIN
	INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, type, body)
	SELECT NEW.tenant_id, w.id, NEW.id, t,
	       (CASE WHEN NEW.rot IS NULL THEN '{}'::jsonb
	             ELSE jsonb_build_object('ROTPublicUID', NEW.rot) END
	        || jsonb_build_object(
	             'Timestamp', to_char(NEW.created_at AT TIME ZONE 'UTC',
	                                  'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	             'EventType', t,
	             'Payload', NEW.payload))::text
	FROM webhooks w
	WHERE w.tenant_id = NEW.tenant_id AND w.enabled AND t = ANY (w.types);
	IF FOUND THEN
		PERFORM pg_notify('fleetpki_webhooks', '');
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_webhook_fanout() FROM PUBLIC;
CREATE TRIGGER webhook_fanout AFTER INSERT ON events
	FOR EACH ROW EXECUTE FUNCTION fleetpki_webhook_fanout();

-- Does the tenant follow this type?  (One index probe: a tenant has a
-- handful of webhooks; issuance without a subscriber writes nothing.)
CREATE FUNCTION fleetpki_webhook_wanted(p_tenant bigint, p_type text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
	SELECT EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = p_tenant
	               AND w.enabled AND p_type = ANY (w.types))
$$;
REVOKE ALL ON FUNCTION fleetpki_webhook_wanted(bigint, text) FROM PUBLIC;

CREATE FUNCTION fleetpki_webhook_ts(p timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- CERTIFICATE_ISSUED / CERTIFICATE_REVOKED for the certificates of every
-- dialect (certificates: identity API, certificate maker, device
-- protocol; enroll_certs: ACME-obtained device certificates), written
-- to events only when the tenant has a webhook for the type.
CREATE FUNCTION fleetpki_webhook_cert_issued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF fleetpki_webhook_wanted(NEW.tenant_id, 'CERTIFICATE_ISSUED') THEN
		INSERT INTO events (tenant_id, type, payload)
		SELECT NEW.tenant_id, 'CERTIFICATE_ISSUED', jsonb_build_object(
			'CertificateAuthorityName', ca.name,
			'CertificateSerialNumber', NEW.serial,
			'Subject', NEW.subject,
			'Fingerprint', NEW.fingerprint,
			'NotBefore', fleetpki_webhook_ts(NEW.not_before),
			'ExpirationDate', fleetpki_webhook_ts(NEW.not_after))
		FROM cas ca WHERE ca.tenant_id = NEW.tenant_id AND ca.id = NEW.ca_id;
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_webhook_cert_issued() FROM PUBLIC;
CREATE TRIGGER webhook_cert_issued AFTER INSERT ON certificates
	FOR EACH ROW EXECUTE FUNCTION fleetpki_webhook_cert_issued();

CREATE FUNCTION fleetpki_webhook_enroll_issued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF fleetpki_webhook_wanted(NEW.tenant_id, 'CERTIFICATE_ISSUED') THEN
		INSERT INTO events (tenant_id, type, payload)
		VALUES (NEW.tenant_id, 'CERTIFICATE_ISSUED', jsonb_build_object(
			'CertificateAuthorityName', 'ACME',
			'CertificateSerialNumber', NEW.serial,
			'Hostname', NEW.hostname,
			'NotBefore', fleetpki_webhook_ts(NEW.not_before),
			'ExpirationDate', fleetpki_webhook_ts(NEW.not_after)));
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_webhook_enroll_issued() FROM PUBLIC;
CREATE TRIGGER webhook_enroll_issued AFTER INSERT ON enroll_certs
	FOR EACH ROW EXECUTE FUNCTION fleetpki_webhook_enroll_issued();

CREATE FUNCTION fleetpki_webhook_cert_revoked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF fleetpki_webhook_wanted(NEW.tenant_id, 'CERTIFICATE_REVOKED') THEN
		INSERT INTO events (tenant_id, type, payload)
		SELECT NEW.tenant_id, 'CERTIFICATE_REVOKED', jsonb_build_object(
			'CertificateAuthorityName', ca.name,
			'CertificateSerialNumber', NEW.serial,
			'RevocationReason', NEW.reason,
			'RevokedAt', fleetpki_webhook_ts(NEW.revoked_at))
		FROM cas ca WHERE ca.tenant_id = NEW.tenant_id AND ca.id = NEW.ca_id;
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_webhook_cert_revoked() FROM PUBLIC;
CREATE TRIGGER webhook_cert_revoked AFTER INSERT ON revocations
	FOR EACH ROW EXECUTE FUNCTION fleetpki_webhook_cert_revoked();

-- ---- the worker's side (across tenants: SECURITY DEFINER) ----------

-- Take the lease of one webhook with something to deliver now: enabled,
-- not backing off, not served by another worker (its lease ran out, or
-- none), the longest unserved first.  SKIP LOCKED: concurrent claims
-- take different webhooks; the re-check under the row lock (READ
-- COMMITTED) sees a lease another claim just committed.
CREATE FUNCTION fleetpki_webhook_claim(p_owner text, p_lease_s integer)
RETURNS TABLE (id bigint, tenant_id bigint, uid text, url text,
	token_sealed bytea, secret_sealed bytea)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	UPDATE webhooks w SET lease_until = now() + make_interval(secs => p_lease_s),
		locked_by = p_owner, last_claimed = now()
	WHERE w.id = (SELECT c.id FROM webhooks c
	              WHERE c.enabled AND c.blocked_until <= now()
	                AND (c.lease_until IS NULL OR c.lease_until < now())
	                AND EXISTS (SELECT 1 FROM webhook_deliveries d
	                            WHERE d.webhook_id = c.id AND d.state = 'pending')
	              ORDER BY c.last_claimed LIMIT 1
	              FOR UPDATE SKIP LOCKED)
	RETURNING w.id, w.tenant_id, w.uid, w.url, w.token_sealed, w.secret_sealed
$$;

-- The next pending deliveries of a webhook whose lease 'p_owner' holds,
-- in order.
CREATE FUNCTION fleetpki_webhook_next(p_webhook bigint, p_owner text,
	p_limit integer)
RETURNS TABLE (id bigint, event_id bigint, body text, attempts integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT d.id, d.event_id, d.body, d.attempts FROM webhook_deliveries d
	WHERE d.webhook_id = p_webhook AND d.state = 'pending'
	  AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = p_webhook
	              AND w.locked_by = p_owner AND w.lease_until > now()
	              AND w.enabled)
	ORDER BY d.id LIMIT p_limit
$$;

-- Record an attempt, only while 'p_owner' still holds the lease (else
-- another worker has the webhook now and will try again: at least
-- once).  p_outcome: 'ok' delivered; 'retry' failed, again in
-- p_retry_s unless that was attempt p_max (then 'dead'); 'gone' (410)
-- disables the webhook.  Renews the lease.  Returns the delivery's
-- state, or NULL when the lease was lost.
CREATE FUNCTION fleetpki_webhook_result(p_delivery bigint, p_owner text,
	p_lease_s integer, p_outcome text, p_status integer, p_error text,
	p_retry_s integer, p_max integer)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	wid bigint;
	st text;
BEGIN
	SELECT w.id INTO wid FROM webhooks w
	JOIN webhook_deliveries d ON d.webhook_id = w.id
	WHERE d.id = p_delivery AND d.state = 'pending'
	  AND w.locked_by = p_owner AND w.lease_until > now()
	FOR UPDATE OF w;
	IF wid IS NULL THEN
		RETURN NULL;
	END IF;
	UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
		last_status = nullif(p_status, 0), last_error = p_error,
		last_attempt_at = now(),
		state = CASE WHEN p_outcome = 'ok' THEN 'delivered'
		             WHEN p_outcome = 'retry' AND d.attempts + 1 >= p_max
		             THEN 'dead' ELSE 'pending' END,
		delivered_at = CASE WHEN p_outcome = 'ok' THEN now() END,
		next_at = CASE WHEN p_outcome = 'retry' AND d.attempts + 1 < p_max
		          THEN now() + make_interval(secs => p_retry_s) END
	WHERE d.id = p_delivery RETURNING d.state INTO st;
	UPDATE webhooks w SET
		lease_until = now() + make_interval(secs => p_lease_s),
		blocked_until = CASE WHEN st = 'pending' AND p_outcome = 'retry'
		                THEN now() + make_interval(secs => p_retry_s)
		                ELSE '-infinity' END,
		enabled = w.enabled AND p_outcome <> 'gone',
		disabled_reason = CASE WHEN p_outcome = 'gone' THEN p_error
		                  ELSE w.disabled_reason END,
		disabled_at = CASE WHEN p_outcome = 'gone' THEN now()
		              ELSE w.disabled_at END
	WHERE w.id = wid;
	RETURN st;
END;
$$;

-- Give a webhook's lease back (the worker moves on to another).
CREATE FUNCTION fleetpki_webhook_release(p_webhook bigint, p_owner text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	UPDATE webhooks SET lease_until = NULL, locked_by = NULL
	WHERE id = p_webhook AND locked_by = p_owner
$$;

-- When the next webhook's back-off ends, seconds from now (NULL: none
-- is waiting), so the worker sleeps until then at most.
CREATE FUNCTION fleetpki_webhook_next_due()
RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT CASE WHEN m IS NULL THEN NULL WHEN m <= now() THEN 0
	            ELSE extract(epoch FROM m - now())::double precision END
	FROM (SELECT min(greatest(c.blocked_until,
	                 coalesce(c.lease_until, '-infinity'))) AS m
	      FROM webhooks c
	      WHERE c.enabled AND EXISTS (SELECT 1 FROM webhook_deliveries d
	            WHERE d.webhook_id = c.id AND d.state = 'pending')) x
$$;

REVOKE ALL ON FUNCTION fleetpki_webhook_claim(text, integer),
	fleetpki_webhook_next(bigint, text, integer),
	fleetpki_webhook_result(bigint, text, integer, text, integer, text,
		integer, integer),
	fleetpki_webhook_release(bigint, text),
	fleetpki_webhook_next_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_webhook_claim(text, integer),
	fleetpki_webhook_next(bigint, text, integer),
	fleetpki_webhook_result(bigint, text, integer, text, integer, text,
		integer, integer),
	fleetpki_webhook_release(bigint, text),
	fleetpki_webhook_next_due() TO fleetpki_app;

-- What the API changes (under the tenant's wall).  The deliveries are
-- the worker's (through the functions above) and the operator's (CLI).
REVOKE ALL ON webhooks, webhook_deliveries FROM fleetpki_app;
GRANT SELECT, INSERT, DELETE ON webhooks TO fleetpki_app;
GRANT UPDATE (types, token_sealed, enabled, disabled_reason, disabled_at,
	blocked_until, updated_at) ON webhooks TO fleetpki_app;
GRANT SELECT ON webhook_deliveries TO fleetpki_app;
