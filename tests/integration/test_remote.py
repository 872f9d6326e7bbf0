"""Outbound delivery (issue 6, items 1-2): the remote process routes mail
for other domains by MX (preference, fallback, implicit MX, null MX,
domain literals) and speaks SMTP to the peers (pipelining, several
messages over one connection, 4xx/5xx per recipient, SMTPUTF8 and SIZE).

Peers are SmtpSink instances (smtpsink.py, aiosmtpd) on 127.0.0.x at the
server's `outbound-port`; DNS is a TestDNS (dnsserver.py) serving zones
under .example, named by `resolver`. Mail enters from a trusted network
(127.0.0.0/8). The remote process's verdicts are read from the server
log: one "to=<...> relay=... status=sent|deferred|bounced" line per
recipient and attempt.
"""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402

SENDER = "alice@example.test"
WAIT = 20 * h.SLOW


def free_port_all(addrs):
    """A TCP port free on every one of the loopback addresses."""
    import socket
    for _ in range(50):
        p = h.free_port()
        ok = True
        for a in addrs:
            s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
            try:
                s.bind((a, p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return p
    raise OSError("no common free port")


class Env:
    """TestDNS + sinks + a server wired to them."""

    def __init__(self, make_server, records, extra_conf=None):
        self.dns = TestDNS(records).start()
        self.port = free_port_all(["127.0.0.%d" % i for i in range(2, 8)] + ["::1"])
        self.sinks = []
        conf = {"trusted-networks": "127.0.0.0/8", "resolver": self.dns.addr,
                "outbound-port": str(self.port), "dnssec-trust-anchor": "off",
                "mta-sts": "off"}
        conf.update(extra_conf or {})
        self.srv = make_server(conf=conf)

    def sink(self, host, **kw):
        s = SmtpSink(host, self.port, **kw).start()
        with s.lock:
            s.connections = 0  # the controller's own start-up probe
        self.sinks.append(s)
        return s

    def send(self, rcpts, subject="test", body="hello", sender=SENDER, params=""):
        with self.srv.client() as c:
            c.ehlo()
            return c.send_message(sender, rcpts, ["From: <%s>" % sender, "To: <%s>" % rcpts[0],
                                                  "Subject: " + subject, ""] + body.split("\r\n"),
                                  mail_params=params)

    def status_lines(self, qid):
        return [l for l in self.srv.log_text().splitlines()
                if "%s: to=<" % qid in l and " status=" in l]

    def wait_status(self, qid, status, n=1):
        pat = "status=%s" % status
        ok = h.wait_until(lambda: sum(pat in l for l in self.status_lines(qid)) >= n, WAIT)
        assert ok, "no %d '%s' line(s) for %s:\n%s" % (n, pat, qid, self.srv.log_tail(40))
        return [l for l in self.status_lines(qid) if pat in l]

    def close(self):
        for s in self.sinks:
            s.stop()
        self.dns.stop()


@pytest.fixture
def env_factory(make_server):
    made = []

    def make(records, extra_conf=None):
        e = Env(make_server, records, extra_conf)
        made.append(e)
        return e
    yield make
    for e in made:
        e.close()


def test_mx_preference_and_fallback(env_factory):
    # mx1 (preference 10) refuses connections: nothing listens on 127.0.0.2.
    env = env_factory([("dest.example", "MX", "10 mx1.dest.example."),
                       ("dest.example", "MX", "20 mx2.dest.example."),
                       ("dest.example", "MX", "30 mx3.dest.example."),
                       ("mx1.dest.example", "A", "127.0.0.2"),
                       ("mx2.dest.example", "A", "127.0.0.3"),
                       ("mx3.dest.example", "A", "127.0.0.4")])
    s2, s3 = env.sink("127.0.0.3"), env.sink("127.0.0.4")
    qid = env.send(["bob@dest.example"], subject="fallback")
    line = env.wait_status(qid, "sent")[0]
    assert "relay=mx2.dest.example[127.0.0.3]:%d" % env.port in line, line
    msgs = s2.wait_messages(1, WAIT)
    assert msgs[0].rcpts == ["bob@dest.example"] and msgs[0].mail_from == SENDER
    assert b"Subject: fallback" in msgs[0].data
    assert s3.messages == [] and s3.connections == 0
    log = env.srv.log_text()
    assert re.search(r"attempt to mx1\.dest\.example\[127\.0\.0\.2\]:\d+ failed: 4\.4\.1", log)
    assert h.wait_until(lambda: not env.srv.queue_files(), WAIT), env.srv.queue_files()


def test_implicit_mx(env_factory):
    env = env_factory([("plain.example", "A", "127.0.0.5")])
    s = env.sink("127.0.0.5")
    qid = env.send(["carl@plain.example"])
    line = env.wait_status(qid, "sent")[0]
    assert "relay=plain.example[127.0.0.5]" in line
    assert s.wait_messages(1, WAIT)[0].rcpts == ["carl@plain.example"]


def test_null_mx_fails_for_good(env_factory):
    env = env_factory([("nullmx.example", "MX", "0 ."), ("nullmx.example", "A", "127.0.0.5")])
    s = env.sink("127.0.0.5")
    qid = env.send(["nobody@nullmx.example"])
    line = env.wait_status(qid, "bounced")[0]
    assert "5.1.10" in line and "null MX" in line, line
    assert s.connections == 0


def test_nxdomain_fails_for_good(env_factory):
    env = env_factory([("other.example", "A", "127.0.0.5")])
    qid = env.send(["x@missing.example"])
    assert "5.1.2" in env.wait_status(qid, "bounced")[0]


def test_servfail_defers(env_factory):
    env = env_factory([("broken.example", "A", "127.0.0.5")])
    env.dns.servfail.add("broken.example")
    qid = env.send(["x@broken.example"])
    assert "4.4.3" in env.wait_status(qid, "deferred")[0]


def test_rcpt_5xx_bounces_4xx_defers_and_accepted_gets_mail(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    s = env.sink("127.0.0.3")
    s.rcpt_script["gone@dest.example"] = ["550 5.1.1 no such user"]
    s.rcpt_script["busy@dest.example"] = ["451 4.3.0 try later"]
    qid = env.send(["ok@dest.example", "gone@dest.example", "busy@dest.example"])
    bounced = env.wait_status(qid, "bounced")[0]
    assert "to=<gone@dest.example>" in bounced
    assert "mx.dest.example[127.0.0.3] said: 550 5.1.1 no such user" in bounced, bounced
    deferred = env.wait_status(qid, "deferred")[0]
    assert "to=<busy@dest.example>" in deferred and "451 4.3.0" in deferred
    assert "to=<ok@dest.example>" in env.wait_status(qid, "sent")[0]
    assert s.wait_messages(1, WAIT)[0].rcpts == ["ok@dest.example"]


def test_several_messages_share_one_connection(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")],
                      {"outbound-connections-per-domain": "1"})
    s = env.sink("127.0.0.3")
    qids = [env.send(["r%d@dest.example" % i], subject="m%d" % i) for i in range(4)]
    for q in qids:
        env.wait_status(q, "sent")
    # One more while the connection idles (it waits a few seconds).
    q5 = env.send(["r5@dest.example"], subject="m5")
    env.wait_status(q5, "sent")
    assert len(s.wait_messages(5, WAIT)) == 5
    assert s.connections == 1, "%d connections for 5 messages" % s.connections
    assert len({m.conn for m in s.messages}) == 1


def test_dot_stuffing_and_body_intact(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    s = env.sink("127.0.0.3")
    lines = ["Subject: dots", "", "line one", ".leading dot", "..two dots", ".", "end"]
    with env.srv.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@dest.example"], lines)
    env.wait_status(qid, "sent")
    data = s.wait_messages(1, WAIT)[0].data
    # The sink un-stuffs: what it got is the message as submitted.
    assert data.endswith(b"\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n"), data


def test_domain_literal(env_factory):
    env = env_factory([])
    s = env.sink("127.0.0.6")
    qid = env.send(["user@[127.0.0.6]"])
    assert "relay=[127.0.0.6][127.0.0.6]" in env.wait_status(qid, "sent")[0]
    assert s.wait_messages(1, WAIT)[0].rcpts == ["user@[127.0.0.6]"]


def test_smtputf8_needed_but_not_offered(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    env.sink("127.0.0.3", smtputf8=False)
    with env.srv.client() as c:
        c.ehlo()
        qid = c.send_message("jörg@example.test".replace("jörg", "alice"), ["bøb@dest.example"],
                             ["Subject: utf8", "", "x"], mail_params=" SMTPUTF8")
    line = env.wait_status(qid, "bounced")[0]
    assert "5.6.7" in line and "SMTPUTF8" in line, line


def test_size_limit_of_peer(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    s = env.sink("127.0.0.3", size=1000)
    qid = env.send(["bob@dest.example"], body="\r\n".join(["x" * 70] * 40))
    line = env.wait_status(qid, "bounced")[0]
    assert "5.3.4" in line, line
    assert s.messages == []


def test_ipv6_mx_host(env_factory):
    env = env_factory([("six.example", "MX", "10 mx6.six.example."),
                       ("mx6.six.example", "AAAA", "::1")])
    s = env.sink("::1")
    qid = env.send(["bob@six.example"])
    assert "relay=mx6.six.example[::1]:%d" % env.port in env.wait_status(qid, "sent")[0]
    assert s.wait_messages(1, WAIT)[0].rcpts == ["bob@six.example"]


def test_helo_when_ehlo_is_refused(env_factory):
    env = env_factory([("old.example", "A", "127.0.0.5")])
    s = env.sink("127.0.0.5", ehlo=False)
    qid = env.send(["bob@old.example"])
    env.wait_status(qid, "sent")
    m = s.wait_messages(1, WAIT)[0]
    assert m.rcpts == ["bob@old.example"] and m.mail_options == []


def test_8bitmime_announced(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    s = env.sink("127.0.0.3")
    with env.srv.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@dest.example"],
                             ["Subject: 8bit", "", "caf\u00e9".encode("utf-8")],
                             mail_params=" BODY=8BITMIME")
    env.wait_status(qid, "sent")
    m = s.wait_messages(1, WAIT)[0]
    assert "BODY=8BITMIME" in m.mail_options and "caf\u00e9".encode("utf-8") in m.data


def test_mail_loop_is_bounced(env_factory):
    env = env_factory([("dest.example", "MX", "10 mx.dest.example."),
                       ("mx.dest.example", "A", "127.0.0.3")])
    s = env.sink("127.0.0.3")
    hops = ["Received: from hop%d.example by hop%d.example; Tue, 1 Jan 2030 00:00:00 +0000"
            % (i, i + 1) for i in range(50)]
    with env.srv.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@dest.example"], hops + ["Subject: loop", "", "x"])
    line = env.wait_status(qid, "bounced")[0]
    assert "5.4.6" in line and "51 Received" in line, line
    assert s.connections == 0


def test_mx_pointing_back_to_us_is_not_used(env_factory):
    env = env_factory([("loop.example", "MX", "10 mx.loop.example."),
                       ("loop.example", "MX", "20 mx2.loop.example."),
                       ("mx.loop.example", "A", "127.0.0.4"),
                       ("mx2.loop.example", "A", "127.0.0.3")])
    me = env.sink("127.0.0.4", hostname=h.HOSTNAME)  # greets with the server's own name
    other = env.sink("127.0.0.3")
    qid = env.send(["bob@loop.example"])
    assert "relay=mx2.loop.example[127.0.0.3]" in env.wait_status(qid, "sent")[0]
    assert "5.4.6 mail for loop.example loops back to myself" in env.srv.log_text()
    assert me.messages == [] and len(other.wait_messages(1, WAIT)) == 1
