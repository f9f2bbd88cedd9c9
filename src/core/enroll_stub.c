/*
 * enroll_stub: TEMPORARY stand-ins for core_enroll.h until the lead's
 * src/core/enroll.c is on main (then this file goes).  Every call
 * answers 503.
 */
#include "config.h"

#include <string.h>

#include "fleetpki/core.h"
#include "fleetpki/core_enroll.h"

static int
missing(struct fp_status *st)
{
	return fp_fail(st, FP_E_UNAVAILABLE,
	    "Device enrollment is not built into this server yet.");
}

int
enroll_id_valid(const char *id)
{
	size_t len = strlen(id);

	return len >= ENROLL_ID_MIN && len <= ENROLL_ID_MAX &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == len &&
	    id[0] != '-' && id[len - 1] != '-';
}

int
core_enroll_add(struct fp_ctx *ctx, const struct tenant *t,
    const char *device_id, char secret[ENROLL_SECRET_LEN + 1],
    struct fp_status *st)
{
	(void)ctx, (void)t, (void)device_id, (void)secret;
	return missing(st);
}

int
core_enroll_import(struct fp_ctx *ctx, const struct tenant *t,
    const char *const *ids, size_t n, int atomic,
    const struct enroll_import_cb *cb, size_t *failed, struct fp_status *st)
{
	(void)ctx, (void)t, (void)ids, (void)n, (void)atomic, (void)cb;
	(void)failed;
	return missing(st);
}

int
core_enroll_get(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    struct enroll_device *out)
{
	(void)ctx, (void)tenant_id, (void)device_id, (void)out;
	return -FP_E_NOTFOUND;
}

int
core_enroll_list(struct fp_ctx *ctx, int64_t tenant_id,
    const struct enroll_query *q,
    void (*fn)(void *, const struct enroll_device *), void *arg, int *more,
    struct fp_status *st)
{
	(void)ctx, (void)tenant_id, (void)q, (void)fn, (void)arg;
	*more = 0;
	return missing(st);
}

int
core_enroll_set_enabled(struct fp_ctx *ctx, int64_t tenant_id,
    const char *device_id, int enabled, struct fp_status *st)
{
	(void)ctx, (void)tenant_id, (void)device_id, (void)enabled;
	return missing(st);
}

int
core_enroll_rotate(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    char secret[ENROLL_SECRET_LEN + 1], struct fp_status *st)
{
	(void)ctx, (void)tenant_id, (void)device_id, (void)secret;
	return missing(st);
}

int
core_enroll_certs(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_cert *), void *arg)
{
	(void)ctx, (void)tenant_id, (void)device_id, (void)limit, (void)fn;
	(void)arg;
	return 0;
}

int
core_enroll_orders(struct fp_ctx *ctx, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_order *), void *arg)
{
	(void)ctx, (void)tenant_id, (void)device_id, (void)limit, (void)fn;
	(void)arg;
	return 0;
}

int
core_enroll_expiry_weeks(struct fp_ctx *ctx, int64_t tenant_id, int64_t *counts,
    int nweeks)
{
	(void)ctx, (void)tenant_id;
	memset(counts, 0, sizeof(*counts) * (size_t)nweeks);
	return 0;
}

int
core_enroll_state_counts(struct fp_ctx *ctx, int64_t tenant_id,
    int64_t counts[6])
{
	(void)ctx, (void)tenant_id;
	memset(counts, 0, sizeof(int64_t) * 6);
	return 0;
}
