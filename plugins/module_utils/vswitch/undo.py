# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guarded apply's undo: the inverse of a committed plan, planned with the planner's own
emitters against the world as it is now (so VMs that libvirt plugged meanwhile keep their
ports), and the `ip` argv lists that give the kernel back its addresses and routes."""

from __future__ import annotations

import copy

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host.kernel import route_replace_argv
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.plan import Planner
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    WORLD_KEY,
    copy_world,
)

# The configuration columns of a row (what re-creating it must write back); the rest of what
# the world holds (ofport, error, link_state, ...) is status that ovs-vswitchd writes.
_CONFIG = {
    "Bridge": ("datapath_type", "fail_mode", "stp_enable", "other_config", "external_ids"),
    "Port": ("tag", "trunks", "vlan_mode", "bond_mode", "lacp", "other_config", "external_ids"),
    "Interface": ("type", "external_ids", "mtu_request", "options"),
}


def _config_of(table, row):
    return {c: copy.deepcopy(row[c]) for c in _CONFIG[table]
            if row.get(c) not in (None, [], {}, "") and not (c == "stp_enable" and not row[c])}


def op_bridge_and_port(world, op):
    """(bridge, port) an OVSDB op acts on, in `world` (the world before it); port None for
    bridge-level ops."""
    kind = op["kind"]
    if kind in ("add_bridge", "del_bridge"):
        return op["name"], None
    if kind in ("add_port", "del_port", "move_port"):
        return op["bridge"], op["name"]
    if kind in ("add_iface", "del_iface"):
        port = world["ports"].get(op["port"])
        return (port["bridge"] if port else None), op["port"]
    table, name = op.get("table"), op.get("name")
    if table == "Bridge":
        return name, None
    if table == "Interface":
        name = (world["interfaces"].get(name) or {}).get("port")
    port = world["ports"].get(name)
    return (port["bridge"] if port else None), name


class _Undo(Planner):
    """The planner's emitters, driven by a committed plan's ops instead of a config."""

    def __init__(self, world):
        super().__init__(world, "merged", adopt=True, allow_disruptive=True)

    def ops(self, before, ops):
        kept = []
        start = copy_world(self.w)
        for op in reversed(ops):
            getattr(self, "_undo_" + op["kind"])(before, op, kept)
        # A bridge the undo deletes takes its rows along: drop the ops that restored them.
        gone = {op["name"] for op in self.plan.ops if op["kind"] == "del_bridge"}
        self.plan.ops = [op for op in self.plan.ops if op["kind"] == "del_bridge" or
                         op_bridge_and_port(start, op)[0] not in gone]
        self.plan.warnings.extend(kept)
        return self.plan

    def _restore_key(self, before, table, name, column, key):
        if name not in self.w[WORLD_KEY[table]]:
            return
        row = before[WORLD_KEY[table]].get(name)
        self._setkey(table, name, column, key, row[column].get(key) if row else None)

    def _undo_setkey(self, before, op, kept):
        self._restore_key(before, op["table"], op["name"], op["column"], op["key"])

    _undo_delkey = _undo_setkey

    def _undo_set(self, before, op, kept):
        row = before[WORLD_KEY[op["table"]]].get(op["name"])
        if row is not None and op["name"] in self.w[WORLD_KEY[op["table"]]]:
            self._set(op["table"], op["name"], op["column"], copy.deepcopy(row[op["column"]]))

    def _undo_add_port(self, before, op, kept):
        if op["name"] in self.w["ports"] and op["name"] not in before["ports"]:
            self._del_port(op["name"])

    def _undo_add_iface(self, before, op, kept):
        port = self.w["ports"].get(op["port"])
        if port and op["name"] in port["interfaces"] and len(port["interfaces"]) > 1:
            self._del_iface(op["port"], op["name"])

    def _undo_del_iface(self, before, op, kept):
        port = self.w["ports"].get(op["port"])
        if port and op["name"] not in port["interfaces"] and op["name"] not in self.w["interfaces"]:
            self._add_iface(op["port"], op["name"])

    def _undo_move_port(self, before, op, kept):
        port = self.w["ports"].get(op["name"])
        if port and port["bridge"] == op["bridge"] and op["from_bridge"] in self.w["bridges"]:
            self._move_port(op["name"], op["from_bridge"])

    def _readd_port(self, before, pname):
        port = before["ports"][pname]
        if pname in self.w["ports"] or any(i in self.w["interfaces"]
                                           for i in port["interfaces"]):
            return  # back already (libvirt re-plugged it), or its NIC is used elsewhere
        self._add_port(port["bridge"], pname, _config_of("Port", port),
                       [{"name": i, "columns": _config_of("Interface", before["interfaces"][i])}
                        for i in port["interfaces"]])

    def _undo_del_port(self, before, op, kept):
        if op["name"] in before["ports"] and op["bridge"] in self.w["bridges"]:
            self._readd_port(before, op["name"])

    def _undo_add_bridge(self, before, op, kept):
        name = op["name"]
        if name not in self.w["bridges"] or name in before["bridges"]:
            return
        others = [p for p in self.w["bridges"][name]["ports"] if p != name]
        if others:  # plugged since (a VM started on the new vSwitch): keep it and them
            kept.append("kept %s: ports %s were added to it after the change"
                        % (name, ", ".join(others)))
            return
        self._del_bridge(name)

    def _undo_del_bridge(self, before, op, kept):
        name = op["name"]
        if name in self.w["bridges"] or name not in before["bridges"]:
            return
        br = before["bridges"][name]
        self._add_bridge(name, _config_of("Bridge", br))
        self._set("Bridge", name, "external_ids", dict(br["external_ids"]))
        self._set("Port", name, "external_ids", dict(before["ports"][name]["external_ids"]))
        for pname in br["ports"]:
            if pname != name:
                self._readd_port(before, pname)


def undo(world, before, ops):
    """The inverse of a committed plan: ops that bring every row, column and key `ops` touched
    back to what `before` held, planned against the current `world` and committed like any
    plan (verified, so a concurrent change re-plans instead of being overwritten). Rows that
    appeared since (libvirt re-plugging a VM) are left alone."""
    return _Undo(world).ops(before, ops)


def undo_kernel(before, links, routes, names):
    """`ip` argv lists that give the links in `names` back the addresses, master, up state and
    (migrated) routes they had in `before`; addresses the change put on them are removed.
    `links` / `routes` are the kernel now."""
    out = []
    for name in sorted(names):
        was, now = before["links"].get(name), links.get(name)
        if not was or not now:
            continue
        if was.get("master") not in (None, "ovs-system") and now.get("master") != was["master"]:
            out.append(["ip", "link", "set", "dev", name, "master", was["master"]])
        if was.get("up") and not now.get("up"):
            out.append(["ip", "link", "set", "dev", name, "up"])
        for addr in now.get("addresses", []):
            if addr not in was.get("addresses", []):
                out.append(["ip", "address", "del", addr, "dev", name])
        for addr in was.get("addresses", []):
            if addr not in now.get("addresses", []):
                out.append(["ip", "address", "add", addr, "dev", name])

    def key(r):
        return (r["family"], r["dst"], r["dev"], r.get("gateway"), r.get("metric"))

    have = {key(r) for r in routes}
    for r in before["routes"]:
        if r["dev"] in names and r.get("migrate") and key(r) not in have and r["dev"] in links:
            out.append(route_replace_argv(r, r["dev"]))
    return out


def kernel_names(plan):
    """Every link a plan's kernel commands or OVSDB ops name: what undo_kernel must restore."""
    names = set()
    for argv in plan.kernel:
        if "dev" in argv:
            names.add(argv[argv.index("dev") + 1])
    for op in plan.ops:
        if op["kind"] in ("add_bridge", "del_bridge"):
            names.add(op["name"])
        for i in op.get("interfaces", []):
            names.add(i["name"] if isinstance(i, dict) else i)
        if op["kind"] in ("add_iface", "del_iface", "add_port", "del_port", "move_port"):
            names.add(op["name"])
    return names
