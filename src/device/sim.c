/*
 * fleetpki-device-sim: simulated devices against a fleetpki server,
 * over libfleetpki-device (docs/device-protocol.md).
 *
 *   fleetpki-device-sim --url URL [--cacert FILE] --rot ROT --secret HEX
 *       [--heartbeats N] [--serial SN] [--profile UID] [--imei IMEI]
 *       [--counter N | --counter-file FILE] [--no-bootstrap]
 *       [--interval SEC] [--replay] [--clone] [--slots DIR]
 *   fleetpki-device-sim --url URL [--cacert FILE] --devices FILE
 *       [--heartbeats N] [--concurrency N] [--interval SEC] [--replay]
 *       [--clone] [--no-bootstrap]
 *
 * One device: bootstrap, then N heartbeats, applying what each answer
 * asks (properties, ZTP keys and certificates) and acknowledging it in
 * the next heartbeat, then up to four more heartbeats while
 * acknowledgements are still pending, so nothing is left unsaid.  One
 * line per step on stdout; exit 0 when every step succeeded, else one
 * line on stderr and exit 1 (2: bad usage).
 *
 * Many devices (--devices, "ROT,SECRET" a line): each runs the same
 * steps on its own schedule (the server's HeartbeatInSec, or
 * --interval), at most --concurrency requests at a time; a summary line
 * at the end.
 *
 * --replay sends the last request once more, byte for byte: the step
 * succeeds when the server refuses it as a replay.  With --devices, each
 * device does its replay, and its clone, after its last heartbeat.  --clone runs a
 * second instance of the identity whose counter starts where the first
 * one's did: its heartbeat must be refused, it then catches up from the
 * server's answer (as a clone would) and is accepted, and the first
 * instance's next heartbeat must be refused in turn.
 *
 * --slots DIR keeps the device's key slots between runs, as a device's
 * secure storage would: DIR/<slot>.key.pem (PKCS#8, mode 0600) and
 * DIR/<slot>.crt.pem are read before the first request and written
 * after the last (a removed slot's files are deleted), so ZTP can span
 * several runs and a test can use the device's certificate.
 *
 * Without storage of its own, the simulator starts each device's
 * counter from the clock in microseconds (--counter or --counter-file
 * otherwise), so runs one after another keep counting up.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fleetpki-device.h"

#define MAX_PROPS 32
#define MAX_SLOTS 4
#define MAX_FLUSH 4

struct prop {
	char name[65];
	enum fpd_prop_type type;
	int64_t value;
};

/* A key and certificate slot ("ztp"), as ZTP commands address them. */
struct slot {
	char name[65];
	EVP_PKEY *key;
	X509 *cert;
};

/* One simulated device: the library's device and what it has applied. */
struct sim {
	char rot[17];
	struct fpd_device *dev;
	struct prop props[MAX_PROPS];
	size_t nprops;
	struct slot slots[MAX_SLOTS];
	size_t nslots;
	/* --clone: where the counter started, and the identity (wiped). */
	uint64_t start;
	char secret[2 * FPD_SECRET_LEN + 1];
	/* Scheduling (--devices). */
	int step; /* 0 bootstrap, then heartbeats */
	int flushes;
	double due;
	int failed;
	char err[256];
};

struct opts {
	const char *url;
	const char *cacert;
	long timeout;
	const char *rot;
	const char *secret;
	const char *serial;
	const char *profile;
	const char *imei;
	const char *counter_file;
	uint64_t counter;
	int have_counter;
	long heartbeats;
	long interval; /* -1: the server's */
	long concurrency;
	const char *devices;
	const char *slots_dir;
	int replay;
	int clone;
	int no_bootstrap;
	/* end-to-end data protection (docs/e2e.md) */
	const char *e2e_state; /* C,DAYS,BASE,SINCE,NEXT,LASTDL */
	const char *e2e_seal; /* plaintext, hex */
	const char *e2e_open; /* downlink message, hex */
	int e2e_version;
	int e2e_bits;
};

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
clock_counter(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
sleep_sec(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void die_usage(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("fleetpki-device-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

/* --counter-file: the last counter used, written before each use. */
static int
save_counter_file(void *arg, uint64_t counter)
{
	const char *path = arg;
	char tmp[4096];
	FILE *f;
	int rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (f = fopen(tmp, "w")) == NULL)
		return -1;
	if (fprintf(f, "%" PRIu64 "\n", counter) > 0 && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	return rc;
}

static int
load_counter_file(const char *path, uint64_t *out)
{
	FILE *f = fopen(path, "r");
	char line[64], *end;
	unsigned long long v;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\n' && *end != '\0'))
		return -1;
	*out = v;
	return 1;
}

static int
sim_init(struct sim *s, const char *rot, const char *secret_hex,
    uint64_t counter, fpd_counter_save_fn save, void *save_arg, char *err,
    size_t errsz)
{
	unsigned char secret[FPD_SECRET_LEN];
	size_t i;
	int hi, lo, rc;

	memset(s, 0, sizeof(*s));
	if (strlen(secret_hex) != 2 * FPD_SECRET_LEN) {
		snprintf(err, errsz, "the secret is not 64 hex digits");
		return -1;
	}
	for (i = 0; i < FPD_SECRET_LEN; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)secret_hex[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)secret_hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errsz, "the secret is not 64 hex digits");
			OPENSSL_cleanse(secret, sizeof(secret));
			return -1;
		}
		secret[i] = (unsigned char)(hi << 4 | lo);
	}
	rc = fpd_device_new(rot, secret, counter, save, save_arg, &s->dev);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc != FPD_OK) {
		snprintf(err, errsz, "%s: not a device identity (%s)", rot,
		    fpd_strerror(rc));
		return -1;
	}
	snprintf(s->rot, sizeof(s->rot), "%s", fpd_device_rot(s->dev));
	return 0;
}

static void
sim_free(struct sim *s)
{
	size_t i;

	for (i = 0; i < s->nslots; i++) {
		EVP_PKEY_free(s->slots[i].key);
		X509_free(s->slots[i].cert);
	}
	fpd_device_free(s->dev);
	memset(s, 0, sizeof(*s));
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
}

static struct slot *
slot_get(struct sim *s, const char *name, int create)
{
	size_t i;

	for (i = 0; i < s->nslots; i++)
		if (strcmp(s->slots[i].name, name) == 0)
			return &s->slots[i];
	if (!create || s->nslots >= MAX_SLOTS)
		return NULL;
	snprintf(s->slots[s->nslots].name, sizeof(s->slots[0].name), "%s",
	    name);
	return &s->slots[s->nslots++];
}

static void
set_prop(struct sim *s, const struct fpd_property *p)
{
	size_t i;

	for (i = 0; i < s->nprops; i++)
		if (strcmp(s->props[i].name, p->name) == 0)
			break;
	if (i == s->nprops) {
		if (s->nprops >= MAX_PROPS)
			return;
		s->nprops++;
	}
	snprintf(s->props[i].name, sizeof(s->props[i].name), "%s", p->name);
	s->props[i].type = p->type;
	s->props[i].value = p->value;
}

/*
 * Carry out one command and queue its acknowledgement.  Returns 0, or
 * -1 when the acknowledgement itself cannot be queued.
 */
static int
apply(struct sim *s, const struct fpd_command *c)
{
	struct slot *sl;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	char *csr = NULL;
	const char *fail = NULL;
	size_t i, len;
	int rc;

	if (c->invalid != NULL)
		return fpd_ack_failure(s->dev, c->id, c->invalid) == FPD_OK
		    ? 0
		    : -1;
	switch (c->type) {
	case FPD_CMD_SET_PROPERTIES:
		for (i = 0; i < c->nprops; i++)
			set_prop(s, &c->props[i]);
		break;
	case FPD_CMD_GENERATE_KEY:
		if ((sl = slot_get(s, c->slot, 1)) == NULL)
			fail = "no free key slot";
		else if ((rc = fpd_generate_key(s->dev, c, &key, &csr)) !=
		    FPD_OK)
			fail = rc == FPD_EINVAL ? "unsupported KeyType"
			                        : "could not make the key";
		if (fail == NULL) {
			/* A new key replaces the slot's key and certificate. */
			EVP_PKEY_free(sl->key);
			X509_free(sl->cert);
			sl->key = key;
			sl->cert = NULL;
			key = NULL;
		}
		break;
	case FPD_CMD_INSTALL_CERTIFICATE:
		if ((sl = slot_get(s, c->slot, 0)) == NULL || sl->key == NULL)
			fail = "no key in that slot";
		else if (fpd_check_certificate(c, sl->key, &cert) != FPD_OK)
			fail = "certificate does not match the slot's key";
		if (fail == NULL) {
			X509_free(sl->cert);
			sl->cert = cert;
			cert = NULL;
		}
		break;
	case FPD_CMD_INSTALL_KEY_AND_CERTIFICATE:
		if (fpd_unwrap_key(s->dev, c, &der, &len) != FPD_OK)
			fail = "key envelope did not open";
		else if ((sl = slot_get(s, c->slot, 1)) == NULL)
			fail = "no free key slot";
		else if ((p = der,
		             key = d2i_AutoPrivateKey(NULL, &p, (long)len)) ==
		        NULL ||
		    fpd_check_certificate(c, key, &cert) != FPD_OK)
			fail = "key or certificate does not parse";
		if (fail == NULL) {
			EVP_PKEY_free(sl->key);
			X509_free(sl->cert);
			sl->key = key;
			sl->cert = cert;
			key = NULL;
			cert = NULL;
		}
		break;
	case FPD_CMD_REMOVE_CERTIFICATE:
		if ((sl = slot_get(s, c->slot, 0)) != NULL) {
			EVP_PKEY_free(sl->key);
			X509_free(sl->cert);
			sl->key = NULL;
			sl->cert = NULL;
		}
		break;
	case FPD_CMD_UNKNOWN:
		fail = "unsupported command";
		break;
	}
	rc = fail != NULL ? fpd_ack_failure(s->dev, c->id, fail)
	                  : fpd_ack_success(s->dev, c->id, csr);
	free(csr);
	EVP_PKEY_free(key);
	X509_free(cert);
	if (der != NULL) {
		OPENSSL_cleanse(der, len);
		free(der);
	}
	return rc == FPD_OK ? 0 : -1;
}

/* "refused: COUNTER_REPLAY (text)" and the like, for one line. */
static void
describe(int rc, const struct fpd_answer *a, char *out, size_t outsz)
{
	if (rc == FPD_EREFUSED)
		snprintf(out, outsz, "refused: %s%s%s%s", a->error,
		    a->message != NULL ? " (" : "",
		    a->message != NULL ? a->message : "",
		    a->message != NULL ? ")" : "");
	else if (rc == FPD_EHTTP)
		snprintf(out, outsz, "HTTP %d%s%s without a MAC", a->status,
		    a->error != NULL ? " " : "",
		    a->error != NULL ? a->error : "");
	else
		snprintf(out, outsz, "%s", fpd_strerror(rc));
}

/*
 * One step: bootstrap ('heartbeat' 0) or a heartbeat, its commands
 * applied.  0, or -1 with the reason in s->err.  '*next' is the server's
 * HeartbeatInSec.
 */
static int
sim_step(struct fpd_client *cl, struct sim *s, const struct opts *o,
    int heartbeat, const char *label, int verbose, int64_t *next)
{
	struct fpd_bootstrap_info info = { o->serial != NULL ? o->serial
		                                             : s->rot,
		o->profile, o->imei, NULL };
	struct fpd_answer *a = NULL;
	char why[200];
	size_t i, acks = fpd_pending_acks(s->dev);
	int rc;

	rc = heartbeat ? fpd_heartbeat(cl, s->dev, &a)
	               : fpd_bootstrap(cl, s->dev, &info, &a);
	if (rc != FPD_OK) {
		describe(rc, a, why, sizeof(why));
		snprintf(s->err, sizeof(s->err), "%s %s: %s", s->rot, label,
		    why);
		fpd_answer_free(a);
		return -1;
	}
	for (i = 0; i < a->ncommands; i++)
		if (apply(s, &a->commands[i]) != 0) {
			snprintf(s->err, sizeof(s->err),
			    "%s %s: too many acknowledgements pending", s->rot,
			    label);
			fpd_answer_free(a);
			return -1;
		}
	if (verbose) {
		if (heartbeat)
			printf("%s: %zu command%s, %zu acknowledged, next in "
			       "%" PRId64 " s\n",
			    label, a->ncommands, a->ncommands == 1 ? "" : "s",
			    acks - fpd_pending_acks(s->dev) + a->ncommands,
			    a->heartbeat_in_sec);
		else
			printf("%s: %s%s%s, %zu command%s, next in %" PRId64
			       " s\n",
			    label, a->state,
			    a->profile != NULL ? " profile " : "",
			    a->profile != NULL ? a->profile : "", a->ncommands,
			    a->ncommands == 1 ? "" : "s", a->heartbeat_in_sec);
	}
	*next = a->heartbeat_in_sec;
	fpd_answer_free(a);
	return 0;
}

static void
print_state(const struct sim *s)
{
	size_t i;
	char name[256];

	printf("properties:");
	for (i = 0; i < s->nprops; i++) {
		if (s->props[i].type == FPD_PROP_BOOL)
			printf(" %s=%s", s->props[i].name,
			    s->props[i].value ? "true" : "false");
		else
			printf(" %s=%" PRId64, s->props[i].name,
			    s->props[i].value);
	}
	printf("\n");
	for (i = 0; i < s->nslots; i++) {
		if (s->slots[i].cert == NULL) {
			printf("slot %s: %s\n", s->slots[i].name,
			    s->slots[i].key != NULL ? "key, no certificate"
			                            : "empty");
			continue;
		}
		X509_NAME_oneline(X509_get_issuer_name(s->slots[i].cert), name,
		    sizeof(name));
		printf("slot %s: certificate issued by %s\n", s->slots[i].name,
		    name);
	}
	printf("counter: %" PRIu64 "\n", fpd_device_counter(s->dev));
}

/* Send 'req' again as it is; a replay refused is success. */
static int
replay(struct fpd_client *cl, struct sim *s, const struct fpd_request *req)
{
	struct fpd_answer *a = NULL;
	char why[200];
	int rc = fpd_send(cl, s->dev, req, &a), ok;

	ok = rc == FPD_EREFUSED && strcmp(a->error, "COUNTER_REPLAY") == 0;
	if (ok)
		printf("replay: refused (COUNTER_REPLAY)\n");
	else if (rc == FPD_OK)
		snprintf(s->err, sizeof(s->err),
		    "%s replay: accepted by the server", s->rot);
	else {
		describe(rc, a, why, sizeof(why));
		snprintf(s->err, sizeof(s->err), "%s replay: %s", s->rot, why);
	}
	fpd_answer_free(a);
	return ok ? 0 : -1;
}

/* A heartbeat that must be refused as a counter regression. */
static int
expect_regression(struct fpd_client *cl, struct sim *s, const char *label,
    struct fpd_answer **out)
{
	struct fpd_answer *a = NULL;
	char why[200];
	int rc = fpd_heartbeat(cl, s->dev, &a);

	if (rc == FPD_EREFUSED && strcmp(a->error, "COUNTER_REPLAY") == 0) {
		printf("%s: refused (COUNTER_REPLAY, server at %" PRIu64 ")\n",
		    label, a->last_counter);
		*out = a;
		return 0;
	}
	if (rc == FPD_OK)
		snprintf(s->err, sizeof(s->err),
		    "%s %s: accepted despite its counter", s->rot, label);
	else {
		describe(rc, a, why, sizeof(why));
		snprintf(s->err, sizeof(s->err), "%s %s: %s", s->rot, label,
		    why);
	}
	fpd_answer_free(a);
	return -1;
}

/*
 * --replay: capture a heartbeat, deliver it, then deliver it again; the
 * second delivery must be refused as a replay.
 */
static int
sim_replay(struct fpd_client *cl, struct sim *s)
{
	struct fpd_request *last = NULL;
	struct fpd_answer *a = NULL;
	char why[200];
	int r, rc = -1;

	if ((r = fpd_build_heartbeat(s->dev, (int64_t)time(NULL), &last)) !=
	        FPD_OK ||
	    (r = fpd_send(cl, s->dev, last, &a)) != FPD_OK) {
		describe(r, a, why, sizeof(why));
		snprintf(s->err, sizeof(s->err), "%s heartbeat: %s", s->rot,
		    why);
		goto out;
	}
	fpd_answer_free(a);
	a = NULL;
	printf("%s captured: counter %s\n", s->rot, last->counter);
	rc = replay(cl, s, last);
out:
	fpd_answer_free(a);
	fpd_request_free(last);
	return rc;
}

/*
 * --clone: a twin of 's' whose counter starts where the original's did
 * ('start'): its heartbeat must be refused, it catches up from the
 * server's answer and is accepted, and the original's next heartbeat
 * must then be refused in turn.
 */
static int
sim_clone(struct fpd_client *cl, struct sim *s, const char *secret_hex,
    uint64_t start, const struct opts *o)
{
	struct fpd_answer *a = NULL;
	struct sim twin;
	char err[256];
	int64_t next = 0;
	int rc = -1;

	memset(&twin, 0, sizeof(twin));
	if (sim_init(&twin, s->rot, secret_hex, start, NULL, NULL, err,
	        sizeof(err)) != 0) {
		snprintf(s->err, sizeof(s->err), "%s", err);
		goto out;
	}
	if (expect_regression(cl, &twin, "clone heartbeat", &a) != 0) {
		snprintf(s->err, sizeof(s->err), "%s", twin.err);
		goto out;
	}
	fpd_device_resync(twin.dev, a);
	fpd_answer_free(a);
	a = NULL;
	if (sim_step(cl, &twin, o, 1, "clone heartbeat (caught up)", 1,
	        &next) != 0) {
		snprintf(s->err, sizeof(s->err), "%s", twin.err);
		goto out;
	}
	if (expect_regression(cl, s, "original heartbeat", &a) != 0)
		goto out;
	rc = 0;
out:
	fpd_answer_free(a);
	sim_free(&twin);
	return rc;
}

/* ---- end-to-end data protection (docs/e2e.md) ------------------ */

/* 'hex' (even length) into a new buffer; NULL when it is not hex. */
static unsigned char *
hex_bytes(const char *hex, size_t *len)
{
	size_t i, n = strlen(hex);
	unsigned char *b;
	int hi, lo;

	if (n % 2 != 0 || (b = malloc(n / 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(b);
			return NULL;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return b;
}

static void
print_hex(const char *label, const unsigned char *p, size_t n)
{
	size_t i;

	printf("%s: ", label);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/*
 * The state from --e2e-state, then the E2E properties the heartbeats
 * delivered; seal --e2e-seal, open --e2e-open; print the state after.
 */
static int
sim_e2e(struct sim *s, const struct opts *o)
{
	struct fpd_e2e e;
	unsigned char *secret = NULL, *in = NULL, *out = NULL;
	size_t i, slen = 0, len = 0, n = 0;
	long long c = 0, days = 0, base = 0, since = 0, next = 0, last = 0;
	int64_t now = (int64_t)time(NULL);
	int rc = -1, r;

	if ((secret = hex_bytes(o->secret, &slen)) == NULL ||
	    slen != FPD_SECRET_LEN ||
	    fpd_e2e_init(&e, s->rot, secret) != FPD_OK) {
		snprintf(s->err, sizeof(s->err), "e2e: bad identity");
		goto out;
	}
	if (o->e2e_state != NULL) {
		if (sscanf(o->e2e_state, "%lld,%lld,%lld,%lld,%lld,%lld", &c,
		        &days, &base, &since, &next, &last) != 6 ||
		    days < 0 || base < 0 || next < 0 || last < 0) {
			snprintf(s->err, sizeof(s->err),
			    "--e2e-state: C,DAYS,BASE,SINCE,NEXT,LASTDL");
			goto out;
		}
		fpd_e2e_property(&e, "E2EContinuous", c);
		fpd_e2e_property(&e, "E2EKeyDays", days);
		fpd_e2e_property(&e, "E2EKeyEpoch", base);
		fpd_e2e_property(&e, "E2EKeySince", since);
		e.next_uplink = (uint64_t)next;
		e.last_downlink = (uint64_t)last;
	}
	for (i = 0; i < s->nprops; i++)
		(void)fpd_e2e_property(&e, s->props[i].name, s->props[i].value);
	if (o->e2e_seal != NULL) {
		if ((in = hex_bytes(o->e2e_seal, &len)) == NULL ||
		    (out = malloc(fpd_e2e_sealed_len(o->e2e_version, len) +
		         1)) == NULL) {
			snprintf(s->err, sizeof(s->err), "--e2e-seal: not hex");
			goto out;
		}
		r = fpd_e2e_seal(&e, o->e2e_version,
		    o->e2e_bits == 128 ? FPD_E2E_AES128_CCM
		                       : FPD_E2E_AES256_CCM,
		    now, in, len, out, fpd_e2e_sealed_len(o->e2e_version, len),
		    &n);
		if (r != FPD_OK) {
			snprintf(s->err, sizeof(s->err), "e2e seal: %s",
			    fpd_strerror(r));
			goto out;
		}
		print_hex("e2e-message", out, n);
		free(in);
		free(out);
		in = out = NULL;
	}
	if (o->e2e_open != NULL) {
		if ((in = hex_bytes(o->e2e_open, &len)) == NULL ||
		    (out = malloc(len + 1)) == NULL) {
			snprintf(s->err, sizeof(s->err), "--e2e-open: not hex");
			goto out;
		}
		if ((r = fpd_e2e_open(&e, now, in, len, out, len, &n)) !=
		    FPD_OK) {
			snprintf(s->err, sizeof(s->err), "e2e open: %s",
			    fpd_strerror(r));
			goto out;
		}
		print_hex("e2e-plaintext", out, n);
	}
	printf("e2e-state: %d,%lld,%llu,%lld,%llu,%llu\n", e.continuous,
	    (long long)e.days, (unsigned long long)e.base, (long long)e.since,
	    (unsigned long long)e.next_uplink,
	    (unsigned long long)e.last_downlink);
	rc = 0;
out:
	fpd_e2e_wipe(&e);
	if (secret != NULL) {
		OPENSSL_cleanse(secret, slen);
		free(secret);
	}
	free(in);
	free(out);
	return rc;
}

/* --slots: the slots of an earlier run. */
static int
slots_load(struct sim *s, const char *dir)
{
	struct dirent *e;
	struct slot *sl;
	DIR *d;
	FILE *f;
	char path[4096], name[65];
	size_t n;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n <= 8 || n - 8 >= sizeof(name) ||
		    strcmp(e->d_name + n - 8, ".key.pem") != 0)
			continue;
		memcpy(name, e->d_name, n - 8);
		name[n - 8] = '\0';
		if ((sl = slot_get(s, name, 1)) == NULL)
			break;
		snprintf(path, sizeof(path), "%s/%s.key.pem", dir, name);
		if ((f = fopen(path, "r")) != NULL) {
			sl->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
		snprintf(path, sizeof(path), "%s/%s.crt.pem", dir, name);
		if ((f = fopen(path, "r")) != NULL) {
			sl->cert = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
	}
	closedir(d);
	return 0;
}

static int
slots_save(const struct sim *s, const char *dir)
{
	const struct slot *sl;
	char path[4096];
	FILE *f;
	size_t i;
	int fd, ok = 1;

	for (i = 0; i < s->nslots; i++) {
		sl = &s->slots[i];
		snprintf(path, sizeof(path), "%s/%s.key.pem", dir, sl->name);
		if (sl->key == NULL)
			(void)unlink(path);
		else if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) <
		        0 ||
		    (f = fdopen(fd, "w")) == NULL ||
		    PEM_write_PrivateKey(f, sl->key, NULL, NULL, 0, NULL,
		        NULL) != 1 ||
		    fclose(f) != 0)
			ok = 0;
		snprintf(path, sizeof(path), "%s/%s.crt.pem", dir, sl->name);
		if (sl->cert == NULL)
			(void)unlink(path);
		else if ((f = fopen(path, "w")) == NULL ||
		    PEM_write_X509(f, sl->cert) != 1 || fclose(f) != 0)
			ok = 0;
	}
	return ok ? 0 : -1;
}

static int
run_one(const struct opts *o)
{
	struct fpd_client *cl = NULL;
	struct sim s;
	char label[64], err[256];
	uint64_t start;
	int64_t next = 0;
	long i;
	int rc = 1, r;

	memset(&s, 0, sizeof(s));
	start = o->have_counter ? o->counter : clock_counter();
	if (o->counter_file != NULL && !o->have_counter) {
		if ((r = load_counter_file(o->counter_file, &start)) < 0) {
			fprintf(stderr,
			    "fleetpki-device-sim: %s: not a counter file\n",
			    o->counter_file);
			return 1;
		}
		if (r == 0)
			start = clock_counter();
	}
	if (sim_init(&s, o->rot, o->secret, start,
	        o->counter_file != NULL ? save_counter_file : NULL,
	        (void *)o->counter_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "fleetpki-device-sim: %s\n", err);
		return 2;
	}
	if (o->slots_dir != NULL && slots_load(&s, o->slots_dir) != 0) {
		fprintf(stderr, "fleetpki-device-sim: %s: %s\n", o->slots_dir,
		    strerror(errno));
		rc = 2;
		goto out;
	}
	if ((r = fpd_client_new(o->url, o->cacert, o->timeout, &cl)) !=
	    FPD_OK) {
		fprintf(stderr, "fleetpki-device-sim: %s: %s\n", o->url,
		    fpd_strerror(r));
		rc = 2;
		goto out;
	}
	if (!o->no_bootstrap &&
	    sim_step(cl, &s, o, 0, "bootstrap", 1, &next) != 0)
		goto fail;
	for (i = 1; i <= o->heartbeats; i++) {
		if (i > 1 || !o->no_bootstrap)
			sleep_sec((double)(o->interval >= 0 ? o->interval : 0));
		snprintf(label, sizeof(label), "heartbeat %ld", i);
		if (sim_step(cl, &s, o, 1, label, 1, &next) != 0)
			goto fail;
	}
	/* Deliver what the last answers asked for. */
	for (r = 0; r < MAX_FLUSH && fpd_pending_acks(s.dev) > 0; r++) {
		snprintf(label, sizeof(label), "heartbeat %ld", i++);
		if (sim_step(cl, &s, o, 1, label, 1, &next) != 0)
			goto fail;
	}
	if (o->slots_dir != NULL && slots_save(&s, o->slots_dir) != 0) {
		snprintf(s.err, sizeof(s.err), "%s: cannot write the slots",
		    o->slots_dir);
		goto fail;
	}
	print_state(&s);
	if ((o->e2e_state != NULL || o->e2e_seal != NULL ||
	        o->e2e_open != NULL) &&
	    sim_e2e(&s, o) != 0)
		goto fail;
	if (o->replay && sim_replay(cl, &s) != 0)
		goto fail;
	if (o->clone && sim_clone(cl, &s, o->secret, start, o) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "fleetpki-device-sim: %s\n", s.err);
out:
	fpd_client_free(cl);
	sim_free(&s);
	return rc;
}

/* ---- many devices ------------------------------------------------- */

struct fleet {
	const struct opts *o;
	struct sim *sims;
	size_t n;
	/* A binary min-heap of indexes into sims, by due time. */
	size_t *heap;
	size_t nheap;
	size_t done;
	unsigned long requests, heartbeats, failed;
	char first_err[256];
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void
heap_push(struct fleet *f, size_t idx)
{
	size_t i = f->nheap++, parent, t;

	f->heap[i] = idx;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (f->sims[f->heap[parent]].due <= f->sims[f->heap[i]].due)
			break;
		t = f->heap[parent];
		f->heap[parent] = f->heap[i];
		f->heap[i] = t;
		i = parent;
	}
}

static size_t
heap_pop(struct fleet *f)
{
	size_t top = f->heap[0], i = 0, l, r, m, t;

	f->heap[0] = f->heap[--f->nheap];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < f->nheap &&
		    f->sims[f->heap[l]].due < f->sims[f->heap[m]].due)
			m = l;
		if (r < f->nheap &&
		    f->sims[f->heap[r]].due < f->sims[f->heap[m]].due)
			m = r;
		if (m == i)
			break;
		t = f->heap[m];
		f->heap[m] = f->heap[i];
		f->heap[i] = t;
		i = m;
	}
	return top;
}

static void *
fleet_worker(void *arg)
{
	struct fleet *f = arg;
	const struct opts *o = f->o;
	struct fpd_client *cl = NULL;
	struct timespec ts;
	struct sim *s;
	char label[32];
	int64_t next;
	double now, wait;
	size_t idx;
	int ok, finished, hb;

	if (fpd_client_new(o->url, o->cacert, o->timeout, &cl) != FPD_OK)
		return NULL;
	pthread_mutex_lock(&f->mu);
	for (;;) {
		if (f->done == f->n)
			break;
		if (f->nheap == 0) {
			pthread_cond_wait(&f->cv, &f->mu);
			continue;
		}
		now = now_sec();
		wait = f->sims[f->heap[0]].due - now;
		if (wait > 0) {
			wait += now;
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
			continue;
		}
		idx = heap_pop(f);
		pthread_mutex_unlock(&f->mu);

		s = &f->sims[idx];
		hb = s->step > 0;
		if (hb)
			snprintf(label, sizeof(label), "heartbeat %d", s->step);
		ok = sim_step(cl, s, o, hb, hb ? label : "bootstrap", 0,
		         &next) == 0;
		s->step++;
		finished = !ok;
		if (ok && s->step > o->heartbeats) {
			/* Past the last heartbeat: flush acknowledgements. */
			if (fpd_pending_acks(s->dev) == 0 ||
			    s->flushes++ >= MAX_FLUSH)
				finished = 1;
		}
		/* Its schedule done: the replay and the clone, if asked. */
		if (ok && finished && o->replay && sim_replay(cl, s) != 0)
			ok = 0;
		if (ok && finished && o->clone &&
		    sim_clone(cl, s, s->secret, s->start, o) != 0)
			ok = 0;
		s->due =
		    now_sec() + (double)(o->interval >= 0 ? o->interval : next);

		pthread_mutex_lock(&f->mu);
		f->requests++;
		if (hb)
			f->heartbeats++;
		if (!ok) {
			f->failed++;
			if (f->first_err[0] == '\0')
				snprintf(f->first_err, sizeof(f->first_err),
				    "%s", s->err);
		}
		if (finished) {
			f->done++;
			if (f->done == f->n)
				pthread_cond_broadcast(&f->cv);
		} else {
			heap_push(f, idx);
			pthread_cond_signal(&f->cv);
		}
	}
	pthread_mutex_unlock(&f->mu);
	fpd_client_free(cl);
	return NULL;
}

/* "ROT,SECRET" lines; '#' comments and blank lines skipped. */
static int
load_fleet(struct fleet *f, const char *path, uint64_t counter)
{
	FILE *fp = fopen(path, "r");
	char line[512], err[256], *comma, *end;
	size_t cap = 0, lineno = 0;
	struct sim *grown;

	if (fp == NULL) {
		fprintf(stderr, "fleetpki-device-sim: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		end = line + strcspn(line, "\r\n");
		*end = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if ((comma = strchr(line, ',')) == NULL) {
			fprintf(stderr,
			    "fleetpki-device-sim: %s:%zu: not ROT,SECRET\n",
			    path, lineno);
			goto fail;
		}
		*comma = '\0';
		if (f->n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((grown = realloc(f->sims, cap * sizeof(*grown))) ==
			    NULL) {
				fprintf(stderr,
				    "fleetpki-device-sim: out of memory\n");
				goto fail;
			}
			f->sims = grown;
		}
		if (sim_init(&f->sims[f->n], line, comma + 1, counter, NULL,
		        NULL, err, sizeof(err)) != 0) {
			fprintf(stderr, "fleetpki-device-sim: %s:%zu: %s\n",
			    path, lineno, err);
			goto fail;
		}
		f->sims[f->n].start = counter;
		if (f->o->clone)
			snprintf(f->sims[f->n].secret,
			    sizeof(f->sims[f->n].secret), "%s", comma + 1);
		f->n++;
		OPENSSL_cleanse(line, sizeof(line));
	}
	fclose(fp);
	if (f->n == 0) {
		fprintf(stderr, "fleetpki-device-sim: %s: no devices\n", path);
		return -1;
	}
	return 0;
fail:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(fp);
	return -1;
}

static int
run_fleet(const struct opts *o)
{
	struct fleet f;
	pthread_t *threads = NULL;
	size_t i;
	long t, started = 0;
	double t0, secs;
	int rc = 1;

	memset(&f, 0, sizeof(f));
	f.o = o;
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	if (load_fleet(&f, o->devices, clock_counter()) != 0) {
		rc = 2;
		goto out;
	}
	if ((f.heap = calloc(f.n, sizeof(*f.heap))) == NULL ||
	    (threads = calloc((size_t)o->concurrency, sizeof(*threads))) ==
	        NULL) {
		fprintf(stderr, "fleetpki-device-sim: out of memory\n");
		goto out;
	}
	t0 = now_sec();
	for (i = 0; i < f.n; i++) {
		f.sims[i].due = t0;
		/* --no-bootstrap: devices that bootstrapped in an earlier run. */
		if (o->no_bootstrap)
			f.sims[i].step = 1;
		heap_push(&f, i);
	}
	for (t = 0; t < o->concurrency; t++) {
		if (pthread_create(&threads[t], NULL, fleet_worker, &f) != 0)
			break;
		started++;
	}
	if (started == 0) {
		fprintf(stderr, "fleetpki-device-sim: no thread started\n");
		goto out;
	}
	for (t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	secs = now_sec() - t0;
	if (f.done != f.n) {
		/* Every worker failed to make its HTTPS client. */
		fprintf(stderr, "fleetpki-device-sim: %s: no client\n", o->url);
		goto out;
	}
	printf("devices %zu, requests %lu, heartbeats %lu, failed %lu, "
	       "%.3f s, %.1f requests/s, %.1f heartbeats/s\n",
	    f.n, f.requests, f.heartbeats, f.failed, secs,
	    secs > 0 ? (double)f.requests / secs : 0.0,
	    secs > 0 ? (double)f.heartbeats / secs : 0.0);
	if (f.failed > 0) {
		fprintf(stderr,
		    "fleetpki-device-sim: %lu of %zu devices failed (first: "
		    "%s)\n",
		    f.failed, f.n, f.first_err);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < f.n; i++)
		sim_free(&f.sims[i]);
	free(f.sims);
	free(f.heap);
	free(threads);
	pthread_cond_destroy(&f.cv);
	pthread_mutex_destroy(&f.mu);
	return rc;
}

static void
usage(void)
{
	printf("usage: fleetpki-device-sim --url URL [--cacert FILE] "
	       "[--timeout SEC]\n"
	       "         --rot ROT --secret HEX [--heartbeats N] "
	       "[--serial SN] [--profile UID]\n"
	       "         [--imei IMEI] [--counter N | --counter-file FILE] "
	       "[--no-bootstrap]\n"
	       "         [--interval SEC] [--replay] [--clone] [--slots DIR]\n"
	       "         [--e2e-state C,DAYS,BASE,SINCE,NEXT,LASTDL] "
	       "[--e2e-seal HEX]\n"
	       "         [--e2e-version 1|2] [--e2e-bits 128|256] "
	       "[--e2e-open HEX]\n"
	       "       fleetpki-device-sim --url URL [--cacert FILE] "
	       "--devices FILE\n"
	       "         [--heartbeats N] [--concurrency N] "
	       "[--interval SEC] [--no-bootstrap]\n"
	       "         [--replay] [--clone]\n");
}

static long
num_arg(const char *name, const char *v, long min, long max)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		die_usage("%s: not a number in %ld..%ld", name, min, max);
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "rot", required_argument, NULL, 'r' },
		{ "secret", required_argument, NULL, 's' },
		{ "serial", required_argument, NULL, 'S' },
		{ "profile", required_argument, NULL, 'p' },
		{ "imei", required_argument, NULL, 'i' },
		{ "counter", required_argument, NULL, 'n' },
		{ "counter-file", required_argument, NULL, 'f' },
		{ "heartbeats", required_argument, NULL, 'b' },
		{ "interval", required_argument, NULL, 'I' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "devices", required_argument, NULL, 'd' },
		{ "replay", no_argument, NULL, 'R' },
		{ "clone", no_argument, NULL, 'K' },
		{ "slots", required_argument, NULL, 'X' },
		{ "no-bootstrap", no_argument, NULL, 'B' },
		{ "e2e-state", required_argument, NULL, 'E' },
		{ "e2e-seal", required_argument, NULL, 'L' },
		{ "e2e-open", required_argument, NULL, 'O' },
		{ "e2e-version", required_argument, NULL, 'V' },
		{ "e2e-bits", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o;
	char *end;
	int c, rc;

	memset(&o, 0, sizeof(o));
	o.heartbeats = 1;
	o.interval = -1;
	o.concurrency = 8;
	o.e2e_version = 1;
	o.e2e_bits = 128;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.url = optarg;
			break;
		case 'c':
			o.cacert = optarg;
			break;
		case 't':
			o.timeout = num_arg("--timeout", optarg, 1, 3600);
			break;
		case 'r':
			o.rot = optarg;
			break;
		case 's':
			o.secret = optarg;
			break;
		case 'S':
			o.serial = optarg;
			break;
		case 'p':
			o.profile = optarg;
			break;
		case 'i':
			o.imei = optarg;
			break;
		case 'n':
			errno = 0;
			o.counter = strtoull(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    optarg[0] == '-' || o.counter >= INT64_MAX)
				die_usage("--counter: not a counter");
			o.have_counter = 1;
			break;
		case 'f':
			o.counter_file = optarg;
			break;
		case 'b':
			o.heartbeats =
			    num_arg("--heartbeats", optarg, 0, 1000000);
			break;
		case 'I':
			o.interval = num_arg("--interval", optarg, 0, 86400);
			break;
		case 'C':
			o.concurrency =
			    num_arg("--concurrency", optarg, 1, 1024);
			break;
		case 'd':
			o.devices = optarg;
			break;
		case 'R':
			o.replay = 1;
			break;
		case 'K':
			o.clone = 1;
			break;
		case 'X':
			o.slots_dir = optarg;
			break;
		case 'B':
			o.no_bootstrap = 1;
			break;
		case 'E':
			o.e2e_state = optarg;
			break;
		case 'L':
			o.e2e_seal = optarg;
			break;
		case 'O':
			o.e2e_open = optarg;
			break;
		case 'V':
			o.e2e_version =
			    (int)num_arg("--e2e-version", optarg, 1, 2);
			break;
		case 'W':
			o.e2e_bits =
			    (int)num_arg("--e2e-bits", optarg, 128, 256);
			if (o.e2e_bits != 128 && o.e2e_bits != 256)
				die_usage("--e2e-bits: 128 or 256");
			break;
		case 'h':
			usage();
			return 0;
		default:
			die_usage("unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	if (o.url == NULL)
		die_usage("--url is required");
	if (o.devices != NULL) {
		if (o.rot != NULL || o.secret != NULL ||
		    o.counter_file != NULL || o.have_counter ||
		    o.e2e_state != NULL || o.e2e_seal != NULL ||
		    o.e2e_open != NULL)
			die_usage("--devices takes no single-device option");
	} else {
		if (o.rot == NULL || o.secret == NULL)
			die_usage("--rot and --secret are required (or "
			          "--devices)");
		if (o.counter_file != NULL && o.have_counter)
			die_usage("--counter and --counter-file exclude each "
			          "other");
		if (o.clone && o.counter_file != NULL)
			die_usage("--clone keeps its counters in memory");
	}
	if (fpd_global_init() != FPD_OK) {
		fprintf(stderr, "fleetpki-device-sim: libcurl did not start\n");
		return 1;
	}
	rc = o.devices != NULL ? run_fleet(&o) : run_one(&o);
	fflush(stdout);
	fpd_global_cleanup();
	return rc;
}
