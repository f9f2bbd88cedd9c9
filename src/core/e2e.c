/*
 * core/e2e: end-to-end data protection, the server's side
 * (docs/e2e.md).  No key is stored: a header names its device and epoch
 * (the KIV), the device's row gives the rotation state, and the keys
 * are derived from the device's root secret on the spot and wiped after
 * the answer.  An epoch is answered only inside the device's window
 * (§4); CONTINUOUS answers each epoch once, recorded by a conditional
 * UPDATE, so two concurrent calls cannot both get one key.  A device on
 * the deny list gets no key either way: the fleet stopped trusting it, so
 * its messages must not open as its own and nothing more is sealed to it.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/buf.h"
#include "fleetpki/core_device.h"
#include "fleetpki/core_e2e.h"
#include "fleetpki/devproto.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_e2e.h"

#define MSG_NO_KEY "Not Found. No E2E key for this header."
#define MSG_NO_DEVICE "Not Found. No E2E key for this device."
#define MSG_BLOCKED "Forbidden. The device is blacklisted."

static const char *const use_events[] = {
	[E2E_USE_UPLINK_KEY] = "E2EUplinkSymmetricKey",
	[E2E_USE_UPLINK_PROTECTION] = "E2EUplinkProtection",
	[E2E_USE_UPLINK_INTEGRITY] = "E2EUplinkIntegrity",
	[E2E_USE_DOWNLINK_PROTECTION] = "E2EDownlinkProtection",
	[E2E_USE_DOWNLINK_INTEGRITY] = "E2EDownlinkIntegrity",
};

void
core_e2e_params_wipe(struct e2e_params *p)
{
	OPENSSL_cleanse(p, sizeof(*p));
}

int
core_e2e_rotate(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int days,
    int64_t *devices, int64_t *adjusted, struct fp_status *st)
{
	long long hb_default = 0;
	int rc;

	if (days < 0 || days > E2E_DAYS_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Days must be between 1 and 30.");
	/* a device without SecurityHeartbeatInSec beats at the default */
	if ((rc = core_setting_int(ctx, tenant, "device_heartbeat_default",
	         &hb_default)) != 0)
		return rc;
	return store_e2e_rotate(ctx->db, tenant, rots, tags, days,
	    (int64_t)hb_default, devices, adjusted);
}

/* The root secret of 'rec' (32 bytes) into 'secret' (wipe it). */
static int
open_secret(struct fp_ctx *ctx, int64_t tenant, const char *rot,
    const struct e2e_rec *rec, struct buf *secret)
{
	char aad[64];
	int rc;

	core_device_aad(tenant, rot, aad, sizeof(aad));
	rc = signer_unseal(ctx->signer, aad, rec->secret_sealed.data,
	    rec->secret_sealed.len, secret);
	if (rc == 0 && secret->len != DEVPROTO_SECRET_LEN)
		rc = -FP_E_INTERNAL;
	if (rc != 0 && rc != -FP_E_UNAVAILABLE) {
		log_warn("device %s: the root secret does not open", rot);
		rc = -FP_E_INTERNAL;
	}
	return rc;
}

struct take_arg {
	int64_t tenant, device_id, epoch;
	bool downlink;
	const char *event;
};

/* The epoch recorded as answered and the usage counted, together. */
static int
take_tx(struct db *db, void *arg)
{
	const struct take_arg *a = arg;
	int rc;

	if ((rc = store_e2e_take(db, a->tenant, a->device_id, a->downlink,
	         a->epoch)) != 0)
		return rc;
	return store_e2e_usage(db, a->tenant, a->device_id, a->event);
}

/* Is epoch 'e' in the uplink window of 'r'? */
static bool
uplink_window(const struct e2e_rec *r, const struct e2e_kiv *k, uint64_t *e)
{
	uint64_t lower, upper;

	if (r->continuous) {
		lower = (uint64_t)r->last_uplink + 1;
		upper = (uint64_t)r->last_uplink + E2E_CONTINUOUS_AHEAD;
	} else {
		lower = r->current > 0 ? (uint64_t)r->current - 1 : 0;
		upper = (uint64_t)r->current + 1;
	}
	*e = e2e_epoch_resolve(k->epoch_bits, k->epoch_width, lower);
	return *e <= upper && *e <= E2E_EPOCH_MAX;
}

int
core_e2e_uplink(struct fp_ctx *ctx, int64_t tenant, const unsigned char *hdr,
    size_t len, enum e2e_use use, struct e2e_params *out, struct fp_status *st)
{
	struct e2e_rec rec;
	struct buf secret = BUF_INIT;
	struct take_arg ta;
	size_t klen;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&rec, 0, sizeof(rec));
	if (e2e_kiv_parse(hdr, len, 0, &out->kiv) != 0 ||
	    len > e2e_hdr_len(out->kiv.version)) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. EncryptedHeader is not an E2E uplink "
		    "header (docs/e2e.md).");
		goto out;
	}
	klen = e2e_kiv_len(out->kiv.version);
	memcpy(out->kiv_bytes, hdr, klen);
	out->kiv_len = klen;
	if (len >= klen + E2E_NONCE_LEN) {
		memcpy(out->nonce, hdr + klen, E2E_NONCE_LEN);
		out->have_nonce = 1;
	}
	devproto_rot_format(out->kiv.rot, out->rot);
	if ((rc = store_e2e_lookup(ctx->db, tenant, out->rot, &rec)) != 0) {
		if (rc == -FP_E_NOTFOUND)
			rc = fp_fail(st, FP_E_NOTFOUND, MSG_NO_KEY);
		goto out;
	}
	if (rec.blocked) {
		rc = fp_fail(st, FP_E_FORBIDDEN, MSG_BLOCKED);
		goto out;
	}
	if (!uplink_window(&rec, &out->kiv, &out->epoch)) {
		rc = fp_fail(st, FP_E_NOTFOUND, MSG_NO_KEY);
		goto out;
	}
	if ((rc = open_secret(ctx, tenant, out->rot, &rec, &secret)) != 0)
		goto out;
	out->key_len = e2e_suite_key_len(out->kiv.suite);
	if (e2e_uplink_key(secret.data, out->kiv.rot, out->epoch,
	        out->kiv.suite, out->key) != 0) {
		log_ossl_errors("e2e: uplink key");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	ta = (struct take_arg){ tenant, rec.device_id, (int64_t)out->epoch,
		false, use_events[use] };
	if ((rc = store_tx(ctx->db, take_tx, &ta)) == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_NOTFOUND, MSG_NO_KEY);
out:
	buf_free_secret(&secret);
	store_e2e_rec_clear(&rec);
	if (rc != 0)
		core_e2e_params_wipe(out);
	return rc;
}

int
core_e2e_downlink(struct fp_ctx *ctx, int64_t tenant, const char *rot,
    enum e2e_use use, struct e2e_params *out, struct fp_status *st)
{
	struct e2e_rec rec;
	struct buf secret = BUF_INIT;
	struct take_arg ta;
	unsigned char raw[DEVPROTO_ROT_LEN];
	int rc, attempt;

	memset(out, 0, sizeof(*out));
	memset(&rec, 0, sizeof(rec));
	if (rot == NULL || devproto_rot_parse(rot, raw) != 0) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUID must be 16 hex digits.");
		goto out;
	}
	devproto_rot_format(raw, out->rot);
	/* CONTINUOUS: a concurrent call may take the epoch; look again. */
	for (attempt = 0; attempt < 3; attempt++) {
		store_e2e_rec_clear(&rec);
		buf_free_secret(&secret);
		if ((rc = store_e2e_lookup(ctx->db, tenant, out->rot, &rec)) !=
		    0) {
			if (rc == -FP_E_NOTFOUND)
				rc = fp_fail(st, FP_E_NOTFOUND, MSG_NO_DEVICE);
			goto out;
		}
		if (rec.blocked) {
			rc = fp_fail(st, FP_E_FORBIDDEN, MSG_BLOCKED);
			goto out;
		}
		out->epoch = (uint64_t)(rec.continuous
		        ? (rec.last_downlink + 1 > rec.base
		                  ? rec.last_downlink + 1
		                  : rec.base)
		        : rec.current);
		if (out->epoch > E2E_EPOCH_MAX) {
			rc = fp_fail(st, FP_E_NOTFOUND, MSG_NO_DEVICE);
			goto out;
		}
		if ((rc = open_secret(ctx, tenant, out->rot, &rec, &secret)) !=
		    0)
			goto out;
		if (e2e_downlink_keys(secret.data, raw, out->epoch,
		        out->enc_key, out->mac_key) != 0 ||
		    e2e_kiv_encode(E2E_V1, E2E_SUITE_CS1, raw, out->epoch,
		        out->kiv_bytes) != 0 ||
		    e2e_kiv_parse(out->kiv_bytes, E2E_KIV_V1_LEN, 1,
		        &out->kiv) != 0) {
			log_ossl_errors("e2e: downlink keys");
			rc = -FP_E_INTERNAL;
			goto out;
		}
		out->kiv_len = E2E_KIV_V1_LEN;
		if (use == E2E_USE_DOWNLINK_PROTECTION)
			pki_random(out->iv, sizeof(out->iv));
		ta = (struct take_arg){ tenant, rec.device_id,
			(int64_t)out->epoch, true, use_events[use] };
		if ((rc = store_tx(ctx->db, take_tx, &ta)) != -FP_E_NOTFOUND)
			break;
	}
	if (rc == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_UNAVAILABLE,
		    "Service temporarily unavailable. Try again.");
out:
	buf_free_secret(&secret);
	store_e2e_rec_clear(&rec);
	if (rc != 0)
		core_e2e_params_wipe(out);
	return rc;
}
