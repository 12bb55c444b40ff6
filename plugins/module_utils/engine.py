# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path every provisioning module takes: validate, read OVSDB and the kernel, plan, commit
once (unless in check mode), wait for ovs-vswitchd, check the touched interfaces, apply kernel
addresses, read back. Modules only build `config` and call run(); errors become fail_json here.
"""

from __future__ import annotations

import os
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils import guard, kernel, model
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    OvsdbError,
    ParamError,
    VswitchError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.guard import GuardError

# Options every module shares (documented in doc_fragments/common.py).
COMMON_ARGS = dict(
    db=dict(type="str"),
    timeout=dict(type="int", default=30),
    backend=dict(type="str", default="auto", choices=["auto", "idl", "vsctl"]),
)
SAFETY_ARGS = dict(
    adopt=dict(type="bool", default=False),
    allow_disruptive=dict(type="bool", default=False),
)
GUARD_ARGS = dict(
    rollback_timeout=dict(type="int"),
    management_addresses=dict(type="list", elements="str"),
)

VNET_OPTIONS = dict(
    name=dict(type="str"),
    attached_mac=dict(type="str"),
    iface_id=dict(type="str"),
    tag=dict(type="raw"),
    trunks=dict(type="list", elements="raw"),
    vlan_mode=dict(type="str"),
    mtu_request=dict(type="raw"),
    external_ids=dict(type="dict"),
    precreate=dict(type="bool", default=False),
)
UPLINK_OPTIONS = dict(
    interfaces=dict(type="list", elements="str", required=True),
    bond_name=dict(type="str"),
    bond_mode=dict(type="str", choices=list(model.BOND_MODES)),
    lacp=dict(type="str", choices=list(model.LACP_MODES)),
    other_config=dict(type="dict"),
)
INTERNAL_OPTIONS = dict(
    addresses=dict(type="list", elements="str"),
    mac=dict(type="str"),
)
BRIDGE_OPTIONS = dict(
    name=dict(type="str", required=True),
    datapath_type=dict(type="str", choices=list(model.DATAPATH_TYPES)),
    fail_mode=dict(type="str", choices=list(model.FAIL_MODES) + [model.CLEAR]),
    mac_aging_time=dict(type="raw"),
    mac_table_size=dict(type="raw"),
    stp=dict(type="bool"),
    other_config=dict(type="dict"),
    external_ids=dict(type="dict"),
    internal=dict(type="dict", options=INTERNAL_OPTIONS),
)


def check_timeout(value, path="timeout"):
    if value is None or value < 1:
        raise ParamError(path, "%r is not a number of seconds (1 or more)" % (value,))
    return value


def guarding(module):
    """The guarded apply's settings from GUARD_ARGS (see doc_fragments/common.py GUARD)."""
    p = module.params
    if p["rollback_timeout"] is not None and p["rollback_timeout"] < 0:
        module.fail_json(msg="rollback_timeout: %r is negative; give seconds, or 0 to turn the "
                         "guard off" % p["rollback_timeout"], path="rollback_timeout")
    addresses = p["management_addresses"]
    if addresses is None:
        addresses = os.environ.get("SSH_CONNECTION", "").split()[2:3]
    return {"timeout": p["rollback_timeout"], "addresses": addresses}


def _renamed(exc, paths):
    for prefix, name in (paths or {}).items():
        if exc.path == prefix or (exc.path or "").startswith(prefix + "."):
            path = name + exc.path[len(prefix):]
            renamed = type(exc)(path.lstrip("."), exc.msg)
            return renamed
    return exc


def _fail(module, exc, **extra):
    out = exc.to_fail()
    out.update(extra)
    module.fail_json(**out)


def _names(config, world, state):
    """The bridges before/after report: the listed ones, and for overridden / deleted also
    every bridge of ours (those are the ones the task may remove)."""
    names = [vs["name"] for vs in config]
    if state in ("overridden", "deleted"):
        names += [n for n, b in world["bridges"].items() if n not in names
                  and model.MARK in b["external_ids"]]
    return names


def run(module, config, state, options=None, guarding=None, paths=None):
    """Run one task; exits the module. `options` are planner options; `guarding` (the
    vswitch module's rollback_timeout and management addresses) turns on the guarded apply.
    `paths` maps a prefix of the config's error paths to the module's own option names (the
    single-object modules: `config[0].name` is their `bridge`)."""
    options = dict(options or {})
    result = {"changed": False}
    try:
        model.require_netaddr()
        config = model.normalize_config(config, state)
        if state == "rendered":
            plan = model.plan(model.empty_world(), config, state, offline=True, **options)
            module.exit_json(changed=False, rendered=plan.commands(), commands=plan.commands(),
                             pending=plan.pending)
        result.update(_apply(module, config, state, options, guarding))
    except ParamError as exc:
        _fail(module, _renamed(exc, paths), **result)
    except VswitchError as exc:
        _fail(module, exc, **result)
    if module._diff and result.get("changed"):
        result["diff"] = {"before": {"vswitches": result["before"]},
                          "after": {"vswitches": result["after"]}}
    for w in result.pop("warnings", []):
        module.warn(w)
    module.exit_json(**result)


def _client(module):
    from ansible_collections.cloudnet.vswitch.plugins.module_utils import ovsdb

    p = module.params
    check_timeout(p["timeout"])
    return ovsdb.open_client(db=p.get("db"), timeout=p["timeout"],
                             backend=p.get("backend") or "auto", run=module.run_command)


def read_world(module):
    """The host as the planner sees it: OVSDB (bridges, ports, interfaces with their status)
    and the kernel (links, addresses, routes). For the read-only modules."""

    with _client(module) as client:
        world = client.world()
    world["links"], world["routes"] = kernel.read(module.run_command)
    return world


def run_info(module, collect):
    """The edge of a read-only module: exit with collect()'s dict, or fail with the typed
    error's message. Never changes anything, so check mode needs nothing special."""
    try:
        result = collect()
    except VswitchError as exc:
        _fail(module, exc)
    module.exit_json(changed=False, **result)


class _Handover(Exception):
    """Raised by the planning step when the change must be guarded: nothing is committed, the
    detached guard process makes the change instead."""

    def __init__(self, plan, reasons):
        super().__init__("guarded")
        self.plan = plan
        self.reasons = reasons


def _replanner(config, state, options, run_cmd, guarding=None):
    """plan(world) for client.apply: kernel facts added, the last plan kept in .last (so a
    failure after the commit still knows what to undo). With `guarding` (timeout, management
    links), a change that must be guarded raises _Handover instead of being committed."""

    def replan(world):
        world["links"], world["routes"] = kernel.read(run_cmd)
        if guarding is not None:
            guarding["links"] = model.management_links(world, guarding["addresses"])
        plan = model.plan(world, config, state, **options)
        replan.last = plan
        if guarding is not None and plan.changed and guarding["timeout"] != 0:
            reasons = model.management_reasons(plan, guarding["links"])
            if guarding["timeout"] or reasons:
                raise _Handover(plan, reasons)
        return plan

    replan.last = None
    return replan


def _apply(module, config, state, options, guarding=None):
    run_cmd = module.run_command
    client = _client(module)
    t0 = time.monotonic()
    with client:
        if state == "gathered":
            world = client.world()
            world["links"], world["routes"] = kernel.read(run_cmd)
            names = [vs["name"] for vs in config] or None
            return {"gathered": model.gather(world, names), "backend": client.name}
        if module.check_mode:
            try:
                plan = _replanner(config, state, options, run_cmd, guarding)(client.world())
                would = None
            except _Handover as h:
                plan, would = h.plan, h.reasons
            result = _finish(client, plan, None, run_cmd, config, state, True,
                             module.params["timeout"], t0)
            if would is not None:
                result["guard"] = {"status": "would_guard", "reasons": would,
                                   "timeout": guarding["timeout"] or AUTO_ROLLBACK_TIMEOUT}
            return result
        if guarding is not None:
            guard.check_standing(client.remote)
        replan = _replanner(config, state, options, run_cmd, guarding)
        try:
            plan, next_cfg = client.apply(replan)
        except _Handover as h:
            return _arm(module, client, config, state, options, guarding, h)
        client.wait_applied(next_cfg)
        return _finish(client, plan, next_cfg, run_cmd, config, state, False,
                       module.params["timeout"], t0)


def _finish(client, plan, next_cfg, run_cmd, config, state, check_mode, timeout, t0):
    """After the commit (or in check mode, instead of it): check the touched interfaces, apply
    the kernel side, read back, and build the result."""
    before_world = plan.before_world
    names = _names(config, before_world, state)
    result = {
        "before": model.gather(before_world, names),
        "commands": plan.commands(),
        "pending": plan.pending,
        "warnings": list(plan.warnings),
        "changed": plan.changed,
        "backend": client.name,
        "retries": client.stats["retries"],
    }
    timing = {"plan_commit_s": round(client.stats["commit_s"], 4),
              "wait_vswitchd_s": round(client.stats["wait_s"], 4)}
    if check_mode or not plan.changed:
        result["after"] = model.gather(plan.world, names)
        result["summary"] = model.summarize(result["before"], result["after"], plan.pending)
        timing["total_s"] = round(time.monotonic() - t0, 4)
        result["timing"] = timing
        return result
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
        kernel.wait_for_links(run_cmd, internal, timeout, time.sleep)
        kernel.apply(run_cmd, plan.kernel)
    # Read the kernel once after the change: to re-assert what a link bounce dropped, and
    # (unless that changed something) as the kernel half of the read-back.
    links, routes = kernel.read(run_cmd)
    fixes = model.reassert_links(plan.world["links"], links, internal)
    if fixes:
        kernel.apply(run_cmd, fixes)
        links, routes = kernel.read(run_cmd)
    after = client.world()
    after["links"], after["routes"] = links, routes
    result["after"] = model.gather(after, names)
    result["summary"] = model.summarize(result["before"], result["after"], plan.pending)
    timing["total_s"] = round(time.monotonic() - t0, 4)
    result["timing"] = timing
    return result


# --------------------------------------------------------------------------- guarded apply

AUTO_ROLLBACK_TIMEOUT = 60   # seconds, when a change touches the management connection
HANDOVER_S = 1.5             # after the module exits: its result is on its way to the controller


def _arm(module, client, config, state, options, guarding, handover):
    """Hand a change that must be guarded to a detached process; return the prediction."""
    plan = handover.plan
    timeout = guarding["timeout"] or AUTO_ROLLBACK_TIMEOUT
    names = _names(config, plan.before_world, state)
    rec = guard.new_record(client.remote, timeout, handover.reasons,
                           {"state": state, "vswitches": names})
    guard.write(rec)
    spec = {"db": client.remote, "backend": client.name, "timeout": module.params["timeout"],
            "config": config, "state": state, "options": options,
            "management_links": sorted(guarding["links"])}
    rec["pid"], rec["pid_start"] = guard.detach(lambda: _guard_main(dict(rec), spec))
    if not rec["pid"]:
        raise GuardError("could not start the guard process; nothing was changed")
    guard.write(rec)  # the guard process writes only after this module has exited
    before = model.gather(plan.before_world, names)
    after = model.gather(plan.world, names)
    return {
        "before": before, "after": after, "commands": plan.commands(), "pending": plan.pending,
        "warnings": list(plan.warnings), "changed": True, "backend": client.name,
        "retries": 0, "summary": model.summarize(before, after, plan.pending),
        "guard": guard.public(rec),
    }


def _guard_main(rec, spec):  # pragma: no cover - the detached process (tested end to end)
    """The detached process: make the change, wait for the confirmation, else undo it."""
    from ansible_collections.cloudnet.vswitch.plugins.module_utils import ovsdb

    token = rec["token"]
    rec["pid"], rec["pid_start"] = os.getpid(), guard.start_time(os.getpid())
    run_cmd = guard.run
    replan = None
    try:
        guard.wait_gone(rec["module_pid"], rec["module_start"], spec["timeout"])
        time.sleep(HANDOVER_S)
        rec["status"] = "applying"
        guard.write(rec)
        replan = _replanner(spec["config"], spec["state"], spec["options"], run_cmd)
        t0 = time.monotonic()
        with ovsdb.open_client(db=spec["db"], timeout=spec["timeout"], backend=spec["backend"],
                               run=run_cmd) as client:
            plan, next_cfg = client.apply(replan)
            client.wait_applied(next_cfg)
            result = _finish(client, plan, next_cfg, run_cmd, spec["config"], spec["state"],
                             False, spec["timeout"], t0)
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
        _rollback(rec, spec, replan.last)
    except Exception as exc:  # the record must say what happened, whatever it was
        rec["error"] = "applying the change failed: %s" % exc
        if replan is not None and replan.last is not None and \
                guard.decide(token, "rollback") == "rollback":
            try:
                _rollback(rec, spec, replan.last)
                return
            except Exception as exc2:
                rec["error"] += "; the rollback failed too: %s" % exc2
        rec.update(status="failed", finished_at=time.time())
        guard.write(rec)


def _rollback(rec, spec, plan):  # pragma: no cover - the detached process (tested end to end)
    """Undo `plan` (verified, re-planned on conflicts), then the kernel side; record what was
    reverted."""
    from ansible_collections.cloudnet.vswitch.plugins.module_utils import ovsdb

    run_cmd = guard.run
    rec["status"] = "rolling_back"
    guard.write(rec)

    def replan(world):
        world["links"], world["routes"] = kernel.read(run_cmd)
        return model.undo(world, plan.before_world, plan.ops)

    with ovsdb.open_client(db=spec["db"], timeout=spec["timeout"], backend=spec["backend"],
                           run=run_cmd) as client:
        undo, next_cfg = client.apply(replan)
        client.wait_applied(next_cfg)
    links, routes = kernel.read(run_cmd)
    names = model.kernel_names(plan) | set(spec["management_links"])
    failed = []
    done = []
    for argv in model.undo_kernel(plan.before_world, links, routes, names):
        rc, _out, err = run_cmd(argv)
        (done if rc == 0 else failed).append(" ".join(argv) + ("" if rc == 0 else
                                                               " (%s)" % err.strip()))
    rec.update(status="rolled_back" if not failed else "failed", finished_at=time.time(),
               reverted=undo.commands() + done + list(undo.warnings))
    if failed:
        rec["error"] = (rec.get("error") or "not confirmed") + "; could not restore: " + \
            "; ".join(failed)
    guard.write(rec)
