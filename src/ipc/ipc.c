/*
 * ipc: codec and event-loop channel for sealpost's typed messages (ipc.h).
 *
 * Security role: every field is bounds-checked on read; a record that is
 * truncated, oversized, carries unexpected descriptors or leaves unread
 * bytes is reported as bad and the channel is closed. Descriptors that
 * arrive with a bad record are closed, never leaked.
 */
#include "ipc/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

struct ipc_out {
	struct ipc_out *next;
	int fd;
	size_t len;
	unsigned char buf[];
};

struct ipc_chan {
	struct event_base *base;
	int fd;
	char peer[32];
	struct event *rev;
	struct event *wev;
	ipc_handler handler;
	ipc_closed closed;
	void *arg;
	struct ipc_out *head, *tail;
	size_t queued;
	struct ipc_msg *in;
	unsigned char *raw;
	int dead;
};

void ipc_msg_init(struct ipc_msg *m, uint32_t type)
{
	m->type = type;
	m->len = 0;
	m->fd = -1;
	m->bad = 0;
	m->pos = 0;
}

static void ipc_put(struct ipc_msg *m, const void *p, size_t n)
{
	if (m->bad || n > sizeof m->data - m->len) {
		m->bad = 1;
		return;
	}
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

void ipc_put_u32(struct ipc_msg *m, uint32_t v)
{
	ipc_put(m, &v, sizeof v);
}

void ipc_put_u64(struct ipc_msg *m, uint64_t v)
{
	ipc_put(m, &v, sizeof v);
}

void ipc_put_strn(struct ipc_msg *m, const char *s, size_t n)
{
	if (n > UINT32_MAX) {
		m->bad = 1;
		return;
	}
	ipc_put_u32(m, (uint32_t)n);
	ipc_put(m, s, n);
}

void ipc_put_str(struct ipc_msg *m, const char *s)
{
	ipc_put_strn(m, s, strlen(s));
}

static int ipc_get(struct ipc_msg *m, void *p, size_t n)
{
	if (m->bad || n > m->len - m->pos) {
		m->bad = 1;
		memset(p, 0, n);
		return -1;
	}
	memcpy(p, m->data + m->pos, n);
	m->pos += n;
	return 0;
}

uint32_t ipc_get_u32(struct ipc_msg *m)
{
	uint32_t v;
	ipc_get(m, &v, sizeof v);
	return v;
}

uint64_t ipc_get_u64(struct ipc_msg *m)
{
	uint64_t v;
	ipc_get(m, &v, sizeof v);
	return v;
}

void ipc_get_str(struct ipc_msg *m, char *dst, size_t cap)
{
	uint32_t n = ipc_get_u32(m);

	dst[0] = '\0';
	if (m->bad || n >= cap || n > m->len - m->pos) {
		m->bad = 1;
		return;
	}
	if (memchr(m->data + m->pos, '\0', n) != NULL) {
		m->bad = 1;
		return;
	}
	memcpy(dst, m->data + m->pos, n);
	dst[n] = '\0';
	m->pos += n;
}

void ipc_get_blob(struct ipc_msg *m, const unsigned char **p, size_t *n, size_t cap)
{
	uint32_t len = ipc_get_u32(m);

	*p = m->data;
	*n = 0;
	if (m->bad || len > cap || len > m->len - m->pos) {
		m->bad = 1;
		return;
	}
	*p = m->data + m->pos;
	*n = len;
	m->pos += len;
}

int ipc_end(struct ipc_msg *m)
{
	if (m->bad || m->pos != m->len)
		return -1;
	return 0;
}

int ipc_decode(const unsigned char *buf, size_t n, struct ipc_msg *m)
{
	uint32_t type, len;

	if (n < IPC_HDR_LEN || n > IPC_MSG_MAX)
		return -1;
	memcpy(&type, buf, 4);
	memcpy(&len, buf + 4, 4);
	if (type == IPC_NONE || type >= IPC_TYPE_MAX || len != n - IPC_HDR_LEN)
		return -1;
	ipc_msg_init(m, type);
	memcpy(m->data, buf + IPC_HDR_LEN, len);
	m->len = len;
	return 0;
}

int ipc_send_now(int fd, struct ipc_msg *m, int timeout_ms)
{
	unsigned char *buf = malloc(IPC_HDR_LEN + m->len);
	uint32_t len = (uint32_t)m->len;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int rc = -1;

	if (!buf || m->bad || m->fd >= 0) {
		free(buf);
		return -1;
	}
	memcpy(buf, &m->type, 4);
	memcpy(buf + 4, &len, 4);
	memcpy(buf + IPC_HDR_LEN, m->data, m->len);
	while (rc < 0 && poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = send(fd, buf, IPC_HDR_LEN + m->len, MSG_NOSIGNAL);
		if (n == (ssize_t)(IPC_HDR_LEN + m->len))
			rc = 0;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	free(buf);
	return rc;
}

int ipc_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds);
}

const char *ipc_chan_peer(const struct ipc_chan *ch)
{
	return ch->peer;
}

static void ipc_chan_fail(struct ipc_chan *ch, const char *why)
{
	if (ch->dead)
		return;
	ch->dead = 1;
	event_del(ch->rev);
	event_del(ch->wev);
	if (why)
		log_error("ipc with %s: %s", ch->peer, why);
	ch->closed(ch, ch->arg);
}

/* Receive one record; returns 1 if one was handled, 0 if none, -1 on error. */
static int ipc_recv_one(struct ipc_chan *ch)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} cm;
	struct iovec iov = {ch->raw, IPC_MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cm.buf,
			    .msg_controllen = sizeof cm.buf};
	ssize_t n = recvmsg(ch->fd, &mh, MSG_CMSG_CLOEXEC);
	int fd = -1, nfds = 0;

	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if (n == 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
			if (nfds++ == 0)
				fd = got;
			else
				close(got);
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || nfds > 1 ||
	    ipc_decode(ch->raw, (size_t)n, ch->in) < 0) {
		if (fd >= 0)
			close(fd);
		ipc_chan_fail(ch, "malformed record");
		return -1;
	}
	ch->in->fd = fd;
	ch->handler(ch, ch->in, ch->arg);
	return 1;
}

static void ipc_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_chan *ch = arg;

	for (int i = 0; i < 64 && !ch->dead; i++) {
		int r = ipc_recv_one(ch);
		if (r < 0) {
			ipc_chan_fail(ch, NULL);
			return;
		}
		if (r == 0)
			return;
	}
}

static int ipc_send_raw(struct ipc_chan *ch, struct ipc_out *o)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {o->buf, o->len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (o->fd >= 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &o->fd, sizeof(int));
	}
	ssize_t n = sendmsg(ch->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR || errno == ENOBUFS) ? 0 : -1;
	return 1;
}

static void ipc_flush(struct ipc_chan *ch)
{
	while (ch->head && !ch->dead) {
		struct ipc_out *o = ch->head;
		int r = ipc_send_raw(ch, o);
		if (r < 0) {
			ipc_chan_fail(ch, NULL);
			return;
		}
		if (r == 0) {
			event_add(ch->wev, NULL);
			return;
		}
		ch->head = o->next;
		if (!ch->head)
			ch->tail = NULL;
		ch->queued--;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
}

static void ipc_on_write(evutil_socket_t fd, short what, void *arg)
{
	ipc_flush(arg);
}

int ipc_send(struct ipc_chan *ch, struct ipc_msg *m)
{
	struct ipc_out *o;
	uint32_t len = (uint32_t)m->len;

	if (ch->dead || m->bad || ch->queued >= IPC_QUEUE_MAX ||
	    (o = malloc(sizeof *o + IPC_HDR_LEN + m->len)) == NULL) {
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		return -1;
	}
	memcpy(o->buf, &m->type, 4);
	memcpy(o->buf + 4, &len, 4);
	memcpy(o->buf + IPC_HDR_LEN, m->data, m->len);
	o->len = IPC_HDR_LEN + m->len;
	o->fd = m->fd;
	o->next = NULL;
	m->fd = -1;
	if (ch->tail)
		ch->tail->next = o;
	else
		ch->head = o;
	ch->tail = o;
	ch->queued++;
	ipc_flush(ch);
	return 0;
}

struct ipc_chan *ipc_chan_new(struct event_base *base, int fd, const char *peer, ipc_handler h,
			      ipc_closed c, void *arg)
{
	struct ipc_chan *ch = calloc(1, sizeof *ch);

	if (!ch)
		return NULL;
	ch->base = base;
	ch->fd = fd;
	snprintf(ch->peer, sizeof ch->peer, "%s", peer);
	ch->handler = h;
	ch->closed = c;
	ch->arg = arg;
	ch->in = malloc(sizeof *ch->in);
	ch->raw = malloc(IPC_MSG_MAX);
	ch->rev = event_new(base, fd, EV_READ | EV_PERSIST, ipc_on_read, ch);
	ch->wev = event_new(base, fd, EV_WRITE, ipc_on_write, ch);
	if (!ch->in || !ch->raw || !ch->rev || !ch->wev || event_add(ch->rev, NULL) < 0) {
		ipc_chan_free(ch);
		return NULL;
	}
	return ch;
}

void ipc_chan_free(struct ipc_chan *ch)
{
	if (!ch)
		return;
	if (ch->rev)
		event_free(ch->rev);
	if (ch->wev)
		event_free(ch->wev);
	while (ch->head) {
		struct ipc_out *o = ch->head;
		ch->head = o->next;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	free(ch->in);
	free(ch->raw);
	if (ch->fd >= 0)
		close(ch->fd);
	free(ch);
}
