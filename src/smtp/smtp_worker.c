/*
 * smtp_worker: the SMTP worker process. Drops privileges (chroot to an
 * empty directory, the unprivileged `user`), accepts connections on the
 * listeners the parent bound, and carries requests between sessions and
 * the lookup and queue processes.
 *
 * Replies from other processes name the session by its id; a reply for a
 * session that has gone away is dropped (an opened queue file is closed
 * and aborted so the queue can remove it).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>

#include "auth/dmarc.h"
#include "parent/proc.h"
#include "smtp/smtp_check.h"
#include "smtp/smtp_int.h"
#include "util/log.h"
#include "util/str.h"

#define SMTP_STOP_WAIT 8 /* seconds a stopping worker waits for its sessions */

struct smtp_worker W;
static struct ipc_msg *smtp_out; /* one outbound record, reused */

static struct ipc_msg *smtp_msg(uint32_t type)
{
	ipc_msg_init(smtp_out, type);
	return smtp_out;
}

void smtp_send_rcpt_check(struct smtp_session *s, const char *addr, uint32_t flags)
{
	struct ipc_msg *m = smtp_msg(IPC_RCPT_CHECK);

	str_copy(s->pending_rcpt, sizeof s->pending_rcpt, addr);
	ipc_put_u64(m, s->id);
	ipc_put_str(m, addr);
	ipc_put_str(m, s->addr);
	ipc_put_str(m, s->auth_user);
	ipc_put_u32(m, flags);
	if (ipc_send(W.lookup, m) < 0) {
		smtp_reply(s, "451 4.3.0 Lookup service unavailable, try again later");
		return;
	}
	s->wait = SW_LOOKUP;
}

/* IPC_CONN_OPEN, _PASS or _CLOSE for this session's client. 0 or -1. */
static int smtp_send_conn_ip(const char *ip, uint64_t sid, uint32_t flags, uint32_t type)
{
	struct ipc_msg *m = smtp_msg(type);

	if (type == IPC_CONN_OPEN)
		ipc_put_u64(m, sid);
	ipc_put_str(m, ip);
	if (type != IPC_CONN_PASS)
		ipc_put_u32(m, flags);
	if (ipc_send(W.lookup, m) < 0) {
		log_error("[%s]: cannot reach the lookup process", ip);
		return -1;
	}
	return 0;
}

int smtp_send_conn(struct smtp_session *s, uint32_t type)
{
	return smtp_send_conn_ip(s->addr, s->id, s->conn_flags, type);
}

void smtp_send_auth_start(struct smtp_session *s, const char *mech, const char *init, size_t n)
{
	struct ipc_msg *m = smtp_msg(IPC_AUTH_START);

	ipc_put_u64(m, s->id);
	ipc_put_str(m, s->addr);
	ipc_put_str(m, mech);
	ipc_put_u32(m, init != NULL);
	ipc_put_strn(m, init ? init : "", n);
	if (ipc_send(W.lookup, m) < 0) {
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->auth_active = 1;
	s->wait = SW_AUTH;
}

void smtp_send_auth_step(struct smtp_session *s, const char *resp, size_t n)
{
	struct ipc_msg *m = smtp_msg(IPC_AUTH_STEP);

	ipc_put_u64(m, s->id);
	ipc_put_strn(m, resp, n);
	if (ipc_send(W.lookup, m) < 0) {
		smtp_on_auth_reply(s, IPC_AUTH_TEMPFAIL, "");
		return;
	}
	s->wait = SW_AUTH;
}

void smtp_send_auth_abort(struct smtp_session *s)
{
	struct ipc_msg *m = smtp_msg(IPC_AUTH_ABORT);

	ipc_put_u64(m, s->id);
	if (ipc_send(W.lookup, m) < 0)
		log_error("could not tell lookup to drop an AUTH exchange");
}

void smtp_send_sender_check(struct smtp_session *s, const char *addrs)
{
	struct ipc_msg *m = smtp_msg(IPC_SENDER_CHECK);

	ipc_put_u64(m, s->id);
	ipc_put_str(m, s->auth_user);
	ipc_put_u32(m, s->sender_phase == SP_FROM_HEADER);
	ipc_put_str(m, addrs);
	if (ipc_send(W.lookup, m) < 0) {
		smtp_on_sender_result(s, 2);
		return;
	}
	s->wait = SW_SENDER;
}

int smtp_send_open(struct smtp_session *s)
{
	struct ipc_msg *m = smtp_msg(IPC_MSG_OPEN);

	ipc_put_u64(m, s->id);
	ipc_put_str(m, s->addr);
	ipc_put_str(m, s->helo);
	ipc_put_str(m, s->from);
	ipc_put_u32(m, s->mail_flags);
	ipc_put_u32(m, s->n_rcpt);
	if (ipc_send(W.queue, m) < 0)
		return -1;
	for (unsigned i = 0; i < s->n_rcpt; i++) {
		m = smtp_msg(IPC_MSG_RCPT);
		ipc_put_u64(m, s->id);
		ipc_put_str(m, s->rcpt[i].addr);
		ipc_put_str(m, s->rcpt[i].mbox);
		if (ipc_send(W.queue, m) < 0)
			fatal("lost the queue in the middle of an envelope");
	}
	return 0;
}

void smtp_send_commit(struct smtp_session *s)
{
	struct ipc_msg *m = smtp_msg(IPC_MSG_COMMIT);

	ipc_put_u64(m, s->id);
	ipc_put_str(m, s->qid);
	ipc_put_u64(m, s->written);
	ipc_put_str(m, s->junk ? "folder Junk\n" : "");
	ipc_put_str(m, s->late_prefix ? s->late_prefix : "");
	if (ipc_send(W.queue, m) < 0)
		fatal("lost the queue");
}

void smtp_send_dmarc_record(const char *line)
{
	struct ipc_msg *m = smtp_msg(IPC_DMARC_RECORD);

	ipc_put_str(m, line);
	if (ipc_send(W.lookup, m) < 0)
		log_error("could not hand a DMARC record to lookup");
}

void smtp_send_abort(const char *qid)
{
	struct ipc_msg *m = smtp_msg(IPC_MSG_ABORT);

	ipc_put_str(m, qid);
	if (ipc_send(W.queue, m) < 0)
		log_error("%s: could not tell the queue to drop it", qid);
}

/* Resume a session after a reply from another process. */
static void smtp_resume(struct smtp_session *s)
{
	s->cmd_since = time(NULL);
	smtp_process(s);
}

static void smtp_on_rcpt_reply(struct ipc_msg *m)
{
	char mbox[SMTP_ADDR_MAX];
	uint64_t id = ipc_get_u64(m);
	uint32_t status = ipc_get_u32(m);
	struct smtp_session *s;

	ipc_get_str(m, mbox, sizeof mbox);
	if (ipc_end(m) < 0)
		fatal("malformed record from lookup");
	if ((s = smtp_session_find(id)) == NULL || s->wait != SW_LOOKUP)
		return;
	smtp_on_rcpt_result(s, status, mbox);
	smtp_resume(s);
}

static void smtp_on_auth_msg(struct ipc_msg *m)
{
	static char data[SMTP_AUTH_LINE_MAX];
	uint64_t id = ipc_get_u64(m);
	uint32_t status = ipc_get_u32(m);
	struct smtp_session *s;

	ipc_get_str(m, data, sizeof data);
	if (ipc_end(m) < 0 || status > IPC_AUTH_LOCKED)
		fatal("malformed AUTH record from lookup");
	if ((s = smtp_session_find(id)) == NULL || s->wait != SW_AUTH)
		return;
	smtp_on_auth_reply(s, status, data);
	smtp_resume(s);
}

static void smtp_on_sender_msg(struct ipc_msg *m)
{
	uint64_t id = ipc_get_u64(m);
	uint32_t ok = ipc_get_u32(m);
	struct smtp_session *s;

	if (ipc_end(m) < 0)
		fatal("malformed sender record from lookup");
	if ((s = smtp_session_find(id)) == NULL || s->wait != SW_SENDER)
		return;
	smtp_on_sender_result(s, ok);
	smtp_resume(s);
}

static void smtp_on_verdict_msg(struct ipc_msg *m)
{
	char ip[SMTP_CLIENT_MAX], detail[512];
	uint64_t id = ipc_get_u64(m);
	uint32_t verdict = ipc_get_u32(m), pregreet = ipc_get_u32(m), flags;
	struct smtp_session *s;

	ipc_get_str(m, ip, sizeof ip);
	flags = ipc_get_u32(m);
	ipc_get_str(m, detail, sizeof detail);
	if (ipc_end(m) < 0 || verdict >= IPC_CONN_VERDICT_MAX)
		fatal("malformed connection verdict from lookup");
	if ((s = smtp_session_find(id)) == NULL || s->wait != SW_GREET) {
		if (verdict == IPC_CONN_OK) /* gone meanwhile: give its slot back */
			smtp_send_conn_ip(ip, id, flags, IPC_CONN_CLOSE);
		return;
	}
	smtp_on_conn_verdict(s, verdict, pregreet, detail);
}

static void smtp_on_lookup(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	if (m->fd >= 0)
		fatal("lookup sent a descriptor");
	if (m->type == IPC_RCPT_RESULT)
		smtp_on_rcpt_reply(m);
	else if (m->type == IPC_AUTH_REPLY)
		smtp_on_auth_msg(m);
	else if (m->type == IPC_SENDER_RESULT)
		smtp_on_sender_msg(m);
	else if (m->type == IPC_CONN_VERDICT)
		smtp_on_verdict_msg(m);
	else if (m->type == IPC_DNS_ANSWER)
		smtp_on_dns_answer(m);
	else
		fatal("unexpected record type %u from lookup", m->type);
}

static void smtp_on_queue_opened(struct ipc_msg *m)
{
	char id[QUEUE_ID_SIZE + 1];
	uint64_t sid = ipc_get_u64(m);
	uint32_t ok = ipc_get_u32(m);
	struct smtp_session *s;

	ipc_get_str(m, id, sizeof id);
	if (ipc_end(m) < 0 || (ok && (m->fd < 0 || !queue_id_valid(id))))
		fatal("malformed OPENED record from the queue");
	if ((s = smtp_session_find(sid)) == NULL || s->wait != SW_OPEN) {
		if (m->fd >= 0)
			close(m->fd);
		if (ok)
			smtp_send_abort(id);
		return;
	}
	smtp_on_opened(s, (int)ok, id, m->fd);
	m->fd = -1;
	smtp_resume(s);
}

static void smtp_on_queue_committed(struct ipc_msg *m)
{
	char why[256];
	uint64_t sid = ipc_get_u64(m);
	uint32_t ok = ipc_get_u32(m);
	struct smtp_session *s;

	ipc_get_str(m, why, sizeof why);
	if (ipc_end(m) < 0 || m->fd >= 0)
		fatal("malformed COMMITTED record from the queue");
	if ((s = smtp_session_find(sid)) == NULL || s->wait != SW_COMMIT)
		return;
	smtp_on_committed(s, (int)ok, why);
	smtp_resume(s);
}

static void smtp_on_queue(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	if (m->type == IPC_MSG_OPENED)
		smtp_on_queue_opened(m);
	else if (m->type == IPC_MSG_COMMITTED)
		smtp_on_queue_committed(m);
	else
		fatal("unexpected record type %u from the queue", m->type);
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

static void smtp_on_closed(struct ipc_chan *ch, void *arg)
{
	log_info("%s closed its channel; smtp worker exits", ipc_chan_peer(ch));
	exit(0);
}

static void smtp_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			   int salen, void *arg)
{
	smtp_session_start(fd, arg, sa, salen);
}

static void smtp_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	evconnlistener_enable(arg);
}

static void smtp_on_accept_error(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {1, 0};

	log_error("accept failed: %s", evutil_socket_error_to_string(err));
	if (err == EMFILE || err == ENFILE) {
		/* Out of descriptors: pause accepting for a second rather than spin. */
		evconnlistener_disable(l);
		if (event_base_once(W.base, -1, EV_TIMEOUT, smtp_accept_resume, l, &tv) < 0)
			evconnlistener_enable(l);
	}
}

static void smtp_on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	log_warn("stopping with %u session(s) still open after %d s", W.n_sessions, SMTP_STOP_WAIT);
	exit(0);
}

/*
 * SIGTERM (the parent stops the workers first, while the queue and lookup
 * still run): stop accepting, answer 421 to every session that waits for
 * nothing owed to it, let a message at its final dot get its 250 (or
 * refusal) first, and exit when the last session is gone, or after
 * SMTP_STOP_WAIT. A client never misses the 250 of a message we keep.
 */
static void smtp_on_term(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = {SMTP_STOP_WAIT, 0};

	if (W.stopping)
		return;
	W.stopping = 1;
	for (size_t i = 0; i < W.n_listeners; i++)
		evconnlistener_free(W.listeners[i]); /* closes our copy of the socket */
	W.n_listeners = 0;
	log_info("stopping: %u session(s) open", W.n_sessions);
	if (W.n_sessions == 0)
		exit(0);
	smtp_stop_all();
	if (event_base_once(W.base, -1, EV_TIMEOUT, smtp_on_stop_timer, NULL, &tv) < 0)
		exit(0);
}

static void smtp_listen(struct proc_setup *s, struct smtp_listener *lis)
{
	/* Backlog 0: already listening (libevent would otherwise call listen()
	 * again with 128 and undo the parent's larger backlog). */
	for (size_t i = 0; i < s->n_listen; i++) {
		struct evconnlistener *l = evconnlistener_new(
		    W.base, smtp_on_accept, &lis[i], LEV_OPT_CLOSE_ON_FREE, 0, s->listen_fd[i]);
		if (!l)
			fatal("cannot watch listener %zu", i);
		evconnlistener_set_error_cb(l, smtp_on_accept_error);
		W.listeners[W.n_listeners++] = l;
	}
}

int smtp_worker_main(struct proc_setup *s, unsigned idx)
{
	int keep[CONF_MAX_LISTEN + 4];
	size_t n = 0;
	static struct smtp_listener lis[CONF_MAX_LISTEN + 1];
	char name[16];

	str_fmt(name, sizeof name, "smtp%u", idx);
	log_setproc(name);
	for (size_t i = 0; i < s->n_listen; i++)
		keep[n++] = s->listen_fd[i];
	keep[n++] = s->w_queue[idx][1];
	keep[n++] = s->w_lookup[idx][1];
	keep[n++] = s->w_parent[idx][1];
	proc_close_except(s, keep, n);
	close(s->spool_lock); /* the spool is not ours */
	W.conf = s->conf;
	W.base = event_base_new();
	if (!W.base)
		fatal("cannot create the event loop");
	smtp_tls_init(s->tls_pems, s->n_tls); /* keys parsed before the chroot and uid drop */
	if (s->conf->mailauth.checks) {	      /* the list file is read before the chroot */
		char err[256];
		if ((smtp_psl = psl_load(s->conf->mailauth.psl, err, sizeof err)) == NULL)
			fatal("public-suffix-list %s: %s", s->conf->mailauth.psl, err);
	}
	proc_drop(&s->worker_id, s->empty_dir, name);
	W.scratch = malloc(SMTP_SCRATCH);
	smtp_out = malloc(sizeof *smtp_out);
	if (!W.base || !W.scratch || !smtp_out)
		fatal("cannot set up the smtp worker");
	for (size_t i = 0; i < s->n_listen; i++) {
		lis[i].w = &W;
		lis[i].kind = i < s->conf->n_listen
				  ? (enum smtp_listener_kind)s->conf->listen[i].kind
				  : SL_LOCAL;
	}
	W.queue =
	    ipc_chan_new(W.base, s->w_queue[idx][1], "queue", smtp_on_queue, smtp_on_closed, NULL);
	W.lookup = ipc_chan_new(W.base, s->w_lookup[idx][1], "lookup", smtp_on_lookup,
				smtp_on_closed, NULL);
	W.parent = ipc_chan_new(W.base, s->w_parent[idx][1], "parent", smtp_on_parent,
				smtp_on_closed, NULL);
	if (!W.queue || !W.lookup || !W.parent)
		fatal("cannot set up IPC channels");
	smtp_limits_init();
	smtp_listen(s, lis);
	struct event *term = evsignal_new(W.base, SIGTERM, smtp_on_term, NULL);
	if (!term || evsignal_add(term, NULL) < 0)
		fatal("cannot watch signals");
	signal(SIGPIPE, SIG_IGN);
	event_base_dispatch(W.base);
	return 0;
}
