/*
 * authres: the Authentication-Results header field (RFC 8601) — writing
 * ours and recognising forged ones that claim our authserv-id.
 */
#ifndef SEALPOST_AUTHRES_H
#define SEALPOST_AUTHRES_H

#include <stddef.h>

#include "auth/dkim.h"
#include "auth/dmarc.h"
#include "auth/spf.h"

#define AUTHRES_MAX 4096 /* the whole field we write, folded, with CRLF */

struct authres_input {
	const char *authserv_id; /* our host name */
	/* SPF: result of the MAIL FROM identity (or HELO when MAIL FROM was <>) */
	int have_spf;
	enum spf_result spf;
	const char *spf_mailfrom; /* smtp.mailfrom value ("" or NULL: use helo) */
	const char *spf_helo;	  /* smtp.helo value */
	/* DKIM: one entry per signature (none: "dkim=none") */
	const struct dkim_sig_result *dkim;
	size_t n_dkim;
	/* DMARC */
	int have_dmarc;
	enum dmarc_result dmarc;
	enum dmarc_policy dmarc_policy; /* policy.dmarc= comment */
	const char *dmarc_from;		/* header.from */
	/* SMTP AUTH (submission): the authenticated user, or NULL */
	const char *auth_user;
};

/* Write "Authentication-Results: id;\r\n\tspf=pass smtp.mailfrom=...;\r\n\tdkim=..."
 * one method per line in the order auth, spf, dkim (each signature, or
 * "dkim=none"), dmarc; folded at 78 columns, CRLF after every line, values
 * quoted where RFC 8601 needs it and control octets never copied (non-ASCII
 * octets become '?'). A value longer than 400 octets is left out (its
 * property omitted). DKIM results other than pass carry their reason as a
 * comment, dmarc pass/fail "(p=<policy>)". Returns the length, or -1 if it
 * does not fit cap or authserv_id is empty. */
int authres_build(const struct authres_input *in, char *out, size_t cap);

/* value/len is the body of one Authentication-Results field (after the
 * colon, folded lines included). 1 if its authserv-id (comments and
 * whitespace skipped, case-insensitive) is authserv_id, followed by an
 * optional version and then ';' or the end; 0 otherwise (including
 * unparseable values: unclosed comments or strings, comments nested deeper
 * than 32). */
int authres_is_ours(const char *value, size_t len, const char *authserv_id);

#endif
