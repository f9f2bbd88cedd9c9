/*
 * core/settings: the per-tenant settings operators may change, as one
 * table of key, default and rule.  What is not in the table cannot be
 * set, so a typo fails loudly instead of being stored and ignored.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/core.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

enum setting_type { SET_BOOL, SET_INT };

static const struct setting {
	const char *key;
	enum setting_type type;
	const char *dflt;
	long long min, max;
	const char *help;
} settings[] = {
	{ "certmaker.require_challenge", SET_BOOL, "off", 0, 1,
	    "prove control of names over HTTP before issuing" },
	{ "certmaker.default_days", SET_INT, "7", 1, 3650,
	    "validity when a request names none" },
	{ "certmaker.max_days", SET_INT, "182", 1, 3650,
	    "longest validity a request may ask for" },
	{ "certmaker.challenge_ttl", SET_INT, "3600", 60, 7 * 86400,
	    "seconds a challenge may be solved in" },
	{ "ocsp.validity", SET_INT, "3600", 60, 7 * 86400,
	    "seconds from an OCSP response's thisUpdate to nextUpdate" },
	/* The device protocol (core/device.c, docs/README-device.md). */
	{ "device_clock_skew", SET_INT, "300", 0, 86400,
	    "seconds a device request's timestamp may be off the server's" },
	{ "device_heartbeat_burst", SET_INT, "10", 1, 1000,
	    "heartbeats a device may send at once (its token bucket)" },
	{ "device_heartbeat_interval", SET_INT, "60", 1, 86400,
	    "seconds in which a device earns one more heartbeat" },
	{ "device_heartbeat_default", SET_INT, "86400", 1, 31622400,
	    "HeartbeatInSec when no SecurityHeartbeatInSec is current" },
};

static const struct setting *
setting_find(const char *key)
{
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(settings); i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

/* Parse 'text' under the rule of 's'; 0 and '*out', or -1. */
static int
setting_parse(const struct setting *s, const char *text, long long *out)
{
	if (s->type == SET_BOOL) {
		if (strcmp(text, "on") == 0 || strcmp(text, "true") == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(text, "off") == 0 || strcmp(text, "false") == 0) {
			*out = 0;
			return 0;
		}
		return -1;
	}
	return util_parse_int(text, s->min, s->max, out);
}

static int
setting_value(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    long long *out)
{
	const struct setting *s = setting_find(key);
	char *value = NULL;
	int rc;

	if (s == NULL)
		fatal("unknown setting '%s'", key);
	rc = store_setting_get(ctx->db, tenant_id, key, &value);
	if (rc == -FP_E_NOTFOUND)
		rc = setting_parse(s, s->dflt, out);
	else if (rc == 0 && setting_parse(s, value, out) != 0)
		rc = setting_parse(s, s->dflt, out); /* stored by hand? */
	free(value);
	return rc;
}

int
core_setting_int(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    long long *out)
{
	return setting_value(ctx, tenant_id, key, out);
}

int
core_setting_bool(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    int *out)
{
	long long v = 0;
	int rc;

	rc = setting_value(ctx, tenant_id, key, &v);
	*out = v != 0;
	return rc;
}

int
core_setting_set(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    const char *value, struct fp_status *st)
{
	const struct setting *s = setting_find(key);
	long long v;

	if (s == NULL)
		return fp_fail(st, FP_E_BADREQ, "unknown setting '%s'", key);
	if (setting_parse(s, value, &v) != 0) {
		if (s->type == SET_BOOL)
			return fp_fail(st, FP_E_BADREQ, "%s takes on or off",
			    key);
		return fp_fail(st, FP_E_BADREQ,
		    "%s takes an integer from %lld to %lld", key, s->min,
		    s->max);
	}
	/* Store the canonical spelling. */
	return store_setting_set(ctx->db, tenant_id, key,
	    s->type == SET_BOOL ? (v ? "on" : "off") : value);
}

/* What the tenant set, gathered in one query. */
struct each_arg {
	char *values[FP_ARRAY_LEN(settings)];
};

static void
collect(void *varg, const char *key, const char *value)
{
	struct each_arg *arg = varg;
	const struct setting *s = setting_find(key);

	if (s != NULL && arg->values[s - settings] == NULL)
		arg->values[s - settings] = xstrdup(value);
}

int
core_setting_each(struct fp_ctx *ctx, int64_t tenant_id,
    void (*fn)(void *, const char *, const char *, int), void *arg)
{
	struct each_arg e;
	size_t i;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = store_setting_each(ctx->db, tenant_id, collect, &e);
	for (i = 0; rc == 0 && i < FP_ARRAY_LEN(settings); i++)
		fn(arg, settings[i].key,
		    e.values[i] != NULL ? e.values[i] : settings[i].dflt,
		    e.values[i] == NULL);
	for (i = 0; i < FP_ARRAY_LEN(settings); i++)
		free(e.values[i]);
	return rc;
}
