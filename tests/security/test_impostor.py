#!/usr/bin/python3
"""Who is the RDP server? (issue 15, point 1; src/peerauth.c)

md9 runs as a fresh unprivileged user (started as root, `user = <it>`),
xrdp as Debian's own `xrdp` user, and an impostor as a third local user.

impostor_<tcp|unix>_<mode>[_pin]
    The impostor listens where md9's backend points (127.0.0.1:PORT, or a
    UNIX socket in a directory it owns). Two host sessions arrive: the first
    waits in the impostor's accept queue until md9 has connected (for tcp
    this is the case where the kernel cannot tell yet who will read the
    connection), the second is accepted at once. For each: md9 logs one line
    naming the impostor, the host sees the session end, and the impostor
    receives not one byte (X.224 request included); md9 keeps serving.
    Every security mode, and tls/auto with tls_pin (rdp and passthrough
    with a pin are refused at load: test_config test_finish).

legit_<tcp|unix>_<mode>
    The real xrdp, run as user xrdp, serves a session through md9 (the
    default server_user is xrdp): MCS Connect-Response through md9.

Python 3 standard library; root (creates users); xrdp for the legit cases.
"""

import os
import re
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import rdp_probe  # noqa: E402
import seclib  # noqa: E402
from md9test import LOOPBACK, SKIP, TestFailure, check  # noqa: E402

TIMEOUT = 10.0
DUMMY_PIN = "sha256:" + "00" * 32


class Impostor:
    def __init__(self, user, kind, where, modes):
        with open(os.path.join(HERE, "impostor.py")) as f:
            code = f.read()   # the impostor need not be able to read the tree
        self.p = subprocess.Popen(
            ["/usr/bin/python3", "-c", code, kind, where] + list(modes), cwd="/",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            **seclib.as_user(user))
        self.lines = []
        first = self.line()
        m = re.match(r"listening (\S+)$", first)
        check(m, "impostor did not start: %r" % first)
        self.where = m.group(1)

    def line(self):
        import select
        r, _, _ = select.select([self.p.stdout], [], [], TIMEOUT)
        check(r, "the impostor said nothing within %.0f s (so far: %s)"
              % (TIMEOUT, self.lines))
        text = self.p.stdout.readline().decode().strip()
        self.lines.append(text)
        return text

    def expect(self, regex):
        text = self.line()
        m = re.match(regex, text)
        check(m, "impostor: expected /%s/, got %r" % (regex, text))
        return m

    def accept(self):
        self.p.stdin.write(b"accept\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def prepare(h):
    """md9's user, the hostsim bus it may use, a private tmp it can read."""
    runner = seclib.make_user("run", groups=["xrdp"])
    os.chmod(h.tmp, 0o755)
    hs = h.hostsim()
    os.chown(hs.bus, runner.uid, runner.gid)
    return runner, hs


def start_md9(h, hs, runner, backend, security, pin=None):
    conf = os.path.join(h.tmp, "md9.conf")
    with open(conf, "w") as f:
        f.write("[md9]\nuser = %s\nstatus_socket =\n" % runner.name)
    os.chmod(conf, 0o644)
    extra = ["--tls-pin", pin] if pin else []
    m = h.md9(hs, backend, security, extra=extra)
    m.wait_for_log(r"dropped privileges: running as user %s \(uid %d" % (runner.name, runner.uid))
    return m


def host_session(hs):
    """The host's side of a session: the vmconnect X.224 request and the
    MCS Connect-Initial (it carries no password, but a real one is followed
    by the Client Info PDU that does)."""
    c = socket.create_connection((LOOPBACK, hs.raw_port), timeout=TIMEOUT)
    c.sendall(rdp_probe.build_x224_cr() + rdp_probe.build_mcs_connect_initial())
    return c


def host_sees_end(c, what):
    c.settimeout(TIMEOUT)
    try:
        data = c.recv(4096)
    except socket.timeout:
        raise TestFailure("%s: the host's connection did not end" % what)
    except ConnectionResetError:
        data = b""
    check(data == b"", "%s: the host received %r instead of the end" % (what, data[:32]))
    c.close()


def impostor_case(kind, mode, pin):
    def case(h):
        runner, hs = prepare(h)
        imp_user = seclib.make_user("imp")
        if kind == "tcp":
            imp = Impostor(imp_user, "tcp", "0", ["late", "now"])
            backend = "tcp:127.0.0.1:%s" % imp.where
        else:
            d = os.path.join(h.tmp, "impostor")
            os.mkdir(d, 0o755)
            os.chown(d, imp_user.uid, imp_user.gid)
            imp = Impostor(imp_user, "unix", os.path.join(d, "xrdp.sock"), ["late", "now"])
            backend = "unix:" + imp.where
        try:
            m = start_md9(h, hs, runner, backend, mode, DUMMY_PIN if pin else None)
            refused = (r"session %%d: refused the server at %s: it runs as %s \(uid %d\), "
                       r"not as xrdp \(uid \d+\), root or md9's own uid %d; ending the session"
                       % (re.escape(backend), imp_user.name, imp_user.uid, runner.uid))
            # 1: md9 connected while the impostor has not accepted yet
            c = host_session(hs)
            imp.expect(r"queued$")
            if kind == "unix":
                # SO_PEERCRED names the listener before any accept
                m.wait_for_log(refused % 1)
            imp.accept()
            m.wait_for_log(refused % 1)
            host_sees_end(c, "session 1")
            imp.expect(r"received 0$")
            # 2: accepted at once
            c = host_session(hs)
            imp.expect(r"queued$")
            m.wait_for_log(refused % 2)
            host_sees_end(c, "session 2")
            imp.expect(r"received 0$")
            check(len(m.find(r"refused the server")) == 2,
                  "expected exactly one refusal line per session")
            m.wait_for_log(r"session 2: closed \(the server was refused")
            m.assert_alive("after refusing the impostor")
        finally:
            imp.kill()
    return case


def fingerprint(cert):
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return out.strip().split("=", 1)[1]


def legit_case(kind, mode, layer, pin=False):
    def case(h):
        runner, hs = prepare(h)
        kw = {}
        if kind == "unix":
            d = os.path.join(h.tmp, "xrdp-run")
            os.mkdir(d, 0o755)
            xrdp_user = seclib.User("xrdp")
            os.chown(d, xrdp_user.uid, xrdp_user.gid)
            kw["unix_path"] = os.path.join(d, "xrdp.sock")
        import xrdp_fixture
        x = xrdp_fixture.XrdpFixture(security_layer=layer, run_as="xrdp",
                                     startup_timeout=harness.STARTUP_TIMEOUT, **kw)
        h.xrdps.append(x)
        x.start()
        backend = ("unix:" + kw["unix_path"]) if kind == "unix" else \
            "tcp:127.0.0.1:%d" % x.port
        m = start_md9(h, hs, runner, backend, mode, fingerprint(x.cert) if pin else None)
        r = h.probe(hs.raw_port)
        h.assert_connect_response(r, "through md9 to xrdp (user xrdp)")
        m.wait_for_log(r"session 1: relaying")
        check(not m.find(r"refused the server"), "md9 refused the real xrdp")
        # it was xrdp's own user md9 checked, not root
        m.wait_for_log(r"session 1: the server runs as uid %d: allowed"
                       % seclib.User("xrdp").uid)
        if pin:
            m.wait_for_log(r"session 1: TLS with the server established")
    return case


CASES = {}
for kind in ("tcp", "unix"):
    for mode in ("auto", "tls", "rdp", "passthrough"):
        CASES["impostor_%s_%s" % (kind, mode)] = impostor_case(kind, mode, False)
    for mode in ("auto", "tls"):
        CASES["impostor_%s_%s_pin" % (kind, mode)] = impostor_case(kind, mode, True)
CASES["legit_tcp_auto"] = legit_case("tcp", "auto", "negotiate")
CASES["legit_tcp_tls_pin"] = legit_case("tcp", "tls", "negotiate", pin=True)
CASES["legit_tcp_rdp"] = legit_case("tcp", "rdp", "rdp")
CASES["legit_unix_auto"] = legit_case("unix", "auto", "negotiate")
CASES["legit_unix_auto_pin"] = legit_case("unix", "auto", "negotiate", pin=True)


if __name__ == "__main__":
    why = seclib.have_prerequisites()
    if why:
        print("SKIP: %s" % why)
        sys.exit(SKIP)
    try:
        rc = harness.main(CASES)
    finally:
        seclib.cleanup()
    sys.exit(rc)
