#!/usr/bin/python3
"""What md9's fault-injection and integrity tests share beyond tests/lib
(Python 3 stdlib): md9-testserver and md9-testclient, which generate every
byte that goes through md9 from a seed and verify it at the other end, and
the checks built on their "done" lines. Neither root nor xrdp is needed.

The fault tests (test_fault_control.py, test_fault_data.py,
test_fault_sessions.py): for each fault md9 logs the reason, ends only the
affected session (its server connection sees EOF, nothing corrupt reached
the server), keeps serving the others (a second session, transferring at
the time of the fault, completes byte-exact: same length and SHA-256 at
both ends and in md9's own counters) and keeps (or recovers) the control
channel (a new session works afterwards).

One case = one process:  python3 tests/fault/test_fault_data.py CASE
(``--list`` prints the cases). A case gets ``h`` (FaultHarness):

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
      sets them; by hand tests/lib looks in build/ and build-rel/)
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
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))

from md9test import (WRAPPER, MiB, T, Harness, LogStream, TestFailure, binary, check,  # noqa: E402
                     guarded, stop)

BYTES_SCALE = int(os.environ.get("MD9_BYTES_SCALE", "8" if WRAPPER else "1"))
# The bytes md9 counts host->server before the client's data: the seed's CR
# (19) and Connect-Initial (462); server->host: the Connection Confirm (19)
# and md9-testserver's MCS Connect-Response (118, tests/tools/connect_response.h).
NEGO_H2S = 19 + 462
NEGO_S2H = 19 + 118


class Server:
    """md9-testserver; prints 'listening PORT' then one line per connection."""

    def __init__(self, args):
        self.argv = [binary("MD9_TESTSERVER", "tests/md9-testserver", "md9-testserver")]
        self.argv += list(args)
        self.proc = subprocess.Popen(guarded(self.argv), stdin=subprocess.DEVNULL,
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
        stop(self.proc, signal.SIGKILL)
        self.out.join()


class Client:
    """md9-testclient run in the background."""

    def __init__(self, port, args):
        self.argv = [binary("MD9_TESTCLIENT", "tests/md9-testclient", "md9-testclient"),
                     "--port", str(port)]
        self.argv += [str(a) for a in args]
        self.proc = subprocess.Popen(guarded(self.argv), stdin=subprocess.DEVNULL,
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
        stop(self.proc, signal.SIGKILL)
        self.out.join()


class FaultHarness(Harness):
    """Harness plus md9-testserver and md9-testclient; md9-hostsim always
    takes --commands and must exit 0 at the end."""

    prefix = "md9-fault-"
    check_hostsim_exit = True

    def __init__(self, name):
        super().__init__(name)
        self.servers, self.clients = [], []

    def server(self, *args):
        s = Server(args)
        self.servers.append(s)
        return s

    def hostsim(self, *args):
        return super().hostsim(*args, commands=True)

    def md9(self, hostsim, server, *extra, wait_ready=True):
        port = server.port if isinstance(server, Server) else server
        return super().md9(hostsim, port, None, extra, wait_ready)

    def client(self, hostsim, *args):
        c = Client(hostsim.raw_port, args)
        self.clients.append(c)
        return c

    def cleanup(self):
        for c in self.clients:
            c.kill()
        super().cleanup()
        for s in self.servers:
            s.kill()

    def dump(self, out=sys.stderr):
        super().dump(out)
        for s in self.servers:
            self.section(out, "md9-testserver: " + " ".join(s.argv), s.out.snapshot(), 40)
        for c in self.clients:
            self.section(out, "md9-testclient: " + " ".join(c.argv), c.out.snapshot(), 40)


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


# ---------------------------------------------------------------------------
# the building blocks of the fault cases (tests/fault/test_fault_*.py)
# ---------------------------------------------------------------------------

SERVER_SEED = 7
# A finite transfer each way for the "other" sessions.
FIN = 64 * MiB // BYTES_SCALE
PROGRESS = 1 * MiB


def stack(h, hostsim_args=(), md9_args=(), server_args=()):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED), *server_args)
    hs = h.hostsim(*hostsim_args)
    m = h.md9(hs, srv, *md9_args)
    return srv, hs, m


def client(h, hs, seed, send, recv, *more):
    """One session (or --sessions K) of md9-testclient: send/recv are byte
    counts or "inf"."""
    return h.client(hs, "--seed", seed, "--server-seed", SERVER_SEED, "--bytes", send,
                    "--recv-bytes", recv, "--progress", PROGRESS, "--timeout", T(30), *more)


def running(h, hs, m, sid, seed, send="inf", recv=MiB, moved=4 * MiB):
    """Start a session and wait until it is md9's session `sid` and has
    moved `moved` bytes: it is mid-transfer (and, when recv is finite and
    send is not, the server has sent all it will: it only reads now).
    Returns (client, channel)."""
    c = client(h, hs, seed, send, recv)
    chan = m.opened(sid)
    c.progress(0, moved, T(20), received=recv if send == "inf" and recv != "inf" else 0)
    return c, chan


def finish_ok(h, c, srv, m, sid, what):
    """The session ran to its end byte-exact; md9's counters agree."""
    cs = c.session(0, T(120))
    ss = srv.wait_conn(cs["seed"], T(30))
    check_complete(cs, ss, what)
    closed = m.wait_closed(sid, T(30))
    check_md9_counts(closed, cs, ss, what)
    return cs, ss, closed


def ended_cleanly(srv, c, m, sid, reason_rx, what, exact=True):
    """The affected session: md9 closed it for `reason_rx`; the client's and
    the server's ends saw EOF, and every byte either of them received was
    the right one (nothing corrupt got through). exact: the server was not
    sending at the end, so it received every byte md9 relayed (a server
    still sending when md9 closes gets a TCP reset, which drops what md9's
    socket had not sent yet; see docs/threat-model.md)."""
    closed = m.wait_closed(sid, T(20))
    check(re.fullmatch(reason_rx, closed.group("reason")),
          "%s: md9 closed session %d for '%s', expected /%s/"
          % (what, sid, closed.group("reason"), reason_rx))
    cs = c.session(0, T(20))
    check(cs["status"].startswith("eof") and cs["verified"] == "yes",
          "%s: client: %s" % (what, cs["line"]))
    ss = srv.wait_conn(cs["seed"], T(20))
    check(ss["status"] in ("eof", "complete") and ss["verified"] == "yes",
          "%s: server: %s" % (what, ss["line"]))
    # md9 wrote to the server exactly what it counted: nothing lost inside.
    h2s = int(closed.group("h2s"))
    check(h2s == NEGO_H2S + ss["received"] if exact else h2s >= NEGO_H2S + ss["received"],
          "%s: md9 counted %d bytes host->server, the server received %d (+%d)"
          % (what, h2s, ss["received"], NEGO_H2S))
    # What reached the client is what md9 put in the ring, or less: the
    # host drops what it had not read when the channel ends.
    check(cs["received"] <= int(closed.group("s2h")) - NEGO_S2H,
          "%s: the client received more than md9 sent" % what)
    return closed


def new_session_works(h, hs, srv, m, sid, seed, what="a new session"):
    c = client(h, hs, seed, 1 * MiB, 1 * MiB)
    m.opened(sid)
    return finish_ok(h, c, srv, m, sid, what)


def fault_with_bystander(h, apply, reason_rx, what, hostsim_args=(), a_recv=MiB):
    """The common shape: session 1 (A) sends without end (and receives
    a_recv bytes), session 2 (B) runs a finite transfer; `apply(hs, chan_a)`
    injects the fault into A; A must end for reason_rx, B must complete
    byte-exact, and session 3 must work."""
    srv, hs, m = stack(h, hostsim_args)
    a, chan_a = running(h, hs, m, 1, 100, "inf", a_recv, moved=4 * MiB)
    b, _ = running(h, hs, m, 2, 200, FIN, FIN, moved=PROGRESS)
    apply(hs, chan_a)
    ended_cleanly(srv, a, m, 1, reason_rx, what, exact=a_recv != "inf")
    finish_ok(h, b, srv, m, 2, "the other session")
    new_session_works(h, hs, srv, m, 3, 300)
    check(not m.find(r"control channel: "), "the control channel failed: %s"
          % m.find(r"control channel: .*"))
    return srv, hs, m
