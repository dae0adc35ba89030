#!/usr/bin/python3
"""After `md9 setup` no xrdp listener the network reaches serves
unencrypted RDP (issue 15, point 3), checked with a real xrdp.

setup_<mode>[_<layer>]_<unix|tcp>:
  1. a test root whose xrdp.ini is Debian's (/etc/xrdp/xrdp.ini) listening
     on every interface (port=<free port>, as Debian's port=3389), with
     security_layer <layer>;
  2. `md9 setup --root ROOT --security <mode>` (and --tcp for *_tcp);
  3. xrdp started with the port=, security_layer= and crypt_level= setup
     left (a unix:// listener moved into the test's directory);
  4. an RDP client probe (tests/fixtures/rdp_probe.py) on this machine's
     non-loopback address asks for standard RDP security: it must be
     refused or get an encryption method other than none (0); where xrdp
     still listens on TCP, the same probe on loopback must be served (the
     listener works, md9's path is there).

Python 3 standard library; root and xrdp (else exit 77).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))

import harness  # noqa: E402
import rdp_probe  # noqa: E402
import xrdp_fixture  # noqa: E402
import md9test  # noqa: E402
from md9test import Skip, check  # noqa: E402

MD9 = os.environ.get("MD9_BIN")


def external_address():
    """This machine's address towards the network (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def ini_globals(text):
    out = {}
    for key in ("port", "security_layer", "crypt_level"):
        v = xrdp_fixture.ini_get(text, "Globals", key)
        if v is not None:
            out[key] = v
    return out


def case_for(mode, layer, tcp):
    def case(h):
        ext = external_address()
        if not ext:
            raise Skip("no non-loopback address to probe from")
        root = tempfile.mkdtemp(prefix="md9-setupx-")
        h.notes.append("external address %s" % ext)
        try:
            port = md9test.free_port("0.0.0.0")
            with open("/etc/xrdp/xrdp.ini") as f:
                ini = f.read()
            ini = xrdp_fixture.ini_set(ini, "Globals", "port", str(port))
            ini = xrdp_fixture.ini_set(ini, "Globals", "security_layer", layer)
            for rel, text in (("etc/xrdp/xrdp.ini", ini), ("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
                              ("etc/group", "root:x:0:\nxrdp:x:109:\n"),
                              ("usr/bin/md9", "#!/bin/sh\n")):
                p = os.path.join(root, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w") as f:
                    f.write(text)
            os.chmod(os.path.join(root, "usr/bin/md9"), 0o755)
            argv = [MD9, "setup", "--root", root, "--md9-path", "/usr/bin/md9",
                    "--security", mode] + (["--tcp"] if tcp else [])
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            out = r.stdout.decode()
            with open(os.path.join(root, "etc/xrdp/xrdp.ini")) as f:
                g = ini_globals(f.read())
            h.notes.append("setup left port=%s security_layer=%s crypt_level=%s" % (
                g.get("port"), g.get("security_layer"), g.get("crypt_level")))
            # the user md9 cannot be made in this bare root: only that may fail
            bad = [x for x in out.splitlines() if "FAILED" in x and "user" not in x
                   and "group" not in x and "systemd" not in x and "sysusers" not in x]
            check(not bad, "md9 setup failed:\n" + out)

            # xrdp with what setup left; a unix listener moves to our directory
            sockdir = os.path.join(h.tmp, "xrdp-run")
            os.makedirs(sockdir)
            listeners = g["port"].split()
            unix = [x for x in listeners if x.startswith("unix://")]
            tcp_listeners = [x for x in listeners if not x.startswith(("unix://", "vsock://"))]
            new = [x for x in tcp_listeners]
            kw = {}
            if unix:
                kw["unix_path"] = os.path.join(sockdir, "xrdp.sock")
                new.append("unix://." + kw["unix_path"])
            x = xrdp_fixture.XrdpFixture(
                security_layer=g.get("security_layer", "negotiate"),
                crypt_level=g.get("crypt_level", "high"), port=port,
                startup_timeout=harness.STARTUP_TIMEOUT,
                xrdp_ini={("Globals", "port"): " ".join(new)}, **kw)
            h.xrdps.append(x)
            if tcp_listeners and unix:
                kw.pop("unix_path")   # wait for TCP; the socket comes with it
            x.start()

            # the network: refused, or encrypted
            r = rdp_probe.probe(ext, port, requested_protocols=0, timeout=harness.PROBE_TIMEOUT)
            h.notes.append("probe %s:%d: %s, encryption method %s" % (
                ext, port, r.summary(), (r.response or {}).get("encryption_method")))
            if r.ok:
                method = (r.response or {}).get("encryption_method")
                check(method not in (0, None),
                      "unencrypted RDP on %s:%d after md9 setup --security %s: %s"
                      % (ext, port, mode, r.summary()))
            # loopback still served where TCP remains
            if tcp_listeners:
                r = rdp_probe.probe("127.0.0.1", port, requested_protocols=0,
                                    timeout=harness.PROBE_TIMEOUT)
                check(r.ok or (r.cc or {}).get("kind") == "failure",
                      "xrdp does not answer on loopback: %s" % r.summary())
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return case


def case_control(h):
    """The probe sees what the setup cases rule out: xrdp with
    crypt_level=none on every interface (what md9 setup --security rdp
    left before issue 15) serves encryption method 0 to the network."""
    ext = external_address()
    if not ext:
        raise Skip("no non-loopback address to probe from")
    port = md9test.free_port("0.0.0.0")
    x = xrdp_fixture.XrdpFixture(security_layer="negotiate", crypt_level="none", port=port,
                                 startup_timeout=harness.STARTUP_TIMEOUT,
                                 xrdp_ini={("Globals", "port"): str(port)})
    h.xrdps.append(x)
    x.start()
    r = rdp_probe.probe(ext, port, requested_protocols=0, timeout=harness.PROBE_TIMEOUT)
    check(r.ok and r.response.get("encryption_method") == 0,
          "the probe did not see unencrypted RDP: %s" % r.summary())


CASES = {"control_unencrypted_detected": case_control}
for mode, layer in (("auto", "negotiate"), ("auto", "rdp"), ("rdp", "negotiate"),
                    ("tls", "negotiate"), ("passthrough", "negotiate")):
    for tcp in (False, True):
        name = "setup_%s%s_%s" % (mode, "" if layer == "negotiate" else "_" + layer,
                                  "tcp" if tcp else "unix")
        CASES[name] = case_for(mode, layer, tcp)


if __name__ == "__main__":
    if not MD9:
        print("set $MD9_BIN")
        sys.exit(1)
    sys.exit(harness.main(CASES))
