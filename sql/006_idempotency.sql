-- Idempotency-Key on the issuing POSTs: a retry with the same key (same
-- tenant, same request) answers the certificate the first try issued,
-- and a different request under a used key is refused (422).  A key row
-- commits in the same statement as its certificate (CERT_INSERT), so a
-- key is never recorded without its certificate, nor the other way round.
-- Keys are honoured for a day; fleetpki-worker prunes older ones.
CREATE TABLE idempotency_keys (
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	key		text NOT NULL CHECK (key ~ '^[!-~]{1,255}$'),
	-- SHA-256 (hex) over method, path, query, caller and body
	request_hash	text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
	certificate_id	bigint NOT NULL REFERENCES certificates (id),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
