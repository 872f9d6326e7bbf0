/*
 * parent: the supervisor. Prepares the spool, binds every listener, makes
 * the socketpairs, forks the children (lookup, queue, deliver, one SMTP
 * worker per core) and watches them: a child that dies unexpectedly brings
 * the whole server down cleanly (no silent half-working state), SIGTERM
 * and SIGINT stop everything, SIGHUP is passed to lookup (users reload).
 *
 * Security role: keeps root (when started as root) but touches no network
 * bytes and no message; it only binds, forks and waits.
 */
#include "parent/parent.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parent/proc.h"
#include "util/log.h"
#include "util/str.h"

#define PARENT_CHILDREN_MAX (PROC_WORKERS_MAX + 4)
/* Seconds each stage of a stop may take before SIGKILL: the SMTP workers
 * (a message at its final dot gets its 250 first, which may wait on a
 * delivery for QUEUE_DIRECT_WAIT), the queue (deliveries in flight are
 * answered and recorded, QUEUE_STOP_WAIT), then the others. */
#define PARENT_STOP_WORKERS 10
#define PARENT_STOP_QUEUE   12
#define PARENT_STOP_REST    5

struct child {
	pid_t pid;
	char name[16];
};

static struct child children[PARENT_CHILDREN_MAX];
static size_t n_children;
static volatile sig_atomic_t got_term, got_hup, got_chld, got_alrm;

static void parent_on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGALRM)
		got_alrm = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static int parent_ident(const char *user, struct proc_ident *id)
{
	struct passwd *pw;

	id->drop = geteuid() == 0;
	if (!id->drop)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr,
			"sealpost: user '%s' does not exist; create it with: "
			"useradd --system --no-create-home --shell /usr/sbin/nologin %s\n",
			user, user);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	if (id->uid == 0) {
		fprintf(stderr, "sealpost: user '%s' must not be root\n", user);
		return -1;
	}
	return 0;
}

static pid_t parent_fork(struct proc_setup *s, const char *name,
			 int (*fn)(struct proc_setup *, unsigned), unsigned idx)
{
	sigset_t all, old;
	pid_t pid;

	/* Signals wait until the child has its own dispositions: a SIGTERM sent
	 * right after the fork must not run our handler in the child (which
	 * would only set a flag there, and the child would never stop). */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN); /* ^C reaches the parent, which stops us */
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGXFSZ, SIG_IGN); /* over a file size limit: EFBIG, not death */
		signal(SIGALRM, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		exit(fn(s, idx));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_error("cannot fork %s: %s", name, strerror(errno));
		return -1;
	}
	children[n_children].pid = pid;
	str_fmt(children[n_children].name, sizeof children[0].name, "%s", name);
	n_children++;
	return pid;
}

static int run_queue(struct proc_setup *s, unsigned i)
{
	return queue_main(s);
}

static int run_deliver(struct proc_setup *s, unsigned i)
{
	return deliver_main(s);
}

static int run_remote(struct proc_setup *s, unsigned i)
{
	return remote_main(s);
}

static int run_lookup(struct proc_setup *s, unsigned i)
{
	return lookup_main(s);
}

static int parent_spawn(struct proc_setup *s)
{
	char name[16];

	if (parent_fork(s, "lookup", run_lookup, 0) < 0 ||
	    parent_fork(s, "queue", run_queue, 0) < 0 ||
	    parent_fork(s, "deliver", run_deliver, 0) < 0 ||
	    parent_fork(s, "remote", run_remote, 0) < 0)
		return -1;
	for (unsigned i = 0; i < s->n_workers; i++) {
		str_fmt(name, sizeof name, "smtp%u", i);
		if (parent_fork(s, name, smtp_worker_main, i) < 0)
			return -1;
	}
	return 0;
}

/* The stages of a stop: which children a stage signals. */
enum parent_stage { STAGE_WORKERS, STAGE_QUEUE, STAGE_REST };

static int parent_in_stage(const struct child *c, enum parent_stage st)
{
	int worker = strncmp(c->name, "smtp", 4) == 0, queue = strcmp(c->name, "queue") == 0;

	return st == STAGE_WORKERS ? worker : st == STAGE_QUEUE ? queue : !worker && !queue;
}

static void parent_kill_stage(enum parent_stage st, int sig)
{
	for (size_t i = 0; i < n_children; i++)
		if (children[i].pid > 0 && parent_in_stage(&children[i], st))
			kill(children[i].pid, sig);
}

/* Reap exited children; with wait, block until the first one. Returns the
 * number reaped, or -1 when waiting and no child is left. */
static int parent_reap_opt(int expected, int wait)
{
	int status, n = 0, options = wait ? 0 : WNOHANG;
	pid_t pid;

	while ((pid = waitpid(-1, &status, options)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		options = WNOHANG; /* only the first wait blocks */
		for (size_t i = 0; i < n_children; i++) {
			if (children[i].pid != pid)
				continue;
			children[i].pid = 0;
			n++;
			if (expected)
				break;
			if (WIFSIGNALED(status))
				log_error("%s (pid %d) died of signal %d", children[i].name,
					  (int)pid, WTERMSIG(status));
			else
				log_error("%s (pid %d) exited with status %d", children[i].name,
					  (int)pid, WEXITSTATUS(status));
		}
	}
	return wait && n == 0 && pid < 0 ? -1 : n;
}

/* Reap exited children (without waiting); returns the number that exited. */
static int parent_reap(int expected)
{
	return parent_reap_opt(expected, 0);
}

static size_t parent_alive(enum parent_stage st)
{
	size_t n = 0;
	for (size_t i = 0; i < n_children; i++)
		n += children[i].pid > 0 && parent_in_stage(&children[i], st);
	return n;
}

/* SIGTERM to one stage's children; SIGKILL to those still there after
 * grace seconds. */
static void parent_stop_stage(enum parent_stage st, int grace, const char *what)
{
	time_t deadline = time(NULL) + grace;

	parent_kill_stage(st, SIGTERM);
	while (parent_alive(st) > 0 && time(NULL) < deadline) {
		parent_reap(1);
		if (parent_alive(st) > 0)
			usleep(20000);
	}
	if (parent_alive(st) > 0) {
		log_warn("%s did not stop in %d s; killing them", what, grace);
		parent_kill_stage(st, SIGKILL);
		while (parent_alive(st) > 0 && parent_reap_opt(1, 1) >= 0)
			;
	}
}

/*
 * Stop in order, so that a restart neither loses nor repeats mail: the
 * SMTP workers first (no new sessions; a message at its final dot still
 * gets its 250), then the queue (no new deliveries; those in flight are
 * answered and recorded), then delivery, remote and lookup.
 */
static void parent_stop(void)
{
	parent_stop_stage(STAGE_WORKERS, PARENT_STOP_WORKERS, "smtp workers");
	parent_stop_stage(STAGE_QUEUE, PARENT_STOP_QUEUE, "the queue");
	parent_stop_stage(STAGE_REST, PARENT_STOP_REST, "deliver, remote and lookup");
}

static void parent_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = parent_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
}

/* Supervise until told to stop or a child dies; returns the exit status. */
static int parent_watch(struct proc_setup *s)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	alarm(PARENT_TICKET_ROTATE);
	for (;;) {
		while (!got_term && !got_hup && !got_chld && !got_alrm)
			sigsuspend(&old);
		if (got_alrm) {
			got_alrm = 0;
			parent_tls_rotate(s);
			alarm(PARENT_TICKET_ROTATE);
		}
		if (got_term) {
			log_info("stopping on signal");
			parent_stop();
			return 0;
		}
		if (got_hup) {
			got_hup = 0;
			log_info("SIGHUP: reloading users and TLS certificates");
			if (children[0].pid > 0)
				kill(children[0].pid, SIGHUP);
			parent_tls_reload(s->conf, s);
		}
		if (got_chld) {
			got_chld = 0;
			if (parent_reap(0) > 0) {
				log_error("a child process died; shutting the server down");
				parent_stop();
				return 1;
			}
		}
	}
}

int parent_run(const struct conf *c, int foreground)
{
	static struct proc_setup s;

	memset(&s, 0, sizeof s);
	s.spool_lock = -1;
	s.conf = c;
	tzset();
	if (parent_ident(c->user, &s.worker_id) < 0 || parent_ident(c->queue_user, &s.queue_id) < 0)
		return 1;
	if (parent_tls_load(c, &s) < 0 || parent_prepare(c, &s) < 0 ||
	    parent_lock_spool(c, &s) < 0 || parent_bind(c, &s) < 0 || parent_pairs(&s) < 0)
		return 1;
	if (!foreground && parent_daemonize() < 0)
		return 1;
	log_init(foreground, "parent");
	parent_write_pid(&s);
	if (!s.worker_id.drop)
		log_warn("not started as root: running without chroot and separate users");
	parent_raise_nofile();
	parent_signals();
	proc_parent_pid = getpid();
	if (parent_spawn(&s) < 0) {
		parent_stop();
		return 1;
	}
	{
		int keep[PROC_WORKERS_MAX];
		for (unsigned i = 0; i < s.n_workers; i++)
			keep[i] = s.w_parent[i][0];
		proc_close_except(&s, keep, s.n_workers);
	}
	tls_conf_free(s.tls_pems, s.n_tls); /* the workers have their own copies */
	s.tls_pems = NULL;
	log_info("sealpost started: %zu listener(s), %u smtp worker(s), hostname %s", c->n_listen,
		 s.n_workers, c->hostname);
	return parent_watch(&s);
}
