#!/usr/bin/python3
"""md9 run --transport uio, the production uio code, against the emulated
uio_hv_generic under each kernel profile (docs/uio.md, "The emulated
kernel"). Under each profile md9 either serves the session byte-exact or
says exactly why not (its log line, md9 doctor's line).

    python3 tests/uio/test_uio.py --list
    python3 tests/uio/test_uio.py k4_rescind_idle

Cases (K1-K9: the kernel facts in docs/uio.md):
  emulator_selftest    the emulator against the kernel's semantics, no md9
  k2_refused           6.9, no monitor page: no uio device; md9 and md9
                       doctor say why and what to install
  k2_monitored         6.9 with monitor pages: served; md9 signals through
                       the interrupt and monitor pages (K6)
  k3_unfixed           6.10: a rescinded device stays and cannot be
                       reopened; md9 says so and serves the other instance
  k4_rescind_idle      6.11: the ring pages are freed at a rescind of an
                       idle session; md9 never touches them; the same
                       instance offered again is a new device, served
  k4_rescind_unread    6.11: the host leaves a packet in the RX ring without
                       an interrupt, then rescinds: md9 must not read it
  k4_rescind_blocked   6.11: md9 waits for room in a full TX ring with the
                       server's bytes in hand when the host rescinds
  k5_kernel_mask       6.11: the kernel sets the RX mask on open and on
                       every interrupt (before CVE-2025-40048): 1 session
  k5_user_mask         6.18: the kernel never touches the mask: 1 session
  k6_monitored_5       6.18 with monitor pages: 5 sessions at once
  sessions_5           6.18 without: 5 sessions at once
  k7_udev_late         6.18: nodes stay root 0600 until udev runs; md9 (as
                       nobody) waits for them and then serves
  k7_udev_after_warning  6.18: udev runs only after md9 warned (5 s) about
                       each channel; md9 then retries on the device event
                       alone and serves
  reoffer_same         6.18: three sessions one after the other on the same
                       instance, each a new device
  e2e_xrdp             6.18: the host's seed bytes through md9 to a real
                       xrdp: MCS Connect-Response
  e2e_desktop          6.18: xfreerdp -> md9-hostsim's RDP front end (TLS as
                       the host) -> md9 over uio -> xrdp/sesman/Xorg: login,
                       pixels and clipboard both ways
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import uiolib  # noqa: E402
from uiolib import (BYTES_SCALE, CONTROL, IS_ROOT, MiB, NEGO_H2S, NEGO_S2H, T,  # noqa: E402
                    TestFailure, check, check_complete, check_md9_counts, data_instance,
                    main, needs)
from md9test import check_scenario  # noqa: E402 (uiolib puts tests/lib on the path)

SERVER_SEED = 7
PROGRESS = 1 * MiB
# md9's line prefix, and lines that must never appear.
MD9_CRASH = re.compile(r"AddressSanitizer|runtime error|Process terminating with default "
                       r"action of signal")


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------

def stack(h, kernel, monitored=False, udev="auto", hs_args=(), md9_args=(), srv_args=(),
          wait_ready=True):
    srv = h.server("--mode", "sink-source", "--seed", str(SERVER_SEED), *srv_args)
    hs = h.hostsim(kernel, *hs_args, monitored=monitored, udev=udev)
    m = h.md9(hs, srv, *md9_args, wait_ready=wait_ready)
    return srv, hs, m


def client(h, hs, seed, send, recv, *more):
    return h.client(hs, "--seed", seed, "--server-seed", SERVER_SEED, "--bytes", send,
                    "--recv-bytes", recv, "--progress", PROGRESS, "--timeout", T(60), *more)


def opened_line(m, guid, monitored):
    """md9 opened the channel through the uio device, as monitored or not."""
    m.wait_for_log(r"opened vmbus channel %s \(uio\d+, relid \d+, %s" %
                   (guid, "monitored" if monitored else "not monitored"))


def ring_line(m, guid, kib):
    """K8: md9 sized the rings from maps/map0/size: kib KiB of data per
    direction, as it says when it opens the channel."""
    m.wait_for_log(r"opened vmbus channel %s \(uio\d+, relid \d+, not monitored, ring %d KiB "
                   r"per direction\)" % (guid, kib))


def transfer(h, hs, srv, m, sid0, seed, nbytes, sessions=1):
    """`sessions` sessions at once (md9's sessions sid0..), nbytes each way
    each, every byte verified at both ends and in md9's counters."""
    mark = hs.log.mark()
    c = client(h, hs, seed, nbytes, nbytes, "--sessions", sessions)
    res = c.wait(T(300))
    check(len(res) == sessions, "%d of %d sessions ended" % (len(res), sessions))
    pair = None
    for cs in res.values():
        ss = srv.wait_conn(cs["seed"], T(30))
        check_complete(cs, ss, "client session %s" % cs["idx"])
        pair = (cs, ss)
    # K9: at each orderly end md9 sent the pipe's end of stream (a data
    # packet of size 0) and the host saw it after every byte.
    hs.log.wait_for(r"hostsim: end of stream from the guest after %d bytes" % (nbytes + NEGO_S2H),
                    T(10), since=mark, count=sessions)
    # Every session moved the same byte counts: each md9 session's counters
    # must match them.
    for sid in range(sid0, sid0 + sessions):
        check_md9_counts(m.wait_closed(sid, T(30)), pair[0], pair[1], "md9 session %d" % sid)
    h.note("%d session(s) x %d MiB each way: %s MB/s host->server per session" % (
        sessions, nbytes // MiB, "/".join(r.get("send_MBps") or "?" for r in res.values())))
    return res


def idle_session(hs):
    """The host's side of a session that negotiated and then went quiet:
    the seed's X.224 Connection Request, the Connection Confirm back, the
    seed's MCS Connect-Initial; then nothing. Returns the socket."""
    import rdp_probe
    s = socket.create_connection((uiolib.LOOPBACK, hs.raw_port), timeout=T(10))
    s.sendall(rdp_probe.SEED_X224_CR)
    cc = b""
    while len(cc) < 19:
        chunk = s.recv(19 - len(cc))
        check(chunk, "the Connection Confirm did not come back")
        cc += chunk
    check(cc[5] == 0xd0, "not a Connection Confirm: %s" % cc.hex())
    s.sendall(rdp_probe.build_mcs_connect_initial())
    return s


# epoll_wait, epoll_pwait, epoll_pwait2 (arch/*/entry/syscalls tables).
EPOLL_SYSCALLS = {"x86_64": {232, 281, 441}, "aarch64": {22, 441}}


def wait_asleep(m):
    """Until md9 sleeps in its event loop's epoll_wait (/proc/PID/syscall):
    its last round is over, so it sees nothing new before the next wake-up.
    Without this a slow md9 (valgrind) may legitimately still be looking at
    its rings when the host acts."""
    nrs = EPOLL_SYSCALLS.get(os.uname().machine)
    check(nrs, "no epoll syscall numbers for %s" % os.uname().machine)
    deadline = time.monotonic() + T(10)
    while True:
        with open("/proc/%d/syscall" % m.proc.pid) as f:
            first = f.read().split()[:1]
        if first and first[0].isdigit() and int(first[0]) in nrs:
            return
        check(time.monotonic() < deadline, "md9 never went to sleep in epoll_wait (%s)"
              % first)
        time.sleep(0.01)


def no_crash(m, chan=None, since=0):
    """md9 is alive and reported no sanitizer error. chan: md9 also got as
    far as closing that channel (a fault between its "closed" line and the
    close would otherwise go unseen until later)."""
    if chan:
        try:
            m.wait_for_log(r"closing vmbus channel %s" % chan, T(10), since=since)
        except TestFailure:
            pass  # the checks below say why
    bad = [x for x in m.log.snapshot() if MD9_CRASH.search(x)]
    check(not bad, "md9 crashed:\n  " + "\n  ".join(bad[:20]))
    check(m.alive(), "md9 died (status %s): a use of freed ring memory faults (SIGBUS)"
          % m.proc.poll())


def freed_while_mapped(m, since=0):
    """The emulated kernel freed the ring pages while md9 still mapped them
    and md9 was woken (K4): from then on the poison was in place, so md9's
    survival means it never touched them again."""
    m.wait_for_log(r"uioemu: uio\d+: the kernel freed the ring pages md9 still maps \(K4\)",
                   T(10), since=since)


# ---------------------------------------------------------------------------
# the emulator itself
# ---------------------------------------------------------------------------

def emulator_selftest(h):
    """uio-selftest (tests/uio/uio_selftest.c) under each profile: the
    emulator fails where the kernel fails, or no md9 test below means
    anything."""
    prog = uiolib._bin("MD9_UIO_SELFTEST", ["tests/uio/uio-selftest"])
    for kernel, monitored in (("6.9", False), ("6.9", True), ("6.10", False),
                              ("6.11", False), ("6.18", False), ("6.18", True)):
        what = "kernel %s%s" % (kernel, ", monitored" if monitored else "")
        hs = h.hostsim(kernel, "--instances", "1", monitored=monitored, udev="manual")
        argv = [prog, "--roots", hs.root, "--kernel", kernel] + (["--monitored"] if monitored
                                                                 else [])
        p = uiolib.subprocess.Popen(
            argv, stdin=uiolib.subprocess.PIPE, stdout=uiolib.subprocess.PIPE,
            stderr=uiolib.subprocess.STDOUT, env=uiolib.preload_env(hs.root))
        out = uiolib.LogStream("uio-selftest " + what, p.stdout)
        n = 0
        try:
            while True:
                line = out.wait_for(r"^(wait \S+|expect-open \d+|PASS|FAIL.*)$", T(30),
                                    since=n)[0].group(0)
                # It prints nothing more until it gets our answer.
                n = out.mark()
                if line == "PASS" or line.startswith("FAIL"):
                    break
                if line.startswith("wait "):
                    hs.command(line[5:])
                else:
                    hs.wait_open_count(CONTROL, int(line.split()[1]))
                p.stdin.write(b"go\n")
                p.stdin.flush()
            rc = p.wait(T(30))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            out.join()
        check(line == "PASS" and rc == 0, "%s: %s (exit %s); steps:\n  %s"
              % (what, line, rc, "\n  ".join(out.snapshot())))
        rc = hs.stop()
        check(rc == 0, "%s: md9-hostsim exited %s" % (what, rc))
        h.note("%s: %d steps passed" % (what, sum(1 for x in out.snapshot()
                                                   if x.startswith("step "))))


# ---------------------------------------------------------------------------
# K2: kernels before 6.10 refuse channels without a monitor page
# ---------------------------------------------------------------------------

K2_MD9 = (r"vmbus device %s \(SynthRdp control channel\): no uio device 3 s after binding: "
          r"uio_hv_generic did not take it and its channel has no monitor page; Linux "
          r"before 6\.10 refuses such channels \(kernel log: \"vmbus channel requires "
          r"hypercall\"\), and this kernel is 6\.9\.12-emulated\. Fix: Linux 6\.10 or later "
          r"\(Debian 12: linux-image-amd64 from bookworm-backports; Ubuntu 24\.04: "
          r"linux-generic-hwe-24\.04\)")
# md9 doctor's lines (src/ops/doctor.c), the fix they name.
K2_FIX = (r"fix: Linux 6\.10 or later: Debian 12: apt-get install -t bookworm-backports "
          r"linux-image-amd64 .*Ubuntu 24\.04: apt-get install linux-generic-hwe-24\.04")
K2_DOCTOR = (r"^FAIL\s+kernel\s+Linux 6\.9\.12-emulated refused the SynthRdp control channel "
             r"%s: the kernel log says \"uio_hv_generic %s: vmbus channel requires hypercall\": "
             r"its channel has no monitor page.* -- " + K2_FIX)
K2_DOCTOR_NOLOG = (r"^FAIL\s+kernel\s+the SynthRdp control channel %s has no driver and no uio "
                   r"device, its channel has no monitor page, and Linux 6\.9\.12-emulated is "
                   r"older than 6\.10.*the kernel log, \S+/dev/kmsg, is not readable here to "
                   r"confirm: Permission denied; run md9 doctor as root\) -- " + K2_FIX)
K2_DOCTOR_BOUND = (r"^FAIL\s+classes bound\s+control %s is not bound to any driver: the kernel "
                   r"refused it")


def doctor_line(out, rx, what):
    found = [x for x in out if re.search(rx, x)]
    check(found, "md9 doctor has no %s line /%s/:\n  %s" % (what, rx, "\n  ".join(out)))
    return found[0]


def k2_refused(h):
    srv, hs, m = stack(h, "6.9", wait_ready=False)
    t0 = time.monotonic()
    m.wait_for_log(r"warning: " + K2_MD9 % CONTROL, T(20))
    waited = time.monotonic() - t0
    check("uio_hv_generic %s: vmbus channel requires hypercall" % CONTROL in hs.kmsg(),
          "no kernel log line")
    st = hs.uio_status()
    check(st[CONTROL]["bound"] == 0, "kernel 6.9 bound a channel without a monitor page")
    check(not m.find(r"control channel ready"), "md9 claims a control channel")
    # md9 doctor, as root: the kernel log is readable and quoted.
    rc, out = h.doctor(hs)
    check(rc == 1, "md9 doctor exited %d, expected 1 (a FAIL)" % rc)
    doctor_line(out, K2_DOCTOR % (CONTROL, CONTROL), "kernel")
    doctor_line(out, K2_DOCTOR_BOUND % CONTROL, "classes bound")
    if IS_ROOT:
        # As a user who may not read the kernel log (dmesg_restrict).
        rc2, out2 = h.doctor(hs, as_user=uiolib.RUN_USER)
        check(rc2 == 1, "md9 doctor as %s exited %d" % (uiolib.RUN_USER, rc2))
        doctor_line(out2, K2_DOCTOR_NOLOG % CONTROL, "kernel (log unreadable)")
    # Said once, not on every rescan.
    n = len(m.find(K2_MD9 % CONTROL))
    check(n == 1, "md9 repeated its warning: %d times" % n)
    h.note("md9 warned %.1f s after start; doctor exit %d" % (waited, rc))


def k2_monitored(h):
    srv, hs, m = stack(h, "6.9", monitored=True)
    opened_line(m, CONTROL, True)
    transfer(h, hs, srv, m, 1, 100, 8 * MiB // BYTES_SCALE)
    opened_line(m, data_instance(0), True)
    check("requires hypercall" not in hs.kmsg(), "the kernel refused a monitored channel")


# ---------------------------------------------------------------------------
# K3: before the rescind fix the device stays and cannot be reopened
# ---------------------------------------------------------------------------

K3_MD9 = (r"vmbus device %s \(SynthRdp data channel\): reopening \S+/uio\d+ fails "
          r"\(ENODEV\): the host rescinded this channel and the kernel \(6\.10\.0-emulated\) "
          r"kept the device instead of removing it, so the host's next offer of it never "
          r"arrives: it stays lost until a reboot\. Fix: a kernel with \"Drivers: hv: vmbus: "
          r"Fix rescind handling in uio_hv_generic\"")


def k3_unfixed(h):
    srv, hs, m = stack(h, "6.10", hs_args=("--instances", "2"))
    transfer(h, hs, srv, m, 1, 100, 1 * MiB)   # 99221FA1, then the host rescinds it
    transfer(h, hs, srv, m, 2, 200, 1 * MiB)   # 99221FA2
    st = hs.uio_status()
    check(st[data_instance(0)]["dead"] == 1 and st[data_instance(1)]["dead"] == 1,
          "the 6.10 kernel did not keep the rescinded devices: %s" % st)
    # The host offers 99221FA1 again: the kernel loses the offer (K3), md9
    # finds only the dead device.
    mark = m.mark()
    c = client(h, hs, 300, 1 * MiB, 1 * MiB)
    m.wait_for_log(r"warning: " + K3_MD9 % data_instance(0), T(20), since=mark)
    m.wait_for_log(r"warning: data channel %s: cannot open: the kernel kept it after the "
                   r"host rescinded it" % data_instance(0), T(10), since=mark)
    hs.log.wait_for(r"the offer of %s is lost" % data_instance(0), T(10))
    c.kill()
    no_crash(m)
    check(not m.find(r"control channel: ", since=mark), "the control channel failed")


# ---------------------------------------------------------------------------
# K4: ring pages freed at a rescind (6.11+)
# ---------------------------------------------------------------------------

def k4_rescind_idle(h):
    srv, hs, m = stack(h, "6.11", hs_args=("--instances", "1"))
    s = idle_session(hs)
    m.wait_for_log(r"session 1: relaying", T(20))
    wait_asleep(m)
    relid0 = hs.uio_status()[data_instance(0)]["relid"]
    mark = m.mark()
    hs.command("rescind-data last")
    freed_while_mapped(m, mark)
    closed = m.wait_closed(1, T(20))
    check(re.search(r"host", closed.group("reason")), "session 1 closed for '%s'"
          % closed.group("reason"))
    check(int(closed.group("h2s")) == NEGO_H2S, "md9 relayed %s bytes host->server"
          % closed.group("h2s"))
    no_crash(m, data_instance(0), mark)
    s.close()
    # The same instance again: a new device (new relid), served.
    transfer(h, hs, srv, m, 2, 200, 2 * MiB)
    st = hs.uio_status()
    check(st[data_instance(0)]["relid"] != relid0 if data_instance(0) in st else True,
          "the new device kept relid %d" % relid0)
    no_crash(m)


def k4_rescind_unread(h):
    srv, hs, m = stack(h, "6.11", hs_args=("--instances", "1"))
    s = idle_session(hs)
    m.wait_for_log(r"session 1: relaying", T(20))
    wait_asleep(m)
    mark = m.mark()
    hs.command("rescind-unread last")
    freed_while_mapped(m, mark)
    closed = m.wait_closed(1, T(20))
    # The packet the host left without an interrupt never reached the server.
    check(int(closed.group("h2s")) == NEGO_H2S, "md9 relayed %s bytes host->server, "
          "the unannounced packet included" % closed.group("h2s"))
    no_crash(m, data_instance(0), mark)
    s.close()
    transfer(h, hs, srv, m, 2, 200, 2 * MiB)
    no_crash(m)


def k4_rescind_blocked(h):
    """md9 holds server bytes and waits for room in the TX ring (the host
    stopped reading) when the host rescinds: it must drop them, not write
    them into the freed ring."""
    srv, hs, m = stack(h, "6.11", hs_args=("--instances", "1"))
    c = client(h, hs, 100, 0, "inf")
    chan = m.opened(1)
    c.progress(0, PROGRESS, T(20), received=PROGRESS)
    hs.command("stall on " + chan)
    deadline = time.monotonic() + T(20)
    while hs.status().get(chan, {}).get("tx_pending", 0) == 0:
        check(time.monotonic() < deadline, "md9 never blocked on its full TX ring")
        time.sleep(0.05)
    mark = m.mark()
    hs.command("rescind-data " + chan)
    freed_while_mapped(m, mark)
    closed = m.wait_closed(1, T(20))
    check(re.search(r"host", closed.group("reason")), "session 1 closed for '%s'"
          % closed.group("reason"))
    no_crash(m, chan, mark)
    c.wait(T(30))
    hs.command("stall off " + chan)  # the same instance comes back
    transfer(h, hs, srv, m, 2, 200, 2 * MiB)
    no_crash(m)


# ---------------------------------------------------------------------------
# K5: the RX interrupt mask, before and after the CVE-2025-40048 fix
# ---------------------------------------------------------------------------

def k5_kernel_mask(h):
    srv, hs, m = stack(h, "6.11")
    transfer(h, hs, srv, m, 1, 100, 64 * MiB // BYTES_SCALE)
    # K8: up to 6.12, 2 MiB per direction including the control page.
    ring_line(m, data_instance(0), 2048 - os.sysconf("SC_PAGE_SIZE") // 1024)
    # Tiny packets: an interrupt (and, on this kernel, a mask) per refill.
    hs.command("burst on")
    transfer(h, hs, srv, m, 2, 200, 8 * MiB // BYTES_SCALE)


def k5_user_mask(h):
    srv, hs, m = stack(h, "6.18")
    transfer(h, hs, srv, m, 1, 100, 64 * MiB // BYTES_SCALE)
    # K8: 6.18 allocates 2 MiB of data plus the control page.
    ring_line(m, data_instance(0), 2048)
    hs.command("burst on")
    transfer(h, hs, srv, m, 2, 200, 8 * MiB // BYTES_SCALE)


# ---------------------------------------------------------------------------
# K6 and sessions: monitored and not, 5 at once
# ---------------------------------------------------------------------------

def k6_monitored_5(h):
    srv, hs, m = stack(h, "6.18", monitored=True)
    opened_line(m, CONTROL, True)
    transfer(h, hs, srv, m, 1, 100, 16 * MiB // BYTES_SCALE, 5)
    for i in range(5):
        opened_line(m, data_instance(i), True)


def sessions_5(h):
    srv, hs, m = stack(h, "6.18")
    opened_line(m, CONTROL, False)
    transfer(h, hs, srv, m, 1, 100, 16 * MiB // BYTES_SCALE, 5)


# ---------------------------------------------------------------------------
# K7: device nodes root 0600 until udev ran
# ---------------------------------------------------------------------------

K7_MD9 = r"open %s: \S+/uio(\d+): permission denied: the node is not md9's yet"


@needs("root")
def k7_udev_late(h):
    srv, hs, m = stack(h, "6.18", udev="manual", wait_ready=False)
    m.wait_for_log(r"dropped privileges: running as user nobody", T(10))
    m.wait_for_log(K7_MD9 % CONTROL, T(20))
    check(not m.find(r"control channel opened"), "md9 opened a root 0600 node as nobody")
    hs.command("udev")
    m.wait_ready()
    c = client(h, hs, 100, 2 * MiB, 2 * MiB)
    m.wait_for_log(K7_MD9 % data_instance(0), T(20))
    hs.command("udev")
    res = c.wait(T(120))
    check_complete(res[0], srv.wait_conn(res[0]["seed"], T(30)), "session after udev")
    check_md9_counts(m.wait_closed(1, T(30)), res[0], srv.conns()[res[0]["seed"]], "session 1")


K7_WARN = (r"warning: %s channel %s: still not ready after 5 s: \S+/uio\d+: permission denied: "
           r"the node is not md9's yet")


@needs("root")
def k7_udev_after_warning(h):
    # After its warning md9 stops retrying on its 50 ms timer (the control
    # channel's in ctrlchan.c, the data channels' in daemon.c): only a
    # device event (here udev's chown/chmod of the node) makes it try again.
    # If that path were broken the channel would never open.
    srv, hs, m = stack(h, "6.18", udev="manual", wait_ready=False)
    m.wait_for_log(r"dropped privileges: running as user nobody", T(10))
    m.wait_for_log(K7_WARN % ("control", CONTROL), T(30))
    check(not m.find(r"control channel opened"), "md9 opened a root 0600 node as nobody")
    hs.command("udev")
    m.wait_ready()
    check(len(m.find(K7_WARN % ("control", CONTROL))) == 1,
          "md9 warned more than once about the control channel")
    c = client(h, hs, 100, 2 * MiB, 2 * MiB)
    m.wait_for_log(K7_WARN % ("data", data_instance(0)), T(30))
    check(not m.find(r"session 1: opened"), "md9 opened a root 0600 node as nobody")
    hs.command("udev")
    res = c.wait(T(120))
    check_complete(res[0], srv.wait_conn(res[0]["seed"], T(30)), "session after udev")
    check_md9_counts(m.wait_closed(1, T(30)), res[0], srv.conns()[res[0]["seed"]], "session 1")
    check(len(m.find(K7_WARN % ("data", data_instance(0)))) == 1,
          "md9 warned more than once about the data channel")


# ---------------------------------------------------------------------------
# the same instance offered again
# ---------------------------------------------------------------------------

def reoffer_same(h):
    srv, hs, m = stack(h, "6.18", hs_args=("--instances", "1"))
    relids = []
    for sid in (1, 2, 3):
        transfer(h, hs, srv, m, sid, 100 * sid, 1 * MiB)
        ms = hs.log.find(r"vmbus device %s registered \(relid (\d+)" % data_instance(0))
        relids = [int(x.group(1)) for x in ms]
    check(len(relids) == 3 and len(set(relids)) == 3,
          "three offers of %s, relids %s" % (data_instance(0), relids))
    opened = m.find(r"opened vmbus channel %s \(uio(\d+)" % data_instance(0))
    h.note("relids %s, uio minors %s" % (relids, [int(x.group(1)) for x in opened]))


# ---------------------------------------------------------------------------
# end to end with a real xrdp
# ---------------------------------------------------------------------------

@needs("root", "xrdp", "openssl")
def e2e_xrdp(h):
    import rdp_probe
    import xrdp_fixture
    x = xrdp_fixture.XrdpFixture(security_layer="negotiate", startup_timeout=T(20))
    try:
        x.start()
        hs = h.hostsim("6.18")
        m = h.md9(hs, x.port, "--security", "auto")
        for sid in (1, 2):
            r = rdp_probe.probe(uiolib.LOOPBACK, hs.raw_port, timeout=T(10))
            check(r.ok, "session %d: no MCS Connect-Response through md9 and the uio "
                  "transport: %s" % (sid, r.summary()))
            data = r.received[-1]
            check(data[0] == 3 and data[4:7] == b"\x02\xf0\x80" and data[7:9] == b"\x7f\x66",
                  "session %d: not TPKT + 02 f0 80 + 7f 66: %s" % (sid, data[:16].hex()))
            check(len(r.sent_ci) == 462, "the probe did not send the seed's 462-byte "
                  "Connect-Initial")
            m.wait_for_log(r"session %d: relaying" % sid, T(10))
        opened_line(m, data_instance(0), False)
        h.note("xrdp answered the seed's Connect-Initial twice through md9 (uio)")
    finally:
        try:
            x.stop()
        except Exception as e:  # keep cleaning up
            print("xrdp stop: %s" % e, file=sys.stderr)


@needs("root", "xrdp", "xrdp-sesman", "xfreerdp", "Xvfb", "xdotool", "xclip")
def e2e_desktop(h):
    """A real client to a logged-in desktop through md9's uio transport
    (tests/fixtures/desktop_fixture.py, as tests/e2e/test_e2e.py does over
    the simulated bus)."""
    import desktop_fixture
    started = {}

    def start_md9(srv):
        hs = h.hostsim("6.18", "--rdp-listen", "%s:0" % uiolib.LOOPBACK)
        check(hs.rdp_port > 0, "hostsim has no RDP front end")
        m = h.md9(hs, srv.port, "--security", "auto")
        started["hs"], started["md9"] = hs, m
        return (uiolib.LOOPBACK, hs.rdp_port)

    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    res = desktop_fixture.run_desktop_check(
        sec="tls", security_layer="tls", crypt_level="high", before_connect=start_md9,
        artifacts=artifacts, login_timeout=T(25), pixel_timeout=T(15), clip_timeout=T(10),
        log=print)
    check("md9" in started, "md9 never started: %s" % res.get("error"))
    hs, m = started["hs"], started["md9"]
    check_scenario(res, "desktop", desktop_fixture.CHECKS)
    # Through the emulated uio_hv_generic: md9 opened the data channel's
    # uio device, the host saw the TLS session relayed.
    opened_line(m, data_instance(0), False)
    m.wait_for_log(r"session 1: TLS with the server established", T(5))
    m.wait_for_log(r"session 1: relaying", T(5))
    hs.log.wait_for(r"hostsim rdp 1: guest selected SSL; relaying", T(5))
    h.note("desktop through md9 (uio): %s" % ", ".join(
        "%s %.1fs" % (k, v) for k, v in res["timings"].items()))


CASES = {
    "emulator_selftest": emulator_selftest,
    "k2_refused": k2_refused,
    "k2_monitored": k2_monitored,
    "k3_unfixed": k3_unfixed,
    "k4_rescind_idle": k4_rescind_idle,
    "k4_rescind_unread": k4_rescind_unread,
    "k4_rescind_blocked": k4_rescind_blocked,
    "k5_kernel_mask": k5_kernel_mask,
    "k5_user_mask": k5_user_mask,
    "k6_monitored_5": k6_monitored_5,
    "sessions_5": sessions_5,
    "k7_udev_late": k7_udev_late,
    "k7_udev_after_warning": k7_udev_after_warning,
    "reoffer_same": reoffer_same,
    "e2e_xrdp": e2e_xrdp,
    "e2e_desktop": e2e_desktop,
}

if __name__ == "__main__":
    sys.exit(main(CASES))
