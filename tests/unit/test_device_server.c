/*
 * The device protocol's server side, its pure parts (core/device.c):
 * the bodies' rules (docs/device-protocol.md §7) and the AAD of a
 * device's sealed root secret.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/core_device.h"
#include "fleetpki/json.h"

static json_object *
parse(const char *text)
{
	json_object *o = NULL;

	assert_int_equal(json_parse_strict(text, strlen(text), &o, NULL), 0);
	return o;
}

static void
test_aad(void **state)
{
	char aad[96];

	(void)state;
	core_device_aad(42, "0000200456789544", aad, sizeof(aad));
	assert_string_equal(aad, "device:42:0000200456789544");
}

static void
test_bootstrap_good(void **state)
{
	struct device_bootstrap_body b;
	struct fp_status st = { FP_E_OK, "" };
	json_object *o;

	(void)state;
	o = parse("{\"DeviceSerialNumber\": \"356938035643809\", "
	          "\"DeviceProfileUID\": \"AyvylmHVdUiHQzUaCjOmC\", "
	          "\"IMEI\": \"356938035643809\", \"FirmwareVersion\": "
	          "\"1.2.3\"}");
	assert_int_equal(device_bootstrap_parse(o, &b, &st), 0);
	assert_string_equal(b.serial, "356938035643809");
	assert_string_equal(b.profile_uid, "AyvylmHVdUiHQzUaCjOmC");
	assert_string_equal(b.imei, "356938035643809");
	assert_string_equal(b.firmware, "1.2.3");
	json_object_put(o);
	o = parse("{\"DeviceSerialNumber\": \"x\"}");
	assert_int_equal(device_bootstrap_parse(o, &b, &st), 0);
	assert_null(b.profile_uid);
	assert_null(b.imei);
	json_object_put(o);
}

static void
test_bootstrap_bad(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"DeviceSerialNumber\": \"\"}",
		"{\"DeviceSerialNumber\": \"12345678901234567\"}",
		"{\"DeviceSerialNumber\": \"a\\u0007\"}",
		"{\"DeviceSerialNumber\": \"caf\\u00e9\"}",
		"{\"DeviceSerialNumber\": 1}",
		"{\"DeviceSerialNumber\": \"a\", \"IMEI\": \"1a\"}",
		"{\"DeviceSerialNumber\": \"a\", \"IMEI\": \"12345678901234567\"}",
		"{\"DeviceSerialNumber\": \"a\", \"DeviceProfileUID\": \"a/b\"}",
		"{\"DeviceSerialNumber\": \"a\", \"FirmwareVersion\": \"\"}",
		"{\"DeviceSerialNumber\": \"a\", \"Other\": \"x\"}",
	};
	struct device_bootstrap_body b;
	struct fp_status st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = parse(bad[i]);

		memset(&st, 0, sizeof(st));
		assert_int_equal(device_bootstrap_parse(o, &b, &st),
		    -FP_E_BADREQ);
		assert_true(st.msg[0] != '\0');
		json_object_put(o);
	}
}

static void
test_heartbeat_acks(void **state)
{
	struct device_heartbeat_body h;
	struct fp_status st = { FP_E_OK, "" };
	json_object *o;

	(void)state;
	o = parse("{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"SUCCESS\"}, "
	          "{\"Id\": \"p-2\", \"Status\": \"FAILURE\", \"Error\": "
	          "\"no\"}, {\"Id\": \"p-1\", \"Status\": \"FAILURE\"}, "
	          "{\"Id\": \"z-1\", \"Status\": \"SUCCESS\", \"Csr\": "
	          "\"x\"}]}");
	assert_int_equal(device_heartbeat_parse(o, &h, &st), 0);
	/* p-1 twice: the first acknowledgement is kept */
	assert_int_equal(h.nacks, 3);
	assert_string_equal(h.acks[0].id, "p-1");
	assert_true(h.acks[0].success);
	assert_string_equal(h.acks[1].id, "p-2");
	assert_false(h.acks[1].success);
	assert_string_equal(h.acks[1].error, "no");
	assert_string_equal(h.acks[2].id, "z-1");
	json_object_put(o);
	o = parse("{\"Acks\": []}");
	assert_int_equal(device_heartbeat_parse(o, &h, &st), 0);
	assert_int_equal(h.nacks, 0);
	json_object_put(o);
}

static void
test_heartbeat_bad(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{}",
		"{\"Acks\": {}}",
		"{\"Acks\": [], \"X\": 1}",
		"{\"Acks\": [1]}",
		"{\"Acks\": [{\"Id\": \"p-1\"}]}",
		"{\"Acks\": [{\"Status\": \"SUCCESS\"}]}",
		"{\"Acks\": [{\"Id\": \"\", \"Status\": \"SUCCESS\"}]}",
		"{\"Acks\": [{\"Id\": \"a b\", \"Status\": \"SUCCESS\"}]}",
		"{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"success\"}]}",
		"{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"SUCCESS\", "
		"\"Error\": \"x\"}]}",
		"{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"FAILURE\", "
		"\"Csr\": \"x\"}]}",
		"{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"FAILURE\", "
		"\"Error\": \"\\n\"}]}",
		"{\"Acks\": [{\"Id\": \"p-1\", \"Status\": \"SUCCESS\", "
		"\"More\": 1}]}",
	};
	struct device_heartbeat_body h;
	struct fp_status st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = parse(bad[i]);

		memset(&st, 0, sizeof(st));
		assert_int_equal(device_heartbeat_parse(o, &h, &st),
		    -FP_E_BADREQ);
		assert_true(st.msg[0] != '\0');
		json_object_put(o);
	}
}

static void
test_heartbeat_too_many(void **state)
{
	struct device_heartbeat_body h;
	struct fp_status st = { FP_E_OK, "" };
	json_object *o, *acks;
	int i, n;

	(void)state;
	for (n = 64; n <= 65; n++) {
		o = json_object_new_object();
		acks = json_object_new_array();
		for (i = 0; i < n; i++) {
			json_object *a = json_object_new_object();
			char id[16];

			snprintf(id, sizeof(id), "p-%d", i);
			json_object_object_add(a, "Id",
			    json_object_new_string(id));
			json_object_object_add(a, "Status",
			    json_object_new_string("SUCCESS"));
			json_object_array_add(acks, a);
		}
		json_object_object_add(o, "Acks", acks);
		assert_int_equal(device_heartbeat_parse(o, &h, &st),
		    n == 64 ? 0 : -FP_E_BADREQ);
		json_object_put(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aad),
		cmocka_unit_test(test_bootstrap_good),
		cmocka_unit_test(test_bootstrap_bad),
		cmocka_unit_test(test_heartbeat_acks),
		cmocka_unit_test(test_heartbeat_bad),
		cmocka_unit_test(test_heartbeat_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
