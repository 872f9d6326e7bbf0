/*
 * counter_redis: the shared store of the counters (`limits store
 * redis://HOST:PORT`), hiredis async on the lookup process's libevent loop.
 *
 * Every store_sync_ms one pipelined batch (at most COUNTER_BATCH_CMDS
 * commands) is sent: `INCRBY sealpost:KEY:WINDOW DELTA` + `EXPIRE ...
 * 2*period` for each entry with unsent increments, `GET` for each entry read
 * since the last sync. A new batch waits for every reply of the previous
 * one. Increments whose reply never comes (error, disconnect, no answer
 * within COUNTER_REPLY_TIMEOUT) are put back and sent again: at-least-once,
 * so a count can be applied twice (stricter limits), never lost while
 * its window lasts.
 *
 * Security role: Redis is a peer on the network, never waited for. The
 * connect is non-blocking with its own timeout, an outage is logged once
 * (and once when it ends) while counting goes on locally, and reconnects
 * back off from 1 s to 30 s. Commands are built argv-style, so no key
 * (client addresses, logins) can inject a command; replies are used only
 * as non-negative integers. A host name is resolved once, at start.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "lookup/counter_int.h"
#include "util/log.h"
#include "util/str.h"

#define COUNTER_CONNECT_TIMEOUT 2  /* seconds for a connect to finish */
#define COUNTER_REPLY_TIMEOUT	5  /* seconds for a batch to be answered */
#define COUNTER_BACKOFF_MIN	1  /* seconds before the first reconnect */
#define COUNTER_BACKOFF_MAX	30 /* ... doubling up to this */
#define COUNTER_RKEY_MAX	(COUNTER_KEY_MAX + 48)
#define COUNTER_XSTR(x)		#x
#define COUNTER_STR(x)		COUNTER_XSTR(x)

static struct {
	struct event_base *base;
	redisAsyncContext *ac;
	struct event *tick, *retry, *conn_timeout;
	char addr[INET6_ADDRSTRLEN];
	int port;
	char name[CONF_NAME_MAX + 16]; /* "redis://HOST:PORT" for log lines */
	unsigned sync_ms;
	unsigned backoff;
	int up, down_logged;
	unsigned outstanding;	  /* replies of the current batch not yet in */
	struct timespec batch_at; /* when the current batch was sent */
	struct counter_job jobs[COUNTER_BATCH_CMDS];
} RS;

static void store_connect(void);

static double store_elapsed(const struct timespec *since)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	return (double)(now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

static void store_schedule_retry(void)
{
	struct timeval tv = {(time_t)RS.backoff, 0};

	if (evtimer_add(RS.retry, &tv) < 0)
		log_error("counter store %s: cannot schedule a reconnect", RS.name);
	RS.backoff = RS.backoff * 2 > COUNTER_BACKOFF_MAX ? COUNTER_BACKOFF_MAX : RS.backoff * 2;
}

/* The connection is gone (RS.ac already NULL): say so once, retry later. */
static void store_down(const char *why)
{
	char safe[256];

	RS.up = 0;
	RS.outstanding = 0;
	if (evtimer_del(RS.conn_timeout) < 0)
		log_error("counter store %s: cannot stop the connect timer", RS.name);
	if (!RS.down_logged) {
		log_error("counter store %s unreachable: %s; counting locally", RS.name,
			  str_sanitize(safe, sizeof safe, why, strlen(why)));
		RS.down_logged = 1;
	}
	store_schedule_retry();
}

/* Give up the connection ourselves: pending replies fail (their
 * increments go back to unsent), then store_down. */
static void store_drop(const char *why)
{
	redisAsyncContext *ac = RS.ac;
	char copy[256];

	if (!ac)
		return;
	if (str_copy(copy, sizeof copy, why) < 0)
		copy[0] = '\0';
	RS.ac = NULL;
	redisAsyncFree(ac);
	store_down(copy);
}

static void store_on_connect(const redisAsyncContext *ac, int status)
{
	if (ac != RS.ac)
		return;
	if (status != REDIS_OK) {
		RS.ac = NULL; /* hiredis frees it after this call */
		store_down(ac->errstr[0] ? ac->errstr : "connect failed");
		return;
	}
	if (evtimer_del(RS.conn_timeout) < 0)
		log_error("counter store %s: cannot stop the connect timer", RS.name);
	RS.up = 1;
	RS.down_logged = 0;
	RS.backoff = COUNTER_BACKOFF_MIN;
	RS.outstanding = 0;
	log_info("counter store %s connected; counts shared", RS.name);
}

static void store_on_disconnect(const redisAsyncContext *ac, int status)
{
	if (ac != RS.ac)
		return;
	RS.ac = NULL; /* hiredis frees it after this call */
	store_down(ac->errstr[0] ? ac->errstr : "connection closed");
}

static void store_connect(void)
{
	redisAsyncContext *ac = redisAsyncConnect(RS.addr, RS.port);
	struct timeval tv = {COUNTER_CONNECT_TIMEOUT, 0};
	char why[256];

	if (!ac) {
		store_down("out of memory");
		return;
	}
	if (ac->err) {
		if (str_copy(why, sizeof why, ac->errstr) < 0)
			why[0] = '\0';
		redisAsyncFree(ac);
		store_down(why);
		return;
	}
	RS.ac = ac;
	if (redisLibeventAttach(ac, RS.base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, store_on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, store_on_disconnect) != REDIS_OK ||
	    evtimer_add(RS.conn_timeout, &tv) < 0)
		store_drop("cannot set up the connection");
}

/* A reply as a count: an integer >= 0, a decimal string, or nil (0). */
static int store_reply_value(const redisReply *r, uint64_t *out)
{
	char *end;

	*out = 0;
	if (!r)
		return 0;
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		if (r->integer < 0)
			return 0;
		*out = (uint64_t)r->integer;
		return 1;
	case REDIS_REPLY_NIL:
		return 1;
	case REDIS_REPLY_STRING:
		if (r->len < 1 || r->len > 20 || strspn(r->str, "0123456789") != r->len)
			return 0;
		*out = strtoull(r->str, &end, 10);
		return *end == '\0';
	default:
		return 0;
	}
}

static void store_on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	uint64_t total;
	int ok = store_reply_value(r, &total);

	counter_job_done(priv, ok, total);
	if (RS.outstanding > 0)
		RS.outstanding--;
	if (!ok && r && ac == RS.ac)
		store_drop(r->type == REDIS_REPLY_ERROR && r->str ? r->str : "unexpected reply");
}

static int store_rkey(char *out, size_t cap, const struct counter_job *j)
{
	return str_fmt(out, cap, "sealpost:%s:%llu", j->key, (unsigned long long)j->window);
}

static int store_command(struct counter_job *j, int argc, const char **argv, const size_t *len)
{
	if (redisAsyncCommandArgv(RS.ac, j ? store_on_reply : NULL, j, argc, argv, len) != REDIS_OK)
		return -1;
	if (j)
		RS.outstanding++;
	return 0;
}

/* Queue the commands of one job: INCRBY + EXPIRE, or GET. Returns the
 * number of commands queued; on failure the job is failed and the
 * connection dropped, and -1 is returned. */
static int store_send(struct counter_job *j)
{
	char rkey[COUNTER_RKEY_MAX], num[24], ttl[24];
	const char *argv[3] = {"GET", rkey, num};
	size_t len[3] = {3, 0, 0};
	int queued = 0;

	if (store_rkey(rkey, sizeof rkey, j) == 0 &&
	    str_fmt(num, sizeof num, "%llu", (unsigned long long)j->delta) == 0 &&
	    str_fmt(ttl, sizeof ttl, "%llu", 2ull * j->period) == 0) {
		len[1] = strlen(rkey);
		len[2] = strlen(num);
		if (j->delta == 0) {
			if (store_command(j, 2, argv, len) == 0)
				return 1;
		} else {
			argv[0] = "INCRBY";
			len[0] = 6;
			queued = store_command(j, 3, argv, len) == 0;
			/* from here the INCRBY's callback reports a failure */
			argv[0] = "EXPIRE";
			argv[2] = ttl;
			len[2] = strlen(ttl);
			if (queued && store_command(NULL, 3, argv, len) == 0)
				return 2;
		}
	}
	if (!queued)
		counter_job_done(j, 0, 0);
	store_drop("cannot queue a command");
	return -1;
}

static void store_sync(void)
{
	unsigned cmds = 0, n = 0;
	time_t now = time(NULL);
	int rc;

	if (clock_gettime(CLOCK_MONOTONIC, &RS.batch_at) < 0)
		return;
	while (RS.ac && cmds + 2 <= COUNTER_BATCH_CMDS && counter_job_next(&RS.jobs[n], now)) {
		if ((rc = store_send(&RS.jobs[n++])) < 0)
			return;
		cmds += (unsigned)rc;
	}
}

static void store_on_tick(evutil_socket_t fd, short what, void *arg)
{
	if (!RS.up || !RS.ac)
		return;
	if (RS.outstanding == 0)
		store_sync();
	else if (store_elapsed(&RS.batch_at) > COUNTER_REPLY_TIMEOUT)
		store_drop("no reply within " COUNTER_STR(COUNTER_REPLY_TIMEOUT) " s");
}

static void store_on_retry(evutil_socket_t fd, short what, void *arg)
{
	if (!RS.ac)
		store_connect();
}

static void store_on_conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	if (RS.ac && !RS.up)
		store_drop("connect timed out after " COUNTER_STR(COUNTER_CONNECT_TIMEOUT) " s");
}

/* A numeric form of l's host in RS.addr (resolved once, here). 0 or -1. */
static int store_resolve(const struct conf_limits *l, char *why, size_t cap)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(l->store_host, NULL, &hints, &res);

	if (rc != 0) {
		if (str_fmt(why, cap, "cannot resolve %s: %s", l->store_host, gai_strerror(rc)) < 0)
			why[0] = '\0';
		return -1;
	}
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, RS.addr, sizeof RS.addr, NULL, 0,
			 NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0 && str_copy(why, cap, "cannot print the address") < 0)
		why[0] = '\0';
	return rc == 0 ? 0 : -1;
}

static int store_events(struct event_base *base, unsigned sync_ms)
{
	struct timeval tv = {(time_t)(sync_ms / 1000), (suseconds_t)(sync_ms % 1000) * 1000};

	RS.tick = event_new(base, -1, EV_PERSIST, store_on_tick, NULL);
	RS.retry = evtimer_new(base, store_on_retry, NULL);
	RS.conn_timeout = evtimer_new(base, store_on_conn_timeout, NULL);
	if (!RS.tick || !RS.retry || !RS.conn_timeout || event_add(RS.tick, &tv) < 0)
		return -1;
	return 0;
}

int counter_store_init(struct event_base *base, const struct conf_limits *l)
{
	int v6 = strchr(l->store_host, ':') != NULL;
	char why[CONF_NAME_MAX + 64];

	if (RS.base || !l->store_host[0] || l->store_port == 0 || l->store_port > 65535 ||
	    str_fmt(RS.name, sizeof RS.name, "redis://%s%s%s:%u", v6 ? "[" : "", l->store_host,
		    v6 ? "]" : "", l->store_port) < 0) {
		log_error("counter store: bad or repeated configuration");
		return -1;
	}
	RS.base = base;
	RS.port = (int)l->store_port;
	RS.sync_ms = l->store_sync_ms ? l->store_sync_ms : 200;
	RS.backoff = COUNTER_BACKOFF_MIN;
	if (store_events(base, RS.sync_ms) < 0) {
		log_error("counter store %s: cannot set up its events", RS.name);
		return -1;
	}
	if (store_resolve(l, why, sizeof why) < 0) {
		RS.down_logged = 1;
		log_error("counter store %s unreachable: %s; counting locally", RS.name, why);
		return 0;
	}
	store_connect();
	return 0;
}

int counter_store_up(void)
{
	return RS.up;
}

void counter_store_close(void)
{
	RS.down_logged = 1;
	store_drop("closed");
	if (RS.tick)
		event_free(RS.tick);
	if (RS.retry)
		event_free(RS.retry);
	if (RS.conn_timeout)
		event_free(RS.conn_timeout);
	memset(&RS, 0, sizeof RS);
}
