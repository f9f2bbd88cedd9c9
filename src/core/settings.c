/*
 * core/settings: the per-tenant settings operators may change, as one
 * table of key, default and rule.  What is not in the table cannot be
 * set, so a typo fails loudly instead of being stored and ignored.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

/*
 * SET_STR: text checked by the row's 'check' (min and max bound its
 * length); SET_SECRET: the same, stored sealed under the master key
 * (AAD "setting:<tenant>:<key>", base64) and never listed.
 */
enum setting_type { SET_BOOL, SET_INT, SET_STR, SET_SECRET };

/* A check of a string setting: 0 when 'v' is acceptable. */
typedef int (*setting_check)(const char *v);

static int check_domain(const char *);
static int check_https_url(const char *);
static int check_abs_path(const char *);
static int check_email(const char *);
static int check_dns_provider(const char *);
static int check_hostports(const char *);
static int check_hostport(const char *);
static int check_token(const char *);

static const struct setting {
	const char *key;
	enum setting_type type;
	const char *dflt;
	long long min, max;
	const char *help;
	setting_check check;
} settings[] = {
	{ "certmaker.require_challenge", SET_BOOL, "off", 0, 1,
	    "prove control of names over HTTP before issuing", NULL },
	{ "certmaker.default_days", SET_INT, "7", 1, 3650,
	    "validity when a request names none", NULL },
	{ "certmaker.max_days", SET_INT, "182", 1, 3650,
	    "longest validity a request may ask for", NULL },
	{ "certmaker.challenge_ttl", SET_INT, "3600", 60, 7 * 86400,
	    "seconds a challenge may be solved in", NULL },
	{ "ocsp.validity", SET_INT, "3600", 60, 7 * 86400,
	    "seconds from an OCSP response's thisUpdate to nextUpdate", NULL },
	{ "ocsp.responder_days", SET_INT, "4", 1, 30,
	    "validity of a delegated OCSP responder's certificate (renewed "
	    "at half of it)",
	    NULL },
	/* The device protocol (core/device.c, docs/README-device.md). */
	{ "device_clock_skew", SET_INT, "300", 0, 86400,
	    "seconds a device request's timestamp may be off the server's",
	    NULL },
	{ "device_heartbeat_burst", SET_INT, "10", 1, 1000,
	    "heartbeats a device may send at once (its token bucket)", NULL },
	{ "device_heartbeat_interval", SET_INT, "60", 1, 86400,
	    "seconds in which a device earns one more heartbeat", NULL },
	{ "device_heartbeat_default", SET_INT, "86400", 1, 31622400,
	    "HeartbeatInSec when no SecurityHeartbeatInSec is current", NULL },
	/* Webhooks (worker/webhook.c). */
	{ "webhook.max_attempts", SET_INT, "18", 1, 30,
	    "attempts of a webhook delivery before it is dead-lettered", NULL },
	/* Device enrollment and its ACME CA (core/enroll.c, worker). */
	{ "enroll.domain", SET_STR, "", 3, 189,
	    "devices are named <deviceId>.<this domain>", check_domain },
	{ "enroll.renew_percent", SET_INT, "33", 1, 90,
	    "renew a device certificate with less than this % of its life "
	    "left",
	    NULL },
	{ "acme.directory_url", SET_STR, "", 9, 512,
	    "the ACME CA's directory (https)", check_https_url },
	{ "acme.ca_file", SET_STR, "", 2, 1024,
	    "CA bundle to trust for the ACME server (default: system)",
	    check_abs_path },
	{ "acme.contact", SET_STR, "", 3, 254,
	    "e-mail address of the ACME account", check_email },
	{ "acme.dns_provider", SET_STR, "exec", 4, 7,
	    "how DNS-01 records are set: exec or rfc2136", check_dns_provider },
	{ "acme.dns_hook", SET_STR, "", 2, 1024,
	    "the exec provider's program: HOOK present|cleanup FQDN VALUE",
	    check_abs_path },
	{ "acme.dns_resolvers", SET_STR, "", 3, 1024,
	    "host:port list where the TXT record must be visible",
	    check_hostports },
	{ "acme.rfc2136_server", SET_STR, "", 3, 300,
	    "host:port of the DNS server taking RFC 2136 updates",
	    check_hostport },
	{ "acme.rfc2136_key_file", SET_STR, "", 2, 1024,
	    "TSIG key file for the updates (nsupdate -k)", check_abs_path },
	{ "acme.eab_kid", SET_STR, "", 1, 256,
	    "external account binding key id (RFC 8555 7.3.4)", check_token },
	{ "acme.eab_hmac_key", SET_SECRET, "", 1, 512,
	    "external account binding MAC key, base64url", check_token },
	{ "acme.weekly_budget", SET_INT, "50", 0, 1000000,
	    "new certificates the CA allows per registered domain and week",
	    NULL },
};

/* ---- the checks of string settings -------------------------------- */

static int
check_domain(const char *v)
{
	size_t label = 0, labels = 1;
	const char *p;

	if (*v == '\0' || *v == '.' || *v == '-')
		return -1;
	for (p = v; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return -1;
			label = 0;
			labels++;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		        *p == '-'))
			return -1;
		if (label == 0 && *p == '-')
			return -1;
		if (++label > 63)
			return -1;
	}
	return label > 0 && p[-1] != '-' && labels >= 2 ? 0 : -1;
}

static int
check_https_url(const char *v)
{
	const char *p;

	if (strncmp(v, "https://", 8) != 0 || v[8] == '\0' || v[8] == '/')
		return -1;
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -1;
	return 0;
}

static int
check_abs_path(const char *v)
{
	const char *p;

	if (v[0] != '/')
		return -1;
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return -1;
	return 0;
}

static int
check_email(const char *v)
{
	const char *at = strchr(v, '@'), *p;

	if (at == NULL || at == v || strchr(at + 1, '@') != NULL)
		return -1;
	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    *p == ',' || *p == '<' || *p == '>')
			return -1;
	return check_domain(at + 1) == 0 ? 0 : -1;
}

static int
check_dns_provider(const char *v)
{
	return strcmp(v, "exec") == 0 || strcmp(v, "rfc2136") == 0 ? 0 : -1;
}

/* host:port, the host a name or an address ([v6] in brackets). */
static int
check_hostport(const char *v)
{
	const char *colon = strrchr(v, ':'), *p;
	long long port;

	if (colon == NULL || colon == v ||
	    util_parse_int(colon + 1, 1, 65535, &port) != 0)
		return -1;
	for (p = v; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		        (*p >= '0' && *p <= '9') ||
		        strchr(".-:[]", *p) != NULL))
			return -1;
	return 0;
}

/* One or more host:port, separated by commas. */
static int
check_hostports(const char *v)
{
	char item[301];
	const char *p = v, *end;
	size_t n;

	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0 || n >= sizeof(item))
			return -1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (check_hostport(item) != 0)
			return -1;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* Printable ASCII without spaces. */
static int
check_token(const char *v)
{
	const char *p;

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -1;
	return 0;
}

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

/* The AAD a secret setting is sealed under: bound to tenant and key. */
static void
setting_aad(char *aad, size_t len, int64_t tenant_id, const char *key)
{
	snprintf(aad, len, "setting:%lld:%s", (long long)tenant_id, key);
}

int
core_setting_str(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    char **out)
{
	const struct setting *s = setting_find(key);
	struct buf sealed = BUF_INIT, plain = BUF_INIT;
	char *value = NULL, aad[128];
	int rc;

	*out = NULL;
	if (s == NULL || (s->type != SET_STR && s->type != SET_SECRET))
		fatal("no string setting '%s'", key);
	rc = store_setting_get(ctx->db, tenant_id, key, &value);
	if (rc == -FP_E_NOTFOUND) {
		*out = xstrdup(s->dflt);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (s->type == SET_STR || value[0] == '\0') {
		*out = value;
		return 0;
	}
	setting_aad(aad, sizeof(aad), tenant_id, key);
	rc = -FP_E_INTERNAL;
	if (b64_decode(value, strlen(value), &sealed) == 0 &&
	    signer_unseal(ctx->signer, aad, sealed.data, sealed.len, &plain) ==
	        0) {
		buf_append(&plain, "", 1);
		*out = xstrdup((const char *)plain.data);
		rc = 0;
	} else
		log_err("setting %s of tenant %lld does not open", key,
		    (long long)tenant_id);
	buf_free_secret(&plain);
	buf_free(&sealed);
	free(value);
	return rc;
}

/* Store a string setting: checked, and sealed when it is a secret. */
static int
setting_set_str(struct fp_ctx *ctx, int64_t tenant_id, const struct setting *s,
    const char *value, struct fp_status *st)
{
	struct buf sealed = BUF_INIT, text = BUF_INIT;
	char aad[128];
	size_t len = strlen(value);
	int rc;

	if ((rc = core_setting_check(s->key, value, st)) != 0)
		return rc;
	if (s->type == SET_STR || len == 0)
		return store_setting_set(ctx->db, tenant_id, s->key, value);
	setting_aad(aad, sizeof(aad), tenant_id, s->key);
	if ((rc = signer_seal(ctx->signer, aad, (const unsigned char *)value,
	         len, &sealed)) != 0)
		return fp_fail(st, FP_E_INTERNAL, "sealing %s failed", s->key);
	b64_encode(sealed.data, sealed.len, &text);
	buf_append(&text, "", 1);
	rc = store_setting_set(ctx->db, tenant_id, s->key,
	    (const char *)text.data);
	buf_free(&text);
	buf_free(&sealed);
	return rc;
}

int
core_setting_check(const char *key, const char *value, struct fp_status *st)
{
	const struct setting *s = setting_find(key);
	size_t len = strlen(value);
	long long v;

	if (s == NULL)
		return fp_fail(st, FP_E_BADREQ, "unknown setting '%s'", key);
	if (s->type == SET_BOOL || s->type == SET_INT) {
		if (setting_parse(s, value, &v) == 0)
			return 0;
		if (s->type == SET_BOOL)
			return fp_fail(st, FP_E_BADREQ, "%s takes on or off",
			    key);
		return fp_fail(st, FP_E_BADREQ,
		    "%s takes an integer from %lld to %lld", key, s->min,
		    s->max);
	}
	/* "" unsets a string setting. */
	if (len != 0 &&
	    ((long long)len < s->min || (long long)len > s->max ||
	        s->check(value) != 0))
		return fp_fail(st, FP_E_BADREQ, "%s: not a valid value (%s)",
		    s->key, s->help);
	return 0;
}

int
core_setting_set(struct fp_ctx *ctx, int64_t tenant_id, const char *key,
    const char *value, struct fp_status *st)
{
	const struct setting *s = setting_find(key);
	long long v;

	if (s == NULL)
		return fp_fail(st, FP_E_BADREQ, "unknown setting '%s'", key);
	if (s->type == SET_STR || s->type == SET_SECRET)
		return setting_set_str(ctx, tenant_id, s, value, st);
	if (core_setting_check(key, value, st) != 0 ||
	    setting_parse(s, value, &v) != 0)
		return -FP_E_BADREQ;
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
		    settings[i].type == SET_SECRET && e.values[i] != NULL &&
		            e.values[i][0] != '\0'
		        ? "(set)"
		        : e.values[i] != NULL ? e.values[i]
		                              : settings[i].dflt,
		    e.values[i] == NULL);
	for (i = 0; i < FP_ARRAY_LEN(settings); i++)
		free(e.values[i]);
	return rc;
}
