/*
 * stmt_acme: the statements of the ACME client (store/acme.c; sql/018,
 * sql/019), as X(NAME, SQL) rows of the one statement table
 * (statements.h).  Every statement names its tenant; what crosses
 * tenants goes through the owner's functions of sql/019.
 */
#ifndef FLEETPKI_STMT_ACME_H
#define FLEETPKI_STMT_ACME_H

/* What struct acme_order_rec reads, in its order. */
#define SQL_ACME_ORDER_COLS                                                    \
	"o.id, o.tenant_id, o.device_ref, d.device_id, d.enabled, o.kind, "    \
	"o.state, o.hostname, o.csr_pem, o.key_sealed, "                       \
	"coalesce(o.account_id, 0), o.order_url, o.finalize_url, "             \
	"array_to_string(o.authz_urls, ' '), o.challenge_url, o.dns_name, "    \
	"o.dns_value, o.cert_url, o.error_type, o.error_detail"

#define SQL_ACME_IN_FLIGHT "('ordering', 'validating', 'finalizing', 'downloading')"

#define FOREACH_STMT_ACME(X)                                                   \
	X(ACME_ORDER_GET, "SELECT " SQL_ACME_ORDER_COLS " FROM acme_orders o " \
	    "JOIN enroll_devices d ON d.tenant_id = o.tenant_id AND d.id = "   \
	    "o.device_ref WHERE o.tenant_id = $1 AND o.id = $2")               \
	/* An open order's progress: its state and what the CA told us. */   \
	X(ACME_ORDER_SAVE, "UPDATE acme_orders SET state = $3, account_id = "  \
	    "$4, order_url = $5, finalize_url = $6, authz_urls = "             \
	    "string_to_array($7, ' '), challenge_url = $8, dns_name = $9, "    \
	    "dns_value = $10, cert_url = $11, error_type = $12, error_detail " \
	    "= $13, retry_at = CASE WHEN $14::bigint > 0 THEN now() + "        \
	    "make_interval(secs => $14) END, updated_at = now() WHERE "        \
	    "tenant_id = $1 AND id = $2 AND state NOT IN ('valid', 'failed') " \
	    "RETURNING id")                                                    \
	/* The server-made key, once: a resumed order keeps its first key. */ \
	X(ACME_ORDER_SET_KEY, "UPDATE acme_orders SET key_sealed = $3, "       \
	    "updated_at = now() WHERE tenant_id = $1 AND id = $2 AND "         \
	    "key_sealed IS NULL RETURNING id")                                 \
	/* \
	 * The weekly budget of tenant $1: finalized in the last seven days, \
	 * in flight, and the age in seconds of the oldest of the window. \
	 */                                                                    \
	X(ACME_BUDGET, "SELECT count(*) FILTER (WHERE state = 'valid'), "      \
	    "count(*) FILTER (WHERE state IN " SQL_ACME_IN_FLIGHT "), "        \
	    "coalesce(floor(extract(epoch FROM now() - min(finished_at) "      \
	    "FILTER (WHERE state = 'valid')))::bigint, 0) FROM acme_orders "   \
	    "WHERE tenant_id = $1 AND ((state = 'valid' AND finished_at > "    \
	    "now() - interval '7 days') OR state IN " SQL_ACME_IN_FLIGHT ")")  \
	/* \
	 * A final failure: the order with the CA's problem ($3 type, $4 \
	 * detail), its device with $5. \
	 */                                                                    \
	X(ACME_ORDER_FAIL, "WITH o AS (UPDATE acme_orders SET state = "        \
	    "'failed', error_type = $3, error_detail = $4, finished_at = "     \
	    "now(), updated_at = now() WHERE tenant_id = $1 AND id = $2 AND "  \
	    "state NOT IN ('valid', 'failed') RETURNING tenant_id, "           \
	    "device_ref) UPDATE enroll_devices d SET state = 'failed', "       \
	    "last_error = $5, updated_at = now() FROM o WHERE d.tenant_id = "  \
	    "o.tenant_id AND d.id = o.device_ref")                             \
	/* The certificate of order $2 arrives: the device's current one... */ \
	X(ACME_CERT_SUPERSEDE, "UPDATE enroll_certs c SET superseded_at = "    \
	    "now() FROM acme_orders o WHERE o.tenant_id = $1 AND o.id = $2 "   \
	    "AND o.state NOT IN ('valid', 'failed') AND c.tenant_id = $1 AND " \
	    "c.device_ref = o.device_ref AND c.superseded_at IS NULL")         \
	/* \
	 * ...steps down, the new one goes in (leaf then chain $3, key from \
	 * the order, SPKI hash $4, serial $5, validity $6..$7 in Unix \
	 * seconds, ARI id $8 and window start $9 or NULL), the order is \
	 * valid and the device issued. \
	 */                                                                    \
	X(ACME_CERT_INSERT, "WITH o AS (UPDATE acme_orders SET state = "       \
	    "'valid', finished_at = now(), updated_at = now(), error_type = "  \
	    "NULL, error_detail = NULL, retry_at = NULL WHERE tenant_id = $1 " \
	    "AND id = $2 AND state NOT IN ('valid', 'failed') RETURNING "      \
	    "tenant_id, device_ref, id, hostname, key_sealed), i AS (INSERT "  \
	    "INTO enroll_certs (tenant_id, device_ref, order_id, hostname, "   \
	    "chain_pem, key_sealed, spki_sha256, serial, not_before, "         \
	    "not_after, ari_id, renew_after) SELECT tenant_id, device_ref, "   \
	    "id, hostname, $3, key_sealed, $4, $5, to_timestamp($6), "         \
	    "to_timestamp($7), $8, to_timestamp($9::bigint) FROM o RETURNING " \
	    "id), d AS (UPDATE enroll_devices d SET state = 'issued', "        \
	    "not_after = to_timestamp($7), last_error = NULL, updated_at = "   \
	    "now() FROM o WHERE d.tenant_id = o.tenant_id AND d.id = "         \
	    "o.device_ref) SELECT id FROM i")                                  \
	/* accounts: one per tenant and directory */                          \
	X(ACME_ACCOUNT_GET, "SELECT id, account_url, key_sealed, status FROM " \
	    "acme_accounts WHERE tenant_id = $1 AND directory_url = $2")       \
	X(ACME_ACCOUNT_INSERT, "INSERT INTO acme_accounts (tenant_id, "        \
	    "directory_url, key_sealed, contact) VALUES ($1, $2, '', $3) ON "  \
	    "CONFLICT (tenant_id, directory_url) DO NOTHING RETURNING id")     \
	X(ACME_ACCOUNT_SET_KEY, "UPDATE acme_accounts SET key_sealed = $3, "   \
	    "updated_at = now() WHERE tenant_id = $1 AND id = $2")             \
	X(ACME_ACCOUNT_SAVE, "UPDATE acme_accounts SET account_url = $3, "     \
	    "status = $4, last_error = $5, updated_at = now() WHERE "          \
	    "tenant_id = $1 AND id = $2")                                      \
	/* `fleetpki acme status`, the portal: tenant $1, directory $2. */    \
	X(ACME_STATUS, "SELECT coalesce((SELECT account_url FROM "             \
	    "acme_accounts WHERE tenant_id = $1 AND directory_url = $2), ''), " \
	    "coalesce((SELECT status FROM acme_accounts WHERE tenant_id = $1 " \
	    "AND directory_url = $2), ''), (SELECT count(*) FROM acme_orders " \
	    "WHERE tenant_id = $1 AND state = 'valid' AND finished_at > now() " \
	    "- interval '7 days'), (SELECT count(*) FROM acme_orders WHERE "   \
	    "tenant_id = $1 AND state IN " SQL_ACME_IN_FLIGHT "), (SELECT "    \
	    "count(*) FROM acme_orders WHERE tenant_id = $1 AND state = "      \
	    "'queued'), coalesce((SELECT " SQL_EPOCH("min(created_at)")        \
	    " FROM acme_orders WHERE tenant_id = $1 AND state = 'queued'), 0)") \
	/* The queued orders of tenant $1, oldest first, at most $2. */      \
	X(ACME_QUEUED, "SELECT o.id, d.device_id, o.kind, o.state, "           \
	    "coalesce(o.error_type, ''), " SQL_EPOCH("o.created_at") ", "      \
	    "coalesce(" SQL_EPOCH("o.retry_at") ", 0) FROM acme_orders o "     \
	    "JOIN enroll_devices d ON d.tenant_id = o.tenant_id AND d.id = "   \
	    "o.device_ref WHERE o.tenant_id = $1 AND o.state NOT IN "          \
	    "('valid', 'failed') ORDER BY o.created_at, o.id LIMIT $2")        \
	/* Across tenants (sql/019's owner functions). */                     \
	X(ACME_RENEW_DUE, "SELECT fleetpki_acme_renew_due($1, $2)")            \
	X(ACME_ORPHANS, "SELECT fleetpki_acme_orphans()")                      \
	X(ACME_DIRECTORIES, "SELECT directory_url, ca_file FROM "              \
	    "fleetpki_acme_directories()")                                     \
	X(ACME_PROBE_RECORD, "SELECT fleetpki_acme_probe_record($1, $2, $3)")  \
	X(WORKER_SEEN, "SELECT fleetpki_worker_seen($1, $2, $3)")              \
	X(HEALTH_WORKER_ACME, "SELECT coalesce(worker_age, -1), acme_total, "  \
	    "acme_ok, coalesce(acme_age, -1) FROM fleetpki_health()")          \
	/* \
	 * Job $1 (held by $2) waits: pending again in $3 seconds, with $4 \
	 * as why, and the attempt it was not counted. \
	 */                                                                    \
	X(JOB_PARK, "UPDATE jobs SET state = 'pending', run_at = now() + "     \
	    "make_interval(secs => $3), attempts = greatest(attempts - 1, 0), " \
	    "lease_until = NULL, last_error = $4, updated_at = now() WHERE id " \
	    "= $1 AND state = 'running' AND locked_by = $2")                 \
	/* Job $1 (held by $2) failed for good with $3: no attempt left. */ \
	X(JOB_FAIL_FINAL, "UPDATE jobs SET state = 'failed', lease_until = "   \
	    "NULL, finished_at = now(), last_error = $3, updated_at = now() "  \
	    "WHERE id = $1 AND state = 'running' AND locked_by = $2")

#endif
