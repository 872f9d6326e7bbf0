/*
 * smtp_verdict: the end of a message's sender checks — gather the SPF,
 * DKIM and DMARC results, write our Authentication-Results field (RFC
 * 8601) for the late region of the queue file, log them, and apply what
 * the config allows: `spf-fail reject` refuses an SPF fail (550 5.7.23,
 * RFC 7372), `dmarc-policy enforce` (the default) refuses a DMARC
 * p=reject failure (550 5.7.1) and files p=quarantine failures into the
 * Junk folder; `quarantine` files both into Junk; `mark` only records.
 * Clients in trusted-networks are never refused or quarantined here.
 *
 * Security role: every text that reaches the reply, the log or the header
 * came from the network; authres_build writes no control octets, and the
 * reply and log texts are sanitized here.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/authres.h"
#include "queue/queue_spool.h"
#include "smtp/smtp_check.h"
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

#define VERDICT_AR_MAX	  (QENV_LATE_SIZE - 64) /* our field, in the late region */
#define VERDICT_REPLY_MAX 512
#define VERDICT_LOG_MAX	  1024

struct smtp_verdict {
	struct dkim_sig_result dkim[DKIM_SIG_MAX];
	size_t n_dkim;
	int have_dmarc;
	struct dmarc_verdict dmarc;
	enum dmarc_result dmarc_result;
};

static int smtp_checks_pending(const struct smtp_checks *c)
{
	return !c->spf_done || c->keys_pending || c->dmarc_pending;
}

/* A-R text into a fresh buffer for the late region; fewer DKIM results when
 * they do not all fit. NULL only when even none fit or out of memory. */
static char *smtp_authres(struct authres_input *in)
{
	char *buf = malloc(VERDICT_AR_MAX);

	if (!buf)
		return NULL;
	for (;;) {
		if (authres_build(in, buf, VERDICT_AR_MAX) >= 0)
			return buf;
		if (in->n_dkim == 0)
			break;
		in->n_dkim--;
	}
	free(buf);
	return NULL;
}

static void smtp_verdict_dkim(struct smtp_checks *c, struct smtp_verdict *v, struct dmarc_auth *da)
{
	size_t n = c->dkim ? dkim_verify_count(c->dkim) : 0;

	v->n_dkim = n > DKIM_SIG_MAX ? DKIM_SIG_MAX : n;
	for (size_t i = 0; i < v->n_dkim; i++) {
		dkim_verify_result(c->dkim, i, &v->dkim[i]);
		da[i].domain = v->dkim[i].domain;
		da[i].pass = v->dkim[i].result == DKIM_PASS;
	}
}

/* Did SPF or any DKIM signature end in a temporary error? */
static int smtp_verdict_unsure(const struct smtp_checks *c, const struct smtp_verdict *v)
{
	if (c->spf_ans.result == SPF_TEMPERROR)
		return 1;
	for (size_t i = 0; i < v->n_dkim; i++)
		if (v->dkim[i].result == DKIM_TEMPERROR)
			return 1;
	return 0;
}

static void smtp_verdict_dmarc(struct smtp_checks *c, struct smtp_verdict *v,
			       const struct dmarc_auth *da)
{
	struct dmarc_input in = {.from_domain = c->from_domain,
				 .spf = {c->spf_ans.domain, c->spf_ans.result == SPF_PASS},
				 .dkim = da,
				 .n_dkim = v->n_dkim};

	v->have_dmarc = 1;
	if (c->from_state != 0 || !smtp_psl) { /* no single From: domain to judge */
		v->dmarc_result = DMARC_PERMERROR;
		return;
	}
	dmarc_evaluate(smtp_psl, &c->found, &in, arc4random_uniform(100), &v->dmarc);
	v->dmarc_result = v->dmarc.result;
	/* No pass, but SPF or a DKIM signature could not be checked for now:
	 * the verdict is not known (never a permanent refusal on it). */
	if (v->dmarc_result == DMARC_FAIL && smtp_verdict_unsure(c, v))
		v->dmarc_result = DMARC_TEMPERROR;
}

/* "d/s/result,..." for the record (sanitized later with the whole line). */
static void smtp_verdict_dkim_list(const struct smtp_verdict *v, char *out, size_t cap)
{
	size_t o = 0;

	str_copy(out, cap, "none");
	for (size_t i = 0; i < v->n_dkim; i++)
		if (str_fmt(out + o, cap - o, "%s%s/%s/%s", i ? "," : "", v->dkim[i].domain,
			    v->dkim[i].selector, dkim_result_name(v->dkim[i].result)) == 0)
			o += strlen(out + o);
}

/* One line for the log and, when the From: domain publishes a policy, the
 * DMARC record kept for aggregate reports (lookup_report.c). */
static void smtp_verdict_record(struct smtp_session *s, struct smtp_checks *c,
				const struct smtp_verdict *v)
{
	const struct dmarc_record *r = &c->found.rec;
	int found = c->from_state == 0 && c->found.status == DMARC_PASS;
	char dk[VERDICT_LOG_MAX / 2], line[VERDICT_LOG_MAX], clean[VERDICT_LOG_MAX];

	smtp_verdict_dkim_list(v, dk, sizeof dk);
	if (str_fmt(line, sizeof line,
		    "ip=%s from=%s policy-domain=%s p=%s sp=%s adkim=%c aspf=%c pct=%u "
		    "disposition=%s dmarc=%s spf=%s/%s spf-aligned=%s dkim=%s dkim-aligned=%s",
		    s->addr, c->from_domain[0] ? c->from_domain : "-",
		    found ? v->dmarc.policy_domain : "-", found ? dmarc_policy_name(r->p) : "-",
		    found ? dmarc_policy_name(r->sp) : "-", r->adkim_strict ? 's' : 'r',
		    r->aspf_strict ? 's' : 'r', found ? r->pct : 0,
		    dmarc_policy_name(v->dmarc.disposition), dmarc_result_name(v->dmarc_result),
		    c->spf_ans.domain[0] ? c->spf_ans.domain : "-",
		    spf_result_name(c->spf_ans.result), v->dmarc.spf_aligned ? "yes" : "no", dk,
		    v->dmarc.dkim_aligned ? "yes" : "no") < 0)
		return;
	str_sanitize(clean, sizeof clean, line, strlen(line));
	log_info("%s: auth: %s%s", s->qid, clean, s->trusted ? " (trusted network)" : "");
	if (found)
		smtp_send_dmarc_record(clean);
}

/* The refusal the config asks for, into reply; NULL to accept (s->junk
 * set when it goes to the Junk folder). */
static const char *smtp_verdict_action(struct smtp_session *s, struct smtp_checks *c,
				       const struct smtp_verdict *v, char *reply, size_t cap)
{
	const struct conf_mailauth *a = &W.conf->mailauth;
	char why[SPF_EXP_MAX];

	if (s->trusted)
		return NULL;
	if (a->spf_fail_reject && c->spf_ans.result == SPF_FAIL) {
		str_sanitize(why, sizeof why, c->spf_ans.explanation,
			     strlen(c->spf_ans.explanation));
		if (str_fmt(reply, cap, "550 5.7.23 SPF check failed for %s: %s", c->spf_ans.domain,
			    why) < 0)
			str_copy(reply, cap, "550 5.7.23 SPF check failed");
		return reply;
	}
	if (a->dmarc == DMARC_MODE_MARK)
		return NULL;
	if (c->from_state == 2) { /* RFC 7489 6.6.1: no single author domain to judge */
		if (a->dmarc == DMARC_MODE_QUARANTINE) {
			s->junk = 1;
			return NULL;
		}
		str_copy(reply, cap,
			 "550 5.7.1 Message refused: the From: header must name exactly one "
			 "sender domain (RFC 5322 3.6.2, RFC 7489 6.6.1)");
		return reply;
	}
	if (v->dmarc_result == DMARC_TEMPERROR && c->found.status == DMARC_PASS &&
	    v->dmarc.disposition == DMARC_P_REJECT && a->dmarc == DMARC_MODE_ENFORCE) {
		/* p=reject, nothing passed, something could not be checked: ask again later */
		str_copy(reply, cap,
			 "451 4.7.5 Sender authentication could not be completed (a DNS lookup "
			 "failed for now); try again later");
		return reply;
	}
	if (v->dmarc_result != DMARC_FAIL)
		return NULL;
	if (v->dmarc.disposition == DMARC_P_REJECT && a->dmarc == DMARC_MODE_ENFORCE) {
		if (str_fmt(reply, cap,
			    "550 5.7.1 Message rejected: DMARC policy of %s says reject (From: %s "
			    "is not aligned with a passing SPF or DKIM identity)",
			    v->dmarc.policy_domain, c->from_domain) < 0)
			str_copy(reply, cap, "550 5.7.1 Message rejected by DMARC policy");
		return reply;
	}
	if (v->dmarc.disposition != DMARC_P_NONE)
		s->junk = 1;
	return NULL;
}

/* Judge the message; NULL to commit it, else the refusal (in reply). */
static const char *smtp_verdict(struct smtp_session *s, struct smtp_checks *c, char *reply,
				size_t cap)
{
	struct smtp_verdict v;
	struct dmarc_auth da[DKIM_SIG_MAX];

	memset(&v, 0, sizeof v);
	smtp_verdict_dkim(c, &v, da);
	smtp_verdict_dmarc(c, &v, da);
	struct authres_input in = {.authserv_id = conf_authserv_id(W.conf),
				   .have_spf = 1,
				   .spf = c->spf_ans.result,
				   .spf_mailfrom = s->from,
				   .spf_helo = s->helo,
				   .dkim = v.dkim,
				   .n_dkim = v.n_dkim,
				   .have_dmarc = v.have_dmarc,
				   .dmarc = v.dmarc_result,
				   .dmarc_policy = v.dmarc.policy,
				   .dmarc_from = c->from_domain};
	free(s->late_prefix);
	if ((s->late_prefix = smtp_authres(&in)) == NULL)
		log_error("%s: cannot write Authentication-Results", s->qid);
	smtp_verdict_record(s, c, &v);
	const char *r = smtp_verdict_action(s, c, &v, reply, cap);
	if (s->junk)
		log_info("%s: quarantined: DMARC policy of %s", s->qid, v.dmarc.policy_domain);
	return r;
}

/* Authenticated mail: the A-R field says who sent it. */
static void smtp_authres_user(struct smtp_session *s)
{
	struct authres_input in = {.authserv_id = conf_authserv_id(W.conf),
				   .auth_user = s->auth_user};

	free(s->late_prefix);
	s->late_prefix = smtp_authres(&in);
}

int smtp_checks_end(struct smtp_session *s)
{
	struct smtp_checks *c = s->chk;
	char reply[VERDICT_REPLY_MAX];
	const char *r;

	if (s->auth_user[0]) {
		smtp_authres_user(s);
		return 0;
	}
	if (!c)
		return 0;
	if (c->dkim)
		dkim_verify_body_end(c->dkim);
	if (smtp_checks_pending(c)) {
		c->waiting = 1;
		s->wait = SW_CHECKS;
		return 1;
	}
	if ((r = smtp_verdict(s, c, reply, sizeof reply)) == NULL)
		return 0;
	smtp_refuse_message(s, r);
	return 1;
}

void smtp_checks_progress(struct smtp_checks *c)
{
	struct smtp_session *s = c->s;
	char reply[VERDICT_REPLY_MAX];
	const char *r;

	if (!s || !c->waiting || smtp_checks_pending(c) || s->wait != SW_CHECKS)
		return;
	c->waiting = 0;
	s->wait = SW_NONE;
	if ((r = smtp_verdict(s, c, reply, sizeof reply)) != NULL)
		smtp_refuse_message(s, r);
	else
		smtp_commit_message(s);
	s->cmd_since = time(NULL);
	smtp_process(s);
}
