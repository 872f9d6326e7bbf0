"""DANE for outbound SMTP (RFC 7672; issue 6, item 3): with the test
zone's DS as `dnssec-trust-anchor`, libunbound validates the zone served
by SignedDNS (dnssec_zone.py, signed with ldns-signzone). A peer whose
certificate matches its DNSSEC-valid TLSA record (DANE-EE, a self-signed
certificate) gets the mail; a mismatching one does not (deferred, 4.7.5);
a TLSA answer that fails validation (bogus) defers without trying the
host in clear or unauthenticated; a DANE host that does not offer
STARTTLS is not sent mail in clear; a host without TLSA records in the
signed zone gets opportunistic TLS; a bogus MX answer defers. Without the
trust anchor nothing is secure and TLSA records are not used at all.
"""
import hashlib
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnssec_zone import SignedDNS, SignedZone  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402
from test_remote import WAIT, free_port_all  # noqa: E402
from test_remote_tls import make_cert  # noqa: E402

ZONE = "dane.example"


def spki_sha256(cert_path):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (TLSA 3 1 1)."""
    import subprocess
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-noout", "-pubkey"],
                         capture_output=True, check=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


class Dane:
    pass


@pytest.fixture(scope="module")
def dane(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("dane"))
    os.chmod(d, 0o755)
    good = make_cert(d, "good", "mx." + ZONE, ca=False)
    other = make_cert(d, "other", "mxbad." + ZONE, ca=False)
    port = free_port_all(["127.0.0.%d" % i for i in range(3, 9)])
    tlsa = "3 1 1 " + spki_sha256(good[0])
    recs = []
    for label, host, addr in (("@", "mx", 3), ("bad", "mxbad", 4), ("bogus", "mxbogus", 5),
                              ("notlsa", "mxnotlsa", 6), ("plain", "mxplain", 7),
                              ("bogusmx", "mxbogusmx", 8)):
        recs += [(label, "MX", "10 %s" % host), (host, "A", "127.0.0.%d" % addr)]
        if label != "notlsa":
            recs.append(("_%d._tcp.%s" % (port, host), "TLSA", tlsa))
    zone = SignedZone(d, ZONE, recs)
    zone.corrupt("_%d._tcp.mxbogus" % port, "TLSA")
    zone.corrupt("bogusmx", "MX")
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    dns = SignedDNS(zone).start()
    x = Dane()
    x.zone, x.dns, x.port = zone, dns, port
    x.sinks = {
        "mx": SmtpSink("127.0.0.3", port, tls=good).start(),
        "mxbad": SmtpSink("127.0.0.4", port, tls=other).start(),
        "mxbogus": SmtpSink("127.0.0.5", port, tls=good).start(),
        "mxnotlsa": SmtpSink("127.0.0.6", port, tls=good).start(),
        "mxplain": SmtpSink("127.0.0.7", port).start(),
        "mxbogusmx": SmtpSink("127.0.0.8", port, tls=good).start(),
    }
    for s in x.sinks.values():
        with s.lock:
            s.connections = 0
    yield x
    for s in x.sinks.values():
        s.stop()
    dns.stop()


def server(make_server, dane, anchor=True):
    return make_server(conf={"trusted-networks": "127.0.0.0/8", "resolver": dane.dns.addr,
                             "outbound-port": str(dane.port), "mta-sts": "off",
                             "dnssec-trust-anchor": dane.zone.ta_path if anchor else "off"})


def send(srv, rcpt):
    with srv.client() as c:
        c.ehlo()
        return c.send_message("alice@example.test", [rcpt], ["Subject: dane", "", "x"])


def status(srv, qid, word):
    pat = "%s: to=<" % qid

    def find():
        return [l for l in srv.log_text().splitlines() if pat in l and "status=" + word in l]
    assert h.wait_until(find, WAIT), "no status=%s for %s:\n%s" % (word, qid, srv.log_tail(30))
    return find()[0]


def test_matching_tlsa_delivers(make_server, dane):
    srv = server(make_server, dane)
    assert "trust anchor" in srv.log_text() and "DANE on" in srv.log_text()
    n = len(dane.sinks["mx"].messages)
    qid = send(srv, "bob@" + ZONE)
    line = status(srv, qid, "sent")
    assert "tls-policy=dane" in line and "verified=yes" in line, line
    assert "DNSSEC-valid TLSA" in line, line
    msgs = dane.sinks["mx"].wait_messages(n + 1, WAIT)
    assert msgs[-1].tls and msgs[-1].rcpts == ["bob@" + ZONE]


def test_mismatching_tlsa_defers(make_server, dane):
    srv = server(make_server, dane)
    qid = send(srv, "bob@bad." + ZONE)
    line = status(srv, qid, "deferred")
    assert "4.7.5" in line and "does not match its TLSA records" in line, line
    assert dane.sinks["mxbad"].messages == []


def test_bogus_tlsa_defers_without_connecting(make_server, dane):
    srv = server(make_server, dane)
    qid = send(srv, "bob@bogus." + ZONE)
    line = status(srv, qid, "deferred")
    assert "4.7.5 TLSA lookup" in line and "bogus" in line, line
    assert dane.sinks["mxbogus"].connections == 0


def test_dane_host_without_starttls_gets_no_mail(make_server, dane):
    srv = server(make_server, dane)
    qid = send(srv, "bob@plain." + ZONE)
    line = status(srv, qid, "deferred")
    assert "4.7.4" in line and "tls-policy=dane" in line, line
    assert dane.sinks["mxplain"].messages == []


def test_secure_without_tlsa_is_opportunistic(make_server, dane):
    srv = server(make_server, dane)
    qid = send(srv, "bob@notlsa." + ZONE)
    line = status(srv, qid, "sent")
    assert "tls-policy=may" in line and "tls=TLSv1" in line, line


def test_bogus_mx_defers(make_server, dane):
    srv = server(make_server, dane)
    qid = send(srv, "bob@bogusmx." + ZONE)
    line = status(srv, qid, "deferred")
    assert "4.4.3" in line and "DNSSEC" in line, line
    assert dane.sinks["mxbogusmx"].connections == 0


def test_without_trust_anchor_tlsa_is_not_used(make_server, dane):
    srv = server(make_server, dane, anchor=False)
    n = len(dane.sinks["mxbad"].messages)
    qid = send(srv, "bob@bad." + ZONE)
    line = status(srv, qid, "sent")
    assert "tls-policy=may" in line, line
    assert len(dane.sinks["mxbad"].wait_messages(n + 1, WAIT)) == n + 1
