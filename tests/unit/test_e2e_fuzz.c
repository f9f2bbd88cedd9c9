/*
 * test_e2e_fuzz: the E2E fuzz harness (tests/fuzz/fuzz_e2e.c) in every
 * `make check`, without libFuzzer: valid messages of every kind (uplink
 * v1 and v2 of both suites, downlink; their KIVs), then mutations of
 * them from a fixed seed (flipped bits, bytes set, cut, grown, spliced)
 * and random bytes, each through the harness under the sanitizers.  And
 * one invariant only this driver can check: no message that differs from
 * the one sealed opens (the CCM tag and the downlink MAC hold).
 * FLEETPKI_FUZZ_ITERATIONS sets the count (default 30000); a failure
 * prints the input (hex): as a file, ./fuzz_e2e FILE replays it
 * (tests/fuzz/build.sh).
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
#include "fleetpki/devproto_e2e.h"
#include "../fuzz/fuzz_e2e.h"

#define SEEDS_MAX 8
#define MSG_MAX 512

static const unsigned char rot[8] = { 0x00, 0x00, 0x20, 0x04, 0x56, 0x78, 0x95,
	0x44 };
static const char pt[] = "fleetpki e2e fuzz seed, forty-one bytes.";

struct seed {
	unsigned char b[MSG_MAX]; /* target byte, then the message */
	size_t len;
	int sealed; /* a whole message: opens unchanged, never changed */
};
static struct seed seeds[SEEDS_MAX];
static size_t nseeds;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct seed *
add(int target, const unsigned char *msg, size_t len, int sealed)
{
	struct seed *s = &seeds[nseeds++];

	assert_true(nseeds <= SEEDS_MAX && len + 1 <= MSG_MAX);
	s->b[0] = (unsigned char)target;
	memcpy(s->b + 1, msg, len);
	s->len = len + 1;
	s->sealed = sealed;
	return s;
}

static void
make_seeds(void)
{
	struct fpd_e2e e;
	unsigned char msg[MSG_MAX], enc[16], mac[16], kiv[16], iv[16];
	static const int kinds[][2] = { { FPD_E2E_V1, FPD_E2E_AES128_CCM },
		{ FPD_E2E_V1, FPD_E2E_AES256_CCM },
		{ FPD_E2E_V2, FPD_E2E_AES128_CCM } };
	size_t n, i;

	fuzz_e2e_state(&e, 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(fpd_e2e_seal(&e, kinds[i][0], kinds[i][1],
		                     FUZZ_E2E_NOW, (const unsigned char *)pt,
		                     sizeof(pt) - 1, msg, sizeof(msg), &n),
		    FPD_OK);
		add(FUZZ_E2E_UPLINK, msg, n, 1);
		add(FUZZ_E2E_KIV, msg, e2e_kiv_len(kinds[i][0]), 0);
	}
	fpd_e2e_wipe(&e);
	assert_int_equal(e2e_downlink_keys(fuzz_e2e_secret, rot, FUZZ_E2E_EPOCH,
	                     enc, mac),
	    0);
	assert_int_equal(e2e_kiv_encode(E2E_V1, E2E_SUITE_CS1, rot,
	                     FUZZ_E2E_EPOCH, kiv),
	    0);
	memset(iv, 0xc3, sizeof(iv));
	assert_int_equal(e2e_cs1_seal(enc, mac, kiv, iv,
	                     (const unsigned char *)pt, sizeof(pt) - 1, msg,
	                     sizeof(msg), &n),
	    0);
	add(FUZZ_E2E_DOWNLINK, msg, n, 1);
	add(FUZZ_E2E_KIV, kiv, sizeof(kiv), 0);
}

/* The seeds as they are: each parses, each whole message opens. */
static void
test_seeds_open(void **state)
{
	size_t i;

	(void)state;
	make_seeds();
	for (i = 0; i < nseeds; i++) {
		fuzz_e2e_one(seeds[i].b, seeds[i].len);
		if (seeds[i].b[0] == FUZZ_E2E_DOWNLINK)
			/* AUTOMATIC and CONTINUOUS both take it */
			assert_int_equal(fuzz_e2e_opened, 2);
		else if (seeds[i].sealed)
			assert_int_equal(fuzz_e2e_opened, 1);
	}
}

static size_t
mutate(unsigned char *b, size_t len)
{
	int k, rounds = 1 + (int)(next() % 4);
	size_t at, n;

	for (k = 0; k < rounds; k++) {
		at = 1 + (len > 1 ? next() % (len - 1) : 0);
		switch (next() % 6) {
		case 0: /* a flipped bit */
			if (at < len)
				b[at] ^= (unsigned char)(1u << (next() % 8));
			break;
		case 1: { /* a byte set to an interesting value */
			static const unsigned char v[] = { 0x00, 0x01, 0x02,
				0x10, 0x7f, 0x80, 0xff };
			if (at < len)
				b[at] = v[next() % sizeof(v)];
			break;
		}
		case 2: /* cut */
			len = at;
			break;
		case 3: /* grown by random bytes */
			n = next() % 48;
			while (n-- > 0 && len < MSG_MAX)
				b[len++] = (unsigned char)next();
			break;
		case 4: /* a random byte */
			if (at < len)
				b[at] = (unsigned char)next();
			break;
		default: /* a chunk copied over another place */
			n = next() % 16;
			if (at + n <= len) {
				size_t to = 1 + next() % len;
				if (to + n <= len)
					memmove(b + to, b + at, n);
			}
			break;
		}
	}
	return len;
}

static void
test_mutations(void **state)
{
	const char *env = getenv("FLEETPKI_FUZZ_ITERATIONS");
	unsigned char b[MSG_MAX];
	long iters = env != NULL ? atol(env) : 30000, it, opened = 0;
	size_t len, i;
	struct seed *s;

	(void)state;
	if (nseeds == 0)
		make_seeds();
	for (it = 0; it < iters; it++) {
		if (it % 8 == 7) {
			/* random bytes, to every target */
			len = 1 + next() % 80;
			for (i = 0; i < len; i++)
				b[i] = (unsigned char)next();
			fuzz_e2e_one(b, len);
			continue;
		}
		s = &seeds[next() % nseeds];
		memcpy(b, s->b, s->len);
		len = mutate(b, s->len);
		fuzz_e2e_one(b, len);
		if (fuzz_e2e_opened == 0)
			continue;
		/* only the message as sealed may open */
		assert_true(s->sealed);
		assert_int_equal(len, s->len);
		assert_memory_equal(b, s->b, len);
		opened++;
	}
	/* some mutations give the seed back (a byte set to its value) */
	assert_true(opened <= iters / 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeds_open),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
