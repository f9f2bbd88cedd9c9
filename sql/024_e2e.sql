-- fleetpki schema 024: end-to-end data protection (docs/e2e.md).
--
-- One row per device with E2E rotation set by /e2e/key/rotate: the
-- rotation type, its period, the base epoch and when it began, and the
-- highest epochs answered in each direction.  Keys are never stored:
-- both sides derive them from the device's root secret and an epoch
-- (HKDF), so nothing here grows with traffic.  A header names its
-- device by ROT (devices.rot, unique) and this row by its primary key:
-- one indexed lookup.
CREATE TABLE device_e2e (
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	rotation	text NOT NULL CHECK (rotation IN ('CONTINUOUS', 'AUTOMATIC')),
	-- the period of AUTOMATIC rotation, NULL for CONTINUOUS
	days		integer CHECK (days BETWEEN 1 AND 30),
	base_epoch	bigint NOT NULL CHECK (base_epoch BETWEEN 1 AND 4294967295),
	-- whole seconds: the device computes the same epochs from it
	since		timestamptz NOT NULL,
	-- the highest uplink / downlink epoch answered (0: none)
	last_uplink	bigint NOT NULL DEFAULT 0
			CHECK (last_uplink BETWEEN 0 AND 4294967295),
	last_downlink	bigint NOT NULL DEFAULT 0
			CHECK (last_downlink BETWEEN 0 AND 4294967295),
	PRIMARY KEY (tenant_id, device_id),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
		ON DELETE CASCADE,
	CHECK ((rotation = 'AUTOMATIC') = (days IS NOT NULL))
);

SELECT fleetpki_tenant_wall('device_e2e');

REVOKE ALL ON device_e2e FROM fleetpki_app;
GRANT SELECT, INSERT, UPDATE ON device_e2e TO fleetpki_app;
