"""One test file = a set of cases; one case = a function given a fresh
context (a Harness or a subclass) that is checked and cleaned up after it.

    python3 tests/X/test_Y.py            every case
    python3 tests/X/test_Y.py CASE...    some
    python3 tests/X/test_Y.py --list

Each case prints PASS, FAIL (with the reason and what its processes
printed) or SKIP; the last line counts them. Exit status: 1 when a case
failed, SKIP (77) when every case was skipped, else 0."""

import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

from .core import SKIP, Skip, TestFailure, check
from .md9procs import Hostsim, Md9


class Harness:
    """A case's temporary directory and the md9 and md9-hostsim processes
    it started. At the end (finish) every md9 must still be running, stop on
    SIGTERM with status 0 and have printed no error-level line (unless
    m.allow_errors); then cleanup kills whatever is left and removes tmp."""

    prefix = "md9-test-"
    # finish(): md9-hostsim must exit 0 on SIGTERM too (valgrind's verdict)
    check_hostsim_exit = False

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=self.prefix)
        self.hostsims, self.md9s, self.notes = [], [], []

    @property
    def case_arg(self):
        """What the case function is given: the harness itself."""
        return self

    def hostsim(self, *args, commands=False):
        hs = Hostsim(self.tmp, args, commands)
        self.hostsims.append(hs)
        return hs

    def md9(self, hostsim, backend, security=None, extra=(), wait_ready=True):
        m = Md9(self.tmp, hostsim, backend, security, extra, wait_ready)
        self.md9s.append(m)
        return m

    def path(self, name):
        return os.path.join(self.tmp, name)

    def note(self, text):
        self.notes.append(text)

    def finish(self):
        for m in self.md9s:
            check(m.exit_code is not None or m.alive(),
                  "md9 exited before the end of the test (status %s)" % m.proc.poll())
        for m in self.md9s:
            rc = m.stop()
            check(rc == 0, "md9 exited with status %s after SIGTERM%s" % (
                rc, " (valgrind found errors or leaks)" if rc == 97 else ""))
            m.wait_for_log(r"signal 15: stopping", 1.0)
            if not m.allow_errors:
                m.assert_no_errors()
        for hs in self.hostsims if self.check_hostsim_exit else ():
            rc = hs.stop()
            check(rc == 0, "md9-hostsim exited with status %s after SIGTERM%s" % (
                rc, " (valgrind found errors or leaks)" if rc == 97 else ""))

    def cleanup(self):
        for m in self.md9s:
            m.kill()
        for hs in self.hostsims:
            hs.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dump(self, out=sys.stderr):
        for i, m in enumerate(self.md9s):
            self.section(out, "md9 #%d: %s" % (i + 1, " ".join(m.argv)), m.log.snapshot())
        for i, hs in enumerate(self.hostsims):
            self.section(out, "md9-hostsim #%d: %s" % (i + 1, " ".join(hs.argv)),
                         hs.log.snapshot())
            self.section(out, "md9-hostsim #%d stdout" % (i + 1), hs.out.snapshot(), 30)

    @staticmethod
    def section(out, title, lines, n=150):
        print("---- %s (%d lines%s) ----" % (title, len(lines),
                                            ", last %d" % n if len(lines) > n else ""),
              file=out)
        for x in lines[-n:]:
            print("  " + x, file=out)


class TmpDir(Harness):
    """A Harness whose case function is given the path of its temporary
    directory (for cases that need no more)."""

    @property
    def case_arg(self):
        return self.tmp


def run_case(name, fn, context=Harness, prerequisites=None):
    """Run one case; returns its exit status (0, 1 or SKIP)."""
    t0 = time.monotonic()
    h = None
    status = 1
    try:
        if prerequisites:
            prerequisites()
        h = context(name)
        fn(h.case_arg)
        h.finish()
        status = 0
    except Skip as e:
        print("SKIP %s: %s" % (name, e))
        status = SKIP
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e), file=sys.stderr)
        if h:
            h.dump()
    except BaseException as e:
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), file=sys.stderr)
        traceback.print_exc()
        if h:
            h.dump()
        if not isinstance(e, Exception):
            raise  # SystemExit from SIGTERM, KeyboardInterrupt: cleanup below
    finally:
        if h:
            h.cleanup()
    if status == 0:
        print("PASS %s (%.1fs)%s" % (name, time.monotonic() - t0,
                                     "".join("\n  " + n for n in h.notes)))
    sys.stdout.flush()
    sys.stderr.flush()
    return status


def _on_sigterm(signo, frame):
    raise SystemExit(128 + signo)


def main(cases, context=Harness, prerequisites=None, argv=None):
    """The command line of a test file. cases: {name: function} or a list
    of functions named case_NAME. context(name) makes what each case gets
    (see Harness); prerequisites() may raise Skip."""
    argv = sys.argv[1:] if argv is None else argv
    if not isinstance(cases, dict):
        cases = {fn.__name__[len("case_"):]: fn for fn in cases}
    signal.signal(signal.SIGTERM, _on_sigterm)
    if argv and argv[0] in ("-l", "--list"):
        for c in cases:
            print(c)
        return 0
    names = argv or list(cases)
    unknown = [n for n in names if n not in cases]
    if unknown:
        print("unknown case(s): %s; known: %s" % (", ".join(unknown), ", ".join(cases)),
              file=sys.stderr)
        return 2
    results = [run_case(n, cases[n], context, prerequisites) for n in names]
    print("%d passed, %d failed, %d skipped" % (results.count(0), results.count(1),
                                                results.count(SKIP)))
    if 1 in results:
        return 1
    if all(r == SKIP for r in results):
        return SKIP
    return 0
