"""md9's Python test library (standard library only). Every Python test
imports what it shares with others from here:

    sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
    from md9test import Harness, check, main, ...

core       REPO, LOOPBACK, SKIP, T() (scaled timeouts), TestFailure, Skip,
           check(), check_scenario() (a fixture scenario's result),
           binary() ($MD9_BIN and friends), write(), free_port()
procs      guarded() (die with the test), child_env(), LogStream (a child's
           lines, waited on with a deadline), stop(), proc_stat(), cpu(),
           alive(), all_pids(), descendants(), kill_pids()
md9procs   Hostsim (md9-hostsim), Md9 (md9 run), RUN_AS (which user md9
           runs as in tests), the log-line regexes
runner     Harness (a case's tmp dir and processes, the end-of-case checks),
           TmpDir (a Harness whose case gets the tmp path), run_case(), main()
           (the test file's command line)

Imported by name (from md9test.X import ...), not re-exported here:
rdpframes  the X.224, MCS and GCC frames before the security layer (build,
           parse, read one TPKT), with the seed's values
poll       for the fixtures: FixtureError, Fixture (start/stop, `with`),
           wait_until(), read_line() (a child's first line, with a
           deadline), is_listening()
"""

from .core import (BUILD_DIRS, GiB, LOOPBACK, MiB, REPO, SKIP, TIME_SCALE, WRAPPER, Skip, T,
                   TestFailure, binary, check, check_scenario, free_port, write)
from .md9procs import (CLOSED_RE, CTRL_READY_RE, MD9_ANY_LINE, MD9_ERROR_LINE, OPENED_RE,
                       RUN_AS, Hostsim, Md9)
from .procs import (LogStream, alive, all_pids, child_env, cpu, descendants, guarded, kill_pids,
                    proc_stat, stop)
from .runner import Harness, TmpDir, main, run_case

__all__ = [
    "BUILD_DIRS", "GiB", "LOOPBACK", "MiB", "REPO", "SKIP", "TIME_SCALE", "WRAPPER", "Skip",
    "T", "TestFailure", "binary", "check", "check_scenario", "free_port", "write", "CLOSED_RE", "CTRL_READY_RE",
    "MD9_ANY_LINE", "MD9_ERROR_LINE", "OPENED_RE", "RUN_AS", "Hostsim", "Md9", "LogStream", "alive",
    "all_pids", "child_env", "cpu", "descendants", "guarded", "kill_pids", "proc_stat", "stop",
    "Harness", "TmpDir", "main", "run_case",
]
