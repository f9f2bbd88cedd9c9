/*
 * Internal interfaces of libfleetpki-device, between client.c (devices,
 * requests, transport) and answer.c (reading answers' JSON).
 */
#ifndef FLEETPKI_DEVICE_INTERNAL_H
#define FLEETPKI_DEVICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"

/* One acknowledgement waiting to be sent. */
struct ack {
	char *id;
	int ok;
	char *error; /* FAILURE */
	char *csr; /* SUCCESS of GENERATE_KEY */
};

/* A device: its identity, keys, counter and pending acknowledgements. */
struct fpd_device {
	unsigned char rot[DEVPROTO_ROT_LEN];
	char rot_hex[DEVPROTO_ROT_HEX_LEN + 1];
	unsigned char secret[DEVPROTO_SECRET_LEN];
	struct devproto_keys keys;
	uint64_t counter; /* the last one used */
	fpd_counter_save_fn save;
	void *save_arg;
	struct ack *acks;
	size_t nacks;
};

/* The largest answer body read (a certificate chain fits many times). */
#define FPD_MAX_ANSWER (256 * 1024)

/* A command Id or a DeviceProfileUID: 1..64 of [A-Za-z0-9._:-]. */
int fpd_id_ok(const char *s);

/*
 * Fill 'a' from the JSON of an authenticated 200 answer ('bootstrap'
 * says which request it answers): FPD_OK, FPD_EPROTO or FPD_ENOMEM.
 */
int fpd_parse_success(const unsigned char *body, size_t len, int bootstrap,
    struct fpd_answer *a);
/* Fill 'a' from an error answer's JSON: FPD_OK, FPD_EPROTO, FPD_ENOMEM. */
int fpd_parse_error(const unsigned char *body, size_t len,
    struct fpd_answer *a);

#endif /* FLEETPKI_DEVICE_INTERNAL_H */
