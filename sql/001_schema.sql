-- fleetpki schema 1: tenants, certificate authorities, certificates,
-- revocations, CRLs, the server's JWT signing keys and the platform's own
-- server certificates.
--
-- Every tenant-owned row carries tenant_id; unique keys are per tenant.
-- Applied by `fleetpki migrate` inside one transaction.

CREATE TABLE tenants (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name		text NOT NULL UNIQUE
			CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- A tenant's CAs.  The private key is sealed with AES-256-GCM under the
-- server's master_key, with "ca:<tenant_id>:<public_id>" as associated
-- data, so a sealed key copied onto another row does not open.
CREATE TABLE cas (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
	-- random, names the CA in public URLs (CRL, OCSP) without its id
	public_id	text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
	is_default	boolean NOT NULL DEFAULT false,
	key_alg		text NOT NULL,
	cert_der	bytea NOT NULL,
	key_sealed	bytea NOT NULL,
	fingerprint	text NOT NULL,
	-- SHA-1 of the public key (the SKI, RFC 5280 method 1): what OCSP
	-- requests name the issuer by (issuerKeyHash)
	key_id		text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9A-F]{40}$'),
	subject		text NOT NULL,
	not_before	timestamptz NOT NULL,
	not_after	timestamptz NOT NULL,
	-- last crlNumber used: only ever grows (RFC 5280 5.2.3)
	crl_number	bigint NOT NULL DEFAULT 0,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, name),
	UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX cas_one_default ON cas (tenant_id) WHERE is_default;

CREATE TABLE certificates (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	ca_id		bigint NOT NULL,
	serial		text NOT NULL CHECK (serial ~ '^[0-9A-F]{2,40}$'),
	fingerprint	text NOT NULL,
	subject		text NOT NULL,
	pem		text NOT NULL,
	not_before	timestamptz NOT NULL,
	not_after	timestamptz NOT NULL,
	issued_by_pki	boolean NOT NULL DEFAULT true,
	auto_registered	boolean NOT NULL DEFAULT false,
	belongs_device	text,
	belongs_application text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	modified_at	timestamptz NOT NULL DEFAULT now(),
	-- set when deleted through the identity API: hidden there, and revoked
	removed_at	timestamptz,
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id),
	CHECK (belongs_device IS NULL OR belongs_application IS NULL),
	UNIQUE (ca_id, serial),
	UNIQUE (tenant_id, fingerprint)
);
CREATE INDEX certificates_page ON certificates (tenant_id, created_at, id)
	WHERE removed_at IS NULL;

-- The one revocation table: CRLs (and OCSP) are built from it.
CREATE TABLE revocations (
	certificate_id	bigint PRIMARY KEY REFERENCES certificates (id),
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	ca_id		bigint NOT NULL,
	serial		text NOT NULL,
	revoked_at	timestamptz NOT NULL DEFAULT now(),
	-- RFC 5280 CRLReason; 7 is unused by the RFC
	reason		smallint NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id),
	UNIQUE (ca_id, serial)
);

-- Every CRL issued; the newest per CA is served.
CREATE TABLE crls (
	ca_id		bigint NOT NULL REFERENCES cas (id),
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	crl_number	bigint NOT NULL,
	this_update	timestamptz NOT NULL,
	next_update	timestamptz NOT NULL,
	der		bytea NOT NULL,
	-- transaction start: later than every revocation the CRL could see
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ca_id, crl_number)
);

-- The server's own ES256 keys for bearer tokens; 'kid' is looked up
-- here, the algorithm is pinned by the CHECK.  The private key is sealed
-- with "jwt:<kid>" as associated data.
CREATE TABLE jwt_keys (
	kid		text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
	alg		text NOT NULL CHECK (alg = 'ES256'),
	public_pem	text NOT NULL,
	private_sealed	bytea NOT NULL,
	active		boolean NOT NULL DEFAULT true,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- The platform's own HTTPS/MQTT server certificates that devices fetch
-- (server-certificate API).  Not tenant-owned: one platform, one set.
CREATE TABLE server_certs (
	server		text NOT NULL CHECK (server ~ '^[A-Za-z0-9_.-]{1,64}$'),
	slot		text NOT NULL CHECK (slot IN ('primary', 'secondary')),
	pem		text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (server, slot)
);

-- Reporting, for operators in psql.
CREATE VIEW certificate_status AS
SELECT	t.name AS tenant, ca.name AS ca, c.serial, c.fingerprint, c.subject,
	c.not_before, c.not_after, c.created_at,
	CASE	WHEN r.certificate_id IS NOT NULL THEN 'revoked'
		WHEN c.not_after < now() THEN 'expired'
		ELSE 'valid' END AS status,
	r.revoked_at, r.reason AS revocation_reason,
	c.removed_at IS NOT NULL AS removed
FROM certificates c
JOIN tenants t ON t.id = c.tenant_id
JOIN cas ca ON ca.id = c.ca_id
LEFT JOIN revocations r ON r.certificate_id = c.id;

CREATE VIEW ca_summary AS
SELECT	t.name AS tenant, ca.name AS ca, ca.is_default, ca.key_alg,
	ca.subject, ca.not_after, ca.crl_number,
	(SELECT count(*) FROM certificates c WHERE c.ca_id = ca.id) AS issued,
	(SELECT count(*) FROM revocations r WHERE r.ca_id = ca.id) AS revoked,
	(SELECT max(next_update) FROM crls l WHERE l.ca_id = ca.id) AS crl_next_update
FROM cas ca JOIN tenants t ON t.id = ca.tenant_id;
