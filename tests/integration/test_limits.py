"""Abuse limits (issue 7): each limit fires at its threshold and not before,
its counters expire, and every refusal has a reply with an enhanced status
code and a log line naming the client and the limit. Clients play other
hosts by connecting from other 127.0.0.x addresses. Every loop is bounded
in count and time."""
import socket
import time

import pytest

import sphelpers as h


def connect(srv, source=None, port=None, timeout=None):
    """A raw connection from source; returns (socket, first reply line)."""
    s = socket.create_connection((srv.addr, port or srv.port), timeout=timeout or 10 * h.SLOW,
                                 source_address=(source, 0) if source else None)
    return s, read_line(s)


def read_line(s, timeout=None):
    if timeout is not None:
        s.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\r\n") and len(buf) < 4096:
        try:
            chunk = s.recv(1)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode("latin-1").rstrip("\r\n")


def closed_by_peer(s, timeout=5):
    s.settimeout(timeout * h.SLOW)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def log_has(srv, text, timeout=5):
    return h.wait_until(lambda: text in srv.log_text(), timeout * h.SLOW)


def send_message(c, rcpt="bob@example.test", sender="someone@remote.test"):
    c.cmd("MAIL FROM:<%s>" % sender, expect="250")
    c.cmd("RCPT TO:<%s>" % rcpt, expect="250")
    c.cmd("DATA", expect="354")
    c.send("From: <%s>\r\nSubject: t\r\n\r\nbody\r\n.\r\n" % sender)
    return c.reply()


# ---- concurrent connections ----------------------------------------------


def test_per_ip_limit_fires_at_threshold_and_frees_on_close(make_server):
    srv = make_server(limits={"max-connections-per-ip": 3})
    held = [connect(srv)[0] for _ in range(3)]
    try:
        s4, line = connect(srv)
        assert line.startswith("421 4.7.0 ") and "from your address" in line, line
        assert closed_by_peer(s4)
        s4.close()
        # Another address is not affected.
        s5, line = connect(srv, source="127.0.0.2")
        assert line.startswith("220 "), line
        s5.close()
        assert log_has(srv, "[127.0.0.1]: connection refused: max-connections-per-ip 3")
        held.pop().close()

        def again():
            s, l = connect(srv)
            s.close()
            return l.startswith("220 ")
        assert h.wait_until(again, 5 * h.SLOW), "slot not given back after a close"
    finally:
        for s in held:
            s.close()


def test_per_net_limit_counts_the_slash_24(make_server):
    srv = make_server(limits={"max-connections-per-net": 4, "max-connections-per-ip": 10})
    held = [connect(srv, source="127.0.0.%d" % (10 + i))[0] for i in range(4)]
    try:
        for s in held:
            s.settimeout(0.2)
        s, line = connect(srv, source="127.0.0.20")
        assert line.startswith("421 4.7.0 ") and "your network" in line, line
        s.close()
        # A different /24 is another network.
        s, line = connect(srv, source="127.0.1.20")
        assert line.startswith("220 "), line
        s.close()
        assert log_has(srv, "[127.0.0.20]: connection refused: max-connections-per-net 4")
    finally:
        for s in held:
            s.close()


def test_global_limit(make_server):
    srv = make_server(limits={"max-connections": 4})
    held = [connect(srv, source="127.0.%d.1" % (i + 1))[0] for i in range(4)]
    try:
        s, line = connect(srv, source="127.0.9.9")
        assert line.startswith("421 4.7.0 ") and "Too many connections" in line, line
        s.close()
        assert log_has(srv, "connection refused: max-connections 4")
    finally:
        for s in held:
            s.close()


def test_connection_rate_fires_and_expires(make_server):
    srv = make_server(limits={"connection-rate": "4/3s"})
    # Align to the start of a window so that all five land in one.
    time.sleep(3 - time.time() % 3 + 0.05)
    lines = []
    for _ in range(5):
        s, line = connect(srv, source="127.0.0.7")
        lines.append(line)
        s.close()
    assert all(l.startswith("220 ") for l in lines[:4]), lines
    assert lines[4].startswith("421 4.7.0 ") and "slow down" in lines[4], lines
    assert log_has(srv, "[127.0.0.7]: connection refused: connection-rate 4/3s")
    time.sleep(3.2)  # the next window
    s, line = connect(srv, source="127.0.0.7")
    s.close()
    assert line.startswith("220 "), line


def test_trusted_network_is_exempt_from_per_client_limits(make_server):
    srv = make_server(conf={"trusted-networks": "127.0.0.0/8"},
                      limits={"max-connections-per-ip": 1, "connection-rate": "1/1m"})
    held = [connect(srv)[0] for _ in range(3)]
    try:
        s, line = connect(srv)
        assert line.startswith("220 "), line
        s.close()
    finally:
        for s in held:
            s.close()


# ---- messages, recipients, errors ------------------------------------------


def test_messages_per_session(make_server):
    srv = make_server(limits={"messages-per-session": 3})
    with srv.client() as c:
        c.ehlo()
        for _ in range(3):
            assert send_message(c).code == 250
        rep = c.cmd("MAIL FROM:<a@remote.test>")
        h.check_reply(rep, "421 4.7.0")
        with pytest.raises(h.ConnectionClosed):
            c.reply(timeout=5 * h.SLOW)
    assert len(srv.wait_files("bob", 3)) == 3
    assert log_has(srv, "[127.0.0.1]: messages-per-session 3 reached")


def test_recipient_rate_per_address_across_sessions(make_server):
    srv = make_server(limits={"recipient-rate": "5/1h"})
    codes = []
    for _ in range(2):
        with srv.client() as c:
            c.ehlo()
            c.cmd("MAIL FROM:<a@remote.test>", expect="250")
            for _ in range(3):
                rep = c.cmd("RCPT TO:<bob@example.test>")
                codes.append((rep.code, rep.lines[0]))
    assert [c for c, _ in codes] == [250] * 5 + [450], codes
    assert codes[5][1].startswith("450 4.7.1 "), codes
    assert log_has(srv, "RCPT to=<bob@example.test> refused: recipient-rate")
    # Another client address has its own count.
    with srv.client(source="127.0.0.3") as c:
        c.ehlo()
        c.cmd("MAIL FROM:<a@remote.test>", expect="250")
        c.cmd("RCPT TO:<bob@example.test>", expect="250")


def test_errors_are_tarpitted_then_disconnected(make_server):
    srv = make_server(limits={"max-errors": 5, "tarpit-after": 2, "tarpit-max": "1s"})
    with srv.client() as c:
        c.ehlo()
        times = []
        for _ in range(5):
            t = time.monotonic()
            rep = c.cmd("BOGUS")
            times.append(time.monotonic() - t)
            assert rep.code == 500
        # The fifth refusal is followed by the goodbye.
        h.check_reply(c.reply(), "421 4.7.0")
        assert c.closed_by_server(5 * h.SLOW)
    assert times[0] < 0.5 and times[1] < 0.5, times
    assert times[2] >= 0.9 and times[3] >= 0.9, times
    assert log_has(srv, "[127.0.0.1]: too many errors (5, max-errors 5)")


def test_tarpit_holds_replies_under_tls_too(make_server):
    """Inside STARTTLS the tarpitted reply is held as in clear: the client
    waits for it (the TLS filter once sent it at once, delaying only the
    next command)."""
    srv = make_server(limits={"max-errors": 10, "tarpit-after": 1, "tarpit-max": "1s"})
    with srv.client() as c:
        c.ehlo()
        c.starttls(h.tls_context(srv))
        c.ehlo()
        times = []
        for _ in range(2):
            t = time.monotonic()
            h.check_reply(c.cmd("BOGUS"), "500")
            times.append(time.monotonic() - t)
        t = time.monotonic()
        h.check_reply(c.cmd("NOOP"), "250")
        times.append(time.monotonic() - t)
    assert times[0] < 0.5 and times[1] >= 0.9 and times[2] < 0.5, times


# ---- deadlines and slow clients --------------------------------------------


def test_command_deadline_is_not_reset_by_trickling(make_server):
    srv = make_server(limits={"command-timeout": "2s"})
    s, line = connect(srv)
    assert line.startswith("220 ")
    t0 = time.monotonic()
    got = ""
    for ch in b"NOOP NOOP NOOP NOOP NOOP NOOP":  # one byte every 0.25 s
        try:
            s.sendall(bytes([ch]))
        except OSError:
            break
        s.settimeout(0.25)
        try:
            data = s.recv(200)
        except socket.timeout:
            continue
        got = data.decode("latin-1")
        break
    elapsed = time.monotonic() - t0
    s.close()
    assert got.startswith("421 4.4.2 "), got
    assert 1.5 < elapsed < 6, elapsed
    assert log_has(srv, "[127.0.0.1]: command-timeout; disconnecting")


def test_min_data_rate(make_server):
    srv = make_server(limits={"min-data-rate": 1000, "data-rate-grace": "2s"})
    with srv.client() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<a@remote.test>", expect="250")
        c.cmd("RCPT TO:<bob@example.test>", expect="250")
        c.cmd("DATA", expect="354")
        t0 = time.monotonic()
        reply = None
        for _ in range(40):  # 20 octets every 0.25 s = 80 octets/s
            try:
                c.send(b"x" * 18 + b"\r\n")
            except OSError:
                break
            try:
                reply = c.readline(timeout=0.25)
                break
            except socket.timeout:
                pass
            except h.ConnectionClosed:
                break
        assert reply is not None and reply.startswith(b"421 4.4.2 "), reply
        assert time.monotonic() - t0 < 8
    assert log_has(srv, "min-data-rate not met")
    assert srv.files("bob") == []
    # A client at full speed is not affected.
    with srv.client() as c:
        c.ehlo()
        assert send_message(c).code == 250


# long: it waits out tarpit delays or timeouts; covered by the plain run
@pytest.mark.slow
def test_session_timeout(make_server):
    srv = make_server(limits={"session-timeout": "10s", "command-timeout": "5s"})
    with srv.client() as c:
        c.ehlo()
        t0 = time.monotonic()
        rep = None
        for _ in range(30):
            rep = c.cmd("NOOP")
            if rep.code != 250:
                break
            time.sleep(0.5)
        h.check_reply(rep, "421 4.4.2")
        assert 9 < time.monotonic() - t0 < 14
    assert log_has(srv, "session-timeout; disconnecting")


def test_unread_replies_are_capped(make_server):
    """A client that pipelines without reading its replies makes the server
    stop reading (bounded buffers), not grow; it still gets every reply."""
    srv = make_server(limits={"session-memory": "16K"})
    s, line = connect(srv)
    s.sendall(b"EHLO x\r\n")
    assert read_line(s).startswith("250")
    s.settimeout(2)
    sent = 0
    chunk = b"NOOP\r\n" * 10000
    try:
        while sent < 64 * 1024 * 1024:
            sent += s.send(chunk)
    except socket.timeout:
        pass
    assert sent < 64 * 1024 * 1024, "the server kept reading without bound"
    # Every NOOP that was sent is answered, in order, once we read.
    s.settimeout(30 * h.SLOW)
    want = sent // 6
    got = 0
    buf = b""
    while got < want:
        data = s.recv(1 << 20)
        if not data:
            break
        buf += data
        got += buf.count(b"\r\n")
        buf = buf[buf.rfind(b"\r\n") + 2:] if b"\r\n" in buf else buf
    s.close()
    assert got >= want, (got, want)


def test_unread_replies_are_capped_under_tls(make_server):
    """Under TLS too: the encrypted replies waiting for the client count, so
    the server stops reading instead of holding them without bound (it
    used to: a worker grew by tens of MB), and the session goes on as soon
    as the client reads."""
    srv = make_server(limits={"session-memory": "16K"})
    with srv.client() as c:
        c.ehlo()
        t = c.starttls(h.tls_context())
        t.sendall(b"EHLO x\r\n")
        buf = b""
        while b"\r\n250 " not in b"\r\n" + buf:
            buf += t.recv(4096)
        t.settimeout(2)
        sent = 0
        chunk = b"NOOP\r\n" * 10000
        try:
            while sent < 32 * 1024 * 1024:
                t.sendall(chunk)
                sent += len(chunk)
        except socket.timeout:
            pass
        assert sent < 32 * 1024 * 1024, "the server kept reading without bound"
        # Each reply is a TLS record of its own: reading 20,000 of them shows
        # the session resuming many times over (16K holds a few hundred).
        t.settimeout(10 * h.SLOW)
        got = 0
        while got < 20000:
            data = t.recv(65536)
            assert data, "closed after %d replies" % got
            got += data.count(b"\r\n")


# ---- pregreet and pipelining -------------------------------------------------


def test_pregreet_talker_is_dropped_and_a_patient_client_remembered(make_server):
    srv = make_server(limits={"pregreet": "on", "pregreet-wait": "1s"})
    # srv.start() itself waited for the banner from 127.0.0.1, so use others.
    s = socket.create_connection((srv.addr, srv.port), source_address=("127.0.0.21", 0))
    s.sendall(b"EHLO spambot\r\n")
    line = read_line(s, timeout=10 * h.SLOW)
    assert line.startswith("554 5.5.0 ") and "before my greeting" in line, line
    assert closed_by_peer(s)
    s.close()
    assert log_has(srv, "[127.0.0.21]: pregreet: client talked before the greeting")

    t0 = time.monotonic()
    s, line = connect(srv, source="127.0.0.22")
    waited = time.monotonic() - t0
    s.sendall(b"QUIT\r\n")
    s.close()
    assert line.startswith("220 ") and waited >= 0.9, (line, waited)
    t0 = time.monotonic()
    s, line = connect(srv, source="127.0.0.22")
    again = time.monotonic() - t0
    s.close()
    assert line.startswith("220 ") and again < 0.5, (line, again)


def test_pregreet_is_off_on_submission(make_server):
    srv = make_server(limits={"pregreet": "on", "pregreet-wait": "2s"})
    t0 = time.monotonic()
    s, line = connect(srv, port=srv.sub_port, source="127.0.0.23")
    s.close()
    assert line.startswith("220 ") and time.monotonic() - t0 < 1, line


@pytest.mark.parametrize("first,rest", [
    (b"EHLO x\r\n", b"MAIL FROM:<a@remote.test>\r\n"),
    (b"HELO x\r\nMAIL FROM:<a@remote.test>\r\n", b"RCPT TO:<bob@example.test>\r\n"),
])
def test_improper_pipelining_is_dropped(make_server, first, rest):
    srv = make_server()
    s, line = connect(srv)
    if first.startswith(b"HELO"):
        s.sendall(b"HELO x\r\n")
        assert read_line(s).startswith("250")
        first = first[len(b"HELO x\r\n"):]
    s.sendall(first + rest)
    line = read_line(s)
    assert line.startswith("554 5.5.0 ") and "pipelining" in line, line
    assert closed_by_peer(s)
    s.close()
    assert log_has(srv, "[127.0.0.1]: improper command pipelining")


def test_commands_behind_starttls_are_dropped_not_run(make_server):
    srv = make_server()
    with srv.client() as c:
        c.ehlo()
        c.send("STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n")
        rep = c.reply()
        h.check_reply(rep, "554 5.5.0")
        assert c.closed_by_server(5 * h.SLOW)
        assert b"220" not in c.buf and b"250" not in c.buf, c.buf


def test_data_pipelined_with_its_body_is_dropped(make_server):
    srv = make_server()
    with srv.client() as c:
        c.ehlo()
        c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
               "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n")
        assert c.reply().code == 250
        assert c.reply().code == 250
        rep = c.reply()
        h.check_reply(rep, "554 5.5.0")
        assert "pipelining" in rep.lines[0], rep
    assert srv.files("bob") == []


def test_proper_pipelining_is_fine(make_server):
    srv = make_server()
    with srv.client() as c:
        c.ehlo()
        c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        assert [c.reply().code for _ in range(3)] == [250, 250, 354]
        c.send("Subject: x\r\n\r\nhi\r\n.\r\n")
        assert c.reply().code == 250


# ---- the slow-loris test ------------------------------------------------------


def test_slow_loris_does_not_stop_a_good_client(make_server):
    """500 connections trickling one byte a second (from 25 addresses in 5
    networks, within the default per-address and per-network limits) while
    a well-behaved client sends 100 messages."""
    srv = make_server()
    loris = []
    try:
        for net in range(1, 6):
            for host in range(1, 6):
                for _ in range(20):
                    s = socket.create_connection(
                        (srv.addr, srv.port), timeout=10 * h.SLOW,
                        source_address=("127.0.%d.%d" % (net, host), 0))
                    loris.append(s)
        greeted = sum(1 for s in loris if read_line(s, timeout=10 * h.SLOW).startswith("220 "))
        assert greeted == 500, greeted
        t0 = time.monotonic()
        sent = 0
        next_trickle = 0
        with srv.client() as c:
            c.ehlo()
            while sent < 100 and time.monotonic() - t0 < 60 * h.SLOW:
                if time.monotonic() >= next_trickle:
                    for s in loris:
                        try:
                            s.send(b"N")
                        except OSError:
                            pass
                    next_trickle = time.monotonic() + 1
                assert send_message(c).code == 250
                sent += 1
        assert sent == 100
    finally:
        for s in loris:
            s.close()
    assert len(srv.wait_files("bob", 100, timeout=30 * h.SLOW)) == 100


# ---- DNS lists ------------------------------------------------------------------


def test_dnsbl_listing_blocks_that_address(make_server):
    """The local test DNS server lists 127.0.0.5 in bl.example (zones under
    .example: a resolver answers .test names itself, RFC 6761) and
    127.0.0.6 in both bl.example and the allow list wl.example."""
    from dnsserver import TestDNS
    with TestDNS([("5.0.0.127.bl.example", "A", "127.0.0.2"),
                  ("6.0.0.127.bl.example", "A", "127.0.0.2"),
                  ("6.0.0.127.wl.example", "A", "127.0.0.2")]) as dns:
        srv = make_server(conf={"resolver": dns.addr, "dnsbl": "bl.example 2"}, start=False)
        with open(srv.conf, "a") as f:
            f.write("dnsbl wl.example -5\n")
        srv.start()
        s, line = connect(srv, source="127.0.0.5")
        assert line.startswith("554 5.7.1 ") and "bl.example" in line, line
        assert "[127.0.0.5]" in line, line
        assert closed_by_peer(s)
        s.close()
        assert log_has(srv, "[127.0.0.5]: connection refused: listed in bl.example")
        for ip in ("127.0.0.6", "127.0.0.7"):  # allow-listed; not listed
            with srv.client(source=ip) as c:
                assert c.banner.code == 220, c.banner
                c.ehlo()
                assert send_message(c).code == 250
        assert ("5.0.0.127.bl.example", "A", "udp") in dns.queries or \
            ("5.0.0.127.bl.example", "A", "tcp") in dns.queries
        # Submission is for authenticated users: no DNS list there.
        s, line = connect(srv, port=srv.sub_port, source="127.0.0.5")
        s.close()
        assert line.startswith("220 "), line


def test_dnsbl_that_does_not_answer_does_not_block(make_server):
    from dnsserver import TestDNS
    with TestDNS([("5.0.0.127.bl.example", "A", "127.0.0.2")]) as dns:
        dns.drop_all = True
        srv = make_server(conf={"resolver": dns.addr, "dnsbl": "bl.example"},
                          limits={"dns-timeout": "500ms"})
        t0 = time.monotonic()
        s, line = connect(srv, source="127.0.0.5")
        s.close()
        assert line.startswith("220 "), line
        assert time.monotonic() - t0 < 3 * h.SLOW
        assert log_has(srv, "[127.0.0.5]: 1 DNS list(s) did not answer in time")


# ---- per-user quotas ----------------------------------------------------------


def user_session(srv):
    from test_auth import BOB, auth_plain, tls_client
    c = tls_client(srv, "submissions")
    auth_plain(c, *BOB)
    return c


def test_user_message_quota(make_server):
    srv = make_server(limits={"user-message-rate": "2/1h"})
    with user_session(srv) as c:
        for _ in range(2):
            assert send_message(c, sender="bob@example.test",
                                rcpt="alice@example.test").code == 250
        rep = c.cmd("MAIL FROM:<bob@example.test>")
        h.check_reply(rep, "450 4.7.1")
        assert "bob@example.test" in rep.text and "2 per 3600s" in rep.text, rep
    # A new connection does not reset it; another user has their own quota.
    with user_session(srv) as c:
        h.check_reply(c.cmd("MAIL FROM:<bob@example.test>"), "450 4.7.1")
    assert log_has(srv, "user=<bob@example.test>: MAIL refused: user-message-rate")
    assert len(srv.wait_files("alice", 2)) == 2


def test_user_recipient_quota_counts_relayed_recipients(make_server):
    srv = make_server(limits={"user-recipient-rate": "3/1h"})
    with user_session(srv) as c:
        c.cmd("MAIL FROM:<bob@example.test>", expect="250")
        codes = [c.cmd("RCPT TO:<%s>" % r).code for r in
                 ("alice@example.test", "x@remote.example", "y@remote.example",
                  "z@remote.example")]
        assert codes == [250, 250, 250, 450], codes
    assert log_has(srv, "RCPT to=<z@remote.example> refused: user-recipient-rate")
    # The per-address recipient rate is not what limits an authenticated user.
    srv2 = make_server(limits={"recipient-rate": "1/1h", "user-recipient-rate": "10/1h"})
    with user_session(srv2) as c:
        c.cmd("MAIL FROM:<bob@example.test>", expect="250")
        for r in ("alice@example.test", "carol@example.test", "x@remote.example"):
            c.cmd("RCPT TO:<%s>" % r, expect="250")


def test_ipv6_clients_are_counted_by_address_and_slash_64(make_server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1 on this machine")
    srv = make_server(addr="::1", limits={"max-connections-per-ip": 3,
                                          "max-connections-per-net": 2})
    held = [connect(srv)[0] for _ in range(2)]
    try:
        s, line = connect(srv)
        s.close()
        assert line.startswith("421 4.7.0 ") and "your network" in line, line
        assert log_has(srv, "[::1]: connection refused: max-connections-per-net 2")
    finally:
        for s in held:
            s.close()


# ---- found by trying to break it -------------------------------------------------


def test_tls_handshake_that_never_finishes_is_dropped(make_server):
    srv = make_server(limits={"command-timeout": "2s"})
    silent = socket.create_connection((srv.addr, srv.subs_port), source_address=("127.0.0.31", 0))
    partial = socket.create_connection((srv.addr, srv.subs_port),
                                       source_address=("127.0.0.31", 0))
    partial.sendall(bytes.fromhex("16030100c8010000c40303"))
    s, line = connect(srv, source="127.0.0.31")
    s.sendall(b"EHLO x\r\n")
    while not read_line(s).startswith("250 "):
        pass
    s.sendall(b"STARTTLS\r\n")
    assert read_line(s).startswith("220 ")
    try:
        for sock in (silent, partial, s):
            assert closed_by_peer(sock, timeout=8), "still open"
    finally:
        for sock in (silent, partial, s):
            sock.close()
    assert log_has(srv, "[127.0.0.31]: TLS handshake not completed in time")


def test_refused_before_the_handshake_is_closed_at_once(make_server):
    srv = make_server(limits={"max-connections-per-ip": 1})
    held, _ = connect(srv, source="127.0.0.32")
    try:
        t0 = time.monotonic()
        s = socket.create_connection((srv.addr, srv.subs_port),
                                     source_address=("127.0.0.32", 0))
        assert closed_by_peer(s, timeout=5)
        assert time.monotonic() - t0 < 3
        s.close()
        assert log_has(srv, "[127.0.0.32]: connection refused: max-connections-per-ip 1")
    finally:
        held.close()


def test_user_quota_cannot_be_dodged_by_letter_case(make_server):
    from test_auth import auth_plain, tls_client
    srv = make_server(limits={"user-message-rate": "2/1h"})
    for login in ("bob@example.test", "BOB@EXAMPLE.TEST", "Bob@Example.Test"):
        c = tls_client(srv, "submissions")
        try:
            auth_plain(c, login, "bob-secret")
            rep = c.cmd("MAIL FROM:<bob@example.test>")
            c.cmd("RSET")
        finally:
            c.close()
    h.check_reply(rep, "450 4.7.1")
    assert "bob@example.test" in rep.text, rep


def test_talking_while_the_banner_waits_for_dns_lists_is_caught(make_server):
    from dnsserver import TestDNS
    with TestDNS() as dns:
        dns.drop_all = True
        srv = make_server(conf={"resolver": dns.addr, "dnsbl": "bl.example"},
                          limits={"pregreet": "on", "pregreet-wait": "500ms",
                                  "dns-timeout": "3s"})
        s = socket.create_connection((srv.addr, srv.port), source_address=("127.0.0.33", 0))
        time.sleep(1.2)  # after pregreet-wait, before the lists gave up
        s.sendall(b"EHLO x\r\n")
        line = read_line(s, timeout=10 * h.SLOW)
        s.close()
        assert line.startswith("554 5.5.0 "), line


def test_recipient_rate_counts_unknown_recipients(make_server):
    srv = make_server(limits={"recipient-rate": "3/1h"})
    with srv.client() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<a@remote.test>", expect="250")
        codes = [c.cmd("RCPT TO:<%s@example.test>" % u).code
                 for u in ("nobody1", "nobody2", "nobody3", "bob")]
    assert codes == [550, 550, 550, 450], codes


def test_unknown_command_cannot_carry_pipelined_ones(make_server):
    srv = make_server()
    s, line = connect(srv)
    s.sendall(b"XYZZY\r\nMAIL FROM:<a@remote.test>\r\n")
    line = read_line(s)
    s.close()
    assert line.startswith("554 5.5.0 ") and "pipelining" in line, line
