/*
 * queue_commit: receiving a message from an SMTP worker and making it
 * durable before the worker may answer 250.
 *
 * OPEN + RCPT records carry the envelope; the queue writes it at the head
 * of incoming/ID and hands the worker a write-only, append-only descriptor
 * to that file. On COMMIT the queue checks the file (size, untouched
 * envelope), fsyncs it on a pool thread, renames it into queue/, and
 * answers only after one fsync of the queue directory that serves every
 * message renamed meanwhile (group commit).
 *
 * Delivery before the 250: a message whose recipients are all local (at
 * most QUEUE_DIRECT_RCPTS), while deliver has room, is first delivered
 * from incoming/ID. When every
 * recipient's Maildir copy is fsync'd the worker may reply and the file is
 * removed without ever being fsync'd or renamed: the message is as durable
 * as on the queued path (it is in the mailboxes), for one fsync, a rename
 * and a share of a directory fsync less. If any recipient is not done, the
 * message is committed as above and that attempt counts as its first; if
 * the delivery takes over QUEUE_DIRECT_WAIT seconds, the message is
 * committed meanwhile and the delivery ends as a queued message's would.
 *
 * Spare files: the file of a small message delivered before the 250 is
 * kept as incoming/sW.K for worker W's next message (at most
 * QUEUE_SPARE_MAX per worker, QUEUE_SPARE_SIZE octets each), instead of
 * being removed and a new one created. A file system pays for every inode
 * it allocates and frees (ext4 without a journal even skips every
 * recently freed inode it meets while it looks for one); a rename costs
 * less. The next message's envelope overwrites it and the file is cut to
 * the envelope's length: never cut to zero, which makes ext4 write the
 * file's data out at its next close. Only the worker that had the file
 * gets it back: it may have kept its descriptor, and may write only into
 * its own messages. Spare files are removed at start.
 *
 * Security role: the worker is not trusted. Every field is re-validated
 * here; a worker that breaks the protocol is a fatal error for the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "util/log.h"
#include "util/str.h"

struct qincoming {
	struct qincoming *next;
	struct qworker *w;
	char id[QUEUE_ID_SIZE];
	char *hdr;
	size_t hdr_len;
	uint32_t n_rcpt;
	unsigned char *remote; /* per recipient: waits for remote delivery */
	uint64_t req;	       /* COMMIT request, answered when durable */
	uint64_t size;	       /* of the message after the envelope, as committed */
	int fd;		/* our descriptor held during fsync (read-write with a late region) */
	int failed;	/* errno of a failed fsync/rename */
	char *late;	/* the late region to write at commit (QENV_LATE_SIZE), or NULL */
	struct qmsg *q; /* its delivery before the 250, or NULL */
	struct event *wait_ev; /* that delivery's time limit; NULL once it is being committed */
	char late_line[sizeof QENV_LATE_LINE];
};

static void queue_protocol_error(struct qworker *w, const char *what)
{
	fatal("smtp worker %u broke the queue protocol (%s): shutting down", w->idx, what);
}

static void queue_reply_opened(struct qworker *w, uint64_t req, const char *id, int fd)
{
	struct ipc_msg *m = malloc(sizeof *m);

	if (!m)
		fatal("out of memory");
	ipc_msg_init(m, IPC_MSG_OPENED);
	ipc_put_u64(m, req);
	ipc_put_u32(m, fd >= 0);
	ipc_put_str(m, id);
	m->fd = fd;
	if (ipc_send(w->ch, m) < 0)
		log_error("cannot answer smtp worker %u", w->idx);
	free(m);
}

static void queue_reply_committed(struct qworker *w, uint64_t req, int ok, const char *why)
{
	struct ipc_msg *m = malloc(sizeof *m);

	if (!m)
		fatal("out of memory");
	ipc_msg_init(m, IPC_MSG_COMMITTED);
	ipc_put_u64(m, req);
	ipc_put_u32(m, (uint32_t)ok);
	ipc_put_str(m, why);
	if (ipc_send(w->ch, m) < 0)
		log_error("cannot answer smtp worker %u", w->idx);
	free(m);
}

void queue_on_open(struct qworker *w, struct ipc_msg *m)
{
	struct qenv *e = &w->open;
	uint64_t req = ipc_get_u64(m);
	uint32_t n;

	if (w->open_want)
		queue_protocol_error(w, "OPEN while another is open");
	memset(e, 0, sizeof *e);
	ipc_get_str(m, e->client, sizeof e->client);
	ipc_get_str(m, e->helo, sizeof e->helo);
	ipc_get_str(m, e->from, sizeof e->from);
	e->flags = ipc_get_u32(m);
	n = ipc_get_u32(m);
	if (ipc_end(m) < 0 || n == 0 || n > QENV_RCPT_MAX || e->flags > 3 ||
	    !qenv_value_ok(e->client, sizeof e->client) ||
	    !qenv_value_ok(e->helo, sizeof e->helo) || !qenv_value_ok(e->from, sizeof e->from))
		queue_protocol_error(w, "bad OPEN");
	e->rcpt = calloc(n, sizeof *e->rcpt);
	if (!e->rcpt)
		fatal("out of memory");
	e->rcpt_cap = n;
	w->open_req = req;
	w->open_want = n;
}

/*
 * Creating incoming/ID runs on a pool thread: allocating an inode can take
 * long (ext4 scans for a free one), and the queue's loop serves every
 * worker's commits meanwhile. Taking a spare file allocates nothing and
 * runs on the loop, sparing two thread wake-ups. The envelope is encoded
 * on the loop.
 */
struct qcreate {
	struct qworker *w;
	struct qincoming *in;
	uint64_t req;
	int spare; /* the worker's spare file it reuses, or -1 */
	char spare_path[32];
	int fd;
	int err;
};

static int queue_spare_path(char *buf, size_t cap, unsigned worker, unsigned k)
{
	return str_fmt(buf, cap, "incoming/s%u.%u", worker, k);
}

/* Whether name is a spare file's (sW.K). */
int queue_spare_is(const char *name)
{
	size_t n, m;

	if (name[0] != 's')
		return 0;
	n = strspn(name + 1, "0123456789");
	if (n == 0 || name[1 + n] != '.')
		return 0;
	m = strspn(name + 2 + n, "0123456789");
	return m > 0 && name[2 + n + m] == '\0';
}

/* A spare file of w, its path in c, taken: the caller renames it away at
 * once (or creates a file if that fails). -1 when there is none. */
static int queue_spare_take(struct qworker *w, struct qcreate *c)
{
	for (unsigned k = 0; k < QUEUE_SPARE_MAX; k++) {
		if (w->spare[k] &&
		    queue_spare_path(c->spare_path, sizeof c->spare_path, w->idx, k) == 0) {
			w->spare[k] = 0;
			return (int)k;
		}
	}
	return -1;
}

/* Keep in's file as a spare of its worker; 0 when kept. */
static int queue_spare_keep(const struct qincoming *in)
{
	struct qworker *w = in->w;
	char from[64], to[32];

	if (in->hdr_len + in->size > QUEUE_SPARE_SIZE)
		return -1;
	for (unsigned k = 0; k < QUEUE_SPARE_MAX; k++) {
		if (w->spare[k])
			continue;
		if (str_fmt(from, sizeof from, "incoming/%s", in->id) < 0 ||
		    queue_spare_path(to, sizeof to, w->idx, k) < 0 || rename(from, to) < 0)
			return -1;
		w->spare[k] = 1;
		return 0;
	}
	return -1;
}

/* incoming/ID holding exactly the envelope, open for appending: a spare
 * file renamed, overwritten and cut, else a new file. -1 with errno set. */
static int queue_create_file(const struct qcreate *c, const char *path)
{
	const struct qincoming *in = c->in;
	int spare = c->spare >= 0 && rename(c->spare_path, path) == 0;
	int fd = spare ? open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
		       : open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0) {
		if (spare)
			unlink(path);
		return -1;
	}
	errno = 0;
	if (pwrite(fd, in->hdr, in->hdr_len, 0) != (ssize_t)in->hdr_len ||
	    (spare && ftruncate(fd, (off_t)in->hdr_len) < 0) || fcntl(fd, F_SETFL, O_APPEND) < 0) {
		if (!errno)
			errno = EIO;
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static void queue_create_work(void *arg)
{
	struct qcreate *c = arg;
	char path[64];

	c->fd = -1;
	if (str_fmt(path, sizeof path, "incoming/%s", c->in->id) < 0) {
		c->err = ENAMETOOLONG;
		return;
	}
	if ((c->fd = queue_create_file(c, path)) < 0)
		c->err = errno;
}

static void queue_create_done(void *arg)
{
	struct qcreate *c = arg;
	struct qworker *w = c->w;
	struct qincoming *in = c->in;

	if (c->fd < 0) {
		log_error("cannot create the queue file of %s: %s", in->id, strerror(c->err));
		queue_reply_opened(w, c->req, "", -1);
		free(in->remote);
		free(in->hdr);
		free(in);
	} else {
		in->next = w->incoming;
		w->incoming = in;
		w->n_incoming++;
		queue_reply_opened(w, c->req, in->id, c->fd);
	}
	free(c);
}

/* A new incoming record for the envelope assembled in w->open, encoded. */
static struct qincoming *queue_incoming_new(struct qworker *w)
{
	struct qenv *e = &w->open;
	struct qincoming *in = calloc(1, sizeof *in);
	size_t cap = 1024 + QENV_LATE_SIZE + QENV_CLIENT_MAX + QENV_HELO_MAX + SMTP_ADDR_MAX +
		     e->n_rcpt * 2 * (SMTP_ADDR_MAX + 8);
	long len;

	if (!in || (in->hdr = malloc(cap)) == NULL || (in->remote = calloc(e->n_rcpt, 1)) == NULL)
		fatal("out of memory");
	e->time = (int64_t)time(NULL);
	if (queue_id_new(e->id) < 0 || (len = qenv_encode(e, in->hdr, cap)) < 0) {
		free(in->remote);
		free(in->hdr);
		free(in);
		return NULL;
	}
	in->hdr_len = (size_t)len;
	memcpy(in->id, e->id, sizeof in->id);
	in->w = w;
	in->n_rcpt = (uint32_t)e->n_rcpt;
	for (uint32_t i = 0; i < in->n_rcpt; i++)
		in->remote[i] = strcmp(e->rcpt[i].mbox, QENV_MBOX_REMOTE) == 0;
	in->fd = -1;
	return in;
}

static void queue_open_done(struct qworker *w)
{
	struct qincoming *in = w->n_incoming < QUEUE_INCOMING_MAX ? queue_incoming_new(w) : NULL;
	struct qcreate *c = in ? calloc(1, sizeof *c) : NULL;

	if (in && !c)
		fatal("out of memory");
	if (!in) {
		queue_reply_opened(w, w->open_req, "", -1);
	} else {
		c->w = w;
		c->in = in;
		c->req = w->open_req;
		if ((c->spare = queue_spare_take(w, c)) >= 0) {
			queue_create_work(c);
			queue_create_done(c);
		} else if (pool_submit(Q.pool, queue_create_work, queue_create_done, c) < 0) {
			fatal("out of memory");
		}
	}
	qenv_free(&w->open);
	w->open_want = 0;
}

void queue_on_rcpt(struct qworker *w, struct ipc_msg *m)
{
	uint64_t req = ipc_get_u64(m);
	struct qenv_rcpt *r;

	if (!w->open_want || req != w->open_req)
		queue_protocol_error(w, "RCPT without OPEN");
	r = &w->open.rcpt[w->open.n_rcpt];
	ipc_get_str(m, r->addr, sizeof r->addr);
	ipc_get_str(m, r->mbox, sizeof r->mbox);
	if (ipc_end(m) < 0 || !r->addr[0] || !r->mbox[0] ||
	    !qenv_value_ok(r->addr, sizeof r->addr) || !qenv_value_ok(r->mbox, sizeof r->mbox))
		queue_protocol_error(w, "bad RCPT");
	w->open.n_rcpt++;
	if (--w->open_want == 0)
		queue_open_done(w);
}

static struct qincoming *queue_take_incoming(struct qworker *w, const char *id)
{
	for (struct qincoming **pp = &w->incoming; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct qincoming *in = *pp;
			*pp = in->next;
			in->next = NULL;
			w->n_incoming--;
			return in;
		}
	}
	return NULL;
}

static void queue_incoming_free(struct qincoming *in, int unlink_file)
{
	char path[64];

	if (unlink_file && str_fmt(path, sizeof path, "incoming/%s", in->id) == 0)
		unlink(path);
	if (in->fd >= 0)
		close(in->fd);
	free(in->late);
	free(in->remote);
	free(in->hdr);
	free(in);
}

/* The file must be our envelope followed by exactly size octets. */
static int queue_check_file(struct qincoming *in, uint64_t size)
{
	char path[64];
	struct stat st;
	char *head;
	int ok;

	if (str_fmt(path, sizeof path, "incoming/%s", in->id) < 0 ||
	    (in->fd = open(path, (in->late ? O_RDWR : O_RDONLY) | O_CLOEXEC)) < 0 ||
	    fstat(in->fd, &st) < 0)
		return -1;
	if ((uint64_t)st.st_size != in->hdr_len + size || (head = malloc(in->hdr_len)) == NULL)
		return -1;
	ok = pread(in->fd, head, in->hdr_len, 0) == (ssize_t)in->hdr_len &&
	     memcmp(head, in->hdr, in->hdr_len) == 0;
	free(head);
	return ok ? 0 : -1;
}

/* Write the late region and its line in place, through the queue's own
 * descriptor (the worker's is append-only). 0, or -1 with errno set. */
static int queue_write_late(struct qincoming *in)
{
	long line_off = qenv_late_line_off(in->hdr, in->hdr_len);
	size_t ll = sizeof in->late_line - 1;
	int ok;

	if (line_off < 0) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	ok = pwrite(in->fd, in->late, QENV_LATE_SIZE, (off_t)(in->hdr_len - QENV_LATE_SIZE)) ==
		 QENV_LATE_SIZE &&
	     pwrite(in->fd, in->late_line, ll, (off_t)line_off) == (ssize_t)ll;
	if (!ok && !errno)
		errno = EIO;
	return ok ? 0 : -1;
}

static void queue_fsync_work(void *arg)
{
	struct qincoming *in = arg;
	char from[64], to[64];

	if (in->late && queue_write_late(in) < 0) {
		in->failed = errno;
		return;
	}
	if (fsync(in->fd) < 0) {
		in->failed = errno;
		return;
	}
	if (str_fmt(from, sizeof from, "incoming/%s", in->id) < 0 ||
	    str_fmt(to, sizeof to, "queue/%s", in->id) < 0 || rename(from, to) < 0)
		in->failed = errno ? errno : EINVAL;
}

static void queue_dirsync_work(void *arg)
{
	if (fsync(Q.queue_dirfd) < 0)
		fatal("fsync of the queue directory failed: %s", strerror(errno));
}

static void queue_dirsync_start(void);

static void queue_dirsync_done(void *arg)
{
	struct qincoming *list = Q.sync_running;

	Q.sync_running = NULL;
	while (list) {
		struct qincoming *in = list;
		list = in->next;
		Q.stat_committed++;
		/* a delivery before the 250 that did not finish in time, or not for all */
		if (in->q) {
			in->q->direct = NULL;
			if (in->q->slot < 0) /* it ended: that was its first attempt */
				queue_attempt_end(in->q);
			/* else it ends as any queued message's attempt does */
		} else {
			struct qmsg *q = queue_msg_new(in->id, in->n_rcpt, (int64_t)time(NULL));
			memcpy(q->remote, in->remote, in->n_rcpt);
			queue_ready(q);
		}
		queue_reply_committed(in->w, in->req, 1, "");
		queue_incoming_free(in, 0);
	}
	queue_dirsync_start();
	queue_dispatch();
}

static void queue_dirsync_start(void)
{
	if (Q.sync_running || !Q.sync_batch)
		return;
	Q.sync_running = Q.sync_batch;
	Q.sync_batch = NULL;
	if (pool_submit(Q.pool, queue_dirsync_work, queue_dirsync_done, NULL) < 0)
		fatal("out of memory");
}

static void queue_fsync_done(void *arg)
{
	struct qincoming *in = arg;

	close(in->fd);
	in->fd = -1;
	if (in->failed) {
		log_error("%s: cannot commit to the spool: %s", in->id, strerror(in->failed));
		queue_reply_committed(in->w, in->req, 0, "spool write error");
		if (in->q) {
			in->q->direct = NULL;
			if (in->q->slot >= 0)
				in->q->orphan = 1; /* freed when deliver answers */
			else
				queue_msg_free(in->q);
		}
		queue_incoming_free(in, 1);
		return;
	}
	in->next = Q.sync_batch;
	Q.sync_batch = in;
	queue_dirsync_start();
}

/* Header lines a worker may put in front of a message: "Name: value"
 * lines and their continuations, each ending in CRLF, printable or 8-bit
 * octets and tabs only (no bare CR or LF, no NUL). */
static int queue_prefix_ok(const char *p)
{
	int bol = 1;

	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (bol && (c == '\r' || c == ':'))
			return 0; /* no empty line, no nameless field */
		if (c == '\r') {
			if (p[1] != '\n')
				return 0;
			p++;
			bol = 1;
			continue;
		}
		if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
		bol = 0;
	}
	return bol; /* ends with CRLF (or is empty) */
}

/* The late parts of a COMMIT into in->late; 0, or -1 when malformed. */
static int queue_commit_late(struct qincoming *in, const char *lines, const char *prefix)
{
	if (!lines[0] && !prefix[0])
		return 0;
	if ((lines[0] && strcmp(lines, "folder Junk\n") != 0) || !queue_prefix_ok(prefix) ||
	    (prefix[0] == ' ' || prefix[0] == '\t'))
		return -1;
	if ((in->late = malloc(QENV_LATE_SIZE)) == NULL)
		fatal("out of memory");
	return qenv_late_fill(lines, prefix, in->late, in->late_line);
}

/* Deliver in now, before the 250 (see the top of this file); 0 when it
 * went to deliver, -1 when it takes the queued path. */
static void queue_direct_timeout(evutil_socket_t fd, short what, void *arg);

static int queue_direct_try(struct qincoming *in)
{
	struct timeval wait = {QUEUE_DIRECT_WAIT, 0};
	struct qmsg *q;
	int slot;

	/* one deliver thread writes them in turn: the client would wait */
	if (in->n_rcpt > QUEUE_DIRECT_RCPTS)
		return -1;
	for (uint32_t i = 0; i < in->n_rcpt; i++)
		if (in->remote[i])
			return -1;
	if ((slot = queue_local_slot(in->n_rcpt)) < 0)
		return -1;
	if (in->late) { /* deliver reads it: write it now, and only once */
		if (queue_write_late(in) < 0)
			return -1;
		free(in->late);
		in->late = NULL;
	}
	q = queue_msg_new(in->id, in->n_rcpt, (int64_t)time(NULL));
	q->direct = in;
	if (queue_start(q, slot, QK_LOCAL) < 0) {
		queue_msg_free(q);
		return -1;
	}
	in->q = q;
	if ((in->wait_ev = evtimer_new(Q.base, queue_direct_timeout, in)) == NULL ||
	    evtimer_add(in->wait_ev, &wait) < 0)
		fatal("cannot arm a delivery timer");
	return 0;
}

/* Commit in after all: the 250 then waits only for the spool, as on the
 * queued path. Its delivery may still be in flight. */
static void queue_direct_commit(struct qincoming *in)
{
	if (in->wait_ev) {
		event_free(in->wait_ev);
		in->wait_ev = NULL;
	}
	if (pool_submit(Q.pool, queue_fsync_work, queue_fsync_done, in) < 0)
		fatal("out of memory");
}

/* A slow delivery (a hung mailbox file system) must not hold the reply. */
static void queue_direct_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qincoming *in = arg;

	log_info("%s: delivery before the reply takes over %d s; committing it to the queue",
		 in->id, QUEUE_DIRECT_WAIT);
	queue_direct_commit(in);
}

void queue_direct_end(struct qmsg *q)
{
	struct qincoming *in = q->direct;
	uint32_t done = 0;

	if (!in->wait_ev) /* being committed: the commit's end decides what this attempt meant */
		return;
	for (uint32_t i = 0; i < q->n_rcpt; i++)
		done += q->done[i] == 1;
	if (done == q->n_rcpt) {
		event_free(in->wait_ev);
		in->wait_ev = NULL;
		queue_reply_committed(in->w, in->req, 1, "");
		Q.stat_committed++;
		Q.stat_delivered++;
		log_info("%s: removed (all recipients done before the reply)", q->id);
		queue_msg_free(q);
		queue_incoming_free(in, queue_spare_keep(in) < 0);
		return;
	}
	log_info("%s: %u of %u recipient(s) done before the reply; committing it for the others",
		 q->id, done, q->n_rcpt);
	queue_direct_commit(in); /* q->direct stays set: not in the queue until that is durable */
}

void queue_on_commit(struct qworker *w, struct ipc_msg *m)
{
	char id[QUEUE_ID_SIZE + 1], lines[64];
	static char prefix[QENV_LATE_SIZE + 1];
	uint64_t req = ipc_get_u64(m);
	struct qincoming *in;

	ipc_get_str(m, id, sizeof id);
	uint64_t size = ipc_get_u64(m);
	ipc_get_str(m, lines, sizeof lines);
	ipc_get_str(m, prefix, sizeof prefix);
	if (ipc_end(m) < 0)
		queue_protocol_error(w, "bad COMMIT");
	if ((in = queue_take_incoming(w, id)) == NULL) { /* not fatal: nothing to lose */
		log_error("smtp worker %u committed an unknown message %s", w->idx, id);
		queue_reply_committed(w, req, 0, "unknown message");
		return;
	}
	in->req = req;
	in->size = size;
	if (queue_commit_late(in, lines, prefix) < 0)
		queue_protocol_error(w, "bad late envelope or header prefix in COMMIT");
	if (queue_check_file(in, size) < 0) {
		log_error("%s: message file does not match what the worker reported", id);
		queue_reply_committed(w, req, 0, "message file check failed");
		queue_incoming_free(in, 1);
		return;
	}
	if (queue_direct_try(in) == 0)
		return;
	if (pool_submit(Q.pool, queue_fsync_work, queue_fsync_done, in) < 0)
		fatal("out of memory");
}

void queue_on_abort(struct qworker *w, struct ipc_msg *m)
{
	char id[QUEUE_ID_SIZE + 1];
	struct qincoming *in;

	ipc_get_str(m, id, sizeof id);
	if (ipc_end(m) < 0)
		queue_protocol_error(w, "bad ABORT");
	if ((in = queue_take_incoming(w, id)) == NULL) {
		log_error("smtp worker %u aborted an unknown message %s", w->idx, id);
		return;
	}
	queue_incoming_free(in, 1);
}
