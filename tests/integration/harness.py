#!/usr/bin/python3
"""Integration test harness for md9 (Python 3 standard library only).

One test case = one process:  python3 tests/integration/test_X.py CASE
(``--list`` prints the cases; no argument runs them all in turn).

What a case gets (``h``, a Harness):

* ``h.xrdp(security_layer, port=None)``  a private xrdp on 127.0.0.1 (its own
  xrdp.ini copy, a free port), tests/fixtures/xrdp_fixture.py;
* ``h.hostsim(*args, commands=False)``  md9-hostsim with a raw front end on
  127.0.0.1:0; its ``ready BUSPATH raw=PORT`` line is read from stdout;
* ``h.md9(hostsim, backend_port, security)``  ``md9 run -v`` on the hostsim's
  bus; its output is read by a thread into a list + condition variable, so
  ``m.wait_for_log(regex, timeout)`` waits on a deadline, never a sleep;
* ``h.probe(port)``  tests/fixtures/rdp_probe.py's probe(): the vmconnect CR
  (requestedProtocols 0x0B) then the plaintext MCS Connect-Initial.

At the end of a case every md9 is stopped with SIGTERM and must exit 0 and
must never have printed an error-level line (unless the case allows it);
then everything the case started is killed: md9, hostsim, xrdp and xrdp's
children.  md9 and hostsim also run under ``setpriv --pdeathsig KILL`` so
they die with the test process even if it is SIGKILLed.

Binaries: $MD9_BIN and $MD9_HOSTSIM (ctest passes $<TARGET_FILE:...>); for
manual runs the harness falls back to build-integ/ or build-lead/.

Exit status: 0 pass, 1 fail, 77 skipped (no root / no xrdp / no openssl).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True   # no __pycache__ in the source tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import rdp_probe  # noqa: E402
import shadow_fixture  # noqa: E402
import xrdp_fixture  # noqa: E402

SKIP = 77
LOOPBACK = "127.0.0.1"

# How long the harness waits for things that normally take milliseconds.
STARTUP_TIMEOUT = 10.0
LOG_TIMEOUT = 10.0
PROBE_TIMEOUT = 8.0

# md9's line prefix: "HH:MM:SS.mmm md9[PID] LEVEL: text" (src/base/log.c)
MD9_ERROR_LINE = re.compile(r"^\S+ md9\[\d+\] error: ")
MD9_ANY_LINE = re.compile(r"^\S+ md9\[\d+\] (error|warning|info|debug): ")
# session.c, session_close()
CLOSED_RE = (r"session (?P<id>\d+): closed \((?P<reason>.*)\): channel "
             r"(?P<channel>[0-9a-fA-F-]{36}), (?P<h2s>\d+) bytes host->server, "
             r"(?P<s2h>\d+) bytes server->host, (?P<secs>[0-9.]+) s$")


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def _find_binary(env, rel):
    path = os.environ.get(env)
    if path:
        if not os.access(path, os.X_OK):
            raise TestFailure("$%s=%s is not an executable" % (env, path))
        return path
    for build in ("build-integ", "build-lead", "build"):
        cand = os.path.join(REPO, build, rel)
        if os.access(cand, os.X_OK):
            return cand
    raise TestFailure("set $%s (no %s found under build-integ/build-lead)"
                      % (env, rel))


_SETPRIV = shutil.which("setpriv")


def _guarded(argv):
    """Make the child die with us (PR_SET_PDEATHSIG) if setpriv can."""
    if _SETPRIV:
        return [_SETPRIV, "--pdeathsig", "KILL", "--"] + argv
    return argv


def _child_env():
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)   # md9 would log "<3>..." for the journal
    return env


def _alive(proc):
    return proc is not None and proc.poll() is None


# --------------------------------------------------------------------------
# a child's output, line by line, waitable
# --------------------------------------------------------------------------

class LogStream:
    """Lines read from a pipe by a thread; waiters use a condition variable."""

    def __init__(self, name, pipe):
        self.name = name
        self.lines = []
        self.closed = False
        self.cond = threading.Condition()
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="log-" + name)
        self._thread.start()

    def _run(self):
        fd = self._pipe.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            if complete:
                with self.cond:
                    self.lines.extend(x.decode("utf-8", "replace")
                                      for x in complete)
                    self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append(buf.decode("utf-8", "replace"))
            self.closed = True
            self.cond.notify_all()

    def mark(self):
        """Index of the next line: pass as since= to look only at later ones."""
        with self.cond:
            return len(self.lines)

    def snapshot(self, since=0):
        with self.cond:
            return list(self.lines[since:])

    def find(self, regex, since=0):
        rx = re.compile(regex)
        return [m for m in (rx.search(x) for x in self.snapshot(since)) if m]

    def wait_for(self, regex, timeout=LOG_TIMEOUT, since=0, count=1):
        """Wait until `count` lines (from index `since`) match; return the
        matches.  Fails at the deadline, or at once if the stream ended
        (the process exited) without enough matches."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(x) for x in self.lines[since:])
                         if m]
                if len(found) >= count:
                    return found
                if self.closed:
                    raise TestFailure(
                        "%s exited (its output ended) with %d of %d line(s) "
                        "matching /%s/" % (self.name, len(found), count, regex))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure(
                        "timed out after %.1fs waiting for %d line(s) matching "
                        "/%s/ in %s's log (found %d)"
                        % (timeout, count, regex, self.name, len(found)))
                self.cond.wait(left)

    def join(self, timeout=2.0):
        self._thread.join(timeout)


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

class Hostsim:
    def __init__(self, tmp, args=(), commands=False):
        self.bus = os.path.join(tmp, "bus")
        argv = [_find_binary("MD9_HOSTSIM", "hostsim/md9-hostsim"),
                "--bus", self.bus, "--raw-listen", "%s:0" % LOOPBACK]
        argv += list(args)
        if commands:
            argv.append("--commands")
        self.argv = argv
        self.proc = subprocess.Popen(
            _guarded(argv), stdin=subprocess.PIPE if commands else
            subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, env=_child_env())
        self.out = LogStream("md9-hostsim stdout", self.proc.stdout)
        self.log = LogStream("md9-hostsim", self.proc.stderr)
        m = self.out.wait_for(r"^ready (\S+) raw=(-?\d+) rdp=(-?\d+)$",
                             STARTUP_TIMEOUT)[0]
        check(m.group(1) == self.bus, "hostsim ready line names bus %r, not %r"
              % (m.group(1), self.bus))
        self.raw_port = int(m.group(2))
        self.rdp_port = int(m.group(3))
        check(self.raw_port > 0, "hostsim has no raw front end: %s"
              % m.group(0))

    def command(self, line):
        check(self.proc.stdin is not None, "hostsim started without --commands")
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def alive(self):
        return _alive(self.proc)

    def kill(self):
        _terminate(self.proc)
        for s in (self.proc.stdin,):
            if s:
                try:
                    s.close()
                except OSError:
                    pass
        self.out.join()
        self.log.join()


# Which user md9 runs as is the test's choice, never the machine's (a system
# user md9 may exist or not): started as root, md9 would drop to user md9 or
# refuse to run. These tests are about the data path, so as root they keep
# md9 root explicitly; tests/security/ runs it as real unprivileged users.
RUN_AS = "user = root\nallow_root = yes\n" if os.geteuid() == 0 else ""


class Md9:
    def __init__(self, tmp, hostsim, backend, security, extra=(),
                 wait_ready=True):
        self.conf = os.path.join(tmp, "md9.conf")
        if not os.path.exists(self.conf):
            # A private (empty) configuration: /etc/md9/md9.conf must not
            # leak into the test.
            with open(self.conf, "w") as f:
                f.write("[md9]\n" + RUN_AS)
        if isinstance(backend, int):
            backend = "tcp:%s:%d" % (LOOPBACK, backend)
        self.backend = backend
        self.security = security
        self.argv = [_find_binary("MD9_BIN", "md9"), "run", "-c", self.conf,
                     "--transport", "sim:" + hostsim.bus,
                     "--backend", backend, "--security", security, "-v"]
        self.argv += list(extra)
        self.allow_errors = False
        self.proc = subprocess.Popen(
            _guarded(self.argv), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, env=_child_env())
        self.pid = self.proc.pid
        self.log = LogStream("md9", self.proc.stdout)
        if wait_ready:
            self.wait_for_log(r"control channel ready: host accepted SynthRdp "
                              r"protocol 1\.0", STARTUP_TIMEOUT)

    def wait_for_log(self, regex, timeout=LOG_TIMEOUT, since=0, count=1):
        return self.log.wait_for(regex, timeout, since, count)

    def find(self, regex, since=0):
        return self.log.find(regex, since)

    def alive(self):
        return _alive(self.proc)

    def assert_alive(self, when=""):
        check(self.alive(), "md9 exited%s (status %s)"
              % (" " + when if when else "", self.proc.poll()))

    def error_lines(self):
        return [x for x in self.log.snapshot() if MD9_ERROR_LINE.search(x)]

    def assert_no_errors(self):
        # Guard against a vacuous grep: the prefix must be the known one.
        check(any(MD9_ANY_LINE.search(x) for x in self.log.snapshot()),
              "md9's log lines do not have the expected prefix "
              "'HH:MM:SS.mmm md9[PID] LEVEL: '; cannot check for error lines")
        bad = self.error_lines()
        check(not bad, "md9 printed error-level line(s):\n  " +
              "\n  ".join(bad))

    def closed_sessions(self, since=0):
        """{session id: match of its 'closed (...)' line}."""
        return {int(m.group("id")): m for m in self.find(CLOSED_RE, since)}

    def wait_closed(self, sid, timeout=LOG_TIMEOUT, since=0):
        """The 'session SID: closed (...)' line (with its byte counters)."""
        rx = CLOSED_RE.replace(r"(?P<id>\d+)", r"(?P<id>%d)" % sid)
        return self.wait_for_log(rx, timeout, since)[0]

    def stop(self, grace=5.0):
        """SIGTERM; md9 must stop within the grace time with status 0."""
        if not self.alive():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.log.join()
            raise TestFailure("md9 did not stop within %.0fs of SIGTERM" % grace)
        self.log.join()
        return rc

    def kill(self):
        _terminate(self.proc)
        self.log.join()


def _terminate(proc, grace=3.0):
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except OSError:
            pass


# --------------------------------------------------------------------------
# the per-case harness
# --------------------------------------------------------------------------

class Harness:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="md9-integ-")
        self.md9s = []
        self.hostsims = []
        self.xrdps = []
        self.shadows = []
        self.notes = []

    # ---- things a case starts -------------------------------------------
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

    def hostsim(self, *args, commands=False):
        hs = Hostsim(self.tmp, args, commands)
        self.hostsims.append(hs)
        return hs

    def md9(self, hostsim, backend, security="auto", extra=(),
            wait_ready=True):
        m = Md9(self.tmp, hostsim, backend, security, extra, wait_ready)
        self.md9s.append(m)
        return m

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
        argv = [_find_binary("MD9_BIN", "md9"), "doctor", "--config", conf,
                "--backend", backend, "--security", security,
                "--timeout", str(int(timeout * 1000)), "--roots", roots]
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=timeout + 10, env=_child_env())
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

    # ---- end of a case ------------------------------------------------------
    def finish(self):
        """Checks that belong to every case: md9 alive until the end, no
        error-level line, clean exit on SIGTERM."""
        for m in self.md9s:
            m.assert_alive("before the end of the test")
        for m in self.md9s:
            rc = m.stop()
            check(rc == 0, "md9 exited with status %s after SIGTERM" % rc)
            m.wait_for_log(r"signal 15: stopping", 1.0)
            if not m.allow_errors:
                m.assert_no_errors()

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
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump(self, out=sys.stderr):
        def section(title, lines, n=150):
            print("---- %s (%d lines%s) ----" % (
                title, len(lines), ", last %d" % n if len(lines) > n else ""),
                file=out)
            for x in lines[-n:]:
                print("  " + x, file=out)
        for i, m in enumerate(self.md9s):
            section("md9 #%d: %s" % (i + 1, " ".join(m.argv)),
                    m.log.snapshot())
        for i, hs in enumerate(self.hostsims):
            section("md9-hostsim #%d: %s" % (i + 1, " ".join(hs.argv)),
                    hs.log.snapshot())
        for i, fx in enumerate(self.xrdps):
            section("xrdp #%d (security_layer=%s, port %s)" % (
                i + 1, fx.security_layer, fx.port),
                fx.read_log().splitlines(), 40)
        for i, fx in enumerate(self.shadows):
            section("freerdp-shadow-cli #%d (sec %s, port %s)" % (
                i + 1, fx.sec or "all", fx.port), fx.read_log().splitlines(), 40)


def _prerequisites():
    if os.geteuid() != 0:
        raise Skip("needs root (the xrdp fixture reads /etc/xrdp keys)")
    for prog in ("xrdp", "openssl"):
        if not shutil.which(prog):
            raise Skip("%s is not installed" % prog)


def _on_sigterm(signo, frame):
    raise SystemExit(128 + signo)


def run_case(name, fn):
    """Run one case; returns the exit status (0, 1 or SKIP)."""
    t0 = time.monotonic()
    try:
        _prerequisites()
    except Skip as e:
        print("SKIP %s: %s" % (name, e))
        return SKIP
    h = Harness(name)
    status = 1
    try:
        fn(h)
        h.finish()
        status = 0
    except Skip as e:
        print("SKIP %s: %s" % (name, e))
        status = SKIP
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        h.dump()
    except BaseException as e:
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), file=sys.stderr)
        traceback.print_exc()
        h.dump()
        if not isinstance(e, Exception):
            raise   # SystemExit from SIGTERM, KeyboardInterrupt: cleanup below
    finally:
        h.cleanup()
    if status == 0:
        print("PASS %s (%.1fs)%s" % (name, time.monotonic() - t0, "".join(
            "\n  " + n for n in h.notes)))
    return status


def main(cases, argv=None):
    """CLI of a test file: FILE CASE... | FILE --list | FILE (all)."""
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    if argv and argv[0] in ("-l", "--list"):
        for c in cases:
            print(c)
        return 0
    names = argv or list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        print("unknown case(s): %s; known: %s" % (
            ", ".join(unknown), ", ".join(cases)), file=sys.stderr)
        return 2
    results = [run_case(n, cases[n]) for n in names]
    if any(r == 1 for r in results):
        return 1
    if all(r == SKIP for r in results):
        return SKIP
    return 0
