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
#include <stddef.h>
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

/* A JSON body holding a 65536-character PEM, escaped, fits in this. */
#define BODY_CSR_JSON (128 * 1024)

/* POST /certificates takes exactly {"csr": "<PEM>"}. */
struct create_in {
	const char *csr;
	const char *idem_key; /* Idempotency-Key, or NULL */
};

static const struct json_field create_fields[] = {
	{ "csr", JF_STRING, 1, 1, CSR_MAX_LEN, 0,
	    offsetof(struct create_in, csr), NULL },
};
static const struct json_schema create_schema =
    JSON_SCHEMA(struct create_in, create_fields);

static const char *const json_types[] = { "application/json", NULL };
static const struct route_body create_body = { BODY_CSR_JSON, json_types, 1,
	&create_schema, 0 };

/* GET /certificates?page&limit&fields&keyVal, GET/DELETE .../{fp}. */
struct cert_in {
	struct json_int page, limit;
	const char *fields; /* "a,b.c", or NULL */
	const char *keyval; /* "k=v,k2=v2", or NULL */
	const char *fpr; /* the path's fingerprint, normalised */
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

/* How a keyVal value of a key is read into the store's filter. */
enum xkind {
	XF_NONE, /* projection only: not a filter */
	XF_TEXT, /* compared as given */
	XF_FPR, /* a fingerprint, normalised like the path's */
	XF_BOOL, /* "true" or "false" */
	XF_TENANT, /* always the caller's own: matches or not */
};

static const struct xkey_def {
	const char *name;
	enum xkind kind;
	size_t slot; /* offsetof in struct cert_filter */
} xkeys[XK__COUNT] = {
	[XK_FINGERPRINT] = { "fingerprint", XF_FPR,
	    offsetof(struct cert_filter, fingerprint) },
	[XK_CA_FINGERPRINT] = { "caFingerprint", XF_FPR,
	    offsetof(struct cert_filter, ca_fingerprint) },
	[XK_PEM] = { "pem", XF_TEXT, offsetof(struct cert_filter, pem) },
	[XK_SUBJECT] = { "subjectDN", XF_TEXT,
	    offsetof(struct cert_filter, subject) },
	[XK_VALIDITY] = { "validity", XF_NONE, 0 },
	[XK_NOT_BEFORE] = { "validity.notBefore", XF_TEXT,
	    offsetof(struct cert_filter, not_before) },
	[XK_NOT_AFTER] = { "validity.notAfter", XF_TEXT,
	    offsetof(struct cert_filter, not_after) },
	[XK_CREATED] = { "createdAt", XF_TEXT,
	    offsetof(struct cert_filter, created_at) },
	[XK_MODIFIED] = { "modifiedAt", XF_TEXT,
	    offsetof(struct cert_filter, modified_at) },
	[XK_ISSUED] = { "issuedByDojotPki", XF_BOOL,
	    offsetof(struct cert_filter, issued_by_pki) },
	[XK_AUTOREG] = { "autoRegistered", XF_BOOL,
	    offsetof(struct cert_filter, auto_registered) },
	[XK_BELONGS] = { "belongsTo", XF_NONE, 0 },
	[XK_BELONGS_DEVICE] = { "belongsTo.device", XF_TEXT,
	    offsetof(struct cert_filter, belongs_device) },
	[XK_BELONGS_APP] = { "belongsTo.application", XF_TEXT,
	    offsetof(struct cert_filter, belongs_application) },
	[XK_TENANT] = { "tenant", XF_TENANT, 0 },
};

static int
xkey_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < XK__COUNT; i++)
		if (strlen(xkeys[i].name) == len &&
		    memcmp(xkeys[i].name, name, len) == 0)
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
parse_fields(const char *fields, unsigned char want[XK__COUNT], int *given,
    struct fp_status *st)
{
	const char *p, *comma;
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
 * values are normalised like path parameters.  '*none' is set when a
 * pair can match no certificate at all (another tenant's name): that
 * holds whatever the other pairs say, in whatever order they come.
 */
static int
parse_keyval(struct http_req *req, const char *kv, struct cert_filter *f,
    int *none, struct fp_status *st)
{
	const struct xkey_def *d;
	const char *p, *comma, *eq, *val;
	size_t len;
	char *fpr;
	int k;

	memset(f, 0, sizeof(*f));
	*none = 0;
	if (kv == NULL)
		return 0;
	for (p = kv; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if ((eq = memchr(p, '=', len)) == NULL)
			return fp_fail(st, FP_E_BADREQ,
			    "keyVal must be key=value pairs separated by commas.");
		k = xkey_find(p, (size_t)(eq - p));
		if (k < 0 || xkeys[k].kind == XF_NONE)
			return fp_fail(st, FP_E_BADREQ,
			    "The keyVal key is not valid: %.*s",
			    (int)((eq - p) > 64 ? 64 : (eq - p)), p);
		d = &xkeys[k];
		val = arena_strndup(req->arena, eq + 1, len - (eq - p) - 1);
		switch (d->kind) {
		case XF_TENANT:
			/* Only the caller's own tenant has rows to see. */
			if (strcmp(val, req->tenant.name) != 0)
				*none = 1;
			continue;
		case XF_BOOL:
			if (strcmp(val, "true") != 0 &&
			    strcmp(val, "false") != 0)
				return fp_fail(st, FP_E_BADREQ,
				    "%s must be true or false.", d->name);
			break;
		case XF_FPR:
			fpr = arena_alloc(req->arena, PKI_FPR_LEN);
			/* A malformed fingerprint matches no certificate. */
			if (pki_fingerprint_normalize(val, fpr) != 0)
				*none = 1;
			val = fpr;
			break;
		case XF_TEXT:
		case XF_NONE:
			break;
		}
		*(const char **)(void *)((char *)f + d->slot) = val;
	}
	return 0;
}

/* The paging link for 'page', keeping the caller's fields and keyVal. */
static json_object *
page_link(struct http_req *req, int64_t page, int limit)
{
	const struct cert_in *in = req->in;
	json_object *o = json_object_new_object();
	const char *fields = in->fields, *kv = in->keyval;
	char *url;

	url = arena_printf(req->arena,
	    "/x509/v1/certificates?page=%" PRId64 "&limit=%d", page, limit);
	/* Re-encode what was decoded; values are short and URL-safe mostly. */
	if (fields != NULL)
		url = arena_printf(req->arena, "%s&fields=%s", url, fields);
	if (kv != NULL) {
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
x509api_cert_create(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct create_in *in = req->in;
	struct cert_rec rec = { 0 };
	struct core_idem idem;
	json_object *obj;
	int rc;

	if ((rc = http_idem(req, in->idem_key, &idem)) != 0 ||
	    (rc = core_issue_device_csr(req->ctx, &req->tenant, in->csr,
	         strlen(in->csr), &idem, &rec, st)) != 0)
		goto out;
	if (idem.replayed)
		resp_header(resp, "Idempotent-Replayed", "true");
	obj = json_object_new_object();
	json_object_object_add(obj, "certificateFingerprint",
	    json_object_new_string(rec.fingerprint));
	json_object_object_add(obj, "certificatePem",
	    json_object_new_string(rec.pem));
	resp_json(resp, 201, obj);
out:
	cert_rec_clear(&rec);
	return rc;
}

static int
x509api_cert_list(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct cert_in *in = req->in;
	int64_t page = in->page.set ? in->page.v : 1;
	int64_t limit = in->limit.set ? in->limit.v : PAGE_DEFAULT;
	unsigned char want[XK__COUNT];
	struct cert_filter filter;
	struct cert_rec *recs = NULL;
	json_object *obj, *paging, *list;
	int64_t total = 0, pages;
	size_t n = 0, i;
	int rc, given, none;

	if ((rc = parse_fields(in->fields, want, &given, st)) != 0 ||
	    (rc = parse_keyval(req, in->keyval, &filter, &none, st)) != 0)
		goto out;
	if (!none)
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

static int
not_found(const char *fpr, struct fp_status *st)
{
	return fp_fail(st, FP_E_NOTFOUND,
	    "No records found for the following parameters: "
	    "{\"fingerprint\":\"%.100s\"}",
	    fpr);
}

/* The fingerprint path parameter, normalised; 404 when malformed. */
static int
path_fingerprint(struct arena *a, const char *in, const char **out,
    struct fp_status *st)
{
	char *fpr = arena_alloc(a, PKI_FPR_LEN);

	if (pki_fingerprint_normalize(in, fpr) != 0)
		return not_found(in, st);
	*out = fpr;
	return 0;
}

static int
x509api_cert_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct cert_in *in = req->in;
	unsigned char want[XK__COUNT];
	struct cert_rec rec = { 0 };
	int rc, given;

	if ((rc = parse_fields(in->fields, want, &given, st)) != 0)
		goto out;
	rc = store_cert_get(req->ctx->db, req->tenant.id, in->fpr, &rec);
	if (rc == -FP_E_NOTFOUND)
		rc = not_found(in->fpr, st);
	if (rc != 0)
		goto out;
	resp_json(resp, 200, cert_json(&rec, given ? want : NULL));
out:
	cert_rec_clear(&rec);
	return rc;
}

static int
x509api_cert_delete(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct cert_in *in = req->in;
	int rc;

	rc = core_cert_delete(req->ctx, &req->tenant, in->fpr);
	if (rc == -FP_E_NOTFOUND)
		return not_found(in->fpr, st);
	if (rc != 0)
		return rc;
	resp_empty(resp, 204);
	return 0;
}

static int
x509api_ca_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	json_object *obj;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca, st)) != 0)
		return rc;
	obj = json_object_new_object();
	json_object_object_add(obj, "certificateFingerprint",
	    json_object_new_string(core_ca_fingerprint(ca)));
	json_object_object_add(obj, "caPem",
	    json_object_new_string(core_ca_pem(ca)));
	resp_json(resp, 200, obj);
	return 0;
}

static int
x509api_crl_get(struct http_req *req, struct http_resp *resp,
    struct fp_status *st)
{
	const struct core_ca *ca;
	struct crl_rec crl = { 0 };
	struct buf pem = BUF_INIT;
	json_object *obj;
	int rc;

	if ((rc = core_ca_default(req->ctx, req->tenant.id, &ca, st)) != 0 ||
	    (rc = core_crl_current(req->ctx, req->tenant.id, core_ca_id(ca),
	         false, &crl)) != 0 ||
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

/* ---- the routes --------------------------------------------------- */

#define CERT_FIELDS                                                            \
	IN_STR_FIELD(QUERY, "fields", struct cert_in, fields, 0,               \
	    IN_EMPTY_ABSENT, NULL)
#define CERT_FPR                                                               \
	IN_STR_FIELD(PATH, "fingerprint", struct cert_in, fpr, 0, 0,           \
	    path_fingerprint)

static const struct in_field list_params[] = {
	IN_INT_FIELD(QUERY, "page", struct cert_in, page, 1, 1LL << 40,
	    IN_EMPTY_ABSENT, "page must be a positive integer."),
	IN_INT_FIELD(QUERY, "limit", struct cert_in, limit, 1, PAGE_MAX,
	    IN_EMPTY_ABSENT | IN_CLAMP, "limit must be a positive integer."),
	CERT_FIELDS,
	IN_STR_FIELD(QUERY, "keyVal", struct cert_in, keyval, 0,
	    IN_EMPTY_ABSENT, NULL),
};
static const struct in_schema list_schema = IN_SCHEMA(list_params);

static const struct in_field create_params[] = {
	IN_STR_FIELD(HEADER, "Idempotency-Key", struct create_in, idem_key, 0,
	    0, http_idem_key),
};
static const struct in_schema create_schema_params = IN_SCHEMA(create_params);

static const struct in_field get_params[] = { CERT_FIELDS, CERT_FPR };
static const struct in_schema get_schema = IN_SCHEMA(get_params);

static const struct in_field delete_params[] = { CERT_FPR };
static const struct in_schema delete_schema = IN_SCHEMA(delete_params);

static const struct route routes[] = {
	{ "POST", "/x509/v1/certificates", x509api_cert_create, AUTH_BEARER,
	    &create_body, &create_schema_params, sizeof(struct create_in) },
	{ "GET", "/x509/v1/certificates", x509api_cert_list, AUTH_BEARER, NULL,
	    &list_schema, sizeof(struct cert_in) },
	{ "GET", "/x509/v1/certificates/{}", x509api_cert_get, AUTH_BEARER,
	    NULL, &get_schema, sizeof(struct cert_in) },
	{ "DELETE", "/x509/v1/certificates/{}", x509api_cert_delete,
	    AUTH_BEARER, NULL, &delete_schema, sizeof(struct cert_in) },
	{ "GET", "/x509/v1/ca", x509api_ca_get, AUTH_BEARER, NULL, NULL, 0 },
	{ "GET", "/x509/v1/ca/crl", x509api_crl_get, AUTH_BEARER, NULL, NULL,
	    0 },
};

const struct route_group x509api_routes = ROUTE_GROUP("x509", routes, NULL);
