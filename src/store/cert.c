/*
 * store/cert: issued certificates, as the identity API lists them and
 * as the certificate maker finds them by serial.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/*
 * SQL_CERT_COLS of statements.h, in its order; a macro so that
 * CERT_BY_SERIAL's map can say "the same, then the sealed key".
 */
#define CERT_COLMAP                                                            \
	COL_I64(struct cert_rec, id), COL_I64(struct cert_rec, tenant_id),     \
	    COL_I64(struct cert_rec, ca_id),                                   \
	    COL_CHARS(struct cert_rec, serial),                                \
	    COL_CHARS(struct cert_rec, fingerprint),                           \
	    COL_STR(struct cert_rec, ca_fingerprint),                          \
	    COL_STR(struct cert_rec, tenant_name),                             \
	    COL_STR(struct cert_rec, subject), COL_STR(struct cert_rec, pem),  \
	    COL_I64(struct cert_rec, not_before),                              \
	    COL_I64(struct cert_rec, not_after),                               \
	    COL_I64(struct cert_rec, created_ms),                              \
	    COL_I64(struct cert_rec, modified_ms),                             \
	    COL_BOOL(struct cert_rec, issued_by_pki),                          \
	    COL_BOOL(struct cert_rec, auto_registered),                        \
	    COL_STR(struct cert_rec, belongs_device),                          \
	    COL_STR(struct cert_rec, belongs_application),                     \
	    COL_I64(struct cert_rec, revoked_at),                              \
	    COL_INT(struct cert_rec, reason),                                  \
	    COL_I64(struct cert_rec, user_id)

static const struct colmap cert_cols[] = { CERT_COLMAP };
static const struct rowmap cert_rows =
    ROWMAP(struct cert_rec, cert_cols, cert_rec_clear);

static const struct colmap cert_key_cols[] = { CERT_COLMAP,
	COL_BYTEA(struct cert_rec, key_sealed) };
static const struct rowmap cert_key_rows =
    ROWMAP(struct cert_rec, cert_key_cols, cert_rec_clear);

/* CERT_INSERT returns "id, created_ms, modified_ms". */
static const struct colmap cert_insert_cols[] = {
	COL_I64(struct cert_rec, id),
	COL_I64(struct cert_rec, created_ms),
	COL_I64(struct cert_rec, modified_ms),
};
static const struct rowmap cert_insert_rows =
    ROWMAP(struct cert_rec, cert_insert_cols, NULL);

/* CERT_REMOVE returns "id, ca_id, serial". */
static const struct colmap cert_remove_cols[] = {
	COL_I64(struct cert_rec, id),
	COL_I64(struct cert_rec, ca_id),
	COL_CHARS(struct cert_rec, serial),
};
static const struct rowmap cert_remove_rows =
    ROWMAP(struct cert_rec, cert_remove_cols, NULL);

/* CERT_REVOKE returns "id, ca_id, user_id, revoked" (rows revoked now). */
struct revoke_row {
	int64_t id, ca_id, user_id, revoked;
};
static const struct colmap revoke_cols[] = {
	COL_I64(struct revoke_row, id),
	COL_I64(struct revoke_row, ca_id),
	COL_I64(struct revoke_row, user_id),
	COL_I64(struct revoke_row, revoked),
};
static const struct rowmap revoke_rows =
    ROWMAP(struct revoke_row, revoke_cols, NULL);

/* CERT_COUNT returns one bigint. */
struct count_row {
	int64_t n;
};
static const struct colmap count_cols[] = { COL_I64(struct count_row, n) };
static const struct rowmap count_rows =
    ROWMAP(struct count_row, count_cols, NULL);

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

/*
 * The timestamps come back from the insert (RETURNING) so the answer
 * to the client shows exactly what a later read will, to the
 * millisecond, without a second query.
 */
int
store_cert_insert(struct db *db, struct cert_rec *c)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, c->tenant_id);
	q_i64(&p, c->ca_id);
	q_text(&p, c->serial);
	q_text(&p, c->fingerprint);
	q_text(&p, c->subject);
	q_text(&p, c->pem);
	q_i64(&p, c->not_before);
	q_i64(&p, c->not_after);
	q_bool(&p, c->issued_by_pki);
	q_i64_or_null(&p, c->user_id);
	q_bytea_or_null(&p, &c->key_sealed); /* only server-made keys */
	rc = q_one(db, STMT_CERT_INSERT, &p, &cert_insert_rows, c);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_cert_get(struct db *db, int64_t tenant_id, const char *fingerprint,
    struct cert_rec *c)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, fingerprint);
	memset(c, 0, sizeof(*c));
	return q_one(db, STMT_CERT_GET, &p, &cert_rows, c);
}

int
store_cert_page(struct db *db, int64_t tenant_id, const struct cert_filter *f,
    int64_t offset, int limit, struct cert_rec **out, size_t *n, int64_t *total)
{
	struct count_row count = { 0 };
	struct qparams p;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	/* $1..$13 are shared by both statements (SQL_CERT_FILTER). */
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, f->fingerprint);
	q_text(&p, f->ca_fingerprint);
	q_text(&p, f->pem);
	q_text(&p, f->subject);
	q_text(&p, f->not_before);
	q_text(&p, f->not_after);
	q_text(&p, f->created_at);
	q_text(&p, f->modified_at);
	q_text(&p, f->issued_by_pki);
	q_text(&p, f->auto_registered);
	q_text(&p, f->belongs_device);
	q_text(&p, f->belongs_application);
	/*
	 * Count and page are two statements; under READ COMMITTED a
	 * concurrent insert may skew them by one, which paging clients
	 * tolerate, so no transaction is held for it.
	 */
	if ((rc = q_one(db, STMT_CERT_COUNT, &p, &count_rows, &count)) != 0)
		return rc;
	*total = count.n;
	if (*total == 0 || offset >= *total)
		return 0;
	q_i64(&p, offset);
	q_i64(&p, limit);
	return q_many(db, STMT_CERT_PAGE, &p, &cert_rows, (void **)out, n);
}

void
store_cert_array_free(struct cert_rec *c, size_t n)
{
	size_t i;

	for (i = 0; c != NULL && i < n; i++)
		cert_rec_clear(&c[i]);
	free(c);
}

/*
 * Removal and revocation in one statement: an identity-API DELETE
 * must never leave a certificate hidden but still valid for OCSP.
 */
int
store_cert_remove(struct db *db, int64_t tenant_id, const char *fingerprint,
    int reason, struct cert_rec *c)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, fingerprint);
	q_i64(&p, reason);
	/* One statement (a data-modifying CTE): atomic without BEGIN. */
	memset(c, 0, sizeof(*c));
	if ((rc = q_one(db, STMT_CERT_REMOVE, &p, &cert_remove_rows, c)) == 0)
		c->tenant_id = tenant_id;
	return rc;
}

/*
 * Removed certificates included: the certificate maker addresses its
 * certificates by serial whatever the identity API shows (a solved
 * challenge answers with its certificate again, revoked or not).
 */
int
store_cert_by_serial(struct db *db, int64_t tenant_id, const char *serial,
    struct cert_rec *c)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, serial);
	memset(c, 0, sizeof(*c));
	return q_one(db, STMT_CERT_BY_SERIAL, &p, &cert_key_rows, c);
}

int
store_cert_revoke(struct db *db, int64_t tenant_id, const char *serial,
    int reason, int64_t only_user, struct cert_rec *c)
{
	struct revoke_row r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, serial);
	q_i64(&p, reason);
	q_i64_or_null(&p, only_user);
	/* One statement: find, check the owner and revoke atomically. */
	if ((rc = q_one(db, STMT_CERT_REVOKE, &p, &revoke_rows, &r)) != 0)
		return rc;
	memset(c, 0, sizeof(*c));
	c->id = r.id;
	c->ca_id = r.ca_id;
	c->user_id = r.user_id;
	c->tenant_id = tenant_id;
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	/* Another user's certificate is not found, never "forbidden". */
	if (only_user > 0 && c->user_id != only_user)
		return -FP_E_NOTFOUND;
	return r.revoked == 0 ? -FP_E_GONE : 0;
}
