/*
 * api: the handlers of each dialect, named by module prefix.  The route
 * table in src/front/router.c is the only place that lists them.
 */
#ifndef FLEETPKI_API_H
#define FLEETPKI_API_H

#include "fleetpki/error.h"

struct http_req;
struct http_resp;

#define API_HANDLER(name) \
	int name(struct http_req *, struct http_resp *, struct fp_status *)

/* Operations: GET /api/health. */
API_HANDLER(health_get);

/* Revocation information for relying parties, served over plain HTTP
 * too: the CRL distribution point GET /crl/{public_id}.crl. */
API_HANDLER(revinfo_crl_der);
/* OCSP: POST /ocsp (application/ocsp-request), GET /ocsp/{base64}. */
API_HANDLER(revinfo_ocsp_post);
API_HANDLER(revinfo_ocsp_get);

/* Certificate maker (certmaker.txt), under /api/v1, X-Auth-Token. */
API_HANDLER(certmaker_root);
API_HANDLER(certmaker_request);
API_HANDLER(certmaker_request_csr);
API_HANDLER(certmaker_cert_obtain);
API_HANDLER(certmaker_key_obtain);
API_HANDLER(certmaker_challenge_solve);
API_HANDLER(certmaker_revoke);

/* X.509 identity API (x509-identity.txt), under /x509/v1. */
API_HANDLER(x509api_cert_create);
API_HANDLER(x509api_cert_list);
API_HANDLER(x509api_cert_get);
API_HANDLER(x509api_cert_delete);
API_HANDLER(x509api_ca_get);
API_HANDLER(x509api_crl_get);

/* Server-certificate distribution (server-certificates.txt). */
API_HANDLER(srvcert_file);
API_HANDLER(srvcert_hash);

#endif
