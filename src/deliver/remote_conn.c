/*
 * remote_conn: one outbound SMTP connection's life outside the SMTP
 * dialogue: which target (MX host and address, in route order) is tried
 * next, the TLS policy that applies to it (destination config, MTA-STS,
 * DANE from DNSSEC-validated TLSA records), the TCP connect, the switch
 * to TLS (implicit or after STARTTLS), timeouts, idling between messages
 * and closing. remote_smtp.c speaks SMTP over what this sets up.
 *
 * Security role: decides per target how strong TLS must be; a target that
 * cannot meet its policy is skipped (never downgraded), and a TLSA lookup
 * that fails makes that host unusable rather than unauthenticated.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "deliver/remote_int.h"
#include "ipc/ipc.h"
#include "lookup/dns.h"
#include "util/log.h"
#include "util/str.h"

#define DNS_T_TLSA   52
#define RC_WRITE_LOW (64 * 1024) /* refill the body below this */

static void rconn_try(struct rconn *c);

void rconn_set_timeout(struct rconn *c, int secs)
{
	struct timeval rd = {secs, 0}, wr = {RT_BLOCK, 0};

	if (c->bev)
		bufferevent_set_timeouts(c->bev, &rd, &wr);
}

int rconn_send(struct rconn *c, const char *fmt, ...)
{
	char line[RP_LINE_MAX + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2 || !c->bev)
		return -1;
	memcpy(line + n, "\r\n", 2);
	return bufferevent_write(c->bev, line, (size_t)n + 2);
}

/* From the loop: free c, then tell its destination (never re-entered
 * from inside a destination's own scheduling). */
static void rconn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;
	struct rdest *d = c->d;

	if (c->timer)
		event_free(c->timer);
	free(c->sent);
	free(c->acc);
	free(c);
	rdest_conn_closed(d);
}

static void rconn_bev_free_cb(evutil_socket_t fd, short what, void *arg)
{
	bufferevent_free(arg);
}

static void rconn_drop_bev(struct rconn *c)
{
	if (!c->bev)
		return;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	/* Freed from the loop, never inside its own callback. */
	if (event_base_once(R.base, -1, EV_TIMEOUT, rconn_bev_free_cb, c->bev, NULL) < 0)
		fatal("cannot schedule a free");
	c->bev = NULL;
}

static void rconn_unidle(struct rconn *c)
{
	struct rconn **pp = &c->d->idle;

	while (*pp && *pp != c)
		pp = &(*pp)->next_idle;
	if (*pp)
		*pp = c->next_idle;
	c->next_idle = NULL;
	if (c->timer)
		evtimer_del(c->timer);
}

void rconn_close(struct rconn *c)
{
	if (c->state == CS_CLOSED)
		return;
	c->state = CS_CLOSED;
	rconn_unidle(c);
	if (c->bev) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		if (ssl && SSL_is_init_finished(ssl))
			(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	rconn_drop_bev(c);
	if (event_base_once(R.base, -1, EV_TIMEOUT, rconn_free_cb, c, NULL) < 0)
		fatal("cannot schedule a free");
}

/* Every target failed: the message (and, when this was the destination's
 * only connection, the ones waiting behind it) is deferred. */
static void rconn_exhausted(struct rconn *c)
{
	const char *why = c->last_why[0] ? c->last_why : "4.4.1 no mail host could be reached";
	struct rmsg *m;

	log_warn("%s: to domain %s: no usable mail host: %s", c->m ? c->m->job->id : "-",
		 c->d->domain, why);
	if (c->m) {
		rmsg_fail(c->m, IPC_DLV_TEMP, why);
		rmsg_done(c->m);
		c->m = NULL;
	}
	if (c->d->n_conn == 1)
		while ((m = rdest_next_msg(c->d)) != NULL) {
			rmsg_fail(m, IPC_DLV_TEMP, why);
			rmsg_done(m);
		}
	rconn_close(c);
}

void rconn_fail_target(struct rconn *c, const char *why)
{
	log_info("%s: attempt to %s failed: %s tls-policy=%s (%s)", c->m ? c->m->job->id : "-",
		 c->where, why, rtls_level_name(c->pol.level), c->pol.why);
	(void)str_copy(c->last_why, sizeof c->last_why, why);
	rconn_drop_bev(c);
	c->setup_done = 0;
	c->tls = 0;
	c->ext = 0;
	c->ai++;
	rconn_try(c);
}

static enum rtls_level rconn_conf_level(struct rconn *c)
{
	enum conf_tls_out t = rdest_conf_tls(c->d);
	static const enum rtls_level map[] = {
	    [TLSOUT_MAY] = RTLS_MAY,
	    [TLSOUT_NONE] = RTLS_NONE,
	    [TLSOUT_REQUIRE] = RTLS_REQUIRE,
	    [TLSOUT_VERIFY] = RTLS_VERIFY,
	};
	enum rtls_level l = (unsigned)t < 4 ? map[t] : RTLS_MAY;

	if (c->d->relay)
		(void)str_fmt(c->pol.why, sizeof c->pol.why, "smarthost %s", c->d->domain);
	else if (t != TLSOUT_MAY)
		(void)str_fmt(c->pol.why, sizeof c->pol.why, "destination %s tls %s", c->d->domain,
			      rtls_level_name(l));
	else
		(void)str_copy(c->pol.why, sizeof c->pol.why, "default: STARTTLS when offered");
	return l;
}

/* Destination config, then MTA-STS; DANE comes after, from TLSA. */
static void rconn_policy_base(struct rconn *c)
{
	memset(&c->pol, 0, sizeof c->pol);
	c->pol.level = rconn_conf_level(c);
	if (c->d->have_sts && c->d->sts.mode == STS_ENFORCE && c->pol.level != RTLS_VERIFY) {
		c->pol.level = RTLS_STS;
		(void)str_fmt(c->pol.why, sizeof c->pol.why, "MTA-STS policy of %s: enforce",
			      c->d->domain);
	}
}

/* MTA-STS: may mail go to this MX host? */
static int rconn_sts_allows(struct rconn *c, const char *host)
{
	const struct sts_policy *p = &c->d->sts;

	if (!c->d->have_sts || p->mode == STS_NONE || c->d->route->literal)
		return 1;
	for (size_t i = 0; i < p->n_mx && i < STS_MX_MAX; i++)
		if (sts_mx_match(p->mx[i], host))
			return 1;
	if (p->mode == STS_TESTING) {
		log_info("mta-sts testing: %s is not in the policy of %s (delivering anyway)", host,
			 c->d->domain);
		return 1;
	}
	return 0;
}

/* Reply lines: EHLO keywords are looked at line by line, every line goes
 * through the reply parser, a complete reply goes to remote_smtp.c. */
static void rconn_on_read(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->bev == bev && c->state != CS_CLOSED && c->state != CS_TLS_HANDSHAKE) {
		size_t n = evbuffer_get_length(in),
		       want = n < RP_LINE_MAX + 2 ? n : RP_LINE_MAX + 2;
		const char *buf = (const char *)evbuffer_pullup(in, (ssize_t)want);
		size_t used;
		long len = buf ? rp_line_find(buf, want, RP_LINE_MAX, &used) : -1;
		enum rp_status st;

		if (len == -1)
			return;
		if (len == -2)
			return rsmtp_lost(c, "sent a reply line that is too long");
		if (c->state == CS_EHLO)
			rsmtp_ehlo_line(c, buf, (size_t)len);
		st = rp_reply_feed(&c->rep, buf, (size_t)len);
		evbuffer_drain(in, used);
		if (st == RP_BAD)
			return rsmtp_lost(c, "sent a malformed reply");
		if (st == RP_DONE) {
			rsmtp_on_reply(c);
			rp_reply_init(&c->rep);
		}
	}
}

static void rconn_on_write(struct bufferevent *bev, void *arg)
{
	struct rconn *c = arg;

	if (c->state == CS_BODY)
		rsmtp_body_fill(c);
}

static void rconn_what(short what, char *out, size_t cap)
{
	int e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_TIMEOUT)
		(void)str_copy(out, cap, "timed out");
	else if (what & BEV_EVENT_EOF)
		(void)str_copy(out, cap, "connection closed");
	else
		(void)str_fmt(out, cap, "%s", e ? evutil_socket_error_to_string(e) : "error");
}

static void rconn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rconn *c = arg;
	char how[128], why[RM_WHY_MAX];
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CS_TLS_HANDSHAKE)
			return rsmtp_tls_done(c);
		if (c->d->relay && R.conf->out.relay_implicit_tls)
			return rconn_tls_start(c);
		c->state = CS_GREETING;
		rconn_set_timeout(c, RT_GREETING);
		return;
	}
	rconn_what(what, how, sizeof how);
	if (c->state == CS_IDLE || c->state == CS_QUIT)
		return rconn_close(c);
	if (c->state == CS_CONNECT) {
		(void)str_fmt(why, sizeof why, "4.4.1 connection to %s failed: %s", c->where, how);
		return rconn_fail_target(c, why);
	}
	if (c->state == CS_TLS_HANDSHAKE) {
		e = bufferevent_get_openssl_error(bev);
		if (e)
			ERR_error_string_n(e, how, sizeof how);
		ERR_clear_error();
		(void)str_fmt(why, sizeof why, "4.7.5 TLS handshake with %s failed: %s", c->peer,
			      how);
		return rconn_fail_target(c, why);
	}
	rsmtp_lost(c, how);
}

void rconn_callbacks(struct rconn *c)
{
	bufferevent_setcb(c->bev, rconn_on_read, rconn_on_write, rconn_on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, RC_WRITE_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void rconn_connect(struct rconn *c)
{
	struct raddr *a = &c->d->route->host[c->hi].addr[c->ai];
	struct sockaddr_storage sa = a->sa;
	struct timeval tv = {RT_CONNECT, 0};

	if (sa.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)c->port);
	else
		((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)c->port);
	c->state = CS_CONNECT;
	c->bev = bufferevent_socket_new(R.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		fatal("out of memory");
	rconn_callbacks(c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sa, a->len) < 0) {
		char why[RM_WHY_MAX];
		(void)str_fmt(why, sizeof why, "4.4.1 cannot connect to %s", c->where);
		rconn_fail_target(c, why);
	}
}

static void rconn_on_tlsa(void *arg, const struct dns_result *r)
{
	struct rconn *c = arg;
	char why[RM_WHY_MAX];
	size_t bad = 0;

	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		(void)str_fmt(why, sizeof why, "4.7.5 TLSA lookup for _%u._tcp.%s failed (%s)",
			      c->port, c->host, r->status == DNS_BOGUS ? "bogus" : "temporary");
		return rconn_fail_target(c, why);
	}
	if (r->status == DNS_OK && r->secure) {
		for (size_t i = 0; i < r->n_rr && c->pol.n_tlsa < RTLS_TLSA_MAX; i++) {
			if (rtls_tlsa_parse(r->rr[i], r->rr_len[i], &c->pol.tlsa[c->pol.n_tlsa]))
				c->pol.n_tlsa++;
			else
				bad++;
		}
		if (c->pol.n_tlsa > 0) {
			c->pol.level = RTLS_DANE;
			(void)str_fmt(c->pol.why, sizeof c->pol.why,
				      "%zu DNSSEC-valid TLSA record(s) for _%u._tcp.%s",
				      c->pol.n_tlsa, c->port, c->host);
		} else if (bad > 0 && c->pol.level < RTLS_REQUIRE) {
			c->pol.level = RTLS_REQUIRE; /* RFC 7672 2.2: unusable TLSA */
			(void)str_fmt(c->pol.why, sizeof c->pol.why,
				      "only unusable TLSA records for %s: encrypt only", c->host);
		}
	}
	rconn_connect(c);
}

static int rconn_next_target(struct rconn *c)
{
	struct rroute *r = c->d->route;

	while (c->hi < r->n_host) {
		if (c->ai == 0 && !rconn_sts_allows(c, r->host[c->hi].name)) {
			(void)str_fmt(c->last_why, sizeof c->last_why,
				      "4.7.5 MX host %s is not in the MTA-STS policy of %s",
				      r->host[c->hi].name, c->d->domain);
			c->hi++;
			continue;
		}
		if (c->ai < r->host[c->hi].n_addr)
			return 0;
		c->hi++;
		c->ai = 0;
	}
	return -1;
}

static void rconn_try(struct rconn *c)
{
	struct rroute *r = c->d->route;
	struct rhost *h;
	struct raddr *a;
	char q[DNS_NAME_MAX + 16];

	if (rconn_next_target(c) < 0)
		return rconn_exhausted(c);
	h = &r->host[c->hi];
	a = &h->addr[c->ai];
	c->port = c->d->relay ? R.conf->out.relay_port : R.conf->out.port;
	if (str_copy(c->host, sizeof c->host, c->d->relay ? R.conf->out.relay_host : h->name) < 0 ||
	    str_fmt(c->peer, sizeof c->peer, "%s[%s]", h->name, a->text) < 0 ||
	    str_fmt(c->where, sizeof c->where, "%s:%u", c->peer, c->port) < 0)
		fatal("host name too long");
	rconn_policy_base(c);
	if (!r->literal && r->mx_secure && a->secure &&
	    str_fmt(q, sizeof q, "_%u._tcp.%s", c->port, h->name) == 0 &&
	    dns_query(q, DNS_T_TLSA, RT_DNS_MS, rconn_on_tlsa, c) == 0)
		return;
	rconn_connect(c);
}

void rconn_start(struct rdest *d, struct rmsg *m)
{
	struct rconn *c = calloc(1, sizeof *c);

	if (!c)
		fatal("out of memory");
	c->d = d;
	c->m = m;
	d->n_conn++;
	R.n_conn++;
	rconn_try(c);
}

static void rconn_on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;

	rconn_unidle(c);
	c->state = CS_QUIT;
	rconn_set_timeout(c, RT_QUIT);
	if (rconn_send(c, "QUIT") < 0)
		rconn_close(c);
}

/* No message waits for this destination: keep the connection a moment. */
void rconn_idle(struct rconn *c)
{
	struct timeval tv = {RT_IDLE, 0};

	c->m = NULL;
	c->state = CS_IDLE;
	if (!c->timer && !(c->timer = evtimer_new(R.base, rconn_on_idle_timeout, c)))
		fatal("out of memory");
	c->next_idle = c->d->idle;
	c->d->idle = c;
	rconn_set_timeout(c, RT_IDLE + RT_QUIT);
	evtimer_add(c->timer, &tv);
}

void rconn_give(struct rconn *c, struct rmsg *m)
{
	rconn_unidle(c);
	c->m = m;
	rsmtp_ready(c);
}

/* Wrap the connection in TLS (smtps://, or after a 220 to STARTTLS). */
void rconn_tls_start(struct rconn *c)
{
	SSL *ssl = rtls_ssl(c->host, &c->pol);
	struct bufferevent *tb;

	if (!ssl)
		return rconn_fail_target(c, "4.7.5 cannot set up TLS");
	/* Whatever arrived before the handshake was sent in clear: drop it. */
	evbuffer_drain(bufferevent_get_input(c->bev),
		       evbuffer_get_length(bufferevent_get_input(c->bev)));
	tb = bufferevent_openssl_filter_new(R.base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
					    BEV_OPT_CLOSE_ON_FREE);
	if (!tb) {
		SSL_free(ssl);
		return rconn_fail_target(c, "4.7.5 cannot set up TLS");
	}
	c->bev = tb; /* the filter owns the plain one now (and its callbacks) */
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	c->state = CS_TLS_HANDSHAKE;
	rconn_callbacks(c);
	rconn_set_timeout(c, RT_TLS);
}
