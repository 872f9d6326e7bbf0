/*
 * smtp_tls: TLS for SMTP sessions — STARTTLS (RFC 3207) on smtp and
 * submission listeners, implicit TLS (RFC 8314) on submissions listeners,
 * and certificate reloads sent by the parent.
 *
 * STARTTLS is done the careful way: the 220 goes out in clear, everything
 * the client pipelined after STARTTLS is thrown away (the CVE-2011-0411
 * command-injection class), the session is wrapped in an OpenSSL filter
 * and every bit of SMTP state is reset: the client must EHLO again.
 */
#include <string.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

#define SMTP_TLS_RETIRE 700 /* seconds an old certificate set is kept for handshakes in flight */
/*
 * Plaintext octets the filter reads in one go. libevent reserves room for
 * them in the session's input before each SSL_read(), also for the last
 * read that finds nothing, and an idle session keeps that empty room: its
 * default (16 KiB, so a 32 KiB block) made an idle TLS session cost 36 KiB
 * where a plaintext one costs 3. This fits a 4 KiB block with its header.
 */
#define SMTP_TLS_READ_MAX 4000

static struct tls_pem *tls_pending; /* pairs of an IPC reload being received */
static size_t tls_pending_n, tls_pending_want;

int smtp_tls_offered(const struct smtp_session *s)
{
	return W.tls && !s->tls && s->lis->kind != SL_LOCAL && s->lis->kind != SL_SUBMISSIONS;
}

/*
 * TLS as a filter over a plain socket bufferevent, for STARTTLS and port
 * 465 alike: its reads take whole TLS flights at once, where an OpenSSL
 * socket bufferevent reads every record in two system calls (measured:
 * more CPU per session). Not CLOSE_ON_FREE: at the end the plain one must
 * flush our last reply (smtp_tls_free). Takes ssl; NULL on failure.
 */
static struct bufferevent *smtp_tls_filter(struct bufferevent *raw, SSL *ssl)
{
	struct bufferevent *bev =
	    bufferevent_openssl_filter_new(W.base, raw, ssl, BUFFEREVENT_SSL_ACCEPTING, 0);

	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	if (bufferevent_set_max_single_read(bev, SMTP_TLS_READ_MAX) < 0)
		log_warn("cannot bound TLS reads: an idle session keeps more memory");
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void smtp_cmd_starttls(struct smtp_session *s, const char *arg, size_t n)
{
	struct bufferevent *tls_bev;
	SSL *ssl;

	if (s->tls) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		smtp_error(s);
		return;
	}
	if (!smtp_tls_offered(s)) {
		smtp_reply(s, "502 5.5.1 STARTTLS not available here");
		smtp_error(s);
		return;
	}
	if ((ssl = tls_server_ssl(W.tls)) == NULL) {
		smtp_reply(s, "454 4.7.0 TLS not available due to temporary reason");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_release(s); /* in clear, before the filter goes in */
	/* Anything pipelined after STARTTLS was sent in clear: never run it. */
	evbuffer_drain(bufferevent_get_input(s->bev),
		       evbuffer_get_length(bufferevent_get_input(s->bev)));
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	/* the 220 leaves through the plain bufferevent before the handshake */
	if ((tls_bev = smtp_tls_filter(s->bev, ssl)) == NULL) {
		log_error("%s: cannot start TLS", s->client);
		s->state = SS_CLOSING;
		return;
	}
	s->raw = s->bev;
	s->bev = tls_bev;
	s->tls = 1; /* from here on the session is TLS or nothing */
	s->tls_since = time(NULL);
	smtp_txn_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	smtp_session_callbacks(s);
	smtp_limits_bev(s, 0);
	/* the filter turned the plain one's EV_WRITE on: smtp_on_flush turns it
	 * off again once the 220 is out */
	bufferevent_enable(tls_bev, EV_READ | EV_WRITE);
}

int smtp_tls_accept(struct smtp_session *s, evutil_socket_t fd)
{
	SSL *ssl = W.tls ? tls_server_ssl(W.tls) : NULL;

	if (!ssl)
		return -1;
	if ((s->raw = bufferevent_socket_new(W.base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		SSL_free(ssl);
		return -1;
	}
	if ((s->bev = smtp_tls_filter(s->raw, ssl)) == NULL) {
		bufferevent_setfd(s->raw, -1); /* the caller closes fd */
		bufferevent_free(s->raw);
		s->raw = NULL;
		return -1;
	}
	return 0;
}

void smtp_tls_established(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	char peer[256];

	if (!ssl)
		return;
	tls_describe(ssl, s->tls_info, sizeof s->tls_info);
	tls_peer_subject(ssl, peer, sizeof peer);
	log_info("%s: TLS established: %s%s%s%s", s->client, s->tls_info,
		 SSL_session_reused(ssl) ? " (resumed)" : "", peer[0] ? " client-cert=" : "", peer);
}

void smtp_tls_close_notify(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

	/* once: smtp_on_flush sends it with the last reply, smtp_free otherwise */
	if (ssl && SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl); /* one-way: we do not wait for the client's */
	ERR_clear_error();
}

void smtp_tls_log_error(struct smtp_session *s)
{
	unsigned long e;
	char buf[256];

	while (s->tls && (e = bufferevent_get_openssl_error(s->bev)) != 0) {
		if (ERR_GET_LIB(e) == 0) /* libevent's copy of SSL_get_error(), not a reason */
			continue;
		ERR_error_string_n(e, buf, sizeof buf);
		log_info("%s: TLS error: %s", s->client, buf);
	}
}

static void smtp_linger_done(struct bufferevent *bev, void *arg)
{
	bufferevent_free(bev);
}

static void smtp_linger_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

/* Free a STARTTLS session's bufferevents, letting the last bytes reach the client. */
void smtp_tls_free(struct smtp_session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	struct bufferevent *raw = s->raw;
	struct timeval tv = {10, 0};

	bufferevent_free(s->bev);
	SSL_free(ssl);
	s->bev = s->raw = NULL;
	if (evbuffer_get_length(bufferevent_get_output(raw)) == 0) {
		bufferevent_free(raw);
		return;
	}
	bufferevent_setcb(raw, NULL, smtp_linger_done, smtp_linger_event, NULL);
	bufferevent_set_timeouts(raw, &tv, &tv);
	bufferevent_disable(raw, EV_READ);
	bufferevent_enable(raw, EV_WRITE);
}

/* ---- certificate reloads from the parent -------------------------------- */

static void smtp_tls_pending_free(void)
{
	if (tls_pending) {
		for (size_t i = 0; i < tls_pending_n; i++)
			tls_pem_wipe(&tls_pending[i]);
		free(tls_pending);
	}
	tls_pending = NULL;
	tls_pending_n = tls_pending_want = 0;
}

static void smtp_tls_retire(evutil_socket_t fd, short what, void *arg)
{
	tls_server_free(arg);
}

static void smtp_tls_install(void)
{
	char err[TLS_ERR_MAX];
	struct tls_server *ts = tls_server_new(tls_pending, tls_pending_n, NULL, err, sizeof err);

	if (!ts) {
		log_error("new TLS certificates refused, keeping the current ones: %s", err);
		return;
	}
	/* Handshakes in flight still use the old set (their SNI callback points
	 * at it): free it only after the longest a handshake may take. */
	struct timeval tv = {SMTP_TLS_RETIRE, 0};
	if (event_base_once(W.base, -1, EV_TIMEOUT, smtp_tls_retire, W.tls, &tv) < 0)
		log_warn("cannot schedule freeing the old certificates; keeping them");
	W.tls = ts;
	log_info("TLS certificates reloaded (%zu)", tls_pending_n);
}

void smtp_on_parent(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	if (m->fd >= 0)
		fatal("the parent sent a descriptor");
	if (m->type == IPC_TLS_BEGIN) {
		smtp_tls_pending_free();
		tls_pending_want = ipc_get_u32(m);
		if (ipc_end(m) < 0 || tls_pending_want == 0 || tls_pending_want > CONF_MAX_TLS ||
		    (tls_pending = calloc(tls_pending_want, sizeof *tls_pending)) == NULL)
			fatal("bad TLS reload from the parent");
	} else if (m->type == IPC_TLS_PAIR && tls_pending_n < tls_pending_want) {
		struct tls_pem *p = &tls_pending[tls_pending_n++];
		ipc_get_str(m, p->cert, sizeof p->cert);
		ipc_get_str(m, p->key, sizeof p->key);
		if (ipc_end(m) < 0)
			fatal("bad TLS reload from the parent");
		p->cert_len = strlen(p->cert);
		p->key_len = strlen(p->key);
	} else if (m->type == IPC_TLS_TICKET) {
		unsigned char key[TLS_TICKET_KEY_LEN];
		for (size_t i = 0; i < sizeof key; i += 8) {
			uint64_t v = ipc_get_u64(m);
			memcpy(key + i, &v, 8);
		}
		if (ipc_end(m) < 0)
			fatal("bad ticket key from the parent");
		tls_tickets_set(key);
		OPENSSL_cleanse(key, sizeof key);
	} else if (m->type == IPC_TLS_END && tls_pending_n == tls_pending_want && tls_pending) {
		smtp_tls_install();
		smtp_tls_pending_free();
	} else {
		fatal("unexpected record %u from the parent", m->type);
	}
	OPENSSL_cleanse(m->data, m->len);
}

void smtp_tls_init(struct tls_pem *pems, size_t n)
{
	char err[TLS_ERR_MAX];

	if (n == 0)
		return;
	if ((W.tls = tls_server_new(pems, n, NULL, err, sizeof err)) == NULL)
		fatal("TLS: %s", err);
	for (size_t i = 0; i < n; i++)
		tls_pem_wipe(&pems[i]);
	/* The ticket key came from the parent over fork; new ones arrive by IPC. */
}
