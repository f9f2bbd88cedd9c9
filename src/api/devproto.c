/*
 * devproto: the device protocol (docs/device-protocol.md), the server's
 * two routes:
 *
 *   POST /device/v1/bootstrap   register, receive the profile's provisioning
 *   POST /device/v1/heartbeat   acknowledge commands, receive the pending ones
 *
 * The MAC covers the body's exact bytes, so the routes take it raw (no
 * schema): the core checks the MAC first and parses strictly after.
 * Answers are {"Error": CODE, "Message": text, ...} on refusal (this
 * group's error shape, also for what the front refuses: 413, 415, 404),
 * and once the request's MAC verified, every answer carries its own
 * X-Device-MAC and X-Device-Timestamp (§5).
 */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core_device.h"
#include "fleetpki/http.h"

#define BODY_MAX (64 * 1024)

static const char *const json_types[] = { "application/json", NULL };
static const struct route_body device_body = { BODY_MAX, json_types, 0, NULL,
	0 };

/* §6's code for what the front or the server refused. */
static const char *
error_code(int status)
{
	switch (status) {
	case 401:
		return "UNAUTHORIZED";
	case 404:
		return "NOT_FOUND";
	case 405:
		return "METHOD_NOT_ALLOWED";
	case 429:
		return "RATE_LIMITED";
	case 503:
		return "UNAVAILABLE";
	default:
		return status >= 500 ? "INTERNAL" : "BAD_REQUEST";
	}
}

static void
devproto_error(struct http_resp *resp, int code, const struct fp_status *st)
{
	json_object *obj = json_object_new_object();
	int status = fp_err_http(code);

	json_object_object_add(obj, "Error",
	    json_object_new_string(error_code(status)));
	json_object_object_add(obj, "Message",
	    json_object_new_string(fp_status_message(st, code)));
	resp_json(resp, status, obj);
}

static int
devproto_handle(struct http_req *req, struct http_resp *resp,
    struct fp_status *st, enum device_op op)
{
	struct device_req dr;
	struct device_answer a;
	char mac[DEVPROTO_MAC_HEX_LEN + 1];
	int64_t now;
	int rc;

	memset(&dr, 0, sizeof(dr));
	dr.op = op;
	dr.path = req->path;
	dr.query = req->query;
	dr.rot = http_header(req, DEVPROTO_HDR_ROT);
	dr.counter = http_header(req, DEVPROTO_HDR_COUNTER);
	dr.timestamp = http_header(req, DEVPROTO_HDR_TIMESTAMP);
	dr.mac = http_header(req, DEVPROTO_HDR_MAC);
	dr.body = req->body;
	dr.body_len = req->body_len;
	dr.peer = req->remote_addr;
	if ((rc = core_device_request(req->ctx, &dr, &a)) != 0) {
		core_device_answer_clear(&a);
		return fp_fail(st,
		    rc == -FP_E_UNAVAILABLE ? FP_E_UNAVAILABLE : FP_E_INTERNAL,
		    NULL);
	}
	/* Nothing a device is told may be cached on the way. */
	resp_header(resp, "Cache-Control", "no-store");
	if (a.retry_after > 0)
		resp_header(resp, "Retry-After", "%lld", a.retry_after);
	resp_json(resp, a.status, a.body);
	a.body = NULL;
	if (a.maced) {
		now = (int64_t)time(NULL);
		if (core_device_answer_mac(&a, resp->body.data, resp->body.len,
		        now, mac) != 0) {
			core_device_answer_clear(&a);
			buf_reset(&resp->headers);
			buf_reset(&resp->body);
			resp->status = 0;
			return fp_fail(st, FP_E_INTERNAL, NULL);
		}
		resp_header(resp, DEVPROTO_HDR_MAC, "%s", mac);
		resp_header(resp, DEVPROTO_HDR_TIMESTAMP, "%lld",
		    (long long)now);
	}
	core_device_answer_clear(&a);
	return 0;
}

static int
devproto_bootstrap(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return devproto_handle(req, resp, st, DEVICE_OP_BOOTSTRAP);
}

static int
devproto_heartbeat(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return devproto_handle(req, resp, st, DEVICE_OP_HEARTBEAT);
}

static const struct route routes[] = {
	{ "POST", DEVPROTO_PATH_BOOTSTRAP, devproto_bootstrap, AUTH_NONE,
	    &device_body, NULL, 0 },
	{ "POST", DEVPROTO_PATH_HEARTBEAT, devproto_heartbeat, AUTH_NONE,
	    &device_body, NULL, 0 },
};

const struct route_group devproto_routes =
    ROUTE_GROUP_AT("devproto", "/device/v1/", routes, devproto_error);
