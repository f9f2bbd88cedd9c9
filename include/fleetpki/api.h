/*
 * api: the dialects fleetpkid speaks, one module each.  A module's route
 * group is its one list of handlers (they are static to it); the router
 * (src/front/router.c) lists the groups.
 */
#ifndef FLEETPKI_API_H
#define FLEETPKI_API_H

#include "fleetpki/router.h"

/* Operations: GET /api/health. */
extern const struct route_group health_routes;

/* The admin portal's JSON API (src/api/admin.c), under /admin/api. */
extern const struct route_group admin_routes;

/*
 * Revocation information for relying parties, served over plain HTTP
 * too: the CRL distribution point GET /crl/{public_id}.crl; OCSP, POST
 * /ocsp (application/ocsp-request) and GET /ocsp/{base64}.
 */
extern const struct route_group revinfo_routes;

/* X.509 identity API (x509-identity.txt), under /x509/v1. */
extern const struct route_group x509api_routes;

/* Certificate maker (certmaker.txt), under /api/v1, X-Auth-Token. */
extern const struct route_group certmaker_routes;

/* Server-certificate distribution (server-certificates.txt). */
extern const struct route_group srvcert_routes;

/* Security services (security-services.txt), at the root paths. */
extern const struct route_group secsvc_routes;
/* ... its routes that answer errors as {"Message"} (secsvc.c) */
extern const struct route_group secsvc_m_routes;
/* ... tags (secsvc_tags.c) */
extern const struct route_group secsvc_tag_routes;
/* ... notifications, activity, usage, clones, suspicious (secsvc_reports.c) */
extern const struct route_group secsvc_report_routes;
/* ... notification hooks (secsvc_webhooks.c) */
extern const struct route_group secsvc_webhook_routes;
/* ... end-to-end data protection, /e2e/... (secsvc_e2e.c) */
extern const struct route_group secsvc_e2e_routes;
/* ... zero-touch provisioning, /ztp/... (secsvc_ztp.c) */
extern const struct route_group secsvc_ztp_routes;

/* The device protocol (docs/device-protocol.md), under /device/v1. */
extern const struct route_group devproto_routes;

/* Device enrollment (device-enrollment.txt): /api/register, /api/renew. */
extern const struct route_group enroll_routes;

/* GET /metrics, Prometheus text (src/api/metrics.c; AUTH_METRICS). */
extern const struct route_group metrics_routes;

#endif
