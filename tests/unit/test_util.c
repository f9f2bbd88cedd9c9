/*
 * Unit tests for the common layer: util, buf, arena, errors, config.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include "fleetpki/arena.h"
#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/error.h"
#include "fleetpki/util.h"

static void
test_parse_int(void **state)
{
	long long v;

	assert_int_equal(util_parse_int("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(util_parse_int("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	/* Whole string, no sign tricks, no space, in range. */
	assert_int_equal(util_parse_int("", 0, 9, &v), -1);
	assert_int_equal(util_parse_int(" 1", 0, 9, &v), -1);
	assert_int_equal(util_parse_int("+1", 0, 9, &v), -1);
	assert_int_equal(util_parse_int("1x", 0, 9, &v), -1);
	assert_int_equal(util_parse_int("10", 0, 9, &v), -1);
	assert_int_equal(util_parse_int("99999999999999999999", 0, 9, &v), -1);
	assert_int_equal(util_parse_int(NULL, 0, 9, &v), -1);
}

static void
test_iso8601(void **state)
{
	char out[32];

	util_iso8601_ms(1591478016448LL, out);
	assert_string_equal(out, "2020-06-06T21:13:36.448Z");
	util_iso8601_ms(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

static void
test_hex(void **state)
{
	const unsigned char in[] = { 0x00, 0xab, 0xff };
	char out[7];

	util_hex(in, sizeof(in), out);
	assert_string_equal(out, "00abff");
}

static void
test_buf(void **state)
{
	struct buf b = BUF_INIT;
	char *s;
	size_t len, i;

	buf_puts(&b, "abc");
	buf_printf(&b, "-%d-", 42);
	assert_int_equal(b.len, 7);
	assert_string_equal((char *)b.data, "abc-42-");
	/* Growth keeps the contents and the terminating NUL. */
	for (i = 0; i < 1000; i++)
		buf_append(&b, "x", 1);
	assert_int_equal(b.len, 1007);
	assert_int_equal(b.data[b.len], '\0');
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	buf_append(&b, "\0z", 2); /* binary-safe */
	assert_int_equal(b.len, 2);
	s = buf_steal(&b, &len);
	assert_int_equal(len, 2);
	assert_null(b.data);
	free(s);
	/* An empty buf still yields a string. */
	s = buf_steal(&b, &len);
	assert_string_equal(s, "");
	free(s);
	buf_free_secret(&b);
}

static void
test_arena(void **state)
{
	struct arena *a = arena_new();
	char *p, *big;
	int i;

	p = arena_strdup(a, "hello");
	assert_string_equal(p, "hello");
	assert_string_equal(arena_printf(a, "%s/%d", p, 7), "hello/7");
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	/* Alignment for any type. */
	for (i = 0; i < 100; i++) {
		void *q = arena_alloc(a, (size_t)i + 1);

		assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
	}
	/* Larger than a block: a block of its own. */
	big = arena_alloc(a, 100000);
	memset(big, 'x', 100000);
	arena_reset(a);
	p = arena_strdup(a, "again");
	assert_string_equal(p, "again");
	arena_free(a);
	arena_free(NULL);
}

static void
test_errors(void **state)
{
	struct fp_status st = { FP_E_OK, "" };
	int rc;

	assert_int_equal(fp_err_http(-FP_E_NOTFOUND), 404);
	assert_int_equal(fp_err_http(FP_E_UNAVAILABLE), 503);
	assert_string_equal(fp_err_default(-FP_E_INTERNAL),
	    "An unexpected error has occurred.");
	/* Out-of-range codes are shown as internal errors. */
	assert_int_equal(fp_err_http(-9999), 500);
	rc = fp_fail(&st, FP_E_BADREQ, "bad %s", "thing");
	assert_int_equal(rc, -FP_E_BADREQ);
	assert_string_equal(fp_status_message(&st, rc), "bad thing");
	/* A reason recorded for another code does not leak. */
	assert_string_equal(fp_status_message(&st, -FP_E_INTERNAL),
	    "An unexpected error has occurred.");
	assert_int_equal(fp_fail(NULL, FP_E_GONE, NULL), -FP_E_GONE);
}

static char *
write_config(const char *text)
{
	char *path = xstrdup("/tmp/fleetpki-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

#define KEYS                                                                   \
	"master_key = 000102030405060708090a0b0c0d0e0f"                        \
	"101112131415161718191a1b1c1d1e1f\n"                                   \
	"pepper = ffeeddccbbaa99887766554433221100"                            \
	"ffeeddccbbaa99887766554433221100\n"

static void
test_config(void **state)
{
	struct config cfg;
	char *path, *err = NULL;

	path =
	    write_config("# comment\n" KEYS "workers = 7   # trailing comment\n"
	                 "socket_mode = 0640\n"
	                 "database_url = postgresql://u@h:5/db\n\n");
	assert_int_equal(config_load(path, &cfg, &err), 0);
	assert_int_equal(cfg.workers, 7);
	assert_int_equal(cfg.socket_mode, 0640);
	assert_string_equal(cfg.database_url, "postgresql://u@h:5/db");
	assert_int_equal(cfg.master_key[1], 0x01);
	assert_int_equal(cfg.pepper[0], 0xff);
	assert_int_equal(cfg.crl_validity, 86400); /* default */
	config_free(&cfg);
	unlink(path);
	free(path);
}

static void
test_config_errors(void **state)
{
	static const char *const bad[] = {
		KEYS "wrokers = 2\n", /* unknown key: a typo */
		KEYS "workers = two\n", KEYS "workers = 0\n", /* out of range */
		KEYS "workers\n", /* no '=' */
		KEYS "listen = \n", /* empty string */
		KEYS "socket_mode = 0999\n",
		"pepper = ffeeddccbbaa99887766554433221100"
		"ffeeddccbbaa99887766554433221100\n", /* no master_key */
		KEYS "master_key = 0011\n", /* short key */
	};
	struct config cfg;
	char *path, *err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		path = write_config(bad[i]);
		assert_int_equal(config_load(path, &cfg, &err), -1);
		assert_non_null(err);
		/* The message names the file. */
		assert_non_null(strstr(err, path));
		free(err);
		config_free(&cfg);
		unlink(path);
		free(path);
	}
	err = NULL;
	assert_int_equal(config_load("/nonexistent/fleetpki.conf", &cfg, &err),
	    -1);
	free(err);
	config_free(&cfg);
}

static void
touch(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs("x", f);
	fclose(f);
}

static int
exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* nginx's cache layout (levels=1:2), a symlink out, and a deeper level. */
static void
test_empty_dir(void **state)
{
	char top[] = "/tmp/fp-test-XXXXXX", out[] = "/tmp/fp-test-XXXXXX";
	char path[512], link[512];

	(void)state;
	assert_non_null(mkdtemp(top));
	assert_non_null(mkdtemp(out));
	touch(out, "outside");
	snprintf(path, sizeof(path), "%s/c", top);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/c/6e", top);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/c/6e/deep", top);
	assert_int_equal(mkdir(path, 0700), 0);
	touch(top, "top");
	touch(top, "c/6e/5a6d29fe9aeb78e3b7c34c8061b056ec");
	touch(top, "c/6e/5a6d29fe9aeb78e3b7c34c8061b056ec.0000000001");
	touch(top, "c/6e/deep/kept");
	snprintf(path, sizeof(path), "%s/outside", out);
	snprintf(link, sizeof(link), "%s/c/link", top);
	assert_int_equal(symlink(path, link), 0);
	snprintf(link, sizeof(link), "%s/dirlink", top);
	assert_int_equal(symlink(out, link), 0);

	/* Two levels below 'top': the third keeps its file. */
	assert_int_equal(util_empty_dir(top, 2), 5);
	assert_false(exists(top, "top"));
	assert_false(exists(top, "c/6e/5a6d29fe9aeb78e3b7c34c8061b056ec"));
	assert_false(exists(top, "c/link"));
	assert_false(exists(top, "dirlink"));
	assert_true(exists(top, "c/6e"));
	assert_true(exists(top, "c/6e/deep/kept"));
	/* Links were removed, never followed. */
	assert_true(exists(out, "outside"));
	assert_int_equal(util_empty_dir(top, 2), 0);
	assert_int_equal(util_empty_dir("/nonexistent/fp", 2), -1);

	snprintf(path, sizeof(path), "rm -rf '%s' '%s'", top, out);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_empty_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
