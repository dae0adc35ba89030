#!/usr/bin/python3
"""md9's demo: a real RDP client reaches a Linux desktop through the
simulated Hyper-V host, the simulated VMBus and md9.

  xfreerdp -> md9-hostsim (RDP front end: TLS like the host) -> VMBus rings
           -> md9 (--security auto) -> xrdp + sesman -> an Xorg session

With --headless it then checks drive redirection the same way: rdesktop
shares a folder, the session copies a file from it and one back, both
compared by SHA-256 (tests/fixtures/drive_fixture.py says why rdesktop).

Started by ./run-demo (which installs packages and builds first). Everything
it starts stops on Ctrl-C or at the end: the demo user, xrdp and sesman (in a
private mount namespace, on free loopback ports), md9-hostsim, md9, Xvfb and
the client.

  --headless   the client runs under Xvfb; the screenshot's path is printed
  (default)    the client opens on $DISPLAY; without one, the command to
               connect is printed and the demo waits for Ctrl-C
"""

import argparse
import os
import shutil
import signal
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import desktop_fixture as df  # noqa: E402
import drive_fixture  # noqa: E402
import harness  # noqa: E402


def say(msg):
    print("md9-demo: " + msg, flush=True)


def start_stack(h, srv, security):
    hs = h.hostsim("--rdp-listen", "%s:0" % harness.LOOPBACK)
    m = h.md9(hs, srv.port, security)
    say("md9-hostsim: simulated Hyper-V host, RDP clients welcome on 127.0.0.1:%d"
        % hs.rdp_port)
    say("md9: serving the simulated VMBus, relaying to xrdp on 127.0.0.1:%d"
        % srv.port)
    return hs, m


def print_md9_log(m, since=0):
    for line in m.log.snapshot(since):
        print("  | " + line)
    return m.log.mark()


def headless(h, security, shot_path):
    started = {}

    def before_connect(srv):
        started["hs"], started["md9"] = start_stack(h, srv, security)
        return (harness.LOOPBACK, started["hs"].rdp_port)

    artifacts = os.path.join(h.tmp, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    say("starting xrdp + sesman with a demo user, then md9-hostsim and md9; "
        "xfreerdp runs under Xvfb")
    res = df.run_desktop_check(sec="tls", security_layer="tls",
                               before_connect=before_connect,
                               artifacts=artifacts, log=print)
    if "md9" in started:
        say("md9's log:")
        print_md9_log(started["md9"])
    if res.get("screenshot"):
        shutil.copyfile(res["screenshot"], shot_path)
        say("screenshot of the client's window: %s" % shot_path)
    if not res["ok"]:
        say("FAILED: %s" % (res.get("error") or ", ".join(
            k for k, v in res["checks"].items() if not v[0])))
        return 1
    say("the RDP client shows the Linux session (and the clipboard works both "
        "ways) through md9 and the simulated VMBus")

    drive = {}

    def drive_connect(srv):
        drive["hs"], drive["md9"] = start_stack(h, srv, security)
        return (harness.LOOPBACK, drive["hs"].rdp_port)

    say("drive redirection: rdesktop shares a folder through md9-hostsim and "
        "md9; the session copies a file from it and one back")
    res = drive_fixture.run_drive_check(before_connect=drive_connect,
                                        artifacts=artifacts, log=print)
    if not res["ok"]:
        say("FAILED: drive redirection: %s" % (res.get("error") or ", ".join(
            k for k, v in res["checks"].items() if not v[0])))
        return 1
    say("drive redirection works both ways through md9 (%s MiB/s into the "
        "session, %s MiB/s back; the share was at %s)" % (
            res["timings"].get("client->session MiB/s"),
            res["timings"].get("session->client MiB/s"), res["mount"]))
    return 0


def interactive(h, security):
    user = df.TestUser(prefix="md9demo").create()
    h.cleanups.append(user.remove)
    srv = df.DesktopServer(user, security_layer="tls").start()
    h.cleanups.append(srv.stop)
    hs, m = start_stack(h, srv, security)
    argv = ["xfreerdp", "/v:127.0.0.1:%d" % hs.rdp_port, "/u:" + user.name,
            "/p:" + user.password, "/cert:ignore", "/sec:tls", "+clipboard",
            "/size:1280x800"]
    if not os.environ.get("DISPLAY"):
        say("no $DISPLAY here: connect any RDP client to 127.0.0.1:%d "
            "(user %s, password %s), e.g.\n    %s"
            % (hs.rdp_port, user.name, user.password, " ".join(argv)))
        say("waiting; Ctrl-C stops everything")
        since = 0
        while True:
            time.sleep(1)
            since = print_md9_log(m, since)
    say("opening xfreerdp on %s (user %s); close its window or press Ctrl-C "
        "to stop" % (os.environ["DISPLAY"], user.name))
    client = df.RdpClient(os.environ["DISPLAY"], "127.0.0.1", hs.rdp_port,
                          user.name, user.password, sec="tls",
                          size=(1280, 800), workdir=h.tmp).start()
    h.cleanups.append(lambda: df.stop_proc(client.proc))
    since = 0
    while client.proc.poll() is None:
        time.sleep(0.5)
        since = print_md9_log(m, since)
    print_md9_log(m, since)
    say("the client exited (%s)" % client.proc.returncode)
    return 0


class Demo(harness.IntegrationHarness):
    def __init__(self):
        super().__init__("demo")
        self.cleanups = []

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:   # keep cleaning up
                print("md9-demo: cleanup: %s" % e, file=sys.stderr)
        super().cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--headless", action="store_true")
    ap.add_argument("--security", default="auto",
                    choices=("auto", "tls", "rdp", "passthrough"))
    ap.add_argument("--screenshot", default=os.path.abspath("md9-demo.png"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        say("run as root (it creates a demo user and starts xrdp in a private "
            "namespace): sudo %s" % " ".join(sys.argv))
        return 1
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    # Ctrl-C even when started from a script that ignored SIGINT for us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    h = Demo()
    try:
        if args.headless:
            return headless(h, args.security, args.screenshot)
        return interactive(h, args.security)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except harness.TestFailure as e:
        say("FAILED: %s" % e)
        h.dump()
        return 1
    finally:
        h.cleanup()
        say("everything the demo started has stopped")


if __name__ == "__main__":
    sys.exit(main())
