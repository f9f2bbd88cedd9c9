/*
 * core_registry: the security-services registry's domain services —
 * device profiles, devices, the allow and deny lists, provisioning —
 * for the dialect (src/api/secsvc.c) and the operator's CLI.
 */
#ifndef FLEETPKI_CORE_REGISTRY_H
#define FLEETPKI_CORE_REGISTRY_H

#include "fleetpki/core.h"
#include "fleetpki/store_registry.h"

/*
 * A new device profile of tenant 't' named 'name' (1-255 characters,
 * no control characters; case-sensitive, unique in the tenant) with a
 * fresh random DeviceProfileUID.  -FP_E_CONFLICT when the name is taken,
 * -FP_E_BADREQ for a bad name (reason in 'st').
 */
int core_profile_create(struct fp_ctx *, const struct tenant *t,
    const char *name, struct profile_rec *out, struct fp_status *st);

#endif
