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
 * CERT_BY_SERIAL's map can say "the same, then the sealed key", and
 * IDEM_GET's can read it into a record inside its row ('P': "cert.").
 */
#define CERT_COLMAP(T, P)                                                      \
	COL_I64(T, P id), COL_I64(T, P tenant_id), COL_I64(T, P ca_id),        \
	    COL_CHARS(T, P serial), COL_CHARS(T, P fingerprint),               \
	    COL_STR(T, P ca_fingerprint), COL_STR(T, P tenant_name),           \
	    COL_STR(T, P subject), COL_STR(T, P pem),                          \
	    COL_I64(T, P not_before), COL_I64(T, P not_after),                 \
	    COL_I64(T, P created_ms), COL_I64(T, P modified_ms),               \
	    COL_BOOL(T, P issued_by_pki), COL_BOOL(T, P auto_registered),      \
	    COL_STR(T, P belongs_device), COL_STR(T, P belongs_application),   \
	    COL_I64(T, P revoked_at), COL_INT(T, P reason),                    \
	    COL_I64(T, P user_id), COL_BYTEA(T, P key_sealed)

static const struct colmap cert_key_cols[] = { CERT_COLMAP(struct cert_rec, ) };
static const struct rowmap cert_key_rows =
    ROWMAP(struct cert_rec, cert_key_cols, cert_rec_clear);
/* The same but the last column: statements without the sealed key. */
static const struct rowmap cert_rows = { cert_key_cols,
	FP_ARRAY_LEN(cert_key_cols) - 1, sizeof(struct cert_rec),
	(void (*)(void *))cert_rec_clear };

/* IDEM_GET: the key's request hash, whether it is live, the record. */
struct idem_row {
	char hash[65];
	bool live;
	struct cert_rec cert;
};

static void
idem_row_clear(struct idem_row *r)
{
	cert_rec_clear(&r->cert);
}

static const struct colmap idem_cols[] = {
	COL_CHARS(struct idem_row, hash),
	COL_BOOL(struct idem_row, live),
	CERT_COLMAP(struct idem_row, cert.),
};
static const struct rowmap idem_rows =
    ROWMAP(struct idem_row, idem_cols, idem_row_clear);

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
store_cert_insert(struct db *db, struct cert_rec *c, const char *idem_key,
    const char *idem_hash)
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
	q_text(&p, idem_key);
	q_text(&p, idem_key != NULL ? idem_hash : NULL);
	rc = q_one(db, STMT_CERT_INSERT, &p, &cert_insert_rows, c);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_idem_get(struct db *db, int64_t tenant_id, const char *key, int64_t ttl,
    char hash[65], bool *live, struct cert_rec *c)
{
	struct idem_row row;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	q_i64(&p, ttl);
	memset(&row, 0, sizeof(row));
	if ((rc = q_one(db, STMT_IDEM_GET, &p, &idem_rows, &row)) != 0)
		return rc;
	memcpy(hash, row.hash, sizeof(row.hash));
	*live = row.live;
	*c = row.cert; /* the record's allocations move to the caller */
	return 0;
}

int
store_idem_expire(struct db *db, int64_t tenant_id, const char *key,
    int64_t ttl)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	q_i64(&p, ttl);
	return q_command(db, STMT_IDEM_EXPIRE, &p);
}

int
store_idem_prune(struct db *db, int64_t ttl)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, ttl);
	return q_command(db, STMT_IDEM_PRUNE, &p);
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
