"""Where a playbook's CPU goes, task by task and by kind of process: `perf record` samples
every CPU of the machine (-a, CLOCK_MONOTONIC, so the samples compare with the bench_fleet
callback's task start and end), each sample counted to the task running at its moment and to
the kind of process it hit. On the lab every host shares this machine's CPUs, so a phase whose
busy CPU-seconds reach CPUs × its wall time is bound by the CPUs, and the kinds say whose.

Bench only; needs `perf` (Debian's linux-perf). Used by fleet.py's captures suite for one extra,
untimed run when asked (run.py --profile).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import time

HZ = 499  # samples a second on each CPU

# (kind, the command names it takes: exact, or a prefix ending in "*"); the first that matches.
# The lab's hosts run the modules with /usr/bin/python3 ("host Python": module runs, locate's
# listeners, capture agents); the controller is .venv's `python` running ansible-playbook (its
# processes call themselves ansible-playboo, the kernel's 15 characters) and the bench itself.
KINDS = (
    ("host Python", ("python3",)),
    ("controller", ("ansible-playboo", "ansible", "python")),
    ("ssh", ("ssh", "sshd", "sftp-server", "sftp")),
    ("sudo", ("sudo",)),
    ("shell", ("sh", "bash", "dash", "sleep", "rm", "mkdir", "cat", "chmod", "touch",
               "timeout")),
    ("OVS", ("ovs*", "revalidator*", "handler*", "urcu*", "ct_clean*", "ipf_clean*", "pmd*",
             "monitor*")),
    ("tcpdump", ("tcpdump",)),
    ("ip/virsh", ("ip", "virsh")),
)
OTHER = "other"
IDLE = "swapper"  # the kernel's idle task


def kind_of(comm):
    for kind, names in KINDS:
        for name in names:
            if comm == name or (name.endswith("*") and comm.startswith(name[:-1])):
                return kind
    return OTHER


def available():
    return shutil.which("perf") is not None


@contextlib.contextmanager
def recording(path):
    """perf records every CPU into `path` while the block runs (stopped by its PID)."""
    proc = subprocess.Popen(["perf", "record", "-a", "-F", str(HZ), "-k", "CLOCK_MONOTONIC",
                             "-o", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # perf's own start-up, before what it is to see
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def samples(path):
    """(command, moment) of each sample in a perf.data file."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "comm,time"], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        comm, _sep, moment = line.rstrip().rstrip(":").rpartition(" ")
        try:
            yield comm.strip(), float(moment)
        except ValueError:
            continue


def spans(timeline, start, end):
    """[(name, begin, end)]: before the playbook, each task (bench_fleet's timeline), after."""
    out = [("(Ansible's start)", start, timeline["playbook_start"])]
    out += [(t["name"].split(" : ", 1)[-1], t["start"], t["end"]) for t in timeline["tasks"]]
    return out + [("(Ansible's end)", timeline["playbook_end"], end)]


def by_span(pairs, spans_, cpus=None):
    """For each span: its wall time, the busy CPU-seconds of the machine (every CPU; idle
    excluded), the CPU-seconds available (CPUs × wall) and the CPU-seconds of each kind."""
    cpus = cpus or os.cpu_count()
    counts = [collections.Counter() for _span in spans_]
    for comm, moment in pairs:
        for i, (_name, begin, end) in enumerate(spans_):
            if begin <= moment < end:
                counts[i][IDLE if comm == IDLE else kind_of(comm)] += 1
                break
    out = []
    for (name, begin, end), c in zip(spans_, counts):
        kinds = dict((k, round(v / HZ, 2)) for k, v in c.most_common() if k != IDLE)
        out.append({"name": name, "s": round(end - begin, 3),
                    "busy_cpu_s": round(sum(kinds.values()), 2),
                    "cpu_s_available": round(cpus * (end - begin), 2), "kinds": kinds})
    return out
