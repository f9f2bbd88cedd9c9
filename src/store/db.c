/*
 * db: the process's PostgreSQL connection, with lazy preparation of the
 * named statements and reconnection after the database restarts.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/db.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
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
};

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
	return 0;
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
	if (db_state_retryable(state)) {
		log_info("statement %s: %s", stmt_name(id),
		    PQresultErrorMessage(res));
		return -FP_E_UNAVAILABLE; /* transient: try again */
	}
	log_err("statement %s failed: %s", stmt_name(id),
	    PQresultErrorMessage(res));
	return -FP_E_INTERNAL;
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
		if (!db->prepared[id]) {
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
