/*
 * stmt_device: the statements of the device protocol: bootstrap, heartbeat, sealing (store/device.c), as
 * X(NAME, SQL) rows of the one statement table (statements.h).
 */
#ifndef FLEETPKI_STMT_DEVICE_H
#define FLEETPKI_STMT_DEVICE_H

/*
 * The properties a pending command carries for the device 'd' of
 * desired row 'dd': all of them when ACTIVATED, else (no feature
 * authorizations) SecurityHeartbeatInSec only.
 */
#define SQL_DEVICE_EFFECTIVE_PROPS                                             \
	"CASE WHEN d.state = 'ACTIVATED' THEN dd.props ELSE "                  \
	"(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') "            \
	"FROM jsonb_each(dd.props) e "                                         \
	"WHERE e.key = 'SecurityHeartbeatInSec') END"

/* The heartbeat interval the current properties ask for (0: none). */
#define SQL_DEVICE_INTERVAL                                                    \
	"CASE WHEN jsonb_typeof(current_props->'SecurityHeartbeatInSec') "     \
	"= 'number' THEN least(greatest((current_props->>"                     \
	"'SecurityHeartbeatInSec')::numeric, 0), 31622400)::bigint ELSE 0 END"

/* What DEVICE_ACCEPT* return of the device (struct device_rec). */
#define SQL_DEVICE_ACCEPTED                                                     \
	"state, bootstrapped_at IS NOT NULL, coalesce(profile_id, 0), serial, " \
	"imei, reported_serial, reported_imei, firmware"

#define FOREACH_STMT_DEVICE(X)                                                   \
	X(DEVICE_TENANT, "SELECT fleetpki_device_tenant($1)")                    \
	X(DEVICE_AUTH,                                                           \
	    "SELECT id, tenant_id, rot, secret_sealed, "                         \
	    "blocked_at IS NOT NULL FROM devices "                               \
	    "WHERE tenant_id = $1 AND rot = $2")                                 \
	X(DEVICE_ACCEPT,                                                         \
	    "UPDATE devices SET counter = $3, last_mac = $4, "                   \
	    "last_request_ts = $5, last_peer = $6, last_seen = now() "           \
	    "WHERE tenant_id = $1 AND id = $2 AND counter < $3 "                 \
	    "RETURNING " SQL_DEVICE_ACCEPTED ", 0, " SQL_DEVICE_INTERVAL)        \
	/*                                                                     \
	 * A heartbeat's: the counter, and one token taken from the bucket     \
	 * of $7 tokens, one more every $8 seconds (in SET, so the row as      \
	 * locked counts); RETURNING the seconds until a token is due when     \
	 * there was none (0: taken).  A refusal rolls it all back.            \
	 */ \
	X(DEVICE_ACCEPT_HB,                                                      \
	    "UPDATE devices SET counter = $3, last_mac = $4, "                   \
	    "last_request_ts = $5, last_peer = $6, last_seen = now(), "          \
	    "last_heartbeat = now(), hb_tokens = least($7::float8, CASE WHEN "   \
	    "hb_tokens_at IS NULL THEN $7::float8 ELSE hb_tokens + "             \
	    "extract(epoch FROM now() - hb_tokens_at)::float8 / $8::float8 "     \
	    "END) - 1, hb_tokens_at = now() "                                    \
	    "WHERE tenant_id = $1 AND id = $2 AND counter < $3 "                 \
	    "RETURNING " SQL_DEVICE_ACCEPTED ", CASE WHEN hb_tokens >= 0 "       \
	    "THEN 0 ELSE greatest(1, ceil(-hb_tokens * $8::float8))::bigint "    \
	    "END, " SQL_DEVICE_INTERVAL)                                         \
	X(DEVICE_CLONE_EVENT,                                                    \
	    "INSERT INTO device_clone_events (tenant_id, device_id, reason, "    \
	    "counter, last_counter, peer) "                                      \
	    "SELECT $1, $2, CASE WHEN (d.counter = $3 AND d.last_mac = $4) "     \
	    "OR ($3 < d.counter AND d.last_request_ts > $5 + 2) "                \
	    "THEN 'COUNTER_REPLAY' "                                             \
	    "ELSE 'COUNTER_CONFLICT' END, $3, d.counter, $6 "                    \
	    "FROM devices d WHERE d.tenant_id = $1 AND d.id = $2 "               \
	    "RETURNING reason, last_counter")                                    \
	X(DEVICE_PROFILE_BY_UID,                                                 \
	    "SELECT id, uid, bootstrap::text FROM device_profiles "              \
	    "WHERE tenant_id = $1 AND uid = $2")                                 \
	X(DEVICE_PROFILE_BY_ID,                                                  \
	    "SELECT id, uid, bootstrap::text FROM device_profiles "              \
	    "WHERE tenant_id = $1 AND id = $2")                                  \
	X(DEVICE_ALLOWED,                                                        \
	    "SELECT EXISTS (SELECT 1 FROM device_allowlist "                     \
	    "WHERE tenant_id = $1 AND ((kind = 'ROTPublicUID' AND value = $2) "  \
	    "OR (kind = 'IMEI' AND value IN ($3, $4))))")                        \
	X(DEVICE_BOOTSTRAP,                                                      \
	    "UPDATE devices SET state = $3, profile_id = nullif($4, 0), "        \
	    "reported_serial = $5, reported_imei = $6, firmware = $7, "          \
	    "bootstrapped_at = now(), last_seen = now() "                        \
	    "WHERE tenant_id = $1 AND id = $2 RETURNING " SQL_DEVICE_INTERVAL)   \
	X(DEVICE_DESIRED_MERGE,                                                  \
	    "INSERT INTO device_desired (tenant_id, device_id, props, seq) "     \
	    "VALUES ($1, $2, $3::jsonb, nextval('device_command_seq')) "         \
	    "ON CONFLICT (tenant_id, device_id) DO UPDATE SET "                  \
	    "props = device_desired.props || EXCLUDED.props, "                   \
	    "seq = EXCLUDED.seq, set_at = now()")                                \
	X(DEVICE_DESIRED_GET,                                                    \
	    "SELECT dd.seq, (" SQL_DEVICE_EFFECTIVE_PROPS ")::text "             \
	    "FROM device_desired dd JOIN devices d "                             \
	    "ON d.tenant_id = dd.tenant_id AND d.id = dd.device_id "             \
	    "WHERE dd.tenant_id = $1 AND dd.device_id = $2 FOR UPDATE OF dd")    \
	X(DEVICE_DESIRED_DONE,                                                   \
	    "DELETE FROM device_desired WHERE tenant_id = $1 "                   \
	    "AND device_id = $2 AND seq = $3 RETURNING seq")                     \
	X(DEVICE_CURRENT_MERGE,                                                  \
	    "UPDATE devices SET current_props = current_props || $3::jsonb, "    \
	    "current_at = now() WHERE tenant_id = $1 AND id = $2")               \
	X(DEVICE_USAGE_ADD,                                                      \
	    "INSERT INTO device_usage (tenant_id, device_id, day, event, "       \
	    "count) SELECT $1, $2, (now() AT TIME ZONE 'UTC')::date, e.key, 1 "  \
	    "FROM jsonb_each($3::jsonb) e WHERE e.key IN ('LocalDPR', "          \
	    "'LocalC2C', 'LocalC2CKeyPairing', 'ZTPV1') "                        \
	    "AND e.value = 'true'::jsonb "                                       \
	    "ON CONFLICT (tenant_id, device_id, day, event) DO UPDATE SET "      \
	    "count = device_usage.count + 1")                                    \
	X(DEVICE_EVENT,                                                          \
	    "INSERT INTO events (tenant_id, device_id, rot, type, payload) "     \
	    "VALUES ($1, $2, $3, $4, $5::jsonb)")                                \
	X(DEVICE_ACTIVITY,                                                       \
	    "INSERT INTO device_activity (tenant_id, device_id, command_id, "    \
	    "command, status, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)")   \
	X(DEVICE_HEARTBEAT_DONE,                                                 \
	    "UPDATE devices SET last_heartbeat = now() "                         \
	    "WHERE tenant_id = $1 AND id = $2 RETURNING " SQL_DEVICE_INTERVAL)   \
	X(DEVICE_SEAL,                                                           \
	    "WITH b AS (SELECT * FROM unnest($3::int[], $4::text[], "            \
	    "$5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[]) "     \
	    "AS b(line, rot, serial, imei, profile_id, scl, secret)), "          \
	    "log AS (INSERT INTO device_prod_log (tenant_id, batch, line, "      \
	    "rot, serial, scl_serial) SELECT $1, $2, line, rot, serial, scl "    \
	    "FROM b WHERE $2::text IS NOT NULL), "                               \
	    "ins AS (INSERT INTO devices (tenant_id, rot, profile_id, serial, "  \
	    "imei, scl_serial, secret_sealed) "                                  \
	    "SELECT DISTINCT ON (rot) $1, rot, nullif(profile_id, 0), serial, "  \
	    "imei, scl, decode(secret, 'hex') FROM b WHERE secret IS NOT NULL "  \
	    "ORDER BY rot, line ON CONFLICT (rot) DO NOTHING RETURNING rot) "    \
	    "SELECT min(b.line) FROM b JOIN ins ON ins.rot = b.rot "             \
	    "WHERE b.secret IS NOT NULL GROUP BY b.rot")                         \
	X(DEVICE_BLOCK,                                                          \
	    "UPDATE devices SET blocked_at = now() WHERE tenant_id = $1 "        \
	    "AND rot = $2 AND blocked_at IS NULL RETURNING id, state")           \
	X(DEVICE_UNBLOCK,                                                        \
	    "UPDATE devices SET blocked_at = NULL WHERE tenant_id = $1 "         \
	    "AND rot = $2 AND blocked_at IS NOT NULL RETURNING id, state")       \
	X(DEVICE_EXISTS,                                                         \
	    "SELECT id, state FROM devices WHERE tenant_id = $1 AND rot = $2")

#endif
