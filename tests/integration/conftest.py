"""Fixtures for the sealpost integration tests.

Every test drives the real server binary ($SEALPOST_BIN, default
<repo>/build/sealpost) over 127.0.0.1 with real clients. A server is set up
with `sealpost init` in a fresh 0755 directory under /tmp (the server drops
privileges to _sealpost/_sealpostq when started as root, so the directory
must be traversable), users are added with `sealpost user add`, and it is
started with `sealpost serve -f`. Each server started by a fixture is
stopped by its own pid (SIGTERM, then SIGKILL to its own process group).
"""
import os
import shutil
import signal
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sphelpers as h  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long-running test (crash/restart, or waiting out delays); "
        "the sanitizer run skips it")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item so fixtures can see failures."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture(scope="session", autouse=True)
def _shared_test_dns():
    """Stops the shared test DNS server (sphelpers.shared_dns) at the end."""
    yield
    h.stop_shared_dns()


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    if not os.path.isfile(h.BIN) or not os.access(h.BIN, os.X_OK):
        pytest.exit("sealpost binary not found at %s (build it with make, or set "
                    "SEALPOST_BIN)" % h.BIN, returncode=1)


class _Servers:
    """Makes servers and stops every one it made (see make_server)."""

    def __init__(self):
        self.made = []

    def __call__(self, users=h.DEFAULT_USERS, conf=None, start=True, limits=None, **kw):
        srv = h.Server(**kw)
        self.made.append(srv)
        srv.init()
        if conf:
            for k, v in conf.items():
                srv.set_conf(k, v)
        if limits:
            srv.set_limits(limits)
        for addr, pw, extra in users:
            srv.add_user(addr, pw, extra)
        if start:
            srv.start()
        return srv

    def finish(self, failed):
        problems = []
        for srv in self.made:
            try:
                srv.stop()
            except Exception as e:  # keep stopping the others
                problems.append("stopping server in %s: %s" % (srv.dir, e))
            bad = srv.sanitizer_lines()
            if bad:
                problems.append("sanitizer report in %s:\n%s" % (srv.log_path, "\n".join(bad[:40])))
        if failed or problems:
            for srv in self.made:
                sys.stderr.write("\n---- tail of %s ----\n%s\n" % (srv.log_path, srv.log_tail(60)))
        elif not os.environ.get("SEALPOST_KEEP"):
            for srv in self.made:
                shutil.rmtree(srv.dir, ignore_errors=True)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def make_server(request):
    """Factory: make_server(users=..., conf=..., start=True) -> h.Server.

    users: list of (address, password or None, [extra addresses]).
    conf: dict of directive -> value (replaces or appends config lines).
    Every server made here is stopped at teardown; the teardown also fails the
    test when a server log shows a sanitizer report.
    """
    servers = _Servers()
    yield servers
    servers.finish(_failed(request))


@pytest.fixture(scope="module")
def _module_server(request):
    """A module may set MODULE_LIMITS = {key: value} for its shared server."""
    servers = _Servers()
    srv = servers(limits=getattr(request.module, "MODULE_LIMITS", None))
    yield srv
    servers.finish(request.session.testsfailed > 0)


@pytest.fixture
def module_server(_module_server, request):
    """One default server shared by a module's tests (for tests that do not
    need a Maildir of their own). A test during which it dies fails, and the
    next test gets it restarted, so one crash does not hide other results."""
    srv = _module_server
    if not srv.running():
        srv.stop()
        srv.start()
    yield srv
    if not srv.running() and not _failed(request):
        pytest.fail("the server died during this test (exit %s):\n%s" % (
            srv.proc.returncode, srv.log_tail(25)), pytrace=False)


@pytest.fixture
def server(make_server):
    """A running server for example.test with the default users (see DEFAULT_USERS)."""
    return make_server()


@pytest.fixture
def tmpdir755():
    d = tempfile.mkdtemp(dir="/tmp", prefix="sealpost-test-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)
