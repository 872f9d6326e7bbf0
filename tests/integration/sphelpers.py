"""Helpers shared by the sealpost integration tests: a server controller, a
raw SMTP client that sees every reply byte, and a parser for delivered
Maildir files. Nothing here hard-codes a result: every check reads what the
real server did."""
import email.utils
import errno
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("SEALPOST_BIN") or os.path.join(REPO, "build", "sealpost")
SANITIZED = os.environ.get("SEALPOST_SANITIZED") == "1"
# Timeouts are multiplied by this under ASan/UBSan.
SLOW = 4 if SANITIZED else 1

HOSTNAME = "mx.example.test"
DOMAIN = "example.test"

# (address, password or None for receive-only, [extra addresses])
DEFAULT_USERS = [
    ("bob@example.test", "bob-secret", ["bob.extra@example.test", "robert@example.test"]),
    ("alice@example.test", "alice-secret", []),
    ("carol@example.test", None, []),
]

QUEUED_RE = re.compile(r"^Ok: queued as ([0-9a-f]{16})$")
SPARE_RE = re.compile(r"^s\d+\.\d+$")  # incoming/sW.K: an emptied file kept for reuse
ENH_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(n, avoid=()):
    """n distinct free ports (bound at once, so they differ), none in avoid."""
    socks, ports = [], []
    try:
        while len(ports) < n and len(socks) < n + 20:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p not in avoid and p not in ports:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def init_port_args():
    """--smtp-port/--submission-port/--submissions-port with free ports."""
    a, b, c = free_ports(3)
    return ["--smtp-port", str(a), "--submission-port", str(b), "--submissions-port", str(c)]


_shared_dns = None


def shared_dns():
    """The test DNS server every test server uses by default (started on
    first use, stopped by conftest at the end of the session). It knows no
    names until a test adds records (shared_dns().add(...)); tests that add
    records remove them again."""
    global _shared_dns
    if _shared_dns is None:
        from dnsserver import TestDNS
        _shared_dns = TestDNS().start()
    return _shared_dns


def stop_shared_dns():
    global _shared_dns
    if _shared_dns is not None:
        _shared_dns.stop()
        _shared_dns = None


def wait_until(pred, timeout, interval=0.05):
    """Poll pred() until it returns a true value or timeout seconds pass
    (bounded in time and count). Returns the last value."""
    deadline = time.monotonic() + timeout
    n = 0
    val = pred()
    while not val and time.monotonic() < deadline and n < 100000:
        time.sleep(interval)
        n += 1
        val = pred()
    return val


# --------------------------------------------------------------------------
# Server controller


class ServerError(Exception):
    pass


class Server:
    def __init__(self, hostname=HOSTNAME, domain=DOMAIN, port=None, base=None, addr="127.0.0.1"):
        if base is None:
            base = tempfile.mkdtemp(dir="/tmp", prefix="sealpost-test-")
            os.chmod(base, 0o755)
        self.dir = base
        self.addr = addr  # the listeners' address
        self.hostname = hostname
        self.domain = domain
        self.port = port or free_port()
        # init also writes submission (587) and submissions (465) listeners:
        # every server gets its own free ports for them.
        self.sub_port, self.subs_port = free_ports(2, avoid={self.port})
        self.conf = os.path.join(base, "sealpost.conf")
        self.log_path = os.path.join(base, "server.log")
        self.spool = os.path.join(base, "spool")
        self.socket_path = os.path.join(base, "run", "sealpost.sock")
        self.proc = None
        self.starts = 0

    # ---- CLI ----
    def cli(self, *args, input=None, timeout=None, check=False, conf=True):
        """Run `sealpost ARGS` (with -c CONF after the subcommand when conf)."""
        argv = [BIN] + list(args[:1])
        if conf:
            argv += ["-c", self.conf]
        argv += list(args[1:])
        r = subprocess.run(argv, input=input, capture_output=True,
                           timeout=timeout or 60 * SLOW)
        if check and r.returncode != 0:
            raise ServerError("%s failed (%d): %s %s" % (" ".join(argv), r.returncode,
                                                          r.stdout.decode(errors="replace"),
                                                          r.stderr.decode(errors="replace")))
        return r

    def init(self, extra_args=()):
        argv = [BIN, "init", self.dir, "--hostname", self.hostname, "--domain", self.domain,
                "--listen", self.addr, "--smtp-port", str(self.port),
                "--submission-port", str(self.sub_port),
                "--submissions-port", str(self.subs_port)] + list(extra_args)
        r = subprocess.run(argv, capture_output=True, timeout=60 * SLOW)
        if r.returncode != 0:
            raise ServerError("sealpost init failed (%d): %s" % (
                r.returncode, r.stderr.decode(errors="replace")))
        self.set_limits({})
        # Never the machine's resolver (it is not on loopback): every test
        # server asks the shared local test DNS unless the test says otherwise.
        self.set_conf("resolver", shared_dns().addr)
        # The real root key cannot validate the test zones (they are not
        # delegated from the root): DNSSEC off unless a test brings its own.
        self.set_conf("dnssec-trust-anchor", "off")
        return r

    # The limits the test servers run with unless a test says otherwise: the
    # pregreet delay would cost every server start 3 s, and tests that poll
    # open far more than 60 connections a minute from 127.0.0.1
    # (test_limits.py turns both back on where it tests them).
    TEST_LIMITS = {"pregreet": "off", "connection-rate": "off"}

    def set_limits(self, limits):
        """Write a `limits { }` block (replacing the one written before) with
        the test defaults overridden by limits ({key: value or None to drop})."""
        merged = dict(self.TEST_LIMITS)
        merged.update(limits or {})
        lines = self.read_conf().splitlines()
        if "# test limits" in lines:
            i = lines.index("# test limits")
            del lines[i:lines.index("}", i) + 1]
        lines += ["# test limits", "limits {"]
        lines += ["    %s %s" % (k, v) for k, v in merged.items() if v is not None]
        lines += ["}"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def read_conf(self):
        with open(self.conf) as f:
            return f.read()

    def set_conf(self, name, value):
        """Set directive name to value: replace an existing line or append one."""
        lines = self.read_conf().splitlines()
        new = "%s %s" % (name, value)
        for i, line in enumerate(lines):
            toks = line.split()
            if toks and toks[0] == name:
                lines[i] = new
                break
        else:
            lines.append(new)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def add_user(self, addr, password=None, extra=()):
        args = ["user", "add", addr]
        for e in extra:
            args += ["--address", e]
        if password is None:
            args.append("--no-password")
            inp = b""
        else:
            inp = password.encode() + b"\n"
        return self.cli(*args, input=inp, check=True)

    # ---- process ----
    def start(self, timeout=None, preexec_fn=None):
        timeout = timeout or 15 * SLOW
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve", "-c", self.conf, "-f"], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True,
                                     preexec_fn=preexec_fn)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError("server exited with %s during start-up:\n%s" % (
                    self.proc.returncode, self.log_tail(30)))
            try:
                with socket.create_connection((self.addr, self.port), timeout=2 * SLOW) as s:
                    s.settimeout(5 * SLOW)
                    data = b""
                    while b"\r\n" not in data and len(data) < 1024:
                        chunk = s.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"220 "):
                        s.sendall(b"QUIT\r\n")
                        self._drain_to_close(s)
                        return self
                    last = data
            except OSError as e:
                last = e
            time.sleep(0.05)
        self.kill()
        raise ServerError("server did not greet within %ss (last: %r):\n%s" % (
            timeout, last, self.log_tail(30)))

    @staticmethod
    def _drain_to_close(s):
        """Read the 221 and wait for the server to close: by then the probe's
        connection slot has been given back, so a test that counts
        connections from this address starts from zero."""
        try:
            while s.recv(1024):
                pass
        except OSError:
            pass

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None):
        """SIGTERM, wait, then SIGKILL to the server's own process group.
        Returns the exit status (None when the server was not running)."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout or 10 * SLOW)
            except subprocess.TimeoutExpired:
                pass
        self._killpg(proc.pid)
        try:
            proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            pass
        return proc.returncode

    def kill(self):
        """SIGKILL the whole process group of this server (crash simulation)."""
        if self.proc is None:
            return None
        self._killpg(self.proc.pid)
        try:
            self.proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            pass
        # Children die by PDEATHSIG/the group kill; wait for the group to empty.
        wait_until(lambda: not pgroup_members(self.proc.pid), 10 * SLOW)
        return self.proc.returncode

    @staticmethod
    def _killpg(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass

    # ---- logs ----
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_lines(self):
        return [l for l in self.log_text().splitlines()
                if "runtime error" in l or "AddressSanitizer" in l or "LeakSanitizer" in l]

    # ---- mail ----
    def maildir(self, local, domain=None):
        return os.path.join(self.dir, "mail", domain or self.domain, local)

    def files(self, local, domain=None, sub="new"):
        d = os.path.join(self.maildir(local, domain), sub)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(d, n) for n in names)

    def wait_files(self, local, n, timeout=None, domain=None):
        """Wait (bounded) until new/ of local holds at least n files; return them."""
        wait_until(lambda: len(self.files(local, domain)) >= n, timeout or 15 * SLOW)
        return self.files(local, domain)

    def read_mail(self, local, n=1, timeout=None, domain=None):
        """Wait for exactly n files and return them parsed, in delivery order."""
        paths = self.wait_files(local, n, timeout, domain)
        assert len(paths) == n, "expected %d message(s) for %s, found %d: %s\n%s" % (
            n, local, len(paths), paths, self.log_tail(20))
        return [parse_delivered(read_bytes(p)) for p in paths]

    def queue_files(self):
        """Messages in the spool (not the spare files kept for reuse)."""
        out = []
        for sub in ("queue", "incoming"):
            d = os.path.join(self.spool, sub)
            try:
                out += [os.path.join(sub, n) for n in os.listdir(d) if not SPARE_RE.match(n)]
            except FileNotFoundError:
                pass
        return out

    def spare_files(self):
        d = os.path.join(self.spool, "incoming")
        return sorted(n for n in os.listdir(d) if SPARE_RE.match(n))

    def wait_queue_empty(self, timeout=None):
        return wait_until(lambda: not self.queue_files(), timeout or 15 * SLOW)

    def all_delivered(self):
        """Every file under mail/*/*/new."""
        out = []
        root = os.path.join(self.dir, "mail")
        for dom in os.listdir(root) if os.path.isdir(root) else []:
            dpath = os.path.join(root, dom)
            if not os.path.isdir(dpath):
                continue
            for user in os.listdir(dpath):
                new = os.path.join(dpath, user, "new")
                if os.path.isdir(new):
                    out += [os.path.join(new, n) for n in os.listdir(new)]
        return sorted(out)

    def client(self, **kw):
        kw.setdefault("host", self.addr)
        return Client(self.port, **kw)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------
# /proc helpers


def proc_stat(pid):
    """(ppid, pgrp) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("latin-1")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[0]=state, rest[1]=ppid, rest[2]=pgrp
    if rest[0] == "Z":
        return None
    return int(rest[1]), int(rest[2])


def all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def pgroup_members(pgid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == pgid:
            out.append(pid)
    return out


def children_of(pid):
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st and st[0] == pid:
            out.append(p)
    return sorted(out)


def proc_uids(pid):
    """(real, effective, saved, fs) uids of pid."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return tuple(int(x) for x in line.split()[1:5])
    raise ValueError("no Uid line")


def alive(pid):
    return proc_stat(pid) is not None


# --------------------------------------------------------------------------
# Raw SMTP client


class ConnectionClosed(Exception):
    pass


class Reply:
    def __init__(self, lines):
        self.raw = lines  # list of bytes, without CRLF
        self.lines = [l.decode("utf-8", "replace") for l in lines]
        self.code = int(self.lines[-1][:3])
        text = self.lines[-1][4:]
        first = text.split(" ", 1)[0] if text else ""
        self.enh = first if ENH_RE.match(first) else None
        self.text = text[len(first) + 1:] if self.enh else text

    @property
    def texts(self):
        return [l[4:] for l in self.lines]

    def __repr__(self):
        return "Reply(%r)" % ("\\r\\n".join(self.lines))

    def __str__(self):
        return "\n".join(self.lines)


def check_reply(rep, expect):
    """expect "250" or "250 2.1.0": the code and, when given, the enhanced code."""
    parts = expect.split()
    assert rep.code == int(parts[0]), "expected %s, got %r" % (expect, rep)
    if len(parts) > 1:
        assert rep.enh == parts[1], "expected %s, got %r" % (expect, rep)
        # RFC 2034: every line of a multi-line reply carries the enhanced code.
        for l in rep.lines:
            assert l[4:].startswith(parts[1] + " ") or l[4:] == parts[1], \
                "line without enhanced code %s: %r" % (parts[1], rep)
    return rep


def tls_context(srv=None):
    """A client context that trusts the server's self-signed certificate
    (made by `sealpost init` in DIR/tls/cert.pem) and checks its name."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if srv is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(os.path.join(srv.dir, "tls", "cert.pem"))
    return ctx


class Client:
    def __init__(self, port, timeout=None, banner=True, tls=None, host="127.0.0.1", source=None):
        """tls: an ssl.SSLContext for implicit TLS (submissions); source: the
        loopback address to connect from (plays another client host)."""
        self.timeout = timeout or 15 * SLOW
        self.sock = socket.create_connection((host, port), timeout=self.timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.buf = b""
        self.banner = None
        if banner:
            self.banner = self.reply()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed("connection closed by server (unparsed %r)" % self.buf)
        self.buf += chunk

    def readline(self, timeout=None):
        n = 0
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000 or n > 10000:
                raise AssertionError("reply line too long or no CRLF: %r" % self.buf[:200])
            self._fill(timeout)
            n += 1
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout=None):
        """Read one (possibly multi-line) reply; checks the RFC 5321 framing."""
        lines = []
        for _ in range(1000):
            line = self.readline(timeout)
            assert re.match(rb"^[2-5]\d\d[ -]", line) or re.match(rb"^[2-5]\d\d$", line), \
                "malformed reply line %r" % line
            if lines:
                assert line[:3] == lines[0][:3], "code changed inside a reply: %r" % (lines + [line])
            lines.append(line)
            if len(line) == 3 or line[3:4] == b" ":
                return Reply(lines)
        raise AssertionError("endless multi-line reply")

    def cmd(self, line, expect=None):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")
        rep = self.reply()
        if expect:
            check_reply(rep, expect)
        return rep

    def starttls(self, ctx):
        """STARTTLS (must be answered 220) and the handshake. Fails when the
        server sent anything after its 220 in clear."""
        check_reply(self.cmd("STARTTLS"), "220 2.0.0")
        time.sleep(0.05)
        assert self.pending(0.1) == b"", "clear-text bytes after the STARTTLS 220"
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        return self.sock

    def ehlo(self, name="client.example.org"):
        return self.cmd("EHLO " + name, "250")

    def pending(self, wait=0.3):
        """Bytes the server sent that no reply() consumed, waiting up to wait s."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self._fill(left)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionClosed:
                break
        out, self.buf = self.buf, b""
        return out

    def closed_by_server(self, timeout=None):
        """True when the server closes the connection within timeout (any
        unread bytes are kept in self.buf)."""
        deadline = time.monotonic() + (timeout or 10 * SLOW)
        while time.monotonic() < deadline:
            try:
                self._fill(max(0.01, deadline - time.monotonic()))
            except ConnectionClosed:
                return True
            except (socket.timeout, TimeoutError):
                return False
            except OSError as e:
                if e.errno in (errno.ECONNRESET, errno.EPIPE):
                    return True
                raise
        return False

    # ---- whole transactions ----
    def mail_rcpt(self, sender, rcpts, mail_params=""):
        check_reply(self.cmd("MAIL FROM:<%s>%s" % (sender, mail_params)), "250 2.1.0")
        for r in rcpts:
            check_reply(self.cmd("RCPT TO:<%s>" % r), "250 2.1.5")

    def data(self, wire):
        """DATA + wire (already dot-stuffed, must end with CRLF.CRLF); returns the final reply."""
        check_reply(self.cmd("DATA"), "354")
        self.send(wire)
        return self.reply()

    def send_message(self, sender, rcpts, body_lines, mail_params=""):
        """Send a message given as lines (no CRLF); returns the queue id."""
        self.mail_rcpt(sender, rcpts, mail_params)
        rep = self.data(wire_from_lines(body_lines))
        return queued_id(rep)


def queued_id(rep):
    check_reply(rep, "250 2.0.0")
    m = QUEUED_RE.match(rep.text)
    assert m, "250 without 'Ok: queued as <16 hex>': %r" % rep
    return m.group(1)


def as_bytes(x):
    return x.encode("utf-8") if isinstance(x, str) else x


def wire_from_lines(lines):
    """Dot-stuff lines and frame them for DATA (ends with CRLF.CRLF)."""
    out = []
    for l in lines:
        l = as_bytes(l)
        if l.startswith(b"."):
            l = b"." + l
        out.append(l + b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)


def stored_from_lines(lines):
    """What the Maildir file should hold after the trace headers."""
    return b"".join(as_bytes(l) + b"\n" for l in lines)


# --------------------------------------------------------------------------
# Delivered Maildir files

DELIVERED_RE = re.compile(
    rb"\AReturn-Path: <(?P<sender>[^>\n]*)>\n"
    rb"Delivered-To: (?P<rcpt>[^\n]*)\n"
    # our Authentication-Results (RFC 8601), folded over several lines
    rb"(?P<authres>Authentication-Results: [^\n]*\n(?:[ \t][^\n]*\n)*)?"
    rb"Received: from (?P<helo>[^ \n]+) \((?P<client>[^)\n]*)\)\n"
    rb"(?:\t\(using (?P<tls>[^\n]*)\)\n)?"
    rb"\tby (?P<host>[^ \n]+) \(sealpost\) with (?P<proto>[A-Z0-9]+) id (?P<qid>[0-9a-f]{16})"
    rb"(?:\n\tfor <(?P<for_>[^>\n]*)>)?; (?P<date>[^\n]+)\n")


class Delivered:
    def __init__(self, data):
        m = DELIVERED_RE.match(data)
        assert m, "delivered file does not start with Return-Path/Delivered-To/Received: %r" % (
            data[:400],)
        self.raw = data
        for k in ("sender", "rcpt", "authres", "helo", "client", "tls", "host", "proto", "qid",
                  "for_", "date"):
            v = m.group(k)
            setattr(self, k, v.decode("utf-8") if v is not None else None)
        self.body = data[m.end():]
        d = email.utils.parsedate_to_datetime(self.date)
        assert d.tzinfo is not None, "Received date without zone: %r" % self.date
        skew = abs(time.time() - d.timestamp())
        assert skew < 600, "Received date %r is %ds off" % (self.date, skew)

    def __repr__(self):
        return "Delivered(%r)" % self.raw[:300]


def parse_delivered(data):
    return Delivered(data)
