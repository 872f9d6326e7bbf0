/*
 * spf: the life cycle of one SPF check (RFC 7208): the request copied and
 * checked (identity 2.3/2.4/4.3, client address, IPv4-mapped IPv6 taken
 * as IPv4), the deferred start, the one DNS query in flight and its
 * tombstone, the whole-check timeout, the explanation (6.2) and the
 * answer. Records and terms are in spf_eval.c, DNS mechanisms in
 * spf_mech.c, the pure parsers in spf_record.c and spf_macro.c.
 *
 * Security role: all DNS goes through the caller's dns_query_fn. A check
 * is freed only when its last reference goes: the caller's (until the
 * callback ran or the check was cancelled) and the query in flight's, so
 * a late answer is dropped, never delivered to freed memory. Explanation
 * text from DNS is reduced to printable ASCII before anyone sees it.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/spf_check.h"
#include "util/str.h"

#define SPF_POSTMASTER "postmaster"

const char *spf_result_name(enum spf_result r)
{
	static const char *const names[] = {"none",	"neutral",   "pass",	 "fail",
					    "softfail", "temperror", "permerror"};

	return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "permerror";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- references and the end ------------------------------------------- */

static void spf_unref(struct spf_check *c)
{
	if (--c->refs > 0)
		return;
	spf_free_frames(c);
	free(c);
}

/* Stop everything but the memory: events, records. */
static void spf_release(struct spf_check *c)
{
	c->dead = 1;
	if (c->start_ev)
		event_free(c->start_ev);
	if (c->timer)
		event_free(c->timer);
	c->start_ev = c->timer = NULL;
	spf_free_frames(c);
}

static void spf_default_exp(struct spf_check *c, char *out, size_t cap)
{
	const char *d = c->ans.domain, *ip = c->cip;

	switch (c->ans.result) {
	case SPF_PASS:
		(void)snprintf(out, cap, "%s designates %s as permitted sender", d, ip);
		break;
	case SPF_FAIL:
		(void)snprintf(out, cap, "%s does not designate %s as permitted sender", d, ip);
		break;
	case SPF_SOFTFAIL:
		(void)snprintf(out, cap, "%s does not designate %s as permitted sender (softfail)",
			       d, ip);
		break;
	case SPF_NEUTRAL:
		(void)snprintf(out, cap, "%s neither permits nor denies %s", d, ip);
		break;
	default:
		(void)snprintf(out, cap, "%s", c->why[0] ? c->why : "no SPF result");
	}
}

/* Hand the answer to the caller: once, then the check is a tombstone. */
static void spf_deliver(struct spf_check *c)
{
	char text[SPF_EXP_MAX];

	if (c->dead)
		return;
	if (!c->ans.explanation[0]) {
		spf_default_exp(c, text, sizeof text);
		(void)str_sanitize(c->ans.explanation, sizeof c->ans.explanation, text,
				   strlen(text));
	}
	if (!c->ans.mechanism[0] && c->ans.result != SPF_NONE && c->ans.result < SPF_TEMPERROR)
		(void)str_copy(c->ans.mechanism, sizeof c->ans.mechanism, "default");
	spf_release(c);
	c->cb(c->arg, &c->ans);
	spf_unref(c); /* the caller's reference */
}

/* ---- the explanation (RFC 7208 6.2) ----------------------------------- */

static void spf_exp_expand(struct spf_check *c)
{
	char ptr[SPF_DOMAIN_MAX], out[SPF_EXPAND_MAX];
	struct spf_macro_vars v;

	spf_vars(c, c->frames[0].domain, &v, ptr, sizeof ptr);
	if (spf_macro_expand(c->exp_text, strlen(c->exp_text), 0, &v, out, sizeof out) == 0)
		(void)str_sanitize(c->ans.explanation, sizeof c->ans.explanation, out, strlen(out));
	spf_deliver(c);
}

static void spf_on_exp(struct spf_check *c, const struct dns_result *r)
{
	size_t len;

	if (r->status != DNS_OK || r->n_rr != 1 ||
	    spf_txt_text(r->rr[0], r->rr_len[0], c->exp_text, sizeof c->exp_text, &len) < 0 ||
	    memchr(c->exp_text, '\0', len)) {
		spf_deliver(c);
		return;
	}
	if (spf_macro_uses_p(c->exp_text, len))
		spf_need_p(c, spf_exp_expand);
	else
		spf_exp_expand(c);
}

static void spf_exp_ask(struct spf_check *c)
{
	const struct spf_frame *f = &c->frames[0];
	char ptr[SPF_DOMAIN_MAX];
	struct spf_macro_vars v;

	spf_vars(c, f->domain, &v, ptr, sizeof ptr);
	if (spf_macro_expand(f->info.exp, f->info.exp_len, 1, &v, c->target, sizeof c->target) <
		0 ||
	    !spf_domain_ok(c->target)) {
		spf_deliver(c);
		return;
	}
	spf_ask(c, c->target, SPF_T_TXT, spf_on_exp);
}

void spf_finish(struct spf_check *c, enum spf_result r)
{
	const struct spf_frame *f = &c->frames[0];

	if (c->dead || c->exp_tried)
		return;
	c->ans.result = r;
	if (r != SPF_FAIL || c->depth == 0 || !f->info.exp) {
		spf_deliver(c);
		return;
	}
	c->exp_tried = 1;
	if (spf_macro_uses_p(f->info.exp, f->info.exp_len))
		spf_need_p(c, spf_exp_ask);
	else
		spf_exp_ask(c);
}

void spf_error(struct spf_check *c, enum spf_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->why, sizeof c->why, fmt, ap); /* a message: cut is fine */
	va_end(ap);
	spf_finish(c, r);
}

/* ---- DNS ---------------------------------------------------------------- */

static void spf_dns_cb(void *arg, const struct dns_result *r)
{
	struct spf_check *c = arg;
	spf_k k = c->k;

	c->k = NULL;
	if (!c->dead && k)
		k(c, r);
	spf_unref(c); /* the query's reference, held over k */
}

void spf_ask(struct spf_check *c, const char *name, int rrtype, spf_k k)
{
	char q[SPF_DOMAIN_MAX];
	int64_t left = c->deadline_ms - now_ms();
	size_t n;

	if (left <= 0) {
		spf_error(c, SPF_TEMPERROR, "the SPF check timed out");
		return;
	}
	if (str_copy(q, sizeof q, name) < 0 || (n = strlen(q)) == 0) {
		spf_error(c, SPF_PERMERROR, "a name too long to look up");
		return;
	}
	if (q[n - 1] == '.')
		q[n - 1] = '\0';
	c->k = k;
	c->refs++;
	if (c->query(q, rrtype, (unsigned)left, spf_dns_cb, c) < 0) {
		c->k = NULL;
		c->refs--;
		spf_error(c, SPF_TEMPERROR, "cannot start a DNS query for %s", q);
	}
}

static void spf_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;

	(void)fd;
	(void)what;
	c->refs++;
	if (c->exp_tried)
		spf_deliver(c); /* the result stands; the explanation is the default */
	else
		spf_error(c, SPF_TEMPERROR, "the SPF check timed out");
	spf_unref(c);
}

/* ---- the start ---------------------------------------------------------- */

/* The identity is a domain SPF can look at (RFC 7208 4.3): valid labels,
 * more than one, the last not all digits (an address is not a domain). */
static int spf_identity_ok(const char *d)
{
	size_t n = strlen(d);
	const char *last;

	if (!spf_domain_ok(d) || strchr(d, '[') || strchr(d, '@'))
		return 0;
	if (d[n - 1] == '.')
		n--;
	last = memrchr(d, '.', n);
	for (const char *p = last ? last + 1 : d; p < d + n; p++)
		if (*p < '0' || *p > '9')
			return 1;
	return 0;
}

static void spf_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spf_check *c = arg;

	(void)fd;
	(void)what;
	c->refs++;
	if (c->bad_ip)
		spf_error(c, SPF_PERMERROR, "the client address is not an IP address");
	else if (!spf_identity_ok(c->sdomain))
		spf_error(c, SPF_NONE, "'%s' is not a valid domain to check", c->sdomain);
	else
		spf_eval_begin(c, c->sdomain);
	spf_unref(c);
}

/* The identity (RFC 7208 2.3, 2.4, 4.3): MAIL FROM, or postmaster@helo
 * for <> and the HELO check; no local part means "postmaster". */
static int spf_identity(struct spf_check *c, const struct spf_request *rq)
{
	const char *s = rq->sender ? rq->sender : "", *at;

	if (str_copy(c->helo, sizeof c->helo, rq->helo ? rq->helo : "") < 0)
		c->helo[0] = '\0';
	if (rq->helo_identity || !*s) {
		at = NULL;
		if (str_copy(c->sdomain, sizeof c->sdomain, c->helo) < 0)
			return -1;
	} else {
		at = strrchr(s, '@');
		if (str_copy(c->sdomain, sizeof c->sdomain, at ? at + 1 : s) < 0)
			return -1;
	}
	if (at && at > s) {
		if (str_copyn(c->local, sizeof c->local, s, (size_t)(at - s)) < 0)
			return -1;
	} else if (str_copy(c->local, sizeof c->local, SPF_POSTMASTER) < 0) {
		return -1;
	}
	if (str_fmt(c->sender, sizeof c->sender, "%s@%s", c->local, c->sdomain) < 0)
		return -1;
	return str_copy(c->ans.domain, sizeof c->ans.domain, c->sdomain);
}

/* The i, c and v forms of the client address and its reverse name. */
static int spf_ip_setup(struct spf_check *c, const char *ip)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char a[16];
	size_t o = 0;

	if (ip && inet_pton(AF_INET, ip, a) == 1) {
		memcpy(c->ip, a, 4);
	} else if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
			memcpy(c->ip, a + 12, 4);
		} else {
			memcpy(c->ip, a, 16);
			c->v6 = 1;
		}
	} else {
		return -1;
	}
	if (!inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->ip, c->cip, sizeof c->cip))
		return -1;
	if (!c->v6)
		return str_copy(c->ip_dots, sizeof c->ip_dots, c->cip) < 0 ||
			       str_fmt(c->rev, sizeof c->rev, "%u.%u.%u.%u.in-addr.arpa", c->ip[3],
				       c->ip[2], c->ip[1], c->ip[0]) < 0
			   ? -1
			   : 0;
	for (size_t i = 0; i < 32; i++) {
		unsigned nib = i % 2 ? c->ip[i / 2] & 15 : c->ip[i / 2] >> 4;
		c->ip_dots[2 * i] = hex[nib];
		c->ip_dots[2 * i + 1] = i < 31 ? '.' : '\0';
		c->rev[o++] = hex[i % 2 ? c->ip[15 - i / 2] >> 4 : c->ip[15 - i / 2] & 15];
		c->rev[o++] = '.';
	}
	return str_copy(c->rev + o, sizeof c->rev - o, "ip6.arpa");
}

void spf_vars(const struct spf_check *c, const char *domain, struct spf_macro_vars *v, char *ptr,
	      size_t cap)
{
	spf_pick_p(c, domain, ptr, cap);
	memset(v, 0, sizeof *v);
	v->sender = c->sender;
	v->local = c->local;
	v->sdomain = c->sdomain;
	v->domain = domain;
	v->ip = c->ip_dots;
	v->ptr = ptr;
	v->ipver = c->v6 ? "ip6" : "in-addr";
	v->helo = c->helo;
	v->cip = c->cip;
	v->receiver = c->receiver;
	v->now = (long long)time(NULL);
}

int spf_ip_match(const struct spf_check *c, const unsigned char *addr, size_t len, int cidr)
{
	size_t bytes = (size_t)cidr / 8;
	unsigned bits = (unsigned)cidr % 8;

	if (len != (c->v6 ? 16u : 4u) || cidr < 0 || (size_t)cidr > len * 8)
		return 0;
	if (memcmp(c->ip, addr, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	return ((c->ip[bytes] ^ addr[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

struct spf_check *spf_check_start(const struct spf_request *rq, struct event_base *base,
				  dns_query_fn query, spf_cb cb, void *arg)
{
	struct timeval zero = {0, 0}, tv;
	unsigned ms = rq->timeout_ms ? rq->timeout_ms : SPF_TIMEOUT_MS;
	struct spf_check *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->refs = 1;
	c->base = base;
	c->query = query;
	c->cb = cb;
	c->arg = arg;
	c->deadline_ms = now_ms() + ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (spf_identity(c, rq) < 0)
		c->sdomain[0] = '\0'; /* too long: not a valid domain (none) */
	if (str_copy(c->receiver, sizeof c->receiver, rq->receiver ? rq->receiver : "") < 0 ||
	    !c->receiver[0])
		(void)str_copy(c->receiver, sizeof c->receiver, "unknown");
	c->bad_ip = spf_ip_setup(c, rq->ip) < 0;
	if (!(c->start_ev = evtimer_new(base, spf_start_cb, c)) ||
	    !(c->timer = evtimer_new(base, spf_timeout_cb, c)) ||
	    evtimer_add(c->start_ev, &zero) < 0 || evtimer_add(c->timer, &tv) < 0) {
		spf_release(c);
		free(c);
		return NULL;
	}
	return c;
}

void spf_check_cancel(struct spf_check *c)
{
	if (!c || c->dead)
		return;
	spf_release(c);
	spf_unref(c); /* the caller's; a query in flight keeps the tombstone */
}
