/*
 * store/e2e: the rows of end-to-end data protection (sql/024) and its
 * usage events.  One statement per call; the rotation of any number of
 * devices is one statement too.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/store.h"
#include "fleetpki/store_e2e.h"
#include "fleetpki/store_tags.h"
#include "store_internal.h"

/* A text[] of 'names', or SQL NULL for none. */
static void
q_names(struct qparams *p, struct buf *b, const struct reg_names *names)
{
	if (names == NULL || names->n == 0) {
		q_null(p);
		return;
	}
	store_tags_text_array(b, names->v, names->n);
	q_text(p, (const char *)b->data);
}

struct rotate_row {
	int64_t devices, adjusted;
};
static const struct colmap rotate_cols[] = {
	COL_I64(struct rotate_row, devices),
	COL_I64(struct rotate_row, adjusted),
};
static const struct rowmap rotate_rows =
    ROWMAP(struct rotate_row, rotate_cols, NULL);

int
store_e2e_rotate(struct db *db, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, int days, int64_t hb_default,
    int64_t *devices, int64_t *adjusted)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	struct rotate_row r = { 0, 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, tags);
	q_text(&p, days > 0 ? "AUTOMATIC" : "CONTINUOUS");
	if (days > 0)
		q_i64(&p, days);
	else
		q_null(&p);
	q_i64(&p, hb_default);
	rc = q_one(db, STMT_E2E_ROTATE, &p, &rotate_rows, &r);
	buf_free(&a1);
	buf_free(&a2);
	*devices = r.devices;
	*adjusted = r.adjusted;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

static const struct colmap e2e_cols[] = {
	COL_I64(struct e2e_rec, device_id),
	COL_BYTEA(struct e2e_rec, secret_sealed),
	COL_BOOL(struct e2e_rec, blocked),
	COL_BOOL(struct e2e_rec, continuous),
	COL_I64(struct e2e_rec, base),
	COL_I64(struct e2e_rec, last_uplink),
	COL_I64(struct e2e_rec, last_downlink),
	COL_I64(struct e2e_rec, current),
};
static const struct rowmap e2e_rows =
    ROWMAP(struct e2e_rec, e2e_cols, store_e2e_rec_clear);

void
store_e2e_rec_clear(struct e2e_rec *r)
{
	buf_free(&r->secret_sealed);
}

int
store_e2e_lookup(struct db *db, int64_t tenant, const char *rot,
    struct e2e_rec *out)
{
	struct qparams p;
	int rc;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant);
	q_text(&p, rot);
	if ((rc = q_one(db, STMT_E2E_LOOKUP, &p, &e2e_rows, out)) != 0)
		store_e2e_rec_clear(out);
	return rc;
}

int
store_e2e_take(struct db *db, int64_t tenant, int64_t device_id, bool downlink,
    int64_t epoch)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_i64(&p, device_id);
	q_i64(&p, epoch);
	rc = q_exec(db,
	    downlink ? STMT_E2E_TAKE_DOWNLINK : STMT_E2E_TAKE_UPLINK, &p, &res);
	if (rc == 0 && PQntuples(res) != 1)
		rc = -FP_E_NOTFOUND;
	PQclear(res);
	return rc;
}

int
store_e2e_usage(struct db *db, int64_t tenant, int64_t device_id,
    const char *event)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant);
	q_i64(&p, device_id);
	q_text(&p, event);
	return q_command(db, STMT_E2E_USAGE, &p);
}
