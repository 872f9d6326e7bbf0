/*
 * dkim_int: the pieces shared by the DKIM sources (src/auth/dkim_*.c): the
 * tag-list parser and strict base64 decoder (dkim_tag.c), header and body
 * canonicalization (dkim_canon.c), the signature field parser
 * (dkim_sig.c) and key records and keys (dkim_key.c). Not for use outside
 * src/auth/dkim_*.c, src/cli/dkim.c, the unit tests and the fuzz target.
 *
 * Security role: every parser here reads untrusted bytes (a message's
 * header, a DNS answer) and is a pure function with a fuzz target.
 */
#ifndef SEALPOST_DKIM_INT_H
#define SEALPOST_DKIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "auth/dkim.h"

#define DKIM_TAG_MAX	   32		      /* tags in one tag list */
#define DKIM_H_MAX	   64		      /* names in one h= */
#define DKIM_SIGBYTES_MAX  1024		      /* b= decoded (8192-bit RSA) */
#define DKIM_KEYBYTES_MAX  2048		      /* p= decoded */
#define DKIM_TXT_MAX	   4096		      /* one key record, strings joined */
#define DKIM_CANON_BUF	   2048		      /* canonicalizer output buffer */
#define DKIM_SIG_LIST_MAX  (DKIM_SIG_MAX + 8) /* signatures listed at all */
#define DKIM_FUTURE_SLOP   36000	      /* t= up to 10 h ahead of now is fine */
#define DKIM_RSA_MIN_BITS  1024		      /* verifying: shorter RSA keys are policy */
#define DKIM_RSA_SIGN_BITS 2048		      /* signing: shorter RSA keys are refused */
#define DKIM_FOLD_COL	   78		      /* fold our DKIM-Signature before this */

/* ---- tag lists and base64 (dkim_tag.c) ---------------------------------- */

struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *after_eq; /* first octet after '=' (before any FWS) */
	const char *val;      /* the value, FWS around it trimmed */
	size_t val_len;
};

/* RFC 6376 3.2 tag-list: duplicate tags, bad names, octets outside
 * VALCHAR and empty tag-specs (other than after the last ';') are errors.
 * 0, or -1 with *why. */
int dkim_tags_parse(const char *s, size_t n, struct dkim_tag *t, size_t max, size_t *count,
		    const char **why);
const struct dkim_tag *dkim_tag_find(const struct dkim_tag *t, size_t n, const char *name);
/* Strict base64 (padding required, nothing after it), skipping FWS
 * (SP, TAB, CR, LF) anywhere. 0, or -1 (bad or does not fit in cap). */
int dkim_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len);
/* Base64 of in[0..n) into out[cap] with a NUL; 0 or -1. */
int dkim_b64_encode(const unsigned char *in, size_t n, char *out, size_t cap);
/* ASCII letters, digits, '-', '_' in dot-separated labels of 1..63. */
int dkim_name_ok(const char *s, size_t n);

/* ---- canonicalization (dkim_canon.c) ------------------------------------ */

typedef void (*dkim_sink)(void *arg, const char *p, size_t n);

struct dkim_out {
	dkim_sink sink;
	void *arg;
	size_t n;
	char buf[DKIM_CANON_BUF];
};

void dkim_out_init(struct dkim_out *o, dkim_sink sink, void *arg);
void dkim_out_flush(struct dkim_out *o);

/* One header field p[0..len) (its own trailing CRLF, if any, ignored),
 * canonicalized simple or relaxed, followed by CRLF when crlf. */
void dkim_canon_header(struct dkim_out *o, const char *p, size_t len, int relaxed, int crlf);

/* Incremental body canonicalizer (RFC 6376 3.4.3, 3.4.4): bytes may come
 * in any chunks; the output is the same. */
struct dkim_body {
	struct dkim_out o;
	int relaxed;
	int cr;	       /* a CR was the last byte, not yet known to start CRLF */
	int wsp;       /* relaxed: whitespace seen, not yet written */
	int any;       /* some line content was written */
	uint64_t crlf; /* line ends seen, not yet written */
};

void dkim_body_init(struct dkim_body *b, int relaxed, dkim_sink sink, void *arg);
void dkim_body_feed(struct dkim_body *b, const char *p, size_t n);
void dkim_body_end(struct dkim_body *b);

/* A body hash: canonicalizer + digest, l= honoured. */
struct dkim_bhash {
	EVP_MD_CTX *md;
	int err;
	int limited;
	uint64_t limit;
	uint64_t total; /* canonical octets seen (also past the limit) */
	struct dkim_body canon;
};

int dkim_bhash_init(struct dkim_bhash *h, const EVP_MD *md, int relaxed, int limited,
		    uint64_t limit);
void dkim_bhash_feed(struct dkim_bhash *h, const char *p, size_t n);
/* 0 with the digest in out (EVP_MAX_MD_SIZE), or -1. Frees the digest. */
int dkim_bhash_end(struct dkim_bhash *h, unsigned char *out, unsigned *len);
void dkim_bhash_free(struct dkim_bhash *h);

/* The header section split into fields. */
struct dkim_field {
	const char *p;	 /* start of the field name */
	size_t len;	 /* through its last CRLF (or the end of the section) */
	size_t name_len; /* 0 when the field has no ':' */
};

/* Split hdr[0..len); *out is malloc'd (free() it). 0 or -1 (memory). */
int dkim_fields_split(const char *hdr, size_t len, struct dkim_field **out, size_t *n);
int dkim_field_is(const struct dkim_field *f, const char *name, size_t name_len);
/* The bottom-most field named name not yet used (used[] marks), or -1. */
long dkim_field_pick(const struct dkim_field *f, size_t nf, unsigned char *used, const char *name,
		     size_t name_len);

/* ---- the signature field (dkim_sig.c) ----------------------------------- */

enum dkim_alg {
	DKIM_ALG_UNKNOWN = 0,
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_RSA_SHA1,
	DKIM_ALG_ED25519_SHA256,
};

struct dkim_span {
	size_t off, len; /* in the field text */
};

struct dkim_sig {
	enum dkim_alg alg;
	int hdr_relaxed, body_relaxed;
	char d[DKIM_DOMAIN_MAX];
	char s[DKIM_SEL_MAX];
	char auid[DKIM_DOMAIN_MAX + 65];
	char algo[24];
	char b8[9];
	unsigned char b[DKIM_SIGBYTES_MAX];
	size_t b_len;
	unsigned char bh[EVP_MAX_MD_SIZE];
	size_t bh_len;
	struct dkim_span h[DKIM_H_MAX];
	size_t n_h;
	int has_l;
	uint64_t l;
	int64_t t, x;	       /* -1 when absent */
	struct dkim_span bdel; /* what is deleted from the field when hashing */
};

/* Parse one whole DKIM-Signature field f[0..len) (name, value, maybe its
 * CRLF). d, s, auid, algo and b8 are filled as far as readable even on
 * failure. 0, or -1 with *why (the signature is then neutral). */
int dkim_sig_parse(const char *f, size_t len, int64_t now, struct dkim_sig *sig, const char **why);
const EVP_MD *dkim_alg_md(enum dkim_alg a);

/* ---- key records and keys (dkim_key.c) ---------------------------------- */

enum dkim_keytype {
	DKIM_KEY_RSA = 0,
	DKIM_KEY_ED25519,
};

struct dkim_keyrec {
	enum dkim_keytype type;
	int revoked;		/* p= empty */
	int testing, strict;	/* t=y, t=s */
	int sha1_ok, sha256_ok; /* h= (both when absent) */
	unsigned char p[DKIM_KEYBYTES_MAX];
	size_t p_len;
};

/* RFC 6376 3.6.1 (+ RFC 8463 k=ed25519). 0, or -1 with *why. */
int dkim_keyrec_parse(const char *s, size_t n, struct dkim_keyrec *k, const char **why);
/* TXT rdata (wire form) with its strings joined into out[cap] (NUL added). 0 or -1. */
int dkim_txt_join(const unsigned char *rd, size_t len, char *out, size_t cap, size_t *n);
/* The public key of a (not revoked) record, or NULL with *why. */
EVP_PKEY *dkim_keyrec_pkey(const struct dkim_keyrec *k, const char **why);
/* The private key inside a struct dkim_key (still owned by it). */
EVP_PKEY *dkim_key_pkey(const struct dkim_key *k);

#endif
