/*
 * The device's half of zero-touch provisioning (docs/device-protocol.md,
 * 7.4): key pairs made on the device with a CSR for the server, the
 * certificate checked against the key before it is installed, and the
 * envelope of a server-made key opened.
 *
 * The private key stays with the caller: the library makes it and hands
 * it over, and never writes it anywhere.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleetpki-device.h"
#include "fleetpki/devproto.h"
#include "device_internal.h"

/* The key types GENERATE_KEY may ask for. */
static EVP_PKEY *
make_key(const char *type)
{
	if (strcmp(type, "EC-P256") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (strcmp(type, "EC-P384") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (strcmp(type, "RSA-2048") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return NULL;
}

int
fpd_generate_key(const struct fpd_device *dev, const struct fpd_command *cmd,
    EVP_PKEY **key, char **csr_pem)
{
	X509_REQ *req = NULL;
	EVP_PKEY *k = NULL;
	BIO *b = NULL;
	char *data, *pem = NULL;
	long n;
	int rc = FPD_EINVAL;

	*key = NULL;
	*csr_pem = NULL;
	if (dev == NULL || cmd == NULL || cmd->type != FPD_CMD_GENERATE_KEY ||
	    cmd->invalid != NULL || cmd->key_type == NULL)
		goto out;
	if (strcmp(cmd->key_type, "EC-P256") != 0 &&
	    strcmp(cmd->key_type, "EC-P384") != 0 &&
	    strcmp(cmd->key_type, "RSA-2048") != 0)
		goto out;
	/* The subject is the ROT; the server's profile decides the rest. */
	rc = FPD_ECRYPTO;
	if ((k = make_key(cmd->key_type)) == NULL ||
	    (req = X509_REQ_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	        MBSTRING_ASC, (const unsigned char *)dev->rot_hex, -1, -1,
	        0) != 1 ||
	    X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0 ||
	    (b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(b, req) != 1 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0)
		goto out;
	if ((pem = malloc((size_t)n + 1)) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
	*key = k;
	*csr_pem = pem;
	k = NULL;
	rc = FPD_OK;
out:
	BIO_free(b);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return rc;
}

/* The first certificate of a PEM text. */
static X509 *
read_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

int
fpd_check_certificate(const struct fpd_command *cmd, EVP_PKEY *key, X509 **cert)
{
	X509 *x = NULL;
	int rc = FPD_EINVAL;

	*cert = NULL;
	if (cmd == NULL || key == NULL || cmd->invalid != NULL ||
	    cmd->certificate == NULL ||
	    (cmd->type != FPD_CMD_INSTALL_CERTIFICATE &&
	        cmd->type != FPD_CMD_INSTALL_KEY_AND_CERTIFICATE))
		goto out;
	rc = FPD_ECRYPTO;
	if ((x = read_cert(cmd->certificate)) == NULL ||
	    X509_check_private_key(x, key) != 1)
		goto out;
	*cert = x;
	x = NULL;
	rc = FPD_OK;
out:
	X509_free(x);
	return rc;
}

/* Standard padded base64 of exactly 'want' bytes into 'out'. */
static int
b64_exact(const char *s, unsigned char *out, size_t want)
{
	unsigned char *tmp = NULL;
	size_t n, pad = 0;
	int got, rc = -1;

	if (s == NULL || (n = strlen(s)) == 0 || n % 4 != 0 || n > INT32_MAX)
		return -1;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	if ((tmp = malloc(n / 4 * 3)) == NULL)
		return -1;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (got >= 0 && (size_t)got - pad == want) {
		memcpy(out, tmp, want);
		rc = 0;
	}
	OPENSSL_cleanse(tmp, n / 4 * 3);
	free(tmp);
	return rc;
}

int
fpd_unwrap_key(const struct fpd_device *dev, const struct fpd_command *cmd,
    unsigned char **der, size_t *der_len)
{
	BIO *bio = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char *cder = NULL, *ct = NULL, *pt = NULL;
	unsigned char nonce[DEVPROTO_ZTP_NONCE_LEN], tag[DEVPROTO_ZTP_TAG_LEN],
	    hash[32];
	const unsigned char *p;
	size_t ctlen;
	int clen, rc = FPD_EINVAL;

	*der = NULL;
	*der_len = 0;
	if (dev == NULL || cmd == NULL ||
	    cmd->type != FPD_CMD_INSTALL_KEY_AND_CERTIFICATE ||
	    cmd->invalid != NULL || cmd->certificate == NULL ||
	    cmd->wrapped_ciphertext == NULL)
		goto out;
	/* The envelope is bound to the certificate's DER. */
	rc = FPD_ECRYPTO;
	if ((bio = BIO_new_mem_buf(cmd->certificate, -1)) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    (clen = i2d_X509(cert, &cder)) <= 0 ||
	    EVP_Digest(cder, (size_t)clen, hash, NULL, EVP_sha256(), NULL) != 1)
		goto out;
	rc = FPD_EPROTO;
	ctlen = strlen(cmd->wrapped_ciphertext) / 4 * 3;
	if (b64_exact(cmd->wrapped_nonce, nonce, sizeof(nonce)) != 0 ||
	    b64_exact(cmd->wrapped_tag, tag, sizeof(tag)) != 0 || ctlen == 0)
		goto out;
	/* Its length is the decoded length less the padding. */
	if (cmd->wrapped_ciphertext[strlen(cmd->wrapped_ciphertext) - 1] == '=')
		ctlen--;
	if (cmd->wrapped_ciphertext[strlen(cmd->wrapped_ciphertext) - 2] == '=')
		ctlen--;
	if ((ct = malloc(ctlen)) == NULL || (pt = malloc(ctlen)) == NULL) {
		rc = FPD_ENOMEM;
		goto out;
	}
	if (b64_exact(cmd->wrapped_ciphertext, ct, ctlen) != 0)
		goto out;
	rc = FPD_ECRYPTO;
	if (devproto_ztp_open(dev->secret, dev->rot, hash, nonce, ct, ctlen, pt,
	        tag) != 0)
		goto out;
	/* A PKCS#8 key whose public half is the certificate's. */
	p = pt;
	if (ctlen > LONG_MAX ||
	    (pkey = d2i_AutoPrivateKey(NULL, &p, (long)ctlen)) == NULL ||
	    p != pt + ctlen || X509_check_private_key(cert, pkey) != 1)
		goto out;
	*der = pt;
	*der_len = ctlen;
	pt = NULL;
	rc = FPD_OK;
out:
	if (pt != NULL) {
		OPENSSL_cleanse(pt, ctlen);
		free(pt);
	}
	free(ct);
	OPENSSL_free(cder);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	BIO_free(bio);
	return rc;
}
