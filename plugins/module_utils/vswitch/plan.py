# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure planner: (world, desired config, state) -> a Plan: the OVSDB ops (one transaction),
the kernel `ip` argv lists, the vnets still pending, warnings, and the predicted world after
it all. No I/O. Every emitter both records an op and applies it to a private copy of the world,
so the predicted `after` is computed by the same code that decides what to change; check mode
returns it as is."""

from __future__ import annotations

import copy

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    DisruptiveChange,
    OwnershipError,
    ParamError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host.kernel import route_replace_argv
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import vsctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.spec import CLEAR
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    BRIDGE_COLUMNS,
    BRIDGE_RESERVED_KEYS,
    LIBVIRT_KEYS,
    MARK,
    ROLE_INTERNAL,
    ROLE_UPLINK,
    ROLE_VNET,
    ROLE_VSWITCH,
    VNET_COLUMNS,
    WORLD_KEY,
    copy_world,
    find_vnet,
    foreign_owner,
    is_ours,
    new_iface,
    new_link,
    plugged_by_libvirt,
    port_role,
    static_addresses,
)


class Op(dict):
    """One change. kind is one of: add_bridge, del_bridge, set, setkey, delkey, add_port,
    del_port, move_port, add_iface, del_iface (OVSDB), or ip (a kernel argv)."""

    def __init__(self, kind, **kw):
        super().__init__(kind=kind, **kw)


class Plan(object):
    def __init__(self, world, before_world):
        self.world = world          # the predicted world after the ops
        self.before_world = before_world
        self.ops = []               # OVSDB ops, one transaction
        self.kernel = []            # kernel argv lists, after the transaction is applied
        self.pending = []           # vnets whose VM is not running: nothing to do yet
        self.warnings = []
        self.touched = set()        # interface names whose error/ofport to check afterwards
        self.expect_missing = set()  # precreated interfaces, allowed to report "No such device"

    @property
    def changed(self):
        return bool(self.ops or self.kernel)

    def commands(self):
        """The equivalent commands: one ovs-vsctl transaction, then the ip commands."""
        return vsctl.commands(self.ops, self.kernel)


class Planner(object):
    """Plans one task. Every emit_* both records an op and applies it to self.w."""

    def __init__(self, world, state, adopt=False, allow_disruptive=False,
                 migrate_addresses=False, exclusive_maps=False, purge_stale=False,
                 create_bridges=True, offline=False):
        self.w = copy_world(world)
        self.before_world = world
        self.state = state
        self.adopt = adopt
        self.allow_disruptive = allow_disruptive
        self.migrate_addresses = migrate_addresses
        self.exclusive_maps = exclusive_maps
        self.purge_stale = purge_stale
        self.create_bridges = create_bridges
        self.offline = offline      # rendered: no host to check NICs and links against
        self.plan = Plan(self.w, world)
        self.replace = state in ("replaced", "overridden")
        self._dropped_macs = {}     # bridge -> MACs of the uplink NICs this task removes

    # ---- emitters (record + apply to the predicted world)
    def _set(self, table, name, column, value):
        row = self._row(table, name)
        if row[column] == value:
            return
        row[column] = copy.deepcopy(value)
        self.plan.ops.append(Op("set", table=table, name=name, column=column, value=value))

    def _setkey(self, table, name, column, key, value):
        row = self._row(table, name)
        if value is None:
            if key in row[column]:
                del row[column][key]
                self.plan.ops.append(Op("delkey", table=table, name=name, column=column,
                                        key=key))
        elif row[column].get(key) != value:
            row[column][key] = value
            self.plan.ops.append(Op("setkey", table=table, name=name, column=column, key=key,
                                    value=value))

    def _row(self, table, name):
        return self.w[WORLD_KEY[table]][name]

    def _map(self, table, name, column, want, protected=()):
        """Merge `want` into a map column key by key; with exclusive_maps in replaced /
        overridden, also drop keys nobody named (never `protected` ones)."""
        current = self._row(table, name)[column]
        for key, value in sorted(want.items()):
            self._setkey(table, name, column, key, value)
        if self.exclusive_maps and self.replace:
            for key in sorted(current):
                if key not in want and key not in protected and key != MARK:
                    self._setkey(table, name, column, key, None)

    def _mark(self, table, name, role):
        self._setkey(table, name, "external_ids", MARK, role)

    def _add_bridge(self, name, columns):
        columns = dict(columns, external_ids={MARK: ROLE_VSWITCH})
        port_columns = {"external_ids": {MARK: ROLE_INTERNAL}}
        self.w["bridges"][name] = {"datapath_type": "", "fail_mode": None, "stp_enable": False,
                                   "other_config": {}, "external_ids": {}, "ports": []}
        self.w["bridges"][name].update(copy.deepcopy(columns))
        self.plan.ops.append(Op("add_bridge", name=name, columns=columns,
                                port_columns=port_columns))
        # Like ovs-vsctl add-br: the bridge's own internal port, in the same op.
        self._add_port(name, name, port_columns, [{"name": name,
                                                   "columns": {"type": "internal"}}],
                       record=False)
        self._link(name)

    def _add_port(self, bridge, name, columns, interfaces, record=True):
        self.w["ports"][name] = {"bridge": bridge, "interfaces": [i["name"] for i in interfaces],
                                 "tag": None, "trunks": [], "vlan_mode": None, "bond_mode": None,
                                 "lacp": None, "other_config": {}, "external_ids": {}}
        self.w["ports"][name].update(copy.deepcopy(columns))
        for i in interfaces:
            iface = new_iface(name, **copy.deepcopy(i["columns"]))
            self.w["interfaces"][i["name"]] = iface
            self.plan.touched.add(i["name"])
        self.w["bridges"][bridge]["ports"] = sorted(self.w["bridges"][bridge]["ports"] + [name])
        if record:
            self.plan.ops.append(Op("add_port", bridge=bridge, name=name, columns=columns,
                                    interfaces=interfaces))

    def _del_port(self, name):
        port = self.w["ports"].pop(name)
        for i in port["interfaces"]:
            self.w["interfaces"].pop(i, None)
        br = self.w["bridges"][port["bridge"]]
        br["ports"] = [p for p in br["ports"] if p != name]
        self.plan.ops.append(Op("del_port", bridge=port["bridge"], name=name))

    def _del_bridge(self, name):
        for pname in list(self.w["bridges"][name]["ports"]):
            port = self.w["ports"].pop(pname)
            for i in port["interfaces"]:
                self.w["interfaces"].pop(i, None)
        del self.w["bridges"][name]
        self.w["links"].pop(name, None)
        self.plan.ops.append(Op("del_bridge", name=name))

    def _disruptive(self, path, what):
        if not self.allow_disruptive:
            raise DisruptiveChange(path, "%s would interrupt traffic on an existing vSwitch; "
                                   "set allow_disruptive: true to do it anyway" % what)
        self.plan.warnings.append("%s: disruptive change allowed: %s" % (path, what))

    def _ip(self, *argv):
        self.plan.kernel.append(["ip"] + list(argv))

    # ---- the vSwitch
    def vswitch(self, vs, path):
        name = vs["name"]
        exists = name in self.w["bridges"]
        if exists:
            self._check_owner(name, path)
        if name in self.w["ports"] and not (exists and self.w["ports"][name]["bridge"] == name):
            raise ParamError(path + ".name", "%r is already a port of bridge %s"
                             % (name, self.w["ports"][name]["bridge"]))
        want = self._bridge_scalars(vs)
        if not exists and not self.create_bridges:
            raise ParamError(path + ".name", "bridge %r does not exist; create it first (module "
                             "cloudnet.vswitch.bridge or vswitch)" % name)
        if not exists:
            columns = {"datapath_type": want.get("datapath_type", "system")}
            if want.get("fail_mode") not in (None, CLEAR):
                columns["fail_mode"] = want["fail_mode"]
            if want.get("stp"):
                columns["stp_enable"] = True
            self._add_bridge(name, columns)
        else:
            self._reconcile_bridge(name, want, path)
            if self.adopt:
                self._mark("Bridge", name, ROLE_VSWITCH)
        # other_config keys of dedicated options, then the user's maps.
        for key in ("mac_aging_time", "mac_table_size"):
            if key in want:
                value = want[key]
                self._setkey("Bridge", name, "other_config", BRIDGE_COLUMNS[key][1],
                             None if value in (None, CLEAR) else str(value))
        self._map("Bridge", name, "other_config", vs.get("other_config", {}),
                  protected=BRIDGE_RESERVED_KEYS)
        self._map("Bridge", name, "external_ids", vs.get("external_ids", {}))
        if "uplink" in vs or self.replace:
            self._uplink(name, vs.get("uplink"), path + ".uplink", exists)
        self._internal(name, vs, path + ".internal")
        if "vnets" in vs or self.replace:
            self._vnets(name, vs.get("vnets", []), path + ".vnets")

    def _bridge_scalars(self, vs):
        """The bridge's scalar options this task sets; in replaced/overridden, unset ones go
        back to OVS's defaults."""
        want = {k: vs[k] for k in BRIDGE_COLUMNS if k in vs}
        if self.replace:
            want.setdefault("datapath_type", "system")
            want.setdefault("fail_mode", CLEAR)
            want.setdefault("stp", False)
            want.setdefault("mac_aging_time", CLEAR)
            want.setdefault("mac_table_size", CLEAR)
        return want

    def _reconcile_bridge(self, name, want, path):
        br = self.w["bridges"][name]
        if "datapath_type" in want and (br["datapath_type"] or "system") != want["datapath_type"]:
            self._disruptive(path + ".datapath_type", "changing datapath_type from %s to %s "
                             "(OVS recreates the bridge)" % (br["datapath_type"] or "system",
                                                             want["datapath_type"]))
            self._set("Bridge", name, "datapath_type", want["datapath_type"])
        if "fail_mode" in want:
            value = None if want["fail_mode"] == CLEAR else want["fail_mode"]
            if value == "secure" and br["fail_mode"] != "secure":
                self._disruptive(path + ".fail_mode", "fail_mode secure (no flows, no "
                                 "forwarding until a controller adds them)")
            self._set("Bridge", name, "fail_mode", value)
        if "stp" in want:
            if want["stp"] and not br["stp_enable"]:
                self._disruptive(path + ".stp", "enabling STP (ports block while it converges)")
            self._set("Bridge", name, "stp_enable", want["stp"])

    def _check_owner(self, name, path):
        owner = foreign_owner(self.w, name)
        if owner and not self.adopt:
            raise OwnershipError(path + ".name", "bridge %r belongs to %s; refusing to change "
                                 "it (set adopt: true to take it over)" % (name, owner))

    # ---- uplink
    def _current_uplink(self, bridge):
        for pname in self.w["bridges"][bridge]["ports"]:
            if port_role(self.w, pname) == ROLE_UPLINK:
                return pname
        return None

    def _uplink(self, bridge, up, path, bridge_existed):
        current = self._current_uplink(bridge)
        if up is None or up.get("state") == "absent":
            if current is not None:
                self._disruptive(path, "removing uplink %s" % current)
                # The MACs the internal port may have cloned from it (see _internal).
                self._dropped_macs[bridge] = {
                    (self.w["links"].get(n) or {}).get("mac") or
                    (self.w["interfaces"].get(n) or {}).get("mac_in_use")
                    for n in self.w["ports"][current]["interfaces"]}
                self._del_port(current)
            return
        pname = up.get("bond_name") or up["interfaces"][0]
        cur_port = self.w["ports"].get(current) if current else None
        if cur_port is not None and (current != pname or
                                     sorted(cur_port["interfaces"]) != sorted(up["interfaces"])):
            if len(up["interfaces"]) > 1 and current == pname:
                what = "changing bond %s members from %s to %s" % (
                    pname, sorted(cur_port["interfaces"]), up["interfaces"])
            else:
                what = "changing the uplink from %s to %s" % (
                    "+".join(sorted(cur_port["interfaces"])), "+".join(up["interfaces"]))
            self._disruptive(path + ".interfaces", what)
        for i, nic in enumerate(up["interfaces"]):
            self._check_nic(bridge, nic, "%s.interfaces[%d]" % (path, i))
        if cur_port is not None and current != pname:
            self._del_port(current)
            cur_port = None
        columns = {}
        if len(up["interfaces"]) > 1:
            columns["bond_mode"] = up.get("bond_mode")
            columns["lacp"] = up.get("lacp")
        if cur_port is None:
            if pname in self.w["ports"]:
                raise ParamError(path, "%r is already a port of bridge %s"
                                 % (pname, self.w["ports"][pname]["bridge"]))
            columns = {k: v for k, v in columns.items() if v}
            columns["external_ids"] = {MARK: ROLE_UPLINK}
            self._add_port(bridge, pname, columns,
                           [{"name": n, "columns": {}} for n in up["interfaces"]])
        else:
            have = cur_port["interfaces"]
            for n in up["interfaces"]:
                if n not in have:
                    self._add_iface(pname, n)
            for n in list(have):
                if n not in up["interfaces"]:
                    self._del_iface(pname, n)
            for key, value in columns.items():
                if value is not None or self.replace:
                    self._set("Port", pname, key, value)
            if self.adopt:
                self._mark("Port", pname, ROLE_UPLINK)
        self._map("Port", pname, "other_config", up.get("other_config", {}))

    def _add_iface(self, port, name):
        self.w["ports"][port]["interfaces"] = sorted(self.w["ports"][port]["interfaces"] + [name])
        self.w["interfaces"][name] = new_iface(port)
        self.plan.touched.add(name)
        self.plan.ops.append(Op("add_iface", port=port, name=name))

    def _del_iface(self, port, name):
        self.w["ports"][port]["interfaces"].remove(name)
        self.w["interfaces"].pop(name, None)
        self.plan.ops.append(Op("del_iface", port=port, name=name))

    def _check_nic(self, bridge, nic, path):
        iface = self.w["interfaces"].get(nic)
        if iface is not None and iface.get("port"):
            other = self.w["ports"][iface["port"]]["bridge"]
            if other != bridge:
                raise ParamError(path, "%r is already used by vSwitch %s" % (nic, other))
            return  # already ours on this bridge
        if self.offline:
            return
        link = self.w["links"].get(nic)
        if link is None:
            raise ParamError(path, "%r does not exist on this host" % (nic,))
        problems = []
        if link.get("addresses"):
            problems.append("holds addresses %s" % ", ".join(link["addresses"]))
        routes = [r for r in self.w["routes"] if r.get("dev") == nic and r.get("migrate")]
        if routes:
            problems.append("carries routes %s" % ", ".join(r["dst"] for r in routes))
        if link.get("master") and link["master"] != "ovs-system":
            problems.append("is enslaved to %s" % link["master"])
        if problems and not self.migrate_addresses:
            raise ParamError(path, "%r %s; set migrate_addresses: true to move them onto the "
                             "vSwitch's internal port %s" % (nic, " and ".join(problems), bridge))
        if problems:
            self._migrate(nic, bridge, link, routes)

    def _migrate(self, nic, bridge, link, routes):
        """Move a NIC's addresses and routes to the internal port, after the transaction."""
        target = self._link(bridge)
        if link.get("master") and link["master"] != "ovs-system":
            self._ip("link", "set", "dev", nic, "nomaster")
            link["master"] = None
        self._link_up(bridge)
        for addr in list(link["addresses"]):
            if addr not in target["addresses"]:
                self._ip("address", "add", addr, "dev", bridge)
                target["addresses"] = sorted(target["addresses"] + [addr])
        for addr in list(link["addresses"]):
            self._ip("address", "del", addr, "dev", nic)
        link["addresses"] = []
        for r in routes:
            argv = route_replace_argv(r, bridge)[1:]
            self._ip(*argv)
            r["dev"] = bridge
        self.plan.warnings.append("migrating %s's addresses and routes onto %s" % (nic, bridge))

    def _link(self, name):
        """The predicted kernel link `name`, created (down, no address) if the world has none."""
        return self.w["links"].setdefault(name, new_link())

    def _link_up(self, name):
        link = self._link(name)
        if not link.get("up"):
            self._ip("link", "set", "dev", name, "up")
            link["up"] = True

    # ---- internal port: MAC (Bridge other_config:hwaddr) and kernel addresses
    def _internal(self, bridge, vs, path):
        internal = vs.get("internal") or {}
        mac = internal.get("mac", "uplink" if ("uplink" in vs or self.replace) else None)
        if mac == "uplink":
            up = vs.get("uplink")
            if up and up.get("state") != "absent":
                nic = up["interfaces"][0]
                mac = (self.w["links"].get(nic) or {}).get("mac") or \
                    (self.w["interfaces"].get(nic) or {}).get("mac_in_use")
                if not mac and not self.offline:
                    raise ParamError(path + ".mac", "cannot read the MAC of uplink NIC %r" % nic)
            else:
                mac = None
        if mac is not None:
            self._setkey("Bridge", bridge, "other_config", "hwaddr", mac)
            self._link(bridge)["mac"] = mac
        elif self.w["bridges"][bridge]["other_config"].get("hwaddr") in \
                self._dropped_macs.get(bridge, ()):
            # The uplink it was cloned from is removed: the MAC goes with it (the NIC may
            # become another vSwitch's uplink, and two internal ports must not share a MAC).
            self._setkey("Bridge", bridge, "other_config", "hwaddr", None)
        if "addresses" not in internal and not self.replace:
            return
        want = internal.get("addresses", [])
        link = self._link(bridge)
        if want:
            self._link_up(bridge)
        for addr in want:
            if addr not in link["addresses"]:
                self._ip("address", "add", addr, "dev", bridge)
                link["addresses"] = sorted(link["addresses"] + [addr])
        if self.replace:
            # An address with a lifetime (SLAAC, a DHCP lease) is no configuration: removing it
            # would be undone by the next router advertisement or renewal.
            for addr in static_addresses(link):
                if addr not in want:
                    self._disruptive(path + ".addresses", "removing address %s from %s"
                                     % (addr, bridge))
                    self._ip("address", "del", addr, "dev", bridge)
                    link["addresses"].remove(addr)

    # ---- vnets
    def _vnets(self, bridge, vnets, path):
        listed = set()
        for i, vnet in enumerate(vnets):
            pname = self._vnet(bridge, vnet, "%s[%d]" % (path, i))
            if pname:
                listed.add(pname)
        if self.replace:
            for pname in sorted(self.w["bridges"][bridge]["ports"]):
                if pname not in listed and port_role(self.w, pname) == ROLE_VNET and \
                        is_ours(self.w["ports"][pname]):
                    self._del_port(pname)

    def _vnet(self, bridge, vnet, path):
        pname = find_vnet(self.w, vnet)
        if vnet.get("state") == "absent":
            if pname:
                port = self.w["ports"][pname]
                if not is_ours(port) and not self.adopt:
                    raise OwnershipError(path, "port %r was not created by cloudnet.vswitch; "
                                         "set adopt: true to remove it" % pname)
                self._del_port(pname)
            return None
        label = "%s/%s" % (bridge, vnet.get("attached_mac") or vnet.get("iface_id")
                           or vnet.get("name"))
        if pname is None:
            name = vnet.get("name")
            if not name or (name not in self.w["links"] and not vnet.get("precreate")
                            and not self.offline):
                self.plan.pending.append(dict(vnet, vswitch=bridge, label=label,
                                              reason="no such interface on this host" if name
                                              else "not plugged (VM not running?)"))
                return None
            if name in self.w["ports"] or name in self.w["bridges"]:
                raise ParamError(path + ".name", "%r is already a port of %s"
                                 % (name, self.w["ports"].get(name, {}).get("bridge", name)))
            ids = {}
            if "attached_mac" in vnet:
                ids["attached-mac"] = vnet["attached_mac"]
            if "iface_id" in vnet:
                ids["iface-id"] = vnet["iface_id"]
            self._add_port(bridge, name, {"external_ids": {MARK: ROLE_VNET}},
                           [{"name": name, "columns": {"external_ids": ids}}])
            if name not in self.w["links"] and not self.offline:
                self.plan.expect_missing.add(name)
            pname = name
        else:
            port = self.w["ports"][pname]
            role = port_role(self.w, pname)
            if role in (ROLE_UPLINK, ROLE_INTERNAL):
                raise ParamError(path, "%r is the %s port of %s, not a vnet"
                                 % (pname, role, port["bridge"]))
            if self._tap_gone(pname) and plugged_by_libvirt(self.w, pname) and not self.offline:
                # A VM that died without unplugging (qemu killed while libvirtd was down, a
                # crash): its port stays, its tap is gone. Nothing to configure until libvirt
                # plugs it again, under a new name.
                self.plan.pending.append(dict(
                    vnet, vswitch=bridge, label=label,
                    reason="stale port %s: its interface is gone (VM not running?); "
                           "purge_stale removes it" % pname))
                return pname
            if port["bridge"] != bridge:
                if foreign_owner(self.w, port["bridge"]) and not self.adopt:
                    raise OwnershipError(path, "port %r sits on %s, which belongs to %s"
                                         % (pname, port["bridge"],
                                            foreign_owner(self.w, port["bridge"])))
                self._move_port(pname, bridge)
            if self.adopt and not plugged_by_libvirt(self.w, pname):
                # (libvirt re-creates its ports on every VM start: a mark would not last,
                # and each run would write it again)
                self._mark("Port", pname, ROLE_VNET)
        port = self.w["ports"][pname]
        iname = port["interfaces"][0]
        if "name" in vnet and vnet["name"] != pname:
            self.plan.warnings.append("%s: found by %s as %s (libvirt renames vnets on every VM "
                                      "start); name %s ignored" % (
                                          path, "attached_mac" if "attached_mac" in vnet
                                          else "iface_id", pname, vnet["name"]))
        for key, (table, column) in VNET_COLUMNS.items():
            if key in vnet:
                value = vnet[key]
                value = ([] if key == "trunks" else None) if value == CLEAR else value
            elif self.replace:
                value = [] if key == "trunks" else None
                current = self.w["ports"][pname].get(column) if table == "Port" else None
                if key in ("tag", "trunks") and current not in (None, []) and \
                        plugged_by_libvirt(self.w, pname):
                    self.plan.warnings.append(
                        "%s: replaced clears %s %s of %s, a libvirt VM's port (libvirt sets the "
                        "domain XML's %s again at the VM's next start); declare %s to keep it"
                        % (path, key, current, pname, key, key))
            else:
                continue
            self._set(table, pname if table == "Port" else iname, column, value)
        self._map("Interface", iname, "external_ids", vnet.get("external_ids", {}),
                  protected=LIBVIRT_KEYS)
        self.plan.touched.add(iname)
        return pname

    def _move_port(self, pname, bridge):
        port = self.w["ports"][pname]
        old = port["bridge"]
        self.w["bridges"][old]["ports"] = [p for p in self.w["bridges"][old]["ports"]
                                           if p != pname]
        self.w["bridges"][bridge]["ports"] = sorted(self.w["bridges"][bridge]["ports"] + [pname])
        port["bridge"] = bridge
        self.plan.touched.update(port["interfaces"])
        self.plan.ops.append(Op("move_port", name=pname, from_bridge=old, bridge=bridge))

    # ---- deletion
    def delete_bridge(self, name, path):
        if name not in self.w["bridges"]:
            return
        br = self.w["bridges"][name]
        if not is_ours(br) and not self.adopt:
            raise OwnershipError(path, "bridge %r was not created by cloudnet.vswitch; set "
                                 "adopt: true to delete it" % name)
        foreign = [p for p in br["ports"] if p != name and not is_ours(self.w["ports"][p])]
        if foreign and not self.adopt:
            raise OwnershipError(path, "bridge %r carries ports that cloudnet.vswitch did not "
                                 "create (%s); set adopt: true to delete them with it"
                                 % (name, ", ".join(sorted(foreign))))
        addrs = self.w["links"].get(name, {}).get("addresses", [])
        if addrs:
            self._disruptive(path, "deleting %s removes its addresses %s" % (name,
                                                                             ", ".join(addrs)))
        self._del_bridge(name)

    def _tap_gone(self, pname):
        """Whether a port's kernel interface is gone (its VM died without unplugging)."""
        return any(i not in self.w["links"] for i in self.w["ports"][pname]["interfaces"])

    def purge_stale_vnets(self, bridges):
        for bname in bridges:
            for pname in sorted(self.w["bridges"].get(bname, {}).get("ports", [])):
                if port_role(self.w, pname) != ROLE_VNET:
                    continue
                ifaces = [self.w["interfaces"][i] for i in self.w["ports"][pname]["interfaces"]]
                if self._tap_gone(pname) or any(i.get("error") for i in ifaces):
                    self.plan.warnings.append("removing stale vnet %s from %s" % (pname, bname))
                    self._del_port(pname)


def kernel_links(world, config):
    """What the planner reads of the kernel for `config` on `world` (OVSDB only, before the
    kernel read), as (links, route_links). Of every link it asks whether it exists (a vnet
    whose VM is not running is pending, a port whose tap is gone is stale); the MAC, master,
    state and addresses only of `links`: every bridge's internal port, the interfaces of every
    port that is not a vnet (uplinks, bond members) and the bridges and uplink NICs the config
    names; the routes only of `route_links`: the config's uplink NICs that are no port yet
    (_check_nic refuses, or migrates, the addresses and routes they hold)."""
    links, route_links = set(world["bridges"]), set()
    for vs in config:
        links.add(vs["name"])
        for nic in (vs.get("uplink") or {}).get("interfaces") or ():
            links.add(nic)
            if not (world["interfaces"].get(nic) or {}).get("port"):
                route_links.add(nic)
    for pname, port in world["ports"].items():
        if port_role(world, pname) != ROLE_VNET:
            links.update(port["interfaces"])
    return links, route_links


def reassert_links(predicted, actual, names):
    """`ip` argv lists that bring internal ports back to the predicted state. Run after the
    transaction: when ovs-vswitchd changes an internal port's MAC it bounces the link, and the
    kernel drops static IPv6 addresses on link down (keep_addr_on_down=0)."""
    out = []
    for name in names:
        want, have = predicted.get(name), actual.get(name)
        if not want or not have:
            continue
        if want.get("up") and not have.get("up"):
            out.append(["ip", "link", "set", "dev", name, "up"])
        for addr in want.get("addresses", []):
            if addr not in have.get("addresses", []):
                out.append(["ip", "address", "add", addr, "dev", name])
    return out


def plan_task(world, config, state, **options):
    """Plan one task: returns a Plan whose .world is the predicted world after it."""
    planner = Planner(world, state, **options)
    if state in ("merged", "replaced", "overridden", "rendered"):
        for i, vs in enumerate(config):
            planner.vswitch(vs, "config[%d]" % i)
    if state == "overridden":
        listed = {vs["name"] for vs in config}
        for name in sorted(world["bridges"]):
            if name not in listed and is_ours(world["bridges"][name]):
                planner.delete_bridge(name, "config (overridden: %s is not listed)" % name)
    if state == "deleted":
        names = [vs["name"] for vs in config] or sorted(
            n for n, b in world["bridges"].items() if is_ours(b))
        for i, name in enumerate(names):
            planner.delete_bridge(name, "config[%d]" % i if config else "config")
    if planner.purge_stale and state in ("overridden", "deleted"):
        planner.purge_stale_vnets([vs["name"] for vs in config] or
                                  sorted(n for n, b in world["bridges"].items() if is_ours(b)))
    return planner.plan
