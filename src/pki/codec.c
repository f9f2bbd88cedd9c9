/*
 * codec: certificate DER/PEM encodings, strict PEM envelopes, and SHA-256
 * fingerprints in the "AA:BB:..." form the API shows.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

static const char hexup[] = "0123456789ABCDEF";

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
pki_cert_to_der(X509 *cert, struct buf *out)
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_X509(cert, &der)) <= 0) {
		log_ossl_errors("pki_cert_to_der");
		return -FP_E_INTERNAL;
	}
	buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
	return 0;
}

int
pki_cert_to_pem(X509 *cert, struct buf *out)
{
	BIO *bio = NULL;
	char *p;
	long n;
	int r = -FP_E_INTERNAL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509(bio, cert) ||
	    (n = BIO_get_mem_data(bio, &p)) <= 0) {
		log_ossl_errors("pki_cert_to_pem");
		goto out;
	}
	buf_append(out, p, (size_t)n);
	r = 0;
out:
	BIO_free(bio);
	return r;
}

int
pki_cert_from_der(const unsigned char *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	X509 *x = NULL;

	/* Trailing bytes after the certificate mean it is not one. */
	*out = NULL;
	if (len > LONG_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		X509_free(x);
		return -FP_E_BADREQ;
	}
	*out = x;
	return 0;
}

int
pki_pem_decode(const char *pem, size_t len, const char *label, struct buf *out,
    struct fp_status *st)
{
	static const char begin[] = "-----BEGIN ";
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	BIO *bio = NULL;
	size_t off, used;
	long dlen = 0;
	int r = -FP_E_BADREQ;

	/*
	 * PEM_read_bio_ex() skips any text before a BEGIN line and stops
	 * after the END line, so what it tolerates on either side is ours
	 * to refuse: leading text, a second block, trailing garbage.  A NUL
	 * would let C-string consumers see a different document.
	 */
	if (len > INT_MAX || memchr(pem, '\0', len) != NULL)
		goto out;
	for (off = 0; off < len && is_space(pem[off]); off++)
		;
	if (len - off < sizeof(begin) - 1 ||
	    memcmp(pem + off, begin, sizeof(begin) - 1) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(pem + off, (int)(len - off))) == NULL) {
		log_ossl_errors("pki_pem_decode: BIO_new_mem_buf");
		r = -FP_E_INTERNAL;
		goto out;
	}
	/* ONLY_B64: a header line is not base64 and fails the decode. */
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &dlen,
	        PEM_FLAG_ONLY_B64)) {
		ERR_clear_error();
		goto out;
	}
	/* Encrypted-PEM headers (Proc-Type, DEK-Info) have no place here. */
	if (strcmp(name, label) != 0 || header[0] != '\0' || dlen <= 0)
		goto out;
	/* A read-only memory BIO reports what is left unread. */
	used = (len - off) - (size_t)BIO_pending(bio);
	for (off += used; off < len; off++)
		if (!is_space(pem[off]))
			goto out;
	buf_append(out, data, (size_t)dlen);
	r = 0;
out:
	if (r == -FP_E_BADREQ)
		fp_fail(st, FP_E_BADREQ,
		    "Expected exactly one PEM \"%s\" block and nothing else.",
		    label);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

int
pki_cert_from_pem(const char *pem, size_t len, X509 **out, struct fp_status *st)
{
	struct buf der = BUF_INIT;
	int r;

	*out = NULL;
	if ((r = pki_pem_decode(pem, len, "CERTIFICATE", &der, st)) != 0)
		goto out;
	if ((r = pki_cert_from_der(der.data, der.len, out)) != 0)
		r = fp_fail(st, FP_E_BADREQ,
		    "The PEM block does not hold a valid X.509 certificate.");
out:
	buf_free(&der);
	return r;
}

int
pki_pem_body_der(const char *pem, size_t len, struct buf *out)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	BIO *bio = NULL;
	long dlen = 0;
	int r = -FP_E_BADREQ;

	if (len > INT_MAX)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		log_ossl_errors("pki_pem_body_der: BIO_new_mem_buf");
		r = -FP_E_INTERNAL;
		goto out;
	}
	if (!PEM_read_bio_ex(bio, &name, &header, &data, &dlen,
	        PEM_FLAG_EAY_COMPATIBLE)) {
		ERR_clear_error();
		goto out;
	}
	buf_append(out, data, (size_t)dlen);
	r = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

void
pki_fingerprint(const unsigned char *der, size_t len, char out[PKI_FPR_LEN])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t i;

	/* SHA-256 fails only when memory runs out: fatal, like xmalloc. */
	if (!EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != sizeof(md)) {
		log_ossl_errors("pki_fingerprint");
		fatal("SHA-256 failed");
	}
	for (i = 0; i < sizeof(md); i++) {
		out[3 * i] = hexup[md[i] >> 4];
		out[3 * i + 1] = hexup[md[i] & 0xf];
		out[3 * i + 2] = ':';
	}
	out[PKI_FPR_LEN - 1] = '\0'; /* the last ':' becomes the NUL */
}

int
pki_fingerprint_normalize(const char *in, char out[PKI_FPR_LEN])
{
	size_t len, i, step;
	int hi, lo;

	/* 64 digits, or 32 pairs with a colon between each: nothing mixed. */
	len = strlen(in);
	if (len == 64)
		step = 2;
	else if (len == PKI_FPR_LEN - 1)
		step = 3;
	else
		return -FP_E_BADREQ;
	for (i = 0; i < 32; i++) {
		hi = util_hexval(in[i * step]);
		lo = util_hexval(in[i * step + 1]);
		if (hi < 0 || lo < 0)
			return -FP_E_BADREQ;
		if (step == 3 && i < 31 && in[i * step + 2] != ':')
			return -FP_E_BADREQ;
		out[3 * i] = hexup[hi];
		out[3 * i + 1] = hexup[lo];
		out[3 * i + 2] = ':';
	}
	out[PKI_FPR_LEN - 1] = '\0';
	return 0;
}
