-- fleetpki schema 010: the security-services device registry.
--
-- Device profiles group devices (the DeviceProfileUID sealed into them)
-- and carry the bootstrap provisioning applied when one bootstraps.
-- Devices are sealed by the operator (`fleetpki device seal`): a
-- root-of-trust UID (ROT, 8 bytes, kept as 16 upper-case hex digits),
-- the serial, and the 32-byte root secret, sealed under the master key
-- (AAD "device:<tenant>:<ROT>") — the device protocol's keys derive from
-- it (docs/device-protocol.md).  The allow list (WHITELISTED) holds ROTs
-- and IMEIs, sealed or not yet; the deny list is a device's blocked_at.
-- Tags are per tenant, case-insensitive, assigned to devices or to
-- profiles (a profile's tag reaches each of its devices: tag_devices).
-- Desired properties wait in device_desired until a heartbeat's
-- acknowledgement makes them current (devices.current_props).  What
-- happened is written in the same transaction as the change: events
-- (the notifications; the webhook issue delivers from there), activity
-- (acknowledged commands), usage (per device, day and event), clone
-- events (counter regressions) and the production log (for the
-- suspicious-device report).
--
-- Everything is tenant-owned and walled (sql/005); every statement still
-- names its tenant.  Lists page by keyset on (tenant_id, id): no query
-- of a request grows with the depth of its page.

CREATE TABLE device_profiles (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- opaque, URL-safe (base64url of 16 random bytes: 22 characters)
	uid		text NOT NULL UNIQUE CHECK (uid ~ '^[A-Za-z0-9_-]{16,64}$'),
	-- ProfileName: case-sensitive, unique in its tenant
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
	-- The bootstrap provisioning: {"LocalDPR": true, ...,
	-- "SecurityHeartbeatInSec": 86400}; NULL when never set (or deleted).
	bootstrap	jsonb CHECK (bootstrap IS NULL OR jsonb_typeof(bootstrap) = 'object'),
	bootstrap_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, id),
	UNIQUE (tenant_id, name)
);

CREATE TABLE devices (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- A ROT is one chip: unique across tenants (a device request names
	-- only its ROT).
	rot		text NOT NULL UNIQUE CHECK (rot ~ '^[0-9A-F]{16}$'),
	-- NULL: sealed without a profile ("UNATTRIBUTED DEVICE PROFILE"
	-- until a two-stage bootstrap names one)
	profile_id	bigint,
	-- DeviceSerialNumber as sealed (duplicates feed the suspicious report)
	serial		text NOT NULL CHECK (length(serial) BETWEEN 1 AND 16),
	imei		text CHECK (imei ~ '^[0-9]{1,16}$'),
	-- SCL context serial number, when the production log gives one
	scl_serial	text CHECK (length(scl_serial) BETWEEN 1 AND 64),
	-- the root secret, pki_seal'd under the master key, AAD
	-- "device:<tenant_id>:<rot>"
	secret_sealed	bytea NOT NULL,
	sealed_at	timestamptz NOT NULL DEFAULT now(),
	-- SEALED until it bootstraps; then ACTIVATED (on the allow list at
	-- bootstrap) or ALLOCATED (not: no feature authorizations)
	state		text NOT NULL DEFAULT 'SEALED'
			CHECK (state IN ('SEALED', 'ALLOCATED', 'ACTIVATED')),
	-- the deny list (BLACKLISTED): bootstrap and heartbeats refused
	blocked_at	timestamptz,
	-- the last accepted counter of the device protocol; a request is
	-- accepted only by UPDATE ... SET counter = $n WHERE counter < $n
	counter		bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
	bootstrapped_at	timestamptz,
	last_seen	timestamptz,
	last_heartbeat	timestamptz,
	-- heartbeat rate limit: tokens left and when they were counted
	hb_tokens	double precision NOT NULL DEFAULT 0,
	hb_tokens_at	timestamptz,
	-- what the device reported at its last bootstrap
	reported_serial	text,
	reported_imei	text,
	firmware	text,
	-- the properties in effect on the device (acknowledged)
	current_props	jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(current_props) = 'object'),
	current_at	timestamptz,
	UNIQUE (tenant_id, id),
	FOREIGN KEY (tenant_id, profile_id) REFERENCES device_profiles (tenant_id, id)
);
CREATE INDEX devices_profile ON devices (tenant_id, profile_id, id);
CREATE INDEX devices_serial ON devices (tenant_id, serial);
CREATE INDEX devices_imei ON devices (tenant_id, imei) WHERE imei IS NOT NULL;
CREATE INDEX devices_blocked ON devices (tenant_id, id) WHERE blocked_at IS NOT NULL;

-- The allow list: a ROT or an IMEI, whether or not a device has it yet.
CREATE TABLE device_allowlist (
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	kind		text NOT NULL CHECK (kind IN ('ROTPublicUID', 'IMEI')),
	value		text NOT NULL CHECK (
			    (kind = 'ROTPublicUID' AND value ~ '^[0-9A-F]{16}$') OR
			    (kind = 'IMEI' AND value ~ '^[0-9]{1,16}$')),
	added_at	timestamptz NOT NULL DEFAULT now(),
	-- keyset paging of /device/whitelist/get
	seq		bigint GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (tenant_id, kind, value)
);
CREATE INDEX device_allowlist_seq ON device_allowlist (tenant_id, seq);

CREATE TABLE tags (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	-- as created; compared case-insensitively (name_key).  The
	-- forbidden characters are the spec's: ^ ` ~ < > " { } | \ ,
	name		text NOT NULL CHECK (length(name) BETWEEN 1 AND 255
			    AND name !~ '[\^`~<>"{}|\\,[:cntrl:]]'),
	name_key	text GENERATED ALWAYS AS (lower(name)) STORED,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, id),
	UNIQUE (tenant_id, name_key)
);

CREATE TABLE device_tags (
	tenant_id	bigint NOT NULL,
	tag_id		bigint NOT NULL,
	device_id	bigint NOT NULL,
	PRIMARY KEY (tenant_id, tag_id, device_id),
	FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX device_tags_device ON device_tags (tenant_id, device_id);

CREATE TABLE profile_tags (
	tenant_id	bigint NOT NULL,
	tag_id		bigint NOT NULL,
	profile_id	bigint NOT NULL,
	PRIMARY KEY (tenant_id, tag_id, profile_id),
	FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id),
	FOREIGN KEY (tenant_id, profile_id) REFERENCES device_profiles (tenant_id, id)
);
CREATE INDEX profile_tags_profile ON profile_tags (tenant_id, profile_id);

-- Desired properties of a bootstrapped device, not yet acknowledged:
-- one SET_PROPERTIES command, Id "p-<seq>".  /device/provisioning/set
-- merges into props and takes a new seq (the newer command supersedes
-- the older); the acknowledgement of the current seq merges props into
-- devices.current_props and deletes the row; /device/provisioning/delete
-- deletes it.
CREATE TABLE device_desired (
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	props		jsonb NOT NULL CHECK (jsonb_typeof(props) = 'object'),
	seq		bigint NOT NULL,
	set_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, device_id),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
-- command ids: one sequence for every tenant (ids only need be unique)
CREATE SEQUENCE device_command_seq;

-- The notifications (/notification/get), and what webhooks deliver.
CREATE TABLE events (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	device_id	bigint,
	rot		text,
	type		text NOT NULL CHECK (type ~ '^[A-Z][A-Z0-9_]{0,63}$'),
	-- the notification's own members
	payload		jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(payload) = 'object'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX events_time ON events (tenant_id, created_at, id);
CREATE INDEX events_device ON events (tenant_id, device_id, created_at, id);

-- Commands a device carried out (or failed): /device/activity/get.
CREATE TABLE device_activity (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	command_id	text NOT NULL,
	command		text NOT NULL,
	status		text NOT NULL CHECK (status IN ('SUCCESS', 'FAILURE')),
	detail		jsonb NOT NULL DEFAULT '{}'
			CHECK (jsonb_typeof(detail) = 'object'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX device_activity_device ON device_activity (tenant_id, device_id, created_at, id);

-- Usage, counted per device, day and event (/device/usage/get).
CREATE TABLE device_usage (
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	day		date NOT NULL,
	event		text NOT NULL CHECK (event ~ '^[A-Za-z][A-Za-z0-9_]{0,63}$'),
	count		bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
	PRIMARY KEY (tenant_id, device_id, day, event),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX device_usage_day ON device_usage (tenant_id, day);

-- Evidence of a cloned identity (/device/clone/get): an authenticated
-- request whose counter did not grow (a replay, or a second device
-- with the same secret).
CREATE TABLE device_clone_events (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	reason		text NOT NULL CHECK (reason ~ '^[A-Z][A-Z0-9_]{0,63}$'),
	counter		bigint NOT NULL,
	last_counter	bigint NOT NULL,
	peer		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX device_clone_events_time ON device_clone_events (tenant_id, created_at, id);
CREATE INDEX device_clone_events_device ON device_clone_events (tenant_id, device_id, created_at);

-- Production logs as given to `fleetpki device seal --from` (one row per
-- line, duplicates kept: they are the evidence).
CREATE TABLE device_prod_log (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	batch		text NOT NULL,
	line		integer NOT NULL,
	rot		text NOT NULL,
	serial		text,
	scl_serial	text,
	loaded_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_prod_log_serial ON device_prod_log (tenant_id, serial);
CREATE INDEX device_prod_log_scl ON device_prod_log (tenant_id, scl_serial);
CREATE INDEX device_prod_log_rot ON device_prod_log (tenant_id, rot);

SELECT fleetpki_tenant_wall('device_profiles');
SELECT fleetpki_tenant_wall('devices');
SELECT fleetpki_tenant_wall('device_allowlist');
SELECT fleetpki_tenant_wall('tags');
SELECT fleetpki_tenant_wall('device_tags');
SELECT fleetpki_tenant_wall('profile_tags');
SELECT fleetpki_tenant_wall('device_desired');
SELECT fleetpki_tenant_wall('events');
SELECT fleetpki_tenant_wall('device_activity');
SELECT fleetpki_tenant_wall('device_usage');
SELECT fleetpki_tenant_wall('device_clone_events');
SELECT fleetpki_tenant_wall('device_prod_log');

-- Every device a tag reaches: assigned to it, or to its profile.  Runs
-- as the caller (security_invoker), so the walls hold through it.
CREATE VIEW tag_devices WITH (security_invoker = true) AS
	SELECT dt.tenant_id, dt.tag_id, dt.device_id FROM device_tags dt
	UNION
	SELECT pt.tenant_id, pt.tag_id, d.id FROM profile_tags pt
	JOIN devices d ON d.tenant_id = pt.tenant_id AND d.profile_id = pt.profile_id;

-- The devices a request names, one set: by ROT, by tag (names compared
-- case-insensitively), by sealed serial, or by profile UID (NULL or
-- empty arrays name nothing).  As the caller: the walls hold.
CREATE FUNCTION fleetpki_device_set(p_tenant bigint, p_rots text[],
	p_tags text[], p_serials text[], p_profile text)
RETURNS TABLE (device_id bigint)
LANGUAGE sql STABLE AS $$
	SELECT d.id FROM devices d
	WHERE d.tenant_id = p_tenant AND d.rot = ANY (p_rots)
	UNION
	SELECT td.device_id FROM tags t
	JOIN tag_devices td ON td.tenant_id = t.tenant_id AND td.tag_id = t.id
	WHERE t.tenant_id = p_tenant
	  AND t.name_key = ANY (ARRAY(SELECT lower(x) FROM unnest(p_tags) x))
	UNION
	SELECT d.id FROM devices d
	WHERE d.tenant_id = p_tenant AND d.serial = ANY (p_serials)
	UNION
	SELECT d.id FROM devices d JOIN device_profiles p
	  ON p.tenant_id = d.tenant_id AND p.id = d.profile_id
	WHERE d.tenant_id = p_tenant AND p.uid = p_profile
$$;
GRANT EXECUTE ON FUNCTION fleetpki_device_set(bigint, text[], text[], text[], text)
	TO fleetpki_app;

-- The device protocol names a device by its ROT alone: which tenant.
CREATE FUNCTION fleetpki_device_tenant(p_rot text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT tenant_id FROM devices WHERE rot = upper(p_rot)
$$;
REVOKE ALL ON FUNCTION fleetpki_device_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_device_tenant(text) TO fleetpki_app;

-- What the app may do.  Profiles and devices are made by the operator's
-- CLI (as the owner); the app changes what the API and the protocol
-- change.  The history tables are appended to, never rewritten.
REVOKE ALL ON device_profiles, devices, device_allowlist, tags, device_tags,
	profile_tags, device_desired, events, device_activity, device_usage,
	device_clone_events, device_prod_log FROM fleetpki_app;
GRANT SELECT ON device_profiles, devices, device_prod_log TO fleetpki_app;
GRANT UPDATE (bootstrap, bootstrap_at) ON device_profiles TO fleetpki_app;
GRANT UPDATE (profile_id, state, counter, bootstrapped_at, last_seen,
	last_heartbeat, hb_tokens, hb_tokens_at, reported_serial, reported_imei,
	firmware, current_props, current_at) ON devices TO fleetpki_app;
GRANT SELECT, INSERT, DELETE ON device_allowlist, tags, device_tags,
	profile_tags TO fleetpki_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON device_desired TO fleetpki_app;
GRANT SELECT, INSERT ON events, device_activity, device_clone_events
	TO fleetpki_app;
GRANT SELECT, INSERT, UPDATE ON device_usage TO fleetpki_app;
GRANT SELECT ON tag_devices TO fleetpki_app;
GRANT USAGE ON SEQUENCE device_command_seq TO fleetpki_app;
