/*
 * proc: child supervision and the daemon plumbing fleetpkid and
 * fleetpki-worker share (proc.h).  Both used to carry their own copy of
 * the option parsing, the reload and the pid file, and the copies had
 * drifted (only fleetpkid re-applied the log level on reload); the
 * supervision loop is fleetpkid master's, lifted as it was.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fleetpki/config.h"
#include "fleetpki/log.h"
#include "fleetpki/proc.h"
#include "fleetpki/util.h"

/* A child that dies sooner than this after its start counts as a crash. */
#define YOUNG_DEATH_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000

int64_t
proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What slot 'i' runs, for log lines. */
static const char *
slot_what(const struct proc_set *ps, int i)
{
	return i == 0 && ps->what0 != NULL ? ps->what0 : ps->what;
}

void
proc_init(struct proc_set *ps, const char *what, int cap, int want,
    proc_child_fn child, void *arg)
{
	memset(ps, 0, sizeof(*ps));
	ps->what = what;
	ps->slots = xcalloc((size_t)cap, sizeof(*ps->slots));
	ps->cap = cap;
	ps->want = want < cap ? want : cap;
	ps->child = child;
	ps->arg = arg;
}

void
proc_free(struct proc_set *ps)
{
	free(ps->slots);
	ps->slots = NULL;
	ps->cap = ps->want = 0;
}

static void
spawn(struct proc_set *ps, int i)
{
	pid_t pid;

	if ((pid = fork()) < 0) {
		/* Out of processes: try again later, not in a tight loop. */
		log_err("fork: %s", strerror(errno));
		ps->slots[i].respawn_at_ms = proc_now_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		ps->child(i, ps->arg);
		_exit(1); /* child functions exit; this is a bug guard */
	}
	ps->slots[i].pid = pid;
	ps->slots[i].started_ms = proc_now_ms();
	ps->slots[i].respawn_at_ms = 0;
	log_debug("%s %d started as pid %ld", slot_what(ps, i), i, (long)pid);
}

int64_t
proc_spawn_due(struct proc_set *ps, int64_t max_wait_ms)
{
	int64_t next = 0, now = proc_now_ms(), wait_ms = max_wait_ms;
	int i;

	for (i = 0; i < ps->want; i++) {
		struct proc_slot *s = &ps->slots[i];

		/* New slots (first start, added by a reload) start now. */
		if (s->pid == 0 &&
		    (s->respawn_at_ms == 0 || s->respawn_at_ms <= now))
			spawn(ps, i);
		if (s->pid == 0 && s->respawn_at_ms != 0 &&
		    (next == 0 || s->respawn_at_ms < next))
			next = s->respawn_at_ms;
	}
	if (next != 0 && next - now < wait_ms)
		wait_ms = next - now > 0 ? next - now : 0;
	return wait_ms;
}

int
proc_next_signal(struct proc_set *ps, const sigset_t *set)
{
	struct timespec ts;
	siginfo_t info;
	int64_t wait_ms;
	int sig;

	for (;;) {
		wait_ms = proc_spawn_due(ps, 1000);
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000;
		/* A time-out is no signal: a respawn may be due. */
		if ((sig = sigtimedwait(set, &info, &ts)) == SIGCHLD)
			proc_reap(ps, 0);
		else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
			return sig;
	}
}

void
proc_reap(struct proc_set *ps, int stopping)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc_slot *s = NULL;
		int failed;

		for (i = 0; i < ps->cap; i++)
			if (ps->slots[i].pid == pid) {
				s = &ps->slots[i];
				break;
			}
		if (s == NULL)
			continue; /* not ours (a helper a child forked) */
		s->pid = 0;
		failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
		if (WIFSIGNALED(status))
			log_warn("%s pid %ld killed by signal %d",
			    slot_what(ps, i), (long)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_warn("%s pid %ld exited with status %d",
			    slot_what(ps, i), (long)pid, WEXITSTATUS(status));
		if (stopping || i >= ps->want)
			continue;
		if (failed && proc_now_ms() - s->started_ms < YOUNG_DEATH_MS) {
			int64_t delay = BACKOFF_MIN_MS;
			unsigned k;

			for (k = 0; k < s->crashes && delay < BACKOFF_MAX_MS;
			     k++)
				delay *= 2;
			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
			s->crashes++;
			s->respawn_at_ms = proc_now_ms() + delay;
			log_warn("%s %d crashing young; respawn in %lld ms",
			    slot_what(ps, i), i, (long long)delay);
		} else {
			s->crashes = 0;
			s->respawn_at_ms = proc_now_ms();
		}
	}
}

static void
signal_all(struct proc_set *ps, int sig)
{
	int i;

	for (i = 0; i < ps->cap; i++)
		if (ps->slots[i].pid > 0)
			kill(ps->slots[i].pid, sig);
}

int
proc_alive(const struct proc_set *ps)
{
	int i, n = 0;

	for (i = 0; i < ps->cap; i++)
		n += ps->slots[i].pid > 0;
	return n;
}

void
proc_replace_all(struct proc_set *ps)
{
	int i;

	/* proc_reap respawns them at once: a clean exit is no crash. */
	signal_all(ps, SIGTERM);
	for (i = 0; i < ps->cap; i++)
		ps->slots[i].crashes = 0;
}

void
proc_drain(struct proc_set *ps, const sigset_t *set, int64_t grace_ms)
{
	struct timespec ts = { 0, 100 * 1000000 };
	int64_t deadline = proc_now_ms() + grace_ms;
	siginfo_t info;

	log_info("draining %d %ss", proc_alive(ps), ps->what);
	signal_all(ps, SIGTERM);
	while (proc_alive(ps) > 0 && proc_now_ms() < deadline) {
		(void)sigtimedwait(set, &info, &ts);
		proc_reap(ps, 1);
	}
	if (proc_alive(ps) > 0) {
		log_warn("killing %d %ss still busy", proc_alive(ps), ps->what);
		signal_all(ps, SIGKILL);
		while (proc_alive(ps) > 0) {
			(void)sigtimedwait(set, &info, &ts);
			proc_reap(ps, 1);
		}
	}
}

void
proc_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
proc_child_signals(void (*on_stop)(int))
{
	struct sigaction sa;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: blocking calls return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- command line, configuration, pid file ------------------------ */

int
proc_parse_args(int argc, char **argv, const char *prog, int allow_once,
    void (*usage)(FILE *), struct proc_args *a, int *exit_code)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	*exit_code = 0;
	while ((c = getopt_long(argc, argv, "c:p:oh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'p':
			a->pid_file = optarg;
			break;
		case 'o':
			if (!allow_once)
				goto bad;
			a->once = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			goto bad;
		}
	}
	/* Daemons take no operands: a stray word is a typo'd option. */
	if (optind == argc)
		return 0;
bad:
	fprintf(stderr, "%s: bad usage\n", prog);
	usage(stderr);
	*exit_code = 2;
	return -1;
}

int
proc_config_load(const char *prog, const char *role, const char *arg,
    struct config *cfg)
{
	enum log_level lvl;
	char *err = NULL;

	/* Log lines are whole writes; no stdio buffering to interleave. */
	setvbuf(stderr, NULL, _IONBF, 0);
	log_init(role, LOG_LVL_INFO);
	if (config_load(config_path(arg), cfg, &err) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		free(err);
		config_free(cfg);
		return -1;
	}
	if (log_level_parse(cfg->log_level, &lvl) != 0) {
		fprintf(stderr, "%s: bad log_level '%s'\n", prog,
		    cfg->log_level);
		config_free(cfg);
		return -1;
	}
	log_init(role, lvl);
	return 0;
}

int
proc_config_reload(struct config *cfg, const char *role)
{
	struct config fresh;
	enum log_level lvl;
	char *err = NULL;

	if (config_load(cfg->path, &fresh, &err) != 0) {
		log_err("reload failed, keeping the running configuration: %s",
		    err);
		free(err);
		config_free(&fresh);
		return -1;
	}
	if (log_level_parse(fresh.log_level, &lvl) != 0) {
		log_err("reload failed, keeping the running configuration: "
		        "bad log_level '%s'",
		    fresh.log_level);
		config_free(&fresh);
		return -1;
	}
	config_free(cfg);
	*cfg = fresh;
	log_init(role, lvl);
	return 0;
}

int
proc_pid_write(const char *prog, const char *path)
{
	FILE *f;

	int bad;

	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	bad = fprintf(f, "%ld\n", (long)getpid()) < 0;
	if (fclose(f) != 0 || bad) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	return 0;
}

void
proc_pid_remove(const char *path)
{
	if (path != NULL)
		(void)unlink(path);
}
