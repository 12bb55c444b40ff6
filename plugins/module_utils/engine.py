# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path every provisioning module takes: validate, read OVSDB and the kernel, plan, commit
once (unless in check mode), wait for ovs-vswitchd, check the touched interfaces, apply kernel
addresses, read back. Modules only build `config` and call run(); errors become fail_json here.
"""

from __future__ import annotations

import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils import kernel, model
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    OvsdbError,
    VswitchError,
)

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


def run(module, config, state, options=None):
    """Run one task; exits the module. `options` are planner options."""
    options = dict(options or {})
    result = {"changed": False}
    try:
        model.require_netaddr()
        config = model.normalize_config(config, state)
        if state == "rendered":
            plan = model.plan(model.empty_world(), config, state, offline=True, **options)
            module.exit_json(changed=False, rendered=plan.commands(), commands=plan.commands(),
                             pending=plan.pending)
        result.update(_apply(module, config, state, options))
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


def _apply(module, config, state, options):

    run_cmd = module.run_command
    client = _client(module)
    timing = {}
    t0 = time.monotonic()
    with client:

        def snapshot(world):
            world["links"], world["routes"] = kernel.read(run_cmd)
            return world

        if state == "gathered":
            world = snapshot(client.world())
            names = [vs["name"] for vs in config] or None
            return {"gathered": model.gather(world, names), "backend": client.name}

        def replan(world):
            return model.plan(snapshot(world), config, state, **options)

        if module.check_mode:
            plan, next_cfg = replan(client.world()), None
        else:
            plan, next_cfg = client.apply(replan)
            client.wait_applied(next_cfg)
        timing["plan_commit_s"] = round(client.stats["commit_s"], 4)
        timing["wait_vswitchd_s"] = round(client.stats["wait_s"], 4)
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
        if module.check_mode or not plan.changed:
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
            kernel.wait_for_links(run_cmd, internal, module.params["timeout"], time.sleep)
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
