/*
 * store/challenge: the certificate maker's HTTP challenges.  A
 * challenge is claimed once (CHALLENGE_CLAIM's "claimed_at IS NULL"
 * is the lock), so two concurrent solvers cannot both issue.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* CHALLENGE_GET's columns, in its order. */
static const struct colmap challenge_cols[] = {
	COL_I64(struct challenge_rec, id),
	COL_I64(struct challenge_rec, tenant_id),
	COL_I64(struct challenge_rec, user_id),
	COL_CHARS(struct challenge_rec, public_id),
	COL_CHARS(struct challenge_rec, token),
	COL_CHARS(struct challenge_rec, kind),
	COL_STR(struct challenge_rec, request),
	COL_I64(struct challenge_rec, expires_at),
	COL_BOOL(struct challenge_rec, claimed),
	COL_CHARS(struct challenge_rec, serial),
};
static const struct rowmap challenge_rows =
    ROWMAP(struct challenge_rec, challenge_cols, challenge_rec_clear);

/* CHALLENGE_INSERT and CHALLENGE_CLAIM return the row's id. */
static const struct colmap challenge_id_cols[] = {
	COL_I64(struct challenge_rec, id),
};
static const struct rowmap challenge_id_rows =
    ROWMAP(struct challenge_rec, challenge_id_cols, NULL);

void
challenge_rec_clear(struct challenge_rec *ch)
{
	if (ch == NULL)
		return;
	free(ch->request);
	/* The token is what the solver must serve: a secret until then. */
	OPENSSL_cleanse(ch->token, sizeof(ch->token));
	memset(ch, 0, sizeof(*ch));
}

/*
 * The expiry is stored as an absolute time the caller computed from
 * the tenant's challenge_ttl, so changing the setting later does not
 * stretch or cut short challenges already handed out.
 */
int
store_challenge_insert(struct db *db, struct challenge_rec *ch)
{
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, ch->tenant_id);
	q_i64(&p, ch->user_id);
	q_text(&p, ch->public_id);
	q_text(&p, ch->token);
	q_text(&p, ch->kind);
	q_text(&p, ch->request);
	q_i64(&p, ch->expires_at);
	rc = q_one(db, STMT_CHALLENGE_INSERT, &p, &challenge_id_rows, ch);
	return rc == -FP_E_NOTFOUND ? -FP_E_INTERNAL : rc;
}

int
store_challenge_get(struct db *db, int64_t tenant_id, const char *public_id,
    struct challenge_rec *ch)
{
	struct challenge_rec got;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, tenant_id);
	q_text(&p, public_id);
	/* Read aside: a miss leaves the caller's record as it was. */
	memset(&got, 0, sizeof(got));
	if ((rc = q_one(db, STMT_CHALLENGE_GET, &p, &challenge_rows, &got)) ==
	    0)
		*ch = got;
	OPENSSL_cleanse(&got, sizeof(got));
	return rc;
}

/*
 * The claim is an UPDATE with "claimed_at IS NULL": the row lock makes
 * exactly one concurrent caller see its row come back, without a
 * transaction held across the HTTP fetch that precedes issuing.
 */
int
store_challenge_claim(struct db *db, int64_t id)
{
	struct challenge_rec ignored;
	struct qparams p;
	int rc;

	q_init(&p);
	q_i64(&p, id);
	/* No row back: someone claimed it first. */
	rc = q_one(db, STMT_CHALLENGE_CLAIM, &p, &challenge_id_rows, &ignored);
	return rc == -FP_E_NOTFOUND ? -FP_E_CONFLICT : rc;
}

/*
 * A NULL serial also clears the claim (see CHALLENGE_FINISH), so a
 * failed issuance can be tried again instead of wedging the challenge.
 */
int
store_challenge_finish(struct db *db, int64_t id, const char *serial)
{
	struct qparams p;

	q_init(&p);
	q_i64(&p, id);
	q_text(&p, serial);
	return q_command(db, STMT_CHALLENGE_FINISH, &p);
}
