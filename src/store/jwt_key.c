/*
 * store/jwt_key: the server's own ES256 signing keys for bearer
 * tokens.  The private half is sealed by the caller (pki_seal with
 * "jwt:<kid>" as associated data) before it reaches the store.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fleetpki/store.h"
#include "store_internal.h"

/* JWT_KEY_GET and JWT_KEY_ACTIVE return these, in this order. */
static const struct colmap jwt_key_cols[] = {
	COL_CHARS(struct jwt_key_rec, kid),
	COL_STR(struct jwt_key_rec, public_pem),
	COL_BYTEA(struct jwt_key_rec, private_sealed),
	COL_BOOL(struct jwt_key_rec, active),
};
static const struct rowmap jwt_key_rows =
    ROWMAP(struct jwt_key_rec, jwt_key_cols, jwt_key_rec_clear);

void
jwt_key_rec_clear(struct jwt_key_rec *k)
{
	if (k == NULL)
		return;
	free(k->public_pem);
	buf_free_secret(&k->private_sealed);
	memset(k, 0, sizeof(*k));
}

int
store_jwt_key_get(struct db *db, const char *kid, struct jwt_key_rec *k)
{
	struct jwt_key_rec got;
	struct qparams p;
	int rc;

	q_init(&p);
	q_text(&p, kid);
	/* Read aside: a miss leaves the caller's record as it was. */
	memset(&got, 0, sizeof(got));
	if ((rc = q_one(db, STMT_JWT_KEY_GET, &p, &jwt_key_rows, &got)) == 0)
		*k = got;
	else
		jwt_key_rec_clear(&got);
	return rc;
}

/*
 * The newest active key signs; older active ones still verify (looked
 * up by kid), so a rotation never invalidates tokens already issued.
 */
int
store_jwt_key_active(struct db *db, struct jwt_key_rec *k)
{
	struct jwt_key_rec got;
	int rc;

	memset(&got, 0, sizeof(got));
	if ((rc = q_one(db, STMT_JWT_KEY_ACTIVE, NULL, &jwt_key_rows, &got)) ==
	    0)
		*k = got;
	else
		jwt_key_rec_clear(&got);
	return rc;
}

/* The algorithm is not a parameter: the statement pins ES256. */
int
store_jwt_key_insert(struct db *db, const struct jwt_key_rec *k)
{
	struct qparams p;

	q_init(&p);
	q_text(&p, k->kid);
	q_text(&p, k->public_pem);
	q_bytea(&p, &k->private_sealed);
	return q_command(db, STMT_JWT_KEY_INSERT, &p);
}
