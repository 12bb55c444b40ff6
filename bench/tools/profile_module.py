"""Where the module's time goes: py-spy (installed into .venv for the bench only, never in
requirements) samples the module process, run directly by the host's Python inside a fresh
sandbox, for the first apply (from an empty OVS) and the idempotent re-run. `--idle` keeps
the samples where the module waits (ovsdb-server, ovs-vswitchd, `ip`), so the profile adds up
to wall time. The raw collapsed stacks stay in bench/results/; the report gets the top
functions by inclusive and by self time.
"""

from __future__ import annotations

import collections
import os
import re
import shutil

from harness import HOST_PYTHON, VENV_BIN, BenchError, make_veths, run_module_direct, sandbox
from one_host import UPLINK, module_args, vnet_names

RATE = 500
_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# py-spy shortens paths (vswitch/apply.py, db/idl.py, ovs/poller.py, ansible/module_utils/basic.py)
_OURS = ("vswitch/", "ovsdb/", "host/", "troubleshoot/", "capture/", "modules/",
         "module_utils/errors.py")
_LIB_PREFIXES = ("ovs/", "db/", "ansible/module_utils/")
IMPORTS = "(importing modules: any _find_and_load frame)"


def _interesting(path):
    short = "/".join(path.split("/")[-2:])
    return short.startswith(_OURS) or "cloudnet/vswitch/" in path or \
        path.startswith(_LIB_PREFIXES)


def _frame(frame):
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), ""
    path = m.group("file")
    short = "/".join(path.split("/")[-2:])
    return "%s (%s)" % (m.group("fn"), short), path


def summarize(raw_path, top=15):
    inclusive, self_ = collections.Counter(), collections.Counter()
    total = 0
    with open(raw_path) as f:
        for line in f:
            stack, _sep, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_frame(fr) for fr in stack.split(";")]
            # py-spy puts "process ..." and "thread ..." pseudo-frames first: drop them
            frames = [fr for fr in frames if fr[1]]
            if not frames:
                continue
            self_[frames[-1][0]] += n
            names = {name for name, path in frames if _interesting(path)}
            if any(name.startswith("_find_and_load ") for name, _path in frames):
                names = {IMPORTS}  # time under an import belongs to the import
            for name in names:
                inclusive[name] += n

    def rows(counter):
        return [(fn, n / RATE, 100.0 * n / total) for fn, n in counter.most_common(top)]

    return total, rows(inclusive), rows(self_)


def profile(p, precreate, workdir, log):
    spy = os.path.join(VENV_BIN, "py-spy")
    if not os.path.exists(spy):
        raise BenchError("--profile needs py-spy in .venv (bench only): "
                         ".venv/bin/pip install py-spy")
    workdir = os.path.join(workdir, "profile")
    os.makedirs(workdir, exist_ok=True)
    out = {"note": "Module run directly (`%s plugins/modules/vswitch.py args.json`, no "
                   "Ansible) under `py-spy record --idle --rate %d`; P = %d; times are "
                   "samples ÷ rate. Inclusive rows: functions of the collection, of the ovs "
                   "library and AnsibleModule, with everything under an import counted as "
                   "importing; self rows: any function." % (HOST_PYTHON, RATE, p),
           "runs": []}
    with sandbox("prof") as sb:
        make_veths(sb, [UPLINK] + ([] if precreate else vnet_names(p)))
        for name in ("first apply", "idempotent re-run"):
            raw = os.path.join(workdir, name.split()[0] + ".raw.txt")
            wrapper = [spy, "record", "--idle", "--rate", str(RATE), "--format", "raw",
                       "--output", raw, "--"]
            try:
                wall, res = run_module_direct(sb, "vswitch", module_args(sb, p, precreate),
                                              workdir, wrapper=wrapper)
            except BenchError:
                # py-spy's own messages share the module's stdout and once in a while cut
                # its JSON: one more try (the first apply's ports stay, it is a re-run then)
                if name != "idempotent re-run":
                    raise
                wall, res = run_module_direct(sb, "vswitch", module_args(sb, p, precreate),
                                              workdir, wrapper=wrapper)
            samples, inclusive, self_ = summarize(raw)
            out["runs"].append({"name": name, "wall_s": wall, "samples": samples,
                                "rate": RATE, "changed": res["changed"],
                                "timing": res.get("timing"), "raw": os.path.relpath(
                                    raw, os.path.dirname(os.path.dirname(workdir))),
                                "inclusive": inclusive, "self": self_})
            log("profile P=%d %s: %.2f s, %d samples" % (p, name, wall, samples))
        # leave no 1000-port bridge for vswitchd's shutdown to tear down port by port
        shutil.rmtree(os.path.join(workdir, "pyshim"), ignore_errors=True)
    return out
