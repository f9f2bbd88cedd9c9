/*
 * device-example: the smallest useful device over libfleetpki-device.
 *
 *   device-example URL CAFILE ROT SECRET_HEX COUNTER_FILE
 *
 * Bootstraps when COUNTER_FILE does not exist yet, then sends one
 * heartbeat, applying property commands and acknowledging every
 * command (others as unsupported), and one more heartbeat to deliver
 * those acknowledgements.  The counter is written to COUNTER_FILE
 * before each request: that is the caller's one duty the library
 * cannot do for it.  Build: cc device-example.c -lfleetpki-device
 * $(pkg-config --libs libcrypto libcurl json-c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fleetpki-device.h"

/* Persist 'counter' before it is used: write, flush, sync, rename. */
static int
save_counter(void *arg, uint64_t counter)
{
	const char *path = arg;
	char tmp[4096];
	FILE *f;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (f = fopen(tmp, "w")) == NULL)
		return -1;
	ok = fprintf(f, "%" PRIu64 "\n", counter) > 0 && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static int
handle(struct fpd_device *dev, const struct fpd_answer *ans)
{
	size_t i, j;
	int rc = FPD_OK;

	for (i = 0; i < ans->ncommands && rc == FPD_OK; i++) {
		const struct fpd_command *c = &ans->commands[i];

		if (c->invalid != NULL) {
			rc = fpd_ack_failure(dev, c->id, c->invalid);
		} else if (c->type == FPD_CMD_SET_PROPERTIES) {
			for (j = 0; j < c->nprops; j++)
				printf("set %s = %" PRId64 "\n",
				    c->props[j].name, c->props[j].value);
			rc = fpd_ack_success(dev, c->id, NULL);
		} else {
			rc = fpd_ack_failure(dev, c->id,
			    "not supported by this device");
		}
	}
	return rc;
}

int
main(int argc, char **argv)
{
	struct fpd_client *cl = NULL;
	struct fpd_device *dev = NULL;
	struct fpd_answer *ans = NULL;
	struct fpd_bootstrap_info info = { NULL, NULL, NULL, "example-1.0" };
	unsigned char secret[FPD_SECRET_LEN];
	uint64_t last = 0;
	FILE *f;
	size_t i;
	int hi, lo, rc = FPD_EINVAL, fresh, round;

	if (argc != 6 || strlen(argv[4]) != 2 * FPD_SECRET_LEN) {
		fprintf(stderr,
		    "usage: device-example URL CAFILE ROT SECRET_HEX "
		    "COUNTER_FILE\n");
		return 2;
	}
	for (i = 0; i < FPD_SECRET_LEN; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)argv[4][2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)argv[4][2 * i + 1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "device-example: bad secret\n");
			return 2;
		}
		secret[i] = (unsigned char)(hi << 4 | lo);
	}
	/* The last counter used survives in the counter file. */
	fresh = (f = fopen(argv[5], "r")) == NULL;
	if (!fresh) {
		if (fscanf(f, "%" SCNu64, &last) != 1) {
			fprintf(stderr, "device-example: bad counter file\n");
			fclose(f);
			return 1;
		}
		fclose(f);
	} else if (errno != ENOENT) {
		perror(argv[5]);
		return 1;
	}
	info.serial = argv[3];
	if (fpd_global_init() != FPD_OK ||
	    (rc = fpd_device_new(argv[3], secret, last, save_counter, argv[5],
	         &dev)) != FPD_OK ||
	    (rc = fpd_client_new(argv[1], argv[2], 30, &cl)) != FPD_OK)
		goto out;
	OPENSSL_cleanse(secret, sizeof(secret));
	if (fresh) {
		if ((rc = fpd_bootstrap(cl, dev, &info, &ans)) != FPD_OK)
			goto out;
		printf("bootstrapped: %s\n", ans->state);
		rc = handle(dev, ans);
		fpd_answer_free(ans);
		ans = NULL;
		if (rc != FPD_OK)
			goto out;
	}
	for (round = 0; round < 2; round++) {
		if ((rc = fpd_heartbeat(cl, dev, &ans)) != FPD_OK)
			goto out;
		printf("heartbeat: %zu commands, next in %" PRId64 " s\n",
		    ans->ncommands, ans->heartbeat_in_sec);
		rc = handle(dev, ans);
		fpd_answer_free(ans);
		ans = NULL;
		if (rc != FPD_OK)
			goto out;
	}
out:
	if (rc != FPD_OK)
		fprintf(stderr, "device-example: %s%s%s\n", fpd_strerror(rc),
		    ans != NULL && ans->error != NULL ? ": " : "",
		    ans != NULL && ans->error != NULL ? ans->error : "");
	OPENSSL_cleanse(secret, sizeof(secret));
	fpd_answer_free(ans);
	fpd_client_free(cl);
	fpd_device_free(dev);
	fpd_global_cleanup();
	return rc == FPD_OK ? 0 : 1;
}
