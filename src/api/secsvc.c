/*
 * secsvc: the security-services dialect (security-services.txt), at the
 * root paths it documents.  Every route is a POST with a JSON body.
 *
 *   POST /authenticate       {APIKey, APISecret} -> {AuthToken, RefreshToken}
 *   POST /refreshauthtoken   {APIKey, RefreshToken} -> {AuthToken, RefreshToken}
 *   POST /apiversion         -> {Version}                 (AuthToken)
 *
 * AuthTokens are ES256 JWTs of this dialect's own audience: a token of
 * the X.509 identity API is no AuthToken, nor the other way round.  The
 * RefreshToken in /refreshauthtoken's answer replaces the one sent (the
 * spec's answer has only AuthToken; rotation is fleetpki's): the old one
 * is spent, and presenting it again revokes every token of its family.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"

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

static const struct route routes[] = {
	{ "POST", "/authenticate", secsvc_authenticate, AUTH_NONE,
	    &authenticate_body, NULL, sizeof(struct authenticate_in) },
	{ "POST", "/refreshauthtoken", secsvc_refresh, AUTH_NONE, &refresh_body,
	    NULL, sizeof(struct refresh_in) },
	{ "POST", "/apiversion", secsvc_apiversion, AUTH_AUTHTOKEN, &empty_body,
	    NULL, sizeof(struct empty_in) },
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

const struct route_group secsvc_m_routes = { "secsvc-m", NULL, 0,
	secsvc_error_m };
