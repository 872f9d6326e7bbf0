/*
 * parent_tls: the parent reads the certificate and key files (it may be
 * the only process allowed to), checks them by building the same TLS
 * contexts the workers will, and hands the PEM bytes to the SMTP workers:
 * over fork at start, over IPC on SIGHUP. A broken new certificate is
 * refused with a log line naming it, and the workers keep the old one; live
 * sessions are never dropped (each holds a reference to its context).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ipc/ipc.h"
#include "parent/parent.h"
#include "util/log.h"
#include "util/str.h"

#define PARENT_TLS_SEND_MS 5000

int parent_tls_load(const struct conf *c, struct proc_setup *s)
{
	char err[TLS_ERR_MAX * 2];

	if (c->n_tls == 0)
		return 0;
	s->tls_pems = tls_conf_read(c, err, sizeof err);
	if (!s->tls_pems) {
		fprintf(stderr, "sealpost: %s\n", err);
		return -1;
	}
	s->n_tls = c->n_tls;
	tls_tickets_rotate(); /* the workers inherit the first ticket key */
	return 0;
}

static int parent_tls_send(int fd, const struct tls_pem *pems, size_t n)
{
	struct ipc_msg *m = malloc(sizeof *m);
	int rc = 0;

	if (!m)
		return -1;
	ipc_msg_init(m, IPC_TLS_BEGIN);
	ipc_put_u32(m, (uint32_t)n);
	rc |= ipc_send_now(fd, m, PARENT_TLS_SEND_MS);
	for (size_t i = 0; i < n && rc == 0; i++) {
		ipc_msg_init(m, IPC_TLS_PAIR);
		ipc_put_strn(m, pems[i].cert, pems[i].cert_len);
		ipc_put_strn(m, pems[i].key, pems[i].key_len);
		rc |= ipc_send_now(fd, m, PARENT_TLS_SEND_MS);
	}
	ipc_msg_init(m, IPC_TLS_END);
	rc |= ipc_send_now(fd, m, PARENT_TLS_SEND_MS);
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
	return rc;
}

/* Rotate the session ticket key and give every worker the new one. */
void parent_tls_rotate(struct proc_setup *s)
{
	struct ipc_msg *m = malloc(sizeof *m);
	unsigned char key[TLS_TICKET_KEY_LEN];

	if (!m || s->n_tls == 0) {
		free(m);
		return;
	}
	tls_tickets_rotate();
	tls_tickets_get(key);
	ipc_msg_init(m, IPC_TLS_TICKET);
	for (size_t i = 0; i < sizeof key; i += 8) {
		uint64_t v;
		memcpy(&v, key + i, 8);
		ipc_put_u64(m, v);
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		if (ipc_send_now(s->w_parent[i][0], m, PARENT_TLS_SEND_MS) < 0)
			log_error("could not send the ticket key to smtp worker %u", i);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
}

void parent_tls_reload(const struct conf *c, struct proc_setup *s)
{
	char err[TLS_ERR_MAX * 2];
	struct tls_pem *pems;

	if (c->n_tls == 0)
		return;
	if ((pems = tls_conf_read(c, err, sizeof err)) == NULL) {
		log_error("TLS reload refused, keeping the current certificates: %s", err);
		return;
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		if (parent_tls_send(s->w_parent[i][0], pems, c->n_tls) < 0)
			log_error("could not send the new certificates to smtp worker %u", i);
	tls_conf_free(pems, c->n_tls);
	log_info("TLS certificates re-read and sent to %u smtp worker(s)", s->n_workers);
}
