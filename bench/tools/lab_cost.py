"""What one lab host costs this machine: the memory (RSS) and CPU at idle of the processes in
its PID namespace (its init, ovsdb-server, ovs-vswitchd, sshd) and the ports it has (links
in its network namespace, OVS ports), from /proc and `ip -j`; the ToR (its OVS, one port per
host NIC) apart. Read-only.

  python bench/tools/lab_cost.py LAB_DIR [SECONDS]     (JSON on stdout)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _ns(pid, kind):
    try:
        return os.readlink("/proc/%d/ns/%s" % (pid, kind))
    except OSError:
        return None


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])          # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def members(init_pids):
    """{node: [pid]}: the processes in each node's PID namespace (its init's)."""
    by_ns = {_ns(pid, "pid"): node for node, pid in init_pids.items()}
    out = {node: [] for node in init_pids}
    for pid in _pids():
        node = by_ns.get(_ns(pid, "pid"))
        if node is not None:
            out[node].append(pid)
    return out


def _links(init_pid):
    res = subprocess.run(["nsenter", "--target=%d" % init_pid, "--net", "--", "ip", "-j",
                          "link", "show"], capture_output=True, text=True, check=False)
    return len(json.loads(res.stdout or "[]"))


def _ovs_ports(init_pid):
    res = subprocess.run(["nsenter", "--target=%d" % init_pid, "--mount", "--net", "--pid",
                          "--", "ovs-vsctl", "--timeout=5", "--format=json", "--columns=name",
                          "list", "Interface"], capture_output=True, text=True, check=False)
    try:
        return len(json.loads(res.stdout)["data"])
    except ValueError:
        return None


def measure(lab_dir, seconds=10.0):
    with open(os.path.join(lab_dir, "state.json")) as f:
        nodes = {n: v["init_pid"] for n, v in json.load(f)["nodes"].items()
                 if v.get("init_pid")}
    procs = members(nodes)
    before = {p: _cpu_ticks(p) for ps in procs.values() for p in ps}
    time.sleep(seconds)
    out = {}
    for node, ps in sorted(procs.items()):
        cpu = sum(_cpu_ticks(p) - before.get(p, 0) for p in ps) / TICK / seconds
        out[node] = {"rss_mib": round(sum(_rss_kib(p) for p in ps) / 1024.0, 1),
                     "cpu_idle_pct": round(100 * cpu, 2),
                     "processes": sorted(_comm(p) for p in ps),
                     "links": _links(nodes[node]), "ovs_ports": _ovs_ports(nodes[node])}
    hosts = [v for n, v in out.items() if n.startswith("hv")]
    summary = {"hosts": len(hosts), "seconds": seconds}
    if hosts:
        for key in ("rss_mib", "cpu_idle_pct", "links", "ovs_ports"):
            vals = [h[key] for h in hosts if isinstance(h[key], (int, float))]
            summary["per_host_" + key] = round(sum(vals) / len(vals), 2) if vals else None
    with open("/proc/meminfo") as f:
        mem = {ln.split(":")[0]: int(ln.split()[1]) for ln in f}
    summary["machine_available_gib"] = round(mem["MemAvailable"] / 1048576.0, 2)
    summary["loadavg"] = os.getloadavg()
    return {"summary": summary, "nodes": out}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10.0),
                     indent=2))
