/*
 * init: `sealpost init DIR --hostname H --domain D [...]` lays out a
 * self-contained installation in DIR: spool/, mail/, run/, an empty users
 * file, a self-signed certificate and a commented sealpost.conf that
 * `sealpost check` accepts.
 *
 * Security role: runs as root on a fresh system, so it never overwrites
 * what it did not create without being told (--force, and even then the
 * users file and TLS key are kept), writes the private key with mode 0600
 * from the start (no chmod window), writes files through O_EXCL|O_NOFOLLOW
 * and checks the generated config with the real parser before writing it.
 */
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "util/conf.h"
#include "util/file.h"
#include "util/str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CONF_TEXT_MAX (32 * 1024)
#define QPATH_MAX     (CONF_PATH_MAX * 2 + 3) /* a quoted path */
#define CERT_DAYS     365

static const char init_usage[] =
    "usage: sealpost init DIR --hostname H --domain D [--listen ADDR]\n"
    "                     [--smtp-port N] [--submission-port N]\n"
    "                     [--submissions-port N] [--force]\n"
    "\n"
    "Create a self-contained sealpost installation in DIR: DIR/sealpost.conf,\n"
    "DIR/users, DIR/spool, DIR/mail, DIR/run and a self-signed certificate in\n"
    "DIR/tls. An existing sealpost.conf is only replaced with --force; an\n"
    "existing users file and TLS key are always kept.\n"
    "\n"
    "  --hostname H          this server's name (greeting, certificate)\n"
    "  --domain D            the first mail domain to accept mail for\n"
    "  --listen ADDR         address to listen on: IPv4, IPv6 or * (default *)\n"
    "  --smtp-port N         inbound SMTP port (default 25)\n"
    "  --submission-port N   submission (STARTTLS required) port (default 587)\n"
    "  --submissions-port N  implicit-TLS submission port (default 465)\n"
    "  --force               replace an existing DIR/sealpost.conf\n"
    "  -h, --help            show this help\n";

struct init_args {
	const char *dir, *hostname, *domain, *listen;
	unsigned port[3]; /* smtp, submission, submissions */
	int force;
};

struct init_paths {
	char dir[CONF_PATH_MAX], conf[CONF_PATH_MAX], spool[CONF_PATH_MAX];
	char mail[CONF_PATH_MAX], run[CONF_PATH_MAX], tls[CONF_PATH_MAX];
	char users[CONF_PATH_MAX], cert[CONF_PATH_MAX], key[CONF_PATH_MAX];
	char sock[CONF_PATH_MAX], pattern[CONF_PATH_MAX];
};

/* The values written into the config, quoted for its grammar. */
struct init_quoted {
	char hostname[QPATH_MAX], domain[QPATH_MAX], spool[QPATH_MAX], sock[QPATH_MAX];
	char users[QPATH_MAX], pattern[QPATH_MAX], cert[QPATH_MAX], key[QPATH_MAX];
	char listen[3][CONF_NAME_MAX]; /* "ADDR:PORT" for each kind */
};

struct tbuf {
	char *p;
	size_t len, cap;
	int overflow;
};

/* ---- small helpers ---------------------------------------------------- */

static void __attribute__((format(printf, 2, 3))) tb_add(struct tbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->overflow = 1;
	else
		t->len += (size_t)n;
}

/*
 * Write data to path with mode. replace: through path.tmp and rename (the
 * old file stays intact until the new one is complete); otherwise path
 * must not exist yet. Never follows a symlink at the target.
 */
static int file_write(const char *path, mode_t mode, const char *data, size_t len, int replace)
{
	char tmp[CONF_PATH_MAX + 8];
	const char *target = replace ? tmp : path;

	if (replace && (str_fmt(tmp, sizeof tmp, "%s.tmp", path) < 0 ||
			(unlink(tmp) < 0 && errno != ENOENT))) {
		cli_err("init: %s.tmp: cannot replace", path);
		return -1;
	}
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		cli_err("init: %s: cannot create: %s", target, strerror(errno));
		return -1;
	}
	int bad = fchmod(fd, mode) < 0 || file_write_all(fd, data, len) < 0 || fsync(fd) < 0;
	int saved = errno;
	if (close(fd) < 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (!bad && (!replace || rename(tmp, path) == 0))
		return 0;
	if (!bad)
		saved = errno;
	(void)unlink(target); /* best effort: the error below is what matters */
	cli_err("init: %s: cannot write: %s", path, strerror(saved));
	return -1;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* mkdir that accepts an existing directory. */
static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	cli_err("init: %s: cannot create directory: %s", path,
		errno == EEXIST ? "exists and is not a directory" : strerror(errno));
	return -1;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[CONF_PATH_MAX];

	if (str_copy(buf, sizeof buf, path) < 0) {
		cli_err("init: %s: path too long", path);
		return -1;
	}
	for (size_t i = 1; buf[i]; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		int r = mkdir_one(buf, mode);
		buf[i] = '/';
		if (r < 0)
			return -1;
	}
	return mkdir_one(buf, mode);
}

/* ---- arguments -------------------------------------------------------- */

static int port_arg(const char *opt, const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno || v < 1 || v > 65535) {
		cli_err("init: --%s: '%s' is not a port (1-65535)", opt, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int opt_apply(struct init_args *a, int o, const char *arg)
{
	static const char *const port_opts[] = {"smtp-port", "submission-port", "submissions-port"};

	switch (o) {
	case 0:
		a->hostname = arg;
		return 0;
	case 1:
		a->domain = arg;
		return 0;
	case 2:
		a->listen = arg;
		return 0;
	case 3:
	case 4:
	case 5:
		return port_arg(port_opts[o - 3], arg, &a->port[o - 3]);
	case 6:
		a->force = 1;
		return 0;
	}
	return -1;
}

/* 0 ok, 1 help shown, 2 usage error. */
static int parse_args(int argc, char **argv, struct init_args *a)
{
	static const struct cli_opt opts[] = {
	    {"hostname", 0, 1},	 {"domain", 0, 1},	    {"listen", 0, 1},
	    {"smtp-port", 0, 1}, {"submission-port", 0, 1}, {"submissions-port", 0, 1},
	    {"force", 0, 0},	 {"help", 'h', 0},
	};
	struct cli_parser p;
	int o;

	*a = (struct init_args){NULL, NULL, NULL, "*", {25, 587, 465}, 0};
	cli_parser_init(&p, argc, argv);
	while ((o = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (o == CLI_BAD)
			return 2;
		if (o == 7)
			return fputs(init_usage, stdout) == EOF ? 2 : 1;
		if (o == CLI_ARG && a->dir) {
			cli_err("init: unexpected argument '%s' (see --help)", p.arg);
			return 2;
		}
		if (o == CLI_ARG)
			a->dir = p.arg;
		else if (opt_apply(a, o, p.arg) < 0)
			return 2;
	}
	if (!a->dir || !a->hostname || !a->domain) {
		cli_err("init: DIR, --hostname and --domain are required (see --help)");
		return 2;
	}
	return 0;
}

/* "ADDR:PORT" for the listen line: * or IPv4 as is, IPv6 in brackets. */
static int listen_token(const char *addr, unsigned port, char *out, size_t cap)
{
	char a6[INET6_ADDRSTRLEN + 2];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n = strlen(addr);

	if (strcmp(addr, "*") == 0 || inet_pton(AF_INET, addr, bin) == 1)
		return str_fmt(out, cap, "%s:%u", addr, port);
	if (n > 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (str_copyn(a6, sizeof a6, addr, n) == 0 && inet_pton(AF_INET6, a6, bin) == 1)
		return str_fmt(out, cap, "[%s]:%u", a6, port);
	cli_err("init: --listen: '%s' is not *, an IPv4 or an IPv6 address", addr);
	return -1;
}

static int check_args(const struct init_args *a, struct init_quoted *q)
{
	const char *why;

	if (conf_hostname_check(a->hostname, strlen(a->hostname), &why) < 0) {
		cli_err("init: --hostname: '%s' is not a valid hostname: %s", a->hostname, why);
		return -1;
	}
	if (conf_hostname_check(a->domain, strlen(a->domain), &why) < 0) {
		cli_err("init: --domain: '%s' is not a valid domain: %s", a->domain, why);
		return -1;
	}
	if (a->port[0] == a->port[1] || a->port[0] == a->port[2] || a->port[1] == a->port[2]) {
		cli_err("init: the smtp, submission and submissions ports must differ");
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if (listen_token(a->listen, a->port[i], q->listen[i], sizeof q->listen[i]) < 0)
			return -1;
	if (conf_quote(a->hostname, q->hostname, sizeof q->hostname) < 0 ||
	    conf_quote(a->domain, q->domain, sizeof q->domain) < 0)
		return -1;
	return 0;
}

/* ---- paths ------------------------------------------------------------ */

/* DIR's % doubled so it is literal in a maildir pattern. */
static int pattern_build(const char *dir, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *c = dir; *c; c++) {
		if (o + 3 >= cap)
			return -1;
		if (*c == '%')
			out[o++] = '%';
		out[o++] = *c;
	}
	out[o] = '\0';
	return str_fmt(out + o, cap - o, "/mail/%%d/%%u");
}

static int paths_build(const char *real, struct init_paths *p)
{
	static const struct {
		size_t off;
		const char *suffix;
	} sub[] = {
	    {offsetof(struct init_paths, conf), "sealpost.conf"},
	    {offsetof(struct init_paths, spool), "spool"},
	    {offsetof(struct init_paths, mail), "mail"},
	    {offsetof(struct init_paths, run), "run"},
	    {offsetof(struct init_paths, tls), "tls"},
	    {offsetof(struct init_paths, users), "users"},
	    {offsetof(struct init_paths, cert), "tls/cert.pem"},
	    {offsetof(struct init_paths, key), "tls/key.pem"},
	    {offsetof(struct init_paths, sock), "run/sealpost.sock"},
	};
	const char *sep = strcmp(real, "/") == 0 ? "" : "/";

	if (str_copy(p->dir, sizeof p->dir, real) < 0)
		return -1;
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
		if (str_fmt((char *)p + sub[i].off, CONF_PATH_MAX, "%s%s%s", real, sep,
			    sub[i].suffix) < 0)
			return -1;
	return pattern_build(strcmp(real, "/") == 0 ? "" : real, p->pattern, sizeof p->pattern);
}

/* mkdir -p DIR, then its canonical absolute name into p. */
static int dir_prepare(const char *dir, struct init_paths *p)
{
	if (mkdir_p(dir, 0755) < 0)
		return -1;
	char *real = realpath(dir, NULL);
	if (!real) {
		cli_err("init: %s: %s", dir, strerror(errno));
		return -1;
	}
	int r = paths_build(real, p);
	if (r < 0)
		cli_err("init: %s: path too long", real);
	free(real);
	return r;
}

static int quote_paths(const struct init_paths *p, struct init_quoted *q)
{
	if (conf_quote(p->spool, q->spool, sizeof q->spool) < 0 ||
	    conf_quote(p->sock, q->sock, sizeof q->sock) < 0 ||
	    conf_quote(p->users, q->users, sizeof q->users) < 0 ||
	    conf_quote(p->pattern, q->pattern, sizeof q->pattern) < 0 ||
	    conf_quote(p->cert, q->cert, sizeof q->cert) < 0 ||
	    conf_quote(p->key, q->key, sizeof q->key) < 0) {
		cli_err("init: %s: the path cannot be written in a config (control characters?)",
			p->dir);
		return -1;
	}
	return 0;
}

/* ---- the config ------------------------------------------------------- */

static void conf_text_head(struct tbuf *t, const struct init_quoted *q)
{
	tb_add(t, "# sealpost.conf, written by `sealpost init` (see docs/config.md).\n"
		  "# One directive per line; '#' starts a comment; values with spaces\n"
		  "# go in double quotes. Check changes with `sealpost check -c FILE`.\n"
		  "version 1\n\n");
	tb_add(t,
	       "# This server's name: SMTP greeting, Received: headers, certificate.\n"
	       "hostname %s\n\n",
	       q->hostname);
	tb_add(t,
	       "# Queue directory. serve makes it owned by queue-user at start.\n"
	       "spool %s\n\n",
	       q->spool);
	tb_add(t,
	       "# Local injection socket used by `sealpost send`.\n"
	       "socket %s\n\n",
	       q->sock);
	tb_add(t,
	       "# Users file, ADDRESS:HASH[:EXTRA,...]; manage it with `sealpost user`.\n"
	       "users %s\n\n",
	       q->users);
	tb_add(t, "# Unprivileged system users (defaults shown): SMTP workers run as\n"
		  "# user; the queue and delivery run as queue-user, which owns the\n"
		  "# spool and the mailboxes.\n"
		  "#user " CONF_DEFAULT_USER "\n"
		  "#queue-user " CONF_DEFAULT_QUSER "\n\n");
}

static void conf_text_tail(struct tbuf *t, const struct init_quoted *q)
{
	tb_add(t,
	       "# Accept mail for this domain and deliver it to Maildirs; %%d is the\n"
	       "# domain, %%u the local part of the mailbox owner's address.\n"
	       "domain %s maildir %s\n\n",
	       q->domain, q->pattern);
	tb_add(t,
	       "# Where postmaster@ and abuse@ of every domain go (default: the\n"
	       "# user of that name, if any).\n"
	       "#postmaster you@%s\n\n",
	       q->domain);
	tb_add(t,
	       "# Inbound SMTP from other mail servers (MX): ADDR:PORT KIND.\n"
	       "# ADDR is an IPv4 address, [IPv6] or * (every IPv4 address).\n"
	       "listen %s smtp\n\n",
	       q->listen[0]);
	tb_add(t,
	       "# The certificate for STARTTLS and implicit TLS (self-signed by init;\n"
	       "# point it at your ACME/Let's Encrypt fullchain.pem and privkey.pem).\n"
	       "# More pairs may follow: chosen by SNI, the first is the default.\n"
	       "tls cert %s key %s\n\n",
	       q->cert, q->key);
	tb_add(t,
	       "# Mail submission for your users' mail programs: STARTTLS is\n"
	       "# required before anything else (RFC 3207); port 465 is TLS from\n"
	       "# the first byte (RFC 8314). Users log in with SMTP AUTH (inside TLS\n"
	       "# only) and may then send anywhere, as themselves.\n"
	       "listen %s submission\n"
	       "listen %s submissions\n\n",
	       q->listen[1], q->listen[2]);
	tb_add(t, "# Sizes (defaults shown). workers 0 = one SMTP worker per core.\n"
		  "#max-message-size 25M\n"
		  "#max-recipients 100\n"
		  "#workers 0\n\n");
	tb_add(t, "# Abuse limits are all on by default; docs/config.md (\"Limits\") lists\n"
		  "# every one. A few, with their defaults:\n"
		  "#limits {\n"
		  "#    max-connections 2000\n"
		  "#    max-connections-per-ip 20\n"
		  "#    connection-rate 60/1m\n"
		  "#    pregreet-wait 3s\n"
		  "#    user-message-rate 200/1h\n"
		  "#}\n"
		  "# Several instances behind one MX share their rate counters:\n"
		  "#limits store redis://127.0.0.1:6379\n"
		  "# DNS block lists, asked at connect on smtp listeners (needs a\n"
		  "# resolver that may query them):\n"
		  "#dnsbl zen.spamhaus.org\n");
	tb_add(
	    t,
	    "\n# Sender authentication (docs/config.md): SPF, DKIM and DMARC checks of\n"
	    "# inbound mail and Authentication-Results are on by default; DMARC\n"
	    "# p=reject is refused, p=quarantine goes to the Junk folder.\n"
	    "#dmarc-policy enforce\n"
	    "#spf-fail dmarc\n"
	    "# Sign outbound mail (make a key and its DNS record with\n"
	    "# `sealpost dkim keygen --domain D --selector S --key FILE`):\n"
	    "#dkim sign example.org selector s2026 key /etc/sealpost/dkim/example.org.s2026.key\n");
}

/* Build the config text and check it with the real parser. */
static int conf_text(const struct init_quoted *q, struct tbuf *t)
{
	struct conf *c = calloc(1, sizeof *c);
	struct conf_errors *e = calloc(1, sizeof *e);
	int r = -1;

	conf_text_head(t, q);
	conf_text_tail(t, q);
	if (t->overflow)
		cli_err("init: the configuration does not fit in %d bytes", CONF_TEXT_MAX);
	else if (!c || !e)
		cli_err("init: out of memory");
	else if (conf_parse(t->p, t->len, "generated sealpost.conf", c, e) < 0)
		conf_errors_print(e);
	else
		r = 0;
	free(c);
	free(e);
	return r;
}

/* ---- TLS -------------------------------------------------------------- */

static void ssl_err(const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
	cli_err("init: %s: %s", what, buf);
}

static int cert_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* A random positive 127-bit serial number. */
static int cert_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[0] &= 0x7f;
	bn = BN_bin2bn(b, sizeof b, NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

static int cert_fill(X509 *x, EVP_PKEY *key, const char *host)
{
	char san[CONF_NAME_MAX + 8];
	X509_NAME *name = X509_get_subject_name(x);

	if (str_fmt(san, sizeof san, "DNS:%s", host) < 0)
		return -1;
	if (!X509_set_version(x, X509_VERSION_3) || cert_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)CERT_DAYS * 24 * 3600) ||
	    !X509_set_pubkey(x, key))
		return -1;
	if (!name ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name))
		return -1;
	if (cert_ext(x, NID_subject_alt_name, san) < 0 ||
	    cert_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    cert_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    cert_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    cert_ext(x, NID_subject_key_identifier, "hash") < 0)
		return -1;
	return X509_sign(x, key, EVP_sha256()) > 0 ? 0 : -1;
}

/* Write the PEM in bio to path. */
static int bio_to_file(BIO *bio, const char *path, mode_t mode)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);

	if (n <= 0) {
		cli_err("init: %s: empty PEM output", path);
		return -1;
	}
	return file_write(path, mode, data, (size_t)n, 1);
}

static int tls_write(EVP_PKEY *key, X509 *x, const struct init_paths *p)
{
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	int r = -1;

	if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x))
		ssl_err("cannot encode the key and certificate");
	else if (bio_to_file(kb, p->key, 0600) == 0 && bio_to_file(cb, p->cert, 0644) == 0)
		r = 0;
	BIO_free(kb);
	BIO_free(cb);
	return r;
}

/* An ECDSA P-256 key and a self-signed certificate for host. */
static int tls_make(const struct init_paths *p, const char *host, int *made)
{
	*made = 0;
	if (exists(p->key) && exists(p->cert))
		return 0;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int r = -1;
	if (!key || !x || cert_fill(x, key, host) < 0)
		ssl_err("cannot create the TLS key and certificate");
	else
		r = tls_write(key, x, p);
	X509_free(x);
	EVP_PKEY_free(key);
	*made = r == 0;
	return r;
}

/* ---- putting it together ---------------------------------------------- */

static const char users_header[] =
    "# sealpost users file: one user per line, ADDRESS:HASH[:EXTRA,EXTRA...]\n"
    "# Manage it with `sealpost user -c CONFIG add|del|passwd|list`.\n";

static int make_tree(const struct init_paths *p, int *users_made)
{
	*users_made = 0;
	if (mkdir_one(p->spool, 0700) < 0 || mkdir_one(p->mail, 0750) < 0 ||
	    mkdir_one(p->run, 0755) < 0 || mkdir_one(p->tls, 0750) < 0)
		return -1;
	if (exists(p->users))
		return 0;
	if (file_write(p->users, 0640, users_header, sizeof users_header - 1, 0) < 0)
		return -1;
	*users_made = 1;
	return 0;
}

static int report(const struct init_paths *p, const char *host, int users_made, int tls_made)
{
	int r = printf("sealpost: initialized %s\n"
		       "  wrote %s\n"
		       "  %s %s (users file)\n"
		       "  %s %s and %s (self-signed for %s)\n"
		       "  directories %s, %s, %s\n"
		       "next steps:\n"
		       "  sealpost user -c %s add NAME\n"
		       "  sealpost serve -c %s -f\n",
		       p->dir, p->conf, users_made ? "wrote" : "kept", p->users,
		       tls_made ? "wrote" : "kept", p->cert, p->key, host, p->spool, p->mail,
		       p->run, p->conf, p->conf);
	return r < 0 || fflush(stdout) == EOF ? 1 : 0;
}

static int init_run(const struct init_args *a, struct init_quoted *q, struct init_paths *p,
		    struct tbuf *t)
{
	int users_made, tls_made;

	if (check_args(a, q) < 0 || dir_prepare(a->dir, p) < 0 || quote_paths(p, q) < 0)
		return 1;
	if (exists(p->conf) && !a->force) {
		cli_err("init: %s exists; use --force to replace it", p->conf);
		return 1;
	}
	if (conf_text(q, t) < 0)
		return 1;
	if (make_tree(p, &users_made) < 0 || tls_make(p, a->hostname, &tls_made) < 0 ||
	    file_write(p->conf, 0644, t->p, t->len, 1) < 0)
		return 1;
	return report(p, a->hostname, users_made, tls_made);
}

int cli_init(int argc, char **argv)
{
	struct init_args a;
	int r = parse_args(argc, argv, &a);

	if (r != 0)
		return r == 1 ? 0 : 2;
	struct init_quoted *q = calloc(1, sizeof *q);
	struct init_paths *p = calloc(1, sizeof *p);
	struct tbuf t = {calloc(1, CONF_TEXT_MAX), 0, CONF_TEXT_MAX, 0};
	if (!q || !p || !t.p) {
		cli_err("init: out of memory");
		r = 1;
	} else {
		r = init_run(&a, q, p, &t);
	}
	free(q);
	free(p);
	free(t.p);
	return r;
}
