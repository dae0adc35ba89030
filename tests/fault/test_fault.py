#!/usr/bin/python3
"""md9 under every fault md9-hostsim can inject (hostsim/fault.h).

For each fault: md9 logs the reason, ends only the affected session (its
server connection sees EOF, nothing corrupt reached the server), keeps
serving the others (a second session, transferring at the time of the
fault, completes byte-exact: same length and SHA-256 at both ends and in
md9's own counters) and keeps (or recovers) the control channel (a new
session works afterwards).

    python3 tests/fault/test_fault.py --list
    python3 tests/fault/test_fault.py corrupt_offset8
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import (BYTES_SCALE, NEGO_H2S, NEGO_S2H, FaultHarness,  # noqa: E402
                      check_complete, check_md9_counts)
from md9test import WRAPPER, MiB, T, check, main  # noqa: E402

SERVER_SEED = 7
# A finite transfer each way for the "other" sessions.
FIN = 64 * MiB // BYTES_SCALE
PROGRESS = 1 * MiB


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------

def stack(h, hostsim_args=(), md9_args=(), server_args=()):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED), *server_args)
    hs = h.hostsim(*hostsim_args)
    m = h.md9(hs, srv, *md9_args)
    return srv, hs, m


def client(h, hs, seed, send, recv, *more):
    """One session (or --sessions K) of md9-testclient: send/recv are byte
    counts or "inf"."""
    return h.client(hs, "--seed", seed, "--server-seed", SERVER_SEED, "--bytes", send,
                    "--recv-bytes", recv, "--progress", PROGRESS, "--timeout", T(30), *more)


def running(h, hs, m, sid, seed, send="inf", recv=MiB, moved=4 * MiB):
    """Start a session and wait until it is md9's session `sid` and has
    moved `moved` bytes: it is mid-transfer (and, when recv is finite and
    send is not, the server has sent all it will: it only reads now).
    Returns (client, channel)."""
    c = client(h, hs, seed, send, recv)
    chan = m.opened(sid)
    c.progress(0, moved, T(20), received=recv if send == "inf" and recv != "inf" else 0)
    return c, chan


def finish_ok(h, c, srv, m, sid, what):
    """The session ran to its end byte-exact; md9's counters agree."""
    cs = c.session(0, T(120))
    ss = srv.wait_conn(cs["seed"], T(30))
    check_complete(cs, ss, what)
    closed = m.wait_closed(sid, T(30))
    check_md9_counts(closed, cs, ss, what)
    return cs, ss, closed


def ended_cleanly(srv, c, m, sid, reason_rx, what, exact=True):
    """The affected session: md9 closed it for `reason_rx`; the client's and
    the server's ends saw EOF, and every byte either of them received was
    the right one (nothing corrupt got through). exact: the server was not
    sending at the end, so it received every byte md9 relayed (a server
    still sending when md9 closes gets a TCP reset, which drops what md9's
    socket had not sent yet; see docs/threat-model.md)."""
    closed = m.wait_closed(sid, T(20))
    check(re.fullmatch(reason_rx, closed.group("reason")),
          "%s: md9 closed session %d for '%s', expected /%s/"
          % (what, sid, closed.group("reason"), reason_rx))
    cs = c.session(0, T(20))
    check(cs["status"].startswith("eof") and cs["verified"] == "yes",
          "%s: client: %s" % (what, cs["line"]))
    ss = srv.wait_conn(cs["seed"], T(20))
    check(ss["status"] in ("eof", "complete") and ss["verified"] == "yes",
          "%s: server: %s" % (what, ss["line"]))
    # md9 wrote to the server exactly what it counted: nothing lost inside.
    h2s = int(closed.group("h2s"))
    check(h2s == NEGO_H2S + ss["received"] if exact else h2s >= NEGO_H2S + ss["received"],
          "%s: md9 counted %d bytes host->server, the server received %d (+%d)"
          % (what, h2s, ss["received"], NEGO_H2S))
    # What reached the client is what md9 put in the ring, or less: the
    # host drops what it had not read when the channel ends.
    check(cs["received"] <= int(closed.group("s2h")) - NEGO_S2H,
          "%s: the client received more than md9 sent" % what)
    return closed


def new_session_works(h, hs, srv, m, sid, seed, what="a new session"):
    c = client(h, hs, seed, 1 * MiB, 1 * MiB)
    m.opened(sid)
    return finish_ok(h, c, srv, m, sid, what)


def fault_with_bystander(h, apply, reason_rx, what, hostsim_args=(), a_recv=MiB):
    """The common shape: session 1 (A) sends without end (and receives
    a_recv bytes), session 2 (B) runs a finite transfer; `apply(hs, chan_a)`
    injects the fault into A; A must end for reason_rx, B must complete
    byte-exact, and session 3 must work."""
    srv, hs, m = stack(h, hostsim_args)
    a, chan_a = running(h, hs, m, 1, 100, "inf", a_recv, moved=4 * MiB)
    b, _ = running(h, hs, m, 2, 200, FIN, FIN, moved=PROGRESS)
    apply(hs, chan_a)
    ended_cleanly(srv, a, m, 1, reason_rx, what, exact=a_recv != "inf")
    finish_ok(h, b, srv, m, 2, "the other session")
    new_session_works(h, hs, srv, m, 3, 300)
    check(not m.find(r"control channel: "), "the control channel failed: %s"
          % m.find(r"control channel: .*"))
    return srv, hs, m


# ---------------------------------------------------------------------------
# data channel rescinded mid-transfer
# ---------------------------------------------------------------------------

def rescind_data(h):
    srv, hs, m = fault_with_bystander(
        h, lambda hs, chan: hs.command("rescind-data " + chan),
        r"the host closed the channel", "rescind-data GUID")
    # Then every data channel at once.
    d, _ = running(h, hs, m, 4, 400, "inf", MiB)
    e, _ = running(h, hs, m, 5, 500, "inf", MiB)
    hs.command("rescind-data all")
    ended_cleanly(srv, d, m, 4, r"the host closed the channel", "rescind-data all (1)")
    ended_cleanly(srv, e, m, 5, r"the host closed the channel", "rescind-data all (2)")
    new_session_works(h, hs, srv, m, 6, 600)


def rescind_unread(h):
    """The host ends a session while md9 is blocked on its full TX ring and
    holds server bytes it has not read: the session ends cleanly, nothing
    corrupt reaches either end. (md9 reads away what it holds before closing,
    so the close is not a TCP reset; bytes the server sends after md9 closed
    still reset the connection and drop what md9's socket had not sent:
    reported, see docs/threat-model.md.)"""
    srv, hs, m = stack(h)
    # The host stops reading the guest's TX ring after 1 MiB, whatever the
    # timing: the server's 6 MiB cannot all pass before the stall (a
    # "stall on" sent once the session ran lost that race on a loaded
    # machine: everything had gone through and md9 never blocked).
    hs.command("stall after %d" % MiB)
    a = client(h, hs, 100, "inf", 6 * MiB)
    chan = m.opened(1)
    a.progress(0, 16 * MiB // BYTES_SCALE, T(20))
    deadline = time.monotonic() + T(10)
    while hs.status()[chan]["tx_pending"] == 0:
        check(time.monotonic() < deadline, "md9 never blocked on its full TX ring")
        time.sleep(0.05)
    a.progress(0, 32 * MiB // BYTES_SCALE, T(20))
    hs.command("rescind-data " + chan)
    closed = ended_cleanly(srv, a, m, 1, r"the host closed the channel",
                           "rescind with unread data", exact=False)
    ss = srv.conns()[100]
    h.note("md9 relayed %d bytes host->server, the server received %d"
           % (int(closed.group("h2s")) - NEGO_H2S, ss["received"]))
    hs.command("stall after 0")
    new_session_works(h, hs, srv, m, 2, 200)


# ---------------------------------------------------------------------------
# control channel rescinded and offered again
# ---------------------------------------------------------------------------

def rescind_control(h):
    srv, hs, m = stack(h)
    b, _ = running(h, hs, m, 1, 200, FIN, FIN, moved=PROGRESS)
    mark = m.mark()
    hs.command("rescind-control")
    m.wait_for_log(r"control channel: the host rescinded the control channel; "
                   r"waiting for the host to offer it again", since=mark)
    # A session asked for meanwhile waits in the host until the control
    # channel is back (the host queues its CreateSession).
    c = client(h, hs, 300, 1 * MiB, 1 * MiB)
    hs.log.wait_for(r"session queued until the guest's control channel is ready", T(10))
    hs.command("offer-control")
    m.wait_ready(since=mark)
    finish_ok(h, b, srv, m, 1, "the session running across the control channel's reset")
    m.opened(2)
    finish_ok(h, c, srv, m, 2, "the session queued while the control channel was away")
    new_session_works(h, hs, srv, m, 3, 400)


# ---------------------------------------------------------------------------
# version exchange: rejected, garbled, never answered
# ---------------------------------------------------------------------------

def _redo_version(hs, m, reply, why_rx):
    """Answer the next VersionRequest with `reply` and see md9 fail for
    why_rx; rescind + offer makes the retry immediate (no backoff wait)."""
    mark = m.mark()
    hs.command("rescind-control")
    hs.command("version-reply " + reply)
    hs.command("offer-control")
    m.wait_for_log(r"control channel: %s; reopening in \d+ ms" % why_rx, T(15), since=mark)


def version_reject(h):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED))
    hs = h.hostsim("--version-reply", "reject")
    m = h.md9(hs, srv, wait_ready=False)
    why = r"the host did not accept protocol 1\.0 \(is_accepted=0\)"
    # Bounded exponential backoff: 100, 200, 400 ms ...
    for ms in (100, 200, 400):
        m.wait_for_log(r"control channel: %s; reopening in %d ms" % (why, ms), T(10))
    mark = m.mark()
    hs.command("version-reply accept")
    m.wait_ready(since=mark)
    new_session_works(h, hs, srv, m, 1, 100)


def version_garbled(h):
    srv, hs, m = stack(h, hostsim_args=("--version-reply", "accept"))
    cases = [
        ("malformed", r"control message shorter than its type's length"),
        ("error", r"control error message"),
        ("unknown", r"unknown control message type"),
        ("short", r"control message shorter than its header"),
        ("twice", r"unexpected VersionResponse"),
        ("create-first", r"CreateSession before the version exchange"),
        ("reject", r"the host did not accept protocol 1\.0 \(is_accepted=0\)"),
    ]
    for reply, why in cases:
        _redo_version(hs, m, reply, why)
    mark = m.mark()
    hs.command("rescind-control")
    hs.command("version-reply accept")
    hs.command("offer-control")
    m.wait_ready(since=mark)
    new_session_works(h, hs, srv, m, 1, 100)


def version_silent(h):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED))
    hs = h.hostsim("--version-reply", "silent")
    m = h.md9(hs, srv, wait_ready=False)
    m.wait_for_log(r"control channel: no VersionResponse from the host; reopening in 100 ms",
                   T(15))
    mark = m.mark()
    hs.command("version-reply accept")
    m.wait_ready(since=mark, count=1)
    new_session_works(h, hs, srv, m, 1, 100)


# ---------------------------------------------------------------------------
# unexpected control messages while sessions run
# ---------------------------------------------------------------------------

def ctrl_messages(h):
    srv, hs, m = stack(h)
    b, _ = running(h, hs, m, 1, 200, FIN, FIN, moved=PROGRESS)
    for what, why in (("error", r"control error message"),
                      ("unknown", r"unknown control message type"),
                      ("short", r"control message shorter than its header"),
                      ("version-response", r"unexpected VersionResponse")):
        mark = m.mark()
        hs.command("ctrl-send " + what)
        m.wait_for_log(r"control channel: %s; reopening in \d+ ms" % why, since=mark)
        m.wait_ready(since=mark)
    # One message per pipe packet, bytes past its length ignored (control.h):
    # an 8 KiB packet holding a CreateSession is that CreateSession, nothing more.
    mark = m.mark()
    hs.command("ctrl-send huge")
    m.wait_for_log(r"host asks for a session on data channel 99221ffe-", since=mark)
    hs.command("ctrl-send version-response")
    fails = m.wait_for_log(r"control channel: (.*); reopening in \d+ ms", since=mark)
    check(fails[0].group(1) == "unexpected VersionResponse",
          "the tail of an over-long control packet was taken as another message: %s"
          % fails[0].group(0))
    m.wait_ready(since=mark)
    finish_ok(h, b, srv, m, 1, "the session running across the control failures")
    new_session_works(h, hs, srv, m, 2, 300)


def create_unoffered(h):
    srv, hs, m = stack(h)
    b, _ = running(h, hs, m, 1, 200, FIN, FIN, moved=PROGRESS)
    guid = "99221fa9-24ad-11e2-be98-001aa01bbf6e"
    hs.command("create-session-unoffered " + guid)
    m.wait_for_log(r"host asks for a session on data channel %s" % guid)
    finish_ok(h, b, srv, m, 1, "the session running meanwhile")
    # md9 waits for the offer (EXPECT_GIVE_UP_MS, 10 s), then gives up.
    m.wait_for_log(r"CreateSession named data channel %s, which the host never offered"
                   % guid, T(15))
    new_session_works(h, hs, srv, m, 2, 300)


# ---------------------------------------------------------------------------
# malformed ring contents
# ---------------------------------------------------------------------------

MALFORMED = r"malformed data from the host: "
CORRUPT = {
    "offset8": MALFORMED + r"descriptor offset8 below 2",
    "len8": MALFORMED + r"descriptor len8 beyond the readable bytes",
    "type": MALFORMED + r"unknown descriptor type",
    "type-comp": MALFORMED + r"pipe packet is not in-band data",
    "pipe-len": MALFORMED + r"pipe data_size beyond the packet",
    "pipe-type": MALFORMED + r"pipe header type is not data",
    "truncated": MALFORMED + r"fewer readable bytes than a packet descriptor and trailer",
    "write-index": r"(malformed data from the host|the host corrupted a ring index): "
                   r"write_index out of range or unaligned",
    "write-index-unaligned": r"(malformed data from the host|the host corrupted a ring "
                             r"index): write_index out of range or unaligned",
    "read-index": r"the host corrupted a ring index: read_index out of range or unaligned",
}


def _corrupt_case(kind):
    def case(h):
        fault_with_bystander(h, lambda hs, chan: hs.command("corrupt %s %s" % (kind, chan)),
                             CORRUPT[kind], "corrupt " + kind)
    return case


def corrupt_full_ring(h):
    """A corruption asked for while the guest's RX ring is full (the server
    reads slowly, so md9 does too) is armed and lands as soon as the guest
    frees room; the session ends for it all the same."""
    srv, hs, m = stack(h, server_args=("--slow-read", str(4 * MiB // BYTES_SCALE)))
    a = client(h, hs, 100, "inf", 0)
    chan = m.opened(1)
    deadline = time.monotonic() + T(20)
    while True:
        st = hs.status()[chan]
        if st["rx_used"] > st["rx_size"] - 4096:
            break
        check(time.monotonic() < deadline, "the RX ring never filled: %s" % st)
        time.sleep(0.05)
    mark = hs.log.mark()
    hs.command("corrupt offset8 " + chan)
    ended_cleanly(srv, a, m, 1, CORRUPT["offset8"], "corrupt offset8 on a full ring")
    armed = hs.log.find(r"corrupt offset8 armed", since=mark)
    h.note("the RX ring was full (%d of %d bytes): the corruption was %s"
           % (st["rx_used"], st["rx_size"], "armed, then injected" if armed
              else "injected at once (the guest had just read)"))
    new_session_works(h, hs, srv, m, 2, 200)


CONTROL_CORRUPT = {
    "offset8": r"descriptor offset8 below 2",
    "pipe-len": r"pipe data_size beyond the packet",
    "write-index": r"write_index out of range or unaligned",
}


def corrupt_control(h):
    """Malformed packets on the control channel: md9 drops and reopens it,
    the session running meanwhile does not notice."""
    srv, hs, m = stack(h)
    b, _ = running(h, hs, m, 1, 200, FIN, FIN, moved=PROGRESS)
    for kind, why in CONTROL_CORRUPT.items():
        mark = m.mark()
        hs.command("corrupt %s control" % kind)
        m.wait_for_log(r"control channel: %s; reopening in \d+ ms" % why, since=mark)
        m.wait_ready(since=mark)
    finish_ok(h, b, srv, m, 1, "the session running across the control corruption")
    new_session_works(h, hs, srv, m, 2, 300)


# ---------------------------------------------------------------------------
# stalled host: the guest's TX ring fills; md9 must block without spinning
# ---------------------------------------------------------------------------

def stall(h):
    srv, hs, m = stack(h)
    total = 256 * MiB // BYTES_SCALE
    a, chan = running(h, hs, m, 1, 100, 1 * MiB, total, moved=16 * MiB // BYTES_SCALE)
    hs.command("stall on " + chan)
    # The guest fills its TX ring and announces how much room it needs.
    deadline = time.monotonic() + T(10)
    while True:
        st = hs.status()[chan]
        if st["tx_pending"] > 0 and st["tx_used"] > st["tx_size"] // 2:
            break
        check(time.monotonic() < deadline, "md9 never blocked on its full TX ring: %s" % st)
        time.sleep(0.05)
    check(st["tx_feat"] & 1, "md9 did not announce pending_send_sz (feature bit 0)")
    cpu0, hcpu0 = m.cpu(), hs.cpu()
    time.sleep(3.0)
    cpu, hcpu = m.cpu() - cpu0, hs.cpu() - hcpu0
    st2 = hs.status()[chan]
    limit = 0.2 * (2 if WRAPPER else 1)
    h.note("stalled 3 s: md9 used %.3f s CPU, md9-hostsim %.3f s; TX ring %d of %d bytes "
           "used, pending_send_sz %d" % (cpu, hcpu, st2["tx_used"], st2["tx_size"],
                                         st2["tx_pending"]))
    check(cpu < limit, "md9 used %.3f s of CPU in 3 s against a stalled host (busy loop?)"
          % cpu)
    check(hcpu < limit, "md9-hostsim used %.3f s of CPU in 3 s while stalling" % hcpu)
    check(st2["tx_used"] >= st["tx_used"] and st2["tx_pending"] > 0,
          "the TX ring drained while stalled: %s -> %s" % (st, st2))
    # Another session is not affected by this channel's stall.
    b, _ = running(h, hs, m, 2, 200, FIN, FIN, moved=PROGRESS)
    finish_ok(h, b, srv, m, 2, "the other session during the stall")
    # Reading resumes: md9 gets its signal and the transfer completes.
    hs.command("stall off " + chan)
    finish_ok(h, a, srv, m, 1, "the stalled session after the stall")


# ---------------------------------------------------------------------------
# host_eof: the host's end of stream (a zero-length pipe packet, K9 in
# docs/uio.md) half-closes the server side only
# ---------------------------------------------------------------------------

def host_eof(h):
    """The client half-closes; hostsim passes that on as the pipe's end of
    stream after the client's last byte. md9 must give the server every byte
    before it, then half-close the server connection and keep relaying what
    the server still owes; when the server closes, md9 ends the host's
    stream the same way (one zero-length packet, read by the host before md9
    closes the channel). The client reads nothing until it has half-closed,
    so the server, asked for more than every buffer on the way holds (TCP
    and ring buffers, well under 32 MiB), provably still owes bytes then."""
    up, down = 1 * MiB // BYTES_SCALE, 64 * MiB // min(BYTES_SCALE, 2)
    srv, hs, m = stack(h, server_args=("--half-close-ok",))
    hs.command("eof on")
    mark = m.mark()
    a = client(h, hs, 100, up, down, "--half-close")
    m.opened(1)
    m.wait_for_log(r"session 1: the host ended its stream; the server connection is "
                   r"half-closed, the server's remaining bytes still go to the host",
                   since=mark)
    hs.log.wait_for(r"hostsim: end of stream to the guest after %d bytes" % (up + 24 + NEGO_H2S),
                    T(10))
    hc = srv.out.wait_for(r"^conn \d+: half-closed by the peer: seed=0x%016x received=(\d+) "
                          r"sent=(\d+) owed=(\d+)$" % 100, T(20))[0]
    check(int(hc.group(1)) == up + 24, "the server got %s bytes before the FIN, not %d"
          % (hc.group(1), up + 24))
    check(int(hc.group(3)) > 0, "the server owed nothing when md9 half-closed: %s"
          % hc.group(0))
    h.note("host end of stream: the server still owed %.1f MiB of %d MiB at md9's half-close"
           % (int(hc.group(3)) / MiB, down // MiB))
    check(not m.find(r"session 1: closed", since=mark), "md9 closed the session at the "
          "host's end of stream: %s" % m.find(r"session 1: closed.*", since=mark))
    cs, ss, closed = finish_ok(h, a, srv, m, 1, "host end of stream")
    check(closed.group("reason") == "the server closed the connection",
          "session 1: %s" % closed.group(0))
    check(cs["received"] == down and ss["received"] == up + 24,
          "bytes: client %s, server %s" % (cs["line"], ss["line"]))
    # md9's own end of stream reached the host once, after the last byte.
    check(len(hs.log.find(r"hostsim: end of stream from the guest after %d bytes"
                          % (down + NEGO_S2H))) == 1,
          "hostsim did not see md9's end of stream once after %d bytes:\n%s"
          % (down + NEGO_S2H, "\n".join(l for l in hs.log.snapshot() if "end of stream" in l)))
    new_session_works(h, hs, srv, m, 2, 200)


# ---------------------------------------------------------------------------
# burst: the host keeps the guest's RX ring full of tiny packets
# ---------------------------------------------------------------------------

def burst(h):
    srv, hs, m = stack(h)
    hs.command("burst on")
    n = 32 * MiB // BYTES_SCALE
    a = client(h, hs, 100, n, n)
    m.opened(1)
    b = client(h, hs, 200, n, n)
    m.opened(2)
    a.progress(0, 2 * MiB, T(30))
    st = hs.status()
    check(all(v.get("burst") == 1 for k, v in st.items() if k != "control"),
          "burst is not on for every data channel: %s" % st)
    ca, _, _ = finish_ok(h, a, srv, m, 1, "burst session 1")
    cb, _, _ = finish_ok(h, b, srv, m, 2, "burst session 2")
    h.note("burst (1..64-byte packets): 2 sessions x %d MiB each way, "
           "%.1f / %.1f MB/s host->guest" % (n // MiB, float(ca["send_MBps"]),
                                            float(cb["send_MBps"])))
    hs.command("burst off")
    new_session_works(h, hs, srv, m, 3, 300)


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


def reoffer_same_instance(h):
    """The host rescinds a data channel and at once offers the same instance
    again for the next client (one instance only, as a host reusing
    99221FA1 would), and md9 sees the rescind, the new offer and the new
    CreateSession in one go, before the old session's own channel fd wakes
    it: md9 must end the old session and serve the new one. Deterministic:
    the old session is quiet (its client has sent everything, its TX ring is
    stalled full) and md9 is stopped (SIGSTOP) while the host does all three,
    so that one epoll_wait returns the bus and the control channel together."""
    srv, hs, m = stack(h, hostsim_args=("--instances", "1"))
    a, chan = running(h, hs, m, 1, 100, MiB, "inf", moved=2 * MiB)
    a.progress(0, 2 * MiB, T(20), received=MiB // 2)
    hs.command("stall on " + chan)
    deadline = time.monotonic() + T(10)
    while True:
        st = hs.status()[chan]
        if st["tx_pending"] > 0:
            break
        check(time.monotonic() < deadline, "md9 never blocked on its full TX ring: %s" % st)
        time.sleep(0.05)
    os.kill(m.pid, signal.SIGSTOP)
    try:
        hs.command("rescind-data " + chan)
        b = client(h, hs, 200, FIN, FIN)
        hs.log.wait_for(r"CreateSession %s" % chan, T(10), count=2)
    finally:
        os.kill(m.pid, signal.SIGCONT)
    hs.command("stall off")
    ended_cleanly(srv, a, m, 1, r"the host closed the channel", "the rescinded session",
                  exact=False)
    check(m.opened(2) == chan, "the new session is not on %s" % chan)
    finish_ok(h, b, srv, m, 2, "the session on the re-offered instance")


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
    "rescind_data": rescind_data,
    "rescind_unread": rescind_unread,
    "rescind_control": rescind_control,
    "version_reject": version_reject,
    "version_garbled": version_garbled,
    "version_silent": version_silent,
    "ctrl_messages": ctrl_messages,
    "create_unoffered": create_unoffered,
}
for _kind in CORRUPT:
    CASES["corrupt_" + _kind.replace("-", "_")] = _corrupt_case(_kind)
CASES.update({
    "corrupt_full_ring": corrupt_full_ring,
    "corrupt_control": corrupt_control,
    "stall": stall,
    "burst": burst,
    "host_eof": host_eof,
    "many_sessions": many_sessions,
    "max_sessions": max_sessions,
    "reoffer_same_instance": reoffer_same_instance,
    "server_refuses": server_refuses,
    "server_closes": server_closes,
    "slow_server": slow_server,
    "sigterm": sigterm,
})

if __name__ == "__main__":
    sys.exit(main(CASES, FaultHarness))
