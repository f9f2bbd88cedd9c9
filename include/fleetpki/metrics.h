/*
 * metrics: counters and histograms shared by every process of a host's
 * daemon, and the Prometheus text exposition (format 0.0.4).
 *
 * One fixed-size table in a MAP_SHARED|MAP_ANONYMOUS region, made by a
 * master (fleetpkid's, fleetpki-worker's) before it forks: its children
 * inherit the mapping, so what any of them counts every other one sees,
 * and a respawned child counts on from where the dead one stopped.
 * Updates are relaxed C11 atomic adds: no lock on the request path.
 * Every label set is small and fixed (a route's slot in the router
 * table, never a raw path; a status code from a fixed list; a dialect;
 * an OCSP status; a job kind), so the table has a bounded size and the
 * exposition a bounded cardinality.
 *
 * Without a region (the CLI, unit tests, a process whose master made
 * none) every update is a no-op.
 */
#ifndef FLEETPKI_METRICS_H
#define FLEETPKI_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Route slots; a route past the last one, and "no route", count here. */
#define METRICS_MAX_ROUTES 256
#define METRICS_ROUTE_NONE (METRICS_MAX_ROUTES - 1)
/* Dialect slots: 0 is "none" (outside a request: the worker, the CLI). */
#define METRICS_MAX_DIALECTS 32
#define METRICS_MAX_JOB_KINDS 32
/* Latency histogram: 11 upper bounds (seconds) and +Inf. */
#define METRICS_LAT_BOUNDS 11
/* Delivery lag histogram: 12 upper bounds (seconds) and +Inf. */
#define METRICS_LAG_BOUNDS 12

extern const double metrics_lat_bounds[METRICS_LAT_BOUNDS];
extern const double metrics_lag_bounds[METRICS_LAG_BOUNDS];

/*
 * HTTP status codes counted by their own label; any other code counts
 * as its class ("2xx" .. "5xx").  METRICS_NCODES is the list's length
 * plus the four classes.
 */
#define METRICS_NCODES_LISTED 20
#define METRICS_NCODES (METRICS_NCODES_LISTED + 4)
/* The label of code slot 'i' ("200", ..., "5xx"). */
const char *metrics_code_label(size_t i);
/* The slot of HTTP status 'status'. */
size_t metrics_code_slot(int status);

/* What an OCSP answer said, per certificate or per error response. */
#define FOREACH_METRICS_OCSP(X)                                                \
	X(GOOD, "good")                                                        \
	X(REVOKED, "revoked")                                                  \
	X(UNKNOWN, "unknown")                                                  \
	X(MALFORMED, "malformed_request")                                      \
	X(UNAUTHORIZED, "unauthorized")                                        \
	X(TRYLATER, "try_later")                                               \
	X(INTERNAL, "internal_error")
enum metrics_ocsp {
#define X(e, s) METRICS_OCSP_##e,
	FOREACH_METRICS_OCSP(X)
#undef X
	    METRICS_OCSP__COUNT
};

/* How one webhook delivery attempt ended (worker/webhook.c). */
#define FOREACH_METRICS_WH(X)                                                  \
	X(DELIVERED, "delivered")                                              \
	X(RETRY, "failed_retry")                                               \
	X(DEAD, "failed_dead")                                                 \
	X(GONE, "gone")
enum metrics_wh {
#define X(e, s) METRICS_WH_##e,
	FOREACH_METRICS_WH(X)
#undef X
	    METRICS_WH__COUNT
};

/* Database trouble the store saw (store/db.c). */
#define FOREACH_METRICS_DB(X)                                                  \
	X(STATEMENT, "statement")                                              \
	X(CONNECT, "connect")                                                  \
	X(CONNECTION_LOST, "connection_lost")
enum metrics_db {
#define X(e, s) METRICS_DB_##e,
	FOREACH_METRICS_DB(X)
#undef X
	    METRICS_DB__COUNT
};

/*
 * Make the shared region (before forking).  0, or -1 when mmap fails
 * (then nothing is counted; the daemon still runs).
 */
int metrics_init(void);
/* Whether this process counts into a region. */
int metrics_enabled(void);

/* A request of route slot 'route' answered 'status' after 'seconds'. */
void metrics_http(size_t route, int status, double seconds);
/*
 * The dialect (1 .. METRICS_MAX_DIALECTS-1) of the request in hand, 0
 * after it: what metrics_issued() counts under.  Per process.
 */
void metrics_set_dialect(size_t dialect);
/* A certificate was issued and stored (core_issue_and_store). */
void metrics_issued(void);
void metrics_ocsp(enum metrics_ocsp what);
void metrics_db(enum metrics_db what);
/* A successful connection after this process's first one. */
void metrics_db_reconnect(void);
/* A job of kind slot 'kind' ran; 'ok' whether it succeeded. */
void metrics_job(size_t kind, int ok);
void metrics_webhook(enum metrics_wh what);
/* An event reached its endpoint 'seconds' after it was recorded. */
void metrics_webhook_lag(double seconds);

/* ---- reading the region (for the exposition) ---------------------- */

/* Buckets not cumulative; the last is +Inf.  Sum in microseconds. */
struct metrics_hist_snap {
	uint64_t bucket[METRICS_LAG_BOUNDS + 1];
	uint64_t sum_us;
};

uint64_t metrics_get_http(size_t route, size_t code);
void metrics_get_latency(size_t route, struct metrics_hist_snap *out);
uint64_t metrics_get_issued(size_t dialect);
uint64_t metrics_get_ocsp(enum metrics_ocsp what);
uint64_t metrics_get_db(enum metrics_db what);
uint64_t metrics_get_db_reconnects(void);
uint64_t metrics_get_job(size_t kind, int ok);
uint64_t metrics_get_webhook(enum metrics_wh what);
void metrics_get_webhook_lag(struct metrics_hist_snap *out);
const char *metrics_ocsp_label(enum metrics_ocsp what);
const char *metrics_wh_label(enum metrics_wh what);
const char *metrics_db_label(enum metrics_db what);

/* ---- the exposition writer (pure: unit-tested) -------------------- */

struct metrics_label {
	const char *name;
	const char *value;
};

/*
 * "# HELP 'name' 'help'" (help escaped: backslash, newline) and
 * "# TYPE 'name' 'type'" ("counter", "gauge", "histogram").  Once per
 * family, before its samples.
 */
void metrics_write_family(struct buf *b, const char *name, const char *type,
    const char *help);
/*
 * One sample line: name{l1="v1",...} value.  Label values are escaped
 * (backslash, double quote, newline).  An integer value is printed
 * exactly; see metrics_write_gauge for fractions.
 */
void metrics_write_sample(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, uint64_t value);
void metrics_write_gauge(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, double value);
/*
 * A histogram's samples under 'labels': name_bucket{...,le="b"} for
 * each of the 'nbounds' upper bounds and "+Inf" (cumulative counts from
 * the per-bucket counts in 'h'), then name_sum (seconds) and
 * name_count.  'labels' may hold at most 7 labels.
 */
void metrics_write_histogram(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, const double *bounds,
    size_t nbounds, const struct metrics_hist_snap *h);

/*
 * The database counters of this process family: fleetpki_db_errors_total
 * by kind and fleetpki_db_reconnects_total; 'who' names the processes in
 * the help text ("fleetpkid's workers").
 */
void metrics_write_db(struct buf *b, const char *who);

/* The media type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
