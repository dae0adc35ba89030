"""Child processes: started so that they die with the test, their output
read line by line and waited on with a deadline (never a sleep), stopped
with a grace time, and found in /proc."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

from .core import T, TestFailure

_SETPRIV = shutil.which("setpriv")


def guarded(argv):
    """argv, made to die with us (PR_SET_PDEATHSIG) when setpriv exists."""
    if _SETPRIV:
        return [_SETPRIV, "--pdeathsig", "KILL", "--"] + list(argv)
    return list(argv)


def child_env(extra=None, drop=("JOURNAL_STREAM",)):
    """This process's environment without what would change how md9 logs
    or notifies (JOURNAL_STREAM: "<3>" prefixes), plus extra."""
    env = dict(os.environ)
    for k in drop:
        env.pop(k, None)
    env.update(extra or {})
    return env


class LogStream:
    """A pipe's lines, read by a thread; wait_for() waits on a condition
    variable until enough lines match, the deadline passes or the pipe ends."""

    def __init__(self, name, pipe):
        self.name = name
        self.lines = []
        self.closed = False
        self.cond = threading.Condition()
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, daemon=True, name="log-" + name)
        self._thread.start()

    def _run(self):
        fd = self._pipe.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            if complete:
                with self.cond:
                    self.lines.extend(x.decode("utf-8", "replace") for x in complete)
                    self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append(buf.decode("utf-8", "replace"))
            self.closed = True
            self.cond.notify_all()

    def mark(self):
        """Index of the next line: pass as since= to look only at later ones."""
        with self.cond:
            return len(self.lines)

    def snapshot(self, since=0):
        with self.cond:
            return list(self.lines[since:])

    def text(self):
        return "\n".join(self.snapshot())

    def find(self, regex, since=0):
        rx = re.compile(regex)
        return [m for m in (rx.search(x) for x in self.snapshot(since)) if m]

    def wait_for(self, regex, timeout=None, since=0, count=1):
        """Wait until `count` lines (from index `since`) match; return the
        matches. Fails at the deadline (default T(10)), or at once when the
        stream ended (the process exited) without enough matches."""
        rx = re.compile(regex)
        timeout = T(10) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(x) for x in self.lines[since:]) if m]
                if len(found) >= count:
                    return found
                tail = "\n  ".join(self.lines[-10:])
                if self.closed:
                    raise TestFailure("%s ended with %d of %d line(s) matching /%s/; last lines:"
                                      "\n  %s" % (self.name, len(found), count, regex, tail))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("timed out after %.1fs waiting for %d line(s) matching "
                                      "/%s/ in %s (found %d); last lines:\n  %s"
                                      % (timeout, count, regex, self.name, len(found), tail))
                self.cond.wait(left)

    def join(self, timeout=5.0):
        self._thread.join(timeout)


def stop(proc, sig=signal.SIGTERM, grace=5.0, group=False):
    """Signal proc (its process group with group=True) and wait up to grace
    seconds; then SIGKILL. Returns its exit status, None if it was killed."""
    if proc is None:
        return None
    if proc.poll() is not None:
        return proc.returncode

    def send(s):
        try:
            if group:
                os.killpg(proc.pid, s)
            else:
                proc.send_signal(s)
        except (ProcessLookupError, PermissionError):
            proc.send_signal(s)

    try:
        send(sig)
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()
        return None


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid,
    ...), or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rindex(")") + 2:].split()
    except (OSError, ValueError):
        return None


def alive(pid):
    """pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def cpu(pid):
    """utime + stime of a process, in seconds (stat fields 14 and 15)."""
    st = proc_stat(pid)
    if st is None:
        raise TestFailure("process %d is gone" % pid)
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")


def all_pids():
    """Every pid in /proc now."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def descendants(roots):
    """Every live process whose parent chain leads to one of roots, roots
    included."""
    children = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            children.setdefault(int(st[1]), []).append(pid)
    seen = set()
    todo = [p for p in roots if p and os.path.exists("/proc/%d" % p)]
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(children.get(p, []))
    return seen


def kill_pids(pids, grace=5.0):
    """SIGTERM the pids, wait (bounded) until they are gone, then SIGKILL."""
    pids = [p for p in set(pids) if p and p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return
        time.sleep(0.05)  # polling /proc: a pid that is not our child has no event
    for p in pids:
        if alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
