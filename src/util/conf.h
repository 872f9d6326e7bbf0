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

#define CONF_VERSION	     1
#define CONF_PATH_MAX	     1024
#define CONF_NAME_MAX	     256
#define CONF_MAX_LISTEN	     16
#define CONF_MAX_TLS	     8	/* certificate/key pairs */
#define CONF_MAX_NETS	     16 /* trusted-networks entries */
#define CONF_MAX_DOMAINS     64
#define CONF_MAX_ERRORS	     32
#define CONF_ERR_MAX	     512
#define CONF_DEFAULT_PATH    "/etc/sealpost/sealpost.conf"
#define CONF_DEFAULT_USER    "_sealpost"
#define CONF_DEFAULT_QUSER   "_sealpostq"
#define CONF_DEFAULT_MAXMSG  (25u * 1024 * 1024)
#define CONF_DEFAULT_MAXRCPT 100
#define CONF_DEFAULT_SOCKET  "/run/sealpost/sealpost.sock"
#define CONF_MIN_MAXMSG	     1024u
#define CONF_MAX_MAXMSG	     (2048u * 1024 * 1024)
#define CONF_MIN_MAXRCPT     100 /* RFC 5321 section 4.5.3.1.8 */
#define CONF_MAX_MAXRCPT     1000
#define CONF_MAX_WORKERS     64
#define CONF_FILE_MAX	     (1024 * 1024) /* conf_load refuses larger files */
#define CONF_MAX_ARGS	     8		   /* tokens per line, directive included */
#define CONF_ADDR_MAX	     255	   /* "local@domain" text + NUL (RFC 5321 path - <>) */

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
	char name[CONF_NAME_MAX];    /* lowercased, no trailing dot */
	char maildir[CONF_PATH_MAX]; /* pattern with %d (domain) and %u (local part) */
	int line;
};

struct conf_tls {
	char cert[CONF_PATH_MAX]; /* PEM: certificate, then its chain */
	char key[CONF_PATH_MAX];  /* PEM private key (RSA, ECDSA or Ed25519) */
	int line;
};

/* SMTP AUTH brute-force limits (lookup_guard.c). */
struct conf_auth_limits {
	unsigned delay_after; /* failures before answers slow down (default 3) */
	unsigned lock_after;  /* failures from one address before a lockout (default 10) */
	unsigned window;      /* seconds a failure is remembered (default 900) */
	unsigned lock_time;   /* seconds a lockout lasts (default 900) */
};

/* A rate: at most count events per period seconds (count 0 = no limit). */
struct conf_rate {
	unsigned count;
	unsigned period; /* seconds, >= 1 */
};

#define CONF_MAX_DNSBL	     16
#define CONF_DNSBL_MATCH_MAX 8	/* answers a list entry is restricted to */
#define CONF_LIMIT_NET_V4    24 /* "per network": the client's /24 ... */
#define CONF_LIMIT_NET_V6    64 /* ... or /64 */

/* dnsbl ZONE[=A.B.C.D[,A.B.C.D...]] [WEIGHT]: one DNS block or allow list. */
struct conf_dnsbl {
	char zone[CONF_NAME_MAX];	      /* lowercased, no trailing dot */
	uint32_t match[CONF_DNSBL_MATCH_MAX]; /* host order; none = any 127.0.0.0/8 */
	size_t n_match;
	int weight; /* added to the client's score when listed; negative = allow list */
	int line;
};

/*
 * Abuse limits (`limits { ... }` block or one-line `limits KEY VALUE`).
 * Every one is on by default; docs/config.md gives the defaults and why.
 * Trusted networks and the local socket are exempt from the per-client ones.
 */
struct conf_limits {
	unsigned max_conn;	    /* concurrent connections, whole server */
	unsigned max_conn_ip;	    /* concurrent connections per client address */
	unsigned max_conn_net;	    /* ... per client /24 (IPv4) or /64 (IPv6) */
	struct conf_rate conn_rate; /* new connections per client address */
	unsigned msgs_per_session;  /* messages in one connection */
	struct conf_rate rcpt_rate; /* accepted recipients per client address (unauthenticated) */
	struct conf_rate user_msg_rate;	 /* messages per authenticated user */
	struct conf_rate user_rcpt_rate; /* recipients per authenticated user */
	unsigned max_errors;		 /* refused commands before disconnect */
	unsigned tarpit_after;		 /* refused commands before each reply is delayed */
	unsigned tarpit_max;		 /* seconds: the longest delay of one reply */
	unsigned cmd_timeout;	    /* seconds for one command line to arrive (5321 4.5.3.2.7) */
	unsigned data_timeout;	    /* seconds between two reads in DATA/BDAT (4.5.3.2.6) */
	unsigned session_timeout;   /* seconds a whole connection may last */
	unsigned min_data_rate;	    /* octets/second averaged over DATA/BDAT; 0 = off */
	unsigned data_rate_grace;   /* seconds of DATA before min_data_rate is enforced */
	size_t session_memory;	    /* octets of buffered input/output per connection */
	int pregreet;		    /* early-talker test on smtp listeners */
	unsigned pregreet_wait_ms;  /* banner delay for clients not seen recently */
	unsigned pregreet_remember; /* seconds a client that passed is remembered */
	int pipelining_check;	    /* smtp listeners: drop improper pipelining */
	char store[CONF_NAME_MAX];  /* "" = in-process counters, or redis://HOST:PORT */
	char store_host[CONF_NAME_MAX]; /* parsed from store */
	unsigned store_port;
	unsigned store_sync_ms;	 /* how often counter updates are sent in a batch */
	int dnsbl_threshold;	 /* score at which a client is refused */
	unsigned dns_timeout_ms; /* longest wait for DNSBL answers at connect */
	struct conf_dnsbl dnsbl[CONF_MAX_DNSBL];
	size_t n_dnsbl;
};

#define CONF_MAX_DEST 64

/* Outbound TLS for a destination: `destination DOMAIN tls MODE`. */
enum conf_tls_out {
	TLSOUT_MAY = 0, /* default: STARTTLS when offered (DANE / MTA-STS may require more) */
	TLSOUT_NONE,	/* never (a broken peer); DANE and MTA-STS still win */
	TLSOUT_REQUIRE, /* TLS or defer; any certificate */
	TLSOUT_VERIFY,	/* TLS with a PKIX-valid certificate for the MX name, or defer */
};

struct conf_dest {
	char domain[CONF_NAME_MAX]; /* lowercased, no trailing dot */
	enum conf_tls_out tls;
	int line;
};

/* Outbound delivery (the remote process; docs/config.md "Outbound"). */
struct conf_outbound {
	unsigned lifetime;		  /* queue-lifetime: seconds before a bounce (5 days) */
	unsigned delay_warning;		  /* delay-warning: seconds before a delay notice; 0 off */
	unsigned max_conn;		  /* outbound-connections: all destinations together */
	unsigned max_conn_dest;		  /* outbound-connections-per-domain */
	unsigned port;			  /* outbound-port: MX hosts' SMTP port (25; labs/tests) */
	char ca_file[CONF_PATH_MAX];	  /* outbound-ca-file: PKIX roots for verify/MTA-STS */
	char trust_anchor[CONF_PATH_MAX]; /* dnssec-trust-anchor: DNSSEC root key (DANE) */
	int mta_sts;			  /* mta-sts on|off (on) */
	/* relay via smtp://HOST:PORT | smtps://HOST:PORT [auth FILE]: a smarthost */
	char relay[CONF_NAME_MAX];
	char relay_host[CONF_NAME_MAX];
	unsigned relay_port;
	int relay_implicit_tls;		/* smtps:// */
	char relay_auth[CONF_PATH_MAX]; /* file with "LOGIN PASSWORD" */
	struct conf_dest dest[CONF_MAX_DEST];
	size_t n_dest;
};

#define CONF_MAX_DKIM_SIGN 8

/* dkim sign DOMAIN selector S key FILE: sign outbound mail From: DOMAIN. */
struct conf_dkim_sign {
	char domain[CONF_NAME_MAX]; /* lowercased, no trailing dot */
	char selector[64];
	char key[CONF_PATH_MAX]; /* PEM private key (RSA >= 2048 bits or Ed25519) */
	int line;
};

enum conf_dmarc_mode {
	DMARC_MODE_ENFORCE = 0, /* default: p=reject -> 550, p=quarantine -> Junk */
	DMARC_MODE_QUARANTINE,	/* p=reject and p=quarantine -> Junk */
	DMARC_MODE_MARK,	/* deliver; the verdict is only in Authentication-Results */
};

/* Sender authentication (SPF, DKIM, DMARC; docs/config.md "Sender authentication"). */
struct conf_mailauth {
	int checks;			 /* inbound-checks on|off (on) */
	char authserv_id[CONF_NAME_MAX]; /* authserv-id; "" = hostname */
	int spf_fail_reject;		 /* spf-fail reject|dmarc (dmarc) */
	enum conf_dmarc_mode dmarc;	 /* dmarc-policy enforce|quarantine|mark */
	char psl[CONF_PATH_MAX];	 /* public-suffix-list FILE */
	int psl_line;			 /* its line, 0 = the default */
	struct conf_dkim_sign sign[CONF_MAX_DKIM_SIGN];
	size_t n_sign;
};

/* One trusted-networks entry: an address and a prefix length. */
struct conf_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

struct conf {
	char path[CONF_PATH_MAX];	 /* the file this came from */
	char hostname[CONF_NAME_MAX];	 /* required */
	char spool[CONF_PATH_MAX];	 /* required, absolute */
	char user[CONF_NAME_MAX];	 /* worker user, default _sealpost */
	char queue_user[CONF_NAME_MAX];	 /* spool + mailbox owner, default _sealpostq */
	char users_file[CONF_PATH_MAX];	 /* required, absolute */
	char socket_path[CONF_PATH_MAX]; /* local injection socket; default CONF_DEFAULT_SOCKET */
	char postmaster[CONF_NAME_MAX];	 /* gets postmaster@/abuse@; "" = own mailbox */
	char resolver[CONF_NAME_MAX];	 /* as written; "" = /etc/resolv.conf */
	struct sockaddr_storage resolver_addr; /* parsed resolver, port filled (default 53) */
	socklen_t resolver_addr_len;	       /* 0 when resolver is "" */
	uint64_t max_message_size;	       /* bytes, SIZE */
	unsigned max_rcpt;		       /* recipients per message */
	unsigned workers;		       /* SMTP worker processes; 0 = one per core */
	struct conf_listen listen[CONF_MAX_LISTEN];
	size_t n_listen;
	struct conf_domain domains[CONF_MAX_DOMAINS];
	size_t n_domains;
	struct conf_tls tls[CONF_MAX_TLS]; /* the first is the default; others by SNI */
	size_t n_tls;
	struct conf_auth_limits auth;
	struct conf_net trusted[CONF_MAX_NETS]; /* may relay without AUTH; empty by default */
	size_t n_trusted;
	int received_auth_user; /* name the authenticated user in Received: (default no) */
	struct conf_limits limits;
	struct conf_outbound out;
	struct conf_mailauth mailauth;
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

/* 1 if the client address (AF_INET/AF_INET6 bytes) is in a trusted network. */
int conf_trusted(const struct conf *c, int family, const void *addr);

/* The domain entry for name (case-insensitive, trailing dot ignored), or NULL. */
const struct conf_domain *conf_find_domain(const struct conf *c, const char *name, size_t len);

/* ---- helpers shared with the users file and the CLI ------------------- */

/* Zero c and fill in every default (what conf_parse starts from). */
void conf_defaults(struct conf *c);

/* The defaults of the outbound directives (conf_remote.c). */
void conf_outbound_defaults(struct conf_outbound *o);

/* The defaults of the sender-authentication directives (conf_auth.c). */
void conf_mailauth_defaults(struct conf_mailauth *a);

/* The authserv-id to write and recognise: authserv-id, else hostname. */
const char *conf_authserv_id(const struct conf *c);

/* The defaults of the limits block (conf_limits.c). */
void conf_limits_defaults(struct conf_limits *l);

/* "smtp", "submission" or "submissions". */
const char *conf_listen_kind_name(enum listen_kind k);

/*
 * Is s[0..n) a valid DNS hostname (LDH labels of 1-63 octets, 253 octets in
 * all, no all-numeric last label)? A single trailing dot is allowed. Returns
 * 0, or -1 with a static reason in *why.
 */
int conf_hostname_check(const char *s, size_t n, const char **why);

/*
 * Validate a mailbox address "local@domain" as used in sealpost's own files
 * (postmaster, users file, `sealpost user`). The local part is deliberately
 * narrower than RFC 5321 because it names a directory: letters, digits and
 * ". _ - + =", 1-64 octets, no leading/trailing/double dot. The domain must
 * pass conf_hostname_check. Writes the normalized form (domain lowercased,
 * trailing dot removed, local part as given) to out[cap]; returns 0, or -1
 * with a static reason in *why.
 */
int conf_addr_normalize(const char *in, char *out, size_t cap, const char **why);

/*
 * Write tok to out[cap] so that the conf tokenizer reads it back as one
 * token: as is when that is safe, else double-quoted with \" and \\
 * escapes. Returns 0, or -1 when it does not fit or tok holds a control
 * character (which the grammar cannot express).
 */
int conf_quote(const char *tok, char *out, size_t cap);

/*
 * Read the whole regular file path (at most max bytes) into a malloc'd,
 * NUL-terminated buffer. Returns 0, or -1 with *errnum set: an errno value
 * from open/read, EFBIG when larger than max, EINVAL when not a regular
 * file. The caller frees *buf (and wipes it first when it is secret).
 */
int conf_read_file(const char *path, size_t max, char **buf, size_t *len, int *errnum);

#endif
