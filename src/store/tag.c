/*
 * store/tag: tags and their assignment to devices and profiles
 * (sql/010: tags, device_tags, profile_tags).  Each call is one
 * statement, whatever the number of tags, devices or profiles named.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/store.h"
#include "fleetpki/store_tags.h"
#include "store_internal.h"

static const struct colmap tag_cols[] = {
	COL_I64(struct tag_rec, id),
	COL_CHARS(struct tag_rec, name),
	COL_I64(struct tag_rec, created_at),
};
static const struct rowmap tag_rows = ROWMAP(struct tag_rec, tag_cols, NULL);

struct tag_delete_row {
	int64_t found;
	bool used;
	int64_t deleted;
};
static const struct colmap tag_delete_cols[] = {
	COL_I64(struct tag_delete_row, found),
	COL_BOOL(struct tag_delete_row, used),
	COL_I64(struct tag_delete_row, deleted),
};
static const struct rowmap tag_delete_rows =
    ROWMAP(struct tag_delete_row, tag_delete_cols, NULL);

struct count_row {
	int64_t n;
};
static const struct colmap count_cols[] = { COL_I64(struct count_row, n) };
static const struct rowmap count_rows =
    ROWMAP(struct count_row, count_cols, NULL);

static const struct colmap change_cols[] = {
	COL_I64(struct tag_change, tags_given),
	COL_I64(struct tag_change, tags_found),
	COL_I64(struct tag_change, targets_given),
	COL_I64(struct tag_change, targets_found),
	COL_I64(struct tag_change, changed),
};
static const struct rowmap change_rows =
    ROWMAP(struct tag_change, change_cols, NULL);

void
store_tags_text_array(struct buf *b, const char *const *v, size_t n)
{
	const char *s;
	size_t i;

	buf_puts(b, "{");
	for (i = 0; i < n; i++) {
		buf_puts(b, i > 0 ? ",\"" : "\"");
		for (s = v[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_append(b, "\\", 1);
			buf_append(b, s, 1);
		}
		buf_puts(b, "\"");
	}
	buf_puts(b, "}");
}

void
store_rec_array_free(void *recs, size_t n, size_t size, void (*clear)(void *))
{
	size_t i;

	if (recs != NULL && clear != NULL)
		for (i = 0; i < n; i++)
			clear((char *)recs + i * size);
	free(recs);
}

int
store_tag_insert(struct db *db, int64_t tenant_id, const char *name,
    struct tag_rec *out)
{
	struct qparams p;
	int rc;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, name);
	rc = q_one(db, STMT_TAG_INSERT, &p, &tag_rows, out);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

struct tag_delete_arg {
	int64_t tenant_id;
	const char *name;
	struct tag_delete_row row;
};

/* The name's lock first: the deletion's snapshot sees every assignment. */
static int
tag_delete_tx(struct db *db, void *arg)
{
	struct tag_delete_arg *a = arg;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, a->tenant_id);
	q_text(&p, a->name);
	if ((rc = q_command(db, STMT_TAG_LOCK, &p)) != 0)
		return rc;
	rc = q_one(db, STMT_TAG_DELETE, &p, &tag_delete_rows, &a->row);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_tag_delete(struct db *db, int64_t tenant_id, const char *name,
    enum tag_delete_result *res)
{
	struct tag_delete_arg a = { tenant_id, name, { 0, false, 0 } };
	int rc;

	if ((rc = store_tx(db, tag_delete_tx, &a)) != 0)
		return rc;
	if (a.row.found == 0)
		*res = TAG_NOT_FOUND;
	else if (a.row.used || a.row.deleted == 0)
		*res = TAG_ASSIGNED;
	else
		*res = TAG_DELETED;
	return 0;
}

int
store_tag_page(struct db *db, int64_t tenant_id, const struct page_pos *pos,
    struct tag_rec **out, size_t *n, int64_t *total)
{
	struct count_row c = { 0 };
	struct qparams p;
	void *recs = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	q_init(&p);
	q_i64(&p, tenant_id);
	if ((rc = q_one(db, STMT_TAG_COUNT, &p, &count_rows, &c)) != 0)
		return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
	*total = c.n;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, pos->k1);
	q_i64(&p, pos->offset);
	q_i64(&p, TAGS_PAGE_SIZE);
	if ((rc = q_many(db, STMT_TAG_PAGE, &p, &tag_rows, &recs, n)) != 0)
		return rc;
	*out = recs;
	return 0;
}

struct tag_change_arg {
	enum stmt_id id;
	int64_t tenant_id;
	const char *tags; /* text[] literals, or NULL */
	const char *targets;
	int lock; /* an assignment: the tags' locks, shared */
	struct tag_change *out;
};

static int
tag_change_tx(struct db *db, void *arg)
{
	struct tag_change_arg *a = arg;
	struct qparams p;
	int rc;

	if (a->lock) {
		q_init(&p);
		q_i64(&p, a->tenant_id);
		q_text(&p, a->tags);
		if ((rc = q_command(db, STMT_TAG_LOCK_SHARED, &p)) != 0)
			return rc;
	}
	q_init(&p);
	q_i64(&p, a->tenant_id);
	if (a->tags != NULL)
		q_text(&p, a->tags);
	if (a->targets != NULL)
		q_text(&p, a->targets);
	rc = q_one(db, a->id, &p, &change_rows, a->out);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

/*
 * One statement of an assignment or a removal, arrays bound as text[]
 * (an assignment after its tags' locks, in one transaction).
 */
static int
tag_change_exec(struct db *db, enum stmt_id id, int64_t tenant_id,
    const char *const *tags, size_t ntags, const char *const *targets,
    size_t ntargets, int lock, struct tag_change *out)
{
	struct buf bt = BUF_INIT, bv = BUF_INIT;
	struct tag_change_arg a;
	int rc;

	memset(out, 0, sizeof(*out));
	if (tags != NULL)
		store_tags_text_array(&bt, tags, ntags);
	if (targets != NULL)
		store_tags_text_array(&bv, targets, ntargets);
	a.id = id;
	a.tenant_id = tenant_id;
	a.tags = tags != NULL ? (const char *)bt.data : NULL;
	a.targets = targets != NULL ? (const char *)bv.data : NULL;
	a.lock = lock;
	a.out = out;
	rc = lock ? store_tx(db, tag_change_tx, &a) : tag_change_tx(db, &a);
	buf_free(&bt);
	buf_free(&bv);
	return rc;
}

int
store_tag_assign(struct db *db, int64_t tenant_id, enum tag_target kind,
    const char *const *tags, size_t ntags, const char *const *targets,
    size_t ntargets, struct tag_change *out)
{
	if (tags == NULL || targets == NULL)
		return -FP_E_INTERNAL;
	return tag_change_exec(db,
	    kind == TAG_TARGET_DEVICES ? STMT_TAG_ASSIGN_DEVICES
	                               : STMT_TAG_ASSIGN_PROFILES,
	    tenant_id, tags, ntags, targets, ntargets, 1, out);
}

int
store_tag_remove(struct db *db, int64_t tenant_id, enum tag_target kind,
    const char *const *tags, size_t ntags, const char *const *targets,
    size_t ntargets, struct tag_change *out)
{
	int dev = kind == TAG_TARGET_DEVICES;
	enum stmt_id id;

	if (tags == NULL && targets == NULL)
		return -FP_E_INTERNAL; /* everything from everything: never */
	if (tags == NULL)
		id = dev ? STMT_TAG_REMOVE_DEVICES_ALLTAGS
		         : STMT_TAG_REMOVE_PROFILES_ALLTAGS;
	else if (targets == NULL)
		id = dev ? STMT_TAG_REMOVE_DEVICES_ALL
		         : STMT_TAG_REMOVE_PROFILES_ALL;
	else
		id = dev ? STMT_TAG_REMOVE_DEVICES : STMT_TAG_REMOVE_PROFILES;
	return tag_change_exec(db, id, tenant_id, tags, ntags, targets,
	    ntargets, 0, out);
}
