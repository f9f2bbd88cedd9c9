/*
 * store: typed queries over the named statements.  Each function binds
 * its parameters as text (bytea as binary), checks the row count it
 * expects, and copies what it returns out of the PGresult.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "fleetpki/db.h"
#include "fleetpki/log.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

/* Room for any int64 in decimal. */
#define I64_LEN 24

/* ---- column readers ---------------------------------------------- */

static char *
col_str(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrndup(PQgetvalue(res, row, col), PQgetlength(res, row, col));
}

static void
col_copy(PGresult *res, int row, int col, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", PQgetvalue(res, row, col));
}

static int64_t
col_i64(PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
	    ? 0
	    : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool
col_bool(PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

/* bytea arrives in text format as "\x..." hex. */
static void
col_bytea(PGresult *res, int row, int col, struct buf *out)
{
	unsigned char *raw;
	size_t len = 0;

	buf_reset(out);
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
	    &len);
	if (raw == NULL)
		fatal("out of memory decoding bytea");
	buf_append(out, raw, len);
	PQfreemem(raw);
}

/* "{A,B,C}": a text[] literal of strings that need no quoting. */
static void
buf_putc_array(struct buf *b, const char *const *v, size_t n)
{
	size_t i;

	buf_puts(b, "{");
	for (i = 0; i < n; i++)
		buf_printf(b, "%s%s", i > 0 ? "," : "", v[i]);
	buf_puts(b, "}");
}

static const char *
i64(char buf[I64_LEN], int64_t v)
{
	snprintf(buf, I64_LEN, "%" PRId64, v);
	return buf;
}

/* One row expected: 0, or -FP_E_NOTFOUND for none. */
static int
one_row(PGresult *res)
{
	return PQntuples(res) == 1 ? 0 : -FP_E_NOTFOUND;
}

int
store_ping(struct db *db)
{
	PGresult *res = NULL;
	int rc;

	rc = db_exec(db, STMT_PING, 0, NULL, &res);
	PQclear(res);
	return rc;
}

/* ---- tenants ----------------------------------------------------- */

static void
tenant_read(PGresult *res, int row, struct tenant *t)
{
	t->id = col_i64(res, row, 0);
	col_copy(res, row, 1, t->name, sizeof(t->name));
}

int
store_tenant_by_name(struct db *db, const char *name, struct tenant *t)
{
	const char *p[] = { name };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_TENANT_BY_NAME, 1, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		tenant_read(res, 0, t);
out:
	PQclear(res);
	return rc;
}

int
store_tenant_create(struct db *db, const char *name, struct tenant *t)
{
	const char *p[] = { name };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_TENANT_CREATE, 1, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		tenant_read(res, 0, t);
out:
	PQclear(res);
	return rc;
}

int
store_tenant_each(struct db *db, void (*fn)(void *, const struct tenant *),
    void *arg)
{
	PGresult *res = NULL;
	struct tenant t;
	int rc, i;

	if ((rc = db_exec(db, STMT_TENANT_ALL, 0, NULL, &res)) != 0)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		tenant_read(res, i, &t);
		fn(arg, &t);
	}
out:
	PQclear(res);
	return rc;
}

/* ---- certificate authorities ------------------------------------- */

void
ca_rec_clear(struct ca_rec *ca)
{
	if (ca == NULL)
		return;
	free(ca->key_alg);
	free(ca->fingerprint);
	free(ca->subject);
	buf_free(&ca->cert_der);
	buf_free_secret(&ca->key_sealed);
	memset(ca, 0, sizeof(*ca));
}

static void
ca_read(PGresult *res, int row, struct ca_rec *ca)
{
	memset(ca, 0, sizeof(*ca));
	ca->id = col_i64(res, row, 0);
	ca->tenant_id = col_i64(res, row, 1);
	col_copy(res, row, 2, ca->name, sizeof(ca->name));
	col_copy(res, row, 3, ca->public_id, sizeof(ca->public_id));
	ca->is_default = col_bool(res, row, 4);
	ca->key_alg = col_str(res, row, 5);
	col_bytea(res, row, 6, &ca->cert_der);
	col_bytea(res, row, 7, &ca->key_sealed);
	ca->fingerprint = col_str(res, row, 8);
	ca->subject = col_str(res, row, 9);
	col_copy(res, row, 10, ca->key_id, sizeof(ca->key_id));
	ca->not_before = col_i64(res, row, 11);
	ca->not_after = col_i64(res, row, 12);
	ca->crl_number = col_i64(res, row, 13);
}

int
store_ca_insert(struct db *db, struct ca_rec *ca)
{
	char tid[I64_LEN], nb[I64_LEN], na[I64_LEN];
	const char *p[11];
	int len[11] = { 0 }, fmt[11] = { 0 };
	PGresult *res = NULL;
	int rc;

	p[0] = i64(tid, ca->tenant_id);
	p[1] = ca->name;
	p[2] = ca->public_id;
	p[3] = ca->key_alg;
	p[4] = (const char *)ca->cert_der.data;
	len[4] = (int)ca->cert_der.len;
	fmt[4] = 1;
	p[5] = (const char *)ca->key_sealed.data;
	len[5] = (int)ca->key_sealed.len;
	fmt[5] = 1;
	p[6] = ca->fingerprint;
	p[7] = ca->subject;
	p[8] = i64(nb, ca->not_before);
	p[9] = i64(na, ca->not_after);
	p[10] = ca->key_id;
	if ((rc = db_exec_params(db, STMT_CA_INSERT, 11, p, len, fmt, &res)) !=
	    0)
		goto out;
	if ((rc = one_row(res)) != 0) {
		rc = -FP_E_INTERNAL;
		goto out;
	}
	ca->id = col_i64(res, 0, 0);
	ca->is_default = col_bool(res, 0, 1);
out:
	PQclear(res);
	return rc;
}

static int
ca_query_one(struct db *db, enum stmt_id id, int n, const char *const *p,
    struct ca_rec *ca)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, id, n, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		ca_read(res, 0, ca);
out:
	PQclear(res);
	return rc;
}

int
store_ca_default(struct db *db, int64_t tenant_id, struct ca_rec *ca)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id) };

	return ca_query_one(db, STMT_CA_DEFAULT, 1, p, ca);
}

int
store_ca_by_id(struct db *db, int64_t tenant_id, int64_t id, struct ca_rec *ca)
{
	char tid[I64_LEN], cid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), i64(cid, id) };

	return ca_query_one(db, STMT_CA_BY_ID, 2, p, ca);
}

int
store_ca_by_public_id(struct db *db, const char *public_id, struct ca_rec *ca)
{
	const char *p[] = { public_id };

	return ca_query_one(db, STMT_CA_BY_PUBLIC_ID, 1, p, ca);
}

int
store_ca_by_key_id(struct db *db, const char *key_id, struct ca_rec *ca)
{
	const char *p[] = { key_id };

	return ca_query_one(db, STMT_CA_BY_KEY_ID, 1, p, ca);
}

static int
ca_query_list(struct db *db, enum stmt_id id, int n, const char *const *p,
    struct ca_rec **out, size_t *count)
{
	PGresult *res = NULL;
	int rc, i;

	*out = NULL;
	*count = 0;
	if ((rc = db_exec(db, id, n, p, &res)) != 0)
		goto out;
	*count = (size_t)PQntuples(res);
	*out = xcalloc(*count, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++)
		ca_read(res, i, &(*out)[i]);
out:
	PQclear(res);
	return rc;
}

int
store_ca_list(struct db *db, int64_t tenant_id, struct ca_rec **out, size_t *n)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id) };

	if (tenant_id > 0)
		return ca_query_list(db, STMT_CA_LIST_TENANT, 1, p, out, n);
	return ca_query_list(db, STMT_CA_LIST_ALL, 0, NULL, out, n);
}

void
store_ca_list_free(struct ca_rec *cas, size_t n)
{
	size_t i;

	for (i = 0; cas != NULL && i < n; i++)
		ca_rec_clear(&cas[i]);
	free(cas);
}

/* ---- certificates ------------------------------------------------ */

void
cert_rec_clear(struct cert_rec *c)
{
	if (c == NULL)
		return;
	free(c->ca_fingerprint);
	free(c->tenant_name);
	free(c->subject);
	free(c->pem);
	free(c->belongs_device);
	free(c->belongs_application);
	buf_free_secret(&c->key_sealed);
	memset(c, 0, sizeof(*c));
}

static void
cert_read(PGresult *res, int row, struct cert_rec *c)
{
	memset(c, 0, sizeof(*c));
	c->id = col_i64(res, row, 0);
	c->tenant_id = col_i64(res, row, 1);
	c->ca_id = col_i64(res, row, 2);
	col_copy(res, row, 3, c->serial, sizeof(c->serial));
	col_copy(res, row, 4, c->fingerprint, sizeof(c->fingerprint));
	c->ca_fingerprint = col_str(res, row, 5);
	c->tenant_name = col_str(res, row, 6);
	c->subject = col_str(res, row, 7);
	c->pem = col_str(res, row, 8);
	c->not_before = col_i64(res, row, 9);
	c->not_after = col_i64(res, row, 10);
	c->created_ms = col_i64(res, row, 11);
	c->modified_ms = col_i64(res, row, 12);
	c->issued_by_pki = col_bool(res, row, 13);
	c->auto_registered = col_bool(res, row, 14);
	c->belongs_device = col_str(res, row, 15);
	c->belongs_application = col_str(res, row, 16);
	c->revoked_at = col_i64(res, row, 17);
	c->reason = (int)col_i64(res, row, 18);
	c->user_id = col_i64(res, row, 19);
}

int
store_cert_insert(struct db *db, struct cert_rec *c)
{
	char tid[I64_LEN], cid[I64_LEN], nb[I64_LEN], na[I64_LEN], uid[I64_LEN];
	const char *p[] = { i64(tid, c->tenant_id), i64(cid, c->ca_id),
		c->serial, c->fingerprint, c->subject, c->pem,
		i64(nb, c->not_before), i64(na, c->not_after),
		c->issued_by_pki ? "true" : "false",
		c->user_id > 0 ? i64(uid, c->user_id) : NULL,
		c->key_sealed.len > 0 ? (const char *)c->key_sealed.data
		                      : NULL };
	int len[11] = { 0 }, fmt[11] = { 0 };
	PGresult *res = NULL;
	int rc;

	len[10] = (int)c->key_sealed.len;
	fmt[10] = 1;
	if ((rc = db_exec_params(db, STMT_CERT_INSERT, 11, p, len, fmt,
	         &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0) {
		rc = -FP_E_INTERNAL;
		goto out;
	}
	c->id = col_i64(res, 0, 0);
	c->created_ms = col_i64(res, 0, 1);
	c->modified_ms = col_i64(res, 0, 2);
out:
	PQclear(res);
	return rc;
}

int
store_cert_get(struct db *db, int64_t tenant_id, const char *fingerprint,
    struct cert_rec *c)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), fingerprint };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CERT_GET, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		cert_read(res, 0, c);
out:
	PQclear(res);
	return rc;
}

int
store_cert_page(struct db *db, int64_t tenant_id, const struct cert_filter *f,
    int64_t offset, int limit, struct cert_rec **out, size_t *n, int64_t *total)
{
	char tid[I64_LEN], off[I64_LEN], lim[I64_LEN];
	const char *p[15] = { i64(tid, tenant_id), f->fingerprint,
		f->ca_fingerprint, f->pem, f->subject, f->not_before,
		f->not_after, f->created_at, f->modified_at, f->issued_by_pki,
		f->auto_registered, f->belongs_device, f->belongs_application,
		i64(off, offset), i64(lim, limit) };
	PGresult *res = NULL;
	int rc, i;

	*out = NULL;
	*n = 0;
	*total = 0;
	/*
	 * Count and page are two statements; under READ COMMITTED a
	 * concurrent insert may skew them by one, which paging clients
	 * tolerate, so no transaction is held for it.
	 */
	if ((rc = db_exec(db, STMT_CERT_COUNT, 13, p, &res)) != 0)
		goto out;
	*total = col_i64(res, 0, 0);
	PQclear(res);
	res = NULL;
	if (*total == 0 || offset >= *total)
		goto out;
	if ((rc = db_exec(db, STMT_CERT_PAGE, 15, p, &res)) != 0)
		goto out;
	*n = (size_t)PQntuples(res);
	*out = xcalloc(*n, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++)
		cert_read(res, i, &(*out)[i]);
out:
	PQclear(res);
	return rc;
}

void
store_cert_array_free(struct cert_rec *c, size_t n)
{
	size_t i;

	for (i = 0; c != NULL && i < n; i++)
		cert_rec_clear(&c[i]);
	free(c);
}

int
store_cert_remove(struct db *db, int64_t tenant_id, const char *fingerprint,
    int reason, struct cert_rec *c)
{
	char tid[I64_LEN], rsn[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), fingerprint,
		i64(rsn, reason) };
	PGresult *res = NULL;
	int rc;

	/* One statement (a data-modifying CTE): atomic without BEGIN. */
	if ((rc = db_exec(db, STMT_CERT_REMOVE, 3, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	memset(c, 0, sizeof(*c));
	c->id = col_i64(res, 0, 0);
	c->ca_id = col_i64(res, 0, 1);
	col_copy(res, 0, 2, c->serial, sizeof(c->serial));
	c->tenant_id = tenant_id;
out:
	PQclear(res);
	return rc;
}

int
store_cert_by_serial(struct db *db, int64_t tenant_id, const char *serial,
    struct cert_rec *c)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), serial };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CERT_BY_SERIAL, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	cert_read(res, 0, c);
	if (!PQgetisnull(res, 0, 20))
		col_bytea(res, 0, 20, &c->key_sealed);
out:
	PQclear(res);
	return rc;
}

int
store_cert_revoke(struct db *db, int64_t tenant_id, const char *serial,
    int reason, int64_t only_user, struct cert_rec *c)
{
	char tid[I64_LEN], rsn[I64_LEN], uid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), serial, i64(rsn, reason),
		only_user > 0 ? i64(uid, only_user) : NULL };
	PGresult *res = NULL;
	int rc;

	/* One statement: find, check the owner and revoke atomically. */
	if ((rc = db_exec(db, STMT_CERT_REVOKE, 4, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	memset(c, 0, sizeof(*c));
	c->id = col_i64(res, 0, 0);
	c->ca_id = col_i64(res, 0, 1);
	c->user_id = col_i64(res, 0, 2);
	c->tenant_id = tenant_id;
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	if (only_user > 0 && c->user_id != only_user)
		rc = -FP_E_NOTFOUND;
	else if (col_i64(res, 0, 3) == 0)
		rc = -FP_E_GONE;
out:
	PQclear(res);
	return rc;
}

int
store_ocsp_status(struct db *db, int64_t ca_id, const char *const *serials,
    size_t nserials, struct ocsp_status_rec **out, size_t *n)
{
	struct buf arr = BUF_INIT;
	char cid[I64_LEN];
	const char *p[2];
	PGresult *res = NULL;
	int rc, r;

	*out = NULL;
	*n = 0;
	/* A text[] literal: only hex serials, so nothing needs quoting. */
	for (r = 0; r < (int)nserials; r++)
		if (serials[r][0] == '\0' ||
		    strspn(serials[r], "0123456789ABCDEF") !=
		        strlen(serials[r]))
			return -FP_E_BADREQ;
	buf_putc_array(&arr, serials, nserials);
	p[0] = i64(cid, ca_id);
	p[1] = (const char *)arr.data;
	if ((rc = db_exec(db, STMT_OCSP_STATUS, 2, p, &res)) != 0)
		goto out;
	*n = (size_t)PQntuples(res);
	*out = xcalloc(*n, sizeof(**out));
	for (r = 0; r < PQntuples(res); r++) {
		col_copy(res, r, 0, (*out)[r].serial, sizeof((*out)[r].serial));
		(*out)[r].revoked_at = col_i64(res, r, 1);
		(*out)[r].reason = (int)col_i64(res, r, 2);
	}
out:
	PQclear(res);
	buf_free(&arr);
	return rc;
}

/* ---- certificate-maker users ------------------------------------- */

static void
user_read(PGresult *res, int row, struct user_rec *u)
{
	memset(u, 0, sizeof(*u));
	u->id = col_i64(res, row, 0);
	u->tenant_id = col_i64(res, row, 1);
	col_copy(res, row, 2, u->tenant, sizeof(u->tenant));
	col_copy(res, row, 3, u->name, sizeof(u->name));
	u->is_admin = col_bool(res, row, 4);
	u->disabled = col_bool(res, row, 5);
}

int
store_user_create(struct db *db, int64_t tenant_id, const char *name,
    const char *token_hash, bool is_admin, struct user_rec *u)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), name, token_hash,
		is_admin ? "true" : "false" };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_USER_CREATE, 4, p, &res)) != 0)
		goto out;
	memset(u, 0, sizeof(*u));
	u->id = col_i64(res, 0, 0);
	u->tenant_id = tenant_id;
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->is_admin = is_admin;
out:
	PQclear(res);
	return rc;
}

int
store_user_by_token(struct db *db, const char *token_hash, struct user_rec *u)
{
	const char *p[] = { token_hash };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_USER_BY_TOKEN, 1, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		user_read(res, 0, u);
out:
	PQclear(res);
	return rc;
}

int
store_user_find(struct db *db, const char *name, int64_t tenant_id,
    struct user_rec **out, size_t *n)
{
	char tid[I64_LEN];
	const char *p[] = { name, tenant_id > 0 ? i64(tid, tenant_id) : NULL };
	PGresult *res = NULL;
	int rc, i;

	*out = NULL;
	*n = 0;
	if ((rc = db_exec(db, STMT_USER_FIND, 2, p, &res)) != 0)
		goto out;
	*n = (size_t)PQntuples(res);
	*out = xcalloc(*n, sizeof(**out));
	for (i = 0; i < PQntuples(res); i++)
		user_read(res, i, &(*out)[i]);
out:
	PQclear(res);
	return rc;
}

int
store_user_set_disabled(struct db *db, int64_t id, bool disabled)
{
	char uid[I64_LEN];
	const char *p[] = { i64(uid, id), disabled ? "true" : "false" };
	PGresult *res = NULL;
	int rc;

	rc = db_exec(db, STMT_USER_SET_DISABLED, 2, p, &res);
	PQclear(res);
	return rc;
}

int
store_user_each(struct db *db, int64_t tenant_id,
    void (*fn)(void *, const struct user_rec *), void *arg)
{
	char tid[I64_LEN];
	const char *p[] = { tenant_id > 0 ? i64(tid, tenant_id) : NULL };
	struct user_rec u;
	PGresult *res = NULL;
	int rc, i;

	if ((rc = db_exec(db, STMT_USER_ALL, 1, p, &res)) != 0)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		user_read(res, i, &u);
		fn(arg, &u);
	}
out:
	PQclear(res);
	return rc;
}

/* ---- settings ---------------------------------------------------- */

int
store_setting_get(struct db *db, int64_t tenant_id, const char *key,
    char **value)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), key };
	PGresult *res = NULL;
	int rc;

	*value = NULL;
	if ((rc = db_exec(db, STMT_SETTING_GET, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) == 0)
		*value = col_str(res, 0, 0);
out:
	PQclear(res);
	return rc;
}

int
store_setting_set(struct db *db, int64_t tenant_id, const char *key,
    const char *value)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), key, value };
	PGresult *res = NULL;
	int rc;

	rc = db_exec(db, STMT_SETTING_SET, 3, p, &res);
	PQclear(res);
	return rc;
}

int
store_setting_each(struct db *db, int64_t tenant_id,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id) };
	PGresult *res = NULL;
	int rc, i;

	if ((rc = db_exec(db, STMT_SETTING_ALL, 1, p, &res)) != 0)
		goto out;
	for (i = 0; i < PQntuples(res); i++)
		fn(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
out:
	PQclear(res);
	return rc;
}

/* ---- challenges -------------------------------------------------- */

void
challenge_rec_clear(struct challenge_rec *ch)
{
	if (ch == NULL)
		return;
	free(ch->request);
	OPENSSL_cleanse(ch->token, sizeof(ch->token));
	memset(ch, 0, sizeof(*ch));
}

int
store_challenge_insert(struct db *db, struct challenge_rec *ch)
{
	char tid[I64_LEN], uid[I64_LEN], exp[I64_LEN];
	const char *p[] = { i64(tid, ch->tenant_id), i64(uid, ch->user_id),
		ch->public_id, ch->token, ch->kind, ch->request,
		i64(exp, ch->expires_at) };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CHALLENGE_INSERT, 7, p, &res)) != 0)
		goto out;
	ch->id = col_i64(res, 0, 0);
out:
	PQclear(res);
	return rc;
}

int
store_challenge_get(struct db *db, int64_t tenant_id, const char *public_id,
    struct challenge_rec *ch)
{
	char tid[I64_LEN];
	const char *p[] = { i64(tid, tenant_id), public_id };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CHALLENGE_GET, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	memset(ch, 0, sizeof(*ch));
	ch->id = col_i64(res, 0, 0);
	ch->tenant_id = col_i64(res, 0, 1);
	ch->user_id = col_i64(res, 0, 2);
	col_copy(res, 0, 3, ch->public_id, sizeof(ch->public_id));
	col_copy(res, 0, 4, ch->token, sizeof(ch->token));
	col_copy(res, 0, 5, ch->kind, sizeof(ch->kind));
	ch->request = col_str(res, 0, 6);
	ch->expires_at = col_i64(res, 0, 7);
	ch->claimed = col_bool(res, 0, 8);
	col_copy(res, 0, 9, ch->serial, sizeof(ch->serial));
out:
	PQclear(res);
	return rc;
}

int
store_challenge_claim(struct db *db, int64_t id)
{
	char cid[I64_LEN];
	const char *p[] = { i64(cid, id) };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CHALLENGE_CLAIM, 1, p, &res)) == 0 &&
	    PQntuples(res) != 1)
		rc = -FP_E_CONFLICT;
	PQclear(res);
	return rc;
}

int
store_challenge_finish(struct db *db, int64_t id, const char *serial)
{
	char cid[I64_LEN];
	const char *p[] = { i64(cid, id), serial };
	PGresult *res = NULL;
	int rc;

	rc = db_exec(db, STMT_CHALLENGE_FINISH, 2, p, &res);
	PQclear(res);
	return rc;
}

/* ---- CRLs -------------------------------------------------------- */

void
crl_rec_clear(struct crl_rec *crl)
{
	if (crl == NULL)
		return;
	buf_free(&crl->der);
	memset(crl, 0, sizeof(*crl));
}

int
store_crl_latest(struct db *db, int64_t ca_id, struct crl_rec *crl)
{
	char cid[I64_LEN];
	const char *p[] = { i64(cid, ca_id) };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_CRL_LATEST, 1, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	crl->ca_id = col_i64(res, 0, 0);
	crl->crl_number = col_i64(res, 0, 1);
	crl->this_update = col_i64(res, 0, 2);
	crl->next_update = col_i64(res, 0, 3);
	col_bytea(res, 0, 4, &crl->der);
out:
	PQclear(res);
	return rc;
}

int
store_crl_issue(struct db *db, int64_t tenant_id, int64_t ca_id,
    store_crl_builder build, void *arg, struct crl_rec *crl)
{
	char tid[I64_LEN], cid[I64_LEN], num[I64_LEN], tu[I64_LEN], nu[I64_LEN];
	const char *p[6];
	int len[6] = { 0 }, fmt[6] = { 0 };
	struct revoked_rec *rev = NULL;
	PGresult *res = NULL;
	int64_t number;
	int rc, i, n = 0;

	if ((rc = db_begin(db)) != 0)
		return rc;
	/* The row lock taken here orders concurrent issuers of this CA. */
	p[0] = i64(tid, tenant_id);
	p[1] = i64(cid, ca_id);
	if ((rc = db_exec(db, STMT_CA_BUMP_CRL, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	number = col_i64(res, 0, 0);
	PQclear(res);
	res = NULL;

	p[0] = i64(cid, ca_id);
	if ((rc = db_exec(db, STMT_REVOKED_FOR_CA, 1, p, &res)) != 0)
		goto out;
	n = PQntuples(res);
	rev = xcalloc((size_t)n, sizeof(*rev));
	for (i = 0; i < n; i++) {
		col_copy(res, i, 0, rev[i].serial, sizeof(rev[i].serial));
		rev[i].revoked_at = col_i64(res, i, 1);
		rev[i].reason = (int)col_i64(res, i, 2);
	}
	PQclear(res);
	res = NULL;

	crl->ca_id = ca_id;
	crl->crl_number = number;
	if ((rc = build(arg, number, rev, (size_t)n, crl)) != 0)
		goto out;

	p[0] = i64(cid, ca_id);
	p[1] = i64(tid, tenant_id);
	p[2] = i64(num, number);
	p[3] = i64(tu, crl->this_update);
	p[4] = i64(nu, crl->next_update);
	p[5] = (const char *)crl->der.data;
	len[5] = (int)crl->der.len;
	fmt[5] = 1;
	if ((rc = db_exec_params(db, STMT_CRL_INSERT, 6, p, len, fmt, &res)) !=
	    0)
		goto out;
	rc = db_commit(db);
out:
	if (rc != 0)
		db_rollback(db);
	PQclear(res);
	free(rev);
	return rc;
}

int
store_crl_due(struct db *db, int64_t before, struct ca_rec **out, size_t *n)
{
	char b[I64_LEN];
	const char *p[] = { i64(b, before) };

	return ca_query_list(db, STMT_CRL_DUE, 1, p, out, n);
}

/* ---- JWT keys ---------------------------------------------------- */

void
jwt_key_rec_clear(struct jwt_key_rec *k)
{
	if (k == NULL)
		return;
	free(k->public_pem);
	buf_free_secret(&k->private_sealed);
	memset(k, 0, sizeof(*k));
}

static int
jwt_key_query(struct db *db, enum stmt_id id, int n, const char *const *p,
    struct jwt_key_rec *k)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, id, n, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	memset(k, 0, sizeof(*k));
	col_copy(res, 0, 0, k->kid, sizeof(k->kid));
	k->public_pem = col_str(res, 0, 1);
	col_bytea(res, 0, 2, &k->private_sealed);
	k->active = col_bool(res, 0, 3);
out:
	PQclear(res);
	return rc;
}

int
store_jwt_key_get(struct db *db, const char *kid, struct jwt_key_rec *k)
{
	const char *p[] = { kid };

	return jwt_key_query(db, STMT_JWT_KEY_GET, 1, p, k);
}

int
store_jwt_key_active(struct db *db, struct jwt_key_rec *k)
{
	return jwt_key_query(db, STMT_JWT_KEY_ACTIVE, 0, NULL, k);
}

int
store_jwt_key_insert(struct db *db, const struct jwt_key_rec *k)
{
	const char *p[] = { k->kid, k->public_pem,
		(const char *)k->private_sealed.data };
	int len[] = { 0, 0, (int)k->private_sealed.len }, fmt[] = { 0, 0, 1 };
	PGresult *res = NULL;
	int rc;

	rc = db_exec_params(db, STMT_JWT_KEY_INSERT, 3, p, len, fmt, &res);
	PQclear(res);
	return rc;
}

/* ---- server certificates ----------------------------------------- */

void
servercert_rec_clear(struct servercert_rec *s)
{
	if (s == NULL)
		return;
	free(s->pem);
	memset(s, 0, sizeof(*s));
}

int
store_servercert_get(struct db *db, const char *server, const char *slot,
    struct servercert_rec *s)
{
	const char *p[] = { server, slot };
	PGresult *res = NULL;
	int rc;

	if ((rc = db_exec(db, STMT_SERVERCERT_GET, 2, p, &res)) != 0)
		goto out;
	if ((rc = one_row(res)) != 0)
		goto out;
	s->pem = col_str(res, 0, 0);
	s->updated_at = col_i64(res, 0, 1);
out:
	PQclear(res);
	return rc;
}

int
store_servercert_set(struct db *db, const char *server, const char *slot,
    const char *pem)
{
	const char *p[] = { server, slot, pem };
	PGresult *res = NULL;
	int rc;

	rc = db_exec(db, STMT_SERVERCERT_SET, 3, p, &res);
	PQclear(res);
	return rc;
}
