/*
 * enroll: the device side of device enrollment (device-enrollment.txt,
 * core_enroll.h).
 *
 *   POST /api/register  X-Device-Secret; {deviceId, timestamp[, csr]}
 *   POST /api/renew     X-Device-Secret; {deviceId, hostname[, timestamp,
 *                       csr]}
 *
 * 200: {hostname, certificate (leaf then chain, PEM), privateKey (PEM;
 * absent when the device sent a CSR), expiresAt (ISO 8601)}.  202 with
 * Retry-After and {status: "pending", message, hostname} while
 * fleetpki-worker obtains the certificate.  A wrong secret, an unknown
 * or a disabled device: the same 401.  Errors are {"message"}.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/core_enroll.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/router.h"
#include "fleetpki/util.h"

/* A CSR of a P-384 or RSA-4096 key is well under 4 KiB of PEM. */
#define ENROLL_BODY (16 * 1024)
#define CSR_MAX (8 * 1024)
#define SECRET_MAX 256

static const char *const json_types[] = { "application/json", NULL };

struct enroll_in {
	const char *device_id;
	const char *timestamp;
	const char *hostname;
	const char *csr;
};

static const struct json_field register_fields[] = {
	{ "deviceId", JF_STRING, 1, 1, 255, 0,
	    offsetof(struct enroll_in, device_id), NULL },
	{ "timestamp", JF_STRING, 0, 0, 64, 0,
	    offsetof(struct enroll_in, timestamp), NULL },
	{ "csr", JF_STRING, 0, 1, CSR_MAX, 0, offsetof(struct enroll_in, csr),
	    NULL },
};
static const struct json_schema register_schema =
    JSON_SCHEMA(struct enroll_in, register_fields);
static const struct route_body register_body = { ENROLL_BODY, json_types, 1,
	&register_schema, 0 };

static const struct json_field renew_fields[] = {
	{ "deviceId", JF_STRING, 1, 1, 255, 0,
	    offsetof(struct enroll_in, device_id), NULL },
	{ "hostname", JF_STRING, 1, 1, 255, 0,
	    offsetof(struct enroll_in, hostname), NULL },
	{ "timestamp", JF_STRING, 0, 0, 64, 0,
	    offsetof(struct enroll_in, timestamp), NULL },
	{ "csr", JF_STRING, 0, 1, CSR_MAX, 0, offsetof(struct enroll_in, csr),
	    NULL },
};
static const struct json_schema renew_schema =
    JSON_SCHEMA(struct enroll_in, renew_fields);
static const struct route_body renew_body = { ENROLL_BODY, json_types, 1,
	&renew_schema, 0 };

/* 's' as a JSON string: PEM and hostnames need only these escapes. */
static void
put_json_string(struct buf *b, const char *s)
{
	char esc[8];

	buf_puts(b, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			buf_append(b, "\\", 1);
			buf_append(b, s, 1);
		} else if (*s == '\n')
			buf_puts(b, "\\n");
		else if ((unsigned char)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x",
			    (unsigned char)*s);
			buf_puts(b, esc);
		} else
			buf_append(b, s, 1);
	}
	buf_puts(b, "\"");
}

static int
enroll_request(struct http_req *req, struct http_resp *resp,
    struct fp_status *st, int renew)
{
	const struct enroll_in *in = req->in;
	struct enroll_request r;
	struct enroll_answer a;
	struct buf body = BUF_INIT;
	json_object *obj;
	char when[32];
	int rc;

	memset(&r, 0, sizeof(r));
	r.device_id = in->device_id;
	r.secret = http_header(req, "X-Device-Secret");
	if (r.secret != NULL && strlen(r.secret) > SECRET_MAX)
		r.secret = NULL; /* never a secret: the same 401 */
	r.hostname = in->hostname;
	r.csr_pem = in->csr;
	r.renew = renew;
	if ((rc = core_enroll_request(req->ctx, &r, &a, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "hostname",
	    json_object_new_string(a.hostname));
	resp_header(resp, "Cache-Control", "no-store");
	if (a.status == 202) {
		json_object_object_add(obj, "status",
		    json_object_new_string("pending"));
		json_object_object_add(obj, "message",
		    json_object_new_string(a.message));
		resp_header(resp, "Retry-After", "%d", a.retry_after_s);
		resp_json(resp, 202, obj);
		enroll_answer_free(&a);
		return 0;
	}
	json_object_put(obj);
	/*
	 * The 200 is written here, not through json-c, so that the key has
	 * no copy but the response body, which the front wipes once sent.
	 */
	util_iso8601_ms(a.not_after_us / 1000, when);
	buf_reset(&body);
	buf_puts(&body, "{\"hostname\":");
	put_json_string(&body, a.hostname);
	buf_puts(&body, ",\"certificate\":");
	put_json_string(&body, a.chain_pem);
	if (a.key_pem != NULL) {
		buf_puts(&body, ",\"privateKey\":");
		put_json_string(&body, a.key_pem);
	}
	buf_puts(&body, ",\"expiresAt\":");
	put_json_string(&body, when);
	buf_puts(&body, "}");
	resp_bytes(resp, 200, "application/json", body.data, body.len);
	resp->secret = 1;
	buf_free_secret(&body);
	enroll_answer_free(&a);
	return 0;
}

static int
enroll_register(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return enroll_request(req, resp, st, 0);
}

static int
enroll_renew(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	return enroll_request(req, resp, st, 1);
}

static const struct route routes[] = {
	{ "POST", "/api/register", enroll_register, AUTH_NONE, &register_body,
	    NULL, sizeof(struct enroll_in) },
	{ "POST", "/api/renew", enroll_renew, AUTH_NONE, &renew_body, NULL,
	    sizeof(struct enroll_in) },
};

const struct route_group enroll_routes = ROUTE_GROUP("enroll", routes, NULL);
