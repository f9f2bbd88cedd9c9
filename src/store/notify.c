/*
 * store/notify: LISTEN/NOTIFY for the job queue.  Enqueueing a job
 * makes PostgreSQL notify channel fleetpki_jobs at commit (a trigger,
 * sql/004_jobs.sql); a waiting worker wakes at once instead of at its
 * next scheduled pass.  Notifications are only a wake-up call: the
 * claim statement decides what runs, so a lost one costs latency, never
 * a job.
 *
 * The same connection hears fleetpki_revoked (sql/016): a revocation
 * committed on some host, so this host's OCSP cache must go.
 *
 * This is the one place besides the migration runner that uses the raw
 * connection (db_conn): waiting means poll() on its socket and reading
 * with PQconsumeInput/PQnotifies, which the statement layer has no use
 * for.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/db.h"
#include "fleetpki/log.h"
#include "fleetpki/store.h"

/*
 * The connection we are listening on.  LISTEN belongs to a server
 * session, so a reconnect (db.c drops a broken connection and makes a
 * new one) silently ends it: compare before each wait and listen again.
 * One connection per process (db.h), hence file statics.  The backend
 * pid tells a new connection from one malloc'd at the old address.
 */
static PGconn *listen_conn;
static int listen_pid;
static int revoked_heard;

/*
 * Take every queued notification off the connection; how many were job
 * notifications (a revocation's only sets revoked_heard).
 */
static int
drain(PGconn *conn)
{
	PGnotify *n;
	int count = 0;

	while ((n = PQnotifies(conn)) != NULL) {
		if (strcmp(n->relname, "fleetpki_revoked") == 0)
			revoked_heard = 1;
		else
			count++;
		PQfreemem(n);
	}
	return count;
}

int
store_revoked_heard(void)
{
	int was = revoked_heard;

	revoked_heard = 0;
	return was;
}

/*
 * LISTEN on the current connection.  Not a prepared statement: utility
 * commands cannot be prepared, and this constant text is all it ever
 * sends.
 */
static int
listen_now(PGconn *conn)
{
	PGresult *res =
	    PQexec(conn, "LISTEN fleetpki_jobs; LISTEN fleetpki_revoked");
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_warn("LISTEN: %s", PQerrorMessage(conn));
	PQclear(res);
	if (!ok)
		return -1;
	listen_conn = conn;
	listen_pid = PQbackendPID(conn);
	return 0;
}

static void
sleep_ms(int ms)
{
	/* poll with no descriptors: a sleep a signal cuts short. */
	if (ms > 0)
		(void)poll(NULL, 0, ms);
}

int
store_job_wait(struct db *db, int timeout_ms)
{
	struct pollfd pfd;
	PGconn *conn;
	int r;

	if (db_ready(db) != 0 || (conn = db_conn(db)) == NULL) {
		sleep_ms(timeout_ms);
		return 0;
	}
	if (conn != listen_conn || PQbackendPID(conn) != listen_pid) {
		if (listen_now(conn) != 0) {
			sleep_ms(timeout_ms);
			return 0;
		}
		/*
		 * Anything enqueued, or revoked, while we were not
		 * listening: look now, and empty the caches.
		 */
		revoked_heard = 1;
		return 1;
	}
	/* Notifications that arrived with the results of earlier queries. */
	if (PQconsumeInput(conn) == 1 && (drain(conn) > 0 || revoked_heard))
		return 1;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0) {
		sleep_ms(timeout_ms);
		return 0;
	}
	r = poll(&pfd, 1, timeout_ms);
	if (r <= 0)
		return 0; /* timeout, or EINTR: the caller checks its signals */
	/*
	 * Readable: a notification, or the server closing the connection
	 * (PQconsumeInput fails; the next statement reconnects, and the
	 * next wait listens on the new connection).
	 */
	if (PQconsumeInput(conn) != 1) {
		log_warn("job wait: %s", PQerrorMessage(conn));
		sleep_ms(timeout_ms < 1000 ? timeout_ms : 1000);
		return 1;
	}
	return drain(conn) > 0 || revoked_heard;
}
