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
