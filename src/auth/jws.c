/*
 * jws: ES256 signatures in the JWS form, and the two serializations
 * fleetpki sends (jws.h).  Split out of the JWT code so the ACME
 * client's requests and the JWTs sign the same way.
 */
#include "config.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/jws.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

/* P-256: r and s are 32 bytes each in the JWS form (RFC 7518 3.4). */
#define JWS_ES256_HALF (JWS_ES256_SIGLEN / 2)

/*
 * An EC key on P-256 given as a named curve.  Anything else returned by
 * a lookup is a configuration error, never something to adapt to.
 */
int
jws_key_is_p256(EVP_PKEY *key)
{
	char name[64], enc[32];
	int nid, ok = 0;

	if (key == NULL || !EVP_PKEY_is_a(key, "EC"))
		goto out;
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	        name, sizeof(name), NULL) != 1)
		goto out;
	if ((nid = OBJ_sn2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid != NID_X9_62_prime256v1)
		goto out;
	/* Explicit curve parameters are an attack surface (CVE-2022-0778). */
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING,
	        enc, sizeof(enc), NULL) != 1 ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
		goto out;
	ok = 1;
out:
	/* A failed parameter query leaves errors that are not news. */
	ERR_clear_error();
	return ok;
}

/*
 * OpenSSL signs in DER; RFC 7518 wants r || s, each left-padded to 32
 * bytes (a DER integer drops leading zeros, so r or s may be shorter).
 */
int
jws_es256_sign(EVP_PKEY *key, const void *tbs, size_t tbslen,
    unsigned char raw[JWS_ES256_SIGLEN])
{
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t derlen = 0;
	int rc = -FP_E_INTERNAL;

	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key,
	        NULL) != 1 ||
	    EVP_DigestSign(mctx, NULL, &derlen, tbs, tbslen) != 1) {
		log_ossl_errors("jws: EVP_DigestSignInit_ex");
		goto out;
	}
	der = xmalloc(derlen);
	if (EVP_DigestSign(mctx, der, &derlen, tbs, tbslen) != 1) {
		log_ossl_errors("jws: EVP_DigestSign");
		goto out;
	}
	p = der;
	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL) {
		log_ossl_errors("jws: d2i_ECDSA_SIG");
		goto out;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, JWS_ES256_HALF) != JWS_ES256_HALF ||
	    BN_bn2binpad(s, raw + JWS_ES256_HALF, JWS_ES256_HALF) !=
	        JWS_ES256_HALF) {
		log_ossl_errors("jws: BN_bn2binpad");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	ECDSA_SIG_free(sig);
	free(der);
	return rc;
}

/*
 * OpenSSL verifies DER, so the fixed-width halves are re-encoded.  The
 * fixed length is the caller's check (a signature of any other length,
 * notably DER itself, is no ES256 JWS signature).
 */
int
jws_es256_verify(EVP_PKEY *key, const unsigned char raw[JWS_ES256_SIGLEN],
    const void *tbs, size_t tbslen)
{
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int derlen, rc = -1;

	if ((r = BN_bin2bn(raw, JWS_ES256_HALF, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + JWS_ES256_HALF, JWS_ES256_HALF, NULL)) ==
	        NULL ||
	    (sig = ECDSA_SIG_new()) == NULL) {
		log_ossl_errors("jws: ECDSA_SIG");
		goto out;
	}
	if (ECDSA_SIG_set0(sig, r, s) != 1) {
		log_ossl_errors("jws: ECDSA_SIG_set0");
		goto out;
	}
	r = s = NULL; /* now owned by 'sig' */
	if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0) {
		log_ossl_errors("jws: i2d_ECDSA_SIG");
		goto out;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, key,
	        NULL) != 1) {
		log_ossl_errors("jws: EVP_DigestVerifyInit_ex");
		goto out;
	}
	/*
	 * 0 is a wrong signature, and so is an error here (r or s out of
	 * range, say): both come from the token, so neither is logged.
	 */
	rc = EVP_DigestVerify(mctx, der, (size_t)derlen,
	         (const unsigned char *)tbs, tbslen) == 1;
	ERR_clear_error();
out:
	EVP_MD_CTX_free(mctx);
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	OPENSSL_free(der);
	return rc;
}

/*
 * BASE64URL(protected) "." BASE64URL(payload) into 'tbs' and the
 * signature over it, base64url, into 'sig': the parts both
 * serializations are made of.
 */
static int
jws_parts(EVP_PKEY *key, const char *protected_json, const void *payload,
    size_t len, struct buf *tbs, struct buf *sig)
{
	unsigned char raw[JWS_ES256_SIGLEN];
	int rc;

	if (protected_json == NULL || !jws_key_is_p256(key)) {
		log_err("jws: no protected header, or not a P-256 key");
		return -FP_E_INTERNAL;
	}
	b64url_encode(protected_json, strlen(protected_json), tbs);
	buf_append(tbs, ".", 1);
	/* An empty payload encodes as nothing: "header..sig". */
	if (len > 0)
		b64url_encode(payload, len, tbs);
	if ((rc = jws_es256_sign(key, tbs->data, tbs->len, raw)) != 0)
		return rc;
	b64url_encode(raw, sizeof(raw), sig);
	return 0;
}

int
jws_sign_compact(EVP_PKEY *key, const char *protected_json, const void *payload,
    size_t len, char **out)
{
	struct buf tbs = BUF_INIT, sig = BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = jws_parts(key, protected_json, payload, len, &tbs, &sig)) !=
	    0)
		goto out;
	buf_append(&tbs, ".", 1);
	buf_append(&tbs, sig.data, sig.len);
	*out = buf_steal(&tbs, NULL);
out:
	buf_free(&tbs);
	buf_free(&sig);
	return rc;
}

int
jws_sign_flattened(EVP_PKEY *key, const char *protected_json,
    const void *payload, size_t len, char **out)
{
	struct buf tbs = BUF_INIT, sig = BUF_INIT, json = BUF_INIT;
	const char *dot;
	int rc;

	*out = NULL;
	if ((rc = jws_parts(key, protected_json, payload, len, &tbs, &sig)) !=
	    0)
		goto out;
	/*
	 * The members are the compact parts again; base64url needs no JSON
	 * escaping, so they are written as they are.
	 */
	dot = memchr(tbs.data, '.', tbs.len);
	buf_printf(&json,
	    "{\"protected\":\"%.*s\",\"payload\":\"%.*s\","
	    "\"signature\":\"%.*s\"}",
	    (int)(dot - (const char *)tbs.data), (const char *)tbs.data,
	    (int)(tbs.len - (size_t)(dot + 1 - (const char *)tbs.data)),
	    dot + 1, (int)sig.len, (const char *)sig.data);
	*out = buf_steal(&json, NULL);
out:
	buf_free(&tbs);
	buf_free(&sig);
	buf_free(&json);
	return rc;
}
