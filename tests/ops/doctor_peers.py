"""The peers `md9 doctor` talks to in test_doctor's fake trees: md9's
status socket and an RDP server answering doctor's probe as real servers
were seen to. Each serves its connections one at a time on a thread."""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from md9test import REPO  # noqa: E402
from md9test.rdpframes import ProbeError, build_x224_cc, recv_tpkt  # noqa: E402

CORPUS = os.path.join(REPO, "fuzz", "corpus", "mcs_response")


class AcceptLoop:
    """Accepts on a listening socket in a thread until close(); serve(c)
    handles one connection (an OSError ends just that connection)."""

    conn_timeout = 2

    def __init__(self, listener):
        self.listener = listener
        self.listener.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.listener.accept()
            except OSError:
                continue
            with c:
                c.settimeout(self.conn_timeout)
                try:
                    self.serve(c)
                except OSError:
                    pass

    def serve(self, c):
        raise NotImplementedError

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.listener.close()


class StatusServer(AcceptLoop):
    """Answers like md9's status socket: one request, one answer, close."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(4)
        super().__init__(sock)

    def serve(self, c):
        c.recv(64)
        c.sendall(b"md9 0.1.0 (pid 1), up 5 s\ntransport: uio\n"
                  b"control channel: ready, host protocol 1.0\n"
                  b"sessions: 0 open, 0 since start, max 16\n")


def _recv_tpkt(c):
    """The next TPKT, or None when the peer hung up or went quiet."""
    try:
        return recv_tpkt(c, time.monotonic() + c.gettimeout())
    except ProbeError:
        return None


class FakeRdpServer(AcceptLoop):
    """An RDP server just deep enough for md9 doctor's probe, answering as
    real servers were seen to (the Connect-Responses are captures and
    variants from fuzz/corpus/mcs_response):
      plain        selects RDP, Connect-Response with encryption NONE
      encrypts     selects RDP, Connect-Response with 128BIT/HIGH
      nla          RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER
      nla_selected selects HYBRID
      ssl_close    selects SSL, closes on the plaintext Connect-Initial
      silent       accepts and never answers"""

    conn_timeout = 5

    def __init__(self, listener):
        self.mode = "plain"
        self.requests = []
        super().__init__(listener)

    def serve(self, c):
        mode = self.mode
        cr = _recv_tpkt(c)
        if cr is None or mode == "silent":
            _recv_tpkt(c)
            return
        self.requests.append(cr)
        if mode == "nla":
            c.sendall(build_x224_cc(3, 5))
            return
        c.sendall(build_x224_cc(2, {"nla_selected": 2, "ssl_close": 1}.get(mode, 0)))
        if mode == "nla_selected" or _recv_tpkt(c) is None or mode == "ssl_close":
            return
        name = "rdp_128bit_high" if mode == "encrypts" else "shadow_rdp_capture"
        with open(os.path.join(CORPUS, name), "rb") as f:
            c.sendall(f.read())
        _recv_tpkt(c)   # until md9 hangs up
