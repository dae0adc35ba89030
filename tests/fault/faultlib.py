#!/usr/bin/python3
"""Harness for md9's fault-injection and integrity tests (Python 3 stdlib).

Unlike tests/integration/harness.py it needs neither root nor xrdp: the RDP
server is tests/tools/md9-testserver and the host's client is
tests/tools/md9-testclient (both C, built by CMake), so every byte that goes
through md9 is generated from a seed and verified at the other end.

One case = one process:  python3 tests/fault/test_fault.py CASE
(``--list`` prints the cases).  A case gets ``h`` (Harness):

* ``h.server(*args)``   md9-testserver; ``.port``, ``.conns()`` (done lines)
* ``h.hostsim(*args)``  md9-hostsim --commands with a raw front end;
  ``.command(line)`` waits for hostsim's "command '...' done" line;
  ``.status()`` parses the "status ..." lines of the ``status`` command
* ``h.md9(hostsim, server, *extra)``  md9 run -v, waits for the control
  channel; ``.wait_for_log(rx)``, ``.cpu()`` (utime+stime from /proc)
* ``h.client(hostsim, *args)``  md9-testclient in the background;
  ``.wait()`` returns {index: session dict}, ``.progress(idx, n)``

Environment:
  MD9_BIN, MD9_HOSTSIM, MD9_TESTSERVER, MD9_TESTCLIENT  the binaries (ctest
      sets them; by hand the harness looks in build-rel/ and build/)
  MD9_WRAPPER   a command line put in front of md9 and md9-hostsim, e.g.
      "valgrind --error-exitcode=97 --leak-check=full
       --errors-for-leak-kinds=definite,indirect"; then both must exit 0
      at the end (valgrind's 97 = an error or a leak) and every timeout is
      multiplied by MD9_TIME_SCALE (default 20 under a wrapper)
  MD9_TIME_SCALE  multiply every timeout (slow machines, sanitizers)
  MD9_BYTES_SCALE divide the transfer sizes of the fault tests (default 8
      under a wrapper, else 1)
  MD9_INTEGRITY_BYTES  bytes each way of the integrity tests (default 1 GiB)

At the end of every case md9 gets SIGTERM and must exit 0 having printed no
error-level line (unless the case allows it), then hostsim gets SIGTERM and
must exit 0; everything else is killed.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOOPBACK = "127.0.0.1"
SKIP = 77

WRAPPER = shlex.split(os.environ.get("MD9_WRAPPER", ""))
TIME_SCALE = float(os.environ.get("MD9_TIME_SCALE", "20" if WRAPPER else "1"))
BYTES_SCALE = int(os.environ.get("MD9_BYTES_SCALE", "8" if WRAPPER else "1"))
MiB = 1 << 20
GiB = 1 << 30

# "HH:MM:SS.mmm md9[PID] LEVEL: text"
MD9_ERROR_LINE = re.compile(r"^\S+ md9\[\d+\] error: ")
CLOSED_RE = (r"session (?P<id>\d+): closed \((?P<reason>.*)\): channel "
             r"(?P<channel>[0-9a-f-]{36}), (?P<h2s>\d+) bytes host->server, "
             r"(?P<s2h>\d+) bytes server->host, (?P<secs>[0-9.]+) s$")
OPENED_RE = (r"session (?P<id>\d+): opened on data channel "
             r"(?P<channel>[0-9a-f-]{36})")
# The bytes md9 counts host->server before the client's data: the seed's CR
# (19) and Connect-Initial (462); server->host: the Connection Confirm (19)
# and md9-testserver's MCS Connect-Response (118, tests/tools/connect_response.h).
NEGO_H2S = 19 + 462
NEGO_S2H = 19 + 118


def T(seconds):
    """A timeout, scaled for slow runs (valgrind, sanitizers)."""
    return seconds * TIME_SCALE


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def _binary(env, rels):
    path = os.environ.get(env)
    if path:
        check(os.access(path, os.X_OK), "$%s=%s is not executable" % (env, path))
        return path
    for build in ("build-rel", "build", "build-lead"):
        for rel in rels:
            cand = os.path.join(REPO, build, rel)
            if os.access(cand, os.X_OK):
                return cand
    raise TestFailure("set $%s (no %s under build-rel/ or build/)" % (env, rels[0]))


_SETPRIV = shutil.which("setpriv")


def _guarded(argv):
    """The child dies with us (PR_SET_PDEATHSIG) if setpriv exists."""
    if _SETPRIV:
        return [_SETPRIV, "--pdeathsig", "KILL", "--"] + argv
    return argv


class LogStream:
    """A pipe's lines, read by a thread, waitable with a deadline."""

    def __init__(self, name, pipe):
        self.name = name
        self.lines = []
        self.closed = False
        self.cond = threading.Condition()
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, daemon=True)
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
                    self.lines.extend(x.decode("utf-8", "replace") for x in complete)
                    self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append(buf.decode("utf-8", "replace"))
            self.closed = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def snapshot(self, since=0):
        with self.cond:
            return list(self.lines[since:])

    def find(self, regex, since=0):
        rx = re.compile(regex)
        return [m for m in (rx.search(x) for x in self.snapshot(since)) if m]

    def wait_for(self, regex, timeout, since=0, count=1):
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(x) for x in self.lines[since:]) if m]
                if len(found) >= count:
                    return found
                if self.closed:
                    raise TestFailure("%s ended with %d of %d line(s) matching /%s/"
                                      % (self.name, len(found), count, regex))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("timed out after %.1fs waiting for %d line(s) "
                                      "matching /%s/ in %s (found %d)"
                                      % (timeout, count, regex, self.name, len(found)))
                self.cond.wait(left)

    def join(self, timeout=5.0):
        self._thread.join(timeout)


def _cpu(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14, 15).
    Under setpriv the pid is the exec'd program itself."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stop(proc, sig=signal.SIGTERM, grace=5.0):
    """Signal and wait; returns the exit status (None if it had to be killed)."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        proc.send_signal(sig)
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


class Server:
    """md9-testserver; prints 'listening PORT' then one line per connection."""

    def __init__(self, args):
        self.argv = [_binary("MD9_TESTSERVER", ["md9-testserver"])] + list(args)
        self.proc = subprocess.Popen(_guarded(self.argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.out = LogStream("md9-testserver", self.proc.stdout)
        self.port = int(self.out.wait_for(r"^listening (\d+)$", T(10))[0].group(1))

    def conns(self, since=0):
        """{client seed: dict of the 'done' line} (sink-source / echo)."""
        res = {}
        for m in self.out.find(r"^conn \d+: done mode=.*$", since):
            d = parse_done("server", m.group(0))
            res[d["seed"]] = d
        return res

    def wait_conn(self, seed, timeout):
        rx = r"^conn \d+: done .*seed=0x%016x " % seed
        self.out.wait_for(rx, timeout)
        return self.conns()[seed]

    def kill(self):
        _stop(self.proc, signal.SIGKILL)
        self.out.join()


class Hostsim:
    def __init__(self, tmp, args):
        self.bus = os.path.join(tmp, "bus")
        self.argv = WRAPPER + [_binary("MD9_HOSTSIM", ["hostsim/md9-hostsim"]),
                               "--bus", self.bus, "--raw-listen", "%s:0" % LOOPBACK,
                               "--commands"] + list(args)
        self.proc = subprocess.Popen(_guarded(self.argv), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.out = LogStream("md9-hostsim stdout", self.proc.stdout)
        self.log = LogStream("md9-hostsim", self.proc.stderr)
        m = self.out.wait_for(r"^ready (\S+) raw=(-?\d+)", T(10))[0]
        self.raw_port = int(m.group(2))
        check(self.raw_port > 0, "hostsim has no raw front end")
        self.exit_code = None

    def command(self, line, wait=True):
        """Send a --commands line; wait until hostsim says it ran it."""
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

    def stop(self):
        if self.exit_code is None:
            self.exit_code = _stop(self.proc, grace=T(10))
            self.out.join()
            self.log.join()
        return self.exit_code

    def cpu(self):
        return _cpu(self.proc.pid)

    def kill(self):
        _stop(self.proc, signal.SIGKILL)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.out.join()
        self.log.join()


# Which user md9 runs as is the test's choice, never the machine's (a system
# user md9 may exist or not): as root these tests keep md9 root explicitly;
# tests/security/ runs it as real unprivileged users.
RUN_AS = "user = root\nallow_root = yes\n" if os.geteuid() == 0 else ""


class Md9:
    def __init__(self, tmp, hostsim, server_port, extra=(), wait_ready=True):
        conf = os.path.join(tmp, "md9.conf")
        with open(conf, "w") as f:
            f.write("[md9]\n" + RUN_AS)
        self.argv = WRAPPER + [_binary("MD9_BIN", ["md9", "src/md9"]), "run", "-c", conf,
                               "--transport", "sim:" + hostsim.bus,
                               "--backend", "tcp:%s:%d" % (LOOPBACK, server_port),
                               "-v"] + list(extra)
        self.allow_errors = False
        self.proc = subprocess.Popen(_guarded(self.argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.log = LogStream("md9", self.proc.stdout)
        self.exit_code = None
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, since=0, count=1):
        return self.wait_for_log(r"control channel ready: host accepted SynthRdp "
                                 r"protocol 1\.0", T(10), since, count)

    def wait_for_log(self, regex, timeout=None, since=0, count=1):
        return self.log.wait_for(regex, T(10) if timeout is None else timeout, since, count)

    def find(self, regex, since=0):
        return self.log.find(regex, since)

    def mark(self):
        return self.log.mark()

    def opened(self, sid, timeout=None):
        """Channel GUID of session sid (waits for its 'opened' line)."""
        rx = OPENED_RE.replace(r"(?P<id>\d+)", str(sid))
        return self.wait_for_log(rx, timeout).pop().group("channel")

    def closed(self, sid, timeout=None):
        rx = CLOSED_RE.replace(r"(?P<id>\d+)", str(sid))
        return self.wait_for_log(rx, timeout).pop()

    def cpu(self):
        """md9's utime+stime in seconds (of the wrapper's process if wrapped)."""
        return _cpu(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def error_lines(self):
        return [x for x in self.log.snapshot() if MD9_ERROR_LINE.search(x)]

    def stop(self):
        if self.exit_code is None:
            self.exit_code = _stop(self.proc, grace=T(10))
            self.log.join()
        return self.exit_code

    def kill(self):
        _stop(self.proc, signal.SIGKILL)
        self.log.join()


class Client:
    """md9-testclient run in the background."""

    def __init__(self, port, args):
        self.argv = [_binary("MD9_TESTCLIENT", ["md9-testclient"]), "--port", str(port)]
        self.argv += [str(a) for a in args]
        self.proc = subprocess.Popen(_guarded(self.argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.out = LogStream("md9-testclient", self.proc.stdout)

    def progress(self, idx, nbytes, timeout, received=0):
        """Wait until session idx has moved at least nbytes (sent + received)
        and received at least `received`."""
        rx = re.compile(r"^session %d: progress sent=(\d+) received=(\d+)$" % idx)
        deadline = time.monotonic() + timeout
        with self.out.cond:
            while True:
                for line in self.out.lines:
                    m = rx.search(line)
                    if m and int(m.group(1)) + int(m.group(2)) >= nbytes \
                            and int(m.group(2)) >= received:
                        return int(m.group(1)), int(m.group(2))
                if self.out.closed:
                    raise TestFailure("md9-testclient ended before session %d moved %d "
                                      "bytes:\n  %s" % (idx, nbytes,
                                                        "\n  ".join(self.out.lines[-10:])))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("session %d did not move %d bytes within %.0fs"
                                      % (idx, nbytes, timeout))
                self.out.cond.wait(left)

    def last_progress(self, idx):
        ms = self.out.find(r"^session %d: progress sent=(\d+) received=(\d+)$" % idx)
        return (int(ms[-1].group(1)), int(ms[-1].group(2))) if ms else (0, 0)

    def session(self, idx, timeout):
        self.out.wait_for(r"^session %d: done " % idx, timeout)
        return self.sessions()[idx]

    def sessions(self):
        res = {}
        for m in self.out.find(r"^session \d+: done .*$"):
            d = parse_done("client", m.group(0))
            res[int(d["idx"])] = d
        return res

    def wait(self, timeout):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("md9-testclient did not finish within %.0fs:\n  %s"
                              % (timeout, "\n  ".join(self.out.snapshot()[-10:])))
        self.out.join()
        return self.sessions()

    def result(self):
        m = self.out.find(r"^result: (.*)$")
        return dict(kv.split("=", 1) for kv in m[-1].group(1).split(" ")) if m else {}

    def kill(self):
        _stop(self.proc, signal.SIGKILL)
        self.out.join()


class Harness:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="md9-fault-")
        self.servers, self.hostsims, self.md9s, self.clients = [], [], [], []
        self.notes = []

    def server(self, *args):
        s = Server(args)
        self.servers.append(s)
        return s

    def hostsim(self, *args):
        hs = Hostsim(self.tmp, args)
        self.hostsims.append(hs)
        return hs

    def md9(self, hostsim, server, *extra, wait_ready=True):
        port = server.port if isinstance(server, Server) else server
        m = Md9(self.tmp, hostsim, port, extra, wait_ready)
        self.md9s.append(m)
        return m

    def client(self, hostsim, *args):
        c = Client(hostsim.raw_port, args)
        self.clients.append(c)
        return c

    def note(self, text):
        self.notes.append(text)

    def finish(self):
        for m in self.md9s:
            check(m.exit_code is not None or m.alive(),
                  "md9 exited before the end of the test (status %s)" % m.proc.poll())
        for m in self.md9s:
            rc = m.stop()
            check(rc == 0, "md9 exited with status %s after SIGTERM%s" % (
                rc, " (valgrind found errors or leaks)" if rc == 97 else ""))
            m.wait_for_log(r"signal 15: stopping", 1.0)
            if not m.allow_errors:
                bad = m.error_lines()
                check(not bad, "md9 printed error-level line(s):\n  " + "\n  ".join(bad))
        for hs in self.hostsims:
            rc = hs.stop()
            check(rc == 0, "md9-hostsim exited with status %s after SIGTERM%s" % (
                rc, " (valgrind found errors or leaks)" if rc == 97 else ""))

    def cleanup(self):
        for c in self.clients:
            c.kill()
        for m in self.md9s:
            m.kill()
        for hs in self.hostsims:
            hs.kill()
        for s in self.servers:
            s.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump(self, out=sys.stderr):
        def section(title, lines, n=120):
            print("---- %s (%d lines%s) ----" % (title, len(lines),
                                                ", last %d" % n if len(lines) > n else ""),
                  file=out)
            for x in lines[-n:]:
                print("  " + x, file=out)
        for m in self.md9s:
            section("md9: " + " ".join(m.argv), m.log.snapshot())
        for hs in self.hostsims:
            section("md9-hostsim: " + " ".join(hs.argv), hs.log.snapshot())
            section("md9-hostsim stdout", hs.out.snapshot(), 30)
        for s in self.servers:
            section("md9-testserver: " + " ".join(s.argv), s.out.snapshot(), 40)
        for c in self.clients:
            section("md9-testclient: " + " ".join(c.argv), c.out.snapshot(), 40)


# ---------------------------------------------------------------------------
# checks shared by the tests
# ---------------------------------------------------------------------------

_LINE_RX = {
    "client": re.compile(r"^session (?P<idx>\d+): done seed=0x(?P<seed>[0-9a-f]+) "
                         r"sent=(?P<sent>\d+) sha256=(?P<sent_sha>[0-9a-f]{64}) "
                         r"received=(?P<received>\d+) sha256=(?P<received_sha>[0-9a-f]{64}) "
                         r"verified=(?P<verified>\S+) status=(?P<status>.*?)"
                         r"(?: seconds=(?P<seconds>[0-9.]+) send_MBps=(?P<send_MBps>[0-9.]+) "
                         r"recv_MBps=(?P<recv_MBps>[0-9.]+))?$"),
    "server": re.compile(r"^conn (?P<conn>\d+): done mode=(?P<mode>\S+) "
                         r"seed=0x(?P<seed>[0-9a-f]+) "
                         r"received=(?P<received>\d+) sha256=(?P<received_sha>[0-9a-f]{64}) "
                         r"sent=(?P<sent>\d+) sha256=(?P<sent_sha>[0-9a-f]{64}) "
                         r"verified=(?P<verified>\S+) status=(?P<status>.*)$"),
}


def parse_done(kind, line):
    m = _LINE_RX[kind].search(line)
    check(m is not None, "cannot parse the %s line: %s" % (kind, line))
    d = m.groupdict()
    for k in ("sent", "received"):
        d[k] = int(d[k])
    d["seed"] = int(d["seed"], 16)
    d["line"] = line
    return d


def check_complete(c, s, what):
    """A session that ran to its end: both ends complete and verified, and
    what one end sent is, byte count and SHA-256, what the other received."""
    check(c["status"] == "complete" and c["verified"] == "yes",
          "%s: client: %s" % (what, c["line"]))
    check(s["status"] == "complete" and s["verified"] == "yes",
          "%s: server: %s" % (what, s["line"]))
    check((c["sent"], c["sent_sha"]) == (s["received"], s["received_sha"]),
          "%s: host->server differs:\n  client %s\n  server %s" % (what, c["line"], s["line"]))
    check((s["sent"], s["sent_sha"]) == (c["received"], c["received_sha"]),
          "%s: server->host differs:\n  client %s\n  server %s" % (what, c["line"], s["line"]))


def check_md9_counts(closed, c, s, what):
    """md9's own counters of a session that ran to its end match both ends:
    nothing lost or added inside md9."""
    h2s, s2h = int(closed.group("h2s")), int(closed.group("s2h"))
    check(h2s == NEGO_H2S + s["received"],
          "%s: md9 counted %d bytes host->server, the server received %d (+%d negotiation)"
          % (what, h2s, s["received"], NEGO_H2S))
    check(s2h == NEGO_S2H + c["received"],
          "%s: md9 counted %d bytes server->host, the client received %d (+%d negotiation)"
          % (what, s2h, c["received"], NEGO_S2H))


def run_case(name, fn):
    t0 = time.monotonic()
    h = Harness(name)
    status = 1
    try:
        fn(h)
        h.finish()
        status = 0
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        h.dump()
    except BaseException as e:
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), file=sys.stderr)
        traceback.print_exc()
        h.dump()
        if not isinstance(e, Exception):
            h.cleanup()
            raise
    finally:
        h.cleanup()
    if status == 0:
        print("PASS %s (%.1fs)%s" % (name, time.monotonic() - t0,
                                     "".join("\n  " + n for n in h.notes)))
    sys.stdout.flush()
    return status


def _on_sigterm(signo, frame):
    raise SystemExit(128 + signo)


def main(cases, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _on_sigterm)
    if argv and argv[0] in ("-l", "--list"):
        for c in cases:
            print(c)
        return 0
    names = argv or list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        print("unknown case(s): %s; known: %s" % (", ".join(unknown), ", ".join(cases)),
              file=sys.stderr)
        return 2
    results = [run_case(n, cases[n]) for n in names]
    return 1 if any(r == 1 for r in results) else 0
