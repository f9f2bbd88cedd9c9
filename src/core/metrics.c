/*
 * metrics: the scrape-time gauges, read through the store in one query.
 */
#include "config.h"

#include "fleetpki/core.h"
#include "fleetpki/core_metrics.h"
#include "fleetpki/store_metrics.h"

int
core_metrics_queues(struct fp_ctx *ctx, struct metrics_queue_rec **out,
    size_t *n)
{
	return store_metrics_queues(ctx->db, out, n);
}
