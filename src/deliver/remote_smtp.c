/*
 * remote_smtp: the SMTP client dialogue (RFC 5321) over a connection that
 * remote_conn.c set up: greeting, EHLO (HELO when EHLO is refused),
 * STARTTLS, AUTH PLAIN to a smarthost, then transactions: MAIL and RCPTs
 * (pipelined when the peer offers PIPELINING), DATA, the dot-stuffed body
 * with the signing seam's headers in front, and the final reply. Several
 * messages for one destination share the connection (RSET after a failed
 * transaction).
 *
 * Outcomes per recipient: a 2xx is delivered, a 4xx deferred, a 5xx failed
 * for good, always with the peer's reply as the reason; a failure before
 * MAIL moves on to the next target. Every outcome is logged with the queue
 * id, recipient, host[address]:port, TLS and TLS policy.
 *
 * Security role: everything read here comes from a remote server; replies
 * are parsed by remote_parse.c (bounded, sanitized); credentials are sent
 * only inside TLS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "deliver/remote_int.h"
#include "ipc/ipc.h"
#include "util/log.h"
#include "util/str.h"
#include "util/tls.h"

#define RS_CHUNK   (16 * 1024)
#define RS_SIG_MAX (16 * 1024)

/* "HOST[ADDR] said: REPLY (in reply to X)", cut (never emptied) when long:
 * the start, which the queue and the bounce read, always survives. */
static void rsmtp_said(char *out, size_t cap, const char *peer, const char *reply, const char *what)
{
	int n = snprintf(out, cap, "%s said: %s%s%s%s", peer, reply, what ? " (in reply to " : "",
			 what ? what : "", what ? ")" : "");

	if (n < 0 && cap > 0)
		out[0] = '\0';
}

static void rsmtp_reply_text(struct rconn *c, char *out, size_t cap)
{
	if (rp_reply_str(&c->rep, out, cap) < 0)
		(void)str_fmt(out, cap, "%03d %s", c->rep.code, c->rep.enh);
}

static void rsmtp_fail(struct rconn *c, const char *what)
{
	char reply[RM_WHY_MAX], why[RM_WHY_MAX];

	rsmtp_reply_text(c, reply, sizeof reply);
	rsmtp_said(why, sizeof why, c->peer, reply, what);
	rconn_fail_target(c, why);
}

static int rsmtp_status(int code)
{
	return code / 100 == 2 ? IPC_DLV_OK : code / 100 == 4 ? IPC_DLV_TEMP : IPC_DLV_PERM;
}

static const char *rsmtp_status_name(int st)
{
	return st == IPC_DLV_OK ? "sent" : st == IPC_DLV_TEMP ? "deferred" : "bounced";
}

/* One recipient's outcome, with the attempt's log line. */
static void rsmtp_set(struct rconn *c, size_t i, int st, const char *why)
{
	if (!rmsg_pending(c->m, i))
		return;
	log_info("%s: to=<%s> relay=%s tls=%s tls-policy=%s (%s) verified=%s status=%s (%s)",
		 c->m->job->id, rmsg_rcpt(c->m, i), c->where, c->tls ? c->tls_info : "none",
		 rtls_level_name(c->pol.level), c->pol.why, c->tls_verified ? "yes" : "no",
		 rsmtp_status_name(st), why);
	rmsg_set(c->m, i, st, why);
}

static void rsmtp_set_reply(struct rconn *c, size_t i)
{
	char reply[RM_WHY_MAX], why[RM_WHY_MAX];

	rsmtp_reply_text(c, reply, sizeof reply);
	rsmtp_said(why, sizeof why, c->peer, reply, NULL);
	rsmtp_set(c, i, rsmtp_status(c->rep.code), why);
}

static void rsmtp_set_pending(struct rconn *c, int st, const char *why)
{
	for (size_t i = 0; i < c->m->n; i++)
		rsmtp_set(c, i, st, why);
}

static void rsmtp_next(struct rconn *c)
{
	struct rmsg *m = rdest_next_msg(c->d);

	if (!m)
		return rconn_idle(c);
	c->m = m;
	rsmtp_ready(c);
}

static void rsmtp_msg_finish(struct rconn *c, int rset)
{
	struct rmsg *m = c->m;

	rsmtp_set_pending(c, IPC_DLV_TEMP, "4.4.2 the transaction ended without a reply");
	c->m = NULL;
	c->msgs++;
	rmsg_done(m);
	if (!rset)
		return rsmtp_next(c);
	c->state = CS_RSET;
	rconn_set_timeout(c, RT_MAIL);
	if (rconn_send(c, "RSET") < 0)
		rconn_close(c);
}

void rsmtp_lost(struct rconn *c, const char *how)
{
	char why[RM_WHY_MAX];

	if (!c->setup_done) {
		(void)str_fmt(why, sizeof why, "4.4.2 %s: %s before the session was set up",
			      c->peer, how);
		return rconn_fail_target(c, why);
	}
	(void)str_fmt(why, sizeof why, "4.4.2 %s: %s during the transaction", c->peer, how);
	if (c->m) {
		rsmtp_set_pending(c, IPC_DLV_TEMP, why);
		rmsg_done(c->m);
		c->m = NULL;
	}
	rconn_close(c);
}

void rsmtp_ehlo_line(struct rconn *c, const char *line, size_t len)
{
	const char *t;
	size_t tn;
	uint64_t size = 0;
	unsigned f;

	if (c->rep.n_lines == 0 || len < 4 || line[0] != '2' ||
	    rp_line_text(line, len, &t, &tn) < 0)
		return;
	f = rp_ehlo_keyword(t, tn, &size);
	c->ext |= f;
	if (f == RP_EXT_SIZE)
		c->size_max = size;
}

static void rsmtp_ehlo(struct rconn *c)
{
	c->ext = 0;
	c->size_max = 0;
	c->state = CS_EHLO;
	rconn_set_timeout(c, RT_EHLO);
	if (rconn_send(c, "EHLO %s", R.conf->hostname) < 0)
		rconn_close(c);
}

/* AUTH PLAIN to the smarthost: "\0login\0password", base64. */
static void rsmtp_auth(struct rconn *c)
{
	unsigned char raw[520];
	unsigned char b64[700];
	size_t ln = strlen(R.auth_login), pn = strlen(R.auth_pass);

	if (!c->tls)
		return rconn_fail_target(c, "4.7.4 not sending relay credentials without TLS");
	if (!(c->ext & RP_EXT_AUTH_PLAIN))
		return rconn_fail_target(c, "4.7.4 the relay does not offer AUTH PLAIN");
	if (ln + pn + 2 > sizeof raw)
		return rconn_fail_target(c, "4.7.0 relay credentials too long");
	raw[0] = '\0';
	memcpy(raw + 1, R.auth_login, ln);
	raw[1 + ln] = '\0';
	memcpy(raw + 2 + ln, R.auth_pass, pn);
	EVP_EncodeBlock(b64, raw, (int)(ln + pn + 2));
	c->state = CS_AUTH;
	rconn_set_timeout(c, RT_MAIL);
	if (rconn_send(c, "AUTH PLAIN %s", (char *)b64) < 0)
		rconn_close(c);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(b64, sizeof b64);
}

static void rsmtp_ehlo_done(struct rconn *c)
{
	char why[RM_WHY_MAX];

	if (!c->tls && !c->starttls_refused && (c->ext & RP_EXT_STARTTLS) &&
	    c->pol.level != RTLS_NONE) {
		c->state = CS_STARTTLS;
		rconn_set_timeout(c, RT_TLS);
		if (rconn_send(c, "STARTTLS") < 0)
			rconn_close(c);
		return;
	}
	if (!c->tls && c->pol.level >= RTLS_REQUIRE) {
		(void)str_fmt(why, sizeof why, "4.7.4 %s does not offer STARTTLS (tls-policy=%s)",
			      c->peer, rtls_level_name(c->pol.level));
		return rconn_fail_target(c, why);
	}
	if (c->d->relay && R.have_auth)
		return rsmtp_auth(c);
	rsmtp_ready(c);
}

void rsmtp_tls_done(struct rconn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char why[RM_WHY_MAX];

	if (!ssl)
		return rconn_fail_target(c, "4.7.5 TLS state lost");
	c->tls = 1;
	tls_describe(ssl, c->tls_info, sizeof c->tls_info);
	if (rtls_check(ssl, &c->pol, c->host, &c->tls_verified, why, sizeof why) < 0)
		return rconn_fail_target(c, why);
	log_info("TLS to %s: %s verified=%s tls-policy=%s (%s)", c->where, c->tls_info,
		 c->tls_verified ? "yes" : "no", rtls_level_name(c->pol.level), c->pol.why);
	if (c->d->have_sts && c->d->sts.mode == STS_TESTING && !c->tls_verified)
		log_info("mta-sts testing: the certificate of %s is not valid for it (delivering "
			 "anyway)",
			 c->peer);
	if (c->d->relay && R.conf->out.relay_implicit_tls && c->ext == 0 && !c->setup_done) {
		c->state = CS_GREETING;
		rconn_set_timeout(c, RT_GREETING);
		return;
	}
	rsmtp_ehlo(c);
}

/* Checks that fail a message for good on this peer before MAIL. */
static int rsmtp_precheck(struct rconn *c)
{
	const struct rjob *j = c->m->job;
	char why[RM_WHY_MAX];

	if ((j->env.flags & QENV_F_UTF8) && !(c->ext & RP_EXT_SMTPUTF8)) {
		(void)str_fmt(why, sizeof why,
			      "5.6.7 %s does not support SMTPUTF8, which this message needs "
			      "(internationalized addresses)",
			      c->peer);
		rsmtp_set_pending(c, IPC_DLV_PERM, why);
		return -1;
	}
	if ((c->ext & RP_EXT_SIZE) && c->size_max > 0 && j->body_len > c->size_max) {
		(void)str_fmt(why, sizeof why,
			      "5.3.4 message size %zu exceeds the limit of %s (%llu)", j->body_len,
			      c->peer, (unsigned long long)c->size_max);
		rsmtp_set_pending(c, IPC_DLV_PERM, why);
		return -1;
	}
	return 0;
}

static int rsmtp_send_rcpt(struct rconn *c, size_t k)
{
	return rconn_send(c, "RCPT TO:<%s>", rmsg_rcpt(c->m, c->sent[k]));
}

static int rsmtp_send_mail(struct rconn *c)
{
	const struct rjob *j = c->m->job;
	char size[40] = "";

	if (c->ext & RP_EXT_SIZE)
		(void)str_fmt(size, sizeof size, " SIZE=%zu", j->body_len);
	return rconn_send(
	    c, "MAIL FROM:<%s>%s%s%s", j->env.from, size,
	    ((j->env.flags & QENV_F_8BIT) && (c->ext & RP_EXT_8BITMIME)) ? " BODY=8BITMIME" : "",
	    (j->env.flags & QENV_F_UTF8) ? " SMTPUTF8" : "");
}

void rsmtp_ready(struct rconn *c)
{
	struct rmsg *m = c->m;

	c->setup_done = 1;
	if (!m)
		return rsmtp_next(c);
	if (rsmtp_precheck(c) < 0)
		return rsmtp_msg_finish(c, 0);
	free(c->sent);
	free(c->acc);
	c->sent = calloc(m->n, sizeof *c->sent);
	c->acc = calloc(m->n, sizeof *c->acc);
	if (!c->sent || !c->acc)
		fatal("out of memory");
	c->n_sent = c->n_replied = c->n_acc = 0;
	c->mail_code = 0;
	for (size_t i = 0; i < m->n; i++)
		if (rmsg_pending(m, i))
			c->sent[c->n_sent++] = i;
	if (c->n_sent == 0)
		return rsmtp_msg_finish(c, 0);
	c->state = CS_MAIL;
	rconn_set_timeout(c, RT_MAIL);
	if (rsmtp_send_mail(c) < 0)
		return rsmtp_lost(c, "cannot send MAIL");
	if (c->ext & RP_EXT_PIPELINING)
		for (size_t k = 0; k < c->n_sent; k++)
			if (rsmtp_send_rcpt(c, k) < 0)
				return rsmtp_lost(c, "cannot send RCPT");
}

static void rsmtp_data(struct rconn *c)
{
	if (c->mail_code / 100 != 2 || c->n_acc == 0) {
		for (size_t k = 0; k < c->n_sent && c->mail_code / 100 != 2; k++) {
			char why[RM_WHY_MAX];
			rsmtp_said(why, sizeof why, c->peer, c->mail_reply, "MAIL");
			rsmtp_set(c, c->sent[k], rsmtp_status(c->mail_code), why);
		}
		return rsmtp_msg_finish(c, 1);
	}
	c->state = CS_DATA;
	rconn_set_timeout(c, RT_DATA);
	if (rconn_send(c, "DATA") < 0)
		rsmtp_lost(c, "cannot send DATA");
}

static void rsmtp_on_mail_rcpt(struct rconn *c)
{
	if (c->state == CS_MAIL) {
		c->mail_code = c->rep.code;
		rsmtp_reply_text(c, c->mail_reply, sizeof c->mail_reply);
		c->state = CS_RCPT;
		if (c->ext & RP_EXT_PIPELINING)
			return;
		if (c->mail_code / 100 != 2)
			return rsmtp_data(c);
		rconn_set_timeout(c, RT_RCPT);
		if (rsmtp_send_rcpt(c, 0) < 0)
			rsmtp_lost(c, "cannot send RCPT");
		return;
	}
	if (c->n_replied >= c->n_sent)
		return rsmtp_lost(c, "sent a reply nobody asked for");
	size_t i = c->sent[c->n_replied++];
	if (c->mail_code / 100 == 2 && c->rep.code / 100 == 2) {
		c->acc[i] = 1;
		c->n_acc++;
	} else if (c->mail_code / 100 == 2) {
		rsmtp_set_reply(c, i);
	}
	if (c->n_replied == c->n_sent)
		return rsmtp_data(c);
	if (!(c->ext & RP_EXT_PIPELINING) && rsmtp_send_rcpt(c, c->n_replied) < 0)
		rsmtp_lost(c, "cannot send RCPT");
}

/* The accepted recipients get the outcome of DATA or of the final dot. */
static void rsmtp_set_accepted(struct rconn *c)
{
	for (size_t i = 0; i < c->m->n; i++)
		if (c->acc[i])
			rsmtp_set_reply(c, i);
}

static void rsmtp_body_start(struct rconn *c)
{
	char *sig = malloc(RS_SIG_MAX);
	int n;

	if (!sig)
		fatal("out of memory");
	c->state = CS_BODY;
	c->body_pos = 0;
	c->bol = 1;
	c->body_done = 0;
	bufferevent_set_timeouts(c->bev, NULL, &(struct timeval){RT_BLOCK, 0});
	n = remote_sign_headers(&c->m->job->env, c->m->job->body, c->m->job->body_len, sig,
				RS_SIG_MAX);
	if (n > 0 && bufferevent_write(c->bev, sig, (size_t)n) < 0)
		n = -1;
	free(sig);
	if (n < 0)
		return rsmtp_lost(c, "cannot sign or send the message");
	rsmtp_body_fill(c);
}

void rsmtp_body_fill(struct rconn *c)
{
	const struct rjob *j = c->m->job;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char chunk[RS_CHUNK];
	size_t used, made;

	while (!c->body_done && evbuffer_get_length(out) < RC_FILL) {
		if (c->body_pos >= j->body_len) {
			c->body_done = 1;
			if (evbuffer_add(out, rp_data_end(rp_ends_crlf(j->body, j->body_len)),
					 strlen(rp_data_end(rp_ends_crlf(j->body, j->body_len)))) <
			    0)
				return rsmtp_lost(c, "cannot send the message");
			rconn_set_timeout(c, RT_DOT);
			return;
		}
		used = rp_dot_stuff(j->body + c->body_pos, j->body_len - c->body_pos, &c->bol,
				    chunk, sizeof chunk, &made);
		c->body_pos += used;
		if (evbuffer_add(out, chunk, made) < 0)
			return rsmtp_lost(c, "cannot send the message");
	}
}

/* A peer that greets with our own name is us (or claims to be): sending
 * would loop (RFC 5321 5.1: never deliver to ourselves by MX). */
static int rsmtp_is_me(struct rconn *c)
{
	const char *t = c->rep.text;
	size_t n = strcspn(t, " ");
	char why[RM_WHY_MAX];

	if (!str_eqn_nocase(t, n, R.conf->hostname))
		return 0;
	(void)str_fmt(why, sizeof why, "5.4.6 mail for %s loops back to myself (%s greets as %s)",
		      c->d->domain, c->peer, R.conf->hostname);
	rconn_fail_target(c, why);
	return 1;
}

static void rsmtp_on_setup_reply(struct rconn *c)
{
	int ok = c->rep.code / 100 == 2;

	switch (c->state) {
	case CS_GREETING:
		if (ok && rsmtp_is_me(c))
			return;
		return ok ? rsmtp_ehlo(c) : rsmtp_fail(c, "the greeting");
	case CS_EHLO:
		if (ok)
			return rsmtp_ehlo_done(c);
		if (c->rep.code / 100 == 4)
			return rsmtp_fail(c, "EHLO");
		c->state = CS_HELO;
		if (rconn_send(c, "HELO %s", R.conf->hostname) < 0)
			rconn_close(c);
		return;
	case CS_HELO:
		c->ext = 0;
		return ok ? rsmtp_ehlo_done(c) : rsmtp_fail(c, "HELO");
	case CS_STARTTLS:
		if (c->rep.code == 220)
			return rconn_tls_start(c);
		if (c->pol.level >= RTLS_REQUIRE)
			return rsmtp_fail(c, "STARTTLS");
		c->starttls_refused = 1;
		return rsmtp_ehlo_done(c);
	case CS_AUTH:
		return c->rep.code == 235 ? rsmtp_ready(c) : rsmtp_fail(c, "AUTH");
	default:
		return rsmtp_lost(c, "sent an unexpected reply");
	}
}

void rsmtp_on_reply(struct rconn *c)
{
	switch (c->state) {
	case CS_MAIL:
	case CS_RCPT:
		return rsmtp_on_mail_rcpt(c);
	case CS_DATA:
		if (c->rep.code == 354)
			return rsmtp_body_start(c);
		rsmtp_set_accepted(c);
		return rsmtp_msg_finish(c, 1);
	case CS_BODY:
		if (!c->body_done)
			return rsmtp_lost(c, "replied before the end of the message");
		rsmtp_set_accepted(c);
		return rsmtp_msg_finish(c, 0);
	case CS_RSET:
		if (c->rep.code / 100 != 2)
			return rconn_close(c);
		return rsmtp_next(c);
	case CS_QUIT:
	case CS_IDLE:
		return rconn_close(c);
	default:
		return rsmtp_on_setup_reply(c);
	}
}
