#!/usr/bin/python3
"""End to end with a second, independent RDP server:

  xfreerdp (FreeRDP 2, under Xvfb)
    -> md9-hostsim --rdp-listen (TLS with the client, like the Hyper-V host)
    -> simulated VMBus (shared-memory rings)
    -> md9 run --security MODE
    -> freerdp-shadow-cli (FreeRDP 2.11, freerdp2-shadow-x11) sharing an
       Xvfb that shows one coloured xterm (tests/fixtures/shadow_fixture.py)

Working modes: the client must show the shared desktop, checked by pixels
(the xterm's colour on the client's screen, at least 90 % of what the
shadowed display itself shows). Failing modes: md9 must end the session
with its one line naming the cause and the fix, the client must never show
the desktop, and md9 doctor must give the same verdict.

  python3 tests/e2e/test_e2e_shadow.py CASE      (--list for the cases)
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import desktop_fixture  # noqa: E402
from harness import main  # noqa: E402
from md9test import LOOPBACK, TestFailure, check  # noqa: E402
from xrdp_fixture import FixtureError, wait_until  # noqa: E402

PIXEL_TIMEOUT = 20.0


def client_for(h, hs, artifacts):
    """xfreerdp /sec:tls to hostsim's RDP front end, on its own Xvfb. The
    shadow server runs with -auth: the credentials are not checked."""
    cd = desktop_fixture.ClientDisplay(workdir=artifacts).start()
    client = desktop_fixture.RdpClient(cd.display, LOOPBACK, hs.rdp_port,
                                       "md9", "not-checked", sec="tls",
                                       workdir=artifacts).start()
    return cd, client


def keep(h, img, name):
    path = img.save_png(os.path.join(h.tmp, name))
    dst = os.environ.get("MD9_E2E_ARTIFACTS")
    if dst:
        os.makedirs(dst, exist_ok=True)
        path = img.save_png(os.path.join(dst, name))
    print("screenshot: %s" % path)


def works(h, sec, mode, expect_tls):
    s = h.shadow(sec)
    hs = h.hostsim("--rdp-listen", "%s:0" % LOOPBACK)
    m = h.md9(hs, s.port, mode)
    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    expect = s.screenshot().count_color(s.color)
    check(expect > 10000, "the shadowed display shows only %d px of its xterm"
          % expect)
    cd = client = None
    try:
        cd, client = client_for(h, hs, artifacts)
        last = {"n": 0, "img": None}

        def shows_desktop():
            last["img"] = cd.screenshot()
            last["n"] = last["img"].count_color(s.color)
            return last["n"] >= 0.9 * expect
        try:
            wait_until(shows_desktop, PIXEL_TIMEOUT, interval=0.25,
                       alive=client.alive, what="the shadowed desktop on the client")
        except FixtureError as e:
            if last["img"] is not None:
                keep(h, last["img"], "shadow-%s-%s-client.png" % (sec, mode))
            raise TestFailure("%s; %d px of %s on the client, the shadowed "
                              "display has %d; xfreerdp log:\n%s" % (
                                  e, last["n"], s.color, expect, client.log_tail()))
        keep(h, last["img"], "shadow-%s-%s-client.png" % (sec, mode))
        h.notes.append("client shows %d px of the xterm's colour, the shadowed "
                       "display %d" % (last["n"], expect))
        # The session went through the simulated VMBus and md9.
        hs.log.wait_for(r"hostsim rdp 1: TLS with the client established", 5)
        m.wait_for_log(r"session 1: opened on data channel 99221fa1-", 5)
        m.wait_for_log(r"session 1: host requested SSL, md9 \(%s\) asked the "
                       r"server for %s, server selected %s$" % (
                           mode, "SSL" if expect_tls else "RDP",
                           "SSL" if expect_tls else "RDP"), 5)
        check(bool(m.find(r"session 1: TLS with the server established"))
              == expect_tls, "md9 %s TLS with the shadow server"
              % ("did not do" if expect_tls else "did"))
        m.wait_for_log(r"session 1: relaying$", 5)
        hs.log.wait_for(r"hostsim rdp 1: guest selected %s; relaying"
                        % ("SSL" if expect_tls else "RDP"), 5)
        check(client.alive() is True, "xfreerdp exited: %s" % client.alive())
    finally:
        for obj in (client, cd):
            if obj is not None:
                obj.stop()


def fails(h, sec, mode, reason, doctor):
    s = h.shadow(sec)
    hs = h.hostsim("--rdp-listen", "%s:0" % LOOPBACK)
    m = h.md9(hs, s.port, mode)
    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    cd = client = None
    try:
        cd, client = client_for(h, hs, artifacts)
        # md9's one line with the cause and the fix, then the session ends
        # and the host (hostsim) sees it end.
        m.wait_for_log(r"session 1: " + reason, 15)
        closed = m.wait_closed(1, 15)
        hs.log.wait_for(r"hostsim rdp 1: closed \(", 15)

        def client_gone():
            return client.proc.poll() is not None
        wait_until(client_gone, 15, interval=0.1,
                   what="xfreerdp to give up after the session ended")
        img = cd.screenshot()
        keep(h, img, "shadow-%s-%s-client.png" % (sec, mode))
        check(img.count_color(s.color) == 0,
              "the client shows the shadowed desktop although md9 ended the "
              "session (%s)" % closed.group("reason"))
        check(not m.find(r"session 1: relaying$"), "md9 relayed a session "
              "it should have ended")
        h.notes.append("md9: closed (%s); xfreerdp exited %s"
                       % (closed.group("reason"), client.proc.returncode))
    finally:
        for obj in (client, cd):
            if obj is not None:
                obj.stop()
    verdict, text = h.doctor(s.port, mode)
    check(verdict == "FAIL" and re.search(doctor, text),
          "md9 doctor says %s %r, expected FAIL /%s/" % (verdict, text, doctor))


NLA_LINE = (r"the server requires NLA \(CredSSP\): it answered "
            r"HYBRID_REQUIRED_BY_SERVER; md9 cannot do NLA: .*; fix: let the "
            r"server accept TLS or standard RDP security without NLA")
NO_VMCONNECT = (r"passthrough: the server selected SSL and did not answer the "
                r"host's plaintext Connect-Initial: it has no vmconnect mode; "
                r"fix: sudo md9 setup --security auto")

CASES = {
    # TLS: md9 is the shadow server's TLS client.
    "tls_auto": lambda h: works(h, "tls", "auto", expect_tls=True),
    # Standard RDP security only: auto is refused TLS, asks again for RDP;
    # the server does not encrypt for its loopback peer md9.
    "rdp_auto": lambda h: works(h, "rdp", "auto", expect_tls=False),
    # All protocols, md9 in rdp mode: standard RDP security, no encryption.
    "all_rdp": lambda h: works(h, None, "rdp", expect_tls=False),
    # NLA only: cannot work; md9 says why and how, and so does doctor.
    "nla_auto": lambda h: fails(h, "nla", "auto", NLA_LINE, r"^NLA only: "),
    # passthrough: FreeRDP 2.11 has no vmconnect mode.
    "tls_passthrough": lambda h: fails(h, "tls", "passthrough", NO_VMCONNECT,
                                       r"^no vmconnect mode: "),
}

if __name__ == "__main__":
    sys.exit(main(CASES))
