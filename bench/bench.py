#!/usr/bin/env python3
"""md9's benchmark driver (run it through bench/run, which builds first).

Paths measured, each with fresh processes:

  direct  md9bench client ─TCP─▶ md9bench server
  socat   md9bench client ─TCP─▶ socat ─TCP─▶ md9bench server
  md9     md9bench client ─TCP─▶ md9-hostsim (raw) ═ring═▶ md9 ─TCP─▶ md9bench server

md9bench (bench/tools/md9bench.c) is the host-side client (vmconnect's X.224
Connection Request, then a 462-byte MCS Connect-Initial) and a fake RDP
server (Connection Confirm selecting PROTOCOL_RDP, so md9 --security auto
relays plaintext). The sink side counts bytes over a window and samples the
CPU time (schedstat, every thread) of the processes on the path.

Python standard library only. Writes bench/results/results.{md,json,png}.
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

# Targets (the acceptance criteria).
T_THROUGHPUT_X_SOCAT = 1.5     # md9 path MB/s >= 1.5 x socat's
T_CPU_PER_GB_X_SOCAT = 0.7     # md9's CPU s/GB <= 0.7 x socat's
T_IDLE_CPU_S = 0.01            # over 10 s
T_ADDED_RTT_P50_US = 15.0      # md9 path p50 - direct p50
T_SETUP_P50_MS = 2.0           # CreateSession -> accept()
T_FAIRNESS = 0.20              # every session within +-20 % of the mean

PING_WARM = 2000               # ping-pong round trips before the measured ones


def cpu_ns(pid):
    """CPU time of every thread of pid, ns (schedstat; stat ticks otherwise)."""
    total, any_ = 0, False
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
                    any_ = True
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    if any_:
        return total
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 10**9 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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


class Bench:
    def __init__(self, args):
        self.a = args
        self.bin = args.build
        self.tool = os.path.join(args.build, "bench", "md9bench")
        self.work = os.path.join(args.build, "bench", "work")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.procs = []
        self.seq = 0

    # ---- processes ----

    def start(self, name, argv, stdin=False):
        self.seq += 1
        p = Proc("%02d-%s" % (self.seq, name), argv, self.work, stdin)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    def server(self, mode, *extra):
        p = self.start("server-" + mode, [self.tool, "server", "--mode", mode] + list(extra))
        port = int(p.wait_for(r"^listening (\d+)$", stream="out")[0].group(1))
        return p, port

    def md9_stack(self, server_port):
        """hostsim + md9 relaying to server_port; returns (hostsim, md9, raw port)."""
        bus = os.path.join(self.work, "bus%d" % self.seq)
        conf = os.path.join(self.work, "empty.conf")
        with open(conf, "w") as f:
            # The user md9 runs as is ours to say, not the machine's.
            f.write("user = root\nallow_root = yes\n" if os.geteuid() == 0 else "")
        hs = self.start("hostsim", [os.path.join(self.bin, "hostsim", "md9-hostsim"),
                                    "--bus", bus, "--raw-listen", "127.0.0.1:0"])
        raw = int(hs.wait_for(r"^ready .* raw=(\d+)", stream="out")[0].group(1))
        md9 = self.start("md9", [os.path.join(self.bin, "md9"), "run", "-c", conf,
                                 "--transport", "sim:" + bus,
                                 "--backend", "tcp:127.0.0.1:%d" % server_port,
                                 "--security", "auto"])
        hs.wait_for(r"hostsim: control channel ready")
        return hs, md9, raw

    def socat(self, server_port):
        """socat relaying one connection TCP->TCP, default options (8 KiB buffer)."""
        port = free_port()
        p = self.start("socat", ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                                 "TCP:127.0.0.1:%d" % server_port])
        wait_listening(port)
        return p, port

    def path(self, kind, server_port):
        """Start the relay for a path; (entry port, {name: pid} of the relay processes)."""
        if kind == "direct":
            return server_port, {}
        if kind == "socat":
            p, port = self.socat(server_port)
            return port, {"socat": p.pid}
        hs, md9, raw = self.md9_stack(server_port)
        return raw, {"md9": md9.pid, "hostsim": hs.pid}

    @staticmethod
    def write_watch(path, pids):
        with open(path + ".tmp", "w") as f:
            for n, pid in pids.items():
                f.write("%s %d\n" % (n, pid))
        os.rename(path + ".tmp", path)

    # ---- tests ----

    def throughput(self, kind, direction, conns=1, window=None):
        """One window of bulk transfer; the sink's result dict plus names."""
        window = window or self.a.window
        watch = os.path.join(self.work, "watch%d" % (self.seq + 1))
        sink_args = ["--conns", str(conns), "--warmup", str(self.a.warmup),
                     "--window", str(window), "--watch", watch]
        try:
            if direction == "h2s":
                srv, sport = self.server("sink", *sink_args)
                entry, pids = self.path(kind, sport)
                cli = self.start("client-source", [self.tool, "client", "--connect", str(entry),
                                                   "--mode", "source", "--conns", str(conns)])
                pids.update({"source": cli.pid})
                sink = srv
            else:
                srv, sport = self.server("source")
                entry, pids = self.path(kind, sport)
                pids.update({"source": srv.pid})
                self.write_watch(watch, pids)
                cli = self.start("client-sink", [self.tool, "client", "--connect", str(entry),
                                                 "--mode", "sink"] + sink_args)
                sink = cli
            self.write_watch(watch, pids)
            line = sink.wait_for(r"^result (.*)$", timeout=60, stream="out")[0].group(1)
            r = json.loads(line)
            if "error" in r:
                raise RuntimeError("%s %s: %s" % (kind, direction, r["error"]))
            cpu = r["cpu_s"]
            cpu["sink"] = cpu.pop("self")
            return r
        finally:
            self.stop_all()

    def pingpong(self, kind):
        try:
            srv, sport = self.server("echo")
            entry, pids = self.path(kind, sport)
            c0 = {n: cpu_ns(p) for n, p in pids.items()}
            cli = self.start("client-ping", [self.tool, "client", "--connect", str(entry),
                                             "--mode", "ping", "--count", str(self.a.pings),
                                             "--warm-count", str(PING_WARM)])
            r = json.loads(cli.wait_for(r"^result (.*)$", timeout=120,
                                        stream="out")[0].group(1))
            cli.p.wait(10)
            # CPU per round trip of the processes on the path (warm-up included).
            r["cpu_us_per_rt"] = {n: (cpu_ns(p) - c0[n]) / 1e3 / (self.a.pings + PING_WARM)
                                  for n, p in pids.items()}
            return r
        finally:
            self.stop_all()

    def pingpong_rounds(self, rounds, awake, say):
        """Interleaved ping-pong rounds over the three paths; medians per path,
        and the added latency as the median of per-round differences."""
        spin = []
        if awake:
            # Keep every vCPU out of halt so a wake-up needs no exit to the
            # hypervisor; nice 19 yields to the measured processes at once.
            spin = [subprocess.Popen(["nice", "-n", "19", "sh", "-c", "while :; do :; done"],
                                     start_new_session=True)
                    for _ in range(os.cpu_count() or 1)]
        try:
            per = {k: [] for k in ("direct", "socat", "md9")}
            for i in range(rounds):
                for k in per:
                    per[k].append(self.pingpong(k))
                say("  round %d  %s" % (i + 1, "  ".join(
                    "%s p50 %.1f p99 %.1f" % (k, per[k][-1]["p50_us"], per[k][-1]["p99_us"])
                    for k in per)))
        finally:
            for p in spin:
                try:
                    os.killpg(p.pid, 9)
                except OSError:
                    pass
                p.wait()
        out = {}
        for k, rr in per.items():
            med = lambda f: statistics.median(r[f] for r in rr)
            out[k] = {f: med(f) for f in ("min_us", "p50_us", "p90_us", "p99_us", "mean_us")}
            out[k]["rounds_p50_us"] = [r["p50_us"] for r in rr]
            out[k]["cpu_us_per_rt"] = {n: statistics.median(r["cpu_us_per_rt"][n] for r in rr)
                                       for n in rr[0]["cpu_us_per_rt"]}
            if k != "direct":
                out[k]["added_p50_us"] = statistics.median(
                    a["p50_us"] - d["p50_us"] for a, d in zip(rr, per["direct"]))
        say("  median: %s" % "  ".join(
            "%s p50 %.1f p99 %.1f%s" % (k, out[k]["p50_us"], out[k]["p99_us"],
                                        " (+%.1f)" % out[k]["added_p50_us"]
                                        if "added_p50_us" in out[k] else "")
            for k in out))
        return out

    def idle(self, n, seconds):
        try:
            srv, sport = self.server("idle")
            hs, md9, raw = self.md9_stack(sport)
            cli = self.start("client-idle", [self.tool, "client", "--connect", str(raw),
                                             "--mode", "idle", "--conns", str(n),
                                             "--hold", str(seconds + 30)], stdin=True)
            cli.wait_for(r"^ready", timeout=30, stream="out")
            md9.wait_for(r"session \d+: relaying$", count=n)
            time.sleep(0.5)   # let the handshakes' last wake-ups pass
            c0 = (cpu_ns(md9.pid), cpu_ns(hs.pid))
            t0 = time.monotonic()
            time.sleep(seconds)
            c1 = (cpu_ns(md9.pid), cpu_ns(hs.pid))
            el = time.monotonic() - t0
            alive = md9.p.poll() is None and len(md9.find(r"session \d+: closed")) == 0
            if not alive:
                raise RuntimeError("a session closed during the idle measurement")
            return {"sessions": n, "seconds": el, "md9_cpu_s": (c1[0] - c0[0]) / 1e9,
                    "hostsim_cpu_s": (c1[1] - c0[1]) / 1e9}
        finally:
            self.stop_all()

    def setup_latency(self, count):
        try:
            srv, sport = self.server("idle")
            hs, md9, raw = self.md9_stack(sport)
            cli = self.start("client-hs", [self.tool, "client", "--connect", str(raw),
                                           "--mode", "hs", "--count", str(count),
                                           "--gap-ms", "150"])
            cli.wait_for(r"^hs %d " % (count - 1), timeout=60, stream="out")
            cli.p.wait(10)
            creates = hs.wait_for(r"hostsim: CreateSession \S+ \(monotonic (\d+)\.(\d{9})\)",
                                  count=count)
            accepts = srv.wait_for(r"^accept (\d+) (\d+)$", stream="out", count=count)
            hsl = cli.wait_for(r"^hs (\d+) (\d+) (\d+)$", stream="out", count=count)
            lat = []
            for c, a in zip(creates, accepts):
                t_c = int(c.group(1)) * 10**9 + int(c.group(2))
                lat.append((int(a.group(2)) - t_c) / 1e6)
            full = [(int(m.group(3)) - int(m.group(2))) / 1e6 for m in hsl]
            return {"n": count, "ms": lat, "p50_ms": pctl(lat, 50), "p99_ms": pctl(lat, 99),
                    "max_ms": max(lat), "min_ms": min(lat),
                    "client_handshake_p50_ms": pctl(full, 50)}
        finally:
            self.stop_all()


def pctl(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def machine():
    model, mhz = "?", "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("cpu MHz") and mhz == "?":
                    mhz = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "mhz": mhz, "kernel": platform.release(),
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def verdict(ok):
    return "PASS" if ok else "FAIL"


def run(args):
    b = Bench(args)
    res = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "window_s": args.window, "reps": args.reps}
    res["machine"]["load_before"] = res["machine"].pop("loadavg")
    say = lambda *x: print(*x, flush=True)

    # Interleaved: every repetition measures direct, socat and md9 back to
    # back, so a slow spell of the (virtual) machine hits all three and the
    # per-repetition ratios stay meaningful; cells report the median run.
    say("== throughput (%d rounds x 3 paths x %.0f s windows, interleaved; median)"
        % (args.reps, args.window))
    runs = {}
    for rep in range(args.reps):
        for direction in ("h2s", "s2h"):
            for kind in ("direct", "socat", "md9"):
                r = b.throughput(kind, direction)
                runs.setdefault("%s/%s" % (kind, direction), []).append(r)
                say("  round %d  %-6s %s  %8.1f MB/s  cpu s/GB %s" % (
                    rep + 1, kind, direction, r["mbps"],
                    ", ".join("%s %.3f" % (k, v / (r["bytes"] / 1e9))
                              for k, v in r["cpu_s"].items())))
    tp = {}
    for key, rr in runs.items():
        best = sorted(rr, key=lambda r: r["mbps"])[len(rr) // 2]
        gb = best["bytes"] / 1e9
        tp[key] = {"mbps": best["mbps"], "all_mbps": [r["mbps"] for r in rr],
                   "gb": gb, "cpu_s": best["cpu_s"],
                   "cpu_s_per_gb": {k: v / gb for k, v in best["cpu_s"].items()},
                   "all_cpu_s_per_gb": [{k: v / (r["bytes"] / 1e9) for k, v in r["cpu_s"].items()}
                                        for r in rr],
                   "window_s": best["window_s"]}
    for d in ("h2s", "s2h"):
        m, so = runs["md9/" + d], runs["socat/" + d]
        tp["md9/" + d]["x_socat_rounds"] = [a["mbps"] / c["mbps"] for a, c in zip(m, so)]
        tp["md9/" + d]["cpu_x_socat_rounds"] = [
            (a["cpu_s"]["md9"] / a["bytes"]) / (c["cpu_s"]["socat"] / c["bytes"])
            for a, c in zip(m, so)]
    res["throughput"] = tp

    say("== ping-pong, 64 bytes, %d rounds x %d round trips, interleaved"
        % (args.ping_rounds, args.pings))
    res["pingpong"] = b.pingpong_rounds(args.ping_rounds, awake=False, say=say)
    say("== the same with both vCPUs kept awake (a nice-19 spinner per CPU): diagnostic")
    res["pingpong_awake"] = b.pingpong_rounds(args.ping_rounds, awake=True, say=say)

    say("== idle CPU, %d s" % args.idle_seconds)
    res["idle"] = {}
    for n in (1, 5):
        r = b.idle(n, args.idle_seconds)
        res["idle"][str(n)] = r
        say("  %d session(s): md9 %.4f s, hostsim %.4f s" % (n, r["md9_cpu_s"],
                                                             r["hostsim_cpu_s"]))

    say("== CreateSession -> accept(), %d sessions" % args.sessions)
    res["setup"] = b.setup_latency(args.sessions)
    say("  p50 %.3f ms  p99 %.3f ms  max %.3f ms" % (res["setup"]["p50_ms"],
                                                     res["setup"]["p99_ms"],
                                                     res["setup"]["max_ms"]))

    say("== 5 concurrent sessions through md9")
    fair = {}
    for direction in ("h2s", "s2h"):
        r = b.throughput("md9", direction, conns=5, window=max(args.window, 3.0))
        per = [c["mbps"] for c in r["conns"]]
        mean = statistics.mean(per)
        fair[direction] = {"mbps": per, "total_mbps": r["mbps"], "mean": mean,
                           "max_dev": max(abs(x - mean) / mean for x in per),
                           "cpu_s": r["cpu_s"], "gb": r["bytes"] / 1e9}
        say("  %s: total %.0f MB/s, per session %s, max deviation %.1f %%" % (
            direction, r["mbps"], ", ".join("%.0f" % x for x in per),
            100 * fair[direction]["max_dev"]))
    res["fairness"] = fair
    res["machine"]["load_after"] = open("/proc/loadavg").read().split()[:3]
    return res


def evaluate(res):
    tp, pp = res["throughput"], res["pingpong"]
    checks = []
    med = statistics.median
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        x = med(tp["md9/" + d]["x_socat_rounds"])
        checks.append(("throughput %s ≥ %.1f× socat" % (name, T_THROUGHPUT_X_SOCAT),
                       "%.2f×" % x, x >= T_THROUGHPUT_X_SOCAT))
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        x = med(tp["md9/" + d]["cpu_x_socat_rounds"])
        checks.append(("md9 CPU/GB %s ≤ %.1f× socat's" % (name, T_CPU_PER_GB_X_SOCAT),
                       "%.2f×" % x, x <= T_CPU_PER_GB_X_SOCAT))
    for n in ("1", "5"):
        v = res["idle"][n]["md9_cpu_s"]
        checks.append(("idle CPU, %s session%s, ≤ %.2f s / 10 s" % (n, "s" if n != "1" else "",
                                                                    T_IDLE_CPU_S),
                       "%.4f s" % v, v <= T_IDLE_CPU_S))
    added = pp["md9"]["added_p50_us"]
    checks.append(("added round-trip p50 ≤ %.0f µs over direct TCP" % T_ADDED_RTT_P50_US,
                   "+%.1f µs" % added, added <= T_ADDED_RTT_P50_US))
    v = res["setup"]["p50_ms"]
    checks.append(("CreateSession → accept() p50 ≤ %.0f ms" % T_SETUP_P50_MS, "%.3f ms" % v,
                   v <= T_SETUP_P50_MS))
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        v = res["fairness"][d]["max_dev"]
        checks.append(("5 sessions %s: each within ±%.0f %% of the mean"
                       % (name, 100 * T_FAIRNESS), "±%.1f %%" % (100 * v), v <= T_FAIRNESS))
    res["checks"] = [{"target": t, "value": v, "pass": ok} for t, v, ok in checks]
    return checks


def markdown(res, checks):
    tp, pp, m = res["throughput"], res["pingpong"], res["machine"]
    L = []
    L.append("# md9 benchmark results\n")
    L.append("%s — %d CPUs (%s, %s MHz), kernel %s; load average (1, 5, 15 min) "
             "before %s, after %s.\n" % (
                 res["started"], m["nproc"], m["cpu"], m.get("mhz", "?"), m["kernel"],
                 " / ".join(m["load_before"]), " / ".join(m["load_after"])))
    L.append("Paths: **direct** client→server over loopback TCP; **socat** client→socat→server; "
             "**md9** client→md9-hostsim (raw front end)→ring→md9→server. "
             "Throughput: %d interleaved rounds (direct, socat, md9 back to back) of %.0f s "
             "windows; each cell is the median run, CPU from schedstat over the same window; "
             "the targets use the median of the per-round ratios.\n"
             % (res["reps"], res["window_s"]))
    L.append("## Throughput and CPU\n")
    L.append("| direction | path | MB/s | × socat | × direct | relay CPU s/GB | "
             "md9 s/GB | hostsim s/GB | socat s/GB | sink s/GB | source s/GB |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        for k in ("direct", "socat", "md9"):
            c = tp["%s/%s" % (k, d)]
            g = c["cpu_s_per_gb"]
            relay = sum(v for n, v in g.items() if n in ("md9", "hostsim", "socat"))
            f = lambda n: "%.3f" % g[n] if n in g else "—"
            L.append("| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s | %s | %s | %s |" % (
                name, k, c["mbps"], c["mbps"] / tp["socat/" + d]["mbps"],
                c["mbps"] / tp["direct/" + d]["mbps"], "%.3f" % relay if k != "direct" else "—",
                f("md9"), f("hostsim"), f("socat"), f("sink"), f("source")))
    L.append("")
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        c = tp["md9/" + d]
        L.append("- %s, per round: md9 path × socat %s; md9 CPU/GB × socat's %s; "
                 "md9 path MB/s %s.  " % (
                     name, ", ".join("%.2f" % x for x in c["x_socat_rounds"]),
                     ", ".join("%.2f" % x for x in c["cpu_x_socat_rounds"]),
                     ", ".join("%.0f" % x for x in c["all_mbps"])))
    L.append("")
    for key, title in (("pingpong", "as is"),
                       ("pingpong_awake", "both vCPUs kept awake by a nice-19 spinner "
                        "(diagnostic: no wake-up from halt through the hypervisor)")):
        q = res[key]
        L.append("## Round trip, 64-byte ping-pong — %s\n" % title)
        L.append("Medians over %d interleaved rounds; *added* is the median of the per-round "
                 "differences to direct TCP.\n" % len(q["direct"]["rounds_p50_us"]))
        L.append("| path | min µs | p50 µs | p90 µs | p99 µs | mean µs | p50 added over direct "
                 "| relay CPU µs per round trip |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---|")
        for k in ("direct", "socat", "md9"):
            r = q[k]
            cpu = r.get("cpu_us_per_rt", {})
            L.append("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s |" % (
                k, r["min_us"], r["p50_us"], r["p90_us"], r["p99_us"], r["mean_us"],
                "+%.1f µs" % r["added_p50_us"] if "added_p50_us" in r else "—",
                ", ".join("%s %.1f" % (n, v) for n, v in cpu.items()) or "—"))
        L.append("")
    L.append("## Idle CPU (md9, %.0f s)\n" % res["idle"]["1"]["seconds"])
    L.append("| open idle sessions | md9 CPU s | hostsim CPU s |")
    L.append("|---:|---:|---:|")
    for n in ("1", "5"):
        r = res["idle"][n]
        L.append("| %s | %.4f | %.4f |" % (n, r["md9_cpu_s"], r["hostsim_cpu_s"]))
    L.append("")
    s = res["setup"]
    L.append("## Session setup: hostsim sends CreateSession → the server's accept()\n")
    L.append("%d sessions, CLOCK_MONOTONIC in both processes: min %.3f ms, p50 %.3f ms, "
             "p99 %.3f ms, max %.3f ms. (Client's whole CR→CC→Connect-Initial handshake "
             "through md9: p50 %.3f ms.)\n" % (s["n"], s["min_ms"], s["p50_ms"], s["p99_ms"],
                                                s["max_ms"], s["client_handshake_p50_ms"]))
    L.append("## 5 concurrent sessions through md9\n")
    L.append("| direction | total MB/s | per session MB/s | mean | max deviation |")
    L.append("|---|---:|---|---:|---:|")
    for d, name in (("h2s", "host→server"), ("s2h", "server→host")):
        f = res["fairness"][d]
        L.append("| %s | %.0f | %s | %.0f | ±%.1f %% |" % (
            name, f["total_mbps"], ", ".join("%.0f" % x for x in f["mbps"]), f["mean"],
            100 * f["max_dev"]))
    L.append("")
    L.append("## Targets\n")
    L.append("| target | measured | verdict |")
    L.append("|---|---:|---|")
    for t, v, ok in checks:
        L.append("| %s | %s | **%s** |" % (t, v, verdict(ok)))
    L.append("")
    L.append("![results](results.png)\n")
    return "\n".join(L)


def plot(res, outdir):
    gp = shutil.which("gnuplot")
    if not gp:
        print("bench: gnuplot not found; no plot", file=sys.stderr)
        return
    tp, pp = res["throughput"], res["pingpong"]
    d1 = os.path.join(outdir, "plot-throughput.dat")
    with open(d1, "w") as f:
        f.write("path h2s s2h\n")
        for k in ("direct", "socat", "md9"):
            f.write("%s %.1f %.1f\n" % (k, tp[k + "/h2s"]["mbps"], tp[k + "/s2h"]["mbps"]))
    d2 = os.path.join(outdir, "plot-cpu.dat")
    with open(d2, "w") as f:
        f.write("process h2s s2h\n")
        for k, proc in (("socat", "socat"), ("md9", "md9"), ("md9", "hostsim")):
            f.write("%s %.4f %.4f\n" % (proc, tp[k + "/h2s"]["cpu_s_per_gb"][proc],
                                        tp[k + "/s2h"]["cpu_s_per_gb"][proc]))
    d3 = os.path.join(outdir, "plot-rtt.dat")
    pa = res["pingpong_awake"]
    with open(d3, "w") as f:
        f.write("path p50 p99 p50-awake p99-awake\n")
        for k in ("direct", "socat", "md9"):
            f.write("%s %.2f %.2f %.2f %.2f\n" % (k, pp[k]["p50_us"], pp[k]["p99_us"],
                                                 pa[k]["p50_us"], pa[k]["p99_us"]))
    d4 = os.path.join(outdir, "plot-fair.dat")
    with open(d4, "w") as f:
        f.write("session h2s s2h\n")
        fa = res["fairness"]
        for i in range(len(fa["h2s"]["mbps"])):
            f.write("%d %.1f %.1f\n" % (i + 1, fa["h2s"]["mbps"][i],
                                        fa["s2h"]["mbps"][i] if i < len(fa["s2h"]["mbps"]) else 0))
    script = """
set terminal pngcairo size 1400,1000 font ",11"
set output '%(png)s'
set multiplot layout 2,2 title "md9 benchmark — %(when)s, %(nproc)s CPUs, %(cpu)s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
set yrange [0:*]
set title "Throughput (MB/s)"
plot '%(d1)s' using 2:xtic(1) title columnhead(2), '' using 3 title columnhead(3)
set title "CPU seconds per GB relayed"
plot '%(d2)s' using 2:xtic(1) title columnhead(2), '' using 3 title columnhead(3)
set title "64-byte ping-pong round trip (µs, log scale)"
set logscale y
set yrange [1:*]
plot '%(d3)s' using 2:xtic(1) title columnhead(2), '' using 3 title columnhead(3), \\
     '' using 4 title columnhead(4), '' using 5 title columnhead(5)
unset logscale y
set yrange [0:*]
set title "5 concurrent sessions through md9 (MB/s each)"
plot '%(d4)s' using 2:xtic(1) title columnhead(2), '' using 3 title columnhead(3)
unset multiplot
""" % {"png": os.path.join(outdir, "results.png"), "d1": d1, "d2": d2, "d3": d3, "d4": d4,
       "when": res["started"], "nproc": res["machine"]["nproc"], "cpu": res["machine"]["cpu"]}
    subprocess.run([gp], input=script, text=True, check=True)
    for d in (d1, d2, d3, d4):
        os.remove(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--window", type=float, default=3.0, help="seconds per throughput window")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3, help="windows per throughput cell")
    ap.add_argument("--pings", type=int, default=5000, help="round trips per ping-pong round")
    ap.add_argument("--ping-rounds", type=int, default=5)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--sessions", type=int, default=30, help="sessions for the setup latency")
    ap.add_argument("--wait-load", type=float, default=0.0, metavar="MINUTES",
                    help="first wait up to MINUTES for the 1-minute load average to drop below "
                         "--max-load (checked every 30 s)")
    ap.add_argument("--max-load", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    deadline = time.monotonic() + 60 * a.wait_load
    while True:
        load = float(open("/proc/loadavg").read().split()[0])
        if load < a.max_load or time.monotonic() >= deadline:
            break
        print("bench: load average %.2f >= %.2f; waiting (%.0f s left)"
              % (load, a.max_load, deadline - time.monotonic()), flush=True)
        time.sleep(30)
    res = run(a)
    checks = evaluate(res)
    md = markdown(res, checks)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    plot(res, a.out)
    print()
    print(md)
    print("bench: wrote %s/results.md, results.json, results.png" % a.out)
    print("bench: %d of %d targets pass" % (sum(ok for _, _, ok in checks), len(checks)))


if __name__ == "__main__":
    main()
