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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/auth.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define MAX_NAMES 100
#define TOKEN_LEN 80

static const struct json_field request_fields[] = {
	{ "domains", JF_STRINGS, 0, 1, MAX_NAMES, 253 },
	{ "ips", JF_STRINGS, 0, 1, MAX_NAMES, 45 },
	{ "email_addresses", JF_STRINGS, 0, 1, MAX_NAMES, 320 },
	{ "subject", JF_OBJECT, 0, 0, 0, 0 },
	{ "days", JF_INT, 0, 1, 3650, 0 },
	{ "key", JF_STRING, 0, 1, 16, 0 },
};

static const struct json_field subject_fields[] = {
	{ "organization", JF_STRING, 0, 1, 128, 0 },
	{ "country", JF_STRING, 0, 2, 2, 0 },
	{ "province", JF_STRING, 0, 1, 128, 0 },
	{ "locality", JF_STRING, 0, 1, 128, 0 },
	{ "street_address", JF_STRING, 0, 1, 128, 0 },
	{ "postal_code", JF_STRING, 0, 1, 40, 0 },
	{ "common_name", JF_STRING, 0, 1, 64, 0 },
};

/* What a challenge keeps of a CSR request: the PEM and the days. */
static const struct json_field csr_request_fields[] = {
	{ "csr", JF_STRING, 1, 1, 16 * 1024, 0 },
	{ "days", JF_INT, 1, 1, 3650, 0 },
};

static const struct json_field revoke_fields[] = {
	{ "serial", JF_STRING, 1, 1, 64, 0 },
	{ "reason", JF_STRING, 0, 1, 32, 0 },
};

/* Absolute URLs clients follow: the configured public base. */
static const char *
location(struct http_req *req, const char *what, const char *id)
{
	return arena_printf(req->arena, "%s/api/v1/%s/%s/%s",
	    req->ctx->cfg->public_url, what, id,
	    strcmp(what, "challenge") == 0 ? "solve" : "obtain");
}

/* Append the strings of array 'name' as SANs of 'type'. */
static void
add_sans(struct http_req *req, json_object *body, const char *name,
    enum pki_san_type type, struct pki_san *sans, size_t *n)
{
	json_object *arr;
	size_t i;

	if (!json_object_object_get_ex(body, name, &arr))
		return;
	for (i = 0; i < json_object_array_length(arr); i++) {
		sans[*n].type = type;
		sans[*n].value = arena_strdup(req->arena,
		    json_object_get_string(json_object_array_get_idx(arr, i)));
		(*n)++;
	}
}

/*
 * Turn the JSON of a simple request (as received, or as a challenge kept
 * it) into a core request.  Strings point into 'body' or the arena.
 */
static int
parse_simple(struct http_req *req, const char *text, size_t len,
    json_object **body, struct core_names_req *out, struct fp_status *st)
{
	struct pki_san *sans;
	json_object *subj = NULL;
	long long dflt;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = json_parse_strict(text, len, body, st)) != 0 ||
	    (rc = json_validate(*body, request_fields,
	         FP_ARRAY_LEN(request_fields), st)) != 0)
		return rc;
	if (json_object_object_get_ex(*body, "subject", &subj) &&
	    (rc = json_validate(subj, subject_fields,
	         FP_ARRAY_LEN(subject_fields), st)) != 0)
		return rc;
	sans = arena_alloc(req->arena, 3 * MAX_NAMES * sizeof(*sans));
	add_sans(req, *body, "domains", PKI_SAN_DNS, sans, &n);
	add_sans(req, *body, "ips", PKI_SAN_IP, sans, &n);
	add_sans(req, *body, "email_addresses", PKI_SAN_EMAIL, sans, &n);
	out->sans = sans;
	out->nsans = n;
	if (subj != NULL) {
		out->subject.o = json_get_str(subj, "organization", NULL);
		out->subject.c = json_get_str(subj, "country", NULL);
		out->subject.st = json_get_str(subj, "province", NULL);
		out->subject.l = json_get_str(subj, "locality", NULL);
		out->subject.street =
		    json_get_str(subj, "street_address", NULL);
		out->subject.postal = json_get_str(subj, "postal_code", NULL);
		out->subject.cn = json_get_str(subj, "common_name", NULL);
	}
	out->key_alg = json_get_str(*body, "key", NULL);
	if ((rc = core_setting_int(req->ctx, req->tenant.id,
	         "certmaker.default_days", &dflt)) != 0)
		return rc;
	out->days = (int)json_get_int(*body, "days", dflt);
	return 0;
}

/* A CSR request kept by a challenge: {"csr": PEM, "days": N}. */
static int
parse_kept_csr(struct http_req *req, const char *text, json_object **body,
    struct core_names_req *out, struct fp_status *st)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = json_parse_strict(text, strlen(text), body, st)) != 0 ||
	    (rc = json_validate(*body, csr_request_fields,
	         FP_ARRAY_LEN(csr_request_fields), st)) != 0)
		return rc;
	out->csr_pem = json_get_str(*body, "csr", &out->csr_len);
	out->days = (int)json_get_int(*body, "days", 0);
	return 0;
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

/*
 * The tenant asks for proof first: keep the request, answer 202 with the
 * token (text/plain) and where to solve it.
 */
static int
answer_challenge(struct http_req *req, struct http_resp *resp, const char *kind,
    const char *request, struct fp_status *st)
{
	struct challenge_rec ch;
	unsigned char rnd[16];
	long long ttl;
	char token[TOKEN_LEN + 1];
	int rc;

	if ((rc = core_setting_int(req->ctx, req->tenant.id,
	         "certmaker.challenge_ttl", &ttl)) != 0)
		return rc;
	memset(&ch, 0, sizeof(ch));
	ch.tenant_id = req->tenant.id;
	ch.user_id = req->user.id;
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), ch.public_id);
	auth_random_token(token, TOKEN_LEN);
	snprintf(ch.token, sizeof(ch.token), "%s", token);
	snprintf(ch.kind, sizeof(ch.kind), "%s", kind);
	ch.request = (char *)request;
	ch.expires_at = util_now() + ttl;
	if ((rc = store_challenge_insert(req->ctx->db, &ch)) != 0)
		return rc;
	resp_header(resp, "X-Challenge-Location", "%s",
	    location(req, "challenge", ch.public_id));
	resp_bytes(resp, 202, "text/plain", ch.token, strlen(ch.token));
	return 0;
}

static int
challenge_required(struct http_req *req, int *on)
{
	return core_setting_bool(req->ctx, req->tenant.id,
	    "certmaker.require_challenge", on);
}

int
certmaker_root(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca)) != 0)
		return rc == -FP_E_NOTFOUND
		    ? fp_fail(st, FP_E_NOTFOUND, "This tenant has no CA.")
		    : rc;
	resp_bytes(resp, 200, "application/x-pem-file", core_ca_pem(ca),
	    strlen(core_ca_pem(ca)));
	return 0;
}

/*
 * What a challenge keeps to issue later: the JSON request as sent, or for
 * a CSR request {"csr": PEM, "days": N} (parse_kept_csr reads it back).
 */
static const char *
kept_request(struct http_req *req, const struct core_names_req *nr)
{
	json_object *kept;
	const char *text;

	if (nr->csr_pem == NULL)
		return arena_strndup(req->arena, (const char *)req->body,
		    req->body_len);
	kept = json_object_new_object();
	json_object_object_add(kept, "csr",
	    json_object_new_string_len(nr->csr_pem, (int)nr->csr_len));
	json_object_object_add(kept, "days", json_object_new_int(nr->days));
	text = arena_strdup(req->arena,
	    json_object_to_json_string_ext(kept, JSON_C_TO_STRING_PLAIN));
	json_object_put(kept);
	return text;
}

/* Both requests end here: issue now, or answer 202 with a challenge. */
static int
issue_or_challenge(struct http_req *req, struct http_resp *resp,
    const struct core_names_req *nr, struct fp_status *st)
{
	struct cert_rec rec = { 0 };
	struct pki_san *sans = NULL;
	size_t nsans = 0;
	int rc, challenge;

	if ((rc = challenge_required(req, &challenge)) != 0)
		return rc;
	if (challenge) {
		/* Refuse now what would be refused after the proof. */
		if ((rc = core_names_check(req->ctx, &req->tenant, nr, &sans,
		         &nsans, st)) == 0)
			rc = answer_challenge(req, resp,
			    nr->csr_pem != NULL ? "csr" : "simple",
			    kept_request(req, nr), st);
		pki_sans_free(sans, nsans);
		return rc;
	}
	if ((rc = core_names_issue(req->ctx, &req->tenant, req->user.id, nr,
	         &rec, st)) == 0)
		answer_issued(req, resp, &rec);
	cert_rec_clear(&rec);
	return rc;
}

int
certmaker_request(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct core_names_req nr;
	json_object *body = NULL;
	int rc;

	if ((rc = parse_simple(req, (const char *)req->body, req->body_len,
	         &body, &nr, st)) == 0)
		rc = issue_or_challenge(req, resp, &nr, st);
	json_object_put(body);
	return rc;
}

int
certmaker_request_csr(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct core_names_req nr;
	const char *days = http_query(req, "days");
	long long d;
	int rc;

	memset(&nr, 0, sizeof(nr));
	nr.csr_pem = (const char *)req->body;
	nr.csr_len = req->body_len;
	if (days != NULL) {
		if (util_parse_int(days, 1, 3650, &d) != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "days must be a positive integer.");
	} else if ((rc = core_setting_int(req->ctx, req->tenant.id,
	                "certmaker.default_days", &d)) != 0) {
		return rc;
	}
	nr.days = (int)d;
	return issue_or_challenge(req, resp, &nr, st);
}

/*
 * A serial as clients write it (any case, colons allowed) in the form we
 * store: upper-case hex.  NULL when it is not one.
 */
static const char *
serial_param(struct http_req *req, const char *in)
{
	char *out = arena_alloc(req->arena, strlen(in) + 1), *o = out;

	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in))
			return NULL;
		*o++ = (char)toupper((unsigned char)*in);
	}
	*o = '\0';
	return o - out >= 2 && o - out <= 40 ? out : NULL;
}

/* The caller's certificate (an admin: any of the tenant's), else 404. */
static int
own_cert(struct http_req *req, struct cert_rec *rec, struct fp_status *st)
{
	const char *serial = serial_param(req, req->params[0]);
	int rc;

	if (serial == NULL)
		return fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	rc = store_cert_by_serial(req->ctx->db, req->tenant.id, serial, rec);
	if (rc == 0 && !req->user.is_admin && rec->user_id != req->user.id) {
		cert_rec_clear(rec);
		rc = -FP_E_NOTFOUND;
	}
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	return rc;
}

int
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

int
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
out:
	buf_free_secret(&pem);
	cert_rec_clear(&rec);
	return rc;
}

/* X-Challenge-Port, or the X-Validation-Port the original server read. */
static int
challenge_port(struct http_req *req, int *port, struct fp_status *st)
{
	const char *v = http_header(req, "X-Challenge-Port");
	long long p;

	if (v == NULL)
		v = http_header(req, "X-Validation-Port");
	*port = 80;
	if (v == NULL)
		return 0;
	if (util_parse_int(v, 1, 65535, &p) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "X-Challenge-Port must be a port number.");
	*port = (int)p;
	return 0;
}

int
certmaker_challenge_solve(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct challenge_rec ch = { 0 };
	struct core_names_req nr;
	struct cert_rec rec = { 0 };
	struct pki_san *csr_sans = NULL;
	json_object *body = NULL;
	const char *id = req->params[0];
	size_t ncsr = 0;
	int rc, port, claimed = 0;

	if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
		return fp_fail(st, FP_E_NOTFOUND, "No such challenge.");
	rc = store_challenge_get(req->ctx->db, req->tenant.id, id, &ch);
	/* Another user's challenge is as good as none, admins included. */
	if (rc == 0 && ch.user_id != req->user.id)
		rc = -FP_E_NOTFOUND;
	if (rc == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_NOTFOUND, "No such challenge.");
	if (rc != 0)
		goto out;
	if (ch.serial[0] != '\0') {
		/* Solved before: the same answer again. */
		if ((rc = store_cert_by_serial(req->ctx->db, req->tenant.id,
		         ch.serial, &rec)) != 0)
			goto out;
		answer_issued(req, resp, &rec);
		goto out;
	}
	if (util_now() >= ch.expires_at) {
		rc = fp_fail(st, FP_E_GONE, "The challenge has expired.");
		goto out;
	}
	if ((rc = challenge_port(req, &port, st)) != 0)
		goto out;
	rc = strcmp(ch.kind, "csr") == 0
	    ? parse_kept_csr(req, ch.request, &body, &nr, st)
	    : parse_simple(req, ch.request, strlen(ch.request), &body, &nr, st);
	if (rc != 0 ||
	    (rc = core_names_check(req->ctx, &req->tenant, &nr, &csr_sans,
	         &ncsr, st)) != 0)
		goto out;
	if ((rc = core_challenge_verify(req->ctx, ncsr > 0 ? csr_sans : nr.sans,
	         ncsr > 0 ? ncsr : nr.nsans, port, ch.token, st)) != 0)
		goto out;
	/* Only one concurrent solver issues. */
	rc = store_challenge_claim(req->ctx->db, ch.id);
	if (rc == -FP_E_CONFLICT)
		rc = fp_fail(st, FP_E_CONFLICT,
		    "The challenge is being solved; try again.");
	if (rc != 0)
		goto out;
	claimed = 1;
	if ((rc = core_names_issue(req->ctx, &req->tenant, req->user.id, &nr,
	         &rec, st)) != 0)
		goto out;
	if ((rc = store_challenge_finish(req->ctx->db, ch.id, rec.serial)) != 0)
		goto out;
	claimed = 0;
	answer_issued(req, resp, &rec);
out:
	if (claimed)
		(void)store_challenge_finish(req->ctx->db, ch.id, NULL);
	pki_sans_free(csr_sans, ncsr);
	json_object_put(body);
	challenge_rec_clear(&ch);
	cert_rec_clear(&rec);
	return rc;
}

int
certmaker_revoke(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	json_object *body = NULL, *obj;
	const char *serial, *reason_name;
	int rc, reason = 0;

	if ((rc = json_parse_strict((const char *)req->body, req->body_len,
	         &body, st)) != 0 ||
	    (rc = json_validate(body, revoke_fields,
	         FP_ARRAY_LEN(revoke_fields), st)) != 0)
		goto out;
	if ((serial = serial_param(req, json_get_str(body, "serial", NULL))) ==
	    NULL) {
		rc = fp_fail(st, FP_E_BADREQ,
		    "serial must be a hexadecimal "
		    "certificate serial number.");
		goto out;
	}
	if ((reason_name = json_get_str(body, "reason", NULL)) != NULL) {
		reason = pki_reason_from_name(reason_name);
		/* removeFromCRL belongs to delta CRLs, never to a revocation. */
		if (reason < 0 || reason == 8) {
			rc = fp_fail(st, FP_E_BADREQ,
			    "Unknown reason '%.32s': "
			    "use an RFC 5280 name such as keyCompromise, "
			    "superseded or cessationOfOperation.",
			    reason_name);
			goto out;
		}
	}
	rc = core_cert_revoke(req->ctx, &req->tenant, serial, reason,
	    req->user.is_admin ? 0 : req->user.id);
	if (rc == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_NOTFOUND, "No such certificate.");
	else if (rc == -FP_E_GONE)
		rc = fp_fail(st, FP_E_GONE,
		    "The certificate is already revoked.");
	if (rc != 0)
		goto out;
	obj = json_object_new_object();
	json_object_object_add(obj, "serial", json_object_new_string(serial));
	json_object_object_add(obj, "revoked", json_object_new_boolean(1));
	resp_json(resp, 200, obj);
out:
	json_object_put(body);
	return rc;
}
