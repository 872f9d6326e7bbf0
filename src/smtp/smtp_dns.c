/*
 * smtp_dns: DNS for the SMTP worker's sender checks (SPF, DKIM keys,
 * DMARC policies). The worker has no resolver of its own (it is chrooted
 * and unprivileged); smtp_dns_query has the shape of dns_query
 * (dns_query_fn) and asks the lookup process over IPC instead.
 *
 * Every question gets exactly one answer from lookup (its resolver
 * answers every query, at the latest as a timeout), so a pending entry
 * always ends; if lookup goes away the worker exits with it.
 *
 * A small cache keeps answers for their TTL (at most SMTP_DNS_TTL_MAX
 * seconds, only definite ones: records, no such name, no such record) in
 * a direct-mapped table, so a busy sender's SPF record, DKIM key and
 * DMARC policy cost one IPC round trip a minute rather than one per
 * message. A cached answer is still delivered from the loop, never inside
 * smtp_dns_query, like a fresh one.
 *
 * Security role: answers are checked as lookup sends them (counted,
 * bounded rdata); the rdata is handed to the SPF/DKIM/DMARC parsers
 * here, in the sandbox, which treat it as hostile. The cache holds at
 * most SMTP_DNS_SLOTS answers of at most SMTP_DNS_ENTRY_MAX octets.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtp/smtp_int.h"
#include "util/log.h"

#define SMTP_DNS_BUCKETS   256
#define SMTP_DNS_SLOTS	   1024
#define SMTP_DNS_ENTRY_MAX 4096 /* rdata octets of one cached answer */
#define SMTP_DNS_TTL_MAX   300	/* seconds: a cached answer is asked again after this */
#define SMTP_DNS_INFLIGHT  256	/* questions waiting for lookup, per worker */

struct smtp_dnsq {
	struct smtp_dnsq *next;
	uint64_t req;
	int rrtype;
	char name[DNS_NAME_MAX];
	dns_cb cb;
	void *arg;
};

/* One answer: status, rdata lengths and the rdata back to back. */
struct smtp_dns_entry {
	int rrtype;
	char name[DNS_NAME_MAX];
	time_t expires;
	enum dns_status status;
	size_t n_rr;
	size_t rr_len[DNS_MAX_RR];
	size_t used;
	unsigned char data[SMTP_DNS_ENTRY_MAX];
};

static struct smtp_dnsq *smtp_dns_pending[SMTP_DNS_BUCKETS];
static struct smtp_dns_entry *smtp_dns_cache[SMTP_DNS_SLOTS];
static uint64_t smtp_dns_next = 1;
static size_t smtp_dns_inflight;
static time_t smtp_dns_full_logged;

static size_t smtp_dns_slot(const char *name, int rrtype)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)rrtype;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)(*p | 0x20)) * 1099511628211ull;
	return (size_t)(h % SMTP_DNS_SLOTS);
}

static const struct smtp_dns_entry *smtp_dns_cached(const char *name, int rrtype)
{
	const struct smtp_dns_entry *e = smtp_dns_cache[smtp_dns_slot(name, rrtype)];

	if (!e || e->rrtype != rrtype || strcasecmp(e->name, name) != 0 || e->expires <= time(NULL))
		return NULL;
	return e;
}

/* Keep a definite answer for its TTL (bounded), replacing the slot's. */
static void smtp_dns_keep(const char *name, int rrtype, const struct dns_result *r)
{
	size_t total = 0, slot = smtp_dns_slot(name, rrtype);
	struct smtp_dns_entry *e;

	if (r->ttl == 0 ||
	    (r->status != DNS_OK && r->status != DNS_NXDOMAIN && r->status != DNS_NODATA))
		return;
	for (size_t i = 0; i < r->n_rr; i++)
		total += r->rr_len[i];
	if (total > SMTP_DNS_ENTRY_MAX || strlen(name) >= DNS_NAME_MAX)
		return;
	if ((e = smtp_dns_cache[slot]) == NULL && (e = malloc(sizeof *e)) == NULL)
		return;
	smtp_dns_cache[slot] = e;
	e->rrtype = rrtype;
	memcpy(e->name, name, strlen(name) + 1);
	e->expires = time(NULL) + (r->ttl < SMTP_DNS_TTL_MAX ? r->ttl : SMTP_DNS_TTL_MAX);
	e->status = r->status;
	e->n_rr = r->n_rr;
	e->used = 0;
	for (size_t i = 0; i < r->n_rr; i++) {
		memcpy(e->data + e->used, r->rr[i], r->rr_len[i]);
		e->rr_len[i] = r->rr_len[i];
		e->used += r->rr_len[i];
	}
}

/* A cached answer on its way to its callback (a copy: the slot may be
 * replaced before the loop runs it). */
struct smtp_dns_hit {
	dns_cb cb;
	void *arg;
	struct smtp_dns_entry e;
};

static void smtp_dns_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_dns_hit *hit = arg;
	struct dns_result r;
	size_t off = 0;

	memset(&r, 0, sizeof r);
	r.status = hit->e.status;
	r.n_rr = hit->e.n_rr;
	for (size_t i = 0; i < r.n_rr; i++) {
		r.rr[i] = hit->e.data + off;
		r.rr_len[i] = hit->e.rr_len[i];
		off += r.rr_len[i];
	}
	hit->cb(hit->arg, &r);
	free(hit);
}

static int smtp_dns_from_cache(const struct smtp_dns_entry *e, dns_cb cb, void *arg)
{
	struct smtp_dns_hit *hit = malloc(sizeof *hit);

	if (!hit)
		return -1;
	hit->cb = cb;
	hit->arg = arg;
	/* the fixed part and the rdata used, not the whole 4 KB data area */
	memcpy(&hit->e, e, offsetof(struct smtp_dns_entry, data) + e->used);
	if (event_base_once(W.base, -1, EV_TIMEOUT, smtp_dns_deliver, hit, NULL) < 0) {
		free(hit);
		return -1;
	}
	return 0;
}

int smtp_dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg)
{
	static struct ipc_msg m; /* not reentrant with smtp_msg: our own record */
	const struct smtp_dns_entry *e;
	struct smtp_dnsq *q;

	if (strlen(name) >= DNS_NAME_MAX)
		return -1;
	if ((e = smtp_dns_cached(name, rrtype)) != NULL && smtp_dns_from_cache(e, cb, arg) == 0)
		return 0;
	if (smtp_dns_inflight >= SMTP_DNS_INFLIGHT) { /* the checks see a temporary error */
		if (time(NULL) - smtp_dns_full_logged >= 60) {
			smtp_dns_full_logged = time(NULL);
			log_warn("%d DNS questions of sender checks already waiting: more fail "
				 "for now (temperror)",
				 SMTP_DNS_INFLIGHT);
		}
		return -1;
	}
	if ((q = malloc(sizeof *q)) == NULL)
		return -1;
	q->req = smtp_dns_next++;
	q->rrtype = rrtype;
	memcpy(q->name, name, strlen(name) + 1);
	q->cb = cb;
	q->arg = arg;
	ipc_msg_init(&m, IPC_DNS_QUERY);
	ipc_put_u64(&m, q->req);
	ipc_put_str(&m, name);
	ipc_put_u32(&m, (uint32_t)rrtype);
	ipc_put_u32(&m, timeout_ms);
	if (ipc_send(W.lookup, &m) < 0) {
		free(q);
		return -1;
	}
	q->next = smtp_dns_pending[q->req % SMTP_DNS_BUCKETS];
	smtp_dns_pending[q->req % SMTP_DNS_BUCKETS] = q;
	smtp_dns_inflight++;
	return 0;
}

static struct smtp_dnsq *smtp_dns_take(uint64_t req)
{
	for (struct smtp_dnsq **pp = &smtp_dns_pending[req % SMTP_DNS_BUCKETS]; *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->req == req) {
			struct smtp_dnsq *q = *pp;
			*pp = q->next;
			return q;
		}
	}
	return NULL;
}

void smtp_on_dns_answer(struct ipc_msg *m)
{
	struct dns_result r;
	uint64_t req = ipc_get_u64(m);
	uint32_t status = ipc_get_u32(m), secure = ipc_get_u32(m), ttl = ipc_get_u32(m);
	uint32_t n = ipc_get_u32(m);
	struct smtp_dnsq *q;

	memset(&r, 0, sizeof r);
	if (m->bad || status > DNS_BOGUS || n > DNS_MAX_RR)
		fatal("malformed DNS answer from lookup");
	for (uint32_t i = 0; i < n; i++)
		ipc_get_blob(m, &r.rr[i], &r.rr_len[i], IPC_MSG_MAX);
	if (ipc_end(m) < 0 || (status == DNS_OK) != (n > 0))
		fatal("malformed DNS answer from lookup");
	if ((q = smtp_dns_take(req)) == NULL)
		fatal("lookup answered a DNS question we did not ask");
	smtp_dns_inflight--;
	r.status = (enum dns_status)status;
	r.secure = secure != 0;
	r.ttl = ttl;
	r.n_rr = n;
	smtp_dns_keep(q->name, q->rrtype, &r);
	q->cb(q->arg, &r);
	free(q);
}
