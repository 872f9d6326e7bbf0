/*
 * queue_bounce: turning recipients that failed for good (or are still
 * being retried after delay-warning) into a delivery status notification
 * to the envelope sender, queued as a new message from <>.
 *
 * Never a bounce to <> (a bounce of a bounce): a message with a null
 * sender that fails is only logged. A local sender's mailbox is asked of
 * the lookup process (the only one that reads the users file); the
 * original stays queued until its DSN is, so a crash in between means the
 * recipient is retried and bounced again, never that the bounce is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_dsn.h"
#include "queue/queue_int.h"
#include "util/log.h"
#include "util/str.h"

#define BOUNCE_LOOKUP_TRIES 10 /* lookup said "try later" this many times: give up */
#define BOUNCE_RETRY_SECS   30

/* A DSN waiting for the lookup process to name the sender's mailbox. */
struct qbounce {
	struct qbounce *next;
	uint64_t req;
	struct qmsg *orig;
	unsigned char *which; /* recipients it reports (for the "fail N" record) */
	int delayed;
	char sender[SMTP_ADDR_MAX];
	char *text;
	size_t len;
	unsigned tries;
	struct event *timer;
};

static struct qbounce *bounces;
static uint64_t bounce_req;

/* ---- what a reason says -------------------------------------------------- */

static int bounce_is_status(const char *s, size_t n)
{
	return n >= 5 && n <= 11 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.' &&
	       strspn(s + 2, "0123456789.") >= n - 2;
}

/* Split "HOST[ADDR] said: 550 5.1.1 text" or "4.4.1 text" into the DSN fields. */
static void bounce_parse_reason(const char *why, int delayed, struct dsn_rcpt *r, char *mta,
				size_t mta_cap, char *status, size_t st_cap)
{
	const char *said = strstr(why, " said: ");
	const char *text = said ? said + 7 : why, *sp;

	mta[0] = '\0';
	if (said) {
		size_t hn = strcspn(why, "[ ");
		(void)str_copyn(mta, mta_cap, why, hn < (size_t)(said - why) ? hn : 0);
		if (strlen(text) > 4 && (sp = strchr(text + 4, ' ')) != NULL &&
		    bounce_is_status(text + 4, (size_t)(sp - text - 4)))
			(void)str_copyn(status, st_cap, text + 4, (size_t)(sp - text - 4));
		else
			(void)str_fmt(status, st_cap, "%c.0.0", text[0] == '4' ? '4' : '5');
	} else if ((sp = strchr(why, ' ')) != NULL && bounce_is_status(why, (size_t)(sp - why))) {
		(void)str_copyn(status, st_cap, why, (size_t)(sp - why));
		text = sp + 1;
	} else {
		(void)str_copy(status, st_cap, delayed ? "4.0.0" : "5.0.0");
	}
	r->status = status;
	r->remote_mta = mta;
	r->diag = text;
}

/* ---- composing ----------------------------------------------------------- */

/* The original's header section (up to DSN_HEADERS_MAX octets). */
static char *bounce_read_orig(int fd, const struct qenv *e, size_t *len)
{
	char *buf = malloc(DSN_HEADERS_MAX);
	ssize_t n;

	if (!buf)
		fatal("out of memory");
	do
		n = pread(fd, buf, DSN_HEADERS_MAX, (off_t)e->body_off);
	while (n < 0 && errno == EINTR);
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

/* Build the DSN text for q's recipients in which[]; 0 or -1. */
static int bounce_compose(struct qmsg *q, const struct qenv *e, int fd, int delayed,
			  const unsigned char *which, char **text, size_t *len)
{
	struct dsn_rcpt *r = calloc(q->n_rcpt, sizeof *r);
	char(*mta)[256] = calloc(q->n_rcpt, sizeof *mta);
	char(*st)[16] = calloc(q->n_rcpt, sizeof *st);
	char token[QUEUE_ID_SIZE];
	size_t n = 0, olen;
	int rc;

	if (!r || !mta || !st || queue_id_new(token) < 0)
		fatal("out of memory");
	for (uint32_t i = 0; i < q->n_rcpt && i < e->n_rcpt; i++) {
		if (!which[i])
			continue;
		r[n].addr = e->rcpt[i].addr;
		bounce_parse_reason(q->why && q->why[i] ? q->why[i] : q->last_error, delayed, &r[n],
				    mta[n], sizeof mta[n], st[n], sizeof st[n]);
		n++;
	}
	char *orig = bounce_read_orig(fd, e, &olen);
	struct dsn_info in = {.hostname = Q.conf->hostname,
			      .id = q->id,
			      .sender = e->from,
			      .arrival = e->time,
			      .now = (int64_t)time(NULL),
			      .action = delayed ? DSN_DELAYED : DSN_FAILED,
			      .rcpt = r,
			      .n_rcpt = n,
			      .orig = orig,
			      .orig_len = olen,
			      .utf8 = (e->flags & QENV_F_UTF8) != 0,
			      .token = token};
	rc = n ? dsn_build(&in, text, len) : -1;
	free(orig);
	free(r);
	free(mta);
	free(st);
	return rc;
}

/* ---- finishing ----------------------------------------------------------- */

/* The DSN is queued (or none was due): record it in the original's state. */
static void bounce_record(struct qmsg *q, const unsigned char *which, int delayed)
{
	size_t cap = (size_t)q->n_rcpt * 16 + 16, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		fatal("out of memory");
	if (delayed) {
		n = (size_t)(str_copy(buf, cap, "warned\n") < 0 ? 0 : 7);
	} else {
		for (uint32_t i = 0; i < q->n_rcpt; i++)
			if (which[i] && str_fmt(buf + n, cap - n, "fail %u\n", i) == 0)
				n += strlen(buf + n);
	}
	if (n)
		queue_state_append(q, buf, n);
	free(buf);
	queue_bounce_done(q);
}

static void bounce_free(struct qbounce *b)
{
	for (struct qbounce **pp = &bounces; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	if (b->timer)
		event_free(b->timer);
	free(b->which);
	free(b->text);
	free(b);
}

static void bounce_finish(struct qbounce *b, const char *mbox)
{
	if (mbox && queue_inject("", b->sender, mbox, b->text, b->len) < 0) {
		log_error("%s: cannot queue the %s notice to <%s>; the message stays queued",
			  b->orig->id, b->delayed ? "delay" : "bounce", b->sender);
		queue_bounce_done(b->orig); /* not recorded: retried, bounced again */
	} else {
		bounce_record(b->orig, b->which, b->delayed);
	}
	bounce_free(b);
}

static void bounce_ask(struct qbounce *b)
{
	struct ipc_msg *m = malloc(sizeof *m);

	if (!m)
		fatal("out of memory");
	b->req = ++bounce_req;
	ipc_msg_init(m, IPC_RCPT_CHECK);
	ipc_put_u64(m, b->req);
	ipc_put_str(m, b->sender);
	ipc_put_str(m, "");
	ipc_put_str(m, "");
	ipc_put_u32(m, IPC_RCPT_F_EXEMPT);
	if (ipc_send(Q.lookup, m) < 0)
		fatal("lost the lookup process");
	free(m);
}

static void bounce_on_timer(evutil_socket_t fd, short what, void *arg)
{
	bounce_ask(arg);
}

void queue_on_lookup(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	char mbox[SMTP_ADDR_MAX];
	uint64_t req = ipc_get_u64(m);
	uint32_t status = ipc_get_u32(m);
	struct qbounce *b = bounces;
	struct timeval tv = {BOUNCE_RETRY_SECS, 0};

	ipc_get_str(m, mbox, sizeof mbox);
	if (m->type != IPC_RCPT_RESULT || m->fd >= 0 || ipc_end(m) < 0)
		fatal("malformed record from lookup");
	while (b && b->req != req)
		b = b->next;
	if (!b)
		fatal("lookup answered an unknown request");
	if (status == IPC_RCPT_OK) {
		bounce_finish(b, mbox);
		queue_dispatch();
	} else if (status == IPC_RCPT_TEMPFAIL && ++b->tries < BOUNCE_LOOKUP_TRIES) {
		if (!b->timer && !(b->timer = evtimer_new(Q.base, bounce_on_timer, b)))
			fatal("out of memory");
		evtimer_add(b->timer, &tv);
	} else {
		log_warn("%s: no %s notice: sender <%s> is not a local mailbox", b->orig->id,
			 b->delayed ? "delay" : "bounce", b->sender);
		bounce_finish(b, NULL);
	}
}

void queue_bounce(struct qmsg *q, int delayed, const unsigned char *which)
{
	struct qbounce *b = calloc(1, sizeof *b);
	struct qenv e;
	char path[64];
	int fd = -1;

	if (!b || (b->which = malloc(q->n_rcpt)) == NULL)
		fatal("out of memory");
	memcpy(b->which, which, q->n_rcpt);
	b->orig = q;
	b->delayed = delayed;
	q->bounces++;
	b->next = bounces;
	bounces = b;
	if (str_fmt(path, sizeof path, "queue/%s", q->id) < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || qenv_read_fd(fd, &e) < 0) {
		log_error("%s: cannot read it to bounce it", q->id);
		if (fd >= 0)
			close(fd);
		bounce_finish(b, NULL);
		return;
	}
	if (!e.from[0]) {
		log_info("%s: no %s notice: the sender is <>", q->id, delayed ? "delay" : "bounce");
	} else if (bounce_compose(q, &e, fd, delayed, which, &b->text, &b->len) < 0) {
		log_error("%s: cannot compose the %s notice", q->id, delayed ? "delay" : "bounce");
	} else {
		(void)str_copy(b->sender, sizeof b->sender, e.from);
		const char *at = strrchr(e.from, '@');
		int local = at && conf_find_domain(Q.conf, at + 1, strlen(at + 1));
		log_info("%s: %s notice to <%s>", q->id, delayed ? "delay" : "bounce", e.from);
		qenv_free(&e);
		close(fd);
		if (local)
			bounce_ask(b);
		else
			bounce_finish(b, QENV_MBOX_REMOTE);
		return;
	}
	qenv_free(&e);
	close(fd);
	bounce_finish(b, NULL);
}

/* ---- writing a new message ------------------------------------------------ */

static int inject_write(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int queue_inject(const char *from, const char *rcpt, const char *mbox, const char *text, size_t len)
{
	struct qenv e;
	struct qenv_rcpt r;
	char path[64], final[64], *hdr = malloc(QENV_HEADER_MAX);
	long hl;
	int fd = -1, rc = -1;

	memset(&e, 0, sizeof e);
	memset(&r, 0, sizeof r);
	if (!hdr || queue_id_new(e.id) < 0 || str_copy(e.from, sizeof e.from, from) < 0 ||
	    str_copy(r.addr, sizeof r.addr, rcpt) < 0 ||
	    str_copy(r.mbox, sizeof r.mbox, mbox) < 0 ||
	    str_copy(e.client, sizeof e.client, "local") < 0 ||
	    str_copy(e.helo, sizeof e.helo, Q.conf->hostname) < 0)
		goto out;
	e.time = (int64_t)time(NULL);
	e.n_rcpt = 1;
	e.rcpt = &r;
	if ((hl = qenv_encode(&e, hdr, QENV_HEADER_MAX)) < 0 ||
	    str_fmt(path, sizeof path, "incoming/%s", e.id) < 0 ||
	    str_fmt(final, sizeof final, "queue/%s", e.id) < 0)
		goto out;
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || inject_write(fd, hdr, (size_t)hl) < 0 || inject_write(fd, text, len) < 0 ||
	    fsync(fd) < 0 || rename(path, final) < 0 || fsync(Q.queue_dirfd) < 0) {
		log_error("cannot queue a new message: %s", strerror(errno));
		unlink(path);
		goto out;
	}
	struct qmsg *q = queue_msg_new(e.id, 1, e.time);
	q->remote[0] = strcmp(mbox, QENV_MBOX_REMOTE) == 0;
	queue_ready(q); /* the caller dispatches */
	log_info("%s: queued from=<%s> to=<%s>", e.id, from, rcpt);
	Q.stat_committed++;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(hdr);
	return rc;
}
