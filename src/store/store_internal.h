/*
 * store_internal: the query helper every entity file of src/store is
 * written over.  Not for use outside src/store (it speaks libpq).
 *
 * A query is three steps, each one line:
 *
 *	struct qparams p;
 *
 *	q_init(&p);
 *	q_i64(&p, tenant_id);			   $1
 *	q_text(&p, name);			   $2 (NULL binds SQL NULL)
 *	rc = q_one(db, STMT_CA_BY_NAME, &p, &ca_rows, &rec);
 *
 * and the columns a statement returns are described once per entity, in
 * the order the SELECT lists them, as a table of struct fields:
 *
 *	static const struct colmap ca_cols[] = {
 *		COL_I64(struct ca_rec, id),
 *		COL_CHARS(struct ca_rec, name),	   copied into char name[N]
 *		COL_STR(struct ca_rec, subject),   malloc'd char *
 *		COL_BYTEA(struct ca_rec, cert_der),  struct buf
 *	};
 *	static const struct rowmap ca_rows = ROWMAP(struct ca_rec, ca_cols,
 *	    ca_rec_clear);
 *
 * Why a table and not per-column code: the positional readers this
 * replaces were forty near-identical functions where a column added to
 * a SELECT silently shifted every index after it; a map states the
 * order once, next to the struct, and q_* check that the statement
 * returns at least as many columns as the map reads.
 *
 * Errors are those of db_exec_params (db.h): -FP_E_CONFLICT (unique
 * violation), -FP_E_BADREQ (data exception), -FP_E_UNAVAILABLE (no
 * database, serialization failure, deadlock), -FP_E_INTERNAL (anything
 * else, logged); plus -FP_E_NOTFOUND from q_one when there is no row.
 */
#ifndef FLEETPKI_STORE_INTERNAL_H
#define FLEETPKI_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "fleetpki/buf.h"
#include "fleetpki/db.h"
#include "fleetpki/util.h"

/* ---- parameters -------------------------------------------------- */

/* More than any statement binds; exceeding it is a programming error. */
#define Q_MAX_PARAMS 16
/* Room for any int64 in decimal, sign and NUL included. */
#define Q_I64_LEN 24

/*
 * Parameters of one statement, $1 first.  Numbers are formatted into
 * the struct itself, so a qparams on the stack owns everything it binds
 * except text and bytea, which are borrowed: they must outlive the q_*
 * call (they always do: callers bind their arguments or record fields).
 */
struct qparams {
	int n;
	const char *values[Q_MAX_PARAMS];
	int lengths[Q_MAX_PARAMS]; /* bytea only */
	int formats[Q_MAX_PARAMS]; /* 1 = binary (bytea) */
	char nums[Q_MAX_PARAMS][Q_I64_LEN];
};

void q_init(struct qparams *);
void q_i64(struct qparams *, int64_t);
/* 'v', or SQL NULL when 'v' <= 0 ("no user", "every tenant"). */
void q_i64_or_null(struct qparams *, int64_t v);
/* Text; a NULL 'v' binds SQL NULL (filters that match anything). */
void q_text(struct qparams *, const char *v);
/* Bound as the text 'true' / 'false'. */
void q_bool(struct qparams *, bool);
/* Bytea, bound binary (no escaping); an empty buffer is '' not NULL. */
void q_bytea(struct qparams *, const struct buf *);
/* Bytea, or SQL NULL when the buffer is empty (optional keys). */
void q_bytea_or_null(struct qparams *, const struct buf *);
void q_null(struct qparams *);

/* ---- row maps ---------------------------------------------------- */

enum col_type {
	COLT_I64, /* int64_t; NULL reads 0 */
	COLT_INT, /* int; NULL reads 0 */
	COLT_BOOL, /* bool; 't' is true, NULL false */
	COLT_CHARS, /* char[size], truncated, NUL-terminated; NULL "" */
	COLT_STR, /* char *, malloc'd (rec_clear frees it); NULL NULL */
	COLT_BYTEA, /* struct buf, replaced; NULL leaves it empty */
	COLT_SKIP, /* a column this map does not read */
};

/* One column: where it goes in the record and how it is read. */
struct colmap {
	enum col_type type;
	size_t off;
	size_t size; /* COLT_CHARS: the array's size */
};

#define COL_MEMBER_SIZE(type, f) sizeof(((type *)0)->f)
#define COL_(t, type, f, size)                                                 \
	{                                                                      \
		(t), offsetof(type, f), (size)                                 \
	}
#define COL_I64(type, f) COL_(COLT_I64, type, f, 0)
#define COL_INT(type, f) COL_(COLT_INT, type, f, 0)
#define COL_BOOL(type, f) COL_(COLT_BOOL, type, f, 0)
#define COL_CHARS(type, f) COL_(COLT_CHARS, type, f, COL_MEMBER_SIZE(type, f))
#define COL_STR(type, f) COL_(COLT_STR, type, f, 0)
#define COL_BYTEA(type, f) COL_(COLT_BYTEA, type, f, 0)
#define COL_SKIP                                                               \
	{                                                                      \
		COLT_SKIP, 0, 0                                                \
	}

/*
 * How rows of one statement become records: the columns, the record's
 * size (for arrays) and the function that frees what the map
 * allocated (COLT_STR, COLT_BYTEA; NULL when the map allocates
 * nothing).
 */
struct rowmap {
	const struct colmap *cols;
	size_t ncols;
	size_t size;
	void (*clear)(void *rec);
};

#define ROWMAP(type, cols, clear)                                              \
	{                                                                      \
		(cols), FP_ARRAY_LEN(cols), sizeof(type),                      \
		    (void (*)(void *))(clear)                                  \
	}

/*
 * Read row 'row' of 'res' into 'rec' through 'map', column i into
 * map->cols[i].  Only mapped fields are written; zero the record first
 * for a fresh read.  The caller has checked the column count (q_* do).
 */
void q_read_row(const PGresult *res, int row, const struct rowmap *map,
    void *rec);

/* ---- execution --------------------------------------------------- */

/*
 * Execute statement 'id' with 'p' (NULL: no parameters).  '*res' is
 * the result to PQclear.  For the few queries no map fits.
 */
int q_exec(struct db *, enum stmt_id id, const struct qparams *p,
    PGresult **res);
/* Execute for effect only; the rows (if any) are discarded. */
int q_command(struct db *, enum stmt_id id, const struct qparams *p);
/*
 * Execute and read exactly one row into 'rec'; -FP_E_NOTFOUND unless
 * the statement returned exactly one (every one-row statement selects
 * by a unique key, so "more than one" cannot happen).
 */
int q_one(struct db *, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void *rec);
/*
 * Execute and read every row into a new array of map->size records:
 * '*out' (free with the entity's array free function, or map->clear on
 * each and free()) and '*n'.  On failure '*out' is NULL and '*n' 0.
 */
int q_many(struct db *, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void **out, size_t *n);
/*
 * Execute and call 'fn' with each row read into 'rec' (scratch space of
 * map->size bytes the caller provides), cleared after each call: for
 * the *_each functions that stream rows to a callback.
 */
int q_each(struct db *, enum stmt_id id, const struct qparams *p,
    const struct rowmap *map, void *rec, void (*fn)(void *arg, void *rec),
    void *arg);

/* ---- maps shared between entity files -------------------------- */

/* SQL_CA_COLS into struct ca_rec (ca.c). */
extern const struct rowmap store_ca_rows;
/* "tenant_id, ca_id" into struct ca_ref (revocation.c; ca.c). */
extern const struct rowmap store_ca_ref_rows;

/* ---- transactions ------------------------------------------------ */

/*
 * The retry policy of store_tx, exposed for the unit tests: how many
 * times a transaction is tried, and the pause before try 'attempt'
 * (1, 2, ...) in microseconds, from 'rnd' (any random number): an
 * exponential base from STORE_TX_BASE_US with up to as much again of
 * jitter, so two clients that deadlocked each other do not collide
 * again in lockstep.
 */
#define STORE_TX_ATTEMPTS 4
#define STORE_TX_BASE_US 5000
long store_tx_backoff_us(int attempt, unsigned rnd);

#endif
