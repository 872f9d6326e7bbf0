/*
 * users: parse, query, modify and atomically save the users file (see
 * users.h and docs/config.md), plus password hashing and verification.
 *
 * Security role: the file maps addresses to password hashes and SCRAM
 * secrets. Parsing is strict and bounded (unknown flags and malformed
 * secrets refused), an address may belong to one user only (so mail and
 * send-as rights are never ambiguous), the file is replaced atomically
 * with mode 0640, passwords are compared in constant time and every
 * buffer that held a password, hash or secret is wiped before it is freed.
 */
#include "lookup/users.h"
#include "util/file.h"
#include "util/str.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY_MAX	  256
#define QUOTE_MAX 80

/* The FLAGS field words, in the order users_flags_format writes them. */
static const struct {
	const char *name;
	unsigned bit;
} flag_names[] = {{"any-from", USER_F_ANY_FROM}};
#define N_FLAGS (sizeof flag_names / sizeof flag_names[0])

/* The line format, for messages and the saved file's header. */
#define LINE_FORMAT "ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]]"

/*
 * A yescrypt hash (default cost) of a throwaway string: verified against
 * when the user does not exist or cannot log in, so that such attempts
 * take as long as real ones.
 */
static const char dummy_hash[] =
    "$y$j9T$bx4u.RkJWnW5lG0vH4g6b0$V/DoQykwkKzlFG.GgfPMslkoDPmgVGBPA1wBnpw7VGC";

/* ---- messages --------------------------------------------------------- */

static int __attribute__((format(printf, 3, 0)))
vfail(char *err, size_t cap, const char *fmt, va_list ap)
{
	if (cap == 0)
		return -1;
	int n = vsnprintf(err, cap, fmt, ap);
	if (n < 0 && str_copy(err, cap, "error") < 0)
		return -1;
	if (n >= 0 && (size_t)n >= cap && cap >= 4)
		memcpy(err + cap - 4, "...", 4); /* marked, never silent */
	return -1;
}

/* Format a reason into err[cap]; always returns -1. */
static int __attribute__((format(printf, 3, 4))) fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* s[0..n) made printable and short for a message. */
static const char *q(char *buf, size_t cap, const char *s, size_t n)
{
	str_sanitize(buf, cap, s, n);
	if (n >= cap && cap >= 4)
		memcpy(buf + cap - 4, "...", 4);
	return buf;
}

/* ---- basic pieces ----------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

int users_hash_valid(const char *hash)
{
	static const char *const prefixes[] = {"$y$", "$2b$", "$6$"};
	size_t n = strlen(hash);

	if (strcmp(hash, "*") == 0)
		return 1;
	if (n >= USERS_HASH_MAX ||
	    strspn(hash, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789./$=,") != n)
		return 0;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0 &&
		    n > strlen(prefixes[i]) + 8)
			return 1;
	return 0;
}

/* Validate and normalize s[0..n) into out[USERS_ADDR_MAX]. */
static int addr_norm(const char *s, size_t n, char *out, char *why, size_t whycap)
{
	char tmp[USERS_ADDR_MAX + 1], qb[QUOTE_MAX];
	const char *reason;

	if (n == 0)
		return fail(why, whycap, "empty address");
	if (memchr(s, '\0', n) || str_copyn(tmp, sizeof tmp, s, n) < 0)
		return fail(why, whycap, "address '%s' is too long", q(qb, sizeof qb, s, n));
	if (conf_addr_normalize(tmp, out, USERS_ADDR_MAX, &reason) < 0)
		return fail(why, whycap, "'%s' is not a valid address: %s", q(qb, sizeof qb, s, n),
			    reason);
	return 0;
}

static void user_clear(struct user *usr)
{
	for (size_t i = 0; i < usr->n_extra; i++)
		free(usr->extra[i]);
	free(usr->extra);
	explicit_bzero(usr, sizeof *usr);
}

/* Append a normalized extra address; nu->extra has room for it. */
static int extra_add(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	char a[USERS_ADDR_MAX];

	if (addr_norm(s, n, a, why, whycap) < 0)
		return -1;
	nu->extra[nu->n_extra] = strdup(a);
	if (!nu->extra[nu->n_extra])
		return fail(why, whycap, "out of memory");
	nu->n_extra++;
	return 0;
}

static int extra_alloc(struct user *nu, size_t n, char *why, size_t whycap)
{
	if (n > USERS_EXTRA_MAX)
		return fail(why, whycap, "more than %d extra addresses", USERS_EXTRA_MAX);
	nu->extra = n ? calloc(n, sizeof *nu->extra) : NULL;
	if (n && !nu->extra)
		return fail(why, whycap, "out of memory");
	return 0;
}

/* Move *nu to the end of u (nu is then owned by u). */
static int users_append(struct users *u, struct user *nu, char *why, size_t whycap)
{
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 16;
		if (u->n >= USERS_MAX)
			return fail(why, whycap, "more than %d users", USERS_MAX);
		struct user *v = reallocarray(u->v, cap, sizeof *v);
		if (!v)
			return fail(why, whycap, "out of memory");
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = *nu;
	memset(nu, 0, sizeof *nu);
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

/* Comma-separated extra addresses s[0..n) into nu. */
static int extras_parse(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	size_t count = 1;

	trim(&s, &n);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		count += s[i] == ',';
	if (extra_alloc(nu, count, why, whycap) < 0)
		return -1;
	while (n > 0 || count > nu->n_extra) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		const char *a = s;
		size_t alen = len;
		trim(&a, &alen);
		if (extra_add(nu, a, alen, why, whycap) < 0)
			return -1;
		s += comma ? len + 1 : len;
		n -= comma ? len + 1 : len;
	}
	return 0;
}

static int hash_field(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	trim(&s, &n);
	if (n == 0)
		return fail(why, whycap, "user %s: empty password hash (use * for no login)",
			    nu->addr);
	if (str_copyn(nu->hash, sizeof nu->hash, s, n) < 0 || !users_hash_valid(nu->hash))
		return fail(why, whycap,
			    "user %s: unsupported password hash (expected $y$, $2b$, $6$ or *)",
			    nu->addr);
	return 0;
}

/* The flag named s[0..n), or 0 when there is none. */
static unsigned flag_bit(const char *s, size_t n)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strlen(flag_names[i].name) == n && memcmp(flag_names[i].name, s, n) == 0)
			return flag_names[i].bit;
	return 0;
}

/* Comma-separated flag words s[0..n) into nu->flags. */
static int flags_parse(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	char qb[QUOTE_MAX];

	trim(&s, &n);
	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		const char *f = s;
		size_t fn = len;
		trim(&f, &fn);
		unsigned bit = flag_bit(f, fn);
		if (fn == 0)
			return fail(why, whycap, "user %s: empty flag", nu->addr);
		if (!bit)
			return fail(why, whycap, "user %s: unknown flag '%s' (known: any-from)",
				    nu->addr, q(qb, sizeof qb, f, fn));
		if (nu->flags & bit)
			return fail(why, whycap, "user %s: flag %s listed twice", nu->addr,
				    q(qb, sizeof qb, f, fn));
		nu->flags |= bit;
		s += comma ? len + 1 : len;
		n -= comma ? len + 1 : len;
		if (comma && n == 0)
			return fail(why, whycap, "user %s: empty flag", nu->addr);
	}
	return 0;
}

/* The SCRAM field s[0..n): empty, or an RFC 5803 secret for a login user. */
static int scram_field(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	struct scram_secret sec;

	trim(&s, &n);
	if (n == 0)
		return 0;
	int bad =
	    scram_secret_parse(s, n, &sec) < 0 || str_copyn(nu->scram, sizeof nu->scram, s, n) < 0;
	explicit_bzero(&sec, sizeof sec);
	if (bad)
		return fail(why, whycap, "bad SCRAM secret");
	if (strcmp(nu->hash, "*") == 0)
		return fail(why, whycap, "user %s: SCRAM secret for a user without login (HASH *)",
			    nu->addr);
	return 0;
}

/* s[0..n) split at its first 4 ':' into f[0..count), fn[]; returns count. */
static size_t fields_split(const char *s, size_t n, const char *f[5], size_t fn[5])
{
	size_t k = 0;

	f[0] = s;
	while (k < 4) {
		const char *c = memchr(f[k], ':', n - (size_t)(f[k] - s));
		if (!c)
			break;
		fn[k] = (size_t)(c - f[k]);
		f[k + 1] = c + 1;
		k++;
	}
	fn[k] = n - (size_t)(f[k] - s);
	return k + 1;
}

/* Parse one non-comment line "ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]]" into nu. */
static int line_parse(struct user *nu, const char *s, size_t n, char *why, size_t whycap)
{
	const char *f[5];
	size_t fn[5], count = fields_split(s, n, f, fn);

	if (count < 2)
		return fail(why, whycap, "expected " LINE_FORMAT);
	trim(&f[0], &fn[0]);
	if (addr_norm(f[0], fn[0], nu->addr, why, whycap) < 0 ||
	    hash_field(nu, f[1], fn[1], why, whycap) < 0)
		return -1;
	if (count > 2 && extras_parse(nu, f[2], fn[2], why, whycap) < 0)
		return -1;
	if (count > 3 && flags_parse(nu, f[3], fn[3], why, whycap) < 0)
		return -1;
	if (count > 4 && scram_field(nu, f[4], fn[4], why, whycap) < 0)
		return -1;
	return 0;
}

static int ctl_check(const char *s, size_t n, char *why, size_t whycap)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(why, whycap, "control character 0x%02x", c);
	}
	return 0;
}

/* One line of the file: blank, comment or a user appended to u. */
static int parse_one(struct users *u, const char *s, size_t n, int line, char *why, size_t whycap)
{
	struct user nu;

	memset(&nu, 0, sizeof nu);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > USERS_LINE_MAX)
		return fail(why, whycap, "line longer than %d bytes", USERS_LINE_MAX);
	if (ctl_check(s, n, why, whycap) < 0)
		return -1;
	trim(&s, &n);
	if (n == 0 || s[0] == '#')
		return 0;
	nu.line = line;
	if (line_parse(&nu, s, n, why, whycap) < 0 || users_append(u, &nu, why, whycap) < 0) {
		user_clear(&nu);
		return -1;
	}
	return 0;
}

/* ---- duplicate detection ---------------------------------------------- */

struct aref {
	const char *addr;
	size_t user;
};

static int aref_cmp(const void *a, const void *b)
{
	const struct aref *x = a, *y = b;
	int c = strcasecmp(x->addr, y->addr);

	if (c)
		return c;
	return (x->user > y->user) - (x->user < y->user);
}

/* All addresses of u, sorted; NULL when out of memory. */
static struct aref *arefs_build(const struct users *u, size_t *count)
{
	size_t n = u->n;
	struct aref *r;

	for (size_t i = 0; i < u->n; i++)
		n += u->v[i].n_extra;
	r = n ? calloc(n, sizeof *r) : NULL;
	*count = n;
	if (!r)
		return NULL;
	n = 0;
	for (size_t i = 0; i < u->n; i++) {
		r[n++] = (struct aref){u->v[i].addr, i};
		for (size_t j = 0; j < u->v[i].n_extra; j++)
			r[n++] = (struct aref){u->v[i].extra[j], i};
	}
	qsort(r, n, sizeof *r, aref_cmp);
	return r;
}

/* Sorting all addresses makes this O(n log n) rather than O(n^2). */
static int dup_check(const struct users *u, const char *file, char *err, size_t errcap)
{
	size_t n;
	struct aref *r = arefs_build(u, &n);

	if (!r)
		return n ? fail(err, errcap, "%s: out of memory", file) : 0;
	for (size_t i = 1; i < n; i++) {
		if (strcasecmp(r[i - 1].addr, r[i].addr) != 0)
			continue;
		const struct user *a = &u->v[r[i - 1].user], *b = &u->v[r[i].user];
		if (a == b)
			fail(err, errcap, "%s:%d: address %s is listed twice for this user", file,
			     b->line, r[i].addr);
		else
			fail(err, errcap, "%s:%d: address %s already belongs to %s (line %d)", file,
			     b->line, r[i].addr, a->addr, a->line);
		free(r);
		return -1;
	}
	free(r);
	return 0;
}

int users_parse(const char *text, size_t len, const char *file, struct users *out, char *err,
		size_t errcap)
{
	char why[WHY_MAX];
	size_t off = 0;
	int line = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (line == INT32_MAX) {
			fail(err, errcap, "%s: too many lines", file);
			goto bad;
		}
		line++;
		if (parse_one(out, text + off, end - off, line, why, sizeof why) < 0) {
			fail(err, errcap, "%s:%d: %s", file, line, why);
			goto bad;
		}
		off = end + 1;
	}
	if (dup_check(out, file, err, errcap) == 0)
		return 0;
bad:
	users_free(out);
	return -1;
}

int users_load(const char *path, struct users *out, char *err, size_t errcap)
{
	char *buf;
	size_t len;
	int errnum;

	if (conf_read_file(path, USERS_FILE_MAX, &buf, &len, &errnum) < 0) {
		if (errnum == EFBIG)
			return fail(err, errcap, "%s: file is larger than %d MiB", path,
				    USERS_FILE_MAX >> 20);
		if (errnum == EINVAL)
			return fail(err, errcap, "%s: not a regular file", path);
		return fail(err, errcap, "%s: cannot open: %s", path, strerror(errnum));
	}
	int r = users_parse(buf, len, path, out, err, errcap);
	explicit_bzero(buf, len);
	free(buf);
	return r;
}

void users_free(struct users *u)
{
	for (size_t i = 0; i < u->n; i++)
		user_clear(&u->v[i]);
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
}

/* ---- queries and changes ---------------------------------------------- */

static int addr_eq(const char *a, size_t n, const char *b)
{
	return str_eqn_nocase(a, n, b);
}

static struct user *find_mut(const struct users *u, const char *addr, int primary_only)
{
	size_t n = strlen(addr);

	if (n > 0 && addr[n - 1] == '.')
		n--;
	for (size_t i = 0; i < u->n; i++) {
		struct user *usr = &u->v[i];
		if (addr_eq(addr, n, usr->addr))
			return usr;
		for (size_t j = 0; !primary_only && j < usr->n_extra; j++)
			if (addr_eq(addr, n, usr->extra[j]))
				return usr;
	}
	return NULL;
}

const struct user *users_find(const struct users *u, const char *addr)
{
	return find_mut(u, addr, 0);
}

const struct user *users_find_login(const struct users *u, const char *login)
{
	size_t n;

	if (!u || !login)
		return NULL;
	n = strlen(login);
	for (size_t i = 0; i < u->n; i++)
		if (addr_eq(login, n, u->v[i].addr))
			return &u->v[i];
	return NULL;
}

int users_may_send_as(const struct user *usr, const char *addr)
{
	size_t n;

	if (!usr || !addr)
		return 0;
	n = strlen(addr);
	if (n > 0 && addr[n - 1] == '.')
		n--;
	if (addr_eq(addr, n, usr->addr))
		return 1;
	for (size_t j = 0; j < usr->n_extra; j++)
		if (addr_eq(addr, n, usr->extra[j]))
			return 1;
	return 0;
}

int users_scram(const struct user *usr, struct scram_secret *out)
{
	memset(out, 0, sizeof *out);
	if (!usr || usr->hash[0] != '$' || usr->scram[0] == '\0')
		return -1;
	return scram_secret_parse(usr->scram, strlen(usr->scram), out);
}

int users_flags_format(unsigned flags, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0 || (flags & ~USER_F_ALL))
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < N_FLAGS; i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		if (str_fmt(out + o, cap - o, "%s%s", o ? "," : "", flag_names[i].name) < 0)
			return -1;
		o += strlen(out + o);
	}
	return 0;
}

/* Is addr free: owned by nobody in u and not among nu's earlier addresses? */
static int addr_free(const struct users *u, const struct user *nu, const char *addr, char *err,
		     size_t errcap)
{
	const struct user *owner = users_find(u, addr);

	if (owner)
		return fail(err, errcap, "address %s already belongs to %s", addr, owner->addr);
	if (addr != nu->addr && strcasecmp(addr, nu->addr) == 0)
		return fail(err, errcap, "address %s is given twice", addr);
	for (size_t i = 0; i < nu->n_extra && nu->extra[i] != addr; i++)
		if (strcasecmp(addr, nu->extra[i]) == 0)
			return fail(err, errcap, "address %s is given twice", addr);
	return 0;
}

static int user_build(struct user *nu, const char *addr, const char *hash, const char *const *extra,
		      size_t n_extra, char *err, size_t errcap)
{
	if (addr_norm(addr, strlen(addr), nu->addr, err, errcap) < 0)
		return -1;
	if (str_copy(nu->hash, sizeof nu->hash, hash) < 0 || !users_hash_valid(nu->hash))
		return fail(err, errcap, "unsupported password hash");
	if (extra_alloc(nu, n_extra, err, errcap) < 0)
		return -1;
	for (size_t i = 0; i < n_extra; i++)
		if (extra_add(nu, extra[i], strlen(extra[i]), err, errcap) < 0)
			return -1;
	return 0;
}

int users_add(struct users *u, const char *addr, const char *hash, const char *const *extra,
	      size_t n_extra, char *err, size_t errcap)
{
	struct user nu;

	memset(&nu, 0, sizeof nu);
	if (user_build(&nu, addr, hash, extra, n_extra, err, errcap) < 0)
		goto bad;
	if (addr_free(u, &nu, nu.addr, err, errcap) < 0)
		goto bad;
	for (size_t i = 0; i < nu.n_extra; i++)
		if (addr_free(u, &nu, nu.extra[i], err, errcap) < 0)
			goto bad;
	if (users_append(u, &nu, err, errcap) == 0)
		return 0;
bad:
	user_clear(&nu);
	return -1;
}

/* The user whose primary address is addr, or an explanation why not. */
static struct user *find_primary(const struct users *u, const char *addr, char *err, size_t errcap)
{
	struct user *usr = find_mut(u, addr, 1);
	char qb[QUOTE_MAX];

	if (usr)
		return usr;
	q(qb, sizeof qb, addr, strlen(addr));
	usr = find_mut(u, addr, 0);
	if (usr)
		fail(err, errcap, "%s is an extra address of user %s, not a user", qb, usr->addr);
	else
		fail(err, errcap, "no such user: %s", qb);
	return NULL;
}

int users_del(struct users *u, const char *addr, char *err, size_t errcap)
{
	struct user *usr = find_primary(u, addr, err, errcap);

	if (!usr)
		return -1;
	size_t i = (size_t)(usr - u->v);
	user_clear(usr);
	memmove(&u->v[i], &u->v[i + 1], (u->n - i - 1) * sizeof u->v[0]);
	u->n--;
	return 0;
}

int users_set_hash(struct users *u, const char *addr, const char *hash, char *err, size_t errcap)
{
	struct user *usr;

	if (!users_hash_valid(hash))
		return fail(err, errcap, "unsupported password hash");
	usr = find_primary(u, addr, err, errcap);
	if (!usr)
		return -1;
	if (str_copy(usr->hash, sizeof usr->hash, hash) < 0)
		return fail(err, errcap, "password hash too long");
	/* The secret belongs to the old password (or to no login at all). */
	explicit_bzero(usr->scram, sizeof usr->scram);
	return 0;
}

int users_set_scram(struct users *u, const char *addr, const char *scram, char *err, size_t errcap)
{
	struct scram_secret sec;
	struct user *usr = find_primary(u, addr, err, errcap);
	size_t n = strlen(scram);

	if (!usr)
		return -1;
	int bad = n > 0 && scram_secret_parse(scram, n, &sec) < 0;
	explicit_bzero(&sec, sizeof sec);
	if (bad)
		return fail(err, errcap, "bad SCRAM secret");
	if (n > 0 && strcmp(usr->hash, "*") == 0)
		return fail(err, errcap, "user %s cannot log in (no password): no SCRAM secret",
			    usr->addr);
	if (str_copy(usr->scram, sizeof usr->scram, scram) < 0)
		return fail(err, errcap, "bad SCRAM secret");
	return 0;
}

int users_set_flags(struct users *u, const char *addr, unsigned flags, char *err, size_t errcap)
{
	struct user *usr;

	if (flags & ~USER_F_ALL)
		return fail(err, errcap, "unknown flag 0x%x", flags & ~USER_F_ALL);
	usr = find_primary(u, addr, err, errcap);
	if (!usr)
		return -1;
	usr->flags = flags;
	return 0;
}

/* ---- saving ----------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *p = malloc(cap);
		if (!p)
			return -1;
		if (b->p)
			memcpy(p, b->p, b->len);
		if (b->p)
			explicit_bzero(b->p, b->cap); /* it holds hashes */
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static int buf_str(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

/* ADDRESS:HASH[:EXTRAS[:FLAGS[:SCRAM]]], trailing empty fields left out. */
static int user_format(struct buf *b, const struct user *usr)
{
	char flags[USERS_FLAGS_MAX];
	int more = usr->n_extra > 0 || usr->flags || usr->scram[0];

	if (users_flags_format(usr->flags, flags, sizeof flags) < 0)
		return -1;
	if (buf_str(b, usr->addr) < 0 || buf_str(b, ":") < 0 || buf_str(b, usr->hash) < 0 ||
	    (more && buf_str(b, ":") < 0))
		return -1;
	for (size_t i = 0; i < usr->n_extra; i++)
		if ((i > 0 && buf_str(b, ",") < 0) || buf_str(b, usr->extra[i]) < 0)
			return -1;
	if ((usr->flags || usr->scram[0]) && (buf_str(b, ":") < 0 || buf_str(b, flags) < 0))
		return -1;
	if (usr->scram[0] && (buf_str(b, ":") < 0 || buf_str(b, usr->scram) < 0))
		return -1;
	return buf_str(b, "\n");
}

static int users_format(struct buf *b, const struct users *u)
{
	if (buf_str(b, "# sealpost users file: " LINE_FORMAT "\n"
		       "# Written by `sealpost user`; comments added by hand are not kept.\n") < 0)
		return -1;
	for (size_t i = 0; i < u->n; i++)
		if (user_format(b, &u->v[i]) < 0)
			return -1;
	return 0;
}

/* Create tmp exclusively, mode 0640, owner uid:gid, write b, fsync, close. */
static int tmp_write(const char *tmp, const struct buf *b, uid_t uid, gid_t gid, char *err,
		     size_t errcap)
{
	if (unlink(tmp) < 0 && errno != ENOENT)
		return fail(err, errcap, "%s: cannot remove: %s", tmp, strerror(errno));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return fail(err, errcap, "%s: cannot create: %s", tmp, strerror(errno));
	const char *what = NULL;
	if (fchmod(fd, 0640) < 0)
		what = "chmod";
	else if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		what = "chown";
	else if (file_write_all(fd, b->p, b->len) < 0)
		what = "write";
	else if (fsync(fd) < 0)
		what = "fsync";
	int saved = errno;
	if (close(fd) < 0 && !what) {
		what = "close";
		saved = errno;
	}
	if (!what)
		return 0;
	(void)unlink(tmp); /* best effort: the error below is what matters */
	return fail(err, errcap, "%s: %s failed: %s", tmp, what, strerror(saved));
}

/* fsync the directory holding path so the rename is durable. */
static int dir_sync(const char *path, char *err, size_t errcap)
{
	char dir[CONF_PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (str_copyn(dir, sizeof dir, slash ? path : ".", slash ? (size_t)(slash - path) : 1) < 0)
		return fail(err, errcap, "%s: path too long", path);
	if (dir[0] == '\0' && str_copy(dir, sizeof dir, "/") < 0)
		return -1;
	if (file_sync_dir(dir) < 0)
		return fail(err, errcap, "%s: fsync failed: %s", dir, strerror(errno));
	return 0;
}

int users_save_as(const char *path, const struct users *u, uid_t uid, gid_t gid, char *err,
		  size_t errcap)
{
	char tmp[CONF_PATH_MAX + 8];
	struct buf b = {NULL, 0, 0};
	int r = -1;

	if (str_fmt(tmp, sizeof tmp, "%s.tmp", path) < 0)
		return fail(err, errcap, "%s: path too long", path);
	if (users_format(&b, u) < 0)
		fail(err, errcap, "%s: out of memory", path);
	else if (tmp_write(tmp, &b, uid, gid, err, errcap) == 0) {
		if (rename(tmp, path) < 0) {
			fail(err, errcap, "%s: cannot rename to %s: %s", tmp, path,
			     strerror(errno));
			(void)unlink(tmp); /* best effort */
		} else {
			r = dir_sync(path, err, errcap);
		}
	}
	if (b.p)
		explicit_bzero(b.p, b.cap);
	free(b.p);
	return r;
}

int users_save(const char *path, const struct users *u, char *err, size_t errcap)
{
	return users_save_as(path, u, (uid_t)-1, (gid_t)-1, err, errcap);
}

/* ---- passwords -------------------------------------------------------- */

/* crypt_r into out[cap]; 0 when it produced a real hash. */
static int crypt_into(const char *pw, const char *setting, char *out, size_t cap)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	int r = -1;

	if (!cd)
		return -1;
	const char *h = crypt_r(pw, setting, cd);
	if (h && h[0] == '$' && str_copy(out, cap, h) == 0)
		r = 0;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

int users_hash_password(const char *pw, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	if (strnlen(pw, USERS_PW_MAX + 1) > USERS_PW_MAX)
		return -1;
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt))
		return -1;
	if (crypt_into(pw, salt, out, cap) < 0 || !users_hash_valid(out)) {
		explicit_bzero(out, cap);
		return -1;
	}
	return 0;
}

/* Constant-time for equal lengths (the length of a hash is not secret). */
static int ct_streq(const char *a, const char *b)
{
	size_t n = strlen(a);
	volatile unsigned char diff = 0;

	if (n != strlen(b))
		return 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int users_verify_password(const struct user *usr, const char *pw)
{
	char h[USERS_HASH_MAX];
	int real = usr && usr->hash[0] == '$';
	const char *stored = real ? usr->hash : dummy_hash;
	int ok = 0;

	if (strnlen(pw, USERS_PW_MAX + 1) > USERS_PW_MAX)
		return 0;
	if (crypt_into(pw, stored, h, sizeof h) == 0)
		ok = ct_streq(h, stored);
	explicit_bzero(h, sizeof h);
	return real && ok;
}
