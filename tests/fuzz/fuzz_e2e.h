/*
 * fuzz_e2e: the E2E harness as a function, so that it runs two ways:
 * under libFuzzer (tests/fuzz/build.sh builds it with -DFUZZ_LIBFUZZER)
 * and in every `make check`, where tests/unit/test_e2e_fuzz.c replays
 * mutations of valid messages through it.  It takes any input, must
 * neither crash nor leak (the sanitizers watch), and abort()s with the
 * input in hex when one of its invariants fails.
 */
#ifndef FLEETPKI_FUZZ_E2E_H
#define FLEETPKI_FUZZ_E2E_H

#include <stddef.h>
#include <stdint.h>

/*
 * E2E (docs/e2e.md): byte 0 picks the target, the rest is its input.
 *   0  the KIV parser, both directions, and the epoch's resolution
 *   1  the device library opening a downlink message (fpd_e2e_open)
 *   2  an uplink message opened as a back end would: KIV, header, CCM
 */
#define FUZZ_E2E_KIV 0
#define FUZZ_E2E_DOWNLINK 1
#define FUZZ_E2E_UPLINK 2
#define FUZZ_E2E_TARGETS 3
int fuzz_e2e_one(const uint8_t *data, size_t len);
/* How many messages the last fuzz_e2e_one call opened (a MAC held). */
extern int fuzz_e2e_opened;

/* The device state and keys the harness opens messages with. */
#define FUZZ_E2E_ROT "0000200456789544"
#define FUZZ_E2E_NOW 1800000000LL
extern const unsigned char fuzz_e2e_secret[32];
/* AUTOMATIC, 1 day, base 5 since NOW - 2.5 days: the current epoch is 7. */
#define FUZZ_E2E_EPOCH 7
struct fpd_e2e;
/* That state ('continuous': CONTINUOUS from epoch 7 instead); aborts on error. */
void fuzz_e2e_state(struct fpd_e2e *e, int continuous);

#endif
