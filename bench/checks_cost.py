#!/usr/bin/python3
"""What the sender checks (SPF, DKIM, DMARC; issue 5) cost in plaintext
acceptance throughput: the same load against one sealpost with
`inbound-checks on` and `inbound-checks off`, interleaved, ROUNDS rounds,
medians and the ratio.

usage: checks_cost.py SEALPOST_BIN [--sessions 50] [--messages 2000]
                      [--rounds 3] [--max-seconds 60] [--pause 10]

The load is bench/smtp_load.py: 1 KB messages from load@load.example,
DKIM-signed (rsa-sha256, relaxed/relaxed, by Debian's python3-dkim) for
load.example, which publishes an SPF record allowing 127.0.0.0/8, the
DKIM key and a DMARC p=reject policy — so every message costs one SPF
evaluation, one key lookup, one RSA verification, a body hash and one
DMARC discovery, all answered by a local test DNS server
(tests/integration/dnsserver.py on 127.0.0.1; nothing leaves loopback).
The resolver's cache keeps most answers after the first message, as it
would for a busy sender in real life.

Runs alternate (on/off, then off/on) with a pause between them: on this
machine's ext4 (no journal) the cost of creating spool files depends on
how many were deleted in the last seconds, which otherwise favours
whichever mode runs first. Prints one line per run (throughput and the
server tree's CPU per message) and a summary line; never used by the tests.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from dnsserver import TestDNS  # noqa: E402

PY = "/usr/bin/python3"
DOMAIN = "bench.test"
RCPT = "bob@bench.test"
SENDER = "load@load.example"
LIMITS = """limits {
    max-connections 20000
    max-connections-per-ip 20000
    max-connections-per-net 20000
    connection-rate off
    pregreet off
    messages-per-session 100000
    recipient-rate off
}
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_key(tmp):
    key = os.path.join(tmp, "load.pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    with open(key, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


def signed_message(tmp, pem):
    import dkim
    line = b"x" * 70 + b"\r\n"
    msg = (b"From: Load <load@load.example>\r\nTo: <bob@bench.test>\r\n"
           b"Subject: load\r\nDate: Sat, 05 Dec 2026 12:00:00 +0000\r\n"
           b"Message-ID: <load@load.example>\r\n\r\n" + line * 14)
    sig = dkim.sign(msg, b"sel", b"load.example", pem, canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date"])
    path = os.path.join(tmp, "message.eml")
    with open(path, "wb") as f:
        f.write(sig + msg)
    return path


def zone(pub):
    key = "v=DKIM1; k=rsa; p=" + pub
    return [("load.example", "TXT", '"v=spf1 ip4:127.0.0.0/8 -all"'),
            ("sel._domainkey.load.example", "TXT",
             " ".join('"%s"' % key[i:i + 250] for i in range(0, len(key), 250))),
            ("_dmarc.load.example", "TXT", '"v=DMARC1; p=reject"')]


class Server:
    def __init__(self, binary, tmp, dns_addr):
        self.bin, self.dir = binary, os.path.join(tmp, "sealpost")
        self.port = free_port()
        subprocess.run([binary, "init", self.dir, "--hostname", "mx." + DOMAIN, "--domain",
                        DOMAIN, "--listen", "127.0.0.1", "--smtp-port", str(self.port),
                        "--submission-port", str(free_port()), "--submissions-port",
                        str(free_port())], check=True, capture_output=True)
        os.chmod(tmp, 0o755)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "sealpost.conf")
        subprocess.run([binary, "user", "-c", self.conf, "add", RCPT], input="pw\n", text=True,
                       check=True, capture_output=True)
        with open(self.conf) as f:
            self.base = f.read() + LIMITS + "resolver %s\n" % dns_addr
        self.proc = None

    def start(self, checks):
        with open(self.conf, "w") as f:
            f.write(self.base + "inbound-checks %s\n" % ("on" if checks else "off"))
        self.log = open(os.path.join(self.dir, "server.log"), "a")
        self.proc = subprocess.Popen([self.bin, "serve", "-c", self.conf, "-f"],
                                     stdout=self.log, stderr=self.log)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sealpost did not start: see %s" % self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def tree_cpu(root):
    """CPU seconds (user + system) used so far by root and its descendants."""
    hz = os.sysconf("SC_CLK_TCK")
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(d)] = (int(st[1]), int(st[11]) + int(st[12]))  # ppid, utime+stime
    want, total, changed = {root}, 0, True
    while changed:
        changed = False
        for pid, (ppid, _t) in procs.items():
            if ppid in want and pid not in want:
                want.add(pid)
                changed = True
    for pid in want:
        total += procs.get(pid, (0, 0))[1]
    return total / hz


def load(port, args, message):
    out = subprocess.run([PY, os.path.join(HERE, "smtp_load.py"), "127.0.0.1", str(port),
                          "--sessions", str(args.sessions), "--messages", str(args.messages),
                          "--rcpt", RCPT, "--sender", SENDER, "--message", message,
                          "--max-seconds", str(args.max_seconds), "--json"],
                         capture_output=True, text=True, timeout=args.max_seconds + 60)
    r = json.loads(out.stdout)
    return r["messages"] / r["seconds"], r["errors"], r["messages"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--pause", type=float, default=10,
                    help="seconds between runs (the spool's file churn settles)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sealpost-checks-", dir="/tmp")
    pem, pub = make_key(tmp)
    message = signed_message(tmp, pem)
    dns = TestDNS(zone(pub)).start()
    srv = Server(args.binary, tmp, dns.addr)
    rates = {True: [], False: []}
    cpus = {True: [], False: []}
    try:
        for rnd in range(args.rounds):
            for checks in (True, False) if rnd % 2 == 0 else (False, True):
                time.sleep(args.pause)  # ext4 reuses inodes freed a while ago faster
                srv.start(checks)
                c0 = tree_cpu(srv.proc.pid)
                rate, errors, n = load(srv.port, args, message)
                cpu = (tree_cpu(srv.proc.pid) - c0) * 1000 / max(n, 1)
                srv.stop()
                rates[checks].append(rate)
                cpus[checks].append(cpu)
                print("round %d checks=%-3s %7.1f msg/s  server CPU %.3f ms/msg  errors=%d" %
                      (rnd + 1, "on" if checks else "off", rate, cpu, errors), flush=True)
        with open(os.path.join(srv.dir, "server.log")) as f:
            auth = [l for l in f if " auth: " in l]
        on, off = statistics.median(rates[True]), statistics.median(rates[False])
        con, coff = statistics.median(cpus[True]), statistics.median(cpus[False])
        print("checks on %.1f msg/s, off %.1f msg/s (medians of %d): on/off = %.2f; "
              "server CPU %.3f vs %.3f ms/msg: off/on = %.2f "
              "(%d messages judged; last: %s)" %
              (on, off, args.rounds, on / off, con, coff, coff / con, len(auth),
               auth[-1].split(" auth: ")[1].strip() if auth else "none"))
    finally:
        dns.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
