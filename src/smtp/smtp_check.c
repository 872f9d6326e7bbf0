/*
 * smtp_check: sender authentication of inbound mail in the SMTP worker —
 * SPF (RFC 7208) from MAIL FROM, DKIM (RFC 6376) over the message, DMARC
 * (RFC 7489) from the From: domain — and the Authentication-Results field
 * (RFC 8601) that records the verdicts in front of the message.
 *
 * Everything is asynchronous: SPF starts with the first accepted RCPT, DKIM
 * keys and the DMARC policy are asked for as soon as the header is
 * complete (smtp_header.c), while the body still streams in; the DKIM body
 * hashes are computed as it passes. At the end of data the session waits
 * (SW_CHECKS) only for answers still missing. DNS goes through lookup
 * (smtp_dns.c).
 *
 * Which mail: sessions on smtp/submission listeners that did not
 * authenticate, when `inbound-checks on` (the default). Authenticated
 * sessions get "auth=pass"; mail injected on the local socket nothing.
 * Actions (reject, Junk folder) follow `dmarc-policy` and `spf-fail`, and
 * never apply to clients in trusted-networks (they are only marked).
 *
 * Security role: the header and every DNS answer are attacker-controlled;
 * they are parsed by the pure, fuzzed parsers in src/auth/ inside this
 * sandboxed process. Callbacks hold no session pointer across a free: the
 * SPF and DMARC engines are cancelled, DKIM key answers find their state
 * through a reference count.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/addr_domain.h"
#include "auth/authres.h"
#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"
#include "cli/send_addr.h"
#include "smtp/smtp_check.h"
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

#define CHECK_DNS_TIMEOUT_MS 10000 /* one DKIM key or DMARC policy question */
#define CHECK_SPF_TIMEOUT_MS 20000 /* a whole SPF evaluation (RFC 7208 4.6.4) */
#define CHECK_FROM_MAX	     16	   /* From: addresses looked at */

const struct psl *smtp_psl; /* loaded before the chroot (smtp_worker.c) */

/* Does this session's mail get SPF/DKIM/DMARC? */
static int smtp_checks_apply(const struct smtp_session *s)
{
	return W.conf->mailauth.checks && !s->auth_user[0] && s->lis->kind != SL_LOCAL;
}

static void smtp_checks_unref(struct smtp_checks *c)
{
	if (--c->refs > 0)
		return;
	dkim_verify_free(c->dkim);
	free(c);
}

void smtp_checks_free(struct smtp_session *s)
{
	struct smtp_checks *c = s->chk;

	if (!c)
		return;
	s->chk = NULL;
	c->s = NULL;
	if (c->spf && !c->spf_done)
		spf_check_cancel(c->spf);
	if (c->dd && c->dmarc_pending)
		dmarc_discover_cancel(c->dd);
	smtp_checks_unref(c);
}

/* ---- SPF ------------------------------------------------------------------- */

static void smtp_spf_done(void *arg, const struct spf_answer *a)
{
	struct smtp_checks *c = arg;

	c->spf_ans = *a;
	c->spf_done = 1;
	smtp_checks_progress(c);
}

/* MAIL FROM for SPF: an internationalized domain as its A-label (RFC 8616). */
static const char *smtp_spf_sender(const struct smtp_session *s, char *buf, size_t cap)
{
	const char *at = strrchr(s->from, '@');
	char d[DNS_NAME_MAX];

	for (const char *p = s->from; *p; p++)
		if ((unsigned char)*p >= 0x80) {
			if (!at || addr_domain(s->from, d, sizeof d) < 0 ||
			    str_fmt(buf, cap, "%.*s@%s", (int)(at - s->from), s->from, d) < 0)
				return s->from; /* SPF says none for what it cannot read */
			return buf;
		}
	return s->from;
}

void smtp_checks_mail(struct smtp_session *s)
{
	char sender[SMTP_ADDR_MAX + DNS_NAME_MAX];
	struct spf_request rq = {.ip = s->addr,
				 .sender = smtp_spf_sender(s, sender, sizeof sender),
				 .helo = s->helo,
				 .receiver = W.conf->hostname,
				 .timeout_ms = CHECK_SPF_TIMEOUT_MS};
	struct smtp_checks *c;

	if (!smtp_checks_apply(s) || s->chk)
		return;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_error("%s: out of memory for sender checks", s->client);
		return;
	}
	c->s = s;
	c->refs = 1;
	s->chk = c;
	c->spf = spf_check_start(&rq, W.base, smtp_dns_query, smtp_spf_done, c);
	if (!c->spf) { /* out of memory: report temperror rather than nothing */
		c->spf_ans.result = SPF_TEMPERROR;
		str_copy(c->spf_ans.explanation, sizeof c->spf_ans.explanation, "out of memory");
		c->spf_done = 1;
	}
}

/* ---- DKIM ------------------------------------------------------------------ */

static void smtp_key_done(void *arg, const struct dns_result *r)
{
	struct smtp_keyq *q = arg;
	struct smtp_checks *c = q->c;

	if (c->s) {
		dkim_verify_key(c->dkim, q->i, r);
		c->keys_pending--;
	}
	free(q);
	if (c->s)
		smtp_checks_progress(c);
	smtp_checks_unref(c);
}

static void smtp_dkim_start(struct smtp_checks *c, const char *hdr, size_t len)
{
	if ((c->dkim = dkim_verify_new(hdr, len, (int64_t)time(NULL))) == NULL)
		return;
	for (size_t i = 0; i < dkim_verify_count(c->dkim); i++) {
		const char *name = dkim_verify_key_name(c->dkim, i);
		struct smtp_keyq *q = name ? malloc(sizeof *q) : NULL;
		if (!q) {
			if (name) { /* no memory: the key lookup "failed for now" */
				struct dns_result fail = {.status = DNS_TEMPFAIL};
				dkim_verify_key(c->dkim, i, &fail);
			}
			continue;
		}
		q->c = c;
		q->i = i;
		c->refs++;
		c->keys_pending++;
		if (smtp_dns_query(name, 16, CHECK_DNS_TIMEOUT_MS, smtp_key_done, q) < 0) {
			struct dns_result fail = {.status = DNS_TEMPFAIL};
			c->refs--;
			c->keys_pending--;
			free(q);
			dkim_verify_key(c->dkim, i, &fail);
		}
	}
}

void smtp_checks_body(struct smtp_session *s, const char *p, size_t n)
{
	if (s->chk && s->chk->dkim)
		dkim_verify_body(s->chk->dkim, p, n);
}

/* ---- DMARC ----------------------------------------------------------------- */

/* How many From: fields the header has (RFC 5322 3.6: exactly one). */
static size_t smtp_from_fields(const char *hdr, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (i > 0 && hdr[i - 1] != '\n')
			continue;
		if (len - i < 5 || strncasecmp(hdr + i, "from", 4) != 0)
			continue;
		size_t j = i + 4;
		while (j < len && (hdr[j] == ' ' || hdr[j] == '\t'))
			j++;
		n += j < len && hdr[j] == ':';
	}
	return n;
}

/* The one domain of the From: addresses (addr_domain: A-labels,
 * lowercased, no trailing dot): 0; 1 when there is no From: at all; 2
 * when there are several From: fields or domains, or one cannot be read
 * (RFC 7489 6.6.1). */
static int smtp_from_domain(const char *hdr, size_t len, char *out, size_t cap)
{
	static const char *const fields[] = {"From"};
	char(*addr)[SEND_ADDR_MAX] = calloc(CHECK_FROM_MAX, sizeof *addr);
	struct send_rcpts from = {addr, 0, CHECK_FROM_MAX};
	const char *why = NULL;
	size_t nf = smtp_from_fields(hdr, len);
	int rc = nf > 1 ? 2 : nf == 0 ? 1 : 0;

	out[0] = '\0';
	if (rc == 0 && (!addr || send_hdr_addrs(hdr, len, fields, 1, &from, &why) < 0))
		rc = 2;
	else if (rc == 0 && from.n == 0)
		rc = 2; /* a From: field without an address */
	for (size_t i = 0; rc == 0 && i < from.n; i++) {
		char d[DMARC_DOMAIN_MAX];
		if (addr_domain(addr[i], d, sizeof d) < 0 || (out[0] && strcmp(out, d) != 0))
			rc = 2;
		else if (!out[0] && str_copy(out, cap, d) < 0)
			rc = 2;
	}
	free(addr);
	return rc;
}

static void smtp_dmarc_found(void *arg, const struct dmarc_policy_found *f)
{
	struct smtp_checks *c = arg;

	c->found = *f;
	c->dmarc_pending = 0;
	smtp_checks_progress(c);
}

void smtp_checks_header(struct smtp_session *s, const char *hdr, size_t len)
{
	struct smtp_checks *c = s->chk;

	if (!c || c->header_seen)
		return;
	c->header_seen = 1;
	smtp_dkim_start(c, hdr, len);
	c->from_state = smtp_from_domain(hdr, len, c->from_domain, sizeof c->from_domain);
	if (c->from_state != 0 || !smtp_psl)
		return;
	c->dmarc_pending = 1;
	c->dd = dmarc_discover_start(smtp_psl, c->from_domain, W.base, smtp_dns_query,
				     CHECK_DNS_TIMEOUT_MS, smtp_dmarc_found, c);
	if (!c->dd) {
		c->dmarc_pending = 0;
		c->found.status = DMARC_TEMPERROR;
	}
}
