/*
 * deliver_proc: the local delivery process. The queue hands it a read-only
 * descriptor of a committed queue file and the recipient indexes to do; a
 * pool thread reads the envelope from that file, writes each Maildir, and
 * the results go back to the queue one record per recipient.
 *
 * Security role: runs as queue-user; never sees network bytes and never
 * opens the spool by name (it only has the descriptors it is given).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/deliver_maildir.h"
#include "ipc/ipc.h"
#include "parent/proc.h"
#include "queue/queue_spool.h"
#include "util/log.h"
#include "util/pool.h"
#include "util/str.h"

#define DELIVER_THREADS	 16 /* each mostly waits in fsync: the disk merges concurrent ones */
#define DELIVER_WHY_MAX	 256
#define DELIVER_NAME_MAX 384	      /* a Maildir file name: time, queue id, index, host name */
#define DELIVER_READ_MAX (256 * 1024) /* queue files up to this are read, larger ones mapped */

struct djob {
	uint64_t job;
	char id[QUEUE_ID_SIZE + 1];
	uint32_t flags; /* QJOB_F_* */
	int fd;
	uint32_t n;
	uint32_t *idx;
	int *ok; /* 1 delivered now, 2 its copy was already there */
	char (*why)[DELIVER_WHY_MAX];
};

static struct {
	const struct conf *conf;
	struct event_base *base;
	struct pool *pool;
	struct ipc_chan *queue;
} D;

/* Header lines we add: Return-Path (RFC 5321 4.4) and Delivered-To. */
static long deliver_prefix(const struct qenv *e, const struct qenv_rcpt *r, char *buf, size_t cap)
{
	if (str_fmt(buf, cap, "Return-Path: <%s>\nDelivered-To: %s\n", e->from, r->addr) < 0)
		return -1;
	return (long)strlen(buf);
}

static void deliver_one(struct djob *j, const struct qenv *e, const char *msg, size_t len,
			uint32_t k)
{
	const struct qenv_rcpt *r = &e->rcpt[j->idx[k]];
	const char *at = strrchr(r->mbox, '@');
	const struct conf_domain *d = at ? conf_find_domain(D.conf, at + 1, strlen(at + 1)) : NULL;
	char dir[CONF_PATH_MAX * 2], prefix[2 * SMTP_ADDR_MAX + 64], name[DELIVER_NAME_MAX];
	long plen;

	if (!d) {
		str_fmt(j->why[k], DELIVER_WHY_MAX, "mailbox %s is not in a local domain", r->mbox);
		return;
	}
	if (maildir_path(d->maildir, r->mbox, dir, sizeof dir, j->why[k], DELIVER_WHY_MAX) < 0)
		return;
	/* quarantined (DMARC): the Maildir++ Junk folder of that mailbox */
	if (strcmp(e->folder, "Junk") == 0 &&
	    str_fmt(dir + strlen(dir), sizeof dir - strlen(dir), "/.Junk") < 0) {
		str_fmt(j->why[k], DELIVER_WHY_MAX, "mailbox path too long");
		return;
	}
	if ((plen = deliver_prefix(e, r, prefix, sizeof prefix)) < 0) {
		str_fmt(j->why[k], DELIVER_WHY_MAX, "header too long");
		return;
	}
	if (maildir_name(name, sizeof name, (long long)e->time, j->id, j->idx[k],
			 D.conf->hostname) < 0) {
		str_fmt(j->why[k], DELIVER_WHY_MAX, "mailbox file name too long");
		return;
	}
	/* found in the spool at start: its copy may have been made before a
	 * crash or a stop that could not record it */
	if ((j->flags & QJOB_F_RECOVERED) && maildir_has(dir, name) == 1) {
		j->ok[k] = 2;
		return;
	}
	if (maildir_deliver(dir, name, prefix, (size_t)plen, msg, len, j->why[k],
			    DELIVER_WHY_MAX) == 0)
		j->ok[k] = 1;
}

static void deliver_fail_all(struct djob *j, const char *why)
{
	for (uint32_t k = 0; k < j->n; k++)
		str_fmt(j->why[k], DELIVER_WHY_MAX, "%s", why);
}

static void deliver_log(const struct djob *j, const struct qenv *e)
{
	for (uint32_t k = 0; k < j->n; k++) {
		if (j->idx[k] >= e->n_rcpt)
			continue;
		if (j->ok[k])
			log_info("%s: to=<%s> mailbox=%s%s status=delivered%s", j->id,
				 e->rcpt[j->idx[k]].addr, e->rcpt[j->idx[k]].mbox,
				 e->folder[0] ? " folder=Junk" : "",
				 j->ok[k] == 2 ? " (its copy was there from before the restart)"
					       : "");
		else
			log_warn("%s: to=<%s> status=deferred (%s)", j->id, e->rcpt[j->idx[k]].addr,
				 j->why[k]);
	}
}

/* The whole queue file in memory: read into a buffer when small (unmapping
 * costs every thread of this process a TLB flush), else mapped. NULL when
 * it cannot be read. */
static char *deliver_load(int fd, size_t size, int *mapped)
{
	char *buf;

	*mapped = size > DELIVER_READ_MAX;
	if (*mapped) {
		buf = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		return buf == MAP_FAILED ? NULL : buf;
	}
	if ((buf = malloc(size)) == NULL)
		return NULL;
	if (pread(fd, buf, size, 0) != (ssize_t)size) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void deliver_unload(char *buf, size_t size, int mapped)
{
	if (mapped)
		munmap(buf, size);
	else
		free(buf);
}

/* One copy of the queue file serves the envelope and every recipient. */
static void deliver_work(void *arg)
{
	struct djob *j = arg;
	struct qenv e;
	struct stat st;
	char *file;
	int mapped;

	if (fstat(j->fd, &st) < 0 || st.st_size == 0) {
		deliver_fail_all(j, "queue file unreadable");
		return;
	}
	if ((file = deliver_load(j->fd, (size_t)st.st_size, &mapped)) == NULL) {
		deliver_fail_all(j, "cannot read the queue file");
		return;
	}
	if (qenv_decode(file, (size_t)st.st_size, &e) < 0) {
		deliver_fail_all(j, "queue file unreadable");
		deliver_unload(file, (size_t)st.st_size, mapped);
		return;
	}
	for (uint32_t k = 0; k < j->n; k++) {
		if (j->idx[k] >= e.n_rcpt)
			str_fmt(j->why[k], DELIVER_WHY_MAX, "no such recipient");
		else
			deliver_one(j, &e, file + e.body_off, (size_t)st.st_size - e.body_off, k);
	}
	deliver_unload(file, (size_t)st.st_size, mapped);
	deliver_log(j, &e);
	qenv_free(&e);
}

static void deliver_job_free(struct djob *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->idx);
	free(j->ok);
	free(j->why);
	free(j);
}

static void deliver_done(void *arg)
{
	struct djob *j = arg;
	struct ipc_msg *m = malloc(sizeof *m);

	if (!m)
		fatal("out of memory");
	for (uint32_t k = 0; k < j->n; k++)
		qjob_answer_rcpt(D.queue, m, j->job, j->idx[k],
				 j->ok[k] ? IPC_DLV_OK : IPC_DLV_TEMP, j->why[k]);
	qjob_answer_end(D.queue, m, j->job);
	free(m);
	deliver_job_free(j);
}

static void deliver_on_queue(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct djob *j = calloc(1, sizeof *j);

	if (!j)
		fatal("out of memory");
	qjob_decode(m, &j->job, j->id, &j->flags, &j->idx, &j->n, &j->fd);
	j->ok = calloc(j->n, sizeof *j->ok);
	j->why = calloc(j->n, sizeof *j->why);
	if (!j->ok || !j->why)
		fatal("out of memory");
	if (pool_submit(D.pool, deliver_work, deliver_done, j) < 0)
		fatal("out of memory");
}

static void deliver_on_closed(struct ipc_chan *ch, void *arg)
{
	log_info("queue closed its channel; deliver exits");
	exit(0);
}

static void deliver_on_term(evutil_socket_t sig, short what, void *arg)
{
	exit(0);
}

int deliver_main(struct proc_setup *s)
{
	int keep[1] = {s->q_deliver[1]};
	struct event *term;

	log_setproc("deliver");
	proc_close_except(s, keep, 1);
	proc_drop(&s->queue_id, NULL, "deliver");
	D.conf = s->conf;
	D.base = event_base_new();
	if (!D.base)
		fatal("cannot create the event loop");
	D.pool = pool_new(D.base, DELIVER_THREADS);
	D.queue = ipc_chan_new(D.base, s->q_deliver[1], "queue", deliver_on_queue,
			       deliver_on_closed, NULL);
	term = evsignal_new(D.base, SIGTERM, deliver_on_term, NULL);
	if (!D.queue || !term || evsignal_add(term, NULL) < 0)
		fatal("cannot set up the delivery process");
	log_info("ready");
	event_base_dispatch(D.base);
	return 0;
}
