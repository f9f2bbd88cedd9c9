-- fleetpki schema 016: every host hears of every revocation.  Each host's
-- nginx keeps OCSP answers for a second (nginx/ocsp.conf); the fleetpkid
-- that revokes empties its own host's copy before it answers, and each
-- host's fleetpki-worker empties its own when this channel says a
-- revocation committed (on any host), so OCSP through any host says
-- revoked at once, not within the cache's lifetime.  NOTIFY is delivered
-- at commit and never for a rolled-back revocation; one per statement
-- (a mass revocation of 5,000 serials is one notification).
CREATE FUNCTION revocations_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('fleetpki_revoked', '');
	RETURN NULL;
END;
$$;

CREATE TRIGGER revocations_notify AFTER INSERT ON revocations
	FOR EACH STATEMENT EXECUTE FUNCTION revocations_notify();
