/*
 * db: one PostgreSQL connection per process, with every named statement
 * prepared once per connection (pgbouncer-style: the process never
 * formats SQL text).  Only the store includes this header.
 *
 * A connection that breaks (the database restarted) is dropped, and the
 * next db_ready() connects again; a statement that fails because the
 * connection broke outside a transaction is retried once on a fresh one.
 * While the database cannot be reached, calls return -FP_E_UNAVAILABLE
 * quickly (connect_timeout), never hang.
 */
#ifndef FLEETPKI_DB_H
#define FLEETPKI_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "fleetpki/statements.h"

struct db;

/* No connection is made yet; db_ready() makes it. */
struct db	*db_new(const char *conninfo, int connect_timeout);
void		 db_free(struct db *);

/* Connect and prepare if needed.  0 or -FP_E_UNAVAILABLE. */
int		 db_ready(struct db *);
/*
 * This connection's commits (and every later one's, after a reconnect)
 * return before the WAL reaches the disk: a database crash may lose the
 * last few hundred milliseconds of them, never half of one.  Only for
 * records whose loss repeats work rather than losing it (store.h,
 * store_async_commit).  Outside a transaction.
 */
void		 db_async_commit(struct db *);

/*
 * Execute statement 'id' with 'n' text parameters (NULL = SQL NULL).
 * On success '*res' holds the result (PQclear it) and 0 is returned.
 * A unique violation is -FP_E_CONFLICT, a lost connection
 * -FP_E_UNAVAILABLE, any other failure -FP_E_INTERNAL (logged).
 */
int		 db_exec(struct db *, enum stmt_id id, int n,
		    const char *const *values, PGresult **res);
/* Same, with lengths and formats per parameter (1 = binary). */
int		 db_exec_params(struct db *, enum stmt_id id, int n,
		    const char *const *values, const int *lengths,
		    const int *formats, PGresult **res);

/*
 * The tenant the next statements run for (0: none), sql/005's
 * fleetpki.tenant.  It is never a session setting: a statement outside
 * a transaction runs as set_config(tenant, local) and the statement in
 * one pipelined round trip (one implicit transaction), and db_begin
 * sets it right after BEGIN in the same round trip, so it ends with the
 * transaction whatever happens.  Skipped where the database has no
 * policy reading it (see db_probe_row_security in db.c).
 */
void		 db_set_tenant(struct db *, int64_t tenant_id);
int64_t		 db_tenant(const struct db *);

/*
 * Transactions on this connection (store_tx in store.c is the one
 * user).  db_begin refuses (-FP_E_INTERNAL) while one is open;
 * db_commit fails with -FP_E_INTERNAL when a statement of the
 * transaction failed (PostgreSQL then rolls back), -FP_E_UNAVAILABLE on
 * a serialization failure or a lost connection.
 */
int		 db_begin(struct db *);
int		 db_commit(struct db *);
/* Roll back if a transaction is open; safe to call on any path. */
void		 db_rollback(struct db *);
/* A transaction is open on this connection. */
bool		 db_in_tx(const struct db *);
/* A statement of the open (or last) transaction failed. */
bool		 db_tx_failed(const struct db *);
/*
 * That failure was a serialization failure or a deadlock, so running
 * the whole transaction again may succeed.
 */
bool		 db_tx_retryable(const struct db *);
/* SQLSTATE 40001 or 40P01. */
bool		 db_state_retryable(const char *sqlstate);

/*
 * Run a whole SQL script (migrations only: their text comes from the
 * installed sql/ files, never from a request).
 */
int		 db_exec_script(struct db *, const char *sql, char **err);

/* Raw connection for the migration runner's advisory lock. */
PGconn		*db_conn(struct db *);

#endif
