/*
 * queue_ctl: the queue's control socket, control.sock in the spool root
 * (<spool>/control.sock from outside the chroot). `sealpost queue flush
 * [ID] | hold ID | release ID | delete ID` connect to it and send one
 * command line; the answer is one line, "ok TEXT" or "error TEXT", and the
 * connection is closed. The work itself is done by queue_ctl_flush,
 * queue_ctl_hold and queue_ctl_delete (queue_sched.c).
 *
 * Security role: an operator interface into the process that owns the
 * spool. The socket is created after the privilege drop with mode 0600, so
 * only the queue user (and root) can connect, and each connection's
 * SO_PEERCRED uid is checked again (root or the queue user only). A
 * command is at most 256 octets, the id must be a valid queue id before
 * anything looks it up, a connection lives at most CTL_TIMEOUT seconds and
 * at most CTL_CONNS_MAX are served at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "queue/queue_int.h"
#include "util/log.h"
#include "util/str.h"

#define CTL_SOCK      "control.sock"
#define CTL_LINE_MAX  256 /* a command line, without its LF */
#define CTL_ANSWER    512 /* the text of an answer */
#define CTL_TIMEOUT   10  /* seconds a connection may take */
#define CTL_CONNS_MAX 16
#define CTL_BACKLOG   16
#define CTL_USAGE     "expected flush [ID], hold ID, release ID or delete ID"

enum ctl_cmd { CTL_FLUSH, CTL_HOLD, CTL_RELEASE, CTL_DELETE };

static unsigned ctl_conns;		    /* connections open */
static struct evconnlistener *ctl_listener; /* lives as long as the process */

/* ---- the command line (pure) -------------------------------------------- */

static const struct {
	const char *name;
	enum ctl_cmd cmd;
	int id_optional;
} ctl_cmds[] = {
    {"flush", CTL_FLUSH, 1},
    {"hold", CTL_HOLD, 0},
    {"release", CTL_RELEASE, 0},
    {"delete", CTL_DELETE, 0},
};

/* "NAME" or "NAME ID" into *cmd and id[QUEUE_ID_SIZE] ("" when none).
 * 0, or -1 with the reason in *why. */
static int ctl_parse(const char *line, enum ctl_cmd *cmd, char *id, const char **why)
{
	const char *sp = strchr(line, ' ');
	size_t nlen = sp ? (size_t)(sp - line) : strlen(line);

	id[0] = '\0';
	for (size_t i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++) {
		if (strlen(ctl_cmds[i].name) != nlen || memcmp(line, ctl_cmds[i].name, nlen) != 0)
			continue;
		*cmd = ctl_cmds[i].cmd;
		if (!sp && ctl_cmds[i].id_optional)
			return 0;
		if (!sp) {
			*why = "a queue id is missing";
			return -1;
		}
		if (!queue_id_valid(sp + 1) || str_copy(id, QUEUE_ID_SIZE, sp + 1) < 0) {
			*why = "invalid queue id (16 lowercase hex digits)";
			return -1;
		}
		return 0;
	}
	*why = "unknown command: " CTL_USAGE;
	return -1;
}

/* Run a parsed command; 0 or -1, the answer's text in msg[cap]. */
static int ctl_run(enum ctl_cmd cmd, const char *id, char *msg, size_t cap)
{
	switch (cmd) {
	case CTL_FLUSH:
		return queue_ctl_flush(id[0] ? id : QUEUE_CTL_ALL, msg, cap);
	case CTL_HOLD:
		return queue_ctl_hold(id, 1, msg, cap);
	case CTL_RELEASE:
		return queue_ctl_hold(id, 0, msg, cap);
	case CTL_DELETE:
		return queue_ctl_delete(id, msg, cap);
	}
	return -1;
}

/* ---- connections -------------------------------------------------------- */

static void ctl_on_event(struct bufferevent *bev, short what, void *arg);

static void ctl_close(struct bufferevent *bev)
{
	bufferevent_free(bev);
	ctl_conns--;
}

/* After the answer: input is read and dropped until the peer closes (or the
 * timeout), so that closing never discards unread input, which would reset
 * the connection before the peer has read the answer. */
static void ctl_on_drain(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)evbuffer_drain(in, evbuffer_get_length(in));
}

static void ctl_on_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setcb(bev, ctl_on_drain, NULL, ctl_on_event, NULL);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	if (bufferevent_enable(bev, EV_READ) < 0)
		ctl_close(bev);
}

/* Queue "ok TEXT" or "error TEXT" and close once it is written. */
static void ctl_answer(struct bufferevent *bev, int ok, const char *text)
{
	char clean[CTL_ANSWER];

	str_sanitize(clean, sizeof clean, text, strlen(text));
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, ctl_on_written, ctl_on_event, NULL);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (evbuffer_add_printf(bufferevent_get_output(bev), "%s %s\n", ok ? "ok" : "error",
				clean) < 0 ||
	    bufferevent_enable(bev, EV_WRITE) < 0)
		ctl_close(bev);
}

static void ctl_command(struct bufferevent *bev, const char *line)
{
	char id[QUEUE_ID_SIZE], msg[CTL_ANSWER];
	enum ctl_cmd cmd = CTL_FLUSH;
	const char *why;

	if (ctl_parse(line, &cmd, id, &why) < 0) {
		ctl_answer(bev, 0, why);
		return;
	}
	msg[0] = '\0';
	int r = ctl_run(cmd, id, msg, sizeof msg);
	ctl_answer(bev, r == 0, msg[0] ? msg : r == 0 ? "done" : "failed");
}

static void ctl_on_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

	if (!line) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			ctl_answer(bev, 0, "command longer than 256 octets");
		return;
	}
	if (n > CTL_LINE_MAX)
		ctl_answer(bev, 0, "command longer than 256 octets");
	else if (strlen(line) != n)
		ctl_answer(bev, 0, "NUL in the command");
	else
		ctl_command(bev, line);
	free(line); /* bev may be gone: not touched again */
}

static void ctl_on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("control: a connection timed out");
	ctl_close(bev); /* EOF before a full line, an error or a timeout */
}

/* Root or the queue user (the uid this process runs as) may connect. */
static int ctl_peer_allowed(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 || len != sizeof cr)
		return 0;
	*uid = cr.uid;
	return cr.uid == 0 || cr.uid == geteuid();
}

static void ctl_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			  int salen, void *arg)
{
	const struct timeval tv = {CTL_TIMEOUT, 0};
	struct bufferevent *bev;
	uid_t uid = (uid_t)-1;
	int allowed = ctl_peer_allowed(fd, &uid);

	if (ctl_conns >= CTL_CONNS_MAX) {
		log_warn("control: too many connections; one refused");
		(void)close(fd);
		return;
	}
	bev = bufferevent_socket_new(Q.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		(void)close(fd);
		return;
	}
	ctl_conns++;
	bufferevent_setcb(bev, ctl_on_read, NULL, ctl_on_event, NULL);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 0, CTL_LINE_MAX + 2);
	if (!allowed) {
		log_warn("control: connection from uid %ld refused (not root or the queue user)",
			 (long)uid);
		ctl_answer(bev, 0, "not allowed");
	} else if (bufferevent_enable(bev, EV_READ) < 0) {
		ctl_close(bev);
	}
}

/* ---- the socket --------------------------------------------------------- */

/* A bound, listening socket at CTL_SOCK (mode 0600); exits on failure. */
static int ctl_listen_fd(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;
	mode_t old;

	if (str_copy(sun.sun_path, sizeof sun.sun_path, CTL_SOCK) < 0)
		fatal("control socket name too long");
	if (unlink(CTL_SOCK) < 0 && errno != ENOENT) /* stale, from a previous run */
		fatal("cannot remove the old %s: %s", CTL_SOCK, strerror(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("cannot create the control socket: %s", strerror(errno));
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		(void)umask(old);
		fatal("cannot bind the control socket %s: %s", CTL_SOCK, strerror(e));
	}
	(void)umask(old);
	if (chmod(CTL_SOCK, 0600) < 0)
		fatal("cannot set the mode of %s: %s", CTL_SOCK, strerror(errno));
	return fd;
}

void queue_ctl_init(void)
{
	int fd = ctl_listen_fd();

	ctl_listener =
	    evconnlistener_new(Q.base, ctl_on_accept, NULL,
			       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, CTL_BACKLOG, fd);
	if (!ctl_listener)
		fatal("cannot listen on the control socket %s", CTL_SOCK);
}
