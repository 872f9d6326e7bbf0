/*
 * user: `sealpost user [-c FILE] add|del|passwd|set|list ...` manages the
 * users file named by the config.
 *
 * Security role: passwords are read from the terminal without echo (or
 * one line from a non-terminal stdin), never from argv; each one becomes
 * a yescrypt hash and a SCRAM-SHA-256 secret and is wiped right after, as
 * are the hash and the secret once stored. The users file is replaced
 * atomically under a directory lock, stays mode 0640, and when run as
 * root is owned root:<queue-user's group> so only the lookup process can
 * read it. `list` never prints hashes or secrets.
 */
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "lookup/scram.h"
#include "lookup/users.h"
#include "util/conf.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static const char user_usage[] =
    "usage: sealpost user [-c FILE] add NAME [--address ADDR ...] [--any-from]\n"
    "                                        [--no-password]\n"
    "       sealpost user [-c FILE] del NAME\n"
    "       sealpost user [-c FILE] passwd NAME\n"
    "       sealpost user [-c FILE] set NAME --any-from on|off\n"
    "       sealpost user [-c FILE] list\n"
    "\n"
    "Manage the users file named by the configuration. NAME is the login and\n"
    "mailbox address; without '@' it gets the first configured domain.\n"
    "The password is read from the terminal (twice, without echo) or, when\n"
    "stdin is not a terminal, as one line from stdin. Never from arguments.\n"
    "It is stored as a yescrypt hash and a SCRAM-SHA-256 secret.\n"
    "`list` prints ADDRESS, extra addresses and flags (- when none); besides\n"
    "any-from, no-login marks a receive-only user and no-scram a user whose\n"
    "password predates SCRAM (set it again with passwd). Never hashes.\n"
    "\n"
    "  -c, --config FILE  configuration file (default " CONF_DEFAULT_PATH ")\n"
    "  --address ADDR     (add) a further address delivering to this mailbox\n"
    "                     that the user may also send as; may be repeated\n"
    "  --any-from         (add) the user may put any address in From: (for\n"
    "                     list servers); with set: on or off\n"
    "  --no-password      (add) receive-only user: no login\n"
    "  -h, --help         show this help\n";

struct user_args {
	const char *config;
	const char *action;
	const char *name;
	const char *extra[USERS_EXTRA_MAX];
	size_t n_extra;
	int no_password;
	int any_from;	   /* --any-from given */
	const char *value; /* set: on|off */
};

/* ---- password input --------------------------------------------------- */

static struct termios saved_tio;

static void restore_tty(int sig)
{
	(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio); /* best effort, signal-safe */
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/* One line from fd 0, byte by byte so nothing past it is consumed. */
static int read_line(char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	char ch;

	for (;;) {
		ssize_t r = read(STDIN_FILENO, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= cap)
			return -2;
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Prompt on stderr and read one line with echo off. */
static int read_noecho(const char *prompt, char *buf, size_t cap, size_t *len)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old[4];
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = restore_tty;
	for (int i = 0; i < 4; i++)
		if (sigaction(sigs[i], &sa, &old[i]) < 0)
			return -1;
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)ECHO;
	tio.c_lflag |= ECHONL;
	int r = -1;
	if (fputs(prompt, stderr) != EOF && fflush(stderr) != EOF &&
	    tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0) {
		r = read_line(buf, cap, len);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio) < 0)
			r = -1;
	}
	for (int i = 0; i < 4; i++)
		if (sigaction(sigs[i], &old[i], NULL) < 0)
			r = -1;
	return r;
}

/* The new password into pw[cap]: twice from a terminal, once otherwise. */
static int read_password(char *pw, size_t cap)
{
	char again[USERS_PW_MAX + 2];
	size_t n = 0, n2 = 0;
	int tty = isatty(STDIN_FILENO), r;

	r = tty ? read_noecho("New password: ", pw, cap, &n) : read_line(pw, cap, &n);
	if (r == 0 && tty)
		r = read_noecho("Repeat password: ", again, sizeof again, &n2);
	if (r == -2)
		cli_err("user: password longer than %d bytes", USERS_PW_MAX);
	else if (r < 0)
		cli_err("user: cannot read the password: %s", strerror(errno));
	else if (n == 0)
		cli_err("user: empty password (use --no-password for a receive-only user)");
	else if (memchr(pw, '\0', n))
		cli_err("user: the password contains a NUL byte"); /* would cut it short */
	else if (tty && (n != n2 || memcmp(pw, again, n) != 0))
		cli_err("user: passwords do not match");
	else
		r = 1;
	explicit_bzero(again, sizeof again);
	return r == 1 ? 0 : -1;
}

/* The SCRAM-SHA-256 secret of pw as RFC 5803 text into out[cap]. */
static int scram_text(const char *pw, char *out, size_t cap)
{
	struct scram_secret sec;
	int r = scram_secret_make(pw, strlen(pw), 0, &sec);

	if (r < 0)
		cli_err("user: the password cannot be used for SCRAM-SHA-256 (control "
			"characters or invalid UTF-8?)");
	else if ((r = scram_secret_format(&sec, out, cap)) < 0)
		cli_err("user: cannot format the SCRAM secret");
	explicit_bzero(&sec, sizeof sec);
	return r;
}

/*
 * Read a password; its yescrypt hash into hash[hcap] and its SCRAM secret
 * into scram[scap]. The password is wiped; so are both outputs on failure.
 */
static int new_secrets(char *hash, size_t hcap, char *scram, size_t scap)
{
	char pw[USERS_PW_MAX + 2];
	int r = read_password(pw, sizeof pw);

	if (r == 0 && users_hash_password(pw, hash, hcap) < 0) {
		cli_err("user: cannot hash the password (libcrypt failed)");
		r = -1;
	}
	if (r == 0)
		r = scram_text(pw, scram, scap);
	explicit_bzero(pw, sizeof pw);
	if (r < 0) {
		explicit_bzero(hash, hcap);
		explicit_bzero(scram, scap);
	}
	return r;
}

/* ---- the users file --------------------------------------------------- */

/* Lock the directory holding the users file against a concurrent update. */
static int lock_dir(const char *path)
{
	char dir[CONF_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	if (str_copyn(dir, sizeof dir, slash ? path : ".", slash ? n : 1) < 0) {
		cli_err("user: %s: path too long", path);
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		cli_err("user: cannot lock %s: %s", dir, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	return fd;
}

/* Load the users file; a missing file is an empty set when allow_missing. */
static int load_users(const struct conf *c, struct users *u, int allow_missing)
{
	char err[USERS_ERR_MAX];
	struct stat st;

	if (allow_missing && stat(c->users_file, &st) < 0 && errno == ENOENT)
		return 0;
	if (users_load(c->users_file, u, err, sizeof err) < 0) {
		cli_err("%s", err);
		return -1;
	}
	return 0;
}

/* Save; as root, owner root:<queue-user's group> when that user exists. */
static int save_users(const struct conf *c, const struct users *u)
{
	char err[USERS_ERR_MAX];
	gid_t gid = (gid_t)-1;
	uid_t uid = (uid_t)-1;

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam(c->queue_user);
		if (pw) {
			uid = 0;
			gid = pw->pw_gid;
		}
	}
	if (users_save_as(c->users_file, u, uid, gid, err, sizeof err) < 0) {
		cli_err("user: %s", err);
		return -1;
	}
	return 0;
}

/* ---- subcommands ------------------------------------------------------ */

/* NAME, qualified with the first domain, validated, domain configured. */
static int qualify(const struct conf *c, const char *name, char *out, size_t cap)
{
	char full[USERS_ADDR_MAX + 1];
	const char *why;

	if (strchr(name, '@') ? str_copy(full, sizeof full, name) < 0
			      : str_fmt(full, sizeof full, "%s@%s", name, c->domains[0].name) < 0) {
		cli_err("user: name too long");
		return -1;
	}
	if (conf_addr_normalize(full, out, cap, &why) < 0) {
		cli_err("user: '%s' is not a valid address: %s", full, why);
		return -1;
	}
	const char *dom = strrchr(out, '@') + 1;
	if (!conf_find_domain(c, dom, strlen(dom))) {
		cli_err("user: domain %s is not configured in %s", dom, c->path);
		return -1;
	}
	return 0;
}

/* users_add + users_set_scram + users_set_flags; the message in err. */
static int add_user(struct users *u, const struct user_args *a, const char *name, const char *hash,
		    const char *scram, char *err, size_t errcap)
{
	if (users_add(u, name, hash, a->extra, a->n_extra, err, errcap) < 0)
		return -1;
	if (users_set_scram(u, name, scram, err, errcap) < 0 ||
	    users_set_flags(u, name, a->any_from ? USER_F_ANY_FROM : 0, err, errcap) < 0)
		return -1; /* nothing is saved */
	return 0;
}

static int do_add(const struct conf *c, struct users *u, const struct user_args *a,
		  const char *name)
{
	char hash[USERS_HASH_MAX], scram[USERS_SCRAM_MAX], err[USERS_ERR_MAX];

	if (a->no_password) {
		if (str_copy(hash, sizeof hash, "*") < 0 || str_copy(scram, sizeof scram, "") < 0)
			return -1;
	} else if (new_secrets(hash, sizeof hash, scram, sizeof scram) < 0) {
		return -1;
	}
	int r = add_user(u, a, name, hash, scram, err, sizeof err);
	explicit_bzero(hash, sizeof hash);
	explicit_bzero(scram, sizeof scram);
	if (r < 0) {
		cli_err("user: %s", err);
		return -1;
	}
	if (save_users(c, u) < 0)
		return -1;
	return printf("added %s%s%s\n", name, a->no_password ? " (receive-only, no login)" : "",
		      a->any_from ? " (any-from)" : "") < 0
		   ? -1
		   : 0;
}

static int do_del(const struct conf *c, struct users *u, const char *name)
{
	char err[USERS_ERR_MAX];

	if (users_del(u, name, err, sizeof err) < 0) {
		cli_err("user: %s", err);
		return -1;
	}
	if (save_users(c, u) < 0)
		return -1;
	return printf("deleted %s\n", name) < 0 ? -1 : 0;
}

static int do_passwd(const struct conf *c, struct users *u, const char *name)
{
	char hash[USERS_HASH_MAX], scram[USERS_SCRAM_MAX], err[USERS_ERR_MAX];

	if (!users_find(u, name)) {
		cli_err("user: no such user: %s", name);
		return -1;
	}
	if (new_secrets(hash, sizeof hash, scram, sizeof scram) < 0)
		return -1;
	/* the hash first: it drops the old secret, and "*" refuses a new one */
	int r = users_set_hash(u, name, hash, err, sizeof err);
	if (r == 0)
		r = users_set_scram(u, name, scram, err, sizeof err);
	explicit_bzero(hash, sizeof hash);
	explicit_bzero(scram, sizeof scram);
	if (r < 0) {
		cli_err("user: %s", err);
		return -1;
	}
	if (save_users(c, u) < 0)
		return -1;
	return printf("password changed for %s\n", name) < 0 ? -1 : 0;
}

static int do_set(const struct conf *c, struct users *u, const struct user_args *a,
		  const char *name)
{
	char err[USERS_ERR_MAX];
	const struct user *usr = users_find_login(u, name);
	int on = strcmp(a->value, "on") == 0;
	unsigned old = usr ? usr->flags : 0; /* no user: users_set_flags says why */
	unsigned flags = on ? old | USER_F_ANY_FROM : old & ~USER_F_ANY_FROM;

	if (users_set_flags(u, name, flags, err, sizeof err) < 0) {
		cli_err("user: %s", err);
		return -1;
	}
	if (save_users(c, u) < 0)
		return -1;
	return printf("any-from %s for %s\n", on ? "on" : "off", name) < 0 ? -1 : 0;
}

/* The FLAGS column: the user's flags, then no-login or no-scram; "-" for none. */
static int list_flags(const struct user *usr, char *out, size_t cap)
{
	char f[USERS_FLAGS_MAX];
	const char *note = strcmp(usr->hash, "*") == 0 ? "no-login"
			   : usr->scram[0] == '\0'     ? "no-scram"
						       : "";

	if (users_flags_format(usr->flags, f, sizeof f) < 0)
		return -1;
	return str_fmt(out, cap, "%s%s%s", f, f[0] && note[0] ? "," : "",
		       f[0] || note[0] ? note : "-");
}

/* One line per user: ADDRESS TAB EXTRAS TAB FLAGS ("-" for empty columns). */
static int do_list(const struct users *u)
{
	char flags[USERS_FLAGS_MAX + 32];

	for (size_t i = 0; i < u->n; i++) {
		const struct user *usr = &u->v[i];
		if (list_flags(usr, flags, sizeof flags) < 0 || fputs(usr->addr, stdout) == EOF ||
		    fputs(usr->n_extra ? "\t" : "\t-", stdout) == EOF)
			return -1;
		for (size_t j = 0; j < usr->n_extra; j++)
			if (printf("%s%s", j == 0 ? "" : ",", usr->extra[j]) < 0)
				return -1;
		if (printf("\t%s\n", flags) < 0)
			return -1;
	}
	return fflush(stdout) == EOF ? -1 : 0;
}

/* Runs a modifying action under the directory lock. */
static int modify(const struct conf *c, const struct user_args *a)
{
	struct users u = USERS_INIT;
	char name[USERS_ADDR_MAX];
	int r = -1;

	if (qualify(c, a->name, name, sizeof name) < 0)
		return -1;
	int lock = lock_dir(c->users_file);
	if (lock < 0)
		return -1;
	if (load_users(c, &u, strcmp(a->action, "add") == 0) == 0) {
		if (strcmp(a->action, "add") == 0)
			r = do_add(c, &u, a, name);
		else if (strcmp(a->action, "del") == 0)
			r = do_del(c, &u, name);
		else if (strcmp(a->action, "set") == 0)
			r = do_set(c, &u, a, name);
		else
			r = do_passwd(c, &u, name);
	}
	users_free(&u);
	(void)close(lock); /* releases the lock; nothing was written through it */
	return r;
}

/* ---- arguments -------------------------------------------------------- */

static int take_arg(struct user_args *a, const char *arg)
{
	if (!a->action)
		a->action = arg;
	else if (!a->name)
		a->name = arg;
	else if (!a->value)
		a->value = arg;
	else {
		cli_err("user: unexpected argument '%s' (see --help)", arg);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct user_args *a)
{
	static const struct cli_opt opts[] = {{"config", 'c', 1},
					      {"address", 0, 1},
					      {"no-password", 0, 0},
					      {"help", 'h', 0},
					      {"any-from", 0, 0}};
	struct cli_parser p;
	int o;

	memset(a, 0, sizeof *a);
	a->config = CONF_DEFAULT_PATH;
	cli_parser_init(&p, argc, argv);
	while ((o = cli_next(&p, opts, 5)) != CLI_END) {
		if (o == CLI_BAD || (o == CLI_ARG && take_arg(a, p.arg) < 0))
			return 2;
		if (o == 0)
			a->config = p.arg;
		else if (o == 1 && a->n_extra >= USERS_EXTRA_MAX) {
			cli_err("user: more than %d --address options", USERS_EXTRA_MAX);
			return 2;
		} else if (o == 1)
			a->extra[a->n_extra++] = p.arg;
		else if (o == 2)
			a->no_password = 1;
		else if (o == 3)
			return fputs(user_usage, stdout) == EOF ? 1 : 0;
		else if (o == 4)
			a->any_from = 1;
	}
	return -1;
}

/* Checks the action and the arguments it needs; 0, or 2 for a usage error. */
static int check_action(const struct user_args *a)
{
	static const char *const actions[] = {"add", "del", "passwd", "list", "set"};
	enum { ADD, DEL, PASSWD, LIST, SET, N_ACTIONS };
	size_t i = 0;

	while (a->action && i < N_ACTIONS && strcmp(a->action, actions[i]) != 0)
		i++;
	if (!a->action || i == N_ACTIONS)
		cli_err("user: expected add, del, passwd, set or list (see --help)");
	else if (i != LIST && !a->name)
		cli_err("user %s: missing NAME (see --help)", a->action);
	else if (a->value && i != SET)
		cli_err("user %s: unexpected argument '%s'", a->action, a->value);
	else if (i == LIST && a->name)
		cli_err("user list: unexpected argument '%s'", a->name);
	else if (i != ADD && (a->n_extra || a->no_password))
		cli_err("user %s: --address and --no-password only go with add", a->action);
	else if (i != ADD && i != SET && a->any_from)
		cli_err("user %s: --any-from only goes with add and set", a->action);
	else if (i == SET && (!a->any_from || !a->value ||
			      (strcmp(a->value, "on") != 0 && strcmp(a->value, "off") != 0)))
		cli_err("user set: expected NAME --any-from on|off (see --help)");
	else
		return 0;
	return 2;
}

int cli_user(int argc, char **argv)
{
	struct user_args a;
	struct users u = USERS_INIT;
	int r = parse_args(argc, argv, &a);

	if (r >= 0)
		return r;
	if (check_action(&a) != 0)
		return 2;
	struct conf *c = cli_conf_load(a.config);
	if (!c)
		return 1;
	if (strcmp(a.action, "list") != 0)
		r = modify(c, &a);
	else if ((r = load_users(c, &u, 0)) == 0)
		r = do_list(&u);
	users_free(&u);
	cli_conf_free(c);
	return r == 0 ? 0 : 1;
}
