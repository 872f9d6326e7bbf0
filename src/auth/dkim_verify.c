/*
 * dkim_verify: verifying every DKIM-Signature of a message (RFC 6376 6,
 * RFC 8463, RFC 8301) without doing any I/O: the caller asks DNS for the
 * keys and streams the body in (see dkim.h for the sequence).
 *
 * Results chosen where the RFCs leave room:
 *   - a signature that does not parse, has an unknown a=, an i= outside
 *     d=, no From in h=, an x= that has passed (expired: no slop) or a t=
 *     more than DKIM_FUTURE_SLOP ahead: neutral, no key is asked for;
 *   - key lookup: TEMPFAIL and BOGUS (DNSSEC) temperror; NXDOMAIN/NODATA
 *     permerror ("no key"); of several TXT records those that do not parse
 *     as key records are ignored, and more than one usable record is a
 *     permerror ("several key records");
 *   - revoked key (p= empty), k= not matching a=, hash not in the key's
 *     h=, s= without email or *, t=s with i= domain != d=: permerror;
 *   - rsa-sha1 (verified first) and RSA keys under 1024 bits: policy;
 *   - a canonical body shorter than l=: fail; longer: pass with the reason
 *     "body partly signed (l=)".
 *
 * Security role: every signature is judged on its own; a result is pass
 * only when both the body hash and the signature over the header hash
 * verify with a usable key. The header section is read in
 * dkim_verify_new and not kept.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rsa.h>

#include "auth/dkim_int.h"
#include "util/str.h"

#define ED25519_SIG_LEN 64

struct dkim_vsig {
	struct dkim_sig sig;
	int final;		 /* result decided (nothing more to do) */
	enum dkim_result result; /* when final */
	int key_done, sig_good, testing;
	int bh_live, body_ok;
	uint64_t body_total;
	struct dkim_bhash bh;
	unsigned char hdig[EVP_MAX_MD_SIZE];
	unsigned hdig_len;
	char keyname[DNS_NAME_MAX];
	char reason[128];
};

struct dkim_verify {
	size_t n;
	int body_ended;
	struct dkim_vsig s[];
};

const char *dkim_result_name(enum dkim_result r)
{
	static const char *const names[] = {"none",   "pass",	   "fail",     "neutral",
					    "policy", "temperror", "permerror"};

	return (size_t)r < sizeof names / sizeof names[0] ? names[r] : "permerror";
}

static void finish(struct dkim_vsig *vs, enum dkim_result r, const char *why)
{
	vs->final = 1;
	vs->result = r;
	(void)str_copy(vs->reason, sizeof vs->reason, why);
	dkim_bhash_free(&vs->bh);
	vs->bh_live = 0;
}

/* ---- the header hash ---------------------------------------------------- */

struct md_sink {
	EVP_MD_CTX *md;
	int err;
};

static void md_sink_fn(void *arg, const char *p, size_t n)
{
	struct md_sink *m = arg;

	if (EVP_DigestUpdate(m->md, p, n) != 1)
		m->err = 1;
}

/* The signature field itself, b= emptied, without its CRLF. */
static int hdr_self(struct dkim_out *o, const struct dkim_field *self, const struct dkim_sig *sig)
{
	size_t tail = sig->bdel.off + sig->bdel.len;
	char *copy = malloc(self->len);

	if (!copy)
		return -1;
	memcpy(copy, self->p, sig->bdel.off);
	memcpy(copy + sig->bdel.off, self->p + tail, self->len - tail);
	dkim_canon_header(o, copy, self->len - sig->bdel.len, sig->hdr_relaxed, 0);
	dkim_out_flush(o);
	free(copy);
	return 0;
}

static int hdr_digest(struct dkim_vsig *vs, const struct dkim_field *f, size_t nf,
		      unsigned char *used, const struct dkim_field *self)
{
	const struct dkim_sig *sig = &vs->sig;
	struct md_sink m = {EVP_MD_CTX_new(), 0};
	struct dkim_out o;
	int rc = -1;

	memset(used, 0, nf);
	used[self - f] = 1; /* never its own input through h= (RFC 6376 3.5) */
	dkim_out_init(&o, md_sink_fn, &m);
	if (!m.md || EVP_DigestInit_ex(m.md, dkim_alg_md(sig->alg), NULL) != 1)
		goto out;
	for (size_t j = 0; j < sig->n_h; j++) {
		long k = dkim_field_pick(f, nf, used, self->p + sig->h[j].off, sig->h[j].len);
		if (k >= 0)
			dkim_canon_header(&o, f[k].p, f[k].len, sig->hdr_relaxed, 1);
	}
	if (hdr_self(&o, self, sig) == 0 && !m.err &&
	    EVP_DigestFinal_ex(m.md, vs->hdig, &vs->hdig_len) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(m.md);
	return rc;
}

/* ---- setting up one signature ------------------------------------------- */

static void sig_setup(struct dkim_vsig *vs, size_t idx, const struct dkim_field *self,
		      const struct dkim_field *f, size_t nf, unsigned char *used, int64_t now)
{
	struct dkim_sig *sig = &vs->sig;
	const char *why = NULL;

	if (dkim_sig_parse(self->p, self->len, now, sig, &why) < 0) {
		finish(vs, DKIM_NEUTRAL, why);
		return;
	}
	if (idx >= DKIM_SIG_MAX) {
		finish(vs, DKIM_POLICY, "too many signatures");
		return;
	}
	if (str_fmt(vs->keyname, sizeof vs->keyname, "%s._domainkey.%s", sig->s, sig->d) < 0) {
		finish(vs, DKIM_NEUTRAL, "key name too long");
		return;
	}
	if (hdr_digest(vs, f, nf, used, self) < 0 ||
	    dkim_bhash_init(&vs->bh, dkim_alg_md(sig->alg), sig->body_relaxed, sig->has_l, sig->l) <
		0) {
		finish(vs, DKIM_TEMPERROR, "out of memory");
		return;
	}
	vs->bh_live = 1;
}

static size_t count_sigs(const struct dkim_field *f, size_t nf)
{
	size_t n = 0;

	for (size_t j = 0; j < nf; j++)
		if (dkim_field_is(&f[j], "DKIM-Signature", 14))
			n++;
	return n < DKIM_SIG_LIST_MAX ? n : DKIM_SIG_LIST_MAX;
}

struct dkim_verify *dkim_verify_new(const char *hdr, size_t len, int64_t now)
{
	struct dkim_field *f;
	struct dkim_verify *v = NULL;
	unsigned char *used = NULL;
	size_t nf, n, k = 0;

	if (dkim_fields_split(hdr, len, &f, &nf) < 0)
		return NULL;
	n = count_sigs(f, nf);
	v = calloc(1, sizeof *v + n * sizeof v->s[0]);
	used = calloc(nf ? nf : 1, 1);
	if (!v || !used) {
		free(v);
		v = NULL;
		goto out;
	}
	v->n = n;
	for (size_t j = 0; j < nf && k < n; j++)
		if (dkim_field_is(&f[j], "DKIM-Signature", 14)) {
			sig_setup(&v->s[k], k, &f[j], f, nf, used, now);
			k++;
		}
out:
	free(used);
	free(f);
	return v;
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->n;
}

const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i)
{
	if (i >= v->n || v->s[i].final || v->s[i].key_done)
		return NULL;
	return v->s[i].keyname;
}

/* ---- the key ------------------------------------------------------------ */

static int sig_check(const struct dkim_vsig *vs, EVP_PKEY *pk)
{
	const struct dkim_sig *sig = &vs->sig;
	int ok = 0;

	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		ok = m && sig->b_len == ED25519_SIG_LEN &&
		     EVP_DigestVerifyInit(m, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(m, sig->b, sig->b_len, vs->hdig, vs->hdig_len) == 1;
		EVP_MD_CTX_free(m);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		ok = c && EVP_PKEY_verify_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, dkim_alg_md(sig->alg)) == 1 &&
		     EVP_PKEY_verify(c, sig->b, sig->b_len, vs->hdig, vs->hdig_len) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok;
}

/* The key record's constraints on this signature; 0 or -1 (finished). */
static int key_allows(struct dkim_vsig *vs, const struct dkim_keyrec *k)
{
	const struct dkim_sig *sig = &vs->sig;
	const char *at = strrchr(sig->auid, '@');
	int ed = sig->alg == DKIM_ALG_ED25519_SHA256;

	if (k->revoked)
		finish(vs, DKIM_PERMERROR, "key revoked");
	else if (ed != (k->type == DKIM_KEY_ED25519))
		finish(vs, DKIM_PERMERROR, "key type does not match a=");
	else if (sig->alg == DKIM_ALG_RSA_SHA1 ? !k->sha1_ok : !k->sha256_ok)
		finish(vs, DKIM_PERMERROR, "hash not allowed by the key (h=)");
	else if (k->strict && (!at || strcasecmp(at + 1, sig->d) != 0))
		finish(vs, DKIM_PERMERROR, "i= domain is not d= (key t=s)");
	return vs->final ? -1 : 0;
}

static void key_use(struct dkim_vsig *vs, const struct dkim_keyrec *k)
{
	const char *why = NULL;
	EVP_PKEY *pk;

	vs->testing = k->testing;
	if (key_allows(vs, k) < 0)
		return;
	if (!(pk = dkim_keyrec_pkey(k, &why))) {
		finish(vs, DKIM_PERMERROR, why);
		return;
	}
	if (k->type == DKIM_KEY_RSA && EVP_PKEY_get_bits(pk) < DKIM_RSA_MIN_BITS)
		finish(vs, DKIM_POLICY, "RSA key shorter than 1024 bits");
	else
		vs->sig_good = sig_check(vs, pk);
	EVP_PKEY_free(pk);
}

/* Of the TXT records, the one key record. */
static void key_pick(struct dkim_vsig *vs, const struct dns_result *r)
{
	struct dkim_keyrec k, one;
	char txt[DKIM_TXT_MAX];
	const char *why = "no key record", *w;
	size_t found = 0, n;

	for (size_t j = 0; j < r->n_rr && j < DNS_MAX_RR; j++) {
		if (dkim_txt_join(r->rr[j], r->rr_len[j], txt, sizeof txt, &n) < 0) {
			why = "key record too long";
			continue;
		}
		if (dkim_keyrec_parse(txt, n, &one, &w) < 0) {
			why = w;
			continue;
		}
		if (found++ == 0)
			k = one;
	}
	if (found != 1)
		finish(vs, DKIM_PERMERROR, found ? "several key records" : why);
	else
		key_use(vs, &k);
}

void dkim_verify_key(struct dkim_verify *v, size_t i, const struct dns_result *r)
{
	struct dkim_vsig *vs;

	if (i >= v->n || v->s[i].final || v->s[i].key_done)
		return;
	vs = &v->s[i];
	vs->key_done = 1;
	switch (r->status) {
	case DNS_OK:
		key_pick(vs, r);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		finish(vs, DKIM_PERMERROR, "no key");
		break;
	case DNS_BOGUS:
		finish(vs, DKIM_TEMPERROR, "key lookup failed DNSSEC validation");
		break;
	case DNS_TEMPFAIL:
	default:
		finish(vs, DKIM_TEMPERROR, "key lookup failed");
		break;
	}
}

/* ---- the body and the results ------------------------------------------- */

void dkim_verify_body(struct dkim_verify *v, const char *p, size_t n)
{
	if (v->body_ended)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (v->s[i].bh_live)
			dkim_bhash_feed(&v->s[i].bh, p, n);
}

void dkim_verify_body_end(struct dkim_verify *v)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	if (v->body_ended)
		return;
	v->body_ended = 1;
	for (size_t i = 0; i < v->n; i++) {
		struct dkim_vsig *vs = &v->s[i];
		if (!vs->bh_live)
			continue;
		vs->bh_live = 0;
		if (dkim_bhash_end(&vs->bh, d, &dl) < 0) {
			finish(vs, DKIM_TEMPERROR, "body hash failed");
			continue;
		}
		vs->body_total = vs->bh.total; /* counted as the canonicalizer flushed */
		vs->body_ok = dl == vs->sig.bh_len && CRYPTO_memcmp(d, vs->sig.bh, dl) == 0;
	}
}

/* The result of a signature whose key and body are both in. */
static enum dkim_result judge(const struct dkim_vsig *vs, const char **why)
{
	const struct dkim_sig *sig = &vs->sig;

	*why = "";
	if (sig->has_l && vs->body_total < sig->l)
		*why = "body shorter than l=";
	else if (!vs->body_ok)
		*why = "body hash did not verify";
	else if (!vs->sig_good)
		*why = "signature did not verify";
	if (**why)
		return DKIM_FAIL;
	if (sig->alg == DKIM_ALG_RSA_SHA1) {
		*why = "rsa-sha1 not trusted (RFC 8301)";
		return DKIM_POLICY;
	}
	if (sig->has_l && vs->body_total > sig->l)
		*why = "body partly signed (l=)";
	return DKIM_PASS;
}

void dkim_verify_result(const struct dkim_verify *v, size_t i, struct dkim_sig_result *out)
{
	const struct dkim_vsig *vs;
	const char *why;

	memset(out, 0, sizeof *out);
	if (i >= v->n) {
		out->result = DKIM_NONE;
		return;
	}
	vs = &v->s[i];
	(void)str_copy(out->domain, sizeof out->domain, vs->sig.d);
	(void)str_copy(out->selector, sizeof out->selector, vs->sig.s);
	(void)str_copy(out->auid, sizeof out->auid, vs->sig.auid);
	(void)str_copy(out->algo, sizeof out->algo, vs->sig.algo);
	(void)str_copy(out->b8, sizeof out->b8, vs->sig.b8);
	out->testing = vs->testing;
	if (vs->final) {
		out->result = vs->result;
		why = vs->reason;
	} else if (!vs->key_done || !v->body_ended) {
		out->result = DKIM_TEMPERROR;
		why = "verification not finished";
	} else {
		out->result = judge(vs, &why);
	}
	(void)str_copy(out->reason, sizeof out->reason, why);
}

void dkim_verify_free(struct dkim_verify *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		dkim_bhash_free(&v->s[i].bh);
	free(v);
}
