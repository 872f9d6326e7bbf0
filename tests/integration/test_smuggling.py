"""SMTP smuggling: only CRLF.CRLF may end DATA. For every look-alike end of
data (bare CR/LF around the dot, NUL, ...), the commands that follow it must
stay message content: the server gives exactly one reply (554 5.6.0, since
the bare CR/LF makes the whole message unacceptable), delivers nothing from
that transaction, and the session keeps working."""
import time
import uuid

import pytest

import sphelpers as h
from sphelpers import check_reply, queued_id, wire_from_lines

SMUGGLED = (b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"smuggled\r\n")
END = b"\r\n.\r\n"

# name -> (text before the fake end, fake end)
VARIANTS = {
    "lf-dot-lf": (b"body1", b"\n.\n"),
    "cr-dot-cr": (b"body1", b"\r.\r"),
    "lf-dot-crlf": (b"body1", b"\n.\r\n"),
    "crlf-dot-lf": (b"body1", b"\r\n.\n"),
    "cr-dot-crlf": (b"body1", b"\r.\r\n"),
    "crlf-dot-cr": (b"body1", b"\r\n.\r"),
    "lf-dot-cr": (b"body1", b"\n.\r"),
    "cr-dot-lf": (b"body1", b"\r.\n"),
    "lf-dot": (b"body1", b"\n."),
    "cr-dot": (b"body1", b"\r."),
    "lfcr-dot-lfcr": (b"body1", b"\n\r.\n\r"),
    "crlf-dot-nul-crlf": (b"body1", b"\r\n.\x00\r\n"),
    "crlf-nul-dot-crlf": (b"body1", b"\r\n\x00.\r\n"),
    "crlf-dot-cr-crlf": (b"body1", b"\r\n.\r\r\n"),
    "crlf-dot-lf-crlf": (b"body1", b"\r\n.\n\r\n"),
    "crlflf-dot-crlf": (b"body1", b"\r\n\n.\r\n"),
    "dot-lf-at-start": (b"", b".\n"),
    "dot-cr-at-start": (b"", b".\r"),
    "dot-crcrlf-at-start": (b"", b".\r\r\n"),
    "lf-at-start": (b"", b"\n.\r\n"),
}


def fresh_mail(srv, before):
    return sorted(set(srv.all_delivered()) - before)


def session_still_works(srv, c, before):
    """After the refused message: NOOP answers (no stray replies), and a normal
    message still goes through and is the only new file."""
    check_reply(c.cmd("NOOP"), "250 2.0.0")
    assert c.pending(0.3) == b"", "stray replies after the refused message"
    token = uuid.uuid4().hex
    qid = c.send_message("good@example.org", ["carol@example.test"],
                         ["Subject: after " + token, "", "normal message " + token])
    check_reply(c.cmd("QUIT"), "221 2.0.0")
    assert srv.wait_queue_empty(), srv.queue_files()
    new = h.wait_until(lambda: fresh_mail(srv, before), 15 * h.SLOW)
    time.sleep(0.3)
    new = fresh_mail(srv, before)
    assert len(new) == 1, "expected only the normal message, found %s" % new
    m = h.parse_delivered(h.read_bytes(new[0]))
    assert m.qid == qid and token.encode() in m.body
    for path in srv.all_delivered():
        data = h.read_bytes(path)
        assert b"smuggled" not in data and b"evil@x.test" not in data, path


def open_data(c):
    c.ehlo()
    c.mail_rcpt("outer@example.org", ["alice@example.test"])
    check_reply(c.cmd("DATA"), "354")


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fake_end_of_data_one_write(module_server, name):
    srv = module_server
    before = set(srv.all_delivered())
    prefix, fake = VARIANTS[name]
    with srv.client() as c:
        open_data(c)
        c.send(prefix + fake + SMUGGLED + END)
        check_reply(c.reply(), "554 5.6.0")
        session_still_works(srv, c, before)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fake_end_of_data_split_writes(module_server, name):
    srv = module_server
    before = set(srv.all_delivered())
    prefix, fake = VARIANTS[name]
    with srv.client() as c:
        open_data(c)
        if prefix:
            c.send(prefix)
            time.sleep(0.03)
        for i in range(len(fake)):  # the fake end one octet per write
            c.send(fake[i:i + 1])
            time.sleep(0.03)
        # Nothing may be answered while the message is still open.
        assert c.pending(0.2) == b"", "reply before the real end of data"
        for line in SMUGGLED.split(b"\r\n")[:-1]:
            c.send(line + b"\r\n")
            time.sleep(0.03)
        assert c.pending(0.2) == b"", "smuggled commands were answered"
        c.send(b"\r\n.")
        time.sleep(0.05)
        c.send(b"\r\n")
        check_reply(c.reply(), "554 5.6.0")
        session_still_works(srv, c, before)


def test_bare_cr_before_real_end(module_server):
    """"body\\r\\r\\n.\\r\\n" holds a real CRLF.CRLF (the line "body\\r" ends in
    CRLF): the message ends there and is refused for its bare CR, and what
    follows are ordinary pipelined commands, answered in order."""
    srv = module_server
    with srv.client() as c:
        open_data(c)
        c.send(b"body1\r\r\n.\r\nNOOP\r\nRSET\r\n")
        check_reply(c.reply(), "554 5.6.0")
        check_reply(c.reply(), "250 2.0.0")
        check_reply(c.reply(), "250 2.0.0")
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_real_end_split_in_single_octets(module_server):
    """The real CRLF.CRLF split over writes still ends the message."""
    srv = module_server
    before = set(srv.all_delivered())
    with srv.client() as c:
        c.ehlo()
        c.mail_rcpt("split@example.org", ["bob@example.test"])
        check_reply(c.cmd("DATA"), "354")
        c.send(b"Subject: split\r\n\r\nline")
        for b in b"\r\n.\r\n":
            assert c.pending(0.05) == b""
            c.send(bytes([b]))
            time.sleep(0.03)
        qid = queued_id(c.reply())
    assert srv.wait_queue_empty()
    new = h.wait_until(lambda: fresh_mail(srv, before), 15 * h.SLOW)
    [path] = new
    m = h.parse_delivered(h.read_bytes(path))
    assert m.qid == qid and m.body == b"Subject: split\n\nline\n"


def test_quit_inside_data_is_content(module_server):
    srv = module_server
    before = set(srv.all_delivered())
    with srv.client() as c:
        c.ehlo()
        c.mail_rcpt("q@example.org", ["bob@example.test"])
        rep = c.data(b"Subject: quit inside\r\n\r\nhello\r\nQUIT\r\nRSET\r\nmore\r\n.\r\n")
        qid = queued_id(rep)
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        assert c.pending(0.2) == b""
    new = h.wait_until(lambda: fresh_mail(srv, before), 15 * h.SLOW)
    [path] = new
    m = h.parse_delivered(h.read_bytes(path))
    assert m.qid == qid
    assert m.body == b"Subject: quit inside\n\nhello\nQUIT\nRSET\nmore\n"


@pytest.mark.parametrize("fake", [b"\n.\n", b"\r\n.\n", b"\r.\r\n"])
def test_quit_after_fake_end_does_not_close(module_server, fake):
    srv = module_server
    before = set(srv.all_delivered())
    with srv.client() as c:
        open_data(c)
        c.send(b"hello" + fake + b"QUIT\r\n")
        time.sleep(0.2)
        assert not c.closed_by_server(0.3), "a QUIT inside the data closed the session"
        assert c.buf == b"", "reply before the end of data: %r" % c.buf
        c.send(END)
        check_reply(c.reply(), "554 5.6.0")
        session_still_works(srv, c, before)
