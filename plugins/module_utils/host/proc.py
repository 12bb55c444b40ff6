# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processes on the host, argv lists only: `run` for code that has no AnsibleModule (the guard
and the capture watchdog), `spawn` / `stop` for children that run while the module watches
them (tcpdump, locate's listeners), `detach` for the one kind of process that must outlive the
module (the guard, the capture watchdog), and `alive` that tells a process from a recycled
PID by its start time."""

from __future__ import annotations

import os
import signal
import subprocess
import time


def run(argv, data=None):
    """(rc, stdout, stderr) of argv, like AnsibleModule.run_command."""
    res = subprocess.run(  # pylint: disable=ansible-bad-function
        argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, check=False)
    return res.returncode, res.stdout, res.stderr


def spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, session=False):
    """A child that runs while the module goes on (run_command waits for one command to
    end; a capture runs one tcpdump per interface at once). With `session`, in a session of
    its own: a signal to the module's process group (a dropped SSH connection) spares it."""
    return subprocess.Popen(  # pylint: disable=ansible-bad-function
        argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        universal_newlines=stdout is subprocess.PIPE, start_new_session=session,
        close_fds=True)


def start_time(pid):
    """The start time of process `pid` (clock ticks since boot), None if gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(") ", 1)[1].split()
        return None if fields[0] == "Z" else fields[19]
    except (OSError, IndexError):
        return None


def alive(pid, start):
    """Process `pid` still runs and is the one started at `start` (None: any); zombies are
    not alive (an exited child nobody reaped yet)."""
    now = start_time(pid)
    return now is not None and (start is None or now == start)


def wait_gone(pid, start, limit):
    """Wait (bounded) until process `pid` (started at `start`) has exited."""
    end = time.monotonic() + limit
    while alive(pid, start) and time.monotonic() < end:
        time.sleep(0.05)


def stop(procs, kill_after):
    """SIGINT to each {pid: start} still alive (tcpdump flushes and writes its summary), then
    SIGKILL to what is left `kill_after` seconds later."""
    for sig, wait in ((signal.SIGINT, kill_after), (signal.SIGKILL, 0)):
        for pid, start in procs.items():
            if alive(pid, start):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        end = time.monotonic() + wait
        while time.monotonic() < end and any(alive(p, s) for p, s in procs.items()):
            time.sleep(0.05)


def detach(main, keep=()):
    """Run main() in a double-forked, session-less process with stdio on /dev/null and every
    other descriptor closed but `keep`; returns its (pid, start time). Neither the SSH session
    nor Ansible's module wrapper can take it down, and it needs no systemd. main() never
    returns to the caller's code: the process ends with os._exit."""
    pid_r, pid_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked processes
        try:
            os.close(pid_r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.write(pid_w, str(os.getpid()).encode())
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            low = 3
            for fd in sorted(keep) + [65536]:
                os.closerange(low, fd)
                low = fd + 1
            for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_IGN)
            main()
        finally:
            os._exit(0)
    os.close(pid_w)
    os.waitpid(child, 0)
    pid = int(os.read(pid_r, 32) or 0)
    os.close(pid_r)
    return pid, start_time(pid)
