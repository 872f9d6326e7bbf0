/*
 * remote_sts_fetch: fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt
 * (RFC 8461 3.3) without ever blocking the event loop.
 *
 * First the policy host's addresses are asked through dns.h (A, then
 * AAAA), so that every DNS answer sealpost uses comes through the one
 * libunbound path; curl gets them with CURLOPT_RESOLVE and never resolves
 * a name itself (no proxy either: CURLOPT_PROXY ""). Then the transfer
 * runs on libcurl's multi interface driven by the loop (the documented
 * libevent pattern): curl tells us, through its socket callback, which
 * descriptor to watch for what, and through its timer callback when to
 * call it back; we answer each event with curl_multi_socket_action and
 * then collect finished transfers with curl_multi_info_read.
 *
 * Security role: HTTPS only (no other protocol, no redirects), PKIX
 * verification against outbound-ca-file alone (no default CA path) with
 * the host name checked, TLS 1.2 at least, HTTP 200 with Content-Type
 * text/plain only, the body capped at STS_POLICY_MAX and the whole fetch
 * at STS_FETCH_TIMEOUT_MS; no cookies, no content decoding, no
 * connection kept after the fetch.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "deliver/remote_sts_int.h"
#include "lookup/dns.h"
#include "util/log.h"
#include "util/str.h"

#define STS_RESOLVE_MAX (DNS_NAME_MAX + 16 + STS_ADDR_MAX * (INET6_ADDRSTRLEN + 3))
#define STS_URL_MAX	(DNS_NAME_MAX + 64)

enum sts_fetch_stage { FETCH_A, FETCH_AAAA, FETCH_HTTP, FETCH_DEAD };

struct sts_fetch {
	enum sts_fetch_stage stage;
	char host[DNS_NAME_MAX]; /* mta-sts.DOMAIN */
	char resolve[STS_RESOLVE_MAX];
	size_t n_addr;
	CURL *easy;
	struct curl_slist *resolve_list;
	char *body;
	size_t len;
	int too_big;
	char curl_err[CURL_ERROR_SIZE];
	int orphan; /* dropped by sts_fetch_shutdown while a DNS query was out */
	sts_fetch_cb cb;
	void *arg;
	struct event *done_ev; /* the answer is given from the loop */
	const char *why;
	char why_buf[224];
	struct sts_fetch *prev, *next;
};

/* The watch on one of curl's sockets. */
struct sts_sock {
	struct event *ev;
};

static struct {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	char ca_file[CONF_PATH_MAX];
	struct sts_fetch *all; /* every fetch not yet answered */
	int curl_ready;
} F;

/* Free what f holds, not f itself. */
static void sts_fetch_free_parts(struct sts_fetch *f)
{
	if (f->easy) {
		(void)curl_multi_remove_handle(F.multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->resolve_list);
	if (f->done_ev)
		event_free(f->done_ev);
	free(f->body);
	f->easy = NULL;
	f->resolve_list = NULL;
	f->done_ev = NULL;
	f->body = NULL;
}

static void sts_fetch_free(struct sts_fetch *f)
{
	sts_fetch_free_parts(f);
	free(f);
}

static void sts_fetch_unlink(struct sts_fetch *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else if (F.all == f)
		F.all = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
}

static void sts_fetch_answer(evutil_socket_t fd, short what, void *arg)
{
	struct sts_fetch *f = arg;

	sts_fetch_unlink(f);
	f->cb(f->arg, f->why ? NULL : f->body, f->why ? 0 : f->len, f->why ? f->why : "fetched");
	sts_fetch_free(f);
}

/* End f: its answer (why NULL = the body) is given from the loop. */
static void sts_fetch_end(struct sts_fetch *f, const char *why)
{
	f->why = why;
	f->stage = FETCH_DEAD;
	event_active(f->done_ev, EV_TIMEOUT, 0);
}

/* End f with the reason pre + detail (sanitized, from the network) + post. */
static void sts_fetch_endf(struct sts_fetch *f, const char *pre, const char *detail,
			   const char *post)
{
	char clean[160];

	(void)str_sanitize(clean, sizeof clean, detail, strlen(detail));
	if (str_fmt(f->why_buf, sizeof f->why_buf, "%s%s%s", pre, clean, post) < 0)
		(void)str_copy(f->why_buf, sizeof f->why_buf, "policy fetch failed");
	sts_fetch_end(f, f->why_buf);
}

/* ---- libcurl on the event loop ------------------------------------------ */

static void sts_http_done(struct sts_fetch *f, CURLcode rc);

static void sts_multi_drain(void)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(F.multi, &left))) {
		struct sts_fetch *f = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		if (f && f->stage == FETCH_HTTP)
			sts_http_done(f, m->data.result);
	}
}

static void sts_on_socket(evutil_socket_t fd, short what, void *arg)
{
	int flags =
	    ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;

	(void)curl_multi_socket_action(F.multi, fd, flags, &running);
	sts_multi_drain();
}

static void sts_on_timer(evutil_socket_t fd, short what, void *arg)
{
	int running;

	(void)curl_multi_socket_action(F.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	sts_multi_drain();
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl asks, or stop watching. */
static int sts_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct sts_sock *w = sockp;
	short ev = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
			   ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);

	if (what == CURL_POLL_REMOVE) {
		if (w) {
			event_free(w->ev);
			free(w);
		}
		(void)curl_multi_assign(F.multi, s, NULL);
		return 0;
	}
	if (!w) {
		if (!(w = calloc(1, sizeof *w)))
			return -1;
		(void)curl_multi_assign(F.multi, s, w);
	} else {
		event_free(w->ev);
	}
	w->ev = event_new(F.base, s, ev, sts_on_socket, NULL);
	if (!w->ev || event_add(w->ev, NULL) < 0)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: call curl back after ms (-1: never). */
static int sts_curl_timer(CURLM *multi, long ms, void *userp)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms < 0)
		return event_del(F.timer) < 0 ? -1 : 0;
	return event_add(F.timer, &tv) < 0 ? -1 : 0;
}

/* ---- one transfer ------------------------------------------------------- */

static size_t sts_curl_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sts_fetch *f = userp;
	size_t n = size * nmemb;
	char *p;

	if (n > STS_POLICY_MAX - f->len) {
		f->too_big = 1;
		return 0;
	}
	if (!(p = realloc(f->body, f->len + n + 1)))
		return 0;
	memcpy(p + f->len, data, n);
	f->body = p;
	f->len += n;
	f->body[f->len] = '\0';
	return n;
}

/* Is the Content-Type text/plain (any case, parameters allowed)? */
static int sts_type_ok(const char *ct)
{
	size_t n = sizeof "text/plain" - 1;

	return ct && strncasecmp(ct, "text/plain", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static void sts_http_done(struct sts_fetch *f, CURLcode rc)
{
	long code = 0;
	char *ct = NULL, num[16];

	(void)curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
	(void)curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
	if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		sts_fetch_end(f, "the policy is larger than 64 KiB");
	else if (rc != CURLE_OK)
		sts_fetch_endf(f, "HTTPS fetch failed: ",
			       f->curl_err[0] ? f->curl_err : curl_easy_strerror(rc), "");
	else if (code != 200 && str_fmt(num, sizeof num, "%ld", code) == 0)
		sts_fetch_endf(f, "HTTP status ", num, ", not 200");
	else if (!sts_type_ok(ct))
		sts_fetch_endf(f, "Content-Type ", ct ? ct : "missing", ", not text/plain");
	else
		sts_fetch_end(f, NULL);
}

/* Every option that makes the transfer what RFC 8461 3.3 asks, and safe. */
static int sts_easy_setup(struct sts_fetch *f, CURL *e, const char *url)
{
	long p = STS_FETCH_TIMEOUT_MS;

	return curl_easy_setopt(e, CURLOPT_URL, url) ||
	       curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") ||
	       curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	       curl_easy_setopt(e, CURLOPT_PROXY, "") ||
	       curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve_list) ||
	       curl_easy_setopt(e, CURLOPT_CAINFO, F.ca_file) ||
	       curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL) ||
	       curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
	       curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	       curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
	       curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, p) ||
	       curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)STS_POLICY_MAX) ||
	       curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) ||
	       curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	       curl_easy_setopt(e, CURLOPT_USERAGENT, "sealpost") ||
	       curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sts_curl_write) ||
	       curl_easy_setopt(e, CURLOPT_WRITEDATA, f) ||
	       curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->curl_err) ||
	       curl_easy_setopt(e, CURLOPT_PRIVATE, f);
}

static void sts_http_start(struct sts_fetch *f)
{
	char url[STS_URL_MAX];

	if (STS_HTTPS_PORT == 443)
		(void)str_fmt(url, sizeof url, "https://%s/.well-known/mta-sts.txt", f->host);
	else
		(void)str_fmt(url, sizeof url, "https://%s:%d/.well-known/mta-sts.txt", f->host,
			      STS_HTTPS_PORT);
	f->stage = FETCH_HTTP;
	if (!(f->resolve_list = curl_slist_append(NULL, f->resolve)) ||
	    !(f->easy = curl_easy_init()) || url[0] == '\0') {
		sts_fetch_end(f, "cannot start the HTTPS fetch");
		return;
	}
	if (sts_easy_setup(f, f->easy, url) != 0 ||
	    curl_multi_add_handle(F.multi, f->easy) != CURLM_OK) {
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
		sts_fetch_end(f, "cannot start the HTTPS fetch");
	}
}

/* ---- the policy host's addresses ---------------------------------------- */

/* Append the answers of r to f->resolve ("host:port:a,b,[v6]"). */
static void sts_addr_add(struct sts_fetch *f, const struct dns_result *r, int family)
{
	size_t want = family == AF_INET ? 4 : 16;

	for (size_t i = 0; r->status == DNS_OK && i < r->n_rr && f->n_addr < STS_ADDR_MAX; i++) {
		char text[INET6_ADDRSTRLEN];
		size_t n = strlen(f->resolve);
		if (r->rr_len[i] != want || !inet_ntop(family, r->rr[i], text, sizeof text))
			continue;
		if (str_fmt(f->resolve + n, sizeof f->resolve - n,
			    family == AF_INET ? "%s%s" : "%s[%s]", f->n_addr ? "," : "",
			    text) < 0) {
			f->resolve[n] = '\0';
			return;
		}
		f->n_addr++;
	}
}

static void sts_on_addr(void *arg, const struct dns_result *r)
{
	struct sts_fetch *f = arg;

	if (f->orphan) { /* sts_fetch_shutdown ran meanwhile */
		free(f);
		return;
	}
	sts_addr_add(f, r, f->stage == FETCH_A ? AF_INET : AF_INET6);
	if (f->stage == FETCH_A) {
		f->stage = FETCH_AAAA;
		if (dns_query(f->host, 28, STS_DNS_TIMEOUT_MS, sts_on_addr, f) == 0)
			return;
	}
	if (f->n_addr == 0)
		sts_fetch_endf(f, "no address for ", f->host, "");
	else
		sts_http_start(f);
}

/* ---- the module --------------------------------------------------------- */

int sts_fetch_init(struct event_base *base, const char *ca_file)
{
	if (!F.curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	F.curl_ready = 1;
	F.base = base;
	if (str_copy(F.ca_file, sizeof F.ca_file, ca_file) < 0 || !(F.multi = curl_multi_init()) ||
	    !(F.timer = evtimer_new(base, sts_on_timer, NULL)) ||
	    curl_multi_setopt(F.multi, CURLMOPT_SOCKETFUNCTION, sts_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(F.multi, CURLMOPT_TIMERFUNCTION, sts_curl_timer) != CURLM_OK) {
		sts_fetch_shutdown();
		return -1;
	}
	return 0;
}

struct sts_fetch *sts_fetch_start(const char *domain, sts_fetch_cb cb, void *arg)
{
	struct sts_fetch *f = calloc(1, sizeof *f);

	if (!f)
		return NULL;
	f->cb = cb;
	f->arg = arg;
	if (!F.multi || str_fmt(f->host, sizeof f->host, "mta-sts.%s", domain) < 0 ||
	    str_fmt(f->resolve, sizeof f->resolve, "%s:%d:", f->host, STS_HTTPS_PORT) < 0 ||
	    !(f->done_ev = event_new(F.base, -1, 0, sts_fetch_answer, f)) ||
	    dns_query(f->host, 1, STS_DNS_TIMEOUT_MS, sts_on_addr, f) < 0) {
		sts_fetch_free(f);
		return NULL;
	}
	f->next = F.all;
	if (F.all)
		F.all->prev = f;
	F.all = f;
	return f;
}

void sts_fetch_shutdown(void)
{
	while (F.all) {
		struct sts_fetch *f = F.all;
		int in_dns = f->stage == FETCH_A || f->stage == FETCH_AAAA;
		sts_fetch_unlink(f);
		if (in_dns) { /* its DNS callback frees it (or dns_shutdown drops it) */
			sts_fetch_free_parts(f);
			f->orphan = 1;
			continue;
		}
		sts_fetch_free(f);
	}
	if (F.multi)
		(void)curl_multi_cleanup(F.multi);
	if (F.timer)
		event_free(F.timer);
	F.multi = NULL;
	F.timer = NULL;
	F.base = NULL;
}
