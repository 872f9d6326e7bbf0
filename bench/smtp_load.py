#!/usr/bin/python3
"""Bounded SMTP load generator: N concurrent sessions, M messages in all.

usage: smtp_load.py HOST PORT --sessions N --messages M [--size BYTES]
                    [--per-connection K] [--rcpt ADDR] [--timeout S]

Prints one line: messages, seconds, msg/s, p50 and p99 of the time from the
end-of-data marker to the 250 reply (ms). Used by `make bench` and for the
figures in the closing notes; never by the tests (no timed assertions).
"""
import argparse
import socket
import statistics
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


def session(args, body, count, lat, errors, deadline):
    sent = 0
    while sent < count and time.monotonic() < deadline:
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        try:
            reply(f)
            s.sendall(b"EHLO load.test\r\n")
            reply(f)
            k = 0
            while k < args.per_connection and sent < count:
                s.sendall(b"MAIL FROM:<load@load.test>\r\nRCPT TO:<%s>\r\nDATA\r\n" % args.rcpt.encode())
                for _ in range(3):
                    code, _l = reply(f)
                if code != 354:
                    errors.append(code)
                    break
                s.sendall(body)
                t0 = time.monotonic()
                s.sendall(b".\r\n")
                code, _l = reply(f)
                lat.append(time.monotonic() - t0)
                if code != 250:
                    errors.append(code)
                sent += 1
                k += 1
            s.sendall(b"QUIT\r\n")
            reply(f)
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
    args = ap.parse_args()
    line = b"x" * 70 + b"\r\n"
    body = b"Subject: load\r\n\r\n" + line * max(1, args.size // len(line))
    lat, errors, threads = [], [], []
    per = [args.messages // args.sessions + (1 if i < args.messages % args.sessions else 0)
           for i in range(args.sessions)]
    deadline = time.monotonic() + args.max_seconds
    t0 = time.monotonic()
    for n in per:
        t = threading.Thread(target=session, args=(args, body, n, lat, errors, deadline))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    dt = time.monotonic() - t0
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
    print(f"messages={len(lat)} errors={len(errors)} seconds={dt:.2f} "
          f"msg_per_s={len(lat)/dt:.1f} p50_ms={p(0.5):.2f} p99_ms={p(0.99):.2f}")


if __name__ == "__main__":
    main()
