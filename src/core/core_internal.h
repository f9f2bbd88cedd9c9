/*
 * Shared between the core's own files; not for dialects.
 */
#ifndef FLEETPKI_CORE_INTERNAL_H
#define FLEETPKI_CORE_INTERNAL_H

#include "fleetpki/core.h"
#include "fleetpki/pki.h"

/* The signing material of a cached CA (borrowed). */
const struct pki_ca *core_ca_pki(const struct core_ca *);

#endif
