/*
 * lookup_dns: DNS questions asked by the SMTP workers (IPC_DNS_QUERY) for
 * their sender-authentication checks — SPF records and the names they
 * lead to, DKIM keys, DMARC policies — answered with lookup's resolver
 * (src/lookup/dns.c, libunbound on this loop).
 *
 * Security role: the worker is untrusted, so only the record types those
 * checks need are served, names must be plain printable DNS names and the
 * timeout is capped. The answers are passed back as raw rdata: parsing
 * them (attacker-controlled data) happens in the sandboxed worker, not
 * here, next to the password hashes.
 */
#include <stdlib.h>
#include <string.h>

#include "lookup/dns.h"
#include "lookup/lookup_int.h"
#include "util/log.h"

#define LOOKUP_DNS_TIMEOUT_MAX 30000 /* ms: the longest a worker may ask us to wait */
#define LOOKUP_DNS_ANSWER_ROOM (IPC_MSG_MAX - 1024) /* payload for rdata, with headroom */

struct lookup_dnsq {
	struct ipc_chan *ch;
	uint64_t req;
};

static int lookup_dns_type_ok(uint32_t t)
{
	return t == 1 || t == 12 || t == 15 || t == 16 || t == 28; /* A PTR MX TXT AAAA */
}

static int lookup_dns_name_ok(const char *n)
{
	if (!n[0])
		return 0;
	for (const char *p = n; *p; p++)
		if (*p <= ' ' || *p >= 127)
			return 0;
	return 1;
}

static void lookup_dns_reply(struct ipc_chan *ch, uint64_t req, const struct dns_result *r)
{
	size_t n = 0, room = LOOKUP_DNS_ANSWER_ROOM;
	uint32_t status = (uint32_t)r->status;

	while (n < r->n_rr && r->rr_len[n] + 4 <= room)
		room -= r->rr_len[n++] + 4;
	/* A record set we cannot pass whole is no answer: the record the
	 * checks look for (SPF, a key, a DMARC policy) may be among those
	 * left out, so "none" would fail open. They see a temporary error. */
	if (r->truncated || n < r->n_rr) {
		status = DNS_TEMPFAIL;
		n = 0;
	}
	ipc_msg_init(L.out, IPC_DNS_ANSWER);
	ipc_put_u64(L.out, req);
	ipc_put_u32(L.out, status);
	ipc_put_u32(L.out, (uint32_t)r->secure);
	ipc_put_u32(L.out, status == DNS_TEMPFAIL ? 0 : (uint32_t)r->ttl);
	ipc_put_u32(L.out, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ipc_put_strn(L.out, (const char *)r->rr[i], r->rr_len[i]);
	if (ipc_send(ch, L.out) < 0)
		log_error("%s: cannot send a DNS answer", ipc_chan_peer(ch));
}

static void lookup_dns_done(void *arg, const struct dns_result *r)
{
	struct lookup_dnsq *q = arg;

	lookup_dns_reply(q->ch, q->req, r);
	free(q);
}

void lookup_on_dns_query(struct ipc_chan *ch, struct ipc_msg *m)
{
	char name[DNS_NAME_MAX];
	uint64_t req = ipc_get_u64(m);
	struct lookup_dnsq *q;

	ipc_get_str(m, name, sizeof name);
	uint32_t type = ipc_get_u32(m), timeout = ipc_get_u32(m);
	if (ipc_end(m) < 0 || !lookup_dns_type_ok(type) || !lookup_dns_name_ok(name))
		fatal("%s sent a malformed DNS question", ipc_chan_peer(ch));
	if (timeout == 0 || timeout > LOOKUP_DNS_TIMEOUT_MAX)
		timeout = LOOKUP_DNS_TIMEOUT_MAX;
	if ((q = malloc(sizeof *q)) == NULL)
		fatal("out of memory");
	q->ch = ch;
	q->req = req;
	if (dns_query(name, (int)type, timeout, lookup_dns_done, q) < 0) {
		struct dns_result fail = {.status = DNS_TEMPFAIL};
		lookup_dns_reply(ch, req, &fail);
		free(q);
	}
}
