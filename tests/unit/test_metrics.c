/*
 * Unit tests for metrics: the Prometheus text writer (escaping, the
 * histogram's shape) and the shared region (counts made in a forked
 * child are seen by the parent).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleetpki/buf.h"
#include "fleetpki/metrics.h"

/* The buffer as a C string (the writer appends text only). */
static const char *
text(struct buf *b)
{
	buf_append(b, "", 1);
	b->len--;
	return (const char *)b->data;
}

static void
test_no_region(void **state)
{
	(void)state;
	/* Before metrics_init every update is a no-op, every read 0. */
	assert_false(metrics_enabled());
	metrics_http(0, 200, 0.01);
	metrics_ocsp(METRICS_OCSP_GOOD);
	assert_int_equal(metrics_get_http(0, metrics_code_slot(200)), 0);
	assert_int_equal(metrics_get_ocsp(METRICS_OCSP_GOOD), 0);
}

static void
test_family_and_escaping(void **state)
{
	struct buf b = BUF_INIT;
	struct metrics_label l[2] = { { "route", "/a/\"{}\"\\x\ny" },
		{ "status", "200" } };

	(void)state;
	metrics_write_family(&b, "x_total", "counter", "Help \\ with\nlines.");
	metrics_write_sample(&b, "x_total", l, 2, 18446744073709551615ULL);
	metrics_write_sample(&b, "y", NULL, 0, 0);
	metrics_write_gauge(&b, "z", l + 1, 1, 1.5);
	assert_string_equal(text(&b),
	    "# HELP x_total Help \\\\ with\\nlines.\n"
	    "# TYPE x_total counter\n"
	    "x_total{route=\"/a/\\\"{}\\\"\\\\x\\ny\",status=\"200\"} "
	    "18446744073709551615\n"
	    "y 0\n"
	    "z{status=\"200\"} 1.5\n");
	buf_free(&b);
}

static void
test_histogram_shape(void **state)
{
	static const double bounds[3] = { 0.1, 1, 10 };
	struct metrics_hist_snap h;
	struct metrics_label l[1] = { { "route", "/r" } };
	struct buf b = BUF_INIT;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.bucket[0] = 2; /* <= 0.1 */
	h.bucket[1] = 0;
	h.bucket[2] = 3; /* <= 10 */
	h.bucket[3] = 1; /* +Inf */
	h.sum_us = 12345678;
	metrics_write_histogram(&b, "lat_seconds", l, 1, bounds, 3, &h);
	/* Cumulative buckets, +Inf equal to _count, _sum in seconds. */
	assert_string_equal(text(&b),
	    "lat_seconds_bucket{route=\"/r\",le=\"0.1\"} 2\n"
	    "lat_seconds_bucket{route=\"/r\",le=\"1\"} 2\n"
	    "lat_seconds_bucket{route=\"/r\",le=\"10\"} 5\n"
	    "lat_seconds_bucket{route=\"/r\",le=\"+Inf\"} 6\n"
	    "lat_seconds_sum{route=\"/r\"} 12.345678\n"
	    "lat_seconds_count{route=\"/r\"} 6\n");
	buf_reset(&b);
	/* No labels: only le. */
	memset(&h, 0, sizeof(h));
	metrics_write_histogram(&b, "h", NULL, 0, bounds, 1, &h);
	assert_string_equal(text(&b),
	    "h_bucket{le=\"0.1\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
	    "h_sum 0.000000\nh_count 0\n");
	buf_free(&b);
}

static void
test_code_slots(void **state)
{
	(void)state;
	assert_string_equal(metrics_code_label(metrics_code_slot(201)), "201");
	assert_string_equal(metrics_code_label(metrics_code_slot(418)), "4xx");
	assert_string_equal(metrics_code_label(metrics_code_slot(226)), "2xx");
	assert_string_equal(metrics_code_label(metrics_code_slot(999)), "5xx");
	assert_string_equal(metrics_code_label(metrics_code_slot(0)), "5xx");
}

static void
test_shared_across_fork(void **state)
{
	struct metrics_hist_snap h;
	pid_t pid;
	int i, status;

	(void)state;
	assert_int_equal(metrics_init(), 0);
	assert_true(metrics_enabled());
	metrics_http(3, 404, 0.002);
	/* Two children count too, as fleetpkid's workers would. */
	for (i = 0; i < 2; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			metrics_http(3, 404, 0.3);
			metrics_http(METRICS_MAX_ROUTES + 7, 200, 20);
			metrics_set_dialect(2);
			metrics_issued();
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(status, 0);
	}
	assert_int_equal(metrics_get_http(3, metrics_code_slot(404)), 3);
	/* A slot past the table counts as "no route". */
	assert_int_equal(metrics_get_http(METRICS_ROUTE_NONE,
	                     metrics_code_slot(200)),
	    2);
	assert_int_equal(metrics_get_issued(2), 2);
	/* Our own dialect is still 0: only counted under 2. */
	metrics_issued();
	assert_int_equal(metrics_get_issued(0), 1);
	metrics_get_latency(3, &h);
	assert_int_equal(h.bucket[0], 1); /* 0.002 <= 0.005 */
	assert_int_equal(h.bucket[6], 2); /* 0.3 <= 0.5 */
	assert_int_equal(h.sum_us, 602000);
	metrics_get_latency(METRICS_ROUTE_NONE, &h);
	assert_int_equal(h.bucket[METRICS_LAT_BOUNDS], 2); /* 20 s: +Inf */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_region),
		cmocka_unit_test(test_family_and_escaping),
		cmocka_unit_test(test_histogram_shape),
		cmocka_unit_test(test_code_slots),
		cmocka_unit_test(test_shared_across_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
