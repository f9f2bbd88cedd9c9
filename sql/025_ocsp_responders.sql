-- fleetpki schema 025: delegated OCSP responders (RFC 6960 4.2.2.2,
-- second case; issue 12).
--
--   ocsp_responders  per CA that has one, its OCSP signing certificates:
--                    issued by the CA (EKU OCSPSigning, id-pkix-ocsp-
--                    nocheck, a few days' validity) for a key of the
--                    CA's type, sealed under the master key with AAD
--                    "ocsp-responder:<tenant>:<CA public id>:<serial>".
--                    fleetpkid signs a CA's OCSP answers with its
--                    newest current one and includes it in the answer;
--                    the CA key then signs only certificates, CRLs and
--                    each responder certificate.  fleetpki-worker
--                    issues the next one when the newest has less than
--                    half its life left, and deletes those expired.
--                    A CA with no row answers with its own key.
CREATE TABLE ocsp_responders (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	bigint NOT NULL REFERENCES tenants (id),
	ca_id		bigint NOT NULL,
	serial		text NOT NULL CHECK (serial ~ '^[0-9A-F]{2,40}$'),
	cert_der	bytea NOT NULL,
	key_sealed	bytea NOT NULL,
	not_before	timestamptz NOT NULL,
	not_after	timestamptz NOT NULL CHECK (not_after > not_before),
	created_at	timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (tenant_id, ca_id) REFERENCES cas (tenant_id, id)
		ON DELETE CASCADE,
	UNIQUE (ca_id, serial)
);
-- The current one of a CA: its newest.
CREATE INDEX ocsp_responders_ca ON ocsp_responders (tenant_id, ca_id, not_after DESC);
SELECT fleetpki_tenant_wall('ocsp_responders');
REVOKE ALL ON ocsp_responders FROM fleetpki_app;
GRANT SELECT, INSERT, DELETE ON ocsp_responders TO fleetpki_app;

-- The worker's "which CAs need their next responder": those whose newest
-- responder has less than half its life left (or has expired).  Across
-- tenants, so the owner's; one row per delegated CA, read per pass.
CREATE FUNCTION fleetpki_ocsp_responders_due()
RETURNS TABLE (tenant_id bigint, ca_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT r.tenant_id, r.ca_id
	FROM (SELECT DISTINCT ON (ca_id) tenant_id, ca_id, not_before, not_after
	      FROM ocsp_responders ORDER BY ca_id, not_after DESC) r
	WHERE now() > r.not_before + (r.not_after - r.not_before) / 2
	ORDER BY r.ca_id
$$;
REVOKE ALL ON FUNCTION fleetpki_ocsp_responders_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleetpki_ocsp_responders_due() TO fleetpki_app;
