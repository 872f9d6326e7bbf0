/*
 * conf: the sealpost.conf grammar, parsed into a plain struct.
 *
 * Security role: the config is trusted (root writes it), but every error is
 * still reported as "file:line: reason" and nothing is truncated silently.
 * conf_parse() is pure (no I/O) and has a fuzz target; conf_load() reads the
 * file and calls it.
 */
#ifndef SEALPOST_CONF_H
#define SEALPOST_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CONF_VERSION        1
#define CONF_PATH_MAX       1024
#define CONF_NAME_MAX       256
#define CONF_MAX_LISTEN     16
#define CONF_MAX_DOMAINS    64
#define CONF_MAX_ERRORS     32
#define CONF_ERR_MAX        512
#define CONF_DEFAULT_PATH   "/etc/sealpost/sealpost.conf"
#define CONF_DEFAULT_USER   "_sealpost"
#define CONF_DEFAULT_QUSER  "_sealpostq"
#define CONF_DEFAULT_MAXMSG (25u * 1024 * 1024)
#define CONF_DEFAULT_MAXRCPT 100

enum listen_kind {
	LISTEN_SMTP = 0,    /* port 25: MX, STARTTLS optional (TLS issue) */
	LISTEN_SUBMISSION,  /* port 587 */
	LISTEN_SUBMISSIONS, /* port 465, implicit TLS */
};

struct conf_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[CONF_NAME_MAX]; /* as written, e.g. "127.0.0.1:2525" */
	enum listen_kind kind;
	int line;
};

struct conf_domain {
	char name[CONF_NAME_MAX];     /* lowercased, no trailing dot */
	char maildir[CONF_PATH_MAX];  /* pattern with %d (domain) and %u (local part) */
	int line;
};

struct conf {
	char path[CONF_PATH_MAX];       /* the file this came from */
	char hostname[CONF_NAME_MAX];   /* required */
	char spool[CONF_PATH_MAX];      /* required, absolute */
	char user[CONF_NAME_MAX];       /* worker user, default _sealpost */
	char queue_user[CONF_NAME_MAX]; /* spool + mailbox owner, default _sealpostq */
	char users_file[CONF_PATH_MAX]; /* required, absolute */
	char socket_path[CONF_PATH_MAX];/* local injection socket; default <spool>/../run? see docs */
	char postmaster[CONF_NAME_MAX]; /* address that postmaster@/abuse@ go to; "" = own mailbox */
	char resolver[CONF_NAME_MAX];   /* "" = /etc/resolv.conf */
	uint64_t max_message_size;      /* bytes, SIZE */
	unsigned max_rcpt;              /* recipients per message */
	unsigned workers;               /* SMTP worker processes; 0 = one per core */
	struct conf_listen listen[CONF_MAX_LISTEN];
	size_t n_listen;
	struct conf_domain domains[CONF_MAX_DOMAINS];
	size_t n_domains;
};

struct conf_errors {
	char msg[CONF_MAX_ERRORS][CONF_ERR_MAX]; /* "file:line: reason" */
	size_t n;
	size_t dropped; /* errors beyond CONF_MAX_ERRORS */
};

/* Parse text[0..len) named filename. Returns 0 when errs->n == 0. */
int conf_parse(const char *text, size_t len, const char *filename, struct conf *out,
	       struct conf_errors *errs);

/* Read and parse path. Returns 0 on success; on failure errs holds why. */
int conf_load(const char *path, struct conf *out, struct conf_errors *errs);

/* Print every error of errs to stderr, one per line. */
void conf_errors_print(const struct conf_errors *errs);

/* The domain entry for name (case-insensitive, trailing dot ignored), or NULL. */
const struct conf_domain *conf_find_domain(const struct conf *c, const char *name, size_t len);

#endif
