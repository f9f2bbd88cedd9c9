/*
 * migrate: apply the numbered schema files of 'sql_dir' ("001_x.sql",
 * "002_y.sql", ...) that are not yet recorded in schema_migrations, each
 * in its own transaction with its record.  A session advisory lock makes
 * concurrent runs wait for each other, so running it twice, or twice at
 * once, is safe.
 */
#ifndef FLEETPKI_MIGRATE_H
#define FLEETPKI_MIGRATE_H

struct db;

/* 0 or -1 with '*err' (allocated) set; '*applied' counts files applied. */
int	migrate_run(struct db *db, const char *sql_dir, int *applied,
	    char **err);

#endif
