/*
 * test_worker: the pure parts of the job runner (worker.h): the table of
 * job kinds is well-formed (names the jobs table accepts, a budget the
 * lease outlasts), classes come out once each, and the back-off grows
 * and stops growing.  The queue itself is tested black-box
 * (tests/blackbox/test_jobs.py), against PostgreSQL.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/store.h"
#include "fleetpki/worker.h"

static void
test_kinds_table(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(worker_njob_kinds > 0);
	for (i = 0; i < worker_njob_kinds; i++) {
		const struct job_kind *k = &worker_job_kinds[i];

		/* sql/004_jobs.sql: kind ~ '^[a-z0-9_.]{1,64}$'. */
		assert_true(strlen(k->name) >= 1 &&
		    strlen(k->name) <= STORE_JOB_KIND_MAX);
		assert_int_equal(
		    strspn(k->name, "abcdefghijklmnopqrstuvwxyz0123456789_."),
		    strlen(k->name));
		assert_non_null(k->class);
		assert_non_null(k->run);
		assert_true(k->budget_s > 0);
		assert_true(k->max_attempts >= 1);
		assert_true(k->every_s >= 0 || k->every_s == JOB_EVERY_TICK);
		for (j = 0; j < i; j++)
			assert_string_not_equal(k->name,
			    worker_job_kinds[j].name);
	}
}

/* The CRL refresh is a scheduled job of the "pki" class. */
static void
test_crl_refresh_is_pki(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < worker_njob_kinds; i++)
		if (strcmp(worker_job_kinds[i].name, "crl.refresh") == 0)
			break;
	assert_true(i < worker_njob_kinds);
	assert_string_equal(worker_job_kinds[i].class, "pki");
	assert_int_equal(worker_job_kinds[i].every_s, JOB_EVERY_TICK);
}

static void
test_classes(void **state)
{
	const char *classes[8], *one[1];
	size_t n, i, j, k;

	(void)state;
	n = worker_classes(classes, 8);
	assert_true(n >= 1);
	/* Each once, and every kind's class among them. */
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			assert_string_not_equal(classes[i], classes[j]);
	for (k = 0; k < worker_njob_kinds; k++) {
		for (i = 0; i < n; i++)
			if (strcmp(classes[i], worker_job_kinds[k].class) == 0)
				break;
		assert_true(i < n);
	}
	/* Never more than asked for. */
	assert_int_equal(worker_classes(one, 1), 1);
	assert_int_equal(worker_classes(one, 0), 0);
}

static void
test_backoff(void **state)
{
	int a, prev = 0;

	(void)state;
	assert_int_equal(worker_job_backoff_s(0), 10);
	assert_int_equal(worker_job_backoff_s(1), 10);
	assert_int_equal(worker_job_backoff_s(2), 20);
	assert_int_equal(worker_job_backoff_s(3), 40);
	for (a = 1; a < 100; a++) {
		int b = worker_job_backoff_s(a);

		assert_true(b >= prev);
		assert_true(b <= 3600);
		prev = b;
	}
	assert_int_equal(worker_job_backoff_s(99), 3600);
	assert_int_equal(worker_job_backoff_s(1 << 30), 3600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_table),
		cmocka_unit_test(test_crl_refresh_is_pki),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
