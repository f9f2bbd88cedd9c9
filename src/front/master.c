/*
 * fleetpkid: the master process.
 *
 * It binds the FastCGI socket, pre-forks the workers and then only
 * handles signals, synchronously (sigtimedwait), so no state is touched
 * from a signal handler:
 *   SIGCHLD  reap; respawn the worker, after a back-off when workers keep
 *            dying young (a crash loop must not spin the CPU);
 *   SIGTERM  drain: workers finish the request in hand and exit; after
 *            a grace period the stragglers are killed;
 *   SIGHUP   re-read the configuration and replace every worker.
 *
 * With `signer = on` (the default) slot 0 of the supervised set is the
 * signer (signer.h): the only child that keeps the master key and opens
 * CA keys.  Its socket is bound here, before any fork, and stays open in
 * the master, so a respawned signer serves the same name and a worker's
 * connect waits for it (within its deadline) rather than failing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <openssl/crypto.h>

#include "fleetpki/config.h"
#include "fleetpki/front.h"
#include "fleetpki/log.h"
#include "fleetpki/metrics.h"
#include "fleetpki/proc.h"
#include "fleetpki/router.h"
#include "fleetpki/signer.h"
#include "fleetpki/util.h"

#define MAX_WORKERS 256
#define LISTEN_BACKLOG 1024
#define DRAIN_GRACE_MS 10000
static struct config cfg;
static int listen_fd = -1;
/* The signer's socket, when it is on (fixed at start, like 'listen'). */
static int signer_on;
static int signer_fd = -1;
static struct signer_addr signer_addr;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fleetpkid [--config FILE] [--pid-file FILE]\n"
	    "\n"
	    "Serves the fleetpki HTTP APIs as FastCGI workers behind nginx.\n"
	    "  --config FILE    configuration (default $FLEETPKI_CONFIG or\n"
	    "                   " FLEETPKI_SYSCONFDIR "/fleetpki.conf)\n"
	    "  --pid-file FILE  write the master's pid here\n"
	    "Signals: TERM drains and exits, HUP reloads the configuration.\n");
}

/*
 * No read deadline is set here, on purpose.  Linux copies SO_RCVTIMEO
 * from a TCP listener to the sockets accept() returns, but the option
 * also bounds accept() itself: an idle worker's FCGX_Accept_r would fail
 * with EAGAIN at every timeout and the worker would exit.  An AF_UNIX
 * server socket inherits nothing anyway.  For a silent client on the
 * unix socket, libfcgi's OS_Accept waits 2 s for the first byte and
 * drops the connection; a deadline for a client that sends part of a
 * record belongs on the accepted socket, in the worker.
 */
/*
 * Only nginx may talk FastCGI to us: whoever reaches the socket bypasses
 * its TLS, rate limits and caching.  The socket gets 'mode' and, when
 * 'group' is set, that group (nginx's, with mode 0660), so that the
 * socket is reachable by its owner and nginx only.
 */
static int
open_listener(const char *where, int mode, const char *group)
{
	struct group *gr;
	int fd;

	/* A unix socket left by a killed master would make bind() fail. */
	if (where[0] == '/')
		(void)unlink(where);
	if (FCGX_Init() != 0)
		fatal("FCGX_Init failed");
	if ((fd = FCGX_OpenSocket(where, LISTEN_BACKLOG)) < 0)
		fatal("cannot listen on %s: %s", where, strerror(errno));
	if (where[0] == '/' && group != NULL && group[0] != '\0') {
		if ((gr = getgrnam(group)) == NULL)
			fatal("socket_group '%s': no such group", group);
		/* Allowed to root and to members of the group. */
		if (chown(where, (uid_t)-1, gr->gr_gid) != 0)
			fatal("chown %s to group %s: %s", where, group,
			    strerror(errno));
	}
	if (where[0] == '/' && chmod(where, (mode_t)mode) != 0)
		fatal("chmod %s: %s", where, strerror(errno));
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/*
 * A child: the signer in slot 0 when it is on, else a FastCGI worker;
 * both with the configuration as the master has it now.
 */
static void
worker_child(int slot, void *arg)
{
	struct signer *signer;
	enum log_level lvl;

	(void)arg;
	if (signer_on && slot == 0) {
		if (log_level_parse(cfg.log_level, &lvl) == 0)
			log_init("signer", lvl);
		close(listen_fd); /* it never talks FastCGI */
		signer_serve(&cfg, signer_fd);
	}
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_init("worker", lvl);
	if (signer_on) {
		/* A worker must not accept as if it were the signer. */
		close(signer_fd);
		signer = signer_remote_new(&signer_addr);
		/* The key stays with the master (to respawn) and the signer. */
		OPENSSL_cleanse(cfg.master_key, sizeof(cfg.master_key));
	} else {
		signer = signer_local_new(cfg.master_key);
	}
	front_worker_run(&cfg, listen_fd, signer);
}

/*
 * SIGHUP: the new configuration for fresh workers.  'listen' stays: the
 * socket is bound once, so a new value waits for the next start.
 */
static void
reload(struct proc_set *ps)
{
	char *listen = xstrdup(cfg.listen);

	if (proc_config_reload(&cfg, "master") != 0) {
		free(listen);
		return;
	}
	if (strcmp(cfg.listen, listen) != 0)
		log_warn("'listen' changed: it takes effect at the next start");
	free(cfg.listen);
	cfg.listen = listen;
	if ((strcmp(cfg.signer, "on") == 0) != signer_on)
		log_warn("'signer' changed: it takes effect at the next start");
	ps->want = cfg.workers + signer_on;
	/* Fresh workers read the new configuration; busy ones finish first. */
	proc_replace_all(ps);
	log_info("configuration reloaded; replacing workers");
}

int
main(int argc, char **argv)
{
	struct proc_args args;
	struct proc_set workers;
	sigset_t set;
	char *pid_path = NULL;
	int code;

	if (proc_parse_args(argc, argv, "fleetpkid", 0, usage, &args, &code) !=
	    0)
		return code;
	if (proc_config_load("fleetpkid", "master", args.config, &cfg) != 0)
		return 1;
	if (args.pid_file != NULL)
		pid_path = xstrdup(args.pid_file);
	else if (cfg.pid_file != NULL)
		pid_path = xstrdup(cfg.pid_file);

	/* Signals are taken synchronously below; block them before forking. */
	proc_signals_block(&set);
	listen_fd =
	    open_listener(cfg.listen, cfg.socket_mode, cfg.socket_group);
	if (pid_path != NULL && proc_pid_write("fleetpkid", pid_path) != 0)
		return 1;
	signer_on = strcmp(cfg.signer, "on") == 0;
	if (signer_on)
		signer_fd = signer_listen(&signer_addr);
	else
		log_warn("signer = off: the workers hold the CA keys (for "
		         "measurement only)");
	/* Every route has a counter slot; the last is for no route. */
	if (router_nroutes() >= METRICS_ROUTE_NONE) {
		log_err("%zu routes: more than metrics.h's METRICS_MAX_ROUTES "
		        "allows",
		    router_nroutes());
		return 1;
	}
	/* Before any fork: every worker (and respawn) counts into it. */
	if (metrics_init() != 0)
		log_warn("metrics: no shared region (%s); GET /metrics "
		         "shows zeros",
		    strerror(errno));
	log_info("listening on %s with %d workers%s", cfg.listen, cfg.workers,
	    signer_on ? " and a signer" : "");
	proc_init(&workers, "worker", MAX_WORKERS + 1, cfg.workers + signer_on,
	    worker_child, NULL);
	if (signer_on)
		workers.what0 = "signer";

	while (proc_next_signal(&workers, &set) == SIGHUP)
		reload(&workers);
	proc_drain(&workers, &set, DRAIN_GRACE_MS);
	proc_free(&workers);
	close(listen_fd);
	if (signer_fd >= 0)
		close(signer_fd);
	if (cfg.listen[0] == '/')
		(void)unlink(cfg.listen);
	proc_pid_remove(pid_path);
	log_info("stopped");
	config_free(&cfg);
	free(pid_path);
	return 0;
}
