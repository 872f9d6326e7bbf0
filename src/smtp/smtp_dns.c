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
 * Security role: answers are checked as lookup sends them (counted,
 * bounded rdata); the rdata is handed to the SPF/DKIM/DMARC parsers
 * here, in the sandbox, which treat it as hostile.
 */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_int.h"
#include "util/log.h"

#define SMTP_DNS_BUCKETS 256

struct smtp_dnsq {
	struct smtp_dnsq *next;
	uint64_t req;
	dns_cb cb;
	void *arg;
};

static struct smtp_dnsq *smtp_dns_pending[SMTP_DNS_BUCKETS];
static uint64_t smtp_dns_next = 1;

int smtp_dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg)
{
	static struct ipc_msg m; /* not reentrant with smtp_msg: our own record */
	struct smtp_dnsq *q;

	if (strlen(name) >= DNS_NAME_MAX || (q = malloc(sizeof *q)) == NULL)
		return -1;
	q->req = smtp_dns_next++;
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
	uint32_t status = ipc_get_u32(m), secure = ipc_get_u32(m), n = ipc_get_u32(m);
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
	r.status = (enum dns_status)status;
	r.secure = secure != 0;
	r.n_rr = n;
	q->cb(q->arg, &r);
	free(q);
}
