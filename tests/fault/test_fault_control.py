#!/usr/bin/python3
"""md9 under the faults md9-hostsim injects on the control channel
(hostsim/fault.h): rescinded and offered again, the version exchange
rejected, garbled or unanswered, unexpected and malformed control messages.
What each fault must leave behind is said in faultlib.py.

    python3 tests/fault/test_fault_control.py --list
    python3 tests/fault/test_fault_control.py version_garbled
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faultlib import (FIN, PROGRESS, SERVER_SEED, FaultHarness, client, finish_ok,  # noqa: E402
                      new_session_works, running, stack)
from md9test import MiB, T, check, main  # noqa: E402


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

CASES = {
    "rescind_control": rescind_control,
    "version_reject": version_reject,
    "version_garbled": version_garbled,
    "version_silent": version_silent,
    "ctrl_messages": ctrl_messages,
    "create_unoffered": create_unoffered,
    "corrupt_control": corrupt_control,
}

if __name__ == "__main__":
    sys.exit(main(CASES, FaultHarness))
