/*
 * test_conf: unit tests for the sealpost.conf parser (src/util/conf.c,
 * conf_limits.c: the limits block and dnsbl lines, and conf_remote.c: the
 * outbound-delivery directives).
 *
 * Security role: pins down that every malformed value is refused with a
 * precise "file:line: reason", that nothing is silently truncated and
 * that errors are collected rather than stopping at the first.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/conf.h"
#include "util/conf_limits.h"
#include "util/conf_remote.h"

#define BASE                                                                                       \
	"hostname mx.example.test\n"                                                               \
	"spool /var/spool/sealpost\n"                                                              \
	"users /etc/sealpost/users\n"                                                              \
	"listen 127.0.0.1:25 smtp\n"                                                               \
	"domain example.test maildir /var/mail/%d/%u\n"

#define BASE_LINES 5

static struct conf C;
static struct conf_errors E;

static int parse(const char *text)
{
	return conf_parse(text, strlen(text), "t.conf", &C, &E);
}

/* Is msg among the collected errors? */
static int has_error(const char *msg)
{
	for (size_t i = 0; i < E.n; i++)
		if (strcmp(E.msg[i], msg) == 0)
			return 1;
	return 0;
}

static void print_errors(void)
{
	for (size_t i = 0; i < E.n; i++)
		print_message("  error: %s\n", E.msg[i]);
}

/* BASE plus one line (line 6) must give exactly the error "t.conf:6: why". */
static void expect_line_error(const char *line, const char *why)
{
	char text[4096], want[CONF_ERR_MAX];

	snprintf(text, sizeof text, "%s%s\n", BASE, line);
	snprintf(want, sizeof want, "t.conf:%d: %s", BASE_LINES + 1, why);
	assert_int_equal(parse(text), -1);
	if (E.n != 1 || strcmp(E.msg[0], want) != 0) {
		print_message("line: %s\nwant: %s\n", line, want);
		print_errors();
		fail();
	}
}

static void test_full_config(void **state)
{
	const char *text = "# full config\n"
			   "version 1\n"
			   "hostname MX.Example.TEST.\n"
			   "spool \"/var/spool/seal post/\"   # trailing comment\n"
			   "user _smtp\n"
			   "queue-user _queue\r\n"
			   "\tlisten *:25 smtp\n"
			   "listen [::1]:587 submission\n"
			   "listen 192.0.2.1:465 submissions\n"
			   "domain Example.Test. maildir /var/mail/%d/%u\n"
			   "domain other.test maildir \"/srv/mail/%%/%u\"\n"
			   "users /etc/sealpost/users\n"
			   "socket /run/sp/s.sock\n"
			   "postmaster admin@Other.Test\n"
			   "resolver [2001:db8::53]:5353\n"
			   "max-message-size 10M\n"
			   "max-recipients 500\n"
			   "workers 4\n"
			   "tls cert /etc/sealpost/cert.pem key /etc/sealpost/key.pem\n"
			   "tls cert /etc/sealpost/rsa.pem key \"/etc/sealpost/rsa key.pem\"\n"
			   "auth-lock-after 5\n";
	(void)state;
	if (parse(text) != 0)
		print_errors();
	assert_int_equal(E.n, 0);
	assert_string_equal(C.path, "t.conf");
	assert_string_equal(C.hostname, "mx.example.test");
	assert_string_equal(C.spool, "/var/spool/seal post");
	assert_string_equal(C.user, "_smtp");
	assert_string_equal(C.queue_user, "_queue");
	assert_string_equal(C.users_file, "/etc/sealpost/users");
	assert_string_equal(C.socket_path, "/run/sp/s.sock");
	assert_string_equal(C.postmaster, "admin@other.test");
	assert_string_equal(C.resolver, "[2001:db8::53]:5353");
	assert_int_equal(C.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(C.max_rcpt, 500);
	assert_int_equal(C.workers, 4);
	assert_int_equal(C.n_domains, 2);
	assert_string_equal(C.domains[0].name, "example.test");
	assert_string_equal(C.domains[0].maildir, "/var/mail/%d/%u");
	assert_int_equal(C.domains[0].line, 10);
	assert_string_equal(C.domains[1].maildir, "/srv/mail/%%/%u");
	assert_int_equal(C.n_listen, 3);
	assert_int_equal(C.listen[1].line, 8);
	assert_int_equal(C.n_tls, 2);
	assert_string_equal(C.tls[1].key, "/etc/sealpost/rsa key.pem");
	assert_int_equal(C.tls[1].line, 20);
	assert_int_equal(C.auth.lock_after, 5);
	assert_int_equal(C.auth.delay_after, 3);

	const struct sockaddr_in6 *r6 = (const void *)&C.resolver_addr;
	assert_int_equal(r6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(r6->sin6_port), 5353);
	assert_int_equal(C.resolver_addr_len, sizeof(struct sockaddr_in6));
}

static void test_tls_errors(void **state)
{
	(void)state;
	assert_int_equal(parse("hostname h.test\nspool /s\nusers /u\n"
			       "domain d.test maildir /m/%u\n"
			       "listen *:25 smtp\nlisten *:587 submission\n"),
			 -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:6: listen: a submission listener needs TLS: add a "
				      "'tls cert FILE key FILE' line");
	assert_int_equal(parse("hostname h.test\nspool /s\nusers /u\n"
			       "domain d.test maildir /m/%u\nlisten *:25 smtp\n"
			       "tls cert /c\ntls crt /c key /k\ntls cert c key /k\n"),
			 -1);
	assert_int_equal(E.n, 3);
}

static void test_listen_kinds(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	(void)state;
	assert_int_equal(parse("hostname h.test\nspool /s\nusers /u\n"
			       "domain d.test maildir /m/%u\n"
			       "listen *:25 smtp\nlisten [::1]:587 submission\n"
			       "listen 192.0.2.1:465 submissions\n"
			       "tls cert /c key /k\n"),
			 0);
	const struct sockaddr_in *a = (const void *)&C.listen[0].addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 25);
	assert_int_equal(a->sin_addr.s_addr, htonl(INADDR_ANY));
	assert_int_equal(C.listen[0].addr_len, sizeof(struct sockaddr_in));
	assert_int_equal(C.listen[0].kind, LISTEN_SMTP);
	assert_string_equal(C.listen[0].text, "*:25");

	const struct sockaddr_in6 *b = (const void *)&C.listen[1].addr;
	assert_int_equal(b->sin6_family, AF_INET6);
	assert_int_equal(ntohs(b->sin6_port), 587);
	assert_non_null(inet_ntop(AF_INET6, &b->sin6_addr, buf, sizeof buf));
	assert_string_equal(buf, "::1");
	assert_int_equal(C.listen[1].addr_len, sizeof(struct sockaddr_in6));
	assert_int_equal(C.listen[1].kind, LISTEN_SUBMISSION);

	const struct sockaddr_in *c = (const void *)&C.listen[2].addr;
	assert_non_null(inet_ntop(AF_INET, &c->sin_addr, buf, sizeof buf));
	assert_string_equal(buf, "192.0.2.1");
	assert_int_equal(C.listen[2].kind, LISTEN_SUBMISSIONS);
	assert_string_equal(conf_listen_kind_name(LISTEN_SUBMISSIONS), "submissions");
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(BASE), 0);
	assert_string_equal(C.user, CONF_DEFAULT_USER);
	assert_string_equal(C.queue_user, CONF_DEFAULT_QUSER);
	assert_string_equal(C.socket_path, "/run/sealpost/sealpost.sock");
	assert_string_equal(C.postmaster, "");
	assert_string_equal(C.resolver, "");
	assert_int_equal(C.resolver_addr_len, 0);
	assert_int_equal(C.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(C.max_rcpt, 100);
	assert_int_equal(C.workers, 0);
}

static void test_listen_errors(void **state)
{
	(void)state;
	expect_line_error("listen 127.0.0.1:99999 smtp",
			  "listen: port 99999 is out of range 1-65535");
	expect_line_error("listen 127.0.0.1:0 smtp", "listen: port 0 is out of range 1-65535");
	expect_line_error("listen 127.0.0.1:2x smtp", "listen: port '2x' is not a number");
	expect_line_error("listen 127.0.0.1: smtp",
			  "listen: missing port in '127.0.0.1:' (expected ADDR:PORT)");
	expect_line_error("resolver 127.0.0.1:",
			  "resolver: missing port in '127.0.0.1:' (expected ADDR:PORT)");
	expect_line_error("listen 127.0.0.1 smtp",
			  "listen: missing port in '127.0.0.1' (expected ADDR:PORT)");
	expect_line_error("listen ::1:25 smtp",
			  "listen: IPv6 addresses must be in brackets, e.g. [::1]:25");
	expect_line_error("listen [::1:25 smtp", "listen: missing ']' after IPv6 address");
	expect_line_error("listen [::1]x smtp", "listen: unexpected text after ']'");
	expect_line_error("listen [1.2.3.4]:25 smtp", "listen: '1.2.3.4' is not an IPv6 address");
	expect_line_error("listen 1.2.3:25 smtp", "listen: '1.2.3' is not an IPv4 address");
	expect_line_error("listen mx.example:25 smtp",
			  "listen: 'mx.example' is not an IPv4 address");
	expect_line_error("listen [*]:25 smtp", "listen: '*' is not an IPv6 address");
	expect_line_error("listen 127.0.0.2:25 lmtp",
			  "listen: unknown kind 'lmtp' (expected smtp, submission or submissions)");
	expect_line_error("listen 127.0.0.1:25 smtp",
			  "listen: duplicate listener 127.0.0.1:25 (first on line 4)");
	expect_line_error("listen *:25 smtp", "listen: *:25 overlaps 127.0.0.1:25 on line 4 (a "
					      "wildcard covers every address)");
	expect_line_error("listen 127.0.0.1:26", "listen: wrong number of arguments (usage: "
						 "listen ADDR:PORT KIND)");
}

static void test_listen_limits(void **state)
{
	char text[4096];
	size_t o = (size_t)snprintf(text, sizeof text, "%s", BASE);
	(void)state;
	for (int i = 0; i < CONF_MAX_LISTEN; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "listen 10.0.0.%d:25 smtp\n", i);
	assert_int_equal(parse(text), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:21: listen: too many listeners (at most 16)");
	/* [::]:25 and [::1]:25 overlap; v4 and v6 wildcards do not clash here. */
	assert_int_equal(parse(BASE "listen [::]:25 smtp\nlisten *:26 smtp\n"), 0);
	assert_int_equal(parse(BASE "listen [::]:25 smtp\nlisten [::1]:25 smtp\n"), -1);
	assert_true(has_error("t.conf:7: listen: [::1]:25 overlaps [::]:25 on line 6 (a wildcard "
			      "covers every address)"));
}

static void test_domain_errors(void **state)
{
	(void)state;
	expect_line_error("domain other.test maildir /m/%d",
			  "domain: maildir pattern '/m/%d' must contain %u (the mailbox owner's "
			  "local part)");
	expect_line_error("domain other.test maildir /m/%u/%x",
			  "domain: maildir pattern '/m/%u/%x' only %d, %u and %% may follow '%'");
	expect_line_error("domain other.test maildir /m/%u%",
			  "domain: maildir pattern '/m/%u%' only %d, %u and %% may follow '%'");
	expect_line_error("domain other.test maildir m/%u",
			  "domain: maildir pattern 'm/%u' must be an absolute path");
	expect_line_error("domain other.test maildir /m/../%u",
			  "domain: maildir pattern '/m/../%u' must not contain '..' components");
	expect_line_error("domain other.test mbox /m/%u",
			  "domain: unknown delivery 'mbox' (expected 'maildir')");
	expect_line_error("domain EXAMPLE.test. maildir /m/%u",
			  "domain: duplicate domain 'example.test' (first on line 5)");
	expect_line_error("domain -bad.test maildir /m/%u",
			  "domain: '-bad.test' is not a valid domain: a label starts with '-'");
	expect_line_error("domain bad_.test maildir /m/%u",
			  "domain: 'bad_.test' is not a valid domain: invalid character (only "
			  "letters, digits, '-' and '.')");
	expect_line_error("domain 192.0.2.1 maildir /m/%u",
			  "domain: '192.0.2.1' is not a valid domain: the last label is all digits "
			  "(an IP address is not a hostname)");
	expect_line_error("domain a..test maildir /m/%u",
			  "domain: 'a..test' is not a valid domain: empty label");
	expect_line_error("domain x.test maildir",
			  "domain: wrong number of arguments (usage: domain NAME maildir PATTERN)");
	/* %% and %d are fine; ".." inside a name is not a component. */
	assert_int_equal(parse(BASE "domain o.test maildir /m/a..b/%%/%d/%u\n"), 0);
}

static void test_size_suffixes(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} ok[] = {{"1K", 1024},
		  {"1k", 1024},
		  {"1024", 1024},
		  {"10M", 10u << 20},
		  {"1536K", 1536u << 10},
		  {"2G", 2048ull << 20},
		  {"2048M", 2048ull << 20}};
	char text[512];
	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "%smax-message-size %s\n", BASE, ok[i].in);
		assert_int_equal(parse(text), 0);
		assert_int_equal(C.max_message_size, ok[i].want);
	}
	expect_line_error("max-message-size 1023", "max-message-size: 1023 is out of range 1K-2G");
	expect_line_error("max-message-size 2049M",
			  "max-message-size: 2049M is out of range 1K-2G");
	expect_line_error("max-message-size 3G", "max-message-size: 3G is out of range 1K-2G");
	expect_line_error("max-message-size 99999999999999999999G",
			  "max-message-size: '99999999999999999999G' is not a size (N, NK, NM or "
			  "NG)");
	expect_line_error("max-message-size 10X",
			  "max-message-size: '10X' is not a size (N, NK, NM or NG)");
	expect_line_error("max-message-size M", "max-message-size: 'M' is not a size (N, NK, NM "
						"or NG)");
	expect_line_error("max-message-size -1K",
			  "max-message-size: '-1K' is not a size (N, NK, NM or NG)");
}

static void test_number_errors(void **state)
{
	(void)state;
	expect_line_error("max-recipients 99", "max-recipients: 99 is out of range 100-1000");
	expect_line_error("max-recipients 1001", "max-recipients: 1001 is out of range 100-1000");
	expect_line_error("max-recipients ten", "max-recipients: 'ten' is not a number");
	expect_line_error("workers 65", "workers: 65 is out of range 0-64");
	expect_line_error("workers 99999999999999999999999",
			  "workers: 99999999999999999999999 is out of range 0-64");
	expect_line_error("workers +1", "workers: '+1' is not a number");
	assert_int_equal(parse(BASE "workers 64\nmax-recipients 1000\n"), 0);
	assert_int_equal(C.workers, 64);
	assert_int_equal(C.max_rcpt, 1000);
}

static void test_value_errors(void **state)
{
	(void)state;
	expect_line_error("frobnicate yes", "unknown directive 'frobnicate'");
	expect_line_error("hostname other.test", "hostname: duplicate directive (first on line 1)");
	expect_line_error("user root",
			  "user: 'root' is not a valid user name: must not be root: sealpost "
			  "processes run unprivileged");
	expect_line_error(
	    "user 9lives",
	    "user: '9lives' is not a valid user name: must start with a letter or '_'");
	expect_line_error("queue-user a/b", "queue-user: 'a/b' is not a valid user name: invalid "
					    "character (letters, digits, '_', '.', '-')");
	expect_line_error("queue-user _sealpost",
			  "user and queue-user must differ (both are '_sealpost')");
	expect_line_error("socket run/s.sock", "socket: 'run/s.sock' must be an absolute path");
	expect_line_error(
	    "socket /run/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
	    "socket: path is 116 bytes; a unix socket path must be shorter than 108");
	expect_line_error("version 1", "version: must be the first directive");
	expect_line_error("resolver 1.2.3.4:0", "resolver: port 0 is out of range 1-65535");
	expect_line_error("resolver *", "resolver: '*' is not an IPv4 address");
	expect_line_error("postmaster nobody",
			  "postmaster: 'nobody' is not a valid address: missing '@'");
	expect_line_error(
	    "postmaster a/b@example.test",
	    "postmaster: 'a/b@example.test' is not a valid address: invalid character "
	    "in local part (letters, digits and \". _ - + =\" are allowed)");
	expect_line_error("postmaster pm@other.test",
			  "postmaster: domain 'other.test' of pm@other.test is not a configured "
			  "domain");
}

static void test_version(void **state)
{
	(void)state;
	assert_int_equal(parse("# c\n\nversion 1\n" BASE), 0);
	assert_int_equal(parse("version 2\n" BASE), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(
	    E.msg[0], "t.conf:1: version: unsupported version '2' (this sealpost reads version 1)");
}

static void test_postmaster_order(void **state)
{
	(void)state;
	assert_int_equal(parse("postmaster root@Example.Test.\n" BASE), 0);
	assert_string_equal(C.postmaster, "root@example.test");
	assert_int_equal(parse("postmaster root@example.test\n"), -1);
	assert_false(has_error("t.conf:1: postmaster: domain 'example.test' of root@example.test "
			       "is not a configured domain"));
}

static void test_resolver(void **state)
{
	(void)state;
	assert_int_equal(parse(BASE "resolver 192.0.2.53\n"), 0);
	const struct sockaddr_in *a = (const void *)&C.resolver_addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 53);
	assert_int_equal(C.resolver_addr_len, sizeof *a);
	assert_int_equal(parse(BASE "resolver [::1]\n"), 0);
	assert_int_equal(ntohs(((const struct sockaddr_in6 *)&C.resolver_addr)->sin6_port), 53);
}

static void test_tokenizer(void **state)
{
	(void)state;
	expect_line_error("spool \"/a", "unterminated quoted string");
	expect_line_error("spool \"/a\\n\"", "bad escape in quoted string (only \\\" and \\\\)");
	expect_line_error("spool \"/a\"b", "a closing quote must be followed by a space");
	expect_line_error("spool /a\"b\"", "a quote inside a token (quote the whole token)");
	expect_line_error("a b c d e f g h i", "too many tokens on one line");
	expect_line_error("hostname a\x01.test", "control character 0x01");
	expect_line_error("socket \"/run/a b\" extra",
			  "socket: wrong number of arguments (usage: socket PATH)");
	assert_int_equal(parse("hostname h.test\nspool \"/s p/\\\"q\\\\\"#c\nusers /u\n"
			       "listen *:25 smtp\ndomain d.test maildir /m/%u"),
			 0);
	assert_string_equal(C.spool, "/s p/\"q\\");
	/* an over-long token is an error, never cut */
	char *text = malloc(2000);
	assert_non_null(text);
	memset(text, 'a', 2000);
	memcpy(text, "spool /", 7);
	assert_int_equal(conf_parse(text, 2000, "t.conf", &C, &E), -1);
	assert_true(has_error("t.conf:1: token longer than 1023 bytes"));
	free(text);
}

static void test_missing_required(void **state)
{
	(void)state;
	assert_int_equal(parse("# nothing\n"), -1);
	assert_int_equal(E.n, 5);
	assert_true(has_error("t.conf: missing required directive 'hostname'"));
	assert_true(has_error("t.conf: missing required directive 'spool'"));
	assert_true(has_error("t.conf: missing required directive 'listen'"));
	assert_true(has_error("t.conf: missing required directive 'domain'"));
	assert_true(has_error("t.conf: missing required directive 'users'"));
	/* a bad line still counts as present: no second, misleading error */
	assert_int_equal(parse("hostname -x\nspool /s\nusers /u\nlisten *:25 smtp\n"
			       "domain d.test maildir /m/%u\n"),
			 -1);
	assert_int_equal(E.n, 1);
}

static void test_multiple_errors(void **state)
{
	char text[8192];
	size_t o = 0;
	(void)state;
	assert_int_equal(parse(BASE "workers 99\nfoo\nlisten 1.2.3.4:0 smtp\n"), -1);
	assert_int_equal(E.n, 3);
	assert_string_equal(E.msg[0], "t.conf:6: workers: 99 is out of range 0-64");
	assert_string_equal(E.msg[1], "t.conf:7: unknown directive 'foo'");
	assert_string_equal(E.msg[2], "t.conf:8: listen: port 0 is out of range 1-65535");
	for (int i = 0; i < CONF_MAX_ERRORS + 8; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "bogus%d\n", i);
	assert_int_equal(parse(text), -1);
	assert_int_equal(E.n, CONF_MAX_ERRORS);
	assert_int_equal(E.dropped, 8 + 5); /* 5 missing required directives */
	assert_string_equal(E.msg[CONF_MAX_ERRORS - 1], "t.conf:32: unknown directive 'bogus31'");
}

static void test_long_messages_marked(void **state)
{
	char name[900];
	(void)state;
	memset(name, 'f', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	assert_int_equal(conf_parse("x\n", 2, name, &C, &E), -1);
	assert_int_equal(strlen(E.msg[0]), CONF_ERR_MAX - 1);
	assert_string_equal(E.msg[0] + CONF_ERR_MAX - 4, "...");
	/* a long token is shown shortened (79 octets with a "..." marker) */
	char line[200], want[200];
	memset(line, 'x', 150);
	line[150] = '\0';
	snprintf(want, sizeof want, "unknown directive '%.76s...'", line);
	expect_line_error(line, want);
}

static void test_hostname_check(void **state)
{
	const char *why;
	char long_label[80];
	(void)state;
	assert_int_equal(conf_hostname_check("a.b", 3, &why), 0);
	assert_int_equal(conf_hostname_check("localhost", 9, &why), 0);
	assert_int_equal(conf_hostname_check("x-1.example.", 12, &why), 0);
	assert_int_equal(conf_hostname_check("", 0, &why), -1);
	assert_int_equal(conf_hostname_check(".", 1, &why), -1);
	assert_int_equal(conf_hostname_check("a-.b", 4, &why), -1);
	assert_string_equal(why, "a label ends with '-'");
	assert_int_equal(conf_hostname_check("a.b-", 4, &why), -1);
	memset(long_label, 'a', 64);
	assert_int_equal(conf_hostname_check(long_label, 64, &why), -1);
	assert_string_equal(why, "a label is longer than 63 octets");
	assert_int_equal(conf_hostname_check(long_label, 63, &why), 0);
	assert_int_equal(conf_hostname_check("a\0b", 3, &why), -1);
}

static void test_addr_normalize(void **state)
{
	char out[CONF_ADDR_MAX];
	const char *why;
	(void)state;
	assert_int_equal(conf_addr_normalize("Joe.Q+tag@Example.TEST.", out, sizeof out, &why), 0);
	assert_string_equal(out, "Joe.Q+tag@example.test");
	assert_int_equal(conf_addr_normalize("@example.test", out, sizeof out, &why), -1);
	assert_string_equal(why, "empty local part");
	assert_int_equal(conf_addr_normalize(".a@example.test", out, sizeof out, &why), -1);
	assert_int_equal(conf_addr_normalize("a..b@example.test", out, sizeof out, &why), -1);
	assert_string_equal(why, "local part contains '..'");
	assert_int_equal(conf_addr_normalize("a@b@example.test", out, sizeof out, &why), -1);
	assert_int_equal(conf_addr_normalize("a@", out, sizeof out, &why), -1);
	assert_int_equal(conf_addr_normalize("a@[1.2.3.4]", out, sizeof out, &why), -1);
	assert_int_equal(conf_addr_normalize("a@x.test", out, 4, &why), -1);
}

/* Sender authentication: defaults, every directive, and their errors. */
static void test_mailauth(void **state)
{
	(void)state;
	assert_int_equal(parse(BASE), 0);
	assert_int_equal(C.mailauth.checks, 1);
	assert_int_equal(C.mailauth.dmarc, DMARC_MODE_ENFORCE);
	assert_int_equal(C.mailauth.spf_fail_reject, 0);
	assert_string_equal(conf_authserv_id(&C), "mx.example.test");
	assert_string_equal(C.mailauth.psl, "/usr/share/publicsuffix/public_suffix_list.dat");
	assert_int_equal(parse(BASE "authserv-id MX.Example.ORG.\n"
				    "inbound-checks off\n"
				    "spf-fail reject\n"
				    "dmarc-policy quarantine\n"
				    "public-suffix-list /etc/psl.dat\n"
				    "dkim sign Example.ORG selector S2026 key /etc/k/rsa.key\n"
				    "dkim sign example.org selector ed key /etc/k/ed.key\n"),
			 0);
	assert_string_equal(conf_authserv_id(&C), "mx.example.org");
	assert_int_equal(C.mailauth.checks, 0);
	assert_int_equal(C.mailauth.spf_fail_reject, 1);
	assert_int_equal(C.mailauth.dmarc, DMARC_MODE_QUARANTINE);
	assert_string_equal(C.mailauth.psl, "/etc/psl.dat");
	assert_int_equal(C.mailauth.n_sign, 2);
	assert_string_equal(C.mailauth.sign[0].domain, "example.org");
	assert_string_equal(C.mailauth.sign[0].selector, "s2026");
	assert_string_equal(C.mailauth.sign[1].key, "/etc/k/ed.key");
	assert_int_equal(C.mailauth.sign[1].line, BASE_LINES + 7);
	expect_line_error("dmarc-policy relaxed",
			  "dmarc-policy: expected enforce, quarantine or mark");
	expect_line_error("spf-fail softfail", "spf-fail: expected dmarc or reject");
	expect_line_error("inbound-checks yes", "inbound-checks: expected on or off");
	expect_line_error("authserv-id bad_name!", "authserv-id: 'bad_name!' is not a host name");
	expect_line_error(
	    "dkim sign example.org selector s key",
	    "dkim: wrong number of arguments (usage: dkim sign DOMAIN selector S key FILE)");
	expect_line_error("dkim verify example.org selector s key /k",
			  "dkim: expected 'dkim sign DOMAIN selector S key FILE'");
	expect_line_error("dkim sign exa_mple selector s key /k",
			  "dkim: 'exa_mple' is not a domain name");
	expect_line_error("dkim sign example.org selector a..b key /k",
			  "dkim: selector 'a..b' is not a DNS label sequence");
	expect_line_error("dkim sign example.org selector s key relative.key",
			  "dkim: key 'relative.key' must be an absolute path");
}

static void test_quote(void **state)
{
	char out[64];
	(void)state;
	assert_int_equal(conf_quote("/plain", out, sizeof out), 0);
	assert_string_equal(out, "/plain");
	assert_int_equal(conf_quote("a b#\"c\\", out, sizeof out), 0);
	assert_string_equal(out, "\"a b#\\\"c\\\\\"");
	assert_int_equal(conf_quote("", out, sizeof out), 0);
	assert_string_equal(out, "\"\"");
	assert_int_equal(conf_quote("a\nb", out, sizeof out), -1);
	assert_int_equal(conf_quote("a b c d", out, 8), -1);
	/* round trip through the parser */
	char text[512];
	assert_int_equal(conf_quote("/var/a b/\"x\"", out, sizeof out), 0);
	snprintf(text, sizeof text,
		 "hostname h.test\nspool %s\nusers /u\nlisten *:1 smtp\n"
		 "domain d.test maildir /m/%%u\n",
		 out);
	assert_int_equal(parse(text), 0);
	assert_string_equal(C.spool, "/var/a b/\"x\"");
}

static void test_find_domain(void **state)
{
	(void)state;
	assert_int_equal(parse(BASE), 0);
	assert_non_null(conf_find_domain(&C, "EXAMPLE.test.", 13));
	assert_non_null(conf_find_domain(&C, "example.testX", 12));
	assert_null(conf_find_domain(&C, "example.tes", 11));
	assert_null(conf_find_domain(&C, "other.test", 10));
}

static void test_load(void **state)
{
	char dir[] = "/tmp/sealpost-test-conf-XXXXXX", path[256];
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/missing.conf", dir);
	assert_int_equal(conf_load(path, &C, &E), -1);
	char want[512];
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	assert_string_equal(E.msg[0], want);
	assert_int_equal(conf_load(dir, &C, &E), -1);
	snprintf(want, sizeof want, "%s: not a regular file", dir);
	assert_string_equal(E.msg[0], want);

	snprintf(path, sizeof path, "%s/ok.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(BASE, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(conf_load(path, &C, &E), 0);
	assert_string_equal(C.path, path);
	assert_int_equal(truncate(path, CONF_FILE_MAX + 1), 0);
	assert_int_equal(conf_load(path, &C, &E), -1);
	snprintf(want, sizeof want, "%s: file is larger than 1 MiB", path);
	assert_string_equal(E.msg[0], want);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- limits and dnsbl (src/util/conf_limits.c) ------------------------ */

static void parse_ok(const char *text)
{
	if (parse(text) != 0) {
		print_errors();
		fail();
	}
}

/* BASE plus lines must give exactly the error "t.conf:LINE: why". */
static void expect_error_at(const char *lines, int line, const char *why)
{
	char text[4096], want[CONF_ERR_MAX];

	snprintf(text, sizeof text, "%s%s\n", BASE, lines);
	snprintf(want, sizeof want, "t.conf:%d: %s", line, why);
	assert_int_equal(parse(text), -1);
	if (E.n != 1 || strcmp(E.msg[0], want) != 0) {
		print_message("lines: %s\nwant: %s\n", lines, want);
		print_errors();
		fail();
	}
}

static void test_limits_defaults(void **state)
{
	struct conf_limits def;
	(void)state;
	parse_ok(BASE);
	conf_limits_defaults(&def);
	assert_memory_equal(&C.limits, &def, sizeof def);
	assert_int_equal(C.limits.max_conn, 2000);
	assert_int_equal(C.limits.max_conn_ip, 20);
	assert_int_equal(C.limits.conn_rate.count, 60);
	assert_int_equal(C.limits.conn_rate.period, 60);
	assert_int_equal(C.limits.session_memory, 256 * 1024);
	assert_int_equal(C.limits.pregreet, 1);
	assert_string_equal(C.limits.store, "");
	assert_int_equal(C.limits.n_dnsbl, 0);
	assert_true(C.limits.tarpit_after < C.limits.max_errors);
	assert_true(C.limits.session_timeout >= C.limits.cmd_timeout);
}

static void test_limits_block(void **state)
{
	const struct conf_limits *l = &C.limits;
	(void)state;
	parse_ok(BASE "limits {   # abuse limits\n"
		      "\tmax-connections 5000\n"
		      "    max-connections-per-ip 10\n"
		      "    max-connections-per-net 50\n"
		      "    connection-rate 30/1m\n"
		      "    recipient-rate 500/1h\n"
		      "    user-message-rate 100/1d\n"
		      "    user-recipient-rate 5/10s\n"
		      "    messages-per-session 20\n"
		      "    recipients-per-message 200\n"
		      "    max-errors 5\n"
		      "    tarpit-after 0\n"
		      "    tarpit-max 2000ms\n"
		      "    command-timeout 5m\n"
		      "    data-timeout 120\n"
		      "    session-timeout 1h\n"
		      "    min-data-rate off\n"
		      "    data-rate-grace 1m\n"
		      "    session-memory 64K\n"
		      "    pregreet off\n"
		      "    pregreet-wait 500ms\n"
		      "    pregreet-remember 7d\n"
		      "    pipelining-check off\n"
		      "    store redis://[::1]:6380\n"
		      "    store-sync 50ms\n"
		      "    dnsbl-threshold 3\n"
		      "    dns-timeout 2s\n"
		      "}\n");
	assert_int_equal(l->max_conn, 5000);
	assert_int_equal(l->max_conn_ip, 10);
	assert_int_equal(l->max_conn_net, 50);
	assert_int_equal(l->conn_rate.count, 30);
	assert_int_equal(l->conn_rate.period, 60);
	assert_int_equal(l->rcpt_rate.count, 500);
	assert_int_equal(l->rcpt_rate.period, 3600);
	assert_int_equal(l->user_msg_rate.period, 86400);
	assert_int_equal(l->user_rcpt_rate.count, 5);
	assert_int_equal(l->user_rcpt_rate.period, 10);
	assert_int_equal(l->msgs_per_session, 20);
	assert_int_equal(C.max_rcpt, 200);
	assert_int_equal(l->max_errors, 5);
	assert_int_equal(l->tarpit_after, 0);
	assert_int_equal(l->tarpit_max, 2);
	assert_int_equal(l->cmd_timeout, 300);
	assert_int_equal(l->data_timeout, 120);
	assert_int_equal(l->session_timeout, 3600);
	assert_int_equal(l->min_data_rate, 0);
	assert_int_equal(l->data_rate_grace, 60);
	assert_int_equal(l->session_memory, 64 * 1024);
	assert_int_equal(l->pregreet, 0);
	assert_int_equal(l->pregreet_wait_ms, 500);
	assert_int_equal(l->pregreet_remember, 7 * 86400);
	assert_int_equal(l->pipelining_check, 0);
	assert_string_equal(l->store, "redis://[::1]:6380");
	assert_string_equal(l->store_host, "::1");
	assert_int_equal(l->store_port, 6380);
	assert_int_equal(l->store_sync_ms, 50);
	assert_int_equal(l->dnsbl_threshold, 3);
	assert_int_equal(l->dns_timeout_ms, 2000);
}

static void test_limits_oneline(void **state)
{
	const struct conf_limits *l = &C.limits;
	(void)state;
	parse_ok("limits max-connections 1\n" BASE "limits store redis://127.0.0.1:6379\n"
		 "limits connection-rate off\nlimits min-data-rate 10000000\n"
		 "limits session-memory 64M\nlimits pregreet on\nlimits dns-timeout 100ms\n"
		 "limits pregreet-wait 0\nlimits tarpit-max 60s\nlimits session-timeout 10s\n"
		 "limits command-timeout 10s\n");
	assert_int_equal(l->max_conn, 1);
	assert_string_equal(l->store, "redis://127.0.0.1:6379");
	assert_string_equal(l->store_host, "127.0.0.1");
	assert_int_equal(l->store_port, 6379);
	assert_int_equal(l->conn_rate.count, 0);
	assert_true(l->conn_rate.period >= 1);
	assert_int_equal(l->min_data_rate, 10000000);
	assert_int_equal(l->session_memory, 64 * 1024 * 1024);
	assert_int_equal(l->pregreet, 1);
	assert_int_equal(l->dns_timeout_ms, 100);
	assert_int_equal(l->pregreet_wait_ms, 0);
	assert_int_equal(l->tarpit_max, 60);
	assert_int_equal(l->session_timeout, 10);
	/* redis without a port: 6379; hostnames are lowercased */
	parse_ok(BASE "limits store redis://Redis.Example.TEST.\n");
	assert_string_equal(l->store_host, "redis.example.test");
	assert_int_equal(l->store_port, 6379);
	parse_ok(BASE "limits store redis://[2001:db8::1]\nlimits store-sync 10s\n");
	assert_string_equal(l->store_host, "2001:db8::1");
	assert_int_equal(l->store_port, 6379);
	assert_int_equal(l->store_sync_ms, 10000);
	parse_ok(BASE "limits store local\n");
	assert_string_equal(l->store, "");
	assert_int_equal(l->store_port, 0);
}

static void test_limits_value_errors(void **state)
{
	(void)state;
	expect_line_error("limits max-connections 0",
			  "limits: max-connections: 0 is out of range 1-1000000");
	expect_line_error("limits max-connections-per-ip 1000001",
			  "limits: max-connections-per-ip: 1000001 is out of range 1-1000000");
	expect_line_error("limits max-connections-per-net 99999999999999999999999",
			  "limits: max-connections-per-net: 99999999999999999999999 is out of "
			  "range 1-1000000");
	expect_line_error("limits max-connections -5",
			  "limits: max-connections: '-5' is not a number");
	expect_line_error("limits messages-per-session 100001",
			  "limits: messages-per-session: 100001 is out of range 1-100000");
	expect_line_error("limits max-errors 0", "limits: max-errors: 0 is out of range 1-1000");
	expect_line_error("limits tarpit-after 1001",
			  "limits: tarpit-after: 1001 is out of range 0-1000");
	expect_line_error("limits min-data-rate 0",
			  "limits: min-data-rate: 0 is out of range 1-10000000");
	expect_line_error("limits min-data-rate fast",
			  "limits: min-data-rate: 'fast' is not a number");
	expect_line_error("limits recipients-per-message 99",
			  "limits: recipients-per-message: 99 is out of range 100-1000");
	expect_line_error("limits pregreet yes", "limits: pregreet: expected on or off");
	expect_line_error("limits pipelining-check ON",
			  "limits: pipelining-check: expected on or off");
	expect_line_error("limits dnsbl-threshold 1001",
			  "limits: dnsbl-threshold: 1001 is out of range -1000-1000");
	expect_line_error("limits dnsbl-threshold 0",
			  "limits: dnsbl-threshold: must be at least 1 (a client on no list "
			  "scores 0, so 0 would refuse every client)");
	expect_line_error("limits dnsbl-threshold -5",
			  "limits: dnsbl-threshold: must be at least 1 (a client on no list "
			  "scores 0, so -5 would refuse every client)");
	expect_line_error("limits dnsbl-threshold 2x",
			  "limits: dnsbl-threshold: '2x' is not a number");
	expect_line_error("limits session-memory 15K",
			  "limits: session-memory: 15K is out of range 16K-64M");
	expect_line_error("limits session-memory 65M",
			  "limits: session-memory: 65M is out of range 16K-64M");
	expect_line_error("limits session-memory 1G",
			  "limits: session-memory: '1G' is not a size (N, NK or NM)");
	expect_line_error("limits session-memory 64KB",
			  "limits: session-memory: '64KB' is not a size (N, NK or NM)");
	expect_line_error("limits max-connections", "limits: max-connections: expected one value "
						    "(usage: max-connections N)");
	expect_line_error("limits max-connections 1 2", "limits: max-connections: expected one "
							"value (usage: max-connections N)");
	expect_line_error("limits frobs 3", "limits: unknown key 'frobs'");
	expect_line_error("limits hostname x.test",
			  "limits: 'hostname' is a directive, not a limit");
	expect_line_error("limits", "limits: wrong number of arguments (usage: limits { or limits "
				    "KEY VALUE)");
}

static void test_limits_durations(void **state)
{
	(void)state;
	parse_ok(BASE "limits command-timeout 3600000ms\nlimits data-timeout 1h\n"
		      "limits session-timeout 1d\nlimits pregreet-remember 30d\n"
		      "limits data-rate-grace 0\nlimits pregreet-wait 30s\n");
	assert_int_equal(C.limits.cmd_timeout, 3600);
	assert_int_equal(C.limits.session_timeout, 86400);
	assert_int_equal(C.limits.pregreet_remember, 30 * 86400);
	assert_int_equal(C.limits.pregreet_wait_ms, 30000);
	expect_line_error("limits command-timeout 1500ms",
			  "limits: command-timeout: 1500ms must be whole seconds");
	expect_line_error("limits command-timeout 0",
			  "limits: command-timeout: 0 is out of range 1s-1h");
	expect_line_error("limits data-timeout 61m",
			  "limits: data-timeout: 61m is out of range 1s-1h");
	expect_line_error("limits session-timeout 9s",
			  "limits: session-timeout: 9s is out of range 10s-1d");
	expect_line_error("limits tarpit-max 61", "limits: tarpit-max: 61 is out of range 0-60s");
	expect_line_error("limits pregreet-wait 30001ms",
			  "limits: pregreet-wait: 30001ms is out of range 0-30s");
	expect_line_error("limits pregreet-remember 31d",
			  "limits: pregreet-remember: 31d is out of range 0-30d");
	expect_line_error("limits store-sync 9ms",
			  "limits: store-sync: 9ms is out of range 10ms-10s");
	expect_line_error("limits dns-timeout 61s",
			  "limits: dns-timeout: 61s is out of range 100ms-60s");
	expect_line_error("limits dns-timeout 99999999999999999999d",
			  "limits: dns-timeout: 99999999999999999999d is out of range 100ms-60s");
	expect_line_error("limits dns-timeout 999999999999999999d",
			  "limits: dns-timeout: 999999999999999999d is out of range 100ms-60s");
	expect_line_error("limits command-timeout 5 m",
			  "limits: command-timeout: expected one value (usage: command-timeout "
			  "DURATION)");
	static const char *bad[] = {"5x", "m", "-5s", "5sec", "5S", "1.5s", "5s ", "s5", "0x10"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char line[128], want[256];
		snprintf(line, sizeof line, "limits data-rate-grace \"%s\"", bad[i]);
		snprintf(want, sizeof want,
			 "limits: data-rate-grace: '%s' is not a duration (N followed by ms, s, "
			 "m, h or d, e.g. 30s)",
			 bad[i]);
		expect_line_error(line, want);
	}
}

static void test_limits_rates(void **state)
{
	(void)state;
	parse_ok(BASE "limits recipient-rate 100000000/1d\nlimits connection-rate 1/1s\n"
		      "limits user-message-rate 10/90s\nlimits user-recipient-rate off\n");
	assert_int_equal(C.limits.rcpt_rate.count, 100000000);
	assert_int_equal(C.limits.rcpt_rate.period, 86400);
	assert_int_equal(C.limits.conn_rate.count, 1);
	assert_int_equal(C.limits.conn_rate.period, 1);
	assert_int_equal(C.limits.user_msg_rate.period, 90);
	assert_int_equal(C.limits.user_rcpt_rate.count, 0);
	expect_line_error("limits connection-rate 60",
			  "limits: connection-rate: expected N/DURATION like 60/1m, or off");
	expect_line_error("limits connection-rate /1m",
			  "limits: connection-rate: expected N/DURATION like 60/1m, or off");
	expect_line_error("limits connection-rate x/1m",
			  "limits: connection-rate: expected N/DURATION like 60/1m, or off");
	expect_line_error("limits connection-rate 0/1m",
			  "limits: connection-rate: count 0 is out of range 1-100000000");
	expect_line_error("limits recipient-rate 100000001/1h",
			  "limits: recipient-rate: count 100000001 is out of range 1-100000000");
	expect_line_error("limits connection-rate 60/",
			  "limits: connection-rate: period '' is not a duration (N followed by ms, "
			  "s, m, h or d, e.g. 30s)");
	expect_line_error("limits connection-rate 60/1m/2",
			  "limits: connection-rate: period '1m/2' is not a duration (N followed by "
			  "ms, s, m, h or d, e.g. 30s)");
	expect_line_error("limits connection-rate 60/1500ms",
			  "limits: connection-rate: period 1500ms must be whole seconds");
	expect_line_error("limits connection-rate 60/0s",
			  "limits: connection-rate: period 0s is out of range 1s-1d");
	expect_line_error("limits user-message-rate 60/2d",
			  "limits: user-message-rate: period 2d is out of range 1s-1d");
}

static void test_limits_store_errors(void **state)
{
	(void)state;
	expect_line_error("limits store memcached://h:1",
			  "limits: store: expected local or redis://HOST[:PORT]");
	expect_line_error("limits store redis://h.test:0",
			  "limits: store: port 0 is out of range 1-65535");
	expect_line_error("limits store redis://h.test:65536",
			  "limits: store: port 65536 is out of range 1-65535");
	expect_line_error("limits store redis://h.test:", "limits: store: missing port after ':'");
	expect_line_error("limits store redis://h.test:6379/0",
			  "limits: store: port '6379/0' is not a number");
	expect_line_error("limits store redis://::1:6379",
			  "limits: store: IPv6 addresses must be in brackets, e.g. "
			  "redis://[::1]:6379");
	expect_line_error("limits store redis://[::1",
			  "limits: store: missing ']' after the IPv6 address");
	expect_line_error("limits store redis://[::1]x",
			  "limits: store: unexpected text after ']'");
	expect_line_error("limits store redis://[1.2.3.4]:1",
			  "limits: store: '1.2.3.4' is not an IPv6 address");
	expect_line_error("limits store redis://1.2.3:1",
			  "limits: store: '1.2.3' is neither an IPv4 address nor a hostname: the "
			  "last label is all digits (an IP address is not a hostname)");
	expect_line_error("limits store redis://pw@h.test",
			  "limits: store: 'pw@h.test' is neither an IPv4 address nor a hostname: "
			  "invalid character (only letters, digits, '-' and '.')");
	expect_line_error("limits store redis://",
			  "limits: store: '' is neither an IPv4 address nor a hostname: empty "
			  "hostname");
}

static void test_limits_block_errors(void **state)
{
	(void)state;
	/* unterminated: the error names the opening line */
	assert_int_equal(parse(BASE "limits {\nmax-connections 10\n"), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0],
			    "t.conf:6: limits: block is not closed (a line with '}' is missing)");
	/* a directive inside the block */
	expect_error_at("limits {\nhostname x.test\n}", 7,
			"limits: 'hostname' is a directive, not a limit (close the block with "
			"'}' first)");
	assert_int_equal(parse(BASE "limits {\nmax-connections 10\nspool /x\n}\n"), -1);
	assert_true(has_error("t.conf:8: limits: 'spool' is a directive, not a limit (close "
			      "the block with '}' first)"));
	assert_int_equal(E.n, 1);
	/* nesting */
	assert_int_equal(parse(BASE "limits {\nlimits {\n}\n"), -1);
	assert_true(has_error("t.conf:7: limits: blocks do not nest (this one was opened on "
			      "line 6)"));
	assert_int_equal(parse(BASE "limits {\nlimits max-errors 4\n}\n"), -1);
	assert_true(has_error("t.conf:7: limits: blocks do not nest (this one was opened on "
			      "line 6)"));
	/* '{' last, '}' alone, no stray '}' */
	expect_line_error("limits { max-connections 5\n}",
			  "limits: '{' must be the last token on the line");
	expect_line_error("}", "'}' without an open limits block");
	expect_error_at("limits {\n} x", 7, "limits: '}' must be alone on its line");
	expect_error_at("limits {\nbogus 1\n}", 7, "limits: unknown key 'bogus'");
	expect_error_at("limits {\ndnsbl x.test\n}", 7,
			"limits: 'dnsbl' is a directive, not a limit (close the block with '}' "
			"first)");
	/* the block closes: directives after it work; empty blocks and comments are fine */
	parse_ok(BASE "limits {\n\n# none\n}\nlimits {\n  max-errors 20 # c\n}\nworkers 2\n");
	assert_int_equal(C.limits.max_errors, 20);
	assert_int_equal(C.workers, 2);
	/* version must still come first */
	assert_int_equal(parse("limits {\n}\nversion 1\n" BASE), -1);
	assert_true(has_error("t.conf:3: version: must be the first directive"));
	/* errors inside a block carry their own line */
	assert_int_equal(parse(BASE "limits {\nmax-errors 0\nmax-connections x\n}\n"), -1);
	assert_int_equal(E.n, 2);
	assert_string_equal(E.msg[0], "t.conf:7: limits: max-errors: 0 is out of range 1-1000");
	assert_string_equal(E.msg[1], "t.conf:8: limits: max-connections: 'x' is not a number");
}

static void test_limits_duplicates(void **state)
{
	(void)state;
	expect_error_at("limits {\nmax-connections 10\n}\nlimits max-connections 20", 9,
			"limits: max-connections: duplicate (first on line 7)");
	assert_string_equal(E.msg[0], "t.conf:9: limits: max-connections: duplicate (first on "
				      "line 7)");
	assert_int_equal(parse(BASE "limits store local\nlimits {\nstore local\n}\n"), -1);
	assert_true(has_error("t.conf:8: limits: store: duplicate (first on line 6)"));
	/* a bad first value still counts as set */
	assert_int_equal(parse(BASE "limits max-errors 0\nlimits max-errors 5\n"), -1);
	assert_true(has_error("t.conf:7: limits: max-errors: duplicate (first on line 6)"));
	/* recipients-per-message is max-recipients: either order is a duplicate */
	assert_int_equal(parse(BASE "max-recipients 200\nlimits recipients-per-message 300\n"), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:7: limits: recipients-per-message: max-recipients "
				      "is already set (line 6)");
	assert_int_equal(parse(BASE "limits recipients-per-message 300\nmax-recipients 200\n"), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:7: max-recipients: duplicate directive (first on "
				      "line 6)");
	assert_int_equal(parse(BASE "limits recipients-per-message 300\n"
				    "limits recipients-per-message 300\n"),
			 -1);
	assert_string_equal(E.msg[0], "t.conf:7: limits: recipients-per-message: duplicate "
				      "(first on line 6)");
	parse_ok(BASE "limits recipients-per-message 1000\n");
	assert_int_equal(C.max_rcpt, 1000);
}

static void test_limits_cross_checks(void **state)
{
	(void)state;
	/* tarpit-after must stay below max-errors, default 3 included */
	expect_line_error("limits max-errors 3",
			  "limits: tarpit-after (3) must be less than max-errors (3)");
	assert_int_equal(parse(BASE "limits tarpit-after 8\nlimits max-errors 20\n"
				    "limits tarpit-after 9\n"),
			 -1);
	assert_int_equal(parse(BASE "limits max-errors 2\nlimits tarpit-after 2\n"), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0],
			    "t.conf:7: limits: tarpit-after (2) must be less than max-errors (2)");
	parse_ok(BASE "limits max-errors 1\nlimits tarpit-after 0\n");
	/* session-timeout at least command-timeout, checked at the end */
	assert_int_equal(parse(BASE "limits session-timeout 1m\nlimits command-timeout 2m\n"), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:7: limits: session-timeout (60s) must be at least "
				      "command-timeout (120s)");
	expect_line_error("limits session-timeout 299",
			  "limits: session-timeout (299s) must be at least command-timeout (300s)");
	parse_ok(BASE "limits session-timeout 2m\nlimits command-timeout 2m\n");
}

static void test_dnsbl(void **state)
{
	const struct conf_limits *l = &C.limits;
	(void)state;
	parse_ok(BASE "dnsbl zen.spamhaus.org=127.0.0.2,127.0.0.3 2\n"
		      "dnsbl Bl.SpamCop.NET.\n"
		      "dnsbl list.dnswl.org -5\n"
		      "limits dnsbl-threshold 2\n");
	assert_int_equal(l->n_dnsbl, 3);
	assert_string_equal(l->dnsbl[0].zone, "zen.spamhaus.org");
	assert_int_equal(l->dnsbl[0].n_match, 2);
	assert_int_equal(l->dnsbl[0].match[0], 0x7f000002);
	assert_int_equal(l->dnsbl[0].match[1], 0x7f000003);
	assert_int_equal(l->dnsbl[0].weight, 2);
	assert_int_equal(l->dnsbl[0].line, 6);
	assert_string_equal(l->dnsbl[1].zone, "bl.spamcop.net");
	assert_int_equal(l->dnsbl[1].n_match, 0);
	assert_int_equal(l->dnsbl[1].weight, 1);
	assert_int_equal(l->dnsbl[2].weight, -5);
	assert_int_equal(l->dnsbl_threshold, 2);
	parse_ok(BASE "dnsbl a.test=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,"
		      "127.0.0.7,127.1.2.3 100\ndnsbl b.test -100\n");
	assert_int_equal(l->dnsbl[0].n_match, CONF_DNSBL_MATCH_MAX);
	assert_int_equal(l->dnsbl[0].match[7], 0x7f010203);
	assert_int_equal(l->dnsbl[0].weight, 100);
	assert_int_equal(l->dnsbl[1].weight, -100);
}

static void test_dnsbl_errors(void **state)
{
	char text[4096];
	size_t o;
	(void)state;
	expect_error_at("dnsbl zen.spamhaus.org=127.0.0.2\ndnsbl ZEN.spamhaus.org.", 7,
			"dnsbl: duplicate zone 'zen.spamhaus.org' (first on line 6)");
	assert_string_equal(E.msg[0], "t.conf:7: dnsbl: duplicate zone 'zen.spamhaus.org' (first "
				      "on line 6)");
	expect_line_error("dnsbl bad_zone.test",
			  "dnsbl: 'bad_zone.test' is not a valid zone: invalid character (only "
			  "letters, digits, '-' and '.')");
	expect_line_error("dnsbl =127.0.0.2", "dnsbl: '' is not a valid zone: empty hostname");
	expect_line_error("dnsbl 192.0.2.1",
			  "dnsbl: '192.0.2.1' is not a valid zone: the last "
			  "label is all digits (an IP address is not a hostname)");
	expect_line_error("dnsbl x.test=", "dnsbl: empty answer in the list after '='");
	expect_line_error("dnsbl x.test=127.0.0.2,", "dnsbl: empty answer in the list after '='");
	expect_line_error("dnsbl x.test=127.0.0.2,,127.0.0.3",
			  "dnsbl: empty answer in the list after '='");
	expect_line_error("dnsbl x.test=10.0.0.2", "dnsbl: answer 10.0.0.2 is not in 127.0.0.0/8");
	expect_line_error("dnsbl x.test=127.0.0", "dnsbl: answer '127.0.0' is not an IPv4 address");
	expect_line_error("dnsbl x.test=::1", "dnsbl: answer '::1' is not an IPv4 address");
	expect_line_error("dnsbl x.test=127.255.255.254",
			  "dnsbl: answer 127.255.255.254 is a list's error code, never a listing");
	expect_line_error("dnsbl x.test=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,"
			  "127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9",
			  "dnsbl: too many answers (at most 8)");
	expect_line_error("dnsbl x.test 0", "dnsbl: weight 0 is out of range (-100 to -1 for an "
					    "allow list, 1 to 100 for a block list)");
	expect_line_error("dnsbl x.test 101", "dnsbl: weight 101 is out of range (-100 to -1 for "
					      "an allow list, 1 to 100 for a block list)");
	expect_line_error("dnsbl x.test -101", "dnsbl: weight -101 is out of range (-100 to -1 "
					       "for an allow list, 1 to 100 for a block list)");
	expect_line_error("dnsbl x.test +1", "dnsbl: weight '+1' is not a number");
	expect_line_error("dnsbl x.test 1.5", "dnsbl: weight '1.5' is not a number");
	expect_line_error("dnsbl x.test 1 2", "dnsbl: wrong number of arguments (usage: dnsbl "
					      "ZONE[=A.B.C.D,...] [WEIGHT])");
	expect_line_error("dnsbl", "dnsbl: wrong number of arguments (usage: dnsbl "
				   "ZONE[=A.B.C.D,...] [WEIGHT])");
	/* a zone so long that an IPv6 query name would not fit */
	char line[300], want[400], zone[200];
	memset(zone, 'a', sizeof zone);
	for (size_t i = 60; i < sizeof zone; i += 61)
		zone[i] = '.';
	zone[190] = '\0';
	snprintf(line, sizeof line, "dnsbl %s", zone);
	snprintf(want, sizeof want,
		 "dnsbl: zone '%.76s...' is too long (at most 189 octets, so that IPv6 queries "
		 "fit)",
		 zone);
	expect_line_error(line, want);
	zone[189] = '\0';
	snprintf(text, sizeof text, "%sdnsbl %s\n", BASE, zone);
	parse_ok(text);
	/* at most CONF_MAX_DNSBL lists */
	o = (size_t)snprintf(text, sizeof text, "%s", BASE);
	for (int i = 0; i <= CONF_MAX_DNSBL; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "dnsbl l%d.test\n", i);
	assert_int_equal(parse(text), -1);
	assert_int_equal(E.n, 1);
	assert_string_equal(E.msg[0], "t.conf:22: dnsbl: too many lists (at most 16)");
}

/* What check -n prints reads back to the same limits. */
static void test_limits_text(void **state)
{
	static struct conf first;
	char text[8192], val[CONF_LIMIT_TEXT_MAX];
	const char *key;
	size_t o;
	(void)state;
	parse_ok(BASE "limits {\nconnection-rate 90/90s\ntarpit-max 0\nsession-memory 100000\n"
		      "store redis://[::1]:7000\npregreet-wait 1500ms\nsession-timeout 1d\n"
		      "min-data-rate off\ndnsbl-threshold 7\nrecipient-rate off\n}\n"
		      "dnsbl a.test=127.0.0.2,127.1.0.3 -3\ndnsbl b.test\n");
	first = C;
	o = (size_t)snprintf(text, sizeof text, "%s", BASE);
	for (size_t i = 0; (key = conf_limits_key(i)) != NULL; i++) {
		assert_int_equal(conf_limits_value(&first.limits, i, val, sizeof val), 0);
		if (val[0])
			o +=
			    (size_t)snprintf(text + o, sizeof text - o, "limits %s %s\n", key, val);
	}
	assert_int_equal(conf_limits_value(&first.limits, 999, val, sizeof val), -1);
	for (size_t i = 0; i < first.limits.n_dnsbl; i++) {
		assert_int_equal(conf_dnsbl_text(&first.limits.dnsbl[i], val, sizeof val), 0);
		o += (size_t)snprintf(text + o, sizeof text - o, "dnsbl %s %d\n", val,
				      first.limits.dnsbl[i].weight);
	}
	parse_ok(text);
	for (size_t i = 0; i < first.limits.n_dnsbl; i++)
		first.limits.dnsbl[i].line = C.limits.dnsbl[i].line;
	assert_memory_equal(&C.limits, &first.limits, sizeof C.limits);
	assert_int_equal(conf_limits_value(&C.limits, 0, val, sizeof val), 0);
	assert_string_equal(val, "2000");
	assert_int_equal(conf_dnsbl_text(&C.limits.dnsbl[0], val, sizeof val), 0);
	assert_string_equal(val, "a.test=127.0.0.2,127.1.0.3");
	assert_int_equal(conf_dnsbl_text(&C.limits.dnsbl[0], val, 10), -1);
}

/* ---- outbound delivery (src/util/conf_remote.c) ------------------------- */

static void test_outbound_defaults(void **state)
{
	const struct conf_outbound *o = &C.out;
	(void)state;
	parse_ok(BASE);
	assert_int_equal(o->lifetime, 5 * 86400);
	assert_int_equal(o->delay_warning, 4 * 3600);
	assert_int_equal(o->max_conn, 100);
	assert_int_equal(o->max_conn_dest, 10);
	assert_int_equal(o->port, 25);
	assert_string_equal(o->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(o->trust_anchor, "/usr/share/dns/root.key");
	assert_int_equal(o->mta_sts, 1);
	assert_string_equal(o->relay, "");
	assert_int_equal(o->n_dest, 0);
	assert_int_equal(TLSOUT_MAY, 0); /* a zeroed conf_dest is the safe default */
}

static void test_outbound_values(void **state)
{
	const struct conf_outbound *o = &C.out;
	(void)state;
	parse_ok(BASE "queue-lifetime 2d\ndelay-warning 30m\noutbound-connections 10000\n"
		      "outbound-connections-per-domain 1000\noutbound-port 2525\n"
		      "outbound-ca-file /etc/test/ca.pem/\ndnssec-trust-anchor off\nmta-sts off\n");
	assert_int_equal(o->lifetime, 2 * 86400);
	assert_int_equal(o->delay_warning, 1800);
	assert_int_equal(o->max_conn, 10000);
	assert_int_equal(o->max_conn_dest, 1000);
	assert_int_equal(o->port, 2525);
	assert_string_equal(o->ca_file, "/etc/test/ca.pem");
	assert_string_equal(o->trust_anchor, "");
	assert_int_equal(o->mta_sts, 0);
	parse_ok(BASE "queue-lifetime 30d\ndelay-warning off\ndnssec-trust-anchor /k/root.key\n"
		      "mta-sts on\noutbound-connections 1\noutbound-connections-per-domain 1\n");
	assert_int_equal(o->lifetime, 30 * 86400);
	assert_int_equal(o->delay_warning, 0);
	assert_string_equal(o->trust_anchor, "/k/root.key");
	assert_int_equal(o->mta_sts, 1);
	parse_ok(BASE "queue-lifetime 1h\ndelay-warning 59m\n");
	assert_int_equal(o->lifetime, 3600);
	assert_int_equal(o->delay_warning, 59 * 60);
}

static void test_outbound_errors(void **state)
{
	(void)state;
	expect_line_error("queue-lifetime 59m", "queue-lifetime: 59m is out of range 1h-30d");
	expect_line_error("queue-lifetime 31d", "queue-lifetime: 31d is out of range 1h-30d");
	expect_line_error("queue-lifetime 3600500ms",
			  "queue-lifetime: 3600500ms must be whole seconds");
	expect_line_error("queue-lifetime forever",
			  "queue-lifetime: 'forever' is not a duration (N followed by ms, s, m, "
			  "h or d, e.g. 30s)");
	expect_line_error("queue-lifetime off", "queue-lifetime: 'off' is not a duration (N "
						"followed by ms, s, m, h or d, e.g. 30s)");
	expect_line_error("delay-warning 59s", "delay-warning: 59s is out of range 1m-7d");
	expect_line_error("delay-warning 8d", "delay-warning: 8d is out of range 1m-7d");
	expect_line_error("outbound-connections 0",
			  "outbound-connections: 0 is out of range 1-10000");
	expect_line_error("outbound-connections 10001",
			  "outbound-connections: 10001 is out of range 1-10000");
	expect_line_error("outbound-connections-per-domain 1001",
			  "outbound-connections-per-domain: 1001 is out of range 1-1000");
	expect_line_error("outbound-connections-per-domain many",
			  "outbound-connections-per-domain: 'many' is not a number");
	expect_line_error("outbound-port 0", "outbound-port: 0 is out of range 1-65535");
	expect_line_error("outbound-port 65536", "outbound-port: 65536 is out of range 1-65535");
	expect_line_error("outbound-ca-file ca.pem",
			  "outbound-ca-file: 'ca.pem' must be an absolute path");
	expect_line_error("dnssec-trust-anchor /a/../b",
			  "dnssec-trust-anchor: '/a/../b' must not contain '..' components");
	expect_line_error("dnssec-trust-anchor on",
			  "dnssec-trust-anchor: 'on' must be an absolute path");
	expect_line_error("mta-sts enforce", "mta-sts: expected on or off");
	expect_line_error("mta-sts", "mta-sts: wrong number of arguments (usage: mta-sts on|off)");
	expect_error_at("mta-sts on\nmta-sts off", BASE_LINES + 2,
			"mta-sts: duplicate directive (first on line 6)");
	expect_error_at("queue-lifetime 1d\nqueue-lifetime 2d", BASE_LINES + 2,
			"queue-lifetime: duplicate directive (first on line 6)");
}

static void test_outbound_cross_checks(void **state)
{
	(void)state;
	expect_error_at("delay-warning 2d\nqueue-lifetime 2d", BASE_LINES + 2,
			"delay-warning: 2d must be less than queue-lifetime (2d): shorten it or "
			"write 'delay-warning off'");
	expect_error_at("queue-lifetime 2h", BASE_LINES + 1,
			"delay-warning: 4h (the default) must be less than queue-lifetime (2h): "
			"shorten it or write 'delay-warning off'");
	expect_error_at("outbound-connections-per-domain 20\n# x\noutbound-connections 15",
			BASE_LINES + 3,
			"outbound-connections-per-domain: 20 must not exceed outbound-connections "
			"(15)");
	expect_error_at("outbound-connections 5", BASE_LINES + 1,
			"outbound-connections-per-domain: 10 must not exceed outbound-connections "
			"(5)");
	parse_ok(BASE "queue-lifetime 2h\ndelay-warning off\noutbound-connections 5\n"
		      "outbound-connections-per-domain 5\n");
}

static void test_outbound_relay(void **state)
{
	const struct conf_outbound *o = &C.out;
	(void)state;
	parse_ok(BASE "relay via smtp://Smart.Example.TEST.\n");
	assert_string_equal(o->relay, "smtp://Smart.Example.TEST.");
	assert_string_equal(o->relay_host, "smart.example.test");
	assert_int_equal(o->relay_port, 25);
	assert_int_equal(o->relay_implicit_tls, 0);
	assert_string_equal(o->relay_auth, "");
	parse_ok(BASE "relay via smtps://[2001:db8::1]:4650 auth /etc/sealpost/relay.auth\n");
	assert_string_equal(o->relay_host, "2001:db8::1");
	assert_int_equal(o->relay_port, 4650);
	assert_int_equal(o->relay_implicit_tls, 1);
	assert_string_equal(o->relay_auth, "/etc/sealpost/relay.auth");
	parse_ok(BASE "relay via smtps://192.0.2.1\n");
	assert_string_equal(o->relay_host, "192.0.2.1");
	assert_int_equal(o->relay_port, 465);
	parse_ok(BASE "relay via smtp://192.0.2.1:587 auth /a\n"); /* STARTTLS before AUTH */
	assert_int_equal(o->relay_port, 587);
	assert_int_equal(o->relay_implicit_tls, 0);
	assert_string_equal(o->relay_auth, "/a");
}

static void test_outbound_relay_errors(void **state)
{
	(void)state;
	expect_line_error("relay smtp://a.test",
			  "relay: wrong number of arguments (usage: relay via URL [auth FILE])");
	expect_line_error("relay to smtp://a.test",
			  "relay: expected 'relay via smtp://HOST[:PORT]' or 'relay via "
			  "smtps://HOST[:PORT]', then optionally 'auth FILE'");
	expect_line_error("relay via smtp://a.test auth",
			  "relay: expected 'relay via smtp://HOST[:PORT]' or 'relay via "
			  "smtps://HOST[:PORT]', then optionally 'auth FILE'");
	expect_line_error("relay via smtp://a.test login /f",
			  "relay: expected 'relay via smtp://HOST[:PORT]' or 'relay via "
			  "smtps://HOST[:PORT]', then optionally 'auth FILE'");
	expect_line_error("relay via http://a.test",
			  "relay: 'http://a.test' is not smtp://HOST[:PORT] or "
			  "smtps://HOST[:PORT]");
	expect_line_error("relay via SMTP://a.test",
			  "relay: 'SMTP://a.test' is not smtp://HOST[:PORT] or "
			  "smtps://HOST[:PORT]");
	expect_line_error("relay via smtp://u:pw@a.test",
			  "relay: no credentials in the URL: put them in a file and add 'auth "
			  "FILE'");
	expect_line_error("relay via smtp://",
			  "relay: '' is neither an IPv4 address nor a hostname: empty hostname");
	expect_line_error("relay via smtp://a_b.test",
			  "relay: 'a_b.test' is neither an IPv4 address nor a hostname: invalid "
			  "character (only letters, digits, '-' and '.')");
	expect_line_error("relay via smtp://2001:db8::1",
			  "relay: IPv6 addresses must be in brackets, e.g. smtp://[::1]:25");
	expect_line_error("relay via smtps://2001:db8::1",
			  "relay: IPv6 addresses must be in brackets, e.g. smtps://[::1]:465");
	expect_line_error("relay via smtp://[::1", "relay: missing ']' after the IPv6 address");
	expect_line_error("relay via smtp://[a.test]", "relay: 'a.test' is not an IPv6 address");
	expect_line_error("relay via smtp://a.test:", "relay: missing port after ':'");
	expect_line_error("relay via smtp://a.test:0", "relay: port 0 is out of range 1-65535");
	expect_line_error("relay via smtp://a.test:25/", "relay: port '25/' is not a number");
	expect_line_error("relay via smtp://a.test auth relay.auth",
			  "relay: auth file 'relay.auth' must be an absolute path");
	expect_error_at("relay via smtp://a.test\nrelay via smtp://b.test", BASE_LINES + 2,
			"relay: duplicate directive (first on line 6)");
	/* a refused line leaves no half-set relay behind */
	assert_int_equal(parse(BASE "relay via smtp://a.test:99 auth x\n"), -1);
	assert_string_equal(C.out.relay, "");
	assert_int_equal(C.out.relay_port, 0);
}

static void test_outbound_destinations(void **state)
{
	const struct conf_outbound *o = &C.out;
	(void)state;
	parse_ok(BASE "destination Legacy.Example.ORG. tls none\n"
		      "destination bank.example tls verify\ndestination b.example tls require\n"
		      "destination c.example tls may\n");
	assert_int_equal(o->n_dest, 4);
	assert_string_equal(o->dest[0].domain, "legacy.example.org");
	assert_int_equal(o->dest[0].tls, TLSOUT_NONE);
	assert_int_equal(o->dest[0].line, BASE_LINES + 1);
	assert_int_equal(o->dest[1].tls, TLSOUT_VERIFY);
	assert_int_equal(o->dest[2].tls, TLSOUT_REQUIRE);
	assert_int_equal(o->dest[3].tls, TLSOUT_MAY);
	assert_string_equal(conf_tls_out_name(TLSOUT_NONE), "none");
	assert_string_equal(conf_tls_out_name(TLSOUT_VERIFY), "verify");
	assert_string_equal(conf_tls_out_name((enum conf_tls_out)99), "?");
}

static void test_outbound_destination_errors(void **state)
{
	char text[16384];
	size_t o;
	(void)state;
	expect_line_error("destination a.test tls", "destination: wrong number of arguments "
						    "(usage: destination DOMAIN tls "
						    "none|may|require|verify)");
	expect_line_error("destination a.test starttls none",
			  "destination: expected 'destination DOMAIN tls none|may|require|verify'");
	expect_line_error("destination a.test tls off",
			  "destination: unknown tls mode 'off' (expected none, may, require or "
			  "verify)");
	expect_line_error("destination a.test tls NONE",
			  "destination: unknown tls mode 'NONE' (expected none, may, require or "
			  "verify)");
	expect_line_error("destination .a.test tls verify",
			  "destination: '.a.test': a destination is one exact domain (write each "
			  "subdomain on its own line)");
	expect_line_error("destination 192.0.2.1 tls none",
			  "destination: '192.0.2.1' is not a valid domain: the last label is all "
			  "digits (an IP address is not a hostname)");
	expect_line_error("destination * tls none",
			  "destination: '*' is not a valid domain: invalid character (only "
			  "letters, digits, '-' and '.')");
	expect_error_at("destination a.test tls verify\ndestination A.TEST. tls none",
			BASE_LINES + 2, "destination: duplicate domain 'a.test' (first on line 6)");
	o = (size_t)snprintf(text, sizeof text, "%s", BASE);
	for (int i = 0; i <= CONF_MAX_DEST; i++)
		o += (size_t)snprintf(text + o, sizeof text - o,
				      "destination d%d.test tls verify\n", i);
	assert_int_equal(parse(text), -1);
	assert_int_equal(E.n, 1);
	assert_int_equal(C.out.n_dest, CONF_MAX_DEST);
	assert_true(has_error("t.conf:70: destination: too many destinations (at most 64)"));
}

/* conf_emit_fn that appends "name v..." lines to a buffer. */
struct emitted {
	char text[8192];
	size_t len;
	int fail_at; /* return 1 on this line (1-based), 0 = never */
	int lines;
};

static int collect(void *arg, const char *name, const char *const *v, int n)
{
	struct emitted *e = arg;

	if (++e->lines == e->fail_at)
		return 1;
	e->len += (size_t)snprintf(e->text + e->len, sizeof e->text - e->len, "%s", name);
	for (int i = 0; i < n; i++)
		e->len += (size_t)snprintf(e->text + e->len, sizeof e->text - e->len, " %s", v[i]);
	e->len += (size_t)snprintf(e->text + e->len, sizeof e->text - e->len, "\n");
	return 0;
}

static void test_outbound_text(void **state)
{
	static struct emitted e;
	static struct conf first;
	char text[8192 + 512];
	(void)state;
	memset(&e, 0, sizeof e);
	parse_ok(BASE);
	assert_int_equal(conf_outbound_nondefault(&C.out, collect, &e), 0);
	assert_string_equal(e.text, "");
	parse_ok(BASE "destination b.test tls none\nqueue-lifetime 36h\ndelay-warning off\n"
		      "outbound-port 2525\noutbound-connections 50\n"
		      "outbound-connections-per-domain 2\noutbound-ca-file /ca.pem\n"
		      "dnssec-trust-anchor off\nmta-sts off\n"
		      "relay via smtps://[::1]:4650 auth /r.auth\ndestination a.test tls verify\n");
	first = C;
	assert_int_equal(conf_outbound_nondefault(&C.out, collect, &e), 0);
	assert_string_equal(e.text, "queue-lifetime 36h\ndelay-warning off\n"
				    "outbound-connections 50\noutbound-connections-per-domain 2\n"
				    "outbound-port 2525\noutbound-ca-file /ca.pem\n"
				    "dnssec-trust-anchor off\nmta-sts off\n"
				    "relay via smtps://[::1]:4650 auth /r.auth\n"
				    "destination b.test tls none\ndestination a.test tls verify\n");
	/* what is written reads back the same */
	snprintf(text, sizeof text, "%s%s", BASE, e.text);
	parse_ok(text);
	for (size_t i = 0; i < C.out.n_dest; i++)
		first.out.dest[i].line = C.out.dest[i].line;
	assert_memory_equal(&C.out, &first.out, sizeof C.out);
	memset(&e, 0, sizeof e);
	parse_ok(BASE "relay via smtp://a.test\ndelay-warning 1h\n");
	assert_int_equal(conf_outbound_nondefault(&C.out, collect, &e), 0);
	assert_string_equal(e.text, "delay-warning 1h\nrelay via smtp://a.test\n");
	memset(&e, 0, sizeof e);
	e.fail_at = 2;
	assert_int_equal(conf_outbound_nondefault(&C.out, collect, &e), 1);
	assert_int_equal(e.lines, 2); /* stops at the first failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_config),
	    cmocka_unit_test(test_listen_kinds),
	    cmocka_unit_test(test_tls_errors),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_listen_errors),
	    cmocka_unit_test(test_listen_limits),
	    cmocka_unit_test(test_domain_errors),
	    cmocka_unit_test(test_size_suffixes),
	    cmocka_unit_test(test_number_errors),
	    cmocka_unit_test(test_value_errors),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_postmaster_order),
	    cmocka_unit_test(test_resolver),
	    cmocka_unit_test(test_tokenizer),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_multiple_errors),
	    cmocka_unit_test(test_long_messages_marked),
	    cmocka_unit_test(test_hostname_check),
	    cmocka_unit_test(test_addr_normalize),
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test(test_mailauth),
	    cmocka_unit_test(test_find_domain),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_limits_defaults),
	    cmocka_unit_test(test_limits_block),
	    cmocka_unit_test(test_limits_oneline),
	    cmocka_unit_test(test_limits_value_errors),
	    cmocka_unit_test(test_limits_durations),
	    cmocka_unit_test(test_limits_rates),
	    cmocka_unit_test(test_limits_store_errors),
	    cmocka_unit_test(test_limits_block_errors),
	    cmocka_unit_test(test_limits_duplicates),
	    cmocka_unit_test(test_limits_cross_checks),
	    cmocka_unit_test(test_dnsbl),
	    cmocka_unit_test(test_dnsbl_errors),
	    cmocka_unit_test(test_limits_text),
	    cmocka_unit_test(test_outbound_defaults),
	    cmocka_unit_test(test_outbound_values),
	    cmocka_unit_test(test_outbound_errors),
	    cmocka_unit_test(test_outbound_cross_checks),
	    cmocka_unit_test(test_outbound_relay),
	    cmocka_unit_test(test_outbound_relay_errors),
	    cmocka_unit_test(test_outbound_destinations),
	    cmocka_unit_test(test_outbound_destination_errors),
	    cmocka_unit_test(test_outbound_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
