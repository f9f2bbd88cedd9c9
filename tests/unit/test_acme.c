/*
 * test_acme: the ACME client's pure parts (acme.h, core_acme.h): the
 * JWK and its RFC 7638 thumbprint, key authorizations and DNS-01 values
 * (RFC 8555 8.1, 8.4), external account binding, problem documents,
 * Retry-After, the weekly budget, and the DNS TXT query the visibility
 * check sends and reads.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/acme.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core_acme.h"

/* RFC 7638 3.1: the thumbprint of the RSA key of RFC 7517 A.1. */
static void
test_thumbprint_rfc7638(void **state)
{
	static const char jwk[] =
	    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN"
	    "9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
	    "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_"
	    "RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zg"
	    "dAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4"
	    "lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKg"
	    "w\"}";
	char t[ACME_THUMB_LEN + 1];

	(void)state;
	acme_jwk_thumbprint(jwk, t);
	assert_string_equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

/* The P-256 key of RFC 7517 A.2 (public x, y; private d). */
static EVP_PKEY *
rfc7517_ec_key(void)
{
	static const char *x = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
	static const char *y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
	static const char *d = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE";
	struct buf bx = BUF_INIT, by = BUF_INIT, bd = BUF_INIT;
	unsigned char pub[65];
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *key = NULL;
	BIGNUM *priv;

	assert_int_equal(b64url_decode(x, strlen(x), &bx), 0);
	assert_int_equal(b64url_decode(y, strlen(y), &by), 0);
	assert_int_equal(b64url_decode(d, strlen(d), &bd), 0);
	pub[0] = 4;
	memcpy(pub + 1, bx.data, 32);
	memcpy(pub + 33, by.data, 32);
	priv = BN_bin2bn(bd.data, (int)bd.len, NULL);
	bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	    sizeof(pub));
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv);
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	assert_int_equal(EVP_PKEY_fromdata_init(pctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_KEYPAIR,
	                     params),
	    1);
	EVP_PKEY_CTX_free(pctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(priv);
	buf_free(&bx);
	buf_free(&by);
	buf_free(&bd);
	return key;
}

static void
test_jwk_ec(void **state)
{
	EVP_PKEY *key = rfc7517_ec_key();
	struct buf jwk = BUF_INIT;
	char t[ACME_THUMB_LEN + 1];

	(void)state;
	assert_int_equal(acme_jwk(key, &jwk), 0);
	buf_append(&jwk, "", 1);
	/* Canonical: required members only, lexical order, no spaces. */
	assert_string_equal((const char *)jwk.data,
	    "{\"crv\":\"P-256\",\"kty\":\"EC\","
	    "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
	    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}");
	acme_jwk_thumbprint((const char *)jwk.data, t);
	assert_int_equal(strlen(t), ACME_THUMB_LEN);
	/* base64url, no padding */
	assert_null(strchr(t, '='));
	assert_null(strchr(t, '+'));
	assert_null(strchr(t, '/'));
	buf_free(&jwk);
	EVP_PKEY_free(key);
}

static void
test_jwk_refuses_other_keys(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	struct buf jwk = BUF_INIT;

	(void)state;
	assert_non_null(rsa);
	assert_int_not_equal(acme_jwk(rsa, &jwk), 0);
	buf_free(&jwk);
	EVP_PKEY_free(rsa);
}

/* RFC 8555 8.1's example, and 8.4's value: base64url(SHA-256(ka)). */
static void
test_key_authz(void **state)
{
	char *ka, v[ACME_THUMB_LEN + 1];

	(void)state;
	ka = acme_key_authz("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
	    "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
	assert_string_equal(ka,
	    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA."
	    "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI");
	acme_dns01_value(ka, v);
	/* printf '%s' KA | openssl dgst -sha256 -binary | base64url */
	assert_string_equal(v, "lCM7cZyQXcVHK2nnW3jjAhNT3Fvm18UN-kWZZknKoYM");
	free(ka);
	acme_dns01_value("", v);
	assert_string_equal(v, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}

/*
 * The exec provider's arguments: a value is base64url and may start
 * with '-' (one SHA-256 in 64 does); it is passed as it is.  A name that
 * starts with '-', or anything with characters to quote, is refused.
 */
static void
test_dns_exec_hook(void **state)
{
	char dir[] = "/tmp/fleetpki-test-dns-XXXXXX", hook[128], out[128];
	char line[256];
	struct acme_dns d;
	struct fp_status st = { FP_E_OK, "" };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(hook, sizeof(hook), "%s/hook", dir);
	snprintf(out, sizeof(out), "%s/args", dir);
	assert_non_null(f = fopen(hook, "w"));
	fprintf(f, "#!/bin/sh\nprintf '%%s|%%s|%%s\\n' \"$1\" \"$2\" \"$3\" "
	           ">>%s\n", out);
	fclose(f);
	assert_int_equal(chmod(hook, 0700), 0);
	memset(&d, 0, sizeof(d));
	d.provider = (char *)"exec";
	d.hook = hook;
	assert_int_equal(acme_dns_set(&d, 1, "_acme-challenge.dev-1.example",
	                     "-yv0Dq9KX_Z1HHUq1Rv1G2Uo4ZC8aW8N0m5YJjPBEmM", &st),
	    0);
	assert_int_equal(acme_dns_set(&d, 0, "_acme-challenge.dev-1.example",
	                     "_a", &st),
	    0);
	assert_int_not_equal(acme_dns_set(&d, 1, "-x.example", "abc", &st), 0);
	assert_int_not_equal(acme_dns_set(&d, 1, "a.example", "a b", &st), 0);
	assert_int_not_equal(acme_dns_set(&d, 1, "a.example", "a=", &st), 0);
	assert_int_not_equal(acme_dns_set(&d, 1, "a.example", "", &st), 0);
	assert_non_null(f = fopen(out, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "present|_acme-challenge.dev-1.example|"
	                          "-yv0Dq9KX_Z1HHUq1Rv1G2Uo4ZC8aW8N0m5YJjPBEmM\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "cleanup|_acme-challenge.dev-1.example|_a\n");
	assert_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(out);
	unlink(hook);
	rmdir(dir);
}

static void
test_eab(void **state)
{
	static const char jwk[] = "{\"crv\":\"P-256\",\"kty\":\"EC\","
	                          "\"x\":\"a\",\"y\":\"b\"}";
	/* "secret-mac-key-0123456789" in base64url */
	static const char key[] = "c2VjcmV0LW1hYy1rZXktMDEyMzQ1Njc4OQ";
	struct buf out = BUF_INIT, prot = BUF_INIT, payload = BUF_INIT;
	struct buf sig = BUF_INIT, tbs = BUF_INIT;
	unsigned char mac[32];
	unsigned int maclen;
	json_object *o, *p, *v;

	(void)state;
	assert_int_equal(acme_eab("kid-1", key, jwk,
	                     "https://ca.example/new-acct", &out),
	    0);
	buf_append(&out, "", 1);
	o = json_tokener_parse((const char *)out.data);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "protected", &v));
	assert_int_equal(b64url_decode(json_object_get_string(v),
	                     strlen(json_object_get_string(v)), &prot),
	    0);
	buf_append(&prot, "", 1);
	p = json_tokener_parse((const char *)prot.data);
	assert_string_equal(json_object_get_string(
	                        json_object_object_get(p, "alg")),
	    "HS256");
	assert_string_equal(json_object_get_string(
	                        json_object_object_get(p, "kid")),
	    "kid-1");
	assert_string_equal(json_object_get_string(
	                        json_object_object_get(p, "url")),
	    "https://ca.example/new-acct");
	assert_true(json_object_object_get_ex(o, "payload", &v));
	assert_int_equal(b64url_decode(json_object_get_string(v),
	                     strlen(json_object_get_string(v)), &payload),
	    0);
	assert_int_equal(payload.len, strlen(jwk));
	assert_memory_equal(payload.data, jwk, payload.len);
	/* The MAC over protected "." payload with the decoded key. */
	buf_puts(&tbs,
	    json_object_get_string(json_object_object_get(o, "protected")));
	buf_puts(&tbs, ".");
	buf_puts(&tbs, json_object_get_string(v));
	HMAC(EVP_sha256(), "secret-mac-key-0123456789", 25, tbs.data, tbs.len,
	    mac, &maclen);
	assert_true(json_object_object_get_ex(o, "signature", &v));
	assert_int_equal(b64url_decode(json_object_get_string(v),
	                     strlen(json_object_get_string(v)), &sig),
	    0);
	assert_int_equal(sig.len, 32);
	assert_memory_equal(sig.data, mac, 32);
	/* Not base64url: refused. */
	buf_reset(&out);
	assert_int_equal(acme_eab("kid-1", "not base64!", jwk, "u", &out),
	    -FP_E_BADREQ);
	json_object_put(p);
	json_object_put(o);
	buf_free(&out);
	buf_free(&prot);
	buf_free(&payload);
	buf_free(&sig);
	buf_free(&tbs);
}

static void
test_problem(void **state)
{
	static const char bn[] =
	    "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
	    "\"detail\":\"JWS has an invalid anti-replay nonce\","
	    "\"status\":400}";
	static const char rl[] =
	    "{\"type\":\"urn:ietf:params:acme:error:rateLimited\","
	    "\"detail\":\"too many\\ncertificates\"}";
	struct acme_problem p;

	(void)state;
	assert_int_equal(acme_problem_parse(bn, strlen(bn), 400, &p), 0);
	assert_string_equal(p.type, ACME_ERR_BADNONCE);
	assert_string_equal(p.detail, "JWS has an invalid anti-replay nonce");
	assert_int_equal(p.status, 400);
	assert_int_equal(acme_problem_parse(rl, strlen(rl), 429, &p), 0);
	assert_string_equal(p.type, ACME_ERR_RATELIMITED);
	/* control characters never reach a record */
	assert_string_equal(p.detail, "too many certificates");
	assert_int_equal(p.status, 429);
	/* Not a problem document: the status and what was said. */
	assert_int_equal(acme_problem_parse("<html>oops</html>", 17, 502, &p),
	    -1);
	assert_string_equal(p.type, "http:502");
	assert_string_equal(p.detail, "<html>oops</html>");
	assert_int_equal(acme_problem_parse("{\"detail\":\"x\"}", 14, 400, &p),
	    -1);
	assert_int_equal(acme_problem_parse(NULL, 0, 500, &p), -1);
	assert_string_equal(p.type, "http:500");
}

static void
test_retry_after(void **state)
{
	struct tm tm;
	time_t t;

	(void)state;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 2015 - 1900;
	tm.tm_mon = 9;
	tm.tm_mday = 21;
	tm.tm_hour = 7;
	tm.tm_min = 28;
	t = timegm(&tm);
	assert_int_equal(acme_retry_after("120", t), 120);
	assert_int_equal(acme_retry_after(" 0", t), 0);
	assert_int_equal(acme_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
	                     t - 30),
	    30);
	/* the past: now */
	assert_int_equal(acme_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
	                     t + 30),
	    0);
	/* capped at a day */
	assert_int_equal(acme_retry_after("99999999999999999999", t), 86400);
	assert_int_equal(acme_retry_after("12abc", t), -1);
	assert_int_equal(acme_retry_after("soon", t), -1);
	assert_int_equal(acme_retry_after("-5", t), -1);
	assert_int_equal(acme_retry_after(NULL, t), -1);
}

static void
test_budget(void **state)
{
	(void)state;
	/* room left */
	assert_int_equal(acme_budget_wait_s(50, 0, 0, 0, 0), 0);
	assert_int_equal(acme_budget_wait_s(50, 48, 1, 100, 0), 0);
	/* full with orders in flight: look again in a minute */
	assert_int_equal(acme_budget_wait_s(50, 48, 2, 100, 0), 60);
	/* spent: until the oldest leaves the seven days */
	assert_int_equal(acme_budget_wait_s(50, 50, 0, 86400, 0), 6 * 86400);
	assert_int_equal(acme_budget_wait_s(2, 3, 0, 7 * 86400 + 5, 0), 1);
	/* renewals go first: they never wait */
	assert_int_equal(acme_budget_wait_s(50, 50, 10, 0, 1), 0);
	assert_int_equal(acme_budget_wait_s(0, 0, 0, 0, 1), 0);
	/* a budget of 0 lets no new order through */
	assert_int_equal(acme_budget_wait_s(0, 0, 0, 0, 0), 3600);
}

/* A TXT answer to 'q' with the strings 'vals' (NULL-terminated). */
static size_t
txt_answer(const unsigned char *q, size_t qlen, const char *const *vals,
    int rcode, unsigned char *out)
{
	size_t n = qlen, i, rd;

	memcpy(out, q, qlen);
	out[2] |= 0x80;
	out[3] = (unsigned char)rcode;
	out[7] = 1;
	out[n++] = 0xc0; /* the question's name */
	out[n++] = 12;
	out[n++] = 0;
	out[n++] = 16;
	out[n++] = 0;
	out[n++] = 1;
	memset(out + n, 0, 4);
	n += 4;
	rd = n;
	n += 2;
	for (i = 0; vals[i] != NULL; i++) {
		out[n++] = (unsigned char)strlen(vals[i]);
		memcpy(out + n, vals[i], strlen(vals[i]));
		n += strlen(vals[i]);
	}
	out[rd] = (unsigned char)((n - rd - 2) >> 8);
	out[rd + 1] = (unsigned char)(n - rd - 2);
	return n;
}

static void
test_dns_query(void **state)
{
	static const char *const one[] = { "other", "the-value", NULL };
	static const char *const none[] = { "the-valu", NULL };
	unsigned char q[512], a[1024];
	int qlen;
	size_t alen;

	(void)state;
	qlen = acme_dns_query("_acme-challenge.dev-1.example.com", 0x1234, q,
	    sizeof(q));
	assert_int_equal(qlen, 12 + 35 + 4);
	assert_int_equal(q[0], 0x12);
	assert_int_equal(q[1], 0x34);
	assert_int_equal(q[5], 1);
	assert_int_equal(q[12], 15);
	assert_memory_equal(q + 13, "_acme-challenge", 15);
	assert_int_equal(q[qlen - 3], 16); /* TXT */
	/* labels too long, empty */
	assert_int_equal(acme_dns_query("a..b", 1, q, sizeof(q)), -1);
	assert_int_equal(
	    acme_dns_query("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                   "aaaaaaaaaaaaaaaaaaaaaaa.com",
	        1, q, sizeof(q)),
	    -1);
	qlen = acme_dns_query("_acme-challenge.dev-1.example.com", 0x1234, q,
	    sizeof(q));
	alen = txt_answer(q, (size_t)qlen, one, 0, a);
	assert_int_equal(acme_dns_answer_has(a, alen, 0x1234, "the-value"), 1);
	assert_int_equal(acme_dns_answer_has(a, alen, 0x1234, "missing"), 0);
	/* another query's answer, a truncated one */
	assert_int_equal(acme_dns_answer_has(a, alen, 0x1235, "the-value"), -1);
	assert_int_equal(acme_dns_answer_has(a, alen - 3, 0x1234, "the-value"),
	    -1);
	alen = txt_answer(q, (size_t)qlen, none, 0, a);
	assert_int_equal(acme_dns_answer_has(a, alen, 0x1234, "the-value"), 0);
	/* NXDOMAIN */
	alen = txt_answer(q, (size_t)qlen, one, 3, a);
	assert_int_equal(acme_dns_answer_has(a, alen, 0x1234, "the-value"), 0);
	/* a query is no answer */
	assert_int_equal(acme_dns_answer_has(q, (size_t)qlen, 0x1234, "x"), -1);
}

/* RFC 9773 4.1's example: AKI 69:88:5B:..., serial 00:87:65:43:21. */
static void
test_ari_id(void **state)
{
	static const unsigned char keyid[] = { 0x69, 0x88, 0x5B, 0x6B, 0x87,
		0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE,
		0x2C, 0xDE, 0x01, 0xC8, 0xD4 };
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	unsigned char *der = NULL;
	char *id;
	int len;

	(void)state;
	akid->keyid = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(akid->keyid, keyid, sizeof(keyid));
	assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier,
	                     akid, 0, 0),
	    1);
	BN_hex2bn(&bn, "87654321");
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	X509_set_pubkey(x, key);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	id = acme_ari_id(der, (size_t)len);
	assert_non_null(id);
	assert_string_equal(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	free(id);
	/* No AKI: no identifier. */
	assert_null(acme_ari_id((const unsigned char *)"junk", 4));
	OPENSSL_free(der);
	BN_free(bn);
	AUTHORITY_KEYID_free(akid);
	X509_free(x);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_jwk_ec),
		cmocka_unit_test(test_jwk_refuses_other_keys),
		cmocka_unit_test(test_key_authz),
		cmocka_unit_test(test_eab),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_dns_query),
		cmocka_unit_test(test_dns_exec_hook),
		cmocka_unit_test(test_ari_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
