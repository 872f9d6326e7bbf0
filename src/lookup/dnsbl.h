/*
 * dnsbl: DNS block and allow lists (`dnsbl ZONE[=ANSWERS] [WEIGHT]`),
 * queried in parallel at connect and combined into one score.
 */
#ifndef SEALPOST_DNSBL_H
#define SEALPOST_DNSBL_H

#include <stddef.h>
#include <stdint.h>

#include "util/conf.h"

#define DNSBL_NAMES_MAX 512 /* "zone1, zone2": the lists that matched */

/* Pure: the query name for addr (AF_INET: 4 bytes, AF_INET6: 16) under
 * zone: "4.3.2.1.zone" or 32 reversed nibbles + ".zone". 0 or -1. */
int dnsbl_query_name(int family, const unsigned char *addr, const char *zone, char *out,
		     size_t cap);

/* Pure: does the A record answer a (host byte order) count as listed in b?
 * (Any 127.0.0.0/8 answer when b has no match list, except 127.255.255.x,
 * which list operators use for "query refused" and errors.) */
int dnsbl_answer_matches(const struct conf_dnsbl *b, uint32_t a);

/* The verdict: score is the sum of the weights of the lists that listed
 * the address; names the lists that did (block lists first). timed_out
 * counts lists that did not answer in time (treated as not listed). */
enum dnsbl_state {
	DNSBL_NOT_LISTED = 0, /* NXDOMAIN, or no answer that matches */
	DNSBL_LISTED,	      /* an A answer matched */
	DNSBL_TIMEOUT,	      /* no answer in time, SERVFAIL, or not asked */
};

struct dnsbl_verdict {
	int score;
	unsigned timed_out;
	char names[DNSBL_NAMES_MAX];
	/* Per list, indexed like l->dnsbl (for logs and `sealpost dnsbl`). */
	enum dnsbl_state state[CONF_MAX_DNSBL];
	uint32_t answer[CONF_MAX_DNSBL]; /* the matching A answer (host order) */
};

typedef void (*dnsbl_cb)(void *arg, const struct dnsbl_verdict *v);

/* Query every list of l for addr; cb is called exactly once, when all have
 * answered or after l->dns_timeout_ms. With no lists, cb runs before this
 * returns. 0, or -1 (cb not called) when out of memory. l is copied as far
 * as needed; arg must stay valid until cb has run. */
int dnsbl_check(const struct conf_limits *l, int family, const unsigned char *addr, dnsbl_cb cb,
		void *arg);

#endif
