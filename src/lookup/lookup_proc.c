/*
 * lookup_proc: the lookup process — the only one that reads the users
 * file (password hashes). SMTP workers ask it whether a recipient is a
 * local mailbox; it answers with the mailbox name, never with anything
 * from the file beyond that. The file is reloaded when it changes (checked
 * every LOOKUP_RELOAD_CHECK seconds) and on SIGHUP; a file that fails to
 * parse is refused with a log line and the previous users stay in force.
 *
 * Recipients: a user's address or extra address -> that user's mailbox;
 * postmaster@ and abuse@ of every local domain (and <Postmaster>) -> the
 * mailbox named by the `postmaster` directive, or postmaster@domain.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lookup/counter.h"
#include "lookup/dns.h"
#include "lookup/lookup_guard.h"
#include "lookup/lookup_int.h"
#include "parent/proc.h"
#include "queue/queue_spool.h"
#include "util/log.h"
#include "util/str.h"

#define LOOKUP_RELOAD_CHECK 2

struct lookup L;

static void lookup_reload(int force)
{
	struct users fresh = USERS_INIT;
	char err[USERS_ERR_MAX];
	struct stat st;

	if (stat(L.conf->users_file, &st) < 0) {
		if (force || L.loaded)
			log_error("users file %s: %s", L.conf->users_file, strerror(errno));
		return;
	}
	if (!force && L.loaded && st.st_mtim.tv_sec == L.st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == L.st.st_mtim.tv_nsec && st.st_ino == L.st.st_ino &&
	    st.st_size == L.st.st_size)
		return;
	if (users_load(L.conf->users_file, &fresh, err, sizeof err) < 0) {
		log_error("%s; keeping the users loaded before", err);
		L.st = st; /* do not retry until it changes again */
		return;
	}
	users_free(&L.users);
	L.users = fresh;
	L.loaded = 1;
	L.st = st;
	log_info("loaded %zu user(s) from %s", L.users.n, L.conf->users_file);
}

static int lookup_is_role(const char *local, size_t n)
{
	return str_eqn_nocase(local, n, "postmaster") || str_eqn_nocase(local, n, "abuse");
}

/* Resolve addr to a mailbox; returns an ipc_rcpt_status. */
static uint32_t lookup_rcpt(const char *addr, char *mbox, size_t cap)
{
	const char *at = strrchr(addr, '@');
	const struct user *u;

	if (!at ? !str_eqn_nocase(addr, strlen(addr), "postmaster")
		: !conf_find_domain(L.conf, at + 1, strlen(at + 1)))
		return IPC_RCPT_UNKNOWN;
	if (!L.loaded)
		return IPC_RCPT_TEMPFAIL;
	if (at && (u = users_find(&L.users, addr)) != NULL)
		return str_copy(mbox, cap, u->addr) < 0 ? IPC_RCPT_TEMPFAIL : IPC_RCPT_OK;
	if (!at || lookup_is_role(addr, (size_t)(at - addr))) {
		const char *dom = at ? at + 1 : L.conf->domains[0].name;
		if (L.conf->postmaster[0])
			return str_copy(mbox, cap, L.conf->postmaster) < 0 ? IPC_RCPT_TEMPFAIL
									   : IPC_RCPT_OK;
		return str_fmt(mbox, cap, "postmaster@%s", dom) < 0 ? IPC_RCPT_TEMPFAIL
								    : IPC_RCPT_OK;
	}
	return IPC_RCPT_UNKNOWN;
}

static void lookup_on_rcpt(struct ipc_chan *ch, struct ipc_msg *m)
{
	char addr[SMTP_ADDR_MAX], mbox[SMTP_ADDR_MAX] = "", ip[64], login[SMTP_ADDR_MAX];
	uint64_t req = ipc_get_u64(m);
	uint32_t status, flags;

	ipc_get_str(m, addr, sizeof addr);
	ipc_get_str(m, ip, sizeof ip);
	ipc_get_str(m, login, sizeof login);
	flags = ipc_get_u32(m);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed lookup request", ipc_chan_peer(ch));
	/* Every recipient tried counts, known or not (as Postfix's anvil):
	 * otherwise the rate would not slow down address harvesting. */
	if (lookup_rcpt_over_rate(ip, login, flags))
		status = IPC_RCPT_RATE;
	else if (flags & IPC_RCPT_F_REMOTE)
		status = str_copy(mbox, sizeof mbox, QENV_MBOX_REMOTE) < 0 ? IPC_RCPT_TEMPFAIL
									   : IPC_RCPT_OK;
	else
		status = lookup_rcpt(addr, mbox, sizeof mbox);
	if (status == IPC_RCPT_RATE) {
		log_info("[%s]%s%s: RCPT to=<%s> refused: %s", ip, login[0] ? " user=" : "", login,
			 addr, login[0] ? "user-recipient-rate" : "recipient-rate");
	}
	ipc_msg_init(L.out, IPC_RCPT_RESULT);
	ipc_put_u64(L.out, req);
	ipc_put_u32(L.out, status);
	ipc_put_str(L.out, status == IPC_RCPT_OK ? mbox : "");
	if (ipc_send(ch, L.out) < 0)
		log_error("cannot answer %s", ipc_chan_peer(ch));
}

static void lookup_on_worker(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	if (m->fd >= 0)
		fatal("%s sent a descriptor", ipc_chan_peer(ch));
	switch (m->type) {
	case IPC_RCPT_CHECK:
		lookup_on_rcpt(ch, m);
		break;
	case IPC_AUTH_START:
		lookup_on_auth_start(ch, m);
		break;
	case IPC_AUTH_STEP:
		lookup_on_auth_step(ch, m);
		break;
	case IPC_AUTH_ABORT:
		lookup_on_auth_abort(ch, m);
		break;
	case IPC_SENDER_CHECK:
		lookup_on_sender_check(ch, m);
		break;
	case IPC_CONN_OPEN:
		lookup_on_conn_open(ch, m);
		break;
	case IPC_CONN_PASS:
		lookup_on_conn_pass(ch, m);
		break;
	case IPC_CONN_CLOSE:
		lookup_on_conn_close(ch, m);
		break;
	case IPC_DNS_QUERY:
		lookup_on_dns_query(ch, m);
		break;
	case IPC_DMARC_RECORD:
		lookup_on_dmarc_record(ch, m);
		break;
	default:
		fatal("%s sent an unexpected record type %u", ipc_chan_peer(ch), m->type);
	}
}

static void lookup_on_closed(struct ipc_chan *ch, void *arg)
{
	log_info("%s closed its channel; lookup exits", ipc_chan_peer(ch));
	exit(0);
}

/* A worker that stops (or dies: the parent then stops the server) does not
 * end lookup: the other workers may still wait for its answers. */
static void lookup_on_worker_closed(struct ipc_chan *ch, void *arg)
{
	log_info("%s closed its channel", ipc_chan_peer(ch));
}

static void lookup_on_timer(evutil_socket_t fd, short what, void *arg)
{
	lookup_reload(0);
}

static void lookup_on_hup(evutil_socket_t sig, short what, void *arg)
{
	lookup_reload(1);
}

static void lookup_on_term(evutil_socket_t sig, short what, void *arg)
{
	exit(0);
}

static void lookup_events(void)
{
	struct timeval tv = {LOOKUP_RELOAD_CHECK, 0};
	struct event *tick = event_new(L.base, -1, EV_PERSIST, lookup_on_timer, NULL);
	struct event *hup = evsignal_new(L.base, SIGHUP, lookup_on_hup, NULL);
	struct event *term = evsignal_new(L.base, SIGTERM, lookup_on_term, NULL);

	if (!tick || !hup || !term || event_add(tick, &tv) < 0 || evsignal_add(hup, NULL) < 0 ||
	    evsignal_add(term, NULL) < 0)
		fatal("cannot set up lookup events");
}

int lookup_main(struct proc_setup *s)
{
	int keep[PROC_WORKERS_MAX + 1];
	size_t n = 0;
	char err[256];

	log_setproc("lookup");
	for (unsigned i = 0; i < s->n_workers; i++)
		keep[n++] = s->w_lookup[i][0];
	keep[n++] = s->q_lookup[0];
	proc_close_except(s, keep, n);
	proc_drop(&s->queue_id, NULL, "lookup");
	L.conf = s->conf;
	L.base = event_base_new();
	L.out = malloc(sizeof *L.out);
	if (!L.base || !L.out)
		fatal("cannot set up lookup");
	lookup_reload(1);
	lookup_auth_init(s->conf->spool);
	if (dns_init(L.base, s->conf, err, sizeof err) < 0)
		fatal("DNS resolver: %s", err);
	if (counter_init(L.base, &s->conf->limits) < 0)
		fatal("cannot set up the rate counters");
	guard_init(&s->conf->auth);
	lookup_conn_init();
	for (unsigned i = 0; i < s->n_workers; i++) {
		char name[32];
		str_fmt(name, sizeof name, "smtp worker %u", i);
		if (!ipc_chan_new(L.base, s->w_lookup[i][0], name, lookup_on_worker,
				  lookup_on_worker_closed, NULL))
			fatal("cannot set up the channel to %s", name);
	}
	/* The queue asks like a worker does (RCPT_CHECK), for bounces. */
	if (!ipc_chan_new(L.base, s->q_lookup[0], "queue", lookup_on_worker, lookup_on_closed,
			  NULL))
		fatal("cannot set up the channel to the queue");
	lookup_events();
	log_info("ready");
	event_base_dispatch(L.base);
	return 0;
}
