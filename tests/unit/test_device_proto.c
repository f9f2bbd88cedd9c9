/*
 * Unit tests for devproto: the test vectors of docs/device-protocol.md
 * (computed there by an independent implementation), canonical-form
 * ambiguity, MAC verification and the strict header parsers.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki/devproto.h"

/* The vector inputs (docs/device-protocol.md, "Test vectors"). */
static const char VEC_ROT[] = "0000200456789544";
static const char VEC_BODY[] =
    "{\"Acks\":[{\"Id\":\"c1\",\"Status\":\"SUCCESS\"}]}";
static const char VEC_RBODY[] = "{\"HeartbeatInSec\":3600,\"Commands\":[]}";
static const char VEC_BBODY[] = "{\"DeviceSerialNumber\":\"356938035643809\"}";

static const char VEC_KREQ[] =
    "84d0668f3e74710f1641998c770e89a99c1d5d2e68371a62707230107926c612";
static const char VEC_KRESP[] =
    "c6bd174807013afcac2d09af499eb145964b0768e9438757e9cc240ca5a401bb";
static const char VEC_KZTP[] =
    "6ae5cc38c63529c095caa591064bf2d17efc5d0afe21140d95fbc85bc688cace";
static const char VEC_CREQ[] =
    "46504452455130310000200456789544000000000000002a000000006955b900"
    "00000004504f5354000000142f6465766963652f76312f686561727462656174"
    "000000297b2241636b73223a5b7b224964223a226331222c2253746174757322"
    "3a2253554343455353227d5d7d";
static const char VEC_MAC[] =
    "ac4735ed93fe7e2fb21f7af1cfe1a8985012e17391995e4f1420b5a19805559b";
static const char VEC_CRESP[] =
    "46504452535030310000200456789544000000000000002aac4735ed93fe7e2f"
    "b21f7af1cfe1a8985012e17391995e4f1420b5a19805559b000000c800000000"
    "6955b901000000257b22486561727462656174496e536563223a333630302c22"
    "436f6d6d616e6473223a5b5d7d";
static const char VEC_RMAC[] =
    "a5fec3d20f48a108f541b4daf18165c4f459af256a19def4e214a805f3d2a031";
static const char VEC_CREQ2[] =
    "465044524551303100002004567895440000000000000001000000006955b89c"
    "00000004504f5354000000142f6465766963652f76312f626f6f747374726170"
    "000000287b2244657669636553657269616c4e756d626572223a223335363933"
    "38303335363433383039227d";
static const char VEC_MAC2[] =
    "97886d64c36e5b780ab4a263ec747ba215afeb31140e0c9f3c6ee9ae79bd20f4";

static unsigned char secret[DEVPROTO_SECRET_LEN];
static unsigned char rot[DEVPROTO_ROT_LEN];

static int
setup(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)i;
	assert_int_equal(devproto_rot_parse(VEC_ROT, rot), 0);
	return 0;
}

static void
assert_hex(const unsigned char *b, size_t len, const char *want)
{
	char *hex = malloc(2 * len + 1);

	assert_non_null(hex);
	devproto_hex_encode(b, len, hex);
	assert_string_equal(hex, want);
	free(hex);
}

static struct devproto_req
vec_request(void)
{
	struct devproto_req r = { rot, 42, 1767225600, "POST",
		DEVPROTO_PATH_HEARTBEAT, (const unsigned char *)VEC_BODY,
		sizeof(VEC_BODY) - 1 };
	return r;
}

static void
test_vector_keys(void **state)
{
	struct devproto_keys keys;
	unsigned char ztp[32], ctx[32];

	assert_int_equal(devproto_derive_keys(secret, rot, &keys), 0);
	assert_hex(keys.request, sizeof(keys.request), VEC_KREQ);
	assert_hex(keys.response, sizeof(keys.response), VEC_KRESP);
	memset(ctx, 0xaa, sizeof(ctx));
	assert_int_equal(devproto_derive(secret, rot,
	                     DEVPROTO_LABEL_ZTP_KEY_WRAP, ctx, sizeof(ctx), ztp,
	                     sizeof(ztp)),
	    0);
	assert_hex(ztp, sizeof(ztp), VEC_KZTP);
	devproto_keys_wipe(&keys);
	assert_int_equal(keys.request[0] | keys.response[31], 0);
}

static void
test_derive_separation(void **state)
{
	unsigned char a[32], b[32], other[DEVPROTO_ROT_LEN];

	/* Another device, another label, another context: another key. */
	assert_int_equal(devproto_derive(secret, rot, "request-mac", NULL, 0, a,
	                     sizeof(a)),
	    0);
	memcpy(other, rot, sizeof(other));
	other[7] ^= 1;
	assert_int_equal(devproto_derive(secret, other, "request-mac", NULL, 0,
	                     b, sizeof(b)),
	    0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(devproto_derive(secret, rot, "request-ma", NULL, 0, b,
	                     sizeof(b)),
	    0);
	assert_memory_not_equal(a, b, sizeof(a));
	/* Bad arguments are refused. */
	assert_int_equal(devproto_derive(secret, rot, "", NULL, 0, a, 32), -1);
	assert_int_equal(devproto_derive(secret, rot, "x", NULL, 5, a, 32), -1);
	assert_int_equal(devproto_derive(secret, rot, "x", NULL, 0, a, 0), -1);
	assert_int_equal(devproto_derive(NULL, rot, "x", NULL, 0, a, 32), -1);
}

static void
test_vector_request(void **state)
{
	struct devproto_keys keys;
	struct devproto_req r = vec_request();
	unsigned char buf[512], mac[32];
	size_t len, need;

	assert_int_equal(devproto_derive_keys(secret, rot, &keys), 0);
	assert_int_equal(devproto_canonical_request(&r, NULL, 0, &need), 0);
	assert_int_equal(devproto_canonical_request(&r, buf, sizeof(buf), &len),
	    0);
	assert_int_equal(len, need);
	assert_hex(buf, len, VEC_CREQ);
	/* A buffer one byte short is refused, not overrun. */
	assert_int_equal(devproto_canonical_request(&r, buf, need - 1, &len),
	    -1);
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), 0);
	assert_hex(mac, sizeof(mac), VEC_MAC);
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), 0);

	/* The bootstrap vector. */
	r.counter = 1;
	r.timestamp = 1767225500;
	r.path = DEVPROTO_PATH_BOOTSTRAP;
	r.body = (const unsigned char *)VEC_BBODY;
	r.body_len = sizeof(VEC_BBODY) - 1;
	assert_int_equal(devproto_canonical_request(&r, buf, sizeof(buf), &len),
	    0);
	assert_hex(buf, len, VEC_CREQ2);
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), 0);
	assert_hex(mac, sizeof(mac), VEC_MAC2);
	devproto_keys_wipe(&keys);
}

static void
test_vector_response(void **state)
{
	struct devproto_keys keys;
	struct devproto_req r = vec_request();
	unsigned char reqmac[32], mac[32], buf[512];
	struct devproto_resp a;
	size_t len;

	assert_int_equal(devproto_derive_keys(secret, rot, &keys), 0);
	assert_int_equal(devproto_request_mac(keys.request, &r, reqmac), 0);
	a = (struct devproto_resp){ rot, 42, reqmac, 200, 1767225601,
		(const unsigned char *)VEC_RBODY, sizeof(VEC_RBODY) - 1 };
	assert_int_equal(devproto_canonical_response(&a, buf, sizeof(buf),
	                     &len),
	    0);
	assert_hex(buf, len, VEC_CRESP);
	assert_int_equal(devproto_response_mac(keys.response, &a, mac), 0);
	assert_hex(mac, sizeof(mac), VEC_RMAC);
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), 0);

	/* The request key does not verify an answer. */
	assert_int_equal(devproto_response_verify(keys.request, &a, mac), -1);
	/* An answer to the previous request is not an answer to this one. */
	a.req_counter = 41;
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), -1);
	a.req_counter = 42;
	reqmac[0] ^= 1;
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), -1);
	reqmac[0] ^= 1;
	/* Another status (an error made a success) fails. */
	a.status = 409;
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), -1);
	a.status = 200;
	/* One flipped bit of the MAC fails. */
	mac[31] ^= 0x80;
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), -1);
	mac[31] ^= 0x80;
	assert_int_equal(devproto_response_verify(keys.response, &a, mac), 0);
	assert_int_equal(devproto_response_verify(keys.response, &a, NULL), -1);
	devproto_keys_wipe(&keys);
}

/* The canonical form of 'r', hex, in a static buffer. */
static const char *
form_hex(const struct devproto_req *r)
{
	static char hex[2 * 512 + 1];
	unsigned char buf[512];
	size_t len;

	assert_int_equal(devproto_canonical_request(r, buf, sizeof(buf), &len),
	    0);
	devproto_hex_encode(buf, len, hex);
	return hex;
}

static void
test_canonical_ambiguity(void **state)
{
	struct devproto_req a = vec_request(), b = vec_request();
	char first[2 * 512 + 1];

	/*
	 * Moving bytes between the path and the body keeps their
	 * concatenation but changes the form (length prefixes).
	 */
	a.path = "/device/v1/heartbeat";
	a.body = (const unsigned char *)"{}";
	a.body_len = 2;
	b.path = "/device/v1/heartbeat{";
	b.body = (const unsigned char *)"}";
	b.body_len = 1;
	strcpy(first, form_hex(&a));
	assert_string_not_equal(first, form_hex(&b));
	/* Likewise between the method and the path. */
	b = a;
	b.method = "POST/";
	b.path = "device/v1/heartbeat";
	assert_string_not_equal(first, form_hex(&b));
	/* Counter and timestamp are fixed-width: swapping them shows. */
	b = a;
	b.counter = (uint64_t)a.timestamp;
	b.timestamp = (int64_t)a.counter;
	assert_string_not_equal(first, form_hex(&b));
	/* An empty body and a missing one are the same: length 0. */
	b = a;
	b.body = NULL;
	b.body_len = 0;
	a.body_len = 0;
	assert_string_equal(form_hex(&a), form_hex(&b));
	/* A body with an embedded NUL is covered to its last byte. */
	a.body = (const unsigned char *)"{}\0x";
	a.body_len = 4;
	b.body = (const unsigned char *)"{}\0y";
	b.body_len = 4;
	strcpy(first, form_hex(&a));
	assert_string_not_equal(first, form_hex(&b));
	/* A request's form is never an answer's: different tags. */
	assert_memory_equal(first, "4650445245513031", 16);
}

static void
test_request_verify(void **state)
{
	struct devproto_keys keys;
	struct devproto_req r = vec_request();
	unsigned char mac[32];
	size_t len;

	assert_int_equal(devproto_derive_keys(secret, rot, &keys), 0);
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), 0);
	/* Each covered field changes the MAC. */
	r.counter = 43;
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), -1);
	r = vec_request();
	r.timestamp++;
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), -1);
	r = vec_request();
	r.path = DEVPROTO_PATH_BOOTSTRAP;
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), -1);
	r = vec_request();
	r.body_len--;
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), -1);
	r = vec_request();
	assert_int_equal(devproto_request_verify(keys.response, &r, mac), -1);
	assert_int_equal(devproto_request_verify(keys.request, &r, mac), 0);
	/* Out-of-range fields are refused. */
	r.counter = 0;
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), -1);
	assert_int_equal(devproto_canonical_request(&r, NULL, 0, &len), -1);
	r.counter = (uint64_t)INT64_MAX + 1;
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), -1);
	r = vec_request();
	r.timestamp = -1;
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), -1);
	r = vec_request();
	r.body = NULL;
	assert_int_equal(devproto_request_mac(keys.request, &r, mac), -1);
	devproto_keys_wipe(&keys);
}

static void
test_header_parsers(void **state)
{
	unsigned char b[DEVPROTO_ROT_LEN], mac[32];
	char out[DEVPROTO_ROT_HEX_LEN + 1];
	uint64_t c;
	int64_t t;

	assert_int_equal(devproto_rot_parse("00002004567895aB", b), 0);
	devproto_rot_format(b, out);
	assert_string_equal(out, "00002004567895AB");
	assert_int_equal(devproto_rot_parse("00002004567895a", b), -1);
	assert_int_equal(devproto_rot_parse("00002004567895abc", b), -1);
	assert_int_equal(devproto_rot_parse("00002004567895ag", b), -1);
	assert_int_equal(devproto_rot_parse(" 0002004567895ab", b), -1);
	assert_int_equal(devproto_rot_parse(NULL, b), -1);

	assert_int_equal(devproto_parse_counter("1", &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(devproto_parse_counter("9223372036854775807", &c), 0);
	assert_true(c == (uint64_t)INT64_MAX);
	assert_int_equal(devproto_parse_counter("9223372036854775808", &c), -1);
	assert_int_equal(devproto_parse_counter("18446744073709551616", &c),
	    -1);
	assert_int_equal(devproto_parse_counter("0", &c), -1);
	assert_int_equal(devproto_parse_counter("01", &c), -1);
	assert_int_equal(devproto_parse_counter("+1", &c), -1);
	assert_int_equal(devproto_parse_counter("-1", &c), -1);
	assert_int_equal(devproto_parse_counter("1 ", &c), -1);
	assert_int_equal(devproto_parse_counter("", &c), -1);
	assert_int_equal(devproto_parse_counter("0x10", &c), -1);

	assert_int_equal(devproto_parse_timestamp("0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(devproto_parse_timestamp("1767225600", &t), 0);
	assert_int_equal(t, 1767225600);
	assert_int_equal(devproto_parse_timestamp("00", &t), -1);
	assert_int_equal(devproto_parse_timestamp("-5", &t), -1);
	assert_int_equal(devproto_parse_timestamp("1e9", &t), -1);

	assert_int_equal(devproto_parse_mac(VEC_MAC, mac), 0);
	assert_hex(mac, sizeof(mac), VEC_MAC);
	assert_int_equal(devproto_parse_mac("ac47", mac), -1);
	assert_int_equal(devproto_hex_decode("zz", b, 1), -1);
	assert_int_equal(devproto_hex_decode("", b, 0), 0);
}

static void
test_ztp_envelope(void **state)
{
	/* The ZTP vector: SHA-256("example certificate"), nonce 00..0b. */
	static const char pt[] = "example private key";
	unsigned char certhash[32], nonce[12], ct[sizeof(pt) - 1],
	    back[sizeof(pt) - 1], tag[16];
	size_t i;

	assert_int_equal(devproto_hex_decode("60a3fc80cd8d087bc8168f6570269dc5"
	                                     "00863b337424a07aa71b9a104dc25c7f",
	                     certhash, sizeof(certhash)),
	    0);
	for (i = 0; i < sizeof(nonce); i++)
		nonce[i] = (unsigned char)i;
	assert_int_equal(devproto_ztp_seal(secret, rot, certhash, nonce,
	                     (const unsigned char *)pt, sizeof(ct), ct, tag),
	    0);
	assert_hex(ct, sizeof(ct), "b2023f0bfcaa13af2cb20cbc56ac84d0ff4aa3");
	assert_hex(tag, sizeof(tag), "b3df6d30a2f1d8f6d730a5f54545f9a7");
	assert_int_equal(devproto_ztp_open(secret, rot, certhash, nonce, ct,
	                     sizeof(ct), back, tag),
	    0);
	assert_memory_equal(back, pt, sizeof(back));
	/* Another certificate, another device, a changed byte: refused. */
	certhash[0] ^= 1;
	assert_int_equal(devproto_ztp_open(secret, rot, certhash, nonce, ct,
	                     sizeof(ct), back, tag),
	    -1);
	certhash[0] ^= 1;
	rot[0] ^= 1;
	assert_int_equal(devproto_ztp_open(secret, rot, certhash, nonce, ct,
	                     sizeof(ct), back, tag),
	    -1);
	rot[0] ^= 1;
	ct[3] ^= 0x10;
	assert_int_equal(devproto_ztp_open(secret, rot, certhash, nonce, ct,
	                     sizeof(ct), back, tag),
	    -1);
	/* A failed open leaves no plaintext behind. */
	for (i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0);
	ct[3] ^= 0x10;
	tag[15] ^= 1;
	assert_int_equal(devproto_ztp_open(secret, rot, certhash, nonce, ct,
	                     sizeof(ct), back, tag),
	    -1);
}

static void
test_mac_equal(void **state)
{
	unsigned char a[32], b[32];

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(devproto_mac_equal(a, b));
	b[0] ^= 1;
	assert_false(devproto_mac_equal(a, b));
	b[0] ^= 1;
	b[31] ^= 1;
	assert_false(devproto_mac_equal(a, b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_keys),
		cmocka_unit_test(test_derive_separation),
		cmocka_unit_test(test_vector_request),
		cmocka_unit_test(test_vector_response),
		cmocka_unit_test(test_canonical_ambiguity),
		cmocka_unit_test(test_request_verify),
		cmocka_unit_test(test_header_parsers),
		cmocka_unit_test(test_ztp_envelope),
		cmocka_unit_test(test_mac_equal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
