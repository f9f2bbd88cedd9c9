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
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fleetpki/config.h"
#include "fleetpki/front.h"
#include "fleetpki/log.h"
#include "fleetpki/util.h"

#define MAX_WORKERS 256
#define LISTEN_BACKLOG 1024
/* A worker that dies sooner than this after its start counts as a crash. */
#define YOUNG_DEATH_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define DRAIN_GRACE_MS 10000
/*
 * How long one read or write on a FastCGI connection may block.  nginx
 * buffers the request body before it connects and reads the answer as
 * it comes, so a healthy peer never comes near this; a silent or
 * trickling client that reached the socket must not hold a worker for
 * longer.
 */
#define FCGI_IO_TIMEOUT_S 10

struct slot {
	pid_t pid; /* 0 when not running */
	int64_t started_ms;
	int64_t respawn_at_ms; /* 0 = nothing scheduled */
	unsigned crashes; /* consecutive young deaths */
};

static struct config cfg;
static struct slot slots[MAX_WORKERS];
static int listen_fd = -1;
static char *pid_path;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
 * A read and write deadline for every connection the workers accept.
 * libfcgi reads the first records of a connection with blocking read()s
 * inside FCGX_Accept_r, where no code of ours runs, so the deadline has
 * to be on the socket before that.  Linux copies SO_RCVTIMEO/SO_SNDTIMEO
 * from a TCP listener to the sockets accept() returns (sk_clone); a read
 * that times out fails with EAGAIN, which libfcgi takes as a broken
 * connection: it closes it and accepts the next.  An AF_UNIX server
 * socket is created fresh by connect() and inherits nothing: there
 * libfcgi's own 2 s wait for the first byte (OS_Accept) is the bound
 * for a silent client, and the worker sets the deadline on the accepted
 * socket.
 */
static void
set_io_timeouts(int fd)
{
	struct timeval tv = { FCGI_IO_TIMEOUT_S, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		fatal("setsockopt SO_RCVTIMEO/SO_SNDTIMEO: %s",
		    strerror(errno));
}

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
	set_io_timeouts(fd);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static void
write_pid_file(const char *path)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		fatal("%s: %s", path, strerror(errno));
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		fatal("%s: %s", path, strerror(errno));
}

static void
spawn(int i)
{
	pid_t pid;

	if ((pid = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		slots[i].respawn_at_ms = now_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		log_init("worker", LOG_LVL_INFO);
		{
			enum log_level lvl;

			if (log_level_parse(cfg.log_level, &lvl) == 0)
				log_init("worker", lvl);
		}
		front_worker_run(&cfg, listen_fd);
	}
	slots[i].pid = pid;
	slots[i].started_ms = now_ms();
	slots[i].respawn_at_ms = 0;
	log_debug("worker %d started as pid %ld", i, (long)pid);
}

/* Reap every exited child and schedule replacements. */
static void
reap(int stopping)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_WORKERS; i++)
			if (slots[i].pid == pid)
				break;
		if (i == MAX_WORKERS)
			continue;
		slots[i].pid = 0;
		if (WIFSIGNALED(status))
			log_warn("worker pid %ld killed by signal %d",
			    (long)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_warn("worker pid %ld exited with status %d",
			    (long)pid, WEXITSTATUS(status));
		if (stopping || i >= cfg.workers)
			continue;
		if (now_ms() - slots[i].started_ms < YOUNG_DEATH_MS &&
		    (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
			int64_t delay = BACKOFF_MIN_MS;
			unsigned k;

			for (k = 0;
			     k < slots[i].crashes && delay < BACKOFF_MAX_MS;
			     k++)
				delay *= 2;
			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
			slots[i].crashes++;
			slots[i].respawn_at_ms = now_ms() + delay;
			log_warn("worker %d crashing young; respawn in %lld ms",
			    i, (long long)delay);
		} else {
			slots[i].crashes = 0;
			slots[i].respawn_at_ms = now_ms();
		}
	}
}

static void
signal_workers(int sig)
{
	int i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

static int
workers_alive(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_WORKERS; i++)
		n += slots[i].pid > 0;
	return n;
}

static void
drain(const sigset_t *set)
{
	struct timespec ts = { 0, 100 * 1000000 };
	int64_t deadline = now_ms() + DRAIN_GRACE_MS;
	siginfo_t info;

	log_info("draining %d workers", workers_alive());
	signal_workers(SIGTERM);
	while (workers_alive() > 0 && now_ms() < deadline) {
		(void)sigtimedwait(set, &info, &ts);
		reap(1);
	}
	if (workers_alive() > 0) {
		log_warn("killing %d workers still busy", workers_alive());
		signal_workers(SIGKILL);
		while (workers_alive() > 0) {
			(void)sigtimedwait(set, &info, &ts);
			reap(1);
		}
	}
}

static void
reload(void)
{
	struct config fresh;
	enum log_level lvl;
	char *err = NULL;
	int i;

	if (config_load(cfg.path, &fresh, &err) != 0) {
		log_err("reload failed, keeping the running configuration: %s",
		    err);
		free(err);
		config_free(&fresh);
		return;
	}
	if (strcmp(fresh.listen, cfg.listen) != 0)
		log_warn("'listen' changed: it takes effect at the next start");
	free(fresh.listen);
	fresh.listen = xstrdup(cfg.listen);
	config_free(&cfg);
	cfg = fresh;
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_init("master", lvl);
	/* Fresh workers read the new configuration; busy ones finish first. */
	for (i = 0; i < MAX_WORKERS; i++) {
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGTERM);
		slots[i].crashes = 0;
	}
	log_info("configuration reloaded; replacing workers");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_arg = NULL;
	struct timespec ts;
	enum log_level lvl;
	siginfo_t info;
	sigset_t set;
	char *err = NULL;
	int c, i, sig, stopping = 0;

	while ((c = getopt_long(argc, argv, "c:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_arg = optarg;
			break;
		case 'p':
			pid_path = xstrdup(optarg);
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
	log_init("fleetpkid", LOG_LVL_INFO);
	/* Log lines are whole writes; no stdio buffering to interleave. */
	setvbuf(stderr, NULL, _IONBF, 0);
	if (config_load(config_path(config_arg), &cfg, &err) != 0) {
		fprintf(stderr, "fleetpkid: %s\n", err);
		return 1;
	}
	if (log_level_parse(cfg.log_level, &lvl) != 0) {
		fprintf(stderr, "fleetpkid: bad log_level '%s'\n",
		    cfg.log_level);
		return 1;
	}
	log_init("master", lvl);
	if (pid_path == NULL && cfg.pid_file != NULL)
		pid_path = xstrdup(cfg.pid_file);

	/* Signals are taken synchronously below; block them before forking. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	listen_fd =
	    open_listener(cfg.listen, cfg.socket_mode, cfg.socket_group);
	if (pid_path != NULL)
		write_pid_file(pid_path);
	log_info("listening on %s with %d workers", cfg.listen, cfg.workers);
	for (i = 0; i < cfg.workers; i++)
		spawn(i);

	while (!stopping) {
		int64_t next = 0, now = now_ms(), wait_ms = 1000;

		for (i = 0; i < cfg.workers; i++) {
			if (slots[i].pid == 0 && slots[i].respawn_at_ms != 0 &&
			    slots[i].respawn_at_ms <= now)
				spawn(i);
			if (slots[i].pid == 0 && slots[i].respawn_at_ms != 0 &&
			    (next == 0 || slots[i].respawn_at_ms < next))
				next = slots[i].respawn_at_ms;
			/* Slots added by a reload start now. */
			if (slots[i].pid == 0 && slots[i].respawn_at_ms == 0)
				spawn(i);
		}
		if (next != 0 && next - now < wait_ms)
			wait_ms = next - now > 0 ? next - now : 0;
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		sig = sigtimedwait(&set, &info, &ts);
		switch (sig) {
		case SIGCHLD:
			reap(0);
			break;
		case SIGTERM:
		case SIGINT:
			stopping = 1;
			break;
		case SIGHUP:
			reload();
			break;
		default:
			break; /* timeout: a respawn is due */
		}
	}
	drain(&set);
	close(listen_fd);
	if (cfg.listen[0] == '/')
		(void)unlink(cfg.listen);
	if (pid_path != NULL)
		(void)unlink(pid_path);
	log_info("stopped");
	config_free(&cfg);
	free(pid_path);
	return 0;
}
