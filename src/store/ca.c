/*
 * store/ca: certificate authorities.  A CA row never changes after its
 * insert except for crl_number (see revocation.c), so the core caches
 * what it reads here for the life of the process.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* SQL_CA_COLS of statements.h, in its order. */
static const struct colmap ca_cols[] = {
	COL_I64(struct ca_rec, id),
	COL_I64(struct ca_rec, tenant_id),
	COL_CHARS(struct ca_rec, name),
	COL_CHARS(struct ca_rec, public_id),
	COL_BOOL(struct ca_rec, is_default),
	COL_STR(struct ca_rec, key_alg),
	COL_BYTEA(struct ca_rec, cert_der),
	COL_BYTEA(struct ca_rec, key_sealed),
	COL_STR(struct ca_rec, fingerprint),
	COL_STR(struct ca_rec, subject),
	COL_CHARS(struct ca_rec, key_id),
	COL_I64(struct ca_rec, not_before),
	COL_I64(struct ca_rec, not_after),
	COL_I64(struct ca_rec, crl_number),
};
const struct rowmap store_ca_rows =
    ROWMAP(struct ca_rec, ca_cols, ca_rec_clear);

/* CA_INSERT returns "id, is_default". */
static const struct colmap ca_insert_cols[] = {
	COL_I64(struct ca_rec, id),
	COL_BOOL(struct ca_rec, is_default),
};
static const struct rowmap ca_insert_rows =
    ROWMAP(struct ca_rec, ca_insert_cols, NULL);

void
ca_rec_clear(struct ca_rec *ca)
{
	if (ca == NULL)
		return;
	free(ca->key_alg);
	free(ca->fingerprint);
	free(ca->subject);
	buf_free(&ca->cert_der);
	buf_free_secret(&ca->key_sealed); /* sealed, but still key material */
	memset(ca, 0, sizeof(*ca));
}

/*
 * The default flag is decided by the statement itself (NOT EXISTS over
 * the tenant's CAs), not by a read before the insert: two concurrent
 * first CAs cannot both become default, the partial unique index
 * cas_one_default refuses the second (-FP_E_CONFLICT).
 */
int
store_ca_insert(struct db *db, struct ca_rec *ca)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, ca->tenant_id);
	q_text(&p, ca->name);
	q_text(&p, ca->public_id);
	q_text(&p, ca->key_alg);
	/* DER and the sealed key go binary: no hex escaping of secrets. */
	q_bytea(&p, &ca->cert_der);
	q_bytea(&p, &ca->key_sealed);
	q_text(&p, ca->fingerprint);
	q_text(&p, ca->subject);
	q_i64(&p, ca->not_before);
	q_i64(&p, ca->not_after);
	q_text(&p, ca->key_id);
	rc = q_one(db, STMT_CA_INSERT, &p, &ca_insert_rows, ca);
	/* INSERT ... RETURNING without its row is not "not found". */
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

/* Every single-CA read replaces the whole record. */
static int
ca_one(struct db *db, enum stmt_id id, const struct qparams *p,
    struct ca_rec *ca)
{
	memset(ca, 0, sizeof(*ca));
	return q_one(db, id, p, &store_ca_rows, ca);
}

int
store_ca_default(struct db *db, int64_t tenant_id, struct ca_rec *ca)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	return ca_one(db, STMT_CA_DEFAULT, &p, ca);
}

int
store_ca_by_id(struct db *db, int64_t tenant_id, int64_t id, struct ca_rec *ca)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return ca_one(db, STMT_CA_BY_ID, &p, ca);
}

int
store_ca_by_public_id(struct db *db, int64_t tenant_id, const char *public_id,
    struct ca_rec *ca)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, public_id);
	return ca_one(db, STMT_CA_BY_PUBLIC_ID, &p, ca);
}

int
store_ca_by_key_id(struct db *db, int64_t tenant_id, const char *key_id,
    struct ca_rec *ca)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key_id);
	return ca_one(db, STMT_CA_BY_KEY_ID, &p, ca);
}

/* CA_TENANT_BY_* return the one column "tenant_id". */
static const struct colmap ca_tenant_cols[] = {
	COL_I64(struct ca_ref, tenant_id),
};
static const struct rowmap ca_tenant_rows =
    ROWMAP(struct ca_ref, ca_tenant_cols, NULL);

/*
 * A public id or key id is unique over all tenants, so it names one
 * tenant; what the function answers is that and nothing else.
 */
static int
ca_tenant(struct db *db, enum stmt_id id, const char *key, int64_t *tenant_id)
{
	struct ca_ref ref = { 0, 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, key);
	rc = q_one(db, id, &p, &ca_tenant_rows, &ref);
	*tenant_id = rc == 0 ? ref.tenant_id : 0;
	return rc;
}

int
store_ca_tenant_by_public_id(struct db *db, const char *public_id,
    int64_t *tenant_id)
{
	return ca_tenant(db, STMT_CA_TENANT_BY_PUBLIC_ID, public_id, tenant_id);
}

int
store_ca_tenant_by_key_id(struct db *db, const char *key_id, int64_t *tenant_id)
{
	return ca_tenant(db, STMT_CA_TENANT_BY_KEY_ID, key_id, tenant_id);
}

/*
 * Two statements rather than one with "$1 IS NULL OR": the planner
 * picks the tenant index for the scoped one, and "every CA" (the
 * worker, the CLI) stays visibly separate from a tenant's view.
 */
int
store_ca_list(struct db *db, int64_t tenant_id, struct ca_rec **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	if (tenant_id <= 0)
		return q_many(db, STMT_CA_LIST_ALL, NULL, &store_ca_rows,
		    (void **)out, n);
	q_i64(&p, tenant_id);
	return q_many(db, STMT_CA_LIST_TENANT, &p, &store_ca_rows, (void **)out,
	    n);
}

void
store_ca_list_free(struct ca_rec *cas, size_t n)
{
	size_t i;

	for (i = 0; cas != NULL && i < n; i++)
		ca_rec_clear(&cas[i]);
	free(cas);
}

/* ---- SHA-2 key hashes, for OCSP (sql/009) ------------------------ */

/*
 * Like the key-id lookup, before any tenant: the owner's function
 * answers which tenant and CA, and nothing of the CA itself.
 */
int
store_ca_by_key_hash(struct db *db, const char *alg, const char *hash,
    int64_t *tenant_id, int64_t *ca_id)
{
	struct ca_ref r = { 0, 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, alg);
	q_text(&p, hash);
	/* "tenant_id, ca_id", as CRL_DUE's rows. */
	if ((rc = q_one(db, STMT_CA_BY_KEY_HASH, &p, &store_ca_ref_rows, &r)) !=
	    0)
		return rc;
	*tenant_id = r.tenant_id;
	*ca_id = r.id;
	return 0;
}

int
store_ca_key_hash_insert(struct db *db, int64_t tenant_id, int64_t ca_id,
    const char *alg, const char *hash)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	q_text(&p, alg);
	q_text(&p, hash);
	return q_command(db, STMT_CA_KEY_HASH_INSERT, &p);
}

int
store_ca_missing_key_hashes(struct db *db, struct ca_rec **out, size_t *n)
{
	return q_many(db, STMT_CA_KEY_HASH_MISSING, NULL, &store_ca_rows,
	    (void **)out, n);
}

/* ---- delegated OCSP responders (sql/025) -------------------------- */

/* OCSP_RESPONDER_CURRENT, in its order. */
static const struct colmap responder_cols[] = {
	COL_CHARS(struct ocsp_responder_rec, serial),
	COL_BYTEA(struct ocsp_responder_rec, cert_der),
	COL_BYTEA(struct ocsp_responder_rec, key_sealed),
	COL_I64(struct ocsp_responder_rec, not_before),
	COL_I64(struct ocsp_responder_rec, not_after),
};
static const struct rowmap responder_rows =
    ROWMAP(struct ocsp_responder_rec, responder_cols, ocsp_responder_rec_clear);

void
ocsp_responder_rec_clear(struct ocsp_responder_rec *r)
{
	if (r == NULL)
		return;
	buf_free(&r->cert_der);
	buf_free_secret(&r->key_sealed);
	memset(r, 0, sizeof(*r));
}

int
store_ocsp_responder_insert(struct db *db, const struct ocsp_responder_rec *r)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, r->tenant_id);
	q_i64(&p, r->ca_id);
	q_text(&p, r->serial);
	q_bytea(&p, &r->cert_der);
	q_bytea(&p, &r->key_sealed);
	q_i64(&p, r->not_before);
	q_i64(&p, r->not_after);
	return q_command(db, STMT_OCSP_RESPONDER_INSERT, &p);
}

int
store_ocsp_responder_current(struct db *db, int64_t tenant_id, int64_t ca_id,
    struct ocsp_responder_rec *r)
{
	struct qparams p;
	int rc;

	memset(r, 0, sizeof(*r));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	rc = q_one(db, STMT_OCSP_RESPONDER_CURRENT, &p, &responder_rows, r);
	r->tenant_id = tenant_id;
	r->ca_id = ca_id;
	return rc;
}

int
store_ocsp_responder_delete(struct db *db, int64_t tenant_id, int64_t ca_id,
    bool all, int64_t *deleted)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	rc = q_exec(db,
	    all ? STMT_OCSP_RESPONDER_DELETE_ALL
	        : STMT_OCSP_RESPONDER_EXPIRED_DELETE,
	    &p, &res);
	*deleted = rc == 0 ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
	PQclear(res);
	return rc;
}

int
store_ocsp_responders_due(struct db *db, struct ca_ref **out, size_t *n)
{
	return q_many(db, STMT_OCSP_RESPONDERS_DUE, NULL, &store_ca_ref_rows,
	    (void **)out, n);
}
