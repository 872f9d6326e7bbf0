/*
 * queue_proc: the queue process — owner of the spool. Sets up the spool
 * directories it runs in, wires the IPC channels from the SMTP workers and
 * to the delivery process, and runs the event loop.
 *
 * Security role: runs as queue-user, chrooted to the spool when started as
 * root; it never parses network bytes, only IPC records (re-validated).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parent/proc.h"
#include "queue/queue_int.h"
#include "util/log.h"
#include "util/pool.h"
#include "util/str.h"

#define QUEUE_STOP_TICK_US 20000 /* how often a stopping queue looks whether it is done */

struct queue Q;

static void queue_on_worker(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct qworker *w = arg;

	if (m->fd >= 0) {
		close(m->fd);
		fatal("smtp worker %u sent a descriptor", w->idx);
	}
	switch (m->type) {
	case IPC_MSG_OPEN:
		queue_on_open(w, m);
		break;
	case IPC_MSG_RCPT:
		queue_on_rcpt(w, m);
		break;
	case IPC_MSG_COMMIT:
		queue_on_commit(w, m);
		break;
	case IPC_MSG_ABORT:
		queue_on_abort(w, m);
		break;
	default:
		fatal("smtp worker %u sent an unexpected record type %u", w->idx, m->type);
	}
}

static void queue_on_deliver(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	if (m->fd >= 0) {
		close(m->fd);
		fatal("delivery process sent a descriptor");
	}
	if (m->type == IPC_DELIVERED_RCPT)
		queue_on_delivered(ch, m);
	else if (m->type == IPC_DELIVERED_END)
		queue_on_delivered_end(ch, m);
	else
		fatal("delivery process sent an unexpected record type %u", m->type);
}

static void queue_on_closed(struct ipc_chan *ch, void *arg)
{
	log_info("%s closed its channel; queue exits", ipc_chan_peer(ch));
	exit(0);
}

/* A worker that stops (or dies: the parent then stops the server) does not
 * end the queue: the other workers may still wait for their commits. */
static void queue_on_worker_closed(struct ipc_chan *ch, void *arg)
{
	log_info("%s closed its channel", ipc_chan_peer(ch));
}

static unsigned queue_busy(void)
{
	return Q.n_inflight[QK_LOCAL] + Q.n_inflight[QK_REMOTE] + pool_pending(Q.pool) +
	       (Q.sync_running != NULL) + (Q.sync_batch != NULL);
}

static void queue_on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tick = {0, QUEUE_STOP_TICK_US};
	time_t *deadline = arg;
	unsigned busy = queue_busy();

	if (busy > 0 && time(NULL) < *deadline) {
		if (event_base_once(Q.base, -1, EV_TIMEOUT, queue_on_stop_tick, arg, &tick) == 0)
			return;
	}
	if (busy > 0)
		log_warn("stopping after %d s with %u deliveries unanswered and %u spool writes "
			 "unfinished (tried again at the next start)",
			 QUEUE_STOP_WAIT, Q.n_inflight[QK_LOCAL] + Q.n_inflight[QK_REMOTE],
			 busy - Q.n_inflight[QK_LOCAL] - Q.n_inflight[QK_REMOTE]);
	log_info("stopping: %llu committed, %llu delivered", (unsigned long long)Q.stat_committed,
		 (unsigned long long)Q.stat_delivered);
	exit(0);
}

/*
 * SIGTERM (the parent stops the queue once the workers are gone): start no
 * delivery, but wait (at most QUEUE_STOP_WAIT) for the answers of those in
 * flight and record them, so that a restart does not deliver them again.
 */
static void queue_on_term(evutil_socket_t sig, short what, void *arg)
{
	static time_t deadline;

	if (Q.stopping)
		return;
	Q.stopping = 1;
	deadline = time(NULL) + QUEUE_STOP_WAIT;
	if (Q.n_inflight[QK_LOCAL] + Q.n_inflight[QK_REMOTE] > 0)
		log_info("stopping: waiting for %u deliveries in flight",
			 Q.n_inflight[QK_LOCAL] + Q.n_inflight[QK_REMOTE]);
	queue_on_stop_tick(-1, 0, &deadline);
}

/* Messages never committed (no 250 was given) are removed at start, and
 * so are the last run's spare files. */
void queue_clear_incoming(void)
{
	DIR *d = opendir("incoming");
	struct dirent *de;
	char path[64];

	if (!d)
		fatal("cannot read the incoming directory: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int msg = queue_id_valid(de->d_name);

		if ((msg || queue_spare_is(de->d_name)) &&
		    str_fmt(path, sizeof path, "incoming/%s", de->d_name) == 0 &&
		    unlink(path) == 0 && msg)
			log_info("%s: removed: never answered 250 before the last stop or crash",
				 de->d_name);
	}
	closedir(d);
}

static void queue_wire(struct proc_setup *s)
{
	Q.n_workers = s->n_workers;
	Q.workers = calloc(s->n_workers, sizeof *Q.workers);
	if (!Q.workers)
		fatal("out of memory");
	for (unsigned i = 0; i < s->n_workers; i++) {
		struct qworker *w = &Q.workers[i];
		char name[32];
		w->idx = i;
		str_fmt(name, sizeof name, "smtp worker %u", i);
		w->ch = ipc_chan_new(Q.base, s->w_queue[i][0], name, queue_on_worker,
				     queue_on_worker_closed, w);
		if (!w->ch)
			fatal("cannot set up the channel to %s", name);
	}
	Q.deliver = ipc_chan_new(Q.base, s->q_deliver[0], "deliver", queue_on_deliver,
				 queue_on_closed, NULL);
	Q.remote =
	    ipc_chan_new(Q.base, s->q_remote[0], "remote", queue_on_deliver, queue_on_closed, NULL);
	Q.lookup =
	    ipc_chan_new(Q.base, s->q_lookup[1], "lookup", queue_on_lookup, queue_on_closed, NULL);
	if (!Q.deliver || !Q.remote || !Q.lookup)
		fatal("cannot set up the channels to deliver, remote and lookup");
}

int queue_main(struct proc_setup *s)
{
	int keep[PROC_WORKERS_MAX + 3];
	size_t n = 0;
	struct event *term;

	log_setproc("queue");
	for (unsigned i = 0; i < s->n_workers; i++)
		keep[n++] = s->w_queue[i][0];
	keep[n++] = s->q_deliver[0];
	keep[n++] = s->q_remote[0];
	keep[n++] = s->q_lookup[1];
	proc_close_except(s, keep, n);
	if (chdir(s->conf->spool) < 0)
		fatal("cannot enter the spool %s: %s", s->conf->spool, strerror(errno));
	proc_drop(&s->queue_id, s->conf->spool, "queue");
	Q.queue_dirfd = open("queue", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (Q.queue_dirfd < 0)
		fatal("cannot open the queue directory: %s", strerror(errno));
	Q.conf = s->conf;
	Q.base = event_base_new();
	if (!Q.base)
		fatal("cannot create the event loop");
	Q.pool = pool_new(Q.base, QUEUE_FSYNC_THREADS);
	queue_wire(s);
	queue_clear_incoming();
	queue_scan();
	queue_dispatch();
	term = evsignal_new(Q.base, SIGTERM, queue_on_term, NULL);
	if (!term || evsignal_add(term, NULL) < 0)
		fatal("cannot watch signals");
	queue_ctl_init();
	log_info("ready");
	event_base_dispatch(Q.base);
	return 0;
}
