"""SPF (RFC 7208): `sealpost spf` (src/auth/spf*.c) over a table of cases
(spf_cases.py), each checked against the expected result and, where the
table says so, cross-checked with Debian's pyspf (python3-spf) asking the
same test DNS server.

One TestDNS on 127.0.0.1 serves the zone data of every case (names under
.example). sealpost gets it through --resolver; pyspf through a dnspython
Resolver built with configure=False (no /etc/resolv.conf) whose only
nameserver is that TestDNS, installed as dnspython's default resolver for
the duration of this module. No query ever leaves loopback.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402
from spf_cases import CASES  # noqa: E402

# pyspf calls dnspython's deprecated dns.resolver.query(): not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve:DeprecationWarning")

RUN_TIMEOUT = 30 * h.SLOW
PEER_QUERYTIME = 10


@pytest.fixture(scope="module")
def zone():
    d = TestDNS()
    for case in CASES:
        for name, rtype, value in case.records:
            d.add(name, rtype, value)
        d.servfail.update(case.servfail)
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def peer(zone):
    """pyspf, resolving through the TestDNS only."""
    import dns.resolver
    import spf

    assert spf.DNSLookup is spf.DNSLookup_dnspython, "pyspf must use dnspython"
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = zone.port
    r.timeout = r.lifetime = 5
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = r
    yield spf
    dns.resolver.default_resolver = saved


def run_spf(zone, case):
    argv = [h.BIN, "spf", "--resolver", zone.addr, "--ip", case.ip, "--sender", case.sender,
            "--helo", case.helo]
    if case.receiver:
        argv += ["--receiver", case.receiver]
    if case.helo_identity:
        argv.append("--helo-identity")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    assert len(lines) == 3 and lines[2] == "", repr(p.stdout)
    return lines[0], lines[1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_spf_case(zone, peer, case):
    result, explanation = run_spf(zone, case)
    assert result == case.result, explanation
    assert explanation, "the explanation is never empty"
    assert all(0x20 <= ord(ch) < 0x7f for ch in explanation)
    if case.exp is not None:
        assert explanation == case.exp
    if case.peer is not True:
        return
    sender = "" if case.helo_identity else case.sender
    pres, pexp = peer.check2(i=case.ip, s=sender, h=case.helo, receiver=case.receiver,
                             querytime=PEER_QUERYTIME)[:2]
    assert pres == case.result, "pyspf says %s (%s)" % (pres, pexp)
    if case.peer_exp:
        assert pexp == explanation


def test_cases_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60


def test_usage_errors():
    for argv in (["--ip", "300.1.1.1", "--helo", "h.example"],
                 ["--helo", "h.example"],
                 ["--ip", "192.0.2.1"],
                 ["--ip", "192.0.2.1", "--helo", "h.example", "--bogus"],
                 ["--ip", "192.0.2.1", "--helo", "h.example", "--resolver", "nowhere"]):
        p = subprocess.run([h.BIN, "spf"] + argv, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        assert p.returncode == 2, argv
        assert p.stdout == ""
        assert len(p.stderr.splitlines()) == 1, p.stderr


def test_help():
    p = subprocess.run([h.BIN, "spf", "--help"], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == 0
    assert "usage: sealpost spf" in p.stdout


def test_timeout_is_temperror(zone):
    zone.drop.add("slow.example")
    try:
        p = subprocess.run([h.BIN, "spf", "--resolver", zone.addr, "--ip", "192.0.2.10",
                            "--sender", "u@slow.example", "--helo", "h.example",
                            "--timeout", "700"],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    finally:
        zone.drop.discard("slow.example")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[0] == "temperror"
