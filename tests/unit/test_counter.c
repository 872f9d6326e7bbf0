/*
 * test_counter: unit tests for the rate counters (src/lookup/counter.c)
 * and the AUTH guard built on them (src/lookup/lookup_guard.c), without
 * a store: windows roll over, keys are independent, a full table reuses
 * slots, and unsent increments combine with the cluster total.
 *
 * Security role: the counters are what every abuse limit trusts; these
 * pin down that counts expire only with their window and that a failed
 * sync never loses increments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lookup/counter_int.h"
#include "lookup/lookup_guard.h"

#define T0 1700000040 /* a multiple of 60 */

static const struct conf_rate PER_MIN = {10, 60};
static const struct conf_rate PER_HOUR = {10, 3600};

static int setup(void **state)
{
	counter_reset();
	return 0;
}

static void test_window_rollover(void **state)
{
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 1, T0), 1);
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 2, T0 + 59), 3);
	assert_int_equal(counter_peek("conn:192.0.2.1", &PER_MIN, T0 + 30), 3);
	/* the next window starts from zero; the previous one is still readable */
	assert_int_equal(counter_peek("conn:192.0.2.1", &PER_MIN, T0 + 60), 0);
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 1, T0 + 60), 1);
	assert_int_equal(counter_peek("conn:192.0.2.1", &PER_MIN, T0 + 119 - 60), 3);
	/* two windows later it is gone, and its slot is free again */
	assert_int_equal(counter_peek("conn:192.0.2.1", &PER_MIN, T0 + 180), 0);
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 1, T0 + 180), 1);
}

static void test_independent_keys(void **state)
{
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 1, T0), 1);
	assert_int_equal(counter_add("conn:192.0.2.2", &PER_MIN, 1, T0), 1);
	assert_int_equal(counter_add("conn:2001:db8::1", &PER_MIN, 5, T0), 5);
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_MIN, 1, T0), 2);
	/* the same key with another period is another counter */
	assert_int_equal(counter_add("conn:192.0.2.1", &PER_HOUR, 1, T0), 1);
	assert_int_equal(counter_peek("conn:192.0.2.2", &PER_MIN, T0), 1);
	assert_int_equal(counter_peek("conn:192.0.2.3", &PER_MIN, T0), 0);
	assert_int_equal(counter_peek("conn:2001:db8::1", &PER_MIN, T0), 5);
}

static void test_off_and_bad_keys(void **state)
{
	struct conf_rate off = {0, 60};
	char longkey[COUNTER_KEY_MAX + 10];

	assert_int_equal(counter_add("x", &off, 1, T0), 0);
	assert_int_equal(counter_peek("x", &off, T0), 0);
	memset(longkey, 'a', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_int_equal(counter_add(longkey, &PER_MIN, 1, T0), 0);
	longkey[COUNTER_KEY_MAX - 1] = '\0';
	assert_int_equal(counter_add(longkey, &PER_MIN, 1, T0), 1);
	assert_int_equal(counter_add("y", &PER_MIN, UINT64_MAX, T0), UINT64_MAX);
	assert_int_equal(counter_add("y", &PER_MIN, 5, T0), UINT64_MAX);
}

static void key_n(char *buf, size_t cap, unsigned i)
{
	assert_true(snprintf(buf, cap, "rcpt:10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255) > 0);
}

static void test_table_full_reuse(void **state)
{
	char key[64];
	unsigned kept_first = 0;

	for (unsigned i = 0; i < 2 * COUNTER_ENTRIES; i++) {
		key_n(key, sizeof key, i);
		assert_int_equal(counter_add(key, &PER_HOUR, 1, T0), 1);
	}
	/* the most recent keys survive, the oldest were reused */
	for (unsigned i = 2 * COUNTER_ENTRIES - 200; i < 2 * COUNTER_ENTRIES; i++) {
		key_n(key, sizeof key, i);
		assert_int_equal(counter_peek(key, &PER_HOUR, T0), 1);
	}
	for (unsigned i = 0; i < 1000; i++) {
		key_n(key, sizeof key, i);
		kept_first += counter_peek(key, &PER_HOUR, T0) == 1;
	}
	assert_true(kept_first < 100);
	/* a new key still counts; expired entries are reused first */
	assert_int_equal(counter_add("new", &PER_HOUR, 2, T0), 2);
	assert_int_equal(counter_add("later", &PER_HOUR, 1, T0 + 3 * 3600), 1);
	assert_int_equal(counter_add("later", &PER_HOUR, 1, T0 + 3 * 3600), 2);
}

static void test_combine(void **state)
{
	assert_int_equal(counter_combine(5, 0, 0), 5);
	assert_int_equal(counter_combine(5, 10, 2), 12);
	assert_int_equal(counter_combine(20, 10, 2), 20);
	assert_int_equal(counter_combine(1, UINT64_MAX, 5), UINT64_MAX);
}

static void test_jobs_merge_cluster_total(void **state)
{
	struct counter_job j, j2;

	counter_track(1);
	assert_int_equal(counter_add("k", &PER_MIN, 3, T0), 3);
	assert_int_equal(counter_job_next(&j, T0), 1);
	assert_string_equal(j.key, "k");
	assert_int_equal(j.delta, 3);
	assert_int_equal(j.window, T0 / 60);
	assert_int_equal(j.period, 60);
	assert_int_equal(counter_job_next(&j2, T0), 0);
	/* in flight: still counted */
	assert_int_equal(counter_add("k", &PER_MIN, 1, T0), 4);
	/* the reply: another instance added 7 */
	counter_job_done(&j, 1, 10);
	assert_int_equal(counter_peek("k", &PER_MIN, T0), 11); /* 10 + 1 unsent */
	/* a failed send puts the increment back (at-least-once) */
	assert_int_equal(counter_job_next(&j, T0), 1);
	assert_int_equal(j.delta, 1);
	assert_int_equal(counter_peek("k", &PER_MIN, T0), 11);
	counter_job_done(&j, 0, 0);
	assert_int_equal(counter_peek("k", &PER_MIN, T0), 11);
	assert_int_equal(counter_job_next(&j, T0), 1);
	assert_int_equal(j.delta, 1);
	counter_job_done(&j, 1, 12);
	assert_int_equal(counter_peek("k", &PER_MIN, T0), 12);
	/* the peeks asked for a refresh (GET) */
	assert_int_equal(counter_job_next(&j, T0), 1);
	assert_int_equal(j.delta, 0);
	counter_job_done(&j, 1, 30);
	assert_int_equal(counter_peek("k", &PER_MIN, T0), 30);
	counter_track(0);
}

static void test_jobs_unknown_key_and_expiry(void **state)
{
	struct counter_job j;

	counter_track(1);
	/* a key never counted here is learnt by a refresh */
	assert_int_equal(counter_peek("other", &PER_MIN, T0), 0);
	assert_int_equal(counter_job_next(&j, T0), 1);
	assert_int_equal(j.delta, 0);
	counter_job_done(&j, 1, 42);
	assert_int_equal(counter_peek("other", &PER_MIN, T0), 42);
	/* increments of a window long gone are not sent */
	assert_int_equal(counter_job_next(&j, T0), 1); /* the refresh of that peek */
	counter_add("old", &PER_MIN, 1, T0);
	assert_int_equal(counter_job_next(&j, T0 + 120), 0);
	/* a reply for a slot reused since is ignored */
	counter_add("gone", &PER_MIN, 1, T0);
	assert_int_equal(counter_job_next(&j, T0), 1);
	j.gen++;
	counter_job_done(&j, 0, 0);
	assert_int_equal(counter_job_next(&j, T0), 0);
	counter_track(0);
}

static void test_guard_counts_through_counters(void **state)
{
	struct conf_auth_limits lim = {2, 3, 60, 100};

	guard_init(&lim);
	assert_int_equal(guard_fail("192.0.2.9", "alice@example.test", T0), 0);
	assert_int_equal(guard_locked("192.0.2.9", T0), 0);
	assert_int_equal(guard_fail("192.0.2.9", "alice@example.test", T0 + 1), 1);
	assert_int_equal(counter_peek("authfail-ip:192.0.2.9", &(struct conf_rate){3, 60}, T0), 2);
	assert_int_equal(
	    counter_peek("authfail-user:alice@example.test", &(struct conf_rate){3, 60}, T0), 2);
	/* the third failure, in the next window, still counts the first two */
	assert_int_equal(guard_fail("192.0.2.9", "bob@example.test", T0 + 61), 2);
	assert_int_equal(guard_locked("192.0.2.9", T0 + 61), 102);
	assert_int_equal(guard_locked("192.0.2.10", T0 + 61), 0);
	assert_int_equal(guard_locked("192.0.2.9", T0 + 61 + 102), 0);
}

static void test_guard_long_login(void **state)
{
	struct conf_auth_limits lim = {5, 5, 60, 100};
	char login[250];

	guard_init(&lim);
	memset(login, 'x', sizeof login - 1);
	login[sizeof login - 1] = '\0';
	assert_int_equal(guard_fail("192.0.2.9", login, T0), 0);
	assert_int_equal(guard_fail("192.0.2.8", login, T0), 0);
	assert_int_equal(guard_fail("192.0.2.7", login, T0), 0);
	assert_int_equal(guard_fail("192.0.2.6", login, T0), 0);
	assert_int_equal(guard_fail("192.0.2.5", login, T0), 1); /* by login: 5th */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_window_rollover, setup),
	    cmocka_unit_test_setup(test_independent_keys, setup),
	    cmocka_unit_test_setup(test_off_and_bad_keys, setup),
	    cmocka_unit_test_setup(test_table_full_reuse, setup),
	    cmocka_unit_test_setup(test_combine, setup),
	    cmocka_unit_test_setup(test_jobs_merge_cluster_total, setup),
	    cmocka_unit_test_setup(test_jobs_unknown_key_and_expiry, setup),
	    cmocka_unit_test_setup(test_guard_counts_through_counters, setup),
	    cmocka_unit_test_setup(test_guard_long_login, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
