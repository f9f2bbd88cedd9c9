/*
 * secsvc_reports: the security-services dialect's history reports
 * ("Information APIs" of security-services.txt), read-only, every one a
 * POST with a JSON body and an AuthToken; errors are {"message": ...}.
 *
 *   POST /notification/get      {FromDate, ToDate, ROTPublicUIDs |
 *                                TagNames, NotificationType, PageNumber}
 *       -> {PageNumber, PageSize, TotalRecords, Notifications}
 *   POST /device/activity/get   {FromDate, ToDate, ROTPublicUID, PageNumber}
 *       -> {PageNumber, PageSize, TotalRecords, LastSeen, Activities}
 *   POST /device/usage/get      {FromDate, ToDate, ROTPublicUIDs | TagNames}
 *       -> {"<ROT>": {"<event>": count, ...}, ...}
 *   POST /device/clone/get      {FromDate, ToDate, ROTPublicUIDs |
 *                                TagNames | DeviceProfileUID, PageNumber}
 *       -> {PageNumber, PageSize, TotalRecords, ClonedEvents}
 *   POST /device/suspicious/get {ROTPublicUIDs | TagNames |
 *                                DeviceProfileUID, PageNumber}
 *       -> {PageNumber, PageSize, TotalRecords, SuspiciousDevices}
 *
 * Paged answers carry a NextPageToken (an extension) while rows remain;
 * sent back instead of (or with) the next PageNumber, the page starts
 * at its key instead of an offset.  /device/usage/get answers at most
 * USAGE_MAX_DEVICES devices, its token in the X-Next-Page-Token header
 * (the body is the spec's: keyed by ROTPublicUID only).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"

/* REPORT_MAX_ROTS ROTs as JSON strings, with room. */
#define BODY_REPORT (512 * 1024)
#define DATE_MAX 64
#define TOKEN_MAX 80

static const char *const json_types[] = { "application/json", NULL };

/* Every report's members; each route's table lists those it takes. */
struct report_in {
	const char *from;
	const char *to;
	struct json_strs rots;
	struct json_strs tags;
	const char *profile;
	const char *rot;
	const char *type;
	struct json_int page;
	const char *token;
};

#define F_FROM                                                                 \
	{                                                                      \
		"FromDate", JF_STRING, 1, 0, DATE_MAX, 0,                      \
		    offsetof(struct report_in, from), NULL                     \
	}
#define F_TO                                                                   \
	{                                                                      \
		"ToDate", JF_STRING, 0, 0, DATE_MAX, 0,                        \
		    offsetof(struct report_in, to), NULL                       \
	}
#define F_ROTS                                                                 \
	{                                                                      \
		"ROTPublicUIDs", JF_STRINGS, 0, 0, REPORT_MAX_ROTS,            \
		    TAG_ROT_LEN, offsetof(struct report_in, rots), NULL        \
	}
#define F_TAGS                                                                 \
	{                                                                      \
		"TagNames", JF_STRINGS, 0, 0, TAGS_MAX_TAGNAMES,               \
		    TAG_NAME_BYTES, offsetof(struct report_in, tags), NULL     \
	}
#define F_PROFILE                                                              \
	{                                                                      \
		"DeviceProfileUID", JF_STRING, 0, 0, 64, 0,                    \
		    offsetof(struct report_in, profile), NULL                  \
	}
#define F_PAGE                                                                 \
	{                                                                      \
		"PageNumber", JF_INT, 0, 1, REPORT_MAX_PAGE, 0,                \
		    offsetof(struct report_in, page), NULL                     \
	}
#define F_TOKEN                                                                \
	{                                                                      \
		"NextPageToken", JF_STRING, 0, 1, TOKEN_MAX, 0,                \
		    offsetof(struct report_in, token), NULL                    \
	}

static const struct json_field notify_fields[] = { F_FROM, F_TO, F_ROTS, F_TAGS,
	{ "NotificationType", JF_STRING, 0, 0, 64, 0,
	    offsetof(struct report_in, type), NULL },
	F_PAGE, F_TOKEN };
static const struct json_schema notify_schema =
    JSON_SCHEMA(struct report_in, notify_fields);
static const struct route_body notify_body = { BODY_REPORT, json_types, 1,
	&notify_schema, 0 };

static const struct json_field activity_fields[] = { F_FROM, F_TO,
	{ "ROTPublicUID", JF_STRING, 1, 0, 64, 0,
	    offsetof(struct report_in, rot), NULL },
	F_PAGE, F_TOKEN };
static const struct json_schema activity_schema =
    JSON_SCHEMA(struct report_in, activity_fields);
static const struct route_body activity_body = { BODY_REPORT, json_types, 1,
	&activity_schema, 0 };

static const struct json_field usage_fields[] = { F_FROM, F_TO, F_ROTS, F_TAGS,
	F_TOKEN };
static const struct json_schema usage_schema =
    JSON_SCHEMA(struct report_in, usage_fields);
static const struct route_body usage_body = { BODY_REPORT, json_types, 1,
	&usage_schema, 0 };

static const struct json_field clone_fields[] = { F_FROM, F_TO, F_ROTS, F_TAGS,
	F_PROFILE, F_PAGE, F_TOKEN };
static const struct json_schema clone_schema =
    JSON_SCHEMA(struct report_in, clone_fields);
static const struct route_body clone_body = { BODY_REPORT, json_types, 1,
	&clone_schema, 0 };

static const struct json_field suspicious_fields[] = { F_ROTS, F_TAGS,
	F_PROFILE, F_PAGE, F_TOKEN };
static const struct json_schema suspicious_schema =
    JSON_SCHEMA(struct report_in, suspicious_fields);
static const struct route_body suspicious_body = { BODY_REPORT, json_types, 1,
	&suspicious_schema, 0 };

static int
report_filter(struct http_req *req, unsigned allowed, int required,
    struct device_filter *f, struct fp_status *st)
{
	const struct report_in *in = req->in;
	struct report_devices rd;

	rd.rots = in->rots.v;
	rd.nrots = in->rots.n;
	rd.tags = in->tags.v;
	rd.ntags = in->tags.n;
	rd.profile = in->profile;
	return core_report_filter(req->arena, &rd, allowed, required, f, st);
}

static int
report_page(struct http_req *req, int64_t lo1, int64_t lo2,
    struct page_pos *pos, struct fp_status *st)
{
	const struct report_in *in = req->in;

	return core_page_pos(in->page.set ? in->page.v : 0, in->token, lo1, lo2,
	    pos, st);
}

/* {PageNumber, PageSize, TotalRecords} and the list under 'key'. */
static json_object *
page_answer(const struct page_pos *pos, int64_t total, const char *key,
    json_object *list)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "PageNumber",
	    json_object_new_int64(pos->page));
	json_object_object_add(obj, "PageSize",
	    json_object_new_int(TAGS_PAGE_SIZE));
	json_object_object_add(obj, "TotalRecords",
	    json_object_new_int64(total));
	json_object_object_add(obj, key, list);
	return obj;
}

/* The NextPageToken while rows remain after this page. */
static void
page_token(struct http_req *req, json_object *obj, const struct page_pos *pos,
    size_t n, int64_t total, int64_t k1, int64_t k2)
{
	if (n == TAGS_PAGE_SIZE &&
	    (pos->page - 1) * TAGS_PAGE_SIZE + (int64_t)n < total)
		json_object_object_add(obj, "NextPageToken",
		    json_object_new_string(
		        core_page_token(req->arena, pos, k1, k2)));
}

static void
add_time(json_object *obj, const char *key, int64_t secs)
{
	char ts[32];

	core_iso8601_format(secs, ts, sizeof(ts));
	json_object_object_add(obj, key, json_object_new_string(ts));
}

/* The members of the JSON object text 'text' (the store's) into 'obj'. */
static void
add_members(json_object *obj, const char *text)
{
	json_object *src;

	if (text == NULL || (src = json_tokener_parse(text)) == NULL)
		return;
	if (json_object_is_type(src, json_type_object)) {
		json_object_object_foreach(src, k, v)
		{
			json_object_object_add(obj, k, json_object_get(v));
		}
	}
	json_object_put(src);
}

static int
notification_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct report_in *in = req->in;
	struct device_filter f;
	struct time_range r;
	struct page_pos pos;
	struct event_rec *ev = NULL;
	json_object *list, *item, *obj;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_report_range(in->from, in->to, NOTIFY_MAX_DAYS,
	         core_now_us(), &r, st)) != 0 ||
	    (rc = report_filter(req, SEL_ROTS | SEL_TAGS, 1, &f, st)) != 0 ||
	    (rc = core_notification_type_check(in->type, st)) != 0 ||
	    (rc = report_page(req, r.from_us - 1, INT64_MAX, &pos, st)) != 0)
		return rc;
	if ((rc = store_event_page(req->ctx->db, req->tenant.id, &f, &r,
	         in->type, &pos, &ev, &n, &total)) != 0)
		return rc;
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		add_members(item, ev[i].payload);
		json_object_object_add(item, "ROTPublicUID",
		    json_object_new_string(ev[i].rot));
		json_object_object_add(item, "Type",
		    json_object_new_string(ev[i].type));
		add_time(item, "Timestamp", ev[i].at_us / 1000000);
		json_object_array_add(list, item);
	}
	obj = page_answer(&pos, total, "Notifications", list);
	if (n > 0)
		page_token(req, obj, &pos, n, total, ev[n - 1].at_us,
		    ev[n - 1].id);
	store_rec_array_free(ev, n, sizeof(*ev),
	    (void (*)(void *))event_rec_clear);
	resp_json(resp, 200, obj);
	return 0;
}

static int
activity_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct report_in *in = req->in;
	struct device_seen dev;
	struct time_range r;
	struct page_pos pos;
	struct activity_rec *act = NULL;
	json_object *list, *item, *obj;
	const char **rot;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_report_range(in->from, in->to, 0, core_now_us(), &r,
	         st)) != 0 ||
	    (rc = core_rots_upper(req->arena, "ROTPublicUID", &in->rot, 1, &rot,
	         st)) != 0 ||
	    (rc = report_page(req, r.from_us - 1, INT64_MAX, &pos, st)) != 0)
		return rc;
	rc = store_device_seen(req->ctx->db, req->tenant.id, rot[0], &dev);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid ROTPublicUID");
	if (rc != 0)
		return rc;
	if ((rc = store_activity_page(req->ctx->db, req->tenant.id, dev.id, &r,
	         &pos, &act, &n, &total)) != 0)
		return rc;
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		add_members(item, act[i].detail);
		json_object_object_add(item, "Id",
		    json_object_new_string(act[i].command_id));
		json_object_object_add(item, "Command",
		    json_object_new_string(act[i].command));
		json_object_object_add(item, "Status",
		    json_object_new_string(act[i].status));
		add_time(item, "Timestamp", act[i].at_us / 1000000);
		json_object_array_add(list, item);
	}
	obj = page_answer(&pos, total, "Activities", list);
	if (dev.last_seen > 0)
		add_time(obj, "LastSeen", dev.last_seen);
	else
		json_object_object_add(obj, "LastSeen", NULL);
	if (n > 0)
		page_token(req, obj, &pos, n, total, act[n - 1].at_us,
		    act[n - 1].id);
	store_rec_array_free(act, n, sizeof(*act),
	    (void (*)(void *))activity_rec_clear);
	resp_json(resp, 200, obj);
	return 0;
}

static int
usage_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct report_in *in = req->in;
	struct device_filter f;
	struct page_pos pos;
	struct usage_rec *u = NULL;
	json_object *obj, *dev = NULL;
	int64_t from_day, to_day, last = 0;
	size_t i, n = 0, ndev = 0;
	int rc;

	if ((rc = core_report_days(in->from, in->to, USAGE_MAX_DAYS,
	         core_now_us(), &from_day, &to_day, st)) != 0 ||
	    (rc = report_filter(req, SEL_ROTS | SEL_TAGS, 0, &f, st)) != 0 ||
	    (rc = core_page_pos(0, in->token, 0, 0, &pos, st)) != 0)
		return rc;
	if ((rc = store_usage_sum(req->ctx->db, req->tenant.id, &f, from_day,
	         to_day, pos.k1, USAGE_MAX_DEVICES, &u, &n)) != 0)
		return rc;
	obj = json_object_new_object();
	for (i = 0; i < n; i++) {
		if (dev == NULL || u[i].device_id != last) {
			dev = json_object_new_object();
			json_object_object_add(obj, u[i].rot, dev);
			last = u[i].device_id;
			ndev++;
		}
		json_object_object_add(dev, u[i].event,
		    json_object_new_int64(u[i].count));
	}
	if (ndev == USAGE_MAX_DEVICES)
		resp_header(resp, "X-Next-Page-Token", "%s",
		    core_page_token(req->arena, &pos, last, 0));
	store_rec_array_free(u, n, sizeof(*u), NULL);
	resp_json(resp, 200, obj);
	return 0;
}

static int
clone_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct report_in *in = req->in;
	struct device_filter f;
	struct time_range r;
	struct page_pos pos;
	struct clone_rec *c = NULL;
	json_object *list, *item, *obj;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_report_range(in->from, in->to, 0, core_now_us(), &r,
	         st)) != 0 ||
	    (rc = report_filter(req, SEL_ROTS | SEL_TAGS | SEL_PROFILE, 1, &f,
	         st)) != 0 ||
	    (rc = report_page(req, r.from_us - 1, INT64_MAX, &pos, st)) != 0)
		return rc;
	if ((rc = store_clone_page(req->ctx->db, req->tenant.id, &f, &r, &pos,
	         &c, &n, &total)) != 0)
		return rc;
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		json_object_object_add(item, "ROTPublicUID",
		    json_object_new_string(c[i].rot));
		json_object_object_add(item, "Reason",
		    json_object_new_string(c[i].reason));
		json_object_object_add(item, "Counter",
		    json_object_new_int64(c[i].counter));
		json_object_object_add(item, "LastCounter",
		    json_object_new_int64(c[i].last_counter));
		if (c[i].peer != NULL)
			json_object_object_add(item, "Peer",
			    json_object_new_string(c[i].peer));
		add_time(item, "Timestamp", c[i].at_us / 1000000);
		json_object_array_add(list, item);
	}
	obj = page_answer(&pos, total, "ClonedEvents", list);
	if (n > 0)
		page_token(req, obj, &pos, n, total, c[n - 1].at_us,
		    c[n - 1].id);
	store_rec_array_free(c, n, sizeof(*c),
	    (void (*)(void *))clone_rec_clear);
	resp_json(resp, 200, obj);
	return 0;
}

static int
suspicious_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct device_filter f;
	struct page_pos pos;
	struct suspicious_rec *s = NULL;
	json_object *list, *item, *obj;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = report_filter(req, SEL_ROTS | SEL_TAGS | SEL_PROFILE, 1, &f,
	         st)) != 0 ||
	    (rc = report_page(req, 0, 0, &pos, st)) != 0)
		return rc;
	if ((rc = store_suspicious_page(req->ctx->db, req->tenant.id, &f, &pos,
	         &s, &n, &total)) != 0)
		return rc;
	list = json_object_new_array();
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		json_object_object_add(item, "ROTPublicUID",
		    json_object_new_string(s[i].rot));
		json_object_object_add(item, "Reason",
		    json_object_new_string(
		        core_suspicious_reason(s[i].reason)));
		json_object_object_add(item, "DeviceSerialNumber",
		    json_object_new_string(s[i].serial));
		if (s[i].scl_serial != NULL)
			json_object_object_add(item, "SCLSerialNumber",
			    json_object_new_string(s[i].scl_serial));
		if (s[i].value != NULL)
			json_object_object_add(item, "DuplicatedValue",
			    json_object_new_string(s[i].value));
		json_object_object_add(item, "DuplicatedCount",
		    json_object_new_int64(s[i].others));
		json_object_array_add(list, item);
	}
	obj = page_answer(&pos, total, "SuspiciousDevices", list);
	if (n > 0)
		page_token(req, obj, &pos, n, total, s[n - 1].device_id,
		    s[n - 1].reason);
	store_rec_array_free(s, n, sizeof(*s),
	    (void (*)(void *))suspicious_rec_clear);
	resp_json(resp, 200, obj);
	return 0;
}

static const struct route routes[] = {
	{ "POST", "/notification/get", notification_get, AUTH_AUTHTOKEN,
	    &notify_body, NULL, sizeof(struct report_in) },
	{ "POST", "/device/activity/get", activity_get, AUTH_AUTHTOKEN,
	    &activity_body, NULL, sizeof(struct report_in) },
	{ "POST", "/device/usage/get", usage_get, AUTH_AUTHTOKEN, &usage_body,
	    NULL, sizeof(struct report_in) },
	{ "POST", "/device/clone/get", clone_get, AUTH_AUTHTOKEN, &clone_body,
	    NULL, sizeof(struct report_in) },
	{ "POST", "/device/suspicious/get", suspicious_get, AUTH_AUTHTOKEN,
	    &suspicious_body, NULL, sizeof(struct report_in) },
};

const struct route_group secsvc_report_routes =
    ROUTE_GROUP("secsvc-reports", routes, NULL);
