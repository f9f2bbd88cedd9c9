/*
 * store/acme: the ACME client's rows (store_acme.h; stmt_acme.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/store.h"
#include "fleetpki/store_acme.h"
#include "store_internal.h"

static const struct colmap order_cols[] = {
	COL_I64(struct acme_order_rec, id),
	COL_I64(struct acme_order_rec, tenant_id),
	COL_I64(struct acme_order_rec, device_ref),
	COL_CHARS(struct acme_order_rec, device_id),
	COL_BOOL(struct acme_order_rec, device_enabled),
	COL_CHARS(struct acme_order_rec, kind),
	COL_CHARS(struct acme_order_rec, state),
	COL_STR(struct acme_order_rec, hostname),
	COL_STR(struct acme_order_rec, csr_pem),
	COL_BYTEA(struct acme_order_rec, key_sealed),
	COL_I64(struct acme_order_rec, account_id),
	COL_STR(struct acme_order_rec, order_url),
	COL_STR(struct acme_order_rec, finalize_url),
	COL_STR(struct acme_order_rec, authz_urls),
	COL_STR(struct acme_order_rec, challenge_url),
	COL_STR(struct acme_order_rec, dns_name),
	COL_STR(struct acme_order_rec, dns_value),
	COL_STR(struct acme_order_rec, cert_url),
	COL_STR(struct acme_order_rec, error_type),
	COL_STR(struct acme_order_rec, error_detail),
};
static const struct rowmap order_rows =
    ROWMAP(struct acme_order_rec, order_cols, acme_order_rec_clear);

struct id_row {
	int64_t id;
};
static const struct colmap id_cols[] = {
	COL_I64(struct id_row, id),
};
static const struct rowmap id_rows = ROWMAP(struct id_row, id_cols, NULL);

void
acme_order_rec_clear(struct acme_order_rec *o)
{
	free(o->hostname);
	free(o->csr_pem);
	buf_free(&o->key_sealed);
	free(o->order_url);
	free(o->finalize_url);
	free(o->authz_urls);
	free(o->challenge_url);
	free(o->dns_name);
	free(o->dns_value);
	free(o->cert_url);
	free(o->error_type);
	free(o->error_detail);
	o->hostname = o->csr_pem = o->order_url = o->finalize_url = NULL;
	o->authz_urls = o->challenge_url = o->dns_name = o->dns_value = NULL;
	o->cert_url = o->error_type = o->error_detail = NULL;
}

int
store_acme_order_get(struct db *db, int64_t tenant_id, int64_t id,
    struct acme_order_rec *o)
{
	struct qparams p;

	memset(o, 0, sizeof(*o));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return q_one(db, STMT_ACME_ORDER_GET, &p, &order_rows, o);
}

int
store_acme_order_save(struct db *db, const struct acme_order_rec *o)
{
	struct id_row r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, o->tenant_id);
	q_i64(&p, o->id);
	q_text(&p, o->state);
	q_i64_or_null(&p, o->account_id);
	q_text(&p, o->order_url);
	q_text(&p, o->finalize_url);
	q_text(&p, o->authz_urls);
	q_text(&p, o->challenge_url);
	q_text(&p, o->dns_name);
	q_text(&p, o->dns_value);
	q_text(&p, o->cert_url);
	q_text(&p, o->error_type);
	q_text(&p, o->error_detail);
	q_i64(&p, o->retry_s);
	return q_one(db, STMT_ACME_ORDER_SAVE, &p, &id_rows, &r);
}

int
store_acme_order_set_key(struct db *db, int64_t tenant_id, int64_t id,
    const struct buf *sealed)
{
	struct id_row r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_bytea(&p, sealed);
	return q_one(db, STMT_ACME_ORDER_SET_KEY, &p, &id_rows, &r);
}

int
store_acme_order_fail(struct db *db, int64_t tenant_id, int64_t id,
    const char *type, const char *detail, const char *device_error)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, type);
	q_text(&p, detail);
	q_text(&p, device_error);
	return q_command(db, STMT_ACME_ORDER_FAIL, &p);
}

struct cert_tx {
	int64_t tenant_id, order_id;
	const struct acme_cert_in *in;
};

static int
cert_store_tx(struct db *db, void *arg)
{
	struct cert_tx *t = arg;
	struct id_row r = { 0 };
	struct qparams p;
	int rc;

	/* The current one steps down first: one current per device. */
	q_init(&p);
	q_i64(&p, t->tenant_id);
	q_i64(&p, t->order_id);
	if ((rc = q_command(db, STMT_ACME_CERT_SUPERSEDE, &p)) != 0)
		return rc;
	q_init(&p);
	q_i64(&p, t->tenant_id);
	q_i64(&p, t->order_id);
	q_text(&p, t->in->chain_pem);
	q_text(&p, t->in->spki_sha256);
	q_text(&p, t->in->serial);
	q_i64(&p, t->in->not_before);
	q_i64(&p, t->in->not_after);
	q_text(&p, t->in->ari_id);
	if (t->in->renew_after > 0)
		q_i64(&p, t->in->renew_after);
	else
		q_null(&p);
	return q_one(db, STMT_ACME_CERT_INSERT, &p, &id_rows, &r);
}

int
store_acme_cert_store(struct db *db, int64_t tenant_id, int64_t order_id,
    const struct acme_cert_in *in)
{
	struct cert_tx t = { tenant_id, order_id, in };

	return store_tx(db, cert_store_tx, &t);
}

static const struct colmap budget_cols[] = {
	COL_I64(struct acme_budget_rec, used),
	COL_I64(struct acme_budget_rec, in_flight),
	COL_I64(struct acme_budget_rec, oldest_age_s),
};
static const struct rowmap budget_rows =
    ROWMAP(struct acme_budget_rec, budget_cols, NULL);

int
store_acme_budget(struct db *db, int64_t tenant_id, struct acme_budget_rec *b)
{
	struct qparams p;

	memset(b, 0, sizeof(*b));
	q_init(&p);
	q_i64(&p, tenant_id);
	return q_one(db, STMT_ACME_BUDGET, &p, &budget_rows, b);
}

static const struct colmap account_cols[] = {
	COL_I64(struct acme_account_rec, id),
	COL_STR(struct acme_account_rec, account_url),
	COL_BYTEA(struct acme_account_rec, key_sealed),
	COL_CHARS(struct acme_account_rec, status),
};
static const struct rowmap account_rows =
    ROWMAP(struct acme_account_rec, account_cols, acme_account_rec_clear);

void
acme_account_rec_clear(struct acme_account_rec *a)
{
	free(a->account_url);
	a->account_url = NULL;
	buf_free(&a->key_sealed);
}

int
store_acme_account_get(struct db *db, int64_t tenant_id, const char *dir,
    struct acme_account_rec *a)
{
	struct qparams p;

	memset(a, 0, sizeof(*a));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, dir);
	return q_one(db, STMT_ACME_ACCOUNT_GET, &p, &account_rows, a);
}

struct account_tx {
	int64_t tenant_id;
	const char *dir, *contact;
	int (*seal)(void *, int64_t, struct buf *);
	void *arg;
	int64_t id;
};

static int
account_create_tx(struct db *db, void *arg)
{
	struct account_tx *t = arg;
	struct id_row r = { 0 };
	struct buf sealed = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, t->tenant_id);
	q_text(&p, t->dir);
	q_text(&p,
	    t->contact != NULL && t->contact[0] != '\0' ? t->contact : NULL);
	rc = q_one(db, STMT_ACME_ACCOUNT_INSERT, &p, &id_rows, &r);
	if (rc == -FP_E_NOTFOUND)
		return -FP_E_CONFLICT;
	if (rc != 0)
		return rc;
	if ((rc = t->seal(t->arg, r.id, &sealed)) != 0)
		goto out;
	q_init(&p);
	q_i64(&p, t->tenant_id);
	q_i64(&p, r.id);
	q_bytea(&p, &sealed);
	if ((rc = q_command(db, STMT_ACME_ACCOUNT_SET_KEY, &p)) == 0)
		t->id = r.id;
out:
	buf_free(&sealed);
	return rc;
}

int
store_acme_account_create(struct db *db, int64_t tenant_id, const char *dir,
    const char *contact, int (*seal)(void *, int64_t, struct buf *), void *arg,
    int64_t *id)
{
	struct account_tx t = { tenant_id, dir, contact, seal, arg, 0 };
	int rc;

	rc = store_tx(db, account_create_tx, &t);
	*id = t.id;
	return rc;
}

int
store_acme_account_save(struct db *db, int64_t tenant_id, int64_t id,
    const char *account_url, const char *status, const char *error)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, account_url);
	q_text(&p, status);
	q_text(&p, error);
	return q_command(db, STMT_ACME_ACCOUNT_SAVE, &p);
}

static const struct colmap status_cols[] = {
	COL_CHARS(struct acme_status_rec, account_url),
	COL_CHARS(struct acme_status_rec, account_status),
	COL_I64(struct acme_status_rec, used),
	COL_I64(struct acme_status_rec, in_flight),
	COL_I64(struct acme_status_rec, queued),
	COL_I64(struct acme_status_rec, oldest_queued),
};
static const struct rowmap status_rows =
    ROWMAP(struct acme_status_rec, status_cols, NULL);

int
store_acme_status(struct db *db, int64_t tenant_id, const char *dir,
    struct acme_status_rec *s)
{
	struct qparams p;

	memset(s, 0, sizeof(*s));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, dir != NULL ? dir : "");
	return q_one(db, STMT_ACME_STATUS, &p, &status_rows, s);
}

static const struct colmap queued_cols[] = {
	COL_I64(struct acme_queued_rec, id),
	COL_CHARS(struct acme_queued_rec, device_id),
	COL_CHARS(struct acme_queued_rec, kind),
	COL_CHARS(struct acme_queued_rec, state),
	COL_CHARS(struct acme_queued_rec, error_type),
	COL_I64(struct acme_queued_rec, created),
	COL_I64(struct acme_queued_rec, retry_at),
};
static const struct rowmap queued_rows =
    ROWMAP(struct acme_queued_rec, queued_cols, NULL);

struct queued_cb {
	void (*fn)(void *, const struct acme_queued_rec *);
	void *arg;
};

static void
queued_each(void *arg, void *rec)
{
	struct queued_cb *cb = arg;

	cb->fn(cb->arg, rec);
}

int
store_acme_queued(struct db *db, int64_t tenant_id, int limit,
    void (*fn)(void *, const struct acme_queued_rec *), void *arg)
{
	struct queued_cb cb = { fn, arg };
	struct acme_queued_rec rec;
	struct qparams p;

	memset(&rec, 0, sizeof(rec));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, limit);
	return q_each(db, STMT_ACME_QUEUED, &p, &queued_rows, &rec, queued_each,
	    &cb);
}

int
store_acme_orphans(struct db *db, int64_t *failed)
{
	struct id_row r = { 0 };
	int rc;

	rc = q_one(db, STMT_ACME_ORPHANS, NULL, &id_rows, &r);
	*failed = rc == 0 ? r.id : 0;
	return rc;
}

int
store_acme_renew_due(struct db *db, int limit, int attempts, int64_t *queued)
{
	struct id_row r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, limit);
	q_i64(&p, attempts);
	rc = q_one(db, STMT_ACME_RENEW_DUE, &p, &id_rows, &r);
	*queued = rc == 0 ? r.id : 0;
	return rc;
}

static void dir_rec_clear(struct acme_dir_rec *);
static const struct colmap dir_cols[] = {
	COL_STR(struct acme_dir_rec, directory_url),
	COL_STR(struct acme_dir_rec, ca_file),
};
static const struct rowmap dir_rows =
    ROWMAP(struct acme_dir_rec, dir_cols, dir_rec_clear);

static void
dir_rec_clear(struct acme_dir_rec *d)
{
	free(d->directory_url);
	free(d->ca_file);
	d->directory_url = d->ca_file = NULL;
}

int
store_acme_directories(struct db *db, struct acme_dir_rec **out, size_t *n)
{
	void *v = NULL;
	int rc;

	rc = q_many(db, STMT_ACME_DIRECTORIES, NULL, &dir_rows, &v, n);
	*out = v;
	return rc;
}

void
store_acme_directories_free(struct acme_dir_rec *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		dir_rec_clear(&v[i]);
	free(v);
}

int
store_acme_probe_record(struct db *db, const char *url, bool ok,
    const char *error)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, url);
	q_bool(&p, ok);
	q_text(&p, error);
	return q_command(db, STMT_ACME_PROBE_RECORD, &p);
}

int
store_worker_seen(struct db *db, const char *host, const char *class, int pid)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, host);
	q_text(&p, class);
	q_i64(&p, pid);
	return q_command(db, STMT_WORKER_SEEN, &p);
}

static const struct colmap health_cols[] = {
	COL_I64(struct health_rec, worker_age),
	COL_I64(struct health_rec, acme_total),
	COL_I64(struct health_rec, acme_ok),
	COL_I64(struct health_rec, acme_age),
};
static const struct rowmap health_rows =
    ROWMAP(struct health_rec, health_cols, NULL);

int
store_health(struct db *db, struct health_rec *h)
{
	memset(h, 0, sizeof(*h));
	return q_one(db, STMT_HEALTH_WORKER_ACME, NULL, &health_rows, h);
}

int
store_job_park(struct db *db, int64_t id, const char *owner, int delay_s,
    const char *why)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, id);
	q_text(&p, owner);
	q_i64(&p, delay_s);
	q_text(&p, why);
	if ((rc = q_exec(db, STMT_JOB_PARK, &p, &res)) == 0 &&
	    strcmp(PQcmdTuples(res), "1") != 0)
		rc = -FP_E_NOTFOUND;
	PQclear(res);
	return rc;
}

int
store_job_fail_final(struct db *db, int64_t id, const char *owner,
    const char *why)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, id);
	q_text(&p, owner);
	q_text(&p, why);
	if ((rc = q_exec(db, STMT_JOB_FAIL_FINAL, &p, &res)) == 0 &&
	    strcmp(PQcmdTuples(res), "1") != 0)
		rc = -FP_E_NOTFOUND;
	PQclear(res);
	return rc;
}
