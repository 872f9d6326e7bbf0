/*
 * dns: the asynchronous resolver (libunbound) on the process's libevent loop.
 *
 * How it fits the loop: libunbound runs in "async" mode with a background
 * *thread* (ub_ctx_async(ctx, 1)). The thread does all network I/O and
 * writes finished answers to a pipe; ub_fd() is the read end of that pipe,
 * watched by one persistent EV_READ event, whose callback runs
 * ub_process(), which calls our answer callback in the loop's own thread.
 * So user callbacks never run on the resolver thread and the loop never
 * blocks. A thread rather than libunbound's fork mode: the forked helper
 * would be created at the first query, in the middle of serving clients,
 * and would inherit every open descriptor (client sockets would stay open
 * after we close them) and a copy of the process's memory.
 *
 * Each query also has its own timer; whichever of answer and timer comes
 * first calls the user callback, the other is disarmed (ub_cancel: a
 * cancelled query's answer is dropped inside libunbound, never delivered).
 *
 * Security role: the answers come from the network; libunbound parses the
 * wire format and we only pass on rdata pointers with their lengths (at
 * most DNS_MAX_RR). Only a process that calls dns_trust_anchor (remote,
 * for DANE) validates: the anchors are read by us and handed over as
 * strings (ub_ctx_add_ta), so libunbound never opens the file after the
 * privilege drop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unbound.h>

#include "lookup/dns.h"
#include "util/log.h"
#include "util/str.h"

#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_NXDOMAIN 3

struct dns_query {
	dns_cb cb;
	void *arg;
	struct event *timer;
	int id; /* libunbound's async id */
	struct dns_query *prev, *next;
};

static struct {
	struct ub_ctx *ctx;
	struct event *ev; /* readable ub_fd */
	struct event_base *base;
	struct dns_query *pending; /* in flight, for dns_shutdown */
} D;

static int dns_fail(char *err, size_t cap, const char *what, int ub)
{
	(void)str_fmt(err, cap, "dns: %s: %s", what, ub ? ub_strerror(ub) : "failed");
	return -1;
}

/* "ADDR@PORT" for ub_ctx_set_fwd from the parsed resolver address. */
static int dns_fwd_text(const struct conf *c, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	const void *a;
	unsigned port;

	if (c->resolver_addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&c->resolver_addr;
		a = &s6->sin6_addr;
		port = ntohs(s6->sin6_port);
	} else if (c->resolver_addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&c->resolver_addr;
		a = &s4->sin_addr;
		port = ntohs(s4->sin_port);
	} else {
		return -1;
	}
	if (!inet_ntop(c->resolver_addr.ss_family, a, host, sizeof host))
		return -1;
	return str_fmt(out, cap, "%s@%u", host, port);
}

/* Forwarder and options; the context is not finalized yet. */
static int dns_ctx_setup(struct ub_ctx *ctx, const struct conf *c, char *err, size_t cap)
{
	char fwd[INET6_ADDRSTRLEN + 8];
	int r;

	if ((r = ub_ctx_async(ctx, 1)) != 0)
		return dns_fail(err, cap, "async mode", r);
	/* The forwarder may well be a local cache (127.0.0.1, ::1). */
	if ((r = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) != 0)
		return dns_fail(err, cap, "do-not-query-localhost", r);
	/* Names whose servers never answer (an attacker can make us ask for
	 * them) must not get the forwarder itself marked as down for long:
	 * keep probing it and forget timeouts after a minute. */
	if ((r = ub_ctx_set_option(ctx, "infra-keep-probing:", "yes")) != 0)
		return dns_fail(err, cap, "infra-keep-probing", r);
	if ((r = ub_ctx_set_option(ctx, "infra-host-ttl:", "60")) != 0)
		return dns_fail(err, cap, "infra-host-ttl", r);
	/* and a query whose server stays silent gives up within seconds, not
	 * after a two-minute backoff */
	if ((r = ub_ctx_set_option(ctx, "infra-cache-max-rtt:", "5000")) != 0)
		return dns_fail(err, cap, "infra-cache-max-rtt", r);
	if (c->resolver_addr_len == 0) {
		if ((r = ub_ctx_resolvconf(ctx, "/etc/resolv.conf")) != 0)
			return dns_fail(err, cap, "/etc/resolv.conf", r);
		return 0;
	}
	if (dns_fwd_text(c, fwd, sizeof fwd) < 0)
		return dns_fail(err, cap, "resolver address", 0);
	if ((r = ub_ctx_set_fwd(ctx, fwd)) != 0)
		return dns_fail(err, cap, fwd, r);
	return 0;
}

static void dns_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (ub_process(D.ctx) == 0)
		return;
	/* The pipe to the resolver thread broke: stop watching it (it would
	 * stay readable), every pending query still ends through its timer. */
	log_error("dns: resolver pipe failed; DNS answers will time out");
	event_del(D.ev);
}

int dns_init(struct event_base *base, const struct conf *c, char *err, size_t cap)
{
	if (D.ctx)
		return dns_fail(err, cap, "already initialized", 0);
	if (!(D.ctx = ub_ctx_create()))
		return dns_fail(err, cap, "ub_ctx_create", 0);
	if (dns_ctx_setup(D.ctx, c, err, cap) < 0)
		goto fail;
	D.ev = event_new(base, ub_fd(D.ctx), EV_READ | EV_PERSIST, dns_readable, NULL);
	if (!D.ev || event_add(D.ev, NULL) < 0) {
		dns_fail(err, cap, "event for the resolver pipe", 0);
		goto fail;
	}
	D.base = base;
	return 0;
fail:
	if (D.ev)
		event_free(D.ev);
	ub_ctx_delete(D.ctx);
	memset(&D, 0, sizeof D);
	return -1;
}

#define DNS_TA_FILE_MAX (64 * 1024)

int dns_trust_anchor(const char *file, char *err, size_t cap)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, n = 0;
	int errnum = 0, r;

	if (!D.ctx)
		return dns_fail(err, cap, "trust anchor before dns_init", 0);
	if (conf_read_file(file, DNS_TA_FILE_MAX, &buf, &len, &errnum) < 0) {
		(void)str_fmt(err, cap, "dns: %s: %s", file, strerror(errnum));
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, ";\r")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if ((r = ub_ctx_add_ta(D.ctx, line)) != 0) {
			free(buf);
			return dns_fail(err, cap, file, r);
		}
		n++;
	}
	free(buf);
	if (n == 0)
		return dns_fail(err, cap, "no trust anchor in the file", 0);
	return 0;
}

static void dns_unlink(struct dns_query *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		D.pending = q->next;
	if (q->next)
		q->next->prev = q->prev;
	event_free(q->timer);
	free(q);
}

static enum dns_status dns_status_of(const struct ub_result *res)
{
	if (res->bogus)
		return DNS_BOGUS;
	if (res->rcode == DNS_RCODE_NXDOMAIN)
		return DNS_NXDOMAIN;
	if (res->havedata)
		return DNS_OK;
	if (res->rcode == DNS_RCODE_NOERROR)
		return DNS_NODATA;
	return DNS_TEMPFAIL;
}

/* The result handed to the user: rdata pointers into res. */
static void dns_result_fill(struct dns_result *r, const struct ub_result *res)
{
	memset(r, 0, sizeof *r);
	r->status = dns_status_of(res);
	r->secure = res->secure != 0;
	r->ttl = res->ttl > 0 ? (unsigned)res->ttl : 0;
	if (r->status != DNS_OK || !res->data || !res->len)
		return;
	size_t i = 0;
	for (; i < DNS_MAX_RR && res->data[i]; i++) {
		if (res->len[i] < 0)
			continue;
		r->rr[r->n_rr] = (const unsigned char *)res->data[i];
		r->rr_len[r->n_rr] = (size_t)res->len[i];
		r->n_rr++;
	}
	r->truncated = i == DNS_MAX_RR && res->data[i] != NULL;
	if (r->n_rr == 0)
		r->status = DNS_NODATA;
}

/* libunbound's callback (from ub_process, in the loop's thread). */
static void dns_answer(void *arg, int err, struct ub_result *res)
{
	struct dns_query *q = arg;
	struct dns_result r;
	dns_cb cb = q->cb;
	void *cbarg = q->arg;

	if (err != 0 || !res)
		r = (struct dns_result){.status = DNS_TEMPFAIL};
	else
		dns_result_fill(&r, res);
	dns_unlink(q);
	cb(cbarg, &r);
	ub_resolve_free(res);
}

static void dns_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_result r = {.status = DNS_TEMPFAIL};
	dns_cb cb = q->cb;
	void *cbarg = q->arg;

	(void)fd;
	(void)what;
	(void)ub_cancel(D.ctx, q->id); /* its answer, if any, is now dropped */
	dns_unlink(q);
	cb(cbarg, &r);
}

static int dns_name_ok(const char *name)
{
	size_t n = strnlen(name, DNS_NAME_MAX);

	return n > 0 && n < DNS_NAME_MAX;
}

int dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	struct dns_query *q;

	if (!D.ctx || !cb || !name || !dns_name_ok(name) || rrtype <= 0 || rrtype > 65535)
		return -1;
	if (!(q = calloc(1, sizeof *q)))
		return -1;
	q->cb = cb;
	q->arg = arg;
	if (!(q->timer = evtimer_new(D.base, dns_timeout, q)) || evtimer_add(q->timer, &tv) < 0)
		goto fail;
	/* Answers only ever arrive through ub_process, never from here. */
	if (ub_resolve_async(D.ctx, name, rrtype, 1 /* IN */, q, dns_answer, &q->id) != 0)
		goto fail;
	q->next = D.pending;
	if (D.pending)
		D.pending->prev = q;
	D.pending = q;
	return 0;
fail:
	if (q->timer)
		event_free(q->timer);
	free(q);
	return -1;
}

void dns_shutdown(void)
{
	if (!D.ctx)
		return;
	while (D.pending) {
		(void)ub_cancel(D.ctx, D.pending->id);
		dns_unlink(D.pending);
	}
	event_free(D.ev);
	ub_ctx_delete(D.ctx); /* stops and joins the resolver thread */
	memset(&D, 0, sizeof D);
}

int dns_rdata_name(const unsigned char *rd, size_t n, char *name, size_t cap)
{
	size_t i = 0, o = 0;
	const char *why;

	if (n < 1 || cap < 2)
		return -1;
	while (i < n && rd[i] != 0) {
		size_t l = rd[i++];
		if (l > 63 || l > n - i || o + l + 2 > cap)
			return -1;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, rd + i, l);
		o += l;
		i += l;
	}
	if (i != n - 1)
		return -1; /* no terminating root label, or bytes after it */
	name[o] = '\0';
	if (o == 0)
		return 0; /* the root */
	if (memchr(name, '\0', o) || conf_hostname_check(name, o, &why) < 0)
		return -1;
	str_lower(name);
	return 0;
}

int dns_mx_rdata(const unsigned char *rd, size_t n, unsigned *pref, char *name, size_t cap)
{
	if (n < 3)
		return -1;
	*pref = (unsigned)rd[0] << 8 | rd[1];
	return dns_rdata_name(rd + 2, n - 2, name, cap);
}
