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

Targets are ratios against the best peer (of socat-256k, haproxy and
haproxy-auto, never direct or socat-default: the one with the best median
over the rounds for that figure), taken round by round against that same
peer; the target value is the median of the per-round ratios. Python standard library only; the
plot is drawn by gnuplot. Prints PASS/FAIL per target and exits 1 on a FAIL.
"""

import argparse
import json
import os
import sys
import time

from bench_defs import DIRS, PATHS, SCALE_STEPS
from bench_paths import Bench
from bench_proc import loadavg, machine
from bench_report import markdown, plot, verdict
from bench_stats import evaluate, summarize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
