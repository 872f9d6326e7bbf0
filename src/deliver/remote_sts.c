/*
 * remote_sts: MTA-STS policies for the remote process (RFC 8461 3, 5.1).
 *
 * sts_lookup(domain) asks the _mta-sts TXT record each time (libunbound
 * caches it) and answers from the cache while the record's id is the
 * cached policy's and max_age has not run out; otherwise it fetches the
 * policy (remote_sts_fetch.c). When there is no live policy (no or bad
 * TXT record, DNS failure, fetch or parse failure) an unexpired cached one
 * still applies, as 5.1 requires, so an attacker who blocks DNS or HTTPS
 * cannot turn enforce off before max_age ends.
 *
 * The cache: at most STS_CACHE_MAX domains in memory (a hash table and an
 * LRU list; entries with a lookup in flight are never evicted), and one
 * file per domain in a cache directory (<spool>/mta-sts, made 0700 by the
 * remote process's own user when it first stores a policy) so policies
 * outlive restarts; a file is written to DOMAIN~tmp ('~' is never in a
 * domain name) and renamed. Concurrent lookups of one
 * domain wait on the same entry and share its one TXT query and fetch. Every answer is given from
 * the event loop (one "ready" event), never from inside sts_lookup or a DNS/curl callback.
 *
 * Security role: decides whether TLS to a domain's MX hosts is mandatory.
 * Domain names are validated (LDH) before they name a DNS query, a URL or
 * a cache file (so no '/' or leading '.' can reach a path); cache files
 * are opened with O_NOFOLLOW and parsed by the same fuzzed parser as a
 * fetched policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver/remote_sts.h"
#include "deliver/remote_sts_int.h"
#include "lookup/dns.h"
#include "util/file.h"
#include "util/log.h"
#include "util/str.h"

#define STS_CACHE_MAX	  1024
#define STS_BUCKETS	  256
#define STS_WHY_MAX	  256
#define STS_FUTURE_SLACK  3600 /* a cached "fetched" further ahead than this is bogus */
#define STS_DOMAIN_MAX	  (DNS_NAME_MAX - 10) /* room for "_mta-sts." */
#define STS_TXT_PREFIX	  "_mta-sts."
#define STS_CACHE_DIRNAME "mta-sts"

struct sts_waiter {
	sts_cb cb;
	sts_why_cb wcb;
	void *arg;
	int have; /* pol is the answer; else NULL */
	struct sts_policy pol;
	char why[STS_WHY_MAX];
	struct sts_waiter *next;
};

struct sts_entry {
	char domain[STS_DOMAIN_MAX];
	int have; /* pol holds a policy (maybe expired) */
	struct sts_policy pol;
	int busy;   /* a TXT query or a fetch is out */
	int orphan; /* dropped by sts_shutdown while its TXT query was out */
	int in_dns;
	char txt_id[33]; /* the id of the record that started the fetch */
	struct sts_waiter *waiters;
	struct sts_entry *hnext;	 /* hash chain */
	struct sts_entry *lprev, *lnext; /* LRU, most recent first */
};

static struct {
	struct event_base *base;
	int on;
	char dir[CONF_PATH_MAX]; /* "" = memory only */
	int dir_made;		 /* dir checked (and made) by this process's user */
	struct sts_entry *bucket[STS_BUCKETS];
	struct sts_entry *lru_head, *lru_tail;
	size_t n;
	struct sts_waiter *ready, **ready_tail;
	struct event *ready_ev;
} S;

/* ---- answers, always from the loop -------------------------------------- */

static void sts_ready_run(evutil_socket_t fd, short what, void *arg)
{
	struct sts_waiter *w = S.ready;

	S.ready = NULL;
	S.ready_tail = &S.ready;
	while (w) {
		struct sts_waiter *next = w->next;
		const struct sts_policy *p = w->have ? &w->pol : NULL;
		if (w->wcb)
			w->wcb(w->arg, p, w->why);
		else
			w->cb(w->arg, p);
		free(w);
		w = next;
	}
}

/* Queue w's answer (p may be NULL) for the loop. */
static void sts_answer(struct sts_waiter *w, const struct sts_policy *p, const char *why)
{
	w->have = p != NULL;
	if (p)
		w->pol = *p;
	if (str_copy(w->why, sizeof w->why, why) < 0)
		(void)str_copyn(w->why, sizeof w->why, why, sizeof w->why - 1);
	w->next = NULL;
	*S.ready_tail = w;
	S.ready_tail = &w->next;
	event_active(S.ready_ev, EV_TIMEOUT, 0);
}

static int sts_fresh(const struct sts_entry *e)
{
	time_t now = time(NULL);

	return e->have && e->pol.fetched <= now + STS_FUTURE_SLACK &&
	       now < e->pol.fetched + (time_t)e->pol.max_age;
}

/* Answer every waiter of e, with its policy when use_pol. */
static void sts_finish(struct sts_entry *e, int use_pol, const char *why)
{
	struct sts_waiter *w = e->waiters;

	e->waiters = NULL;
	e->busy = 0;
	while (w) {
		struct sts_waiter *next = w->next;
		sts_answer(w, use_pol ? &e->pol : NULL, why);
		w = next;
	}
}

/* No live policy: the cached one if unexpired (RFC 8461 5.1), else none. */
static void sts_finish_fallback(struct sts_entry *e, const char *why)
{
	char text[STS_WHY_MAX];

	if (!sts_fresh(e)) {
		sts_finish(e, 0, why);
		return;
	}
	if (str_fmt(text, sizeof text, "cached; %s", why) < 0)
		(void)str_copy(text, sizeof text, "cached");
	log_warn("mta-sts: %s: %s; the cached policy (id %s) stays in force", e->domain, why,
		 e->pol.id);
	sts_finish(e, 1, text);
}

/* ---- the cache directory ------------------------------------------------ */

static int sts_disk_path(const char *domain, const char *suffix, char *out, size_t cap)
{
	return S.dir[0] ? str_fmt(out, cap, "%s/%s%s", S.dir, domain, suffix) : -1;
}

/* Read the cache file of e's domain into e (only if it decodes). */
static void sts_disk_load(struct sts_entry *e)
{
	char path[CONF_PATH_MAX + STS_DOMAIN_MAX], buf[STS_CACHE_FILE_MAX];
	struct sts_policy p;
	const char *why;
	ssize_t n;
	int fd;

	if (sts_disk_path(e->domain, "", path, sizeof path) < 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
		return;
	n = read(fd, buf, sizeof buf);
	(void)close(fd);
	if (n <= 0 || (size_t)n == sizeof buf || sts_cache_decode(buf, (size_t)n, &p, &why) < 0) {
		log_warn("mta-sts: ignoring the unreadable cache file %s", path);
		return;
	}
	e->pol = p;
	e->have = 1;
}

/*
 * Make the cache directory (0700) the first time a policy is written: by
 * then the process runs as its final user (sts_init runs before the
 * remote process drops privileges, and a directory made as root would
 * stay unwritable). When that fails the cache is memory only, said once.
 */
static int sts_dir_make(void)
{
	struct stat st;

	if (S.dir_made || !S.dir[0])
		return S.dir[0] ? 0 : -1;
	if ((mkdir(S.dir, 0700) < 0 && errno != EEXIST) || lstat(S.dir, &st) < 0 ||
	    !S_ISDIR(st.st_mode) || access(S.dir, W_OK | X_OK) < 0) {
		log_warn("mta-sts: %s is not a writable directory (%s): policies cached in "
			 "memory only",
			 S.dir, strerror(errno ? errno : ENOTDIR));
		S.dir[0] = '\0';
		return -1;
	}
	S.dir_made = 1;
	return 0;
}

static void sts_disk_store(const struct sts_entry *e)
{
	char path[CONF_PATH_MAX + STS_DOMAIN_MAX], tmp[CONF_PATH_MAX + STS_DOMAIN_MAX];
	char text[STS_CACHE_FILE_MAX];
	size_t len;
	int fd, ok;

	errno = 0;
	if (sts_dir_make() < 0 || sts_disk_path(e->domain, "", path, sizeof path) < 0 ||
	    sts_disk_path(e->domain, "~tmp", tmp, sizeof tmp) < 0 ||
	    sts_cache_encode(&e->pol, text, sizeof text, &len) < 0)
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("mta-sts: cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	ok = file_write_all(fd, text, len) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		log_warn("mta-sts: cannot write %s: %s", path, strerror(errno));
		(void)unlink(tmp);
	}
}

/* ---- entries: hash table and LRU ---------------------------------------- */

static size_t sts_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % STS_BUCKETS;
}

static void sts_lru_unlink(struct sts_entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		S.lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		S.lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void sts_lru_front(struct sts_entry *e)
{
	e->lnext = S.lru_head;
	if (S.lru_head)
		S.lru_head->lprev = e;
	S.lru_head = e;
	if (!S.lru_tail)
		S.lru_tail = e;
}

/* Take e out of the table and the LRU list (the caller frees it). */
static void sts_entry_remove(struct sts_entry *e)
{
	struct sts_entry **pp = &S.bucket[sts_hash(e->domain)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	sts_lru_unlink(e);
	S.n--;
}

/* Make room: drop the least recently used idle entry. 0, or -1 if all busy. */
static int sts_evict(void)
{
	for (struct sts_entry *e = S.lru_tail; e; e = e->lprev)
		if (!e->busy) {
			sts_entry_remove(e);
			free(e);
			return 0;
		}
	return -1;
}

/* The entry of domain, moved to the LRU front; made (and loaded from the
 * cache directory) when missing. NULL when none can be made. */
static struct sts_entry *sts_entry_get(const char *domain)
{
	size_t h = sts_hash(domain);
	struct sts_entry *e;

	for (e = S.bucket[h]; e; e = e->hnext)
		if (strcmp(e->domain, domain) == 0) {
			sts_lru_unlink(e);
			sts_lru_front(e);
			return e;
		}
	if ((S.n >= STS_CACHE_MAX && sts_evict() < 0) || !(e = calloc(1, sizeof *e)))
		return NULL;
	(void)str_copy(e->domain, sizeof e->domain, domain);
	e->hnext = S.bucket[h];
	S.bucket[h] = e;
	sts_lru_front(e);
	S.n++;
	sts_disk_load(e);
	return e;
}

/* ---- one lookup: TXT, then maybe a fetch -------------------------------- */

static void sts_on_fetch(void *arg, const char *body, size_t len, const char *why)
{
	struct sts_entry *e = arg;
	struct sts_policy p;
	const char *perr;
	char text[STS_WHY_MAX];

	if (!body) {
		sts_finish_fallback(e, why);
		return;
	}
	if (sts_policy_parse(body, len, &p, &perr) < 0) {
		(void)str_fmt(text, sizeof text, "invalid policy: %s", perr);
		sts_finish_fallback(e, text);
		return;
	}
	(void)str_copy(p.id, sizeof p.id, e->txt_id);
	p.fetched = time(NULL);
	e->pol = p;
	e->have = 1;
	sts_disk_store(e);
	log_info("mta-sts: %s: policy id %s fetched, mode %s, max_age %u", e->domain, p.id,
		 p.mode == STS_ENFORCE	 ? "enforce"
		 : p.mode == STS_TESTING ? "testing"
					 : "none",
		 (unsigned)p.max_age);
	sts_finish(e, 1, "fetched");
}

static const char *sts_dns_why(enum dns_status s)
{
	switch (s) {
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return "no _mta-sts TXT record";
	case DNS_BOGUS:
		return "the _mta-sts TXT record failed DNSSEC validation";
	case DNS_TEMPFAIL:
	case DNS_OK:
		break;
	}
	return "the _mta-sts TXT lookup failed";
}

static void sts_on_txt(void *arg, const struct dns_result *r)
{
	struct sts_entry *e = arg;
	const char *why = sts_dns_why(r->status);

	e->in_dns = 0;
	if (e->orphan) {
		free(e);
		return;
	}
	if (r->status != DNS_OK || sts_txt_select(r->rr, r->rr_len, r->n_rr, e->txt_id, &why) < 0) {
		sts_finish_fallback(e, why);
		return;
	}
	if (sts_fresh(e) && strcmp(e->pol.id, e->txt_id) == 0) {
		sts_finish(e, 1, "cached");
		return;
	}
	if (!sts_fetch_start(e->domain, sts_on_fetch, e))
		sts_finish_fallback(e, "cannot start the policy fetch");
}

static void sts_start(struct sts_entry *e)
{
	char name[DNS_NAME_MAX];

	e->busy = 1;
	if (str_fmt(name, sizeof name, STS_TXT_PREFIX "%s", e->domain) < 0 ||
	    dns_query(name, 16, STS_DNS_TIMEOUT_MS, sts_on_txt, e) < 0) {
		sts_finish_fallback(e, "cannot ask DNS");
		return;
	}
	e->in_dns = 1;
}

/* domain, lowercased and without a trailing dot, into out; 0 or -1. */
static int sts_domain_norm(const char *domain, char *out, size_t cap)
{
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (str_copyn(out, cap, domain, n) < 0 || !sts_domain_ok(out, n))
		return -1;
	str_lower(out);
	return 0;
}

static void sts_lookup_waiter(const char *domain, struct sts_waiter *w)
{
	char d[STS_DOMAIN_MAX];
	struct sts_entry *e;

	if (!S.on) {
		sts_answer(w, NULL, "mta-sts is off");
		return;
	}
	if (sts_domain_norm(domain, d, sizeof d) < 0) {
		sts_answer(w, NULL, "not a domain name MTA-STS applies to");
		return;
	}
	if (!(e = sts_entry_get(d))) {
		sts_answer(w, NULL, "too many MTA-STS lookups in flight");
		return;
	}
	w->next = e->waiters;
	e->waiters = w;
	if (!e->busy)
		sts_start(e);
}

static struct sts_waiter *sts_waiter_new(sts_cb cb, sts_why_cb wcb, void *arg)
{
	struct sts_waiter *w = calloc(1, sizeof *w);

	if (!w)
		fatal("mta-sts: out of memory");
	if (!S.ready_ev)
		fatal("mta-sts: lookup before sts_init");
	w->cb = cb;
	w->wcb = wcb;
	w->arg = arg;
	return w;
}

void sts_lookup(const char *domain, sts_cb cb, void *arg)
{
	sts_lookup_waiter(domain, sts_waiter_new(cb, NULL, arg));
}

void sts_lookup_why(const char *domain, sts_why_cb cb, void *arg)
{
	sts_lookup_waiter(domain, sts_waiter_new(NULL, cb, arg));
}

/* ---- set-up ------------------------------------------------------------- */

/* Use dir as the cache directory (made when first written to). */
static void sts_dir_setup(const char *dir)
{
	S.dir[0] = '\0';
	S.dir_made = 0;
	if (dir && str_copy(S.dir, sizeof S.dir, dir) < 0)
		log_warn("mta-sts: cache directory name too long: memory only");
}

int sts_init_dir(struct event_base *base, const struct conf *c, const char *cache_dir)
{
	sts_shutdown();
	S.base = base;
	S.on = c->out.mta_sts;
	S.ready_tail = &S.ready;
	if (!(S.ready_ev = event_new(base, -1, 0, sts_ready_run, NULL))) {
		log_error("mta-sts: cannot create an event");
		return -1;
	}
	if (S.on && sts_fetch_init(base, c->out.ca_file) < 0) {
		log_error("mta-sts: cannot set up libcurl");
		sts_shutdown();
		return -1;
	}
	sts_dir_setup(S.on ? cache_dir : NULL);
	return 0;
}

int sts_init(struct event_base *base, const struct conf *c)
{
	char dir[CONF_PATH_MAX];

	if (!c->spool[0] || str_fmt(dir, sizeof dir, "%s/" STS_CACHE_DIRNAME, c->spool) < 0)
		return sts_init_dir(base, c, NULL);
	return sts_init_dir(base, c, dir);
}

static void sts_waiters_free(struct sts_waiter *w)
{
	while (w) {
		struct sts_waiter *next = w->next;
		free(w);
		w = next;
	}
}

void sts_shutdown(void)
{
	sts_fetch_shutdown();
	while (S.lru_head) {
		struct sts_entry *e = S.lru_head;
		sts_entry_remove(e);
		sts_waiters_free(e->waiters);
		e->waiters = NULL;
		if (e->in_dns) /* its TXT callback frees it (or dns_shutdown drops it) */
			e->orphan = 1;
		else
			free(e);
	}
	sts_waiters_free(S.ready);
	if (S.ready_ev)
		event_free(S.ready_ev);
	memset(&S, 0, sizeof S);
	S.ready_tail = &S.ready;
}
