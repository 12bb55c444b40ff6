"""The benchmark (`make bench`): cloudnet.vswitch beside ovs-vsctl, the peer collection and
Ansible's own floor (issue 6).

Suites (--suites, default all; their code is in bench/suites/, what they share in
bench/tools/): one_host (one vSwitch with P vnet ports; one_host.py), peer
(openvswitch.openvswitch 2.1.1's openvswitch_port loop; peer.py), memory (peak memory of the
module process at P = 5,000), pcap (the capture report on 1M and 10M-packet pcaps beside
tshark and capinfos; pcap_bench.py), fleet (provision.yml on the lab, 3 and 10 hosts;
fleet.py) and captures (collect_captures.yml on 3 and 10 hosts, --captures-hosts;
fleet.py). Each suite's raw result
goes to bench/results/<timestamp>.json and replaces that suite's entry in
bench/results/latest.json, from which bench/RESULTS.md is rendered: suites can be re-run one
at a time and the page still shows all of them, each with its own date and load.

  python bench/run.py                          # everything (about an hour)
  python bench/run.py --suites one_host -P 100 # a quick run

Needs root (network namespaces), Open vSwitch's binaries and the venv (`make setup`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
# The bench's import path (what pytest.ini's pythonpath is to the tests): its tools and suites,
# and the tests' shared helpers (tests/support: the Sandbox, pcap_craft).
sys.path[:0] = [os.path.join(BENCH, "tools"), os.path.join(BENCH, "suites"),
                os.path.join(os.path.dirname(BENCH), "tests", "support")]

import harness  # noqa: E402
import machine  # noqa: E402
import one_host  # noqa: E402
import report  # noqa: E402

SUITES = ("one_host", "peer", "memory", "pcap", "fleet", "captures")


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def _git_state():
    """The commit measured, and whether plugins/ had uncommitted changes (they were measured)."""
    head = harness.run(["git", "-C", harness.REPO, "rev-parse", "--short", "HEAD"],
                       check=False).stdout.strip()
    dirty = harness.run(["git", "-C", harness.REPO, "status", "--porcelain", "--", "plugins"],
                        check=False).stdout.strip()
    return {"head": head, "plugins_dirty": bool(dirty)}


def _one_host(p, args, workdir):
    reps = args.reps if p < 5000 else min(args.reps, args.reps_big)
    res = one_host.run_suite(p, reps, args.precreate, os.path.join(workdir, "P%d" % p), log,
                             calls=args.calls, calls_full_max=args.calls_full_max,
                             pairs=args.pairs)
    m = report.suite_metrics(res)
    missed = [name for name, _measured, ok in m["targets"] if ok is False]
    if args.profile == "always" or (args.profile == "auto" and missed):
        import profile_module

        if os.path.exists(os.path.join(harness.VENV_BIN, "py-spy")):
            try:
                res["profile"] = profile_module.profile(
                    p, args.precreate, os.path.join(workdir, "P%d" % p), log)
            except harness.BenchError as exc:  # a profile is a bonus, not the result
                log("profiling failed, results kept: %s" % str(exc)[:300])
        else:
            log("target(s) missed but py-spy is not in .venv: not profiling "
                "(.venv/bin/pip install py-spy, bench only)")
    log("P=%d: ours %.2fs, vsctl task %.2fs (%.2fx), calls %.2fs, rerun %.2fs, "
        "read %.2fs, ping %.2fs"
        % (p, m["ours"], m["vsctl_task"], m["r_ours_vsctl_task"], m["vsctl_calls"],
           m["ours_rerun"], m["read_task"], m["ping"]))
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES),
                    help="which suites to run (default: all)")
    ap.add_argument("-P", "--ports", type=int, nargs="+", default=[100, 1000, 5000],
                    help="vnet ports per vSwitch, one suite per value (default: 100 1000 5000)")
    ap.add_argument("--peer-ports", type=int, nargs="+", default=[100, 1000],
                    help="P for the peer collection (default: 100 1000; above "
                         "--peer-full-max sampled)")
    ap.add_argument("--peer-full-max", type=int, default=200)
    ap.add_argument("--memory-ports", type=int, nargs="+", default=[5000])
    ap.add_argument("--pcap-packets", type=int, nargs="+", default=[1000000, 10000000])
    ap.add_argument("--fleet-hosts", type=int, nargs="+", default=[3, 10])
    ap.add_argument("--captures-hosts", type=int, nargs="+", default=[3, 10])
    ap.add_argument("-r", "--reps", type=int, default=3, help="repetitions (default: 3)")
    ap.add_argument("--reps-big", type=int, default=2,
                    help="repetitions for P >= 5000 (default: 2; a create and delete of a "
                         "5,000-port bridge takes minutes)")
    ap.add_argument("--precreate", action="store_true",
                    help="no veths for the vnets: the module pre-creates their ports")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="profile the module with py-spy (first apply and re-run), and a "
                         "captures run more with perf (CPU by task and process): always, "
                         "never, or when a target is missed (default; needs py-spy in .venv, "
                         "perf installed)")
    ap.add_argument("--calls", choices=("auto", "full", "sample"), default="auto",
                    help="the P separate ovs-vsctl calls: the full loop every repetition, or "
                         "sampled once at 5 bridge sizes and summed (auto: full up to "
                         "--calls-full-max ports; the full loop is quadratic in P)")
    ap.add_argument("--calls-full-max", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=0,
                    help="one_host: after the repetitions, this many pairs of the idempotent "
                         "re-run and the module floor taking turns on one applied vSwitch "
                         "(the ratio of the two, with the machine's drift on both)")
    ap.add_argument("--results-md", default=os.path.join(harness.BENCH, "RESULTS.md"))
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces, OVS daemons)")
    if args.reps < 1 or any(p < 1 for p in args.ports):
        ap.error("-P and -r must be positive")

    started = time.monotonic()
    stamp = datetime.datetime.now(datetime.timezone.utc)
    run_id = stamp.strftime("%Y%m%dT%H%M%SZ")
    workdir = os.path.join(harness.RESULTS_DIR, run_id)
    os.makedirs(workdir, exist_ok=True)
    doc = {"date": stamp.strftime("%Y-%m-%d %H:%M UTC"), "argv": sys.argv[1:],
           "reps": args.reps, "machine": machine.describe(), "suites": [],
           "raw_file": run_id + ".json", "loadavg_start": os.getloadavg(),
           "git": _git_state()}
    log("machine: %s" % json.dumps(doc["machine"]))
    parts = {}

    def attempt(name, fn):
        """One suite; a failure is logged and recorded, the other suites still run and what
        was measured is still written."""
        try:
            parts[name] = fn()
        except harness.BenchError as exc:
            log("suite %s failed: %s" % (name, str(exc)[:2000]))
            doc.setdefault("failures", {})[name] = str(exc)[:4000]

    try:
        if "one_host" in args.suites:
            for p in args.ports:
                attempt("one_host_P%d" % p, lambda p=p: _one_host(p, args, workdir))
                if "one_host_P%d" % p in parts:
                    doc["suites"].append(parts.pop("one_host_P%d" % p))
            if doc["suites"]:
                parts["one_host"] = doc["suites"]
        if "peer" in args.suites:
            import peer

            attempt("peer", lambda: [
                peer.run_suite(p, args.reps, os.path.join(workdir, "peer%d" % p), log,
                               full_max=args.peer_full_max) for p in args.peer_ports])
        if "memory" in args.suites:
            attempt("memory", lambda: [
                one_host.measure_memory(p, os.path.join(workdir, "mem%d" % p), log)
                for p in args.memory_ports])
        if "pcap" in args.suites:
            import pcap_bench

            attempt("pcap", lambda: pcap_bench.run_suite(args.pcap_packets, args.reps, log))
        if "fleet" in args.suites or "captures" in args.suites:
            import fleet

            if "fleet" in args.suites:
                attempt("fleet", lambda: fleet.run_fleet(args.fleet_hosts, args.reps, workdir,
                                                         log))
            if "captures" in args.suites:
                attempt("captures", lambda: fleet.run_captures(args.captures_hosts, args.reps,
                                                               workdir, log, args.profile))
    except KeyboardInterrupt:
        log("interrupted: sandboxes cleaned up, what was measured so far is written")
    doc["duration_s"] = time.monotonic() - started
    doc["loadavg_end"] = os.getloadavg()
    doc["parts"] = parts
    with open(os.path.join(harness.RESULTS_DIR, doc["raw_file"]), "w") as f:
        json.dump(doc, f, indent=1)
    latest = report.merge_latest(doc)
    with open(args.results_md, "w") as f:
        f.write(report.render(latest))
    log("wrote %s and %s (%.0f s)" % (args.results_md, doc["raw_file"], doc["duration_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
