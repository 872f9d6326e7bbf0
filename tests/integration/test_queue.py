"""Local mail delivered before the 250, and the queue across failures and
restarts: a recipient whose Maildir cannot
be written stays queued (and is listed), the others are delivered exactly
once, also across restarts, and the message leaves the queue once the
problem is fixed."""
import os
import pwd
import re
import resource
import signal
import smtplib
import subprocess
import threading
import time

import pytest

import sphelpers as h
from sphelpers import check_reply


def break_maildir(srv, local):
    """Put a regular file where local's Maildir should be."""
    q = pwd.getpwnam("_sealpostq")
    dom = os.path.join(srv.dir, "mail", "example.test")
    os.makedirs(dom, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(dom, q.pw_uid, q.pw_gid)
    path = os.path.join(dom, local)
    with open(path, "w") as f:
        f.write("not a maildir\n")
    return path


def queue_list(srv):
    r = srv.cli("queue", "list")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode("utf-8", "replace")


def deferred(srv, qid, n=1):
    return len(re.findall(qid + r".*deferred", srv.log_text())) >= n


def test_local_mail_is_in_the_mailboxes_before_the_reply(server):
    """Every recipient local: the Maildir copies are fsync'd before the 250,
    so they are there the moment it arrives, and nothing stays queued."""
    with server.client() as c:
        c.ehlo()
        for i in range(3):
            qid = c.send_message("before@example.org", ["alice@example.test", "bob@example.test"],
                                 ["Subject: before %d" % i, "", "body"])
            assert len(server.files("alice")) == i + 1 and len(server.files("bob")) == i + 1
            line = "%s: removed (all recipients done before the reply)" % qid
            assert h.wait_until(lambda: line in server.log_text(), 5 * h.SLOW), server.log_tail(5)
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    assert server.queue_files() == []


def test_many_recipients_are_queued_first(make_server):
    """Over 32 recipients one deliver thread would keep the client waiting:
    that message is committed to the queue, answered, then delivered."""
    users = ["u%02d@example.test" % i for i in range(33)]
    server = make_server(users=[(u, None, []) for u in users])
    with server.client() as c:
        c.ehlo()
        qid = c.send_message("many@example.org", users, ["Subject: many", "", "body"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    assert h.wait_until(lambda: all(len(server.files(u.split("@")[0])) == 1 for u in users),
                        15 * h.SLOW), server.log_tail(5)
    assert h.wait_until(lambda: "%s: removed (all recipients done)" % qid in server.log_text(), 5 * h.SLOW)
    assert "before the reply" not in server.log_text()


def test_a_mailbox_named_twice_gets_one_copy(server):
    """The same recipient in several RCPTs (any case), or several addresses
    of one mailbox, is one copy."""
    with server.client() as c:
        c.ehlo()
        rcpts = ["alice@example.test", "ALICE@Example.Test", "alice@example.test",
                 "bob@example.test", "robert@example.test", "bob.extra@example.test"]
        qid = c.send_message("twice@example.org", rcpts, ["Subject: twice", "", "x"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    assert len(server.files("alice")) == 1 and len(server.files("bob")) == 1
    [line] = [l for l in server.log_text().splitlines() if qid + ": from=<" in l]
    assert "nrcpt=2 " in line, line


def test_postmaster_and_abuse_together_are_one_copy(server):
    """postmaster@, abuse@ and <Postmaster> all reach one mailbox: one copy."""
    with server.client() as c:
        c.ehlo()
        qid = c.send_message("pm@example.org", ["postmaster@example.test", "abuse@example.test", "Postmaster"],
                             ["Subject: pm", "", "x"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    [m] = server.read_mail("postmaster")
    assert m.qid == qid
    [line] = [l for l in server.log_text().splitlines() if qid + ": from=<" in l]
    assert "nrcpt=1 " in line, line


def child_pid(srv, comm):
    """The pid of the server's child process named comm."""
    with open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)) as f:
        for pid in f.read().split():
            with open("/proc/%s/comm" % pid) as c:
                if c.read().strip() == comm:
                    return int(pid)
    raise AssertionError("no %s child" % comm)


def test_hung_delivery_does_not_hold_the_reply(server):
    """A mailbox file system that hangs (here: deliver stopped) must not keep
    clients waiting: after 5 s the message is committed to the queue and
    answered, and delivered once when delivery resumes."""
    dpid = child_pid(server, "sp-deliver")
    os.kill(dpid, signal.SIGSTOP)
    try:
        with server.client() as c:
            c.ehlo()
            qid = c.send_message("hung@example.org", ["alice@example.test"], ["Subject: hung", "", "x"])
            check_reply(c.cmd("QUIT"), "221 2.0.0")
        assert "%s: delivery before the reply takes over 5 s" % qid in server.log_text()
        assert server.files("alice") == []
        assert qid in queue_list(server)
    finally:
        os.kill(dpid, signal.SIGCONT)
    [m] = server.read_mail("alice")
    assert m.qid == qid
    assert h.wait_until(lambda: "%s: removed (all recipients done)" % qid in server.log_text(), 5 * h.SLOW)
    assert server.wait_queue_empty(), server.queue_files()
    assert len(server.files("alice")) == 1


def to_alice_and_broken_bob(server, subject, body):
    """One message to alice and to bob, whose Maildir is a regular file;
    returns (the path of that file, the queue id)."""
    broken = break_maildir(server, "bob")
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(subject + "@example.org", ["alice@example.test", "bob@example.test"],
                             ["Subject: " + subject, "", body])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    return broken, qid


def test_partial_delivery_survives_restarts(server):
    broken, qid = to_alice_and_broken_bob(server, "partial", "to alice and bob")
    [m] = server.read_mail("alice")
    assert m.qid == qid
    # delivered to alice before the reply, then committed for bob
    line = "%s: 1 of 2 recipient(s) done before the reply" % qid
    assert h.wait_until(lambda: line in server.log_text(), 5 * h.SLOW), server.log_tail(5)
    assert h.wait_until(lambda: deferred(server, qid), 15 * h.SLOW), server.log_tail(10)
    out = queue_list(server)
    line = [l for l in out.splitlines() if qid in l]
    assert line, out
    assert "bob@example.test" in line[0] and "alice@example.test" not in line[0], out

    # A restart retries at once (bob still broken): alice must not get it again.
    assert server.stop() == 0
    server.start()
    assert h.wait_until(lambda: deferred(server, qid, 2), 15 * h.SLOW), server.log_tail(10)
    assert len(server.files("alice")) == 1
    assert qid in queue_list(server)

    # Fixed: the next start delivers to bob, once, and the queue empties.
    os.unlink(broken)
    assert server.stop() == 0
    server.start()
    [m] = server.read_mail("bob")
    assert m.qid == qid and m.body == b"Subject: partial\n\nto alice and bob\n"
    assert server.wait_queue_empty(), server.queue_files()
    assert len(server.files("alice")) == 1
    assert "Mail queue is empty" in queue_list(server)


def test_queued_mail_delivered_after_kill9(make_server):
    """A message in queue/ when the group is killed is delivered after restart."""
    srv = make_server()
    broken = break_maildir(srv, "bob")
    with srv.client() as c:
        c.ehlo()
        qid = c.send_message("k@example.org", ["bob@example.test"], ["Subject: k", "", "x"])
    assert h.wait_until(lambda: deferred(srv, qid), 15 * h.SLOW)
    srv.kill()
    os.unlink(broken)
    srv.start()
    [m] = srv.read_mail("bob")
    assert m.qid == qid
    assert srv.wait_queue_empty()


def send_load(port, rcpts, tag, stop, results, lock):
    """Messages in a loop, one per session, until stop is set or the server
    is gone; results[token] = (rcpts, answered 250)."""
    n = 0
    while not stop.is_set():
        token = "%s-%d" % (tag, n)
        n += 1
        ok = False
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=20 * h.SLOW) as s:
                msg = "Subject: load %s\r\n\r\nbody %s\r\n" % (token, token)
                s.sendmail("load@example.org", rcpts, msg)
                ok = True  # the 250 was read; what follows may fail
                with lock:
                    results[token] = (rcpts, True)
                s.quit()
        except (OSError, smtplib.SMTPException):
            if not ok:
                with lock:
                    results[token] = (rcpts, False)
                if stop.is_set():
                    return
                time.sleep(0.05)


def tokens_in(srv, local):
    found = {}
    for path in srv.files(local):
        with open(path, "rb") as f:
            m = re.search(rb"Subject: load (\S+)", f.read())
        assert m, path
        found[m.group(1).decode()] = found.get(m.group(1).decode(), 0) + 1
    return found


def test_stop_under_load_neither_loses_nor_repeats(make_server):
    """SIGTERM while clients send, to one mailbox (delivered before the 250)
    and to 33 (committed first, delivered from the queue): the server stops
    by itself, and after a restart every message answered 250 is in each of
    its mailboxes exactly once, and no other message is in any. The stop is
    ordered: workers first (a message at its final dot still gets its 250,
    the others 421), then the queue (deliveries in flight are answered and
    recorded), then the rest."""
    users = ["u%02d@example.test" % i for i in range(33)]
    srv = make_server(users=[(u, None, []) for u in users], limits={"recipient-rate": "off"})
    stop, lock, results = threading.Event(), threading.Lock(), {}
    loads = [(["u00@example.test"], "one%d" % i) for i in range(4)] + [(users, "many")]
    threads = [threading.Thread(target=send_load, args=(srv.port, r, t, stop, results, lock))
               for r, t in loads]
    for t in threads:
        t.start()
    try:
        assert h.wait_until(lambda: sum(ok for _, ok in results.values()) >= 40, 30 * h.SLOW)
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=40 * h.SLOW) == 0, srv.log_tail(20)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    log = srv.log_text()
    assert log.index("smtp0: stopping:") < log.index("queue: stopping:"), srv.log_tail(30)
    srv.start()
    assert srv.wait_queue_empty(), srv.queue_files()
    answered = {tok for tok, (_, ok) in results.items() if ok}
    assert len(answered) >= 40
    for u in users:
        local = u.split("@")[0]
        want = {tok: 1 for tok, (rcpts, ok) in results.items() if ok and u in rcpts}
        got = tokens_in(srv, local)
        assert got == want, (local, sorted(set(got.items()) ^ set(want.items()))[:10])


def test_copy_made_before_a_crash_is_not_made_again(server):
    """A recipient's copy has one file name on every attempt (time.Q<id>R<n>.
    host). A message found in the spool at start may already have copies
    that were made but never recorded (deliver stopped or killed between
    its rename and its answer); such a copy, even one a reader has moved to
    cur/, is found, and the recipient is not given a second one."""
    broken, qid = to_alice_and_broken_bob(server, "crash", "once")
    [alice] = server.files("alice")
    assert re.fullmatch(r"\d+\.Q%sR0\.mx\.example\.test" % qid, os.path.basename(alice)), alice
    assert h.wait_until(lambda: deferred(server, qid), 15 * h.SLOW), server.log_tail(10)
    assert server.stop() == 0
    # What a crash after the rename would leave: bob's copy, read and moved
    # to cur/ by his mail reader, and the queue still listing him as to do.
    os.unlink(broken)
    bob = server.maildir("bob")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(bob, sub))
    name = os.path.basename(alice).replace("R0.", "R1.", 1)
    with open(os.path.join(bob, "cur", name + ":2,S"), "wb") as f:
        f.write(b"Subject: crash\n\nonce\n")
    q = pwd.getpwnam("_sealpostq")
    if os.geteuid() == 0:
        for root, dirs, files in os.walk(os.path.join(server.dir, "mail")):
            for p in dirs + files:
                os.chown(os.path.join(root, p), q.pw_uid, q.pw_gid)
    server.start()
    assert server.wait_queue_empty(), server.queue_files()
    line = "%s: to=<bob@example.test> mailbox=bob@example.test status=delivered " \
           "(its copy was there from before the restart)" % qid
    assert line in server.log_text(), server.log_tail(10)
    assert server.files("bob") == [] and len(os.listdir(os.path.join(bob, "cur"))) == 1
    assert len(server.files("alice")) == 1


def test_one_server_per_spool(server, tmp_path):
    """A second server on the same spool (other ports, same queue) would
    deliver the same queue files: it is refused with one line naming the
    pid (the lock is held until the first server's last process exits), and
    the first one restarts normally."""
    conf = tmp_path / "second.conf"
    text = server.read_conf()
    for port in (server.port, server.sub_port, server.subs_port):
        text = text.replace(":%d" % port, ":%d" % h.free_port())
    conf.write_text(text)
    r = subprocess.run([h.BIN, "serve", "-c", str(conf), "-f"], capture_output=True,
                       timeout=30 * h.SLOW)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert "is in use by another sealpost (pid %d)" % server.pid in err, err
    assert err.count("\n") == 1, err
    assert server.stop() == 0
    server.start()


def test_file_size_limit_refuses_the_message_not_the_server(make_server):
    """Under a file size limit (ulimit -f) smaller than a message, writing
    past it fails with EFBIG instead of SIGXFSZ killing the SMTP worker (and
    with it the server): that client gets 452 4.3.1, the server goes on,
    and a smaller message still arrives."""
    limit = 64 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    srv = make_server(start=False)
    srv.start(preexec_fn=small_files)
    with srv.client() as c:
        c.ehlo()
        c.mail_rcpt("big@example.org", ["alice@example.test"])
        check_reply(c.cmd("DATA"), "354")
        c.send(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 100)
        check_reply(c.cmd("."), "452 4.3.1")
        qid = c.send_message("small@example.org", ["alice@example.test"],
                             ["Subject: small", "", "fits"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    [m] = srv.read_mail("alice")
    assert m.qid == qid
    assert srv.running()


def test_unanswered_message_removed_at_start_is_logged(server):
    """A message in incoming/ at start was never answered 250 (the client
    sends it again): it is removed, and the log says which and why."""
    assert server.stop() == 0
    spool = os.path.join(server.spool, "incoming")
    qid = "0123456789abcdef"
    with open(os.path.join(spool, qid), "wb") as f:
        f.write(b"half a message")
    server.start()
    assert h.wait_until(lambda: "%s: removed: never answered 250" % qid in server.log_text(),
                        5 * h.SLOW), server.log_tail(10)
    assert not os.path.exists(os.path.join(spool, qid))


def test_spare_queue_files_are_reused_without_leftovers(make_server):
    """A small message delivered before the 250 leaves its queue file as a
    spare (incoming/sW.K) for the same worker's next message, instead of
    the file being removed and another created: the next envelope
    overwrites it and the file is cut to its length, so a short message
    after a long one carries nothing of it. A message over 64 KiB is not
    kept, and spare files are removed at start without a word."""
    server = make_server(conf={"workers": "1"})
    spool = os.path.join(server.spool, "incoming")
    long_lines = ["line %04d %s" % (i, "x" * 60) for i in range(400)]  # 28 KB
    sent, inodes = {}, set()
    with server.client() as c:
        c.ehlo()
        for i in range(6):
            lines = ["Subject: spare %d" % i, ""] + (long_lines if i % 2 == 0 else ["short %d" % i])
            qid = c.send_message("spare@example.org", ["alice@example.test"], lines)
            sent[qid] = lines
            line = "%s: removed (all recipients done before the reply)" % qid
            assert h.wait_until(lambda: line in server.log_text(), 5 * h.SLOW), server.log_tail(5)
            assert server.spare_files() == ["s0.0"], os.listdir(spool)
            inodes.add(os.stat(os.path.join(spool, "s0.0")).st_ino)
        assert len(inodes) == 1  # the same file each time
        got = {m.qid: m.body for m in server.read_mail("alice", 6)}
        assert got == {qid: h.stored_from_lines(lines) for qid, lines in sent.items()}

        big = ["Subject: big", ""] + ["%05d %s" % (i, "y" * 90) for i in range(800)]  # 77 KB
        qid = c.send_message("spare@example.org", ["alice@example.test"], big)
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    line = "%s: removed (all recipients done before the reply)" % qid
    assert h.wait_until(lambda: line in server.log_text(), 5 * h.SLOW), server.log_tail(5)
    assert server.spare_files() == [] and server.queue_files() == []
    [m] = [m for m in server.read_mail("alice", 7) if m.qid == qid]
    assert m.body == h.stored_from_lines(big)

    with server.client() as c:  # leaves a spare again
        c.ehlo()
        c.send_message("spare@example.org", ["alice@example.test"], ["Subject: again", "", "x"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    assert h.wait_until(lambda: server.spare_files() == ["s0.0"], 5 * h.SLOW), os.listdir(spool)
    assert server.stop() == 0
    server.start()
    assert os.listdir(spool) == []
    assert "never answered 250" not in server.log_text()
