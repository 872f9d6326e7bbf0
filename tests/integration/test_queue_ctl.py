"""The queue control socket (issue 6, item 4): `sealpost queue flush [ID]`,
`hold ID`, `release ID` and `delete ID` talk to the running queue process
through <spool>/control.sock; `queue list` marks held messages.

A message for a remote domain is queued with `sealpost send`; the shared
test DNS answers SERVFAIL for that domain, so every delivery attempt fails
temporarily and the message stays queued (each attempt logs "ID: deferred").
Loopback only."""
import os
import pwd
import re
import shutil
import stat
import subprocess

import pytest

import sphelpers as h

REMOTE_DOMAIN = "ctl-remote.example"
REMOTE = "dora@" + REMOTE_DOMAIN
EX_TEMPFAIL = 75


@pytest.fixture(autouse=True)
def remote_domain_tempfails():
    dns = h.shared_dns()
    dns.servfail.add(REMOTE_DOMAIN)
    yield
    dns.servfail.discard(REMOTE_DOMAIN)


def deferrals(srv, qid):
    return len(re.findall(re.escape(qid) + r": deferred", srv.log_text()))


def queue_one(srv):
    """Queue a message for REMOTE through the local socket; its queue id once
    its first attempt has failed."""
    r = srv.cli("send", REMOTE, input=b"Subject: control socket\n\nhello\n")
    assert r.returncode == 0, r.stderr
    found = {}

    def listed():
        out = ctl(srv, "list")[1]
        m = re.search(r"^([0-9a-f]{16})\S*\s.*%s\(remote\)" % re.escape(REMOTE), out, re.M)
        if m:
            found["id"] = m.group(1)
        return bool(m)

    assert h.wait_until(listed, 10 * h.SLOW), ctl(srv, "list")
    qid = found["id"]
    assert h.wait_until(lambda: deferrals(srv, qid) >= 1, 15 * h.SLOW), srv.log_tail()
    return qid


def ctl(srv, *args):
    r = srv.cli("queue", *args)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def list_line(srv, qid):
    rc, out, err = ctl(srv, "list")
    assert rc == 0, err
    lines = [l for l in out.splitlines() if l.startswith(qid)]
    return lines[0] if lines else None


def test_control_socket_is_private(server):
    path = os.path.join(server.spool, "control.sock")
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    if os.geteuid() == 0:
        assert st.st_uid == pwd.getpwnam("_sealpostq").pw_uid


def test_hold_flush_release_delete(server):
    qid = queue_one(server)
    line = list_line(server, qid)
    assert line and "(held)" not in line and REMOTE in line, line

    rc, out, err = ctl(server, "hold", qid)
    assert rc == 0, err
    assert out.startswith("ok ") and qid in out and "held" in out, out
    line = list_line(server, qid)
    assert line and line.startswith(qid + "(held)"), line
    rc, out, err = ctl(server, "hold", qid)
    assert rc == 0 and "already held" in out, (out, err)

    # flush retries every waiting message, but not a held one
    before = deferrals(server, qid)
    rc, out, err = ctl(server, "flush")
    assert rc == 0 and out.startswith("ok ") and "0 message" in out, (out, err)
    rc, out, err = ctl(server, "flush", qid)
    assert rc == 1 and "held" in err and err.rstrip().endswith("(release it first)"), (out, err)
    assert not h.wait_until(lambda: deferrals(server, qid) > before, 1.5)

    # released: retried at once, and listed without the mark
    rc, out, err = ctl(server, "release", qid)
    assert rc == 0 and out.startswith("ok ") and "released" in out, (out, err)
    assert h.wait_until(lambda: deferrals(server, qid) > before, 10 * h.SLOW), server.log_tail()
    line = list_line(server, qid)
    assert line and "(held)" not in line, line

    # flush ID retries that one now (once its attempt is over and it waits)
    n = deferrals(server, qid)
    assert h.wait_until(lambda: ctl(server, "flush", qid)[1].startswith("ok 1 "), 10 * h.SLOW)
    assert h.wait_until(lambda: deferrals(server, qid) > n, 10 * h.SLOW), server.log_tail()

    # delete: the files go, no bounce, a log line says so
    assert h.wait_until(lambda: ctl(server, "delete", qid)[0] == 0, 10 * h.SLOW), \
        ctl(server, "delete", qid)
    assert not any(qid in f for f in server.queue_files()), server.queue_files()
    assert h.wait_until(lambda: "%s: removed (deleted by the operator" % qid in
                        server.log_text(), 5 * h.SLOW), server.log_tail()
    rc, out, err = ctl(server, "list")
    assert rc == 0 and qid not in out, out
    assert server.all_delivered() == []  # no bounce to anyone


def test_unknown_and_malformed_ids(server):
    unknown = "0123456789abcdef"
    for cmd in ("flush", "hold", "release", "delete"):
        rc, out, err = ctl(server, cmd, unknown)
        assert rc == 1, (cmd, out, err)
        assert "error" in err and "no message %s" % unknown in err, (cmd, err)
    for bad in ("0123", "0123456789ABCDEF", "../../etc/passwd", "0123456789abcdef0"):
        rc, out, err = ctl(server, "hold", bad)
        assert rc == 2 and "not a queue id" in err, (bad, out, err)
    rc, out, err = ctl(server, "hold")
    assert rc == 2 and "usage" in err, err
    rc, out, err = ctl(server, "list", unknown)
    assert rc == 2, err
    rc, out, err = ctl(server, "frobnicate")
    assert rc == 2, err
    rc, out, err = ctl(server, "flush")
    assert rc == 0 and out.startswith("ok "), (out, err)


def test_protocol_limits(server):
    """The socket itself: one bounded line, a one-line answer."""
    import socket
    path = os.path.join(server.spool, "control.sock")

    def ask(data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10 * h.SLOW)
        s.connect(path)
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(1024)
            if not chunk:
                break
            got += chunk
        s.close()
        return got

    assert ask(b"flush\r\n").startswith(b"ok ")
    assert ask(b"hold 0123\n") == b"error invalid queue id (16 lowercase hex digits)\n"
    assert ask(b"hold\n") == b"error a queue id is missing\n"
    assert ask(b"purge everything\n").startswith(b"error unknown command")
    assert ask(b"x" * 300) == b"error command longer than 256 octets\n"
    assert ask(b"hold 0123456789abcdef\x00\n") == b"error NUL in the command\n"


def test_server_not_running(make_server):
    srv = make_server(start=False)
    rc, out, err = ctl(srv, "flush")
    assert rc == EX_TEMPFAIL, (rc, out, err)
    assert "not running" in err, err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the CLI as other users")
def test_only_root_or_queue_user(server):
    qid = queue_one(server)
    argv = [h.BIN, "queue", "-c", server.conf, "hold", qid]
    # the queue user may
    r = subprocess.run(["runuser", "-u", "_sealpostq", "--"] + argv, capture_output=True,
                       timeout=30 * h.SLOW)
    assert r.returncode == 0, r.stderr
    assert ("ok %s held" % qid).encode() in r.stdout, r.stdout
    # another user cannot even reach the socket (mode 0600, spool 0700) ...
    r = subprocess.run(["runuser", "-u", "_sealpost", "--"] + argv[:-2] + ["release", qid],
                       capture_output=True, timeout=30 * h.SLOW)
    assert r.returncode != 0, r.stdout
    assert b"ok" not in r.stdout
    assert list_line(server, qid).startswith(qid + "(held)")
    # ... and one that gets past the file permissions is refused by its uid
    if not shutil.which("setpriv"):
        pytest.skip("setpriv not available")
    r = subprocess.run(["setpriv", "--reuid=_sealpost", "--regid=_sealpost", "--clear-groups",
                        "--inh-caps=+dac_override", "--ambient-caps=+dac_override", "--"] +
                       argv[:-2] + ["release", qid], capture_output=True, timeout=30 * h.SLOW)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert b"error not allowed" in r.stderr, r.stderr
    assert h.wait_until(lambda: "refused (not root or the queue user)" in server.log_text(),
                        5 * h.SLOW)
    assert list_line(server, qid).startswith(qid + "(held)")
