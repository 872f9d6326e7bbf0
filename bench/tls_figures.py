#!/usr/bin/python3
"""TLS cost figures for one running sealpost (not a test).

usage: tls_figures.py PORT SERVER_PID [--handshakes N] [--idle N] [--plain PORT]

Runs N full TLS handshakes (no resumption) against an implicit-TLS
(submissions) port, reading the 220 banner each time, and reports the SMTP
workers' CPU time per handshake (so handshakes per second per core), then
holds M established TLS sessions open and reports the workers' RSS growth
per session. With --plain PORT it does the same for idle plaintext
connections (after the banner). Talks only to 127.0.0.1.
"""
import os
import socket
import ssl
import sys
import time


def workers(ppid):
    kids = open(f"/proc/{ppid}/task/{ppid}/children").read().split()
    return [int(k) for k in kids if open(f"/proc/{k}/comm").read().startswith("sp-smtp")]


def cpu(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    return total / tick


def rss(pids):
    total = 0
    for p in pids:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS"):
                total += int(line.split()[1])
    return total


def main():
    port, ppid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[sys.argv.index("--handshakes") + 1]) if "--handshakes" in sys.argv else 1000
    m = int(sys.argv[sys.argv.index("--idle") + 1]) if "--idle" in sys.argv else 500
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ws = workers(ppid)
    if "--plain" in sys.argv:
        plain = int(sys.argv[sys.argv.index("--plain") + 1])
        r0 = rss(ws)
        held = [socket.create_connection(("127.0.0.1", plain), timeout=10) for _ in range(m)]
        for s in held:
            s.recv(100)
        time.sleep(0.5)
        r1 = rss(ws)
        print(f"idle_plain_sessions={m} rss_growth_kib={r1 - r0} per_session_kib={(r1 - r0) / m:.1f}")
        for s in held:
            s.close()
    c0, t0 = cpu(ws), time.monotonic()
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        s.recv(100)
        s.close()
    c1, t1 = cpu(ws), time.monotonic()
    per = (c1 - c0) / n
    print(f"handshakes={n} wall={t1 - t0:.2f}s client+server/s={n / (t1 - t0):.0f} "
          f"server_cpu_per_handshake_ms={per * 1000:.3f} "
          f"handshakes_per_core_s={1 / per if per else 0:.0f}")
    time.sleep(0.5)
    r0 = rss(ws)
    held = []
    for _ in range(m):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
        s.recv(100)
        held.append(s)
    time.sleep(0.5)
    r1 = rss(ws)
    print(f"idle_tls_sessions={m} rss_growth_kib={r1 - r0} per_session_kib={(r1 - r0) / m:.1f}")
    for s in held:
        s.close()



if __name__ == "__main__":
    main()
