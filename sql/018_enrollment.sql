-- fleetpki schema 018: device enrollment (spec/device-enrollment.txt).
--
-- Operators pre-provision devices (an id and a secret); on first boot a
-- device calls POST /api/register and receives its hostname
-- <device_id>.<enroll.domain>, a publicly trusted certificate and its
-- key, which fleetpki-worker obtains from an ACME CA (RFC 8555, DNS-01).
--
--   enroll_devices   the pre-provisioned devices.  device_id is unique
--                    across the server: a device names nothing else, so
--                    its id alone finds its tenant (fleetpki_enroll_lookup)
--   enroll_certs     every certificate a device was given, newest last;
--                    the current one has superseded_at NULL
--   acme_accounts    a tenant's account at its ACME CA (ES256 key sealed)
--   acme_orders      one row per certificate being obtained: fleetpkid
--                    inserts it (kind 'new', or 'renew' while a valid one
--                    is held) with the device state 'issuing'/'renewing';
--                    the worker's acme.order job carries it to 'valid'
--                    (an enroll_certs row) or 'failed' (error recorded)
--   enroll_failures  failed attempts per device id as sent, known or not:
--                    what answers 429 without telling whether it exists
--
-- A device's state, as the portal and `fleetpki device list` show it:
-- 'disabled' when enabled is false, else the state column: pending (never
-- asked), issuing (first order open), issued, renewing (an order open
-- while the current certificate is valid), failed (the last order failed;
-- last_error says why).

CREATE TABLE enroll_devices (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- a DNS label: 5-63 of [a-z0-9-], no dash first or last
	device_id	text COLLATE "C" NOT NULL UNIQUE
			CHECK (device_id ~ '^[a-z0-9][a-z0-9-]{3,61}[a-z0-9]$'),
	-- HMAC-SHA256 of the secret under the pepper, hex
	secret_hash	text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
	state		text NOT NULL DEFAULT 'pending' CHECK (state IN
			    ('pending', 'issuing', 'issued', 'renewing', 'failed')),
	enabled		boolean NOT NULL DEFAULT true,
	last_error	text,
	-- the current certificate's notAfter (for listing by expiry)
	not_after	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	secret_at	timestamptz NOT NULL DEFAULT now(),
	registered_at	timestamptz,
	last_seen	timestamptz,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, id),
	UNIQUE (tenant_id, device_id)
);
-- The portal's and the CLI's pages go by keyset on (tenant_id, device_id);
-- ids are ASCII, in byte order whatever the database's locale, so an id
-- prefix is a range of that index.
CREATE INDEX enroll_devices_state ON enroll_devices (tenant_id, state, device_id);
CREATE INDEX enroll_devices_expiry ON enroll_devices (tenant_id, not_after, device_id)
	WHERE not_after IS NOT NULL;

CREATE TABLE acme_accounts (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	directory_url	text NOT NULL,
	-- the account's URL (the "kid" of later requests), once created
	account_url	text,
	-- the ES256 account key, PKCS#8 DER sealed under the master key with
	-- AAD "acme:<tenant>:<id>"
	key_sealed	bytea NOT NULL,
	contact		text,
	status		text NOT NULL DEFAULT 'new'
			CHECK (status IN ('new', 'valid', 'deactivated', 'revoked')),
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, id),
	UNIQUE (tenant_id, directory_url)
);

CREATE TABLE acme_orders (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	device_ref	bigint NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('new', 'renew')),
	-- queued: waiting for the worker (or for the weekly budget);
	-- ordering .. downloading: the worker's steps (any worker resumes
	-- from the stored URLs); valid and failed are final
	state		text NOT NULL DEFAULT 'queued' CHECK (state IN
			    ('queued', 'ordering', 'validating', 'finalizing',
			     'downloading', 'valid', 'failed')),
	hostname	text NOT NULL,
	-- the device's own CSR (PEM), or NULL: the worker makes the key and
	-- seals it (AAD "enroll:<tenant>:<device_id>:<order id>")
	csr_pem		text,
	key_sealed	bytea,
	account_id	bigint,
	order_url	text,
	finalize_url	text,
	authz_urls	text[],
	challenge_url	text,
	dns_name	text,
	dns_value	text,
	cert_url	text,
	-- the last problem document (RFC 8555 6.7), or our own failure
	error_type	text,
	error_detail	text,
	-- not before this instant (Retry-After, rate limits, the budget)
	retry_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	UNIQUE (tenant_id, id),
	FOREIGN KEY (tenant_id, device_ref) REFERENCES enroll_devices (tenant_id, id)
);
-- At most one open order per device: what keeps register idempotent.
CREATE UNIQUE INDEX acme_orders_open ON acme_orders (tenant_id, device_ref)
	WHERE state NOT IN ('valid', 'failed');
CREATE INDEX acme_orders_device ON acme_orders (tenant_id, device_ref, created_at);
-- The weekly budget counts what was finalized in the last seven days.
CREATE INDEX acme_orders_finished ON acme_orders (tenant_id, finished_at)
	WHERE state = 'valid';

CREATE TABLE enroll_certs (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	device_ref	bigint NOT NULL,
	order_id	bigint,
	hostname	text NOT NULL,
	-- leaf then chain, PEM, as the CA sent them
	chain_pem	text NOT NULL,
	-- the server-made key (PKCS#8 DER, sealed as the order's was), or
	-- NULL when the device sent a CSR
	key_sealed	bytea,
	-- hex of the leaf's SubjectPublicKeyInfo's SHA-256: which key it is
	spki_sha256	text NOT NULL CHECK (spki_sha256 ~ '^[0-9a-f]{64}$'),
	serial		text NOT NULL,
	not_before	timestamptz NOT NULL,
	not_after	timestamptz NOT NULL,
	-- RFC 9773 certificate identifier and the CA's suggested window
	ari_id		text,
	renew_after	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	superseded_at	timestamptz,
	UNIQUE (tenant_id, id),
	FOREIGN KEY (tenant_id, device_ref) REFERENCES enroll_devices (tenant_id, id),
	FOREIGN KEY (tenant_id, order_id) REFERENCES acme_orders (tenant_id, id)
);
CREATE UNIQUE INDEX enroll_certs_current ON enroll_certs (tenant_id, device_ref)
	WHERE superseded_at IS NULL;
CREATE INDEX enroll_certs_device ON enroll_certs (tenant_id, device_ref, created_at);
-- The renewal scan: current certificates by expiry, across tenants.
CREATE INDEX enroll_certs_expiry ON enroll_certs (not_after)
	WHERE superseded_at IS NULL;

CREATE TABLE enroll_failures (
	device_id	text PRIMARY KEY CHECK (length(device_id) <= 63),
	failures	integer NOT NULL DEFAULT 0,
	window_start	timestamptz NOT NULL DEFAULT now(),
	locked_until	timestamptz
);
CREATE INDEX enroll_failures_window ON enroll_failures (window_start);

SELECT fleetpki_tenant_wall('enroll_devices');
SELECT fleetpki_tenant_wall('acme_accounts');
SELECT fleetpki_tenant_wall('acme_orders');
SELECT fleetpki_tenant_wall('enroll_certs');
-- enroll_failures has no tenant (it is keyed by what a client sent); the
-- app reaches it only through the functions below.
ALTER TABLE enroll_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE enroll_failures FORCE ROW LEVEL SECURITY;
CREATE POLICY fleetpki_owner ON enroll_failures
	TO CURRENT_USER USING (true) WITH CHECK (true);

-- Devices are made, disabled and re-keyed by operators: the CLI (owner)
-- and the admin portal (the app, for its tenant).  The app changes the
-- states as orders move; the worker writes orders, certificates and
-- accounts.
REVOKE ALL ON enroll_devices, acme_accounts, acme_orders, enroll_certs,
	enroll_failures FROM fleetpki_app;
GRANT SELECT, INSERT ON enroll_devices TO fleetpki_app;
GRANT UPDATE (secret_hash, state, enabled, last_error, not_after, secret_at,
	registered_at, last_seen, updated_at) ON enroll_devices TO fleetpki_app;
GRANT SELECT, INSERT, UPDATE ON acme_accounts, acme_orders, enroll_certs
	TO fleetpki_app;

-- ---- before the tenant is known --------------------------------------
-- What /api/register and /api/renew need of a device id before their
-- transaction: always exactly one row, so an unknown id costs the same
-- round trip as a known one.  'locked': repeated failures for this id.
CREATE FUNCTION fleetpki_enroll_lookup(p_device text)
RETURNS TABLE (tenant_id bigint, id bigint, secret_hash text,
	enabled boolean, locked boolean, failures integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT d.tenant_id, d.id, d.secret_hash, coalesce(d.enabled, false),
	       coalesce(f.locked_until > now(), false), coalesce(f.failures, 0)
	FROM (SELECT 1) one
	LEFT JOIN enroll_devices d ON d.device_id = p_device
	LEFT JOIN enroll_failures f ON f.device_id = p_device
$$;

-- A failed attempt (wrong secret, unknown or disabled device): counted in
-- a window of p_window seconds; at p_max failures the id is locked for
-- p_window seconds.  Ids longer than a label are not counted (they can
-- never succeed; nginx limits their sender).
CREATE FUNCTION fleetpki_enroll_failed(p_device text, p_max integer,
	p_window integer)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	INSERT INTO enroll_failures AS f (device_id, failures)
	SELECT p_device, 1 WHERE length(p_device) <= 63
	ON CONFLICT (device_id) DO UPDATE SET
		failures = CASE WHEN f.window_start < now() - make_interval(secs => p_window)
		           THEN 1 ELSE f.failures + 1 END,
		window_start = CASE WHEN f.window_start < now() - make_interval(secs => p_window)
		               THEN now() ELSE f.window_start END,
		locked_until = CASE WHEN f.window_start >= now() - make_interval(secs => p_window)
		                    AND f.failures + 1 >= p_max
		               THEN now() + make_interval(secs => p_window)
		               ELSE f.locked_until END
	RETURNING locked_until IS NOT NULL AND locked_until > now()
$$;

-- A success forgets the id's failures.
CREATE FUNCTION fleetpki_enroll_succeeded(p_device text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	DELETE FROM enroll_failures WHERE device_id = p_device
$$;

-- Hourly: windows long past.
CREATE FUNCTION fleetpki_enroll_failures_prune(p_older integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH d AS (DELETE FROM enroll_failures
	           WHERE window_start < now() - make_interval(secs => p_older)
	             AND (locked_until IS NULL OR locked_until < now())
	           RETURNING 1)
	SELECT count(*) FROM d
$$;

-- Whether a device id is taken anywhere (`device add` in another tenant
-- is refused without saying whose it is).
CREATE FUNCTION fleetpki_enroll_taken(p_device text)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT EXISTS (SELECT 1 FROM enroll_devices WHERE device_id = p_device)
$$;

REVOKE ALL ON FUNCTION fleetpki_enroll_lookup(text),
	fleetpki_enroll_failed(text, integer, integer),
	fleetpki_enroll_succeeded(text), fleetpki_enroll_failures_prune(integer),
	fleetpki_enroll_taken(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_enroll_lookup(text),
	fleetpki_enroll_failed(text, integer, integer),
	fleetpki_enroll_succeeded(text), fleetpki_enroll_failures_prune(integer),
	fleetpki_enroll_taken(text) TO fleetpki_app;
