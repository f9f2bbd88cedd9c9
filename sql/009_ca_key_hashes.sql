-- fleetpki schema 009: OCSP CertIDs hashed with SHA-256, SHA-384 or
-- SHA-512 (RFC 6960 4.1.1 leaves the hash to the client; libraries other
-- than OpenSSL send SHA-256).  A CertID names its issuer by the hash of
-- the issuer's public key: the SHA-1 one is the CA's key identifier
-- (cas.key_id); the others are kept here, one row per CA and hash,
-- written with the CA (and, for CAs made before 009, by `fleetpki
-- migrate`).  The answer's CertID is the request's, hash included.
CREATE TABLE ca_key_hashes (
	tenant_id	bigint NOT NULL,
	ca_id		bigint NOT NULL,
	alg		text NOT NULL CHECK (alg IN ('sha256', 'sha384', 'sha512')),
	-- upper-case hex of the hash of the subjectPublicKey BIT STRING value
	hash		text NOT NULL CHECK (hash ~ '^[0-9A-F]{64,128}$'),
	PRIMARY KEY (alg, hash),
	UNIQUE (ca_id, alg),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id)
);
SELECT fleetpki_tenant_wall('ca_key_hashes');

-- The app only reads them, and only through the lookup below (OCSP
-- requests name no tenant); CAs are made by the owner's CLI.
REVOKE ALL ON ca_key_hashes FROM fleetpki_app;

CREATE FUNCTION fleetpki_ca_by_key_hash(p_alg text, p_hash text)
RETURNS TABLE (tenant_id bigint, ca_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT h.tenant_id, h.ca_id FROM ca_key_hashes h
	WHERE h.alg = p_alg AND h.hash = p_hash
$$;
REVOKE ALL ON FUNCTION fleetpki_ca_by_key_hash(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_ca_by_key_hash(text, text) TO fleetpki_app;
