"""The peer collection beside ours: openvswitch.openvswitch 2.1.1 (from the ansible==10.7.0
wheel on PyPI), one `openvswitch_port` task per port in a loop, as its users write it.

Why 2.1.1 and not 2.2.x: it is the newest version any registry reachable here serves. 2.2.x is
published on Galaxy (not reachable from this machine or CI); the `ansible` package, the one
PyPI route, dropped the collection after 10.x (the wheels of 11.13.0, 12.3.0, 13.5.0 and
14.5.0 hold no ansible_collections/openvswitch/, checked 2026-12-04).

The collection is installed by `ensure_peer()` into a bench-only path
(.venv/bench-collections, gitignored), never on the collections path of ./ansible.cfg: the
peer's playbooks run with ANSIBLE_COLLECTIONS_PATH set to that path alone.

The playbook builds what `ours` builds (one_host.py): `openvswitch_bridge` vswitch0 with
datapath_type=netdev, `openvswitch_port` for the uplink, then `openvswitch_port` in a loop over
the P vnets with their tag, then the internal port's address with two `ip` command tasks (the
peer has no module for it). Same connection as ours: local, the host's Python, run with
`ip netns exec` in the sandbox. The peer's `timeout` option (default 5 s, passed to ovs-vsctl
-t) is raised to 120 s: each add-port waits for ovs-vswitchd, which takes longer than 5 s on a
bridge with thousands of ports here, and a user would have to do the same.

Full loop for P <= full_max; above, sampled: the bridge and the ports before each sample point
are made by one batched ovs-vsctl (untimed), then a playbook loops over `per_point` ports and
the callback's per-item timestamps give the cost of each item; it is interpolated linearly in
the number of ports already on the bridge and summed over n = 0..P-1, plus the fixed part (the
playbook's start-up/teardown and the bridge, uplink and ip tasks) measured by a run with an
empty loop. P = 5,000 is extrapolated in report.py (_peer_5000) from the sample at
P = 1,000 and the one_host suite's add-port calls sampled at P = 5,000.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
import zipfile

from harness import (
    REPO,
    VENV_BIN,
    BenchError,
    make_veths,
    ns_argv,
    playbook_env,
    run,
    sandbox,
    vsctl_argv,
    write_playbook,
)
from one_host import ADDRESS, BRIDGE, UPLINK, reset, tag_of, verify, vnet_names

PEER_VERSION = "2.1.1"
ANSIBLE_WHEEL = "ansible==10.7.0"
PEER_ROOT = os.path.join(REPO, ".venv", "bench-collections")
PEER_DIR = os.path.join(PEER_ROOT, "ansible_collections", "openvswitch", "openvswitch")
PEER_TIMEOUT = 120


def ensure_peer(log):
    """openvswitch.openvswitch 2.1.1 in PEER_ROOT: pip download the ansible 10.7.0 wheel (no
    dependencies) and extract only that collection from it."""
    manifest = os.path.join(PEER_DIR, "MANIFEST.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            if json.load(f)["collection_info"]["version"] == PEER_VERSION:
                return PEER_DIR
    dl = os.path.join(REPO, ".venv", "bench-downloads")
    os.makedirs(dl, exist_ok=True)
    log("downloading %s (the wheel only) for openvswitch.openvswitch %s"
        % (ANSIBLE_WHEEL, PEER_VERSION))
    run([os.path.join(VENV_BIN, "pip"), "download", "--no-deps", "--only-binary=:all:",
         ANSIBLE_WHEEL, "-d", dl])
    wheel = [n for n in os.listdir(dl) if n.startswith("ansible-10.7.0-") and n.endswith(".whl")]
    if not wheel:
        raise BenchError("no ansible 10.7.0 wheel in %s" % dl)
    prefix = "ansible_collections/openvswitch/openvswitch/"
    if os.path.isdir(PEER_DIR):
        shutil.rmtree(PEER_DIR)
    with zipfile.ZipFile(os.path.join(dl, wheel[0])) as z:
        for name in z.namelist():
            if name.startswith(prefix):
                z.extract(name, PEER_ROOT)
    with open(manifest) as f:
        got = json.load(f)["collection_info"]["version"]
    if got != PEER_VERSION:
        raise BenchError("the wheel holds openvswitch.openvswitch %s, not %s"
                         % (got, PEER_VERSION))
    return PEER_DIR


def _peer_tasks(sb, ports, with_fixed=True):
    db = sb.db
    common = {"database_socket": db, "timeout": PEER_TIMEOUT}
    tasks = []
    if with_fixed:
        tasks.append({"name": "bridge", "openvswitch.openvswitch.openvswitch_bridge": dict(
            common, bridge=BRIDGE, set="Bridge %s datapath_type=netdev" % BRIDGE)})
        tasks.append({"name": "uplink", "openvswitch.openvswitch.openvswitch_port": dict(
            common, bridge=BRIDGE, port=UPLINK)})
    if ports:
        tasks.append({"name": "vnets", "openvswitch.openvswitch.openvswitch_port": dict(
            common, bridge=BRIDGE, port="{{ item.name }}", tag="{{ item.tag }}"),
            "loop": [{"name": n, "tag": t} for n, t in ports]})
    if with_fixed:
        tasks.append({"name": "internal up", "ansible.builtin.command": {
            "argv": ["ip", "link", "set", "dev", BRIDGE, "up"]}, "changed_when": True})
        tasks.append({"name": "internal address", "ansible.builtin.command": {
            "argv": ["ip", "address", "add", ADDRESS, "dev", BRIDGE]}, "changed_when": True})
    return tasks


def run_peer_playbook(sb, path):
    """Like harness.run_playbook, for a playbook of several tasks (one looped): wall time, the
    loop task's time and each item's duration."""
    timing_out = path + ".timing.json"
    if os.path.exists(timing_out):
        os.unlink(timing_out)
    env = playbook_env(timing_out, ANSIBLE_COLLECTIONS_PATH=PEER_ROOT)
    argv = ns_argv(sb, os.path.join(VENV_BIN, "ansible-playbook"), path)
    start = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    end = time.monotonic()
    if res.returncode != 0:
        raise BenchError("peer playbook %s failed (rc=%d):\n%s\n%s" % (
            os.path.basename(path), res.returncode, res.stdout[-4000:], res.stderr[-2000:]))
    with open(timing_out) as f:
        cb = json.load(f)
    bad = [t for t in cb["tasks"] if t["status"] != "ok"]
    if bad:
        raise BenchError("peer playbook %s: failed tasks %s" % (path, bad))
    out = {"wall_s": end - start, "startup_s": cb["playbook_start"] - start,
           "teardown_s": end - cb["tasks"][-1]["end"], "tasks": len(cb["tasks"])}
    for t in cb["tasks"]:
        if t["name"] == "vnets":
            marks = [t["start"]] + t["items"]
            out["loop_s"] = t["end"] - t["start"]
            out["items_s"] = [b - a for a, b in zip(marks, marks[1:])]
    return out


def _batched_add(sb, names, first, last):
    if last <= first:
        return
    batch = []
    for i in range(first, last):
        batch += ["--", "add-port", BRIDGE, names[i], "tag=%d" % tag_of(i)]
    run(vsctl_argv(sb, *batch))


def run_suite(p, reps, workdir, log, full_max=200, points=5, per_point=10):
    """The peer at P = p: the full playbook `reps` times (p <= full_max), else sampled once."""
    ensure_peer(log)
    os.makedirs(workdir, exist_ok=True)
    names = vnet_names(p)
    out = {"P": p, "samples": [], "sampled": p > full_max, "timeout": PEER_TIMEOUT}
    t0 = time.monotonic()
    with sandbox("peer") as sb:
        make_veths(sb, [UPLINK] + names)
        if p <= full_max:
            book = write_playbook(os.path.join(workdir, "peer.yml"),
                                  _peer_tasks(sb, [(n, tag_of(i)) for i, n in enumerate(names)]))
            for rep in range(reps):
                s = run_peer_playbook(sb, book)
                verify(sb, p, marked=False)
                out["samples"].append(s)
                log("peer P=%d rep %d/%d: %.2f s (loop %.2f s, %.0f ms per item)" % (
                    p, rep + 1, reps, s["wall_s"], s["loop_s"],
                    1000 * s["loop_s"] / p))
                reset(sb)
            out["wall_s"] = statistics.median([s["wall_s"] for s in out["samples"]])
        else:
            # fixed part: the same playbook with an empty loop, on an empty OVS
            fixed_book = write_playbook(os.path.join(workdir, "peer-fixed.yml"),
                                        _peer_tasks(sb, []))
            fixed = run_peer_playbook(sb, fixed_book)
            out["fixed"] = fixed
            per_point = max(1, min(per_point, p // points or 1))
            sizes = sorted({round(i * (p - per_point) / max(points - 1, 1))
                            for i in range(points)})
            current, pts = 0, []
            for k in sizes:
                _batched_add(sb, names, current, k)
                ports = [(names[i], tag_of(i)) for i in range(k, k + per_point)]
                book = write_playbook(os.path.join(workdir, "peer-at-%d.yml" % k),
                                      _peer_tasks(sb, ports, with_fixed=False))
                s = run_peer_playbook(sb, book)
                items = sorted(s["items_s"])
                pts.append({"ports_before": k, "items": len(items),
                            "median_s": statistics.median(items), "min_s": items[0],
                            "max_s": items[-1], "playbook_wall_s": s["wall_s"]})
                log("peer P=%d: %d items at %d ports: median %.3f s per item" % (
                    p, len(items), k, pts[-1]["median_s"]))
                current = k + per_point
            _batched_add(sb, names, current, p)
            verify(sb, p, marked=False)
            reset(sb)
            out["points"] = pts
            xs = [pt["ports_before"] + (pt["items"] - 1) / 2.0 for pt in pts]
            ys = [pt["median_s"] for pt in pts]
            loop = sum(_interp(xs, ys, n) for n in range(p))
            out["loop_s"] = loop
            out["wall_s"] = fixed["wall_s"] + loop
            out["estimated"] = True
            log("peer P=%d: estimate %.0f s (fixed %.1f s + loop %.0f s)" % (
                p, out["wall_s"], fixed["wall_s"], loop))
    out["suite_s"] = time.monotonic() - t0
    return out


def _interp(xs, ys, n):
    if n <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if n <= x1:
            return y0 + (y1 - y0) * (n - x0) / (x1 - x0)
    # beyond the last point: the slope of the last segment
    x0, y0, x1, y1 = xs[-2], ys[-2], xs[-1], ys[-1]
    return y1 + (y1 - y0) * (n - x1) / (x1 - x0) if x1 != x0 else y1
