/*
 * fleetpki-worker: the background process.  It supervises one child per
 * job class (worker.h: "pki" runs the CRL refresh; network work gets a
 * class of its own, so a slow peer never delays a CRL) the way
 * fleetpkid's master supervises its FastCGI workers, with the same code
 * (proc.h): a child that dies is respawned, with a back-off when it
 * keeps dying young.  The children share the job queue in PostgreSQL
 * with every other worker on every host; there is no leader.
 *
 * Signals, taken synchronously: TERM drains (children finish the job in
 * hand), HUP reloads the configuration (log level included) and
 * replaces the children.  --once runs the scheduled jobs one time in
 * this process, outside the queue, and exits (0 when all succeeded).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/proc.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/util.h"
#include "fleetpki/worker.h"

#define MAX_CLASSES 8
#define DRAIN_GRACE_MS 10000

static struct config cfg;
static const char *classes[MAX_CLASSES];
static size_t nclasses;
/* The metrics listener (worker_metrics_listen), or -1: none. */
static int metrics_fd = -1;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fleetpki-worker [--config FILE] [--pid-file FILE] "
	    "[--once]\n\n"
	    "Runs fleetpki's jobs (CRL refresh every worker_interval seconds)\n"
	    "from the job queue in PostgreSQL, one child process per job "
	    "class.\n"
	    "--once runs the scheduled jobs one time here and exits (0 when "
	    "all\nsucceeded).  Signals: TERM drains and exits, HUP reloads.\n");
}

/* A child: the class of its slot, with the configuration as it is now. */
static void
class_child(int slot, void *arg)
{
	(void)arg;
	/* The last slot, when there is a listener, serves the metrics. */
	if (metrics_fd >= 0 && (size_t)slot == nclasses + WEBHOOK_CHILDREN)
		worker_metrics_run(&cfg, metrics_fd);
	if (metrics_fd >= 0)
		close(metrics_fd);
	/* The slots after the classes deliver webhooks (webhook.c). */
	if ((size_t)slot >= nclasses)
		worker_webhook_run(&cfg, slot - (int)nclasses);
	worker_class_run(&cfg, classes[slot]);
}

int
main(int argc, char **argv)
{
	struct proc_args args;
	struct proc_set kids;
	sigset_t set;
	int code;

	if (proc_parse_args(argc, argv, "fleetpki-worker", 1, usage, &args,
	        &code) != 0)
		return code;
	if (proc_config_load("fleetpki-worker", "fleetpki-worker", args.config,
	        &cfg) != 0)
		return 1;

	if (args.once) {
		struct fp_ctx ctx = { &cfg, NULL, NULL };
		int rc;

		ctx.db = store_open(cfg.database_url, cfg.db_connect_timeout);
		ctx.signer = signer_local_new(cfg.master_key);
		rc = worker_run_once(&ctx) == 0 ? 0 : 1;
		store_close(ctx.db);
		core_cache_flush();
		signer_free(ctx.signer);
		config_free(&cfg);
		return rc;
	}

	/* Signals are taken synchronously below; block them before forking. */
	proc_signals_block(&set);
	if (args.pid_file != NULL &&
	    proc_pid_write("fleetpki-worker", args.pid_file) != 0)
		return 1;
	nclasses = worker_classes(classes, MAX_CLASSES);
	/* Before any fork: every child (and respawn) counts into it. */
	if (metrics_init() != 0)
		log_warn("metrics: no shared region; they show zeros");
	/* Bound once, like fleetpkid's socket: a new value needs a restart. */
	if (cfg.worker_metrics_listen[0] != '\0' &&
	    (metrics_fd = worker_metrics_listen(cfg.worker_metrics_listen)) < 0)
		return 1;
	proc_init(&kids, "job runner", MAX_CLASSES + WEBHOOK_CHILDREN + 1,
	    (int)nclasses + WEBHOOK_CHILDREN + (metrics_fd >= 0), class_child,
	    NULL);
	if (metrics_fd >= 0)
		log_info("metrics on http://%s/metrics",
		    cfg.worker_metrics_listen);
	log_info("running jobs: %zu class%s, scheduled every %d s", nclasses,
	    nclasses == 1 ? "" : "es", cfg.worker_interval);

	while (proc_next_signal(&kids, &set) == SIGHUP) {
		if (proc_config_reload(&cfg, "fleetpki-worker") == 0) {
			/* Fresh children read the new configuration. */
			proc_replace_all(&kids);
			log_info("configuration reloaded");
		}
	}
	proc_drain(&kids, &set, DRAIN_GRACE_MS);
	proc_free(&kids);
	if (metrics_fd >= 0)
		close(metrics_fd);
	proc_pid_remove(args.pid_file);
	log_info("stopped");
	config_free(&cfg);
	return 0;
}
