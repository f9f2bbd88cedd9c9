-- ZTPV1 is the feature authorization of zero-touch provisioning: with it
-- off among a device's current properties, the worker no longer renews
-- the device's certificate by itself.  Turning it off removes nothing:
-- the certificate stays on the device and valid until it expires, or an
-- operator deletes (/ztp/devicecertificate/delete) or revokes it; the
-- operator's own calls (renew, update, transfer) still act, as asked.
-- Turned on again, the device is renewed as before.
--
-- And a certificate is never renewed in the first half of its life: it
-- is due at RenewBeforeExpiration before its expiry or at half its
-- validity, whichever comes later.  With RenewBeforeExpiration longer
-- than DeviceCertificateValidity (the spec's bounds allow 60 and 30), 026
-- found every renewed certificate due again at once, and a device got a
-- new certificate at every heartbeat.  Otherwise as 026.
CREATE OR REPLACE FUNCTION fleetpki_ztp_auto_renew() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH due AS (
		UPDATE ztp_devices z SET state = 'ISSUE', op = 'RENEW',
			renewed_for = z.cert_id, days = NULL,
			seq = nextval('device_command_seq'), updated_at = now()
		FROM certificates c, ztp_roots r, devices d
		WHERE c.id = z.cert_id AND r.tenant_id = z.tenant_id
		AND r.ca_id = c.ca_id AND r.deleted_at IS NULL
		AND d.tenant_id = z.tenant_id AND d.id = z.device_id
		AND d.current_props -> 'ZTPV1' = 'true'::jsonb
		AND r.renew_before IS NOT NULL AND z.state = 'DONE'
		AND z.renewed_for IS DISTINCT FROM z.cert_id
		AND c.not_after - least(make_interval(days => r.renew_before),
			(c.not_after - c.not_before) / 2) <= now()
		AND NOT EXISTS (SELECT 1 FROM revocations v
			WHERE v.certificate_id = z.cert_id)
		RETURNING 1)
	SELECT count(*) FROM due
$$;
