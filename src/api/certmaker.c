/*
 * certmaker: the certificate-maker API (certmaker.txt), under /api/v1,
 * for internal services that need TLS certificates for DNS names and IP
 * addresses.  Callers are users holding an X-Auth-Token; an admin sees
 * and revokes every certificate of its tenant, a user only its own.
 *
 *   GET  /root-certificate/obtain          the tenant CA, PEM
 *   POST /certificate/request              names -> key pair + certificate
 *   POST /certificate/request-with-csr     raw PEM CSR -> certificate
 *   GET  /certificate/{serial}/obtain      the certificate, PEM
 *   GET  /privatekey/{serial}/obtain       the server-made key, PEM
 *   GET  /challenge/{id}/solve             prove control, then issue
 *   POST /certificate/revoke               {"serial", "reason"}
 *
 * With the tenant's certmaker.require_challenge on, both requests answer
 * 202 with a challenge token instead, and issue when it is solved.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/input.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

/* A raw CSR: an RSA-4096 CSR with a hundred names stays well below. */
#define BODY_CSR_PEM (16 * 1024)
#define BODY_JSON (64 * 1024)

/*
 * The JSON bodies: clients send application/json, or, following the
 * spec's own curl -d examples, form-urlencoded or nothing; the body is
 * JSON whatever the label.  A raw CSR comes under any label.
 */
static const char *const json_types[] = { "application/json",
	"application/x-www-form-urlencoded", NULL };
static const struct route_body request_body = { BODY_JSON, json_types, 1,
	&core_names_schema, 0 };

struct revoke_in {
	const char *serial;
	const char *reason;
};

static const struct json_field revoke_fields[] = {
	{ "serial", JF_STRING, 1, 1, 64, 0, offsetof(struct revoke_in, serial),
	    NULL },
	{ "reason", JF_STRING, 0, 1, 32, 0, offsetof(struct revoke_in, reason),
	    NULL },
};
static const struct json_schema revoke_schema =
    JSON_SCHEMA(struct revoke_in, revoke_fields);
static const struct route_body revoke_body = { BODY_JSON, json_types, 1,
	&revoke_schema, 0 };

static const struct route_body csr_body = { BODY_CSR_PEM, NULL, 1, NULL, 0 };

/* The JSON request (decoded by core_names_schema, so first) and the key. */
struct request_in {
	struct core_names_json names;
	const char *idem_key;
};

struct csr_in {
	struct json_int days;
	const char *idem_key;
};

/* The serial of a certificate path, or the id of a challenge. */
struct object_in {
	const char *id;
	struct json_int port;
};

/* Absolute URLs clients follow: the configured public base. */
static const char *
location(struct http_req *req, const char *what, const char *id)
{
	return arena_printf(req->arena, "%s/api/v1/%s/%s/%s",
	    req->ctx->cfg->public_url, what, id,
	    strcmp(what, "challenge") == 0 ? "solve" : "obtain");
}

/* The answer to an issued request: locations, as headers and body. */
static void
answer_issued(struct http_req *req, struct http_resp *resp,
    const struct cert_rec *rec)
{
	json_object *obj = json_object_new_object();
	const char *cert = location(req, "certificate", rec->serial);

	resp_header(resp, "X-Certificate-Location", "%s", cert);
	json_object_object_add(obj, "serial",
	    json_object_new_string(rec->serial));
	json_object_object_add(obj, "certificate_location",
	    json_object_new_string(cert));
	if (rec->key_sealed.len > 0) {
		const char *key = location(req, "privatekey", rec->serial);

		resp_header(resp, "X-Privatekey-Location", "%s", key);
		json_object_object_add(obj, "privatekey_location",
		    json_object_new_string(key));
	}
	resp_json(resp, 200, obj);
}

static int
certmaker_root(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca, st)) != 0)
		return rc;
	resp_bytes(resp, 200, "application/x-pem-file", core_ca_pem(ca),
	    strlen(core_ca_pem(ca)));
	return 0;
}

/*
 * Both requests end here: issue now, or, when the tenant asks for proof
 * first, keep the request and answer 202 with the token (text/plain)
 * and where to solve it.
 */
static int
issue_or_challenge(struct http_req *req, struct http_resp *resp,
    const struct core_names_req *nr, const char *idem_key, struct fp_status *st)
{
	struct core_challenge ch;
	struct cert_rec rec = { 0 };
	struct core_idem idem;
	int rc, challenge;

	if ((rc = core_challenge_required(req->ctx, &req->tenant,
	         &challenge)) != 0)
		return rc;
	if (challenge) {
		if ((rc = core_challenge_open(req->ctx, &req->tenant,
		         req->user.id, nr, &ch, st)) != 0)
			return rc;
		resp_header(resp, "X-Challenge-Location", "%s",
		    location(req, "challenge", ch.public_id));
		resp_bytes(resp, 202, "text/plain", ch.token, strlen(ch.token));
		core_challenge_clear(&ch);
		return 0;
	}
	/*
	 * Only issuance is idempotent: a challenge issues nothing, and a
	 * retried request just opens another one (the first expires).
	 */
	if ((rc = http_idem(req, idem_key, &idem)) == 0 &&
	    (rc = core_names_issue(req->ctx, &req->tenant, req->user.id, nr,
	         &idem, &rec, st)) == 0) {
		if (idem.replayed)
			resp_header(resp, "Idempotent-Replayed", "true");
		answer_issued(req, resp, &rec);
	}
	cert_rec_clear(&rec);
	return rc;
}

static int
certmaker_request(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct request_in *in = req->in;
	struct core_names_req nr;
	int rc;

	if ((rc = core_names_from_json(req->ctx, &req->tenant, req->arena,
	         &in->names, &nr)) != 0)
		return rc;
	return issue_or_challenge(req, resp, &nr, in->idem_key, st);
}

static int
certmaker_request_csr(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct csr_in *in = req->in;
	struct core_names_req nr;
	long long d;
	int rc;

	memset(&nr, 0, sizeof(nr));
	nr.csr_pem = (const char *)req->body;
	nr.csr_len = req->body_len;
	if (in->days.set)
		d = in->days.v;
	else if ((rc = core_setting_int(req->ctx, req->tenant.id,
	              "certmaker.default_days", &d)) != 0)
		return rc;
	nr.days = (int)d;
	return issue_or_challenge(req, resp, &nr, in->idem_key, st);
}

/*
 * A serial as clients write it (any case, colons allowed) in the form we
 * store: upper-case hex.  -1 when it is not one.
 */
static int
serial_norm(struct arena *a, const char *in, const char **out)
{
	char *s = arena_alloc(a, strlen(in) + 1), *o = s;

	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in))
			return -1;
		*o++ = (char)toupper((unsigned char)*in);
	}
	*o = '\0';
	if (o - s < 2 || o - s > 40)
		return -1;
	*out = s;
	return 0;
}

/* in_conv_fn for a certificate's path: not a serial, no certificate. */
static int
path_serial(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	if (serial_norm(a, in, out) != 0)
		return fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	return 0;
}

/* in_conv_fn for a challenge's path: 32 lower-case hex digits. */
static int
path_challenge(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	(void)a;
	if (strlen(in) != 32 || strspn(in, "0123456789abcdef") != 32)
		return fp_fail(st, FP_E_NOTFOUND, "No such challenge.");
	*out = in;
	return 0;
}

/* The caller's certificate (an admin: any of the tenant's), else 404. */
static int
own_cert(struct http_req *req, struct cert_rec *rec, struct fp_status *st)
{
	const struct object_in *in = req->in;
	int rc;

	rc = store_cert_by_serial(req->ctx->db, req->tenant.id, in->id, rec);
	if (rc == 0 && !req->user.is_admin && rec->user_id != req->user.id) {
		cert_rec_clear(rec);
		rc = -FP_E_NOTFOUND;
	}
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	return rc;
}

static int
certmaker_cert_obtain(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct cert_rec rec = { 0 };
	int rc;

	if ((rc = own_cert(req, &rec, st)) != 0)
		return rc;
	resp_bytes(resp, 200, "application/x-pem-file", rec.pem,
	    strlen(rec.pem));
	cert_rec_clear(&rec);
	return 0;
}

static int
certmaker_key_obtain(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct cert_rec rec = { 0 };
	struct buf pem = BUF_INIT;
	int rc;

	if ((rc = own_cert(req, &rec, st)) != 0)
		goto out;
	rc = core_cert_private_key(req->ctx, &rec, &pem);
	if (rc == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_NOTFOUND,
		    "The server holds no private key for this certificate.");
	if (rc != 0)
		goto out;
	resp_bytes(resp, 200, "application/x-pem-file", pem.data, pem.len);
	resp->secret = 1;
out:
	buf_free_secret(&pem);
	cert_rec_clear(&rec);
	return rc;
}

static int
certmaker_challenge_solve(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct object_in *in = req->in;
	struct cert_rec rec = { 0 };
	int rc;

	if ((rc = core_challenge_solve(req->ctx, &req->tenant, req->user.id,
	         in->id, in->port.set ? (int)in->port.v : 80, req->arena, &rec,
	         st)) == 0)
		answer_issued(req, resp, &rec);
	cert_rec_clear(&rec);
	return rc;
}

static int
certmaker_revoke(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct revoke_in *in = req->in;
	const char *serial;
	json_object *obj;
	int rc, reason = 0;

	if (serial_norm(req->arena, in->serial, &serial) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "serial must be a hexadecimal "
		    "certificate serial number.");
	if (in->reason != NULL) {
		reason = pki_reason_from_name(in->reason);
		/* removeFromCRL belongs to delta CRLs, never to a revocation. */
		if (reason < 0 || reason == 8)
			return fp_fail(st, FP_E_BADREQ,
			    "Unknown reason '%.32s': "
			    "use an RFC 5280 name such as keyCompromise, "
			    "superseded or cessationOfOperation.",
			    in->reason);
	}
	rc = core_cert_revoke(req->ctx, &req->tenant, serial, reason,
	    req->user.is_admin ? 0 : req->user.id);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	if (rc == -FP_E_GONE)
		return fp_fail(st, FP_E_GONE,
		    "The certificate is already revoked.");
	if (rc != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "serial", json_object_new_string(serial));
	json_object_object_add(obj, "revoked", json_object_new_boolean(1));
	resp_json(resp, 200, obj);
	return 0;
}

/* ---- the routes --------------------------------------------------- */

static const struct in_field request_params[] = {
	IN_STR_FIELD(HEADER, "Idempotency-Key", struct request_in, idem_key, 0,
	    0, http_idem_key),
};
static const struct in_schema request_schema = IN_SCHEMA(request_params);

static const struct in_field csr_params[] = {
	IN_INT_FIELD(QUERY, "days", struct csr_in, days, 1, 3650, 0,
	    "days must be a positive integer."),
	IN_STR_FIELD(HEADER, "Idempotency-Key", struct csr_in, idem_key, 0, 0,
	    http_idem_key),
};
static const struct in_schema csr_schema = IN_SCHEMA(csr_params);

static const struct in_field cert_params[] = {
	IN_STR_FIELD(PATH, "serial", struct object_in, id, 0, 0, path_serial),
};
static const struct in_schema cert_schema = IN_SCHEMA(cert_params);

/* X-Validation-Port is what the original server read; both work. */
#define PORT_FIELD(header)                                                     \
	IN_INT_FIELD(HEADER, header, struct object_in, port, 1, 65535, 0,      \
	    "X-Challenge-Port must be a port number.")
static const struct in_field solve_params[] = {
	IN_STR_FIELD(PATH, "id", struct object_in, id, 0, 0, path_challenge),
	PORT_FIELD("X-Challenge-Port"),
	PORT_FIELD("X-Validation-Port"),
};
static const struct in_schema solve_schema = IN_SCHEMA(solve_params);

static const struct route routes[] = {
	{ "GET", "/api/v1/root-certificate/obtain", certmaker_root,
	    AUTH_API_TOKEN, NULL, NULL, 0 },
	{ "POST", "/api/v1/certificate/request", certmaker_request,
	    AUTH_API_TOKEN, &request_body, &request_schema,
	    sizeof(struct request_in) },
	{ "POST", "/api/v1/certificate/request-with-csr", certmaker_request_csr,
	    AUTH_API_TOKEN, &csr_body, &csr_schema, sizeof(struct csr_in) },
	{ "GET", "/api/v1/certificate/{}/obtain", certmaker_cert_obtain,
	    AUTH_API_TOKEN, NULL, &cert_schema, sizeof(struct object_in) },
	{ "GET", "/api/v1/privatekey/{}/obtain", certmaker_key_obtain,
	    AUTH_API_TOKEN, NULL, &cert_schema, sizeof(struct object_in) },
	{ "GET", "/api/v1/challenge/{}/solve", certmaker_challenge_solve,
	    AUTH_API_TOKEN, NULL, &solve_schema, sizeof(struct object_in) },
	{ "POST", "/api/v1/certificate/revoke", certmaker_revoke,
	    AUTH_API_TOKEN, &revoke_body, NULL, sizeof(struct revoke_in) },
};

const struct route_group certmaker_routes =
    ROUTE_GROUP("certmaker", routes, NULL);
