/*
 * stmt_webhook: the statements of webhooks and their deliveries
 * (store/webhook.c, sql/021), as X(NAME, SQL) rows of the one
 * statement table (statements.h).  The API's and the CLI's name their
 * tenant; the worker's go through the SECURITY DEFINER functions of
 * sql/021, which cross tenants.
 */
#ifndef FLEETPKI_STMT_WEBHOOK_H
#define FLEETPKI_STMT_WEBHOOK_H

#define SQL_WEBHOOK_EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"
/* A webhook row as struct webhook_rec reads it, of alias 'w'. */
#define SQL_WEBHOOK_COLS                                                       \
	"w.id, w.uid, w.url, array_to_string(w.types, ','), w.enabled, "       \
	"w.disabled_reason, " SQL_WEBHOOK_EPOCH("w.created_at") ", "           \
	"(SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = "     \
	"w.id AND d.state = 'pending'), "                                      \
	"(SELECT count(*) FROM webhook_deliveries d WHERE d.tenant_id = "      \
	"w.tenant_id AND d.webhook_id = w.id AND d.state = 'dead')"

#define FOREACH_STMT_WEBHOOK(X)                                                \
	X(WEBHOOK_BY_URL,                                                      \
	    "SELECT " SQL_WEBHOOK_COLS " FROM webhooks w "                     \
	    "WHERE w.tenant_id = $1 AND w.url = $2")                           \
	X(WEBHOOK_COUNT, "SELECT count(*) FROM webhooks WHERE tenant_id = $1") \
	X(WEBHOOK_INSERT,                                                      \
	    "INSERT INTO webhooks (tenant_id, uid, url, types, token_sealed, " \
	    "secret_sealed) VALUES ($1, $2, $3, ARRAY[$4::text], $5, $6) "     \
	    "RETURNING id")                                                    \
	X(WEBHOOK_ADD_TYPE,                                                    \
	    "UPDATE webhooks SET types = array_append(types, $3::text), "      \
	    "token_sealed = $4, enabled = true, disabled_reason = NULL, "      \
	    "disabled_at = NULL, blocked_until = '-infinity', "                \
	    "updated_at = now() WHERE tenant_id = $1 AND id = $2 "             \
	    "AND NOT ($3::text = ANY (types)) RETURNING id")                   \
	X(WEBHOOK_SET_TOKEN,                                                   \
	    "UPDATE webhooks SET token_sealed = $3, enabled = true, "          \
	    "disabled_reason = NULL, disabled_at = NULL, "                     \
	    "blocked_until = '-infinity', updated_at = now() "                 \
	    "WHERE tenant_id = $1 AND id = $2 RETURNING id")                   \
	X(WEBHOOK_WAKE, "SELECT pg_notify('fleetpki_webhooks', '')")           \
	X(WEBHOOK_DELETE,                                                      \
	    "DELETE FROM webhooks WHERE tenant_id = $1 AND url = $2 "          \
	    "RETURNING id")                                                    \
	X(WEBHOOK_LIST,                                                        \
	    "SELECT " SQL_WEBHOOK_COLS " FROM webhooks w "                     \
	    "WHERE w.tenant_id = $1 ORDER BY w.url")                           \
	X(WEBHOOK_DELIVERIES,                                                  \
	    "SELECT d.id, d.event_id, d.type, w.url, d.state, d.attempts, "    \
	    "coalesce(d.last_status, 0), d.last_error, "                       \
	    SQL_WEBHOOK_EPOCH("d.created_at") ", "                             \
	    "coalesce(" SQL_WEBHOOK_EPOCH("d.last_attempt_at") ", 0) "         \
	    "FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = "      \
	    "d.tenant_id AND w.id = d.webhook_id WHERE d.tenant_id = $1 "      \
	    "AND ($2::text IS NULL OR d.state = $2) AND d.id > $3 "            \
	    "ORDER BY d.id LIMIT $4")                                          \
	X(WEBHOOK_REPLAY,                                                      \
	    "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, "  \
	    "next_at = NULL, last_error = NULL WHERE tenant_id = $1 "          \
	    "AND id = ANY ($2::bigint[]) AND state = 'dead' RETURNING id")     \
	X(WEBHOOK_CLAIM,                                                       \
	    "SELECT id, tenant_id, uid, url, token_sealed, secret_sealed "     \
	    "FROM fleetpki_webhook_claim($1, $2::int)")                        \
	X(WEBHOOK_NEXT,                                                        \
	    "SELECT id, event_id, body, attempts, created_ms "                 \
	    "FROM fleetpki_webhook_next_at($1, $2, $3::int)")                  \
	X(WEBHOOK_RESULT,                                                      \
	    "SELECT coalesce(fleetpki_webhook_result($1, $2, $3::int, $4, "    \
	    "$5::int, $6, $7::int, $8::int), '')")                             \
	X(WEBHOOK_RELEASE, "SELECT fleetpki_webhook_release($1, $2)")          \
	X(WEBHOOK_NEXT_DUE,                                                    \
	    "SELECT coalesce(ceil(fleetpki_webhook_next_due() * 1000)"         \
	    "::bigint, -1)")

#endif
