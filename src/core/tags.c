/*
 * core/tags: tags of the security-services dialect (sql/010: tags,
 * device_tags, profile_tags).  Names are the spec's: 255 characters at
 * most, none of ^ ` ~ < > " { } | \ , and compared case-insensitively
 * (tags.name_key).  Assignment and removal are one statement each for
 * a whole request, and all or nothing.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "fleetpki/arena.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/store_tags.h"

/* The characters the spec forbids in a tag name. */
static const char tag_forbidden[] = "^`~<>\"{}|\\,";

/*
 * The length in bytes (1-4) of the UTF-8 sequence at 's', or 0 when it
 * is not a valid, shortest-form sequence of a scalar value.
 */
static size_t
utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (s[0] == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (s[0] == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (s[0] == 0xf4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

int
core_tag_name_check(const char *name, struct fp_status *st)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t chars = 0, len;

	if (name == NULL || *name == '\0')
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. TagName must not be empty");
	while (*s != '\0') {
		if ((len = utf8_seq(s)) == 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. TagName is not valid UTF-8");
		if (len == 1) {
			if (*s < 0x20 || *s == 0x7f)
				return fp_fail(st, FP_E_BADREQ,
				    "Bad Request. TagName must not contain "
				    "control characters");
			if (strchr(tag_forbidden, *s) != NULL)
				return fp_fail(st, FP_E_BADREQ,
				    "Bad Request. TagName must not contain "
				    "'%c' (not allowed: ^ ` ~ < > \" { } | "
				    "\\ ,)",
				    *s);
		} else if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
			/* C1 controls: [:cntrl:] of the table's check */
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. TagName must not contain control "
			    "characters");
		}
		s += len;
		if (++chars > TAG_NAME_CHARS)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. TagName can only be %d characters "
			    "long",
			    TAG_NAME_CHARS);
	}
	return 0;
}

int
core_tag_create(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    struct tag_rec *out, struct fp_status *st)
{
	int rc;

	if ((rc = core_tag_name_check(name, st)) != 0)
		return rc;
	rc = store_tag_insert(ctx->db, t->id, name, out);
	if (rc == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. TagName already exists (tag names are "
		    "case-insensitive)");
	if (rc == -FP_E_BADREQ) /* the table's own check: never, but safe */
		return fp_fail(st, FP_E_BADREQ, "Bad Request. Invalid TagName");
	return rc;
}

int
core_tag_delete(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    struct fp_status *st)
{
	enum tag_delete_result res;
	int rc;

	/* A name that breaks the rules names no tag. */
	if (core_tag_name_check(name, NULL) != 0)
		return fp_fail(st, FP_E_BADREQ, "Bad Request. Invalid TagName");
	if ((rc = store_tag_delete(ctx->db, t->id, name, &res)) != 0)
		return rc;
	switch (res) {
	case TAG_DELETED:
		return 0;
	case TAG_NOT_FOUND:
		return fp_fail(st, FP_E_BADREQ, "Bad Request. Invalid TagName");
	case TAG_ASSIGNED:
		break;
	}
	return fp_fail(st, FP_E_BADREQ,
	    "Request aborted. This tag is currently assigned to "
	    "ROTPublicUID(s)");
}

static int
is_wildcard(const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], TAGS_WILDCARD) == 0)
			return 1;
	return 0;
}

/* TagNames: present, and (but for a lone {*}) names that could exist. */
static int
check_tag_names(const struct tag_request *rq, int wildcard_ok, int *all,
    struct fp_status *st)
{
	size_t i;

	*all = 0;
	if (rq->ntags == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. TagNames is required");
	if (is_wildcard(rq->tags, rq->ntags)) {
		if (!wildcard_ok || rq->ntags != 1)
			return fp_fail(st, FP_E_BADREQ,
			    wildcard_ok ? "Bad Request. {*} must be the only "
			                  "element of TagNames"
			                : "Bad Request. Invalid TagNames");
		*all = 1;
		return 0;
	}
	for (i = 0; i < rq->ntags; i++)
		if (core_tag_name_check(rq->tags[i], NULL) != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Invalid TagNames");
	return 0;
}

/*
 * The targets: exactly one of ROTPublicUIDs and DeviceProfileUIDs;
 * ROTs checked and upper-cased.
 */
static int
check_targets(struct arena *a, const struct tag_request *rq, int wildcard_ok,
    enum tag_target *kind, const char *const **targets, size_t *n, int *all,
    struct fp_status *st)
{
	const char **up;
	const char *field;
	size_t i;
	int rc;

	*all = 0;
	if (rq->nrots > 0 && rq->nprofiles > 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Give either ROTPublicUIDs or "
		    "DeviceProfileUIDs, not both");
	if (rq->nrots == 0 && rq->nprofiles == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. ROTPublicUIDs or DeviceProfileUIDs is "
		    "required");
	*kind = rq->nrots > 0 ? TAG_TARGET_DEVICES : TAG_TARGET_PROFILES;
	field = rq->nrots > 0 ? "ROTPublicUIDs" : "DeviceProfileUIDs";
	*targets = rq->nrots > 0 ? rq->rots : rq->profiles;
	*n = rq->nrots > 0 ? rq->nrots : rq->nprofiles;
	if (is_wildcard(*targets, *n)) {
		if (!wildcard_ok || *n != 1)
			return fp_fail(st, FP_E_BADREQ,
			    wildcard_ok ? "Bad Request. {*} must be the only "
			                  "element of %s"
			                : "Bad Request. Invalid %s",
			    field);
		*all = 1;
		return 0;
	}
	if (*kind == TAG_TARGET_DEVICES) {
		if ((rc = core_rots_upper(a, field, *targets, *n, &up, st)) !=
		    0)
			return rc;
		*targets = up;
		return 0;
	}
	/* Profile UIDs are [A-Za-z0-9_-]: anything else names none. */
	for (i = 0; i < *n; i++)
		if ((*targets)[i][0] == '\0' ||
		    strspn((*targets)[i],
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		        "0123456789_-") != strlen((*targets)[i]))
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Invalid DeviceProfileUIDs");
	return 0;
}

/* The store's counts into the spec's messages: tags first. */
static int
change_result(const struct tag_change *c, enum tag_target kind,
    struct fp_status *st)
{
	if (c->tags_found != c->tags_given)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid TagNames");
	if (c->targets_found != c->targets_given)
		return fp_fail(st, FP_E_BADREQ, "Bad Request. Invalid %s",
		    kind == TAG_TARGET_DEVICES ? "ROTPublicUIDs"
		                               : "DeviceProfileUIDs");
	return 0;
}

int
core_tag_assign(struct fp_ctx *ctx, struct arena *a, const struct tenant *t,
    const struct tag_request *rq, struct tag_change *out, struct fp_status *st)
{
	const char *const *targets;
	enum tag_target kind;
	size_t n;
	int rc, all;

	memset(out, 0, sizeof(*out));
	if ((rc = check_tag_names(rq, 0, &all, st)) != 0 ||
	    (rc = check_targets(a, rq, 0, &kind, &targets, &n, &all, st)) != 0)
		return rc;
	if ((uint64_t)rq->ntags * n > TAGS_MAX_PAIRS)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. TagNames x %s is more than %d assignments",
		    kind == TAG_TARGET_DEVICES ? "ROTPublicUIDs"
		                               : "DeviceProfileUIDs",
		    TAGS_MAX_PAIRS);
	if ((rc = store_tag_assign(ctx->db, t->id, kind, rq->tags, rq->ntags,
	         targets, n, out)) != 0)
		return rc;
	return change_result(out, kind, st);
}

int
core_tag_remove(struct fp_ctx *ctx, struct arena *a, const struct tenant *t,
    const struct tag_request *rq, struct tag_change *out, struct fp_status *st)
{
	const char *const *targets;
	enum tag_target kind;
	size_t n;
	int rc, all_tags, all_targets;

	memset(out, 0, sizeof(*out));
	if ((rc = check_tag_names(rq, 1, &all_tags, st)) != 0 ||
	    (rc = check_targets(a, rq, 1, &kind, &targets, &n, &all_targets,
	         st)) != 0)
		return rc;
	if (all_tags && all_targets)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. TagNames and %s cannot both be {*}",
		    kind == TAG_TARGET_DEVICES ? "ROTPublicUIDs"
		                               : "DeviceProfileUIDs");
	if ((rc = store_tag_remove(ctx->db, t->id, kind,
	         all_tags ? NULL : rq->tags, all_tags ? 0 : rq->ntags,
	         all_targets ? NULL : targets, all_targets ? 0 : n, out)) != 0)
		return rc;
	return change_result(out, kind, st);
}
