/*
 * fuzz_e2e: the E2E parsers (docs/e2e.md) over any bytes: the KIV of
 * both directions, downlink messages as the device library opens them,
 * uplink messages as a back end opens them with the server's key.
 * Invariants, beyond not crashing:
 *   - a KIV that parses has a known version and a suite of its direction,
 *     fits the input, and encodes back to the same bytes;
 *   - an epoch resolves to the smallest one at or above the lower bound
 *     with the header's low bits;
 *   - a downlink message that opens is at least a header and a MAC long,
 *     its plaintext fits, and under CONTINUOUS it never opens twice;
 *   - nothing is written to the output of a message that does not open.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto_e2e.h"
#include "fuzz_e2e.h"

/* The bytes 0..31, as docs/e2e.md's vectors. */
const unsigned char fuzz_e2e_secret[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
	29, 30, 31 };

int fuzz_e2e_opened;
static const uint8_t *cur_in;
static size_t cur_len;

static void
fail(const char *what)
{
	size_t i;

	fprintf(stderr, "fuzz_e2e: %s; input (%zu bytes):\n", what, cur_len);
	for (i = 0; i < cur_len; i++)
		fprintf(stderr, "%02x", cur_in[i]);
	fputc('\n', stderr);
	abort();
}
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c))                                                      \
			fail(#c);                                              \
	} while (0)

static void
kiv(const uint8_t *p, size_t n)
{
	unsigned char again[E2E_KIV_V1_LEN];
	struct e2e_kiv k;
	uint64_t lower = 0, e;
	size_t kl, i;
	int dl;

	for (dl = 0; dl <= 1; dl++) {
		memset(&k, 0xa5, sizeof(k));
		if (e2e_kiv_parse(p, n, dl, &k) != 0)
			continue;
		CHECK(k.version == E2E_V1 || k.version == E2E_V2);
		kl = e2e_kiv_len(k.version);
		CHECK(kl > 0 && kl <= n);
		CHECK(p[0] == k.version && p[1] == k.suite);
		if (dl)
			CHECK(k.suite == E2E_SUITE_CS1 && k.version == E2E_V1);
		else
			CHECK(e2e_suite_key_len(k.suite) == 16 ||
			    e2e_suite_key_len(k.suite) == 32);
		CHECK(k.epoch_width == (k.version == E2E_V1 ? 32 : 16));
		CHECK(memcmp(k.rot, p + 2, sizeof(k.rot)) == 0);
		CHECK(e2e_kiv_encode(k.version, k.suite, k.rot, k.epoch_bits,
		          again) == 0);
		CHECK(memcmp(again, p, kl) == 0);
		/* the epoch against a lower bound taken from what follows */
		for (i = kl; i < n && i < kl + 4; i++)
			lower = lower << 8 | p[i];
		e = e2e_epoch_resolve(k.epoch_bits, k.epoch_width, lower);
		CHECK(e >= lower);
		CHECK(k.epoch_width == 32 ? (uint32_t)e == k.epoch_bits
		                          : (e & 0xffff) == k.epoch_bits);
		CHECK(e - lower < (UINT64_C(1) << k.epoch_width));
	}
}

void
fuzz_e2e_state(struct fpd_e2e *e, int continuous)
{
	if (fpd_e2e_init(e, FUZZ_E2E_ROT, fuzz_e2e_secret) != FPD_OK)
		fail("fpd_e2e_init");
	fpd_e2e_property(e, "E2EContinuous", continuous);
	fpd_e2e_property(e, "E2EKeyDays", continuous ? 0 : 1);
	fpd_e2e_property(e, "E2EKeyEpoch", continuous ? FUZZ_E2E_EPOCH : 5);
	fpd_e2e_property(e, "E2EKeySince", FUZZ_E2E_NOW - 2 * 86400 - 43200);
}

static void
downlink(const uint8_t *p, size_t n)
{
	static unsigned char out[E2E_MSG_MAX / 16];
	struct fpd_e2e e;
	size_t outlen, j;
	int continuous, rc;

	for (continuous = 0; continuous <= 1; continuous++) {
		fuzz_e2e_state(&e, continuous);
		memset(out, 0x5a, 64);
		outlen = 12345;
		rc = fpd_e2e_open(&e, FUZZ_E2E_NOW, p, n, out, sizeof(out),
		    &outlen);
		if (rc != FPD_OK) {
			CHECK(rc == FPD_EAUTH || rc == FPD_EINVAL);
			CHECK(outlen == 0);
			/* untouched; or wiped, had a right MAC met bad padding */
			for (j = 0; j < 64; j++)
				CHECK(out[j] == 0x5a || out[j] == 0);
		} else {
			fuzz_e2e_opened++;
			CHECK(n >= E2E_DL_HDR_LEN + E2E_IV_LEN + E2E_TAG_LEN);
			CHECK(outlen < n - E2E_DL_HDR_LEN - E2E_TAG_LEN);
			if (continuous)
				CHECK(fpd_e2e_open(&e, FUZZ_E2E_NOW, p, n, out,
				          sizeof(out), &outlen) == FPD_EAUTH);
		}
		fpd_e2e_wipe(&e);
	}
}

static void
uplink(const uint8_t *p, size_t n)
{
	static unsigned char out[E2E_MSG_MAX / 16];
	unsigned char key[32];
	struct e2e_kiv k;
	size_t hl, body;
	uint32_t plen;

	if (e2e_kiv_parse(p, n, 0, &k) != 0)
		return;
	hl = e2e_hdr_len(k.version);
	if (n < hl + E2E_TAG_LEN)
		return;
	plen = (uint32_t)p[hl - 4] << 24 | (uint32_t)p[hl - 3] << 16 |
	    (uint32_t)p[hl - 2] << 8 | p[hl - 1];
	body = n - hl - E2E_TAG_LEN;
	if (plen != body || body > sizeof(out))
		return;
	if (e2e_uplink_key(fuzz_e2e_secret, k.rot,
	        e2e_epoch_resolve(k.epoch_bits, k.epoch_width, 0), k.suite,
	        key) != 0)
		fail("e2e_uplink_key");
	if (e2e_ccm_open(key, e2e_suite_key_len(k.suite), p, hl, p + hl, body,
	        out, p + hl + body) == 0)
		fuzz_e2e_opened++;
	OPENSSL_cleanse(key, sizeof(key));
}

int
fuzz_e2e_one(const uint8_t *data, size_t len)
{
	if (len < 1)
		return 0;
	cur_in = data;
	cur_len = len;
	fuzz_e2e_opened = 0;
	switch (data[0] % FUZZ_E2E_TARGETS) {
	case FUZZ_E2E_KIV:
		kiv(data + 1, len - 1);
		break;
	case FUZZ_E2E_DOWNLINK:
		downlink(data + 1, len - 1);
		break;
	default:
		uplink(data + 1, len - 1);
		break;
	}
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	return fuzz_e2e_one(data, len);
}
#endif
