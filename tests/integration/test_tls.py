"""TLS: STARTTLS on the smtp and submission listeners (RFC 3207), implicit
TLS on submissions (RFC 8314), the session reset STARTTLS implies, the
command-injection class of bugs (CVE-2011-0411: commands pipelined after
STARTTLS in clear), the one TLS policy (versions, ciphers, groups, server
preference, no renegotiation, no compression), session resumption, client
certificates, SNI and dual RSA/ECDSA certificates, certificate reload on
SIGHUP and broken TLS configuration.

Real clients only: Python's ssl/smtplib, `openssl s_client`, swaks. Extra
certificates are made with the `openssl` CLI in the server's own directory.
"""
import base64
import hashlib
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import uuid
import warnings

import pytest

import sphelpers as h
from sphelpers import check_reply

OPENSSL = "/usr/bin/openssl"
SWAKS = "/usr/bin/swaks"
BOB = ("bob@example.test", "bob-secret")  # a DEFAULT_USERS account
CLIENT_SUBJECT = "/CN=client.example.org/O=Sealpost Tests"

TLS12_GOOD = re.compile(r"^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")
TLS13_GOOD = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
ESTABLISHED_RE = re.compile(
    r"\[127\.0\.0\.1\]: TLS established: (TLSv1\.[23]) with cipher (\S+) \((\d+)/(\d+) bits\)"
    r"( \(resumed\))?( client-cert=(.*))?$", re.M)


# --------------------------------------------------------------------------
# helpers


@pytest.fixture
def ctx(module_server):
    return h.tls_context(module_server)


def insecure_ctx():
    """A client context that accepts any certificate (we compare fingerprints)."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def sha256(der):
    return hashlib.sha256(der).hexdigest()


def file_fp(pem_path):
    with open(pem_path) as f:
        return sha256(ssl.PEM_cert_to_DER_cert(f.read()))


def make_cert(d, name, cn, sans, kind="ec"):
    """A self-signed certificate made by the openssl CLI; returns (cert, key)."""
    crt, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec"
              else ["-newkey", "rsa:2048"])
    r = subprocess.run([OPENSSL, "req", "-x509"] + newkey +
                       ["-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/" + cn,
                        "-addext", "subjectAltName=" + ",".join("DNS:" + s for s in sans)],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return crt, key


def add_tls_line(srv, crt, key):
    """Append a `tls cert ... key ...` pair (Server.set_conf would replace the first)."""
    with open(srv.conf, "a") as f:
        f.write("tls cert %s key %s\n" % (crt, key))


def cert_text(der):
    """Subject and SAN of a DER certificate, as `openssl x509` prints them."""
    r = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout", "-subject", "-ext",
                        "subjectAltName"], input=der, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def n_workers(srv):
    m = re.search(r"(\d+) smtp worker\(s\)", srv.log_text())
    assert m, srv.log_tail(10)
    return int(m.group(1))


def log_size(srv):
    return len(srv.log_text())


def log_since(srv, off):
    return srv.log_text()[off:]


def wait_log(srv, off, pattern, count=1, timeout=10):
    """Wait (bounded) for count matches of regex pattern in the log after offset off."""
    ok = h.wait_until(lambda: len(re.findall(pattern, log_since(srv, off), re.M)) >= count,
                      timeout * h.SLOW)
    assert ok, "log never showed %d x %r; tail:\n%s" % (count, pattern, srv.log_tail(25))
    return re.findall(pattern, log_since(srv, off), re.M)


def tls_connect(port, sni=h.HOSTNAME, ctx=None, starttls=False):
    """A TLS connection (implicit, or after EHLO+STARTTLS) as an h.Client whose
    banner (implicit) is read; returns the client."""
    ctx = ctx or insecure_ctx()
    if starttls:
        c = h.Client(port)
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "220 2.0.0")
        assert c.pending(0.1) == b""
        c.sock = ctx.wrap_socket(c.sock, server_hostname=sni)
        return c
    c = h.Client(port, banner=False)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=sni)
    c.banner = c.reply()
    check_reply(c.banner, "220")
    return c


def peer_fp(port, sni=h.HOSTNAME, starttls=False):
    c = tls_connect(port, sni, starttls=starttls)
    try:
        der = c.sock.getpeercert(binary_form=True)
        check_reply(c.cmd("QUIT"), "221")
        return sha256(der), der
    finally:
        c.close()


def maybe_auth(c, ehlo_rep):
    """Authenticate as bob when the listener offers AUTH (submission with AUTH);
    without AUTH (the state this file was written against) do nothing."""
    for t in ehlo_rep.texts:
        if t.upper().startswith("AUTH ") and "PLAIN" in t.upper().split():
            tok = base64.b64encode(("\0%s\0%s" % BOB).encode()).decode()
            check_reply(c.cmd("AUTH PLAIN " + tok), "235")
            return True
    return False


def s_client(port, *args, starttls=False, stdin=b"QUIT\r\n", delay=0.0, timeout=20):
    """Run `openssl s_client` (bounded); returns (exit status, stdout+stderr).
    delay: seconds to wait before writing stdin (so commands follow the 220
    of implicit TLS instead of racing it, see test_submissions_early_talker)."""
    argv = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-ign_eof"]
    if starttls:
        argv += ["-starttls", "smtp"]
    argv += list(args)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        if delay:
            time.sleep(delay * h.SLOW)
        out, err = p.communicate(stdin, timeout=timeout * h.SLOW)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    return p.returncode, out.decode("utf-8", "replace") + "\n" + err.decode("utf-8", "replace")


def negotiated(out):
    """(protocol, cipher) from s_client's "New, TLSv1.3, Cipher is X" line, or None."""
    m = re.search(r"^(?:New|Reused), (\S+), Cipher is (\S+)$", out, re.M)
    return (m.group(1), m.group(2)) if m else None


def server_cert_der(out):
    m = re.search(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----", out, re.S)
    assert m, out[-2000:]
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def received_header(raw):
    m = re.search(rb"^Received: from .*?(?=\n[^\t])", raw, re.M | re.S)
    assert m, raw[:400]
    return m.group(0).decode("utf-8", "replace")


def parse_mail(srv, local="bob", n=1):
    paths = srv.wait_files(local, n)
    assert len(paths) == n, (paths, srv.log_tail(20))
    return [h.parse_delivered(h.read_bytes(p)) for p in paths]


# --------------------------------------------------------------------------
# swaks


def _swaks(port, *args, sender="swaks@example.org"):
    if not os.path.exists(SWAKS):
        pytest.fail("swaks is not installed (scripts/deps.sh test installs it)")
    argv = [SWAKS, "--server", "127.0.0.1:%d" % port, "--helo", "swaks.example.org",
            "--timeout", str(20 * h.SLOW), "--to", "bob@example.test",
            "--from", sender] + list(args)
    r = subprocess.run(argv, capture_output=True, timeout=60 * h.SLOW, stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    # swaks' TLS needs Debian's libnet-ssleay-perl: say so loudly.
    assert "Net::SSLeay" not in out and "not available" not in out.lower(), \
        "swaks cannot do TLS (install libnet-ssleay-perl):\n" + out
    return r, out


@pytest.mark.parametrize("mode", ["starttls-smtp", "implicit-submissions"])
def test_swaks_tls_delivers(server, mode):
    token = uuid.uuid4().hex
    if mode == "starttls-smtp":
        r, out = _swaks(server.port, "--tls", "--header", "Subject: swaks tls " + token)
    else:
        # Submission: authenticated as bob (when AUTH exists), sending as bob.
        r, out = _swaks(server.subs_port, "--tlsc", "--auth-optional", "PLAIN",
                        "--auth-user", BOB[0], "--auth-password", BOB[1],
                        "--header", "Subject: swaks tls " + token, sender=BOB[0])
    assert r.returncode == 0, out
    m = re.search(r"TLS started with cipher (TLSv1\.[23]):(\S+):(\d+)", out)
    assert m, out
    ids = re.findall(r"<~\s+250 2\.0\.0 Ok: queued as ([0-9a-f]{16})", out)
    assert len(ids) == 1, out
    if mode == "starttls-smtp":
        assert re.search(r"<-\s+220 2\.0\.0 Ready to start TLS", out), out
    [d] = parse_mail(server)
    assert d.qid == ids[0]
    assert d.proto.startswith("ESMTPS"), d.raw[:400]
    assert d.tls == "%s with cipher %s (%s/%s bits)" % (m.group(1), m.group(2), m.group(3),
                                                        m.group(3)), d.raw[:400]
    assert ("Subject: swaks tls " + token).encode() in d.body


# --------------------------------------------------------------------------
# Python smtplib


def test_smtplib_starttls(server):
    ctx = h.tls_context(server)  # trusts DIR/tls/cert.pem, checks mx.example.test
    off = log_size(server)
    token = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="py.example.org",
                      timeout=20 * h.SLOW) as s:
        s._host = h.HOSTNAME  # server_hostname for starttls()
        code, caps = s.ehlo()
        assert code == 250 and s.has_extn("starttls"), caps
        code, msg = s.starttls(context=ctx)
        assert (code, msg) == (220, b"2.0.0 Ready to start TLS")
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo()
        assert not s.has_extn("starttls"), "STARTTLS advertised inside TLS"
        refused = s.sendmail("py@example.org", ["bob@example.test"],
                             "Subject: smtplib starttls %s\r\n\r\nbody\r\n" % token)
        assert refused == {}
    [d] = parse_mail(server)
    rec = received_header(d.raw)
    assert "with ESMTPS" in rec and "(using TLSv1." in rec, rec
    assert "\t(using %s with cipher %s (" % (version, cipher) in rec, (version, cipher, rec)
    assert "by mx.example.test (sealpost) with ESMTPS id " + d.qid in rec, rec
    assert d.helo == "py.example.org"
    assert d.proto == "ESMTPS"
    assert ("Subject: smtplib starttls " + token).encode() in d.body
    [est] = wait_log(server, off, ESTABLISHED_RE.pattern)
    assert est[0] == version and est[1] == cipher, est
    assert est[4] == "" and est[5] == "", "no resumption/client cert expected: %r" % (est,)
    if version == "TLSv1.3":
        assert cipher in TLS13_GOOD
    else:
        assert TLS12_GOOD.match(cipher), cipher


def test_smtplib_smtp_ssl_submissions(server):
    ctx = h.tls_context(server)
    token = uuid.uuid4().hex
    off = log_size(server)
    # SMTP_SSL sends SNI/checks the name it connects to: see _smtp_ssl.
    with _smtp_ssl(server, ctx) as s:
        code, caps = s.ehlo()
        assert code == 250 and not s.has_extn("starttls"), caps
        if s.has_extn("auth"):
            s.login(*BOB)
        assert s.sendmail("bob@example.test", ["bob@example.test"],
                          "From: bob@example.test\r\nSubject: smtp_ssl %s\r\n\r\nbody\r\n"
                          % token) == {}
        version, cipher = s.sock.version(), s.sock.cipher()[0]
    [d] = parse_mail(server)
    rec = received_header(d.raw)
    assert "with ESMTPS" in rec and "\t(using %s with cipher %s (" % (version, cipher) in rec, rec
    assert ("Subject: smtp_ssl " + token).encode() in d.body
    ests = wait_log(server, off, ESTABLISHED_RE.pattern)
    assert ests[-1][:2] == (version, cipher), ests


class _smtp_ssl(smtplib.SMTP_SSL):
    """SMTP_SSL to 127.0.0.1 that sends SNI mx.example.test and checks that name."""

    def __init__(self, srv, ctx):
        self._sp_port = srv.subs_port
        super().__init__(local_hostname="ssl.example.org", context=ctx, timeout=20 * h.SLOW)
        self._host = h.HOSTNAME
        code, msg = self.connect(h.HOSTNAME, srv.subs_port)
        assert code == 220 and msg == b"mx.example.test ESMTP sealpost", (code, msg)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection(("127.0.0.1", self._sp_port), timeout)
        return self.context.wrap_socket(sock, server_hostname=h.HOSTNAME)


def test_received_utf8smtps(server):
    ctx = h.tls_context(server)
    with server.client() as c:
        c.ehlo()
        c.starttls(ctx)
        c.ehlo()
        qid = c.send_message("grüße@example.org", ["bob@example.test"],
                             ["Subject: utf8 over tls", "", "x"], " SMTPUTF8")
        version, cipher = c.sock.version(), c.sock.cipher()[0]
    [d] = parse_mail(server)
    assert d.qid == qid
    assert d.proto == "UTF8SMTPS", received_header(d.raw)
    assert d.sender == "grüße@example.org"
    assert d.tls.startswith(version + " with cipher " + cipher + " ("), d.tls


# --------------------------------------------------------------------------
# raw sessions: reset, errors, injection


def test_starttls_delivers_over_tls(server):
    ctx = h.tls_context(server)
    with server.client() as c:
        rep = c.ehlo()
        assert "STARTTLS" in rep.texts, rep
        c.starttls(ctx)
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
        # The certificate is the one init made, for the configured hostname.
        assert c.sock.getpeercert()["subject"] == ((("commonName", "mx.example.test"),),)
        # Everything is reset: the client must EHLO again.
        check_reply(c.cmd("MAIL FROM:<a@example.org>"), "503 5.5.1")
        rep = c.ehlo()
        assert "STARTTLS" not in rep.texts, "STARTTLS offered again inside TLS"
        qid = c.send_message("tls@example.org", ["bob@example.test"],
                             ["Subject: over tls", "", "secret body"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.proto == "ESMTPS"
    assert m.tls and "TLS" in m.tls, m.raw[:300]
    assert m.body == b"Subject: over tls\n\nsecret body\n"


def test_transaction_before_starttls_is_forgotten(module_server, ctx):
    """MAIL/RCPT given in clear do not survive STARTTLS (RFC 3207 4.2)."""
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<clear@example.org>"), "250 2.1.0")
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5")
        c.starttls(ctx)
        check_reply(c.cmd("MAIL FROM:<a@example.org>"), "503 5.5.1")
        c.ehlo()
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "503 5.5.1")
        check_reply(c.cmd("DATA"), "503 5.5.1")


# The clients here write commands where RFC 2920 does not allow pipelining
# (EHLO+QUIT from openssl s_client, commands behind STARTTLS or before the
# banner); on smtp listeners the pipelining check would drop them before
# the TLS behaviour under test is reached. test_limits.py covers the check,
# including behind STARTTLS.
MODULE_LIMITS = {"pipelining-check": "off"}


INJECTIONS = {
    "rset": b"RSET\r\n",
    "mail": b"MAIL FROM:<a@b>\r\n",
    "mail-rcpt-data": b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
    "noop-quit": b"NOOP\r\nQUIT\r\n",
}


@pytest.mark.parametrize("listener", ["smtp", "submission"])
@pytest.mark.parametrize("inject", sorted(INJECTIONS))
def test_pipelined_after_starttls_never_answered(module_server, ctx, listener, inject):
    """STARTTLS and more commands in ONE send(): only the 220 comes back; the
    rest is discarded, never answered in clear nor inside TLS."""
    port = module_server.port if listener == "smtp" else module_server.sub_port
    with h.Client(port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + INJECTIONS[inject])
        rep = c.reply()
        assert rep.lines == ["220 2.0.0 Ready to start TLS"], rep
        assert c.pending(0.3) == b"", "replies to commands injected before the handshake"
        c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)
        rep = c.cmd("EHLO after.example.org")
        assert rep.lines[0] == "250-mx.example.test Hello [127.0.0.1]", \
            "first reply inside TLS is not the EHLO reply: %r" % rep
        assert "STARTTLS" not in rep.texts
        # Nothing of an injected transaction survived.
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        assert c.pending(0.2) == b""
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_pipelined_group_is_answered_in_one_record(module_server, ctx):
    """MAIL, RCPT and DATA sent together get their three replies in one TLS
    record: one recv() is one SSL_read(), which never returns more than one
    record, and here it holds all three."""
    with module_server.client() as c:
        c.ehlo()
        c.starttls(ctx)
        c.ehlo()
        c.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        c.sock.settimeout(c.timeout)
        got = c.sock.recv(65536)
        lines = got.split(b"\r\n")
        assert len(lines) == 4 and lines[3] == b"", got
        assert lines[0].startswith(b"250 2.1.0") and lines[1].startswith(b"250 2.1.5"), got
        assert lines[2].startswith(b"354 "), got
        c.send(b"Subject: one record\r\n\r\nbody\r\n.\r\n")
        check_reply(c.reply(), "250 2.0.0")
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_starttls_errors(module_server, ctx):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS now"), "501 5.5.4")
        c.starttls(ctx)
        check_reply(c.cmd("STARTTLS"), "503 5.5.1")  # before the new EHLO too
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    with h.Client(module_server.subs_port, tls=ctx) as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")


def test_garbage_instead_of_handshake(module_server):
    off = log_size(module_server)
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "220 2.0.0")
        c.send(b"EHLO not-tls\r\nMAIL FROM:<a@example.org>\r\n")
        # Not TLS: the server must not answer in clear, and gives up.
        assert c.closed_by_server(10 * h.SLOW)
        assert b"250" not in c.buf, c.buf
    assert module_server.running()
    # The log names OpenSSL's reason, and only real reasons (libevent also
    # queues SSL_get_error() codes, which would read "lib(0)::reason(1)").
    wait_log(module_server, off, r"disconnect from")
    errors = re.findall(r"TLS error: (.*)", log_since(module_server, off))
    assert errors and all("SSL routines" in e for e in errors), errors


def test_no_tls_error_when_client_skips_close_notify(module_server, ctx):
    """Most clients close without close_notify, often before our 221 is
    out: a normal end of the session (SMTP frames its own data), not a "TLS
    error" in the log. Closed here while the server is reading, on both
    kinds of TLS listener."""
    off = log_size(module_server)
    for c in (tls_connect(module_server.port, starttls=True), tls_connect(module_server.subs_port)):
        c.ehlo()
        c.close()  # Python's close() sends no close_notify (only unwrap() does)
    wait_log(module_server, off, r"disconnect from", count=2)
    assert "TLS error" not in log_since(module_server, off), log_since(module_server, off)


def test_close_notify_on_quit(module_server, ctx):
    """After 221 the server ends TLS with close_notify (RFC 8446 6.1, RFC 5246
    7.2.1) instead of just closing the socket: a client that does not ignore
    a truncated stream must see a clean end, not UNEXPECTED_EOF."""
    strict = h.tls_context(module_server)
    strict.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    results = {}
    for kind in ("submissions", "starttls"):
        if kind == "submissions":
            raw = socket.create_connection(("127.0.0.1", module_server.subs_port), timeout=10)
        else:
            c = module_server.client()
            c.ehlo()
            check_reply(c.cmd("STARTTLS"), "220 2.0.0")
            raw = c.sock
        t = strict.wrap_socket(raw, server_hostname=h.HOSTNAME, suppress_ragged_eofs=False)
        data = b""
        try:
            while kind == "submissions" and b"\r\n" not in data:
                data += t.recv(4096)  # the banner first (see test_submissions_early_talker)
            t.sendall(b"QUIT\r\n")
            for _ in range(20):
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            results[kind] = "clean"
        except ssl.SSLError as e:
            results[kind] = str(e)
        finally:
            t.close()
        assert b"221 2.0.0" in data, (kind, data, results)
    assert results == {"submissions": "clean", "starttls": "clean"}, \
        "connection closed without close_notify: %r" % results


# --------------------------------------------------------------------------
# submission (587) and submissions (465)


GATED = ["MAIL FROM:<bob@example.test>", "RCPT TO:<bob@example.test>", "DATA", "VRFY bob",
         "EXPN list", "HELP", "BDAT 0 LAST"]


def test_submission_requires_starttls(make_server):
    # no tarpit: the refusals would wait out its delays (test_limits times those)
    server = make_server(limits={"tarpit-max": "0"})
    ctx = h.tls_context(server)
    token = uuid.uuid4().hex
    with h.Client(server.sub_port) as c:
        assert c.banner.lines == ["220 mx.example.test ESMTP sealpost"]
        rep = c.ehlo()
        assert "STARTTLS" in rep.texts, rep
        for cmd in GATED:
            check_reply(c.cmd(cmd), "530 5.7.0")
        assert c.cmd("MAIL FROM:<a@b>").text == "Must issue a STARTTLS command first"
        for cmd in ("NOOP", "RSET"):
            check_reply(c.cmd(cmd), "250 2.0.0")
        check_reply(c.cmd("HELO again.example.org"), "250")
        c.ehlo()
        c.starttls(ctx)
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "503 5.5.1")
        rep = c.ehlo()
        assert "STARTTLS" not in rep.texts
        authed = maybe_auth(c, rep)
        qid = c.send_message("bob@example.test", ["bob@example.test"],
                             ["From: bob@example.test", "Subject: submission " + token, "",
                              "over 587"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    [d] = parse_mail(server)
    assert d.qid == qid, d.raw[:400]
    # RFC 3848 registers ESMTPSA for an authenticated TLS session; plain ESMTPS is
    # allowed too (the server does not say AUTH was used, at the time of writing).
    assert d.proto in (("ESMTPSA", "ESMTPS") if authed else ("ESMTPS",)), d.raw[:400]
    assert d.tls.startswith(("TLSv1.3 with cipher", "TLSv1.2 with cipher")), d.tls
    assert ("Subject: submission " + token).encode() in d.body


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_refused_bdat_chunk_is_consumed(module_server, listener):
    """A refused BDAT still carries its chunk (RFC 3030: the octets are data):
    they must be read and dropped, never run as commands. The smtp listener
    does so (503); the submission STARTTLS gate must too (530)."""
    port = module_server.port if listener == "smtp" else module_server.sub_port
    with h.Client(port) as c:
        c.ehlo()
        c.send(b"BDAT 6\r\nRSET\r\n")
        rep = c.reply()
        assert rep.code in (503, 530), rep
        extra = c.pending(0.5)
        assert extra == b"", "the BDAT chunk was run as a command: %r then %r" % (rep, extra)
        check_reply(c.cmd("NOOP"), "250 2.0.0")


def test_submissions_implicit_tls(module_server, ctx):
    with h.Client(module_server.subs_port, tls=ctx) as c:
        assert c.banner.lines == ["220 mx.example.test ESMTP sealpost"]
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        rep = c.ehlo()
        assert "STARTTLS" not in rep.texts
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_submissions_early_talker(module_server):
    """Commands written right after the client's Finished (before the 220
    arrived) are answered or refused, never silently dropped: the clear-text
    listeners answer such a client every time, implicit TLS must too."""
    results = {}
    for kind, port in (("smtp-clear", module_server.port), ("submissions",
                                                            module_server.subs_port)):
        got = []
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10 * h.SLOW)
            if kind == "submissions":
                sock = insecure_ctx().wrap_socket(sock, server_hostname=h.HOSTNAME)
            data = b""
            try:
                sock.sendall(b"EHLO early.example.org\r\nQUIT\r\n")
                for _ in range(50):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            finally:
                sock.close()
            codes = [l[:3] for l in data.decode("utf-8", "replace").split("\r\n") if l[3:4] == " "]
            got.append(" ".join(codes))
        results[kind] = got
    assert results["smtp-clear"] == ["220 250 221"] * 16, results
    assert results["submissions"] == ["220 250 221"] * 16, \
        "implicit TLS dropped a client whose commands followed its Finished: %r" % results


def test_submissions_refuses_clear_text(module_server):
    with h.Client(module_server.subs_port, banner=False) as c:
        c.send(b"EHLO clear.example.org\r\n")
        assert c.closed_by_server(10 * h.SLOW)
        assert not c.buf.startswith(b"220") and b"250" not in c.buf, c.buf


# --------------------------------------------------------------------------
# openssl s_client: the three listeners, the policy


@pytest.mark.parametrize("listener", ["smtp", "submission", "submissions"])
def test_openssl_s_client(module_server, listener):
    port = {"smtp": module_server.port, "submission": module_server.sub_port,
            "submissions": module_server.subs_port}[listener]
    rc, out = s_client(port, "-servername", h.HOSTNAME, starttls=(listener != "submissions"),
                       stdin=b"EHLO s-client.example.org\r\nQUIT\r\n", delay=0.5)
    assert "Didn't find STARTTLS" not in out, out
    assert negotiated(out) == ("TLSv1.3", negotiated(out)[1]) and \
        negotiated(out)[1] in TLS13_GOOD, out
    assert re.search(r"^subject=CN = mx\.example\.test$", out, re.M), out
    assert re.search(r"^Compression: NONE$", out, re.M), out
    assert re.search(r"^Server Temp Key: X25519", out, re.M), out
    if listener == "submissions":
        assert "220 mx.example.test ESMTP sealpost" in out, out
    assert "250-mx.example.test Hello [127.0.0.1]" in out, out
    assert "221 2.0.0 mx.example.test closing connection" in out, out
    assert module_server.running()


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_protocol_versions_refused(module_server, version):
    rc, out = s_client(module_server.subs_port, version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert rc != 0, out
    assert "alert protocol version" in out, out  # the server's alert, not a local refusal
    assert "220 " not in out
    assert negotiated(out) == ("(NONE)", "(NONE)"), out
    assert module_server.running()


@pytest.mark.parametrize("cipher", ["AES128-SHA", "ECDHE-RSA-AES128-SHA",
                                    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA",
                                    "AES256-SHA256", "AES128-GCM-SHA256",
                                    "DHE-RSA-AES128-GCM-SHA256"])
def test_tls12_weak_ciphers_refused(module_server, cipher):
    rc, out = s_client(module_server.subs_port, "-tls1_2", "-cipher", cipher + ":@SECLEVEL=0")
    assert rc != 0, out
    assert "alert handshake failure" in out, out
    assert negotiated(out) == ("(NONE)", "(NONE)"), out
    assert "220 " not in out


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_group_p384_only_refused(module_server, version):
    rc, out = s_client(module_server.subs_port, version, "-groups", "P-384")
    assert rc != 0, out
    assert "alert handshake failure" in out, out
    assert negotiated(out) == ("(NONE)", "(NONE)"), out


def test_tls12_defaults_and_policy(module_server):
    # TLS 1.2 with the client's default list: an ECDHE + AEAD suite.
    rc, out = s_client(module_server.subs_port, "-tls1_2")
    proto, cipher = negotiated(out)
    assert proto == "TLSv1.2" and TLS12_GOOD.match(cipher), out
    assert "220 mx.example.test ESMTP sealpost" in out
    # CHACHA20 alone is fine.
    rc, out = s_client(module_server.subs_port, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-CHACHA20-POLY1305")
    assert negotiated(out) == ("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"), out
    # Server preference: the client lists CHACHA20 first, the server picks its own first.
    rc, out = s_client(module_server.subs_port, "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                       "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert negotiated(out) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"), out
    rc, out = s_client(module_server.subs_port, "-tls1_3", "-ciphersuites",
                       "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256")
    assert negotiated(out) == ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), out
    # P-256 alone is accepted.
    rc, out = s_client(module_server.subs_port, "-groups", "P-256")
    assert negotiated(out)[0] == "TLSv1.3", out
    assert re.search(r"^Server Temp Key: ECDH, prime256v1, 256 bits$", out, re.M), out


def test_tls12_renegotiation_refused(module_server):
    """A client-initiated renegotiation ("R" on s_client's stdin) is refused."""
    p = subprocess.Popen([OPENSSL, "s_client", "-connect",
                          "127.0.0.1:%d" % module_server.subs_port, "-tls1_2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for data in (b"R\n", b"NOOP\r\n"):
            time.sleep(0.7 * h.SLOW)
            try:
                p.stdin.write(data)
                p.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                break
        time.sleep(0.5 * h.SLOW)
        out = p.communicate(timeout=15 * h.SLOW)[0].decode("utf-8", "replace")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert "220 mx.example.test ESMTP sealpost" in out, out
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out or "alert" in out, out
    assert "250 2.0.0" not in out, "the session went on after a renegotiation: " + out
    assert module_server.running()


def _weak_ctx(lo, hi, ciphers):
    ctx = insecure_ctx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            ctx.minimum_version = lo
            ctx.maximum_version = hi
            ctx.set_ciphers(ciphers)
        except (ValueError, ssl.SSLError):
            pytest.skip("this OpenSSL cannot offer %s/%s" % (hi, ciphers))
    return ctx


def _handshake_error(srv, ctx):
    """Do STARTTLS + handshake with ctx; None when it worked, else the reason."""
    with srv.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "220 2.0.0")
        try:
            c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)
        except ssl.SSLError as e:
            return e.reason or str(e)
        except OSError as e:
            return str(e)
        return None


LOCAL_FAILURES = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH")


@pytest.mark.parametrize("what", ["tls1.1", "tls1.2-cbc"])
def test_weak_tls_refused_python(module_server, what):
    """The same policy seen by Python's ssl after STARTTLS on the smtp port."""
    if what == "tls1.1":
        ctx = _weak_ctx(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
    else:  # ECDHE with the server's ECDSA key, but CBC instead of AEAD
        ctx = _weak_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                        "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
                        "ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    reason = _handshake_error(module_server, ctx)
    if reason in LOCAL_FAILURES:
        pytest.skip("the client side cannot offer this: %s" % reason)
    assert reason is not None, "a weak TLS handshake (%s) was accepted" % what
    assert "ALERT" in reason or "HANDSHAKE" in reason.upper(), reason
    assert module_server.running()


# --------------------------------------------------------------------------
# resumption, client certificates


def _resume_pair(srv, tmp, *args):
    """Two s_client runs, -sess_out then -sess_in; returns (worker1, worker2, out2)."""
    sess = os.path.join(tmp, "sess-%s.pem" % uuid.uuid4().hex[:8])
    workers = []
    outs = []
    for io in ("-sess_out", "-sess_in"):
        off = log_size(srv)
        rc, out = s_client(srv.subs_port, io, sess, *args, delay=0.3)
        assert negotiated(out) is not None and negotiated(out)[0].startswith("TLSv1."), out
        assert "221 2.0.0" in out, out
        est = wait_log(srv, off, r"^\S+ sealpost\[\d+\] (smtp\d+): \[127\.0\.0\.1\]: "
                                 r"TLS established: ")
        workers.append(est[-1])
        outs.append(out)
    return workers[0], workers[1], outs[1]


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_session_resumption(make_server, version):
    srv = make_server(conf={"workers": "1"})
    off = log_size(srv)
    w1, w2, out = _resume_pair(srv, srv.dir, version)
    assert re.search(r"^Reused, TLSv1\.[23], Cipher is ", out, re.M), out
    ests = ESTABLISHED_RE.findall(log_since(srv, off))
    assert [e[4] for e in ests] == ["", " (resumed)"], ests


def test_session_resumption_across_workers(make_server):
    """A client's next connection may land on any SMTP worker: a ticket from
    one worker must resume on another (shared ticket keys)."""
    srv = make_server(conf={"workers": "2"})
    assert n_workers(srv) == 2
    seen = []
    for _ in range(16):
        w1, w2, out = _resume_pair(srv, srv.dir)
        seen.append((w1, w2, "Reused" if re.search(r"^Reused, ", out, re.M) else "New"))
        if sum(1 for a, b, _r in seen if a != b) >= 2:
            break
    cross = [s for s in seen if s[0] != s[1]]
    if not cross:
        pytest.skip("all 16 reconnections landed on the same worker: %r" % seen)
    assert all(r == "Reused" for _a, _b, r in seen), \
        "tickets not resumed across workers (worker, worker, result): %r" % seen


def test_client_certificate_logged(module_server):
    d = module_server.dir
    crt, key = os.path.join(d, "client.pem"), os.path.join(d, "client.key")
    if not os.path.exists(crt):
        r = subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                            "-days", "2", "-subj", CLIENT_SUBJECT], capture_output=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
    for starttls, port in ((False, module_server.subs_port), (True, module_server.port)):
        off = log_size(module_server)
        rc, out = s_client(port, "-cert", crt, "-key", key, starttls=starttls, delay=0.3)
        assert negotiated(out)[0] == "TLSv1.3", out
        assert "221 2.0.0" in out, out
        [est] = wait_log(module_server, off, ESTABLISHED_RE.pattern)
        assert est[6] == CLIENT_SUBJECT, est
    # Without a certificate: no client-cert= in the line.
    off = log_size(module_server)
    rc, out = s_client(module_server.subs_port)
    [est] = wait_log(module_server, off, ESTABLISHED_RE.pattern)
    assert est[5] == "", est


# --------------------------------------------------------------------------
# SNI, dual certificates


def test_sni_selects_certificate(make_server):
    srv = make_server(start=False)
    other, other_key = make_cert(srv.dir, "other", "CN=other.example.test",
                                 ["other.example.test", "*.wild.example.test"])
    add_tls_line(srv, other, other_key)
    srv.start()
    default_fp = file_fp(os.path.join(srv.dir, "tls", "cert.pem"))
    other_fp = file_fp(other)
    assert default_fp != other_fp
    cases = [("other.example.test", other_fp), ("x.wild.example.test", other_fp),
             ("OTHER.Example.TEST", other_fp), ("mx.example.test", default_fp),
             ("unknown.example.org", default_fp), (None, default_fp),
             ("wild.example.test", default_fp), ("a.b.wild.example.test", default_fp)]
    got = {}
    for sni, want in cases:
        fp, der = peer_fp(srv.subs_port, sni)
        got[sni] = "other" if fp == other_fp else "default" if fp == default_fp else fp
    want = {sni: "other" if fp == other_fp else "default" for sni, fp in cases}
    assert got == want
    fp, der = peer_fp(srv.subs_port, "x.wild.example.test")
    text = cert_text(der)
    assert "subject=CN = other.example.test" in text, text
    assert "DNS:other.example.test, DNS:*.wild.example.test" in text, text
    # The same over STARTTLS on the smtp and submission listeners.
    for port in (srv.port, srv.sub_port):
        assert peer_fp(port, "other.example.test", starttls=True)[0] == other_fp
        assert peer_fp(port, "mx.example.test", starttls=True)[0] == default_fp
    assert srv.running()


def test_rsa_and_ecdsa_certificates_for_one_name(make_server):
    srv = make_server(start=False)
    rsa, rsa_key = make_cert(srv.dir, "rsa", "CN=mx.example.test", ["mx.example.test"], "rsa")
    add_tls_line(srv, rsa, rsa_key)
    srv.start()
    ec_fp, rsa_fp = file_fp(os.path.join(srv.dir, "tls", "cert.pem")), file_fp(rsa)
    cases = [
        (["-sigalgs", "RSA-PSS+SHA256"], "RSA-PSS", "2048", rsa_fp),
        (["-sigalgs", "ECDSA+SHA256"], "ECDSA", "256", ec_fp),
        (["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "RSA-PSS", "2048", rsa_fp),
        (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], "ECDSA", "256", ec_fp),
    ]
    for args, sigtype, bits, fp in cases:
        rc, out = s_client(srv.subs_port, "-servername", h.HOSTNAME, *args)
        assert "220 mx.example.test ESMTP sealpost" in out, (args, out)
        assert re.search(r"^Peer signature type: %s$" % sigtype, out, re.M), (args, out)
        assert re.search(r"^Server public key is %s bit$" % bits, out, re.M), (args, out)
        assert sha256(server_cert_der(out)) == fp, args
    # Without a preference the default ECDSA certificate is served.
    assert peer_fp(srv.subs_port)[0] == ec_fp


# --------------------------------------------------------------------------
# SIGHUP reload


def _replace_pair(srv, name):
    """Write a fresh cert/key for mx.example.test over DIR/tls/{cert,key}.pem
    (temp file + rename); returns the new fingerprint."""
    tls = os.path.join(srv.dir, "tls")
    crt, key = make_cert(tls, name, "CN=mx.example.test", ["mx.example.test"])
    os.rename(key, os.path.join(tls, "key.pem"))
    os.rename(crt, os.path.join(tls, "cert.pem"))
    return file_fp(os.path.join(tls, "cert.pem"))


def _write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def test_sighup_reload(server):
    nw = n_workers(server)
    old_fp = file_fp(os.path.join(server.dir, "tls", "cert.pem"))
    old_ctx = h.tls_context(server)
    live = smtplib.SMTP("127.0.0.1", server.port, local_hostname="live.example.org",
                        timeout=20 * h.SLOW)
    try:
        live._host = h.HOSTNAME
        live.ehlo()
        assert live.starttls(context=old_ctx)[0] == 220
        live.ehlo()
        assert sha256(live.sock.getpeercert(True)) == old_fp

        off = log_size(server)
        new_fp = _replace_pair(server, "fresh")
        assert new_fp != old_fp
        os.kill(server.pid, signal.SIGHUP)
        wait_log(server, off, r"TLS certificates reloaded \(1\)$", count=nw)
        assert "TLS reload refused" not in log_since(server, off)
        # New connections (each listener, several so every worker is seen) get the new one.
        for port, starttls in ((server.subs_port, False), (server.port, True),
                               (server.sub_port, True)):
            for _ in range(2 * nw):
                assert peer_fp(port, starttls=starttls)[0] == new_fp
        # The live session goes on, on its old certificate.
        assert live.noop()[0] == 250
        assert live.sendmail("live@example.org", ["bob@example.test"],
                             "Subject: through the live session\r\n\r\nstill here\r\n") == {}
        [d] = parse_mail(server)
        assert b"Subject: through the live session" in d.body and d.proto == "ESMTPS"

        # Broken replacements are refused; the last good certificate stays.
        key_path = os.path.join(server.dir, "tls", "key.pem")
        good_key = h.read_bytes(key_path)
        _other_crt, other_key = make_cert(server.dir, "stray", "CN=stray.example.test",
                                          ["stray.example.test"])
        for what, data in (("garbage", b"-----BEGIN PRIVATE KEY-----\ngarbage\n"
                                        b"-----END PRIVATE KEY-----\n"),
                           ("mismatch", h.read_bytes(other_key))):
            off = log_size(server)
            _write_atomic(key_path, data)
            os.kill(server.pid, signal.SIGHUP)
            wait_log(server, off, r"TLS reload refused")
            time.sleep(0.3)
            assert "TLS certificates reloaded" not in log_since(server, off), what
            assert server.running(), what
            for _ in range(2 * nw):
                assert peer_fp(server.subs_port)[0] == new_fp, what
            assert live.noop()[0] == 250, what
        _write_atomic(key_path, good_key)
        assert live.quit()[0] == 221
    finally:
        live.close()
    assert server.running()


@pytest.mark.parametrize("sni", ["mx.example.test", "other.example.test"])
def test_reload_during_pending_handshakes(make_server, sni):
    """Connections accepted (submissions) or past STARTTLS (smtp) before a
    reload whose ClientHello arrives after it must still complete a handshake,
    and the server must survive."""
    srv = make_server(start=False)
    other, other_key = make_cert(srv.dir, "other", "CN=other.example.test",
                                 ["other.example.test"])
    add_tls_line(srv, other, other_key)
    srv.start()
    nw = n_workers(srv)
    pending = []
    try:
        for _ in range(3 * nw):
            pending.append(("submissions", h.Client(srv.subs_port, banner=False)))
        for _ in range(nw):
            c = srv.client()
            c.ehlo()
            check_reply(c.cmd("STARTTLS"), "220 2.0.0")
            pending.append(("starttls", c))
        time.sleep(0.3)
        off = log_size(srv)
        os.kill(srv.pid, signal.SIGHUP)
        wait_log(srv, off, r"TLS certificates reloaded \(2\)$", count=nw)
        failures = []
        want = file_fp(other if sni == "other.example.test" else
                       os.path.join(srv.dir, "tls", "cert.pem"))
        for kind, c in pending:
            try:
                c.sock = insecure_ctx().wrap_socket(c.sock, server_hostname=sni)
                if kind == "submissions":
                    check_reply(c.reply(), "220")
                c.ehlo()
                if sha256(c.sock.getpeercert(True)) != want:
                    failures.append((kind, "wrong certificate"))
            except (OSError, AssertionError, h.ConnectionClosed) as e:
                failures.append((kind, "%s: %s" % (type(e).__name__, e)))
    finally:
        for _k, c in pending:
            c.close()
    time.sleep(0.3)
    died = re.findall(r".*died of signal.*|.*double free.*|.*AddressSanitizer.*",
                      srv.log_text())
    assert not failures and not died and srv.running(), \
        "handshakes pending across a reload: %r\n%s" % (failures, "\n".join(died))


# --------------------------------------------------------------------------
# broken configuration


def _tls_line_no(srv):
    for i, line in enumerate(srv.read_conf().splitlines(), 1):
        if line.startswith("tls "):
            return i
    raise AssertionError("no tls line")


def _break(srv, how):
    """Break the init tls pair; returns the path an error message must name."""
    tls = os.path.join(srv.dir, "tls")
    if how == "missing-cert":
        missing = os.path.join(tls, "missing.pem")
        conf = srv.read_conf().replace(os.path.join(tls, "cert.pem"), missing)
        with open(srv.conf, "w") as f:
            f.write(conf)
        return missing
    if how == "garbage-key":
        with open(os.path.join(tls, "key.pem"), "w") as f:
            f.write("this is not a key\n")
        return os.path.join(tls, "key.pem")
    if how == "garbage-cert":
        with open(os.path.join(tls, "cert.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        return os.path.join(tls, "cert.pem")
    if how == "mismatched-key":
        _crt, key = make_cert(srv.dir, "stray", "CN=stray.example.test", ["stray.example.test"])
        os.rename(key, os.path.join(tls, "key.pem"))
        return os.path.join(tls, "key.pem")
    raise ValueError(how)


BROKEN = ["missing-cert", "garbage-key", "garbage-cert", "mismatched-key"]


@pytest.mark.parametrize("how", BROKEN)
def test_serve_refuses_broken_tls(make_server, how):
    srv = make_server(start=False)
    path = _break(srv, how)
    line = _tls_line_no(srv)
    t0 = time.monotonic()
    p = subprocess.Popen([h.BIN, "serve", "-c", srv.conf, "-f"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=10 * h.SLOW)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate(timeout=10)
        pytest.fail("serve kept running with a broken tls pair (%s)" % how)
    elapsed = time.monotonic() - t0
    assert p.returncode == 1, (p.returncode, err)
    assert elapsed < 5 * h.SLOW, elapsed
    lines = err.decode("utf-8", "replace").splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("sealpost: %s:%d: tls: " % (srv.conf, line)), \
        "not 'sealpost: FILE:LINE: tls: ...': %r" % lines[0]
    assert path in lines[0], "the message does not name %s: %r" % (path, lines[0])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()


@pytest.mark.parametrize("how", ["missing-cert", "garbage-key"])
def test_check_reports_broken_tls(make_server, how):
    srv = make_server(start=False)
    path = _break(srv, how)
    r = srv.cli("check")
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 1, out
    assert path in out and ":%d: tls: " % _tls_line_no(srv) in out, out
