/*
 * test_enroll: the rules of device enrollment that need no database —
 * which device ids are DNS labels (core/enroll.c), and what the
 * enrollment and ACME settings accept (core/settings.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/core.h"
#include "fleetpki/core_enroll.h"
#include "fleetpki/error.h"

static void
device_ids(void **state)
{
	static const char *const good[] = { "abcde", "abc12", "a-b-c", "00000",
		"device-0001", "a234567890123456789012345678901234567890123456789"
			       "01234567890123" };
	static const char *const bad[] = { "", "abcd", "-abcd", "abcd-",
		"ABCDE", "abc_d", "abc.d", "abc d", "abcdé", "a\nbcde",
		"a234567890123456789012345678901234567890123456789"
		"012345678901234" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(enroll_id_valid(good[i]), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(enroll_id_valid(bad[i]), 0);
	/* 63 is the longest label. */
	assert_int_equal(strlen(good[5]), 63);
}

static int
ok(const char *key, const char *value)
{
	struct fp_status st = { FP_E_OK, "" };

	return core_setting_check(key, value, &st) == 0;
}

static void
domains(void **state)
{
	char longest[200];

	(void)state;
	assert_true(ok("enroll.domain", "devices.example.com"));
	assert_true(ok("enroll.domain", "a.b"));
	assert_true(ok("enroll.domain", "xn--bcher-kva.example"));
	assert_true(ok("enroll.domain", "")); /* unset */
	assert_false(ok("enroll.domain", "example"));
	assert_false(ok("enroll.domain", "Devices.example.com"));
	assert_false(ok("enroll.domain", ".example.com"));
	assert_false(ok("enroll.domain", "example.com."));
	assert_false(ok("enroll.domain", "a..b"));
	assert_false(ok("enroll.domain", "-a.b"));
	assert_false(ok("enroll.domain", "a-.b"));
	assert_false(ok("enroll.domain", "a.-b"));
	assert_false(ok("enroll.domain", "a_b.example"));
	/* A hostname is <63-character id>.<domain>: at most 253. */
	memset(longest, 'a', sizeof(longest));
	longest[60] = '.';
	longest[121] = '.';
	longest[182] = '.';
	longest[189] = '\0';
	assert_true(ok("enroll.domain", longest));
	longest[189] = 'a';
	longest[190] = '\0';
	assert_false(ok("enroll.domain", longest));
}

static void
acme_settings(void **state)
{
	(void)state;
	assert_true(ok("acme.directory_url", "https://acme.example/directory"));
	assert_false(ok("acme.directory_url", "http://acme.example/directory"));
	assert_false(ok("acme.directory_url", "https:///x"));
	assert_false(ok("acme.directory_url", "https://a b/"));
	assert_true(ok("acme.dns_provider", "exec"));
	assert_true(ok("acme.dns_provider", "rfc2136"));
	assert_false(ok("acme.dns_provider", "route53"));
	assert_true(ok("acme.dns_resolvers", "127.0.0.1:53"));
	assert_true(ok("acme.dns_resolvers", "127.0.0.1:8053,[::1]:53,ns.example:53"));
	assert_false(ok("acme.dns_resolvers", "127.0.0.1"));
	assert_false(ok("acme.dns_resolvers", "127.0.0.1:0"));
	assert_false(ok("acme.dns_resolvers", "127.0.0.1:65536"));
	assert_false(ok("acme.dns_resolvers", "127.0.0.1:53,"));
	assert_true(ok("acme.rfc2136_server", "127.0.0.1:5353"));
	assert_false(ok("acme.rfc2136_server", "a;b:53"));
	assert_true(ok("acme.dns_hook", "/usr/local/bin/dns-hook"));
	assert_false(ok("acme.dns_hook", "dns-hook"));
	assert_true(ok("acme.contact", "ops@example.com"));
	assert_false(ok("acme.contact", "ops@"));
	assert_false(ok("acme.contact", "a@b@example.com"));
	assert_false(ok("acme.contact", "ops@example.com,evil@example.com"));
	assert_true(ok("acme.weekly_budget", "50"));
	assert_false(ok("acme.weekly_budget", "-1"));
	assert_true(ok("enroll.renew_percent", "33"));
	assert_false(ok("enroll.renew_percent", "0"));
	assert_false(ok("enroll.renew_percent", "91"));
	assert_false(ok("acme.eab_hmac_key", "has space"));
	assert_false(ok("no.such.setting", "x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(device_ids),
		cmocka_unit_test(domains),
		cmocka_unit_test(acme_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
