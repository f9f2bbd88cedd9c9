/*
 * store/registry: device profiles, devices, the allow and deny lists and
 * desired properties (sql/010).  Every statement names its tenant; the
 * walls of sql/005 hold behind them.
 */
#include "config.h"

#include <string.h>

#include "fleetpki/store.h"
#include "fleetpki/store_registry.h"
#include "store_internal.h"

/* PROFILE_INSERT's RETURNING: id, created_at. */
static const struct colmap profile_insert_cols[] = {
	COL_I64(struct profile_rec, id),
	COL_I64(struct profile_rec, created_at),
};
static const struct rowmap profile_insert_rows =
    ROWMAP(struct profile_rec, profile_insert_cols, NULL);

int
store_profile_insert(struct db *db, struct profile_rec *pr)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, pr->tenant_id);
	q_text(&p, pr->uid);
	q_text(&p, pr->name);
	rc = q_one(db, STMT_PROFILE_INSERT, &p, &profile_insert_rows, pr);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}
