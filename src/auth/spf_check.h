/*
 * spf_check: the state of one running SPF check, shared by the files of
 * the evaluator: spf.c (life cycle, DNS, result and explanation),
 * spf_eval.c (records, terms, include and redirect) and spf_mech.c (the
 * DNS mechanisms a, mx, ptr, exists and the p macro).
 *
 * Security role: internal. At most one DNS query per check is in flight;
 * the check is reference counted so that an answer arriving after the
 * check ended (timeout, cancel) finds a tombstone, not freed memory.
 */
#ifndef SEALPOST_SPF_CHECK_H
#define SEALPOST_SPF_CHECK_H

#include <arpa/inet.h>
#include <stdint.h>

#include "auth/spf.h"
#include "auth/spf_int.h"

#define SPF_DEPTH_MAX (SPF_LOOKUP_LIMIT + 2) /* include nesting + the top */
#define SPF_WHY_MAX   256
#define SPF_T_A	      1
#define SPF_T_PTR     12
#define SPF_T_MX      15
#define SPF_T_TXT     16
#define SPF_T_AAAA    28

struct spf_check;
typedef void (*spf_k)(struct spf_check *c, const struct dns_result *r);
typedef void (*spf_next)(struct spf_check *c);

struct spf_frame {
	char domain[SPF_DOMAIN_MAX];
	char *rec; /* the record text (owned), or NULL before it came */
	size_t rec_len, pos;
	struct spf_record_info info;
	struct spf_term term; /* the term being evaluated */
	int include;	      /* started by an include of the frame below */
	int redirected;	      /* reached through redirect= */
};

struct spf_names {
	char name[SPF_PTR_NAMES][SPF_DOMAIN_MAX];
	int valid[SPF_PTR_NAMES];
	size_t n, i;
};

struct spf_check {
	int refs, dead;
	struct event_base *base;
	struct event *start_ev, *timer;
	dns_query_fn query;
	spf_cb cb;
	void *arg;
	spf_k k;	     /* continuation of the query in flight */
	int64_t deadline_ms; /* CLOCK_MONOTONIC */
	/* the identity and the client */
	char sender[SPF_SENDER_MAX], local[SPF_SENDER_MAX];
	char sdomain[SPF_DOMAIN_MAX], helo[SPF_DOMAIN_MAX], receiver[SPF_DOMAIN_MAX];
	int v6;
	unsigned char ip[16];
	char ip_dots[72], cip[INET6_ADDRSTRLEN], rev[80];
	/* counters (RFC 7208 4.6.4) */
	int lookups, voids;
	struct spf_frame frames[SPF_DEPTH_MAX];
	size_t depth;
	/* the DNS mechanism being evaluated */
	char target[SPF_DOMAIN_MAX];
	struct spf_names mech;
	/* the p macro: validated PTR names, looked up once */
	int p_state; /* 0 not yet, 1 known */
	struct spf_names p;
	spf_next p_next;
	/* the result */
	struct spf_answer ans;
	char why[SPF_WHY_MAX];
	int exp_tried; /* fetching the exp= text: the result is fixed */
	int bad_ip;    /* the request's ip was not an address */
	char exp_text[SPF_EXPAND_MAX];
};

/* spf.c */
void spf_ask(struct spf_check *c, const char *name, int rrtype, spf_k k);
void spf_finish(struct spf_check *c, enum spf_result r);
void spf_error(struct spf_check *c, enum spf_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void spf_vars(const struct spf_check *c, const char *domain, struct spf_macro_vars *v, char *ptr,
	      size_t cap);
int spf_ip_match(const struct spf_check *c, const unsigned char *addr, size_t len, int cidr);

/* spf_eval.c */
void spf_eval_begin(struct spf_check *c, const char *domain);
void spf_eval_include(struct spf_check *c, const char *target);
void spf_frame_done(struct spf_check *c, enum spf_result r);
void spf_term_result(struct spf_check *c, int match);
void spf_free_frames(struct spf_check *c);

/* spf_mech.c */
void spf_mech_start(struct spf_check *c);
void spf_need_p(struct spf_check *c, spf_next next);
void spf_pick_p(const struct spf_check *c, const char *domain, char *out, size_t cap);
int spf_name_under(const char *name, const char *domain);
int spf_rdata_name(const unsigned char *rd, size_t n, char *out, size_t cap);

#endif
