#!/usr/bin/python3
"""Drive redirection end to end, through md9:

  rdesktop (under Xvfb) sharing a folder (-r disk:md9drv=DIR)
    -> md9-hostsim --rdp-listen (TLS with the client, like the Hyper-V host)
    -> simulated VMBus -> md9 run --security auto -> xrdp (security_layer tls)
    -> xrdp-chansrv: FUSE mount at ~/shared-drives/md9drv in the session

A 32 MiB file made on the client side is copied by the session's user from
the share into the session, and a 24 MiB file made in the session is copied
back into the share; both arrive with the same SHA-256.  md9's session
counters must have carried at least those bytes each way, so the files
went through the rings and md9, not around them.  See
tests/fixtures/drive_fixture.py for why the client is rdesktop.

  python3 tests/e2e/test_drive.py [both_ways]
"""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import drive_fixture  # noqa: E402
from harness import main  # noqa: E402
from md9test import LOOPBACK, Skip, check, check_scenario  # noqa: E402

MIB = drive_fixture.MIB
SIZE_IN = 32 * MIB    # client -> session
SIZE_OUT = 24 * MIB   # session -> client


def case_both_ways(h):
    for prog in ("rdesktop", "Xvfb", "xrdp-sesman", "nsenter", "setpriv"):
        if not shutil.which(prog):
            raise Skip("%s is not installed" % prog)
    if not os.path.exists("/dev/fuse"):
        raise Skip("no /dev/fuse: xrdp's chansrv cannot mount the share")
    started = {}

    def start_md9(srv):
        hs = h.hostsim("--rdp-listen", "%s:0" % LOOPBACK)
        check(hs.rdp_port > 0, "hostsim has no RDP front end")
        started["hs"], started["md9"] = hs, h.md9(hs, srv.port, "auto")
        return (LOOPBACK, hs.rdp_port)

    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    res = drive_fixture.run_drive_check(before_connect=start_md9,
                                        artifacts=artifacts, size_in=SIZE_IN,
                                        size_out=SIZE_OUT, log=print)
    check("md9" in started, "md9 never started: %s" % res.get("error"))
    check_scenario(res, "drive", drive_fixture.CHECKS)

    hs, m = started["hs"], started["md9"]
    hs.log.wait_for(r"hostsim rdp 1: TLS with the client established", 5)
    m.wait_for_log(r"session 1: TLS with the server established", 5)
    # The client has gone (the fixture stopped it): md9's counters for the
    # session are final.
    closed = m.wait_closed(1, timeout=15)
    h2s, s2h = int(closed.group("h2s")), int(closed.group("s2h"))
    check(h2s >= SIZE_IN, "md9 carried %d bytes host->server, less than the "
          "%d-byte file copied from the client" % (h2s, SIZE_IN))
    check(s2h >= SIZE_OUT, "md9 carried %d bytes server->host, less than the "
          "%d-byte file copied to the client" % (s2h, SIZE_OUT))
    h.notes.append("client->session %s MiB/s, session->client %s MiB/s; md9 "
                   "session 1: %d bytes host->server, %d server->host" % (
                       res["timings"].get("client->session MiB/s"),
                       res["timings"].get("session->client MiB/s"), h2s, s2h))


CASES = {"both_ways": case_both_ways}

if __name__ == "__main__":
    sys.exit(main(CASES))
