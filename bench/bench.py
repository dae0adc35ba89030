#!/usr/bin/env python3
"""md9's benchmark driver (run it through bench/run, which builds first).

md9's own hop against the strongest relays, in one interleaved run:

  direct          md9bench client ─TCP─▶ md9bench server            (the floor)
  socat           client ─TCP─▶ socat (defaults: 8 KiB) ─TCP─▶ server  (reference)
  socat-256k      client ─TCP─▶ socat -b 262144 ─TCP─▶ server           (peer)
  haproxy         client ─TCP─▶ HAProxy, tcp mode, splice ─TCP─▶ server  (peer)
  haproxy-auto    the same with option splice-auto                     (peer)
  md9             md9-hostsim endpoint ═ring═ md9 ─TCP─▶ server     (md9's hop)
  md9-2hop        client ─TCP─▶ md9-hostsim raw front end ═ring═ md9 ─TCP─▶ server

Every path is three processes except md9-2hop (four: the simulator's TCP
front end is a second relay, which Hyper-V does not have; it is reported in
its own table and no target uses it). md9bench (bench/tools/md9bench.c) is
the TCP client and a fake RDP server; md9-hostsim --endpoint
(hostsim/endpoint.h) is the host end on the rings. Both play vmconnect's
opening (X.224 Connection Request, Connection Confirm selecting
PROTOCOL_RDP, a 462-byte MCS Connect-Initial) before any measurement.

Targets are ratios against the best peer of the same round (socat-256k,
haproxy, haproxy-auto; never direct or socat-default), and the target value
is the median of the per-round ratios. Python standard library only; the
plot is drawn by gnuplot. Prints PASS/FAIL per target and exits 1 on a FAIL.
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PEERS = ("socat-256k", "haproxy", "haproxy-auto")
REFERENCE = ("socat",)
PATHS = ("direct",) + REFERENCE + PEERS + ("md9", "md9-2hop")
# The CPU that counts as the relay's on each path (the traffic ends excluded).
RELAY_PROCS = {"socat": ("socat",), "socat-256k": ("socat",), "haproxy": ("haproxy",),
               "haproxy-auto": ("haproxy",), "md9": ("md9",), "md9-2hop": ("md9", "hostsim")}

# Targets (issue 14), every one a median of per-round ratios unless absolute.
T_THROUGHPUT_X = 1.5      # md9 MB/s >= 1.5 x the best peer's, each direction
T_CPU_X = 0.5             # md9 CPU s/GB <= 0.5 x the best peer's relay CPU s/GB
T_ADDED_P50_X = 0.8       # md9 added p50 <= 0.8 x the best peer's added p50
T_ADDED_P99_X = 0.8       # same for p99
T_MAX_X = 2.0             # md9 max round trip <= 2 x the best peer's max
T_IDLE_CPU_S = 0.01       # md9 CPU over 10 s with 1 and 16 idle sessions
T_SETUP_P50_MS = 1.0      # CreateSession -> server accept() p50
T_SCALE_AGG = 0.15        # aggregate at most 15 % below the 1-session figure
T_FAIRNESS = 0.20         # every session within +-20 % of the mean
T_INTERACTIVE_X = 2.0     # ping p50 beside 4 saturating sessions <= 2 x unloaded

SCALE_STEPS = (1, 2, 4, 8, 16)
INSTANCES = 17            # data instances hostsim rotates over (16 sessions + 1)
DIRS = (("h2s", "host→server"), ("s2h", "server→host"))

HAPROXY_CFG = """global
    log stderr format short local0 err
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
%s
listen relay
    bind 127.0.0.1:%d
    server s 127.0.0.1:%d
"""
HAPROXY_SPLICE = {"haproxy": "    option splice-request\n    option splice-response",
                  "haproxy-auto": "    option splice-auto"}


def cpu_ns(pid):
    """CPU time of every thread of pid, ns (schedstat)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def kthreads_s():
    """CPU seconds of every kernel thread so far (children of kthreadd)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != 2 and pid != "2":
                continue
            with open("/proc/%s/schedstat" % pid) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def busy_s():
    """(CPU seconds the machine's CPUs were busy, seconds the hypervisor
    gave them to someone else) since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz


def wait_listening(port, timeout=5.0):
    """Wait until something listens on 127.0.0.1:port (/proc/net/tcp, no connection)."""
    want = "0100007F:%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return
        time.sleep(0.005)
    raise RuntimeError("nothing listens on port %d" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pctl(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


med = statistics.median


class Proc:
    """A child process whose stdout/stderr lines are collected (and logged)."""

    def __init__(self, name, argv, logdir, stdin=False):
        self.name = name
        self.lines = []          # (stream, line)
        self.cond = threading.Condition()
        self.log = open(os.path.join(logdir, name + ".log"), "w")
        self.log.write("$ %s\n" % " ".join(argv))
        self.log.flush()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  text=True, bufsize=1)
        self.pid = self.p.pid
        self.threads = [threading.Thread(target=self._drain, args=(s, n), daemon=True)
                        for s, n in ((self.p.stdout, "out"), (self.p.stderr, "err"))]
        for t in self.threads:
            t.start()

    def _drain(self, stream, tag):
        for line in stream:
            line = line.rstrip("\n")
            with self.cond:
                self.lines.append((tag, line))
                self.log.write("[%s] %s\n" % (tag, line))
                self.log.flush()
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=10.0, stream=None, count=1):
        """The match objects of the first `count` lines matching pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(l) for s, l in self.lines
                                     if stream is None or s == stream) if m]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and
                                 not any(t.is_alive() for t in self.threads)):
                    raise RuntimeError("%s: no line matching %r (pid %d, exit %s); see %s"
                                       % (self.name, pattern, self.pid, self.p.poll(),
                                          self.log.name))
                self.cond.wait(min(left, 0.2))

    def find(self, pattern):
        rx = re.compile(pattern)
        with self.cond:
            return [m for m in (rx.search(l) for _, l in self.lines) if m]

    def stop(self):
        """Stop it; returns the CPU seconds it used (all threads)."""
        ns = cpu_ns(self.pid) if self.p.poll() is None else None
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for t in self.threads:
            t.join(2)
        self.log.close()
        return (ns or 0) / 1e9


def result_line(proc, timeout):
    r = json.loads(proc.wait_for(r"^result (.*)$", timeout=timeout, stream="out")[0].group(1))
    if "error" in r:
        raise RuntimeError("%s: %s" % (proc.name, r["error"]))
    return r


class Bench:
    def __init__(self, args):
        self.a = args
        self.bin = args.build
        self.tool = os.path.join(args.build, "bench", "md9bench")
        self.hostsim = os.path.join(args.build, "hostsim", "md9-hostsim")
        self.md9 = os.path.join(args.build, "src", "md9")
        self.work = os.path.join(args.build, "bench", "work")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        # md9's configuration: no status socket, so that no other md9 (nor
        # `md9 status` run by anyone) on this machine talks to the measured one.
        self.conf = os.path.join(self.work, "md9.conf")
        with open(self.conf, "w") as f:
            f.write("[md9]\nstatus_socket =\n")
            # The user md9 runs as is ours to say, not the machine's.
            if os.geteuid() == 0:
                f.write("user = root\nallow_root = yes\n")
        self.procs = []
        self.seq = 0

    # ---- processes ----

    def start(self, name, argv, stdin=False):
        self.seq += 1
        p = Proc("%03d-%s" % (self.seq, name), argv, self.work, stdin)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    def other_work(self):
        """(machine busy s, the bench's own s, kernel threads' s) so far:
        over a phase, busy minus the other two is what other processes took.
        The bench's own is the driver's CPU time and that of every child it
        has reaped (/proc/self/stat: utime, stime, cutime, cstime); between
        phases every process it started has been stopped and reaped."""
        with open("/proc/self/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        own = sum(int(x) for x in v[11:15]) / os.sysconf("SC_CLK_TCK")
        return busy_s(), own, kthreads_s()

    def watch_path(self):
        """A new file name for a sink's --watch/watch= ("NAME PID" lines,
        read when the sink's warm-up ends: written once the pids exist)."""
        self.seq += 1
        return os.path.join(self.work, "watch%03d" % self.seq)

    @staticmethod
    def write_watch(path, pids):
        with open(path + ".tmp", "w") as f:
            for n, pid in pids.items():
                f.write("%s %d\n" % (n, pid))
        os.rename(path + ".tmp", path)

    def server(self, mode, *extra):
        p = self.start("server-" + mode, [self.tool, "server", "--mode", mode] + list(extra))
        port = int(p.wait_for(r"^listening (\d+)$", stream="out")[0].group(1))
        return p, port

    def md9_stack(self, server_port, endpoint=None, raw=False):
        """md9-hostsim (with an endpoint SPEC, or the raw front end) and md9
        relaying to server_port; returns (hostsim, md9, raw port or None)."""
        bus = os.path.join(self.work, "bus%d" % self.seq)
        argv = [self.hostsim, "--bus", bus, "--instances", str(INSTANCES)]
        if raw:
            argv += ["--raw-listen", "127.0.0.1:0"]
        if endpoint:
            argv += ["--endpoint", endpoint]
        hs = self.start("hostsim", argv)
        port = int(hs.wait_for(r"^ready .* raw=(-?\d+)", stream="out")[0].group(1))
        md9 = self.start("md9", [self.md9, "run", "-c", self.conf, "--transport", "sim:" + bus,
                                 "--backend", "tcp:127.0.0.1:%d" % server_port,
                                 "--security", "auto"])
        hs.wait_for(r"hostsim: control channel ready")
        return hs, md9, (port if raw else None)

    def relay(self, kind, server_port):
        """Start a TCP relay path; (entry port, {name: pid} of its relay processes)."""
        if kind == "direct":
            return server_port, {}
        if kind == "md9-2hop":
            hs, md9, raw = self.md9_stack(server_port, raw=True)
            return raw, {"md9": md9.pid, "hostsim": hs.pid}
        port = free_port()
        if kind in ("socat", "socat-256k"):
            argv = ["socat"] + (["-b", "262144"] if kind == "socat-256k" else []) + [
                "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port, "TCP:127.0.0.1:%d" % server_port]
            p = self.start(kind, argv)
            wait_listening(port)
            return port, {"socat": p.pid}
        cfg = os.path.join(self.work, "haproxy%d.cfg" % self.seq)
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG % (HAPROXY_SPLICE[kind], port, server_port))
        p = self.start(kind, ["haproxy", "-db", "-f", cfg])
        wait_listening(port)
        return port, {"haproxy": p.pid}

    # ---- measurements ----

    def throughput(self, kind, direction, conns=1, window=None):
        """One window of bulk transfer: the sink's result (bytes, MB/s per
        connection and in total, CPU seconds of every process on the path)."""
        window = window or self.a.window
        watch = self.watch_path()
        sink_args = ["--conns", str(conns), "--warmup", str(self.a.warmup),
                     "--window", str(window), "--watch", watch]
        try:
            if kind == "md9" and direction == "h2s":
                srv, sport = self.server("sink", *sink_args)
                hs, md9, _ = self.md9_stack(sport, endpoint="source:%d" % conns)
                self.write_watch(watch, {"md9": md9.pid, "source": hs.pid})
                sink = srv
            elif kind == "md9":
                srv, sport = self.server("source")
                hs, md9, _ = self.md9_stack(sport, endpoint="sink:%d,warmup=%s,window=%s,watch=%s"
                                            % (conns, self.a.warmup, window, watch))
                self.write_watch(watch, {"md9": md9.pid, "source": srv.pid})
                sink = hs
            elif direction == "h2s":
                srv, sport = self.server("sink", *sink_args)
                entry, pids = self.relay(kind, sport)
                cli = self.start("client-source", [self.tool, "client", "--connect", str(entry),
                                                   "--mode", "source", "--conns", str(conns)])
                pids["source"] = cli.pid
                self.write_watch(watch, pids)
                sink = srv
            else:
                srv, sport = self.server("source")
                entry, pids = self.relay(kind, sport)
                pids["source"] = srv.pid
                self.write_watch(watch, pids)
                sink = self.start("client-sink", [self.tool, "client", "--connect", str(entry),
                                                  "--mode", "sink"] + sink_args)
            r = result_line(sink, 60 + 2 * conns)
            r["cpu_s"]["sink"] = r["cpu_s"].pop("self")
            gb = r["bytes"] / 1e9
            r["cpu_s_per_gb"] = {n: v / gb for n, v in r["cpu_s"].items()}
            r["relay_s_per_gb"] = sum(r["cpu_s_per_gb"].get(n, 0)
                                      for n in RELAY_PROCS.get(kind, ()))
            return r
        finally:
            self.stop_all()

    def pingpong(self, kind, count, warm):
        """count round trips of 64 bytes after warm ones: the pinger's
        percentiles and the relay processes' CPU time per round trip."""
        try:
            srv, sport = self.server("echo")
            if kind == "md9":
                hs, md9, _ = self.md9_stack(sport, endpoint="ping,count=%d,warm=%d" % (count, warm))
                pids = {"md9": md9.pid}
                pinger = hs
            else:
                entry, pids = self.relay(kind, sport)
                pinger = self.start("client-ping", [self.tool, "client", "--connect", str(entry),
                                                    "--mode", "ping", "--count", str(count),
                                                    "--warm-count", str(warm)])
            c0 = {n: cpu_ns(p) for n, p in pids.items()}
            r = result_line(pinger, 300)
            r["cpu_us_per_rt"] = {n: (cpu_ns(p) - c0[n]) / 1e3 / (count + warm)
                                  for n, p in pids.items()}
            return r
        finally:
            self.stop_all()

    def idle(self, n, seconds):
        try:
            srv, sport = self.server("idle")
            hs, md9, _ = self.md9_stack(sport, endpoint="idle:%d" % n)
            hs.wait_for(r"^endpoint ready %d$" % n, timeout=60, stream="out")
            md9.wait_for(r"session \d+: relaying$", count=n)
            # The last handshake's wake-ups pass within a few ms; the
            # measurement then starts on whatever md9 does on its own.
            time.sleep(0.5)
            c0 = (cpu_ns(md9.pid), cpu_ns(hs.pid))
            t0 = time.monotonic()
            time.sleep(seconds)
            c1 = (cpu_ns(md9.pid), cpu_ns(hs.pid))
            el = time.monotonic() - t0
            if md9.p.poll() is not None or md9.find(r"session \d+: closed"):
                raise RuntimeError("a session closed during the idle measurement")
            return {"sessions": n, "seconds": el, "md9_cpu_s": (c1[0] - c0[0]) / 1e9,
                    "hostsim_cpu_s": (c1[1] - c0[1]) / 1e9}
        finally:
            self.stop_all()

    def setup_latency(self, count):
        try:
            srv, sport = self.server("idle")
            hs, md9, _ = self.md9_stack(sport, endpoint="hs,count=%d,gap=150" % count)
            hsl = hs.wait_for(r"^hs (\d+) (\d+) (\d+)$", stream="out", count=count,
                              timeout=30 + count)
            creates = hs.wait_for(r"hostsim: CreateSession \S+ \(monotonic (\d+)\.(\d{9})\)",
                                  count=count)
            accepts = srv.wait_for(r"^accept (\d+) (\d+)$", stream="out", count=count)
            lat = []
            for c, a in zip(creates, accepts):
                t_c = int(c.group(1)) * 10**9 + int(c.group(2))
                lat.append((int(a.group(2)) - t_c) / 1e6)
            full = [(int(m.group(3)) - int(m.group(2))) / 1e6 for m in hsl]
            return {"n": count, "ms": lat, "p50_ms": pctl(lat, 50), "p99_ms": pctl(lat, 99),
                    "max_ms": max(lat), "min_ms": min(lat),
                    "opening_p50_ms": pctl(full, 50)}
        finally:
            self.stop_all()

    def interactive(self, load, count, warm):
        """Ping p50 of one session through md9 while 4 others saturate
        (load "s2h": the server sources to 4 host sinks; "h2s": 4 host
        sources to the server's sinks; None: alone)."""
        try:
            if load is None:
                srv, sport = self.server("echo")
                spec = "ping"
            elif load == "s2h":
                srv, sport = self.server("source", "--echo-first", "1")
                spec = "ping,sink:4"
            else:
                srv, sport = self.server("sink", "--echo-first", "1", "--conns", "4",
                                         "--window", "3600")
                spec = "ping,source:4"
            hs, md9, _ = self.md9_stack(sport, endpoint="%s,count=%d,warm=%d" % (spec, count, warm))
            return result_line(hs, 300)
        finally:
            self.stop_all()


    def interactive_tcp(self, kind, load, count, warm):
        """The same over a TCP path (direct or a peer): the ping connection
        first (the server echoes it), then 4 loaded connections through the
        same relay; pings start 0.5 s after the opening, once the load runs."""
        try:
            if load is None:
                srv, sport = self.server("echo")
            elif load == "s2h":
                srv, sport = self.server("source", "--echo-first", "1")
            else:
                srv, sport = self.server("sink", "--echo-first", "1", "--conns", "4",
                                         "--window", "3600")
            entry, _ = self.relay(kind, sport)
            pinger = self.start("client-ping", [self.tool, "client", "--connect", str(entry),
                                                "--mode", "ping", "--count", str(count),
                                                "--warm-count", str(warm), "--delay", "0.5"])
            srv.wait_for(r"^accept 0 ", stream="out")
            if load == "s2h":
                self.start("client-sink", [self.tool, "client", "--connect", str(entry),
                                           "--mode", "sink", "--conns", "4", "--window", "3600"])
            elif load == "h2s":
                self.start("client-source", [self.tool, "client", "--connect", str(entry),
                                             "--mode", "source", "--conns", "4"])
            return result_line(pinger, 300)
        finally:
            self.stop_all()


def machine():
    model, mhz = "?", "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("cpu MHz") and mhz == "?":
                mhz = line.split(":", 1)[1].strip()
    ver = {}
    for name, argv in (("socat", ["socat", "-V"]), ("haproxy", ["haproxy", "-v"])):
        try:
            out = subprocess.run(argv, capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            ver[name] = m.group(1) if m else "?"
        except OSError:
            ver[name] = "missing"
    return {"nproc": os.cpu_count(), "cpu": model, "mhz": mhz, "kernel": platform.release(),
            "versions": ver}


# ---- the run ----

def run(args, say):
    b = Bench(args)
    res = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "args": {k: v for k, v in vars(args).items() if k not in ("build", "out")},
           "load": {"before": loadavg()}}
    phases = args.only.split(",") if args.only else ["throughput", "ping", "interactive",
                                                      "scale", "idle", "setup"]
    res["other_work"] = {}
    mark = [time.monotonic(), b.other_work()]

    def account(phase):
        """The share of the machine's CPUs other processes took during a
        phase, and kernel threads (ksoftirqd, kworkers: much of it the
        loopback traffic of the bench itself)."""
        t, ((busy, steal), own, kth) = time.monotonic(), b.other_work()
        el = t - mark[0]
        k = max(0.0, kth - mark[1][2])
        other = max(0.0, (busy - mark[1][0][0]) - (own - mark[1][1]) - k)
        cpus = el * (os.cpu_count() or 1)
        res["other_work"][phase] = {"seconds": el, "cpu_s": other, "share": other / cpus,
                                    "kthreads_share": k / cpus,
                                    "steal_share": max(0.0, steal - mark[1][0][1]) / cpus}
        mark[0], mark[1] = t, ((busy, steal), own, kth)

    if "throughput" in phases:
        say("== throughput: %d rounds x %d paths x 2 directions, %.1f s windows (after %.1f s)"
            % (args.reps, len(PATHS), args.window, args.warmup))
        tp = {d: {k: [] for k in PATHS} for d, _ in DIRS}
        for rnd in range(args.reps):
            for d, _ in DIRS:
                for k in PATHS:
                    r = b.throughput(k, d)
                    tp[d][k].append(r)
                    say("  round %d %s %-12s %8.0f MB/s  relay %.3f s/GB  (%s)" % (
                        rnd + 1, d, k, r["mbps"], r["relay_s_per_gb"], ", ".join(
                            "%s %.3f" % (n, v) for n, v in r["cpu_s_per_gb"].items())))
        res["throughput"] = tp
        res["load"]["throughput"] = loadavg()
        account("throughput")

    if "ping" in phases:
        say("== round trip: %d rounds x %d paths, %d + %d pings of 64 bytes"
            % (args.ping_rounds, len(PATHS), args.ping_warm, args.pings))
        pp = {k: [] for k in PATHS}
        for rnd in range(args.ping_rounds):
            for k in PATHS:
                pp[k].append(b.pingpong(k, args.pings, args.ping_warm))
            say("  round %d  %s" % (rnd + 1, "  ".join(
                "%s %.1f/%.1f/%.0f" % (k, pp[k][-1]["p50_us"], pp[k][-1]["p99_us"],
                                       pp[k][-1]["max_us"]) for k in PATHS)))
        res["pingpong"] = pp
        res["load"]["ping"] = loadavg()
        account("ping")

    if "interactive" in phases:
        say("== an interactive session beside 4 saturating ones: %d rounds, %d pings"
            % (args.interactive_rounds, args.interactive_pings))
        # The same beside direct TCP and HAProxy (splice) in the same rounds:
        # what the machine's scheduler and the strongest peer do (no target).
        it = {"alone": [], "s2h": [], "h2s": []}
        itref = {k: {"alone": [], "s2h": [], "h2s": []} for k in ("direct", "haproxy")}
        for rnd in range(args.interactive_rounds):
            for load in it:
                lo = None if load == "alone" else load
                it[load].append(b.interactive(lo, args.interactive_pings,
                                              args.interactive_pings // 10))
                for k in itref:
                    itref[k][load].append(b.interactive_tcp(k, lo, args.interactive_pings,
                                                            args.interactive_pings // 10))
            say("  round %d  md9 %s; direct %s; haproxy %s" % (rnd + 1, "  ".join(
                "%s p50 %.1f p99 %.1f" % (k, v[-1]["p50_us"], v[-1]["p99_us"])
                for k, v in it.items()), ", ".join(
                    "%s %.1f" % (k, v[-1]["p50_us"]) for k, v in itref["direct"].items()),
                ", ".join("%s %.1f" % (k, v[-1]["p50_us"]) for k, v in itref["haproxy"].items())))
        res["interactive"] = it
        res["interactive_ref"] = itref
        res["load"]["interactive"] = loadavg()
        account("interactive")

    if "scale" in phases:
        say("== scale: %s sessions through md9, %d rounds, %.1f s windows"
            % (",".join(map(str, SCALE_STEPS)), args.scale_rounds, args.window))
        # Direct TCP with as many connections, in the same rounds: how the
        # machine itself (caches, scheduler, loopback) scales; no target.
        sc = {d: {str(n): [] for n in SCALE_STEPS} for d, _ in DIRS}
        scd = {d: {str(n): [] for n in SCALE_STEPS} for d, _ in DIRS}
        for rnd in range(args.scale_rounds):
            for d, _ in DIRS:
                for n in SCALE_STEPS:
                    r = b.throughput("md9", d, conns=n)
                    sc[d][str(n)].append(r)
                    rd = b.throughput("direct", d, conns=n)
                    scd[d][str(n)].append(rd)
                    per = [c["mbps"] for c in r["conns"]]
                    say("  round %d %s %2d sessions: %6.0f MB/s, per session %.0f-%.0f; "
                        "direct TCP %6.0f MB/s" % (rnd + 1, d, n, r["mbps"], min(per), max(per),
                                                  rd["mbps"]))
        res["scale"] = sc
        res["scale_direct"] = scd
        res["load"]["scale"] = loadavg()
        account("scale")

    if "idle" in phases:
        say("== idle CPU, %.0f s" % args.idle_seconds)
        res["idle"] = {}
        for n in (1, 16):
            r = b.idle(n, args.idle_seconds)
            res["idle"][str(n)] = r
            say("  %2d session(s): md9 %.5f s, hostsim %.5f s" % (n, r["md9_cpu_s"],
                                                                r["hostsim_cpu_s"]))
        account("idle")

    if "setup" in phases:
        say("== CreateSession -> accept(), %d sessions" % args.sessions)
        res["setup"] = b.setup_latency(args.sessions)
        s = res["setup"]
        say("  p50 %.3f ms  p99 %.3f ms  max %.3f ms" % (s["p50_ms"], s["p99_ms"], s["max_ms"]))
        account("setup")
    say("== other processes took %s of the %d CPUs; kernel threads %s; steal %s" % (", ".join(
        "%.0f %% during %s" % (100 * v["share"], k) for k, v in res["other_work"].items()),
        os.cpu_count() or 1, ", ".join("%.0f %%" % (100 * v["kthreads_share"])
                                      for v in res["other_work"].values()),
        ", ".join("%.1f %%" % (100 * v["steal_share"]) for v in res["other_work"].values())))

    res["load"]["after"] = loadavg()
    return res


# ---- evaluation ----

def summarize(res):
    """Medians per path and the per-round ratios every target uses."""
    out = {}
    if "throughput" in res:
        t = out["throughput"] = {}
        for d, _ in DIRS:
            rounds = res["throughput"][d]
            n = len(rounds["md9"])
            t[d] = {k: {"mbps": med(r["mbps"] for r in rr),
                        "relay_s_per_gb": med(r["relay_s_per_gb"] for r in rr),
                        "cpu_s_per_gb": {p: med(r["cpu_s_per_gb"][p] for r in rr)
                                         for p in rr[0]["cpu_s_per_gb"]},
                        "rounds_mbps": [r["mbps"] for r in rr]}
                    for k, rr in rounds.items()}
            best = [max(rounds[p][i]["mbps"] for p in PEERS) for i in range(n)]
            bestcpu = [min(rounds[p][i]["relay_s_per_gb"] for p in PEERS) for i in range(n)]
            for k in PATHS:
                t[d][k]["x_best_rounds"] = [rounds[k][i]["mbps"] / best[i] for i in range(n)]
                t[d][k]["x_best"] = med(t[d][k]["x_best_rounds"])
                if k in RELAY_PROCS:
                    t[d][k]["cpu_x_best_rounds"] = [rounds[k][i]["relay_s_per_gb"] / bestcpu[i]
                                                    for i in range(n)]
                    t[d][k]["cpu_x_best"] = med(t[d][k]["cpu_x_best_rounds"])
            t[d]["best_peer_rounds"] = [max(PEERS, key=lambda p: rounds[p][i]["mbps"])
                                        for i in range(n)]
    if "pingpong" in res:
        pp = res["pingpong"]
        n = len(pp["md9"])
        p = out["pingpong"] = {}
        for k, rr in pp.items():
            p[k] = {f: med(r[f] for r in rr)
                    for f in ("min_us", "p50_us", "p90_us", "p99_us", "p999_us", "max_us")}
            p[k]["rounds"] = [{f: r[f] for f in ("p50_us", "p99_us", "max_us")} for r in rr]
            p[k]["cpu_us_per_rt"] = {c: med(r["cpu_us_per_rt"][c] for r in rr)
                                     for c in rr[0]["cpu_us_per_rt"]}
            if k != "direct":
                # What the path adds to a round trip: its percentile minus the
                # floor, direct TCP's median round trip (median over the
                # rounds). Subtracting direct's own p99 would subtract the
                # VM's tail noise, which does not add up across paths: it made
                # "added p99" negative in some rounds.
                floor = med(r["p50_us"] for r in pp["direct"])
                for f in ("p50", "p99"):
                    p[k]["added_%s_rounds" % f] = [rr[i]["%s_us" % f] - floor for i in range(n)]
                    p[k]["added_%s" % f] = med(p[k]["added_%s_rounds" % f])

        def ratio_rounds(k, f):
            """k's value over the best peer's, per round (added p50/p99, or max)."""
            out_r = []
            for i in range(n):
                if f == "max":
                    mine, best = pp[k][i]["max_us"], min(pp[q][i]["max_us"] for q in PEERS)
                else:
                    mine = p[k]["added_%s_rounds" % f][i]
                    best = min(p[q]["added_%s_rounds" % f][i] for q in PEERS)
                out_r.append(mine / best if best > 0 else float("inf"))
            return out_r

        for k in PATHS:
            if k == "direct":
                continue
            for f in ("p50", "p99", "max"):
                p[k]["%s_x_best_rounds" % f] = ratio_rounds(k, f)
                p[k]["%s_x_best" % f] = med(p[k]["%s_x_best_rounds" % f])
    if "interactive" in res:
        def inter(it):
            n = len(it["alone"])
            o = {}
            for k, rr in it.items():
                o[k] = {f: med(r[f] for r in rr) for f in ("p50_us", "p99_us", "max_us")}
                o[k]["x_alone_rounds"] = [rr[i]["p50_us"] / it["alone"][i]["p50_us"]
                                          for i in range(n)]
                o[k]["x_alone"] = med(o[k]["x_alone_rounds"])
            return o
        out["interactive"] = inter(res["interactive"])
        out["interactive_ref"] = {k: inter(v) for k, v in res.get("interactive_ref", {}).items()}
    if "scale" in res:
        o = out["scale"] = {}
        for d, _ in DIRS:
            sc = res["scale"][d]
            n = len(sc["1"])
            o[d] = {}
            for s in map(str, SCALE_STEPS):
                rr = sc[s]
                devs = []
                for r in rr:
                    per = [c["mbps"] for c in r["conns"]]
                    mean = statistics.mean(per)
                    devs.append(max(abs(x - mean) / mean for x in per))
                o[d][s] = {"mbps": med(r["mbps"] for r in rr),
                           "rounds_mbps": [r["mbps"] for r in rr],
                           "x_one_rounds": [rr[i]["mbps"] / sc["1"][i]["mbps"] for i in range(n)],
                           "max_dev_rounds": devs, "max_dev": med(devs),
                           "per_session_min": med(min(c["mbps"] for c in r["conns"]) for r in rr),
                           "per_session_max": med(max(c["mbps"] for c in r["conns"]) for r in rr),
                           "md9_s_per_gb": med(r["cpu_s_per_gb"]["md9"] for r in rr)}
                o[d][s]["x_one"] = med(o[d][s]["x_one_rounds"])
                dd = res["scale_direct"][d]
                o[d][s]["direct_mbps"] = med(r["mbps"] for r in dd[s])
                o[d][s]["direct_x_one"] = med(dd[s][i]["mbps"] / dd["1"][i]["mbps"]
                                              for i in range(n))
    return out


def evaluate(res, summ):
    """[(target, measured, per-round detail, pass)]"""
    checks = []
    fmt = lambda v: ", ".join("%.2f" % x for x in v)
    if "throughput" in summ:
        for d, name in DIRS:
            c = summ["throughput"][d]["md9"]
            checks.append(("throughput %s ≥ %.1f× best peer" % (name, T_THROUGHPUT_X),
                           "%.2f×" % c["x_best"], fmt(c["x_best_rounds"]),
                           c["x_best"] >= T_THROUGHPUT_X))
        for d, name in DIRS:
            c = summ["throughput"][d]["md9"]
            checks.append(("md9 CPU per GB %s ≤ %.1f× best peer's" % (name, T_CPU_X),
                           "%.2f×" % c["cpu_x_best"], fmt(c["cpu_x_best_rounds"]),
                           c["cpu_x_best"] <= T_CPU_X))
    if "pingpong" in summ:
        c = summ["pingpong"]["md9"]
        for f, lim, what in (("p50", T_ADDED_P50_X, "added round trip p50"),
                             ("p99", T_ADDED_P99_X, "added round trip p99"),
                             ("max", T_MAX_X, "max round trip")):
            checks.append(("%s ≤ %.1f× best peer's" % (what, lim), "%.2f×" % c["%s_x_best" % f],
                           fmt(c["%s_x_best_rounds" % f]), c["%s_x_best" % f] <= lim))
    if "idle" in res:
        for n in ("1", "16"):
            v = res["idle"][n]["md9_cpu_s"]
            checks.append(("idle CPU, %s open session%s, ≤ %.2f s / %.0f s" % (
                n, "s" if n != "1" else "", T_IDLE_CPU_S, res["idle"][n]["seconds"]),
                "%.5f s" % v, "", v <= T_IDLE_CPU_S))
    if "setup" in res:
        v = res["setup"]["p50_ms"]
        checks.append(("CreateSession → accept() p50 ≤ %.0f ms" % T_SETUP_P50_MS, "%.3f ms" % v,
                       "p99 %.3f ms" % res["setup"]["p99_ms"], v <= T_SETUP_P50_MS))
    if "scale" in summ:
        for d, name in DIRS:
            o = summ["scale"][d]
            steps = [s for s in map(str, SCALE_STEPS) if s != "1"]
            # More aggregate than one session is not a loss: the check is one-sided.
            worst = min(steps, key=lambda s: o[s]["x_one"])
            checks.append(("scale %s: aggregate at 2–16 sessions ≥ %.2f× 1 session"
                           % (name, 1 - T_SCALE_AGG),
                           "lowest %s sessions %.2f×" % (worst, o[worst]["x_one"]),
                           ", ".join("%s: %.2f" % (s, o[s]["x_one"]) for s in steps),
                           o[worst]["x_one"] >= 1 - T_SCALE_AGG))
            worst = max(map(str, SCALE_STEPS), key=lambda s: o[s]["max_dev"])
            checks.append(("scale %s: every session within ±%.0f %% of the mean"
                           % (name, 100 * T_FAIRNESS),
                           "worst %s sessions ±%.1f %%" % (worst, 100 * o[worst]["max_dev"]),
                           ", ".join("%s: ±%.1f %%" % (s, 100 * o[s]["max_dev"])
                                     for s in map(str, SCALE_STEPS)),
                           o[worst]["max_dev"] <= T_FAIRNESS))
    if "interactive" in summ:
        for load, name in (("s2h", "server→host"), ("h2s", "host→server")):
            c = summ["interactive"][load]
            checks.append(("ping p50 beside 4 sessions saturating %s ≤ %.0f× alone"
                           % (name, T_INTERACTIVE_X), "%.2f×" % c["x_alone"],
                           fmt(c["x_alone_rounds"]), c["x_alone"] <= T_INTERACTIVE_X))
    return checks


# ---- report ----

LABEL = {"direct": "direct TCP (floor)", "socat": "socat, defaults (reference)",
         "socat-256k": "socat -b 262144", "haproxy": "HAProxy, splice",
         "haproxy-auto": "HAProxy, splice-auto", "md9": "**md9** (its hop)",
         "md9-2hop": "md9 two hops (front end + md9)"}


def verdict(ok):
    return "PASS" if ok else "FAIL"


def markdown(res, summ, checks):
    m = res["machine"]
    L = ["# md9 benchmark results\n"]
    ld = res["load"]
    L.append("%s — %d CPUs (%s, %s MHz), kernel %s, socat %s, HAProxy %s. Load average "
             "(1 min) before %.2f, %s; after %.2f.\n" % (
                 res["started"], m["nproc"], m["cpu"], m["mhz"], m["kernel"],
                 m["versions"].get("socat"), m["versions"].get("haproxy"), ld["before"][0],
                 ", ".join("after %s %.2f" % (k, v[0]) for k, v in ld.items()
                           if k not in ("before", "after")), ld["after"][0]))
    if res.get("other_work"):
        L.append("Other processes (the machine's busy time from /proc/stat minus every process "
                 "of the bench and every kernel thread) took %s of the %d CPUs; kernel threads "
                 "(ksoftirqd and kworkers, much of it the bench's own loopback traffic) %s; the "
                 "hypervisor gave the vCPUs to others (steal) %s.\n"
                 % (", ".join("%.0f %% during %s" % (100 * v["share"], k)
                              for k, v in res["other_work"].items()), m["nproc"],
                    ", ".join("%.0f %%" % (100 * v.get("kthreads_share", 0))
                              for v in res["other_work"].values()),
                    ", ".join("%.1f %%" % (100 * v.get("steal_share", 0))
                              for v in res["other_work"].values())))
    a = res["args"]
    L.append("Paths, each three processes: **direct** client ─TCP→ server; **socat** and "
             "**socat -b 262144** client ─TCP→ socat ─TCP→ server; **HAProxy** (tcp mode, "
             "`option splice-request` + `splice-response`, or `splice-auto`) in the same place; "
             "**md9** md9-hostsim's endpoint ═ring═ md9 ─TCP→ server. Peers: socat -b 262144 and "
             "both HAProxy configurations; socat with its defaults is a reference only. "
             "Every target is the median over rounds of md9's figure divided by the best peer's "
             "figure of the same round.\n")
    L.append("## Targets\n")
    L.append("| target | measured | per round | verdict |")
    L.append("|---|---:|---|---|")
    for t, v, per, ok in checks:
        L.append("| %s | %s | %s | **%s** |" % (t, v, per, verdict(ok)))
    L.append("")
    if "throughput" in summ:
        t = summ["throughput"]
        L.append("## Throughput and CPU per GB (%d rounds, %.1f s windows)\n"
                 % (a["reps"], a["window"]))
        L.append("Medians over rounds; *relay* is the CPU time of the relay processes only "
                 "(md9; socat; HAProxy; md9 + hostsim's front end for two hops), per GB "
                 "relayed; schedstat over the measured window.\n")
        L.append("| direction | path | MB/s | × best peer | relay CPU s/GB | × best peer's "
                 "| sink s/GB | source s/GB | MB/s per round |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for d, name in DIRS:
            for k in PATHS:
                c = t[d][k]
                g = c["cpu_s_per_gb"]
                L.append("| %s | %s | %.0f | %.2f | %s | %s | %.3f | %.3f | %s |" % (
                    name, LABEL[k], c["mbps"], c["x_best"],
                    "%.3f" % c["relay_s_per_gb"] if k in RELAY_PROCS else "—",
                    "%.2f" % c["cpu_x_best"] if k in RELAY_PROCS else "—",
                    g.get("sink", 0), g.get("source", 0),
                    ", ".join("%.0f" % x for x in c["rounds_mbps"])))
        L.append("")
    if "pingpong" in summ:
        p = summ["pingpong"]
        L.append("## Round trip, 64 bytes (%d rounds of %d pings after %d warm-up)\n"
                 % (a["ping_rounds"], a["pings"], a["ping_warm"]))
        L.append("Percentiles are medians over rounds; *added* is the median over rounds of the "
                 "path's percentile minus the floor, direct TCP's median round trip; *max* the "
                 "largest of each round's pings.\n")
        L.append("| path | min µs | p50 µs | p99 µs | p99.9 µs | max µs | added p50 µs "
                 "| added p99 µs | relay CPU µs per round trip |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for k in PATHS:
            c = p[k]
            L.append("| %s | %.1f | %.1f | %.1f | %.1f | %.0f | %s | %s | %s |" % (
                LABEL[k], c["min_us"], c["p50_us"], c["p99_us"], c["p999_us"], c["max_us"],
                "%+.1f" % c["added_p50"] if "added_p50" in c else "—",
                "%+.1f" % c["added_p99"] if "added_p99" in c else "—",
                ", ".join("%s %.1f" % (n, v) for n, v in c["cpu_us_per_rt"].items()) or "—"))
        L.append("")
        L.append("Maximum per round (µs): %s.\n" % "; ".join(
            "%s %s" % (k, ", ".join("%.0f" % r["max_us"] for r in p[k]["rounds"]))
            for k in PATHS))
    if "throughput" in summ or "pingpong" in summ:
        L.append("## Two hops: md9-hostsim's TCP front end, then md9\n")
        L.append("client ─TCP→ md9-hostsim `--raw-listen` ═ring═ md9 ─TCP→ server: four "
                 "processes, the simulator's front end being a relay Hyper-V does not have. "
                 "Measured in the same rounds; no target uses it.\n")
        L.append("| figure | md9 two hops | md9 (its hop) | best peer |")
        L.append("|---|---:|---:|---:|")
        if "throughput" in summ:
            t = summ["throughput"]
            for d, name in DIRS:
                bp = max(PEERS, key=lambda q: t[d][q]["mbps"])
                L.append("| MB/s %s | %.0f (%.2f× best peer) | %.0f | %.0f (%s) |" % (
                    name, t[d]["md9-2hop"]["mbps"], t[d]["md9-2hop"]["x_best"],
                    t[d]["md9"]["mbps"], t[d][bp]["mbps"], bp))
                bc = min(PEERS, key=lambda q: t[d][q]["relay_s_per_gb"])
                g = t[d]["md9-2hop"]["cpu_s_per_gb"]
                L.append("| relay CPU s/GB %s | %.3f (md9 %.3f, front end %.3f) | %.3f | "
                         "%.3f (%s) |" % (name, t[d]["md9-2hop"]["relay_s_per_gb"], g["md9"],
                                          g["hostsim"], t[d]["md9"]["relay_s_per_gb"],
                                          t[d][bc]["relay_s_per_gb"], bc))
        if "pingpong" in summ:
            p = summ["pingpong"]
            for f in ("p50", "p99"):
                bp = min(PEERS, key=lambda q: p[q]["added_" + f])
                L.append("| added round trip %s µs | %+.1f | %+.1f | %+.1f (%s) |" % (
                    f, p["md9-2hop"]["added_" + f], p["md9"]["added_" + f],
                    p[bp]["added_" + f], bp))
            bp = min(PEERS, key=lambda q: p[q]["max_us"])
            L.append("| max round trip µs | %.0f | %.0f | %.0f (%s) |" % (
                p["md9-2hop"]["max_us"], p["md9"]["max_us"], p[bp]["max_us"], bp))
        L.append("")
    if "scale" in summ:
        L.append("## Scale: concurrent sessions through md9 (%d rounds)\n" % a["scale_rounds"])
        L.append("Direct TCP with as many connections, measured in the same rounds, shows "
                 "how the machine itself scales (no target).\n")
        L.append("| direction | sessions | aggregate MB/s | × 1 session | per session MB/s "
                 "(min–max) | largest deviation from the mean | md9 s/GB | direct TCP MB/s "
                 "| direct × 1 connection |")
        L.append("|---|---:|---:|---:|---|---:|---:|---:|---:|")
        for d, name in DIRS:
            for s in map(str, SCALE_STEPS):
                c = summ["scale"][d][s]
                L.append("| %s | %s | %.0f | %.2f | %.0f–%.0f | ±%.1f %% | %.3f | %.0f | %.2f |" % (
                    name, s, c["mbps"], c["x_one"], c["per_session_min"], c["per_session_max"],
                    100 * c["max_dev"], c["md9_s_per_gb"], c["direct_mbps"], c["direct_x_one"]))
        L.append("")
    if "interactive" in summ:
        c = summ["interactive"]
        L.append("## An interactive session beside 4 saturating ones (%d rounds)\n"
                 % a["interactive_rounds"])
        L.append("One session pings (64 bytes, %d times) through md9 while 4 other sessions "
                 "of the same md9 saturate one direction.\n" % a["interactive_pings"])
        L.append("The same ping beside 4 connections through direct TCP and through HAProxy "
                 "(splice) is measured in the same rounds: what the machine's scheduler and "
                 "the strongest peer do under the same load (no target).\n")
        L.append("| path | load | p50 µs | p99 µs | max µs | p50 × alone |")
        L.append("|---|---|---:|---:|---:|---:|")
        rows = [("**md9**", c)] + [(LABEL[k] if k != "direct" else "direct TCP", v)
                                   for k, v in summ.get("interactive_ref", {}).items()]
        for label, cc in rows:
            for k, name in (("alone", "none (alone)"), ("s2h", "4 × server→host"),
                            ("h2s", "4 × host→server")):
                L.append("| %s | %s | %.1f | %.1f | %.0f | %.2f |" % (
                    label, name, cc[k]["p50_us"], cc[k]["p99_us"], cc[k]["max_us"],
                    cc[k]["x_alone"]))
        L.append("")
    if "idle" in res:
        L.append("## Idle CPU\n")
        L.append("| open idle sessions | seconds | md9 CPU s | hostsim CPU s |")
        L.append("|---:|---:|---:|---:|")
        for n in ("1", "16"):
            r = res["idle"][n]
            L.append("| %s | %.1f | %.5f | %.5f |" % (n, r["seconds"], r["md9_cpu_s"],
                                                     r["hostsim_cpu_s"]))
        L.append("")
    if "setup" in res:
        s = res["setup"]
        L.append("## Session setup\n")
        L.append("md9-hostsim writes CreateSession → the server's accept(), CLOCK_MONOTONIC in "
                 "both, %d sessions 150 ms apart: min %.3f ms, p50 %.3f ms, p99 %.3f ms, max "
                 "%.3f ms. The whole opening as the host sees it (session started → Connection "
                 "Confirm read): p50 %.3f ms.\n" % (s["n"], s["min_ms"], s["p50_ms"], s["p99_ms"],
                                                   s["max_ms"], s["opening_p50_ms"]))
    L.append("![results](results.png)\n")
    return "\n".join(L)


def plot(res, summ, outdir):
    gp = shutil.which("gnuplot")
    if not gp or "throughput" not in summ or "pingpong" not in summ or "scale" not in summ:
        print("bench: no plot (needs gnuplot and the throughput, ping and scale phases)",
              file=sys.stderr)
        return False
    t, p, sc = summ["throughput"], summ["pingpong"], summ["scale"]
    order = ("md9", "socat-256k", "haproxy", "haproxy-auto", "socat", "md9-2hop", "direct")
    short = {"md9": "md9", "socat-256k": "socat-256k", "haproxy": "haproxy-splice",
             "haproxy-auto": "haproxy-auto", "socat": "socat(ref)", "md9-2hop": "md9-2hop",
             "direct": "direct(floor)"}
    files = []

    def dat(name, header, rows):
        path = os.path.join(outdir, "plot-%s.dat" % name)
        with open(path, "w") as f:
            f.write(header + "\n")
            for r in rows:
                f.write(" ".join(str(x) for x in r) + "\n")
        files.append(path)
        return path

    d1 = dat("tp", "path host→server server→host",
             [(short[k], "%.0f" % t["h2s"][k]["mbps"], "%.0f" % t["s2h"][k]["mbps"])
              for k in order])
    d2 = dat("rtt", "path p50 p99",
             [(short[k], "%.2f" % max(p[k]["added_p50"], 0.01),
               "%.2f" % max(p[k]["added_p99"], 0.01)) for k in order if k != "direct"])
    d3 = dat("scale", "n h2s s2h h2smin h2smax s2hmin s2hmax dh2s ds2h",
             [(s, "%.0f" % sc["h2s"][str(s)]["mbps"], "%.0f" % sc["s2h"][str(s)]["mbps"],
               "%.0f" % (sc["h2s"][str(s)]["per_session_min"] * s),
               "%.0f" % (sc["h2s"][str(s)]["per_session_max"] * s),
               "%.0f" % (sc["s2h"][str(s)]["per_session_min"] * s),
               "%.0f" % (sc["s2h"][str(s)]["per_session_max"] * s),
               "%.0f" % sc["h2s"][str(s)]["direct_mbps"],
               "%.0f" % sc["s2h"][str(s)]["direct_mbps"]) for s in SCALE_STEPS])
    d4 = dat("cpu", "path host→server server→host",
             [(short[k], "%.3f" % t["h2s"][k]["relay_s_per_gb"],
               "%.3f" % t["s2h"][k]["relay_s_per_gb"]) for k in order if k in RELAY_PROCS])
    one = {d: sc[d]["1"]["mbps"] for d, _ in DIRS}
    script = """
set terminal pngcairo size 1500,1050 font ",11"
set output '%(png)s'
set multiplot layout 2,2 title "md9's hop vs the strongest relays — %(when)s, %(nproc)s vCPUs, load %(load)s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right opaque box
set xtics rotate by -25
set yrange [0:*]
set title "Throughput, one session (MB/s, higher is better)"
plot '%(d1)s' using 2:xtic(1) title columnhead(2) lc rgb "#1f77b4", '' using 3 title columnhead(3) lc rgb "#ff7f0e"
set title "Added round trip over direct TCP, 64 B ping-pong (µs, log, lower is better)"
set logscale y
set yrange [*:*]
plot '%(d2)s' using 2:xtic(1) title columnhead(2) lc rgb "#2ca02c", '' using 3 title columnhead(3) lc rgb "#d62728"
unset logscale y
set title "Relay CPU per GB relayed (s/GB, lower is better)"
set yrange [0:*]
plot '%(d4)s' using 2:xtic(1) title columnhead(2) lc rgb "#1f77b4", '' using 3 title columnhead(3) lc rgb "#ff7f0e"
set title "Sessions through one md9: aggregate MB/s (bars: n x slowest..fastest session)"
set style data linespoints
unset xtics
set xtics nomirror rotate by 0
set logscale x 2
set xrange [0.8:20]
set yrange [0:*]
set xlabel "concurrent sessions"
set key top right opaque box
plot '%(d3)s' using 1:2:4:5 with yerrorlines lw 2 pt 7 lc rgb "#1f77b4" title "md9 host→server", \\
     '' using 1:3:6:7 with yerrorlines lw 2 pt 5 lc rgb "#ff7f0e" title "md9 server→host", \\
     '' using 1:8 with linespoints dt 3 pt 1 lc rgb "#1f77b4" title "direct TCP, as many connections", \\
     '' using 1:9 with linespoints dt 3 pt 1 lc rgb "#ff7f0e" notitle, \\
     %(h1)f with lines dt 2 lc rgb "#1f77b4" title "1 session -15 %%", %(s1)f with lines dt 2 lc rgb "#ff7f0e" notitle
unset multiplot
""" % {"png": os.path.join(outdir, "results.png"), "d1": d1, "d2": d2, "d3": d3, "d4": d4,
       "when": res["started"], "nproc": res["machine"]["nproc"],
       "load": "%.2f" % res["load"]["before"][0],
       "h1": 0.85 * one["h2s"], "s1": 0.85 * one["s2h"]}
    subprocess.run([gp], input=script, text=True, check=True)
    for f in files:
        os.remove(f)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--save", action="store_true",
                    help="write the results into bench/results/ (the committed ones); "
                         "otherwise they go to BUILD/bench/results/ and the tree stays clean")
    ap.add_argument("--out", help="write the results here instead")
    ap.add_argument("--window", type=float, default=3.0, help="seconds per throughput window")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3, help="throughput rounds")
    ap.add_argument("--pings", type=int, default=20000, help="measured round trips per round")
    ap.add_argument("--ping-warm", type=int, default=2000)
    ap.add_argument("--ping-rounds", type=int, default=7)
    ap.add_argument("--interactive-rounds", type=int, default=3)
    ap.add_argument("--interactive-pings", type=int, default=5000)
    ap.add_argument("--scale-rounds", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--sessions", type=int, default=30, help="sessions for the setup latency")
    ap.add_argument("--only", help="comma-separated phases: throughput, ping, interactive, "
                                   "scale, idle, setup (development; the plot needs the "
                                   "first, second and fourth)")
    ap.add_argument("--quick", action="store_true",
                    help="short development run: 1 round each, 1 s windows, 2000 pings")
    ap.add_argument("--wait-load", type=float, default=0.0, metavar="MINUTES",
                    help="first wait up to MINUTES for the 1-minute load average to drop below "
                         "--max-load (checked every 30 s)")
    ap.add_argument("--max-load", type=float, default=0.5)
    ap.add_argument("--from-json", metavar="FILE",
                    help="measure nothing: evaluate, tabulate and plot the results.json of an "
                         "earlier run")
    a = ap.parse_args()
    if a.quick:
        a.reps = a.ping_rounds = a.interactive_rounds = a.scale_rounds = 1
        a.window, a.warmup, a.pings, a.ping_warm = 1.0, 0.5, 2000, 200
        a.interactive_pings, a.idle_seconds, a.sessions = 1000, 2.0, 10
    out = a.out or (os.path.join(ROOT, "bench", "results") if a.save
                    else os.path.join(a.build, "bench", "results"))
    os.makedirs(out, exist_ok=True)
    deadline = time.monotonic() + 60 * a.wait_load
    while not a.from_json:
        load = loadavg()[0]
        if load < a.max_load or time.monotonic() >= deadline:
            break
        print("bench: load average %.2f >= %.2f; waiting (%.0f s left)"
              % (load, a.max_load, deadline - time.monotonic()), flush=True)
        time.sleep(30)
    say = lambda *x: print(*x, flush=True)
    if a.from_json:
        with open(a.from_json) as f:
            res = json.load(f)
    else:
        res = run(a, say)
    summ = summarize(res)
    checks = evaluate(res, summ)
    res["summary"] = summ
    res["checks"] = [{"target": t, "value": v, "rounds": r, "pass": ok} for t, v, r, ok in checks]
    md = markdown(res, summ, checks)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    plotted = plot(res, summ, out)
    print()
    print(md)
    print("bench: wrote %s/results.md, results.json%s" % (out, ", results.png" if plotted else ""))
    for t, v, _, ok in checks:
        print("bench: %s  %s: %s" % (verdict(ok), t, v))
    failed = sum(not ok for _, _, _, ok in checks)
    print("bench: %d of %d targets pass" % (len(checks) - failed, len(checks)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
