/*
 * statements: the name and SQL tables generated from FOREACH_STMT.
 */
#include "config.h"

#include "fleetpki/statements.h"

#define STMT_NAME(name, sql) #name,
#define STMT_SQL(name, sql) sql,
static const char *const names[] = { FOREACH_STMT(STMT_NAME) };
static const char *const sqls[] = { FOREACH_STMT(STMT_SQL) };
#undef STMT_NAME
#undef STMT_SQL

/*
 * The name is also the server-side prepared statement's name, so the
 * server's log ("execute CA_BY_ID") and ours ("statement CA_BY_ID
 * failed") name a statement the same way.
 */
const char *
stmt_name(enum stmt_id id)
{
	return names[id];
}

const char *
stmt_sql(enum stmt_id id)
{
	return sqls[id];
}
