/*
 * lookup_auth: the credential side of SMTP AUTH and of "send only as
 * yourself", in the lookup process (the only one that holds the users
 * file). The SMTP worker relays each SASL response as base64 text; this
 * file decodes it, runs PLAIN, LOGIN or SCRAM-SHA-256, and answers with the
 * next challenge or the verdict. Failures are counted (lookup_guard) and
 * logged in a line fail2ban can match:
 *   warning: unknown[ADDR]: SASL MECH authentication failed: user=<LOGIN>
 * A wrong user and a wrong password cost the same: an unknown login is
 * checked against a dummy hash (users_verify_password) or a fake SCRAM
 * secret (scram_server_first).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lookup/lookup_int.h"
#include "lookup/lookup_guard.h"
#include "lookup/scram.h"
#include "util/log.h"
#include "util/str.h"

#define LAUTH_MAX      4096 /* exchanges in progress, all workers together */
#define LAUTH_DATA_MAX 4096 /* one decoded SASL response */

enum lauth_mech { LM_PLAIN, LM_LOGIN, LM_SCRAM };

struct lauth {
	struct lauth *next;
	struct ipc_chan *ch;
	uint64_t req;
	enum lauth_mech mech;
	int step;
	char ip[64];
	char login[SMTP_ADDR_MAX];
	struct scram_state *scram;
};

static struct lauth *lauth_list;
static size_t lauth_n;
static unsigned char fake_key[SCRAM_KEY_LEN];

/* ---- replies, possibly delayed ------------------------------------------ */

struct lreply {
	struct ipc_chan *ch;
	struct ipc_msg m;
};

static void lauth_send(struct ipc_chan *ch, uint64_t req, uint32_t status, const char *data)
{
	ipc_msg_init(L.out, IPC_AUTH_REPLY);
	ipc_put_u64(L.out, req);
	ipc_put_u32(L.out, status);
	ipc_put_str(L.out, data);
	if (ipc_send(ch, L.out) < 0)
		log_error("cannot answer %s", ipc_chan_peer(ch));
}

static void lauth_on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct lreply *r = arg;

	if (ipc_send(r->ch, &r->m) < 0)
		log_error("cannot answer %s", ipc_chan_peer(r->ch));
	free(r);
}

/* Send a verdict after delay seconds (0: now). */
static void lauth_send_later(struct ipc_chan *ch, uint64_t req, uint32_t status, unsigned delay)
{
	struct lreply *r;
	struct timeval tv = {delay, 0};

	if (delay == 0 || (r = malloc(sizeof *r)) == NULL) {
		lauth_send(ch, req, status, "");
		return;
	}
	r->ch = ch;
	ipc_msg_init(&r->m, IPC_AUTH_REPLY);
	ipc_put_u64(&r->m, req);
	ipc_put_u32(&r->m, status);
	ipc_put_str(&r->m, "");
	if (event_base_once(L.base, -1, EV_TIMEOUT, lauth_on_delay, r, &tv) < 0)
		lauth_on_delay(-1, 0, r);
}

/* ---- exchange bookkeeping ---------------------------------------------- */

static struct lauth *lauth_find(struct ipc_chan *ch, uint64_t req, struct lauth ***prev)
{
	for (struct lauth **pp = &lauth_list; *pp; pp = &(*pp)->next)
		if ((*pp)->ch == ch && (*pp)->req == req) {
			if (prev)
				*prev = pp;
			return *pp;
		}
	return NULL;
}

static void lauth_free(struct ipc_chan *ch, uint64_t req)
{
	struct lauth **pp, *a = lauth_find(ch, req, &pp);

	if (!a)
		return;
	*pp = a->next;
	lauth_n--;
	if (a->scram) {
		scram_state_wipe(a->scram);
		free(a->scram);
	}
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
}

static void lauth_verdict(struct lauth *a, int ok)
{
	static const char *names[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256"};
	struct ipc_chan *ch = a->ch;
	uint64_t req = a->req;
	const struct user *u = ok && L.loaded ? users_find_login(&L.users, a->login) : NULL;
	char key[SMTP_ADDR_MAX];

	/* Logins match case-insensitively: count failures under one spelling,
	 * and name the user as the users file does (quotas, From: checks). */
	(void)str_copy(key, sizeof key, a->login);
	str_lower(key);
	if (ok) {
		const char *login = u ? u->addr : a->login;
		guard_success(key);
		log_info("[%s]: SASL %s login as %s", a->ip, names[a->mech], login);
		lauth_send(ch, req, IPC_AUTH_OK, login);
	} else {
		char safe[SMTP_ADDR_MAX];
		unsigned delay = guard_fail(a->ip, key, time(NULL));
		log_warn("unknown[%s]: SASL %s authentication failed: user=<%s>", a->ip,
			 names[a->mech],
			 str_sanitize(safe, sizeof safe, a->login, strlen(a->login)));
		lauth_send_later(ch, req, IPC_AUTH_FAIL, delay);
	}
	lauth_free(ch, req);
}

static void lauth_malformed(struct lauth *a)
{
	struct ipc_chan *ch = a->ch;
	uint64_t req = a->req;

	lauth_send(ch, req, IPC_AUTH_MALFORMED, "");
	lauth_free(ch, req);
}

/* ---- base64 --------------------------------------------------------------- */

/* Decode strictly (the worker checked the alphabet); "=" alone is empty. */
static int lauth_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(in), pad = 0;

	if (n == 0 || (n == 1 && in[0] == '=')) {
		*len = 0;
		return 0;
	}
	if (n % 4 || n / 4 * 3 > cap)
		return -1;
	int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return -1;
	pad = (in[n - 1] == '=') + (in[n - 2] == '=');
	*len = (size_t)r - pad;
	return 0;
}

static int lauth_b64_encode(const char *in, size_t n, char *out, size_t cap)
{
	if ((n + 2) / 3 * 4 + 1 > cap)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
	return 0;
}

/* ---- mechanisms ------------------------------------------------------------ */

/* Check login/password; verdict sent. */
static void lauth_password(struct lauth *a, const char *login, const char *pw)
{
	const struct user *u;

	if (str_copy(a->login, sizeof a->login, login) < 0) {
		lauth_malformed(a);
		return;
	}
	u = L.loaded ? users_find_login(&L.users, login) : NULL;
	lauth_verdict(a, users_verify_password(u, pw) == 1);
}

/* PLAIN: [authzid] NUL authcid NUL password (RFC 4616). */
static void lauth_plain(struct lauth *a, const unsigned char *d, size_t n)
{
	char buf[LAUTH_DATA_MAX + 1];
	const char *authz, *authc, *pw;

	memcpy(buf, d, n);
	buf[n] = '\0';
	authz = buf;
	authc = memchr(buf, '\0', n) ? authz + strlen(authz) + 1 : NULL;
	pw = authc && (size_t)(authc - buf) < n ? authc + strlen(authc) + 1 : NULL;
	if (!pw || (size_t)(pw - buf) > n || strlen(pw) != n - (size_t)(pw - buf) || !authc[0] ||
	    (authz[0] && strcasecmp(authz, authc) != 0)) {
		OPENSSL_cleanse(buf, sizeof buf);
		lauth_malformed(a);
		return;
	}
	lauth_password(a, authc, pw);
	OPENSSL_cleanse(buf, sizeof buf);
}

/* LOGIN: "Username:" then "Password:" (draft-murchison-sasl-login). */
static void lauth_login(struct lauth *a, const unsigned char *d, size_t n, int given)
{
	char buf[LAUTH_DATA_MAX + 1];

	if (!given) {
		lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE,
			   a->step == 0 ? "VXNlcm5hbWU6" : "UGFzc3dvcmQ6");
		return;
	}
	memcpy(buf, d, n);
	buf[n] = '\0';
	if (memchr(buf, '\0', n) ||
	    (a->step == 0 && (n == 0 || str_copy(a->login, sizeof a->login, buf) < 0))) {
		OPENSSL_cleanse(buf, sizeof buf);
		lauth_malformed(a);
		return;
	}
	if (a->step++ == 0) {
		lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE, "UGFzc3dvcmQ6");
		return;
	}
	char login[SMTP_ADDR_MAX];
	str_copy(login, sizeof login, a->login);
	lauth_password(a, login, buf);
	OPENSSL_cleanse(buf, sizeof buf);
}

static void lauth_scram_first(struct lauth *a, const unsigned char *d, size_t n)
{
	char out[SCRAM_OUT_MAX], b64[SCRAM_OUT_MAX * 2];
	struct scram_secret sec, *psec = NULL;
	const struct user *u;

	if (scram_client_first(a->scram, (const char *)d, n, a->login, sizeof a->login) < 0) {
		lauth_malformed(a);
		return;
	}
	u = L.loaded ? users_find_login(&L.users, a->login) : NULL;
	if (u && users_scram(u, &sec) == 0)
		psec = &sec;
	int rc = scram_server_first(a->scram, psec, fake_key, out, sizeof out);
	OPENSSL_cleanse(&sec, sizeof sec);
	if (rc < 0 || lauth_b64_encode(out, strlen(out), b64, sizeof b64) < 0) {
		lauth_malformed(a);
		return;
	}
	a->step = 1;
	lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE, b64);
}

static void lauth_scram(struct lauth *a, const unsigned char *d, size_t n, int given)
{
	char out[SCRAM_OUT_MAX], b64[SCRAM_OUT_MAX * 2];

	if (a->step == 0 && !given) { /* no initial response: empty challenge */
		lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE, "");
		return;
	}
	if (a->step == 0) {
		lauth_scram_first(a, d, n);
		return;
	}
	if (a->step == 2) { /* the client's empty answer to our v= */
		lauth_verdict(a, n == 0);
		return;
	}
	int rc = scram_client_final(a->scram, (const char *)d, n, out, sizeof out);
	if (rc < 0) {
		lauth_malformed(a);
	} else if (rc == 1) {
		lauth_verdict(a, 0);
	} else if (lauth_b64_encode(out, strlen(out), b64, sizeof b64) == 0) {
		a->step = 2;
		lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE, b64);
	} else {
		lauth_malformed(a);
	}
}

static void lauth_run(struct lauth *a, const char *b64, int given)
{
	static unsigned char d[LAUTH_DATA_MAX];
	size_t n = 0;

	if (given && lauth_b64_decode(b64, d, sizeof d, &n) < 0) {
		lauth_malformed(a);
		return;
	}
	if (a->mech == LM_PLAIN && !given)
		lauth_send(a->ch, a->req, IPC_AUTH_CONTINUE, "");
	else if (a->mech == LM_PLAIN)
		lauth_plain(a, d, n);
	else if (a->mech == LM_LOGIN)
		lauth_login(a, d, n, given);
	else
		lauth_scram(a, d, n, given);
	OPENSSL_cleanse(d, n);
}

/* ---- IPC entry points ------------------------------------------------------ */

static int lauth_mech(const char *name, enum lauth_mech *m)
{
	if (strcmp(name, "PLAIN") == 0)
		*m = LM_PLAIN;
	else if (strcmp(name, "LOGIN") == 0)
		*m = LM_LOGIN;
	else if (strcmp(name, "SCRAM-SHA-256") == 0)
		*m = LM_SCRAM;
	else
		return -1;
	return 0;
}

void lookup_on_auth_start(struct ipc_chan *ch, struct ipc_msg *m)
{
	static char init[LAUTH_DATA_MAX * 2];
	char ip[64], mech[32];
	uint64_t req = ipc_get_u64(m);
	struct lauth *a;

	ipc_get_str(m, ip, sizeof ip);
	ipc_get_str(m, mech, sizeof mech);
	uint32_t given = ipc_get_u32(m);
	ipc_get_str(m, init, sizeof init);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed AUTH request", ipc_chan_peer(ch));
	lauth_free(ch, req); /* a new AUTH replaces a forgotten one */
	long locked = guard_locked(ip, time(NULL));
	if (locked > 0) {
		log_warn("unknown[%s]: SASL %s authentication refused: locked out for %ld s", ip,
			 mech, locked);
		lauth_send(ch, req, IPC_AUTH_LOCKED, "");
		return;
	}
	a = lauth_n < LAUTH_MAX ? calloc(1, sizeof *a) : NULL;
	if (!a || lauth_mech(mech, &a->mech) < 0 || str_copy(a->ip, sizeof a->ip, ip) < 0 ||
	    (a->mech == LM_SCRAM && (a->scram = calloc(1, sizeof *a->scram)) == NULL)) {
		free(a);
		lauth_send(ch, req, IPC_AUTH_TEMPFAIL, "");
		return;
	}
	a->ch = ch;
	a->req = req;
	a->next = lauth_list;
	lauth_list = a;
	lauth_n++;
	lauth_run(a, init, (int)given);
	OPENSSL_cleanse(init, sizeof init);
}

void lookup_on_auth_step(struct ipc_chan *ch, struct ipc_msg *m)
{
	static char resp[LAUTH_DATA_MAX * 2];
	uint64_t req = ipc_get_u64(m);
	struct lauth *a;

	ipc_get_str(m, resp, sizeof resp);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed AUTH step", ipc_chan_peer(ch));
	if ((a = lauth_find(ch, req, NULL)) == NULL) {
		lauth_send(ch, req, IPC_AUTH_MALFORMED, "");
		return;
	}
	lauth_run(a, resp, 1);
	OPENSSL_cleanse(resp, sizeof resp);
}

void lookup_on_auth_abort(struct ipc_chan *ch, struct ipc_msg *m)
{
	uint64_t req = ipc_get_u64(m);

	if (ipc_end(m) < 0)
		fatal("%s sent a malformed AUTH abort", ipc_chan_peer(ch));
	lauth_free(ch, req);
}

/* May login use every address in the newline-separated list addrs? */
static int lookup_sender_ok(const char *login, int header, char *addrs)
{
	const struct user *u = L.loaded ? users_find_login(&L.users, login) : NULL;
	char *save = NULL;
	int n = 0;

	if (!u)
		return 0;
	if (header && (u->flags & USER_F_ANY_FROM))
		return 1;
	for (char *a = strtok_r(addrs, "\n", &save); a; a = strtok_r(NULL, "\n", &save), n++)
		if (!users_may_send_as(u, a))
			return 0;
	return n > 0;
}

void lookup_on_sender_check(struct ipc_chan *ch, struct ipc_msg *m)
{
	static char addrs[IPC_MSG_MAX];
	char login[SMTP_ADDR_MAX];
	uint64_t req = ipc_get_u64(m);

	ipc_get_str(m, login, sizeof login);
	uint32_t header = ipc_get_u32(m);
	ipc_get_str(m, addrs, sizeof addrs);
	if (ipc_end(m) < 0)
		fatal("%s sent a malformed sender check", ipc_chan_peer(ch));
	uint32_t ok = L.loaded ? (uint32_t)lookup_sender_ok(login, header != 0, addrs) : 2;
	if (ok == 1 && !header && lookup_msg_over_rate(login)) {
		ok = 3; /* counted at MAIL FROM: a stolen password sends little */
		log_info("user=<%s>: MAIL refused: user-message-rate", login);
	}
	ipc_msg_init(L.out, IPC_SENDER_RESULT);
	ipc_put_u64(L.out, req);
	ipc_put_u32(L.out, ok);
	if (ipc_send(ch, L.out) < 0)
		log_error("cannot answer %s", ipc_chan_peer(ch));
}

/* The key that makes fake SCRAM salts stable across restarts: <spool>/scram-fake.key. */
void lookup_auth_init(const char *spool)
{
	char path[CONF_PATH_MAX];
	int fd;

	if (str_fmt(path, sizeof path, "%s/scram-fake.key", spool) < 0)
		fatal("spool path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, fake_key, sizeof fake_key) == (ssize_t)sizeof fake_key) {
		close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (RAND_bytes(fake_key, sizeof fake_key) != 1)
		fatal("cannot make the SCRAM fake-user key");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, fake_key, sizeof fake_key) != (ssize_t)sizeof fake_key ||
	    fsync(fd) < 0)
		log_warn("cannot store %s (%s): fake SCRAM salts change at restart", path,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
}
