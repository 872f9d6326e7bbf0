/*
 * remote_proc: the remote delivery process. The queue hands it jobs
 * (IPC_DELIVER: a queue file's descriptor and the recipients whose mailbox
 * is "@remote"); it groups each job's recipients by destination (the
 * recipient's domain, a domain literal, or the smarthost), routes each
 * destination once (remote_route.c, plus the MTA-STS policy), and feeds
 * the destination's messages to its connections (remote_conn.c and
 * remote_smtp.c), within outbound-connections in all and
 * outbound-connections-per-domain per destination. It answers the queue
 * one IPC_DELIVERED_RCPT per recipient (OK, TEMP or PERM with a reason)
 * and an IPC_DELIVERED_END per job; retries and bounces are the queue's.
 *
 * Security role: runs as the unprivileged worker user, not chrooted (it
 * needs DNS and the CA file); it reads queue files only through the
 * descriptors it is given and talks to the network; the smarthost
 * credentials are read before privileges are dropped and kept in memory.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "deliver/remote_int.h"
#include "ipc/ipc.h"
#include "lookup/dns.h"
#include "parent/proc.h"
#include "util/log.h"
#include "util/str.h"

#define RP_AUTH_FILE_MAX 4096

struct remote_ctx R;

static struct {
	struct ipc_chan *queue;
	struct rdest *dests;
} P;

static void rdest_kick(struct rdest *d);

/* ---- jobs ----------------------------------------------------------- */

const char *rmsg_rcpt(const struct rmsg *m, size_t i)
{
	return m->job->env.rcpt[m->job->idx[m->k[i]]].addr;
}

int rmsg_pending(const struct rmsg *m, size_t i)
{
	return m->job->status[m->k[i]] < 0;
}

void rmsg_set(struct rmsg *m, size_t i, int status, const char *why)
{
	struct rjob *j = m->job;

	if (j->status[m->k[i]] >= 0)
		return;
	j->status[m->k[i]] = status;
	if (str_copy(j->why[m->k[i]], RM_WHY_MAX, why) < 0)
		(void)str_copyn(j->why[m->k[i]], RM_WHY_MAX, why, RM_WHY_MAX - 1);
}

void rmsg_set_all(struct rmsg *m, int status, const char *why)
{
	for (size_t i = 0; i < m->n; i++)
		rmsg_set(m, i, status, why);
}

void rmsg_fail(struct rmsg *m, int status, const char *why)
{
	for (size_t i = 0; i < m->n; i++)
		if (rmsg_pending(m, i))
			log_info("%s: to=<%s> status=%s (%s)", m->job->id, rmsg_rcpt(m, i),
				 status == IPC_DLV_PERM ? "bounced" : "deferred", why);
	rmsg_set_all(m, status, why);
}

static void rjob_free(struct rjob *j)
{
	if (j->map)
		munmap(j->map, j->map_len);
	if (j->fd >= 0)
		close(j->fd);
	qenv_free(&j->env);
	free(j->idx);
	free(j->status);
	free(j->why);
	free(j);
}

static void rjob_answer(struct rjob *j)
{
	struct ipc_msg *m = malloc(sizeof *m);

	if (!m)
		fatal("out of memory");
	for (uint32_t k = 0; k < j->n; k++) {
		int st = j->status[k] < 0 ? IPC_DLV_TEMP : j->status[k];
		qjob_answer_rcpt(P.queue, m, j->job, j->idx[k], (uint32_t)st,
				 j->why[k][0] ? j->why[k] : "4.4.0 failed");
	}
	qjob_answer_end(P.queue, m, j->job);
	free(m);
	rjob_free(j);
}

void rmsg_done(struct rmsg *m)
{
	struct rjob *j = m->job;

	rmsg_set_all(m, IPC_DLV_TEMP, "4.4.0 delivery attempt ended without a result");
	free(m->k);
	free(m);
	if (--j->pending_msgs == 0)
		rjob_answer(j);
}

/* ---- destinations --------------------------------------------------- */

enum conf_tls_out rdest_conf_tls(const struct rdest *d)
{
	const struct conf_outbound *o = &R.conf->out;

	for (size_t i = 0; i < o->n_dest && i < CONF_MAX_DEST; i++)
		if (strcasecmp(o->dest[i].domain, d->domain) == 0)
			return o->dest[i].tls;
	return d->relay ? TLSOUT_REQUIRE : TLSOUT_MAY;
}

struct rmsg *rdest_next_msg(struct rdest *d)
{
	struct rmsg *m = d->wait_head;

	if (m) {
		d->wait_head = m->next;
		if (!d->wait_head)
			d->wait_tail = NULL;
		m->next = NULL;
	}
	return m;
}

static void rdest_free_if_unused(struct rdest *d)
{
	struct rdest **pp = &P.dests;

	if (d->wait_head || d->n_conn || d->routing)
		return;
	while (*pp && *pp != d)
		pp = &(*pp)->next;
	if (*pp)
		*pp = d->next;
	free(d->route);
	free(d);
}

void rdest_conn_closed(struct rdest *d)
{
	struct rdest *x, *next;

	d->n_conn--;
	R.n_conn--;
	rdest_kick(d);
	/* A global connection slot is free: others may be waiting for one. */
	for (x = P.dests; x; x = next) {
		next = x->next;
		if (x != d && x->wait_head)
			rdest_kick(x);
	}
}

static void rdest_routed(struct rdest *d)
{
	if (--d->routing > 0)
		return;
	rdest_kick(d);
}

static void rdest_on_route(void *arg, struct rroute *r)
{
	struct rdest *d = arg;

	d->route = r;
	rdest_routed(d);
}

static void rdest_on_sts(void *arg, const struct sts_policy *p)
{
	struct rdest *d = arg;

	if (p) {
		d->sts = *p;
		d->have_sts = 1;
	}
	rdest_routed(d);
}

static void rdest_route(struct rdest *d)
{
	int sts = R.conf->out.mta_sts && !d->relay && d->domain[0] != '[';

	d->routing = 1 + sts;
	d->have_sts = 0;
	if (sts)
		sts_lookup(d->domain, rdest_on_sts, d);
	route_start(d->relay ? R.conf->out.relay_host : d->domain, d->relay, rdest_on_route, d);
}

/* A route that failed fails every waiting message; the next one re-routes. */
static void rdest_route_failed(struct rdest *d)
{
	struct rmsg *m;
	int st = d->route->status == 5 ? IPC_DLV_PERM : IPC_DLV_TEMP;

	while ((m = rdest_next_msg(d)) != NULL) {
		rmsg_fail(m, st, d->route->why);
		rmsg_done(m);
	}
	if (d->n_conn == 0) {
		free(d->route);
		d->route = NULL;
	}
}

static void rdest_kick(struct rdest *d)
{
	const struct conf_outbound *o = &R.conf->out;
	struct rmsg *m;

	if (d->routing)
		return;
	if (!d->route && d->wait_head)
		return rdest_route(d);
	if (d->route && d->route->status != 0)
		rdest_route_failed(d);
	while (d->wait_head && d->idle) {
		m = rdest_next_msg(d);
		rconn_give(d->idle, m);
	}
	while (d->wait_head && d->n_conn < o->max_conn_dest && R.n_conn < o->max_conn)
		rconn_start(d, rdest_next_msg(d));
	if (!d->wait_head && d->n_conn == 0 && d->route) {
		free(d->route);
		d->route = NULL;
	}
	rdest_free_if_unused(d);
}

static struct rdest *rdest_get(const char *key, int relay)
{
	struct rdest *d;

	for (d = P.dests; d; d = d->next)
		if (strcmp(d->key, key) == 0)
			return d;
	if (!(d = calloc(1, sizeof *d)))
		fatal("out of memory");
	if (str_copy(d->key, sizeof d->key, key) < 0 ||
	    str_copy(d->domain, sizeof d->domain, relay ? R.conf->out.relay_host : key) < 0)
		fatal("destination name too long");
	d->relay = relay;
	d->next = P.dests;
	P.dests = d;
	return d;
}

static void rdest_add(struct rdest *d, struct rmsg *m)
{
	m->dest = d;
	if (d->wait_tail)
		d->wait_tail->next = m;
	else
		d->wait_head = m;
	d->wait_tail = m;
}

/* ---- intake --------------------------------------------------------- */

/* The destination key of a recipient: its domain (lowercase), or "relay". */
static int rjob_key(const char *addr, char *key, size_t cap)
{
	const char *at = strrchr(addr, '@');

	if (R.conf->out.relay_host[0])
		return str_copy(key, cap, "relay");
	if (!at || !at[1] || str_copy(key, cap, at + 1) < 0)
		return -1;
	str_lower(key);
	return 0;
}

static int rjob_map(struct rjob *j)
{
	struct stat st;

	if (qenv_read_fd(j->fd, &j->env) < 0 || fstat(j->fd, &st) < 0 || st.st_size <= 0 ||
	    (size_t)st.st_size < j->env.body_off)
		return -1;
	j->map_len = (size_t)st.st_size;
	j->map = mmap(NULL, j->map_len, PROT_READ, MAP_PRIVATE, j->fd, 0);
	if (j->map == MAP_FAILED) {
		j->map = NULL;
		return -1;
	}
	j->body = (const char *)j->map + j->env.body_off;
	j->body_len = j->map_len - j->env.body_off;
	return 0;
}

/* Group the job's recipients by destination: one rmsg per destination. */
static void rjob_split(struct rjob *j)
{
	char key[RD_KEY_MAX], other[RD_KEY_MAX];
	unsigned char *taken = calloc(j->n, 1);

	if (!taken)
		fatal("out of memory");
	j->pending_msgs = 1; /* held while splitting */
	for (uint32_t k = 0; k < j->n; k++) {
		if (taken[k] || j->status[k] >= 0)
			continue;
		if (rjob_key(j->env.rcpt[j->idx[k]].addr, key, sizeof key) < 0) {
			j->status[k] = IPC_DLV_PERM;
			(void)str_copy(j->why[k], RM_WHY_MAX, "5.1.3 bad recipient address");
			continue;
		}
		struct rmsg *m = calloc(1, sizeof *m);
		if (!m || !(m->k = calloc(j->n, sizeof *m->k)))
			fatal("out of memory");
		m->job = j;
		for (uint32_t x = k; x < j->n; x++)
			if (!taken[x] && j->status[x] < 0 &&
			    rjob_key(j->env.rcpt[j->idx[x]].addr, other, sizeof other) == 0 &&
			    strcmp(key, other) == 0) {
				taken[x] = 1;
				m->k[m->n++] = x;
			}
		j->pending_msgs++;
		struct rdest *d = rdest_get(key, strcmp(key, "relay") == 0);
		rdest_add(d, m);
		rdest_kick(d);
	}
	free(taken);
	if (--j->pending_msgs == 0)
		rjob_answer(j);
}

static void rjob_check_rcpts(struct rjob *j)
{
	for (uint32_t k = 0; k < j->n; k++) {
		if (j->idx[k] >= j->env.n_rcpt) {
			j->status[k] = IPC_DLV_PERM;
			(void)str_copy(j->why[k], RM_WHY_MAX, "5.3.0 no such recipient");
		} else if (strcmp(j->env.rcpt[j->idx[k]].mbox, QENV_MBOX_REMOTE) != 0) {
			j->status[k] = IPC_DLV_TEMP;
			(void)str_copy(j->why[k], RM_WHY_MAX, "4.3.0 not a remote recipient");
		}
	}
}

/* A message that went round too often is a mail loop: fail it for good. */
static int rjob_loops(struct rjob *j)
{
	size_t hops = rp_count_received(j->body, j->body_len, RM_HOPS_SCAN);
	char why[RM_WHY_MAX];

	if (hops <= RM_HOPS_MAX)
		return 0;
	(void)str_fmt(why, sizeof why, "5.4.6 mail loop: %zu Received: header fields (limit %d)",
		      hops, RM_HOPS_MAX);
	for (uint32_t k = 0; k < j->n; k++) {
		if (j->status[k] >= 0)
			continue;
		log_info("%s: to=<%s> status=bounced (%s)", j->id, j->env.rcpt[j->idx[k]].addr,
			 why);
		j->status[k] = IPC_DLV_PERM;
		(void)str_copy(j->why[k], RM_WHY_MAX, why);
	}
	return 1;
}

static void remote_on_queue(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct rjob *j = calloc(1, sizeof *j);

	if (!j)
		fatal("out of memory");
	uint32_t flags; /* a remote host gives no way to find an earlier copy */

	qjob_decode(m, &j->job, j->id, &flags, &j->idx, &j->n, &j->fd);
	j->status = malloc(j->n * sizeof *j->status);
	j->why = calloc(j->n, sizeof *j->why);
	if (!j->status || !j->why)
		fatal("out of memory");
	for (uint32_t k = 0; k < j->n; k++)
		j->status[k] = -1;
	if (rjob_map(j) < 0) {
		log_error("%s: queue file unreadable", j->id);
		for (uint32_t k = 0; k < j->n; k++)
			rmsg_set(&(struct rmsg){.job = j, .n = 1, .k = &k}, 0, IPC_DLV_TEMP,
				 "4.3.0 queue file unreadable");
		return rjob_answer(j);
	}
	rjob_check_rcpts(j);
	if (rjob_loops(j))
		return rjob_answer(j);
	rjob_split(j);
}

/* ---- process set-up ------------------------------------------------- */

static void remote_on_closed(struct ipc_chan *ch, void *arg)
{
	log_info("queue closed its channel; remote exits");
	exit(0);
}

static void remote_on_term(evutil_socket_t sig, short what, void *arg)
{
	exit(0);
}

/* The smarthost credentials: "LOGIN PASSWORD" on the first line. */
static void remote_read_auth(const struct conf *c)
{
	char *buf = NULL, *sp, *nl;
	size_t len = 0;
	int errnum = 0;

	if (!c->out.relay_auth[0])
		return;
	if (conf_read_file(c->out.relay_auth, RP_AUTH_FILE_MAX, &buf, &len, &errnum) < 0)
		fatal("cannot read the relay auth file %s: %s", c->out.relay_auth,
		      strerror(errnum));
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	sp = strchr(buf, ' ');
	if (!sp || sp == buf || !sp[1] ||
	    str_copyn(R.auth_login, sizeof R.auth_login, buf, (size_t)(sp - buf)) < 0 ||
	    str_copy(R.auth_pass, sizeof R.auth_pass, sp + 1) < 0)
		fatal("relay auth file %s: expected \"LOGIN PASSWORD\"", c->out.relay_auth);
	R.have_auth = 1;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static void remote_setup(struct proc_setup *s)
{
	char err[256];

	R.conf = s->conf;
	R.base = event_base_new();
	if (!R.base)
		fatal("cannot create the event loop");
	remote_read_auth(s->conf);
	remote_sign_init(s->conf);
	if (dns_init(R.base, s->conf, err, sizeof err) < 0)
		fatal("%s", err);
	/* DANE needs validated answers: the anchor, when there is one. */
	if (s->conf->out.trust_anchor[0] && access(s->conf->out.trust_anchor, R_OK) == 0) {
		if (dns_trust_anchor(s->conf->out.trust_anchor, err, sizeof err) < 0)
			fatal("%s", err);
		log_info("DNSSEC trust anchor %s loaded (DANE on)", s->conf->out.trust_anchor);
	} else {
		log_warn("no DNSSEC trust anchor (%s): DANE is off",
			 s->conf->out.trust_anchor[0] ? s->conf->out.trust_anchor : "off");
	}
	if (rtls_init(s->conf, err, sizeof err) < 0)
		fatal("%s", err);
	if (s->conf->out.mta_sts && sts_init(R.base, s->conf) < 0)
		fatal("cannot set up MTA-STS");
}

int remote_main(struct proc_setup *s)
{
	int keep[1] = {s->q_remote[1]};
	struct event *term;

	log_setproc("remote");
	proc_close_except(s, keep, 1);
	remote_setup(s);
	proc_drop(&s->worker_id, NULL, "remote");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("cannot ignore SIGPIPE");
	P.queue =
	    ipc_chan_new(R.base, s->q_remote[1], "queue", remote_on_queue, remote_on_closed, NULL);
	term = evsignal_new(R.base, SIGTERM, remote_on_term, NULL);
	if (!P.queue || !term || evsignal_add(term, NULL) < 0)
		fatal("cannot set up the remote process");
	log_info("ready%s%s", s->conf->out.relay_host[0] ? ": all mail via " : "",
		 s->conf->out.relay);
	event_base_dispatch(R.base);
	return 0;
}
