#!/usr/bin/python3
"""md9 as a daemon: concurrency, a dead backend, control-channel resets,
a host that rejects the version exchange, garbage from the host.

    python3 tests/integration/test_daemon_robustness.py CASE
    python3 tests/integration/test_daemon_robustness.py --list

Every case ends with the harness's common checks: md9 still alive, no
error-level line in its log, exit status 0 on SIGTERM.
"""

import random
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from md9test import TestFailure, check, free_port  # noqa: E402

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CTRL_READY = r"control channel ready: host accepted SynthRdp protocol 1\.0"

# MCS Erect-Domain-Request + Attach-User-Request (T.125, PER); the server's
# Attach-User-Confirm starts with 0x2e after TPKT + X.224 Data.
ERECT_DOMAIN = bytes.fromhex("0300000c02f0800401000100")
ATTACH_USER = bytes.fromhex("0300000802f08028")


def attach_user(sock, what):
    """One more MCS round trip on an established session: proves the session
    still relays in both directions."""
    sock.sendall(ERECT_DOMAIN + ATTACH_USER)
    try:
        data = harness.rdp_probe.recv_tpkt(
            sock, time.monotonic() + harness.PROBE_TIMEOUT)
    except harness.rdp_probe.ProbeError as e:
        raise TestFailure("%s: no Attach-User-Confirm: %s" % (what, e))
    check(data[4:7] == b"\x02\xf0\x80" and data[7] == 0x2E,
          "%s: expected an MCS Attach-User-Confirm, got %s" % (what, data.hex()))


def expect_eof(sock, what, timeout=harness.PROBE_TIMEOUT):
    """The connection ends (FIN or RST) within the deadline, and nothing
    arrives before that."""
    deadline = time.monotonic() + timeout
    got = b""
    while True:
        left = deadline - time.monotonic()
        check(left > 0, "%s: the connection is still open after %.0fs"
              % (what, timeout))
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        got += chunk
    check(not got, "%s: received %d bytes before the close: %s"
          % (what, len(got), got[:32].hex()))


# --------------------------------------------------------------------------
# 2. five concurrent sessions
# --------------------------------------------------------------------------

def concurrent_sessions(h):
    """Five host connections at once (hostsim knows five data instances),
    md9 auto, xrdp negotiate: all five get their Connect-Response over five
    distinct data channels, and all five sessions are open at the same time."""
    n = 5
    x, hs, m = h.stack("negotiate", "auto")
    # Connect all five first: each connection holds its data instance until
    # it is closed, so the five sessions overlap by construction.
    socks = [h.connect(hs.raw_port) for _ in range(n)]
    results = [None] * n
    start = threading.Barrier(n)

    def run(i):
        start.wait(harness.PROBE_TIMEOUT)
        results[i] = h.probe(hs.raw_port, sock=socks[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(harness.PROBE_TIMEOUT * 2)
    check(not any(t.is_alive() for t in threads), "a probe thread hung")
    for i, r in enumerate(results):
        h.assert_connect_response(r, "probe %d of %d" % (i + 1, n))

    opened = m.wait_for_log(r"session (\d+): opened on data channel (%s) "
                            % GUID, count=n)
    channels = {mt.group(2) for mt in opened}
    check(len(channels) == n, "md9 opened %d distinct data channels for %d "
          "sessions: %s" % (len(channels), n, sorted(channels)))
    asked = {mt.group(1) for mt in m.find(
        r"host asks for a session on data channel (%s)" % GUID)}
    check(asked == channels, "CreateSession instances %s != opened channels %s"
          % (sorted(asked), sorted(channels)))
    m.wait_for_log(r"session \d+: TLS with the server established", count=n)
    m.wait_for_log(r"session \d+: relaying$", count=n)
    # All five were relaying before the first one closed.
    check(not m.closed_sessions(), "a session closed while all five probes "
          "were still connected: %s" % [mt.group(0) for mt in
                                        m.closed_sessions().values()])
    for s in socks:
        s.close()
    closed = m.wait_for_log(harness.CLOSED_RE, count=n)
    for mt in closed:
        check(mt.group("reason") == "the host closed the channel" and
              int(mt.group("h2s")) == 481 and int(mt.group("s2h")) > 19,
              "unexpected close: %s" % mt.group(0))
    check({mt.group("channel") for mt in closed} == channels,
          "closed channels differ from opened ones")
    h.notes.append("5 sessions on %s" % ", ".join(sorted(channels)))


# --------------------------------------------------------------------------
# 3. the backend is down, then comes up
# --------------------------------------------------------------------------

def backend_down(h):
    """md9 pointed at a port where nothing listens: the session closes with
    'cannot connect to the server', md9 stays up; xrdp is then started on
    that port and a second probe succeeds through the same md9 process."""
    port = free_port()
    hs = h.hostsim()
    m = h.md9(hs, port, "auto")
    check(not harness.xrdp_fixture.is_listening("127.0.0.1", port),
          "port %d is in use already" % port)

    r = h.probe(hs.raw_port)
    h.assert_no_connect_response(r, "probe with the backend down")
    check(r.cc is None, "the host got a Connection Confirm from nowhere: %r"
          % r.cc)
    closed = m.wait_closed(1)
    check(re.fullmatch(r"cannot connect to the server tcp:127\.0\.0\.1:%d: "
                       r"Connection refused" % port, closed.group("reason")),
          "session 1 closed with %r" % closed.group("reason"))
    check(closed.group("s2h") == "0", "md9 sent server bytes to the host")
    m.assert_alive("after the failed connection")
    pid = m.pid

    x = h.xrdp("negotiate", port=port)
    check(x.port == port, "xrdp is on %d, not %d" % (x.port, port))
    mark = m.log.mark()
    r = h.probe(hs.raw_port)
    h.assert_connect_response(r, "probe once xrdp is up")
    m.assert_alive("after the second probe")
    check(m.pid == pid and len(h.md9s) == 1, "md9 was restarted")
    m.wait_for_log(r"session 2: host requested .* server selected SSL$",
                   since=mark)
    closed = m.wait_closed(2, since=mark)
    check(closed.group("reason") == "the host closed the channel",
          "session 2 closed with %r" % closed.group("reason"))


# --------------------------------------------------------------------------
# 4. the control channel: reset, rejected and malformed version exchange
# --------------------------------------------------------------------------

def control_reset(h):
    """hostsim rescinds the control channel, then offers it again: md9 logs
    the loss, reopens it, redoes the version exchange, and serves sessions."""
    x = h.xrdp("negotiate")
    hs = h.hostsim(commands=True)
    m = h.md9(hs, x.port, "auto")      # waits for the first "ready"
    r = h.probe(hs.raw_port)
    h.assert_connect_response(r, "probe before the reset")
    m.wait_closed(1)

    for cycle in (1, 2):
        mark = m.log.mark()
        hs.command("rescind-control")
        m.wait_for_log(r"control channel: the host rescinded the control "
                       r"channel; waiting for the host to offer it again",
                       since=mark)
        m.assert_alive("after the rescind")
        hs.command("offer-control")
        m.wait_for_log(r"control channel %s offered" % GUID, since=mark)
        m.wait_for_log(r"control channel opened; sending VersionRequest 1\.0",
                       since=mark)
        # The second (third) "ready" of this md9, read as a stream.
        m.wait_for_log(CTRL_READY, count=1 + cycle)
        mark = m.log.mark()
        r = h.probe(hs.raw_port)
        h.assert_connect_response(r, "probe after reset %d" % cycle)
        m.wait_for_log(r"session \d+: relaying$", since=mark)
    check(len(m.find(CTRL_READY)) == 3, "md9 reported 'control channel ready' "
          "%d times for 3 offers" % len(m.find(CTRL_READY)))


def _version_retries(h, reply, why_re):
    hs = h.hostsim("--version-reply", reply)
    m = h.md9(hs, free_port(), "auto",
              wait_ready=False)
    attempts = 3
    fails = m.wait_for_log(r"control channel: (%s); reopening in (\d+) ms$"
                           % why_re, count=attempts)
    m.wait_for_log(r"control channel opened; sending VersionRequest 1\.0",
                   count=attempts)
    hs.log.wait_for(r"hostsim: VersionRequest 1\.0", count=attempts)
    delays = [int(f.group(2)) for f in fails]
    check(delays[0] >= 100 and all(b > a for a, b in zip(delays, delays[1:])),
          "md9's reopen delays do not back off: %s ms" % delays)
    # Two more attempts: md9 keeps trying, never exits.
    m.wait_for_log(r"control channel opened; sending VersionRequest 1\.0",
                   count=attempts + 1)
    m.assert_alive("after %d refused version exchanges" % attempts)
    check(not m.find(CTRL_READY), "md9 says the control channel is ready")
    h.notes.append("%s: why %r, backoff %s ms" % (reply, fails[0].group(1),
                                                 delays))


def version_reject(h):
    """hostsim answers is_accepted=0: md9 logs it, retries with growing
    delays, and stays up."""
    _version_retries(h, "reject", r"the host did not accept protocol 1\.0 "
                                  r"\(is_accepted=0\)")


def version_malformed(h):
    """hostsim answers with a 9-byte VersionResponse: md9 logs why and
    retries with backoff, and stays up."""
    _version_retries(h, "malformed", r"control message shorter than its "
                                     r"type's length")


# --------------------------------------------------------------------------
# 5. garbage from the host
# --------------------------------------------------------------------------

def _garbage():
    rnd = random.Random(0x6D39)
    noise = bytearray(rnd.randrange(256) for _ in range(64))
    noise[0] = 0x17          # anything but TPKT's 3: rejected at once
    cr = harness.rdp_probe.build_x224_cr()
    return [
        ("64 random bytes", bytes(noise), r"TPKT version is not 3"),
        # TPKT length 5 < 7 (header + smallest X.224 TPDU)
        ("TPKT with length 5", bytes.fromhex("03000005") + cr[4:],
         r"TPKT length below 7"),
        # TPKT length 65535: more than any CR can be; md9 must not wait for it
        ("TPKT with length 65535", bytes.fromhex("0300ffff") + cr[4:],
         r"TPKT length too large for an X\.224 CR/CC TPDU"),
        # a well-formed X.224 TPDU, but a Connection Confirm (what xrdp sends)
        ("X.224 CC instead of a CR",
         bytes.fromhex("030000130ed000001234000201080001000000"),
         r"X\.224 TPDU code is not Connection Request \(0xE0\)"),
        # the CR's length indicator disagrees with the TPKT length
        ("X.224 LI beyond the TPKT", cr[:4] + bytes([0x40]) + cr[5:],
         r"X\.224 length indicator disagrees with TPKT length"),
    ]


def garbage_from_host(h):
    """Bytes that are not an X.224 Connection Request end only their own
    session; an established session keeps relaying, a new probe works."""
    x, hs, m = h.stack("negotiate", "auto")
    good = h.connect(hs.raw_port)
    r = h.probe(hs.raw_port, sock=good)
    h.assert_connect_response(r, "the established session")

    reasons = []
    for what, data, why in _garbage():
        mark = m.log.mark()
        s = h.connect(hs.raw_port)
        s.sendall(data)
        expect_eof(s, what)
        s.close()
        mt = m.wait_for_log(
            r"session (\d+): closed \(malformed X\.224 Connection Request "
            r"from the host: (.*)\): channel", since=mark)[0]
        check(re.search(why, mt.group(2)), "%s: md9's reason %r, expected /%s/"
              % (what, mt.group(2), why))
        check(int(mt.group(1)) != 1, "the established session was closed")
        reasons.append("%s -> %s" % (what, mt.group(2)))
        m.assert_alive("after %s" % what)

    check(1 not in m.closed_sessions(), "the established session closed: %s"
          % m.closed_sessions().get(1, [""])[0])
    attach_user(good, "the established session after the garbage")
    r = h.probe(hs.raw_port)
    h.assert_connect_response(r, "a new probe after the garbage")
    good.close()
    closed = m.wait_closed(1)
    check(closed.group("reason") == "the host closed the channel",
          "session 1 closed with %r" % closed.group("reason"))
    h.notes.extend(reasons)


CASES = {
    "concurrent_sessions": concurrent_sessions,
    "backend_down": backend_down,
    "control_reset": control_reset,
    "version_reject": version_reject,
    "version_malformed": version_malformed,
    "garbage_from_host": garbage_from_host,
}

if __name__ == "__main__":
    sys.exit(harness.main(CASES))
