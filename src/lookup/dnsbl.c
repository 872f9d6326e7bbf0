/*
 * dnsbl: DNS block and allow lists. For a client address, one A query per
 * configured list (all in parallel, through dns.c), each answer checked
 * against the list's match rules, the weights of the lists that listed the
 * address summed into one score.
 *
 * Security role: the answers come from third-party servers. Only A records
 * of exactly 4 octets count, only 127.0.0.0/8 (or the list's own match
 * set), and never 127.255.255.x, which list operators return for "query
 * refused" or "rate limited" (counting those would block everyone). A list
 * that does not answer in time counts as not listed: a DNS outage must not
 * become a mail outage. The query name builder is pure and bounded, with a
 * fuzz target (fuzz/fuzz_dnsbl.c).
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lookup/dns.h"
#include "lookup/dnsbl.h"
#include "util/str.h"

#define DNSBL_RR_A     1
#define DNSBL_LOOPBACK 0x7f000000u /* 127.0.0.0/8 */
#define DNSBL_ERRNET   0x7fffff00u /* 127.255.255.0/24: list errors */

static const char hexdig[] = "0123456789abcdef";

/* "d.c.b.a." or the 32 reversed nibbles of addr, each followed by a dot. */
static int dnsbl_reverse(int family, const unsigned char *addr, char *out, size_t cap)
{
	size_t o = 0;

	if (family == AF_INET)
		return str_fmt(out, cap, "%u.%u.%u.%u.", addr[3], addr[2], addr[1], addr[0]);
	if (family != AF_INET6 || cap < 16 * 4 + 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hexdig[addr[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hexdig[addr[i] >> 4];
		out[o++] = '.';
	}
	out[o] = '\0';
	return 0;
}

int dnsbl_query_name(int family, const unsigned char *addr, const char *zone, char *out, size_t cap)
{
	char rev[16 * 4 + 1];
	size_t zlen;

	if (cap > 0)
		out[0] = '\0';
	if (!addr || !zone || cap == 0)
		return -1;
	zlen = strnlen(zone, DNS_NAME_MAX);
	if (zlen == 0 || zlen >= DNS_NAME_MAX || zone[0] == '.')
		return -1;
	if (dnsbl_reverse(family, addr, rev, sizeof rev) < 0)
		return -1;
	if (strlen(rev) + zlen >= DNS_NAME_MAX || str_fmt(out, cap, "%s%s", rev, zone) < 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int dnsbl_answer_matches(const struct conf_dnsbl *b, uint32_t a)
{
	size_t n = b->n_match < CONF_DNSBL_MATCH_MAX ? b->n_match : CONF_DNSBL_MATCH_MAX;

	if (n == 0)
		return (a & 0xff000000u) == DNSBL_LOOPBACK && (a & 0xffffff00u) != DNSBL_ERRNET;
	for (size_t i = 0; i < n; i++)
		if (b->match[i] == a)
			return 1;
	return 0;
}

/* ---- the parallel check ------------------------------------------------- */

struct dnsbl_check;

struct dnsbl_one {
	struct dnsbl_check *chk;
	size_t idx;
};

struct dnsbl_check {
	dnsbl_cb cb;
	void *arg;
	size_t n, pending;
	struct dnsbl_verdict v;
	struct conf_dnsbl list[CONF_MAX_DNSBL]; /* copies: config may reload meanwhile */
	struct dnsbl_one one[CONF_MAX_DNSBL];
};

/* Append ", zone" (or "zone") to names; "..." when the rest does not fit. */
static void dnsbl_name_add(char *names, const char *zone)
{
	size_t len = strnlen(names, DNSBL_NAMES_MAX), zlen = strnlen(zone, CONF_NAME_MAX);
	const char *sep = len ? ", " : "";

	if (len >= 3 && strcmp(names + len - 3, "...") == 0)
		return;
	if (len + strlen(sep) + zlen + 5 < DNSBL_NAMES_MAX) {
		(void)str_fmt(names + len, DNSBL_NAMES_MAX - len, "%s%.*s", sep, (int)zlen, zone);
		return;
	}
	(void)str_fmt(names + len, DNSBL_NAMES_MAX - len, "%s...", sep);
}

/* All answered: names (block lists first, then allow lists), cb, free. */
static void dnsbl_finish(struct dnsbl_check *chk)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < chk->n; i++)
			if (chk->v.state[i] == DNSBL_LISTED &&
			    (pass == 0) == (chk->list[i].weight > 0))
				dnsbl_name_add(chk->v.names, chk->list[i].zone);
	chk->cb(chk->arg, &chk->v);
	free(chk);
}

static void dnsbl_done_one(struct dnsbl_check *chk)
{
	if (--chk->pending == 0)
		dnsbl_finish(chk);
}

/* The first matching A answer of r for list i; 1 if there is one. */
static int dnsbl_match_answer(const struct conf_dnsbl *b, const struct dns_result *r, uint32_t *out)
{
	for (size_t k = 0; k < r->n_rr && k < DNS_MAX_RR; k++) {
		const unsigned char *d = r->rr[k];
		uint32_t a;

		if (r->rr_len[k] != 4 || !d)
			continue;
		a = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
		if (dnsbl_answer_matches(b, a)) {
			*out = a;
			return 1;
		}
	}
	return 0;
}

static void dnsbl_answer(void *arg, const struct dns_result *r)
{
	struct dnsbl_one *one = arg;
	struct dnsbl_check *chk = one->chk;
	size_t i = one->idx;
	uint32_t a = 0;

	if (r->status == DNS_TEMPFAIL) {
		chk->v.state[i] = DNSBL_TIMEOUT;
		chk->v.timed_out++;
	} else if (r->status == DNS_OK && dnsbl_match_answer(&chk->list[i], r, &a)) {
		chk->v.state[i] = DNSBL_LISTED;
		chk->v.answer[i] = a;
		chk->v.score += chk->list[i].weight;
	}
	dnsbl_done_one(chk);
}

/* Start list i; a list that cannot be asked counts as timed out. */
static void dnsbl_start_one(struct dnsbl_check *chk, size_t i, int family,
			    const unsigned char *addr, unsigned timeout_ms)
{
	char name[DNS_NAME_MAX];

	chk->one[i] = (struct dnsbl_one){.chk = chk, .idx = i};
	chk->pending++;
	if (dnsbl_query_name(family, addr, chk->list[i].zone, name, sizeof name) == 0 &&
	    dns_query(name, DNSBL_RR_A, timeout_ms, dnsbl_answer, &chk->one[i]) == 0)
		return;
	chk->v.state[i] = DNSBL_TIMEOUT;
	chk->v.timed_out++;
	chk->pending--;
}

int dnsbl_check(const struct conf_limits *l, int family, const unsigned char *addr, dnsbl_cb cb,
		void *arg)
{
	struct dnsbl_check *chk;
	size_t n = l->n_dnsbl < CONF_MAX_DNSBL ? l->n_dnsbl : CONF_MAX_DNSBL;

	if (n == 0) {
		struct dnsbl_verdict v;
		memset(&v, 0, sizeof v);
		cb(arg, &v);
		return 0;
	}
	if (!(chk = calloc(1, sizeof *chk)))
		return -1;
	chk->cb = cb;
	chk->arg = arg;
	chk->n = n;
	memcpy(chk->list, l->dnsbl, n * sizeof chk->list[0]);
	chk->pending = 1; /* held until every query is started */
	for (size_t i = 0; i < n; i++)
		dnsbl_start_one(chk, i, family, addr, l->dns_timeout_ms);
	dnsbl_done_one(chk);
	return 0;
}
