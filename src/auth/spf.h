/*
 * spf: Sender Policy Framework (RFC 7208) — checking whether a client
 * address may use a domain in MAIL FROM (or HELO).
 *
 * The check is an asynchronous state machine over a dns_query_fn (the
 * server's SMTP worker passes one that asks the lookup process over IPC;
 * the CLI passes dns_query itself), so evaluation never blocks a loop.
 * Record parsing and macro expansion are pure functions (fuzzed).
 *
 * Limits (RFC 7208 4.6.4): at most 10 DNS-querying terms (include, a, mx,
 * ptr, exists, redirect) per check, at most 2 void lookups, at most 10 MX
 * names per mx and 10 PTR names per ptr; a record or expansion never
 * grows past its fixed buffer.
 */
#ifndef SEALPOST_SPF_H
#define SEALPOST_SPF_H

#include <stddef.h>

#include <event2/event.h>

#include "lookup/dns.h"

#define SPF_EXP_MAX	 512 /* explanation text kept */
#define SPF_DOMAIN_MAX	 DNS_NAME_MAX
#define SPF_SENDER_MAX	 512
#define SPF_TIMEOUT_MS	 20000 /* whole check (RFC 7208 4.6.4: at least 20 s) */
#define SPF_LOOKUP_LIMIT 10
#define SPF_VOID_LIMIT	 2

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" */
const char *spf_result_name(enum spf_result r);

struct spf_request {
	const char *ip;	      /* client address, textual IPv4 or IPv6 */
	const char *sender;   /* MAIL FROM address (local@domain); "" for <>:
				 then the identity is postmaster@helo (RFC 7208 2.4) */
	const char *helo;     /* HELO/EHLO name as given */
	const char *receiver; /* our host name, for %{r} */
	int helo_identity;    /* 1: check the HELO identity (postmaster@helo)
				 whatever sender is (RFC 7208 2.3) */
	unsigned timeout_ms;  /* whole check; 0 = SPF_TIMEOUT_MS */
};

struct spf_answer {
	enum spf_result result;
	char domain[SPF_DOMAIN_MAX];   /* the domain checked (the identity's) */
	char explanation[SPF_EXP_MAX]; /* never empty: exp= text on fail when
					  published, else a sentence saying why */
	char mechanism[64];	       /* the matching term ("ip4:192.0.2.0/24",
					  "default" when none matched), or "" */
};

/* Called exactly once per started check, from the event loop, never from
 * inside spf_check_start; a is valid only during the call. */
typedef void (*spf_cb)(void *arg, const struct spf_answer *a);

struct spf_check;

/* Start a check. All strings are copied. Returns NULL only when out of
 * memory (cb is then not called). */
struct spf_check *spf_check_start(const struct spf_request *rq, struct event_base *base,
				  dns_query_fn query, spf_cb cb, void *arg);

/* Stop a check before its callback ran (its callback is never called);
 * pending DNS answers are ignored safely when they arrive. */
void spf_check_cancel(struct spf_check *c);

#endif
