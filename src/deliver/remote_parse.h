/*
 * remote_parse: the pure parsers of the remote SMTP client. SMTP replies
 * (multi-line, code consistency, enhanced status codes), EHLO keywords,
 * and the dot-stuffing of the message body. No I/O, no allocation.
 *
 * Security role: everything here reads bytes a remote server (possibly
 * hostile) sent, or writes the body we send. Every line and reply is
 * bounded, malformed replies are refused (the connection is dropped), and
 * the reply text that reaches logs and bounces is sanitized. Fuzzed by
 * fuzz/fuzz_remote_parse.c.
 */
#ifndef SEALPOST_REMOTE_PARSE_H
#define SEALPOST_REMOTE_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define RP_LINE_MAX  1000 /* a reply line, CRLF excluded (RFC 5321 4.5.3.1.5: 512) */
#define RP_LINES_MAX 64	  /* lines in one multi-line reply */
#define RP_TEXT_MAX  256  /* reply text kept (first line, sanitized) */
#define RP_ENH_MAX   16	  /* "5.123.123" + NUL */

enum rp_status {
	RP_MORE = 0, /* a continuation line: feed the next one */
	RP_DONE,     /* the last line: the reply is complete */
	RP_BAD,	     /* malformed: drop the connection */
};

struct rp_reply {
	int code;		/* 200..599 */
	size_t n_lines;		/* lines seen so far */
	char enh[RP_ENH_MAX];	/* enhanced status of the first line, "" if none */
	char text[RP_TEXT_MAX]; /* the first line's text after code and status */
};

/* Start a new reply. */
void rp_reply_init(struct rp_reply *r);

/*
 * Feed one reply line (CRLF stripped). A line is "DDD" "DDD-text" or
 * "DDD text" with the first digit 2..5; all lines of one reply carry the
 * same code. The enhanced status (RFC 3463) is taken from the first line
 * when its class matches the code's first digit.
 */
enum rp_status rp_reply_feed(struct rp_reply *r, const char *line, size_t len);

/*
 * The text of a reply line after "DDD-" / "DDD " (for EHLO keywords):
 * *text and *text_len; -1 when the line is shorter than 4 octets.
 */
int rp_line_text(const char *line, size_t len, const char **text, size_t *text_len);

/* "250 2.0.0 text" into out[cap] (the reply as logs and bounces show it). */
int rp_reply_str(const struct rp_reply *r, char *out, size_t cap);

/* EHLO extensions we use. */
#define RP_EXT_PIPELINING 0x01
#define RP_EXT_SIZE	  0x02
#define RP_EXT_8BITMIME	  0x04
#define RP_EXT_SMTPUTF8	  0x08
#define RP_EXT_STARTTLS	  0x10
#define RP_EXT_AUTH_PLAIN 0x20
#define RP_EXT_ENHANCED	  0x40

/*
 * One EHLO keyword line's text (after "250-"): returns the RP_EXT_* flag it
 * names (0 for an unknown one). "SIZE n" sets *size (0 = no limit given);
 * a SIZE with a malformed number gives RP_EXT_SIZE with *size 0.
 */
unsigned rp_ehlo_keyword(const char *text, size_t len, uint64_t *size);

/*
 * Find one line end in buf[0..n): CRLF, or a bare LF (servers are allowed
 * some slack; the line is then cut at the LF). Returns the line length
 * (CR/LF excluded) and sets *used to the bytes to drain; -1 when no line
 * end is there yet, -2 when more than max octets came without one.
 */
long rp_line_find(const char *buf, size_t n, size_t max, size_t *used);

/*
 * Dot-stuffing (RFC 5321 4.5.2) of a stream: copies in[0..n) to out[cap],
 * doubling a "." at the start of a line. *bol tracks "at the start of a
 * line" (after an LF) across calls (start with 1). Returns the bytes of in consumed (stops when out
 * is full; cap >= 2 always makes progress); *out_len the bytes written.
 */
size_t rp_dot_stuff(const char *in, size_t n, int *bol, char *out, size_t cap, size_t *out_len);

/* The end of data to send after a body: "\r\n.\r\n" when the body did not
 * end with CRLF (ends_crlf 0), else ".\r\n". */
const char *rp_data_end(int ends_crlf);

/*
 * Received: header fields in the header section of msg[0..len) (up to
 * the first empty line; at most max_scan octets looked at): the hop count
 * that breaks mail loops (RFC 5321 6.3).
 */
size_t rp_count_received(const char *msg, size_t len, size_t max_scan);

/* Does the body end with CRLF (an empty body counts as yes)? */
int rp_ends_crlf(const char *body, size_t n);

#endif
