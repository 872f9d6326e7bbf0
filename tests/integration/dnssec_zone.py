"""A DNSSEC-signed test zone and an authoritative server for it, for the
DANE tests (ldns-keygen and ldns-signzone from Debian's ldnsutils;
python3-dnslib).

    zone = SignedZone(dir, "dane.example", [("mx", "A", "127.0.0.3"), ...])
    zone.corrupt("_25._tcp.mxbogus", "TLSA")   # signature no longer matches
    dns = SignedDNS(zone).start()              # a TestDNS (dnsserver.py)
    ... `resolver` = dns.addr, `dnssec-trust-anchor` = zone.ta_path ...

Names in records are relative to the origin ("@" is the apex). The zone
is signed with NSEC (ECDSA P-256 keys, a KSK and a ZSK); zone.ta_path
holds the KSK's DS record, which is the trust anchor libunbound validates
from. The server answers with the RRset and its RRSIGs; NODATA and
NXDOMAIN with the SOA, the NSEC records that prove them and their RRSIGs,
so a validating resolver gets secure answers, and bogus ones where a
record was corrupted after signing.
"""
import os
import subprocess

from dnslib import QTYPE, RCODE, RR

from dnsserver import TestDNS, _norm


def _canon(name):
    """The RFC 4034 6.1 canonical order key of a name."""
    return [l.encode().lower() for l in reversed(_norm(name).split("."))] if name else []


class SignedZone:
    def __init__(self, directory, origin, records):
        self.dir, self.origin = directory, _norm(origin)
        lines = ["$ORIGIN %s." % self.origin, "$TTL 300",
                 "@ IN SOA ns hostmaster 1 3600 600 86400 300", "@ IN NS ns",
                 "ns IN A 127.0.0.1"]
        lines += ["%s IN %s %s" % r for r in records]
        self.zone_path = os.path.join(directory, self.origin + ".zone")
        with open(self.zone_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        ksk = self._run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", self.origin)
        zsk = self._run("ldns-keygen", "-a", "ECDSAP256SHA256", self.origin)
        self._run("ldns-signzone", "-o", self.origin, self.zone_path, ksk, zsk)
        with open(self.zone_path + ".signed") as f:
            self.rrs = RR.fromZone(f.read())
        self.ta_path = os.path.join(directory, "trust-anchor")
        with open(os.path.join(directory, ksk + ".ds")) as f, open(self.ta_path, "w") as out:
            out.write(f.read())
        os.chmod(self.ta_path, 0o644)

    def _run(self, *argv):
        r = subprocess.run(argv, cwd=self.dir, capture_output=True, text=True, timeout=60,
                           check=True)
        return r.stdout.strip()

    def fqdn(self, rel):
        return self.origin if rel == "@" else "%s.%s" % (rel, self.origin)

    def corrupt(self, rel, rtype):
        """Change the first record of (rel, rtype) after signing: bogus."""
        name, t = self.fqdn(rel), getattr(QTYPE, rtype)
        for i, rr in enumerate(self.rrs):
            if _norm(rr.rname) == name and rr.rtype == t:
                text = rr.toZone().rsplit(None, 1)
                last = text[1]
                flipped = ("0" if last[0] != "0" else "1") + last[1:]
                self.rrs[i] = RR.fromZone("%s %s" % (text[0], flipped))[0]
                return
        raise KeyError((rel, rtype))


class SignedDNS(TestDNS):
    """TestDNS answering from a SignedZone with DNSSEC records."""

    def __init__(self, zone, host="127.0.0.1"):
        super().__init__([], host=host)
        self.zone = zone

    def _at(self, name):
        return [rr for rr in self.zone.rrs if _norm(rr.rname) == name]

    def _with_sigs(self, name, rtype):
        out = [rr for rr in self._at(name) if rr.rtype == rtype]
        out += [rr for rr in self._at(name)
                if rr.rtype == QTYPE.RRSIG and rr.rdata.covered == rtype]
        return out

    def _covering_nsec(self, name):
        key = _canon(name)
        nsecs = [rr for rr in self.zone.rrs if rr.rtype == QTYPE.NSEC]
        for rr in nsecs:
            lo, hi = _canon(str(rr.rname)), _canon(str(rr.rdata.label))
            if lo < key and (key < hi or hi <= lo):  # the last NSEC wraps to the apex
                return rr
        return None

    def _denial(self, reply, names):
        z = self.zone.origin
        for rr in self._with_sigs(z, QTYPE.SOA):
            reply.add_auth(rr)
        seen = set()
        for rr in names:
            if rr is None or str(rr.rname) in seen:
                continue
            seen.add(str(rr.rname))
            for x in self._with_sigs(_norm(rr.rname), QTYPE.NSEC):
                reply.add_auth(x)

    def answer(self, request):
        qn, qtype = _norm(request.q.qname), request.q.qtype
        z = self.zone.origin
        with self._lock:
            self.queries.append((qn, QTYPE.get(qtype), "answer"))
        reply = request.reply(ra=1, aa=1)
        if qn != z and not qn.endswith("." + z):
            reply.header.rcode = RCODE.REFUSED
            return reply
        if self._at(qn):
            found = self._with_sigs(qn, qtype)
            for rr in found:
                reply.add_answer(rr)
            if not found:
                nsec = [rr for rr in self._at(qn) if rr.rtype == QTYPE.NSEC]
                self._denial(reply, nsec)
            return reply
        reply.header.rcode = RCODE.NXDOMAIN
        self._denial(reply, [self._covering_nsec(qn), self._covering_nsec("*." + z)])
        return reply
