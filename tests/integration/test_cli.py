"""The sealpost command line: help and exit codes, check, init, user,
send (through the running server's local socket) and queue."""
import os
import pwd
import re
import subprocess
import time
import uuid

import pytest

import sphelpers as h
from sphelpers import BIN, check_reply

SUBCOMMANDS = ["init", "serve", "check", "send", "queue", "user"]


def run(*argv, input=None, timeout=None):
    return subprocess.run([BIN] + list(argv), input=input, capture_output=True,
                          timeout=timeout or 60 * h.SLOW)


def err_lines(r):
    return [l for l in r.stderr.decode("utf-8", "replace").splitlines() if l.strip()]


# ---------------------------------------------------------------- help, usage


def test_main_help():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for sub in SUBCOMMANDS:
        assert re.search(r"^\s+%s\s" % sub, out, re.M), "--help does not list %s:\n%s" % (sub, out)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_subcommand_help(sub):
    r = run(sub, "--help")
    assert r.returncode == 0, (sub, r.stdout, r.stderr)
    out = r.stdout.decode()
    assert "usage" in out.lower() and sub in out, out


def test_unknown_subcommand_and_no_arguments():
    r = run("frobnicate")
    assert r.returncode == 2
    assert len(err_lines(r)) >= 1 and r.stdout == b""
    r = subprocess.run([BIN], capture_output=True, timeout=30)
    assert r.returncode == 2


@pytest.mark.parametrize("sub", ["check", "serve", "user", "queue"])
def test_unknown_option_is_usage_error(sub):
    r = run(sub, "--no-such-option")
    assert r.returncode == 2, (sub, r.returncode, r.stderr)


# ---------------------------------------------------------------- check


def test_check_good_config(make_server):
    srv = make_server(start=False)
    r = run("check", "-c", srv.conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "%s: ok" % srv.conf
    srv.set_conf("max-message-size", "64K")
    r = run("check", "-c", srv.conf, "-n")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert "hostname mx.example.test" in out and "max-message-size 64K" in out, out
    tls = "tls cert %s/tls/cert.pem key %s/tls/key.pem" % (srv.dir, srv.dir)
    assert tls in out, out
    assert not any(l.startswith(("auth-", "trusted-networks", "received-auth-user")) for l in out)
    srv.set_conf("auth-lock-after", "5")
    srv.set_conf("trusted-networks", "10.1.0.0/16 2001:db8::/32")
    out = run("check", "-c", srv.conf, "-n").stdout.decode().splitlines()
    assert "auth-lock-after 5" in out, out
    assert "trusted-networks 10.1.0.0/16" in out and "trusted-networks 2001:db8::/32" in out, out


def test_check_broken_config_reports_each_error(make_server):
    srv = make_server(start=False)
    lines = srv.read_conf().splitlines()
    lines += ["bogus-directive 1", "max-message-size lots", "workers many"]
    with open(srv.conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    n = len(lines)
    r = run("check", "-c", srv.conf)
    assert r.returncode == 1
    errs = err_lines(r)
    assert len(errs) == 3, errs
    for line_no, e in zip((n - 2, n - 1, n), errs):
        assert "%s:%d:" % (srv.conf, line_no) in e, errs
    # serve refuses the same config the same way, and does not start.
    r = run("serve", "-c", srv.conf, "-f", timeout=30 * h.SLOW)
    assert r.returncode == 1
    assert len(err_lines(r)) == 3


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_serve_unreadable_config(tmpdir755, kind):
    path = os.path.join(tmpdir755, "sealpost.conf")
    if kind == "directory":
        os.mkdir(path)
    r = run("serve", "-c", path, "-f", timeout=30 * h.SLOW)
    assert r.returncode == 1
    errs = err_lines(r)
    assert len(errs) == 1 and path in errs[0], errs
    r = run("check", "-c", path)
    assert r.returncode == 1 and len(err_lines(r)) == 1


# ---------------------------------------------------------------- init


def test_init_refuses_to_overwrite(make_server):
    srv = make_server(start=False)
    before = srv.read_conf()
    users_before = h.read_bytes(os.path.join(srv.dir, "users"))
    other = h.free_port()
    ports = ["--smtp-port", str(other), "--submission-port", str(srv.sub_port),
             "--submissions-port", str(srv.subs_port)]
    r = run("init", srv.dir, "--hostname", "other.example.test", "--domain", "example.test",
            "--listen", "127.0.0.1", *ports)
    assert r.returncode != 0
    assert len(err_lines(r)) >= 1
    assert srv.read_conf() == before
    r = run("init", srv.dir, "--hostname", "other.example.test", "--domain", "example.test",
            "--listen", "127.0.0.1", *ports, "--force")
    assert r.returncode == 0, r.stderr
    conf = srv.read_conf()
    assert "hostname other.example.test" in conf and "127.0.0.1:%d" % other in conf
    # The users file is kept even with --force.
    assert h.read_bytes(os.path.join(srv.dir, "users")) == users_before


def test_init_result_is_valid_and_private(tmpdir755):
    d = os.path.join(tmpdir755, "fresh")
    r = run("init", d, "--hostname", "mx.example.test", "--domain", "example.test",
            "--listen", "127.0.0.1", *h.init_port_args())
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "sealpost.conf")
    r = run("check", "-c", conf)
    assert r.returncode == 0, r.stderr
    users = os.stat(os.path.join(d, "users"))
    assert users.st_mode & 0o007 == 0, "users file readable by others"


# ---------------------------------------------------------------- user


def test_user_list_never_prints_hashes(make_server):
    srv = make_server(start=False)
    hashes = []
    with open(os.path.join(srv.dir, "users")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                hashes.append(line.split(":")[1])
    assert any(x.startswith("$") for x in hashes), hashes
    r = srv.cli("user", "list")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode() + r.stderr.decode()
    for addr in ("bob@example.test", "alice@example.test", "carol@example.test",
                 "bob.extra@example.test"):
        assert addr in out, out
    for hsh in hashes:
        if hsh != "*":
            assert hsh not in out and hsh[-20:] not in out
    assert "$y$" not in out and "$6$" not in out and "$2b$" not in out


def test_user_password_not_from_argv_and_duplicates_refused(make_server):
    srv = make_server(start=False)
    r = srv.cli("user", "add", "bob@example.test", input=b"pw\n")
    assert r.returncode != 0, "adding an existing user succeeded"
    r = srv.cli("user", "add", "dave@example.test", "--address", "bob.extra@example.test",
                input=b"pw\n")
    assert r.returncode != 0, "an address owned by bob was given to dave"
    r = srv.cli("user", "list")
    assert "dave@example.test" not in r.stdout.decode()


def test_user_changes_apply_to_running_server(server):
    def rcpt_code(addr):
        with server.client() as c:
            c.ehlo()
            c.cmd("MAIL FROM:<a@example.org>")
            return c.cmd("RCPT TO:<%s>" % addr).code

    assert rcpt_code("dave@example.test") == 550
    server.cli("user", "add", "dave@example.test", "--no-password", check=True)
    assert h.wait_until(lambda: rcpt_code("dave@example.test") == 250, 10 * h.SLOW), \
        "a user added while the server runs is not accepted"
    server.cli("user", "del", "alice@example.test", check=True)
    assert h.wait_until(lambda: rcpt_code("alice@example.test") == 550, 10 * h.SLOW), \
        "a deleted user is still accepted"
    assert rcpt_code("bob@example.test") == 250


# ---------------------------------------------------------------- send


def send(srv, args, data, timeout=None):
    return run("send", "-c", srv.conf, *args, input=data, timeout=timeout)


def header_block(body):
    return body.split(b"\n\n", 1)[0]


def test_send_lf_input(server):
    token = uuid.uuid4().hex
    r = send(server, ["bob@example.test"],
             ("Subject: local %s\n\nline one\nline two\n" % token).encode())
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("bob")
    assert m.rcpt == "bob@example.test"
    hdr = header_block(m.body)
    assert ("Subject: local " + token).encode() in hdr
    # send adds the headers a message must have.
    for name in (b"From:", b"Date:", b"Message-ID:"):
        assert re.search(rb"^" + name, hdr, re.M | re.I), (name, hdr)
    assert m.body.endswith(b"\n\nline one\nline two\n"), m.body
    assert b"\r" not in m.body


def test_send_crlf_and_unterminated_input(server):
    r = send(server, ["bob@example.test"], b"Subject: crlf\r\n\r\nbody\r\nmore\r\n")
    assert r.returncode == 0, r.stderr
    r = send(server, ["alice@example.test"], b"Subject: nolf\n\nno final newline")
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("bob")
    assert m.body.endswith(b"Subject: crlf\n\nbody\nmore\n"), m.body
    [m] = server.read_mail("alice")
    assert m.body.endswith(b"Subject: nolf\n\nno final newline\n"), m.body


def test_send_t_flag_with_bcc(server):
    token = uuid.uuid4().hex
    msg = ("From: Sender <sender@example.org>\nTo: bob@example.test\n"
           "Cc: Alice <alice@example.test>\nBcc: carol@example.test\n"
           "Subject: -t %s\n\nhello all\n" % token).encode()
    r = send(server, ["-t"], msg)
    assert r.returncode == 0, r.stderr
    for user in ("bob", "alice", "carol"):
        [m] = server.read_mail(user)
        assert token.encode() in m.body
        hdr = header_block(m.body)
        assert not re.search(rb"^bcc:", hdr, re.M | re.I), "Bcc header kept: %r" % hdr
        if user != "carol":
            assert b"carol@example.test" not in m.raw, "Bcc recipient leaked to %s" % user
    assert server.wait_queue_empty()


def test_send_f_sets_return_path(server):
    r = send(server, ["-f", "envelope@example.org", "alice@example.test"],
             b"Subject: -f\n\nbody\n")
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("alice")
    assert m.sender == "envelope@example.org"


def test_send_dot_handling(server):
    msg = b"Subject: dots\n\nbefore\n.\nafter\n..double\n"
    r = send(server, ["bob@example.test"], msg)
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("bob")
    # Without -i a lone "." ends the message.
    assert m.body.endswith(b"\n\nbefore\n"), m.body
    r = send(server, ["-i", "alice@example.test"], msg)
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("alice")
    assert m.body.endswith(b"\n\nbefore\n.\nafter\n..double\n"), m.body
    r = send(server, ["-oi", "carol@example.test"], b"Subject: x\n\n.\n.x\n")
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("carol")
    assert m.body.endswith(b"\n\n.\n.x\n"), m.body


def test_send_long_line_is_split(server):
    long = "w" * 2500
    r = send(server, ["bob@example.test"], ("Subject: long\n\nstart\n%s\nend\n" % long).encode())
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("bob")
    assert all(len(l) <= 998 for l in m.body.split(b"\n")), "a line over 998 octets"
    assert m.body.count(b"w") == 2500
    assert m.body.endswith(b"\nend\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_send_as_unprivileged_user(server):
    """Any local user may inject mail through the local socket."""
    nobody = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    r = subprocess.run([BIN, "send", "-c", server.conf, "bob@example.test"],
                       input=b"Subject: from nobody\n\nhi\n", capture_output=True,
                       timeout=60 * h.SLOW, preexec_fn=drop, cwd="/")
    assert r.returncode == 0, r.stderr
    [m] = server.read_mail("bob")
    assert b"Subject: from nobody" in m.body
    assert str(nobody.pw_uid) in m.client, m.client


def test_send_foreign_recipient_waits_for_remote_delivery(server):
    """Local injection may relay (as sendmail does for cron and scripts): a
    recipient in another domain is queued for the outbound process, never
    delivered to a local Maildir (here its DNS fails, so it stays queued)."""
    h.shared_dns().servfail.add("example.org")
    try:
        r = send(server, ["someone@example.org"], b"Subject: relay\n\nyes\n")
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 10
        out = ""
        while time.monotonic() < deadline:
            rc, out, err = queue_list(server)
            if "someone@example.org(remote)" in out:
                break
            time.sleep(0.1)
        assert "someone@example.org(remote)" in out
        assert server.all_delivered() == []
    finally:
        h.shared_dns().servfail.discard("example.org")


def test_send_unknown_local_recipient_fails(server):
    r = send(server, ["nobody@example.test"], b"Subject: x\n\nno\n")
    assert r.returncode != 0
    assert len(err_lines(r)) >= 1
    assert server.wait_queue_empty()
    assert server.all_delivered() == []


def test_send_without_server_fails(make_server):
    srv = make_server(start=False)
    r = send(srv, ["bob@example.test"], b"Subject: x\n\ny\n")
    assert r.returncode != 0
    assert len(err_lines(r)) >= 1


# ---------------------------------------------------------------- queue


def queue_list(srv):
    r = srv.cli("queue", "list")
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def test_queue_list_empty(server):
    rc, out, err = queue_list(server)
    assert rc == 0, err
    assert "Mail queue is empty" in out


def test_queue_list_shows_deferred_message(server):
    q = pwd.getpwnam("_sealpostq")
    dom = os.path.join(server.dir, "mail", "example.test")
    os.makedirs(dom, exist_ok=True)
    os.chown(dom, q.pw_uid, q.pw_gid)
    with open(os.path.join(dom, "bob"), "w") as f:  # a file where the Maildir should be
        f.write("not a maildir\n")
    with server.client() as c:
        c.ehlo()
        qid = c.send_message("stuck@example.org", ["bob@example.test"],
                             ["Subject: stuck", "", "cannot be delivered"])
        check_reply(c.cmd("QUIT"), "221 2.0.0")
    # Wait until the delivery attempt has failed (the message stays queued).
    assert h.wait_until(lambda: re.search(qid + r".*deferred", server.log_text()),
                        15 * h.SLOW), server.log_tail(10)
    rc, out, err = queue_list(server)
    assert rc == 0, err
    assert qid in out, out
    assert "stuck@example.org" in out and "bob@example.test" in out, out
    assert "Mail queue is empty" not in out
    assert os.path.isfile(os.path.join(dom, "bob"))
