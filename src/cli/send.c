/*
 * send: `sealpost send` and the "sendmail" name — sendmail-compatible mail
 * injection. Reads a message from stdin, normalizes it (CRLF line ends,
 * long lines split, missing From:/Date:/Message-ID: added, Bcc: removed),
 * and hands it to the running server over the local socket (socket_path)
 * with an ordinary SMTP dialogue.
 *
 * Security role: runs as any local user with no privileges of its own; it
 * is only an SMTP client, so the server applies all of its usual checks.
 * Every address put on an SMTP command line is free of control characters
 * (send_addr.c guarantees it for parsed addresses; -f is checked here), the
 * message is capped at max_message_size while it is read, and server
 * replies are sanitized before they are printed.
 */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/send_addr.h"
#include "util/conf.h"
#include "util/str.h"

#define SEND_RCPT_CAP	  CONF_MAX_MAXRCPT
#define SEND_TIMEOUT	  60  /* seconds per command reply */
#define SEND_DATA_TIMEOUT 600 /* the reply after end of data (RFC 5321 4.5.3.2.6) */
#define SEND_CHUNK	  65536
#define SEND_REPLY_MAX	  1024

struct send_opts {
	const char *conf_path;
	const char *from; /* -f value, NULL when not given */
	int tflag;
	int ignore_dots;
	char **args; /* recipient arguments (point into argv) */
	int n_args;
};

/* Everything the SMTP dialogue needs. */
struct send_job {
	char sender[SEND_ADDR_MAX]; /* "" for <> */
	struct send_rcpts rcpts;
	char *msg; /* the final message, CRLF line ends, ends in CRLF */
	size_t len;
	int utf8, eightbit;
};

struct sconn {
	int fd;
	char in[4096];
	size_t in_len, in_off;
	int code;		   /* the code of the reply just read, 0 if none */
	int last_code;		   /* the last complete reply's code, kept after errors */
	char text[SEND_REPLY_MAX]; /* the last reply, sanitized, one line */
	int io_errno;		   /* errno of the failed I/O, 0 for EOF */
};

static void send_usage(FILE *f)
{
	fprintf(f,
		"usage: sealpost send [options] [--] [recipient...]\n"
		"       sendmail [options] [--] [recipient...]\n"
		"Reads a message from stdin and submits it to the running server.\n"
		"  -c FILE    configuration (default $SEALPOST_CONFIG or " CONF_DEFAULT_PATH ")\n"
		"  -t         also send to the To:, Cc: and Bcc: addresses of the message\n"
		"  -f ADDR    envelope sender (-f '' or -f '<>' for the null sender)\n"
		"  -i, -oi    a line with a single \".\" does not end the message\n"
		"  -F NAME, -odi, -odb, -oem, -oep, -v, -bm   accepted and ignored\n"
		"Bcc: header fields are always removed from the message.\n");
}

static int send_unknown(const char *opt)
{
	fprintf(stderr, "sealpost send: unknown option -%.64s\n", opt);
	return -1;
}

/* The value of -c/-f/-F: the rest of the cluster or the next argument. */
static const char *send_optval(int argc, char **argv, int *i, const char *rest, char opt)
{
	if (*rest)
		return rest;
	if (*i + 1 < argc)
		return argv[++*i];
	fprintf(stderr, "sealpost send: option -%c needs a value\n", opt);
	return NULL;
}

/* One option cluster argv[*i] ("-ti", "-fADDR", "-oi"...). 0 or -1. */
static int send_opt(struct send_opts *o, int argc, char **argv, int *i)
{
	for (const char *a = argv[*i] + 1; *a; a++) {
		const char *val;
		switch (*a) {
		case 't':
			o->tflag = 1;
			break;
		case 'i':
			o->ignore_dots = 1;
			break;
		case 'v':
			break;
		case 'c':
		case 'f':
		case 'F':
			if (!(val = send_optval(argc, argv, i, a + 1, *a)))
				return -1;
			if (*a == 'c')
				o->conf_path = val;
			else if (*a == 'f')
				o->from = val;
			return 0;
		case 'o':
			if (strcmp(a, "oi") == 0)
				o->ignore_dots = 1;
			else if (strcmp(a, "odi") && strcmp(a, "odb") && strcmp(a, "oem") &&
				 strcmp(a, "oep"))
				return send_unknown(a);
			return 0;
		case 'b':
			return strcmp(a, "bm") == 0 ? 0 : send_unknown(a);
		default:
			return send_unknown(a);
		}
	}
	return 0;
}

/* Returns 0 to go on, 1 after --help, -1 on a usage error (printed). */
static int send_parse_args(int argc, char **argv, struct send_opts *o)
{
	int only_args = 0;

	o->args = calloc((size_t)(argc > 0 ? argc : 1), sizeof *o->args);
	if (!o->args) {
		fprintf(stderr, "sealpost send: out of memory\n");
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_args || a[0] != '-') {
			o->args[o->n_args++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			only_args = 1;
		} else if (strcmp(a, "--help") == 0) {
			send_usage(stdout);
			return 1;
		} else if (a[1] == '-' || a[1] == '\0') {
			return send_unknown(a + 1);
		} else if (send_opt(o, argc, argv, &i) < 0) {
			return -1;
		}
	}
	if (!o->conf_path) {
		const char *env = getenv("SEALPOST_CONFIG");
		o->conf_path = env && *env ? env : CONF_DEFAULT_PATH;
	}
	return 0;
}

/* ---- addresses --------------------------------------------------------- */

static const char *send_domain(const struct conf *c)
{
	return c->n_domains > 0 ? c->domains[0].name : c->hostname;
}

/* addr as is when it has a domain, else addr@domain. 0 or -1 (too long). */
static int send_qualify(const char *addr, const char *domain, char out[SEND_ADDR_MAX])
{
	const char *q = strrchr(addr, '"'); /* '@' inside a quoted local part does not count */
	const char *at = strchr(q ? q : addr, '@');

	if (at)
		return str_copy(out, SEND_ADDR_MAX, addr);
	return str_fmt(out, SEND_ADDR_MAX, "%s@%s", addr, domain);
}

/* "<login name>@<domain>" for the calling user. */
static int send_default_sender(const struct conf *c, char out[SEND_ADDR_MAX])
{
	struct passwd *pw;

	errno = 0;
	pw = getpwuid(getuid());
	if (!pw || !pw->pw_name[0]) {
		fprintf(stderr, "sealpost send: cannot find the login name of uid %ld: %s\n",
			(long)getuid(), errno ? strerror(errno) : "no such user");
		return -1;
	}
	if (str_fmt(out, SEND_ADDR_MAX, "%s@%s", pw->pw_name, send_domain(c)) < 0) {
		fprintf(stderr, "sealpost send: sender address too long\n");
		return -1;
	}
	return 0;
}

/* The envelope sender from -f (or the default). 0 or -1 (printed). */
static int send_sender(const struct conf *c, const char *f, char out[SEND_ADDR_MAX])
{
	char tmp[SEND_ADDR_MAX];
	size_t n;

	if (!f)
		return send_default_sender(c, out);
	n = strlen(f);
	if (n >= 2 && f[0] == '<' && f[n - 1] == '>') {
		f++;
		n -= 2;
	}
	if (str_copyn(tmp, sizeof tmp, f, n) < 0) {
		fprintf(stderr, "sealpost send: sender address too long\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)tmp[i];
		if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>') {
			fprintf(stderr, "sealpost send: invalid character in sender address\n");
			return -1;
		}
	}
	out[0] = '\0';
	if (n > 0 && send_qualify(tmp, send_domain(c), out) < 0) {
		fprintf(stderr, "sealpost send: sender address too long\n");
		return -1;
	}
	return 0;
}

/* Parse every recipient argument (each may be a list) into r. */
static int send_arg_rcpts(const struct send_opts *o, struct send_rcpts *r)
{
	const char *why = NULL;

	for (int i = 0; i < o->n_args; i++) {
		if (send_addr_list(o->args[i], strlen(o->args[i]), r, &why) < 0) {
			char shown[128];
			fprintf(stderr, "sealpost send: bad recipient '%s': %s\n",
				str_sanitize(shown, sizeof shown, o->args[i], strlen(o->args[i])),
				why);
			return -1;
		}
	}
	return 0;
}

/* Qualify every recipient with the domain and drop the duplicates that makes. */
static int send_qualify_all(struct send_rcpts *r, const char *domain)
{
	char tmp[SEND_ADDR_MAX];
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (send_qualify(r->addr[i], domain, tmp) < 0) {
			fprintf(stderr, "sealpost send: recipient address too long\n");
			return -1;
		}
		size_t j;
		for (j = 0; j < k && strcmp(r->addr[j], tmp) != 0; j++)
			;
		if (j == k)
			memcpy(r->addr[k++], tmp, sizeof tmp);
	}
	r->n = k;
	return 0;
}

/* ---- the message -------------------------------------------------------- */

struct msgbuf {
	char *p;
	size_t len, cap;
};

/* Make room for need more octets (never beyond limit + slack). */
static int msg_reserve(struct msgbuf *m, size_t need)
{
	if (m->cap - m->len >= need)
		return 0;
	size_t cap = m->cap ? m->cap : SEND_CHUNK;
	while (cap - m->len < need) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *p = realloc(m->p, cap);
	if (!p)
		return -1;
	m->p = p;
	m->cap = cap;
	return 0;
}

/* Feed one chunk through the normalizer into m. 0 or -1 (out of memory). */
static int send_norm_chunk(struct send_norm *st, const char *in, size_t n, struct msgbuf *m)
{
	size_t off = 0, olen;

	while (off < n && !st->done) {
		if (msg_reserve(m, (n - off) * SEND_NORM_EXPAND + SEND_NORM_EXPAND) < 0)
			return -1;
		off += send_norm_feed(st, in + off, n - off, m->p + m->len, m->cap - m->len, &olen);
		m->len += olen;
	}
	return 0;
}

/*
 * Read stdin into m, normalized. Returns 0, or an exit code after printing
 * why (message over max octets, read error, out of memory).
 */
static int send_read_stdin(struct send_norm *st, uint64_t max, struct msgbuf *m)
{
	char *in = malloc(SEND_CHUNK);

	if (!in)
		goto nomem;
	while (!st->done) {
		ssize_t n = read(STDIN_FILENO, in, SEND_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sealpost send: cannot read the message: %s\n",
				strerror(errno));
			free(in);
			return EX_IOERR;
		}
		if (n == 0)
			break;
		if (send_norm_chunk(st, in, (size_t)n, m) < 0)
			goto nomem;
		if (m->len > max) {
			fprintf(stderr,
				"sealpost send: message too large (the limit is %llu octets)\n",
				(unsigned long long)max);
			free(in);
			return EX_DATAERR;
		}
	}
	free(in);
	if (msg_reserve(m, SEND_NORM_EXPAND) < 0)
		goto nomem;
	m->len += send_norm_finish(st, m->p + m->len, m->cap - m->len);
	return 0;
nomem:
	free(in);
	fprintf(stderr, "sealpost send: out of memory\n");
	return EX_OSERR;
}

/* Date: and Message-ID: values. 0 or -1. */
static int send_date_msgid(const struct conf *c, char *date, size_t dcap, char *mid, size_t mcap)
{
	unsigned char rnd[16];
	char hex[sizeof rnd * 2 + 1];
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd || !localtime_r(&now, &tm))
		return -1;
	for (size_t i = 0; i < sizeof rnd; i++) {
		hex[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	hex[sizeof hex - 1] = '\0';
	if (strftime(date, dcap, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	return str_fmt(mid, mcap, "<%s@%s>", hex, c->hostname);
}

/* The header fields the message lacks, into pre[cap]. 0 or -1. */
static int send_missing_hdrs(const struct conf *c, unsigned have, const char *from, char *pre,
			     size_t cap)
{
	char date[64], mid[128];
	size_t n = 0;

	pre[0] = '\0';
	if (send_date_msgid(c, date, sizeof date, mid, sizeof mid) < 0)
		return -1;
	if (!(have & SEND_HDR_FROM) && str_fmt(pre, cap, "From: %s\r\n", from) < 0)
		return -1;
	n = strlen(pre);
	if (!(have & SEND_HDR_DATE) && str_fmt(pre + n, cap - n, "Date: %s\r\n", date) < 0)
		return -1;
	n = strlen(pre);
	if (!(have & SEND_HDR_MSGID) && str_fmt(pre + n, cap - n, "Message-ID: %s\r\n", mid) < 0)
		return -1;
	return 0;
}

/* Does s[0..n) hold an octet >= 0x80? */
static int send_has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/*
 * Turn the normalized input m into the final message in j: take -t
 * recipients, drop Bcc:, add missing header fields. 0 or an exit code.
 */
static int send_compose(const struct conf *c, const struct send_opts *o, struct msgbuf *m,
			const char *from_hdr, struct send_job *j)
{
	char pre[SEND_ADDR_MAX + 512];
	const char *why = NULL;
	size_t body_off, hlen;
	int sep;

	hlen = send_hdr_len(m->p, m->len, &body_off, &sep);
	if (o->tflag && send_hdr_rcpts(m->p, hlen, &j->rcpts, &why) < 0) {
		fprintf(stderr, "sealpost send: bad address in To:, Cc: or Bcc: (%s)\n", why);
		return EX_DATAERR;
	}
	size_t newh = send_hdr_strip_bcc(m->p, hlen);
	if (send_missing_hdrs(c, send_hdr_present(m->p, newh), from_hdr, pre, sizeof pre) < 0) {
		fprintf(stderr, "sealpost send: cannot make the Date: and Message-ID: fields\n");
		return EX_OSERR;
	}
	size_t plen = strlen(pre), blen = m->len - body_off;
	j->len = plen + newh + 2 + blen;
	if (j->len > c->max_message_size) {
		fprintf(stderr, "sealpost send: message too large (the limit is %llu octets)\n",
			(unsigned long long)c->max_message_size);
		return EX_DATAERR;
	}
	if (!(j->msg = malloc(j->len))) {
		fprintf(stderr, "sealpost send: out of memory\n");
		return EX_OSERR;
	}
	memcpy(j->msg, pre, plen);
	memcpy(j->msg + plen, m->p, newh);
	memcpy(j->msg + plen + newh, "\r\n", 2);
	memcpy(j->msg + plen + newh + 2, m->p + body_off, blen);
	j->eightbit = send_has_8bit(j->msg, j->len);
	return 0;
}

/* Read and compose the message. 0 or an exit code. */
static int send_message(const struct conf *c, const struct send_opts *o, const char *from_hdr,
			struct send_job *j)
{
	struct send_norm st;
	struct msgbuf m = {0};
	int rc;

	send_norm_init(&st, o->ignore_dots);
	rc = send_read_stdin(&st, c->max_message_size, &m);
	if (rc == 0 && (st.flags & SEND_NORM_NUL)) {
		fprintf(stderr, "sealpost send: the message contains NUL octets, which SMTP "
				"cannot carry\n");
		rc = EX_DATAERR;
	}
	if (rc == 0)
		rc = send_compose(c, o, &m, from_hdr, j);
	free(m.p);
	return rc;
}

/* ---- SMTP client ---------------------------------------------------------- */

static int sc_timeout(struct sconn *sc, int secs)
{
	struct timeval tv = {secs, 0};

	if (setsockopt(sc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(sc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		return -1;
	return 0;
}

/* Connect to the server's local socket. 0 or an exit code (printed). */
static int sc_connect(struct sconn *sc, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (str_copy(sun.sun_path, sizeof sun.sun_path, path) < 0) {
		fprintf(stderr, "sealpost send: socket path too long: %s\n", path);
		return EX_CONFIG;
	}
	sc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sc->fd < 0 || sc_timeout(sc, SEND_TIMEOUT) < 0 ||
	    connect(sc->fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		fprintf(stderr,
			"sealpost send: cannot connect to %s: %s (is sealpost serve running?)\n",
			path, strerror(errno));
		return EX_TEMPFAIL;
	}
	return 0;
}

static int sc_write(struct sconn *sc, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(sc->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			sc->io_errno = w < 0 ? errno : 0;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One reply line (without CRLF, over-long lines cut) into line[cap]. */
static int sc_line(struct sconn *sc, char *line, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		if (sc->in_off == sc->in_len) {
			ssize_t r = recv(sc->fd, sc->in, sizeof sc->in, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				sc->io_errno = r < 0 ? errno : 0;
				return -1;
			}
			sc->in_off = 0;
			sc->in_len = (size_t)r;
		}
		char ch = sc->in[sc->in_off++];
		if (ch == '\n')
			break;
		if (*len + 1 < cap)
			line[(*len)++] = ch;
	}
	if (*len > 0 && line[*len - 1] == '\r')
		(*len)--;
	line[*len] = '\0';
	return 0;
}

/* Read one (multi-line) reply; returns its code, or -1 (I/O or syntax). */
static int sc_reply(struct sconn *sc)
{
	char line[SEND_REPLY_MAX], clean[SEND_REPLY_MAX];
	size_t len, tl = 0;

	sc->code = 0;
	sc->text[0] = '\0';
	for (;;) {
		if (sc_line(sc, line, sizeof line, &len) < 0)
			return -1;
		if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' ||
		    (len > 3 && line[3] != ' ' && line[3] != '-')) {
			sc->io_errno = EPROTO;
			return -1;
		}
		str_sanitize(clean, sizeof clean, tl ? line + 4 : line, tl ? len - 4 : len);
		if (tl < sizeof sc->text - 1 &&
		    str_fmt(sc->text + tl, sizeof sc->text - tl, "%s%s", tl ? " " : "", clean) < 0)
			tl = sizeof sc->text - 1; /* display only: keep what fits */
		else
			tl = strlen(sc->text);
		if (len == 3 || line[3] == ' ')
			break;
	}
	sc->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	sc->last_code = sc->code;
	return sc->code;
}

/* Send "cmd CRLF" and read the reply. Returns the code or -1. */
static int sc_cmd(struct sconn *sc, const char *cmd)
{
	char line[SMTP_CMD_LINE_MAX + SEND_ADDR_MAX];

	if (str_fmt(line, sizeof line, "%s\r\n", cmd) < 0) {
		sc->io_errno = E2BIG;
		return -1;
	}
	if (sc_write(sc, line, strlen(line)) < 0)
		return -1;
	return sc_reply(sc);
}

/* Send the message dot-stuffed, then CRLF.CRLF. 0 or -1. */
static int sc_data(struct sconn *sc, const char *msg, size_t n)
{
	char out[SEND_CHUNK + 2];
	size_t o = 0;
	int bol = 1;

	for (size_t i = 0; i < n; i++) {
		if (o + 2 > SEND_CHUNK) {
			if (sc_write(sc, out, o) < 0)
				return -1;
			o = 0;
		}
		if (bol && msg[i] == '.')
			out[o++] = '.';
		out[o++] = msg[i];
		bol = msg[i] == '\n';
	}
	if (sc_write(sc, out, o) < 0)
		return -1;
	return sc_write(sc, ".\r\n", 3);
}

/* ---- the dialogue ----------------------------------------------------------- */

/*
 * A step failed: print why, return the exit code. code is the reply code
 * or -1 for an I/O error; data_phase selects EX_DATAERR for 5xx. A server
 * that hangs up right after a permanent refusal (e.g. relay denied) gives
 * EX_UNAVAILABLE: trying again would fail the same way.
 */
static int send_fail(const struct sconn *sc, int code, const char *what, int data_phase)
{
	if (code < 0) {
		fprintf(stderr, "sealpost send: %s: connection to the server failed: %s%s\n", what,
			sc->io_errno == EPROTO	 ? "bad reply from the server"
			: sc->io_errno == 0	 ? "connection closed"
			: sc->io_errno == EAGAIN ? "timed out"
						 : strerror(sc->io_errno),
			sc->last_code >= 500 ? " (after a permanent refusal)" : "");
		return sc->last_code >= 500 ? EX_UNAVAILABLE : EX_TEMPFAIL;
	}
	fprintf(stderr, "sealpost send: %s refused: %s\n", what, sc->text);
	if (code >= 400 && code < 500)
		return EX_TEMPFAIL;
	return data_phase ? EX_DATAERR : EX_UNAVAILABLE;
}

static int ok2(int code)
{
	return code >= 200 && code < 300;
}

/* Greeting, EHLO, MAIL FROM. 0 or an exit code. */
static int send_envelope_from(struct sconn *sc, const struct send_job *j)
{
	char cmd[SEND_ADDR_MAX + 64];
	int code;

	if (!ok2(code = sc_reply(sc)))
		return send_fail(sc, code, "greeting", 0);
	if (!ok2(code = sc_cmd(sc, "EHLO localhost")))
		return send_fail(sc, code, "EHLO", 0);
	if (str_fmt(cmd, sizeof cmd, "MAIL FROM:<%s>%s%s", j->sender, j->utf8 ? " SMTPUTF8" : "",
		    j->eightbit ? " BODY=8BITMIME" : "") < 0)
		return send_fail(sc, -1, "MAIL FROM", 0);
	if (!ok2(code = sc_cmd(sc, cmd)))
		return send_fail(sc, code, "sender", 0);
	return 0;
}

/*
 * RCPT TO for each recipient; refusals are printed and skipped. Returns 0
 * when at least one was accepted, else an exit code.
 */
static int send_envelope_rcpts(struct sconn *sc, const struct send_job *j)
{
	char cmd[SEND_ADDR_MAX + 16];
	size_t ok = 0;
	int temp = 0, code;

	for (size_t i = 0; i < j->rcpts.n; i++) {
		const char *r = j->rcpts.addr[i];
		if (str_fmt(cmd, sizeof cmd, "RCPT TO:<%s>", r) < 0)
			return send_fail(sc, -1, "RCPT TO", 0);
		code = sc_cmd(sc, cmd);
		if (code < 0)
			return send_fail(sc, code, r, 0);
		if (ok2(code)) {
			ok++;
			continue;
		}
		fprintf(stderr, "sealpost send: %s: %s\n", r, sc->text);
		temp |= code < 500;
	}
	if (ok > 0)
		return 0;
	(void)sc_cmd(sc, "RSET");
	(void)sc_cmd(sc, "QUIT");
	return temp ? EX_TEMPFAIL : EX_NOUSER;
}

static int send_dialogue(struct sconn *sc, const struct send_job *j)
{
	int code, rc;

	if ((rc = send_envelope_from(sc, j)) != 0 || (rc = send_envelope_rcpts(sc, j)) != 0)
		return rc;
	if ((code = sc_cmd(sc, "DATA")) != 354)
		return send_fail(sc, code, "DATA", 1);
	if (sc_data(sc, j->msg, j->len) < 0)
		return send_fail(sc, -1, "message", 1);
	if (sc_timeout(sc, SEND_DATA_TIMEOUT) < 0) {
		sc->io_errno = errno;
		return send_fail(sc, -1, "message", 1);
	}
	if (!ok2(code = sc_reply(sc)))
		return send_fail(sc, code, "message", 1);
	(void)sc_timeout(sc, SEND_TIMEOUT);
	(void)sc_cmd(sc, "QUIT");
	return 0;
}

/* ---- entry point ------------------------------------------------------------ */

static int send_has_utf8(const struct send_job *j)
{
	if (send_has_8bit(j->sender, strlen(j->sender)))
		return 1;
	for (size_t i = 0; i < j->rcpts.n; i++)
		if (send_has_8bit(j->rcpts.addr[i], strlen(j->rcpts.addr[i])))
			return 1;
	return 0;
}

/* Sender, recipients, message: everything before connecting. 0 or exit code. */
static int send_prepare(const struct conf *c, const struct send_opts *o, struct send_job *j)
{
	char from_hdr[SEND_ADDR_MAX];
	int rc;

	if (send_sender(c, o->from, j->sender) < 0)
		return o->from ? EX_USAGE : EX_OSERR;
	if (j->sender[0] ? str_copy(from_hdr, sizeof from_hdr, j->sender) < 0
			 : send_default_sender(c, from_hdr) < 0)
		return EX_OSERR;
	if (send_arg_rcpts(o, &j->rcpts) < 0)
		return EX_USAGE;
	if (!o->tflag && j->rcpts.n == 0) {
		fprintf(stderr, "sealpost send: no recipients\n");
		return EX_USAGE;
	}
	if ((rc = send_message(c, o, from_hdr, j)) != 0)
		return rc;
	if (send_qualify_all(&j->rcpts, send_domain(c)) < 0)
		return EX_DATAERR;
	if (j->rcpts.n == 0) {
		fprintf(stderr, "sealpost send: no recipients\n");
		return EX_USAGE;
	}
	j->utf8 = send_has_utf8(j);
	return 0;
}

int cli_send(int argc, char **argv)
{
	struct send_opts o = {0};
	struct send_job j = {0};
	struct sconn sc = {.fd = -1};
	struct conf *c = NULL;
	int rc = send_parse_args(argc, argv, &o);

	if (rc != 0) {
		free(o.args);
		return rc > 0 ? 0 : EX_USAGE;
	}
	if (!(c = cli_conf_load(o.conf_path))) {
		rc = EX_CONFIG;
	} else if (!(j.rcpts.addr = calloc(SEND_RCPT_CAP, sizeof *j.rcpts.addr))) {
		fprintf(stderr, "sealpost send: out of memory\n");
		rc = EX_OSERR;
	} else {
		j.rcpts.cap = SEND_RCPT_CAP;
		if ((rc = send_prepare(c, &o, &j)) == 0 &&
		    (rc = sc_connect(&sc, c->socket_path)) == 0)
			rc = send_dialogue(&sc, &j);
	}
	if (sc.fd >= 0)
		(void)close(sc.fd);
	free(j.msg);
	free(j.rcpts.addr);
	free(o.args);
	cli_conf_free(c);
	return rc;
}
