/* Unit tests: queue envelope codec, state file, IPC codec, Maildir paths. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "deliver/deliver_maildir.h"
#include "ipc/ipc.h"
#include "queue/queue_spool.h"

static void fill_env(struct qenv *e, struct qenv_rcpt *r, size_t n)
{
	memset(e, 0, sizeof *e);
	memset(r, 0, n * sizeof *r); /* done flags start clear */
	snprintf(e->id, sizeof e->id, "0123456789abcdef");
	e->time = 1764072000;
	snprintf(e->client, sizeof e->client, "127.0.0.1");
	snprintf(e->helo, sizeof e->helo, "client.example");
	snprintf(e->from, sizeof e->from, "alice@example.org");
	e->flags = QENV_F_8BIT;
	for (size_t i = 0; i < n; i++) {
		snprintf(r[i].addr, sizeof r[i].addr, "u%zu@example.test", i);
		snprintf(r[i].mbox, sizeof r[i].mbox, "box%zu@example.test", i);
	}
	e->rcpt = r;
	e->n_rcpt = n;
}

static void test_qenv_roundtrip(void **state)
{
	struct qenv_rcpt r[3];
	struct qenv e, d;
	char buf[4096];

	fill_env(&e, r, 3);
	long n = qenv_encode(&e, buf, sizeof buf);
	assert_true(n > 0);
	memcpy(buf + n, "Subject: x\r\n", 12);
	assert_int_equal(qenv_decode(buf, (size_t)n + 12, &d), 0);
	assert_int_equal(d.body_off, (size_t)n);
	assert_string_equal(d.id, e.id);
	assert_string_equal(d.from, "alice@example.org");
	assert_string_equal(d.helo, "client.example");
	assert_int_equal(d.flags, QENV_F_8BIT);
	assert_int_equal(d.n_rcpt, 3);
	assert_string_equal(d.rcpt[2].addr, "u2@example.test");
	assert_string_equal(d.rcpt[2].mbox, "box2@example.test");
	qenv_free(&d);
}

static void test_qenv_null_sender_and_small_buffer(void **state)
{
	struct qenv_rcpt r[1];
	struct qenv e, d;
	char buf[4096];

	fill_env(&e, r, 1);
	e.from[0] = '\0';
	long n = qenv_encode(&e, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(qenv_decode(buf, (size_t)n, &d), 0);
	assert_string_equal(d.from, "");
	qenv_free(&d);
	assert_int_equal(qenv_encode(&e, buf, 40), -1);
}

static void test_qenv_rejects(void **state)
{
	struct qenv d;
	static const char *bad[] = {
	    "",
	    "sealpost-queue 2\nid 0123456789abcdef\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\nrcpt a@b\n\n", /* rcpt without mbox */
	    "sealpost-queue 1\nid 0123456789abcdeX\nrcpt a@b\nmbox a@b\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\n\n",		     /* no recipient */
	    "sealpost-queue 1\nid 0123456789abcdef\nrcpt a@b\nmbox a@b\n",   /* no end */
	    "sealpost-queue 1\nid 0123456789abcdef\nmbox a@b\nrcpt a@b\n\n", /* order */
	    "sealpost-queue 1\nid 0123456789abcdef\nflags 9\nrcpt a@b\nmbox a@b\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\nbogus 1\nrcpt a@b\nmbox a@b\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\ntime -5\nrcpt a@b\nmbox a@b\n\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(qenv_decode(bad[i], strlen(bad[i]), &d), -1);
}

/* The late region: written at commit, read back as envelope lines and a
 * header prefix right in front of the message. */
static void test_qenv_late_region(void **state)
{
	struct qenv_rcpt r[1];
	struct qenv e, d;
	static char buf[8192];
	char region[QENV_LATE_SIZE], line[sizeof QENV_LATE_LINE];
	const char *ar = "Authentication-Results: mx.example.test; dkim=none\r\n";

	(void)state;
	fill_env(&e, r, 1);
	long n = qenv_encode(&e, buf, sizeof buf);
	long lo = qenv_late_line_off(buf, (size_t)n);
	assert_true(n > QENV_LATE_SIZE && lo > 0);
	/* as opened: an empty region, the message right after it */
	assert_int_equal(qenv_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.body_off, (size_t)n);
	assert_string_equal(d.folder, "");
	qenv_free(&d);
	/* as committed */
	assert_int_equal(qenv_late_fill("folder Junk\n", ar, region, line), 0);
	memcpy(buf + n - QENV_LATE_SIZE, region, QENV_LATE_SIZE);
	memcpy(buf + lo, line, sizeof line - 1);
	assert_int_equal(qenv_decode(buf, (size_t)n, &d), 0);
	assert_string_equal(d.folder, "Junk");
	assert_int_equal(d.body_off, (size_t)n - strlen(ar));
	assert_memory_equal(buf + d.body_off, ar, strlen(ar));
	qenv_free(&d);
	/* too much for the region */
	static char big[QENV_LATE_SIZE + 2];
	memset(big, 'x', sizeof big - 1);
	assert_int_equal(qenv_late_fill("", big, region, line), -1);
	/* a folder line outside the region, a late line twice, sizes past the region */
	static const char *bad[] = {
	    "sealpost-queue 1\nid 0123456789abcdef\nfolder Junk\nrcpt a@b\nmbox a@b\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\nrcpt a@b\nmbox a@b\nlate 00000 00000\n"
	    "late 00000 00000\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\nrcpt a@b\nmbox a@b\nlate 02000 00049\n\n",
	    "sealpost-queue 1\nid 0123456789abcdef\nrcpt a@b\nmbox a@b\nlate 00000 00000\n\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(qenv_decode(bad[i], strlen(bad[i]), &d), -1);
}

static void test_qstate(void **state)
{
	struct qenv_rcpt r[3];
	struct qenv e;
	struct qstate st = {0};
	const char *text =
	    "done 0\ntry 1764072000 mailbox full\ndone 2\ndone 7\ntry 1764072600 disk "
	    "error\ndone 1";

	fill_env(&e, r, 3);
	qstate_apply(&e, &st, text, strlen(text));
	assert_int_equal(r[0].done, 1);
	assert_int_equal(r[1].done, 0); /* torn last line is ignored */
	assert_int_equal(r[2].done, 1);
	assert_int_equal(st.tries, 2);
	assert_string_equal(st.last_error, "disk error");
}

static void test_queue_id(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE];

	assert_int_equal(queue_id_new(a), 0);
	assert_int_equal(queue_id_new(b), 0);
	assert_true(queue_id_valid(a));
	assert_string_not_equal(a, b);
	assert_false(queue_id_valid("0123456789abcde"));
	assert_false(queue_id_valid("0123456789abcdef0"));
	assert_false(queue_id_valid("../../etc/passwd"));
	assert_false(queue_id_valid("0123456789ABCDEF"));
	assert_false(qenv_value_ok("a\nrcpt evil@x", 64));
	assert_true(qenv_value_ok("a b", 64));
}

static void test_ipc_codec(void **state)
{
	static struct ipc_msg m, d;
	unsigned char raw[IPC_MSG_MAX];
	char s[16];

	ipc_msg_init(&m, IPC_RCPT_CHECK);
	ipc_put_u64(&m, 42);
	ipc_put_str(&m, "bob@x");
	uint32_t type = m.type, len = (uint32_t)m.len;
	memcpy(raw, &type, 4);
	memcpy(raw + 4, &len, 4);
	memcpy(raw + 8, m.data, m.len);
	assert_int_equal(ipc_decode(raw, 8 + m.len, &d), 0);
	assert_int_equal(ipc_get_u64(&d), 42);
	ipc_get_str(&d, s, sizeof s);
	assert_string_equal(s, "bob@x");
	assert_int_equal(ipc_end(&d), 0);
	/* reading past the end fails closed */
	ipc_get_u32(&d);
	assert_int_equal(ipc_end(&d), -1);
	/* wrong length, unknown type */
	assert_int_equal(ipc_decode(raw, 7 + m.len, &d), -1);
	type = 999;
	memcpy(raw, &type, 4);
	assert_int_equal(ipc_decode(raw, 8 + m.len, &d), -1);
}

static void test_ipc_string_rules(void **state)
{
	static struct ipc_msg m;
	char small[4];

	ipc_msg_init(&m, IPC_MSG_ABORT);
	ipc_put_strn(&m, "a\0b", 3);
	ipc_get_str(&m, small, sizeof small);
	assert_true(m.bad); /* NUL inside */
	ipc_msg_init(&m, IPC_MSG_ABORT);
	ipc_put_str(&m, "toolong");
	ipc_get_str(&m, small, sizeof small);
	assert_true(m.bad); /* over the cap */
	assert_string_equal(small, "");
	ipc_msg_init(&m, IPC_MSG_ABORT);
	ipc_put_u32(&m, 1);
	ipc_get_u32(&m);
	ipc_get_u32(&m);
	assert_true(m.bad);
}

static void test_maildir_path(void **state)
{
	char out[256], why[128];

	assert_int_equal(
	    maildir_path("/m/%d/%u", "bob@example.test", out, sizeof out, why, sizeof why), 0);
	assert_string_equal(out, "/m/example.test/bob");
	assert_int_equal(
	    maildir_path("/m/%%/%u/Maildir", "bob@x.test", out, sizeof out, why, sizeof why), 0);
	assert_string_equal(out, "/m/%/bob/Maildir");
	static const char *bad[] = {
	    "../x@example.test", "a/b@example.test", ".hidden@example.test", "bob@..",
	    "bob@a/b",		 "nodomain",	     "@example.test",	     "bob@"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(maildir_path("/m/%d/%u", bad[i], out, sizeof out, why, sizeof why),
				 -1);
	assert_int_equal(maildir_path("/m/%x/%u", "bob@x.test", out, sizeof out, why, sizeof why),
			 -1);
	assert_int_equal(maildir_path("/m/%d/%u", "bob@x.test", out, 8, why, sizeof why), -1);
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
}

/* One recipient's copy has one name on every attempt; a copy that is there
 * (in new/, or moved to cur/ with flags) is found, and a repeated delivery
 * replaces its first copy instead of adding a second. */
static void test_maildir_same_name_every_attempt(void **state)
{
	char dir[] = "/tmp/sealpost-unit-maildir-XXXXXX", name[256], other[256], path[512];
	char why[128];
	int n = 0;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(
	    maildir_name(name, sizeof name, 1700000000, "0123456789abcdef", 3, "mx.example.test"),
	    0);
	assert_string_equal(name, "1700000000.Q0123456789abcdefR3.mx.example.test");
	assert_int_equal(maildir_name(other, sizeof other, 1700000000, "0123456789abcdef", 13,
				      "mx.example.test"),
			 0);
	assert_int_equal(maildir_name(name, 16, 1700000000, "0123456789abcdef", 3, "h"), -1);
	assert_int_equal(
	    maildir_name(name, sizeof name, 1700000000, "0123456789abcdef", 3, "mx.example.test"),
	    0);
	assert_int_equal(maildir_has(dir, name), 0); /* no Maildir yet */
	assert_int_equal(maildir_deliver(dir, name, "X: 1\n", 5, "a\r\n", 3, why, sizeof why), 0);
	assert_int_equal(maildir_has(dir, name), 1);
	assert_int_equal(maildir_deliver(dir, name, "X: 1\n", 5, "a\r\n", 3, why, sizeof why), 0);
	snprintf(path, sizeof path, "%s/new", dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		n += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1); /* replaced, not doubled */
	/* a reader moved it to cur/ and flagged it seen */
	char from[600], to[600];
	snprintf(from, sizeof from, "%s/new/%s", dir, name);
	snprintf(to, sizeof to, "%s/cur/%s:2,S", dir, name);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(maildir_has(dir, name), 1);
	assert_int_equal(maildir_has(dir, other), 0);	  /* R13: another recipient's copy */
	snprintf(to, sizeof to, "%s/cur/%s", dir, other); /* moved without flags */
	write_file(to);
	assert_int_equal(maildir_has(dir, other), 1);
	snprintf(to, sizeof to, "rm -rf %s", dir);
	assert_int_equal(system(to), 0);
}

/* The copy is the prefix, then the message with CRLF turned into LF, for
 * prefixes just under, at and over the 64 KiB write buffer (the prefix
 * shares the buffer with the message). */
static void test_maildir_prefix_and_body(void **state)
{
	static const size_t sizes[] = {5, 65535, 65536, 65537};
	char dir[] = "/tmp/sealpost-unit-maildir-XXXXXX", path[512], why[128];
	const char msg[] = "Subject: x\r\n\r\nline\r\nbare\rcr\r\n";
	const char want[] = "Subject: x\n\nline\nbare\rcr\n";

	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i], got_len;
		char *prefix = malloc(n), *got = malloc(n + sizeof want), name[32];
		FILE *f;

		assert_non_null(prefix);
		assert_non_null(got);
		for (size_t k = 0; k < n; k++)
			prefix[k] = (k % 64 == 63) ? '\n' : (char)('a' + k % 26);
		snprintf(name, sizeof name, "p%zu", n);
		assert_int_equal(
		    maildir_deliver(dir, name, prefix, n, msg, sizeof msg - 1, why, sizeof why), 0);
		snprintf(path, sizeof path, "%s/new/%s", dir, name);
		f = fopen(path, "rb");
		assert_non_null(f);
		got_len = fread(got, 1, n + sizeof want, f);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(got_len, n + sizeof want - 1);
		assert_memory_equal(got, prefix, n);
		assert_memory_equal(got + n, want, sizeof want - 1);
		free(prefix);
		free(got);
	}
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qenv_roundtrip),
	    cmocka_unit_test(test_qenv_null_sender_and_small_buffer),
	    cmocka_unit_test(test_qenv_rejects),
	    cmocka_unit_test(test_qenv_late_region),
	    cmocka_unit_test(test_qstate),
	    cmocka_unit_test(test_queue_id),
	    cmocka_unit_test(test_ipc_codec),
	    cmocka_unit_test(test_ipc_string_rules),
	    cmocka_unit_test(test_maildir_path),
	    cmocka_unit_test(test_maildir_same_name_every_attempt),
	    cmocka_unit_test(test_maildir_prefix_and_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
