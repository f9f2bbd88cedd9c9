/*
 * secsvc_webhooks: the notification hooks of the security-services
 * dialect ("Notification Hook APIs" of security-services.txt).  Every
 * route is a POST with a JSON body and an AuthToken; errors are
 * {"message": ...}.
 *
 *   POST /notification/webhook/create {NotificationURL,
 *       AuthorizationToken, NotificationType}
 *       -> {message, NotificationURL, NotificationType[, SigningSecret]}
 *   POST /notification/webhook/update {NotificationURL, AuthorizationToken}
 *       -> {message}
 *   POST /notification/webhook/delete {NotificationURL} -> {message}
 *   POST /notification/webhook/get    [{NotificationType}]
 *       -> [{NotificationURL, NotificationType, Enabled, CreatedAt
 *            [, DisabledReason]}, ...]
 *
 * SigningSecret (Standard Webhooks, "whsec_...") is in the answer of
 * the create that made the URL, and nowhere else ever again; the
 * AuthorizationToken is never answered.  One URL may follow several
 * types (one create each); update and delete act on the URL.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/core_webhook.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/store.h"
#include "fleetpki/store_tags.h"
#include "fleetpki/store_webhook.h"

#define BODY_SMALL (16 * 1024)

static const char *const json_types[] = { "application/json", NULL };

struct hook_in {
	const char *url;
	const char *token;
	const char *type;
};

#define F_URL(req)                                                             \
	{                                                                      \
		"NotificationURL", JF_STRING, (req), 0, WEBHOOK_URL_MAX, 0,    \
		    offsetof(struct hook_in, url), NULL                        \
	}
#define F_TOKEN                                                                \
	{                                                                      \
		"AuthorizationToken", JF_STRING, 1, 0, WEBHOOK_TOKEN_MAX, 0,   \
		    offsetof(struct hook_in, token), NULL                      \
	}
#define F_TYPE(req)                                                            \
	{                                                                      \
		"NotificationType", JF_STRING, (req), 0, WEBHOOK_TYPE_MAX, 0,  \
		    offsetof(struct hook_in, type), NULL                       \
	}

static const struct json_field create_fields[] = { F_URL(1), F_TOKEN,
	F_TYPE(1) };
static const struct json_schema create_schema =
    JSON_SCHEMA(struct hook_in, create_fields);
static const struct route_body create_body = { BODY_SMALL, json_types, 1,
	&create_schema, 0 };

static const struct json_field update_fields[] = { F_URL(1), F_TOKEN };
static const struct json_schema update_schema =
    JSON_SCHEMA(struct hook_in, update_fields);
static const struct route_body update_body = { BODY_SMALL, json_types, 1,
	&update_schema, 0 };

static const struct json_field delete_fields[] = { F_URL(1) };
static const struct json_schema delete_schema =
    JSON_SCHEMA(struct hook_in, delete_fields);
static const struct route_body delete_body = { BODY_SMALL, json_types, 1,
	&delete_schema, 0 };

/* No body, or {} (or a NotificationType to list only those). */
static const struct json_field get_fields[] = { F_TYPE(0) };
static const struct json_schema get_schema =
    JSON_SCHEMA(struct hook_in, get_fields);
static const struct route_body get_body = { BODY_SMALL, json_types, 1,
	&get_schema, 1 };

static void
answer_message(struct http_resp *resp, json_object *obj, const char *msg)
{
	if (obj == NULL)
		obj = json_object_new_object();
	json_object_object_add(obj, "message", json_object_new_string(msg));
	resp_json(resp, 200, obj);
}

static int
hook_create(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct hook_in *in = req->in;
	char secret[WEBHOOK_SECRET_TEXT_MAX];
	json_object *obj;
	int rc;

	if ((rc = core_webhook_create(req->ctx, &req->tenant, in->url,
	         in->token, in->type, secret, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "NotificationURL",
	    json_object_new_string(in->url));
	json_object_object_add(obj, "NotificationType",
	    json_object_new_string(in->type));
	if (secret[0] != '\0')
		json_object_object_add(obj, "SigningSecret",
		    json_object_new_string(secret));
	OPENSSL_cleanse(secret, sizeof(secret));
	answer_message(resp, obj, "Notification hook created successfully.");
	return 0;
}

static int
hook_update(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct hook_in *in = req->in;
	int rc;

	if ((rc = core_webhook_update(req->ctx, &req->tenant, in->url,
	         in->token, st)) != 0)
		return rc;
	answer_message(resp, NULL, "Notification hook updated successfully.");
	return 0;
}

static int
hook_delete(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct hook_in *in = req->in;
	int rc;

	if ((rc = core_webhook_delete(req->ctx, &req->tenant, in->url, st)) !=
	    0)
		return rc;
	answer_message(resp, NULL, "Notification hook deleted successfully.");
	return 0;
}

static int
hook_get(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct hook_in *in = req->in;
	struct webhook_rec *hooks = NULL;
	json_object *arr, *obj;
	char ts[32], *types, *t, *save = NULL;
	size_t i, n = 0;
	int rc;

	if (in->type != NULL &&
	    (rc = core_webhook_type_check(in->type, st)) != 0)
		return rc;
	if ((rc = store_webhook_list(req->ctx->db, req->tenant.id, &hooks,
	         &n)) != 0)
		return rc;
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		core_iso8601_format(hooks[i].created_at, ts, sizeof(ts));
		types = hooks[i].types;
		for (t = strtok_r(types, ",", &save); t != NULL;
		     t = strtok_r(NULL, ",", &save)) {
			if (in->type != NULL && strcmp(in->type, t) != 0)
				continue;
			obj = json_object_new_object();
			json_object_object_add(obj, "NotificationURL",
			    json_object_new_string(hooks[i].url));
			json_object_object_add(obj, "NotificationType",
			    json_object_new_string(t));
			json_object_object_add(obj, "Enabled",
			    json_object_new_boolean(hooks[i].enabled));
			if (hooks[i].disabled_reason != NULL)
				json_object_object_add(obj, "DisabledReason",
				    json_object_new_string(
				        hooks[i].disabled_reason));
			json_object_object_add(obj, "CreatedAt",
			    json_object_new_string(ts));
			json_object_array_add(arr, obj);
		}
	}
	store_rec_array_free(hooks, n, sizeof(*hooks),
	    (void (*)(void *))webhook_rec_clear);
	resp_json(resp, 200, arr);
	return 0;
}

static const struct route routes[] = {
	{ "POST", "/notification/webhook/create", hook_create, AUTH_AUTHTOKEN,
	    &create_body, NULL, sizeof(struct hook_in) },
	{ "POST", "/notification/webhook/update", hook_update, AUTH_AUTHTOKEN,
	    &update_body, NULL, sizeof(struct hook_in) },
	{ "POST", "/notification/webhook/delete", hook_delete, AUTH_AUTHTOKEN,
	    &delete_body, NULL, sizeof(struct hook_in) },
	{ "POST", "/notification/webhook/get", hook_get, AUTH_AUTHTOKEN,
	    &get_body, NULL, sizeof(struct hook_in) },
};

const struct route_group secsvc_webhook_routes =
    ROUTE_GROUP("secsvc-webhooks", routes, NULL);
