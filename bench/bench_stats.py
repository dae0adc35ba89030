"""From raw results to figures: medians over rounds, per-round ratios
against the best peer, and the verdict of every target."""

import statistics

from bench_defs import (DIRS, PATHS, PEERS, RELAY_PROCS, SCALE_STEPS, T_ADDED_P50_X,
                        T_ADDED_P99_X, T_CPU_X, T_FAIRNESS, T_IDLE_CPU_S, T_INTERACTIVE_X,
                        T_MAX_X, T_SCALE_AGG, T_SETUP_P50_MS, T_THROUGHPUT_X)

def pctl(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


med = statistics.median

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
            # The best peer is one relay a user could pick instead: the one
            # with the best median over the rounds. Each round's ratio is
            # against that same peer; taking the best of the three peers in
            # every round instead would compare one sample of md9 with the
            # luckiest of three samples.
            bp = max(PEERS, key=lambda q: med(r["mbps"] for r in rounds[q]))
            bc = min(PEERS, key=lambda q: med(r["relay_s_per_gb"] for r in rounds[q]))
            t[d]["best_peer"], t[d]["best_cpu_peer"] = bp, bc
            for k in PATHS:
                t[d][k]["x_best_rounds"] = [rounds[k][i]["mbps"] / rounds[bp][i]["mbps"]
                                            for i in range(n)]
                t[d][k]["x_best"] = med(t[d][k]["x_best_rounds"])
                if k in RELAY_PROCS:
                    t[d][k]["cpu_x_best_rounds"] = [rounds[k][i]["relay_s_per_gb"] /
                                                    rounds[bc][i]["relay_s_per_gb"]
                                                    for i in range(n)]
                    t[d][k]["cpu_x_best"] = med(t[d][k]["cpu_x_best_rounds"])
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

        def figure(k, f, i):
            """Path k's figure f in round i: added p50/p99, or the max."""
            return pp[k][i]["max_us"] if f == "max" else p[k]["added_%s_rounds" % f][i]

        for f in ("p50", "p99", "max"):
            # As for throughput: the peer with the best median, every round
            # against that same peer.
            bp = min(PEERS, key=lambda q: med(figure(q, f, i) for i in range(n)))
            p["best_peer_" + f] = bp
            for k in PATHS:
                if k == "direct":
                    continue
                p[k]["%s_x_best_rounds" % f] = [
                    figure(k, f, i) / figure(bp, f, i) if figure(bp, f, i) > 0 else float("inf")
                    for i in range(n)]
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
            checks.append(("throughput %s ≥ %.1f× best peer (%s)"
                           % (name, T_THROUGHPUT_X, summ["throughput"][d]["best_peer"]),
                           "%.2f×" % c["x_best"], fmt(c["x_best_rounds"]),
                           c["x_best"] >= T_THROUGHPUT_X))
        for d, name in DIRS:
            c = summ["throughput"][d]["md9"]
            checks.append(("md9 CPU per GB %s ≤ %.1f× best peer's (%s)"
                           % (name, T_CPU_X, summ["throughput"][d]["best_cpu_peer"]),
                           "%.2f×" % c["cpu_x_best"], fmt(c["cpu_x_best_rounds"]),
                           c["cpu_x_best"] <= T_CPU_X))
    if "pingpong" in summ:
        c = summ["pingpong"]["md9"]
        for f, lim, what in (("p50", T_ADDED_P50_X, "added round trip p50"),
                             ("p99", T_ADDED_P99_X, "added round trip p99"),
                             ("max", T_MAX_X, "max round trip")):
            checks.append(("%s ≤ %.1f× best peer's (%s)"
                           % (what, lim, summ["pingpong"]["best_peer_" + f]),
                           "%.2f×" % c["%s_x_best" % f],
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


