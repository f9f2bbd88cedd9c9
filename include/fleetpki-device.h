/*
 * libfleetpki-device: the device side of fleetpki's device protocol
 * (docs/device-protocol.md): bootstrap and security heartbeat over
 * HTTPS, each request authenticated by a MAC under a key derived from
 * the device's root secret, each answer checked against the server's
 * MAC before anything in it is believed.
 *
 * Needs OpenSSL 3, libcurl and json-c; link with
 *   -lfleetpki-device $(pkg-config --libs libcrypto libcurl json-c)
 *
 * Two objects:
 *   struct fpd_device  one identity: ROTPublicUID, root secret and
 *                      its derived keys (wiped on free), the
 *                      counter, the acknowledgements to send next;
 *   struct fpd_client  one HTTPS connection to the server (libcurl),
 *                      which any number of devices may use in turn.
 * Neither is safe for two threads at once; different objects are.
 * Call fpd_global_init() once before any thread starts.
 *
 * The counter.  Every request carries a counter greater than any the
 * server has seen from this device, or the server refuses it as a
 * replay.  The caller owns its persistence: fpd_device_new() takes the
 * last counter used, and before each request the library calls the
 * caller's 'save' function with the new value; the request is not sent
 * unless 'save' returned 0.  A device that rebooted without saving
 * would reuse a counter and be refused (and counted as a possible
 * clone).  'save' may store a higher watermark (counter + 1000, say) to
 * write less often; after a reboot start from the watermark.
 *
 * Functions return FPD_OK (0) or a negative enum fpd_err.
 */
#ifndef FLEETPKI_DEVICE_H
#define FLEETPKI_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FPD_ROT_LEN 8 /* ROTPublicUID, bytes (16 hex digits) */
#define FPD_SECRET_LEN 32 /* root secret, bytes (64 hex digits) */

enum fpd_err {
	FPD_OK = 0,
	FPD_EINVAL = -1, /* bad argument */
	FPD_ECRYPTO = -2, /* an OpenSSL call failed */
	FPD_ECOUNTER = -3, /* 'save' failed, or the counter is exhausted */
	FPD_ETRANSPORT = -4, /* no answer: connection, TLS, timeout, size */
	FPD_EAUTH = -5, /* an answer whose MAC is missing or wrong */
	FPD_EPROTO = -6, /* an authenticated answer that is malformed */
	FPD_EREFUSED = -7, /* an authenticated error answer: see ->error */
	FPD_EHTTP = -8, /* an error answer without a MAC (401, 5xx..) */
	FPD_ENOMEM = -9 /* out of memory */
};

/* A short English text for 'err'. */
const char *fpd_strerror(int err);

/* libcurl's and OpenSSL's global set-up; once, before threads. */
int fpd_global_init(void);
void fpd_global_cleanup(void);

/*
 * Seal-time derivation: the two MAC keys of ROT 'rot_hex' from its
 * 'secret'.  What fpd_device_new() does inside; exposed for
 * manufacturing tools that provision the derived keys instead of the
 * root secret (such a device can run the protocol but not ZTP key
 * unwrapping).  The caller wipes both keys.
 */
int fpd_derive_keys(const char *rot_hex, const unsigned char *secret,
    unsigned char *request_key, unsigned char *response_key);

/* Called with each new counter before it is used; 0 lets it be used. */
typedef int (*fpd_counter_save_fn)(void *arg, uint64_t counter);

struct fpd_device;
struct fpd_answer;

/*
 * A device with ROTPublicUID 'rot_hex' (16 hex digits), root 'secret'
 * (32 bytes, copied), and 'last_counter', the last counter it used (0
 * for a new device).  'save' (may be NULL only in tests, where nothing
 * survives a restart) persists each new counter.
 */
int fpd_device_new(const char *rot_hex, const unsigned char *secret,
    uint64_t last_counter, fpd_counter_save_fn save, void *save_arg,
    struct fpd_device **out);
void fpd_device_free(struct fpd_device *dev);
/*
 * After an authenticated COUNTER_REPLAY answer: continue above the
 * server's last counter (a device whose counter storage was lost).  The
 * server has recorded the regression; this does not hide it.
 */
int fpd_device_resync(struct fpd_device *dev, const struct fpd_answer *ans);
/* The last counter used. */
uint64_t fpd_device_counter(const struct fpd_device *dev);
/* The ROTPublicUID, 16 upper-case hex digits. */
const char *fpd_device_rot(const struct fpd_device *dev);

/*
 * Acknowledgements, sent in the next heartbeat and kept until an
 * authenticated success answer to a heartbeat that carried them.
 * 'error' (FAILURE only, at most 256 bytes) says why; 'csr_pem' is the
 * CSR a GENERATE_KEY command asked for (SUCCESS only, may be NULL).
 */
int fpd_ack_success(struct fpd_device *dev, const char *id,
    const char *csr_pem);
int fpd_ack_failure(struct fpd_device *dev, const char *id, const char *error);
/* Acknowledgements waiting to be sent. */
size_t fpd_pending_acks(const struct fpd_device *dev);

/* What the device says about itself at bootstrap. */
struct fpd_bootstrap_info {
	const char *serial; /* DeviceSerialNumber, 1..16, required */
	const char *profile; /* DeviceProfileUID or NULL */
	const char *imei; /* IMEI or NULL */
	const char *firmware; /* FirmwareVersion or NULL */
};

enum fpd_cmd_type {
	FPD_CMD_UNKNOWN = 0, /* a Type this library does not know */
	FPD_CMD_SET_PROPERTIES, /* apply props[] */
	FPD_CMD_GENERATE_KEY, /* ZTP: make a key, ack with a CSR */
	FPD_CMD_INSTALL_CERTIFICATE, /* ZTP: install certificate */
	FPD_CMD_INSTALL_KEY_AND_CERTIFICATE, /* ZTP: server-made key */
	FPD_CMD_REMOVE_CERTIFICATE /* ZTP: remove slot's key and cert */
};

enum fpd_prop_type { FPD_PROP_BOOL, FPD_PROP_INT };

struct fpd_property {
	char *name; /* "LocalDPR", "SecurityHeartbeatInSec", ... */
	enum fpd_prop_type type;
	int64_t value; /* 0/1 for a boolean */
};

/* One command of an answer.  Every pointer belongs to the answer. */
struct fpd_command {
	char *id; /* always set: acknowledge by it */
	char *type_name; /* the Type as sent */
	enum fpd_cmd_type type;
	/*
	 * Non-NULL when the command was malformed: acknowledge it with
	 * fpd_ack_failure(dev, id, invalid) and do nothing else.
	 */
	char *invalid;
	struct fpd_property *props; /* SET_PROPERTIES */
	size_t nprops;
	char *slot; /* certificate commands */
	char *key_type; /* GENERATE_KEY: "EC-P256", ... */
	char *certificate; /* INSTALL_*: PEM, leaf first */
	/* INSTALL_KEY_AND_CERTIFICATE: the envelope, base64 as sent. */
	char *wrapped_nonce;
	char *wrapped_ciphertext;
	char *wrapped_tag;
};

/* An answer the library has read. */
struct fpd_answer {
	int status; /* HTTP status */
	int authenticated; /* the server's MAC verified */
	char *error; /* error answers: "COUNTER_REPLAY", ... */
	char *message; /* error answers: the server's text */
	char *state; /* bootstrap: "ACTIVATED" or "ALLOCATED" */
	char *profile; /* bootstrap: DeviceProfileUID, or NULL */
	int64_t heartbeat_in_sec; /* next heartbeat, seconds */
	int64_t server_time; /* the server's clock (MAC'd) */
	uint64_t last_counter; /* COUNTER_REPLAY: the server's */
	int64_t retry_after; /* RATE_LIMITED: seconds */
	struct fpd_command *commands;
	size_t ncommands;
};

void fpd_answer_free(struct fpd_answer *ans);

/*
 * The server: 'url' is its HTTPS base ("https://pki.example.com", no
 * path); 'cacert' a PEM file of CAs to trust, or NULL for the system
 * store; 'timeout_sec' the whole request's limit (0: 30 s).  TLS is
 * always verified, host name included; only https is spoken, no
 * redirect followed, no proxy taken from the environment.
 */
struct fpd_client;
int fpd_client_new(const char *url, const char *cacert, long timeout_sec,
    struct fpd_client **out);
void fpd_client_free(struct fpd_client *cl);

/*
 * Bootstrap, then heartbeats.  On FPD_OK, FPD_EREFUSED, FPD_EHTTP and
 * FPD_EPROTO '*ans' holds what was read (free it with
 * fpd_answer_free); on other errors it is NULL.  Only an FPD_OK answer
 * is to be acted on.  FPD_EREFUSED with error "COUNTER_REPLAY" carries
 * the server's last counter; "CLOCK_SKEW" the server's time;
 * "RATE_LIMITED" when to come back; "BOOTSTRAP_REQUIRED" asks for a
 * bootstrap.  A retry is a new request (a new counter), never a resend.
 */
int fpd_bootstrap(struct fpd_client *cl, struct fpd_device *dev,
    const struct fpd_bootstrap_info *info, struct fpd_answer **ans);
int fpd_heartbeat(struct fpd_client *cl, struct fpd_device *dev,
    struct fpd_answer **ans);

/*
 * The same without libcurl, for a device with its own HTTP stack (and
 * for tests): build a request at time 'now' (Unix seconds), send it
 * however you like — POST to 'path' with the body and the four headers,
 * Content-Type application/json —, then hand the answer's status, its
 * X-Device-MAC and X-Device-Timestamp headers (NULL when absent) and
 * body to fpd_read_answer().  Building consumes a counter.
 */
struct fpd_request {
	const char *path; /* "/device/v1/heartbeat" */
	char *body; /* NUL-terminated JSON */
	size_t body_len;
	char rot[17]; /* X-Device-ROT */
	char counter[21]; /* X-Device-Counter */
	char timestamp[21]; /* X-Device-Timestamp */
	char mac[65]; /* X-Device-MAC */
	/* Internal: what the answer's MAC is checked against. */
	uint64_t counter_value;
	unsigned char mac_raw[32];
	size_t nacks; /* acknowledgements it carries */
	int heartbeat;
};

int fpd_build_bootstrap(struct fpd_device *dev,
    const struct fpd_bootstrap_info *info, int64_t now,
    struct fpd_request **out);
int fpd_build_heartbeat(struct fpd_device *dev, int64_t now,
    struct fpd_request **out);
void fpd_request_free(struct fpd_request *req);
int fpd_read_answer(struct fpd_device *dev, const struct fpd_request *req,
    int status, const char *mac_hdr, const char *timestamp_hdr,
    const unsigned char *body, size_t body_len, struct fpd_answer **ans);
/* Send a built request as it is (the simulator's --replay uses it). */
int fpd_send(struct fpd_client *cl, struct fpd_device *dev,
    const struct fpd_request *req, struct fpd_answer **ans);

/*
 * GENERATE_KEY: make the key pair 'cmd' asks for (KeyType EC-P256,
 * EC-P384 or RSA-2048) and a CSR signed by it, subject CN = the ROT.
 * On FPD_OK '*key' is the private key, the caller's to keep in the
 * command's slot (EVP_PKEY_free), and '*csr_pem' the CSR to acknowledge
 * with: fpd_ack_success(dev, cmd->id, *csr_pem), then free().  An
 * unsupported KeyType is FPD_EINVAL: acknowledge the command failed.
 */
int fpd_generate_key(const struct fpd_device *dev,
    const struct fpd_command *cmd, EVP_PKEY **key, char **csr_pem);

/*
 * INSTALL_CERTIFICATE (and INSTALL_KEY_AND_CERTIFICATE): the command's
 * certificate, once it is known to belong to 'key'.  On FPD_OK '*cert'
 * is the caller's (X509_free); otherwise install nothing.
 */
int fpd_check_certificate(const struct fpd_command *cmd, EVP_PKEY *key,
    X509 **cert);

/*
 * INSTALL_KEY_AND_CERTIFICATE: open the envelope of 'cmd' with the
 * device's root secret, bound to this device and to 'cmd's
 * certificate.  On FPD_OK '*der' (malloc'ed, '*der_len' bytes) is the
 * PKCS#8 DER private key, whose public half matches the certificate;
 * wipe it (OPENSSL_cleanse) before free().
 */
int fpd_unwrap_key(const struct fpd_device *dev, const struct fpd_command *cmd,
    unsigned char **der, size_t *der_len);

/* ---- end-to-end data protection (docs/e2e.md) ------------------- */

/*
 * The device encrypts uplink messages for its own back end and opens
 * downlink messages from it; fleetpki gives the back end the keys of a
 * header (/e2e/...).  Keys derive from the root secret and a key epoch;
 * the rotation state arrives as the properties E2EContinuous,
 * E2EKeyDays, E2EKeyEpoch and E2EKeySince of SET_PROPERTIES commands
 * (pass each to fpd_e2e_property).  CONTINUOUS uses a new epoch for
 * each uplink message and accepts each downlink epoch once: persist
 * 'next_uplink' and 'last_downlink' like the counter.
 */
#define FPD_E2E_V1 1 /* 32-byte header */
#define FPD_E2E_V2 2 /* 28-byte header */
#define FPD_E2E_AES128_CCM 0x01
#define FPD_E2E_AES256_CCM 0x02

struct fpd_e2e {
	unsigned char rot[FPD_ROT_LEN];
	unsigned char secret[FPD_SECRET_LEN]; /* wiped by fpd_e2e_wipe */
	int configured; /* an E2EKeyEpoch was given */
	int continuous;
	int64_t days; /* AUTOMATIC period */
	uint64_t base; /* E2EKeyEpoch */
	int64_t since; /* E2EKeySince, Unix seconds */
	uint64_t next_uplink; /* CONTINUOUS: the lowest epoch not yet used */
	uint64_t last_downlink; /* CONTINUOUS: the last accepted (0 none) */
};

int fpd_e2e_init(struct fpd_e2e *e, const char *rot_hex,
    const unsigned char *secret);
void fpd_e2e_wipe(struct fpd_e2e *e);
/* Take property 'name': 1 when it is an E2E one, 0 when not. */
int fpd_e2e_property(struct fpd_e2e *e, const char *name, int64_t value);
/* The epoch a message sealed at 'now' would use (CONTINUOUS: the next). */
int fpd_e2e_epoch(const struct fpd_e2e *e, int64_t now, uint64_t *epoch);
/* Bytes of a sealed uplink message of 'len' plaintext bytes. */
size_t fpd_e2e_sealed_len(int version, size_t len);
/*
 * Seal 'len' bytes as an uplink message of header 'version' and suite
 * 'suite' (fresh random nonce) into 'out' ('outsz' bytes).
 */
int fpd_e2e_seal(struct fpd_e2e *e, int version, int suite, int64_t now,
    const unsigned char *in, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen);
/*
 * Open a downlink message: this device's, an epoch in its window, the
 * MAC right (FPD_EAUTH otherwise, nothing written).  The plaintext is
 * shorter than 'len'.
 */
int fpd_e2e_open(struct fpd_e2e *e, int64_t now, const unsigned char *in,
    size_t len, unsigned char *out, size_t outsz, size_t *outlen);

#ifdef __cplusplus
}
#endif

#endif /* FLEETPKI_DEVICE_H */
