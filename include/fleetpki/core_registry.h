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

struct arena;

/* The spec's DeviceProfileUID of devices sealed without a profile. */
#define REG_UNATTRIBUTED "UNATTRIBUTED DEVICE PROFILE"
/* Most devices /device/info/get and /device/provisioning/get answer. */
#define REG_ANSWER_MAX 1000
/* Most rows a CSV upload of the allow list takes. */
#define REG_CSV_ROWS_MAX 200000
/* Most rows of a CSV upload's error report listed (all are counted). */
#define REG_CSV_ERRORS_MAX 1000

/*
 * Where a page starts: from PageNumber (1 when 0), or after the key of
 * a NextPageToken (a previous answer's; it wins over PageNumber).
 * -FP_E_BADREQ for a token that is not one.
 */
struct reg_page {
	int64_t number;
	int64_t after; /* the key the page starts after (token) */
	int have_token;
};
int core_reg_page(const char *token, int64_t number, struct reg_page *out,
    struct fp_status *st);
/* The token that continues after 'key' (into 'out'). */
void core_reg_token(int64_t key, char *out, size_t outlen);

/*
 * ROTPublicUIDs as given (16 hex digits, either case) into upper-case
 * copies in 'a'; IMEIs (1-16 digits) checked.  -FP_E_BADREQ "Bad
 * Request. Invalid ROTPublicUIDs: ..." naming (the first few of) them.
 */
int core_rots_check(struct arena *a, const struct reg_names *in,
    struct reg_names *out, struct fp_status *st);
int core_imeis_check(const struct reg_names *in, struct fp_status *st);

int core_profile_list(struct fp_ctx *, int64_t tenant, const char *name,
    const struct reg_names *tags, const struct reg_page *pg,
    struct profile_row **out, size_t *n, int64_t *total, struct fp_status *st);

enum reg_op { REG_SET, REG_GET, REG_DELETE };
/*
 * Bootstrap provisioning of a profile: merge 'props' (SET), read, or
 * delete; '*json' is the profile's bootstrap provisioning after (a JSON
 * object, malloc'd).  -FP_E_NOTFOUND naming the DeviceProfileUID when
 * the tenant has no such profile.
 */
int core_profile_bootstrap(struct fp_ctx *, int64_t tenant, enum reg_op op,
    const char *uid, const char *props, char **json, struct fp_status *st);

int core_device_list(struct fp_ctx *, int64_t tenant, enum reg_filter filter,
    const struct reg_page *pg, struct rot_row **out, size_t *n, int64_t *total,
    struct fp_status *st);
/* By profile UID (REG_UNATTRIBUTED: none) or by tags. */
int core_device_rots(struct fp_ctx *, int64_t tenant, const char *profile_uid,
    const struct reg_names *tags, const struct reg_page *pg,
    struct rot_row **out, size_t *n, int64_t *total, struct fp_status *st);
int core_device_info(struct fp_ctx *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    const struct reg_names *serials, struct device_info_row **out, size_t *n,
    struct fp_status *st);

/* 'rots' already checked (core_rots_check), 'imeis' too. */
int core_allowlist_change(struct fp_ctx *, int64_t tenant, bool add,
    const struct reg_names *rots, const struct reg_names *imeis,
    int64_t *changed, struct fp_status *st);
int core_allowlist_page(struct fp_ctx *, int64_t tenant,
    const struct reg_page *pg, struct allow_row **out, size_t *n,
    int64_t *total, struct fp_status *st);

/* One rejected row of a CSV upload. */
struct csv_error {
	long line; /* 1 is the header */
	const char *value; /* the row's Id (arena) */
	const char *reason;
};
struct csv_report {
	long rows; /* data rows read (blank lines not counted) */
	long accepted; /* rows applied */
	long rejected;
	int64_t added, deleted; /* entries that changed */
	struct csv_error *errors; /* the first REG_CSV_ERRORS_MAX (arena) */
	size_t nerrors;
};
/*
 * The CSV upload: header "Id,Type,Action", rows "<Id>,<ROTPublicUID|
 * IMEI>,<ADD|DELETE>", LF or CRLF, blank lines skipped.  Bad rows are
 * reported and left out; the good ones are applied, all in one
 * transaction.  A bad header (or no row at all, or too many) refuses
 * the whole file (-FP_E_BADREQ), nothing changed.
 */
int core_allowlist_csv(struct fp_ctx *, struct arena *, int64_t tenant,
    const char *body, size_t len, struct csv_report *rep, struct fp_status *st);

int core_desired_set(struct fp_ctx *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    const char *props, int64_t *n, struct fp_status *st);
int core_desired_get(struct fp_ctx *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    struct desired_row **out, size_t *n, struct fp_status *st);
int core_desired_delete(struct fp_ctx *, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int64_t *n,
    struct fp_status *st);

#endif
