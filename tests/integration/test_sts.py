"""MTA-STS (RFC 8461): `sealpost mta-sts` (src/cli/mta_sts.c over
src/deliver/remote_sts*.c) against the test DNS server (dnsserver.py) and
a local HTTPS policy host (stsfix.py) with a test CA.

The policy hosts listen on 127.0.86.1:443 (certificate from the test CA
for every mta-sts.*.example name below but wrongname) and 127.0.86.2:443
(a certificate from another CA). Every name lives under .example and is
answered by TestDNS only, so the fetch succeeding at all shows curl used
the addresses sealpost resolved through its own resolver.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402
from stsfix import PolicyServer, TestCA  # noqa: E402

RUN_TIMEOUT = 30 * h.SLOW
GOOD_IP = "127.0.86.1"
OTHER_CA_IP = "127.0.86.2"

ENFORCE = "version: STSv1\r\nmode: enforce\r\nmx: mx1.enforce.example\r\n" \
          "mx: *.mx.enforce.example\r\nmax_age: 86400\r\n"
TESTING = "version: STSv1\nmode: testing\nmx: mx.testing.example\nmax_age: 604800\n"

# Domains with a TXT record and a policy host on GOOD_IP, unless noted.
DOMAINS = ["enforce", "testing", "notfound", "redirect", "html", "big", "invalid",
           "cache", "wrongname", "noaddr", "expire", "notype", "v6"]


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="sealpost-sts-")
    os.chmod(d, 0o755)
    ca = TestCA(d)
    names = ["mta-sts.%s.example" % n for n in DOMAINS if n != "wrongname"]
    good = ca.issue(names + ["mta-sts.split.example"], "good")
    os.mkdir(os.path.join(d, "other"))
    other = TestCA(os.path.join(d, "other"), name="another CA")
    bad = other.issue(["mta-sts.badcert.example"], "bad")
    yield {"dir": d, "ca": ca.pem, "good": good, "bad": bad}
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def web(pki):
    srv = PolicyServer(GOOD_IP, *pki["good"]).start()
    other = PolicyServer(OTHER_CA_IP, *pki["bad"]).start()
    srv.policy("mta-sts.enforce.example", ENFORCE)
    srv.policy("mta-sts.testing.example", TESTING)
    srv.route("mta-sts.redirect.example", status=301,
              location="https://mta-sts.enforce.example/.well-known/mta-sts.txt")
    srv.policy("mta-sts.html.example", TESTING, ctype="text/html")
    srv.policy("mta-sts.notype.example", TESTING, ctype=None)
    srv.policy("mta-sts.big.example", TESTING + "x: " + "a" * 70000 + "\n")
    srv.policy("mta-sts.invalid.example", "version: STSv1\nmode: enforce\nmax_age: 60\n")
    srv.policy("mta-sts.wrongname.example", TESTING)
    other.policy("mta-sts.badcert.example", TESTING)
    yield srv
    srv.stop()
    other.stop()


@pytest.fixture
def dns():
    records = []
    for n in DOMAINS + ["badcert", "several", "notsts"]:
        ip = OTHER_CA_IP if n == "badcert" else GOOD_IP
        if n not in ("several", "notsts"):
            records.append(("_mta-sts.%s.example" % n, "TXT", '"v=STSv1; id=%s1;"' % n))
        if n not in ("noaddr", "v6"):
            records.append(("mta-sts.%s.example" % n, "A", ip))
    records += [
        ("_mta-sts.several.example", "TXT", '"v=STSv1; id=a;"'),
        ("_mta-sts.several.example", "TXT", '"v=STSv1; id=b;"'),
        ("_mta-sts.notsts.example", "TXT", '"v=spf1 -all"'),
        ("_mta-sts.split.example", "TXT", '"v=STSv1; " "id=split1;"'),
        ("mta-sts.split.example", "A", GOOD_IP),
        ("nosts.example", "A", "192.0.2.1"),
        ("mta-sts.v6.example", "AAAA", "::1"),
    ]
    d = TestDNS(records).start()
    yield d
    d.stop()


@pytest.fixture
def cache_dir():
    d = tempfile.mkdtemp(prefix="sealpost-sts-cache-")
    yield os.path.join(d, "mta-sts")
    shutil.rmtree(d, ignore_errors=True)


def sts(dns, pki, domain, cache=None):
    args = [h.BIN, "mta-sts", "--resolver", dns.addr, "--ca-file", pki["ca"]]
    if cache:
        args += ["--cache-dir", cache]
    p = subprocess.run(args + [domain], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def none_reason(lines):
    assert len(lines) == 1 and lines[0].startswith("none (") and lines[0].endswith(")"), lines
    return lines[0][len("none ("):-1]


# ---- policies fetched ------------------------------------------------------

def test_enforce_policy_fetched(web, dns, pki):
    assert sts(dns, pki, "enforce.example") == [
        "mode: enforce", "mx: mx1.enforce.example", "mx: *.mx.enforce.example",
        "max_age: 86400", "id: enforce1", "source: fetched"]
    assert web.requests == [("mta-sts.enforce.example", "/.well-known/mta-sts.txt")]
    asked = {(n, t) for n, t, _ in dns.queries}
    assert ("_mta-sts.enforce.example", "TXT") in asked
    assert ("mta-sts.enforce.example", "A") in asked
    assert ("mta-sts.enforce.example", "AAAA") in asked


def test_testing_policy_and_case(web, dns, pki):
    out = sts(dns, pki, "Testing.Example.")
    assert out[:3] == ["mode: testing", "mx: mx.testing.example", "max_age: 604800"]
    assert out[3:] == ["id: testing1", "source: fetched"]


def test_policy_host_on_ipv6(web, dns, pki):
    srv = PolicyServer("::1", *pki["good"]).start()
    try:
        srv.policy("mta-sts.v6.example", TESTING)
        assert sts(dns, pki, "v6.example")[-2:] == ["id: v61", "source: fetched"]
        assert srv.hits("mta-sts.v6.example") == 1
    finally:
        srv.stop()


def test_txt_split_in_strings(web, dns, pki):
    web.policy("mta-sts.split.example", TESTING)
    assert sts(dns, pki, "split.example")[-2:] == ["id: split1", "source: fetched"]


# ---- no policy -------------------------------------------------------------

def test_no_txt_record(web, dns, pki):
    assert none_reason(sts(dns, pki, "nosts.example")) == "no _mta-sts TXT record"
    assert none_reason(sts(dns, pki, "nxdomain.example")) == "no _mta-sts TXT record"
    assert none_reason(sts(dns, pki, "notsts.example")) == "no v=STSv1 TXT record"
    assert web.requests == []


def test_several_records_mean_none(web, dns, pki):
    assert none_reason(sts(dns, pki, "several.example")) == "several v=STSv1 TXT records"
    assert web.requests == []


def test_bad_certificate(web, dns, pki):
    reason = none_reason(sts(dns, pki, "badcert.example"))
    assert reason.startswith("HTTPS fetch failed"), reason
    assert "certificate" in reason, reason


def test_certificate_for_another_name(web, dns, pki):
    reason = none_reason(sts(dns, pki, "wrongname.example"))
    assert reason.startswith("HTTPS fetch failed"), reason
    assert "mta-sts.wrongname.example" in reason, reason
    assert web.hits("mta-sts.wrongname.example") == 0


@pytest.mark.parametrize("domain,reason", [
    ("notfound.example", "HTTP status 404, not 200"),
    ("redirect.example", "HTTP status 301, not 200"),
    ("html.example", "Content-Type text/html, not text/plain"),
    ("notype.example", "Content-Type missing, not text/plain"),
    ("big.example", "the policy is larger than 64 KiB"),
    ("invalid.example", "invalid policy: mode enforce or testing without an mx field"),
    ("noaddr.example", "no address for mta-sts.noaddr.example"),
])
def test_fetch_refused(web, dns, pki, domain, reason):
    assert none_reason(sts(dns, pki, domain)) == reason
    if domain == "redirect.example":  # never followed
        assert web.hits("mta-sts.enforce.example") == 0


# ---- the cache ---------------------------------------------------------------

def test_cached_policy_when_server_goes_away(web, dns, pki, cache_dir):
    web.policy("mta-sts.cache.example", ENFORCE)
    assert sts(dns, pki, "cache.example", cache_dir)[-1] == "source: fetched"
    assert os.listdir(cache_dir) == ["cache.example"]
    assert oct(os.stat(cache_dir).st_mode & 0o777) == "0o700"
    # same id: answered from the cache without a fetch
    assert sts(dns, pki, "cache.example", cache_dir)[-2:] == ["id: cache1", "source: cached"]
    assert web.hits("mta-sts.cache.example") == 1
    # the policy host goes away, the id changes: the cached policy stays
    web.stop()
    dns.remove("_mta-sts.cache.example")
    dns.add("_mta-sts.cache.example", "TXT", '"v=STSv1; id=cache2;"')
    out = sts(dns, pki, "cache.example", cache_dir)
    assert out[0] == "mode: enforce" and out[-2] == "id: cache1", out
    assert out[-1].startswith("source: cached; HTTPS fetch failed"), out
    # the TXT record goes away too (RFC 8461 5.1: an unexpired policy applies)
    dns.remove("_mta-sts.cache.example")
    out = sts(dns, pki, "cache.example", cache_dir)
    assert out[-2:] == ["id: cache1", "source: cached; no _mta-sts TXT record"]
    # without the cache directory there is nothing to fall back on
    assert none_reason(sts(dns, pki, "cache.example")) == "no _mta-sts TXT record"


def test_new_id_refetches(web, dns, pki, cache_dir):
    web.policy("mta-sts.cache.example", ENFORCE)
    assert sts(dns, pki, "cache.example", cache_dir)[-2:] == ["id: cache1", "source: fetched"]
    web.policy("mta-sts.cache.example", TESTING)
    dns.remove("_mta-sts.cache.example")
    dns.add("_mta-sts.cache.example", "TXT", '"v=STSv1; id=cache2;"')
    out = sts(dns, pki, "cache.example", cache_dir)
    assert out[0] == "mode: testing" and out[-2:] == ["id: cache2", "source: fetched"], out
    assert web.hits("mta-sts.cache.example") == 2


def test_expired_policy_is_not_used(web, dns, pki, cache_dir):
    web.policy("mta-sts.expire.example",
               "version: STSv1\nmode: enforce\nmx: mx.expire.example\nmax_age: 1\n")
    assert sts(dns, pki, "expire.example", cache_dir)[-1] == "source: fetched"
    time.sleep(2.1)
    # same id, but max_age ran out: fetched again
    assert sts(dns, pki, "expire.example", cache_dir)[-1] == "source: fetched"
    assert web.hits("mta-sts.expire.example") == 2
    time.sleep(2.1)
    web.route("mta-sts.expire.example", status=404)
    assert none_reason(sts(dns, pki, "expire.example", cache_dir)) == \
        "HTTP status 404, not 200"


def test_garbage_cache_file_is_ignored(web, dns, pki, cache_dir):
    os.makedirs(cache_dir, mode=0o700)
    with open(os.path.join(cache_dir, "enforce.example"), "w") as f:
        f.write("sealpost-mta-sts 1 %d enforce1\nversion: STSv1\nmode: bogus\n" % time.time())
    assert sts(dns, pki, "enforce.example", cache_dir)[-1] == "source: fetched"


def test_usage(dns, pki):
    p = subprocess.run([h.BIN, "mta-sts"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    p = subprocess.run([h.BIN, "mta-sts", "--resolver", "nope", "a.example"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    p = subprocess.run([h.BIN, "mta-sts", "--help"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0 and "usage: sealpost mta-sts" in p.stdout
    assert none_reason(sts(dns, pki, "not_a..domain")) == \
        "not a domain name MTA-STS applies to"


def test_concurrent_lookups_share_one_fetch(web, dns, pki):
    p = subprocess.run([h.BIN, "mta-sts", "--resolver", dns.addr, "--ca-file", pki["ca"],
                        "enforce.example", "testing.example", "ENFORCE.example",
                        "badcert.example", "enforce.example"],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr
    blocks = p.stdout.split("== ")[1:]
    assert [b.splitlines()[0] for b in blocks] == [
        "enforce.example", "testing.example", "ENFORCE.example", "badcert.example",
        "enforce.example"]
    for i in (0, 2, 4):
        assert blocks[i].splitlines()[1:] == [
            "mode: enforce", "mx: mx1.enforce.example", "mx: *.mx.enforce.example",
            "max_age: 86400", "id: enforce1", "source: fetched"]
    assert blocks[1].splitlines()[1] == "mode: testing"
    assert blocks[3].splitlines()[1].startswith("none (HTTPS fetch failed")
    assert web.hits("mta-sts.enforce.example") == 1
    assert web.hits("mta-sts.testing.example") == 1
