/*
 * signer: the one interface through which fleetpki uses its secrets —
 * CA keys (signing certificates, CRLs, OCSP responses) and the master
 * key (sealing and unsealing private keys at rest).
 *
 * Two implementations behind one handle:
 *
 *   - local: the master key in this process; CA keys are unsealed here
 *     (the fleetpki CLI, fleetpki-worker, the signer process itself, and
 *     fleetpkid's workers with `signer = off`, for measurement only);
 *   - remote: fleetpkid's workers, which parse what clients send.  They
 *     hold no master key and no CA key: a CA key is a pki_key_remote
 *     whose signatures, and every seal/unseal, are asked of the signer
 *     process over a unix socket (signer_serve), one framed request at a
 *     time under a deadline.
 *
 * The wire format (version 1), every integer big-endian:
 *
 *   header, SIGNER_HDR_LEN bytes:
 *     u32 magic "FPSG" | u16 version | u16 op | u32 request id |
 *     u16 status | u16 reserved (0) | u32 body length
 *   SIGN request body:   i64 tenant | i64 CA | u8 kind length |
 *     u8 digest-name length | u8 digest length | u8 reserved (0) |
 *     kind | digest name | digest
 *   SEAL / UNSEAL body:  u16 AAD length | u32 data length | AAD | data
 *   reply: the request's op with SIGNER_OP_REPLY set, its id, a status
 *     (SIGNER_ST_*) and, on SIGNER_ST_OK, the signature, sealed blob or
 *     plaintext as the body.
 *
 * Anything else — wrong magic or version, unknown op, non-zero reserved
 * bits, a body over SIGNER_BODY_MAX, lengths that do not add up to the
 * body — is refused and logged; the server closes that connection.
 *
 * What the signer will do is deliberately narrow: sign a digest of the
 * size and algorithm the CA key calls for, as an existing CA (its row
 * read by the signer itself), and seal or unseal only in the "cert:"
 * AAD domain (a certificate's server-made key, core_cert_key_aad): a
 * sealed CA key ("ca:") or token key ("jwt:") never opens through the
 * socket.  That is also the seam for a hardware key store: a PKCS#11
 * token would back signer_ca_key (a key object per tenant and CA,
 * labelled by signer_ca_aad, reached through a PKCS#11 provider's
 * EVP_PKEY) and signer_seal/signer_unseal (an AES-256-GCM key on the
 * token, CKM_AES_GCM with the same AAD), and nothing above this header
 * would change.
 */
#ifndef FLEETPKI_SIGNER_H
#define FLEETPKI_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fleetpki/buf.h"

struct ca_rec;
struct config;
struct signer;

/* ---- the wire format (pure: src/signer/proto.c) ------------------- */

#define SIGNER_MAGIC 0x46505347u /* "FPSG" */
#define SIGNER_VERSION 1
#define SIGNER_HDR_LEN 20
#define SIGNER_BODY_MAX 16384
#define SIGNER_AAD_MAX 256
#define SIGNER_NAME_MAX 31 /* kind and digest names */
#define SIGNER_DIGEST_MAX 64

enum signer_op {
	SIGNER_OP_SIGN = 1,
	SIGNER_OP_SEAL = 2,
	SIGNER_OP_UNSEAL = 3,
	SIGNER_OP_CA_CREATE = 4,
};
#define SIGNER_OP_REPLY 0x8000

enum signer_status {
	SIGNER_ST_OK = 0,
	SIGNER_ST_MALFORMED = 1, /* the request does not parse */
	SIGNER_ST_NOKEY = 2, /* no CA has that id */
	SIGNER_ST_REFUSED = 3, /* parses, but is not allowed */
	SIGNER_ST_UNAVAILABLE = 4, /* the store is down */
	SIGNER_ST_FAILED = 5, /* an internal failure */
};

struct signer_hdr {
	uint16_t version;
	uint16_t op;
	uint32_t id;
	uint16_t status;
	uint32_t len; /* of the body that follows */
};

struct signer_sign_req {
	int64_t tenant_id;
	int64_t ca_id;
	char kind[SIGNER_NAME_MAX + 1];
	char md[SIGNER_NAME_MAX + 1];
	unsigned char dg[SIGNER_DIGEST_MAX];
	size_t dlen;
};

/* SEAL / UNSEAL: both pointers borrow the buffer decoded from. */
struct signer_blob_req {
	const char *aad; /* not NUL-terminated */
	size_t aadlen;
	const unsigned char *data;
	size_t len;
};

/* 'h' as SIGNER_HDR_LEN bytes (magic and version filled in). */
void signer_hdr_encode(const struct signer_hdr *h,
    unsigned char out[SIGNER_HDR_LEN]);
/*
 * Decode the first SIGNER_HDR_LEN of 'len' bytes: -FP_E_BADREQ with
 * '*why' set (static text) when 'len' is short, the magic, version or
 * reserved field is wrong, the op (reply bit aside) is unknown or the
 * body is over SIGNER_BODY_MAX.
 */
int signer_hdr_decode(const unsigned char *in, size_t len, struct signer_hdr *h,
    const char **why);
/* Bodies: encode appends to 'out'; decode checks every length. */
int signer_sign_req_encode(const struct signer_sign_req *r, struct buf *out);
int signer_sign_req_decode(const unsigned char *body, size_t len,
    struct signer_sign_req *r, const char **why);
int signer_blob_req_encode(const struct signer_blob_req *r, struct buf *out);
int signer_blob_req_decode(const unsigned char *body, size_t len,
    struct signer_blob_req *r, const char **why);

/* ---- the interface (src/signer/signer.c) -------------------------- */

/* Where fleetpkid's signer listens: an abstract unix socket name. */
struct signer_addr {
	struct sockaddr_un sun;
	socklen_t len;
};

/* Per request, reply included; past it the caller gets 503. */
#define SIGNER_TIMEOUT_MS 5000

/* The signer of a process that holds 'master_key' (copied; wiped at free). */
struct signer *signer_local_new(const unsigned char *master_key);
/* The signer process at 'addr', connected to at first use. */
struct signer *signer_remote_new(const struct signer_addr *addr);
void signer_free(struct signer *);
/* 1 for a remote signer. */
int signer_is_remote(const struct signer *);

/*
 * "jwt:<kid>": the AAD a token (JWT) signing key is sealed with, and the
 * kind under which the signer is asked to sign as that key.
 */
#define SIGNER_TOKEN_PREFIX "jwt:"

struct jwt_key_rec;

/*
 * The token signing key 'rec': local, its sealed key unsealed; remote, a
 * pki_key_remote on its public key, for which the signer signs as key
 * 'rec->kid' (while it is active).  Free it before the signer.
 */
int signer_token_key(struct signer *, const struct jwt_key_rec *rec,
    EVP_PKEY **out);

/* "ca:<tenant>:<public id>": the AAD a CA's key is sealed with (malloc'd). */
char *signer_ca_aad(int64_t tenant_id, const char *public_id);

/*
 * The signing key of CA 'rec' whose certificate is 'cert': local, its
 * sealed key unsealed and checked against the certificate; remote, a
 * pki_key_remote on the certificate's public key (the signer checks the
 * CA when asked to sign).  The key borrows the signer: free it first.
 */
int signer_ca_key(struct signer *, const struct ca_rec *rec, X509 *cert,
    EVP_PKEY **out);

/*
 * AES-256-GCM under the master key with 'aad' (NUL-terminated), as
 * pki_seal/pki_open; remote, in the "cert:" domain, and unsealing in
 * the "device:" and "enroll:" domains (signer_aad_allowed).  Unsealed
 * bytes are secret: wipe them (buf_free_secret) after the answer.
 */
int signer_seal(struct signer *, const char *aad, const unsigned char *pt,
    size_t len, struct buf *out);
int signer_unseal(struct signer *, const char *aad, const unsigned char *ct,
    size_t len, struct buf *out);

/*
 * A new self-signed root for tenant 'tenant_id' whose row will have
 * public id 'public_id' (32 hex digits): key 'alg' (pki_key_generate's
 * names), subject CN='cn', O=fleetpki, 'days' (1..7300) of validity
 * (pki_ca_create).  The key is made and sealed (AAD signer_ca_aad)
 * where the master key is: remote, in the signer process (op
 * SIGNER_OP_CA_CREATE, body a SEAL body whose AAD is that CA AAD and
 * whose data is "<alg>\n<days>\n<cn>"; reply u32 DER length, the DER,
 * the sealed key), so a worker never holds a CA key.  The certificate's
 * DER is appended to 'cert_der', the sealed key to 'key_sealed'.
 */
#define SIGNER_CA_CN_MAX 64
int signer_ca_create(struct signer *, int64_t tenant_id, const char *public_id,
    const char *alg, const char *cn, int days, struct buf *cert_der,
    struct buf *key_sealed);

/*
 * After a signing call (pki_issue, pki_crl_build, pki_ocsp_respond)
 * failed with 'rc': the remote signer's own error for it when it had
 * one (-FP_E_UNAVAILABLE when the signer did not answer in time or is
 * down, so the client sees 503), else 'rc'.  Clears it.
 */
int signer_why(struct signer *, int rc);

/* ---- the signer process (src/signer/server.c) --------------------- */

/*
 * Whether the signer seals (op SIGNER_OP_SEAL) or unseals
 * (SIGNER_OP_UNSEAL) under 'aad' for a worker: "cert:" both ways,
 * "device:" (a device's root secret) unseal only, nothing else.
 */
int signer_aad_allowed(int op, const char *aad);

/* The signer process's name (/proc/<pid>/comm, 15 bytes at most). */
#define SIGNER_COMM "fleetpki-signer"

/*
 * fleetpkid's master, before forking: bind and listen on a fresh
 * abstract unix socket, its name in '*addr'.  Returns the fd; fatal on
 * failure.
 */
int signer_listen(struct signer_addr *addr);

/*
 * The signer process: serve 'listen_fd' (from signer_listen) until
 * SIGTERM, then finish with the connections it has and exit.  Only
 * peers of this uid that are children of this process's parent (the
 * master's workers) are served.  Never returns.
 */
void signer_serve(const struct config *cfg, int listen_fd)
    __attribute__((noreturn));

#endif
