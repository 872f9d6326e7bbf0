"""No message lost when the server is killed in the middle of remote
delivery (issue 6): a slow peer has received messages whose 250 has not
come back when the whole server is killed (SIGKILL to its process group);
after a restart every message reaches the peer at least once (a message
the peer got but whose 250 we never saw may come twice) and the queue
ends empty."""
import re

import sphelpers as h
from test_remote import WAIT, env_factory  # noqa: F401 (fixture)

N = 20


def subjects(sink):
    out = []
    for m in sink.messages:
        hit = re.search(rb"Subject: crash (\d+)", m.data)
        if hit:
            out.append(int(hit.group(1)))
    return out


def test_kill_mid_delivery_loses_nothing(env_factory):  # noqa: F811
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")],
                      extra_conf={"outbound-connections-per-domain": "2"})
    sink = env.sink("127.0.0.3")
    sink.data_delay = 0.4
    for i in range(N):
        env.send(["bob@dest.example"], subject="crash %d" % i)
    # Some messages are at the peer, the rest in flight or waiting: kill.
    assert h.wait_until(lambda: len(sink.messages) >= 4, WAIT), env.srv.log_tail(20)
    env.srv.kill()
    before = sorted(subjects(sink))
    assert len(set(before)) < N, "everything was delivered before the kill: %s" % before
    env.srv.start()
    assert h.wait_until(lambda: set(subjects(sink)) == set(range(N)), 3 * WAIT), (
        sorted(subjects(sink)), env.srv.log_tail(30))
    assert h.wait_until(lambda: not env.srv.queue_files(), WAIT), env.srv.queue_files()
    got = subjects(sink)
    dups = len(got) - N
    print("crash mid-delivery: %d messages, %d at the peer before the kill, %d duplicates"
          % (N, len(before), dups))
    assert dups <= 4, got  # at most what was in flight (2 connections x pipelined)
