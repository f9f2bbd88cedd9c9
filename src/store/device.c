/*
 * store/device: the device protocol's reads and writes (sql/010,
 * sql/011) and the operator's sealing, blocking and unblocking.  Every
 * statement names its tenant; the walls of sql/005 hold behind them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/devproto.h"
#include "fleetpki/store.h"
#include "fleetpki/store_device.h"
#include "store_internal.h"

/* ---- arrays ------------------------------------------------------ */

/*
 * One element of a text[] literal: NULL unquoted, anything else quoted
 * with '"' and '\' escaped, so no value can end the element or the
 * literal early (production logs are operator input).
 */
static void
array_elem(struct buf *b, size_t i, const char *v)
{
	if (i > 0)
		buf_puts(b, ",");
	if (v == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	buf_puts(b, "\"");
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			buf_puts(b, "\\");
		buf_append(b, v, 1);
	}
	buf_puts(b, "\"");
}

static void
array_i64(struct buf *b, size_t i, int64_t v)
{
	buf_printf(b, "%s%lld", i > 0 ? "," : "", (long long)v);
}

/* ---- the request's device ----------------------------------------- */

struct tenant_of {
	int64_t tenant_id;
};
static const struct colmap tenant_of_cols[] = {
	COL_I64(struct tenant_of, tenant_id),
};
static const struct rowmap tenant_of_rows =
    ROWMAP(struct tenant_of, tenant_of_cols, NULL);

int
store_device_tenant(struct db *db, const char *rot, int64_t *tenant_id)
{
	struct tenant_of t = { 0 };
	struct qparams p;
	int rc;

	*tenant_id = 0;
	q_init(&p);
	q_text(&p, rot);
	if ((rc = q_one(db, STMT_DEVICE_TENANT, &p, &tenant_of_rows, &t)) != 0)
		return rc;
	if (t.tenant_id <= 0)
		return -FP_E_NOTFOUND;
	*tenant_id = t.tenant_id;
	return 0;
}

void
device_auth_rec_clear(struct device_auth_rec *r)
{
	if (r != NULL)
		buf_free_secret(&r->secret_sealed);
}

static const struct colmap auth_cols[] = {
	COL_I64(struct device_auth_rec, id),
	COL_I64(struct device_auth_rec, tenant_id),
	COL_CHARS(struct device_auth_rec, rot),
	COL_BYTEA(struct device_auth_rec, secret_sealed),
	COL_BOOL(struct device_auth_rec, blocked),
};
static const struct rowmap auth_rows =
    ROWMAP(struct device_auth_rec, auth_cols, device_auth_rec_clear);

int
store_device_auth(struct db *db, int64_t tenant_id, const char *rot,
    struct device_auth_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, rot);
	return q_one(db, STMT_DEVICE_AUTH, &p, &auth_rows, out);
}

static const struct colmap device_cols[] = {
	COL_CHARS(struct device_rec, state),
	COL_BOOL(struct device_rec, bootstrapped),
	COL_I64(struct device_rec, profile_id),
	COL_CHARS(struct device_rec, serial),
	COL_CHARS(struct device_rec, imei),
	COL_CHARS(struct device_rec, reported_serial),
	COL_CHARS(struct device_rec, reported_imei),
	COL_CHARS(struct device_rec, firmware),
	COL_I64(struct device_rec, retry_after),
	COL_I64(struct device_rec, interval),
};
static const struct rowmap device_rows =
    ROWMAP(struct device_rec, device_cols, NULL);

struct clone_rec {
	char reason[32];
	int64_t last_counter;
};
static const struct colmap clone_cols[] = {
	COL_CHARS(struct clone_rec, reason),
	COL_I64(struct clone_rec, last_counter),
};
static const struct rowmap clone_rows =
    ROWMAP(struct clone_rec, clone_cols, NULL);

/* $1..$6 of both statements: tenant, device, counter, MAC, time, peer. */
static void
accept_params(struct qparams *p, int64_t tenant_id, int64_t id,
    const struct device_accept *a, const struct buf *mac)
{
	q_init(p);
	q_i64(p, tenant_id);
	q_i64(p, id);
	q_i64(p, a->counter);
	q_bytea(p, mac);
	q_i64(p, a->timestamp);
	q_text(p, a->peer);
}

int
store_device_accept(struct db *db, int64_t tenant_id, int64_t id,
    const struct device_accept *a, struct device_rec *out, char reason[32],
    int64_t *last_counter)
{
	struct buf macb = BUF_INIT;
	struct clone_rec c;
	struct qparams p;
	int rc;

	memset(out, 0, sizeof(*out));
	reason[0] = '\0';
	*last_counter = 0;
	buf_append(&macb, a->mac, DEVPROTO_MAC_LEN);
	accept_params(&p, tenant_id, id, a, &macb);
	if (a->heartbeat) {
		q_i64(&p, a->burst);
		q_i64(&p, a->interval);
	}
	rc =
	    q_one(db, a->heartbeat ? STMT_DEVICE_ACCEPT_HB : STMT_DEVICE_ACCEPT,
	        &p, &device_rows, out);
	if (rc == -FP_E_NOTFOUND) {
		/* Did not grow: the evidence, in this transaction. */
		memset(&c, 0, sizeof(c));
		accept_params(&p, tenant_id, id, a, &macb);
		rc = q_one(db, STMT_DEVICE_CLONE_EVENT, &p, &clone_rows, &c);
		if (rc == 0) {
			snprintf(reason, 32, "%s", c.reason);
			*last_counter = c.last_counter;
			rc = -FP_E_CONFLICT;
		} else if (rc == -FP_E_NOTFOUND)
			rc = -FP_E_INTERNAL;
	}
	buf_free(&macb);
	return rc;
}

/* ---- bootstrap ----------------------------------------------------- */

struct interval_rec {
	int64_t interval;
};
static const struct colmap interval_cols[] = {
	COL_I64(struct interval_rec, interval),
};
static const struct rowmap interval_rows =
    ROWMAP(struct interval_rec, interval_cols, NULL);

void
device_profile_rec_clear(struct device_profile_rec *r)
{
	if (r == NULL)
		return;
	free(r->bootstrap);
	r->bootstrap = NULL;
}

static const struct colmap profile_cols[] = {
	COL_I64(struct device_profile_rec, id),
	COL_CHARS(struct device_profile_rec, uid),
	COL_STR(struct device_profile_rec, bootstrap),
};
static const struct rowmap profile_rows =
    ROWMAP(struct device_profile_rec, profile_cols, device_profile_rec_clear);

int
store_device_profile_by_uid(struct db *db, int64_t tenant_id, const char *uid,
    struct device_profile_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, uid);
	return q_one(db, STMT_DEVICE_PROFILE_BY_UID, &p, &profile_rows, out);
}

int
store_device_profile_by_id(struct db *db, int64_t tenant_id, int64_t id,
    struct device_profile_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return q_one(db, STMT_DEVICE_PROFILE_BY_ID, &p, &profile_rows, out);
}

struct allowed_rec {
	bool allowed;
};
static const struct colmap allowed_cols[] = {
	COL_BOOL(struct allowed_rec, allowed),
};
static const struct rowmap allowed_rows =
    ROWMAP(struct allowed_rec, allowed_cols, NULL);

int
store_device_allowed(struct db *db, int64_t tenant_id, const char *rot,
    const char *imei1, const char *imei2, bool *allowed)
{
	struct allowed_rec a = { false };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, rot);
	q_text(&p, imei1 != NULL && *imei1 != '\0' ? imei1 : NULL);
	q_text(&p, imei2 != NULL && *imei2 != '\0' ? imei2 : NULL);
	rc = q_one(db, STMT_DEVICE_ALLOWED, &p, &allowed_rows, &a);
	*allowed = a.allowed;
	return rc;
}

int
store_device_bootstrap(struct db *db, int64_t tenant_id, int64_t id,
    const char *state, int64_t profile_id, const char *serial, const char *imei,
    const char *firmware, long long *interval)
{
	struct interval_rec r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, state);
	q_i64(&p, profile_id);
	q_text(&p, serial);
	q_text(&p, imei);
	q_text(&p, firmware);
	rc = q_one(db, STMT_DEVICE_BOOTSTRAP, &p, &interval_rows, &r);
	*interval = r.interval;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_device_desired_merge(struct db *db, int64_t tenant_id, int64_t id,
    const char *props)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, props);
	return q_command(db, STMT_DEVICE_DESIRED_MERGE, &p);
}

/* ---- heartbeat ----------------------------------------------------- */

void
device_desired_rec_clear(struct device_desired_rec *r)
{
	if (r == NULL)
		return;
	free(r->props);
	r->props = NULL;
}

static const struct colmap desired_cols[] = {
	COL_I64(struct device_desired_rec, seq),
	COL_STR(struct device_desired_rec, props),
};
static const struct rowmap desired_rows =
    ROWMAP(struct device_desired_rec, desired_cols, device_desired_rec_clear);

int
store_device_desired(struct db *db, int64_t tenant_id, int64_t id,
    struct device_desired_rec *out)
{
	struct qparams p;

	memset(out, 0, sizeof(*out));
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	return q_one(db, STMT_DEVICE_DESIRED_GET, &p, &desired_rows, out);
}

struct seq_rec {
	int64_t seq;
};
static const struct colmap seq_cols[] = {
	COL_I64(struct seq_rec, seq),
};
static const struct rowmap seq_rows = ROWMAP(struct seq_rec, seq_cols, NULL);

int
store_device_ack(struct db *db, int64_t tenant_id, int64_t id, int64_t seq,
    bool success, const char *props)
{
	struct seq_rec s = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_i64(&p, seq);
	if ((rc = q_one(db, STMT_DEVICE_DESIRED_DONE, &p, &seq_rows, &s)) != 0)
		return rc;
	if (!success)
		return 0;
	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, props);
	if ((rc = q_command(db, STMT_DEVICE_CURRENT_MERGE, &p)) != 0)
		return rc;
	return q_command(db, STMT_DEVICE_USAGE_ADD, &p);
}

int
store_device_event(struct db *db, int64_t tenant_id, int64_t id,
    const char *rot, const char *type, const char *payload)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64_or_null(&p, id);
	q_text(&p, rot);
	q_text(&p, type);
	q_text(&p, payload);
	return q_command(db, STMT_DEVICE_EVENT, &p);
}

int
store_device_activity(struct db *db, int64_t tenant_id, int64_t id,
    const char *command_id, const char *command, const char *status,
    const char *detail)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	q_text(&p, command_id);
	q_text(&p, command);
	q_text(&p, status);
	q_text(&p, detail);
	return q_command(db, STMT_DEVICE_ACTIVITY, &p);
}

int
store_device_heartbeat_done(struct db *db, int64_t tenant_id, int64_t id,
    long long *interval)
{
	struct interval_rec r = { 0 };
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_i64(&p, id);
	rc = q_one(db, STMT_DEVICE_HEARTBEAT_DONE, &p, &interval_rows, &r);
	*interval = r.interval;
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

/* ---- the operator's ------------------------------------------------ */

struct line_rec {
	int64_t line;
};
static const struct colmap line_cols[] = {
	COL_I64(struct line_rec, line),
};
static const struct rowmap line_rows = ROWMAP(struct line_rec, line_cols, NULL);

struct seal_arg {
	struct device_seal_row *rows;
	size_t n;
};

static void
seal_mark(void *varg, void *vrec)
{
	struct seal_arg *a = varg;
	const struct line_rec *l = vrec;
	size_t i;

	/* Rows come in line order: a binary search would do; n is a chunk. */
	for (i = 0; i < a->n; i++)
		if (a->rows[i].line == l->line &&
		    a->rows[i].secret_sealed.len > 0) {
			a->rows[i].sealed = true;
			break;
		}
}

int
store_device_seal(struct db *db, int64_t tenant_id, const char *batch,
    struct device_seal_row *rows, size_t n)
{
	struct buf a[7];
	struct seal_arg arg = { rows, n };
	struct line_rec scratch;
	struct qparams p;
	char hex[2 * 1024 + 1];
	size_t i, k;
	int rc;

	for (k = 0; k < 7; k++) {
		memset(&a[k], 0, sizeof(a[k]));
		buf_puts(&a[k], "{");
	}
	for (i = 0; i < n; i++) {
		const struct device_seal_row *r = &rows[i];

		rows[i].sealed = false;
		array_i64(&a[0], i, r->line);
		array_elem(&a[1], i, r->rot != NULL ? r->rot : "");
		array_elem(&a[2], i, r->serial);
		array_elem(&a[3], i, r->imei);
		array_i64(&a[4], i, r->profile_id);
		array_elem(&a[5], i, r->scl);
		if (r->secret_sealed.len > 0 &&
		    r->secret_sealed.len * 2 < sizeof(hex)) {
			devproto_hex_encode(r->secret_sealed.data,
			    r->secret_sealed.len, hex);
			array_elem(&a[6], i, hex);
		} else
			array_elem(&a[6], i, NULL);
	}
	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, batch);
	for (k = 0; k < 7; k++) {
		buf_puts(&a[k], "}");
		q_text(&p, (const char *)a[k].data);
	}
	rc = q_each(db, STMT_DEVICE_SEAL, &p, &line_rows, &scratch, seal_mark,
	    &arg);
	for (k = 0; k < 7; k++)
		buf_free(&a[k]);
	return rc;
}

struct block_rec {
	int64_t id;
	char state[DEVICE_STATE_MAX + 1];
};
static const struct colmap block_cols[] = {
	COL_I64(struct block_rec, id),
	COL_CHARS(struct block_rec, state),
};
static const struct rowmap block_rows =
    ROWMAP(struct block_rec, block_cols, NULL);

struct block_arg {
	int64_t tenant_id;
	const char *rot;
	bool block;
};

static int
block_tx(struct db *db, void *varg)
{
	const struct block_arg *a = varg;
	struct block_rec r;
	struct qparams p;
	char payload[128];
	int rc;

	memset(&r, 0, sizeof(r));
	q_init(&p);
	q_i64(&p, a->tenant_id);
	q_text(&p, a->rot);
	rc = q_one(db, a->block ? STMT_DEVICE_BLOCK : STMT_DEVICE_UNBLOCK, &p,
	    &block_rows, &r);
	if (rc == -FP_E_NOTFOUND) {
		/* Already so, or no such device: tell which. */
		rc = q_one(db, STMT_DEVICE_EXISTS, &p, &block_rows, &r);
		return rc == 0 ? -FP_E_CONFLICT : rc;
	}
	if (rc != 0)
		return rc;
	/* The state names are fixed words: no escaping needed. */
	snprintf(payload, sizeof(payload),
	    "{\"From\": \"%s\", \"To\": \"%s\", \"Blocked\": %s}",
	    a->block ? r.state : "BLACKLISTED",
	    a->block ? "BLACKLISTED" : r.state, a->block ? "true" : "false");
	return store_device_event(db, a->tenant_id, r.id, a->rot,
	    "DEVICE_STATE_CHANGE", payload);
}

int
store_device_block(struct db *db, int64_t tenant_id, const char *rot,
    bool block)
{
	struct block_arg a = { tenant_id, rot, block };

	return store_tx(db, block_tx, &a);
}
