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
 * usage: tls_load HOST PORT --sessions N --messages M [--size BYTES]
 *                 [--rcpt ADDR] [--sender ADDR] [--timeout S]
 *                 [--max-seconds S] [--implicit]
 *
 * N threads, each a loop of sessions: connect, banner, EHLO, STARTTLS, a
 * full TLS handshake (no session resumption, no certificate check: the
 * three servers share one certificate; X25519 only, as OpenSSL's client
 * offers by default), EHLO, one message, QUIT; with --implicit the
 * connection is TLS from the start (port 465). Prints
 * one JSON line like bench/smtp_load.py --json: messages (250 replies),
 * errors, error_kinds, seconds, latencies (end-of-data marker to the 250
 * reply, in seconds). Bounded: M attempts in all (a failed one uses up its
 * message), every socket operation times out, and no session starts after
 * --max-seconds. Never used by the tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOAD_LINE_MAX  1024 /* one reply line */
#define LOAD_KINDS_MAX 5    /* distinct error kinds reported */
#define LOAD_KIND_LEN  96
#define LOAD_THREADS   1000
/* TLS 1.3 or 1.2 as the server likes; one key share, X25519 */
#define LOAD_PRIORITY "NORMAL:-GROUP-ALL:+GROUP-X25519"

struct load {
	const char *host, *port, *rcpt, *sender;
	int sessions, timeout;
	int implicit; /* --implicit: TLS from the first byte (RFC 8314), no STARTTLS */
	long messages;
	double max_seconds, start;
	char *body; /* the DATA text, ending in CRLF . CRLF */
	size_t body_len;
	gnutls_certificate_credentials_t cred; /* empty: no client certificate */
	gnutls_priority_t prio;
	struct addrinfo *addr; /* resolved once: getaddrinfo reads files on every call */
	atomic_long next;      /* messages handed out */
	pthread_mutex_t lock;  /* the fields below */
	double *lat;	       /* one per 250 */
	long n_lat, errors;
	char kinds[LOAD_KINDS_MAX][LOAD_KIND_LEN];
	int n_kinds;
};

/* A connection: the TCP socket, TLS once started, and a read buffer. */
struct conn {
	int fd;
	gnutls_session_t tls; /* NULL before the handshake */
	char buf[4096];
	size_t have, off;
	char why[LOAD_KIND_LEN]; /* a failure's description, when it is not a fixed string */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void load_error(struct load *L, const char *kind)
{
	pthread_mutex_lock(&L->lock);
	L->errors++;
	int seen = 0;
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

static int conn_open(struct load *L, struct conn *c)
{
	struct timeval tv = {L->timeout, 0};
	int one = 1;

	c->have = c->off = 0;
	c->fd = socket(L->addr->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
	    connect(c->fd, L->addr->ai_addr, L->addr->ai_addrlen) < 0)
		return -1;
	return 0;
}

/* No close_notify: the session is over after 221 (as most clients do). */
static void conn_close(struct conn *c)
{
	if (c->tls)
		gnutls_deinit(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k;
		if (c->tls) {
			do
				k = gnutls_record_send(c->tls, p, n);
			while (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED);
			if (k <= 0)
				return -1;
		} else if ((k = send(c->fd, p, n, MSG_NOSIGNAL)) <= 0) {
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	ssize_t k;

	c->off = 0;
	c->have = 0;
	if (c->tls) {
		do
			k = gnutls_record_recv(c->tls, c->buf, sizeof c->buf);
		while (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED);
	} else {
		k = recv(c->fd, c->buf, sizeof c->buf, 0);
	}
	if (k <= 0)
		return -1;
	c->have = (size_t)k;
	return 0;
}

/* One reply (all its lines); its code, or -1. */
static int conn_reply(struct conn *c)
{
	char line[LOAD_LINE_MAX];
	size_t n = 0;

	for (;;) {
		if (c->off == c->have && conn_fill(c) < 0)
			return -1;
		char ch = c->buf[c->off++];
		if (n < sizeof line - 1)
			line[n++] = ch;
		if (ch != '\n')
			continue;
		line[n] = '\0';
		if (n < 4)
			return -1;
		if (line[3] != '-')
			return atoi(line);
		n = 0;
	}
}

static int expect(struct conn *c, int code)
{
	return conn_reply(c) == code ? 0 : -1;
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

/* A full handshake on c->fd; 0, or a GnuTLS error code. */
static int conn_handshake(struct load *L, struct conn *c)
{
	int r;

	if ((r = gnutls_init(&c->tls, GNUTLS_CLIENT)) < 0) {
		c->tls = NULL;
		return r;
	}
	if ((r = gnutls_priority_set(c->tls, L->prio)) < 0 ||
	    (r = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, L->cred)) < 0)
		return r;
	gnutls_transport_set_int(c->tls, c->fd);
	do
		r = gnutls_handshake(c->tls);
	while (r < 0 && !gnutls_error_is_fatal(r));
	return r < 0 ? r : 0;
}

/* One session with one message; NULL, or what went wrong. */
static const char *load_session(struct load *L, struct conn *c)
{
	char cmd[1200];
	double t0;
	int code;

	if (conn_open(L, c) < 0)
		return "connect failed";
	if (!L->implicit) {
		if (expect(c, 220) < 0 || conn_write(c, "EHLO load.test\r\n", 16) < 0 ||
		    expect(c, 250) < 0)
			return "greeting or EHLO failed";
		if (conn_write(c, "STARTTLS\r\n", 10) < 0 || expect(c, 220) < 0)
			return "STARTTLS refused";
		if (c->off != c->have)
			return "data after the STARTTLS reply";
	}
	int err = conn_handshake(L, c);
	if (err < 0)
		return tls_failure(c, err);
	if (L->implicit && expect(c, 220) < 0)
		return "no greeting over TLS";
	if (conn_write(c, "EHLO load.test\r\n", 16) < 0 || expect(c, 250) < 0)
		return "EHLO after STARTTLS failed";
	int len = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", L->sender,
			   L->rcpt);
	if (len < 0 || (size_t)len >= sizeof cmd || conn_write(c, cmd, (size_t)len) < 0 ||
	    expect(c, 250) < 0 || expect(c, 250) < 0 || expect(c, 354) < 0)
		return "envelope refused";
	if (conn_write(c, L->body, L->body_len - 3) < 0)
		return "DATA write failed";
	t0 = now();
	if (conn_write(c, L->body + L->body_len - 3, 3) < 0 || (code = conn_reply(c)) < 0)
		return "no reply to the end of data";
	if (code != 250)
		return "message refused";
	load_latency(L, now() - t0);
	if (conn_write(c, "QUIT\r\n", 6) < 0 || expect(c, 221) < 0)
		return "QUIT failed";
	return NULL;
}

static void *load_thread(void *arg)
{
	struct load *L = arg;
	struct conn c = {.fd = -1, .tls = NULL};

	while (now() - L->start < L->max_seconds && atomic_fetch_add(&L->next, 1) < L->messages) {
		const char *err = load_session(L, &c);
		if (err)
			load_error(L, err);
		conn_close(&c);
	}
	return NULL;
}

static int make_body(struct load *L, size_t size)
{
	static const char head[] = "Subject: load\r\n\r\n";
	static const char line[] =
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
	size_t lines = size / (sizeof line - 1) ? size / (sizeof line - 1) : 1;

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
		"[--rcpt ADDR] [--sender ADDR] [--timeout S] [--max-seconds S] [--implicit]\n");
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
		else
			usage();
	}
	if (L->sessions < 1 || L->sessions > LOAD_THREADS || L->messages < 1 ||
	    L->messages > 10000000 || *size > 64 * 1024 * 1024 || L->timeout < 1 ||
	    L->max_seconds <= 0 || strlen(L->rcpt) > 256 || strlen(L->sender) > 256)
		usage();
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
	pthread_t *t;
	size_t size = 1024;

	parse_args(&L, &size, argc, argv);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	if (getaddrinfo(L.host, L.port, &hints, &L.addr) != 0) {
		fprintf(stderr, "tls_load: cannot resolve %s port %s\n", L.host, L.port);
		return 1;
	}
	if (pthread_mutex_init(&L.lock, NULL) != 0 || make_body(&L, size) < 0 ||
	    (L.lat = calloc((size_t)L.messages, sizeof *L.lat)) == NULL ||
	    (t = calloc((size_t)L.sessions, sizeof *t)) == NULL ||
	    gnutls_certificate_allocate_credentials(&L.cred) < 0 ||
	    gnutls_priority_init(&L.prio, LOAD_PRIORITY, NULL) < 0) {
		fprintf(stderr, "tls_load: cannot set up\n");
		return 1;
	}
	L.start = now();
	int started = 0;
	for (; started < L.sessions; started++)
		if (pthread_create(&t[started], NULL, load_thread, &L) != 0)
			break;
	if (started == 0) {
		fprintf(stderr, "tls_load: cannot start threads\n");
		return 1;
	}
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	print_json(&L, now() - L.start);
	gnutls_priority_deinit(L.prio);
	gnutls_certificate_free_credentials(L.cred);
	freeaddrinfo(L.addr);
	free(L.lat);
	free(L.body);
	free(t);
	return 0;
}
