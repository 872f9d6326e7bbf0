/*
 * test_users: unit tests for the users file (src/lookup/users.c): parsing
 * (old 2-3 field lines and the FLAGS and SCRAM fields), lookups, send-as
 * rights, changes, atomic saving and password hashing/verification.
 *
 * Security role: pins down that no address can belong to two users, that
 * malformed lines, unknown flags and bad SCRAM secrets are refused with
 * "file:line: reason", that a new password drops the old SCRAM secret,
 * that the saved file has mode 0640 and that only the right password
 * verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lookup/users.h"

#define H1 "$y$j9T$bx4u.RkJWnW5lG0vH4g6b0$V/DoQykwkKzlFG.GgfPMslkoDPmgVGBPA1wBnpw7VGC"
#define S1                                                                                         \
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=" \
	":"                                                                                        \
	"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

static const char sample[] = "# users\n"
			     "\n"
			     "alice@Example.TEST:" H1 ":Alias@example.test, al@other.test\r\n"
			     "  bob@example.test : * \n"
			     "carol@example.test:" H1 ":\n";

static char err[USERS_ERR_MAX];

static void test_parse_find(void **state)
{
	struct users u = USERS_INIT;
	(void)state;
	assert_int_equal(users_parse(sample, strlen(sample), "u", &u, err, sizeof err), 0);
	assert_int_equal(u.n, 3);
	assert_string_equal(u.v[0].addr, "alice@example.test");
	assert_string_equal(u.v[0].hash, H1);
	assert_int_equal(u.v[0].n_extra, 2);
	assert_string_equal(u.v[0].extra[0], "Alias@example.test");
	assert_string_equal(u.v[0].extra[1], "al@other.test");
	assert_int_equal(u.v[0].line, 3);
	assert_string_equal(u.v[1].addr, "bob@example.test");
	assert_string_equal(u.v[1].hash, "*");
	assert_int_equal(u.v[2].n_extra, 0);

	assert_ptr_equal(users_find(&u, "ALICE@example.test"), &u.v[0]);
	assert_ptr_equal(users_find(&u, "alias@EXAMPLE.test."), &u.v[0]);
	assert_ptr_equal(users_find(&u, "al@other.test"), &u.v[0]);
	assert_ptr_equal(users_find(&u, "bob@example.test"), &u.v[1]);
	assert_null(users_find(&u, "bob@example.tes"));
	assert_null(users_find(&u, "nobody@example.test"));
	assert_null(users_find(&u, ""));
	users_free(&u);
	assert_int_equal(u.n, 0);
	assert_null(u.v);
}

/* text[0..len) must fail with exactly want. */
static void expect_error_n(const char *text, size_t len, const char *want)
{
	struct users u = USERS_INIT;

	assert_int_equal(users_parse(text, len, "users", &u, err, sizeof err), -1);
	if (strcmp(err, want) != 0) {
		print_message("text: %s\nwant: %s\ngot:  %s\n", text, want, err);
		fail();
	}
	assert_int_equal(u.n, 0);
	assert_null(u.v);
}

static void expect_error(const char *text, const char *want)
{
	expect_error_n(text, strlen(text), want);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error("# x\nalice@example.test\n",
		     "users:2: expected ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]]");
	expect_error("alice:*\n", "users:1: 'alice' is not a valid address: missing '@'");
	expect_error(":*\n", "users:1: empty address");
	expect_error("a/b@example.test:*\n",
		     "users:1: 'a/b@example.test' is not a valid address: invalid character in "
		     "local part (letters, digits and \". _ - + =\" are allowed)");
	expect_error("a@example.test:\n",
		     "users:1: user a@example.test: empty password hash (use * for no login)");
	expect_error("a@example.test:plaintext\n",
		     "users:1: user a@example.test: unsupported password hash (expected $y$, $2b$, "
		     "$6$ or *)");
	expect_error("a@example.test:$1$abcdefgh$abcdefghijklmnopqrstuv\n",
		     "users:1: user a@example.test: unsupported password hash (expected $y$, $2b$, "
		     "$6$ or *)");
	expect_error(
	    "a@example.test:*:b@example.test:c@example.test\n",
	    "users:1: user a@example.test: unknown flag 'c@example.test' (known: any-from)");
	expect_error("a@example.test:*:b@example.test,,c@example.test\n", "users:1: empty address");
	expect_error("a@example.test:*:b@example.test,\n", "users:1: empty address");
	expect_error("a@example.test:*\nb@example.test:*:A@Example.Test\n",
		     "users:2: address A@example.test already belongs to a@example.test (line 1)");
	expect_error("a@example.test:*:x@example.test\nx@example.test:*\n",
		     "users:2: address x@example.test already belongs to a@example.test (line 1)");
	expect_error("a@example.test:*:a@example.test\n",
		     "users:1: address a@example.test is listed twice for this user");
	expect_error("a@example.test:*\x01\n", "users:1: control character 0x01");
	static const char nul[] = "ok@example.test:*\na@example.test:*\0\n";
	expect_error_n(nul, sizeof nul - 1, "users:2: control character 0x00");
}

static void test_limits(void **state)
{
	size_t cap = 100 + (USERS_EXTRA_MAX + 1) * 24, o;
	char *text = malloc(cap);
	struct users u = USERS_INIT;
	(void)state;
	assert_non_null(text);
	o = (size_t)snprintf(text, cap, "a@example.test:*:");
	for (int i = 0; i <= USERS_EXTRA_MAX; i++)
		o += (size_t)snprintf(text + o, cap - o, "%sx%d@example.test", i ? "," : "", i);
	assert_int_equal(users_parse(text, o, "users", &u, err, sizeof err), -1);
	assert_string_equal(err, "users:1: more than 256 extra addresses");
	/* one fewer is fine */
	*strrchr(text, ',') = '\0';
	assert_int_equal(users_parse(text, strlen(text), "users", &u, err, sizeof err), 0);
	assert_int_equal(u.v[0].n_extra, USERS_EXTRA_MAX);
	users_free(&u);
	free(text);
}

static void test_add_del(void **state)
{
	struct users u = USERS_INIT;
	const char *extra[] = {"Dan.Alias@Example.Test", "d@other.test"};
	const char *dup[] = {"x@example.test", "X@example.test"};
	(void)state;
	assert_int_equal(users_parse(sample, strlen(sample), "u", &u, err, sizeof err), 0);
	assert_int_equal(users_add(&u, "dan@EXAMPLE.test", "*", extra, 2, err, sizeof err), 0);
	assert_int_equal(u.n, 4);
	assert_string_equal(u.v[3].addr, "dan@example.test");
	assert_string_equal(u.v[3].extra[0], "Dan.Alias@example.test");
	assert_ptr_equal(users_find(&u, "dan.alias@example.test"), &u.v[3]);

	assert_int_equal(users_add(&u, "alias@example.test", "*", NULL, 0, err, sizeof err), -1);
	assert_string_equal(err,
			    "address alias@example.test already belongs to alice@example.test");
	assert_int_equal(users_add(&u, "eve@example.test", "*", dup, 2, err, sizeof err), -1);
	assert_string_equal(err, "address X@example.test is given twice");
	assert_int_equal(users_add(&u, "eve@example.test", "pw", NULL, 0, err, sizeof err), -1);
	assert_string_equal(err, "unsupported password hash");
	assert_int_equal(users_add(&u, "eve", "*", NULL, 0, err, sizeof err), -1);
	assert_string_equal(err, "'eve' is not a valid address: missing '@'");
	assert_int_equal(u.n, 4);

	assert_int_equal(users_del(&u, "alias@example.test", err, sizeof err), -1);
	assert_string_equal(err, "alias@example.test is an extra address of user "
				 "alice@example.test, not a user");
	assert_int_equal(users_del(&u, "nobody@example.test", err, sizeof err), -1);
	assert_string_equal(err, "no such user: nobody@example.test");
	assert_int_equal(users_del(&u, "BOB@example.test", err, sizeof err), 0);
	assert_int_equal(u.n, 3);
	assert_null(users_find(&u, "bob@example.test"));
	assert_string_equal(u.v[1].addr, "carol@example.test");
	assert_ptr_equal(users_find(&u, "d@other.test"), &u.v[2]);

	assert_int_equal(users_set_hash(&u, "carol@example.test", "*", err, sizeof err), 0);
	assert_string_equal(u.v[1].hash, "*");
	assert_int_equal(users_set_hash(&u, "carol@example.test", "x", err, sizeof err), -1);
	assert_int_equal(users_set_hash(&u, "zed@example.test", "*", err, sizeof err), -1);
	users_free(&u);
}

static void test_save(void **state)
{
	char dir[] = "/tmp/sealpost-test-users-XXXXXX", path[256], tmp[300];
	struct users u = USERS_INIT, back = USERS_INIT;
	struct stat st;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/users", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	assert_int_equal(users_parse(sample, strlen(sample), "u", &u, err, sizeof err), 0);

	mode_t old = umask(077); /* the mode must not depend on the umask */
	assert_int_equal(users_save(path, &u, err, sizeof err), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(access(tmp, F_OK), -1);

	assert_int_equal(users_load(path, &back, err, sizeof err), 0);
	assert_int_equal(back.n, u.n);
	for (size_t i = 0; i < u.n; i++) {
		assert_string_equal(back.v[i].addr, u.v[i].addr);
		assert_string_equal(back.v[i].hash, u.v[i].hash);
		assert_int_equal(back.v[i].n_extra, u.v[i].n_extra);
		for (size_t j = 0; j < u.v[i].n_extra; j++)
			assert_string_equal(back.v[i].extra[j], u.v[i].extra[j]);
	}
	users_free(&back);

	/* a stale temp file from a crash is replaced, not followed */
	assert_int_equal(symlink("/nonexistent-target", tmp), 0);
	assert_int_equal(users_del(&u, "bob@example.test", err, sizeof err), 0);
	assert_int_equal(users_save(path, &u, err, sizeof err), 0);
	assert_int_equal(users_load(path, &back, err, sizeof err), 0);
	assert_int_equal(back.n, 2);
	users_free(&back);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(users_load(path, &back, err, sizeof err), -1);
	char want[400];
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
	snprintf(path, sizeof path, "%s/missing-dir/users", dir);
	assert_int_equal(users_save(path, &u, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(rmdir(dir), 0);
	users_free(&u);
}

static void test_hash_verify(void **state)
{
	char h1[USERS_HASH_MAX], h2[USERS_HASH_MAX];
	struct users u = USERS_INIT;
	(void)state;
	assert_int_equal(users_hash_password("correct horse", h1, sizeof h1), 0);
	assert_int_equal(users_hash_password("correct horse", h2, sizeof h2), 0);
	assert_memory_equal(h1, "$y$", 3);
	assert_string_not_equal(h1, h2); /* fresh salt each time */
	assert_true(users_hash_valid(h1));
	assert_int_equal(users_hash_password("x", h1, 10), -1); /* does not fit */

	assert_int_equal(users_hash_password("correct horse", h1, sizeof h1), 0);
	assert_int_equal(users_add(&u, "a@example.test", h1, NULL, 0, err, sizeof err), 0);
	assert_int_equal(users_add(&u, "b@example.test", "*", NULL, 0, err, sizeof err), 0);
	assert_int_equal(users_verify_password(&u.v[0], "correct horse"), 1);
	assert_int_equal(users_verify_password(&u.v[0], "correct horsE"), 0);
	assert_int_equal(users_verify_password(&u.v[0], ""), 0);
	assert_int_equal(users_verify_password(&u.v[1], ""), 0);
	assert_int_equal(users_verify_password(&u.v[1], "*"), 0);
	assert_int_equal(users_verify_password(NULL, "correct horse"), 0);
	/* the dummy hash used for timing must not let its own password in */
	assert_int_equal(users_verify_password(NULL, "sealpost-timing-dummy"), 0);

	/* sha512-crypt hashes from an older system still verify */
	struct crypt_data cd;
	memset(&cd, 0, sizeof cd);
	const char *h6 = crypt_r("old pw", "$6$saltsaltsalt$", &cd);
	assert_non_null(h6);
	assert_int_equal(users_set_hash(&u, "b@example.test", h6, err, sizeof err), 0);
	assert_int_equal(users_verify_password(&u.v[1], "old pw"), 1);
	assert_int_equal(users_verify_password(&u.v[1], "old pW"), 0);

	char big[USERS_PW_MAX + 2];
	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(users_hash_password(big, h1, sizeof h1), -1);
	assert_int_equal(users_verify_password(&u.v[0], big), 0);
	users_free(&u);
}

static void test_flags_scram_parse(void **state)
{
	static const char text[] = "a@example.test:" H1 "::any-from:" S1 "\n"
				   "b@example.test:" H1 ":b2@example.test: any-from \n"
				   "c@example.test:" H1 ":::  " S1 "  \n"
				   "d@example.test:*:d2@example.test::\n"
				   "e@example.test:" H1 ":\n";
	struct users u = USERS_INIT;
	struct scram_secret sec;
	(void)state;
	assert_int_equal(users_parse(text, strlen(text), "u", &u, err, sizeof err), 0);
	assert_int_equal(u.n, 5);
	assert_int_equal(u.v[0].flags, USER_F_ANY_FROM);
	assert_string_equal(u.v[0].scram, S1);
	assert_int_equal(u.v[0].n_extra, 0);
	assert_int_equal(u.v[1].flags, USER_F_ANY_FROM);
	assert_string_equal(u.v[1].scram, "");
	assert_int_equal(u.v[1].n_extra, 1);
	assert_int_equal(u.v[2].flags, 0);
	assert_string_equal(u.v[2].scram, S1);
	assert_int_equal(u.v[3].flags, 0);
	assert_string_equal(u.v[3].scram, "");
	assert_int_equal(u.v[4].flags, 0);

	/* the secret for SCRAM: only a login user with a valid secret has one */
	assert_int_equal(users_scram(&u.v[0], &sec), 0);
	assert_int_equal(sec.iter, 4096);
	assert_int_equal(sec.salt_len, 16);
	assert_int_equal(users_scram(&u.v[1], &sec), -1);
	assert_int_equal(users_scram(&u.v[3], &sec), -1);
	assert_int_equal(users_scram(NULL, &sec), -1);
	users_free(&u);
}

static void test_flags_scram_errors(void **state)
{
	(void)state;
	expect_error("a@example.test:*::bogus\n",
		     "users:1: user a@example.test: unknown flag 'bogus' (known: any-from)");
	expect_error("a@example.test:*::Any-From\n",
		     "users:1: user a@example.test: unknown flag 'Any-From' (known: any-from)");
	expect_error("a@example.test:*::any-from,any-from\n",
		     "users:1: user a@example.test: flag any-from listed twice");
	expect_error("a@example.test:*::any-from,\n", "users:1: user a@example.test: empty flag");
	expect_error("a@example.test:*::,any-from\n", "users:1: user a@example.test: empty flag");
	expect_error("a@example.test:*::any-from,,x\n", "users:1: user a@example.test: empty flag");
	expect_error("a@example.test:" H1 ":::SCRAM-SHA-256$4096:xx\n",
		     "users:1: bad SCRAM secret");
	expect_error("a@example.test:" H1 ":::" S1 ":\n", "users:1: bad SCRAM secret");
	expect_error("a@example.test:" H1 ":::" S1 "x\n", "users:1: bad SCRAM secret");
	expect_error("a@example.test:" H1 ":::SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$x:y\n",
		     "users:1: bad SCRAM secret");
	expect_error("a@example.test:" H1 ":::plain\n", "users:1: bad SCRAM secret");
	expect_error(
	    "a@example.test:*:::" S1 "\n",
	    "users:1: user a@example.test: SCRAM secret for a user without login (HASH *)");
}

static void test_login_send_as(void **state)
{
	struct users u = USERS_INIT;
	(void)state;
	assert_int_equal(users_parse(sample, strlen(sample), "u", &u, err, sizeof err), 0);
	const struct user *a = &u.v[0];
	assert_ptr_equal(users_find_login(&u, "alice@example.test"), a);
	assert_ptr_equal(users_find_login(&u, "ALICE@Example.TEST"), a);
	assert_null(users_find_login(&u, "alias@example.test")); /* extra: no login */
	assert_null(users_find_login(&u, "alice@example.test."));
	assert_null(users_find_login(&u, "alice"));
	assert_null(users_find_login(&u, ""));
	assert_null(users_find_login(&u, NULL));
	assert_ptr_equal(users_find_login(&u, "bob@example.test"), &u.v[1]);

	assert_int_equal(users_may_send_as(a, "alice@example.test"), 1);
	assert_int_equal(users_may_send_as(a, "Alice@EXAMPLE.test"), 1);
	assert_int_equal(users_may_send_as(a, "alias@example.test"), 1);
	assert_int_equal(users_may_send_as(a, "AL@other.test."), 1);
	assert_int_equal(users_may_send_as(a, "bob@example.test"), 0);
	assert_int_equal(users_may_send_as(a, "alice@example.tes"), 0);
	assert_int_equal(users_may_send_as(a, "alice@example.test.."), 0);
	assert_int_equal(users_may_send_as(a, ""), 0);
	assert_int_equal(users_may_send_as(a, NULL), 0);
	assert_int_equal(users_may_send_as(NULL, "alice@example.test"), 0);
	assert_int_equal(users_may_send_as(&u.v[1], "alias@example.test"), 0);
	users_free(&u);
}

static void test_set_flags_scram(void **state)
{
	struct users u = USERS_INIT;
	char f[USERS_FLAGS_MAX];
	(void)state;
	assert_int_equal(users_parse(sample, strlen(sample), "u", &u, err, sizeof err), 0);
	assert_int_equal(
	    users_set_flags(&u, "alice@example.test", USER_F_ANY_FROM, err, sizeof err), 0);
	assert_int_equal(u.v[0].flags, USER_F_ANY_FROM);
	assert_int_equal(users_set_flags(&u, "alice@example.test", 0x80, err, sizeof err), -1);
	assert_string_equal(err, "unknown flag 0x80");
	assert_int_equal(users_set_flags(&u, "alias@example.test", 0, err, sizeof err), -1);
	assert_int_equal(users_flags_format(USER_F_ANY_FROM, f, sizeof f), 0);
	assert_string_equal(f, "any-from");
	assert_int_equal(users_flags_format(0, f, sizeof f), 0);
	assert_string_equal(f, "");
	assert_int_equal(users_flags_format(0x80, f, sizeof f), -1);
	assert_int_equal(users_flags_format(USER_F_ANY_FROM, f, 4), -1);

	assert_int_equal(users_set_scram(&u, "alice@example.test", S1, err, sizeof err), 0);
	assert_string_equal(u.v[0].scram, S1);
	assert_int_equal(users_set_scram(&u, "alice@example.test", "junk", err, sizeof err), -1);
	assert_string_equal(err, "bad SCRAM secret");
	assert_string_equal(u.v[0].scram, S1);
	assert_int_equal(users_set_scram(&u, "bob@example.test", S1, err, sizeof err), -1);
	assert_string_equal(err,
			    "user bob@example.test cannot log in (no password): no SCRAM secret");
	assert_int_equal(users_set_scram(&u, "bob@example.test", "", err, sizeof err), 0);
	assert_int_equal(users_set_scram(&u, "nobody@example.test", S1, err, sizeof err), -1);
	/* a new password drops the secret of the old one */
	assert_int_equal(users_set_hash(&u, "alice@example.test", H1, err, sizeof err), 0);
	assert_string_equal(u.v[0].scram, "");
	assert_int_equal(users_set_scram(&u, "alice@example.test", S1, err, sizeof err), 0);
	assert_int_equal(users_set_hash(&u, "alice@example.test", "*", err, sizeof err), 0);
	assert_string_equal(u.v[0].scram, "");
	assert_int_equal(u.v[0].flags, USER_F_ANY_FROM); /* flags stay */
	users_free(&u);
}

/* Saving writes the new fields and leaves trailing empty ones out. */
static void test_save_new_fields(void **state)
{
	static const char text[] = "a@example.test:" H1 "\n"
				   "b@example.test:" H1 ":b2@example.test,b3@example.test\n"
				   "c@example.test:" H1 ":::" S1 "\n"
				   "d@example.test:*::any-from\n"
				   "e@example.test:" H1 ":e2@example.test:any-from:" S1 "\n"
				   "f@example.test:" H1 ":::\n";
	static const char want[] = "a@example.test:" H1 "\n"
				   "b@example.test:" H1 ":b2@example.test,b3@example.test\n"
				   "c@example.test:" H1 ":::" S1 "\n"
				   "d@example.test:*::any-from\n"
				   "e@example.test:" H1 ":e2@example.test:any-from:" S1 "\n"
				   "f@example.test:" H1 "\n";
	char dir[] = "/tmp/sealpost-test-users-XXXXXX", path[256], buf[4096];
	struct users u = USERS_INIT, back = USERS_INIT;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/users", dir);
	assert_int_equal(users_parse(text, strlen(text), "u", &u, err, sizeof err), 0);
	assert_int_equal(users_save(path, &u, err, sizeof err), 0);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	const char *body = strstr(buf, "\na@example.test:");
	assert_non_null(body);
	assert_string_equal(body + 1, want);
	static const char head[] = "# sealpost users file: ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]]\n";
	assert_memory_equal(buf, head, sizeof head - 1);
	assert_int_equal(users_load(path, &back, err, sizeof err), 0);
	assert_int_equal(back.n, u.n);
	for (size_t i = 0; i < u.n; i++) {
		assert_int_equal(back.v[i].flags, u.v[i].flags);
		assert_string_equal(back.v[i].scram, u.v[i].scram);
	}
	users_free(&back);
	users_free(&u);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_find),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_add_del),
	    cmocka_unit_test(test_save),
	    cmocka_unit_test(test_hash_verify),
	    cmocka_unit_test(test_flags_scram_parse),
	    cmocka_unit_test(test_flags_scram_errors),
	    cmocka_unit_test(test_login_send_as),
	    cmocka_unit_test(test_set_flags_scram),
	    cmocka_unit_test(test_save_new_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
