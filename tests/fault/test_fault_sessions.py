#!/usr/bin/python3
"""md9 under faults that concern the sessions as a whole: more sessions than
instances or max_sessions, a server refusing, closing or reading slowly,
SIGTERM during transfers.
What each fault must leave behind is said in faultlib.py.

    python3 tests/fault/test_fault_sessions.py --list
    python3 tests/fault/test_fault_sessions.py max_sessions
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import (BYTES_SCALE, FIN, NEGO_H2S, NEGO_S2H, SERVER_SEED, FaultHarness,  # noqa: E402
                      check_complete, client, ended_cleanly, finish_ok,
                      new_session_works, running, stack)
from md9test import MiB, T, check, main  # noqa: E402


# ---------------------------------------------------------------------------
# more sessions than the five known instances; more than max_sessions
# ---------------------------------------------------------------------------

def many_sessions(h):
    srv, hs, m = stack(h, hostsim_args=("--instances", "8"))
    n = 8 * MiB // BYTES_SCALE
    c = client(h, hs, 1000, n, n, "--sessions", 8)
    res = c.wait(T(180))
    for i in range(8):
        cs = res[i]
        check_complete(cs, srv.wait_conn(cs["seed"], T(10)), "session %d of 8" % i)
    conns = srv.conns()
    chans = {mm.group("channel") for mm in m.find(r"opened on data channel (?P<channel>\S+)")}
    for k in ("a6", "a7", "a8"):
        check("99221f%s-24ad-11e2-be98-001aa01bbf6e" % k in chans,
              "instance 99221F%s was not used: %s" % (k.upper(), sorted(chans)))
    m.wait_for_log(r"session \d+: closed", count=8)
    closed = m.find(r"session \d+: closed \((?P<r>[^)]*)\): channel \S+, (?P<h2s>\d+) bytes "
                    r"host->server, (?P<s2h>\d+) bytes")
    check(sum(int(x.group("h2s")) for x in closed) ==
          sum(NEGO_H2S + conns[s]["received"] for s in conns if s >= 1000),
          "md9's host->server counters do not add up to what the server received")
    check(sum(int(x.group("s2h")) for x in closed) ==
          sum(NEGO_S2H + res[i]["received"] for i in range(8)),
          "md9's server->host counters do not add up to what the clients received")


def max_sessions(h):
    srv, hs, m = stack(h, hostsim_args=("--instances", "8"), md9_args=("--max-sessions", "6"))
    six = client(h, hs, 1000, "inf", "inf", "--sessions", 6)
    for sid in range(1, 7):
        m.opened(sid)
    mark = m.mark()
    two = h.client(hs, "--seed", 2000, "--server-seed", SERVER_SEED, "--bytes", MiB,
                   "--recv-bytes", MiB, "--timeout", T(30), "--sessions", 2)
    for k in ("a7", "a8"):
        m.wait_for_log(r"data channel 99221f%s-\S+: refusing a session: 6 sessions open "
                       r"\(max_sessions\); closing the channel" % k, since=mark)
    # Fail fast: md9 closed their channels, so the host ended both clients'
    # connections without any rescind (before, they hung until one).
    res = two.wait(T(30))
    for i in (0, 1):
        check(res[i]["status"].startswith("eof"),
              "a session beyond max_sessions: %s" % res[i]["line"])
    hs.command("rescind-data all")
    res = six.wait(T(30))
    for i in range(6):
        check(res[i]["status"].startswith("eof") and res[i]["verified"] == "yes",
              "session %d: %s" % (i, res[i]["line"]))
    new_session_works(h, hs, srv, m, 7, 300)


# ---------------------------------------------------------------------------
# the server side: refusing, closing mid-stream, reading slowly
# ---------------------------------------------------------------------------

def server_refuses(h):
    srv, hs, m = stack(h, server_args=("--refuse",))
    for sid in (1, 2):
        c = client(h, hs, 100 + sid, MiB, MiB)
        closed = m.wait_closed(sid)
        check(re.search(r"the server closed the connection before its Connection Confirm|"
                        r"the server closed the connection before md9 could check who it is|"
                        r"(writing to|reading from) the server failed|"
                        r"cannot connect to the server", closed.group("reason")),
              "session %d: %s" % (sid, closed.group(0)))
        cs = c.session(0, T(10))
        check(cs["status"].startswith("eof"), "client: %s" % cs["line"])
    check(m.alive(), "md9 exited")


def server_closes(h):
    srv, hs, m = stack(h, server_args=("--close-after", str(8 * MiB // BYTES_SCALE)))
    a = client(h, hs, 100, FIN, FIN)
    closed = m.wait_closed(1, T(30))
    # The server closes with our bytes unread: a TCP reset, which md9 may see
    # as EOF, a failed read or write, or an error on the socket.
    check(re.fullmatch(r"the server closed the connection|(reading from|writing to) the "
                       r"server failed: .*|the server connection failed",
                       closed.group("reason")),
          "session 1: %s" % closed.group(0))
    cs = a.session(0, T(20))
    check(cs["status"].startswith("eof") and cs["verified"] == "yes", "client: %s" % cs["line"])
    ss = srv.wait_conn(cs["seed"], T(10))
    check(ss["status"] == "closed-after" and ss["verified"] == "yes", "server: %s" % ss["line"])


def slow_server(h):
    rate = 16 * MiB // BYTES_SCALE
    srv, hs, m = stack(h, server_args=("--slow-read", str(rate)))
    n = 3 * rate
    cpu0, t0 = m.cpu(), time.monotonic()
    a = client(h, hs, 100, n, MiB)
    cs, _, _ = finish_ok(h, a, srv, m, 1, "slow server")
    cpu, wall = m.cpu() - cpu0, time.monotonic() - t0
    h.note("server reading at %d MiB/s: %d MiB in %.1f s, md9 CPU %.2f s (%.0f%%)"
           % (rate // MiB, n // MiB, wall, cpu, 100 * cpu / wall))
    check(wall >= 2.0, "the server's read limit did not hold (%.1f s)" % wall)
    check(cpu < 0.5 * wall, "md9 used %.1f s CPU in %.1f s behind a slow server" % (cpu, wall))


# ---------------------------------------------------------------------------
# SIGTERM during transfers
# ---------------------------------------------------------------------------

def sigterm(h):
    srv, hs, m = stack(h)
    a, _ = running(h, hs, m, 1, 100, "inf", MiB)
    b, _ = running(h, hs, m, 2, 200, "inf", MiB)
    rc = m.stop()
    check(rc == 0, "md9 exited with status %s after SIGTERM" % rc)
    m.wait_for_log(r"signal 15: stopping", 1.0)
    for sid, c in ((1, a), (2, b)):
        ended_cleanly(srv, c, m, sid, r"md9 is stopping", "SIGTERM, session %d" % sid)
    # The host survives the guest going away; a new md9 serves it.
    m2 = h.md9(hs, srv)
    new_session_works(h, hs, srv, m2, 1, 300)

CASES = {
    "many_sessions": many_sessions,
    "max_sessions": max_sessions,
    "server_refuses": server_refuses,
    "server_closes": server_closes,
    "slow_server": slow_server,
    "sigterm": sigterm,
}

if __name__ == "__main__":
    sys.exit(main(CASES, FaultHarness))
