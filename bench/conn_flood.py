#!/usr/bin/python3
"""Connection flood against one running sealpost (issue 7's benchmark; not a test).

usage: conn_flood.py PORT SERVER_PID [--connections N] [--per-source K]
                     [--window W] [--max-seconds S] [--rcpt ADDR]

Opens N plaintext connections (default 10,000) to 127.0.0.1:PORT, each
socket bound to a source address in 127.0.0.2, 127.0.0.3, ... (K per
address, default 100), at most W connects/banners in flight at once
(default 100: below the listen backlog the SMTP workers really have, 128,
because libevent's evconnlistener_new re-listens with 128 when given -1; a
connection whose handshake completes while that queue is full is dropped by
the server but looks established to a client that waits for the banner), and
waits for each banner, all non-blocking and bounded by S seconds in all
(default 120). Then, with every connection still open, it reads the memory
of the whole server process tree (SERVER_PID and all its descendants:
VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup) and
compares it with the figure before the flood; checks that one ordinary
client (smtplib, source 127.0.0.1) can still send a message to ADDR; and
closes everything. Talks only to 127.0.0.0/8.

Prints one machine-readable line (conn_flood key=value ...) and a short
human summary (lines starting with '#').
"""
import argparse
import errno
import ipaddress
import os
import resource
import selectors
import smtplib
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
BANNER_MAX = 1024  # a banner longer than this counts as malformed


def tree(pid):
    """pid and all its descendants (bounded: at most 4096 processes)."""
    out, todo = [], [pid]
    while todo and len(out) < 4096:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(k) for k in f.read().split())
        except OSError:
            pass
    return out


def mem(pid):
    """(VmRSS, Pss) in KiB summed over the server tree; Pss None if unreadable."""
    rss, pss = 0, 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
        if pss is None:
            continue
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pss = None
    return rss, pss


def nofile_of(pid):
    """Soft 'Max open files' of each process in the tree, as {comm: limit}."""
    out = {}
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{p}/limits") as f:
                for line in f:
                    if line.startswith("Max open files"):
                        out[f"{comm}:{p}"] = line.split()[3]
        except OSError:
            pass
    return out


def raise_nofile(need):
    """Raise our own RLIMIT_NOFILE to at least need if we may; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:  # only a privileged process may raise its hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return need
        except (ValueError, OSError):
            pass
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def source(i, per_source):
    """The i-th connection's source address: 127.0.0.2 upwards, staying in 127/8."""
    a = ipaddress.IPv4Address("127.0.0.2") + i // per_source
    if a not in ipaddress.IPv4Network("127.0.0.0/8") or a == ipaddress.IPv4Address("127.255.255.255"):
        raise SystemExit("conn_flood: too many source addresses for 127.0.0.0/8")
    return str(a)


class Conn:
    __slots__ = ("sock", "buf", "state")

    def __init__(self, sock):
        self.sock, self.buf, self.state = sock, b"", "connecting"


def flood(args):
    sel = selectors.DefaultSelector()
    stats = {"held": 0, "refused_421": 0, "refused_554": 0, "refused_other": 0,
             "reset": 0, "connect_errors": 0, "timeouts": 0, "timeouts_connecting": 0,
             "timeouts_no_banner": 0, "dropped_while_held": 0}
    other_codes, errors = {}, {}
    held, inflight = [], 0
    opened = 0
    t0 = time.monotonic()
    deadline = t0 + args.max_seconds
    last_banner = t0

    def finish(c, outcome):
        nonlocal inflight
        inflight -= 1
        if outcome == "held":
            c.state = "held"
            held.append(c)
            stats["held"] += 1
            return
        sel.unregister(c.sock)
        c.sock.close()
        c.state = "closed"
        stats[outcome] += 1

    while time.monotonic() < deadline:
        while opened < args.connections and inflight < args.window:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((source(opened, args.per_source), 0))
                err = s.connect_ex(("127.0.0.1", args.port))
            except OSError as e:
                err = e.errno
            opened += 1
            if err not in (0, errno.EINPROGRESS):
                errors[errno.errorcode.get(err, str(err))] = errors.get(errno.errorcode.get(err, str(err)), 0) + 1
                stats["connect_errors"] += 1
                s.close()
                continue
            c = Conn(s)
            inflight += 1
            sel.register(s, selectors.EVENT_WRITE, c)
        if opened >= args.connections and inflight == 0:
            break
        for key, ev in sel.select(timeout=min(1.0, max(0.0, deadline - time.monotonic()))):
            c = key.data
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    name = errno.errorcode.get(err, str(err))
                    errors[name] = errors.get(name, 0) + 1
                    finish(c, "reset" if err == errno.ECONNRESET else "connect_errors")
                    continue
                c.state = "banner"
                sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            try:
                data = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                data = None
                name = errno.errorcode.get(e.errno, str(e.errno))
                errors[name] = errors.get(name, 0) + 1
            if c.state == "held":
                if not data:  # the server closed (or reset) a connection it had greeted
                    sel.unregister(c.sock)
                    c.sock.close()
                    c.state = "closed"
                    stats["dropped_while_held"] += 1
                continue
            if not data:
                finish(c, "reset")
                continue
            c.buf += data
            # the reply ends with a line whose fourth octet is a space
            lines = c.buf.split(b"\r\n")
            done = [ln for ln in lines[:-1] if ln[3:4] != b"-"]
            if not done:
                if len(c.buf) > BANNER_MAX:
                    finish(c, "refused_other")
                continue
            code = lines[0][:3]
            last_banner = time.monotonic()
            if code == b"220":
                finish(c, "held")
            elif code in (b"421", b"554"):
                finish(c, "refused_" + code.decode())
            else:
                other_codes[code.decode("ascii", "replace")] = other_codes.get(code.decode("ascii", "replace"), 0) + 1
                finish(c, "refused_other")
    # whatever is still connecting or waiting for its banner has timed out
    for key in list(sel.get_map().values()):
        c = key.data
        if c.state in ("connecting", "banner"):
            stats["timeouts_connecting" if c.state == "connecting" else "timeouts_no_banner"] += 1
            finish(c, "timeouts")
    stats["timeouts"] += args.connections - opened  # never even opened before the deadline
    stats["open_seconds"] = last_banner - t0
    return sel, held, stats, other_codes, errors


def drain_held(sel, held, stats, seconds):
    """Watch the held connections for a bounded time, counting any the server drops."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, ev in sel.select(timeout=max(0.0, min(0.2, end - time.monotonic()))):
            c = key.data
            try:
                data = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = None
            if not data:
                sel.unregister(c.sock)
                c.sock.close()
                c.state = "closed"
                stats["dropped_while_held"] += 1


def extra_client(port, rcpt, timeout):
    """One ordinary client sends one message while the flood holds; ('ok'|error, seconds)."""
    t0 = time.monotonic()
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="extra.flood.test",
                          timeout=timeout, source_address=("127.0.0.1", 0)) as c:
            c.sendmail("extra@flood.test", [rcpt],
                       b"Subject: conn_flood extra client\r\n\r\nsent while the flood held.\r\n")
        return "ok", time.monotonic() - t0
    except (smtplib.SMTPException, OSError) as e:
        return type(e).__name__, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("server_pid", type=int)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--per-source", type=int, default=100,
                    help="connections per source address 127.0.0.2, .3, ...")
    ap.add_argument("--window", type=int, default=100,
                    help="most connects/banners in flight at once")
    ap.add_argument("--max-seconds", type=float, default=120,
                    help="bound on opening the flood and waiting for banners")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to hold before measuring memory")
    ap.add_argument("--rcpt", default="bob@bench.test")
    args = ap.parse_args()
    if not (0 < args.connections <= 200000 and 0 < args.per_source and 0 < args.window
            and 0 < args.max_seconds <= 600 and 0 <= args.settle <= 60):
        ap.error("argument out of range")
    if not os.path.isdir(f"/proc/{args.server_pid}"):
        ap.error(f"no process {args.server_pid}")

    want = args.connections
    soft = raise_nofile(want + 64)
    capped = 0
    if soft < want + 64:
        capped = 1
        args.connections = max(1, soft - 64)
        print(f"# client open-files limit {soft}: flood capped at {args.connections} connections",
              file=sys.stderr)

    limits = nofile_of(args.server_pid)
    workers = [v for k, v in limits.items() if k.startswith("sp-smtp") or k.startswith("smtp")]
    worker_nofile = min((int(v) if v.isdigit() else 1 << 62 for v in workers), default=0)
    time.sleep(0.2)
    rss0, pss0 = mem(args.server_pid)
    sel, held, stats, other_codes, errors = flood(args)
    drain_held(sel, held, stats, args.settle)
    rss1, pss1 = mem(args.server_pid)
    holding = sum(1 for c in held if c.state == "held")
    extra, extra_s = extra_client(args.port, args.rcpt, 30)
    drain_held(sel, held, stats, 0.2)
    still = sum(1 for c in held if c.state == "held")
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()
    time.sleep(1.0)
    rss2, pss2 = mem(args.server_pid)

    per_rss = (rss1 - rss0) / holding if holding else 0
    per_pss = (pss1 - pss0) / holding if holding and pss0 is not None and pss1 is not None else None
    fmt = lambda v: "na" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
    print(f"conn_flood connections={want} opened={args.connections} held={stats['held']} "
          f"holding_at_measure={holding} still_held_after_extra={still} "
          f"refused_421={stats['refused_421']} refused_554={stats['refused_554']} "
          f"refused_other={stats['refused_other']} reset={stats['reset']} "
          f"connect_errors={stats['connect_errors']} timeouts={stats['timeouts']} "
          f"timeouts_connecting={stats['timeouts_connecting']} "
          f"timeouts_no_banner={stats['timeouts_no_banner']} "
          f"dropped_while_held={stats['dropped_while_held']} "
          f"open_seconds={stats['open_seconds']:.2f} "
          f"rss_before_kib={rss0} rss_held_kib={rss1} rss_after_close_kib={rss2} "
          f"per_conn_rss_kib={per_rss:.2f} "
          f"pss_before_kib={fmt(pss0)} pss_held_kib={fmt(pss1)} pss_after_close_kib={fmt(pss2)} "
          f"per_conn_pss_kib={fmt(per_pss)} "
          f"extra_client={extra} extra_client_s={extra_s:.3f} "
          f"server_worker_nofile={worker_nofile} client_nofile={soft} client_capped={capped}")
    print(f"# held {holding} of {want} connections open at once "
          f"({stats['held']} got the 220 banner in {stats['open_seconds']:.1f} s; "
          f"refused: 421 x{stats['refused_421']}, 554 x{stats['refused_554']}, "
          f"other x{stats['refused_other']}{' ' + str(other_codes) if other_codes else ''}, "
          f"reset x{stats['reset']}, connect errors x{stats['connect_errors']}"
          f"{' ' + str(errors) if errors else ''}, no banner in time x{stats['timeouts']} "
          f"({stats['timeouts_connecting']} still connecting, "
          f"{stats['timeouts_no_banner']} connected without a banner))")
    print(f"# server tree memory: VmRSS {rss0} -> {rss1} KiB ({per_rss:.2f} KiB per connection), "
          f"Pss {fmt(pss0)} -> {fmt(pss1)} KiB ({fmt(per_pss)} KiB per connection); "
          f"after closing: VmRSS {rss2} KiB, Pss {fmt(pss2)} KiB")
    print(f"# extra client while flooded: {extra} in {extra_s:.3f} s; "
          f"open-files limits (soft): {' '.join(f'{k}={v}' for k, v in sorted(limits.items()))}")


if __name__ == "__main__":
    main()
