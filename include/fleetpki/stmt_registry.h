/*
 * stmt_registry: the statements of profiles, devices, the allow and deny lists, provisioning (store/registry.c), as
 * X(NAME, SQL) rows of the one statement table (statements.h).
 */
#ifndef FLEETPKI_STMT_REGISTRY_H
#define FLEETPKI_STMT_REGISTRY_H

#define FOREACH_STMT_REGISTRY(X)                                               \
	/* registry.c: profiles */                                             \
	X(PROFILE_INSERT,                                                      \
	    "INSERT INTO device_profiles (tenant_id, uid, name) "              \
	    "VALUES ($1, $2, $3) RETURNING id, " SQL_EPOCH("created_at"))

#endif
