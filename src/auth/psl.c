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
 * Rules written in Unicode (the IDN rules of the list, e.g. "公司.cn") are
 * converted at load to their A-label form ("xn--55qx5d.cn", Punycode of
 * RFC 3492; the list's labels are already lowercase NFC, so no further
 * IDNA mapping is done). Names are matched in lowercase ASCII: a From:
 * domain in U-label form is refused (mail carries A-labels). Without the
 * conversion, a.xn--55qx5d.cn and b.xn--55qx5d.cn would share an
 * "organization" and align with each other.
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

/* ---- Unicode rules to A-labels (RFC 3492 Punycode) --------------------- */

#define PUNY_BASE    36
#define PUNY_TMIN    1
#define PUNY_TMAX    26
#define PUNY_SKEW    38
#define PUNY_DAMP    700
#define PUNY_BIAS    72
#define PUNY_N	     128
#define PUNY_CPS_MAX 64 /* code points in one label */

static uint32_t puny_adapt(uint32_t delta, uint32_t points, int first)
{
	uint32_t k = 0;

	delta = first ? delta / PUNY_DAMP : delta / 2;
	delta += delta / points;
	while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) / 2) {
		delta /= PUNY_BASE - PUNY_TMIN;
		k += PUNY_BASE;
	}
	return k + (PUNY_BASE - PUNY_TMIN + 1) * delta / (delta + PUNY_SKEW);
}

static int puny_put(char *out, size_t cap, size_t *k, uint32_t d)
{
	if (*k + 1 >= cap)
		return -1;
	out[(*k)++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
	return 0;
}

/* delta as a variable-length integer (RFC 3492 6.3). */
static int puny_delta(char *out, size_t cap, size_t *k, uint32_t q, uint32_t bias)
{
	for (uint32_t b = PUNY_BASE;; b += PUNY_BASE) {
		uint32_t t = b <= bias ? PUNY_TMIN : b >= bias + PUNY_TMAX ? PUNY_TMAX : b - bias;
		if (q < t)
			return puny_put(out, cap, k, q);
		if (puny_put(out, cap, k, t + (q - t) % (PUNY_BASE - t)) < 0)
			return -1;
		q = (q - t) / (PUNY_BASE - t);
	}
}

/* Punycode of cp[0..n) (some non-ASCII) after "xn--" into out; 0 or -1. */
static int puny_encode(const uint32_t *cp, size_t n, char *out, size_t cap)
{
	uint32_t next = PUNY_N, delta = 0, bias = PUNY_BIAS, h, b;
	size_t k = 0;

	if (str_copy(out, cap, "xn--") < 0)
		return -1;
	k = 4;
	for (size_t i = 0; i < n; i++) {
		if (cp[i] >= PUNY_N)
			continue;
		if (k + 2 >= cap)
			return -1;
		out[k++] = (char)cp[i];
	}
	h = b = (uint32_t)(k - 4);
	if (b > 0)
		out[k++] = '-';
	while (h < n) {
		uint32_t m = UINT32_MAX;
		for (size_t i = 0; i < n; i++)
			if (cp[i] >= next && cp[i] < m)
				m = cp[i];
		if ((m - next) > (UINT32_MAX - delta) / (h + 1))
			return -1;
		delta += (m - next) * (h + 1);
		next = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < next && ++delta == 0)
				return -1;
			if (cp[i] != next)
				continue;
			if (puny_delta(out, cap, &k, delta, bias) < 0)
				return -1;
			bias = puny_adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		next++;
	}
	out[k] = '\0';
	return 0;
}

/* One UTF-8 sequence at s[*i]; the code point, or -1 when malformed. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
	unsigned c = s[(*i)++], len = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
	static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
	uint32_t cp = len == 0 ? c : c & (0x3fu >> len);

	if ((c >= 0x80 && c < 0xc2) || c > 0xf4 || len > n - *i)
		return -1;
	for (unsigned j = 0; j < len; j++) {
		if ((s[*i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[(*i)++] & 0x3fu);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return (long)cp;
}

/* One label: ASCII copied, else its A-label. 0 or -1. */
static int psl_label_ascii(const char *s, size_t n, char *out, size_t cap)
{
	uint32_t cp[PUNY_CPS_MAX];
	size_t n_cp = 0, i = 0;
	int ascii = 1;

	while (i < n) {
		long c = utf8_next((const unsigned char *)s, n, &i);
		if (c < 0 || n_cp == PUNY_CPS_MAX)
			return -1;
		ascii &= c < PUNY_N;
		cp[n_cp++] = (uint32_t)c;
	}
	if (ascii)
		return str_copyn(out, cap, s, n);
	return puny_encode(cp, n_cp, out, cap);
}

/* A rule name with Unicode labels into A-labels; 0 or -1. */
int psl_name_ascii(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;

	while (n > 0) {
		const char *dot = memchr(s, '.', n);
		size_t len = dot ? (size_t)(dot - s) : n;
		if (psl_label_ascii(s, len, out + k, cap - k) < 0)
			return -1;
		k += strlen(out + k);
		s += len;
		n -= len;
		if (dot) {
			if (k + 1 >= cap)
				return -1;
			out[k++] = '.';
			s++;
			n--;
		}
	}
	out[k] = '\0';
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
	if (psl_name_ascii(s, n, name, sizeof name) < 0 ||
	    psl_domain_norm(name, name, sizeof name) < 0)
		return 0; /* malformed rules are skipped */
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
