"""Scale-out (issue 7): two sealpost instances on different loopback
addresses share their rate counters through one redis-server (Debian's,
started here on a private port and stopped by its pid), enforce one
per-address limit together, and keep taking mail when Redis goes away."""
import time

import pytest

import sphelpers as h
from redisfix import RedisServer, available
from test_limits import connect, log_has, send_message

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed")

WINDOW = 10  # seconds: connection-rate 6/10s


def instance(make_server, addr, redis):
    return make_server(addr=addr, limits={
        "store": "redis://127.0.0.1:%d" % redis.port, "store-sync": "50ms",
        "connection-rate": "6/%ds" % WINDOW})


def greeting(srv, source):
    s, line = connect(srv, source=source)
    s.close()
    return line


def test_two_instances_share_one_limit_and_survive_redis_loss(make_server):
    redis = RedisServer()
    try:
        a = instance(make_server, "127.0.0.2", redis)
        b = instance(make_server, "127.0.0.3", redis)
        url = "redis://127.0.0.1:%d" % redis.port
        for srv in (a, b):
            assert log_has(srv, "counter store %s connected" % url), srv.log_tail()
        # Start at the beginning of a window so that every try lands in one.
        time.sleep(WINDOW - time.time() % WINDOW + 0.05)
        client = "127.0.0.9"
        first = [greeting(a, client) for _ in range(4)]
        assert all(l.startswith("220 ") for l in first), first
        time.sleep(0.3)  # A's batch reaches Redis
        on_b = []
        for _ in range(3):
            on_b.append(greeting(b, client))
            time.sleep(0.3)
        # 4 on A + 2 on B reach the limit of 6; B refuses the seventh.
        assert [l[:3] for l in on_b] == ["220", "220", "421"], on_b
        assert "slow down" in on_b[2]
        assert log_has(b, "[127.0.0.9]: connection refused: connection-rate 6/%ds" % WINDOW)
        # A learns the cluster count with its next batch: at most one more
        # slips through there (the price of asynchronous counters).
        more_a = []
        for _ in range(2):
            more_a.append(greeting(a, client))
            time.sleep(0.3)
        assert more_a[-1].startswith("421 "), more_a
        # Without Redis the instances count locally, say so, and keep taking mail.
        redis.stop()
        for srv in (a, b):
            assert log_has(srv, "counter store %s unreachable" % url, timeout=10), srv.log_tail()
            with srv.client(source="127.0.0.10") as c:
                assert c.banner.code == 220
                c.ehlo()
                assert send_message(c).code == 250
            assert len(srv.wait_files("bob", 1)) == 1
    finally:
        redis.stop()
