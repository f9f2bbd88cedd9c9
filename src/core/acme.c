/*
 * core/acme: an ACME order's life, as fleetpki-worker's acme.order job
 * carries it (core_acme.h).  Each run goes as far as it can:
 *
 *   queued       the weekly budget lets a new order start (renewals
 *                always do) -> ordering
 *   ordering     the account (made once per tenant and directory), then
 *                newOrder -> validating, with the order's URLs stored
 *   validating   per authorization: the DNS-01 record set, visible on
 *                the resolvers, the challenge answered, the
 *                authorization polled, the record removed -> finalizing
 *   finalizing   the CSR (the device's, or one for a key made and sealed
 *                here first) sent, the order polled -> downloading
 *   downloading  the chain fetched and checked, stored in one
 *                transaction with the order valid and the device issued
 *
 * Everything the CA told us is stored after each step, so a run that
 * dies anywhere resumes from the row.  The CA's limits park the job
 * (Retry-After) rather than sleep in it; polling is bounded and parks
 * too.  An order the CA forgot (a restarted CA, an expired order) is
 * started again; an account it forgot is made again with the same key.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/acme.h"
#include "fleetpki/b64.h"
#include "fleetpki/buf.h"
#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_acme.h"
#include "fleetpki/log.h"
#include "fleetpki/net.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_acme.h"
#include "fleetpki/util.h"

/* Bounded waits inside one run; past them the job parks. */
#define DNS_VISIBLE_TRIES 30
#define POLL_TRIES 20
#define POLL_PAUSE_US (500 * 1000)
#define PARK_POLL_S 5
#define PARK_RATELIMIT_S 3600
#define PARK_UNAVAILABLE_S 60
/* A forgotten order is started again at most this often per run. */
#define MAX_RESTARTS 2

/* How a step ended, besides 0 (go on) and a negative code (transient). */
#define R_PARK 1 /* oc->park_s, oc->type/detail */
#define R_RESTART 2 /* the CA forgot the order: start it again */
#define R_FINAL 3 /* failed for good: oc->type/detail */
#define R_ACCOUNT 4 /* the CA forgot the account */

struct order_ctx {
	struct fp_ctx *ctx;
	int64_t tenant_id;
	struct acme_order_rec o;
	struct acme_session s;
	EVP_PKEY *account_key;
	struct net_denylist *deny;
	char *dir_url, *ca_file, *contact, *eab_kid, *eab_key;
	struct acme_dns dns;
	char thumb[ACME_THUMB_LEN + 1];
	int park_s;
	char type[128], detail[512];
	struct fp_status *st;
};

/* ---- small helpers --------------------------------------------------- */

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v != NULL ? xstrdup(v) : NULL;
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *
resp_json(const struct acme_resp *r)
{
	json_object *o;

	if (r->body.len == 0 || r->body.len > 256 * 1024)
		return NULL;
	o = json_tokener_parse((const char *)r->body.data);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static void problem_set(struct order_ctx *oc, const char *type, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
problem_set(struct order_ctx *oc, const char *type, const char *fmt, ...)
{
	va_list ap;

	snprintf(oc->type, sizeof(oc->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(oc->detail, sizeof(oc->detail), fmt, ap);
	va_end(ap);
}

/* The problem document of a JSON object (a challenge's "error"). */
static void
problem_from_obj(struct order_ctx *oc, json_object *err, const char *dflt)
{
	const char *t = jstr(err, "type"), *d = jstr(err, "detail");

	problem_set(oc, t != NULL ? t : "fleetpki:acme", "%s",
	    d != NULL ? d : dflt);
}

/*
 * Judge a CA answer that is not the success the step wanted: park on
 * rate limits and unavailability (Retry-After honoured), start again
 * when the CA forgot the order or the account, transient on 5xx and
 * badNonce, final on anything else.
 */
static int
ca_error(struct order_ctx *oc, const struct acme_resp *r, const char *what)
{
	struct acme_problem p;
	int ra;

	acme_problem_parse((const char *)r->body.data, r->body.len, r->status,
	    &p);
	snprintf(oc->type, sizeof(oc->type), "%s", p.type);
	snprintf(oc->detail, sizeof(oc->detail), "%s: %.400s", what,
	    p.detail[0] != '\0' ? p.detail : "(no detail)");
	ra = acme_retry_after(r->retry_after, time(NULL));
	if (r->status == 429 || strcmp(p.type, ACME_ERR_RATELIMITED) == 0) {
		oc->park_s = ra > 0 ? ra : PARK_RATELIMIT_S;
		log_warn("acme order %lld (tenant %lld): rate limited by the "
		         "CA (%s), parked %d s: %s",
		    (long long)oc->o.id, (long long)oc->tenant_id, what,
		    oc->park_s, p.detail);
		return R_PARK;
	}
	if (r->status == 503) {
		oc->park_s = ra > 0 ? ra : PARK_UNAVAILABLE_S;
		return R_PARK;
	}
	if (strcmp(p.type, ACME_ERR_NOACCOUNT) == 0 ||
	    strcmp(p.type, ACME_ERR_PREFIX "unauthorized") == 0)
		return R_ACCOUNT;
	if (r->status == 404)
		return R_RESTART;
	if (r->status >= 500 || strcmp(p.type, ACME_ERR_BADNONCE) == 0)
		return fp_fail(oc->st, FP_E_UNAVAILABLE, "%s: %s", oc->type,
		    oc->detail);
	return R_FINAL;
}

static int
save(struct order_ctx *oc)
{
	int rc = store_acme_order_save(oc->ctx->db, &oc->o);

	if (rc == -FP_E_NOTFOUND)
		return fp_fail(oc->st, FP_E_CONFLICT,
		    "order %lld was finished elsewhere", (long long)oc->o.id);
	if (rc != 0)
		return fp_fail(oc->st, FP_E_UNAVAILABLE,
		    "storing order %lld failed", (long long)oc->o.id);
	return 0;
}

static void
set_state(struct order_ctx *oc, const char *state)
{
	snprintf(oc->o.state, sizeof(oc->o.state), "%s", state);
}

/* ---- the account ------------------------------------------------------- */

struct seal_arg {
	struct fp_ctx *ctx;
	int64_t tenant_id;
	const struct buf *der;
};

static int
account_seal(void *arg, int64_t id, struct buf *sealed)
{
	struct seal_arg *a = arg;
	char aad[96];

	snprintf(aad, sizeof(aad), "acme:%lld:%lld", (long long)a->tenant_id,
	    (long long)id);
	return signer_seal(a->ctx->signer, aad, a->der->data, a->der->len,
	    sealed);
}

/* The account row (made once) and its key, unsealed. */
static int
account_load(struct order_ctx *oc, struct acme_account_rec *a)
{
	struct buf der = BUF_INIT, plain = BUF_INIT;
	EVP_PKEY *key = NULL;
	struct fp_status why = { FP_E_OK, "" };
	char aad[96];
	int64_t id;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		rc = store_acme_account_get(oc->ctx->db, oc->tenant_id,
		    oc->dir_url, a);
		if (rc != -FP_E_NOTFOUND)
			break;
		acme_account_rec_clear(a);
		if ((rc = pki_key_generate("ec-p256", &key, &why)) != 0 ||
		    (rc = pki_key_to_der(key, &der)) != 0)
			break;
		{
			struct seal_arg sa = { oc->ctx, oc->tenant_id, &der };

			rc = store_acme_account_create(oc->ctx->db,
			    oc->tenant_id, oc->dir_url, oc->contact,
			    account_seal, &sa, &id);
		}
		buf_free_secret(&der);
		EVP_PKEY_free(key);
		key = NULL;
		if (rc != 0 && rc != -FP_E_CONFLICT)
			break;
		if (rc == 0)
			log_info("acme: tenant %lld has a new account key for "
			         "%.200s",
			    (long long)oc->tenant_id, oc->dir_url);
	}
	EVP_PKEY_free(key);
	if (rc != 0)
		return fp_fail(oc->st, FP_E_UNAVAILABLE,
		    "the ACME account could not be read or made");
	snprintf(aad, sizeof(aad), "acme:%lld:%lld", (long long)oc->tenant_id,
	    (long long)a->id);
	rc = signer_unseal(oc->ctx->signer, aad, a->key_sealed.data,
	    a->key_sealed.len, &plain);
	if (rc == 0)
		rc = pki_key_from_der(plain.data, plain.len, &oc->account_key);
	buf_free_secret(&plain);
	if (rc != 0)
		return fp_fail(oc->st, FP_E_INTERNAL,
		    "the ACME account key does not open");
	return 0;
}

/* newAccount with the key (again, when the CA forgot it). */
static int
account_register(struct order_ctx *oc, struct acme_account_rec *a)
{
	struct acme_resp r = { 0 };
	struct buf payload = BUF_INIT, eab = BUF_INIT, jwk = BUF_INIT;
	json_object *pl = json_object_new_object(), *contact;
	int rc;

	free(oc->s.kid);
	oc->s.kid = NULL;
	json_object_object_add(pl, "termsOfServiceAgreed",
	    json_object_new_boolean(1));
	if (oc->contact != NULL && oc->contact[0] != '\0') {
		char *m = xasprintf("mailto:%s", oc->contact);

		contact = json_object_new_array();
		json_object_array_add(contact, json_object_new_string(m));
		json_object_object_add(pl, "contact", contact);
		free(m);
	}
	if (oc->eab_kid != NULL && oc->eab_kid[0] != '\0' &&
	    oc->eab_key != NULL && oc->eab_key[0] != '\0') {
		json_object *e;

		if ((rc = acme_jwk(oc->account_key, &jwk)) != 0)
			goto out;
		buf_append(&jwk, "", 1);
		if (acme_eab(oc->eab_kid, oc->eab_key, (const char *)jwk.data,
		        oc->s.dir.new_account, &eab) != 0) {
			problem_set(oc, "fleetpki:eab",
			    "acme.eab_hmac_key is not base64url");
			rc =
			    fp_fail(oc->st, FP_E_UNAVAILABLE, "%s", oc->detail);
			goto out;
		}
		buf_append(&eab, "", 1);
		e = json_tokener_parse((const char *)eab.data);
		json_object_object_add(pl, "externalAccountBinding", e);
	} else if (oc->s.dir.eab_required) {
		problem_set(oc, ACME_ERR_PREFIX "externalAccountRequired",
		    "the CA requires external account binding: set "
		    "acme.eab_kid and acme.eab_hmac_key");
		rc = fp_fail(oc->st, FP_E_UNAVAILABLE, "%s", oc->detail);
		goto out;
	}
	buf_puts(&payload,
	    json_object_to_json_string_ext(pl,
	        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_append(&payload, "", 1);
	if ((rc = acme_post(&oc->s, oc->s.dir.new_account,
	         (const char *)payload.data, NULL, &r, oc->st)) != 0)
		goto out;
	if ((r.status != 200 && r.status != 201) || r.location == NULL) {
		rc = ca_error(oc, &r, "newAccount");
		(void)store_acme_account_save(oc->ctx->db, oc->tenant_id, a->id,
		    a->account_url, a->status[0] != '\0' ? a->status : "new",
		    oc->detail);
		/* An account refused is the tenant's settings: retry later. */
		if (rc == R_FINAL || rc == R_ACCOUNT || rc == R_RESTART)
			rc = fp_fail(oc->st, FP_E_UNAVAILABLE, "%s: %s",
			    oc->type, oc->detail);
		goto out;
	}
	oc->s.kid = xstrdup(r.location);
	set_str(&a->account_url, r.location);
	if (store_acme_account_save(oc->ctx->db, oc->tenant_id, a->id,
	        r.location, "valid", NULL) != 0) {
		rc = fp_fail(oc->st, FP_E_UNAVAILABLE, "storing the account");
		goto out;
	}
	log_info("acme: tenant %lld registered account %.300s",
	    (long long)oc->tenant_id, r.location);
	rc = 0;
out:
	json_object_put(pl);
	buf_free(&payload);
	buf_free_secret(&eab);
	buf_free(&jwk);
	acme_resp_clear(&r);
	return rc;
}

/* ---- the steps --------------------------------------------------------- */

static int
step_new_order(struct order_ctx *oc)
{
	struct acme_resp r = { 0 };
	json_object *obj = NULL, *authz;
	struct buf urls = BUF_INIT;
	char *payload;
	size_t i;
	int rc;

	payload = xasprintf("{\"identifiers\":[{\"type\":\"dns\",\"value\":"
	                    "\"%s\"}]}",
	    oc->o.hostname);
	rc = acme_post(&oc->s, oc->s.dir.new_order, payload, NULL, &r, oc->st);
	free(payload);
	if (rc != 0)
		goto out;
	if (r.status != 201 || r.location == NULL ||
	    (obj = resp_json(&r)) == NULL) {
		rc = ca_error(oc, &r, "newOrder");
		if (rc == R_RESTART)
			rc = R_FINAL;
		goto out;
	}
	if (!json_object_object_get_ex(obj, "authorizations", &authz) ||
	    !json_object_is_type(authz, json_type_array) ||
	    jstr(obj, "finalize") == NULL) {
		problem_set(oc, "fleetpki:acme",
		    "newOrder: the order lacks authorizations or finalize");
		rc = fp_fail(oc->st, FP_E_UNAVAILABLE, "%s", oc->detail);
		goto out;
	}
	for (i = 0; i < json_object_array_length(authz); i++) {
		json_object *u = json_object_array_get_idx(authz, i);
		const char *s;

		if (!json_object_is_type(u, json_type_string) ||
		    strchr((s = json_object_get_string(u)), ' ') != NULL)
			continue;
		if (urls.len > 0)
			buf_puts(&urls, " ");
		buf_puts(&urls, s);
	}
	buf_append(&urls, "", 1);
	set_str(&oc->o.order_url, r.location);
	set_str(&oc->o.finalize_url, jstr(obj, "finalize"));
	set_str(&oc->o.authz_urls, (const char *)urls.data);
	set_str(&oc->o.cert_url, NULL);
	set_state(oc, "validating");
	rc = save(oc);
out:
	json_object_put(obj);
	buf_free(&urls);
	acme_resp_clear(&r);
	return rc;
}

/* POST-as-GET 'url' into '*obj' (a JSON object); CA errors judged. */
static int
get_obj(struct order_ctx *oc, const char *url, const char *what,
    json_object **obj, struct acme_resp *r)
{
	int rc;

	*obj = NULL;
	if ((rc = acme_post(&oc->s, url, NULL, NULL, r, oc->st)) != 0)
		return rc;
	if (r->status != 200 || (*obj = resp_json(r)) == NULL)
		return ca_error(oc, r, what);
	return 0;
}

/* Remove the order's DNS-01 record, if it set one. */
static void
dns_cleanup(struct order_ctx *oc)
{
	struct fp_status why = { FP_E_OK, "" };

	if (oc->o.dns_name == NULL || oc->o.dns_value == NULL)
		return;
	if (acme_dns_set(&oc->dns, 0, oc->o.dns_name, oc->o.dns_value, &why) !=
	    0)
		log_warn("acme order %lld: removing the TXT record at %s "
		         "failed: %s",
		    (long long)oc->o.id, oc->o.dns_name,
		    fp_status_message(&why, -FP_E_UNAVAILABLE));
	set_str(&oc->o.dns_name, NULL);
	set_str(&oc->o.dns_value, NULL);
	set_str(&oc->o.challenge_url, NULL);
}

/* Wait (bounded) until the resolvers serve the record: 0, or park. */
static int
dns_wait_visible(struct order_ctx *oc)
{
	int i, v;

	for (i = 0; i < DNS_VISIBLE_TRIES; i++) {
		v = acme_dns_visible(oc->dns.resolvers, oc->o.dns_name,
		    oc->o.dns_value, oc->st);
		if (v == 1)
			return 0;
		if (v < 0) {
			problem_set(oc, "fleetpki:dns", "%s",
			    fp_status_message(oc->st, v));
			return v;
		}
		usleep(1000 * 1000);
	}
	problem_set(oc, "fleetpki:dns",
	    "the TXT record at %s is not visible on %s yet", oc->o.dns_name,
	    oc->dns.resolvers);
	oc->park_s = PARK_POLL_S;
	return R_PARK;
}

/* One authorization to valid. */
static int
step_authz(struct order_ctx *oc, const char *url)
{
	struct acme_resp r = { 0 };
	json_object *obj = NULL, *chals, *ch = NULL, *ident;
	const char *status, *token, *chal_url, *chal_status, *name;
	char *ka = NULL, value[ACME_THUMB_LEN + 1], *fqdn = NULL;
	size_t i;
	int rc, poll;

	for (poll = 0;; poll++) {
		json_object_put(obj);
		obj = NULL;
		if ((rc = get_obj(oc, url, "authorization", &obj, &r)) != 0)
			goto out;
		status = jstr(obj, "status");
		if (status == NULL)
			status = "";
		if (strcmp(status, "valid") == 0) {
			dns_cleanup(oc);
			rc = 0;
			goto out;
		}
		ch = NULL;
		if (json_object_object_get_ex(obj, "challenges", &chals) &&
		    json_object_is_type(chals, json_type_array))
			for (i = 0; i < json_object_array_length(chals); i++) {
				json_object *c =
				    json_object_array_get_idx(chals, i);
				const char *t = jstr(c, "type");

				if (t != NULL && strcmp(t, "dns-01") == 0) {
					ch = c;
					break;
				}
			}
		if (strcmp(status, "pending") != 0) {
			json_object *err = NULL;

			/* invalid, deactivated, expired, revoked */
			if (ch != NULL)
				json_object_object_get_ex(ch, "error", &err);
			if (err != NULL)
				problem_from_obj(oc, err,
				    "the authorization failed");
			else
				problem_set(oc, "fleetpki:acme",
				    "the authorization of %s is %s",
				    oc->o.hostname, status);
			dns_cleanup(oc);
			rc = R_FINAL;
			goto out;
		}
		if (ch == NULL || (token = jstr(ch, "token")) == NULL ||
		    (chal_url = jstr(ch, "url")) == NULL) {
			problem_set(oc, "fleetpki:acme",
			    "the CA offers no dns-01 challenge for %s",
			    oc->o.hostname);
			rc = R_FINAL;
			goto out;
		}
		chal_status = jstr(ch, "status");
		if (chal_status == NULL)
			chal_status = "pending";
		if (strcmp(chal_status, "pending") == 0) {
			/* Not answered yet: the record first, stored first. */
			if (!json_object_object_get_ex(obj, "identifier",
			        &ident) ||
			    (name = jstr(ident, "value")) == NULL ||
			    strcmp(name, oc->o.hostname) != 0) {
				problem_set(oc, "fleetpki:acme",
				    "the authorization is not for %s",
				    oc->o.hostname);
				rc = R_FINAL;
				goto out;
			}
			free(ka);
			ka = acme_key_authz(token, oc->thumb);
			acme_dns01_value(ka, value);
			free(fqdn);
			fqdn = xasprintf("_acme-challenge.%s", name);
			if (oc->o.dns_name != NULL &&
			    (strcmp(oc->o.dns_name, fqdn) != 0 ||
			        strcmp(oc->o.dns_value, value) != 0))
				dns_cleanup(oc); /* an earlier order's */
			set_str(&oc->o.challenge_url, chal_url);
			set_str(&oc->o.dns_name, fqdn);
			set_str(&oc->o.dns_value, value);
			if ((rc = save(oc)) != 0)
				goto out;
			if ((rc = acme_dns_set(&oc->dns, 1, fqdn, value,
			         oc->st)) != 0) {
				problem_set(oc, "fleetpki:dns", "%s",
				    fp_status_message(oc->st, rc));
				goto out;
			}
			if ((rc = dns_wait_visible(oc)) != 0)
				goto out;
			acme_resp_clear(&r);
			if ((rc = acme_post(&oc->s, chal_url, "{}", NULL, &r,
			         oc->st)) != 0)
				goto out;
			if (r.status != 200) {
				rc = ca_error(oc, &r, "challenge");
				if (rc == R_FINAL)
					dns_cleanup(oc);
				goto out;
			}
		}
		if (poll >= POLL_TRIES) {
			problem_set(oc, "fleetpki:acme",
			    "the authorization of %s is still pending",
			    oc->o.hostname);
			oc->park_s = PARK_POLL_S;
			rc = R_PARK;
			goto out;
		}
		usleep(POLL_PAUSE_US);
	}
out:
	free(ka);
	free(fqdn);
	json_object_put(obj);
	acme_resp_clear(&r);
	return rc;
}

static int
step_validate(struct order_ctx *oc)
{
	char *list = xstrdup(oc->o.authz_urls != NULL ? oc->o.authz_urls : "");
	char *tok, *save_p = NULL;
	int rc = 0;

	for (tok = strtok_r(list, " ", &save_p); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, " ", &save_p))
		rc = step_authz(oc, tok);
	free(list);
	if (rc != 0)
		return rc;
	set_state(oc, "finalizing");
	return save(oc);
}

/* The CSR's DER: the device's, or one for the key made for the order. */
static int
order_csr(struct order_ctx *oc, struct buf *der, EVP_PKEY **pub)
{
	struct pki_csr *csr = NULL;
	X509_REQ *req = NULL;
	struct pki_san *sans = NULL;
	size_t nsans = 0;
	EVP_PKEY *key = NULL;
	struct buf pk = BUF_INIT, plain = BUF_INIT;
	X509_NAME *name;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	unsigned char *p = NULL;
	char aad[160], *san = NULL;
	int len, rc = -FP_E_INTERNAL;

	if (oc->o.csr_pem != NULL) {
		if ((rc = pki_csr_parse_pem(oc->o.csr_pem,
		         strlen(oc->o.csr_pem), &csr, oc->st)) != 0 ||
		    (rc = pki_csr_sans(csr, &sans, &nsans, oc->st)) != 0)
			goto bad_csr;
		if (nsans != 1 || sans[0].type != PKI_SAN_DNS ||
		    strcmp(sans[0].value, oc->o.hostname) != 0) {
			fp_fail(oc->st, FP_E_BADREQ,
			    "the CSR must name exactly %s", oc->o.hostname);
			goto bad_csr;
		}
		if ((rc = pki_csr_to_der(csr, der)) != 0)
			goto out;
		*pub = pki_csr_pubkey(csr);
		EVP_PKEY_up_ref(*pub);
		goto out;
	}
	snprintf(aad, sizeof(aad), "enroll:%lld:%s:%lld",
	    (long long)oc->tenant_id, oc->o.device_id, (long long)oc->o.id);
	if (oc->o.key_sealed.len == 0) {
		struct fp_status why = { FP_E_OK, "" };
		struct buf sealed = BUF_INIT;

		/* Made and stored before the CA sees it: a resume keeps it. */
		if (pki_key_generate("ec-p256", &key, &why) != 0 ||
		    pki_key_to_der(key, &pk) != 0 ||
		    signer_seal(oc->ctx->signer, aad, pk.data, pk.len,
		        &sealed) != 0) {
			buf_free(&sealed);
			rc = fp_fail(oc->st, FP_E_INTERNAL,
			    "making the device key failed");
			goto out;
		}
		rc = store_acme_order_set_key(oc->ctx->db, oc->tenant_id,
		    oc->o.id, &sealed);
		buf_free(&sealed);
		buf_free_secret(&pk);
		EVP_PKEY_free(key);
		key = NULL;
		if (rc != 0 && rc != -FP_E_NOTFOUND) {
			rc = fp_fail(oc->st, FP_E_UNAVAILABLE,
			    "storing the device key failed");
			goto out;
		}
		/* Read back what is stored (ours, or a racing worker's). */
		{
			struct acme_order_rec again;

			if (store_acme_order_get(oc->ctx->db, oc->tenant_id,
			        oc->o.id, &again) != 0) {
				rc = fp_fail(oc->st, FP_E_UNAVAILABLE,
				    "reading the order failed");
				goto out;
			}
			buf_reset(&oc->o.key_sealed);
			buf_append(&oc->o.key_sealed, again.key_sealed.data,
			    again.key_sealed.len);
			acme_order_rec_clear(&again);
		}
	}
	if (signer_unseal(oc->ctx->signer, aad, oc->o.key_sealed.data,
	        oc->o.key_sealed.len, &plain) != 0 ||
	    pki_key_from_der(plain.data, plain.len, &key) != 0) {
		buf_free_secret(&plain);
		rc = fp_fail(oc->st, FP_E_INTERNAL,
		    "the order's key does not open");
		goto out;
	}
	buf_free_secret(&plain);
	san = xasprintf("DNS:%s", oc->o.hostname);
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    (name = X509_REQ_get_subject_name(req)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	        (const unsigned char *)oc->o.hostname, -1, -1, 0) != 1 ||
	    (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	         san)) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL ||
	    sk_X509_EXTENSION_push(exts, ext) == 0 ||
	    X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		log_ossl_errors("acme: making the CSR");
		rc = fp_fail(oc->st, FP_E_INTERNAL, "making the CSR failed");
		goto out;
	}
	if (sk_X509_EXTENSION_num(exts) == 1)
		ext = NULL; /* freed with the stack */
	*pub = key;
	key = NULL;
	if ((len = i2d_X509_REQ(req, &p)) <= 0) {
		rc = -FP_E_INTERNAL;
		goto out;
	}
	buf_append(der, p, (size_t)len);
	OPENSSL_free(p);
	rc = 0;
	goto out;
bad_csr:
	problem_set(oc, "fleetpki:csr", "%s",
	    fp_status_message(oc->st, -FP_E_BADREQ));
	rc = R_FINAL;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_EXTENSION_free(ext);
	X509_REQ_free(req);
	pki_csr_free(csr);
	EVP_PKEY_free(key);
	pki_sans_free(sans, nsans);
	free(san);
	ERR_clear_error();
	return rc;
}

static int
step_finalize(struct order_ctx *oc)
{
	struct acme_resp r = { 0 };
	json_object *obj = NULL;
	struct buf der = BUF_INIT, b64 = BUF_INIT;
	EVP_PKEY *pub = NULL;
	const char *status;
	char *payload = NULL;
	int rc, poll, sent = 0;

	for (poll = 0;; poll++) {
		json_object_put(obj);
		obj = NULL;
		if ((rc = get_obj(oc, oc->o.order_url, "order", &obj, &r)) != 0)
			goto out;
		status = jstr(obj, "status");
		if (status == NULL)
			status = "";
		if (strcmp(status, "valid") == 0) {
			if (jstr(obj, "certificate") == NULL) {
				problem_set(oc, "fleetpki:acme",
				    "a valid order without its certificate");
				rc = R_FINAL;
				goto out;
			}
			set_str(&oc->o.cert_url, jstr(obj, "certificate"));
			set_state(oc, "downloading");
			rc = save(oc);
			goto out;
		}
		if (strcmp(status, "ready") == 0 && !sent) {
			if ((rc = order_csr(oc, &der, &pub)) != 0)
				goto out;
			b64url_encode(der.data, der.len, &b64);
			payload = xasprintf("{\"csr\":\"%.*s\"}", (int)b64.len,
			    (const char *)b64.data);
			acme_resp_clear(&r);
			if ((rc = acme_post(&oc->s, oc->o.finalize_url, payload,
			         NULL, &r, oc->st)) != 0)
				goto out;
			if (r.status != 200) {
				rc = ca_error(oc, &r, "finalize");
				goto out;
			}
			sent = 1;
			continue;
		}
		if (strcmp(status, "pending") == 0) {
			/* An authorization went back: validate again. */
			set_state(oc, "validating");
			rc = save(oc);
			goto out;
		}
		if (strcmp(status, "invalid") == 0) {
			json_object *err;

			if (json_object_object_get_ex(obj, "error", &err))
				problem_from_obj(oc, err,
				    "the order is invalid");
			else
				problem_set(oc, "fleetpki:acme",
				    "the order is invalid");
			rc = R_FINAL;
			goto out;
		}
		/* processing (or ready again, which a CA should not say) */
		if (poll >= POLL_TRIES) {
			int ra = acme_retry_after(r.retry_after, time(NULL));

			problem_set(oc, "fleetpki:acme",
			    "the order is still %s", status);
			oc->park_s = ra > 0 ? ra : PARK_POLL_S;
			rc = R_PARK;
			goto out;
		}
		usleep(POLL_PAUSE_US);
	}
out:
	EVP_PKEY_free(pub);
	json_object_put(obj);
	buf_free(&der);
	buf_free(&b64);
	free(payload);
	acme_resp_clear(&r);
	return rc;
}

/* The public key the certificate must carry: the CSR's, or the key's. */
static int
order_pubkey(struct order_ctx *oc, EVP_PKEY **pub)
{
	struct buf der = BUF_INIT;
	int rc;

	/* The same CSR again (deterministic key; the signature is not). */
	rc = order_csr(oc, &der, pub);
	buf_free(&der);
	return rc;
}

static int64_t
parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *end;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

/* RFC 9773: the CA's suggested window start for the certificate. */
static int64_t
ari_window(struct order_ctx *oc, const char *ari_id)
{
	struct acme_resp r = { 0 };
	struct fp_status why = { FP_E_OK, "" };
	json_object *obj = NULL, *w;
	char *url;
	int64_t start = 0;
	long status;

	(void)status;
	if (oc->s.dir.renewal_info == NULL || ari_id == NULL)
		return 0;
	url = xasprintf("%s/%s", oc->s.dir.renewal_info, ari_id);
	{
		struct net_request rq = { "GET", NULL, NULL, 0 };
		struct buf head = BUF_INIT;

		oc->s.f.url = url;
		if (net_http_request(&oc->s.f, &rq, &r.status, &head, &r.body,
		        &why) == 0 &&
		    r.status == 200 && (obj = resp_json(&r)) != NULL &&
		    json_object_object_get_ex(obj, "suggestedWindow", &w)) {
			int64_t a = parse_rfc3339(jstr(w, "start"));
			int64_t b = parse_rfc3339(jstr(w, "end"));

			/* A moment in the window, as RFC 9773 4.2 asks. */
			if (a > 0 && b >= a)
				start = a +
				    (int64_t)(arc4random() %
				        (uint32_t)(b - a + 1));
		}
		buf_free(&head);
	}
	free(url);
	json_object_put(obj);
	acme_resp_clear(&r);
	return start;
}

static int
step_download(struct order_ctx *oc)
{
	struct acme_resp r = { 0 };
	struct acme_cert_in in;
	struct pki_leaf_info info;
	struct buf chain = BUF_INIT;
	struct fp_status why = { FP_E_OK, "" };
	char *ari_id = NULL;
	EVP_PKEY *want = NULL;
	int rc;

	memset(&info, 0, sizeof(info));
	if ((rc = acme_post(&oc->s, oc->o.cert_url, NULL,
	         "application/pem-certificate-chain", &r, oc->st)) != 0)
		goto out;
	if (r.status != 200 || r.body.len == 0) {
		rc = ca_error(oc, &r, "certificate");
		goto out;
	}
	if ((rc = order_pubkey(oc, &want)) != 0)
		goto out;
	/*
	 * The leaf must be for the order's name and key; what is stored
	 * (and given to the device) is the certificates alone, re-encoded:
	 * leaf then chain, nothing the CA put between.
	 */
	if (pki_chain_check((const char *)r.body.data, r.body.len,
	        oc->o.hostname, want, &chain, &info, &why) != 0) {
		problem_set(oc, "fleetpki:acme", "%s",
		    fp_status_message(&why, -FP_E_BADREQ));
		rc = R_FINAL;
		goto out;
	}
	ari_id = acme_ari_id(info.der.data, info.der.len);
	memset(&in, 0, sizeof(in));
	in.chain_pem = (const char *)chain.data;
	in.spki_sha256 = info.spki_sha256;
	in.serial = info.serial;
	in.not_before = info.not_before;
	in.not_after = info.not_after;
	in.ari_id = ari_id;
	in.renew_after = ari_window(oc, ari_id);
	rc = store_acme_cert_store(oc->ctx->db, oc->tenant_id, oc->o.id, &in);
	if (rc == -FP_E_NOTFOUND)
		rc = 0; /* another worker stored it */
	else if (rc != 0)
		rc = fp_fail(oc->st, FP_E_UNAVAILABLE,
		    "storing the certificate failed");
	else
		log_info("acme order %lld (tenant %lld): %s issued, serial %s",
		    (long long)oc->o.id, (long long)oc->tenant_id,
		    oc->o.hostname, info.serial);
	if (rc == 0)
		set_state(oc, "valid");
out:
	pki_leaf_info_clear(&info);
	EVP_PKEY_free(want);
	buf_free(&chain);
	free(ari_id);
	acme_resp_clear(&r);
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

static int
load_settings(struct order_ctx *oc)
{
	struct fp_ctx *ctx = oc->ctx;
	int64_t t = oc->tenant_id;

	if (core_setting_str(ctx, t, "acme.directory_url", &oc->dir_url) != 0 ||
	    core_setting_str(ctx, t, "acme.ca_file", &oc->ca_file) != 0 ||
	    core_setting_str(ctx, t, "acme.contact", &oc->contact) != 0 ||
	    core_setting_str(ctx, t, "acme.eab_kid", &oc->eab_kid) != 0 ||
	    core_setting_str(ctx, t, "acme.eab_hmac_key", &oc->eab_key) != 0 ||
	    core_setting_str(ctx, t, "acme.dns_provider", &oc->dns.provider) !=
	        0 ||
	    core_setting_str(ctx, t, "acme.dns_hook", &oc->dns.hook) != 0 ||
	    core_setting_str(ctx, t, "acme.dns_resolvers",
	        &oc->dns.resolvers) != 0 ||
	    core_setting_str(ctx, t, "acme.rfc2136_server",
	        &oc->dns.rfc2136_server) != 0 ||
	    core_setting_str(ctx, t, "acme.rfc2136_key_file",
	        &oc->dns.rfc2136_key_file) != 0)
		return fp_fail(oc->st, FP_E_UNAVAILABLE,
		    "reading the tenant's ACME settings failed");
	return 0;
}

static int
make_denylist(const struct config *cfg, struct net_denylist **deny,
    struct fp_status *st)
{
	char *err = NULL;

	if (net_denylist_parse(cfg->outbound_deny, deny, &err) != 0 ||
	    net_denylist_allow(*deny, cfg->outbound_allow, &err) != 0) {
		log_err("outbound_deny/outbound_allow: %s", err);
		free(err);
		return fp_fail(st, FP_E_INTERNAL,
		    "outbound_deny or "
		    "outbound_allow does not parse");
	}
	return 0;
}

/* The budget gate of a queued order: 0 to go on, or R_PARK. */
static int
budget_gate(struct order_ctx *oc)
{
	struct acme_budget_rec b;
	long long budget = 50;
	int wait;

	if (core_setting_int(oc->ctx, oc->tenant_id, "acme.weekly_budget",
	        &budget) != 0 ||
	    store_acme_budget(oc->ctx->db, oc->tenant_id, &b) != 0)
		return fp_fail(oc->st, FP_E_UNAVAILABLE,
		    "reading the weekly budget failed");
	wait = acme_budget_wait_s(budget, b.used, b.in_flight, b.oldest_age_s,
	    strcmp(oc->o.kind, "renew") == 0);
	if (wait == 0)
		return 0;
	problem_set(oc, "fleetpki:budget",
	    "the weekly budget of %lld new certificates is spent (%lld in the "
	    "last 7 days, %lld in flight); waiting %d s",
	    budget, (long long)b.used, (long long)b.in_flight, wait);
	oc->park_s = wait;
	return R_PARK;
}

static void
oc_free(struct order_ctx *oc)
{
	acme_order_rec_clear(&oc->o);
	acme_session_free(&oc->s);
	EVP_PKEY_free(oc->account_key);
	net_denylist_free(oc->deny);
	free(oc->dir_url);
	free(oc->ca_file);
	free(oc->contact);
	free(oc->eab_kid);
	util_free_secret(oc->eab_key);
	acme_dns_free(&oc->dns);
}

/* Everything up to the state machine: 0, or how the run ends. */
static int
order_begin(struct order_ctx *oc, struct acme_account_rec *a)
{
	struct buf jwk = BUF_INIT;
	int rc;

	if ((rc = load_settings(oc)) != 0)
		return rc;
	if (oc->dir_url[0] == '\0') {
		problem_set(oc, "fleetpki:config",
		    "acme.directory_url is not set for the tenant");
		return R_FINAL;
	}
	if (strcmp(oc->o.state, "queued") == 0) {
		/* A device's CSR is judged before the CA is asked anything. */
		if (oc->o.csr_pem != NULL) {
			struct buf der = BUF_INIT;
			EVP_PKEY *pub = NULL;

			rc = order_csr(oc, &der, &pub);
			buf_free(&der);
			EVP_PKEY_free(pub);
			if (rc != 0)
				return rc;
		}
		if ((rc = budget_gate(oc)) != 0)
			return rc;
	}
	if ((rc = make_denylist(oc->ctx->cfg, &oc->deny, oc->st)) != 0)
		return rc;
	if ((rc = account_load(oc, a)) != 0)
		return rc;
	oc->o.account_id = a->id;
	acme_session_init(&oc->s, oc->dir_url, oc->ca_file, oc->deny,
	    oc->account_key);
	if ((rc = acme_directory(&oc->s, oc->st)) != 0) {
		problem_set(oc, "fleetpki:unreachable", "%s",
		    fp_status_message(oc->st, rc));
		return rc;
	}
	if ((rc = acme_jwk(oc->account_key, &jwk)) != 0)
		return fp_fail(oc->st, FP_E_INTERNAL, "the account JWK");
	buf_append(&jwk, "", 1);
	acme_jwk_thumbprint((const char *)jwk.data, oc->thumb);
	buf_free(&jwk);
	if (a->account_url == NULL || strcmp(a->status, "valid") != 0) {
		if ((rc = account_register(oc, a)) != 0)
			return rc;
	} else
		oc->s.kid = xstrdup(a->account_url);
	/*
	 * Out of the queue once the CA has answered: an order whose CA is
	 * unreachable stays queued (its error recorded), and counts against
	 * the budget only from here.
	 */
	if (strcmp(oc->o.state, "queued") == 0) {
		set_state(oc, "ordering");
		set_str(&oc->o.error_type, NULL);
		set_str(&oc->o.error_detail, NULL);
		if ((rc = save(oc)) != 0)
			return rc;
	}
	return 0;
}

static int
order_steps(struct order_ctx *oc, struct acme_account_rec *a)
{
	int rc = 0, restarts = 0, reaccount = 0;

	while (rc == 0 && strcmp(oc->o.state, "valid") != 0) {
		if (strcmp(oc->o.state, "ordering") == 0)
			rc = step_new_order(oc);
		else if (strcmp(oc->o.state, "validating") == 0)
			rc = step_validate(oc);
		else if (strcmp(oc->o.state, "finalizing") == 0)
			rc = step_finalize(oc);
		else if (strcmp(oc->o.state, "downloading") == 0)
			rc = step_download(oc);
		else
			return fp_fail(oc->st, FP_E_INTERNAL,
			    "order in state %s", oc->o.state);
		if (rc == R_ACCOUNT && reaccount++ == 0) {
			log_info("acme order %lld: the CA forgot the account; "
			         "registering it again",
			    (long long)oc->o.id);
			if ((rc = account_register(oc, a)) == 0)
				rc = R_RESTART;
		}
		if (rc == R_ACCOUNT)
			rc = R_FINAL;
		if (rc == R_RESTART) {
			if (restarts++ >= MAX_RESTARTS) {
				rc = R_FINAL;
				break;
			}
			log_info("acme order %lld: the CA forgot the order; "
			         "ordering again",
			    (long long)oc->o.id);
			dns_cleanup(oc);
			set_state(oc, "ordering");
			set_str(&oc->o.order_url, NULL);
			set_str(&oc->o.finalize_url, NULL);
			set_str(&oc->o.authz_urls, NULL);
			set_str(&oc->o.cert_url, NULL);
			rc = save(oc);
		}
	}
	return rc;
}

int
core_acme_order_run(struct fp_ctx *ctx, int64_t tenant_id, int64_t order_id,
    int last_attempt, struct acme_run *run, struct fp_status *st)
{
	struct order_ctx oc;
	struct acme_account_rec a;
	char dev_err[700];
	int rc;

	memset(run, 0, sizeof(*run));
	memset(&oc, 0, sizeof(oc));
	memset(&a, 0, sizeof(a));
	oc.ctx = ctx;
	oc.tenant_id = tenant_id;
	oc.st = st;
	rc = store_acme_order_get(ctx->db, tenant_id, order_id, &oc.o);
	if (rc == -FP_E_NOTFOUND) {
		log_warn("acme order %lld of tenant %lld: no such order",
		    (long long)order_id, (long long)tenant_id);
		rc = 0;
		goto out;
	}
	if (rc != 0) {
		rc = fp_fail(st, FP_E_UNAVAILABLE, "reading the order failed");
		goto out;
	}
	if (strcmp(oc.o.state, "valid") == 0 ||
	    strcmp(oc.o.state, "failed") == 0) {
		rc = 0;
		goto out;
	}
	if (!oc.o.device_enabled) {
		problem_set(&oc, "fleetpki:disabled",
		    "the device was disabled before its certificate came");
		rc = R_FINAL;
	} else if ((rc = order_begin(&oc, &a)) == 0)
		rc = order_steps(&oc, &a);

	if (rc < 0 && last_attempt)
		rc = R_FINAL;
	if (rc == R_RESTART || rc == R_ACCOUNT)
		rc = R_FINAL;
	switch (rc) {
	case 0:
		break;
	case R_PARK:
		set_str(&oc.o.error_type, oc.type);
		set_str(&oc.o.error_detail, oc.detail);
		oc.o.retry_s = oc.park_s;
		(void)save(&oc);
		run->park_s = oc.park_s > 0 ? oc.park_s : PARK_POLL_S;
		snprintf(run->why, sizeof(run->why), "%s: %s", oc.type,
		    oc.detail);
		rc = 0;
		break;
	case R_FINAL:
		if (oc.type[0] == '\0')
			problem_set(&oc, "fleetpki:acme", "%s",
			    fp_status_message(st, -FP_E_UNAVAILABLE));
		dns_cleanup(&oc);
		snprintf(dev_err, sizeof(dev_err), "%s: %s", oc.type,
		    oc.detail);
		log_warn("acme order %lld (tenant %lld, %s) failed: %s",
		    (long long)oc.o.id, (long long)tenant_id,
		    oc.o.hostname != NULL ? oc.o.hostname : "?", dev_err);
		if (store_acme_order_fail(ctx->db, tenant_id, oc.o.id, oc.type,
		        oc.detail, dev_err) != 0) {
			rc = fp_fail(st, FP_E_UNAVAILABLE,
			    "recording the failure failed");
			break;
		}
		run->failed = 1;
		snprintf(run->why, sizeof(run->why), "%s", dev_err);
		rc = 0;
		break;
	default:
		/* Transient: on the order for operators, on the job too. */
		if (oc.type[0] == '\0')
			problem_set(&oc, "fleetpki:transient", "%s",
			    fp_status_message(st, rc));
		set_str(&oc.o.error_type, oc.type);
		set_str(&oc.o.error_detail, oc.detail);
		oc.o.retry_s = 0;
		if (oc.o.id != 0)
			(void)save(&oc);
		/* The job's last_error: the problem's type and detail. */
		fp_fail(st, st->code != FP_E_OK ? st->code : FP_E_UNAVAILABLE,
		    "%s: %.400s", oc.type, oc.detail);
		break;
	}
out:
	acme_account_rec_clear(&a);
	oc_free(&oc);
	return rc;
}

/* ---- renewal, probe, status ------------------------------------------------ */

#define RENEW_BATCH 500
#define RENEW_BATCHES 20

int
core_acme_renew_due(struct fp_ctx *ctx, int64_t *queued, struct fp_status *st)
{
	int64_t n = 0;
	int i, rc = 0;

	*queued = 0;
	if (store_acme_orphans(ctx->db, &n) == 0 && n > 0)
		log_warn("acme: %lld open order%s lost %s job: failed",
		    (long long)n, n == 1 ? "" : "s", n == 1 ? "its" : "their");
	for (i = 0; i < RENEW_BATCHES; i++) {
		if ((rc = store_acme_renew_due(ctx->db, RENEW_BATCH,
		         CORE_ACME_ORDER_ATTEMPTS, &n)) != 0)
			return fp_fail(st, FP_E_UNAVAILABLE,
			    "the renewal scan failed");
		*queued += n;
		if (n < RENEW_BATCH)
			break;
	}
	return rc;
}

int
core_acme_probe(struct fp_ctx *ctx)
{
	struct acme_dir_rec *dirs = NULL;
	struct net_denylist *deny = NULL;
	struct fp_status st = { FP_E_OK, "" };
	size_t n = 0, i;
	int rc;

	if ((rc = store_acme_directories(ctx->db, &dirs, &n)) != 0)
		return rc;
	if (n > 0 && (rc = make_denylist(ctx->cfg, &deny, &st)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct acme_session s;

		st.code = FP_E_OK;
		st.msg[0] = '\0';
		acme_session_init(&s, dirs[i].directory_url, dirs[i].ca_file,
		    deny, NULL);
		rc = acme_directory(&s, &st);
		(void)store_acme_probe_record(ctx->db, dirs[i].directory_url,
		    rc == 0, rc == 0 ? NULL : fp_status_message(&st, rc));
		if (rc != 0)
			log_info("acme probe: %.200s: %s",
			    dirs[i].directory_url, fp_status_message(&st, rc));
		acme_session_free(&s);
	}
	rc = 0;
out:
	net_denylist_free(deny);
	store_acme_directories_free(dirs, n);
	return rc;
}

int
core_acme_status(struct fp_ctx *ctx, int64_t tenant_id, struct acme_status *out)
{
	struct acme_status_rec r;
	char *dir = NULL;
	long long budget = 50;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = core_setting_str(ctx, tenant_id, "acme.directory_url",
	         &dir)) != 0 ||
	    (rc = core_setting_int(ctx, tenant_id, "acme.weekly_budget",
	         &budget)) != 0)
		goto out;
	if ((rc = store_acme_status(ctx->db, tenant_id, dir, &r)) != 0)
		goto out;
	snprintf(out->directory_url, sizeof(out->directory_url), "%s", dir);
	snprintf(out->account_url, sizeof(out->account_url), "%s",
	    r.account_url);
	snprintf(out->account_status, sizeof(out->account_status), "%s",
	    r.account_status);
	out->budget = budget;
	out->used = r.used;
	out->left = budget > r.used ? budget - r.used : 0;
	out->in_flight = r.in_flight;
	out->queued = r.queued;
	out->oldest_queued = r.oldest_queued;
out:
	free(dir);
	return rc;
}

struct queued_arg {
	void (*fn)(void *, const struct acme_queued *);
	void *arg;
};

static void
queued_one(void *arg, const struct acme_queued_rec *r)
{
	struct queued_arg *q = arg;
	struct acme_queued o = { r->id, r->device_id, r->kind, r->state,
		r->error_type, r->created, r->retry_at };

	q->fn(q->arg, &o);
}

int
core_acme_queued(struct fp_ctx *ctx, int64_t tenant_id, int limit,
    void (*fn)(void *, const struct acme_queued *), void *arg)
{
	struct queued_arg q = { fn, arg };

	return store_acme_queued(ctx->db, tenant_id, limit, queued_one, &q);
}
