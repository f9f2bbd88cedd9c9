/*
 * devproto_e2e: end-to-end data protection (docs/e2e.md), the
 * cryptography both sides compile: the key identity vector (KIV) and
 * the headers, the key derivation from the device's root secret and a
 * key epoch, AES-CCM for uplink messages (device -> back end) and
 * AES_128_CS1_HMAC_SHA256 (AES-128-CBC, then HMAC-SHA256 over the
 * header and the ciphertext) for downlink messages.
 *
 * Like devproto.h: OpenSSL 3 only, no allocation, 0 on success and -1 on
 * failure (reasons left on the OpenSSL error queue).  Opening a message
 * wipes what it wrote when the message does not verify.
 */
#ifndef FLEETPKI_DEVPROTO_E2E_H
#define FLEETPKI_DEVPROTO_E2E_H

#include <stddef.h>
#include <stdint.h>

#define E2E_V1 1
#define E2E_V2 2

/* Cipher suites: the header's second byte. */
#define E2E_SUITE_AES128_CCM 0x01
#define E2E_SUITE_AES256_CCM 0x02
#define E2E_SUITE_CS1 0x10 /* downlink: AES_128_CS1_HMAC_SHA256 */

#define E2E_KIV_V1_LEN 16
#define E2E_KIV_V2_LEN 12
#define E2E_HDR_V1_LEN 32
#define E2E_HDR_V2_LEN 28
#define E2E_KEYID_LEN 14 /* /e2e/uplink/symmetrickey/get: v1 KIV[2..16) */
#define E2E_NONCE_LEN 12 /* CCM nonce */
#define E2E_TAG_LEN 16 /* CCM tag and the downlink MAC: 128 bits */
#define E2E_IV_LEN 16 /* downlink AES-CBC IV */
#define E2E_DL_KEY_LEN 16 /* downlink encryption and MAC keys */
#define E2E_DL_HDR_LEN 32 /* downlink: v1 KIV || IV */
#define E2E_EPOCH_MAX UINT32_MAX
#define E2E_MSG_MAX (1u << 20) /* plaintext bytes of one message */

/* The HKDF labels (docs/device-protocol.md reserves "e2e-"). */
#define E2E_LABEL_UPLINK "e2e-uplink"
#define E2E_LABEL_DL_ENC "e2e-downlink-enc"
#define E2E_LABEL_DL_MAC "e2e-downlink-mac"

/*
 * A KIV as read: 'epoch_bits' holds the epoch as the header carries it,
 * all 32 bits in v1, the low 16 in v2 ('epoch_width').  Resolve it to
 * the full epoch with e2e_epoch_resolve.
 */
struct e2e_kiv {
	int version;
	int suite;
	unsigned char rot[8];
	uint32_t epoch_bits;
	int epoch_width;
};

/* The KIV length of 'version' (16 or 12), 0 for an unknown version. */
size_t e2e_kiv_len(int version);
/* The header length of 'version' (32 or 28), 0 for an unknown one. */
size_t e2e_hdr_len(int version);

/*
 * Read the KIV at the start of 'in' ('len' bytes, at least the KIV's
 * length): version 1 or 2, a suite of that direction (uplink: the two
 * CCM suites; 'downlink': CS1, version 1 only), zero reserved bytes.
 */
int e2e_kiv_parse(const unsigned char *in, size_t len, int downlink,
    struct e2e_kiv *out);
/* Write the KIV of ('version', 'suite', 'rot', 'epoch') to 'out'. */
int e2e_kiv_encode(int version, int suite, const unsigned char *rot,
    uint64_t epoch, unsigned char *out);

/*
 * The smallest epoch >= 'lower' whose low 'width' bits are 'bits'
 * (width 32 or 16).  The caller then checks it is inside its window.
 */
uint64_t e2e_epoch_resolve(uint32_t bits, int width, uint64_t lower);

/* Key bytes of an uplink suite: 16 or 32; 0 for another suite. */
size_t e2e_suite_key_len(int suite);

/*
 * The uplink key of ('rot', 'epoch', 'suite'): HKDF label "e2e-uplink",
 * context u32(epoch) || suite byte; e2e_suite_key_len(suite) bytes.
 */
int e2e_uplink_key(const unsigned char *secret, const unsigned char *rot,
    uint64_t epoch, int suite, unsigned char *key);
/* The two 16-byte downlink keys of ('rot', 'epoch'). */
int e2e_downlink_keys(const unsigned char *secret, const unsigned char *rot,
    uint64_t epoch, unsigned char *enc_key, unsigned char *mac_key);

/*
 * Uplink: 'hdr' is a whole header (e2e_hdr_len(version) bytes) whose
 * length field is 'len'; the CCM nonce is its 12 bytes after the KIV and
 * the whole header is the AAD.  'out' gets 'len' bytes of ciphertext
 * (seal) or plaintext (open); 'tag' is 16 bytes.
 */
int e2e_uplink_header(int version, int suite, const unsigned char *rot,
    uint64_t epoch, const unsigned char *nonce, size_t len, unsigned char *hdr);
int e2e_ccm_seal(const unsigned char *key, size_t keylen,
    const unsigned char *hdr, size_t hdrlen, const unsigned char *in,
    size_t len, unsigned char *out, unsigned char *tag);
int e2e_ccm_open(const unsigned char *key, size_t keylen,
    const unsigned char *hdr, size_t hdrlen, const unsigned char *in,
    size_t len, unsigned char *out, const unsigned char *tag);

/*
 * Downlink: the message is KIV (16) || IV (16) || AES-128-CBC ciphertext
 * of the PKCS#7-padded plaintext || the first 16 bytes of
 * HMAC-SHA256(mac key, KIV || IV || ciphertext).  e2e_cs1_len is the
 * message length of 'len' plaintext bytes.  Open checks the MAC (in
 * constant time) before it decrypts; '*outlen' is the plaintext length.
 */
size_t e2e_cs1_len(size_t len);
int e2e_cs1_seal(const unsigned char *enc_key, const unsigned char *mac_key,
    const unsigned char *kiv, const unsigned char *iv, const unsigned char *in,
    size_t len, unsigned char *out, size_t outsz, size_t *outlen);
int e2e_cs1_open(const unsigned char *enc_key, const unsigned char *mac_key,
    const unsigned char *msg, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen);

#endif /* FLEETPKI_DEVPROTO_E2E_H */
