"""The measured paths: how each is started (md9 with md9-hostsim's endpoint,
socat, HAProxy, direct TCP) and one measurement of each kind on it."""

import os
import shutil
import time

from bench_defs import INSTANCES, RELAY_PROCS
from bench_proc import Proc, busy_s, cpu_ns, free_port, kthreads_s, result_line, wait_listening
from bench_stats import pctl

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

