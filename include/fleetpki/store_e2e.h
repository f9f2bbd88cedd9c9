/*
 * store_e2e: end-to-end data protection's rows (sql/024 device_e2e)
 * and usage.  Every call is one statement, scoped by its tenant.
 */
#ifndef FLEETPKI_STORE_E2E_H
#define FLEETPKI_STORE_E2E_H

#include <stdbool.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/store_registry.h"

struct db;

/*
 * Set rotation on the activated devices named by 'rots' and 'tags'
 * ('days' 1..30 AUTOMATIC, 0 CONTINUOUS), queue the state for their
 * next heartbeat, shorten heartbeats longer than the period (a device
 * without SecurityHeartbeatInSec beats every 'hb_default' seconds).
 * '*devices' and '*adjusted' count them.
 */
int store_e2e_rotate(struct db *, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, int days, int64_t hb_default,
    int64_t *devices, int64_t *adjusted);

/* A device's E2E state (E2E_LOOKUP). */
struct e2e_rec {
	int64_t device_id;
	struct buf secret_sealed;
	bool blocked; /* on the deny list: no key is answered */
	bool continuous;
	int64_t base; /* base epoch */
	int64_t last_uplink, last_downlink;
	int64_t current; /* AUTOMATIC: the epoch now; else the base */
};
/* The device of 'rot' (16 upper-case hex) with E2E set, or NOTFOUND. */
int store_e2e_lookup(struct db *, int64_t tenant, const char *rot,
    struct e2e_rec *out);
void store_e2e_rec_clear(struct e2e_rec *);
/*
 * Record epoch 'epoch' as answered ('downlink' or uplink): -FP_E_NOTFOUND
 * when a CONTINUOUS device already answered it or a later one.
 */
int store_e2e_take(struct db *, int64_t tenant, int64_t device_id,
    bool downlink, int64_t epoch);
/* Count usage event 'event' of the device today. */
int store_e2e_usage(struct db *, int64_t tenant, int64_t device_id,
    const char *event);

#endif
