/*
 * devproto: key derivation, canonical forms and MACs of the device
 * protocol (docs/device-protocol.md).
 *
 * The canonical forms are built by one emitter that writes the same
 * sequence of parts either into a caller's buffer or into an HMAC
 * context, so the bytes a test or a document shows are exactly the
 * bytes the MAC covers, and no allocation is needed.  Each form begins
 * with an 8-byte tag naming it (a request's MAC can never be presented
 * as an answer's), fixed-size fields have fixed sizes, and each
 * variable-size field is preceded by its length: two different
 * requests cannot share a canonical form.
 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "fleetpki/devproto.h"

#define DEVPROTO_SALT "fleetpki-device-v1"
#define TAG_REQUEST "FPDREQ01"
#define TAG_RESPONSE "FPDRSP01"
#define TAG_LEN 8

/* Where the canonical form goes: a buffer (possibly NULL) or a MAC. */
struct sink {
	unsigned char *out; /* NULL: only count */
	size_t cap;
	size_t len;
	EVP_MAC_CTX *mac; /* non-NULL: feed the MAC instead */
	int err;
};

static void
sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->err || n == 0)
		return;
	if (s->mac != NULL) {
		if (EVP_MAC_update(s->mac, p, n) != 1)
			s->err = 1;
	} else if (s->out != NULL) {
		if (n > s->cap - s->len) {
			s->err = 1;
			return;
		}
		memcpy(s->out + s->len, p, n);
	}
	s->len += n;
}

static void
sink_u64(struct sink *s, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	sink_put(s, b, sizeof(b));
}

static void
sink_u32(struct sink *s, uint32_t v)
{
	unsigned char b[4];

	b[0] = (unsigned char)(v >> 24);
	b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8);
	b[3] = (unsigned char)v;
	sink_put(s, b, sizeof(b));
}

/* A variable-size part: its 4-byte length, then its bytes. */
static int
sink_lv(struct sink *s, const void *p, size_t n)
{
	if (n > UINT32_MAX || (n > 0 && p == NULL))
		return -1;
	sink_u32(s, (uint32_t)n);
	sink_put(s, p, n);
	return 0;
}

static int
emit_request(struct sink *s, const struct devproto_req *r)
{
	if (r->rot == NULL || r->method == NULL || r->path == NULL ||
	    r->counter == 0 || r->counter > DEVPROTO_COUNTER_MAX ||
	    r->timestamp < 0)
		return -1;
	sink_put(s, TAG_REQUEST, TAG_LEN);
	sink_put(s, r->rot, DEVPROTO_ROT_LEN);
	sink_u64(s, r->counter);
	sink_u64(s, (uint64_t)r->timestamp);
	if (sink_lv(s, r->method, strlen(r->method)) != 0 ||
	    sink_lv(s, r->path, strlen(r->path)) != 0 ||
	    sink_lv(s, r->body, r->body_len) != 0)
		return -1;
	return s->err ? -1 : 0;
}

static int
emit_response(struct sink *s, const struct devproto_resp *r)
{
	if (r->rot == NULL || r->req_mac == NULL || r->req_counter == 0 ||
	    r->req_counter > DEVPROTO_COUNTER_MAX || r->status < 100 ||
	    r->status > 599 || r->timestamp < 0)
		return -1;
	sink_put(s, TAG_RESPONSE, TAG_LEN);
	sink_put(s, r->rot, DEVPROTO_ROT_LEN);
	sink_u64(s, r->req_counter);
	sink_put(s, r->req_mac, DEVPROTO_MAC_LEN);
	sink_u32(s, (uint32_t)r->status);
	sink_u64(s, (uint64_t)r->timestamp);
	if (sink_lv(s, r->body, r->body_len) != 0)
		return -1;
	return s->err ? -1 : 0;
}

int
devproto_derive(const unsigned char *secret, const unsigned char *rot,
    const char *label, const unsigned char *ctx, size_t ctxlen,
    unsigned char *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	unsigned char info[256];
	size_t label_len, info_len;
	int rc = -1;

	if (secret == NULL || rot == NULL || label == NULL || out == NULL ||
	    outlen == 0 || outlen > 255 * 32 || (ctxlen > 0 && ctx == NULL))
		goto out;
	/* label || 0x00 || ROT || context, within a fixed buffer. */
	label_len = strlen(label);
	if (label_len == 0 ||
	    label_len + 1 + DEVPROTO_ROT_LEN + ctxlen > sizeof(info))
		goto out;
	memcpy(info, label, label_len);
	info[label_len] = 0;
	memcpy(info + label_len + 1, rot, DEVPROTO_ROT_LEN);
	if (ctxlen > 0)
		memcpy(info + label_len + 1 + DEVPROTO_ROT_LEN, ctx, ctxlen);
	info_len = label_len + 1 + DEVPROTO_ROT_LEN + ctxlen;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, DEVPROTO_SECRET_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)DEVPROTO_SALT, sizeof(DEVPROTO_SALT) - 1);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
	    info_len);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && out != NULL && outlen > 0)
		OPENSSL_cleanse(out, outlen);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

int
devproto_derive_keys(const unsigned char *secret, const unsigned char *rot,
    struct devproto_keys *keys)
{
	if (devproto_derive(secret, rot, DEVPROTO_LABEL_REQUEST_MAC, NULL, 0,
	        keys->request, sizeof(keys->request)) != 0 ||
	    devproto_derive(secret, rot, DEVPROTO_LABEL_RESPONSE_MAC, NULL, 0,
	        keys->response, sizeof(keys->response)) != 0) {
		devproto_keys_wipe(keys);
		return -1;
	}
	return 0;
}

void
devproto_keys_wipe(struct devproto_keys *keys)
{
	if (keys != NULL)
		OPENSSL_cleanse(keys, sizeof(*keys));
}

int
devproto_canonical_request(const struct devproto_req *req, unsigned char *out,
    size_t outsz, size_t *len)
{
	struct sink s = { out, outsz, 0, NULL, 0 };

	if (emit_request(&s, req) != 0)
		return -1;
	*len = s.len;
	return 0;
}

int
devproto_canonical_response(const struct devproto_resp *resp,
    unsigned char *out, size_t outsz, size_t *len)
{
	struct sink s = { out, outsz, 0, NULL, 0 };

	if (emit_response(&s, resp) != 0)
		return -1;
	*len = s.len;
	return 0;
}

/*
 * HMAC-SHA256 under 'key' over what 'emit' writes: the request or the
 * answer form, chosen by which of 'req' and 'resp' is set.
 */
static int
mac_form(const unsigned char *key, const struct devproto_req *req,
    const struct devproto_resp *resp, unsigned char *mac)
{
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	struct sink s = { NULL, 0, 0, NULL, 0 };
	size_t maclen = 0;
	int rc = -1;

	if (key == NULL || mac == NULL)
		goto out;
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(m)) == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, DEVPROTO_KEY_LEN, params) != 1)
		goto out;
	s.mac = ctx;
	if ((req != NULL ? emit_request(&s, req) : emit_response(&s, resp)) !=
	    0)
		goto out;
	if (EVP_MAC_final(ctx, mac, &maclen, DEVPROTO_MAC_LEN) != 1 ||
	    maclen != DEVPROTO_MAC_LEN)
		goto out;
	rc = 0;
out:
	if (rc != 0 && mac != NULL)
		OPENSSL_cleanse(mac, DEVPROTO_MAC_LEN);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

int
devproto_request_mac(const unsigned char *key, const struct devproto_req *req,
    unsigned char *mac)
{
	if (req == NULL)
		return -1;
	return mac_form(key, req, NULL, mac);
}

int
devproto_response_mac(const unsigned char *key,
    const struct devproto_resp *resp, unsigned char *mac)
{
	if (resp == NULL)
		return -1;
	return mac_form(key, NULL, resp, mac);
}

int
devproto_mac_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, DEVPROTO_MAC_LEN) == 0;
}

int
devproto_request_verify(const unsigned char *key,
    const struct devproto_req *req, const unsigned char *mac)
{
	unsigned char want[DEVPROTO_MAC_LEN];
	int rc = -1;

	if (mac != NULL && devproto_request_mac(key, req, want) == 0 &&
	    devproto_mac_equal(want, mac))
		rc = 0;
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

int
devproto_response_verify(const unsigned char *key,
    const struct devproto_resp *resp, const unsigned char *mac)
{
	unsigned char want[DEVPROTO_MAC_LEN];
	int rc = -1;

	if (mac != NULL && devproto_response_mac(key, resp, want) == 0 &&
	    devproto_mac_equal(want, mac))
		rc = 0;
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

/*
 * One AES-256-GCM pass of the ZTP envelope: 'enc' 1 seals (writes
 * 'tag'), 0 opens (checks it).  The wrapping key lives only here.
 */
static int
ztp_gcm(int enc, const unsigned char *secret, const unsigned char *rot,
    const unsigned char *cert_sha256, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char key[32], aad[TAG_LEN + DEVPROTO_ROT_LEN + 32], fin[16];
	int n, rc = -1;

	if (secret == NULL || rot == NULL || cert_sha256 == NULL ||
	    nonce == NULL || tag == NULL || len > INT32_MAX ||
	    (len > 0 && (in == NULL || out == NULL)))
		goto out;
	if (devproto_derive(secret, rot, DEVPROTO_LABEL_ZTP_KEY_WRAP,
	        cert_sha256, 32, key, sizeof(key)) != 0)
		goto out;
	memcpy(aad, "FPDZTP01", TAG_LEN);
	memcpy(aad + TAG_LEN, rot, DEVPROTO_ROT_LEN);
	memcpy(aad + TAG_LEN + DEVPROTO_ROT_LEN, cert_sha256, 32);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, enc, NULL) !=
	        1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)sizeof(aad)) != 1)
		goto out;
	if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, DEVPROTO_ZTP_TAG_LEN,
	        tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, fin, &n) != 1)
		goto out;
	if (enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, DEVPROTO_ZTP_TAG_LEN,
	        tag) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && out != NULL && len > 0)
		OPENSSL_cleanse(out, len);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
devproto_ztp_seal(const unsigned char *secret, const unsigned char *rot,
    const unsigned char *cert_sha256, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
	return ztp_gcm(1, secret, rot, cert_sha256, nonce, in, len, out, tag);
}

int
devproto_ztp_open(const unsigned char *secret, const unsigned char *rot,
    const unsigned char *cert_sha256, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out,
    const unsigned char *tag)
{
	unsigned char t[DEVPROTO_ZTP_TAG_LEN];

	if (tag == NULL)
		return -1;
	memcpy(t, tag, sizeof(t));
	return ztp_gcm(0, secret, rot, cert_sha256, nonce, in, len, out, t);
}

void
devproto_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
devproto_hex_decode(const char *hex, unsigned char *out, size_t outlen)
{
	size_t i;
	int hi, lo;

	if (hex == NULL || strlen(hex) != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		hi = hexval((unsigned char)hex[2 * i]);
		lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
devproto_rot_parse(const char *s, unsigned char *rot)
{
	return devproto_hex_decode(s, rot, DEVPROTO_ROT_LEN);
}

void
devproto_rot_format(const unsigned char *rot, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < DEVPROTO_ROT_LEN; i++) {
		out[2 * i] = digits[rot[i] >> 4];
		out[2 * i + 1] = digits[rot[i] & 0x0f];
	}
	out[DEVPROTO_ROT_HEX_LEN] = '\0';
}

/*
 * One spelling per value: digits only, no leading zero (except "0"
 * itself), at most 'max'.  Overflow is checked before each step.
 */
static int
parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
devproto_parse_counter(const char *s, uint64_t *out)
{
	uint64_t v;

	if (parse_decimal(s, DEVPROTO_COUNTER_MAX, &v) != 0 || v == 0)
		return -1;
	*out = v;
	return 0;
}

int
devproto_parse_timestamp(const char *s, int64_t *out)
{
	uint64_t v;

	if (parse_decimal(s, INT64_MAX, &v) != 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
devproto_parse_mac(const char *s, unsigned char *mac)
{
	return devproto_hex_decode(s, mac, DEVPROTO_MAC_LEN);
}
