-- fleetpki schema 026: zero-touch provisioning (issue 11, the ZTP half;
-- security-services.txt "Zero Touch Provisioning APIs",
-- docs/device-protocol.md 7.4).
--
--   ztp_roots          a ZTP root CA: a row of cas (its key sealed like
--                      every CA key, its CRLs and OCSP from the one
--                      revocation table) with the ZTP settings.  The
--                      CAName is unique across the whole server
--                      (ztp_roots_name, not scoped by tenant: a taken
--                      name is a unique violation whoever holds it,
--                      and row-level security still shows nothing of
--                      the holder).  cas.name is 'ztp-<public id>'.
--   ztp_profile_roots  which root a device profile's devices get their
--                      certificate from, and whether the server makes
--                      their key (devices that cannot)
--   ztp_devices        one row per device in ZTP: the root, the step it
--                      is at (the command of the next answer, Id
--                      z-<seq>), the device's public key (renewal keeps
--                      it) and the certificates installed and pending
--   ztp_notices        the expiration events already written, so each
--                      fires exactly once (the worker's scheduler)

CREATE TABLE ztp_roots (
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	ca_id		bigint NOT NULL,
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,45}$'),
	ca_days		integer NOT NULL CHECK (ca_days BETWEEN 1825 AND 3650),
	device_days	integer NOT NULL CHECK (device_days BETWEEN 30 AND 3650),
	renew_before	integer CHECK (renew_before BETWEEN 1 AND 365),
	key_type	text NOT NULL
			CHECK (key_type IN ('EC-P256', 'EC-P384', 'RSA-2048')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	-- deleted: the name is free again; the CA row stays (its
	-- certificates, revocations and CRLs refer to it)
	deleted_at	timestamptz,
	PRIMARY KEY (tenant_id, ca_id),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id)
);
CREATE UNIQUE INDEX ztp_roots_name ON ztp_roots (lower(name))
	WHERE deleted_at IS NULL;
CREATE INDEX ztp_roots_page ON ztp_roots (tenant_id, created_at, ca_id)
	WHERE deleted_at IS NULL;

CREATE TABLE ztp_profile_roots (
	tenant_id	bigint NOT NULL,
	profile_id	bigint NOT NULL,
	ca_id		bigint NOT NULL,
	server_key	boolean NOT NULL DEFAULT false,
	key_type	text NOT NULL DEFAULT 'EC-P256'
			CHECK (key_type IN ('EC-P256', 'EC-P384', 'RSA-2048')),
	PRIMARY KEY (tenant_id, profile_id),
	FOREIGN KEY (tenant_id, profile_id) REFERENCES device_profiles (tenant_id, id),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES ztp_roots (tenant_id, ca_id)
);
CREATE INDEX ztp_profile_roots_ca ON ztp_profile_roots (tenant_id, ca_id);

-- state: the command the device is sent until it acknowledges it
--   KEY      GENERATE_KEY (or, server_key, the server makes one)
--   ISSUE    nothing yet: the next heartbeat issues a certificate for
--            pubkey (renew, transfer), then CERT
--   CERT     INSTALL_CERTIFICATE / INSTALL_KEY_AND_CERTIFICATE of
--            pending_cert_id
--   REMOVE   REMOVE_CERTIFICATE (update: then KEY; delete: then GONE)
--   DONE     nothing: cert_id is on the device
--   GONE     nothing: no certificate on the device
--   FAILED   nothing: the device refused (a DEVICE_ERROR said why)
-- op: why the device is in that state
CREATE TABLE ztp_devices (
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	ca_id		bigint NOT NULL,
	state		text NOT NULL
			CHECK (state IN ('KEY', 'ISSUE', 'CERT', 'REMOVE', 'DONE', 'GONE', 'FAILED')),
	op		text NOT NULL
			CHECK (op IN ('PROVISION', 'RENEW', 'UPDATE', 'DELETE', 'TRANSFER')),
	seq		bigint NOT NULL,
	key_type	text NOT NULL DEFAULT 'EC-P256'
			CHECK (key_type IN ('EC-P256', 'EC-P384', 'RSA-2048')),
	server_key	boolean NOT NULL DEFAULT false,
	-- the device's public key (SubjectPublicKeyInfo DER)
	pubkey		bytea,
	cert_id		bigint REFERENCES certificates (id),
	pending_cert_id	bigint REFERENCES certificates (id),
	-- a server-made key's envelope for pending_cert_id (JSON; only the
	-- device opens it, docs/device-protocol.md 7.4)
	wrapped		text,
	-- the validity the next issuance asks (renew's DeviceCertificateValidity)
	days		integer CHECK (days BETWEEN 30 AND 3650),
	-- the certificate an automatic renewal was made for (once each)
	renewed_for	bigint,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, device_id),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES ztp_roots (tenant_id, ca_id)
);
CREATE INDEX ztp_devices_ca ON ztp_devices (tenant_id, ca_id, device_id);
CREATE INDEX ztp_devices_cert ON ztp_devices (cert_id) WHERE cert_id IS NOT NULL;

CREATE TABLE ztp_notices (
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	kind		text NOT NULL CHECK (kind IN ('ROOT', 'DEVICE')),
	-- the CA (ROOT) or the certificate (DEVICE)
	ref_id		bigint NOT NULL,
	days		integer NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, kind, ref_id, days)
);

SELECT fleetpki_tenant_wall('ztp_roots');
SELECT fleetpki_tenant_wall('ztp_profile_roots');
SELECT fleetpki_tenant_wall('ztp_devices');
SELECT fleetpki_tenant_wall('ztp_notices');

-- CAs are the owner's to write (sql/005): fleetpkid makes a ZTP root
-- only through this function, which writes the CA row (never the
-- tenant's default), its OCSP key hashes and its ztp_roots row, for the
-- request's own tenant only.  The key was made and sealed by the signer
-- process (signer_ca_create): the app never held it.
CREATE FUNCTION fleetpki_ztp_root_insert(p_public_id text, p_key_alg text,
	p_cert_der bytea, p_key_sealed bytea, p_fingerprint text,
	p_subject text, p_not_before bigint, p_not_after bigint,
	p_key_id text, p_hashes text[], p_name text, p_ca_days integer,
	p_device_days integer, p_renew_before integer, p_key_type text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	t bigint := nullif(current_setting('fleetpki.tenant', true), '')::bigint;
	ca bigint;
BEGIN
	IF t IS NULL THEN
		RAISE EXCEPTION 'no tenant set' USING ERRCODE = '42501';
	END IF;
	INSERT INTO cas (tenant_id, name, public_id, is_default, key_alg,
		cert_der, key_sealed, fingerprint, subject, not_before,
		not_after, key_id)
	VALUES (t, 'ztp-' || p_public_id, p_public_id, false, p_key_alg,
		p_cert_der, p_key_sealed, p_fingerprint, p_subject,
		to_timestamp(p_not_before), to_timestamp(p_not_after), p_key_id)
	RETURNING id INTO ca;
	INSERT INTO ca_key_hashes (tenant_id, ca_id, alg, hash)
	VALUES (t, ca, 'sha256', p_hashes[1]), (t, ca, 'sha384', p_hashes[2]),
		(t, ca, 'sha512', p_hashes[3]);
	INSERT INTO ztp_roots (tenant_id, ca_id, name, ca_days, device_days,
		renew_before, key_type)
	VALUES (t, ca, p_name, p_ca_days, p_device_days, p_renew_before,
		p_key_type);
	RETURN ca;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_ztp_root_insert(text, text, bytea, bytea,
	text, text, bigint, bigint, text, text[], text, integer, integer,
	integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_ztp_root_insert(text, text, bytea, bytea,
	text, text, bigint, bigint, text, text[], text, integer, integer,
	integer, text) TO fleetpki_app;

GRANT SELECT ON ztp_roots TO fleetpki_app;
GRANT UPDATE (renew_before, updated_at, deleted_at) ON ztp_roots TO fleetpki_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ztp_profile_roots TO fleetpki_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ztp_devices TO fleetpki_app;
GRANT SELECT, INSERT ON ztp_notices TO fleetpki_app;

-- ---- the worker's, across tenants -----------------------------------

-- Automatic renewal (RenewBeforeExpiration): every installed, unrevoked
-- certificate of a root with renew_before whose notAfter is that near
-- is marked for renewal with the same key at the device's next
-- heartbeat.  renewed_for remembers the certificate, and the row lock
-- of the UPDATE makes a second worker's pass skip what the first
-- marked: once per certificate, however many workers run it.
CREATE FUNCTION fleetpki_ztp_auto_renew() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH due AS (
		UPDATE ztp_devices z SET state = 'ISSUE', op = 'RENEW',
			renewed_for = z.cert_id, days = NULL,
			seq = nextval('device_command_seq'), updated_at = now()
		FROM certificates c, ztp_roots r
		WHERE c.id = z.cert_id AND r.tenant_id = z.tenant_id
		AND r.ca_id = c.ca_id AND r.deleted_at IS NULL
		AND r.renew_before IS NOT NULL AND z.state = 'DONE'
		AND z.renewed_for IS DISTINCT FROM z.cert_id
		AND c.not_after - make_interval(days => r.renew_before) <= now()
		AND NOT EXISTS (SELECT 1 FROM revocations v
			WHERE v.certificate_id = z.cert_id)
		RETURNING 1)
	SELECT count(*) FROM due
$$;

-- Expiration events, each exactly once (ztp_notices' key; a second
-- worker's insert waits for the first and then does nothing), in the
-- band the time left is in: a device certificate at 60, 30 and 7 days,
-- a root at 180, 90, 60, 30, 7 and 0 days.  The event is written in
-- the same statement as its notice.
CREATE FUNCTION fleetpki_ztp_notices() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH dcand AS (
		SELECT z.tenant_id, z.device_id, dv.rot, c.id AS cert_id,
			c.serial, c.not_after, r.name, b.days
		FROM ztp_devices z
		JOIN certificates c ON c.id = z.cert_id
		JOIN devices dv ON dv.tenant_id = z.tenant_id AND dv.id = z.device_id
		JOIN ztp_roots r ON r.tenant_id = c.tenant_id AND r.ca_id = c.ca_id
		JOIN (VALUES (60, 30), (30, 7), (7, 0)) b(days, below) ON
			c.not_after <= now() + make_interval(days => b.days) AND
			c.not_after > now() + make_interval(days => b.below)
		WHERE z.state <> 'GONE'),
	dins AS (
		INSERT INTO ztp_notices (tenant_id, kind, ref_id, days)
		SELECT tenant_id, 'DEVICE', cert_id, days FROM dcand
		ON CONFLICT DO NOTHING RETURNING tenant_id, ref_id, days),
	dev AS (
		INSERT INTO events (tenant_id, device_id, rot, type, payload)
		SELECT c.tenant_id, c.device_id, c.rot,
			'DEVICE_CERTIFICATE_EXPIRATION_EVENT',
			jsonb_build_object('CertificateAuthorityName', c.name,
			'CertificateSerialNumber', c.serial,
			'DaysToExpiration', c.days,
			'ExpirationDate', to_char(c.not_after AT TIME ZONE 'UTC',
				'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
		FROM dcand c JOIN dins i ON i.tenant_id = c.tenant_id
			AND i.ref_id = c.cert_id AND i.days = c.days
		RETURNING 1),
	rcand AS (
		SELECT r.tenant_id, r.ca_id, r.name, ca.not_after, b.days,
			(SELECT count(*) FROM ztp_devices z JOIN certificates c
			 ON c.id = z.cert_id WHERE z.tenant_id = r.tenant_id
			 AND c.ca_id = r.ca_id AND z.state <> 'GONE') AS devices
		FROM ztp_roots r
		JOIN cas ca ON ca.tenant_id = r.tenant_id AND ca.id = r.ca_id
		JOIN (VALUES (180, 90), (90, 60), (60, 30), (30, 7), (7, 0),
			(0, -1)) b(days, below) ON
			ca.not_after <= now() + make_interval(days => b.days) AND
			ca.not_after > now() + make_interval(days => b.below)
		WHERE r.deleted_at IS NULL),
	rins AS (
		INSERT INTO ztp_notices (tenant_id, kind, ref_id, days)
		SELECT tenant_id, 'ROOT', ca_id, days FROM rcand
		ON CONFLICT DO NOTHING RETURNING tenant_id, ref_id, days),
	rev AS (
		INSERT INTO events (tenant_id, type, payload)
		SELECT c.tenant_id, 'ROOTCA_EXPIRATION_EVENT',
			jsonb_build_object('CertificateAuthorityName', c.name,
			'DaysToExpiration', c.days,
			'ExpirationDate', to_char(c.not_after AT TIME ZONE 'UTC',
				'YYYY-MM-DD"T"HH24:MI:SS'),
			'ProvisionedDevicesCount', c.devices)
		FROM rcand c JOIN rins i ON i.tenant_id = c.tenant_id
			AND i.ref_id = c.ca_id AND i.days = c.days
		RETURNING 1)
	SELECT (SELECT count(*) FROM dev) + (SELECT count(*) FROM rev)
$$;
REVOKE ALL ON FUNCTION fleetpki_ztp_auto_renew() FROM PUBLIC;
REVOKE ALL ON FUNCTION fleetpki_ztp_notices() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_ztp_auto_renew() TO fleetpki_app;
GRANT EXECUTE ON FUNCTION fleetpki_ztp_notices() TO fleetpki_app;
