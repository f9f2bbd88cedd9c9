/*
 * Unit tests for devproto_e2e: the test vectors of docs/e2e.md (computed
 * there by an independent implementation, scripts/e2e_vectors.py), the
 * KIV parser's strictness, epoch resolution, and that a flipped bit
 * anywhere in a message makes it fail to open.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"
#include "fleetpki/devproto_e2e.h"

static const char VEC_ROT[] = "0000200456789544";
static const char VEC_PT[] = "fleetpki e2e test vector";
#define VEC_EPOCH 7

static const char VEC_K128[] = "aa65faa6d1551b2398a2f2e6f3adad4b";
static const char VEC_K256[] =
    "0dfd64db7a02723252b4ffeaf8debea31493f872a7be06ed9ab448723e5cd5bf";
static const char VEC_UP_V1_128[] =
    "01010000200456789544000000070000a0a1a2a3a4a5a6a7a8a9aaab00000018"
    "04212254a51cdc0831cf5944eebd036e626f51b591beafd6d230573b2627613a"
    "1bc5d25a0c9e4f70";
static const char VEC_UP_V1_256[] =
    "01020000200456789544000000070000a0a1a2a3a4a5a6a7a8a9aaab00000018"
    "a2e3799c7543eb833afd95fc20591fd261eafc2285c5e9b2c59e200ca6609b50"
    "921eaa4b3f1d78cd";
static const char VEC_UP_V2_128[] =
    "020100002004567895440007a0a1a2a3a4a5a6a7a8a9aaab0000001804212254"
    "a51cdc0831cf5944eebd036e626f51b591beafd6a69e3d801bd779d914974bd0"
    "811bf6ba";
static const char VEC_DL_ENC[] = "66cf8a918787ca8a5173c56afa5f62b7";
static const char VEC_DL_MAC[] = "859581b4d1ddf9718bb12a30ebaa1b04";
static const char VEC_DL[] =
    "01100000200456789544000000070000c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
    "7233c6e5b985372f8af885b9841fddc9e098fb9b06f078360e86f2bef06a8ace"
    "e705f19272ff9c53b6a274daa28d7e0e";

static unsigned char secret[32], rot[8], nonce[12], iv[16];

static int
setup(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		secret[i] = (unsigned char)i;
	for (i = 0; i < 12; i++)
		nonce[i] = (unsigned char)(0xa0 + i);
	for (i = 0; i < 16; i++)
		iv[i] = (unsigned char)(0xc0 + i);
	return devproto_rot_parse(VEC_ROT, rot);
}

static void
assert_hex(const unsigned char *p, size_t n, const char *want)
{
	char *hex = malloc(2 * n + 1);

	assert_non_null(hex);
	devproto_hex_encode(p, n, hex);
	assert_string_equal(hex, want);
	free(hex);
}

static void
test_keys(void **state)
{
	unsigned char k[32], enc[16], mac[16];

	(void)state;
	assert_int_equal(e2e_uplink_key(secret, rot, VEC_EPOCH,
	                     E2E_SUITE_AES128_CCM, k),
	    0);
	assert_hex(k, 16, VEC_K128);
	assert_int_equal(e2e_uplink_key(secret, rot, VEC_EPOCH,
	                     E2E_SUITE_AES256_CCM, k),
	    0);
	assert_hex(k, 32, VEC_K256);
	assert_int_equal(e2e_uplink_key(secret, rot, VEC_EPOCH, 0x03, k), -1);
	assert_int_equal(e2e_uplink_key(secret, rot,
	                     (uint64_t)E2E_EPOCH_MAX + 1, 1, k),
	    -1);
	assert_int_equal(e2e_downlink_keys(secret, rot, VEC_EPOCH, enc, mac),
	    0);
	assert_hex(enc, 16, VEC_DL_ENC);
	assert_hex(mac, 16, VEC_DL_MAC);
	/* another epoch, another key */
	assert_int_equal(e2e_uplink_key(secret, rot, VEC_EPOCH + 1,
	                     E2E_SUITE_AES128_CCM, k),
	    0);
	assert_true(memcmp(k, "\xaa\x65\xfa\xa6", 4) != 0);
}

/* Seal the vector's plaintext as ('version', 'suite'), compare, open. */
static void
uplink_vector(int version, int suite, const char *want)
{
	unsigned char key[32], msg[128], out[64];
	size_t hlen = e2e_hdr_len(version), len = strlen(VEC_PT), i;
	size_t klen = e2e_suite_key_len(suite), total = hlen + len + 16;

	assert_int_equal(e2e_uplink_key(secret, rot, VEC_EPOCH, suite, key), 0);
	assert_int_equal(e2e_uplink_header(version, suite, rot, VEC_EPOCH,
	                     nonce, len, msg),
	    0);
	assert_int_equal(e2e_ccm_seal(key, klen, msg, hlen,
	                     (const unsigned char *)VEC_PT, len, msg + hlen,
	                     msg + hlen + len),
	    0);
	assert_hex(msg, total, want);
	assert_int_equal(e2e_ccm_open(key, klen, msg, hlen, msg + hlen, len,
	                     out, msg + hlen + len),
	    0);
	assert_memory_equal(out, VEC_PT, len);
	/* every bit of header, ciphertext and tag is covered */
	for (i = 0; i < total * 8; i++) {
		msg[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(e2e_ccm_open(key, klen, msg, hlen, msg + hlen,
		                     len, out, msg + hlen + len),
		    -1);
		msg[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	/* a length field that does not match the message */
	assert_int_equal(e2e_ccm_open(key, klen, msg, hlen, msg + hlen, len - 1,
	                     out, msg + hlen + len),
	    -1);
}

static void
test_uplink_vectors(void **state)
{
	(void)state;
	uplink_vector(E2E_V1, E2E_SUITE_AES128_CCM, VEC_UP_V1_128);
	uplink_vector(E2E_V1, E2E_SUITE_AES256_CCM, VEC_UP_V1_256);
	uplink_vector(E2E_V2, E2E_SUITE_AES128_CCM, VEC_UP_V2_128);
}

static void
test_downlink_vector(void **state)
{
	unsigned char enc[16], mac[16], kiv[16], msg[128], out[128];
	size_t len = strlen(VEC_PT), n = 0, total, i;

	(void)state;
	assert_int_equal(e2e_downlink_keys(secret, rot, VEC_EPOCH, enc, mac),
	    0);
	assert_int_equal(e2e_kiv_encode(E2E_V1, E2E_SUITE_CS1, rot, VEC_EPOCH,
	                     kiv),
	    0);
	total = e2e_cs1_len(len);
	assert_int_equal(total, 32 + 32 + 16);
	assert_int_equal(e2e_cs1_seal(enc, mac, kiv, iv,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    0);
	assert_int_equal(n, total);
	assert_hex(msg, n, VEC_DL);
	assert_int_equal(e2e_cs1_open(enc, mac, msg, n, out, sizeof(out), &n),
	    0);
	assert_int_equal(n, len);
	assert_memory_equal(out, VEC_PT, len);
	for (i = 0; i < total * 8; i++) {
		msg[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(e2e_cs1_open(enc, mac, msg, total, out,
		                     sizeof(out), &n),
		    -1);
		msg[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	/* truncated, or a v2 / uplink KIV: refused */
	assert_int_equal(e2e_cs1_open(enc, mac, msg, total - 16, out,
	                     sizeof(out), &n),
	    -1);
	assert_int_equal(e2e_kiv_encode(E2E_V2, E2E_SUITE_CS1, rot, 1, kiv),
	    -1);
}

static void
test_kiv_parse(void **state)
{
	unsigned char b[16];
	struct e2e_kiv k;

	(void)state;
	assert_int_equal(e2e_kiv_encode(E2E_V1, E2E_SUITE_AES256_CCM, rot,
	                     0x01020304, b),
	    0);
	assert_int_equal(e2e_kiv_parse(b, 16, 0, &k), 0);
	assert_int_equal(k.version, 1);
	assert_int_equal(k.suite, 2);
	assert_memory_equal(k.rot, rot, 8);
	assert_int_equal(k.epoch_bits, 0x01020304);
	assert_int_equal(k.epoch_width, 32);
	assert_int_equal(e2e_kiv_parse(b, 15, 0, &k), -1); /* short */
	assert_int_equal(e2e_kiv_parse(b, 16, 1, &k), -1); /* not downlink */
	b[15] = 1; /* reserved byte */
	assert_int_equal(e2e_kiv_parse(b, 16, 0, &k), -1);
	b[15] = 0;
	b[1] = 0x03; /* unknown suite */
	assert_int_equal(e2e_kiv_parse(b, 16, 0, &k), -1);
	b[0] = 3; /* unknown version */
	b[1] = 1;
	assert_int_equal(e2e_kiv_parse(b, 16, 0, &k), -1);
	assert_int_equal(e2e_kiv_encode(E2E_V2, E2E_SUITE_AES128_CCM, rot,
	                     0x12345, b),
	    0);
	assert_int_equal(e2e_kiv_parse(b, 12, 0, &k), 0);
	assert_int_equal(k.epoch_bits, 0x2345);
	assert_int_equal(k.epoch_width, 16);
	assert_int_equal(e2e_kiv_parse(b, 11, 0, &k), -1);
}

static void
test_epoch_resolve(void **state)
{
	(void)state;
	assert_int_equal(e2e_epoch_resolve(7, 32, 0), 7);
	assert_int_equal(e2e_epoch_resolve(7, 32, 7), 7);
	assert_int_equal(e2e_epoch_resolve(7, 32, 8), 7 + ((uint64_t)1 << 32));
	assert_int_equal(e2e_epoch_resolve(0x0005, 16, 0x1fffe), 0x20005);
	assert_int_equal(e2e_epoch_resolve(0xffff, 16, 0x1fffe), 0x1ffff);
	assert_int_equal(e2e_epoch_resolve(0xfffe, 16, 0x1fffe), 0x1fffe);
}

/* Empty messages both ways: a tag alone, one padding block. */
static void
test_empty_messages(void **state)
{
	unsigned char key[16], hdr[32], tag[16], enc[16], mac[16], kiv[16];
	unsigned char msg[80], out[32];
	size_t n = 0;

	(void)state;
	assert_int_equal(e2e_uplink_key(secret, rot, 1, E2E_SUITE_AES128_CCM,
	                     key),
	    0);
	assert_int_equal(e2e_uplink_header(E2E_V1, E2E_SUITE_AES128_CCM, rot, 1,
	                     nonce, 0, hdr),
	    0);
	assert_int_equal(e2e_ccm_seal(key, 16, hdr, 32, out, 0, out, tag), 0);
	assert_int_equal(e2e_ccm_open(key, 16, hdr, 32, out, 0, out, tag), 0);
	hdr[20] ^= 1;
	assert_int_equal(e2e_ccm_open(key, 16, hdr, 32, out, 0, out, tag), -1);
	assert_int_equal(e2e_downlink_keys(secret, rot, 1, enc, mac), 0);
	assert_int_equal(e2e_kiv_encode(E2E_V1, E2E_SUITE_CS1, rot, 1, kiv), 0);
	assert_int_equal(e2e_cs1_seal(enc, mac, kiv, iv, out, 0, msg,
	                     sizeof(msg), &n),
	    0);
	assert_int_equal(n, 32 + 16 + 16);
	assert_int_equal(e2e_cs1_open(enc, mac, msg, n, out, sizeof(out), &n),
	    0);
	assert_int_equal(n, 0);
}

/* ---- the device library (fpd_e2e_*) -------------------------------- */

#define NOW 1800000000LL

static void
device_state(struct fpd_e2e *e, int continuous, int64_t days, int64_t base,
    int64_t since)
{
	assert_int_equal(fpd_e2e_init(e, VEC_ROT, secret), FPD_OK);
	assert_int_equal(fpd_e2e_property(e, "E2EContinuous", continuous), 1);
	assert_int_equal(fpd_e2e_property(e, "E2EKeyDays", days), 1);
	assert_int_equal(fpd_e2e_property(e, "E2EKeyEpoch", base), 1);
	assert_int_equal(fpd_e2e_property(e, "E2EKeySince", since), 1);
	assert_int_equal(fpd_e2e_property(e, "LocalDPR", 1), 0);
}

/* The epoch of a sealed v1 message, after opening it as the back end. */
static uint64_t
back_end_open(const unsigned char *msg, size_t n, int suite)
{
	struct e2e_kiv k;
	unsigned char key[32], out[64];
	size_t len = n - 32 - 16;

	assert_int_equal(e2e_kiv_parse(msg, n, 0, &k), 0);
	assert_int_equal(k.suite, suite);
	assert_int_equal(e2e_uplink_key(secret, rot, k.epoch_bits, suite, key),
	    0);
	assert_int_equal(e2e_ccm_open(key, e2e_suite_key_len(suite), msg, 32,
	                     msg + 32, len, out, msg + 32 + len),
	    0);
	assert_memory_equal(out, VEC_PT, len);
	return k.epoch_bits;
}

static void
test_device_seal(void **state)
{
	struct fpd_e2e e;
	unsigned char msg[128], msg2[128];
	size_t n = 0, len = strlen(VEC_PT);
	uint64_t epoch;

	(void)state;
	assert_int_equal(fpd_e2e_init(&e, VEC_ROT, secret), FPD_OK);
	/* no rotation state yet: nothing to seal with */
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES128_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    FPD_EINVAL);
	/* AUTOMATIC, 1 day, base 5 two and a half days ago: epoch 7 */
	device_state(&e, 0, 1, 5, NOW - 2 * 86400 - 43200);
	assert_int_equal(fpd_e2e_epoch(&e, NOW, &epoch), FPD_OK);
	assert_int_equal(epoch, 7);
	assert_int_equal(fpd_e2e_sealed_len(FPD_E2E_V1, len), 32 + len + 16);
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES256_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    FPD_OK);
	assert_int_equal(n, 32 + len + 16);
	assert_int_equal(back_end_open(msg, n, E2E_SUITE_AES256_CCM), 7);
	/* the same epoch again, a fresh nonce */
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES256_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg2,
	                     sizeof(msg2), &n),
	    FPD_OK);
	assert_int_equal(back_end_open(msg2, n, E2E_SUITE_AES256_CCM), 7);
	assert_memory_not_equal(msg + 16, msg2 + 16, 12);
	/* too small a buffer, an unknown version */
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES128_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg, 32 + len,
	                     &n),
	    FPD_EINVAL);
	assert_int_equal(fpd_e2e_seal(&e, 3, FPD_E2E_AES128_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    FPD_EINVAL);
	/* CONTINUOUS: one epoch per message, from the base */
	device_state(&e, 1, 0, 10, NOW);
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES128_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    FPD_OK);
	assert_int_equal(back_end_open(msg, n, E2E_SUITE_AES128_CCM), 10);
	assert_int_equal(fpd_e2e_seal(&e, FPD_E2E_V1, FPD_E2E_AES128_CCM, NOW,
	                     (const unsigned char *)VEC_PT, len, msg,
	                     sizeof(msg), &n),
	    FPD_OK);
	assert_int_equal(back_end_open(msg, n, E2E_SUITE_AES128_CCM), 11);
	assert_int_equal(e.next_uplink, 12);
	fpd_e2e_wipe(&e);
}

/* A downlink message of 'epoch' for the vector's device (or 'other'). */
static size_t
downlink_msg(uint64_t epoch, const unsigned char *for_rot, unsigned char *msg)
{
	unsigned char enc[16], mac[16], kiv[16];
	size_t n = 0;

	assert_int_equal(e2e_downlink_keys(secret, for_rot, epoch, enc, mac),
	    0);
	assert_int_equal(e2e_kiv_encode(E2E_V1, E2E_SUITE_CS1, for_rot, epoch,
	                     kiv),
	    0);
	assert_int_equal(e2e_cs1_seal(enc, mac, kiv, iv,
	                     (const unsigned char *)VEC_PT, strlen(VEC_PT), msg,
	                     128, &n),
	    0);
	return n;
}

static void
test_device_open(void **state)
{
	struct fpd_e2e e;
	unsigned char msg[128], out[128], other[8];
	size_t n, len = 0;

	(void)state;
	/* AUTOMATIC at epoch 7: 6, 7 and 8 open; 5 and 9 do not */
	device_state(&e, 0, 1, 5, NOW - 2 * 86400 - 43200);
	for (uint64_t ep = 5; ep <= 9; ep++) {
		n = downlink_msg(ep, rot, msg);
		assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out),
		                     &len),
		    ep >= 6 && ep <= 8 ? FPD_OK : FPD_EAUTH);
		if (ep == 7) {
			assert_int_equal(len, strlen(VEC_PT));
			assert_memory_equal(out, VEC_PT, len);
		}
	}
	/* another device's message (its own keys, its own ROT) */
	memcpy(other, rot, 8);
	other[7] ^= 1;
	n = downlink_msg(7, other, msg);
	assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out), &len),
	    FPD_EAUTH);
	/* CONTINUOUS: each epoch once, increasing */
	device_state(&e, 1, 0, 10, NOW);
	n = downlink_msg(3, rot, msg);
	assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out), &len),
	    FPD_OK);
	assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out), &len),
	    FPD_EAUTH);
	n = downlink_msg(4, rot, msg);
	msg[40] ^= 0x80; /* a flipped bit: refused, the state kept */
	assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out), &len),
	    FPD_EAUTH);
	assert_int_equal(e.last_downlink, 3);
	msg[40] ^= 0x80;
	assert_int_equal(fpd_e2e_open(&e, NOW, msg, n, out, sizeof(out), &len),
	    FPD_OK);
	assert_int_equal(e.last_downlink, 4);
	fpd_e2e_wipe(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_uplink_vectors),
		cmocka_unit_test(test_downlink_vector),
		cmocka_unit_test(test_kiv_parse),
		cmocka_unit_test(test_epoch_resolve),
		cmocka_unit_test(test_empty_messages),
		cmocka_unit_test(test_device_seal),
		cmocka_unit_test(test_device_open),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
