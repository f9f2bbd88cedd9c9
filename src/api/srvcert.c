/*
 * srvcert: the server-certificate distribution API
 * (server-certificates.txt).  Devices in the field fetch the platform's
 * HTTPS/MQTT certificates, or just their hash, to update their trust.
 *
 *   GET /api/v2/certificates/{server}/{certificateName}/file
 *   GET /api/v2/certificates/{server}/{certificateName}/hash
 *
 * No authentication; nginx rate-limits per client address (429).  Every
 * answer carries an ETag so a device that polls gets 304 for nothing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"

/* The query parameters both endpoints share, parsed and checked. */
struct srvcert_query {
	enum servercert_encoding enc;
	const char *ext; /* "pem" / "der" */
};

static int
parse_encoding(struct http_req *req, struct srvcert_query *q,
    struct fp_status *st)
{
	const char *enc = http_query(req, "encoding");

	if (enc == NULL || strcmp(enc, "pem") == 0) {
		q->enc = SRVCERT_PEM;
		q->ext = "pem";
	} else if (strcmp(enc, "der") == 0) {
		q->enc = SRVCERT_DER;
		q->ext = "der";
	} else {
		return fp_fail(st, FP_E_BADREQ,
		    "Invalid encoding: use pem or der.");
	}
	return 0;
}

static int
fetch(struct http_req *req, const struct srvcert_query *q, struct buf *out,
    struct fp_status *st)
{
	int rc;

	rc = core_servercert_get(req->ctx, req->params[0], req->params[1],
	    q->enc, out);
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND,
		    "No certificate '%s' for server '%s'.", req->params[1],
		    req->params[0]);
	return rc;
}

/*
 * Tag the representation by the digest of its bytes (plus what was asked
 * for the hash endpoint), and answer 304 when the client has it.
 */
static int
tag(struct http_req *req, struct http_resp *resp, const struct buf *bytes,
    const char *variant, struct fp_status *st)
{
	char hex[129], etag[80];
	int rc;

	if ((rc = core_servercert_hash("sha256", bytes, hex, sizeof(hex),
	         st)) != 0)
		return rc;
	snprintf(etag, sizeof(etag), "\"%.40s-%s\"", hex, variant);
	resp_header(resp, "ETag", "%s", etag);
	resp_header(resp, "Cache-Control", "no-cache");
	return http_etag_match(req, etag);
}

int
srvcert_file(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	struct srvcert_query q;
	struct buf bytes = BUF_INIT;
	int rc;

	if ((rc = parse_encoding(req, &q, st)) != 0 ||
	    (rc = fetch(req, &q, &bytes, st)) != 0)
		goto out;
	if ((rc = tag(req, resp, &bytes, q.ext, st)) < 0)
		goto out;
	if (rc == 1) {
		resp_empty(resp, 304);
		rc = 0;
		goto out;
	}
	resp_header(resp, "Content-Disposition",
	    "attachment; filename=\"%s-%s.%s\"", req->params[0], req->params[1],
	    q.ext);
	resp_bytes(resp, 200,
	    q.enc == SRVCERT_PEM ? "application/x-pem-file"
	                         : "application/pkix-cert",
	    bytes.data, bytes.len);
out:
	buf_free(&bytes);
	return rc;
}

int
srvcert_hash(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	struct srvcert_query q;
	struct buf bytes = BUF_INIT;
	const char *alg = http_query(req, "algorithm");
	char hex[129], variant[16];
	json_object *obj;
	int rc;

	if (alg == NULL)
		alg = "sha256";
	if (strcmp(alg, "sha256") != 0 && strcmp(alg, "md5") != 0) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "Invalid algorithm: use sha256 or md5.");
		goto out;
	}
	if ((rc = parse_encoding(req, &q, st)) != 0 ||
	    (rc = fetch(req, &q, &bytes, st)) != 0)
		goto out;
	snprintf(variant, sizeof(variant), "%s-%s", q.ext, alg);
	if ((rc = tag(req, resp, &bytes, variant, st)) < 0)
		goto out;
	if (rc == 1) {
		resp_empty(resp, 304);
		rc = 0;
		goto out;
	}
	if ((rc = core_servercert_hash(alg, &bytes, hex, sizeof(hex), st)) != 0)
		goto out;
	obj = json_object_new_object();
	json_object_object_add(obj, "hash", json_object_new_string(hex));
	resp_json(resp, 200, obj);
out:
	buf_free(&bytes);
	return rc;
}
