#!/usr/bin/python3
"""What md9's integration tests share beyond tests/lib (Python 3 standard
library only): a private xrdp per case and the host's side of an RDP
connection.

One test case = one process:  python3 tests/integration/test_X.py CASE
(``--list`` prints the cases; no argument runs them all in turn).

What a case gets (``h``, an IntegrationHarness, tests/lib's Harness plus):

* ``h.xrdp(security_layer, port=None)``  a private xrdp on 127.0.0.1 (its own
  xrdp.ini copy, a free port), tests/fixtures/xrdp_fixture.py;
* ``h.shadow(sec)``  FreeRDP's shadow server, tests/fixtures/shadow_fixture.py;
* ``h.doctor(backend, security)``  md9 doctor's verdict on that server;
* ``h.hostsim(*args, commands=False)``  md9-hostsim with a raw front end on
  127.0.0.1:0 (tests/lib);
* ``h.md9(hostsim, backend_port, security)``  ``md9 run -v`` on the hostsim's
  bus (tests/lib); ``m.wait_for_log(regex, timeout)`` waits on a deadline;
* ``h.probe(port)``  tests/fixtures/rdp_probe.py's probe(): the vmconnect CR
  (requestedProtocols 0x0B) then the plaintext MCS Connect-Initial.

At the end of a case every md9 is stopped with SIGTERM and must exit 0 and
must never have printed an error-level line (unless the case allows it);
then everything the case started is killed: md9, hostsim, xrdp and xrdp's
children.

Exit status: 0 pass, 1 fail, 77 skipped (no root / no xrdp / no openssl).
"""

import os
import re
import shutil
import socket
import subprocess
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))

import md9test  # noqa: E402
import rdp_probe  # noqa: E402
import shadow_fixture  # noqa: E402
import xrdp_fixture  # noqa: E402
# LOOPBACK and TestFailure are used through this module by tools/demo.py.
from md9test import (LOOPBACK, Harness, Skip, TestFailure, binary, check,  # noqa: E402,F401
                     child_env)

# How long the harness waits for things that normally take milliseconds.
STARTUP_TIMEOUT = 10.0
LOG_TIMEOUT = 10.0
PROBE_TIMEOUT = 8.0
CLOSED_RE = md9test.CLOSED_RE


class IntegrationHarness(Harness):
    prefix = "md9-integ-"

    def __init__(self, name):
        super().__init__(name)
        self.xrdps = []
        self.shadows = []

    def xrdp(self, security_layer="negotiate", port=None, crypt_level=None):
        fx = xrdp_fixture.XrdpFixture(security_layer=security_layer,
                                      crypt_level=crypt_level, port=port,
                                      startup_timeout=STARTUP_TIMEOUT)
        self.xrdps.append(fx)
        try:
            fx.start()
        except xrdp_fixture.FixtureError as e:
            raise TestFailure("xrdp (security_layer=%s) did not start: %s"
                              % (security_layer, e))
        return fx

    def shadow(self, sec=None):
        """FreeRDP's shadow server (tests/fixtures/shadow_fixture.py) with
        /sec:SEC (None: all protocols), on its own Xvfb, 127.0.0.1."""
        if not shutil.which(shadow_fixture.SHADOW):
            raise Skip("%s is not installed (freerdp2-shadow-x11)"
                       % shadow_fixture.SHADOW)
        fx = shadow_fixture.ShadowServer(sec=sec, startup_timeout=STARTUP_TIMEOUT)
        self.shadows.append(fx)
        try:
            fx.start()
        except shadow_fixture.FixtureError as e:
            raise TestFailure("the shadow server (sec %s) did not start: %s"
                              % (sec or "all", e))
        return fx

    def md9(self, hostsim, backend, security="auto", extra=(), wait_ready=True):
        return super().md9(hostsim, backend, security, extra, wait_ready)

    def doctor(self, backend, security, timeout=PROBE_TIMEOUT):
        """``md9 doctor`` against backend (a port or a spec) in mode
        security, on empty fake roots (only the server matters here);
        returns (verdict, text) of its 'rdp security' line."""
        if isinstance(backend, int):
            backend = "tcp:%s:%d" % (LOOPBACK, backend)
        roots = os.path.join(self.tmp, "doctor-roots")
        os.makedirs(roots, exist_ok=True)
        conf = os.path.join(self.tmp, "doctor.conf")
        with open(conf, "w") as f:
            f.write("[md9]\n")
        argv = [binary("MD9_BIN", "src/md9", "md9"), "doctor", "--config", conf,
                "--backend", backend, "--security", security,
                "--timeout", str(int(timeout * 1000)), "--root", roots]
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=timeout + 10, env=child_env())
        text = out.stdout.decode(errors="replace")
        m = re.search(r"^(ok|warn|FAIL)\s+rdp security\s+(.*)$", text, re.M)
        check(m is not None, "md9 doctor printed no 'rdp security' line:\n%s%s"
              % (text, out.stderr.decode(errors="replace")))
        check(out.returncode == 1, "md9 doctor exited %d on fake roots (expected "
              "1: they are no Hyper-V guest)" % out.returncode)
        self.notes.append("doctor: %s  rdp security  %s" % (m.group(1), m.group(2)))
        return m.group(1), m.group(2)

    def stack(self, security_layer="negotiate", security="auto", crypt_level=None):
        """xrdp + hostsim (raw front end) + md9, ready for probes."""
        x = self.xrdp(security_layer, crypt_level=crypt_level)
        hs = self.hostsim()
        m = self.md9(hs, x.port, security)
        return x, hs, m

    # ---- the host's side --------------------------------------------------
    @staticmethod
    def probe(port, sock=None, timeout=PROBE_TIMEOUT, **kw):
        """rdp_probe.probe() against the raw front end.  A socket error the
        probe does not turn into a result (e.g. EPIPE on its first send)
        counts as 'no Connect-Response'."""
        try:
            return rdp_probe.probe(LOOPBACK, port, sock=sock, timeout=timeout,
                                   **kw)
        except OSError as e:
            r = rdp_probe.ProbeResult()
            r.error = "socket error: %s" % e
            return r

    @staticmethod
    def connect(port):
        return socket.create_connection((LOOPBACK, port), timeout=PROBE_TIMEOUT)

    @staticmethod
    def assert_connect_response(r, what="probe"):
        """The reply was an MCS Connect-Response: TPKT, 02 f0 80, 7f 66."""
        check(r.ok, "%s: no MCS Connect-Response: %s" % (what, r.summary()))
        data = r.received[-1]
        check(data[0] == 3 and data[4:7] == b"\x02\xf0\x80"
              and data[7:9] == b"\x7f\x66",
              "%s: reply is not TPKT + 02 f0 80 + 7f 66: %s"
              % (what, data[:16].hex()))

    @staticmethod
    def assert_no_connect_response(r, what="probe"):
        check(not r.ok and r.response is None,
              "%s: got an MCS Connect-Response where none was expected: %s"
              % (what, r.summary()))
        for data in r.received:
            check(b"\x02\xf0\x80\x7f\x66" not in data,
                  "%s: received a Connect-Response: %s" % (what, data.hex()))

    def cleanup(self):
        for m in self.md9s:
            m.kill()
        for hs in self.hostsims:
            hs.kill()
        for fx in self.xrdps:
            try:
                fx.stop()
            except Exception as e:  # keep cleaning up
                print("cleanup: xrdp stop failed: %s" % e, file=sys.stderr)
        for fx in self.shadows:
            try:
                fx.stop()
            except Exception as e:  # keep cleaning up
                print("cleanup: shadow stop failed: %s" % e, file=sys.stderr)
        super().cleanup()

    def dump(self, out=sys.stderr):
        super().dump(out)
        for i, fx in enumerate(self.xrdps):
            self.section(out, "xrdp #%d (security_layer=%s, port %s)" % (
                i + 1, fx.security_layer, fx.port), fx.read_log().splitlines(), 40)
        for i, fx in enumerate(self.shadows):
            self.section(out, "freerdp-shadow-cli #%d (sec %s, port %s)" % (
                i + 1, fx.sec or "all", fx.port), fx.read_log().splitlines(), 40)


def prerequisites():
    if os.geteuid() != 0:
        raise Skip("needs root (the xrdp fixture reads /etc/xrdp keys)")
    for prog in ("xrdp", "openssl"):
        if not shutil.which(prog):
            raise Skip("%s is not installed" % prog)


def main(cases, argv=None):
    """CLI of an integration test file: FILE CASE... | FILE --list | FILE."""
    return md9test.main(cases, IntegrationHarness, prerequisites, argv)
