/*
 * store/ztp: zero-touch provisioning's rows (sql/026).  One statement
 * per call; the operator's calls on devices are set-based (the ROTs and
 * serials travel as text[] literals).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/db.h"
#include "fleetpki/store.h"
#include "fleetpki/store_ztp.h"
#include "store_internal.h"

void
ztp_root_rec_clear(struct ztp_root_rec *r)
{
	buf_free(&r->cert_der);
	memset(r, 0, sizeof(*r));
}

static const struct colmap root_cols[] = {
	COL_I64(struct ztp_root_rec, ca_id),
	COL_CHARS(struct ztp_root_rec, name),
	COL_CHARS(struct ztp_root_rec, ca_name),
	COL_INT(struct ztp_root_rec, ca_days),
	COL_INT(struct ztp_root_rec, device_days),
	COL_INT(struct ztp_root_rec, renew_before),
	COL_CHARS(struct ztp_root_rec, key_type),
	COL_I64(struct ztp_root_rec, created_at),
	COL_I64(struct ztp_root_rec, not_after),
	COL_BYTEA(struct ztp_root_rec, cert_der),
	COL_I64(struct ztp_root_rec, devices),
};
static const struct rowmap root_rows =
    ROWMAP(struct ztp_root_rec, root_cols, ztp_root_rec_clear);

void
ztp_dev_rec_clear(struct ztp_dev_rec *r)
{
	buf_free(&r->pubkey);
	free(r->wrapped);
	free(r->pending_pem);
	free(r->cert_serial);
	free(r->cert_root);
	memset(r, 0, sizeof(*r));
}

static const struct colmap dev_cols[] = {
	COL_I64(struct ztp_dev_rec, device_id),
	COL_CHARS(struct ztp_dev_rec, rot),
	COL_I64(struct ztp_dev_rec, ca_id),
	COL_CHARS(struct ztp_dev_rec, root_name),
	COL_CHARS(struct ztp_dev_rec, state),
	COL_CHARS(struct ztp_dev_rec, op),
	COL_I64(struct ztp_dev_rec, seq),
	COL_CHARS(struct ztp_dev_rec, key_type),
	COL_BOOL(struct ztp_dev_rec, server_key),
	COL_BYTEA(struct ztp_dev_rec, pubkey),
	COL_I64(struct ztp_dev_rec, cert_id),
	COL_I64(struct ztp_dev_rec, pending_cert_id),
	COL_STR(struct ztp_dev_rec, wrapped),
	COL_INT(struct ztp_dev_rec, days),
	COL_STR(struct ztp_dev_rec, pending_pem),
	COL_STR(struct ztp_dev_rec, cert_serial),
	COL_I64(struct ztp_dev_rec, cert_not_after),
	COL_STR(struct ztp_dev_rec, cert_root),
	COL_BOOL(struct ztp_dev_rec, cert_revoked),
};
static const struct rowmap dev_rows =
    ROWMAP(struct ztp_dev_rec, dev_cols, ztp_dev_rec_clear);

struct i64_row {
	int64_t v;
};
static const struct colmap i64_cols[] = { COL_I64(struct i64_row, v) };
static const struct rowmap i64_rows = ROWMAP(struct i64_row, i64_cols, NULL);

struct bool_row {
	bool v;
};
static const struct colmap bool_cols[] = { COL_BOOL(struct bool_row, v) };
static const struct rowmap bool_rows = ROWMAP(struct bool_row, bool_cols, NULL);

struct str_row {
	char *v;
};
static void
str_row_clear(struct str_row *r)
{
	free(r->v);
	r->v = NULL;
}
static const struct colmap str_cols[] = { COL_STR(struct str_row, v) };
static const struct rowmap str_rows =
    ROWMAP(struct str_row, str_cols, str_row_clear);

struct rot_row {
	char v[17];
};
static const struct colmap rot_cols[] = { COL_CHARS(struct rot_row, v) };
static const struct rowmap rot_rows = ROWMAP(struct rot_row, rot_cols, NULL);

int
store_ztp_root_insert(struct db *db, int64_t tenant_id,
    const struct ztp_root_new *r, int64_t *ca_id)
{
	struct qparams p;
	struct i64_row row = { 0 };
	int rc;

	(void)tenant_id; /* the function takes the transaction's tenant */
	q_init(&p);
	q_text(&p, r->public_id);
	q_text(&p, r->key_alg);
	q_bytea(&p, r->cert_der);
	q_bytea(&p, r->key_sealed);
	q_text(&p, r->fingerprint);
	q_text(&p, r->subject);
	q_i64(&p, r->not_before);
	q_i64(&p, r->not_after);
	q_text(&p, r->key_id);
	q_text(&p, r->hashes);
	q_text(&p, r->name);
	q_i64(&p, r->ca_days);
	q_i64(&p, r->device_days);
	q_i64_or_null(&p, r->renew_before);
	q_text(&p, r->key_type);
	rc = q_one(db, STMT_ZTP_ROOT_INSERT, &p, &i64_rows, &row);
	*ca_id = row.v;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_ztp_root_by_name(struct db *db, int64_t tenant_id, const char *name,
    struct ztp_root_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	return q_one(db, STMT_ZTP_ROOT_BY_NAME, &p, &root_rows, out);
}

int
store_ztp_root_page(struct db *db, int64_t tenant_id, int64_t offset,
    int64_t limit, struct ztp_root_rec **out, size_t *n, int64_t *total)
{
	struct qparams p;
	struct i64_row row = { 0 };
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	if ((rc = q_one(db, STMT_ZTP_ROOT_COUNT, &p, &i64_rows, &row)) != 0)
		return rc;
	*total = row.v;
	q_i64(&p, offset);
	q_i64(&p, limit);
	return q_many(db, STMT_ZTP_ROOT_PAGE, &p, &root_rows, (void **)out, n);
}

int
store_ztp_root_set_renew(struct db *db, int64_t tenant_id, int64_t ca_id,
    int renew_before)
{
	struct qparams p;
	struct i64_row row;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	q_i64(&p, renew_before);
	return q_one(db, STMT_ZTP_ROOT_SET_RENEW, &p, &i64_rows, &row);
}

int
store_ztp_root_in_use(struct db *db, int64_t tenant_id, int64_t ca_id,
    bool *in_use)
{
	struct qparams p;
	struct bool_row row = { 0 };
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	rc = q_one(db, STMT_ZTP_ROOT_IN_USE, &p, &bool_rows, &row);
	*in_use = row.v;
	return rc;
}

int
store_ztp_root_delete(struct db *db, int64_t tenant_id, int64_t ca_id)
{
	struct qparams p;
	struct i64_row row;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	return q_one(db, STMT_ZTP_ROOT_DELETE, &p, &i64_rows, &row);
}

int
store_ztp_root_devices(struct db *db, int64_t tenant_id, int64_t ca_id,
    int64_t offset, int64_t limit, char (**rots)[17], size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	q_i64(&p, offset);
	q_i64(&p, limit);
	return q_many(db, STMT_ZTP_ROOT_DEVICES, &p, &rot_rows, (void **)rots,
	    n);
}

int
store_ztp_root_revoked(struct db *db, int64_t tenant_id, int64_t ca_id,
    char ***serials, size_t *n)
{
	struct qparams p;
	struct str_row *rows = NULL;
	size_t i;
	int rc;

	*serials = NULL;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	if ((rc = q_many(db, STMT_ZTP_ROOT_REVOKED, &p, &str_rows,
	         (void **)&rows, n)) != 0)
		return rc;
	/* A struct of one char * is laid out as the char * itself. */
	*serials = xcalloc(*n > 0 ? *n : 1, sizeof(char *));
	for (i = 0; i < *n; i++)
		(*serials)[i] = rows[i].v;
	free(rows);
	return 0;
}

void
store_ztp_strs_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

int
store_ztp_profile_set(struct db *db, int64_t tenant_id, int64_t profile_id,
    int64_t ca_id, bool server_key, const char *key_type)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, profile_id);
	q_i64(&p, ca_id);
	q_bool(&p, server_key);
	q_text(&p, key_type);
	return q_command(db, STMT_ZTP_PROFILE_SET, &p);
}

int
store_ztp_profile_delete(struct db *db, int64_t tenant_id, int64_t profile_id)
{
	struct qparams p;
	struct i64_row row;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, profile_id);
	return q_one(db, STMT_ZTP_PROFILE_DELETE, &p, &i64_rows, &row);
}

int
store_ztp_dev_start(struct db *db, int64_t tenant_id, int64_t device_id,
    bool *started)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	rc = q_exec(db, STMT_ZTP_DEV_START, &p, &res);
	*started = rc == 0 && PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

int
store_ztp_dev_get(struct db *db, int64_t tenant_id, int64_t device_id,
    struct ztp_dev_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	return q_one(db, STMT_ZTP_DEV_GET, &p, &dev_rows, out);
}

int
store_ztp_dev_put(struct db *db, int64_t tenant_id, const struct ztp_dev_rec *r,
    bool new_seq)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, r->device_id);
	q_text(&p, r->state);
	q_text(&p, r->op);
	q_bool(&p, new_seq);
	q_bytea_or_null(&p, &r->pubkey);
	q_i64_or_null(&p, r->cert_id);
	q_i64_or_null(&p, r->pending_cert_id);
	q_text(&p, r->wrapped);
	return q_command(db, STMT_ZTP_DEV_PUT, &p);
}

int
store_ztp_dev_named(struct db *db, int64_t tenant_id, const char *rots,
    const char *serials, struct ztp_dev_rec **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, rots);
	q_text(&p, serials);
	return q_many(db, STMT_ZTP_DEV_NAMED, &p, &dev_rows, (void **)out, n);
}

int
store_ztp_dev_mark(struct db *db, int64_t tenant_id, const char *rots,
    const char *serials, const char *state, const char *op, int days,
    int64_t new_ca, int64_t *marked)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, rots);
	q_text(&p, serials);
	q_text(&p, state);
	q_text(&p, op);
	q_i64_or_null(&p, days);
	q_i64_or_null(&p, new_ca);
	rc = q_exec(db, STMT_ZTP_DEV_MARK, &p, &res);
	*marked = rc == 0 ? PQntuples(res) : 0;
	PQclear(res);
	return rc;
}

int
store_ztp_dev_reset(struct db *db, int64_t tenant_id, int64_t device_id)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	return q_command(db, STMT_ZTP_DEV_RESET, &p);
}

int
store_ztp_usage_add(struct db *db, int64_t tenant_id, int64_t device_id,
    const char *event)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	q_text(&p, event);
	return q_command(db, STMT_ZTP_USAGE_ADD, &p);
}

int
store_ztp_auto_renew(struct db *db, int64_t *marked)
{
	struct i64_row row = { 0 };
	int rc;

	rc = q_one(db, STMT_ZTP_AUTO_RENEW, NULL, &i64_rows, &row);
	*marked = row.v;
	return rc;
}

int
store_ztp_notices(struct db *db, int64_t *written)
{
	struct i64_row row = { 0 };
	int rc;

	rc = q_one(db, STMT_ZTP_NOTICES, NULL, &i64_rows, &row);
	*written = row.v;
	return rc;
}
