/*
 * fleetpki-worker: the background process.  It runs scheduled jobs on a
 * fixed tick; later it also delivers webhooks.  Jobs are idempotent and
 * safe to run from several hosts at once (the store orders concurrent
 * CRL issuers per CA), so scaling out needs no leader election.
 *
 * Jobs now: issue a CRL for every CA whose newest CRL is missing, stale
 * within crl_refresh_margin, or older than a revocation.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

static volatile sig_atomic_t stop, reload;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fleetpki-worker [--config FILE] [--pid-file FILE] "
	    "[--once]\n\n"
	    "Runs fleetpki's scheduled jobs (CRL refresh) every worker_interval\n"
	    "seconds.  --once runs them one time and exits (0 when all "
	    "succeeded).\n");
}

/* One pass over every job; 0 when all succeeded. */
static int
run_jobs(struct fp_ctx *ctx)
{
	int issued = 0, rc;

	rc = core_crl_refresh_due(ctx, &issued);
	if (issued > 0)
		log_info("crl refresh: issued %d CRL%s", issued,
		    issued == 1 ? "" : "s");
	if (rc != 0)
		log_warn("crl refresh: some CRLs failed (%s)",
		    fp_err_default(rc));
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_arg = NULL, *pid_path = NULL;
	struct fp_ctx ctx = { NULL, NULL };
	struct config cfg;
	struct sigaction sa;
	enum log_level lvl;
	char *err = NULL;
	int c, once = 0, rc = 0;

	while ((c = getopt_long(argc, argv, "c:p:oh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case 'p':
			pid_path = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("fleetpki-worker", LOG_LVL_INFO);
	if (config_load(config_path(config_arg), &cfg, &err) != 0) {
		fprintf(stderr, "fleetpki-worker: %s\n", err);
		return 1;
	}
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_init("fleetpki-worker", lvl);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pid_path != NULL) {
		FILE *f = fopen(pid_path, "w");

		if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
		    fclose(f) != 0) {
			fprintf(stderr, "fleetpki-worker: %s: %s\n", pid_path,
			    strerror(errno));
			return 1;
		}
	}
	ctx.cfg = &cfg;
	ctx.db = store_open(cfg.database_url, cfg.db_connect_timeout);

	if (once) {
		rc = run_jobs(&ctx) == 0 ? 0 : 1;
		goto out;
	}
	log_info("running jobs every %d s", cfg.worker_interval);
	while (!stop) {
		struct timespec ts;

		if (reload) {
			struct config fresh;

			reload = 0;
			if (config_load(cfg.path, &fresh, &err) != 0) {
				log_err("reload failed: %s", err);
				free(err);
				err = NULL;
				config_free(&fresh);
			} else {
				config_free(&cfg);
				cfg = fresh;
				store_close(ctx.db);
				ctx.db = store_open(cfg.database_url,
				    cfg.db_connect_timeout);
				core_cache_flush();
				log_info("configuration reloaded");
			}
		}
		(void)run_jobs(&ctx);
		/* Sleep in one piece; a signal cuts it short (EINTR). */
		ts.tv_sec = cfg.worker_interval;
		ts.tv_nsec = 0;
		(void)nanosleep(&ts, NULL);
	}
	log_info("stopped");
out:
	store_close(ctx.db);
	core_cache_flush();
	if (pid_path != NULL && !once)
		(void)unlink(pid_path);
	config_free(&cfg);
	return rc;
}
