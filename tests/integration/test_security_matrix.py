#!/usr/bin/python3
"""md9 --security mode x xrdp security_layer, end to end.

Each case: a private xrdp (security_layer=LAYER, its own xrdp.ini copy, a
free port on 127.0.0.1), md9-hostsim with the raw front end, and
``md9 run --security MODE``.  rdp_probe plays the Hyper-V host through the
raw port: the vmconnect X.224 Connection Request (requestedProtocols 0x0B =
SSL|HYBRID|HYBRID_EX, the seed's frame 1), then -- whatever the CC selected --
the MCS Connect-Initial in plaintext (the seed's frame 3).

    python3 tests/integration/test_security_matrix.py LAYER_MODE  (e.g. tls_auto)

How xrdp 0.9.21 answers a Connection Request (libxrdp/xrdp_iso.c,
xrdp_iso_negotiate_security(); security_layer from xrdp_rdp.c):

    security_layer=rdp        -> PROTOCOL_RDP:  always selects RDP, whatever
                                 was requested; it never answers
                                 SSL_NOT_ALLOWED_BY_SERVER.
    security_layer=tls        -> PROTOCOL_SSL:  selects SSL when SSL was
                                 requested, otherwise RDP_NEG_FAILURE
                                 SSL_REQUIRED_BY_SERVER (and closes).
    security_layer=negotiate  -> SSL|HYBRID|HYBRID_EX: selects SSL when SSL
                                 was requested, otherwise RDP (no CredSSP).

When xrdp selected SSL it waits for a TLS ClientHello; plaintext there makes
it send an MCS Disconnect-Provider-Ultimatum and reset the connection.

What md9 asks the server for (src/rdp/adapter.c): auto and tls ask for SSL, rdp
asks for RDP, passthrough forwards the host's 0x0B.

Outcome (MATRIX below is the authoritative table, one comment per row):

    layer \ md9  auto          tls           rdp             passthrough
    negotiate    OK (TLS)      OK (TLS)      OK (plain RDP)  no: SSL selected,
                                                             plaintext CI
    tls          OK (TLS)      OK (TLS)      no: refused,    no: SSL selected,
                                             SSL_REQUIRED    plaintext CI
    rdp          OK (plain)    no: server    OK (plain)      OK (plain)
                               selected RDP
"""

import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from md9test import check  # noqa: E402

HOST_REQUESTED = "SSL|HYBRID|HYBRID_EX"   # md9's name for 0x0B

class Row:
    def __init__(self, works, asked, selected, xrdp_selected, host_cc,
                 close, reason=None, tls=False, relays=None):
        self.works = works                  # MCS Connect-Response reaches the host
        # md9 got to relaying (logs "relaying"): every working row, and rows
        # where the server fails only after the Connect-Initial.
        self.relays = works if relays is None else relays
        self.asked = asked                  # md9 asked the server for
        self.selected = selected            # server's choice; None = refused
        self.xrdp_selected = xrdp_selected  # xrdp log: "... selected [X]"
        self.host_cc = host_cc              # CC the host must see (None: none)
        self.close = close                  # regex: md9 "closed (...)" reason
        self.reason = reason                # regex: md9 line naming the reason
        self.tls = tls                      # md9 is the server's TLS client


CLOSED_BY_HOST = r"the host closed the channel"
# xrdp resets after its DPUM; md9 drains what xrdp sent to the host, which
# may close first.
SERVER_RESET = (r"reading from the server failed: Connection reset by peer"
                r"|the server closed the connection|" + CLOSED_BY_HOST)
PASSTHROUGH_WARNING = (
    r"session 1: passthrough: the server selected SSL; the host sends "
    r"plaintext, so this only works if the server runs in vmconnect mode")

# (xrdp security_layer, md9 --security): expected outcome, measured and
# explained by the rules above.
MATRIX = {
    # negotiate: md9 asks SSL -> xrdp selects SSL -> md9 does TLS with xrdp;
    # the host's plaintext Connect-Initial goes inside that TLS.
    ("negotiate", "auto"): Row(True, "SSL", "SSL", "SSL", "SSL",
                               CLOSED_BY_HOST, tls=True),
    # tls mode asks SSL too; xrdp selects SSL, which tls mode requires.
    ("negotiate", "tls"): Row(True, "SSL", "SSL", "SSL", "SSL",
                              CLOSED_BY_HOST, tls=True),
    # rdp mode asks RDP -> negotiate falls back to RDP (standard RDP
    # security, crypt_level=high); the plaintext Connect-Initial is right.
    ("negotiate", "rdp"): Row(True, "RDP", "RDP", "RDP", "RDP",
                              CLOSED_BY_HOST),
    # passthrough forwards 0x0B -> xrdp selects SSL and waits for a
    # ClientHello; the host sends plaintext: the seed's bug, reproduced.
    # md9 warns; xrdp answers with a DPUM and a reset.
    ("negotiate", "passthrough"): Row(
        False, HOST_REQUESTED, "SSL", "SSL", "SSL", SERVER_RESET,
        reason=PASSTHROUGH_WARNING, relays=True),

    # tls: SSL requested -> SSL selected -> md9 does TLS.
    ("tls", "auto"): Row(True, "SSL", "SSL", "SSL", "SSL", CLOSED_BY_HOST,
                         tls=True),
    ("tls", "tls"): Row(True, "SSL", "SSL", "SSL", "SSL", CLOSED_BY_HOST,
                        tls=True),
    # rdp mode asks RDP -> xrdp refuses: RDP_NEG_FAILURE
    # SSL_REQUIRED_BY_SERVER, which md9 passes to the host, then ends.
    ("tls", "rdp"): Row(
        False, "RDP", None, "", "failure SSL_REQUIRED_BY_SERVER",
        r"the server refused RDP: SSL_REQUIRED_BY_SERVER",
        reason=r"session 1: the server refused RDP: SSL_REQUIRED_BY_SERVER; "
               r"passing its answer to the host"),
    # passthrough: as with negotiate, xrdp selects SSL: the seed's bug.
    ("tls", "passthrough"): Row(
        False, HOST_REQUESTED, "SSL", "SSL", "SSL", SERVER_RESET,
        reason=PASSTHROUGH_WARNING, relays=True),

    # rdp: xrdp selects RDP whatever was asked, and never refuses SSL, so
    # auto's retry (on SSL_NOT_ALLOWED_BY_SERVER) is not needed: plain relay.
    ("rdp", "auto"): Row(True, "SSL", "RDP", "RDP", "RDP", CLOSED_BY_HOST),
    # tls mode needs SSL; xrdp selected RDP: md9 ends the session at once
    # (ADAPTER_FAIL, src/rdp/adapter.c), the host gets no CC at all.
    ("rdp", "tls"): Row(
        False, "SSL", "RDP", "RDP", None,
        r"the server did not select TLS, which --security tls requires "
        r"\(use auto\)",
        reason=r"session 1: closed \(the server did not select TLS"),
    ("rdp", "rdp"): Row(True, "RDP", "RDP", "RDP", "RDP", CLOSED_BY_HOST),
    # passthrough forwards 0x0B; xrdp selects RDP: plaintext is right.
    ("rdp", "passthrough"): Row(True, HOST_REQUESTED, "RDP", "RDP", "RDP",
                                CLOSED_BY_HOST),
}

HOSTSIM_CLOSED = (r"hostsim raw 1: closed \((?P<why>.*)\): (?P<to_guest>\d+) "
                  r"bytes to the guest, (?P<to_client>\d+) bytes to the client")


def describe_cc(r):
    cc = r.cc or {}
    if cc.get("kind") == "failure":
        return "failure " + cc["failure_name"]
    if cc.get("kind") in ("response", "none"):
        return rdp_probe_name(cc["selected_protocol"])
    return None


def rdp_probe_name(p):
    return harness.rdp_probe.protocol_name(p)


def run_cell(h, layer, mode):
    row = MATRIX[(layer, mode)]
    x, hs, m = h.stack(layer, mode)
    r = h.probe(hs.raw_port)
    what = "security_layer=%s, md9 --security %s" % (layer, mode)

    # 1. The host's view: Connect-Response or not.
    if row.works:
        h.assert_connect_response(r, what)
        check(r.tls is False, "%s: the probe must stay plaintext" % what)
    else:
        h.assert_no_connect_response(r, what)

    # 2. md9's session lines: opened (mode), choice (selected), reason, closed.
    m.wait_for_log(r"session 1: opened on data channel [0-9a-f-]{36} \(server "
                   r"tcp:127\.0\.0\.1:%d, security %s\)" % (x.port, mode))
    closed = m.wait_closed(1)
    if row.selected is not None:
        m.wait_for_log(
            r"session 1: host requested %s, md9 \(%s\) asked the server for "
            r"%s, server selected %s$" % (re.escape(HOST_REQUESTED), mode,
                                          re.escape(row.asked),
                                          re.escape(row.selected)), 1.0)
    else:
        check(not m.find(r"session 1: host requested .* server selected"),
              "%s: md9 logged a selected protocol although the server "
              "refused" % what)
    if row.reason:
        m.wait_for_log(row.reason, 1.0)
    tls_lines = m.find(r"session 1: TLS with the server established "
                       r"\(TLSv1\.[23] ")
    check(bool(tls_lines) == row.tls, "%s: md9 %s TLS with the server" % (
        what, "did not do" if row.tls else "unexpectedly did"))
    relaying = m.find(r"session 1: relaying$")
    check(bool(relaying) == row.relays,
          "%s: md9's 'relaying' line %s" % (
              what, "missing" if not relaying else "unexpected"))
    check(re.fullmatch(row.close, closed.group("reason")),
          "%s: md9 closed the session with reason %r, expected /%s/"
          % (what, closed.group("reason"), row.close))
    if row.selected == "RDP" and r.sent_ci:
        # md9 patches clientCoreData.serverSelectedProtocol: the probe sends
        # 1 (SSL, as the seed), xrdp chose RDP (0).
        m.wait_for_log(r"serverSelectedProtocol 1 -> 0", 1.0)

    # 3. xrdp's own account of the negotiation (the rule quoted above).
    x.wait_for_log(r"Security protocol: configured \[[A-Z|]*\], requested "
                   r"\[%s\], selected \[%s\]" % (
                       re.escape(xrdp_requested(row.asked)),
                       re.escape(row.xrdp_selected)), timeout=5.0)

    # 4. Byte counters: md9's "closed" line against what the probe sent and
    #    what hostsim (the host) delivered.
    hsc = hs.log.wait_for(HOSTSIM_CLOSED, harness.LOG_TIMEOUT)[0]
    h2s, s2h = int(closed.group("h2s")), int(closed.group("s2h"))
    sent = len(r.sent_cr) + len(r.sent_ci)
    got = sum(len(d) for d in r.received)
    check(h2s == sent == int(hsc.group("to_guest")),
          "%s: md9 counted %d bytes host->server, the probe sent %d, hostsim "
          "passed %d" % (what, h2s, sent, int(hsc.group("to_guest"))))
    if row.works:
        check(s2h == got == int(hsc.group("to_client")),
              "%s: md9 counted %d bytes server->host, the probe received %d, "
              "hostsim passed %d" % (what, s2h, got,
                                     int(hsc.group("to_client"))))

    # 5. What the host saw of the server's answer: every byte md9 took from
    #    the server reached it (also just before a reset), and the CC.
    problems = []
    if describe_cc(r) != row.host_cc:
        problems.append("the host saw CC %r, expected %r (probe: %s)"
                        % (describe_cc(r), row.host_cc, r.summary()))
    if s2h != int(hsc.group("to_client")):
        problems.append("md9 counted %d bytes server->host, the host got %d"
                        % (s2h, int(hsc.group("to_client"))))
    check(not problems, "%s: %s" % (what, "; ".join(problems)))
    h.notes.append("%s: %s" % (what, r.summary()))


def xrdp_requested(asked):
    """xrdp's protocol_mask_to_str(): names the bits, then always |RDP."""
    if asked == "RDP":
        return "RDP"
    return asked + "|RDP"


def make_case(layer, mode):
    return lambda h: run_cell(h, layer, mode)


CASES = {"%s_%s" % (layer, mode): make_case(layer, mode)
         for (layer, mode) in MATRIX}

if __name__ == "__main__":
    sys.exit(harness.main(CASES))
