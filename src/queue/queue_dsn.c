/*
 * queue_dsn: the text of a delivery status notification (RFC 3464 report
 * inside RFC 6522 multipart/report; RFC 6533 global forms for SMTPUTF8
 * originals). Pure: no I/O, no clock; see queue_dsn.h.
 *
 * Security role: everything quoted comes from elsewhere — a remote
 * server's reply, the original's headers — so every value is bounded and
 * stripped of control characters before it lands in a header or report
 * field, and only the original's header section is returned.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/queue_dsn.h"

#define DSN_FIELD_MAX 512 /* one quoted value (address, reply), cleaned */
#define DSN_RCPT_COST 2048

struct dbuf {
	char *p;
	size_t len, cap;
	int overflow;
};

static void __attribute__((format(printf, 2, 3))) db_add(struct dbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->overflow = 1;
	else
		b->len += (size_t)n;
}

/* s made safe for one line of a header or report field. */
static const char *dsn_clean(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; s && *s && o + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[o] = '\0';
	return out;
}

static void dsn_date(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		out[0] = '\0';
}

/* The header section of the original: up to and including the empty line. */
static size_t dsn_header_len(const char *m, size_t n)
{
	if (n > DSN_HEADERS_MAX)
		n = DSN_HEADERS_MAX;
	for (size_t i = 0; i + 3 < n; i++)
		if (m[i] == '\r' && m[i + 1] == '\n' && m[i + 2] == '\r' && m[i + 3] == '\n')
			return i + 2;
	return n;
}

static void dsn_top(struct dbuf *b, const struct dsn_info *in, const char *date)
{
	char sender[DSN_FIELD_MAX];
	int failed = in->action == DSN_FAILED;

	db_add(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", in->hostname);
	db_add(b, "To: <%s>\r\n", dsn_clean(in->sender, sender, sizeof sender));
	db_add(b, "Subject: %s\r\n",
	       failed ? "Undelivered Mail Returned to Sender"
		      : "Delayed Mail (still being retried)");
	db_add(b, "Date: %s\r\n", date);
	db_add(b, "Message-ID: <%s.%s@%s>\r\n", in->token, in->id, in->hostname);
	db_add(b, "Auto-Submitted: auto-replied\r\n");
	db_add(b, "MIME-Version: 1.0\r\n");
	db_add(b,
	       "Content-Type: multipart/report; report-type=%s;\r\n"
	       "\tboundary=\"%s/%s\"\r\n\r\n",
	       in->utf8 ? "global-delivery-status" : "delivery-status", in->token, in->hostname);
	db_add(b, "This is a MIME-encapsulated message.\r\n\r\n");
}

static void dsn_text(struct dbuf *b, const struct dsn_info *in)
{
	char addr[DSN_FIELD_MAX], diag[DSN_FIELD_MAX];

	db_add(b, "--%s/%s\r\nContent-Description: Notification\r\n", in->token, in->hostname);
	db_add(b, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	db_add(b, "This is the mail system at host %s.\r\n\r\n", in->hostname);
	if (in->action == DSN_FAILED)
		db_add(b, "Your message could not be delivered to the recipient(s) below.\r\n"
			  "It has been given up on; the reasons are given for each.\r\n\r\n");
	else
		db_add(b, "Your message has not been delivered yet to the recipient(s) below.\r\n"
			  "It is still being retried; you do not need to send it again.\r\n\r\n");
	for (size_t i = 0; i < in->n_rcpt; i++)
		db_add(b, "<%s>: %s\r\n", dsn_clean(in->rcpt[i].addr, addr, sizeof addr),
		       dsn_clean(in->rcpt[i].diag, diag, sizeof diag));
	db_add(b, "\r\n");
}

static void dsn_rcpt_fields(struct dbuf *b, const struct dsn_info *in, const struct dsn_rcpt *r,
			    const char *now)
{
	char addr[DSN_FIELD_MAX], diag[DSN_FIELD_MAX], mta[DSN_FIELD_MAX], st[32];

	db_add(b, "\r\nFinal-Recipient: %s; %s\r\n", in->utf8 ? "utf-8" : "rfc822",
	       dsn_clean(r->addr, addr, sizeof addr));
	db_add(b, "Action: %s\r\n", in->action == DSN_FAILED ? "failed" : "delayed");
	db_add(b, "Status: %s\r\n", dsn_clean(r->status, st, sizeof st));
	if (r->remote_mta && r->remote_mta[0]) {
		db_add(b, "Remote-MTA: dns; %s\r\n", dsn_clean(r->remote_mta, mta, sizeof mta));
		db_add(b, "Diagnostic-Code: smtp; %s\r\n", dsn_clean(r->diag, diag, sizeof diag));
	} else {
		db_add(b, "Diagnostic-Code: X-Sealpost; %s\r\n",
		       dsn_clean(r->diag, diag, sizeof diag));
	}
	db_add(b, "Last-Attempt-Date: %s\r\n", now);
}

static void dsn_report(struct dbuf *b, const struct dsn_info *in, const char *now)
{
	char arrival[64];

	dsn_date(in->arrival, arrival, sizeof arrival);
	db_add(b, "--%s/%s\r\nContent-Description: Delivery report\r\n", in->token, in->hostname);
	db_add(b, "Content-Type: message/%s\r\n\r\n",
	       in->utf8 ? "global-delivery-status" : "delivery-status");
	db_add(b, "Reporting-MTA: dns; %s\r\n", in->hostname);
	db_add(b, "X-Sealpost-Queue-ID: %s\r\n", in->id);
	db_add(b, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < in->n_rcpt; i++)
		dsn_rcpt_fields(b, in, &in->rcpt[i], now);
	db_add(b, "\r\n");
}

static void dsn_headers(struct dbuf *b, const struct dsn_info *in)
{
	size_t hl = in->orig ? dsn_header_len(in->orig, in->orig_len) : 0;

	db_add(b, "--%s/%s\r\nContent-Description: Undelivered Message Headers\r\n", in->token,
	       in->hostname);
	db_add(b, "Content-Type: %s\r\n\r\n",
	       in->utf8 ? "message/global-headers" : "text/rfc822-headers");
	if (!b->overflow && hl < b->cap - b->len) {
		memcpy(b->p + b->len, in->orig, hl);
		b->len += hl;
	} else {
		b->overflow = 1;
	}
	if (hl < 2 || in->orig[hl - 1] != '\n')
		db_add(b, "\r\n");
	db_add(b, "\r\n--%s/%s--\r\n", in->token, in->hostname);
}

int dsn_build(const struct dsn_info *in, char **out, size_t *out_len)
{
	char now[64];
	struct dbuf b = {0};

	if (!in->sender || !in->sender[0] || !in->hostname || !in->id || !in->token ||
	    in->n_rcpt == 0 || in->n_rcpt > 1000)
		return -1;
	b.cap = DSN_HEADERS_MAX + 8192 + in->n_rcpt * DSN_RCPT_COST;
	if ((b.p = malloc(b.cap)) == NULL)
		return -1;
	dsn_date(in->now, now, sizeof now);
	dsn_top(&b, in, now);
	dsn_text(&b, in);
	dsn_report(&b, in, now);
	dsn_headers(&b, in);
	if (b.overflow) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}
