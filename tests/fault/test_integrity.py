#!/usr/bin/python3
"""md9 loses no byte: seeded streams both ways through md9, random chunk
sizes at both ends, SHA-256 (and a byte-by-byte comparison against the
regenerated stream) equal at both ends, and md9's own byte counters equal
to what the ends saw.

    MD9_INTEGRITY_BYTES   bytes each way (default 1 GiB per direction; the
                          ASan build's ctest sets 64 MiB: ASan makes md9 and
                          the tools several times slower)

    python3 tests/fault/test_integrity.py single
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import NEGO_H2S, NEGO_S2H, FaultHarness, check_complete  # noqa: E402
from md9test import GiB, MiB, T, check, main  # noqa: E402

SERVER_SEED = 11
TOTAL = int(os.environ.get("MD9_INTEGRITY_BYTES", str(GiB)))


def _stack(h, *server_args):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED), *server_args)
    hs = h.hostsim()
    m = h.md9(hs, srv)
    return srv, hs, m


def _run(h, sessions, per_session, what, max_chunk=65536, mode="sink-source"):
    if mode == "echo":
        srv = h.server("--mode", "echo")
        hs = h.hostsim()
        m = h.md9(hs, srv)
    else:
        srv, hs, m = _stack(h, "--max-chunk", str(max_chunk))
    cpu0 = m.cpu()
    c = h.client(hs, "--sessions", sessions, "--seed", 1000, "--server-seed", SERVER_SEED,
                 "--mode", mode, "--bytes", per_session, "--recv-bytes", per_session,
                 "--max-chunk", max_chunk, "--timeout", T(60))
    # Generous: 1 GiB each way takes ~10 s here, far longer on a loaded machine.
    res = c.wait(T(60) + sessions * per_session / (2 * MiB))
    cpu = m.cpu() - cpu0
    check(len(res) == sessions, "%d of %d sessions ended" % (len(res), sessions))
    m.wait_for_log(r"session \d+: closed", count=sessions, timeout=T(20))
    closed = {int(x.group(1)): x for x in
              m.find(r"session (\d+): closed \(([^)]*)\): channel \S+, (\d+) bytes "
                     r"host->server, (\d+) bytes server->host")}
    h2s = sum(int(x.group(3)) for x in closed.values())
    s2h = sum(int(x.group(4)) for x in closed.values())
    sent = received = 0
    for i in range(sessions):
        cs = res[i]
        if mode == "echo":
            check(cs["status"] == "complete" and cs["verified"] == "yes",
                  "%s session %d: %s" % (what, i, cs["line"]))
            check(cs["sent"] == cs["received"] and cs["sent_sha"] == cs["received_sha"],
                  "%s session %d: the echo differs: %s" % (what, i, cs["line"]))
            ss = srv.wait_conn(cs["seed"], T(20))
            check((ss["received"], ss["received_sha"]) == (cs["sent"], cs["sent_sha"]),
                  "%s session %d: server: %s" % (what, i, ss["line"]))
        else:
            ss = srv.wait_conn(cs["seed"], T(20))
            check_complete(cs, ss, "%s session %d" % (what, i))
        sent += cs["sent"]
        received += cs["received"]
    check(h2s == sessions * NEGO_H2S + sent,
          "%s: md9 counted %d bytes host->server, the ends %d (+%d negotiation)"
          % (what, h2s, sent, sessions * NEGO_H2S))
    check(s2h == sessions * NEGO_S2H + received,
          "%s: md9 counted %d bytes server->host, the ends %d (+%d negotiation)"
          % (what, s2h, received, sessions * NEGO_S2H))
    r = c.result()
    secs = float(r["seconds"])
    h.note("%s: %d session(s) x %d MiB each way, %.1f s: host->server %.0f MB/s, "
           "server->host %.0f MB/s (aggregate), md9 CPU %.1f s; SHA-256 equal at both "
           "ends for every session, md9's counters exact"
           % (what, sessions, per_session // MiB, secs, sent / secs / 1e6,
              received / secs / 1e6, cpu))
    for i in range(sessions):
        h.note("  session %d: host->server sha256 %s, server->host sha256 %s"
               % (i, res[i]["sent_sha"], res[i]["received_sha"]))


def single(h):
    _run(h, 1, TOTAL, "one session")


def parallel5(h):
    """Five sessions at once, each TOTAL bytes each way."""
    _run(h, 5, TOTAL, "five parallel sessions")


def small_chunks(h):
    """Chunks of 1..512 bytes at both ends: many tiny pipe packets."""
    _run(h, 2, max(TOTAL // 64, 4 * MiB), "small chunks", max_chunk=512)


def echo(h):
    _run(h, 3, max(TOTAL // 8, 8 * MiB), "echo")


CASES = {
    "single": single,
    "parallel5": parallel5,
    "small_chunks": small_chunks,
    "echo": echo,
}

if __name__ == "__main__":
    sys.exit(main(CASES, FaultHarness))
