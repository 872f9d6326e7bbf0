/*
 * lookup_conn: connection admission and the rate limits, for every SMTP
 * worker at once (the lookup process sees all of them, as Postfix's anvil
 * does): concurrent connections (whole server, per address, per /24 or
 * /64), new connections per address, DNS block/allow lists on smtp
 * listeners, the memory of clients that passed the pregreet test, and the
 * recipient and message rates per client address and per user.
 *
 * Security role: the first defence against floods. Every refusal names the
 * limit that fired, so the worker can say it in the reply and the log.
 * Rates go through counter.c (shared through Redis when configured); the
 * concurrency counts are this instance's own.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lookup/counter.h"
#include "lookup/dnsbl.h"
#include "lookup/lookup_int.h"
#include "util/log.h"
#include "util/str.h"

#define CONN_BUCKETS	65536
#define PASSED_ENTRIES	65536 /* clients remembered as having passed pregreet */
#define PASSED_PROBE	8
#define CONN_IP_MAX	64 /* "ffff:...": an address in text form */
#define CONN_DETAIL_MAX DNSBL_NAMES_MAX

/* One address or network with connections open. */
struct conn_count {
	struct conn_count *next;
	unsigned n;
	char key[CONN_IP_MAX + 8];
};

struct conn_passed {
	char ip[CONN_IP_MAX];
	time_t until;
};

/* A connection waiting for its DNS list answers. */
struct conn_pending {
	struct ipc_chan *ch;
	uint64_t sid;
	uint32_t flags;
	char ip[CONN_IP_MAX];
};

static struct conn_count *conn_tab[CONN_BUCKETS];
static struct conn_passed *passed;
static unsigned conn_total;

static uint32_t conn_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* ---- concurrency --------------------------------------------------------- */

static struct conn_count **conn_slot(const char *key)
{
	struct conn_count **pp = &conn_tab[conn_hash(key) % CONN_BUCKETS];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static unsigned conn_get(const char *key)
{
	struct conn_count *c = *conn_slot(key);
	return c ? c->n : 0;
}

static int conn_inc(const char *key)
{
	struct conn_count **pp = conn_slot(key);

	if (!*pp) {
		struct conn_count *c = calloc(1, sizeof *c);
		if (!c || str_copy(c->key, sizeof c->key, key) < 0) {
			free(c);
			return -1;
		}
		*pp = c;
	}
	(*pp)->n++;
	return 0;
}

static void conn_dec(const char *key)
{
	struct conn_count **pp = conn_slot(key);
	struct conn_count *c = *pp;

	if (!c)
		return;
	if (--c->n == 0) {
		*pp = c->next;
		free(c);
	}
}

/* "net:192.0.2.0/24" or "net:2001:db8::/64" for the client's network. */
static int conn_net_key(const char *ip, uint32_t flags, char *out, size_t cap)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	int v6 = (flags & IPC_CONN_F_IPV6) != 0;
	int af = v6 ? AF_INET6 : AF_INET;
	unsigned prefix = v6 ? CONF_LIMIT_NET_V6 : CONF_LIMIT_NET_V4;

	if (inet_pton(af, ip, a) != 1)
		return -1;
	memset(a + prefix / 8, 0, (v6 ? 16u : 4u) - prefix / 8);
	if (!inet_ntop(af, a, txt, sizeof txt))
		return -1;
	return str_fmt(out, cap, "net:%s/%u", txt, prefix);
}

/* ---- the pregreet memory -------------------------------------------------- */

static struct conn_passed *passed_find(const char *ip, time_t now, int create)
{
	uint32_t h = conn_hash(ip);
	struct conn_passed *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < PASSED_PROBE; i++) {
		struct conn_passed *p = &passed[(h + i) % PASSED_ENTRIES];
		if (p->ip[0] && strcmp(p->ip, ip) == 0)
			return create || p->until > now ? p : NULL;
		if (!p->ip[0]) {
			if (!free_slot)
				free_slot = p;
		} else if (!oldest || p->until < oldest->until) {
			oldest = p;
		}
	}
	if (!create)
		return NULL;
	struct conn_passed *v = free_slot ? free_slot : oldest;
	if (str_copy(v->ip, sizeof v->ip, ip) < 0)
		return NULL;
	return v;
}

/* ---- admission --------------------------------------------------------- */

static void conn_send_verdict(struct ipc_chan *ch, uint64_t sid, uint32_t verdict,
			      uint32_t pregreet, const char *ip, uint32_t flags, const char *detail)
{
	ipc_msg_init(L.out, IPC_CONN_VERDICT);
	ipc_put_u64(L.out, sid);
	ipc_put_u32(L.out, verdict);
	ipc_put_u32(L.out, pregreet);
	ipc_put_str(L.out, ip);
	ipc_put_u32(L.out, flags);
	ipc_put_str(L.out, detail);
	if (ipc_send(ch, L.out) < 0)
		log_error("cannot answer %s", ipc_chan_peer(ch));
}

static void conn_release(const char *ip, uint32_t flags)
{
	char net[CONN_IP_MAX + 8];

	if (conn_total > 0)
		conn_total--;
	if (flags & IPC_CONN_F_TRUSTED)
		return;
	conn_dec(ip);
	if (conn_net_key(ip, flags, net, sizeof net) == 0)
		conn_dec(net);
}

/* Does the pregreet test apply to this (admitted) client? */
static uint32_t conn_pregreet(const char *ip, uint32_t flags)
{
	const struct conf_limits *l = &L.conf->limits;

	if (!(flags & IPC_CONN_F_SMTP) || (flags & IPC_CONN_F_TRUSTED) || !l->pregreet ||
	    l->pregreet_wait_ms == 0)
		return 0;
	return passed_find(ip, time(NULL), 0) == NULL;
}

/* Name the limit that fired in detail[cap]; returns verdict. */
static uint32_t __attribute__((format(printf, 4, 5)))
conn_refuse(char *detail, size_t cap, uint32_t verdict, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(detail, cap, fmt, ap) < 0)
		detail[0] = '\0';
	va_end(ap);
	return verdict;
}

/* The concurrency and rate checks; counts the connection when it passes. */
static uint32_t conn_admit(const char *ip, uint32_t flags, char *detail, size_t cap)
{
	const struct conf_limits *l = &L.conf->limits;
	char net[CONN_IP_MAX + 8], key[COUNTER_KEY_MAX];

	if (conn_total >= l->max_conn)
		return conn_refuse(detail, cap, IPC_CONN_MAX, "max-connections %u", l->max_conn);
	if (flags & IPC_CONN_F_TRUSTED) {
		conn_total++;
		return IPC_CONN_OK;
	}
	/* Rates of IPv6 clients count per /64: one holder has all of it. */
	if (conn_net_key(ip, flags, net, sizeof net) < 0 ||
	    str_fmt(key, sizeof key, "conn:%s", flags & IPC_CONN_F_IPV6 ? net : ip) < 0)
		return conn_refuse(detail, cap, IPC_CONN_MAX_IP, "unparsable client address");
	if (conn_get(ip) >= l->max_conn_ip)
		return conn_refuse(detail, cap, IPC_CONN_MAX_IP, "max-connections-per-ip %u",
				   l->max_conn_ip);
	if (conn_get(net) >= l->max_conn_net)
		return conn_refuse(detail, cap, IPC_CONN_MAX_NET, "max-connections-per-net %u",
				   l->max_conn_net);
	if (l->conn_rate.count &&
	    counter_add(key, &l->conn_rate, 1, time(NULL)) > l->conn_rate.count)
		return conn_refuse(detail, cap, IPC_CONN_RATE, "connection-rate %u/%us",
				   l->conn_rate.count, l->conn_rate.period);
	if (conn_inc(ip) < 0 || conn_inc(net) < 0)
		fatal("out of memory counting connections");
	conn_total++;
	return IPC_CONN_OK;
}

static void conn_on_dnsbl(void *arg, const struct dnsbl_verdict *v)
{
	struct conn_pending *p = arg;
	const struct conf_limits *l = &L.conf->limits;

	if (v->timed_out)
		log_warn("[%s]: %u DNS list(s) did not answer in time", p->ip, v->timed_out);
	if (v->score >= l->dnsbl_threshold) {
		conn_release(p->ip, p->flags);
		conn_send_verdict(p->ch, p->sid, IPC_CONN_DNSBL, 0, p->ip, p->flags, v->names);
	} else {
		if (v->names[0])
			log_info("[%s]: listed in %s, score %d below dnsbl-threshold %d", p->ip,
				 v->names, v->score, l->dnsbl_threshold);
		conn_send_verdict(p->ch, p->sid, IPC_CONN_OK, conn_pregreet(p->ip, p->flags), p->ip,
				  p->flags, "");
	}
	free(p);
}

/* Start the DNS list queries; 0, or -1 when they could not be started. */
static int conn_dnsbl_start(struct ipc_chan *ch, uint64_t sid, const char *ip, uint32_t flags)
{
	unsigned char a[16];
	int af = flags & IPC_CONN_F_IPV6 ? AF_INET6 : AF_INET;
	struct conn_pending *p = calloc(1, sizeof *p);

	if (!p || inet_pton(af, ip, a) != 1 || str_copy(p->ip, sizeof p->ip, ip) < 0) {
		free(p);
		return -1;
	}
	p->ch = ch;
	p->sid = sid;
	p->flags = flags;
	if (dnsbl_check(&L.conf->limits, af, a, conn_on_dnsbl, p) < 0) {
		free(p);
		return -1;
	}
	return 0;
}

void lookup_on_conn_open(struct ipc_chan *ch, struct ipc_msg *m)
{
	char ip[CONN_IP_MAX], detail[CONN_DETAIL_MAX] = "";
	uint64_t sid = ipc_get_u64(m);
	uint32_t flags, verdict;

	ipc_get_str(m, ip, sizeof ip);
	flags = ipc_get_u32(m);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed connection record", ipc_chan_peer(ch));
	verdict = conn_admit(ip, flags, detail, sizeof detail);
	if (verdict != IPC_CONN_OK) {
		conn_send_verdict(ch, sid, verdict, 0, ip, flags, detail);
		return;
	}
	if ((flags & IPC_CONN_F_SMTP) && !(flags & IPC_CONN_F_TRUSTED) &&
	    L.conf->limits.n_dnsbl > 0 && conn_dnsbl_start(ch, sid, ip, flags) == 0)
		return;
	conn_send_verdict(ch, sid, IPC_CONN_OK, conn_pregreet(ip, flags), ip, flags, "");
}

void lookup_on_conn_pass(struct ipc_chan *ch, struct ipc_msg *m)
{
	char ip[CONN_IP_MAX];
	time_t now = time(NULL);
	struct conn_passed *p;

	ipc_get_str(m, ip, sizeof ip);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed pregreet record", ipc_chan_peer(ch));
	if ((p = passed_find(ip, now, 1)) != NULL)
		p->until = now + (time_t)L.conf->limits.pregreet_remember;
}

void lookup_on_conn_close(struct ipc_chan *ch, struct ipc_msg *m)
{
	char ip[CONN_IP_MAX];

	ipc_get_str(m, ip, sizeof ip);
	uint32_t flags = ipc_get_u32(m);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed connection record", ipc_chan_peer(ch));
	conn_release(ip, flags);
}

/* ---- rates --------------------------------------------------------------- */

/* 1 when one more recipient from this client (or user) is over its rate. */
int lookup_rcpt_over_rate(const char *ip, const char *login, uint32_t flags)
{
	const struct conf_limits *l = &L.conf->limits;
	char key[COUNTER_KEY_MAX];
	const struct conf_rate *r = login[0] ? &l->user_rcpt_rate : &l->rcpt_rate;
	char net[CONN_IP_MAX + 8];

	if (r->count == 0 || (!login[0] && (flags & IPC_RCPT_F_EXEMPT)))
		return 0;
	if (!login[0] && strchr(ip, ':') && conn_net_key(ip, IPC_CONN_F_IPV6, net, sizeof net) == 0)
		ip = net; /* IPv6 clients count per /64 */
	if (str_fmt(key, sizeof key, login[0] ? "rcpt-user:%s" : "rcpt:%s", login[0] ? login : ip) <
	    0)
		return 1;
	if (counter_peek(key, r, time(NULL)) >= r->count)
		return 1;
	counter_add(key, r, 1, time(NULL));
	return 0;
}

/* 1 when one more message from this user is over its rate. */
int lookup_msg_over_rate(const char *login)
{
	const struct conf_rate *r = &L.conf->limits.user_msg_rate;
	char key[COUNTER_KEY_MAX];

	if (r->count == 0)
		return 0;
	if (str_fmt(key, sizeof key, "msg-user:%s", login) < 0)
		return 1;
	if (counter_peek(key, r, time(NULL)) >= r->count)
		return 1;
	counter_add(key, r, 1, time(NULL));
	return 0;
}

void lookup_conn_init(void)
{
	passed = calloc(PASSED_ENTRIES, sizeof *passed);
	if (!passed)
		fatal("cannot allocate the pregreet memory");
}
