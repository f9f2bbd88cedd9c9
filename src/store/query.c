/*
 * query: parameters, execution and row maps for the entity files of
 * the store (see store_internal.h for the contract and an example).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "store_internal.h"

/* ---- parameters -------------------------------------------------- */

/*
 * Zeroed, so lengths and formats of text parameters are 0 (libpq
 * ignores lengths for text and reads it up to the NUL).
 */
void
q_init(struct qparams *p)
{
	memset(p, 0, sizeof(*p));
}

/* The next slot; binding more than Q_MAX_PARAMS is a bug, not input. */
static int
q_slot(struct qparams *p)
{
	if (p->n >= Q_MAX_PARAMS)
		fatal("statement bound with more than %d parameters",
		    Q_MAX_PARAMS);
	return p->n++;
}

/*
 * Integers travel as decimal text, not binary int8: the server parses
 * them with the statement's declared type ($1::bigint, or inferred),
 * and text keeps every parameter printable in a log line.
 */
void
q_i64(struct qparams *p, int64_t v)
{
	int i = q_slot(p);

	snprintf(p->nums[i], sizeof(p->nums[i]), "%" PRId64, v);
	p->values[i] = p->nums[i];
}

void
q_i64_or_null(struct qparams *p, int64_t v)
{
	if (v > 0)
		q_i64(p, v);
	else
		q_null(p);
}

void
q_text(struct qparams *p, const char *v)
{
	p->values[q_slot(p)] = v;
}

void
q_bool(struct qparams *p, bool v)
{
	p->values[q_slot(p)] = v ? "true" : "false";
}

void
q_bytea(struct qparams *p, const struct buf *b)
{
	int i = q_slot(p);

	/* Binary format: libpq sends the bytes as they are, no escaping. */
	p->values[i] = b->data != NULL ? (const char *)b->data : "";
	p->lengths[i] = (int)b->len;
	p->formats[i] = 1;
}

void
q_bytea_or_null(struct qparams *p, const struct buf *b)
{
	if (b->len > 0)
		q_bytea(p, b);
	else
		q_null(p);
}

void
q_null(struct qparams *p)
{
	p->values[q_slot(p)] = NULL;
}

/* ---- row maps ---------------------------------------------------- */

/* bytea arrives in text format as "\x..." hex. */
static void
read_bytea(const PGresult *res, int row, int col, struct buf *out)
{
	unsigned char *raw;
	size_t len = 0;

	buf_reset(out);
	if (PQgetisnull(res, row, col))
		return;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
	    &len);
	if (raw == NULL)
		fatal("out of memory decoding bytea");
	buf_append(out, raw, len);
	PQfreemem(raw);
}

void
q_read_row(const PGresult *res, int row, const struct rowmap *map, void *rec)
{
	char *base = rec;
	size_t i;

	/* Column i of the result is entry i of the map: order is the key. */
	for (i = 0; i < map->ncols; i++) {
		const struct colmap *c = &map->cols[i];
		int col = (int)i;
		bool null = PQgetisnull(res, row, col);
		/* PQgetvalue gives "" for NULL: every reader below is safe. */
		const char *v = PQgetvalue(res, row, col);
		void *field = base + c->off;

		switch (c->type) {
		case COLT_I64:
			/* The server formatted it: no range or junk to check. */
			*(int64_t *)field = null ? 0 : strtoll(v, NULL, 10);
			break;
		case COLT_INT:
			*(int *)field = null ? 0 : (int)strtol(v, NULL, 10);
			break;
		case COLT_BOOL:
			/* Text format spells booleans "t" and "f". */
			*(bool *)field = v[0] == 't';
			break;
		case COLT_CHARS:
			/*
			 * Fixed arrays hold values the schema bounds (names,
			 * hex ids, serials), so truncation never happens with
			 * data the store wrote; it only guards the array.
			 */
			snprintf(field, c->size, "%s", v);
			break;
		case COLT_STR:
			/* Assigned, not freed: the record may be uninitialised. */
			*(char **)field = null
			    ? NULL
			    : xstrndup(v, (size_t)PQgetlength(res, row, col));
			break;
		case COLT_BYTEA:
			read_bytea(res, row, col, field);
			break;
		case COLT_SKIP:
			break;
		}
	}
}

/* ---- execution --------------------------------------------------- */

/* The one way into db_exec_params: every statement is a named one. */
int
q_exec(struct db *db, enum stmt_id id, const struct qparams *p, PGresult **res)
{
	if (p == NULL)
		return db_exec_params(db, id, 0, NULL, NULL, NULL, res);
	return db_exec_params(db, id, p->n, p->values, p->lengths, p->formats,
	    res);
}

int
q_command(struct db *db, enum stmt_id id, const struct qparams *p)
{
	PGresult *res = NULL;
	int rc;

	rc = q_exec(db, id, p, &res);
	PQclear(res);
	return rc;
}

/*
 * A statement returning fewer columns than its map reads is a mismatch
 * between statements.h and an entity file: fail loudly, not read past.
 */
static int
check_cols(enum stmt_id id, const PGresult *res, const struct rowmap *map)
{
	if ((size_t)PQnfields(res) >= map->ncols)
		return 0;
	log_err("statement %s returns %d columns, its map reads %zu",
	    stmt_name(id), PQnfields(res), map->ncols);
	return -FP_E_INTERNAL;
}

int
q_one(struct db *db, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void *rec)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = q_exec(db, id, p, &res)) != 0)
		goto out;
	if ((rc = check_cols(id, res, map)) != 0)
		goto out;
	if (PQntuples(res) != 1) {
		rc = -FP_E_NOTFOUND;
		goto out;
	}
	q_read_row(res, 0, map, rec);
out:
	PQclear(res);
	return rc;
}

int
q_many(struct db *db, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void **out, size_t *n)
{
	PGresult *res = NULL;
	char *arr;
	int rc, i;

	*out = NULL;
	*n = 0;
	if ((rc = q_exec(db, id, p, &res)) != 0)
		goto out;
	if ((rc = check_cols(id, res, map)) != 0)
		goto out;
	/* xcalloc(0, ...) still returns a pointer the caller may free. */
	arr = xcalloc((size_t)PQntuples(res), map->size);
	for (i = 0; i < PQntuples(res); i++)
		q_read_row(res, i, map, arr + (size_t)i * map->size);
	*out = arr;
	*n = (size_t)PQntuples(res);
out:
	PQclear(res);
	return rc;
}

int
q_each(struct db *db, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void *rec, void (*fn)(void *, void *), void *arg)
{
	PGresult *res = NULL;
	int rc, i;

	if ((rc = q_exec(db, id, p, &res)) != 0)
		goto out;
	if ((rc = check_cols(id, res, map)) != 0)
		goto out;
	/*
	 * One scratch record, reused: the callback borrows it for the
	 * call only (it copies what it keeps), so a long listing costs
	 * one record of memory, not an array.
	 */
	for (i = 0; i < PQntuples(res); i++) {
		memset(rec, 0, map->size);
		q_read_row(res, i, map, rec);
		fn(arg, rec);
		if (map->clear != NULL)
			map->clear(rec);
	}
out:
	PQclear(res);
	return rc;
}
