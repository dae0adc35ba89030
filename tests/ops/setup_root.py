"""What test_setup and test_setup_desktop share: the case's root (a bare
Debian-like /etc), `md9 setup --root` run on it, a snapshot of the tree,
the diff md9 printed for a file and the check that patch(1) applies it."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

import md9test  # noqa: E402
from md9test import Skip, TmpDir, binary, check  # noqa: E402

MD9 = binary("MD9_BIN", "src/md9", "md9")
MD9_PATH = "/usr/bin/md9"  # what the installed unit and rule name (--md9-path)
SOCK = "/run/xrdp/xrdp.sock"  # src/ops/xrdp_listen.h MD9_XRDP_SOCKET
UNIX_LISTENER = "unix://." + SOCK

# A Debian-like xrdp.ini (the parts that matter, with comments around).
XRDP_INI = """[Globals]
; xrdp.ini file version number
ini_version=1

; fork a new process for each incoming connection
fork=true

; ports to listen on, number alone means listen on all interfaces
port=3389

; 'port' above should be connected to with vsock instead of tcp
use_vsock=false

; security layer can be 'tls', 'rdp' or 'negotiate'
; for client compatible layer
security_layer=negotiate

; minimum security level allowed for client for classic RDP encryption
; can be 'none', 'low', 'medium', 'high', 'fips'
crypt_level=high

; X.509 certificate and private key
certificate=
key_file=

[Logging]
LogFile=xrdp.log
LogLevel=INFO

[Xorg]
name=Xorg
lib=libxup.so
port=-1
"""


def snapshot(root):
    """{relative path: (kind, content hash or link target, mode)}."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p), 0)
            elif os.path.isdir(p):
                out[rel] = ("dir", "", st.st_mode & 0o7777)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest(),
                                st.st_mode & 0o7777)
    return out


def read(root, rel):
    with open(os.path.join(root, rel.lstrip("/"))) as f:
        return f.read()


def write(root, rel, text):
    md9test.write(os.path.join(root, rel.lstrip("/")), text)


class Root(TmpDir):
    """A case's root: a bare Debian-like /etc, with a stock xrdp.ini unless
    the case is about a system without xrdp. The case is given its path."""

    prefix = "md9-setup-"

    def __init__(self, name):
        super().__init__(name)
        root = self.tmp
        write(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        write(root, "/etc/group", "root:x:0:\n")
        write(root, "/etc/shadow", "root:*:19000:0:99999:7:::\n")
        write(root, "/etc/gshadow", "root:*::\n")
        os.chmod(os.path.join(root, "etc/shadow"), 0o640)
        if name != "packaged_and_no_xrdp":
            write(root, "/etc/xrdp/xrdp.ini", XRDP_INI)
            write(root, "/etc/group", "root:x:0:\nxrdp:x:109:\n")
        # the md9 that the unit and the rule name: root's, 0755
        write(root, MD9_PATH, "#!/bin/sh\n")
        os.chmod(os.path.join(root, MD9_PATH.lstrip("/")), 0o755)
        if name.startswith("desktop_"):
            # md9's own files as the package installs them: only the
            # desktop steps have something to do
            for rel in ("/usr/lib/sysusers.d/md9.conf", "/usr/lib/modules-load.d/md9.conf",
                        "/usr/lib/udev/rules.d/60-md9.rules",
                        "/usr/lib/systemd/system/md9.service",
                        "/etc/systemd/system/multi-user.target.wants/md9.service"):
                write(root, rel, "")
            write(root, "/etc/md9/md9.conf", "[md9]\n")
            write(root, "/etc/passwd", read(root, "/etc/passwd") +
                  "md9:x:999:999::/nonexistent:/usr/sbin/nologin\n")
            write(root, "/etc/group", read(root, "/etc/group") + "md9:x:999:\n")


def setup(root, *args):
    argv = [MD9, "setup", "--root", root, "--md9-path", MD9_PATH] + list(args)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return r.returncode, r.stdout.decode()


def diff_of(out, rel):
    """The unified diff md9 printed for /etc/... (from --- to the next non-diff line)."""
    lines = out.splitlines()
    start = lines.index("--- a" + rel)
    body = []
    for line in lines[start:]:
        if body and not re.match(r"^([-+ @\\]|--- |\+\+\+ )", line):
            break
        body.append(line)
    return "\n".join(body) + "\n"




def check_patch_gives(d, before, after, what):
    """The unified diff d turns the text before into after (patch(1))."""
    work = tempfile.mkdtemp()
    try:
        f = os.path.join(work, "f")
        with open(f, "w") as fh:
            fh.write(before or "")
        p = subprocess.run(["patch", "-s", f], input=d.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        check(p.returncode == 0, "patch refused md9's diff of %s:\n%s\n%s" % (
            what, d, p.stdout.decode()))
        check(read(work, "f") == after, "the diff of %s does not give the new file" % what)
    finally:
        shutil.rmtree(work)


def can_create_users():
    return os.geteuid() == 0 and any(
        os.access(p, os.X_OK) for p in ("/usr/bin/systemd-sysusers", "/usr/sbin/useradd"))



def prerequisites():
    if os.geteuid() != 0:
        raise Skip("needs root (the md9 setup names must be root's)")

