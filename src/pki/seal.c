/*
 * seal: private keys at rest under AES-256-GCM.  The AAD names the row
 * that owns the blob, so a sealed key moved to another tenant's row, or
 * another CA's, fails to open instead of being used there.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#define NONCE_LEN 12
#define TAG_LEN 16

/*
 * Random 96-bit nonces: the key seals a few thousand CA and server keys
 * in its life, far below the 2^32 messages where collisions matter
 * (NIST SP 800-38D 8.3).
 */
int
pki_seal(const unsigned char key[PKI_SEAL_KEY_LEN], const void *aad,
    size_t aadlen, const unsigned char *pt, size_t ptlen, struct buf *out)
{
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN], *ct = NULL;
	OSSL_PARAM params[2];
	int n, fin, r = -FP_E_INTERNAL;

	if (ptlen > INT_MAX - 64 || aadlen > INT_MAX) {
		log_err("pki_seal: input too large");
		goto out;
	}
	pki_random(nonce, sizeof(nonce));
	ct = xmalloc(ptlen + 16);
	if ((cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_EncryptInit_ex2(ctx, cipher, key, nonce, NULL) ||
	    (aadlen > 0 &&
	        !EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen)) ||
	    !EVP_EncryptUpdate(ctx, ct, &n, pt, (int)ptlen) ||
	    !EVP_EncryptFinal_ex(ctx, ct + n, &fin)) {
		log_ossl_errors("pki_seal");
		goto out;
	}
	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag,
	        sizeof(tag));
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_get_params(ctx, params)) {
		log_ossl_errors("pki_seal: tag");
		goto out;
	}
	buf_reserve(out, sizeof(nonce) + (size_t)(n + fin) + sizeof(tag));
	buf_append(out, nonce, sizeof(nonce));
	buf_append(out, ct, (size_t)(n + fin));
	buf_append(out, tag, sizeof(tag));
	r = 0;
out:
	free(ct);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}

int
pki_open(const unsigned char key[PKI_SEAL_KEY_LEN], const void *aad,
    size_t aadlen, const unsigned char *ct, size_t ctlen, struct buf *out)
{
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *pt = NULL;
	OSSL_PARAM params[2];
	size_t len = 0;
	int n = 0, fin = 0, r = -FP_E_INTERNAL;

	if (ctlen < PKI_SEAL_OVERHEAD || ctlen - PKI_SEAL_OVERHEAD > INT_MAX ||
	    aadlen > INT_MAX) {
		log_err("pki_open: sealed data of %zu bytes is malformed",
		    ctlen);
		goto out;
	}
	len = ctlen - PKI_SEAL_OVERHEAD;
	/* The plaintext is a private key: keep it in memory we wipe. */
	pt = xmalloc(len + 16);
	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	        (void *)(ct + ctlen - TAG_LEN), TAG_LEN);
	params[1] = OSSL_PARAM_construct_end();
	if ((cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    !EVP_DecryptInit_ex2(ctx, cipher, key, ct, NULL) ||
	    (aadlen > 0 &&
	        !EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen)) ||
	    !EVP_DecryptUpdate(ctx, pt, &n, ct + NONCE_LEN, (int)len) ||
	    !EVP_CIPHER_CTX_set_params(ctx, params)) {
		log_ossl_errors("pki_open");
		goto out;
	}
	/* Final is where GCM compares the tag; nothing is queued on a miss. */
	if (EVP_DecryptFinal_ex(ctx, pt + n, &fin) <= 0) {
		ERR_clear_error();
		log_err("pki_open: sealed data does not authenticate (wrong "
		        "key, wrong owner, or damaged)");
		goto out;
	}
	buf_reserve(out, (size_t)(n + fin));
	buf_append(out, pt, (size_t)(n + fin));
	r = 0;
out:
	if (pt != NULL) {
		OPENSSL_cleanse(pt, len + 16);
		free(pt);
	}
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	return r;
}
