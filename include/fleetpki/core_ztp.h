/*
 * core_ztp: zero-touch provisioning (issue 11; security-services.txt
 * "Zero Touch Provisioning APIs", docs/device-protocol.md 7.4).
 *
 * A ZTP root is a CA row of its tenant (cas, made and sealed by the
 * signer: signer_ca_create) with the ZTP settings beside it
 * (ztp_roots), so its CRLs, OCSP and revocations are every CA's.  A
 * device enters ZTP when ZTPV1 is among its current properties and its
 * profile is linked to a root (core_ztp_profile_link); from then on
 * each heartbeat answer carries the step it is at (core_ztp_step) until
 * the device acknowledges it.
 */
#ifndef FLEETPKI_CORE_ZTP_H
#define FLEETPKI_CORE_ZTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/store_ztp.h"

/* The spec's bounds. */
#define ZTP_CA_DAYS_MIN 1825
#define ZTP_CA_DAYS_MAX 3650
#define ZTP_DEVICE_DAYS_MIN 30
#define ZTP_DEVICE_DAYS_MAX 3650
#define ZTP_RENEW_MIN 1
#define ZTP_RENEW_MAX 365
#define ZTP_PAGE_SIZE 100
#define ZTP_CODE_MAX 64
/* Devices one operator call may name. */
#define ZTP_DEVICES_MAX 1000

/* 1 when 'name' is a CAName: 1-45 of letters, digits, _ - . */
int ztp_name_ok(const char *name);

/*
 * Make root 'name' of tenant 't': key 'key_type' (NULL: EC-P256;
 * EC-P384, RSA-2048), 'ca_days', 'device_days' (never past the root's
 * expiry), 'renew_before' (0: none).  -FP_E_BADREQ (bounds),
 * -FP_E_CONFLICT (the name is taken: by anyone).  'out' as
 * core_ztp_root_get's.
 */
int core_ztp_root_create(struct fp_ctx *, const struct tenant *t,
    const char *name, const char *key_type, int ca_days, int device_days,
    int renew_before, struct ztp_root_rec *out, struct fp_status *st);
/* The tenant's root 'name' (-FP_E_NOTFOUND). */
int core_ztp_root_get(struct fp_ctx *, const struct tenant *t,
    const char *name, struct ztp_root_rec *out, struct fp_status *st);
/* Page 'page' (1-based) of ZTP_PAGE_SIZE roots; free with ztp_root_rec_clear. */
int core_ztp_root_page(struct fp_ctx *, const struct tenant *t, int64_t page,
    struct ztp_root_rec **out, size_t *n, int64_t *total);
int core_ztp_root_update(struct fp_ctx *, const struct tenant *t,
    const char *name, int renew_before, struct fp_status *st);
/* -FP_E_CONFLICT when a device or a profile still uses it. */
int core_ztp_root_delete(struct fp_ctx *, const struct tenant *t,
    const char *name, struct fp_status *st);
/* The root's current CRL as PEM into 'pem', and its revoked serials. */
int core_ztp_root_crl(struct fp_ctx *, const struct tenant *t,
    const char *name, struct buf *pem, char ***serials, size_t *n,
    struct fp_status *st);
/* A page of the ROTs provisioned under root 'name'. */
int core_ztp_root_devices(struct fp_ctx *, const struct tenant *t,
    const char *name, int64_t page, char (**rots)[17], size_t *n,
    int64_t *total, struct fp_status *st);
/*
 * The proof-of-possession certificate: CN='code' (1-64 of letters and
 * digits), signed by root 'name' (AWS IoT's verification certificate),
 * PEM into 'pem'.  Not stored: it proves the key, it identifies nobody.
 */
int core_ztp_pop(struct fp_ctx *, const struct tenant *t, const char *name,
    const char *code, struct buf *pem, struct fp_status *st);

/*
 * Link profile 'profile_uid' to root 'name' (NULL: unlink), the server
 * making its devices' keys when 'server_key', devices making
 * 'key_type' keys (NULL: EC-P256).
 */
int core_ztp_profile_link(struct fp_ctx *, const struct tenant *t,
    const char *profile_uid, const char *name, bool server_key,
    const char *key_type, struct fp_status *st);

enum ztp_op {
	ZTP_OP_RENEW, /* same key, new certificate */
	ZTP_OP_UPDATE, /* remove, then a new key */
	ZTP_OP_DELETE, /* remove */
	ZTP_OP_TRANSFER, /* re-issue under 'to' */
};
/*
 * Mark the devices named by ROT or by serial for 'op' at their next
 * heartbeat, in one statement.  'name' is their root (NULL for
 * delete: any); 'days' renew's validity (0: the root's).  Refused
 * whole (nothing changes): a device not in ZTP under that root
 * (-FP_E_NOTFOUND), one whose update is in progress (-FP_E_CONFLICT).
 */
int core_ztp_devices(struct fp_ctx *, const struct tenant *t, enum ztp_op op,
    const char *name, const char *to, const char *const *rots, size_t nrots,
    const char *const *serials, size_t nserials, int days, int64_t *marked,
    struct fp_status *st);
/*
 * Revoke the certificate of device 'rot' or with 'serial' under root
 * 'name': OCSP says so at once, the worker's CRL within seconds; the
 * certificate stays on the device.
 */
int core_ztp_revoke(struct fp_ctx *, const struct tenant *t, const char *name,
    const char *rot, const char *serial, struct fp_status *st);

/*
 * The ZTP rows of the tenant's devices 'rots' (normalized ROTs, any
 * number), in one statement, sorted by ROT; free with
 * store_rec_array_free(.., ztp_dev_rec_clear).  /device/info/get's
 * Option ZTP.
 */
int core_ztp_info(struct fp_ctx *, const struct tenant *t,
    const char *const *rots, size_t n, struct ztp_dev_rec **out,
    size_t *nout);
/* What /device/info/get says a device's certificate is at. */
const char *ztp_state_name(const struct ztp_dev_rec *d);

/* ---- the heartbeat (core/device.c) --------------------------------- */

/* An acknowledgement as the heartbeat parsed it. */
struct ztp_ack {
	const char *id;
	bool success;
	const char *error;
	const char *csr;
};

/*
 * Inside the heartbeat's transaction: start ZTP for the device when it
 * qualifies, apply the acknowledgement of its pending ZTP command, and
 * append the command of the step it is at to 'cmds'.  Events and usage
 * are written in the same transaction.
 */
int core_ztp_step(struct fp_ctx *, struct db *db, int64_t tenant_id,
    int64_t device_id, const char *rot, const struct ztp_ack *acks,
    size_t nacks, json_object *cmds);

/*
 * A device bootstrapped again (a factory reset: its slots are gone):
 * its ZTP certificate is provisioned afresh, with a new key.
 */
int core_ztp_bootstrap(struct db *db, int64_t tenant_id, int64_t device_id);

/* ---- the worker ---------------------------------------------------- */

/* Mark due certificates for renewal (once each), write expiry events. */
int core_ztp_auto_renew(struct fp_ctx *, int64_t *marked);
int core_ztp_notices(struct fp_ctx *, int64_t *written);

#endif
