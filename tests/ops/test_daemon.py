#!/usr/bin/python3
"""md9 run as an operator sees it, against md9-hostsim (--bus, sim transport):

* bad_config     `md9 run --config BAD` exits non-zero with BAD:LINE: reason;
* reload         SIGHUP with a new backend logs "configuration reloaded" and
                 new sessions use it; a broken file keeps the old one;
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
* privdrop       started as root with user = nobody: runs as nobody, still
                 serves; an unknown user stops it (root only).

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
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))

from md9test import (REPO, Harness, LogStream, binary, check, free_port,  # noqa: E402
                     main)

MD9 = binary("MD9_BIN", "src/md9", "md9")
TIMEOUT = 10.0

# protocol-facts §7: the vmconnect Connection Request (requestedProtocols 0x0B)
CR = bytes.fromhex("03000013" "0ee00000000000" "010008000b000000")
# A Connection Confirm selecting PROTOCOL_RDP (RDP_NEG_RSP, selectedProtocol 0)
CC_RDP = bytes.fromhex("03000013" "0ed000001234" "00" "0200080000000000")


class Case(Harness):
    """A case's tmp dir (readable by other users: privdrop), its hostsim
    and the md9s it runs with their own environment."""

    prefix = "md9-ops-"

    def __init__(self, name):
        super().__init__(name)
        os.chmod(self.tmp, 0o755)
        self.procs = []

    def hostsim(self):
        """(bus path, raw front end port) of a new md9-hostsim."""
        hs = super().hostsim()
        return hs.bus, hs.raw_port

    def config(self, text, name="md9.conf"):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o644)
        return p

    def md9(self, conf, bus, extra=(), env=None, stderr_file=None):
        argv = [MD9, "run", "--config", conf, "--transport", "sim:" + bus] + list(extra)
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("JOURNAL_STREAM", None)
        e.update(env or {})
        if stderr_file:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=stderr_file, env=e)
            self.procs.append(p)
            return p, None
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=e)
        self.procs.append(p)
        return p, LogStream("md9", p.stdout)

    def status(self, sock, *args):
        r = subprocess.run([MD9, "status", "--socket", sock] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        super().cleanup()


def stop(p, lines=None):
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    check(rc == 0, "md9 exited %d after SIGTERM%s" % (
        rc, (":\n" + lines.text()) if lines else ""))


class FakeServer:
    """A local 'RDP server': accepts, records what arrives, answers a
    Connection Request with CC_RDP and keeps the connection open."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.conns = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            data = c.recv(4096)
            self.received.append(data)
            if data[:1] == b"\x03":
                c.sendall(CC_RDP)
            while c.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


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


def notify_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(TIMEOUT)
    return s


def expect_notify(s, *needles):
    msg = s.recv(4096).decode()
    for n in needles:
        check(n in msg.split("\n"), "notify %r: no %r" % (msg, n))
    return msg


def case_reload(c):
    bus, _ = c.hostsim()
    old_port, new_port = free_port(), free_port()
    sock = c.path("status.sock")
    conf = c.config("[md9]\nbackend = tcp:127.0.0.1:%d\nstatus_socket = %s\n" % (old_port, sock))
    n = notify_socket(c.path("notify"))
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
        os.makedirs(os.path.dirname(sock))
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
        m = re.search(r"session (\d+): channel ([0-9a-f-]{36}), (\S+), age ([0-9.]+) s, "
                      r"(\d+) bytes host->server, (\d+) bytes server->host, mode rdp, "
                      r"server selected RDP", out)
        check(m, "no session line:\n" + out)
        check(m.group(3) == "waiting-for-mcs", out)
        check(int(m.group(5)) == len(CR) and int(m.group(6)) == len(CC_RDP), out)
        j = json.loads(c.status(sock, "--json")[1])
        s = j["sessions"][0]
        check(re.match(r"^99221fa[1-5]-24ad-11e2-be98-001aa01bbf6e$", s["instance"]), s)
        check(s["mode"] == "rdp" and s["selected_protocol"] == "RDP", s)
        check(s["bytes_host_to_server"] == 19 and s["bytes_server_to_host"] == 19, s)
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
        check(s["bytes_host_to_server"] > 19 and s["bytes_server_to_host"] > 19, s)
        rc, out, err = c.status(sock)
        check(re.search(r"relaying, age [0-9.]+ s, \d+ bytes host->server, \d+ bytes "
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
    os.chmod(bus, 0o666)
    sock = c.path("run-md9/status.sock")  # its directory does not exist yet
    conf = c.config("[md9]\nuser = nobody\nstatus_socket = %s\n" % sock)
    p, log = c.md9(conf, bus)
    log.wait_for(r"dropped privileges: running as user nobody \(uid %d" % nobody.pw_uid)
    log.wait_for(r"control channel ready")
    with open("/proc/%d/status" % p.pid) as f:
        st = f.read()
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M).groups()
    check(all(int(x) == nobody.pw_uid for x in uid), "uids %s" % (uid,))
    caps = re.search(r"^CapEff:\s+([0-9a-f]+)", st, re.M).group(1)
    check(int(caps, 16) == 0, "effective capabilities left: %s" % caps)
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


CASES = [case_bad_config, case_reload, case_notify_abstract, case_status, case_status_xrdp,
         case_logging,
         case_privdrop]


if __name__ == "__main__":
    sys.exit(main(CASES, Case))
