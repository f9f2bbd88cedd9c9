/*
 * Shared between the core's own files; not for dialects.
 */
#ifndef FLEETPKI_CORE_INTERNAL_H
#define FLEETPKI_CORE_INTERNAL_H

#include "fleetpki/core.h"
#include "fleetpki/pki.h"

/*
 * The tenant's default CA to issue under: a tenant without one is an
 * internal error (logged), never the caller's.
 */
int core_ca_signer(struct fp_ctx *, const struct tenant *t,
    const struct core_ca **out);

/* The signing material of a cached CA (borrowed). */
const struct pki_ca *core_ca_pki(const struct core_ca *);

/*
 * Sign 'pub' under 'ca' with 'prof' and store the certificate for
 * 'user_id' (0: none), sealing 'priv' with it when the server made the
 * key; a serial collision signs again.  'out' is filled after commit.
 */
int core_issue_and_store(struct fp_ctx *, const struct core_ca *ca,
    int64_t tenant_id, int64_t user_id, EVP_PKEY *pub, EVP_PKEY *priv,
    const struct pki_profile *prof, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st);

/*
 * The answer of an earlier try under 'idem' (NULL or no key: none):
 * 0 with its certificate in 'out' and idem->replayed set, 422 when the
 * key was used with another request, -FP_E_NOTFOUND when there is none
 * to replay (a key older than CORE_IDEM_TTL is forgotten here).
 */
int core_idem_replay(struct fp_ctx *, int64_t tenant_id, struct core_idem *idem,
    struct cert_rec *out, struct fp_status *st);

/* "cert:<tenant>:<ca>:<serial>": what a certificate's key is sealed to. */
char *core_cert_key_aad(int64_t tenant_id, int64_t ca_id, const char *serial);

#endif
