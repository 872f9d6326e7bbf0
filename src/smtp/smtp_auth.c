/*
 * smtp_auth: SMTP AUTH (RFC 4954) in the SMTP worker — only the SASL
 * framing. The worker never judges a credential: each client response
 * goes to the lookup process as the base64 text it arrived as, and lookup
 * (which alone holds the users file) answers with the next challenge or
 * the verdict. Mechanisms: SCRAM-SHA-256 (RFC 5802/7677), PLAIN, LOGIN;
 * offered and accepted only on submission listeners and only inside TLS.
 */
#include <string.h>

#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

static const char *const smtp_auth_mechs[] = {"SCRAM-SHA-256", "PLAIN", "LOGIN"};
#define SMTP_AUTH_NMECHS (sizeof smtp_auth_mechs / sizeof smtp_auth_mechs[0])

static int smtp_auth_port(const struct smtp_session *s)
{
	return s->lis->kind == SL_SUBMISSION || s->lis->kind == SL_SUBMISSIONS;
}

int smtp_auth_offered(const struct smtp_session *s)
{
	return smtp_auth_port(s) && s->tls && !s->auth_user[0];
}

const char *smtp_auth_mech_list(void)
{
	return "SCRAM-SHA-256 PLAIN LOGIN";
}

/* base64 text (RFC 4648 alphabet, '=' padding only at the end), or "=" for empty. */
static int smtp_b64_ok(const char *p, size_t n)
{
	size_t pad = 0;

	if (n == 1 && p[0] == '=')
		return 1;
	if (n % 4 != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return 0;
	}
	return pad <= 2;
}

static int smtp_auth_refused(struct smtp_session *s)
{
	if (!smtp_auth_port(s))
		smtp_reply(s, "502 5.5.1 AUTH is only offered on submission ports");
	else if (!s->tls)
		smtp_reply(s,
			   "538 5.7.11 Encryption required for requested authentication mechanism");
	else if (!s->esmtp)
		smtp_reply(s, "503 5.5.1 Send EHLO first");
	else if (s->auth_user[0])
		smtp_reply(s, "503 5.5.1 Already authenticated");
	else if (s->in_mail)
		smtp_reply(s, "503 5.5.1 AUTH not permitted during a mail transaction");
	else
		return 0;
	smtp_error(s);
	return 1;
}

void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t n)
{
	const char *sp = memchr(arg, ' ', n);
	size_t mlen = sp ? (size_t)(sp - arg) : n;
	const char *mech = NULL;

	if (smtp_auth_refused(s))
		return;
	for (size_t i = 0; i < SMTP_AUTH_NMECHS; i++)
		if (str_eqn_nocase(arg, mlen, smtp_auth_mechs[i]))
			mech = smtp_auth_mechs[i];
	if (!mech) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		smtp_error(s);
		return;
	}
	if (sp && !smtp_b64_ok(sp + 1, n - mlen - 1)) {
		smtp_reply(s, "501 5.5.2 Invalid base64 in initial response");
		smtp_error(s);
		return;
	}
	str_copy(s->auth_mech, sizeof s->auth_mech, mech);
	smtp_send_auth_start(s, mech, sp ? sp + 1 : NULL, sp ? n - mlen - 1 : 0);
}

static void smtp_auth_abort(struct smtp_session *s)
{
	if (s->auth_active)
		smtp_send_auth_abort(s);
	s->auth_active = 0;
	s->state = SS_CMD;
}

/* One client response line during an exchange. */
static void smtp_auth_response(struct smtp_session *s, const char *line, size_t len, unsigned flags)
{
	if (len == 1 && line[0] == '*') {
		smtp_reply(s, "501 5.0.0 Authentication canceled");
		smtp_auth_abort(s);
		return;
	}
	if (flags || (len > 0 && !smtp_b64_ok(line, len))) {
		smtp_reply(s, "501 5.5.2 Invalid base64 in authentication response");
		smtp_auth_abort(s);
		smtp_error(s);
		return;
	}
	s->state = SS_CMD;
	smtp_send_auth_step(s, line, len);
}

int smtp_auth_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t want = avail < SMTP_AUTH_LINE_MAX ? avail : SMTP_AUTH_LINE_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	struct smtp_line l;

	if (avail == 0 || !buf)
		return 0;
	switch (smtp_line_next(buf, want, SMTP_AUTH_LINE_MAX, &l)) {
	case SMTP_LINE_MORE:
		return 0;
	case SMTP_LINE_TOOLONG:
		evbuffer_drain(in, l.consumed);
		smtp_reply(s, "500 5.5.6 Authentication Exchange line is too long");
		smtp_auth_abort(s);
		s->state = SS_SKIP;
		smtp_error(s);
		return 1;
	case SMTP_LINE_OK:
		break;
	}
	memcpy(W.scratch, buf, l.len);
	evbuffer_drain(in, l.consumed);
	smtp_auth_response(s, W.scratch, l.len, l.flags);
	return 1;
}

void smtp_on_auth_reply(struct smtp_session *s, uint32_t status, const char *data)
{
	s->wait = SW_NONE;
	if (status == IPC_AUTH_CONTINUE) {
		smtp_reply(s, "334 %s", data);
		s->state = SS_AUTH;
		return;
	}
	s->auth_active = 0;
	if (status == IPC_AUTH_OK && str_copy(s->auth_user, sizeof s->auth_user, data) == 0) {
		smtp_reply(s, "235 2.7.0 Authentication successful");
		log_info("%s: authenticated as %s (%s)", s->client, s->auth_user, s->auth_mech);
	} else if (status == IPC_AUTH_MALFORMED) {
		smtp_reply(s, "501 5.5.2 Malformed authentication exchange");
		smtp_error(s);
	} else if (status == IPC_AUTH_TEMPFAIL) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	} else if (status == IPC_AUTH_LOCKED) {
		smtp_reply(s, "454 4.7.0 Too many failed authentications; try again later");
		smtp_error(s);
	} else {
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		smtp_error(s);
	}
}
