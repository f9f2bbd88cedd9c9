/*
 * signer/server: fleetpkid's signer process (OpenSSH's privilege
 * separation, turned around: the small process holds the secrets, the
 * big ones that parse client input hold none).
 *
 * The master binds an abstract unix socket before it forks anything
 * (signer_listen) and keeps it open, so the name stays ours and a
 * worker's connect succeeds even while a dead signer is being replaced
 * (it waits in the backlog, bounded by the worker's deadline).  This
 * process is the only one of fleetpkid that has the master key after
 * fork and the only one that unseals CA keys.  It reads CA rows itself,
 * through the store as the app role, with the tenant the request names
 * set for that one statement (row-level security then lets it see that
 * tenant's CAs only): a key id of no CA is refused.
 *
 * One thread, poll() over the connections; each request is small and
 * quick (one ECDSA or RSA signature, or one AES-GCM operation), so they
 * are answered in turn.  A frame whose header does not decode closes its
 * connection (the stream cannot be resynchronised); a body that does
 * not decode is answered SIGNER_ST_MALFORMED.  Both are logged.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fleetpki/config.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/proc.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"

/* Connections served at once: workers, each with one. */
#define MAX_CONNS 1024
/* Opened CA keys kept; past it the cache starts over. */
#define KEYS_MAX 4096
/* A reply that cannot be written in this long drops the connection. */
#define WRITE_WAIT_MS 1000
/* The AAD domains a worker may use: sealed or unsealed, unsealed only. */
#define CERT_AAD "cert:"
#define DEVICE_AAD "device:"
/* An enrolled device's server-made key (the worker sealed it). */
#define ENROLL_AAD "enroll:"
/* Webhook tokens and signing secrets: sealed by the API, opened by the worker. */
#define WEBHOOK_AAD "webhook:"
/* Delegated OCSP responders' keys (sql/025): opened by the workers. */
#define OCSP_RESPONDER_AAD "ocsp-responder:"

struct conn {
	int fd;
	pid_t pid;
	size_t have;
	struct signer_hdr h; /* valid once have >= SIGNER_HDR_LEN */
	unsigned char buf[SIGNER_HDR_LEN + SIGNER_BODY_MAX];
};

struct key {
	int64_t tenant_id;
	int64_t ca_id;
	EVP_PKEY *key;
	struct pki_signing sg; /* made once: every signature reuses it */
};

static volatile sig_atomic_t s_stop;
static struct signer *local;
static struct db *db;
static struct key *keys;
static size_t nkeys;

/*
 * Token (JWT) signing keys, opened on first use: few (one active, a
 * retired one or two), so a small table that starts over when full.
 */
#define TOKEN_KEYS_MAX 8
static struct {
	char kid[65];
	EVP_PKEY *key;
} token_keys[TOKEN_KEYS_MAX];
static size_t ntoken_keys;

static void
on_stop(int sig)
{
	(void)sig;
	s_stop = 1;
}

int
signer_listen(struct signer_addr *addr)
{
	unsigned char rnd[8];
	char name[64], hex[17];
	size_t n;
	int fd;

	pki_random(rnd, sizeof(rnd));
	util_hex(rnd, sizeof(rnd), hex);
	n = (size_t)snprintf(name, sizeof(name), "fleetpki-signer-%ld-%s",
	    (long)getpid(), hex);
	memset(addr, 0, sizeof(*addr));
	addr->sun.sun_family = AF_UNIX;
	/* Abstract: a leading NUL, nothing on disk to clean up or chmod. */
	memcpy(addr->sun.sun_path + 1, name, n);
	addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (const struct sockaddr *)&addr->sun, addr->len) != 0 ||
	    listen(fd, 1024) != 0)
		fatal("signer socket: %s", strerror(errno));
	return fd;
}

/* The parent of 'pid' from /proc/<pid>/stat, or -1. */
static pid_t
parent_of(pid_t pid)
{
	char path[64], line[512], *p;
	long ppid = -1;
	char state;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL &&
	    sscanf(p + 1, " %c %ld", &state, &ppid) != 2)
		ppid = -1;
	fclose(f);
	return (pid_t)ppid;
}

/* Only our own workers: same uid, children of our master. */
static int
peer_allowed(int fd, pid_t *pid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
		log_err("signer: SO_PEERCRED: %s", strerror(errno));
		return 0;
	}
	*pid = uc.pid;
	if (uc.uid != geteuid() || parent_of(uc.pid) != getppid()) {
		log_warn("signer: refused a connection from pid %ld uid %ld: "
		         "not one of fleetpkid's workers",
		    (long)uc.pid, (long)uc.uid);
		return 0;
	}
	return 1;
}

static void
keys_flush(void)
{
	size_t i;

	for (i = 0; i < nkeys; i++) {
		pki_sign_release(&keys[i].sg);
		EVP_PKEY_free(keys[i].key);
	}
	free(keys);
	keys = NULL;
	nkeys = 0;
}

/* The key of CA 'ca_id' of tenant 'tenant_id': SIGNER_ST_*. */
static int
key_get(int64_t tenant_id, int64_t ca_id, struct key **out)
{
	struct pki_signing sg;
	struct ca_rec rec = { 0 };
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	size_t i;
	int rc, st = SIGNER_ST_FAILED;

	for (i = 0; i < nkeys; i++)
		if (keys[i].tenant_id == tenant_id && keys[i].ca_id == ca_id) {
			*out = &keys[i];
			return SIGNER_ST_OK;
		}
	/* Row-level security: the statement runs as that tenant. */
	store_set_tenant(db, tenant_id);
	rc = store_ca_by_id(db, tenant_id, ca_id, &rec);
	store_set_tenant(db, 0);
	if (rc == -FP_E_NOTFOUND) {
		st = SIGNER_ST_NOKEY;
		goto out;
	}
	if (rc == -FP_E_UNAVAILABLE) {
		st = SIGNER_ST_UNAVAILABLE;
		goto out;
	}
	if (rc != 0 ||
	    pki_cert_from_der(rec.cert_der.data, rec.cert_der.len, &cert) !=
	        0 ||
	    signer_ca_key(local, &rec, cert, &key) != 0 ||
	    pki_sign_prepare(key, &sg) != 0)
		goto out;
	if (nkeys >= KEYS_MAX)
		keys_flush();
	keys = xrealloc(keys, (nkeys + 1) * sizeof(*keys));
	keys[nkeys].tenant_id = tenant_id;
	keys[nkeys].ca_id = ca_id;
	keys[nkeys].key = key;
	keys[nkeys].sg = sg;
	*out = &keys[nkeys];
	nkeys++;
	log_info("opened the key of tenant %" PRId64 " CA %" PRId64, tenant_id,
	    ca_id);
	key = NULL;
	st = SIGNER_ST_OK;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	ca_rec_clear(&rec);
	return st;
}

/*
 * The active token signing key 'kid' (the table is global: no tenant).
 * A retired key signs nothing more, even if it opened before.
 */
static int
token_key_get(const char *kid, EVP_PKEY **out)
{
	struct jwt_key_rec rec = { 0 };
	EVP_PKEY *key = NULL;
	size_t i;
	int rc, st = SIGNER_ST_FAILED;

	rc = store_jwt_key_get(db, kid, &rec);
	if (rc == -FP_E_NOTFOUND || (rc == 0 && !rec.active)) {
		st = rc == 0 ? SIGNER_ST_REFUSED : SIGNER_ST_NOKEY;
		goto out;
	}
	if (rc == -FP_E_UNAVAILABLE) {
		st = SIGNER_ST_UNAVAILABLE;
		goto out;
	}
	if (rc != 0)
		goto out;
	for (i = 0; i < ntoken_keys; i++) {
		if (strcmp(token_keys[i].kid, kid) == 0) {
			*out = token_keys[i].key;
			st = SIGNER_ST_OK;
			goto out;
		}
	}
	if (signer_token_key(local, &rec, &key) != 0)
		goto out;
	if (ntoken_keys == TOKEN_KEYS_MAX) {
		for (i = 0; i < ntoken_keys; i++)
			EVP_PKEY_free(token_keys[i].key);
		ntoken_keys = 0;
	}
	memcpy(token_keys[ntoken_keys].kid, rec.kid, sizeof(rec.kid));
	token_keys[ntoken_keys].key = key;
	ntoken_keys++;
	log_info("opened token signing key %s", kid);
	*out = key;
	st = SIGNER_ST_OK;
out:
	jwt_key_rec_clear(&rec);
	return st;
}

static int
do_sign(const struct conn *c, struct buf *reply)
{
	struct signer_sign_req r;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	const char *why = NULL;
	char prefix[17];
	struct key *ca = NULL;
	EVP_PKEY *key = NULL;
	int st;

	if (signer_sign_req_decode(c->buf + SIGNER_HDR_LEN, c->h.len, &r,
	        &why) != 0) {
		log_warn("signer: malformed sign request from pid %ld: %s",
		    (long)c->pid, why);
		return SIGNER_ST_MALFORMED;
	}
	/* Tenant 0, CA 0 and kind "jwt:<kid>": the token signing key. */
	if (r.tenant_id == 0 && r.ca_id == 0 &&
	    strncmp(r.kind, SIGNER_TOKEN_PREFIX, strlen(SIGNER_TOKEN_PREFIX)) ==
	        0) {
		if ((st = token_key_get(r.kind + strlen(SIGNER_TOKEN_PREFIX),
		         &key)) != SIGNER_ST_OK) {
			log_warn("signer: refused to sign as %s for pid %ld",
			    r.kind, (long)c->pid);
			return st;
		}
	} else if ((st = key_get(r.tenant_id, r.ca_id, &ca)) != SIGNER_ST_OK) {
		log_warn(
		    "signer: refused to sign %s for pid %ld: tenant %" PRId64
		    " has no CA %" PRId64 "%s",
		    r.kind, (long)c->pid, r.tenant_id, r.ca_id,
		    st == SIGNER_ST_NOKEY ? "" : " that opens now");
		return st;
	}
	if ((ca != NULL ? pki_sign_prepared(&ca->sg, r.md, r.dg, r.dlen, sig,
	                      &siglen)
	                : pki_sign_digest(key, r.md, r.dg, r.dlen, sig,
	                      &siglen)) != 0) {
		log_warn("signer: refused to sign %s for pid %ld: %s digest of "
		         "%zu bytes does not fit tenant %" PRId64
		         " CA %" PRId64,
		    r.kind, (long)c->pid, r.md, r.dlen, r.tenant_id, r.ca_id);
		return SIGNER_ST_REFUSED;
	}
	util_hex(r.dg, 8, prefix);
	log_info("signed %s for pid %ld: tenant %" PRId64 " CA %" PRId64
	         ", %s %s...",
	    r.kind, (long)c->pid, r.tenant_id, r.ca_id, r.md, prefix);
	buf_append(reply, sig, siglen);
	return SIGNER_ST_OK;
}

/*
 * What a worker may ask: seal and unseal a certificate's server-made key
 * ("cert:"), and unseal a device's root secret ("device:"), because the
 * workers verify device requests' MACs and MAC the answers with keys
 * derived from it (docs/device-protocol.md §10).  That is the trade-off:
 * a compromised worker can open the root secrets of devices (as it could
 * forge their answers anyway), but still never a CA key ("ca:") or a
 * token signing key ("jwt:"), and it cannot seal a device secret (only
 * the operator's CLI seals devices, with its local signer).  Webhook
 * tokens and signing secrets ("webhook:") are sealed only: the API
 * stores them, and only fleetpki-worker (local signer) opens them.  A
 * delegated OCSP responder's key ("ocsp-responder:") is opened for the
 * workers, which sign OCSP answers with it in-process: it can sign
 * nothing but OCSP answers for its one CA, for the few days its
 * certificate lives (sql/025), which is why a CA has one.
 */
int
signer_aad_allowed(int op, const char *aad)
{
	if (strncmp(aad, CERT_AAD, strlen(CERT_AAD)) == 0)
		return op == SIGNER_OP_SEAL || op == SIGNER_OP_UNSEAL;
	if (strncmp(aad, DEVICE_AAD, strlen(DEVICE_AAD)) == 0 ||
	    strncmp(aad, ENROLL_AAD, strlen(ENROLL_AAD)) == 0)
		return op == SIGNER_OP_UNSEAL;
	if (strncmp(aad, WEBHOOK_AAD, strlen(WEBHOOK_AAD)) == 0)
		return op == SIGNER_OP_SEAL;
	if (strncmp(aad, OCSP_RESPONDER_AAD, strlen(OCSP_RESPONDER_AAD)) == 0)
		return op == SIGNER_OP_UNSEAL;
	return 0;
}

static int
do_blob(const struct conn *c, int op, struct buf *reply)
{
	struct signer_blob_req r;
	const char *why = NULL;
	char aad[SIGNER_AAD_MAX + 1];
	int rc;

	if (signer_blob_req_decode(c->buf + SIGNER_HDR_LEN, c->h.len, &r,
	        &why) != 0) {
		log_warn("signer: malformed %s request from pid %ld: %s",
		    op == SIGNER_OP_SEAL ? "seal" : "unseal", (long)c->pid,
		    why);
		return SIGNER_ST_MALFORMED;
	}
	memcpy(aad, r.aad, r.aadlen);
	aad[r.aadlen] = '\0';
	/* Never a CA's or a token key's AAD: those stay in here. */
	if (!signer_aad_allowed(op, aad)) {
		log_warn("signer: refused to %s '%s' for pid %ld: not a "
		         "certificate's key (nor a device secret to open)",
		    op == SIGNER_OP_SEAL ? "seal" : "unseal", aad,
		    (long)c->pid);
		return SIGNER_ST_REFUSED;
	}
	rc = op == SIGNER_OP_SEAL
	    ? signer_seal(local, aad, r.data, r.len, reply)
	    : signer_unseal(local, aad, r.data, r.len, reply);
	if (rc != 0) {
		log_warn("signer: %s '%s' for pid %ld failed",
		    op == SIGNER_OP_SEAL ? "seal" : "unseal", aad,
		    (long)c->pid);
		return SIGNER_ST_FAILED;
	}
	/* A device secret opens on every device request: not worth a line. */
	if (strncmp(aad, DEVICE_AAD, strlen(DEVICE_AAD)) == 0)
		log_debug("unsealed '%s' for pid %ld", aad, (long)c->pid);
	else
		log_info("%s '%s' for pid %ld",
		    op == SIGNER_OP_SEAL ? "sealed" : "unsealed", aad,
		    (long)c->pid);
	return SIGNER_ST_OK;
}

/*
 * A new root for a worker (signer_ca_create): the key is made and
 * sealed here, and only the certificate and the sealed key go back.
 * The AAD must be a CA's ("ca:<tenant>:<32 hex>"), the data
 * "<alg>\n<days>\n<cn>"; the worker then stores the row, so a key it
 * never saw becomes a CA the signer will sign as.
 */
static int
do_ca_create(const struct conn *c, struct buf *reply)
{
	struct signer_blob_req r;
	struct buf der = BUF_INIT, sealed = BUF_INIT;
	const char *why = NULL;
	char aad[SIGNER_AAD_MAX + 1], data[128], *alg, *days_s, *cn, *end;
	char public_id[33];
	long long tenant;
	long days;
	unsigned char len4[4];
	int n = 0;

	if (signer_blob_req_decode(c->buf + SIGNER_HDR_LEN, c->h.len, &r,
	        &why) != 0 ||
	    r.len >= sizeof(data)) {
		log_warn("signer: malformed root request from pid %ld: %s",
		    (long)c->pid, why != NULL ? why : "data too long");
		return SIGNER_ST_MALFORMED;
	}
	memcpy(aad, r.aad, r.aadlen);
	aad[r.aadlen] = '\0';
	memcpy(data, r.data, r.len);
	data[r.len] = '\0';
	if (sscanf(aad, "ca:%lld:%32[0-9a-f]%n", &tenant, public_id, &n) != 2 ||
	    (size_t)n != r.aadlen || strlen(public_id) != 32 || tenant <= 0 ||
	    (alg = data, days_s = strchr(data, '\n')) == NULL ||
	    (cn = strchr(days_s + 1, '\n')) == NULL) {
		log_warn("signer: refused a root for pid %ld: '%s' is not a "
		         "CA's AAD, or the request is malformed",
		    (long)c->pid, aad);
		return SIGNER_ST_REFUSED;
	}
	*days_s++ = '\0';
	*cn++ = '\0';
	days = strtol(days_s, &end, 10);
	if (*end != '\0' ||
	    signer_ca_create(local, tenant, public_id, alg, cn, (int)days, &der,
	        &sealed) != 0) {
		log_warn(
		    "signer: refused a root '%s' (%s, %s days) for pid %ld", cn,
		    alg, days_s, (long)c->pid);
		buf_free(&der);
		buf_free(&sealed);
		return SIGNER_ST_REFUSED;
	}
	len4[0] = (unsigned char)(der.len >> 24);
	len4[1] = (unsigned char)(der.len >> 16);
	len4[2] = (unsigned char)(der.len >> 8);
	len4[3] = (unsigned char)der.len;
	buf_append(reply, len4, sizeof(len4));
	buf_append(reply, der.data, der.len);
	buf_append(reply, sealed.data, sealed.len);
	log_info("made root '%s' (%s) for tenant %lld, pid %ld", cn, alg,
	    tenant, (long)c->pid);
	buf_free(&der);
	buf_free(&sealed);
	return SIGNER_ST_OK;
}

/* Write all of 'p' to a non-blocking socket, waiting a little. */
static int
send_all(int fd, const unsigned char *p, size_t len)
{
	struct pollfd pf = { fd, POLLOUT, 0 };
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    poll(&pf, 1, WRITE_WAIT_MS) > 0)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A whole request is at the start of c->buf: answer it.  -1 drops the
 * connection. */
static int
answer(struct conn *c)
{
	struct signer_hdr rh = { SIGNER_VERSION, 0, 0, 0, 0 };
	unsigned char hdr[SIGNER_HDR_LEN];
	struct buf reply = BUF_INIT, frame = BUF_INIT;
	int rc = 0;

	rh.op = c->h.op | SIGNER_OP_REPLY;
	rh.id = c->h.id;
	if (c->h.op == SIGNER_OP_SIGN)
		rh.status = (uint16_t)do_sign(c, &reply);
	else if (c->h.op == SIGNER_OP_CA_CREATE)
		rh.status = (uint16_t)do_ca_create(c, &reply);
	else
		rh.status = (uint16_t)do_blob(c, c->h.op, &reply);
	if (rh.status != SIGNER_ST_OK)
		buf_reset(&reply);
	rh.len = (uint32_t)reply.len;
	signer_hdr_encode(&rh, hdr);
	/* Header and body in one send. */
	buf_append(&frame, hdr, sizeof(hdr));
	buf_append(&frame, reply.data, reply.len);
	if (send_all(c->fd, frame.data, frame.len) != 0) {
		log_warn("signer: cannot answer pid %ld: %s", (long)c->pid,
		    strerror(errno));
		rc = -1;
	}
	buf_free_secret(&reply);
	buf_free_secret(&frame);
	return rc;
}

/* Read what is there; -1 drops the connection. */
static int
conn_read(struct conn *c)
{
	const char *why = NULL;
	size_t frame, rest;
	ssize_t n;

	/* One read per wake-up: poll() tells again when more is there. */
	if ((n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0)) <
	    0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
		    ? 0
		    : -1;
	if (n == 0) {
		if (c->have > 0)
			log_warn(
			    "signer: pid %ld closed mid-request (%zu bytes)",
			    (long)c->pid, c->have);
		return -1;
	}
	c->have += (size_t)n;
	/* Every whole frame in the buffer, in order. */
	while (c->have >= SIGNER_HDR_LEN) {
		if (signer_hdr_decode(c->buf, c->have, &c->h, &why) != 0 ||
		    (c->h.op & SIGNER_OP_REPLY) != 0 || c->h.status != 0) {
			log_warn("signer: refused a frame from pid %ld: %s",
			    (long)c->pid, why != NULL ? why : "not a request");
			return -1;
		}
		frame = SIGNER_HDR_LEN + c->h.len;
		if (c->have < frame)
			break;
		if (answer(c) != 0)
			return -1;
		rest = c->have - frame;
		memmove(c->buf, c->buf + frame, rest);
		OPENSSL_cleanse(c->buf + rest, frame); /* may be a key */
		c->have = rest;
	}
	return 0;
}

void
signer_serve(const struct config *cfg, int listen_fd)
{
	static struct conn *conns[MAX_CONNS];
	static struct pollfd pfd[MAX_CONNS + 1];
	struct conn *c;
	size_t nconns = 0, i, np;
	pid_t pid;
	int fd;

	proc_child_signals(on_stop);
	/* Told apart from the workers in ps, pgrep and the tests. */
	(void)prctl(PR_SET_NAME, SIGNER_COMM);
	local = signer_local_new(cfg->master_key);
	db = store_open(cfg->database_url, cfg->db_connect_timeout);
	log_info("signer ready");

	/* On SIGTERM: no new connections, finish with those we have. */
	while (!s_stop || nconns > 0) {
		if (s_stop && listen_fd >= 0) {
			close(listen_fd);
			listen_fd = -1;
		}
		np = 0;
		if (listen_fd >= 0) {
			pfd[np].fd = listen_fd;
			pfd[np].events = POLLIN;
			pfd[np++].revents = 0;
		}
		for (i = 0; i < nconns; i++) {
			pfd[np].fd = conns[i]->fd;
			pfd[np].events = POLLIN;
			pfd[np++].revents = 0;
		}
		if (poll(pfd, (nfds_t)np, 1000) < 0) {
			if (errno == EINTR)
				continue;
			fatal("signer poll: %s", strerror(errno));
		}
		/* Connections first: their indexes shift below. */
		for (i = nconns; i-- > 0;) {
			short re = pfd[i + (listen_fd >= 0 ? 1 : 0)].revents;

			/* A hang-up reads as end of file: dropped below. */
			if (re == 0 || conn_read(conns[i]) == 0)
				continue;
			close(conns[i]->fd);
			OPENSSL_cleanse(conns[i], sizeof(*conns[i]));
			free(conns[i]);
			conns[i] = conns[--nconns];
		}
		if (listen_fd < 0 || (pfd[0].revents & POLLIN) == 0)
			continue;
		if ((fd = accept4(listen_fd, NULL, NULL,
		         SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
			continue;
		if (nconns >= MAX_CONNS || !peer_allowed(fd, &pid)) {
			if (nconns >= MAX_CONNS)
				log_warn("signer: %d connections, refusing",
				    MAX_CONNS);
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->pid = pid;
		conns[nconns++] = c;
		log_debug("signer: pid %ld connected", (long)pid);
	}
	keys_flush();
	signer_free(local);
	store_close(db);
	log_info("signer stopped");
	exit(0);
}
