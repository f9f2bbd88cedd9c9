/*
 * acme: JWK, key authorizations, signed requests and the CA's answers
 * (acme.h).  Requests go through net_http_request, so the address check,
 * the caps and the timeouts of every outbound fetch hold for the CA.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/acme.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/jws.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

#define ACME_TIMEOUT_MS 30000
#define ACME_CONNECT_TIMEOUT_MS 10000
/* A chain of a few certificates, a directory, an order: far less. */
#define ACME_MAX_BODY (1024 * 1024)
#define ACME_JSON_FLAGS                                                        \
	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---- JWK, thumbprint, key authorization --------------------------- */

static void
b64url_bn(const BIGNUM *bn, struct buf *out)
{
	unsigned char raw[32];

	BN_bn2binpad(bn, raw, sizeof(raw));
	b64url_encode(raw, sizeof(raw), out);
}

int
acme_jwk(EVP_PKEY *key, struct buf *out)
{
	BIGNUM *x = NULL, *y = NULL;
	int rc = -FP_E_INTERNAL;

	if (!jws_key_is_p256(key) ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
		log_ossl_errors("acme_jwk");
		goto out;
	}
	buf_puts(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
	b64url_bn(x, out);
	buf_puts(out, "\",\"y\":\"");
	b64url_bn(y, out);
	buf_puts(out, "\"}");
	rc = 0;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

static void
b64url_sha256(const void *data, size_t len, char out[ACME_THUMB_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct buf b = BUF_INIT;

	SHA256(data, len, md);
	b64url_encode(md, sizeof(md), &b);
	snprintf(out, ACME_THUMB_LEN + 1, "%.*s", (int)b.len,
	    (const char *)b.data);
	buf_free(&b);
}

void
acme_jwk_thumbprint(const char *jwk, char out[ACME_THUMB_LEN + 1])
{
	b64url_sha256(jwk, strlen(jwk), out);
}

char *
acme_key_authz(const char *token, const char *thumbprint)
{
	return xasprintf("%s.%s", token, thumbprint);
}

void
acme_dns01_value(const char *key_authz, char out[ACME_THUMB_LEN + 1])
{
	b64url_sha256(key_authz, strlen(key_authz), out);
}

/* ---- problem documents, Retry-After ------------------------------- */

int
acme_problem_parse(const char *body, size_t len, long http_status,
    struct acme_problem *p)
{
	json_tokener *tok;
	json_object *obj = NULL, *v;
	size_t i, n;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->status = (int)http_status;
	if (body != NULL && len > 0 && len < 65536 &&
	    (tok = json_tokener_new()) != NULL) {
		obj = json_tokener_parse_ex(tok, body, (int)len);
		json_tokener_free(tok);
	}
	if (obj != NULL && json_object_is_type(obj, json_type_object) &&
	    json_object_object_get_ex(obj, "type", &v) &&
	    json_object_is_type(v, json_type_string)) {
		snprintf(p->type, sizeof(p->type), "%s",
		    json_object_get_string(v));
		if (json_object_object_get_ex(obj, "detail", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(p->detail, sizeof(p->detail), "%s",
			    json_object_get_string(v));
		if (json_object_object_get_ex(obj, "status", &v) &&
		    json_object_is_type(v, json_type_int))
			p->status = json_object_get_int(v);
		rc = 0;
	} else {
		snprintf(p->type, sizeof(p->type), "http:%ld", http_status);
		/* What the CA said, printable bytes only, for the record. */
		for (i = 0, n = 0; body != NULL && i < len && n < 200; i++)
			if (isprint((unsigned char)body[i]))
				p->detail[n++] = body[i];
		p->detail[n] = '\0';
	}
	/* Control characters never reach a log line or a column. */
	for (i = 0; p->detail[i] != '\0'; i++)
		if (!isprint((unsigned char)p->detail[i]))
			p->detail[i] = ' ';
	for (i = 0; p->type[i] != '\0'; i++)
		if (!isprint((unsigned char)p->type[i]))
			p->type[i] = '?';
	json_object_put(obj);
	return rc;
}

#define RETRY_AFTER_MAX (24 * 3600)

int
acme_retry_after(const char *value, time_t now)
{
	struct tm tm;
	const char *end;
	long long s;
	time_t t;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		for (s = 0; *value >= '0' && *value <= '9'; value++) {
			s = s * 10 + (*value - '0');
			if (s > RETRY_AFTER_MAX)
				s = RETRY_AFTER_MAX;
		}
		while (*value == ' ' || *value == '\t' || *value == '\r' ||
		    *value == '\n')
			value++;
		return *value == '\0' ? (int)s : -1;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return -1;
	while (*end == ' ' || *end == '\r' || *end == '\n')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (int)(t - now);
}

/* ---- external account binding ------------------------------------- */

int
acme_eab(const char *kid, const char *hmac_key, const char *jwk,
    const char *url, struct buf *out)
{
	struct buf key = BUF_INIT, prot = BUF_INIT, tbs = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	json_object *h;
	int rc = -FP_E_BADREQ;

	if (b64url_decode(hmac_key, strlen(hmac_key), &key) != 0 ||
	    key.len == 0)
		goto out;
	h = json_object_new_object();
	json_object_object_add(h, "alg", json_object_new_string("HS256"));
	json_object_object_add(h, "kid", json_object_new_string(kid));
	json_object_object_add(h, "url", json_object_new_string(url));
	b64url_encode(json_object_to_json_string_ext(h, ACME_JSON_FLAGS),
	    strlen(json_object_to_json_string_ext(h, ACME_JSON_FLAGS)), &prot);
	json_object_put(h);
	buf_append(&tbs, prot.data, prot.len);
	buf_puts(&tbs, ".");
	b64url_encode(jwk, strlen(jwk), &tbs);
	if (HMAC(EVP_sha256(), key.data, (int)key.len, tbs.data, tbs.len, mac,
	        &maclen) == NULL) {
		log_ossl_errors("acme_eab: HMAC");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	buf_puts(out, "{\"protected\":\"");
	buf_append(out, prot.data, prot.len);
	buf_puts(out, "\",\"payload\":\"");
	b64url_encode(jwk, strlen(jwk), out);
	buf_puts(out, "\",\"signature\":\"");
	b64url_encode(mac, maclen, out);
	buf_puts(out, "\"}");
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	buf_free_secret(&key);
	buf_free(&prot);
	buf_free(&tbs);
	return rc;
}

/* ---- the session ----------------------------------------------------- */

void
acme_resp_clear(struct acme_resp *r)
{
	buf_free(&r->body);
	free(r->location);
	free(r->retry_after);
	free(r->link_up);
	free(r->content_type);
	memset(r, 0, sizeof(*r));
}

void
acme_session_init(struct acme_session *s, const char *directory_url,
    const char *ca_file, const struct net_denylist *deny, EVP_PKEY *key)
{
	memset(s, 0, sizeof(*s));
	s->directory_url = directory_url;
	s->f.timeout_ms = ACME_TIMEOUT_MS;
	s->f.connect_timeout_ms = ACME_CONNECT_TIMEOUT_MS;
	s->f.max_body = ACME_MAX_BODY;
	s->f.deny = deny;
	s->f.allow_https = 1;
	s->f.ca_file = ca_file != NULL && ca_file[0] != '\0' ? ca_file : NULL;
	s->key = key;
}

void
acme_session_free(struct acme_session *s)
{
	free(s->dir.new_nonce);
	free(s->dir.new_account);
	free(s->dir.new_order);
	free(s->dir.renewal_info);
	free(s->jwk);
	free(s->kid);
	free(s->nonce);
	memset(s, 0, sizeof(*s));
}

/*
 * The value of header 'name' among the response's lines in 'head'
 * (malloc'd, trimmed), or NULL.  With 'rel', only a Link header whose
 * parameters name that rel, its <URI>.
 */
static char *
header_value(const struct buf *head, const char *name, const char *rel)
{
	const char *p = (const char *)head->data, *end = p + head->len, *eol;
	size_t nlen = strlen(name);

	while (p != NULL && p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1, *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			if (rel == NULL)
				return xstrndup(v, (size_t)(ve - v));
			{
				char *line = xstrndup(v, (size_t)(ve - v));
				char *lt = strchr(line, '<'), *gt;
				char want[64];

				snprintf(want, sizeof(want), "rel=\"%s\"", rel);
				if (lt != NULL &&
				    (gt = strchr(lt, '>')) != NULL &&
				    strstr(gt, want) != NULL) {
					char *uri = xstrndup(lt + 1,
					    (size_t)(gt - lt - 1));

					free(line);
					return uri;
				}
				free(line);
			}
		}
		p = eol + 1;
	}
	return NULL;
}

static int
http(struct acme_session *s, const char *method, const char *url,
    const char *body, const char *accept, struct acme_resp *r,
    struct fp_status *st)
{
	struct buf head = BUF_INIT;
	struct net_request rq;
	const char *hdrs[3];
	char *accept_h = NULL, *nonce;
	size_t nh = 0;
	int rc;

	acme_resp_clear(r);
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	if (body != NULL) {
		hdrs[nh++] = "Content-Type: application/jose+json";
		rq.body = body;
		rq.body_len = strlen(body);
	}
	if (accept != NULL) {
		accept_h = xasprintf("Accept: %s", accept);
		hdrs[nh++] = accept_h;
	}
	hdrs[nh] = NULL;
	rq.headers = hdrs;
	s->f.url = url;
	rc = net_http_request(&s->f, &rq, &r->status, &head, &r->body, st);
	free(accept_h);
	if (rc != 0) {
		buf_free(&head);
		return rc;
	}
	if ((nonce = header_value(&head, "Replay-Nonce", NULL)) != NULL) {
		free(s->nonce);
		s->nonce = nonce;
	}
	r->location = header_value(&head, "Location", NULL);
	r->retry_after = header_value(&head, "Retry-After", NULL);
	r->link_up = header_value(&head, "Link", "up");
	r->content_type = header_value(&head, "Content-Type", NULL);
	buf_free(&head);
	return 0;
}

static char *
json_str_dup(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

int
acme_directory(struct acme_session *s, struct fp_status *st)
{
	struct acme_resp r = { 0 };
	json_object *obj = NULL, *meta, *v;
	int rc;

	if ((rc = http(s, "GET", s->directory_url, NULL, NULL, &r, st)) != 0)
		goto out;
	if (r.status != 200 ||
	    (obj = json_tokener_parse((const char *)r.body.data)) == NULL) {
		rc = fp_fail(st, FP_E_EXPECTATION,
		    "the ACME directory answered HTTP %ld, not a directory",
		    r.status);
		goto out;
	}
	s->dir.new_nonce = json_str_dup(obj, "newNonce");
	s->dir.new_account = json_str_dup(obj, "newAccount");
	s->dir.new_order = json_str_dup(obj, "newOrder");
	s->dir.renewal_info = json_str_dup(obj, "renewalInfo");
	if (json_object_object_get_ex(obj, "meta", &meta) &&
	    json_object_object_get_ex(meta, "externalAccountRequired", &v))
		s->dir.eab_required = json_object_get_boolean(v);
	if (s->dir.new_nonce == NULL || s->dir.new_account == NULL ||
	    s->dir.new_order == NULL) {
		rc = fp_fail(st, FP_E_EXPECTATION,
		    "the ACME directory lacks newNonce, newAccount or newOrder");
		goto out;
	}
	rc = 0;
out:
	json_object_put(obj);
	acme_resp_clear(&r);
	return rc;
}

/* The flattened JWS of one request, signed with the account key. */
static int
sign_request(struct acme_session *s, const char *url, const char *payload,
    char **out)
{
	json_object *h = json_object_new_object(), *jwk;
	int rc;

	json_object_object_add(h, "alg", json_object_new_string("ES256"));
	if (s->kid != NULL)
		json_object_object_add(h, "kid",
		    json_object_new_string(s->kid));
	else {
		if ((jwk = json_tokener_parse(s->jwk)) == NULL) {
			json_object_put(h);
			return -FP_E_INTERNAL;
		}
		json_object_object_add(h, "jwk", jwk);
	}
	json_object_object_add(h, "nonce", json_object_new_string(s->nonce));
	json_object_object_add(h, "url", json_object_new_string(url));
	rc = jws_sign_flattened(s->key,
	    json_object_to_json_string_ext(h, ACME_JSON_FLAGS),
	    payload != NULL ? payload : "",
	    payload != NULL ? strlen(payload) : 0, out);
	json_object_put(h);
	return rc;
}

int
acme_post(struct acme_session *s, const char *url, const char *payload,
    const char *accept, struct acme_resp *r, struct fp_status *st)
{
	struct acme_problem p;
	struct buf jwk = BUF_INIT;
	char *jws = NULL;
	int rc, try;

	if (s->jwk == NULL) {
		if ((rc = acme_jwk(s->key, &jwk)) != 0)
			return rc;
		buf_append(&jwk, "", 1);
		s->jwk = buf_steal(&jwk, NULL);
	}
	for (try = 0; try <= ACME_NONCE_RETRIES; try++) {
		if (s->nonce == NULL) {
			if ((rc = http(s, "HEAD", s->dir.new_nonce, NULL, NULL,
			         r, st)) != 0)
				return rc;
			if (s->nonce == NULL)
				return fp_fail(st, FP_E_EXPECTATION,
				    "the ACME CA gave no nonce (HTTP %ld)",
				    r->status);
		}
		free(jws);
		jws = NULL;
		if ((rc = sign_request(s, url, payload, &jws)) != 0)
			break;
		/* A nonce is used once, whatever the answer. */
		free(s->nonce);
		s->nonce = NULL;
		if ((rc = http(s, "POST", url, jws, accept, r, st)) != 0)
			break;
		if (r->status != 400 ||
		    acme_problem_parse((const char *)r->body.data, r->body.len,
		        r->status, &p) != 0 ||
		    strcmp(p.type, ACME_ERR_BADNONCE) != 0)
			break;
		/* badNonce: the answer carried a fresh one (or we fetch it). */
		s->nonce_retries++;
		log_debug("acme: badNonce from %.200s, again", url);
	}
	free(jws);
	return rc;
}

/* ---- RFC 9773 ------------------------------------------------------- */

char *
acme_ari_id(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	const ASN1_OCTET_STRING *aki;
	const ASN1_INTEGER *serial;
	struct buf out = BUF_INIT;
	unsigned char sbuf[64];
	BIGNUM *bn = NULL;
	X509 *x;
	int n;
	char *id = NULL;

	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	aki = X509_get0_authority_key_id(x);
	serial = X509_get0_serialNumber(x);
	if (aki == NULL || serial == NULL ||
	    (bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL ||
	    BN_num_bytes(bn) > (int)sizeof(sbuf) - 1)
		goto out;
	/* The DER content: a leading zero when the high bit is set. */
	n = BN_bn2bin(bn, sbuf + 1);
	if (n > 0 && (sbuf[1] & 0x80) != 0) {
		sbuf[0] = 0;
		n++;
		b64url_encode(ASN1_STRING_get0_data(aki),
		    (size_t)ASN1_STRING_length(aki), &out);
		buf_puts(&out, ".");
		b64url_encode(sbuf, (size_t)n, &out);
	} else {
		b64url_encode(ASN1_STRING_get0_data(aki),
		    (size_t)ASN1_STRING_length(aki), &out);
		buf_puts(&out, ".");
		b64url_encode(sbuf + 1, (size_t)n, &out);
	}
	buf_append(&out, "", 1);
	id = buf_steal(&out, NULL);
out:
	BN_free(bn);
	X509_free(x);
	ERR_clear_error();
	return id;
}

/* ---- the budget ----------------------------------------------------- */

#define WEEK_S (7 * 86400)

int
acme_budget_wait_s(long long budget, long long used, long long in_flight,
    long long oldest_age_s, int renewal)
{
	long long wait;

	if (renewal)
		return 0;
	if (budget <= 0)
		return 3600;
	if (used < 0)
		used = 0;
	if (in_flight < 0)
		in_flight = 0;
	if (used + in_flight < budget)
		return 0;
	if (used < budget)
		return 60;
	wait = WEEK_S - oldest_age_s;
	if (wait < 1)
		wait = 1;
	return wait > WEEK_S ? WEEK_S : (int)wait;
}
