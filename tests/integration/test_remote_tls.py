"""Outbound TLS (issue 6, item 3) and retries through the queue: STARTTLS
is used whenever a peer offers it; `destination D tls verify` defers mail
to a peer whose certificate is not valid for the MX name (and delivers
with a valid one, the test CA being the `outbound-ca-file`); `tls require`
defers mail to a peer without STARTTLS; `tls none` never starts TLS; a
4xx peer is retried (`sealpost queue flush`) and then delivered; a
smarthost (`relay via`) gets all mail, with AUTH PLAIN only inside TLS.

Certificates come from a throwaway test CA made with the openssl CLI.
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402
from test_remote import WAIT, env_factory  # noqa: E402,F401

MX = "mx.tls.example"
RECORDS = [("tls.example", "MX", "10 %s." % MX), (MX, "A", "127.0.0.3")]


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_ca(d):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=sealpost test CA", cwd=d)


def make_cert(d, name, host, ca=True):
    """name.pem/name.key for host: signed by the test CA, or self-signed."""
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n" % host)
    if ca:
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + host, cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext, cwd=d)
    else:
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
                 "-subj", "/CN=" + host, "-addext", "subjectAltName=DNS:" + host, cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    os.chmod(d, 0o755)
    make_ca(d)
    out = {"ca": os.path.join(d, "ca.pem"), "good": make_cert(d, "good", MX),
           "self": make_cert(d, "self", MX, ca=False),
           "wrongname": make_cert(d, "wrong", "other.example")}
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)  # the remote process runs unprivileged
    return out


def test_starttls_used_when_offered(env_factory, pki):
    env = env_factory(RECORDS)
    s = env.sink("127.0.0.3", tls=pki["self"])
    qid = env.send(["bob@tls.example"])
    line = env.wait_status(qid, "sent")[0]
    assert "tls=TLSv1.3" in line and "tls-policy=may" in line and "verified=no" in line, line
    assert s.wait_messages(1, WAIT)[0].tls


def test_verify_defers_on_invalid_certificate(env_factory, pki):
    env = env_factory(RECORDS, {"outbound-ca-file": pki["ca"],
                                "destination": "tls.example tls verify"})
    s = env.sink("127.0.0.3", tls=pki["self"])
    qid = env.send(["bob@tls.example"])
    line = env.wait_status(qid, "deferred")[0]
    assert "4.7.5" in line and "not valid" in line, line
    assert s.messages == []


def test_verify_defers_on_wrong_name(env_factory, pki):
    env = env_factory(RECORDS, {"outbound-ca-file": pki["ca"],
                                "destination": "tls.example tls verify"})
    env.sink("127.0.0.3", tls=pki["wrongname"])
    qid = env.send(["bob@tls.example"])
    assert "4.7.5" in env.wait_status(qid, "deferred")[0]


def test_verify_delivers_with_valid_certificate(env_factory, pki):
    env = env_factory(RECORDS, {"outbound-ca-file": pki["ca"],
                                "destination": "tls.example tls verify"})
    s = env.sink("127.0.0.3", tls=pki["good"])
    qid = env.send(["bob@tls.example"])
    line = env.wait_status(qid, "sent")[0]
    assert "tls-policy=verify" in line and "verified=yes" in line, line
    assert s.wait_messages(1, WAIT)[0].tls


def test_require_defers_without_starttls(env_factory):
    env = env_factory(RECORDS, {"destination": "tls.example tls require"})
    s = env.sink("127.0.0.3")
    qid = env.send(["bob@tls.example"])
    line = env.wait_status(qid, "deferred")[0]
    assert "4.7.4" in line and "STARTTLS" in line, line
    assert s.messages == []


def test_none_stays_in_clear(env_factory, pki):
    env = env_factory(RECORDS, {"destination": "tls.example tls none"})
    s = env.sink("127.0.0.3", tls=pki["good"])
    qid = env.send(["bob@tls.example"])
    assert "tls=none" in env.wait_status(qid, "sent")[0]
    assert not s.wait_messages(1, WAIT)[0].tls


def test_4xx_then_success_on_retry(env_factory):
    env = env_factory(RECORDS)
    s = env.sink("127.0.0.3")
    s.rcpt_script["bob@tls.example"] = ["451 4.3.0 greylisted", "250 2.1.5 OK"]
    qid = env.send(["bob@tls.example"])
    assert "451 4.3.0 greylisted" in env.wait_status(qid, "deferred")[0]
    assert h.wait_until(lambda: "%s: deferred" % qid in env.srv.log_text(), WAIT)
    r = env.srv.cli("queue", "flush", qid)
    assert r.returncode == 0, r.stderr
    env.wait_status(qid, "sent")
    assert s.wait_messages(1, WAIT)[0].rcpts == ["bob@tls.example"]
    assert h.wait_until(lambda: not env.srv.queue_files(), WAIT), env.srv.queue_files()


def test_5xx_bounces_to_the_sender(env_factory):
    env = env_factory(RECORDS)
    s = env.sink("127.0.0.3")
    s.rcpt_script["gone@tls.example"] = ["550 5.1.1 no such user here"]
    qid = env.send(["gone@tls.example"], sender="bob@example.test")
    assert "550 5.1.1" in env.wait_status(qid, "bounced")[0]
    notes = env.srv.wait_files("bob", 1, timeout=WAIT)
    assert len(notes) == 1, env.srv.log_tail(30)
    text = h.read_bytes(notes[0]).decode("utf-8", "replace")
    assert "gone@tls.example" in text and "550 5.1.1 no such user here" in text, text[:2000]
    assert s.messages == []


def test_smarthost_with_auth_inside_tls(env_factory, pki, tmp_path):
    auth = tmp_path / "relay.auth"
    auth.write_text("relayuser relay-secret\n")
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(auth), 0o600)
    env = env_factory([], {"outbound-ca-file": pki["ca"]})
    env.srv.set_conf("relay", "via smtp://127.0.0.7:%d auth %s" % (env.port, auth))
    env.srv.stop()
    env.srv.start()
    seen = {}

    def authenticator(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        seen["tls"] = bool(session.ssl)
        seen["login"] = (auth_data.login, auth_data.password)
        return AuthResult(success=True)
    s = env.sink("127.0.0.7", tls=pki["good"], authenticator=authenticator)
    qid = env.send(["anyone@far.example", "other@elsewhere.example"])
    line = env.wait_status(qid, "sent", n=2)[0]
    assert "relay=127.0.0.7[127.0.0.7]" in line and "tls-policy=require" in line, line
    m = s.wait_messages(1, WAIT)[0]
    assert sorted(m.rcpts) == ["anyone@far.example", "other@elsewhere.example"] and m.tls
    assert seen == {"tls": True, "login": (b"relayuser", b"relay-secret")}


def test_smtps_smarthost(env_factory, pki):
    env = env_factory([], {"outbound-ca-file": pki["ca"]})
    env.srv.set_conf("relay", "via smtps://127.0.0.7:%d" % env.port)
    env.srv.stop()
    env.srv.start()
    s = env.sink("127.0.0.7", implicit_tls=pki["good"])
    qid = env.send(["anyone@far.example"])
    line = env.wait_status(qid, "sent")[0]
    assert "tls=TLSv1" in line and "relay=127.0.0.7[127.0.0.7]" in line, line
    assert s.wait_messages(1, WAIT)[0].rcpts == ["anyone@far.example"]
