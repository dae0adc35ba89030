#!/usr/bin/python3
"""`md9 setup --root DIR` on temporary trees.

Cases: --dry-run changes nothing and shows the diff and the md9 path it
would name; a real run installs
every file, creates the md9 user, enables the unit, edits xrdp.ini for the
mode with a backup and a unified diff that patch(1) applies; a second run
has nothing to do; per-mode edits (rdp, passthrough, tls, auto); packaged
files count as installed; --security rewrites md9.conf; the installed files
are the ones in packaging/; xrdp and md9 meet on xrdp's UNIX socket by
default (--tcp keeps TCP); crypt_level=none never stays on a listener the
network reaches; a user-writable md9 is never named in the unit or the rule;
symlinked targets, planted temporary files, the backup's mode and owner
(issue 15). Needs root (the md9 it names must be root's).  The desktop steps (drive mount name, X wrapper,
colord's polkit rule): a dry run shows diffs patch(1) applies, a run applies
them with backups, a second run has nothing to do, --undo puts the files
back and a second --undo has nothing to do; each step only where it applies
(Xorg run directly, no colord, a chosen mount name, drives switched off);
the .pkla form for polkit 0.105; --undo leaves files alone that were changed
after md9 wrote them or that md9 did not write.

Python 3 standard library only.  $MD9_BIN is md9, $MD9_REPO the source tree.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

import md9test  # noqa: E402
from md9test import REPO, Skip, TmpDir, binary, check, main  # noqa: E402

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


def can_create_users():
    return os.geteuid() == 0 and any(
        os.access(p, os.X_OK) for p in ("/usr/bin/systemd-sysusers", "/usr/sbin/useradd"))


# ---------------------------------------------------------------------------

def case_dry_run(root):
    before = snapshot(root)
    rc, out = setup(root, "--dry-run", "--security", "rdp")
    check(rc == 0, "exit %d:\n%s" % (rc, out))
    check(snapshot(root) == before, "--dry-run changed the tree:\n" + out)
    for what in ("would install  /etc/modules-load.d/md9.conf",
                 "would install  /etc/udev/rules.d/60-md9.rules",
                 "would install  /etc/systemd/system/md9.service",
                 "would install  /etc/md9/md9.conf",
                 "would create   system user and group md9",
                 "would enable   md9.service",
                 "would add      user md9 to group md9-status",
                 "would add      user md9 to group xrdp",
                 "note           md9 for ExecStart= and RUN+=: /usr/bin/md9 (root's",
                 "would edit     /etc/xrdp/xrdp.ini"):
        check(what in out, "%r not in:\n%s" % (what, out))
    check("-crypt_level=high\n+crypt_level=none\n" in out, "no diff in:\n" + out)
    # crypt_level=none: the all-interfaces listener goes, xrdp's socket stays
    check("-port=3389\n+port=%s\n" % UNIX_LISTENER in out, "no port diff in:\n" + out)
    check(re.search(r"^md9 setup --dry-run: \d+ change\(s\) would be made; nothing was changed$",
                    out, re.M), out)


def case_real_run_then_nothing(root):
    original = read(root, "/etc/xrdp/xrdp.ini")
    rc, out = setup(root, "--security", "rdp")
    check(rc == 0, "exit %d:\n%s" % (rc, out))
    # every file, from packaging/ with md9's path filled in
    pkg = os.path.join(REPO, "packaging")
    expect = {
        "/etc/modules-load.d/md9.conf": read(pkg, "modules-load.conf"),
        "/etc/sysusers.d/md9.conf": read(pkg, "sysusers.conf"),
        "/etc/udev/rules.d/60-md9.rules":
            read(pkg, "60-md9.rules.in").replace("@MD9_BIN@", MD9_PATH),
        "/etc/systemd/system/md9.service":
            read(pkg, "md9.service.in").replace("@MD9_BIN@", MD9_PATH),
    }
    for rel, text in expect.items():
        check(read(root, rel) == text, "%s differs from packaging/" % rel)
    check("ExecStart=/usr/bin/md9 run" in read(root, "/etc/systemd/system/md9.service"), "unit")
    check('RUN+="/usr/bin/md9 bind-classes"' in read(root, "/etc/udev/rules.d/60-md9.rules"),
          "rule")
    conf = read(root, "/etc/md9/md9.conf")
    check(re.search(r"^security = rdp$", conf, re.M), "md9.conf has no security = rdp:\n" + conf)
    check(re.search(r"^backend = unix:%s$" % SOCK, conf, re.M), "md9.conf backend:\n" + conf)
    check(conf.replace("security = rdp\n", "").replace("backend = unix:%s\n" % SOCK, "") ==
          read(pkg, "md9.conf"), "md9.conf is not the example plus security and backend")
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/md9.service")
    check(os.readlink(link) == "/etc/systemd/system/md9.service", "enable link")
    # xrdp.ini: only crypt_level changed; the backup is the original
    new = read(root, "/etc/xrdp/xrdp.ini")
    check(read(root, "/etc/xrdp/xrdp.ini.md9-backup") == original, "backup")
    check(new == original.replace("crypt_level=high", "crypt_level=none")
          .replace("port=3389", "port=" + UNIX_LISTENER), "xrdp.ini edit:\n" + new)
    # the printed diff is a real unified diff: patch turns the backup into the new file
    d = diff_of(out, "/etc/xrdp/xrdp.ini")
    work = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(root, "etc/xrdp/xrdp.ini.md9-backup"),
                    os.path.join(work, "xrdp.ini"))
        p = subprocess.run(["patch", "-s", os.path.join(work, "xrdp.ini")], input=d.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        check(p.returncode == 0, "patch refused md9's diff:\n%s\n%s" % (d, p.stdout.decode()))
        check(read(work, "xrdp.ini") == new, "patched file differs")
    finally:
        shutil.rmtree(work)
    if can_create_users():
        check(re.search(r"^md9:x:\d+:\d+:", read(root, "/etc/passwd"), re.M),
              "no md9 user:\n" + out)
        check(re.search(r"^md9:x:\d+:", read(root, "/etc/group"), re.M), "no md9 group")
        groups = read(root, "/etc/group")
        check(re.search(r"^md9-status:x:\d+:md9$", groups, re.M), "md9-status:\n" + groups)
        check(re.search(r"^xrdp:x:109:md9$", groups, re.M), "md9 not in xrdp:\n" + groups)
    check(re.search(r"^md9 setup: \d+ change\(s\) made", out, re.M), out)
    # the second run: nothing to do, nothing touched
    before = snapshot(root)
    rc, out2 = setup(root)
    check(rc == 0, "second run exit %d:\n%s" % (rc, out2))
    check("md9 setup: nothing to do: everything is in place" in out2, out2)
    check("security mode rdp" in out2, "the mode comes from md9.conf now:\n" + out2)
    check(snapshot(root) == before, "the second run changed the tree:\n" + out2)
    # and so does a dry run
    rc, out3 = setup(root, "--dry-run")
    check(rc == 0 and "nothing to do" in out3, out3)


def case_modes(root):
    # passthrough: vmconnect=true added to [Globals], nothing else
    rc, out = setup(root, "--security", "passthrough")
    check(rc == 0, out)
    ini = read(root, "/etc/xrdp/xrdp.ini")
    globals_part = ini.split("[Logging]")[0]
    check("\nvmconnect=true\n" in globals_part, "vmconnect not in [Globals]:\n" + ini)
    check(ini.replace("vmconnect=true\n", "") ==
          XRDP_INI.replace("port=3389", "port=3389 " + UNIX_LISTENER), "other edits:\n" + ini)
    check("+vmconnect=true" in out, out)
    # switching to tls: security_layer=negotiate already allows TLS: no edit;
    # md9.conf's security is rewritten (with a diff)
    rc, out = setup(root, "--security", "tls")
    check(rc == 0, out)
    check("-security = passthrough\n+security = tls" in out, out)
    check("ok             /etc/xrdp/xrdp.ini fits md9's tls mode" in out, out)
    # tls against security_layer=rdp: negotiate; the first backup is kept
    write(root, "/etc/xrdp/xrdp.ini", XRDP_INI.replace("security_layer=negotiate",
                                                       "security_layer=rdp"))
    rc, out = setup(root)
    check(rc == 0, out)
    check("-security_layer=rdp\n+security_layer=negotiate" in out, out)
    check("kept from an earlier run" in out, out)
    check(read(root, "/etc/xrdp/xrdp.ini.md9-backup") == XRDP_INI, "first backup replaced")
    # auto: needs nothing from a stock xrdp but its socket ...
    write(root, "/etc/xrdp/xrdp.ini", XRDP_INI.replace("port=3389", "port=3389 " + UNIX_LISTENER))
    rc, out = setup(root, "--security", "auto")
    check("ok             /etc/xrdp/xrdp.ini fits md9's auto mode" in out, out)
    check(read(root, "/etc/xrdp/xrdp.ini") ==
          XRDP_INI.replace("port=3389", "port=3389 " + UNIX_LISTENER), "auto edited xrdp.ini")
    # ... but crypt_level=none when xrdp forces standard RDP security
    write(root, "/etc/xrdp/xrdp.ini", XRDP_INI.replace("security_layer=negotiate",
                                                       "security_layer=rdp"))
    rc, out = setup(root)
    check("+crypt_level=none" in out, out)
    check("+port=%s\n" % UNIX_LISTENER in out, "network listener kept with crypt none:\n" + out)
    # rdp with security_layer=tls: both keys; a key absent from the file is added
    write(root, "/etc/xrdp/xrdp.ini", XRDP_INI.replace("security_layer=negotiate",
                                                       "security_layer=tls")
          .replace("crypt_level=high\n", ""))
    rc, out = setup(root, "--security", "rdp")
    check(rc == 0, out)
    ini = read(root, "/etc/xrdp/xrdp.ini")
    check("security_layer=negotiate" in ini and "crypt_level=none" in ini.split("[Logging]")[0],
          ini)
    rc, out = setup(root)
    check("nothing to do" in out, out)


def case_packaged_and_no_xrdp(root):
    # files installed by the .deb (under /usr/lib) count; no xrdp: a note only
    for rel, src in (("/usr/lib/modules-load.d/md9.conf", "modules-load.conf"),
                     ("/usr/lib/sysusers.d/md9.conf", "sysusers.conf"),
                     ("/usr/lib/udev/rules.d/60-md9.rules", "60-md9.rules.in"),
                     ("/usr/lib/systemd/system/md9.service", "md9.service.in")):
        write(root, rel, read(os.path.join(REPO, "packaging"), src))
    write(root, "/etc/md9/md9.conf", "[md9]\n")
    rc, out = setup(root)
    check(rc == 0, out)
    for rel in ("/usr/lib/modules-load.d/md9.conf", "/usr/lib/udev/rules.d/60-md9.rules",
                "/usr/lib/systemd/system/md9.service", "/usr/lib/sysusers.d/md9.conf"):
        check(("ok             " + rel) in out, "%s not taken as installed:\n%s" % (rel, out))
    check(not os.path.exists(os.path.join(root, "etc/modules-load.d")), "installed twice")
    check("xrdp is not installed" in out, out)
    link = os.path.join(root, "etc/systemd/system/multi-user.target.wants/md9.service")
    check(os.readlink(link) == "/usr/lib/systemd/system/md9.service", "enable link")
    # a broken md9.conf stops setup before it changes anything
    write(root, "/etc/md9/md9.conf", "[md9]\nsecurity = sometimes\n")
    before = snapshot(root)
    rc, out = setup(root)
    check(rc != 0 and re.search(r"md9\.conf:2: security: ", out), out)
    check(snapshot(root) == before, "changed despite a broken md9.conf")
    rc, out = setup(root, "--security", "bogus")
    check(rc == 2 and "must be auto, tls, rdp or passthrough" in out, out)


def case_bind_classes(root):
    """`md9 bind-classes` (what the udev rule runs) on a fake sysfs."""
    sys_root = os.path.join(root, "sys")
    argv = [MD9, "bind-classes", "--root", root]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    out = r.stdout.decode()
    check(r.returncode == 1 and "uio_hv_generic is not loaded" in out, out)
    new_id = os.path.join(sys_root, "bus/vmbus/drivers/uio_hv_generic/new_id")
    write(root, "/sys/bus/vmbus/drivers/uio_hv_generic/new_id", "")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    out = r.stdout.decode()
    check(r.returncode == 0, out)
    for g in ("f8e65716-3cb3-4a06-9a60-1889c5cccab5", "f9e9c0d3-b511-4a48-8046-d38079a8830c"):
        check("class %s bound to uio_hv_generic" % g in out, out)
    # each class is one write of the lower-case GUID and a newline
    with open(new_id) as f:
        check(f.read() == "f9e9c0d3-b511-4a48-8046-d38079a8830c\n", "new_id content")


def case_unsafe_binary(root):
    """A user-writable md9 (a build tree) is never named in the unit or the
    rule; --dry-run shows the path it checked (issue 15, point 5)."""
    os.chmod(os.path.join(root, MD9_PATH.lstrip("/")), 0o775)
    rc, out = setup(root, "--dry-run")
    check(rc == 1 and "writable by others" in out and "/usr/bin/md9" in out, out)
    rc, out = setup(root)
    check(rc == 1, out)
    check("not installing md9.service" in out and "not installing 60-md9.rules" in out, out)
    check(not os.path.exists(os.path.join(root, "etc/systemd/system/md9.service")), "unit written")
    check(not os.path.exists(os.path.join(root, "etc/udev/rules.d/60-md9.rules")), "rule written")
    os.chmod(os.path.join(root, MD9_PATH.lstrip("/")), 0o755)
    # a directory above it that others can write
    os.chmod(os.path.join(root, "usr/bin"), 0o777)
    rc, out = setup(root, "--dry-run")
    check(rc == 1 and "a directory above" in out, out)
    os.chmod(os.path.join(root, "usr/bin"), 0o755)
    if os.geteuid() == 0:
        os.chown(os.path.join(root, MD9_PATH.lstrip("/")), 65534, 65534)
        rc, out = setup(root, "--dry-run")
        check(rc == 1 and "not root's" in out, out)


def case_file_handling(root):
    """Setup's writes: a planted symlink at the old fixed temporary name is
    not followed; the backup keeps xrdp.ini's mode and owner; a symlinked
    xrdp.ini stays a symlink and its target is edited (issue 15, point 7)."""
    ini = os.path.join(root, "etc/xrdp/xrdp.ini")
    victim = os.path.join(root, "victim")
    write(root, "/victim", "untouched\n")
    for planted in (ini + ".md9-new", ini + ".md9-backup.md9-new"):
        os.symlink(victim, planted)
    os.chmod(ini, 0o640)
    os.chown(ini, 0, 109)
    rc, out = setup(root, "--security", "rdp")
    check(rc == 0, out)
    check(read(root, "/victim") == "untouched\n", "a planted symlink was followed")
    bak = os.stat(ini + ".md9-backup")
    check(bak.st_mode & 0o7777 == 0o640 and bak.st_gid == 109,
          "backup mode %o gid %d" % (bak.st_mode & 0o7777, bak.st_gid))
    st = os.stat(ini)
    check(st.st_mode & 0o7777 == 0o640 and st.st_gid == 109, "xrdp.ini mode/owner changed")
    check(not [n for n in os.listdir(os.path.dirname(ini)) if ".md9-" in n and
               n not in ("xrdp.ini.md9-backup", "xrdp.ini.md9-new",
                         "xrdp.ini.md9-backup.md9-new")], "temporary files left")
    # a symlinked xrdp.ini (e.g. to a managed copy): the link stays
    real = os.path.join(root, "etc/xrdp/managed.ini")
    os.rename(ini, real)
    os.symlink("managed.ini", ini)
    os.unlink(ini + ".md9-backup")
    write(root, "/etc/xrdp/managed.ini", XRDP_INI)
    rc, out = setup(root, "--security", "rdp")
    check(rc == 0, out)
    check(os.path.islink(ini), "xrdp.ini was replaced by a regular file")
    check("crypt_level=none" in read(root, "/etc/xrdp/managed.ini"), "target not edited")


def case_keep_tcp(root):
    """--tcp keeps md9 on TCP; with crypt_level=none xrdp listens on loopback
    only (never an unencrypted listener the network reaches)."""
    rc, out = setup(root, "--tcp", "--security", "rdp")
    check(rc == 0, out)
    ini = read(root, "/etc/xrdp/xrdp.ini")
    check(re.search(r"^port=tcp://\.:3389$", ini, re.M), ini)
    check(not re.search(r"^backend\s*=", read(root, "/etc/md9/md9.conf"), re.M),
          "md9.conf backend changed")


# ---- the desktop steps (src/ops/desktop.c and one file per step) ----------

# The parts of Debian 12's sesman.ini the steps read, with comments around.
SESMAN_INI = """[Globals]
ListenAddress=127.0.0.1
ListenPort=3350

[Xorg]
; Specify the path of non-suid Xorg executable.
param=/usr/lib/xorg/Xorg
param=-config
param=xrdp/xorg.conf

[Chansrv]
; drive redirection
#FuseMountName=/run/user/%u/thinclient_drives
FuseMountName=thinclient_drives
; this value allows only the user to access their own mapped drives.
FileUmask=077
"""
XWRAPPER = "# Xwrapper.config (Debian X Window System server wrapper configuration file)\n" \
           "allowed_users=console\n"
RULES = "/etc/polkit-1/rules.d/45-md9-colord.rules"
PKLA = "/etc/polkit-1/localauthority/50-local.d/45-md9-colord.pkla"
DESKTOP_FILES = ("/etc/xrdp/sesman.ini", "/etc/X11/Xwrapper.config", RULES, PKLA,
                 "/etc/xrdp/sesman.ini.md9-backup", "/etc/X11/Xwrapper.config.md9-backup")


def desktop_root(root, wrapper=True, colord=True, polkit="rules", xwrapper=XWRAPPER,
                 sesman=SESMAN_INI):
    """An xrdp desktop as the linux-vm-tools scripts found it: sesman.ini,
    and as asked the Xorg wrapper in use, colord, a polkit flavour."""
    if wrapper:
        sesman = sesman.replace("param=/usr/lib/xorg/Xorg", "param=Xorg")
        write(root, "/usr/lib/xorg/Xorg.wrap", "")
    if sesman is not None:
        write(root, "/etc/xrdp/sesman.ini", sesman)
    if xwrapper is not None:
        write(root, "/etc/X11/Xwrapper.config", xwrapper)
    if colord:
        write(root, "/usr/share/polkit-1/actions/org.freedesktop.color.policy", "<policyconfig/>\n")
    if polkit == "rules":
        os.makedirs(os.path.join(root, "usr/share/polkit-1/rules.d"), exist_ok=True)
    elif polkit == "pkla":
        os.makedirs(os.path.join(root, "etc/polkit-1/localauthority/50-local.d"), exist_ok=True)


def desktop_state(root):
    return {rel: read(root, rel) if os.path.exists(os.path.join(root, rel.lstrip("/"))) else None
            for rel in DESKTOP_FILES}


def hunks_of(out, rel):
    """The diff md9 printed for rel, read by its hunk headers' line counts
    (md9's own output lines also start with spaces)."""
    lines = out.splitlines()
    i = next(k for k, x in enumerate(lines)
             if x.startswith("--- ") and lines[k + 1] == "+++ b" + rel)
    body = lines[i:i + 2]
    i += 2
    while i < len(lines):
        m = re.match(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@$", lines[i])
        if not m:
            break
        old = int(m.group(1) or 1) if m.group(1) != "0" else 0
        new = int(m.group(2) or 1) if m.group(2) != "0" else 0
        body.append(lines[i])
        i += 1
        while old or new:
            x = lines[i]
            body.append(x)
            i += 1
            if x.startswith("\\"):
                continue
            old -= x[0] in " -"
            new -= x[0] in " +"
    return "\n".join(body) + "\n"


def check_patch(out, rel, before, after):
    """md9's printed diff turns the old text into the new one (patch(1))."""
    d = hunks_of(out, rel)
    work = tempfile.mkdtemp()
    try:
        f = os.path.join(work, "f")
        with open(f, "w") as fh:
            fh.write(before or "")
        p = subprocess.run(["patch", "-s", f], input=d.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        check(p.returncode == 0, "patch refused md9's diff of %s:\n%s\n%s" % (
            rel, d, p.stdout.decode()))
        check(read(work, "f") == after, "the diff of %s does not give the new file" % rel)
    finally:
        shutil.rmtree(work)


def case_desktop_diff_apply_undo(root):
    desktop_root(root)
    original = desktop_state(root)
    # --dry-run: the three diffs, nothing changed
    before = snapshot(root)
    rc, out = setup(root, "--dry-run")
    check(rc == 0, out)
    check(snapshot(root) == before, "--dry-run changed the tree:\n" + out)
    for what in ("would edit     /etc/xrdp/sesman.ini (drive mount name)",
                 "would edit     /etc/X11/Xwrapper.config (X wrapper)",
                 "would create   %s (colour profiles)" % RULES):
        check(what in out, "%r not in:\n%s" % (what, out))
    check("-FuseMountName=thinclient_drives\n+FuseMountName=shared-drives\n" in out, out)
    check("-allowed_users=console\n+allowed_users=anybody\n" in out, out)
    check("--- /dev/null\n+++ b%s\n" % RULES in out, out)
    # apply: what the diffs said, with backups of the edited files
    rc, out = setup(root)
    check(rc == 0, out)
    sesman = read(root, "/etc/xrdp/sesman.ini")
    check(sesman == original["/etc/xrdp/sesman.ini"].replace(
        "FuseMountName=thinclient_drives", "FuseMountName=shared-drives"), sesman)
    check(read(root, "/etc/X11/Xwrapper.config") == XWRAPPER.replace("console", "anybody"),
          read(root, "/etc/X11/Xwrapper.config"))
    check(read(root, "/etc/xrdp/sesman.ini.md9-backup") == original["/etc/xrdp/sesman.ini"],
          "sesman.ini backup")
    check(read(root, "/etc/X11/Xwrapper.config.md9-backup") == XWRAPPER, "Xwrapper backup")
    rule = read(root, RULES)
    check("polkit.addRule(" in rule and "org.freedesktop.color-manager." in rule
          and "polkit.Result.NO" in rule and "!(subject.local && subject.active)" in rule, rule)
    check(os.stat(os.path.join(root, RULES.lstrip("/"))).st_mode & 0o777 == 0o644, "rule mode")
    for rel in ("/etc/xrdp/sesman.ini", "/etc/X11/Xwrapper.config"):
        check_patch(out, rel, original[rel], read(root, rel))
    check_patch(out, RULES, "", rule)
    # idempotent
    applied = snapshot(root)
    rc, out = setup(root)
    check(rc == 0 and "md9 setup: nothing to do: everything is in place" in out, out)
    for what in ("ok             drive mount name: ", "ok             X wrapper: ",
                 "ok             colour profiles: "):
        check(what in out, "%r not in:\n%s" % (what, out))
    check(snapshot(root) == applied, "the second run changed the tree:\n" + out)
    # --undo --dry-run shows it and changes nothing
    rc, out = setup(root, "--undo", "--dry-run")
    check(rc == 0, out)
    check(snapshot(root) == applied, "--undo --dry-run changed the tree:\n" + out)
    check("would restore  /etc/xrdp/sesman.ini" in out and
          "would remove   %s" % RULES in out, out)
    check("-FuseMountName=shared-drives\n+FuseMountName=thinclient_drives\n" in out, out)
    # --undo: back to the original files, backups gone
    rc, out = setup(root, "--undo")
    check(rc == 0, out)
    check(desktop_state(root) == original, "after --undo: %r\n%s" % (desktop_state(root), out))
    check(re.search(r"^md9 setup --undo: 3 change\(s\) made$", out, re.M), out)
    # and again: nothing of md9's left
    undone = snapshot(root)
    rc, out = setup(root, "--undo")
    check(rc == 0 and out.count("nothing of md9's to undo") == 3, out)
    check(snapshot(root) == undone, "a second --undo changed the tree")


def case_desktop_where_it_applies(root):
    # Debian's own xrdp: Xorg run directly, no colord, a chosen mount name
    desktop_root(root, wrapper=False, colord=False,
                 sesman=SESMAN_INI.replace("FuseMountName=thinclient_drives",
                                           "FuseMountName=/media/%U/drives"))
    write(root, "/usr/lib/xorg/Xorg.wrap", "")
    before = desktop_state(root)
    rc, out = setup(root)
    check(rc == 0, out)
    check("ok             drive mount name: /etc/xrdp/sesman.ini: FuseMountName=/media/%U/drives"
          " chosen here; kept" in out, out)
    check("skip           X wrapper: xrdp runs /usr/lib/xorg/Xorg directly" in out, out)
    check("skip           colour profiles: colord is not installed" in out, out)
    check(desktop_state(root) == before, "changed what does not apply:\n" + out)
    # drive redirection switched off: left alone
    write(root, "/etc/xrdp/sesman.ini", SESMAN_INI.replace(
        "FileUmask=077", "FileUmask=077\nEnableFuseMount=false"))
    rc, out = setup(root)
    check("skip           drive mount name: /etc/xrdp/sesman.ini: EnableFuseMount=false" in out, out)
    # no FuseMountName at all (xrdp's default): added to [Chansrv]
    write(root, "/etc/xrdp/sesman.ini", SESMAN_INI.replace("FuseMountName=thinclient_drives\n", ""))
    rc, out = setup(root)
    check(rc == 0 and "+FuseMountName=shared-drives" in out, out)
    ini = read(root, "/etc/xrdp/sesman.ini")
    check(ini.split("[Chansrv]")[1].count("FuseMountName=shared-drives") == 1, ini)
    # no xrdp at all
    os.remove(os.path.join(root, "etc/xrdp/sesman.ini"))
    rc, out = setup(root)
    check("skip           drive mount name: /etc/xrdp/sesman.ini: not there" in out, out)


def case_desktop_pkla_and_created(root):
    # polkit 0.105 (local authority), the wrapper in use without a config file
    desktop_root(root, polkit="pkla", xwrapper=None)
    rc, out = setup(root)
    check(rc == 0, out)
    pkla = read(root, PKLA)
    check("ResultAny=no\n" in pkla and "ResultInactive=no\n" in pkla
          and "Identity=unix-user:*\n" in pkla, pkla)
    check(not os.path.exists(os.path.join(root, RULES.lstrip("/"))), "rules.d file too")
    xw = read(root, "/etc/X11/Xwrapper.config")
    check(xw.startswith("# Written by md9 setup") and xw.endswith("allowed_users=anybody\n"), xw)
    rc, out = setup(root, "--undo")
    check(rc == 0, out)
    for rel in (PKLA, "/etc/X11/Xwrapper.config"):
        check(not os.path.exists(os.path.join(root, rel.lstrip("/"))), "%s left:\n%s" % (rel, out))


def case_desktop_undo_keeps_edits(root):
    desktop_root(root, xwrapper=None)
    rc, out = setup(root)
    check(rc == 0, out)
    # the administrator edits sesman.ini afterwards and writes their own
    # Xwrapper.config and polkit rule: --undo must not lose any of it
    edited = read(root, "/etc/xrdp/sesman.ini").replace("FileUmask=077", "FileUmask=022")
    write(root, "/etc/xrdp/sesman.ini", edited)
    write(root, "/etc/X11/Xwrapper.config", "allowed_users=anybody\n")
    write(root, RULES, read(root, RULES) + "// mine\n")
    rc, out = setup(root, "--undo")
    check(rc == 1, "exit %d:\n%s" % (rc, out))
    check("FAILED         /etc/xrdp/sesman.ini changed since md9 setup edited it: compare it "
          "with" in out, out)
    check(read(root, "/etc/xrdp/sesman.ini") == edited, "--undo overwrote an edited sesman.ini")
    check(os.path.exists(os.path.join(root, "etc/xrdp/sesman.ini.md9-backup")), "backup lost")
    check(read(root, "/etc/X11/Xwrapper.config") == "allowed_users=anybody\n",
          "--undo removed a file md9 did not write")
    check(read(root, RULES).endswith("// mine\n"), "--undo removed an edited rule")


CASES = [case_dry_run, case_real_run_then_nothing, case_modes, case_packaged_and_no_xrdp,
         case_bind_classes, case_unsafe_binary, case_file_handling, case_keep_tcp,
         case_desktop_diff_apply_undo, case_desktop_where_it_applies,
         case_desktop_pkla_and_created, case_desktop_undo_keeps_edits]


def prerequisites():
    if os.geteuid() != 0:
        raise Skip("needs root (the md9 setup names must be root's)")


if __name__ == "__main__":
    sys.exit(main(CASES, Root, prerequisites))
