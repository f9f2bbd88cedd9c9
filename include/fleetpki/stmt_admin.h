/*
 * stmt_admin: the admin portal's statements (store/admin.c; sql/020), as
 * X(NAME, SQL) rows of the one statement table (statements.h).
 */
#ifndef FLEETPKI_STMT_ADMIN_H
#define FLEETPKI_STMT_ADMIN_H

/* An operator, as struct admin_operator_rec reads it. */
#define SQL_ADMIN_OPERATOR_COLS                                                \
	"o.id, o.tenant_id, t.name, o.name, o.disabled, "                      \
	"floor(extract(epoch FROM o.created_at))::bigint, "                    \
	"coalesce(floor(extract(epoch FROM o.last_login))::bigint, 0), "       \
	"(SELECT count(*) FROM admin_sessions s WHERE s.tenant_id = "          \
	"o.tenant_id AND s.operator_id = o.id AND s.revoked_at IS NULL AND "   \
	"s.expires_at > now())"

#define FOREACH_STMT_ADMIN(X)                                                  \
	/* Before the tenant: through the owner's functions (sql/020). */     \
	X(ADMIN_LOGIN_LOOKUP,                                                  \
	    "SELECT coalesce(tenant_id, 0), coalesce(tenant_name, ''), "       \
	    "coalesce(operator_id, 0), password_hash, disabled, locked "       \
	    "FROM fleetpki_admin_login_lookup($1, $2)")                        \
	X(ADMIN_LOGIN_FAILED, "SELECT fleetpki_admin_login_failed($1, $2, $3)") \
	X(ADMIN_LOGIN_SUCCEEDED, "SELECT fleetpki_admin_login_succeeded($1)")  \
	X(ADMIN_SESSION, "SELECT tenant_id, tenant_name, session_id, "         \
	    "operator_id, operator_name, expires_at "                          \
	    "FROM fleetpki_admin_session($1)")                                 \
	/* Under the operator's tenant. */                                     \
	X(ADMIN_SESSION_INSERT,                                                \
	    "WITH o AS (UPDATE admin_operators SET last_login = now() "        \
	    "WHERE tenant_id = $1 AND id = $2) "                               \
	    "INSERT INTO admin_sessions (tenant_id, operator_id, token_hash, " \
	    "expires_at, idle_s, remote_addr) VALUES ($1, $2, $3, now() + "    \
	    "make_interval(secs => $4), $5, $6) RETURNING id, "               \
	    "floor(extract(epoch FROM expires_at))::bigint")                   \
	X(ADMIN_SESSION_REVOKE,                                                \
	    "UPDATE admin_sessions SET revoked_at = now() WHERE tenant_id = "  \
	    "$1 AND id = $2 AND revoked_at IS NULL")                           \
	/* The CLI's (owner). */                                               \
	X(ADMIN_OPERATOR_CREATE,                                               \
	    "INSERT INTO admin_operators (tenant_id, name, password_hash) "    \
	    "VALUES ($1, $2, $3) RETURNING id")                                \
	X(ADMIN_OPERATOR_PASSWD,                                               \
	    "WITH o AS (UPDATE admin_operators SET password_hash = $3, "       \
	    "password_at = now() WHERE tenant_id = $1 AND name = $2 "          \
	    "RETURNING id), s AS (UPDATE admin_sessions SET revoked_at = "     \
	    "now() WHERE tenant_id = $1 AND operator_id IN (SELECT id FROM o) " \
	    "AND revoked_at IS NULL) SELECT id FROM o")                        \
	X(ADMIN_OPERATOR_SET_DISABLED,                                         \
	    "WITH o AS (UPDATE admin_operators SET disabled = $3 WHERE "       \
	    "tenant_id = $1 AND name = $2 RETURNING id), s AS (UPDATE "        \
	    "admin_sessions SET revoked_at = now() WHERE $3 AND tenant_id = "  \
	    "$1 AND operator_id IN (SELECT id FROM o) AND revoked_at IS NULL) " \
	    "SELECT id FROM o")                                                \
	X(ADMIN_OPERATOR_ALL,                                                  \
	    "SELECT " SQL_ADMIN_OPERATOR_COLS " FROM admin_operators o JOIN "  \
	    "tenants t ON t.id = o.tenant_id WHERE $1::bigint IS NULL OR "     \
	    "o.tenant_id = $1 ORDER BY t.name, o.name")                        \
	X(ADMIN_SESSIONS_PRUNE, "SELECT fleetpki_admin_sessions_prune($1)")    \
	/*                                                                     \
	 * The ACME account and budget, read here until core_acme_status()     \
	 * (branch acme) lands: the tenant's newest account, and its orders    \
	 * finalized in the last seven days, queued, and in progress.          \
	 */                                                                    \
	X(ADMIN_ACME_ACCOUNT,                                                  \
	    "SELECT directory_url, coalesce(account_url, ''), status, "        \
	    "coalesce(contact, ''), coalesce(last_error, ''), "                \
	    "floor(extract(epoch FROM created_at))::bigint FROM acme_accounts " \
	    "WHERE tenant_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 1")  \
	X(ADMIN_ACME_ORDERS,                                                   \
	    "SELECT (SELECT count(*) FROM acme_orders WHERE tenant_id = $1 "   \
	    "AND state = 'valid' AND finished_at > now() - interval "          \
	    "'7 days'), (SELECT count(*) FROM acme_orders WHERE tenant_id = "  \
	    "$1 AND state NOT IN ('valid', 'failed') AND state = 'queued'), "  \
	    "(SELECT count(*) FROM acme_orders WHERE tenant_id = $1 AND "      \
	    "state NOT IN ('valid', 'failed', 'queued')), (SELECT count(*) "   \
	    "FROM acme_orders WHERE tenant_id = $1 AND state NOT IN "          \
	    "('valid', 'failed') AND state = 'queued' AND kind = 'renew')")

#endif
