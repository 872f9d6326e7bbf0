/*
 * dns: the asynchronous resolver every sealpost process that needs DNS uses
 * (libunbound on the process's libevent loop; never a blocking call).
 *
 * The resolver is the `resolver ADDR[:PORT]` of the config (a forwarder),
 * else the servers of /etc/resolv.conf. dns_init runs before the process
 * drops privileges (it reads resolv.conf and the trust anchor).
 */
#ifndef SEALPOST_DNS_H
#define SEALPOST_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "util/conf.h"

#define DNS_NAME_MAX 254 /* presentation form without the trailing dot, + NUL */
#define DNS_MAX_RR   64	 /* answers passed to a callback */

enum dns_status {
	DNS_OK = 0,   /* answers present (n_rr > 0) */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_NODATA,   /* the name exists, no record of that type */
	DNS_TEMPFAIL, /* SERVFAIL, timeout, network: try again later */
	DNS_BOGUS,    /* DNSSEC validation failed */
};

struct dns_result {
	enum dns_status status;
	int secure;    /* DNSSEC-validated (only with a trust anchor) */
	unsigned ttl;  /* seconds the answer may be kept (0: do not keep) */
	int truncated; /* more than DNS_MAX_RR records came: only the first are here */
	size_t n_rr;
	const unsigned char *rr[DNS_MAX_RR]; /* rdata, wire form */
	size_t rr_len[DNS_MAX_RR];
};

/* Called exactly once per query, from the event loop; r is valid only during
 * the call. */
typedef void (*dns_cb)(void *arg, const struct dns_result *r);

/* Set up the resolver for base from c. 0, or -1 with a reason in err[cap]. */
int dns_init(struct event_base *base, const struct conf *c, char *err, size_t cap);

/* Load DNSSEC trust anchors (DS or DNSKEY records in zone-file form, one
 * per line, ';' comments) from file, for this process's resolver only
 * (the remote process: DANE). The file is read here, before privileges
 * are dropped, not later by libunbound. Call after dns_init and before the
 * first query. 0, or -1 with a reason in err[cap]. */
int dns_trust_anchor(const char *file, char *err, size_t cap);

/* Ask for name (presentation form) and rrtype (1 A, 28 AAAA, 15 MX, 16 TXT,
 * 52 TLSA, 12 PTR ...). The answer comes to cb, at the latest after
 * timeout_ms (as DNS_TEMPFAIL). Returns 0, or -1 when the query could not
 * be started (cb is then not called). */
int dns_query(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb, void *arg);

/* The shape of dns_query, for code that must also run where DNS is asked
 * of another process (the SMTP worker asks lookup over IPC): SPF, DKIM key
 * and DMARC record lookups take one of these. */
typedef int (*dns_query_fn)(const char *name, int rrtype, unsigned timeout_ms, dns_cb cb,
			    void *arg);

/* A domain name in rdata (uncompressed wire form, all of rd[0..n), e.g.
 * PTR): checked as a host name, lowercased, into name[cap]; "" for the
 * root. 0 or -1. */
int dns_rdata_name(const unsigned char *rd, size_t n, char *name, size_t cap);
/* MX rdata: the preference and the exchange name ("" for a null MX). 0/-1 */
int dns_mx_rdata(const unsigned char *rd, size_t n, unsigned *pref, char *name, size_t cap);

/* Drop every pending query (their callbacks are not called), stop the
 * resolver thread and free everything; dns_init may run again after. */
void dns_shutdown(void);

#endif
