/*
 * core/registry: device profiles, devices, the allow and deny lists and
 * provisioning of the security-services dialect (sql/010).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "fleetpki/arena.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/core_registry.h"
#include "fleetpki/store_registry.h"
#include "fleetpki/util.h"

/* 16 random bytes, base64url: 22 characters of [A-Za-z0-9_-]. */
static int
profile_uid(char out[PROFILE_UID_LEN + 1])
{
	unsigned char raw[16];
	struct buf b = BUF_INIT;
	int rc = -FP_E_INTERNAL;

	if (RAND_bytes(raw, sizeof(raw)) == 1) {
		b64url_encode(raw, sizeof(raw), &b);
		if (b.len == PROFILE_UID_LEN) {
			memcpy(out, b.data, PROFILE_UID_LEN);
			out[PROFILE_UID_LEN] = '\0';
			rc = 0;
		}
	}
	buf_free(&b);
	return rc;
}

int
core_profile_create(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, struct profile_rec *out, struct fp_status *st)
{
	size_t i, len = strlen(name);
	int rc;

	if (len == 0 || len > PROFILE_NAME_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "a profile name has 1 to 255 characters");
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return fp_fail(st, FP_E_BADREQ,
			    "a profile name has no control characters");
	memset(out, 0, sizeof(*out));
	out->tenant_id = t->id;
	memcpy(out->name, name, len + 1);
	if ((rc = profile_uid(out->uid)) != 0)
		return rc;
	/* A UID collision (2^-128) reads as the name's: the tenant's one
	 * unique key the caller chose. */
	if ((rc = store_profile_insert(ctx->db, out)) == -FP_E_CONFLICT)
		return fp_fail(st, FP_E_CONFLICT,
		    "tenant '%s' has a profile named '%s'", t->name, name);
	return rc;
}

/* ---- paging ------------------------------------------------------ */

int
core_reg_page(const char *token, int64_t number, struct reg_page *pg,
    struct fp_status *st)
{
	long long v;

	memset(pg, 0, sizeof(*pg));
	pg->number = number > 0 ? number : 1;
	if (token == NULL)
		return 0;
	/* A token is the decimal key of the last row of the page before. */
	if (token[0] == '\0' || token[0] == '0' ||
	    strspn(token, "0123456789") != strlen(token) ||
	    util_parse_int(token, 1, INT64_MAX / 2, &v) != 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid NextPageToken.");
	pg->after = v;
	pg->have_token = 1;
	return 0;
}

void
core_reg_token(int64_t key, char *out, size_t outlen)
{
	snprintf(out, outlen, "%lld", (long long)key);
}

/* The page's rows after 'after', skipping 'offset' of them. */
static void
page_window(const struct reg_page *pg, int dense, int64_t *after,
    int64_t *offset)
{
	if (pg->have_token) {
		*after = pg->after;
		*offset = 0;
	} else if (dense) {
		*after = (pg->number - 1) * REG_PAGE_SIZE;
		*offset = 0;
	} else {
		*after = 0;
		*offset = (pg->number - 1) * REG_PAGE_SIZE;
	}
}

/* ---- names ------------------------------------------------------- */

/* Up to this many bad values are named in a reason. */
#define BAD_NAMED 5

static void
bad_list(struct buf *b, size_t nbad, const char *v)
{
	size_t i;

	if (nbad > BAD_NAMED)
		return;
	if (nbad == BAD_NAMED) {
		buf_puts(b, ", ...");
		return;
	}
	buf_puts(b, nbad > 0 ? ", " : ": ");
	/* At most 32 characters of each, printable ASCII only. */
	for (i = 0; v[i] != '\0' && i < 32; i++)
		buf_append(b,
		    (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f
		        ? &v[i]
		        : "?",
		    1);
}

static int
is_hex16(const char *s, size_t len)
{
	size_t i;

	if (len != ROT_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f') ||
		        (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static int
is_imei(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 16)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void
upper16(char *out, const char *in)
{
	size_t i;

	for (i = 0; i < ROT_LEN; i++)
		out[i] =
		    (in[i] >= 'a' && in[i] <= 'f') ? (char)(in[i] - 32) : in[i];
	out[ROT_LEN] = '\0';
}

int
core_rots_check(struct arena *a, const struct reg_names *in,
    struct reg_names *out, struct fp_status *st)
{
	struct buf bad = BUF_INIT;
	const char **v;
	size_t i, nbad = 0;
	int rc = 0;

	out->v = NULL;
	out->n = 0;
	if (in == NULL || in->n == 0)
		return 0;
	v = arena_alloc(a, in->n * sizeof(*v));
	for (i = 0; i < in->n; i++) {
		if (!is_hex16(in->v[i], strlen(in->v[i]))) {
			bad_list(&bad, nbad++, in->v[i]);
			continue;
		}
		char *r = arena_alloc(a, ROT_LEN + 1);
		upper16(r, in->v[i]);
		v[i] = r;
	}
	if (nbad > 0)
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid ROTPublicUIDs (16 hex digits)%s",
		    (const char *)bad.data);
	else {
		out->v = v;
		out->n = in->n;
	}
	buf_free(&bad);
	return rc;
}

int
core_imeis_check(const struct reg_names *in, struct fp_status *st)
{
	struct buf bad = BUF_INIT;
	size_t i, nbad = 0;
	int rc = 0;

	for (i = 0; in != NULL && i < in->n; i++)
		if (!is_imei(in->v[i], strlen(in->v[i])))
			bad_list(&bad, nbad++, in->v[i]);
	if (nbad > 0)
		rc = fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Invalid IMEIs (1 to 16 digits)%s",
		    (const char *)bad.data);
	buf_free(&bad);
	return rc;
}

/* ---- profiles ---------------------------------------------------- */

int
core_profile_list(struct fp_ctx *ctx, int64_t tenant, const char *name,
    const struct reg_names *tags, const struct reg_page *pg,
    struct profile_row **out, size_t *n, int64_t *total, struct fp_status *st)
{
	int64_t after, offset;

	/* A tenant has few profiles: OFFSET over them, by id. */
	page_window(pg, 0, &after, &offset);
	if (pg->have_token)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. /deviceprofile/get pages by PageNumber.");
	return store_profile_page(ctx->db, tenant, name, tags, offset, out, n,
	    total);
}

int
core_profile_bootstrap(struct fp_ctx *ctx, int64_t tenant, enum reg_op op,
    const char *uid, const char *props, char **json, struct fp_status *st)
{
	int rc;

	*json = NULL;
	switch (op) {
	case REG_SET:
		if (props == NULL || strcmp(props, "{}") == 0)
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. Provisioning needs at least one of "
			    "LocalDPR, LocalC2C, LocalC2CKeyPairing, ZTPV1, "
			    "SecurityHeartbeatInSec.");
		rc = store_profile_bootstrap_set(ctx->db, tenant, uid, props,
		    json);
		break;
	case REG_GET:
		rc = store_profile_bootstrap_get(ctx->db, tenant, uid, json);
		break;
	case REG_DELETE:
	default:
		rc = store_profile_bootstrap_delete(ctx->db, tenant, uid);
		break;
	}
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "No device profile with DeviceProfileUID '%.64s'.", uid);
	if (rc == 0 && *json == NULL && op != REG_DELETE)
		rc = -FP_E_INTERNAL;
	return rc;
}

/* ---- device lists ------------------------------------------------ */

int
core_device_list(struct fp_ctx *ctx, int64_t tenant, enum reg_filter filter,
    const struct reg_page *pg, struct rot_row **out, size_t *n, int64_t *total,
    struct fp_status *st)
{
	struct device_counts c;
	int64_t after, offset;
	int rc;

	(void)st;
	*out = NULL;
	*n = 0;
	/* ALL: dense positions (sql/013), page N is one index range. */
	page_window(pg, filter == REG_ALL, &after, &offset);
	if ((rc = store_device_counts(ctx->db, tenant, &c)) != 0)
		return rc;
	switch (filter) {
	case REG_ALL:
		*total = c.devices;
		break;
	case REG_BLACKLISTED:
		if ((rc = store_device_count_blocked(ctx->db, tenant, total)) !=
		    0)
			return rc;
		break;
	case REG_WHITELISTED:
		*total = c.allowed;
		break;
	}
	/* Past the end: nothing to read. */
	if (!pg->have_token && after + offset >= *total)
		return 0;
	return store_device_page(ctx->db, tenant, filter, after, offset, out,
	    n);
}

int
core_device_rots(struct fp_ctx *ctx, int64_t tenant, const char *profile_uid,
    const struct reg_names *tags, const struct reg_page *pg,
    struct rot_row **out, size_t *n, int64_t *total, struct fp_status *st)
{
	int64_t after, offset, profile_id = 0;
	int rc;

	*out = NULL;
	*n = 0;
	page_window(pg, 0, &after, &offset);
	if (profile_uid != NULL && strcmp(profile_uid, REG_UNATTRIBUTED) != 0) {
		rc =
		    store_profile_id(ctx->db, tenant, profile_uid, &profile_id);
		if (rc == -FP_E_NOTFOUND)
			return fp_fail(st, FP_E_NOTFOUND,
			    "No device profile with DeviceProfileUID "
			    "'%.64s'.",
			    profile_uid);
		if (rc != 0)
			return rc;
	}
	return store_device_page_by(ctx->db, tenant, profile_id,
	    profile_uid != NULL ? NULL : tags, after, offset, out, n, total);
}

int
core_device_info(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    const struct reg_names *serials, struct device_info_row **out, size_t *n,
    struct fp_status *st)
{
	int rc;

	rc = store_device_info(ctx->db, tenant, rots, tags, serials,
	    REG_ANSWER_MAX + 1, out, n);
	if (rc == 0 && *n > REG_ANSWER_MAX) {
		device_info_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. The request names more than %d devices; "
		    "name fewer, or list them with /device/rotpublicuid/get.",
		    REG_ANSWER_MAX);
	}
	return rc;
}

/* ---- the allow list ---------------------------------------------- */

int
core_allowlist_change(struct fp_ctx *ctx, int64_t tenant, bool add,
    const struct reg_names *rots, const struct reg_names *imeis,
    int64_t *changed, struct fp_status *st)
{
	(void)st;
	return store_allowlist_change(ctx->db, tenant, add, rots, imeis,
	    changed);
}

int
core_allowlist_page(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_page *pg, struct allow_row **out, size_t *n,
    int64_t *total, struct fp_status *st)
{
	struct device_counts c;
	int64_t after, offset;
	int rc;

	(void)st;
	*out = NULL;
	*n = 0;
	page_window(pg, 0, &after, &offset);
	if ((rc = store_device_counts(ctx->db, tenant, &c)) != 0)
		return rc;
	*total = c.allowlisted;
	if (!pg->have_token && offset >= *total)
		return 0;
	return store_allowlist_page(ctx->db, tenant, after, offset, out, n);
}

static const char csv_header[] = "Id,Type,Action";

/* The Id of a rejected row, printable, at most 64 bytes, for the report. */
static const char *
csv_value(struct arena *a, const char *s, size_t len)
{
	char *v;
	size_t i;

	if (len > 64)
		len = 64;
	v = arena_strndup(a, s, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			v[i] = '?';
	return v;
}

static void
csv_reject(struct arena *a, struct csv_report *rep, long line, const char *id,
    size_t idlen, const char *reason)
{
	rep->rejected++;
	if (rep->nerrors >= REG_CSV_ERRORS_MAX)
		return;
	rep->errors[rep->nerrors].line = line;
	rep->errors[rep->nerrors].value = csv_value(a, id, idlen);
	rep->errors[rep->nerrors].reason = reason;
	rep->nerrors++;
}

static int
field_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

int
core_allowlist_csv(struct fp_ctx *ctx, struct arena *a, int64_t tenant,
    const char *body, size_t len, struct csv_report *rep, struct fp_status *st)
{
	struct allow_csv_row *rows = NULL;
	const char *p = body, *end = body + len, *nl, *f[3];
	size_t flen[3], llen, nrows = 0, cap = 0, k;
	long line = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rep->errors = arena_alloc(a, REG_CSV_ERRORS_MAX * sizeof(*rep->errors));
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *l = p;
		p = nl != NULL ? nl + 1 : end;
		if (llen > 0 && l[llen - 1] == '\r')
			llen--;
		if (line == 1) {
			/* A UTF-8 byte order mark is not part of the header. */
			if (llen >= 3 && memcmp(l, "\xef\xbb\xbf", 3) == 0) {
				l += 3;
				llen -= 3;
			}
			if (!field_is(l, llen, csv_header))
				return fp_fail(st, FP_E_BADREQ,
				    "Bad Request. The first row must be the "
				    "header Id,Type,Action.");
			continue;
		}
		if (llen == 0)
			continue; /* blank lines (a trailing one) */
		rep->rows++;
		if (rep->rows > REG_CSV_ROWS_MAX) {
			free(rows);
			return fp_fail(st, FP_E_BADREQ,
			    "Bad Request. A CSV upload has at most %d rows.",
			    REG_CSV_ROWS_MAX);
		}
		/* Exactly three fields, no quoting (no field needs it). */
		for (k = 0; k < 3; k++) {
			const char *c = k == 0 ? l : f[k - 1] + flen[k - 1] + 1;
			size_t left = (size_t)(l + llen - c);
			const char *comma = memchr(c, ',', left);

			f[k] = c;
			flen[k] = comma != NULL ? (size_t)(comma - c) : left;
			if (k < 2 && comma == NULL)
				break;
		}
		if (k < 3 || f[2] + flen[2] != l + llen) {
			csv_reject(a, rep, line, f[0], flen[0],
			    "a row has three fields: Id,Type,Action");
			continue;
		}
		bool is_rot = field_is(f[1], flen[1], "ROTPublicUID");
		if (!is_rot && !field_is(f[1], flen[1], "IMEI")) {
			csv_reject(a, rep, line, f[0], flen[0],
			    "Type must be ROTPublicUID or IMEI");
			continue;
		}
		bool add = field_is(f[2], flen[2], "ADD");
		if (!add && !field_is(f[2], flen[2], "DELETE")) {
			csv_reject(a, rep, line, f[0], flen[0],
			    "Action must be ADD or DELETE");
			continue;
		}
		if (is_rot ? !is_hex16(f[0], flen[0])
		           : !is_imei(f[0], flen[0])) {
			csv_reject(a, rep, line, f[0], flen[0],
			    is_rot ? "a ROTPublicUID is 16 hex digits"
			           : "an IMEI is 1 to 16 digits");
			continue;
		}
		if (nrows == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			struct allow_csv_row *nr =
			    realloc(rows, cap * sizeof(*rows));
			if (nr == NULL) {
				free(rows);
				return -FP_E_INTERNAL;
			}
			rows = nr;
		}
		char *v = arena_alloc(a, flen[0] + 1);
		if (is_rot)
			upper16(v, f[0]);
		else {
			memcpy(v, f[0], flen[0]);
			v[flen[0]] = '\0';
		}
		rows[nrows].line = line;
		rows[nrows].rot = is_rot;
		rows[nrows].add = add;
		rows[nrows].value = v;
		nrows++;
	}
	if (line == 0) {
		free(rows);
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. The first row must be the header "
		    "Id,Type,Action.");
	}
	if (rep->rows == 0) {
		free(rows);
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. The file has no data rows.");
	}
	rep->accepted = (long)nrows;
	rc = store_allowlist_copy(ctx->db, tenant, rows, nrows, &rep->added,
	    &rep->deleted);
	free(rows);
	return rc;
}

/* ---- desired properties ------------------------------------------ */

int
core_desired_set(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    const char *props, int64_t *n, struct fp_status *st)
{
	if (props == NULL || strcmp(props, "{}") == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. Provisioning needs at least one of "
		    "LocalDPR, LocalC2C, LocalC2CKeyPairing, ZTPV1, "
		    "SecurityHeartbeatInSec.");
	return store_desired_set(ctx->db, tenant, rots, tags, props, n);
}

int
core_desired_get(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags,
    struct desired_row **out, size_t *n, struct fp_status *st)
{
	int rc;

	rc = store_desired_get(ctx->db, tenant, rots, tags, REG_ANSWER_MAX + 1,
	    out, n);
	if (rc == 0 && *n > REG_ANSWER_MAX) {
		desired_rows_free(*out, *n);
		*out = NULL;
		*n = 0;
		return fp_fail(st, FP_E_BADREQ,
		    "Bad Request. More than %d devices have provisioning "
		    "pending; name fewer.",
		    REG_ANSWER_MAX);
	}
	return rc;
}

int
core_desired_delete(struct fp_ctx *ctx, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int64_t *n,
    struct fp_status *st)
{
	(void)st;
	return store_desired_delete(ctx->db, tenant, rots, tags, n);
}
