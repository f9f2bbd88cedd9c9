/*
 * core_metrics: the gauges a metrics scrape reads at scrape time
 * (src/core/metrics.c); the counters are metrics.h's.
 */
#ifndef FLEETPKI_CORE_METRICS_H
#define FLEETPKI_CORE_METRICS_H

#include <stddef.h>

#include "fleetpki/store_metrics.h"

struct fp_ctx;

/*
 * The job queues' and webhook deliveries' depth and age, all tenants
 * (one query).  '*out' is free()d by the caller.
 */
int core_metrics_queues(struct fp_ctx *ctx, struct metrics_queue_rec **out,
    size_t *n);

#endif
