#!/usr/bin/python3
"""`md9 setup --root DIR` on temporary trees: md9's own files and xrdp's.

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
(issue 15). Needs root (the md9 it names must be root's). The desktop
steps are test_setup_desktop.py's.

Python 3 standard library only.  $MD9_BIN is md9, $MD9_REPO the source tree.
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from md9test import REPO, check, main  # noqa: E402
from setup_root import (MD9, MD9_PATH, SOCK, UNIX_LISTENER, XRDP_INI, Root,  # noqa: E402
                        can_create_users, check_patch_gives, diff_of, prerequisites, read,
                        setup, snapshot, write)


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
    check_patch_gives(d, read(root, "/etc/xrdp/xrdp.ini.md9-backup"), new, "/etc/xrdp/xrdp.ini")
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



CASES = [case_dry_run, case_real_run_then_nothing, case_modes, case_packaged_and_no_xrdp,
         case_bind_classes, case_unsafe_binary, case_file_handling, case_keep_tcp]

if __name__ == "__main__":
    sys.exit(main(CASES, Root, prerequisites))
