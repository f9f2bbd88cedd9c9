-- fleetpki schema 013: paging of the security-services device lists.
--
-- /device/list/get pages a fleet of a million devices by PageNumber.
-- OFFSET over an index walks every entry before the page, so page 5,000
-- would cost 5,000 pages.  Devices are never deleted: each gets, when it
-- is inserted, a dense position in its tenant (1, 2, 3, ...), so page N
-- of ALL is "list_pos > (N-1)*100 ORDER BY list_pos LIMIT 100", one
-- index range whatever N is.  The positions come from a per-tenant
-- counter row, taken in the inserting transaction (a rolled-back insert
-- gives its position back; concurrent inserts of one tenant queue on
-- that row for the rest of their transaction, which sealing can afford).
-- The same row counts the tenant's devices and its blocked ones, so
-- TotalRecords is one row read, never count(*) over the fleet.
--
-- Whoever inserts (the CLI's `device seal`, the tests' plain INSERT) goes
-- through the trigger; the counters are the owner's, written only by
-- these SECURITY DEFINER triggers, read by the app.

ALTER TABLE devices ADD COLUMN list_pos bigint;

CREATE TABLE device_counts (
	tenant_id	bigint PRIMARY KEY REFERENCES tenants (id),
	devices		bigint NOT NULL DEFAULT 0 CHECK (devices >= 0),
	blocked		bigint NOT NULL DEFAULT 0 CHECK (blocked >= 0),
	-- entries of the allow list (/device/whitelist/get's TotalRecords)
	allowlisted	bigint NOT NULL DEFAULT 0 CHECK (allowlisted >= 0)
);

-- Devices that exist already (none on a fresh database).
UPDATE devices d SET list_pos = n.pos
FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS pos
      FROM devices) n
WHERE n.id = d.id;
INSERT INTO device_counts (tenant_id, devices, blocked)
SELECT tenant_id, count(*), count(*) FILTER (WHERE blocked_at IS NOT NULL)
FROM devices GROUP BY tenant_id;
INSERT INTO device_counts AS c (tenant_id, allowlisted)
SELECT tenant_id, count(*) FROM device_allowlist GROUP BY tenant_id
ON CONFLICT (tenant_id) DO UPDATE SET allowlisted = EXCLUDED.allowlisted;

ALTER TABLE devices ALTER COLUMN list_pos SET NOT NULL;
CREATE UNIQUE INDEX devices_list_pos ON devices (tenant_id, list_pos);
-- BLACKLISTED pages in the same order as ALL, over the blocked only.
CREATE INDEX devices_blocked_pos ON devices (tenant_id, list_pos)
	WHERE blocked_at IS NOT NULL;

CREATE FUNCTION fleetpki_device_pos() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	INSERT INTO device_counts AS c (tenant_id, devices, blocked)
	VALUES (NEW.tenant_id, 1,
	    CASE WHEN NEW.blocked_at IS NULL THEN 0 ELSE 1 END)
	ON CONFLICT (tenant_id) DO UPDATE
	    SET devices = c.devices + 1, blocked = c.blocked + EXCLUDED.blocked
	RETURNING c.devices INTO NEW.list_pos;
	RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_device_pos() FROM PUBLIC;
CREATE TRIGGER devices_list_pos BEFORE INSERT ON devices
	FOR EACH ROW EXECUTE FUNCTION fleetpki_device_pos();

-- A position is for life: a device keeps its tenant and its place.
CREATE FUNCTION fleetpki_device_blocked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF NEW.list_pos <> OLD.list_pos OR NEW.tenant_id <> OLD.tenant_id THEN
		RAISE EXCEPTION 'a device keeps its tenant and list position';
	END IF;
	IF (OLD.blocked_at IS NULL) <> (NEW.blocked_at IS NULL) THEN
		UPDATE device_counts
		SET blocked = blocked +
		    CASE WHEN NEW.blocked_at IS NULL THEN -1 ELSE 1 END
		WHERE tenant_id = NEW.tenant_id;
	END IF;
	RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_device_blocked() FROM PUBLIC;
CREATE TRIGGER devices_blocked_count AFTER UPDATE OF blocked_at, list_pos,
	tenant_id ON devices
	FOR EACH ROW EXECUTE FUNCTION fleetpki_device_blocked();

-- The allow list's entries, counted once per statement (a CSV upload of
-- 100,000 rows is one INSERT and one DELETE: two counter updates).
CREATE FUNCTION fleetpki_allowlist_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO device_counts AS c (tenant_id, allowlisted)
		SELECT tenant_id, count(*) FROM allow_new GROUP BY tenant_id
		ON CONFLICT (tenant_id) DO UPDATE
		    SET allowlisted = c.allowlisted + EXCLUDED.allowlisted;
	ELSE
		UPDATE device_counts c SET allowlisted = c.allowlisted - o.n
		FROM (SELECT tenant_id, count(*) AS n FROM allow_old
		      GROUP BY tenant_id) o
		WHERE c.tenant_id = o.tenant_id;
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_allowlist_count() FROM PUBLIC;
CREATE TRIGGER device_allowlist_added AFTER INSERT ON device_allowlist
	REFERENCING NEW TABLE AS allow_new
	FOR EACH STATEMENT EXECUTE FUNCTION fleetpki_allowlist_count();
CREATE TRIGGER device_allowlist_removed AFTER DELETE ON device_allowlist
	REFERENCING OLD TABLE AS allow_old
	FOR EACH STATEMENT EXECUTE FUNCTION fleetpki_allowlist_count();

SELECT fleetpki_tenant_wall('device_counts');
REVOKE ALL ON device_counts FROM fleetpki_app;
GRANT SELECT ON device_counts TO fleetpki_app;
