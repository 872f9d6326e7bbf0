"""Durability under crashes: concurrent senders while the whole server
process group is killed with SIGKILL at random moments and restarted on the
same directory. Every message that got a 250 must end up in the Maildir at
least once and at most twice, and no delivered file may be truncated."""
import hashlib
import random
import re
import socket
import threading
import time

import pytest

import sphelpers as h
from sphelpers import ConnectionClosed

SENDERS = 4
KILLS = 22
TIME_BUDGET = 75  # seconds for the kill/restart phase, whatever happens
SUBJECT_RE = re.compile(rb"^Subject: crash (\S+)$", re.M)


def body_lines(token):
    """Deterministic content for a token: 5 to ~1500 lines, then a trailer."""
    n = 5 + int(hashlib.sha256(token.encode()).hexdigest()[:6], 16) % 1500
    lines = ["Subject: crash " + token, "From: crash@example.org", ""]
    lines += ["%s line %05d %s" % (token, i, "x" * 50) for i in range(n)]
    lines.append("TRAILER " + token)
    return lines


class Sender(threading.Thread):
    def __init__(self, idx, port, stop, acked, lock, unexpected):
        super().__init__(daemon=True)
        self.idx, self.port, self.stop, self.acked = idx, port, stop, acked
        self.lock, self.unexpected = lock, unexpected
        self.seq = 0
        self.tried = 0

    def run(self):
        c = None
        for _ in range(100000):  # bounded; normally ended by stop
            if self.stop.is_set():
                break
            try:
                if c is None:
                    c = h.Client(self.port, timeout=5)
                    if c.cmd("EHLO crash%d.example.org" % self.idx).code != 250:
                        raise ConnectionClosed("no EHLO")
                self.seq += 1
                token = "t%d-%d-%s" % (self.idx, self.seq, random.getrandbits(40))
                self.tried += 1
                rep = c.cmd("MAIL FROM:<crash%d@example.org>" % self.idx)
                if rep.code != 250:
                    self.note(rep)
                    continue
                rep = c.cmd("RCPT TO:<bob@example.test>")
                if rep.code != 250:
                    self.note(rep)
                    c.cmd("RSET")
                    continue
                rep = c.cmd("DATA")
                if rep.code != 354:
                    self.note(rep)
                    continue
                c.send(h.wire_from_lines(body_lines(token)))
                rep = c.reply()
                if rep.code == 250:
                    h.queued_id(rep)
                    with self.lock:
                        self.acked.add(token)
                else:
                    self.note(rep)
            except (OSError, ConnectionClosed, socket.timeout):
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.05)
        if c is not None:
            c.close()

    def note(self, rep):
        # A crash may legitimately produce temporary (4xx) failures; 5xx is a bug.
        if rep.code >= 500:
            with self.lock:
                self.unexpected.append(repr(rep))


@pytest.mark.slow
def test_kill9_at_random_moments(make_server):
    srv = make_server(conf={"workers": "2"})
    stop = threading.Event()
    acked, lock, unexpected = set(), threading.Lock(), []
    senders = [Sender(i, srv.port, stop, acked, lock, unexpected) for i in range(SENDERS)]
    for s in senders:
        s.start()
    rnd = random.Random()
    t0 = time.monotonic()
    kills = 0
    try:
        while kills < KILLS and time.monotonic() - t0 < TIME_BUDGET:
            time.sleep(rnd.uniform(0.15, 1.2))
            srv.kill()
            kills += 1
            if rnd.random() < 0.3:
                time.sleep(rnd.uniform(0.0, 0.3))  # clients hit a closed port meanwhile
            srv.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for s in senders:
            s.join(timeout=15)
    assert kills >= 20, "only %d kills within the time budget" % kills
    assert not any(s.is_alive() for s in senders)
    assert not unexpected, "permanent failures during the crash test: %s" % unexpected[:5]
    assert len(acked) >= 20, "too few messages were accepted (%d) to judge" % len(acked)

    assert srv.running()
    assert srv.wait_queue_empty(60), "queue did not drain: %s" % srv.queue_files()[:10]
    time.sleep(0.5)
    counts = {}
    for path in srv.files("bob"):
        data = h.read_bytes(path)
        m = h.parse_delivered(data)
        sm = SUBJECT_RE.search(m.body)
        assert sm, "delivered file without a crash Subject: %s" % path
        token = sm.group(1).decode()
        expected = h.stored_from_lines(body_lines(token))
        assert m.body == expected, "delivered file %s is truncated or altered (%d of %d bytes)" % (
            path, len(m.body), len(expected))
        counts[token] = counts.get(token, 0) + 1
    lost = sorted(t for t in acked if t not in counts)
    assert not lost, "%d message(s) got 250 but were never delivered: %s" % (len(lost), lost[:10])
    over = {t: n for t, n in counts.items() if n > 2}
    assert not over, "delivered more than twice: %s" % over
    print("crash test: %d kills, %d sent, %d acked, %d delivered files, %d duplicates" % (
        kills, sum(s.tried for s in senders), len(acked), sum(counts.values()),
        sum(1 for n in counts.values() if n == 2)))
