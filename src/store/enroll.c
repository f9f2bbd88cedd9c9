/*
 * store/enroll: device enrollment's rows (sql/018, stmt_enroll.h).
 * Which devices may do what is the core's (core/enroll.c); this file
 * reads and writes what it is told, one statement per call, and whole
 * batches of devices per statement.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "fleetpki/store_enroll.h"
#include "fleetpki/store_tags.h"
#include "store_internal.h"

/* ---- before the tenant ------------------------------------------- */

static const struct colmap lookup_cols[] = {
	COL_I64(struct enroll_lookup_rec, tenant_id),
	COL_I64(struct enroll_lookup_rec, id),
	COL_CHARS(struct enroll_lookup_rec, secret_hash),
	COL_BOOL(struct enroll_lookup_rec, enabled),
	COL_BOOL(struct enroll_lookup_rec, locked),
	COL_INT(struct enroll_lookup_rec, failures),
};
static const struct rowmap lookup_rows =
    ROWMAP(struct enroll_lookup_rec, lookup_cols, NULL);

int
store_enroll_lookup(struct db *db, const char *device_id,
    struct enroll_lookup_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_text(&p, device_id);
	return q_one(db, STMT_ENROLL_LOOKUP, &p, &lookup_rows, out);
}

struct one_bool {
	bool v;
};
static const struct colmap one_bool_cols[] = { COL_BOOL(struct one_bool, v) };
static const struct rowmap one_bool_rows =
    ROWMAP(struct one_bool, one_bool_cols, NULL);

struct one_i64 {
	int64_t v;
};
static const struct colmap one_i64_cols[] = { COL_I64(struct one_i64, v) };
static const struct rowmap one_i64_rows =
    ROWMAP(struct one_i64, one_i64_cols, NULL);

int
store_enroll_failed(struct db *db, const char *device_id, int max, int window_s,
    bool *locked)
{
	struct one_bool r = { false };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, device_id);
	q_i64(&p, max);
	q_i64(&p, window_s);
	rc = q_one(db, STMT_ENROLL_FAILED, &p, &one_bool_rows, &r);
	/* An id too long to count returns no row: never locked. */
	if (rc == -FP_E_NOTFOUND)
		rc = 0;
	*locked = r.v;
	return rc;
}

int
store_enroll_succeeded(struct db *db, const char *device_id)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, device_id);
	return q_command(db, STMT_ENROLL_SUCCEEDED, &p);
}

int
store_enroll_taken(struct db *db, const char *device_id, bool *taken)
{
	struct one_bool r = { false };
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, device_id);
	rc = q_one(db, STMT_ENROLL_TAKEN, &p, &one_bool_rows, &r);
	*taken = r.v;
	return rc;
}

int
store_enroll_failures_prune(struct db *db, int older_s, int64_t *pruned)
{
	struct one_i64 r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, older_s);
	rc = q_one(db, STMT_ENROLL_FAILURES_PRUNE, &p, &one_i64_rows, &r);
	*pruned = r.v;
	return rc;
}

/* ---- the operator's ---------------------------------------------- */

int
store_enroll_insert(struct db *db, int64_t tenant_id, const char *device_id,
    const char *secret_hash)
{
	struct one_i64 r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, device_id);
	q_text(&p, secret_hash);
	return q_one(db, STMT_ENROLL_INSERT, &p, &one_i64_rows, &r);
}

struct id_row {
	char device_id[ENROLL_ID_MAX + 1];
};
static const struct colmap id_cols[] = { COL_CHARS(struct id_row, device_id) };
static const struct rowmap id_rows = ROWMAP(struct id_row, id_cols, NULL);

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
store_enroll_import(struct db *db, int64_t tenant_id, const char *const *ids,
    const char *const *hashes, size_t n, bool *added)
{
	struct buf bi = BUF_INIT, bh = BUF_INIT;
	struct id_row *rows = NULL;
	struct qparams p;
	const char **got = NULL;
	bool *used = NULL;
	size_t nrows = 0, i;
	int rc;

	memset(added, 0, n * sizeof(*added));
	store_tags_text_array(&bi, ids, n);
	store_tags_text_array(&bh, hashes, n);
	buf_append(&bi, "", 1);
	buf_append(&bh, "", 1);
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, (const char *)bi.data);
	q_text(&p, (const char *)bh.data);
	rc = q_many(db, STMT_ENROLL_IMPORT, &p, &id_rows, (void **)&rows,
	    &nrows);
	buf_free(&bi);
	buf_free(&bh);
	if (rc != 0)
		return rc;
	/*
	 * Which were added: RETURNING names them in no promised order, and
	 * an id given twice was added once (the first time).
	 */
	got = xcalloc(nrows + 1, sizeof(*got));
	used = xcalloc(nrows + 1, sizeof(*used));
	for (i = 0; i < nrows; i++)
		got[i] = rows[i].device_id;
	qsort(got, nrows, sizeof(*got), cmp_str);
	for (i = 0; i < n; i++) {
		const char **hit =
		    bsearch(&ids[i], got, nrows, sizeof(*got), cmp_str);

		/* A second copy of an id was not added. */
		if (hit != NULL && !used[hit - got]) {
			added[i] = true;
			used[hit - got] = true;
		}
	}
	free(used);
	free(got);
	free(rows);
	return 0;
}

static const struct colmap device_cols[] = {
	COL_I64(struct enroll_device, id),
	COL_CHARS(struct enroll_device, device_id),
	COL_CHARS(struct enroll_device, state),
	COL_BOOL(struct enroll_device, enabled),
	COL_I64(struct enroll_device, created_us),
	COL_I64(struct enroll_device, registered_us),
	COL_I64(struct enroll_device, last_seen_us),
	COL_I64(struct enroll_device, not_after_us),
	COL_CHARS(struct enroll_device, last_error),
};
static const struct rowmap device_rows =
    ROWMAP(struct enroll_device, device_cols, NULL);

int
store_enroll_get(struct db *db, int64_t tenant_id, const char *device_id,
    struct enroll_device *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, device_id);
	return q_one(db, STMT_ENROLL_GET, &p, &device_rows, out);
}

struct list_arg {
	void (*fn)(void *, const struct enroll_device *);
	void *arg;
	int left; /* rows to give; the one after says "more" */
	int *more;
};

static void
list_row(void *varg, void *rec)
{
	struct list_arg *a = varg;

	if (a->left-- > 0)
		a->fn(a->arg, rec);
	else
		*a->more = 1;
}

int
store_enroll_list(struct db *db, int64_t tenant_id,
    const struct enroll_query *q,
    void (*fn)(void *, const struct enroll_device *), void *arg, int *more)
{
	struct list_arg a = { fn, arg, q->limit, more };
	struct enroll_device d;
	struct qparams p;

	*more = 0;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, q->after != NULL ? q->after : "");
	q_text(&p, q->prefix != NULL ? q->prefix : "");
	q_text(&p, q->state != NULL ? q->state : "");
	q_i64(&p, q->expires_before_us);
	q_i64(&p, (int64_t)q->limit + 1);
	return q_each(db, STMT_ENROLL_LIST, &p, &device_rows, &d, list_row, &a);
}

int
store_enroll_set_enabled(struct db *db, int64_t tenant_id,
    const char *device_id, bool enabled)
{
	struct one_i64 r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, device_id);
	q_bool(&p, enabled);
	return q_one(db, STMT_ENROLL_SET_ENABLED, &p, &one_i64_rows, &r);
}

int
store_enroll_rotate(struct db *db, int64_t tenant_id, const char *device_id,
    const char *secret_hash)
{
	struct one_i64 r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, device_id);
	q_text(&p, secret_hash);
	return q_one(db, STMT_ENROLL_ROTATE, &p, &one_i64_rows, &r);
}

/* q_each's callbacks take void *: these pass typed rows on. */
struct typed_arg {
	void (*fn)(void *, const void *);
	void *arg;
};

static void
typed_row(void *varg, void *rec)
{
	struct typed_arg *a = varg;

	a->fn(a->arg, rec);
}

static const struct colmap cert_cols[] = {
	COL_I64(struct enroll_cert, id),
	COL_CHARS(struct enroll_cert, hostname),
	COL_CHARS(struct enroll_cert, serial),
	COL_I64(struct enroll_cert, not_before_us),
	COL_I64(struct enroll_cert, not_after_us),
	COL_I64(struct enroll_cert, created_us),
	COL_BOOL(struct enroll_cert, current),
	COL_BOOL(struct enroll_cert, server_key),
};
static const struct rowmap cert_rows =
    ROWMAP(struct enroll_cert, cert_cols, NULL);

static const struct colmap order_cols[] = {
	COL_I64(struct enroll_order, id),
	COL_CHARS(struct enroll_order, kind),
	COL_CHARS(struct enroll_order, state),
	COL_CHARS(struct enroll_order, error_type),
	COL_CHARS(struct enroll_order, error_detail),
	COL_I64(struct enroll_order, created_us),
	COL_I64(struct enroll_order, updated_us),
	COL_I64(struct enroll_order, finished_us),
	COL_I64(struct enroll_order, retry_us),
};
static const struct rowmap order_rows =
    ROWMAP(struct enroll_order, order_cols, NULL);

static int
device_history(struct db *db, enum stmt_id id, const struct rowmap *map,
    void *rec, int64_t tenant_id, const char *device_id, int limit,
    struct typed_arg *a)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, device_id);
	q_i64(&p, limit);
	return q_each(db, id, &p, map, rec, typed_row, a);
}

int
store_enroll_certs(struct db *db, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_cert *), void *arg)
{
	struct typed_arg a = { (void (*)(void *, const void *))fn, arg };
	struct enroll_cert c;

	return device_history(db, STMT_ENROLL_CERTS, &cert_rows, &c, tenant_id,
	    device_id, limit, &a);
}

int
store_enroll_orders(struct db *db, int64_t tenant_id, const char *device_id,
    int limit, void (*fn)(void *, const struct enroll_order *), void *arg)
{
	struct typed_arg a = { (void (*)(void *, const void *))fn, arg };
	struct enroll_order o;

	return device_history(db, STMT_ENROLL_ORDERS, &order_rows, &o,
	    tenant_id, device_id, limit, &a);
}

struct bucket_row {
	int64_t bucket;
	int64_t count;
};
static const struct colmap bucket_cols[] = {
	COL_I64(struct bucket_row, bucket),
	COL_I64(struct bucket_row, count),
};
static const struct rowmap bucket_rows =
    ROWMAP(struct bucket_row, bucket_cols, NULL);

struct weeks_arg {
	int64_t *counts;
	int n;
};

static void
week_row(void *varg, void *rec)
{
	struct weeks_arg *a = varg;
	const struct bucket_row *r = rec;

	if (r->bucket >= 0 && r->bucket < a->n)
		a->counts[r->bucket] = r->count;
}

int
store_enroll_expiry_weeks(struct db *db, int64_t tenant_id, int64_t *counts,
    int nweeks)
{
	struct weeks_arg a = { counts, nweeks };
	struct bucket_row r;
	struct qparams p;

	memset(counts, 0, (size_t)nweeks * sizeof(*counts));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, nweeks);
	return q_each(db, STMT_ENROLL_EXPIRY_WEEKS, &p, &bucket_rows, &r,
	    week_row, &a);
}

struct state_count_row {
	char state[16];
	int64_t count;
};
static const struct colmap state_count_cols[] = {
	COL_CHARS(struct state_count_row, state),
	COL_I64(struct state_count_row, count),
};
static const struct rowmap state_count_rows =
    ROWMAP(struct state_count_row, state_count_cols, NULL);

static const char *const enroll_states[6] = { "pending", "issuing", "issued",
	"renewing", "failed", "disabled" };

static void
state_count_row(void *varg, void *rec)
{
	int64_t *counts = varg;
	const struct state_count_row *r = rec;
	size_t i;

	for (i = 0; i < FP_ARRAY_LEN(enroll_states); i++)
		if (strcmp(enroll_states[i], r->state) == 0)
			counts[i] = r->count;
}

int
store_enroll_state_counts(struct db *db, int64_t tenant_id, int64_t counts[6])
{
	struct state_count_row r;
	struct qparams p;

	memset(counts, 0, 6 * sizeof(*counts));
	q_init(&p);
	q_i64(&p, tenant_id);
	return q_each(db, STMT_ENROLL_STATE_COUNTS, &p, &state_count_rows, &r,
	    state_count_row, counts);
}

/* ---- the device's request ---------------------------------------- */

void
enroll_state_rec_clear(struct enroll_state_rec *r)
{
	free(r->chain_pem);
	buf_free(&r->key_sealed);
	r->chain_pem = NULL;
}

/* ENROLL_STATE's last column (whether last_seen was touched) is skipped. */
static const struct colmap state_cols[] = {
	COL_CHARS(struct enroll_state_rec, device_id),
	COL_I64(struct enroll_state_rec, cert_id),
	COL_I64(struct enroll_state_rec, cert_order_id),
	COL_STR(struct enroll_state_rec, chain_pem),
	COL_BYTEA(struct enroll_state_rec, key_sealed),
	COL_CHARS(struct enroll_state_rec, spki_sha256),
	COL_I64(struct enroll_state_rec, not_before_us),
	COL_I64(struct enroll_state_rec, not_after_us),
	COL_I64(struct enroll_state_rec, order_id),
	COL_CHARS(struct enroll_state_rec, order_state),
	COL_I64(struct enroll_state_rec, order_retry_us),
	COL_BOOL(struct enroll_state_rec, order_has_csr),
	COL_I64(struct enroll_state_rec, failed_us),
	COL_CHARS(struct enroll_state_rec, domain),
	COL_BOOL(struct enroll_state_rec, has_directory),
};
static const struct rowmap state_rows =
    ROWMAP(struct enroll_state_rec, state_cols, enroll_state_rec_clear);

int
store_enroll_state(struct db *db, int64_t tenant_id, int64_t id,
    struct enroll_state_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return q_one(db, STMT_ENROLL_STATE, &p, &state_rows, out);
}

int
store_enroll_cert_import(struct db *db, int64_t tenant_id, int64_t id,
    const char *hostname, const char *chain_pem, const struct buf *key_sealed,
    const char *spki_sha256, const char *serial, int64_t not_before,
    int64_t not_after)
{
	struct one_i64 r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, hostname);
	q_text(&p, chain_pem);
	q_bytea_or_null(&p, key_sealed);
	q_text(&p, spki_sha256);
	q_text(&p, serial);
	q_i64(&p, not_before);
	q_i64(&p, not_after);
	return q_one(db, STMT_ENROLL_CERT_IMPORT, &p, &one_i64_rows, &r);
}

int
store_enroll_order_insert(struct db *db, int64_t tenant_id, int64_t id,
    const char *kind, const char *hostname, const char *csr_pem,
    int64_t *order_id)
{
	struct one_i64 r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, kind);
	q_text(&p, hostname);
	if (csr_pem != NULL)
		q_text(&p, csr_pem);
	else
		q_null(&p);
	rc = q_one(db, STMT_ENROLL_ORDER_INSERT, &p, &one_i64_rows, &r);
	if (rc == -FP_E_NOTFOUND)
		rc = 0; /* one is open: the caller answers 202 all the same */
	*order_id = r.v;
	return rc;
}
