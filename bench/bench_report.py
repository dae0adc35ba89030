"""The results as people read them: results.md (tables, PASS/FAIL per
target) and results.png (gnuplot)."""

import os
import shutil
import subprocess
import sys

from bench_defs import DIRS, LABEL, PATHS, PEERS, RELAY_PROCS, SCALE_STEPS

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
             "The best peer of a figure is the peer with the best median over the rounds; every "
             "target is the median over rounds of md9's figure divided by that peer's figure "
             "of the same round.\n")
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
# Headroom above the tallest bar for the key.
set offsets 0, 0, graph 0.22, 0
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


