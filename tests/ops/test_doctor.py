#!/usr/bin/python3
"""`md9 doctor` against fake system trees (--root DIR: DIR/sys, DIR/proc,
DIR/etc, DIR/dev, DIR/run, DIR/lib), and once for real on this machine.

Cases: a healthy Hyper-V guest; not Hyper-V; uio_hv_generic missing; the
control channel not offered; a kernel before 6.10 refusing the channel
(kernel-facts K2: from the kernel log, and without it); xrdp's
security_layer incompatible with the rdp mode; a leftover HvSocket setup (vsock listener, hv_sock loaded); the device
node not given to md9; md9 not running; the session's drives (FUSE) and
sound (xrdp's PipeWire/PulseAudio module, the package per distribution);
the real roots of this (non-Hyper-V) machine.

Python 3 standard library only.  $MD9_BIN is md9 (ctest sets it).
Exit status 0 when every case passes, 1 otherwise; one line per case and a
closing "N passed, N failed" line.
"""

import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from doctor_tree import (CHECKS, CONTROL_CLASS, CONTROL_INSTANCE, DATA_CLASS, MD9,  # noqa: E402
                         MD9_UID, RELEASE, Report, Tree)
from md9test import REPO, check, main, write  # noqa: E402


# ---------------------------------------------------------------------------

def case_healthy(t):
    r = t.doctor()
    r.all_printed()
    for name in CHECKS:
        r.expect(name, "ok")
    check(r.rc == 0, "exit status %d for a healthy guest:\n%s%s" % (r.rc, r.out, r.err))
    r.expect("hyper-v", "ok", "Microsoft Corporation", "Virtual Machine")
    r.expect("control channel", "ok", CONTROL_INSTANCE)
    r.expect("classes bound", "ok", "uio0")
    r.expect("kernel", "ok", RELEASE, "took the SynthRdp device(s)")
    r.expect("md9 running", "ok", "control channel: ready, host protocol 1.0")
    r.expect("rdp server", "ok", "tcp:127.0.0.1:%d" % t.port)
    r.expect("rdp security", "ok", "standard RDP security without encryption ok",
             "encryption NONE")
    r.expect("xrdp config", "ok", "fits md9's auto mode")
    # md9 asked for SSL (auto), with the seed's 19-byte Connection Request
    check(t.rdp.requests and t.rdp.requests[-1][11:16] == b"\x01\x00\x08\x00\x01",
          "the probe did not ask for SSL: %r" % t.rdp.requests)
    check("(ready for Enhanced Session)" in r.out, r.out)
    # a bound data channel counts too
    t.device("99221fa1-24ad-11e2-be98-001aa01bbf6e", DATA_CLASS, 15,
             driver="uio_hv_generic", uio=1)
    t.doctor().expect("classes bound", "ok", "2 SynthRdp device(s)")


def case_not_hyperv(t):
    write(t.p(t.sys, "class/dmi/id/sys_vendor"), "QEMU\n")
    write(t.p(t.sys, "class/dmi/id/product_name"), "Standard PC (Q35 + ICH9, 2009)\n")
    shutil.rmtree(t.p(t.sys, "bus"))
    r = t.doctor()
    r.all_printed()
    r.expect("hyper-v", "FAIL", "not running on Hyper-V", "QEMU")
    check("run this system as a Hyper-V virtual machine" in r.text("hyper-v"), r.out)
    r.expect("hv_vmbus", "FAIL", "no VMBus")
    r.expect("control channel", "FAIL")
    check(r.rc == 1, "exit status %d, expected 1" % r.rc)


def case_module_missing(t):
    shutil.rmtree(t.p(t.sys, "bus/vmbus/drivers/uio_hv_generic"))
    ctl = t.p(t.sys, "bus/vmbus/devices/" + CONTROL_INSTANCE)
    os.unlink(os.path.join(ctl, "driver"))
    shutil.rmtree(os.path.join(ctl, "uio"))
    write(t.p(t.lib, "modules/%s/modules.dep" % RELEASE),
          "kernel/drivers/hv/hv_vmbus.ko.xz:\n")
    write(t.p(t.proc, "modules"), "hv_vmbus 135168 0 - Live 0x0\n")
    r = t.doctor()
    r.all_printed()
    r.expect("hyper-v", "ok")
    r.expect("uio_hv_generic", "FAIL", "does not ship uio_hv_generic", RELEASE)
    check("CONFIG_UIO_HV_GENERIC" in r.text("uio_hv_generic"), r.out)
    r.expect("module loaded", "FAIL", "not loaded")
    check("modprobe uio_hv_generic" in r.text("module loaded"), r.out)
    r.expect("control channel", "ok")
    r.expect("classes bound", "FAIL", "not bound to any driver")
    check("md9 bind-classes" in r.text("classes bound"), r.out)
    check(r.rc == 1, "exit status %d" % r.rc)
    # built in: available, then (the driver directory exists) loaded
    write(t.p(t.lib, "modules/%s/modules.builtin" % RELEASE),
          "kernel/drivers/uio/uio_hv_generic.ko\n")
    os.makedirs(t.p(t.sys, "bus/vmbus/drivers/uio_hv_generic"))
    r = t.doctor()
    r.expect("uio_hv_generic", "ok", "built into kernel")
    r.expect("module loaded", "ok")


def case_not_offered(t):
    shutil.rmtree(t.p(t.sys, "bus/vmbus/devices/" + CONTROL_INSTANCE))
    r = t.doctor()
    r.all_printed()
    r.expect("control channel", "FAIL", "does not offer the SynthRdp control channel",
             CONTROL_CLASS, "policy", "too old")
    check("Set-VMHost -EnableEnhancedSessionMode $true" in r.text("control channel"), r.out)
    r.expect("classes bound", "FAIL")
    # no device to look at: the version alone is a hint, not a failure
    r.expect("kernel", "warn", "older than 6.10", "no SynthRdp device here to check")
    write(t.p(t.proc, "sys/kernel/osrelease"), "6.12.12+bpo-amd64\n")
    t.doctor().expect("kernel", "ok", "6.12.12+bpo-amd64", "6.10 or later")
    r.expect("module loaded", "ok")
    check(r.rc == 1, "exit status %d" % r.rc)


KMSG_REFUSED = (
    "6,1001,5000000,-;hv_vmbus: registering driver uio_hv_generic\n"
    "3,1002,5000100,-;uio_hv_generic %s: vmbus channel requires hypercall\n"
    " SUBSYSTEM=vmbus\n"
    " DEVICE=+vmbus:%s\n"
    "4,1003,5000200,-;uio_hv_generic: probe of %s failed with error -524\n"
    % (CONTROL_INSTANCE, CONTROL_INSTANCE, CONTROL_INSTANCE))


def case_kernel_refuses(t):
    """K2: Linux before 6.10 refuses a channel without a monitor page. The
    device is there with our class, no driver, no uio device."""
    ctl = t.p(t.sys, "bus/vmbus/devices/" + CONTROL_INSTANCE)
    os.unlink(os.path.join(ctl, "driver"))
    shutil.rmtree(os.path.join(ctl, "uio"))
    kmsg = t.p(t.dev, "kmsg")
    fixes = ("bookworm-backports", "linux-image-amd64", "linux-generic-hwe-24.04",
             "out-of-tree", "Ubuntu 22.04")
    # the kernel log says so
    write(kmsg, KMSG_REFUSED)
    r = t.doctor()
    r.all_printed()
    r.expect("kernel", "FAIL", "Linux %s refused the SynthRdp control channel %s"
             % (RELEASE, CONTROL_INSTANCE), "vmbus channel requires hypercall",
             "no monitor page", "before Linux 6.10", *fixes)
    r.expect("classes bound", "FAIL", "the kernel refused it")
    check(r.rc == 1, "exit status %d" % r.rc)
    # the log is not readable (or not there): the device and the version say it
    os.unlink(kmsg)
    r = t.doctor()
    r.expect("kernel", "FAIL", "no driver and no uio device", "no monitor page",
             "older than 6.10", "not readable here", "run md9 doctor as root", *fixes)
    check("md9 bind-classes" in r.text("classes bound"), r.out)
    # readable but silent: new_id was not written yet, the version still says it
    write(kmsg, "6,1,1,-;Linux version %s\n" % RELEASE)
    r = t.doctor()
    r.expect("kernel", "FAIL", "no probe of it yet", "older than 6.10", *fixes)
    # a monitored channel is not refused for that: the class is not bound yet
    t.device(CONTROL_INSTANCE, CONTROL_CLASS, 14, monitor=3)
    r = t.doctor()
    r.expect("kernel", "warn", "most likely not bound yet", "monitor page")
    check("md9 bind-classes" in r.text("kernel"), r.out)
    # 6.10 or later takes it; a probe that failed for another reason is named
    os.unlink(t.p(t.sys, "bus/vmbus/devices/%s/monitor_id" % CONTROL_INSTANCE))
    write(t.p(t.proc, "sys/kernel/osrelease"), "6.12.12+bpo-amd64\n")
    write(kmsg, "4,9,9,-;uio_hv_generic: probe of %s failed with error -12\n"
          % CONTROL_INSTANCE)
    r = t.doctor()
    r.expect("kernel", "FAIL", "did not take", "failed with error -12", "6.12.12+bpo-amd64")
    check("bookworm-backports" not in r.text("kernel"), r.out)


def case_xrdp_rdp_mode(t):
    t.config("rdp")
    t.xrdp("port=%d\nsecurity_layer=tls\ncrypt_level=high\n" % t.port)
    r = t.doctor()
    r.all_printed()
    r.expect("xrdp config", "FAIL", "security_layer=tls", "crypt_level=high", "mode rdp")
    check("security_layer=negotiate" in r.text("xrdp config")
          and "crypt_level=none" in r.text("xrdp config"), r.out)
    check(r.rc == 1, "exit status %d" % r.rc)
    # what md9 setup writes for rdp mode passes: crypt_level=none on loopback
    t.xrdp("port=tcp://.:%d\nsecurity_layer=negotiate\ncrypt_level=none\n" % t.port)
    t.doctor().expect("xrdp config", "ok", "fits md9's rdp mode")
    # ... but never where the network reaches (issue 15, point 3)
    for port in ("%d" % t.port, "tcp://:%d" % t.port, "tcp://0.0.0.0:%d" % t.port,
                 "tcp6://:%d" % t.port, "tcp://.:%d tcp://192.0.2.7:3390" % t.port):
        t.xrdp("port=%s\nsecurity_layer=negotiate\ncrypt_level=none\n" % port)
        r = t.doctor()
        r.expect("xrdp config", "FAIL", "crypt_level=none with a network listener",
                 "unencrypted RDP")
        check("tcp://.:3389" in r.text("xrdp config"), r.out)
    t.xrdp("port=tcp6://{::1}:%d\nsecurity_layer=rdp\ncrypt_level=none\n" % t.port)
    t.doctor().expect("xrdp config", "ok")
    # --security overrides the file; tls mode with security_layer=rdp fails
    t.xrdp("port=%d\nsecurity_layer=rdp\ncrypt_level=none\n" % t.port)
    t.doctor("--security", "tls").expect("xrdp config", "FAIL", "security_layer=rdp")
    # passthrough needs vmconnect
    r = t.doctor("--security", "passthrough")
    r.expect("xrdp config", "FAIL", "vmconnect")
    t.xrdp("port=%d\nvmconnect=true\n" % t.port)
    t.doctor("--security", "passthrough").expect("xrdp config", "ok", "vmconnect")
    # a port md9 does not connect to
    t.xrdp("port=tcp://.:4000\n")
    t.doctor().expect("xrdp config", "FAIL", "not on TCP port %d" % t.port)


def case_leftover_vsock(t):
    t.xrdp("port=tcp://.:%d vsock://-1:3389\nsecurity_layer=rdp\ncrypt_level=none\n" % t.port)
    write(t.p(t.proc, "modules"),
          "hv_sock 28672 0 - Live 0x0\nuio_hv_generic 16384 0 - Live 0x0\n")
    r = t.doctor()
    r.all_printed()
    r.expect("hvsocket leftover", "warn", "vsock://-1:3389", "hv_sock is loaded")
    check("EnhancedSessionTransportType VMBus" in r.text("hvsocket leftover"), r.out)
    r.expect("xrdp config", "ok")
    # vsock only (what linux-vm-tools leaves): md9 cannot reach xrdp at all
    t.xrdp("port=vsock://-1:3389\nsecurity_layer=rdp\ncrypt_level=none\n")
    r = t.doctor()
    r.expect("hvsocket leftover", "FAIL", "vsock only")
    r.expect("xrdp config", "FAIL", "not on TCP port")
    check(r.rc == 1, "exit status %d" % r.rc)
    # the older spelling: use_vsock=true with a bare port
    t.xrdp("port=3389\nuse_vsock=true\n")
    write(t.p(t.proc, "modules"), "uio_hv_generic 16384 0 - Live 0x0\n")
    t.doctor().expect("hvsocket leftover", "FAIL", "use_vsock=true")


def case_node_and_daemon(t):
    # the uio node is not md9's: md9 (the user) cannot open it
    write(t.p(t.etc, "passwd"), "root:x:0:0:root:/root:/bin/bash\n"
          "md9:x:%d:0:md9:/nonexistent:/usr/sbin/nologin\n" % (MD9_UID + 4242))
    r = t.doctor()
    r.expect("device nodes", "warn", "user md9 cannot open it")
    check("60-md9.rules" in r.text("device nodes"), r.out)
    check(r.rc == 0, "a warning alone must not fail: %d" % r.rc)
    # readable by a group (the old GROUP=md9 MODE=0660 rule): FAIL, issue 15
    os.chmod(t.p(t.dev, "uio0"), 0o660)
    r = t.doctor()
    r.expect("device nodes", "FAIL", "mode 0660", "others than md9 can open it")
    check("OWNER=md9, MODE=0600" in r.text("device nodes"), r.out)
    os.chmod(t.p(t.dev, "uio0"), 0o600)
    # md9 not running; the backend not listening; no md9 user
    t.status.close()
    os.unlink(t.status.path)
    t.servers.remove(t.status)
    t.rdp.close()
    write(t.p(t.etc, "passwd"), "root:x:0:0:root:/root:/bin/bash\n")
    r = t.doctor()
    r.all_printed()
    r.expect("md9 running", "FAIL", "md9 is not running")
    check("systemctl enable --now md9" in r.text("md9 running"), r.out)
    r.expect("rdp server", "FAIL", "Connection refused")
    r.expect("rdp security", "FAIL", "cannot ask the server")
    r.expect("md9 user", "warn")
    # a broken configuration: FAIL with the file's line on stderr
    write(t.p(t.etc, "md9/md9.conf"), "[md9]\nsecurity = sometimes\n")
    r = t.doctor()
    r.expect("configuration", "FAIL", "does not load")
    check(re.search(r"md9\.conf:2: security: ", r.err), r.err)


STRANGER = r"""
import os, socket, sys, threading
kind, where = sys.argv[1], sys.argv[2]
if kind == "tcp":
    ls = socket.socket(); ls.bind(("127.0.0.1", 0))
else:
    ls = socket.socket(socket.AF_UNIX); ls.bind(where); os.chmod(where, 0o777)
ls.listen(8)
print(ls.getsockname()[1] if kind == "tcp" else where, flush=True)
def hold(c):
    with c:
        while c.recv(4096):
            pass
while True:
    c, _ = ls.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
"""


def case_stranger(t):
    """Another local user listens where md9 connects: doctor names it and
    FAILs (md9 would refuse it, src/relay/peerauth.c)."""
    if os.geteuid() != 0:
        print("  (not root: no stranger user)")
        return
    sys.path.insert(0, os.path.join(REPO, "tests", "security"))
    import seclib
    try:
        u = seclib.make_user("doc")
        os.chmod(t.base, 0o755)
        d = os.path.join(t.base, "stranger")
        os.mkdir(d)
        os.chown(d, u.uid, u.gid)
        for kind, where in (("tcp", ""), ("unix", os.path.join(d, "xrdp.sock"))):
            p = subprocess.Popen(["/usr/bin/python3", "-c", STRANGER, kind, where],
                                 stdout=subprocess.PIPE, cwd="/", **seclib.as_user(u))
            try:
                addr = p.stdout.readline().decode().strip()
                backend = ("tcp:127.0.0.1:%s" % addr) if kind == "tcp" else "unix:" + addr
                r = t.doctor("--backend", backend)
                check(r.lines, "doctor printed nothing: %s" % r.err)
                r.expect("rdp server", "FAIL", "refused the server at %s" % backend,
                         "it runs as %s (uid %d)" % (u.name, u.uid))
                check("md9 would refuse every session" in r.text("rdp server"), r.out)
                check(r.rc == 1, "exit status %d" % r.rc)
            finally:
                p.kill()
                p.wait()
    finally:
        seclib.cleanup()


def case_session_redirections(t):
    """Drives (xrdp's chansrv, FUSE) and sound (xrdp's PipeWire/PulseAudio
    module), with the package to install for the distribution."""
    r = t.doctor()
    r.expect("drives", "ok", "~/shared-drives/<drive>")
    r.expect("audio", "ok", "PipeWire", "libpipewire-module-xrdp.so",
             "xdg/autostart/pipewire-xrdp.desktop")
    os.remove(t.p(t.etc, "xdg/autostart/pipewire-xrdp.desktop"))
    t.doctor().expect("audio", "warn", "nothing loads it")
    os.remove(t.p(t.lib, "x86_64-linux-gnu/pipewire-0.3/libpipewire-module-xrdp.so"))
    r = t.doctor()
    r.expect("audio", "warn", "no xrdp sound module")
    check("-- fix: apt-get install pipewire-module-xrdp" in r.text("audio"), r.out)
    check(r.rc == 0, "a missing sound module is not a failure:\n" + r.out)
    write(t.p(t.etc, "os-release"), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
          'VERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    r = t.doctor()
    check("apt-get install -t bookworm-backports pipewire-module-xrdp" in r.text("audio"), r.out)
    write(t.p(t.etc, "os-release"), 'ID=ubuntu\nVERSION_ID="24.04"\n')
    r = t.doctor()
    check("apt-cache policy pipewire-module-xrdp pulseaudio-module-xrdp" in r.text("audio")
          and "ubuntu 24.04" in r.text("audio"), r.out)
    # PulseAudio's module, in the directory of its version, with its loader
    write(t.p(t.lib, "pulse-16.1/modules/module-xrdp-sink.so"), "")
    write(t.p(t.etc, "xdg/autostart/pulseaudio-xrdp.desktop"), "[Desktop Entry]\n")
    t.doctor().expect("audio", "ok", "PulseAudio", "module-xrdp-sink.so")
    # drives: fusermount missing, /dev/fuse missing, switched off, no xrdp
    os.remove(t.p(t.etc, "fuse.conf"))
    t.doctor().expect("drives", "warn", "fusermount")
    check("-- fix: apt-get install fuse3" in t.doctor().text("drives"), "fix")
    write(t.p(t.etc, "fuse.conf"), "")
    os.remove(t.p(t.dev, "fuse"))
    t.doctor().expect("drives", "warn", "/fuse is missing")
    write(t.p(t.dev, "fuse"), "")
    write(t.p(t.etc, "xrdp/sesman.ini"), "[Chansrv]\nEnableFuseMount=false\n")
    t.doctor().expect("drives", "warn", "EnableFuseMount=false")
    os.remove(t.p(t.etc, "xrdp/sesman.ini"))
    t.doctor().expect("drives", "warn", "xrdp is not installed")


def case_real_roots(t):
    """This machine, for real: CI is not a Hyper-V guest."""
    vendor = ""
    try:
        with open("/sys/class/dmi/id/sys_vendor") as f:
            vendor = f.read().strip()
    except OSError:
        pass
    if os.path.isdir("/sys/bus/vmbus") or vendor == "Microsoft Corporation":
        print("  (this machine looks like a Hyper-V guest: not asserting 'not Hyper-V')")
        return
    r = subprocess.run([MD9, "doctor", "--timeout", "500"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    rep = Report(r)
    rep.all_printed()
    rep.expect("hyper-v", "FAIL", "not running on Hyper-V")
    check("run this system as a Hyper-V virtual machine" in rep.text("hyper-v"), rep.out)
    check(rep.rc != 0, "exit status 0 on a machine that is not Hyper-V")


def case_server_security(t):
    """The 'rdp security' verdicts, from a server answering like real ones.
    (Real servers: tests/integration/test_security_matrix.py, test_servers.py.)"""
    t.rdp.mode = "encrypts"
    r = t.doctor()
    r.expect("rdp security", "FAIL", "encrypts:", "encryptionMethod 128BIT",
             "encryptionLevel HIGH", "crypt_level=none")
    check(r.rc == 1, "exit status %d with a FAIL" % r.rc)
    t.rdp.mode = "nla"
    t.doctor().expect("rdp security", "FAIL", "NLA only:", "HYBRID_REQUIRED_BY_SERVER",
                      "no credentials", "security_layer=negotiate or tls")
    t.rdp.mode = "nla_selected"
    t.doctor("--security", "passthrough").expect(
        "rdp security", "FAIL", "NLA only:", "selected HYBRID")
    t.rdp.mode = "ssl_close"
    t.doctor("--security", "passthrough").expect(
        "rdp security", "FAIL", "no vmconnect mode:", "setup --security auto")
    t.rdp.mode = "silent"
    t.doctor().expect("rdp security", "FAIL", "did not answer within the timeout")
    t.rdp.mode = "plain"
    t.doctor("--security", "rdp").expect("rdp security", "ok", "(md9 rdp mode)")
    check(t.rdp.requests[-1][11:16] == b"\x01\x00\x08\x00\x00",
          "rdp mode did not ask for RDP: %r" % t.rdp.requests[-1])


CASES = [case_stranger, case_healthy, case_server_security, case_not_hyperv,
         case_module_missing, case_not_offered, case_kernel_refuses,
         case_xrdp_rdp_mode, case_leftover_vsock, case_node_and_daemon,
         case_session_redirections, case_real_roots]


if __name__ == "__main__":
    sys.exit(main(CASES, Tree))
