/*
 * store_tags: typed store access to tags (tags, device_tags,
 * profile_tags of sql/010) and the read-only history reports of the
 * security-services dialect (events, device_activity, device_usage,
 * device_clone_events, device_prod_log).  Every function names its
 * tenant; the walls of sql/005 hold behind them.
 */
#ifndef FLEETPKI_STORE_TAGS_H
#define FLEETPKI_STORE_TAGS_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* A tag name: 255 characters of UTF-8, up to 4 bytes each. */
#define TAG_NAME_CHARS 255
#define TAG_NAME_BYTES (4 * TAG_NAME_CHARS)
/* A ROTPublicUID: 16 hex digits, stored upper-case. */
#define TAG_ROT_LEN 16
/* Rows of one page of every list of this area (the spec's PageSize). */
#define TAGS_PAGE_SIZE 100

/*
 * Where a page starts: 'offset' rows after the keyset position
 * (k1, k2) (exclusive).  A page reached by PageNumber alone has the
 * range's lower bound as key and (page - 1) * size as offset; one
 * reached by a NextPageToken has offset 0 and the token's key, so it
 * costs what the first page does however deep it is.
 */
struct page_pos {
	int64_t page; /* 1-based, as answered */
	int64_t offset;
	int64_t k1;
	int64_t k2;
};

/* ---- tags -------------------------------------------------------- */

struct tag_rec {
	int64_t id;
	char name[TAG_NAME_BYTES + 1];
	int64_t created_at; /* Unix seconds */
};

/*
 * Insert tag 'name' of 'tenant_id' into 'out' (id, name, created_at).
 * -FP_E_CONFLICT when the tenant has a tag of that name in any case.
 */
int store_tag_insert(struct db *, int64_t tenant_id, const char *name,
    struct tag_rec *out);

enum tag_delete_result {
	TAG_DELETED,
	TAG_NOT_FOUND,
	TAG_ASSIGNED, /* to a device or a profile: nothing deleted */
};

/* Delete tag 'name' (any case) unless it is assigned: one statement. */
int store_tag_delete(struct db *, int64_t tenant_id, const char *name,
    enum tag_delete_result *res);

/* The tenant's tags in creation order: one page and the total count. */
int store_tag_page(struct db *, int64_t tenant_id, const struct page_pos *pos,
    struct tag_rec **out, size_t *n, int64_t *total);

/* Targets of an assignment: devices by ROT, or profiles by UID. */
enum tag_target { TAG_TARGET_DEVICES, TAG_TARGET_PROFILES };

/*
 * What an assignment or a removal found: of the distinct tags (names
 * compared case-insensitively) and targets named, how many exist in
 * the tenant.  The rows change only when every one named exists
 * (all or nothing); 'changed' counts the rows inserted or deleted.
 */
struct tag_change {
	int64_t tags_given;
	int64_t tags_found;
	int64_t targets_given;
	int64_t targets_found;
	int64_t changed;
};

/*
 * Assign every tag of 'tags' to every target of 'targets' (upper-case
 * ROTs, or profile UIDs) in one statement; existing pairs are kept.
 */
int store_tag_assign(struct db *, int64_t tenant_id, enum tag_target kind,
    const char *const *tags, size_t ntags, const char *const *targets,
    size_t ntargets, struct tag_change *out);

/*
 * Remove every tag of 'tags' from every target of 'targets' in one
 * statement; a NULL 'tags' is every tag of the targets ({*}), a NULL
 * 'targets' every target of the tags ({*}); not both.
 */
int store_tag_remove(struct db *, int64_t tenant_id, enum tag_target kind,
    const char *const *tags, size_t ntags, const char *const *targets,
    size_t ntargets, struct tag_change *out);

/* ---- reports ----------------------------------------------------- */

/*
 * The devices a report is about, resolved by fleetpki_device_set: by
 * ROT (upper-case), by tag, or by profile UID ("UNATTRIBUTED DEVICE
 * PROFILE": the devices sealed without one).  NULL arrays name nothing;
 * 'all' (usage only) names every device of the tenant.
 */
struct device_filter {
	const char *const *rots;
	size_t nrots;
	const char *const *tags;
	size_t ntags;
	const char *profile;
	int all;
};

/* A closed time range, Unix microseconds. */
struct time_range {
	int64_t from_us;
	int64_t to_us;
};

/*
 * The records of a page carry 'total', the selection's row count (the
 * same in each): count and page are one statement.
 */
struct event_rec {
	int64_t total;
	int64_t id;
	int64_t at_us;
	char rot[TAG_ROT_LEN + 1];
	char type[65];
	char *payload; /* a JSON object's text */
};
void event_rec_clear(struct event_rec *);

/* Notifications of the filter's devices in the range ('type' NULL: all). */
int store_event_page(struct db *, int64_t tenant_id,
    const struct device_filter *f, const struct time_range *r, const char *type,
    const struct page_pos *pos, struct event_rec **out, size_t *n,
    int64_t *total);

struct device_seen {
	int64_t id;
	int64_t last_seen; /* Unix seconds, 0: never */
};

/* -FP_E_NOTFOUND when the tenant has no device 'rot' (upper-case). */
int store_device_seen(struct db *, int64_t tenant_id, const char *rot,
    struct device_seen *out);

struct activity_rec {
	int64_t id;
	int64_t at_us;
	char *command_id;
	char *command;
	char status[16];
	char *detail; /* a JSON object's text */
};
void activity_rec_clear(struct activity_rec *);

int store_activity_page(struct db *, int64_t tenant_id, int64_t device_id,
    const struct time_range *r, const struct page_pos *pos,
    struct activity_rec **out, size_t *n, int64_t *total);

struct usage_rec {
	int64_t device_id;
	char rot[TAG_ROT_LEN + 1];
	char event[65];
	int64_t count;
};

/*
 * Usage summed per device and event over days [from_day, to_day]
 * (days since 1970-01-01), for at most 'max_devices' devices with any
 * usage in the range, in device order after device 'after' (0: from
 * the first).  Rows come ordered by device, then event.
 */
int store_usage_sum(struct db *, int64_t tenant_id,
    const struct device_filter *f, int64_t from_day, int64_t to_day,
    int64_t after, size_t max_devices, struct usage_rec **out, size_t *n);

struct clone_rec {
	int64_t total;
	int64_t id;
	int64_t at_us;
	char rot[TAG_ROT_LEN + 1];
	char reason[65];
	int64_t counter;
	int64_t last_counter;
	char *peer; /* NULL when unknown */
};
void clone_rec_clear(struct clone_rec *);

int store_clone_page(struct db *, int64_t tenant_id,
    const struct device_filter *f, const struct time_range *r,
    const struct page_pos *pos, struct clone_rec **out, size_t *n,
    int64_t *total);

/* The suspicious-device reasons, in the order a device's are listed. */
enum suspicious_reason {
	SUSPICIOUS_DEV_SERIAL_SEALING = 1,
	SUSPICIOUS_SCL_SERIAL_SEALED = 2,
	SUSPICIOUS_DEV_SERIAL_PROD_LOG = 3,
	SUSPICIOUS_SCL_SERIAL_PROD_LOG = 4,
};

struct suspicious_rec {
	int64_t total;
	int64_t device_id;
	int reason; /* enum suspicious_reason */
	char rot[TAG_ROT_LEN + 1];
	char serial[17];
	char *scl_serial; /* NULL when none */
	char *value; /* the duplicated serial */
	int64_t others; /* how many other ROTs share it */
};
void suspicious_rec_clear(struct suspicious_rec *);

/* Keyset: (device_id, reason) after (pos->k1, pos->k2). */
int store_suspicious_page(struct db *, int64_t tenant_id,
    const struct device_filter *f, const struct page_pos *pos,
    struct suspicious_rec **out, size_t *n, int64_t *total);

/*
 * 'v' as one text[] literal ("{\"a\",\"b\"}", every element quoted,
 * '"' and '\\' escaped) for "= ANY ($n::text[])": src/store only.
 */
struct buf;
void store_tags_text_array(struct buf *, const char *const *v, size_t n);

/* Free an array of 'n' records from a *_page function. */
void store_rec_array_free(void *recs, size_t n, size_t size,
    void (*clear)(void *));

#endif
