/*
 * smtp_header: the header section of the message being received. It is
 * held back (bounded by smtp_header_cap()) until the empty line that ends
 * it, so that
 *   - Authentication-Results fields that claim our authserv-id are
 *     removed before anything reaches the queue file (RFC 8601 5: a
 *     forgery of our own verdicts);
 *   - the sender checks (smtp_check.c) see the whole header at once —
 *     DKIM signatures, From: — and can start their DNS questions while the
 *     body is still arriving.
 * The body then streams through to the queue file as before.
 *
 * Security role: the header is untrusted input; every field boundary is
 * found within the buffer's length, and a header too large to hold is
 * refused at the end of the message (552), never cut.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

#define SMTP_HEADER_CHUNK (8 * 1024) /* the buffer grows in steps of this */
#define AR_NAME		  "Authentication-Results"

void smtp_header_reset(struct smtp_session *s)
{
	free(s->mh.buf);
	memset(&s->mh, 0, sizeof s->mh);
}

size_t smtp_header_cap(void)
{
	size_t m = W.conf->limits.session_memory;

	/* limits session-memory lowers it: a connection then holds at most
	 * about twice that */
	return m >= SMTP_HEADER_MIN && m < SMTP_HEADER_MAX ? m : SMTP_HEADER_MAX;
}

/* Room for n more octets (up to the cap); returns how many fit. */
static size_t smtp_header_room(struct smtp_session *s, size_t n)
{
	struct smtp_header *h = &s->mh;
	size_t limit = smtp_header_cap();
	size_t want = h->len + n > limit ? limit : h->len + n;

	if (want > h->cap) {
		size_t cap = (want + SMTP_HEADER_CHUNK - 1) / SMTP_HEADER_CHUNK * SMTP_HEADER_CHUNK;
		char *nb = realloc(h->buf, cap);
		if (!nb)
			return 0;
		h->buf = nb;
		h->cap = cap;
	}
	return want - h->len;
}

/* Where the header ends in buf[0..len): the offset of the empty line, or -1. */
static long smtp_header_end(const char *buf, size_t len, size_t from)
{
	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		return 0; /* no header at all */
	from = from > 3 ? from - 3 : 0;
	const char *e = len > from ? memmem(buf + from, len - from, "\r\n\r\n", 4) : NULL;
	return e ? (long)(e - buf) + 2 : -1;
}

/* A host-name octet (what an authserv-id is made of). */
static int smtp_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/*
 * Fail closed: does the value v[0..n) read as claiming our id to anyone at
 * all? Comments are skipped however deep they nest, then anything that is
 * not a host-name octet (spaces, control octets, quotes, 8-bit), then the
 * first run of host-name octets is compared with ours, a trailing dot
 * ignored. So "(((...))) id", "\vid", "\"id\"", "id." and "id dmarc=pass"
 * are all ours, whatever a strict RFC 8601 parser would make of them.
 */
static int smtp_header_claims_id(const char *v, size_t n, const char *id)
{
	size_t i = 0, depth = 0, start, len;

	for (; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\\' && depth > 0 && i + 1 < n)
			i++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && smtp_id_char(c))
			break;
	}
	if (i >= n)
		return depth > 0; /* an unclosed comment: unreadable, so dropped */
	for (start = i; i < n && smtp_id_char((unsigned char)v[i]); i++)
		;
	len = i - start;
	while (len > 0 && v[start + len - 1] == '.')
		len--;
	return len > 0 && len == strlen(id) && strncasecmp(v + start, id, len) == 0;
}

/* 1 if the field f[0..n) is an Authentication-Results field with our id. */
static int smtp_header_forged(const char *f, size_t n)
{
	size_t nl = sizeof AR_NAME - 1;
	const char *id = conf_authserv_id(W.conf);

	if (n <= nl || strncasecmp(f, AR_NAME, nl) != 0)
		return 0;
	size_t i = nl;
	while (i < n && (f[i] == ' ' || f[i] == '\t'))
		i++;
	if (i >= n || f[i] != ':')
		return 0;
	return authres_is_ours(f + i + 1, n - i - 1, id) ||
	       smtp_header_claims_id(f + i + 1, n - i - 1, id);
}

/* The length of the field at f[0..n): up to a CRLF not followed by WSP. */
static size_t smtp_header_field_len(const char *f, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (f[i] == '\r' && f[i + 1] == '\n' &&
		    (i + 2 >= n || (f[i + 2] != ' ' && f[i + 2] != '\t')))
			return i + 2;
	return n;
}

/* Write the held header to the queue file without forged A-R fields. */
static void smtp_header_write(struct smtp_session *s)
{
	const char *p = s->mh.buf;
	size_t n = s->mh.hlen, keep = 0;

	for (size_t off = 0; off < n;) {
		size_t fl = smtp_header_field_len(p + off, n - off);
		if (smtp_header_forged(p + off, fl)) {
			smtp_write_q(s, p + keep, off - keep);
			keep = off + fl;
			s->mh.removed++;
		}
		off += fl;
	}
	smtp_write_q(s, p + keep, n - keep);
	if (s->mh.blank)
		smtp_write_q(s, "\r\n", 2);
	if (s->mh.removed)
		log_info("%s: %s: removed %u Authentication-Results field(s) claiming to be ours",
			 s->client, s->qid, s->mh.removed);
}

/* The header is complete: write it out and let the checks see it. */
static void smtp_header_done(struct smtp_session *s)
{
	s->mh.done = 1;
	if (s->mh.too_big)
		return;
	smtp_header_write(s);
	smtp_checks_header(s, s->mh.buf ? s->mh.buf : "", s->mh.hlen);
}

/* Take header octets from p[0..n); returns how many belong to the header
 * (and its empty line). */
static size_t smtp_header_take(struct smtp_session *s, const char *p, size_t n)
{
	struct smtp_header *h = &s->mh;
	size_t fit = smtp_header_room(s, n), old = h->len;

	if (fit > 0) { /* fit is 0 for an empty chunk: buf may still be NULL */
		memcpy(h->buf + h->len, p, fit);
		h->len += fit;
	}
	long end = smtp_header_end(h->buf, h->len, old);
	if (end >= 0) {
		h->hlen = (size_t)end;
		h->blank = 1;
		h->len = h->hlen;
		smtp_header_done(s);
		return (size_t)end + 2 - old;
	}
	if (fit < n || h->len >= smtp_header_cap()) {
		h->too_big = 1;
		smtp_header_done(s);
		return n;
	}
	return n;
}

void smtp_msg_feed(struct smtp_session *s, const char *p, size_t n)
{
	if (!s->mh.done) {
		size_t used = smtp_header_take(s, p, n);
		p += used;
		n -= used;
	}
	if (n == 0 || s->mh.too_big)
		return;
	smtp_write_q(s, p, n);
	smtp_checks_body(s, p, n);
}

void smtp_msg_feed_end(struct smtp_session *s)
{
	if (s->mh.done)
		return;
	s->mh.hlen = s->mh.len; /* a message that is all header, no empty line */
	smtp_header_done(s);
}
