/*
 * pki: the PKI core over OpenSSL 3 (EVP and OSSL_PARAM APIs only).
 *
 * Keys, CSR policy, certificate issuance from a server profile, CRLs,
 * fingerprints, digests and private-key sealing.  The core knows no API
 * dialect and no SQL: dialect modules call it, the store keeps its output.
 *
 * Every function returns 0 or a negative enum fp_err; where the caller's
 * input is at fault the reason is written to 'st' (may be NULL) in words
 * a client can act on.  Unexpected OpenSSL failures are logged with the
 * OpenSSL error queue and returned as -FP_E_INTERNAL.
 */
#ifndef FLEETPKI_PKI_H
#define FLEETPKI_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"

/* "AA:BB:...": 32 bytes as upper-case hex pairs joined by colons. */
#define PKI_FPR_LEN	(32 * 3)
/* Serial numbers: 20 bytes, positive, first byte non-zero. */
#define PKI_SERIAL_BYTES 20
/* Upper-case hex of a serial, no separators, NUL included. */
#define PKI_SERIAL_HEX_LEN (PKI_SERIAL_BYTES * 2 + 1)
/* AES-256-GCM sealing: nonce || ciphertext || tag. */
#define PKI_SEAL_KEY_LEN 32
#define PKI_SEAL_OVERHEAD (12 + 16)

/* ---- keys -------------------------------------------------------- */

/*
 * Generate a key: 'alg' is one of ec-p256, ec-p384, ec-p521, rsa-2048,
 * rsa-3072, rsa-4096 (anything else: -FP_E_BADREQ with a reason).
 */
int	pki_key_generate(const char *alg, EVP_PKEY **out, struct fp_status *st);
/* The pki_key_generate name of the key in 'cert' ("ec-p256", ...); NULL: none. */
const char *pki_cert_key_alg(X509 *cert);

/*
 * The key policy for any subject key: RSA of 2048, 3072 or 4096 bits
 * (at least 2048) with e = 65537; EC on P-256, P-384 or P-521 given as a
 * named curve (explicit parameters rejected); nothing else.  Messages:
 *  "The RSA public key length less than 2048 bits is not supported."
 *  "The elliptical curve used in the ECDSA public key algorithm is not
 *   supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"
 */
int	pki_key_check(EVP_PKEY *key, struct fp_status *st);

/* PKCS#8 private key DER into 'out' (wipe it with buf_free_secret). */
int	pki_key_to_der(EVP_PKEY *key, struct buf *out);
int	pki_key_from_der(const unsigned char *der, size_t len, EVP_PKEY **out);
/* PKCS#8 PEM private key, NUL-terminated, into 'out' (wipe after use). */
int	pki_key_to_pem(EVP_PKEY *key, struct buf *out);
/*
 * Lower-case hex SHA-256 of the key's SubjectPublicKeyInfo DER: which
 * key a CSR or a certificate is for.
 */
int	pki_spki_sha256_hex(EVP_PKEY *key, char out[65]);

/* ---- CSRs -------------------------------------------------------- */

/* A parsed and checked PKCS#10 request; opaque. */
struct pki_csr;

/*
 * Parse one PEM "CERTIFICATE REQUEST" of 'len' bytes (no trailing data
 * but white space), verify its self-signature, apply pki_key_check(),
 * refuse MD5/SHA-1 signatures and duplicate requested extensions.
 */
int	pki_csr_parse_pem(const char *pem, size_t len, struct pki_csr **out,
	    struct fp_status *st);
/* Same for DER. */
int	pki_csr_parse_der(const unsigned char *der, size_t len,
	    struct pki_csr **out, struct fp_status *st);
void	pki_csr_free(struct pki_csr *csr);
/*
 * The CSR's public key, owned by the CSR: RSA or EC, and it has passed
 * pki_key_check().
 */
EVP_PKEY *pki_csr_pubkey(const struct pki_csr *csr);
/* The CSR's DER, appended to 'out': what it was parsed from, if DER. */
int	pki_csr_to_der(const struct pki_csr *csr, struct buf *out);

/*
 * The identity-API subject policy: the subject holds exactly one CN and
 * nothing else, matching ^[0-9A-Za-z ]{1,255}$.  Sets '*cn' (malloc'd).
 * Messages: "Error checking SubjectDN allowed attributes in CSR. Allowed:
 * [CN] Found: [O, CN]" / "Error checking SubjectDN 'CN' attribute in CSR.
 * The value does not match the regular expression: /^[0-9A-Za-z
 * ]{1,255}$/. Found: <value>".
 */
int	pki_csr_subject_cn_only(const struct pki_csr *csr, char **cn,
	    struct fp_status *st);

/* ---- certificates ------------------------------------------------ */

enum pki_san_type { PKI_SAN_DNS, PKI_SAN_IP, PKI_SAN_EMAIL };

struct pki_san {
	enum pki_san_type	 type;
	const char		*value;	/* IP as text: 192.0.2.1, 2001:db8::1 */
};

/*
 * Check names before any work is done on them: DNS names are LDH labels
 * (one leading "*." allowed), IPs parse with inet_pton (no "010.1",
 * "0x7f.1" or trailing junk), emails are local@dns; no name twice.  The
 * same rules pki_issue applies.  -FP_E_BADREQ naming the offender.
 */
int	pki_san_check(const struct pki_san *sans, size_t n,
	    struct fp_status *st);

/*
 * The names a CSR asks for in its extension request's subjectAltName:
 * DNS, IP (as text) and email only; any other kind (URI, otherName,
 * directoryName, ...) is refused.  '*sans' is an array of '*n' with
 * malloc'd values; free with pki_sans_free.  No SAN extension: n = 0.
 */
int	pki_csr_sans(const struct pki_csr *csr, struct pki_san **sans, size_t *n,
	    struct fp_status *st);
void	pki_sans_free(struct pki_san *sans, size_t n);
/* The CSR subject's CN (malloc'd) or NULL when it has none. */
char	*pki_csr_cn(const struct pki_csr *csr);

#define PKI_EKU_CLIENT	0x1
#define PKI_EKU_SERVER	0x2

/* Subject attributes; NULL ones are left out.  Order as listed. */
struct pki_name {
	const char	*c, *st, *l, *street, *postal, *o, *ou, *cn;
};

/* What the server puts in a certificate: nothing comes from a CSR. */
struct pki_profile {
	struct pki_name		 subject;
	const struct pki_san	*sans;
	size_t			 nsans;
	unsigned		 eku;		/* PKI_EKU_* bits, at least one */
	int			 days;		/* validity, >= 1 */
	const char		*crl_url;	/* CRL distribution point or NULL */
	const char		*delta_url;	/* Freshest CRL (delta) or NULL */
	const char		*ocsp_url;	/* AIA OCSP responder or NULL */
};

/* A CA the core can sign with; both borrowed by the core. */
struct pki_ca {
	X509		*cert;
	EVP_PKEY	*key;
};

/*
 * Issue a certificate for 'pub' under 'ca' from 'prof': v3, a fresh
 * random serial (PKI_SERIAL_BYTES, positive), notBefore backdated five
 * minutes, notAfter = now + days clamped to the issuer's notAfter;
 * basicConstraints CA:FALSE critical; keyUsage critical by key type
 * (EC: digitalSignature; RSA: digitalSignature, keyEncipherment); the
 * EKUs asked; SKI (SHA-1 of the key, RFC 5280 method 1); AKI keyid from
 * the issuer's SKI; SANs; CRL DP and AIA OCSP when given.  Signed with
 * SHA-256 (P-256, RSA), SHA-384 (P-384) or SHA-512 (P-521) per CA key.
 * Passes `openssl verify -x509_strict`.  On a serial collision in the
 * store the caller simply calls again: each call draws a new serial.
 * The X509 returned is for encoding and storing: its key is not decoded
 * (X509_get0_pubkey() on it gives NULL; 'pub' is that key).
 */
int	pki_issue(const struct pki_ca *ca, EVP_PKEY *pub,
	    const struct pki_profile *prof, X509 **out, struct fp_status *st);

/*
 * Create a self-signed root: 'alg' as pki_key_generate, subject
 * CN='cn', O='org' (may be NULL), 'days' validity; CA:TRUE critical,
 * keyUsage keyCertSign, cRLSign, digitalSignature critical; SKI and AKI.
 */
int	pki_ca_create(const char *alg, const char *cn, const char *org,
	    int days, EVP_PKEY **key, X509 **cert, struct fp_status *st);

/*
 * A delegated OCSP responder's certificate for 'pub' under 'ca' (RFC
 * 6960 4.2.2.2): subject CN "<the CA's CN> OCSP responder", a random
 * serial, notBefore backdated five minutes, 'days' of validity (within
 * the CA's); basicConstraints CA:FALSE and keyUsage digitalSignature,
 * both critical; extendedKeyUsage OCSPSigning; id-pkix-ocsp-nocheck
 * (4.2.2.2.1: clients do not ask about the responder itself, so it
 * lives days, not years); SKI, AKI.  Signed as pki_issue signs.
 */
int	pki_issue_ocsp_responder(const struct pki_ca *ca, EVP_PKEY *pub,
	    int days, X509 **out, struct fp_status *st);

/* Encodings.  DER/PEM are malloc'd into 'out' (PEM NUL-terminated). */
int	pki_cert_to_der(X509 *cert, struct buf *out);
/*
 * PEM armour ("-----BEGIN <label>-----", base64 in 64-column lines) of
 * 'len' DER bytes, appended to 'out'.
 */
int	pki_pem_encode(const char *label, const unsigned char *der, size_t len,
	    struct buf *out);
#define PKI_PEM_CRL	"X509 CRL"
int	pki_cert_to_pem(X509 *cert, struct buf *out);
int	pki_cert_from_der(const unsigned char *der, size_t len, X509 **out);
/* Exactly one PEM certificate, trailing white space only. */
int	pki_cert_from_pem(const char *pem, size_t len, X509 **out,
	    struct fp_status *st);
/*
 * A certificate chain as a CA hands it out (PEM, leaf first): the leaf
 * must be for 'host' (X509_check_host) and, when 'key' is given, for
 * that key.  The certificates alone (at most 8 after the leaf) are
 * re-encoded into 'clean', NUL-terminated; what the leaf is into 'info'
 * (free with pki_leaf_info_clear).  -FP_E_BADREQ saying what is wrong.
 */
struct pki_leaf_info {
	char		spki_sha256[65];
	char		serial[PKI_SERIAL_HEX_LEN];
	int64_t		not_before;
	int64_t		not_after;
	struct buf	der;
};
int	pki_chain_check(const char *pem, size_t len, const char *host,
	    EVP_PKEY *key, struct buf *clean, struct pki_leaf_info *info,
	    struct fp_status *st);
void	pki_leaf_info_clear(struct pki_leaf_info *info);
/* Serial as upper-case hex without separators. */
int	pki_cert_serial_hex(X509 *cert, char out[PKI_SERIAL_HEX_LEN]);
/* Subject as RFC 2253 text ("CN=tenant:dev1,O=..."), malloc'd. */
char	*pki_cert_subject(X509 *cert);
/* notBefore / notAfter as Unix seconds. */
int	pki_cert_validity(X509 *cert, int64_t *not_before, int64_t *not_after);

/*
 * Decode the body of the first PEM block in 'pem' (any label) into
 * 'out': "der is the base64-decoded PEM body".
 */
int	pki_pem_body_der(const char *pem, size_t len, struct buf *out);
/*
 * Strict form: exactly one PEM block labelled 'label' ("CERTIFICATE
 * REQUEST"), no PEM headers, only white space around it; the decoded
 * body is appended to 'out'.  -FP_E_BADREQ with a reason otherwise.
 */
int	pki_pem_decode(const char *pem, size_t len, const char *label,
	    struct buf *out, struct fp_status *st);

/* ---- fingerprints and digests ------------------------------------ */

/* SHA-256 of 'der' as "AA:BB:..." (PKI_FPR_LEN bytes with the NUL). */
void	pki_fingerprint(const unsigned char *der, size_t len,
	    char out[PKI_FPR_LEN]);
/*
 * Normalise a client-given fingerprint: any case, colons optional (all
 * or none).  -FP_E_BADREQ when it is not 32 hex bytes.
 */
int	pki_fingerprint_normalize(const char *in, char out[PKI_FPR_LEN]);

/* Lower-case hex digest of 'data'; 'alg' "sha256" or "md5". */
int	pki_digest_hex(const char *alg, const void *data, size_t len,
	    char out[EVP_MAX_MD_SIZE * 2 + 1]);

/* HMAC-SHA256('key', 'msg') as lower-case hex (65 bytes with NUL). */
int	pki_hmac_hex(const unsigned char *key, size_t keylen,
	    const void *msg, size_t msglen, char out[65]);

/* CSPRNG bytes; fatal if the generator fails. */
void	pki_random(void *out, size_t len);

/* ---- CRLs -------------------------------------------------------- */

struct pki_revoked {
	const char	*serial_hex;	/* upper-case hex */
	int64_t		 revoked_at;	/* Unix seconds */
	int		 reason;	/* RFC 5280 CRLReason code, -1 = none */
};

/*
 * Build a v2 CRL signed by 'ca': issuer = CA subject, thisUpdate,
 * nextUpdate, one entry per revoked serial (with reasonCode when >= 0),
 * extensions AKI and crlNumber = 'crl_number'.  'delta_base' >= 0 makes
 * it a delta CRL over the complete CRL of that number (a critical
 * deltaCRLIndicator, RFC 5280 5.2.4); -1 a complete one.  'freshest_url'
 * (or NULL) adds the Freshest CRL extension naming the delta CRLs.
 */
int	pki_crl_build(const struct pki_ca *ca, const struct pki_revoked *rev,
	    size_t nrev, int64_t crl_number, int64_t this_update,
	    int64_t next_update, int64_t delta_base, const char *freshest_url,
	    X509_CRL **out);
int	pki_crl_to_der(X509_CRL *crl, struct buf *out);
int	pki_crl_to_pem(X509_CRL *crl, struct buf *out);

/* RFC 5280 reason names ("keyCompromise", ...) to codes; -1 unknown. */
int	pki_reason_from_name(const char *name);
const char *pki_reason_name(int code);

/* ---- OCSP (RFC 6960) --------------------------------------------- */

/* Most CertIDs one request may carry. */
#define PKI_OCSP_MAX_CERTS 16

/* A parsed OCSP request; opaque. */
struct pki_ocsp_req;

/*
 * Parse a DER OCSPRequest of 'len' bytes (nothing may follow it).
 * -FP_E_BADREQ when it is not one, or carries no CertID, or more than
 * PKI_OCSP_MAX_CERTS.  Signed requests are accepted, signature ignored
 * (RFC 6960 4.1.2: optional, and we answer everyone alike).
 */
int	pki_ocsp_req_parse(const unsigned char *der, size_t len,
	    struct pki_ocsp_req **out);
void	pki_ocsp_req_free(struct pki_ocsp_req *);
size_t	pki_ocsp_req_count(const struct pki_ocsp_req *);
/*
 * The issuerKeyHash of CertID 'i' as upper-case hex (40 digits) when
 * the CertID uses SHA-1, which is how stores index CAs (their SKI).
 * -FP_E_NOTFOUND for a CertID hashed with another algorithm.
 */
int	pki_ocsp_req_key_id(const struct pki_ocsp_req *, size_t i,
	    char out[41]);
/*
 * The issuerKeyHash of CertID 'i' under whichever hash it uses: '*alg'
 * "sha1", "sha256", "sha384" or "sha512" (static) and the hash in
 * upper-case hex.  -FP_E_NOTFOUND for another algorithm, or a hash of
 * the wrong length for its algorithm.
 */
int	pki_ocsp_req_key_hash(const struct pki_ocsp_req *, size_t i,
	    const char **alg, char out[129]);
/*
 * The hash under 'alg' ("sha256", ...) of 'cert''s public key, as an
 * OCSP CertID's issuerKeyHash has it, in upper-case hex.
 */
int	pki_cert_key_hash(X509 *cert, const char *alg, char out[129]);
/* 1 when CertID 'i' names 'ca' (name and key hash, its own algorithm). */
int	pki_ocsp_req_issued_by(const struct pki_ocsp_req *, size_t i,
	    X509 *ca);
/* The serial of CertID 'i' as upper-case hex, as pki_cert_serial_hex. */
int	pki_ocsp_req_serial_hex(const struct pki_ocsp_req *, size_t i,
	    char out[PKI_SERIAL_HEX_LEN]);
/* 1 when the request carries a nonce extension (then never cache). */
int	pki_ocsp_req_has_nonce(const struct pki_ocsp_req *);

enum pki_ocsp_cert_status {
	PKI_OCSP_GOOD,
	PKI_OCSP_REVOKED,
	PKI_OCSP_UNKNOWN,
};

struct pki_ocsp_answer {
	enum pki_ocsp_cert_status	status;
	int64_t				revoked_at;	/* REVOKED only */
	int				reason;		/* REVOKED; -1 = none */
};

/*
 * A successful BasicOCSPResponse for every CertID of 'req', in order,
 * with 'answers[i]' (revocationReason only for a reason > 0: like the
 * CRL, "unspecified" is left out): thisUpdate/nextUpdate as given, the
 * request's nonce echoed, responderID byKey, signed by 'ca' with the
 * digest its key calls for (as pki_issue), no certificates included
 * (the CA signs directly).  DER OCSPResponse appended to 'out'.
 */
int	pki_ocsp_respond(const struct pki_ca *ca, const struct pki_ocsp_req *req,
	    const struct pki_ocsp_answer *answers, int64_t this_update,
	    int64_t next_update, struct buf *out);
/*
 * The same, signed by 'responder' (a delegated responder of 'ca':
 * pki_issue_ocsp_responder), whose certificate the answer includes and
 * whose key the responderID names (RFC 6960 4.2.2.2, second case).
 * 'responder' NULL: as pki_ocsp_respond.
 */
int	pki_ocsp_respond_by(const struct pki_ca *ca,
	    const struct pki_ca *responder, const struct pki_ocsp_req *req,
	    const struct pki_ocsp_answer *answers, int64_t this_update,
	    int64_t next_update, struct buf *out);
/*
 * An unsuccessful OCSPResponse with no body: 'status' is one of
 * OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, _INTERNALERROR, _TRYLATER,
 * _UNAUTHORIZED.  DER into 'out'.
 */
int	pki_ocsp_error(int status, struct buf *out);

/* ---- keys held elsewhere (the signer) ----------------------------- */

struct pki_remote_ref;

/*
 * Sign 'dlen' bytes of digest 'dg' (made with digest 'md', OpenSSL's
 * name: "SHA2-256") as the key 'ref' names; 'kind' says what is signed
 * (PKI_KIND_*).  The signature, in the key type's usual encoding (DER
 * ECDSA-Sig-Value, PKCS#1 v1.5), goes to 'sig', of '*siglen' bytes at
 * most, and '*siglen' is set to its length.  0 or a negative fp_err.
 */
typedef int (*pki_remote_sign_fn)(void *arg, const struct pki_remote_ref *ref,
    const char *kind, const char *md, const unsigned char *dg, size_t dlen,
    unsigned char *sig, size_t *siglen);

/* Who signs for a remote key; copied into the key. */
struct pki_remote_ref {
	pki_remote_sign_fn	 sign;
	void			*arg;		/* borrowed: must outlive the key */
	int64_t			 tenant_id;
	int64_t			 ca_id;
	/*
	 * A key that is no CA's names itself here ("jwt:<kid>", the token
	 * signing key), sent as the request's kind; "" for a CA's key.
	 */
	char			 label[32];
};

#define PKI_KIND_CERT	"certificate"
#define PKI_KIND_CRL	"crl"
#define PKI_KIND_OCSP	"ocsp"

/*
 * An EVP_PKEY with the public half of 'pub' (EC or RSA) whose private
 * operations call 'ref->sign': a CA key as a worker holds it, usable
 * wherever a CA key is (pki_issue, pki_crl_build, pki_ocsp_respond),
 * without the key itself ever being in the process.  Free with
 * EVP_PKEY_free.
 */
int	pki_key_remote(EVP_PKEY *pub, const struct pki_remote_ref *ref,
	    EVP_PKEY **out);

/*
 * The other end: sign digest 'dg' with a key held here.  'md' must be
 * the digest the key signs with (as pki_issue picks it) and 'dlen' its
 * size, else -FP_E_BADREQ.  '*siglen' is the room in 'sig' on entry
 * (EVP_PKEY_get_size(key) is enough), the signature's length on return.
 */
int	pki_sign_digest(EVP_PKEY *key, const char *md, const unsigned char *dg,
	    size_t dlen, unsigned char *sig, size_t *siglen);

/*
 * The same for a key that signs often (the signer's CA keys): the
 * context is made once, with the key's digest and padding, and used for
 * every signature until pki_sign_release.  The key must outlive it.
 */
struct pki_signing {
	EVP_PKEY_CTX *ctx;
	int md_type; /* the NID of the digest the key signs with */
	size_t md_size;
};
int	pki_sign_prepare(EVP_PKEY *key, struct pki_signing *out);
int	pki_sign_prepared(struct pki_signing *, const char *md,
	    const unsigned char *dg, size_t dlen, unsigned char *sig,
	    size_t *siglen);
void	pki_sign_release(struct pki_signing *);

/* ---- sealing private keys at rest -------------------------------- */

/*
 * AES-256-GCM: 'out' = 12-byte random nonce || ciphertext || 16-byte
 * tag, authenticated with 'aad' (the owning row's tenant and id, so a
 * sealed key copied to another row does not open).
 */
int	pki_seal(const unsigned char key[PKI_SEAL_KEY_LEN], const void *aad,
	    size_t aadlen, const unsigned char *pt, size_t ptlen,
	    struct buf *out);
/* Inverse; -FP_E_INTERNAL when the tag does not verify. */
int	pki_open(const unsigned char key[PKI_SEAL_KEY_LEN], const void *aad,
	    size_t aadlen, const unsigned char *ct, size_t ctlen,
	    struct buf *out);

#endif
