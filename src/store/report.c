/*
 * store/report: the read-only history reports of the security-services
 * dialect over sql/010's events, device_activity, device_usage,
 * device_clone_events and device_prod_log.  The devices of a report
 * are one set (fleetpki_device_set); pages go by keyset (stmt_tags.h).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/store.h"
#include "fleetpki/store_tags.h"
#include "store_internal.h"

struct count_row {
	int64_t n;
};
static const struct colmap count_cols[] = { COL_I64(struct count_row, n) };
static const struct rowmap count_rows =
    ROWMAP(struct count_row, count_cols, NULL);

void
event_rec_clear(struct event_rec *r)
{
	free(r->payload);
	r->payload = NULL;
}

static const struct colmap event_cols[] = {
	COL_I64(struct event_rec, total),
	COL_I64(struct event_rec, id),
	COL_I64(struct event_rec, at_us),
	COL_CHARS(struct event_rec, rot),
	COL_CHARS(struct event_rec, type),
	COL_STR(struct event_rec, payload),
};
static const struct rowmap event_rows =
    ROWMAP(struct event_rec, event_cols, event_rec_clear);

static const struct colmap seen_cols[] = {
	COL_I64(struct device_seen, id),
	COL_I64(struct device_seen, last_seen),
};
static const struct rowmap seen_rows =
    ROWMAP(struct device_seen, seen_cols, NULL);

void
activity_rec_clear(struct activity_rec *r)
{
	free(r->command_id);
	free(r->command);
	free(r->detail);
	r->command_id = r->command = r->detail = NULL;
}

static const struct colmap activity_cols[] = {
	COL_I64(struct activity_rec, id),
	COL_I64(struct activity_rec, at_us),
	COL_STR(struct activity_rec, command_id),
	COL_STR(struct activity_rec, command),
	COL_CHARS(struct activity_rec, status),
	COL_STR(struct activity_rec, detail),
};
static const struct rowmap activity_rows =
    ROWMAP(struct activity_rec, activity_cols, activity_rec_clear);

static const struct colmap usage_cols[] = {
	COL_I64(struct usage_rec, device_id),
	COL_CHARS(struct usage_rec, rot),
	COL_CHARS(struct usage_rec, event),
	COL_I64(struct usage_rec, count),
};
static const struct rowmap usage_rows =
    ROWMAP(struct usage_rec, usage_cols, NULL);

void
clone_rec_clear(struct clone_rec *r)
{
	free(r->peer);
	r->peer = NULL;
}

static const struct colmap clone_cols[] = {
	COL_I64(struct clone_rec, total),
	COL_I64(struct clone_rec, id),
	COL_I64(struct clone_rec, at_us),
	COL_CHARS(struct clone_rec, rot),
	COL_CHARS(struct clone_rec, reason),
	COL_I64(struct clone_rec, counter),
	COL_I64(struct clone_rec, last_counter),
	COL_STR(struct clone_rec, peer),
};
static const struct rowmap clone_rows =
    ROWMAP(struct clone_rec, clone_cols, clone_rec_clear);

void
suspicious_rec_clear(struct suspicious_rec *r)
{
	free(r->scl_serial);
	free(r->value);
	r->scl_serial = r->value = NULL;
}

static const struct colmap suspicious_cols[] = {
	COL_I64(struct suspicious_rec, total),
	COL_I64(struct suspicious_rec, device_id),
	COL_INT(struct suspicious_rec, reason),
	COL_CHARS(struct suspicious_rec, rot),
	COL_CHARS(struct suspicious_rec, serial),
	COL_STR(struct suspicious_rec, scl_serial),
	COL_STR(struct suspicious_rec, value),
	COL_I64(struct suspicious_rec, others),
};
static const struct rowmap suspicious_rows =
    ROWMAP(struct suspicious_rec, suspicious_cols, suspicious_rec_clear);

/* The arrays of a device filter, as text[] literals (or NULL). */
struct filter_bind {
	struct buf rots;
	struct buf tags;
};

/* $1 tenant, $2 ROTs, $3 tags, $4 profile: SQL_TAGS_DS. */
static void
bind_filter(struct qparams *p, struct filter_bind *fb, int64_t tenant_id,
    const struct device_filter *f)
{
	memset(fb, 0, sizeof(*fb));
	q_i64(p, tenant_id);
	if (f->rots != NULL && f->nrots > 0) {
		store_tags_text_array(&fb->rots, f->rots, f->nrots);
		q_text(p, (const char *)fb->rots.data);
	} else {
		q_null(p);
	}
	if (f->tags != NULL && f->ntags > 0) {
		store_tags_text_array(&fb->tags, f->tags, f->ntags);
		q_text(p, (const char *)fb->tags.data);
	} else {
		q_null(p);
	}
	q_text(p, f->profile);
}

static void
filter_bind_free(struct filter_bind *fb)
{
	buf_free(&fb->rots);
	buf_free(&fb->tags);
}

static int
count_one(struct db *db, enum stmt_id id, const struct qparams *p,
    int64_t *total)
{
	struct count_row c = { 0 };
	int rc;

	if ((rc = q_one(db, id, p, &count_rows, &c)) != 0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	*total = c.n;
	return 0;
}

/*
 * A page statement's rows into (*out, *n, *total): the first row's
 * count, and no records when the one row is the count's alone (its
 * key, read at 'key_off', is NULL: 0).
 */
static void
page_rows(void *recs, size_t n, size_t size, size_t key_off,
    void (*clear)(void *), void **out, size_t *np, int64_t *total)
{
	*total = n > 0 ? *(const int64_t *)recs : 0;
	if (n == 1 && *(const int64_t *)((const char *)recs + key_off) == 0) {
		store_rec_array_free(recs, n, size, clear);
		recs = xcalloc(0, size);
		n = 0;
	}
	*out = recs;
	*np = n;
}

int
store_event_page(struct db *db, int64_t tenant_id,
    const struct device_filter *f, const struct time_range *r, const char *type,
    const struct page_pos *pos, struct event_rec **out, size_t *n,
    int64_t *total)
{
	struct filter_bind fb;
	struct qparams p;
	void *recs = NULL, *page;
	size_t nrecs = 0;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	q_init(&p);
	bind_filter(&p, &fb, tenant_id, f);
	q_text(&p, type);
	q_i64(&p, r->from_us);
	q_i64(&p, r->to_us);
	q_i64(&p, pos->k1);
	q_i64(&p, pos->k2);
	q_i64(&p, pos->offset);
	q_i64(&p, TAGS_PAGE_SIZE);
	if ((rc = q_many(db, STMT_REPORT_EVENT_PAGE, &p, &event_rows, &recs,
	         &nrecs)) == 0) {
		page_rows(recs, nrecs, sizeof(struct event_rec),
		    offsetof(struct event_rec, id),
		    (void (*)(void *))event_rec_clear, &page, n, total);
		*out = page;
	}
	filter_bind_free(&fb);
	return rc;
}

int
store_device_seen(struct db *db, int64_t tenant_id, const char *rot,
    struct device_seen *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, rot);
	return q_one(db, STMT_REPORT_DEVICE_SEEN, &p, &seen_rows, out);
}

int
store_activity_page(struct db *db, int64_t tenant_id, int64_t device_id,
    const struct time_range *r, const struct page_pos *pos,
    struct activity_rec **out, size_t *n, int64_t *total)
{
	struct qparams p;
	void *recs = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	q_i64(&p, r->from_us);
	q_i64(&p, r->to_us);
	if ((rc = count_one(db, STMT_REPORT_ACTIVITY_COUNT, &p, total)) != 0)
		return rc;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, device_id);
	q_i64(&p, pos->k1);
	q_i64(&p, pos->k2);
	q_i64(&p, r->to_us);
	q_i64(&p, pos->offset);
	q_i64(&p, TAGS_PAGE_SIZE);
	if ((rc = q_many(db, STMT_REPORT_ACTIVITY_PAGE, &p, &activity_rows,
	         &recs, n)) == 0)
		*out = recs;
	return rc;
}

int
store_usage_sum(struct db *db, int64_t tenant_id, const struct device_filter *f,
    int64_t from_day, int64_t to_day, int64_t after, size_t max_devices,
    struct usage_rec **out, size_t *n)
{
	struct filter_bind fb;
	struct qparams p;
	void *recs = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	q_init(&p);
	bind_filter(&p, &fb, tenant_id, f);
	q_bool(&p, f->all != 0);
	q_i64(&p, from_day);
	q_i64(&p, to_day);
	q_i64(&p, after);
	q_i64(&p, (int64_t)max_devices);
	if ((rc = q_many(db, STMT_REPORT_USAGE_SUM, &p, &usage_rows, &recs,
	         n)) == 0)
		*out = recs;
	filter_bind_free(&fb);
	return rc;
}

int
store_clone_page(struct db *db, int64_t tenant_id,
    const struct device_filter *f, const struct time_range *r,
    const struct page_pos *pos, struct clone_rec **out, size_t *n,
    int64_t *total)
{
	struct filter_bind fb;
	struct qparams p;
	void *recs = NULL, *page;
	size_t nrecs = 0;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	q_init(&p);
	bind_filter(&p, &fb, tenant_id, f);
	q_i64(&p, r->from_us);
	q_i64(&p, r->to_us);
	q_i64(&p, pos->k1);
	q_i64(&p, pos->k2);
	q_i64(&p, pos->offset);
	q_i64(&p, TAGS_PAGE_SIZE);
	if ((rc = q_many(db, STMT_REPORT_CLONE_PAGE, &p, &clone_rows, &recs,
	         &nrecs)) == 0) {
		page_rows(recs, nrecs, sizeof(struct clone_rec),
		    offsetof(struct clone_rec, id),
		    (void (*)(void *))clone_rec_clear, &page, n, total);
		*out = page;
	}
	filter_bind_free(&fb);
	return rc;
}

int
store_suspicious_page(struct db *db, int64_t tenant_id,
    const struct device_filter *f, const struct page_pos *pos,
    struct suspicious_rec **out, size_t *n, int64_t *total)
{
	struct filter_bind fb;
	struct qparams p;
	void *recs = NULL, *page;
	size_t nrecs = 0;
	int rc;

	*out = NULL;
	*n = 0;
	*total = 0;
	q_init(&p);
	bind_filter(&p, &fb, tenant_id, f);
	q_i64(&p, pos->k1);
	q_i64(&p, pos->k2);
	q_i64(&p, pos->offset);
	q_i64(&p, TAGS_PAGE_SIZE);
	if ((rc = q_many(db, STMT_REPORT_SUSPICIOUS_PAGE, &p, &suspicious_rows,
	         &recs, &nrecs)) == 0) {
		page_rows(recs, nrecs, sizeof(struct suspicious_rec),
		    offsetof(struct suspicious_rec, device_id),
		    (void (*)(void *))suspicious_rec_clear, &page, n, total);
		*out = page;
	}
	filter_bind_free(&fb);
	return rc;
}
