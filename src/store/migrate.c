/*
 * migrate: the schema runner.  The SQL it runs is the operator's
 * installed sql/ files; nothing from a request ever reaches here.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/buf.h"
#include "fleetpki/db.h"
#include "fleetpki/log.h"
#include "fleetpki/migrate.h"
#include "fleetpki/util.h"

/*
 * pg_advisory_lock key: "fleetpki" in ASCII, as an int8.  A session
 * lock, not a transaction one, because each file commits on its own
 * and the lock must span them all: two hosts running `fleetpki migrate`
 * at once apply every file exactly once, the second waiting and then
 * finding it recorded.
 */
#define MIGRATE_LOCK "7380394069424957801"

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Files named NNN_*.sql, sorted; the version is the leading number.
 * Anything else in the directory (editor backups, a README) is skipped
 * rather than refused, so an operator's stray file cannot block an
 * upgrade; three digits make the lexical order the numeric one.
 */
static int
list_files(const char *dir, char ***out, size_t *n, char **err)
{
	struct dirent *de;
	char **names = NULL;
	size_t count = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		*err = xasprintf("%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 9 || strspn(de->d_name, "0123456789") != 3 ||
		    de->d_name[3] != '_' ||
		    strcmp(de->d_name + len - 4, ".sql") != 0)
			continue;
		names = xrealloc(names, (count + 1) * sizeof(*names));
		names[count++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(*names), name_cmp);
	*out = names;
	*n = count;
	return 0;
}

/* The whole file into 'out' (NUL-terminated by buf): one script. */
static int
read_file(const char *path, struct buf *out, char **err)
{
	char chunk[8192];
	size_t got;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, got);
	if (ferror(f)) {
		*err = xasprintf("%s: read error", path);
		rc = -1;
	}
	fclose(f);
	return rc;
}

/*
 * Run fixed SQL text; 0 or -1 with '*err'.  PQexec, not a prepared
 * statement: a migration file holds many statements, which only the
 * simple query protocol runs in one call.
 */
static int
simple(PGconn *conn, const char *sql, PGresult **keep, char **err)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*err = xasprintf("%s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (keep != NULL)
		*keep = res;
	else
		PQclear(res);
	return 0;
}

/* Whether schema_migrations records 'version' (bound, not formatted). */
static int
is_applied(PGconn *conn, int version, int *applied, char **err)
{
	char v[16];
	const char *p[] = { v };
	PGresult *res;

	snprintf(v, sizeof(v), "%d", version);
	res = PQexecParams(conn,
	    "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, p,
	    NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		*err = xasprintf("%s", PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	*applied = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/*
 * Record 'version' as applied, inside the file's own transaction: a
 * file either ran and is recorded, or neither (PostgreSQL DDL is
 * transactional), so a failed upgrade is rerun from where it stopped.
 */
static int
record(PGconn *conn, int version, const char *name, char **err)
{
	char v[16];
	const char *p[] = { v, name };
	PGresult *res;
	int rc = 0;

	snprintf(v, sizeof(v), "%d", version);
	res = PQexecParams(conn,
	    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	    NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*err = xasprintf("%s", PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
migrate_run(struct db *db, const char *sql_dir, int *applied, char **err)
{
	struct buf sql = BUF_INIT;
	char **files = NULL, *path = NULL;
	size_t nfiles = 0, i;
	PGconn *conn;
	int rc = -1, locked = 0, done;

	*applied = 0;
	if (db_ready(db) != 0) {
		*err = xstrdup("cannot connect to the database");
		return -1;
	}
	/* The runner needs the raw connection for multi-statement text. */
	conn = db_conn(db);
	if (list_files(sql_dir, &files, &nfiles, err) != 0)
		goto out;
	if (nfiles == 0) {
		*err = xasprintf("%s: no migration files", sql_dir);
		goto out;
	}
	/* Quiet the NOTICE of IF NOT EXISTS on every run. */
	if (simple(conn, "SET client_min_messages = warning", NULL, err) != 0)
		goto out;
	if (simple(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", NULL,
	        err) != 0)
		goto out;
	locked = 1;
	if (simple(conn,
	        "CREATE TABLE IF NOT EXISTS schema_migrations ("
	        "version integer PRIMARY KEY, name text NOT NULL, "
	        "applied_at timestamptz NOT NULL DEFAULT now())",
	        NULL, err) != 0)
		goto out;
	/* In order; each file in its own transaction with its record. */
	for (i = 0; i < nfiles; i++) {
		int version = atoi(files[i]);

		if (is_applied(conn, version, &done, err) != 0)
			goto out;
		if (done)
			continue;
		free(path);
		path = xasprintf("%s/%s", sql_dir, files[i]);
		buf_reset(&sql);
		if (read_file(path, &sql, err) != 0)
			goto out;
		if (simple(conn, "BEGIN", NULL, err) != 0)
			goto out;
		if (simple(conn, (const char *)sql.data, NULL, err) != 0 ||
		    record(conn, version, files[i], err) != 0) {
			char *why = *err;

			*err = xasprintf("%s: %s", files[i], why);
			free(why);
			PQclear(PQexec(conn, "ROLLBACK"));
			goto out;
		}
		if (simple(conn, "COMMIT", NULL, err) != 0)
			goto out;
		log_info("applied migration %s", files[i]);
		(*applied)++;
	}
	rc = 0;
out:
	/* Unlock even after a failure: the session may live on (tests). */
	if (locked) {
		char *ignored = NULL;

		(void)simple(conn,
		    "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", NULL,
		    &ignored);
		free(ignored);
	}
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(path);
	buf_free(&sql);
	return rc;
}
