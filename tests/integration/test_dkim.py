"""`sealpost dkim verify|sign|keygen` against an independent DKIM
implementation, Debian's python3-dkim (dkimpy; Ed25519 through
python3-nacl).

Keys come from `sealpost dkim keygen` (one RSA-2048 and one Ed25519 key per
module); the TXT records it prints are served by a TestDNS on 127.0.0.1 for
sealpost, and handed to dkimpy through a dnsfunc reading the same zone data
(dkimpy never touches real DNS). Messages dkimpy signs must verify in
sealpost; messages sealpost signs must verify in dkimpy; tampering must
fail in both.

Documented results checked here: x= passed -> neutral, revoked key ->
permerror, no key -> permerror, SERVFAIL -> temperror, rsa-sha1 -> policy, RSA key under 1024
bits -> policy, several key records -> permerror.
"""
import base64
import os
import re
import subprocess
import sys
import time

import dkim
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from dnsserver import TestDNS  # noqa: E402

DOMAIN = "mail.example"
RUN_TIMEOUT = 30 * h.SLOW

BASE = (b"From: Alice <alice@mail.example>\r\n"
        b"To: Bob <bob@example.net>\r\n"
        b"Subject: lunch\r\n"
        b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
        b"Message-ID: <1@mail.example>\r\n"
        b"\r\n"
        b"Hello Bob.\r\n"
        b"\r\n"
        b"Lunch at  noon?   \r\n")

VARIANTS = {
    "plain": BASE,
    "trailing_blank_lines": BASE + b"\r\n\r\n\r\n",
    "empty_body": BASE.split(b"\r\n\r\n")[0] + b"\r\n\r\n",
    "no_body_at_all": BASE.split(b"\r\n\r\n")[0] + b"\r\n",
    "long_folded_headers": BASE.replace(
        b"Subject: lunch\r\n",
        b"Subject: " + b"word " * 30 + b"\r\n\t  and " + b"more " * 30 + b"\r\n   end\r\n"
        b"References: " + b" ".join(b"<%d@mail.example>" % i for i in range(40)) + b"\r\n"),
    "utf8": BASE.replace(b"Subject: lunch", "Subject: Grüße, 日本 \t ".encode())
    + "Ünïcödé body ✓\r\n".encode(),
    "whitespace_body": BASE + b" \t \r\n\t\r\n  x  \t y \r\n \r\n",
}


def run(args, data=b""):
    p = subprocess.run([h.BIN, "dkim"] + [str(a) for a in args], input=data,
                       capture_output=True, timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def txt_strings(record):
    """A long TXT value as zone-file strings of at most 255 octets."""
    return " ".join('"%s"' % record[i:i + 255] for i in range(0, len(record), 255))


class Zone:
    """Key records for TestDNS (sealpost) and a dnsfunc (dkimpy)."""

    def __init__(self, dns):
        self.dns = dns
        self.txt = {}

    def add(self, selector, record):
        name = "%s._domainkey.%s" % (selector, DOMAIN)
        self.txt.setdefault(name, []).append(record)
        self.dns.add(name, "TXT", txt_strings(record))

    def dnsfunc(self, name, timeout=5):
        recs = self.txt.get(name.decode().rstrip("."), [])
        return recs[0].encode() if len(recs) == 1 else None


def keygen(tmp, selector, *extra):
    path = os.path.join(tmp, selector + ".key")
    rc, out, err = run(["keygen", "--domain", DOMAIN, "--selector", selector, "--key", path]
                       + list(extra))
    assert rc == 0, err
    m = re.fullmatch(r'%s\._domainkey\.%s\. IN TXT \(((?: "[^"]{1,255}")+) \)\n'
                     % (selector, re.escape(DOMAIN)), out.decode())
    assert m, out
    record = "".join(re.findall(r'"([^"]*)"', m.group(1)))
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, "rb") as f:
        return path, f.read(), record


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("dkim"))
    dns = TestDNS([]).start()
    zone = Zone(dns)
    rsa_path, rsa_pem, rsa_rec = keygen(tmp, "rsa")
    ed_path, ed_pem, ed_rec = keygen(tmp, "ed", "--ed25519")
    assert rsa_rec.startswith("v=DKIM1; k=rsa; p=") and len(rsa_rec) > 255
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", ed_rec)
    zone.add("rsa", rsa_rec)
    zone.add("ed", ed_rec)
    zone.add("revoked", "v=DKIM1; k=rsa; p=")
    zone.add("two", rsa_rec)
    zone.add("two", "v=DKIM1; k=rsa; t=y; " + rsa_rec[len("v=DKIM1; k=rsa; "):])
    dns.servfail.add("fail._domainkey." + DOMAIN)
    # dkimpy wants the Ed25519 seed: the last 32 octets of the PKCS#8 DER
    der = base64.b64decode(b"".join(ed_pem.split(b"\n")[1:-2]))
    env = {"tmp": tmp, "dns": dns, "zone": zone, "rsa": rsa_path, "ed": ed_path,
           "pem": {"rsa": rsa_pem, "ed": base64.b64encode(der[-32:])}}
    yield env
    dns.stop()


def verify(env, msg, *extra):
    rc, out, err = run(["verify", "--resolver", env["dns"].addr] + list(extra), msg)
    assert rc == 0, err
    return out.decode().splitlines()


def dkimpy_sign(env, msg, selector, canon=(b"relaxed", b"simple"), **kw):
    algo = b"ed25519-sha256" if selector == "ed" else kw.pop("algo", b"rsa-sha256")
    sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), env["pem"][selector],
                    canonicalize=canon, signature_algorithm=algo, **kw)
    return sig + msg


def dkimpy_verify(env, msg, idx=0):
    d = dkim.DKIM(msg)
    try:
        return d.verify(idx, dnsfunc=env["zone"].dnsfunc)
    except dkim.DKIMException:
        return False


def sp_sign(env, msg, key="rsa", selector=None):
    rc, out, err = run(["sign", "--domain", DOMAIN, "--selector", selector or key,
                        "--key", env[key]], msg)
    assert rc == 0, err
    return out


def line(selector, result):
    return "d=%s s=%s %s" % (DOMAIN, selector, result)


# ---- dkimpy signs, sealpost verifies ----------------------------------------

@pytest.mark.parametrize("canon", [(b"simple", b"simple"), (b"simple", b"relaxed"),
                                   (b"relaxed", b"simple"), (b"relaxed", b"relaxed")])
@pytest.mark.parametrize("sel", ["rsa", "ed"])
def test_dkimpy_signed_verifies(env, sel, canon):
    msg = dkimpy_sign(env, VARIANTS["long_folded_headers"], sel, canon)
    assert verify(env, msg) == [line(sel, "pass")]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dkimpy_signed_variants(env, variant):
    msg = dkimpy_sign(env, VARIANTS[variant], "rsa", (b"relaxed", b"relaxed"))
    msg = dkimpy_sign(env, msg, "ed", (b"simple", b"simple"))
    assert verify(env, msg) == [line("ed", "pass"), line("rsa", "pass")]
    # LF-only input is read as CRLF
    assert verify(env, msg.replace(b"\r\n", b"\n")) == [line("ed", "pass"), line("rsa", "pass")]


def test_dkimpy_tampering(env):
    msg = dkimpy_sign(env, BASE, "ed", (b"relaxed", b"relaxed"))
    assert verify(env, msg.replace(b"Lunch at", b"Lunch by")) == [
        line("ed", "fail (body hash did not verify)")]
    assert verify(env, msg.replace(b"Subject: lunch", b"Subject: dinner")) == [
        line("ed", "fail (signature did not verify)")]
    assert verify(env, msg.replace(b"Subject: lunch", b"Subject:   lunch  ")) == [
        line("ed", "pass")]
    assert verify(env, msg.replace(b"Message-ID:", b"X-Spam: no\r\nMessage-ID:")) == [
        line("ed", "pass")]


def test_length_tag(env):
    msg = dkimpy_sign(env, BASE, "rsa", (b"relaxed", b"relaxed"), length=True)
    assert b"l=" in msg.split(b"\r\n\r\n")[0]
    assert verify(env, msg) == [line("rsa", "pass")]
    assert verify(env, msg + b"appended\r\n") == [line("rsa", "pass (body partly signed (l=))")]
    assert verify(env, msg.replace(b"Hello Bob", b"Hello Bib"))[0].startswith(
        line("rsa", "fail"))
    short = msg.replace(b"Lunch at  noon?   \r\n", b"")
    assert verify(env, short) == [line("rsa", "fail (body shorter than l=)")]


def test_rsa_sha1_is_policy(env):
    msg = dkimpy_sign(env, BASE, "rsa", algo=b"rsa-sha1")
    assert verify(env, msg) == [line("rsa", "policy (rsa-sha1 not trusted (RFC 8301))")]


def test_short_rsa_key_is_policy(env):
    key = os.path.join(env["tmp"], "short.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:768", "-out", key], check=True, capture_output=True,
                   timeout=RUN_TIMEOUT)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True, timeout=RUN_TIMEOUT).stdout
    env["zone"].add("short", "v=DKIM1; p=" + base64.b64encode(der).decode())
    with open(key, "rb") as f:
        pem = f.read()
    msg = dkim.sign(BASE, b"short", DOMAIN.encode(), pem) + BASE
    assert verify(env, msg) == [line("short", "policy (RSA key shorter than 1024 bits)")]


class ExpiringDKIM(dkim.DKIM):
    """dkimpy signing with an x= (dkimpy has no parameter for it)."""
    x = None

    def gen_header(self, fields, *args, **kw):
        i = [k for k, _ in fields].index(b"bh")
        fields.insert(i, (b"x", str(self.x).encode()))
        return super().gen_header(fields, *args, **kw)


def test_expired_and_future(env):
    now = int(time.time())
    d = ExpiringDKIM(BASE)
    d.x = now + 60
    msg = d.sign(b"rsa", DOMAIN.encode(), env["pem"]["rsa"]) + BASE
    assert re.search(rb"x=%d;" % (now + 60), msg)
    assert verify(env, msg) == [line("rsa", "pass")]
    assert verify(env, msg, "--now", now + 61) == [line("rsa", "neutral (signature expired)")]
    assert verify(env, msg, "--now", now - 86400) == [
        line("rsa", "neutral (t= in the future)")]


def test_key_errors(env):
    base = dkimpy_sign(env, BASE, "rsa")
    for sel, want in [("revoked", "permerror (key revoked)"),
                      ("missing", "permerror (no key)"),
                      ("fail", "temperror (key lookup failed)"),
                      ("two", "permerror (several key records)"),
                      ("ed", "permerror (key type does not match a=)")]:
        msg = base.replace(b"s=rsa;", b"s=%s;" % sel.encode(), 1)
        assert verify(env, msg) == [line(sel, want)], sel


def test_no_signature_and_garbage(env):
    assert verify(env, BASE) == ["none"]
    assert verify(env, b"") == ["none"]
    bad = b"DKIM-Signature: v=1; a=rsa-sha256; d=mail.example; s=rsa; s=x\r\n" + BASE
    assert verify(env, bad) == ["d= s= neutral (duplicate tag)"]  # nothing is read
    bad = b"DKIM-Signature: v=1; a=foo; d=mail.example; s=rsa; h=from; b=AA==; bh=AA==\r\n"
    assert verify(env, bad + BASE) == ["d=mail.example s=rsa neutral (unknown algorithm)"]


# ---- sealpost signs, dkimpy verifies ----------------------------------------

@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sealpost_signed_verifies_in_dkimpy(env, variant):
    msg = sp_sign(env, VARIANTS[variant], "rsa")
    assert dkimpy_verify(env, msg)
    msg = sp_sign(env, msg, "ed")
    assert dkimpy_verify(env, msg, 0) and dkimpy_verify(env, msg, 1)
    assert verify(env, msg) == [line("ed", "pass"), line("rsa", "pass")]


def test_sealpost_sign_output(env):
    msg = sp_sign(env, b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n" + BASE)
    field = msg.split(b"\r\nReceived:")[0] + b"\r\n"
    assert msg.endswith(b"\r\n" + BASE)
    assert all(len(ln) <= 78 for ln in field.split(b"\r\n"))
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", field)
    assert b"h=from:from:to:to:subject:subject:date:date:message-id;" in unfolded
    assert b"received" not in unfolded.lower()
    assert b" l=" not in unfolded and b" x=" not in unfolded
    assert re.search(rb" t=\d+;", unfolded)
    assert dkimpy_verify(env, msg)


def test_sealpost_lf_input(env):
    msg = sp_sign(env, BASE.replace(b"\r\n", b"\n"), "ed")
    assert b"\n" not in msg.replace(b"\r\n", b"")
    assert dkimpy_verify(env, msg)


def test_sealpost_signed_tampering(env):
    for key in ("rsa", "ed"):
        msg = sp_sign(env, BASE, key)
        cases = [
            (msg.replace(b"Message-ID:", b"From: Mallory <m@evil.example>\r\nMessage-ID:"),
             False, "fail"),
            (msg.replace(b"To: Bob", b"From: Mallory <m@evil.example>\r\nTo: Bob"), False,
             "fail"),
            (msg.replace(b"Lunch at", b"Lunch by"), False, "fail (body hash did not verify)"),
            (msg.replace(b"Subject: lunch", b"Subject: brunch"), False,
             "fail (signature did not verify)"),
            (msg.replace(b"Message-ID:", b"X-Filter: ok\r\nMessage-ID:"), True, "pass"),
        ]
        for m, ok, want in cases:
            assert dkimpy_verify(env, m) is ok, (key, want)
            got = verify(env, m)
            assert len(got) == 1 and got[0].startswith(line(key, want)), (key, got)


# ---- CLI behaviour ----------------------------------------------------------

def test_keygen_refuses(env):
    path = os.path.join(env["tmp"], "rsa.key")
    rc, out, err = run(["keygen", "--domain", DOMAIN, "--selector", "rsa", "--key", path])
    assert rc == 1 and "exists" in err and out == b""
    rc, _, err = run(["keygen", "--domain", DOMAIN, "--selector", "x", "--bits", "1024",
                      "--key", path + ".new"])
    assert rc == 2 and not os.path.exists(path + ".new")


def test_keygen_default_path(env, tmp_path):
    p = subprocess.run([h.BIN, "dkim", "keygen", "--domain", DOMAIN, "--selector", "d",
                        "--ed25519"], cwd=str(tmp_path), capture_output=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert os.stat(tmp_path / ("%s.d.key" % DOMAIN)).st_mode & 0o777 == 0o600


def test_usage_and_limits(env, tmp_path):
    assert run(["sign", "--domain", DOMAIN, "--selector", "rsa"])[0] == 2
    assert run(["verify", "--now", "soon"])[0] == 2
    assert run(["frobnicate"])[0] == 2
    assert run([])[0] == 2
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"not a key")
    rc, _, err = run(["sign", "--domain", DOMAIN, "--selector", "s", "--key", str(bad)],
                     BASE)
    assert rc == 1 and "no PEM private key" in err
    big = BASE + b"x" * (64 << 20)
    rc, out, err = run(["verify", "--resolver", env["dns"].addr], big)
    assert rc == 1 and "larger than 64 MiB" in err and out == b""
