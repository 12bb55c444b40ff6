# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path every provisioning task takes once its config is valid: read OVSDB and the kernel,
plan, commit once (unless in check mode), wait for ovs-vswitchd, check the touched interfaces,
apply the kernel side, read back. A change that must be guarded is handed to a detached
process instead (guard.py keeps its record), which applies it and undoes it unless the
controller confirms in time. Errors are raised; runner.py turns them into fail_json.
"""

from __future__ import annotations

import os
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    GuardError,
    OvsdbError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel, proc
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.client import open_client
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import guard, undo
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.plan import (
    kernel_links,
    plan_task,
    reassert_links,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    MARK,
    change_counts,
    gather,
)

AUTO_ROLLBACK_TIMEOUT = 60   # seconds, when a change touches the management connection
HANDOVER_S = 1.5             # after the module exits: its result is on its way to the controller


class Task(object):
    """One provisioning task: a valid config, the state, the planner's options, how to reach
    OVSDB and run commands, and (`guard`: {timeout, addresses}) the guarded apply's settings.
    With `all_links`, every kernel read is complete (kernel.read), not limited to the links
    the plan reads (kernel.read_some): the guard process's rollback restores what it read."""

    def __init__(self, config, state, run, options=None, guard=None, db=None, timeout=30,
                 backend="auto", check_mode=False, all_links=False):
        self.config = config
        self.state = state
        self.run = run
        self.options = dict(options or {})
        self.guard = guard
        self.db = db
        self.timeout = timeout
        self.backend = backend
        self.check_mode = check_mode
        self.all_links = all_links

    def client(self):
        return open_client(db=self.db, timeout=self.timeout, backend=self.backend, run=self.run)

    def names(self, world):
        """The bridges before/after report: the listed ones, and for overridden / deleted also
        every bridge of ours (those are the ones the task may remove)."""
        names = [vs["name"] for vs in self.config]
        if self.state in ("overridden", "deleted"):
            names += [n for n, b in world["bridges"].items() if n not in names
                      and MARK in b["external_ids"]]
        return names

    def kernel(self, world):
        """(links, routes) of the kernel, as far as planning this task on `world` (its OVSDB
        half) reads them."""
        if self.all_links:
            return kernel.read(self.run)
        return kernel.read_some(self.run, *kernel_links(world, self.config))


class _Handover(Exception):
    """Raised by the planning step when the change must be guarded: nothing is committed, the
    detached guard process makes the change instead."""

    def __init__(self, plan, reasons):
        super().__init__("guarded")
        self.plan = plan
        self.reasons = reasons


def _replanner(task):
    """plan(world) for client.apply: kernel facts added, the last plan kept in .last (so a
    failure after the commit still knows what to undo). With task.guard, a change that must be
    guarded raises _Handover instead of being committed (its management links are kept in
    task.guard["links"])."""

    def replan(world):
        world["links"], world["routes"] = task.kernel(world)
        settings = task.guard
        plan = plan_task(world, task.config, task.state, **task.options)
        replan.last = plan
        if settings is not None and plan.changed and settings["timeout"] != 0:
            # Which links hold the management addresses: any link may, so all of them are
            # read, and only for a change (a run that changes nothing is never guarded).
            links = world if task.all_links or not settings["addresses"] else \
                {"links": kernel.all_links(task.run)}
            settings["links"] = guard.management_links(links, settings["addresses"])
            reasons = guard.management_reasons(plan, settings["links"])
            if settings["timeout"] or reasons:
                raise _Handover(plan, reasons)
        return plan

    replan.last = None
    return replan


def execute(task):
    """Run one task (gathered, check mode, or the change itself); its result dict."""
    t0 = time.monotonic()
    with task.client() as client:
        if task.state == "gathered":
            world = client.world()
            world["links"], world["routes"] = task.kernel(world)
            names = [vs["name"] for vs in task.config] or None
            return {"gathered": gather(world, names), "backend": client.name}
        if task.check_mode:
            try:
                plan = _replanner(task)(client.world())
                would = None
            except _Handover as h:
                plan, would = h.plan, h.reasons
            result = _finish(task, client, plan, None, t0)
            if would is not None:
                result["guard"] = {"status": "would_guard", "reasons": would,
                                   "timeout": task.guard["timeout"] or AUTO_ROLLBACK_TIMEOUT}
            return result
        if task.guard is not None:
            guard.check_standing(client.remote)
        try:
            plan, next_cfg = client.apply(_replanner(task))
        except _Handover as h:
            return _arm(task, client, h)
        client.wait_applied(next_cfg)
        return _finish(task, client, plan, next_cfg, t0)


def _finish(task, client, plan, next_cfg, t0):
    """After the commit (or in check mode, instead of it): check the touched interfaces, apply
    the kernel side, read back, and build the result."""
    names = task.names(plan.before_world)
    result = {
        "before": gather(plan.before_world, names),
        "commands": plan.commands(),
        "pending": plan.pending,
        "warnings": list(plan.warnings),
        "changed": plan.changed,
        "backend": client.name,
        "retries": client.stats["retries"],
    }
    timing = {"plan_commit_s": round(client.stats["commit_s"], 4),
              "wait_vswitchd_s": round(client.stats["wait_s"], 4)}
    if not plan.changed:
        # Nothing to do, nothing predicted: the planner changes its world only with an op
        result["after"] = result["before"]
    else:
        after = plan.world if task.check_mode else \
            _after_commit(task, client, plan, next_cfg, names)
        result["after"] = gather(after, names)
    result["summary"] = change_counts(result["before"], result["after"], plan.pending)
    timing["total_s"] = round(time.monotonic() - t0, 4)
    result["timing"] = timing
    return result


def _after_commit(task, client, plan, next_cfg, names):
    """The touched interfaces checked, the kernel side applied; the world read back."""
    errors = []
    if next_cfg is not None:
        status = client.interfaces(plan.touched)
        for name in sorted(status):
            err = status[name]["error"]
            if err and name not in plan.expect_missing:
                errors.append("%s: %s" % (name, err))
    if errors:
        raise OvsdbError("ovs-vswitchd reported errors on %d interface(s) (the transaction "
                         "was committed): %s" % (len(errors), "; ".join(errors)),
                         details=errors)
    internal = sorted(n for n in names if n in plan.world["bridges"])
    if plan.kernel:
        kernel.wait_for_links(task.run, internal, task.timeout, time.sleep)
        kernel.apply(task.run, plan.kernel)
    # Read the kernel once after the change: to re-assert what a link bounce dropped, and
    # (unless that changed something) as the kernel half of the read-back.
    links, routes = task.kernel(plan.world)
    fixes = reassert_links(plan.world["links"], links, internal)
    if fixes:
        kernel.apply(task.run, fixes)
        links, routes = task.kernel(plan.world)
    after = client.world()
    after["links"], after["routes"] = links, routes
    return after


# --------------------------------------------------------------------------- guarded apply

def _arm(task, client, handover):
    """Hand a change that must be guarded to a detached process; return the prediction."""
    plan = handover.plan
    timeout = task.guard["timeout"] or AUTO_ROLLBACK_TIMEOUT
    names = task.names(plan.before_world)
    rec = guard.new_record(client.remote, timeout, handover.reasons,
                           {"state": task.state, "vswitches": names})
    guard.write(rec)
    # The detached process runs the same task against the same OVSDB, without AnsibleModule.
    detached = Task(task.config, task.state, proc.run, task.options, db=client.remote,
                    timeout=task.timeout, backend=client.name, all_links=True)
    links = sorted(task.guard["links"])
    rec["pid"], rec["pid_start"] = proc.detach(lambda: _guard_main(dict(rec), detached, links))
    if not rec["pid"]:
        raise GuardError("could not start the guard process; nothing was changed")
    guard.write(rec)  # the guard process writes only after this module has exited
    before = gather(plan.before_world, names)
    after = gather(plan.world, names)
    return {
        "before": before, "after": after, "commands": plan.commands(), "pending": plan.pending,
        "warnings": list(plan.warnings), "changed": True, "backend": client.name,
        "retries": 0, "summary": change_counts(before, after, plan.pending),
        "guard": guard.public(rec),
    }


def _guard_main(rec, task, management_links):  # pragma: no cover - detached (tested end to end)
    """The detached process: make the change, wait for the confirmation, else undo it."""
    token = rec["token"]
    rec["pid"], rec["pid_start"] = os.getpid(), proc.start_time(os.getpid())
    replan = None
    try:
        proc.wait_gone(rec["module_pid"], rec["module_start"], task.timeout)
        time.sleep(HANDOVER_S)
        rec["status"] = "applying"
        guard.write(rec)
        replan = _replanner(task)
        t0 = time.monotonic()
        with task.client() as client:
            plan, next_cfg = client.apply(replan)
            client.wait_applied(next_cfg)
            result = _finish(task, client, plan, next_cfg, t0)
        now = time.time()
        rec.update(status="applied", result=result, applied_at=now,
                   deadline=now + rec["timeout"])
        guard.write(rec)
        while time.time() < rec["deadline"] and guard.decision(token) != "confirm":
            time.sleep(0.1)
        if guard.decide(token, "rollback") == "confirm":
            rec.update(status="confirmed", finished_at=time.time())
            guard.write(rec)
            return
        _rollback(rec, task, replan.last, management_links)
    except Exception as exc:  # the record must say what happened, whatever it was
        rec["error"] = "applying the change failed: %s" % exc
        if replan is not None and replan.last is not None and \
                guard.decide(token, "rollback") == "rollback":
            try:
                _rollback(rec, task, replan.last, management_links)
                return
            except Exception as exc2:
                rec["error"] += "; the rollback failed too: %s" % exc2
        rec.update(status="failed", finished_at=time.time())
        guard.write(rec)


def _rollback(rec, task, plan, management_links):  # pragma: no cover - detached
    """Undo `plan` (verified, re-planned on conflicts), then the kernel side; record what was
    reverted."""
    rec["status"] = "rolling_back"
    guard.write(rec)

    def replan(world):
        world["links"], world["routes"] = kernel.read(task.run)
        return undo.undo(world, plan.before_world, plan.ops)

    with task.client() as client:
        inverse, next_cfg = client.apply(replan)
        client.wait_applied(next_cfg)
    links, routes = kernel.read(task.run)
    names = undo.kernel_names(plan) | set(management_links)
    failed = []
    done = []
    for argv in undo.undo_kernel(plan.before_world, links, routes, names):
        rc, _out, err = task.run(argv)
        (done if rc == 0 else failed).append(" ".join(argv) + ("" if rc == 0 else
                                                               " (%s)" % err.strip()))
    rec.update(status="rolled_back" if not failed else "failed", finished_at=time.time(),
               reverted=inverse.commands() + done + list(inverse.warnings))
    if failed:
        rec["error"] = (rec.get("error") or "not confirmed") + "; could not restore: " + \
            "; ".join(failed)
    guard.write(rec)
