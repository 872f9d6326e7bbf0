/*
 * parent_setup: what the parent does before it forks — spool and mail-root
 * directories with the right owners, listening sockets, the local
 * injection socket, the IPC socketpairs, detaching from the terminal, and
 * the open-files limit the children inherit.
 * Every failure is one line on stderr naming the path or address.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "parent/parent.h"
#include "util/file.h"
#include "util/log.h"
#include "util/str.h"

#define PARENT_BACKLOG 1024

static int parent_dir(const char *path, mode_t mode, const struct proc_ident *owner)
{
	if (file_mkdirs(path, 0755, mode) < 0) {
		fprintf(stderr, "sealpost: cannot create directory %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (owner && owner->drop && chown(path, owner->uid, owner->gid) < 0) {
		fprintf(stderr, "sealpost: cannot chown %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (owner && chmod(path, mode) < 0) {
		fprintf(stderr, "sealpost: cannot chmod %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The fixed part of a maildir pattern: everything before the first '%'. */
static int parent_mail_root(const char *pattern, char *out, size_t cap)
{
	const char *pct = strchr(pattern, '%');
	size_t n = pct ? (size_t)(pct - pattern) : strlen(pattern);

	while (n > 1 && pattern[n - 1] != '/')
		n--;
	if (n > 1)
		n--; /* drop the trailing '/' */
	return str_copyn(out, cap, pattern, n);
}

/*
 * lookup runs as queue-user and must read the users file. A file still in
 * root's group (as `sealpost init` leaves it before the first `user add`)
 * is given queue-user's group, mode 0640; anything else is left alone.
 */
static int parent_users_group(const struct conf *c, const struct proc_setup *s)
{
	struct stat st;

	if (!s->queue_id.drop || stat(c->users_file, &st) < 0 || st.st_uid != 0 || st.st_gid != 0)
		return 0;
	if (chown(c->users_file, 0, s->queue_id.gid) < 0 || chmod(c->users_file, 0640) < 0) {
		fprintf(stderr, "sealpost: cannot give %s to group %s: %s\n", c->users_file,
			c->queue_user, strerror(errno));
		return -1;
	}
	return 0;
}

int parent_prepare(const struct conf *c, struct proc_setup *s)
{
	char path[CONF_PATH_MAX];
	static const char *sub[] = {"incoming", "queue", "dmarc"};

	if (parent_dir(c->spool, 0700, &s->queue_id) < 0)
		return -1;
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
		if (str_fmt(path, sizeof path, "%s/%s", c->spool, sub[i]) < 0 ||
		    parent_dir(path, 0700, &s->queue_id) < 0)
			return -1;
	if (str_fmt(s->empty_dir, sizeof s->empty_dir, "%s/empty", c->spool) < 0 ||
	    parent_dir(s->empty_dir, 0555, NULL) < 0)
		return -1;
	if (parent_users_group(c, s) < 0)
		return -1;
	for (size_t i = 0; i < c->n_domains; i++)
		if (parent_mail_root(c->domains[i].maildir, path, sizeof path) < 0 ||
		    parent_dir(path, 0700, &s->queue_id) < 0)
			return -1;
	return 0;
}

/*
 * The lock is flock(2) on <spool>/sealpost.pid, which also names the pid.
 * Every process forked from here shares the lock (the workers close their
 * copy), so it is held until the last process that touches the spool has
 * exited: a server started while another still stops is refused.
 */
int parent_lock_spool(const struct conf *c, struct proc_setup *s)
{
	char path[CONF_PATH_MAX], pid[32] = "";
	int fd;

	if (str_fmt(path, sizeof path, "%s/sealpost.pid", c->spool) < 0) {
		fprintf(stderr, "sealpost: spool path too long: %s\n", c->spool);
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
		fprintf(stderr, "sealpost: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (err == EWOULDBLOCK)
			fprintf(stderr,
				"sealpost: spool %s is in use by another sealpost (pid %s), "
				"which may still be stopping\n",
				c->spool, pid[0] ? pid : "unknown");
		else
			fprintf(stderr, "sealpost: cannot lock %s: %s\n", path, strerror(err));
		close(fd);
		return -1;
	}
	s->spool_lock = fd;
	return 0;
}

/* Record the pid (after daemonizing) in the locked file. */
void parent_write_pid(const struct proc_setup *s)
{
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());

	if (n > 0 &&
	    (ftruncate(s->spool_lock, 0) < 0 || pwrite(s->spool_lock, pid, (size_t)n, 0) != n))
		log_warn("cannot write the pid file: %s", strerror(errno));
}

/* Close fd after a failed call, keeping that call's errno; returns -1. */
static int parent_close_fail(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
	return -1;
}

static int parent_listen_inet(const struct conf_listen *l)
{
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0 ||
	    listen(fd, PARENT_BACKLOG) < 0)
		return parent_close_fail(fd);
	return fd;
}

/* The local injection socket for `sealpost send`: any local user may connect. */
static int parent_listen_local(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char dir[CONF_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash || str_copyn(dir, sizeof dir, path, (size_t)(slash - path)) < 0 ||
	    str_copy(sun.sun_path, sizeof sun.sun_path, path) < 0)
		return -1;
	if (dir[0] && file_mkdirs(dir, 0755, 0755) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(path, 0666) < 0 ||
	    listen(fd, PARENT_BACKLOG) < 0)
		return parent_close_fail(fd);
	return fd;
}

int parent_bind(const struct conf *c, struct proc_setup *s)
{
	for (size_t i = 0; i < c->n_listen; i++) {
		s->listen_fd[i] = parent_listen_inet(&c->listen[i]);
		if (s->listen_fd[i] < 0) {
			fprintf(stderr, "sealpost: %s:%d: cannot listen on %s: %s\n", c->path,
				c->listen[i].line, c->listen[i].text, strerror(errno));
			return -1;
		}
		s->n_listen++;
	}
	s->listen_fd[s->n_listen] = parent_listen_local(c->socket_path);
	if (s->listen_fd[s->n_listen] < 0) {
		fprintf(stderr, "sealpost: cannot create the local socket %s: %s\n", c->socket_path,
			strerror(errno));
		return -1;
	}
	s->n_listen++;
	return 0;
}

int parent_pairs(struct proc_setup *s)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	s->n_workers = s->conf->workers ? s->conf->workers : (cores > 0 ? (unsigned)cores : 1);
	if (s->n_workers > PROC_WORKERS_MAX)
		s->n_workers = PROC_WORKERS_MAX;
	for (unsigned i = 0; i < s->n_workers; i++)
		if (ipc_pair(s->w_queue[i]) < 0 || ipc_pair(s->w_lookup[i]) < 0 ||
		    ipc_pair(s->w_parent[i]) < 0)
			goto fail;
	if (ipc_pair(s->q_deliver) < 0 || ipc_pair(s->q_remote) < 0 || ipc_pair(s->q_lookup) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "sealpost: cannot create socketpairs: %s\n", strerror(errno));
	return -1;
}

int parent_daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}

/*
 * Every connection costs an SMTP worker a descriptor, so the usual soft
 * RLIMIT_NOFILE of 1024 would cap the server far below max-connections.
 * Raise the soft limit to the hard one before forking (the children
 * inherit it); the hard limit is the administrator's to set.
 */
void parent_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("cannot read the open-files limit: %s", strerror(errno));
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("cannot raise the open-files limit from %llu to %llu: %s",
				 (unsigned long long)was, (unsigned long long)rl.rlim_max,
				 strerror(errno));
			return;
		}
	}
	log_info("open-files limit %llu (was %llu; hard limit %llu)",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)was,
		 (unsigned long long)rl.rlim_max);
}
