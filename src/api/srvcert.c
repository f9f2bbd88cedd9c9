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

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"

/* What both endpoints take; 'alg' only the hash. */
struct srvcert_in {
	const char *server, *slot;
	int enc; /* enum servercert_encoding, as listed in 'encodings' */
	int alg; /* index into 'algorithms' */
};

/* In the order of enum servercert_encoding; the first is the default. */
static const char *const encodings[] = { "pem", "der", NULL };
static const char *const algorithms[] = { "sha256", "md5", NULL };

#define SRVCERT_PATH                                                           \
	IN_STR_FIELD(PATH, "server", struct srvcert_in, server, 0, 0, NULL),   \
	    IN_STR_FIELD(PATH, "certificateName", struct srvcert_in, slot, 1,  \
	        0, NULL)
#define SRVCERT_ENCODING                                                       \
	IN_ENUM_FIELD(QUERY, "encoding", struct srvcert_in, enc, encodings,    \
	    "Invalid encoding: use pem or der.")

static const struct in_field file_params[] = {
	SRVCERT_PATH,
	SRVCERT_ENCODING,
};
static const struct in_schema file_schema = IN_SCHEMA(file_params);

static const struct in_field hash_params[] = {
	SRVCERT_PATH,
	IN_ENUM_FIELD(QUERY, "algorithm", struct srvcert_in, alg, algorithms,
	    "Invalid algorithm: use sha256 or md5."),
	SRVCERT_ENCODING,
};
static const struct in_schema hash_schema = IN_SCHEMA(hash_params);

static int
fetch(struct http_req *req, const struct srvcert_in *in, struct buf *out,
    struct fp_status *st)
{
	int rc;

	rc = core_servercert_get(req->ctx, in->server, in->slot,
	    (enum servercert_encoding)in->enc, out);
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND,
		    "No certificate '%s' for server '%s'.", in->slot,
		    in->server);
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

static int
srvcert_file(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct srvcert_in *in = req->in;
	const char *ext = encodings[in->enc];
	struct buf bytes = BUF_INIT;
	int rc;

	if ((rc = fetch(req, in, &bytes, st)) != 0)
		goto out;
	if ((rc = tag(req, resp, &bytes, ext, st)) < 0)
		goto out;
	if (rc == 1) {
		resp_empty(resp, 304);
		rc = 0;
		goto out;
	}
	resp_header(resp, "Content-Disposition",
	    "attachment; filename=\"%s-%s.%s\"", in->server, in->slot, ext);
	resp_bytes(resp, 200,
	    in->enc == SRVCERT_PEM ? "application/x-pem-file"
	                           : "application/pkix-cert",
	    bytes.data, bytes.len);
out:
	buf_free(&bytes);
	return rc;
}

static int
srvcert_hash(struct http_req *req, struct http_resp *resp, struct fp_status *st)
{
	const struct srvcert_in *in = req->in;
	const char *alg = algorithms[in->alg];
	struct buf bytes = BUF_INIT;
	char hex[129], variant[16];
	json_object *obj;
	int rc;

	if ((rc = fetch(req, in, &bytes, st)) != 0)
		goto out;
	snprintf(variant, sizeof(variant), "%s-%s", encodings[in->enc], alg);
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

static const struct route routes[] = {
	{ "GET", "/api/v2/certificates/{}/{}/file", srvcert_file, AUTH_NONE,
	    NULL, &file_schema, sizeof(struct srvcert_in) },
	{ "GET", "/api/v2/certificates/{}/{}/hash", srvcert_hash, AUTH_NONE,
	    NULL, &hash_schema, sizeof(struct srvcert_in) },
};

const struct route_group srvcert_routes = ROUTE_GROUP("srvcert", routes, NULL);
