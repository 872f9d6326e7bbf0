"""Sender authentication end to end (issue 5): SPF, DKIM, DMARC and
Authentication-Results on mail arriving over SMTP, and DKIM signatures on
mail leaving.

Each server asks a TestDNS (dnsserver.py, zones under .example) that
publishes SPF, DKIM and DMARC records for a few sender domains:

    good.example      SPF allows 127.0.0.0/8, DKIM key, DMARC p=reject
    dkimonly.example  SPF -all, DKIM key, DMARC p=reject (pass only via DKIM)
    strict.example    SPF -all, no key, DMARC p=reject
    quar.example      SPF -all, DMARC p=quarantine
    spffail.example   SPF -all, no DMARC record
    tmp.example       SPF allows us, the DMARC lookup fails (SERVFAIL)

Messages are signed with Debian's python3-dkim (dkimpy), an independent
implementation; outbound signatures made by sealpost are verified with it
too (its DNS answered from the same zone data, never the network). Clients
connect from 127.0.0.1, which is not in trusted-networks here.
"""
import base64
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402

dkim = pytest.importorskip("dkim")

WAIT = 20 * h.SLOW
RCPT = "bob@example.test"


def txt_chunks(text):
    """A TXT value in zone form, split into strings of at most 255 octets."""
    return " ".join('"%s"' % text[i:i + 250] for i in range(0, len(text), 250))


def rsa_key(tmp):
    """(private PEM bytes, p= base64) of a fresh RSA-2048 key."""
    key = os.path.join(tmp, "rsa.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    with open(key, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("mailauth"))
    pem, pub = rsa_key(tmp)
    key_txt = txt_chunks("v=DKIM1; k=rsa; p=" + pub)
    records = [
        ("good.example", "TXT", '"v=spf1 ip4:127.0.0.0/8 -all"'),
        ("sel._domainkey.good.example", "TXT", key_txt),
        ("_dmarc.good.example", "TXT", '"v=DMARC1; p=reject"'),
        ("dkimonly.example", "TXT", '"v=spf1 -all"'),
        ("sel._domainkey.dkimonly.example", "TXT", key_txt),
        ("_dmarc.dkimonly.example", "TXT", '"v=DMARC1; p=reject"'),
        ("strict.example", "TXT", '"v=spf1 -all"'),
        ("_dmarc.strict.example", "TXT", '"v=DMARC1; p=reject"'),
        ("quar.example", "TXT", '"v=spf1 -all"'),
        ("_dmarc.quar.example", "TXT", '"v=DMARC1; p=quarantine"'),
        ("spffail.example", "TXT", '"v=spf1 -all exp=exp.spffail.example"'),
        ("exp.spffail.example", "TXT", '"%{i} is not a mail server of %{d}"'),
        ("tmp.example", "TXT", '"v=spf1 ip4:127.0.0.1 -all"'),
        ("_dmarc.tmp.example", "TXT", '"v=DMARC1; p=reject"'),
        # internationalized: b\u00fccher.example as its A-label
        ("xn--bcher-kva.example", "TXT", '"v=spf1 -all"'),
        ("_dmarc.xn--bcher-kva.example", "TXT", '"v=DMARC1; p=reject"'),
        # SPF and the key answer SERVFAIL, the policy says reject
        ("_dmarc.unsure.example", "TXT", '"v=DMARC1; p=reject"'),
        ("sel._domainkey.unsure.example", "TXT", key_txt),
        # more TXT records at _dmarc than a DNS answer passes on
        ("many.example", "TXT", '"v=spf1 -all"'),
        ("_dmarc.many.example", "TXT", '"v=DMARC1; p=reject"'),
    ] + [("_dmarc.many.example", "TXT", '"a%d"' % i) for i in range(66)]
    dns = TestDNS(records).start()
    dns.servfail.add("_dmarc.tmp.example")
    dns.servfail.update({"unsure.example", "sel._domainkey.unsure.example"})
    dns.pem = pem
    dns.records = records
    yield dns
    dns.stop()


@pytest.fixture
def server(make_server, zone):
    def make(**conf):
        c = {"resolver": zone.addr}
        c.update(conf)
        return make_server(conf=c)
    return make


def message(sender_domain, subject="hello", body="Hello there.\r\n", extra=()):
    lines = ["From: Sender <someone@%s>" % sender_domain, "To: <%s>" % RCPT,
             "Subject: " + subject, "Date: Sat, 05 Dec 2026 12:00:00 +0000",
             "Message-ID: <%s@%s>" % (subject.replace(" ", "."), sender_domain)]
    return ("\r\n".join(list(extra) + lines) + "\r\n\r\n" + body).encode()


def signed(zone, msg, domain):
    sig = dkim.sign(msg, b"sel", domain.encode(), zone.pem,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + msg


def send(srv, sender, raw, expect="250"):
    """MAIL/RCPT/DATA with raw (CRLF message bytes); returns the DATA reply."""
    with srv.client() as c:
        c.ehlo("mta.sender.example")
        c.mail_rcpt(sender, [RCPT])
        rep = c.data(_wire(raw))
        h.check_reply(rep, expect)
        return rep


def _wire(raw):
    """raw (ending in CRLF) dot-stuffed and framed for DATA."""
    assert raw.endswith(b"\r\n")
    lines = raw[:-2].split(b"\r\n")
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def authres(delivered):
    """Our A-R field of a delivered message, unfolded."""
    assert delivered.authres, "no Authentication-Results in front: %r" % delivered.raw[:500]
    text = delivered.authres
    return " ".join(text.split())


def test_spf_dkim_dmarc_pass(server, zone):
    srv = server()
    send(srv, "someone@good.example", signed(zone, message("good.example"), "good.example"))
    d = srv.read_mail("bob", timeout=WAIT)[0]
    ar = authres(d)
    assert ar.startswith("Authentication-Results: %s;" % h.HOSTNAME), ar
    assert "spf=pass" in ar and "smtp.mailfrom=someone@good.example" in ar, ar
    assert "dkim=pass" in ar and "header.d=good.example" in ar and "header.s=sel" in ar, ar
    assert "dmarc=pass" in ar and "header.from=good.example" in ar, ar
    # the message itself is untouched, signature included
    assert b"DKIM-Signature:" in d.body and b"Hello there." in d.body
    rec = ("ip=127.0.0.1 from=good.example policy-domain=good.example p=reject sp=reject "
           "adkim=r aspf=r pct=100 disposition=none dmarc=pass spf=good.example/pass "
           "spf-aligned=yes dkim=good.example/sel/pass dkim-aligned=yes")
    assert "auth: " + rec in srv.log_text()
    # the same line is the record kept for DMARC aggregate reports
    day = [f for f in os.listdir(os.path.join(srv.spool, "dmarc")) if f.startswith("records-")]
    assert len(day) == 1, day
    with open(os.path.join(srv.spool, "dmarc", day[0])) as f:
        lines = f.read().splitlines()
    assert len(lines) == 1 and lines[0].split(" ", 1)[1] == rec, lines


def test_dmarc_pass_through_dkim_only(server, zone):
    srv = server()
    msg = signed(zone, message("dkimonly.example"), "dkimonly.example")
    send(srv, "someone@dkimonly.example", msg)
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert "spf=fail" in ar and "dkim=pass" in ar and "dmarc=pass" in ar, ar


def test_dmarc_reject(server, zone):
    srv = server()
    rep = send(srv, "someone@strict.example", message("strict.example"), expect="550 5.7.1")
    assert "DMARC" in rep.text and "strict.example" in rep.text, rep
    assert srv.files("bob") == []


def test_tampered_dkim_body_fails_and_is_rejected(server, zone):
    srv = server()
    msg = signed(zone, message("dkimonly.example"), "dkimonly.example")
    msg = msg.replace(b"Hello there.", b"Hello th3re.")
    send(srv, "someone@dkimonly.example", msg, expect="550 5.7.1")
    log = srv.log_text()
    assert "disposition=reject dmarc=fail" in log and "dkim=dkimonly.example/sel/fail" in log


def test_dmarc_quarantine_goes_to_junk(server, zone):
    srv = server()
    send(srv, "someone@quar.example", message("quar.example"))
    junk = os.path.join(srv.maildir("bob"), ".Junk", "new")
    assert h.wait_until(lambda: os.path.isdir(junk) and os.listdir(junk), WAIT), \
        srv.log_tail(20)
    data = h.read_bytes(os.path.join(junk, os.listdir(junk)[0]))
    ar = authres(h.parse_delivered(data))
    assert "dmarc=fail" in ar and "header.from=quar.example" in ar, ar
    assert srv.files("bob") == []
    assert "folder=Junk" in srv.log_text()


def test_dmarc_policy_mark_only_records(server, zone):
    srv = server(**{"dmarc-policy": "mark"})
    send(srv, "someone@strict.example", message("strict.example"))
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert "spf=fail" in ar and "dkim=none" in ar and "dmarc=fail" in ar, ar


def test_spf_fail_reject_option(server, zone):
    srv = server(**{"spf-fail": "reject"})
    rep = send(srv, "someone@spffail.example", message("spffail.example"),
               expect="550 5.7.23")
    assert "127.0.0.1 is not a mail server of spffail.example" in rep.text, rep
    # without the option an SPF fail alone (no DMARC record) is only recorded
    srv2 = server()
    send(srv2, "someone@spffail.example", message("spffail.example"))
    ar = authres(srv2.read_mail("bob", timeout=WAIT)[0])
    assert "spf=fail" in ar and "dmarc=none" in ar, ar


def test_dmarc_dns_failure_is_temperror_and_accepted(server, zone):
    srv = server()
    send(srv, "someone@tmp.example", message("tmp.example"))
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert "spf=pass" in ar and "dmarc=temperror" in ar, ar


def test_forged_authentication_results_removed(server, zone):
    srv = server()
    forged = ["Authentication-Results: %s; dkim=pass header.d=bank.example" % h.HOSTNAME,
              "authentication-results :  (a comment) %s ;\r\n\tdmarc=pass"
              % h.HOSTNAME.upper(),
              "Authentication-Results: \"%s\"; spf=pass" % h.HOSTNAME,
              "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@y.example"]
    send(srv, "someone@good.example", message("good.example", extra=forged))
    d = srv.read_mail("bob", timeout=WAIT)[0]
    body = d.body.decode()
    assert "bank.example" not in body and "dmarc=pass\r" not in body, body
    assert body.count("Authentication-Results") == 1 and "other.example; spf=pass" in body
    assert "header.d=bank.example" not in authres(d)
    assert "removed 3 Authentication-Results field(s)" in srv.log_text()


def test_authenticated_submission_marked(server, zone):
    srv = server()
    c = h.Client(srv.sub_port)
    c.ehlo()
    h.check_reply(c.cmd("STARTTLS"), "220")
    c.sock = h.tls_context(srv).wrap_socket(c.sock, server_hostname=h.HOSTNAME)
    c.ehlo()
    import test_auth  # noqa: E402 (its helpers)
    test_auth.auth_plain(c, "alice@example.test", "alice-secret")
    c.send_message("alice@example.test", [RCPT], ["From: <alice@example.test>",
                                                   "To: <%s>" % RCPT, "Subject: s", "", "hi"])
    c.close()
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert ar == "Authentication-Results: %s; auth=pass smtp.auth=alice@example.test" % (
        h.HOSTNAME), ar


def test_header_section_too_large_refused(server, zone):
    srv = server()
    big = ["X-Filler-%d: %s" % (i, "x" * 900) for i in range(300)]
    send(srv, "someone@good.example", message("good.example", extra=big), expect="552 5.3.4")


SIGNER = "signer.example"  # under .example: sealpost's own resolver can ask for its keys


def keygen(tmp, selector, *extra):
    """`sealpost dkim keygen`: (key path, TXT value as published, zone form)."""
    key = os.path.join(tmp, selector + ".key")
    r = subprocess.run([h.BIN, "dkim", "keygen", "--domain", SIGNER, "--selector", selector,
                        "--key", key] + list(extra), capture_output=True, text=True, check=True)
    line = r.stdout.strip()
    assert line.startswith("%s._domainkey.%s. IN TXT (" % (selector, SIGNER)), line
    zone_form = line[line.index("(") + 1:line.rindex(")")].strip()
    strings = zone_form.split('" "')
    value = "".join(s.strip('"') for s in strings)
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    return key, value, zone_form


def test_outbound_dual_signed_verifies_in_dkimpy(make_server, tmp_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from smtpsink import SmtpSink
    import test_remote
    port = test_remote.free_port_all(["127.0.0.3"])
    tmp = str(tmp_path)
    rsa, rsa_txt, rsa_zone = keygen(tmp, "rsa2026")
    ed, ed_txt, ed_zone = keygen(tmp, "ed2026", "--ed25519")
    dns = TestDNS([("dest.example", "MX", "10 mx.dest.example."),
                   ("mx.dest.example", "A", "127.0.0.3")]).start()
    sink = SmtpSink("127.0.0.3", port).start()
    try:
        srv = make_server(conf={"resolver": dns.addr, "outbound-port": str(port),
                                "trusted-networks": "127.0.0.0/8", "mta-sts": "off"},
                          start=False)
        with open(srv.conf, "a") as f:
            f.write("dkim sign %s selector rsa2026 key %s\n" % (SIGNER, rsa))
            f.write("dkim sign %s selector ed2026 key %s\n" % (SIGNER, ed))
        assert srv.cli("check").returncode == 0
        srv.start()
        with srv.client() as c:
            c.ehlo()
            c.send_message("alice@example.test", ["carl@dest.example"],
                           ["From: Alice <alice@%s>" % SIGNER, "To: <carl@dest.example>",
                            "Subject: signed on the way out", "", "Caf\u00e9 body.", "",
                            "", ""])
        msg = sink.wait_messages(1, WAIT)[0].data
        assert msg.count(b"DKIM-Signature:") == 2, msg[:600]
        keys = {("rsa2026._domainkey.%s." % SIGNER).encode(): rsa_txt.encode(),
                ("ed2026._domainkey.%s." % SIGNER).encode(): ed_txt.encode()}

        def dnsfunc(name, timeout=5):
            return keys.get(name if name.endswith(b".") else name + b".", b"")
        d = dkim.DKIM(msg)
        assert d.verify(idx=0, dnsfunc=dnsfunc), d
        assert d.verify(idx=1, dnsfunc=dnsfunc), d
        head = re.sub(rb"\r\n[ \t]+", b" ", msg.split(b"\r\n\r\n")[0])
        algos = sorted(re.findall(rb"(?m)^DKIM-Signature:.*?\ba=([a-z0-9-]+);", head))
        assert algos == [b"ed25519-sha256", b"rsa-sha256"], algos
        # the same message read back by sealpost's own verifier, through the zone
        dns.add("rsa2026._domainkey." + SIGNER, "TXT", rsa_zone)
        dns.add("ed2026._domainkey." + SIGNER, "TXT", ed_zone)
        r = subprocess.run([h.BIN, "dkim", "verify", "--resolver", dns.addr], input=msg,
                           capture_output=True, check=True)
        lines = sorted(r.stdout.decode().splitlines())
        assert lines == ["d=%s s=ed2026 pass" % SIGNER, "d=%s s=rsa2026 pass" % SIGNER], \
            lines
        # tampering after signing breaks both, in dkimpy too
        bad = msg.replace(b"Subject: signed on the way out", b"Subject: signed on the way in")
        assert not dkim.DKIM(bad).verify(idx=0, dnsfunc=dnsfunc)
        assert not dkim.DKIM(bad).verify(idx=1, dnsfunc=dnsfunc)
    finally:
        sink.stop()
        dns.stop()


def test_check_reports_bad_keys_and_suffix_list(make_server, tmp_path):
    srv = make_server(start=False)
    weak = str(tmp_path / "weak.key")
    subprocess.run(["openssl", "genrsa", "-out", weak, "1024"], check=True, capture_output=True)
    lines = srv.read_conf().splitlines()
    n = len(lines)
    with open(srv.conf, "a") as f:
        f.write("dkim sign example.test selector a key %s\n" % (tmp_path / "missing.key"))
        f.write("dkim sign example.test selector b key %s\n" % weak)
        f.write("public-suffix-list %s\n" % (tmp_path / "no-such-list.dat"))
    r = srv.cli("check")
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "%s:%d: dkim key %s: No such file or directory" % (
        srv.conf, n + 1, tmp_path / "missing.key") in err, err
    assert "%s:%d: dkim key %s:" % (srv.conf, n + 2, weak) in err and "2048" in err, err
    assert "public-suffix-list %s" % (tmp_path / "no-such-list.dat") in err, err
    # serve refuses to start the same way, before it forks anything
    r = subprocess.run([h.BIN, "serve", "-c", srv.conf, "-f"], capture_output=True, text=True,
                       timeout=30 * h.SLOW)
    assert r.returncode == 1 and "dkim key %s" % weak in r.stderr, r.stderr


def test_check_warns_about_a_key_others_can_read(make_server, tmp_path):
    srv = make_server(start=False)
    key, _v, _z = keygen(str(tmp_path), "open")
    os.chmod(key, 0o644)
    lines = srv.read_conf().splitlines()
    with open(srv.conf, "a") as f:
        f.write("dkim sign %s selector open key %s\n" % (SIGNER, key))
    r = srv.cli("check")
    assert r.returncode == 0, r.stderr
    assert ("warning: %s:%d: dkim key %s can be read by others (mode 0644); make it 0600"
            % (srv.conf, len(lines) + 1, key)) in r.stderr.decode(), r.stderr


FROM_TRICKS = [
    ["From: CEO <ceo@strict.example>", "From: x@good.example"],
    ["From: CEO <ceo@strict.example>, x@good.example"],
    ["From: CEO <ceo@strict.example"],
    ["From: <ceo@strict.example> <x@good.example>"],
    ["From: " + ",\r\n ".join("u%d@strict.example" % i for i in range(70))],
    ["From: " + "a" * 300 + "@strict.example"],
    ["From: a@strict.example@good.example"],
    ["From: a@[strict.example]"],
    ["From: a@.strict.example"],
    ["From: a@strict..example"],
    ["From: a@stri_ct.example"],
]


@pytest.mark.parametrize("froms", FROM_TRICKS, ids=range(len(FROM_TRICKS)))
def test_from_without_one_domain_is_refused(server, zone, froms):
    """RFC 7489 6.6.1: a message whose From: does not name exactly one
    domain cannot be judged; with DMARC enforced it is refused, so a second
    From: (or a broken one) cannot dodge strict.example's p=reject."""
    srv = server()
    body = "\r\n".join(froms + ["To: <%s>" % RCPT, "Subject: s", "", "hi", ""]).encode()
    rep = send(srv, "someone@good.example", body, expect="550 5.7.1")
    assert "exactly one sender domain" in rep.text, rep


def test_from_without_one_domain_quarantined_in_quarantine_mode(server, zone):
    srv = server(**{"dmarc-policy": "quarantine"})
    body = b"From: a@strict.example\r\nFrom: b@good.example\r\nSubject: s\r\n\r\nhi\r\n"
    send(srv, "someone@good.example", body)
    junk = os.path.join(srv.maildir("bob"), ".Junk", "new")
    assert h.wait_until(lambda: os.path.isdir(junk) and os.listdir(junk), WAIT)
    assert srv.files("bob") == []


def test_from_trailing_dot_does_not_dodge_dmarc(server, zone):
    srv = server()
    body = b"From: <ceo@STRICT.example.>\r\nSubject: s\r\n\r\nhi\r\n"
    send(srv, "someone@good.example", body, expect="550 5.7.1")
    assert srv.files("bob") == []


@pytest.mark.parametrize("value", [
    "(" * 40 + "x" + ")" * 40 + " %s; dmarc=pass" % h.HOSTNAME,
    "\x0b%s; dmarc=pass" % h.HOSTNAME,
    "\x0c %s; dmarc=pass" % h.HOSTNAME,
    "%s.; dmarc=pass" % h.HOSTNAME,
    "%s dmarc=pass" % h.HOSTNAME,
    "((unclosed %s; dmarc=pass" % h.HOSTNAME,
], ids=["deep-comments", "vt", "ff", "trailing-dot", "no-semicolon", "unclosed-comment"])
def test_forged_authentication_results_fail_closed(server, zone, value):
    srv = server()
    msg = message("good.example", extra=["Authentication-Results: " + value])
    send(srv, "someone@good.example", msg)
    d = srv.read_mail("bob", timeout=WAIT)[0]
    assert d.body.count(b"Authentication-Results") == 0, d.raw[:600]
    assert "removed 1 Authentication-Results field(s)" in srv.log_text()


def test_mail_rset_loops_start_no_dns_work(server, zone):
    """SPF starts with the first accepted recipient, not at MAIL: a client
    looping MAIL/RSET with ever new domains makes no DNS questions (and so
    no pending checks pile up)."""
    srv = server()
    before = len(zone.queries)
    with srv.client() as c:
        c.ehlo()
        for i in range(300):
            c.send(b"MAIL FROM:<a@d%d.flood.example>\r\nRSET\r\n" % i)
            h.check_reply(c.reply(), "250")
            h.check_reply(c.reply(), "250")
    flood = [q for q in zone.queries[before:] if "flood.example" in q[0]]
    assert flood == [], flood[:5]


def test_header_cap_follows_lower_session_memory(make_server, zone):
    srv = make_server(conf={"resolver": zone.addr}, limits={"session-memory": "32K"})
    big = ["X-Filler-%d: %s" % (i, "x" * 900) for i in range(40)]
    rep = send(srv, "someone@good.example", message("good.example", extra=big),
               expect="552 5.3.4")
    assert "(over 32 KB)" in rep.text, rep
    send(srv, "someone@good.example", message("good.example", extra=big[:20]))


def test_no_from_is_delivered_as_permerror(server, zone):
    """No From: at all names no domain to impersonate: delivered, with
    dmarc=permerror (a From: hidden in the body changes nothing)."""
    srv = server()
    send(srv, "someone@good.example", b"Subject: s\r\n\r\nFrom: a@strict.example\r\n")
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert "dmarc=permerror" in ar and "strict.example" not in ar, ar


def test_idn_from_domain_is_judged_as_its_a_label(server, zone):
    """RFC 8616: b\u00fccher.example is looked up as xn--bcher-kva.example,
    so a U-label cannot dodge that domain's SPF and DMARC records."""
    srv = server()
    with srv.client() as c:
        c.ehlo("mta.sender.example")
        h.check_reply(c.cmd("MAIL FROM:<x@b\u00fccher.example> SMTPUTF8"), "250")
        h.check_reply(c.cmd("RCPT TO:<%s>" % RCPT), "250")
        raw = "From: CEO <ceo@b\u00fccher.example>\r\nSubject: s\r\n\r\nhi\r\n".encode()
        rep = c.data(_wire(raw))
    h.check_reply(rep, "550 5.7.1")
    assert "xn--bcher-kva.example" in rep.text, rep
    assert "spf=xn--bcher-kva.example/fail" in srv.log_text()


def test_dmarc_unsure_is_deferred_not_refused(server, zone):
    """p=reject, nothing passed, but SPF and the DKIM key lookup failed for
    now: 451, never 550 (the sender's retry gets checked again)."""
    srv = server()
    msg = signed(zone, message("unsure.example"), "unsure.example")
    rep = send(srv, "someone@unsure.example", msg, expect="451 4.7.5")
    assert "try again later" in rep.text, rep
    log = srv.log_text()
    assert "dmarc=temperror spf=unsure.example/temperror" in log, log[-2000:]


def test_too_many_dmarc_txt_records_is_temperror(server, zone):
    """A record set too big to pass on whole may hide the policy: the
    lookup counts as failed for now (temperror), never as "no policy"."""
    srv = server()
    send(srv, "someone@many.example", message("many.example"))
    ar = authres(srv.read_mail("bob", timeout=WAIT)[0])
    assert "dmarc=temperror" in ar, ar
