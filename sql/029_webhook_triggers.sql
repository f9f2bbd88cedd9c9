-- The certificate triggers of 021 without a SQL function call per row.
--
-- fleetpki_webhook_wanted() is LANGUAGE sql with SECURITY DEFINER and
-- SET search_path, so PostgreSQL can never inline it: every call from a
-- trigger parsed and planned its body afresh (fmgr_sql), once per
-- certificate issued or revoked, a third of the backend's CPU for an
-- issuance (perf, 2026-12-03).  The triggers are SECURITY DEFINER
-- themselves and may read webhooks directly; PL/pgSQL keeps the plan of
-- the EXISTS for the session.  Same answers, same events.

CREATE OR REPLACE FUNCTION fleetpki_webhook_cert_issued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = NEW.tenant_id
	           AND w.enabled AND 'CERTIFICATE_ISSUED' = ANY (w.types)) THEN
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

CREATE OR REPLACE FUNCTION fleetpki_webhook_enroll_issued() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = NEW.tenant_id
	           AND w.enabled AND 'CERTIFICATE_ISSUED' = ANY (w.types)) THEN
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

CREATE OR REPLACE FUNCTION fleetpki_webhook_cert_revoked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = NEW.tenant_id
	           AND w.enabled AND 'CERTIFICATE_REVOKED' = ANY (w.types)) THEN
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

-- Nothing calls it any more.
DROP FUNCTION fleetpki_webhook_wanted(bigint, text);
