/*
 * e2e: the device's half of end-to-end data protection (docs/e2e.md):
 * the rotation state from the heartbeat's properties, uplink messages
 * sealed with AES-CCM under the epoch's key, downlink messages opened
 * after their MAC verified.  The cryptography is e2e_proto.c, shared
 * with the server.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"
#include "fleetpki/devproto_e2e.h"

int
fpd_e2e_init(struct fpd_e2e *e, const char *rot_hex,
    const unsigned char *secret)
{
	memset(e, 0, sizeof(*e));
	if (rot_hex == NULL || secret == NULL ||
	    devproto_rot_parse(rot_hex, e->rot) != 0)
		return FPD_EINVAL;
	memcpy(e->secret, secret, FPD_SECRET_LEN);
	return FPD_OK;
}

void
fpd_e2e_wipe(struct fpd_e2e *e)
{
	OPENSSL_cleanse(e, sizeof(*e));
}

int
fpd_e2e_property(struct fpd_e2e *e, const char *name, int64_t value)
{
	if (strcmp(name, "E2EContinuous") == 0)
		e->continuous = value != 0;
	else if (strcmp(name, "E2EKeyDays") == 0)
		/* the server sends 0..30; anything past a year is not a period */
		e->days = value <= 366 ? value : 0;
	else if (strcmp(name, "E2EKeyEpoch") == 0) {
		e->base = (uint64_t)value;
		e->configured = value >= 1 && (uint64_t)value <= E2E_EPOCH_MAX;
	} else if (strcmp(name, "E2EKeySince") == 0)
		e->since = value;
	else
		return 0;
	return 1;
}

/* AUTOMATIC: the epoch of the clock 'now'. */
static uint64_t
current(const struct fpd_e2e *e, int64_t now)
{
	if (e->continuous || e->days <= 0 || now <= e->since)
		return e->base;
	return e->base + (uint64_t)((now - e->since) / (e->days * 86400));
}

int
fpd_e2e_epoch(const struct fpd_e2e *e, int64_t now, uint64_t *epoch)
{
	if (!e->configured || (!e->continuous && e->days <= 0))
		return FPD_EINVAL;
	*epoch = e->continuous
	    ? (e->next_uplink > e->base ? e->next_uplink : e->base)
	    : current(e, now);
	return *epoch <= E2E_EPOCH_MAX ? FPD_OK : FPD_EINVAL;
}

size_t
fpd_e2e_sealed_len(int version, size_t len)
{
	size_t h = e2e_hdr_len(version);

	return h == 0 ? 0 : h + len + E2E_TAG_LEN;
}

int
fpd_e2e_seal(struct fpd_e2e *e, int version, int suite, int64_t now,
    const unsigned char *in, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	unsigned char key[32], nonce[E2E_NONCE_LEN];
	size_t hlen = e2e_hdr_len(version), klen = e2e_suite_key_len(suite);
	uint64_t epoch;
	int rc;

	*outlen = 0;
	if (hlen == 0 || klen == 0 || len > E2E_MSG_MAX ||
	    outsz < hlen + len + E2E_TAG_LEN ||
	    (rc = fpd_e2e_epoch(e, now, &epoch)) != FPD_OK)
		return FPD_EINVAL;
	rc = FPD_ECRYPTO;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    e2e_uplink_key(e->secret, e->rot, epoch, suite, key) != 0 ||
	    e2e_uplink_header(version, suite, e->rot, epoch, nonce, len, out) !=
	        0 ||
	    e2e_ccm_seal(key, klen, out, hlen, in, len, out + hlen,
	        out + hlen + len) != 0)
		goto out;
	if (e->continuous)
		e->next_uplink = epoch + 1;
	*outlen = hlen + len + E2E_TAG_LEN;
	rc = FPD_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int
fpd_e2e_open(struct fpd_e2e *e, int64_t now, const unsigned char *in,
    size_t len, unsigned char *out, size_t outsz, size_t *outlen)
{
	unsigned char enc[E2E_DL_KEY_LEN], mac[E2E_DL_KEY_LEN];
	struct e2e_kiv k;
	uint64_t epoch, cur;
	int rc = FPD_EAUTH;

	*outlen = 0;
	if (!e->configured || (!e->continuous && e->days <= 0))
		return FPD_EINVAL;
	if (e2e_kiv_parse(in, len, 1, &k) != 0 ||
	    CRYPTO_memcmp(k.rot, e->rot, FPD_ROT_LEN) != 0)
		return FPD_EAUTH;
	epoch = k.epoch_bits;
	if (e->continuous) {
		if (epoch <= e->last_downlink)
			return FPD_EAUTH;
	} else {
		cur = current(e, now);
		if (epoch + 1 < cur || epoch > cur + 1)
			return FPD_EAUTH;
	}
	if (e2e_downlink_keys(e->secret, e->rot, epoch, enc, mac) != 0) {
		rc = FPD_ECRYPTO;
		goto out;
	}
	if (e2e_cs1_open(enc, mac, in, len, out, outsz, outlen) != 0)
		goto out;
	if (e->continuous)
		e->last_downlink = epoch;
	rc = FPD_OK;
out:
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}
