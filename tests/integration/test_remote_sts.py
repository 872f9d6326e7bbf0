"""MTA-STS in delivery (RFC 8461; issue 6, item 3): with a policy in
enforce mode (served by stsfix.PolicyServer, certificates from its test
CA, which is the `outbound-ca-file`), only MX hosts that match the
policy's patterns get mail, and only over TLS with a certificate valid
for the MX name; an MX host with a bad certificate gets nothing (mail
deferred). In testing mode the same failures are logged and the mail is
delivered.
"""
import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402
from stsfix import PolicyServer, TestCA  # noqa: E402
from test_remote import WAIT, free_port_all  # noqa: E402
from test_remote_tls import make_cert  # noqa: E402

WEB = "127.0.87.1"


def policy(mode, *mx):
    return "version: STSv1\nmode: %s\n%smax_age: 86400\n" % (
        mode, "".join("mx: %s\n" % m for m in mx))


@pytest.fixture(scope="module")
def sts():
    d = tempfile.mkdtemp(prefix="sealpost-rsts-")
    os.chmod(d, 0o755)
    ca = TestCA(d)
    web_cert = ca.issue(["mta-sts.%s.example" % n for n in ("sts", "stsbad", "ststest")], "web")
    mx0 = ca.issue(["mx0.sts.example"], "mx0")
    mx1 = ca.issue(["mx1.sts.example"], "mx1")
    selfsigned = make_cert(d, "self", "mx.stsbad.example", ca=False)
    selfsigned2 = make_cert(d, "self2", "mx.ststest.example", ca=False)
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if os.path.isfile(p):
            os.chmod(p, 0o644)
    port = free_port_all(["127.0.0.%d" % i for i in range(3, 7)])
    web = PolicyServer(WEB, *web_cert).start()
    web.policy("mta-sts.sts.example", policy("enforce", "mx1.sts.example"))
    web.policy("mta-sts.stsbad.example", policy("enforce", "*.stsbad.example"))
    web.policy("mta-sts.ststest.example", policy("testing", "other.ststest.example"))
    recs = [("sts.example", "MX", "5 mx0.sts.example."), ("sts.example", "MX", "10 mx1.sts.example."),
            ("mx0.sts.example", "A", "127.0.0.3"), ("mx1.sts.example", "A", "127.0.0.4"),
            ("stsbad.example", "MX", "10 mx.stsbad.example."), ("mx.stsbad.example", "A", "127.0.0.5"),
            ("ststest.example", "MX", "10 mx.ststest.example."),
            ("mx.ststest.example", "A", "127.0.0.6")]
    for n in ("sts", "stsbad", "ststest"):
        recs += [("_mta-sts.%s.example" % n, "TXT", '"v=STSv1; id=%s1;"' % n),
                 ("mta-sts.%s.example" % n, "A", WEB)]
    dns = TestDNS(recs).start()
    sinks = {"mx0": SmtpSink("127.0.0.3", port, tls=mx0).start(),
             "mx1": SmtpSink("127.0.0.4", port, tls=mx1).start(),
             "bad": SmtpSink("127.0.0.5", port, tls=selfsigned).start(),
             "test": SmtpSink("127.0.0.6", port, tls=selfsigned2).start()}
    for s in sinks.values():
        with s.lock:
            s.connections = 0
    yield {"ca": ca.pem, "dns": dns, "port": port, "sinks": sinks}
    for s in sinks.values():
        s.stop()
    dns.stop()
    web.stop()
    shutil.rmtree(d, ignore_errors=True)


def server(make_server, sts):
    return make_server(conf={"trusted-networks": "127.0.0.0/8", "resolver": sts["dns"].addr,
                             "outbound-port": str(sts["port"]), "mta-sts": "on",
                             "dnssec-trust-anchor": "off", "outbound-ca-file": sts["ca"]})


def send(srv, rcpt):
    with srv.client() as c:
        c.ehlo()
        return c.send_message("alice@example.test", [rcpt], ["Subject: sts", "", "x"])


def status(srv, qid, word):
    pat = "%s: to=<" % qid

    def find():
        return [l for l in srv.log_text().splitlines() if pat in l and "status=" + word in l]
    assert h.wait_until(find, WAIT), "no status=%s for %s:\n%s" % (word, qid, srv.log_tail(30))
    return find()[0]


def test_enforce_skips_mx_not_in_policy(make_server, sts):
    srv = server(make_server, sts)
    qid = send(srv, "bob@sts.example")
    line = status(srv, qid, "sent")
    assert "relay=mx1.sts.example[127.0.0.4]" in line, line
    assert "tls-policy=mta-sts" in line and "verified=yes" in line, line
    assert sts["sinks"]["mx0"].connections == 0
    assert sts["sinks"]["mx1"].wait_messages(1, WAIT)[-1].tls


def test_enforce_defers_on_bad_certificate(make_server, sts):
    srv = server(make_server, sts)
    qid = send(srv, "bob@stsbad.example")
    line = status(srv, qid, "deferred")
    assert "4.7.5" in line and "not valid" in line, line
    assert sts["sinks"]["bad"].messages == []


def test_testing_mode_delivers_and_logs(make_server, sts):
    srv = server(make_server, sts)
    qid = send(srv, "bob@ststest.example")
    line = status(srv, qid, "sent")
    assert "tls-policy=may" in line, line
    log = srv.log_text()
    assert "mta-sts testing: mx.ststest.example is not in the policy" in log
    assert "mta-sts testing: the certificate of mx.ststest.example" in log
