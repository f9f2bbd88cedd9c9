/*
 * store_registry: typed store access to the security-services registry
 * (sql/010): device profiles, devices, the allow and deny lists,
 * desired properties.  Tags and the reports are in store_tags.h, the
 * device protocol's writes in store_device.h.
 */
#ifndef FLEETPKI_STORE_REGISTRY_H
#define FLEETPKI_STORE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
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

/* Rows per page of every registry list (the spec's PageSize). */
#define REG_PAGE_SIZE 100
#define ROT_LEN 16
#define REG_TIME_MAX 32 /* "2020-03-02T07:40:19Z" */

/*
 * A list of names a request gives (ROTs, tags, serials, IMEIs), bound as
 * one text[]: { NULL, 0 } names nothing.  Elements may hold any bytes
 * but NUL: each is quoted into the array literal.
 */
struct reg_names {
	const char *const *v;
	size_t n;
};

/* ---- profiles ---------------------------------------------------- */

struct profile_row {
	char uid[PROFILE_UID_MAX + 1];
	char name[PROFILE_NAME_MAX + 1];
	char created_at[REG_TIME_MAX];
	char *tags_json; /* JSON array of tag names */
	char *bootstrap_json; /* JSON object, "{}" when never set */
};
void profile_rows_free(struct profile_row *, size_t n);

/*
 * The profiles of 'tenant' named 'name' (NULL: any) with any of 'tags'
 * (n 0: any), by id, 100 from 'offset'; '*total' counts them all.
 */
int store_profile_page(struct db *, int64_t tenant, const char *name,
    const struct reg_names *tags, int64_t offset, struct profile_row **out,
    size_t *n, int64_t *total);
/* The profile's id, or -FP_E_NOTFOUND. */
int store_profile_id(struct db *, int64_t tenant, const char *uid, int64_t *id);
/*
 * Bootstrap provisioning of profile 'uid': merge 'props' (a JSON object)
 * in, read it, or set it NULL; '*json' (malloc'd) is what it is after.
 * -FP_E_NOTFOUND when the tenant has no such profile.
 */
int store_profile_bootstrap_set(struct db *, int64_t tenant, const char *uid,
    const char *props, char **json);
int store_profile_bootstrap_get(struct db *, int64_t tenant, const char *uid,
    char **json);
int store_profile_bootstrap_delete(struct db *, int64_t tenant,
    const char *uid);

/* ---- device lists ------------------------------------------------ */

/* The per-tenant counters of sql/013 (zeros for a tenant with none). */
struct device_counts {
	int64_t devices;
	int64_t allowlisted;
	int64_t allowed; /* WHITELISTED devices */
};
int store_device_counts(struct db *, int64_t tenant, struct device_counts *);
/* The number of blocked devices (over the blocked set's own index). */
int store_device_count_blocked(struct db *, int64_t tenant, int64_t *n);

enum reg_filter { REG_ALL, REG_WHITELISTED, REG_BLACKLISTED };

/* One row of a list: a ROT and its paging key (list_pos, or id). */
struct rot_row {
	char rot[ROT_LEN + 1];
	int64_t key;
};

/*
 * 100 devices of 'filter' with a list position after 'after', skipping
 * 'offset' of them.  ALL is one index range whatever 'after' is (the
 * positions are dense: page N is after = (N-1)*100, offset 0).
 */
int store_device_page(struct db *, int64_t tenant, enum reg_filter filter,
    int64_t after, int64_t offset, struct rot_row **out, size_t *n);

/*
 * The devices of profile 'profile_id' (0: the unattributed ones) or of
 * any of 'tags' (when tags->n > 0), by id after 'after', skipping
 * 'offset'; '*total' counts them all.
 */
int store_device_page_by(struct db *, int64_t tenant, int64_t profile_id,
    const struct reg_names *tags, int64_t after, int64_t offset,
    struct rot_row **out, size_t *n, int64_t *total);

struct device_info_row {
	char rot[ROT_LEN + 1];
	char serial[17];
	char imei[17];
	char profile_uid[PROFILE_UID_MAX + 1]; /* "" unattributed */
	char state[16];
	bool blocked;
	char sealed_at[REG_TIME_MAX];
	char bootstrapped_at[REG_TIME_MAX]; /* "" when never */
	char last_seen[REG_TIME_MAX];
	char *firmware; /* NULL when never reported */
	char *desired_json;
	char *current_json;
};
void device_info_rows_free(struct device_info_row *, size_t n);

/*
 * The devices named by 'rots', 'tags' or 'serials', in list order, at
 * most 'limit'.
 */
int store_device_info(struct db *, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, const struct reg_names *serials,
    int64_t limit, struct device_info_row **out, size_t *n);

/* ---- the allow list ---------------------------------------------- */

/*
 * Add (or delete) ROT and IMEI entries, validated by the caller (upper
 * hex, digits); '*changed' counts the entries added (or deleted).
 */
int store_allowlist_change(struct db *, int64_t tenant, bool add,
    const struct reg_names *rots, const struct reg_names *imeis,
    int64_t *changed);

/* One validated row of a CSV upload. */
struct allow_csv_row {
	long line;
	bool rot; /* ROTPublicUID, else IMEI */
	bool add;
	const char *value;
};

/*
 * Apply 'rows' in one transaction: COPY into a temporary table, then one
 * merge (the last row of an Id wins).  '*added' and '*deleted' count the
 * entries that changed.
 */
int store_allowlist_copy(struct db *, int64_t tenant,
    const struct allow_csv_row *rows, size_t n, int64_t *added,
    int64_t *deleted);

struct allow_row {
	char kind[16];
	char value[ROT_LEN + 1];
	char added_at[REG_TIME_MAX];
	int64_t seq;
};
int store_allowlist_page(struct db *, int64_t tenant, int64_t after,
    int64_t offset, struct allow_row **out, size_t *n);

/* ---- desired properties ------------------------------------------ */

/*
 * Merge 'props' (a JSON object) into the desired properties of every
 * bootstrapped device named by 'rots' or 'tags', one statement, each a
 * new command seq; '*n' counts them.
 */
int store_desired_set(struct db *, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, const char *props, int64_t *n);

struct desired_row {
	char rot[ROT_LEN + 1];
	char *props_json;
};
void desired_rows_free(struct desired_row *, size_t n);
int store_desired_get(struct db *, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, int64_t limit, struct desired_row **out,
    size_t *n);
int store_desired_delete(struct db *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int64_t *n);

#endif
