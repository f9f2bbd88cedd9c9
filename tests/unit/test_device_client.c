/*
 * Unit tests for libfleetpki-device without a network: the counter and
 * its persistence, the requests it builds (checked the way the server
 * checks them, with devproto), answers authenticated by the server's
 * MAC or not, strict parsing of malformed answers, commands and their
 * acknowledgements, and the ZTP key envelope.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"

#define ROT "0000200456789544"
#define NOW 1767225600

static unsigned char secret[FPD_SECRET_LEN];

struct saver {
	uint64_t last;
	int calls;
	int fail;
};

static int
save_counter(void *arg, uint64_t counter)
{
	struct saver *s = arg;

	s->calls++;
	if (s->fail)
		return -1;
	s->last = counter;
	return 0;
}

static int
setup(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)i;
	return 0;
}

static struct fpd_device *
new_device(uint64_t last, struct saver *sv)
{
	struct fpd_device *dev;

	assert_int_equal(fpd_device_new(ROT, secret, last,
	                     sv != NULL ? save_counter : NULL, sv, &dev),
	    FPD_OK);
	return dev;
}

/* The server's side: verify 'req' as the server does. */
static void
server_verify(const struct fpd_request *req)
{
	unsigned char rot[8], reqkey[32], respkey[32], mac[32];
	struct devproto_req dr;
	uint64_t counter;
	int64_t ts;

	assert_int_equal(devproto_rot_parse(req->rot, rot), 0);
	assert_int_equal(devproto_parse_counter(req->counter, &counter), 0);
	assert_int_equal(devproto_parse_timestamp(req->timestamp, &ts), 0);
	assert_int_equal(devproto_parse_mac(req->mac, mac), 0);
	assert_int_equal(fpd_derive_keys(ROT, secret, reqkey, respkey), FPD_OK);
	dr = (struct devproto_req){ rot, counter, ts, "POST", req->path,
		(const unsigned char *)req->body, req->body_len };
	assert_int_equal(devproto_request_verify(reqkey, &dr, mac), 0);
}

/*
 * The server's answer to 'req': 'status', 'body', MAC'd under the
 * response key for request counter 'counter' (normally req's).
 */
static void
server_answer(const struct fpd_request *req, uint64_t counter, int status,
    const char *body, char *machex, char *tshex)
{
	unsigned char rot[8], reqkey[32], respkey[32], mac[32];
	struct devproto_resp dr;

	assert_int_equal(devproto_rot_parse(ROT, rot), 0);
	assert_int_equal(fpd_derive_keys(ROT, secret, reqkey, respkey), FPD_OK);
	dr = (struct devproto_resp){ rot, counter, req->mac_raw, status,
		NOW + 1, (const unsigned char *)body, strlen(body) };
	assert_int_equal(devproto_response_mac(respkey, &dr, mac), 0);
	devproto_hex_encode(mac, sizeof(mac), machex);
	strcpy(tshex, "1767225601");
}

/* Read 'body' as the authenticated answer to 'req'. */
static int
read_auth(struct fpd_device *dev, const struct fpd_request *req, int status,
    const char *body, struct fpd_answer **ans)
{
	char mac[65], ts[24];

	server_answer(req, req->counter_value, status, body, mac, ts);
	return fpd_read_answer(dev, req, status, mac, ts,
	    (const unsigned char *)body, strlen(body), ans);
}

static void
test_counter(void **state)
{
	struct saver sv = { 0, 0, 0 };
	struct fpd_device *dev = new_device(41, &sv);
	struct fpd_request *req;
	static const struct fpd_bootstrap_info info = { "356938035643809", NULL,
		NULL, NULL };

	/* Each request takes the next counter, saved before use. */
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req), FPD_OK);
	assert_string_equal(req->counter, "42");
	assert_int_equal(sv.last, 42);
	assert_int_equal(fpd_device_counter(dev), 42);
	server_verify(req);
	fpd_request_free(req);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_string_equal(req->counter, "43");
	assert_string_equal(req->rot, ROT);
	assert_string_equal(req->timestamp, "1767225600");
	assert_string_equal(req->path, "/device/v1/heartbeat");
	assert_string_equal(req->body, "{\"Acks\":[]}");
	server_verify(req);
	fpd_request_free(req);
	/* A counter that cannot be saved is not used. */
	sv.fail = 1;
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_ECOUNTER);
	assert_null(req);
	assert_int_equal(fpd_device_counter(dev), 43);
	assert_int_equal(sv.calls, 3);
	fpd_device_free(dev);

	/* The last counter: nothing after it. */
	dev = new_device(INT64_MAX, NULL);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_ECOUNTER);
	fpd_device_free(dev);
	assert_int_equal(fpd_device_new(ROT, secret, (uint64_t)INT64_MAX + 1,
	                     NULL, NULL, &dev),
	    FPD_EINVAL);
	assert_int_equal(fpd_device_new("00002004567895", secret, 0, NULL, NULL,
	                     &dev),
	    FPD_EINVAL);
	assert_null(dev);
}

static void
test_bootstrap_body(void **state)
{
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_bootstrap_info info = { "SN-1", "AyvylmHVdUiHQzUaCjOmC",
		"356938035643809", "1.2.3" };

	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req), FPD_OK);
	assert_string_equal(req->body,
	    "{\"DeviceSerialNumber\":\"SN-1\",\"DeviceProfileUID\":"
	    "\"AyvylmHVdUiHQzUaCjOmC\",\"IMEI\":\"356938035643809\","
	    "\"FirmwareVersion\":\"1.2.3\"}");
	assert_string_equal(req->path, "/device/v1/bootstrap");
	server_verify(req);
	fpd_request_free(req);
	/* What the server would refuse is refused here first. */
	info.serial = "12345678901234567";
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req),
	    FPD_EINVAL);
	info.serial = "";
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req),
	    FPD_EINVAL);
	info.serial = "SN\n1";
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req),
	    FPD_EINVAL);
	info.serial = "SN-1";
	info.imei = "35693803564380x";
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req),
	    FPD_EINVAL);
	info.imei = NULL;
	info.profile = "a b";
	assert_int_equal(fpd_build_bootstrap(dev, &info, NOW, &req),
	    FPD_EINVAL);
	/* Refused arguments used no counter. */
	assert_int_equal(fpd_device_counter(dev), 1);
	fpd_device_free(dev);
}

static const char HB_ANSWER[] =
    "{\"HeartbeatInSec\":3600,\"Commands\":["
    "{\"Id\":\"c1\",\"Type\":\"SET_PROPERTIES\",\"Properties\":"
    "{\"LocalDPR\":true,\"ZTPV1\":false,\"SecurityHeartbeatInSec\":3600}},"
    "{\"Id\":\"c2\",\"Type\":\"GENERATE_KEY\",\"Slot\":\"ztp\"},"
    "{\"Id\":\"c3\",\"Type\":\"FUTURE_THING\",\"X\":1},"
    "{\"Id\":\"c4\",\"Type\":\"SET_PROPERTIES\",\"Properties\":"
    "{\"LocalDPR\":\"yes\"}},"
    "{\"Id\":\"c5\",\"Type\":\"INSTALL_CERTIFICATE\",\"Slot\":\"ztp\","
    "\"Certificate\":\"not a pem\"},"
    "{\"Id\":\"c6\",\"Type\":\"REMOVE_CERTIFICATE\",\"Slot\":\"ztp\"},"
    /* found by tests/fuzz/fuzz_device.c: no Certificate at all */
    "{\"Id\":\"c7\",\"Type\":\"INSTALL_KEY_AND_CERTIFICATE\","
    "\"Slot\":\"ztp\"},"
    "{\"Id\":\"c8\",\"Type\":\"INSTALL_CERTIFICATE\"}],"
    "\"FutureMember\":{\"a\":[1,2]}}";

static void
test_answer_commands(void **state)
{
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	const struct fpd_command *c;

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_int_equal(read_auth(dev, req, 200, HB_ANSWER, &ans), FPD_OK);
	assert_true(ans->authenticated);
	assert_int_equal(ans->status, 200);
	assert_int_equal(ans->heartbeat_in_sec, 3600);
	assert_int_equal(ans->server_time, NOW + 1);
	assert_int_equal(ans->ncommands, 8);
	c = &ans->commands[0];
	assert_string_equal(c->id, "c1");
	assert_int_equal(c->type, FPD_CMD_SET_PROPERTIES);
	assert_null(c->invalid);
	assert_int_equal(c->nprops, 3);
	assert_string_equal(c->props[0].name, "LocalDPR");
	assert_int_equal(c->props[0].type, FPD_PROP_BOOL);
	assert_int_equal(c->props[0].value, 1);
	assert_int_equal(c->props[1].value, 0);
	assert_int_equal(c->props[2].type, FPD_PROP_INT);
	assert_int_equal(c->props[2].value, 3600);
	c = &ans->commands[1];
	assert_int_equal(c->type, FPD_CMD_GENERATE_KEY);
	assert_string_equal(c->slot, "ztp");
	assert_string_equal(c->key_type, "EC-P256");
	assert_null(c->invalid);
	/* Unknown types and bad members: kept, to be acknowledged failed. */
	c = &ans->commands[2];
	assert_int_equal(c->type, FPD_CMD_UNKNOWN);
	assert_string_equal(c->type_name, "FUTURE_THING");
	assert_string_equal(c->invalid, "unsupported command");
	assert_non_null(ans->commands[3].invalid);
	assert_string_equal(ans->commands[4].invalid, "Certificate is not PEM");
	assert_int_equal(ans->commands[5].type, FPD_CMD_REMOVE_CERTIFICATE);
	assert_null(ans->commands[5].invalid);
	assert_string_equal(ans->commands[6].invalid, "Certificate missing");
	assert_string_equal(ans->commands[7].invalid,
	    "Slot missing or not valid");
	fpd_answer_free(ans);
	fpd_request_free(req);

	/* A bootstrap answer needs its State. */
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	req->heartbeat = 0;
	assert_int_equal(read_auth(dev, req, 200,
	                     "{\"State\":\"ACTIVATED\",\"DeviceProfileUID\":"
	                     "\"P1\",\"HeartbeatInSec\":60,\"Commands\":[]}",
	                     &ans),
	    FPD_OK);
	assert_string_equal(ans->state, "ACTIVATED");
	assert_string_equal(ans->profile, "P1");
	fpd_answer_free(ans);
	assert_int_equal(read_auth(dev, req, 200,
	                     "{\"State\":\"HAPPY\",\"HeartbeatInSec\":60,"
	                     "\"Commands\":[]}",
	                     &ans),
	    FPD_EPROTO);
	fpd_answer_free(ans);
	assert_int_equal(read_auth(dev, req, 200,
	                     "{\"HeartbeatInSec\":60,\"Commands\":[]}", &ans),
	    FPD_EPROTO);
	fpd_answer_free(ans);
	fpd_request_free(req);
	fpd_device_free(dev);
}

static void
test_answer_authentication(void **state)
{
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req, *old;
	struct fpd_answer *ans;
	const char *body = "{\"HeartbeatInSec\":60,\"Commands\":[]}";
	char mac[65], ts[24];

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &old), FPD_OK);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	server_answer(req, req->counter_value, 200, body, mac, ts);
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_OK);
	fpd_answer_free(ans);

	/* The answer to the older request is not one to this request. */
	server_answer(old, old->counter_value, 200, body, mac, ts);
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	assert_null(ans);
	/* Nor one MAC'd for this counter but another request's MAC. */
	server_answer(old, req->counter_value, 200, body, mac, ts);
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	/* A flipped MAC bit, another status, another time, another body. */
	server_answer(req, req->counter_value, 200, body, mac, ts);
	mac[0] = mac[0] == '0' ? '1' : '0';
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	server_answer(req, req->counter_value, 200, body, mac, ts);
	assert_int_equal(fpd_read_answer(dev, req, 201, mac, ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, "1767225602",
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
	                     (const unsigned char *)body, strlen(body) - 1,
	                     &ans),
	    FPD_EAUTH);
	/* A MAC without a timestamp, or malformed. */
	assert_int_equal(fpd_read_answer(dev, req, 200, mac, NULL,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	assert_int_equal(fpd_read_answer(dev, req, 200, "abc", ts,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	/* A success without a MAC is never believed. */
	assert_int_equal(fpd_read_answer(dev, req, 200, NULL, NULL,
	                     (const unsigned char *)body, strlen(body), &ans),
	    FPD_EAUTH);
	assert_null(ans);
	fpd_request_free(old);
	fpd_request_free(req);
	fpd_device_free(dev);
}

static void
test_error_answers(void **state)
{
	struct fpd_device *dev = new_device(10, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	const char *unauth =
	    "{\"Error\":\"UNAUTHORIZED\",\"Message\":\"The device could not "
	    "be authenticated.\"}";

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	/* The indistinguishable 401 has no MAC. */
	assert_int_equal(fpd_read_answer(dev, req, 401, NULL, NULL,
	                     (const unsigned char *)unauth, strlen(unauth),
	                     &ans),
	    FPD_EHTTP);
	assert_false(ans->authenticated);
	assert_int_equal(ans->status, 401);
	assert_string_equal(ans->error, "UNAUTHORIZED");
	/* Not authenticated: no resynchronisation from it. */
	assert_int_equal(fpd_device_resync(dev, ans), FPD_EINVAL);
	fpd_answer_free(ans);
	/* nginx's 502 page is not JSON: still an unauthenticated error. */
	assert_int_equal(fpd_read_answer(dev, req, 502, NULL, NULL,
	                     (const unsigned char *)"<html>", 6, &ans),
	    FPD_EHTTP);
	assert_null(ans->error);
	fpd_answer_free(ans);

	/* An authenticated replay answer carries the server's counter. */
	assert_int_equal(read_auth(dev, req, 409,
	                     "{\"Error\":\"COUNTER_REPLAY\",\"Message\":\"m\","
	                     "\"LastCounter\":500}",
	                     &ans),
	    FPD_EREFUSED);
	assert_true(ans->authenticated);
	assert_string_equal(ans->error, "COUNTER_REPLAY");
	assert_int_equal(ans->last_counter, 500);
	assert_int_equal(fpd_device_resync(dev, ans), FPD_OK);
	assert_int_equal(fpd_device_counter(dev), 500);
	fpd_answer_free(ans);
	fpd_request_free(req);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_string_equal(req->counter, "501");
	assert_int_equal(read_auth(dev, req, 429,
	                     "{\"Error\":\"RATE_LIMITED\",\"RetryAfter\":30}",
	                     &ans),
	    FPD_EREFUSED);
	assert_int_equal(ans->retry_after, 30);
	/* Only a COUNTER_REPLAY answer resynchronises. */
	assert_int_equal(fpd_device_resync(dev, ans), FPD_EINVAL);
	fpd_answer_free(ans);
	/* A malformed authenticated error answer. */
	assert_int_equal(read_auth(dev, req, 409,
	                     "{\"Error\":\"replay!\",\"LastCounter\":1}", &ans),
	    FPD_EPROTO);
	fpd_answer_free(ans);
	assert_int_equal(read_auth(dev, req, 409,
	                     "{\"Error\":\"COUNTER_REPLAY\",\"LastCounter\":"
	                     "\"5\"}",
	                     &ans),
	    FPD_EPROTO);
	fpd_answer_free(ans);
	fpd_request_free(req);
	fpd_device_free(dev);
}

static void
test_malformed_answers(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"\"x\"",
		"{\"HeartbeatInSec\":60,\"Commands\":[]}x",
		"{\"HeartbeatInSec\":60,\"Commands\":[],}",
		"{'HeartbeatInSec':60,\"Commands\":[]}",
		"{\"HeartbeatInSec\":60}",
		"{\"Commands\":[]}",
		"{\"HeartbeatInSec\":\"60\",\"Commands\":[]}",
		"{\"HeartbeatInSec\":60.0,\"Commands\":[]}",
		"{\"HeartbeatInSec\":0,\"Commands\":[]}",
		"{\"HeartbeatInSec\":-5,\"Commands\":[]}",
		"{\"HeartbeatInSec\":99999999999,\"Commands\":[]}",
		"{\"HeartbeatInSec\":60,\"Commands\":{}}",
		"{\"HeartbeatInSec\":60,\"Commands\":[1]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[{\"Type\":\"X\"}]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[{\"Id\":5}]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[{\"Id\":\"a b\"}]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[{\"Id\":\"a\\u0000b\"}]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[{\"Id\":\"c1\",\"Type\":"
		"\"REMOVE_CERTIFICATE\",\"Slot\":\"s\"},{\"Id\":\"c1\",\"Type\":"
		"\"REMOVE_CERTIFICATE\",\"Slot\":\"s\"}]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"\xc3\x28\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[[[[[[[[[[1]]]]]]]]]]}",
		/* What json-c's strict mode alone lets through. */
		"{\"HeartbeatInSec\":60,\"HeartbeatInSec\":60,\"Commands\":[]}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"\\ud800\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"\\udc00\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"\xc0\xaf\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"\xed\xa0\x80\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":\"a\tb\"}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":NaN}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":1.}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":01}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"\\u0058\":1}",
		"{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":tru}",
		"{\"HeartbeatInSec\":60,\"Commands\":[1,]}",
	};
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	char big[4096], *p;
	size_t i;
	int rc;

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = read_auth(dev, req, 200, bad[i], &ans);
		if (rc != FPD_EPROTO)
			fail_msg("answer %zu accepted: %s", i, bad[i]);
		fpd_answer_free(ans);
	}
	/* A NUL after the JSON, within the MAC'd length. */
	{
		static const char nul[] =
		    "{\"HeartbeatInSec\":60,\"Commands\":[]}\0";
		char mac[65], ts[24];
		unsigned char rot[8], k1[32], k2[32], m[32];
		struct devproto_resp dr;

		devproto_rot_parse(ROT, rot);
		fpd_derive_keys(ROT, secret, k1, k2);
		dr = (struct devproto_resp){ rot, req->counter_value,
			req->mac_raw, 200, NOW, (const unsigned char *)nul,
			sizeof(nul) - 1 };
		assert_int_equal(devproto_response_mac(k2, &dr, m), 0);
		devproto_hex_encode(m, 32, mac);
		strcpy(ts, "1767225600");
		assert_int_equal(fpd_read_answer(dev, req, 200, mac, ts,
		                     (const unsigned char *)nul,
		                     sizeof(nul) - 1, &ans),
		    FPD_EPROTO);
		fpd_answer_free(ans);
	}
	/* Valid escapes, UTF-8 and surrogate pairs pass. */
	assert_int_equal(
	    read_auth(dev, req, 200,
	        "{\"HeartbeatInSec\":60,\"Commands\":[],\"X\":"
	        "[\"\\ud83d\\ude00\\n\\\"\xc3\xa9\xf0\x9f\x98\x80\","
	        "-1.5e3,true,null,{}]} ",
	        &ans),
	    FPD_OK);
	fpd_answer_free(ans);
	/* 65 commands: one too many. */
	p = big + sprintf(big, "{\"HeartbeatInSec\":60,\"Commands\":[");
	for (i = 0; i < 65; i++)
		p += sprintf(p, "%s{\"Id\":\"c%zu\",\"Type\":\"X\"}",
		    i ? "," : "", i);
	strcpy(p, "]}");
	assert_int_equal(read_auth(dev, req, 200, big, &ans), FPD_EPROTO);
	fpd_answer_free(ans);
	/* 64 are fine. */
	p = big + sprintf(big, "{\"HeartbeatInSec\":60,\"Commands\":[");
	for (i = 0; i < 64; i++)
		p += sprintf(p, "%s{\"Id\":\"c%zu\",\"Type\":\"X\"}",
		    i ? "," : "", i);
	strcpy(p, "]}");
	assert_int_equal(read_auth(dev, req, 200, big, &ans), FPD_OK);
	assert_int_equal(ans->ncommands, 64);
	fpd_answer_free(ans);
	fpd_request_free(req);
	fpd_device_free(dev);
}

static void
test_acks(void **state)
{
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	const char *ok = "{\"HeartbeatInSec\":60,\"Commands\":[]}";

	assert_int_equal(fpd_ack_success(dev, "c1", NULL), FPD_OK);
	assert_int_equal(fpd_ack_failure(dev, "c2", "no such slot"), FPD_OK);
	assert_int_equal(fpd_ack_success(dev, "c3",
	                     "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
	                     "-----END CERTIFICATE REQUEST-----\n"),
	    FPD_OK);
	/* Bad ids, a failure without a reason, control characters. */
	assert_int_equal(fpd_ack_success(dev, "", NULL), FPD_EINVAL);
	assert_int_equal(fpd_ack_success(dev, "a\"b", NULL), FPD_EINVAL);
	assert_int_equal(fpd_ack_failure(dev, "c4", NULL), FPD_EINVAL);
	assert_int_equal(fpd_ack_failure(dev, "c4", "a\nb"), FPD_EINVAL);
	assert_int_equal(fpd_pending_acks(dev), 3);

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_string_equal(req->body,
	    "{\"Acks\":[{\"Id\":\"c1\",\"Status\":\"SUCCESS\"},"
	    "{\"Id\":\"c2\",\"Status\":\"FAILURE\",\"Error\":\"no such "
	    "slot\"},{\"Id\":\"c3\",\"Status\":\"SUCCESS\",\"Csr\":"
	    "\"-----BEGIN CERTIFICATE REQUEST-----\\nMIIB\\n"
	    "-----END CERTIFICATE REQUEST-----\\n\"}]}");
	server_verify(req);
	/* An ack made after the request was built stays for the next. */
	assert_int_equal(fpd_ack_success(dev, "c5", NULL), FPD_OK);
	/* Unauthenticated or refused answers keep every ack. */
	assert_int_equal(fpd_read_answer(dev, req, 200, NULL, NULL,
	                     (const unsigned char *)ok, strlen(ok), &ans),
	    FPD_EAUTH);
	assert_int_equal(fpd_pending_acks(dev), 4);
	assert_int_equal(read_auth(dev, req, 429,
	                     "{\"Error\":\"RATE_LIMITED\",\"RetryAfter\":5}",
	                     &ans),
	    FPD_EREFUSED);
	fpd_answer_free(ans);
	assert_int_equal(fpd_pending_acks(dev), 4);
	/* The success answer delivers the three it carried. */
	assert_int_equal(read_auth(dev, req, 200, ok, &ans), FPD_OK);
	fpd_answer_free(ans);
	assert_int_equal(fpd_pending_acks(dev), 1);
	fpd_request_free(req);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_string_equal(req->body,
	    "{\"Acks\":[{\"Id\":\"c5\",\"Status\":\"SUCCESS\"}]}");
	fpd_request_free(req);
	fpd_device_free(dev);
}

/* A self-signed certificate for 'key', PEM, malloc'ed. */
static char *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem;
	long n;

	assert_non_null(x);
	assert_non_null(b);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)ROT, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &data);
	pem = calloc(1, (size_t)n + 1);
	memcpy(pem, data, (size_t)n);
	BIO_free(b);
	X509_free(x);
	return pem;
}

static char *
b64(const unsigned char *in, size_t len)
{
	char *out = calloc(1, 4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static void
test_unwrap_key(void **state)
{
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *der = NULL, *p, *cder = NULL, hash[32], nonce[12],
	              tag[16], *ct, *got;
	unsigned char rot[8];
	char *pem, *certjson, *body, *sn, *sc, *st;
	const char *q;
	size_t gotlen, i, j;
	int len, clen;
	X509 *x;
	BIO *bio;
	PKCS8_PRIV_KEY_INFO *p8;

	assert_non_null(key);
	assert_non_null(other);
	pem = self_signed(key);
	/* The server's side: DER of the certificate, PKCS#8 of the key. */
	bio = BIO_new_mem_buf(pem, -1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	clen = i2d_X509(x, &cder);
	assert_true(clen > 0);
	EVP_Digest(cder, (size_t)clen, hash, NULL, EVP_sha256(), NULL);
	p8 = EVP_PKEY2PKCS8(key);
	assert_non_null(p8);
	len = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
	der = malloc((size_t)len);
	p = der;
	assert_int_equal(i2d_PKCS8_PRIV_KEY_INFO(p8, &p), len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ct = malloc((size_t)len);
	memset(nonce, 0x42, sizeof(nonce));
	devproto_rot_parse(ROT, rot);
	assert_int_equal(devproto_ztp_seal(secret, rot, hash, nonce, der,
	                     (size_t)len, ct, tag),
	    0);
	/* The certificate as a JSON string: newlines escaped. */
	certjson = calloc(1, 2 * strlen(pem) + 1);
	for (q = pem, i = 0; *q != '\0'; q++) {
		if (*q == '\n') {
			certjson[i++] = '\\';
			certjson[i++] = 'n';
		} else {
			certjson[i++] = *q;
		}
	}
	sn = b64(nonce, sizeof(nonce));
	sc = b64(ct, (size_t)len);
	st = b64(tag, sizeof(tag));
	body = malloc(strlen(certjson) + strlen(sc) + 512);
	sprintf(body,
	    "{\"HeartbeatInSec\":60,\"Commands\":[{\"Id\":\"k1\",\"Type\":"
	    "\"INSTALL_KEY_AND_CERTIFICATE\",\"Slot\":\"ztp\",\"Certificate\":"
	    "\"%s\",\"WrappedKey\":{\"Alg\":\"A256GCM\",\"Nonce\":\"%s\","
	    "\"Ciphertext\":\"%s\",\"Tag\":\"%s\"}}]}",
	    certjson, sn, sc, st);

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_int_equal(read_auth(dev, req, 200, body, &ans), FPD_OK);
	assert_int_equal(ans->ncommands, 1);
	assert_null(ans->commands[0].invalid);
	assert_int_equal(fpd_unwrap_key(dev, &ans->commands[0], &got, &gotlen),
	    FPD_OK);
	assert_int_equal(gotlen, (size_t)len);
	assert_memory_equal(got, der, gotlen);
	OPENSSL_cleanse(got, gotlen);
	free(got);
	/* A changed ciphertext byte or tag fails. */
	for (j = 0; j < 2; j++) {
		char *s = j == 0 ? ans->commands[0].wrapped_ciphertext
		                 : ans->commands[0].wrapped_tag;
		char was = s[0];

		s[0] = was == 'A' ? 'B' : 'A';
		assert_int_equal(fpd_unwrap_key(dev, &ans->commands[0], &got,
		                     &gotlen),
		    FPD_ECRYPTO);
		assert_null(got);
		s[0] = was;
	}
	assert_int_equal(fpd_unwrap_key(dev, &ans->commands[0], &got, &gotlen),
	    FPD_OK);
	free(got);
	fpd_answer_free(ans);
	fpd_request_free(req);
	fpd_device_free(dev);

	/* Another device (another ROT, same secret) cannot open it. */
	assert_int_equal(fpd_device_new("0000200456789545", secret, 0, NULL,
	                     NULL, &dev),
	    FPD_OK);
	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	{
		unsigned char r2[8], k1[32], k2[32], m[32];
		char mac[65];
		struct devproto_resp dr;

		devproto_rot_parse("0000200456789545", r2);
		fpd_derive_keys("0000200456789545", secret, k1, k2);
		dr = (struct devproto_resp){ r2, req->counter_value,
			req->mac_raw, 200, NOW, (const unsigned char *)body,
			strlen(body) };
		devproto_response_mac(k2, &dr, m);
		devproto_hex_encode(m, 32, mac);
		assert_int_equal(fpd_read_answer(dev, req, 200, mac,
		                     "1767225600", (const unsigned char *)body,
		                     strlen(body), &ans),
		    FPD_OK);
	}
	assert_int_equal(fpd_unwrap_key(dev, &ans->commands[0], &got, &gotlen),
	    FPD_ECRYPTO);
	fpd_answer_free(ans);
	fpd_request_free(req);
	fpd_device_free(dev);

	free(body);
	free(sn);
	free(sc);
	free(st);
	free(certjson);
	free(ct);
	free(der);
	OPENSSL_free(cder);
	X509_free(x);
	BIO_free(bio);
	free(pem);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_generate_key(void **state)
{
	static const char *const types[] = { "EC-P256", "EC-P384", "RSA-2048" };
	struct fpd_device *dev = new_device(0, NULL);
	struct fpd_request *req;
	struct fpd_answer *ans;
	struct fpd_command cmd;
	EVP_PKEY *key, *other;
	X509_REQ *csr;
	X509 *cert;
	BIO *b;
	char *pem, *certpem, cn[32];
	size_t i;

	assert_int_equal(fpd_build_heartbeat(dev, NOW, &req), FPD_OK);
	assert_int_equal(read_auth(dev, req, 200,
	                     "{\"HeartbeatInSec\":60,\"Commands\":["
	                     "{\"Id\":\"z1\",\"Type\":\"GENERATE_KEY\","
	                     "\"Slot\":\"ztp\"}]}",
	                     &ans),
	    FPD_OK);
	cmd = ans->commands[0];
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cmd.key_type = (char *)types[i];
		assert_int_equal(fpd_generate_key(dev, &cmd, &key, &pem),
		    FPD_OK);
		/* A CSR signed by the new key, CN = the ROT. */
		b = BIO_new_mem_buf(pem, -1);
		csr = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
		assert_non_null(csr);
		assert_int_equal(X509_REQ_verify(csr, key), 1);
		assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), key),
		    1);
		assert_true(
		    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(csr),
		        NID_commonName, cn, sizeof(cn)) > 0);
		assert_string_equal(cn, ROT);
		/* The acknowledgement can carry it. */
		assert_int_equal(fpd_ack_success(dev, cmd.id, pem), FPD_OK);
		X509_REQ_free(csr);
		BIO_free(b);
		free(pem);
		EVP_PKEY_free(key);
	}
	cmd.key_type = (char *)"DSA-1024";
	assert_int_equal(fpd_generate_key(dev, &cmd, &key, &pem), FPD_EINVAL);
	assert_null(key);
	assert_null(pem);
	cmd.key_type = (char *)"EC-P256";
	cmd.type = FPD_CMD_REMOVE_CERTIFICATE;
	assert_int_equal(fpd_generate_key(dev, &cmd, &key, &pem), FPD_EINVAL);
	fpd_answer_free(ans);
	fpd_request_free(req);

	/* A certificate installs only beside its own key. */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	certpem = self_signed(key);
	memset(&cmd, 0, sizeof(cmd));
	cmd.id = (char *)"z2";
	cmd.type = FPD_CMD_INSTALL_CERTIFICATE;
	cmd.certificate = certpem;
	assert_int_equal(fpd_check_certificate(&cmd, key, &cert), FPD_OK);
	assert_non_null(cert);
	X509_free(cert);
	assert_int_equal(fpd_check_certificate(&cmd, other, &cert),
	    FPD_ECRYPTO);
	assert_null(cert);
	cmd.certificate = (char *)"-----BEGIN CERTIFICATE-----\nAAAA\n";
	assert_int_equal(fpd_check_certificate(&cmd, key, &cert), FPD_ECRYPTO);
	cmd.certificate = certpem;
	cmd.type = FPD_CMD_GENERATE_KEY;
	assert_int_equal(fpd_check_certificate(&cmd, key, &cert), FPD_EINVAL);
	free(certpem);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	fpd_device_free(dev);
}

static void
test_client_args(void **state)
{
	struct fpd_client *cl;

	/* https only, a base URL without a trailing slash. */
	assert_int_equal(fpd_client_new("http://127.0.0.1:8080", NULL, 5, &cl),
	    FPD_EINVAL);
	assert_int_equal(fpd_client_new("https://127.0.0.1:8443/", NULL, 5,
	                     &cl),
	    FPD_EINVAL);
	assert_int_equal(fpd_client_new("https://a b", NULL, 5, &cl),
	    FPD_EINVAL);
	assert_int_equal(fpd_client_new("https://127.0.0.1:8443", NULL, 5, &cl),
	    FPD_OK);
	fpd_client_free(cl);
	assert_string_equal(fpd_strerror(FPD_EAUTH),
	    "answer not authenticated (MAC missing or wrong)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_bootstrap_body),
		cmocka_unit_test(test_answer_commands),
		cmocka_unit_test(test_answer_authentication),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_malformed_answers),
		cmocka_unit_test(test_acks),
		cmocka_unit_test(test_unwrap_key),
		cmocka_unit_test(test_generate_key),
		cmocka_unit_test(test_client_args),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
