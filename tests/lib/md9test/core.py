"""What every md9 test needs first: where things are, how a check fails,
how long to wait, where the binaries are."""

import os
import shlex
import socket

REPO = os.environ.get("MD9_REPO") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LOOPBACK = "127.0.0.1"
SKIP = 77  # the exit status ctest counts as skipped (SKIP_RETURN_CODE)
MiB = 1 << 20
GiB = 1 << 30

# MD9_WRAPPER: a command line put in front of md9 and md9-hostsim (valgrind);
# MD9_TIME_SCALE multiplies every timeout (default 20 under a wrapper).
WRAPPER = shlex.split(os.environ.get("MD9_WRAPPER", ""))
TIME_SCALE = float(os.environ.get("MD9_TIME_SCALE", "20" if WRAPPER else "1"))


def T(seconds):
    """A timeout, scaled for slow runs (valgrind, sanitizers)."""
    return seconds * TIME_SCALE


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """The case cannot run here (no root, no xrdp): exit SKIP."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


# Where tests look for binaries when ctest did not say ($MD9_BIN, ...).
BUILD_DIRS = ("build", "build-a", "build-rel", "build-integ", "build-ops", "build-lead")


def check_scenario(res, what, names):
    """A fixture scenario's result (desktop_fixture.run_desktop_check,
    drive_fixture.run_drive_check: {"ok", "error", "checks": {name: (ok,
    detail)}}) passed, and each of names is among its checks and passed (a
    scenario that stopped before a check fails here too). what names the
    scenario in the message; a screenshot in res is named as well."""
    failed = [k for k, v in res["checks"].items() if not v[0]]
    shot = "; screenshot %s" % res["screenshot"] if "screenshot" in res else ""
    check(res["ok"], "%s check failed (%s): %s%s" % (
        what, ", ".join(failed) or "-", res.get("error"), shot))
    for name in names:
        check(res["checks"].get(name, (False,))[0], "check missing: " + name)


def binary(env, *rels, mode=os.X_OK):
    """The program named by $env, or the first of rels (paths relative to a
    build directory) found in one of BUILD_DIRS. mode: os.R_OK for a build
    product that is not run (a preload library)."""
    path = os.environ.get(env)
    if path:
        check(os.access(path, mode), "$%s=%s is not %s" % (
            env, path, "executable" if mode == os.X_OK else "readable"))
        return path
    for build in BUILD_DIRS:
        for rel in rels:
            cand = os.path.join(REPO, build, rel)
            if os.access(cand, mode):
                return cand
    raise TestFailure("set $%s (no %s under %s)" % (env, rels[0], ", ".join(BUILD_DIRS)))


def write(path, text, mode=None):
    """Write a file, creating its directories."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if mode is not None:
        os.chmod(path, mode)


def free_port(host=LOOPBACK):
    """A TCP port that is free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]
