"""md9-hostsim and md9 as tests run them: private bus, private (empty)
configuration, -v, output read by a thread."""

import os
import re
import signal
import subprocess

from .core import LOOPBACK, WRAPPER, T, TestFailure, binary, check
from .procs import LogStream, child_env, cpu, guarded, stop

# md9's line prefix: "HH:MM:SS.mmm md9[PID] LEVEL: text" (src/base/log.c)
MD9_ERROR_LINE = re.compile(r"^\S+ md9\[\d+\] error: ")
MD9_ANY_LINE = re.compile(r"^\S+ md9\[\d+\] (error|warning|info|debug): ")
# session.c: the line a session ends with, and the one it starts with
CLOSED_RE = (r"session (?P<id>\d+): closed \((?P<reason>.*)\): channel "
             r"(?P<channel>[0-9a-fA-F-]{36}), (?P<h2s>\d+) bytes host->server, "
             r"(?P<s2h>\d+) bytes server->host, (?P<secs>[0-9.]+) s$")
OPENED_RE = (r"session (?P<id>\d+): opened on data channel "
             r"(?P<channel>[0-9a-f-]{36})")
CTRL_READY_RE = r"control channel ready: host accepted SynthRdp protocol 1\.0"


# Which user md9 runs as is the test's choice, never the machine's (a system
# user md9 may exist or not): started as root, md9 would drop to user md9 or
# refuse to run. Tests of the data path keep md9 root explicitly when they
# are root; tests/security/ runs it as real unprivileged users.
RUN_AS = "user = root\nallow_root = yes\n" if os.geteuid() == 0 else ""


def _session_rx(rx, sid):
    return rx.replace(r"(?P<id>\d+)", r"(?P<id>%d)" % sid)


class Hostsim:
    """md9-hostsim with its bus in tmp and a raw front end on 127.0.0.1:0;
    with commands=True it reads --commands lines from its stdin."""

    def __init__(self, tmp, args=(), commands=False):
        self.bus = os.path.join(tmp, "bus")
        self.argv = WRAPPER + [binary("MD9_HOSTSIM", "hostsim/md9-hostsim"), "--bus", self.bus,
                               "--raw-listen", "%s:0" % LOOPBACK] + [str(a) for a in args]
        if commands:
            self.argv.append("--commands")
        self.proc = subprocess.Popen(guarded(self.argv),
                                     stdin=subprocess.PIPE if commands else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True, env=child_env())
        self.out = LogStream("md9-hostsim stdout", self.proc.stdout)
        self.log = LogStream("md9-hostsim", self.proc.stderr)
        m = self.out.wait_for(r"^ready (\S+) raw=(-?\d+)(?: rdp=(-?\d+))?", T(10))[0]
        check(m.group(1) == self.bus, "hostsim's ready line names bus %r, not %r"
              % (m.group(1), self.bus))
        self.raw_port = int(m.group(2))
        self.rdp_port = int(m.group(3) or 0)
        check(self.raw_port > 0, "hostsim has no raw front end: %s" % m.group(0))
        self.exit_code = None

    def command(self, line, wait=True):
        """Send a --commands line; wait until hostsim says it ran it."""
        check(self.proc.stdin is not None, "hostsim started without --commands")
        mark = self.log.mark()
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        if wait:
            self.log.wait_for(r"hostsim: command '%s' done" % re.escape(line), T(10),
                              since=mark)

    def status(self):
        """{name: {field: int}} from the 'status' command."""
        mark = self.out.mark()
        self.command("status", wait=False)
        self.out.wait_for(r"^status end$", T(10), since=mark)
        res = {}
        for line in self.out.snapshot(mark):
            if not line.startswith("status ") or line == "status end":
                continue
            parts = line.split()
            res[parts[1]] = {k: int(v) for k, v in (p.split("=") for p in parts[2:])}
        return res

    def alive(self):
        return self.proc.poll() is None

    def cpu(self):
        return cpu(self.proc.pid)

    def stop(self):
        """SIGTERM; its exit status (None if it had to be killed)."""
        if self.exit_code is None:
            self.exit_code = stop(self.proc, grace=T(10))
            self.out.join()
            self.log.join()
        return self.exit_code

    def kill(self):
        stop(self.proc, signal.SIGKILL)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.out.join()
        self.log.join()


class Md9:
    """`md9 run -v` on a hostsim's bus with a private configuration (only
    RUN_AS unless tmp/md9.conf exists: /etc/md9/md9.conf must not leak into
    a test). backend: a port on 127.0.0.1 or a spec; security: a mode or
    None for md9's default."""

    def __init__(self, tmp, hostsim, backend, security=None, extra=(), wait_ready=True):
        self.conf = os.path.join(tmp, "md9.conf")
        if not os.path.exists(self.conf):
            with open(self.conf, "w") as f:
                f.write("[md9]\n" + RUN_AS)
        if isinstance(backend, int):
            backend = "tcp:%s:%d" % (LOOPBACK, backend)
        self.backend = backend
        self.security = security
        self.argv = WRAPPER + [binary("MD9_BIN", "src/md9", "md9"), "run", "-c", self.conf,
                               "--transport", "sim:" + hostsim.bus, "--backend", backend]
        if security:
            self.argv += ["--security", security]
        self.argv += ["-v"] + [str(a) for a in extra]
        self.allow_errors = False
        self.exit_code = None
        self.proc = subprocess.Popen(guarded(self.argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=child_env())
        self.pid = self.proc.pid
        self.log = LogStream("md9", self.proc.stdout)
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, since=0, count=1):
        return self.wait_for_log(CTRL_READY_RE, T(10), since, count)

    def wait_for_log(self, regex, timeout=None, since=0, count=1):
        return self.log.wait_for(regex, T(10) if timeout is None else timeout, since, count)

    def find(self, regex, since=0):
        return self.log.find(regex, since)

    def mark(self):
        return self.log.mark()

    def opened(self, sid, timeout=None):
        """Channel GUID of session sid (waits for its 'opened' line)."""
        return self.wait_for_log(_session_rx(OPENED_RE, sid), timeout)[-1].group("channel")

    def wait_closed(self, sid, timeout=None, since=0):
        """The 'session SID: closed (...)' line (with its byte counters)."""
        return self.wait_for_log(_session_rx(CLOSED_RE, sid), timeout, since)[-1]

    def closed_sessions(self, since=0):
        """{session id: match of its 'closed (...)' line}."""
        return {int(m.group("id")): m for m in self.find(CLOSED_RE, since)}

    def cpu(self):
        """md9's utime+stime in seconds (of the wrapper's process if wrapped)."""
        return cpu(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def assert_alive(self, when=""):
        check(self.alive(), "md9 exited%s (status %s)" % (" " + when if when else "",
                                                           self.proc.poll()))

    def error_lines(self):
        return [x for x in self.log.snapshot() if MD9_ERROR_LINE.search(x)]

    def assert_no_errors(self):
        # Guard against a vacuous search: the prefix must be the known one.
        check(any(MD9_ANY_LINE.search(x) for x in self.log.snapshot()),
              "md9's lines do not start 'HH:MM:SS.mmm md9[PID] LEVEL: '; cannot check "
              "for error lines")
        bad = self.error_lines()
        check(not bad, "md9 printed error-level line(s):\n  " + "\n  ".join(bad))

    def stop(self, grace=None):
        """SIGTERM; md9 must stop within the grace time. Its exit status."""
        if self.exit_code is None:
            rc = stop(self.proc, grace=T(10) if grace is None else grace)
            self.log.join()
            if rc is None:
                raise TestFailure("md9 did not stop within %.0fs of SIGTERM"
                                  % (T(10) if grace is None else grace))
            self.exit_code = rc
        return self.exit_code

    def kill(self):
        stop(self.proc, signal.SIGKILL)
        self.log.join()
