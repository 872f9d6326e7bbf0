"""Relay policy: sealpost is no open relay.

Unauthenticated (port 25, in clear and after STARTTLS) every recipient
outside example.test is refused at RCPT (554 5.7.1, source routes 550
5.7.1), recipients in example.test that are no user get 550 5.1.1 and
malformed paths 501; none of the hostile envelope forms below (percent hack,
bang paths, source routes, quoted local parts with @ or %, IP literals,
look-alike domains, unbalanced brackets, ...) gets a 250, a queue file or a
delivery. After AUTH on the submission port the syntactically valid foreign
forms are accepted and queued for remote delivery (`sealpost queue list`
shows them with "(remote)", no local Maildir gets them), while non-users of
example.test still get 550 5.1.1 and syntax errors still 501.

Every refused RCPT counts towards the server's 10-errors limit, so each form
gets a connection of its own.
"""
import base64
import os
import re
import shutil
import sys

import pytest

import sphelpers as h
from sphelpers import check_reply, queued_id

ALICE = ("alice@example.test", "alice-secret")  # a DEFAULT_USERS account
# The refusals here would otherwise wait out tarpit delays (test_limits and
# test_smtp's test_too_many_errors_disconnects cover those).
MODULE_LIMITS = {"tarpit-max": "0"}

FOREIGN = "554 5.7.1"  # Relay access denied
UNKNOWN = "550 5.1.1"  # example.test, but no such user
ROUTE = "550 5.7.1"  # source routes
SYNTAX = "501"  # malformed path (501 5.1.3)
REMOTE = "250 2.1.5"  # accepted for remote delivery (after AUTH only)

# (id, RCPT TO argument, accepted replies unauthenticated, accepted replies after AUTH)
BATTERY = [
    ("percent-hack", "<user%other.example@example.test>", (UNKNOWN,), (UNKNOWN,)),
    ("percent-hack-real-user", "<bob%other.example@example.test>", (UNKNOWN,), (UNKNOWN,)),
    ("percent-hack-twice", "<user%third.example%other.example@example.test>", (UNKNOWN,),
     (UNKNOWN,)),
    ("bang-path", "<other.example!user@example.test>", (UNKNOWN,), (UNKNOWN,)),
    ("bang-path-real-user", "<other.example!bob@example.test>", (UNKNOWN,), (UNKNOWN,)),
    ("source-route-local", "<@a.test,@b.test:user@example.test>", (ROUTE,), (ROUTE,)),
    ("source-route-foreign", "<@a.test:user@other.example>", (ROUTE,), (ROUTE,)),
    ("source-route-via-us", "<@example.test:user@other.example>", (ROUTE,), (ROUTE,)),
    ("quoted-at", '<"user@other.example"@example.test>', (UNKNOWN,), (UNKNOWN,)),
    ("quoted-percent", '<"user%other"@example.test>', (UNKNOWN,), (UNKNOWN,)),
    ("quoted-real-user-at", '<"bob@other.example"@example.test>', (UNKNOWN,), (UNKNOWN,)),
    ("quoted-backslash-at", '<"user\\@other.example"@example.test>', (UNKNOWN,), (UNKNOWN,)),
    ("backslash-at", "<user\\@other.example@example.test>", (SYNTAX,), (SYNTAX,)),
    ("ipv4-literal", "<user@[127.0.0.1]>", (FOREIGN,), (REMOTE,)),
    ("ipv6-literal", "<user@[IPv6:::1]>", (FOREIGN,), (REMOTE,)),
    ("postmaster-ip-literal", "<postmaster@[127.0.0.1]>", (FOREIGN,), (REMOTE,)),
    ("bad-ip-literal", "<user@[999.0.0.1]>", (SYNTAX,), (SYNTAX,)),
    ("name-in-brackets", "<bob@[example.test]>", (SYNTAX,), (SYNTAX,)),
    ("trailing-dot", "<user@example.test.>", (SYNTAX, UNKNOWN), (SYNTAX, UNKNOWN)),
    ("trailing-dot-foreign", "<user@other.example.>", (SYNTAX, FOREIGN), (SYNTAX, REMOTE)),
    ("mixed-case-non-user", "<nobody@Example.TEST>", (UNKNOWN,), (UNKNOWN,)),
    ("our-domain-as-prefix", "<user@EXAMPLE.test.other.example>", (FOREIGN,), (REMOTE,)),
    ("real-user-domain-prefix", "<bob@example.test.other.example>", (FOREIGN,), (REMOTE,)),
    ("our-domain-plus-tld", "<user@example.test.evil>", (FOREIGN,), (REMOTE,)),
    ("subdomain", "<user@sub.example.test>", (FOREIGN,), (REMOTE,)),
    ("lookalike-suffix", "<user@notexample.test>", (FOREIGN,), (REMOTE,)),
    ("punycode-lookalike", "<user@xn--exmple-cua.test>", (FOREIGN,), (REMOTE,)),
    ("unbalanced-open", "<user@example.test", (SYNTAX,), (SYNTAX,)),
    ("unbalanced-close", "user@example.test>", (SYNTAX,), (SYNTAX,)),
    ("unbalanced-foreign", "<user@other.example", (SYNTAX,), (SYNTAX,)),
    ("unterminated-quote", '<"user@example.test>', (SYNTAX,), (SYNTAX,)),
    ("null-path", "<>", (SYNTAX,), (SYNTAX,)),
    ("upper-case-foreign", "<USER@OTHER.EXAMPLE>", (FOREIGN,), (REMOTE,)),
    ("space-inside-open", "< user@other.example>", (SYNTAX,), (SYNTAX,)),
    ("space-inside-close", "<user@other.example >", (SYNTAX,), (SYNTAX,)),
    ("space-after-colon", " <user@other.example>", (SYNTAX, FOREIGN), (SYNTAX, REMOTE)),
    ("space-in-local", "<us er@other.example>", (SYNTAX,), (SYNTAX,)),
    ("two-ats-local-last", "<bob@other.example@example.test>", (SYNTAX,), (SYNTAX,)),
    ("two-ats-foreign-last", "<bob@example.test@other.example>", (SYNTAX,), (SYNTAX,)),
    ("quoted-local-foreign", '<"bob@example.test"@other.example>', (FOREIGN,), (REMOTE,)),
    ("percent-in-domain", "<bob@example.test%other.example>", (SYNTAX,), (SYNTAX,)),
    ("comma-list", "<user@example.test,user@other.example>", (SYNTAX,), (SYNTAX,)),
    ("two-paths", "<user@other.example>,<bob@example.test>", ("555 5.5.4", SYNTAX),
     ("555 5.5.4", SYNTAX)),
    ("domain-with-port", "<bob@example.test:25>", (SYNTAX,), (SYNTAX,)),
    ("plain-foreign", "<user@other.example>", (FOREIGN,), (REMOTE,)),
    ("foreign-postmaster", "<Postmaster@other.example>", (FOREIGN,), (REMOTE,)),
    ("localhost", "<user@localhost>", (FOREIGN,), (REMOTE,)),
    ("dotted-quad-name", "<user@127.0.0.1>", (FOREIGN,), (REMOTE,)),
    ("homoglyph-no-smtputf8", "<bob@exampl\u0435.test>", ("553 5.6.7", SYNTAX),
     ("553 5.6.7", SYNTAX)),
    ("dsn-param", "<user@other.example> NOTIFY=NEVER", ("555 5.5.4",), ("555 5.5.4",)),
]
IDS = [b[0] for b in BATTERY]


def matches(rep, expected):
    """Does rep match one of expected ("554 5.7.1", "501", ...)?"""
    for e in expected:
        parts = e.split()
        if rep.code == int(parts[0]) and (len(parts) == 1 or rep.enh == parts[1]):
            return True
    return False


def normalized(arg):
    """The address text the server keeps for an RCPT argument: the path without
    brackets, the domain in lower case."""
    path = arg.strip().split(" ")[0].strip("<>")
    local, _, dom = path.rpartition("@")
    return local + "@" + dom.lower()


def b64(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


def auth_client(srv, user=ALICE):
    """submission + STARTTLS + EHLO + AUTH PLAIN."""
    c = h.Client(srv.sub_port)
    c.ehlo()
    starttls(c, h.tls_context(srv))
    c.ehlo()
    check_reply(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % user)), "235 2.7.0")
    return c


def starttls(c, ctx):
    """STARTTLS and the handshake (test_tls.py checks the finer points)."""
    check_reply(c.cmd("STARTTLS"), "220 2.0.0")
    assert c.buf == b"", "bytes after the STARTTLS 220: %r" % c.buf
    c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)


def queue_list(srv):
    r = srv.cli("queue", "list")
    assert r.returncode == 0, r
    return r.stdout.decode("utf-8", "replace")


def queue_line(srv, qid):
    lines = [l for l in queue_list(srv).splitlines() if l.startswith(qid)]
    assert len(lines) == 1, "queue id %s not listed once:\n%s" % (qid, queue_list(srv))
    return lines[0]


def assert_nothing_stored(srv):
    assert srv.queue_files() == [], "queue files: %r\n%s" % (srv.queue_files(), srv.log_tail(10))
    assert srv.all_delivered() == [], "delivered: %r" % srv.all_delivered()


# --------------------------------------------------------------------------
# unauthenticated: every hostile form is refused


@pytest.mark.parametrize("tls", [False, True], ids=["clear", "starttls"])
@pytest.mark.parametrize("name,arg,unauth,auth", BATTERY, ids=IDS)
def test_unauthenticated_refused(module_server, name, arg, unauth, auth, tls):
    srv = module_server
    with h.Client(srv.port) as c:
        c.ehlo()
        if tls:
            starttls(c, h.tls_context(srv))
            c.ehlo()
        check_reply(c.cmd("MAIL FROM:<sender@sender.example>"), "250 2.1.0")
        rep = c.cmd("RCPT TO:" + arg)
        assert rep.code != 250, "RCPT %s accepted without AUTH: %r" % (arg, rep)
        assert matches(rep, unauth), "RCPT %s: expected %s, got %r" % (arg, " or ".join(unauth),
                                                                         rep)
        # nothing to send to
        check_reply(c.cmd("DATA"), "554 5.5.1")
        check_reply(c.cmd("QUIT"), "221")
    assert_nothing_stored(srv)


def test_battery_is_not_vacuous(module_server):
    """The same connection setup does accept a real local recipient (then RSET)."""
    with h.Client(module_server.port) as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<sender@sender.example>"), "250 2.1.0")
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5")
        check_reply(c.cmd("RCPT TO:<Bob@Example.Test>"), "250 2.1.5")
        check_reply(c.cmd("RCPT TO:<bob.extra@example.test>"), "250 2.1.5")
        check_reply(c.cmd("RCPT TO:<user@other.example>"), "554 5.7.1")
        check_reply(c.cmd("RSET"), "250")
        check_reply(c.cmd("QUIT"), "221")
    assert_nothing_stored(module_server)


def test_refusal_is_logged(module_server):
    with h.Client(module_server.port) as c:
        c.ehlo()
        c.cmd("MAIL FROM:<sender@sender.example>", "250 2.1.0")
        rep = check_reply(c.cmd("RCPT TO:<logged@relay-test.example>"), "554 5.7.1")
        assert rep.text == "<logged@relay-test.example>: Relay access denied", rep
    assert h.wait_until(lambda: "RCPT to=<logged@relay-test.example> refused: relay access denied"
                        in module_server.log_text(), 5)


def test_claims_of_being_local_do_not_open_the_relay(module_server):
    """A local sender, our own name in EHLO, IP-literal HELO, XCLIENT: still 554."""
    for helo, sender in (("mx.example.test", "bob@example.test"), ("localhost", "postmaster@example.test"),
                         ("[127.0.0.1]", "alice@example.test"), ("example.test", "")):
        with h.Client(module_server.port) as c:
            c.ehlo(helo)
            check_reply(c.cmd("XCLIENT ADDR=127.0.0.1 LOGIN=alice@example.test"), "500")
            check_reply(c.cmd("XFORWARD ADDR=127.0.0.1"), "500")
            check_reply(c.cmd("MAIL FROM:<%s>" % sender), "250 2.1.0")
            check_reply(c.cmd("RCPT TO:<user@other.example>"), "554 5.7.1")
            check_reply(c.cmd("RCPT TO:<bob%other.example@example.test>"), "550 5.1.1")
            check_reply(c.cmd("DATA"), "554 5.5.1")
    assert_nothing_stored(module_server)


def test_hidden_recipients_in_one_line(module_server):
    """Bare LF / NUL smuggling a second RCPT into one command line: refused whole."""
    with h.Client(module_server.port) as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<sender@sender.example>"), "250 2.1.0")
        c.send(b"RCPT TO:<bob@example.test>\nRCPT TO:<user@other.example>\r\n")
        assert c.reply().code >= 500
        c.send(b"RCPT TO:<user@other.example>\0<bob@example.test>\r\n")
        assert c.reply().code >= 500
        check_reply(c.cmd("NOOP"), "250")  # no reply was left over
        check_reply(c.cmd("DATA"), "554 5.5.1")
    assert_nothing_stored(module_server)


def test_smtputf8_homoglyph_domain_refused(module_server):
    with h.Client(module_server.port) as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<sender@sender.example> SMTPUTF8"), "250 2.1.0")
        check_reply(c.cmd("RCPT TO:<bob@exampl\u0435.test>"), "554 5.7.1")
        check_reply(c.cmd("RCPT TO:<bob@\u00e9xample.test>"), "554 5.7.1")
        check_reply(c.cmd("DATA"), "554 5.5.1")
    assert_nothing_stored(module_server)


def test_submission_without_auth_cannot_relay(module_server):
    ctx = h.tls_context(module_server)
    for port, implicit in ((module_server.sub_port, False), (module_server.subs_port, True)):
        with h.Client(port, tls=ctx if implicit else None) as c:
            c.ehlo()
            if not implicit:
                check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
                starttls(c, ctx)
                c.ehlo()
            check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
            check_reply(c.cmd("RCPT TO:<user@other.example>"), "503 5.5.1")
            # a failed AUTH does not help
            check_reply(c.cmd("AUTH PLAIN " + b64("\0alice@example.test\0wrong")), "535 5.7.8")
            check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
            check_reply(c.cmd("RCPT TO:<user@other.example>"), "503 5.5.1")
            check_reply(c.cmd("DATA"), "503 5.5.1")
    assert_nothing_stored(module_server)


# --------------------------------------------------------------------------
# authenticated: foreign forms are queued for remote delivery


@pytest.fixture(scope="module")
def relay_server(request):
    """One server for the authenticated battery: it only ever gets remote mail,
    so every local Maildir must stay empty. Its DNS answers SERVFAIL to
    everything, so remote mail stays queued (deferred, never bounced)."""
    from dnsserver import TestDNS
    dns = TestDNS().start()
    dns.servfail_all = True
    request.addfinalizer(dns.stop)
    srv = h.Server()
    srv.init()
    srv.set_conf("resolver", dns.addr)
    srv.set_conf("auth-delay-after", "1000")
    srv.set_conf("auth-lock-after", "1000")
    for addr, pw, extra in h.DEFAULT_USERS:
        srv.add_user(addr, pw, extra)
    srv.start()
    yield srv
    srv.stop()
    bad = srv.sanitizer_lines()
    if request.session.testsfailed or bad:
        sys.stderr.write("\n---- tail of %s ----\n%s\n" % (srv.log_path, srv.log_tail(60)))
    elif not os.environ.get("SEALPOST_KEEP"):
        shutil.rmtree(srv.dir, ignore_errors=True)
    assert not bad, "sanitizer report in %s:\n%s" % (srv.log_path, "\n".join(bad[:40]))


@pytest.fixture
def rsrv(relay_server):
    if not relay_server.running():
        relay_server.stop()
        relay_server.start()
    yield relay_server
    assert relay_server.running(), "the server died:\n%s" % relay_server.log_tail(25)


@pytest.mark.parametrize("name,arg,unauth,auth", BATTERY, ids=IDS)
def test_authenticated(rsrv, name, arg, unauth, auth):
    with auth_client(rsrv) as c:
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
        rep = c.cmd("RCPT TO:" + arg)
        assert matches(rep, auth), "RCPT %s after AUTH: expected %s, got %r" % (
            arg, " or ".join(auth), rep)
        if rep.code != 250:
            check_reply(c.cmd("DATA"), "554 5.5.1")
            qid = None
        else:
            qid = queued_id(c.data(h.wire_from_lines(
                ["From: alice@example.test", "To: %s" % normalized(arg),
                 "Subject: relay %s" % name, "", "to a remote recipient"])))
        check_reply(c.cmd("QUIT"), "221")
    if qid:
        h.wait_until(lambda: "%s: deferred" % qid in rsrv.log_text() or
                     "%s: bounce notice" % qid in rsrv.log_text(), 10 * h.SLOW)
        if "%s: bounce notice" % qid in rsrv.log_text():
            # Names under .test/.invalid are answered NXDOMAIN by the
            # resolver itself (RFC 6761): the sender gets a bounce at once.
            assert re.search(r"@[^@]*\.(test|invalid)>?$", normalized(arg), re.I), arg
        else:
            line = queue_line(rsrv, qid)
            assert (normalized(arg) + "(remote)").lower() in line.lower(), line
            assert "alice@example.test" in line, line
    # nothing but bounces to the sender ever reaches a local Maildir here
    assert_only_bounces_to_alice(rsrv)


def assert_only_bounces_to_alice(srv):
    for path in srv.all_delivered():
        assert "/alice/new/" in path, path
        head = h.read_bytes(path)[:2000]
        assert b"Return-Path: <>" in head and b"MAILER-DAEMON@" in head, head


def test_authenticated_remote_queue_listing(rsrv):
    """Every message queued by the battery is listed (every recipient
    remote), except those bounced at once for a .test/.invalid domain."""
    out = queue_list(rsrv)
    lines = [l for l in out.splitlines()[1:] if l.strip()]
    remote = [b for b in BATTERY if "250 2.1.5" in b[3] and len(b[3]) == 1 and
              not re.search(r"\.(test|invalid)\.?>", b[1], re.I)]
    assert len(lines) >= len(remote), out
    for l in lines:
        assert "(remote)" in l, l
    assert_only_bounces_to_alice(rsrv)


def test_authenticated_mixed_local_and_remote(server):
    h.shared_dns().servfail.add("other.example")  # stays queued, not bounced
    try:
        mixed_local_and_remote(server)
    finally:
        h.shared_dns().servfail.discard("other.example")


def mixed_local_and_remote(server):
    with auth_client(server) as c:
        c.mail_rcpt("alice@example.test", ["user@other.example", "bob@example.test"])
        check_reply(c.cmd("RCPT TO:<bob%other.example@example.test>"), "550 5.1.1")
        qid = queued_id(c.data(h.wire_from_lines(
            ["From: alice@example.test", "To: user@other.example, bob@example.test",
             "Subject: mixed", "", "one local, one remote"])))
    [d] = server.read_mail("bob")
    assert d.qid == qid and d.sender == "alice@example.test"
    h.wait_until(lambda: "(+1 delivered)" in queue_list(server), 5 * h.SLOW)
    line = queue_line(server, qid)
    assert "user@other.example(remote)" in line and "(+1 delivered)" in line, line
    assert "bob@example.test" not in line.split("alice@example.test", 1)[1], line
    # nobody else got it
    assert server.all_delivered() == server.files("bob"), server.all_delivered()
