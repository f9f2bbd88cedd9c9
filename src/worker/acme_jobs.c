/*
 * acme_jobs: fleetpki-worker's ACME job kinds (worker.h; the order's
 * life is core/acme.c).  They run in a class of their own ("acme"), so
 * a slow or absent CA never holds up CRLs or webhooks.
 *
 *   acme.order   one order (key: its id), enqueued by fleetpkid or the
 *                renewal scan; parks itself (the job's run_at) when the
 *                CA asks to wait, so no child sleeps through a
 *                Retry-After
 *   acme.renew   every tick: the renewal scan across tenants, and the
 *                probe of every configured directory (GET /api/health)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleetpki/core.h"
#include "fleetpki/core_acme.h"
#include "fleetpki/log.h"
#include "fleetpki/proc.h"
#include "fleetpki/store.h"
#include "fleetpki/store_acme.h"
#include "fleetpki/util.h"
#include "fleetpki/worker.h"

/* The directories are probed at most this often (any worker). */
#define PROBE_EVERY_MS (60 * 1000)

int
worker_job_acme_order(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	struct acme_run run;
	long long id;
	int rc;

	if (job->key == NULL ||
	    util_parse_int(job->key, 1, INT64_MAX, &id) != 0 ||
	    job->tenant_id <= 0)
		return fp_fail(st, FP_E_BADREQ,
		    "acme.order needs an order id as key and a tenant");
	rc = core_acme_order_run(ctx, job->tenant_id, (int64_t)id,
	    job->attempts >= job->max_attempts, &run, st);
	if (rc != 0)
		return rc;
	if (run.park_s > 0) {
		if (store_job_park(ctx->db, job->id, job->locked_by, run.park_s,
		        run.why) != 0) {
			log_warn("acme order %lld: parking job %lld failed", id,
			    (long long)job->id);
			return fp_fail(st, FP_E_UNAVAILABLE, "%s", run.why);
		}
		log_debug("acme order %lld: parked %d s: %s", id, run.park_s,
		    run.why);
		return WORKER_JOB_HANDLED;
	}
	if (run.failed) {
		if (store_job_fail_final(ctx->db, job->id, job->locked_by,
		        run.why) == 0)
			return WORKER_JOB_HANDLED;
	}
	return 0;
}

int
worker_job_acme_renew(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	static int64_t last_probe = -PROBE_EVERY_MS;
	int64_t queued = 0;
	int rc;

	(void)job;
	rc = core_acme_renew_due(ctx, &queued, st);
	if (queued > 0)
		log_info("acme renew: queued %lld renewal%s", (long long)queued,
		    queued == 1 ? "" : "s");
	if (proc_now_ms() - last_probe >= PROBE_EVERY_MS) {
		(void)core_acme_probe(ctx);
		last_probe = proc_now_ms();
	}
	return rc;
}
