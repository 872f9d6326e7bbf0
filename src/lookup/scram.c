/*
 * scram: SCRAM-SHA-256 server side and the RFC 5803 secret text (see
 * scram.h for the API, the exchange and the SASLprep subset).
 *
 * Security role: this code parses attacker-controlled SASL messages before
 * any authentication. Every input is length-checked against a fixed
 * buffer, base64 is decoded by a strict local decoder (canonical, padded,
 * no whitespace or trailing data; EVP_DecodeBlock is too lenient), proofs
 * are compared with CRYPTO_memcmp, unknown users follow the same code path
 * as known ones and always fail, and every key is wiped with
 * OPENSSL_cleanse before its buffer goes out of scope.
 */
#include "lookup/scram.h"
#include "util/str.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

/* Which call may come next; a zeroed state allows none but client_first. */
enum { S_NONE = 0, S_CFIRST = 1, S_SFIRST = 2 };

#define B64_LEN(n) (((n) + 2) / 3 * 4 + 1) /* encoded length of n bytes, plus NUL */

static const char secret_prefix[] = "SCRAM-SHA-256$";

/* ---- text checks ------------------------------------------------------ */

/* Length of the UTF-8 sequence led by c (2..4), its payload bits and the
 * smallest code point it may encode; 0 for an invalid lead byte. */
static unsigned utf8_lead(unsigned c, uint32_t *cp, uint32_t *min)
{
	if (c >= 0xc2 && c <= 0xdf) {
		*cp = c & 0x1f;
		*min = 0x80;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		*cp = c & 0x0f;
		*min = 0x800;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		*cp = c & 0x07;
		*min = 0x10000;
		return 4;
	}
	return 0;
}

/*
 * 1 if s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, surrogates or
 * code points above U+10FFFF) without control characters (C0, DEL, C1),
 * which SASLprep prohibits.
 */
static int utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		uint32_t cp, min;
		unsigned len = 1;
		if (p[i] < 0x80) {
			cp = p[i];
		} else {
			len = utf8_lead(p[i], &cp, &min);
			if (len == 0 || n - i < len)
				return 0;
			for (unsigned k = 1; k < len; k++) {
				if ((p[i + k] & 0xc0) != 0x80)
					return 0;
				cp = cp << 6 | (p[i + k] & 0x3f);
			}
			if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return 0;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		i += len;
	}
	return 1;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, at least one, at most max. */
static int printable_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return 0;
	return 1;
}

/* ---- base64 ----------------------------------------------------------- */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 base64 s[0..n) into out[cap]: length a multiple of 4,
 * '=' only as the final padding, unused bits zero (one text per value).
 * 0 with *outlen set, or -1.
 */
static int b64_dec(const char *s, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	size_t pad = 0, o = 0;
	unsigned acc = 0, bits = 0;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if (n / 4 * 3 - pad > cap)
		return -1;
	for (size_t i = 0; i < n - pad; i++) {
		int v = b64_val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1))
		return -1;
	*outlen = o;
	return 0;
}

/* Base64 of in[0..n) into out[cap], NUL-terminated; -1 if it does not fit. */
static int b64_enc(const unsigned char *in, size_t n, char *out, size_t cap)
{
	if (n > INT_MAX / 2 || cap < B64_LEN(n))
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n) == (int)(B64_LEN(n) - 1) ? 0 : -1;
}

/* ---- crypto ----------------------------------------------------------- */

static int hmac256(const unsigned char *key, size_t klen, const void *data, size_t n,
		   unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;

	if (klen > INT_MAX)
		return -1;
	if (!HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len) || len != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

static int secret_ok(const struct scram_secret *s)
{
	return s->iter >= SCRAM_ITER_MIN && s->iter <= SCRAM_ITER_MAX &&
	       s->salt_len >= SCRAM_SALT_MIN && s->salt_len <= SCRAM_SALT_MAX;
}

/* The SASLprep subset of scram.h: printable ASCII or unnormalized UTF-8. */
static int password_ok(const char *pw, size_t n)
{
	return pw && n > 0 && n <= SCRAM_PW_MAX && utf8_ok(pw, n);
}

int scram_secret_derive(const char *password, size_t pw_len, unsigned iter,
			const unsigned char *salt, size_t salt_len, struct scram_secret *out)
{
	unsigned char salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	int r = -1;

	memset(out, 0, sizeof *out);
	out->iter = iter ? iter : SCRAM_ITER_DEFAULT;
	out->salt_len = salt_len;
	if (!salt || !secret_ok(out) || !password_ok(password, pw_len)) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	memcpy(out->salt, salt, salt_len);
	if (PKCS5_PBKDF2_HMAC(password, (int)pw_len, salt, (int)salt_len, (int)out->iter,
			      EVP_sha256(), SCRAM_KEY_LEN, salted) == 1 &&
	    hmac256(salted, sizeof salted, "Client Key", 10, ckey) == 0 &&
	    SHA256(ckey, sizeof ckey, out->stored_key) &&
	    hmac256(salted, sizeof salted, "Server Key", 10, out->server_key) == 0)
		r = 0;
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(ckey, sizeof ckey);
	if (r < 0)
		OPENSSL_cleanse(out, sizeof *out);
	return r;
}

int scram_secret_make(const char *password, size_t pw_len, unsigned iter, struct scram_secret *out)
{
	unsigned char salt[SCRAM_SALT_LEN];

	if (RAND_bytes(salt, sizeof salt) != 1) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return scram_secret_derive(password, pw_len, iter, salt, sizeof salt, out);
}

/* ---- RFC 5803 text ---------------------------------------------------- */

int scram_secret_format(const struct scram_secret *s, char *out, size_t cap)
{
	char salt[B64_LEN(SCRAM_SALT_MAX)], sk[B64_LEN(SCRAM_KEY_LEN)], vk[B64_LEN(SCRAM_KEY_LEN)];
	int r = -1;

	if (cap > 0)
		out[0] = '\0';
	if (secret_ok(s) && b64_enc(s->salt, s->salt_len, salt, sizeof salt) == 0 &&
	    b64_enc(s->stored_key, SCRAM_KEY_LEN, sk, sizeof sk) == 0 &&
	    b64_enc(s->server_key, SCRAM_KEY_LEN, vk, sizeof vk) == 0)
		r = str_fmt(out, cap, "%s%u:%s$%s:%s", secret_prefix, s->iter, salt, sk, vk);
	OPENSSL_cleanse(sk, sizeof sk);
	OPENSSL_cleanse(vk, sizeof vk);
	return r;
}

/* Decimal s[0..n) without sign or leading zero, within the iter bounds. */
static int iter_parse(const char *s, size_t n, unsigned *out)
{
	unsigned long v = 0;

	if (n == 0 || n > 7 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < SCRAM_ITER_MIN || v > SCRAM_ITER_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The fields of "ITER:SALT$STORED:SERVER" (after the prefix) into out. */
static int secret_fields(const char *p, size_t n, struct scram_secret *out)
{
	const char *end = p + n, *c1, *d, *c2;
	size_t len;

	if (!(c1 = memchr(p, ':', n)) || !(d = memchr(c1, '$', (size_t)(end - c1))) ||
	    !(c2 = memchr(d, ':', (size_t)(end - d))))
		return -1;
	if (iter_parse(p, (size_t)(c1 - p), &out->iter) < 0 ||
	    b64_dec(c1 + 1, (size_t)(d - c1 - 1), out->salt, sizeof out->salt, &out->salt_len) <
		0 ||
	    out->salt_len < SCRAM_SALT_MIN)
		return -1;
	if (b64_dec(d + 1, (size_t)(c2 - d - 1), out->stored_key, SCRAM_KEY_LEN, &len) < 0 ||
	    len != SCRAM_KEY_LEN)
		return -1;
	if (b64_dec(c2 + 1, (size_t)(end - c2 - 1), out->server_key, SCRAM_KEY_LEN, &len) < 0 ||
	    len != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

int scram_secret_parse(const char *text, size_t n, struct scram_secret *out)
{
	size_t plen = sizeof secret_prefix - 1;

	memset(out, 0, sizeof *out);
	if (!text || n >= SCRAM_TEXT_MAX || n < plen || memcmp(text, secret_prefix, plen) != 0 ||
	    secret_fields(text + plen, n - plen, out) < 0) {
		OPENSSL_cleanse(out, sizeof *out);
		return -1;
	}
	return 0;
}

/* ---- message fields --------------------------------------------------- */

struct cursor {
	const char *p;
	size_t n;
	int done;
};

/* The next ','-separated field into f[0..fn); 0 when there is none left. */
static int field_next(struct cursor *c, const char **f, size_t *fn)
{
	const char *comma;

	if (c->done)
		return 0;
	comma = memchr(c->p, ',', c->n);
	*f = c->p;
	*fn = comma ? (size_t)(comma - c->p) : c->n;
	c->done = !comma;
	c->p += comma ? *fn + 1 : *fn;
	c->n -= comma ? *fn + 1 : *fn;
	return 1;
}

/* Is f[0..fn) the attribute "name=..."? */
static int is_attr(const char *f, size_t fn, char name)
{
	return fn >= 2 && f[0] == name && f[1] == '=';
}

/*
 * An optional extension "x=VALUE": a letter that is no attribute of RFC
 * 5802 (so neither the mandatory "m" nor a repeated or misplaced known
 * one) and a non-empty UTF-8 value.
 */
static int ext_ok(const char *f, size_t fn)
{
	char ch = fn > 0 ? f[0] : '\0';

	if (fn < 3 || f[1] != '=' || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
		return 0;
	return strchr("aceimnprsv", ch) == NULL && utf8_ok(f + 2, fn - 2);
}

/* Every remaining field must be an acceptable extension. */
static int exts_ok(struct cursor *c)
{
	const char *f;
	size_t fn;

	while (field_next(c, &f, &fn))
		if (!ext_ok(f, fn))
			return 0;
	return 1;
}

/*
 * Decode a saslname s[0..n) ("=2C" is ',', "=3D" is '='; hex letters in
 * either case, as ABNF literals are case-insensitive; any other '=' is an
 * error) into out[cap]: non-empty UTF-8 without control characters.
 */
static int saslname_dec(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '=') {
			if (n - i < 3)
				return -1;
			if (s[i + 1] == '2' && (s[i + 2] == 'C' || s[i + 2] == 'c'))
				ch = ',';
			else if (s[i + 1] == '3' && (s[i + 2] == 'D' || s[i + 2] == 'd'))
				ch = '=';
			else
				return -1;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = ch;
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return utf8_ok(out, o) ? 0 : -1;
}

/* ---- client-first ----------------------------------------------------- */

/* gs2 header "n," / "y," then "" or "a=NAME" and ','; authz gets NAME or "". */
static int gs2_parse(struct cursor *c, char *authz, size_t cap)
{
	const char *f;
	size_t fn;

	authz[0] = '\0';
	if (!field_next(c, &f, &fn) || fn != 1 || (f[0] != 'n' && f[0] != 'y'))
		return -1; /* includes "p=..." (channel binding: no -PLUS here) */
	if (!field_next(c, &f, &fn) || c->done)
		return -1;
	if (fn > 0 && (!is_attr(f, fn, 'a') || saslname_dec(f + 2, fn - 2, authz, cap) < 0))
		return -1;
	return 0;
}

/* client-first-message-bare: "n=NAME,r=NONCE[,EXT...]" ("m=" first: refused). */
static int bare_parse(struct scram_state *st, struct cursor *c)
{
	const char *f;
	size_t fn;

	if (!field_next(c, &f, &fn) || !is_attr(f, fn, 'n') ||
	    saslname_dec(f + 2, fn - 2, st->user, sizeof st->user) < 0)
		return -1;
	if (!field_next(c, &f, &fn) || !is_attr(f, fn, 'r') ||
	    !printable_ok(f + 2, fn - 2, SCRAM_NONCE_MAX))
		return -1;
	st->cnonce_off = (size_t)(f + 2 - st->cfirst);
	st->cnonce_len = fn - 2;
	return exts_ok(c) ? 0 : -1;
}

int scram_client_first(struct scram_state *st, const char *msg, size_t n, char *user, size_t ucap)
{
	char authz[SCRAM_USER_MAX];
	struct cursor c;
	int r = -1;

	OPENSSL_cleanse(st, sizeof *st);
	if (user && ucap > 0)
		user[0] = '\0';
	if (!msg || !user || n >= sizeof st->cfirst || memchr(msg, '\0', n))
		return -1;
	memcpy(st->cfirst, msg, n);
	st->cfirst[n] = '\0';
	c = (struct cursor){st->cfirst, n, 0};
	if (gs2_parse(&c, authz, sizeof authz) == 0) {
		st->gs2_len = (size_t)(c.p - st->cfirst);
		if (bare_parse(st, &c) == 0 && (authz[0] == '\0' || strcmp(authz, st->user) == 0) &&
		    str_copy(user, ucap, st->user) == 0)
			r = 0;
	}
	if (r < 0)
		OPENSSL_cleanse(st, sizeof *st);
	else
		st->step = S_CFIRST;
	return r;
}

/* ---- server-first ----------------------------------------------------- */

/*
 * The fake secret for st->user: salt from HMAC-SHA256(fake_key, ASCII-
 * lowercased name) (logins are case-insensitive, so every spelling of a
 * name gets the one salt, as a real user would), random keys nobody knows.
 */
static int fake_secret(const struct scram_state *st, const unsigned char *fake_key,
		       struct scram_secret *out)
{
	char low[SCRAM_USER_MAX];
	unsigned char mac[SCRAM_KEY_LEN];
	int r = -1;

	memset(out, 0, sizeof *out);
	if (str_copy(low, sizeof low, st->user) == 0) {
		str_lower(low);
		if (hmac256(fake_key, SCRAM_KEY_LEN, low, strlen(low), mac) == 0 &&
		    RAND_bytes(out->stored_key, SCRAM_KEY_LEN) == 1 &&
		    RAND_bytes(out->server_key, SCRAM_KEY_LEN) == 1) {
			out->iter = SCRAM_ITER_DEFAULT;
			out->salt_len = SCRAM_SALT_LEN;
			memcpy(out->salt, mac, SCRAM_SALT_LEN);
			r = 0;
		}
	}
	OPENSSL_cleanse(mac, sizeof mac);
	OPENSSL_cleanse(low, sizeof low);
	return r;
}

/* "r=CNONCE SNONCE,s=SALT,i=ITER" into st->sfirst. */
static int sfirst_build(struct scram_state *st, const char *snonce, size_t sn_len)
{
	char salt[B64_LEN(SCRAM_SALT_MAX)];

	if (b64_enc(st->sec.salt, st->sec.salt_len, salt, sizeof salt) < 0)
		return -1;
	if (str_fmt(st->sfirst, sizeof st->sfirst, "r=%.*s%.*s,s=%s,i=%u", (int)st->cnonce_len,
		    st->cfirst + st->cnonce_off, (int)sn_len, snonce, salt, st->sec.iter) < 0)
		return -1;
	st->nonce_len = st->cnonce_len + sn_len;
	return 0;
}

int scram_server_first_nonce(struct scram_state *st, const struct scram_secret *sec,
			     const unsigned char fake_key[SCRAM_KEY_LEN], const char *snonce,
			     size_t sn_len, char *out, size_t cap)
{
	int ok = st->step == S_CFIRST;

	st->step = S_NONE;
	if (cap > 0)
		out[0] = '\0';
	if (!ok || !fake_key || !snonce || !printable_ok(snonce, sn_len, SCRAM_SNONCE_MAX))
		return -1;
	/* Always derived, so known and unknown users cost the same. */
	if (fake_secret(st, fake_key, &st->sec) < 0)
		return -1;
	st->fake = 1;
	if (sec && secret_ok(sec)) {
		st->sec = *sec;
		st->fake = 0;
	}
	if (sfirst_build(st, snonce, sn_len) < 0 || str_copy(out, cap, st->sfirst) < 0)
		return -1;
	st->step = S_SFIRST;
	return 0;
}

int scram_server_first(struct scram_state *st, const struct scram_secret *sec,
		       const unsigned char fake_key[SCRAM_KEY_LEN], char *out, size_t cap)
{
	unsigned char raw[SCRAM_SNONCE_RAND];
	char snonce[B64_LEN(SCRAM_SNONCE_RAND)];

	if (RAND_bytes(raw, sizeof raw) != 1 ||
	    b64_enc(raw, sizeof raw, snonce, sizeof snonce) < 0) {
		st->step = S_NONE;
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	return scram_server_first_nonce(st, sec, fake_key, snonce, strlen(snonce), out, cap);
}

/* ---- client-final ----------------------------------------------------- */

/* "c=B64(gs2 header),r=NONCE[,EXT...]" (the message without the proof). */
static int final_fields(const struct scram_state *st, const char *s, size_t n)
{
	unsigned char gs2[SCRAM_MSG_MAX];
	struct cursor c = {s, n, 0};
	const char *f;
	size_t fn, len;

	if (!field_next(&c, &f, &fn) || !is_attr(f, fn, 'c') ||
	    b64_dec(f + 2, fn - 2, gs2, sizeof gs2, &len) < 0 || len != st->gs2_len ||
	    memcmp(gs2, st->cfirst, len) != 0)
		return -1;
	if (!field_next(&c, &f, &fn) || !is_attr(f, fn, 'r') || fn - 2 != st->nonce_len ||
	    memcmp(f + 2, st->sfirst + 2, st->nonce_len) != 0)
		return -1;
	return exts_ok(&c) ? 0 : -1;
}

/*
 * AuthMessage = client-first-bare "," server-first "," final-without-proof,
 * into am[cap]; the length, or 0 if it does not fit.
 */
static size_t auth_message(const struct scram_state *st, const char *wp, size_t wpn, char *am,
			   size_t cap)
{
	const char *bare = st->cfirst + st->gs2_len;
	size_t bn = strlen(bare), sn = strlen(st->sfirst);

	if (bn + sn + wpn + 2 > cap)
		return 0;
	memcpy(am, bare, bn);
	am[bn] = ',';
	memcpy(am + bn + 1, st->sfirst, sn);
	am[bn + 1 + sn] = ',';
	memcpy(am + bn + sn + 2, wp, wpn);
	return bn + sn + wpn + 2;
}

/* 0: proof right, ssig = ServerSignature; 1: wrong proof or fake; -1: error. */
static int proof_check(const struct scram_state *st, const char *am, size_t amn,
		       const unsigned char proof[SCRAM_KEY_LEN], unsigned char ssig[SCRAM_KEY_LEN])
{
	unsigned char csig[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN], h[SCRAM_KEY_LEN];
	int r = -1;

	if (hmac256(st->sec.stored_key, SCRAM_KEY_LEN, am, amn, csig) == 0 &&
	    hmac256(st->sec.server_key, SCRAM_KEY_LEN, am, amn, ssig) == 0) {
		for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
			ckey[i] = proof[i] ^ csig[i];
		if (SHA256(ckey, sizeof ckey, h))
			r = CRYPTO_memcmp(h, st->sec.stored_key, SCRAM_KEY_LEN) == 0 ? 0 : 1;
	}
	if (r == 0 && st->fake)
		r = 1; /* cannot happen short of a SHA-256 preimage; belt and braces */
	OPENSSL_cleanse(csig, sizeof csig);
	OPENSSL_cleanse(ckey, sizeof ckey);
	OPENSSL_cleanse(h, sizeof h);
	return r;
}

/* The answer for result r (0 or 1) into out[cap]. */
static int final_answer(int r, const unsigned char ssig[SCRAM_KEY_LEN], char *out, size_t cap)
{
	char b64[B64_LEN(SCRAM_KEY_LEN)];
	int ok;

	if (r == 1)
		return str_copy(out, cap, "e=invalid-proof") == 0 ? 1 : -1;
	ok = b64_enc(ssig, SCRAM_KEY_LEN, b64, sizeof b64) == 0 &&
	     str_fmt(out, cap, "v=%s", b64) == 0;
	OPENSSL_cleanse(b64, sizeof b64);
	return ok ? 0 : -1;
}

int scram_client_final(struct scram_state *st, const char *msg, size_t n, char *out, size_t cap)
{
	char am[2 * SCRAM_MSG_MAX + SCRAM_SFIRST_MAX];
	unsigned char proof[SCRAM_KEY_LEN], ssig[SCRAM_KEY_LEN];
	const char *comma;
	size_t len, amn;
	int ok = st->step == S_SFIRST, r = -1;

	st->step = S_NONE; /* spent, whatever happens */
	if (cap > 0)
		out[0] = '\0';
	if (!ok || !msg || n >= SCRAM_MSG_MAX || memchr(msg, '\0', n))
		return -1;
	comma = memrchr(msg, ',', n);
	if (!comma || !is_attr(comma + 1, (size_t)(msg + n - comma - 1), 'p') ||
	    b64_dec(comma + 3, (size_t)(msg + n - comma - 3), proof, sizeof proof, &len) < 0 ||
	    len != SCRAM_KEY_LEN || final_fields(st, msg, (size_t)(comma - msg)) < 0)
		return -1;
	amn = auth_message(st, msg, (size_t)(comma - msg), am, sizeof am);
	if (amn > 0)
		r = proof_check(st, am, amn, proof, ssig);
	if (r >= 0)
		r = final_answer(r, ssig, out, cap);
	OPENSSL_cleanse(ssig, sizeof ssig);
	OPENSSL_cleanse(am, sizeof am);
	return r;
}

void scram_state_wipe(struct scram_state *st)
{
	OPENSSL_cleanse(st, sizeof *st);
}
