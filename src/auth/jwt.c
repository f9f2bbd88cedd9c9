/*
 * jwt: ES256 compact JWS tokens, verified the way RFC 8725 asks.
 *
 * The algorithm is pinned: the header must say "ES256" and the key the
 * caller looks up must be a P-256 key, so a token cannot pick its own
 * verification method ("none", HMAC keyed with the public key, RSA).
 * The key comes only from the caller's 'kid' table: jku, x5u, jwk and x5c
 * are never read, let alone fetched.  The header is parsed before the
 * signature is checked (it names the key), the claims only after.  Both
 * go through json_parse_strict, so a duplicated "alg" or "tenant" cannot
 * mean one thing here and another to some other reader.
 *
 * Failures say what was wrong in a few words and never quote the token:
 * a reason goes back to the client and into logs, and the token is a
 * bearer secret.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/json.h"
#include "fleetpki/jws.h"
#include "fleetpki/jwt.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

/* Random bytes in a "jti". */
#define JWT_JTI_BYTES 16

/* 1..'max' characters of [A-Za-z0-9_-]: kids and tenants. */
static int
jwt_name_ok(const char *s, size_t len, size_t max)
{
	size_t i;
	unsigned char c;

	if (s == NULL || len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Free text claims (sub, jti) end up in logs: no control characters. */
static int
jwt_text_ok(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len > max)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * The string member 'name' of 'obj': 1 and '*s'/'*len' when it is a
 * string without an embedded NUL, 0 when absent, -1 when it is anything
 * else.
 */
static int
jwt_get_string(json_object *obj, const char *name, const char **s, size_t *len)
{
	json_object *v;

	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(obj, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return strlen(*s) == *len ? 1 : -1;
}

/* Whether string member 'name' exists and equals 'want' exactly. */
static int
jwt_string_is(json_object *obj, const char *name, const char *want)
{
	const char *s;
	size_t len;

	return jwt_get_string(obj, name, &s, &len) == 1 &&
	    len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * A NumericDate member: 1 and '*v' when an integer, 0 when absent, -1
 * otherwise.  RFC 7519 allows fractions; our tokens never carry them,
 * and accepting only json_type_int keeps 1e300 and "123" out.
 */
static int
jwt_get_time(json_object *obj, const char *name, int64_t *v)
{
	json_object *j;

	*v = 0;
	if (!json_object_object_get_ex(obj, name, &j))
		return 0;
	if (!json_object_is_type(j, json_type_int))
		return -1;
	*v = json_object_get_int64(j);
	return 1;
}

/* "aud": our audience, or an array that contains it (RFC 7519 4.1.3). */
static int
jwt_aud_ok(json_object *claims, const char *want)
{
	json_object *aud, *item;
	size_t i, n;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return 0;
	if (json_object_is_type(aud, json_type_string))
		return jwt_string_is(claims, "aud", want);
	if (!json_object_is_type(aud, json_type_array))
		return 0;
	n = json_object_array_length(aud);
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(aud, i);
		if (json_object_is_type(item, json_type_string) &&
		    (size_t)json_object_get_string_len(item) == strlen(want) &&
		    memcmp(json_object_get_string(item), want, strlen(want)) ==
		        0)
			return 1;
	}
	return 0;
}

/* Time arithmetic that saturates, so a hostile "exp" cannot wrap. */
static int64_t
jwt_sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

int
jwt_exp_ok(int64_t exp, time_t now, int leeway)
{
	/* Expired once now >= exp (RFC 7519 4.1.4), give or take leeway. */
	return (int64_t)now < jwt_sat_add(exp, leeway > 0 ? leeway : 0);
}

/* One of the three dot-separated parts of a compact JWS. */
struct jwt_seg {
	const char *p;
	size_t len;
};

/*
 * Split 'token' at its dots: exactly three segments (five would be a
 * JWE, which we never accept), any of them possibly empty.
 */
static int
jwt_split(const char *token, size_t len, struct jwt_seg seg[3])
{
	const char *p = token, *end = token + len, *dot;
	int i;

	for (i = 0; i < 3; i++) {
		dot = memchr(p, '.', (size_t)(end - p));
		if ((dot == NULL) != (i == 2))
			return -1;
		seg[i].p = p;
		seg[i].len = (size_t)((dot != NULL ? dot : end) - p);
		if (dot != NULL)
			p = dot + 1;
	}
	return 0;
}

/* Decode one base64url segment and parse it as a JSON object. */
static int
jwt_segment_json(const struct jwt_seg *seg, json_object **out)
{
	struct buf raw = BUF_INIT;
	json_object *obj = NULL;
	int rc = -1;

	*out = NULL;
	if (b64url_decode(seg->p, seg->len, &raw) != 0)
		goto out;
	/* The parser's reason would quote the token's contents: drop it. */
	if (json_parse_strict((const char *)raw.data, raw.len, &obj, NULL) != 0)
		goto out;
	if (!json_object_is_type(obj, json_type_object))
		goto out;
	*out = obj;
	obj = NULL;
	rc = 0;
out:
	json_object_put(obj);
	buf_free_secret(&raw);
	return rc;
}

int
jwt_verify(const char *token, size_t len, jwt_key_lookup lookup, void *arg,
    time_t now, int leeway, struct jwt_claims *out, struct fp_status *st)
{
	return jwt_verify_aud(token, len, JWT_AUDIENCE, lookup, arg, now,
	    leeway, out, st);
}

int
jwt_verify_aud(const char *token, size_t len, const char *aud,
    jwt_key_lookup lookup, void *arg, time_t now, int leeway,
    struct jwt_claims *out, struct fp_status *st)
{
	json_object *hdr = NULL, *claims = NULL;
	struct buf sig = BUF_INIT;
	struct jwt_claims c;
	struct jwt_seg seg[3];
	const char *s;
	char kid[JWT_KID_MAX + 1];
	EVP_PKEY *key; /* borrowed from the lookup */
	int64_t t, n = (int64_t)now, lw = leeway > 0 ? leeway : 0;
	size_t slen;
	int rc, got, valid;

	memset(&c, 0, sizeof(c));
	if (out != NULL)
		memset(out, 0, sizeof(*out));

	/* Cheap structural checks before any decoding. */
	if (token == NULL || len == 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "missing token");
		goto out;
	}
	if (len > JWT_MAX_LEN) {
		rc = fp_fail(st, FP_E_UNAUTH, "token too large");
		goto out;
	}
	if (memchr(token, '\0', len) != NULL ||
	    jwt_split(token, len, seg) != 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "malformed token");
		goto out;
	}

	/* The header decides nothing but which of our keys to try. */
	if (jwt_segment_json(&seg[0], &hdr) != 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "malformed token header");
		goto out;
	}
	if (!jwt_string_is(hdr, "alg", "ES256")) {
		rc = fp_fail(st, FP_E_UNAUTH, "unsupported algorithm");
		goto out;
	}
	/* We understand no extension, so none may be critical (RFC 7515). */
	if (json_object_object_get_ex(hdr, "crit", NULL)) {
		rc = fp_fail(st, FP_E_UNAUTH, "unsupported critical header");
		goto out;
	}
	if (json_object_object_get_ex(hdr, "typ", NULL) &&
	    !jwt_string_is(hdr, "typ", "JWT")) {
		rc = fp_fail(st, FP_E_UNAUTH, "unsupported token type");
		goto out;
	}
	if (jwt_get_string(hdr, "kid", &s, &slen) != 1 ||
	    !jwt_name_ok(s, slen, JWT_KID_MAX)) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid key id");
		goto out;
	}
	memcpy(kid, s, slen);
	kid[slen] = '\0';

	if (lookup == NULL || (key = lookup(arg, kid)) == NULL) {
		rc = fp_fail(st, FP_E_UNAUTH, "unknown key id");
		goto out;
	}
	if (!jws_key_is_p256(key)) {
		log_err("jwt: key \"%s\" is not a P-256 key", kid);
		rc = fp_fail(st, FP_E_UNAUTH, "unusable key");
		goto out;
	}

	if (b64url_decode(seg[2].p, seg[2].len, &sig) != 0 ||
	    sig.len != JWS_ES256_SIGLEN) {
		rc = fp_fail(st, FP_E_UNAUTH, "bad signature");
		goto out;
	}
	/* The signing input: header "." payload, as sent. */
	valid = jws_es256_verify(key, sig.data, token,
	    (size_t)(seg[1].p + seg[1].len - token));
	if (valid != 1) {
		rc = fp_fail(st, FP_E_UNAUTH,
		    valid == 0 ? "bad signature" : "token verification failed");
		goto out;
	}

	/* Authentic from here on; now see what it claims. */
	if (jwt_segment_json(&seg[1], &claims) != 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "malformed token claims");
		goto out;
	}
	if (!jwt_string_is(claims, "iss", JWT_ISSUER)) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid issuer");
		goto out;
	}
	if (!jwt_aud_ok(claims, aud)) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid audience");
		goto out;
	}

	/* exp is required; nbf and iat are checked when present. */
	if (jwt_get_time(claims, "exp", &c.exp) != 1) {
		rc = fp_fail(st, FP_E_UNAUTH, "missing or invalid exp");
		goto out;
	}
	if (!jwt_exp_ok(c.exp, now, leeway)) {
		rc = fp_fail(st, FP_E_UNAUTH, "token expired");
		goto out;
	}
	if ((got = jwt_get_time(claims, "nbf", &t)) < 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid nbf");
		goto out;
	}
	if (got == 1 && t > jwt_sat_add(n, lw)) {
		rc = fp_fail(st, FP_E_UNAUTH, "token not yet valid");
		goto out;
	}
	c.nbf = t;
	if ((got = jwt_get_time(claims, "iat", &t)) < 0) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid iat");
		goto out;
	}
	if (got == 1 && t > jwt_sat_add(n, lw)) {
		rc = fp_fail(st, FP_E_UNAUTH, "token issued in the future");
		goto out;
	}
	c.iat = t;

	if (jwt_get_string(claims, "tenant", &s, &slen) != 1 ||
	    !jwt_name_ok(s, slen, JWT_TENANT_MAX)) {
		rc = fp_fail(st, FP_E_UNAUTH, "missing or invalid tenant");
		goto out;
	}
	memcpy(c.tenant, s, slen);
	c.tenant[slen] = '\0';
	if ((got = jwt_get_string(claims, "sub", &s, &slen)) < 0 ||
	    (got == 1 && !jwt_text_ok(s, slen, sizeof(c.sub) - 1))) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid subject");
		goto out;
	}
	if (got == 1) {
		memcpy(c.sub, s, slen);
		c.sub[slen] = '\0';
	}
	if ((got = jwt_get_string(claims, "jti", &s, &slen)) < 0 ||
	    (got == 1 && !jwt_text_ok(s, slen, sizeof(c.jti) - 1))) {
		rc = fp_fail(st, FP_E_UNAUTH, "invalid token id");
		goto out;
	}
	if (got == 1) {
		memcpy(c.jti, s, slen);
		c.jti[slen] = '\0';
	}

	if (out != NULL)
		*out = c;
	rc = 0;
out:
	json_object_put(hdr);
	json_object_put(claims);
	buf_free(&sig);
	OPENSSL_cleanse(&c, sizeof(c));
	return rc;
}

/* json-c returns NULL or -1 only when out of memory, which is fatal. */
static void
jwt_add(json_object *obj, const char *name, json_object *v)
{
	if (v == NULL || json_object_object_add(obj, name, v) != 0)
		fatal("out of memory building a JWT");
}

int
jwt_sign_es256(EVP_PKEY *key, const char *kid, const char *tenant,
    const char *sub, int64_t iat, int64_t ttl, char **out)
{
	return jwt_sign_es256_aud(key, kid, JWT_AUDIENCE, tenant, sub, iat, ttl,
	    out);
}

int
jwt_sign_es256_aud(EVP_PKEY *key, const char *kid, const char *aud,
    const char *tenant, const char *sub, int64_t iat, int64_t ttl, char **out)
{
	json_object *hdr = NULL, *pl = NULL;
	unsigned char rnd[JWT_JTI_BYTES];
	char jti[2 * JWT_JTI_BYTES + 1], *hjson = NULL, *pjson = NULL;
	int64_t exp;
	int rc;

	*out = NULL;
	/* Refuse to mint what jwt_verify would refuse to accept. */
	if (kid == NULL || !jwt_name_ok(kid, strlen(kid), JWT_KID_MAX) ||
	    tenant == NULL ||
	    !jwt_name_ok(tenant, strlen(tenant), JWT_TENANT_MAX) ||
	    (sub != NULL &&
	        !jwt_text_ok(sub, strlen(sub),
	            sizeof(((struct jwt_claims *)NULL)->sub) - 1)) ||
	    ttl <= 0 || __builtin_add_overflow(iat, ttl, &exp)) {
		rc = -FP_E_BADREQ;
		goto out;
	}
	if (!jws_key_is_p256(key)) {
		log_err("jwt: signing key \"%s\" is not a P-256 key", kid);
		rc = -FP_E_INTERNAL;
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_ossl_errors("jwt: RAND_bytes");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	util_hex(rnd, sizeof(rnd), jti);

	if ((hdr = json_object_new_object()) == NULL ||
	    (pl = json_object_new_object()) == NULL)
		fatal("out of memory building a JWT");
	jwt_add(hdr, "alg", json_object_new_string("ES256"));
	jwt_add(hdr, "typ", json_object_new_string("JWT"));
	jwt_add(hdr, "kid", json_object_new_string(kid));
	jwt_add(pl, "iss", json_object_new_string(JWT_ISSUER));
	jwt_add(pl, "aud", json_object_new_string(aud));
	if (sub != NULL)
		jwt_add(pl, "sub", json_object_new_string(sub));
	jwt_add(pl, "tenant", json_object_new_string(tenant));
	jwt_add(pl, "iat", json_object_new_int64(iat));
	jwt_add(pl, "nbf", json_object_new_int64(iat));
	jwt_add(pl, "exp", json_object_new_int64(exp));
	jwt_add(pl, "jti", json_object_new_string(jti));
	hjson = json_dump(hdr);
	pjson = json_dump(pl);

	/* A JWT is a compact JWS of the claims (RFC 7519 7.1). */
	rc = jws_sign_compact(key, hjson, pjson, strlen(pjson), out);
out:
	json_object_put(hdr);
	json_object_put(pl);
	free(hjson);
	free(pjson);
	return rc;
}
