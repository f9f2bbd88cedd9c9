/*
 * key: key generation, the subject key policy, PKCS#8 encodings, and the
 * small hashing helpers (HMAC, digests, CSPRNG) the rest of the server
 * needs.  Everything goes through EVP and OSSL_PARAM: no RSA_* or EC_KEY_*.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

/* The algorithms pki_key_generate() offers, by their API names. */
static const struct keyalg {
	const char *name;
	const char *type; /* EVP key type */
	const char *group; /* EC curve, or NULL for RSA */
	unsigned int bits; /* RSA modulus size */
} keyalgs[] = {
	{ "ec-p256", "EC", "P-256", 0 },
	{ "ec-p384", "EC", "P-384", 0 },
	{ "ec-p521", "EC", "P-521", 0 },
	{ "rsa-2048", "RSA", NULL, 2048 },
	{ "rsa-3072", "RSA", NULL, 3072 },
	{ "rsa-4096", "RSA", NULL, 4096 },
};

const char *
pki_cert_key_alg(X509 *cert)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char group[64];
	size_t i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < FP_ARRAY_LEN(keyalgs); i++) {
		if (!EVP_PKEY_is_a(key, keyalgs[i].type))
			continue;
		/* The provider names the group "prime256v1", we "P-256". */
		if (keyalgs[i].group != NULL
		        ? EVP_PKEY_get_group_name(key, group, sizeof(group),
		              NULL) &&
		            OBJ_sn2nid(group) ==
		                EC_curve_nist2nid(keyalgs[i].group)
		        : EVP_PKEY_get_bits(key) == (int)keyalgs[i].bits)
			return keyalgs[i].name;
	}
	return NULL;
}

int
pki_key_generate(const char *alg, EVP_PKEY **out, struct fp_status *st)
{
	const struct keyalg *ka = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	OSSL_PARAM params[3];
	unsigned int bits;
	size_t i;
	int r = -FP_E_INTERNAL;

	*out = NULL;
	for (i = 0; alg != NULL && i < FP_ARRAY_LEN(keyalgs); i++)
		if (strcmp(alg, keyalgs[i].name) == 0)
			ka = &keyalgs[i];
	if (ka == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "Unsupported key algorithm. (Use ec-p256, ec-p384, "
		    "ec-p521, rsa-2048, rsa-3072 or rsa-4096)");

	/*
	 * Ask for the named-curve encoding explicitly rather than trusting
	 * the default: pki_key_check() rejects anything else, and a key we
	 * generated must pass our own policy.  RSA keeps e = 65537, the
	 * provider's default.
	 */
	if (ka->group != NULL) {
		params[0] =
		    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		        (char *)ka->group, 0);
		params[1] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_EC_ENCODING,
		    (char *)OSSL_PKEY_EC_ENCODING_GROUP, 0);
		params[2] = OSSL_PARAM_construct_end();
	} else {
		bits = ka->bits;
		params[0] =
		    OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS, &bits);
		params[1] = OSSL_PARAM_construct_end();
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, ka->type, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
	    EVP_PKEY_generate(ctx, &key) <= 0) {
		log_ossl_errors("pki_key_generate");
		goto out;
	}
	*out = key;
	key = NULL;
	r = 0;
out:
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* RSA: 2048, 3072 or 4096 bits, e = 65537. */
static int
key_check_rsa(EVP_PKEY *key, struct fp_status *st)
{
	BIGNUM *n = NULL, *e = NULL;
	int bits, r = -FP_E_INTERNAL;

	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
		log_ossl_errors("pki_key_check: RSA parameters");
		goto out;
	}
	bits = BN_num_bits(n);
	if (bits < 2048) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The RSA public key length less than 2048 bits is not "
		    "supported.");
		goto out;
	}
	/*
	 * Odd sizes (2049, 8192, ...) are not weaker, but every client we
	 * serve makes one of the three, and a short list keeps verification
	 * cost bounded.
	 */
	if (bits != 2048 && bits != 3072 && bits != 4096) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The RSA public key length of %d bits is not supported. "
		    "(Use 2048, 3072 or 4096 bits)",
		    bits);
		goto out;
	}
	if (!BN_is_word(e, 65537)) {
		r = fp_fail(st, FP_E_BADREQ,
		    "The RSA public exponent is not supported. (Use 65537)");
		goto out;
	}
	r = 0;
out:
	BN_free(n);
	BN_free(e);
	return r;
}

/* EC: P-256, P-384 or P-521, encoded as a named curve, point on curve. */
static int
key_check_ec(EVP_PKEY *key, struct fp_status *st)
{
	EVP_PKEY_CTX *ctx = NULL;
	char enc[32], group[64];
	int nid, explicit = 0, r = -FP_E_INTERNAL;

	/*
	 * A key decoded from explicit parameters that happen to equal P-256
	 * still reports the group name "prime256v1": OpenSSL matches the
	 * parameters to a built-in curve.  The group name alone therefore
	 * proves nothing; the encoding says how the key came to us.
	 */
	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING,
	        enc, sizeof(enc), NULL) ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0 ||
	    (EVP_PKEY_get_int_param(key,
	         OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS, &explicit) &&
	        explicit != 0)) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_EXPLICIT);
		goto out;
	}
	nid = NID_undef;
	if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL))
		nid = OBJ_sn2nid(group);
	ERR_clear_error();
	if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 &&
	    nid != NID_secp521r1) {
		r = fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_CURVE);
		goto out;
	}

	/*
	 * The quick check (point on the curve, not at infinity) is what
	 * matters for prime-order curves; the full check adds a scalar
	 * multiplication by the order that the cofactor 1 makes redundant.
	 */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL) {
		log_ossl_errors("pki_key_check: EVP_PKEY_CTX_new_from_pkey");
		goto out;
	}
	if (EVP_PKEY_public_check_quick(ctx) != 1) {
		ERR_clear_error();
		r = fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_EC_POINT);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
pki_key_check(EVP_PKEY *key, struct fp_status *st)
{
	/* is_a("RSA") is false for RSA-PSS keys, which we do not take. */
	if (key != NULL && EVP_PKEY_is_a(key, "RSA"))
		return key_check_rsa(key, st);
	if (key != NULL && EVP_PKEY_is_a(key, "EC"))
		return key_check_ec(key, st);
	return fp_fail(st, FP_E_BADREQ, "%s", PKI_MSG_KEY_ALG);
}

/* PKCS#8 through the 3.0 encoders; 'fmt' is "DER" or "PEM". */
static int
key_encode(EVP_PKEY *key, const char *fmt, struct buf *out)
{
	OSSL_ENCODER_CTX *ctx = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int r = -FP_E_INTERNAL;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, fmt,
	    "PrivateKeyInfo", NULL);
	if (ctx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ctx) == 0 ||
	    !OSSL_ENCODER_to_data(ctx, &data, &len)) {
		log_ossl_errors("pki_key_encode");
		goto out;
	}
	/* Reserve first so that appending never leaves a stale copy. */
	buf_reserve(out, len);
	buf_append(out, data, len);
	r = 0;
out:
	OPENSSL_clear_free(data, len);
	OSSL_ENCODER_CTX_free(ctx);
	return r;
}

int
pki_key_to_der(EVP_PKEY *key, struct buf *out)
{
	return key_encode(key, "DER", out);
}

int
pki_key_to_pem(EVP_PKEY *key, struct buf *out)
{
	return key_encode(key, "PEM", out);
}

int
pki_spki_sha256_hex(EVP_PKEY *key, char out[65])
{
	char hex[EVP_MAX_MD_SIZE * 2 + 1];
	unsigned char *der = NULL;
	int len, rc;

	out[0] = '\0';
	if ((len = i2d_PUBKEY(key, &der)) <= 0) {
		log_ossl_errors("pki_spki_sha256_hex");
		return -FP_E_INTERNAL;
	}
	rc = pki_digest_hex("sha256", der, (size_t)len, hex);
	OPENSSL_free(der);
	if (rc == 0)
		memcpy(out, hex, 65);
	return rc;
}

int
pki_key_from_der(const unsigned char *der, size_t len, EVP_PKEY **out)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;
	int r = -FP_E_BADREQ;

	/*
	 * d2i of the PKCS#8 structure accepts nothing but PrivateKeyInfo,
	 * and costs a fraction of the generic decoder, which tries every
	 * format and key type in turn.  Freeing 'p8' wipes the key octets.
	 */
	*out = NULL;
	if (len > LONG_MAX ||
	    (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		log_err("pki_key_from_der: not a PKCS#8 private key");
		goto out;
	}
	if ((key = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL) {
		log_ossl_errors("pki_key_from_der: EVP_PKCS82PKEY_ex");
		goto out;
	}
	*out = key;
	r = 0;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	return r;
}

void
pki_random(void *out, size_t len)
{
	unsigned char *p = out;
	int n;

	/* RAND_bytes() counts in int; feed it bounded chunks. */
	while (len > 0) {
		n = len > INT_MAX ? INT_MAX : (int)len;
		if (RAND_bytes(p, n) != 1) {
			log_ossl_errors("RAND_bytes");
			fatal("the random generator failed");
		}
		p += n;
		len -= (size_t)n;
	}
}

int
pki_hmac_hex(const unsigned char *key, size_t keylen, const void *msg,
    size_t msglen, char out[65])
{
	unsigned char mac[32];
	size_t maclen = 0;
	int r = -FP_E_INTERNAL;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, msg,
	        msglen, mac, sizeof(mac), &maclen) == NULL ||
	    maclen != sizeof(mac)) {
		log_ossl_errors("pki_hmac_hex");
		goto out;
	}
	util_hex(mac, sizeof(mac), out);
	r = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

int
pki_digest_hex(const char *alg, const void *data, size_t len,
    char out[EVP_MAX_MD_SIZE * 2 + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *type;

	/*
	 * MD5 serves only as a content checksum that clients send (never a
	 * signature); the default provider still carries it in 3.0.
	 */
	if (alg != NULL && strcmp(alg, "sha256") == 0)
		type = EVP_sha256();
	else if (alg != NULL && strcmp(alg, "md5") == 0)
		type = EVP_md5();
	else
		return -FP_E_BADREQ;
	if (!EVP_Digest(data, len, md, &mdlen, type, NULL)) {
		log_ossl_errors("pki_digest_hex");
		return -FP_E_INTERNAL;
	}
	util_hex(md, mdlen, out);
	return 0;
}
