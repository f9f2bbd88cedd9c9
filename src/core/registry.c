/*
 * core/registry: device profiles, devices, the allow and deny lists and
 * provisioning of the security-services dialect (sql/010).
 */
#include "config.h"

#include <string.h>

#include <openssl/rand.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core_registry.h"
#include "fleetpki/store_registry.h"

/* 16 random bytes, base64url: 22 characters of [A-Za-z0-9_-]. */
static int
profile_uid(char out[PROFILE_UID_LEN + 1])
{
	unsigned char raw[16];
	struct buf b = BUF_INIT;
	int rc = -FP_E_INTERNAL;

	if (RAND_bytes(raw, sizeof(raw)) == 1) {
		b64url_encode(raw, sizeof(raw), &b);
		if (b.len == PROFILE_UID_LEN) {
			memcpy(out, b.data, PROFILE_UID_LEN);
			out[PROFILE_UID_LEN] = '\0';
			rc = 0;
		}
	}
	buf_free(&b);
	return rc;
}

int
core_profile_create(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, struct profile_rec *out, struct fp_status *st)
{
	size_t i, len = strlen(name);
	int rc;

	if (len == 0 || len > PROFILE_NAME_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "a profile name has 1 to 255 characters");
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return fp_fail(st, FP_E_BADREQ,
			    "a profile name has no control characters");
	memset(out, 0, sizeof(*out));
	out->tenant_id = t->id;
	memcpy(out->name, name, len + 1);
	if ((rc = profile_uid(out->uid)) != 0)
		return rc;
	/* A UID collision (2^-128) reads as the name's: the tenant's one
	 * unique key the caller chose. */
	if ((rc = store_profile_insert(ctx->db, out)) == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_CONFLICT,
		    "tenant '%s' has a profile named '%s'", t->name, name);
	return rc;
}
