/*
 * store/webhook: webhooks and their deliveries (sql/021).  One
 * statement per call; the worker's calls go through sql/021's
 * functions, which check the caller's lease.
 *
 * store_webhook_wait listens on fleetpki_webhooks with the raw
 * connection, as store/notify.c does for the job queue (utility
 * commands and poll() on the socket): the webhook children of the
 * worker wait there instead of on the job channel, so a burst of
 * issuance wakes only them.
 */
#include "config.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/buf.h"
#include "fleetpki/db.h"
#include "fleetpki/log.h"
#include "fleetpki/store.h"
#include "fleetpki/store_tags.h"
#include "fleetpki/store_webhook.h"
#include "store_internal.h"

void
webhook_rec_clear(struct webhook_rec *r)
{
	free(r->url);
	free(r->types);
	free(r->disabled_reason);
	memset(r, 0, sizeof(*r));
}

static const struct colmap webhook_cols[] = {
	COL_I64(struct webhook_rec, id),
	COL_CHARS(struct webhook_rec, uid),
	COL_STR(struct webhook_rec, url),
	COL_STR(struct webhook_rec, types),
	COL_BOOL(struct webhook_rec, enabled),
	COL_STR(struct webhook_rec, disabled_reason),
	COL_I64(struct webhook_rec, created_at),
	COL_I64(struct webhook_rec, pending),
	COL_I64(struct webhook_rec, dead),
};
static const struct rowmap webhook_rows =
    ROWMAP(struct webhook_rec, webhook_cols, webhook_rec_clear);

struct i64_row {
	int64_t v;
};
static const struct colmap i64_cols[] = { COL_I64(struct i64_row, v) };
static const struct rowmap i64_rows = ROWMAP(struct i64_row, i64_cols, NULL);

int
store_webhook_by_url(struct db *db, int64_t tenant_id, const char *url,
    struct webhook_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, url);
	return q_one(db, STMT_WEBHOOK_BY_URL, &p, &webhook_rows, out);
}

int
store_webhook_count(struct db *db, int64_t tenant_id, int64_t *n)
{
	struct qparams p;
	struct i64_row r = { 0 };
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	rc = q_one(db, STMT_WEBHOOK_COUNT, &p, &i64_rows, &r);
	*n = r.v;
	return rc;
}

int
store_webhook_insert(struct db *db, int64_t tenant_id, const char *uid,
    const char *url, const char *type, const struct buf *token_sealed,
    const struct buf *secret_sealed, int64_t *id)
{
	struct qparams p;
	struct i64_row r = { 0 };
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, uid);
	q_text(&p, url);
	q_text(&p, type);
	q_bytea(&p, token_sealed);
	q_bytea(&p, secret_sealed);
	rc = q_one(db, STMT_WEBHOOK_INSERT, &p, &i64_rows, &r);
	*id = r.v;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_webhook_add_type(struct db *db, int64_t tenant_id, int64_t id,
    const char *type, const struct buf *token_sealed)
{
	struct qparams p;
	struct i64_row r;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, type);
	q_bytea(&p, token_sealed);
	return q_one(db, STMT_WEBHOOK_ADD_TYPE, &p, &i64_rows, &r);
}

int
store_webhook_set_token(struct db *db, int64_t tenant_id, int64_t id,
    const struct buf *token_sealed)
{
	struct qparams p;
	struct i64_row r;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_bytea(&p, token_sealed);
	return q_one(db, STMT_WEBHOOK_SET_TOKEN, &p, &i64_rows, &r);
}

int
store_webhook_delete(struct db *db, int64_t tenant_id, const char *url)
{
	struct qparams p;
	struct i64_row r;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, url);
	return q_one(db, STMT_WEBHOOK_DELETE, &p, &i64_rows, &r);
}

int
store_webhook_list(struct db *db, int64_t tenant_id, struct webhook_rec **out,
    size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	return q_many(db, STMT_WEBHOOK_LIST, &p, &webhook_rows, (void **)out,
	    n);
}

int
store_webhook_wake(struct db *db)
{
	return q_command(db, STMT_WEBHOOK_WAKE, NULL);
}

void
webhook_delivery_rec_clear(struct webhook_delivery_rec *r)
{
	free(r->url);
	free(r->last_error);
	memset(r, 0, sizeof(*r));
}

static const struct colmap delivery_cols[] = {
	COL_I64(struct webhook_delivery_rec, id),
	COL_I64(struct webhook_delivery_rec, event_id),
	COL_CHARS(struct webhook_delivery_rec, type),
	COL_STR(struct webhook_delivery_rec, url),
	COL_CHARS(struct webhook_delivery_rec, state),
	COL_INT(struct webhook_delivery_rec, attempts),
	COL_INT(struct webhook_delivery_rec, last_status),
	COL_STR(struct webhook_delivery_rec, last_error),
	COL_I64(struct webhook_delivery_rec, created_at),
	COL_I64(struct webhook_delivery_rec, last_attempt_at),
};
static const struct rowmap delivery_rows = ROWMAP(struct webhook_delivery_rec,
    delivery_cols, webhook_delivery_rec_clear);

int
store_webhook_deliveries(struct db *db, int64_t tenant_id, const char *state,
    int64_t after, int limit, struct webhook_delivery_rec **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, state);
	q_i64(&p, after);
	q_i64(&p, limit);
	return q_many(db, STMT_WEBHOOK_DELIVERIES, &p, &delivery_rows,
	    (void **)out, n);
}

int
store_webhook_replay(struct db *db, int64_t tenant_id, const int64_t *ids,
    size_t n, int64_t *replayed)
{
	struct qparams p;
	struct buf arr = { 0 };
	struct i64_row *rows = NULL;
	size_t i, got = 0;
	int rc;

	buf_puts(&arr, "{");
	for (i = 0; i < n; i++)
		buf_printf(&arr, "%s%lld", i > 0 ? "," : "", (long long)ids[i]);
	buf_puts(&arr, "}");
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, (const char *)arr.data);
	rc = q_many(db, STMT_WEBHOOK_REPLAY, &p, &i64_rows, (void **)&rows,
	    &got);
	free(rows);
	buf_free(&arr);
	*replayed = (int64_t)got;
	if (rc == 0 && got > 0)
		rc = store_webhook_wake(db);
	return rc;
}

/* ---- the worker's side ------------------------------------------- */

void
webhook_claim_clear(struct webhook_claim *c)
{
	free(c->url);
	buf_free(&c->token_sealed);
	buf_free(&c->secret_sealed);
	memset(c, 0, sizeof(*c));
}

static const struct colmap claim_cols[] = {
	COL_I64(struct webhook_claim, id),
	COL_I64(struct webhook_claim, tenant_id),
	COL_CHARS(struct webhook_claim, uid),
	COL_STR(struct webhook_claim, url),
	COL_BYTEA(struct webhook_claim, token_sealed),
	COL_BYTEA(struct webhook_claim, secret_sealed),
};
static const struct rowmap claim_rows =
    ROWMAP(struct webhook_claim, claim_cols, webhook_claim_clear);

int
store_webhook_claim(struct db *db, const char *owner, int lease_s,
    struct webhook_claim *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_text(&p, owner);
	q_i64(&p, lease_s);
	return q_one(db, STMT_WEBHOOK_CLAIM, &p, &claim_rows, out);
}

void
webhook_send_clear(struct webhook_send *s)
{
	free(s->body);
	memset(s, 0, sizeof(*s));
}

static const struct colmap send_cols[] = {
	COL_I64(struct webhook_send, id),
	COL_I64(struct webhook_send, event_id),
	COL_STR(struct webhook_send, body),
	COL_INT(struct webhook_send, attempts),
	COL_I64(struct webhook_send, created_ms),
};
static const struct rowmap send_rows =
    ROWMAP(struct webhook_send, send_cols, webhook_send_clear);

int
store_webhook_next(struct db *db, int64_t webhook_id, const char *owner,
    int limit, struct webhook_send **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, webhook_id);
	q_text(&p, owner);
	q_i64(&p, limit);
	return q_many(db, STMT_WEBHOOK_NEXT, &p, &send_rows, (void **)out, n);
}

struct state_row {
	char state[16];
};
static const struct colmap state_cols[] = { COL_CHARS(struct state_row,
    state) };
static const struct rowmap state_rows =
    ROWMAP(struct state_row, state_cols, NULL);

int
store_webhook_result(struct db *db, int64_t id, const char *owner, int lease_s,
    enum webhook_outcome outcome, int status, const char *error, int retry_s,
    int max_attempts, char *state, size_t statelen)
{
	static const char *const names[] = { "ok", "retry", "gone" };
	struct state_row r;
	struct qparams p;
	int rc;

	memset(&r, 0, sizeof(r));
	q_init(&p);
	q_i64(&p, id);
	q_text(&p, owner);
	q_i64(&p, lease_s);
	q_text(&p, names[outcome]);
	q_i64(&p, status);
	q_text(&p, error);
	q_i64(&p, retry_s);
	q_i64(&p, max_attempts);
	rc = q_one(db, STMT_WEBHOOK_RESULT, &p, &state_rows, &r);
	snprintf(state, statelen, "%s", rc == 0 ? r.state : "");
	return rc;
}

int
store_webhook_release(struct db *db, int64_t webhook_id, const char *owner)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, webhook_id);
	q_text(&p, owner);
	return q_command(db, STMT_WEBHOOK_RELEASE, &p);
}

int
store_webhook_next_due_ms(struct db *db, int64_t *ms)
{
	struct i64_row r = { -1 };
	int rc;

	rc = q_one(db, STMT_WEBHOOK_NEXT_DUE, NULL, &i64_rows, &r);
	*ms = rc == 0 ? r.v : -1;
	return rc;
}

/* The connection we listen on (one per process; see store/notify.c). */
static PGconn *wh_conn;
static int wh_pid;

static int
wh_drain(PGconn *conn)
{
	PGnotify *n;
	int count = 0;

	while ((n = PQnotifies(conn)) != NULL) {
		count++;
		PQfreemem(n);
	}
	return count;
}

static void
wh_sleep(int ms)
{
	if (ms > 0)
		(void)poll(NULL, 0, ms);
}

int
store_webhook_wait(struct db *db, int timeout_ms)
{
	struct pollfd pfd;
	PGresult *res;
	PGconn *conn;
	int r, ok;

	if (db_ready(db) != 0 || (conn = db_conn(db)) == NULL) {
		wh_sleep(timeout_ms);
		return 0;
	}
	if (conn != wh_conn || PQbackendPID(conn) != wh_pid) {
		res = PQexec(conn, "LISTEN fleetpki_webhooks");
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_warn("LISTEN: %s", PQerrorMessage(conn));
		PQclear(res);
		if (!ok) {
			wh_sleep(timeout_ms);
			return 0;
		}
		wh_conn = conn;
		wh_pid = PQbackendPID(conn);
		/* Whatever was written while we were not listening: look. */
		return 1;
	}
	if (PQconsumeInput(conn) == 1 && wh_drain(conn) > 0)
		return 1;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0) {
		wh_sleep(timeout_ms);
		return 0;
	}
	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return 0;
	if (PQconsumeInput(conn) != 1) {
		log_warn("webhook wait: %s", PQerrorMessage(conn));
		wh_sleep(timeout_ms < 1000 ? timeout_ms : 1000);
		return 1;
	}
	return wh_drain(conn) > 0;
}
