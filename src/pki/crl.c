/*
 * crl: v2 CRLs from the revocation table, and RFC 5280 reason codes.
 * The caller owns the schedule and the crlNumber sequence (it lives in
 * the database so that it strictly increases across workers).
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#include "pki_internal.h"

/* RFC 5280 5.3.1; code 7 is unassigned. */
static const char *const reason_names[] = {
	"unspecified",
	"keyCompromise",
	"cACompromise",
	"affiliationChanged",
	"superseded",
	"cessationOfOperation",
	"certificateHold",
	NULL,
	"removeFromCRL",
	"privilegeWithdrawn",
	"aACompromise",
};

int
pki_reason_from_name(const char *name)
{
	size_t i;

	/* Clients write "keycompromise" as often as the RFC's spelling. */
	for (i = 0; name != NULL && i < FP_ARRAY_LEN(reason_names); i++)
		if (reason_names[i] != NULL &&
		    strcasecmp(name, reason_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
pki_reason_name(int code)
{
	if (code < 0 || (size_t)code >= FP_ARRAY_LEN(reason_names))
		return NULL;
	return reason_names[code];
}

/* Upper-case hex from the store, as pki_cert_serial_hex() wrote it. */
static ASN1_INTEGER *
serial_from_hex(const char *hex)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;
	size_t i, len = strlen(hex);

	/* BN_hex2bn() would take a '-' and stop quietly at a bad digit. */
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return NULL;
	if (len == 0 || len > 2 * PKI_SERIAL_BYTES ||
	    BN_hex2bn(&bn, hex) != (int)len ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		ERR_clear_error();
	BN_free(bn);
	return ai;
}

static int
crl_add_entry(X509_CRL *crl, const struct pki_revoked *rv)
{
	X509_REVOKED *re = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_ENUMERATED *reason = NULL;
	ASN1_TIME *when = NULL;
	int r = -FP_E_INTERNAL;

	if (rv->serial_hex == NULL ||
	    (serial = serial_from_hex(rv->serial_hex)) == NULL) {
		log_err("pki_crl_build: bad serial '%s'",
		    rv->serial_hex != NULL ? rv->serial_hex : "(null)");
		goto out;
	}
	if (rv->reason < -1 ||
	    (rv->reason >= 0 && pki_reason_name(rv->reason) == NULL)) {
		log_err("pki_crl_build: bad reason %d for %s", rv->reason,
		    rv->serial_hex);
		goto out;
	}
	if ((re = X509_REVOKED_new()) == NULL ||
	    (when = ASN1_TIME_set(NULL, (time_t)rv->revoked_at)) == NULL ||
	    !X509_REVOKED_set_serialNumber(re, serial) ||
	    !X509_REVOKED_set_revocationDate(re, when)) {
		log_ossl_errors("pki_crl_build: entry");
		goto out;
	}
	/*
	 * RFC 5280 5.3.1: "unspecified" SHOULD be expressed by leaving the
	 * extension out, and the CA/B Forum BRs forbid encoding it.
	 */
	if (rv->reason > 0) {
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, rv->reason) ||
		    !X509_REVOKED_add1_ext_i2d(re, NID_crl_reason, reason, 0,
		        X509V3_ADD_DEFAULT)) {
			log_ossl_errors("pki_crl_build: reasonCode");
			goto out;
		}
	}
	if (!X509_CRL_add0_revoked(crl, re)) {
		log_ossl_errors("X509_CRL_add0_revoked");
		goto out;
	}
	re = NULL;
	r = 0;
out:
	ASN1_TIME_free(when);
	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(serial);
	X509_REVOKED_free(re);
	return r;
}

int
pki_crl_build(const struct pki_ca *ca, const struct pki_revoked *rev,
    size_t nrev, int64_t crl_number, int64_t this_update, int64_t next_update,
    int64_t delta_base, const char *freshest_url, X509_CRL **out)
{
	X509_CRL *crl = NULL;
	EVP_MD_CTX *mctx = NULL;
	X509_EXTENSION *aki = NULL;
	CRL_DIST_POINTS *dps = NULL;
	ASN1_INTEGER *num = NULL, *base = NULL;
	ASN1_TIME *tu = NULL, *nu = NULL;
	X509V3_CTX ctx;
	size_t i;
	int r = -FP_E_INTERNAL;

	*out = NULL;
	if (crl_number < 0 || next_update <= this_update ||
	    delta_base >= crl_number || delta_base < -1) {
		log_err("pki_crl_build: bad number %lld (base %lld) or window",
		    (long long)crl_number, (long long)delta_base);
		goto out;
	}
	if ((crl = X509_CRL_new()) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    (tu = ASN1_TIME_set(NULL, (time_t)this_update)) == NULL ||
	    (nu = ASN1_TIME_set(NULL, (time_t)next_update)) == NULL ||
	    !X509_CRL_set1_lastUpdate(crl, tu) ||
	    !X509_CRL_set1_nextUpdate(crl, nu)) {
		log_ossl_errors("pki_crl_build: fields");
		goto out;
	}
	for (i = 0; i < nrev; i++)
		if ((r = crl_add_entry(crl, &rev[i])) != 0)
			goto out;
	r = -FP_E_INTERNAL;

	/* AKI from the CA's SKI, as in the certificates it issued. */
	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	if ((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	         "keyid:always")) == NULL ||
	    !X509_CRL_add_ext(crl, aki, -1) ||
	    (num = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(num, crl_number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
	        X509V3_ADD_DEFAULT)) {
		log_ossl_errors("pki_crl_build: extensions");
		goto out;
	}
	/*
	 * RFC 5280 5.2.4: deltaCRLIndicator is critical, so a relying party
	 * that does not know deltas cannot take one for a complete CRL.
	 */
	if (delta_base >= 0 &&
	    ((base = ASN1_INTEGER_new()) == NULL ||
	        !ASN1_INTEGER_set_int64(base, delta_base) ||
	        !X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base, 1,
	            X509V3_ADD_DEFAULT))) {
		log_ossl_errors("pki_crl_build: deltaCRLIndicator");
		goto out;
	}
	/*
	 * 5.2.6: a complete CRL may name where its deltas are, which lets
	 * certificates issued before there were deltas use them too.
	 */
	if (freshest_url != NULL &&
	    ((dps = pki_dist_points(freshest_url)) == NULL ||
	        !X509_CRL_add1_ext_i2d(crl, NID_freshest_crl, dps, 0,
	            X509V3_ADD_DEFAULT))) {
		log_ossl_errors("pki_crl_build: freshestCRL");
		goto out;
	}
	/* Entries in serial order: a stable encoding for equal content. */
	if (!X509_CRL_sort(crl) ||
	    pki_sign_ctx_new(ca->key, PKI_KIND_CRL, &mctx) != 0 ||
	    X509_CRL_sign_ctx(crl, mctx) <= 0) {
		log_ossl_errors("pki_crl_build: X509_CRL_sign_ctx");
		goto out;
	}
	*out = crl;
	crl = NULL;
	r = 0;
out:
	EVP_MD_CTX_free(mctx);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(base);
	CRL_DIST_POINTS_free(dps);
	X509_EXTENSION_free(aki);
	X509_CRL_free(crl);
	return r;
}
