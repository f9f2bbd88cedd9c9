/*
 * stmt_e2e: the statements of end-to-end data protection (store/e2e.c,
 * sql/024), as X(NAME, SQL) rows of the one statement table
 * (statements.h).
 */
#ifndef FLEETPKI_STMT_E2E_H
#define FLEETPKI_STMT_E2E_H

/* The AUTOMATIC epoch of row 'e' now; the base for CONTINUOUS. */
#define SQL_E2E_CURRENT                                                        \
	"CASE WHEN e.rotation = 'AUTOMATIC' THEN least(e.base_epoch + "        \
	"floor(extract(epoch FROM now() - e.since) / (e.days * 86400))"        \
	"::bigint, 4294967295) ELSE e.base_epoch END"

/* A numeric SecurityHeartbeatInSec of the JSON object 'o', else NULL. */
#define SQL_E2E_HB(o)                                                          \
	"CASE WHEN jsonb_typeof(" o "->'SecurityHeartbeatInSec') = 'number' "  \
	"THEN (" o "->>'SecurityHeartbeatInSec')::numeric END"

#define FOREACH_STMT_E2E(X)                                                    \
	/*                                                                     \
	 * The named activated devices ($2 ROTs, $3 tags) get rotation     \
	 * $4 with period $5 (NULL: CONTINUOUS), a new base epoch above       \
	 * every epoch used, and the state as desired properties; a          \
	 * heartbeat longer than the period ($6: the tenant's default when  \
	 * none is set) is shortened to it.  One row:                         \
	 * devices, heartbeats adjusted.                                      \
	 */                                                                    \
	X(E2E_ROTATE,                                                          \
	    "WITH s AS (SELECT d.tenant_id, d.id, d.current_props, dd.props "  \
	    "AS pending FROM fleetpki_device_set($1, $2::text[], $3::text[], " \
	    "NULL, NULL) s JOIN devices d ON d.tenant_id = $1 AND d.id = "     \
	    "s.device_id LEFT JOIN device_desired dd ON dd.tenant_id = "       \
	    "d.tenant_id AND dd.device_id = d.id WHERE d.state = "             \
	    "'ACTIVATED'), "                                                   \
	    "up AS (INSERT INTO device_e2e AS e (tenant_id, device_id, "       \
	    "rotation, days, base_epoch, since) SELECT tenant_id, id, $4, "    \
	    "$5::int, 1, date_trunc('second', now()) FROM s ON CONFLICT "      \
	    "(tenant_id, device_id) DO UPDATE SET rotation = "                 \
	    "EXCLUDED.rotation, days = EXCLUDED.days, base_epoch = "           \
	    "least(greatest(" SQL_E2E_CURRENT ", e.last_uplink, "              \
	    "e.last_downlink) + 1, 4294967295), since = EXCLUDED.since "       \
	    "RETURNING e.tenant_id, e.device_id, e.base_epoch, "               \
	    "floor(extract(epoch FROM e.since))::bigint AS since_s), "         \
	    "hb AS (SELECT up.*, ($5::int IS NOT NULL AND coalesce("           \
	    SQL_E2E_HB("s.pending") ", " SQL_E2E_HB("s.current_props")         \
	    ", $6::bigint) > $5::int * 86400) AS adjust FROM up JOIN s ON "    \
	    "s.id = "                                                          \
	    "up.device_id), "                                                  \
	    "des AS (INSERT INTO device_desired AS dd (tenant_id, device_id, " \
	    "props, seq) SELECT tenant_id, device_id, jsonb_build_object("     \
	    "'E2EContinuous', $5::int IS NULL, 'E2EKeyDays', coalesce("        \
	    "$5::int, 0), 'E2EKeyEpoch', base_epoch, 'E2EKeySince', since_s) " \
	    "|| CASE WHEN adjust THEN jsonb_build_object("                     \
	    "'SecurityHeartbeatInSec', $5::int * 86400) ELSE '{}'::jsonb END, " \
	    "nextval('device_command_seq') FROM hb ON CONFLICT (tenant_id, "   \
	    "device_id) DO UPDATE SET props = dd.props || EXCLUDED.props, "    \
	    "seq = EXCLUDED.seq, set_at = now() RETURNING 1) "                 \
	    "SELECT (SELECT count(*) FROM des), "                              \
	    "(SELECT count(*) FROM hb WHERE adjust)")                          \
	/*                                                                     \
	 * The device of ROT $2, whether it is blocked, and its E2E state:    \
	 * one indexed lookup.                                                \
	 */                                                                    \
	X(E2E_LOOKUP,                                                          \
	    "SELECT d.id, d.secret_sealed, d.blocked_at IS NOT NULL, "         \
	    "e.rotation = 'CONTINUOUS', e.base_epoch, e.last_uplink, "         \
	    "e.last_downlink, " SQL_E2E_CURRENT                                \
	    " FROM devices d JOIN device_e2e e ON e.tenant_id = d.tenant_id "  \
	    "AND e.device_id = d.id WHERE d.tenant_id = $1 AND d.rot = $2")    \
	/*                                                                     \
	 * Epoch $3 answered: CONTINUOUS only when above every earlier one    \
	 * (no row: refused, or a concurrent call took it).                   \
	 */                                                                    \
	X(E2E_TAKE_UPLINK,                                                     \
	    "UPDATE device_e2e SET last_uplink = greatest(last_uplink, $3) "   \
	    "WHERE tenant_id = $1 AND device_id = $2 AND (rotation = "         \
	    "'AUTOMATIC' OR last_uplink < $3) RETURNING 1")                    \
	X(E2E_TAKE_DOWNLINK,                                                   \
	    "UPDATE device_e2e SET last_downlink = greatest(last_downlink, "   \
	    "$3) WHERE tenant_id = $1 AND device_id = $2 AND (rotation = "     \
	    "'AUTOMATIC' OR last_downlink < $3) RETURNING 1")                  \
	X(E2E_USAGE,                                                           \
	    "INSERT INTO device_usage (tenant_id, device_id, day, event, "     \
	    "count) VALUES ($1, $2, (now() AT TIME ZONE 'UTC')::date, $3, 1) " \
	    "ON CONFLICT (tenant_id, device_id, day, event) DO UPDATE SET "    \
	    "count = device_usage.count + 1")

#endif
