/*
 * store/revocation: what the one revocation table feeds, OCSP status
 * and CRLs.  The revocations themselves are written by cert.c (one
 * statement each with the certificate's removal).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "fleetpki/util.h"
#include "store_internal.h"

/* OCSP_STATUS returns "serial, revoked_at, reason". */
static const struct colmap ocsp_cols[] = {
	COL_CHARS(struct ocsp_status_rec, serial),
	COL_I64(struct ocsp_status_rec, revoked_at),
	COL_INT(struct ocsp_status_rec, reason),
};
static const struct rowmap ocsp_rows =
    ROWMAP(struct ocsp_status_rec, ocsp_cols, NULL);

/* REVOKED_FOR_CA: the same shape, into the CRL builder's records. */
static const struct colmap revoked_cols[] = {
	COL_CHARS(struct revoked_rec, serial),
	COL_I64(struct revoked_rec, revoked_at),
	COL_INT(struct revoked_rec, reason),
	COL_I64(struct revoked_rec, not_after),
};
static const struct rowmap revoked_rows =
    ROWMAP(struct revoked_rec, revoked_cols, NULL);

/* CRL_LATEST returns every field of struct crl_rec. */
static const struct colmap crl_cols[] = {
	COL_I64(struct crl_rec, ca_id),
	COL_I64(struct crl_rec, crl_number),
	COL_I64(struct crl_rec, this_update),
	COL_I64(struct crl_rec, next_update),
	COL_BYTEA(struct crl_rec, der),
	COL_I64(struct crl_rec, base_number),
};
static const struct rowmap crl_rows =
    ROWMAP(struct crl_rec, crl_cols, crl_rec_clear);

/* CA_BUMP_CRL returns the new number, REVOKED_COUNT a count. */
struct number_row {
	int64_t n;
};
static const struct colmap number_cols[] = { COL_I64(struct number_row, n) };
static const struct rowmap number_rows =
    ROWMAP(struct number_row, number_cols, NULL);

/* CRL_BASE_LATEST: the newest base's number and transaction start. */
struct base_row {
	int64_t number;
	int64_t created_at;
};
static const struct colmap base_cols[] = {
	COL_I64(struct base_row, number),
	COL_I64(struct base_row, created_at),
};
static const struct rowmap base_rows = ROWMAP(struct base_row, base_cols, NULL);

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

int
store_ocsp_status(struct db *db, int64_t ca_id, const char *const *serials,
    size_t nserials, struct ocsp_status_rec **out, size_t *n)
{
	struct buf arr = BUF_INIT;
	struct qparams p;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	/*
	 * The serials travel as one text[] literal (one round trip for a
	 * multi-request OCSP query); only upper-case hex gets in, so no
	 * element needs quoting and none can break out of the literal.
	 */
	for (i = 0; i < nserials; i++)
		if (serials[i][0] == '\0' ||
		    strspn(serials[i], "0123456789ABCDEF") !=
		        strlen(serials[i]))
			return -FP_E_BADREQ;
	buf_putc_array(&arr, serials, nserials);
	q_init(&p);
	q_i64(&p, ca_id);
	q_text(&p, (const char *)arr.data);
	rc = q_many(db, STMT_OCSP_STATUS, &p, &ocsp_rows, (void **)out, n);
	buf_free(&arr);
	return rc;
}

void
crl_rec_clear(struct crl_rec *crl)
{
	if (crl == NULL)
		return;
	buf_free(&crl->der);
	memset(crl, 0, sizeof(*crl));
}

/*
 * By CA id alone: CA ids are global, and the public CRL endpoint knows
 * the CA (by its public id) but has no tenant in the request.
 */
int
store_crl_latest(struct db *db, int64_t ca_id, bool delta, struct crl_rec *crl)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, ca_id);
	q_bool(&p, delta);
	return q_one(db, STMT_CRL_LATEST, &p, &crl_rows, crl);
}

/* store_crl_issue's work, run by store_tx. */
struct crl_issue_arg {
	int64_t tenant_id, ca_id;
	bool delta;
	int64_t base_interval;
	store_crl_builder build;
	void *arg;
	struct crl_rec *crl;
};

/*
 * A delta lists the revocations begun since ten minutes before its
 * base's transaction did: every revocation the base could have missed
 * (one that committed after the base read the table began at most its
 * own duration before), and a few it has, which a delta may repeat.
 */
#define CRL_DELTA_OVERLAP 600

static int
crl_issue_tx(struct db *db, void *varg)
{
	struct crl_issue_arg *a = varg;
	struct revoked_rec *rev = NULL;
	struct number_row number = { 0 }, count = { 0 };
	struct base_row base = { 0 };
	struct qparams p;
	size_t nrev = 0;
	bool have_base;
	int rc;

	/*
	 * Bumping the number first takes the CA row's lock, which orders
	 * concurrent issuers of this CA: the second waits, then reads
	 * every revocation the first saw and a higher number.
	 */
	q_init(&p);
	q_i64(&p, a->tenant_id);
	q_i64(&p, a->ca_id);
	if ((rc = q_one(db, STMT_CA_BUMP_CRL, &p, &number_rows, &number)) != 0)
		goto out;

	q_init(&p);
	q_i64(&p, a->ca_id);
	rc = q_one(db, STMT_CRL_BASE_LATEST, &p, &base_rows, &base);
	if (rc != 0 && rc != -FP_E_NOTFOUND)
		goto out;
	have_base = rc == 0;

	a->crl->ca_id = a->ca_id;
	a->crl->crl_number = number.n;
	a->crl->base_number = -1;
	a->crl->is_base = false;
	if (a->delta) {
		if (!have_base) {
			rc = -FP_E_CONFLICT;
			goto out;
		}
		a->crl->base_number = base.number;
		q_init(&p);
		q_i64(&p, a->ca_id);
		q_i64(&p, base.created_at - CRL_DELTA_OVERLAP);
		if ((rc = q_many(db, STMT_REVOKED_FOR_CA_SINCE, &p,
		         &revoked_rows, (void **)&rev, &nrev)) != 0)
			goto out;
		/* The due test compares the CA's whole count (sql/027). */
		q_init(&p);
		q_i64(&p, a->ca_id);
		if ((rc = q_one(db, STMT_REVOKED_COUNT, &p, &number_rows,
		         &count)) != 0)
			goto out;
	} else {
		a->crl->is_base = !have_base ||
		    base.created_at < util_now() - a->base_interval;
		q_init(&p);
		q_i64(&p, a->ca_id);
		if ((rc = q_many(db, STMT_REVOKED_FOR_CA, &p, &revoked_rows,
		         (void **)&rev, &nrev)) != 0)
			goto out;
		count.n = (int64_t)nrev;
	}
	if ((rc = a->build(a->arg, number.n, rev, nrev, a->crl)) != 0)
		goto out;

	q_init(&p);
	q_i64(&p, a->ca_id);
	q_i64(&p, a->tenant_id);
	q_i64(&p, number.n);
	q_i64(&p, a->crl->this_update);
	q_i64(&p, a->crl->next_update);
	q_bytea(&p, &a->crl->der);
	/* What it was built from: sql/014's due test compares the count. */
	q_i64(&p, count.n);
	q_i64(&p, a->crl->base_number);
	q_bool(&p, a->crl->is_base);
	rc = q_command(db, STMT_CRL_INSERT, &p);
out:
	free(rev);
	return rc;
}

int
store_crl_issue(struct db *db, int64_t tenant_id, int64_t ca_id, bool delta,
    int64_t base_interval, store_crl_builder build, void *arg,
    struct crl_rec *crl)
{
	struct crl_issue_arg a = { tenant_id, ca_id, delta, base_interval,
		build, arg, crl };

	return store_tx(db, crl_issue_tx, &a);
}

/* CA_BY_KEY_HASH returns "tenant_id, ca_id". */
static const struct colmap ca_ref_cols[] = {
	COL_I64(struct ca_ref, tenant_id),
	COL_I64(struct ca_ref, id),
};
const struct rowmap store_ca_ref_rows =
    ROWMAP(struct ca_ref, ca_ref_cols, NULL);

/* CRL_DUE: "tenant_id, ca_id, complete, delta". */
static const struct colmap crl_due_cols[] = {
	COL_I64(struct crl_due, tenant_id),
	COL_I64(struct crl_due, id),
	COL_BOOL(struct crl_due, complete),
	COL_BOOL(struct crl_due, delta),
};
static const struct rowmap crl_due_rows =
    ROWMAP(struct crl_due, crl_due_cols, NULL);

/*
 * One query over every tenant: the worker's refresh pass is the only
 * caller, and it must see all CAs, not one tenant's.  Only ids cross
 * the wall (fleetpki_crl_due); each CA is then read under its tenant.
 */
int
store_crl_due(struct db *db, int64_t before, int64_t delta_before,
    int64_t base_before, bool on_revoke, struct crl_due **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, before);
	q_i64(&p, delta_before);
	q_i64(&p, base_before);
	q_bool(&p, on_revoke);
	return q_many(db, STMT_CRL_DUE, &p, &crl_due_rows, (void **)out, n);
}

/* REVOKE_SERIALS and REVOKE_ISSUED_BETWEEN, in their order. */
static const struct colmap batch_cols[] = {
	COL_I64(struct revoke_batch, revoked),
	COL_I64(struct revoke_batch, already),
	COL_STR(struct revoke_batch, missing),
};
static const struct rowmap batch_rows =
    ROWMAP(struct revoke_batch, batch_cols, NULL);

int
store_revoke_serials(struct db *db, int64_t tenant_id, int64_t ca_id,
    const char *const *serials, size_t n, int reason, struct revoke_batch *out)
{
	struct buf arr = BUF_INIT;
	struct qparams p;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	/* As store_ocsp_status: only upper-case hex enters the literal. */
	for (i = 0; i < n; i++)
		if (serials[i][0] == '\0' ||
		    strspn(serials[i], "0123456789ABCDEF") !=
		        strlen(serials[i]))
			return -FP_E_BADREQ;
	buf_putc_array(&arr, serials, n);
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	q_text(&p, (const char *)arr.data);
	q_i64(&p, reason);
	rc = q_one(db, STMT_REVOKE_SERIALS, &p, &batch_rows, out);
	buf_free(&arr);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_revoke_issued_between(struct db *db, int64_t tenant_id, int64_t ca_id,
    int64_t from, int64_t to, int reason, struct revoke_batch *out)
{
	struct qparams p;
	int rc;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, ca_id);
	q_i64(&p, from);
	q_i64(&p, to);
	q_i64(&p, reason);
	rc = q_one(db, STMT_REVOKE_ISSUED_BETWEEN, &p, &batch_rows, out);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_crl_prune(struct db *db, int keep, int64_t *deleted)
{
	struct number_row row = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, keep);
	if ((rc = q_one(db, STMT_CRL_PRUNE, &p, &number_rows, &row)) == 0)
		*deleted = row.n;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}
