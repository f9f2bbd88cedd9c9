/*
 * core: the domain services every dialect shares.  A dialect module
 * hands the core strings and numbers (a CSR's PEM, a fingerprint, a
 * reason) and gets records back; the core combines the PKI layer
 * (OpenSSL) with the store (PostgreSQL) so dialects touch neither.
 *
 * CAs are cached per process once their sealed key is opened: a CA's
 * certificate and key never change after creation.
 */
#ifndef FLEETPKI_CORE_H
#define FLEETPKI_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/store.h"

struct config;
struct db;

/* What a process hands to every core call. */
struct fp_ctx {
	const struct config	*cfg;
	struct db		*db;
};

/* A tenant's CA, ready to sign; owned by the process cache. */
struct core_ca;

/* ---- tenants ----------------------------------------------------- */

/* Tenant by name, cached for the life of the process (never renamed). */
int	core_tenant(struct fp_ctx *, const char *name, struct tenant *out);

/* ---- CAs --------------------------------------------------------- */

/* The tenant's default CA.  -FP_E_NOTFOUND when it has none. */
int	core_ca_default(struct fp_ctx *, int64_t tenant_id,
	    const struct core_ca **out);
/* Any CA of the tenant by id. */
int	core_ca_get(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
	    const struct core_ca **out);
/* Its certificate as PEM and its fingerprint ("AA:BB:..."): borrowed. */
const char *core_ca_pem(const struct core_ca *);
const char *core_ca_fingerprint(const struct core_ca *);
int64_t	core_ca_id(const struct core_ca *);
/* The URL of its DER CRL on the plain-HTTP listener; borrowed. */
const char *core_ca_crl_url(const struct core_ca *);

/*
 * Create a CA for tenant 'tenant_id' (key 'alg' as pki_key_generate,
 * 'days' validity), seal its key and store it; the tenant's first CA is
 * its default.  Issues its first (empty) CRL.  Sets '*id'.
 */
int	core_ca_create(struct fp_ctx *, const struct tenant *t,
	    const char *name, const char *alg, int days, int64_t *id,
	    struct fp_status *st);

/* Drop every cached CA and tenant (after SIGHUP). */
void	core_cache_flush(void);

/* ---- certificates ------------------------------------------------ */

/*
 * The identity API's issuance: parse and police the CSR (signature,
 * key, CN-only subject), issue under the tenant's default CA with
 * subject CN=<tenant>:<CN>, O=fleetpki, clientAuth, the configured
 * validity and the CA's CRL URL; store it and fill 'out' (fingerprint,
 * pem, ...) only after the commit.
 */
int	core_issue_device_csr(struct fp_ctx *, const struct tenant *t,
	    const char *csr_pem, size_t len, struct cert_rec *out,
	    struct fp_status *st);

/*
 * Remove a certificate from the identity API and revoke it (reason
 * superseded, as the original server did), then issue a fresh CRL for its CA so the revocation shows at
 * once.  -FP_E_NOTFOUND when the tenant has no such certificate.
 */
int	core_cert_delete(struct fp_ctx *, const struct tenant *t,
	    const char *fingerprint);

/* ---- CRLs -------------------------------------------------------- */

/* Sign and store the next CRL of a CA. */
int	core_crl_issue(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
	    struct crl_rec *out);
/*
 * The newest CRL of a CA, issuing one first when there is none or the
 * newest has passed its nextUpdate.
 */
int	core_crl_current(struct fp_ctx *, int64_t tenant_id, int64_t ca_id,
	    struct crl_rec *out);
/* Same, by the CA's public id (the CRL URL); not tenant-scoped. */
int	core_crl_by_public_id(struct fp_ctx *, const char *public_id,
	    struct crl_rec *out);
/* PEM text of a DER CRL, into 'out'. */
int	core_crl_pem(const struct crl_rec *crl, struct buf *out);

/*
 * The worker's job: issue a new CRL for every CA whose newest CRL is
 * missing or expires within the refresh margin.  Sets '*issued'.
 */
int	core_crl_refresh_due(struct fp_ctx *, int *issued);

/* ---- server certificates ----------------------------------------- */

enum servercert_encoding { SRVCERT_PEM, SRVCERT_DER };

/*
 * The registered certificate of 'server'/'slot' in 'enc' into 'out'.
 * -FP_E_NOTFOUND for an unknown server or slot.
 */
int	core_servercert_get(struct fp_ctx *, const char *server,
	    const char *slot, enum servercert_encoding enc, struct buf *out);
/* Hex digest ("sha256" or "md5") of the same bytes into 'hex'. */
int	core_servercert_hash(const char *alg, const struct buf *bytes,
	    char *hex, size_t hexlen, struct fp_status *st);
/* Register a certificate (exactly one PEM certificate) for a slot. */
int	core_servercert_set(struct fp_ctx *, const char *server,
	    const char *slot, const char *pem, size_t len,
	    struct fp_status *st);

#endif
