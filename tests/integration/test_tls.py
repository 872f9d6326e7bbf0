"""TLS: STARTTLS on the smtp listener (RFC 3207) with the certificate that
`sealpost init` made, the session reset it implies, the command-injection
class of bugs (CVE-2011-0411: commands pipelined after STARTTLS in clear),
submission requiring STARTTLS, and implicit TLS on submissions (RFC 8314)."""
import ssl

import pytest

import sphelpers as h
from sphelpers import check_reply, queued_id


@pytest.fixture
def ctx(module_server):
    return h.tls_context(module_server)


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


def test_commands_pipelined_after_starttls_are_discarded(module_server, ctx):
    with module_server.client() as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\n")
        check_reply(c.reply(), "220 2.0.0")
        assert c.pending(0.2) == b"", "replies to commands injected before the handshake"
        c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)
        rep = c.ehlo()
        assert rep.lines[0].startswith("250-mx.example.test") or \
            rep.lines[0].startswith("250 mx.example.test"), rep
        # Nothing of the injected transaction survived.
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        assert c.pending(0.2) == b""


def test_starttls_errors(module_server, ctx):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS now"), "501 5.5.4")
        c.starttls(ctx)
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")


def test_garbage_instead_of_handshake(module_server):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "220 2.0.0")
        c.send(b"EHLO not-tls\r\nMAIL FROM:<a@example.org>\r\n")
        # Not TLS: the server must not answer in clear, and gives up.
        assert c.closed_by_server(10 * h.SLOW)
        assert b"250" not in c.buf, c.buf
    assert module_server.running()


def test_submission_requires_starttls(module_server, ctx):
    with h.Client(module_server.sub_port) as c:
        assert c.banner.code == 220
        rep = c.ehlo()
        assert "STARTTLS" in rep.texts, rep
        check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "530 5.7.0")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        c.starttls(ctx)
        rep = c.ehlo()
        assert "STARTTLS" not in rep.texts


def test_submissions_implicit_tls(module_server, ctx):
    with h.Client(module_server.subs_port, tls=ctx) as c:
        assert c.banner.lines == ["220 mx.example.test ESMTP sealpost"]
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        rep = c.ehlo()
        assert "STARTTLS" not in rep.texts
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_submissions_refuses_clear_text(module_server):
    with h.Client(module_server.subs_port, banner=False) as c:
        c.send(b"EHLO clear.example.org\r\n")
        assert c.closed_by_server(10 * h.SLOW)
        assert not c.buf.startswith(b"220") and b"250" not in c.buf, c.buf


def _handshake_error(srv, ctx):
    """Try STARTTLS with ctx; the SSLError reason, or None when it worked."""
    with srv.client() as c:
        c.ehlo()
        check_reply(c.cmd("STARTTLS"), "220 2.0.0")
        try:
            c.sock = ctx.wrap_socket(c.sock, server_hostname=h.HOSTNAME)
        except ssl.SSLError as e:
            return e.reason or str(e)
        return None


def _weak_ctx(lo, hi, ciphers):
    import warnings
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            ctx.minimum_version = lo
            ctx.maximum_version = hi
            ctx.set_ciphers(ciphers)
        except (ValueError, ssl.SSLError):
            pytest.skip("this OpenSSL cannot offer %s/%s" % (hi, ciphers))
    return ctx


LOCAL_FAILURES = ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH")


@pytest.mark.parametrize("what", ["tls1.1", "tls1.2-cbc"])
def test_weak_tls_refused(module_server, what):
    """The policy is TLS 1.2+ with ECDHE and AEAD ciphers only."""
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
    print("%s refused: %s" % (what, reason))
    assert "ALERT" in reason or "HANDSHAKE" in reason.upper(), reason
    assert module_server.running()
