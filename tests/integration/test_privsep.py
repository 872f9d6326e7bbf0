"""Privilege separation and supervision, seen from /proc: the children run
as the unprivileged users (SMTP workers chrooted to <spool>/empty, the
queue to the spool), a dying child brings the whole server down, and
killing the parent takes every child with it."""
import os
import pwd
import signal
import socket
import time

import pytest

import sphelpers as h

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")

WORKERS = 3
EXPECTED_CHILDREN = WORKERS + 4  # lookup, queue, deliver, remote


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


def status_ids(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


def cap_eff(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    raise AssertionError("no CapEff line")


def children(srv, n=EXPECTED_CHILDREN):
    """The server's children once all n are up and have dropped privileges."""
    def ready():
        kids = h.children_of(srv.pid)
        if len(kids) < n:
            return None
        try:
            if any(0 in h.proc_uids(k) for k in kids):
                return None  # a child between fork and privilege drop
        except FileNotFoundError:
            return None
        return kids
    kids = h.wait_until(ready, 10 * h.SLOW)
    assert kids, "server has %s instead of %d children" % (h.children_of(srv.pid), n)
    return kids


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def classify(srv, kids):
    """(smtp workers, the queue, other queue-user processes); the remote
    process (user _sealpost, named sp-remote) is checked on its own."""
    sp, spq = uid_of("_sealpost"), uid_of("_sealpostq")
    smtp, queue, other_q = [], [], []
    for k in kids:
        uids = h.proc_uids(k)
        root = os.readlink("/proc/%d/root" % k)
        if set(uids) == {sp} and comm(k) != "sp-remote":
            smtp.append((k, root))
        elif set(uids) == {spq}:
            (queue if root == os.path.realpath(srv.spool) else other_q).append((k, root))
    return smtp, queue, other_q


@pytest.fixture
def psrv(make_server):
    return make_server(conf={"workers": str(WORKERS)})


def test_children_are_unprivileged_and_confined(psrv):
    kids = children(psrv)
    assert len(kids) == EXPECTED_CHILDREN, kids
    assert h.proc_uids(psrv.pid)[0] == 0, "parent should keep root to supervise"
    for k in kids:
        assert 0 not in h.proc_uids(k), "child %d runs as root" % k
        assert 0 not in status_ids(k, "Gid"), "child %d has gid 0" % k
        assert 0 not in status_ids(k, "Groups"), "child %d keeps supplementary group 0" % k
        assert cap_eff(k) == 0, "child %d keeps capabilities" % k
    smtp, queue, other_q = classify(psrv, kids)
    assert len(smtp) == WORKERS, (smtp, queue, other_q)
    empty = os.path.realpath(os.path.join(psrv.spool, "empty"))
    for pid, root in smtp:
        assert root == empty, "smtp worker %d is not chrooted to %s (root %s)" % (pid, empty, root)
    assert len(queue) == 1, "no _sealpostq process chrooted to the spool: %s" % (queue + other_q)
    assert len(other_q) == 2, other_q  # lookup and deliver
    # remote: the unprivileged worker user, no access to the spool or Maildirs
    remote = [k for k in kids if comm(k) == "sp-remote"]
    assert len(remote) == 1 and set(h.proc_uids(remote[0])) == {uid_of("_sealpost")}, remote
    # The workers are really serving: a session works.
    with psrv.client() as c:
        c.ehlo()
        c.send_message("a@example.org", ["bob@example.test"], ["Subject: privsep", "", "x"])
    psrv.read_mail("bob")


def _wait_gone(pids, timeout):
    return h.wait_until(lambda: not [p for p in pids if h.alive(p)], timeout)


@pytest.mark.parametrize("which", ["smtp", "queue"])
def test_dead_child_stops_whole_server(psrv, which):
    kids = children(psrv)
    smtp, queue, _ = classify(psrv, kids)
    victim = smtp[0][0] if which == "smtp" else queue[0][0]
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    try:
        rc = psrv.proc.wait(timeout=10 * h.SLOW)
    except Exception:
        pytest.fail("server still running %ds after its %s child died" % (10 * h.SLOW, which))
    assert rc != 0, "server exited 0 after a child died"
    assert time.monotonic() - t0 < 8 * h.SLOW
    log = psrv.log_text()
    assert str(victim) in log and "signal 9" in log, psrv.log_tail(10)
    assert _wait_gone(kids, 10 * h.SLOW), [p for p in kids if h.alive(p)]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", psrv.port), timeout=2).close()


def test_sigkill_parent_takes_children_down(psrv):
    kids = children(psrv)
    os.kill(psrv.pid, signal.SIGKILL)
    psrv.proc.wait(timeout=10 * h.SLOW)
    left = _wait_gone(kids, 10 * h.SLOW)
    assert left, "children survived their parent: %s" % [p for p in kids if h.alive(p)]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", psrv.port), timeout=2).close()


def test_sigterm_stops_cleanly(psrv):
    kids = children(psrv)
    rc = psrv.stop()
    assert rc == 0, "SIGTERM exit status %s" % rc
    assert _wait_gone(kids, 10 * h.SLOW)


def test_restart_after_crash_same_directory(psrv):
    """After kill -9 of the group, the same configuration starts again."""
    psrv.kill()
    psrv.start()
    kids = children(psrv)
    assert len(kids) == EXPECTED_CHILDREN
    with psrv.client() as c:
        c.ehlo()
        c.send_message("a@example.org", ["bob@example.test"], ["Subject: again", "", "x"])
    psrv.read_mail("bob")
