/*
 * stmt_registry: the statements of profiles, devices, the allow and
 * deny lists, provisioning (store/registry.c), as X(NAME, SQL) rows of
 * the one statement table (statements.h).
 *
 * Lists of names are bound as one text[] literal ($n::text[]); a NULL
 * array names nothing.  Pages are 100 rows (REG_PAGE_SIZE).
 */
#ifndef FLEETPKI_STMT_REGISTRY_H
#define FLEETPKI_STMT_REGISTRY_H

/* ISO 8601 UTC, the spec's "2020-03-02T07:40:19Z"; NULL stays NULL. */
#define SQL_ISO(col)                                                           \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A profile with any of the tags $3 (case-insensitive), or any profile. */
#define SQL_PROFILE_FILTER                                                     \
	"WHERE p.tenant_id = $1 AND ($2::text IS NULL OR p.name = $2) "        \
	"AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM profile_tags pt "    \
	"JOIN tags t ON t.tenant_id = pt.tenant_id AND t.id = pt.tag_id "      \
	"WHERE pt.tenant_id = p.tenant_id AND pt.profile_id = p.id "           \
	"AND t.name_key = ANY (ARRAY(SELECT lower(x) FROM unnest($3::text[]) " \
	"x)))) "

/* The devices a request names by ROT ($2), tag ($3), serial. */
#define SQL_NAMED(serials)                                                     \
	"fleetpki_device_set($1, $2::text[], $3::text[], " serials             \
	", NULL) s JOIN devices d ON d.tenant_id = $1 AND d.id = s.device_id "

#define FOREACH_STMT_REGISTRY(X)                                               \
	/* registry.c: profiles */                                             \
	X(PROFILE_INSERT,                                                      \
	    "INSERT INTO device_profiles (tenant_id, uid, name) VALUES "       \
	    "($1, $2, $3) RETURNING id, " SQL_EPOCH("created_at"))             \
	X(PROFILE_COUNT,                                                       \
	    "SELECT count(*) FROM device_profiles p " SQL_PROFILE_FILTER)      \
	X(PROFILE_PAGE,                                                        \
	    "SELECT p.uid, p.name, " SQL_ISO("p.created_at") ", (SELECT "      \
	    "coalesce(json_agg(t.name ORDER BY t.name_key), '[]') FROM "       \
	    "profile_tags pt JOIN tags t ON t.tenant_id = pt.tenant_id AND "   \
	    "t.id = pt.tag_id WHERE pt.tenant_id = p.tenant_id AND "           \
	    "pt.profile_id = p.id)::text, coalesce(p.bootstrap, "              \
	    "'{}')::text FROM device_profiles p " SQL_PROFILE_FILTER           \
	    "ORDER BY p.id LIMIT 100 OFFSET $4")                               \
	X(PROFILE_ID_BY_UID,                                                   \
	    "SELECT id FROM device_profiles WHERE tenant_id = $1 AND uid = "   \
	    "$2")                                                              \
	X(PROFILE_BOOTSTRAP_SET,                                               \
	    "UPDATE device_profiles SET bootstrap = coalesce(bootstrap, "      \
	    "'{}') || $3::jsonb, bootstrap_at = now() WHERE tenant_id = $1 "   \
	    "AND uid = $2 RETURNING bootstrap::text")                          \
	X(PROFILE_BOOTSTRAP_GET,                                               \
	    "SELECT coalesce(bootstrap, '{}')::text FROM device_profiles "     \
	    "WHERE tenant_id = $1 AND uid = $2")                               \
	X(PROFILE_BOOTSTRAP_DELETE,                                            \
	    "UPDATE device_profiles SET bootstrap = NULL, bootstrap_at = "     \
	    "now() WHERE tenant_id = $1 AND uid = $2 RETURNING '{}'::text")    \
	/* registry.c: device lists (sql/013: list_pos, device_counts) */      \
	X(DEVICE_COUNTS,                                                       \
	    "SELECT devices, allowlisted, allowed FROM device_counts WHERE "   \
	    "tenant_id = $1")                                                  \
	/* the blocked set's own partial index (devices_blocked_pos) */        \
	X(DEVICE_COUNT_BLOCKED,                                                \
	    "SELECT count(*) FROM devices WHERE tenant_id = $1 AND "           \
	    "blocked_at IS NOT NULL")                                          \
	X(DEVICE_PAGE_ALL,                                                     \
	    "SELECT rot, list_pos FROM devices WHERE tenant_id = $1 AND "      \
	    "list_pos > $2 ORDER BY list_pos LIMIT 100 OFFSET $3")             \
	X(DEVICE_PAGE_BLOCKED,                                                 \
	    "SELECT rot, list_pos FROM devices WHERE tenant_id = $1 AND "      \
	    "blocked_at IS NOT NULL AND list_pos > $2 ORDER BY list_pos "      \
	    "LIMIT 100 OFFSET $3")                                             \
	X(DEVICE_PAGE_ALLOWED,                                                 \
	    "SELECT rot, list_pos FROM device_allowed WHERE tenant_id = $1 "   \
	    "AND list_pos > $2 ORDER BY list_pos LIMIT 100 OFFSET $3")         \
	X(DEVICE_PAGE_PROFILE,                                                 \
	    "SELECT rot, id FROM devices WHERE tenant_id = $1 AND "            \
	    "profile_id = $2 AND id > $3 ORDER BY id LIMIT 100 OFFSET $4")     \
	X(DEVICE_COUNT_PROFILE,                                                \
	    "SELECT count(*) FROM devices WHERE tenant_id = $1 AND "           \
	    "profile_id = $2")                                                 \
	X(DEVICE_PAGE_UNATTRIBUTED,                                            \
	    "SELECT rot, id FROM devices WHERE tenant_id = $1 AND "            \
	    "profile_id IS NULL AND id > $2 ORDER BY id LIMIT 100 OFFSET $3")  \
	X(DEVICE_COUNT_UNATTRIBUTED,                                           \
	    "SELECT count(*) FROM devices WHERE tenant_id = $1 AND "           \
	    "profile_id IS NULL")                                              \
	X(DEVICE_PAGE_TAGS,                                                    \
	    "SELECT d.rot, d.id FROM fleetpki_device_set($1, NULL, "           \
	    "$2::text[], NULL, NULL) s JOIN devices d ON d.tenant_id = $1 "    \
	    "AND d.id = s.device_id WHERE d.id > $3 ORDER BY d.id LIMIT "      \
	    "100 OFFSET $4")                                                   \
	X(DEVICE_COUNT_TAGS,                                                   \
	    "SELECT count(*) FROM fleetpki_device_set($1, NULL, "              \
	    "$2::text[], NULL, NULL)")                                         \
	X(DEVICE_INFO,                                                         \
	    "SELECT d.rot, d.serial, d.imei, p.uid, d.state, d.blocked_at "    \
	    "IS NOT NULL, " SQL_ISO("d.sealed_at") ", "                        \
	    SQL_ISO("d.bootstrapped_at") ", " SQL_ISO("d.last_seen") ", "      \
	    "d.firmware, coalesce(dd.props, '{}')::text, "                     \
	    "d.current_props::text FROM " SQL_NAMED("$4::text[]") "LEFT "      \
	    "JOIN device_profiles p ON p.tenant_id = d.tenant_id AND p.id "    \
	    "= d.profile_id LEFT JOIN device_desired dd ON dd.tenant_id = "    \
	    "d.tenant_id AND dd.device_id = d.id ORDER BY d.list_pos LIMIT "   \
	    "$5")                                                              \
	/* registry.c: the allow list */                                       \
	X(ALLOWLIST_ADD,                                                       \
	    "WITH v (kind, value, g, o) AS (SELECT 'ROTPublicUID', x, 1, o "   \
	    "FROM unnest($2::text[]) WITH ORDINALITY u (x, o) UNION ALL "      \
	    "SELECT 'IMEI', x, 2, o FROM unnest($3::text[]) WITH "             \
	    "ORDINALITY u (x, o)), ins AS (INSERT INTO device_allowlist "      \
	    "(tenant_id, kind, value) SELECT $1, kind, value FROM v ORDER "    \
	    "BY g, o ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) "     \
	    "FROM ins")                                                        \
	X(ALLOWLIST_DELETE,                                                    \
	    "WITH del AS (DELETE FROM device_allowlist a WHERE a.tenant_id "   \
	    "= $1 AND ((a.kind = 'ROTPublicUID' AND a.value = ANY "            \
	    "($2::text[])) OR (a.kind = 'IMEI' AND a.value = ANY "             \
	    "($3::text[]))) RETURNING 1) SELECT count(*) FROM del")            \
	X(ALLOWLIST_PAGE,                                                      \
	    "SELECT kind, value, " SQL_ISO("added_at") ", seq FROM "           \
	    "device_allowlist WHERE tenant_id = $1 AND seq > $2 ORDER BY "     \
	    "seq LIMIT 100 OFFSET $3")                                         \
	/* registry.c: desired properties (provisioning) */                    \
	X(DESIRED_SET,                                                         \
	    "WITH ins AS (INSERT INTO device_desired AS dd (tenant_id, "       \
	    "device_id, props, seq) SELECT d.tenant_id, d.id, $4::jsonb, "     \
	    "nextval('device_command_seq') FROM " SQL_NAMED("NULL")            \
	    "WHERE d.state IN ('ALLOCATED', 'ACTIVATED') ON CONFLICT "         \
	    "(tenant_id, device_id) DO UPDATE SET props = dd.props || "        \
	    "EXCLUDED.props, seq = EXCLUDED.seq, set_at = now() RETURNING "    \
	    "1) SELECT count(*) FROM ins")                                     \
	X(DESIRED_GET,                                                         \
	    "SELECT d.rot, dd.props::text FROM " SQL_NAMED("NULL") "JOIN "     \
	    "device_desired dd ON dd.tenant_id = d.tenant_id AND "             \
	    "dd.device_id = d.id ORDER BY d.list_pos LIMIT $4")                \
	X(DESIRED_DELETE,                                                      \
	    "WITH del AS (DELETE FROM device_desired dd WHERE dd.tenant_id "   \
	    "= $1 AND dd.device_id IN (SELECT device_id FROM "                 \
	    "fleetpki_device_set($1, $2::text[], $3::text[], NULL, NULL)) "    \
	    "RETURNING 1) SELECT count(*) FROM del")

#endif
