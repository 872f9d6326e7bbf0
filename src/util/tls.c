/*
 * tls: contexts, SNI selection, ticket keys and descriptions (see tls.h).
 *
 * Security role: the policy here is what every TLS listener gets; nothing
 * weaker can be configured. Private keys arrive as PEM bytes and are
 * wiped from our buffers once OpenSSL has parsed them.
 */
#include "util/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "util/log.h"
#include "util/str.h"

#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS   "X25519:P-256"
#define TLS_NAME_MAX 256

struct tls_ctx {
	SSL_CTX *ctx;
	char names[TLS_NAMES_MAX][TLS_NAME_MAX];
	size_t n_names;
};

struct tls_server {
	struct tls_ctx v[CONF_MAX_TLS];
	size_t n;
};

/* ---- reading the files ------------------------------------------------ */

static int tls_read(const char *path, char *buf, size_t cap, size_t *len, char *err, size_t ecap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		str_fmt(err, ecap, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0 || (size_t)n >= cap) {
		str_fmt(err, ecap, "%s: %s", path, n < 0 ? strerror(errno) : "file too large");
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int tls_pem_load(const struct conf_tls *t, struct tls_pem *pem, char *err, size_t cap)
{
	if (tls_read(t->cert, pem->cert, sizeof pem->cert, &pem->cert_len, err, cap) < 0 ||
	    tls_read(t->key, pem->key, sizeof pem->key, &pem->key_len, err, cap) < 0) {
		tls_pem_wipe(pem);
		return -1;
	}
	return 0;
}

void tls_pem_wipe(struct tls_pem *pem)
{
	OPENSSL_cleanse(pem->key, sizeof pem->key);
	pem->key_len = 0;
}

void tls_conf_free(struct tls_pem *pems, size_t n)
{
	if (!pems)
		return;
	for (size_t i = 0; i < n; i++)
		tls_pem_wipe(&pems[i]);
	free(pems);
}

struct tls_pem *tls_conf_read(const struct conf *c, char *err, size_t cap)
{
	struct tls_pem *pems = calloc(c->n_tls ? c->n_tls : 1, sizeof *pems);
	char why[TLS_ERR_MAX];
	size_t bad = 0;

	if (!pems) {
		str_fmt(err, cap, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < c->n_tls; i++)
		if (tls_pem_load(&c->tls[i], &pems[i], why, sizeof why) < 0) {
			str_fmt(err, cap, "%s:%d: tls: %s", c->path, c->tls[i].line, why);
			tls_conf_free(pems, c->n_tls);
			return NULL;
		}
	struct tls_server *ts = tls_server_new(pems, c->n_tls, &bad, why, sizeof why);
	if (!ts) {
		str_fmt(err, cap, "%s:%d: tls: cert %s key %s: %s", c->path, c->tls[bad].line,
			c->tls[bad].cert, c->tls[bad].key, why);
		tls_conf_free(pems, c->n_tls);
		return NULL;
	}
	tls_server_free(ts);
	return pems;
}

/* ---- ticket keys --------------------------------------------------------- */

struct tls_ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
	int set;
};

static struct tls_ticket_key tk_cur, tk_prev;

void tls_tickets_rotate(void)
{
	tk_prev = tk_cur;
	if (RAND_bytes(tk_cur.name, sizeof tk_cur.name) != 1 ||
	    RAND_bytes(tk_cur.aes, sizeof tk_cur.aes) != 1 ||
	    RAND_bytes(tk_cur.hmac, sizeof tk_cur.hmac) != 1)
		fatal("cannot make a session ticket key");
	tk_cur.set = 1;
}

void tls_tickets_get(unsigned char key[TLS_TICKET_KEY_LEN])
{
	if (!tk_cur.set)
		tls_tickets_rotate();
	memcpy(key, tk_cur.name, 16);
	memcpy(key + 16, tk_cur.aes, 32);
	memcpy(key + 48, tk_cur.hmac, 32);
}

void tls_tickets_set(const unsigned char key[TLS_TICKET_KEY_LEN])
{
	if (tk_cur.set && memcmp(tk_cur.name, key, 16) == 0)
		return;
	tk_prev = tk_cur;
	memcpy(tk_cur.name, key, 16);
	memcpy(tk_cur.aes, key + 16, 32);
	memcpy(tk_cur.hmac, key + 48, 32);
	tk_cur.set = 1;
}

/* Fetched once per process: EVP_aes_256_cbc() would look it up per ticket. */
static EVP_CIPHER *tk_cipher;

static int tls_ticket_keys(const struct tls_ticket_key *k, unsigned char *iv, EVP_CIPHER_CTX *c,
			   EVP_MAC_CTX *h, int enc)
{
	OSSL_PARAM params[2];

	if (!tk_cipher && (tk_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(h, params) != 1 ||
	    EVP_MAC_init(h, k->hmac, sizeof k->hmac, NULL) != 1)
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(c, tk_cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
	return EVP_DecryptInit_ex(c, tk_cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
}

static int tls_ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *c,
			 EVP_MAC_CTX *h, int enc)
{
	if (!tk_cur.set)
		tls_tickets_rotate();
	if (enc) {
		memcpy(name, tk_cur.name, 16);
		if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    tls_ticket_keys(&tk_cur, iv, c, h, 1) < 0)
			return -1;
		return 1;
	}
	if (memcmp(name, tk_cur.name, 16) == 0)
		return tls_ticket_keys(&tk_cur, iv, c, h, 0) < 0 ? -1 : 1;
	if (tk_prev.set && memcmp(name, tk_prev.name, 16) == 0)
		return tls_ticket_keys(&tk_prev, iv, c, h, 0) < 0 ? -1 : 2; /* 2: renew */
	return 0; /* unknown key: full handshake */
}

/* ---- contexts ------------------------------------------------------------ */

static int tls_verify_any(int ok, X509_STORE_CTX *x)
{
	return 1; /* we only record a client certificate, we do not require one */
}

static SSL_CTX *tls_ctx_policy(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid[] = "sealpost";

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * A client that closes without close_notify (after QUIT, most do) ends
	 * the session normally: SMTP frames its own data (the final dot, BDAT
	 * LAST), so a cut stream cannot truncate anything we accept.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
				     SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* OpenSSL 3 refuses client-initiated renegotiation unless asked to allow it. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_any);
	/* One TLS 1.3 ticket, not OpenSSL's two (meant for browsers opening
	 * parallel connections): an MTA caches one session per destination. */
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void tls_ssl_err(char *err, size_t cap, const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	str_fmt(err, cap, "%s: %s", what, e ? buf : "unknown error");
}

/* Load one PEM pair into ctx; the key must match the certificate. */
static int tls_ctx_add(SSL_CTX *ctx, const struct tls_pem *p, X509 **leaf, char *err, size_t cap)
{
	BIO *cb = BIO_new_mem_buf(p->cert, (int)p->cert_len);
	BIO *kb = BIO_new_mem_buf(p->key, (int)p->key_len);
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	int rc = -1;

	if (!x)
		tls_ssl_err(err, cap, "certificate unreadable");
	else if (!key)
		tls_ssl_err(err, cap, "private key unreadable");
	else if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
		tls_ssl_err(err, cap, "certificate or key refused");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		tls_ssl_err(err, cap, "private key does not match the certificate");
	else
		rc = 0;
	for (X509 *ca; rc == 0 && (ca = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL;)
		if (SSL_CTX_add1_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			tls_ssl_err(err, cap, "chain certificate refused");
			rc = -1;
		} else {
			X509_free(ca);
		}
	ERR_clear_error(); /* end of the chain reads as an error */
	EVP_PKEY_free(key);
	BIO_free(kb);
	BIO_free(cb);
	if (rc == 0)
		*leaf = x;
	else
		X509_free(x);
	return rc;
}

/* The DNS names of a certificate (SAN, else CN), lowercased. */
static void tls_names(X509 *x, struct tls_ctx *tc)
{
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	tc->n_names = 0;
	for (int i = 0; san && i < sk_GENERAL_NAME_num(san) && tc->n_names < TLS_NAMES_MAX; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type != GEN_DNS)
			continue;
		const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
		int len = ASN1_STRING_length(g->d.dNSName);
		if (len > 0 && str_copyn(tc->names[tc->n_names], TLS_NAME_MAX, (const char *)d,
					 (size_t)len) == 0)
			str_lower(tc->names[tc->n_names++]);
	}
	GENERAL_NAMES_free(san);
	if (tc->n_names == 0 && X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
							  tc->names[0], TLS_NAME_MAX) > 0) {
		str_lower(tc->names[0]);
		tc->n_names = 1;
	}
}

static int tls_name_match(const char *pattern, const char *host)
{
	if (strncmp(pattern, "*.", 2) == 0) {
		const char *dot = strchr(host, '.');
		return dot && dot != host && strcasecmp(pattern + 1, dot) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

static int tls_same_names(const struct tls_ctx *a, const struct tls_ctx *b)
{
	if (a->n_names != b->n_names)
		return 0;
	for (size_t i = 0; i < a->n_names; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return 0;
	return 1;
}

static int tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *ts = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (!host)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < ts->n; i++)
		for (size_t j = 0; j < ts->v[i].n_names; j++)
			if (tls_name_match(ts->v[i].names[j], host)) {
				if (i > 0)
					SSL_set_SSL_CTX(ssl, ts->v[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	return SSL_TLSEXT_ERR_NOACK; /* unknown name: the default certificate */
}

/* Add pair p: into an existing context with the same names (another key type) or a new one. */
static int tls_server_add(struct tls_server *ts, const struct tls_pem *p, char *err, size_t cap)
{
	struct tls_ctx probe;
	SSL_CTX *tmp = tls_ctx_policy();
	X509 *leaf = NULL;

	if (!tmp || tls_ctx_add(tmp, p, &leaf, err, cap) < 0) {
		SSL_CTX_free(tmp);
		return -1;
	}
	tls_names(leaf, &probe);
	X509_free(leaf);
	for (size_t i = 0; i < ts->n; i++)
		if (tls_same_names(&ts->v[i], &probe)) {
			SSL_CTX_free(tmp);
			if (tls_ctx_add(ts->v[i].ctx, p, &leaf, err, cap) < 0)
				return -1;
			X509_free(leaf);
			return 0;
		}
	probe.ctx = tmp;
	ts->v[ts->n++] = probe;
	return 0;
}

struct tls_server *tls_server_new(const struct tls_pem *pems, size_t n, size_t *bad, char *err,
				  size_t cap)
{
	struct tls_server *ts = OPENSSL_zalloc(sizeof *ts);

	if (!ts || n == 0 || n > CONF_MAX_TLS) {
		str_fmt(err, cap, "no certificate");
		OPENSSL_free(ts);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char why[TLS_ERR_MAX];
		if (tls_server_add(ts, &pems[i], why, sizeof why) < 0) {
			str_copy(err, cap, why);
			if (bad)
				*bad = i;
			tls_server_free(ts);
			return NULL;
		}
	}
	SSL_CTX_set_tlsext_servername_callback(ts->v[0].ctx, tls_sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ts->v[0].ctx, ts);
	return ts;
}

void tls_server_free(struct tls_server *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		SSL_CTX_free(ts->v[i].ctx); /* live connections hold their own reference */
	OPENSSL_free(ts);
}

SSL *tls_server_ssl(struct tls_server *ts)
{
	return SSL_new(ts->v[0].ctx);
}

void tls_describe(SSL *ssl, char *out, size_t cap)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg = 0, bits = c ? SSL_CIPHER_get_bits(c, &alg) : 0;

	if (str_fmt(out, cap, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		    c ? SSL_CIPHER_get_name(c) : "none", bits, alg) < 0)
		str_copy(out, cap, "TLS");
}

void tls_peer_subject(SSL *ssl, char *out, size_t cap)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	out[0] = '\0';
	if (!x)
		return;
	char *s = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
	if (s)
		str_sanitize(out, cap, s, strlen(s));
	OPENSSL_free(s);
	X509_free(x);
}
