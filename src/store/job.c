/*
 * store/job: the job queue of fleetpki-worker (sql/004_jobs.sql).  The
 * queue's correctness lives in its statements: the claim's FOR UPDATE
 * SKIP LOCKED, the lease, the unique partial index that makes
 * enqueueing idempotent.  This file binds their parameters and reads
 * their rows; store/notify.c waits for the NOTIFY that enqueueing sends.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/buf.h"
#include "fleetpki/store.h"
#include "store_internal.h"

/* SQL_JOB_COLS, in its order. */
static const struct colmap job_cols[] = {
	COL_I64(struct job_rec, id),
	COL_CHARS(struct job_rec, kind),
	COL_STR(struct job_rec, key),
	COL_I64(struct job_rec, tenant_id),
	COL_STR(struct job_rec, args),
	COL_CHARS(struct job_rec, state),
	COL_INT(struct job_rec, attempts),
	COL_INT(struct job_rec, max_attempts),
	COL_I64(struct job_rec, run_at),
	COL_I64(struct job_rec, lease_until),
	COL_STR(struct job_rec, locked_by),
	COL_STR(struct job_rec, last_error),
	COL_I64(struct job_rec, created_at),
	COL_I64(struct job_rec, updated_at),
	COL_I64(struct job_rec, finished_at),
};
static const struct rowmap job_rows =
    ROWMAP(struct job_rec, job_cols, job_rec_clear);

/* Statements that return one bigint (an id) or nothing. */
struct id_row {
	int64_t id;
};
static const struct colmap id_cols[] = {
	COL_I64(struct id_row, id),
};
static const struct rowmap id_rows = ROWMAP(struct id_row, id_cols, NULL);

/* JOB_FAIL returns the state it left the job in. */
struct state_row {
	char state[16];
};
static const struct colmap state_cols[] = {
	COL_CHARS(struct state_row, state),
};
static const struct rowmap state_rows =
    ROWMAP(struct state_row, state_cols, NULL);

void
job_rec_clear(struct job_rec *j)
{
	free(j->key);
	free(j->args);
	free(j->locked_by);
	free(j->last_error);
	j->key = j->args = j->locked_by = j->last_error = NULL;
}

void
store_job_list_free(struct job_rec *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		job_rec_clear(&v[i]);
	free(v);
}

/*
 * The kinds as a text[] literal, "{a,b}".  Kind names are [a-z0-9_.]
 * (the table's CHECK, and the worker's table of kinds), so nothing
 * needs quoting; anything else is refused rather than escaped.
 */
static int
kinds_literal(const char *const *kinds, size_t n, struct buf *out)
{
	size_t i;

	buf_puts(out, "{");
	for (i = 0; i < n; i++) {
		if (kinds[i][0] == '\0' ||
		    strspn(kinds[i],
		        "abcdefghijklmnopqrstuvwxyz0123456789_.") !=
		        strlen(kinds[i]))
			return -FP_E_INTERNAL;
		if (i > 0)
			buf_puts(out, ",");
		buf_puts(out, kinds[i]);
	}
	buf_puts(out, "}");
	return 0;
}

/* "no row" from an idempotent INSERT is success with id 0. */
static int
id_or_zero(int rc, const struct id_row *r, int64_t *id)
{
	*id = rc == 0 ? r->id : 0;
	return rc == -FP_E_NOTFOUND ? 0 : rc;
}

int
store_job_enqueue(struct db *db, const char *kind, const char *key,
    int64_t tenant_id, const char *args, int delay_s, int max_attempts,
    int64_t *id)
{
	struct id_row r = { 0 };
	struct qparams p;

	q_init(&p);
	q_text(&p, kind);
	q_text(&p, key != NULL ? key : "");
	q_i64_or_null(&p, tenant_id);
	q_text(&p, args != NULL ? args : "{}");
	q_i64(&p, delay_s);
	q_i64(&p, max_attempts);
	return id_or_zero(q_one(db, STMT_JOB_ENQUEUE, &p, &id_rows, &r), &r,
	    id);
}

int
store_job_schedule(struct db *db, const char *kind, int every_s,
    int max_attempts, int64_t *id)
{
	struct id_row r = { 0 };
	struct qparams p;

	q_init(&p);
	q_text(&p, kind);
	q_i64(&p, every_s);
	q_i64(&p, max_attempts);
	return id_or_zero(q_one(db, STMT_JOB_SCHEDULE, &p, &id_rows, &r), &r,
	    id);
}

int
store_job_reap(struct db *db)
{
	return q_command(db, STMT_JOB_REAP, NULL);
}

int
store_job_claim(struct db *db, const char *const *kinds, size_t nkinds,
    int lease_s, const char *owner, struct job_rec *job)
{
	struct buf lit = BUF_INIT;
	struct qparams p;
	int rc;

	memset(job, 0, sizeof(*job));
	if ((rc = kinds_literal(kinds, nkinds, &lit)) != 0)
		goto out;
	q_init(&p);
	q_text(&p, (const char *)lit.data);
	q_i64(&p, lease_s);
	q_text(&p, owner);
	rc = q_one(db, STMT_JOB_CLAIM, &p, &job_rows, job);
out:
	buf_free(&lit);
	return rc;
}

int
store_job_done(struct db *db, int64_t id, const char *owner)
{
	struct qparams p;
	PGresult *res = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, id);
	q_text(&p, owner);
	if ((rc = q_exec(db, STMT_JOB_DONE, &p, &res)) != 0)
		goto out;
	/* No row updated: the lease ran out and someone else holds it. */
	if (strcmp(PQcmdTuples(res), "1") != 0)
		rc = -FP_E_NOTFOUND;
out:
	PQclear(res);
	return rc;
}

int
store_job_fail(struct db *db, int64_t id, const char *owner, const char *error,
    int backoff_s, bool *final)
{
	struct state_row r = { "" };
	struct qparams p;
	int rc;

	*final = false;
	q_init(&p);
	q_i64(&p, id);
	q_text(&p, owner);
	q_text(&p, error);
	q_i64(&p, backoff_s);
	if ((rc = q_one(db, STMT_JOB_FAIL, &p, &state_rows, &r)) == 0)
		*final = strcmp(r.state, "failed") == 0;
	return rc;
}

int
store_job_next_due_ms(struct db *db, const char *const *kinds, size_t nkinds,
    int64_t *ms)
{
	struct id_row r = { -1 };
	struct buf lit = BUF_INIT;
	struct qparams p;
	int rc;

	*ms = -1;
	if ((rc = kinds_literal(kinds, nkinds, &lit)) != 0)
		goto out;
	q_init(&p);
	q_text(&p, (const char *)lit.data);
	if ((rc = q_one(db, STMT_JOB_NEXT_DUE, &p, &id_rows, &r)) == 0)
		*ms = r.id;
out:
	buf_free(&lit);
	return rc;
}

int
store_job_prune(struct db *db)
{
	return q_command(db, STMT_JOB_PRUNE, NULL);
}

int
store_job_list(struct db *db, int limit, struct job_rec **out, size_t *n)
{
	struct qparams p;
	void *v = NULL;
	int rc;

	q_init(&p);
	q_i64(&p, limit);
	rc = q_many(db, STMT_JOB_LIST, &p, &job_rows, &v, n);
	*out = v;
	return rc;
}

int
store_job_get(struct db *db, int64_t id, struct job_rec *job)
{
	struct qparams p;

	memset(job, 0, sizeof(*job));
	q_init(&p);
	q_i64(&p, id);
	return q_one(db, STMT_JOB_GET, &p, &job_rows, job);
}

int
store_job_retry(struct db *db, int64_t id)
{
	struct id_row r = { 0 };
	struct qparams p;

	q_init(&p);
	q_i64(&p, id);
	return q_one(db, STMT_JOB_RETRY, &p, &id_rows, &r);
}
