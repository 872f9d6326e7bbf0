/*
 * remote_sign: DKIM signing of outbound mail (RFC 6376, RFC 8463) at the
 * signing seam. Every message the remote process sends passes
 * remote_sign_headers() once per delivery attempt, just before its body
 * goes out; the DKIM-Signature fields it returns are sent in front of the
 * message. A message is signed with every `dkim sign DOMAIN ...` key whose
 * DOMAIN is the From: domain or a parent of it (relaxed DMARC alignment);
 * two keys for one domain (RSA and Ed25519) give two signatures.
 *
 * Keys are read by remote_sign_init before the process drops privileges
 * (the files are root's); the text is wiped after parsing.
 *
 * Security role: what is returned is sent verbatim ahead of the message
 * (dot-stuffing does not apply to it): dkim_sign writes well-formed folded
 * header fields ending in CRLF, none starting with ".".
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/addr_domain.h"
#include "auth/dkim.h"
#include "auth/dkim_keyfile.h"
#include "cli/send_addr.h"
#include "deliver/remote_int.h"
#include "util/log.h"
#include "util/str.h"

#define SIGN_FROM_MAX 4

static struct dkim_key *sign_keys[CONF_MAX_DKIM_SIGN];
static const struct conf_mailauth *sign_conf;
static const char *sign_path; /* the config file, for messages */

/* Read and parse a key; fatal when it cannot be used. */
static struct dkim_key *remote_sign_load(const struct conf_dkim_sign *d)
{
	char err[256];
	struct dkim_key *k = dkim_key_read_file(d->key, err, sizeof err);

	if (!k)
		fatal("%s:%d: dkim key %s: %s", sign_path, d->line, d->key, err);
	return k;
}

void remote_sign_init(const struct conf *c)
{
	sign_conf = &c->mailauth;
	sign_path = c->path;
	for (size_t i = 0; i < c->mailauth.n_sign; i++) {
		sign_keys[i] = remote_sign_load(&c->mailauth.sign[i]);
		log_info("DKIM signing for %s with selector %s (%s)", c->mailauth.sign[i].domain,
			 c->mailauth.sign[i].selector, dkim_key_algo(sign_keys[i]));
	}
}

/* The From: domain of the message: exactly one address, read as the
 * inbound checks read it (addr_domain). 0 or -1 (not signed). */
static int remote_sign_from(const char *msg, size_t len, char *out, size_t cap)
{
	static const char *const fields[] = {"From"};
	char addr[SIGN_FROM_MAX][SEND_ADDR_MAX];
	struct send_rcpts from = {addr, 0, SIGN_FROM_MAX};
	const char *why;
	size_t hlen, body_off;
	int sep;

	hlen = send_hdr_len(msg, len, &body_off, &sep);
	if (send_hdr_addrs(msg, hlen, fields, 1, &from, &why) < 0 || from.n != 1)
		return -1;
	return addr_domain(addr[0], out, cap);
}

/* domain is d or a subdomain of d. */
static int remote_sign_match(const char *domain, const char *d)
{
	size_t n = strlen(domain), m = strlen(d);

	return strcmp(domain, d) == 0 ||
	       (n > m && domain[n - m - 1] == '.' && strcmp(domain + n - m, d) == 0);
}

int remote_sign_headers(const struct qenv *e, const char *msg, size_t len, char *out, size_t cap)
{
	char domain[SEND_ADDR_MAX];
	size_t o = 0;
	int64_t now = (int64_t)time(NULL);

	(void)e;
	if (cap > 0)
		out[0] = '\0';
	if (!sign_conf || sign_conf->n_sign == 0 ||
	    remote_sign_from(msg, len, domain, sizeof domain) < 0)
		return 0;
	for (size_t i = 0; i < sign_conf->n_sign; i++) {
		const struct conf_dkim_sign *d = &sign_conf->sign[i];
		if (!remote_sign_match(domain, d->domain))
			continue;
		int n = dkim_sign(sign_keys[i], d->domain, d->selector, msg, len, now, out + o,
				  cap - o);
		if (n < 0) { /* would fail on every retry too: send without this signature */
			log_error("%s: DKIM signing for %s (selector %s) failed; sent without it",
				  e->id, d->domain, d->selector);
			continue;
		}
		o += (size_t)n;
	}
	return (int)o;
}
