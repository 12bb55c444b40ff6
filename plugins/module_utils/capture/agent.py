# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture agent: what a locate run leaves behind on its host (locate's `capture_wait`),
so that collect_captures.yml starts its capture without a module run of its own. A fleet's
captures are planned on the controller from every host's locate answer; starting them was a
second round of module runs (the AnsiballZ payload built, sent and compiled on each host),
which on ten hosts sharing two CPUs took two seconds before the window could open.

The agent is a detached process (host/proc.py detach(), forked from the locate module with
the capture's code already imported: the module's payload is gone once it exits) that waits
in its own directory, up to `capture_wait` seconds, for one order: the capture module's
arguments as JSON in `<dir>/order`, which plugins/action/capture.py writes with one command.
It checks them against the module's own spec (capture/run.py ARGS), starts the capture as
the module would with `background` (run.run()) and writes the module's result to
`<dir>/started.json` once every tcpdump listens. It takes one order, never two; with none by
its deadline, or once its directory is removed (the role lets the hosts that do not capture
go), it ends; on its deadline it renames its directory first, so an order written meanwhile
is never taken (the action plugin then runs the module instead). Its directory is under
host/files.py's private_root() (root's /run/cloudnet-vswitch, 0700): no other user can put a
file or a link where it and the controller's command read and write."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
    as_result,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files, proc

# Under the same prefix as locate's listeners: one pattern for the controller's commands, one
# pruning of what an interrupted run left (troubleshoot/locate_run.py prune_jobs).
PREFIX = "cnvs-locate-agent_"
ORDER = "order"
TAKEN = "order.taken"
STARTED = "started.json"
GONE = "_gone"
POLL = 0.05


def start(host, seconds, capture, spec, root=None):
    """Detach the agent for `seconds`, to run capture(host) with an order checked against
    `spec` (capture/run.py's run and ARGS, imported by the caller: the controller's side
    reads this file's names without the capture's code); what the controller needs to give
    it its order."""
    job = tempfile.mkdtemp(prefix=PREFIX, dir=root)
    deadline = time.monotonic() + seconds

    def main():  # pragma: no cover - runs detached (tested end to end and by serve())
        serve(host, job, deadline, capture, spec)

    pid, _start = proc.detach(main)
    return {"dir": job, "pid": pid, "seconds": seconds}


def wait_order(job, deadline, poll=POLL):
    """The order's text once `<job>/order` exists, or None: the directory removed (let go),
    or the deadline passed (the directory then renamed and removed, so that no order can be
    taken after it)."""
    order = os.path.join(job, ORDER)
    while True:
        if not os.path.isdir(job):
            return None
        if os.path.exists(order):
            taken = os.path.join(job, TAKEN)
            os.rename(order, taken)
            return files.read_text(taken)
        if time.monotonic() >= deadline:
            try:
                os.rename(job, job + GONE)
            except OSError:     # removed meanwhile
                return None
            shutil.rmtree(job + GONE, ignore_errors=True)
            return None
        time.sleep(poll)


def checked(text, spec):
    """The order's parameters as the capture module would have them (types converted,
    defaults filled in, `background` on), or ParamError naming each bad one."""
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise ParamError("order", "not JSON: %s" % exc) from None
    params, errors = options.check(params, spec, what="option")
    if errors:
        raise ParamError("", "; ".join(errors))
    params["background"] = True
    return params


def serve(host, job, deadline, capture, spec):
    """Wait for the order (until `deadline`, time.monotonic()); start the capture it asks
    for; write its result (or why it failed) to `<job>/started.json`. Returns that result
    (None without an order, or when the directory went away under it)."""
    try:
        text = wait_order(job, deadline)
    except OSError:         # the directory removed meanwhile: let go
        return None
    if text is None:
        return None
    out = as_result(lambda: capture(host.with_params(checked(text, spec))),
                    "the capture's start")
    out.setdefault("changed", not out.get("failed"))
    try:
        files.write_private(os.path.join(job, STARTED), json.dumps(out) + "\n", atomic=True)
    except (OSError, TypeError, ValueError):  # nobody to tell: the controller says it waited
        return None
    return out
