-- fleetpki schema 013: paging of the security-services device lists.
--
-- /device/list/get pages a fleet of a million devices by PageNumber.
-- OFFSET over an index walks every entry before the page, so page 5,000
-- would cost 5,000 pages.  Devices are never deleted: each gets, when it
-- is inserted, a dense position in its tenant (1, 2, 3, ...), so page N
-- of ALL is "list_pos > (N-1)*100 ORDER BY list_pos LIMIT 100", one
-- index range whatever N is.  The positions come from a per-tenant
-- counter row, locked by the inserting transaction until it ends (a
-- rolled-back insert gives its positions back; concurrent inserts of one
-- tenant queue on that row, which sealing can afford).  The same row
-- counts the tenant's devices and its allow-list entries, so
-- TotalRecords is one row read, never count(*) over the fleet.
--
-- The counter row is read once per statement and written once per
-- statement: a row trigger that updated it per device would leave one
-- dead version per device in the transaction, each found by walking the
-- ones before (quadratic in a batch of 500,000).  The row trigger keeps
-- the statement's last position in a transaction-local setting; a
-- statement trigger adds the statement's rows to the counter.
--
-- WHITELISTED (devices whose ROT or IMEI is on the allow list) is kept
-- as a set of its own, device_allowed, by statement triggers on the allow
-- list and on devices: a page of it is one index range (by token) or a
-- skip over that set's index alone (by PageNumber), its TotalRecords a
-- count over that index -- never a join of the whole list per request.
--
-- A device sealed while its allow-list entry is being added (two
-- transactions, neither seeing the other's row): both write the tenant's
-- counter row, so one waits for the other to commit, and its trigger's
-- next statement (READ COMMITTED: a new snapshot) sees the committed
-- device or entry and adds it to device_allowed.
--
-- Whoever inserts (the CLI's `device seal`, the tests' plain INSERT) goes
-- through the triggers; the counters are the owner's, written only by
-- these SECURITY DEFINER triggers, read by the app.

ALTER TABLE devices ADD COLUMN list_pos bigint;

CREATE TABLE device_counts (
	tenant_id	bigint PRIMARY KEY REFERENCES tenants (id),
	devices		bigint NOT NULL DEFAULT 0 CHECK (devices >= 0),
	-- entries of the allow list (/device/whitelist/get's TotalRecords)
	allowlisted	bigint NOT NULL DEFAULT 0 CHECK (allowlisted >= 0),
	-- rows of device_allowed (WHITELISTED's TotalRecords)
	allowed		bigint NOT NULL DEFAULT 0 CHECK (allowed >= 0)
);

-- The tenant's whitelisted devices (list_pos and rot copied: a page is
-- read from this index alone).
CREATE TABLE device_allowed (
	tenant_id	bigint NOT NULL,
	device_id	bigint NOT NULL,
	list_pos	bigint NOT NULL,
	rot		text NOT NULL,
	PRIMARY KEY (tenant_id, device_id),
	FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

-- Devices and entries that exist already (none on a fresh database).
UPDATE devices d SET list_pos = n.pos
FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS pos
      FROM devices) n
WHERE n.id = d.id;
INSERT INTO device_counts (tenant_id, devices)
SELECT tenant_id, count(*) FROM devices GROUP BY tenant_id;
INSERT INTO device_counts AS c (tenant_id, allowlisted)
SELECT tenant_id, count(*) FROM device_allowlist GROUP BY tenant_id
ON CONFLICT (tenant_id) DO UPDATE SET allowlisted = EXCLUDED.allowlisted;

INSERT INTO device_allowed (tenant_id, device_id, list_pos, rot)
SELECT d.tenant_id, d.id, d.list_pos, d.rot FROM devices d
WHERE EXISTS (SELECT 1 FROM device_allowlist a WHERE a.tenant_id = d.tenant_id
	AND a.kind = 'ROTPublicUID' AND a.value = d.rot)
   OR EXISTS (SELECT 1 FROM device_allowlist a WHERE a.tenant_id = d.tenant_id
	AND a.kind = 'IMEI' AND a.value = d.imei);
CREATE UNIQUE INDEX device_allowed_pos ON device_allowed (tenant_id, list_pos)
	INCLUDE (rot);
UPDATE device_counts c SET allowed = x.n
FROM (SELECT tenant_id, count(*) AS n FROM device_allowed GROUP BY tenant_id) x
WHERE c.tenant_id = x.tenant_id;

ALTER TABLE devices ALTER COLUMN list_pos SET NOT NULL;
CREATE UNIQUE INDEX devices_list_pos ON devices (tenant_id, list_pos);
-- BLACKLISTED pages in the same order as ALL, over the blocked only.
CREATE INDEX devices_blocked_pos ON devices (tenant_id, list_pos)
	WHERE blocked_at IS NOT NULL;

CREATE FUNCTION fleetpki_device_pos() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	k text := 'fleetpki_pos.t' || NEW.tenant_id;
	v text := current_setting(k, true);
	n bigint;
BEGIN
	IF v IS NULL OR v = '' THEN
		-- First device of this tenant in the statement: its counter
		-- row, locked until the end of the transaction.
		INSERT INTO device_counts (tenant_id) VALUES (NEW.tenant_id)
		ON CONFLICT (tenant_id) DO NOTHING;
		SELECT devices INTO n FROM device_counts
		WHERE tenant_id = NEW.tenant_id FOR UPDATE;
		PERFORM set_config('fleetpki_pos.tenants',
		    coalesce(current_setting('fleetpki_pos.tenants', true), '')
		    || ' ' || NEW.tenant_id, true);
	ELSE
		n := v::bigint;
	END IF;
	NEW.list_pos := n + 1;
	PERFORM set_config(k, (n + 1)::text, true);
	RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_device_pos() FROM PUBLIC;
CREATE TRIGGER devices_list_pos BEFORE INSERT ON devices
	FOR EACH ROW EXECUTE FUNCTION fleetpki_device_pos();

-- After each statement: the rows it inserted are counted, and the
-- positions the row trigger handed out are forgotten.  A row the
-- statement did not insert after all (INSERT ... ON CONFLICT DO NOTHING,
-- as `device seal` does) took a position too: then the statement's rows
-- are renumbered into the counter's next positions (in their order), so
-- no gap stays.
CREATE FUNCTION fleetpki_device_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	r record;
	c bigint;
	t text;
BEGIN
	FOR t IN SELECT x FROM regexp_split_to_table(
	    coalesce(current_setting('fleetpki_pos.tenants', true), ''), ' ') x
	    WHERE x <> '' LOOP
		PERFORM set_config('fleetpki_pos.t' || t, '', true);
	END LOOP;
	PERFORM set_config('fleetpki_pos.tenants', '', true);
	FOR r IN SELECT tenant_id, count(*) AS n, min(list_pos) AS lo,
	    max(list_pos) AS hi FROM devices_new GROUP BY tenant_id LOOP
		SELECT devices INTO c FROM device_counts
		WHERE tenant_id = r.tenant_id;
		IF r.lo <> c + 1 OR r.hi <> c + r.n THEN
			UPDATE devices d SET list_pos = -(c + x.rn)
			FROM (SELECT id, row_number() OVER (ORDER BY list_pos) AS rn
			      FROM devices_new WHERE tenant_id = r.tenant_id) x
			WHERE d.id = x.id;
			UPDATE devices SET list_pos = -list_pos
			WHERE tenant_id = r.tenant_id AND list_pos < 0;
		END IF;
		UPDATE device_counts SET devices = c + r.n
		WHERE tenant_id = r.tenant_id;
	END LOOP;
	-- New devices already on the allow list (by ROT or IMEI), with
	-- their final positions.
	WITH ins AS (INSERT INTO device_allowed (tenant_id, device_id,
	    list_pos, rot)
	SELECT d.tenant_id, d.id, d.list_pos, d.rot
	FROM devices_new n JOIN devices d ON d.id = n.id
	WHERE EXISTS (SELECT 1 FROM device_allowlist a
	    WHERE a.tenant_id = d.tenant_id AND a.kind = 'ROTPublicUID'
	    AND a.value = d.rot)
	   OR (d.imei IS NOT NULL AND EXISTS (SELECT 1 FROM device_allowlist a
	    WHERE a.tenant_id = d.tenant_id AND a.kind = 'IMEI'
	    AND a.value = d.imei))
	RETURNING tenant_id)
	UPDATE device_counts c SET allowed = c.allowed + x.n
	FROM (SELECT tenant_id, count(*) AS n FROM ins GROUP BY tenant_id) x
	WHERE c.tenant_id = x.tenant_id;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_device_count() FROM PUBLIC;
CREATE TRIGGER devices_counted AFTER INSERT ON devices
	REFERENCING NEW TABLE AS devices_new
	FOR EACH STATEMENT EXECUTE FUNCTION fleetpki_device_count();

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
		WITH ins AS (INSERT INTO device_allowed (tenant_id, device_id,
		    list_pos, rot)
		SELECT d.tenant_id, d.id, d.list_pos, d.rot FROM allow_new n
		JOIN devices d ON d.rot = n.value AND d.tenant_id = n.tenant_id
		WHERE n.kind = 'ROTPublicUID'
		UNION
		SELECT d.tenant_id, d.id, d.list_pos, d.rot FROM allow_new n
		JOIN devices d ON d.tenant_id = n.tenant_id AND d.imei = n.value
		WHERE n.kind = 'IMEI'
		ON CONFLICT DO NOTHING RETURNING tenant_id)
		UPDATE device_counts c SET allowed = c.allowed + x.n
		FROM (SELECT tenant_id, count(*) AS n FROM ins
		      GROUP BY tenant_id) x
		WHERE c.tenant_id = x.tenant_id;
	ELSE
		UPDATE device_counts c SET allowlisted = c.allowlisted - o.n
		FROM (SELECT tenant_id, count(*) AS n FROM allow_old
		      GROUP BY tenant_id) o
		WHERE c.tenant_id = o.tenant_id;
		-- Devices an entry named, unless another entry still does.
		WITH del AS (DELETE FROM device_allowed x USING (
		    SELECT d.tenant_id, d.id, d.rot, d.imei FROM allow_old o
		    JOIN devices d ON d.rot = o.value AND d.tenant_id = o.tenant_id
		    WHERE o.kind = 'ROTPublicUID'
		    UNION
		    SELECT d.tenant_id, d.id, d.rot, d.imei FROM allow_old o
		    JOIN devices d ON d.tenant_id = o.tenant_id AND d.imei = o.value
		    WHERE o.kind = 'IMEI') g
		WHERE x.tenant_id = g.tenant_id AND x.device_id = g.id
		  AND NOT EXISTS (SELECT 1 FROM device_allowlist a
		      WHERE a.tenant_id = g.tenant_id AND a.kind = 'ROTPublicUID'
		      AND a.value = g.rot)
		  AND NOT (g.imei IS NOT NULL AND EXISTS (SELECT 1
		      FROM device_allowlist a WHERE a.tenant_id = g.tenant_id
		      AND a.kind = 'IMEI' AND a.value = g.imei))
		RETURNING x.tenant_id)
		UPDATE device_counts c SET allowed = c.allowed - x.n
		FROM (SELECT tenant_id, count(*) AS n FROM del
		      GROUP BY tenant_id) x
		WHERE c.tenant_id = x.tenant_id;
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

-- A device whose IMEI the owner changes joins or leaves WHITELISTED by
-- it (the app cannot change an IMEI; this is the operator's repair).
CREATE FUNCTION fleetpki_device_imei() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	n bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM device_allowlist a
	    WHERE a.tenant_id = NEW.tenant_id AND ((a.kind = 'ROTPublicUID'
	    AND a.value = NEW.rot) OR (a.kind = 'IMEI' AND a.value = NEW.imei)))
	THEN
		INSERT INTO device_allowed (tenant_id, device_id, list_pos, rot)
		VALUES (NEW.tenant_id, NEW.id, NEW.list_pos, NEW.rot)
		ON CONFLICT DO NOTHING;
		GET DIAGNOSTICS n = ROW_COUNT;
	ELSE
		DELETE FROM device_allowed
		WHERE tenant_id = NEW.tenant_id AND device_id = NEW.id;
		GET DIAGNOSTICS n = ROW_COUNT;
		n := -n;
	END IF;
	IF n <> 0 THEN
		UPDATE device_counts SET allowed = allowed + n
		WHERE tenant_id = NEW.tenant_id;
	END IF;
	RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION fleetpki_device_imei() FROM PUBLIC;
CREATE TRIGGER devices_imei_allowed AFTER UPDATE OF imei ON devices
	FOR EACH ROW WHEN (OLD.imei IS DISTINCT FROM NEW.imei)
	EXECUTE FUNCTION fleetpki_device_imei();

SELECT fleetpki_tenant_wall('device_counts');
SELECT fleetpki_tenant_wall('device_allowed');
REVOKE ALL ON device_counts, device_allowed FROM fleetpki_app;
GRANT SELECT ON device_counts, device_allowed TO fleetpki_app;
