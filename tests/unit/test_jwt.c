/*
 * Unit tests for jwt_sign_es256 and jwt_verify: the round trip, and the
 * known ways of getting a forged or stale token accepted (RFC 8725);
 * and for the JWS layer under them (jws.h), with the protected headers
 * an ACME client sends.
 * Tokens are built here by hand so that every field, and the signature
 * encoding, can be got wrong on purpose.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/jws.h"
#include "fleetpki/jwt.h"
#include "fleetpki/util.h"

#define NOW ((int64_t)1700000000)
#define LEEWAY 60
#define HDR "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"

/* Keys made once for the whole group. */
static EVP_PKEY *k1; /* P-256, published as "k1" */
static EVP_PKEY *other; /* P-256, not published */
static EVP_PKEY *p384; /* published as "p384" */
static EVP_PKEY *ed; /* Ed25519, published as "ed" */
static EVP_PKEY *rsa; /* RSA-2048, published as "rsa" */

/* What the lookup saw. */
static int lookups;
static char last_kid[128];

static EVP_PKEY *
lookup(void *arg, const char *kid)
{
	(void)arg;
	lookups++;
	snprintf(last_kid, sizeof(last_kid), "%s", kid);
	if (strcmp(kid, "k1") == 0)
		return k1;
	if (strcmp(kid, "p384") == 0)
		return p384;
	if (strcmp(kid, "ed") == 0)
		return ed;
	if (strcmp(kid, "rsa") == 0)
		return rsa;
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	k1 = EVP_EC_gen("P-256");
	other = EVP_EC_gen("P-256");
	p384 = EVP_EC_gen("P-384");
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	rsa = EVP_RSA_gen(2048);
	return k1 && other && p384 && ed && rsa ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k1);
	EVP_PKEY_free(other);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(rsa);
	return 0;
}

/* ---- building tokens --------------------------------------------- */

enum sigmode {
	SIG_ES256, /* the proper raw r || s */
	SIG_DER, /* ES256, but left DER-encoded */
	SIG_EMPTY, /* alg "none" */
	SIG_HS256, /* HMAC-SHA256 with 'mac' as the key */
	SIG_RS256, /* RSA PKCS#1 v1.5 with SHA-256 */
};

static void
raw_sig(EVP_PKEY *key, const struct buf *tbs, unsigned char raw[64],
    struct buf *der_out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[128];
	const unsigned char *p = der;
	size_t len = sizeof(der);
	ECDSA_SIG *sig;
	const BIGNUM *r, *s;

	assert_non_null(ctx);
	assert_int_equal(
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL),
	    1);
	assert_int_equal(
	    EVP_DigestSign(ctx, der, &len, tbs->data, tbs->len), 1);
	EVP_MD_CTX_free(ctx);
	if (der_out != NULL) {
		/* DER wanted: any curve, no conversion. */
		buf_append(der_out, der, len);
		return;
	}
	assert_non_null(sig = d2i_ECDSA_SIG(NULL, &p, (long)len));
	ECDSA_SIG_get0(sig, &r, &s);
	assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
	assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
	ECDSA_SIG_free(sig);
}

/*
 * A compact token from header and payload JSON, signed as 'mode' says
 * with 'key' (or 'mac' for HS256).  Malloc'd.
 */
static char *
make(const char *hdr, const char *payload, enum sigmode mode, EVP_PKEY *key,
    const struct buf *mac)
{
	struct buf t = BUF_INIT, sig = BUF_INIT;
	unsigned char raw[64], out[512];
	size_t outlen = sizeof(out);
	EVP_MD_CTX *ctx;
	char *s;

	b64url_encode(hdr, strlen(hdr), &t);
	buf_append(&t, ".", 1);
	b64url_encode(payload, strlen(payload), &t);
	switch (mode) {
	case SIG_ES256:
		raw_sig(key, &t, raw, NULL);
		buf_append(&sig, raw, sizeof(raw));
		break;
	case SIG_DER:
		raw_sig(key, &t, NULL, &sig);
		break;
	case SIG_EMPTY:
		break;
	case SIG_HS256:
		assert_non_null(
		    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac->data,
		        mac->len, t.data, t.len, out, sizeof(out), &outlen));
		buf_append(&sig, out, outlen);
		break;
	case SIG_RS256:
		ctx = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL, "SHA256",
		                     NULL, NULL, key, NULL),
		    1);
		assert_int_equal(
		    EVP_DigestSign(ctx, out, &outlen, t.data, t.len), 1);
		EVP_MD_CTX_free(ctx);
		buf_append(&sig, out, outlen);
		break;
	}
	buf_append(&t, ".", 1);
	b64url_encode(sig.data, sig.len, &t);
	buf_free(&sig);
	s = xstrndup((char *)t.data, t.len);
	buf_free(&t);
	return s;
}

/* The claims of a good token, with room to change each. */
static char *
claims(const char *iss, const char *aud, const char *tenant, int64_t iat,
    int64_t nbf, int64_t exp, const char *extra)
{
	return xasprintf(
	    "{\"iss\":%s,\"aud\":%s,\"sub\":\"dev-1\",\"tenant\":%s,"
	    "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"jti\":\"j1\"%s}",
	    iss, aud, tenant, (long long)iat, (long long)nbf, (long long)exp,
	    extra);
}

static char *
good_claims(void)
{
	return claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"", NOW, NOW,
	    NOW + 300, "");
}

static int
verify_at(const char *tok, int64_t now, int leeway, struct jwt_claims *c,
    struct fp_status *st)
{
	memset(st, 0, sizeof(*st));
	lookups = 0;
	last_kid[0] = '\0';
	return jwt_verify(
	    tok, strlen(tok), lookup, NULL, (time_t)now, leeway, c, st);
}

/* Accepted at NOW. */
static void
ok(const char *tok)
{
	struct jwt_claims c;
	struct fp_status st;

	if (verify_at(tok, NOW, LEEWAY, &c, &st) != 0)
		fail_msg("rejected: %s", st.msg);
}

/*
 * Rejected at NOW with -FP_E_UNAUTH and a reason that contains 'why'
 * and none of the token.
 */
static void
bad(const char *tok, const char *why)
{
	struct jwt_claims c;
	struct fp_status st;
	const char *dot;

	memset(&c, 0xa5, sizeof(c));
	assert_int_equal(verify_at(tok, NOW, LEEWAY, &c, &st), -FP_E_UNAUTH);
	assert_int_equal(st.code, FP_E_UNAUTH);
	if (strstr(st.msg, why) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", st.msg, why);
	assert_true(strlen(st.msg) < 64);
	/* Nothing of the token is echoed, not even its header segment. */
	if ((dot = strchr(tok, '.')) != NULL && dot - tok > 8)
		assert_null(strstr(st.msg, "eyJ"));
	/* The output is cleared on failure. */
	assert_int_equal(c.tenant[0], 0);
	assert_int_equal(c.exp, 0);
}

/* Sign 'payload' under HDR with k1 and expect 'why' (NULL: accepted). */
static void
check_claims(const char *payload, const char *why)
{
	char *tok = make(HDR, payload, SIG_ES256, k1, NULL);

	if (why == NULL)
		ok(tok);
	else
		bad(tok, why);
	free(tok);
}

/* Same, taking ownership of a claims() string. */
static void
check_owned(char *payload, const char *why)
{
	check_claims(payload, why);
	free(payload);
}

/* ---- tests ------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	struct jwt_claims c;
	struct fp_status st;
	char *tok = NULL, *tok2 = NULL;

	(void)state;
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", "user@example", NOW, 300, &tok),
	    0);
	assert_non_null(tok);
	assert_true(strlen(tok) < JWT_MAX_LEN);
	assert_int_equal(verify_at(tok, NOW, LEEWAY, &c, &st), 0);
	assert_int_equal(lookups, 1);
	assert_string_equal(last_kid, "k1");
	assert_string_equal(c.tenant, "acme");
	assert_string_equal(c.sub, "user@example");
	assert_int_equal(strlen(c.jti), 32);
	assert_int_equal(strspn(c.jti, "0123456789abcdef"), 32);
	assert_int_equal(c.iat, NOW);
	assert_int_equal(c.nbf, NOW);
	assert_int_equal(c.exp, NOW + 300);
	/* A NULL status is allowed. */
	assert_int_equal(
	    jwt_verify(tok, strlen(tok), lookup, NULL, NOW, 0, &c, NULL), 0);

	/* Fresh jti each time; no sub. */
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", NULL, NOW, 300, &tok2), 0);
	assert_int_equal(verify_at(tok2, NOW + 299, 0, &c, &st), 0);
	assert_string_equal(c.sub, "");
	assert_string_not_equal(tok, tok2);
	free(tok);
	free(tok2);

	/* The hand-built tokens used below are accepted as they are. */
	check_owned(good_claims(), NULL);
}

static void
test_sign_refuses(void **state)
{
	char *tok = (char *)0x1;
	char longsub[200];

	(void)state;
	memset(longsub, 'a', sizeof(longsub) - 1);
	longsub[sizeof(longsub) - 1] = '\0';
	assert_int_equal(
	    jwt_sign_es256(k1, "k/1", "acme", NULL, NOW, 300, &tok),
	    -FP_E_BADREQ);
	assert_null(tok);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "ac me", NULL, NOW, 300, &tok),
	    -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "", NULL, NOW, 300, &tok), -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", longsub, NOW, 300, &tok),
	    -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", "a\nb", NOW, 300, &tok),
	    -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", NULL, NOW, 0, &tok), -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(k1, "k1", "acme", NULL, INT64_MAX, 10, &tok),
	    -FP_E_BADREQ);
	assert_int_equal(
	    jwt_sign_es256(p384, "k1", "acme", NULL, NOW, 300, &tok),
	    -FP_E_INTERNAL);
	assert_int_equal(jwt_sign_es256(ed, "k1", "acme", NULL, NOW, 300, &tok),
	    -FP_E_INTERNAL);
	assert_null(tok);
}

static void
test_alg_none(void **state)
{
	char *p = good_claims(), *tok;

	(void)state;
	tok =
	    make("{\"alg\":\"none\",\"kid\":\"k1\"}", p, SIG_EMPTY, NULL, NULL);
	assert_non_null(strstr(tok, "."));
	assert_int_equal(tok[strlen(tok) - 1], '.');
	bad(tok, "unsupported algorithm");
	assert_int_equal(lookups, 0);
	free(tok);
	tok = make("{\"alg\":\"none\"}", p, SIG_EMPTY, NULL, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	/* Near misses of "ES256" are not "ES256". */
	tok =
	    make("{\"alg\":\"es256\",\"kid\":\"k1\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	tok =
	    make("{\"alg\":\"ES256 \",\"kid\":\"k1\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	tok = make("{\"alg\":\"ES256\\u0000\",\"kid\":\"k1\"}", p, SIG_ES256,
	    k1, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	tok = make(
	    "{\"alg\":[\"ES256\"],\"kid\":\"k1\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	tok = make("{\"kid\":\"k1\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	tok = make(
	    "{\"alg\":\"ES384\",\"kid\":\"p384\"}", p, SIG_DER, p384, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	free(p);
}

/*
 * The classic confusion: the attacker HMACs the token with the server's
 * public key (PEM text, or DER) as the secret and says "HS256".
 */
static void
test_hs256_confusion(void **state)
{
	struct buf pem = BUF_INIT, der = BUF_INIT;
	unsigned char *d = NULL;
	char *p = good_claims(), *tok;
	BIO *bio;
	char *mem;
	long n;
	int dl;

	(void)state;
	assert_non_null(bio = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k1), 1);
	n = BIO_get_mem_data(bio, &mem);
	buf_append(&pem, mem, (size_t)n);
	BIO_free(bio);
	assert_true((dl = i2d_PUBKEY(k1, &d)) > 0);
	buf_append(&der, d, (size_t)dl);
	OPENSSL_free(d);

	tok = make("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", p,
	    SIG_HS256, NULL, &pem);
	bad(tok, "unsupported algorithm");
	assert_int_equal(lookups, 0);
	free(tok);
	tok = make(
	    "{\"alg\":\"HS256\",\"kid\":\"k1\"}", p, SIG_HS256, NULL, &der);
	bad(tok, "unsupported algorithm");
	free(tok);
	/* The MAC laid under an ES256 header is just a bad signature. */
	tok = make(
	    "{\"alg\":\"ES256\",\"kid\":\"k1\"}", p, SIG_HS256, NULL, &pem);
	bad(tok, "bad signature");
	free(tok);
	buf_free(&pem);
	buf_free(&der);
	free(p);
}

static void
test_rs256(void **state)
{
	char *p = good_claims(), *tok;

	(void)state;
	tok = make(
	    "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", p, SIG_RS256, rsa, NULL);
	bad(tok, "unsupported algorithm");
	assert_int_equal(lookups, 0);
	free(tok);
	tok = make(
	    "{\"alg\":\"PS256\",\"kid\":\"rsa\"}", p, SIG_RS256, rsa, NULL);
	bad(tok, "unsupported algorithm");
	free(tok);
	free(p);
}

static void
test_exp(void **state)
{
	struct jwt_claims c;
	struct fp_status st;
	char *tok;

	(void)state;
	/* Expired more than the leeway ago. */
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
	                NOW - 600, NOW - 600, NOW - LEEWAY - 1, ""),
	    "token expired");
	/* Within the leeway. */
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
	                NOW - 600, NOW - 600, NOW - LEEWAY + 1, ""),
	    NULL);
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
	                NOW - 600, NOW - 600, NOW - 30, ""),
	    NULL);
	/* exp is "on or after which" it must not be accepted. */
	tok = make(HDR,
	    "{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	    "\"tenant\":\"acme\",\"exp\":1700000000}",
	    SIG_ES256, k1, NULL);
	assert_int_equal(verify_at(tok, NOW, 0, &c, &st), -FP_E_UNAUTH);
	assert_string_equal(st.msg, "token expired");
	assert_int_equal(verify_at(tok, NOW - 1, 0, &c, &st), 0);
	/* A negative leeway is no leeway, not a stricter clock. */
	assert_int_equal(verify_at(tok, NOW - 1, -100, &c, &st), 0);
	/* Without iat/nbf they read as 0. */
	assert_int_equal(c.iat, 0);
	assert_int_equal(c.nbf, 0);

	/*
	 * The rule caches use agrees with jwt_verify to the second: good
	 * one second before exp + leeway, refused at exactly exp + leeway.
	 */
	assert_int_equal(jwt_exp_ok(1700000000, 1700000000 + LEEWAY - 1, LEEWAY),
	    1);
	assert_int_equal(jwt_exp_ok(1700000000, 1700000000 + LEEWAY, LEEWAY), 0);
	assert_int_equal(verify_at(tok, 1700000000 + LEEWAY - 1, LEEWAY, &c, &st),
	    0);
	assert_int_equal(verify_at(tok, 1700000000 + LEEWAY, LEEWAY, &c, &st),
	    -FP_E_UNAUTH);
	free(tok);

	/* Extremes do not wrap around. */
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\",\"exp\":9223372036854775807}",
	    NULL);
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\",\"exp\":-9223372036854775808}",
	    "token expired");
	/* Required, and an integer. */
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\"}",
	    "missing or invalid exp");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\",\"exp\":\"1800000000\"}",
	    "missing or invalid exp");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\",\"exp\":1800000000.0}",
	    "missing or invalid exp");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"tenant\":\"acme\",\"exp\":null}",
	    "missing or invalid exp");
}

static void
test_nbf_iat(void **state)
{
	(void)state;
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"", NOW,
	                NOW + LEEWAY + 60, NOW + 600, ""),
	    "token not yet valid");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"", NOW,
	                NOW + 30, NOW + 600, ""),
	    NULL);
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
	                NOW + LEEWAY + 1, NOW, NOW + 600, ""),
	    "token issued in the future");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
	                NOW + LEEWAY, NOW, NOW + 600, ""),
	    NULL);
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"nbf\":\"0\"}",
	    "invalid nbf");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"iat\":1.5}",
	    "invalid iat");
}

/* Replace segment 'idx' (0..2) of 'tok' with 'seg'. */
static char *
splice(const char *tok, int idx, const char *seg)
{
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	struct buf b = BUF_INIT;
	char *s;

	if (idx == 0)
		buf_puts(&b, seg);
	else
		buf_append(&b, tok, (size_t)(d1 - tok));
	buf_puts(&b, ".");
	if (idx == 1)
		buf_puts(&b, seg);
	else
		buf_append(&b, d1 + 1, (size_t)(d2 - d1 - 1));
	buf_puts(&b, ".");
	buf_puts(&b, idx == 2 ? seg : d2 + 1);
	s = xstrndup((char *)b.data, b.len);
	buf_free(&b);
	return s;
}

static char *
b64u(const void *p, size_t len)
{
	struct buf b = BUF_INIT;
	char *s;

	b64url_encode(p, len, &b);
	s = xstrndup(b.data != NULL ? (char *)b.data : "", b.len);
	buf_free(&b);
	return s;
}

static void
test_tampered(void **state)
{
	char *p = good_claims(), *tok, *t2, *seg;
	const char *evil = "{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	                   "\"tenant\":\"evil\",\"exp\":1800000000}";
	struct buf sig = BUF_INIT;
	const char *d2;
	unsigned char zero[64];

	(void)state;
	tok = make(HDR, p, SIG_ES256, k1, NULL);
	ok(tok);

	/* Another payload under the old signature. */
	seg = b64u(evil, strlen(evil));
	t2 = splice(tok, 1, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	/* One character of the payload changed. */
	t2 = xstrdup(tok);
	t2[strchr(t2, '.') - t2 + 5] ^= 0x01;
	bad(t2, "");
	free(t2);
	/* A header changed, still naming k1. */
	seg = b64u("{\"kid\":\"k1\",\"alg\":\"ES256\"}",
	    strlen("{\"kid\":\"k1\",\"alg\":\"ES256\"}"));
	t2 = splice(tok, 0, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);

	/* One bit of the signature flipped, in r and in s. */
	d2 = strrchr(tok, '.');
	assert_int_equal(b64url_decode(d2 + 1, strlen(d2 + 1), &sig), 0);
	assert_int_equal(sig.len, 64);
	sig.data[10] ^= 0x01;
	seg = b64u(sig.data, sig.len);
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	sig.data[10] ^= 0x01;
	sig.data[50] ^= 0x80;
	seg = b64u(sig.data, sig.len);
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	sig.data[50] ^= 0x80;
	/* Truncated, extended. */
	seg = b64u(sig.data, 63);
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	buf_append(&sig, "", 1);
	seg = b64u(sig.data, 65);
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	/* r = s = 0, and r = s = 0xff..ff (above the group order). */
	memset(zero, 0, sizeof(zero));
	seg = b64u(zero, sizeof(zero));
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	memset(zero, 0xff, sizeof(zero));
	seg = b64u(zero, sizeof(zero));
	t2 = splice(tok, 2, seg);
	bad(t2, "bad signature");
	free(t2);
	free(seg);
	/* Signed by a key that is not k1. */
	t2 = make(HDR, p, SIG_ES256, other, NULL);
	bad(t2, "bad signature");
	free(t2);

	buf_free(&sig);
	free(tok);
	free(p);
}

static void
test_der_signature(void **state)
{
	char *p = good_claims(), *tok;

	(void)state;
	/* OpenSSL's native form is not the JWS form, even when valid. */
	tok = make(HDR, p, SIG_DER, k1, NULL);
	bad(tok, "bad signature");
	free(tok);
	free(p);
}

static void
test_kid(void **state)
{
	char *p = good_claims(), *tok;
	char hdr[256];

	(void)state;
	tok =
	    make("{\"alg\":\"ES256\",\"kid\":\"k2\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unknown key id");
	assert_int_equal(lookups, 1);
	assert_string_equal(last_kid, "k2");
	free(tok);
	/* Never handed to the lookup: not a kid we could have issued. */
	tok = make(
	    "{\"alg\":\"ES256\",\"kid\":\"../k1\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	assert_int_equal(lookups, 0);
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":\"\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\\u0000x\"}", p, SIG_ES256,
	    k1, NULL);
	bad(tok, "invalid key id");
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":1}", p, SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	free(tok);
	tok = make("{\"alg\":\"ES256\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%065d\"}", 0);
	tok = make(hdr, p, SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	free(tok);
	/* A NULL lookup knows no key. */
	tok = make(HDR, p, SIG_ES256, k1, NULL);
	assert_int_equal(
	    jwt_verify(tok, strlen(tok), NULL, NULL, NOW, 0, NULL, NULL),
	    -FP_E_UNAUTH);
	free(tok);
	free(p);
}

static void
test_key_type(void **state)
{
	char *p = good_claims(), *tok;

	(void)state;
	/*
	 * The lookup hands back something that is not P-256: refused, even
	 * though the signature itself (by k1) would have verified on k1.
	 */
	tok = make(
	    "{\"alg\":\"ES256\",\"kid\":\"p384\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unusable key");
	free(tok);
	tok =
	    make("{\"alg\":\"ES256\",\"kid\":\"ed\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unusable key");
	free(tok);
	tok =
	    make("{\"alg\":\"ES256\",\"kid\":\"rsa\"}", p, SIG_ES256, k1, NULL);
	bad(tok, "unusable key");
	free(tok);
	free(p);
}

static void
test_iss_aud(void **state)
{
	(void)state;
	check_owned(claims("\"other\"", "\"fleetpki\"", "\"acme\"", NOW, NOW,
	                NOW + 60, ""),
	    "invalid issuer");
	check_owned(claims("\"fleetpki \"", "\"fleetpki\"", "\"acme\"", NOW,
	                NOW, NOW + 60, ""),
	    "invalid issuer");
	check_owned(claims("[\"fleetpki\"]", "\"fleetpki\"", "\"acme\"", NOW,
	                NOW, NOW + 60, ""),
	    "invalid issuer");
	check_owned(claims("\"fleetpki\"", "\"other\"", "\"acme\"", NOW, NOW,
	                NOW + 60, ""),
	    "invalid audience");
	check_owned(claims("\"fleetpki\"", "\"FLEETPKI\"", "\"acme\"", NOW, NOW,
	                NOW + 60, ""),
	    "invalid audience");
	check_owned(claims("\"fleetpki\"", "[\"a\",\"b\"]", "\"acme\"", NOW,
	                NOW, NOW + 60, ""),
	    "invalid audience");
	check_owned(
	    claims("\"fleetpki\"", "[]", "\"acme\"", NOW, NOW, NOW + 60, ""),
	    "invalid audience");
	check_owned(
	    claims("\"fleetpki\"", "1", "\"acme\"", NOW, NOW, NOW + 60, ""),
	    "invalid audience");
	check_owned(claims("\"fleetpki\"", "[\"fleetpki\\u0000\"]", "\"acme\"",
	                NOW, NOW, NOW + 60, ""),
	    "invalid audience");
	/* An array that contains our audience is fine (RFC 7519 4.1.3). */
	check_owned(claims("\"fleetpki\"", "[1,\"x\",\"fleetpki\"]", "\"acme\"",
	                NOW, NOW, NOW + 60, ""),
	    NULL);
	check_claims("{\"iss\":\"fleetpki\",\"tenant\":\"acme\",\"exp\":"
	             "1800000000}",
	    "invalid audience");
	check_claims("{\"aud\":\"fleetpki\",\"tenant\":\"acme\",\"exp\":"
	             "1800000000}",
	    "invalid issuer");
}

static void
test_tenant(void **state)
{
	char t64[80], *q;

	(void)state;
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	             "\"exp\":1800000000}",
	    "missing or invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"\"", NOW, NOW,
	                NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"ac me\"", NOW,
	                NOW, NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"a.b\"", NOW, NOW,
	                NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme/../x\"", NOW,
	                NOW, NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acm\\u00e9\"",
	                NOW, NOW, NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\\u0000x\"",
	                NOW, NOW, NOW + 60, ""),
	    "invalid tenant");
	check_owned(claims("\"fleetpki\"", "\"fleetpki\"", "42", NOW, NOW,
	                NOW + 60, ""),
	    "invalid tenant");
	/* 64 characters is the most; 65 is too many. */
	t64[0] = '"';
	memset(t64 + 1, 'T', 64);
	memcpy(t64 + 65, "\"", 2);
	check_owned(
	    claims("\"fleetpki\"", "\"fleetpki\"", t64, NOW, NOW, NOW + 60, ""),
	    NULL);
	t64[65] = 'T';
	memcpy(t64 + 66, "\"", 2);
	check_owned(
	    claims("\"fleetpki\"", "\"fleetpki\"", t64, NOW, NOW, NOW + 60, ""),
	    "invalid tenant");
	q = claims("\"fleetpki\"", "\"fleetpki\"", "\"A-z_09\"", NOW, NOW,
	    NOW + 60, "");
	check_owned(q, NULL);
}

static void
test_sub_jti(void **state)
{
	struct buf b = BUF_INIT;
	int i;

	(void)state;
	/* Free-text claims end up in logs: bounded, no control characters. */
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"sub\":\"a\\nb\"}",
	    "invalid subject");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"sub\":7}",
	    "invalid subject");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"jti\":\"a\\u0000\"}",
	    "invalid token id");
	for (i = 0; i < 2; i++) {
		buf_reset(&b);
		buf_puts(&b,
		    "{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
		    "\"tenant\":\"acme\",\"exp\":1800000000,\"sub\":\"");
		/* 127 bytes fit struct jwt_claims.sub; 128 do not. */
		while (b.len < 75 + 127 + (size_t)i)
			buf_puts(&b, "s");
		buf_puts(&b, "\"}");
		check_claims((char *)b.data, i == 0 ? NULL : "invalid subject");
	}
	buf_free(&b);
}

static void
test_duplicate_members(void **state)
{
	char *p = good_claims(), *tok;

	(void)state;
	/* Properly signed, but meaning two things: refused. */
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\",\"alg\":\"none\"}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "malformed token header");
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k2\",\"kid\":\"k1\"}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "malformed token header");
	free(tok);
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"evil\",\"exp\":1800000000,\"tenant\":\"acme\"}",
	    "malformed token claims");
	check_claims("{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\",\"tenant\":"
	             "\"acme\",\"exp\":1800000000,\"\\u0065xp\":1}",
	    "malformed token claims");
	free(p);
}

static void
test_header_params(void **state)
{
	struct jwt_claims c;
	struct fp_status st;
	char *p = good_claims(), *tok, *t2;

	(void)state;
	/*
	 * jku, x5u, jwk and x5c point at other keys (one at the metadata
	 * service): the token is accepted on k1 alone, with k1 looked up
	 * once by kid and nothing else consulted.
	 */
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\","
	           "\"jku\":\"http://169.254.169.254/latest/keys\","
	           "\"x5u\":\"https://attacker.example/c.pem\","
	           "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
	           "\"y\":\"AA\"},\"x5c\":[\"MIIB\"]}",
	    p, SIG_ES256, k1, NULL);
	assert_int_equal(verify_at(tok, NOW, LEEWAY, &c, &st), 0);
	assert_int_equal(lookups, 1);
	assert_string_equal(last_kid, "k1");
	free(tok);
	/* ...but they do not rescue a token signed by their key. */
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\","
	           "\"jku\":\"http://169.254.169.254/latest/keys\"}",
	    p, SIG_ES256, other, NULL);
	bad(tok, "bad signature");
	assert_int_equal(lookups, 1);
	free(tok);
	/* ...nor stand in for a kid. */
	tok = make("{\"alg\":\"ES256\",\"jku\":\"http://x/keys\"}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "invalid key id");
	assert_int_equal(lookups, 0);
	free(tok);

	/* crit names extensions we do not implement. */
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\",\"crit\":[\"b64\"],"
	           "\"b64\":false}",
	    p, SIG_ES256, k1, NULL);
	bad(tok, "unsupported critical header");
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\",\"crit\":[]}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "unsupported critical header");
	free(tok);
	/* typ, when present, says JWT. */
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "unsupported token type");
	free(tok);
	tok = make("{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":null}", p,
	    SIG_ES256, k1, NULL);
	bad(tok, "unsupported token type");
	free(tok);
	tok =
	    make("{\"alg\":\"ES256\",\"kid\":\"k1\"}", p, SIG_ES256, k1, NULL);
	ok(tok);
	/* The header must be a JSON object. */
	t2 = splice(tok, 0, "WyJFUzI1NiJd"); /* ["ES256"] */
	bad(t2, "malformed token header");
	free(t2);
	free(tok);
	free(p);
}

static void
test_malformed(void **state)
{
	static const char nul[] = "eyJh.eyJh\0.sig";
	char *p = good_claims(), *tok, *t2;
	struct fp_status st;
	struct buf b = BUF_INIT;

	(void)state;
	tok = make(HDR, p, SIG_ES256, k1, NULL);
	bad("", "missing token");
	assert_int_equal(
	    jwt_verify(NULL, 0, lookup, NULL, NOW, 0, NULL, &st), -FP_E_UNAUTH);
	bad("abc", "malformed token");
	bad("a.b", "malformed token");
	bad("a.b.c.d", "malformed token");
	bad("a.b.c.d.e", "malformed token");
	bad("..", "malformed token header");
	assert_int_equal(
	    jwt_verify(nul, sizeof(nul) - 1, lookup, NULL, NOW, 0, NULL, &st),
	    -FP_E_UNAUTH);
	assert_string_equal(st.msg, "malformed token");

	/* A fourth segment on a good token. */
	buf_puts(&b, tok);
	buf_puts(&b, ".x");
	bad((char *)b.data, "malformed token");
	/* White space or padding anywhere in the base64url. */
	buf_reset(&b);
	buf_puts(&b, " ");
	buf_puts(&b, tok);
	bad((char *)b.data, "malformed token header");
	buf_reset(&b);
	buf_puts(&b, tok);
	buf_puts(&b, "\n");
	bad((char *)b.data, "bad signature");
	buf_reset(&b);
	buf_puts(&b, tok);
	buf_puts(&b, "==");
	bad((char *)b.data, "bad signature");
	/* The standard alphabet in place of the url one. */
	t2 = xstrdup(tok);
	t2[0] = '+';
	bad(t2, "malformed token header");
	free(t2);
	/* Trailing white space is still one JSON value; more is not. */
	t2 =
	    make("{\"alg\":\"ES256\",\"kid\":\"k1\"} ", p, SIG_ES256, k1, NULL);
	ok(t2);
	free(t2);
	t2 =
	    make("{\"alg\":\"ES256\",\"kid\":\"k1\"}}", p, SIG_ES256, k1, NULL);
	bad(t2, "malformed token header");
	free(t2);
	t2 = make(HDR,
	    "{\"iss\":\"fleetpki\",\"aud\":\"fleetpki\","
	    "\"tenant\":\"acme\",\"exp\":1800000000,}",
	    SIG_ES256, k1, NULL);
	bad(t2, "malformed token claims");
	free(t2);
	t2 = make(HDR, "[1]", SIG_ES256, k1, NULL);
	bad(t2, "malformed token claims");
	free(t2);
	/* The payload is only parsed once the signature holds. */
	t2 = splice(tok, 1, "eyJ9");
	bad(t2, "bad signature");
	free(t2);
	buf_free(&b);
	free(tok);
	free(p);
}

static void
test_oversize(void **state)
{
	struct buf pad = BUF_INIT;
	char *payload, *tok;
	size_t len, below = 0, above = 0;
	int i;

	(void)state;
	/*
	 * Grow a filler claim until the token crosses JWT_MAX_LEN: the
	 * longest token at or under the cap is accepted, the first one over
	 * it refused, however well signed.
	 */
	for (i = 0; i < 4000 && above == 0; i++) {
		buf_reset(&pad);
		buf_puts(&pad, ",\"pad\":\"");
		while (pad.len < (size_t)i + 8)
			buf_puts(&pad, "x");
		buf_puts(&pad, "\"");
		payload = claims("\"fleetpki\"", "\"fleetpki\"", "\"acme\"",
		    NOW, NOW, NOW + 60, (char *)pad.data);
		tok = make(HDR, payload, SIG_ES256, k1, NULL);
		len = strlen(tok);
		if (len <= JWT_MAX_LEN) {
			below = len;
			if (len > JWT_MAX_LEN - 3)
				ok(tok);
		} else {
			above = len;
			bad(tok, "token too large");
			assert_int_equal(lookups, 0);
		}
		free(tok);
		free(payload);
	}
	assert_true(below > JWT_MAX_LEN - 3);
	assert_true(above > JWT_MAX_LEN && above < JWT_MAX_LEN + 3);
	buf_free(&pad);
}

/* ---- jws ------------------------------------------------------------ */

#define ACME_HDR                                                               \
	"{\"alg\":\"ES256\",\"kid\":\"https://acme.example/acct/7\","          \
	"\"nonce\":\"oFvnlFP1wIhRlYS2jTaXbA\","                                \
	"\"url\":\"https://acme.example/new-order\"}"
#define ACME_PAYLOAD                                                           \
	"{\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}]}"

/* Split a compact JWS into its three parts; asserts there are three. */
static void
split3(const char *jws, struct buf part[3])
{
	const char *p = jws, *dot;
	int i;

	for (i = 0; i < 3; i++) {
		dot = strchr(p, '.');
		if (i < 2)
			assert_non_null(dot);
		else
			assert_null(dot);
		buf_append(&part[i], p,
		    dot != NULL ? (size_t)(dot - p) : strlen(p));
		if (dot != NULL)
			p = dot + 1;
	}
}

/* 1 when 'sig64' (base64url r || s) verifies over 'tbs' with 'key'. */
static int
verifies(EVP_PKEY *key, const struct buf *sig64, const char *tbs)
{
	struct buf raw = BUF_INIT;
	int r;

	assert_int_equal(b64url_decode((const char *)sig64->data, sig64->len,
	                     &raw),
	    0);
	assert_int_equal(raw.len, JWS_ES256_SIGLEN);
	r = jws_es256_verify(key, raw.data, tbs, strlen(tbs));
	buf_free(&raw);
	return r;
}

static void
test_jws_compact(void **state)
{
	struct buf part[3] = { BUF_INIT, BUF_INIT, BUF_INIT }, dec = BUF_INIT;
	char *jws = NULL, *tbs;

	(void)state;
	assert_int_equal(jws_sign_compact(k1, ACME_HDR, ACME_PAYLOAD,
	                     strlen(ACME_PAYLOAD), &jws),
	    0);
	split3(jws, part);
	/* The protected header and the payload go out exactly as given. */
	assert_int_equal(b64url_decode((const char *)part[0].data, part[0].len,
	                     &dec),
	    0);
	assert_int_equal(dec.len, strlen(ACME_HDR));
	assert_memory_equal(dec.data, ACME_HDR, dec.len);
	buf_reset(&dec);
	assert_int_equal(b64url_decode((const char *)part[1].data, part[1].len,
	                     &dec),
	    0);
	assert_memory_equal(dec.data, ACME_PAYLOAD, strlen(ACME_PAYLOAD));
	/* Over "header.payload": this key only, these bytes only. */
	tbs = xstrndup(jws, part[0].len + 1 + part[1].len);
	assert_int_equal(verifies(k1, &part[2], tbs), 1);
	assert_int_equal(verifies(other, &part[2], tbs), 0);
	tbs[part[0].len + 3] ^= 1;
	assert_int_equal(verifies(k1, &part[2], tbs), 0);
	free(tbs);
	free(jws);
	buf_free(&dec);
	buf_free(&part[0]);
	buf_free(&part[1]);
	buf_free(&part[2]);
}

/* ACME's POST-as-GET: an empty payload is an empty middle part. */
static void
test_jws_empty_payload(void **state)
{
	struct buf part[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	char *jws = NULL, *tbs;

	(void)state;
	assert_int_equal(jws_sign_compact(k1, ACME_HDR, "", 0, &jws), 0);
	split3(jws, part);
	assert_int_equal(part[1].len, 0);
	tbs = xasprintf("%.*s.", (int)part[0].len, (const char *)part[0].data);
	assert_int_equal(verifies(k1, &part[2], tbs), 1);
	free(tbs);
	free(jws);
	buf_free(&part[0]);
	buf_free(&part[1]);
	buf_free(&part[2]);
}

/* The flattened JSON form carries the same three parts. */
static void
test_jws_flattened(void **state)
{
	struct buf part[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
	static const char *const names[] = { "protected", "payload",
		"signature" };
	json_object *obj, *v;
	char *flat = NULL, *tbs;
	int i;

	(void)state;
	assert_int_equal(jws_sign_flattened(k1, ACME_HDR, ACME_PAYLOAD,
	                     strlen(ACME_PAYLOAD), &flat),
	    0);
	assert_non_null(obj = json_tokener_parse(flat));
	assert_int_equal(json_object_object_length(obj), 3);
	for (i = 0; i < 3; i++) {
		const char *str;

		assert_true(json_object_object_get_ex(obj, names[i], &v));
		assert_true(json_object_is_type(v, json_type_string));
		str = json_object_get_string(v);
		buf_append(&part[i], str, strlen(str));
	}
	tbs =
	    xasprintf("%.*s.%.*s", (int)part[0].len, (const char *)part[0].data,
	        (int)part[1].len, (const char *)part[1].data);
	assert_int_equal(verifies(k1, &part[2], tbs), 1);
	free(tbs);
	json_object_put(obj);
	free(flat);
	for (i = 0; i < 3; i++)
		buf_free(&part[i]);
}

/*
 * jws_es256_verify against signatures made here with OpenSSL directly
 * (raw_sig), and the signer against verification here: the r || s
 * conversion agrees with an independent one, both ways.
 */
static void
test_jws_raw_interop(void **state)
{
	struct buf tbs = BUF_INIT;
	unsigned char raw[64], mine[JWS_ES256_SIGLEN];
	int i;

	(void)state;
	buf_puts(&tbs, "eyJhbGciOiJFUzI1NiJ9.e30");
	/* Many signatures: some have an r or s with leading zero bytes. */
	for (i = 0; i < 64; i++) {
		raw_sig(k1, &tbs, raw, NULL);
		assert_int_equal(jws_es256_verify(k1, raw, tbs.data, tbs.len),
		    1);
		assert_int_equal(jws_es256_sign(k1, tbs.data, tbs.len, mine),
		    0);
		assert_int_equal(jws_es256_verify(k1, mine, tbs.data, tbs.len),
		    1);
		mine[i % JWS_ES256_SIGLEN] ^= 0x80;
		assert_int_equal(jws_es256_verify(k1, mine, tbs.data, tbs.len),
		    0);
	}
	buf_free(&tbs);
}

/* Only P-256 keys sign; nothing is returned otherwise. */
static void
test_jws_key_types(void **state)
{
	EVP_PKEY *const bad[] = { p384, ed, rsa, NULL };
	char *out = (char *)"poison";
	size_t i;

	(void)state;
	assert_int_equal(jws_key_is_p256(k1), 1);
	for (i = 0; i < FP_ARRAY_LEN(bad); i++) {
		assert_int_equal(jws_key_is_p256(bad[i]), 0);
		out = (char *)"poison";
		assert_int_equal(jws_sign_compact(bad[i], ACME_HDR, "x", 1,
		                     &out),
		    -FP_E_INTERNAL);
		assert_null(out);
		out = (char *)"poison";
		assert_int_equal(jws_sign_flattened(bad[i], ACME_HDR, "x", 1,
		                     &out),
		    -FP_E_INTERNAL);
		assert_null(out);
	}
	assert_int_equal(jws_sign_compact(k1, NULL, "x", 1, &out),
	    -FP_E_INTERNAL);
	assert_null(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256_confusion),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_nbf_iat),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_der_signature),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_key_type),
		cmocka_unit_test(test_iss_aud),
		cmocka_unit_test(test_tenant),
		cmocka_unit_test(test_sub_jti),
		cmocka_unit_test(test_duplicate_members),
		cmocka_unit_test(test_header_params),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_jws_compact),
		cmocka_unit_test(test_jws_empty_payload),
		cmocka_unit_test(test_jws_flattened),
		cmocka_unit_test(test_jws_raw_interop),
		cmocka_unit_test(test_jws_key_types),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
