/*
 * store/account: the security-services dialect's API keys and refresh
 * tokens (sql/008).  Secrets and tokens are stored and looked up only
 * as their HMAC under the pepper (the core computes it), never as given.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* SQL_APIKEY_COLS of statements.h, in its order. */
static const struct colmap apikey_cols[] = {
	COL_I64(struct apikey_rec, id),
	COL_I64(struct apikey_rec, tenant_id),
	COL_CHARS(struct apikey_rec, key),
	COL_CHARS(struct apikey_rec, secret_hash),
	COL_BOOL(struct apikey_rec, revoked),
	COL_I64(struct apikey_rec, created_at),
};
static const struct rowmap apikey_rows =
    ROWMAP(struct apikey_rec, apikey_cols, NULL);

/* APIKEY_TENANT and APIKEY_REVOKE answer one bigint. */
struct one_i64 {
	int64_t v;
};
static const struct colmap one_i64_cols[] = { COL_I64(struct one_i64, v) };
static const struct rowmap one_i64_rows =
    ROWMAP(struct one_i64, one_i64_cols, NULL);

/* REFRESH_STATE, in its order. */
static const struct colmap refresh_state_cols[] = {
	COL_CHARS(struct refresh_state, family),
	COL_BOOL(struct refresh_state, used),
	COL_BOOL(struct refresh_state, revoked),
	COL_BOOL(struct refresh_state, expired),
	COL_I64(struct refresh_state, used_ago),
};
static const struct rowmap refresh_state_rows =
    ROWMAP(struct refresh_state, refresh_state_cols, NULL);

int
store_apikey_tenant(struct db *db, const char *key, int64_t *tenant_id)
{
	struct one_i64 row = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, key);
	/* The function answers NULL (read as 0) for a key of no tenant. */
	if ((rc = q_one(db, STMT_APIKEY_TENANT, &p, &one_i64_rows, &row)) != 0)
		return rc;
	*tenant_id = row.v;
	return row.v > 0 ? 0 : -FP_E_NOTFOUND;
}

int
store_apikey_get(struct db *db, int64_t tenant_id, const char *key,
    struct apikey_rec *k)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	memset(k, 0, sizeof(*k));
	return q_one(db, STMT_APIKEY_GET, &p, &apikey_rows, k);
}

int
store_apikey_insert(struct db *db, struct apikey_rec *k)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, k->tenant_id);
	q_text(&p, k->key);
	q_text(&p, k->secret_hash);
	rc = q_one(db, STMT_APIKEY_INSERT, &p, &apikey_rows, k);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_apikey_list(struct db *db, int64_t tenant_id, struct apikey_rec **out,
    size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	return q_many(db, STMT_APIKEY_LIST, &p, &apikey_rows, (void **)out, n);
}

int
store_apikey_revoke(struct db *db, int64_t tenant_id, const char *key)
{
	struct one_i64 row = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	if ((rc = q_one(db, STMT_APIKEY_REVOKE, &p, &one_i64_rows, &row)) != 0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	return row.v == 1 ? 0 : -FP_E_NOTFOUND;
}

int
store_refresh_insert(struct db *db, int64_t tenant_id, int64_t api_key_id,
    const char *family, const char *token_hash, int64_t ttl)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, api_key_id);
	q_text(&p, family);
	q_text(&p, token_hash);
	q_i64(&p, ttl);
	return q_command(db, STMT_REFRESH_INSERT, &p);
}

int
store_refresh_rotate(struct db *db, int64_t tenant_id, int64_t api_key_id,
    const char *old_hash, const char *new_hash)
{
	struct one_i64 row = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, api_key_id);
	q_text(&p, old_hash);
	q_text(&p, new_hash);
	/* No row: the old token was not live and unused (see state). */
	return q_one(db, STMT_REFRESH_ROTATE, &p, &one_i64_rows, &row);
}

int
store_refresh_state(struct db *db, int64_t tenant_id, int64_t api_key_id,
    const char *token_hash, struct refresh_state *st)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, api_key_id);
	q_text(&p, token_hash);
	memset(st, 0, sizeof(*st));
	return q_one(db, STMT_REFRESH_STATE, &p, &refresh_state_rows, st);
}

int
store_refresh_revoke_family(struct db *db, int64_t tenant_id,
    const char *family)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, family);
	return q_command(db, STMT_REFRESH_REVOKE_FAMILY, &p);
}
