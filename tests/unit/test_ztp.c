/*
 * Unit tests for zero-touch provisioning's pure parts (src/core/ztp.c,
 * the heartbeat's acknowledgements in src/core/device.c): the CAName
 * rule, the state /device/info/get reports, and a GENERATE_KEY
 * acknowledgement's Csr reaching the ZTP step.  No database.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/core_device.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"

static void
test_name_rule(void **state)
{
	char name[64];

	(void)state;
	assert_true(ztp_name_ok("example.com"));
	assert_true(ztp_name_ok("A-b_c.9"));
	memset(name, 'a', 45);
	name[45] = '\0';
	assert_true(ztp_name_ok(name));
	name[45] = 'a';
	name[46] = '\0';
	assert_false(ztp_name_ok(name));
	assert_false(ztp_name_ok(""));
	assert_false(ztp_name_ok(NULL));
	assert_false(ztp_name_ok("a b"));
	assert_false(ztp_name_ok("a/b"));
	assert_false(ztp_name_ok("caf\xc3\xa9"));
	assert_false(ztp_name_ok("a\nb"));
}

static void
test_state_names(void **state)
{
	struct ztp_dev_rec d;

	(void)state;
	memset(&d, 0, sizeof(d));
	strcpy(d.state, "DONE");
	assert_string_equal(ztp_state_name(&d), "PROVISIONED");
	d.cert_revoked = true;
	assert_string_equal(ztp_state_name(&d), "REVOKED");
	d.cert_revoked = false;
	strcpy(d.state, "KEY");
	assert_string_equal(ztp_state_name(&d), "PROVISIONING");
	d.cert_id = 7;
	strcpy(d.state, "ISSUE");
	assert_string_equal(ztp_state_name(&d), "RENEWAL_PENDING");
	strcpy(d.state, "REMOVE");
	assert_string_equal(ztp_state_name(&d), "REMOVAL_PENDING");
	strcpy(d.state, "GONE");
	assert_string_equal(ztp_state_name(&d), "REMOVED");
	strcpy(d.state, "FAILED");
	assert_string_equal(ztp_state_name(&d), "FAILED");
}

static void
test_ack_keeps_the_csr(void **state)
{
	static const char body[] =
	    "{\"Acks\": [{\"Id\": \"z-1\", \"Status\": \"SUCCESS\", "
	    "\"Csr\": \"-----BEGIN CERTIFICATE REQUEST-----\"}, "
	    "{\"Id\": \"z-2\", \"Status\": \"FAILURE\", \"Error\": \"no\"}]}";
	static const char bad[] =
	    "{\"Acks\": [{\"Id\": \"z-1\", \"Status\": \"FAILURE\", "
	    "\"Csr\": \"x\"}]}";
	struct device_heartbeat_body hb;
	struct fp_status st;
	json_object *o = NULL;

	(void)state;
	assert_int_equal(json_parse_strict(body, strlen(body), &o, &st), 0);
	assert_int_equal(device_heartbeat_parse(o, &hb, &st), 0);
	assert_int_equal(hb.nacks, 2);
	assert_string_equal(hb.acks[0].csr,
	    "-----BEGIN CERTIFICATE REQUEST-----");
	assert_null(hb.acks[1].csr);
	json_object_put(o);
	/* A Csr goes with SUCCESS only. */
	assert_int_equal(json_parse_strict(bad, strlen(bad), &o, &st), 0);
	assert_int_equal(device_heartbeat_parse(o, &hb, &st), -FP_E_BADREQ);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_rule),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_ack_keeps_the_csr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
