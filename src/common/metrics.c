/*
 * metrics: the shared table (one mmap'd region per daemon, atomics) and
 * the Prometheus text exposition writer.
 *
 * Why a region made before fork and not the database: a counter update
 * is one relaxed atomic add on memory every sibling maps, so counting
 * costs nothing a request would notice and works while the database is
 * down (when the database error counters matter most).  The price is
 * that counters start from zero when the daemon's master restarts;
 * Prometheus' rate() handles such resets.
 */
#include "config.h"

#include <inttypes.h>
#include <float.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "fleetpki/buf.h"
#include "fleetpki/metrics.h"
#include "fleetpki/util.h"

const double metrics_lat_bounds[METRICS_LAT_BOUNDS] = { 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
const double metrics_lag_bounds[METRICS_LAG_BOUNDS] = { 0.1, 0.5, 1, 2, 5, 10,
	30, 60, 300, 900, 3600, 21600 };

static const int listed_codes[METRICS_NCODES_LISTED] = { 200, 201, 202, 204,
	304, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 502,
	503, 504 };
static const char *const code_labels[METRICS_NCODES] = { "200", "201", "202",
	"204", "304", "400", "401", "403", "404", "405", "409", "410", "413",
	"415", "422", "429", "500", "502", "503", "504", "2xx", "3xx", "4xx",
	"5xx" };

static const char *const ocsp_labels[] = {
#define X(e, s) s,
	FOREACH_METRICS_OCSP(X)
#undef X
};
static const char *const wh_labels[] = {
#define X(e, s) s,
	FOREACH_METRICS_WH(X)
#undef X
};
static const char *const db_labels[] = {
#define X(e, s) s,
	FOREACH_METRICS_DB(X)
#undef X
};

struct hist {
	_Atomic uint64_t bucket[METRICS_LAG_BOUNDS + 1];
	_Atomic uint64_t sum_us;
};

/* The whole shared table: fixed size, zeroed by mmap. */
struct region {
	_Atomic uint64_t http[METRICS_MAX_ROUTES][METRICS_NCODES];
	struct hist latency[METRICS_MAX_ROUTES];
	_Atomic uint64_t issued[METRICS_MAX_DIALECTS];
	_Atomic uint64_t ocsp[METRICS_OCSP__COUNT];
	_Atomic uint64_t db[METRICS_DB__COUNT];
	_Atomic uint64_t db_reconnects;
	_Atomic uint64_t jobs[METRICS_MAX_JOB_KINDS][2];
	_Atomic uint64_t webhook[METRICS_WH__COUNT];
	struct hist webhook_lag;
};

static struct region *region;
/* Per process: the dialect of the request in hand; connected before. */
static size_t cur_dialect;

int
metrics_init(void)
{
	void *p;

	if (region != NULL)
		return 0;
	p = mmap(NULL, sizeof(*region), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	region = p;
	return 0;
}

int
metrics_enabled(void)
{
	return region != NULL;
}

static void
add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

const char *
metrics_code_label(size_t i)
{
	return i < METRICS_NCODES ? code_labels[i] : "5xx";
}

size_t
metrics_code_slot(int status)
{
	size_t i;

	for (i = 0; i < METRICS_NCODES_LISTED; i++)
		if (listed_codes[i] == status)
			return i;
	if (status >= 200 && status < 600)
		return METRICS_NCODES_LISTED + (size_t)(status / 100 - 2);
	return METRICS_NCODES - 1; /* nonsense counts as a server error */
}

/* The bucket of 'v' among 'n' upper bounds ('n': +Inf). */
static size_t
bucket_of(const double *bounds, size_t n, double v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v <= bounds[i])
			return i;
	return n;
}

static void
hist_add(struct hist *h, const double *bounds, size_t n, double v)
{
	if (!(v >= 0)) /* negative or NaN: a clock step */
		v = 0;
	add(&h->bucket[bucket_of(bounds, n, v)], 1);
	add(&h->sum_us, (uint64_t)(v * 1e6 + 0.5));
}

static void
hist_get(struct hist *h, struct metrics_hist_snap *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (region == NULL)
		return;
	for (i = 0; i < FP_ARRAY_LEN(h->bucket); i++)
		out->bucket[i] = get(&h->bucket[i]);
	out->sum_us = get(&h->sum_us);
}

void
metrics_http(size_t route, int status, double seconds)
{
	if (region == NULL)
		return;
	if (route >= METRICS_MAX_ROUTES)
		route = METRICS_ROUTE_NONE;
	add(&region->http[route][metrics_code_slot(status)], 1);
	hist_add(&region->latency[route], metrics_lat_bounds,
	    METRICS_LAT_BOUNDS, seconds);
}

void
metrics_set_dialect(size_t dialect)
{
	cur_dialect = dialect < METRICS_MAX_DIALECTS ? dialect : 0;
}

void
metrics_issued(void)
{
	if (region != NULL)
		add(&region->issued[cur_dialect], 1);
}

void
metrics_ocsp(enum metrics_ocsp what)
{
	if (region != NULL && what < METRICS_OCSP__COUNT)
		add(&region->ocsp[what], 1);
}

void
metrics_db(enum metrics_db what)
{
	if (region != NULL && what < METRICS_DB__COUNT)
		add(&region->db[what], 1);
}

void
metrics_db_reconnect(void)
{
	if (region != NULL)
		add(&region->db_reconnects, 1);
}

void
metrics_job(size_t kind, int ok)
{
	if (region != NULL && kind < METRICS_MAX_JOB_KINDS)
		add(&region->jobs[kind][ok ? 1 : 0], 1);
}

void
metrics_webhook(enum metrics_wh what)
{
	if (region != NULL && what < METRICS_WH__COUNT)
		add(&region->webhook[what], 1);
}

void
metrics_webhook_lag(double seconds)
{
	if (region != NULL)
		hist_add(&region->webhook_lag, metrics_lag_bounds,
		    METRICS_LAG_BOUNDS, seconds);
}

uint64_t
metrics_get_http(size_t route, size_t code)
{
	if (region == NULL || route >= METRICS_MAX_ROUTES ||
	    code >= METRICS_NCODES)
		return 0;
	return get(&region->http[route][code]);
}

void
metrics_get_latency(size_t route, struct metrics_hist_snap *out)
{
	if (region == NULL || route >= METRICS_MAX_ROUTES) {
		memset(out, 0, sizeof(*out));
		return;
	}
	hist_get(&region->latency[route], out);
}

uint64_t
metrics_get_issued(size_t dialect)
{
	return region != NULL && dialect < METRICS_MAX_DIALECTS
	    ? get(&region->issued[dialect])
	    : 0;
}

uint64_t
metrics_get_ocsp(enum metrics_ocsp what)
{
	return region != NULL && what < METRICS_OCSP__COUNT
	    ? get(&region->ocsp[what])
	    : 0;
}

uint64_t
metrics_get_db(enum metrics_db what)
{
	return region != NULL && what < METRICS_DB__COUNT
	    ? get(&region->db[what])
	    : 0;
}

uint64_t
metrics_get_db_reconnects(void)
{
	return region != NULL ? get(&region->db_reconnects) : 0;
}

uint64_t
metrics_get_job(size_t kind, int ok)
{
	return region != NULL && kind < METRICS_MAX_JOB_KINDS
	    ? get(&region->jobs[kind][ok ? 1 : 0])
	    : 0;
}

uint64_t
metrics_get_webhook(enum metrics_wh what)
{
	return region != NULL && what < METRICS_WH__COUNT
	    ? get(&region->webhook[what])
	    : 0;
}

void
metrics_get_webhook_lag(struct metrics_hist_snap *out)
{
	if (region == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	hist_get(&region->webhook_lag, out);
}

const char *
metrics_ocsp_label(enum metrics_ocsp what)
{
	return what < METRICS_OCSP__COUNT ? ocsp_labels[what] : "?";
}

const char *
metrics_wh_label(enum metrics_wh what)
{
	return what < METRICS_WH__COUNT ? wh_labels[what] : "?";
}

const char *
metrics_db_label(enum metrics_db what)
{
	return what < METRICS_DB__COUNT ? db_labels[what] : "?";
}

/* ---- exposition ---------------------------------------------------- */

/* Text with '\\', '\n' and, in label values ('quote'), '"' escaped. */
static void
put_escaped(struct buf *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else if (quote && *s == '"')
			buf_puts(b, "\\\"");
		else
			buf_append(b, s, 1);
	}
}

void
metrics_write_family(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s ", name);
	put_escaped(b, help, 0);
	buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void
put_labels(struct buf *b, const struct metrics_label *labels, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	buf_puts(b, "{");
	for (i = 0; i < n; i++) {
		buf_printf(b, "%s%s=\"", i > 0 ? "," : "", labels[i].name);
		put_escaped(b, labels[i].value != NULL ? labels[i].value : "",
		    1);
		buf_puts(b, "\"");
	}
	buf_puts(b, "}");
}

void
metrics_write_sample(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, uint64_t value)
{
	buf_puts(b, name);
	put_labels(b, labels, nlabels);
	buf_printf(b, " %" PRIu64 "\n", value);
}

/* A float as Prometheus reads it: shortest exact-enough, or +Inf/NaN. */
static void
put_double(struct buf *b, double v)
{
	if (v != v)
		buf_puts(b, "NaN");
	else if (v > DBL_MAX || v < -DBL_MAX)
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else
		buf_printf(b, "%.17g", v);
}

void
metrics_write_gauge(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, double value)
{
	buf_puts(b, name);
	put_labels(b, labels, nlabels);
	buf_puts(b, " ");
	put_double(b, value);
	buf_puts(b, "\n");
}

void
metrics_write_histogram(struct buf *b, const char *name,
    const struct metrics_label *labels, size_t nlabels, const double *bounds,
    size_t nbounds, const struct metrics_hist_snap *h)
{
	struct metrics_label l[8];
	char le[32], full[128];
	uint64_t cum = 0;
	size_t i;

	if (nlabels > 7)
		nlabels = 7;
	if (nbounds > METRICS_LAG_BOUNDS)
		nbounds = METRICS_LAG_BOUNDS;
	if (nlabels > 0)
		memcpy(l, labels, nlabels * sizeof(*l));
	l[nlabels].name = "le";
	l[nlabels].value = le;
	snprintf(full, sizeof(full), "%s_bucket", name);
	for (i = 0; i <= nbounds; i++) {
		cum += h->bucket[i];
		if (i < nbounds)
			snprintf(le, sizeof(le), "%g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		metrics_write_sample(b, full, l, nlabels + 1, cum);
	}
	/* Microseconds as exact decimal seconds. */
	buf_printf(b, "%s_sum", name);
	put_labels(b, labels, nlabels);
	buf_printf(b, " %" PRIu64 ".%06" PRIu64 "\n", h->sum_us / 1000000,
	    h->sum_us % 1000000);
	snprintf(full, sizeof(full), "%s_count", name);
	metrics_write_sample(b, full, labels, nlabels, cum);
}

void
metrics_write_db(struct buf *b, const char *who)
{
	struct metrics_label l[1];
	char help[160];
	int what;

	snprintf(help, sizeof(help),
	    "Database failures seen by %s: failed statements, failed "
	    "connects, connections lost.",
	    who);
	metrics_write_family(b, "fleetpki_db_errors_total", "counter", help);
	l[0].name = "kind";
	for (what = 0; what < METRICS_DB__COUNT; what++) {
		l[0].value = metrics_db_label((enum metrics_db)what);
		metrics_write_sample(b, "fleetpki_db_errors_total", l, 1,
		    metrics_get_db((enum metrics_db)what));
	}
	metrics_write_family(b, "fleetpki_db_reconnects_total", "counter",
	    "Database connections made again after one was lost or "
	    "failed.");
	metrics_write_sample(b, "fleetpki_db_reconnects_total", NULL, 0,
	    metrics_get_db_reconnects());
}
