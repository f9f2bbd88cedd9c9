/*
 * secsvc_tags: tags of the security-services dialect ("Tag APIs" of
 * security-services.txt).  Every route is a POST with a JSON body and
 * an AuthToken; errors are {"message": ...}.
 *
 *   POST /tag/create  {TagName}                     -> {TagName, CreatedAt}
 *   POST /tag/delete  {TagName}                     -> {message}
 *   POST /tag/get     {PageNumber, NextPageToken}   -> {Tags, PageNumber,
 *                                                       PageSize, TotalRecords}
 *   POST /tag/assign  {TagNames, ROTPublicUIDs | DeviceProfileUIDs,
 *                      SyncRequired}                -> {message, Assigned}
 *   POST /tag/remove  {TagNames, ROTPublicUIDs | DeviceProfileUIDs,
 *                      SyncRequired}                -> {message, Removed}
 *
 * A duplicate TagName and the deletion of an assigned tag are 400, as
 * the spec answers every refused request ("Bad Request. ...",
 * "Request aborted. ..."); its messages are kept word for word.
 * SyncRequired is accepted and has no effect: an assignment is in
 * effect when the answer is sent.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"

#define BODY_SMALL (16 * 1024)
/* 100,000 ROTs as JSON strings, with room (nginx has its own limit). */
#define BODY_LIST (4 * 1024 * 1024)
#define TOKEN_MAX 80

static const char *const json_types[] = { "application/json", NULL };

struct tag_name_in {
	const char *name;
};

static const struct json_field tag_name_fields[] = {
	{ "TagName", JF_STRING, 1, 0, TAG_NAME_BYTES, 0,
	    offsetof(struct tag_name_in, name), NULL },
};
static const struct json_schema tag_name_schema =
    JSON_SCHEMA(struct tag_name_in, tag_name_fields);
static const struct route_body tag_name_body = { BODY_SMALL, json_types, 1,
	&tag_name_schema, 0 };

struct tag_get_in {
	struct json_int page;
	const char *token;
};

static const struct json_field tag_get_fields[] = {
	{ "PageNumber", JF_INT, 0, 1, REPORT_MAX_PAGE, 0,
	    offsetof(struct tag_get_in, page), NULL },
	{ "NextPageToken", JF_STRING, 0, 1, TOKEN_MAX, 0,
	    offsetof(struct tag_get_in, token), NULL },
};
static const struct json_schema tag_get_schema =
    JSON_SCHEMA(struct tag_get_in, tag_get_fields);
static const struct route_body tag_get_body = { BODY_SMALL, json_types, 1,
	&tag_get_schema, 1 };

struct tag_assign_in {
	struct json_strs tags;
	struct json_strs rots;
	struct json_strs profiles;
	struct json_bool sync;
};

static const struct json_field tag_assign_fields[] = {
	{ "TagNames", JF_STRINGS, 1, 0, TAGS_MAX_TAGNAMES, TAG_NAME_BYTES,
	    offsetof(struct tag_assign_in, tags), NULL },
	{ "ROTPublicUIDs", JF_STRINGS, 0, 0, TAGS_MAX_ROTS, TAG_ROT_LEN,
	    offsetof(struct tag_assign_in, rots), NULL },
	{ "DeviceProfileUIDs", JF_STRINGS, 0, 0, TAGS_MAX_PROFILES, 64,
	    offsetof(struct tag_assign_in, profiles), NULL },
	{ "SyncRequired", JF_BOOL, 0, 0, 0, 0,
	    offsetof(struct tag_assign_in, sync), NULL },
};
static const struct json_schema tag_assign_schema =
    JSON_SCHEMA(struct tag_assign_in, tag_assign_fields);
static const struct route_body tag_assign_body = { BODY_LIST, json_types, 1,
	&tag_assign_schema, 0 };

static void
answer_message(struct http_resp *resp, const char *msg, const char *count_key,
    int64_t count)
{
	json_object *obj = json_object_new_object();

	json_object_object_add(obj, "message", json_object_new_string(msg));
	if (count_key != NULL)
		json_object_object_add(obj, count_key,
		    json_object_new_int64(count));
	resp_json(resp, 200, obj);
}

static json_object *
tag_json(const struct tag_rec *t)
{
	json_object *obj = json_object_new_object();
	char ts[32];

	core_iso8601_format(t->created_at, ts, sizeof(ts));
	json_object_object_add(obj, "TagName", json_object_new_string(t->name));
	json_object_object_add(obj, "CreatedAt", json_object_new_string(ts));
	return obj;
}

static int
tag_create(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct tag_name_in *in = req->in;
	struct tag_rec t;
	int rc;

	if ((rc = core_tag_create(req->ctx, &req->tenant, in->name, &t, st)) !=
	    0)
		return rc;
	resp_json(resp, 200, tag_json(&t));
	return 0;
}

static int
tag_delete(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct tag_name_in *in = req->in;
	int rc;

	if ((rc = core_tag_delete(req->ctx, &req->tenant, in->name, st)) != 0)
		return rc;
	answer_message(resp, "Tag deleted successfully.", NULL, 0);
	return 0;
}

static int
tag_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct tag_get_in *in = req->in;
	struct page_pos pos;
	struct tag_rec *tags = NULL;
	json_object *obj, *arr;
	int64_t total = 0;
	size_t i, n = 0;
	int rc;

	if ((rc = core_page_pos(in->page.set ? in->page.v : 0, in->token, 0, 0,
	         &pos, st)) != 0)
		return rc;
	if ((rc = store_tag_page(req->ctx->db, req->tenant.id, &pos, &tags, &n,
	         &total)) != 0)
		return rc;
	obj = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, tag_json(&tags[i]));
	json_object_object_add(obj, "Tags", arr);
	json_object_object_add(obj, "PageNumber",
	    json_object_new_int64(pos.page));
	json_object_object_add(obj, "PageSize",
	    json_object_new_int(TAGS_PAGE_SIZE));
	json_object_object_add(obj, "TotalRecords",
	    json_object_new_int64(total));
	if (n == TAGS_PAGE_SIZE &&
	    (pos.page - 1) * TAGS_PAGE_SIZE + (int64_t)n < total)
		json_object_object_add(obj, "NextPageToken",
		    json_object_new_string(
		        core_page_token(req->arena, &pos, tags[n - 1].id, 0)));
	store_rec_array_free(tags, n, sizeof(*tags), NULL);
	resp_json(resp, 200, obj);
	return 0;
}

static void
tag_request(const struct tag_assign_in *in, struct tag_request *rq)
{
	rq->tags = in->tags.v;
	rq->ntags = in->tags.n;
	rq->rots = in->rots.v;
	rq->nrots = in->rots.n;
	rq->profiles = in->profiles.v;
	rq->nprofiles = in->profiles.n;
}

static int
tag_assign(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	struct tag_request rq;
	struct tag_change c;
	int rc;

	tag_request(req->in, &rq);
	if ((rc = core_tag_assign(req->ctx, req->arena, &req->tenant, &rq, &c,
	         st)) != 0)
		return rc;
	answer_message(resp, "Tags assigned successfully.", "Assigned",
	    c.changed);
	return 0;
}

static int
tag_remove(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	struct tag_request rq;
	struct tag_change c;
	int rc;

	tag_request(req->in, &rq);
	if ((rc = core_tag_remove(req->ctx, req->arena, &req->tenant, &rq, &c,
	         st)) != 0)
		return rc;
	answer_message(resp, "Tags removed successfully.", "Removed",
	    c.changed);
	return 0;
}

static const struct route routes[] = {
	{ "POST", "/tag/create", tag_create, AUTH_AUTHTOKEN, &tag_name_body,
	    NULL, sizeof(struct tag_name_in) },
	{ "POST", "/tag/delete", tag_delete, AUTH_AUTHTOKEN, &tag_name_body,
	    NULL, sizeof(struct tag_name_in) },
	{ "POST", "/tag/get", tag_get, AUTH_AUTHTOKEN, &tag_get_body, NULL,
	    sizeof(struct tag_get_in) },
	{ "POST", "/tag/assign", tag_assign, AUTH_AUTHTOKEN, &tag_assign_body,
	    NULL, sizeof(struct tag_assign_in) },
	{ "POST", "/tag/remove", tag_remove, AUTH_AUTHTOKEN, &tag_assign_body,
	    NULL, sizeof(struct tag_assign_in) },
};

const struct route_group secsvc_tag_routes =
    ROUTE_GROUP("secsvc-tags", routes, NULL);
