"""What the fixtures that drive other programs (xrdp, sesman, X servers,
RDP clients) share: their error, their context-manager shape, and waiting
for a state with a deadline: a condition polled until it holds, one line
from a child's pipe, a socket in LISTEN state."""

import os
import selectors
import socket
import time


class FixtureError(RuntimeError):
    """A fixture could not set up what it was asked for, or what it waited
    for did not happen in time."""


class Fixture:
    """start() (returns self) and stop(); `with` starts and stops it."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def wait_until(predicate, timeout, interval=0.05, what="condition", alive=None):
    """Poll predicate() until it returns a truthy value or timeout expires.

    alive: optional callable; if it returns anything but True (e.g. the
    process under test died: the reason) polling stops early with
    FixtureError. Returns the predicate's value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None:
            why = alive()
            if why is not True:
                raise FixtureError("while waiting for %s: %s" % (what, why))
        if time.monotonic() >= deadline:
            raise FixtureError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_line(fd, timeout, timeout_msg, chunk=32):
    """The first line a child writes to fd (a pipe), read as it arrives.
    Returns it with its newline, or without one when the pipe ended first
    (the caller says what that means); FixtureError(timeout_msg) when no
    whole line came within timeout."""
    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise FixtureError(timeout_msg)
            data = os.read(fd, chunk)
            if not data:
                break
            line += data
    return line


def _listening_ports():
    """Set of (ip, port) in LISTEN state from /proc/net/tcp and tcp6.

    IPv4-mapped IPv6 addresses are reported as IPv4 (xrdp-sesman binds
    127.0.0.1 through an AF_INET6 socket as ::ffff:127.0.0.1); the IPv6
    wildcard is reported as "0.0.0.0" (it accepts IPv4 too)."""
    result = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) < 4 or parts[3] != "0A":
                        continue
                    hexip, hexport = parts[1].split(":")
                    raw = bytes.fromhex(hexip)
                    if len(raw) == 4:
                        ip = socket.inet_ntoa(raw[::-1])
                    else:
                        # four host-order 32-bit words
                        b = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                        if b[:12] == b"\0" * 10 + b"\xff\xff":
                            ip = socket.inet_ntoa(b[12:])
                        elif b == b"\0" * 16:
                            ip = "0.0.0.0"
                        else:
                            ip = socket.inet_ntop(socket.AF_INET6, b)
                    result.add((ip, int(hexport, 16)))
        except OSError:
            pass
    return result


def is_listening(host, port):
    """True if something listens on host:port. For 127.0.0.1 a listener on
    ::1 counts too: xrdp 0.9.21 built with --enable-ipv6 binds "127.0.0.1"
    as [::1] (seen with xrdp-sesman's ListenAddress), and its connect side
    tries both."""
    ports = _listening_ports()
    hosts = {host, "0.0.0.0"}
    if host == "127.0.0.1":
        hosts.add("::1")
    return any((h, port) in ports for h in hosts)
