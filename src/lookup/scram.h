/*
 * scram: the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for SMTP
 * AUTH, and the RFC 5803 text form of the stored secret. Pure functions:
 * no I/O, no globals, no malloc of our own (OpenSSL may allocate inside
 * its calls); randomness comes from RAND_bytes.
 *
 * One exchange, all messages without the SASL/SMTP base64 wrapping:
 *
 *     scram_client_first(st, client-first-message, ..., user)
 *     look user up -> secret (NULL when unknown or without a SCRAM secret)
 *     scram_server_first(st, secret or NULL, fake_key, out)   -> send out
 *     scram_client_final(st, client-final-message, out)       -> send out
 *     scram_state_wipe(st)
 *
 * Security role: the server never sees or stores the password; it keeps
 * StoredKey and ServerKey only. Proofs are compared in constant time.
 * Unknown users get a deterministic fake salt (HMAC-SHA256(fake_key,
 * lowercased name)) so the server-first message does not tell them from
 * real users, and their exchange always fails at the final step with the
 * same "e=invalid-proof" as a wrong password. Channel binding (-PLUS) is
 * not offered, so "p=" requests are refused and "y" is accepted (RFC 5802
 * section 6: "y" only signals a downgrade when the server offers -PLUS;
 * whoever ever advertises SCRAM-SHA-256-PLUS must refuse "y"). Inputs are
 * bounded (SCRAM_MSG_MAX) and parsed strictly: canonical padded base64
 * only, mandatory extensions ("m=") refused. Every key and buffer derived
 * from the password or the secret is wiped before it goes out of scope.
 */
#ifndef SEALPOST_SCRAM_H
#define SEALPOST_SCRAM_H

#include <stddef.h>

#define SCRAM_KEY_LEN	   32	   /* SHA-256 output */
#define SCRAM_SALT_LEN	   16	   /* salt made by scram_secret_make */
#define SCRAM_SALT_MIN	   8	   /* shortest salt scram_secret_parse accepts */
#define SCRAM_SALT_MAX	   64	   /* longest salt */
#define SCRAM_ITER_MIN	   4096	   /* RFC 7677 minimum */
#define SCRAM_ITER_DEFAULT 4096	   /* scram_secret_make with iter 0 */
#define SCRAM_ITER_MAX	   1000000 /* upper bound: PBKDF2 cost on the client */
#define SCRAM_PW_MAX	   1024	   /* longest password scram_secret_make takes */
#define SCRAM_MSG_MAX	   2048	   /* longest client message, plus NUL */
#define SCRAM_NONCE_MAX	   256	   /* longest client nonce */
#define SCRAM_SNONCE_MAX   64	   /* longest server nonce part */
#define SCRAM_SNONCE_RAND  24	   /* random bytes in our server nonce */
#define SCRAM_SFIRST_MAX   512	   /* server-first-message, plus NUL */
#define SCRAM_USER_MAX	   256	   /* decoded username, plus NUL */
#define SCRAM_TEXT_MAX	   256	   /* RFC 5803 text, plus NUL */
#define SCRAM_OUT_MAX	   512	   /* a good size for every out buffer */

struct scram_secret {
	unsigned iter;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN]; /* H(HMAC(SaltedPassword, "Client Key")) */
	unsigned char server_key[SCRAM_KEY_LEN]; /* HMAC(SaltedPassword, "Server Key") */
};

/* Where an exchange is; fixed size, no pointers, wipe with scram_state_wipe. */
struct scram_state {
	int step;		       /* internal: which call may come next */
	int fake;		       /* 1: unknown user, the exchange will fail */
	char cfirst[SCRAM_MSG_MAX];    /* client-first-message, NUL-terminated */
	size_t gs2_len;		       /* gs2 header = cfirst[0..gs2_len) */
	size_t cnonce_off, cnonce_len; /* client nonce = cfirst[off..off+len) */
	char user[SCRAM_USER_MAX];     /* decoded username */
	char sfirst[SCRAM_SFIRST_MAX]; /* server-first-message, NUL-terminated */
	size_t nonce_len;	       /* combined nonce = sfirst + 2, this long */
	struct scram_secret sec;       /* copy of the user's secret, or the fake one */
};

/*
 * Derive a secret from password[0..pw_len) with a fresh random
 * SCRAM_SALT_LEN-byte salt and iter PBKDF2 rounds (0: SCRAM_ITER_DEFAULT;
 * else SCRAM_ITER_MIN..SCRAM_ITER_MAX). Returns 0, or -1 (bad iter, empty
 * or over-long password, a password SASLprep would refuse, OpenSSL
 * failure; *out is then zeroed).
 *
 * SASLprep (RFC 4013) is implemented as a subset: printable ASCII and
 * space are used unchanged (SASLprep maps them to themselves); ASCII
 * control characters and invalid UTF-8 are refused; other non-ASCII text
 * is used as its UTF-8 bytes WITHOUT normalization or mapping. A client
 * that NFKC-normalizes a non-ASCII password (or maps U+00A0 to a space)
 * then computes different keys and cannot log in with SCRAM; it still can
 * with the password hash (AUTH PLAIN over TLS).
 */
int scram_secret_make(const char *password, size_t pw_len, unsigned iter, struct scram_secret *out);

/* scram_secret_make with the given salt (tests, known-answer vectors). */
int scram_secret_derive(const char *password, size_t pw_len, unsigned iter,
			const unsigned char *salt, size_t salt_len, struct scram_secret *out);

/*
 * RFC 5803 text "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY" (base64
 * fields) into out[cap] (SCRAM_TEXT_MAX is enough). 0, or -1 if s is
 * invalid or out too small.
 */
int scram_secret_format(const struct scram_secret *s, char *out, size_t cap);

/*
 * Parse text[0..n) strictly: the exact prefix, ITER decimal without sign or
 * leading zero in SCRAM_ITER_MIN..SCRAM_ITER_MAX, canonical padded base64,
 * salt SCRAM_SALT_MIN..SCRAM_SALT_MAX bytes, keys exactly 32 bytes, nothing
 * else (no spaces, no NUL). 0, or -1 with *out zeroed.
 */
int scram_secret_parse(const char *text, size_t n, struct scram_secret *out);

/*
 * Start an exchange: parse client-first-message msg[0..n) into st (which
 * need not be initialized; it is overwritten). The gs2 header must be
 * "n,," or "y,," or carry an authzid "a=NAME" equal to the username;
 * "p=" (channel binding) and mandatory extensions are refused; the
 * username is decoded ("=2C" ",", "=3D" "=", nothing else after '=') and
 * copied to user[ucap]: valid UTF-8 without control characters. The
 * caller looks it up as it sees fit (logins are case-insensitive; the
 * fake salt is derived from the ASCII-lowercased name to match).
 * Returns 0, or -1 when malformed.
 */
int scram_client_first(struct scram_state *st, const char *msg, size_t n, char *user, size_t ucap);

/*
 * Answer with the server-first-message in out[cap]:
 * "r=CLIENTNONCE+SERVERNONCE,s=SALT,i=ITER", the server nonce being
 * SCRAM_SNONCE_RAND random bytes in base64. sec is the user's secret, or
 * NULL for an unknown user, a user without a SCRAM secret or one who may
 * not log in (a secret failing its own bounds counts as NULL): a fake
 * secret is then used (salt = the first 16 bytes of
 * HMAC-SHA256(fake_key, lowercased username), iter SCRAM_ITER_DEFAULT,
 * random keys) and scram_client_final will return 1. fake_key must be
 * secret, and should stay the same across restarts: if it changes, the
 * salt of an unknown name changes while a real user's does not.
 * Returns 0, or -1 (called out of order, out too small, OpenSSL failure).
 */
int scram_server_first(struct scram_state *st, const struct scram_secret *sec,
		       const unsigned char fake_key[SCRAM_KEY_LEN], char *out, size_t cap);

/*
 * scram_server_first with a given server nonce snonce[0..sn_len)
 * (1..SCRAM_SNONCE_MAX printable ASCII characters other than ','): for
 * tests and known-answer vectors only; never use a predictable nonce.
 */
int scram_server_first_nonce(struct scram_state *st, const struct scram_secret *sec,
			     const unsigned char fake_key[SCRAM_KEY_LEN], const char *snonce,
			     size_t sn_len, char *out, size_t cap);

/*
 * Check the client-final-message msg[0..n): "c=B64(gs2 header),r=NONCE
 * [,EXTENSIONS],p=PROOF". Returns 0 with "v=SERVERSIGNATURE" in out[cap]
 * when the proof is right; 1 with "e=invalid-proof" when it is wrong or
 * the user was unknown (the whole computation runs in both cases); -1
 * when malformed, out of order or out is too small. The state is spent
 * afterwards (any further call returns -1).
 */
int scram_client_final(struct scram_state *st, const char *msg, size_t n, char *out, size_t cap);

/* Wipe st (it holds the user's StoredKey and ServerKey). */
void scram_state_wipe(struct scram_state *st);

#endif
