"""The SPF case table for test_spf.py, written from RFC 7208.

Each Case names its own zone records (all under .example), the client, the
identity and what sealpost must say. `peer` is True when Debian's pyspf
(python3-spf) must agree on the result (and on the explanation when
`peer_exp` is True); otherwise it is a string saying why pyspf is not
asked. `exp` is the exact line 2 expected, or None (not checked).

Client addresses: 192.0.2.10 and 2001:db8::10 (documentation ranges).
PTR cases use 11.0.0.x and 3fff::/20 instead, because libunbound answers
the reverse zones of 192.0.2/24, 198.51.100/24, 203.0.113/24 and
2001:db8::/32 itself (RFC 6303 local zones) and never asks the test DNS.
These addresses are only data in the test zone; nothing contacts them.
"""
from collections import namedtuple

IP4 = "192.0.2.10"
IP6 = "2001:db8::10"
HELO = "mx.client.example"

Case = namedtuple("Case", "id records ip sender helo result exp peer peer_exp helo_identity "
                  "receiver servfail")


def C(id, records, result, ip=IP4, sender=None, helo=HELO, exp=None, peer=True,
      peer_exp=False, helo_identity=False, receiver=None, servfail=()):
    if sender is None:
        sender = "user@%s.example" % id
    return Case(id, records, ip, sender, helo, result, exp, peer, peer_exp, helo_identity,
                receiver, tuple(servfail))


def txt(text):
    """A TXT value in zone form, split into strings of at most 200 octets."""
    return " ".join('"%s"' % text[k:k + 200] for k in range(0, len(text), 200))


def spf(id, text):
    """The TXT record of <id>.example."""
    return ("%s.example" % id, "TXT", txt(text))


def mx_names(owner, n, prefix, match_last):
    recs = []
    for k in range(1, n + 1):
        host = "%s%d.%s" % (prefix, k, owner)
        recs.append((owner, "MX", "%d %s." % (k, host)))
        recs.append((host, "A", IP4 if (match_last and k == n) else "198.51.100.%d" % k))
    return recs


def lookups(id, n):
    """A record with n a: terms, only the last one matching."""
    terms = " ".join("a:h%d.%s.example" % (k, id) for k in range(1, n + 1))
    recs = [spf(id, "v=spf1 %s -all" % terms)]
    for k in range(1, n + 1):
        recs.append(("h%d.%s.example" % (k, id), "A",
                     IP4 if k == n else "198.51.100.%d" % k))
    return recs


CASES = [
    # ---- record selection (4.4, 4.5) ------------------------------------
    C("none-no-record", [("none-no-record.example", "A", "192.0.2.1")], "none"),
    C("none-nxdomain", [], "none"),
    C("none-other-txt", [spf("none-other-txt", "hello world")], "none"),
    C("none-spf10", [spf("none-spf10", "v=spf10 +all")], "none"),
    C("multiple-records", [spf("multiple-records", "v=spf1 +all"),
                           spf("multiple-records", "v=spf1 -all")], "permerror"),
    C("version-case", [spf("version-case", "V=SPF1 ip4:192.0.2.0/24 -ALL")], "pass"),
    C("split-strings", [("split-strings.example", "TXT",
                         '"v=spf1 ip4:192.0.2" ".0/24 -all"')], "pass"),
    # ---- syntax (4.6, 12) ------------------------------------------------
    C("syntax-unknown-mech", [spf("syntax-unknown-mech",
                                  "v=spf1 ip4:192.0.2.0/24 foo:bar.example -all")],
      "permerror"),
    C("syntax-bad-cidr", [spf("syntax-bad-cidr", "v=spf1 ip4:192.0.2.0/33 -all")],
      "permerror"),
    C("syntax-redirect-twice", [spf("syntax-redirect-twice",
                                    "v=spf1 redirect=a.example redirect=b.example")],
      "permerror"),
    C("syntax-exp-twice", [spf("syntax-exp-twice",
                               "v=spf1 -all exp=a.example exp=b.example")], "permerror"),
    C("syntax-error-after-match", [spf("syntax-error-after-match",
                                       "v=spf1 +all ip4:192.0.2.0/99")], "permerror"),
    C("unknown-modifier", [spf("unknown-modifier",
                               "v=spf1 foo=bar ip4:192.0.2.0/24 -all")], "pass"),
    C("mech-case", [spf("mech-case", "v=spf1 IP4:192.0.2.0/24 -ALL")], "pass"),
    # ---- qualifiers and all (4.6.2, 5.1, 4.7) ---------------------------
    C("all-pass", [spf("all-pass", "v=spf1 +all")], "pass"),
    C("all-no-qualifier", [spf("all-no-qualifier", "v=spf1 all")], "pass"),
    C("all-fail", [spf("all-fail", "v=spf1 -all")], "fail"),
    C("all-softfail", [spf("all-softfail", "v=spf1 ~all")], "softfail"),
    C("all-neutral", [spf("all-neutral", "v=spf1 ?all")], "neutral"),
    C("default-neutral", [spf("default-neutral", "v=spf1 ip4:198.51.100.0/24")], "neutral"),
    C("empty-record", [spf("empty-record", "v=spf1")], "neutral"),
    # ---- ip4, ip6 (5.6) --------------------------------------------------
    C("ip4-exact", [spf("ip4-exact", "v=spf1 ip4:192.0.2.10 -all")], "pass"),
    C("ip4-miss", [spf("ip4-miss", "v=spf1 ip4:192.0.2.11 ip4:198.51.100.0/24 -all")], "fail"),
    C("ip4-zero", [spf("ip4-zero", "v=spf1 -ip4:0.0.0.0/0 +all")], "fail"),
    C("ip6-match", [spf("ip6-match", "v=spf1 ip6:2001:db8::/64 -all")], "pass", ip=IP6),
    C("ip6-miss", [spf("ip6-miss", "v=spf1 ip6:2001:db8:1::/48 -all")], "fail", ip=IP6),
    C("ip4-client-ip6-mech", [spf("ip4-client-ip6-mech", "v=spf1 ip6:::/0 -all")], "fail"),
    C("ip6-client-ip4-mech", [spf("ip6-client-ip4-mech", "v=spf1 ip4:0.0.0.0/0 -all")],
      "fail", ip=IP6),
    C("mapped-v4", [spf("mapped-v4", "v=spf1 ip4:192.0.2.0/24 -all")], "pass",
      ip="::ffff:192.0.2.10"),
    C("mapped-v4-not-ip6", [spf("mapped-v4-not-ip6", "v=spf1 ip6:::ffff:0:0/96 -all")],
      "fail", ip="::ffff:192.0.2.10"),
    # ---- a (5.3) ---------------------------------------------------------
    C("a-self", [spf("a-self", "v=spf1 a -all"), ("a-self.example", "A", IP4)], "pass"),
    C("a-other", [spf("a-other", "v=spf1 a:host.a-other.example -all"),
                  ("host.a-other.example", "A", IP4)], "pass"),
    C("a-cidr", [spf("a-cidr", "v=spf1 a/24 -all"), ("a-cidr.example", "A", "192.0.2.99")],
      "pass"),
    C("a-cidr-miss", [spf("a-cidr-miss", "v=spf1 a/28 -all"),
                      ("a-cidr-miss.example", "A", "192.0.2.99")], "fail"),
    C("a-dual-cidr-v6", [spf("a-dual-cidr-v6", "v=spf1 a:h.a-dual-cidr-v6.example/24//64 -all"),
                         ("h.a-dual-cidr-v6.example", "AAAA", "2001:db8::99")], "pass", ip=IP6),
    C("a-dual-cidr-v4", [spf("a-dual-cidr-v4", "v=spf1 a:h.a-dual-cidr-v4.example/24//64 -all"),
                         ("h.a-dual-cidr-v4.example", "A", "192.0.2.99")], "pass"),
    C("a-no-address", [spf("a-no-address", "v=spf1 a:h.a-no-address.example -all"),
                       ("h.a-no-address.example", "TXT", '"no address here"')], "fail"),
    C("a-ip6-client-a-only", [spf("a-ip6-client-a-only", "v=spf1 a -all"),
                              ("a-ip6-client-a-only.example", "A", IP4)], "fail", ip=IP6),
    C("a-ip6-client-aaaa", [spf("a-ip6-client-aaaa", "v=spf1 a -all"),
                            ("a-ip6-client-aaaa.example", "AAAA", IP6)], "pass", ip=IP6),
    # ---- mx (5.4) --------------------------------------------------------
    C("mx-match", [spf("mx-match", "v=spf1 mx -all"),
                   ("mx-match.example", "MX", "10 mx1.mx-match.example."),
                   ("mx1.mx-match.example", "A", IP4)], "pass"),
    C("mx-other", [spf("mx-other", "v=spf1 mx:t.mx-other.example -all"),
                   ("t.mx-other.example", "MX", "5 mail.mx-other.example."),
                   ("mail.mx-other.example", "A", IP4)], "pass"),
    C("mx-cidr", [spf("mx-cidr", "v=spf1 mx/24 -all"),
                  ("mx-cidr.example", "MX", "10 m.mx-cidr.example."),
                  ("m.mx-cidr.example", "A", "192.0.2.200")], "pass"),
    C("mx-miss", [spf("mx-miss", "v=spf1 mx -all"),
                  ("mx-miss.example", "MX", "10 m.mx-miss.example."),
                  ("m.mx-miss.example", "A", "192.0.2.200")], "fail"),
    C("mx-ip6", [spf("mx-ip6", "v=spf1 mx -all"),
                 ("mx-ip6.example", "MX", "10 m.mx-ip6.example."),
                 ("m.mx-ip6.example", "AAAA", IP6)], "pass", ip=IP6),
    C("mx-10-names", [spf("mx-10-names", "v=spf1 mx -all")]
      + mx_names("mx-10-names.example", 10, "m", True), "pass"),
    C("mx-11-names", [spf("mx-11-names", "v=spf1 mx -all")]
      + mx_names("mx-11-names.example", 11, "m", True), "permerror"),
    # ---- ptr (5.5) -------------------------------------------------------
    C("ptr-match", [spf("ptr-match", "v=spf1 ptr -all"),
                    ("9.0.0.11.in-addr.arpa", "PTR", "host.ptr-match.example."),
                    ("host.ptr-match.example", "A", "11.0.0.9")], "pass", ip="11.0.0.9"),
    C("ptr-not-validated", [spf("ptr-not-validated", "v=spf1 ptr -all"),
                            ("10.0.0.11.in-addr.arpa", "PTR", "host.ptr-not-validated.example."),
                            ("host.ptr-not-validated.example", "A", "11.0.0.99")], "fail",
      ip="11.0.0.10"),
    C("ptr-other-domain", [spf("ptr-other-domain", "v=spf1 ptr:ptr-match.example -all")],
      "pass", ip="11.0.0.9"),
    C("ptr-wrong-domain", [spf("ptr-wrong-domain", "v=spf1 ptr -all")], "fail", ip="11.0.0.9"),
    C("ptr-ip6", [spf("ptr-ip6", "v=spf1 ptr -all"),
                  ("9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.f.f.f.3.ip6.arpa",
                   "PTR", "h6.ptr-ip6.example."),
                  ("h6.ptr-ip6.example", "AAAA", "3fff::9")], "pass", ip="3fff::9"),
    # ---- exists (5.7) and macros in it (7) -------------------------------
    C("exists-ip", [spf("exists-ip", "v=spf1 exists:%{i}.ex.exists-ip.example -all"),
                    ("192.0.2.10.ex.exists-ip.example", "A", "127.0.0.2")], "pass"),
    C("exists-miss", [spf("exists-miss", "v=spf1 exists:%{i}.ex.exists-miss.example -all"),
                      ("192.0.2.11.ex.exists-miss.example", "A", "127.0.0.2")], "fail"),
    C("exists-local", [spf("exists-local", "v=spf1 exists:%{l}._spf.%{d} -all"),
                       ("alice._spf.exists-local.example", "A", "127.0.0.2")], "pass",
      sender="alice@exists-local.example"),
    C("exists-local-miss", [spf("exists-local-miss", "v=spf1 exists:%{l}._spf.%{d} -all"),
                            ("alice._spf.exists-local-miss.example", "A", "127.0.0.2")],
      "fail", sender="bob@exists-local-miss.example"),
    C("exists-ir-v-d2", [("mail.exists-ir-v-d2.example", "TXT",
                          '"v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"'),
                         ("10.2.0.192.in-addr._spf.exists-ir-v-d2.example", "A", "127.0.0.2")],
      "pass", sender="user@mail.exists-ir-v-d2.example"),
    C("exists-ip6-nibbles", [spf("exists-ip6-nibbles", "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all"),
                             ("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
                              ".ip6._spf.exists-ip6-nibbles.example", "A", "127.0.0.2")],
      "pass", ip=IP6),
    C("exists-helo", [spf("exists-helo", "v=spf1 exists:%{h}.helos.%{d} -all"),
                      ("mx.client.example.helos.exists-helo.example", "A", "127.0.0.2")],
      "pass"),
    C("exists-sender-o", [spf("exists-sender-o", "v=spf1 exists:%{l}.at.%{o} -all"),
                          ("user.at.exists-sender-o.example", "A", "127.0.0.2")], "pass"),
    C("exists-upper-escape", [spf("exists-upper-escape", "v=spf1 exists:%{L}.esc.%{d} -all"),
                              ("a%2Bb.esc.exists-upper-escape.example", "A", "127.0.0.2")],
      "pass", sender="a+b@exists-upper-escape.example"),
    C("exists-delims", [spf("exists-delims", "v=spf1 exists:%{l1r+-}.dl.%{d} -all"),
                        ("first.dl.exists-delims.example", "A", "127.0.0.2")], "pass",
      sender="first-second+tag@exists-delims.example"),
    C("a-macro", [spf("a-macro", "v=spf1 a:%{l}.users.%{d} -all"),
                  ("carol.users.a-macro.example", "A", IP4)], "pass",
      sender="carol@a-macro.example"),
    C("p-macro", [spf("p-macro", "v=spf1 exists:%{p}.pm.%{d} -all"),
                  ("host.ptr-match.example.pm.p-macro.example", "A", "127.0.0.2")], "pass",
      ip="11.0.0.9"),
    C("p-macro-unknown", [spf("p-macro-unknown", "v=spf1 exists:%{p}.pm.%{d} -all"),
                          ("unknown.pm.p-macro-unknown.example", "A", "127.0.0.2")], "pass",
      ip="11.0.0.10"),
    # ---- include (5.2) ---------------------------------------------------
    C("include-pass", [spf("include-pass", "v=spf1 include:t.include-pass.example -all"),
                       ("t.include-pass.example", "TXT", '"v=spf1 ip4:192.0.2.10 -all"')],
      "pass"),
    C("include-fail-continues", [spf("include-fail-continues",
                                     "v=spf1 include:t.include-fail-continues.example ?all"),
                                 ("t.include-fail-continues.example", "TXT", '"v=spf1 -all"')],
      "neutral"),
    C("include-softfail", [spf("include-softfail",
                               "v=spf1 include:t.include-softfail.example -all"),
                           ("t.include-softfail.example", "TXT", '"v=spf1 ~all"')], "fail"),
    C("include-neutral", [spf("include-neutral", "v=spf1 include:t.include-neutral.example ~all"),
                          ("t.include-neutral.example", "TXT", '"v=spf1 ?all"')], "softfail"),
    C("include-none", [spf("include-none", "v=spf1 include:t.include-none.example +all"),
                       ("t.include-none.example", "A", "192.0.2.1")], "permerror"),
    C("include-nxdomain", [spf("include-nxdomain", "v=spf1 include:nothing.example +all")],
      "permerror"),
    C("include-permerror", [spf("include-permerror",
                                "v=spf1 include:t.include-permerror.example +all"),
                            ("t.include-permerror.example", "TXT", '"v=spf1 bogus"')],
      "permerror"),
    C("include-temperror", [spf("include-temperror",
                                "v=spf1 include:t.include-temperror.example +all"),
                            ("t.include-temperror.example", "TXT", '"v=spf1 +all"')],
      "temperror", servfail=["t.include-temperror.example"]),
    C("include-nested", [spf("include-nested", "v=spf1 include:b.include-nested.example -all"),
                         ("b.include-nested.example", "TXT",
                          '"v=spf1 include:c.include-nested.example -all"'),
                         ("c.include-nested.example", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')],
      "pass"),
    C("include-macro", [spf("include-macro", "v=spf1 include:_spf.%{d} -all"),
                        ("_spf.include-macro.example", "TXT", '"v=spf1 ip4:192.0.2.10 -all"')],
      "pass"),
    C("include-d-changes", [spf("include-d-changes", "v=spf1 include:t.include-d-changes.example -all"),
                            ("t.include-d-changes.example", "TXT",
                             '"v=spf1 exists:%{d}.chk.example -all"'),
                            ("t.include-d-changes.example.chk.example", "A", "127.0.0.2")],
      "pass"),
    # ---- redirect (6.1) --------------------------------------------------
    C("redirect-pass", [spf("redirect-pass", "v=spf1 redirect=t.redirect-pass.example"),
                        ("t.redirect-pass.example", "TXT", '"v=spf1 ip4:192.0.2.10 -all"')],
      "pass"),
    C("redirect-fail", [spf("redirect-fail", "v=spf1 redirect=t.redirect-fail.example"),
                        ("t.redirect-fail.example", "TXT", '"v=spf1 -all"')], "fail"),
    C("redirect-ignored-with-all", [spf("redirect-ignored-with-all",
                                        "v=spf1 ?all redirect=t.redirect-fail.example")],
      "neutral"),
    C("redirect-none", [spf("redirect-none", "v=spf1 redirect=t.redirect-none.example"),
                        ("t.redirect-none.example", "A", "192.0.2.1")], "permerror"),
    C("redirect-macro", [spf("redirect-macro", "v=spf1 redirect=_spf.%{d}"),
                         ("_spf.redirect-macro.example", "TXT", '"v=spf1 ip4:192.0.2.10 -all"')],
      "pass"),
    C("redirect-after-match", [spf("redirect-after-match",
                                   "v=spf1 ip4:192.0.2.10 redirect=t.redirect-fail.example")],
      "pass"),
    C("redirect-first-term", [spf("redirect-first-term",
                                  "v=spf1 redirect=t.redirect-fail.example ip4:192.0.2.10")],
      "pass"),
    # ---- exp (6.2) ---------------------------------------------------------
    C("exp-basic", [spf("exp-basic", "v=spf1 -all exp=explain.exp-basic.example"),
                    ("explain.exp-basic.example", "TXT",
                     '"%{i} is not one of %{d}\'s designated mail servers."')], "fail",
      exp="192.0.2.10 is not one of exp-basic.example's designated mail servers.",
      peer_exp=True),
    C("exp-letters", [spf("exp-letters", "v=spf1 -all exp=e.%{d}"),
                      ("e.exp-letters.example", "TXT",
                       '"See http://%{d}/why.html?s=%{S}&i=%{I} for %{l} via %{c} at %{r}"')],
      "fail", receiver="rcv.example",
      exp="See http://exp-letters.example/why.html?s=user%40exp-letters.example&i=192.0.2.10 "
          "for user via 192.0.2.10 at rcv.example", peer_exp=True),
    C("exp-ip6-c", [spf("exp-ip6-c", "v=spf1 -all exp=e.exp-ip6-c.example"),
                    ("e.exp-ip6-c.example", "TXT", '"%{c} may not send (%{v})"')], "fail",
      ip=IP6, exp="2001:db8::10 may not send (ip6)", peer_exp=True),
    C("exp-escapes", [spf("exp-escapes", "v=spf1 -all exp=e.exp-escapes.example"),
                      ("e.exp-escapes.example", "TXT", '"100%% sure%_of%-it"')], "fail",
      exp="100% sure of%20it", peer_exp=True),
    C("exp-missing", [spf("exp-missing", "v=spf1 -all exp=nothere.exp-missing.example")],
      "fail", exp="exp-missing.example does not designate 192.0.2.10 as permitted sender"),
    C("exp-two-txt", [spf("exp-two-txt", "v=spf1 -all exp=e.exp-two-txt.example"),
                      ("e.exp-two-txt.example", "TXT", '"one"'),
                      ("e.exp-two-txt.example", "TXT", '"two"')], "fail",
      exp="exp-two-txt.example does not designate 192.0.2.10 as permitted sender"),
    C("exp-redirect", [spf("exp-redirect",
                           "v=spf1 exp=orig.exp-redirect.example redirect=t.exp-redirect.example"),
                       ("orig.exp-redirect.example", "TXT", '"original explanation"'),
                       ("t.exp-redirect.example", "TXT",
                        '"v=spf1 -all exp=e.t.exp-redirect.example"'),
                       ("e.t.exp-redirect.example", "TXT", '"target explanation for %{d}"')],
      "fail", exp="target explanation for t.exp-redirect.example", peer_exp=True),
    C("exp-redirect-target-none", [spf("exp-redirect-target-none",
                                       "v=spf1 exp=orig.exp-redirect-target-none.example "
                                       "redirect=t.exp-redirect-target-none.example"),
                                   ("orig.exp-redirect-target-none.example", "TXT",
                                    '"original explanation"'),
                                   ("t.exp-redirect-target-none.example", "TXT",
                                    '"v=spf1 -all"')], "fail",
      exp="exp-redirect-target-none.example does not designate 192.0.2.10 as permitted sender"),
    C("exp-include-ignored", [spf("exp-include-ignored",
                                  "v=spf1 include:t.exp-include-ignored.example -all "
                                  "exp=top.exp-include-ignored.example"),
                              ("top.exp-include-ignored.example", "TXT", '"top explanation"'),
                              ("t.exp-include-ignored.example", "TXT",
                               '"v=spf1 -all exp=inner.exp-include-ignored.example"'),
                              ("inner.exp-include-ignored.example", "TXT",
                               '"inner explanation"')], "fail", exp="top explanation",
      peer_exp=True),
    C("exp-softfail-unused", [spf("exp-softfail-unused",
                                  "v=spf1 ~all exp=e.exp-softfail-unused.example"),
                              ("e.exp-softfail-unused.example", "TXT", '"not for softfail"')],
      "softfail", exp="exp-softfail-unused.example does not designate 192.0.2.10 as permitted "
                      "sender (softfail)"),
    C("exp-p-macro", [spf("exp-p-macro", "v=spf1 -all exp=e.exp-p-macro.example"),
                      ("e.exp-p-macro.example", "TXT", '"%{p} is not allowed"')], "fail",
      ip="11.0.0.9", exp="host.ptr-match.example is not allowed", peer_exp=True),
    # ---- limits (4.6.4) --------------------------------------------------
    C("lookups-10", lookups("lookups-10", 10), "pass"),
    C("lookups-11", lookups("lookups-11", 11), "permerror"),
    C("lookups-include-11", [spf("lookups-include-11",
                                 "v=spf1 include:i1.lookups-include-11.example -all")]
      + [("i%d.lookups-include-11.example" % k, "TXT",
          '"v=spf1 include:i%d.lookups-include-11.example -all"' % (k + 1)) for k in range(1, 11)]
      + [("i11.lookups-include-11.example", "TXT", '"v=spf1 +all"')], "permerror"),
    C("lookups-redirect-10", [spf("lookups-redirect-10",
                                  "v=spf1 redirect=r1.lookups-redirect-10.example")]
      + [("r%d.lookups-redirect-10.example" % k, "TXT",
          '"v=spf1 redirect=r%d.lookups-redirect-10.example"' % (k + 1)) for k in range(1, 10)]
      + [("r10.lookups-redirect-10.example", "TXT", '"v=spf1 +all"')], "pass"),
    C("void-2", [spf("void-2", "v=spf1 a:nx1.void-2.example a:nx2.void-2.example "
                               "ip4:192.0.2.10 -all")], "pass"),
    C("void-3", [spf("void-3", "v=spf1 a:nx1.void-3.example a:nx2.void-3.example "
                               "a:nx3.void-3.example ip4:192.0.2.10 -all")], "permerror"),
    C("void-3-mixed", [spf("void-3-mixed", "v=spf1 exists:nx1.void-3-mixed.example "
                                           "mx:nx2.void-3-mixed.example "
                                           "a:nx3.void-3-mixed.example +all")], "permerror"),
    # ---- DNS errors ------------------------------------------------------
    C("servfail-record", [spf("servfail-record", "v=spf1 +all")], "temperror",
      servfail=["servfail-record.example"]),
    C("servfail-a", [spf("servfail-a", "v=spf1 a:sf.servfail-a.example +all"),
                     ("sf.servfail-a.example", "A", IP4)], "temperror",
      servfail=["sf.servfail-a.example"]),
    C("servfail-mx-host", [spf("servfail-mx-host", "v=spf1 mx +all"),
                           ("servfail-mx-host.example", "MX", "10 m.servfail-mx-host.example."),
                           ("m.servfail-mx-host.example", "A", IP4)], "temperror",
      servfail=["m.servfail-mx-host.example"]),
    C("ptr-servfail", [spf("ptr-servfail", "v=spf1 ptr ?all")], "neutral", ip="11.0.0.11",
      servfail=["11.0.0.11.in-addr.arpa"],
      peer="RFC 7208 5.5: a DNS error on the PTR lookup makes ptr not match; pyspf "
           "ends the check with temperror"),
    C("mx-hosts-void", [spf("mx-hosts-void", "v=spf1 mx +all")]
      + [("mx-hosts-void.example", "MX", "%d nx%d.mx-hosts-void.example." % (k, k))
         for k in range(1, 4)], "pass",
      peer="void lookups are counted per term (RFC 7208 4.6.4: the MX query here); "
           "pyspf also counts each MX host's empty address lookup and says permerror"),
    # ---- identities (2.3, 2.4, 4.3) --------------------------------------
    C("helo-null-sender", [("helo.helo-null-sender.example", "TXT",
                            '"v=spf1 ip4:192.0.2.10 -all"')], "pass", sender="",
      helo="helo.helo-null-sender.example"),
    C("helo-identity", [("helo.helo-identity.example", "TXT", '"v=spf1 ip4:192.0.2.10 -all"'),
                        spf("helo-identity", "v=spf1 -all")], "pass",
      helo="helo.helo-identity.example", helo_identity=True),
    C("helo-single-label", [], "none", sender="", helo="localhost"),
    C("sender-no-local", [spf("sender-no-local", "v=spf1 -all exp=e.sender-no-local.example"),
                          ("e.sender-no-local.example", "TXT", '"%{s} %{l} %{o}"')], "fail",
      sender="@sender-no-local.example",
      exp="postmaster@sender-no-local.example postmaster sender-no-local.example",
      # pyspf expands %{s} to the sender as given ("@sender-no-local.example");
      # RFC 7208 4.3 substitutes "postmaster" for the missing local part of
      # <sender> itself, which is what %{s} is. Results agree.
      peer_exp=False),
    C("sender-bad-label", [], "none",
      sender="user@" + "x" * 64 + ".example"),
    # 4.8/7.3: an expansion past 253 octets loses labels on the left
    C("macro-trim", [spf("macro-trim", "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.t.example -all"),
                     (".".join(["a" * 62] * 3) + ".t.example", "A", "127.0.0.2")], "pass",
      sender="a" * 62 + "@macro-trim.example",
      peer="pyspf raises dns.name.NameTooLong on the 324-octet expansion instead of "
           "trimming it as RFC 7208 4.8 says"),
]
