#!/usr/bin/python3
"""The demo's promise: Ctrl-C stops everything it started, and nothing it
started outlives it (processes, the demo user).

Runs tools/demo.py without $DISPLAY (it then prints how to connect and
waits), collects every process below it once it is up, sends SIGINT, and
checks that the demo exits 0, that none of those processes is left and
that the demo user is gone.
"""

import os
import pwd
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))

from md9test import LogStream, TestFailure, alive, check, descendants  # noqa: E402


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(REPO, "tools", "demo.py")],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    out = LogStream("demo", p.stdout)
    try:
        m = out.wait_for(r"connect any RDP client to 127\.0\.0\.1:(\d+) \(user (\S+),", 60)[0]
        user = m.group(2)
        out.wait_for(r"waiting; Ctrl-C stops everything", 10)
        tree = descendants([p.pid]) - {p.pid}
        names = sorted({open("/proc/%d/comm" % q).read().strip()
                        for q in tree if alive(q)})
        for need in ("md9", "md9-hostsim", "xrdp", "xrdp-sesman"):
            check(need in names, "the demo runs no %s (it runs %s)" % (need, names))
        pwd.getpwnam(user)  # the demo user exists while it runs
        p.send_signal(signal.SIGINT)
        rc = p.wait(30)
        check(rc == 0, "the demo exited with %s after Ctrl-C" % rc)
        out.wait_for(r"everything the demo started has stopped", 5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(q) for q in tree):
            time.sleep(0.1)  # reaping by init is asynchronous
        left = [q for q in tree if alive(q)]
        check(not left, "still running after Ctrl-C: %s" % [
            open("/proc/%d/cmdline" % q).read().replace("\0", " ") for q in left])
        try:
            pwd.getpwnam(user)
            raise TestFailure("the demo user %s outlived the demo" % user)
        except KeyError:
            pass
        print("PASS: Ctrl-C stopped %d processes (%s) and removed user %s"
              % (len(tree), ", ".join(names), user))
        return 0
    except TestFailure as e:
        print("FAIL: %s\n--- demo output ---\n%s" % (e, "\n".join(out.snapshot())))
        return 1
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
