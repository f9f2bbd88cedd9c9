/*
 * proc: what fleetpki's daemons share about being a process.
 *
 *   - supervision of pre-forked children (fleetpkid's FastCGI workers,
 *     fleetpki-worker's job runners): spawn, reap, respawn, back off
 *     when a child keeps dying young, drain on shutdown;
 *   - the command line every program takes (--config, --pid-file,
 *     --help), the configuration load and its reload on SIGHUP (the log
 *     level included), and the pid file.
 *
 * The supervisor takes signals synchronously (sigtimedwait in the
 * caller's loop), so nothing here runs in a signal handler.
 */
#ifndef FLEETPKI_PROC_H
#define FLEETPKI_PROC_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct config;

/* ---- supervision ---------------------------------------------------- */

/* One child the supervisor keeps running. */
struct proc_slot {
	pid_t	 pid;		/* 0 when not running */
	int64_t	 started_ms;
	int64_t	 respawn_at_ms;	/* 0 = start at the next proc_spawn_due */
	unsigned crashes;	/* consecutive young deaths */
};

/*
 * Runs in the new child for slot 'slot'; must not return (it exits).
 * The child starts with the supervisor's signal mask (all of the
 * supervisor's signals blocked): it installs its own handlers.
 */
typedef void (*proc_child_fn)(int slot, void *arg);

struct proc_set {
	const char		*what;	/* "worker", for log lines */
	const char		*what0;	/* slot 0's, when it differs, or NULL */
	struct proc_slot	*slots;
	int			 cap;	/* slots allocated */
	int			 want;	/* slots 0..want-1 are kept running */
	proc_child_fn		 child;
	void			*arg;
};

/* CLOCK_MONOTONIC in milliseconds. */
int64_t	proc_now_ms(void);

/* 'cap' slots (at most), 'want' of them running; proc_free releases. */
void	proc_init(struct proc_set *, const char *what, int cap, int want,
	    proc_child_fn child, void *arg);
void	proc_free(struct proc_set *);

/*
 * Start every wanted slot that is due (new, or its back-off is over).
 * Returns how many milliseconds the caller may wait before calling
 * again (a respawn is scheduled then), at most 'max_wait_ms'.
 */
int64_t	proc_spawn_due(struct proc_set *, int64_t max_wait_ms);

/*
 * Reap every exited child (call on SIGCHLD) and schedule its
 * replacement: at once after a clean or old death, after an exponential
 * back-off (100 ms doubling to 30 s) when children keep dying within
 * 5 s of their start, so a crash loop cannot spin the CPU.  Nothing is
 * rescheduled while 'stopping'.
 */
void	proc_reap(struct proc_set *, int stopping);

/*
 * The supervisor's wait: start what is due, wait for one of the blocked
 * signals of 'set' (proc_signals_block), reap on SIGCHLD, and return the
 * next signal the caller acts on -- SIGTERM or SIGINT (stop), SIGHUP
 * (reload) -- never sooner than something happened.
 */
int	proc_next_signal(struct proc_set *, const sigset_t *set);

/* Children running now. */
int	proc_alive(const struct proc_set *);

/*
 * Replace every child (configuration reload): SIGTERM to each (busy
 * ones finish first), and the crash counts start over.
 */
void	proc_replace_all(struct proc_set *);

/*
 * Shutdown: SIGTERM to every child, wait up to 'grace_ms' for them
 * (taking the signals in 'set', which must hold SIGCHLD), then SIGKILL
 * what is left and reap it.
 */
void	proc_drain(struct proc_set *, const sigset_t *set, int64_t grace_ms);

/*
 * Block SIGCHLD, SIGTERM, SIGINT and SIGHUP (taken synchronously from
 * 'set' by the caller's sigtimedwait), ignore SIGPIPE.  Call before the
 * first fork.
 */
void	proc_signals_block(sigset_t *set);

/*
 * In a child: die with the supervisor (an orphan would hold its
 * sockets and its database connection), 'on_stop' for SIGTERM/SIGINT
 * without SA_RESTART (so blocking calls return EINTR), SIGHUP and
 * SIGPIPE ignored, and an empty signal mask.
 */
void	proc_child_signals(void (*on_stop)(int));

/* ---- command line, configuration, pid file -------------------------- */

struct proc_args {
	const char	*config;	/* --config, or NULL */
	const char	*pid_file;	/* --pid-file, or NULL */
	int		 once;		/* --once (where 'allow_once') */
};

/*
 * Parse the daemon options of program 'prog' into 'a': --config FILE,
 * --pid-file FILE, --help, and --once when 'allow_once'.  'usage' prints
 * the program's usage to the stream it is given.  Returns -1 when the
 * caller should exit with '*exit_code' (0 after --help, 2 on a usage
 * error, the usage on stderr), else 0.
 */
int	proc_parse_args(int argc, char **argv, const char *prog,
	    int allow_once, void (*usage)(FILE *), struct proc_args *a,
	    int *exit_code);

/*
 * Load the configuration named by 'arg' (config_path: --config, else
 * $FLEETPKI_CONFIG, else the default) into 'cfg' and apply its
 * log_level with 'role' as the log name.  -1 with the reason on stderr
 * (one line, prefixed by 'prog').
 */
int	proc_config_load(const char *prog, const char *role, const char *arg,
	    struct config *cfg);

/*
 * SIGHUP: read 'cfg->path' again; on success replace '*cfg' and
 * re-apply the log level (as 'role'); on failure keep the running
 * configuration, log why and return -1.
 */
int	proc_config_reload(struct config *cfg, const char *role);

/*
 * Write this process's pid to 'path' (one line); -1 with the reason on
 * stderr.  proc_pid_remove unlinks it (NULL: nothing).
 */
int	proc_pid_write(const char *prog, const char *path);
void	proc_pid_remove(const char *path);

#endif
