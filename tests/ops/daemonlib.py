"""What test_daemon's cases share: a case's tmp dir and its md9s run with
their own environment (Case), the user md9 runs as (RUNNER), a local 'RDP
server', the vmconnect Connection Request and two Connection Confirms,
sd_notify's socket, the backends md9 connects to."""

import os
import select
import signal
import socket
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from md9test import Harness, LogStream, binary, check  # noqa: E402
from md9test.rdpframes import SEED_X224_CR, build_x224_cc  # noqa: E402

MD9 = binary("MD9_BIN", "src/md9", "md9")
TIMEOUT = 10.0
RUNNER = None   # the user md9 runs as (test_daemon makes it before the cases when root)

# protocol-facts §7: the vmconnect Connection Request (requestedProtocols 0x0B)
CR = SEED_X224_CR
# A Connection Confirm selecting PROTOCOL_RDP (RDP_NEG_RSP, selectedProtocol 0)
CC_RDP = build_x224_cc(2, 0)
# A Connection Confirm refusing: RDP_NEG_FAILURE SSL_NOT_ALLOWED_BY_SERVER (2),
# which md9's auto mode answers by connecting again and asking for RDP
# (MS-RDPBCGR 2.2.1.2.2)
CC_SSL_NOT_ALLOWED = build_x224_cc(3, 2)


class Case(Harness):
    """A case's tmp dir (readable by other users: privdrop), its hostsim
    and the md9s it runs with their own environment."""

    prefix = "md9-ops-"

    def __init__(self, name):
        super().__init__(name)
        os.chmod(self.tmp, 0o755)
        self.give(self.tmp)
        self.procs = []

    def hostsim(self):
        """(bus path, raw front end port) of a new md9-hostsim."""
        hs = super().hostsim()
        self.give(hs.bus)
        return hs.bus, hs.raw_port

    def give(self, path):
        """Make path md9's (the runner's) when md9 runs as the test's user."""
        if RUNNER:
            os.chown(path, RUNNER.uid, RUNNER.gid)
        return path

    def mkdir(self, path):
        os.makedirs(path)
        return self.give(path)

    def config(self, text, name="md9.conf"):
        p = self.path(name)
        if RUNNER and "\nuser =" not in text and text.startswith("[md9]\n"):
            text += "user = %s\n" % RUNNER.name   # last: line numbers stay
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



def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        check(chunk, "connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def requested_protocols(cr):
    """requestedProtocols of a Connection Request that ends with RDP_NEG_REQ."""
    check(len(cr) >= 19 and cr[-8] == 1, "no RDP_NEG_REQ at the end of %r" % cr)
    return int.from_bytes(cr[-4:], "little")


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def accept_on(expected, other, what):
    """The next connection md9 makes, which must reach `expected`, not `other`."""
    ready, _, _ = select.select([expected, other], [], [], TIMEOUT)
    check(ready, "md9 connected to no backend for %s" % what)
    check(ready == [expected], "%s went to the other backend (port %d)"
          % (what, other.getsockname()[1]))
    conn, _ = expected.accept()
    conn.settimeout(TIMEOUT)
    return conn
