/*
 * libFuzzer harness for the CSR policy: pki_csr_parse_pem and
 * pki_csr_parse_der on the same input, and the identity-API subject
 * check on whatever they accept.  Build and run: see tests/fuzz/build.sh.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/x509.h>

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

/* A parsed request must survive the subject policy and be freed. */
static void
check(int rc, X509_REQ *req)
{
	struct fp_status st;
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
	X509_REQ_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fp_status st;
	X509_REQ *req = NULL;
	int rc;

	rc = pki_csr_parse_pem((const char *)data, size, &req, &st);
	check(rc, req);
	req = NULL;
	rc = pki_csr_parse_der(data, size, &req, &st);
	check(rc, req);
	return 0;
}
