/*
 * worker: fleetpki-worker's job runner.
 *
 * What the worker can do is one table of job kinds (jobs.c): a name, the
 * class of child process that runs it, a schedule or none (then it runs
 * when something enqueues it, store_job_enqueue), a time budget and its
 * function.  Jobs live in PostgreSQL (store.h, "job queue"): any number
 * of workers on any number of hosts share them without a leader.
 *
 * Each class ("pki": CRLs; "net": work that waits on other hosts, such
 * as ACME and webhooks) runs in its own supervised child and claims only
 * its own kinds, so a slow network peer can never hold up a CRL.
 */
#ifndef FLEETPKI_WORKER_H
#define FLEETPKI_WORKER_H

#include <stddef.h>

#include "fleetpki/error.h"

struct config;
struct fp_ctx;
struct job_rec;

/* every_s: run on the worker_interval of the configuration. */
#define JOB_EVERY_TICK (-1)

struct job_kind {
	const char	*name;		/* as in the jobs table: [a-z0-9_.] */
	const char	*class;		/* the child that runs it */
	/*
	 * > 0: scheduled every this many seconds (from the end of the last
	 * run); JOB_EVERY_TICK: every worker_interval; 0: only when
	 * enqueued.
	 */
	int		 every_s;
	/*
	 * Longest one run may take, seconds.  The child is killed past it
	 * (SIGALRM) and respawned; the job's lease runs out and it is tried
	 * again, with the other attempts.
	 */
	int		 budget_s;
	int		 max_attempts;
	/* 0, or a negative code with the reason in 'st' (for last_error). */
	int		(*run)(struct fp_ctx *, const struct job_rec *,
			    struct fp_status *st);
};

/*
 * What a job's function returns when it has itself recorded how the job
 * ended (parked for later, or failed for good): the runner leaves the
 * row alone.
 */
#define WORKER_JOB_HANDLED 1

/* The ACME client's kinds (acme_jobs.c; core_acme.h). */
int	worker_job_acme_order(struct fp_ctx *, const struct job_rec *,
	    struct fp_status *st);
int	worker_job_acme_renew(struct fp_ctx *, const struct job_rec *,
	    struct fp_status *st);

/* The kinds, and how many. */
extern const struct job_kind worker_job_kinds[];
extern const size_t worker_njob_kinds;

/*
 * Seconds before attempt 'attempts' + 1 after attempt 'attempts' failed:
 * 10 s doubling per attempt, at most an hour.
 */
int	worker_job_backoff_s(int attempts);

/*
 * The distinct classes of the table, in table order, into 'out' (at
 * most 'max'); how many.
 */
size_t	worker_classes(const char **out, size_t max);

/*
 * Run the jobs of 'class' until SIGTERM (finishing the job in hand): in
 * a child of fleetpki-worker's supervisor.  Never returns.
 */
void	worker_class_run(const struct config *cfg, const char *class)
	    __attribute__((noreturn));

/*
 * fleetpki-worker --once: run every scheduled kind once, here and now,
 * outside the queue (for cron and tests).  0 when all succeeded.
 */
int	worker_run_once(struct fp_ctx *ctx);

/* ---- webhooks (webhook.c) ----------------------------------------- */

/* Webhook delivery children per fleetpki-worker, besides the classes. */
#define WEBHOOK_CHILDREN 4
/* Attempts of a delivery, unless the tenant's webhook.max_attempts. */
#define WEBHOOK_MAX_ATTEMPTS_DEFAULT 18
/*
 * The pause after attempt 'attempts' failed: 5 s doubling, at most 4 h,
 * with 80-120% jitter from 'rnd'; 18 attempts span about a day.
 */
#define WEBHOOK_BACKOFF_BASE_S 5
#define WEBHOOK_BACKOFF_MAX_S (4 * 3600)
int	worker_webhook_backoff_s(int attempts, unsigned rnd);
/*
 * Seconds a Retry-After header among the response header lines 'head'
 * asks for (delta-seconds or an HTTP-date, at most a day); 0 if none.
 */
int	worker_webhook_retry_after(const char *head, size_t len,
	    long long now);
/* Deliver webhooks until SIGTERM, in a child of the supervisor. */
void	worker_webhook_run(const struct config *cfg, int index)
	    __attribute__((noreturn));

/* ---- the metrics listener (metrics.c) ----------------------------- */

struct buf;

/*
 * Bind worker_metrics_listen's "host:port" (a loopback address only),
 * in the supervisor before it forks: the fd, or -1 (logged).
 */
int	worker_metrics_listen(const char *where);
/* The worker's counters (metrics.h) as Prometheus text into 'b'. */
void	worker_metrics_write(struct buf *b);
/* Answer GET /metrics on 'listen_fd' until SIGTERM, in a child. */
void	worker_metrics_run(const struct config *cfg, int listen_fd)
	    __attribute__((noreturn));

#endif
