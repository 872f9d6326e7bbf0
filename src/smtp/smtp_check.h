/*
 * smtp_check: the state of one message's sender checks, shared by
 * smtp_check.c (starting them, collecting answers) and smtp_verdict.c
 * (the verdict, the action and the Authentication-Results field).
 */
#ifndef SEALPOST_SMTP_CHECK_H
#define SEALPOST_SMTP_CHECK_H

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

struct smtp_checks {
	struct smtp_session *s; /* owner; NULL once it let go (dead) */
	unsigned refs;		/* the owner + DKIM key questions in flight */
	struct spf_check *spf;
	int spf_done; /* SPF starts with the state itself */
	struct spf_answer spf_ans;
	struct dkim_verify *dkim;
	size_t keys_pending;
	int header_seen;
	int from_state; /* 0 one From: domain, 1 none, 2 several or unreadable */
	char from_domain[DMARC_DOMAIN_MAX];
	struct dmarc_discover *dd;
	int dmarc_pending;
	struct dmarc_policy_found found;
	int waiting; /* the message has ended: finish when nothing is pending */
};

struct smtp_keyq {
	struct smtp_checks *c;
	size_t i;
};

/* Loaded before the chroot when checks are on (smtp_worker.c), else NULL. */
extern const struct psl *smtp_psl;

/* An answer arrived: when the message has ended and nothing is pending
 * any more, judge it and commit or refuse (smtp_verdict.c). */
void smtp_checks_progress(struct smtp_checks *c);

#endif
