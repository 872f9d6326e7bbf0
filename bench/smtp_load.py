#!/usr/bin/python3
"""Bounded SMTP load generator: N concurrent sessions, M messages in all.

usage: smtp_load.py HOST PORT --sessions N --messages M [--size BYTES]
                    [--per-connection K] [--rcpt ADDR] [--timeout S]
                    [--max-seconds S] [--starttls] [--json]
                    [--sender ADDR] [--message FILE]

Prints one line: messages, seconds, msg/s, p50 and p99 of the time from the
end-of-data marker to the 250 reply (ms). With --starttls every connection
does EHLO, STARTTLS (a full TLS handshake: no session resumption, no
certificate check), EHLO again, then its messages. With --json the line is
a JSON object that also carries every latency (bench/compare.py merges the
output of several client processes). --message sends FILE (a whole CRLF
message, e.g. a DKIM-signed one: bench/checks_cost.py) instead of the
generated body; --sender is the MAIL FROM address (default load@load.test). Used by `make bench` and for the
figures in the closing notes; never by the tests (no timed assertions).
"""
import argparse
import json
import socket
import ssl
import threading
import time


def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), lines


def session(args, body, count, lat, errors, deadline, ctx):
    sent = 0
    while sent < count and time.monotonic() < deadline:
        try:
            s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        except OSError as e:
            errors.append(type(e).__name__)
            time.sleep(0.05)
            continue
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        try:
            reply(f)
            s.sendall(b"EHLO load.test\r\n")
            reply(f)
            if ctx is not None:
                s.sendall(b"STARTTLS\r\n")
                code, _l = reply(f)
                if code != 220:
                    errors.append(code)
                    return
                f.close()
                s = ctx.wrap_socket(s, server_hostname=None)
                f = s.makefile("rb")
                s.sendall(b"EHLO load.test\r\n")
                reply(f)
            k = 0
            while k < args.per_connection and sent < count:
                s.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" %
                          (args.sender.encode(), args.rcpt.encode()))
                for _ in range(3):
                    code, _l = reply(f)
                if code != 354:
                    errors.append(code)
                    break
                s.sendall(body)
                t0 = time.monotonic()
                s.sendall(b".\r\n")
                code, _l = reply(f)
                if code != 250:
                    errors.append(code)
                else:
                    lat.append(time.monotonic() - t0)
                sent += 1
                k += 1
            s.sendall(b"QUIT\r\n")
            reply(f)
        except (OSError, EOFError, ssl.SSLError) as e:
            errors.append(type(e).__name__ + ":" + str(e)[:80])
            sent += 1  # never retry forever: a failed attempt uses up its message
        finally:
            f.close()
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--per-connection", type=int, default=1)
    ap.add_argument("--rcpt", default="bob@example.test")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sender", default="load@load.test")
    ap.add_argument("--message", default=None)
    args = ap.parse_args()
    line = b"x" * 70 + b"\r\n"
    body = b"Subject: load\r\n\r\n" + line * max(1, args.size // len(line))
    if args.message:
        with open(args.message, "rb") as f:
            raw = f.read()
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        body = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                        for l in raw[:-2].split(b"\r\n"))
    ctx = None
    if args.starttls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    lat, errors, threads = [], [], []
    per = [args.messages // args.sessions + (1 if i < args.messages % args.sessions else 0)
           for i in range(args.sessions)]
    deadline = time.monotonic() + args.max_seconds
    t0 = time.monotonic()
    for n in per:
        t = threading.Thread(target=session, args=(args, body, n, lat, errors, deadline, ctx))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    if args.json:
        print(json.dumps({"messages": len(lat), "errors": len(errors), "error_kinds": sorted(set(map(str, errors)))[:5],
                          "seconds": dt, "latencies": lat}))
        return
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
    print(f"messages={len(lat)} errors={len(errors)} seconds={dt:.2f} "
          f"msg_per_s={len(lat)/dt:.1f} p50_ms={p(0.5):.2f} p99_ms={p(0.99):.2f}")


if __name__ == "__main__":
    main()
