#!/usr/bin/python3
"""`md9 setup --root DIR`'s desktop steps (src/ops/desktop.c and one file
per step: the drive mount name, the X wrapper, colord's polkit rule) on
temporary trees.

Cases: a dry run shows diffs patch(1) applies, a run applies
them with backups, a second run has nothing to do, --undo puts the files
back and a second --undo has nothing to do; each step only where it applies
(Xorg run directly, no colord, a chosen mount name, drives switched off);
the .pkla form for polkit 0.105; --undo leaves files alone that were changed
after md9 wrote them or that md9 did not write. Needs root.

Python 3 standard library only.  $MD9_BIN is md9, $MD9_REPO the source tree.
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from md9test import check, main  # noqa: E402
from setup_root import (Root, check_patch_gives, prerequisites, read, setup,  # noqa: E402
                        snapshot, write)

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
    """md9's printed diff of rel turns the old text into the new one."""
    check_patch_gives(hunks_of(out, rel), before, after, rel)


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



CASES = [case_desktop_diff_apply_undo, case_desktop_where_it_applies,
         case_desktop_pkla_and_created, case_desktop_undo_keeps_edits]

if __name__ == "__main__":
    sys.exit(main(CASES, Root, prerequisites))
