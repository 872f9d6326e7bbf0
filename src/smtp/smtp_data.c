/*
 * smtp_data: DATA (RFC 5321) and BDAT (RFC 3030) — the message body from
 * the client to the queue file the queue process opened for us.
 *
 * The body scanner (smtp_parse.c) finds the end of data (CRLF.CRLF only),
 * undoes dot-stuffing and flags bare CR/LF, over-long lines and NULs; a
 * flagged message is read to its end and then refused whole, so nothing
 * after a smuggled end-of-data marker can ever run as a command. A
 * message gets 250 only after the queue says it is on stable storage.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/send_addr.h"
#include "smtp/smtp_int.h"
#include "util/file.h"
#include "util/log.h"
#include "util/str.h"

#define SMTP_RECEIVED_MAX 2048
#define SMTP_FROM_MAX	  16	     /* From: addresses checked */
#define SMTP_WBUF_SIZE	  (8 * 1024) /* queue-file octets gathered into one write */

static void smtp_from_header_check(struct smtp_session *s);
static void smtp_refuse_from(struct smtp_session *s, const char *reply);

static void smtp_write_out(struct smtp_session *s, const char *p, size_t n)
{
	if (s->write_err)
		return;
	if (file_write_all(s->qfd, p, n) < 0) {
		s->write_err = errno ? errno : EIO;
		log_error("%s: queue file write failed: %s", s->qid, strerror(s->write_err));
		return;
	}
	s->written += (uint64_t)n;
}

/* Write out what smtp_write_q gathered; due before the file is committed. */
void smtp_write_flush(struct smtp_session *s)
{
	size_t n = s->wlen;

	s->wlen = 0;
	if (n > 0 && s->qfd >= 0)
		smtp_write_out(s, s->wbuf, n);
}

/*
 * Message octets for the queue file, gathered: a small message (Received:,
 * header, blank line, body) is one write, not four. A piece as big as the
 * buffer, or a buffer that cannot be had, is written at once.
 */
void smtp_write_q(struct smtp_session *s, const char *p, size_t n)
{
	if (n == 0 || s->too_big || s->write_err || s->qfd < 0)
		return; /* n == 0: p may be NULL (an empty message) */
	s->msg_size += n;
	if (s->msg_size > W.conf->max_message_size) {
		s->too_big = 1;
		return;
	}
	if (s->wlen + n > SMTP_WBUF_SIZE)
		smtp_write_flush(s);
	if (n >= SMTP_WBUF_SIZE || (!s->wbuf && (s->wbuf = malloc(SMTP_WBUF_SIZE)) == NULL)) {
		smtp_write_out(s, p, n);
		return;
	}
	memcpy(s->wbuf + s->wlen, p, n);
	s->wlen += n;
}

/* RFC 3848 / RFC 6531 protocol words for the "with" clause. */
static const char *smtp_proto(const struct smtp_session *s)
{
	static const char *const words[2][2][2] = {
	    /* [utf8][tls][auth] */
	    {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
	    {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}},
	};

	if (!s->esmtp)
		return "SMTP";
	return words[(s->mail_flags & QENV_F_UTF8) != 0][s->tls != 0][s->auth_user[0] != '\0'];
}

/* Our trace header (RFC 5321 4.4), the first line of the stored message;
 * -1 when it cannot be formatted. It is gathered with what follows, so a
 * write error shows at the end of the data (smtp_message_end). */
static int smtp_write_received(struct smtp_session *s)
{
	char hdr[SMTP_RECEIVED_MAX], date[64], forpart[SMTP_ADDR_MAX + 16] = "", tlspart[128] = "";
	char authpart[SMTP_ADDR_MAX + 32] = "";
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (s->n_rcpt == 1 &&
	    str_fmt(forpart, sizeof forpart, "\r\n\tfor <%s>", s->rcpt[0].addr) < 0)
		forpart[0] = '\0';
	if (s->tls_info[0] && str_fmt(tlspart, sizeof tlspart, "\r\n\t(using %s)", s->tls_info) < 0)
		tlspart[0] = '\0';
	if (s->auth_user[0] && W.conf->received_auth_user &&
	    str_fmt(authpart, sizeof authpart, "\r\n\t(Authenticated sender: %s)", s->auth_user) <
		0)
		authpart[0] = '\0';
	if (str_fmt(hdr, sizeof hdr,
		    "Received: from %s (%s)%s%s\r\n\tby %s (sealpost) with %s id %s%s; %s\r\n",
		    s->helo, s->client, tlspart, authpart, W.conf->hostname, smtp_proto(s), s->qid,
		    forpart, date) < 0)
		return -1;
	size_t n = strlen(hdr);
	smtp_write_q(s, hdr, n);
	s->msg_size -= n; /* our header does not count against SIZE */
	return 0;
}

static void smtp_begin_message(struct smtp_session *s)
{
	if (smtp_send_open(s) < 0) {
		smtp_on_opened(s, 0, "", -1);
		return;
	}
	s->wait = SW_OPEN;
}

void smtp_cmd_data(struct smtp_session *s, const char *arg, size_t n)
{
	if (!s->in_mail || s->bdat_used) {
		smtp_reply(s, s->bdat_used ? "503 5.5.1 DATA after BDAT in one transaction"
					   : "503 5.5.1 Need MAIL command first");
		smtp_error(s);
		return;
	}
	if (s->n_rcpt == 0) {
		smtp_reply(s, "554 5.5.1 No valid recipients");
		smtp_error(s);
		return;
	}
	s->data_used = 1;
	smtp_begin_message(s);
}

/* "BDAT size [LAST]": returns 0 and fills size/last, or -1. */
static int smtp_bdat_args(const char *arg, size_t n, uint64_t *size, int *last)
{
	size_t i = 0;
	uint64_t v = 0;

	for (; i < n && arg[i] >= '0' && arg[i] <= '9'; i++) {
		if (i >= 18)
			return -1;
		v = v * 10 + (uint64_t)(arg[i] - '0');
	}
	if (i == 0)
		return -1;
	*size = v;
	*last = 0;
	if (i == n)
		return 0;
	if (arg[i] == ' ' && str_eqn_nocase(arg + i + 1, n - i - 1, "LAST")) {
		*last = 1;
		return 0;
	}
	return -1;
}

static void smtp_bdat_enter(struct smtp_session *s, uint64_t size, int last)
{
	s->bdat_left = size;
	s->bdat_last = last;
	s->state = SS_BDAT;
	if (!s->data_since)
		s->data_since = time(NULL);
	smtp_limits_bev(s, 1);
}

/*
 * Parse BDAT's arguments and start reading the chunk; deferred (if not NULL)
 * is the reply given once the chunk is read. -1 when the size is unreadable:
 * the chunk's octets could then be taken as commands, so we hang up.
 */
static int smtp_bdat_begin(struct smtp_session *s, const char *arg, size_t n, const char *deferred)
{
	uint64_t size;
	int last;

	if (smtp_bdat_args(arg, n, &size, &last) < 0) {
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing connection");
		s->state = SS_CLOSING;
		return -1;
	}
	s->bdat_deferred_err = deferred;
	smtp_bdat_enter(s, size, last);
	return 0;
}

void smtp_bdat_refuse(struct smtp_session *s, const char *arg, size_t n, const char *reply)
{
	(void)smtp_bdat_begin(s, arg, n, reply);
}

void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t n)
{
	const char *err = NULL;

	if (!s->in_mail || s->data_used)
		err = "503 5.5.1 Bad sequence of commands";
	else if (s->n_rcpt == 0)
		err = "554 5.5.1 No valid recipients";
	if (smtp_bdat_begin(s, arg, n, err) < 0 || err || s->bdat_used)
		return;
	s->bdat_used = 1;
	smtp_begin_message(s);
}

void smtp_on_opened(struct smtp_session *s, int ok, const char *id, int fd)
{
	s->wait = SW_NONE;
	if (!ok) {
		log_error("%s: the queue could not open a message file", s->client);
		smtp_txn_reset(s);
		if (s->state == SS_BDAT) /* answered once the chunk is read */
			s->bdat_deferred_err = "451 4.3.0 Queue unavailable, try again later";
		else
			smtp_reply(s, "451 4.3.0 Queue unavailable, try again later");
		return;
	}
	s->qfd = fd;
	str_copy(s->qid, sizeof s->qid, id);
	smtp_body_init(&s->body, !s->bdat_used);
	if (smtp_write_received(s) < 0)
		log_error("%s: cannot format the Received header", s->qid);
	if (!s->bdat_used) {
		smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
		s->state = SS_DATA;
		s->data_since = time(NULL);
		smtp_limits_bev(s, 1);
	}
}

/* The message is complete: refuse it, or ask the queue to commit it. */
static void smtp_message_end(struct smtp_session *s)
{
	const char *err = NULL;
	char too_long[80];

	smtp_limits_bev(s, 0);
	s->cmd_since = time(NULL);
	s->state = SS_CMD;
	smtp_msg_feed_end(s);
	smtp_write_flush(s);
	if (s->mh.too_big && str_fmt(too_long, sizeof too_long,
				     "552 5.3.4 Message header section too large (over %zu KB)",
				     smtp_header_cap() / 1024) == 0)
		err = too_long;
	else if (s->too_big)
		err = "552 5.3.4 Message size exceeds fixed maximum message size";
	else if (s->body.flags & SMTP_BODY_BARE_CRLF)
		err = "554 5.6.0 Message refused: bare CR or LF (only CRLF may end a line)";
	else if (s->body.flags & SMTP_BODY_LONGLINE)
		err = "554 5.6.0 Message refused: a line is longer than 1000 octets";
	else if (s->body.flags & SMTP_BODY_NUL)
		err = "554 5.6.0 Message refused: NUL octet in message";
	else if (s->write_err == ENOSPC || s->write_err == EDQUOT || s->write_err == EFBIG)
		err = "452 4.3.1 Insufficient system storage";
	else if (s->write_err || s->qfd < 0)
		err = "451 4.3.0 Local error while storing the message";
	if (err) {
		smtp_reply(s, "%s", err);
		log_info("%s: %s: message refused: %s", s->client, s->qid[0] ? s->qid : "-", err);
		smtp_txn_reset(s);
		smtp_error(s);
		return;
	}
	if (smtp_checks_end(s))
		return; /* smtp_check.c commits or refuses once its answers are in */
	if (s->auth_user[0]) {
		smtp_from_header_check(s);
		return;
	}
	smtp_commit_message(s);
}

void smtp_commit_message(struct smtp_session *s)
{
	close(s->qfd);
	s->qfd = -1;
	smtp_send_commit(s);
	/* The queue owns the message now: a session that ends from here on must
	 * not abort it (it may already be durable). */
	memcpy(s->cqid, s->qid, sizeof s->cqid);
	s->qid[0] = '\0';
	s->wait = SW_COMMIT;
}

/* RFC 6409 8.1 spirit: an authenticated user's From: must be their own address. */
static void smtp_from_header_check(struct smtp_session *s)
{
	char(*addr)[SEND_ADDR_MAX] = calloc(SMTP_FROM_MAX, sizeof *addr);
	struct send_rcpts from = {addr, 0, SMTP_FROM_MAX};
	static const char *const fields[] = {"From"};
	const char *why = NULL;
	char list[SMTP_FROM_MAX * SEND_ADDR_MAX];
	size_t o = 0;

	/* the header held by smtp_header.c, complete by now */
	if (!addr ||
	    send_hdr_addrs(s->mh.buf ? s->mh.buf : "", s->mh.hlen, fields, 1, &from, &why) < 0 ||
	    from.n == 0) {
		free(addr);
		smtp_refuse_from(s, why ? "554 5.6.0 Message refused: unreadable From: header"
					: "554 5.6.0 Message refused: no From: header");
		return;
	}
	for (size_t i = 0; i < from.n; i++) {
		size_t l = strlen(addr[i]);
		memcpy(list + o, addr[i], l);
		o += l;
		list[o++] = '\n';
	}
	list[o - 1] = '\0';
	free(addr);
	s->sender_phase = SP_FROM_HEADER;
	smtp_send_sender_check(s, list);
}

static void smtp_refuse_from(struct smtp_session *s, const char *reply)
{
	smtp_reply(s, "%s", reply);
	log_info("%s: %s: message refused: %s (user %s)", s->client, s->qid, reply, s->auth_user);
	smtp_txn_reset(s);
	smtp_error(s);
}

/* Refuse the whole message after its end (a sender-check verdict). */
void smtp_refuse_message(struct smtp_session *s, const char *reply)
{
	smtp_reply(s, "%s", reply);
	log_info("%s: %s: message refused: %s", s->client, s->qid, reply);
	smtp_txn_reset(s);
}

void smtp_from_header_result(struct smtp_session *s, uint32_t ok)
{
	s->sender_phase = SP_MAIL;
	if (ok == 1)
		smtp_commit_message(s);
	else if (ok == 0)
		smtp_refuse_from(s, "553 5.7.1 Message refused: From: header address not owned by "
				    "the authenticated user");
	else
		smtp_refuse_from(s, "451 4.3.0 Temporary lookup failure, try again later");
}

void smtp_on_committed(struct smtp_session *s, int ok, const char *why)
{
	s->wait = SW_NONE;
	if (ok) {
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->cqid);
		log_info("%s: from=<%s> size=%llu nrcpt=%u client=%s helo=%s%s%s", s->cqid, s->from,
			 (unsigned long long)s->msg_size, s->n_rcpt, s->client, s->helo,
			 s->auth_user[0] ? " user=" : "", s->auth_user);
		s->n_msgs++;
	} else {
		smtp_reply(s, "451 4.3.0 Error: queue file write error, try again later");
		log_error("%s: commit failed: %s", s->cqid, why);
	}
	s->cqid[0] = '\0';
	smtp_txn_reset(s);
}

static int smtp_data_chunk(struct smtp_session *s, const char *p, size_t n)
{
	size_t out_len = 0, used;

	if (n > SMTP_SCRATCH)
		n = SMTP_SCRATCH;
	used = smtp_body_feed(&s->body, p, n, W.scratch, SMTP_SCRATCH, &out_len);
	smtp_msg_feed(s, W.scratch, out_len);
	return (int)used;
}

static int smtp_data_body(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return 0;
	evbuffer_drain(in, (size_t)smtp_data_chunk(s, v.iov_base, v.iov_len));
	if (s->body.done)
		smtp_message_end(s);
	return 1;
}

static void smtp_bdat_chunk_end(struct smtp_session *s)
{
	const char *err = s->bdat_deferred_err;

	s->state = SS_CMD;
	if (err) {
		smtp_reply(s, "%s", err);
		s->bdat_deferred_err = NULL;
		smtp_error(s);
		if (s->bdat_last)
			smtp_txn_reset(s);
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, "250 2.0.0 Chunk received");
		return;
	}
	if (smtp_body_finish(&s->body))
		smtp_msg_feed(s, "\r\n", 2);
	smtp_message_end(s);
}

static int smtp_bdat_body(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;

	if (s->bdat_left == 0) {
		smtp_bdat_chunk_end(s);
		return 1;
	}
	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
		return 0;
	size_t n = v.iov_len < s->bdat_left ? v.iov_len : (size_t)s->bdat_left;
	if (s->bdat_deferred_err) {
		evbuffer_drain(in, n);
		s->bdat_left -= n;
		return 1;
	}
	n = (size_t)smtp_data_chunk(s, v.iov_base, n);
	evbuffer_drain(in, n);
	s->bdat_left -= n;
	return 1;
}

int smtp_data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (s->state == SS_DATA)
		return smtp_data_body(s, in);
	return smtp_bdat_body(s, in);
}
