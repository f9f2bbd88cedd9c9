/*
 * stmt_metrics: the statements of the metrics scrape (src/store/metrics.c).
 */
#ifndef FLEETPKI_STMT_METRICS_H
#define FLEETPKI_STMT_METRICS_H

/* Every queue's depth and age, all tenants, aggregates only (sql/028). */
#define FOREACH_STMT_METRICS(X) \
	X(METRICS_QUEUES, "SELECT queue, kind, state, n, oldest_ms " \
	    "FROM fleetpki_metrics_queues() ORDER BY queue, kind, state")

#endif
