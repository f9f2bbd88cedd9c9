/*
 * Unit tests for the admin portal's pure logic (src/core/admin.c): the
 * session cookie's parsing, the origin and CSRF checks, operator names
 * and the argon2id encoding of passwords.  No database.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/core_admin.h"
#include "fleetpki/error.h"

static void
test_cookie_value(void **state)
{
	char v[ADMIN_TOKEN_LEN + 2];

	(void)state;
	assert_int_equal(admin_cookie_value("fp_admin=abc", ADMIN_COOKIE, v,
	                     sizeof(v)),
	    0);
	assert_string_equal(v, "abc");
	assert_int_equal(admin_cookie_value("a=1; fp_admin=xyz; b=2",
	                     ADMIN_COOKIE, v, sizeof(v)),
	    0);
	assert_string_equal(v, "xyz");
	/* The first of two wins; a name that only ends in ours is not it. */
	assert_int_equal(admin_cookie_value("xfp_admin=no;fp_admin=one; "
	                                    "fp_admin=two",
	                     ADMIN_COOKIE, v, sizeof(v)),
	    0);
	assert_string_equal(v, "one");
	assert_int_equal(admin_cookie_value("fp_admin_x=1", ADMIN_COOKIE, v,
	                     sizeof(v)),
	    -1);
	assert_int_equal(admin_cookie_value("fp_admin=", ADMIN_COOKIE, v,
	                     sizeof(v)),
	    -1);
	assert_int_equal(admin_cookie_value("fp_admin", ADMIN_COOKIE, v,
	                     sizeof(v)),
	    -1);
	assert_int_equal(admin_cookie_value(NULL, ADMIN_COOKIE, v, sizeof(v)),
	    -1);
	assert_int_equal(admin_cookie_value("", ADMIN_COOKIE, v, sizeof(v)),
	    -1);
	/* Too long for the buffer: refused, not truncated. */
	assert_int_equal(admin_cookie_value("fp_admin="
	                                    "0123456789012345678901234567890123"
	                                    "456789012345",
	                     ADMIN_COOKIE, v, sizeof(v)),
	    -1);
}

static void
test_origin(void **state)
{
	(void)state;
	/* Nothing sent (curl, old browsers): the CSRF token decides. */
	assert_true(admin_origin_ok(NULL, "h:8443", NULL));
	assert_true(admin_origin_ok("https://h:8443", "h:8443", NULL));
	assert_true(admin_origin_ok("https://H:8443", "h:8443", "same-origin"));
	assert_true(admin_origin_ok(NULL, "h:8443", "none"));
	assert_false(admin_origin_ok("https://evil:8443", "h:8443", NULL));
	assert_false(admin_origin_ok("http://h:8443", "h:8443", NULL));
	assert_false(admin_origin_ok("null", "h:8443", NULL));
	assert_false(admin_origin_ok("https://h:8443.evil", "h:8443", NULL));
	assert_false(admin_origin_ok("https://h:8443", NULL, NULL));
	assert_false(admin_origin_ok(NULL, "h:8443", "cross-site"));
	assert_false(admin_origin_ok(NULL, "h:8443", "same-site"));
}

static void
test_csrf_equal(void **state)
{
	(void)state;
	assert_true(admin_csrf_equal("abcd", "abcd"));
	assert_false(admin_csrf_equal("abce", "abcd"));
	assert_false(admin_csrf_equal("abc", "abcd"));
	assert_false(admin_csrf_equal("abcde", "abcd"));
	assert_false(admin_csrf_equal("", "abcd"));
	assert_false(admin_csrf_equal(NULL, "abcd"));
}

static void
test_names(void **state)
{
	char name[ADMIN_NAME_MAX + 2];

	(void)state;
	assert_true(admin_name_valid("alice"));
	assert_true(admin_name_valid("ops.team@example-1_x"));
	assert_false(admin_name_valid(""));
	assert_false(admin_name_valid(NULL));
	assert_false(admin_name_valid("a/b"));
	assert_false(admin_name_valid("a b"));
	memset(name, 'a', ADMIN_NAME_MAX);
	name[ADMIN_NAME_MAX] = '\0';
	assert_true(admin_name_valid(name));
	name[ADMIN_NAME_MAX] = 'a';
	name[ADMIN_NAME_MAX + 1] = '\0';
	assert_false(admin_name_valid(name));
}

static void
test_password_hash(void **state)
{
	char h1[ADMIN_ARGON2_ENCODED], h2[ADMIN_ARGON2_ENCODED];
	char prefix[64];
	struct fp_status st = { FP_E_OK, "" };

	(void)state;
	assert_int_equal(admin_password_hash("correct horse battery", h1, &st),
	    0);
	/* The encoded form names the algorithm and its parameters. */
	snprintf(prefix, sizeof(prefix), "$argon2id$v=19$m=%d,t=%d,p=%d$",
	    ADMIN_ARGON2_M, ADMIN_ARGON2_T, ADMIN_ARGON2_P);
	assert_memory_equal(h1, prefix, strlen(prefix));
	assert_true(admin_password_verify(h1, "correct horse battery"));
	assert_false(admin_password_verify(h1, "correct horse batterx"));
	assert_false(admin_password_verify(h1, ""));
	/* A fresh salt each time: the same password, another hash. */
	assert_int_equal(admin_password_hash("correct horse battery", h2, &st),
	    0);
	assert_string_not_equal(h1, h2);
	assert_true(admin_password_verify(h2, "correct horse battery"));
	/* Only argon2id hashes are accepted. */
	h1[7] = 'd'; /* "$argon2d$..." */
	assert_false(admin_password_verify(h1, "correct horse battery"));
	assert_false(admin_password_verify(NULL, "x"));
	assert_false(admin_password_verify("plain", "plain"));
}

static void
test_password_length(void **state)
{
	char h[ADMIN_ARGON2_ENCODED], longpw[ADMIN_PASSWORD_MAX + 2];
	struct fp_status st = { FP_E_OK, "" };

	(void)state;
	assert_int_equal(admin_password_hash("eleven char", h, &st),
	    -FP_E_BADREQ);
	assert_non_null(strstr(st.msg, "at least 12"));
	assert_int_equal(admin_password_hash("twelve chars", h, &st), 0);
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(admin_password_hash(longpw, h, &st), -FP_E_BADREQ);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_value),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_csrf_equal),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_password_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
