/*
 * admin: the admin portal's JSON API (issue 9), under /admin/api, for
 * the static pages of www/admin.  Errors are {"message"}.
 *
 *   POST /login                     {tenant, name, password}: the cookie
 *   POST /logout                    the session is over on every host
 *   GET  /me                        who, and the CSRF token
 *   GET  /devices                   ?after&prefix&state&expiresWithinDays
 *                                   &limit: a page (keyset, opaque cursor)
 *   POST /devices                   {deviceId}: pre-provision (secret once)
 *   POST /devices/import            {ids: [...], atomic}: a batch of ids
 *   GET  /devices/{id}              the device, its certificates, orders
 *   POST /devices/{id}/disable      also enable, rotate-secret
 *   GET  /stats                     devices per state, expiries per week
 *   GET  /acme                      the ACME account and weekly budget
 *
 * Every route but login takes the session cookie (AUTH_ADMIN: the front
 * checks it, and the CSRF token of every POST); the session's tenant
 * scopes everything, so another tenant's device is "not found".
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/core_admin.h"
#include "fleetpki/core_enroll.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/store_admin.h"
#include "fleetpki/util.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 500
/* Ids per import request: the page sends batches of about 500. */
#define IMPORT_MAX 1000
/* An id longer than this fails the whole request, not its row. */
#define IMPORT_ID_MAX 200
#define EXPIRY_WEEKS 13
#define DETAIL_CERTS 20
#define DETAIL_ORDERS 50

static const char *const json_types[] = { "application/json", NULL };

static const char *const states[] = { "pending", "issuing", "issued",
	"renewing", "failed", "disabled" };

static json_object *
json_time_us(int64_t us)
{
	char text[32];

	if (us <= 0)
		return NULL;
	util_iso8601_ms(us / 1000, text);
	return json_object_new_string(text);
}

static json_object *
json_time_s(int64_t s)
{
	return json_time_us(s * 1000000);
}

static void
add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key,
	    v != NULL && *v != '\0' ? json_object_new_string(v) : NULL);
}

static json_object *
session_json(const struct tenant *t, const struct admin_session *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "tenant", json_object_new_string(t->name));
	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "csrfToken", json_object_new_string(s->csrf));
	json_object_object_add(o, "expiresAt", json_time_s(s->expires_at));
	return o;
}

/* ---- login, logout, me -------------------------------------------- */

struct login_in {
	const char *tenant, *name, *password;
};

static const struct json_field login_fields[] = {
	{ "tenant", JF_STRING, 1, 1, STORE_NAME_MAX, 0,
	    offsetof(struct login_in, tenant), NULL },
	{ "name", JF_STRING, 1, 1, ADMIN_NAME_MAX, 0,
	    offsetof(struct login_in, name), NULL },
	{ "password", JF_STRING, 1, 1, ADMIN_PASSWORD_MAX, 0,
	    offsetof(struct login_in, password), NULL },
};
static const struct json_schema login_schema =
    JSON_SCHEMA(struct login_in, login_fields);
static const struct route_body login_body = { 8192, json_types, 0,
	&login_schema, 0 };

static int
admin_login(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct login_in *in = req->in;
	struct admin_session s;
	struct tenant t;
	char token[ADMIN_TOKEN_LEN + 1];
	int rc;

	resp_header(resp, "Cache-Control", "no-store");
	/* No session yet to hold a CSRF token: the origin must be ours. */
	if ((rc = http_admin_same_origin(req, st)) != 0)
		return rc;
	if ((rc = core_admin_login(req->ctx, in->tenant, in->name, in->password,
	         req->remote_addr, token, &s, &t, st)) != 0)
		return rc;
	resp_header(resp, "Set-Cookie",
	    "%s=%s; Path=/admin; Max-Age=%d; HttpOnly; Secure; "
	    "SameSite=Strict",
	    ADMIN_COOKIE, token, ADMIN_SESSION_TTL);
	OPENSSL_cleanse(token, sizeof(token));
	resp_json(resp, 200, session_json(&t, &s));
	OPENSSL_cleanse(s.csrf, sizeof(s.csrf));
	return 0;
}

static int
admin_logout(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	int rc;

	(void)st;
	if ((rc = core_admin_logout(req->ctx, req->tenant.id,
	         req->admin->id)) != 0)
		return rc;
	resp_header(resp, "Set-Cookie",
	    "%s=; Path=/admin; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
	    ADMIN_COOKIE);
	resp_empty(resp, 204);
	return 0;
}

static int
admin_me(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	(void)st;
	resp_json(resp, 200, session_json(&req->tenant, req->admin));
	return 0;
}

/* ---- devices ---------------------------------------------------- */

static json_object *
device_json(const struct enroll_device *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "deviceId",
	    json_object_new_string(d->device_id));
	json_object_object_add(o, "state", json_object_new_string(d->state));
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(d->enabled));
	json_object_object_add(o, "createdAt", json_time_us(d->created_us));
	json_object_object_add(o, "registeredAt",
	    json_time_us(d->registered_us));
	json_object_object_add(o, "lastSeen", json_time_us(d->last_seen_us));
	json_object_object_add(o, "notAfter", json_time_us(d->not_after_us));
	add_str(o, "lastError", d->last_error);
	return o;
}

/* A device id's characters (the cursor and the prefix are made of them). */
static int
id_chars(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len <= max &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

struct list_in {
	const char *after; /* decoded from the opaque cursor */
	const char *prefix;
	const char *state;
	struct json_int within_days;
	struct json_int limit;
};

/* The cursor is the base64url of the last id of the previous page. */
static int
conv_cursor(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	struct buf b = BUF_INIT;
	char *id;

	if (strlen(in) > 128 || b64url_decode(in, strlen(in), &b) != 0 ||
	    b.len == 0 || b.len > ENROLL_ID_MAX ||
	    memchr(b.data, '\0', b.len) != NULL) {
		buf_free(&b);
		return fp_fail(st, FP_E_BADREQ, "after is not a valid cursor.");
	}
	id = arena_strndup(a, (const char *)b.data, b.len);
	buf_free(&b);
	if (!id_chars(id, ENROLL_ID_MAX))
		return fp_fail(st, FP_E_BADREQ, "after is not a valid cursor.");
	*out = id;
	return 0;
}

static int
conv_prefix(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	(void)a;
	if (!id_chars(in, ENROLL_ID_MAX))
		return fp_fail(st, FP_E_BADREQ,
		    "prefix may hold only a-z, 0-9 and '-' (63 at most).");
	*out = in;
	return 0;
}

static int
conv_state(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	size_t i;

	(void)a;
	for (i = 0; i < FP_ARRAY_LEN(states); i++)
		if (strcmp(in, states[i]) == 0) {
			*out = states[i];
			return 0;
		}
	return fp_fail(st, FP_E_BADREQ,
	    "state must be one of pending, issuing, issued, renewing, "
	    "failed, disabled.");
}

struct list_ctx {
	json_object *list;
	char last[ENROLL_ID_MAX + 1];
};

static void
list_one(void *arg, const struct enroll_device *d)
{
	struct list_ctx *c = arg;

	json_object_array_add(c->list, device_json(d));
	snprintf(c->last, sizeof(c->last), "%s", d->device_id);
}

static int
admin_devices(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct list_in *in = req->in;
	struct enroll_query q;
	struct list_ctx c;
	struct buf cur = BUF_INIT;
	json_object *obj;
	int more = 0, rc;

	memset(&q, 0, sizeof(q));
	q.after = in->after;
	q.prefix = in->prefix;
	q.state = in->state;
	q.limit = in->limit.set ? (int)in->limit.v : PAGE_DEFAULT;
	if (in->within_days.set)
		q.expires_before_us =
		    ((int64_t)util_now() + in->within_days.v * 86400) * 1000000;
	c.list = json_object_new_array();
	c.last[0] = '\0';
	if ((rc = core_enroll_list(req->ctx, req->tenant.id, &q, list_one, &c,
	         &more, st)) != 0) {
		json_object_put(c.list);
		return rc;
	}
	obj = json_object_new_object();
	json_object_object_add(obj, "devices", c.list);
	if (more && c.last[0] != '\0') {
		b64url_encode(c.last, strlen(c.last), &cur);
		buf_append(&cur, "", 1);
		json_object_object_add(obj, "next",
		    json_object_new_string((const char *)cur.data));
		buf_free(&cur);
	} else {
		json_object_object_add(obj, "next", NULL);
	}
	resp_json(resp, 200, obj);
	return 0;
}

struct create_in {
	const char *device_id;
};

static const struct json_field create_fields[] = {
	{ "deviceId", JF_STRING, 1, 1, ENROLL_ID_MAX, 0,
	    offsetof(struct create_in, device_id), NULL },
};
static const struct json_schema create_schema =
    JSON_SCHEMA(struct create_in, create_fields);
static const struct route_body create_body = { 4096, json_types, 0,
	&create_schema, 0 };

static int
bad_id(const char *id, struct fp_status *st)
{
	(void)id;
	return fp_fail(st, FP_E_BADREQ,
	    "deviceId must be 5 to 63 of a-z, 0-9 and '-', not starting or "
	    "ending with '-'.");
}

static json_object *
secret_json(const char *device_id, const char *secret)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "deviceId",
	    json_object_new_string(device_id));
	json_object_object_add(o, "secret", json_object_new_string(secret));
	return o;
}

static int
admin_device_create(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct create_in *in = req->in;
	char secret[ENROLL_SECRET_LEN + 1];
	int rc;

	if (!enroll_id_valid(in->device_id))
		return bad_id(in->device_id, st);
	rc = core_enroll_add(req->ctx, &req->tenant, in->device_id, secret, st);
	if (rc == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_CONFLICT,
		    "Device id '%s' is already taken.", in->device_id);
	if (rc != 0)
		return rc;
	resp->secret = 1; /* the body holds secrets: wiped once sent */
	/* Shown once: only its HMAC is stored. */
	resp_json(resp, 201, secret_json(in->device_id, secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

struct import_in {
	struct json_strs ids;
	struct json_bool atomic;
};

static const struct json_field import_fields[] = {
	{ "ids", JF_STRINGS, 1, 1, IMPORT_MAX, IMPORT_ID_MAX,
	    offsetof(struct import_in, ids), NULL },
	{ "atomic", JF_BOOL, 0, 0, 0, 0, offsetof(struct import_in, atomic),
	    NULL },
};
static const struct json_schema import_schema =
    JSON_SCHEMA(struct import_in, import_fields);
static const struct route_body import_body = { 512 * 1024, json_types, 0,
	&import_schema, 0 };

struct import_ctx {
	const struct import_in *in;
	json_object *added, *failed;
};

static void
import_row(void *arg, size_t i, const char *secret, const char *why)
{
	struct import_ctx *c = arg;
	json_object *o;

	if (i >= c->in->ids.n)
		return;
	if (secret != NULL) {
		json_object_array_add(c->added,
		    secret_json(c->in->ids.v[i], secret));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "row", json_object_new_int64((int64_t)i));
	json_object_object_add(o, "deviceId",
	    json_object_new_string(c->in->ids.v[i]));
	json_object_object_add(o, "reason",
	    json_object_new_string(why != NULL ? why : "not added"));
	json_object_array_add(c->failed, o);
}

static int
admin_device_import(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct import_in *in = req->in;
	struct import_ctx c = { in, NULL, NULL };
	struct enroll_import_cb cb = { import_row, NULL, &c };
	json_object *obj;
	size_t failed = 0;
	int rc, atomic = in->atomic.set && in->atomic.v;

	if (in->ids.n == 0)
		return fp_fail(st, FP_E_BADREQ, "ids must not be empty.");
	c.added = json_object_new_array();
	c.failed = json_object_new_array();
	rc = core_enroll_import(req->ctx, &req->tenant,
	    (const char *const *)in->ids.v, in->ids.n, atomic, &cb, &failed,
	    st);
	if (rc != 0) {
		json_object_put(c.added);
		json_object_put(c.failed);
		return rc;
	}
	obj = json_object_new_object();
	json_object_object_add(obj, "total",
	    json_object_new_int64((int64_t)in->ids.n));
	json_object_object_add(obj, "addedCount",
	    json_object_new_int64((int64_t)json_object_array_length(c.added)));
	json_object_object_add(obj, "failedCount",
	    json_object_new_int64((int64_t)failed));
	json_object_object_add(obj, "added", c.added);
	json_object_object_add(obj, "failed", c.failed);
	resp->secret = 1; /* the body holds secrets: wiped once sent */
	resp_json(resp, 200, obj);
	return 0;
}

struct device_in {
	const char *device_id;
};

/* A path id that cannot be a device is no device of this tenant. */
static int
conv_device(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	(void)a;
	if (!enroll_id_valid(in))
		return fp_fail(st, FP_E_NOTFOUND, "No such device.");
	*out = in;
	return 0;
}

static void
cert_one(void *arg, const struct enroll_cert *c)
{
	json_object *list = arg, *o = json_object_new_object();

	add_str(o, "hostname", c->hostname);
	add_str(o, "serial", c->serial);
	json_object_object_add(o, "notBefore", json_time_us(c->not_before_us));
	json_object_object_add(o, "notAfter", json_time_us(c->not_after_us));
	json_object_object_add(o, "createdAt", json_time_us(c->created_us));
	json_object_object_add(o, "current",
	    json_object_new_boolean(c->current));
	json_object_object_add(o, "serverKey",
	    json_object_new_boolean(c->server_key));
	json_object_array_add(list, o);
}

static void
order_one(void *arg, const struct enroll_order *r)
{
	json_object *list = arg, *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(r->id));
	add_str(o, "kind", r->kind);
	add_str(o, "state", r->state);
	add_str(o, "errorType", r->error_type);
	add_str(o, "errorDetail", r->error_detail);
	json_object_object_add(o, "createdAt", json_time_us(r->created_us));
	json_object_object_add(o, "updatedAt", json_time_us(r->updated_us));
	json_object_object_add(o, "finishedAt", json_time_us(r->finished_us));
	json_object_object_add(o, "retryAt", json_time_us(r->retry_us));
	json_object_array_add(list, o);
}

static int
device_not_found(int rc, struct fp_status *st)
{
	return rc == -FP_E_NOTFOUND
	    ? fp_fail(st, FP_E_NOTFOUND, "No such device.")
	    : rc;
}

static int
admin_device_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct device_in *in = req->in;
	struct enroll_device d;
	json_object *obj, *certs, *orders;
	int rc;

	memset(&d, 0, sizeof(d));
	if ((rc = core_enroll_get(req->ctx, req->tenant.id, in->device_id,
	         &d)) != 0)
		return device_not_found(rc, st);
	certs = json_object_new_array();
	orders = json_object_new_array();
	if ((rc = core_enroll_certs(req->ctx, req->tenant.id, in->device_id,
	         DETAIL_CERTS, cert_one, certs)) != 0 ||
	    (rc = core_enroll_orders(req->ctx, req->tenant.id, in->device_id,
	         DETAIL_ORDERS, order_one, orders)) != 0) {
		json_object_put(certs);
		json_object_put(orders);
		return device_not_found(rc, st);
	}
	obj = device_json(&d);
	json_object_object_add(obj, "certificates", certs);
	json_object_object_add(obj, "orders", orders);
	resp_json(resp, 200, obj);
	return 0;
}

static int
set_enabled(struct http_req *req, struct http_resp *resp, struct fp_status *st,
    int enabled)
{
	const struct device_in *in = req->in;
	struct enroll_device d;
	int rc;

	if ((rc = core_enroll_set_enabled(req->ctx, req->tenant.id,
	         in->device_id, enabled, st)) != 0)
		return device_not_found(rc, st);
	memset(&d, 0, sizeof(d));
	if ((rc = core_enroll_get(req->ctx, req->tenant.id, in->device_id,
	         &d)) != 0)
		return device_not_found(rc, st);
	resp_json(resp, 200, device_json(&d));
	return 0;
}

static int
admin_device_disable(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return set_enabled(req, resp, st, 0);
}

static int
admin_device_enable(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return set_enabled(req, resp, st, 1);
}

static int
admin_device_rotate(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct device_in *in = req->in;
	char secret[ENROLL_SECRET_LEN + 1];
	int rc;

	if ((rc = core_enroll_rotate(req->ctx, req->tenant.id, in->device_id,
	         secret, st)) != 0)
		return device_not_found(rc, st);
	resp->secret = 1; /* the body holds secrets: wiped once sent */
	resp_json(resp, 200, secret_json(in->device_id, secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	return 0;
}

/* ---- the dashboard ---------------------------------------------- */

static int
admin_stats(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	int64_t counts[6], weeks[EXPIRY_WEEKS], now = (int64_t)util_now();
	json_object *obj, *by_state, *list, *w;
	size_t i;
	int rc;

	(void)st;
	memset(counts, 0, sizeof(counts));
	memset(weeks, 0, sizeof(weeks));
	if ((rc = core_enroll_state_counts(req->ctx, req->tenant.id, counts)) !=
	        0 ||
	    (rc = core_enroll_expiry_weeks(req->ctx, req->tenant.id, weeks,
	         EXPIRY_WEEKS)) != 0)
		return rc;
	by_state = json_object_new_object();
	for (i = 0; i < FP_ARRAY_LEN(states); i++)
		json_object_object_add(by_state, states[i],
		    json_object_new_int64(counts[i]));
	list = json_object_new_array();
	for (i = 0; i < EXPIRY_WEEKS; i++) {
		w = json_object_new_object();
		json_object_object_add(w, "week",
		    json_object_new_int64((int64_t)i));
		json_object_object_add(w, "from",
		    json_time_s(now + (int64_t)i * 7 * 86400));
		json_object_object_add(w, "count",
		    json_object_new_int64(weeks[i]));
		json_object_array_add(list, w);
	}
	obj = json_object_new_object();
	json_object_object_add(obj, "states", by_state);
	json_object_object_add(obj, "expiryWeeks", list);
	resp_json(resp, 200, obj);
	return 0;
}

/*
 * The ACME account and budget, from the portal's own reads of
 * acme_accounts and acme_orders (store_admin.h) until the ACME client's
 * core_acme_status() is on main.
 */
static int
admin_acme(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	struct admin_acme_account_rec acct;
	struct admin_acme_orders_rec orders;
	long long budget = 0;
	char *dir = NULL;
	json_object *obj, *a, *b;
	int rc;

	(void)st;
	if ((rc = core_setting_int(req->ctx, req->tenant.id,
	         "acme.weekly_budget", &budget)) != 0 ||
	    (rc = core_setting_str(req->ctx, req->tenant.id,
	         "acme.directory_url", &dir)) != 0 ||
	    (rc = store_admin_acme_orders(req->ctx->db, req->tenant.id,
	         &orders)) != 0)
		goto out;
	rc = store_admin_acme_account(req->ctx->db, req->tenant.id, &acct);
	if (rc != 0 && rc != -FP_E_NOTFOUND)
		goto out;
	obj = json_object_new_object();
	add_str(obj, "directoryUrl", dir);
	if (rc == 0) {
		a = json_object_new_object();
		add_str(a, "directoryUrl", acct.directory_url);
		add_str(a, "url", acct.account_url);
		add_str(a, "status", acct.status);
		add_str(a, "contact", acct.contact);
		add_str(a, "lastError", acct.last_error);
		json_object_object_add(a, "createdAt",
		    json_time_s(acct.created_at));
		json_object_object_add(obj, "account", a);
		admin_acme_account_rec_clear(&acct);
	} else {
		json_object_object_add(obj, "account", NULL);
	}
	b = json_object_new_object();
	json_object_object_add(b, "weekly", json_object_new_int64(budget));
	json_object_object_add(b, "usedLast7Days",
	    json_object_new_int64(orders.finalized_7d));
	json_object_object_add(b, "remaining",
	    json_object_new_int64(budget > orders.finalized_7d
	            ? budget - orders.finalized_7d
	            : 0));
	json_object_object_add(b, "queued",
	    json_object_new_int64(orders.queued));
	json_object_object_add(b, "queuedRenewals",
	    json_object_new_int64(orders.queued_renewals));
	json_object_object_add(b, "inProgress",
	    json_object_new_int64(orders.in_progress));
	json_object_object_add(obj, "budget", b);
	resp_json(resp, 200, obj);
	rc = 0;
out:
	free(dir);
	return rc;
}

/* ---- the routes --------------------------------------------------- */

static const struct in_field list_params[] = {
	IN_STR_FIELD(QUERY, "after", struct list_in, after, 0, IN_EMPTY_ABSENT,
	    conv_cursor),
	IN_STR_FIELD(QUERY, "prefix", struct list_in, prefix, 0,
	    IN_EMPTY_ABSENT, conv_prefix),
	IN_STR_FIELD(QUERY, "state", struct list_in, state, 0, IN_EMPTY_ABSENT,
	    conv_state),
	IN_INT_FIELD(QUERY, "expiresWithinDays", struct list_in, within_days, 1,
	    3650, IN_EMPTY_ABSENT,
	    "expiresWithinDays must be an integer from 1 to 3650."),
	IN_INT_FIELD(QUERY, "limit", struct list_in, limit, 1, PAGE_MAX,
	    IN_EMPTY_ABSENT | IN_CLAMP, "limit must be a positive integer."),
};
static const struct in_schema list_schema = IN_SCHEMA(list_params);

static const struct in_field device_params[] = {
	IN_STR_FIELD(PATH, "deviceId", struct device_in, device_id, 0, 0,
	    conv_device),
};
static const struct in_schema device_schema = IN_SCHEMA(device_params);

#define DEV "/admin/api/devices"
static const struct route routes[] = {
	{ "POST", "/admin/api/login", admin_login, AUTH_NONE, &login_body, NULL,
	    sizeof(struct login_in) },
	{ "POST", "/admin/api/logout", admin_logout, AUTH_ADMIN, NULL, NULL,
	    0 },
	{ "GET", "/admin/api/me", admin_me, AUTH_ADMIN, NULL, NULL, 0 },
	{ "GET", DEV, admin_devices, AUTH_ADMIN, NULL, &list_schema,
	    sizeof(struct list_in) },
	{ "POST", DEV, admin_device_create, AUTH_ADMIN, &create_body, NULL,
	    sizeof(struct create_in) },
	{ "POST", DEV "/import", admin_device_import, AUTH_ADMIN, &import_body,
	    NULL, sizeof(struct import_in) },
	{ "GET", DEV "/{}", admin_device_get, AUTH_ADMIN, NULL, &device_schema,
	    sizeof(struct device_in) },
	{ "POST", DEV "/{}/disable", admin_device_disable, AUTH_ADMIN, NULL,
	    &device_schema, sizeof(struct device_in) },
	{ "POST", DEV "/{}/enable", admin_device_enable, AUTH_ADMIN, NULL,
	    &device_schema, sizeof(struct device_in) },
	{ "POST", DEV "/{}/rotate-secret", admin_device_rotate, AUTH_ADMIN,
	    NULL, &device_schema, sizeof(struct device_in) },
	{ "GET", "/admin/api/stats", admin_stats, AUTH_ADMIN, NULL, NULL, 0 },
	{ "GET", "/admin/api/acme", admin_acme, AUTH_ADMIN, NULL, NULL, 0 },
};

const struct route_group admin_routes =
    ROUTE_GROUP_AT("admin", "/admin/api/", routes, NULL);
