"""Processes and machine facts for the benchmark: a child whose output lines
are collected, CPU time from /proc, ports, the machine's description."""

import json
import os
import platform
import re
import socket
import subprocess
import threading
import time

def cpu_ns(pid):
    """CPU time of every thread of pid, ns (schedstat)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def kthreads_s():
    """CPU seconds of every kernel thread so far (children of kthreadd)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != 2 and pid != "2":
                continue
            with open("/proc/%s/schedstat" % pid) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def busy_s():
    """(CPU seconds the machine's CPUs were busy, seconds the hypervisor
    gave them to someone else) since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal ...
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz


def wait_listening(port, timeout=5.0):
    """Wait until something listens on 127.0.0.1:port (/proc/net/tcp, no connection)."""
    want = "0100007F:%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":
                    return
        time.sleep(0.005)
    raise RuntimeError("nothing listens on port %d" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A child process whose stdout/stderr lines are collected (and logged)."""

    def __init__(self, name, argv, logdir, stdin=False):
        self.name = name
        self.lines = []          # (stream, line)
        self.cond = threading.Condition()
        self.log = open(os.path.join(logdir, name + ".log"), "w")
        self.log.write("$ %s\n" % " ".join(argv))
        self.log.flush()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  text=True, bufsize=1)
        self.pid = self.p.pid
        self.threads = [threading.Thread(target=self._drain, args=(s, n), daemon=True)
                        for s, n in ((self.p.stdout, "out"), (self.p.stderr, "err"))]
        for t in self.threads:
            t.start()

    def _drain(self, stream, tag):
        for line in stream:
            line = line.rstrip("\n")
            with self.cond:
                self.lines.append((tag, line))
                self.log.write("[%s] %s\n" % (tag, line))
                self.log.flush()
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=10.0, stream=None, count=1):
        """The match objects of the first `count` lines matching pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [m for m in (rx.search(l) for s, l in self.lines
                                     if stream is None or s == stream) if m]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and
                                 not any(t.is_alive() for t in self.threads)):
                    raise RuntimeError("%s: no line matching %r (pid %d, exit %s); see %s"
                                       % (self.name, pattern, self.pid, self.p.poll(),
                                          self.log.name))
                self.cond.wait(min(left, 0.2))

    def find(self, pattern):
        rx = re.compile(pattern)
        with self.cond:
            return [m for m in (rx.search(l) for _, l in self.lines) if m]

    def stop(self):
        """Stop it; returns the CPU seconds it used (all threads)."""
        ns = cpu_ns(self.pid) if self.p.poll() is None else None
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for t in self.threads:
            t.join(2)
        self.log.close()
        return (ns or 0) / 1e9


def result_line(proc, timeout):
    r = json.loads(proc.wait_for(r"^result (.*)$", timeout=timeout, stream="out")[0].group(1))
    if "error" in r:
        raise RuntimeError("%s: %s" % (proc.name, r["error"]))
    return r


def machine():
    model, mhz = "?", "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("cpu MHz") and mhz == "?":
                mhz = line.split(":", 1)[1].strip()
    ver = {}
    for name, argv in (("socat", ["socat", "-V"]), ("haproxy", ["haproxy", "-v"])):
        try:
            out = subprocess.run(argv, capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            ver[name] = m.group(1) if m else "?"
        except OSError:
            ver[name] = "missing"
    return {"nproc": os.cpu_count(), "cpu": model, "mhz": mhz, "kernel": platform.release(),
            "versions": ver}


