/*
 * secsvc: the security-services dialect (security-services.txt), at the
 * root paths it documents.  Every route is a POST with a JSON body.
 *
 *   POST /authenticate       {APIKey, APISecret} -> {AuthToken, RefreshToken}
 *   POST /refreshauthtoken   {APIKey, RefreshToken} -> {AuthToken, RefreshToken}
 *   POST /apiversion         -> {Version}                 (AuthToken)
 *
 * and the registry (every one AuthToken; docs/README-registry.md):
 *
 *   /deviceprofile/get, /deviceprofile/bootstrapprovisioning/set|get|delete
 *   /device/list/get, /device/whitelist/add (JSON or CSV), /device/whitelist/get
 *   /device/provisioning/set|get|delete, /device/info/get,
 *   /device/rotpublicuid/get
 *
 * Lists answer PageNumber, PageSize (100) and TotalRecords, and, when
 * the page is full, a NextPageToken (fleetpki's extension): sent back as
 * NextPageToken, it starts the next page after the last row of this one,
 * at the cost of page 1 whatever the depth.
 *
 * AuthTokens are ES256 JWTs of this dialect's own audience: a token of
 * the X.509 identity API is no AuthToken, nor the other way round.  The
 * RefreshToken in /refreshauthtoken's answer replaces the one sent (the
 * spec's answer has only AuthToken; rotation is fleetpki's): the old one
 * is spent, and presenting it again revokes every token of its family.
 */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/core.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/core_registry.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/http.h"
#include "fleetpki/input.h"
#include "fleetpki/json.h"
#include "fleetpki/store_tags.h"

/* The version of the spec these routes answer as. */
#define SECSVC_API_VERSION "1.1.29"
#define BODY_JSON (16 * 1024)
/* API keys are UUIDs, secrets 32 characters; room for other clients'. */
#define KEY_MAX 64
#define SECRET_MAX 256
#define TOKEN_MAX 4096

static const char *const json_types[] = { "application/json", NULL };

struct authenticate_in {
	const char *key;
	const char *secret;
};

static const struct json_field authenticate_fields[] = {
	{ "APIKey", JF_STRING, 1, 1, KEY_MAX, 0,
	    offsetof(struct authenticate_in, key), NULL },
	{ "APISecret", JF_STRING, 1, 1, SECRET_MAX, 0,
	    offsetof(struct authenticate_in, secret), NULL },
};
static const struct json_schema authenticate_schema =
    JSON_SCHEMA(struct authenticate_in, authenticate_fields);
static const struct route_body authenticate_body = { BODY_JSON, json_types, 1,
	&authenticate_schema, 0 };

struct refresh_in {
	const char *key;
	const char *refresh_token;
};

static const struct json_field refresh_fields[] = {
	{ "APIKey", JF_STRING, 1, 1, KEY_MAX, 0,
	    offsetof(struct refresh_in, key), NULL },
	{ "RefreshToken", JF_STRING, 1, 1, TOKEN_MAX, 0,
	    offsetof(struct refresh_in, refresh_token), NULL },
};
static const struct json_schema refresh_schema =
    JSON_SCHEMA(struct refresh_in, refresh_fields);
static const struct route_body refresh_body = { BODY_JSON, json_types, 1,
	&refresh_schema, 0 };

/* /apiversion takes no fields: an empty object, or no body at all. */
struct empty_in {
	int unused;
};
static const struct json_field no_fields[1] = { { "", JF_STRING, 0, 0, 0, 0, 0,
    NULL } };
static const struct json_schema empty_schema = { no_fields, 0,
	sizeof(struct empty_in) };
static const struct route_body empty_body = { BODY_JSON, json_types, 1,
	&empty_schema, 1 };

static void
answer_session(struct http_resp *resp, const struct core_session *s)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "AuthToken",
	    json_object_new_string(s->auth_token));
	json_object_object_add(obj, "RefreshToken",
	    json_object_new_string(s->refresh_token));
	/* Tokens are for the caller only: no cache keeps them. */
	resp_header(resp, "Cache-Control", "no-store");
	resp_json(resp, 200, obj);
}

static int
secsvc_authenticate(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct authenticate_in *in = req->in;
	struct core_session s;
	int rc;

	if ((rc = core_authenticate(req->ctx, in->key, in->secret, &s, st)) ==
	    0)
		answer_session(resp, &s);
	core_session_clear(&s);
	return rc;
}

static int
secsvc_refresh(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct refresh_in *in = req->in;
	struct core_session s;
	int rc;

	if ((rc = core_refresh(req->ctx, in->key, in->refresh_token, &s, st)) ==
	    0)
		answer_session(resp, &s);
	core_session_clear(&s);
	return rc;
}

static int
secsvc_apiversion(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	json_object *obj = json_object_new_object();

	(void)req;
	(void)st;
	json_object_object_add(obj, "Version",
	    json_object_new_string(SECSVC_API_VERSION));
	resp_json(resp, 200, obj);
	return 0;
}

/* ---- the registry ------------------------------------------------ */

/* The allow list's CSV upload: 100,000 rows are about 3 MB. */
#define BODY_CSV (8 * 1024 * 1024)
/* A JSON request naming devices: 1,000 ROTs, 100 tags, 1,000 serials. */
#define BODY_LIST (256 * 1024)
#define TAGS_MAX 100
#define TAG_LEN 255
#define ROTS_MAX 1000
#define WL_MAX 10000
#define SERIAL_LEN 64
#define PAGE_MAX 1000000000
#define PAGE_TOKEN_MAX 32
/* SecurityHeartbeatInSec: a minute to thirty days. */
#define HEARTBEAT_MIN 60
#define HEARTBEAT_MAX (30 * 86400)

static const char *const json_csv_types[] = { "application/json",
	"application/octet-stream", NULL };

static struct reg_names
names_of(const struct json_strs *s)
{
	struct reg_names n = { s->v, s->n };

	return n;
}

/* A JSON text the store made (ours), or an empty object. */
static json_object *
json_of(const char *text, int array)
{
	json_object *o = text != NULL ? json_tokener_parse(text) : NULL;

	if (o == NULL)
		o = array ? json_object_new_array() : json_object_new_object();
	return o;
}

static void
add_page(json_object *obj, int64_t number, int64_t total, size_t n,
    int64_t last_key)
{
	char token[PAGE_TOKEN_MAX];

	json_object_object_add(obj, "PageNumber",
	    json_object_new_int64(number));
	json_object_object_add(obj, "PageSize",
	    json_object_new_int(REG_PAGE_SIZE));
	json_object_object_add(obj, "TotalRecords",
	    json_object_new_int64(total));
	if (n == REG_PAGE_SIZE) {
		core_reg_token(last_key, token, sizeof(token));
		json_object_object_add(obj, "NextPageToken",
		    json_object_new_string(token));
	}
}

static json_object *
rots_array(const struct rot_row *rows, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(rows[i].rot));
	return a;
}

/* Provisioning: the members the spec lets a request set. */
struct prov_in {
	struct json_bool dpr, c2c, c2c_pairing, ztp;
	struct json_int heartbeat;
};

static const struct json_field prov_fields[] = {
	{ "LocalDPR", JF_BOOL, 0, 0, 0, 0, offsetof(struct prov_in, dpr),
	    NULL },
	{ "LocalC2C", JF_BOOL, 0, 0, 0, 0, offsetof(struct prov_in, c2c),
	    NULL },
	{ "LocalC2CKeyPairing", JF_BOOL, 0, 0, 0, 0,
	    offsetof(struct prov_in, c2c_pairing), NULL },
	{ "ZTPV1", JF_BOOL, 0, 0, 0, 0, offsetof(struct prov_in, ztp), NULL },
	{ "SecurityHeartbeatInSec", JF_INT, 0, HEARTBEAT_MIN, HEARTBEAT_MAX, 0,
	    offsetof(struct prov_in, heartbeat), NULL },
};
static const struct json_schema prov_schema =
    JSON_SCHEMA(struct prov_in, prov_fields);

/* The members given, as a JSON object text (malloc'd); "{}" for none. */
static char *
prov_json(const struct prov_in *p)
{
	json_object *o = json_object_new_object();
	char *s;

	if (p != NULL) {
		if (p->dpr.set)
			json_object_object_add(o, "LocalDPR",
			    json_object_new_boolean(p->dpr.v));
		if (p->c2c.set)
			json_object_object_add(o, "LocalC2C",
			    json_object_new_boolean(p->c2c.v));
		if (p->c2c_pairing.set)
			json_object_object_add(o, "LocalC2CKeyPairing",
			    json_object_new_boolean(p->c2c_pairing.v));
		if (p->ztp.set)
			json_object_object_add(o, "ZTPV1",
			    json_object_new_boolean(p->ztp.v));
		if (p->heartbeat.set)
			json_object_object_add(o, "SecurityHeartbeatInSec",
			    json_object_new_int64(p->heartbeat.v));
	}
	s = json_dump(o);
	json_object_put(o);
	return s;
}

/* /deviceprofile/get */

struct profile_get_in {
	struct json_strs tags;
	const char *name;
	struct json_int page;
};

static const struct json_field profile_get_fields[] = {
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct profile_get_in, tags), NULL },
	{ "ProfileName", JF_STRING, 0, 1, PROFILE_NAME_MAX, 0,
	    offsetof(struct profile_get_in, name), NULL },
	{ "PageNumber", JF_INT, 0, 1, PAGE_MAX, 0,
	    offsetof(struct profile_get_in, page), NULL },
};
static const struct json_schema profile_get_schema =
    JSON_SCHEMA(struct profile_get_in, profile_get_fields);
static const struct route_body profile_get_body = { BODY_LIST, json_types, 1,
	&profile_get_schema, 1 };

static int
secsvc_profile_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct profile_get_in *in = req->in;
	struct reg_names tags = names_of(&in->tags);
	struct profile_row *rows = NULL;
	struct reg_page pg;
	json_object *obj, *list, *item;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	/* An empty TagNames is no filter (as if absent). */
	if (in->tags.n > 0 && in->name != NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Give TagNames or ProfileName, not both.");
	if ((rc = core_reg_page(NULL, in->page.v, &pg, st)) != 0 ||
	    (rc = core_profile_list(req->ctx, req->tenant.id, in->name, &tags,
	         &pg, &rows, &n, &total, st)) != 0)
		return rc;
	obj = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		json_object_object_add(item, "DeviceProfileUID",
		    json_object_new_string(rows[i].uid));
		json_object_object_add(item, "ProfileName",
		    json_object_new_string(rows[i].name));
		json_object_object_add(item, "CreatedAt",
		    json_object_new_string(rows[i].created_at));
		json_object_object_add(item, "TagNames",
		    json_of(rows[i].tags_json, 1));
		json_object_array_add(list, item);
	}
	json_object_object_add(obj, "DeviceProfiles", list);
	/* Profiles are few: no token, PageNumber pages them. */
	add_page(obj, pg.number, total, 0, 0);
	profile_rows_free(rows, n);
	resp_json(resp, 200, obj);
	return 0;
}

/* /deviceprofile/bootstrapprovisioning/set|get|delete */

struct bootstrap_in {
	const char *uid;
	const struct prov_in *prov;
};

static const struct json_field bootstrap_set_fields[] = {
	{ "DeviceProfileUID", JF_STRING, 1, 1, PROFILE_UID_MAX, 0,
	    offsetof(struct bootstrap_in, uid), NULL },
	{ "Provisioning", JF_OBJECT, 1, 0, 0, 0,
	    offsetof(struct bootstrap_in, prov), &prov_schema },
};
static const struct json_schema bootstrap_set_schema =
    JSON_SCHEMA(struct bootstrap_in, bootstrap_set_fields);
static const struct route_body bootstrap_set_body = { BODY_JSON, json_types, 1,
	&bootstrap_set_schema, 0 };

static const struct json_field bootstrap_uid_fields[] = {
	{ "DeviceProfileUID", JF_STRING, 1, 1, PROFILE_UID_MAX, 0,
	    offsetof(struct bootstrap_in, uid), NULL },
};
static const struct json_schema bootstrap_uid_schema =
    JSON_SCHEMA(struct bootstrap_in, bootstrap_uid_fields);
static const struct route_body bootstrap_uid_body = { BODY_JSON, json_types, 1,
	&bootstrap_uid_schema, 0 };

static int
bootstrap_answer(struct http_req *req, struct http_resp *resp,
    struct fp_status *st, enum reg_op op)
{
	const struct bootstrap_in *in = req->in;
	char *props = op == REG_SET ? prov_json(in->prov) : NULL;
	char *json = NULL;
	json_object *obj;
	int rc;

	rc = core_profile_bootstrap(req->ctx, req->tenant.id, op, in->uid,
	    props, &json, st);
	free(props);
	if (rc != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "DeviceProfileUID",
	    json_object_new_string(in->uid));
	json_object_object_add(obj, "DesiredProperties", json_of(json, 0));
	free(json);
	resp_json(resp, 200, obj);
	return 0;
}

static int
secsvc_bootstrap_set(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return bootstrap_answer(req, resp, st, REG_SET);
}

static int
secsvc_bootstrap_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return bootstrap_answer(req, resp, st, REG_GET);
}

static int
secsvc_bootstrap_delete(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return bootstrap_answer(req, resp, st, REG_DELETE);
}

/* /device/list/get */

struct device_list_in {
	const char *filter;
	struct json_int page;
	const char *token;
};

static const struct json_field device_list_fields[] = {
	{ "Filter", JF_STRING, 0, 1, 16, 0,
	    offsetof(struct device_list_in, filter), NULL },
	{ "PageNumber", JF_INT, 0, 1, PAGE_MAX, 0,
	    offsetof(struct device_list_in, page), NULL },
	{ "NextPageToken", JF_STRING, 0, 1, PAGE_TOKEN_MAX, 0,
	    offsetof(struct device_list_in, token), NULL },
};
static const struct json_schema device_list_schema =
    JSON_SCHEMA(struct device_list_in, device_list_fields);
static const struct route_body device_list_body = { BODY_JSON, json_types, 1,
	&device_list_schema, 1 };

static int
secsvc_device_list(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct device_list_in *in = req->in;
	enum reg_filter filter;
	struct rot_row *rows = NULL;
	struct reg_page pg;
	json_object *obj;
	int64_t total = 0;
	size_t n = 0;
	int rc;

	if (in->filter == NULL || strcmp(in->filter, "ALL") == 0)
		filter = REG_ALL;
	else if (strcmp(in->filter, "WHITELISTED") == 0)
		filter = REG_WHITELISTED;
	else if (strcmp(in->filter, "BLACKLISTED") == 0)
		filter = REG_BLACKLISTED;
	else
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Filter must be ALL, WHITELISTED or "
		    "BLACKLISTED.");
	if ((rc = core_reg_page(in->token, in->page.v, &pg, st)) != 0 ||
	    (rc = core_device_list(req->ctx, req->tenant.id, filter, &pg, &rows,
	         &n, &total, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "ROTPublicUIDs", rots_array(rows, n));
	add_page(obj, pg.number, total, n, n > 0 ? rows[n - 1].key : 0);
	free(rows);
	resp_json(resp, 200, obj);
	return 0;
}

/* /device/whitelist/add: JSON, or the CSV upload */

struct whitelist_add_in {
	struct json_strs rots;
	struct json_strs imeis;
	const char *action;
};

static const struct json_field whitelist_add_fields[] = {
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, WL_MAX, 64,
	    offsetof(struct whitelist_add_in, rots), NULL },
	{ "IMEIs", JF_STRINGS, 0, 0, WL_MAX, 64,
	    offsetof(struct whitelist_add_in, imeis), NULL },
	{ "Action", JF_STRING, 0, 1, 16, 0,
	    offsetof(struct whitelist_add_in, action), NULL },
};
static const struct json_schema whitelist_add_schema =
    JSON_SCHEMA(struct whitelist_add_in, whitelist_add_fields);
/* No 'json': the handler tells JSON from CSV by Content-Type. */
static const struct route_body whitelist_add_body = { BODY_CSV, json_csv_types,
	0, NULL, 0 };

static int
whitelist_csv(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct csv_report rep;
	json_object *obj, *errs, *e;
	size_t i;
	int rc;

	if ((rc = core_allowlist_csv(req->ctx, req->arena, req->tenant.id,
	         (const char *)req->body, req->body_len, &rep, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "Message",
	    json_object_new_string(rep.rejected == 0 ? "Success"
	            : rep.accepted == 0 ? "Bad Request. No row was valid."
	                                : "Partial success: rows with "
	                                  "errors were left out."));
	json_object_object_add(obj, "Rows", json_object_new_int64(rep.rows));
	json_object_object_add(obj, "Accepted",
	    json_object_new_int64(rep.accepted));
	json_object_object_add(obj, "Rejected",
	    json_object_new_int64(rep.rejected));
	json_object_object_add(obj, "Added", json_object_new_int64(rep.added));
	json_object_object_add(obj, "Deleted",
	    json_object_new_int64(rep.deleted));
	errs = json_object_new_array();
	for (i = 0; i < rep.nerrors; i++) {
		e = json_object_new_object();
		json_object_object_add(e, "Row",
		    json_object_new_int64(rep.errors[i].line));
		json_object_object_add(e, "Id",
		    json_object_new_string(rep.errors[i].value));
		json_object_object_add(e, "Reason",
		    json_object_new_string(rep.errors[i].reason));
		json_object_array_add(errs, e);
	}
	json_object_object_add(obj, "Errors", errs);
	/* Nothing applied: the report is a 400 (still the whole report). */
	resp_json(resp, rep.accepted == 0 ? 400 : 200, obj);
	return 0;
}

static int
secsvc_whitelist_add(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct whitelist_add_in *in;
	struct reg_names rots, imeis = { NULL, 0 }, given;
	json_object *json = NULL, *obj;
	int64_t changed = 0;
	bool add = true;
	int rc;

	if (req->content_type != NULL &&
	    in_media_type_is(req->content_type, "application/octet-stream"))
		return whitelist_csv(req, resp, st);
	in = arena_alloc(req->arena, sizeof(*in));
	memset(in, 0, sizeof(*in));
	if ((rc = json_parse_strict((const char *)req->body, req->body_len,
	         &json, st)) != 0 ||
	    (rc = json_decode(json, &whitelist_add_schema, req->arena, in,
	         st)) != 0)
		goto out;
	if (in->action != NULL && strcmp(in->action, "DELETE") == 0)
		add = false;
	else if (in->action != NULL && strcmp(in->action, "ADD") != 0) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Action must be ADD or DELETE.");
		goto out;
	}
	if (in->rots.n == 0 && in->imeis.n == 0) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUIDs or IMEIs is required.");
		goto out;
	}
	given = names_of(&in->rots);
	imeis = names_of(&in->imeis);
	if ((rc = core_rots_check(req->arena, &given, &rots, st)) != 0 ||
	    (rc = core_imeis_check(&imeis, st)) != 0 ||
	    (rc = core_allowlist_change(req->ctx, req->tenant.id, add, &rots,
	         &imeis, &changed, st)) != 0)
		goto out;
	obj = json_object_new_object();
	json_object_object_add(obj, "Message",
	    json_object_new_string("Success"));
	json_object_object_add(obj, add ? "Added" : "Deleted",
	    json_object_new_int64(changed));
	resp_json(resp, 200, obj);
out:
	json_object_put(json);
	return rc;
}

/* /device/whitelist/get */

struct page_in {
	struct json_int page;
	const char *token;
};

static const struct json_field page_fields[] = {
	{ "PageNumber", JF_INT, 0, 1, PAGE_MAX, 0,
	    offsetof(struct page_in, page), NULL },
	{ "NextPageToken", JF_STRING, 0, 1, PAGE_TOKEN_MAX, 0,
	    offsetof(struct page_in, token), NULL },
};
static const struct json_schema page_schema =
    JSON_SCHEMA(struct page_in, page_fields);
static const struct route_body whitelist_get_body = { BODY_JSON, json_types, 1,
	&page_schema, 1 };

static int
secsvc_whitelist_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct page_in *in = req->in;
	struct allow_row *rows = NULL;
	struct reg_page pg;
	json_object *obj, *list, *item;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_reg_page(in->token, in->page.v, &pg, st)) != 0 ||
	    (rc = core_allowlist_page(req->ctx, req->tenant.id, &pg, &rows, &n,
	         &total, st)) != 0)
		return rc;
	obj = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		json_object_object_add(item, "Id",
		    json_object_new_string(rows[i].value));
		json_object_object_add(item, "Type",
		    json_object_new_string(rows[i].kind));
		json_object_object_add(item, "AddedAt",
		    json_object_new_string(rows[i].added_at));
		json_object_array_add(list, item);
	}
	json_object_object_add(obj, "DeviceWhitelist", list);
	add_page(obj, pg.number, total, n, n > 0 ? rows[n - 1].seq : 0);
	free(rows);
	resp_json(resp, 200, obj);
	return 0;
}

/* /device/provisioning/set|get|delete */

struct provisioning_in {
	struct json_strs rots;
	struct json_strs tags;
	const struct prov_in *prov;
};

static const struct json_field provisioning_set_fields[] = {
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, ROTS_MAX, 64,
	    offsetof(struct provisioning_in, rots), NULL },
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct provisioning_in, tags), NULL },
	{ "Provisioning", JF_OBJECT, 1, 0, 0, 0,
	    offsetof(struct provisioning_in, prov), &prov_schema },
};
static const struct json_schema provisioning_set_schema =
    JSON_SCHEMA(struct provisioning_in, provisioning_set_fields);
static const struct route_body provisioning_set_body = { BODY_LIST, json_types,
	1, &provisioning_set_schema, 0 };

static const struct json_field provisioning_names_fields[] = {
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, ROTS_MAX, 64,
	    offsetof(struct provisioning_in, rots), NULL },
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct provisioning_in, tags), NULL },
};
static const struct json_schema provisioning_names_schema =
    JSON_SCHEMA(struct provisioning_in, provisioning_names_fields);
static const struct route_body provisioning_names_body = { BODY_LIST,
	json_types, 1, &provisioning_names_schema, 0 };

/* ROTPublicUIDs (checked, upper-cased) and/or TagNames: one at least. */
static int
provisioning_names(struct http_req *req, struct reg_names *rots,
    struct reg_names *tags, struct fp_status *st)
{
	const struct provisioning_in *in = req->in;
	struct reg_names given = names_of(&in->rots);

	*tags = names_of(&in->tags);
	if (in->rots.n == 0 && in->tags.n == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUIDs or TagNames is required.");
	return core_rots_check(req->arena, &given, rots, st);
}

static int
secsvc_provisioning_set(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct provisioning_in *in = req->in;
	struct reg_names rots, tags;
	json_object *obj;
	char *props;
	int64_t n = 0;
	int rc;

	if ((rc = provisioning_names(req, &rots, &tags, st)) != 0)
		return rc;
	props = prov_json(in->prov);
	rc = core_desired_set(req->ctx, req->tenant.id, &rots, &tags, props, &n,
	    st);
	free(props);
	if (rc != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "Message",
	    json_object_new_string("Success"));
	/* fleetpki's: how many bootstrapped devices will be provisioned. */
	json_object_object_add(obj, "Devices", json_object_new_int64(n));
	resp_json(resp, 200, obj);
	return 0;
}

static int
secsvc_provisioning_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct reg_names rots, tags;
	struct desired_row *rows = NULL;
	json_object *list, *item;
	size_t i, n = 0;
	int rc;

	if ((rc = provisioning_names(req, &rots, &tags, st)) != 0 ||
	    (rc = core_desired_get(req->ctx, req->tenant.id, &rots, &tags,
	         &rows, &n, st)) != 0)
		return rc;
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		json_object_object_add(item, "ROTPublicUID",
		    json_object_new_string(rows[i].rot));
		json_object_object_add(item, "DesiredProperties",
		    json_of(rows[i].props_json, 0));
		json_object_array_add(list, item);
	}
	desired_rows_free(rows, n);
	resp_json(resp, 200, list);
	return 0;
}

static int
secsvc_provisioning_delete(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct reg_names rots, tags;
	json_object *obj;
	int64_t n = 0;
	int rc;

	if ((rc = provisioning_names(req, &rots, &tags, st)) != 0 ||
	    (rc = core_desired_delete(req->ctx, req->tenant.id, &rots, &tags,
	         &n, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "message",
	    json_object_new_string("Success"));
	json_object_object_add(obj, "Devices", json_object_new_int64(n));
	resp_json(resp, 200, obj);
	return 0;
}

/* /device/info/get */

struct device_info_in {
	struct json_strs rots;
	struct json_strs tags;
	struct json_strs serials;
	struct json_strs options;
};

static const struct json_field device_info_fields[] = {
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, ROTS_MAX, 64,
	    offsetof(struct device_info_in, rots), NULL },
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct device_info_in, tags), NULL },
	{ "DeviceSerialNumbers", JF_STRINGS, 0, 1, ROTS_MAX, SERIAL_LEN,
	    offsetof(struct device_info_in, serials), NULL },
	{ "Options", JF_STRINGS, 0, 1, 3, 16,
	    offsetof(struct device_info_in, options), NULL },
};
static const struct json_schema device_info_schema =
    JSON_SCHEMA(struct device_info_in, device_info_fields);
static const struct route_body device_info_body = { BODY_LIST, json_types, 1,
	&device_info_schema, 0 };

#define OPT_CORE 1
#define OPT_PROVISIONING 2
#define OPT_ZTP 4

static json_object *
str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_object_new_string(s) : NULL;
}

/* Option ZTP: the device's certificate ({} when it has no ZTP). */
static json_object *
ztp_json(const struct ztp_dev_rec *zs, size_t n, const char *rot)
{
	json_object *o = json_object_new_object();
	char ts[32];
	size_t i;

	for (i = 0; i < n && strcmp(zs[i].rot, rot) != 0; i++)
		;
	if (i == n)
		return o;
	json_object_object_add(o, "CertificateAuthorityName",
	    json_object_new_string(
	        zs[i].cert_root != NULL ? zs[i].cert_root : zs[i].root_name));
	if (zs[i].cert_serial != NULL) {
		json_object_object_add(o, "CertificateSerialNumber",
		    json_object_new_string(zs[i].cert_serial));
		core_iso8601_format(zs[i].cert_not_after, ts, sizeof(ts));
		json_object_object_add(o, "ExpirationDate",
		    json_object_new_string(ts));
	}
	json_object_object_add(o, "State",
	    json_object_new_string(ztp_state_name(&zs[i])));
	if (strcmp(zs[i].state, "DONE") != 0 &&
	    strcmp(zs[i].state, "GONE") != 0)
		json_object_object_add(o, "PendingOperation",
		    json_object_new_string(zs[i].op));
	return o;
}

static int
secsvc_device_info(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct device_info_in *in = req->in;
	struct reg_names given = names_of(&in->rots), rots;
	struct reg_names tags = names_of(&in->tags);
	struct reg_names serials = names_of(&in->serials);
	struct device_info_row *rows = NULL, *r;
	struct ztp_dev_rec *zs = NULL;
	json_object *obj, *list, *item;
	size_t i, n = 0, nz = 0;
	int rc, opts = 0;

	for (i = 0; i < in->options.n; i++) {
		if (strcmp(in->options.v[i], "CORE") == 0)
			opts |= OPT_CORE;
		else if (strcmp(in->options.v[i], "PROVISIONING") == 0)
			opts |= OPT_PROVISIONING;
		else if (strcmp(in->options.v[i], "ZTP") == 0)
			opts |= OPT_ZTP;
		else
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Options are CORE, PROVISIONING and "
			    "ZTP.");
	}
	if (opts == 0)
		opts = OPT_CORE;
	if (given.n == 0 && tags.n == 0 && serials.n == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUIDs, TagNames or "
		    "DeviceSerialNumbers is required.");
	if ((rc = core_rots_check(req->arena, &given, &rots, st)) != 0 ||
	    (rc = core_device_info(req->ctx, req->tenant.id, &rots, &tags,
	         &serials, &rows, &n, st)) != 0)
		return rc;
	if ((opts & OPT_ZTP) && n > 0) {
		/* The devices' certificates, in one statement. */
		const char **rl = arena_alloc(req->arena, n * sizeof(*rl));

		for (i = 0; i < n; i++)
			rl[i] = rows[i].rot;
		if ((rc = core_ztp_info(req->ctx, &req->tenant, rl, n, &zs,
		         &nz)) != 0) {
			device_info_rows_free(rows, n);
			return rc;
		}
	}
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		r = &rows[i];
		item = json_object_new_object();
		json_object_object_add(item, "ROTPublicUID",
		    json_object_new_string(r->rot));
		if (opts & OPT_CORE) {
			json_object_object_add(item, "DeviceSerialNumber",
			    json_object_new_string(r->serial));
			json_object_object_add(item, "IMEI",
			    str_or_null(r->imei));
			json_object_object_add(item, "DeviceProfileUID",
			    json_object_new_string(r->profile_uid[0] != '\0'
			            ? r->profile_uid
			            : REG_UNATTRIBUTED));
			json_object_object_add(item, "State",
			    json_object_new_string(r->state));
			json_object_object_add(item, "Blocked",
			    json_object_new_boolean(r->blocked));
			json_object_object_add(item, "SealedAt",
			    str_or_null(r->sealed_at));
			json_object_object_add(item, "BootstrappedAt",
			    str_or_null(r->bootstrapped_at));
			json_object_object_add(item, "LastSeen",
			    str_or_null(r->last_seen));
			json_object_object_add(item, "FirmwareVersion",
			    str_or_null(r->firmware));
		}
		if (opts & OPT_PROVISIONING) {
			json_object_object_add(item, "DesiredProperties",
			    json_of(r->desired_json, 0));
			json_object_object_add(item, "CurrentProperties",
			    json_of(r->current_json, 0));
		}
		if (opts & OPT_ZTP)
			json_object_object_add(item, "ZTP",
			    ztp_json(zs, nz, r->rot));
		json_object_array_add(list, item);
	}
	store_rec_array_free(zs, nz, sizeof(*zs),
	    (void (*)(void *))ztp_dev_rec_clear);
	device_info_rows_free(rows, n);
	obj = json_object_new_object();
	json_object_object_add(obj, "DeviceInfo", list);
	resp_json(resp, 200, obj);
	return 0;
}

/* /device/rotpublicuid/get */

struct rotpublicuid_in {
	const char *profile;
	struct json_strs tags;
	struct json_int page;
	const char *token;
};

static const struct json_field rotpublicuid_fields[] = {
	{ "DeviceProfileUID", JF_STRING, 0, 1, PROFILE_UID_MAX, 0,
	    offsetof(struct rotpublicuid_in, profile), NULL },
	{ "TagNames", JF_STRINGS, 0, 1, TAGS_MAX, TAG_LEN,
	    offsetof(struct rotpublicuid_in, tags), NULL },
	{ "PageNumber", JF_INT, 0, 1, PAGE_MAX, 0,
	    offsetof(struct rotpublicuid_in, page), NULL },
	{ "NextPageToken", JF_STRING, 0, 1, PAGE_TOKEN_MAX, 0,
	    offsetof(struct rotpublicuid_in, token), NULL },
};
static const struct json_schema rotpublicuid_schema =
    JSON_SCHEMA(struct rotpublicuid_in, rotpublicuid_fields);
static const struct route_body rotpublicuid_body = { BODY_LIST, json_types, 1,
	&rotpublicuid_schema, 0 };

static int
secsvc_rotpublicuid_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct rotpublicuid_in *in = req->in;
	struct reg_names tags = names_of(&in->tags);
	struct rot_row *rows = NULL;
	struct reg_page pg;
	json_object *obj;
	int64_t total = 0;
	size_t n = 0;
	int rc;

	if (in->profile != NULL && in->tags.n > 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Give DeviceProfileUID or TagNames, not "
		    "both.");
	if (in->profile == NULL && in->tags.n == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. DeviceProfileUID or TagNames is required.");
	if ((rc = core_reg_page(in->token, in->page.v, &pg, st)) != 0 ||
	    (rc = core_device_rots(req->ctx, req->tenant.id, in->profile, &tags,
	         &pg, &rows, &n, &total, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "ROTPublicUIDs", rots_array(rows, n));
	add_page(obj, pg.number, total, n, n > 0 ? rows[n - 1].key : 0);
	free(rows);
	resp_json(resp, 200, obj);
	return 0;
}

static const struct route routes[] = {
	{ "POST", "/authenticate", secsvc_authenticate, AUTH_NONE,
	    &authenticate_body, NULL, sizeof(struct authenticate_in) },
	{ "POST", "/refreshauthtoken", secsvc_refresh, AUTH_NONE, &refresh_body,
	    NULL, sizeof(struct refresh_in) },
	{ "POST", "/apiversion", secsvc_apiversion, AUTH_AUTHTOKEN, &empty_body,
	    NULL, sizeof(struct empty_in) },
	{ "POST", "/deviceprofile/get", secsvc_profile_get, AUTH_AUTHTOKEN,
	    &profile_get_body, NULL, sizeof(struct profile_get_in) },
	{ "POST", "/deviceprofile/bootstrapprovisioning/set",
	    secsvc_bootstrap_set, AUTH_AUTHTOKEN, &bootstrap_set_body, NULL,
	    sizeof(struct bootstrap_in) },
	{ "POST", "/deviceprofile/bootstrapprovisioning/get",
	    secsvc_bootstrap_get, AUTH_AUTHTOKEN, &bootstrap_uid_body, NULL,
	    sizeof(struct bootstrap_in) },
	{ "POST", "/deviceprofile/bootstrapprovisioning/delete",
	    secsvc_bootstrap_delete, AUTH_AUTHTOKEN, &bootstrap_uid_body, NULL,
	    sizeof(struct bootstrap_in) },
	{ "POST", "/device/list/get", secsvc_device_list, AUTH_AUTHTOKEN,
	    &device_list_body, NULL, sizeof(struct device_list_in) },
	{ "POST", "/device/whitelist/get", secsvc_whitelist_get, AUTH_AUTHTOKEN,
	    &whitelist_get_body, NULL, sizeof(struct page_in) },
	{ "POST", "/device/provisioning/get", secsvc_provisioning_get,
	    AUTH_AUTHTOKEN, &provisioning_names_body, NULL,
	    sizeof(struct provisioning_in) },
	{ "POST", "/device/provisioning/delete", secsvc_provisioning_delete,
	    AUTH_AUTHTOKEN, &provisioning_names_body, NULL,
	    sizeof(struct provisioning_in) },
	{ "POST", "/device/info/get", secsvc_device_info, AUTH_AUTHTOKEN,
	    &device_info_body, NULL, sizeof(struct device_info_in) },
	{ "POST", "/device/rotpublicuid/get", secsvc_rotpublicuid_get,
	    AUTH_AUTHTOKEN, &rotpublicuid_body, NULL,
	    sizeof(struct rotpublicuid_in) },
};

const struct route_group secsvc_routes = ROUTE_GROUP("secsvc", routes, NULL);

/*
 * The spec spells the error member "Message" on some routes
 * (/device/whitelist/add, /device/provisioning/set) and "message" on
 * the others: those routes are a group of their own with this shape.
 */
static void
secsvc_error_m(struct http_resp *resp, int code, const struct fp_status *st)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "Message",
	    json_object_new_string(fp_status_message(st, code)));
	resp_json(resp, fp_err_http(code), obj);
}

static const struct route m_routes[] = {
	/* JSON or CSV: the handler decodes the JSON itself. */
	{ "POST", "/device/whitelist/add", secsvc_whitelist_add, AUTH_AUTHTOKEN,
	    &whitelist_add_body, NULL, 0 },
	{ "POST", "/device/provisioning/set", secsvc_provisioning_set,
	    AUTH_AUTHTOKEN, &provisioning_set_body, NULL,
	    sizeof(struct provisioning_in) },
};

const struct route_group secsvc_m_routes =
    ROUTE_GROUP("secsvc-m", m_routes, secsvc_error_m);
