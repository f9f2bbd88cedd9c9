/*
 * store: what is not one entity's: opening the process's connection,
 * the health ping and transactions.  The entities live one per file
 * beside this one (tenant.c, ca.c, cert.c, ...), all over the query
 * helper of store_internal.h.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/store.h"
#include "store_internal.h"

/*
 * The store is the connection: struct db stays opaque to the front,
 * the worker and the CLI, so none of them needs libpq's header.
 */
struct db *
store_open(const char *conninfo, int connect_timeout)
{
	return db_new(conninfo, connect_timeout);
}

void
store_async_commit(struct db *db)
{
	db_async_commit(db);
}

int
store_ready(struct db *db)
{
	return db_ready(db);
}

void
store_close(struct db *db)
{
	db_free(db);
}

int
store_ping(struct db *db)
{
	return q_command(db, STMT_PING, NULL);
}

void
store_set_tenant(struct db *db, int64_t tenant_id)
{
	db_set_tenant(db, tenant_id);
}

int64_t
store_tenant(const struct db *db)
{
	return db_tenant(db);
}

/* ---- transactions ------------------------------------------------ */

long
store_tx_backoff_us(int attempt, unsigned rnd)
{
	long base;

	if (attempt < 1)
		attempt = 1;
	if (attempt > 8)
		attempt = 8; /* STORE_TX_ATTEMPTS is far below: a cap */
	base = (long)STORE_TX_BASE_US << (attempt - 1);
	return base + (long)(rnd % (unsigned)(base + 1));
}

/*
 * Jitter only has to differ between processes, not be unpredictable:
 * a xorshift seeded from the pid and the clock, no CSPRNG draw.
 */
static unsigned
tx_jitter(void)
{
	static unsigned state;

	if (state == 0)
		state = (unsigned)getpid() ^ (unsigned)time(NULL) ^ 0x9e3779b9u;
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return state;
}

int
store_tx(struct db *db, store_tx_fn fn, void *arg)
{
	struct timespec pause;
	long us;
	int rc, attempt;

	/*
	 * Flatten nesting: an inner unit of work belongs to the outer
	 * transaction (savepoints would let it fail alone, but no caller
	 * wants half of a composed change).
	 */
	if (db_in_tx(db))
		return fn(db, arg);
	for (attempt = 1;; attempt++) {
		if ((rc = db_begin(db)) != 0)
			return rc;
		rc = fn(db, arg);
		if (rc == 0 && db_tx_failed(db)) {
			/* fn went on after a failed statement: nothing holds. */
			log_err(
			    "transaction continued after a failed statement");
			rc = -FP_E_INTERNAL;
		}
		if (rc == 0)
			rc = db_commit(db);
		db_rollback(db); /* no-op after COMMIT */
		if (rc == 0 || !db_tx_retryable(db) ||
		    attempt >= STORE_TX_ATTEMPTS)
			break;
		us = store_tx_backoff_us(attempt, tx_jitter());
		log_info(
		    "transaction conflicted (try %d of %d); again in %ld us",
		    attempt, STORE_TX_ATTEMPTS, us);
		pause.tv_sec = us / 1000000;
		pause.tv_nsec = (us % 1000000) * 1000;
		(void)nanosleep(&pause, NULL);
	}
	return rc;
}
