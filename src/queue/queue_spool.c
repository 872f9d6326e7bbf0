/*
 * queue_spool: queue ids and the envelope codec (see queue_spool.h).
 */
#include "queue/queue_spool.h"

#include "ipc/ipc.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/str.h"

int queue_id_new(char id[QUEUE_ID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[QUEUE_ID_LEN / 2];

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	for (size_t i = 0; i < sizeof r; i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 15];
	}
	id[QUEUE_ID_LEN] = '\0';
	return 0;
}

int queue_id_valid(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (i >= QUEUE_ID_LEN ||
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == QUEUE_ID_LEN;
}

int qenv_value_ok(const char *s, size_t cap)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (i + 1 >= cap || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Append "key value\n"; returns the new offset or -1. */
static long qenv_put(char *buf, size_t cap, long off, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);

	if (off < 0 || (size_t)off + kl + 1 + vl + 1 >= cap)
		return -1;
	memcpy(buf + off, key, kl);
	buf[off + (long)kl] = ' ';
	memcpy(buf + off + (long)kl + 1, val, vl);
	buf[off + (long)(kl + 1 + vl)] = '\n';
	return off + (long)(kl + vl + 2);
}

long qenv_encode(const struct qenv *e, char *buf, size_t cap)
{
	char num[32];
	long off = (long)strlen(QENV_MAGIC);

	if (cap <= (size_t)off)
		return -1;
	memcpy(buf, QENV_MAGIC, (size_t)off);
	off = qenv_put(buf, cap, off, "id", e->id);
	snprintf(num, sizeof num, "%lld", (long long)e->time);
	off = qenv_put(buf, cap, off, "time", num);
	off = qenv_put(buf, cap, off, "client", e->client);
	off = qenv_put(buf, cap, off, "helo", e->helo);
	off = qenv_put(buf, cap, off, "from", e->from);
	snprintf(num, sizeof num, "%u", (unsigned)e->flags);
	off = qenv_put(buf, cap, off, "flags", num);
	for (size_t i = 0; i < e->n_rcpt && off >= 0; i++) {
		off = qenv_put(buf, cap, off, "rcpt", e->rcpt[i].addr);
		off = qenv_put(buf, cap, off, "mbox", e->rcpt[i].mbox);
	}
	if (off < 0 || (size_t)off + sizeof QENV_LATE_LINE + QENV_LATE_SIZE >= cap)
		return -1;
	memcpy(buf + off, QENV_LATE_LINE, sizeof QENV_LATE_LINE - 1);
	off += (long)sizeof QENV_LATE_LINE - 1;
	buf[off++] = '\n';
	memset(buf + off, '\n', QENV_LATE_SIZE);
	return off + QENV_LATE_SIZE;
}

long qenv_late_line_off(const char *hdr, size_t len)
{
	size_t ll = sizeof QENV_LATE_LINE - 1;

	/* the late line is the last line before the blank one and the region */
	if (len < QENV_LATE_SIZE + 1 + ll)
		return -1;
	long off = (long)(len - QENV_LATE_SIZE - 1 - ll);
	return memcmp(hdr + off, QENV_LATE_LINE, ll) == 0 ? off : -1;
}

int qenv_late_fill(const char *lines, const char *prefix, char *region, char *line)
{
	size_t a = strlen(lines), b = strlen(prefix);

	if (a + b > QENV_LATE_SIZE)
		return -1;
	memset(region, '\n', QENV_LATE_SIZE);
	memcpy(region, lines, a);
	memcpy(region + QENV_LATE_SIZE - b, prefix, b);
	return snprintf(line, sizeof QENV_LATE_LINE, "late %05zu %05zu\n", a, b) ==
		       (int)sizeof QENV_LATE_LINE - 1
		   ? 0
		   : -1;
}

/* Split the next "key value\n" line; returns 1, 0 at the blank end line, -1. */
static int qenv_line(const char *buf, size_t n, size_t *pos, const char **key, size_t *klen,
		     const char **val, size_t *vlen)
{
	const char *p = buf + *pos, *nl = memchr(p, '\n', n - *pos);

	if (!nl)
		return -1;
	if (nl == p) {
		(*pos)++;
		return 0;
	}
	const char *sp = memchr(p, ' ', (size_t)(nl - p));
	if (!sp)
		return -1;
	*key = p;
	*klen = (size_t)(sp - p);
	*val = sp + 1;
	*vlen = (size_t)(nl - sp - 1);
	*pos = (size_t)(nl - buf) + 1;
	return 1;
}

static int qenv_num(const char *v, size_t n, int64_t *out)
{
	char tmp[24];
	char *end;

	if (n == 0 || str_copyn(tmp, sizeof tmp, v, n) < 0)
		return -1;
	errno = 0;
	long long x = strtoll(tmp, &end, 10);
	if (errno || *end || x < 0)
		return -1;
	*out = x;
	return 0;
}

/* "late A B": A octets of late envelope lines, B octets of header prefix. */
static int qenv_late_parse(struct qenv *e, const char *v, size_t vl)
{
	int64_t a, b;

	if (e->late_set || e->late_lines || vl != 11 || v[5] != ' ' || qenv_num(v, 5, &a) < 0 ||
	    qenv_num(v + 6, 5, &b) < 0 || a + b > QENV_LATE_SIZE)
		return -1;
	e->late_set = 1;
	e->late_a = (size_t)a;
	e->late_b = (size_t)b;
	return 0;
}

static int qenv_field(struct qenv *e, const char *k, size_t kl, const char *v, size_t vl)
{
	int64_t num;

	if (memchr(v, '\0', vl))
		return -1;
	if (str_eqn_nocase(k, kl, "id"))
		return str_copyn(e->id, sizeof e->id, v, vl) < 0 || !queue_id_valid(e->id) ? -1 : 0;
	if (str_eqn_nocase(k, kl, "time"))
		return qenv_num(v, vl, &e->time);
	if (str_eqn_nocase(k, kl, "client"))
		return str_copyn(e->client, sizeof e->client, v, vl);
	if (str_eqn_nocase(k, kl, "helo"))
		return str_copyn(e->helo, sizeof e->helo, v, vl);
	if (str_eqn_nocase(k, kl, "from"))
		return str_copyn(e->from, sizeof e->from, v, vl);
	if (str_eqn_nocase(k, kl, "flags")) {
		if (qenv_num(v, vl, &num) < 0 || num > 3)
			return -1;
		e->flags = (uint32_t)num;
		return 0;
	}
	if (str_eqn_nocase(k, kl, "rcpt")) {
		if (e->n_rcpt >= e->rcpt_cap)
			return -1;
		struct qenv_rcpt *r = &e->rcpt[e->n_rcpt++];
		r->done = 0;
		r->mbox[0] = '\0';
		return str_copyn(r->addr, sizeof r->addr, v, vl);
	}
	if (str_eqn_nocase(k, kl, "late"))
		return qenv_late_parse(e, v, vl);
	if (str_eqn_nocase(k, kl, "folder")) {
		if (!(e->late_lines && str_eqn_nocase(v, vl, "Junk")))
			return -1; /* only in the late region, only Junk */
		return str_copyn(e->folder, sizeof e->folder, "Junk", 4);
	}
	if (str_eqn_nocase(k, kl, "mbox")) {
		if (e->n_rcpt == 0 || e->rcpt[e->n_rcpt - 1].mbox[0])
			return -1;
		return str_copyn(e->rcpt[e->n_rcpt - 1].mbox, SMTP_ADDR_MAX, v, vl);
	}
	return -1;
}

/* Recipients in the header, to size the array (at most QENV_RCPT_MAX). */
static size_t qenv_count_rcpt(const char *buf, size_t n)
{
	const char *end = memmem(buf, n, "\n\n", 2);
	size_t cnt = 0, len = end ? (size_t)(end - buf) + 1 : n;

	for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), "\nrcpt ", 6)) != NULL;
	     p++)
		if (++cnt >= QENV_RCPT_MAX)
			break;
	return cnt;
}

/* The late region at pos (after the blank line): its envelope lines, and
 * where the message starts. */
static int qenv_late_region(const char *buf, size_t n, size_t pos, struct qenv *e)
{
	const char *k, *v;
	size_t kl, vl, p = 0;
	int r;

	e->body_off = pos;
	if (!e->late_set)
		return 0;
	if (n - pos < QENV_LATE_SIZE)
		return -1;
	e->late_lines = 1;
	while (p < e->late_a) {
		r = qenv_line(buf + pos, e->late_a, &p, &k, &kl, &v, &vl);
		if (r != 1 || qenv_field(e, k, kl, v, vl) < 0)
			return -1;
	}
	e->body_off = pos + QENV_LATE_SIZE - e->late_b;
	return 0;
}

int qenv_decode(const char *buf, size_t n, struct qenv *e)
{
	size_t pos = strlen(QENV_MAGIC);
	const char *k, *v;
	size_t kl, vl;
	int r;

	memset(e, 0, sizeof *e);
	if (n < pos || memcmp(buf, QENV_MAGIC, pos) != 0)
		return -1;
	e->rcpt_cap = qenv_count_rcpt(buf, n);
	e->rcpt = calloc(e->rcpt_cap ? e->rcpt_cap : 1, sizeof *e->rcpt);
	if (!e->rcpt)
		return -1;
	while ((r = qenv_line(buf, n, &pos, &k, &kl, &v, &vl)) == 1)
		if (qenv_field(e, k, kl, v, vl) < 0)
			break;
	if (r != 0 || !e->id[0] || e->n_rcpt == 0 || !e->rcpt[e->n_rcpt - 1].mbox[0] ||
	    qenv_late_region(buf, n, pos, e) < 0) {
		qenv_free(e);
		return -1;
	}
	return 0;
}

void qenv_free(struct qenv *e)
{
	free(e->rcpt);
	e->rcpt = NULL;
	e->n_rcpt = 0;
}

int qenv_read_fd(int fd, struct qenv *e)
{
	char *buf = malloc(QENV_HEADER_MAX);
	size_t got = 0;
	int rc;

	if (!buf)
		return -1;
	while (got < QENV_HEADER_MAX) {
		ssize_t n = pread(fd, buf + got, QENV_HEADER_MAX - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	rc = qenv_decode(buf, got, e);
	free(buf);
	return rc;
}

static void qstate_line(struct qenv *e, struct qstate *st, const char *l, size_t n)
{
	int64_t v;
	const char *sp;

	if (n > 5 && (memcmp(l, "done ", 5) == 0 || memcmp(l, "fail ", 5) == 0)) {
		if (qenv_num(l + 5, n - 5, &v) == 0 && (uint64_t)v < e->n_rcpt)
			e->rcpt[v].done = l[0] == 'd' ? 1 : 2;
		return;
	}
	if (n == 6 && memcmp(l, "hold ", 5) == 0 && (l[5] == '0' || l[5] == '1')) {
		st->hold = l[5] == '1';
		return;
	}
	if (n == 6 && memcmp(l, "warned", 6) == 0) {
		st->warned = 1;
		return;
	}
	if (n > 4 && memcmp(l, "try ", 4) == 0 && (sp = memchr(l + 4, ' ', n - 4)) != NULL) {
		if (qenv_num(l + 4, (size_t)(sp - l - 4), &v) < 0)
			return;
		st->tries++;
		st->last_try = v;
		size_t el = n - (size_t)(sp + 1 - l);
		if (el >= sizeof st->last_error)
			el = sizeof st->last_error - 1;
		memcpy(st->last_error, sp + 1, el);
		st->last_error[el] = '\0';
	}
}

void qstate_apply(struct qenv *e, struct qstate *st, const char *text, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(text + i, '\n', n - i);
		if (!nl)
			break; /* a torn last line (crash mid-append) is ignored */
		qstate_line(e, st, text + i, (size_t)(nl - text - i));
		i = (size_t)(nl - text) + 1;
	}
}

void qjob_decode(struct ipc_msg *m, uint64_t *job, char id[QUEUE_ID_SIZE + 1], uint32_t *flags,
		 uint32_t **idx, uint32_t *n, int *fd)
{
	*fd = m->fd;
	m->fd = -1;
	*job = ipc_get_u64(m);
	ipc_get_str(m, id, QUEUE_ID_SIZE + 1);
	*flags = ipc_get_u32(m);
	*n = ipc_get_u32(m);
	if (m->type != IPC_DELIVER || *fd < 0 || m->bad || *n == 0 || *n > QENV_RCPT_MAX)
		fatal("malformed DELIVER record");
	if ((*idx = calloc(*n, sizeof **idx)) == NULL)
		fatal("out of memory");
	for (uint32_t k = 0; k < *n; k++)
		(*idx)[k] = ipc_get_u32(m);
	if (ipc_end(m) < 0 || !queue_id_valid(id))
		fatal("malformed DELIVER record");
}

void qjob_answer_rcpt(struct ipc_chan *ch, struct ipc_msg *m, uint64_t job, uint32_t idx,
		      uint32_t status, const char *why)
{
	ipc_msg_init(m, IPC_DELIVERED_RCPT);
	ipc_put_u64(m, job);
	ipc_put_u32(m, idx);
	ipc_put_u32(m, status);
	ipc_put_str(m, status == IPC_DLV_OK ? "" : why);
	if (ipc_send(ch, m) < 0)
		fatal("cannot answer the queue");
}

void qjob_answer_end(struct ipc_chan *ch, struct ipc_msg *m, uint64_t job)
{
	ipc_msg_init(m, IPC_DELIVERED_END);
	ipc_put_u64(m, job);
	if (ipc_send(ch, m) < 0)
		fatal("cannot answer the queue");
}
