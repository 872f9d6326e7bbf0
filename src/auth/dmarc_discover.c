/*
 * dmarc_discover: finding the DMARC policy record of a From: domain
 * (RFC 7489 6.6.3) over a dns_query_fn.
 *
 *   TXT _dmarc.<from>: TXT records that are not DMARC are ignored; exactly
 *     one DMARC record: it is the policy (if valid; an invalid one means no
 *     DMARC); several: no DMARC; none at all: go on to
 *   TXT _dmarc.<organizational domain> when that differs from <from>, with
 *     the same rules (sp= then applies to <from>).
 * A DNS failure (SERVFAIL, timeout, DNSSEC bogus) at either step is a
 * temperror. At most two queries, each bounded by timeout_ms.
 *
 * The callback runs from an event of its own on the loop, never inside
 * dmarc_discover_start. Cancelling with a query in flight marks the object
 * dead; the late DNS answer frees it (the query function promises exactly
 * one callback), so no answer ever touches freed memory.
 *
 * Security role: reads attacker-published DNS text; answers are judged by
 * the pure dmarc_txt_choose and dmarc_record_parse (dmarc_record.c).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth/dmarc.h"
#include "util/str.h"

#define DMARC_TXT_TYPE 16

struct dmarc_discover {
	const struct psl *psl;
	dns_query_fn query;
	unsigned timeout_ms;
	dmarc_found_cb cb;
	void *arg;
	struct event *done_ev;
	unsigned inflight; /* DNS answers still owed to us */
	int dead;	   /* cancelled or delivered: only wait for inflight */
	int at_org;	   /* the query in flight is for the org domain */
	char from[DMARC_DOMAIN_MAX];
	char org[DMARC_DOMAIN_MAX]; /* "" when it equals from or is unknown */
	struct dmarc_policy_found found;
};

static void dmarc_discover_free(struct dmarc_discover *d)
{
	if (d->done_ev)
		event_free(d->done_ev);
	free(d);
}

static void dmarc_finish(struct dmarc_discover *d, enum dmarc_result status)
{
	d->found.status = status;
	event_active(d->done_ev, EV_TIMEOUT, 0);
}

static void dmarc_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dmarc_discover *d = arg;

	(void)fd;
	(void)what;
	d->dead = 1;
	d->cb(d->arg, &d->found);
	if (d->inflight == 0)
		dmarc_discover_free(d);
}

static void dmarc_answer(void *arg, const struct dns_result *r);

/* Ask TXT _dmarc.<domain>; -1 when the name is too long or not sent. */
static int dmarc_ask(struct dmarc_discover *d, const char *domain)
{
	char name[DMARC_DOMAIN_MAX];

	if (str_fmt(name, sizeof name, "_dmarc.%s", domain) < 0 || strlen(name) > 253)
		return -1;
	d->inflight++;
	if (d->query(name, DMARC_TXT_TYPE, d->timeout_ms, dmarc_answer, d) < 0) {
		d->inflight--;
		return -1;
	}
	return 0;
}

/* Try the organizational domain next, or finish with no policy. */
static void dmarc_try_org(struct dmarc_discover *d)
{
	if (d->at_org || d->org[0] == '\0') {
		dmarc_finish(d, DMARC_NONE);
		return;
	}
	d->at_org = 1;
	if (dmarc_ask(d, d->org) < 0)
		dmarc_finish(d, DMARC_TEMPERROR);
}

static void dmarc_answer(void *arg, const struct dns_result *r)
{
	struct dmarc_discover *d = arg;
	int rc;

	d->inflight--;
	if (d->dead) {
		if (d->inflight == 0)
			dmarc_discover_free(d);
		return;
	}
	if (r->status == DNS_TEMPFAIL || r->status == DNS_BOGUS) {
		dmarc_finish(d, DMARC_TEMPERROR);
		return;
	}
	rc = dmarc_txt_choose(r, &d->found.rec);
	if (rc == 0) {
		dmarc_try_org(d);
		return;
	}
	if (rc < 0) {
		dmarc_finish(d, DMARC_NONE); /* several records, or an invalid one */
		return;
	}
	d->found.at_org = d->at_org;
	(void)str_copy(d->found.policy_domain, sizeof d->found.policy_domain,
		       d->at_org ? d->org : d->from);
	dmarc_finish(d, DMARC_PASS);
}

struct dmarc_discover *dmarc_discover_start(const struct psl *psl, const char *from_domain,
					    struct event_base *base, dns_query_fn query,
					    unsigned timeout_ms, dmarc_found_cb cb, void *arg)
{
	struct dmarc_discover *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	*d = (struct dmarc_discover){
	    .psl = psl, .query = query, .timeout_ms = timeout_ms, .cb = cb, .arg = arg};
	if (!(d->done_ev = event_new(base, -1, 0, dmarc_deliver, d))) {
		free(d);
		return NULL;
	}
	if (psl_domain_norm(from_domain, d->from, sizeof d->from) < 0) {
		dmarc_finish(d, DMARC_NONE); /* no usable domain: no policy */
		return d;
	}
	if (psl_org_domain(psl, d->from, d->org, sizeof d->org) < 0 || strcmp(d->org, d->from) == 0)
		d->org[0] = '\0';
	if (dmarc_ask(d, d->from) < 0) {
		if (strlen(d->from) + sizeof "_dmarc." - 1 > 253)
			dmarc_try_org(d); /* the name cannot be asked: go on */
		else
			dmarc_finish(d, DMARC_TEMPERROR);
	}
	return d;
}

void dmarc_discover_cancel(struct dmarc_discover *d)
{
	if (!d)
		return;
	event_free(d->done_ev);
	d->done_ev = NULL;
	d->dead = 1;
	if (d->inflight == 0)
		free(d);
}
