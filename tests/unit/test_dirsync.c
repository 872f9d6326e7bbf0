/*
 * test_dirsync: unit tests for the shared directory fsync
 * (src/util/dirsync.c) with a counting, slow stand-in for fsync: callers
 * that arrive together share syncs, every caller returns only after a
 * sync that began after it called (else a rename could be missed), a
 * failed sync fails its callers with its errno, and separate directories
 * never share one.
 *
 * Security role: deliver's 250 promise rests on this — a Maildir file is
 * reported delivered only once a directory fsync covered its rename.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/dirsync.h"
#include "util/str.h"

#define CALLERS	  16
#define SYNCS_MAX 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char dir[16];
	double start, end;
} syncs[SYNCS_MAX];
static int n_syncs;
static int fail_from; /* syncs numbered >= this fail (EIO); 0: none */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int slow_sync(const char *dir)
{
	int k;

	pthread_mutex_lock(&lock);
	k = n_syncs++;
	assert_int_equal(str_copy(syncs[k].dir, sizeof syncs[k].dir, dir), 0);
	syncs[k].start = now();
	pthread_mutex_unlock(&lock);
	usleep(20000);
	pthread_mutex_lock(&lock);
	syncs[k].end = now();
	pthread_mutex_unlock(&lock);
	if (fail_from && k + 1 >= fail_from) {
		errno = EIO;
		return -1;
	}
	return 0;
}

struct caller {
	pthread_t t;
	const char *dir;
	double called, returned;
	int rc, err;
};

static void *call(void *arg)
{
	struct caller *c = arg;

	c->called = now();
	c->rc = dirsync_group_with(c->dir, slow_sync);
	c->err = errno;
	c->returned = now();
	return NULL;
}

static void run(struct caller *c, int n, const char *const *dirs, int n_dirs)
{
	n_syncs = 0;
	for (int i = 0; i < n; i++) {
		c[i].dir = dirs[i % n_dirs];
		assert_int_equal(pthread_create(&c[i].t, NULL, call, &c[i]), 0);
		if (i % 4 == 3)
			usleep(5000); /* some arrive while a sync runs */
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_join(c[i].t, NULL), 0);
}

/* Some sync of c's directory began after c called and ended before it returned. */
static int covered(const struct caller *c)
{
	for (int k = 0; k < n_syncs; k++)
		if (strcmp(syncs[k].dir, c->dir) == 0 && syncs[k].start >= c->called &&
		    syncs[k].end <= c->returned)
			return 1;
	return 0;
}

static void test_shared_and_covering(void **state)
{
	static const char *const dirs[] = {"d1"};
	struct caller c[CALLERS];

	fail_from = 0;
	run(c, CALLERS, dirs, 1);
	for (int i = 0; i < CALLERS; i++) {
		assert_int_equal(c[i].rc, 0);
		assert_true(covered(&c[i]));
	}
	assert_true(n_syncs >= 1);
	assert_true(n_syncs < CALLERS); /* shared: 16 callers in ~20 ms, 20 ms per sync */
}

static void test_directories_apart(void **state)
{
	static const char *const dirs[] = {"a", "b"};
	struct caller c[CALLERS];

	fail_from = 0;
	run(c, CALLERS, dirs, 2);
	for (int i = 0; i < CALLERS; i++) {
		assert_int_equal(c[i].rc, 0);
		assert_true(covered(&c[i])); /* by a sync of its own directory */
	}
}

static void test_failure_reaches_callers(void **state)
{
	static const char *const dirs[] = {"f"};
	struct caller c[CALLERS];

	fail_from = 1; /* every sync fails */
	run(c, CALLERS, dirs, 1);
	for (int i = 0; i < CALLERS; i++) {
		assert_int_equal(c[i].rc, -1);
		assert_int_equal(c[i].err, EIO);
	}
	fail_from = 0;
	run(c, 1, dirs, 1); /* the slot starts clean afterwards */
	assert_int_equal(c[0].rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shared_and_covering),
	    cmocka_unit_test(test_directories_apart),
	    cmocka_unit_test(test_failure_reaches_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
