"""What every bench suite shares: paths, argv runners, the throwaway OVS (the tests' Sandbox,
tests/support/sandbox.py, reused), running a playbook with the timing callback, and statistics.

Times are time.monotonic() (CLOCK_MONOTONIC is system-wide, so the callback's timestamps in
the ansible-playbook process compare directly with ours). Every command is an argv list.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import time

# tests/support, on the bench's import path (bench/run.py, or a file's own __main__ setup)
from sandbox import Sandbox  # the tests' throwaway OVS

TOOLS = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(TOOLS)
REPO = os.path.dirname(BENCH)
VENV_BIN = os.path.join(REPO, ".venv", "bin")
RESULTS_DIR = os.path.join(BENCH, "results")
CALLBACK_PLUGINS = os.path.join(TOOLS, "callback_plugins")  # ANSIBLE_CALLBACK_PLUGINS
PEAK_RSS = os.path.join(TOOLS, "peak_rss.py")
HOST_PYTHON = "/usr/bin/python3"  # the host's Python with Debian's python3-openvswitch


class BenchError(RuntimeError):
    pass


def run(argv, check=True, timeout=None, **kw):
    """Run an argv list; return CompletedProcess (text)."""
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                         check=False, **kw)
    if check and res.returncode != 0:
        raise BenchError("%s failed (rc=%d): %s" % (" ".join(argv[:6]), res.returncode,
                                                    (res.stderr or res.stdout)[-3000:]))
    return res


def timed(argv, **kw):
    start = time.monotonic()
    res = run(argv, **kw)
    return time.monotonic() - start, res


# ---------------------------------------------------------------------- sandbox lifecycle
@contextlib.contextmanager
def sandbox(tag="bench"):
    """A started Sandbox, stopped by the PIDs it started whatever happens (exception, Ctrl-C,
    SIGTERM). SIGTERM/SIGHUP are turned into KeyboardInterrupt so `finally` runs; during the
    cleanup itself further Ctrl-Cs are ignored."""
    previous = {}

    def interrupt(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, interrupt)
    sb = Sandbox(tag)
    try:
        sb.start()
        yield sb
    finally:
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            sb.stop()
        finally:
            signal.signal(signal.SIGINT, old_int)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def vsctl_argv(sb, *args, timeout=300):
    return ["ovs-vsctl", "--db=" + sb.db, "--timeout=%d" % timeout] + list(args)


def ns_argv(sb, *argv):
    return ["ip", "netns", "exec", sb.netns] + list(argv)


def make_veths(sb, names, up=True):
    """Many veth pairs inside the sandbox's namespace with ONE `ip -batch` process (a process
    per link would take minutes for thousands). Peers are NAME + 'p'."""
    lines = []
    for name in names:
        lines.append("link add %s type veth peer name %s" % (name, (name + "p")[:15]))
    if up:
        for name in names:
            lines.append("link set %s up" % name)
            lines.append("link set %s up" % (name + "p")[:15])
    subprocess.run(ns_argv(sb, "ip", "-batch", "-"), input="\n".join(lines) + "\n",
                   text=True, capture_output=True, check=True)


# ---------------------------------------------------------------------- playbooks
def write_playbook(path, tasks, play_vars=None):
    """A one-play playbook on localhost over the local connection with the host's Python.
    JSON is YAML, and nothing is templated into a shell."""
    play = {"name": "bench", "hosts": "localhost", "gather_facts": False,
            "connection": "local",
            "vars": dict({"ansible_python_interpreter": HOST_PYTHON}, **(play_vars or {})),
            "tasks": tasks}
    with open(path, "w") as f:
        json.dump([play], f, indent=1)
    return path


def playbook_env(timing_out, **extra):
    """ansible-playbook's environment: the venv, this repository's ansible.cfg, the timing
    callback writing to `timing_out`, no retry files or localhost warnings; `extra` on top."""
    return dict(os.environ,
                PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
                ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                ANSIBLE_LOCALHOST_WARNING="false",
                ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                ANSIBLE_CALLBACK_PLUGINS=CALLBACK_PLUGINS,
                ANSIBLE_CALLBACKS_ENABLED="bench_timing",
                ANSIBLE_RETRY_FILES_ENABLED="false",
                BENCH_TIMING_OUT=timing_out, **extra)


def run_playbook(sb, path):
    """Run ansible-playbook inside the sandbox's namespace; return the wall time and the split
    the timing callback recorded:
      startup_s   process start -> playbook start (Python, ansible imports, inventory, parse)
      task_s      task start -> its result (AnsiballZ, the module process, result handling)
      teardown_s  result -> process exit (stats, callbacks, exit)
    plus the task's `changed`, `rc` and the module's own `timing` when it returns one."""
    timing_out = path + ".timing.json"
    if os.path.exists(timing_out):
        os.unlink(timing_out)
    env = playbook_env(timing_out)
    argv = ns_argv(sb, os.path.join(VENV_BIN, "ansible-playbook"), path)
    start = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    end = time.monotonic()
    if res.returncode != 0:
        raise BenchError("playbook %s failed (rc=%d):\n%s\n%s" % (
            os.path.basename(path), res.returncode, res.stdout[-4000:], res.stderr[-2000:]))
    with open(timing_out) as f:
        cb = json.load(f)
    if len(cb["tasks"]) != 1 or cb["tasks"][0]["status"] != "ok":
        raise BenchError("playbook %s: expected one ok task, got %s" % (path, cb["tasks"]))
    task = cb["tasks"][0]
    out = {"wall_s": end - start,
           "startup_s": cb["playbook_start"] - start,
           "task_s": task["end"] - task["start"],
           "teardown_s": end - task["end"],
           "changed": task["changed"], "rc": task["rc"]}
    if task.get("timing"):
        t = task["timing"]
        out["module"] = dict(t)
        out["module"]["other_s"] = t["total_s"] - t["plan_commit_s"] - t["wait_vswitchd_s"]
        out["ansible_overhead_s"] = out["wall_s"] - t["total_s"]
        out["task_minus_module_s"] = out["task_s"] - t["total_s"]
    return out


# ---------------------------------------------------------------------- statistics
def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def pick(samples, *keys):
    """[sample[k1][k2]...] over samples."""
    out = []
    for s in samples:
        for k in keys:
            s = s.get(k) if isinstance(s, dict) else None
        out.append(s)
    return out


# ---------------------------------------------------------------------- the module, directly
def _module_pythonpath(workdir):
    """PYTHONPATH for running a module file with the HOST's Python outside Ansible: the
    collection, plus ansible-core's package alone (a symlink), so the host's own ovs and
    netaddr libraries stay the ones imported (the venv's site-packages would shadow them)."""
    import ansible

    shim = os.path.join(workdir, "pyshim")
    link = os.path.join(shim, "ansible")
    if not os.path.islink(link):
        os.makedirs(shim, exist_ok=True)
        os.symlink(os.path.dirname(ansible.__file__), link)
    return shim + os.pathsep + os.path.join(REPO, ".venv", "collections")


def run_module_direct(sb, module, args, workdir, wrapper=()):
    """Run plugins/modules/MODULE.py with the host's Python inside the sandbox's namespace
    (no Ansible), optionally under a wrapper argv (a profiler). Returns the process's wall
    time and the module's JSON result."""
    args = dict(args, _ansible_check_mode=False, _ansible_diff=False)
    argsfile = os.path.join(workdir, "%s-args.json" % module)
    with open(argsfile, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    path = os.path.join(REPO, "plugins", "modules", module + ".py")
    env = dict(os.environ, PYTHONPATH=_module_pythonpath(workdir))
    argv = ns_argv(sb, *wrapper, HOST_PYTHON, path, argsfile)
    start = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - start
    stdout = res.stdout
    if wrapper:  # a profiler's own messages ("py-spy> ... behind in sampling") interleave
        import re

        stdout = re.sub(r"py-spy> [^\n]*\n", "", stdout)
    out = None
    start_at = stdout.find('{"')
    if start_at >= 0:
        try:
            out = json.JSONDecoder().raw_decode(stdout, start_at)[0]
        except ValueError:
            out = None
    if res.returncode != 0 or out is None or out.get("failed"):
        raise BenchError("module %s run directly failed (rc=%d): %s %s" % (
            module, res.returncode, res.stdout[-3000:], res.stderr[-2000:]))
    return wall, out
