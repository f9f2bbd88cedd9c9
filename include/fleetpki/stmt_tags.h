/*
 * stmt_tags: the statements of tags and the history reports
 * (store/tag.c, store/report.c), as X(NAME, SQL) rows of the one
 * statement table (statements.h).
 *
 * Arrays are bound as one text[] literal each; a request's whole list
 * of tags, ROTs or profiles is one statement.  Assignment and removal
 * count what they were given against what exists and change rows only
 * when every one named exists (all or nothing, in one statement).
 * Report pages go by keyset: "(created_at, id) > (k1, k2)" on the
 * (tenant_id, created_at, id) indexes, with an OFFSET only for a page
 * asked by PageNumber without a token.  Instants travel as Unix
 * microseconds, days as days since 1970-01-01.
 */
#ifndef FLEETPKI_STMT_TAGS_H
#define FLEETPKI_STMT_TAGS_H

/* Unix microseconds <-> timestamptz, exactly (no float seconds). */
#define SQL_TAGS_TS(p) "(timestamptz 'epoch' + (" p ")::bigint * interval '1 microsecond')"
#define SQL_TAGS_US(col) "floor(extract(epoch FROM " col ") * 1000000)::bigint"
#define SQL_TAGS_DAY(p) "(date '1970-01-01' + (" p ")::int)"

/* The tags named by text[] 'p' (any case), the devices or profiles. */
#define SQL_TAGS_TG(p) \
	"tg AS (SELECT id FROM tags WHERE tenant_id = $1 AND name_key = " \
	"ANY (ARRAY(SELECT lower(x) FROM unnest(" p "::text[]) x)))"
#define SQL_TAGS_NTAGS(p) \
	"(SELECT count(DISTINCT lower(x)) FROM unnest(" p "::text[]) x)"
/*
 * Joined to the array's elements, not "= ANY ($n)": a generic plan
 * would recheck every row against the whole array (quadratic).
 */
#define SQL_TAGS_DV(p) \
	"dv AS (SELECT DISTINCT d.id FROM unnest(" p "::text[]) r (v) JOIN " \
	"devices d ON d.rot = r.v WHERE d.tenant_id = $1)"
#define SQL_TAGS_PV(p) \
	"dv AS (SELECT DISTINCT d.id FROM unnest(" p "::text[]) r (v) JOIN " \
	"device_profiles d ON d.uid = r.v WHERE d.tenant_id = $1)"
#define SQL_TAGS_NTARGETS(p) \
	"(SELECT count(DISTINCT x) FROM unnest(" p "::text[]) x)"
#define SQL_TAGS_N(tn, tf, vn, vf) \
	"n AS (SELECT " tn "::bigint AS tg_n, " tf "::bigint AS tg_f, " vn \
	"::bigint AS dv_n, " vf "::bigint AS dv_f)"
#define SQL_TAGS_N_BOTH \
	SQL_TAGS_N(SQL_TAGS_NTAGS("$2"), "(SELECT count(*) FROM tg)", \
	    SQL_TAGS_NTARGETS("$3"), "(SELECT count(*) FROM dv)")
#define SQL_TAGS_OK "n.tg_n = n.tg_f AND n.dv_n = n.dv_f"
#define SQL_TAGS_RESULT(cte) \
	" SELECT n.tg_n, n.tg_f, n.dv_n, n.dv_f, (SELECT count(*) FROM " cte \
	") FROM n"

/* Every tag to every target, kept when already there. */
#define SQL_TAGS_ASSIGN(table, col, targets) \
	"WITH " SQL_TAGS_TG("$2") ", " targets("$3") ", " SQL_TAGS_N_BOTH \
	", ins AS (INSERT INTO " table " (tenant_id, tag_id, " col ") " \
	"SELECT $1, tg.id, dv.id FROM tg CROSS JOIN dv CROSS JOIN n WHERE " \
	SQL_TAGS_OK " ON CONFLICT DO NOTHING RETURNING 1)" \
	SQL_TAGS_RESULT("ins")
/* Removal: tags from targets; every tag of targets; tags from all. */
#define SQL_TAGS_REMOVE(table, col, targets) \
	"WITH " SQL_TAGS_TG("$2") ", " targets("$3") ", " SQL_TAGS_N_BOTH \
	", del AS (DELETE FROM " table " x USING n WHERE x.tenant_id = $1 " \
	"AND " SQL_TAGS_OK " AND x.tag_id IN (SELECT id FROM tg) AND x." col \
	" IN (SELECT id FROM dv) RETURNING 1)" SQL_TAGS_RESULT("del")
#define SQL_TAGS_REMOVE_ALLTAGS(table, col, targets) \
	"WITH " targets("$2") ", " SQL_TAGS_N("0", "0", \
	    SQL_TAGS_NTARGETS("$2"), "(SELECT count(*) FROM dv)") \
	", del AS (DELETE FROM " table " x USING n WHERE x.tenant_id = $1 " \
	"AND " SQL_TAGS_OK " AND x." col " IN (SELECT id FROM dv) " \
	"RETURNING 1)" SQL_TAGS_RESULT("del")
#define SQL_TAGS_REMOVE_ALLTARGETS(table) \
	"WITH " SQL_TAGS_TG("$2") ", " SQL_TAGS_N(SQL_TAGS_NTAGS("$2"), \
	    "(SELECT count(*) FROM tg)", "0", "0") \
	", del AS (DELETE FROM " table " x USING n WHERE x.tenant_id = $1 " \
	"AND " SQL_TAGS_OK " AND x.tag_id IN (SELECT id FROM tg) " \
	"RETURNING 1)" SQL_TAGS_RESULT("del")

/*
 * A page of a report in one statement: the selection's rows m (their
 * keys, materialized once), counted for TotalRecords and paged by
 * keyset (k1 as Unix microseconds, k2 the id) and offset.  The outer
 * join gives one row, the count's, to an empty page.
 */
#define SQL_TAGS_PG(k1, k2, off, lim) \
	"pg AS (SELECT id, created_at FROM m WHERE (created_at, id) > (" \
	SQL_TAGS_TS(k1) ", " k2 "::bigint) ORDER BY created_at, id LIMIT " \
	lim " OFFSET " off ")"

/*
 * The devices of a report ($2 ROTs, $3 tags, $4 profile UID), and the
 * devices sealed without a profile for "UNATTRIBUTED DEVICE PROFILE".
 */
#define SQL_TAGS_DS \
	"ds AS (SELECT device_id FROM fleetpki_device_set($1, $2::text[], " \
	"$3::text[], NULL, $4::text) UNION SELECT id FROM devices WHERE " \
	"tenant_id = $1 AND profile_id IS NULL AND " \
	"$4::text = 'UNATTRIBUTED DEVICE PROFILE')"

/*
 * The events table also keeps what only operators and webhooks see
 * (DEVICE_BLOCKED_ATTEMPT): notifications are the spec's four types.
 */
#define SQL_TAGS_EVENT_WHERE \
	" FROM events e WHERE e.tenant_id = $1 AND e.device_id IN " \
	"(SELECT device_id FROM ds) AND e.type IN ('DEVICE_STATE_CHANGE', " \
	"'DEVICE_INFO_CHANGE', 'DEVICE_PROPERTIES_CHANGE', 'DEVICE_ERROR') " \
	"AND ($5::text IS NULL OR e.type = $5) "
#define SQL_TAGS_CLONE_FROM \
	" FROM device_clone_events c JOIN devices d ON d.tenant_id = " \
	"c.tenant_id AND d.id = c.device_id WHERE c.tenant_id = $1 AND " \
	"c.device_id IN (SELECT device_id FROM ds) "

/*
 * The suspicious devices among ds, one row per device and reason: the
 * duplicated value and how many other ROTs share it.  Each duplicate
 * group is counted once (GROUP BY ... HAVING over the values ds has),
 * never paired row by row: a serial shared by n devices costs n, not
 * n squared.  Production logs may spell a ROT in either case.
 */
#define SQL_TAGS_SUSPICIOUS \
	"WITH " SQL_TAGS_DS ", sd AS (SELECT d.id, d.rot, d.serial, " \
	"d.scl_serial FROM devices d WHERE d.tenant_id = $1 AND d.id IN " \
	"(SELECT device_id FROM ds)), " \
	"ser AS (SELECT o.serial AS v, count(*) AS n FROM devices o WHERE " \
	"o.tenant_id = $1 AND o.serial IN (SELECT serial FROM sd) GROUP BY " \
	"o.serial HAVING count(*) > 1), " \
	"scl AS (SELECT o.scl_serial AS v, count(*) AS n FROM devices o " \
	"WHERE o.tenant_id = $1 AND o.scl_serial IN (SELECT scl_serial FROM " \
	"sd) GROUP BY o.scl_serial HAVING count(*) > 1), " \
	"pl AS (SELECT DISTINCT sd.id, p.serial, p.scl_serial FROM sd JOIN " \
	"device_prod_log p ON p.tenant_id = $1 AND upper(p.rot) = sd.rot), " \
	"pser AS (SELECT o.serial AS v, count(DISTINCT upper(o.rot)) AS n " \
	"FROM device_prod_log o WHERE o.tenant_id = $1 AND o.serial IN " \
	"(SELECT serial FROM pl) GROUP BY o.serial HAVING " \
	"count(DISTINCT upper(o.rot)) > 1), " \
	"pscl AS (SELECT o.scl_serial AS v, count(DISTINCT upper(o.rot)) AS " \
	"n FROM device_prod_log o WHERE o.tenant_id = $1 AND o.scl_serial IN " \
	"(SELECT scl_serial FROM pl) GROUP BY o.scl_serial HAVING " \
	"count(DISTINCT upper(o.rot)) > 1), " \
	"s AS (SELECT sd.id, 1 AS reason, sd.rot, sd.serial, sd.scl_serial, " \
	"sd.serial AS value, x.n - 1 AS others FROM sd JOIN ser x ON x.v = " \
	"sd.serial " \
	"UNION ALL SELECT sd.id, 2, sd.rot, sd.serial, sd.scl_serial, " \
	"sd.scl_serial, x.n - 1 FROM sd JOIN scl x ON x.v = sd.scl_serial " \
	"UNION ALL SELECT sd.id, 3, sd.rot, sd.serial, sd.scl_serial, " \
	"min(x.v), max(x.n) - 1 FROM sd JOIN pl ON pl.id = sd.id JOIN pser x " \
	"ON x.v = pl.serial GROUP BY sd.id, sd.rot, sd.serial, sd.scl_serial " \
	"UNION ALL SELECT sd.id, 4, sd.rot, sd.serial, sd.scl_serial, " \
	"min(x.v), max(x.n) - 1 FROM sd JOIN pl ON pl.id = sd.id JOIN pscl x " \
	"ON x.v = pl.scl_serial GROUP BY sd.id, sd.rot, sd.serial, " \
	"sd.scl_serial)"

/*
 * A tag name's advisory lock ((class, hash of tenant and name key): the
 * two-int4 key space, apart from the migration's int8 one).  An
 * assignment holds it shared for each tag it names, a deletion
 * exclusive, each taken by its own statement before the change: the
 * change's snapshot then sees the other side committed, so a deletion
 * never races an assignment into a foreign-key error.
 */
#define SQL_TAGS_LOCK_CLASS "1952540531" /* "tags" */
#define SQL_TAGS_LOCK_KEY(name) \
	"hashtext($1::text || ':' || lower(" name "))"

#define FOREACH_STMT_TAGS(X) \
	/* tag.c */ \
	X(TAG_LOCK_SHARED, "SELECT pg_advisory_xact_lock_shared(" \
	    SQL_TAGS_LOCK_CLASS ", k) FROM (SELECT DISTINCT " \
	    SQL_TAGS_LOCK_KEY("x") " AS k FROM unnest($2::text[]) x " \
	    "ORDER BY 1) s") \
	X(TAG_LOCK, "SELECT pg_advisory_xact_lock(" SQL_TAGS_LOCK_CLASS ", " \
	    SQL_TAGS_LOCK_KEY("$2::text") ")") \
	X(TAG_INSERT, "INSERT INTO tags (tenant_id, name) VALUES ($1, $2) " \
	    "RETURNING id, name, " SQL_EPOCH("created_at")) \
	/* Refused while a device or a profile has it: one statement. */ \
	X(TAG_DELETE, "WITH t AS (SELECT id FROM tags WHERE tenant_id = $1 " \
	    "AND name_key = lower($2)), u AS (SELECT EXISTS (SELECT 1 FROM " \
	    "device_tags x JOIN t ON x.tag_id = t.id WHERE x.tenant_id = $1) " \
	    "OR EXISTS (SELECT 1 FROM profile_tags x JOIN t ON x.tag_id = " \
	    "t.id WHERE x.tenant_id = $1) AS used), d AS (DELETE FROM tags " \
	    "WHERE tenant_id = $1 AND id IN (SELECT id FROM t) AND NOT " \
	    "(SELECT used FROM u) RETURNING 1) SELECT (SELECT count(*) FROM " \
	    "t), (SELECT used FROM u), (SELECT count(*) FROM d)") \
	X(TAG_COUNT, "SELECT count(*) FROM tags WHERE tenant_id = $1") \
	X(TAG_PAGE, "SELECT id, name, " SQL_EPOCH("created_at") " FROM tags " \
	    "WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $4 OFFSET $3") \
	X(TAG_ASSIGN_DEVICES, \
	    SQL_TAGS_ASSIGN("device_tags", "device_id", SQL_TAGS_DV)) \
	X(TAG_ASSIGN_PROFILES, \
	    SQL_TAGS_ASSIGN("profile_tags", "profile_id", SQL_TAGS_PV)) \
	X(TAG_REMOVE_DEVICES, \
	    SQL_TAGS_REMOVE("device_tags", "device_id", SQL_TAGS_DV)) \
	X(TAG_REMOVE_PROFILES, \
	    SQL_TAGS_REMOVE("profile_tags", "profile_id", SQL_TAGS_PV)) \
	X(TAG_REMOVE_DEVICES_ALLTAGS, \
	    SQL_TAGS_REMOVE_ALLTAGS("device_tags", "device_id", SQL_TAGS_DV)) \
	X(TAG_REMOVE_PROFILES_ALLTAGS, \
	    SQL_TAGS_REMOVE_ALLTAGS("profile_tags", "profile_id", SQL_TAGS_PV)) \
	X(TAG_REMOVE_DEVICES_ALL, SQL_TAGS_REMOVE_ALLTARGETS("device_tags")) \
	X(TAG_REMOVE_PROFILES_ALL, SQL_TAGS_REMOVE_ALLTARGETS("profile_tags")) \
	/* report.c: $1 tenant, $2 ROTs, $3 tags, $4 profile (SQL_TAGS_DS) */ \
	X(REPORT_EVENT_PAGE, "WITH " SQL_TAGS_DS ", m AS MATERIALIZED " \
	    "(SELECT e.id, e.created_at" SQL_TAGS_EVENT_WHERE "AND " \
	    "e.created_at >= " SQL_TAGS_TS("$6") " AND e.created_at <= " \
	    SQL_TAGS_TS("$7") "), " SQL_TAGS_PG("$8", "$9", "$10", "$11") \
	    " SELECT (SELECT count(*) FROM m), e.id, " \
	    SQL_TAGS_US("e.created_at") ", coalesce(e.rot, (SELECT d.rot FROM " \
	    "devices d WHERE d.tenant_id = e.tenant_id AND d.id = " \
	    "e.device_id)), e.type, e.payload::text FROM (SELECT 1) one LEFT " \
	    "JOIN (pg JOIN events e ON e.tenant_id = $1 AND e.id = pg.id) ON " \
	    "true ORDER BY pg.created_at, pg.id") \
	X(REPORT_DEVICE_SEEN, "SELECT id, coalesce(" SQL_EPOCH("last_seen") \
	    ", 0) FROM devices WHERE tenant_id = $1 AND rot = $2") \
	X(REPORT_ACTIVITY_COUNT, "SELECT count(*) FROM device_activity a " \
	    "WHERE a.tenant_id = $1 AND a.device_id = $2 AND a.created_at >= " \
	    SQL_TAGS_TS("$3") " AND a.created_at <= " SQL_TAGS_TS("$4")) \
	X(REPORT_ACTIVITY_PAGE, "SELECT a.id, " SQL_TAGS_US("a.created_at") \
	    ", a.command_id, a.command, a.status, a.detail::text FROM " \
	    "device_activity a WHERE a.tenant_id = $1 AND a.device_id = $2 " \
	    "AND (a.created_at, a.id) > (" SQL_TAGS_TS("$3") ", $4::bigint) " \
	    "AND a.created_at <= " SQL_TAGS_TS("$5") " ORDER BY a.created_at, " \
	    "a.id LIMIT $7 OFFSET $6") \
	/* $5 every device, $6..$7 days, after device $8, $9 devices */ \
	X(REPORT_USAGE_SUM, "WITH " SQL_TAGS_DS ", dv AS (SELECT DISTINCT " \
	    "u.device_id FROM device_usage u WHERE u.tenant_id = $1 AND " \
	    "u.device_id > $8::bigint AND u.day BETWEEN " SQL_TAGS_DAY("$6") \
	    " AND " SQL_TAGS_DAY("$7") " AND ($5::boolean OR u.device_id IN " \
	    "(SELECT device_id FROM ds)) ORDER BY u.device_id LIMIT $9) " \
	    "SELECT d.id, d.rot, u.event, sum(u.count)::bigint FROM dv JOIN " \
	    "devices d ON d.tenant_id = $1 AND d.id = dv.device_id JOIN " \
	    "device_usage u ON u.tenant_id = $1 AND u.device_id = " \
	    "dv.device_id AND u.day BETWEEN " SQL_TAGS_DAY("$6") " AND " \
	    SQL_TAGS_DAY("$7") " GROUP BY d.id, d.rot, u.event ORDER BY d.id, " \
	    "u.event") \
	X(REPORT_CLONE_PAGE, "WITH " SQL_TAGS_DS ", m AS MATERIALIZED " \
	    "(SELECT c.id, c.created_at" SQL_TAGS_CLONE_FROM "AND " \
	    "c.created_at >= " SQL_TAGS_TS("$5") " AND c.created_at <= " \
	    SQL_TAGS_TS("$6") "), " SQL_TAGS_PG("$7", "$8", "$9", "$10") \
	    " SELECT (SELECT count(*) FROM m), c.id, " \
	    SQL_TAGS_US("c.created_at") ", d.rot, c.reason, c.counter, " \
	    "c.last_counter, c.peer FROM (SELECT 1) one LEFT JOIN (pg JOIN " \
	    "device_clone_events c ON c.tenant_id = $1 AND c.id = pg.id JOIN " \
	    "devices d ON d.tenant_id = $1 AND d.id = c.device_id) ON true " \
	    "ORDER BY pg.created_at, pg.id") \
	X(REPORT_SUSPICIOUS_PAGE, SQL_TAGS_SUSPICIOUS ", pg AS (SELECT * " \
	    "FROM s WHERE (id, reason) > ($5::bigint, $6::int) ORDER BY id, " \
	    "reason LIMIT $8 OFFSET $7) SELECT (SELECT count(*) FROM s), " \
	    "pg.id, pg.reason, pg.rot, pg.serial, pg.scl_serial, pg.value, " \
	    "pg.others FROM (SELECT 1) one LEFT JOIN pg ON true ORDER BY " \
	    "pg.id, pg.reason")

#endif
