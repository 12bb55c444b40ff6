"""Where the idempotent re-run's time goes outside the module: py-spy (bench only, in .venv)
records ansible-playbook and every process it starts (--subprocesses: the forked worker, the
host's Python running AnsiballZ and the module) for the one-task re-run at P vnets, in a
fresh sandbox after one untimed apply. Prints the functions with the most inclusive samples,
grouped by process kind, so the split between Ansible's controller side (templating the
task's arguments, building AnsiballZ, parsing and processing the result) and the module
process is visible.

  python bench/tools/profile_ansible.py [-P 1000] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time

if __name__ == "__main__":  # run directly: the import path bench/run.py sets up
    _BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(_BENCH, "suites"),
                    os.path.join(os.path.dirname(_BENCH), "tests", "support")]

from harness import (  # noqa: E402
    REPO,
    RESULTS_DIR,
    VENV_BIN,
    make_veths,
    ns_argv,
    run_playbook,
    sandbox,
    write_playbook,
)
from one_host import UPLINK, module_args, vnet_names  # noqa: E402


def profile(p, out_dir, rate=200):
    os.makedirs(out_dir, exist_ok=True)
    raw = os.path.join(out_dir, "rerun-P%d.raw.txt" % p)
    with sandbox("prof") as sb:
        make_veths(sb, [UPLINK] + vnet_names(p))
        book = write_playbook(os.path.join(out_dir, "ours.yml"), [{
            "name": "vswitch", "cloudnet.vswitch.vswitch": module_args(sb, p, False)}])
        run_playbook(sb, book)          # the first apply, untimed
        plain = run_playbook(sb, book)  # an unprofiled re-run for reference
        env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        argv = [os.path.join(VENV_BIN, "py-spy"), "record", "--subprocesses", "--idle",
                "-r", str(rate), "-f", "raw", "-o", raw, "--",
                os.path.join(VENV_BIN, "python"), os.path.join(VENV_BIN, "ansible-playbook"),
                book]
        start = time.monotonic()
        res = subprocess.run(ns_argv(sb, *argv), capture_output=True, text=True, env=env,
                             cwd=REPO, check=False)
        wall = time.monotonic() - start
        if res.returncode != 0:
            raise SystemExit("py-spy run failed: %s %s" % (res.stdout[-2000:],
                                                           res.stderr[-2000:]))
    return plain, wall, raw, rate


def summarize(raw, rate, top=25):
    """(per process kind: total seconds, [(function, inclusive s)])."""
    kinds = collections.defaultdict(lambda: [0, collections.Counter()])
    with open(raw) as f:
        for line in f:
            stack, _sep, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = stack.split(";")
            proc = frames[0]
            kind = ("module (host Python, AnsiballZ)" if "AnsiballZ" in stack or
                    "/usr/bin/python3" in proc else "ansible-playbook (controller)")
            kinds[kind][0] += n
            seen = set()
            for fr in frames[1:]:
                name = fr.split(" (")[0] + " (" + os.path.basename(
                    fr.split(" (")[-1].rstrip(")").split(":")[0]) + ")" if " (" in fr else fr
                if name not in seen:
                    kinds[kind][1][name] += n
                    seen.add(name)
    return {k: (v[0] / rate, [(fn, c / rate) for fn, c in v[1].most_common(top)])
            for k, v in kinds.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("-P", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(RESULTS_DIR, "profile-ansible"))
    args = ap.parse_args()
    plain, wall, raw, rate = profile(args.P, args.out)
    out = {"P": args.P, "rerun_wall_s": plain["wall_s"], "profiled_wall_s": wall,
           "module_total_s": (plain.get("module") or {}).get("total_s"),
           "kinds": summarize(raw, rate)}
    with open(os.path.join(args.out, "summary-P%d.json" % args.P), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
