/*
 * stmt_enroll: the statements of device enrollment (store/enroll.c,
 * sql/018), as X(NAME, SQL) rows of the one statement table
 * (statements.h).
 *
 * A device's request is two round trips: the pre-tenant lookup of its id
 * (always one row, known or not), then ENROLL_STATE, which reads the
 * device, its current certificate and its open order in one statement
 * and touches last_seen at most once a minute (so a fleet rebooting
 * writes almost nothing).  Lists go by keyset on (tenant_id, device_id)
 * in byte order; a prefix is the range [prefix, prefix || '{').
 * Instants travel as Unix microseconds (SQL_TAGS_US, stmt_tags.h).
 */
#ifndef FLEETPKI_STMT_ENROLL_H
#define FLEETPKI_STMT_ENROLL_H

/* A device row as struct enroll_device reads it (store/enroll.c). */
#define SQL_ENROLL_DEVICE_COLS                                                                    \
	"d.id, d.device_id, CASE WHEN d.enabled THEN d.state ELSE "                               \
	"'disabled' END, d.enabled, " SQL_TAGS_US(                                                \
	    "d.created_at") ", "                                                                  \
	                    "coalesce(" SQL_TAGS_US(                                              \
	                        "d.registered_at") ", 0), "                                       \
	                                           "coalesce(" SQL_TAGS_US(                       \
	                                               "d.last_seen") ", 0), "                    \
	                                                              "coalesce(" SQL_TAGS_US(    \
	                                                                  "d.not_after") ", 0), " \
	                                                                                 "coalesce(d.last_error, '')"

#define FOREACH_STMT_ENROLL(X)                                                                                                                               \
	X(ENROLL_LOOKUP,                                                                                                                                     \
	    "SELECT coalesce(tenant_id, 0), coalesce(id, 0), "                                                                                               \
	    "coalesce(secret_hash, ''), enabled, locked, failures "                                                                                          \
	    "FROM fleetpki_enroll_lookup($1)")                                                                                                               \
	X(ENROLL_FAILED, "SELECT fleetpki_enroll_failed($1, $2, $3)")                                                                                        \
	X(ENROLL_SUCCEEDED, "SELECT fleetpki_enroll_succeeded($1)")                                                                                          \
	X(ENROLL_TAKEN, "SELECT fleetpki_enroll_taken($1)")                                                                                                  \
	X(ENROLL_FAILURES_PRUNE, "SELECT fleetpki_enroll_failures_prune($1)")                                                                                \
	X(ENROLL_INSERT,                                                                                                                                     \
	    "INSERT INTO enroll_devices (tenant_id, device_id, secret_hash) "                                                                                \
	    "VALUES ($1, $2, $3) RETURNING id")                                                                                                              \
	/*                                                                     \
	 * A batch of pre-provisioned devices: the ids added (an id taken      \
	 * anywhere, or twice in the batch, is left out: the caller reports    \
	 * what is missing).                                                   \
	 */                                                                             \
	X(ENROLL_IMPORT,                                                                                                                                     \
	    "INSERT INTO enroll_devices (tenant_id, device_id, secret_hash) "                                                                                \
	    "SELECT $1, u.d, u.h FROM unnest($2::text[], $3::text[]) "                                                                                       \
	    "WITH ORDINALITY AS u(d, h, o) ORDER BY u.o "                                                                                                    \
	    "ON CONFLICT DO NOTHING RETURNING device_id")                                                                                                    \
	X(ENROLL_GET,                                                                                                                                        \
	    "SELECT " SQL_ENROLL_DEVICE_COLS " FROM enroll_devices d "                                                                                       \
	    "WHERE d.tenant_id = $1 AND d.device_id = $2")                                                                                                   \
	/*                                                                     \
	 * A page: $2 the last id of the previous page (''), $3 a prefix      \
	 * (''), $4 a state or 'disabled' (''), $5 notAfter before (0: any),  \
	 * $6 the page size plus one (the extra row says there is more).       \
	 */                                                                             \
	X(ENROLL_LIST,                                                                                                                                       \
	    "SELECT " SQL_ENROLL_DEVICE_COLS " FROM enroll_devices d "                                                                                       \
	    "WHERE d.tenant_id = $1 AND d.device_id > $2 "                                                                                                   \
	    "AND ($3 = '' OR (d.device_id >= $3 AND d.device_id < $3 || '{')) "                                                                              \
	    "AND ($4 = '' OR ($4 = 'disabled' AND NOT d.enabled) OR "                                                                                        \
	    "(d.enabled AND d.state = $4)) "                                                                                                                 \
	    "AND ($5::bigint = 0 OR d.not_after < " SQL_TAGS_TS(                                                                                             \
	        "$5") ") "                                                                                                                                   \
	              "ORDER BY d.device_id LIMIT $6")                                                                                                       \
	X(ENROLL_SET_ENABLED,                                                                                                                                \
	    "UPDATE enroll_devices SET enabled = $3, updated_at = now() "                                                                                    \
	    "WHERE tenant_id = $1 AND device_id = $2 RETURNING id")                                                                                          \
	X(ENROLL_ROTATE,                                                                                                                                     \
	    "UPDATE enroll_devices SET secret_hash = $3, secret_at = now(), "                                                                                \
	    "updated_at = now() WHERE tenant_id = $1 AND device_id = $2 "                                                                                    \
	    "RETURNING id")                                                                                                                                  \
	X(ENROLL_CERTS,                                                                                                                                      \
	    "SELECT c.id, c.hostname, c.serial, " SQL_TAGS_US("c.not_before") ", " SQL_TAGS_US(                                                              \
	        "c.not_after") ", " SQL_TAGS_US("c.created_at") ", c.superseded_at IS NULL, "                                                                \
	                                                        "c.key_sealed IS NOT NULL FROM enroll_certs c "                                              \
	                                                        "JOIN enroll_devices d ON d.tenant_id = c.tenant_id AND "                                    \
	                                                        "d.id = c.device_ref WHERE c.tenant_id = $1 AND d.device_id = $2 "                           \
	                                                        "ORDER BY c.created_at DESC, c.id DESC LIMIT $3")                                            \
	X(ENROLL_ORDERS,                                                                                                                                     \
	    "SELECT o.id, o.kind, o.state, coalesce(o.error_type, ''), "                                                                                     \
	    "coalesce(o.error_detail, ''), " SQL_TAGS_US("o.created_at") ", " SQL_TAGS_US(                                                                   \
	        "o.updated_at") ", "                                                                                                                         \
	                        "coalesce(" SQL_TAGS_US(                                                                                                     \
	                            "o.finished_at") ", 0), "                                                                                                \
	                                             "coalesce(" SQL_TAGS_US(                                                                                \
	                                                 "o.retry_at") ", 0) FROM acme_orders o "                                                            \
	                                                               "JOIN enroll_devices d ON d.tenant_id = o.tenant_id AND "                             \
	                                                               "d.id = o.device_ref WHERE o.tenant_id = $1 AND d.device_id = $2 "                    \
	                                                               "ORDER BY o.created_at DESC, o.id DESC LIMIT $3")                                     \
	/* Current certificates per week from now, weeks 0 .. $2 - 1. */                                                                                     \
	X(ENROLL_EXPIRY_WEEKS,                                                                                                                               \
	    "SELECT w, count(*) FROM (SELECT floor(extract(epoch FROM "                                                                                      \
	    "d.not_after - now()) / 604800)::int AS w FROM enroll_devices d "                                                                                \
	    "WHERE d.tenant_id = $1 AND d.not_after >= now() AND "                                                                                           \
	    "d.not_after < now() + make_interval(weeks => $2)) x "                                                                                           \
	    "GROUP BY w ORDER BY w")                                                                                                                         \
	X(ENROLL_STATE_COUNTS,                                                                                                                               \
	    "SELECT CASE WHEN enabled THEN state ELSE 'disabled' END, "                                                                                      \
	    "count(*) FROM enroll_devices WHERE tenant_id = $1 GROUP BY 1")                                                                                  \
	/*                                                                     \
	 * A device's request: the device, its current certificate (with the  \
	 * order that made it, whose id binds the sealed key) and its open     \
	 * order, when its last order failed, and the tenant's enroll.domain   \
	 * and whether it has an ACME directory (the settings' defaults are     \
	 * '' and none; core/settings.c checked what was stored); last_seen    \
	 * touched when a minute old.                                          \
	 */                                                                             \
	X(ENROLL_STATE,                                                                                                                                      \
	    "WITH touch AS (UPDATE enroll_devices SET last_seen = now(), "                                                                                   \
	    "registered_at = coalesce(registered_at, now()) "                                                                                                \
	    "WHERE tenant_id = $1 AND id = $2 AND (last_seen IS NULL OR "                                                                                    \
	    "last_seen < now() - interval '1 minute') RETURNING 1) "                                                                                         \
	    "SELECT d.device_id, coalesce(c.id, 0), coalesce(c.order_id, 0), "                                                                               \
	    "coalesce(c.chain_pem, ''), c.key_sealed, "                                                                                                      \
	    "coalesce(c.spki_sha256, ''), "                                                                                                                  \
	    "coalesce(" SQL_TAGS_US(                                                                                                                         \
	        "c.not_before") ", 0), "                                                                                                                     \
	                        "coalesce(" SQL_TAGS_US(                                                                                                     \
	                            "c.not_after") ", 0), "                                                                                                  \
	                                           "coalesce(o.id, 0), coalesce(o.state, ''), "                                                              \
	                                           "coalesce(" SQL_TAGS_US(                                                                                  \
	                                               "o.retry_at") ", 0), "                                                                                \
	                                                             "coalesce(o.csr_pem IS NOT NULL, false), "                                              \
	                                                             "coalesce(" SQL_TAGS_US(                                                                \
	                                                                 "f.finished_at") ", 0), "                                                           \
	                                                                                  "coalesce((SELECT value FROM settings WHERE tenant_id = $1 AND "   \
	                                                                                  "key = 'enroll.domain'), ''), "                                    \
	                                                                                  "coalesce((SELECT value <> '' FROM settings WHERE tenant_id = $1 " \
	                                                                                  "AND key = 'acme.directory_url'), false), "                        \
	                                                                                  "(SELECT count(*) FROM touch) "                                    \
	                                                                                  "FROM enroll_devices d "                                           \
	                                                                                  "LEFT JOIN enroll_certs c ON c.tenant_id = d.tenant_id AND "       \
	                                                                                  "c.device_ref = d.id AND c.superseded_at IS NULL "                 \
	                                                                                  "LEFT JOIN acme_orders o ON o.tenant_id = d.tenant_id AND "        \
	                                                                                  "o.device_ref = d.id AND o.state NOT IN ('valid', 'failed') "      \
	                                                                                  "LEFT JOIN LATERAL (SELECT l.state, l.finished_at FROM "           \
	                                                                                  "acme_orders l WHERE l.tenant_id = d.tenant_id AND "               \
	                                                                                  "l.device_ref = d.id ORDER BY l.created_at DESC LIMIT 1) f ON "    \
	                                                                                  "f.state = 'failed' "                                              \
	                                                                                  "WHERE d.tenant_id = $1 AND d.id = $2")                            \
	/*                                                                     \
	 * A new order ($3 kind, $4 hostname, $5 CSR or NULL) and the          \
	 * device's state with it; nothing when one is open already (the      \
	 * unique index acme_orders_open).                                     \
	 */                                                                             \
	/*                                                                     \
	 * A certificate the operator brings (a device moving from another     \
	 * provisioning server): the current one superseded, this one          \
	 * current, the device issued.  $3 hostname, $4 chain, $5 sealed key   \
	 * or NULL, $6 SPKI hash, $7 serial, $8 $9 validity (Unix seconds).    \
	 */ \
	X(ENROLL_CERT_IMPORT,                                                  \
	    "WITH old AS (UPDATE enroll_certs SET superseded_at = now() "      \
	    "WHERE tenant_id = $1 AND device_ref = $2 AND superseded_at IS "   \
	    "NULL RETURNING id), "                                             \
	    "c AS (INSERT INTO enroll_certs (tenant_id, device_ref, hostname, " \
	    "chain_pem, key_sealed, spki_sha256, serial, not_before, "         \
	    "not_after) SELECT $1, $2, $3, $4, $5, $6, $7, to_timestamp($8), " \
	    "to_timestamp($9) FROM (SELECT count(*) FROM old) o RETURNING id) " \
	    "UPDATE enroll_devices SET state = 'issued', last_error = NULL, "  \
	    "not_after = to_timestamp($9), updated_at = now() "                \
	    "WHERE tenant_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM c) "   \
	    "RETURNING id")                                                    \
	X(ENROLL_ORDER_INSERT,                                                                                                                               \
	    "WITH o AS (INSERT INTO acme_orders (tenant_id, device_ref, kind, "                                                                              \
	    "hostname, csr_pem) VALUES ($1, $2, $3, $4, $5) "                                                                                                \
	    "ON CONFLICT (tenant_id, device_ref) WHERE state NOT IN "                                                                                        \
	    "('valid', 'failed') DO NOTHING RETURNING id), "                                                                                                 \
	    "d AS (UPDATE enroll_devices SET state = CASE WHEN $3 = 'renew' "                                                                                \
	    "THEN 'renewing' ELSE 'issuing' END, last_error = NULL, "                                                                                        \
	    "updated_at = now() WHERE tenant_id = $1 AND id = $2 "                                                                                           \
	    "AND EXISTS (SELECT 1 FROM o) RETURNING 1) "                                                                                                     \
	    "SELECT id FROM o")

#endif
