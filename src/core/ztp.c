/*
 * core/ztp: zero-touch provisioning (core_ztp.h).
 *
 * Roots are CAs: the signer makes the key and the self-signed
 * certificate and seals the key (signer_ca_create), so fleetpkid's
 * workers never hold it; the row goes in through sql/026's
 * fleetpki_ztp_root_insert.  Revocation, CRLs (the worker's crl.* jobs)
 * and OCSP are the ones of every CA.
 *
 * A device's ZTP life is one row (ztp_devices) whose state names the
 * command its heartbeat answers carry until it is acknowledged
 * (docs/device-protocol.md 7.4): KEY (GENERATE_KEY, or the server makes
 * the key), ISSUE (the server issues for the known key: renew,
 * transfer), CERT (INSTALL_CERTIFICATE / INSTALL_KEY_AND_CERTIFICATE),
 * REMOVE (REMOVE_CERTIFICATE), and the resting DONE, GONE, FAILED.  The
 * operator's calls only move rows between states, set-based; the work
 * happens in the device's heartbeat transaction, events included.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/b64.h"
#include "fleetpki/core_device.h"
#include "fleetpki/core_tags.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/devproto.h"
#include "fleetpki/json.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_device.h"
#include "fleetpki/store_ztp.h"
#include "fleetpki/util.h"

#include "core_internal.h"

#define NAME_CHARS                                                             \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."
#define SLOT "ztp"
/* Validity of a proof-of-possession certificate: it is checked once. */
#define POP_DAYS 30

int
ztp_name_ok(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	return n >= 1 && n <= ZTP_NAME_MAX && strspn(name, NAME_CHARS) == n;
}

/* The key types of a root or a device, and pki_key_generate's names. */
static const char *
key_alg(const char *key_type)
{
	if (key_type == NULL || strcmp(key_type, "EC-P256") == 0)
		return "ec-p256";
	if (strcmp(key_type, "EC-P384") == 0)
		return "ec-p384";
	if (strcmp(key_type, "RSA-2048") == 0)
		return "rsa-2048";
	return NULL;
}

static int
name_check(const char *name, struct fp_status *st)
{
	if (!ztp_name_ok(name))
		return fp_fail(st, FP_E_BADREQ,
		    "CAName has 1 to 45 letters, digits, underscores, dashes "
		    "and dots.");
	return 0;
}

static int
root_lookup(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    struct ztp_root_rec *out, struct fp_status *st)
{
	int rc;

	if ((rc = name_check(name, st)) != 0)
		return rc;
	store_set_tenant(ctx->db, t->id);
	rc = store_ztp_root_by_name(ctx->db, t->id, name, out);
	if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND, "Root CA '%s' not found.", name);
	return rc;
}

/* ---- roots --------------------------------------------------------- */

static const char *const hash_algs[] = { "sha256", "sha384", "sha512" };

struct root_tx {
	int64_t tenant_id;
	struct ztp_root_new *nr;
	int64_t ca_id;
};

static int
root_insert_tx(struct db *db, void *varg)
{
	struct root_tx *a = varg;

	return store_ztp_root_insert(db, a->tenant_id, a->nr, &a->ca_id);
}

int
core_ztp_root_create(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, const char *key_type, int ca_days, int device_days,
    int renew_before, struct ztp_root_rec *out, struct fp_status *st)
{
	struct buf der = BUF_INIT, sealed = BUF_INIT, hashes = BUF_INIT;
	struct ztp_root_new nr;
	struct root_tx tx;
	struct crl_rec crl = { 0 };
	const ASN1_OCTET_STRING *skid;
	unsigned char rnd[16];
	char public_id[33], fpr[PKI_FPR_LEN], key_id[41], h[129];
	char *subject = NULL;
	const char *alg;
	X509 *cert = NULL;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&nr, 0, sizeof(nr));
	if ((rc = name_check(name, st)) != 0)
		return rc;
	if ((alg = key_alg(key_type)) == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "KeyType is EC-P256, EC-P384 or RSA-2048.");
	if (ca_days < ZTP_CA_DAYS_MIN || ca_days > ZTP_CA_DAYS_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "CACertificateValidity is 1825 to 3650 days.");
	if (device_days < ZTP_DEVICE_DAYS_MIN ||
	    device_days > ZTP_DEVICE_DAYS_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "DeviceCertificateValidity is 30 to 3650 days.");
	if (device_days > ca_days)
		return fp_fail(st, FP_E_BADREQ,
		    "DeviceCertificateValidity cannot be greater than "
		    "CACertificateValidity.");
	if (renew_before != 0 &&
	    (renew_before < ZTP_RENEW_MIN || renew_before > ZTP_RENEW_MAX))
		return fp_fail(st, FP_E_BADREQ,
		    "RenewBeforeExpiration is 1 to 365 days.");
	store_set_tenant(ctx->db, t->id);
	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), public_id);
	/* The key is made and sealed where the master key is. */
	if ((rc = signer_ca_create(ctx->signer, t->id, public_id, alg, name,
	         ca_days, &der, &sealed)) != 0)
		goto out;
	if ((rc = pki_cert_from_der(der.data, der.len, &cert)) != 0)
		goto out;
	pki_fingerprint(der.data, der.len, fpr);
	if ((subject = pki_cert_subject(cert)) == NULL ||
	    (skid = X509_get0_subject_key_id(cert)) == NULL ||
	    ASN1_STRING_length(skid) != 20) {
		log_err("new ZTP root certificate lacks a subject or a SHA-1 "
		        "key identifier");
		rc = -FP_E_INTERNAL;
		goto out;
	}
	util_hex(ASN1_STRING_get0_data(skid), 20, key_id);
	for (i = 0; key_id[i] != '\0'; i++)
		key_id[i] = (char)toupper((unsigned char)key_id[i]);
	for (i = 0; i < FP_ARRAY_LEN(hash_algs); i++) {
		if ((rc = pki_cert_key_hash(cert, hash_algs[i], h)) != 0)
			goto out;
		buf_printf(&hashes, "%s%s", i > 0 ? "," : "", h);
	}
	nr.public_id = public_id;
	nr.key_alg = alg;
	nr.cert_der = &der;
	nr.key_sealed = &sealed;
	nr.fingerprint = fpr;
	nr.subject = subject;
	nr.key_id = key_id;
	nr.hashes = (const char *)hashes.data;
	nr.name = name;
	nr.key_type = key_type != NULL ? key_type : "EC-P256";
	nr.ca_days = ca_days;
	nr.device_days = device_days;
	nr.renew_before = renew_before;
	if ((rc = pki_cert_validity(cert, &nr.not_before, &nr.not_after)) != 0)
		goto out;
	tx.tenant_id = t->id;
	tx.nr = &nr;
	tx.ca_id = 0;
	if ((rc = store_tx(ctx->db, root_insert_tx, &tx)) != 0) {
		if (rc == -FP_E_CONFLICT)
			fp_fail(st, FP_E_CONFLICT,
			    "The CAName '%s' is already taken.", name);
		goto out;
	}
	/*
	 * The first CRL after the commit: the signer reads the new row to
	 * sign it.  Should it fail, /ztp/rootca/crl/get and the worker's
	 * refresh issue it (core_crl_current, sql/014).
	 */
	if (core_crl_issue(ctx, t->id, tx.ca_id, false, &crl) != 0)
		log_warn("ZTP root %s: first CRL not issued; the worker will",
		    name);
	rc = store_ztp_root_by_name(ctx->db, t->id, name, out);
	log_info("tenant %s: ZTP root %s created (%s, %d days)", t->name, name,
	    nr.key_type, ca_days);
out:
	crl_rec_clear(&crl);
	X509_free(cert);
	free(subject);
	buf_free(&der);
	buf_free(&sealed);
	buf_free(&hashes);
	return rc;
}

int
core_ztp_root_get(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    struct ztp_root_rec *out, struct fp_status *st)
{
	return root_lookup(ctx, t, name, out, st);
}

int
core_ztp_root_page(struct fp_ctx *ctx, const struct tenant *t, int64_t page,
    struct ztp_root_rec **out, size_t *n, int64_t *total)
{
	store_set_tenant(ctx->db, t->id);
	return store_ztp_root_page(ctx->db, t->id, (page - 1) * ZTP_PAGE_SIZE,
	    ZTP_PAGE_SIZE, out, n, total);
}

int
core_ztp_root_update(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, int renew_before, struct fp_status *st)
{
	struct ztp_root_rec r;
	int rc;

	if (renew_before < ZTP_RENEW_MIN || renew_before > ZTP_RENEW_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "RenewBeforeExpiration is 1 to 365 days.");
	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		return rc;
	rc = store_ztp_root_set_renew(ctx->db, t->id, r.ca_id, renew_before);
	ztp_root_rec_clear(&r);
	return rc;
}

struct delete_tx {
	int64_t tenant_id, ca_id;
	bool in_use;
};

static int
root_delete_tx(struct db *db, void *varg)
{
	struct delete_tx *a = varg;
	int rc;

	if ((rc = store_ztp_root_in_use(db, a->tenant_id, a->ca_id,
	         &a->in_use)) != 0)
		return rc;
	if (a->in_use)
		return -FP_E_CONFLICT;
	return store_ztp_root_delete(db, a->tenant_id, a->ca_id);
}

int
core_ztp_root_delete(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, struct fp_status *st)
{
	struct ztp_root_rec r;
	struct delete_tx tx;
	int rc;

	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		return rc;
	tx.tenant_id = t->id;
	tx.ca_id = r.ca_id;
	tx.in_use = false;
	rc = store_tx(ctx->db, root_delete_tx, &tx);
	if (rc == -FP_E_CONFLICT)
		fp_fail(st, FP_E_CONFLICT,
		    "Root CA '%s' is in use by a device or a device profile "
		    "and cannot be deleted.",
		    name);
	else if (rc == -FP_E_NOTFOUND)
		fp_fail(st, FP_E_NOTFOUND, "Root CA '%s' not found.", name);
	ztp_root_rec_clear(&r);
	return rc;
}

int
core_ztp_root_crl(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    struct buf *pem, char ***serials, size_t *n, struct fp_status *st)
{
	struct ztp_root_rec r;
	struct crl_rec crl = { 0 };
	int rc;

	*serials = NULL;
	*n = 0;
	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		return rc;
	if ((rc = core_crl_current(ctx, t->id, r.ca_id, false, &crl)) != 0 ||
	    (rc = core_crl_pem(&crl, pem)) != 0 ||
	    (rc = store_ztp_root_revoked(ctx->db, t->id, r.ca_id, serials,
	         n)) != 0)
		goto out;
out:
	crl_rec_clear(&crl);
	ztp_root_rec_clear(&r);
	return rc;
}

int
core_ztp_root_devices(struct fp_ctx *ctx, const struct tenant *t,
    const char *name, int64_t page, char (**rots)[17], size_t *n,
    int64_t *total, struct fp_status *st)
{
	struct ztp_root_rec r;
	int rc;

	*rots = NULL;
	*n = 0;
	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		return rc;
	*total = r.devices;
	rc = store_ztp_root_devices(ctx->db, t->id, r.ca_id,
	    (page - 1) * ZTP_PAGE_SIZE, ZTP_PAGE_SIZE, rots, n);
	ztp_root_rec_clear(&r);
	return rc;
}

int
core_ztp_pop(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    const char *code, struct buf *pem, struct fp_status *st)
{
	static const char alnum[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	const struct core_ca *ca;
	struct ztp_root_rec r;
	struct pki_profile prof;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t len = code != NULL ? strlen(code) : 0;
	int rc;

	if (len < 1 || len > ZTP_CODE_MAX || strspn(code, alnum) != len)
		return fp_fail(st, FP_E_BADREQ,
		    "RegistrationCode has 1 to 64 letters and digits.");
	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		return rc;
	/* Only the root's signature matters: the key is thrown away. */
	if ((rc = core_ca_get(ctx, t->id, r.ca_id, &ca)) != 0 ||
	    (rc = pki_key_generate("ec-p256", &key, st)) != 0)
		goto out;
	memset(&prof, 0, sizeof(prof));
	prof.subject.cn = code;
	prof.eku = PKI_EKU_CLIENT;
	prof.days = POP_DAYS;
	if ((rc = pki_issue(core_ca_pki(ca), key, &prof, &cert, st)) != 0) {
		rc = signer_why(ctx->signer, rc);
		goto out;
	}
	rc = pki_cert_to_pem(cert, pem);
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	ztp_root_rec_clear(&r);
	return rc;
}

int
core_ztp_profile_link(struct fp_ctx *ctx, const struct tenant *t,
    const char *profile_uid, const char *name, bool server_key,
    const char *key_type, struct fp_status *st)
{
	struct device_profile_rec prof;
	struct ztp_root_rec r;
	int rc;

	memset(&r, 0, sizeof(r));
	if (key_alg(key_type) == NULL)
		return fp_fail(st, FP_E_BADREQ,
		    "KeyType is EC-P256, EC-P384 or RSA-2048.");
	store_set_tenant(ctx->db, t->id);
	rc = store_device_profile_by_uid(ctx->db, t->id, profile_uid, &prof);
	if (rc == -FP_E_NOTFOUND)
		return fp_fail(st, FP_E_NOTFOUND,
		    "DeviceProfileUID '%.64s' not found.", profile_uid);
	if (rc != 0)
		return rc;
	if (name == NULL) {
		rc = store_ztp_profile_delete(ctx->db, t->id, prof.id);
		if (rc == -FP_E_NOTFOUND)
			fp_fail(st, FP_E_NOTFOUND,
			    "The profile is not linked to a root CA.");
		goto out;
	}
	if ((rc = root_lookup(ctx, t, name, &r, st)) != 0)
		goto out;
	rc = store_ztp_profile_set(ctx->db, t->id, prof.id, r.ca_id, server_key,
	    key_type != NULL ? key_type : "EC-P256");
out:
	device_profile_rec_clear(&prof);
	ztp_root_rec_clear(&r);
	return rc;
}

/* ---- the operator's calls on devices ------------------------------- */

/* 'v' as a text[] literal of already-checked [0-9A-F] strings, or NULL. */
static char *
hex_array(char (*v)[41], size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (n == 0)
		return NULL;
	buf_puts(&b, "{");
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s\"%s\"", i > 0 ? "," : "", v[i]);
	buf_puts(&b, "}");
	return buf_steal(&b, NULL);
}

/* An upper-case serial: 2-40 hex digits, colons allowed, into 'out'. */
static int
serial_norm(const char *s, char out[41])
{
	size_t k = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s) || k == 40)
			return -1;
		out[k++] = (char)toupper((unsigned char)*s);
	}
	out[k] = '\0';
	return k >= 2 ? 0 : -1;
}

struct named {
	char (*rots)[41];
	size_t nrots;
	char (*serials)[41];
	size_t nserials;
	char *rot_arr, *serial_arr;
};

static void
named_clear(struct named *nm)
{
	free(nm->rots);
	free(nm->serials);
	free(nm->rot_arr);
	free(nm->serial_arr);
	memset(nm, 0, sizeof(*nm));
}

static int
named_parse(struct named *nm, const char *const *rots, size_t nrots,
    const char *const *serials, size_t nserials, struct fp_status *st)
{
	unsigned char raw[DEVPROTO_ROT_LEN];
	size_t i;

	memset(nm, 0, sizeof(*nm));
	if (nrots + nserials == 0)
		return fp_fail(st, FP_E_BADREQ,
		    "ROTPublicUIDs or SerialNumbers is required.");
	if (nrots + nserials > ZTP_DEVICES_MAX)
		return fp_fail(st, FP_E_BADREQ,
		    "At most %d devices in one call.", ZTP_DEVICES_MAX);
	nm->rots = xcalloc(nrots + 1, sizeof(*nm->rots));
	nm->serials = xcalloc(nserials + 1, sizeof(*nm->serials));
	for (i = 0; i < nrots; i++) {
		if (devproto_rot_parse(rots[i], raw) != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "ROTPublicUID '%.32s' is not 16 hex digits.",
			    rots[i]);
		devproto_rot_format(raw, nm->rots[i]);
	}
	nm->nrots = nrots;
	for (i = 0; i < nserials; i++)
		if (serial_norm(serials[i], nm->serials[i]) != 0)
			return fp_fail(st, FP_E_BADREQ,
			    "SerialNumber '%.48s' is not a serial number.",
			    serials[i]);
	nm->nserials = nserials;
	nm->rot_arr = hex_array(nm->rots, nm->nrots);
	nm->serial_arr = hex_array(nm->serials, nm->nserials);
	return 0;
}

struct devices_tx {
	const struct tenant *t;
	enum ztp_op op;
	const struct named *nm;
	const struct ztp_root_rec *root, *to;
	int days;
	int64_t marked;
	struct fp_status *st;
};

static bool
update_running(const struct ztp_dev_rec *d)
{
	return strcmp(d->op, "UPDATE") == 0 && strcmp(d->state, "DONE") != 0 &&
	    strcmp(d->state, "GONE") != 0 && strcmp(d->state, "FAILED") != 0;
}

/* Every named device is in ZTP (under the root) and may take 'op'. */
static int
devices_check(const struct devices_tx *a, const struct ztp_dev_rec *d, size_t n)
{
	size_t i, j, found;

	for (i = 0; i < a->nm->nrots + a->nm->nserials; i++) {
		const char *want = i < a->nm->nrots
		    ? a->nm->rots[i]
		    : a->nm->serials[i - a->nm->nrots];

		found = n;
		for (j = 0; j < n; j++)
			if (i < a->nm->nrots ? strcmp(d[j].rot, want) == 0
			                     : d[j].cert_serial != NULL &&
			            strcmp(d[j].cert_serial, want) == 0)
				found = j;
		if (found == n ||
		    (a->root != NULL &&
		        (d[found].cert_root == NULL ||
		            strcmp(d[found].cert_root, a->root->name) != 0) &&
		        strcmp(d[found].root_name, a->root->name) != 0))
			return fp_fail(a->st, FP_E_NOTFOUND,
			    "No ZTP device certificate for '%s'%s%s.", want,
			    a->root != NULL ? " under root CA " : "",
			    a->root != NULL ? a->root->name : "");
		if (update_running(&d[found]))
			return fp_fail(a->st, FP_E_CONFLICT,
			    "The device certificate update of %s is still "
			    "in progress.",
			    d[found].rot);
		if (a->op == ZTP_OP_UPDATE &&
		    (strcmp(d[found].state, "GONE") == 0 ||
		        strcmp(d[found].state, "FAILED") == 0))
			continue; /* provisioned afresh */
		if (a->op != ZTP_OP_DELETE &&
		    strcmp(d[found].state, "DONE") != 0)
			return fp_fail(a->st, FP_E_CONFLICT,
			    "Device %s has no device certificate installed "
			    "(it is being provisioned, or it has none).",
			    d[found].rot);
		if (a->op == ZTP_OP_DELETE &&
		    strcmp(d[found].state, "GONE") == 0)
			return fp_fail(a->st, FP_E_CONFLICT,
			    "Device %s has no device certificate.",
			    d[found].rot);
	}
	return 0;
}

static int
devices_tx(struct db *db, void *varg)
{
	struct devices_tx *a = varg;
	struct ztp_dev_rec *d = NULL;
	static const char *const state[] = { "ISSUE", "REMOVE", "REMOVE",
		"ISSUE" };
	static const char *const opname[] = { "RENEW", "UPDATE", "DELETE",
		"TRANSFER" };
	size_t n = 0;
	int rc;

	if ((rc = store_ztp_dev_named(db, a->t->id, a->nm->rot_arr,
	         a->nm->serial_arr, &d, &n)) != 0)
		return rc;
	if ((rc = devices_check(a, d, n)) == 0)
		rc = store_ztp_dev_mark(db, a->t->id, a->nm->rot_arr,
		    a->nm->serial_arr, state[a->op], opname[a->op], a->days,
		    a->to != NULL ? a->to->ca_id : 0, &a->marked);
	store_rec_array_free(d, n, sizeof(*d),
	    (void (*)(void *))ztp_dev_rec_clear);
	return rc;
}

int
core_ztp_devices(struct fp_ctx *ctx, const struct tenant *t, enum ztp_op op,
    const char *name, const char *to, const char *const *rots, size_t nrots,
    const char *const *serials, size_t nserials, int days, int64_t *marked,
    struct fp_status *st)
{
	struct ztp_root_rec root, target;
	struct named nm;
	struct devices_tx tx;
	int rc;

	memset(&root, 0, sizeof(root));
	memset(&target, 0, sizeof(target));
	memset(&nm, 0, sizeof(nm));
	*marked = 0;
	if (days != 0 &&
	    (days < ZTP_DEVICE_DAYS_MIN || days > ZTP_DEVICE_DAYS_MAX))
		return fp_fail(st, FP_E_BADREQ,
		    "DeviceCertificateValidity is 30 to 3650 days.");
	if ((rc = named_parse(&nm, rots, nrots, serials, nserials, st)) != 0)
		goto out;
	if (name != NULL && (rc = root_lookup(ctx, t, name, &root, st)) != 0)
		goto out;
	if (to != NULL) {
		if ((rc = root_lookup(ctx, t, to, &target, st)) != 0)
			goto out;
		if (target.ca_id == root.ca_id) {
			rc = fp_fail(st, FP_E_BADREQ,
			    "FromCA and ToCA are the same root CA.");
			goto out;
		}
	}
	memset(&tx, 0, sizeof(tx));
	tx.t = t;
	tx.op = op;
	tx.nm = &nm;
	tx.root = name != NULL ? &root : NULL;
	tx.to = to != NULL ? &target : NULL;
	tx.days = days;
	tx.st = st;
	store_set_tenant(ctx->db, t->id);
	rc = store_tx(ctx->db, devices_tx, &tx);
	*marked = tx.marked;
out:
	named_clear(&nm);
	ztp_root_rec_clear(&root);
	ztp_root_rec_clear(&target);
	return rc;
}

int
core_ztp_revoke(struct fp_ctx *ctx, const struct tenant *t, const char *name,
    const char *rot, const char *serial, struct fp_status *st)
{
	struct ztp_root_rec root, croot;
	struct ztp_dev_rec *d = NULL;
	struct revoke_batch b = { 0 };
	struct named nm;
	const char *serials[1];
	size_t n = 0;
	int rc;

	memset(&root, 0, sizeof(root));
	memset(&croot, 0, sizeof(croot));
	if ((rot == NULL) == (serial == NULL))
		return fp_fail(st, FP_E_BADREQ,
		    "Give ROTPublicUID or SerialNumber (one of them).");
	if ((rc = named_parse(&nm, rot != NULL ? &rot : NULL, rot != NULL,
	         serial != NULL ? &serial : NULL, serial != NULL, st)) != 0)
		goto out;
	if ((rc = root_lookup(ctx, t, name, &root, st)) != 0)
		goto out;
	if ((rc = store_ztp_dev_named(ctx->db, t->id, nm.rot_arr, nm.serial_arr,
	         &d, &n)) != 0)
		goto out;
	if (n != 1 || d[0].cert_serial == NULL || d[0].cert_root == NULL ||
	    strcmp(d[0].cert_root, name) != 0) {
		rc = fp_fail(st, FP_E_NOTFOUND,
		    "No ZTP device certificate for '%s' under root CA %s.",
		    rot != NULL ? nm.rots[0] : nm.serials[0], name);
		goto out;
	}
	if (update_running(&d[0])) {
		rc = fp_fail(st, FP_E_CONFLICT,
		    "The device certificate update of %s is still in "
		    "progress.",
		    d[0].rot);
		goto out;
	}
	serials[0] = d[0].cert_serial;
	/* RFC 5280 reason 0 (unspecified): the spec gives none. */
	if ((rc = store_revoke_serials(ctx->db, t->id, root.ca_id, serials, 1,
	         0, &b)) != 0)
		goto out;
	if (b.revoked == 0) {
		rc = fp_fail(st, FP_E_CONFLICT,
		    "The device certificate %s is revoked already.",
		    d[0].cert_serial);
		goto out;
	}
	log_info("tenant %s: ZTP certificate %s of %s revoked", t->name,
	    d[0].cert_serial, d[0].rot);
	core_ocsp_invalidate(ctx);
	if (core_crl_soon(ctx) != 0)
		log_err("CRL job after a ZTP revocation not queued; the "
		        "scheduled refresh will issue it");
out:
	free(b.missing);
	store_rec_array_free(d, n, sizeof(*d),
	    (void (*)(void *))ztp_dev_rec_clear);
	named_clear(&nm);
	ztp_root_rec_clear(&root);
	ztp_root_rec_clear(&croot);
	return rc;
}

int
core_ztp_info(struct fp_ctx *ctx, const struct tenant *t,
    const char *const *rots, size_t n, struct ztp_dev_rec **out, size_t *nout)
{
	struct buf b = BUF_INIT;
	size_t i;
	int rc;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	buf_puts(&b, "{");
	for (i = 0; i < n; i++) {
		/* From the registry, so already 16 upper-case hex digits. */
		if (strlen(rots[i]) != 16 ||
		    strspn(rots[i], "0123456789ABCDEF") != 16)
			continue;
		buf_printf(&b, "%s\"%s\"", b.len > 1 ? "," : "", rots[i]);
	}
	buf_puts(&b, "}");
	store_set_tenant(ctx->db, t->id);
	rc = store_ztp_dev_named(ctx->db, t->id, (const char *)b.data, NULL,
	    out, nout);
	buf_free(&b);
	return rc;
}

const char *
ztp_state_name(const struct ztp_dev_rec *d)
{
	if (strcmp(d->state, "FAILED") == 0)
		return "FAILED";
	if (strcmp(d->state, "GONE") == 0)
		return "REMOVED";
	if (d->cert_revoked && strcmp(d->state, "DONE") == 0)
		return "REVOKED";
	if (strcmp(d->state, "DONE") == 0)
		return "PROVISIONED";
	if (strcmp(d->state, "REMOVE") == 0)
		return "REMOVAL_PENDING";
	return d->cert_id != 0 ? "RENEWAL_PENDING" : "PROVISIONING";
}

/* ---- the heartbeat ------------------------------------------------- */

struct step {
	struct fp_ctx *ctx;
	struct db *db;
	int64_t tenant_id, device_id;
	const char *rot;
	struct ztp_dev_rec d;
};

static int
dev_event(struct step *s, const char *type, json_object *payload)
{
	char *text = json_dump(payload);
	int rc;

	rc = store_device_event(s->db, s->tenant_id, s->device_id, s->rot, type,
	    text);
	free(text);
	json_object_put(payload);
	return rc;
}

static int
activity(struct step *s, const char *id, const char *command, bool ok,
    const char *error)
{
	json_object *o = json_object_new_object();
	char *text;
	int rc;

	if (error != NULL)
		json_object_object_add(o, "Error",
		    json_object_new_string(error));
	text = json_dump(o);
	json_object_put(o);
	rc = store_device_activity(s->db, s->tenant_id, s->device_id, id,
	    command, ok ? "SUCCESS" : "FAILURE", text);
	free(text);
	return rc;
}

/* The device refused a ZTP step: FAILED, and the operator is told. */
static int
step_failed(struct step *s, const char *id, const char *command,
    const char *why)
{
	json_object *p = json_object_new_object();
	int rc;

	json_object_object_add(p, "CommandId", json_object_new_string(id));
	json_object_object_add(p, "Error",
	    json_object_new_string(why != NULL ? why : "command failed"));
	snprintf(s->d.state, sizeof(s->d.state), "FAILED");
	if ((rc = dev_event(s, "DEVICE_ERROR", p)) != 0 ||
	    (rc = activity(s, id, command, false, why)) != 0)
		return rc;
	return store_ztp_dev_put(s->db, s->tenant_id, &s->d, false);
}

/* The envelope of a server-made key for the certificate 'pem'. */
static int
wrap_key(struct step *s, const struct buf *keyder, const char *pem, char **out)
{
	struct device_auth_rec dev;
	struct buf secret = BUF_INIT, cder = BUF_INIT, nb = BUF_INIT,
	           cb = BUF_INIT, tb = BUF_INIT;
	unsigned char rot[DEVPROTO_ROT_LEN], hash[32],
	    nonce[DEVPROTO_ZTP_NONCE_LEN], tag[DEVPROTO_ZTP_TAG_LEN];
	unsigned char *ct = NULL;
	json_object *o = NULL;
	X509 *cert = NULL;
	char aad[96];
	int rc;

	memset(&dev, 0, sizeof(dev));
	*out = NULL;
	if ((rc = store_device_auth(s->db, s->tenant_id, s->rot, &dev)) != 0)
		goto out;
	core_device_aad(s->tenant_id, s->rot, aad, sizeof(aad));
	if ((rc = signer_unseal(s->ctx->signer, aad, dev.secret_sealed.data,
	         dev.secret_sealed.len, &secret)) != 0)
		goto out;
	rc = -FP_E_INTERNAL;
	if (secret.len != DEVPROTO_SECRET_LEN ||
	    devproto_rot_parse(s->rot, rot) != 0 ||
	    pki_cert_from_pem(pem, strlen(pem), &cert, NULL) != 0 ||
	    pki_cert_to_der(cert, &cder) != 0 ||
	    EVP_Digest(cder.data, cder.len, hash, NULL, EVP_sha256(), NULL) !=
	        1)
		goto out;
	pki_random(nonce, sizeof(nonce));
	ct = xmalloc(keyder->len);
	if (devproto_ztp_seal(secret.data, rot, hash, nonce, keyder->data,
	        keyder->len, ct, tag) != 0)
		goto out;
	b64_encode(nonce, sizeof(nonce), &nb);
	b64_encode(ct, keyder->len, &cb);
	b64_encode(tag, sizeof(tag), &tb);
	o = json_object_new_object();
	json_object_object_add(o, "Alg", json_object_new_string("A256GCM"));
	json_object_object_add(o, "Nonce",
	    json_object_new_string_len((const char *)nb.data, (int)nb.len));
	json_object_object_add(o, "Ciphertext",
	    json_object_new_string_len((const char *)cb.data, (int)cb.len));
	json_object_object_add(o, "Tag",
	    json_object_new_string_len((const char *)tb.data, (int)tb.len));
	*out = json_dump(o);
	rc = 0;
out:
	json_object_put(o);
	free(ct);
	X509_free(cert);
	buf_free_secret(&secret);
	buf_free(&cder);
	buf_free(&nb);
	buf_free(&cb);
	buf_free(&tb);
	device_auth_rec_clear(&dev);
	return rc;
}

/*
 * Issue the device's certificate under its root for 'pub' (the device's
 * key), or for the server-made key 'priv' (NULL: make one here), sent
 * wrapped; state CERT with a new command Id.
 */
static int
step_issue(struct step *s, EVP_PKEY *pub, EVP_PKEY *priv)
{
	const struct core_ca *ca;
	struct ztp_root_rec root;
	struct pki_profile prof;
	struct cert_rec cert = { 0 };
	struct fp_status st = { 0 };
	struct buf keyder = BUF_INIT, spki = BUF_INIT;
	EVP_PKEY *made = NULL;
	unsigned char *p = NULL;
	int len, rc;

	memset(&root, 0, sizeof(root));
	if ((rc = store_ztp_root_by_name(s->db, s->tenant_id, s->d.root_name,
	         &root)) != 0 ||
	    (rc = core_ca_get(s->ctx, s->tenant_id, s->d.ca_id, &ca)) != 0)
		goto out;
	if (pub == NULL) {
		if (priv == NULL &&
		    (rc = pki_key_generate(key_alg(s->d.key_type), &made,
		         &st)) != 0)
			goto out;
		if ((rc = pki_key_to_der(priv != NULL ? priv : made,
		         &keyder)) != 0)
			goto out;
		pub = priv != NULL ? priv : made;
	}
	memset(&prof, 0, sizeof(prof));
	prof.subject.cn = s->rot;
	prof.eku = PKI_EKU_CLIENT;
	/* pki_issue clamps it to the root's notAfter. */
	prof.days = s->d.days > 0 ? s->d.days : root.device_days;
	prof.crl_url = core_ca_crl_url(ca);
	prof.ocsp_url = core_ca_ocsp_url(ca);
	if ((rc = core_issue_and_store(s->ctx, ca, s->tenant_id, 0, pub,
	         keyder.len > 0 ? pub : NULL, &prof, NULL, &cert, &st)) != 0)
		goto out;
	if ((len = i2d_PUBKEY(pub, &p)) <= 0) {
		rc = -FP_E_INTERNAL;
		goto out;
	}
	buf_append(&spki, p, (size_t)len);
	buf_free(&s->d.pubkey);
	s->d.pubkey = spki;
	spki = (struct buf)BUF_INIT;
	free(s->d.wrapped);
	s->d.wrapped = NULL;
	if (keyder.len > 0 &&
	    (rc = wrap_key(s, &keyder, cert.pem, &s->d.wrapped)) != 0)
		goto out;
	s->d.pending_cert_id = cert.id;
	snprintf(s->d.state, sizeof(s->d.state), "CERT");
	rc = store_ztp_dev_put(s->db, s->tenant_id, &s->d, true);
out:
	if (rc != 0)
		log_warn("device %s: ZTP certificate not issued: %s", s->rot,
		    fp_status_message(&st, FP_E_INTERNAL));
	OPENSSL_free(p);
	EVP_PKEY_free(made);
	buf_free_secret(&keyder);
	buf_free(&spki);
	cert_rec_clear(&cert);
	ztp_root_rec_clear(&root);
	return rc;
}

/* GENERATE_KEY acknowledged with a CSR: the device's key, checked. */
static int
step_csr(struct step *s, const struct ztp_ack *a)
{
	struct fp_status st = { 0 };
	struct pki_csr *req = NULL;
	int rc;

	if (a->csr == NULL)
		return step_failed(s, a->id, "GENERATE_KEY",
		    "GENERATE_KEY acknowledged without a Csr");
	if (pki_csr_parse_pem(a->csr, strlen(a->csr), &req, &st) != 0) {
		rc = step_failed(s, a->id, "GENERATE_KEY",
		    fp_status_message(&st, FP_E_BADREQ));
		goto out;
	}
	if ((rc = activity(s, a->id, "GENERATE_KEY", true, NULL)) != 0)
		goto out;
	rc = step_issue(s, pki_csr_pubkey(req), NULL);
out:
	pki_csr_free(req);
	return rc;
}

/* INSTALL_* acknowledged: the certificate is the device's now. */
static int
step_installed(struct step *s, const struct ztp_ack *a, const char *command)
{
	struct ztp_dev_rec after;
	json_object *p;
	char ts[32];
	int rc;

	memset(&after, 0, sizeof(after));
	s->d.cert_id = s->d.pending_cert_id;
	s->d.pending_cert_id = 0;
	free(s->d.wrapped);
	s->d.wrapped = NULL;
	snprintf(s->d.state, sizeof(s->d.state), "DONE");
	if ((rc = activity(s, a->id, command, true, NULL)) != 0 ||
	    (rc = store_ztp_dev_put(s->db, s->tenant_id, &s->d, false)) != 0)
		return rc;
	if (strcmp(s->d.op, "RENEW") != 0 && strcmp(s->d.op, "UPDATE") != 0)
		return 0;
	/* Usage (spec: renewals and updates count), and the renewal event. */
	if ((rc = store_ztp_usage_add(s->db, s->tenant_id, s->device_id,
	         strcmp(s->d.op, "RENEW") == 0 ? "ZTPRenewal" : "ZTPUpdate")) !=
	        0 ||
	    strcmp(s->d.op, "RENEW") != 0)
		return rc;
	if ((rc = store_ztp_dev_get(s->db, s->tenant_id, s->device_id,
	         &after)) != 0)
		return rc;
	p = json_object_new_object();
	json_object_object_add(p, "CertificateAuthorityName",
	    json_object_new_string(after.root_name));
	json_object_object_add(p, "CertificateSerialNumber",
	    json_object_new_string(
	        after.cert_serial != NULL ? after.cert_serial : ""));
	json_object_object_add(p, "CertificateValidity",
	    json_object_new_int64((after.cert_not_after - util_now()) / 86400));
	core_iso8601_format(after.cert_not_after, ts, sizeof(ts));
	json_object_object_add(p, "ExpirationDate", json_object_new_string(ts));
	rc = dev_event(s, "DEVICE_CERTIFICATE_RENEWAL_EVENT", p);
	ztp_dev_rec_clear(&after);
	return rc;
}

/* REMOVE_CERTIFICATE acknowledged: update makes a new key, delete ends. */
static int
step_removed(struct step *s, const struct ztp_ack *a)
{
	int rc;

	if ((rc = activity(s, a->id, "REMOVE_CERTIFICATE", true, NULL)) != 0)
		return rc;
	s->d.cert_id = 0;
	s->d.pending_cert_id = 0;
	snprintf(s->d.state, sizeof(s->d.state),
	    strcmp(s->d.op, "UPDATE") == 0 ? "KEY" : "GONE");
	return store_ztp_dev_put(s->db, s->tenant_id, &s->d, true);
}

/*
 * The server-made key of the device's installed certificate (renewal
 * and transfer keep it), unsealed (the "cert:" domain) into '*out'.
 */
static int
server_key_of(struct step *s, EVP_PKEY **out)
{
	struct cert_rec rec = { 0 };
	struct buf der = BUF_INIT;
	char *aad = NULL;
	int rc;

	*out = NULL;
	if (s->d.cert_serial == NULL)
		return -FP_E_NOTFOUND;
	if ((rc = store_cert_by_serial(s->db, s->tenant_id, s->d.cert_serial,
	         &rec)) != 0)
		goto out;
	if (rec.key_sealed.len == 0) {
		rc = -FP_E_NOTFOUND;
		goto out;
	}
	aad = core_cert_key_aad(rec.tenant_id, rec.ca_id, rec.serial);
	if ((rc = signer_unseal(s->ctx->signer, aad, rec.key_sealed.data,
	         rec.key_sealed.len, &der)) != 0 ||
	    (rc = pki_key_from_der(der.data, der.len, out)) != 0)
		goto out;
out:
	buf_free_secret(&der);
	free(aad);
	cert_rec_clear(&rec);
	return rc;
}

/* The pending step's command, appended to 'cmds'. */
static void
step_command(const struct step *s, const char *root_pem, json_object *cmds)
{
	const struct ztp_dev_rec *d = &s->d;
	json_object *c, *w = NULL;
	char id[32], *chain;

	if (strcmp(d->state, "KEY") != 0 && strcmp(d->state, "CERT") != 0 &&
	    strcmp(d->state, "REMOVE") != 0)
		return;
	if (strcmp(d->state, "CERT") == 0 && d->pending_pem == NULL)
		return;
	snprintf(id, sizeof(id), "z-%" PRId64, d->seq);
	c = json_object_new_object();
	json_object_object_add(c, "Id", json_object_new_string(id));
	if (strcmp(d->state, "KEY") == 0) {
		json_object_object_add(c, "Type",
		    json_object_new_string("GENERATE_KEY"));
		json_object_object_add(c, "Slot", json_object_new_string(SLOT));
		json_object_object_add(c, "KeyType",
		    json_object_new_string(d->key_type));
	} else if (strcmp(d->state, "REMOVE") == 0) {
		json_object_object_add(c, "Type",
		    json_object_new_string("REMOVE_CERTIFICATE"));
		json_object_object_add(c, "Slot", json_object_new_string(SLOT));
	} else {
		json_object_object_add(c, "Type",
		    json_object_new_string(d->wrapped != NULL
		            ? "INSTALL_KEY_AND_CERTIFICATE"
		            : "INSTALL_CERTIFICATE"));
		json_object_object_add(c, "Slot", json_object_new_string(SLOT));
		/* Leaf first, then the chain (the root). */
		chain = xasprintf("%s%s", d->pending_pem,
		    root_pem != NULL ? root_pem : "");
		json_object_object_add(c, "Certificate",
		    json_object_new_string(chain));
		free(chain);
		if (d->wrapped != NULL &&
		    json_parse_strict(d->wrapped, strlen(d->wrapped), &w,
		        NULL) == 0)
			json_object_object_add(c, "WrappedKey", w);
	}
	json_object_array_add(cmds, c);
}

int
core_ztp_step(struct fp_ctx *ctx, struct db *db, int64_t tenant_id,
    int64_t device_id, const char *rot, const struct ztp_ack *acks,
    size_t nacks, json_object *cmds)
{
	const struct core_ca *ca = NULL;
	const struct ztp_ack *a = NULL;
	struct step s;
	EVP_PKEY *pub = NULL, *priv = NULL;
	const unsigned char *pp;
	bool started = false;
	char id[32];
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.db = db;
	s.tenant_id = tenant_id;
	s.device_id = device_id;
	s.rot = rot;
	/* One read for a device in ZTP; a new one is entered when it may. */
	rc = store_ztp_dev_get(db, tenant_id, device_id, &s.d);
	if (rc == -FP_E_NOTFOUND) {
		if ((rc = store_ztp_dev_start(db, tenant_id, device_id,
		         &started)) != 0)
			return rc;
		if (!started)
			return 0;
		rc = store_ztp_dev_get(db, tenant_id, device_id, &s.d);
	}
	if (rc == -FP_E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	snprintf(id, sizeof(id), "z-%" PRId64, s.d.seq);
	for (i = 0; i < nacks && a == NULL; i++)
		if (strcmp(acks[i].id, id) == 0)
			a = &acks[i];
	if (a != NULL && strcmp(s.d.state, "KEY") == 0)
		rc = a->success
		    ? step_csr(&s, a)
		    : step_failed(&s, a->id, "GENERATE_KEY", a->error);
	else if (a != NULL && strcmp(s.d.state, "CERT") == 0) {
		const char *cmd = s.d.wrapped != NULL
		    ? "INSTALL_KEY_AND_CERTIFICATE"
		    : "INSTALL_CERTIFICATE";

		rc = a->success ? step_installed(&s, a, cmd)
		                : step_failed(&s, a->id, cmd, a->error);
	} else if (a != NULL && strcmp(s.d.state, "REMOVE") == 0)
		rc = a->success
		    ? step_removed(&s, a)
		    : step_failed(&s, a->id, "REMOVE_CERTIFICATE", a->error);
	if (rc != 0)
		goto out;
	/* Steps the server takes by itself, in this same heartbeat. */
	if (strcmp(s.d.state, "ISSUE") == 0) {
		if (s.d.server_key) {
			/* The same key: the one the server made before. */
			if ((rc = server_key_of(&s, &priv)) != 0)
				goto out;
		} else {
			pp = s.d.pubkey.data;
			if (s.d.pubkey.len == 0 ||
			    (pub = d2i_PUBKEY(NULL, &pp,
			         (long)s.d.pubkey.len)) == NULL) {
				rc = -FP_E_INTERNAL;
				goto out;
			}
		}
		if ((rc = step_issue(&s, pub, priv)) != 0)
			goto out;
	} else if (strcmp(s.d.state, "KEY") == 0 && s.d.server_key) {
		if ((rc = step_issue(&s, NULL, NULL)) != 0)
			goto out;
	}
	ztp_dev_rec_clear(&s.d);
	if ((rc = store_ztp_dev_get(db, tenant_id, device_id, &s.d)) != 0)
		goto out;
	if (strcmp(s.d.state, "CERT") == 0 &&
	    (rc = core_ca_get(ctx, tenant_id, s.d.ca_id, &ca)) != 0)
		goto out;
	step_command(&s, ca != NULL ? core_ca_pem(ca) : NULL, cmds);
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(priv);
	ztp_dev_rec_clear(&s.d);
	return rc;
}

int
core_ztp_bootstrap(struct db *db, int64_t tenant_id, int64_t device_id)
{
	return store_ztp_dev_reset(db, tenant_id, device_id);
}

/* ---- the worker ---------------------------------------------------- */

int
core_ztp_auto_renew(struct fp_ctx *ctx, int64_t *marked)
{
	return store_ztp_auto_renew(ctx->db, marked);
}

int
core_ztp_notices(struct fp_ctx *ctx, int64_t *written)
{
	return store_ztp_notices(ctx->db, written);
}
