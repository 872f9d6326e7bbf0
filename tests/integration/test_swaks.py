"""swaks, a real SMTP client, against the real server."""
import os
import re
import subprocess
import uuid

import pytest

import sphelpers as h

SWAKS = "/usr/bin/swaks"

pytestmark = pytest.mark.skipif(not os.path.exists(SWAKS), reason="swaks is not installed")


def swaks(srv, *args):
    argv = [SWAKS, "--server", "127.0.0.1:%d" % srv.port, "--helo", "swaks.example.org",
            "--timeout", str(20 * h.SLOW)] + list(args)
    r = subprocess.run(argv, capture_output=True, timeout=60 * h.SLOW, stdin=subprocess.DEVNULL)
    return r, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def queued_ids(out):
    return re.findall(r"<-\s+250 2\.0\.0 Ok: queued as ([0-9a-f]{16})", out)


def test_swaks_plain(server):
    token = uuid.uuid4().hex
    r, out = swaks(server, "--to", "bob@example.test", "--from", "swaks@example.org",
                   "--header", "Subject: swaks plain " + token)
    assert r.returncode == 0, out
    [qid] = queued_ids(out)
    [m] = server.read_mail("bob")
    assert m.qid == qid
    assert m.sender == "swaks@example.org"
    assert m.helo == "swaks.example.org"
    assert m.proto == "ESMTP"
    assert ("Subject: swaks plain " + token).encode() in m.body
    assert b"\r" not in m.body


def test_swaks_pipeline(server):
    token = uuid.uuid4().hex
    r, out = swaks(server, "--pipeline", "--to", "alice@example.test,carol@example.test",
                   "--from", "pipe@example.org", "--header", "Subject: pipelined " + token)
    assert r.returncode == 0, out
    assert "PIPELINING" in out
    [qid] = queued_ids(out)
    for user in ("alice", "carol"):
        [m] = server.read_mail(user)
        assert m.qid == qid and token.encode() in m.body


def test_swaks_body_from_file(server):
    body = (".starts with a dot\n..two dots\n.\nmiddle line\n"
            "Grüße 8-bit\n" + "x" * 900 + "\nlast line\n")
    path = os.path.join(server.dir, "body.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(body)
    r, out = swaks(server, "--to", "bob@example.test", "--from", "file@example.org",
                   "--body", "@" + path)
    assert r.returncode == 0, out
    [qid] = queued_ids(out)
    [m] = server.read_mail("bob")
    assert m.qid == qid
    # swaks adds headers; after the blank line the body must be the file exactly.
    head, sep, got = m.body.partition(b"\n\n")
    assert sep, m.body
    assert got.rstrip(b"\n") == body.encode("utf-8").rstrip(b"\n")


def test_swaks_foreign_domain_refused(server):
    r, out = swaks(server, "--to", "someone@example.org", "--from", "a@example.org")
    assert r.returncode == 24, out  # swaks: no RCPTs accepted
    assert re.search(r"<\*\*\s+554 5\.7\.1", out), out
    assert server.wait_queue_empty()
    assert server.all_delivered() == []


def test_swaks_unknown_user_refused(server):
    r, out = swaks(server, "--to", "nobody@example.test", "--from", "a@example.org")
    assert r.returncode == 24, out
    assert re.search(r"<\*\*\s+550 5\.1\.1", out), out
