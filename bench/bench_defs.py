"""What the benchmark compares and the targets it holds md9 to (issue 14).

Shared by every bench_* module; no code, only names and numbers.
"""

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

LABEL = {"direct": "direct TCP (floor)", "socat": "socat, defaults (reference)",
         "socat-256k": "socat -b 262144", "haproxy": "HAProxy, splice",
         "haproxy-auto": "HAProxy, splice-auto", "md9": "**md9** (its hop)",
         "md9-2hop": "md9 two hops (front end + md9)"}

