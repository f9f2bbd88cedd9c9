/*
 * libFuzzer harness for libfleetpki-device's answer reader: the RFC 8259
 * scan, json-c's tree and the command decoder, reached both ways an
 * answer arrives — without a MAC (any error page, before anything is
 * believed: what a network attacker can send) and with a valid one (a
 * server bug).  Build and run: see tests/fuzz/build.sh.
 *
 * Besides "no crash, no leak, no UB" it checks that an accepted answer
 * keeps the library's promises: every command has an Id, Ids are
 * unique, bounds hold, and an unauthenticated answer is never a success.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int rc, const struct fpd_answer *a)
{
	size_t i, j;

	if (rc != FPD_OK)
		return;
	if (a == NULL || !a->authenticated || a->ncommands > 64 ||
	    a->heartbeat_in_sec < 1)
		abort();
	for (i = 0; i < a->ncommands; i++) {
		if (a->commands[i].id == NULL || a->commands[i].nprops > 32)
			abort();
		for (j = i + 1; j < a->ncommands; j++)
			if (strcmp(a->commands[i].id, a->commands[j].id) == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rot_hex[] = "0000200456789544";
	unsigned char secret[32], rot[8], mac[32];
	char machex[65];
	struct devproto_keys keys;
	struct devproto_resp dr;
	struct fpd_device *dev = NULL;
	struct fpd_request *req = NULL;
	struct fpd_answer *a = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)i;
	if (fpd_device_new(rot_hex, secret, 0, NULL, NULL, &dev) != FPD_OK ||
	    fpd_build_heartbeat(dev, 1767225600, &req) != FPD_OK)
		abort();
	/* Unauthenticated: an error at most, never a success. */
	rc = fpd_read_answer(dev, req, 401, NULL, NULL, data, size, &a);
	if (rc == FPD_OK)
		abort();
	fpd_answer_free(a);
	a = NULL;
	rc = fpd_read_answer(dev, req, 200, NULL, NULL, data, size, &a);
	if (rc != FPD_EAUTH)
		abort();
	/* Authenticated, as a heartbeat's and a bootstrap's answer. */
	devproto_rot_parse(rot_hex, rot);
	if (devproto_derive_keys(secret, rot, &keys) != 0)
		abort();
	for (i = 0; i < 2; i++) {
		req->heartbeat = (int)i;
		dr = (struct devproto_resp){ rot, req->counter_value,
			req->mac_raw, 200, 1767225601, data, size };
		if (devproto_response_mac(keys.response, &dr, mac) != 0)
			abort();
		devproto_hex_encode(mac, sizeof(mac), machex);
		rc = fpd_read_answer(dev, req, 200, machex, "1767225601", data,
		    size, &a);
		check(rc, a);
		fpd_answer_free(a);
		a = NULL;
	}
	devproto_keys_wipe(&keys);
	fpd_request_free(req);
	fpd_device_free(dev);
	return 0;
}
