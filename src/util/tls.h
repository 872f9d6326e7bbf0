/*
 * tls: sealpost's server-side TLS policy, in one place.
 *
 * TLS 1.2 and 1.3 only; forward-secret AEAD ciphers only (ECDHE with
 * AES-GCM or ChaCha20-Poly1305, in the spirit of Mozilla's "intermediate"
 * profile, without DHE); groups X25519 and P-256; the server's cipher
 * order; no compression, no renegotiation; session tickets whose keys
 * rotate (tls_tickets_rotate). Certificates are chosen by SNI: each
 * `tls cert ... key ...` pair goes into the context of the names it
 * covers, so an RSA and an ECDSA certificate for the same names are
 * served side by side (the client's signature algorithms pick).
 *
 * The parent reads the PEM files (it may be the only one able to) and the
 * SMTP workers build their contexts from those bytes: at start from memory
 * inherited over fork, on SIGHUP from IPC records.
 */
#ifndef SEALPOST_TLS_H
#define SEALPOST_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "util/conf.h"

#define TLS_PEM_MAX   (30 * 1024) /* one certificate chain or key file */
#define TLS_NAMES_MAX 16	  /* DNS names per certificate used for SNI */
#define TLS_ERR_MAX   512

struct tls_pem {
	char cert[TLS_PEM_MAX];
	size_t cert_len;
	char key[TLS_PEM_MAX];
	size_t key_len;
};

struct tls_server;

/* Read the files of c->tls[i] into pem. 0, or -1 with "file: reason". */
int tls_pem_load(const struct conf_tls *t, struct tls_pem *pem, char *err, size_t cap);
/* Wipe the key bytes. */
void tls_pem_wipe(struct tls_pem *pem);

/*
 * Read every `tls` pair of c and check them by building the contexts the
 * workers will build. Returns a new array of c->n_tls pairs (release with
 * tls_conf_free), or NULL with "FILE:LINE: tls: ..." in err.
 */
struct tls_pem *tls_conf_read(const struct conf *c, char *err, size_t cap);
void tls_conf_free(struct tls_pem *pems, size_t n);

/*
 * Build the contexts from n PEM pairs (the first is the default). Checks
 * that every key matches its certificate. NULL with err set on failure,
 * and *bad (if not NULL) the index of the pair at fault.
 */
struct tls_server *tls_server_new(const struct tls_pem *pems, size_t n, size_t *bad, char *err,
				  size_t cap);
void tls_server_free(struct tls_server *ts);
/* A new server-side SSL for one connection (SNI switches its context). */
SSL *tls_server_ssl(struct tls_server *ts);

/* Session ticket keys: name, AES key, HMAC key. Every SMTP worker must use
 * the same ones, so a ticket from one worker resumes on another: the
 * parent makes them (tls_tickets_rotate) and sends them (tls_tickets_get /
 * tls_tickets_set). The previous key still decrypts after a rotation. */
#define TLS_TICKET_KEY_LEN 80
void tls_tickets_rotate(void);
void tls_tickets_get(unsigned char key[TLS_TICKET_KEY_LEN]);
void tls_tickets_set(const unsigned char key[TLS_TICKET_KEY_LEN]);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
void tls_describe(SSL *ssl, char *out, size_t cap);
/* The client certificate's subject, or "" when none was offered. */
void tls_peer_subject(SSL *ssl, char *out, size_t cap);

#endif
