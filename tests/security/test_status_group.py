#!/usr/bin/python3
"""The status group gives status, not sessions (issue 15, point 4).

status_group: md9 runs as a fresh user (started as root, user = it) with
status_group = a fresh group. A member of that group can run `md9 status`
and `md9 doctor` (its "md9 running" check answers); a user outside it is
refused with one line naming the group. The member cannot replace the
status socket (its directory is md9's, 0755), and cannot open a channel
device: a node made the way packaging/60-md9.rules.in says udev makes
/dev/uioN (OWNER, GROUP, MODE read from the rule) opens for md9's user
and not for the member or the outsider.

Python 3 standard library; root (creates users and a device node).
"""

import os
import re
import stat
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import seclib  # noqa: E402
from md9test import SKIP, TestFailure, check  # noqa: E402

MD9 = os.environ.get("MD9_BIN")


def as_user_run(user, argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                          cwd="/", **seclib.as_user(user))


def rule_for_uio():
    """OWNER, GROUP, MODE of the uio line of the udev rule md9 ships."""
    with open(os.path.join(REPO, "packaging", "60-md9.rules.in")) as f:
        for line in f:
            if 'SUBSYSTEM=="uio"' in line and not line.startswith("#"):
                kv = dict(re.findall(r'\b(OWNER|GROUP|MODE)="([^"]*)"', line))
                return kv.get("OWNER"), kv.get("GROUP", "root"), int(kv.get("MODE", "0600"), 8)
    raise TestFailure("no uio line in 60-md9.rules.in")


def case_status_group(h):
    group = seclib.make_group("st")
    runner = seclib.make_user("run", groups=[group])
    member = seclib.make_user("mem", groups=[group])
    outsider = seclib.make_user("out")
    os.chmod(h.tmp, 0o755)
    hs = h.hostsim()
    os.chown(hs.bus, runner.uid, runner.gid)
    rundir = os.path.join(h.tmp, "run-md9")
    sock = os.path.join(rundir, "status.sock")
    conf = os.path.join(h.tmp, "md9.conf")
    with open(conf, "w") as f:
        f.write("[md9]\nuser = %s\nstatus_socket = %s\nstatus_group = %s\n"
                % (runner.name, sock, group))
    os.chmod(conf, 0o644)
    m = h.md9(hs, "tcp:127.0.0.1:9", "auto")
    m.wait_for_log(r"status socket %s: md9 status answers there" % re.escape(sock))
    st = os.stat(sock)
    import grp
    check(st.st_gid == grp.getgrnam(group).gr_gid and stat.S_IMODE(st.st_mode) == 0o660,
          "status socket gid %d mode %o" % (st.st_gid, stat.S_IMODE(st.st_mode)))
    d = os.stat(rundir)
    check(d.st_uid == runner.uid and stat.S_IMODE(d.st_mode) & 0o022 == 0,
          "the socket's directory: owner %d mode %o" % (d.st_uid, stat.S_IMODE(d.st_mode)))

    # status: the member yes, the outsider no (one line naming the group)
    r = as_user_run(member, [MD9, "status", "--socket", sock])
    check(r.returncode == 0 and b"control channel: ready" in r.stdout,
          "member: %d %s" % (r.returncode, r.stderr))
    r = as_user_run(outsider, [MD9, "status", "--socket", sock])
    err = r.stderr.decode().strip().splitlines()
    check(r.returncode == 1 and len(err) == 1 and "Permission denied" in err[0]
          and "md9-status" in err[0], "outsider: %d %s" % (r.returncode, err))
    # doctor as the member: its md9 check answers through the group
    r = as_user_run(member, [MD9, "doctor", "-c", conf])
    out = r.stdout.decode()
    check(re.search(r"^ok\s+md9 running\s+md9 answers on %s" % re.escape(sock), out, re.M),
          "doctor as a member:\n" + out + r.stderr.decode())
    r = as_user_run(outsider, [MD9, "doctor", "-c", conf])
    check(re.search(r"^warn\s+md9 running\s+.*permission denied", r.stdout.decode(), re.M),
          "doctor as an outsider:\n" + r.stdout.decode())
    # the member cannot replace the socket
    r = as_user_run(member, ["/usr/bin/python3", "-c",
                             "import os,sys; os.unlink(sys.argv[1])", sock])
    check(r.returncode != 0 and os.path.exists(sock), "a member removed the status socket")

    # a channel device as udev makes it from md9's rule
    owner, group_name, mode = rule_for_uio()
    check(owner == "md9" and mode & 0o077 == 0, "the rule: OWNER=%s MODE=%o" % (owner, mode))
    node = os.path.join(h.tmp, "uio-test")
    os.mknod(node, stat.S_IFCHR | mode, os.makedev(1, 3))   # /dev/null's numbers
    os.chown(node, runner.uid, grp.getgrnam(group_name).gr_gid)  # OWNER=md9 is md9's user
    opener = "import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR))"
    r = as_user_run(runner, ["/usr/bin/python3", "-c", opener, node])
    check(r.returncode == 0, "md9's user cannot open the node: %s" % r.stderr)
    for u in (member, outsider):
        r = as_user_run(u, ["/usr/bin/python3", "-c", opener, node])
        check(r.returncode != 0 and b"PermissionError" in r.stderr,
              "%s opened the channel device" % u.name)


CASES = {"status_group": case_status_group}

if __name__ == "__main__":
    why = seclib.have_prerequisites()
    if why:
        print("SKIP: %s" % why)
        sys.exit(SKIP)
    if not MD9:
        print("set $MD9_BIN")
        sys.exit(1)
    try:
        rc = harness.main(CASES)
    finally:
        seclib.cleanup()
    sys.exit(rc)
