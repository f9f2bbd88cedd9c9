/*
 * jobs: the table of job kinds and the loop that runs one class of them
 * (worker.h).  One pass of the loop:
 *
 *   1. fail for good the jobs whose lease ran out on their last attempt;
 *   2. queue the next run of each scheduled kind (idempotent: every
 *      worker on every host does this, the unique index keeps one);
 *   3. claim and run due jobs until none is left;
 *   4. wait for a NOTIFY (something was enqueued), the next due time,
 *      or worker_interval, whichever comes first.
 *
 * Everything that must hold across hosts is in the statements (claim
 * with SKIP LOCKED, leases, one queued row per kind and key); this loop
 * may die anywhere and another picks up its work when its lease runs
 * out.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleetpki/config.h"
#include "fleetpki/core.h"
#include "fleetpki/core_acme.h"
#include "fleetpki/core_ztp.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/proc.h"
#include "fleetpki/signer.h"
#include "fleetpki/store.h"
#include "fleetpki/store_acme.h"
#include "fleetpki/util.h"
#include "fleetpki/worker.h"

/* The lease outlasts the budget a little: the kill lands first. */
#define LEASE_MARGIN_S 30
#define BACKOFF_BASE_S 10
#define BACKOFF_MAX_S 3600
#define MAX_KINDS_PER_CLASS 32
/* Done jobs are pruned this often (by any worker; it is idempotent). */
#define PRUNE_EVERY_MS (3600 * 1000)

/* ---- the jobs ------------------------------------------------------ */

/*
 * Issue a CRL for every CA whose newest CRL is missing, stale within
 * crl_refresh_margin, or older than a revocation.  One job for all
 * tenants: the store orders concurrent CRL issuers per CA, so a second
 * host running it at the same moment issues nothing twice.
 */
static int
job_crl_refresh(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int issued = 0, rc;

	(void)job;
	rc = core_crl_refresh_due(ctx, &issued);
	if (issued > 0)
		log_info("crl refresh: issued %d CRL%s", issued,
		    issued == 1 ? "" : "s");
	if (rc != 0)
		return fp_fail(st, rc < 0 ? (enum fp_err) - rc : FP_E_INTERNAL,
		    "some CRLs failed (%s)", fp_err_default(rc));
	return 0;
}

/*
 * Queued by every revocation (core_crl_soon): issue the CRLs that lack a
 * revocation, again until none does, so that revocations committed
 * while a pass was signing are in the next pass of the same job — one
 * job coalesces a burst of revocations into a CRL or two per CA.  The
 * job is queued CORE_CRL_GATHER_MS after the first revocation
 * (core_crl_soon), so that the ones right after it share its CRL.
 */
#define CRL_REVOKED_PASSES 8
static int
job_crl_revoked(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int issued, total = 0, pass, rc = 0;

	for (pass = 0; pass < CRL_REVOKED_PASSES; pass++) {
		/*
		 * Revocations still arriving: a pause between passes lets
		 * them gather, so a storm costs a CRL a second per CA, not a
		 * CRL per revocation, however large the CRL.
		 */
		if (pass > 0)
			usleep(CORE_CRL_GATHER_MS * 1000);
		issued = 0;
		if ((rc = core_crl_refresh_due(ctx, &issued)) != 0 ||
		    issued == 0)
			break;
		total += issued;
	}
	if (total > 0)
		log_info("crl after revocations (job %lld): issued %d CRL%s",
		    (long long)job->id, total, total == 1 ? "" : "s");
	if (rc != 0)
		return fp_fail(st, rc < 0 ? (enum fp_err) - rc : FP_E_INTERNAL,
		    "some CRLs failed (%s)", fp_err_default(rc));
	return 0;
}

/*
 * Empty this host's OCSP caches (nginx's ocsp_cache_dir, our answers).
 * The revinfo class child does it whenever a revocation commits on any
 * host (the loop below); as a job (`fleetpki job` can queue one) it runs
 * on whichever host claims it.
 */
static int
job_ocsp_purge(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	(void)job;
	(void)st;
	core_ocsp_invalidate(ctx);
	return 0;
}

/* Keep the newest crl_history CRLs of each CA (sql/015). */
static int
job_crl_prune(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int64_t deleted = 0;
	int rc;

	(void)job;
	if ((rc = core_crl_prune(ctx, &deleted)) != 0)
		return fp_fail(st, (enum fp_err) - rc,
		    "pruning CRLs failed (%s)", fp_err_default(rc));
	if (deleted > 0)
		log_info("crl prune: deleted %lld old CRL%s",
		    (long long)deleted, deleted == 1 ? "" : "s");
	return 0;
}

/*
 * The next delegated OCSP responder of every CA whose newest has less
 * than half its life left (sql/025); expired ones are deleted with it.
 */
static int
job_ocsp_responders(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int issued = 0, rc;

	(void)job;
	rc = core_ocsp_responders_renew(ctx, &issued);
	if (issued > 0)
		log_info("ocsp responders: issued %d", issued);
	if (rc != 0)
		return fp_fail(st, rc < 0 ? (enum fp_err) - rc : FP_E_INTERNAL,
		    "some OCSP responders failed (%s)", fp_err_default(rc));
	return 0;
}

/*
 * Forget Idempotency-Keys older than they are honoured (a day): the
 * table stays the size of a day's keyed issuances.
 */
static int
job_idempotency_prune(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int rc;

	(void)job;
	if ((rc = core_idem_prune(ctx)) != 0)
		return fp_fail(st, (enum fp_err) - rc, "pruning failed (%s)",
		    fp_err_default(rc));
	return 0;
}

/*
 * ZTP (sql/026), every tick: mark the device certificates due for
 * automatic renewal (RenewBeforeExpiration; once per certificate, however
 * many workers), which the devices' next heartbeats then carry out; and
 * write the expiration events (each exactly once).
 */
static int
job_ztp_renew(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int64_t marked = 0;
	int rc;

	(void)job;
	if ((rc = core_ztp_auto_renew(ctx, &marked)) != 0)
		return fp_fail(st, (enum fp_err) - rc,
		    "ZTP renewal scan failed (%s)", fp_err_default(rc));
	if (marked > 0)
		log_info("ztp renew: %lld device certificate%s due",
		    (long long)marked, marked == 1 ? "" : "s");
	return 0;
}

static int
job_ztp_notices(struct fp_ctx *ctx, const struct job_rec *job,
    struct fp_status *st)
{
	int64_t written = 0;
	int rc;

	(void)job;
	if ((rc = core_ztp_notices(ctx, &written)) != 0)
		return fp_fail(st, (enum fp_err) - rc,
		    "ZTP expiration events failed (%s)", fp_err_default(rc));
	if (written > 0)
		log_info("ztp notices: %lld expiration event%s",
		    (long long)written, written == 1 ? "" : "s");
	return 0;
}

const struct job_kind worker_job_kinds[] = {
	{ "crl.refresh", "pki", JOB_EVERY_TICK, 300, 3, job_crl_refresh },
	{ CORE_CRL_REVOKED_JOB, "pki", 0, 300, 5, job_crl_revoked },
	{ "idempotency.prune", "pki", 3600, 120, 3, job_idempotency_prune },
	{ "crl.prune", "pki", 3600, 300, 3, job_crl_prune },
	{ "ocsp.purge", "revinfo", 0, 30, 1, job_ocsp_purge },
	{ "ocsp.responders", "pki", JOB_EVERY_TICK, 120, 3,
	    job_ocsp_responders },
	{ "ztp.renew", "pki", JOB_EVERY_TICK, 120, 3, job_ztp_renew },
	{ "ztp.notices", "pki", JOB_EVERY_TICK, 120, 3, job_ztp_notices },
	/* ACME (core_acme.h): a class of its own, a slow CA stalls nothing */
	{ CORE_ACME_ORDER_JOB, "acme", 0, 300, CORE_ACME_ORDER_ATTEMPTS,
	    worker_job_acme_order },
	{ CORE_ACME_RENEW_JOB, "acme", JOB_EVERY_TICK, 120, 3,
	    worker_job_acme_renew },
};
const size_t worker_njob_kinds = FP_ARRAY_LEN(worker_job_kinds);

int
worker_job_backoff_s(int attempts)
{
	int s = BACKOFF_BASE_S, i;

	for (i = 1; i < attempts && s < BACKOFF_MAX_S; i++)
		s *= 2;
	return s < BACKOFF_MAX_S ? s : BACKOFF_MAX_S;
}

size_t
worker_classes(const char **out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < worker_njob_kinds; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(out[j], worker_job_kinds[i].class) == 0)
				break;
		if (j == n && n < max)
			out[n++] = worker_job_kinds[i].class;
	}
	return n;
}

static int
every_s(const struct job_kind *k, const struct config *cfg)
{
	return k->every_s == JOB_EVERY_TICK ? cfg->worker_interval : k->every_s;
}

static const struct job_kind *
kind_named(const char *name)
{
	size_t i;

	for (i = 0; i < worker_njob_kinds; i++)
		if (strcmp(worker_job_kinds[i].name, name) == 0)
			return &worker_job_kinds[i];
	return NULL;
}

/* ---- running one class ------------------------------------------- */

static volatile sig_atomic_t w_stop;

static void
on_stop(int sig)
{
	(void)sig;
	w_stop = 1;
}

/* Run one claimed job and record how it ended. */
static void
run_claimed(struct fp_ctx *ctx, const struct job_kind *k,
    const struct job_rec *job, const char *owner)
{
	struct fp_status st = { FP_E_OK, "" };
	bool final = false;
	int rc;

	log_debug("job %lld %s: attempt %d of %d", (long long)job->id,
	    job->kind, job->attempts, job->max_attempts);
	/*
	 * The budget: past it SIGALRM's default action ends this child.
	 * A hung job must not hold its class forever; the supervisor
	 * respawns the child and the lease hands the job to a later try.
	 */
	alarm((unsigned)k->budget_s);
	/* A tenant's job runs under its tenant (row-level security). */
	store_set_tenant(ctx->db, job->tenant_id);
	rc = k->run(ctx, job, &st);
	store_set_tenant(ctx->db, 0);
	alarm(0);
	metrics_job((size_t)(k - worker_job_kinds),
	    rc == 0 || rc == WORKER_JOB_HANDLED);
	/* The job recorded its end itself (parked, or failed for good). */
	if (rc == WORKER_JOB_HANDLED)
		return;
	if (rc == 0) {
		if (store_job_done(ctx->db, job->id, owner) != 0)
			log_warn("job %lld %s: done, but its lease was lost",
			    (long long)job->id, job->kind);
		return;
	}
	if (store_job_fail(ctx->db, job->id, owner, fp_status_message(&st, rc),
	        worker_job_backoff_s(job->attempts), &final) != 0) {
		log_warn("job %lld %s failed (%s); recording it failed too",
		    (long long)job->id, job->kind, fp_status_message(&st, rc));
		return;
	}
	if (final)
		log_err("job %lld %s failed for good after %d attempts: %s",
		    (long long)job->id, job->kind, job->attempts,
		    fp_status_message(&st, rc));
	else
		log_warn(
		    "job %lld %s failed (attempt %d of %d, again in %d s): "
		    "%s",
		    (long long)job->id, job->kind, job->attempts,
		    job->max_attempts, worker_job_backoff_s(job->attempts),
		    fp_status_message(&st, rc));
}

void
worker_class_run(const struct config *cfg, const char *class)
{
	const struct job_kind *mine[MAX_KINDS_PER_CLASS];
	const char *names[MAX_KINDS_PER_CLASS];
	struct fp_ctx ctx = { cfg, NULL, NULL };
	int64_t last_prune = 0;
	char host[128], owner[256];
	size_t i, n = 0;
	int lease_s = 0;

	proc_child_signals(on_stop);
	for (i = 0; i < worker_njob_kinds && n < MAX_KINDS_PER_CLASS; i++) {
		if (strcmp(worker_job_kinds[i].class, class) != 0)
			continue;
		mine[n] = &worker_job_kinds[i];
		names[n] = worker_job_kinds[i].name;
		/* One lease for the class: long enough for its slowest. */
		if (worker_job_kinds[i].budget_s + LEASE_MARGIN_S > lease_s)
			lease_s = worker_job_kinds[i].budget_s + LEASE_MARGIN_S;
		n++;
	}
	/* Who holds a claim, for `fleetpki job show` and lease checks. */
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(owner, sizeof(owner), "%s:%ld:%s", host, (long)getpid(),
	    class);
	ctx.db = store_open(cfg->database_url, cfg->db_connect_timeout);
	/* Jobs parse no client input: CRLs are signed in-process. */
	ctx.signer = signer_local_new(cfg->master_key);
	log_info("running %s jobs (%zu kind%s)", class, n, n == 1 ? "" : "s");

	while (!w_stop) {
		struct job_rec job;
		int64_t next_ms = -1, wait_ms, id;

		(void)store_job_reap(ctx.db);
		/* Seen alive (GET /api/health's "worker"). */
		(void)store_worker_seen(ctx.db, host, class, (int)getpid());
		for (i = 0; i < n; i++)
			if (every_s(mine[i], cfg) > 0)
				(void)store_job_schedule(ctx.db, mine[i]->name,
				    every_s(mine[i], cfg),
				    mine[i]->max_attempts, &id);
		while (!w_stop &&
		    store_job_claim(ctx.db, names, n, lease_s, owner, &job) ==
		        0) {
			const struct job_kind *k = kind_named(job.kind);

			/* Claimed by name from our own list: always found. */
			if (k != NULL)
				run_claimed(&ctx, k, &job, owner);
			job_rec_clear(&job);
		}
		if (proc_now_ms() - last_prune > PRUNE_EVERY_MS &&
		    store_job_prune(ctx.db) == 0)
			last_prune = proc_now_ms();
		/*
		 * Sleep until the next due job, a NOTIFY, or the tick (which
		 * also bounds an outage: the next pass reconnects).
		 */
		wait_ms = (int64_t)cfg->worker_interval * 1000;
		if (store_job_next_due_ms(ctx.db, names, n, &next_ms) == 0 &&
		    next_ms >= 0 && next_ms < wait_ms)
			wait_ms = next_ms;
		if (!w_stop && wait_ms > 0)
			(void)store_job_wait(ctx.db, (int)wait_ms);
		/*
		 * A revocation committed somewhere: this host's nginx must
		 * not answer OCSP from its copy (sql/016).  The revinfo class
		 * has no work but this, so it is never busy when one comes.
		 */
		if (store_revoked_heard())
			core_ocsp_invalidate(&ctx);
	}
	store_close(ctx.db);
	core_cache_flush();
	signer_free(ctx.signer);
	log_debug("%s jobs stopped", class);
	exit(0);
}

int
worker_run_once(struct fp_ctx *ctx)
{
	struct job_rec none;
	size_t i;
	int rc = 0, r;

	/* The functions see a job record; outside the queue it is empty. */
	memset(&none, 0, sizeof(none));
	for (i = 0; i < worker_njob_kinds; i++) {
		struct fp_status st = { FP_E_OK, "" };
		const struct job_kind *k = &worker_job_kinds[i];

		if (k->every_s == 0)
			continue;
		snprintf(none.kind, sizeof(none.kind), "%s", k->name);
		if ((r = k->run(ctx, &none, &st)) != 0) {
			log_warn("%s: %s", k->name, fp_status_message(&st, r));
			rc = r;
		}
	}
	return rc;
}
