/*
 * metrics: GET /metrics, fleetpkid's counters in the Prometheus text
 * format (metrics.h), for a loopback peer or the metrics token (the
 * table's AUTH_METRICS; src/front/metrics_auth.c).
 *
 * The counters are the host's (every worker counts into the master's
 * shared region, so any worker answers for all of them); the queue
 * gauges are the database's, every tenant's, read now in one query.
 * Requests are labelled by the route's pattern from the router's table,
 * never by the raw path, so the series are bounded by the table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/api.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/core_metrics.h"
#include "fleetpki/http.h"
#include "fleetpki/metrics.h"
#include "fleetpki/router.h"
#include "fleetpki/util.h"

/* The labels of route slot 'slot': dialect, method, route pattern. */
static void
route_labels(size_t slot, struct metrics_label l[3])
{
	const struct route_group *g = NULL;
	const struct route *r =
	    slot == METRICS_ROUTE_NONE ? NULL : router_at(slot, &g);

	l[0].name = "dialect";
	l[0].value = g != NULL ? g->name : "none";
	l[1].name = "method";
	l[1].value = r != NULL ? r->method : "";
	l[2].name = "route";
	l[2].value = r != NULL ? r->pattern : "(unmatched)";
}

/* Slots in use: the table's routes, and the "no route" slot. */
static int
slot_used(size_t slot, size_t nroutes)
{
	return slot < nroutes || slot == METRICS_ROUTE_NONE;
}

static void
write_http(struct buf *b)
{
	struct metrics_label l[4];
	struct metrics_hist_snap h;
	size_t nroutes = router_nroutes(), slot, code, i;
	uint64_t v, n;

	if (nroutes >= METRICS_ROUTE_NONE)
		nroutes = METRICS_ROUTE_NONE; /* the rest count as "none" */
	metrics_write_family(b, "fleetpki_http_requests_total", "counter",
	    "HTTP requests answered, by route pattern and status.");
	for (slot = 0; slot < METRICS_MAX_ROUTES; slot++) {
		if (!slot_used(slot, nroutes))
			continue;
		route_labels(slot, l);
		l[3].name = "status";
		for (code = 0; code < METRICS_NCODES; code++) {
			if ((v = metrics_get_http(slot, code)) == 0)
				continue;
			l[3].value = metrics_code_label(code);
			metrics_write_sample(b, "fleetpki_http_requests_total",
			    l, 4, v);
		}
	}
	metrics_write_family(b, "fleetpki_http_request_duration_seconds",
	    "histogram",
	    "Time from reading a request to writing its answer, by route "
	    "pattern.");
	for (slot = 0; slot < METRICS_MAX_ROUTES; slot++) {
		if (!slot_used(slot, nroutes))
			continue;
		metrics_get_latency(slot, &h);
		for (i = 0, n = 0; i <= METRICS_LAT_BOUNDS; i++)
			n += h.bucket[i];
		if (n == 0)
			continue;
		route_labels(slot, l);
		metrics_write_histogram(b,
		    "fleetpki_http_request_duration_seconds", l, 3,
		    metrics_lat_bounds, METRICS_LAT_BOUNDS, &h);
	}
}

static void
write_counters(struct buf *b)
{
	struct metrics_label l[1];
	const struct route_group *g;
	size_t i;
	int what;

	metrics_write_family(b, "fleetpki_certificates_issued_total", "counter",
	    "Certificates issued and stored, by API dialect.");
	l[0].name = "dialect";
	for (i = 1; i <= router_ndialects() && i < METRICS_MAX_DIALECTS; i++) {
		g = router_dialect_at(i);
		l[0].value = g->name;
		metrics_write_sample(b, "fleetpki_certificates_issued_total", l,
		    1, metrics_get_issued(i));
	}
	metrics_write_family(b, "fleetpki_ocsp_responses_total", "counter",
	    "OCSP answers: per certificate status, or the error response.");
	l[0].name = "status";
	for (what = 0; what < METRICS_OCSP__COUNT; what++) {
		l[0].value = metrics_ocsp_label((enum metrics_ocsp)what);
		metrics_write_sample(b, "fleetpki_ocsp_responses_total", l, 1,
		    metrics_get_ocsp((enum metrics_ocsp)what));
	}
	metrics_write_db(b, "fleetpkid's workers");
}

static const char *const wh_states[] = { "pending", "retrying", "dead" };

/* The queue gauges; without the database only "up" says so. */
static void
write_queues(struct http_req *req, struct buf *b)
{
	struct metrics_queue_rec *q = NULL;
	struct metrics_label l[2];
	size_t n = 0, i, s;
	int ok;
	int64_t v, age;

	ok = core_metrics_queues(req->ctx, &q, &n) == 0;
	metrics_write_family(b, "fleetpki_queue_stats_up", "gauge",
	    "1 when the queue gauges below were read from the database now.");
	metrics_write_sample(b, "fleetpki_queue_stats_up", NULL, 0, ok);
	metrics_write_family(b, "fleetpki_jobs", "gauge",
	    "Jobs in the queue (all tenants, all hosts), by kind and state.");
	for (i = 0; i < n; i++) {
		if (strcmp(q[i].queue, "job") != 0)
			continue;
		l[0].name = "kind";
		l[0].value = q[i].kind;
		l[1].name = "state";
		l[1].value = q[i].state;
		metrics_write_sample(b, "fleetpki_jobs", l, 2,
		    (uint64_t)q[i].n);
	}
	metrics_write_family(b, "fleetpki_job_oldest_due_seconds", "gauge",
	    "How long the oldest due pending job of a kind has waited.");
	for (i = 0; i < n; i++) {
		if (strcmp(q[i].queue, "job") != 0 ||
		    strcmp(q[i].state, "pending") != 0)
			continue;
		l[0].name = "kind";
		l[0].value = q[i].kind;
		metrics_write_gauge(b, "fleetpki_job_oldest_due_seconds", l, 1,
		    (double)q[i].oldest_ms / 1000.0);
	}
	metrics_write_family(b, "fleetpki_webhook_deliveries", "gauge",
	    "Webhook deliveries not delivered (all tenants), by state.");
	for (s = 0; ok && s < FP_ARRAY_LEN(wh_states); s++) {
		for (i = 0, v = 0; i < n; i++)
			if (strcmp(q[i].queue, "webhook") == 0 &&
			    strcmp(q[i].state, wh_states[s]) == 0)
				v = q[i].n;
		l[0].name = "state";
		l[0].value = wh_states[s];
		metrics_write_sample(b, "fleetpki_webhook_deliveries", l, 1,
		    (uint64_t)v);
	}
	metrics_write_family(b, "fleetpki_webhook_oldest_pending_seconds",
	    "gauge",
	    "Age of the oldest webhook delivery still to be made (the "
	    "delivery lag); 0 when none waits.");
	for (i = 0, age = 0; i < n; i++)
		if (strcmp(q[i].queue, "webhook") == 0 &&
		    strcmp(q[i].state, "dead") != 0 && q[i].oldest_ms > age)
			age = q[i].oldest_ms;
	if (ok)
		metrics_write_gauge(b,
		    "fleetpki_webhook_oldest_pending_seconds", NULL, 0,
		    (double)age / 1000.0);
	free(q);
}

static int
metrics_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	(void)st;
	buf_reset(&resp->body);
	write_http(&resp->body);
	write_counters(&resp->body);
	write_queues(req, &resp->body);
	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
	return 0;
}

static const struct route routes[] = {
	{ "GET", "/metrics", metrics_get, AUTH_METRICS, NULL, NULL, 0 },
};

const struct route_group metrics_routes = ROUTE_GROUP("metrics", routes, NULL);
