/*
 * pki_internal: helpers shared by the files of src/pki and nobody else.
 */
#ifndef FLEETPKI_PKI_INTERNAL_H
#define FLEETPKI_PKI_INTERNAL_H

#include <openssl/evp.h>

/*
 * The digest a CA key signs with, the hash sized to the key: SHA-384
 * for P-384, SHA-512 for P-521, SHA-256 for P-256 and RSA.  Certificates
 * (issue.c), CRLs (crl.c) and OCSP responses (ocsp.c) use this one choice.
 */
const EVP_MD *pki_sig_md(EVP_PKEY *key);

#endif
