/*
 * queue_sched: which committed message goes to the delivery process next,
 * what happens with the answer, and retries with backoff.
 *
 * A message leaves the spool only when every recipient is delivered; a
 * recipient delivered in an attempt that did not finish the message is
 * recorded in queue/ID.state (appended and fsync'd) so it is not delivered
 * again. A crash between a Maildir write and that record means the
 * recipient may get the message twice, never zero times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/log.h"
#include "util/str.h"

#define QSTATE_READ_MAX (256 * 1024)

struct qmsg *queue_msg_new(const char *id, uint32_t n_rcpt)
{
	struct qmsg *q = calloc(1, sizeof *q);

	if (!q || (q->done = calloc(n_rcpt, 1)) == NULL ||
	    (q->newdone = calloc(n_rcpt, 1)) == NULL || (q->remote = calloc(n_rcpt, 1)) == NULL)
		fatal("out of memory");
	memcpy(q->id, id, QUEUE_ID_SIZE);
	q->n_rcpt = n_rcpt;
	q->slot = -1;
	return q;
}

static void queue_msg_free(struct qmsg *q)
{
	if (q->timer)
		event_free(q->timer);
	free(q->done);
	free(q->newdone);
	free(q->remote);
	free(q);
}

void queue_ready(struct qmsg *q)
{
	q->next = NULL;
	if (Q.ready_tail)
		Q.ready_tail->next = q;
	else
		Q.ready_head = q;
	Q.ready_tail = q;
}

static int queue_free_slot(void)
{
	for (int i = 0; i < QUEUE_INFLIGHT_MAX; i++)
		if (!Q.inflight[i])
			return i;
	return -1;
}

/* Hand q to the delivery process with the recipients still to do. */
static int queue_send_deliver(struct qmsg *q, int slot)
{
	struct ipc_msg *m = malloc(sizeof *m);
	char path[64];
	uint32_t todo = 0;
	int fd, rc;

	if (!m || str_fmt(path, sizeof path, "queue/%s", q->id) < 0)
		fatal("out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("%s: cannot open queue file: %s", q->id, strerror(errno));
		free(m);
		return -1;
	}
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		todo += !q->done[i] && !q->remote[i];
	ipc_msg_init(m, IPC_DELIVER);
	ipc_put_u64(m, (uint64_t)slot);
	ipc_put_str(m, q->id);
	ipc_put_u32(m, todo);
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		if (!q->done[i] && !q->remote[i])
			ipc_put_u32(m, i);
	m->fd = fd;
	rc = ipc_send(Q.deliver, m);
	free(m);
	return rc;
}

/* Recipients the local delivery process can still do. */
static uint32_t queue_local_todo(const struct qmsg *q)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		n += !q->done[i] && !q->remote[i];
	return n;
}

/* Only recipients in other domains are left: park the message until the
 * remote delivery process exists (`sealpost queue list` shows it). */
static void queue_park_remote(struct qmsg *q)
{
	log_info("%s: waiting for remote delivery", q->id);
	q->next = Q.parked;
	Q.parked = q;
}

void queue_dispatch(void)
{
	/* Bounded in messages and in recipients: deliver answers one record per
	 * recipient, and its channel must never hold more than IPC_QUEUE_MAX. */
	while (Q.ready_head && Q.n_inflight < QUEUE_INFLIGHT_MAX &&
	       (Q.n_inflight == 0 || Q.inflight_rcpts < QUEUE_INFLIGHT_RCPTS)) {
		struct qmsg *q = Q.ready_head;
		int slot = queue_free_slot();
		Q.ready_head = q->next;
		if (!Q.ready_head)
			Q.ready_tail = NULL;
		if (queue_local_todo(q) == 0) {
			queue_park_remote(q);
			continue;
		}
		if (slot < 0 || queue_send_deliver(q, slot) < 0) {
			log_error("%s: cannot hand to delivery now; retrying later", q->id);
			q->tries++;
			queue_retry_later(q);
			continue;
		}
		memset(q->newdone, 0, q->n_rcpt);
		q->last_error[0] = '\0';
		q->slot = slot;
		q->sent = queue_local_todo(q);
		Q.inflight[slot] = q;
		Q.n_inflight++;
		Q.inflight_rcpts += q->sent;
	}
}

static void queue_on_timer(evutil_socket_t fd, short what, void *arg)
{
	queue_ready(arg);
	queue_dispatch();
}

void queue_retry_later(struct qmsg *q)
{
	unsigned shift = q->tries > 6 ? 6 : (q->tries ? q->tries - 1 : 0);
	long delay = (long)QUEUE_RETRY_MIN << shift;
	struct timeval tv = {delay > QUEUE_RETRY_MAX ? QUEUE_RETRY_MAX : delay, 0};

	if (!q->timer && (q->timer = evtimer_new(Q.base, queue_on_timer, q)) == NULL)
		fatal("out of memory");
	evtimer_add(q->timer, &tv);
	log_info("%s: deferred (attempt %u), next try in %ld s: %s", q->id, q->tries,
		 (long)tv.tv_sec, q->last_error[0] ? q->last_error : "unknown error");
}

static struct qmsg *queue_job(uint64_t job)
{
	if (job >= QUEUE_INFLIGHT_MAX || !Q.inflight[job])
		fatal("delivery process answered an unknown job %llu", (unsigned long long)job);
	return Q.inflight[job];
}

void queue_on_delivered(struct ipc_msg *m)
{
	uint64_t job = ipc_get_u64(m);
	uint32_t idx = ipc_get_u32(m), status = ipc_get_u32(m);
	char reason[256];
	struct qmsg *q;

	ipc_get_str(m, reason, sizeof reason);
	if (ipc_end(m) < 0)
		fatal("malformed DELIVERED record");
	q = queue_job(job);
	if (idx >= q->n_rcpt || q->done[idx])
		fatal("delivery process answered for a bad recipient");
	if (status == 0)
		q->done[idx] = q->newdone[idx] = 1;
	else if (str_copy(q->last_error, sizeof q->last_error, reason) < 0)
		str_copy(q->last_error, sizeof q->last_error, "delivery failed");
}

/* Record recipients delivered in this attempt, and the error. */
static void queue_write_state(struct qmsg *q)
{
	char path[64], line[512];
	int fd;

	if (str_fmt(path, sizeof path, "queue/%s.state", q->id) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		log_error("%s: cannot record delivery state: %s", q->id, strerror(errno));
		return;
	}
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		if (q->newdone[i] && str_fmt(line, sizeof line, "done %u\n", i) == 0 &&
		    write(fd, line, strlen(line)) < 0)
			log_error("%s: state write failed", q->id);
	if (str_fmt(line, sizeof line, "try %lld %s\n", (long long)time(NULL), q->last_error) ==
		0 &&
	    write(fd, line, strlen(line)) < 0)
		log_error("%s: state write failed", q->id);
	if (fsync(fd) < 0)
		log_error("%s: state fsync failed: %s", q->id, strerror(errno));
	close(fd);
}

static void queue_remove(struct qmsg *q)
{
	char path[64];

	if (str_fmt(path, sizeof path, "queue/%s", q->id) == 0 && unlink(path) < 0)
		log_error("%s: cannot remove from the queue: %s", q->id, strerror(errno));
	if (str_fmt(path, sizeof path, "queue/%s.state", q->id) == 0)
		unlink(path);
	log_info("%s: removed (all recipients delivered)", q->id);
	Q.stat_delivered++;
	queue_msg_free(q);
}

void queue_on_delivered_end(struct ipc_msg *m)
{
	uint64_t job = ipc_get_u64(m);
	struct qmsg *q;
	uint32_t left = 0;

	if (ipc_end(m) < 0)
		fatal("malformed DELIVERED_END record");
	q = queue_job(job);
	Q.inflight[job] = NULL;
	Q.n_inflight--;
	Q.inflight_rcpts -= q->sent;
	q->slot = -1;
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		left += !q->done[i];
	if (left == 0) {
		queue_remove(q);
	} else if (queue_local_todo(q) == 0) {
		queue_write_state(q);
		queue_park_remote(q);
	} else {
		q->tries++;
		queue_write_state(q);
		queue_retry_later(q);
	}
	queue_dispatch();
}

/* Re-queue one committed message found at start-up. */
static void queue_scan_one(const char *id)
{
	char path[64];
	struct qenv e;
	struct qstate st = {0};
	int fd;

	if (str_fmt(path, sizeof path, "queue/%s", id) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (qenv_read_fd(fd, &e) < 0) {
		close(fd);
		log_error("%s: unreadable queue file left in place", id);
		return;
	}
	close(fd);
	if (str_fmt(path, sizeof path, "queue/%s.state", id) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		char *buf = malloc(QSTATE_READ_MAX);
		ssize_t n = buf ? read(fd, buf, QSTATE_READ_MAX) : -1;
		if (n > 0)
			qstate_apply(&e, &st, buf, (size_t)n);
		free(buf);
		close(fd);
	}
	struct qmsg *q = queue_msg_new(id, (uint32_t)e.n_rcpt);
	for (size_t i = 0; i < e.n_rcpt; i++) {
		q->done[i] = (unsigned char)e.rcpt[i].done;
		q->remote[i] = strcmp(e.rcpt[i].mbox, QENV_MBOX_REMOTE) == 0;
	}
	q->tries = st.tries;
	qenv_free(&e);
	queue_ready(q);
}

void queue_scan(void)
{
	DIR *d = opendir("queue");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		fatal("cannot read the queue directory: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (queue_id_valid(de->d_name)) {
			queue_scan_one(de->d_name);
			n++;
		}
	}
	closedir(d);
	if (n)
		log_info("found %u queued message(s) from a previous run", n);
}
