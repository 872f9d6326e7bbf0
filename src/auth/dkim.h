/*
 * dkim: DomainKeys Identified Mail (RFC 6376, RFC 8463, RFC 8301) —
 * verifying every signature on a message and signing outbound mail.
 *
 * Verification is split so that no DNS or I/O happens in here:
 *   v = dkim_verify_new(header, len, now)   parse the DKIM-Signature fields
 *   for each i < dkim_verify_count(v): ask TXT for dkim_verify_key_name(v, i)
 *     (NULL: nothing to ask, its result is already known) and hand the
 *     answer to dkim_verify_key(v, i, result)
 *   dkim_verify_body(v, p, n) ... as the body streams, then
 *   dkim_verify_body_end(v)
 *   dkim_verify_result(v, i, &res) once body_end ran and every key arrived
 *   dkim_verify_free(v)
 * Keys and body may come in either order. The header and body are the
 * message as received (CRLF line ends, not dot-stuffed); the header is the
 * header section without the empty line that ends it.
 *
 * Algorithms: rsa-sha256 (keys of 1024 bits or more), ed25519-sha256;
 * rsa-sha1 is verified but reported as policy (not trusted, RFC 8301).
 * At most DKIM_SIG_MAX signatures are evaluated; further ones are reported
 * as policy ("too many signatures").
 */
#ifndef SEALPOST_DKIM_H
#define SEALPOST_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "lookup/dns.h"

#define DKIM_SIG_MAX	 8
#define DKIM_DOMAIN_MAX	 DNS_NAME_MAX
#define DKIM_SEL_MAX	 64
#define DKIM_HEADER_MAX	 (256 * 1024) /* header section verified/signed */
#define DKIM_SIG_HDR_MAX 4096	      /* one DKIM-Signature field we write */

enum dkim_result {
	DKIM_NONE = 0, /* no signature */
	DKIM_PASS,
	DKIM_FAIL,	/* signature or body hash does not verify */
	DKIM_NEUTRAL,	/* signature could not be parsed or is not usable */
	DKIM_POLICY,	/* verified but not acceptable (rsa-sha1, short key, ...) */
	DKIM_TEMPERROR, /* key lookup failed for now */
	DKIM_PERMERROR, /* key record missing, revoked or unusable */
};

/* "none", "pass", "fail", "neutral", "policy", "temperror", "permerror" */
const char *dkim_result_name(enum dkim_result r);

struct dkim_sig_result {
	enum dkim_result result;
	char domain[DKIM_DOMAIN_MAX];	 /* d= ("" if unreadable) */
	char selector[DKIM_SEL_MAX];	 /* s= */
	char auid[DKIM_DOMAIN_MAX + 65]; /* i= (or "@" d= when absent) */
	char algo[24];			 /* a= as written */
	char b8[9];			 /* first 8 characters of b= (RFC 6008) */
	int testing;			 /* key has t=y */
	char reason[128];		 /* why, for logs and A-R comments */
};

struct dkim_verify;

/* Parse the header section; NULL only when out of memory. now is the
 * current time (x= checks). */
struct dkim_verify *dkim_verify_new(const char *hdr, size_t len, int64_t now);
size_t dkim_verify_count(const struct dkim_verify *v);
/* "selector._domainkey.domain" to ask TXT for, or NULL. */
const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i);
/* The TXT answer for signature i (rdata in wire form, as dns.h gives it). */
void dkim_verify_key(struct dkim_verify *v, size_t i, const struct dns_result *r);
void dkim_verify_body(struct dkim_verify *v, const char *p, size_t n);
void dkim_verify_body_end(struct dkim_verify *v);
/* Asked before body_end ran and the key arrived: temperror "verification
 * not finished". Choices where the RFCs leave room are listed at the top
 * of dkim_verify.c (x= passed: neutral; DNSSEC bogus: temperror; several
 * key records: permerror; body shorter than l=: fail). */
void dkim_verify_result(const struct dkim_verify *v, size_t i, struct dkim_sig_result *out);
void dkim_verify_free(struct dkim_verify *v);

/* ---- signing ------------------------------------------------------------ */

struct dkim_key; /* a private key: RSA (2048 bits or more) or Ed25519 */

/* Load a PEM private key (PKCS#8 or traditional). NULL with a reason. */
struct dkim_key *dkim_key_load_pem(const char *pem, size_t len, char *err, size_t cap);
void dkim_key_free(struct dkim_key *k);
/* "rsa-sha256" or "ed25519-sha256" */
const char *dkim_key_algo(const struct dkim_key *k);
/* The TXT record that publishes k's public key, "v=DKIM1; k=rsa; p=..."
 * (k=ed25519: p= the raw 32-octet key, RFC 8463), unsplit. 0 or -1. */
int dkim_key_record(const struct dkim_key *k, char *out, size_t cap);

/*
 * Sign msg (a whole message: header section, empty line, body; CRLF) for
 * domain/selector with relaxed/relaxed, signing From, To, Subject and Date
 * once more than they occur (over-signing) plus the other usual fields
 * present (Cc, Reply-To, Message-ID, In-Reply-To, References, MIME-Version,
 * Content-Type, Content-Transfer-Encoding, List-*), t= now. Writes one
 * complete folded "DKIM-Signature: ...\r\n" field into out. Returns its
 * length, or -1 (with nothing useful in out) when it does not fit or
 * signing failed.
 */
int dkim_sign(const struct dkim_key *k, const char *domain, const char *selector, const char *msg,
	      size_t len, int64_t now, char *out, size_t cap);

#endif
