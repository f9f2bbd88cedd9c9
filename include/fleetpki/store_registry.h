/*
 * store_registry: typed store access to the security-services registry
 * (sql/010): device profiles, devices, the allow and deny lists,
 * desired properties.  Tags and the reports are in store_tags.h, the
 * device protocol's writes in store_device.h.
 */
#ifndef FLEETPKI_STORE_REGISTRY_H
#define FLEETPKI_STORE_REGISTRY_H

#include <stdint.h>

struct db;

/* A DeviceProfileUID: base64url of 16 random bytes, 22 characters. */
#define PROFILE_UID_LEN 22
#define PROFILE_UID_MAX 64
#define PROFILE_NAME_MAX 255

struct profile_rec {
	int64_t id;
	int64_t tenant_id;
	char uid[PROFILE_UID_MAX + 1];
	char name[PROFILE_NAME_MAX + 1];
	int64_t created_at; /* Unix seconds */
};

/*
 * Insert profile 'p' (tenant_id, uid, name); its id and created_at are
 * filled in.  -FP_E_CONFLICT when the tenant has a profile of that name
 * or the uid is taken.
 */
int store_profile_insert(struct db *, struct profile_rec *p);

#endif
