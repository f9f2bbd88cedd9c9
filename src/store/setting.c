/*
 * store/setting: per-tenant settings as text key/value rows.  Which
 * keys exist and what values they take is the core's table
 * (core/settings.c); the store keeps whatever it is given.
 */
#include "config.h"

#include <stdlib.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/*
 * Rows read into malloc'd strings: values are short, but their length
 * is the core's rule, not the store's, so no fixed array bounds it.
 */
struct setting_row {
	char *key;
	char *value;
};

static void
setting_row_clear(struct setting_row *r)
{
	free(r->key);
	free(r->value);
	r->key = r->value = NULL;
}

/* SETTING_GET returns "value"; SETTING_ALL "key, value". */
static const struct colmap value_cols[] = {
	COL_STR(struct setting_row, value),
};
static const struct rowmap value_rows =
    ROWMAP(struct setting_row, value_cols, setting_row_clear);
static const struct colmap setting_cols[] = {
	COL_STR(struct setting_row, key),
	COL_STR(struct setting_row, value),
};
static const struct rowmap setting_rows =
    ROWMAP(struct setting_row, setting_cols, setting_row_clear);

int
store_setting_get(struct db *db, int64_t tenant_id, const char *key,
    char **value)
{
	struct setting_row r = { NULL, NULL };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	rc = q_one(db, STMT_SETTING_GET, &p, &value_rows, &r);
	*value = rc == 0 ? r.value : NULL; /* ownership passes on */
	return rc;
}

/* An upsert, so "set" is one statement and needs no transaction. */
int
store_setting_set(struct db *db, int64_t tenant_id, const char *key,
    const char *value)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, key);
	q_text(&p, value);
	return q_command(db, STMT_SETTING_SET, &p);
}

struct setting_each_arg {
	void (*fn)(void *, const char *, const char *);
	void *arg;
};

static void
setting_each_row(void *varg, void *rec)
{
	struct setting_each_arg *a = varg;
	const struct setting_row *r = rec;

	/* The columns are NOT NULL: never pass the callback a NULL. */
	a->fn(a->arg, r->key != NULL ? r->key : "",
	    r->value != NULL ? r->value : "");
}

int
store_setting_each(struct db *db, int64_t tenant_id,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	struct setting_each_arg a = { fn, arg };
	struct setting_row r;
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	return q_each(db, STMT_SETTING_ALL, &p, &setting_rows, &r,
	    setting_each_row, &a);
}
