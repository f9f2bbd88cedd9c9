/*
 * pki_internal: helpers shared by the files of src/pki and nobody else.
 */
#ifndef FLEETPKI_PKI_INTERNAL_H
#define FLEETPKI_PKI_INTERNAL_H

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/*
 * The digest a CA key signs with, the hash sized to the key: SHA-384
 * for P-384, SHA-512 for P-521, SHA-256 for P-256 and RSA.  Certificates
 * (issue.c), CRLs (crl.c) and OCSP responses (ocsp.c) use this one choice.
 */
const EVP_MD *pki_sig_md(EVP_PKEY *key);

/*
 * A DigestSign context over 'key' with pki_sig_md(key), naming 'kind'
 * (PKI_KIND_*) for a remote key's signer; for X509_sign_ctx and its
 * CRL and OCSP siblings.  Free with EVP_MD_CTX_free.
 */
int pki_sign_ctx_new(EVP_PKEY *key, const char *kind, EVP_MD_CTX **out);

/*
 * A serial number as we store it: the magnitude, big-endian, without
 * leading zero bytes, in upper-case hex (PKI_SERIAL_HEX_LEN bytes).
 * -FP_E_BADREQ for a negative serial or one longer than we issue: a
 * foreign certificate or an OCSP CertID may carry one, and our columns
 * could not hold it (it was never issued here).
 */
int pki_serial_to_hex(const ASN1_INTEGER *sn, char *out);

/*
 * One distribution point of one fullName URI 'url' (checked by the
 * caller): a certificate's cRLDistributionPoints or Freshest CRL
 * (issue.c), a complete CRL's Freshest CRL (crl.c).  NULL on failure.
 */
CRL_DIST_POINTS *pki_dist_points(const char *url);

/*
 * Key policy messages that both the CSR parser (csr.c), which reads the
 * algorithm before a key exists, and pki_key_check() (key.c) give.
 */
#define PKI_MSG_KEY_ALG                                                        \
	"The public key algorithm is not supported. (Use RSA or ECDSA)"
#define PKI_MSG_EC_EXPLICIT                                                    \
	"The ECDSA public key uses explicit curve parameters, which are not "  \
	"supported. (Encode the key with a named curve: P-256, P-384 or "      \
	"P-521)"
#define PKI_MSG_EC_CURVE                                                       \
	"The elliptical curve used in the ECDSA public key algorithm is not "  \
	"supported. (Use the NIST-recommended curves: P-256, P-384 or P-521)"
#define PKI_MSG_EC_POINT                                                       \
	"The ECDSA public key is not a valid point on its curve."

#endif
