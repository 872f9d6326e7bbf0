/*
 * queue: `sealpost queue [-c FILE] [list]` — show the messages waiting in
 * <spool>/queue/ (accepted, not yet delivered to every recipient), oldest
 * first: id (with "(held)" when the operator held it), age, size, sender,
 * recipients still to deliver, last error. Messages still being received
 * (<spool>/incoming/) are not listed. `flush [ID]`, `hold ID`, `release
 * ID` and `delete ID` are sent to the running queue process through
 * <spool>/control.sock (src/queue/queue_ctl.c), which answers one line.
 *
 * Security role: `list` is read-only. It reads the spool directly, so it
 * needs root or the queue user; files are opened with O_NOFOLLOW relative
 * to the directory, only names that are valid queue ids are touched,
 * envelopes go through the bounded qenv decoder, state files are read with
 * a size cap, and every value that came from a remote client is sanitized
 * before it reaches the terminal. The other commands change nothing
 * themselves: the queue process checks who is asking (root or the queue
 * user) and does the work; ids are checked here and there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "queue/queue_spool.h"
#include "util/conf.h"
#include "util/str.h"

#define QL_STATE_MAX (4u * 1024 * 1024) /* a .state file is read up to this size */
#define QL_RCPT_SHOW 1024		/* recipients column, octets */
#define QL_ERR_SHOW  256
#define QC_SOCK	     "control.sock"
#define QC_ANSWER    640 /* the longest answer line read from the queue */
#define QC_TIMEOUT   30	 /* seconds to wait for the answer */

struct qline {
	char id[QUEUE_ID_SIZE];
	int64_t time;
	long long mtime_ns; /* orders messages received in the same second */
	long long size;
	char sender[SMTP_ADDR_MAX];
	char rcpts[QL_RCPT_SHOW];
	char error[QL_ERR_SHOW];
	int hold; /* held by the operator */
};

struct qlist {
	struct qline *v;
	size_t n, cap;
};

static void queue_usage(FILE *f)
{
	fprintf(f,
		"usage: sealpost queue [-c FILE] [list | flush [ID] | hold ID | release ID |\n"
		"                                delete ID]\n"
		"  -c FILE     configuration (default " CONF_DEFAULT_PATH ")\n"
		"  list        show the queued messages, oldest first; held ones are marked\n"
		"              (held) (the default command)\n"
		"  flush [ID]  retry message ID, or every waiting message, now (held ones\n"
		"              are not retried)\n"
		"  hold ID     stop delivery attempts of message ID until it is released\n"
		"  release ID  let message ID be delivered again, at once\n"
		"  delete ID   remove message ID from the queue, without a bounce\n"
		"Run as root or the queue user. flush, hold, release and delete ask the\n"
		"running server (through <spool>/" QC_SOCK "), print its answer and exit 0 when\n"
		"it is \"ok\", 1 on an error, 75 when the server is not running.\n");
}

/* Read a whole .state file (at most QL_STATE_MAX). NULL when absent or unreadable. */
static char *queue_read_state(int dfd, const char *id, size_t *len)
{
	char name[QUEUE_ID_SIZE + 8];
	struct stat sb;
	char *buf = NULL;
	size_t got = 0, cap = 0;
	int fd;

	if (str_fmt(name, sizeof name, "%s.state", id) < 0)
		return NULL;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
		cap = (uint64_t)sb.st_size < QL_STATE_MAX ? (size_t)sb.st_size + 1 : QL_STATE_MAX;
		buf = malloc(cap);
	}
	while (buf && got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	*len = got; /* a file cut at the cap ends in a torn line, which is ignored */
	return buf;
}

/* The recipients not yet delivered, comma-separated, into l->rcpts. */
static void queue_rcpts_text(const struct qenv *e, struct qline *l)
{
	size_t o = 0, done = 0;
	char clean[SMTP_ADDR_MAX];

	l->rcpts[0] = '\0';
	for (size_t i = 0; i < e->n_rcpt; i++) {
		if (e->rcpt[i].done) {
			done++;
			continue;
		}
		str_sanitize(clean, sizeof clean, e->rcpt[i].addr, strlen(e->rcpt[i].addr));
		/* Another domain: waits for the remote delivery process. */
		const char *tag = strcmp(e->rcpt[i].mbox, QENV_MBOX_REMOTE) == 0 ? "(remote)" : "";
		if (str_fmt(l->rcpts + o, sizeof l->rcpts - o, "%s%s%s", o ? "," : "", clean, tag) <
		    0) {
			(void)str_fmt(l->rcpts, sizeof l->rcpts, "(%zu recipients)",
				      e->n_rcpt - done);
			return;
		}
		o = strlen(l->rcpts);
	}
	if (o == 0)
		(void)str_copy(l->rcpts, sizeof l->rcpts, "-");
	if (done > 0 && o + 1 < sizeof l->rcpts)
		(void)str_fmt(l->rcpts + o, sizeof l->rcpts - o, " (+%zu delivered)", done);
}

/*
 * Fill l from the envelope and state of the queue file id. 0, -1 (skip
 * it) or -2 (permission denied: printed, give up).
 */
static int queue_load_one(int dfd, const char *id, struct qline *l)
{
	struct qenv e = {0};
	struct qstate st = {0};
	struct stat sb;
	size_t slen;
	char *state;
	int fd = openat(dfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES) {
		fprintf(stderr,
			"sealpost queue: cannot read queue file %s: %s (run as root or the "
			"queue user)\n",
			id, strerror(errno));
		return -2;
	}
	if (fd < 0)
		return -1; /* delivered and removed meanwhile, most likely */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || qenv_read_fd(fd, &e) < 0) {
		fprintf(stderr, "sealpost queue: %s: unreadable queue file\n", id);
		(void)close(fd);
		qenv_free(&e);
		return -1;
	}
	(void)close(fd);
	if ((state = queue_read_state(dfd, id, &slen)) != NULL) {
		qstate_apply(&e, &st, state, slen);
		free(state);
	}
	memcpy(l->id, id, QUEUE_ID_SIZE);
	l->time = e.time;
	l->mtime_ns = (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	l->size = (long long)sb.st_size - (long long)e.body_off;
	if (e.from[0])
		str_sanitize(l->sender, sizeof l->sender, e.from, strlen(e.from));
	else
		(void)str_copy(l->sender, sizeof l->sender, "<>");
	queue_rcpts_text(&e, l);
	l->hold = st.hold;
	if (st.last_error[0])
		str_sanitize(l->error, sizeof l->error, st.last_error, strlen(st.last_error));
	else
		(void)str_copy(l->error, sizeof l->error, "-");
	qenv_free(&e);
	return 0;
}

static struct qline *queue_slot(struct qlist *q)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct qline *v = reallocarray(q->v, cap, sizeof *v);
		if (!v)
			return NULL;
		q->v = v;
		q->cap = cap;
	}
	return &q->v[q->n];
}

/* Every valid queue file in the open directory dir. 0 or -1 (printed). */
static int queue_scan(DIR *dir, struct qlist *q)
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		if (!(de = readdir(dir)))
			break;
		if (!queue_id_valid(de->d_name))
			continue;
		struct qline *l = queue_slot(q);
		if (!l) {
			fprintf(stderr, "sealpost queue: out of memory\n");
			return -1;
		}
		int r = queue_load_one(dirfd(dir), de->d_name, l);
		if (r == -2)
			return -1;
		if (r == 0)
			q->n++;
	}
	if (errno) {
		fprintf(stderr, "sealpost queue: cannot read the queue directory: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

static int queue_cmp(const void *a, const void *b)
{
	const struct qline *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* "5s", "3m", "2h", "4d". */
static void queue_age(int64_t secs, char *out, size_t cap)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		(void)str_fmt(out, cap, "%llds", (long long)secs);
	else if (secs < 3600)
		(void)str_fmt(out, cap, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		(void)str_fmt(out, cap, "%lldh", (long long)(secs / 3600));
	else
		(void)str_fmt(out, cap, "%lldd", (long long)(secs / 86400));
}

static void queue_print(const struct qlist *q)
{
	int64_t now = (int64_t)time(NULL);
	int ws = (int)strlen("SENDER"), wr = (int)strlen("RECIPIENTS"), wi = QUEUE_ID_LEN;
	char age[32], id[QUEUE_ID_SIZE + 8];

	for (size_t i = 0; i < q->n; i++) {
		int a = (int)strlen(q->v[i].sender), b = (int)strlen(q->v[i].rcpts);
		ws = a > ws ? (a < 40 ? a : 40) : ws;
		wr = b > wr ? (b < 60 ? b : 60) : wr;
		if (q->v[i].hold)
			wi = QUEUE_ID_LEN + (int)strlen("(held)");
	}
	printf("%-*s  %4s  %9s  %-*s  %-*s  %s\n", wi, "ID", "AGE", "SIZE", ws, "SENDER", wr,
	       "RECIPIENTS", "LAST-ERROR");
	for (size_t i = 0; i < q->n; i++) {
		const struct qline *l = &q->v[i];
		queue_age(now - l->time, age, sizeof age);
		(void)str_fmt(id, sizeof id, "%s%s", l->id, l->hold ? "(held)" : "");
		printf("%-*s  %4s  %9lld  %-*s  %-*s  %s\n", wi, id, age, l->size, ws, l->sender,
		       wr, l->rcpts, l->error);
	}
}

/* `queue list`: 0 or 1. */
static int queue_list(const struct conf *c)
{
	char path[CONF_PATH_MAX + 16];
	struct qlist q = {0};
	DIR *dir;
	int rc;

	if (str_fmt(path, sizeof path, "%s/queue", c->spool) < 0) {
		fprintf(stderr, "sealpost queue: spool path too long\n");
		return 1;
	}
	if (!(dir = opendir(path))) {
		fprintf(stderr, "sealpost queue: cannot open %s: %s%s\n", path, strerror(errno),
			errno == EACCES ? " (run as root or the queue user)" : "");
		return 1;
	}
	rc = queue_scan(dir, &q);
	(void)closedir(dir);
	if (rc == 0 && q.n == 0)
		printf("Mail queue is empty\n");
	else if (rc == 0) {
		qsort(q.v, q.n, sizeof *q.v, queue_cmp);
		queue_print(&q);
	}
	free(q.v);
	if (rc == 0 && fflush(stdout) != 0)
		rc = -1;
	return rc == 0 ? 0 : 1;
}

/* ---- flush, hold, release, delete: the control socket ------------------ */

/* Connect to <spool>/control.sock: the descriptor, or -1 with the exit code
 * in *rc (printed). */
static int queue_ctl_connect(const struct conf *c, int *rc)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const struct timeval tv = {QC_TIMEOUT, 0};
	int fd, e;

	*rc = 1;
	if (str_fmt(sun.sun_path, sizeof sun.sun_path, "%s/" QC_SOCK, c->spool) < 0) {
		fprintf(stderr, "sealpost queue: the spool path is too long for a socket path\n");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "sealpost queue: socket: %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 &&
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		return fd;
	e = errno;
	(void)close(fd);
	if (e == EACCES || e == EPERM) {
		fprintf(stderr, "sealpost queue: %s: %s (run as root or the queue user)\n",
			sun.sun_path, strerror(e));
	} else if (e == ENOENT || e == ECONNREFUSED) {
		fprintf(stderr, "sealpost queue: the server is not running (%s: %s)\n",
			sun.sun_path, strerror(e));
		*rc = EX_TEMPFAIL;
	} else {
		fprintf(stderr, "sealpost queue: cannot connect to %s: %s\n", sun.sun_path,
			strerror(e));
	}
	return -1;
}

static int queue_ctl_send(int fd, const char *line)
{
	size_t n = strlen(line), off = 0;

	while (off < n) {
		ssize_t w = write(fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* One answer line (without its LF) into buf[cap]; 0 or -1. */
static int queue_ctl_recv(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	char *nl;

	while (got + 1 < cap) {
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		if ((nl = memchr(buf, '\n', got)) != NULL) {
			*nl = '\0';
			return 0;
		}
	}
	return -1;
}

/* Send "cmd[ id]" to the queue process and print its answer: 0, 1 or 75. */
static int queue_ctl(const struct conf *c, const char *cmd, const char *id)
{
	char line[64], ans[QC_ANSWER], clean[QC_ANSWER];
	int rc, fd;

	if (str_fmt(line, sizeof line, "%s%s%s\n", cmd, id ? " " : "", id ? id : "") < 0)
		return 1;
	if ((fd = queue_ctl_connect(c, &rc)) < 0)
		return rc;
	errno = 0;
	if (queue_ctl_send(fd, line) < 0 || queue_ctl_recv(fd, ans, sizeof ans) < 0) {
		fprintf(stderr, "sealpost queue: no answer from the server: %s\n",
			errno ? strerror(errno) : "connection closed");
		(void)close(fd);
		return 1;
	}
	(void)close(fd);
	str_sanitize(clean, sizeof clean, ans, strlen(ans));
	if (strncmp(clean, "ok", 2) == 0 && (clean[2] == ' ' || clean[2] == '\0'))
		return printf("%s\n", clean) < 0 || fflush(stdout) != 0 ? 1 : 0;
	fprintf(stderr, "sealpost queue: %s\n", clean);
	return 1;
}

/* Which command, and whether it takes an ID: 0 none, 1 optional, 2 required;
 * -1 when it is not a command. */
static int queue_cmd_arity(const char *cmd)
{
	static const struct {
		const char *name;
		int arity;
	} cmds[] = {{"list", 0}, {"flush", 1}, {"hold", 2}, {"release", 2}, {"delete", 2}};

	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			return cmds[i].arity;
	return -1;
}

/* 0 when the command line is well formed, else 2 (usage printed). */
static int queue_args_check(const char *cmd, const char *id, int extra)
{
	int arity = queue_cmd_arity(cmd);

	if (arity < 0 || extra || (arity == 0 && id) || (arity == 2 && !id)) {
		queue_usage(stderr);
		return 2;
	}
	if (id && !queue_id_valid(id)) {
		fprintf(stderr,
			"sealpost queue: '%.40s' is not a queue id (16 lowercase hex "
			"digits, as queue list shows)\n",
			id);
		return 2;
	}
	return 0;
}

int cli_queue(int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"config", 'c', 1}, {"help", 'h', 0}};
	struct cli_parser p;
	const char *path = CONF_DEFAULT_PATH, *cmd = NULL, *id = NULL;
	struct conf *c;
	int k, rc, extra = 0;

	cli_parser_init(&p, argc, argv);
	while ((k = cli_next(&p, opts, sizeof opts / sizeof opts[0])) != CLI_END) {
		if (k == CLI_BAD)
			return 2;
		if (k == 1) {
			queue_usage(stdout);
			return 0;
		}
		if (k == 0)
			path = p.arg;
		else if (!cmd)
			cmd = p.arg;
		else if (!id)
			id = p.arg;
		else
			extra = 1;
	}
	if ((rc = queue_args_check(cmd ? cmd : "list", id, extra)) != 0)
		return rc;
	if (!(c = cli_conf_load(path)))
		return 1;
	rc = !cmd || strcmp(cmd, "list") == 0 ? queue_list(c) : queue_ctl(c, cmd, id);
	cli_conf_free(c);
	return rc;
}
