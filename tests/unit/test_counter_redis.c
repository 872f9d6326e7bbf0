/*
 * test_counter_redis: the counters against a real redis-server
 * (src/lookup/counter_redis.c). Skipped when /usr/bin/redis-server is
 * missing. The test starts its own redis-server on a free loopback port
 * in a private directory, stops it by its own pid and removes the
 * directory.
 *
 * Security role: checks that increments reach Redis in batches, that
 * another instance's counts are learnt, that a key cannot inject a
 * command, and that an outage is logged once, counted through locally
 * and healed (increments sent again) when Redis is back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "lookup/counter_int.h"
#include "util/log.h"
#include "util/str.h"

#define REDIS_BIN "/usr/bin/redis-server"
#define PERIOD	  3600

static struct {
	char dir[64];
	char log[96];
	int port;
	pid_t pid;
	struct event_base *base;
	int saved_stderr;
	time_t now;
} R;

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A synchronous command to the test's redis; NULL when it does not answer. */
static redisReply *redis_sync_cmd(int argc, const char **argv)
{
	struct timeval tv = {1, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", R.port, tv);
	redisReply *r = NULL;

	if (c && !c->err)
		r = redisCommandArgv(c, argc, argv, NULL);
	if (c)
		redisFree(c);
	return r;
}

static long long rget(const char *key)
{
	const char *argv[] = {"GET", key};
	redisReply *r = redis_sync_cmd(2, argv);
	long long v = -1;

	if (r && r->type == REDIS_REPLY_STRING)
		v = atoll(r->str);
	else if (r && r->type == REDIS_REPLY_NIL)
		v = 0;
	if (r)
		freeReplyObject(r);
	return v;
}

static void redis_start(void)
{
	char port[16];

	assert_int_equal(str_fmt(port, sizeof port, "%d", R.port), 0);
	R.pid = fork();
	assert_true(R.pid >= 0);
	if (R.pid == 0) {
		execl(REDIS_BIN, REDIS_BIN, "--port", port, "--bind", "127.0.0.1", "--save", "",
		      "--appendonly", "no", "--daemonize", "no", "--dir", R.dir, "--logfile",
		      "redis.log", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		const char *ping[] = {"PING"};
		redisReply *r = redis_sync_cmd(1, ping);
		int ok = r && r->type == REDIS_REPLY_STATUS;
		if (r)
			freeReplyObject(r);
		if (ok)
			return;
		usleep(50000);
	}
	fail_msg("redis-server did not answer PING");
}

static void redis_stop(void)
{
	if (R.pid > 0) {
		assert_int_equal(kill(R.pid, SIGKILL), 0);
		assert_int_equal(waitpid(R.pid, NULL, 0), R.pid);
	}
	R.pid = 0;
}

/* Run the loop until cond() holds or ms milliseconds have passed. */
static int run_until(int (*cond)(void), unsigned ms)
{
	struct timeval step = {0, 20000};

	for (unsigned t = 0; t < ms; t += 20) {
		if (cond && cond())
			return 1;
		assert_int_equal(event_base_loopexit(R.base, &step), 0);
		assert_true(event_base_dispatch(R.base) >= 0);
	}
	return cond ? cond() : 1;
}

static int is_shared(void)
{
	return counter_shared();
}

static int is_local(void)
{
	return !counter_shared();
}

static int count_in_log(const char *needle)
{
	char buf[16384];
	FILE *f = fopen(R.log, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof buf, f))
		n += strstr(buf, needle) != NULL;
	fclose(f);
	return n;
}

static int setup(void **state)
{
	struct conf_limits l;

	if (access(REDIS_BIN, X_OK) != 0)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(str_copy(R.dir, sizeof R.dir, "/tmp/sealpost-test-redis-XXXXXX"), 0);
	assert_non_null(mkdtemp(R.dir));
	assert_int_equal(str_fmt(R.log, sizeof R.log, "%s/stderr.log", R.dir), 0);
	R.port = free_port();
	assert_true(R.port > 0);
	redis_start();
	/* log lines go to a file the test reads */
	fflush(stderr);
	R.saved_stderr = dup(2);
	int fd = open(R.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(R.saved_stderr >= 0 && fd >= 0 && dup2(fd, 2) == 2);
	close(fd);
	log_init(1, "test");
	conf_limits_defaults(&l);
	assert_int_equal(str_fmt(l.store, sizeof l.store, "redis://127.0.0.1:%d", R.port), 0);
	assert_int_equal(str_copy(l.store_host, sizeof l.store_host, "127.0.0.1"), 0);
	l.store_port = (unsigned)R.port;
	l.store_sync_ms = 50;
	R.base = event_base_new();
	assert_non_null(R.base);
	counter_reset();
	assert_int_equal(counter_init(R.base, &l), 0);
	R.now = time(NULL);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	if (!R.base)
		return 0;
	counter_store_close();
	counter_track(0);
	event_base_free(R.base);
	R.base = NULL;
	redis_stop();
	fflush(stderr);
	dup2(R.saved_stderr, 2);
	close(R.saved_stderr);
	if (str_fmt(path, sizeof path, "%s/redis.log", R.dir) == 0)
		unlink(path);
	unlink(R.log);
	rmdir(R.dir);
	return 0;
}

static void rkey(char *out, size_t cap, const char *key)
{
	assert_int_equal(
	    str_fmt(out, cap, "sealpost:%s:%llu", key, (unsigned long long)(R.now / PERIOD)), 0);
}

static void test_shared_counts(void **state)
{
	const struct conf_rate rate = {100, PERIOD};
	const char *k = "authfail-ip:2001:db8::1", *evil = "x\r\nFLUSHALL\r\n";
	char rk[256], rk_evil[256];

	if (!R.base)
		skip();
	rkey(rk, sizeof rk, k);
	rkey(rk_evil, sizeof rk_evil, evil);
	assert_true(run_until(is_shared, 3000));
	assert_int_equal(count_in_log("connected; counts shared"), 1);

	/* increments reach Redis in the next batch; a key cannot inject */
	assert_int_equal(counter_add(k, &rate, 1, R.now), 1);
	assert_int_equal(counter_add(k, &rate, 2, R.now), 3);
	assert_int_equal(counter_add(evil, &rate, 1, R.now), 1);
	run_until(NULL, 300);
	assert_int_equal(rget(rk), 3);
	assert_int_equal(rget(rk_evil), 1);
	assert_int_equal(counter_add(k, &rate, 1, R.now), 4);
	run_until(NULL, 300);
	assert_int_equal(rget(rk), 4);

	/* another instance adds 10: a read refreshes it */
	const char *incr[] = {"INCRBY", rk, "10"};
	redisReply *r = redis_sync_cmd(3, incr);
	assert_non_null(r);
	freeReplyObject(r);
	assert_int_equal(counter_peek(k, &rate, R.now), 4);
	run_until(NULL, 300);
	assert_int_equal(counter_peek(k, &rate, R.now), 14);
	assert_int_equal(counter_add(k, &rate, 1, R.now), 15);

	/* an outage: logged once, counting goes on */
	redis_stop();
	assert_true(run_until(is_local, 7000));
	assert_int_equal(counter_add(k, &rate, 2, R.now), 17);
	run_until(NULL, 2500); /* a failed reconnect or two */
	assert_int_equal(count_in_log("unreachable"), 1);
	assert_int_equal(counter_peek(k, &rate, R.now), 17);

	/* back (empty): the increments not yet applied are sent */
	redis_start();
	assert_true(run_until(is_shared, 10000));
	assert_int_equal(count_in_log("connected; counts shared"), 2);
	run_until(NULL, 300);
	assert_int_equal(rget(rk), 3); /* the 1 and the 2 counted during the outage */
	/* Redis lost the rest: the cluster total is 3, this instance counted 7 */
	assert_int_equal(counter_peek(k, &rate, R.now), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_shared_counts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
