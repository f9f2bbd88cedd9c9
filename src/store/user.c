/*
 * store/user: the certificate maker's users.  Only the HMAC of a
 * user's token is stored and looked up (see auth), never the token.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* SQL_USER_COLS of statements.h, in its order. */
static const struct colmap user_cols[] = {
	COL_I64(struct user_rec, id),
	COL_I64(struct user_rec, tenant_id),
	COL_CHARS(struct user_rec, tenant),
	COL_CHARS(struct user_rec, name),
	COL_BOOL(struct user_rec, is_admin),
	COL_BOOL(struct user_rec, disabled),
};
static const struct rowmap user_rows = ROWMAP(struct user_rec, user_cols, NULL);

/* USER_CREATE returns the new id. */
static const struct colmap user_id_cols[] = {
	COL_I64(struct user_rec, id),
};
static const struct rowmap user_id_rows =
    ROWMAP(struct user_rec, user_id_cols, NULL);

int
store_user_create(struct db *db, int64_t tenant_id, const char *name,
    const char *token_hash, bool is_admin, struct user_rec *u)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	q_text(&p, token_hash);
	q_bool(&p, is_admin);
	memset(u, 0, sizeof(*u));
	if ((rc = q_one(db, STMT_USER_CREATE, &p, &user_id_rows, u)) != 0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	/* The rest is what was inserted; the tenant's name is not needed. */
	u->tenant_id = tenant_id;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->is_admin = is_admin;
	return 0;
}

/*
 * Not tenant-scoped: the token names its user, and the user its
 * tenant (the certificate maker's requests carry no tenant otherwise),
 * so it goes through the owner's fleetpki_user_by_token (sql/005),
 * which returns the columns of SQL_USER_COLS for that one user.
 * A disabled user is returned too; refusing it is auth's decision.
 */
int
store_user_by_token(struct db *db, const char *token_hash, struct user_rec *u)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, token_hash);
	memset(u, 0, sizeof(*u));
	return q_one(db, STMT_USER_BY_TOKEN, &p, &user_rows, u);
}

/*
 * Names are unique per tenant only, so without a tenant the operator
 * may get several users back and must choose (the CLI says so).
 */
int
store_user_find(struct db *db, const char *name, int64_t tenant_id,
    struct user_rec **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, name);
	q_i64_or_null(&p, tenant_id);
	return q_many(db, STMT_USER_FIND, &p, &user_rows, (void **)out, n);
}

int
store_user_set_disabled(struct db *db, int64_t id, bool disabled)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, id);
	q_bool(&p, disabled);
	return q_command(db, STMT_USER_SET_DISABLED, &p);
}

/* Adapts q_each's untyped row to the public typed callback. */
struct user_each_arg {
	void (*fn)(void *, const struct user_rec *);
	void *arg;
};

static void
user_each_row(void *varg, void *rec)
{
	struct user_each_arg *a = varg;

	a->fn(a->arg, rec);
}

int
store_user_each(struct db *db, int64_t tenant_id,
    void (*fn)(void *, const struct user_rec *), void *arg)
{
	struct user_each_arg a = { fn, arg };
	struct user_rec u;
	struct qparams p;

	q_init(&p);
	q_i64_or_null(&p, tenant_id);
	return q_each(db, STMT_USER_ALL, &p, &user_rows, &u, user_each_row, &a);
}
