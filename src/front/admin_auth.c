/*
 * admin_auth: the route table's AUTH_ADMIN, the admin portal's session
 * cookie with its CSRF checks (core_admin.h).
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/arena.h"
#include "fleetpki/core.h"
#include "fleetpki/core_admin.h"
#include "fleetpki/http.h"

int
http_admin_same_origin(struct http_req *req, struct fp_status *st)
{
	if (!admin_origin_ok(http_header(req, "Origin"),
	        http_header(req, "Host"), http_header(req, "Sec-Fetch-Site")))
		return fp_fail(st, FP_E_FORBIDDEN,
		    "Cross-origin requests are refused.");
	return 0;
}

static int
state_changing(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

int
http_admin_auth(struct http_req *req, struct fp_status *st)
{
	struct admin_session *s;
	char token[ADMIN_TOKEN_LEN + 2];
	int rc;

	if (admin_cookie_value(http_header(req, "Cookie"), ADMIN_COOKIE, token,
	        sizeof(token)) != 0)
		return fp_fail(st, FP_E_UNAUTH, "Not logged in.");
	s = arena_alloc(req->arena, sizeof(*s));
	rc = core_admin_session(req->ctx, token, s, &req->tenant, st);
	OPENSSL_cleanse(token, sizeof(token));
	if (rc != 0)
		return rc;
	if (state_changing(req->method)) {
		if ((rc = http_admin_same_origin(req, st)) != 0)
			goto fail;
		if (!admin_csrf_equal(http_header(req, "X-CSRF-Token"),
		        s->csrf)) {
			rc = fp_fail(st, FP_E_FORBIDDEN,
			    "Missing or wrong X-CSRF-Token.");
			goto fail;
		}
	}
	req->admin = s;
	return 0;
fail:
	OPENSSL_cleanse(s->csrf, sizeof(s->csrf));
	memset(&req->tenant, 0, sizeof(req->tenant));
	return rc;
}
