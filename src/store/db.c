/*
 * db: the process's PostgreSQL connection, with lazy preparation of the
 * named statements and reconnection after the database restarts.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/db.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/util.h"

struct db {
	char *conninfo;
	char timeout[16];
	PGconn *conn;
	bool in_tx;
	/*
	 * Set by a failed statement inside a transaction: PostgreSQL has
	 * aborted it, so COMMIT would only roll back (and say "ROLLBACK"
	 * with success status).  store_tx refuses to report success then.
	 */
	bool tx_failed;
	/* The failure was a serialization failure or deadlock: retry. */
	bool tx_retry;
	bool prepared[STMT__COUNT];
	bool down_logged; /* log an outage once, not per request */
	/*
	 * The tenant statements run for (db_set_tenant), 0 for none, as
	 * the decimal text set_config takes.  Client-side only: the server
	 * hears of it inside each transaction, never for the session.
	 */
	int64_t tenant;
	char tenant_text[24];
	/* The database has the row-level security wall on (sql/005). */
	bool row_security;
	/* Commits return before the WAL is flushed (db_async_commit). */
	bool async_commit;
	/* A connection was made before: the next one is a reconnect. */
	bool ever_connected;
};

/*
 * Whether any table has the tenant policy on (sql/005), asked once per
 * connection.  Where none has, setting the tenant would change nothing
 * a statement sees, so the round trip's extra work is skipped: a
 * database before migration 005, or one whose policies an operator
 * turned off (bench/run compares both).  A failed probe counts as on:
 * setting the tenant where it is not needed costs a little, not
 * setting it where it is needed hides every row (it never shows more).
 */
static void
db_probe_row_security(struct db *db)
{
	PGresult *res;

	res = PQexecParams(db->conn, stmt_sql(STMT_ROW_SECURITY), 0, NULL, NULL,
	    NULL, NULL, 0);
	db->row_security = PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 'f';
	PQclear(res);
}

/*
 * Lazy: daemons open their store before the database may be up (boot
 * order, a restarting cluster) and must still start and answer 503.
 */
struct db *
db_new(const char *conninfo, int connect_timeout)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->conninfo = xstrdup(conninfo);
	snprintf(db->timeout, sizeof(db->timeout), "%d", connect_timeout);
	return db;
}

/*
 * Forget the connection and what was prepared on it: prepared
 * statements live in the server session, so a new connection must
 * prepare them again.
 */
static void
db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->in_tx)
		db->tx_failed = true; /* the transaction died with it */
	db->in_tx = false;
	memset(db->prepared, 0, sizeof(db->prepared));
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_drop(db);
	free(db->conninfo);
	free(db);
}

int
db_ready(struct db *db)
{
	/* The conninfo may be a URI or key=value text: expand_dbname. */
	const char *const keys[] = { "dbname", "connect_timeout",
		"application_name", NULL };
	const char *const vals[] = { db->conninfo, db->timeout, "fleetpki",
		NULL };

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	db_drop(db);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		metrics_db(METRICS_DB_CONNECT);
		if (!db->down_logged)
			log_warn("database unavailable: %s",
			    db->conn != NULL ? PQerrorMessage(db->conn)
			                     : "out of memory");
		db->down_logged = true;
		db_drop(db);
		return -FP_E_UNAVAILABLE;
	}
	if (db->down_logged)
		log_info("database connection restored");
	db->down_logged = false;
	if (db->ever_connected)
		metrics_db_reconnect();
	db->ever_connected = true;
	db_probe_row_security(db);
	if (db->async_commit) {
		PGresult *res = PQexecParams(db->conn,
		    stmt_sql(STMT_ASYNC_COMMIT), 0, NULL, NULL, NULL, NULL, 0);

		/* Only speed is lost: commits stay durable. */
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			log_warn("synchronous_commit = off refused: %s",
			    PQresultErrorMessage(res));
		PQclear(res);
	}
	return 0;
}

void
db_async_commit(struct db *db)
{
	db->async_commit = true;
	db_drop(db); /* the next connection gets the setting */
}

bool
db_state_retryable(const char *state)
{
	/* serialization_failure, deadlock_detected */
	return state != NULL &&
	    (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0);
}

/*
 * Map a failed result to an error code, logging what is unexpected.
 * Inside a transaction, remember that it is aborted and whether trying
 * it again may succeed: the error code alone cannot say, since a
 * serialization failure and an outage are both -FP_E_UNAVAILABLE to
 * the caller.
 */
static int
db_result_error(struct db *db, enum stmt_id id, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (db->in_tx) {
		/* The first failure counts; later ones only say "aborted". */
		if (!db->tx_failed)
			db->tx_retry = db_state_retryable(state);
		db->tx_failed = true;
	}
	if (state != NULL && strcmp(state, "23505") == 0)
		return -FP_E_CONFLICT; /* unique_violation */
	if (state != NULL && strncmp(state, "22", 2) == 0)
		return -FP_E_BADREQ; /* data exception: bad input */
	metrics_db(METRICS_DB_STATEMENT);
	if (db_state_retryable(state)) {
		log_info("statement %s: %s", stmt_name(id),
		    PQresultErrorMessage(res));
		return -FP_E_UNAVAILABLE; /* transient: try again */
	}
	log_err("statement %s failed: %s", stmt_name(id),
	    PQresultErrorMessage(res));
	return -FP_E_INTERNAL;
}

void
db_set_tenant(struct db *db, int64_t tenant_id)
{
	PGresult *res = NULL;
	const char *v[1];

	if (tenant_id < 0)
		tenant_id = 0;
	if (tenant_id == db->tenant)
		return;
	db->tenant = tenant_id;
	snprintf(db->tenant_text, sizeof(db->tenant_text), "%" PRId64,
	    tenant_id);
	/*
	 * Inside a transaction the tenant was set after BEGIN: change it
	 * there too (no caller does today; a stale tenant must not stay).
	 * A failure aborts the transaction, which store_tx then reports.
	 */
	if (db->in_tx && db->row_security) {
		v[0] = tenant_id > 0 ? db->tenant_text : "";
		if (db_exec(db, STMT_SET_TENANT, 1, v, &res) == 0)
			PQclear(res);
	}
}

int64_t
db_tenant(const struct db *db)
{
	return db->tenant;
}

/* The next result of a pipeline, and the NULL that ends it. */
static PGresult *
pipe_next(PGconn *conn)
{
	PGresult *res = PQgetResult(conn), *end;

	if (res != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC &&
	    (end = PQgetResult(conn)) != NULL)
		PQclear(end); /* never: one result per command */
	return res;
}

/*
 * The tenant's statements in one round trip, in libpq's pipeline mode:
 * set_config('fleetpki.tenant', tenant, true), then statement 'id'
 * (preparing either first when this connection has not yet), then one
 * sync.  Everything before a sync is one implicit transaction (libpq,
 * "Pipeline Mode"; the protocol's Sync ends it), so the setting is
 * local to it: it holds for the statement and is gone after, and a
 * failure rolls back the whole.  With 'begin' the pipeline is BEGIN
 * and set_config (store_tx's transaction, 'id' unused): the setting then
 * lasts until COMMIT or ROLLBACK.
 *
 * Returns what to judge: the first result that failed, else the
 * statement's (the set_config one's with 'begin'); NULL when the
 * connection broke.  The caller PQclears it.
 */
static PGresult *
db_pipeline(struct db *db, bool begin, enum stmt_id id, int n,
    const char *const *values, const int *lengths, const int *formats)
{
	enum { P_BEGIN, P_PREP_SET, P_SET, P_PREP, P_EXEC };
	PGconn *conn = db->conn;
	const char *tv[1] = { db->tenant_text };
	PGresult *res, *keep = NULL, *failed = NULL;
	int sent[5], nsent = 0, i, ok = 1;
	ExecStatusType st;

	if (PQenterPipelineMode(conn) != 1) {
		db_drop(db); /* not idle: a state nothing else leaves */
		return NULL;
	}
	if (begin) {
		ok &= PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL,
		    NULL, 0);
		sent[nsent++] = P_BEGIN;
	}
	if (!db->prepared[STMT_SET_TENANT]) {
		ok &= PQsendPrepare(conn, stmt_name(STMT_SET_TENANT),
		    stmt_sql(STMT_SET_TENANT), 0, NULL);
		sent[nsent++] = P_PREP_SET;
	}
	ok &= PQsendQueryPrepared(conn, stmt_name(STMT_SET_TENANT), 1, tv, NULL,
	    NULL, 0);
	sent[nsent++] = P_SET;
	if (!begin && !db->prepared[id]) {
		ok &= PQsendPrepare(conn, stmt_name(id), stmt_sql(id), 0, NULL);
		sent[nsent++] = P_PREP;
	}
	if (!begin) {
		ok &= PQsendQueryPrepared(conn, stmt_name(id), n, values,
		    lengths, formats, 0);
		sent[nsent++] = P_EXEC;
	}
	ok &= PQpipelineSync(conn);
	if (ok != 1) {
		db_drop(db); /* only a broken connection refuses to send */
		return NULL;
	}
	for (i = 0; i < nsent; i++) {
		if ((res = pipe_next(conn)) == NULL)
			goto broken;
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (sent[i] == P_PREP_SET)
				db->prepared[STMT_SET_TENANT] = true;
			else if (sent[i] == P_PREP)
				db->prepared[id] = true;
			if (sent[i] == (begin ? P_SET : P_EXEC)) {
				keep = res;
				continue;
			}
			PQclear(res);
		} else if (failed == NULL && st != PGRES_PIPELINE_ABORTED) {
			failed = res; /* the cause; later ones only "aborted" */
		} else {
			PQclear(res);
		}
	}
	if ((res = pipe_next(conn)) == NULL)
		goto broken;
	st = PQresultStatus(res);
	PQclear(res);
	if (st != PGRES_PIPELINE_SYNC || PQexitPipelineMode(conn) != 1)
		goto broken;
	if (failed != NULL) {
		PQclear(keep);
		return failed;
	}
	return keep;
broken:
	PQclear(keep);
	PQclear(failed);
	db_drop(db);
	return NULL;
}

/* Statements of a tenant outside a transaction go through db_pipeline. */
static bool
db_scoped(const struct db *db)
{
	return db->tenant > 0 && db->row_security && !db->in_tx;
}

int
db_exec_params(struct db *db, enum stmt_id id, int n, const char *const *values,
    const int *lengths, const int *formats, PGresult **out)
{
	PGresult *res = NULL;
	ExecStatusType st;
	int attempt, rc = -FP_E_UNAVAILABLE;

	*out = NULL;
	/*
	 * A connection the database closed (restart, failover) is only
	 * noticed when used.  Outside a transaction nothing was done on it,
	 * so one retry on a fresh connection is safe; inside one the
	 * transaction is lost and the caller must see that.
	 */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = db_ready(db)) != 0)
			return rc;
		if (db_scoped(db)) {
			res = db_pipeline(db, false, id, n, values, lengths,
			    formats);
			if (res == NULL) {
				metrics_db(METRICS_DB_CONNECTION_LOST);
				log_warn("database connection lost during %s",
				    stmt_name(id));
				continue; /* dropped: once more, as below */
			}
		} else if (!db->prepared[id]) {
			res = PQprepare(db->conn, stmt_name(id), stmt_sql(id),
			    0, NULL);
			if (PQresultStatus(res) == PGRES_COMMAND_OK) {
				db->prepared[id] = true;
				PQclear(res);
				res = NULL;
			}
		}
		if (res == NULL)
			res = PQexecPrepared(db->conn, stmt_name(id), n, values,
			    lengths, formats, 0);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			*out = res;
			return 0;
		}
		if (PQstatus(db->conn) != CONNECTION_BAD) {
			rc = db_result_error(db, id, res);
			PQclear(res);
			return rc;
		}
		PQclear(res);
		res = NULL;
		metrics_db(METRICS_DB_CONNECTION_LOST);
		log_warn("database connection lost during %s", stmt_name(id));
		if (db->in_tx) {
			db_drop(db);
			return -FP_E_UNAVAILABLE;
		}
		db_drop(db);
	}
	return -FP_E_UNAVAILABLE;
}

int
db_exec(struct db *db, enum stmt_id id, int n, const char *const *values,
    PGresult **res)
{
	return db_exec_params(db, id, n, values, NULL, NULL, res);
}

/* A fixed command (BEGIN, COMMIT, ROLLBACK): no parameters, no text. */
static int
db_command(struct db *db, const char *cmd)
{
	PGresult *res;
	int rc = 0;

	res = PQexec(db->conn, cmd);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (PQstatus(db->conn) == CONNECTION_BAD) {
			rc = -FP_E_UNAVAILABLE;
			db_drop(db);
		} else {
			const char *state =
			    PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* A serialization failure may surface at COMMIT. */
			if (db->in_tx && !db->tx_failed)
				db->tx_retry = db_state_retryable(state);
			db->tx_failed = db->in_tx;
			rc = db_state_retryable(state) ? -FP_E_UNAVAILABLE
			                               : -FP_E_INTERNAL;
			log_err("%s failed: %s", cmd,
			    PQresultErrorMessage(res));
		}
	} else if (strcmp(cmd, "COMMIT") == 0 &&
	    strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of an aborted transaction rolls back "successfully". */
		log_err("COMMIT rolled back an aborted transaction");
		rc = -FP_E_INTERNAL;
	}
	PQclear(res);
	return rc;
}

/*
 * BEGIN and the tenant in one round trip; the setting lasts until the
 * transaction ends.  A set_config that fails leaves an aborted
 * transaction, rolled back here: store_tx does not roll back a
 * transaction whose BEGIN failed.
 */
static int
db_begin_scoped(struct db *db)
{
	PGresult *res;
	int rc;

	res = db_pipeline(db, true, STMT_SET_TENANT, 0, NULL, NULL, NULL);
	if (res == NULL) {
		metrics_db(METRICS_DB_CONNECTION_LOST);
		log_warn("database connection lost at BEGIN");
		return -FP_E_UNAVAILABLE;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		PQclear(res);
		db->in_tx = true;
		return 0;
	}
	rc = db_result_error(db, STMT_SET_TENANT, res);
	PQclear(res);
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
	return rc;
}

/*
 * BEGIN connects first (db_ready): a transaction never starts on a
 * dead connection, so its first statement cannot be "retried once" by
 * db_exec_params into a session that lacks the BEGIN.
 */
int
db_begin(struct db *db)
{
	int rc;

	/* Nesting would silently join the outer transaction: refuse. */
	if (db->in_tx) {
		log_err("BEGIN inside a transaction");
		return -FP_E_INTERNAL;
	}
	if ((rc = db_ready(db)) != 0)
		return rc;
	db->tx_failed = false;
	db->tx_retry = false;
	if (db->tenant > 0 && db->row_security)
		return db_begin_scoped(db);
	if ((rc = db_command(db, "BEGIN")) == 0)
		db->in_tx = true;
	return rc;
}

int
db_commit(struct db *db)
{
	int rc;

	if (db->conn == NULL)
		return -FP_E_UNAVAILABLE;
	rc = db_command(db, "COMMIT");
	db->in_tx = false;
	return rc;
}

void
db_rollback(struct db *db)
{
	if (db->conn == NULL || !db->in_tx)
		return;
	(void)db_command(db, "ROLLBACK");
	db->in_tx = false;
}

/* PQexec: the simple protocol runs a multi-statement script at once. */
int
db_exec_script(struct db *db, const char *sql, char **err)
{
	PGresult *res;
	int rc = 0;

	if ((rc = db_ready(db)) != 0) {
		*err = xstrdup("database unavailable");
		return rc;
	}
	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		*err = xstrdup(PQresultErrorMessage(res));
		rc = -FP_E_INTERNAL;
	}
	PQclear(res);
	return rc;
}

bool
db_in_tx(const struct db *db)
{
	return db->in_tx;
}

bool
db_tx_failed(const struct db *db)
{
	return db->tx_failed;
}

bool
db_tx_retryable(const struct db *db)
{
	return db->tx_retry;
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}
