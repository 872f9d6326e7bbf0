/*
 * proc: descriptor hygiene and privilege dropping for the children.
 *
 * Security role: a child keeps only the descriptors of its own channels
 * and listeners, then (when started as root) enters its chroot and takes
 * its unprivileged identity for good: groups, gid and uid, real, effective
 * and saved, checked afterwards.
 */
#include "parent/proc.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/log.h"
#include "util/str.h"

static int proc_kept(int fd, const int *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == fd)
			return 1;
	return 0;
}

static void proc_close_fd(int *fd, const int *keep, size_t n)
{
	if (*fd >= 0 && !proc_kept(*fd, keep, n)) {
		close(*fd);
		*fd = -1;
	}
}

void proc_close_except(struct proc_setup *s, const int *keep, size_t n)
{
	for (size_t i = 0; i < s->n_listen; i++)
		proc_close_fd(&s->listen_fd[i], keep, n);
	for (unsigned i = 0; i < s->n_workers; i++)
		for (int j = 0; j < 2; j++) {
			proc_close_fd(&s->w_queue[i][j], keep, n);
			proc_close_fd(&s->w_lookup[i][j], keep, n);
			proc_close_fd(&s->w_parent[i][j], keep, n);
		}
	for (int j = 0; j < 2; j++) {
		proc_close_fd(&s->q_deliver[j], keep, n);
		proc_close_fd(&s->q_remote[j], keep, n);
		proc_close_fd(&s->q_lookup[j], keep, n);
	}
}

pid_t proc_parent_pid;

void proc_drop(const struct proc_ident *id, const char *chroot_dir, const char *name)
{
	if (id->drop) {
		if (chroot_dir && (chroot(chroot_dir) < 0 || chdir("/") < 0))
			fatal("%s: cannot chroot to %s: %s", name, chroot_dir, strerror(errno));
		if (setgroups(1, &id->gid) < 0 || setresgid(id->gid, id->gid, id->gid) < 0 ||
		    setresuid(id->uid, id->uid, id->uid) < 0)
			fatal("%s: cannot drop privileges: %s", name, strerror(errno));
		if (setuid(0) == 0 || geteuid() != id->uid || getegid() != id->gid)
			fatal("%s: privileges were not dropped", name);
	}
	/* Not dumpable: no core files with message data or keys, and no other
	 * process of the same uid (another worker) may ptrace this one. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		fatal("%s: cannot clear the dumpable flag", name);
	char comm[16];
	if (str_fmt(comm, sizeof comm, "sp-%s", name) == 0)
		prctl(PR_SET_NAME, comm); /* ps shows which child is which */
	/* Die with the parent (set after the uid change, which clears it). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != proc_parent_pid)
		fatal("%s: parent is gone", name);
}
