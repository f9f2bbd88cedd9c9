/*
 * store/registry: device profiles, devices, the allow and deny lists and
 * desired properties (sql/010).  Every statement names its tenant; the
 * walls of sql/005 hold behind them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "fleetpki/store_registry.h"
#include "fleetpki/log.h"
#include "store_internal.h"

/* PROFILE_INSERT's RETURNING: id, created_at. */
static const struct colmap profile_insert_cols[] = {
	COL_I64(struct profile_rec, id),
	COL_I64(struct profile_rec, created_at),
};
static const struct rowmap profile_insert_rows =
    ROWMAP(struct profile_rec, profile_insert_cols, NULL);

int
store_profile_insert(struct db *db, struct profile_rec *pr)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, pr->tenant_id);
	q_text(&p, pr->uid);
	q_text(&p, pr->name);
	rc = q_one(db, STMT_PROFILE_INSERT, &p, &profile_insert_rows, pr);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

/*
 * A list of names as one text[] literal.  Every element is quoted and
 * its quotes and backslashes escaped, so no element (a tag name may hold
 * anything) can end the literal or split into two; an empty list binds
 * NULL (names nothing).
 */
static void
names_array(struct buf *b, const struct reg_names *names)
{
	const char *s;
	size_t i;

	buf_puts(b, "{");
	for (i = 0; i < names->n; i++) {
		buf_puts(b, i > 0 ? ",\"" : "\"");
		for (s = names->v[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_puts(b, "\\");
			buf_append(b, s, 1);
		}
		buf_puts(b, "\"");
	}
	buf_puts(b, "}");
}

static void
q_names(struct qparams *p, struct buf *b, const struct reg_names *names)
{
	if (names == NULL || names->n == 0) {
		q_null(p);
		return;
	}
	buf_reset(b);
	names_array(b, names);
	q_text(p, (const char *)b->data);
}

struct count_rec {
	int64_t n;
};
static const struct colmap count_cols[] = {
	COL_I64(struct count_rec, n),
};
static const struct rowmap count_rows =
    ROWMAP(struct count_rec, count_cols, NULL);

static int
q_count(struct db *db, enum stmt_id id, const struct qparams *p, int64_t *n)
{
	struct count_rec c = { 0 };
	int rc;

	rc = q_one(db, id, p, &count_rows, &c);
	*n = c.n;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

struct json_rec {
	char *json;
};
static void
json_rec_clear(struct json_rec *r)
{
	free(r->json);
	r->json = NULL;
}
static const struct colmap json_cols[] = {
	COL_STR(struct json_rec, json),
};
static const struct rowmap json_rows =
    ROWMAP(struct json_rec, json_cols, json_rec_clear);

/* ---- profiles ---------------------------------------------------- */

static void
profile_row_clear(struct profile_row *r)
{
	free(r->tags_json);
	free(r->bootstrap_json);
	r->tags_json = r->bootstrap_json = NULL;
}

void
profile_rows_free(struct profile_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		profile_row_clear(&rows[i]);
	free(rows);
}

static const struct colmap profile_page_cols[] = {
	COL_CHARS(struct profile_row, uid),
	COL_CHARS(struct profile_row, name),
	COL_CHARS(struct profile_row, created_at),
	COL_STR(struct profile_row, tags_json),
	COL_STR(struct profile_row, bootstrap_json),
};
static const struct rowmap profile_page_rows =
    ROWMAP(struct profile_row, profile_page_cols, profile_row_clear);

int
store_profile_page(struct db *db, int64_t tenant, const char *name,
    const struct reg_names *tags, int64_t offset, struct profile_row **out,
    size_t *n, int64_t *total)
{
	struct buf arr = BUF_INIT;
	struct qparams p;
	int rc;

	*out = NULL;
	*n = 0;
	q_init(&p);
	q_i64(&p, tenant);
	q_text(&p, name);
	q_names(&p, &arr, tags);
	if ((rc = q_count(db, STMT_PROFILE_COUNT, &p, total)) == 0) {
		q_i64(&p, offset);
		rc = q_many(db, STMT_PROFILE_PAGE, &p, &profile_page_rows,
		    (void **)out, n);
	}
	buf_free(&arr);
	return rc;
}

int
store_profile_id(struct db *db, int64_t tenant, const char *uid, int64_t *id)
{
	struct qparams p;
	struct count_rec c = { 0 };
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_text(&p, uid);
	rc = q_one(db, STMT_PROFILE_ID_BY_UID, &p, &count_rows, &c);
	*id = c.n;
	return rc;
}

static int
profile_json(struct db *db, enum stmt_id id, int64_t tenant, const char *uid,
    const char *props, char **json)
{
	struct qparams p;
	struct json_rec r = { NULL };
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_text(&p, uid);
	if (props != NULL)
		q_text(&p, props);
	rc = q_one(db, id, &p, &json_rows, &r);
	if (json != NULL)
		*json = r.json;
	else
		free(r.json);
	return rc;
}

int
store_profile_bootstrap_set(struct db *db, int64_t tenant, const char *uid,
    const char *props, char **json)
{
	return profile_json(db, STMT_PROFILE_BOOTSTRAP_SET, tenant, uid, props,
	    json);
}

int
store_profile_bootstrap_get(struct db *db, int64_t tenant, const char *uid,
    char **json)
{
	return profile_json(db, STMT_PROFILE_BOOTSTRAP_GET, tenant, uid, NULL,
	    json);
}

int
store_profile_bootstrap_delete(struct db *db, int64_t tenant, const char *uid)
{
	return profile_json(db, STMT_PROFILE_BOOTSTRAP_DELETE, tenant, uid,
	    NULL, NULL);
}

/* ---- device lists ------------------------------------------------ */

static const struct colmap counts_cols[] = {
	COL_I64(struct device_counts, devices),
	COL_I64(struct device_counts, allowlisted),
	COL_I64(struct device_counts, allowed),
};
static const struct rowmap counts_rows =
    ROWMAP(struct device_counts, counts_cols, NULL);

int
store_device_counts(struct db *db, int64_t tenant, struct device_counts *c)
{
	struct qparams p;
	int rc;

	memset(c, 0, sizeof(*c));
	q_init(&p);
	q_i64(&p, tenant);
	rc = q_one(db, STMT_DEVICE_COUNTS, &p, &counts_rows, c);
	return rc == -FP_E_NOTFOUND ? 0 : rc;
}

static const struct colmap rot_cols[] = {
	COL_CHARS(struct rot_row, rot),
	COL_I64(struct rot_row, key),
};
static const struct rowmap rot_rows = ROWMAP(struct rot_row, rot_cols, NULL);

int
store_device_page(struct db *db, int64_t tenant, enum reg_filter filter,
    int64_t after, int64_t offset, struct rot_row **out, size_t *n)
{
	struct qparams p;
	enum stmt_id id = filter == REG_BLACKLISTED ? STMT_DEVICE_PAGE_BLOCKED
	    : filter == REG_WHITELISTED             ? STMT_DEVICE_PAGE_ALLOWED
	                                            : STMT_DEVICE_PAGE_ALL;

	q_init(&p);
	q_i64(&p, tenant);
	q_i64(&p, after);
	q_i64(&p, offset);
	return q_many(db, id, &p, &rot_rows, (void **)out, n);
}

int
store_device_count_blocked(struct db *db, int64_t tenant, int64_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant);
	return q_count(db, STMT_DEVICE_COUNT_BLOCKED, &p, n);
}

int
store_device_page_by(struct db *db, int64_t tenant, int64_t profile_id,
    const struct reg_names *tags, int64_t after, int64_t offset,
    struct rot_row **out, size_t *n, int64_t *total)
{
	struct buf arr = BUF_INIT;
	struct qparams p;
	enum stmt_id count_id, page_id;
	int rc;

	*out = NULL;
	*n = 0;
	q_init(&p);
	q_i64(&p, tenant);
	if (tags != NULL && tags->n > 0) {
		q_names(&p, &arr, tags);
		count_id = STMT_DEVICE_COUNT_TAGS;
		page_id = STMT_DEVICE_PAGE_TAGS;
	} else if (profile_id > 0) {
		q_i64(&p, profile_id);
		count_id = STMT_DEVICE_COUNT_PROFILE;
		page_id = STMT_DEVICE_PAGE_PROFILE;
	} else {
		count_id = STMT_DEVICE_COUNT_UNATTRIBUTED;
		page_id = STMT_DEVICE_PAGE_UNATTRIBUTED;
	}
	if ((rc = q_count(db, count_id, &p, total)) == 0) {
		q_i64(&p, after);
		q_i64(&p, offset);
		rc = q_many(db, page_id, &p, &rot_rows, (void **)out, n);
	}
	buf_free(&arr);
	return rc;
}

static void
device_info_row_clear(struct device_info_row *r)
{
	free(r->firmware);
	free(r->desired_json);
	free(r->current_json);
	r->firmware = r->desired_json = r->current_json = NULL;
}

void
device_info_rows_free(struct device_info_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		device_info_row_clear(&rows[i]);
	free(rows);
}

static const struct colmap device_info_cols[] = {
	COL_CHARS(struct device_info_row, rot),
	COL_CHARS(struct device_info_row, serial),
	COL_CHARS(struct device_info_row, imei),
	COL_CHARS(struct device_info_row, profile_uid),
	COL_CHARS(struct device_info_row, state),
	COL_BOOL(struct device_info_row, blocked),
	COL_CHARS(struct device_info_row, sealed_at),
	COL_CHARS(struct device_info_row, bootstrapped_at),
	COL_CHARS(struct device_info_row, last_seen),
	COL_STR(struct device_info_row, firmware),
	COL_STR(struct device_info_row, desired_json),
	COL_STR(struct device_info_row, current_json),
};
static const struct rowmap device_info_rows =
    ROWMAP(struct device_info_row, device_info_cols, device_info_row_clear);

int
store_device_info(struct db *db, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, const struct reg_names *serials,
    int64_t limit, struct device_info_row **out, size_t *n)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT, a3 = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, tags);
	q_names(&p, &a3, serials);
	q_i64(&p, limit);
	rc = q_many(db, STMT_DEVICE_INFO, &p, &device_info_rows, (void **)out,
	    n);
	buf_free(&a1);
	buf_free(&a2);
	buf_free(&a3);
	return rc;
}

/* ---- the allow list ---------------------------------------------- */

int
store_allowlist_change(struct db *db, int64_t tenant, bool add,
    const struct reg_names *rots, const struct reg_names *imeis,
    int64_t *changed)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, imeis);
	rc = q_count(db, add ? STMT_ALLOWLIST_ADD : STMT_ALLOWLIST_DELETE, &p,
	    changed);
	buf_free(&a1);
	buf_free(&a2);
	return rc;
}

/*
 * The CSV upload's merge.  Not a prepared statement: it reads the
 * temporary table this transaction creates, which no connection has
 * when statements are prepared.  Constant text, the tenant bound.
 */
static const char allow_upload_create[] =
    "CREATE TEMPORARY TABLE allow_upload (line bigint NOT NULL, "
    "kind text NOT NULL, value text NOT NULL, add boolean NOT NULL) "
    "ON COMMIT DROP";
/* The merge sorts the upload twice (last row per Id, then file order):
 * in memory, not on disk (100,000 rows sort in about 10 MB). */
static const char allow_upload_mem[] = "SET LOCAL work_mem = '64MB'";
static const char allow_upload_copy[] =
    "COPY allow_upload (line, kind, value, add) FROM STDIN";
static const char allow_upload_merge[] =
    "WITH last AS (SELECT DISTINCT ON (kind, value) kind, value, add, line "
    "FROM allow_upload ORDER BY kind, value, line DESC), "
    "del AS (DELETE FROM device_allowlist a USING last l "
    "WHERE a.tenant_id = $1 AND NOT l.add AND a.kind = l.kind "
    "AND a.value = l.value RETURNING 1), "
    "ins AS (INSERT INTO device_allowlist (tenant_id, kind, value) "
    "SELECT $1, kind, value FROM last WHERE add ORDER BY line "
    "ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM del)";

/* Rows are sent to COPY in chunks of about this many bytes. */
#define COPY_CHUNK (64 * 1024)

struct allow_copy {
	int64_t tenant;
	const struct allow_csv_row *rows;
	size_t n;
	int64_t added, deleted;
};

static int
pq_ok(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
	int ok = res != NULL && PQresultStatus(res) == want;

	if (!ok)
		log_err("allow-list upload: %s: %s", what,
		    res != NULL ? PQresultErrorMessage(res)
		                : PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -FP_E_INTERNAL;
}

static int
allow_copy_tx(struct db *db, void *arg)
{
	struct allow_copy *ac = arg;
	PGconn *conn = db_conn(db);
	struct buf b = BUF_INIT;
	char tenant[Q_I64_LEN];
	const char *values[1] = { tenant };
	PGresult *res;
	size_t i;
	int rc, ok = 1;

	if (conn == NULL)
		return -FP_E_UNAVAILABLE;
	if ((rc = pq_ok(conn, PQexec(conn, allow_upload_create),
	         PGRES_COMMAND_OK, "create")) != 0 ||
	    (rc = pq_ok(conn, PQexec(conn, allow_upload_mem), PGRES_COMMAND_OK,
	         "work_mem")) != 0)
		return rc;
	res = PQexec(conn, allow_upload_copy);
	if ((rc = pq_ok(conn, res, PGRES_COPY_IN, "copy")) != 0)
		return rc;
	/* Values are validated: digits and upper hex, nothing to escape. */
	for (i = 0; i < ac->n && ok; i++) {
		buf_printf(&b, "%ld\t%s\t%s\t%s\n", ac->rows[i].line,
		    ac->rows[i].rot ? "ROTPublicUID" : "IMEI",
		    ac->rows[i].value, ac->rows[i].add ? "t" : "f");
		if (b.len >= COPY_CHUNK || i + 1 == ac->n) {
			ok = PQputCopyData(conn, (const char *)b.data,
			         (int)b.len) == 1;
			buf_reset(&b);
		}
	}
	buf_free(&b);
	if (PQputCopyEnd(conn, ok ? NULL : "send failed") != 1)
		ok = 0;
	rc = 0;
	while ((res = PQgetResult(conn)) != NULL)
		if (pq_ok(conn, res, PGRES_COMMAND_OK, "copy end") != 0)
			rc = -FP_E_INTERNAL;
	if (!ok || rc != 0)
		return -FP_E_INTERNAL;
	snprintf(tenant, sizeof(tenant), "%lld", (long long)ac->tenant);
	res = PQexecParams(conn, allow_upload_merge, 1, NULL, values, NULL,
	    NULL, 0);
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1) {
		ac->added = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		ac->deleted = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		return 0;
	}
	if (res != NULL &&
	    db_state_retryable(PQresultErrorField(res, PG_DIAG_SQLSTATE))) {
		PQclear(res);
		return -FP_E_UNAVAILABLE;
	}
	return pq_ok(conn, res, PGRES_TUPLES_OK, "merge");
}

int
store_allowlist_copy(struct db *db, int64_t tenant,
    const struct allow_csv_row *rows, size_t n, int64_t *added,
    int64_t *deleted)
{
	struct allow_copy ac = { tenant, rows, n, 0, 0 };
	int rc;

	*added = *deleted = 0;
	if (n == 0)
		return 0;
	if ((rc = store_tx(db, allow_copy_tx, &ac)) == 0) {
		*added = ac.added;
		*deleted = ac.deleted;
	}
	return rc;
}

static const struct colmap allow_cols[] = {
	COL_CHARS(struct allow_row, kind),
	COL_CHARS(struct allow_row, value),
	COL_CHARS(struct allow_row, added_at),
	COL_I64(struct allow_row, seq),
};
static const struct rowmap allow_rows =
    ROWMAP(struct allow_row, allow_cols, NULL);

int
store_allowlist_page(struct db *db, int64_t tenant, int64_t after,
    int64_t offset, struct allow_row **out, size_t *n)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant);
	q_i64(&p, after);
	q_i64(&p, offset);
	return q_many(db, STMT_ALLOWLIST_PAGE, &p, &allow_rows, (void **)out,
	    n);
}

/* ---- desired properties ------------------------------------------ */

int
store_desired_set(struct db *db, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, const char *props, int64_t *n)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, tags);
	q_text(&p, props);
	rc = q_count(db, STMT_DESIRED_SET, &p, n);
	buf_free(&a1);
	buf_free(&a2);
	return rc;
}

static void
desired_row_clear(struct desired_row *r)
{
	free(r->props_json);
	r->props_json = NULL;
}

void
desired_rows_free(struct desired_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows != NULL && i < n; i++)
		desired_row_clear(&rows[i]);
	free(rows);
}

static const struct colmap desired_cols[] = {
	COL_CHARS(struct desired_row, rot),
	COL_STR(struct desired_row, props_json),
};
static const struct rowmap desired_rows =
    ROWMAP(struct desired_row, desired_cols, desired_row_clear);

int
store_desired_get(struct db *db, int64_t tenant, const struct reg_names *rots,
    const struct reg_names *tags, int64_t limit, struct desired_row **out,
    size_t *n)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, tags);
	q_i64(&p, limit);
	rc = q_many(db, STMT_DESIRED_GET, &p, &desired_rows, (void **)out, n);
	buf_free(&a1);
	buf_free(&a2);
	return rc;
}

int
store_desired_delete(struct db *db, int64_t tenant,
    const struct reg_names *rots, const struct reg_names *tags, int64_t *n)
{
	struct buf a1 = BUF_INIT, a2 = BUF_INIT;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant);
	q_names(&p, &a1, rots);
	q_names(&p, &a2, tags);
	rc = q_count(db, STMT_DESIRED_DELETE, &p, n);
	buf_free(&a1);
	buf_free(&a2);
	return rc;
}
