/*
 * queue_dsn: delivery status notifications (RFC 3464; RFC 6533 for
 * SMTPUTF8 mail) for recipients that failed permanently, expired, or are
 * still being retried after delay-warning. Pure: builds the text; the
 * queue writes it as a new message from <> to the original sender.
 *
 * Security role: the original message is untrusted; only its header
 * section is quoted back (text/rfc822-headers), bounded, so a bounce never
 * carries an attacker's payload further than the headers.
 */
#ifndef SEALPOST_QUEUE_DSN_H
#define SEALPOST_QUEUE_DSN_H

#include <stddef.h>
#include <stdint.h>

#define DSN_HEADERS_MAX (64 * 1024) /* the original's headers quoted back, at most */
#define DSN_MAX		(DSN_HEADERS_MAX + 64 * 1024 + 2048 * 1000) /* the whole DSN */

enum dsn_action { DSN_FAILED, DSN_DELAYED };

struct dsn_rcpt {
	const char *addr;	/* the recipient as given in RCPT TO */
	const char *status;	/* enhanced status "5.1.1" / "4.4.7" */
	const char *remote_mta; /* "mx.example.org" or "" when none answered */
	const char *diag;	/* the remote reply ("550 5.1.1 ...") or our reason */
};

struct dsn_info {
	const char *hostname; /* reporting MTA (our hostname) */
	const char *id;	      /* queue id of the original */
	const char *sender;   /* the original envelope sender: the DSN goes there */
	int64_t arrival;      /* when the original was accepted (unix time) */
	int64_t now;
	enum dsn_action action;
	const struct dsn_rcpt *rcpt;
	size_t n_rcpt;
	const char *orig; /* the original message as queued (CRLF); its header section is quoted */
	size_t orig_len;
	int utf8;	   /* the original used SMTPUTF8: message/global-delivery-status */
	const char *token; /* random hex: MIME boundary and Message-ID */
};

/* Build the DSN (headers + multipart/report body, CRLF line ends, no
 * dot-stuffing) into a malloc'd *out of *out_len octets. 0, or -1 when an
 * input is invalid (an empty sender: never bounce to <>) or too large. */
int dsn_build(const struct dsn_info *in, char **out, size_t *out_len);

#endif
