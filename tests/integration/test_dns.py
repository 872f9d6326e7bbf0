"""DNS and DNS lists: `sealpost dns` and `sealpost dnsbl` (src/lookup/dns.c
and dnsbl.c) against the local test DNS server (dnsserver.py).

Every query goes to a TestDNS on 127.0.0.1 or ::1 through --resolver; no
test ever reaches the machine's resolver. Zones are under .example:
libunbound answers .test, .invalid and .localhost itself (RFC 6761), as
any resolver should, so those never reach a forwarder.
"""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402

# A generous bound on any one command (the queries themselves are local).
RUN_TIMEOUT = 20 * h.SLOW


def run(*args):
    p = subprocess.run([h.BIN] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def dnsbl(dns, ip, *zones, timeout=3000):
    rc, out, err = run("dnsbl", "--ip", ip, "--resolver", dns.addr, "--timeout", timeout,
                       *zones)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[-1].startswith("score "), out
    states = [tuple(line.split()) for line in lines[:-1]]
    return states, int(lines[-1].split()[1])


@pytest.fixture
def dns():
    d = TestDNS([
        ("2.0.0.127.bl.example", "A", "127.0.0.2"),
        ("2.0.0.127.wl.example", "A", "127.0.10.1"),
        ("10.2.0.192.bl.example", "A", "127.0.0.4"),
        ("10.2.0.192.bl.example", "A", "127.0.0.11"),
        ("11.2.0.192.bl.example", "A", "127.255.255.254"),
        ("12.2.0.192.bl.example", "A", "10.0.0.2"),
        ("host.example", "A", "192.0.2.7"),
        ("host.example", "A", "192.0.2.8"),
        ("host.example", "AAAA", "2001:db8::7"),
        ("host.example", "MX", "10 mx.example."),
        ("host.example", "TXT", '"v=spf1 -all"'),
        ("_25._tcp.mx.example", "TLSA", "3 1 1 0123456789ABCDEF"),
        ("alias.example", "CNAME", "host.example."),
    ]).start()
    yield d
    d.stop()


# ---- sealpost dns --------------------------------------------------------

def test_dns_a_aaaa(dns):
    rc, out, _ = run("dns", "--resolver", dns.addr, "host.example", "A")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "status ok"
    assert sorted(lines[1:]) == ["192.0.2.7", "192.0.2.8"]
    rc, out, _ = run("dns", "--resolver", dns.addr, "host.example", "aaaa")
    assert out.splitlines() == ["status ok", "2001:db8::7"]


def test_dns_other_types_as_hex(dns):
    rc, out, _ = run("dns", "--resolver", dns.addr, "host.example", "MX")
    # preference 10, then mx.example in wire form
    assert out.splitlines() == ["status ok", "000a026d78076578616d706c6500"]
    rc, out, _ = run("dns", "--resolver", dns.addr, "host.example", "TXT")
    txt = b"v=spf1 -all"
    assert out.splitlines() == ["status ok", "%02x%s" % (len(txt), txt.hex())]
    rc, out, _ = run("dns", "--resolver", dns.addr, "_25._tcp.mx.example", "TLSA")
    assert out.splitlines() == ["status ok", "0301010123456789abcdef"]
    rc, out, _ = run("dns", "--resolver", dns.addr, "_25._tcp.mx.example", "52")
    assert out.splitlines() == ["status ok", "0301010123456789abcdef"]


def test_dns_cname_nxdomain_nodata(dns):
    _, out, _ = run("dns", "--resolver", dns.addr, "alias.example", "A")
    assert out.splitlines()[0] == "status ok"
    assert sorted(out.splitlines()[1:]) == ["192.0.2.7", "192.0.2.8"]
    _, out, _ = run("dns", "--resolver", dns.addr, "nothing.example", "A")
    assert out.splitlines() == ["status nxdomain"]
    _, out, _ = run("dns", "--resolver", dns.addr, "host.example", "PTR")
    assert out.splitlines() == ["status nodata"]


def test_dns_servfail_and_timeout(dns):
    dns.servfail.add("broken.example")
    dns.drop.add("silent.example")
    _, out, _ = run("dns", "--resolver", dns.addr, "--timeout", 1500, "broken.example", "A")
    assert out.splitlines() == ["status tempfail"]
    t = time.monotonic()
    _, out, _ = run("dns", "--resolver", dns.addr, "--timeout", 500, "silent.example", "A")
    assert out.splitlines() == ["status tempfail"]
    assert time.monotonic() - t < 5 * h.SLOW


def test_dns_records_change_while_running(dns):
    dns.add("new.example", "A", "192.0.2.99")
    _, out, _ = run("dns", "--resolver", dns.addr, "new.example", "A")
    assert out.splitlines() == ["status ok", "192.0.2.99"]
    dns.remove("new.example")
    _, out, _ = run("dns", "--resolver", dns.addr, "new.example", "A")
    assert out.splitlines() == ["status nxdomain"]


def test_dns_usage_errors(dns):
    for args in (["host.example"], ["host.example", "BOGUS"], ["--timeout", "0", "a.example", "A"],
                 ["--resolver", "not-an-ip", "a.example", "A"],
                 ["--resolver", "127.0.0.1:70000", "a.example", "A"]):
        rc, out, err = run("dns", *args)
        assert rc == 2, args
        assert len(err.strip().splitlines()) == 1, err


# ---- sealpost dnsbl ------------------------------------------------------

def test_listed_and_not_listed(dns):
    states, score = dnsbl(dns, "127.0.0.2", "bl.example")
    assert states == [("bl.example", "listed")] and score == 1
    states, score = dnsbl(dns, "127.0.0.3", "bl.example")
    assert states == [("bl.example", "not-listed")] and score == 0
    assert ("3.0.0.127.bl.example", "A", "udp") in dns.queries


def test_match_list_filters_answers(dns):
    # 192.0.2.10 answers 127.0.0.4 and 127.0.0.11
    states, score = dnsbl(dns, "192.0.2.10", "bl.example=127.0.0.2,127.0.0.3")
    assert states == [("bl.example", "not-listed")] and score == 0
    states, score = dnsbl(dns, "192.0.2.10", "bl.example=127.0.0.2,127.0.0.11:7")
    assert states == [("bl.example", "listed")] and score == 7


def test_error_and_foreign_answers_do_not_list(dns):
    # 127.255.255.254: "query refused" from the list operator; 10.0.0.2: not 127/8
    states, score = dnsbl(dns, "192.0.2.11", "bl.example")
    assert states == [("bl.example", "not-listed")] and score == 0
    states, score = dnsbl(dns, "192.0.2.12", "bl.example")
    assert states == [("bl.example", "not-listed")] and score == 0


def test_weights_sum_with_allow_list(dns):
    dns.add("2.0.0.127.bl2.example", "A", "127.0.0.3")
    states, score = dnsbl(dns, "127.0.0.2", "bl.example:3", "bl2.example:2", "wl.example:-4",
                          "none.example:100")
    assert states == [("bl.example", "listed"), ("bl2.example", "listed"),
                      ("wl.example", "listed"), ("none.example", "not-listed")]
    assert score == 1


def test_timeout_bounded(dns):
    dns.add("2.0.0.127.slow.example", "A", "127.0.0.2")
    dns.drop.add("2.0.0.127.slow.example")
    t = time.monotonic()
    states, score = dnsbl(dns, "127.0.0.2", "bl.example:2", "slow.example:5", timeout=800)
    took = time.monotonic() - t
    assert states == [("bl.example", "listed"), ("slow.example", "timeout")]
    assert score == 2
    assert took < 0.8 + 3 * h.SLOW, took


def test_whole_server_silent(dns):
    dns.drop_all = True
    t = time.monotonic()
    states, score = dnsbl(dns, "127.0.0.2", "bl.example", "wl.example", timeout=600)
    assert states == [("bl.example", "timeout"), ("wl.example", "timeout")]
    assert score == 0
    assert time.monotonic() - t < 0.6 + 3 * h.SLOW


def test_ipv6_client_and_resolver():
    name = ".".join(reversed("20010db8000000000000000000000001")) + ".bl.example"
    with TestDNS([(name, "A", "127.0.0.2")], host="::1") as d:
        states, score = dnsbl(d, "2001:db8::1", "bl.example")
        assert states == [("bl.example", "listed")] and score == 1
        states, score = dnsbl(d, "2001:db8::2", "bl.example")
        assert states == [("bl.example", "not-listed")] and score == 0
        assert d.queries[0] == (name, "A", "udp")


def test_dnsbl_usage_errors(dns):
    for args in (["bl.example"], ["--ip", "127.0.0.2"], ["--ip", "300.0.0.1", "bl.example"],
                 ["--ip", "127.0.0.2", "bl.example=127.0.0.x"],
                 ["--ip", "127.0.0.2", "bl.example:abc"], ["--ip", "127.0.0.2", "bad_zone!"],
                 ["--ip", "127.0.0.2", "bl.example="]):
        rc, out, err = run("dnsbl", "--resolver", dns.addr, *args)
        assert rc == 2, args
        assert len(err.strip().splitlines()) == 1, err
