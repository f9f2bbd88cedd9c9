/*
 * revinfo: revocation information for relying parties, public and
 * served over plain HTTP too (RFC 5280 4.2.1.13: a CRL distribution
 * point must not depend on TLS that itself needs revocation checking).
 *
 * GET /crl/{public_id}.crl: the CA's current CRL, DER, cacheable until
 * shortly before its nextUpdate.
 * POST /ocsp, GET /ocsp/{request}: the OCSP responder of every CA.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/b64.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/util.h"

/* Never let a cache hold a CRL longer than this, whatever nextUpdate. */
#define CRL_MAX_AGE 300

/* 16 CertIDs with a nonce and a signature are far below this. */
#define BODY_OCSP (16 * 1024)

struct crl_in {
	/* the path's "<id>.crl" or "<id>-delta.crl", without ".crl" */
	const char *public_id;
};

/* The delta CRL's name ends so (core_ca_delta_url). */
#define CRL_DELTA_SUFFIX "-delta"

struct ocsp_get_in {
	const char *b64; /* the path, url-decoded */
};

/*
 * "<public id>.crl" -> "<public id>", "<public id>-delta.crl" ->
 * "<public id>-delta"; any other name is no CRL.
 */
static int
crl_name(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	size_t len = strlen(in);

	if (len < 5 || strcmp(in + len - 4, ".crl") != 0)
		return fp_fail(st, FP_E_NOTFOUND, "No such CRL.");
	*out = arena_strndup(a, in, len - 4);
	return 0;
}

/* RFC 6960 A.1: the GET path is the url-encoding of base64. */
static int
ocsp_path(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	if ((*out = http_percent_decode(a, in)) == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "The OCSP request is not url-encoded base64.");
	return 0;
}

static const struct in_field crl_params[] = {
	IN_STR_FIELD(PATH, "crl", struct crl_in, public_id, 0, 0, crl_name),
};
static const struct in_schema crl_schema = IN_SCHEMA(crl_params);

static const struct in_field ocsp_get_params[] = {
	IN_STR_FIELD(PATH, "request", struct ocsp_get_in, b64, 0, 0, ocsp_path),
};
static const struct in_schema ocsp_get_schema = IN_SCHEMA(ocsp_get_params);

static const char *const ocsp_types[] = { "application/ocsp-request", NULL };
static const struct route_body ocsp_body = { BODY_OCSP, ocsp_types, 1, NULL,
	0 };

/* An IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
static void
http_date(int64_t t, char *out, size_t len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	/* Names by table: strftime's would follow the locale. */
	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, len, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
revinfo_crl_der(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct crl_in *in = req->in;
	struct crl_rec crl = { 0 };
	char etag[48], date[40], id[33];
	size_t len = strlen(in->public_id);
	const size_t slen = sizeof(CRL_DELTA_SUFFIX) - 1;
	bool delta;
	int64_t age;
	int rc;

	delta = len > slen &&
	    strcmp(in->public_id + len - slen, CRL_DELTA_SUFFIX) == 0;
	if (delta)
		len -= slen;
	/* The core checks the id's form; anything longer is no CA's. */
	if (len >= sizeof(id)) {
		rc = fp_fail(st, FP_E_NOTFOUND, "No such CRL.");
		goto out;
	}
	memcpy(id, in->public_id, len);
	id[len] = '\0';
	if ((rc = core_crl_by_public_id(req->ctx, id, delta, &crl)) != 0) {
		if (rc == -FP_E_NOTFOUND)
			fp_fail(st, FP_E_NOTFOUND, "No such CRL.");
		goto out;
	}
	/* One number sequence for both kinds: the tag names the CRL. */
	snprintf(etag, sizeof(etag), "\"crl-%" PRId64 "\"", crl.crl_number);
	resp_header(resp, "ETag", "%s", etag);
	/* For caches that validate by date (and CDNs): nginx/crl.conf. */
	http_date(crl.this_update, date, sizeof(date));
	resp_header(resp, "Last-Modified", "%s", date);
	http_date(crl.next_update, date, sizeof(date));
	resp_header(resp, "Expires", "%s", date);
	age = crl.next_update - util_now();
	age = age > CRL_MAX_AGE ? CRL_MAX_AGE : age < 0 ? 0 : age;
	resp_header(resp, "Cache-Control", "public, max-age=%" PRId64, age);
	if (http_etag_match(req, etag)) {
		resp_empty(resp, 304);
		goto out;
	}
	resp_bytes(resp, 200, "application/pkix-crl", crl.der.data,
	    crl.der.len);
out:
	crl_rec_clear(&crl);
	return rc;
}

/*
 * OCSP.  The HTTP answer is 200 whenever an OCSPResponse is sent, errors
 * included (RFC 5019 2.2.3): the OCSP status inside says what happened.
 */
static int
ocsp_answer(struct http_req *req, struct http_resp *resp,
    const unsigned char *der, size_t len, struct fp_status *st)
{
	struct core_ocsp_result res;
	int rc;

	rc = core_ocsp_answer(req->ctx, der, len, &res);
	if (res.der.len == 0) {
		core_ocsp_result_clear(&res);
		return rc != 0 ? rc : -FP_E_INTERNAL;
	}
	if (res.max_age > 0) {
		/* RFC 5019 6.2: cacheable up to nextUpdate. */
		resp_header(resp, "Cache-Control",
		    "public, max-age=%lld, no-transform",
		    (long long)res.max_age);
		resp_header(resp, "ETag", "%s", res.etag);
		/* nginx's OCSP cache keeps it (nginx.conf.in) unless told. */
		if (!res.shared)
			resp_header(resp, "X-Accel-Expires", "0");
		if (http_etag_match(req, res.etag)) {
			resp_empty(resp, 304);
			core_ocsp_result_clear(&res);
			return 0;
		}
	} else {
		resp_header(resp, "Cache-Control", "no-cache, no-store");
		resp_header(resp, "X-Accel-Expires", "0");
	}
	resp_bytes(resp, 200, "application/ocsp-response", res.der.data,
	    res.der.len);
	core_ocsp_result_clear(&res);
	return 0;
}

static int
revinfo_ocsp_post(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	return ocsp_answer(req, resp, req->body, req->body_len, st);
}

static int
revinfo_ocsp_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct ocsp_get_in *in = req->in;
	struct buf der = BUF_INIT;
	int rc;

	if (b64_decode(in->b64, strlen(in->b64), &der) != 0) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "The OCSP request is not url-encoded base64.");
		goto out;
	}
	rc = ocsp_answer(req, resp, der.data, der.len, st);
out:
	buf_free(&der);
	return rc;
}

/* Also on the plain-HTTP listener (nginx.conf.in). */
static const struct route routes[] = {
	{ "GET", "/crl/{}", revinfo_crl_der, AUTH_NONE, NULL, &crl_schema,
	    sizeof(struct crl_in) },
	{ "POST", "/ocsp", revinfo_ocsp_post, AUTH_NONE, &ocsp_body, NULL, 0 },
	{ "GET", "/ocsp/{*}", revinfo_ocsp_get, AUTH_NONE, NULL,
	    &ocsp_get_schema, sizeof(struct ocsp_get_in) },
	{ "POST", "/api/v1/ocsp", revinfo_ocsp_post, AUTH_NONE, &ocsp_body,
	    NULL, 0 },
	{ "GET", "/api/v1/ocsp/{*}", revinfo_ocsp_get, AUTH_NONE, NULL,
	    &ocsp_get_schema, sizeof(struct ocsp_get_in) },
};

const struct route_group revinfo_routes = ROUTE_GROUP("revinfo", routes, NULL);
