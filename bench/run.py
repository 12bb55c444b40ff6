"""The benchmark (`make bench`): cloudnet.vswitch beside ovs-vsctl and Ansible's own floor.

Today: issue 6's first suite (one host, one vSwitch with P vnet ports; see one_host.py).
Writes bench/RESULTS.md and the raw samples to bench/results/<timestamp>.json.

  python bench/run.py                 # P = 1000, 3 repetitions
  python bench/run.py -P 100          # a quick run
  python bench/run.py -P 100 1000 -r 5 --profile

Needs root (network namespaces), Open vSwitch's binaries and the venv (`make setup`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import machine  # noqa: E402
import one_host  # noqa: E402
import report  # noqa: E402


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def _git_state():
    """The commit measured, and whether plugins/ had uncommitted changes (they were measured)."""
    head = harness.run(["git", "-C", harness.REPO, "rev-parse", "--short", "HEAD"],
                       check=False).stdout.strip()
    dirty = harness.run(["git", "-C", harness.REPO, "status", "--porcelain", "--", "plugins"],
                        check=False).stdout.strip()
    return {"head": head, "plugins_dirty": bool(dirty)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("-P", "--ports", type=int, nargs="+", default=[1000],
                    help="vnet ports per vSwitch, one suite per value (default: 1000)")
    ap.add_argument("-r", "--reps", type=int, default=3, help="repetitions (default: 3)")
    ap.add_argument("--precreate", action="store_true",
                    help="no veths for the vnets: the module pre-creates their ports")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="profile the module with py-spy (first apply and re-run): always, "
                         "never, or when a target is missed (default; needs py-spy in .venv)")
    ap.add_argument("--calls", choices=("auto", "full", "sample"), default="auto",
                    help="the P separate ovs-vsctl calls: the full loop every repetition, or "
                         "sampled once at 5 bridge sizes and summed (auto: full up to "
                         "--calls-full-max ports; the full loop is quadratic in P)")
    ap.add_argument("--calls-full-max", type=int, default=200)
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
    try:
        for p in args.ports:
            res = one_host.run_suite(p, args.reps, args.precreate,
                                     os.path.join(workdir, "P%d" % p), log,
                                     calls=args.calls, calls_full_max=args.calls_full_max)
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
            doc["suites"].append(res)
            log("P=%d: ours %.2fs, vsctl task %.2fs (%.2fx), calls %.2fs, rerun %.2fs, "
                "read %.2fs, ping %.2fs"
                % (p, m["ours"], m["vsctl_task"], m["r_ours_vsctl_task"], m["vsctl_calls"],
                   m["ours_rerun"], m["read_task"], m["ping"]))
    except KeyboardInterrupt:
        log("interrupted: sandboxes cleaned up, nothing written")
        return 130
    doc["duration_s"] = time.monotonic() - started
    doc["loadavg_end"] = os.getloadavg()
    with open(os.path.join(harness.RESULTS_DIR, doc["raw_file"]), "w") as f:
        json.dump(doc, f, indent=1)
    with open(args.results_md, "w") as f:
        f.write(report.render(doc))
    log("wrote %s and %s (%.0f s)" % (args.results_md, doc["raw_file"], doc["duration_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
