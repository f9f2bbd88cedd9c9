/*
 * e2e_proto: the cryptography of end-to-end data protection
 * (docs/e2e.md), compiled into libfleetpki and libfleetpki-device alike
 * (like proto.c) so the two sides cannot drift apart.
 *
 * Uplink messages are AES-CCM with a 12-byte nonce, a 16-byte tag and
 * the whole header as AAD: the KIV (which key), the nonce and the
 * length cannot be changed without the tag failing.  Downlink messages
 * are encrypt-then-MAC: the MAC is checked first, in constant time, and
 * nothing is decrypted when it does not verify (no padding oracle).
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "fleetpki/devproto.h"
#include "fleetpki/devproto_e2e.h"

size_t
e2e_kiv_len(int version)
{
	return version == E2E_V1 ? E2E_KIV_V1_LEN
	    : version == E2E_V2  ? E2E_KIV_V2_LEN
	                         : 0;
}

size_t
e2e_hdr_len(int version)
{
	return version == E2E_V1 ? E2E_HDR_V1_LEN
	    : version == E2E_V2  ? E2E_HDR_V2_LEN
	                         : 0;
}

size_t
e2e_suite_key_len(int suite)
{
	return suite == E2E_SUITE_AES128_CCM ? 16
	    : suite == E2E_SUITE_AES256_CCM  ? 32
	                                     : 0;
}

int
e2e_kiv_parse(const unsigned char *in, size_t len, int downlink,
    struct e2e_kiv *out)
{
	size_t klen;

	memset(out, 0, sizeof(*out));
	if (in == NULL || len < 2 || (klen = e2e_kiv_len(in[0])) == 0 ||
	    len < klen)
		return -1;
	if (downlink ? (in[0] != E2E_V1 || in[1] != E2E_SUITE_CS1)
	             : e2e_suite_key_len(in[1]) == 0)
		return -1;
	out->version = in[0];
	out->suite = in[1];
	memcpy(out->rot, in + 2, DEVPROTO_ROT_LEN);
	if (out->version == E2E_V1) {
		/* bytes 14 and 15 are reserved: zero, one spelling */
		if (in[14] != 0 || in[15] != 0)
			return -1;
		out->epoch_bits = (uint32_t)in[10] << 24 |
		    (uint32_t)in[11] << 16 | (uint32_t)in[12] << 8 | in[13];
		out->epoch_width = 32;
	} else {
		out->epoch_bits = (uint32_t)in[10] << 8 | in[11];
		out->epoch_width = 16;
	}
	return 0;
}

int
e2e_kiv_encode(int version, int suite, const unsigned char *rot, uint64_t epoch,
    unsigned char *out)
{
	size_t klen = e2e_kiv_len(version);

	if (klen == 0 || epoch > E2E_EPOCH_MAX || rot == NULL ||
	    (suite != E2E_SUITE_CS1 && e2e_suite_key_len(suite) == 0) ||
	    (suite == E2E_SUITE_CS1 && version != E2E_V1))
		return -1;
	memset(out, 0, klen);
	out[0] = (unsigned char)version;
	out[1] = (unsigned char)suite;
	memcpy(out + 2, rot, DEVPROTO_ROT_LEN);
	if (version == E2E_V1) {
		out[10] = (unsigned char)(epoch >> 24);
		out[11] = (unsigned char)(epoch >> 16);
		out[12] = (unsigned char)(epoch >> 8);
		out[13] = (unsigned char)epoch;
	} else {
		out[10] = (unsigned char)(epoch >> 8);
		out[11] = (unsigned char)epoch;
	}
	return 0;
}

uint64_t
e2e_epoch_resolve(uint32_t bits, int width, uint64_t lower)
{
	uint64_t mod = width >= 32 ? (uint64_t)1 << 32 : (uint64_t)1 << width;
	uint64_t e = (lower & ~(mod - 1)) | ((uint64_t)bits & (mod - 1));

	if (e < lower)
		e += mod;
	return e;
}

/* context: u32(epoch) || 'tail' (0 or 1 byte) */
static int
derive(const unsigned char *secret, const unsigned char *rot, const char *label,
    uint64_t epoch, int tail, unsigned char *out, size_t outlen)
{
	unsigned char ctx[5];
	size_t n = 4;

	if (epoch > E2E_EPOCH_MAX)
		return -1;
	ctx[0] = (unsigned char)(epoch >> 24);
	ctx[1] = (unsigned char)(epoch >> 16);
	ctx[2] = (unsigned char)(epoch >> 8);
	ctx[3] = (unsigned char)epoch;
	if (tail >= 0)
		ctx[n++] = (unsigned char)tail;
	return devproto_derive(secret, rot, label, ctx, n, out, outlen);
}

int
e2e_uplink_key(const unsigned char *secret, const unsigned char *rot,
    uint64_t epoch, int suite, unsigned char *key)
{
	size_t klen = e2e_suite_key_len(suite);

	if (klen == 0)
		return -1;
	return derive(secret, rot, E2E_LABEL_UPLINK, epoch, suite, key, klen);
}

int
e2e_downlink_keys(const unsigned char *secret, const unsigned char *rot,
    uint64_t epoch, unsigned char *enc_key, unsigned char *mac_key)
{
	if (derive(secret, rot, E2E_LABEL_DL_ENC, epoch, -1, enc_key,
	        E2E_DL_KEY_LEN) != 0 ||
	    derive(secret, rot, E2E_LABEL_DL_MAC, epoch, -1, mac_key,
	        E2E_DL_KEY_LEN) != 0) {
		OPENSSL_cleanse(enc_key, E2E_DL_KEY_LEN);
		OPENSSL_cleanse(mac_key, E2E_DL_KEY_LEN);
		return -1;
	}
	return 0;
}

int
e2e_uplink_header(int version, int suite, const unsigned char *rot,
    uint64_t epoch, const unsigned char *nonce, size_t len, unsigned char *hdr)
{
	size_t klen = e2e_kiv_len(version);
	unsigned char *p;

	if (suite == E2E_SUITE_CS1 || nonce == NULL || len > E2E_MSG_MAX ||
	    e2e_kiv_encode(version, suite, rot, epoch, hdr) != 0)
		return -1;
	memcpy(hdr + klen, nonce, E2E_NONCE_LEN);
	p = hdr + klen + E2E_NONCE_LEN;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	return 0;
}

/*
 * The header's own checks: a known version, the length field equal to
 * 'len'.  Returns the KIV length, or 0.
 */
static size_t
hdr_check(const unsigned char *hdr, size_t hdrlen, size_t len)
{
	size_t klen;
	const unsigned char *p;
	uint32_t v;

	if (hdr == NULL || hdrlen < 1 || (klen = e2e_kiv_len(hdr[0])) == 0 ||
	    hdrlen != e2e_hdr_len(hdr[0]) || len > E2E_MSG_MAX)
		return 0;
	p = hdr + klen + E2E_NONCE_LEN;
	v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    p[3];
	return v == len ? klen : 0;
}

static const EVP_CIPHER *
ccm_cipher(size_t keylen)
{
	return keylen == 16 ? EVP_aes_128_ccm()
	    : keylen == 32  ? EVP_aes_256_ccm()
	                    : NULL;
}

int
e2e_ccm_seal(const unsigned char *key, size_t keylen, const unsigned char *hdr,
    size_t hdrlen, const unsigned char *in, size_t len, unsigned char *out,
    unsigned char *tag)
{
	const EVP_CIPHER *c = ccm_cipher(keylen);
	EVP_CIPHER_CTX *ctx = NULL;
	size_t klen = hdr_check(hdr, hdrlen, len);
	int n, rc = -1;

	if (c == NULL || klen == 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_EncryptInit_ex(ctx, c, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, E2E_NONCE_LEN,
	        NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, E2E_TAG_LEN,
	        NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, hdr + klen) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, NULL, (int)len) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, hdr, (int)hdrlen) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, E2E_TAG_LEN, tag) !=
	        1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
e2e_ccm_open(const unsigned char *key, size_t keylen, const unsigned char *hdr,
    size_t hdrlen, const unsigned char *in, size_t len, unsigned char *out,
    const unsigned char *tag)
{
	const EVP_CIPHER *c = ccm_cipher(keylen);
	EVP_CIPHER_CTX *ctx = NULL;
	size_t klen = hdr_check(hdr, hdrlen, len);
	unsigned char t[E2E_TAG_LEN];
	int n, rc = -1;

	if (c == NULL || klen == 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	memcpy(t, tag, sizeof(t));
	/* CCM checks the tag in the one update that decrypts. */
	if (EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, E2E_NONCE_LEN,
	        NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, E2E_TAG_LEN, t) !=
	        1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, hdr + klen) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, NULL, (int)len) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, hdr, (int)hdrlen) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1) {
		if (len > 0)
			OPENSSL_cleanse(out, len);
		goto out;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

size_t
e2e_cs1_len(size_t len)
{
	return E2E_DL_HDR_LEN + (len / 16 + 1) * 16 + E2E_TAG_LEN;
}

/* The first 16 bytes of HMAC-SHA256('key', 'p' ('n' bytes)). */
static int
cs1_mac(const unsigned char *key, const unsigned char *p, size_t n,
    unsigned char *mac)
{
	unsigned char full[32];
	size_t flen = 0;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(m)) == NULL ||
	    EVP_MAC_init(ctx, key, E2E_DL_KEY_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, p, n) != 1 ||
	    EVP_MAC_final(ctx, full, &flen, sizeof(full)) != 1 ||
	    flen != sizeof(full))
		goto out;
	memcpy(mac, full, E2E_TAG_LEN);
	rc = 0;
out:
	OPENSSL_cleanse(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

int
e2e_cs1_seal(const unsigned char *enc_key, const unsigned char *mac_key,
    const unsigned char *kiv, const unsigned char *iv, const unsigned char *in,
    size_t len, unsigned char *out, size_t outsz, size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	size_t total = e2e_cs1_len(len);
	int n1 = 0, n2 = 0, rc = -1;
	struct e2e_kiv k;

	if (len > E2E_MSG_MAX || outsz < total ||
	    e2e_kiv_parse(kiv, E2E_KIV_V1_LEN, 1, &k) != 0 ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	memcpy(out, kiv, E2E_KIV_V1_LEN);
	memcpy(out + E2E_KIV_V1_LEN, iv, E2E_IV_LEN);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, enc_key, iv) !=
	        1 ||
	    EVP_EncryptUpdate(ctx, out + E2E_DL_HDR_LEN, &n1, in, (int)len) !=
	        1 ||
	    EVP_EncryptFinal_ex(ctx, out + E2E_DL_HDR_LEN + n1, &n2) != 1 ||
	    (size_t)(n1 + n2) != total - E2E_DL_HDR_LEN - E2E_TAG_LEN ||
	    cs1_mac(mac_key, out, E2E_DL_HDR_LEN + (size_t)(n1 + n2),
	        out + E2E_DL_HDR_LEN + n1 + n2) != 0)
		goto out;
	*outlen = total;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
e2e_cs1_open(const unsigned char *enc_key, const unsigned char *mac_key,
    const unsigned char *msg, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char mac[E2E_TAG_LEN];
	size_t clen;
	int n1 = 0, n2 = 0, rc = -1;
	struct e2e_kiv k;

	*outlen = 0;
	if (len < E2E_DL_HDR_LEN + 16 + E2E_TAG_LEN ||
	    (len - E2E_DL_HDR_LEN - E2E_TAG_LEN) % 16 != 0 ||
	    e2e_kiv_parse(msg, len, 1, &k) != 0)
		return -1;
	clen = len - E2E_DL_HDR_LEN - E2E_TAG_LEN;
	/* the plaintext is at most clen - 1 bytes: PKCS#7 pads 1..16 */
	if (outsz < clen || cs1_mac(mac_key, msg, len - E2E_TAG_LEN, mac) != 0)
		return -1;
	if (CRYPTO_memcmp(mac, msg + len - E2E_TAG_LEN, E2E_TAG_LEN) != 0)
		goto out;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, enc_key,
	        msg + E2E_KIV_V1_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n1, msg + E2E_DL_HDR_LEN, (int)clen) !=
	        1 ||
	    EVP_DecryptFinal_ex(ctx, out + n1, &n2) != 1) {
		OPENSSL_cleanse(out, clen);
		goto out;
	}
	*outlen = (size_t)(n1 + n2);
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}
