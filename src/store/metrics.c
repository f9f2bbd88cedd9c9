/*
 * metrics: the scrape's one read (sql/028's fleetpki_metrics_queues).
 */
#include "config.h"

#include <stdlib.h>

#include "fleetpki/store_metrics.h"
#include "store_internal.h"

static const struct colmap queue_cols[] = {
	COL_CHARS(struct metrics_queue_rec, queue),
	COL_CHARS(struct metrics_queue_rec, kind),
	COL_CHARS(struct metrics_queue_rec, state),
	COL_I64(struct metrics_queue_rec, n),
	COL_I64(struct metrics_queue_rec, oldest_ms),
};
static const struct rowmap queue_rows =
    ROWMAP(struct metrics_queue_rec, queue_cols, NULL);

int
store_metrics_queues(struct db *db, struct metrics_queue_rec **out, size_t *n)
{
	void *v = NULL;
	int rc;

	rc = q_many(db, STMT_METRICS_QUEUES, NULL, &queue_rows, &v, n);
	*out = v;
	return rc;
}
