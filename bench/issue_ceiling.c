/*
 * issue_ceiling: the in-process ceiling for issuance, against which
 * bench/run measures the server.  Each of '--procs' forked processes
 * loops for '--seconds' doing exactly the PKI work of one issuance
 * request (parse, verify and police the CSR, sign, encode, fingerprint)
 * with no HTTP, JSON or database around it.
 *
 *	bench/issue_ceiling --csr FILE.pem --seconds S [--procs N]
 *
 * prints "issued N in S.SSS s: R certs/s", totalled over all processes.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "fleetpki/buf.h"
#include "fleetpki/error.h"
#include "fleetpki/log.h"
#include "fleetpki/pki.h"
#include "fleetpki/util.h"

#define PROCS_MAX 1024

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: issue_ceiling --csr FILE.pem --seconds S "
	    "[--procs N]\n");
	exit(2);
}

static void
read_file(const char *path, struct buf *out)
{
	char chunk[4096];
	FILE *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	if (ferror(f))
		fatal("%s: read error", path);
	fclose(f);
}

/* One request's worth of PKI work, as the issuance handler does it. */
static int
issue_one(const struct pki_ca *ca, const char *pem, size_t len)
{
	struct fp_status st = { 0 };
	struct pki_profile prof;
	struct buf der = BUF_INIT, out = BUF_INIT;
	struct pki_csr *req = NULL;
	X509 *x = NULL;
	char *cn = NULL, *subject_cn = NULL, fpr[PKI_FPR_LEN];
	int r;

	if ((r = pki_csr_parse_pem(pem, len, &req, &st)) != 0 ||
	    (r = pki_csr_subject_cn_only(req, &cn, &st)) != 0)
		goto out;
	subject_cn = xasprintf("tenant:%s", cn);
	memset(&prof, 0, sizeof(prof));
	prof.subject.o = "fleetpki";
	prof.subject.cn = subject_cn;
	prof.eku = PKI_EKU_CLIENT;
	prof.days = 365;
	prof.crl_url = "http://127.0.0.1/crl/bench.crl";
	if ((r = pki_issue(ca, pki_csr_pubkey(req), &prof, &x, &st)) !=
	        0 ||
	    (r = pki_cert_to_der(x, &der)) != 0)
		goto out;
	pki_fingerprint(der.data, der.len, fpr);
	r = pki_cert_to_pem(x, &out);
out:
	if (r != 0)
		fprintf(
		    stderr, "issue_ceiling: %s\n", fp_status_message(&st, r));
	buf_free(&out);
	buf_free(&der);
	X509_free(x);
	pki_csr_free(req);
	free(subject_cn);
	free(cn);
	return r;
}

/* A child: issue until the deadline, then report the count. */
static void __attribute__((noreturn))
child(int fd, const struct pki_ca *ca, const struct buf *pem, double seconds)
{
	uint64_t n = 0;
	double deadline = now_mono() + seconds;

	while (now_mono() < deadline) {
		if (issue_one(ca, (const char *)pem->data, pem->len) != 0)
			_exit(1);
		n++;
	}
	if (write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		_exit(1);
	_exit(0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "csr", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct fp_status st = { 0 };
	struct buf pem = BUF_INIT;
	struct pki_ca ca = { NULL, NULL };
	const char *csr = NULL;
	long long procs = 1;
	double seconds = 0, t0, elapsed;
	uint64_t n, total = 0;
	char *end;
	pid_t pid;
	int ch, fds[2], status, failed = 0, r = 1;
	long long i;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			csr = optarg;
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end != '\0' || !(seconds > 0))
				usage();
			break;
		case 'p':
			if (util_parse_int(optarg, 1, PROCS_MAX, &procs) != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (csr == NULL || seconds <= 0 || optind != argc)
		usage();
	log_init("issue_ceiling", LOG_LVL_WARN);
	read_file(csr, &pem);

	/* Fail here, once and legibly, rather than in every child. */
	if (pki_ca_create("ec-p256", "fleetpki bench CA", "fleetpki", 3650,
	        &ca.key, &ca.cert, &st) != 0)
		fatal("pki_ca_create: %s", st.msg);
	if (issue_one(&ca, (const char *)pem.data, pem.len) != 0)
		goto out;

	if (pipe(fds) == -1)
		fatal("pipe: %s", strerror(errno));
	t0 = now_mono();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) == -1)
			fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			child(fds[1], &ca, &pem, seconds);
		}
	}
	close(fds[1]);

	/* Each child writes 8 bytes once: far below PIPE_BUF, so atomic. */
	while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
		total += n;
	close(fds[0]);
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	elapsed = now_mono() - t0;
	if (failed > 0) {
		fprintf(stderr, "issue_ceiling: %d of %lld processes failed\n",
		    failed, procs);
		goto out;
	}
	printf("issued %llu in %.3f s: %.1f certs/s\n",
	    (unsigned long long)total, elapsed, (double)total / elapsed);
	r = 0;
out:
	X509_free(ca.cert);
	EVP_PKEY_free(ca.key);
	buf_free(&pem);
	return r;
}
