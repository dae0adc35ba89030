#!/usr/bin/python3
"""End to end with real third-party software at both ends:

  xfreerdp (FreeRDP 2, under Xvfb)
    -> md9-hostsim --rdp-listen (TLS with the client, like the Hyper-V host)
    -> simulated VMBus (shared-memory rings)
    -> md9 run --security auto
    -> xrdp + xrdp-sesman + Xorg/xorgxrdp, a test user's session running an xterm

The user logs in with the credentials given to xfreerdp. Asserted from the
server's logs (sesman and xrdp: login successful), from md9's and the
simulator's logs (the session went through the rings, TLS by md9 or plain
RDP, bytes both ways), from the client's pixels (the session's xterm colour,
not the login dialog), and through a virtual channel: clipboard text set in
the session reaches the client and back (xrdp's chansrv, cliprdr).

  python3 tests/e2e/test_e2e.py CASE      (cases: tls, rdp; --list)
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import desktop_fixture  # noqa: E402
from harness import main  # noqa: E402
from md9test import LOOPBACK, check, check_scenario  # noqa: E402


def desktop_through_md9(h, security_layer, crypt_level, expect_tls):
    """One login through the whole stack; xrdp configured as given."""
    started = {}

    def start_md9(srv):
        # xrdp and sesman are up: put the simulated host and md9 in front.
        hs = h.hostsim("--rdp-listen", "%s:0" % LOOPBACK)
        check(hs.rdp_port > 0, "hostsim has no RDP front end")
        m = h.md9(hs, srv.port, "auto")
        started["hs"], started["md9"] = hs, m
        return (LOOPBACK, hs.rdp_port)

    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    res = desktop_fixture.run_desktop_check(
        sec="tls", security_layer=security_layer, crypt_level=crypt_level,
        before_connect=start_md9, artifacts=artifacts, log=print)
    keep = os.environ.get("MD9_E2E_ARTIFACTS")
    if keep and res.get("screenshot"):
        os.makedirs(keep, exist_ok=True)
        dst = os.path.join(keep, "e2e-%s.png" % security_layer)
        with open(res["screenshot"], "rb") as a, open(dst, "wb") as b:
            b.write(a.read())
        print("screenshot kept at %s" % dst)
    check("md9" in started, "md9 never started: %s" % res.get("error"))
    hs, m = started["hs"], started["md9"]

    check_scenario(res, "desktop", desktop_fixture.CHECKS)

    # The session really went through the simulated VMBus and md9.
    hs.log.wait_for(r"hostsim rdp 1: TLS with the client established", 5)
    hs.log.wait_for(r"hostsim: CreateSession 99221fa1-", 5)
    m.wait_for_log(r"session 1: opened on data channel 99221fa1-", 5)
    if expect_tls:
        m.wait_for_log(r"session 1: host requested SSL, md9 \(auto\) asked "
                       r"the server for SSL, server selected SSL", 5)
        m.wait_for_log(r"session 1: TLS with the server established", 5)
    else:
        m.wait_for_log(r"session 1: host requested SSL, md9 \(auto\) asked "
                       r"the server for SSL, server selected RDP", 5)
        check(not m.find(r"TLS with the server established"),
              "md9 did TLS although the server selected standard RDP")
    m.wait_for_log(r"session 1: relaying", 5)
    # The guest's Connection Confirm is xrdp's, unchanged by md9.
    hs.log.wait_for(r"hostsim rdp 1: guest selected %s; relaying"
                    % ("SSL" if expect_tls else "RDP"), 5)


def case_tls(h):
    """xrdp security_layer=tls: md9 is xrdp's TLS client."""
    desktop_through_md9(h, "tls", "high", expect_tls=True)


def case_rdp(h):
    """xrdp security_layer=rdp, crypt_level=none (the in-box listener's
    setting): md9 stays plain, the client's TLS ends at the host."""
    desktop_through_md9(h, "rdp", "none", expect_tls=False)


CASES = {"tls": case_tls, "rdp": case_rdp}

if __name__ == "__main__":
    sys.exit(main(CASES))
