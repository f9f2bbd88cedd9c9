/*
 * store_metrics: what the metrics scrape reads from the database
 * (src/store/metrics.c; sql/028).
 */
#ifndef FLEETPKI_STORE_METRICS_H
#define FLEETPKI_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* One queue's depth and age, aggregated over every tenant. */
struct metrics_queue_rec {
	char queue[16]; /* "job" or "webhook" */
	char kind[64]; /* the job kind; "" for webhooks */
	char state[16];
	int64_t n;
	int64_t oldest_ms; /* see sql/028_metrics.sql */
};

/*
 * Every queue row (one statement, set-based), into a new array '*out'
 * (free()) of '*n'.
 */
int store_metrics_queues(struct db *, struct metrics_queue_rec **out,
    size_t *n);

#endif
