"""SMTP AUTH (RFC 4954) and "send only as yourself".

What is covered, all against the real server over 127.0.0.1:
- where AUTH is offered (submission after STARTTLS, submissions) and the
  refusals elsewhere (502 on the smtp port even inside TLS, 538 in clear on
  submission, 530 for MAIL before AUTH);
- PLAIN (with and without initial response), LOGIN (exact prompts) and
  SCRAM-SHA-256 (RFC 5802/7677) with a small client written here and checked
  against the RFC 7677 example, including the server signature check, unknown
  users (a stable fake salt) and tampering;
- every error reply of the exchange (535, 504, 501, "*", over-long lines,
  AUTH twice / in a transaction / before EHLO), and that the session goes on;
- brute-force resistance: one fail2ban-matchable log line per failure,
  delayed answers, per-address lockout with 454 even for the right password,
  and its expiry; a wrong user costs about what a wrong password costs;
- MAIL FROM and the From: header must belong to the user (553 5.7.1, 554
  5.6.0 without From:), --any-from (reloaded within ~2 s and on SIGHUP);
- the Received: header: no login (privacy), protocol word ESMTPSA.

Failures from 127.0.0.1 are counted per address by the server, so the tests
that fail on purpose run against a server whose limits are out of reach
(LENIENT) or against one of their own.
"""
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import statistics
import time

import pytest

import sphelpers as h
from sphelpers import check_reply, queued_id

ALICE = ("alice@example.test", "alice-secret")
BOB = ("bob@example.test", "bob-secret")
USERS = [
    ("alice@example.test", "alice-secret", ["al@example.test"]),
    ("bob@example.test", "bob-secret", []),
    ("carol@example.test", None, []),
]
# Limits a test run never reaches: no delays, no lockout.
LENIENT = {"auth-delay-after": "1000", "auth-lock-after": "1000"}
AUTH_LINE = "AUTH SCRAM-SHA-256 PLAIN LOGIN"
FAIL_RE = re.compile(
    r"warning: unknown\[127\.0\.0\.1\]: SASL (PLAIN|LOGIN|SCRAM-SHA-256) authentication failed")
LOCKED_TEXT = "Too many failed authentications; try again later"


# --------------------------------------------------------------------------
# helpers


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def plain_token(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def starttls(c, ctx):
    """STARTTLS and the handshake (test_tls.py checks the finer points)."""
    check_reply(c.cmd("STARTTLS"), "220 2.0.0")
    assert c.buf == b"", "bytes after the STARTTLS 220: %r" % c.buf
    c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)


def tls_client(srv, kind="submission", ehlo=True):
    """A client inside TLS on the submission (STARTTLS) or submissions
    (implicit TLS) listener; the certificate and its name are checked.
    With ehlo, c.ehlo_rep is the EHLO reply given inside TLS."""
    ctx = h.tls_context(srv)
    if kind == "submissions":
        c = h.Client(srv.subs_port, tls=ctx)
    else:
        c = h.Client(srv.sub_port)
        c.ehlo()
        starttls(c, ctx)
    c.ehlo_rep = c.ehlo() if ehlo else None
    return c


def client_from(src, port, tls=None):
    """Like h.Client(port, tls=tls) but from source address src (127.0.0.x)."""
    c = h.Client.__new__(h.Client)
    c.timeout = 15 * h.SLOW
    sock = socket.create_connection(("127.0.0.1", port), timeout=c.timeout,
                                    source_address=(src, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sock = tls.wrap_socket(sock, server_hostname=h.HOSTNAME) if tls else sock
    c.buf = b""
    c.banner = c.reply()
    return c


def auth_plain(c, user, password, expect="235 2.7.0"):
    return check_reply(c.cmd("AUTH PLAIN " + plain_token(user, password)), expect)


def fail_lines(srv):
    return [l for l in srv.log_text().splitlines() if FAIL_RE.search(l)]


def wait_fail_lines(srv, n, timeout=5):
    h.wait_until(lambda: len(fail_lines(srv)) >= n, timeout * h.SLOW)
    return fail_lines(srv)


def msg(sender="alice@example.test", to="bob@example.test", subject="test", extra=(),
        body=("hello",)):
    lines = []
    if sender is not None:
        lines.append("From: " + sender)
    lines += ["To: " + to, "Subject: " + subject] + list(extra) + [""] + list(body)
    return lines


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


class Scram:
    """Client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), no channel binding."""

    def __init__(self, user, password, cnonce=None):
        self.user = user
        self.password = password
        self.cnonce = cnonce or b64(os.urandom(18))
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = "n=%s,r=%s" % (name, self.cnonce)
        self.server_signature = None

    def client_first(self):
        return "n,," + self.first_bare

    @staticmethod
    def parse(msg):
        out = {}
        for field in msg.split(","):
            k, sep, v = field.partition("=")
            assert sep and len(k) == 1, "bad SCRAM attribute %r in %r" % (field, msg)
            out[k] = v
        return out

    def client_final(self, server_first, nonce=None):
        a = self.parse(server_first)
        assert a["r"].startswith(self.cnonce) and len(a["r"]) > len(self.cnonce), server_first
        salt = base64.b64decode(a["s"], validate=True)
        iters = int(a["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode("utf-8"), salt, iters)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + (nonce or a["r"])
        auth_msg = ",".join([self.first_bare, server_first, without_proof]).encode("utf-8")
        sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
        proof = bytes(x ^ y for x, y in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = b64(hmac.new(server_key, auth_msg, hashlib.sha256).digest())
        return without_proof + ",p=" + b64(proof)


def scram_start(c, user, password, initial=True, cnonce=None):
    """AUTH SCRAM-SHA-256 up to the server-first; returns (Scram, server-first text)."""
    sc = Scram(user, password, cnonce)
    if initial:
        rep = c.cmd("AUTH SCRAM-SHA-256 " + b64(sc.client_first()))
    else:
        rep = check_reply(c.cmd("AUTH SCRAM-SHA-256"), "334")
        assert rep.lines == ["334 "], "expected an empty challenge: %r" % rep
        rep = c.cmd(b64(sc.client_first()))
    check_reply(rep, "334")
    server_first = base64.b64decode(rep.text, validate=True).decode("utf-8")
    return sc, server_first


def scram_login(c, user, password, initial=True):
    """A whole SCRAM-SHA-256 exchange that must succeed (server signature checked)."""
    sc, server_first = scram_start(c, user, password, initial)
    rep = check_reply(c.cmd(b64(sc.client_final(server_first))), "334")
    server_final = base64.b64decode(rep.text, validate=True).decode("utf-8")
    assert server_final == "v=" + sc.server_signature, \
        "server signature does not verify: %r, expected v=%s" % (server_final, sc.server_signature)
    return check_reply(c.cmd(""), "235 2.7.0")


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def _lenient_server(request):
    srv = h.Server()
    srv.init()
    for k, v in LENIENT.items():
        srv.set_conf(k, v)
    for addr, pw, extra in USERS:
        srv.add_user(addr, pw, extra)
    srv.start()
    yield srv
    srv.stop()
    bad = srv.sanitizer_lines()
    if request.session.testsfailed or bad:
        import sys
        sys.stderr.write("\n---- tail of %s ----\n%s\n" % (srv.log_path, srv.log_tail(60)))
    elif not os.environ.get("SEALPOST_KEEP"):
        import shutil
        shutil.rmtree(srv.dir, ignore_errors=True)
    assert not bad, "sanitizer report in %s:\n%s" % (srv.log_path, "\n".join(bad[:40]))


@pytest.fixture
def lsrv(_lenient_server):
    """A shared server (USERS, LENIENT limits) for tests that only look at replies."""
    srv = _lenient_server
    if not srv.running():
        srv.stop()
        srv.start()
    yield srv
    assert srv.running(), "the server died during this test:\n%s" % srv.log_tail(25)


@pytest.fixture
def asrv(make_server):
    """A fresh server with USERS and LENIENT limits (for tests that deliver)."""
    return make_server(users=USERS, conf=LENIENT)


# --------------------------------------------------------------------------
# SCRAM client self-test (pure python)


def test_scram_client_matches_rfc7677_example():
    sc = Scram("user", "pencil", "rOprNGfwEbeRWgbNEkqO")
    assert sc.client_first() == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    final = sc.client_final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                            "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    assert final == ("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert sc.server_signature == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_users_file_holds_yescrypt_and_rfc5803_scram(lsrv):
    """`user add` stores a yescrypt hash and SCRAM-SHA-256$ITER:SALT$STORED:SERVER
    (RFC 5803) that matches the password."""
    with open(os.path.join(lsrv.dir, "users")) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("alice@example.test:")]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.split(":")[1].startswith("$y$"), "not a yescrypt hash: %r" % line
    assert "alice-secret" not in line
    m = re.search(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$",
                  line)
    assert m, "no RFC 5803 SCRAM-SHA-256 secret: %r" % line
    iters, salt = int(m.group(1)), base64.b64decode(m.group(2))
    salted = hashlib.pbkdf2_hmac("sha256", b"alice-secret", salt, iters)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert (b64(stored), b64(server)) == (m.group(3), m.group(4)), line
    assert iters >= 4096 and len(salt) >= 16, line


# --------------------------------------------------------------------------
# where AUTH is offered


def test_auth_refused_on_smtp_port_even_with_tls(lsrv):
    with h.Client(lsrv.port) as c:
        rep = c.ehlo()
        assert not any(t.upper().startswith("AUTH") for t in rep.texts), rep
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "502 5.5.1")
        c.starttls(h.tls_context(lsrv))
        rep = c.ehlo()
        assert not any(t.upper().startswith("AUTH") for t in rep.texts), rep
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "502 5.5.1")
        check_reply(c.cmd("AUTH LOGIN"), "502 5.5.1")
        # an unauthenticated MTA session on port 25 still works
        check_reply(c.cmd("MAIL FROM:<x@sender.example>"), "250 2.1.0")
        check_reply(c.cmd("QUIT"), "221")


def test_auth_on_submission_needs_tls(lsrv):
    logins = lambda: len(re.findall(r"SASL PLAIN login as alice@example\.test", lsrv.log_text()))
    n0 = logins()
    with h.Client(lsrv.sub_port) as c:
        rep = c.ehlo()
        assert not any(t.upper().startswith("AUTH") for t in rep.texts), rep
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "538 5.7.11")
        check_reply(c.cmd("AUTH SCRAM-SHA-256"), "538 5.7.11")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
        c.starttls(h.tls_context(lsrv))
        rep = c.ehlo()
        assert AUTH_LINE in rep.texts, rep
        rep = check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
        assert rep.text == "Authentication required", rep
        auth_plain(c, *ALICE)
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
    # the credentials sent in clear were never checked: one login, the one inside TLS
    assert logins() == n0 + 1, lsrv.log_tail(20)


def test_auth_advertised_on_submissions(lsrv):
    with tls_client(lsrv, "submissions") as c:
        assert AUTH_LINE in c.ehlo_rep.texts, c.ehlo_rep
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "503")


# --------------------------------------------------------------------------
# successful exchanges


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_plain_with_initial_response(lsrv, kind):
    with tls_client(lsrv, kind) as c:
        auth_plain(c, *ALICE)
        rep = c.ehlo()
        assert not any(t.upper().startswith("AUTH") for t in rep.texts), \
            "AUTH still offered after authentication: %r" % rep
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5")
        # AUTH inside a transaction and a second AUTH: 503
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "503 5.5.1")
        check_reply(c.cmd("RSET"), "250")
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*BOB)), "503 5.5.1")
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "553 5.7.1")  # still alice
    assert re.search(r"\[127\.0\.0\.1\]: authenticated as alice@example\.test \(PLAIN\)",
                     lsrv.log_text())


def test_plain_without_initial_response(lsrv):
    with tls_client(lsrv) as c:
        rep = check_reply(c.cmd("AUTH PLAIN"), "334")
        assert rep.lines == ["334 "], rep
        check_reply(c.cmd(plain_token(*ALICE)), "235 2.7.0")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")


def test_plain_authzid(lsrv):
    # authzid equal to the login: fine; another user's name: never a login as them
    with tls_client(lsrv) as c:
        rep = c.cmd("AUTH PLAIN " + plain_token("alice@example.test", "alice-secret",
                                                authzid="bob@example.test"))
        assert rep.code != 235 and rep.code >= 500, rep
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE, authzid="alice@example.test")),
                    "235 2.7.0")
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")


def test_login_mechanism(lsrv):
    with tls_client(lsrv) as c:
        rep = check_reply(c.cmd("AUTH LOGIN"), "334")
        assert rep.lines == ["334 VXNlcm5hbWU6"], rep
        rep = check_reply(c.cmd(b64(ALICE[0])), "334")
        assert rep.lines == ["334 UGFzc3dvcmQ6"], rep
        check_reply(c.cmd(b64(ALICE[1])), "235 2.7.0")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
    # the user name as initial response: straight to the password prompt
    with tls_client(lsrv, "submissions") as c:
        rep = check_reply(c.cmd("AUTH LOGIN " + b64(BOB[0])), "334")
        assert rep.lines == ["334 UGFzc3dvcmQ6"], rep
        check_reply(c.cmd(b64(BOB[1])), "235 2.7.0")
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "250 2.1.0")


@pytest.mark.parametrize("initial", [True, False], ids=["initial-response", "empty-challenge"])
def test_scram_sha256_login(lsrv, initial):
    with tls_client(lsrv, "submissions" if initial else "submission") as c:
        sc, server_first = scram_start(c, *ALICE, initial=initial)
        a = Scram.parse(server_first)
        assert set(a) == {"r", "s", "i"}, server_first
        assert int(a["i"]) >= 4096, server_first
        assert len(base64.b64decode(a["s"])) >= 16, server_first
        rep = check_reply(c.cmd(b64(sc.client_final(server_first))), "334")
        assert base64.b64decode(rep.text).decode() == "v=" + sc.server_signature, rep
        check_reply(c.cmd(""), "235 2.7.0")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
    assert re.search(r"authenticated as alice@example\.test \(SCRAM-SHA-256\)", lsrv.log_text())


def test_scram_unknown_user_gets_a_stable_fake_salt(lsrv):
    firsts = []
    for _ in range(2):
        with tls_client(lsrv) as c:
            sc, server_first = scram_start(c, "nosuchuser@example.test", "whatever")
            firsts.append(Scram.parse(server_first))
            rep = c.cmd(b64(sc.client_final(server_first)))
            check_reply(rep, "535 5.7.8")
    assert firsts[0]["s"] == firsts[1]["s"], "fake salt changes between attempts: %r" % firsts
    assert firsts[0]["r"] != firsts[1]["r"], "server nonce reused: %r" % firsts
    # a real user's server-first looks the same (iterations, salt size)
    with tls_client(lsrv) as c:
        _, real = scram_start(c, *BOB)
        real = Scram.parse(real)
        check_reply(c.cmd("*"), "501 5.0.0")
    assert real["i"] == firsts[0]["i"], (real, firsts[0])
    assert len(base64.b64decode(real["s"])) == len(base64.b64decode(firsts[0]["s"])), \
        (real, firsts[0])
    assert re.search(r"SASL SCRAM-SHA-256 authentication failed: user=<nosuchuser@example\.test>",
                     lsrv.log_text())


def test_scram_wrong_password(lsrv):
    with tls_client(lsrv) as c:
        sc, server_first = scram_start(c, "alice@example.test", "not-alices-password")
        rep = c.cmd(b64(sc.client_final(server_first)))
        check_reply(rep, "535 5.7.8")  # no server signature for a wrong proof
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
        scram_login(c, *ALICE)  # the session goes on


def test_scram_tampered_nonce(lsrv):
    with tls_client(lsrv) as c:
        sc, server_first = scram_start(c, *ALICE)
        r = Scram.parse(server_first)["r"]
        bad = r[:-1] + ("A" if r[-1] != "A" else "B")
        rep = c.cmd(b64(sc.client_final(server_first, nonce=bad)))
        assert (rep.code, rep.enh) in ((501, "5.5.2"), (535, "5.7.8")), rep
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
    with tls_client(lsrv) as c:  # the client nonce alone (server part dropped)
        sc, server_first = scram_start(c, *ALICE)
        rep = c.cmd(b64(sc.client_final(server_first, nonce=sc.cnonce)))
        assert (rep.code, rep.enh) in ((501, "5.5.2"), (535, "5.7.8")), rep


def test_scram_non_empty_answer_to_server_final(lsrv):
    with tls_client(lsrv) as c:
        sc, server_first = scram_start(c, *ALICE)
        check_reply(c.cmd(b64(sc.client_final(server_first))), "334")
        rep = c.cmd(b64("v=garbage"))
        assert rep.code != 235, rep


# --------------------------------------------------------------------------
# error replies


def test_wrong_credentials(lsrv):
    with tls_client(lsrv) as c:
        check_reply(c.cmd("AUTH PLAIN " + plain_token("alice@example.test", "wrong")),
                    "535 5.7.8")
        check_reply(c.cmd("AUTH PLAIN " + plain_token("nobody@example.test", "x")), "535 5.7.8")
        check_reply(c.cmd("AUTH LOGIN"), "334")
        check_reply(c.cmd(b64(BOB[0])), "334")
        check_reply(c.cmd(b64("alice-secret")), "535 5.7.8")  # alice's password for bob
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "530 5.7.0")
        auth_plain(c, *BOB)


def test_receive_only_user_cannot_log_in(lsrv):
    with tls_client(lsrv) as c:
        for pw in ("", "*", "x"):
            rep = c.cmd("AUTH PLAIN " + plain_token("carol@example.test", pw))
            assert rep.code in (535, 501), rep
        check_reply(c.cmd("MAIL FROM:<carol@example.test>"), "530 5.7.0")


def test_unknown_mechanism(lsrv):
    with tls_client(lsrv) as c:
        for mech in ("CRAM-MD5", "GSSAPI", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "XOAUTH2",
                     "PLAINX"):
            check_reply(c.cmd("AUTH " + mech), "504 5.5.4")
        auth_plain(c, *ALICE)


def test_bad_base64(lsrv):
    with tls_client(lsrv) as c:
        for init in ("!!!!", "AGFsaWNl=", "AGFs aWNl", "=AAA"):
            check_reply(c.cmd("AUTH PLAIN " + init), "501 5.5.2")
        check_reply(c.cmd("AUTH PLAIN"), "334")
        check_reply(c.cmd("not base64!"), "501 5.5.2")
        check_reply(c.cmd("AUTH LOGIN"), "334")
        check_reply(c.cmd("$$$$"), "501 5.5.2")
        auth_plain(c, *ALICE)


def test_cancel_with_star(lsrv):
    with tls_client(lsrv) as c:
        check_reply(c.cmd("AUTH PLAIN"), "334")
        check_reply(c.cmd("*"), "501 5.0.0")
        check_reply(c.cmd("AUTH LOGIN"), "334")
        check_reply(c.cmd(b64(ALICE[0])), "334")
        check_reply(c.cmd("*"), "501 5.0.0")
        sc, _ = scram_start(c, *ALICE)
        check_reply(c.cmd("*"), "501 5.0.0")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
        auth_plain(c, *ALICE)
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")
    # a cancel is not a failed login
    assert not [l for l in fail_lines(lsrv) if "user=<alice@example.test>" in l and "LOGIN" in l]


def test_overlong_response_line(lsrv):
    with tls_client(lsrv) as c:
        check_reply(c.cmd("AUTH PLAIN"), "334")
        check_reply(c.cmd("A" * 8000), "500 5.5.6")
        check_reply(c.cmd("NOOP"), "250")
        # a response line of exactly 4096 octets with its CRLF is not "too long"
        check_reply(c.cmd("AUTH PLAIN"), "334")
        rep = c.cmd("A" * 4094)
        assert rep.code != 500, rep
        check_reply(c.cmd("AUTH LOGIN"), "334")
        check_reply(c.cmd("QUJD" * 20000), "500 5.5.6")
        check_reply(c.cmd("RSET"), "250")
        auth_plain(c, *ALICE)
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")


def test_auth_before_ehlo(lsrv):
    ctx = h.tls_context(lsrv)
    with h.Client(lsrv.subs_port, tls=ctx) as c:
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "503 5.5.1")
        check_reply(c.cmd("HELO client.example.org"), "250")
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "503 5.5.1")  # EHLO, not HELO
        c.ehlo()
        auth_plain(c, *ALICE)
    with h.Client(lsrv.sub_port) as c:
        c.ehlo()
        c.starttls(ctx)  # STARTTLS forgets the EHLO
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "503 5.5.1")
        c.ehlo()
        auth_plain(c, *ALICE)


def test_pipelined_auth_and_mail(lsrv):
    """AUTH PLAIN and the commands after it in one write: replies in order."""
    with tls_client(lsrv, "submissions") as c:
        c.send("AUTH PLAIN %s\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
               "RSET\r\n" % plain_token(*ALICE))
        check_reply(c.reply(), "235 2.7.0")
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "250")


# --------------------------------------------------------------------------
# failure logging, delays, lockout


def test_each_failure_logs_one_line(lsrv):
    before = len(fail_lines(lsrv))
    with tls_client(lsrv) as c:
        check_reply(c.cmd("AUTH PLAIN " + plain_token("alice@example.test", "bad1")), "535")
        assert len(wait_fail_lines(lsrv, before + 1)) == before + 1
        check_reply(c.cmd("AUTH LOGIN " + b64("alice@example.test")), "334")
        check_reply(c.cmd(b64("bad2")), "535")
        assert len(wait_fail_lines(lsrv, before + 2)) == before + 2
        sc, sf = scram_start(c, "alice@example.test", "bad3")
        check_reply(c.cmd(b64(sc.client_final(sf))), "535")
        lines = wait_fail_lines(lsrv, before + 3)
        assert len(lines) == before + 3, lines
    new = lines[before:]
    assert [FAIL_RE.search(l).group(1) for l in new] == ["PLAIN", "LOGIN", "SCRAM-SHA-256"], new
    for l in new:
        assert "user=<alice@example.test>" in l, l
        assert "bad1" not in l and "bad2" not in l and "bad3" not in l, "password logged: %r" % l
    time.sleep(0.3)
    assert len(fail_lines(lsrv)) == before + 3, fail_lines(lsrv)[before:]


def test_wrong_user_costs_about_a_wrong_password(make_server):
    # no tarpit: its held replies (one second each from the fourth error on)
    # would be timed here instead of the password check
    srv = make_server(users=USERS, conf=LENIENT, limits={"tarpit-max": "0"})
    wrong_pw, wrong_user = [], []
    with tls_client(srv) as c:
        for i in range(4):
            for who, out in (("alice@example.test", wrong_pw),
                             ("nobody%d@example.test" % i, wrong_user)):
                tok = "AUTH PLAIN " + plain_token(who, "bad-password")
                rep, dt = timed(lambda: c.cmd(tok))
                check_reply(rep, "535 5.7.8")
                out.append(dt)
            if i == 1:  # stay below the 10-errors limit of one session
                c.close()
                c = tls_client(srv)
        c.close()
    a, b = statistics.median(wrong_pw), statistics.median(wrong_user)
    assert max(a, b) <= 3 * min(a, b) + 0.01, \
        "wrong password %.3fs vs wrong user %.3fs (%r / %r)" % (a, b, wrong_pw, wrong_user)


def _fail_times(srv, n, kind="submissions"):
    """n failed PLAIN logins as alice from 127.0.0.1, one per connection;
    returns the seconds each 535 took."""
    times = []
    for i in range(n):
        with tls_client(srv, kind) as c:
            line = "AUTH PLAIN " + plain_token("alice@example.test", "wrong%d" % i)
            rep, dt = timed(lambda: c.cmd(line))
            check_reply(rep, "535 5.7.8")
            times.append(dt)
    return times


def test_delays_lockout_and_expiry(make_server):
    # lock-time is longer than the 2 s delay of the 4th answer (see the next test)
    srv = make_server(users=USERS, conf={"auth-delay-after": "3", "auth-lock-after": "4",
                                         "auth-lock-time": "5", "auth-window": "60"})
    ctx = h.tls_context(srv)
    t0 = time.monotonic()
    times = _fail_times(srv, 4)
    locked_at = t0 + sum(times[:3])  # about when the 4th failure reached the server
    assert times[0] < 0.9 and times[1] < 0.9, "failure delayed too early: %r" % times
    assert times[2] >= 0.9, "no delay from the auth-delay-after-th failure on: %r" % times
    assert times[3] >= 1.9 and times[3] >= times[2] + 0.5, "delay does not grow: %r" % times
    assert max(times) <= 10.9, "delay beyond 10 s: %r" % times
    assert len(wait_fail_lines(srv, 4)) == 4, fail_lines(srv)

    # locked: even the right password, with any mechanism, gets 454
    with tls_client(srv) as c:
        rep = check_reply(c.cmd("AUTH PLAIN " + plain_token(*ALICE)), "454 4.7.0")
        assert rep.text == LOCKED_TEXT, rep
        check_reply(c.cmd("AUTH LOGIN"), "454 4.7.0")
        check_reply(c.cmd("AUTH SCRAM-SHA-256"), "454 4.7.0")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "530 5.7.0")
    with tls_client(srv, "submissions") as c:
        check_reply(c.cmd("AUTH PLAIN " + plain_token(*BOB)), "454 4.7.0")
    # per address: 127.0.0.2 is not locked
    with client_from("127.0.0.2", srv.subs_port, tls=ctx) as c:
        c.ehlo()
        auth_plain(c, *ALICE)
    assert "[127.0.0.2]: SASL PLAIN login as alice@example.test" in srv.log_text()
    assert len(fail_lines(srv)) == 4, "refusals while locked counted as failures"
    assert re.search(r"warning: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication refused: "
                     r"locked out", srv.log_text())

    # the lock ends after auth-lock-time (5 s)
    ok_at = None
    deadline = locked_at + 5 + 4 * h.SLOW
    while time.monotonic() < deadline:
        with tls_client(srv, "submissions") as c:
            rep = c.cmd("AUTH PLAIN " + plain_token(*ALICE))
        if rep.code == 235:
            ok_at = time.monotonic()
            break
        check_reply(rep, "454 4.7.0")
        time.sleep(0.25)
    assert ok_at is not None, "still locked %.1fs after the lock:\n%s" % (
        time.monotonic() - locked_at, srv.log_tail(20))
    assert ok_at - locked_at >= 3.5, "lock lasted only %.1fs" % (ok_at - locked_at)


def test_lock_outlasts_the_delayed_answer(make_server):
    """auth-delay-after 2, auth-lock-after 4, auth-lock-time 3: the 4th failure
    locks the address, so the right password just after its 535 must get 454."""
    srv = make_server(users=USERS, conf={"auth-delay-after": "2", "auth-lock-after": "4",
                                         "auth-lock-time": "3", "auth-window": "60"})
    times = _fail_times(srv, 4)
    with tls_client(srv, "submissions") as c:
        rep = c.cmd("AUTH PLAIN " + plain_token(*ALICE))
    assert rep.code == 454, (
        "address not locked after %d failures (answers took %s s): %r" % (
            len(times), ", ".join("%.2f" % t for t in times), rep))


# --------------------------------------------------------------------------
# send only as yourself


def test_mail_from_must_be_owned(lsrv):
    with tls_client(lsrv) as c:
        auth_plain(c, *ALICE)
        rep = check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "553 5.7.1")
        assert "bob@example.test" in rep.text, rep
        check_reply(c.cmd("MAIL FROM:<>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<alice@other.example>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<alice%other.example@example.test>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<\"alice\"@example.test.evil>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<al@example.test>"), "250 2.1.0")
        check_reply(c.cmd("RSET"), "250")
        check_reply(c.cmd("MAIL FROM:<Alice@Example.TEST>"), "250 2.1.0")
        check_reply(c.cmd("RSET"), "250")
        check_reply(c.cmd("MAIL FROM:<alice@example.test>"), "250 2.1.0")


def _submit(srv, user, lines, sender=None, rcpts=("bob@example.test",), kind="submissions"):
    """Authenticate as user, send lines; return the final reply."""
    with tls_client(srv, kind) as c:
        auth_plain(c, *user)
        c.mail_rcpt(sender or user[0], list(rcpts))
        rep = c.data(h.wire_from_lines(lines))
        check_reply(c.cmd("QUIT"), "221")
    return rep


def test_from_header_must_be_owned(asrv):
    token = os.urandom(6).hex()
    refused = {
        "other user": ["From: bob@example.test"],
        "display name": ['From: "Alice" <bob@example.test>'],
        "display looks like alice": ['From: "alice@example.test" <bob@example.test>'],
        "comment": ["From: bob@example.test (alice@example.test)"],
        "two addresses": ["From: alice@example.test, bob@example.test"],
        "two fields": ["From: alice@example.test", "From: bob@example.test"],
        "folded": ["From: Alice", " <bob@example.test>"],
        "foreign": ["From: alice@other.example"],
    }
    for what, hdr in refused.items():
        rep = _submit(asrv, ALICE, hdr + ["To: bob@example.test", "Subject: %s %s" % (token, what),
                                          "", "body"])
        check_reply(rep, "553 5.7.1")
        assert rep.lines == ["553 5.7.1 Message refused: From: header address not owned by "
                             "the authenticated user"], (what, rep)
    rep = _submit(asrv, ALICE, ["To: bob@example.test", "Subject: no from " + token, "", "body"])
    check_reply(rep, "554 5.6.0")
    # accepted: her own address, her extra address, any case
    ok = [["From: Alice <alice@example.test>"], ["From: Al <al@example.test>"],
          ["from: ALICE@EXAMPLE.TEST"]]
    for hdr in ok:
        queued_id(_submit(asrv, ALICE, hdr + ["To: bob@example.test", "Subject: ok " + token,
                                              "", "body"]))
    mails = asrv.read_mail("bob", len(ok))
    assert all(b"Subject: ok " + token.encode() in m.body for m in mails), mails
    asrv.wait_queue_empty()
    assert asrv.queue_files() == []
    assert len(asrv.files("bob")) == len(ok), "a refused message was delivered"
    assert b"Subject: " + token.encode() not in b"".join(m.body for m in mails)


def test_from_header_checked_with_bdat(asrv):
    """CHUNKING: the same From: check, the header in one chunk or split over two."""
    bad = b"From: bob@example.test\r\nSubject: bdat\r\n\r\nbody\r\n"
    good = b"From: alice@example.test\r\nSubject: bdat ok\r\n\r\nbody\r\n"
    for data, expect in ((bad, "553 5.7.1"), (good, "250 2.0.0")):
        for split in (None, 12):
            with tls_client(asrv, "submissions") as c:
                auth_plain(c, *ALICE)
                c.mail_rcpt("alice@example.test", ["bob@example.test"])
                if split:
                    c.send(b"BDAT %d\r\n" % split + data[:split])
                    check_reply(c.reply(), "250")
                    data_last = data[split:]
                else:
                    data_last = data
                c.send(b"BDAT %d LAST\r\n" % len(data_last) + data_last)
                check_reply(c.reply(), expect)
    mails = asrv.read_mail("bob", 2)
    assert all(b"Subject: bdat ok" in m.body for m in mails), mails


def test_from_line_in_body_is_no_from_field(asrv):
    """Only the header counts: a From: line in the body does not stand in for
    a missing From: field."""
    rep = _submit(asrv, ALICE, ["To: bob@example.test", "Subject: no from field", "",
                                "From: alice@example.test", "body"])
    check_reply(rep, "554 5.6.0")


def test_from_line_in_body_does_not_refuse(asrv):
    """A quoted message in the body (From: of someone else) is not the sender's From:."""
    rep = _submit(asrv, ALICE, ["From: alice@example.test", "To: bob@example.test",
                                "Subject: forwarded", "", "---- Forwarded message ----",
                                "From: bob@example.test", "Subject: hi", "", "text"])
    queued_id(rep)


def test_from_field_after_a_large_header(asrv):
    """A From: of another user must be refused wherever it is in the header."""
    pad = ["X-Pad-%02d: %s" % (i, "x" * 900) for i in range(80)]  # about 72 KiB
    rep = _submit(asrv, ALICE, ["From: alice@example.test"] + pad +
                  ["From: bob@example.test", "Subject: late from", "", "body"])
    assert rep.code >= 500, "second From: bob@ after 72 KiB of header accepted: %r" % rep


def test_any_from(asrv):
    users_file = os.path.join(asrv.dir, "users")
    loaded = lambda: asrv.log_text().count("loaded 3 user(s)")
    n0 = loaded()
    check_reply(_submit(asrv, ALICE, msg(sender="bob@example.test", subject="before")),
                "553 5.7.1")
    mtime = os.stat(users_file).st_mtime
    time.sleep(max(0.0, 1.05 - (time.time() - mtime)))  # a new mtime second, to be sure
    r = asrv.cli("user", "set", "alice@example.test", "--any-from", "on")
    assert r.returncode == 0, r
    # reread within ~2 s without a signal: the server's poll notices the new
    # file (counting "loaded" lines alone could be fooled by the reload of an
    # earlier test's change, so wait for the flag itself to take effect)
    assert h.wait_until(lambda: loaded() > n0, 6 * h.SLOW), asrv.log_tail(10)
    assert h.wait_until(lambda: _submit(asrv, ALICE, msg(
        sender="List <bob@example.test>", subject="any-from on")).code == 250,
        6 * h.SLOW), asrv.log_tail(10)
    queued_id(_submit(asrv, ALICE, msg(sender="someone@other.example", subject="any-from 2")))
    # MAIL FROM is still checked
    with tls_client(asrv) as c:
        auth_plain(c, *ALICE)
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "553 5.7.1")
        check_reply(c.cmd("MAIL FROM:<>"), "553 5.7.1")
    # and off again, picked up at once on SIGHUP
    n1 = loaded()
    r = asrv.cli("user", "set", "alice@example.test", "--any-from", "off")
    assert r.returncode == 0, r
    os.kill(asrv.pid, signal.SIGHUP)
    assert h.wait_until(lambda: loaded() > n1, 3 * h.SLOW), asrv.log_tail(10)
    check_reply(_submit(asrv, ALICE, msg(sender="bob@example.test", subject="off")), "553 5.7.1")
    mails = asrv.read_mail("bob", 2)
    subjects = sorted(re.search(rb"Subject: ([^\n]*)", m.body).group(1) for m in mails)
    assert subjects == [b"any-from 2", b"any-from on"], subjects


def test_any_from_at_add(asrv):
    pw = "lists-secret"
    r = asrv.cli("user", "add", "lists@example.test", "--any-from", input=(pw + "\n").encode())
    assert r.returncode == 0, r
    os.kill(asrv.pid, signal.SIGHUP)
    assert h.wait_until(lambda: "loaded 4 user(s)" in asrv.log_text(), 5 * h.SLOW)
    queued_id(_submit(asrv, ("lists@example.test", pw),
                      msg(sender="Bob <bob@example.test>", subject="via list")))
    check_reply(_submit(asrv, ALICE, msg(sender="bob@example.test")), "553 5.7.1")
    [m] = asrv.read_mail("bob")
    assert m.sender == "lists@example.test"


# --------------------------------------------------------------------------
# Received: header


def _received_header(d):
    """The Received field (unfolded) of a delivered message."""
    m = re.search(rb"^Received:.*?(?=\n[^\t ])", d.raw, re.S | re.M)
    return m.group(0).decode()


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_received_has_no_login(asrv, kind):
    queued_id(_submit(asrv, ALICE, msg(subject="privacy"), kind=kind))
    [d] = asrv.read_mail("bob")
    rcvd = _received_header(d)
    assert "alice" not in rcvd.lower(), "login in Received: %r" % rcvd
    assert d.helo == "client.example.org" and d.client == "[127.0.0.1]", rcvd
    assert d.tls and d.tls.startswith("TLSv1."), rcvd
    assert "(using TLSv1." in rcvd


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_received_protocol_esmtpsa(asrv, kind):
    queued_id(_submit(asrv, ALICE, msg(subject="proto"), kind=kind))
    [d] = asrv.read_mail("bob")
    assert d.proto == "ESMTPSA", "RFC 3848: TLS + AUTH is ESMTPSA, got %r in %r" % (
        d.proto, _received_header(d))


def test_received_auth_user_yes(make_server):
    srv = make_server(users=USERS, conf=dict(LENIENT, **{"received-auth-user": "yes"}))
    queued_id(_submit(srv, ALICE, msg(subject="named")))
    [path] = srv.wait_files("bob", 1)
    raw = h.read_bytes(path)
    m = re.search(rb"^Received:.*?(?=\n[^\t ])", raw, re.S | re.M)
    assert m, raw[:400]
    rcvd = m.group(0).decode()
    assert "(Authenticated sender: alice@example.test)" in rcvd, rcvd
    assert " with ESMTPSA id " in rcvd, rcvd
