/*
 * queue_sched: which committed message goes to which delivery process
 * next (local recipients to deliver, then other domains' to remote), what
 * happens with the answers, retries with backoff, the queue lifetime and
 * delay notices, and the operator's flush / hold / release / delete.
 *
 * A message leaves the spool only when every recipient is delivered or has
 * failed for good (and its bounce is queued). Progress is recorded in
 * queue/ID.state (appended and fsync'd) so no recipient is delivered twice
 * after a clean restart; a crash between a delivery and that record means
 * the recipient may get the message twice, never zero times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_dsn.h"
#include "queue/queue_int.h"
#include "util/log.h"
#include "util/str.h"

#define QSTATE_READ_MAX (256 * 1024)

static void queue_remove(struct qmsg *q, const char *why);

struct qmsg *queue_msg_new(const char *id, uint32_t n_rcpt, int64_t arrival)
{
	struct qmsg *q = calloc(1, sizeof *q);

	if (!q || (q->done = calloc(n_rcpt, 1)) == NULL ||
	    (q->newdone = calloc(n_rcpt, 1)) == NULL || (q->newfail = calloc(n_rcpt, 1)) == NULL ||
	    (q->remote = calloc(n_rcpt, 1)) == NULL)
		fatal("out of memory");
	memcpy(q->id, id, QUEUE_ID_SIZE);
	q->n_rcpt = n_rcpt;
	q->arrival = arrival;
	q->slot = -1;
	q->all_next = Q.all;
	if (Q.all)
		Q.all->all_prev = q;
	Q.all = q;
	return q;
}

void queue_msg_free(struct qmsg *q)
{
	if (q->all_prev)
		q->all_prev->all_next = q->all_next;
	else
		Q.all = q->all_next;
	if (q->all_next)
		q->all_next->all_prev = q->all_prev;
	if (q->timer)
		event_free(q->timer);
	if (q->why)
		for (uint32_t i = 0; i < q->n_rcpt; i++)
			free(q->why[i]);
	free(q->why);
	free(q->done);
	free(q->newdone);
	free(q->newfail);
	free(q->remote);
	free(q);
}

/* Recipients of kind k still to do. */
static uint32_t queue_todo(const struct qmsg *q, enum qkind k)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		n += !q->done[i] && q->remote[i] == (k == QK_REMOTE);
	return n;
}

/* Local recipients first, then those in other domains. */
static enum qkind queue_next_kind(const struct qmsg *q)
{
	return queue_todo(q, QK_LOCAL) ? QK_LOCAL : QK_REMOTE;
}

void queue_ready(struct qmsg *q)
{
	enum qkind k = queue_next_kind(q);

	if (q->hold || q->queued || q->slot >= 0)
		return;
	q->next = NULL;
	q->queued = 1;
	if (Q.ready_tail[k])
		Q.ready_tail[k]->next = q;
	else
		Q.ready_head[k] = q;
	Q.ready_tail[k] = q;
}

/* Take q off its ready list (the control socket's hold and delete). */
static void queue_unready(struct qmsg *q)
{
	for (int k = 0; k < QK_COUNT && q->queued; k++) {
		struct qmsg *prev = NULL;
		for (struct qmsg *p = Q.ready_head[k]; p; prev = p, p = p->next) {
			if (p != q)
				continue;
			if (prev)
				prev->next = p->next;
			else
				Q.ready_head[k] = p->next;
			if (Q.ready_tail[k] == p)
				Q.ready_tail[k] = prev;
			q->queued = 0;
			break;
		}
	}
}

static int queue_free_slot(enum qkind k)
{
	for (int i = 0; i < QUEUE_INFLIGHT_MAX; i++)
		if (!Q.inflight[k * QUEUE_INFLIGHT_MAX + i])
			return k * QUEUE_INFLIGHT_MAX + i;
	return -1;
}

static struct ipc_chan *queue_chan(enum qkind k)
{
	return k == QK_LOCAL ? Q.deliver : Q.remote;
}

/* Hand q to the delivery process of kind k with the recipients still to do. */
static int queue_send_deliver(struct qmsg *q, int slot, enum qkind k)
{
	struct ipc_msg *m = malloc(sizeof *m);
	char path[64];
	int fd, rc;

	if (!m || str_fmt(path, sizeof path, "%s/%s", q->direct ? "incoming" : "queue", q->id) < 0)
		fatal("out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("%s: cannot open queue file: %s", q->id, strerror(errno));
		free(m);
		return -1;
	}
	ipc_msg_init(m, IPC_DELIVER);
	ipc_put_u64(m, (uint64_t)slot);
	ipc_put_str(m, q->id);
	ipc_put_u32(m, q->recovered ? QJOB_F_RECOVERED : 0);
	ipc_put_u32(m, queue_todo(q, k));
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		if (!q->done[i] && q->remote[i] == (k == QK_REMOTE))
			ipc_put_u32(m, i);
	m->fd = fd;
	rc = ipc_send(queue_chan(k), m);
	free(m);
	return rc;
}

static struct qmsg *queue_pop(enum qkind k)
{
	struct qmsg *q = Q.ready_head[k];

	Q.ready_head[k] = q->next;
	if (!Q.ready_head[k])
		Q.ready_tail[k] = NULL;
	q->queued = 0;
	return q;
}

/* Start as many attempts of kind k as the bounds allow. Bounded in
 * messages and in recipients: each recipient is answered by one record,
 * and a channel must never hold more than IPC_QUEUE_MAX. */
static void queue_dispatch_kind(enum qkind k)
{
	while (Q.ready_head[k] && Q.n_inflight[k] < QUEUE_INFLIGHT_MAX &&
	       (Q.n_inflight[k] == 0 || Q.inflight_rcpts[k] < QUEUE_INFLIGHT_RCPTS)) {
		struct qmsg *q = queue_pop(k);
		int slot = queue_free_slot(k);
		if (q->hold)
			continue;
		if (queue_todo(q, k) == 0) {
			if (queue_todo(q, QK_LOCAL) + queue_todo(q, QK_REMOTE) == 0)
				queue_remove(q, "all recipients done");
			else
				queue_ready(q);
			continue;
		}
		if (slot < 0 || queue_start(q, slot, k) < 0) {
			log_error("%s: cannot hand to delivery now; retrying later", q->id);
			q->tries++;
			queue_retry_later(q);
		}
	}
}

int queue_start(struct qmsg *q, int slot, enum qkind k)
{
	if (queue_send_deliver(q, slot, k) < 0)
		return -1;
	memset(q->newdone, 0, q->n_rcpt);
	memset(q->newfail, 0, q->n_rcpt);
	q->last_error[0] = '\0';
	q->slot = slot;
	q->kind = k;
	q->sent = queue_todo(q, k);
	Q.inflight[slot] = q;
	Q.n_inflight[k]++;
	Q.inflight_rcpts[k] += q->sent;
	return 0;
}

int queue_local_slot(uint32_t n_rcpt)
{
	if (Q.stopping || Q.ready_head[QK_LOCAL] || Q.n_inflight[QK_LOCAL] >= QUEUE_INFLIGHT_MAX ||
	    (Q.n_inflight[QK_LOCAL] > 0 &&
	     Q.inflight_rcpts[QK_LOCAL] + n_rcpt > QUEUE_INFLIGHT_RCPTS))
		return -1;
	return queue_free_slot(QK_LOCAL);
}

void queue_dispatch(void)
{
	if (Q.stopping)
		return;
	queue_dispatch_kind(QK_LOCAL);
	queue_dispatch_kind(QK_REMOTE);
}

static void queue_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct qmsg *q = arg;

	q->waiting = 0;
	queue_ready(q);
	queue_dispatch();
}

void queue_retry_later(struct qmsg *q)
{
	unsigned shift = q->tries > 7 ? 7 : (q->tries ? q->tries - 1 : 0);
	long delay = (long)QUEUE_RETRY_MIN << shift;
	struct timeval tv = {delay > QUEUE_RETRY_MAX ? QUEUE_RETRY_MAX : delay, 0};

	if (!q->timer && (q->timer = evtimer_new(Q.base, queue_on_timer, q)) == NULL)
		fatal("out of memory");
	if (evtimer_add(q->timer, &tv) < 0)
		fatal("cannot arm a retry timer");
	q->waiting = 1;
	log_info("%s: deferred (attempt %u), next try in %ld s: %s", q->id, q->tries,
		 (long)tv.tv_sec, q->last_error[0] ? q->last_error : "unknown error");
}

static struct qmsg *queue_job(struct ipc_chan *ch, uint64_t job)
{
	struct qmsg *q = job < QK_COUNT * QUEUE_INFLIGHT_MAX ? Q.inflight[job] : NULL;

	if (!q || queue_chan(q->kind) != ch)
		fatal("%s answered an unknown job %llu", ipc_chan_peer(ch),
		      (unsigned long long)job);
	return q;
}

static void queue_set_why(struct qmsg *q, uint32_t idx, const char *reason)
{
	if (!q->why && (q->why = calloc(q->n_rcpt, sizeof *q->why)) == NULL)
		fatal("out of memory");
	free(q->why[idx]);
	if ((q->why[idx] = strdup(reason[0] ? reason : "delivery failed")) == NULL)
		fatal("out of memory");
}

void queue_on_delivered(struct ipc_chan *ch, struct ipc_msg *m)
{
	uint64_t job = ipc_get_u64(m);
	uint32_t idx = ipc_get_u32(m), status = ipc_get_u32(m);
	char reason[256];
	struct qmsg *q;

	ipc_get_str(m, reason, sizeof reason);
	if (ipc_end(m) < 0 || status > IPC_DLV_PERM)
		fatal("malformed DELIVERED record from %s", ipc_chan_peer(ch));
	q = queue_job(ch, job);
	if (idx >= q->n_rcpt || q->done[idx] || q->remote[idx] != (q->kind == QK_REMOTE))
		fatal("%s answered for a bad recipient", ipc_chan_peer(ch));
	if (status == IPC_DLV_OK) {
		q->done[idx] = q->newdone[idx] = 1;
		return;
	}
	queue_set_why(q, idx, reason);
	if (status == IPC_DLV_PERM)
		q->newfail[idx] = 1;
	else if (str_copy(q->last_error, sizeof q->last_error, reason) < 0)
		str_copy(q->last_error, sizeof q->last_error, "delivery failed");
}

/* Append lines to queue/ID.state and fsync it. */
void queue_state_append(struct qmsg *q, const char *text, size_t len)
{
	char path[64];
	int fd;

	if (str_fmt(path, sizeof path, "queue/%s.state", q->id) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		log_error("%s: cannot record delivery state: %s", q->id, strerror(errno));
		return;
	}
	if (write(fd, text, len) != (ssize_t)len)
		log_error("%s: state write failed", q->id);
	if (fsync(fd) < 0)
		log_error("%s: state fsync failed: %s", q->id, strerror(errno));
	close(fd);
}

/* Record what this attempt did: delivered, and the error ("fail N" lines
 * are written by queue_bounce once the bounce is queued). */
static void queue_write_state(struct qmsg *q, int tried)
{
	size_t cap = (size_t)q->n_rcpt * 16 + 512, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		fatal("out of memory");
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		if (q->newdone[i] && str_fmt(buf + n, cap - n, "done %u\n", i) == 0)
			n += strlen(buf + n);
	if (tried &&
	    str_fmt(buf + n, cap - n, "try %lld %s\n", (long long)time(NULL), q->last_error) == 0)
		n += strlen(buf + n);
	if (n)
		queue_state_append(q, buf, n);
	free(buf);
}

static void queue_remove(struct qmsg *q, const char *why)
{
	char path[64];

	if (q->bounces) { /* its bounces are not queued yet: keep it till they are */
		q->finished = 1;
		return;
	}
	if (str_fmt(path, sizeof path, "queue/%s", q->id) == 0 && unlink(path) < 0)
		log_error("%s: cannot remove from the queue: %s", q->id, strerror(errno));
	if (str_fmt(path, sizeof path, "queue/%s.state", q->id) == 0)
		unlink(path);
	log_info("%s: removed (%s)", q->id, why);
	Q.stat_delivered++;
	queue_msg_free(q);
}

/* Bounce the recipients that failed for good in this attempt. */
static void queue_fail_new(struct qmsg *q)
{
	int any = 0;

	for (uint32_t i = 0; i < q->n_rcpt; i++)
		any |= q->newfail[i];
	if (!any)
		return;
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		if (q->newfail[i])
			q->done[i] = 2;
	queue_bounce(q, 0, q->newfail);
}

/* Past queue-lifetime: every recipient left fails with 4.4.7. */
static int queue_expire(struct qmsg *q)
{
	char why[400];

	if ((int64_t)time(NULL) - q->arrival < (int64_t)Q.conf->out.lifetime)
		return 0;
	memset(q->newdone, 0, q->n_rcpt);
	memset(q->newfail, 0, q->n_rcpt);
	for (uint32_t i = 0; i < q->n_rcpt; i++) {
		if (q->done[i])
			continue;
		if (str_fmt(why, sizeof why,
			    "4.4.7 message expired after %u days in the queue; "
			    "last error: %s",
			    Q.conf->out.lifetime / 86400,
			    q->why && q->why[i] ? q->why[i] : q->last_error) < 0)
			str_copy(why, sizeof why, "4.4.7 message expired");
		queue_set_why(q, i, why);
		q->newfail[i] = 1;
	}
	queue_fail_new(q);
	queue_write_state(q, 0);
	return 1;
}

/* Still deferred after delay-warning: tell the sender, once. */
static void queue_warn_delay(struct qmsg *q)
{
	unsigned char *which;

	if (q->warned || !Q.conf->out.delay_warning ||
	    (int64_t)time(NULL) - q->arrival < (int64_t)Q.conf->out.delay_warning)
		return;
	if ((which = calloc(q->n_rcpt, 1)) == NULL)
		fatal("out of memory");
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		which[i] = !q->done[i];
	q->warned = 1;
	queue_bounce(q, 1, which);
	free(which);
}

void queue_bounce_done(struct qmsg *q)
{
	if (q->bounces > 0)
		q->bounces--;
	if (q->bounces == 0 && q->finished)
		queue_remove(q, "all recipients done");
}

void queue_on_delivered_end(struct ipc_chan *ch, struct ipc_msg *m)
{
	uint64_t job = ipc_get_u64(m);
	struct qmsg *q;

	if (ipc_end(m) < 0)
		fatal("malformed DELIVERED_END record");
	q = queue_job(ch, job);
	Q.inflight[job] = NULL;
	Q.n_inflight[q->kind]--;
	Q.inflight_rcpts[q->kind] -= q->sent;
	q->slot = -1;
	if (q->orphan)
		queue_msg_free(q);
	else if (q->direct)
		queue_direct_end(q);
	else
		queue_attempt_end(q);
	queue_dispatch();
}

void queue_attempt_end(struct qmsg *q)
{
	uint32_t left = 0, temp = 0;

	queue_fail_new(q);
	for (uint32_t i = 0; i < q->n_rcpt; i++) {
		left += !q->done[i];
		temp += !q->done[i] && q->remote[i] == (q->kind == QK_REMOTE);
	}
	if (left == 0) { /* no state to record: the file goes */
		queue_remove(q, "all recipients done");
		return;
	}
	queue_write_state(q, temp > 0);
	if (temp == 0) {
		queue_ready(q); /* this kind is done: the other kind's turn */
	} else {
		q->tries++;
		if (queue_expire(q)) {
			queue_remove(q, "expired, bounced");
		} else {
			queue_warn_delay(q);
			if (!q->hold)
				queue_retry_later(q);
		}
	}
}

/* ---- start-up ------------------------------------------------------------ */

static void queue_read_state(const char *id, struct qenv *e, struct qstate *st)
{
	char path[64];
	int fd;

	if (str_fmt(path, sizeof path, "queue/%s.state", id) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	char *buf = malloc(QSTATE_READ_MAX);
	ssize_t n = buf ? read(fd, buf, QSTATE_READ_MAX) : -1;
	if (n > 0)
		qstate_apply(e, st, buf, (size_t)n);
	free(buf);
	close(fd);
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
	queue_read_state(id, &e, &st);
	struct qmsg *q = queue_msg_new(id, (uint32_t)e.n_rcpt, e.time);
	for (size_t i = 0; i < e.n_rcpt; i++) {
		q->done[i] = (unsigned char)e.rcpt[i].done;
		q->remote[i] = strcmp(e.rcpt[i].mbox, QENV_MBOX_REMOTE) == 0;
	}
	q->tries = st.tries;
	q->recovered = 1;
	q->hold = st.hold;
	q->warned = st.warned;
	qenv_free(&e);
	if (queue_todo(q, QK_LOCAL) + queue_todo(q, QK_REMOTE) == 0)
		queue_remove(q, "all recipients were done before the restart");
	else
		queue_ready(q);
}

/* A ".state" file whose message is gone (a crash between the two unlinks). */
static void queue_scan_orphan(const char *name)
{
	char id[QUEUE_ID_SIZE], path[64];
	struct stat st;
	size_t n = strlen(name);

	if (n != QUEUE_ID_LEN + 6 || strcmp(name + QUEUE_ID_LEN, ".state") != 0)
		return;
	memcpy(id, name, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_valid(id) || str_fmt(path, sizeof path, "queue/%s", id) < 0 ||
	    stat(path, &st) == 0 || str_fmt(path, sizeof path, "queue/%s", name) < 0)
		return;
	if (unlink(path) == 0)
		log_info("%s: removed a state file left by a crash", id);
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
		} else {
			queue_scan_orphan(de->d_name);
		}
	}
	closedir(d);
	if (n)
		log_info("found %u queued message(s) from a previous run", n);
}

/* ---- the operator (control socket) ------------------------------------ */

static int __attribute__((format(printf, 3, 4)))
queue_ctl_fail(char *msg, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, cap, fmt, ap) < 0 && cap > 0)
		msg[0] = '\0';
	va_end(ap);
	return -1;
}

/* A message being delivered before its 250 is not in the queue yet. */
static struct qmsg *queue_find(const char *id)
{
	for (struct qmsg *q = Q.all; q; q = q->all_next)
		if (!q->direct && strcmp(q->id, id) == 0)
			return q;
	return NULL;
}

/* Retry q now if it is waiting; 1 when it was. */
static int queue_flush_one(struct qmsg *q)
{
	if (q->hold || q->slot >= 0 || !q->waiting)
		return 0;
	evtimer_del(q->timer);
	q->waiting = 0;
	queue_ready(q);
	return 1;
}

int queue_ctl_flush(const char *id, char *msg, size_t cap)
{
	unsigned n = 0;

	if (id) {
		struct qmsg *q = queue_find(id);
		if (!q)
			return queue_ctl_fail(msg, cap, "no message %s in the queue", id);
		if (q->hold)
			return queue_ctl_fail(msg, cap, "%s is held (release it first)", id);
		n = (unsigned)queue_flush_one(q);
	} else {
		for (struct qmsg *q = Q.all; q; q = q->all_next)
			n += (unsigned)queue_flush_one(q);
	}
	log_info("flush%s%s: %u message(s) retried now", id ? " " : "", id ? id : "", n);
	queue_dispatch();
	(void)str_fmt(msg, cap, "%u message(s) scheduled for delivery now", n);
	return 0;
}

int queue_ctl_hold(const char *id, int hold, char *msg, size_t cap)
{
	struct qmsg *q = queue_find(id);

	if (!q)
		return queue_ctl_fail(msg, cap, "no message %s in the queue", id);
	if (q->hold == hold) {
		(void)str_fmt(msg, cap, "%s is already %s", id, hold ? "held" : "released");
		return 0;
	}
	q->hold = hold;
	queue_state_append(q, hold ? "hold 1\n" : "hold 0\n", 7);
	if (hold) {
		queue_unready(q);
		if (q->waiting)
			evtimer_del(q->timer);
		q->waiting = 0;
	} else if (q->slot < 0) {
		queue_ready(q);
		queue_dispatch();
	}
	log_info("%s: %s by the operator", id, hold ? "held" : "released");
	(void)str_fmt(msg, cap, "%s %s%s", id, hold ? "held" : "released",
		      hold && q->slot >= 0 ? " (after the delivery in progress)" : "");
	return 0;
}

int queue_ctl_delete(const char *id, char *msg, size_t cap)
{
	struct qmsg *q = queue_find(id);

	if (!q)
		return queue_ctl_fail(msg, cap, "no message %s in the queue", id);
	if (q->slot >= 0 || q->bounces)
		return queue_ctl_fail(msg, cap, "%s is being delivered; hold it and try again", id);
	queue_unready(q);
	queue_remove(q, "deleted by the operator, no bounce");
	(void)str_fmt(msg, cap, "%s deleted", id);
	return 0;
}
