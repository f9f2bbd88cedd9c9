/*
 * core/proof: the certificate maker's proof of control.  With the
 * tenant's certmaker.require_challenge on, a request is checked in full,
 * kept with a random token, and issued only when every name it asks for
 * serves that token over HTTP.
 *
 * The workflow -- look up, verify, claim, issue, finish (or release) --
 * is one function, so no dialect can skip a step or run them out of
 * order.  The claim is a conditional UPDATE: of concurrent solvers one
 * issues, the others are told to try again and then see the answer.
 *
 * What a challenge keeps is the request as JSON in the certificate
 * maker's own shape (core_names_schema), or {"csr", "days"} for a CSR:
 * rows written before this module existed read back the same way.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "fleetpki/arena.h"
#include "fleetpki/auth.h"
#include "fleetpki/core.h"
#include "fleetpki/json.h"
#include "fleetpki/pki.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

#define MAX_NAMES 100
#define TOKEN_LEN 80
#define CSR_MAX (16 * 1024)

static const struct json_field subject_fields[] = {
	{ "organization", JF_STRING, 0, 1, 128, 0, offsetof(struct pki_name, o),
	    NULL },
	{ "country", JF_STRING, 0, 2, 2, 0, offsetof(struct pki_name, c),
	    NULL },
	{ "province", JF_STRING, 0, 1, 128, 0, offsetof(struct pki_name, st),
	    NULL },
	{ "locality", JF_STRING, 0, 1, 128, 0, offsetof(struct pki_name, l),
	    NULL },
	{ "street_address", JF_STRING, 0, 1, 128, 0,
	    offsetof(struct pki_name, street), NULL },
	{ "postal_code", JF_STRING, 0, 1, 40, 0,
	    offsetof(struct pki_name, postal), NULL },
	{ "common_name", JF_STRING, 0, 1, 64, 0, offsetof(struct pki_name, cn),
	    NULL },
};
static const struct json_schema subject_schema =
    JSON_SCHEMA(struct pki_name, subject_fields);

static const struct json_field names_fields[] = {
	{ "domains", JF_STRINGS, 0, 1, MAX_NAMES, 253,
	    offsetof(struct core_names_json, domains), NULL },
	{ "ips", JF_STRINGS, 0, 1, MAX_NAMES, 45,
	    offsetof(struct core_names_json, ips), NULL },
	{ "email_addresses", JF_STRINGS, 0, 1, MAX_NAMES, 320,
	    offsetof(struct core_names_json, emails), NULL },
	{ "subject", JF_OBJECT, 0, 0, 0, 0,
	    offsetof(struct core_names_json, subject), &subject_schema },
	{ "days", JF_INT, 0, 1, 3650, 0, offsetof(struct core_names_json, days),
	    NULL },
	{ "key", JF_STRING, 0, 1, 16, 0, offsetof(struct core_names_json, key),
	    NULL },
};
const struct json_schema core_names_schema =
    JSON_SCHEMA(struct core_names_json, names_fields);

/* What a challenge keeps of a CSR request. */
struct kept_csr {
	const char *csr;
	struct json_int days;
};

static const struct json_field kept_csr_fields[] = {
	{ "csr", JF_STRING, 1, 1, CSR_MAX, 0, offsetof(struct kept_csr, csr),
	    NULL },
	{ "days", JF_INT, 1, 1, 3650, 0, offsetof(struct kept_csr, days),
	    NULL },
};
static const struct json_schema kept_csr_schema =
    JSON_SCHEMA(struct kept_csr, kept_csr_fields);

static void
add_sans(struct arena *a, const struct json_strs *list, enum pki_san_type type,
    struct pki_san *sans, size_t *n)
{
	size_t i;

	for (i = 0; i < list->n; i++) {
		sans[*n].type = type;
		sans[*n].value = arena_strdup(a, list->v[i]);
		(*n)++;
	}
}

int
core_names_from_json(struct fp_ctx *ctx, const struct tenant *t,
    struct arena *a, const struct core_names_json *in,
    struct core_names_req *out)
{
	struct pki_san *sans;
	long long dflt;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	sans = arena_alloc(a,
	    (in->domains.n + in->ips.n + in->emails.n + 1) * sizeof(*sans));
	add_sans(a, &in->domains, PKI_SAN_DNS, sans, &n);
	add_sans(a, &in->ips, PKI_SAN_IP, sans, &n);
	add_sans(a, &in->emails, PKI_SAN_EMAIL, sans, &n);
	out->sans = sans;
	out->nsans = n;
	if (in->subject != NULL)
		out->subject = *in->subject;
	out->key_alg = in->key;
	if (in->days.set) {
		out->days = (int)in->days.v;
		return 0;
	}
	if ((rc = core_setting_int(ctx, t->id, "certmaker.default_days",
	         &dflt)) != 0)
		return rc;
	out->days = (int)dflt;
	return 0;
}

static void
json_add_str(json_object *o, const char *name, const char *v)
{
	if (v != NULL)
		json_object_object_add(o, name, json_object_new_string(v));
}

/* The request as the challenge keeps it (see the top of the file). */
static char *
kept_encode(const struct core_names_req *nr)
{
	static const char *const lists[] = { "domains", "ips",
		"email_addresses" };
	json_object *o = json_object_new_object(), *arr, *subj;
	const struct pki_name *s = &nr->subject;
	char *text;
	size_t i, k;

	if (nr->csr_pem != NULL) {
		json_object_object_add(o, "csr",
		    json_object_new_string_len(nr->csr_pem, (int)nr->csr_len));
	} else {
		for (k = 0; k < FP_ARRAY_LEN(lists); k++) {
			arr = NULL;
			for (i = 0; i < nr->nsans; i++) {
				if ((size_t)nr->sans[i].type != k)
					continue;
				if (arr == NULL)
					arr = json_object_new_array();
				json_object_array_add(arr,
				    json_object_new_string(nr->sans[i].value));
			}
			if (arr != NULL)
				json_object_object_add(o, lists[k], arr);
		}
		subj = json_object_new_object();
		json_add_str(subj, "organization", s->o);
		json_add_str(subj, "country", s->c);
		json_add_str(subj, "province", s->st);
		json_add_str(subj, "locality", s->l);
		json_add_str(subj, "street_address", s->street);
		json_add_str(subj, "postal_code", s->postal);
		json_add_str(subj, "common_name", s->cn);
		if (json_object_object_length(subj) > 0)
			json_object_object_add(o, "subject", subj);
		else
			json_object_put(subj);
		json_add_str(o, "key", nr->key_alg);
	}
	json_object_object_add(o, "days", json_object_new_int(nr->days));
	text = json_dump(o);
	json_object_put(o);
	return text;
}

/* Read a kept request back into 'nr'; '*json' holds its strings. */
static int
kept_decode(struct fp_ctx *ctx, const struct tenant *t, struct arena *a,
    const struct challenge_rec *ch, json_object **json,
    struct core_names_req *nr, struct fp_status *st)
{
	struct core_names_json names;
	struct kept_csr csr;
	int rc;

	memset(nr, 0, sizeof(*nr));
	if ((rc = json_parse_strict(ch->request, strlen(ch->request), json,
	         st)) != 0)
		return rc;
	if (strcmp(ch->kind, "csr") == 0) {
		if ((rc = json_decode(*json, &kept_csr_schema, a, &csr, st)) !=
		    0)
			return rc;
		nr->csr_pem = csr.csr;
		nr->csr_len = strlen(csr.csr);
		nr->days = (int)csr.days.v;
		return 0;
	}
	if ((rc = json_decode(*json, &core_names_schema, a, &names, st)) != 0)
		return rc;
	return core_names_from_json(ctx, t, a, &names, nr);
}

int
core_challenge_required(struct fp_ctx *ctx, const struct tenant *t, int *on)
{
	return core_setting_bool(ctx, t->id, "certmaker.require_challenge", on);
}

int
core_challenge_open(struct fp_ctx *ctx, const struct tenant *t, int64_t user_id,
    const struct core_names_req *nr, struct core_challenge *out,
    struct fp_status *st)
{
	struct challenge_rec ch;
	struct pki_san *sans = NULL;
	unsigned char rnd[16];
	size_t nsans = 0;
	long long ttl;
	int rc;

	memset(&ch, 0, sizeof(ch));
	memset(out, 0, sizeof(*out));
	/* Refuse now what would be refused after the proof. */
	if ((rc = core_names_check(ctx, t, nr, &sans, &nsans, st)) != 0 ||
	    (rc = core_setting_int(ctx, t->id, "certmaker.challenge_ttl",
	         &ttl)) != 0)
		goto out;
	ch.tenant_id = t->id;
	ch.user_id = user_id;
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), ch.public_id);
	auth_random_token(ch.token, TOKEN_LEN);
	snprintf(ch.kind, sizeof(ch.kind), "%s",
	    nr->csr_pem != NULL ? "csr" : "simple");
	ch.request = kept_encode(nr);
	ch.expires_at = util_now() + ttl;
	if ((rc = store_challenge_insert(ctx->db, &ch)) != 0)
		goto out;
	snprintf(out->public_id, sizeof(out->public_id), "%s", ch.public_id);
	snprintf(out->token, sizeof(out->token), "%s", ch.token);
	out->expires_at = ch.expires_at;
out:
	pki_sans_free(sans, nsans);
	challenge_rec_clear(&ch);
	return rc;
}

void
core_challenge_clear(struct core_challenge *ch)
{
	OPENSSL_cleanse(ch, sizeof(*ch));
}

int
core_challenge_solve(struct fp_ctx *ctx, const struct tenant *t,
    int64_t user_id, const char *public_id, int port, struct arena *a,
    struct cert_rec *out, struct fp_status *st)
{
	struct challenge_rec ch = { 0 };
	struct core_names_req nr;
	struct pki_san *csr_sans = NULL;
	json_object *json = NULL;
	size_t ncsr = 0;
	int rc, claimed = 0;

	memset(out, 0, sizeof(*out));
	rc = store_challenge_get(ctx->db, t->id, public_id, &ch);
	/* Another user's challenge is as good as none, admins included. */
	if (rc == 0 && ch.user_id != user_id)
		rc = -FP_E_NOTFOUND;
	if (rc == -FP_E_NOTFOUND)
		rc = fp_fail(st, FP_E_NOTFOUND, "No such challenge.");
	if (rc != 0)
		goto out;
	if (ch.serial[0] != '\0') {
		/* Solved before: the same answer again. */
		rc = store_cert_by_serial(ctx->db, t->id, ch.serial, out);
		goto out;
	}
	if (util_now() >= ch.expires_at) {
		rc = fp_fail(st, FP_E_GONE, "The challenge has expired.");
		goto out;
	}
	if ((rc = kept_decode(ctx, t, a, &ch, &json, &nr, st)) != 0 ||
	    (rc = core_names_check(ctx, t, &nr, &csr_sans, &ncsr, st)) != 0)
		goto out;
	if ((rc = core_challenge_verify(ctx, ncsr > 0 ? csr_sans : nr.sans,
	         ncsr > 0 ? ncsr : nr.nsans, port, ch.token, st)) != 0)
		goto out;
	/* Only one concurrent solver issues. */
	rc = store_challenge_claim(ctx->db, ch.id);
	if (rc == -FP_E_CONFLICT)
		rc = fp_fail(st, FP_E_CONFLICT,
		    "The challenge is being solved; try again.");
	if (rc != 0)
		goto out;
	claimed = 1;
	if ((rc = core_names_issue(ctx, t, user_id, &nr, NULL, out, st)) != 0 ||
	    (rc = store_challenge_finish(ctx->db, ch.id, out->serial)) != 0)
		goto out;
	claimed = 0;
out:
	/* A failure after the claim releases it, so a retry can issue. */
	if (claimed)
		(void)store_challenge_finish(ctx->db, ch.id, NULL);
	if (rc != 0)
		cert_rec_clear(out);
	pki_sans_free(csr_sans, ncsr);
	json_object_put(json);
	challenge_rec_clear(&ch);
	return rc;
}
