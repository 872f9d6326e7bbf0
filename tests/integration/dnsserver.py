"""A small authoritative DNS server for the integration tests (python3-dnslib;
run with Debian's /usr/bin/python3).

TestDNS(records) serves UDP and TCP on 127.0.0.1 (or ::1) on a free port
(.port) from a thread of the test process. Records are (name, type, value)
tuples with the value in zone-file form, for A, AAAA, MX ("10 mx.test."),
TXT, TLSA ("3 1 1 ABCD..."), PTR, CNAME and NS:

    dns = TestDNS([("2.0.0.127.bl.test", "A", "127.0.0.2")]).start()
    ...
    dns.add("3.0.0.127.bl.test", "A", "127.0.0.3"); dns.remove("2.0.0.127.bl.test")
    dns.servfail.add("x.bl.test"); dns.drop.add("y.bl.test")   # SERVFAIL / no answer
    dns.stop()

Unknown names get NXDOMAIN, known names (or names with records below them)
without the asked type get NODATA, CNAMEs are followed within the data.
Every question is logged in .queries as (name, type name, "udp"/"tcp").

Standalone, for manual tries:
    /usr/bin/python3 tests/integration/dnsserver.py --port 5353 --zone FILE
where FILE has one record per line, "NAME TYPE VALUE" ('#' comments).

It only ever binds loopback addresses.
"""
import argparse
import select
import socket
import struct
import threading

from dnslib import QTYPE, RCODE, RR, DNSRecord

TTL = 60
MAX_CNAME_CHAIN = 8


def _norm(name):
    return str(name).rstrip(".").lower()


class TestDNS:
    __test__ = False  # not a pytest test class
    def __init__(self, records=(), host="127.0.0.1", port=0):
        if host not in ("127.0.0.1", "::1") and not host.startswith("127."):
            raise ValueError("TestDNS binds loopback addresses only")
        self.host = host
        self.port = port
        self.servfail = set()  # names answered with SERVFAIL
        self.drop = set()  # names never answered (a timeout for the client)
        self.drop_all = False
        self.servfail_all = False  # every name answered with SERVFAIL
        self.queries = []
        self._lock = threading.Lock()
        self._rrs = []  # (owner, qtype int, RR)
        self._udp = self._tcp = None
        self._thread = None
        self._stop_r, self._stop_w = socket.socketpair()
        for name, rtype, value in records:
            self.add(name, rtype, value)

    # ---- data ---------------------------------------------------------
    def add(self, name, rtype, value):
        zone = "%s. %d IN %s %s" % (_norm(name), TTL, rtype.upper(), value)
        rrs = RR.fromZone(zone)
        if len(rrs) != 1:
            raise ValueError("cannot parse record: %r" % zone)
        with self._lock:
            self._rrs.append((_norm(name), rrs[0].rtype, rrs[0]))

    def remove(self, name, rtype=None):
        """Remove every record of name (of rtype only, when given)."""
        n = _norm(name)
        t = None if rtype is None else getattr(QTYPE, rtype.upper())
        with self._lock:
            self._rrs = [r for r in self._rrs if not (r[0] == n and (t is None or r[1] == t))]

    def _exists(self, n):
        return any(o == n or o.endswith("." + n) for o, _, _ in self._rrs)

    def _records(self, n, qtype):
        return [rr for o, t, rr in self._rrs if o == n and (t == qtype or qtype == QTYPE.ANY)]

    def _cname(self, n):
        for o, t, rr in self._rrs:
            if o == n and t == QTYPE.CNAME:
                return rr
        return None

    def answer(self, request):
        """The reply to a parsed request, or None to drop it."""
        qn = _norm(request.q.qname)
        qtype = request.q.qtype
        reply = request.reply(ra=1, aa=1)
        with self._lock:
            if self.drop_all or qn in self.drop:
                return None
            if self.servfail_all or qn in self.servfail:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            if not self._exists(qn):
                reply.header.rcode = RCODE.NXDOMAIN
                return reply
            for _ in range(MAX_CNAME_CHAIN):
                found = self._records(qn, qtype)
                cname = self._cname(qn) if qtype != QTYPE.CNAME else None
                if found or not cname:
                    for rr in found:
                        reply.add_answer(rr)
                    break
                reply.add_answer(cname)
                qn = _norm(cname.rdata.label)
        return reply

    # ---- network ------------------------------------------------------
    def _bind(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(fam, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(fam, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                if self.port:
                    raise
                continue
            tcp.listen(16)
            self._udp, self._tcp, self.port = udp, tcp, port
            return
        raise OSError("no free port for UDP and TCP")

    def _reply_bytes(self, data, proto):
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        with self._lock:
            self.queries.append((_norm(req.q.qname), QTYPE.get(req.q.qtype), proto))
        rep = self.answer(req)
        if rep is None:
            return None
        out = rep.pack()
        if proto == "udp" and len(out) > 512:
            out = rep.truncate().pack()
        return out

    def _serve_tcp(self, conn):
        conn.settimeout(2)
        try:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) != 2:
                return
            data = conn.recv(struct.unpack("!H", head)[0], socket.MSG_WAITALL)
            out = self._reply_bytes(data, "tcp")
            if out is not None:
                conn.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            pass
        finally:
            conn.close()

    def _loop(self):
        while True:
            r, _, _ = select.select([self._udp, self._tcp, self._stop_r], [], [])
            if self._stop_r in r:
                return
            if self._udp in r:
                data, peer = self._udp.recvfrom(4096)
                out = self._reply_bytes(data, "udp")
                if out is not None:
                    self._udp.sendto(out, peer)
            if self._tcp in r:
                conn, _ = self._tcp.accept()
                self._serve_tcp(conn)

    def start(self):
        self._bind()
        self._thread = threading.Thread(target=self._loop, name="TestDNS", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self._stop_w.send(b"x")
            self._thread.join(5)
            self._thread = None
        for s in (self._udp, self._tcp, self._stop_r, self._stop_w):
            if s:
                s.close()
        self._udp = self._tcp = None

    @property
    def addr(self):
        """ADDR:PORT as `sealpost dns --resolver` takes it."""
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def read_zone(path):
    records = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) != 3:
                raise SystemExit("%s: bad line: %s" % (path, line))
            records.append(tuple(parts))
    return records


def main():
    ap = argparse.ArgumentParser(description="test DNS server (loopback only)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--zone", help="records, one 'NAME TYPE VALUE' per line")
    a = ap.parse_args()
    dns = TestDNS(read_zone(a.zone) if a.zone else [], host=a.host, port=a.port).start()
    print("serving on %s (UDP and TCP); Ctrl-C stops" % dns.addr, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    dns.stop()


if __name__ == "__main__":
    main()
