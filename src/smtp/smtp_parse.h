/*
 * smtp_parse: pure parsers for everything an SMTP client sends us.
 *
 * Security role: this is the first code that touches untrusted bytes. Every
 * function here is pure (no I/O, no allocation, no globals), bounded by the
 * lengths it is given, and has a libFuzzer target in fuzz/. Nothing here
 * silently truncates: over-long input is reported as an error.
 */
#ifndef SEALPOST_SMTP_PARSE_H
#define SEALPOST_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5321 section 4.5.3.1 limits, counted with the CRLF. */
#define SMTP_CMD_LINE_MAX  512
#define SMTP_TEXT_LINE_MAX 1000
#define SMTP_LOCAL_MAX	   64
#define SMTP_DOMAIN_MAX	   255
#define SMTP_PATH_MAX	   256		       /* "<" local "@" domain ">" */
#define SMTP_ADDR_MAX	   (SMTP_PATH_MAX + 1) /* text + NUL */

/* ---- line reader ------------------------------------------------------ */

enum smtp_line_status {
	SMTP_LINE_MORE = 0, /* no CRLF yet and under the limit: read more */
	SMTP_LINE_OK,	    /* a complete line ending in CRLF */
	SMTP_LINE_TOOLONG,  /* no CRLF within max bytes (see consumed) */
};

#define SMTP_LINE_BARE_CR 0x1 /* a CR not followed by LF inside the line */
#define SMTP_LINE_BARE_LF 0x2 /* a LF not preceded by CR inside the line */
#define SMTP_LINE_NUL	  0x4 /* a NUL octet inside the line */

struct smtp_line {
	size_t len;	 /* length of the line without the final CRLF */
	size_t consumed; /* bytes of input this result accounts for */
	unsigned flags;	 /* SMTP_LINE_* */
};

/*
 * Find the next line in buf[0..n). Only CRLF ends a line. max counts the
 * CRLF (use SMTP_CMD_LINE_MAX or SMTP_TEXT_LINE_MAX).
 * - SMTP_LINE_OK: out->len, out->consumed (= len + 2), out->flags set.
 * - SMTP_LINE_MORE: nothing consumed; caller waits for more bytes.
 *   (Returned only while n < max.)
 * - SMTP_LINE_TOOLONG: out->consumed = the bytes that may be discarded now
 *   (the first max octets, except a final CR that might start a CRLF; never
 *   past a CRLF). The caller keeps discarding with smtp_line_skip() until a
 *   CRLF is found.
 * A CR as the last octet of buf is undecided (it may start a CRLF): it is
 * neither a line end nor flagged as bare CR until the next octet is seen.
 * max < 2 is treated as 2.
 */
enum smtp_line_status smtp_line_next(const char *buf, size_t n, size_t max, struct smtp_line *out);

/*
 * While discarding the rest of an over-long line: returns the number of
 * bytes to drop from buf[0..n); *done = 1 when the CRLF that ends the long
 * line was included in that count.
 */
size_t smtp_line_skip(const char *buf, size_t n, int *done);

/* ---- commands --------------------------------------------------------- */

enum smtp_verb {
	SMTP_V_UNKNOWN = 0,
	SMTP_V_HELO,
	SMTP_V_EHLO,
	SMTP_V_MAIL,
	SMTP_V_RCPT,
	SMTP_V_DATA,
	SMTP_V_BDAT,
	SMTP_V_RSET,
	SMTP_V_NOOP,
	SMTP_V_QUIT,
	SMTP_V_VRFY,
	SMTP_V_EXPN,
	SMTP_V_HELP,
	SMTP_V_STARTTLS,
	SMTP_V_AUTH,
	SMTP_V_COUNT
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg; /* points into the line: text after the verb and one SP */
	size_t arg_len;	 /* 0 when there is no argument */
};

/*
 * Split a command line (without CRLF) into verb and argument. The verb is
 * case-insensitive. "MAIL FROM:" and "RCPT TO:" are recognised as verbs
 * MAIL/RCPT with arg pointing after the colon (RFC 5321 says no space after
 * the colon; we accept spaces there, as most servers do, but nothing else).
 * Returns 0, or -1 when the line is not "VERB" or "VERB SP args" (e.g. a
 * MAIL line without "FROM:"), with out->verb still set when the verb was
 * recognised.
 * Details: the verb is the leading run of letters; an unknown verb gives -1
 * with SMTP_V_UNKNOWN (reply 500), a known verb with bad syntax gives -1
 * with the verb set (reply 501). Exactly one SP separates verb and args;
 * "VERB SP" with nothing after it, two SPs, TAB or any other separator is
 * -1. Args are not checked against the verb (e.g. "DATA x" returns 0 with
 * arg "x"; the session decides). out->arg is NULL when arg_len is 0.
 */
int smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *out);

/* ---- addresses -------------------------------------------------------- */

enum smtp_addr_err {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_SYNTAX,  /* not a valid RFC 5321 Path / Mailbox */
	SMTP_ADDR_TOOLONG, /* local part > 64, domain > 255 or path > 256 */
	SMTP_ADDR_ROUTE,   /* source route "@a,@b:" (obsolete, refused) */
	SMTP_ADDR_UTF8,	   /* non-ASCII without SMTPUTF8 */
	SMTP_ADDR_NULL,	   /* "<>" where a null path is not allowed */
};

struct smtp_addr {
	char text[SMTP_ADDR_MAX]; /* "local@domain" (domain lowercased), "" for <> */
	size_t local_len;	  /* bytes of the local part in text (quotes kept) */
	int is_null;		  /* 1 for the null reverse-path <> */
	int quoted;		  /* local part was a quoted-string */
	int domain_literal;	  /* domain is an address literal [..] */
	int utf8;		  /* contains non-ASCII (SMTPUTF8) octets */
};

#define SMTP_ADDR_ALLOW_NULL 0x1 /* MAIL FROM:<> */
#define SMTP_ADDR_ALLOW_UTF8 0x2 /* SMTPUTF8 given on MAIL */
#define SMTP_ADDR_POSTMASTER 0x4 /* RCPT TO:<Postmaster> without domain */

/*
 * Parse an RFC 5321 Path "<...>" at the start of s[0..n). *end is set to the
 * offset just after ">". The local part keeps its case; the domain is
 * lowercased. A quoted local part is kept in its quoted form in text.
 * UTF-8 is accepted (and validated as well-formed UTF-8) only with
 * SMTP_ADDR_ALLOW_UTF8.
 * *end is set on SMTP_ADDR_OK and SMTP_ADDR_NULL, else 0. out is always
 * zeroed first. Quoted local parts follow RFC 5321 qtextSMTP (which allows
 * SP) and quoted-pairSMTP. Address literals are IPv4 or "IPv6:" (checked
 * with inet_pton); general address literals are refused. Well-formed UTF-8
 * excludes overlongs, surrogates, > U+10FFFF and C1 controls. Labels longer
 * than 63 octets are SMTP_ADDR_SYNTAX; note that the 256-octet path limit
 * caps a domain at 252 octets in practice.
 */
enum smtp_addr_err smtp_addr_parse(const char *s, size_t n, unsigned flags, struct smtp_addr *out,
				   size_t *end);

/* ---- MAIL/RCPT parameters (RFC 5321 esmtp-param) ---------------------- */

#define SMTP_MAX_PARAMS 8

struct smtp_param {
	const char *key; /* points into the input; not NUL-terminated */
	size_t key_len;
	const char *val; /* NULL when the parameter has no "=value" */
	size_t val_len;
};

struct smtp_params {
	struct smtp_param p[SMTP_MAX_PARAMS];
	size_t n;
};

/*
 * Parse " KEY[=VALUE] KEY[=VALUE]..." (after the path) into out. Returns 0,
 * or -1 on syntax error or more than SMTP_MAX_PARAMS parameters. Keys are
 * esmtp-keyword, values esmtp-value (printable ASCII except '=' and SP;
 * UTF-8 allowed when utf8 != 0). The input must be empty or start with SP;
 * parameters are separated by one or more SP, trailing SPs are accepted.
 * Pointers in out point into s. Duplicate keys are not rejected here.
 */
int smtp_params_parse(const char *s, size_t n, int utf8, struct smtp_params *out);

/* Case-insensitive key lookup; returns NULL when absent. */
const struct smtp_param *smtp_params_find(const struct smtp_params *ps, const char *key);

/* ---- DATA body -------------------------------------------------------- */

/*
 * DATA body scanner: fed the raw bytes after "354", it finds the end of data
 * (CRLF "." CRLF and nothing else), undoes dot-stuffing and flags bare CR,
 * bare LF and over-long lines. It is a streaming state machine: feed any
 * split of the input and the result is the same.
 */
#define SMTP_BODY_BARE_CRLF 0x1 /* bare CR or LF seen: message must be refused */
#define SMTP_BODY_LONGLINE  0x2 /* a text line over SMTP_TEXT_LINE_MAX */
#define SMTP_BODY_NUL	    0x4 /* a NUL octet */
#define SMTP_BODY_8BIT	    0x8 /* an octet >= 0x80 */

struct smtp_body {
	int state;	  /* private */
	size_t line_len;  /* private: octets in the current line so far */
	unsigned flags;	  /* SMTP_BODY_* seen so far */
	uint64_t out_len; /* octets emitted so far */
	int done;	  /* 1 once the terminating CRLF.CRLF was consumed */
	int dot_mode;	  /* 1 for DATA (dot-stuffing, end marker); 0 for BDAT */
};

void smtp_body_init(struct smtp_body *b, int dot_mode);

/*
 * Consume in[0..n). Message octets (unstuffed, with CRLF line ends as sent,
 * without the final ".\r\n") are written to out (capacity out_cap >= n is
 * always enough). Returns the number of input octets consumed: fewer than n
 * only when the end of data was reached (b->done = 1); the rest belongs to
 * the next command. *out_len receives the octets written to out.
 * In BDAT mode (dot_mode 0) no unstuffing or end detection happens; the
 * scanner only tracks flags, and smtp_body_finish() must be called after the
 * LAST chunk.
 *
 * Exact rules (DATA mode): the input starts at the start of a line; only CRLF
 * ends a line; bare CR / bare LF never end a line or the data. A line that
 * starts with "." loses that dot. If the dot is followed by a bare CR (".\r"
 * then not LF), that CR is dropped too: it is held back because ".\r" may
 * be the end marker, and dropping it keeps output <= input in every call
 * (the message is flagged BARE_CRLF and must be refused anyway). Every
 * other octet, CR included, is emitted as soon as it is consumed; the
 * bare-CR decision waits for the next octet. Each input octet yields at most
 * one output octet. Line length counts octets as sent (before unstuffing,
 * with the CRLF). If out_cap < n (a caller bug) only out_cap octets are
 * consumed. Once done, feed consumes nothing.
 */
size_t smtp_body_feed(struct smtp_body *b, const char *in, size_t n, char *out, size_t out_cap,
		      size_t *out_len);

/*
 * End of a BDAT message: flags a final line that does not end in CRLF?
 * No: RFC 3030 allows that, and we then append CRLF (returned as 1 so the
 * caller adds "\r\n"); a trailing lone CR is flagged as bare CR.
 * Returns 1 when the caller must append CRLF, else 0 (always 0 in DATA
 * mode and for an empty message). A final line that becomes longer than
 * SMTP_TEXT_LINE_MAX with the appended CRLF is flagged LONGLINE.
 */
int smtp_body_finish(struct smtp_body *b);

#endif
