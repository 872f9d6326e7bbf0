/*
 * dkim: `sealpost dkim verify|sign|keygen` (DKIM, RFC 6376/8463):
 *   verify [--resolver ADDR[:PORT]] [--now UNIXTIME] < message
 *       one line per signature, "d=DOMAIN s=SELECTOR RESULT (reason)", or
 *       "none"; the keys of all signatures are asked for in parallel.
 *   sign --domain D --selector S --key FILE < message
 *       the new DKIM-Signature field, then the message (CRLF line ends).
 *   keygen --domain D --selector S [--ed25519] [--bits N] [--key FILE]
 *       writes a new private key (PEM, mode 0600, never over a file) and
 *       prints the TXT record to publish.
 * A message on stdin may have LF or CRLF line ends (a bare LF is read as
 * CRLF, as sendmail does); at most DKIM_CLI_STDIN_MAX octets.
 *
 * Security role: an operator tool. Input sizes are bounded; what is
 * printed about a signature is syntax-checked or our own text; the
 * private key is created with O_EXCL|O_NOFOLLOW mode 0600 and every copy
 * of its PEM is wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "auth/dkim.h"
#include "auth/dkim_int.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/dns.h"
#include "util/conf.h"
#include "util/str.h"

#define DKIM_CLI_STDIN_MAX  (64u << 20) /* message read from stdin */
#define DKIM_CLI_KEY_MAX    (64 * 1024) /* private key file */
#define DKIM_CLI_TIMEOUT_MS 5000u
#define DKIM_CLI_BITS_MAX   4096
#define DKIM_CLI_TXT_STRING 255 /* octets in one TXT character-string */
#define DKIM_CLI_READ_CHUNK 65536

static void dkim_usage(FILE *f)
{
	fprintf(f, "usage: sealpost dkim verify [--resolver ADDR[:PORT]] [--now UNIXTIME] < MSG\n"
		   "       sealpost dkim sign --domain D --selector S --key FILE < MSG\n"
		   "       sealpost dkim keygen --domain D --selector S [--ed25519] [--bits N]\n"
		   "                            [--key FILE]\n"
		   "  verify  prints \"d=DOMAIN s=SELECTOR RESULT (reason)\" per signature\n"
		   "  sign    prints the DKIM-Signature field, then the message\n"
		   "  keygen  writes the private key (default D.S.key, mode 0600) and\n"
		   "          prints the TXT record to publish (RSA 2048 bits by default)\n");
}

static int dkim_bad(const char *what, const char *arg)
{
	return cli_bad("dkim", what, arg);
}

/* ---- input -------------------------------------------------------------- */

/* All of fd into *out (malloc'd, NUL added), at most max octets. */
static int read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = DKIM_CLI_READ_CHUNK, n = 0;
	char *buf = malloc(cap + 1), *nb;
	ssize_t r;

	while (buf) {
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return -2;
			}
			cap *= 2;
			if (!(nb = realloc(buf, cap + 1)))
				break;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (r == 0 && n <= max) {
			buf[n] = '\0';
			*out = buf;
			*len = n;
			return 0;
		}
		if (r == 0 || (n += (size_t)r) > max) {
			free(buf);
			return -2;
		}
	}
	free(buf);
	return -1;
}

/* in with every bare LF made CRLF, into a new buffer. */
static char *to_crlf(const char *in, size_t n, size_t *out_len)
{
	char *out = malloc(2 * n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = in[i];
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static char *read_message(size_t *len)
{
	char *raw, *msg;
	size_t n;
	int rc = read_all(STDIN_FILENO, DKIM_CLI_STDIN_MAX, &raw, &n);

	if (rc == -2)
		cli_err("dkim: message larger than %u MiB", DKIM_CLI_STDIN_MAX >> 20);
	else if (rc < 0)
		cli_err("dkim: cannot read the message: %s", strerror(errno));
	if (rc < 0)
		return NULL;
	msg = to_crlf(raw, n, len);
	free(raw);
	if (!msg)
		cli_err("dkim: out of memory");
	return msg;
}

/* Header section length (through the CRLF of its last field) and body start. */
static void split_message(const char *msg, size_t len, size_t *hlen, size_t *body)
{
	const char *e;

	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n') {
		*hlen = 0;
		*body = 2;
	} else if ((e = memmem(msg, len, "\r\n\r\n", 4)) != NULL) {
		*hlen = (size_t)(e - msg) + 2;
		*body = *hlen + 2;
	} else {
		*hlen = *body = len;
	}
}

/* ---- verify ------------------------------------------------------------- */

struct verify_run {
	struct event_base *base;
	struct dkim_verify *v;
	size_t pending;
};

struct verify_q {
	struct verify_run *run;
	size_t i;
};

static void verify_answer(void *arg, const struct dns_result *r)
{
	struct verify_q *q = arg;

	dkim_verify_key(q->run->v, q->i, r);
	if (--q->run->pending == 0)
		(void)event_base_loopbreak(q->run->base);
}

/* Ask for every key at once and wait for all answers. 0 or -1. */
static int verify_keys(struct verify_run *run, const struct conf *c)
{
	struct verify_q q[DKIM_SIG_LIST_MAX];
	const struct dns_result fail = {.status = DNS_TEMPFAIL};
	size_t n = dkim_verify_count(run->v);
	char err[256];

	if (!(run->base = event_base_new()) || dns_init(run->base, c, err, sizeof err) < 0) {
		cli_err("dkim: %s", run->base ? err : "cannot create an event loop");
		if (run->base)
			event_base_free(run->base);
		return -1;
	}
	for (size_t i = 0; i < n && i < DKIM_SIG_LIST_MAX; i++) {
		const char *name = dkim_verify_key_name(run->v, i);
		q[i].run = run;
		q[i].i = i;
		if (!name)
			continue;
		run->pending++;
		if (dns_query(name, 16, DKIM_CLI_TIMEOUT_MS, verify_answer, &q[i]) < 0) {
			run->pending--;
			dkim_verify_key(run->v, i, &fail);
		}
	}
	if (run->pending > 0)
		(void)event_base_dispatch(run->base);
	dns_shutdown();
	event_base_free(run->base);
	return 0;
}

static void verify_print(const struct dkim_verify *v)
{
	struct dkim_sig_result r;
	size_t n = dkim_verify_count(v);

	if (n == 0)
		printf("none\n");
	for (size_t i = 0; i < n; i++) {
		dkim_verify_result(v, i, &r);
		printf("d=%s s=%s %s", r.domain, r.selector, dkim_result_name(r.result));
		if (r.reason[0] || r.testing)
			printf(" (%s%s%s)", r.reason, r.reason[0] && r.testing ? "; " : "",
			       r.testing ? "key in testing mode" : "");
		printf("\n");
	}
}

static int verify_args(int argc, char **argv, struct conf *c, int64_t *now)
{
	static const struct cli_opt opts[] = {{"resolver", 0, 1}, {"now", 0, 1}, {"help", 'h', 0}};
	struct cli_parser p;
	char *end;
	int k;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 2)
			return 1;
		if (k == 0 && cli_resolver_parse(p.arg, c) == 0)
			continue;
		if (k == 1 && p.arg[0] >= '0' && p.arg[0] <= '9') {
			errno = 0;
			*now = strtoll(p.arg, &end, 10);
			if (!errno && !*end)
				continue;
		}
		return dkim_bad(k >= 0 ? opts[k].name : "argument", p.arg);
	}
	return 0;
}

static int dkim_verify_cmd(int argc, char **argv, struct conf *c)
{
	struct verify_run run = {0};
	int64_t now = (int64_t)time(NULL);
	size_t len, hlen, body;
	char *msg;
	int rc = verify_args(argc, argv, c, &now);

	if (rc != 0)
		return rc;
	if (!(msg = read_message(&len)))
		return -2;
	split_message(msg, len, &hlen, &body);
	if (!(run.v = dkim_verify_new(msg, hlen, now))) {
		free(msg);
		cli_err("dkim: out of memory");
		return -2;
	}
	dkim_verify_body(run.v, msg + body, len - body);
	dkim_verify_body_end(run.v);
	free(msg);
	rc = dkim_verify_count(run.v) > 0 ? verify_keys(&run, c) : 0;
	if (rc == 0)
		verify_print(run.v);
	dkim_verify_free(run.v);
	return rc < 0 ? -2 : 0;
}

/* ---- sign --------------------------------------------------------------- */

struct sign_opts {
	const char *domain, *selector, *key;
	int ed25519;
	unsigned long bits;
};

/* Options shared by sign and keygen (keygen: with_gen). 0, 1 or -1. */
static int sign_args(int argc, char **argv, struct sign_opts *o, int with_gen)
{
	static const struct cli_opt opts[] = {{"domain", 0, 1}, {"selector", 0, 1}, {"key", 0, 1},
					      {"help", 'h', 0}, {"ed25519", 0, 0},  {"bits", 0, 1}};
	size_t nopt = with_gen ? 6 : 4;
	struct cli_parser p;
	char *end;
	int k;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, nopt)) != CLI_END) {
		if (k == CLI_BAD)
			return -1;
		if (k == 3)
			return 1;
		if (k == 0 && dkim_name_ok(p.arg, strlen(p.arg)))
			o->domain = p.arg;
		else if (k == 1 && dkim_name_ok(p.arg, strlen(p.arg)) &&
			 strlen(p.arg) < DKIM_SEL_MAX)
			o->selector = p.arg;
		else if (k == 2 && p.arg[0])
			o->key = p.arg;
		else if (k == 4)
			o->ed25519 = 1;
		else if (k == 5 && p.arg[0] >= '1' && p.arg[0] <= '9' &&
			 (o->bits = strtoul(p.arg, &end, 10)) >= DKIM_RSA_SIGN_BITS &&
			 o->bits <= DKIM_CLI_BITS_MAX && !*end)
			continue;
		else
			return dkim_bad(k >= 0 ? opts[k].name : "argument", p.arg);
	}
	if (!o->domain || !o->selector || (!with_gen && !o->key))
		return dkim_bad("usage", with_gen ? "--domain and --selector are required"
						  : "--domain, --selector and --key are required");
	return 0;
}

static struct dkim_key *load_key(const char *path)
{
	char err[256];
	char *pem;
	size_t n;
	struct dkim_key *k;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		cli_err("dkim: cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	rc = read_all(fd, DKIM_CLI_KEY_MAX, &pem, &n);
	(void)close(fd);
	if (rc < 0) {
		cli_err("dkim: cannot read %s%s", path, rc == -2 ? ": too large" : "");
		return NULL;
	}
	k = dkim_key_load_pem(pem, n, err, sizeof err);
	OPENSSL_cleanse(pem, n);
	free(pem);
	if (!k)
		cli_err("dkim: %s: %s", path, err);
	return k;
}

static int write_all(FILE *f, const char *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int dkim_sign_cmd(int argc, char **argv)
{
	struct sign_opts o = {0};
	char sig[DKIM_SIG_HDR_MAX];
	struct dkim_key *k;
	size_t len;
	char *msg;
	int rc = sign_args(argc, argv, &o, 0), n;

	if (rc != 0)
		return rc;
	if (!(k = load_key(o.key)))
		return -2;
	if (!(msg = read_message(&len))) {
		dkim_key_free(k);
		return -2;
	}
	n = dkim_sign(k, o.domain, o.selector, msg, len, (int64_t)time(NULL), sig, sizeof sig);
	dkim_key_free(k);
	if (n < 0)
		cli_err("dkim: signing failed (header section too large or too many fields?)");
	else if (write_all(stdout, sig, (size_t)n) < 0 || write_all(stdout, msg, len) < 0 ||
		 fflush(stdout) != 0)
		cli_err("dkim: cannot write the signed message: %s", strerror(errno));
	else
		rc = 1;
	free(msg);
	return rc == 1 ? 0 : -2;
}

/* ---- keygen ------------------------------------------------------------- */

/* The new key as PKCS#8 PEM in a secure-heap BIO (wiped when freed). */
static BIO *keygen_pem(const struct sign_opts *o)
{
	EVP_PKEY *pk = o->ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
				  : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->bits);
	BIO *b = pk ? BIO_new(BIO_s_secmem()) : NULL;

	if (b && PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		BIO_free(b);
		b = NULL;
	}
	EVP_PKEY_free(pk);
	if (!b)
		cli_err("dkim: key generation failed");
	return b;
}

static int keygen_write(const char *path, const char *pem, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		if (errno == EEXIST)
			cli_err("dkim: %s exists; not overwriting it", path);
		else
			cli_err("dkim: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, pem + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off != n || fsync(fd) < 0 || close(fd) < 0) {
		cli_err("dkim: cannot write %s: %s", path, strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

/* `S._domainkey.D. IN TXT ( "..." "..." )`, strings of at most 255. */
static void keygen_print(const struct sign_opts *o, const char *rec)
{
	size_t n = strlen(rec);

	printf("%s._domainkey.%s. IN TXT (", o->selector, o->domain);
	for (size_t i = 0; i < n; i += DKIM_CLI_TXT_STRING) {
		size_t c = n - i < DKIM_CLI_TXT_STRING ? n - i : DKIM_CLI_TXT_STRING;
		printf(" \"%.*s\"", (int)c, rec + i);
	}
	printf(" )\n");
}

static int keygen_run(const struct sign_opts *o, const char *path)
{
	char rec[DKIM_KEYBYTES_MAX * 2], err[256];
	struct dkim_key *k = NULL;
	BIO *b = keygen_pem(o);
	char *pem;
	long n;
	int rc = -1;

	if (!b)
		return -1;
	n = BIO_get_mem_data(b, &pem);
	if (n > 0 && keygen_write(path, pem, (size_t)n) == 0) {
		k = dkim_key_load_pem(pem, (size_t)n, err, sizeof err);
		if (k && dkim_key_record(k, rec, sizeof rec) == 0) {
			keygen_print(o, rec);
			rc = 0;
		} else {
			cli_err("dkim: the new key does not load back: %s", k ? "record" : err);
		}
	}
	dkim_key_free(k);
	BIO_free(b);
	return rc;
}

static int dkim_keygen_cmd(int argc, char **argv)
{
	struct sign_opts o = {0};
	char path[4096];
	int rc;

	o.bits = DKIM_RSA_SIGN_BITS;
	if ((rc = sign_args(argc, argv, &o, 1)) != 0)
		return rc;
	if (o.key)
		rc = str_copy(path, sizeof path, o.key);
	else
		rc = str_fmt(path, sizeof path, "%s.%s.key", o.domain, o.selector);
	if (rc < 0)
		return dkim_bad("--key", o.key ? o.key : o.domain);
	if (keygen_run(&o, path) < 0)
		return -2;
	if (fflush(stdout) != 0)
		return -2;
	fprintf(stderr, "sealpost: dkim: private key written to %s\n", path);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

/* rc of a subcommand: 0 ok, 1 --help shown, -1 usage, -2 failure. */
static int dkim_exit(int rc)
{
	if (rc == 1)
		dkim_usage(stdout);
	return rc == 0 || rc == 1 ? 0 : rc == -1 ? 2 : 1;
}

int cli_dkim(int argc, char **argv)
{
	struct conf *c;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		dkim_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "sign") == 0)
		return dkim_exit(dkim_sign_cmd(argc - 1, argv + 1));
	if (strcmp(argv[1], "keygen") == 0)
		return dkim_exit(dkim_keygen_cmd(argc - 1, argv + 1));
	if (strcmp(argv[1], "verify") != 0) {
		(void)dkim_bad("command", argv[1]);
		return 2;
	}
	if (!(c = cli_conf_defaults()))
		return 1;
	rc = dkim_exit(dkim_verify_cmd(argc - 1, argv + 1, c));
	free(c);
	return rc;
}
