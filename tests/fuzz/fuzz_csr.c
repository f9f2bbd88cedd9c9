/*
 * libFuzzer harness for the CSR policy: pki_csr_parse_pem and
 * pki_csr_parse_der on the same input, and on whatever they accept the
 * identity-API subject check, the names, and the DER given back, which
 * must parse again to the same key.  Build and run: see
 * tests/fuzz/build.sh.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_LVL_ERR);
	return 0;
}

/* A parsed request must survive the policies, re-encode, and be freed. */
static void
check(int rc, struct pki_csr *req)
{
	struct fp_status st;
	struct pki_csr *again = NULL;
	struct pki_san *sans = NULL;
	struct buf der = BUF_INIT;
	size_t nsans = 0;
	char *cn = NULL;

	if (rc != 0) {
		/* A failure hands nothing back (else it would leak). */
		if (req != NULL)
			abort();
		return;
	}
	if (req == NULL)
		abort();
	(void)pki_csr_subject_cn_only(req, &cn, &st);
	free(cn);
	free(pki_csr_cn(req));
	if (pki_csr_sans(req, &sans, &nsans, &st) == 0)
		pki_sans_free(sans, nsans);
	if (pki_csr_to_der(req, &der) != 0 ||
	    pki_csr_parse_der(der.data, der.len, &again, &st) != 0 ||
	    EVP_PKEY_eq(pki_csr_pubkey(again), pki_csr_pubkey(req)) != 1)
		abort();
	pki_csr_free(again);
	buf_free(&der);
	pki_csr_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fp_status st;
	struct pki_csr *req = NULL;
	int rc;

	rc = pki_csr_parse_pem((const char *)data, size, &req, &st);
	check(rc, req);
	req = NULL;
	rc = pki_csr_parse_der(data, size, &req, &st);
	check(rc, req);
	return 0;
}
