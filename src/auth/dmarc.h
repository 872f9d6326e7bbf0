/*
 * dmarc: DMARC (RFC 7489) — policy records, the organizational domain
 * (Public Suffix List), identifier alignment and the resulting verdict.
 *
 * Everything here is pure except dmarc_discover_start (asynchronous, over
 * a dns_query_fn like SPF) and psl_load (reads the list file once, before
 * any process drops privileges; children inherit it).
 */
#ifndef SEALPOST_DMARC_H
#define SEALPOST_DMARC_H

#include <stddef.h>

#include <event2/event.h>

#include "lookup/dns.h"

#define DMARC_DOMAIN_MAX DNS_NAME_MAX
#define DMARC_URI_MAX	 512
#define DMARC_FO_MAX	 16
#define DMARC_RF_MAX	 64
#define DMARC_TXT_MAX	 4096 /* a TXT record's text kept for parsing */
#define PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

/* ---- Public Suffix List -------------------------------------------------- */

struct psl;
/* Load a list in the publicsuffix.org format (rules, wildcards, exceptions;
 * both the ICANN and private sections). NULL with a reason in err. */
struct psl *psl_load(const char *path, char *err, size_t cap);
void psl_free(struct psl *p);
/* The organizational domain of domain (RFC 7489 3.2: the public suffix plus
 * one label), lowercased, into out. If domain is itself a public suffix
 * (or a bare TLD) the result is domain itself. 0, or -1 for an unusable
 * name. */
int psl_org_domain(const struct psl *p, const char *domain, char *out, size_t cap);
/* The same from text already in memory (tests, fuzzing). */
struct psl *psl_load_mem(const char *text, size_t len, char *err, size_t cap);
/* Rules kept (the list's Unicode rules are kept in A-label form, malformed
 * rules skipped) and bytes held, for the log line at start. p may be NULL
 * (0, 0). Names given to psl_org_domain must be ASCII (A-labels). */
void psl_stats(const struct psl *p, size_t *rules, size_t *bytes);
/* Check a domain name (ASCII letters, digits, '-', '_'; labels 1..63
 * octets; at most 253 octets; one final dot allowed and dropped) and write
 * it lowercased into out. 0, or -1 when unusable. */
int psl_domain_norm(const char *in, char *out, size_t cap);

/* s[0..n) with every label that is not ASCII turned into its A-label
 * (Punycode, RFC 3492; no further IDNA mapping), into out[cap]. 0 or -1. */
int psl_name_ascii(const char *s, size_t n, char *out, size_t cap);

/* ---- records -------------------------------------------------------------- */

enum dmarc_policy { DMARC_P_NONE = 0, DMARC_P_QUARANTINE, DMARC_P_REJECT };
const char *dmarc_policy_name(enum dmarc_policy p); /* "none" ... */

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp; /* = p when sp= absent */
	int adkim_strict;
	int aspf_strict;
	unsigned pct; /* 0..100, default 100 */
	char rua[DMARC_URI_MAX];
	char ruf[DMARC_URI_MAX];
	char fo[DMARC_FO_MAX]; /* "0" by default; colon list of 0 1 d s */
	char rf[DMARC_RF_MAX]; /* "afrf" by default */
	unsigned long ri;      /* report interval, seconds; default 86400 */
};

/* Parse a TXT record's text. 1 if it is a valid DMARC record, 0 if it is
 * not a DMARC record at all (no "v=DMARC1" first), -1 if it starts like
 * one but is invalid (RFC 7489 6.6.3: then treated as no record). */
int dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r);
/* Choose the policy among the TXT answers for one _dmarc name (RFC 7489
 * 6.6.3): 1 and *rec when exactly one DMARC record is there and valid; 0
 * when there is no DMARC record (go on to the org domain); -1 when there
 * are several or the one is invalid (no DMARC for this message). */
int dmarc_txt_choose(const struct dns_result *r, struct dmarc_record *rec);

/* ---- evaluation ------------------------------------------------------------ */

enum dmarc_result { DMARC_NONE = 0, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
const char *dmarc_result_name(enum dmarc_result r); /* "none" "pass" "fail" ... */

/* What discovery found for a From: domain. */
struct dmarc_policy_found {
	enum dmarc_result status; /* DMARC_NONE (no record), DMARC_PASS (found: rec
				     valid), DMARC_TEMPERROR (DNS failed) */
	struct dmarc_record rec;
	char policy_domain[DMARC_DOMAIN_MAX]; /* where the record was found */
	int at_org;			      /* found at the organizational domain
						 (then sp= applies), not at From's */
};

struct dmarc_auth {
	const char *domain; /* SPF: the MAIL FROM (or HELO) domain; DKIM: d= */
	int pass;	    /* 1 if that SPF or DKIM result was pass */
};

struct dmarc_input {
	const char *from_domain; /* RFC5322.From domain */
	struct dmarc_auth spf;	 /* domain may be NULL/"" */
	const struct dmarc_auth *dkim;
	size_t n_dkim;
};

struct dmarc_verdict {
	enum dmarc_result result;      /* pass / fail / none / temperror */
	enum dmarc_policy policy;      /* the policy that applies (p or sp) */
	enum dmarc_policy disposition; /* what to do after pct sampling */
	int spf_aligned, dkim_aligned;
	char policy_domain[DMARC_DOMAIN_MAX];
	char aligned_dkim_domain[DMARC_DOMAIN_MAX]; /* the d= that passed aligned */
};

/* Judge a message. pct_roll is a number in 0..99 chosen at random by the
 * caller (fixed in tests): the policy applies when pct_roll < pct, else the
 * disposition falls one step (reject -> quarantine -> none, RFC 7489 6.6.4).
 * Result none (policy and disposition none) when no record was found or
 * from_domain is unusable; temperror when discovery failed; never
 * permerror. With psl NULL relaxed alignment is judged as strict. */
void dmarc_evaluate(const struct psl *psl, const struct dmarc_policy_found *found,
		    const struct dmarc_input *in, unsigned pct_roll, struct dmarc_verdict *out);

/* Find the policy for from_domain: TXT _dmarc.<from>, else (no valid record
 * there) TXT _dmarc.<organizational domain>. cb is called exactly once,
 * from the loop, never inside this call. NULL only when out of memory. */
/* Only when no DMARC record at all is at _dmarc.<from> does discovery go on
 * to the org domain (RFC 7489 6.6.3 step 3); several records or an invalid
 * one at <from> mean no policy. Each query is bounded by timeout_ms. After
 * cb has run d is gone: do not cancel it then (nor from inside cb). */
typedef void (*dmarc_found_cb)(void *arg, const struct dmarc_policy_found *f);
struct dmarc_discover;
struct dmarc_discover *dmarc_discover_start(const struct psl *psl, const char *from_domain,
					    struct event_base *base, dns_query_fn query,
					    unsigned timeout_ms, dmarc_found_cb cb, void *arg);
void dmarc_discover_cancel(struct dmarc_discover *d);

#endif
