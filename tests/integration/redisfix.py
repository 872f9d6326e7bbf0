"""A private redis-server for tests of the shared counter store.

RedisServer starts Debian's /usr/bin/redis-server on 127.0.0.1 with its own
port and a private temporary directory (no persistence, no daemonizing),
waits until it answers PING, and stop() ends it by its own pid, never by
name. resp_command() is a minimal RESP client (argv-style, like hiredis's
redisCommandArgv) so tests can inspect keys without python3-redis.

    r = RedisServer()            # started; r.port, r.pid
    resp_command(r.port, "GET", "sealpost:authfail-ip:127.0.0.1:12345")
    r.stop()
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import sphelpers as h

REDIS_BIN = "/usr/bin/redis-server"
RESP_MAX = 1 << 20  # longest reply read


class RespError(Exception):
    """An error reply (-ERR ...) from Redis."""


def available():
    return os.access(REDIS_BIN, os.X_OK)


def _read_line(f):
    line = f.readline(RESP_MAX)
    if not line.endswith(b"\r\n"):
        raise ConnectionError("truncated RESP reply: %r" % line)
    return line[:-2]


def _read_reply(f):
    line = _read_line(f)
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        if n > RESP_MAX:
            raise ConnectionError("RESP bulk string too long: %d" % n)
        data = f.read(n + 2)
        if len(data) != n + 2 or data[-2:] != b"\r\n":
            raise ConnectionError("truncated RESP bulk string")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise ConnectionError("bad RESP reply: %r" % line)


def resp_encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def resp_command(port, *args, host="127.0.0.1", timeout=5):
    """Send one command (each argument a str, bytes or int) and return its
    reply: str (status), int, bytes (bulk), None (nil) or a list; an error
    reply raises RespError."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(resp_encode(*args))
        with s.makefile("rb") as f:
            return _read_reply(f)


class RedisServer:
    """redis-server on 127.0.0.1:port (a free one by default), started now."""

    def __init__(self, port=None, start=True):
        self.port = port or h.free_port()
        self.dir = tempfile.mkdtemp(prefix="sealpost-redis-")
        self.proc = None
        if start:
            self.start()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10):
        if self.proc is not None:
            raise RuntimeError("redis-server already running (pid %d)" % self.proc.pid)
        if not os.path.isdir(self.dir):  # after stop(remove=True): a fresh directory
            self.dir = tempfile.mkdtemp(prefix="sealpost-redis-")
        args = [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout * h.SLOW
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("redis-server exited at start:\n" + self.log_text())
            try:
                if resp_command(self.port, "PING", timeout=1) == "PONG":
                    return self
            except (OSError, ConnectionError, RespError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server on port %d did not answer PING" % self.port)

    def command(self, *args):
        return resp_command(self.port, *args)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, remove=True, timeout=10):
        """Stop it by its own pid (SIGTERM, then SIGKILL) and wait for it."""
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
