"""A/B of the module's own time between two checkouts: the idempotent `vswitch` run at P vnet
ports, run directly (no Ansible) with the host's Python, this checkout and another one (e.g. a
`git worktree` of an earlier commit) taking turns on the same OVS state, so that a change that
should not change speed (a refactor) can be shown not to, within the noise of this machine.

  git worktree add /tmp/before <commit>
  mkdir -p /tmp/before/.venv/collections/ansible_collections/cloudnet
  ln -s /tmp/before /tmp/before/.venv/collections/ansible_collections/cloudnet/vswitch
  python bench/tools/ab_direct.py /tmp/before -P 1000 -n 15

Prints, for each checkout, the median and the spread of the process's wall time and of the
module's own timing.total_s, and the ratio of the medians (this / other).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(BENCH, "suites"),
                os.path.join(os.path.dirname(BENCH), "tests", "support")]

import harness  # noqa: E402
from one_host import UPLINK, module_args, vnet_names  # noqa: E402


def run_from(tree, sb, args, workdir):
    """One direct run of `tree`'s vswitch module: (wall s, module total_s)."""
    saved = harness.REPO
    harness.REPO = tree
    try:
        wall, out = harness.run_module_direct(sb, "vswitch", args, workdir)
    finally:
        harness.REPO = saved
    if out.get("changed"):
        raise harness.BenchError("%s: the run was not idempotent" % tree)
    return wall, out["timing"]["total_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("other", help="the other checkout (its .venv/collections must link it)")
    ap.add_argument("-P", "--ports", type=int, default=1000)
    ap.add_argument("-n", "--runs", type=int, default=15, help="runs of each (default: 15)")
    a = ap.parse_args()
    trees = {"this": harness.REPO, "other": os.path.realpath(a.other)}
    samples = {k: [] for k in trees}
    with tempfile.TemporaryDirectory(prefix="cnt-ab-") as workdir, \
            harness.sandbox("ab") as sb:
        harness.make_veths(sb, [UPLINK] + vnet_names(a.ports))
        args = module_args(sb, a.ports, False)
        harness.run_module_direct(sb, "vswitch", args, workdir)   # the first apply
        for i in range(a.runs):
            order = ("this", "other") if i % 2 == 0 else ("other", "this")
            for key in order:
                samples[key].append(run_from(trees[key], sb, args, workdir))
    med = {}
    for key, rows in samples.items():
        walls, totals = [r[0] for r in rows], [r[1] for r in rows]
        med[key] = (statistics.median(walls), statistics.median(totals))
        print("%-5s %s: wall %.3f s (%.3f-%.3f), module total_s %.3f s (%.3f-%.3f), %d runs"
              % (key, trees[key], med[key][0], min(walls), max(walls), med[key][1],
                 min(totals), max(totals), len(rows)))
    print("this / other: wall %.2fx, module total_s %.2fx"
          % (med["this"][0] / med["other"][0], med["this"][1] / med["other"][1]))


if __name__ == "__main__":
    main()
