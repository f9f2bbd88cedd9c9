/*
 * store/admin: the admin portal's operators and sessions (sql/020).
 * Logins and cookies are looked up before their tenant is known, through
 * the owner's functions of sql/020; everything else runs under the
 * tenant.  Only HMACs of session tokens are stored, never the tokens.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "fleetpki/store_admin.h"
#include "store_internal.h"

void
admin_login_rec_clear(struct admin_login_rec *r)
{
	free(r->password_hash);
	r->password_hash = NULL;
}

static const struct colmap login_cols[] = {
	COL_I64(struct admin_login_rec, tenant_id),
	COL_CHARS(struct admin_login_rec, tenant),
	COL_I64(struct admin_login_rec, operator_id),
	COL_STR(struct admin_login_rec, password_hash),
	COL_BOOL(struct admin_login_rec, disabled),
	COL_BOOL(struct admin_login_rec, locked),
};
static const struct rowmap login_rows =
    ROWMAP(struct admin_login_rec, login_cols, admin_login_rec_clear);

int
store_admin_login_lookup(struct db *db, const char *tenant, const char *name,
    struct admin_login_rec *out)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, tenant);
	q_text(&p, name);
	memset(out, 0, sizeof(*out));
	return q_one(db, STMT_ADMIN_LOGIN_LOOKUP, &p, &login_rows, out);
}

struct flag_rec {
	bool v;
};
static const struct colmap flag_cols[] = {
	COL_BOOL(struct flag_rec, v),
};
static const struct rowmap flag_rows = ROWMAP(struct flag_rec, flag_cols, NULL);

int
store_admin_login_failed(struct db *db, const char *login, int max,
    int window_s, bool *locked)
{
	struct flag_rec f = { false };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, login);
	q_i64(&p, max);
	q_i64(&p, window_s);
	rc = q_one(db, STMT_ADMIN_LOGIN_FAILED, &p, &flag_rows, &f);
	*locked = rc == 0 && f.v;
	return rc;
}

int
store_admin_login_succeeded(struct db *db, const char *login)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, login);
	return q_command(db, STMT_ADMIN_LOGIN_SUCCEEDED, &p);
}

static const struct colmap session_cols[] = {
	COL_I64(struct admin_session_rec, tenant_id),
	COL_CHARS(struct admin_session_rec, tenant),
	COL_I64(struct admin_session_rec, id),
	COL_I64(struct admin_session_rec, operator_id),
	COL_CHARS(struct admin_session_rec, name),
	COL_I64(struct admin_session_rec, expires_at),
};
static const struct rowmap session_rows =
    ROWMAP(struct admin_session_rec, session_cols, NULL);

int
store_admin_session(struct db *db, const char *token_hash,
    struct admin_session_rec *out)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, token_hash);
	memset(out, 0, sizeof(*out));
	return q_one(db, STMT_ADMIN_SESSION, &p, &session_rows, out);
}

struct id_exp_rec {
	int64_t id, expires_at;
};
static const struct colmap id_exp_cols[] = {
	COL_I64(struct id_exp_rec, id),
	COL_I64(struct id_exp_rec, expires_at),
};
static const struct rowmap id_exp_rows =
    ROWMAP(struct id_exp_rec, id_exp_cols, NULL);

int
store_admin_session_insert(struct db *db, int64_t tenant_id,
    int64_t operator_id, const char *token_hash, int ttl_s, int idle_s,
    const char *remote_addr, int64_t *id, int64_t *expires_at)
{
	struct id_exp_rec r = { 0, 0 };
	struct qparams p;
	char addr[65];
	int rc;

	/* The column holds 64 characters; an address is never longer. */
	snprintf(addr, sizeof(addr), "%s", remote_addr ? remote_addr : "");
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, operator_id);
	q_text(&p, token_hash);
	q_i64(&p, ttl_s);
	q_i64(&p, idle_s);
	q_text(&p, *addr != '\0' ? addr : NULL);
	if ((rc = q_one(db, STMT_ADMIN_SESSION_INSERT, &p, &id_exp_rows, &r)) !=
	    0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	*id = r.id;
	*expires_at = r.expires_at;
	return 0;
}

int
store_admin_session_revoke(struct db *db, int64_t tenant_id, int64_t id)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return q_command(db, STMT_ADMIN_SESSION_REVOKE, &p);
}

struct id_rec {
	int64_t id;
};
static const struct colmap id_cols[] = {
	COL_I64(struct id_rec, id),
};
static const struct rowmap id_rows = ROWMAP(struct id_rec, id_cols, NULL);

int
store_admin_operator_create(struct db *db, int64_t tenant_id, const char *name,
    const char *password_hash, int64_t *id)
{
	struct id_rec r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	q_text(&p, password_hash);
	if ((rc = q_one(db, STMT_ADMIN_OPERATOR_CREATE, &p, &id_rows, &r)) != 0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	*id = r.id;
	return 0;
}

int
store_admin_operator_passwd(struct db *db, int64_t tenant_id, const char *name,
    const char *password_hash)
{
	struct id_rec r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	q_text(&p, password_hash);
	return q_one(db, STMT_ADMIN_OPERATOR_PASSWD, &p, &id_rows, &r);
}

int
store_admin_operator_set_disabled(struct db *db, int64_t tenant_id,
    const char *name, bool disabled)
{
	struct id_rec r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	q_bool(&p, disabled);
	return q_one(db, STMT_ADMIN_OPERATOR_SET_DISABLED, &p, &id_rows, &r);
}

static const struct colmap operator_cols[] = {
	COL_I64(struct admin_operator_rec, id),
	COL_I64(struct admin_operator_rec, tenant_id),
	COL_CHARS(struct admin_operator_rec, tenant),
	COL_CHARS(struct admin_operator_rec, name),
	COL_BOOL(struct admin_operator_rec, disabled),
	COL_I64(struct admin_operator_rec, created_at),
	COL_I64(struct admin_operator_rec, last_login),
	COL_I64(struct admin_operator_rec, sessions),
};
static const struct rowmap operator_rows =
    ROWMAP(struct admin_operator_rec, operator_cols, NULL);

struct operator_each_arg {
	void (*fn)(void *, const struct admin_operator_rec *);
	void *arg;
};

static void
operator_each_row(void *varg, void *rec)
{
	struct operator_each_arg *a = varg;

	a->fn(a->arg, rec);
}

int
store_admin_operator_each(struct db *db, int64_t tenant_id,
    void (*fn)(void *, const struct admin_operator_rec *), void *arg)
{
	struct operator_each_arg a = { fn, arg };
	struct admin_operator_rec r;
	struct qparams p;

	q_init(&p);
	q_i64_or_null(&p, tenant_id);
	return q_each(db, STMT_ADMIN_OPERATOR_ALL, &p, &operator_rows, &r,
	    operator_each_row, &a);
}

struct count_rec {
	int64_t n;
};
static const struct colmap count_cols[] = {
	COL_I64(struct count_rec, n),
};
static const struct rowmap count_rows =
    ROWMAP(struct count_rec, count_cols, NULL);

int
store_admin_sessions_prune(struct db *db, int older_s, int64_t *n)
{
	struct count_rec r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, older_s);
	rc = q_one(db, STMT_ADMIN_SESSIONS_PRUNE, &p, &count_rows, &r);
	*n = r.n;
	return rc;
}

void
admin_acme_account_rec_clear(struct admin_acme_account_rec *r)
{
	free(r->directory_url);
	free(r->account_url);
	free(r->contact);
	free(r->last_error);
	memset(r, 0, sizeof(*r));
}

static const struct colmap acme_account_cols[] = {
	COL_STR(struct admin_acme_account_rec, directory_url),
	COL_STR(struct admin_acme_account_rec, account_url),
	COL_CHARS(struct admin_acme_account_rec, status),
	COL_STR(struct admin_acme_account_rec, contact),
	COL_STR(struct admin_acme_account_rec, last_error),
	COL_I64(struct admin_acme_account_rec, created_at),
};
static const struct rowmap acme_account_rows =
    ROWMAP(struct admin_acme_account_rec, acme_account_cols,
        admin_acme_account_rec_clear);

int
store_admin_acme_account(struct db *db, int64_t tenant_id,
    struct admin_acme_account_rec *out)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	memset(out, 0, sizeof(*out));
	return q_one(db, STMT_ADMIN_ACME_ACCOUNT, &p, &acme_account_rows, out);
}

static const struct colmap acme_orders_cols[] = {
	COL_I64(struct admin_acme_orders_rec, finalized_7d),
	COL_I64(struct admin_acme_orders_rec, queued),
	COL_I64(struct admin_acme_orders_rec, in_progress),
	COL_I64(struct admin_acme_orders_rec, queued_renewals),
};
static const struct rowmap acme_orders_rows =
    ROWMAP(struct admin_acme_orders_rec, acme_orders_cols, NULL);

int
store_admin_acme_orders(struct db *db, int64_t tenant_id,
    struct admin_acme_orders_rec *out)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	memset(out, 0, sizeof(*out));
	return q_one(db, STMT_ADMIN_ACME_ORDERS, &p, &acme_orders_rows, out);
}
