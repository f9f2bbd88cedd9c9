/*
 * store/servercert: the certificates operators publish for named
 * servers and slots (the server-certificate API serves them as set).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* SERVERCERT_GET returns "pem, updated_at". */
static const struct colmap servercert_cols[] = {
	COL_STR(struct servercert_rec, pem),
	COL_I64(struct servercert_rec, updated_at),
};
static const struct rowmap servercert_rows =
    ROWMAP(struct servercert_rec, servercert_cols, servercert_rec_clear);

void
servercert_rec_clear(struct servercert_rec *s)
{
	if (s == NULL)
		return;
	free(s->pem);
	memset(s, 0, sizeof(*s));
}

int
store_servercert_get(struct db *db, const char *server, const char *slot,
    struct servercert_rec *s)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, server);
	q_text(&p, slot);
	return q_one(db, STMT_SERVERCERT_GET, &p, &servercert_rows, s);
}

/*
 * An upsert that also moves updated_at, so psql shows when a slot was
 * last replaced; setting a slot twice is not an error an operator
 * running a deploy script twice should have to handle.
 */
int
store_servercert_set(struct db *db, const char *server, const char *slot,
    const char *pem)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, server);
	q_text(&p, slot);
	q_text(&p, pem);
	return q_command(db, STMT_SERVERCERT_SET, &p);
}
