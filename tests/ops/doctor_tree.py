"""The fake Hyper-V guest test_doctor runs `md9 doctor --root` on (sysfs,
procfs, /etc, /dev, /run, /lib/modules, healthy unless a case changes
it), and doctor's report read back check by check."""

import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doctor_peers import FakeRdpServer, StatusServer  # noqa: E402
from md9test import Harness, binary, check, write  # noqa: E402

MD9 = binary("MD9_BIN", "src/md9", "md9")

CONTROL_CLASS = "f8e65716-3cb3-4a06-9a60-1889c5cccab5"
CONTROL_INSTANCE = "99221fa0-24ad-11e2-be98-001aa01bbf6e"
DATA_CLASS = "f9e9c0d3-b511-4a48-8046-d38079a8830c"
NETVSC_CLASS = "f8615163-df3e-46c5-913f-f2d2f965ed0e"
RELEASE = "6.1.0-99-amd64"

CHECKS = ["hyper-v", "hv_vmbus", "uio_hv_generic", "module loaded",
          "control channel", "classes bound", "kernel", "device nodes", "md9 user",
          "configuration", "md9 running", "rdp server", "rdp security", "xrdp config",
          "hvsocket leftover", "drives", "audio"]


# The fake tree's user md9: the uid that owns the files the test makes
# (uid 0 would be root's, which doctor flags).
MD9_UID = os.getuid() or 999


class Tree(Harness):
    """A fake Hyper-V guest: sysfs, procfs, /etc, /dev, /run, /lib/modules,
    healthy unless a case changes it."""

    prefix = "md9-doctor-"

    def __init__(self, name):
        super().__init__(name)
        base = self.base = self.tmp
        self.sys = os.path.join(base, "sys")
        self.proc = os.path.join(base, "proc")
        self.etc = os.path.join(base, "etc")
        self.dev = os.path.join(base, "dev")
        self.run = os.path.join(base, "run")
        self.lib = os.path.join(base, "lib")
        self.servers = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.rdp = FakeRdpServer(self.listener)

        write(self.p(self.sys, "class/dmi/id/sys_vendor"), "Microsoft Corporation\n")
        write(self.p(self.sys, "class/dmi/id/product_name"), "Virtual Machine\n")
        os.makedirs(self.p(self.sys, "bus/vmbus/drivers/uio_hv_generic"))
        os.makedirs(self.p(self.sys, "bus/vmbus/drivers/hv_netvsc"))
        write(self.p(self.sys, "bus/vmbus/drivers/uio_hv_generic/new_id"), "")
        self.device("11111111-2222-3333-4444-555555555555", NETVSC_CLASS, 12,
                    driver="hv_netvsc", uio=None)
        self.device(CONTROL_INSTANCE, CONTROL_CLASS, 14, driver="uio_hv_generic",
                    uio=0)
        write(self.p(self.proc, "sys/kernel/osrelease"), RELEASE + "\n")
        write(self.p(self.proc, "modules"),
              "uio_hv_generic 16384 0 - Live 0x0\nuio 20480 1 uio_hv_generic, Live 0x0\n"
              "hv_vmbus 135168 1 uio_hv_generic, Live 0x0\n")
        write(self.p(self.lib, "modules/%s/modules.dep" % RELEASE),
              "kernel/drivers/hv/hv_vmbus.ko.xz:\n"
              "kernel/drivers/uio/uio.ko.xz:\n"
              "kernel/drivers/uio/uio_hv_generic.ko.xz: kernel/drivers/uio/uio.ko.xz "
              "kernel/drivers/hv/hv_vmbus.ko.xz\n")
        write(self.p(self.lib, "modules/%s/modules.builtin" % RELEASE), "kernel/lib/crc32.ko\n")
        gid = os.getgid()
        write(self.p(self.etc, "passwd"),
              "root:x:0:0:root:/root:/bin/bash\n"
              "md9:x:%d:%d:md9:/nonexistent:/usr/sbin/nologin\n" % (MD9_UID, gid))
        write(self.p(self.etc, "group"), "root:x:0:\nmd9:x:%d:\n" % gid)
        self.config("auto")
        self.xrdp("port=%d\nsecurity_layer=negotiate\ncrypt_level=high\n" % self.port)
        write(self.p(self.dev, "uio0"), "", 0o600)   # the udev rule: owner md9, 0600
        if os.getuid() == 0:
            os.chown(self.p(self.dev, "uio0"), MD9_UID, -1)
        # the session's redirections: xrdp's FUSE drives, the PipeWire module
        write(self.p(self.etc, "xrdp/sesman.ini"),
              "[Chansrv]\n; drive redirection\nFuseMountName=shared-drives\nFileUmask=077\n")
        write(self.p(self.etc, "fuse.conf"), "#user_allow_other\n")
        write(self.p(self.dev, "fuse"), "")
        write(self.p(self.lib, "x86_64-linux-gnu/pipewire-0.3/libpipewire-module-xrdp.so"), "")
        write(self.p(self.etc, "xdg/autostart/pipewire-xrdp.desktop"), "[Desktop Entry]\n")
        write(self.p(self.etc, "os-release"), 'ID=debian\nVERSION_ID="13"\n'
              'VERSION_CODENAME=trixie\n')
        self.status = StatusServer(self.p(self.run, "md9/status.sock"))
        self.servers.append(self.status)

    @staticmethod
    def p(root, rel):
        return os.path.join(root, rel)

    def device(self, instance, klass, relid, driver=None, uio=None, monitor=None):
        d = self.p(self.sys, "bus/vmbus/devices/" + instance)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "class_id"), "{%s}\n" % klass)
        write(os.path.join(d, "device_id"), "{%s}\n" % instance)
        write(os.path.join(d, "id"), "%d\n" % relid)
        if monitor is not None:
            write(os.path.join(d, "monitor_id"), "%d\n" % monitor)
        if uio is not None:
            write(os.path.join(d, "uio/uio%d/maps/map0/size" % uio), "0x0000000000400000\n")
        if driver:
            os.symlink("../../../bus/vmbus/drivers/" + driver, os.path.join(d, "driver"))

    def config(self, security, extra=""):
        write(self.p(self.etc, "md9/md9.conf"),
              "[md9]\nbackend = tcp:127.0.0.1:%d\nsecurity = %s\n%s"
              % (self.port, security, extra))

    def xrdp(self, globals_text):
        write(self.p(self.etc, "xrdp/xrdp.ini"),
              "[Globals]\n; a comment\nini_version=1\nfork=true\n" + globals_text +
              "\n[Logging]\nLogFile=xrdp.log\n\n[Xorg]\nname=Xorg\nport=-1\n")

    def doctor(self, *extra):
        argv = [MD9, "doctor", "--root", self.base, "--timeout", "1000"] + list(extra)
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        return Report(r)

    def cleanup(self):
        for s in self.servers:
            s.close()
        self.rdp.close()
        super().cleanup()


class Report:
    LINE = re.compile(r"^(ok|warn|FAIL)\s+(\S+(?: \S+)?)\s{2,}(.*)$")

    def __init__(self, r):
        self.rc = r.returncode
        self.out = r.stdout.decode()
        self.err = r.stderr.decode()
        self.lines = {}
        for line in self.out.splitlines():
            m = re.match(r"^(ok|warn|FAIL)\s+(.{18}) (.*)$", line)
            if m:
                self.lines[m.group(2).strip()] = (m.group(1), m.group(3))

    def verdict(self, name):
        check(name in self.lines, "no line for check %r in:\n%s" % (name, self.out))
        return self.lines[name][0]

    def text(self, name):
        self.verdict(name)
        return self.lines[name][1]

    def expect(self, name, verdict, *needles):
        v = self.verdict(name)
        check(v == verdict, "check %r: %s, expected %s:\n%s%s"
              % (name, v, verdict, self.out, self.err))
        for n in needles:
            check(n in self.text(name), "check %r: %r not in %r"
                  % (name, n, self.text(name)))
        if verdict != "ok":
            check(" -- fix: " in self.text(name), "check %r has no fix: %r"
                  % (name, self.text(name)))

    def all_printed(self):
        check(list(self.lines) == CHECKS,
              "checks printed %s, expected %s:\n%s" % (list(self.lines), CHECKS, self.out))
        check(re.search(r"^md9 doctor: \d+ ok, \d+ warn, \d+ FAIL", self.out, re.M),
              "no summary line:\n" + self.out)

