"""Bounces and delay notices (issue 6, item 4): a message whose remote
recipients cannot be delivered past queue-lifetime is returned to its
sender as an RFC 3464 report; after delay-warning the sender is told once
that it is still being retried; a message from <> is never bounced.

The shared test DNS answers SERVFAIL for the remote domain, so every
attempt fails temporarily; the queue file's arrival time is moved back
while the server is stopped, and the restart's first attempt finds the
message expired (or late)."""
import email
import email.policy
import os
import re
import time

import pytest

import sphelpers as h
from test_auth import BOB, auth_plain, tls_client

REMOTE = "carl@remote.example"


@pytest.fixture(autouse=True)
def remote_domain_tempfails():
    dns = h.shared_dns()
    dns.servfail.add("remote.example")
    yield
    dns.servfail.discard("remote.example")


def queue_one(srv, sender=BOB[0]):
    """Bob (authenticated) sends to a remote recipient; returns the queue id."""
    c = tls_client(srv, "submissions")
    try:
        auth_plain(c, *BOB)
        qid = c.send_message(sender, [REMOTE], ["From: <%s>" % sender, "To: <%s>" % REMOTE,
                                                "Subject: far away", "", "hello"])
    finally:
        c.close()
    assert h.wait_until(lambda: "%s: deferred" % qid in srv.log_text(), 15 * h.SLOW), \
        srv.log_tail()
    return qid


def age(srv, qid, seconds):
    """Move the queued message's arrival time back (server stopped)."""
    path = os.path.join(srv.spool, "queue", qid)
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb"^time (\d+)\n", data, re.M)
    assert m, data[:200]
    new = b"time %d\n" % (int(m.group(1)) - seconds)
    data = data[:m.start()] + new + data[m.end():]
    with open(path, "wb") as f:
        f.write(data)


def report_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"], parts
    return msg, parts


def test_expired_message_is_bounced_to_the_sender(make_server):
    srv = make_server()
    qid = queue_one(srv)
    srv.stop()
    age(srv, qid, 6 * 86400)
    srv.start()
    bounce = srv.wait_files("bob", 1, timeout=20 * h.SLOW)
    assert len(bounce) == 1, srv.log_tail()
    raw = h.read_bytes(bounce[0])
    msg, parts = report_of(raw)
    assert msg["From"].addresses[0].username == "MAILER-DAEMON"
    assert msg["Auto-Submitted"] == "auto-replied"
    status = parts[1].get_payload()
    text = status[0].as_string() if isinstance(status, list) else str(status)
    whole = raw.decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; %s" % REMOTE in whole
    assert "Action: failed" in whole and "Status: 4.4.7" in whole
    assert "Reporting-MTA: dns; %s" % h.HOSTNAME in whole
    assert "Subject: far away" in whole  # the original's headers come back
    assert "hello" not in whole.split("text/rfc822-headers", 1)[1]  # not its body
    assert h.wait_until(lambda: not srv.queue_files(), 10 * h.SLOW), srv.queue_files()
    assert "%s: bounce notice to <%s>" % (qid, BOB[0]) in srv.log_text()
    # The bounce itself has a null sender.
    assert b"Return-Path: <>" in raw[:400], raw[:400]


def test_delay_notice_is_sent_once_and_the_message_stays(make_server):
    srv = make_server()
    qid = queue_one(srv)
    srv.stop()
    age(srv, qid, 5 * 3600)
    srv.start()
    notes = srv.wait_files("bob", 1, timeout=20 * h.SLOW)
    assert len(notes) == 1, srv.log_tail()
    whole = h.read_bytes(notes[0]).decode("utf-8", "replace")
    report_of(h.read_bytes(notes[0]))
    assert "Action: delayed" in whole and "still being retried" in whole
    assert os.path.exists(os.path.join(srv.spool, "queue", qid))
    # After another restart (another attempt) no second notice.
    srv.stop()
    srv.start()
    assert h.wait_until(lambda: srv.log_text().count("%s: deferred" % qid) >= 3, 20 * h.SLOW)
    time.sleep(0.5)
    assert len(srv.files("bob")) == 1


def test_no_bounce_to_the_null_sender(make_server):
    srv = make_server(conf={"trusted-networks": "127.0.0.0/8"})
    with srv.client() as c:
        c.ehlo()
        qid = c.send_message("", [REMOTE], ["Subject: a bounce itself", "", "x"])
    assert h.wait_until(lambda: "%s: deferred" % qid in srv.log_text(), 15 * h.SLOW)
    srv.stop()
    age(srv, qid, 6 * 86400)
    srv.start()
    assert h.wait_until(lambda: "%s: no bounce notice: the sender is <>" % qid
                        in srv.log_text(), 20 * h.SLOW), srv.log_tail()
    assert h.wait_until(lambda: not srv.queue_files(), 10 * h.SLOW)
    assert srv.all_delivered() == []
