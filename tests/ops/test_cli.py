#!/usr/bin/python3
"""md9's command line as a person meets it (src/md9.c's command table,
src/cli.c, the settings table in src/ops/config.c):

* bad_option      an unknown option, a missing value, an unexpected argument,
                  an unknown command: exit 2 and exactly one line on stderr
                  naming the problem and the command's usage;
* strict_numbers  +7, " 7", "7 ", 07, 0x10, 1e3 and out-of-range numbers are
                  refused with the setting's range, as options and in md9.conf;
* setting_values  a bad value of a setting option is refused before anything
                  starts (doctor --security bogus: one line, exit 2);
* every_setting   every md9.conf key is a `md9 run --KEY VALUE` option, listed
                  by `md9 run --help` with its default, and applied in
                  command-line order (-v then --log-level info: no debug);
* help            --help / help CMD / CMD --help go to stdout and exit 0;
                  every command and every option the usage shows is in md9(8).

Python 3 standard library only. $MD9_BIN (ctest sets it); $MD9_REPO.
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "lib"))

from md9test import REPO, TmpDir, binary, check, main  # noqa: E402

MD9 = binary("MD9_BIN", "src/md9", "md9")
# Every md9.conf key, from packaging/md9.conf (which test_config holds to the
# settings table).
with open(os.path.join(REPO, "packaging", "md9.conf")) as _f:
    KEYS = re.findall(r"^#(\w+) =", _f.read(), re.M)


def md9(*args):
    r = subprocess.run([MD9] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def one_line_error(args, *needles):
    rc, out, err = md9(*args)
    what = "md9 %s" % " ".join(args)
    check(rc == 2, "%s: exit %d, not 2:\n%s%s" % (what, rc, out, err))
    check(out == "", "%s printed on stdout:\n%s" % (what, out))
    check(err.count("\n") == 1 and err.endswith("\n"),
          "%s: not exactly one line on stderr:\n%s" % (what, err))
    for n in needles:
        check(n in err, "%s: %r not in: %s" % (what, n, err))
    return err


def case_bad_option(tmp):
    one_line_error(["run", "--bogus"], "md9 run: unknown option '--bogus'",
                   "usage: md9 run [options]")
    one_line_error(["run", "-x"], "unknown option '-x'")
    one_line_error(["status", "--json", "--config"], "option '--config' needs a value",
                   "usage: md9 status")
    one_line_error(["status", "extra"], "unexpected argument 'extra'")
    one_line_error(["doctor", "--root"], "option '--root' needs a value")
    # one way to point md9 at another tree: --root (roots.h); the old
    # --root-sys/--root-etc/... are gone
    for cmd in ("run", "doctor", "setup", "bind-classes"):
        one_line_error([cmd, "--root", os.path.join(tmp, "missing")],
                       "md9 %s: --root %s: No such file or directory"
                       % (cmd, os.path.join(tmp, "missing")))
    one_line_error(["doctor", "--root-sys", tmp], "unknown option '--root-sys'")
    one_line_error(["bind-classes", "--roots", tmp], "unknown option '--roots'")
    one_line_error(["setup", "--dry-run", "now"], "unexpected argument 'now'")
    one_line_error(["bind-classes", "--bogus"], "md9 bind-classes: unknown option")
    one_line_error(["frobnicate"], "md9: unknown command 'frobnicate'", "md9 --help")
    one_line_error([], "usage: md9 run|status|doctor|setup|bind-classes")
    one_line_error(["help", "frobnicate"], "unknown command 'frobnicate'")


def case_strict_numbers(tmp):
    for bad in ("+7", " 7", "7 ", "0x10", "1e3", "-1", "", "65", "0",
                "99999999999999999999999"):
        one_line_error(["run", "--max-sessions", bad],
                       "--max-sessions %s: max_sessions must be 1-64" % bad)
    one_line_error(["run", "--relay-budget", "16383"],
                   "relay_budget must be 16384-67108864 bytes")
    one_line_error(["doctor", "--timeout", "0x10"], "--timeout 0x10: must be a number")
    one_line_error(["run", "--backend", "tcp:127.0.0.1: 3389"],
                   "tcp backend needs a host and a port")
    # the same rule in the file: FILE:LINE: key: reason, exit 1
    conf = os.path.join(tmp, "bad.conf")
    for bad in ("+7", "0x7", "1 6"):
        with open(conf, "w") as f:
            f.write("[md9]\nmax_sessions = %s\n" % bad)
        rc, out, err = md9("run", "-c", conf, "--transport", "sim:" + tmp + "/none")
        check(rc == 1 and "%s:2: max_sessions: max_sessions must be 1-64" % conf in err,
              "max_sessions = %s: exit %d: %s" % (bad, rc, err))


def case_setting_values(tmp):
    one_line_error(["doctor", "--security", "bogus"],
                   "md9 doctor: --security bogus: security must be auto, tls, rdp or "
                   "passthrough")
    one_line_error(["setup", "-s", "sometimes"], "security must be auto, tls, rdp")
    one_line_error(["run", "--transport", "pci"], "transport must be uio or sim:PATH")
    one_line_error(["run", "--log-level", "loud"],
                   "log_level must be debug, info, warning or error")
    one_line_error(["run", "--tls-pin", "12:34"], "tls_pin must be a SHA-256 fingerprint")


def case_every_setting(tmp):
    rc, out, err = md9("run", "--help")
    check(rc == 0 and err == "", "run --help: exit %d: %s" % (rc, err))
    for key in KEYS:
        opt = "--" + key.replace("_", "-")
        check(re.search(r"^\s+(-\w, )?%s \S+\s" % re.escape(opt), out, re.M),
              "%s not in md9 run --help:\n%s" % (opt, out))
    check("(1-64, default 16)" in out, out)
    check("default tcp:127.0.0.1:3389" in out, out)
    # Each option reaches the configuration: md9 -v logs what it runs with
    # (then cannot reach the bus, and exits 1).
    conf = os.path.join(tmp, "empty.conf")
    with open(conf, "w") as f:
        f.write("[md9]\n")
    bus = "sim:" + os.path.join(tmp, "no-bus")
    value = {"transport": bus, "backend": "unix:/x", "server_user": "root",
             "security": "rdp", "tls_pin": "", "log_level": "info", "status_socket": "",
             "status_group": "md9-status", "max_sessions": "3",
             "negotiate_timeout_ms": "100", "drain_timeout_ms": "0",
             "relay_budget": "16384", "user": "root", "allow_root": "yes"}
    check(set(KEYS) <= set(value), "this test has no value for %s" % (set(KEYS) - set(value)))
    argv = ["run", "-c", conf]
    for key in KEYS:
        argv += ["--" + key.replace("_", "-"), value[key]]
    rc, out, err = md9(*argv + ["-v"])
    check(rc == 1, "md9 run with every option: exit %d: %s" % (rc, err))
    check("%d command-line setting(s); max_sessions 3, negotiate_timeout_ms 100, "
          "drain_timeout_ms 0, relay_budget 16384, status_socket (off)" % (len(KEYS) + 1)
          in err, err)
    # command-line order: the last word wins
    rc, out, err = md9("run", "-c", conf, "-v", "--log-level", "info", "--transport", bus)
    check(rc == 1 and " debug: " not in err, "-v then --log-level info logged debug:\n" + err)
    rc, out, err = md9("run", "-c", conf, "--log-level", "info", "-v", "--transport", bus)
    check(rc == 1 and " debug: " in err, "--log-level info then -v: no debug:\n" + err)


def case_help(tmp):
    with open(os.path.join(REPO, "man", "md9.8")) as f:
        man = f.read().replace("\\-", "-")
    rc, full, err = md9("--help")
    check(rc == 0 and err == "" and full.startswith("usage: md9 run"), full + err)
    for args in (["-h"], ["help"]):
        check(md9(*args)[1] == full, "md9 %s differs from md9 --help" % args[0])
    for cmd in ("run", "status", "doctor", "setup", "bind-classes"):
        check(re.search(r"^\.B md9 %s$" % re.escape(cmd), man, re.M),
              "md9(8) has no synopsis for %s" % cmd)
        rc, out, err = md9(cmd, "--help")
        check(rc == 0 and out.startswith("usage: md9 %s" % cmd), "%s --help: %s" % (cmd, out))
        check(md9("help", cmd)[1] == out, "md9 help %s differs from %s --help" % (cmd, cmd))
    # every option the usage shows is documented in md9(8)
    for m in re.finditer(r"^\s+(?:-(\w), )?--([\w-]+)", full, re.M):
        short, name = m.groups()
        check("--" + name in man, "md9(8) does not document --%s" % name)
        if short:
            check(re.search(r"-%s\b" % short, man), "md9(8) does not document -%s" % short)
    rc, out, err = md9("--version")
    check(rc == 0 and re.match(r"^md9 \d+\.\d+\.\d+\n$", out), out)
    check(md9("-V")[1] == out, "-V differs from --version")


CASES = [case_bad_option, case_strict_numbers, case_setting_values, case_every_setting,
         case_help]


if __name__ == "__main__":
    sys.exit(main(CASES, TmpDir))
