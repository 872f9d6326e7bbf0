/*
 * remote_sts: MTA-STS (RFC 8461) for the remote process. For a recipient
 * domain: the _mta-sts TXT record (through dns.h), then the policy fetched
 * over HTTPS (libcurl multi on the process's event loop, PKIX-verified
 * against outbound-ca-file), cached until max_age and refreshed when the
 * TXT id changes. Pure parser sts_policy_parse() is fuzzed.
 *
 * Security role: a policy in enforce mode makes TLS with a valid
 * certificate for an MX name matching the policy mandatory; an attacker
 * on the path who strips STARTTLS or presents another certificate gets
 * the mail deferred, not delivered in clear.
 */
#ifndef SEALPOST_REMOTE_STS_H
#define SEALPOST_REMOTE_STS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "util/conf.h"

#define STS_MX_MAX	  16
#define STS_POLICY_MAX	  (64 * 1024) /* a fetched policy body, at most (RFC 8461 3.3) */
#define STS_MAX_AGE_LIMIT 31557600    /* one year (RFC 8461 3.2) */

enum sts_mode { STS_NONE = 0, STS_TESTING, STS_ENFORCE };

struct sts_policy {
	enum sts_mode mode;
	char mx[STS_MX_MAX][256]; /* patterns: "mx.example.org" or "*.example.org" */
	size_t n_mx;
	uint32_t max_age;
	char id[64]; /* the TXT record's id= when fetched */
	time_t fetched;
};

/* Pure: parse a policy body (RFC 8461 3.2). 0, or -1 with a static reason. */
int sts_policy_parse(const char *body, size_t len, struct sts_policy *out, const char **why);

/* Pure: does MX host name mx (lowercase, no trailing dot) match pattern? */
int sts_mx_match(const char *pattern, const char *mx);

/* Pure: 1 if mx matches one of p's patterns (RFC 8461 4.1), else 0. */
int sts_policy_mx_ok(const struct sts_policy *p, const char *mx);

/* Pure: pick the one "v=STSv1" record among n TXT rdatas (wire form: length-
 * prefixed strings, concatenated per record; RFC 8461 3.1). 0 with its id
 * in id[33], or -1 with a static reason (none, several, malformed). */
int sts_txt_select(const unsigned char *const *rr, const size_t *rr_len, size_t n, char id[33],
		   const char **why);

/* The policy for domain, as far as known: cb(arg, policy or NULL) is called
 * once, from the loop; NULL = no policy (no TXT record, fetch failed with
 * no cached policy, or mta-sts off). */
typedef void (*sts_cb)(void *arg, const struct sts_policy *p);
int sts_init(struct event_base *base, const struct conf *c);
void sts_lookup(const char *domain, sts_cb cb, void *arg);

/* sts_init with the cache directory named (NULL: memory only). sts_init
 * uses <spool>/mta-sts, created (0700) when missing and possible. Both need
 * dns_init() on the same base first. 0, or -1 (logged). */
int sts_init_dir(struct event_base *base, const struct conf *c, const char *cache_dir);

/* sts_lookup, and why: "fetched", "cached" ... for a policy; the reason
 * there is none for NULL ("no _mta-sts TXT record", "HTTP 404" ...). The
 * text is printable ASCII, valid only during the call; for logs. */
typedef void (*sts_why_cb)(void *arg, const struct sts_policy *p, const char *why);
void sts_lookup_why(const char *domain, sts_why_cb cb, void *arg);

/* Drop pending lookups (their callbacks are not called), end transfers and
 * free everything; sts_init may run again after. */
void sts_shutdown(void);

#endif
