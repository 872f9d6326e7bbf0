/*
 * spf_int: the pure parts of SPF (RFC 7208), shared by the evaluator
 * (spf.c, spf_eval.c), the unit tests and the fuzz target: choosing the
 * one "v=spf1" TXT record (4.5), the record/term parser (4.6, 5, 6) and
 * macro expansion (7).
 *
 * Security role: everything here reads text a remote DNS server chose.
 * No function allocates, every output has a fixed capacity, and anything
 * that would not fit is an error, never silently cut.
 */
#ifndef SEALPOST_SPF_INT_H
#define SEALPOST_SPF_INT_H

#include <stddef.h>

#include "auth/spf.h"

#define SPF_RECORD_MAX 4096 /* longest SPF record text accepted */
#define SPF_EXPAND_MAX 2048 /* longest macro expansion */
#define SPF_MX_NAMES   10   /* RFC 7208 4.6.4 */
#define SPF_PTR_NAMES  10   /* RFC 7208 4.6.4 */
#define SPF_CIDR4_NONE 32
#define SPF_CIDR6_NONE 128

enum spf_kind {
	SPF_K_ALL = 0,
	SPF_K_INCLUDE,
	SPF_K_A,
	SPF_K_MX,
	SPF_K_PTR,
	SPF_K_IP4,
	SPF_K_IP6,
	SPF_K_EXISTS,
	SPF_K_REDIRECT, /* modifiers from here */
	SPF_K_EXP,
	SPF_K_UNKNOWN_MOD,
};

/* One term of a record; the pointers point into the record text. */
struct spf_term {
	enum spf_kind kind;
	char qual;	  /* '+', '-', '~' or '?' (mechanisms) */
	const char *spec; /* domain-spec or modifier value, or NULL */
	size_t spec_len;
	int cidr4, cidr6;     /* prefix lengths (32 / 128 when absent) */
	unsigned char ip[16]; /* ip4 (first 4 octets) or ip6 network */
	const char *text;     /* the whole term */
	size_t text_len;
};

/* What the whole-record check finds besides its terms. */
struct spf_record_info {
	const char *redirect, *exp; /* the modifier values, or NULL */
	size_t redirect_len, exp_len;
	int has_all; /* an "all" mechanism anywhere (redirect is then ignored) */
};

/* Pure: the one "v=spf1" record among n TXT rdatas (wire form, strings
 * concatenated; RFC 7208 4.5). 1 with its text (NUL-terminated) in
 * out[cap] and its length in *len, 0 when there is none, -1 when there are
 * several or one is malformed or too long (*why says which). */
int spf_txt_select(const unsigned char *const *rr, const size_t *rr_len, size_t n, char *out,
		   size_t cap, size_t *len, const char **why);

/* Pure: the strings of one TXT rdata concatenated into out[cap]
 * (NUL-terminated), length in *len. 0, or -1 when malformed or too long. */
int spf_txt_text(const unsigned char *rd, size_t n, char *out, size_t cap, size_t *len);

/* Pure: the next term of rec[0..len) at *pos (just after "v=spf1" at first).
 * 1 with the term in *t, 0 at the end, -1 on a syntax error (*why). */
int spf_term_next(const char *rec, size_t len, size_t *pos, struct spf_term *t, const char **why);

/* Pure: check a whole record (starting with "v=spf1"): every term's syntax,
 * redirect and exp at most once each. 0 with *info filled, or -1 (*why). */
int spf_record_check(const char *rec, size_t len, struct spf_record_info *info, const char **why);

/* Pure: the syntax of a macro-string (domain = 1: a domain-spec, which must
 * end in a macro or "." toplabel and may not use c, r, t; domain = 0: an
 * explain-string, where spaces and c, r, t are allowed). 0 or -1. */
int spf_macro_check(const char *s, size_t n, int domain);

/* 1 if the macro-string s[0..n) uses the p letter (needs a PTR lookup). */
int spf_macro_uses_p(const char *s, size_t n);

/* The values the macro letters expand to (RFC 7208 7.3). */
struct spf_macro_vars {
	const char *sender;   /* s: local@domain */
	const char *local;    /* l */
	const char *sdomain;  /* o */
	const char *domain;   /* d: the current domain */
	const char *ip;	      /* i: dotted IPv4 or dot-separated IPv6 nibbles */
	const char *ptr;      /* p: validated name, or "unknown" */
	const char *ipver;    /* v: "in-addr" or "ip6" */
	const char *helo;     /* h */
	const char *cip;      /* c: IPv4 dotted or IPv6 RFC 5952 */
	const char *receiver; /* r */
	long long now;	      /* t */
};

/* Pure: expand the macro-string s[0..n) into out[cap] (NUL-terminated).
 * domain as for spf_macro_check; a domain-spec expansion longer than 253
 * octets loses labels on the left (RFC 7208 4.8). 0, or -1 on a syntax
 * error or when the result does not fit. */
int spf_macro_expand(const char *s, size_t n, int domain, const struct spf_macro_vars *v, char *out,
		     size_t cap);

/* Pure: is name a domain SPF may query: labels of 1..63 octets, at least
 * two labels (a dot inside), at most 253 octets (a final dot allowed). */
int spf_domain_ok(const char *name);

#endif
