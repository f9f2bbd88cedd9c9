/*
 * libFuzzer harness for jwt_verify.  Build and run: see
 * tests/fuzz/build.sh.
 *
 * A random input almost never carries a valid signature, so it would
 * only exercise the checks before the signature.  Inputs are therefore
 * read two ways:
 *  - as a token as it stands: it must never verify (the key is made at
 *    start-up, so any success is a forgery);
 *  - as "header JSON" NUL "claims JSON": the harness signs the pair
 *    properly with the P-256 key, so the header, key and claims checks
 *    behind a valid signature are reached too.  Whatever verifies must
 *    carry a tenant of the documented form.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/jwt.h"
#include "fleetpki/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed clock: tokens in the seed corpus stay valid across runs. */
#define FUZZ_NOW ((time_t)1700000000)

static EVP_PKEY *key;

static EVP_PKEY *
lookup(void *arg, const char *kid)
{
	(void)arg;
	return strcmp(kid, "k1") == 0 ? key : NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LVL_ERR);
	if ((key = EVP_EC_gen("P-256")) == NULL)
		abort();
	return 0;
}

/* Append the JWS signature (raw r || s) of 'tbs' to 'out'. */
static void
sign(const struct buf *tbs, struct buf *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80], raw[64];
	const unsigned char *p = der;
	size_t len = sizeof(der);
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;

	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) !=
	        1 ||
	    EVP_DigestSign(ctx, der, &len, tbs->data, tbs->len) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		abort();
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 ||
	    BN_bn2binpad(s, raw + 32, 32) != 32)
		abort();
	b64url_encode(raw, sizeof(raw), out);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
}

static void
check_claims(const struct jwt_claims *c)
{
	size_t n = strlen(c->tenant);

	if (n == 0 || n > JWT_TENANT_MAX ||
	    strspn(c->tenant,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789_-") != n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claims c;
	struct fp_status st;
	struct buf tok = BUF_INIT, sig = BUF_INIT;
	const uint8_t *nul;

	/* As a token: never valid. */
	if (jwt_verify((const char *)data, size, lookup, NULL, FUZZ_NOW, 60, &c,
	        &st) == 0)
		abort();

	/* As header NUL claims, properly signed. */
	if ((nul = memchr(data, '\0', size)) != NULL) {
		b64url_encode(data, (size_t)(nul - data), &tok);
		buf_append(&tok, ".", 1);
		b64url_encode(nul + 1, size - (size_t)(nul + 1 - data), &tok);
		/* The signing input is the token so far. */
		sign(&tok, &sig);
		buf_append(&tok, ".", 1);
		buf_append(&tok, sig.data, sig.len);
		if (jwt_verify((const char *)tok.data, tok.len, lookup, NULL,
		        FUZZ_NOW, 60, &c, &st) == 0)
			check_claims(&c);
	}
	buf_free(&tok);
	buf_free(&sig);
	return 0;
}
