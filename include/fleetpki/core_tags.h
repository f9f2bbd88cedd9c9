/*
 * core_tags: tags and the history reports of the security-services
 * dialect (src/api/secsvc_tags.c, src/api/secsvc_reports.c): the
 * tag-name rules, assignment and removal, and the report queries with
 * their date and paging rules.  Reasons are written in the spec's
 * style ("Bad Request. Invalid ROTPublicUIDs") for the dialect to show.
 */
#ifndef FLEETPKI_CORE_TAGS_H
#define FLEETPKI_CORE_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "fleetpki/core.h"
#include "fleetpki/store_tags.h"

struct arena;

/* Limits of one request (documented in docs/README-tags.md). */
#define TAGS_MAX_TAGNAMES 100 /* TagNames of any route */
#define TAGS_MAX_ROTS 100000 /* ROTPublicUIDs of /tag/assign|remove */
#define TAGS_MAX_PROFILES 1000 /* DeviceProfileUIDs of /tag/assign|remove */
#define TAGS_MAX_PAIRS 1000000 /* tags x targets of one assignment */
#define REPORT_MAX_ROTS 10000 /* ROTPublicUIDs of a report */
#define REPORT_MAX_PAGE 10000000 /* PageNumber */
#define USAGE_MAX_DEVICES 1000 /* devices in one /device/usage/get answer */
#define NOTIFY_MAX_DAYS 180 /* /notification/get: FromDate back */
#define USAGE_MAX_DAYS 60 /* /device/usage/get: FromDate back */
#define TAGS_WILDCARD "{*}"
#define UNATTRIBUTED_PROFILE "UNATTRIBUTED DEVICE PROFILE"

/*
 * The spec's tag-name rules, without the store: 1 to 255 characters
 * (UTF-8, counted as characters), valid UTF-8, none of ^ ` ~ < > " { }
 * | \ , and no control characters.  0, or -FP_E_BADREQ with a reason
 * naming the rule broken.
 */
int core_tag_name_check(const char *name, struct fp_status *st);

/*
 * Strict ISO 8601 date-time, "YYYY-MM-DDTHH:MM:SS[.fraction]" then "Z"
 * or an offset "+HH:MM" / "-HH:MM" (or "+HHMM"), years 1970-9999, into
 * Unix microseconds.  -1 for anything else (the caller names the field).
 */
int core_iso8601_parse(const char *s, int64_t *us);
/* Strict "YYYY-MM-DD" into days since 1970-01-01; -1 when invalid. */
int core_day_parse(const char *s, int64_t *day);
/* Unix seconds as "2020-03-02T07:40:19Z" into 'out' (21 bytes at least). */
void core_iso8601_format(int64_t secs, char *out, size_t outlen);
/* The time now, Unix microseconds. */
int64_t core_now_us(void);

/*
 * Paging: PageNumber (0: not given, means 1) and NextPageToken (NULL:
 * not given) into a position; 'lo1', 'lo2' is the keyset lower bound
 * a first page starts after.  A token is "<page>.<k1>.<k2>", as
 * core_page_token makes it; a bad one, or one whose page differs from a
 * PageNumber also given, is -FP_E_BADREQ.
 */
int core_page_pos(int64_t page_number, const char *token, int64_t lo1,
    int64_t lo2, struct page_pos *pos, struct fp_status *st);
/* The token of the page after 'pos' whose last row has key (k1, k2). */
char *core_page_token(struct arena *, const struct page_pos *pos, int64_t k1,
    int64_t k2);

/*
 * ROTPublicUIDs as the spec writes them (16 hex digits, either case)
 * into upper-case copies from 'a'; -FP_E_BADREQ "Bad Request. Invalid
 * <field>" when one is not.
 */
int core_rots_upper(struct arena *, const char *field, const char *const *in,
    size_t n, const char ***out, struct fp_status *st);

/* ---- tags -------------------------------------------------------- */

/*
 * Create tag 'name': the rules above, then unique in the tenant in any
 * case (-FP_E_BADREQ "Bad Request. TagName already exists").
 */
int core_tag_create(struct fp_ctx *, const struct tenant *, const char *name,
    struct tag_rec *out, struct fp_status *st);
/*
 * Delete tag 'name' (any case): -FP_E_BADREQ "Bad Request. Invalid
 * TagName" when there is none, the spec's "Request aborted. This tag
 * is currently assigned to ROTPublicUID(s)" while it is assigned to a
 * device or a profile.
 */
int core_tag_delete(struct fp_ctx *, const struct tenant *, const char *name,
    struct fp_status *st);

struct tag_request {
	const char *const *tags;
	size_t ntags;
	const char *const *rots;
	size_t nrots;
	const char *const *profiles;
	size_t nprofiles;
};

/*
 * /tag/assign and /tag/remove: TagNames with exactly one of
 * ROTPublicUIDs and DeviceProfileUIDs; every tag to (from) every one
 * of them, all or nothing: a tag, ROT or profile the tenant does not
 * have is -FP_E_BADREQ "Bad Request. Invalid <field>" and nothing
 * changes.  Removal takes {*} alone in TagNames (every tag of the
 * targets) or in the targets (every target of the tags), not both.
 */
int core_tag_assign(struct fp_ctx *, struct arena *, const struct tenant *,
    const struct tag_request *, struct tag_change *out, struct fp_status *st);
int core_tag_remove(struct fp_ctx *, struct arena *, const struct tenant *,
    const struct tag_request *, struct tag_change *out, struct fp_status *st);

/* ---- reports ----------------------------------------------------- */

/* A report's device selectors as the request gave them. */
struct report_devices {
	const char *const *rots;
	size_t nrots;
	const char *const *tags;
	size_t ntags;
	const char *profile; /* NULL: not given */
};

/* Which selectors a report takes, and whether one is required. */
enum report_sel {
	SEL_ROTS = 1,
	SEL_TAGS = 2,
	SEL_PROFILE = 4,
};

/*
 * Check the selectors against the route's rule: at most one of those
 * in 'allowed' (the spec's conditionally required fields are
 * alternatives), exactly one when 'required'; then fill 'f'.
 */
int core_report_filter(struct arena *, const struct report_devices *,
    unsigned allowed, int required, struct device_filter *f,
    struct fp_status *st);

/*
 * FromDate (required) and ToDate (default now) as ISO 8601 into 'r':
 * -FP_E_BADREQ naming the field for a bad date, FromDate after ToDate,
 * or FromDate more than 'max_days' back (0: no limit).
 */
int core_report_range(const char *from, const char *to, int max_days,
    int64_t now_us, struct time_range *r, struct fp_status *st);
/* The same for the yyyy-mm-dd days of /device/usage/get. */
int core_report_days(const char *from, const char *to, int max_days,
    int64_t now_us, int64_t *from_day, int64_t *to_day, struct fp_status *st);

/* One of the spec's four notification types, or NULL. */
int core_notification_type_check(const char *type, struct fp_status *st);

/* The spec's name of a suspicious reason ("DUPLICATED_..."). */
const char *core_suspicious_reason(int reason);

#endif
