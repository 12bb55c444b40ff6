"""The fleet suites of issue 6, on the lab (roles/lab: namespaces reached over SSH):

  fleet     provision.yml on N hosts: first run and idempotent re-run, then
            collect_diagnostics.yml, beside `ansible -m ping` on the same lab; remote module
            runs per host (the bench-only callback bench_fleet); forks used.
  captures  collect_captures.yml on N hosts following hv1's VM (VLAN 10), which pings the
            VMs on VLAN 10 of up to 5 other hosts, with a 10 s capture: wall time minus the
            capture duration, and the start skew between hosts (from the captures'
            sidecars), with the per-task timeline that shows where the rest goes.

The lab is one per machine and shared: each lab session runs in a child process under
`flock /run/cnlab-agents.lock` and takes the lab down before the lock is released (one child
per lab size and suite, each well under 15 minutes).

  python bench/suites/fleet.py provision|captures N REPS OUT.json WORKDIR [PROFILE]
      (the child; run.py calls it)
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

if __name__ == "__main__":  # run.py's child: the import path run.py sets up for itself
    _BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(_BENCH, "tools"),
                    os.path.join(os.path.dirname(_BENCH), "tests", "support")]

import cpu_by_task  # noqa: E402
import lab_cost  # noqa: E402
from harness import CALLBACK_PLUGINS, REPO, VENV_BIN, BenchError  # noqa: E402

LOCK = "/run/cnlab-agents.lock"
CAPTURE_PEER_HOSTS = 5  # hv1's VM on VLAN 10 followed, its peers the VMs on hv2..hv6's
CAPTURE_DURATION = 10
# collect_captures.yml's targets (issue 18): wall − duration, by the number of hosts
CAPTURE_OVERHEAD = {3: 5, 10: 6}


def log(msg):
    print("[fleet %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def _env(forks, fleet_out=None):
    env = dict(os.environ,
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_FORKS=str(forks),
               ANSIBLE_RETRY_FILES_ENABLED="false",
               ANSIBLE_CALLBACK_PLUGINS=CALLBACK_PLUGINS)
    if fleet_out:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "bench_fleet"
        env["BENCH_FLEET_OUT"] = fleet_out
    return env


def _tree_rss_kib(root):
    """The summed RSS of process `root` and all its descendants (ansible-playbook, its workers,
    which start sessions of their own, their ssh clients): the controller's memory for a run."""
    parent, rss = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/status" % p) as f:
                rss[int(p)] = next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    children = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def _play(argv, forks, fleet_out=None, check=True):
    """Run a playbook (or ansible) in a session of its own: its wall time and result, with
    res.peak_mib, the controller's peak memory (summed RSS of its process tree, sampled 4x/s;
    shared pages of the forked workers count once per worker, as `ps` shows them)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=_env(forks, fleet_out))
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    res = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    res.peak_mib = round(peak[0] / 1024.0, 1)
    wall = time.monotonic() - start
    if check and res.returncode != 0:
        raise BenchError("%s failed (rc=%d):\n%s\n%s" % (
            " ".join(argv[:4]), res.returncode, res.stdout[-5000:], res.stderr[-2000:]))
    return wall, res


def _recap_changed(stdout):
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", stdout, re.M)}


def lab_up(lab_dir, hosts):
    wall, _res = _play([os.path.join(VENV_BIN, "ansible-playbook"), "playbooks/lab_up.yml",
                        "-e", "lab_dir=" + lab_dir, "-e", "lab_hosts=%d" % hosts], 5)
    return wall


def lab_down(lab_dir):
    wall, res = _play([os.path.join(VENV_BIN, "ansible-playbook"), "playbooks/lab_down.yml",
                       "-e", "lab_dir=" + lab_dir], 5, check=False)
    if res.returncode != 0:
        log("lab_down failed (rc=%d): %s" % (res.returncode, res.stdout[-2000:]))
    return wall


def ping(inv, forks):
    wall, _res = _play([os.path.join(VENV_BIN, "ansible"), "-i", inv, "hypervisors",
                        "-m", "ansible.builtin.ping", "-f", str(forks)], forks)
    return wall


def provision(inv, forks, out_json):
    wall, res = _play([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
                       "playbooks/provision.yml"], forks, fleet_out=out_json)
    with open(out_json) as f:
        cb = json.load(f)
    return {"wall_s": wall, "peak_mib": res.peak_mib, "changed": _recap_changed(res.stdout),
            "remote_runs": {h: v["remote"] for h, v in cb["hosts"].items()},
            "remote_tasks": {h: v["remote_tasks"] for h, v in cb["hosts"].items()},
            "tasks": [{"name": t["name"], "action": t["action"],
                       "s": t["end"] - t["start"], "remote_runs": t["remote_runs"]}
                      for t in cb["tasks"]],
            "startup_s": cb["playbook_start"] - (cb["playbook_start"] - 0)}


def diagnostics(inv, forks, workdir, rep):
    """collect_diagnostics.yml on the provisioned lab (its defaults: 2 s counter watch, DF
    probes between the hosts): the wall time, remote runs per host, its findings."""
    outdir = os.path.join(workdir, "diag-%d" % rep)
    cb = os.path.join(workdir, "diag-%d.json" % rep)
    wall, res = _play([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
                       "playbooks/collect_diagnostics.yml", "-e", "output_dir=" + outdir],
                      forks, fleet_out=cb)
    with open(cb) as f:
        runs = {h: v["remote"] for h, v in json.load(f)["hosts"].items()}
    found = re.search(r"diagnostics of \d+ host\(s\): (.*)", res.stdout)
    return {"wall_s": wall, "peak_mib": res.peak_mib, "remote_runs": runs,
            "said": found.group(1) if found else None}


def session_provision(hosts, reps, workdir):
    """One lab per repetition (a first run needs a fresh lab): up, a warm-up ping (untimed:
    opens the SSH control connections both contenders then reuse), provision (first run),
    then alternately ping and the idempotent provision, then ping and collect_diagnostics.yml,
    down."""
    forks = hosts
    out = {"hosts": hosts, "forks": forks, "first": [], "idempotent": [], "ping": [],
           "diagnostics": [], "lab_up_s": [], "lab_down_s": []}
    for rep in range(reps):
        lab_dir = os.path.join(workdir, "lab%d" % hosts)
        inv = os.path.join(lab_dir, "inventory.yml")
        try:
            out["lab_up_s"].append(lab_up(lab_dir, hosts))
            if rep == 0:            # what one lab host costs, at idle before provisioning
                out["lab_cost"] = lab_cost.measure(lab_dir, 10)
            ping(inv, forks)
            first = provision(inv, forks, os.path.join(workdir, "first-%d.json" % rep))
            if not any(first["changed"].values()):
                raise BenchError("the first provision.yml run changed nothing")
            out["first"].append(first)
            for _i in range(2):
                out["ping"].append(ping(inv, forks))
                idem = provision(inv, forks, os.path.join(workdir, "idem-%d.json" % rep))
                if any(idem["changed"].values()):
                    raise BenchError("the idempotent run changed: %s" % idem["changed"])
                out["idempotent"].append(idem)
            out["ping"].append(ping(inv, forks))
            out["diagnostics"].append(diagnostics(inv, forks, workdir, rep))
            log("%d hosts rep %d/%d: first %.2f s, idempotent %s s, ping %s s, remote runs "
                "per host %s" % (hosts, rep + 1, reps, first["wall_s"],
                                 ["%.2f" % x["wall_s"] for x in out["idempotent"][-2:]],
                                 ["%.2f" % x for x in out["ping"][-2:]],
                                 sorted(set(idem["remote_runs"].values()))))
        finally:
            out["lab_down_s"].append(lab_down(lab_dir))
    return out


def _vlan10_vms(inv, hosts):
    """{host: (address, netns)} of each host's VM on vswitch0's VLAN 10 (its vm2), in host
    order."""
    import yaml

    with open(inv) as f:
        data = yaml.safe_load(f)
    hvs = data["all"]["children"]["hypervisors"]["hosts"]
    out = {}
    for host in hosts:
        vm = next((vm for vm in hvs[host]["lab_vms"]
                   if vm["vswitch"] == "vswitch0" and vm.get("tag") == 10), None)
        if vm is None:
            raise BenchError("no VM on vswitch0's VLAN 10 on %s" % host)
        out[host] = (vm["address"].split("/")[0], vm["netns"])
    return out


def _skew(run_dir):
    """Start skew between hosts: each host's first `listening_at` (sidecars), max - min."""
    starts = {}
    with open(os.path.join(run_dir, "located.json")) as f:
        hosts = json.load(f)["capture"]
    for side in glob.glob(os.path.join(run_dir, "*", "*.json")):
        host = os.path.basename(os.path.dirname(side))
        if host not in hosts:
            continue
        try:
            with open(side) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        at = data.get("listening_at") or data.get("started_at") if isinstance(data, dict) \
            else None
        if isinstance(at, (int, float)):
            starts[host] = min(at, starts.get(host, at))
    if len(starts) < 2:
        return None, starts
    return max(starts.values()) - min(starts.values()), starts


def session_captures(hosts, reps, workdir, profile="never"):
    """`hosts` hosts, provisioned; hv1's VM on VLAN 10 pings the VMs on VLAN 10 of up to
    CAPTURE_PEER_HOSTS other hosts (one ping each, 10/s, started and stopped here by PID);
    then collect_captures.yml follows hv1's VM with those peers, a 10 s capture, `reps`
    times. With `profile` "always" (or "auto" and the size's target missed), one more run,
    not counted, under perf: the CPU by task and kind of process (cpu_by_task.py)."""
    forks = hosts
    lab_dir = os.path.join(workdir, "lab-cap%d" % hosts)
    inv = os.path.join(lab_dir, "inventory.yml")
    names = ["hv%d" % i for i in range(1, min(hosts, CAPTURE_PEER_HOSTS + 1) + 1)]
    out = {"hosts": hosts, "forks": forks, "duration": CAPTURE_DURATION, "runs": []}
    pingers = []
    try:
        out["lab_up_s"] = lab_up(lab_dir, hosts)
        _play([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
               "playbooks/provision.yml"], forks)
        vms = _vlan10_vms(inv, names)
        host_ip, ns = vms[names[0]]
        peers = [vms[h][0] for h in names[1:]]
        out.update(host_ip=host_ip, peers=peers, peer_hosts=names[1:])
        for peer in peers:
            pingers.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, "ping", "-q", "-i", "0.1", "-w", "900", peer],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)

        def captures(rep):
            outdir = os.path.join(workdir, "cap-out-%d-%s" % (hosts, rep))
            os.makedirs(outdir, exist_ok=True)
            cb = os.path.join(workdir, "cap-%d-%s.json" % (hosts, rep))
            wall, res = _play([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
                               "playbooks/collect_captures.yml",
                               "-e", "host_ip=" + host_ip, "-e", "peer_ips=" + ",".join(peers),
                               "-e", "duration=%d" % CAPTURE_DURATION,
                               "-e", "output_dir=" + outdir], forks, fleet_out=cb)
            return wall, res, outdir, cb

        for rep in range(reps):
            # Ansible's floor on this lab in these minutes: the machine's speed moves between
            # runs, the ratio to ping less
            floor = ping(inv, forks)
            wall, res, outdir, cb = captures(rep)
            with open(cb) as f:
                data = json.load(f)
            runs = glob.glob(os.path.join(outdir, "captures", "*"))
            skew, starts = _skew(runs[0]) if runs else (None, {})
            report = os.path.join(runs[0], "report.md") if runs else None
            if not report or not os.path.exists(report):
                raise BenchError("no report.md: %s" % res.stdout[-3000:])
            with open(report) as f:
                said = f.read().split("\n")[2]
            sample = {"wall_s": wall, "overhead_s": wall - CAPTURE_DURATION, "skew_s": skew,
                      "ping_s": floor,
                      "starts": starts, "peak_mib": res.peak_mib, "said": said[:300],
                      "remote_runs": {h: v["remote"] for h, v in data["hosts"].items()},
                      "tasks": [{"name": t["name"], "action": t["action"],
                                 "s": t["end"] - t["start"], "remote_runs": t["remote_runs"]}
                                for t in data["tasks"]]}
            out["runs"].append(sample)
            skew_text = "?" if skew is None else str(round(skew, 3))
            log("captures %d hosts rep %d/%d: %.2f s wall, overhead %.2f s (ping %.2f s), start "
                "skew %s s, capture hosts %s" % (hosts, rep + 1, reps, wall,
                                                 wall - CAPTURE_DURATION, floor, skew_text,
                                                 sorted(starts)))
        target = CAPTURE_OVERHEAD.get(hosts)
        missed = target is not None and sorted(
            r["overhead_s"] for r in out["runs"])[len(out["runs"]) // 2] > target
        if profile == "always" or (profile == "auto" and missed):
            if cpu_by_task.available():
                try:
                    out["cpu_profile"] = _cpu_profile(inv, forks, workdir, captures)
                except (OSError, subprocess.CalledProcessError, BenchError) as exc:
                    log("profiling failed, results kept: %s" % str(exc)[:300])  # a bonus
            else:
                log("not profiling: perf is not installed (Debian's linux-perf, bench only)")
    finally:
        for pinger in pingers:
            pinger.send_signal(signal.SIGINT)
        for pinger in pingers:
            try:
                pinger.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pinger.kill()
                pinger.wait()
        out["lab_down_s"] = lab_down(lab_dir)
    return out


def _cpu_profile(inv, forks, workdir, captures):
    """One ping and one captures run more, each under perf: where the CPU went, by task and
    kind of process (cpu_by_task.py); their wall times are not counted in the results."""
    out = {}
    data = os.path.join(workdir, "ping.perf")
    with cpu_by_task.recording(data):
        start = time.monotonic()
        ping(inv, forks)
        end = time.monotonic()
    out["ping"] = cpu_by_task.by_span(cpu_by_task.samples(data), [("ping", start, end)])[0]
    os.unlink(data)
    data = os.path.join(workdir, "captures.perf")
    with cpu_by_task.recording(data):
        start = time.monotonic()
        wall, _res, _outdir, cb = captures("profiled")
        end = time.monotonic()
    with open(cb) as f:
        timeline = json.load(f)
    out.update(wall_s=wall, tasks=cpu_by_task.by_span(
        cpu_by_task.samples(data), cpu_by_task.spans(timeline, start, end)))
    os.unlink(data)
    log("captures, profiled run: %.2f s wall" % wall)
    return out


def _interrupt(signum, _frame):
    raise KeyboardInterrupt("signal %d" % signum)


def _child(argv):
    # SIGTERM/SIGHUP (a timeout, a killed parent) become KeyboardInterrupt, so the `finally`
    # that takes the lab down still runs before the lock is released.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    mode, n, reps, out_json, workdir = argv[0], int(argv[1]), int(argv[2]), argv[3], argv[4]
    profile = argv[5] if len(argv) > 5 else "never"
    os.makedirs(workdir, exist_ok=True)
    res = session_provision(n, reps, workdir) if mode == "provision" else \
        session_captures(n, reps, workdir, profile)
    res["loadavg_end"] = os.getloadavg()
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)
    return 0


def _locked(mode, n, reps, workdir, outer_log, profile="never"):
    out_json = os.path.join(workdir, "%s-%d.json" % (mode, n))
    argv = ["flock", LOCK, sys.executable, os.path.abspath(__file__), mode, str(n), str(reps),
            out_json, workdir, profile]
    outer_log("waiting for the lab lock (%s), then %s on %d hosts" % (LOCK, mode, n))
    load = os.getloadavg()
    res = subprocess.run(argv, text=True, check=False)
    if res.returncode != 0:
        raise BenchError("fleet %s %d failed (rc=%d)" % (mode, n, res.returncode))
    with open(out_json) as f:
        data = json.load(f)
    data["loadavg_start"] = load
    return data


def run_fleet(sizes, reps, workdir, outer_log):
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "sizes": [_locked("provision", n, reps, os.path.join(workdir, "fleet%d" % n),
                              outer_log) for n in sizes]}


def run_captures(sizes, reps, workdir, outer_log, profile="never"):
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "sizes": [_locked("captures", n, reps, os.path.join(workdir, "captures%d" % n),
                              outer_log, profile) for n in sizes]}


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
