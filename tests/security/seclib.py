"""Helpers for md9's security tests (Python 3 standard library only).

Real unprivileged users, made by the test with useradd and removed with
userdel at the end (also on failure): md9 runs as one of them, an impostor
as another, a status-group member as a third. Which user md9 runs as is
always the test's choice (never whatever the machine has: a system user md9
may or may not exist).

Users and groups are named md9t<role><6 hex>; a test killed with SIGKILL
leaves them behind: remove them with userdel/groupdel.
"""

import atexit
import grp
import os
import pwd
import secrets
import subprocess

_made_users = []
_made_groups = []


def _cleanup():
    for name in reversed(_made_users):
        subprocess.run(["userdel", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    for name in reversed(_made_groups):
        subprocess.run(["groupdel", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    del _made_users[:]
    del _made_groups[:]


atexit.register(_cleanup)
cleanup = _cleanup


def _run(argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stdout.decode().strip()))


class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid


def make_group(role):
    name = "md9t%s%s" % (role, secrets.token_hex(3))
    _run(["groupadd", "--system", name])
    _made_groups.append(name)
    return name


def make_user(role, groups=()):
    """A fresh system user md9t<role><hex>, no home, no login shell."""
    name = "md9t%s%s" % (role, secrets.token_hex(3))
    argv = ["useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"]
    groups = [g for g in groups if g]
    if groups:
        argv += ["--groups", ",".join(groups)]
    _run(argv + [name])
    _made_users.append(name)
    _made_groups.append(name)  # its user group; userdel usually takes it
    return User(name)


def as_user(user):
    """Popen keyword arguments that run the child as `user` (uid, gid and
    its supplementary groups from the group database)."""
    groups = [g.gr_gid for g in grp.getgrall() if user.name in g.gr_mem]
    return {"user": user.uid, "group": user.gid, "extra_groups": groups}


def have_prerequisites():
    """None, or why the security tests cannot run here."""
    if os.geteuid() != 0:
        return "needs root (creates users)"
    for prog in ("useradd", "userdel", "groupadd", "groupdel", "setpriv"):
        if subprocess.run(["sh", "-c", "command -v " + prog],
                          stdout=subprocess.DEVNULL).returncode != 0:
            return "%s is not installed" % prog
    return None
