/*
 * smtp_session: one SMTP conversation (RFC 5321) — the command table, the
 * state machine and every command except DATA/BDAT (smtp_data.c).
 *
 * Each command has a row in smtp_commands: its handler and flags. Input is
 * read through the pure line reader (smtp_parse.c): only CRLF ends a line,
 * over-long lines are refused and skipped, never cut. Commands are taken
 * one at a time, so pipelined commands get their replies in order; while a
 * command waits for another process (lookup, queue) the rest stays in the
 * input buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

struct smtp_command {
	enum smtp_verb verb;
	void (*fn)(struct smtp_session *s, const char *arg, size_t n);
	int needs_helo; /* refused with 503 before HELO/EHLO */
	int pre_tls;	/* allowed before STARTTLS on a submission listener (RFC 3207) */
};

static void smtp_free(struct smtp_session *s);
static void smtp_close_soon(struct smtp_session *s);
static size_t smtp_unsent(const struct smtp_session *s);
static int smtp_hold(const struct smtp_session *s);
static int smtp_may_relay(const struct smtp_session *s);

#define SMTP_REPLY_MAX 1024 /* one reply line; ours are all far shorter */
#define SMTP_HOLD_MAX  4096 /* held reply octets (smtp_hold): beyond, they go out */

/* One reply line, CRLF added. It leaves once the callback that produced it
 * is done, with the rest of its group (smtp_on_flush). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[SMTP_REPLY_MAX + 2];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, SMTP_REPLY_MAX, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n >= SMTP_REPLY_MAX)
		fatal("reply longer than %d octets: %.40s", SMTP_REPLY_MAX, line);
	line[n++] = '\r';
	line[n++] = '\n';
	if (evbuffer_add(s->held, line, (size_t)n) == 0)
		event_active(s->flush_ev, EV_WRITE, 1);
}

void smtp_txn_reset(struct smtp_session *s)
{
	if (s->qfd >= 0) {
		close(s->qfd);
		s->qfd = -1;
	}
	free(s->wbuf);
	s->wbuf = NULL;
	s->wlen = 0;
	if (s->qid[0])
		smtp_send_abort(s->qid);
	s->qid[0] = '\0';
	s->in_mail = 0;
	s->from[0] = '\0';
	s->mail_flags = 0;
	free(s->rcpt);
	s->rcpt = NULL;
	s->n_rcpt = 0;
	s->bdat_used = s->data_used = 0;
	s->written = s->msg_size = 0;
	s->too_big = s->write_err = 0;
	s->bdat_deferred_err = NULL;
	s->data_since = 0;
	smtp_header_reset(s);
	smtp_checks_free(s);
	free(s->late_prefix);
	s->late_prefix = NULL;
	s->junk = 0;
}

/* ---- HELO / EHLO ------------------------------------------------------- */

/* A HELO argument: printable ASCII, no spaces, bounded. */
static int smtp_helo_ok(const char *arg, size_t n)
{
	if (n == 0 || n > SMTP_HELO_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (arg[i] <= ' ' || arg[i] >= 0x7f)
			return 0;
	return 1;
}

static int smtp_helo_common(struct smtp_session *s, const char *arg, size_t n, const char *verb)
{
	if (!smtp_helo_ok(arg, n)) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname", verb);
		smtp_error(s);
		return -1;
	}
	smtp_txn_reset(s);
	str_copyn(s->helo, sizeof s->helo, arg, n);
	return 0;
}

static void smtp_cmd_helo(struct smtp_session *s, const char *arg, size_t n)
{
	if (smtp_helo_common(s, arg, n, "HELO") < 0)
		return;
	s->esmtp = 0;
	smtp_reply(s, "250 %s", W.conf->hostname);
}

static void smtp_cmd_ehlo(struct smtp_session *s, const char *arg, size_t n)
{
	if (smtp_helo_common(s, arg, n, "EHLO") < 0)
		return;
	s->esmtp = 1;
	smtp_reply(s, "250-%s Hello %s", W.conf->hostname, s->client);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)W.conf->max_message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-SMTPUTF8");
	if (smtp_tls_offered(s))
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH %s", smtp_auth_mech_list());
	smtp_reply(s, "250 CHUNKING");
}

/* ---- MAIL -------------------------------------------------------------- */

static int smtp_mail_params(struct smtp_session *s, const struct smtp_params *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct smtp_param *p = &ps->p[i];
		if (str_eqn_nocase(p->key, p->key_len, "SIZE") && p->val) {
			char num[24];
			char *end;
			if (str_copyn(num, sizeof num, p->val, p->val_len) < 0)
				return 501;
			unsigned long long v = strtoull(num, &end, 10);
			if (*end || num[0] < '0' || num[0] > '9')
				return 501;
			if (v > W.conf->max_message_size)
				return 552;
		} else if (str_eqn_nocase(p->key, p->key_len, "BODY") && p->val) {
			if (str_eqn_nocase(p->val, p->val_len, "8BITMIME"))
				s->mail_flags |= QENV_F_8BIT;
			else if (!str_eqn_nocase(p->val, p->val_len, "7BIT"))
				return 501;
		} else if (str_eqn_nocase(p->key, p->key_len, "SMTPUTF8") && !p->val) {
			s->mail_flags |= QENV_F_UTF8 | QENV_F_8BIT;
		} else {
			return 555;
		}
	}
	return 0;
}

static void smtp_mail_refuse(struct smtp_session *s, int code)
{
	if (code == 552)
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit of %llu octets",
			   (unsigned long long)W.conf->max_message_size);
	else if (code == 555)
		smtp_reply(s, "555 5.5.4 Unsupported MAIL FROM parameter");
	else
		smtp_reply(s, "501 5.5.4 Syntax error in MAIL FROM parameters");
	smtp_error(s);
}

static void smtp_addr_refuse(struct smtp_session *s, enum smtp_addr_err e, const char *what)
{
	switch (e) {
	case SMTP_ADDR_TOOLONG:
		smtp_reply(s, "501 5.1.%c %s address too long", what[0] == 's' ? '7' : '3', what);
		break;
	case SMTP_ADDR_ROUTE:
		smtp_reply(s, "550 5.7.1 Source routes are not accepted");
		break;
	case SMTP_ADDR_UTF8:
		smtp_reply(s, "553 5.6.7 Non-ASCII address requires SMTPUTF8");
		break;
	case SMTP_ADDR_NULL:
		smtp_reply(s, "501 5.1.3 Null address not allowed here");
		break;
	default:
		smtp_reply(s, "501 5.1.%c Bad %s address syntax", what[0] == 's' ? '7' : '3', what);
	}
	smtp_error(s);
}

static void smtp_cmd_mail(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	struct smtp_params ps;
	size_t end;
	enum smtp_addr_err e;
	int code;

	if (s->in_mail) {
		smtp_reply(s, "503 5.5.1 Nested MAIL command");
		smtp_error(s);
		return;
	}
	if (smtp_msgs_exceeded(s))
		return;
	if (!s->auth_user[0] && s->lis->kind != SL_SMTP && s->lis->kind != SL_LOCAL) {
		smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_error(s);
		return;
	}
	e = smtp_addr_parse(arg, n, SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_ALLOW_UTF8, &a, &end);
	if (e != SMTP_ADDR_OK) {
		smtp_addr_refuse(s, e, "sender");
		return;
	}
	s->mail_flags = 0;
	if (smtp_params_parse(arg + end, n - end, 1, &ps) < 0 || (!s->esmtp && ps.n > 0)) {
		smtp_mail_refuse(s, ps.n > 0 && !s->esmtp ? 555 : 501);
		return;
	}
	if ((code = smtp_mail_params(s, &ps)) != 0) {
		smtp_mail_refuse(s, code);
		return;
	}
	if (a.utf8 && !(s->mail_flags & QENV_F_UTF8)) {
		smtp_addr_refuse(s, SMTP_ADDR_UTF8, "sender");
		return;
	}
	memcpy(s->from, a.text, sizeof s->from);
	if (s->auth_user[0]) { /* a user may send only as themselves */
		s->sender_phase = SP_MAIL;
		smtp_send_sender_check(s, a.is_null ? "" : s->from);
		return;
	}
	s->in_mail = 1;
	smtp_reply(s, "250 2.1.0 Ok");
}

void smtp_on_sender_result(struct smtp_session *s, uint32_t ok)
{
	s->wait = SW_NONE;
	if (s->sender_phase == SP_FROM_HEADER) {
		smtp_from_header_result(s, ok);
		return;
	}
	if (ok == 1) {
		s->in_mail = 1;
		smtp_reply(s, "250 2.1.0 Ok");
	} else if (ok == 3) {
		log_info("%s: MAIL from=<%s> refused: user-message-rate (user %s)", s->client,
			 s->from, s->auth_user);
		smtp_reply(s,
			   "450 4.7.1 Message quota of user %s exceeded (%u per %us), try again "
			   "later",
			   s->auth_user, W.conf->limits.user_msg_rate.count,
			   W.conf->limits.user_msg_rate.period);
	} else if (ok == 0) {
		smtp_reply(s, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
			   s->from, s->auth_user);
		log_info("%s: MAIL from=<%s> refused: not owned by %s", s->client, s->from,
			 s->auth_user);
		smtp_error(s);
	} else {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure, try again later");
	}
}

/* ---- RCPT -------------------------------------------------------------- */

static void smtp_cmd_rcpt(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	struct smtp_params ps;
	size_t end;
	unsigned flags = SMTP_ADDR_POSTMASTER;
	enum smtp_addr_err e;

	if (!s->in_mail) {
		smtp_reply(s, "503 5.5.1 Need MAIL command first");
		smtp_error(s);
		return;
	}
	if (s->mail_flags & QENV_F_UTF8)
		flags |= SMTP_ADDR_ALLOW_UTF8;
	if ((e = smtp_addr_parse(arg, n, flags, &a, &end)) != SMTP_ADDR_OK) {
		smtp_addr_refuse(s, e, "recipient");
		return;
	}
	if (smtp_params_parse(arg + end, n - end, 0, &ps) < 0 || ps.n > 0) {
		smtp_reply(s, "555 5.5.4 Unsupported RCPT TO parameter");
		smtp_error(s);
		return;
	}
	if (s->n_rcpt >= W.conf->max_rcpt) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	const char *at = strrchr(a.text, '@');
	uint32_t rflags = s->trusted || s->lis->kind == SL_LOCAL ? IPC_RCPT_F_EXEMPT : 0;
	if (a.local_len == strlen(a.text)) { /* <Postmaster> */
		smtp_send_rcpt_check(s, a.text, rflags);
		return;
	}
	if (a.domain_literal || !at || !conf_find_domain(W.conf, at + 1, strlen(at + 1))) {
		if (smtp_may_relay(s)) { /* counted against the user's recipient rate */
			smtp_send_rcpt_check(s, a.text, rflags | IPC_RCPT_F_REMOTE);
			return;
		}
		smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", a.text);
		log_info("%s: RCPT to=<%s> refused: relay access denied", s->client, a.text);
		smtp_error(s);
		return;
	}
	smtp_send_rcpt_check(s, a.text, rflags);
}

/* One copy per mailbox: a recipient already in the transaction (the same
 * local mailbox, or the same remote address in any case) is not added
 * again. */
static int smtp_rcpt_known(const struct smtp_session *s, const char *addr, const char *mbox)
{
	int remote = strcmp(mbox, QENV_MBOX_REMOTE) == 0;

	for (unsigned i = 0; i < s->n_rcpt; i++) {
		if (strcmp(s->rcpt[i].mbox, mbox) != 0)
			continue;
		if (!remote || strcasecmp(s->rcpt[i].addr, addr) == 0)
			return 1;
	}
	return 0;
}

void smtp_on_rcpt_result(struct smtp_session *s, uint32_t status, const char *mbox)
{
	s->wait = SW_NONE;
	if (status == IPC_RCPT_OK && smtp_rcpt_known(s, s->pending_rcpt, mbox)) {
		smtp_reply(s, "250 2.1.5 Ok (duplicate recipient, one copy)");
	} else if (status == IPC_RCPT_OK && s->n_rcpt < W.conf->max_rcpt) {
		struct smtp_rcpt *r = realloc(s->rcpt, (s->n_rcpt + 1) * sizeof *r);
		if (!r) {
			smtp_reply(s, "452 4.3.1 Insufficient system resources");
			return;
		}
		s->rcpt = r;
		memcpy(r[s->n_rcpt].addr, s->pending_rcpt, SMTP_ADDR_MAX);
		str_copy(r[s->n_rcpt].mbox, SMTP_ADDR_MAX, mbox);
		s->n_rcpt++;
		smtp_reply(s, "250 2.1.5 Ok");
		smtp_checks_mail(s); /* the first recipient starts SPF (once) */
	} else if (status == IPC_RCPT_RATE) {
		const struct conf_rate *r =
		    s->auth_user[0] ? &W.conf->limits.user_rcpt_rate : &W.conf->limits.rcpt_rate;
		smtp_reply(s,
			   "450 4.7.1 <%s>: Too many recipients from %s (%u per %us), try again "
			   "later",
			   s->pending_rcpt, s->auth_user[0] ? "this user" : "your address",
			   r->count, r->period);
		log_info("%s: RCPT to=<%s> refused: %s", s->client, s->pending_rcpt,
			 s->auth_user[0] ? "user-recipient-rate" : "recipient-rate");
	} else if (status == IPC_RCPT_UNKNOWN) {
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
			   s->pending_rcpt);
		log_info("%s: RCPT to=<%s> refused: user unknown", s->client, s->pending_rcpt);
		smtp_error(s);
	} else {
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try again later",
			   s->pending_rcpt);
	}
}

/* Mail for other domains: only from an authenticated user, a trusted
 * network (trusted-networks, empty by default) or the local socket. */
static int smtp_may_relay(const struct smtp_session *s)
{
	return s->auth_user[0] != '\0' || s->trusted || s->lis->kind == SL_LOCAL;
}

/* ---- the simple ones --------------------------------------------------- */

static void smtp_cmd_rset(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_txn_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_noop(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_quit(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_reply(s, "221 2.0.0 %s closing connection", W.conf->hostname);
	s->state = SS_CLOSING;
}

static void smtp_cmd_vrfy(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void smtp_cmd_expn(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_reply(s, "502 5.5.1 EXPN is not supported");
}

static void smtp_cmd_help(struct smtp_session *s, const char *arg, size_t n)
{
	smtp_reply(s, "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

static const struct smtp_command smtp_commands[] = {
    {SMTP_V_HELO, smtp_cmd_helo, 0, 1},		{SMTP_V_EHLO, smtp_cmd_ehlo, 0, 1},
    {SMTP_V_MAIL, smtp_cmd_mail, 1, 0},		{SMTP_V_RCPT, smtp_cmd_rcpt, 1, 0},
    {SMTP_V_DATA, smtp_cmd_data, 1, 0},		{SMTP_V_BDAT, smtp_cmd_bdat, 1, 0},
    {SMTP_V_RSET, smtp_cmd_rset, 0, 1},		{SMTP_V_NOOP, smtp_cmd_noop, 0, 1},
    {SMTP_V_QUIT, smtp_cmd_quit, 0, 1},		{SMTP_V_VRFY, smtp_cmd_vrfy, 0, 0},
    {SMTP_V_EXPN, smtp_cmd_expn, 0, 0},		{SMTP_V_HELP, smtp_cmd_help, 0, 0},
    {SMTP_V_STARTTLS, smtp_cmd_starttls, 0, 1}, {SMTP_V_AUTH, smtp_cmd_auth, 1, 1},
};

static int smtp_noarg_verb(enum smtp_verb v)
{
	return v == SMTP_V_DATA || v == SMTP_V_RSET || v == SMTP_V_QUIT || v == SMTP_V_STARTTLS;
}

/* Refuse a command; a refused BDAT still has its chunk read (RFC 3030),
 * so that no chunk octet is ever taken for a command. */
static void smtp_refuse(struct smtp_session *s, const struct smtp_cmd *c, const char *reply)
{
	if (c->verb == SMTP_V_BDAT) {
		smtp_bdat_refuse(s, c->arg, c->arg_len, reply);
		return;
	}
	smtp_reply(s, "%s", reply);
	smtp_error(s);
}

static void smtp_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_cmd c;
	const struct smtp_command *cmd = NULL;
	int rc = smtp_cmd_parse(line, len, &c);

	for (size_t i = 0; i < sizeof smtp_commands / sizeof smtp_commands[0]; i++)
		if (smtp_commands[i].verb == c.verb)
			cmd = &smtp_commands[i];
	if (smtp_pipelining_improper(s, c.verb)) {
		return;
	} else if (!cmd) {
		smtp_reply(s, "500 5.5.2 Command unrecognized");
		smtp_error(s);
	} else if (rc < 0 || (smtp_noarg_verb(c.verb) && c.arg_len > 0)) {
		smtp_reply(s, "501 5.5.4 Syntax error in parameters or arguments");
		smtp_error(s);
	} else if (!cmd->pre_tls && !s->tls && s->lis->kind == SL_SUBMISSION) {
		smtp_refuse(s, &c, "530 5.7.0 Must issue a STARTTLS command first");
	} else if (cmd->needs_helo && !s->helo[0]) {
		smtp_refuse(s, &c, "503 5.5.1 Send HELO/EHLO first");
	} else {
		cmd->fn(s, c.arg, c.arg_len);
	}
}

/* Take one command line from the input; returns 0 when more input is needed. */
static int smtp_take_line(struct smtp_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t want = avail < SMTP_CMD_LINE_MAX ? avail : SMTP_CMD_LINE_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	struct smtp_line l;

	if (avail == 0 || !buf)
		return 0;
	switch (smtp_line_next(buf, want, SMTP_CMD_LINE_MAX, &l)) {
	case SMTP_LINE_MORE:
		return 0;
	case SMTP_LINE_TOOLONG:
		s->cmd_since = time(NULL);
		evbuffer_drain(in, l.consumed);
		smtp_reply(s, "500 5.5.2 Line too long (command lines are limited to 512 octets)");
		smtp_error(s);
		if (s->state == SS_CMD)
			s->state = SS_SKIP;
		return 1;
	case SMTP_LINE_OK:
		break;
	}
	char line[SMTP_CMD_LINE_MAX];
	size_t len = l.len;
	unsigned flags = l.flags;
	memcpy(line, buf, len); /* the input may be replaced (STARTTLS) while we run */
	evbuffer_drain(in, l.consumed);
	s->cmd_since = time(NULL);
	if (flags) {
		smtp_reply(s, "500 5.5.2 Bare CR, bare LF or NUL in command refused");
		smtp_error(s);
	} else {
		smtp_dispatch(s, line, len);
	}
	return 1;
}

static int smtp_skip_input(struct smtp_session *s, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	size_t want = avail < SMTP_SCRATCH ? avail : SMTP_SCRATCH;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	int done = 0;

	if (avail == 0 || !buf)
		return 0;
	evbuffer_drain(in, smtp_line_skip(buf, want, &done));
	if (done)
		s->state = SS_CMD;
	return 1;
}

/* Run commands until input runs out, or something must be waited for. */
void smtp_process(struct smtp_session *s)
{
	int progress = 1;

	if (W.stopping && s->wait == SW_NONE && s->state != SS_CLOSING) {
		smtp_stop_session(s);
		return;
	}
	while (progress && s->wait == SW_NONE) {
		if (smtp_output_full(s)) { /* the client does not read its replies */
			s->wait = SW_OUTPUT;
			s->out_since = time(NULL);
			break;
		}
		struct evbuffer *in = bufferevent_get_input(s->bev); /* STARTTLS swaps it */
		switch (s->state) {
		case SS_CMD:
			progress = smtp_take_line(s, in);
			break;
		case SS_SKIP:
			progress = smtp_skip_input(s, in);
			break;
		case SS_AUTH:
			progress = smtp_auth_input(s, in);
			break;
		case SS_DATA:
		case SS_BDAT:
			progress = smtp_data_input(s);
			break;
		case SS_CLOSING:
			evbuffer_drain(in, evbuffer_get_length(in));
			progress = 0;
			break;
		}
	}
	if (evbuffer_get_length(s->held) > 0 && !smtp_hold(s)) /* a wait ended: they go now */
		event_active(s->flush_ev, EV_WRITE, 1);
	if (s->state == SS_CLOSING && smtp_unsent(s) == 0)
		smtp_close_soon(s);
}

/* ---- connection life --------------------------------------------------- */

static void smtp_on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	smtp_free(arg);
}

/*
 * End the session from the event loop rather than from inside a bufferevent
 * callback: the TLS bufferevent may still be writing our last reply when
 * it calls us (seen with commands that arrive with the client's Finished).
 */
static void smtp_close_soon(struct smtp_session *s)
{
	struct timeval now = {0, 0};

	if (s->close_ev)
		return;
	s->close_ev = evtimer_new(W.base, smtp_on_close_timer, s);
	if (!s->close_ev || evtimer_add(s->close_ev, &now) < 0)
		smtp_free(s);
}

/* Reply, then close once the reply is out; nothing more is read. */
void smtp_close_now(struct smtp_session *s)
{
	s->state = SS_CLOSING;
	if (s->wait == SW_GREET || s->wait == SW_TARPIT || s->wait == SW_OUTPUT)
		s->wait = SW_NONE;
	bufferevent_disable(s->bev, EV_READ);
	/* Before the TLS handshake the reply cannot be sent: just close. */
	if (smtp_tls_pending(s) || smtp_unsent(s) == 0)
		smtp_close_soon(s);
}

void smtp_drop(struct smtp_session *s)
{
	smtp_close_soon(s);
}

int smtp_tls_pending(const struct smtp_session *s)
{
	return s->tls && !s->tls_info[0];
}

static void smtp_on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->wait == SW_GREET) {
		if (!s->early_talk)
			smtp_early_input(s);
		return;
	}
	smtp_process(s);
}

static void smtp_on_write(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SS_CLOSING) {
		smtp_close_soon(s);
	} else if (s->wait == SW_OUTPUT) {
		s->wait = SW_NONE;
		smtp_process(s);
	}
}

static void smtp_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		smtp_tls_established(s);
		smtp_process(s); /* commands that came with the client's Finished */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (smtp_tls_pending(s))
			log_info("%s: TLS handshake not completed in time; disconnecting",
				 s->client);
		if (s->state == SS_CLOSING || smtp_tls_pending(s)) { /* no goodbye possible */
			smtp_drop(s);
			return;
		}
		smtp_reply(s, "421 4.4.2 %s Timeout, closing connection", W.conf->hostname);
		log_info("%s: %s; disconnecting", s->client,
			 s->state == SS_DATA || s->state == SS_BDAT ? "data-timeout"
								    : "command-timeout");
		s->state = SS_CLOSING; /* smtp_on_flush closes once the 421 is out */
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		smtp_tls_log_error(s);
		smtp_free(s);
	}
}

void smtp_session_callbacks(struct smtp_session *s)
{
	bufferevent_setcb(s->bev, smtp_on_read, smtp_on_write, smtp_on_event, s);
}

/* ---- direct writes -------------------------------------------------------
 *
 * Left to libevent, every reply costs two epoll_ctl calls (EPOLLOUT on,
 * then off) and a pass of the loop before it is written. Instead the
 * socket-level bufferevent (the plain one under a TLS filter) keeps
 * EV_WRITE off, and what reaches its output is written once the callback
 * that produced it is done (flush_ev, activated from the output buffer's
 * callback: TLS handshake flights included). When the socket takes less
 * than all, or fails, EV_WRITE goes on and libevent finishes the write and
 * reports the failure as it always did.
 */

static struct bufferevent *smtp_sock_bev(const struct smtp_session *s)
{
	return s->raw ? s->raw : s->bev;
}

/* EV_WRITE off on the socket-level bufferevent while its output is empty
 * (a TLS filter turns it on when it is made). */
static void smtp_direct_quiet(struct smtp_session *s)
{
	struct bufferevent *sock = smtp_sock_bev(s);

	if ((bufferevent_get_enabled(sock) & EV_WRITE) &&
	    evbuffer_get_length(bufferevent_get_output(sock)) == 0)
		bufferevent_disable(sock, EV_WRITE);
}

/*
 * Held replies (s->held) wait while the session waits for a step that
 * answers promptly and without the client: the lookup process (RCPT, an
 * authenticated MAIL) or the queue file (DATA, BDAT). A pipelined MAIL,
 * RCPT, DATA group then leaves in one write, where it took three, and the
 * client reads one TLS record. Nothing is held while the session waits
 * for the client, so no pipelining client can deadlock on us (RFC 2920
 * 3.2), and a tarpit's reply is held until the tarpit ends.
 */
static int smtp_hold(const struct smtp_session *s)
{
	if (s->wait == SW_TARPIT)
		return 1;
	if (s->state == SS_CLOSING || evbuffer_get_length(s->held) >= SMTP_HOLD_MAX)
		return 0;
	return s->wait == SW_LOOKUP || s->wait == SW_SENDER || s->wait == SW_OPEN;
}

/* Reply octets not yet handed to the socket-level bufferevent. */
static size_t smtp_unsent(const struct smtp_session *s)
{
	return evbuffer_get_length(s->held) + evbuffer_get_length(bufferevent_get_output(s->bev));
}

/* Hand the held replies on: to the socket's output, or through the TLS
 * filter (one record for them all). */
void smtp_release(struct smtp_session *s)
{
	if (evbuffer_get_length(s->held) > 0 &&
	    evbuffer_add_buffer(bufferevent_get_output(s->bev), s->held) < 0)
		log_warn("%s: cannot pass a reply on: out of memory", s->client);
}

/* A TLS session that ends after its last reply: close_notify goes out with
 * that reply, in the same write. */
static void smtp_tls_goodbye(struct smtp_session *s)
{
	if (s->tls && s->state == SS_CLOSING && !smtp_tls_pending(s) && smtp_unsent(s) == 0)
		smtp_tls_close_notify(s);
}

static void smtp_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	struct bufferevent *sock = smtp_sock_bev(s);
	struct evbuffer *out = bufferevent_get_output(sock);

	s->flushing = 1;
	if (!smtp_hold(s)) {
		smtp_release(s);
		smtp_tls_goodbye(s);
	}
	if (evbuffer_get_length(out) > 0) {
		evbuffer_unfreeze(out, 1); /* as libevent does around its own writes */
		int n = evbuffer_write(out, bufferevent_getfd(sock));
		evbuffer_freeze(out, 1);
		if (n <= 0 || evbuffer_get_length(out) > 0)
			bufferevent_enable(sock, EV_WRITE);
	}
	s->flushing = 0;
	smtp_direct_quiet(s);
	if (s->state == SS_CLOSING && smtp_unsent(s) == 0)
		smtp_close_soon(s); /* a TLS session's last bytes may still be in out */
	else if (s->wait == SW_OUTPUT && !smtp_output_full(s))
		smtp_on_write(sock, s); /* room again: read the next commands */
}

/* Added to: write it. Drained, by libevent, while the session waits for the
 * client to read its replies: see whether there is room again. */
static void smtp_on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct smtp_session *s = arg;

	if ((info->n_added && !s->flushing) || (info->n_deleted && s->wait == SW_OUTPUT))
		event_active(s->flush_ev, EV_WRITE, 1);
}

/* 0, or -1 when out of memory. */
static int smtp_direct_start(struct smtp_session *s)
{
	s->flush_ev = event_new(W.base, -1, 0, smtp_on_flush, s);
	s->held = evbuffer_new();
	if (s->flush_ev && s->held)
		s->out_cb =
		    evbuffer_add_cb(bufferevent_get_output(smtp_sock_bev(s)), smtp_on_output, s);
	return s->out_cb ? 0 : -1;
}

static void smtp_direct_end(struct smtp_session *s)
{
	if (s->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(smtp_sock_bev(s)), s->out_cb);
	s->out_cb = NULL;
	if (s->flush_ev)
		event_free(s->flush_ev);
	s->flush_ev = NULL;
	if (s->held)
		evbuffer_free(s->held);
	s->held = NULL;
}

static void smtp_client_name(struct smtp_session *s, const struct sockaddr *sa, int fd)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
	if (sa->sa_family == AF_UNIX) {
		struct ucred cr;
		socklen_t len = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
			cr.uid = (uid_t)-1;
		str_fmt(s->client, sizeof s->client, "local uid %ld", (long)cr.uid);
		str_fmt(s->addr, sizeof s->addr, "local uid %ld", (long)cr.uid);
		return;
	}
	str_fmt(s->client, sizeof s->client, "[%s]", ip);
	str_copy(s->addr, sizeof s->addr, ip);
	if (sa->sa_family == AF_INET)
		s->trusted =
		    conf_trusted(W.conf, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		s->trusted =
		    conf_trusted(W.conf, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

void smtp_session_start(evutil_socket_t fd, const struct smtp_listener *lis,
			const struct sockaddr *sa, int salen)
{
	struct smtp_session *s = calloc(1, sizeof *s);
	int one = 1;

	if (s && lis->kind == SL_SUBMISSIONS) {
		if (smtp_tls_accept(s, fd) == 0) { /* implicit TLS from the first byte */
			s->tls = 1;
			s->tls_since = time(NULL);
		}
	} else if (s) {
		s->bev = bufferevent_socket_new(W.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!s || !s->bev) {
		log_error("cannot set up a session: out of memory");
		free(s);
		close(fd);
		return;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->id = ++W.next_id;
	s->lis = lis;
	s->qfd = -1;
	smtp_client_name(s, sa, fd);
	s->hnext = W.buckets[s->id % SMTP_SESSION_BUCKETS];
	W.buckets[s->id % SMTP_SESSION_BUCKETS] = s;
	W.n_sessions++;
	smtp_session_callbacks(s);
	smtp_limits_bev(s, 0);
	log_info("connect from %s", s->client);
	if (smtp_direct_start(s) < 0) {
		log_error("%s: cannot set up the session: out of memory", s->client);
		smtp_free(s);
		return;
	}
	/* a plain socket is written directly; a TLS filter needs EV_WRITE */
	bufferevent_enable(s->bev, s->raw ? EV_READ | EV_WRITE : EV_READ);
	smtp_direct_quiet(s);
	smtp_admit(s); /* the banner follows the lookup process's verdict */
}

void smtp_greet(struct smtp_session *s)
{
	s->cmd_since = time(NULL);
	smtp_reply(s, "220 %s ESMTP sealpost", W.conf->hostname);
}

static void smtp_unhash(struct smtp_session *s)
{
	for (struct smtp_session **pp = &W.buckets[s->id % SMTP_SESSION_BUCKETS]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			return;
		}
}

struct smtp_session *smtp_session_find(uint64_t id)
{
	for (struct smtp_session *s = W.buckets[id % SMTP_SESSION_BUCKETS]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

void smtp_stop_session(struct smtp_session *s)
{
	if (s->state == SS_CLOSING)
		return;
	if (s->wait != SW_NONE && s->wait != SW_GREET && s->wait != SW_TARPIT &&
	    s->wait != SW_OUTPUT)
		return; /* the queue and lookup outlive the workers: the answer comes */
	smtp_reply(s, "421 4.3.2 %s Service shutting down, closing connection", W.conf->hostname);
	smtp_close_now(s);
}

void smtp_stop_all(void)
{
	for (size_t b = 0; b < SMTP_SESSION_BUCKETS; b++)
		for (struct smtp_session *s = W.buckets[b], *next; s; s = next) {
			next = s->hnext; /* closing is deferred, but be safe */
			smtp_stop_session(s);
		}
}

static void smtp_free(struct smtp_session *s)
{
	log_info("disconnect from %s messages=%u errors=%u", s->client, s->n_msgs, s->errors);
	if (s->close_ev)
		event_free(s->close_ev);
	smtp_direct_end(s);
	smtp_limits_free(s);
	if (s->auth_active)
		smtp_send_auth_abort(s);
	smtp_txn_reset(s);
	smtp_unhash(s);
	W.n_sessions--;
	if (s->tls && s->state == SS_CLOSING)
		smtp_tls_close_notify(s); /* a clean TLS end after 221/421, if not sent yet */
	if (s->raw)
		smtp_tls_free(s);
	else
		bufferevent_free(s->bev);
	free(s);
	if (W.stopping && W.n_sessions == 0) {
		log_info("stopped: every session ended");
		exit(0);
	}
}
