"""A local MTA-STS policy host for the integration tests (run with Debian's
/usr/bin/python3): a throwaway test CA made with the openssl CLI, and an
HTTPS server (http.server + ssl) on a loopback address, port 443 (tests
run as root; RFC 8461 fixes the port).

    ca = TestCA(tmpdir)                               # ca.pem is what clients trust
    cert, key = ca.issue(["mta-sts.a.example"], "a")  # a leaf for those names
    srv = PolicyServer("127.0.86.1", cert, key).start()
    srv.policy("mta-sts.a.example", "version: STSv1\\nmode: enforce\\n...")
    srv.route("mta-sts.b.example", status=301, location="https://...")
    ...
    srv.stop()

Requests are answered by their Host header (port stripped): a policy
body with 200 and text/plain unless told otherwise; anything unknown gets
404. Every request is logged in .requests as (host, path). Only ever
binds 127.0.0.0/8 or ::1.
"""
import http.server
import os
import socket
import ssl
import subprocess
import threading

WELL_KNOWN = "/.well-known/mta-sts.txt"


def _openssl(*args):
    subprocess.run(("openssl",) + args, check=True, capture_output=True, timeout=60)


class TestCA:
    __test__ = False

    def __init__(self, directory, name="sealpost MTA-STS test CA"):
        self.dir = directory
        self.key = os.path.join(directory, "ca.key")
        self.pem = os.path.join(directory, "ca.pem")
        self._serial = 1000
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout", self.key,
                 "-out", self.pem, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def issue(self, names, tag):
        """A leaf certificate for DNS names; returns (cert path, key path)."""
        self._serial += 1
        base = os.path.join(self.dir, tag)
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    "keyUsage=critical,digitalSignature\n"
                    "subjectAltName=%s\n" % ",".join("DNS:" + n for n in names))
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-subj", "/CN=" + names[0], "-keyout", base + ".key",
                 "-out", base + ".csr")
        _openssl("x509", "-req", "-in", base + ".csr", "-CA", self.pem, "-CAkey", self.key,
                 "-set_serial", str(self._serial), "-days", "2", "-extfile", ext,
                 "-out", base + ".pem")
        return base + ".pem", base + ".key"


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "stsfix"

    def log_message(self, *args):
        pass

    def do_GET(self):
        owner = self.server.owner
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        with owner.lock:
            owner.requests.append((host, self.path))
            r = owner.routes.get(host)
        if r is None or self.path != WELL_KNOWN:
            r = {"status": 404, "body": b"not here\n", "ctype": "text/plain"}
        self.send_response(r["status"])
        if r.get("ctype"):
            self.send_header("Content-Type", r["ctype"])
        if r.get("location"):
            self.send_header("Location", r["location"])
        self.send_header("Content-Length", str(len(r["body"])))
        self.end_headers()
        self.wfile.write(r["body"])


class _TLSServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, ctx, owner):
        self.ctx = ctx
        self.owner = owner
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, peer = self.socket.accept()
        sock.settimeout(10)
        try:
            return self.ctx.wrap_socket(sock, server_side=True), peer
        except (OSError, ssl.SSLError):
            sock.close()
            raise


class PolicyServer:
    __test__ = False

    def __init__(self, host, cert, key, port=443):
        if not (host.startswith("127.") or host == "::1"):
            raise ValueError("PolicyServer binds loopback addresses only")
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.routes = {}
        self.requests = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(cert, key)
        self._srv = None
        self._thread = None

    def route(self, host, status=200, body=b"", ctype="text/plain", location=None):
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[host.lower()] = {"status": status, "body": body, "ctype": ctype,
                                         "location": location}

    def policy(self, host, text, ctype="text/plain"):
        self.route(host, 200, text, ctype)

    def hits(self, host):
        with self.lock:
            return sum(1 for h, _ in self.requests if h == host.lower())

    def start(self):
        self._srv = _TLSServer((self.host, self.port), self.ctx, self)
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={
            "poll_interval": 0.1}, name="PolicyServer", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._srv:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread.join(5)
            self._srv = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
