/*
 * statements: every SQL statement fleetpki runs, by name, prepared once
 * per connection.  Parameters are always bound, never formatted in.
 * Timestamps travel as Unix seconds (or milliseconds where the API
 * shows them) so no side parses another's date format.
 */
#ifndef FLEETPKI_STATEMENTS_H
#define FLEETPKI_STATEMENTS_H

#define SQL_EPOCH(col)	"floor(extract(epoch FROM " col "))::bigint"
#define SQL_EPOCH_MS(col) "floor(extract(epoch FROM " col ") * 1000)::bigint"

#define SQL_CA_COLS \
	"ca.id, ca.tenant_id, ca.name, ca.public_id, ca.is_default, " \
	"ca.key_alg, ca.cert_der, ca.key_sealed, ca.fingerprint, ca.subject, " \
	"ca.key_id, " \
	SQL_EPOCH("ca.not_before") ", " SQL_EPOCH("ca.not_after") ", " \
	"ca.crl_number"

#define SQL_CERT_COLS \
	"c.id, c.tenant_id, c.ca_id, c.serial, c.fingerprint, ca.fingerprint, " \
	"t.name, c.subject, c.pem, " SQL_EPOCH("c.not_before") ", " \
	SQL_EPOCH("c.not_after") ", " SQL_EPOCH_MS("c.created_at") ", " \
	SQL_EPOCH_MS("c.modified_at") ", c.issued_by_pki, c.auto_registered, " \
	"c.belongs_device, c.belongs_application, " \
	"coalesce(" SQL_EPOCH("r.revoked_at") ", 0), coalesce(r.reason, -1), " \
	"coalesce(c.user_id, 0)"

#define SQL_CERT_FROM \
	" FROM certificates c JOIN cas ca ON ca.id = c.ca_id " \
	"JOIN tenants t ON t.id = c.tenant_id " \
	"LEFT JOIN revocations r ON r.certificate_id = c.id "

/* The identity API's keyVal filters, $2..$13 (NULL matches all). */
#define SQL_CERT_FILTER \
	"WHERE c.tenant_id = $1 AND c.removed_at IS NULL " \
	"AND ($2::text IS NULL OR c.fingerprint = $2) " \
	"AND ($3::text IS NULL OR ca.fingerprint = $3) " \
	"AND ($4::text IS NULL OR c.pem = $4) " \
	"AND ($5::text IS NULL OR c.subject = $5) " \
	"AND ($6::timestamptz IS NULL OR date_trunc('milliseconds', c.not_before) = $6) " \
	"AND ($7::timestamptz IS NULL OR date_trunc('milliseconds', c.not_after) = $7) " \
	"AND ($8::timestamptz IS NULL OR date_trunc('milliseconds', c.created_at) = $8) " \
	"AND ($9::timestamptz IS NULL OR date_trunc('milliseconds', c.modified_at) = $9) " \
	"AND ($10::boolean IS NULL OR c.issued_by_pki = $10) " \
	"AND ($11::boolean IS NULL OR c.auto_registered = $11) " \
	"AND ($12::text IS NULL OR c.belongs_device = $12) " \
	"AND ($13::text IS NULL OR c.belongs_application = $13) "

#define SQL_USER_COLS \
	"u.id, u.tenant_id, t.name, u.name, u.is_admin, u.disabled " \
	"FROM users u JOIN tenants t ON t.id = u.tenant_id"

/*
 * Grouped by the src/store file that runs them; the name is the
 * prepared statement's name on the server too.
 */
/*
 * The registry's statements live beside their entities, one list per
 * area (issue 8), and join the one table here.
 */
#include "fleetpki/stmt_admin.h"
#include "fleetpki/stmt_registry.h"
#include "fleetpki/stmt_tags.h"
#include "fleetpki/stmt_device.h"
#include "fleetpki/stmt_acme.h"
#include "fleetpki/stmt_enroll.h"
#include "fleetpki/stmt_webhook.h"
#include "fleetpki/stmt_e2e.h"
#include "fleetpki/stmt_ztp.h"
#include "fleetpki/stmt_metrics.h"

#define FOREACH_STMT(X) \
	FOREACH_STMT_ADMIN(X) \
	FOREACH_STMT_REGISTRY(X) \
	FOREACH_STMT_TAGS(X) \
	FOREACH_STMT_DEVICE(X) \
	FOREACH_STMT_ACME(X) \
	FOREACH_STMT_ENROLL(X) \
	FOREACH_STMT_WEBHOOK(X) \
	FOREACH_STMT_E2E(X) \
	FOREACH_STMT_ZTP(X) \
	FOREACH_STMT_METRICS(X) \
	/* store.c */ \
	X(PING, "SELECT 1") \
	/* db.c: the request's tenant, for its transaction only (sql/005) */ \
	X(SET_TENANT, "SELECT set_config('fleetpki.tenant', $1, true)") \
	X(ROW_SECURITY, "SELECT EXISTS (SELECT 1 FROM pg_policy p JOIN " \
	    "pg_class c ON c.oid = p.polrelid WHERE p.polname = " \
	    "'fleetpki_tenant' AND c.relrowsecurity)") \
	/* db.c: a connection whose commits may be lost (db_async_commit) */ \
	X(ASYNC_COMMIT, "SELECT set_config('synchronous_commit', 'off', false)") \
	/* tenant.c */ \
	/* Before the tenant is known: through the owner's function. */ \
	X(TENANT_BY_NAME, "SELECT id, name FROM fleetpki_tenant_by_name($1)") \
	X(TENANT_BY_ID, "SELECT id, name FROM tenants WHERE id = $1") \
	X(TENANT_CREATE, \
	    "INSERT INTO tenants (name) VALUES ($1) RETURNING id, name") \
	X(TENANT_ALL, "SELECT id, name FROM tenants ORDER BY name") \
	/* ca.c (CA_BUMP_CRL: revocation.c) */ \
	X(CA_INSERT, \
	    "INSERT INTO cas (tenant_id, name, public_id, is_default, key_alg, " \
	    "cert_der, key_sealed, fingerprint, subject, not_before, not_after, " \
	    "key_id) VALUES ($1, $2, $3, NOT EXISTS (SELECT 1 FROM cas WHERE " \
	    "tenant_id = $1), $4, $5, $6, $7, $8, to_timestamp($9), " \
	    "to_timestamp($10), $11) RETURNING id, is_default") \
	X(CA_DEFAULT, "SELECT " SQL_CA_COLS " FROM cas ca " \
	    "WHERE ca.tenant_id = $1 AND ca.is_default") \
	X(CA_BY_ID, "SELECT " SQL_CA_COLS " FROM cas ca " \
	    "WHERE ca.tenant_id = $1 AND ca.id = $2") \
	X(CA_BY_PUBLIC_ID, "SELECT " SQL_CA_COLS " FROM cas ca " \
	    "WHERE ca.tenant_id = $1 AND ca.public_id = $2") \
	X(CA_BY_KEY_ID, "SELECT " SQL_CA_COLS " FROM cas ca " \
	    "WHERE ca.tenant_id = $1 AND ca.key_id = $2") \
	/* Whose CA it is, before the tenant is known (sql/005). */ \
	X(CA_TENANT_BY_PUBLIC_ID, "SELECT tenant_id FROM " \
	    "fleetpki_ca_tenant_by_public_id($1)") \
	X(CA_TENANT_BY_KEY_ID, "SELECT tenant_id FROM " \
	    "fleetpki_ca_tenant_by_key_id($1)") \
	/* The CA a SHA-2 issuerKeyHash names (sql/009): tenant and id. */ \
	X(CA_BY_KEY_HASH, "SELECT tenant_id, ca_id FROM " \
	    "fleetpki_ca_by_key_hash($1, $2)") \
	X(CA_KEY_HASH_INSERT, "INSERT INTO ca_key_hashes (tenant_id, ca_id, " \
	    "alg, hash) VALUES ($1, $2, $3, $4) ON CONFLICT (ca_id, alg) DO " \
	    "NOTHING") \
	/* CAs made before sql/009: their hashes are still to be written. */ \
	X(CA_KEY_HASH_MISSING, "SELECT " SQL_CA_COLS " FROM cas ca WHERE NOT " \
	    "EXISTS (SELECT 1 FROM ca_key_hashes h WHERE h.ca_id = ca.id) " \
	    "ORDER BY ca.id") \
	X(CA_LIST_ALL, "SELECT " SQL_CA_COLS " FROM cas ca ORDER BY ca.id") \
	/* ca.c: delegated OCSP responders (sql/025) */ \
	X(OCSP_RESPONDER_INSERT, "INSERT INTO ocsp_responders (tenant_id, " \
	    "ca_id, serial, cert_der, key_sealed, not_before, not_after) " \
	    "VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7))") \
	/* The newest one in force (not_before already passed). */ \
	X(OCSP_RESPONDER_CURRENT, "SELECT serial, cert_der, key_sealed, " \
	    SQL_EPOCH("not_before") ", " SQL_EPOCH("not_after") \
	    " FROM ocsp_responders WHERE tenant_id = $1 AND ca_id = $2 " \
	    "AND not_before <= now() AND not_after > now() " \
	    "ORDER BY not_after DESC LIMIT 1") \
	X(OCSP_RESPONDER_EXPIRED_DELETE, "DELETE FROM ocsp_responders " \
	    "WHERE tenant_id = $1 AND ca_id = $2 AND not_after <= now()") \
	X(OCSP_RESPONDER_DELETE_ALL, "DELETE FROM ocsp_responders " \
	    "WHERE tenant_id = $1 AND ca_id = $2") \
	X(OCSP_RESPONDERS_DUE, "SELECT tenant_id, ca_id FROM " \
	    "fleetpki_ocsp_responders_due()") \
	X(CA_LIST_TENANT, "SELECT " SQL_CA_COLS " FROM cas ca " \
	    "WHERE ca.tenant_id = $1 ORDER BY ca.id") \
	X(CA_BUMP_CRL, "UPDATE cas SET crl_number = crl_number + 1 " \
	    "WHERE tenant_id = $1 AND id = $2 RETURNING crl_number") \
	/* cert.c */ \
	/* \
	 * With an Idempotency-Key ($12, hash $13) its row goes in with the \
	 * certificate, in one statement: both commit or neither. \
	 */ \
	X(CERT_INSERT, \
	    "WITH c AS (INSERT INTO certificates (tenant_id, ca_id, serial, " \
	    "fingerprint, subject, pem, not_before, not_after, issued_by_pki, " \
	    "user_id, key_sealed) VALUES ($1, $2, $3, $4, $5, $6, " \
	    "to_timestamp($7), to_timestamp($8), $9, $10, $11) " \
	    "RETURNING id, tenant_id, created_at, modified_at), " \
	    "k AS (INSERT INTO idempotency_keys (tenant_id, key, request_hash, " \
	    "certificate_id) SELECT tenant_id, $12, $13, id FROM c " \
	    "WHERE $12::text IS NOT NULL) " \
	    "SELECT id, " SQL_EPOCH_MS("created_at") ", " \
	    SQL_EPOCH_MS("modified_at") " FROM c") \
	/* \
	 * A key's request hash, whether it is younger than $3 seconds, and \
	 * its certificate (with its sealed key). \
	 */ \
	X(IDEM_GET, "SELECT k.request_hash, k.created_at > now() - " \
	    "make_interval(secs => $3), " SQL_CERT_COLS ", c.key_sealed" \
	    SQL_CERT_FROM "JOIN idempotency_keys k ON k.certificate_id = c.id " \
	    "WHERE k.tenant_id = $1 AND k.key = $2 AND c.tenant_id = $1") \
	/* An expired key of this tenant, so the key can be used afresh. */ \
	X(IDEM_EXPIRE, "DELETE FROM idempotency_keys WHERE tenant_id = $1 " \
	    "AND key = $2 AND created_at <= now() - make_interval(secs => $3)") \
	/* Every tenant's keys: through the owner's function (sql/007). */ \
	X(IDEM_PRUNE, "SELECT fleetpki_idempotency_prune($1)") \
	X(CERT_GET, "SELECT " SQL_CERT_COLS SQL_CERT_FROM \
	    "WHERE c.tenant_id = $1 AND c.fingerprint = $2 " \
	    "AND c.removed_at IS NULL") \
	X(CERT_PAGE, "SELECT " SQL_CERT_COLS SQL_CERT_FROM SQL_CERT_FILTER \
	    "ORDER BY c.created_at, c.id OFFSET $14 LIMIT $15") \
	X(CERT_COUNT, "SELECT count(*)" SQL_CERT_FROM SQL_CERT_FILTER) \
	X(CERT_REMOVE, \
	    "WITH c AS (UPDATE certificates SET removed_at = now(), " \
	    "modified_at = now() WHERE tenant_id = $1 AND fingerprint = $2 " \
	    "AND removed_at IS NULL RETURNING id, tenant_id, ca_id, serial), " \
	    "r AS (INSERT INTO revocations (certificate_id, tenant_id, ca_id, " \
	    "serial, reason) SELECT id, tenant_id, ca_id, serial, $3 FROM c " \
	    "ON CONFLICT (certificate_id) DO NOTHING) " \
	    "SELECT id, ca_id, serial FROM c") \
	X(CERT_BY_SERIAL, "SELECT " SQL_CERT_COLS ", c.key_sealed" SQL_CERT_FROM \
	    "WHERE c.tenant_id = $1 AND c.serial = $2") \
	/* \
	 * Revocation through any dialect also sets removed_at: the identity \
	 * API shows a revoked certificate as removed (404), as after DELETE. \
	 */ \
	X(CERT_REVOKE, \
	    "WITH c AS (SELECT id, tenant_id, ca_id, serial, user_id FROM " \
	    "certificates WHERE tenant_id = $1 AND serial = $2), " \
	    "r AS (INSERT INTO revocations (certificate_id, tenant_id, ca_id, " \
	    "serial, reason) SELECT id, tenant_id, ca_id, serial, $3 FROM c " \
	    "WHERE $4::bigint IS NULL OR c.user_id = $4 " \
	    "ON CONFLICT (certificate_id) DO NOTHING RETURNING certificate_id), " \
	    "u AS (UPDATE certificates SET removed_at = now(), " \
	    "modified_at = now() WHERE id IN (SELECT certificate_id FROM r) " \
	    "AND removed_at IS NULL) " \
	    "SELECT c.id, c.ca_id, coalesce(c.user_id, 0), " \
	    "(SELECT count(*) FROM r) FROM c") \
	/* \
	 * Mass revocation (`fleetpki revoke`): the serials $3 (a text[] \
	 * literal) of CA $2, set-based.  Answers how many were revoked now, \
	 * how many were revoked before, and the serials of no certificate \
	 * of that CA (comma-separated). \
	 */ \
	X(REVOKE_SERIALS, \
	    "WITH s AS (SELECT DISTINCT unnest($3::text[]) AS serial), " \
	    "c AS (SELECT c.id, c.tenant_id, c.ca_id, c.serial FROM " \
	    "certificates c JOIN s ON s.serial = c.serial WHERE c.tenant_id = " \
	    "$1 AND c.ca_id = $2), " \
	    "r AS (INSERT INTO revocations (certificate_id, tenant_id, ca_id, " \
	    "serial, reason) SELECT id, tenant_id, ca_id, serial, $4 FROM c " \
	    "ON CONFLICT (certificate_id) DO NOTHING RETURNING certificate_id), " \
	    "u AS (UPDATE certificates SET removed_at = now(), " \
	    "modified_at = now() WHERE id IN (SELECT certificate_id FROM r) " \
	    "AND removed_at IS NULL) " \
	    "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c) - " \
	    "(SELECT count(*) FROM r), coalesce((SELECT string_agg(s.serial, " \
	    "',' ORDER BY s.serial) FROM s WHERE NOT EXISTS (SELECT 1 FROM c " \
	    "WHERE c.serial = s.serial)), '')") \
	/* The same for every certificate of CA $2 issued in [$3, $4). */ \
	X(REVOKE_ISSUED_BETWEEN, \
	    "WITH c AS (SELECT id, tenant_id, ca_id, serial FROM certificates " \
	    "WHERE tenant_id = $1 AND ca_id = $2 AND created_at >= " \
	    "to_timestamp($3) AND created_at < to_timestamp($4)), " \
	    "r AS (INSERT INTO revocations (certificate_id, tenant_id, ca_id, " \
	    "serial, reason) SELECT id, tenant_id, ca_id, serial, $5 FROM c " \
	    "ON CONFLICT (certificate_id) DO NOTHING RETURNING certificate_id), " \
	    "u AS (UPDATE certificates SET removed_at = now(), " \
	    "modified_at = now() WHERE id IN (SELECT certificate_id FROM r) " \
	    "AND removed_at IS NULL) " \
	    "SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM c) - " \
	    "(SELECT count(*) FROM r), ''") \
	/* \
	 * revocation.c: OCSP.  One unique-index probe per serial whatever \
	 * the statistics say: the LIMIT keeps the lateral lookup from \
	 * being flattened, so the generic plan of a table not yet \
	 * analyzed cannot become a bitmap scan of the whole CA filtered \
	 * by serial (11 ms at 12,000 certificates instead of 0.1). \
	 */ \
	X(OCSP_STATUS, "SELECT c.serial, coalesce(" SQL_EPOCH("r.revoked_at") \
	    ", 0), coalesce(r.reason, -1) FROM (SELECT DISTINCT " \
	    "unnest($2::text[])) AS s(serial) CROSS JOIN LATERAL (SELECT " \
	    "c.id, c.serial FROM certificates c WHERE c.ca_id = $1 AND " \
	    "c.serial = s.serial LIMIT 1) c LEFT JOIN revocations r ON " \
	    "r.certificate_id = c.id") \
	/* user.c */ \
	X(USER_CREATE, "INSERT INTO users (tenant_id, name, token_hash, " \
	    "is_admin) VALUES ($1, $2, $3, $4) RETURNING id") \
	/* Before the tenant is known: through the owner's function. */ \
	X(USER_BY_TOKEN, "SELECT id, tenant_id, tenant, name, is_admin, " \
	    "disabled FROM fleetpki_user_by_token($1)") \
	X(USER_FIND, "SELECT " SQL_USER_COLS " WHERE u.name = $1 AND " \
	    "($2::bigint IS NULL OR u.tenant_id = $2) ORDER BY t.name") \
	X(USER_ALL, "SELECT " SQL_USER_COLS " WHERE $1::bigint IS NULL OR " \
	    "u.tenant_id = $1 ORDER BY t.name, u.name") \
	X(USER_SET_DISABLED, "UPDATE users SET disabled = $2 WHERE id = $1") \
	/* setting.c */ \
	X(SETTING_GET, "SELECT value FROM settings WHERE tenant_id = $1 AND " \
	    "key = $2") \
	X(SETTING_SET, "INSERT INTO settings (tenant_id, key, value) VALUES " \
	    "($1, $2, $3) ON CONFLICT (tenant_id, key) DO UPDATE SET " \
	    "value = EXCLUDED.value, updated_at = now()") \
	X(SETTING_ALL, "SELECT key, value FROM settings WHERE tenant_id = $1 " \
	    "ORDER BY key") \
	/* challenge.c */ \
	X(CHALLENGE_INSERT, "INSERT INTO challenges (tenant_id, user_id, " \
	    "public_id, token, request_kind, request, expires_at) VALUES ($1, " \
	    "$2, $3, $4, $5, $6, to_timestamp($7)) RETURNING id") \
	X(CHALLENGE_GET, "SELECT id, tenant_id, user_id, public_id, token, " \
	    "request_kind, request, " SQL_EPOCH("expires_at") ", " \
	    "claimed_at IS NOT NULL, coalesce(serial, '') FROM challenges " \
	    "WHERE tenant_id = $1 AND public_id = $2") \
	X(CHALLENGE_CLAIM, "UPDATE challenges SET claimed_at = now() " \
	    "WHERE id = $1 AND claimed_at IS NULL RETURNING id") \
	X(CHALLENGE_FINISH, "UPDATE challenges SET serial = $2, " \
	    "claimed_at = CASE WHEN $2::text IS NULL THEN NULL ELSE " \
	    "claimed_at END WHERE id = $1") \
	/* revocation.c: CRLs */ \
	/* \
	 * Every revocation of CA $1 (sql/014 counts them), with its \
	 * certificate's notAfter: the CRL leaves out the long expired. \
	 */ \
	X(REVOKED_FOR_CA, "SELECT r.serial, " SQL_EPOCH("r.revoked_at") ", " \
	    "r.reason, " SQL_EPOCH("c.not_after") " FROM revocations r JOIN " \
	    "certificates c ON c.id = r.certificate_id WHERE r.ca_id = $1 " \
	    "ORDER BY r.revoked_at, r.serial") \
	/* Keep the newest $1 CRLs of each CA (sql/015). */ \
	X(CRL_PRUNE, "SELECT fleetpki_crl_prune($1)") \
	/* The newest complete CRL ($2 false) or delta CRL ($2 true). */ \
	X(CRL_LATEST, "SELECT ca_id, crl_number, " SQL_EPOCH("this_update") \
	    ", " SQL_EPOCH("next_update") ", der, coalesce(base_number, -1) " \
	    "FROM crls WHERE ca_id = $1 AND (base_number IS NULL) = NOT $2 " \
	    "ORDER BY crl_number DESC LIMIT 1") \
	/* The newest base: its number and when its transaction began. */ \
	X(CRL_BASE_LATEST, "SELECT crl_number, " SQL_EPOCH("created_at") \
	    " FROM crls WHERE ca_id = $1 AND base_number IS NULL AND is_base " \
	    "ORDER BY crl_number DESC LIMIT 1") \
	/* A delta's entries: revocations begun since $2 (sql/027). */ \
	X(REVOKED_FOR_CA_SINCE, "SELECT r.serial, " SQL_EPOCH("r.revoked_at") \
	    ", r.reason, " SQL_EPOCH("c.not_after") " FROM revocations r JOIN " \
	    "certificates c ON c.id = r.certificate_id WHERE r.ca_id = $1 " \
	    "AND r.revoked_at > to_timestamp($2) ORDER BY r.revoked_at, " \
	    "r.serial") \
	X(REVOKED_COUNT, "SELECT count(*) FROM revocations WHERE ca_id = $1") \
	/* $8: a delta's BaseCRLNumber or NULL; $9: a base. */ \
	X(CRL_INSERT, "INSERT INTO crls (ca_id, tenant_id, crl_number, " \
	    "this_update, next_update, der, revocations, base_number, " \
	    "is_base) VALUES ($1, $2, $3, to_timestamp($4), to_timestamp($5), " \
	    "$6, $7, nullif($8, -1), $9)") \
	/* Every tenant's CAs: through the owner's function (sql/027). */ \
	X(CRL_DUE, "SELECT tenant_id, ca_id, complete, delta FROM " \
	    "fleetpki_crl_due($1, $2, $3, $4)") \
	/* jwt_key.c */ \
	X(JWT_KEY_GET, "SELECT kid, public_pem, private_sealed, active " \
	    "FROM jwt_keys WHERE kid = $1") \
	X(JWT_KEY_ACTIVE, "SELECT kid, public_pem, private_sealed, active " \
	    "FROM jwt_keys WHERE active ORDER BY created_at DESC LIMIT 1") \
	X(JWT_KEY_INSERT, "INSERT INTO jwt_keys (kid, alg, public_pem, " \
	    "private_sealed) VALUES ($1, 'ES256', $2, $3)") \
	/* servercert.c */ \
	X(SERVERCERT_GET, "SELECT pem, " SQL_EPOCH("updated_at") \
	    " FROM server_certs WHERE server = $1 AND slot = $2") \
	X(SERVERCERT_SET, "INSERT INTO server_certs (server, slot, pem) " \
	    "VALUES ($1, $2, $3) ON CONFLICT (server, slot) DO UPDATE SET " \
	    "pem = EXCLUDED.pem, updated_at = now()") \
	/* ---- job queue (job.c; sql/004_jobs.sql; src/worker) ---- */ \
	/* \
	 * Enqueue ($1 kind, $2 key, $3 tenant or NULL, $4 args, run in $5 \
	 * seconds, $6 attempts): no row when one is queued already. \
	 */ \
	X(JOB_ENQUEUE, "INSERT INTO jobs (kind, key, tenant_id, args, run_at, " \
	    "max_attempts) VALUES ($1, $2, $3, $4, now() + make_interval(secs " \
	    "=> $5), $6) ON CONFLICT (kind, key) WHERE state IN ('pending', " \
	    "'running') DO NOTHING RETURNING id") \
	/* \
	 * A scheduled kind's next run ($1 kind, every $2 seconds, $3 \
	 * attempts): due $2 after its last one finished, now if never. \
	 */ \
	X(JOB_SCHEDULE, "INSERT INTO jobs (kind, run_at, max_attempts) " \
	    "SELECT $1, greatest(now(), coalesce(max(finished_at) + " \
	    "make_interval(secs => $2), now())), $3 FROM jobs WHERE kind = $1 " \
	    "AND key = '' AND state IN ('done', 'failed') ON CONFLICT (kind, " \
	    "key) WHERE state IN ('pending', 'running') DO NOTHING RETURNING id") \
	/* Leases that ran out on their last attempt: failed for good. */ \
	X(JOB_REAP, "UPDATE jobs SET state = 'failed', lease_until = NULL, " \
	    "finished_at = now(), updated_at = now(), last_error = 'lease " \
	    "expired: the worker died or overran the time budget' WHERE " \
	    "state = 'running' AND lease_until < now() AND attempts >= " \
	    "max_attempts") \
	/* \
	 * Claim one due job of the kinds in $1 (a text[] literal) for $2 \
	 * seconds as $3: pending and due, or running with its lease out. \
	 */ \
	X(JOB_CLAIM, "WITH c AS (SELECT id FROM jobs WHERE kind = " \
	    "ANY($1::text[]) AND ((state = 'pending' AND run_at <= now()) OR " \
	    "(state = 'running' AND lease_until < now())) ORDER BY run_at, id " \
	    "LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE jobs j SET state = " \
	    "'running', attempts = j.attempts + 1, lease_until = now() + " \
	    "make_interval(secs => $2), locked_by = $3, updated_at = now(), " \
	    "last_error = CASE WHEN j.state = 'running' THEN 'lease expired: " \
	    "the worker died or overran the time budget' ELSE j.last_error " \
	    "END FROM c WHERE j.id = c.id RETURNING " SQL_JOB_COLS("j")) \
	/* Finish job $1 if $2 still holds it. */ \
	X(JOB_DONE, "UPDATE jobs SET state = 'done', lease_until = NULL, " \
	    "finished_at = now(), updated_at = now() WHERE id = $1 AND state = " \
	    "'running' AND locked_by = $2") \
	/* \
	 * Job $1 (held by $2) failed with $3: again in $4 seconds, or \
	 * failed for good after its last attempt.  Returns the new state. \
	 */ \
	X(JOB_FAIL, "UPDATE jobs SET state = CASE WHEN attempts >= " \
	    "max_attempts THEN 'failed' ELSE 'pending' END, run_at = CASE WHEN " \
	    "attempts >= max_attempts THEN run_at ELSE now() + " \
	    "make_interval(secs => $4) END, finished_at = CASE WHEN attempts " \
	    ">= max_attempts THEN now() END, lease_until = NULL, last_error = " \
	    "$3, updated_at = now() WHERE id = $1 AND state = 'running' AND " \
	    "locked_by = $2 RETURNING state") \
	/* \
	 * Milliseconds until something of the kinds in $1 is due (a run_at \
	 * or a lease running out), 0 if overdue, -1 if nothing is queued \
	 * (tested apart: greatest() skips a NULL, and "0, now" would keep \
	 * a class with no job queued from ever sleeping). \
	 */ \
	X(JOB_NEXT_DUE, "SELECT CASE WHEN min(t) IS NULL THEN -1 ELSE " \
	    "greatest(ceil(extract(epoch FROM min(t) - now()) * 1000), 0) " \
	    "END::bigint FROM (SELECT CASE state WHEN 'pending' THEN run_at " \
	    "ELSE lease_until END AS t FROM jobs WHERE kind = " \
	    "ANY($1::text[]) AND state IN ('pending', 'running')) s") \
	/* Finished jobs are kept a day for `fleetpki job list`. */ \
	X(JOB_PRUNE, "DELETE FROM jobs WHERE state = 'done' AND finished_at < " \
	    "now() - interval '1 day'") \
	X(JOB_LIST, "SELECT " SQL_JOB_COLS("j") " FROM jobs j " \
	    "ORDER BY j.id DESC LIMIT $1") \
	X(JOB_GET, "SELECT " SQL_JOB_COLS("j") " FROM jobs j WHERE j.id = $1") \
	/* \
	 * Operator's retry of job $1: a failed one starts over, a pending \
	 * one (backing off) runs now; done and running ones are left. \
	 */ \
	X(JOB_RETRY, "UPDATE jobs SET state = 'pending', run_at = now(), " \
	    "attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END, " \
	    "finished_at = NULL, locked_by = NULL, updated_at = now() " \
	    "WHERE id = $1 AND state IN ('failed', 'pending') RETURNING id") \
	/* ---- security-services accounts (account.c; sql/008) ---- */ \
	/* An API key's tenant: the lookup before any tenant (sql/008). */ \
	X(APIKEY_TENANT, "SELECT fleetpki_apikey_tenant($1)") \
	X(APIKEY_GET, "SELECT " SQL_APIKEY_COLS " FROM api_keys " \
	    "WHERE tenant_id = $1 AND key = $2") \
	X(APIKEY_INSERT, "INSERT INTO api_keys (tenant_id, key, secret_hash) " \
	    "VALUES ($1, $2, $3) RETURNING " SQL_APIKEY_COLS) \
	X(APIKEY_LIST, "SELECT " SQL_APIKEY_COLS " FROM api_keys " \
	    "WHERE tenant_id = $1 ORDER BY created_at, id") \
	/* Revoke key $2 and every refresh token it was used for. */ \
	X(APIKEY_REVOKE, "WITH k AS (UPDATE api_keys SET revoked_at = now() " \
	    "WHERE tenant_id = $1 AND key = $2 AND revoked_at IS NULL " \
	    "RETURNING id), r AS (UPDATE refresh_tokens SET revoked_at = now() " \
	    "WHERE tenant_id = $1 AND api_key_id IN (SELECT id FROM k) AND " \
	    "revoked_at IS NULL) SELECT count(*) FROM k") \
	/* A new family's first token ($3 family, $4 hash), for $5 seconds. */ \
	X(REFRESH_INSERT, "INSERT INTO refresh_tokens (tenant_id, api_key_id, " \
	    "family, token_hash, expires_at) VALUES ($1, $2, $3, $4, " \
	    "now() + make_interval(secs => $5))") \
	/* \
	 * Rotate: token $3, live and never used, is used now and $4 takes \
	 * its place in the family, with the family's expiry.  The row lock \
	 * makes one of concurrent rotations win; the others find it used. \
	 */ \
	X(REFRESH_ROTATE, "WITH t AS (UPDATE refresh_tokens SET used_at = now() " \
	    "WHERE tenant_id = $1 AND api_key_id = $2 AND token_hash = $3 AND " \
	    "used_at IS NULL AND revoked_at IS NULL AND expires_at > now() " \
	    "RETURNING family, expires_at) INSERT INTO refresh_tokens " \
	    "(tenant_id, api_key_id, family, token_hash, expires_at) " \
	    "SELECT $1, $2, family, $4, expires_at FROM t RETURNING id") \
	/* Why token $3 did not rotate: used (how long ago), revoked, expired. */ \
	X(REFRESH_STATE, "SELECT family, used_at IS NOT NULL, revoked_at IS " \
	    "NOT NULL, expires_at <= now(), coalesce(" \
	    SQL_EPOCH("now()") " - " SQL_EPOCH("used_at") ", 0) " \
	    "FROM refresh_tokens WHERE tenant_id = $1 AND api_key_id = $2 " \
	    "AND token_hash = $3") \
	X(REFRESH_REVOKE_FAMILY, "UPDATE refresh_tokens SET revoked_at = now() " \
	    "WHERE tenant_id = $1 AND family = $2 AND revoked_at IS NULL")
/* An API key row, as struct apikey_rec reads it (account.c). */
#define SQL_APIKEY_COLS \
	"id, tenant_id, key, secret_hash, revoked_at IS NOT NULL, " \
	SQL_EPOCH("created_at")
/* A job row, as struct job_rec reads it (job.c), of table alias 'a'. */
#define SQL_JOB_COLS(a) \
	a ".id, " a ".kind, " a ".key, coalesce(" a ".tenant_id, 0), " a \
	".args, " a ".state, " a ".attempts, " a ".max_attempts, " \
	SQL_EPOCH(a ".run_at") ", " SQL_EPOCH(a ".lease_until") ", " a \
	".locked_by, " a ".last_error, " SQL_EPOCH(a ".created_at") ", " \
	SQL_EPOCH(a ".updated_at") ", " SQL_EPOCH(a ".finished_at")
/* ---- end of the job queue ---- */

#define STMT_ENUM(name, sql) STMT_##name,
enum stmt_id {
	FOREACH_STMT(STMT_ENUM)
	STMT__COUNT
};
#undef STMT_ENUM

/* Name and text of a statement. */
const char	*stmt_name(enum stmt_id);
const char	*stmt_sql(enum stmt_id);

#endif
