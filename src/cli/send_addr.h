/*
 * send_addr: the pure parts of `sealpost send` (sendmail injection):
 * RFC 5322 address-list extraction (for -t and for command-line
 * recipients), header-block helpers, and the stdin normalizer that turns
 * whatever a local program writes into a message SMTP can carry.
 *
 * Security role: the input is whatever a local user or program pipes in,
 * so everything here is pure (no I/O, no allocation, no globals), bounded
 * by the lengths it is given, unit-tested and fuzzed
 * (fuzz/fuzz_send_addr.c). An extracted address never contains a control
 * character, '<' or '>' outside a quoted string, so it cannot forge an SMTP
 * command line of its own.
 */
#ifndef SEALPOST_SEND_ADDR_H
#define SEALPOST_SEND_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp_parse.h"

#define SEND_ADDR_MAX SMTP_ADDR_MAX /* one address: text + NUL */
#define SEND_LINE_MAX 998	    /* RFC 5322 2.1.1: octets per line without CRLF */

/* ---- address lists ---------------------------------------------------- */

/* A caller-owned array of addresses; the functions below append to it. */
struct send_rcpts {
	char (*addr)[SEND_ADDR_MAX];
	size_t n;   /* addresses stored */
	size_t cap; /* capacity of addr */
};

/*
 * Append addr (NUL-terminated) to out unless an identical address is
 * already there. Returns 0, or -1 when out is full.
 */
int send_rcpts_add(struct send_rcpts *out, const char *addr);

/*
 * Extract the addr-specs of an RFC 5322 address-list in s[0..n) and append
 * them to out (duplicates skipped). Understands display names, quoted
 * strings (which may hold ',', '<', '>'), nested comments, groups
 * "name: a@b, c@d;", angle addresses (an obsolete route "<@x,@y:a@b>" is
 * dropped), obsolete CFWS around '.' and '@', empty list elements, and
 * folded lines (CR, LF, SP and HT are all white space). A quoted local part
 * is kept quoted. An address without '@' is returned as is (the caller
 * qualifies it).
 * Returns 0, or -1 with a static reason in *why (syntax error, address too
 * long, too many addresses); on -1, out->n is unchanged.
 */
int send_addr_list(const char *s, size_t n, struct send_rcpts *out, const char **why);

/* ---- header block ----------------------------------------------------- */

/*
 * The header block of a CRLF-normalized message msg[0..n): the run of
 * header fields ("Name: value" lines, optionally followed by continuation
 * lines starting with SP or HT) at the start. Returns its length in octets
 * (each field's CRLF included). *body_off is where the body starts: after
 * the empty line that ends the block when there is one (*has_sep = 1),
 * else right after the block (*has_sep = 0: the body starts with a line
 * that is not a header field, or the message ends). A message whose first
 * line is not a header field has a header block of length 0.
 */
size_t send_hdr_len(const char *msg, size_t n, size_t *body_off, int *has_sep);

#define SEND_HDR_FROM  0x1
#define SEND_HDR_DATE  0x2
#define SEND_HDR_MSGID 0x4

/* Which of From:, Date:, Message-ID: hdr[0..n) has (SEND_HDR_* bits). */
unsigned send_hdr_present(const char *hdr, size_t n);

/*
 * Append the addresses of every To:, Cc: and Bcc: field (field names
 * case-insensitive, continuation lines included) of hdr[0..n) to out.
 * Returns 0, or -1 with *why as for send_addr_list.
 */
int send_hdr_rcpts(const char *hdr, size_t n, struct send_rcpts *out, const char **why);

/* The same for the fields named in fields[0..nf) (e.g. "From"); the SMTP
 * worker uses it to check an authenticated user's From: header. */
int send_hdr_addrs(const char *hdr, size_t n, const char *const *fields, size_t nf,
		   struct send_rcpts *out, const char **why);

/*
 * Remove every Bcc: field (with its continuation lines) from hdr[0..n) in
 * place. Returns the new length.
 */
size_t send_hdr_strip_bcc(char *hdr, size_t n);

/* ---- stdin normalizer ------------------------------------------------- */

#define SEND_NORM_8BIT	0x1 /* an octet >= 0x80 */
#define SEND_NORM_NUL	0x2 /* a NUL octet (SMTP cannot carry it) */
#define SEND_NORM_SPLIT 0x4 /* a line over SEND_LINE_MAX octets was split */

struct send_norm {
	int ignore_dots;  /* -i: a line "." is ordinary text */
	int done;	  /* 1 once a line "." ended the input */
	unsigned flags;	  /* SEND_NORM_* seen so far */
	uint64_t out_len; /* octets emitted so far */
	int cr;		  /* private: a CR waits for its next octet */
	int dot;	  /* private: the line so far is a single held "." */
	size_t col;	  /* private: octets in the current output line */
};

/* Worst-case output octets per input octet (plus what _finish emits). */
#define SEND_NORM_EXPAND 6

void send_norm_init(struct send_norm *st, int ignore_dots);

/*
 * Normalize in[0..n) into out[0..cap): LF, CRLF and a lone CR all become
 * CRLF; a line longer than SEND_LINE_MAX octets gets a CRLF inserted after
 * each SEND_LINE_MAX octets; unless ignore_dots, a line that is exactly
 * "." ends the input (it is not emitted; st->done = 1). Works the same for
 * any split of the input. Returns the input octets consumed: all of them
 * unless out filled up (each octet is consumed only when cap leaves room
 * for SEND_NORM_EXPAND output octets) or the input ended; *out_len gets
 * the octets written.
 */
size_t send_norm_feed(struct send_norm *st, const char *in, size_t n, char *out, size_t cap,
		      size_t *out_len);

/*
 * End of input: flush a held CR or "." and end a final line that lacks
 * its line end. Writes at most SEND_NORM_EXPAND octets to out (cap must
 * allow that) and returns the number written.
 */
size_t send_norm_finish(struct send_norm *st, char *out, size_t cap);

#endif
