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

What md9 reads next (src/rdp/adapter.c): the server's MCS Connect-Response,
whole, before the host sees it; a TS_UD_SC_SEC1 with an encryption method or
level (xrdp's crypt_level low/medium/high/fips with standard RDP security)
ends the session there: the host cannot do that encryption.

Outcome (MATRIX below is the authoritative table, one comment per row; each
cell also asks ``md9 doctor`` and expects the same verdict):

    layer/crypt \ md9  auto          tls           rdp            passthrough
    negotiate/high     OK (TLS)      OK (TLS)      no: encrypts   no: no vmconnect
    tls/high           OK (TLS)      OK (TLS)      no: refused,   no: no vmconnect
                                                   SSL_REQUIRED
    rdp/none           OK (plain)    no: server    OK (plain)     OK (plain)
                                     selected RDP
    rdp/high           no: encrypts  no: RDP       no: encrypts   no: encrypts
    rdp/low, rdp/fips  no: encrypts  (auto only)
"""

import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from md9test import check  # noqa: E402

HOST_REQUESTED = "SSL|HYBRID|HYBRID_EX"   # md9's name for 0x0B

class Row:
    def __init__(self, works, asked, selected, xrdp_selected, host_cc,
                 close, reason=None, tls=False, relays=None, doctor=None):
        self.works = works                  # MCS Connect-Response reaches the host
        # md9 got to relaying (logs "relaying" once it accepted the server's
        # Connect-Response): exactly the working rows, unless said otherwise.
        self.relays = works if relays is None else relays
        self.asked = asked                  # md9 asked the server for
        self.selected = selected            # server's choice; None = refused
        self.xrdp_selected = xrdp_selected  # xrdp log: "... selected [X]"
        self.host_cc = host_cc              # CC the host must see (None: none)
        self.close = close                  # regex: md9 "closed (...)" reason
        self.reason = reason                # regex: md9 line naming cause + fix
        self.tls = tls                      # md9 is the server's TLS client
        # md9 doctor's 'rdp security' line: (verdict, regex in its text)
        self.doctor = doctor


CLOSED_BY_HOST = r"the host closed the channel"
DOCTOR_TLS = ("ok", r"^TLS ok: .* selected SSL; md9 does TLS with it \(TLSv1\.[23] ")
DOCTOR_PLAIN = ("ok", r"^standard RDP security without encryption ok: .* selected "
                      r"RDP; MCS Connect-Response with encryption NONE")

# One line each: the cause, then "; fix: " and what to change (src/rdp/adapter.c).
NO_VMCONNECT = (r"passthrough: the server selected SSL and did not answer the "
                r"host's plaintext Connect-Initial: it has no vmconnect mode")
FIX_VMCONNECT = r"; fix: sudo md9 setup --security auto \(md9 then does TLS"
FIX_AUTO = r"; fix: let md9 do TLS with the server: sudo md9 setup --security auto$"
FIX_ENCRYPTS = (r"; fix: turn the server's standard RDP security encryption off: "
                r"crypt_level=none in xrdp\.ini \[Globals\] \(sudo md9 setup "
                r"--security rdp does it\)")


def encrypts(method, level):
    return (r"the server encrypts with standard RDP security \(encryptionMethod "
            r"%s, encryptionLevel %s\), which the Hyper-V host cannot do"
            % (method, level))


def encrypts_row(asked, method, level):
    """The server selected standard RDP security and its Connect-Response
    says it encrypts: the host got the CC, md9 ends before it gets more."""
    e = encrypts(method, level)
    return Row(False, asked, "RDP", "RDP", "RDP", e,
               reason=r"session 1: " + e + FIX_ENCRYPTS,
               doctor=("FAIL", r"^encrypts: .*" + e))


def no_vmconnect_row():
    """passthrough forwards 0x0B -> xrdp selects SSL and waits for a
    ClientHello; the host sends plaintext: the seed's bug. xrdp answers a
    Disconnect-Provider-Ultimatum (passed on to the host) and resets."""
    return Row(False, HOST_REQUESTED, "SSL", "SSL", "SSL", NO_VMCONNECT,
               reason=r"session 1: " + NO_VMCONNECT + FIX_VMCONNECT,
               doctor=("FAIL", r"^no vmconnect mode: .*" + NO_VMCONNECT))


NOT_TLS = r"the server did not select TLS, which --security tls requires"
# A fix never points to a weaker mode than the one configured (issue 15).
FIX_TLS = (r"; fix: let the server offer TLS \(xrdp: security_layer=negotiate or tls in "
           r"xrdp\.ini \[Globals\]; FreeRDP shadow: /sec:tls\)$")
NOT_TLS_ROW = Row(False, "SSL", "RDP", "RDP", None, NOT_TLS,
                  reason=r"session 1: " + NOT_TLS + FIX_TLS,
                  doctor=("FAIL", r"^refused: .*" + NOT_TLS))

# xrdp settings of each layer key: (security_layer, crypt_level).
LAYERS = {
    "negotiate": ("negotiate", "high"),
    "negotiate-none": ("negotiate", "none"),
    "tls": ("tls", "high"),
    "rdp": ("rdp", "none"),
    "rdp-high": ("rdp", "high"),
    "rdp-low": ("rdp", "low"),
    "rdp-fips": ("rdp", "fips"),
}

# (xrdp layer key, md9 --security): expected outcome, measured and explained
# by the rules above.
MATRIX = {
    # negotiate: md9 asks SSL -> xrdp selects SSL -> md9 does TLS with xrdp;
    # the host's plaintext Connect-Initial goes inside that TLS.
    ("negotiate", "auto"): Row(True, "SSL", "SSL", "SSL", "SSL",
                               CLOSED_BY_HOST, tls=True, doctor=DOCTOR_TLS),
    # tls mode asks SSL too; xrdp selects SSL, which tls mode requires.
    ("negotiate", "tls"): Row(True, "SSL", "SSL", "SSL", "SSL",
                              CLOSED_BY_HOST, tls=True, doctor=DOCTOR_TLS),
    # rdp mode asks RDP -> negotiate falls back to RDP, and with the stock
    # crypt_level=high its Connect-Response says 128BIT/HIGH: standard RDP
    # security encryption, which the host cannot do. md9 ends the session
    # there instead of letting the client fail at the Demand Active PDU.
    ("negotiate", "rdp"): encrypts_row("RDP", "128BIT", "HIGH"),
    ("negotiate", "passthrough"): no_vmconnect_row(),
    # What md9 setup --security rdp leaves (crypt_level=none; negotiate
    # kept): rdp mode gets unencrypted standard RDP security, auto TLS.
    ("negotiate-none", "auto"): Row(True, "SSL", "SSL", "SSL", "SSL",
                                    CLOSED_BY_HOST, tls=True, doctor=DOCTOR_TLS),
    ("negotiate-none", "rdp"): Row(True, "RDP", "RDP", "RDP", "RDP",
                                   CLOSED_BY_HOST, doctor=DOCTOR_PLAIN),

    # tls: SSL requested -> SSL selected -> md9 does TLS.
    ("tls", "auto"): Row(True, "SSL", "SSL", "SSL", "SSL", CLOSED_BY_HOST,
                         tls=True, doctor=DOCTOR_TLS),
    ("tls", "tls"): Row(True, "SSL", "SSL", "SSL", "SSL", CLOSED_BY_HOST,
                        tls=True, doctor=DOCTOR_TLS),
    # rdp mode asks RDP -> xrdp refuses: RDP_NEG_FAILURE
    # SSL_REQUIRED_BY_SERVER, which md9 passes to the host, then ends.
    ("tls", "rdp"): Row(
        False, "RDP", None, "", "failure SSL_REQUIRED_BY_SERVER",
        r"the server refused RDP: SSL_REQUIRED_BY_SERVER",
        reason=r"session 1: the server refused RDP: SSL_REQUIRED_BY_SERVER; "
               r"passing its answer to the host" + FIX_AUTO,
        doctor=("FAIL", r"^refused: .*the server refused RDP: "
                        r"SSL_REQUIRED_BY_SERVER")),
    ("tls", "passthrough"): no_vmconnect_row(),

    # rdp + crypt_level=none: xrdp selects RDP whatever was asked, and never
    # refuses SSL, so auto's retry is not needed: plain relay.
    ("rdp", "auto"): Row(True, "SSL", "RDP", "RDP", "RDP", CLOSED_BY_HOST,
                         doctor=DOCTOR_PLAIN),
    # tls mode needs SSL; xrdp selected RDP: md9 ends the session at once
    # (ADAPTER_FAIL, src/rdp/adapter.c), the host gets no CC at all.
    ("rdp", "tls"): NOT_TLS_ROW,
    ("rdp", "rdp"): Row(True, "RDP", "RDP", "RDP", "RDP", CLOSED_BY_HOST,
                        doctor=DOCTOR_PLAIN),
    # passthrough forwards 0x0B; xrdp selects RDP: plaintext is right.
    ("rdp", "passthrough"): Row(True, HOST_REQUESTED, "RDP", "RDP", "RDP",
                                CLOSED_BY_HOST, doctor=DOCTOR_PLAIN),

    # rdp with the stock crypt_level=high (or low, fips): xrdp selects RDP
    # and encrypts. No md9 mode can serve it (README's old claim that auto
    # works "in any security_layer" was wrong).
    ("rdp-high", "auto"): encrypts_row("SSL", "128BIT", "HIGH"),
    ("rdp-high", "tls"): NOT_TLS_ROW,
    ("rdp-high", "rdp"): encrypts_row("RDP", "128BIT", "HIGH"),
    ("rdp-high", "passthrough"): encrypts_row(HOST_REQUESTED, "128BIT", "HIGH"),
    ("rdp-low", "auto"): encrypts_row("SSL", r"\w+", "LOW"),
    ("rdp-fips", "auto"): encrypts_row("SSL", "FIPS", "FIPS"),
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
    sl, cl = LAYERS[layer]
    x, hs, m = h.stack(sl, mode, crypt_level=cl)
    r = h.probe(hs.raw_port)
    what = "security_layer=%s crypt_level=%s, md9 --security %s" % (sl, cl, mode)

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

    # 6. md9 doctor, against the same server in the same mode, says the same.
    verdict, text = h.doctor(x.port, mode)
    check(verdict == row.doctor[0] and re.search(row.doctor[1], text),
          "%s: md9 doctor says %s %r, expected %s /%s/"
          % (what, verdict, text, row.doctor[0], row.doctor[1]))
    if verdict == "FAIL":
        check(" -- fix: " in text, "%s: doctor's FAIL names no fix" % what)


def xrdp_requested(asked):
    """xrdp's protocol_mask_to_str(): names the bits, then always |RDP."""
    if asked == "RDP":
        return "RDP"
    return asked + "|RDP"


def make_case(layer, mode):
    return lambda h: run_cell(h, layer, mode)


CASES = {"%s_%s" % (layer, mode): make_case(layer, mode)
         for (layer, mode) in MATRIX}


# A legacy host Connection Request: no RDP_NEG_REQ (protocol-facts §7 allows
# it). Whatever md9 asks the server for, the host must get a legacy
# Connection Confirm back, without rdpNegData (MS-RDPBCGR 3.3.5.3.2), and
# the session must work as usual.
LEGACY = {
    # (layer, mode): (md9 asked, server selected, md9 does TLS)
    ("negotiate", "auto"): ("SSL", "SSL", True),
    ("rdp", "auto"): ("SSL", "RDP", False),
    ("rdp", "passthrough"): ("RDP", "RDP", False),
}


def run_legacy(h, layer, mode):
    asked, selected, tls = LEGACY[(layer, mode)]
    sl, cl = LAYERS[layer]
    x, hs, m = h.stack(sl, mode, crypt_level=cl)
    r = h.probe(hs.raw_port, neg_req=False)
    what = "legacy CR, security_layer=%s, md9 --security %s" % (sl, mode)
    check(r.sent_cr == bytes.fromhex("0300000b06e00000000000"),
          "%s: the probe's CR is not the 11-byte legacy form: %s"
          % (what, r.sent_cr.hex()))
    check(r.cc is not None and r.cc.get("kind") == "none",
          "%s: the host got %r, not a legacy Connection Confirm: %s"
          % (what, r.cc, r.summary()))
    check(r.received and len(r.received[0]) == 11,
          "%s: the Connection Confirm is %d bytes, expected 11"
          % (what, len(r.received[0]) if r.received else -1))
    h.assert_connect_response(r, what)
    m.wait_for_log(r"session 1: host requested RDP, md9 \(%s\) asked the server "
                   r"for %s, server selected %s$" % (mode, asked, selected), 1.0)
    check(bool(m.find(r"session 1: TLS with the server established")) == tls,
          "%s: md9 %s TLS with the server" % (what, "did not do" if tls else "did"))
    m.wait_for_log(r"session 1: relaying$", 1.0)
    h.notes.append("%s: %s" % (what, r.summary()))


CASES.update({"legacy_%s_%s" % k: (lambda key: lambda h: run_legacy(h, *key))(k)
              for k in LEGACY})

if __name__ == "__main__":
    sys.exit(harness.main(CASES))
