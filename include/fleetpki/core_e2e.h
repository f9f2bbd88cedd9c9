/*
 * core_e2e: end-to-end data protection's server side (docs/e2e.md):
 * key rotation, and the keys of one header (uplink) or of one device
 * (downlink), derived from the device's root secret and the epoch.
 * Knows no dialect: the routes are src/api/secsvc_e2e.c.
 */
#ifndef FLEETPKI_CORE_E2E_H
#define FLEETPKI_CORE_E2E_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/core.h"
#include "fleetpki/devproto_e2e.h"
#include "fleetpki/error.h"
#include "fleetpki/store_registry.h"

#define E2E_DAYS_MIN 1
#define E2E_DAYS_MAX 30
#define E2E_DAYS_DEFAULT 7
/* CONTINUOUS: how far past the last answered epoch a header may be. */
#define E2E_CONTINUOUS_AHEAD 65536

/* What a call is for; each is counted as its own usage event. */
enum e2e_use {
	E2E_USE_UPLINK_KEY, /* /e2e/uplink/symmetrickey/get */
	E2E_USE_UPLINK_PROTECTION,
	E2E_USE_UPLINK_INTEGRITY,
	E2E_USE_DOWNLINK_PROTECTION,
	E2E_USE_DOWNLINK_INTEGRITY,
};

/* The parameters of one answer.  Wipe with core_e2e_params_wipe. */
struct e2e_params {
	char rot[ROT_LEN + 1]; /* upper-case hex */
	struct e2e_kiv kiv;
	uint64_t epoch; /* resolved */
	unsigned char kiv_bytes[E2E_KIV_V1_LEN];
	size_t kiv_len;
	unsigned char key[32]; /* uplink: the CCM key */
	size_t key_len;
	unsigned char nonce[E2E_NONCE_LEN]; /* uplink, when given */
	int have_nonce;
	unsigned char enc_key[E2E_DL_KEY_LEN]; /* downlink */
	unsigned char mac_key[E2E_DL_KEY_LEN];
	unsigned char iv[E2E_IV_LEN]; /* downlink protection: fresh */
};
void core_e2e_params_wipe(struct e2e_params *);

/*
 * /e2e/key/rotate: 'days' 0 for CONTINUOUS, else 1..30.  '*devices'
 * counts the devices set, '*adjusted' those whose heartbeat was
 * shortened to the period.
 */
int core_e2e_rotate(struct fp_ctx *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int days,
    int64_t *devices, int64_t *adjusted, struct fp_status *);

/*
 * The uplink key of header 'hdr' ('len' bytes: the KIV at least, the
 * whole header at most; the nonce is answered when it is there).  The
 * epoch must be in the device's window (docs/e2e.md §4): CONTINUOUS
 * answers each epoch once.  -FP_E_NOTFOUND for another tenant's device,
 * no rotation set, or an epoch out of the window; -FP_E_BADREQ for a
 * malformed header.
 */
int core_e2e_uplink(struct fp_ctx *, int64_t tenant,
    const unsigned char *hdr, size_t len, enum e2e_use use,
    struct e2e_params *out, struct fp_status *);

/*
 * The downlink keys of device 'rot' (16 hex digits, either case) for
 * the current epoch (CONTINUOUS: a new one each call), the v1 KIV, and
 * for protection a fresh IV.
 */
int core_e2e_downlink(struct fp_ctx *, int64_t tenant, const char *rot,
    enum e2e_use use, struct e2e_params *out, struct fp_status *);

#endif
