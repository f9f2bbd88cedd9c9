/*
 * store/tenant: tenants, the root every other row is scoped by.
 */
#include "config.h"

#include "fleetpki/store.h"
#include "store_internal.h"

/* TENANT_* statements return "id, name". */
static const struct colmap tenant_cols[] = {
	COL_I64(struct tenant, id),
	COL_CHARS(struct tenant, name),
};
static const struct rowmap tenant_rows =
    ROWMAP(struct tenant, tenant_cols, NULL);

/*
 * Names are what operators and tokens use; ids are what every other
 * table stores, so this is the one lookup by name.  It precedes the
 * tenant, so it goes through the owner's fleetpki_tenant_by_name
 * (sql/005): under the wall a tenant sees its own row only.
 */
int
store_tenant_by_name(struct db *db, const char *name, struct tenant *t)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, name);
	return q_one(db, STMT_TENANT_BY_NAME, &p, &tenant_rows, t);
}

/* The tenant the request runs for already (under the wall, its own row). */
int
store_tenant_by_id(struct db *db, int64_t id, struct tenant *t)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, id);
	return q_one(db, STMT_TENANT_BY_ID, &p, &tenant_rows, t);
}

/* RETURNING gives the id and the name as stored in one round trip. */
int
store_tenant_create(struct db *db, const char *name, struct tenant *t)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, name);
	return q_one(db, STMT_TENANT_CREATE, &p, &tenant_rows, t);
}

/* q_each hands a void *; the public callback takes a struct tenant. */
struct tenant_each_arg {
	void (*fn)(void *, const struct tenant *);
	void *arg;
};

static void
tenant_each_row(void *varg, void *rec)
{
	struct tenant_each_arg *a = varg;

	a->fn(a->arg, rec);
}

int
store_tenant_each(struct db *db, void (*fn)(void *, const struct tenant *),
    void *arg)
{
	struct tenant_each_arg a = { fn, arg };
	struct tenant t;

	return q_each(db, STMT_TENANT_ALL, NULL, &tenant_rows, &t,
	    tenant_each_row, &a);
}
