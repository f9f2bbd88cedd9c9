/*
 * Unit tests for the store's query helper: parameter binding, row maps
 * read from a PGresult built in memory (libpq can make one without a
 * server), the retry policy of store_tx, and store_tx's refusal to run
 * work when no transaction could be opened.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/store.h"
#include "../../src/store/store_internal.h"

/* A result of 'ncols' text columns and one row of 'vals' (NULL = NULL). */
static PGresult *
make_result(int ncols, const char *const *vals)
{
	PGresAttDesc attrs[32];
	PGresult *res;
	int i;

	assert_true(ncols <= 32);
	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i < ncols; i++) {
		attrs[i].name = (char *)"c";
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	assert_non_null(res);
	assert_int_equal(PQsetResultAttrs(res, ncols, attrs), 1);
	for (i = 0; i < ncols; i++)
		assert_int_equal(PQsetvalue(res, 0, i, (char *)vals[i],
		                     vals[i] == NULL ? -1
		                                     : (int)strlen(vals[i])),
		    1);
	return res;
}

struct sample {
	int64_t id;
	int count;
	bool flag;
	char tag[6];
	char *text;
	struct buf blob;
	int64_t untouched;
};

static void
sample_clear(struct sample *s)
{
	free(s->text);
	buf_free(&s->blob);
	memset(s, 0, sizeof(*s));
}

static const struct colmap sample_cols[] = {
	COL_I64(struct sample, id),
	COL_INT(struct sample, count),
	COL_BOOL(struct sample, flag),
	COL_CHARS(struct sample, tag),
	COL_SKIP,
	COL_STR(struct sample, text),
	COL_BYTEA(struct sample, blob),
};
static const struct rowmap sample_rows =
    ROWMAP(struct sample, sample_cols, sample_clear);

static void
test_rowmap_values(void **state)
{
	const char *vals[] = { "-9223372036854775807", "42", "t",
		"longer than six", "ignored", "hello", "\\x00ff41" };
	PGresult *res = make_result(7, vals);
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.untouched = 7;
	q_read_row(res, 0, &sample_rows, &s);
	assert_true(s.id == INT64_MIN + 1);
	assert_int_equal(s.count, 42);
	assert_true(s.flag);
	/* Fixed arrays truncate and stay terminated. */
	assert_string_equal(s.tag, "longe");
	assert_string_equal(s.text, "hello");
	/* bytea's text form is hex: decoded, NUL bytes kept. */
	assert_int_equal(s.blob.len, 3);
	assert_memory_equal(s.blob.data, "\x00\xff\x41", 3);
	/* Only mapped fields are written. */
	assert_int_equal(s.untouched, 7);
	sample_clear(&s);
	PQclear(res);
}

static void
test_rowmap_nulls(void **state)
{
	const char *vals[] = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	PGresult *res = make_result(7, vals);
	struct sample s;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(s.tag, 'x', sizeof(s.tag)); /* garbage a NULL must replace */
	q_read_row(res, 0, &sample_rows, &s);
	assert_true(s.id == 0);
	assert_int_equal(s.count, 0);
	assert_false(s.flag);
	assert_string_equal(s.tag, "");
	assert_null(s.text);
	assert_int_equal(s.blob.len, 0);
	sample_clear(&s);
	PQclear(res);
}

/* The CA map reads SQL_CA_COLS' fourteen columns into struct ca_rec. */
static void
test_ca_map(void **state)
{
	const char *vals[] = { "5", "2", "root",
		"0123456789abcdef0123456789abcdef", "t", "ec-p256", "\\x3082",
		"\\x01", "AB:CD", "CN=x",
		"0123456789ABCDEF0123456789ABCDEF01234567", "100", "200", "9" };
	PGresult *res = make_result(14, vals);
	struct ca_rec ca;

	(void)state;
	memset(&ca, 0, sizeof(ca));
	q_read_row(res, 0, &store_ca_rows, &ca);
	assert_true(ca.id == 5 && ca.tenant_id == 2);
	assert_string_equal(ca.name, "root");
	assert_string_equal(ca.public_id, "0123456789abcdef0123456789abcdef");
	assert_true(ca.is_default);
	assert_string_equal(ca.key_alg, "ec-p256");
	assert_int_equal(ca.cert_der.len, 2);
	assert_int_equal(ca.key_sealed.len, 1);
	assert_string_equal(ca.fingerprint, "AB:CD");
	assert_string_equal(ca.subject, "CN=x");
	assert_string_equal(ca.key_id,
	    "0123456789ABCDEF0123456789ABCDEF01234567");
	assert_true(ca.not_before == 100 && ca.not_after == 200);
	assert_true(ca.crl_number == 9);
	ca_rec_clear(&ca);
	PQclear(res);
}

static void
test_params(void **state)
{
	struct buf blob = BUF_INIT, empty = BUF_INIT;
	struct qparams p;

	(void)state;
	buf_append(&blob, "\x00\x01", 2);
	q_init(&p);
	q_i64(&p, -12);
	q_i64_or_null(&p, 0);
	q_i64_or_null(&p, 3);
	q_text(&p, NULL);
	q_text(&p, "x");
	q_bool(&p, true);
	q_bool(&p, false);
	q_bytea(&p, &blob);
	q_bytea(&p, &empty);
	q_bytea_or_null(&p, &empty);
	q_null(&p);
	assert_int_equal(p.n, 11);
	assert_string_equal(p.values[0], "-12");
	assert_null(p.values[1]);
	assert_string_equal(p.values[2], "3");
	assert_null(p.values[3]);
	assert_string_equal(p.values[4], "x");
	assert_string_equal(p.values[5], "true");
	assert_string_equal(p.values[6], "false");
	/* bytea travels binary with its length; text params stay text. */
	assert_int_equal(p.formats[7], 1);
	assert_int_equal(p.lengths[7], 2);
	assert_memory_equal(p.values[7], "\x00\x01", 2);
	assert_int_equal(p.formats[4], 0);
	/* An empty bytea is '', not NULL; the _or_null form is NULL. */
	assert_non_null(p.values[8]);
	assert_int_equal(p.lengths[8], 0);
	assert_null(p.values[9]);
	assert_null(p.values[10]);
	buf_free(&blob);
}

static void
test_backoff(void **state)
{
	int a;

	(void)state;
	for (a = 1; a <= STORE_TX_ATTEMPTS; a++) {
		long lo = (long)STORE_TX_BASE_US << (a - 1);

		/* Between the base and twice it, whatever the random draw. */
		assert_true(store_tx_backoff_us(a, 0) == lo);
		assert_true(store_tx_backoff_us(a, 0xffffffffu) <= 2 * lo);
		assert_true(store_tx_backoff_us(a, 12345) >= lo);
	}
	/* The whole retry budget stays well under a second. */
	assert_true(
	    store_tx_backoff_us(STORE_TX_ATTEMPTS, 0xffffffffu) < 1000000);
}

static void
test_retryable_states(void **state)
{
	(void)state;
	assert_true(db_state_retryable("40001")); /* serialization */
	assert_true(db_state_retryable("40P01")); /* deadlock */
	assert_false(db_state_retryable("23505")); /* unique violation */
	assert_false(db_state_retryable("40002")); /* integrity at commit */
	assert_false(db_state_retryable(NULL));
}

static int
count_calls(struct db *db, void *arg)
{
	(void)db;
	(*(int *)arg)++;
	return 0;
}

/* No database: BEGIN fails, the work is never run, nothing retried. */
static void
test_tx_unavailable(void **state)
{
	struct db *db;
	int calls = 0;

	(void)state;
	db = store_open("host=/nonexistent-fleetpki-socket-dir dbname=none", 1);
	assert_int_equal(store_tx(db, count_calls, &calls), -FP_E_UNAVAILABLE);
	assert_int_equal(calls, 0);
	assert_int_equal(store_ready(db), -FP_E_UNAVAILABLE);
	store_close(db);
	store_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rowmap_values),
		cmocka_unit_test(test_rowmap_nulls),
		cmocka_unit_test(test_ca_map),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_retryable_states),
		cmocka_unit_test(test_tx_unavailable),
	};

	log_init("test_store", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
