/*
 * x509api: the X.509 identity API (x509-identity.txt), under /x509/v1.
 *
 *   POST   /certificates            sign a CSR into a device certificate
 *   GET    /certificates            page, project (fields), filter (keyVal)
 *   GET    /certificates/{fp}       one certificate
 *   DELETE /certificates/{fp}       remove and revoke
 *   GET    /ca                      the tenant's CA
 *   GET    /ca/crl                  its current CRL
 *
 * The bearer token's tenant scopes everything: another tenant's
 * certificate is "not found", never "forbidden".
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fleetpki/api.h"
#include "fleetpki/arena.h"
#include "fleetpki/buf.h"
#include "fleetpki/core.h"
#include "fleetpki/http.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define PAGE_DEFAULT 25
#define PAGE_MAX 250
#define CSR_MAX_LEN 65536

/* POST /certificates takes exactly {"csr": "<PEM>"}. */
static const struct json_field create_fields[] = {
	{ "csr", JF_STRING, 1, 1, CSR_MAX_LEN, 0 },
};

/*
 * The record keys clients may project (fields) and filter (keyVal) on,
 * each with the filter slot it sets.  "validity" and "belongsTo" project
 * whole sub-objects; their dotted members project and filter singly.
 */
enum xkey {
	XK_FINGERPRINT,
	XK_CA_FINGERPRINT,
	XK_PEM,
	XK_SUBJECT,
	XK_VALIDITY,
	XK_NOT_BEFORE,
	XK_NOT_AFTER,
	XK_CREATED,
	XK_MODIFIED,
	XK_ISSUED,
	XK_AUTOREG,
	XK_BELONGS,
	XK_BELONGS_DEVICE,
	XK_BELONGS_APP,
	XK_TENANT,
	XK__COUNT
};

static const char *const xkey_names[XK__COUNT] = {
	"fingerprint",
	"caFingerprint",
	"pem",
	"subjectDN",
	"validity",
	"validity.notBefore",
	"validity.notAfter",
	"createdAt",
	"modifiedAt",
	"issuedByDojotPki",
	"autoRegistered",
	"belongsTo",
	"belongsTo.device",
	"belongsTo.application",
	"tenant",
};

static int
xkey_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < XK__COUNT; i++)
		if (strlen(xkey_names[i]) == len &&
		    memcmp(xkey_names[i], name, len) == 0)
			return i;
	return -1;
}

static json_object *
json_time(int64_t ms)
{
	char text[32];

	util_iso8601_ms(ms, text);
	return json_object_new_string(text);
}

/* The record as the spec shows it, limited to 'want' (NULL = all keys). */
static json_object *
cert_json(const struct cert_rec *c, const unsigned char *want)
{
	json_object *o = json_object_new_object(), *sub;
	int all = want == NULL;

#define WANT(k) (all || want[k])
	if (WANT(XK_FINGERPRINT))
		json_object_object_add(o, "fingerprint",
		    json_object_new_string(c->fingerprint));
	if (WANT(XK_CA_FINGERPRINT))
		json_object_object_add(o, "caFingerprint",
		    json_object_new_string(c->ca_fingerprint));
	if (WANT(XK_PEM))
		json_object_object_add(o, "pem",
		    json_object_new_string(c->pem));
	if (WANT(XK_SUBJECT))
		json_object_object_add(o, "subjectDN",
		    json_object_new_string(c->subject));
	if (WANT(XK_VALIDITY) || WANT(XK_NOT_BEFORE) || WANT(XK_NOT_AFTER)) {
		sub = json_object_new_object();
		if (WANT(XK_VALIDITY) || WANT(XK_NOT_BEFORE))
			json_object_object_add(sub, "notBefore",
			    json_time(c->not_before * 1000));
		if (WANT(XK_VALIDITY) || WANT(XK_NOT_AFTER))
			json_object_object_add(sub, "notAfter",
			    json_time(c->not_after * 1000));
		json_object_object_add(o, "validity", sub);
	}
	if (WANT(XK_ISSUED))
		json_object_object_add(o, "issuedByDojotPki",
		    json_object_new_boolean(c->issued_by_pki));
	if (WANT(XK_AUTOREG))
		json_object_object_add(o, "autoRegistered",
		    json_object_new_boolean(c->auto_registered));
	if (WANT(XK_BELONGS) || WANT(XK_BELONGS_DEVICE) ||
	    WANT(XK_BELONGS_APP)) {
		sub = json_object_new_object();
		if ((WANT(XK_BELONGS) || WANT(XK_BELONGS_DEVICE)) &&
		    c->belongs_device != NULL)
			json_object_object_add(sub, "device",
			    json_object_new_string(c->belongs_device));
		if ((WANT(XK_BELONGS) || WANT(XK_BELONGS_APP)) &&
		    c->belongs_application != NULL)
			json_object_object_add(sub, "application",
			    json_object_new_string(c->belongs_application));
		json_object_object_add(o, "belongsTo", sub);
	}
	if (WANT(XK_TENANT))
		json_object_object_add(o, "tenant",
		    json_object_new_string(c->tenant_name));
	if (WANT(XK_CREATED))
		json_object_object_add(o, "createdAt",
		    json_time(c->created_ms));
	if (WANT(XK_MODIFIED))
		json_object_object_add(o, "modifiedAt",
		    json_time(c->modified_ms));
#undef WANT
	return o;
}

/*
 * Parse "fields=a,b.c" into 'want'.  Unknown names: 400 "The fields
 * provided are not valid: [...]", listing the offenders.
 */
static int
parse_fields(struct http_req *req, unsigned char want[XK__COUNT], int *given,
    struct fp_status *st)
{
	const char *fields = http_query(req, "fields"), *p, *comma;
	struct buf bad = BUF_INIT;
	size_t len;
	int k, rc = 0;

	memset(want, 0, XK__COUNT);
	*given = fields != NULL && *fields != '\0';
	if (!*given)
		return 0;
	for (p = fields; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if ((k = xkey_find(p, len)) >= 0) {
			want[k] = 1;
			continue;
		}
		buf_printf(&bad, "%s%.*s", bad.len > 0 ? ", " : "",
		    (int)(len > 64 ? 64 : len), p);
	}
	if (bad.len > 0)
		rc = fp_fail(st, FP_E_BADREQ,
		    "The fields provided are not valid: [%s]",
		    (const char *)bad.data);
	buf_free(&bad);
	return rc;
}

/*
 * Parse "keyVal=k=v,k2=v2" into the store's filter.  The fingerprint
 * values are normalised like path parameters.
 */
static int
parse_keyval(struct http_req *req, struct cert_filter *f, struct fp_status *st)
{
	const char *kv = http_query(req, "keyVal"), *p, *comma, *eq;
	const char **slot, *val;
	size_t len;
	char *fpr;
	int k;

	memset(f, 0, sizeof(*f));
	if (kv == NULL || *kv == '\0')
		return 0;
	for (p = kv; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if ((eq = memchr(p, '=', len)) == NULL)
			return fp_fail(st, FP_E_BADREQ,
			    "keyVal must be key=value pairs separated by commas.");
		k = xkey_find(p, (size_t)(eq - p));
		val = arena_strndup(req->arena, eq + 1, len - (eq - p) - 1);
		switch (k) {
		case XK_FINGERPRINT:
			slot = &f->fingerprint;
			break;
		case XK_CA_FINGERPRINT:
			slot = &f->ca_fingerprint;
			break;
		case XK_PEM:
			slot = &f->pem;
			break;
		case XK_SUBJECT:
			slot = &f->subject;
			break;
		case XK_NOT_BEFORE:
			slot = &f->not_before;
			break;
		case XK_NOT_AFTER:
			slot = &f->not_after;
			break;
		case XK_CREATED:
			slot = &f->created_at;
			break;
		case XK_MODIFIED:
			slot = &f->modified_at;
			break;
		case XK_ISSUED:
			slot = &f->issued_by_pki;
			break;
		case XK_AUTOREG:
			slot = &f->auto_registered;
			break;
		case XK_BELONGS_DEVICE:
			slot = &f->belongs_device;
			break;
		case XK_BELONGS_APP:
			slot = &f->belongs_application;
			break;
		case XK_TENANT:
			/* Always the caller's own tenant: nothing to narrow. */
			if (strcmp(val, req->tenant.name) != 0)
				f->fingerprint = ""; /* matches nothing */
			continue;
		default:
			return fp_fail(st, FP_E_BADREQ,
			    "The keyVal key is not valid: %.*s",
			    (int)((eq - p) > 64 ? 64 : (eq - p)), p);
		}
		if ((k == XK_ISSUED || k == XK_AUTOREG) &&
		    strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "%s must be true or false.", xkey_names[k]);
		if (k == XK_FINGERPRINT || k == XK_CA_FINGERPRINT) {
			fpr = arena_alloc(req->arena, PKI_FPR_LEN);
			/* A malformed fingerprint matches no certificate. */
			val =
			    pki_fingerprint_normalize(val, fpr) == 0 ? fpr : "";
		}
		*slot = val;
	}
	return 0;
}

/* The paging link for 'page', keeping the caller's fields and keyVal. */
static json_object *
page_link(struct http_req *req, int64_t page, int limit)
{
	json_object *o = json_object_new_object();
	const char *fields = http_query(req, "fields");
	const char *kv = http_query(req, "keyVal");
	char *url;

	url = arena_printf(req->arena,
	    "/x509/v1/certificates?page=%" PRId64 "&limit=%d", page, limit);
	/* Re-encode what was decoded; values are short and URL-safe mostly. */
	if (fields != NULL && *fields != '\0')
		url = arena_printf(req->arena, "%s&fields=%s", url, fields);
	if (kv != NULL && *kv != '\0') {
		struct buf enc = BUF_INIT;
		const char *c;

		for (c = kv; *c != '\0'; c++) {
			if ((*c >= 'A' && *c <= 'Z') ||
			    (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || strchr("-_.~,:", *c))
				buf_append(&enc, c, 1);
			else
				buf_printf(&enc, "%%%02X", (unsigned char)*c);
		}
		url = arena_printf(req->arena, "%s&keyVal=%s", url,
		    enc.data != NULL ? (const char *)enc.data : "");
		buf_free(&enc);
	}
	json_object_object_add(o, "number", json_object_new_int64(page));
	json_object_object_add(o, "url", json_object_new_string(url));
	return o;
}

static int
query_int(struct http_req *req, const char *name, long long dflt, long long max,
    long long *out, struct fp_status *st)
{
	const char *v = http_query(req, name);

	*out = dflt;
	if (v == NULL || *v == '\0')
		return 0;
	if (util_parse_int(v, 1, 1LL << 40, out) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "%s must be a positive integer.", name);
	if (*out > max)
		*out = max;
	return 0;
}

int
x509api_cert_create(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	struct cert_rec rec = { 0 };
	json_object *body = NULL, *obj;
	const char *csr;
	size_t csr_len;
	int rc;

	if (req->content_type != NULL &&
	    strncmp(req->content_type, "application/json", 16) != 0)
		return fp_fail(st, FP_E_MEDIATYPE,
		    "Content-Type must be application/json.");
	if ((rc = json_parse_strict((const char *)req->body, req->body_len,
	         &body, st)) != 0)
		goto out;
	if ((rc = json_validate(body, create_fields,
	         FP_ARRAY_LEN(create_fields), st)) != 0)
		goto out;
	csr = json_get_str(body, "csr", &csr_len);
	if ((rc = core_issue_device_csr(req->ctx, &req->tenant, csr, csr_len,
	         &rec, st)) != 0)
		goto out;
	obj = json_object_new_object();
	json_object_object_add(obj, "certificateFingerprint",
	    json_object_new_string(rec.fingerprint));
	json_object_object_add(obj, "certificatePem",
	    json_object_new_string(rec.pem));
	resp_json(resp, 201, obj);
out:
	json_object_put(body);
	cert_rec_clear(&rec);
	return rc;
}

int
x509api_cert_list(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	unsigned char want[XK__COUNT];
	struct cert_filter filter;
	struct cert_rec *recs = NULL;
	json_object *obj, *paging, *list;
	long long page, limit;
	int64_t total = 0, pages;
	size_t n = 0, i;
	int rc, given;

	if ((rc = query_int(req, "page", 1, 1LL << 40, &page, st)) != 0 ||
	    (rc = query_int(req, "limit", PAGE_DEFAULT, PAGE_MAX, &limit,
	         st)) != 0 ||
	    (rc = parse_fields(req, want, &given, st)) != 0 ||
	    (rc = parse_keyval(req, &filter, st)) != 0)
		goto out;
	rc = store_cert_page(req->ctx->db, req->tenant.id, &filter,
	    (page - 1) * limit, (int)limit, &recs, &n, &total);
	/* The store refuses only a value of the wrong form (a date). */
	if (rc == -FP_E_BADREQ)
		rc = fp_fail(st, FP_E_BADREQ,
		    "A keyVal value is not valid: "
		    "dates are ISO 8601, e.g. 2026-01-31T12:00:00.000Z.");
	if (rc != 0)
		goto out;
	pages = (total + limit - 1) / limit;

	paging = json_object_new_object();
	json_object_object_add(paging, "previous",
	    page > 1 ? page_link(req, page - 1, (int)limit) : NULL);
	json_object_object_add(paging, "current",
	    page_link(req, page, (int)limit));
	json_object_object_add(paging, "next",
	    page < pages ? page_link(req, page + 1, (int)limit) : NULL);
	json_object_object_add(paging, "totalItems",
	    json_object_new_int64(total));
	json_object_object_add(paging, "totalPages",
	    json_object_new_int64(pages));
	json_object_object_add(paging, "limitPerPage",
	    json_object_new_int64(limit));
	list = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++)
		json_object_array_add(list,
		    cert_json(&recs[i], given ? want : NULL));
	obj = json_object_new_object();
	json_object_object_add(obj, "paging", paging);
	json_object_object_add(obj, "certificates", list);
	resp_json(resp, 200, obj);
out:
	store_cert_array_free(recs, n);
	return rc;
}

/* The fingerprint path parameter, normalised; 404 text when malformed. */
static int
path_fingerprint(struct http_req *req, char out[PKI_FPR_LEN],
    struct fp_status *st)
{
	if (pki_fingerprint_normalize(req->params[0], out) != 0)
		return fp_fail(st, FP_E_NOTFOUND,
		    "No records found for the following parameters: "
		    "{\"fingerprint\":\"%.100s\"}",
		    req->params[0]);
	return 0;
}

static int
not_found(const char *fpr, struct fp_status *st)
{
	return fp_fail(st, FP_E_NOTFOUND,
	    "No records found for the following parameters: "
	    "{\"fingerprint\":\"%s\"}",
	    fpr);
}

int
x509api_cert_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	unsigned char want[XK__COUNT];
	struct cert_rec rec = { 0 };
	char fpr[PKI_FPR_LEN];
	int rc, given;

	if ((rc = parse_fields(req, want, &given, st)) != 0 ||
	    (rc = path_fingerprint(req, fpr, st)) != 0)
		goto out;
	rc = store_cert_get(req->ctx->db, req->tenant.id, fpr, &rec);
	if (rc == -FP_E_NOTFOUND)
		rc = not_found(fpr, st);
	if (rc != 0)
		goto out;
	resp_json(resp, 200, cert_json(&rec, given ? want : NULL));
out:
	cert_rec_clear(&rec);
	return rc;
}

int
x509api_cert_delete(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	char fpr[PKI_FPR_LEN];
	int rc;

	if ((rc = path_fingerprint(req, fpr, st)) != 0)
		return rc;
	rc = core_cert_delete(req->ctx, &req->tenant, fpr);
	if (rc == -FP_E_NOTFOUND)
		return not_found(fpr, st);
	if (rc != 0)
		return rc;
	resp_empty(resp, 204);
	return 0;
}

int
x509api_ca_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	json_object *obj;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca)) != 0)
		return rc == -FP_E_NOTFOUND
		    ? fp_fail(st, FP_E_NOTFOUND, "This tenant has no CA.")
		    : rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "certificateFingerprint",
	    json_object_new_string(core_ca_fingerprint(ca)));
	json_object_object_add(obj, "caPem",
	    json_object_new_string(core_ca_pem(ca)));
	resp_json(resp, 200, obj);
	return 0;
}

int
x509api_crl_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	struct crl_rec crl = { 0 };
	struct buf pem = BUF_INIT;
	json_object *obj;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca)) != 0) {
		if (rc == -FP_E_NOTFOUND)
			rc = fp_fail(st, FP_E_NOTFOUND,
			    "This tenant has no CA.");
		goto out;
	}
	if ((rc = core_crl_current(req->ctx, req->tenant.id, core_ca_id(ca),
	         &crl)) != 0 ||
	    (rc = core_crl_pem(&crl, &pem)) != 0)
		goto out;
	obj = json_object_new_object();
	json_object_object_add(obj, "crl",
	    json_object_new_string((const char *)pem.data));
	resp_json(resp, 200, obj);
out:
	crl_rec_clear(&crl);
	buf_free(&pem);
	return rc;
}
