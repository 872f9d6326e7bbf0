/*
 * remote_route: where mail for a destination goes (RFC 5321 5.1). The MX
 * records of the domain, sorted by preference with equals shuffled; a
 * null MX (RFC 7505) fails for good at once; no MX records means the
 * domain itself (implicit MX); then the A and AAAA records of every host.
 * Domain literals ("[192.0.2.1]") and the smarthost need no MX lookup.
 * All lookups go through dns.h (libunbound, asynchronous); whether each
 * answer was DNSSEC-validated is kept, because DANE may use only secure
 * MX and address answers (RFC 7672 2.2).
 *
 * Security role: parses DNS rdata from the network (bounded by the lengths
 * libunbound gives; names are checked with conf_hostname_check) and decides
 * which addresses mail may go to.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/random.h>

#include "deliver/remote_int.h"
#include "lookup/dns.h"
#include "util/log.h"
#include "util/str.h"

#define DNS_T_A	   1
#define DNS_T_MX   15
#define DNS_T_AAAA 28

struct route_ctx {
	struct rroute *r;
	char name[CONF_NAME_MAX];
	rroute_cb cb;
	void *arg;
	int pending;
	int any_fail;
};

struct route_q {
	struct route_ctx *rc;
	size_t host;
	int v6;
};

void route_sort(struct rhost *h, size_t n)
{
	uint32_t rnd[RR_HOSTS_MAX];

	if (n > RR_HOSTS_MAX || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		memset(rnd, 0, sizeof rnd);
	/* Insertion sort by (pref, random key): n is at most RR_HOSTS_MAX. */
	for (size_t i = 1; i < n && i < RR_HOSTS_MAX; i++) {
		for (size_t j = i; j > 0; j--) {
			int swap = h[j].pref < h[j - 1].pref ||
				   (h[j].pref == h[j - 1].pref && rnd[j] < rnd[j - 1]);
			if (!swap)
				break;
			struct rhost t = h[j];
			uint32_t tr = rnd[j];
			h[j] = h[j - 1];
			h[j - 1] = t;
			rnd[j] = rnd[j - 1];
			rnd[j - 1] = tr;
		}
	}
}

static void route_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct route_ctx *rc = arg;

	rc->cb(rc->arg, rc->r);
	free(rc);
}

/* Call the user back from the loop, never from inside route_start. */
static void route_finish(struct route_ctx *rc)
{
	if (event_base_once(R.base, -1, EV_TIMEOUT, route_finish_cb, rc, NULL) < 0)
		fatal("cannot schedule a route callback");
}

static void route_fail(struct route_ctx *rc, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void route_fail(struct route_ctx *rc, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	rc->r->status = status;
	va_start(ap, fmt);
	n = vsnprintf(rc->r->why, sizeof rc->r->why, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rc->r->why)
		(void)str_copy(rc->r->why, sizeof rc->r->why,
			       status == 5 ? "5.4.4 no route to the destination"
					   : "4.4.3 no route to the destination");
	route_finish(rc);
}

static int route_addr_add(struct rhost *h, int v6, const unsigned char *rd, size_t n, int sec)
{
	struct raddr *a = &h->addr[h->n_addr];

	if (h->n_addr >= RR_ADDR_MAX || n != (v6 ? 16u : 4u))
		return -1;
	memset(a, 0, sizeof *a);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, rd, 16);
		a->len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, rd, 4);
		a->len = sizeof *s4;
	}
	a->secure = sec;
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, rd, a->text, sizeof a->text))
		return -1;
	h->n_addr++;
	return 0;
}

/* IPv4 first (stable), then IPv6. */
static void route_order_addrs(struct rhost *h)
{
	struct raddr tmp[RR_ADDR_MAX];
	size_t o = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < h->n_addr; i++)
			if ((h->addr[i].sa.ss_family == AF_INET6) == pass)
				tmp[o++] = h->addr[i];
	memcpy(h->addr, tmp, o * sizeof tmp[0]);
}

static void route_addrs_done(struct route_ctx *rc)
{
	struct rroute *r = rc->r;
	size_t o = 0;

	for (size_t i = 0; i < r->n_host; i++) {
		route_order_addrs(&r->host[i]);
		if (r->host[i].n_addr > 0)
			r->host[o++] = r->host[i];
	}
	r->n_host = o;
	if (o > 0)
		return route_finish(rc);
	if (rc->any_fail)
		return route_fail(rc, 4, "4.4.3 address lookup for the mail hosts of %s failed",
				  rc->name);
	if (r->implicit)
		return route_fail(rc, 5, "5.1.2 %s has no MX and no address records", rc->name);
	route_fail(rc, 5, "5.4.4 no MX host of %s has an address", rc->name);
}

static void route_on_addr(void *arg, const struct dns_result *res)
{
	struct route_q *q = arg;
	struct route_ctx *rc = q->rc;
	struct rhost *h = &rc->r->host[q->host];

	if (res->status == DNS_OK) {
		for (size_t i = 0; i < res->n_rr; i++)
			(void)route_addr_add(h, q->v6, res->rr[i], res->rr_len[i], res->secure);
	} else if (res->status == DNS_TEMPFAIL || res->status == DNS_BOGUS) {
		h->dns_fail = 1;
		rc->any_fail = 1;
		log_warn("dns: %s lookup of %s failed (%s)", q->v6 ? "AAAA" : "A", h->name,
			 res->status == DNS_BOGUS ? "bogus" : "temporary");
	}
	free(q);
	if (--rc->pending == 0)
		route_addrs_done(rc);
}

static void route_lookup_addrs(struct route_ctx *rc)
{
	rc->pending = 1; /* held until every query is started */
	for (size_t i = 0; i < rc->r->n_host; i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			struct route_q *q = calloc(1, sizeof *q);
			if (!q)
				fatal("out of memory");
			*q = (struct route_q){rc, i, v6};
			rc->pending++;
			if (dns_query(rc->r->host[i].name, v6 ? DNS_T_AAAA : DNS_T_A, RT_DNS_MS,
				      route_on_addr, q) < 0) {
				free(q);
				rc->pending--;
				rc->any_fail = 1;
			}
		}
	}
	if (--rc->pending == 0)
		route_addrs_done(rc);
}

static void route_mx_list(struct route_ctx *rc, const struct dns_result *res)
{
	struct rroute *r = rc->r;
	int null_mx = 0;

	for (size_t i = 0; i < res->n_rr && r->n_host < RR_HOSTS_MAX; i++) {
		struct rhost *h = &r->host[r->n_host];
		if (dns_mx_rdata(res->rr[i], res->rr_len[i], &h->pref, h->name, sizeof h->name) < 0)
			continue;
		if (h->name[0] == '\0') {
			null_mx = 1;
			continue;
		}
		r->n_host++;
	}
	if (null_mx && r->n_host == 0)
		return route_fail(rc, 5, "5.1.10 domain %s has a null MX (RFC 7505)", rc->name);
	if (r->n_host == 0)
		return route_fail(rc, 4, "4.4.3 the MX records of %s are unusable", rc->name);
	route_sort(r->host, r->n_host);
	route_lookup_addrs(rc);
}

static void route_implicit(struct route_ctx *rc)
{
	struct rhost *h = &rc->r->host[0];

	rc->r->implicit = 1;
	rc->r->n_host = 1;
	if (str_copy(h->name, sizeof h->name, rc->name) < 0)
		return route_fail(rc, 5, "5.1.2 bad domain %s", rc->name);
	route_lookup_addrs(rc);
}

static void route_on_mx(void *arg, const struct dns_result *res)
{
	struct route_ctx *rc = arg;

	rc->r->mx_secure = res->secure;
	switch (res->status) {
	case DNS_OK:
		return route_mx_list(rc, res);
	case DNS_NODATA:
		return route_implicit(rc);
	case DNS_NXDOMAIN:
		return route_fail(rc, 5, "5.1.2 domain %s does not exist", rc->name);
	case DNS_BOGUS:
		return route_fail(rc, 4, "4.4.3 DNSSEC validation failed for the MX of %s",
				  rc->name);
	default:
		return route_fail(rc, 4, "4.4.3 MX lookup for %s failed temporarily", rc->name);
	}
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]": one host, one address. */
static void route_literal(struct route_ctx *rc, const char *lit)
{
	struct rhost *h = &rc->r->host[0];
	char a[64];
	unsigned char bin[16];
	size_t n = strlen(lit);
	int v6 = 0;

	rc->r->literal = 1;
	if (n < 3 || n - 2 >= sizeof a || str_copyn(a, sizeof a, lit + 1, n - 2) < 0)
		return route_fail(rc, 5, "5.1.2 bad address literal %s", lit);
	if (strncasecmp(a, "IPv6:", 5) == 0)
		v6 = 1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a + (v6 ? 5 : 0), bin) != 1 ||
	    str_copy(h->name, sizeof h->name, lit) < 0 ||
	    route_addr_add(h, v6, bin, v6 ? 16 : 4, 0) < 0)
		return route_fail(rc, 5, "5.1.2 bad address literal %s", lit);
	rc->r->n_host = 1;
	route_finish(rc);
}

/* The smarthost: an address, or a name whose A/AAAA records are used. */
static void route_relay(struct route_ctx *rc)
{
	unsigned char bin[16];
	struct rhost *h = &rc->r->host[0];
	int v6 = strchr(rc->name, ':') != NULL;

	rc->r->literal = 1;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, rc->name, bin) == 1) {
		rc->r->n_host = 1;
		if (str_copy(h->name, sizeof h->name, rc->name) < 0 ||
		    route_addr_add(h, v6, bin, v6 ? 16 : 4, 0) < 0)
			return route_fail(rc, 4, "4.4.3 bad relay host %s", rc->name);
		return route_finish(rc);
	}
	route_implicit(rc);
	rc->r->implicit = 0;
}

void route_start(const char *dest, int relay, rroute_cb cb, void *arg)
{
	struct route_ctx *rc = calloc(1, sizeof *rc);

	if (!rc || !(rc->r = calloc(1, sizeof *rc->r)))
		fatal("out of memory");
	rc->cb = cb;
	rc->arg = arg;
	if (str_copy(rc->name, sizeof rc->name, dest) < 0)
		return route_fail(rc, 5, "5.1.2 destination too long");
	if (relay)
		return route_relay(rc);
	if (dest[0] == '[')
		return route_literal(rc, dest);
	if (dns_query(dest, DNS_T_MX, RT_DNS_MS, route_on_mx, rc) < 0)
		route_fail(rc, 4, "4.4.3 cannot look up the MX of %s", dest);
}
