"""A recording SMTP sink for the outbound-delivery tests (python3-aiosmtpd,
run with Debian's /usr/bin/python3).

    sink = SmtpSink("127.0.0.2", port, tls=(cert, key)).start()
    sink.rcpt_script["bob@dest.example"] = ["451 4.3.0 try later", "250 OK"]
    ...
    sink.messages    # [Msg(mail_from, rcpts, data, tls, conn, mail_options)]
    sink.connections # connections accepted so far
    sink.stop()

Replies to RCPT come from rcpt_script[address] (consumed one per RCPT,
the last one repeats) else "250 2.1.5 OK"; data_script likewise for the
end of DATA; mail_script for MAIL. tls=(cert, key) offers STARTTLS,
implicit_tls=(cert, key) speaks TLS from the start (smtps); ehlo=False
refuses EHLO (HELO works);
pipelining=True adds PIPELINING to the EHLO keywords; smtputf8=False
leaves SMTPUTF8 out; size=N announces SIZE N. It binds loopback only.
"""
import asyncio
import ssl
import threading
from collections import namedtuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

Msg = namedtuple("Msg", "mail_from rcpts data tls conn mail_options")


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    def _next(self, script, key, default):
        with self.sink.lock:
            lst = script.get(key)
            if not lst:
                return default
            return lst.pop(0) if len(lst) > 1 else lst[0]

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if not self.sink.ehlo:
            return ["502 5.5.1 EHLO not here, try HELO"]
        session.host_name = hostname
        out = list(responses)
        if self.sink.pipelining:
            out.insert(-1, "250-PIPELINING")
        if not self.sink.smtputf8:
            out = [r for r in out if "SMTPUTF8" not in r]
        if self.sink.size is not None:
            out = [r for r in out if "SIZE" not in r]
            out.insert(-1, "250-SIZE %d" % self.sink.size)
        # the last line must be "250 ..." (fix the separator after edits)
        out = [r[:3] + "-" + r[4:] for r in out[:-1]] + [out[-1][:3] + " " + out[-1][4:]]
        return out

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        rep = self._next(self.sink.mail_script, "*", "250 2.1.0 OK")
        if rep.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return rep

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rep = self._next(self.sink.rcpt_script, address.lower(), "250 2.1.5 OK")
        with self.sink.lock:
            self.sink.rcpt_seen.append(address)
        if rep.startswith("250"):
            envelope.rcpt_tos.append(address)
        return rep

    async def handle_DATA(self, server, session, envelope):
        rep = self._next(self.sink.data_script, "*", "250 2.0.0 queued")
        if rep.startswith("250"):
            with self.sink.lock:
                self.sink.messages.append(Msg(envelope.mail_from, list(envelope.rcpt_tos),
                                              envelope.original_content, bool(session.ssl),
                                              id(session), list(envelope.mail_options)))
        if self.sink.data_delay:  # a slow peer: the message is here, the 250 is not yet
            await asyncio.sleep(self.sink.data_delay)
        return rep


class _CountingSMTP(SMTP):
    def connection_made(self, transport):
        with self._sink.lock:
            self._sink.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, sink, **kw):
        self._sink = sink
        super().__init__(_Handler(sink), **kw)

    def factory(self):
        s = _CountingSMTP(self.handler, **self.SMTP_kwargs)
        s._sink = self._sink
        return s

    def _trigger_server(self):
        # The base class connects to the server to check it runs; with TLS
        # offered by STARTTLS a plain connection is fine; skip nothing.
        return super()._trigger_server()


class SmtpSink:
    __test__ = False

    def __init__(self, host, port, tls=None, pipelining=True, smtputf8=True, size=None,
                 hostname="sink.example", authenticator=None, ehlo=True, implicit_tls=None):
        if not host.startswith("127.") and host != "::1":
            raise ValueError("SmtpSink binds loopback addresses only")
        self.host, self.port = host, port
        self.pipelining, self.smtputf8, self.size = pipelining, smtputf8, size
        self.ehlo = ehlo
        self.lock = threading.Lock()
        self.messages, self.rcpt_seen = [], []
        self.connections = 0
        self.rcpt_script, self.data_script, self.mail_script = {}, {}, {}
        self.data_delay = 0  # seconds between receiving a message and answering 250
        kw = {"hostname": host, "port": port, "server_hostname": hostname,
              "enable_SMTPUTF8": True, "decode_data": False, "data_size_limit": 0}
        if authenticator:
            kw.update(authenticator=authenticator, auth_require_tls=True)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            kw["tls_context"] = ctx
        if implicit_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*implicit_tls)
            kw["ssl_context"] = ctx
        self._ctl = _Controller(self, **kw)

    def start(self):
        self._ctl.start()
        return self

    def stop(self):
        try:
            self._ctl.stop()
        except (AssertionError, RuntimeError, asyncio.CancelledError):
            pass

    def wait_messages(self, n, timeout):
        import sphelpers as h
        h.wait_until(lambda: len(self.messages) >= n, timeout)
        return list(self.messages)
