-- fleetpki schema 2: certificate-maker users, per-tenant settings,
-- server-generated private keys and HTTP challenges.

-- API users of the certificate maker.  Tokens are high-entropy secrets
-- shown once; only HMAC-SHA256(pepper, token) is kept.
CREATE TABLE users (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	name		text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
	token_hash	text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	is_admin	boolean NOT NULL DEFAULT false,
	disabled	boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (tenant_id, name),
	UNIQUE (tenant_id, id)
);

-- Operator settings per tenant; absent keys take the built-in default
-- (`fleetpki setting list --tenant T` shows both).
CREATE TABLE settings (
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	key		text NOT NULL,
	value		text NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, key)
);

-- Who asked for a certificate, and the private key the server made for
-- it: AES-256-GCM under master_key with "cert:<tenant>:<ca>:<serial>" as
-- associated data.
ALTER TABLE certificates
	ADD COLUMN user_id bigint,
	ADD COLUMN key_sealed bytea,
	ADD FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id);
CREATE INDEX certificates_serial ON certificates (tenant_id, serial);

-- Pending proofs of control over requested names.  The validated
-- request is kept as received and issued when the challenge is solved.
CREATE TABLE challenges (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	user_id		bigint NOT NULL,
	public_id	text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{32}$'),
	token		text NOT NULL CHECK (length(token) = 80),
	request_kind	text NOT NULL CHECK (request_kind IN ('simple', 'csr')),
	request		text NOT NULL,
	expires_at	timestamptz NOT NULL,
	-- claimed by the one solver that issues; then the serial it issued
	claimed_at	timestamptz,
	serial		text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX challenges_expiry ON challenges (expires_at) WHERE serial IS NULL;

CREATE VIEW user_summary AS
SELECT	t.name AS tenant, u.name AS "user", u.is_admin, u.disabled,
	u.created_at,
	(SELECT count(*) FROM certificates c WHERE c.user_id = u.id) AS certificates
FROM users u JOIN tenants t ON t.id = u.tenant_id;
