"""SMTP protocol behaviour of the real server: delivery exactness, pipelining,
8BITMIME, SMTPUTF8, CHUNKING/BDAT, size limits, and every reply code the
server promises (RFC 5321, 1870, 2034, 2920, 3030, 6152, 6531)."""
import os
import smtplib
import socket
import time

import pytest

import sphelpers as h
from sphelpers import check_reply, queued_id, stored_from_lines, wire_from_lines

SENDER = "sender@example.org"


def smtplib_client(srv):
    return smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example.org",
                        timeout=15 * h.SLOW)


def assert_nothing_delivered(srv):
    assert srv.wait_queue_empty(), "queue did not drain: %s" % srv.queue_files()
    time.sleep(0.2)
    assert srv.all_delivered() == [], "refused mail was delivered"


# ---------------------------------------------------------------- greeting


def test_banner_ehlo_helo(module_server):
    with module_server.client() as c:
        assert c.banner.lines == ["220 mx.example.test ESMTP sealpost"]
        rep = c.ehlo()
        assert rep.code == 250
        assert rep.lines[0].startswith("250-mx.example.test")
        kw = [l[4:] for l in rep.lines[1:]]
        for ext in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"):
            assert ext in kw, "EHLO does not offer %s: %r" % (ext, rep)
        size = [k for k in kw if k.startswith("SIZE ")]
        assert len(size) == 1 and int(size[0].split()[1]) == 25 * 1024 * 1024, rep
        check_reply(c.cmd("HELO client.example.org"), "250")
        check_reply(c.cmd("QUIT"), "221 2.0.0")


def test_ehlo_advertises_configured_size(make_server):
    srv = make_server(conf={"max-message-size": "64K"})
    with srv.client() as c:
        rep = c.ehlo()
        assert "SIZE 65536" in [l[4:] for l in rep.lines], rep


# ---------------------------------------------------------------- delivery


def test_smtplib_send_plain_exact_bytes(server):
    msg = (b"From: Sender <sender@example.org>\r\nTo: bob@example.test\r\n"
           b"Subject: plain test\r\nMessage-ID: <plain-1@example.org>\r\n\r\n"
           b"Hello Bob,\r\n\r\n  indented line\r\ntab\there\r\ntrailing space \r\n")
    with smtplib_client(server) as s:
        code, _ = s.ehlo()
        assert code == 250
        assert s.mail(SENDER)[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        code, text = s.data(msg)
        assert code == 250, text
    qid = h.QUEUED_RE.match(text.decode().split(" ", 1)[1]).group(1)
    [m] = server.read_mail("bob")
    assert m.sender == SENDER
    assert m.rcpt == "bob@example.test"
    assert m.helo == "client.example.org"
    assert m.client == "[127.0.0.1]"
    assert m.host == "mx.example.test"
    assert m.proto == "ESMTP"
    assert m.qid == qid
    assert m.for_ == "bob@example.test"
    assert m.body == msg.replace(b"\r\n", b"\n")
    st = os.stat(server.files("bob")[0])
    assert st.st_mode & 0o777 == 0o600


def test_smtplib_sendmail_and_helo_protocol_word(server):
    with smtplib_client(server) as s:
        s.helo("old.example.org")
        assert s.sendmail(SENDER, ["alice@example.test"],
                          b"Subject: helo\r\n\r\nvia HELO\r\n") == {}
    [m] = server.read_mail("alice")
    assert m.proto == "SMTP"
    assert m.helo == "old.example.org"
    assert m.body == b"Subject: helo\n\nvia HELO\n"


def test_several_messages_one_connection(server):
    sent = {}
    with server.client() as c:
        c.ehlo()
        for i in range(4):
            lines = ["Subject: message %d" % i, "", "body of message %d" % i]
            qid = c.send_message(SENDER, ["bob@example.test"], lines)
            assert qid not in sent
            sent[qid] = lines
            if i == 1:
                check_reply(c.cmd("RSET"), "250 2.0.0")
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    got = server.read_mail("bob", 4)
    assert {m.qid for m in got} == set(sent)
    for m in got:
        assert m.body == stored_from_lines(sent[m.qid])


def test_multiple_recipients_one_file_each(server):
    lines = ["Subject: to three", "", "one message, three mailboxes"]
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@example.test", "alice@example.test",
                                      "carol@example.test"], lines)
    for user in ("bob", "alice", "carol"):
        [m] = server.read_mail(user)
        assert m.qid == qid
        assert m.rcpt == "%s@example.test" % user
        assert m.for_ is None, "Received has 'for' with several recipients"
        assert m.body == stored_from_lines(lines)


def test_null_and_quoted_senders(server):
    with server.client() as c:
        c.ehlo()
        q1 = c.send_message("", ["bob@example.test"], ["Subject: bounce", "", "null sender"])
        q2 = c.send_message('"john q. public"@example.org', ["bob@example.test"],
                            ["Subject: quoted", "", "quoted local part"])
    got = {m.qid: m for m in server.read_mail("bob", 2)}
    assert got[q1].sender == ""
    assert got[q2].sender == '"john q. public"@example.org'


def test_large_message_exact(server):
    """A few MB through every buffer boundary: stored exactly, CRLF -> LF."""
    import random
    rnd = random.Random(1234)
    lines = ["Subject: large", ""]
    size = 0
    while size < 3 * 1024 * 1024:
        n = rnd.choice([0, 1, 2, 70, 76, 500, 997, 998])
        line = "".join(rnd.choice("abc.\t xyz") for _ in range(n))
        if rnd.random() < 0.05:
            line = "." + line
        if line.startswith("."):
            line = line[:997]  # the stuffed dot keeps it within 1000 octets on the wire
        lines.append(line)
        size += len(line) + 2
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@example.test"], lines)
    [m] = server.read_mail("bob", timeout=30 * h.SLOW)
    assert m.qid == qid
    assert m.body == stored_from_lines(lines)


def test_concurrent_sessions(server):
    import threading
    errors, qids = [], {}
    lock = threading.Lock()

    def one(i):
        try:
            # From three addresses: 30 from one would pass max-connections-per-ip.
            with server.client(source="127.0.0.%d" % (2 + i % 3)) as c:
                c.ehlo("c%d.example.org" % i)
                for j in range(2):
                    qid = c.send_message("c%d@example.org" % i, ["alice@example.test"],
                                         ["Subject: concurrent %d-%d" % (i, j), "", "x" * i])
                    with lock:
                        qids[qid] = (i, j)
                c.cmd("QUIT")
        except Exception as e:  # reported below
            with lock:
                errors.append("%d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * h.SLOW)
    assert not errors, errors
    assert len(qids) == 60
    got = server.read_mail("alice", 60, timeout=30 * h.SLOW)
    assert {m.qid for m in got} == set(qids)
    for m in got:
        i, j = qids[m.qid]
        assert m.body == stored_from_lines(["Subject: concurrent %d-%d" % (i, j), "", "x" * i])


def test_pipelined_commands_in_one_write(server):
    with server.client() as c:
        rep = c.ehlo()
        assert "PIPELINING" in rep.texts
        c.send(b"MAIL FROM:<pipe@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "550 5.1.1")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "354")
        # End of data, a whole second transaction and NOOP in one more write.
        c.send(b"Subject: first\r\n\r\none\r\n.\r\nMAIL FROM:<pipe2@example.org>\r\n"
               b"RCPT TO:<carol@example.test>\r\nNOOP\r\nDATA\r\n")
        q1 = queued_id(c.reply())
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "250 2.0.0")
        check_reply(c.reply(), "354")
        c.send(b"Subject: second\r\n\r\ntwo\r\n.\r\nQUIT\r\n")
        q2 = queued_id(c.reply())
        check_reply(c.reply(), "221 2.0.0")
        assert c.closed_by_server()
    assert q1 != q2
    for user in ("bob", "alice"):
        [m] = server.read_mail(user)
        assert (m.qid, m.sender, m.body) == (q1, "pipe@example.org", b"Subject: first\n\none\n")
    [m] = server.read_mail("carol")
    assert (m.qid, m.sender, m.body) == (q2, "pipe2@example.org", b"Subject: second\n\ntwo\n")
    assert server.files("nobody") == []


def test_8bitmime_body(server):
    lines = [b"Subject: 8bit", b"Content-Type: text/plain; charset=utf-8",
             b"Content-Transfer-Encoding: 8bit", b"",
             "Grüße, café, ✓".encode(), b"latin1 \xe9\xe8 and high \xff\xfe\x80 bytes"]
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@example.test"], lines, " BODY=8BITMIME")
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.body == stored_from_lines(lines)


def test_body_7bit_parameter_accepted(module_server):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<a@example.org> BODY=7BIT"), "250 2.1.0")


def test_smtputf8_smtplib(server):
    sender = "jörg.müller@example.org"
    msg = "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nFrom: Jörg <jörg.müller@example.org>\r\n\r\nHallo Bob, schöne Grüße\r\n".encode()
    with smtplib_client(server) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        assert s.sendmail(sender, ["bob@example.test"], msg, mail_options=["SMTPUTF8"]) == {}
    [m] = server.read_mail("bob")
    assert m.sender == sender
    assert m.proto == "UTF8SMTP"
    assert m.body == msg.replace(b"\r\n", b"\n")


def test_smtputf8_raw_socket(server):
    sender = "用户@例子.广告"
    lines = ["Subject: utf8", "From: " + sender, "", "本文 ✉"]
    with server.client() as c:
        c.ehlo()
        # Without SMTPUTF8 the same sender is refused.
        check_reply(c.cmd("MAIL FROM:<%s>" % sender), "553 5.6.7")
        c.send(("MAIL FROM:<%s> SMTPUTF8\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n" % sender)
               .encode())
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "354")
        c.send(wire_from_lines(lines))
        qid = queued_id(c.reply())
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.sender == sender
    assert m.proto == "UTF8SMTP"
    assert m.for_ == "bob@example.test"
    assert m.body == stored_from_lines(lines)


# ---------------------------------------------------------------- BDAT


def test_bdat_several_chunks_last_without_crlf(server):
    chunks = [b"Subject: chunked\r\n\r\nfirst line\r\n.dot at line start stays\r\n",
              b"..two dots stay too\r\nsplit li",
              b"ne across chunks\r\nlast line without CRLF"]
    with server.client() as c:
        rep = c.ehlo()
        assert "CHUNKING" in rep.texts
        c.mail_rcpt(SENDER, ["bob@example.test"])
        for ch in chunks[:-1]:
            c.send(b"BDAT %d\r\n" % len(ch) + ch)
            check_reply(c.reply(), "250 2.0.0")
        c.send(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1])
        qid = queued_id(c.reply())
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid
    # No dot-unstuffing in BDAT; the server appends the missing CRLF.
    assert m.body == b"".join(chunks).replace(b"\r\n", b"\n") + b"\n"


def test_bdat_zero_last_and_pipelined(server):
    body = b"Subject: bdat 0 last\r\n\r\nbody\r\n"
    with server.client() as c:
        c.ehlo()
        # Everything in one write: MAIL, RCPT, a chunk, an empty LAST chunk.
        c.send(b"MAIL FROM:<b@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
               b"BDAT %d\r\n" % len(body) + body + b"BDAT 0 LAST\r\n")
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        rep = check_reply(c.reply(), "250 2.0.0")
        assert "Chunk" in rep.text or "chunk" in rep.text, rep
        qid = queued_id(c.reply())
    [m] = server.read_mail("alice")
    assert m.qid == qid
    assert m.body == body.replace(b"\r\n", b"\n")


def test_bdat_chunk_is_data_not_commands(server):
    """Octets inside a BDAT chunk are never commands, even when the chunk is refused."""
    with server.client() as c:
        c.ehlo()
        payload = b"QUIT\r\nMAIL FROM:<x@example.org>\r\n"
        c.send(b"BDAT %d\r\n" % len(payload) + payload)  # no MAIL: refused after the chunk
        check_reply(c.reply(), "503 5.5.1")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        c.mail_rcpt(SENDER, ["bob@example.test"])
        c.send(b"BDAT %d LAST\r\n" % len(payload) + payload)
        qid = queued_id(c.reply())
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid and m.body == payload.replace(b"\r\n", b"\n")


def test_bdat_crlf_split_across_chunks_and_bare_cr(server):
    with server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        first = b"Subject: s\r\n\r\nab\r"
        c.send(b"BDAT %d\r\n" % len(first) + first)
        check_reply(c.reply(), "250 2.0.0")
        c.send(b"BDAT 3 LAST\r\n\ncd")
        qid = queued_id(c.reply())
        for chunk in (b"ab\rcd\r\n", b"ab\ncd\r\n", b"abc\r", b"x\x00y\r\n"):
            c.mail_rcpt(SENDER, ["bob@example.test"])
            c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
            check_reply(c.reply(), "554 5.6.0")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid and m.body == b"Subject: s\n\nab\ncd\n"
    assert server.wait_queue_empty()
    time.sleep(0.2)
    assert len(server.files("bob")) == 1


def test_empty_messages(server):
    with server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        q1 = queued_id(c.data(b".\r\n"))
        c.mail_rcpt(SENDER, ["bob@example.test"])
        c.send(b"BDAT 0 LAST\r\n")
        q2 = queued_id(c.reply())
    got = {m.qid: m for m in server.read_mail("bob", 2)}
    assert set(got) == {q1, q2}
    assert got[q1].body == b"" and got[q2].body == b""


@pytest.mark.parametrize("arg", ["abc", "-1", "5 FIRST", "", "12x LAST", "5  LAST"])
def test_bdat_bad_size_closes(module_server, arg):
    with module_server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        check_reply(c.cmd(("BDAT " + arg).rstrip()), "501 5.5.4")
        assert c.closed_by_server(), "connection stays open after BDAT with a bad size"


def test_data_after_bdat_refused(module_server):
    with module_server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        c.send(b"BDAT 5\r\nhello")
        check_reply(c.reply(), "250 2.0.0")
        check_reply(c.cmd("DATA"), "503 5.5.1")
        check_reply(c.cmd("RSET"), "250 2.0.0")
        check_reply(c.cmd("NOOP"), "250 2.0.0")


# ---------------------------------------------------------------- sizes


def test_size_parameter(make_server):
    srv = make_server(conf={"max-message-size": "64K"})
    with srv.client() as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<a@example.org> SIZE=65537"), "552 5.3.4")
        check_reply(c.cmd("MAIL FROM:<a@example.org> SIZE=99999999999999"), "552 5.3.4")
        check_reply(c.cmd("MAIL FROM:<a@example.org> SIZE=65536"), "250 2.1.0")


def test_size_parameter_default_limit(module_server):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<a@example.org> SIZE=%d" % (25 * 1024 * 1024 + 1)),
                    "552 5.3.4")
        check_reply(c.cmd("MAIL FROM:<a@example.org> SIZE=1000"), "250 2.1.0")


def _body_of_size(n):
    """Lines (no CRLF) whose stored size with CRLFs is exactly n octets."""
    lines = []
    left = n
    i = 0
    while left > 0:
        take = min(left, 900)
        if take < 2:  # fold a remainder of 1 into the previous line
            lines[-1] += "y"
            break
        lines.append(("L%06d " % i + "x" * 900)[:take - 2])
        left -= take
        i += 1
    assert sum(len(l) + 2 for l in lines) == n
    return lines


def test_message_over_max_size_refused(make_server):
    srv = make_server(conf={"max-message-size": "64K"})
    limit = 64 * 1024
    with srv.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        rep = c.data(wire_from_lines(_body_of_size(limit + 1)))
        check_reply(rep, "552 5.3.4")
        # The session goes on, and a message of exactly the limit fits.
        exact = _body_of_size(limit)
        qid = c.send_message(SENDER, ["bob@example.test"], exact)
        # BDAT over the limit is refused too.
        c.mail_rcpt(SENDER, ["bob@example.test"])
        big = b"z" * 500 + b"\r\n"
        n = 0
        for _ in range(200):
            c.send(b"BDAT %d\r\n" % len(big) + big)
            check_reply(c.reply(), "250 2.0.0")
            n += len(big)
            if n > limit:
                break
        c.send(b"BDAT 0 LAST\r\n")
        check_reply(c.reply(), "552 5.3.4")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    [m] = srv.read_mail("bob")
    assert m.qid == qid
    assert m.body == stored_from_lines(exact)
    assert srv.wait_queue_empty()
    time.sleep(0.3)
    assert len(srv.files("bob")) == 1


# ---------------------------------------------------------------- body checks


def test_dot_unstuffing_exact(server):
    lines = [".", "..", "...", ".leading dot", "..two leading dots", "no dot.",
             "middle . dot", " .space then dot", "", ". ", ".\t", "end"]
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@example.test"], lines)
        # Raw wire as a client sends it: the server removes exactly one leading dot.
        c.mail_rcpt(SENDER, ["alice@example.test"])
        rep = c.data(b"..\r\n...\r\n..x\r\nx..\r\n.x.\r\n.\r\n")
        qid2 = queued_id(rep)
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.body == stored_from_lines(lines)
    [m] = server.read_mail("alice")
    assert m.qid == qid2
    assert m.body == b".\n..\n.x\nx..\nx.\n"


def test_line_length_limit(server):
    ok_line = "a" * 998    # 1000 octets with CRLF
    long_line = "b" * 999  # 1001 octets with CRLF
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["bob@example.test"], ["Subject: long", "", ok_line, "x"])
        c.mail_rcpt(SENDER, ["bob@example.test"])
        check_reply(c.data(wire_from_lines(["Subject: too long", "", long_line, "x"])),
                    "554 5.6.0")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.body == stored_from_lines(["Subject: long", "", ok_line, "x"])
    assert server.wait_queue_empty()
    time.sleep(0.3)
    assert len(server.files("bob")) == 1


def test_line_length_limit_ignores_stuffing_dot(server):
    """RFC 5321 4.5.3.1.6: 1000 octets per text line "not counting the leading
    dot duplicated for transparency": a 998-octet line that starts with a dot
    is 1001 octets on the wire and must be accepted."""
    line = "." + "d" * 997
    with server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        rep = c.data(wire_from_lines(["Subject: dot line", "", line]))
        qid = queued_id(rep)
    [m] = server.read_mail("bob")
    assert m.qid == qid and m.body == stored_from_lines(["Subject: dot line", "", line])


@pytest.mark.parametrize("body", [
    b"Subject: x\r\n\r\nbare\rCR\r\n.\r\n",
    b"Subject: x\r\n\r\nbare\nLF\r\n.\r\n",
    b"Subject: x\nbare LF in header\r\n.\r\n",
    b"Subject: x\r\n\r\nends with bare CR\r\r\n.\r\n",
    b"Subject: x\r\n\r\nNUL \x00 inside\r\n.\r\n",
], ids=["bare-cr", "bare-lf", "bare-lf-header", "cr-cr-lf", "nul"])
def test_bad_octets_refuse_whole_message(server, body):
    with server.client() as c:
        c.ehlo()
        c.mail_rcpt(SENDER, ["bob@example.test"])
        check_reply(c.data(body), "554 5.6.0")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    assert_nothing_delivered(server)


# ---------------------------------------------------------------- routing


def test_extra_addresses_deliver_to_owner(server):
    with server.client() as c:
        c.ehlo()
        q1 = c.send_message(SENDER, ["bob.extra@example.test"], ["Subject: extra 1", "", "a"])
        q2 = c.send_message(SENDER, ["robert@example.test"], ["Subject: extra 2", "", "b"])
    got = {m.qid: m for m in server.read_mail("bob", 2)}
    assert got[q1].rcpt == "bob.extra@example.test"
    assert got[q2].rcpt == "robert@example.test"
    assert server.files("bob.extra") == [] and server.files("robert") == []


def test_postmaster_and_abuse_default_mailbox(server):
    with server.client() as c:
        c.ehlo()
        for rcpt in ("postmaster@example.test", "abuse@example.test", "Postmaster",
                     "POSTMASTER@EXAMPLE.TEST"):
            c.mail_rcpt(SENDER, [rcpt])
            queued_id(c.data(wire_from_lines(["Subject: to " + rcpt, "", "hi"])))
    got = server.read_mail("postmaster", 4)
    assert sorted(m.body for m in got) == sorted(
        stored_from_lines(["Subject: to " + r, "", "hi"])
        for r in ("postmaster@example.test", "abuse@example.test", "Postmaster",
                  "POSTMASTER@EXAMPLE.TEST"))
    assert server.files("abuse") == []


def test_postmaster_directive_routes_to_user(make_server):
    srv = make_server(conf={"postmaster": "alice@example.test"})
    with srv.client() as c:
        c.ehlo()
        for rcpt in ("postmaster@example.test", "abuse@example.test", "Postmaster"):
            c.mail_rcpt(SENDER, [rcpt])
            queued_id(c.data(wire_from_lines(["Subject: pm", "", rcpt])))
    assert len(srv.read_mail("alice", 3)) == 3
    assert srv.files("postmaster") == []


def test_recipient_case_insensitive(server):
    with server.client() as c:
        c.ehlo()
        qid = c.send_message(SENDER, ["BOB@Example.Test"], ["Subject: case", "", "x"])
        check_reply(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0")
        check_reply(c.cmd("RCPT TO:<Alice@EXAMPLE.test>"), "250 2.1.5")
        check_reply(c.cmd("RSET"), "250 2.0.0")
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.rcpt.lower() == "bob@example.test"
    assert not os.path.exists(server.maildir("BOB"))


# ---------------------------------------------------------------- reply codes

E = "client.example.org"
REPLY_CASES = {
    "mail-before-helo": [("MAIL FROM:<a@example.org>", "503 5.5.1")],
    "rcpt-before-helo": [("RCPT TO:<bob@example.test>", "503 5.5.1")],
    "data-before-helo": [("DATA", "503 5.5.1")],
    "mail-ok": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0")],
    "mail-null-sender": [("EHLO " + E, "250"), ("MAIL FROM:<>", "250 2.1.0")],
    "mail-after-helo": [("HELO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0")],
    "mail-nested": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                    ("MAIL FROM:<b@example.org>", "503 5.5.1")],
    "mail-bad-syntax-1": [("EHLO " + E, "250"), ("MAIL FROM:<a@>", "501 5.1.7")],
    "mail-bad-syntax-2": [("EHLO " + E, "250"), ("MAIL FROM:<a b@example.org>", "501 5.1.7")],
    "mail-bad-syntax-3": [("EHLO " + E, "250"), ("MAIL FROM:<a@@example.org>", "501 5.1.7")],
    "mail-bad-syntax-4": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org", "501 5.1.7")],
    "mail-size-over": [("EHLO " + E, "250"),
                       ("MAIL FROM:<a@example.org> SIZE=26214401", "552 5.3.4")],
    "mail-unknown-param": [("EHLO " + E, "250"),
                           ("MAIL FROM:<a@example.org> FOO=BAR", "555 5.5.4")],
    "mail-param-after-helo": [("HELO " + E, "250"),
                              ("MAIL FROM:<a@example.org> BODY=8BITMIME", "555 5.5.4")],
    "mail-utf8-without-smtputf8": [("EHLO " + E, "250"), ("MAIL FROM:<jörg@example.org>", "553 5.6.7")],
    "mail-source-route": [("EHLO " + E, "250"),
                          ("MAIL FROM:<@relay.example.org:a@example.org>", "550 5.7.1")],
    "rcpt-ok": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                ("RCPT TO:<bob@example.test>", "250 2.1.5")],
    "rcpt-unknown-user": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                          ("RCPT TO:<nobody@example.test>", "550 5.1.1")],
    "rcpt-foreign-domain": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                            ("RCPT TO:<bob@example.org>", "554 5.7.1")],
    "rcpt-subdomain": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                       ("RCPT TO:<bob@sub.example.test>", "554 5.7.1")],
    "rcpt-ip-literal": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                        ("RCPT TO:<bob@[127.0.0.1]>", "554 5.7.1")],
    "rcpt-before-mail": [("EHLO " + E, "250"), ("RCPT TO:<bob@example.test>", "503 5.5.1")],
    "rcpt-bad-syntax": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                        ("RCPT TO:<bob@@example.test>", "501 5.1.3")],
    "rcpt-bad-syntax-2": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                          ("RCPT TO:<bob example.test>", "501 5.1.3")],
    "rcpt-source-route": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                          ("RCPT TO:<@a,@b:u@example.test>", "550 5.7.1")],
    "rcpt-null": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                  ("RCPT TO:<>", "501 5.1.3")],
    "data-no-valid-rcpt": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                           ("RCPT TO:<nobody@example.test>", "550 5.1.1"),
                           ("DATA", "554 5.5.1")],
    "data-without-mail": [("EHLO " + E, "250"), ("DATA", "503 5.5.1")],
    "data-354": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                 ("RCPT TO:<bob@example.test>", "250 2.1.5"), ("DATA", "354"),
                 ("Subject: reply codes\r\n\r\nbody\r\n.", "250 2.0.0")],
    "rset": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
             ("RSET", "250 2.0.0"), ("RCPT TO:<bob@example.test>", "503 5.5.1"),
             ("MAIL FROM:<a@example.org>", "250 2.1.0")],
    "rset-before-helo": [("RSET", "250 2.0.0")],
    "ehlo-resets-transaction": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                                ("EHLO " + E, "250"), ("RCPT TO:<bob@example.test>", "503 5.5.1")],
    "data-with-argument": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                           ("RCPT TO:<bob@example.test>", "250 2.1.5"), ("DATA now", "501 5.5.4")],
    "helo-without-name": [("HELO", "501 5.5.4"), ("MAIL FROM:<a@example.org>", "503 5.5.1")],
    "ehlo-bad-name": [("EHLO bad name", "501 5.5.4"), ("MAIL FROM:<a@example.org>", "503 5.5.1")],
    "rcpt-unknown-param": [("EHLO " + E, "250"), ("MAIL FROM:<a@example.org>", "250 2.1.0"),
                           ("RCPT TO:<bob@example.test> NOTIFY=NEVER", "555 5.5.4")],
    "noop": [("NOOP", "250 2.0.0"), ("EHLO " + E, "250"), ("NOOP", "250 2.0.0")],
    "vrfy": [("EHLO " + E, "250"), ("VRFY bob", "252 2.5.0")],
    "expn": [("EHLO " + E, "250"), ("EXPN staff", "502 5.5.1")],
    "help": [("HELP", "214")],
    "unknown-command": [("EHLO " + E, "250"), ("FROBNICATE now", "500 5.5.2")],
    "auth-on-smtp-port": [("EHLO " + E, "250"), ("AUTH PLAIN AGJvYgBzZWNyZXQ=", "502 5.5.1")],
    "lowercase-verbs": [("ehlo " + E, "250"), ("mail from:<a@example.org>", "250 2.1.0"),
                        ("rcpt to:<bob@example.test>", "250 2.1.5"), ("rset", "250 2.0.0")],
}


@pytest.mark.parametrize("case", sorted(REPLY_CASES))
def test_reply_codes(module_server, case):
    with module_server.client() as c:
        for line, expect in REPLY_CASES[case]:
            check_reply(c.cmd(line), expect)
        check_reply(c.cmd("QUIT"), "221 2.0.0")
        assert c.closed_by_server()


def test_help_is_multiline_214(module_server):
    with module_server.client() as c:
        rep = c.cmd("HELP")
        assert rep.code == 214 and all(l.startswith("214") for l in rep.lines)


def test_quit_closes(module_server):
    with module_server.client() as c:
        c.ehlo()
        check_reply(c.cmd("QUIT"), "221 2.0.0")
        assert c.closed_by_server()
        assert c.buf == b"", "bytes after 221: %r" % c.buf


# long: it waits out tarpit delays or timeouts; covered by the plain run
@pytest.mark.slow
def test_too_many_recipients(make_server):
    users = [("r%03d@example.test" % i, None, []) for i in range(101)]
    srv = make_server(users=users)
    with srv.client() as c:
        c.ehlo()
        check_reply(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0")
        c.send(b"".join(b"RCPT TO:<r%03d@example.test>\r\n" % i for i in range(101)))
        for i in range(100):
            check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "452 4.5.3")
        # The 100 accepted recipients each get the message.
        qid = queued_id(c.data(wire_from_lines(["Subject: hundred", "", "x"])))
        check_reply(c.cmd("NOOP"), "250 2.0.0")
    for i in (0, 57, 99):
        [m] = srv.read_mail("r%03d" % i)
        assert m.qid == qid
    assert srv.wait_queue_empty()
    assert srv.files("r100") == []


def test_command_line_length_limit(module_server):
    with module_server.client() as c:
        c.ehlo()
        line = b"NOOP " + b"x" * 505  # 512 octets with CRLF: allowed
        assert len(line) + 2 == 512
        check_reply(c.cmd(line), "250 2.0.0")
        # 513 octets: refused, and the rest of that line is thrown away.
        c.send(b"NOOP " + b"y" * 506 + b"\r\n")
        check_reply(c.reply(), "500 5.5.2")
        # A long line whose tail looks like a command: the tail must not run.
        c.send(b"NOOP " + b"z" * 600 + b" QUIT\r\n")
        check_reply(c.reply(), "500 5.5.2")
        c.send(b"X" * 3000 + b"RSET\r\n")
        check_reply(c.reply(), "500 5.5.2")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        assert c.pending(0.2) == b""
        check_reply(c.cmd("MAIL FROM:<a@example.org>"), "250 2.1.0")


@pytest.mark.parametrize("line", [b"NOOP\rX\r\n", b"NOOP\nX\r\n", b"NOOP\n\r\n", b"NO\x00OP\r\n",
                                  b"MAIL FROM:<a@example.org>\nRCPT TO:<bob@example.test>\r\n"],
                         ids=["bare-cr", "bare-lf", "lf-crlf", "nul", "lf-hidden-command"])
def test_bare_cr_lf_in_command(module_server, line):
    with module_server.client() as c:
        c.ehlo()
        c.send(line)
        check_reply(c.reply(), "500 5.5.2")
        check_reply(c.cmd("NOOP"), "250 2.0.0")
        assert c.pending(0.2) == b""
        # Nothing of the refused line ran: no MAIL transaction is open.
        check_reply(c.cmd("RCPT TO:<bob@example.test>"), "503 5.5.1")


# long: it waits out tarpit delays or timeouts; covered by the plain run
@pytest.mark.slow
def test_too_many_errors_disconnects(module_server):
    with module_server.client() as c:
        c.ehlo()
        for i in range(9):
            check_reply(c.cmd("BOGUS%d" % i), "500 5.5.2")
        check_reply(c.cmd("NOOP"), "250 2.0.0")  # good commands do not reset the count
        c.send(b"BOGUS9\r\n")
        check_reply(c.reply(), "500 5.5.2")
        check_reply(c.reply(), "421 4.7.0")
        assert c.closed_by_server()


def test_errors_of_every_kind_count(make_server):
    # no tarpit: its delays are test_too_many_errors_disconnects' and test_limits' matter
    srv = make_server(limits={"tarpit-max": "0"})
    with srv.client() as c:
        bad = [("RCPT TO:<bob@example.test>", "503 5.5.1"), ("DATA", "503 5.5.1"),
               ("BOGUS", "500 5.5.2")]
        c.ehlo()
        for i in range(9):
            check_reply(c.cmd(bad[i % len(bad)][0]), bad[i % len(bad)][1])
        c.send(b"MAIL FROM:<a@example.org>\r\nMAIL FROM:<b@example.org>\r\n")
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "503 5.5.1")
        rep = c.reply()
        assert rep.code == 421, "10th error did not end the session: %r" % rep
        assert c.closed_by_server()


def test_client_gone_before_commit_reply(module_server):
    """A client that closes right after its end of data (without waiting for
    the 250) must not take the server down; its message may or may not be
    delivered (it got no 250)."""
    for i in range(15):
        c = module_server.client()
        c.ehlo()
        c.send(b"MAIL FROM:<gone@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        check_reply(c.reply(), "250 2.1.0")
        check_reply(c.reply(), "250 2.1.5")
        check_reply(c.reply(), "354")
        c.send(b"Subject: gone %d\r\n\r\nbye\r\n.\r\n" % i)
        c.close()
        time.sleep(0.02)
    time.sleep(0.3)
    assert module_server.running(), "server died:\n" + module_server.log_tail(15)
    with module_server.client() as c:
        c.ehlo()
        c.send_message(SENDER, ["bob@example.test"], ["Subject: still there", "", "x"])


def test_client_gone_while_waiting_for_lookup_and_open(module_server):
    """Disconnects while a RCPT lookup or the queue OPEN is in flight."""
    for i in range(15):
        c = module_server.client()
        c.ehlo()
        if i % 2:
            c.send(b"MAIL FROM:<g@example.org>\r\nRCPT TO:<bob@example.test>\r\n")
        else:
            c.send(b"MAIL FROM:<g@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        c.close()
    time.sleep(0.3)
    assert module_server.running(), "server died:\n" + module_server.log_tail(15)
    with module_server.client() as c:
        c.ehlo()
        c.send_message(SENDER, ["bob@example.test"], ["Subject: still there", "", "x"])


def test_half_close_after_pipelined_quit(module_server):
    """A client may send the end of data and QUIT, then shut down its sending
    side and only read. The server must not fall over (answering what it
    received before the EOF is best effort)."""
    outcomes = []
    for i in range(5):
        reps = []
        try:
            c = module_server.client()
        except OSError as e:
            outcomes.append("connect failed: %r" % e)
            break
        try:
            c.ehlo()
            c.mail_rcpt(SENDER, ["bob@example.test"])
            check_reply(c.cmd("DATA"), "354")
            c.send(b"Subject: half close %d\r\n\r\nbye\r\n.\r\nQUIT\r\n" % i)
            c.sock.shutdown(socket.SHUT_WR)
            for _ in range(2):
                reps.append(c.reply(timeout=5 * h.SLOW).code)
        except (h.ConnectionClosed, OSError):
            pass
        finally:
            c.close()
        outcomes.append(reps)
    time.sleep(0.3)
    assert module_server.running(), "server died (outcomes %s):\n%s" % (
        outcomes, module_server.log_tail(15))
    # Answering after the EOF is best effort; a wrong answer is not.
    for reps in outcomes:
        assert reps in ([250, 221], []), outcomes
    with module_server.client() as c:
        c.ehlo()
        c.send_message(SENDER, ["bob@example.test"], ["Subject: still there", "", "x"])
