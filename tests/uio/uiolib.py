#!/usr/bin/python3
"""Harness of the uio_ tests: md9 run --transport uio, unmodified, against
the emulated uio_hv_generic (md9-hostsim --uio-root DIR --kernel VERSION,
hostsim/uiokern.c) with the preload library tests/uio/uioemu.c in md9's
process. Python 3 standard library only.

It extends tests/fault/faultlib.py and tests/lib (same processes, logs,
checks, timeouts, MD9_WRAPPER for valgrind): the md9-testserver / md9-testclient pair verifies
every byte, md9 and md9-hostsim must exit 0 at the end without an error
line. What differs:

* ``h.hostsim(kernel, *args, monitored=False, udev="auto")``: the emulated
  kernel and Hyper-V; ``.uio_status()`` parses the kernel's device list;
  ``.root`` is the tree (``md9 run --root``).
* ``h.md9(hostsim, server, *extra)``: ``md9 run --root ROOT --transport
  uio`` with ``LD_PRELOAD`` and ``MD9_UIO_KERNEL``; started as root it runs
  with ``user = nobody`` (the privilege drop) and the emulated udev gives
  the nodes to group nogroup.
* ``h.doctor(hostsim)``: ``md9 doctor --root ROOT`` and its lines.

Binaries: MD9_BIN, MD9_HOSTSIM, MD9_TESTSERVER, MD9_TESTCLIENT as in
faultlib, plus MD9_UIOEMU (libmd9uioemu.so) and MD9_UIO_SELFTEST
(uio-selftest); by hand they are looked for in build-a/, build/.
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "fault"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import faultlib  # noqa: E402,F401 (test_uio.py runs its processes through it)
import md9test  # noqa: E402 (faultlib puts tests/lib on the path)
from faultlib import (BYTES_SCALE, NEGO_H2S, NEGO_S2H, FaultHarness, Server,  # noqa: E402,F401
                      check_complete, check_md9_counts)
from md9test import (LOOPBACK, SKIP, WRAPPER, LogStream, MiB, Skip, T,  # noqa: E402,F401
                     TestFailure, check, child_env, guarded)

IS_ROOT = os.geteuid() == 0
# Who md9 becomes after new_id (started as root): a real unprivileged user
# that exists everywhere, and the group the emulated udev gives the nodes.
RUN_USER = "nobody"
NODE_GROUP = "nogroup"
CONTROL = "99221fa0-24ad-11e2-be98-001aa01bbf6e"


def data_instance(i):
    """Data channel instance i (0-based): 99221FA1..."""
    return "99221f%02x-24ad-11e2-be98-001aa01bbf6e" % (0xa1 + i)


def _bin(env, rels):
    """A build product (a program or the preload library): $env or a build
    directory's."""
    return md9test.binary(env, *rels, mode=os.R_OK)


def preload_env(root):
    """The environment md9 runs with: the preload library in front, the
    emulated kernel's socket, and an ASan that accepts a library loaded
    before it (gcc's dynamic runtime checks the order; clang's static one
    does not)."""
    env = child_env()
    lib = os.path.abspath(_bin("MD9_UIOEMU", ["tests/uio/libmd9uioemu.so"]))
    env["LD_PRELOAD"] = lib + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
    env["MD9_UIO_KERNEL"] = os.path.join(root, "kernel.sock")
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
    return env


class UioHostsim(md9test.Hostsim):
    """md9-hostsim as the guest kernel and the host."""

    def __init__(self, tmp, kernel, args, monitored=False, udev="auto"):
        n = 0
        while os.path.exists(os.path.join(tmp, "uio%d" % n)):
            n += 1
        self.root = os.path.join(tmp, "uio%d" % n)
        os.mkdir(self.root)
        self.kernel = kernel
        self.argv = WRAPPER + [_bin("MD9_HOSTSIM", ["hostsim/md9-hostsim"]),
                               "--uio-root", self.root, "--kernel", kernel,
                               "--raw-listen", "%s:0" % LOOPBACK, "--commands",
                               "--udev", udev]
        if IS_ROOT:
            self.argv += ["--udev-group", NODE_GROUP]
        if monitored:
            self.argv.append("--monitored")
        self.argv += list(args)
        self.proc = subprocess.Popen(guarded(self.argv), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.out = LogStream("md9-hostsim stdout", self.proc.stdout)
        self.log = LogStream("md9-hostsim", self.proc.stderr)
        m = self.out.wait_for(r"^ready uio:(\S+) raw=(-?\d+) rdp=(-?\d+)", T(10))[0]
        check(m.group(1) == self.root, "hostsim serves %s, not %s" % (m.group(1), self.root))
        self.raw_port = int(m.group(2))
        self.rdp_port = int(m.group(3))
        check(self.raw_port > 0, "hostsim has no raw front end")
        self.exit_code = None

    def uio_status(self):
        """{guid: {minor, relid, bound, dead, open, monitored}} of the
        devices the emulated kernel has registered."""
        mark = self.out.mark()
        self.command("uio-status", wait=False)
        self.out.wait_for(r"^uio end$", T(10), since=mark)
        res = {}
        for line in self.out.snapshot(mark):
            m = re.match(r"^uio dev (\S+) (.*)$", line)
            if m:
                res[m.group(1)] = {k: int(v) for k, v in
                                   (p.split("=") for p in m.group(2).split())}
        return res

    def wait_open_count(self, guid, n, timeout=None):
        """The kernel counts n open files on guid (it sees md9's close and
        munmap asynchronously: look until it does, bounded)."""
        deadline = time.monotonic() + (timeout or T(10))
        while True:
            st = self.uio_status()
            if guid in st and st[guid]["open"] == n:
                return st[guid]
            check(time.monotonic() < deadline,
                  "the kernel counts %s open file(s) on %s, not %d"
                  % (st.get(guid, {}).get("open"), guid, n))

    def kmsg(self):
        with open(os.path.join(self.root, "dev", "kmsg")) as f:
            return f.read()


class UioMd9(md9test.Md9):
    """md9 run --transport uio --root ROOT, the production code, unmodified."""

    def __init__(self, tmp, hostsim, server_port, extra=(), wait_ready=True, conf_lines=()):
        conf = os.path.join(tmp, "md9-%s.conf" % os.path.basename(hostsim.root))
        with open(conf, "w") as f:
            f.write("[md9]\nstatus_socket =\n")
            if IS_ROOT:
                f.write("user = %s\n" % RUN_USER)
            for line in conf_lines:
                f.write(line + "\n")
        os.chmod(conf, 0o644)
        self.root = hostsim.root
        self.argv = WRAPPER + [_bin("MD9_BIN", ["src/md9", "md9"]), "run", "-c", conf,
                               "--root", hostsim.root, "--transport", "uio",
                               "--backend", "tcp:%s:%d" % (LOOPBACK, server_port),
                               "-v"] + list(extra)
        self.allow_errors = False
        self.proc = subprocess.Popen(guarded(self.argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=preload_env(hostsim.root))
        self.pid = self.proc.pid
        self.log = LogStream("md9", self.proc.stdout)
        self.exit_code = None
        if wait_ready:
            self.wait_ready()


class UioHarness(FaultHarness):
    def __init__(self, name):
        super().__init__(name)
        # md9 reads the tree after dropping to nobody.
        os.chmod(self.tmp, 0o755)

    def hostsim(self, kernel, *args, monitored=False, udev="auto"):
        hs = UioHostsim(self.tmp, kernel, args, monitored, udev)
        self.hostsims.append(hs)
        return hs

    def md9(self, hostsim, server, *extra, wait_ready=True, conf_lines=()):
        port = server.port if isinstance(server, Server) else server
        m = UioMd9(self.tmp, hostsim, port, extra, wait_ready, conf_lines)
        self.md9s.append(m)
        return m

    def doctor(self, hostsim, *extra, as_user=None):
        """md9 doctor --root ROOT (as_user: run as that user, through
        setpriv): (exit status, output lines)."""
        argv = [_bin("MD9_BIN", ["src/md9", "md9"]), "doctor", "--root",
                hostsim.root] + list(extra)
        if as_user:
            argv = ["setpriv", "--reuid", as_user, "--regid", NODE_GROUP, "--clear-groups",
                    "--"] + argv
        env = child_env()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=T(30), env=env)
        out = p.stdout.decode("utf-8", "replace").splitlines()
        self.notes.append("md9 doctor --root: exit %d" % p.returncode)
        self.doctor_out = out
        return p.returncode, out

    def dump(self, out=sys.stderr):
        super().dump(out)
        if getattr(self, "doctor_out", None):
            print("---- md9 doctor ----", file=out)
            for x in self.doctor_out:
                print("  " + x, file=out)


def needs(*what):
    """Decorator: the case is skipped (exit 77) unless each of what holds:
    "root" (real users and modes), or a program name on $PATH."""
    def mark(fn):
        fn.needs = what
        return fn
    return mark


def _missing(fn):
    for w in getattr(fn, "needs", ()):
        if w == "root":
            if not IS_ROOT:
                return "needs root"
        elif not shutil.which(w):
            return "%s is not installed" % w
    return None


def _with_needs(fn):
    """fn, skipped (tests/lib: Skip, exit 77) when a prerequisite is missing."""
    def case(h):
        why = _missing(fn)
        if why:
            raise Skip(why)
        return fn(h)
    return case


def main(cases, argv=None):
    """FILE CASE... | FILE --list | FILE (all): tests/lib's main with a
    UioHarness per case."""
    return md9test.main({n: _with_needs(fn) for n, fn in cases.items()}, UioHarness,
                        argv=argv)
