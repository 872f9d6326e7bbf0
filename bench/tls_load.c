/*
 * tls_load: the STARTTLS load of `make bench` (bench/compare.py), in C so
 * that the client's own CPU does not decide the result on a 2-core
 * machine (the Python client spent more CPU per message than the servers
 * it measured).
 *
 * TLS is GnuTLS (Debian's libgnutls30), not OpenSSL: the client shares the
 * two cores with the server it measures, and OpenSSL 3.0 spends about 40 %
 * of a client's CPU decoding the server's certificate through its provider
 * decoder framework (perf of this client: ASN1_item_d2i_ex 25 %,
 * OSSL_DECODER_CTX_new_for_pkey 18 % of samples). The same sessions cost
 * 0.68 ms of client CPU per message with GnuTLS against 0.90 with OpenSSL.
 * It is also an independent implementation talking to all three servers.
 *
 * Sessions run on epoll loops (level-triggered), one thread each, as
 * smtp-source runs the plaintext load: a thread per session cost a sleep
 * and a wake-up per reply, which the client paid out of the cores it
 * shares with the server under test. --threads (default: one per CPU)
 * shares the sessions out over that many loops.
 *
 * usage: tls_load HOST PORT --sessions N --messages M [--size BYTES]
 *                 [--rcpt ADDR] [--sender ADDR] [--timeout S]
 *                 [--max-seconds S] [--threads T] [--implicit]
 *
 * N sessions at a time, each slot a loop of sessions: connect, banner,
 * EHLO, STARTTLS, a full TLS handshake (no session resumption, no
 * certificate check: the three servers share one certificate; X25519
 * only, as OpenSSL's client offers by default), EHLO, one message
 * (MAIL, RCPT and DATA pipelined, the text, then the final dot in a write
 * of its own), QUIT; with --implicit the connection is TLS from the start
 * (port 465). Prints one JSON line like bench/smtp_load.py --json:
 * messages (250 replies), errors, error_kinds, seconds, latencies (end-of-
 * data marker to the 250 reply, in seconds). Bounded: M attempts in all (a
 * failed one uses up its message), a session that makes no progress for
 * --timeout seconds fails, and no session starts after --max-seconds.
 * Never used by the tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOAD_LINE_MAX  1024 /* one reply line */
#define LOAD_KINDS_MAX 5    /* distinct error kinds reported */
#define LOAD_KIND_LEN  96
#define LOAD_SESSIONS  1000 /* concurrent sessions at most */
#define LOAD_LOOPS_MAX 16   /* threads, each an epoll loop */
#define LOAD_EVENTS    256  /* epoll events taken per wait */
#define LOAD_TICK_MS   200  /* how often deadlines are checked */
#define LOAD_ENVELOPE  1200 /* MAIL, RCPT and DATA in one write */
#define LOAD_RBUF      8192 /* TLS bytes read ahead for GnuTLS */
/* TLS 1.3 or 1.2 as the server likes; one key share, X25519 */
#define LOAD_PRIORITY "NORMAL:-GROUP-ALL:+GROUP-X25519"

/* Where a session is: what it waits for next. */
enum step {
	ST_CONNECT,    /* the TCP handshake */
	ST_BANNER,     /* 220 in the clear */
	ST_EHLO,       /* 250 to the first EHLO */
	ST_STARTTLS,   /* 220 to STARTTLS */
	ST_HANDSHAKE,  /* the TLS handshake */
	ST_TLS_BANNER, /* 220 over TLS (--implicit) */
	ST_TLS_EHLO,   /* 250 to EHLO over TLS */
	ST_ENVELOPE,   /* 250, 250, 354 to the pipelined MAIL, RCPT, DATA */
	ST_TEXT,       /* the message text goes out */
	ST_DOT,	       /* 250 to the final dot */
	ST_QUIT,       /* 221 */
};

struct load {
	const char *host, *port, *rcpt, *sender;
	int sessions, timeout;
	int implicit; /* --implicit: TLS from the first byte (RFC 8314), no STARTTLS */
	long messages;
	double max_seconds, start;
	char *body; /* the DATA text, ending in CRLF . CRLF */
	size_t body_len;
	char envelope[LOAD_ENVELOPE];
	size_t envelope_len;
	gnutls_certificate_credentials_t cred; /* empty: no client certificate */
	gnutls_priority_t prio;
	struct addrinfo *addr; /* resolved once: getaddrinfo reads files on every call */
	int loops;	       /* --threads */
	atomic_long next;      /* messages handed out */
	pthread_mutex_t lock;  /* the fields below */
	double *lat;	       /* one per 250 */
	long n_lat, errors;
	char kinds[LOAD_KINDS_MAX][LOAD_KIND_LEN];
	int n_kinds;
};

/* One thread's share of the sessions, on its own epoll set. */
struct loop {
	struct load *L;
	int ep;
	int active; /* sessions open */
	struct conn *conns;
	int n;
	pthread_t thread;
};

/* One session slot: the TCP socket, TLS once started, what is owed. */
struct conn {
	struct loop *loop;
	int fd;		      /* -1: the slot is idle */
	gnutls_session_t tls; /* NULL before the handshake */
	enum step step;
	int due;	 /* replies still expected in this step */
	const char *out; /* output not yet taken by the socket or GnuTLS */
	size_t out_len;
	double t_dot, deadline;
	uint32_t events; /* what the epoll set watches for it */
	int wait_out;	 /* waiting to write, not only to read */
	char buf[4096];	 /* received, not yet parsed */
	size_t have, off;
	/* read ahead for GnuTLS, which asks for a record's 5-octet header and
	 * then its body: two recv() calls per record without it */
	char rbuf[LOAD_RBUF];
	size_t rb_have, rb_off;
	char line[LOAD_LINE_MAX];
	size_t line_len;
	char why[LOAD_KIND_LEN]; /* a failure's description, when it is not a fixed string */
};

/* What conn_run found. */
enum { RUN_WAIT, RUN_DONE, RUN_FAIL };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load_error(struct load *L, const char *kind)
{
	int seen = 0;

	pthread_mutex_lock(&L->lock);
	L->errors++;
	for (int i = 0; i < L->n_kinds; i++)
		seen |= strcmp(L->kinds[i], kind) == 0;
	if (!seen && L->n_kinds < LOAD_KINDS_MAX) {
		snprintf(L->kinds[L->n_kinds], LOAD_KIND_LEN, "%s", kind);
		L->n_kinds++;
	}
	pthread_mutex_unlock(&L->lock);
}

static void load_latency(struct load *L, double s)
{
	pthread_mutex_lock(&L->lock);
	L->lat[L->n_lat++] = s;
	pthread_mutex_unlock(&L->lock);
}

/* No close_notify: the session is over after 221 (as most clients do). */
static void conn_close(struct conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd >= 0) {
		close(c->fd); /* leaves the epoll set with it */
		c->loop->active--;
	}
	c->fd = -1;
}

/* A non-blocking connection in the epoll set; 0, or -1. */
static int conn_open(struct load *L, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int one = 1;

	c->have = c->off = c->line_len = c->out_len = 0;
	c->due = 1;
	c->step = ST_CONNECT;
	c->events = ev.events;
	c->deadline = now() + L->timeout;
	c->fd = socket(L->addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	c->loop->active++;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
	    epoll_ctl(c->loop->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	if (connect(c->fd, L->addr->ai_addr, L->addr->ai_addrlen) < 0 && errno != EINPROGRESS)
		return -1;
	return 0;
}

/* Hand out the next message to an idle slot, while any are left. */
static void slot_next(struct load *L, struct conn *c)
{
	while (c->fd < 0 && now() - L->start < L->max_seconds &&
	       atomic_fetch_add(&L->next, 1) < L->messages) {
		if (conn_open(L, c) < 0) {
			load_error(L, "connect failed");
			conn_close(c);
		}
	}
}

/* Queue n bytes of output (sent by conn_flush). */
static void conn_say(struct conn *c, const char *p, size_t n)
{
	c->out = p;
	c->out_len = n;
}

/* Send what is queued: 1 all sent, 0 the socket is full, -1 failed. */
static int conn_flush(struct conn *c)
{
	while (c->out_len > 0) {
		ssize_t k;
		if (c->tls) {
			/* after GNUTLS_E_AGAIN the same call is made again */
			k = gnutls_record_send(c->tls, c->out, c->out_len);
			if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
				return 0;
		} else {
			k = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
		}
		if (k <= 0)
			return -1;
		c->out += k;
		c->out_len -= (size_t)k;
	}
	return 1;
}

/* Read what has come: 1 read some, 0 nothing yet, -1 closed or failed. */
static int conn_fill(struct conn *c)
{
	ssize_t k;

	c->off = c->have = 0;
	if (c->tls) {
		do /* a post-handshake message (the ticket) may come first */
			k = gnutls_record_recv(c->tls, c->buf, sizeof c->buf);
		while ((k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED) &&
		       (gnutls_record_check_pending(c->tls) > 0 || c->rb_off < c->rb_have));
		if (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED)
			return 0;
	} else {
		k = recv(c->fd, c->buf, sizeof c->buf, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
	}
	if (k <= 0)
		return -1;
	c->have = (size_t)k;
	return 1;
}

/* The code of the next whole reply (all its lines), 0 when it has not all
 * come yet, -1 when the connection failed or the reply is malformed. */
static int conn_reply(struct conn *c)
{
	for (;;) {
		if (c->off == c->have) {
			int r = conn_fill(c);
			if (r <= 0)
				return r;
		}
		char ch = c->buf[c->off++];
		if (c->line_len < sizeof c->line - 1)
			c->line[c->line_len++] = ch;
		if (ch != '\n')
			continue;
		c->line[c->line_len] = '\0';
		size_t n = c->line_len;
		c->line_len = 0;
		if (n < 4)
			return -1;
		if (c->line[3] != '-')
			return atoi(c->line) > 0 ? atoi(c->line) : -1;
	}
}

/* "TLS handshake failed" and GnuTLS's reason, in c->why (JSON-safe). */
static const char *tls_failure(struct conn *c, int err)
{
	int n = snprintf(c->why, sizeof c->why, "TLS handshake failed: %s", gnutls_strerror(err));

	if (n < 0)
		return "TLS handshake failed";
	for (char *p = c->why; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return c->why;
}

/* What went wrong, by the step a session failed in. */
static const char *step_failure(const struct conn *c)
{
	static const char *const kinds[] = {
	    [ST_CONNECT] = "connect failed",
	    [ST_BANNER] = "greeting or EHLO failed",
	    [ST_EHLO] = "greeting or EHLO failed",
	    [ST_STARTTLS] = "STARTTLS refused",
	    [ST_HANDSHAKE] = "TLS handshake failed",
	    [ST_TLS_BANNER] = "no greeting over TLS",
	    [ST_TLS_EHLO] = "EHLO after STARTTLS failed",
	    [ST_ENVELOPE] = "envelope refused",
	    [ST_TEXT] = "DATA write failed",
	    [ST_DOT] = "no reply to the end of data",
	    [ST_QUIT] = "QUIT failed",
	};
	return kinds[c->step];
}

/* GnuTLS's reads, served from c->rbuf, which one recv() refills once it is
 * empty: a GNUTLS_E_AGAIN thus always leaves it empty, and the epoll loop
 * (level-triggered) never waits while bytes sit in it. */
static ssize_t conn_pull(gnutls_transport_ptr_t p, void *data, size_t size)
{
	struct conn *c = p;
	size_t n;

	if (c->rb_off == c->rb_have) {
		ssize_t k = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
		if (k < 0) {
			gnutls_transport_set_errno(c->tls, errno);
			return -1;
		}
		c->rb_off = 0;
		c->rb_have = (size_t)k;
		if (k == 0)
			return 0;
	}
	n = c->rb_have - c->rb_off < size ? c->rb_have - c->rb_off : size;
	memcpy(data, c->rbuf + c->rb_off, n);
	c->rb_off += n;
	return (ssize_t)n;
}

static int conn_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct conn *c = p;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};

	if (c->rb_off < c->rb_have)
		return 1;
	return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

/* TLS on c->fd from here on; 0, or a GnuTLS error code. */
static int conn_start_tls(struct load *L, struct conn *c)
{
	int r;

	if ((r = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0) {
		c->tls = NULL;
		return r;
	}
	if ((r = gnutls_priority_set(c->tls, L->prio)) < 0 ||
	    (r = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, L->cred)) < 0)
		return r;
	/* reads through conn_pull; writes GnuTLS's own way, on the descriptor */
	c->rb_have = c->rb_off = 0;
	gnutls_transport_set_ptr2(c->tls, c, (gnutls_transport_ptr_t)(intptr_t)c->fd);
	gnutls_transport_set_pull_function(c->tls, conn_pull);
	gnutls_transport_set_pull_timeout_function(c->tls, conn_pull_timeout);
	c->step = ST_HANDSHAKE;
	return 0;
}

/* What a step's good reply leads to, and the command sent then. */
struct next {
	int code;
	enum step step;
	const char *say;
};

static const struct next steps[] = {
    [ST_BANNER] = {220, ST_EHLO, "EHLO load.test\r\n"},
    [ST_EHLO] = {250, ST_STARTTLS, "STARTTLS\r\n"},
    [ST_STARTTLS] = {220, ST_HANDSHAKE, ""},
    [ST_TLS_BANNER] = {220, ST_TLS_EHLO, "EHLO load.test\r\n"},
    [ST_TLS_EHLO] = {250, ST_ENVELOPE, ""},
    [ST_DOT] = {250, ST_QUIT, "QUIT\r\n"},
    [ST_QUIT] = {221, ST_QUIT, ""},
};

/* Move on after a reply with this code; NULL, or what went wrong. */
static const char *conn_answer(struct load *L, struct conn *c, int code)
{
	const struct next *n = &steps[c->step];

	if (c->step == ST_ENVELOPE) {
		if (code != (c->due == 1 ? 354 : 250))
			return step_failure(c);
		if (--c->due == 0) {
			c->step = ST_TEXT;
			conn_say(c, L->body, L->body_len - 3);
		}
		return NULL;
	}
	if (code != n->code)
		return c->step == ST_DOT ? "message refused" : step_failure(c);
	if (c->step == ST_STARTTLS) {
		if (c->off != c->have)
			return "data after the STARTTLS reply";
		if ((code = conn_start_tls(L, c)) < 0)
			return tls_failure(c, code);
		return NULL;
	}
	if (c->step == ST_DOT)
		load_latency(L, now() - c->t_dot);
	c->step = n->step;
	conn_say(c, n->say, strlen(n->say));
	if (c->step == ST_ENVELOPE) { /* MAIL, RCPT and DATA: 250, 250, 354 */
		c->due = 3;
		conn_say(c, L->envelope, L->envelope_len);
	}
	return NULL;
}

/* The TCP handshake's outcome, once the socket says; NULL, or a failure. */
static const char *conn_connected(struct load *L, struct conn *c, uint32_t events, int *wait)
{
	int err = 0;
	socklen_t len = sizeof err;

	*wait = !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP));
	if (*wait)
		return NULL;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		return "connect failed";
	if (L->implicit)
		return conn_start_tls(L, c) < 0 ? "TLS handshake failed" : NULL;
	c->step = ST_BANNER;
	return NULL;
}

/* As far as the socket allows: RUN_WAIT (c->wait_out set), RUN_DONE or
 * RUN_FAIL (*why set). */
static int conn_run(struct load *L, struct conn *c, uint32_t events, const char **why)
{
	c->wait_out = 0;
	for (;;) {
		int r, wait;
		if (c->step == ST_CONNECT) {
			if ((*why = conn_connected(L, c, events, &wait)) != NULL)
				return RUN_FAIL;
			if (wait) {
				c->wait_out = 1;
				return RUN_WAIT;
			}
			continue;
		}
		if ((r = conn_flush(c)) <= 0) {
			*why = step_failure(c);
			c->wait_out = 1;
			return r < 0 ? RUN_FAIL : RUN_WAIT;
		}
		if (c->step == ST_TEXT) { /* the text is out: the final dot alone */
			c->step = ST_DOT;
			c->t_dot = now();
			conn_say(c, L->body + L->body_len - 3, 3);
			continue;
		}
		if (c->step == ST_HANDSHAKE) {
			do
				r = gnutls_handshake(c->tls);
			while (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r));
			if (r == GNUTLS_E_AGAIN && c->rb_off < c->rb_have)
				continue; /* read ahead: no readiness event will come for it */
			if (r == GNUTLS_E_AGAIN) {
				c->wait_out = gnutls_record_get_direction(c->tls) == 1;
				return RUN_WAIT;
			}
			if (r < 0) {
				*why = tls_failure(c, r);
				return RUN_FAIL;
			}
			c->step = ST_TLS_BANNER;
			if (!L->implicit) /* no banner after STARTTLS: EHLO at once */
				(void)conn_answer(L, c, 220);
			continue;
		}
		if ((r = conn_reply(c)) <= 0) {
			*why = step_failure(c);
			return r < 0 ? RUN_FAIL : RUN_WAIT;
		}
		if ((*why = conn_answer(L, c, r)) != NULL)
			return RUN_FAIL;
		if (c->step == ST_QUIT && r == 221)
			return RUN_DONE;
	}
}

/* A session ended, well or not: its slot takes the next message. */
static void conn_end(struct load *L, struct conn *c, int result, const char *why)
{
	if (result == RUN_FAIL)
		load_error(L, why);
	conn_close(c);
	slot_next(L, c);
}

/* Level-triggered: readable always, writable only while output waits. */
static int conn_watch(struct load *L, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | (c->wait_out ? EPOLLOUT : 0), .data.ptr = c};

	if (ev.events == c->events)
		return 0;
	c->events = ev.events;
	return epoll_ctl(c->loop->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sessions that made no progress for --timeout seconds fail. */
static void load_expire(struct loop *lp)
{
	double t = now();

	for (int i = 0; i < lp->n; i++)
		if (lp->conns[i].fd >= 0 && t > lp->conns[i].deadline)
			conn_end(lp->L, &lp->conns[i], RUN_FAIL, step_failure(&lp->conns[i]));
}

static void *load_loop(void *arg)
{
	struct loop *lp = arg;
	struct load *L = lp->L;
	struct epoll_event ev[LOAD_EVENTS];
	double next_tick = now() + LOAD_TICK_MS / 1000.0;

	for (int i = 0; i < lp->n; i++)
		slot_next(L, &lp->conns[i]);
	while (lp->active > 0) {
		int n = epoll_wait(lp->ep, ev, LOAD_EVENTS, LOAD_TICK_MS);
		if (n < 0 && errno != EINTR) {
			perror("tls_load: epoll_wait");
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;
			const char *why = NULL;
			if (c->fd < 0) /* ended earlier in this batch */
				continue;
			int r = conn_run(L, c, ev[i].events, &why);
			c->deadline = now() + L->timeout;
			if (r != RUN_WAIT || conn_watch(L, c) < 0)
				conn_end(L, c, r == RUN_WAIT ? RUN_FAIL : r,
					 why ? why : "epoll failed");
		}
		if (now() >= next_tick) {
			load_expire(lp);
			next_tick = now() + LOAD_TICK_MS / 1000.0;
		}
	}
	return NULL;
}

/* The sessions shared out over the threads; 0, or -1. */
static int load_run(struct load *L, struct loop *loops, struct conn *conns)
{
	int given = 0, started = 0;

	for (int i = 0; i < L->loops; i++) {
		struct loop *lp = &loops[i];
		lp->L = L;
		lp->conns = conns + given;
		lp->n = L->sessions / L->loops + (i < L->sessions % L->loops);
		given += lp->n;
		for (int k = 0; k < lp->n; k++) {
			lp->conns[k].loop = lp;
			lp->conns[k].fd = -1;
		}
		if ((lp->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			return -1;
	}
	L->start = now();
	for (; started < L->loops; started++)
		if (pthread_create(&loops[started].thread, NULL, load_loop, &loops[started]) != 0)
			break;
	for (int i = 0; i < started; i++)
		pthread_join(loops[i].thread, NULL);
	for (int i = 0; i < L->loops; i++)
		close(loops[i].ep);
	return started == L->loops ? 0 : -1;
}

static int make_body(struct load *L, size_t size)
{
	static const char head[] = "Subject: load\r\n\r\n";
	static const char line[] =
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
	size_t lines = size / (sizeof line - 1) ? size / (sizeof line - 1) : 1;
	int n = snprintf(L->envelope, sizeof L->envelope,
			 "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", L->sender, L->rcpt);

	if (n < 0 || (size_t)n >= sizeof L->envelope)
		return -1;
	L->envelope_len = (size_t)n;
	L->body_len = sizeof head - 1 + lines * (sizeof line - 1) + 3;
	if ((L->body = malloc(L->body_len)) == NULL)
		return -1;
	memcpy(L->body, head, sizeof head - 1);
	for (size_t i = 0; i < lines; i++)
		memcpy(L->body + sizeof head - 1 + i * (sizeof line - 1), line, sizeof line - 1);
	memcpy(L->body + L->body_len - 3, ".\r\n", 3);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: tls_load HOST PORT --sessions N --messages M [--size BYTES] "
		"[--rcpt ADDR] [--sender ADDR] [--timeout S] [--max-seconds S] [--threads T] "
		"[--implicit]\n");
	exit(2);
}

static void parse_args(struct load *L, size_t *size, int argc, char **argv)
{
	if (argc < 3)
		usage();
	L->host = argv[1];
	L->port = argv[2];
	for (int i = 3; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--implicit") == 0) {
			L->implicit = 1;
			i--;
			continue;
		}
		if (!v)
			usage();
		if (strcmp(o, "--sessions") == 0)
			L->sessions = atoi(v);
		else if (strcmp(o, "--messages") == 0)
			L->messages = atol(v);
		else if (strcmp(o, "--size") == 0)
			*size = (size_t)atol(v);
		else if (strcmp(o, "--rcpt") == 0)
			L->rcpt = v;
		else if (strcmp(o, "--sender") == 0)
			L->sender = v;
		else if (strcmp(o, "--timeout") == 0)
			L->timeout = atoi(v);
		else if (strcmp(o, "--max-seconds") == 0)
			L->max_seconds = atof(v);
		else if (strcmp(o, "--threads") == 0)
			L->loops = atoi(v);
		else
			usage();
	}
	if (L->sessions < 1 || L->sessions > LOAD_SESSIONS || L->messages < 1 ||
	    L->messages > 10000000 || *size > 64 * 1024 * 1024 || L->timeout < 1 ||
	    L->max_seconds <= 0 || strlen(L->rcpt) > 256 || strlen(L->sender) > 256 ||
	    L->loops < 1 || L->loops > LOAD_LOOPS_MAX)
		usage();
	if (L->loops > L->sessions)
		L->loops = L->sessions;
}

static void print_json(const struct load *L, double seconds)
{
	printf("{\"messages\": %ld, \"errors\": %ld, \"error_kinds\": [", L->n_lat, L->errors);
	for (int i = 0; i < L->n_kinds; i++)
		printf("%s\"%s\"", i ? ", " : "", L->kinds[i]); /* our own fixed strings */
	printf("], \"seconds\": %.6f, \"latencies\": [", seconds);
	for (long i = 0; i < L->n_lat; i++)
		printf("%s%.6f", i ? ", " : "", L->lat[i]);
	printf("]}\n");
}

int main(int argc, char **argv)
{
	struct load L = {.rcpt = "bob@example.test",
			 .sender = "load@load.test",
			 .sessions = 1,
			 .messages = 100,
			 .timeout = 30,
			 .max_seconds = 120};
	struct conn *conns;
	struct loop *loops;
	size_t size = 1024;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	L.loops = cpus < 1 ? 1 : cpus > LOAD_LOOPS_MAX ? LOAD_LOOPS_MAX : (int)cpus;
	parse_args(&L, &size, argc, argv);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	if (getaddrinfo(L.host, L.port, &hints, &L.addr) != 0) {
		fprintf(stderr, "tls_load: cannot resolve %s port %s\n", L.host, L.port);
		return 1;
	}
	if (make_body(&L, size) < 0 ||
	    (L.lat = calloc((size_t)L.messages, sizeof *L.lat)) == NULL ||
	    (conns = calloc((size_t)L.sessions, sizeof *conns)) == NULL ||
	    (loops = calloc((size_t)L.loops, sizeof *loops)) == NULL ||
	    pthread_mutex_init(&L.lock, NULL) != 0 ||
	    gnutls_certificate_allocate_credentials(&L.cred) < 0 ||
	    gnutls_priority_init(&L.prio, LOAD_PRIORITY, NULL) < 0) {
		fprintf(stderr, "tls_load: cannot set up\n");
		return 1;
	}
	if (load_run(&L, loops, conns) < 0) {
		fprintf(stderr, "tls_load: cannot start its threads\n");
		return 1;
	}
	print_json(&L, now() - L.start);
	gnutls_priority_deinit(L.prio);
	gnutls_certificate_free_credentials(L.cred);
	freeaddrinfo(L.addr);
	free(loops);
	free(L.lat);
	free(L.body);
	free(conns);
	return 0;
}
