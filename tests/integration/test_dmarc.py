"""DMARC: `sealpost dmarc` (src/cli/dmarc.c over src/auth/dmarc_*.c and
psl.c) against the local test DNS server (dnsserver.py).

Every query goes to a TestDNS on 127.0.0.1 through --resolver; no test
reaches the machine's resolver. A private Public Suffix List written in the
test's tmp dir makes "example" and "pub.example" public suffixes, so
organizational domains look like corp.example and a.pub.example.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402

RUN_TIMEOUT = 20 * h.SLOW

RECORDS = [
    ("_dmarc.corp.example", "TXT", '"v=spf1 -all"'),  # not DMARC: ignored
    ("_dmarc.corp.example", "TXT", '"v=DMARC1; p=reject; sp=quarantine"'),
    ("_dmarc.own.corp.example", "TXT", '"v=DMARC1; p=none"'),
    ("_dmarc.strict.example", "TXT", '"v=DMARC1; p=reject; aspf=s; adkim=s"'),
    ("_dmarc.pct.example", "TXT", '"v=DMARC1; p=reject; pct=0"'),
    ("_dmarc.two.example", "TXT", '"v=DMARC1; p=reject"'),
    ("_dmarc.two.example", "TXT", '"v=DMARC1; p=quarantine"'),
    ("_dmarc.nop.example", "TXT", '"v=DMARC1; adkim=s"'),
    ("_dmarc.nopr.example", "TXT", '"v=DMARC1; rua=mailto:agg@nopr.example"'),
    ("_dmarc.split.example", "TXT", '"v=DMARC1; " "p=reject"'),
    ("_dmarc.a.pub.example", "TXT", '"v=DMARC1; p=reject"'),
    ("_dmarc.b.pub.example", "TXT", '"v=DMARC1; p=none"'),
    ("_dmarc.broken.example", "TXT", '"v=DMARC1; p=reject"'),
    ("host.nothing.example", "A", "192.0.2.1"),
]


@pytest.fixture(scope="module")
def dns():
    d = TestDNS(RECORDS).start()
    d.servfail.add("_dmarc.broken.example")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def psl(tmp_path_factory):
    path = tmp_path_factory.mktemp("psl") / "psl.dat"
    path.write_text("// test list\n// ===BEGIN ICANN DOMAINS===\nexample\n"
                    "// ===BEGIN PRIVATE DOMAINS===\npub.example\n")
    return str(path)


def run(*args):
    p = subprocess.run([h.BIN, "dmarc"] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def dmarc(dns, psl, from_domain, *args, roll=0):
    rc, out, err = run("--from-domain", from_domain, "--resolver", dns.addr, "--psl", psl,
                       "--timeout", 3000, "--pct-roll", roll, *args)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    fields = dict(kv.split("=", 1) for kv in lines[1].split())
    assert set(fields) == {"policy", "disposition", "domain", "spf-aligned", "dkim-aligned"}
    return lines[0], fields


def test_reject_fail(dns, psl):
    v, f = dmarc(dns, psl, "corp.example", "--spf-domain", "evil.example", "--spf", "pass",
                 "--dkim-domain", "evil.example", "--dkim", "pass")
    assert v == "fail"
    assert f == {"policy": "reject", "disposition": "reject", "domain": "corp.example",
                 "spf-aligned": "no", "dkim-aligned": "no"}


def test_pass_aligned_spf(dns, psl):
    v, f = dmarc(dns, psl, "Corp.Example", "--spf-domain", "corp.example", "--spf", "pass")
    assert v == "pass"
    assert (f["disposition"], f["spf-aligned"], f["dkim-aligned"]) == ("none", "yes", "no")
    # aligned but not pass does not count
    v, f = dmarc(dns, psl, "corp.example", "--spf-domain", "corp.example", "--spf", "softfail")
    assert v == "fail" and f["spf-aligned"] == "no"


def test_pass_aligned_dkim_only(dns, psl):
    v, f = dmarc(dns, psl, "corp.example", "--spf-domain", "evil.example", "--spf", "pass",
                 "--dkim-domain", "evil.example", "--dkim", "pass",
                 "--dkim-domain", "corp.example", "--dkim", "fail",
                 "--dkim-domain", "mail.corp.example", "--dkim", "pass")
    assert v == "pass"
    assert (f["spf-aligned"], f["dkim-aligned"], f["disposition"]) == ("no", "yes", "none")


def test_relaxed_subdomain(dns, psl):
    v, f = dmarc(dns, psl, "corp.example", "--spf-domain", "bounce.corp.example", "--spf",
                 "pass")
    assert v == "pass" and f["spf-aligned"] == "yes"


def test_strict_subdomain_fails(dns, psl):
    v, f = dmarc(dns, psl, "strict.example", "--spf-domain", "bounce.strict.example", "--spf",
                 "pass", "--dkim-domain", "mail.strict.example", "--dkim", "pass")
    assert v == "fail"
    assert (f["policy"], f["spf-aligned"], f["dkim-aligned"]) == ("reject", "no", "no")
    v, f = dmarc(dns, psl, "strict.example", "--dkim-domain", "strict.example", "--dkim", "pass")
    assert v == "pass" and f["dkim-aligned"] == "yes"


def test_sp_from_org_domain(dns, psl):
    before = len(dns.queries)
    v, f = dmarc(dns, psl, "news.corp.example")
    assert v == "fail"
    assert (f["policy"], f["disposition"], f["domain"]) == ("quarantine", "quarantine",
                                                             "corp.example")
    asked = [q[0].rstrip(".").lower() for q in dns.queries[before:] if q[1] == "TXT"]
    assert "_dmarc.news.corp.example" in asked and "_dmarc.corp.example" in asked
    assert asked.index("_dmarc.news.corp.example") < asked.index("_dmarc.corp.example")


def test_subdomain_record_wins(dns, psl):
    v, f = dmarc(dns, psl, "own.corp.example")
    assert v == "fail"
    assert (f["policy"], f["disposition"], f["domain"]) == ("none", "none", "own.corp.example")
    # and its subdomains fall back to the org domain, not to it
    v, f = dmarc(dns, psl, "x.own.corp.example")
    assert (f["policy"], f["domain"]) == ("quarantine", "corp.example")


def test_no_record_none(dns, psl):
    v, f = dmarc(dns, psl, "host.nothing.example", "--spf-domain", "evil.example", "--spf",
                 "pass")
    assert v == "none"
    assert (f["policy"], f["disposition"], f["domain"]) == ("none", "none", "-")


def test_servfail_temperror(dns, psl):
    v, f = dmarc(dns, psl, "broken.example", "--spf-domain", "broken.example", "--spf", "pass")
    assert v == "temperror"
    assert (f["policy"], f["disposition"]) == ("none", "none")


def test_pct_zero_quarantines(dns, psl):
    for roll in (0, 99):
        v, f = dmarc(dns, psl, "pct.example", roll=roll)
        assert v == "fail"
        assert (f["policy"], f["disposition"]) == ("reject", "quarantine")
    # the default roll is random; with pct=0 the answer is the same
    rc, out, err = run("--from-domain", "pct.example", "--resolver", dns.addr, "--psl", psl)
    assert rc == 0, err
    assert "disposition=quarantine" in out


def test_two_records_none(dns, psl):
    v, f = dmarc(dns, psl, "two.example")
    assert v == "none" and f["domain"] == "-"


def test_public_suffix_boundary(dns, psl):
    # a.pub.example and b.pub.example are two registrants under pub.example
    v, f = dmarc(dns, psl, "a.pub.example", "--spf-domain", "b.pub.example", "--spf", "pass",
                 "--dkim-domain", "b.pub.example", "--dkim", "pass",
                 "--dkim-domain", "pub.example", "--dkim", "pass")
    assert v == "fail"
    assert (f["policy"], f["spf-aligned"], f["dkim-aligned"]) == ("reject", "no", "no")
    # inside one registrant relaxed alignment holds, policy from its org domain
    v, f = dmarc(dns, psl, "x.a.pub.example", "--dkim-domain", "a.pub.example", "--dkim",
                 "pass")
    assert v == "pass" and f["domain"] == "a.pub.example"


def test_invalid_record(dns, psl):
    # v=DMARC1 without p: no DMARC (RFC 7489 6.6.3) ...
    v, f = dmarc(dns, psl, "nop.example")
    assert v == "none"
    # ... unless rua= names a report address: then as if p=none
    v, f = dmarc(dns, psl, "nopr.example")
    assert v == "fail"
    assert (f["policy"], f["disposition"], f["domain"]) == ("none", "none", "nopr.example")


def test_split_txt_strings(dns, psl):
    v, f = dmarc(dns, psl, "split.example")
    assert v == "fail" and f["policy"] == "reject"


def test_usage_errors(dns, psl):
    for args in ([], ["--from-domain", "a..example"], ["--from-domain", "x.example", "--spf",
                                                       "pass"],
                 ["--from-domain", "x.example", "--dkim-domain", "x.example"],
                 ["--from-domain", "x.example", "--dkim-domain", "x.example", "--dkim", "ok"],
                 ["--from-domain", "x.example", "--pct-roll", "100"],
                 ["--from-domain", "x.example", "extra"]):
        rc, out, err = run(*args)
        assert rc == 2, args
        assert len(err.strip().splitlines()) == 1, err
    rc, out, _ = run("--help")
    assert rc == 0 and "spf-aligned" in out
    rc, out, err = run("--from-domain", "x.example", "--psl", "/nonexistent/psl.dat",
                       "--resolver", dns.addr)
    assert rc == 1 and "psl.dat" in err
