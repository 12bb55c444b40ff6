"""Suite 1 of issue 6 (its first part, issue 2): one host, one vSwitch with P vnet ports.

Contenders, each repeated `reps` times on ONE throwaway OVS whose P+1 veth NICs are created
once, outside the timing:
  ping          the empty one-task playbook (ansible.builtin.ping): Ansible's floor
  ours          one cloudnet.vswitch.vswitch task: vswitch0 (netdev), uplink eth0,
                internal address, P vnets with a tag
  vsctl_task    one ansible.builtin.command task (argv) running ONE batched ovs-vsctl doing
                the same, then `ip link set up` + `ip address add` (the floor for a CLI)
  vsctl_calls   the same by P+3 separate ovs-vsctl calls and two `ip` calls, outside Ansible
  ours_rerun    the idempotent re-run of `ours`, once ovs-vswitchd is idle again (settle())
  read_task     one command task: ONE batched read (ovs-vsctl --format=json list
                Bridge/Port/Interface), the counterpart of the re-run
Every create starts from an empty OVS: the bridge is deleted between runs (untimed). An untimed
warm-up create/delete comes first (the first netdev bridge of a fresh ovs-vswitchd is slower,
which would bias whichever contender ran first). The order of the creating contenders rotates
from one repetition to the next.

Growing into issue 6: more P values come from the CLI; the peer collection is one more
contender (a playbook with P openvswitch_port tasks) in CONTENDERS and _create_runs().
"""

from __future__ import annotations

import json
import os
import time

from harness import (
    REPO,
    BenchError,
    make_veths,
    ns_argv,
    run,
    run_module_direct,
    run_playbook,
    sandbox,
    timed,
    vsctl_argv,
    write_playbook,
)

BRIDGE = "vswitch0"
# Above this P no warm-up create/delete (it takes minutes at P = 5,000, and the first-bridge
# effect it removes is a fraction of a second).
WARMUP_MAX = 1000
UPLINK = "eth0"
ADDRESS = "203.0.113.11/24"

# key -> (label, kind) in report order; kind says which table/ratio it belongs to.
CONTENDERS = {
    "ping": ("empty one-task playbook (ansible.builtin.ping): Ansible's floor", "floor"),
    "ours": ("cloudnet.vswitch.vswitch task, first apply", "create"),
    "vsctl_task": ("one batched ovs-vsctl command task (+ ip)", "create"),
    "vsctl_calls": ("P separate ovs-vsctl add-port calls (no Ansible)", "create"),
    "ours_rerun": ("cloudnet.vswitch.vswitch task, idempotent re-run", "idempotent"),
    "read_task": ("one batched ovs-vsctl read task (list Bridge/Port/Interface)", "idempotent"),
    "ours_rerun_direct": ("the same re-run, module run directly by the host's Python "
                          "(no Ansible)", "idempotent"),
    "module_floor": ("vswitch's own module file, arguments and module_utils, exiting right "
                     "after AnsibleModule validated the arguments: the floor of any module "
                     "with this interface", "idempotent"),
}


def vnet_names(p):
    return ["vnet%d" % i for i in range(p)]


def tag_of(i):
    return i % 4094 + 1


def vswitch_config(p, precreate):
    vnets = []
    for i, name in enumerate(vnet_names(p)):
        v = {"name": name, "tag": tag_of(i)}
        if precreate:
            v["precreate"] = True
        vnets.append(v)
    return {"name": BRIDGE, "datapath_type": "netdev", "uplink": {"interfaces": [UPLINK]},
            "internal": {"addresses": [ADDRESS]}, "vnets": vnets}


# The module's wait for OVSDB and ovs-vswitchd, like ovs-vsctl's --timeout=300 in the CLI
# contenders: at P = 5,000 applying the ports takes ovs-vswitchd longer than the default 30 s
# here when the machine is busy.
MODULE_TIMEOUT = 300


def module_args(sb, p, precreate):
    return {"db": sb.db, "timeout": MODULE_TIMEOUT, "config": [vswitch_config(p, precreate)]}


def _direct_sample(wall, res):
    sample = {"wall_s": wall, "changed": res["changed"]}
    if res.get("timing"):
        t = dict(res["timing"])
        t["other_s"] = t["total_s"] - t["plan_commit_s"] - t["wait_vswitchd_s"]
        sample["module"] = t
    return sample


def vsctl_create_args(p):
    """The ovs-vsctl clauses (without the program/--db) creating what `ours` creates."""
    args = ["--", "add-br", BRIDGE, "--", "set", "Bridge", BRIDGE, "datapath_type=netdev",
            "--", "add-port", BRIDGE, UPLINK]
    for i, name in enumerate(vnet_names(p)):
        args += ["--", "add-port", BRIDGE, name, "tag=%d" % tag_of(i)]
    return args


# A constant script: every value arrives as a positional parameter, nothing is interpolated.
_CLI_SCRIPT = 'br=$1; addr=$2; shift 2; ovs-vsctl "$@" && ip link set dev "$br" up && ' \
              'ip address add "$addr" dev "$br"'


def _write_floor_module(libdir):
    """library/module_floor.py next to the playbooks (Ansible finds it there): vswitch.py as
    it is (documentation, imports, argument spec), exiting right after argument validation."""
    with open(os.path.join(REPO, "plugins", "modules", "vswitch.py")) as f:
        src = f.read()
    cut = "    p = module.params\n"
    if src.count(cut) != 1:
        raise BenchError("module_floor: vswitch.py's main() changed shape; update one_host.py")
    os.makedirs(libdir, exist_ok=True)
    with open(os.path.join(libdir, "module_floor.py"), "w") as f:
        f.write(src.replace(cut, "    module.exit_json(changed=False)\n" + cut))


def write_playbooks(sb, p, precreate, workdir):
    db = sb.db
    books = {}
    books["ping"] = write_playbook(os.path.join(workdir, "ping.yml"),
                                   [{"name": "ping", "ansible.builtin.ping": {}}])
    books["ours"] = write_playbook(os.path.join(workdir, "ours.yml"), [{
        "name": "vswitch", "cloudnet.vswitch.vswitch": module_args(sb, p, precreate)}])
    argv = ["/bin/sh", "-c", _CLI_SCRIPT, "sh", BRIDGE, ADDRESS,
            "--db=" + db, "--timeout=300"] + vsctl_create_args(p)
    books["vsctl_task"] = write_playbook(os.path.join(workdir, "vsctl_task.yml"), [{
        "name": "ovs-vsctl batched", "ansible.builtin.command": {"argv": argv}}])
    _write_floor_module(os.path.join(workdir, "library"))
    books["module_floor"] = write_playbook(os.path.join(workdir, "module_floor.yml"), [{
        "name": "module floor", "module_floor": module_args(sb, p, precreate)}])
    books["read_task"] = write_playbook(os.path.join(workdir, "read_task.yml"), [{
        "name": "ovs-vsctl batched read", "ansible.builtin.command": {"argv": [
            "ovs-vsctl", "--db=" + db, "--format=json", "list", "Bridge", "--", "list", "Port",
            "--", "list", "Interface"]}}])
    return books


def vsctl_calls(sb, p):
    """P separate ovs-vsctl add-port calls (plus add-br, datapath_type, the uplink and the
    two `ip` calls), each a process that waits for ovs-vswitchd like a user's loop would."""
    start = time.monotonic()
    run(vsctl_argv(sb, "add-br", BRIDGE))
    run(vsctl_argv(sb, "set", "Bridge", BRIDGE, "datapath_type=netdev"))
    run(vsctl_argv(sb, "add-port", BRIDGE, UPLINK))
    ports_start = time.monotonic()
    for i, name in enumerate(vnet_names(p)):
        run(vsctl_argv(sb, "add-port", BRIDGE, name, "tag=%d" % tag_of(i)))
    ports_s = time.monotonic() - ports_start
    run(ns_argv(sb, "ip", "link", "set", "dev", BRIDGE, "up"))
    run(ns_argv(sb, "ip", "address", "add", ADDRESS, "dev", BRIDGE))
    return {"wall_s": time.monotonic() - start, "add_port_loop_s": ports_s,
            "per_call_ms": 1000.0 * ports_s / max(p, 1)}


def vsctl_calls_sampled(sb, p, points=5, per_point=10):
    """The same loop, sampled. Each `ovs-vsctl add-port` waits for ovs-vswitchd, which
    reconfigures every port of the bridge, so a call costs more the more ports the bridge has
    and the full loop is quadratic (at P = 1000 it runs for well over 10 minutes here). So:
    time `per_point` separate calls at `points` bridge sizes spread over 0..P (the ports in
    between are added by one batched call, untimed), interpolate the per-call time linearly
    in the number of ports already there, and sum it over n = 0..P-1. The fixed calls
    (add-br, datapath_type, uplink, the two `ip` calls) are timed as they are."""
    names = vnet_names(p)
    per_point = max(1, min(per_point, p // points or 1))
    sizes = sorted({round(i * (p - per_point) / max(points - 1, 1)) for i in range(points)})
    fixed = 0.0
    for args in (("add-br", BRIDGE), ("set", "Bridge", BRIDGE, "datapath_type=netdev"),
                 ("add-port", BRIDGE, UPLINK)):
        fixed += timed(vsctl_argv(sb, *args))[0]
    current, samples = 0, []
    for k in sizes:
        if k > current:
            batch = []
            for i in range(current, k):
                batch += ["--", "add-port", BRIDGE, names[i], "tag=%d" % tag_of(i)]
            run(vsctl_argv(sb, *batch))
            current = k
        calls = []
        for i in range(k, k + per_point):
            calls.append(timed(vsctl_argv(sb, "add-port", BRIDGE, names[i],
                                          "tag=%d" % tag_of(i)))[0])
        current = k + per_point
        calls.sort()
        samples.append({"ports_before": k, "calls": len(calls), "median_s": calls[len(calls) // 2],
                        "min_s": calls[0], "max_s": calls[-1]})
    if current < p:
        batch = []
        for i in range(current, p):
            batch += ["--", "add-port", BRIDGE, names[i], "tag=%d" % tag_of(i)]
        run(vsctl_argv(sb, *batch))
    fixed += timed(ns_argv(sb, "ip", "link", "set", "dev", BRIDGE, "up"))[0]
    fixed += timed(ns_argv(sb, "ip", "address", "add", ADDRESS, "dev", BRIDGE))[0]
    xs = [sm["ports_before"] + (sm["calls"] - 1) / 2.0 for sm in samples]
    ys = [sm["median_s"] for sm in samples]

    def per_call(n):
        if n <= xs[0]:
            return ys[0]
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            if n <= x1:
                return y0 + (y1 - y0) * (n - x0) / (x1 - x0)
        return ys[-1]

    loop = sum(per_call(n) for n in range(p))
    return {"wall_s": fixed + loop, "add_port_loop_s": loop, "fixed_s": fixed,
            "per_call_ms": 1000.0 * loop / p, "estimated": True, "points": samples}


def verify(sb, p, marked):
    """Untimed: every contender must have built the same thing."""
    ports = json.loads(run(vsctl_argv(sb, "--format=json", "--columns=name,tag",
                                      "list", "Port")).stdout)
    tags = {row[0]: row[1] for row in ports["data"]}
    want = {name: tag_of(i) for i, name in enumerate(vnet_names(p))}
    bad = [n for n, t in want.items() if tags.get(n) != t]
    if bad or UPLINK not in tags or BRIDGE not in tags or len(tags) != p + 2:
        raise BenchError("verify: %d ports, %d vnets without their tag (e.g. %s)" % (
            len(tags), len(bad), bad[:3]))
    addrs = json.loads(run(ns_argv(sb, "ip", "-j", "address", "show", "dev", BRIDGE)).stdout)
    have = ["%s/%s" % (a["local"], a["prefixlen"]) for a in addrs[0].get("addr_info", [])]
    if ADDRESS not in have:
        raise BenchError("verify: %s not on %s (%s)" % (ADDRESS, BRIDGE, have))
    if marked:
        mark = run(vsctl_argv(sb, "get", "Port", "vnet0", "external_ids")).stdout
        if "cloudnet-vswitch" not in mark:
            raise BenchError("verify: vnet0 not marked as ours: %s" % mark)


def _cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(sb, window=0.5, busy=0.05, limit=15.0):
    """Untimed: wait until ovs-vswitchd is idle (less than `busy` s of CPU in `window` s; at
    most `limit` s). For a second or two after a create of P = 1,000 ports it still works
    (about 0.8 s of CPU, measured), and on a 2-core machine the re-run timed right after the
    create paid for it: its ansible-playbook start-up alone, which runs none of our code, took
    0.2-0.4 s longer than the module floor's. Returns the seconds waited."""
    pid = sb.pids["ovs-vswitchd"]
    start = time.monotonic()
    last = _cpu_s(pid)
    while time.monotonic() - start < limit:
        time.sleep(window)
        now = _cpu_s(pid)
        if now - last < busy:
            break
        last = now
    return time.monotonic() - start


def reset(sb):
    """Back to an empty OVS (untimed for the contenders; recorded for the report)."""
    seconds, _res = timed(vsctl_argv(sb, "--if-exists", "del-br", BRIDGE, timeout=600))
    left = run(vsctl_argv(sb, "list-br")).stdout.split()
    if left:
        raise BenchError("reset: bridges left: %s" % left)
    return seconds


def run_suite(p, reps, precreate, workdir, log, calls="auto", calls_full_max=200, pairs=0):
    """Run every contender `reps` times for P = p; return the raw samples. The separate
    ovs-vsctl calls run in full every repetition when `calls` is "full" (or "auto" and
    p <= calls_full_max), else once, sampled (vsctl_calls_sampled). With `pairs`, then that
    many pairs of the idempotent re-run and the module floor taking turns on one applied
    vSwitch (which goes first alternates): out["pairs"], for the ratio of the two."""
    full_calls = calls == "full" or (calls == "auto" and p <= calls_full_max)
    os.makedirs(workdir, exist_ok=True)
    out = {"P": p, "reps": reps, "precreate": precreate, "setup": {}, "resets_s": [],
           "settle_s": [],
           "order": [], "samples": {k: [] for k in CONTENDERS}, "pairs": []}
    t_suite = time.monotonic()
    with sandbox("bench") as sb:
        nics = [UPLINK] + ([] if precreate else vnet_names(p))
        start = time.monotonic()
        make_veths(sb, nics)
        out["setup"]["veths_s"] = time.monotonic() - start
        out["setup"]["veth_pairs"] = len(nics)
        log("P=%d: %d veth pairs in %.1f s" % (p, len(nics), out["setup"]["veths_s"]))
        books = write_playbooks(sb, p, precreate, workdir)

        if p <= WARMUP_MAX:
            start = time.monotonic()
            run(vsctl_argv(sb, *vsctl_create_args(p)))
            out["setup"]["warmup_reset_s"] = reset(sb)
            out["setup"]["warmup_s"] = time.monotonic() - start
            log("P=%d: warm-up create/delete %.1f s" % (p, out["setup"]["warmup_s"]))

        def do_ours():
            s = run_playbook(sb, books["ours"])
            if not s["changed"]:
                raise BenchError("ours: first apply reported changed=false")
            verify(sb, p, marked=True)
            out["samples"]["ours"].append(s)
            out["settle_s"].append(settle(sb))
            s = run_playbook(sb, books["ours"])  # the same playbook again
            if s["changed"]:
                raise BenchError("ours: the re-run reported changed=true")
            out["samples"]["ours_rerun"].append(s)
            out["samples"]["read_task"].append(run_playbook(sb, books["read_task"]))
            out["samples"]["module_floor"].append(run_playbook(sb, books["module_floor"]))
            wall, res = run_module_direct(sb, "vswitch", module_args(sb, p, precreate), workdir)
            if res["changed"]:
                raise BenchError("ours: the direct re-run reported changed=true")
            out["samples"]["ours_rerun_direct"].append(_direct_sample(wall, res))
            return "ours=%.2fs (settled %.1fs) rerun=%.2fs read=%.2fs direct=%.2fs" % (
                out["samples"]["ours"][-1]["wall_s"], out["settle_s"][-1], s["wall_s"],
                out["samples"]["read_task"][-1]["wall_s"], wall)

        def do_vsctl_task():
            s = run_playbook(sb, books["vsctl_task"])
            verify(sb, p, marked=False)
            out["samples"]["vsctl_task"].append(s)
            return "vsctl_task=%.2fs" % s["wall_s"]

        def do_vsctl_calls():
            s = vsctl_calls(sb, p)
            verify(sb, p, marked=False)
            out["samples"]["vsctl_calls"].append(s)
            return "vsctl_calls=%.2fs" % s["wall_s"]

        creates = [("ours", do_ours), ("vsctl_task", do_vsctl_task)]
        if full_calls:
            creates.append(("vsctl_calls", do_vsctl_calls))
        for rep in range(reps):
            s = run_playbook(sb, books["ping"])
            out["samples"]["ping"].append(s)
            order = creates[rep % len(creates):] + creates[:rep % len(creates)]
            out["order"].append([name for name, _value in order])
            for _name, fn in order:
                msg = fn()
                r = reset(sb)
                out["resets_s"].append(r)
                log("P=%d rep %d/%d: %s (reset %.1f s)" % (p, rep + 1, reps, msg, r))
        if not full_calls:
            start = time.monotonic()
            s = vsctl_calls_sampled(sb, p)
            verify(sb, p, marked=False)
            out["samples"]["vsctl_calls"].append(s)
            r = reset(sb)
            out["resets_s"].append(r)
            log("P=%d: separate calls sampled in %.1f s: estimate %.1f s for the full loop "
                "(%.0f ms per call on average; reset %.1f s)" % (
                    p, time.monotonic() - start, s["wall_s"], s["per_call_ms"], r))
        if pairs:
            _pairs(sb, books, pairs, out, log)
    out["suite_s"] = time.monotonic() - t_suite
    return out


def _pairs(sb, books, n, out, log):
    """n pairs of (idempotent re-run, module floor), back to back on one applied vSwitch,
    which goes first alternating: the machine's drift between repetitions falls on both."""
    if run_playbook(sb, books["ours"])["changed"] is not True:
        raise BenchError("pairs: the first apply reported changed=false")
    settle(sb)
    for i in range(n):
        got = {}
        for name in (("rerun", "floor") if i % 2 == 0 else ("floor", "rerun")):
            s = run_playbook(sb, books["ours" if name == "rerun" else "module_floor"])
            if name == "rerun" and s["changed"]:
                raise BenchError("pairs: the re-run reported changed=true")
            got[name + "_s"] = s["wall_s"]
        out["pairs"].append(got)
    ratios = sorted(x["rerun_s"] / x["floor_s"] for x in out["pairs"])
    log("P=%d: %d pairs, re-run / module floor median %.2f (%.2f-%.2f)" % (
        out["P"], n, ratios[len(ratios) // 2], ratios[0], ratios[-1]))
    reset(sb)


def measure_memory(p, workdir, log):
    """Peak memory of the module process on the host at P = p: the module run directly by the
    host's Python (the process Ansible would start) under bench/tools/peak_rss.py, which reports the
    kernel's ru_maxrss of that child; first apply on an empty OVS, then the idempotent re-run.
    AnsiballZ adds its own wrapper process around the same work; not counted here."""
    from harness import HOST_PYTHON, PEAK_RSS

    os.makedirs(workdir, exist_ok=True)
    out = {"P": p}
    with sandbox("mem") as sb:
        make_veths(sb, [UPLINK] + vnet_names(p))
        for key, want_changed in (("first_apply", True), ("rerun", False)):
            rss = os.path.join(workdir, "rss-%s.json" % key)
            wrapper = (HOST_PYTHON, PEAK_RSS, rss, "--")
            wall, res = run_module_direct(sb, "vswitch", module_args(sb, p, False), workdir,
                                          wrapper=wrapper)
            if bool(res["changed"]) != want_changed:
                raise BenchError("memory %s: changed=%s" % (key, res["changed"]))
            with open(rss) as f:
                m = json.load(f)
            m["wall_s"] = wall
            m["timing"] = res.get("timing")
            out[key] = m
            log("P=%d memory: %s peak RSS %.1f MiB (%.2f s)" % (
                p, key, m["maxrss_kib"] / 1024.0, wall))
        verify(sb, p, marked=True)
    return out
