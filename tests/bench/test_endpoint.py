#!/usr/bin/python3
"""md9-hostsim's host endpoint (hostsim/endpoint.h) and md9bench, the two
tools bench/run measures md9 with, checked against each other through md9.

One case = one process:  python3 tests/bench/test_endpoint.py CASE
(``--list`` prints the cases). Each case starts md9bench server, md9-hostsim
--endpoint SPEC and md9 on its own bus and ports, waits for the lines the
tools print (never for time), and checks what they say:

  source    2 endpoint sources -> md9 -> the server verifies every byte
  sink      the server's source -> md9 -> 2 endpoint sinks verify every byte
            and report a measured window with md9's CPU time
  ping      the endpoint pings the server's echo: 500 round trips, percentiles
  echo      the server pings, the endpoint echoes
  mixed     a ping beside 2 sinks: the server echoes its first connection
            only (--echo-first), so the ping must be the first session
  hs        7 sessions opened and closed over 5 data instances: 7
            CreateSessions, 7 accepts, 7 sessions md9 opens and closes
  idle      6 idle sessions all reach the data phase
  bad_spec  a malformed --endpoint is refused with one line and exit 2

Environment: MD9_BIN, MD9_HOSTSIM, MD9_BENCH (ctest sets them; by hand the
binaries are looked up under build/).
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCALE = float(os.environ.get("MD9_TIME_SCALE", "1"))


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def binary(env, rel):
    path = os.environ.get(env) or os.path.join(REPO, "build", rel)
    check(os.access(path, os.X_OK), "no executable %s (set $%s)" % (path, env))
    return path


class Proc:
    """A child whose stdout and stderr lines are collected by threads."""

    def __init__(self, name, argv):
        self.name, self.argv = name, argv
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.threads = [threading.Thread(target=self._read, args=(f, t), daemon=True)
                        for f, t in ((self.p.stdout, "out"), (self.p.stderr, "err"))]
        for t in self.threads:
            t.start()

    def _read(self, f, tag):
        for line in f:
            with self.cond:
                self.lines.append((tag, line.rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, rx, timeout=20, stream=None, count=1):
        rx = re.compile(rx)
        deadline = time.monotonic() + timeout * SCALE
        with self.cond:
            while True:
                found = [m for m in (rx.search(l) for s, l in self.lines
                                     if stream in (None, s)) if m]
                if len(found) >= count:
                    return found[:count]
                ended = self.p.poll() is not None and not any(t.is_alive() for t in self.threads)
                left = deadline - time.monotonic()
                if ended or left <= 0:
                    raise Fail("%s: %d of %d line(s) matching /%s/ (%s)" % (
                        self.name, len(found), count, rx.pattern,
                        "exited %s" % self.p.poll() if ended else "timed out"))
                self.cond.wait(min(left, 0.5))

    def result(self, timeout=60):
        r = json.loads(self.wait_for(r"^result (.*)$", timeout, "out")[0].group(1))
        check("error" not in r, "%s: %s" % (self.name, r.get("error")))
        return r

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for t in self.threads:
            t.join(5)

    def dump(self):
        print("---- %s: %s" % (self.name, " ".join(self.argv)))
        for s, l in self.lines[-40:]:
            print("  [%s] %s" % (s, l))


class Stack:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.conf = os.path.join(tmp, "md9.conf")
        with open(self.conf, "w") as f:
            f.write("[md9]\nstatus_socket =\n")  # the default path is shared
            if os.geteuid() == 0:  # the user md9 runs as is ours to say
                f.write("user = root\nallow_root = yes\n")

    def start(self, name, argv):
        p = Proc(name, argv)
        self.procs.append(p)
        return p

    def server(self, *args):
        s = self.start("md9bench server", [binary("MD9_BENCH", "bench/md9bench"), "server"] +
                       list(args))
        self.port = int(s.wait_for(r"^listening (\d+)$", stream="out")[0].group(1))
        return s

    def hostsim(self, spec, *extra):
        bus = os.path.join(self.tmp, "bus")
        hs = self.start("md9-hostsim", [binary("MD9_HOSTSIM", "hostsim/md9-hostsim"),
                                        "--bus", bus, "--endpoint", spec] + list(extra))
        hs.wait_for(r"^ready ", stream="out")
        self.md9 = self.start("md9", [binary("MD9_BIN", "src/md9"), "run", "-c", self.conf,
                                      "--transport", "sim:" + bus,
                                      "--backend", "tcp:127.0.0.1:%d" % self.port,
                                      "--security", "auto"])
        return hs

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


def case_source(st):
    srv = st.server("--mode", "sink", "--verify", "--conns", "2", "--warmup", "0.2",
                    "--window", "1")
    hs = st.hostsim("source:2")
    r = srv.result()
    hs.wait_for(r"^endpoint ready 2$", stream="out")
    check(len(r["conns"]) == 2 and all(c["bytes"] > 0 for c in r["conns"]),
          "the server did not receive from both sessions: %s" % r)


def case_sink(st):
    srv = st.server("--mode", "source")
    watch = os.path.join(st.tmp, "watch")
    hs = st.hostsim("sink:2,verify,warmup=0.2,window=1,watch=" + watch)
    with open(watch + ".tmp", "w") as f:
        f.write("md9 %d\nsource %d\n" % (st.md9.p.pid, srv.p.pid))
    os.rename(watch + ".tmp", watch)
    r = hs.result()
    check(len(r["conns"]) == 2 and all(c["bytes"] > 0 for c in r["conns"]),
          "the endpoint did not receive on both sessions: %s" % r)
    check(0.9 <= r["window_s"] <= 1.5, "window of %.3f s, asked for 1 s" % r["window_s"])
    check(r["cpu_s"].get("md9", -1) > 0 and r["cpu_s"].get("source", -1) > 0,
          "CPU time of md9 and the server not reported: %s" % r["cpu_s"])


def ping_ok(r, n):
    check(r["n"] == n and r["size"] == 64, "not %d round trips of 64 bytes: %s" % (n, r))
    check(0 < r["min_us"] <= r["p50_us"] <= r["p99_us"] <= r["max_us"],
          "percentiles out of order: %s" % r)


def case_ping(st):
    st.server("--mode", "echo")
    hs = st.hostsim("ping,count=500,warm=50")
    ping_ok(hs.result(), 500)


def case_echo(st):
    srv = st.server("--mode", "ping", "--count", "500", "--warm-count", "50")
    st.hostsim("echo")
    ping_ok(srv.result(), 500)


def case_mixed(st):
    st.server("--mode", "source", "--echo-first", "1")
    hs = st.hostsim("ping,sink:2,count=300,warm=30")
    hs.wait_for(r"^endpoint ready 3$", stream="out")
    ping_ok(hs.result(), 300)


def case_hs(st):
    srv = st.server("--mode", "idle")
    hs = st.hostsim("hs,count=7,gap=20")
    lines = hs.wait_for(r"^hs (\d+) (\d+) (\d+)$", stream="out", count=7)
    check([int(m.group(1)) for m in lines] == list(range(7)), "hs lines out of order")
    check(all(int(m.group(3)) > int(m.group(2)) for m in lines), "hs times not increasing")
    hs.wait_for(r"hostsim: CreateSession ", count=7)
    srv.wait_for(r"^accept \d+ \d+$", stream="out", count=7)
    st.md9.wait_for(r"session \d+: closed \(the host closed the channel\)", count=7)


def case_idle(st):
    st.server("--mode", "idle")
    hs = st.hostsim("idle:6", "--instances", "8")
    hs.wait_for(r"^endpoint ready 6$", stream="out")
    st.md9.wait_for(r"session \d+: relaying$", count=6)


def case_bad_spec(st):
    for spec in ("bogus", "sink:0", "ping:2", "hs,sink", "sink,window=x", "sink,nokey=1"):
        p = subprocess.run([binary("MD9_HOSTSIM", "hostsim/md9-hostsim"), "--bus",
                            os.path.join(st.tmp, "bus"), "--endpoint", spec],
                           capture_output=True, text=True, timeout=20 * SCALE)
        errs = [l for l in p.stderr.splitlines() if "error" in l]
        check(p.returncode == 2, "--endpoint %s: exit %d, not 2" % (spec, p.returncode))
        check(len(errs) == 1 and "--endpoint" in errs[0],
              "--endpoint %s: not one clear error line: %r" % (spec, p.stderr))


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES and sys.argv[1] != "--list":
        print("usage: test_endpoint.py CASE|--list; cases: %s" % " ".join(CASES))
        return 2
    if sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    with tempfile.TemporaryDirectory(prefix="md9-endpoint-") as tmp:
        st = Stack(tmp)
        try:
            CASES[sys.argv[1]](st)
        except Fail as e:
            print("FAIL %s: %s" % (sys.argv[1], e))
            st.stop()
            for p in st.procs:
                p.dump()
            return 1
        st.stop()
        for p in st.procs:
            # md9 and md9-hostsim end cleanly on SIGTERM (under ASan: no leak).
            if p.name in ("md9", "md9-hostsim") and p.p.returncode != 0:
                p.dump()
                print("FAIL %s: %s exited %d after SIGTERM" % (sys.argv[1], p.name,
                                                              p.p.returncode))
                return 1
    print("PASS %s" % sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
