/*
 * proc: how the parent wires its children together, and the entry point of
 * each child process.
 *
 *   parent ── binds listeners, forks, supervises (root until the end)
 *   smtp[i] ── untrusted bytes; user `user`, chrooted to an empty dir
 *   lookup  ── users file (hashes), recipient resolution; user `queue-user`
 *   queue   ── owns the spool, commits (group fsync), schedules; `queue-user`,
 *              chrooted to the spool
 *   deliver ── writes Maildirs from descriptors the queue hands it; `queue-user`
 *   remote  ── carries mail to other domains' servers (SMTP client, DNS,
 *              TLS); user `user`, reads queue files only through
 *              descriptors the queue hands it
 *
 * Each arrow is a SOCK_SEQPACKET socketpair speaking ipc.h.
 */
#ifndef SEALPOST_PROC_H
#define SEALPOST_PROC_H

#include <sys/types.h>

#include "util/conf.h"
#include "util/tls.h"

#define PROC_WORKERS_MAX 64

struct proc_ident {
	int drop; /* 1 when started as root: setgid/setuid to these */
	uid_t uid;
	gid_t gid;
};

struct proc_setup {
	const struct conf *conf;
	unsigned n_workers;
	int listen_fd[CONF_MAX_LISTEN];
	size_t n_listen;
	/* [0] is the queue/lookup/deliver side, [1] the other side */
	int w_queue[PROC_WORKERS_MAX][2];  /* queue <-> smtp[i] */
	int w_lookup[PROC_WORKERS_MAX][2]; /* lookup <-> smtp[i] */
	int q_deliver[2];		   /* queue <-> deliver */
	int q_remote[2];		   /* queue <-> remote */
	int q_lookup[2];		   /* lookup <-> queue: recipients of bounces */
	int w_parent[PROC_WORKERS_MAX][2]; /* parent <-> smtp[i]: TLS reloads */
	struct tls_pem *tls_pems;	   /* conf->n_tls PEM pairs, read by the parent */
	size_t n_tls;
	struct proc_ident worker_id;   /* `user` */
	struct proc_ident queue_id;    /* `queue-user` */
	char empty_dir[CONF_PATH_MAX]; /* chroot for smtp workers */
	int spool_lock; /* <spool>/sealpost.pid, locked: held by all but the workers */
};

/* The parent's pid, set before it forks. */
extern pid_t proc_parent_pid;

/* Close every descriptor of s except those in keep[0..n). */
void proc_close_except(struct proc_setup *s, const int *keep, size_t n);
/* chroot (if root and dir != NULL), then drop to id. Fatal on failure. */
void proc_drop(const struct proc_ident *id, const char *chroot_dir, const char *name);

int smtp_worker_main(struct proc_setup *s, unsigned idx);
int queue_main(struct proc_setup *s);
int deliver_main(struct proc_setup *s);
int remote_main(struct proc_setup *s);
int lookup_main(struct proc_setup *s);

#endif
