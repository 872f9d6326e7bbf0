#!/usr/bin/python3
"""sealpost against Postfix and OpenSMTPD, side by side (issue 8; not a test).

usage: compare.py --work DIR --sealpost BIN [--rounds N] [--quick]
                  [--sealpost-extra FILE] [--results FILE] [--target-seconds S]

Runs three servers at once on their own 127.0.0.1 ports, each with a private
config under WORK (see bench/README.md for every setting), all accepting mail
for bench.test and delivering spbench@bench.test into a Maildir with fsync
before the 250 reply:

- sealpost: `sealpost init` + the bench limits block (--sealpost-extra);
- Postfix 3.7 (unpacked by bench/incumbents.sh): `postfix -c DIR start`,
  normal queue, local(8) delivery to WORK/postfix/mail/spbench/ (Maildir);
- OpenSMTPD 6.8: `smtpd -d -f FILE` inside a private mount namespace
  (`unshare -m`) that binds its compiled-in paths (/var/spool/smtpd,
  /var/lib/opensmtpd/empty, /usr/libexec/opensmtpd, /run, /etc/resolv.conf)
  to directories under WORK; maildir delivery.

Then, per round (--rounds, the order of the servers rotated every round),
for every load and every server in turn: plaintext with Postfix's
smtp-source at 1, 10, 50, 200 sessions x 1 KB and 20 KB (one connection
per message), plus one latency probe session (end-of-DATA -> 250, one
message every 50 ms, counted in the totals); STARTTLS with
bench/tls_load.c (build/tls_load, C and GnuTLS, an epoll loop per CPU) at
10 and 50 sessions (full handshake per message). Each run measures: accepted (250s seen by the clients), the time
until every accepted message is in the Maildir (msg/s = accepted and
delivered per second), CPU seconds of the server's whole process tree
(utime+stime+cutime+cstime of every process, /proc/PID/stat, before and
after), peak VmRSS of the tree (sampled every 100 ms) and latency
percentiles. Message counts come from an unreported calibration run per
load and server (about --target-seconds of work); every run is bounded in
time. Finally idle memory: 2,000 connections held (banner read) per server,
RSS growth of the tree per held connection.

Writes the table (medians of the rounds, ratios per row) to --results and
the raw figures to WORK/compare.json. Talks only to 127.0.0.0/8.
"""
import argparse
import datetime
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import conn_flood  # noqa: E402  (tree, mem, flood)
from smtp_load import reply  # noqa: E402

PY = "/usr/bin/python3"
TICK = os.sysconf("SC_CLK_TCK")
TLS_LOAD = os.path.join(HERE, "..", "build", "tls_load")
RCPT = "spbench@bench.test"
DOMAIN = "bench.test"
HOST = "mx.bench.test"


def log(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_banner(port, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(100).startswith(b"220"):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def cpu_seconds(pid):
    """utime+stime+cutime+cstime over the live tree: counts children that exited
    and were reaped inside the tree (Postfix's smtpd/local, OpenSMTPD's mda)."""
    total = 0
    for p in conn_flood.tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / TICK


def rss_kib(pid):
    return conn_flood.mem(pid)[0]


def count_dir(d):
    try:
        return len(os.listdir(d))
    except OSError:
        return 0


class Sampler(threading.Thread):
    """Peak VmRSS and peak Pss (KiB) of a process tree, sampled every 200 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_pss, self.stop_ev = pid, 0, 0, threading.Event()

    def sample(self):
        rss, pss = conn_flood.mem(self.pid)
        self.peak = max(self.peak, rss)
        self.peak_pss = max(self.peak_pss, pss or 0)

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(0.2)

    def stop(self):
        self.stop_ev.set()
        self.join()
        self.sample()
        return self.peak, self.peak_pss


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def make_maildir(base, owner):
    pw = pwd.getpwnam(owner)
    os.makedirs(base, exist_ok=True)
    os.chown(base, pw.pw_uid, pw.pw_gid)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
        os.chown(os.path.join(base, sub), pw.pw_uid, pw.pw_gid)
        os.chmod(os.path.join(base, sub), 0o700)
    os.chmod(base, 0o700)


# ---------------------------------------------------------------- servers

class Sealpost:
    name = "sealpost"

    def __init__(self, work, binary, extra, tls):
        self.dir = os.path.join(work, "sealpost")
        self.bin, self.extra, self.tls = binary, extra, tls
        self.proc = None
        self.port = free_port()
        self.newdir = os.path.join(self.dir, "mail", DOMAIN, "spbench", "new")
        self.note = ""

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        run([self.bin, "init", self.dir, "--hostname", HOST, "--domain", DOMAIN, "--listen", "127.0.0.1",
             "--smtp-port", str(self.port), "--submission-port", str(free_port()),
             "--submissions-port", str(free_port())])
        conf = os.path.join(self.dir, "sealpost.conf")
        subprocess.run([self.bin, "user", "-c", conf, "add", RCPT], input="bench-password\n", text=True,
                       check=True, stdout=subprocess.DEVNULL)
        text = open(conf).read()
        text = "\n".join(f"tls cert {self.tls}/cert.pem key {self.tls}/key.pem" if ln.startswith("tls cert ")
                         else ln for ln in text.splitlines()) + "\n"
        if self.extra:
            probe = conf + ".probe"
            with open(probe, "w") as f:
                f.write(text + open(self.extra).read())
            ok = subprocess.run([self.bin, "check", "-c", probe], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode == 0
            os.unlink(probe)
            if ok:
                text += open(self.extra).read()
                self.note = "limits block from run.sh added"
            else:
                self.note = "this build refused the limits block: default limits"
        with open(conf, "w") as f:
            f.write(text)
        self.conf = conf

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([self.bin, "serve", "-c", self.conf, "-f"], stdout=self.log, stderr=self.log)
        if not wait_banner(self.port, 20):
            raise RuntimeError("sealpost did not start; see " + self.log.name)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def backlog(self):
        q = os.path.join(self.dir, "spool", "queue")
        return count_dir(q)


class Postfix:
    name = "Postfix"

    def __init__(self, work, tls):
        self.work, self.tls = work, tls
        self.root = os.path.join(work, "root")
        self.dir = os.path.join(work, "postfix")
        self.conf = os.path.join(self.dir, "conf")
        self.queue = os.path.join(self.dir, "queue")
        self.port = free_port()
        self.newdir = os.path.join(self.dir, "mail", "spbench", "new")
        self.env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(self.root, "usr/lib/postfix"))
        self.pid = None
        self.note = ""

    def postfix(self, *args, check=True):
        return subprocess.run([os.path.join(self.root, "usr/sbin/postfix"), "-c", self.conf, *args],
                              env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=check)

    def setup(self):
        if os.path.exists(os.path.join(self.queue, "pid", "master.pid")):
            self.postfix("stop", check=False)  # a leftover of an interrupted run (its own control)
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in (self.conf, self.queue, os.path.join(self.dir, "data"), os.path.join(self.dir, "mail")):
            os.makedirs(d)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "mail"), 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.dir, "data"), pw.pw_uid, pw.pw_gid)
        make_maildir(os.path.join(self.dir, "mail", "spbench"), "spbench")
        lib = os.path.join(self.root, "usr/lib/postfix")
        share = os.path.join(self.root, "usr/share/postfix")
        for f in ("postfix-files", "dynamicmaps.cf"):
            src = os.path.join(self.root, "etc/postfix", f)
            if not os.path.exists(src):
                src = os.path.join(share, f)
            if os.path.exists(src):
                shutil.copy(src, self.conf)
        for d in ("postfix-files.d", "dynamicmaps.cf.d"):
            src = os.path.join(self.root, "etc/postfix", d)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(self.conf, d))
        main = f"""# written by bench/compare.py: a private Postfix for the side-by-side bench
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.dir}/data
daemon_directory = {lib}/sbin
shlib_directory = {lib}
command_directory = {self.root}/usr/sbin
meta_directory = {self.conf}
html_directory = no
manpage_directory = {self.root}/usr/share/man
sample_directory = no
readme_directory = no
mail_owner = postfix
setgid_group = postdrop
# the unpacked daemons find their private libraries (master passes only these)
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME LD_LIBRARY_PATH={lib}
maillog_file = {self.dir}/maillog
maillog_file_prefixes = {self.dir}
myhostname = {HOST}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination = {DOMAIN}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
# no DNS at all, and nothing routes outward
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
default_transport = error:the bench sends nothing outward
relay_transport = error:the bench sends nothing outward
# local(8) into a Maildir: mail_spool_directory ending in / means Maildir
alias_maps =
alias_database =
local_recipient_maps = unix:passwd.byname
mail_spool_directory = {self.dir}/mail/
home_mailbox =
mailbox_command =
biff = no
# STARTTLS with the same certificate as the other two
smtpd_tls_security_level = may
smtpd_tls_cert_file = {self.tls}/cert.pem
smtpd_tls_key_file = {self.tls}/key.pem
smtpd_tls_loglevel = 0
# stated, not tuned: Postfix's defaults
in_flow_delay = 1s
default_process_limit = 100
"""
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main)
        master = f"""# written by bench/compare.py (Debian's master.cf.dist services, chroot off)
127.0.0.1:{self.port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master)

    def start(self):
        r = self.postfix("start", check=False)
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        for _ in range(100):
            if os.path.exists(pidfile):
                break
            time.sleep(0.1)
        if r.returncode != 0 or not os.path.exists(pidfile):
            raise RuntimeError("postfix start failed: " + r.stdout[-2000:])
        self.pid = int(open(pidfile).read().split()[0])
        if not wait_banner(self.port, 20):
            raise RuntimeError("postfix gives no banner; see " + self.dir + "/maillog")

    def stop(self):
        if self.pid is None:
            return
        self.postfix("stop", check=False)
        for _ in range(100):
            if not os.path.exists(f"/proc/{self.pid}"):
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def backlog(self):
        n = 0
        for sub in ("incoming", "active", "deferred", "maildrop"):
            for _dp, _dn, files in os.walk(os.path.join(self.queue, sub)):
                n += len(files)
        return n


class OpenSMTPD:
    name = "OpenSMTPD"

    def __init__(self, work, tls):
        self.work, self.tls = work, tls
        self.root = os.path.join(work, "root")
        self.dir = os.path.join(work, "opensmtpd")
        self.port = free_port()
        self.newdir = os.path.join(self.dir, "mail", "spbench", "new")
        self.proc = None
        self.note = ""

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ("var-spool/smtpd", "var-lib/opensmtpd/empty", "run", "mail", "etc"):
            os.makedirs(os.path.join(self.dir, d))
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "mail"), 0o755)
        os.chmod(os.path.join(self.dir, "var-spool/smtpd"), 0o711)
        make_maildir(os.path.join(self.dir, "mail", "spbench"), "spbench")
        with open(os.path.join(self.dir, "etc/resolv.conf"), "w") as f:
            f.write("# private to the bench's OpenSMTPD: no DNS leaves the machine\nnameserver 127.0.0.1\n")
        os.chmod(os.path.join(self.dir, "etc/resolv.conf"), 0o644)
        shutil.copy(os.path.join(self.tls, "cert.pem"), os.path.join(self.dir, "etc/cert.pem"))
        shutil.copy(os.path.join(self.tls, "key.pem"), os.path.join(self.dir, "etc/key.pem"))
        os.chmod(os.path.join(self.dir, "etc/key.pem"), 0o600)
        self.conf = os.path.join(self.dir, "etc/smtpd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""# written by bench/compare.py: a private OpenSMTPD for the side-by-side bench
pki {HOST} cert "{self.dir}/etc/cert.pem"
pki {HOST} key "{self.dir}/etc/key.pem"
listen on 127.0.0.1 port {self.port} tls pki {HOST} hostname {HOST}
action "deliver" maildir "{self.dir}/mail/%{{user.username}}"
match from any for domain "{DOMAIN}" action "deliver"
""")
        os.chmod(self.conf, 0o644)

    def start(self):
        binds = [
            (os.path.join(self.dir, "var-spool"), "/var/spool"),
            (os.path.join(self.dir, "var-lib"), "/var/lib"),
            (os.path.join(self.root, "usr/libexec"), "/usr/libexec"),
            (os.path.join(self.dir, "run"), "/run"),
            (os.path.join(self.dir, "etc/resolv.conf"), "/etc/resolv.conf"),
        ]
        script = "set -e\n" + "".join(f"mount --bind '{a}' '{b}'\n" for a, b in binds) + \
            f"exec '{self.root}/usr/sbin/smtpd' -d -f '{self.conf}'\n"
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdout=self.log, stderr=self.log)
        if not wait_banner(self.port, 20):
            raise RuntimeError("smtpd did not start; see " + self.log.name)
        self.pid = self.proc.pid  # unshare and sh exec: this is smtpd's parent process

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def backlog(self):
        n = 0
        for sub in ("queue", "incoming"):
            for _dp, _dn, files in os.walk(os.path.join(self.dir, "var-spool/smtpd", sub)):
                n += len(files)
        return n


# ---------------------------------------------------------------- loads

class Probe(threading.Thread):
    """One extra plaintext session: a 1-recipient message every 50 ms, timing
    end-of-DATA (the final '.') to the 250 reply."""

    def __init__(self, port, size):
        super().__init__(daemon=True)
        self.port = port
        line = b"x" * 70 + b"\r\n"
        self.body = b"Subject: probe\r\n\r\n" + line * max(1, size // len(line))
        self.lat, self.errors, self.stop_ev = [], 0, threading.Event()

    def one(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = s.makefile("rb")
            reply(f)
            s.sendall(b"EHLO probe.test\r\n")
            reply(f)
            s.sendall(b"MAIL FROM:<probe@load.test>\r\n")
            reply(f)
            s.sendall(b"RCPT TO:<%s>\r\n" % RCPT.encode())
            reply(f)
            s.sendall(b"DATA\r\n")
            if reply(f)[0] != 354:
                self.errors += 1
                return
            s.sendall(self.body)
            t0 = time.monotonic()
            s.sendall(b".\r\n")
            code = reply(f)[0]
            dt = time.monotonic() - t0
            if code == 250:
                self.lat.append(dt)
            else:
                self.errors += 1
            s.sendall(b"QUIT\r\n")
            try:
                reply(f)
            except (OSError, EOFError):
                pass
            f.close()

    def run(self):
        n = 0
        while not self.stop_ev.is_set() and n < 100000:
            n += 1
            try:
                self.one()
            except (OSError, EOFError):
                self.errors += 1
            self.stop_ev.wait(0.05)

    def stop(self):
        self.stop_ev.set()
        self.join(60)


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        self.root = os.path.join(self.work, "root")
        self.smtp_source = os.path.join(self.root, "usr/sbin/smtp-source")
        self.pf_env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(self.root, "usr/lib/postfix"))
        self.rate = {}  # (server, load) -> msg/s of the calibration run
        self.failed = {}  # (server, load) -> why it is n/a
        self.accepted, self.delivered = {}, {}

    def plain_load(self, srv, sessions, size, count, limit):
        """smtp-source, one connection per message; returns (accepted, errors, detail)."""
        cmd = [self.smtp_source, "-c", "-s", str(sessions), "-m", str(count), "-l", str(size),
               "-f", "load@load.test", "-t", RCPT, "-M", "load.test", f"127.0.0.1:{srv.port}"]
        try:
            r = subprocess.run(cmd, env=self.pf_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=limit)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, err, rc = e.stdout or b"", e.stderr or b"", "timeout"
        counts = [int(x) for x in out.replace(b"\r", b"\n").split() if x.isdigit()]
        done = max(counts) if counts else 0
        detail = "" if rc == 0 else f"smtp-source exit {rc}: {err.decode(errors='replace').strip()[-200:]}"
        return done, (count - done), detail, None

    def tls_load(self, srv, sessions, size, count, limit):
                # bench/tls_load.c (built by run.sh): one process, an epoll loop per CPU. The
        # Python client (smtp_load.py --starttls) spent more CPU per message than
        # the servers, so on 2 cores it, not the servers, set the pace.
        cmds = [[TLS_LOAD, "127.0.0.1", str(srv.port), "--sessions", str(sessions), "--messages", str(count),
                 "--size", str(size), "--rcpt", RCPT, "--max-seconds", str(limit), "--timeout", "30"]]
        ps = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
        lat, done, errs, kinds = [], 0, 0, []
        for p in ps:
            try:
                out, err = p.communicate(timeout=limit + 40)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            try:
                j = json.loads(out.decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                errs += 1
                kinds.append(err.decode(errors="replace").strip()[-200:])
                continue
            lat += j["latencies"]
            done += j["messages"]
            errs += j["errors"]
            kinds += j["error_kinds"]
        detail = "; ".join(sorted(set(kinds)))[:300]
        return done, errs, detail, lat

    def one_run(self, srv, load, count, limit):
        kind, sessions, size = load
        d0 = count_dir(srv.newdir)
        c0 = cpu_seconds(srv.pid)
        sampler = Sampler(srv.pid)
        sampler.start()
        t0 = time.monotonic()
        probe = None
        if kind == "plain":
            probe = Probe(srv.port, size)
            probe.start()
            done, errs, detail, lat = self.plain_load(srv, sessions, size, count, limit)
            probe.stop()
            lat = probe.lat
            done += len(probe.lat)
            errs += probe.errors
        else:
            done, errs, detail, lat = self.tls_load(srv, sessions, size, count, limit)
        t_load = time.monotonic() - t0
        # accepted and delivered: wait (bounded) until every accepted message is in new/
        end = time.monotonic() + self.args.drain_seconds
        while count_dir(srv.newdir) - d0 < done and time.monotonic() < end:
            time.sleep(0.01)
        t1 = time.monotonic()
        delivered = count_dir(srv.newdir) - d0
        c1 = cpu_seconds(srv.pid)
        peak, peak_pss = sampler.stop()
        dt = t1 - t0
        key = srv.name
        self.accepted[key] = self.accepted.get(key, 0) + done
        return {
            "server": srv.name, "kind": kind, "sessions": sessions, "size": size, "count": count,
            "accepted": done, "delivered": delivered, "errors": errs, "detail": detail,
            "load_seconds": round(t_load, 3), "seconds": round(dt, 3),
            "msg_per_s": done / dt if done else 0.0,
            "cpu_s_per_1k": (c1 - c0) / done * 1000 if done else None,
            "peak_rss_mib": peak / 1024, "peak_pss_mib": peak_pss / 1024,
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "latency_samples": len(lat or []),
        }

    def loads(self):
        a = self.args
        if a.quick:
            plain = [("plain", s, z) for z in (1024,) for s in (1, 50)]
            tls = [("tls", s, 1024) for s in (10, 50)]
        else:
            plain = [("plain", s, z) for z in (1024, 20480) for s in (1, 10, 50, 200)]
            tls = [("tls", s, 1024) for s in (10, 50)]
        picked = plain + tls
        if a.loads:  # development: e.g. "plain:50,tls:50"
            want = {tuple(x.split(":")) for x in a.loads.split(",")}
            picked = [ld for ld in picked if (ld[0], str(ld[1])) in want]
        return picked

    def count_for(self, srv, load, calibrate):
        sessions = load[1]
        if calibrate:
            return max(sessions, 50)
        rate = self.rate.get((srv.name, load), 10)
        return int(min(self.args.max_messages, max(sessions, rate * self.args.target_seconds)))

    def go(self, servers):
        a = self.args
        results = []
        loads = self.loads()
        rounds = 1 if a.quick else a.rounds
        t_start = time.monotonic()
        for rnd in range(rounds + 1):  # round 0 calibrates (and warms up); not reported
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for load in loads:
                for srv in order:
                    if (srv.name, load) in self.failed:
                        continue
                    count = self.count_for(srv, load, rnd == 0)
                    limit = a.run_seconds
                    r = self.one_run(srv, load, count, limit)
                    r["round"] = rnd
                    log(f"round {rnd} {srv.name:9} {load[0]:5} s={load[1]:<3} {load[2] // 1024:>2}KB "
                        f"n={count:<5} acc={r['accepted']:<5} del={r['delivered']:<5} err={r['errors']:<3} "
                        f"{r['msg_per_s']:8.1f} msg/s cpu/1k={r['cpu_s_per_1k'] or 0:6.2f}s "
                        f"rss={r['peak_rss_mib']:6.1f}MiB pss={r['peak_pss_mib']:6.1f}MiB p50={r['p50_ms'] or 0:7.1f} p99={r['p99_ms'] or 0:7.1f}ms"
                        + (f"  [{r['detail']}]" if r["detail"] else ""))
                    if rnd == 0:
                        if r["accepted"] == 0 or (load[0] == "tls" and r["accepted"] < count / 2):
                            self.failed[(srv.name, load)] = (
                                f"fails: {r['detail'] or 'no message accepted'}"[:200])
                        self.rate[(srv.name, load)] = r["msg_per_s"]
                    else:
                        results.append(r)
            log(f"# round {rnd} done at {time.monotonic() - t_start:.0f} s")
        return results

    def idle(self, srv):
        args = types.SimpleNamespace(connections=self.args.idle, per_source=100,
                                     window=4 if srv.name == "OpenSMTPD" else 100,
                                     max_seconds=self.args.idle_seconds, port=srv.port)
        conn_flood.raise_nofile(self.args.idle + 1000) if hasattr(conn_flood, "raise_nofile") else None
        time.sleep(1)
        before = conn_flood.mem(srv.pid)
        sel, held, stats, _codes, _errs = conn_flood.flood(args)
        time.sleep(1)
        after = conn_flood.mem(srv.pid)
        n = len(held)
        for c in held:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        sel.close()
        time.sleep(1)
        out = {"server": srv.name, "wanted": self.args.idle, "held": n,
               "timeouts": stats["timeouts"], "refused": stats["refused_421"] + stats["refused_554"]
               + stats["refused_other"] + stats["reset"] + stats["connect_errors"],
               "rss_growth_kib": after[0] - before[0],
               "per_conn_rss_kib": (after[0] - before[0]) / n if n else None,
               "per_conn_pss_kib": (after[1] - before[1]) / n if n and after[1] is not None else None,
               "open_seconds": stats["open_seconds"]}
        log(f"idle {srv.name}: held {n}/{self.args.idle} timeouts={out['timeouts']} refused={out['refused']} "
            f"rss growth {out['rss_growth_kib']} KiB = {out['per_conn_rss_kib'] or 0:.1f} KiB/conn "
            f"(Pss {out['per_conn_pss_kib'] or 0:.1f})")
        return out


# ---------------------------------------------------------------- report

def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) // 1024} MiB"
    except (OSError, ValueError):
        pass
    osr = "?"
    try:
        osr = [ln.split("=", 1)[1].strip().strip('"') for ln in open("/etc/os-release")
               if ln.startswith("PRETTY_NAME=")][0]
    except (OSError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, {osr}, Linux {platform.release()}"


def fmt(v, nd=1):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def ratio(a, b):
    if a is None or b is None or isinstance(a, str) or isinstance(b, str) or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def report(bench, results, idle, servers, versions, path, started, elapsed):
    names = [s.name for s in servers if s.name != "sealpost"]
    loads = bench.loads()
    metrics = [("msg/s (accepted+delivered)", "msg_per_s", 1), ("CPU s per 1,000 msgs", "cpu_s_per_1k", 2),
               ("peak RSS (sum of VmRSS), MiB", "peak_rss_mib", 1), ("peak Pss, MiB", "peak_pss_mib", 1), ("p50 end-of-DATA→250, ms", "p50_ms", 1),
               ("p99 end-of-DATA→250, ms", "p99_ms", 1)]
    notes = {}

    def median_of(server, load, key):
        if (server, load) in bench.failed:
            n = notes.setdefault(bench.failed[(server, load)], len(notes) + 1)
            return f"n/a [{n}]"
        vals = [r[key] for r in results if r["server"] == server and (r["kind"], r["sessions"], r["size"]) == load
                and r[key] is not None]
        return statistics.median(vals) if vals else None

    lines = []
    lines.append("# Side-by-side benchmark: sealpost, Postfix, OpenSMTPD\n")
    lines.append(f"Generated by `make bench` (bench/run.sh → bench/compare.py) on {started} "
                 f"in {elapsed / 60:.1f} minutes; {'QUICK mode (1 round, fewer loads)' if bench.args.quick else f'{bench.args.rounds} rounds'}, "
                 "figures are medians of the rounds.\n")
    lines.append(f"- Machine: {machine()}")
    la = lambda t: "/".join(f"{x:.1f}" for x in t)
    lines.append(f"- Load average (1/5/15 min) when the load rounds began: {la(bench.load_start)}, when they ended: "
                 f"{la(bench.load_end)} (the machine is shared: the interleaving and ratios matter, not the absolutes)")
    fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", bench.work], stdout=subprocess.PIPE,
                        text=True).stdout.strip()
    lines.append(f"- Spool and Maildirs on: {fs or '?'} (bench/work)")
    for k, v in versions.items():
        lines.append(f"- {k}: {v}")
    lines.append("- Every server: one private config, its own 127.0.0.1 port, mail for bench.test delivered "
                 "to spbench's Maildir, no DNS. Durability (bench/README.md): before 250 sealpost fsyncs every Maildir "
                 "file of a local-only message (delivery before the reply; else its queue file), Postfix its "
                 "queue file, and both fsync the Maildir file before a queue file is removed; OpenSMTPD 6.8 does "
                 "**not** fsync its queue before 250 (no setting makes it; strace and its queue_fs.c show "
                 "envelope_create without fsync) — its figures are for a weaker guarantee.")
    lines.append("- Plaintext: Postfix's `smtp-source` (one connection per message) plus one latency probe session "
                 "(a message every 50 ms; its messages count in msg/s and CPU). STARTTLS: bench/tls_load.c "
                 "(GnuTLS, one process, an epoll loop per CPU driving the sessions, full TLS 1.3 handshake per message, same ECDSA P-256 "
                 "certificate for all three). msg/s = accepted messages / time until the last is in the Maildir.")
    lines.append("- CPU: utime+stime+cutime+cstime summed over the server's process tree (/proc/PID/stat) "
                 "before and after each run. Peak RSS: VmRSS summed over the tree (counts shared pages once per process); peak Pss: from smaps_rollup; both sampled every 200 ms.\n")
    hdr = "| load | sessions | metric | sealpost | " + " | ".join(names) + " | " + \
        " | ".join(f"sealpost/{n}" for n in names) + " |"
    lines.append(hdr)
    lines.append("|" + "---|" * (3 + 1 + 2 * len(names)))
    for load in loads:
        kind, sessions, size = load
        lname = f"{'plain' if kind == 'plain' else 'STARTTLS'} {size // 1024} KB"
        for title, key, nd in metrics:
            sp = median_of("sealpost", load, key)
            others = [median_of(n, load, key) for n in names]
            lines.append(f"| {lname} | {sessions} | {title} | {fmt(sp, nd)} | "
                         + " | ".join(fmt(o, nd) for o in others) + " | "
                         + " | ".join(ratio(sp, o) for o in others) + " |")
    lines.append("")
    for why, n in sorted(notes.items(), key=lambda x: x[1]):
        lines.append(f"[{n}] {why}  ")
    lines.append("")
    lines.append("## Idle connections\n")
    lines.append(f"{bench.args.idle} plaintext connections opened (from 127.0.0.2, .3, … 100 each), banner read, "
                 "then held; growth of the server tree's VmRSS (and Pss) divided by the connections held.\n")
    lines.append("| server | held | not held (timeout/refused) | RSS growth KiB | KiB per connection (RSS) | KiB per connection (Pss) |")
    lines.append("|---|---|---|---|---|---|")
    for i in idle:
        lines.append(f"| {i['server']} | {i['held']} | {i['timeouts']}/{i['refused']} | {i['rss_growth_kib']} | "
                     f"{fmt(i['per_conn_rss_kib'])} | {fmt(i['per_conn_pss_kib'])} |")
    lines.append("")
    lines.append("## Accepted vs delivered (all runs, calibration included)\n")
    lines.append("| server | accepted (250 seen by the clients) | delivered (files in Maildir new/) | equal |")
    lines.append("|---|---|---|---|")
    for s in servers:
        acc, dl = bench.final_counts[s.name]
        lines.append(f"| {s.name} | {acc} | {dl} | {'yes' if acc == dl else 'NO'} |")
    lines.append("")
    lines.append("Raw per-run figures: bench/work/compare.json (not committed). Targets (issue 8): sealpost ≥ 4× "
                 "Postfix msg/s at 50 sessions, plaintext and STARTTLS; idle connection < 16 KiB.")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def versions_of(work):
    out = {}
    for pkg in ("postfix", "opensmtpd"):
        debs = [d for d in os.listdir(os.path.join(work, "debs")) if d.startswith(pkg + "_")]
        out[pkg] = debs[0].split("_")[1] if debs else "?"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--sealpost", required=True)
    ap.add_argument("--sealpost-extra", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--target-seconds", type=float, default=5.0)
    ap.add_argument("--run-seconds", type=float, default=45.0, help="bound on one load run")
    ap.add_argument("--drain-seconds", type=float, default=60.0, help="bound on waiting for delivery")
    ap.add_argument("--max-messages", type=int, default=20000)
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--only", default="", help="comma-separated server names (development)")
    ap.add_argument("--loads", default="", help="comma-separated KIND:SESSIONS, e.g. plain:50,tls:50 (development)")
    args = ap.parse_args()
    if args.quick:
        args.target_seconds = min(args.target_seconds, 2.0)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    work = os.path.abspath(args.work)
    tls = os.path.join(work, "tls")
    os.makedirs(tls, exist_ok=True)
    if not os.path.exists(os.path.join(tls, "key.pem")):
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", f"/CN={HOST}", "-days", "3650", "-keyout", os.path.join(tls, "key.pem"),
             "-out", os.path.join(tls, "cert.pem")])
    os.chmod(tls, 0o755)
    os.chmod(os.path.join(tls, "key.pem"), 0o600)
    servers = [Sealpost(work, os.path.abspath(args.sealpost), args.sealpost_extra, tls), Postfix(work, tls),
               OpenSMTPD(work, tls)]
    if args.only:
        servers = [s for s in servers if s.name in args.only.split(",")]
    bench = Bench(args)
    started_servers = []
    try:
        for s in servers:
            s.setup()
            s.start()
            started_servers.append(s)
            log(f"== {s.name} on 127.0.0.1:{s.port}, root pid {s.pid} {('(' + s.note + ')') if s.note else ''}")
        idle = [bench.idle(s) for s in servers]
        # fresh processes for the loads: Postfix would otherwise carry the
        # 100 smtpd processes the idle phase spawned into the RSS figures
        for s in servers:
            s.stop()
        started_servers = []
        for s in servers:
            s.start()
            started_servers.append(s)
        bench.load_start = os.getloadavg()
        results = bench.go(servers)
        bench.load_end = os.getloadavg()
        # every accepted message must be delivered: final count after a bounded drain
        end = time.monotonic() + args.drain_seconds
        while time.monotonic() < end and any(s.backlog() for s in servers):
            time.sleep(0.2)
        time.sleep(1)
        bench.final_counts = {}
        for s in servers:
            acc = bench.accepted.get(s.name, 0)
            dl = count_dir(s.newdir)
            bench.final_counts[s.name] = (acc, dl)
            log(f"== {s.name}: accepted {acc}, delivered {dl}, left in queue {s.backlog()}")
    finally:
        for s in started_servers:
            s.stop()
    with open(os.path.join(work, "compare.json"), "w") as f:
        json.dump({"results": results, "idle": idle, "failed": {f"{k[0]} {k[1]}": v for k, v in bench.failed.items()},
                   "rates": {f"{k[0]} {k[1]}": v for k, v in bench.rate.items()}}, f, indent=1)
    versions = versions_of(work)
    vers = {"sealpost": subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                                       text=True).stdout.strip() or "?",
            "Postfix (Debian package, unpacked)": versions["postfix"],
            "OpenSMTPD (Debian package, unpacked)": versions["opensmtpd"]}
    report(bench, results, idle, servers, vers, args.results, started, time.monotonic() - t0)
    log(f"== wrote {args.results}")
    print(open(args.results).read())


if __name__ == "__main__":
    main()
