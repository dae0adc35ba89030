#!/usr/bin/python3
"""A second, independent RDP server behind md9: FreeRDP 2.11's shadow server
(freerdp2-shadow-x11, tests/fixtures/shadow_fixture.py) in each of its
security modes x md9 --security mode.

Each case: the shadow server with /sec:SEC (or all protocols), md9-hostsim
with the raw front end, ``md9 run --security MODE``; rdp_probe plays the
Hyper-V host (the vmconnect CR with requestedProtocols 0x0B, then the MCS
Connect-Initial in plaintext, as the host sends it). Then ``md9 doctor``
against the same server in the same mode must reach the same verdict.

    python3 tests/integration/test_servers.py shadow-tls_auto

How the shadow server answers is in tests/fixtures/shadow_fixture.py; what
md9 does with it follows from src/rdp/adapter.c:

    shadow sec \\ md9  auto          tls           rdp            passthrough
    all (default)     OK (TLS)      OK (TLS)      OK (plain)     no: no vmconnect
    tls               OK (TLS)      OK (TLS)      no: refused    no: no vmconnect
    rdp               OK (plain,    no: refused   OK (plain)     no: refused
                      2nd try)
    nla               no: NLA       no: NLA       no: NLA        no: NLA

"plain" is standard RDP security without encryption: the shadow server
turns encryption off for a loopback peer, and md9 reads that in its
Connect-Response (TS_UD_SC_SEC1 NONE/NONE).
"""

import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from md9test import check  # noqa: E402

HOST_REQUESTED = "SSL|HYBRID|HYBRID_EX"   # md9's name for 0x0B

CLOSED_BY_HOST = r"the host closed the channel"
DOCTOR_TLS = ("ok", r"^TLS ok: .* selected SSL; md9 does TLS with it \(TLSv1\.[23] ")
DOCTOR_PLAIN = ("ok", r"^standard RDP security without encryption ok: .* selected "
                      r"RDP; MCS Connect-Response with encryption NONE")
FIX_AUTO = r"; fix: let md9 do TLS with the server: sudo md9 setup --security auto$"
# In tls mode the fix never points to a weaker mode (issue 15).
FIX_TLS = (r"; fix: let the server offer TLS \(xrdp: security_layer=negotiate or tls in "
           r"xrdp\.ini \[Globals\]; FreeRDP shadow: /sec:tls\)$")
NO_VMCONNECT = (r"passthrough: the server selected SSL and did not answer the "
                r"host's plaintext Connect-Initial: it has no vmconnect mode")
NLA = (r"the server requires NLA \(CredSSP\): it %s; md9 cannot do NLA: the "
       r"host has already authenticated the user and passes no credentials on")
FIX_NLA = (r"; fix: let the server accept TLS or standard RDP security without "
           r"NLA \(xrdp: security_layer=negotiate or tls; FreeRDP: /sec:tls\) "
           r"and use md9's auto mode \(sudo md9 setup --security auto\); a "
           r"server that only does NLA cannot work behind md9$")


class Cell:
    def __init__(self, works, asked, selected, host_cc, close, reason=None,
                 tls=False, retried=False, doctor=None):
        self.works = works        # the host gets an MCS Connect-Response
        self.asked = asked        # md9 asked the server for (last try)
        self.selected = selected  # the server's choice (None: it refused)
        self.host_cc = host_cc    # the CC the host sees (None: none)
        self.close = close        # regex: md9's "closed (...)" reason
        self.reason = reason      # regex: md9's one line with cause and fix
        self.tls = tls            # md9 is the server's TLS client
        self.retried = retried    # auto asked again for standard RDP security
        self.doctor = doctor      # md9 doctor's 'rdp security' line


def ok_tls(asked="SSL"):
    return Cell(True, asked, "SSL", "SSL", CLOSED_BY_HOST, tls=True,
                doctor=DOCTOR_TLS)


def ok_plain(asked, retried=False):
    return Cell(True, asked, "RDP", "RDP", CLOSED_BY_HOST, retried=retried,
                doctor=DOCTOR_PLAIN)


def refused(asked, code, fix=FIX_AUTO):
    why = r"the server refused %s: %s" % (re.escape(asked), code)
    return Cell(False, asked, None, "failure " + code, why,
                reason=r"session 1: " + why + r"; passing its answer to the host"
                + fix,
                doctor=("FAIL", r"^refused: .*" + why))


def no_vmconnect():
    return Cell(False, HOST_REQUESTED, "SSL", "SSL", NO_VMCONNECT,
                reason=r"session 1: " + NO_VMCONNECT + r"; fix: sudo md9 setup "
                       r"--security auto \(md9 then does TLS",
                doctor=("FAIL", r"^no vmconnect mode: .*" + NO_VMCONNECT))


def nla(asked, what):
    why = NLA % what
    return Cell(False, asked, "HYBRID" if "selected" in what else None, None, why,
                reason=r"session 1: " + why + FIX_NLA,
                doctor=("FAIL", r"^NLA only: .*" + why))


# (shadow /sec, md9 --security) -> expected outcome.
CELLS = {
    ("all", "auto"): ok_tls(),
    ("all", "tls"): ok_tls(),
    # rdp mode asks RDP; the shadow server selects it and, for a loopback
    # peer, does not encrypt.
    ("all", "rdp"): ok_plain("RDP"),
    # 0x0B -> SSL selected; the plaintext Connect-Initial makes it hang up.
    ("all", "passthrough"): no_vmconnect(),

    ("tls", "auto"): ok_tls(),
    ("tls", "tls"): ok_tls(),
    ("tls", "rdp"): refused("RDP", "SSL_REQUIRED_BY_SERVER"),
    ("tls", "passthrough"): no_vmconnect(),

    # auto asks SSL, is refused with SSL_NOT_ALLOWED_BY_SERVER and asks
    # again for standard RDP security (src/rdp/adapter.c).
    ("rdp", "auto"): ok_plain("RDP", retried=True),
    ("rdp", "tls"): refused("SSL", "SSL_NOT_ALLOWED_BY_SERVER", FIX_TLS),
    ("rdp", "rdp"): ok_plain("RDP"),
    ("rdp", "passthrough"): refused(HOST_REQUESTED, "SSL_NOT_ALLOWED_BY_SERVER"),

    # NLA only: whatever md9 asks, CredSSP is required; md9 has no
    # credentials. The host gets no Connection Confirm: the session ends.
    ("nla", "auto"): nla("SSL", "answered HYBRID_REQUIRED_BY_SERVER"),
    ("nla", "tls"): nla("SSL", "answered HYBRID_REQUIRED_BY_SERVER"),
    ("nla", "rdp"): nla("RDP", "answered HYBRID_REQUIRED_BY_SERVER"),
    ("nla", "passthrough"): nla(HOST_REQUESTED, "selected HYBRID"),
}


def describe_cc(r):
    cc = r.cc or {}
    if cc.get("kind") == "failure":
        return "failure " + cc["failure_name"]
    if cc.get("kind") in ("response", "none"):
        return harness.rdp_probe.protocol_name(cc["selected_protocol"])
    return None


def run_cell(h, sec, mode):
    cell = CELLS[(sec, mode)]
    s = h.shadow(None if sec == "all" else sec)
    hs = h.hostsim()
    m = h.md9(hs, s.port, mode)
    r = h.probe(hs.raw_port)
    what = "freerdp-shadow-cli sec %s, md9 --security %s" % (sec, mode)

    # 1. The host's view.
    if cell.works:
        h.assert_connect_response(r, what)
    else:
        h.assert_no_connect_response(r, what)
    check(describe_cc(r) == cell.host_cc, "%s: the host saw CC %r, expected %r "
          "(%s)" % (what, describe_cc(r), cell.host_cc, r.summary()))

    # 2. md9's account: choice, cause + fix, TLS, relaying, closed.
    closed = m.wait_closed(1)
    if cell.selected is not None:
        m.wait_for_log(r"session 1: host requested %s, md9 \(%s\) asked the "
                       r"server for %s, server selected %s$"
                       % (re.escape(HOST_REQUESTED), mode,
                          re.escape(cell.asked), cell.selected), 1.0)
    if cell.retried:
        m.wait_for_log(r"session 1: the server refused TLS "
                       r"\(SSL_NOT_ALLOWED_BY_SERVER\); asking again for "
                       r"standard RDP security", 1.0)
    if cell.reason:
        m.wait_for_log(cell.reason, 1.0)
    tls = m.find(r"session 1: TLS with the server established \(TLSv1\.[23] ")
    check(bool(tls) == cell.tls, "%s: md9 %s TLS with the server"
          % (what, "did not do" if cell.tls else "unexpectedly did"))
    relaying = m.find(r"session 1: relaying$")
    check(bool(relaying) == cell.works, "%s: md9's 'relaying' line %s"
          % (what, "missing" if cell.works else "unexpected"))
    check(re.fullmatch(cell.close, closed.group("reason")),
          "%s: md9 closed the session with reason %r, expected /%s/"
          % (what, closed.group("reason"), cell.close))
    h.notes.append("%s: %s" % (what, r.summary()))

    # 3. md9 doctor against the same server in the same mode.
    verdict, text = h.doctor(s.port, mode)
    check(verdict == cell.doctor[0] and re.search(cell.doctor[1], text),
          "%s: md9 doctor says %s %r, expected %s /%s/"
          % (what, verdict, text, cell.doctor[0], cell.doctor[1]))
    if cell.retried:
        check("asked again after SSL_NOT_ALLOWED_BY_SERVER" in text,
              "%s: doctor does not say that auto asked again: %r" % (what, text))
    check(s.alive(), "%s: the shadow server died" % what)


CASES = {"shadow-%s_%s" % k: (lambda key: lambda h: run_cell(h, *key))(k)
         for k in CELLS}

if __name__ == "__main__":
    sys.exit(harness.main(CASES))
