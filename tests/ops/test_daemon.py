#!/usr/bin/python3
"""md9 run as an operator sees it, against md9-hostsim (--bus, sim transport):

* bad_config     `md9 run --config BAD` exits non-zero with BAD:LINE: reason;
* reload         SIGHUP with a new backend logs "configuration reloaded" and
                 new sessions use it; a broken file keeps the old one;
* reload_running SIGHUP while a session negotiates: that session keeps the
                 settings it started with (its fallback reconnect goes to the
                 old backend), the next session gets the new backend and mode;
* notify         sd_notify: READY=1 after start, RELOADING=1 (MONOTONIC_USEC)
                 then READY=1 around a reload, STOPPING=1 at exit, to a path
                 and to an abstract '@' socket;
* status         `md9 status` / `--json`: control state with no session, then
                 a session held open by a raw TCP client that sent an X.224
                 Connection Request (instance GUID, age, bytes, mode, the
                 server's selected protocol);
* status_xrdp    the same for a relaying session through a real xrdp
                 (tests/fixtures/xrdp_fixture.py + rdp_probe.py);
* logging        -v gives debug lines; under the journal (JOURNAL_STREAM)
                 lines carry <N> priorities and no timestamps;
* privdrop       started as root with user = nobody: runs as nobody, with
                 NoNewPrivs and an empty capability bounding set, still
                 serves; an unknown user stops it (root only);
* root           started as root, md9 does not run on as root: user = root
                 without allow_root = yes is one error line and exit 1;
                 with it md9 runs (and warns).

Which user md9 runs as is this test's choice, not the machine's: as root it
creates an unprivileged user and every md9 here drops to it (a system user
md9 may exist or not; before, md9 dropped to it and lost the test's paths).

Python 3 standard library only. $MD9_BIN and $MD9_HOSTSIM (ctest sets them).
Exit 0 when every case passed; ends with "N passed, N failed".
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, "lib"))
sys.path.insert(0, os.path.join(TESTS, "security"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemonlib  # noqa: E402
import seclib  # noqa: E402
from daemonlib import (CC_RDP, CC_SSL_NOT_ALLOWED, CR, MD9, TIMEOUT, Case, FakeServer,  # noqa: E402
                       accept_on, expect_notify, listener, notify_socket, recv_exact,
                       requested_protocols, stop)
from md9test import REPO, check, free_port, main  # noqa: E402


# ---------------------------------------------------------------------------

def case_bad_config(c):
    bad = c.config("[md9]\n# comment\nbackend = tcp:127.0.0.1:3389\nsecurity = sometimes\n",
                   "bad.conf")
    r = subprocess.run([MD9, "run", "--config", bad, "--transport", "sim:" + c.path("none")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    err = r.stderr.decode()
    check(r.returncode != 0, "md9 run --config BAD exited 0")
    check("%s:4: security: security must be auto, tls, rdp or passthrough" % bad in err, err)
    check(re.search(r"md9\[\d+\] error: ", err), err)
    r = subprocess.run([MD9, "run", "--config", c.path("missing.conf")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    check(r.returncode != 0 and "missing.conf: No such file" in r.stderr.decode(),
          r.stderr.decode())
    r = subprocess.run([MD9, "run", "--config", c.config("[md9]\n"), "--max-sessions", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    check(r.returncode != 0 and "max_sessions must be 1-64" in r.stderr.decode(),
          r.stderr.decode())
    # issue 15, point 8: each bad input is one line and a non-zero exit
    good = c.config("[md9]\n", "good.conf")
    for argv, needle in (
            (["run", "--bogus"], "md9 run: unknown option '--bogus'"),
            (["run", "-c", c.tmp], "is a directory"),
            (["run", "-c", good, "--max-sessions", "+7"], "max_sessions must be 1-64"),
            (["run", "-c", good, "--max-sessions", " 7"], "max_sessions must be 1-64"),
            (["run", "-c", good, "--backend", "tcp:h: 3389"], "needs a host and a port"),
            (["run", "-c", good, "--backend", "unix:relative.sock"], "absolute path"),
            (["run", "-c", good, "--backend", "tcp:no-such-host.invalid:3389"],
             "cannot resolve no-such-host.invalid"),
            (["run", "-c", good, "--security", "rdp", "--tls-pin", "00" * 32],
             "tls_pin needs TLS to the server"),
            (["doctor", "--security", "bogus"], "--security bogus: security must be"),
            (["status", "--bogus"], "md9 status: unknown option '--bogus'"),
            (["setup", "extra"], "unexpected argument 'extra'"),
            (["nonsense"], "unknown command 'nonsense'")):
        r = subprocess.run([MD9] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        lines = (r.stdout + r.stderr).decode().strip().splitlines()
        check(r.returncode != 0 and len(lines) == 1 and needle in lines[0],
              "md9 %s: exit %d, %r" % (" ".join(argv), r.returncode, lines))
        check("No route to host" not in lines[0], lines)


def case_reload(c):
    bus, _ = c.hostsim()
    old_port, new_port = free_port(), free_port()
    sock = c.path("status.sock")
    conf = c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nstatus_socket = %s\n" % (old_port, sock))
    n = notify_socket(c.path("notify"))
    c.give(c.path("notify"))
    p, log = c.md9(conf, bus, env={"NOTIFY_SOCKET": c.path("notify")})
    log.wait_for(r"control channel ready: host accepted SynthRdp protocol 1\.0")
    msg = expect_notify(n, "READY=1")
    check("STATUS=transport sim:%s, server tcp:127.0.0.1:%d" % (bus, old_port) in msg, msg)

    c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nsecurity = rdp\nstatus_socket = %s\n"
             % (new_port, sock))
    mark = log.mark()
    p.send_signal(signal.SIGHUP)
    log.wait_for(r"configuration reloaded: server tcp:127\.0\.0\.1:%d, security rdp" % new_port,
                 since=mark)
    msg = expect_notify(n, "RELOADING=1")
    check(re.search(r"^MONOTONIC_USEC=\d+$", msg, re.M), msg)
    expect_notify(n, "READY=1")
    rc, out, err = c.status(sock)
    check(rc == 0 and "server: tcp:127.0.0.1:%d, security rdp" % new_port in out, out + err)

    # a broken edit: logged with FILE:LINE, the running configuration stays
    c.config("[md9]\nbackend = tcp:127.0.0.1:1\nmax_sessions = lots\n")
    mark = log.mark()
    p.send_signal(signal.SIGHUP)
    log.wait_for(r"%s:3: max_sessions: max_sessions must be 1-64" % re.escape(conf), since=mark)
    log.wait_for(r"reload failed; keeping the running configuration", since=mark)
    expect_notify(n, "RELOADING=1")
    expect_notify(n, "READY=1")
    check(p.poll() is None, "md9 exited after a bad reload")
    rc, out, err = c.status(sock)
    check(rc == 0 and "server: tcp:127.0.0.1:%d, security rdp" % new_port in out, out + err)
    stop(p, log)
    expect_notify(n, "STOPPING=1")
    check(not os.path.exists(sock), "status socket left behind")


def case_reload_running(c):
    """A reload reaches new sessions only: a session that started before the
    SIGHUP keeps its backend for its fallback reconnect (auto mode, the server
    refused TLS), while the next session uses the new backend and mode."""
    bus, raw_port = c.hostsim()
    old, new = listener(), listener()
    conns = []
    try:
        conf = c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nsecurity = auto\nstatus_socket =\n"
                        % old.getsockname()[1])
        p, log = c.md9(conf, bus)
        log.wait_for(r"control channel ready")

        # session 1 negotiates with the old backend, which holds its answer
        h1 = socket.create_connection(("127.0.0.1", raw_port), timeout=TIMEOUT)
        conns.append(h1)
        h1.sendall(CR)
        s1 = accept_on(old, new, "session 1's connection")
        conns.append(s1)
        check(requested_protocols(recv_exact(s1, len(CR))) == 1,
              "auto mode did not ask the server for SSL first")

        # the reload: another backend and mode, for new sessions
        c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nsecurity = rdp\nstatus_socket =\n"
                 % new.getsockname()[1])
        mark = log.mark()
        p.send_signal(signal.SIGHUP)
        log.wait_for(r"configuration reloaded: server tcp:127\.0\.0\.1:%d, security rdp"
                     % new.getsockname()[1], since=mark)

        # the old backend refuses TLS: session 1 connects again, to the old one
        s1.sendall(CC_SSL_NOT_ALLOWED)
        log.wait_for(r"session 1: the server refused TLS \(SSL_NOT_ALLOWED_BY_SERVER\); "
                     r"asking again for standard RDP security", since=mark)
        s1b = accept_on(old, new, "session 1's reconnect after the reload")
        conns.append(s1b)
        check(requested_protocols(recv_exact(s1b, len(CR))) == 0, "the retry did not ask for RDP")
        s1b.sendall(CC_RDP)
        check(recv_exact(h1, len(CC_RDP)) == CC_RDP, "session 1's host got no Connection Confirm")

        # session 2 starts after the reload: the new backend, security rdp
        h2 = socket.create_connection(("127.0.0.1", raw_port), timeout=TIMEOUT)
        conns.append(h2)
        h2.sendall(CR)
        log.wait_for(r"session 2: opened on data channel \S+ \(server tcp:127\.0\.0\.1:%d, "
                     r"security rdp\)" % new.getsockname()[1], since=mark)
        s2 = accept_on(new, old, "session 2's connection")
        conns.append(s2)
        check(requested_protocols(recv_exact(s2, len(CR))) == 0,
              "session 2 did not use the reloaded security rdp")
        s2.sendall(CC_RDP)
        check(recv_exact(h2, len(CC_RDP)) == CC_RDP, "session 2's host got no Connection Confirm")
        check(p.poll() is None, "md9 exited")
        stop(p, log)
    finally:
        for s in conns + [old, new]:
            s.close()


def case_notify_abstract(c):
    bus, _ = c.hostsim()
    name = "md9-test-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    s.settimeout(TIMEOUT)
    conf = c.config("[md9]\nstatus_socket =\n")
    p, log = c.md9(conf, bus, env={"NOTIFY_SOCKET": "@" + name})
    expect_notify(s, "READY=1")
    p.send_signal(signal.SIGHUP)
    expect_notify(s, "RELOADING=1")
    expect_notify(s, "READY=1")
    stop(p, log)
    expect_notify(s, "STOPPING=1")
    s.close()


def case_status(c):
    bus, raw_port = c.hostsim()
    server = FakeServer()
    try:
        sock = c.path("run/md9/status.sock")
        c.mkdir(os.path.dirname(sock))
        conf = c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nsecurity = rdp\n"
                        "status_socket = %s\n" % (server.port, sock))
        p, log = c.md9(conf, bus)
        log.wait_for(r"control channel ready")
        log.wait_for(r"status socket %s" % re.escape(sock))
        check(os.stat(sock).st_mode & 0o777 == 0o660, "status socket mode %o"
              % (os.stat(sock).st_mode & 0o777))

        rc, out, err = c.status(sock)
        check(rc == 0, "md9 status exit %d: %s" % (rc, err))
        check("control channel: ready, host protocol 1.0\n" in out, out)
        check("sessions: 0 open" in out, out)
        rc, out, err = c.status(sock, "--json")
        j = json.loads(out)
        check(j["control"] == {"state": "ready", "offered": True, "failures": 0,
                               "host_version": "1.0"}, j)
        check(j["sessions"] == [] and j["security"] == "rdp", j)
        # --config reads status_socket from the file
        r = subprocess.run([MD9, "status", "--config", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0 and b"control channel: ready" in r.stdout, r.stderr)

        # a session: the host's side is a raw TCP client that sent a CR
        cl = socket.create_connection(("127.0.0.1", raw_port), timeout=TIMEOUT)
        cl.sendall(CR)
        cc = cl.recv(64)
        check(cc == CC_RDP, "the raw client got %r, not the server's CC" % cc)
        check(server.received and server.received[0][:11] == CR[:11], server.received)
        rc, out, err = c.status(sock)
        check(re.search(r"sessions: 1 open, 1 since start", out), out)
        m = re.search(r"session (\d+): channel ([0-9a-f-]{36}), (\S+), age (\d+) s, "
                      r"(\d+) KiB host->server, (\d+) KiB server->host, mode rdp, "
                      r"server selected RDP", out)
        check(m, "no session line:\n" + out)
        check(m.group(3) == "waiting-for-mcs", out)
        # 19 bytes each way show as 0: counters are coarse (64 KiB steps,
        # src/relay/status.c), so that polling them shows no typing rhythm
        check(int(m.group(5)) == 0 and int(m.group(6)) == 0, out)
        j = json.loads(c.status(sock, "--json")[1])
        s = j["sessions"][0]
        check(re.match(r"^99221fa[1-5]-24ad-11e2-be98-001aa01bbf6e$", s["instance"]), s)
        check(s["mode"] == "rdp" and s["selected_protocol"] == "RDP", s)
        check(s["bytes_host_to_server"] == 0 and s["bytes_server_to_host"] == 0, s)
        check(s["age_s"] >= 0 and s["state"] == "waiting-for-mcs", s)
        check(j["sessions_open"] == 1 and j["sessions_total"] == 1, j)
        cl.close()
        log.wait_for(r"session \d+: closed")
        rc, out, err = c.status(sock)
        check("sessions: 0 open, 1 since start" in out, out)
        stop(p, log)
        rc, out, err = c.status(sock)
        check(rc == 3 and "md9 is not running" in err, "exit %d: %s" % (rc, err))
    finally:
        server.close()


def case_status_xrdp(c):
    """A relaying session through a real xrdp (tests/fixtures): auto mode,
    xrdp negotiates, so md9 is xrdp's TLS client and the server selected SSL."""
    if not shutil.which("xrdp") or os.geteuid() != 0:
        print("  (no xrdp, or not root: real-server status not tested)")
        return
    sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
    import rdp_probe
    import xrdp_fixture
    x = xrdp_fixture.XrdpFixture(security_layer="negotiate", startup_timeout=TIMEOUT)
    x.start()
    try:
        bus, raw_port = c.hostsim()
        sock = c.path("status.sock")
        conf = c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nstatus_socket = %s\n"
                        % (x.port, sock))
        p, log = c.md9(conf, bus)
        log.wait_for(r"control channel ready")
        cl = socket.create_connection(("127.0.0.1", raw_port), timeout=TIMEOUT)
        r = rdp_probe.probe("127.0.0.1", raw_port, sock=cl, timeout=TIMEOUT)
        check(r.ok, "no MCS Connect-Response through md9: %s" % r.summary())
        log.wait_for(r"session \d+: relaying")
        j = json.loads(c.status(sock, "--json")[1])
        check(len(j["sessions"]) == 1, j)
        s = j["sessions"][0]
        check(s["state"] == "relaying" and s["mode"] == "auto", s)
        check(s["selected_protocol"] == "SSL", s)
        check(s["bytes_host_to_server"] % 65536 == 0 and s["bytes_server_to_host"] % 65536 == 0, s)
        rc, out, err = c.status(sock)
        check(re.search(r"relaying, age \d+ s, \d+ KiB host->server, \d+ KiB "
                        r"server->host, mode auto, server selected SSL", out), out)
        cl.close()
        stop(p, log)
    finally:
        x.stop()


def case_logging(c):
    bus, _ = c.hostsim()
    conf = c.config("[md9]\nstatus_socket =\n")
    p, log = c.md9(conf, bus, extra=["-v"])
    log.wait_for(r"^\d\d:\d\d:\d\d\.\d{3} md9\[\d+\] debug: ")
    log.wait_for(r"control channel ready")
    stop(p, log)
    p, log = c.md9(conf, bus)
    log.wait_for(r"control channel ready")
    stop(p, log)
    check(" debug: " not in log.text(), "debug lines without -v:\n" + log.text())

    # under systemd: stderr is the journal stream (JOURNAL_STREAM = its dev:ino)
    with open(c.path("journal"), "wb") as f:
        st = os.fstat(f.fileno())
        p, _ = c.md9(conf, bus, extra=["-v"], stderr_file=f,
                     env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(c.path("journal")) as r:
                if "control channel ready" in r.read():
                    break
            time.sleep(0.05)
        stop(p)
    with open(c.path("journal")) as r:
        lines = r.read().splitlines()
    check(lines, "nothing logged")
    for line in lines:
        check(re.match(r"^<[3467]>[^<]", line), "not a journal line: %r" % line)
        check(not re.match(r"^<\d>\d\d:\d\d:\d\d", line), "timestamp under journald: %r" % line)
    check(any(x.startswith("<7>") for x in lines), "no debug (<7>) line with -v")
    check(any(x.startswith("<6>control channel ready") for x in lines), lines)


def case_privdrop(c):
    if os.geteuid() != 0:
        print("  (not root: privilege drop not tested)")
        return
    try:
        import pwd
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        print("  (no user nobody)")
        return
    bus, _ = c.hostsim()
    os.chown(bus, nobody.pw_uid, nobody.pw_gid)
    sock = c.path("run-md9/status.sock")  # its directory does not exist yet
    conf = c.config("[md9]\nuser = nobody\nstatus_socket = %s\n" % sock)
    p, log = c.md9(conf, bus)
    log.wait_for(r"dropped privileges: running as user nobody \(uid %d\D.*no capabilities, "
                 r"no new privileges" % nobody.pw_uid)
    log.wait_for(r"control channel ready")
    with open("/proc/%d/status" % p.pid) as f:
        st = f.read()
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M).groups()
    check(all(int(x) == nobody.pw_uid for x in uid), "uids %s" % (uid,))
    caps = re.search(r"^CapEff:\s+([0-9a-f]+)", st, re.M).group(1)
    check(int(caps, 16) == 0, "effective capabilities left: %s" % caps)
    bnd = re.search(r"^CapBnd:\s+([0-9a-f]+)", st, re.M).group(1)
    check(int(bnd, 16) == 0, "capability bounding set not empty: %s" % bnd)
    nnp = re.search(r"^NoNewPrivs:\s+(\d)", st, re.M).group(1)
    check(nnp == "1", "NoNewPrivs is %s" % nnp)
    groups = re.search(r"^Groups:\s*(.*)$", st, re.M).group(1).split()
    check("0" not in groups, "still in group root: %s" % groups)
    check(os.stat(os.path.dirname(sock)).st_uid == nobody.pw_uid, "status dir owner")
    rc, out, err = c.status(sock)
    check(rc == 0 and "control channel: ready" in out, out + err)
    stop(p, log)
    # a user that does not exist: md9 does not run on as root
    conf = c.config("[md9]\nuser = no-such-user-md9\nstatus_socket =\n", "bad-user.conf")
    p, log = c.md9(conf, bus)
    rc = p.wait(10)
    check(rc != 0, "md9 ran with an unknown user")
    log.wait_for(r"user = no-such-user-md9: no such user")


def case_root(c):
    if os.geteuid() != 0:
        print("  (not root: the root refusal not tested)")
        return
    bus, _ = c.hostsim()
    conf = c.config("[md9]\nuser = root\nstatus_socket =\n", "root.conf")
    r = subprocess.run([MD9, "run", "--config", conf, "--transport", "sim:" + bus],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    err = r.stderr.decode().strip().splitlines()
    check(r.returncode == 1, "md9 ran as root without allow_root (exit %d)" % r.returncode)
    check(len(err) == 1 and re.search(r"error: user = root: md9 does not run as root unless "
                                      r"allow_root = yes says so", err[0]), err)
    conf = c.config("[md9]\nuser = root\nallow_root = yes\nstatus_socket =\n", "root2.conf")
    p, log = c.md9(conf, bus)
    log.wait_for(r"warning: user = root: md9 keeps running as root \(allow_root = yes\)")
    log.wait_for(r"control channel ready")
    with open("/proc/%d/status" % p.pid) as f:
        st = f.read()
    check(re.search(r"^NoNewPrivs:\s+1$", st, re.M), "NoNewPrivs not set as root")
    stop(p, log)


CASES = [case_bad_config, case_reload, case_reload_running, case_notify_abstract, case_status,
         case_status_xrdp, case_logging, case_privdrop, case_root]


if __name__ == "__main__":
    if os.geteuid() == 0:
        daemonlib.RUNNER = seclib.make_user("ops")
    try:
        rc = main(CASES, Case)
    finally:
        seclib.cleanup()
    sys.exit(rc)
