/*
 * psl: the Public Suffix List (publicsuffix.org format) and the
 * organizational domain of RFC 7489 3.2 computed from it.
 *
 * The list is read once (psl_load, before privileges are dropped; children
 * inherit it) into one string arena and an open-addressing hash table keyed
 * by the rule's name: "ck" flagged WILDCARD stands for "*.ck", "www.ck"
 * flagged EXCEPTION for "!www.ck". A lookup hashes each label suffix of the
 * name once, so it costs at most one probe sequence per label.
 *
 * Rules written in Unicode (the IDN rules of the list) are skipped at load:
 * names are matched in lowercase ASCII (A-labels, "xn--..."), and a
 * U-label rule can never match such a name. Non-ASCII input is refused.
 *
 * Security role: the organizational domain decides whether two domains are
 * "aligned" for DMARC, so a wrong answer lets one registrant speak for
 * another (foo.co.uk for bar.co.uk). Every name is checked (length, empty
 * labels, characters) before it is looked up; the file is bounded in size
 * and number of rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/dmarc.h"
#include "util/str.h"

#define PSL_FILE_MAX   (8u * 1024 * 1024) /* the list is ~250 KB */
#define PSL_RULES_MAX  200000u
#define PSL_LABEL_MAX  63
#define PSL_NAME_LEN   253 /* longest name, presentation form, no final dot */
#define PSL_LABELS_MAX 128

#define PSL_NORMAL    1u
#define PSL_WILDCARD  2u
#define PSL_EXCEPTION 4u

struct psl_slot {
	uint32_t off; /* into arena; 0 = empty slot (arena[0] is unused) */
	uint16_t len;
	uint8_t flags;
};

struct psl {
	char *arena;
	size_t arena_len, arena_cap;
	struct psl_slot *slot;
	size_t n_slot; /* a power of two, at least twice the rules */
	size_t n_rules;
};

static uint32_t psl_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* The slot holding s[0..n), or the empty slot where it would go. */
static struct psl_slot *psl_find(const struct psl *p, const char *s, size_t n)
{
	size_t mask = p->n_slot - 1, i = psl_hash(s, n) & mask;

	for (;;) {
		struct psl_slot *e = &p->slot[i];
		if (e->off == 0 || (e->len == n && memcmp(p->arena + e->off, s, n) == 0))
			return e;
		i = (i + 1) & mask;
	}
}

static unsigned psl_flags(const struct psl *p, const char *s, size_t n)
{
	const struct psl_slot *e = psl_find(p, s, n);

	return e->off ? e->flags : 0;
}

/* Letters, digits, '-' and '_' (underscore for service names like _dmarc). */
static int psl_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Check and normalise a domain name: ASCII, labels of 1..63 allowed
 * characters, at most 253 octets, one optional final dot dropped,
 * lowercased into out. 0 or -1.
 */
int psl_domain_norm(const char *in, char *out, size_t cap)
{
	size_t n = in ? strnlen(in, PSL_NAME_LEN + 2) : 0, label = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > PSL_NAME_LEN || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (!psl_name_char(c) || ++label > PSL_LABEL_MAX) {
			return -1;
		}
		out[i] = (char)c;
	}
	if (label == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* ---- loading -------------------------------------------------------------- */

static int psl_arena_add(struct psl *p, const char *s, size_t n, uint32_t *off)
{
	if (p->arena_len + n > p->arena_cap) {
		size_t cap = p->arena_cap ? p->arena_cap * 2 : 64 * 1024;
		char *a;
		while (cap < p->arena_len + n)
			cap *= 2;
		if (cap > UINT32_MAX || !(a = realloc(p->arena, cap)))
			return -1;
		p->arena = a;
		p->arena_cap = cap;
	}
	memcpy(p->arena + p->arena_len, s, n);
	*off = (uint32_t)p->arena_len;
	p->arena_len += n;
	return 0;
}

static int psl_insert(struct psl *p, const char *s, size_t n, unsigned flag)
{
	struct psl_slot *e = psl_find(p, s, n);

	if (e->off == 0) {
		if (psl_arena_add(p, s, n, &e->off) < 0)
			return -1;
		e->len = (uint16_t)n;
		p->n_rules++;
	}
	e->flags |= (uint8_t)flag;
	return 0;
}

/* One rule token ("com", "*.ck", "!www.ck"); 0 (added or skipped) or -1. */
static int psl_rule(struct psl *p, const char *s, size_t n)
{
	char name[PSL_NAME_LEN + 1];
	unsigned flag = PSL_NORMAL;

	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		flag = PSL_WILDCARD;
		s += 2;
		n -= 2;
	} else if (n >= 1 && s[0] == '!') {
		flag = PSL_EXCEPTION;
		s++;
		n--;
	}
	if (str_copyn(name, sizeof name, s, n) < 0 || psl_domain_norm(name, name, sizeof name) < 0)
		return 0; /* Unicode (IDN) rules and oddities: never match A-labels */
	if (p->n_rules >= PSL_RULES_MAX)
		return -1;
	return psl_insert(p, name, strlen(name), flag);
}

/* Rules before the text: count the lines that can hold one (upper bound). */
static size_t psl_count_lines(const char *text, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

static int psl_parse(struct psl *p, const char *text, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *line = text + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i, tok = 0;
		i += n + (nl != NULL);
		while (tok < n && line[tok] != ' ' && line[tok] != '\t' && line[tok] != '\r')
			tok++;
		if (tok == 0 || (tok >= 2 && line[0] == '/' && line[1] == '/'))
			continue;
		if (psl_rule(p, line, tok) < 0)
			return -1;
	}
	return 0;
}

struct psl *psl_load_mem(const char *text, size_t len, char *err, size_t cap)
{
	struct psl *p = calloc(1, sizeof *p);
	size_t lines = psl_count_lines(text, len);

	if (!p || lines > PSL_RULES_MAX) {
		(void)str_copy(err, cap, p ? "too many lines" : "out of memory");
		free(p);
		return NULL;
	}
	for (p->n_slot = 1024; p->n_slot < 2 * lines;)
		p->n_slot *= 2;
	p->slot = calloc(p->n_slot, sizeof *p->slot);
	if (!p->slot || psl_arena_add(p, "", 1, &(uint32_t){0}) < 0 ||
	    psl_parse(p, text, len) < 0) {
		(void)str_copy(err, cap, "out of memory or too many rules");
		psl_free(p);
		return NULL;
	}
	return p;
}

/* The whole file into a fresh buffer (bounded); 0 or -1 with errno. */
static int psl_read_file(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (size_t)st.st_size > PSL_FILE_MAX || !(buf = malloc((size_t)st.st_size + 1))) {
		errno = errno ? errno : EFBIG;
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	(void)close(fd);
	*out = buf;
	*len = got;
	return 0;
fail:
	free(buf);
	(void)close(fd);
	return -1;
}

struct psl *psl_load(const char *path, char *err, size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	struct psl *p;

	errno = 0;
	if (psl_read_file(path, &text, &len) < 0) {
		(void)str_fmt(err, cap, "%s: %s", path, errno ? strerror(errno) : "short read");
		return NULL;
	}
	p = psl_load_mem(text, len, err, cap);
	free(text);
	if (p && p->n_rules == 0) {
		(void)str_fmt(err, cap, "%s: no rules", path);
		psl_free(p);
		return NULL;
	}
	return p;
}

void psl_free(struct psl *p)
{
	if (!p)
		return;
	free(p->arena);
	free(p->slot);
	free(p);
}

void psl_stats(const struct psl *p, size_t *rules, size_t *bytes)
{
	*rules = p ? p->n_rules : 0;
	*bytes = p ? sizeof *p + p->arena_cap + p->n_slot * sizeof *p->slot : 0;
}

/* ---- lookup ---------------------------------------------------------------- */

/*
 * Labels in the public suffix of name (n_lab labels starting at start[]),
 * per publicsuffix.org: an exception rule prevails (its labels minus one);
 * else the matching rule with the most labels; else the default rule "*".
 */
static size_t psl_suffix_labels(const struct psl *p, const char *name, const size_t *start,
				size_t n_lab)
{
	size_t len = strlen(name), best = 1;

	for (size_t i = 0; i < n_lab; i++) {
		const char *s = name + start[i];
		size_t labels = n_lab - i;
		unsigned f = psl_flags(p, s, len - start[i]);
		if (f & PSL_EXCEPTION)
			return labels - 1;
		if (best < labels &&
		    ((f & PSL_NORMAL) ||
		     (i + 1 < n_lab &&
		      (psl_flags(p, name + start[i + 1], len - start[i + 1]) & PSL_WILDCARD))))
			best = labels;
	}
	return best;
}

int psl_org_domain(const struct psl *p, const char *domain, char *out, size_t cap)
{
	char name[PSL_NAME_LEN + 1];
	size_t start[PSL_LABELS_MAX], n_lab = 0, ps, from;

	if (!p || psl_domain_norm(domain, name, sizeof name) < 0)
		return -1;
	start[n_lab++] = 0;
	for (size_t i = 0; name[i]; i++)
		if (name[i] == '.')
			start[n_lab++] = i + 1; /* 253 octets: at most 127 labels */
	ps = psl_suffix_labels(p, name, start, n_lab);
	from = ps >= n_lab ? 0 : n_lab - ps - 1;
	return str_copy(out, cap, name + start[from]);
}
