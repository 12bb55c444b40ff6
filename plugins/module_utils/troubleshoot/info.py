# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vswitch_info's core: every vSwitch with its ports (name, ofport, role, MAC, addresses,
state, MTU, VLANs, external_ids, OVS error), bonds from `bond/show` and `lacp/show`, and the
bridge settings with their effective values. Parsers take the text the host printed;
read_bonds is the one reader of bond/show and lacp/show."""

from __future__ import annotations

import os
import re
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
    VswitchError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import appctl, files
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    counters,
    dblog,
    fdb,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as w
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import check_ifname


def parse_bond_show(text):
    """`ovs-appctl bond/show BOND` (OVS 3.x text) -> {mode, lacp_status, active_member,
    members: [{name, enabled, active, may_enable}], settings: {key: value}}."""
    out = {"mode": None, "lacp_status": None, "active_member": None, "members": [],
           "settings": {}}
    member = None
    for line in text.splitlines():
        m = re.match(r"^member (\S+): (enabled|disabled)", line) or \
            re.match(r"^slave (\S+): (enabled|disabled)", line)  # OVS < 2.15 said slave
        if m:
            member = {"name": m.group(1), "enabled": m.group(2) == "enabled", "active": False,
                      "may_enable": None}
            out["members"].append(member)
            continue
        stripped = line.strip()
        if member is not None and line.startswith("  "):
            if stripped in ("active member", "active slave"):
                member["active"] = True
            elif stripped.startswith("may_enable:"):
                member["may_enable"] = stripped.split(":", 1)[1].strip() == "true"
            continue
        if ":" in stripped and not stripped.startswith("----"):
            key, value = (s.strip() for s in stripped.split(":", 1))
            out["settings"][key] = value
            if key == "bond_mode":
                out["mode"] = value
            elif key == "lacp_status":
                out["lacp_status"] = value
            elif key in ("active member mac", "active slave mac"):
                m = re.search(r"\((\S+)\)", value)
                out["active_member"] = m.group(1) if m else None
    return out


def parse_lacp_show(text):
    """`ovs-appctl lacp/show BOND` -> {status, lacp_time, members: [{name, state,
    actor_state, partner_state, partner_sys_id}]}."""
    out = {"status": None, "lacp_time": None, "sys_id": None, "members": []}
    member = None
    for line in text.splitlines():
        m = re.match(r"^(?:member|slave): (\S+): (.*)$", line)
        if m:
            member = {"name": m.group(1), "state": m.group(2).strip(), "actor_state": None,
                      "partner_state": None, "partner_sys_id": None}
            out["members"].append(member)
            continue
        stripped = line.strip()
        if ":" not in stripped:
            continue
        key, value = (s.strip() for s in stripped.split(":", 1))
        if member is None:
            if key in ("status", "lacp_time", "sys_id"):
                out[key] = value
        elif key in ("actor state", "partner state", "partner sys_id"):
            member[key.replace(" ", "_")] = value
    return out


def parse_lacp_stats(text):
    """`ovs-appctl lacp/show-stats BOND` -> {member: {counter: n}}, the counters named as OVS
    prints them ('RX Bad PDUs', 'Link Expired', ...; OVS < 2.15 said slave, some interface)."""
    out, member = {}, None
    for line in text.splitlines():
        m = re.match(r"^(?:member|slave|interface): (\S+?):?$", line.strip())
        if m:
            member = out.setdefault(m.group(1), {})
            continue
        key, _sep, value = line.strip().partition(":")
        if member is not None and value.strip().isdigit():
            member[key.strip()] = int(value)
    return out


def read_bonds(run, world, bridge=None):
    """({bond: parsed bond/show}, {bond: parsed lacp/show}) for every bond port of `world`
    (of `bridge` only, if given); lacp/show and its counters (lacp/show-stats, in `stats`)
    only where LACP is on."""
    bonds, lacp = {}, {}
    for pname, port in world["ports"].items():
        if len(port["interfaces"]) > 1 and (not bridge or port["bridge"] == bridge):
            bonds[pname] = parse_bond_show(appctl.call(run, "bond/show", pname))
            if port["lacp"] in ("active", "passive"):
                lacp[pname] = parse_lacp_show(appctl.call(run, "lacp/show", pname))
                try:
                    lacp[pname]["stats"] = parse_lacp_stats(
                        appctl.call(run, "lacp/show-stats", pname))
                except VswitchError:            # OVS before 2.14 has no lacp/show-stats
                    lacp[pname]["stats"] = {}
    return bonds, lacp


def _effective(value, default):
    return {"configured": value, "effective": value if value is not None else default}


def vswitches(world, bonds=None, lacp=None, names=None):
    """The vSwitches of `world` (optionally only `names`), with effective settings and ports.
    `bonds` / `lacp`: {bond port name: parsed bond/show / lacp/show}."""
    bonds, lacp = bonds or {}, lacp or {}
    out = []
    for name in sorted(world["bridges"]):
        if names and name not in names:
            continue
        br = world["bridges"][name]
        facts = w.bridge_facts(world, name)
        out.append({
            "name": name,
            "datapath_type": facts["datapath_type"],
            "fail_mode": _effective(facts["fail_mode"], "standalone"),
            "stp": facts["stp"],
            "mac_aging_time": _effective(facts["mac_aging_time"],
                                         w.OVS_DEFAULTS["mac_aging_time"]),
            "mac_table_size": _effective(facts["mac_table_size"],
                                         w.OVS_DEFAULTS["mac_table_size"]),
            "other_config": dict(br["other_config"]),
            "external_ids": dict(br["external_ids"]),
            "ours": w.MARK in br["external_ids"],
            "owner": w.foreign_owner(world, name),
            "ports": [port(world, p, bonds.get(p), lacp.get(p)) for p in sorted(br["ports"])],
        })
    return out


def port(world, pname, bond=None, lacp=None):
    p = world["ports"][pname]
    ifaces = [interface(world, i) for i in p["interfaces"]]
    first = ifaces[0] if ifaces else {}
    out = {
        "name": pname,
        "role": w.port_role(world, pname),
        "ofport": first.get("ofport") if len(ifaces) == 1 else None,
        "type": first.get("type") if len(ifaces) == 1 else "bond",
        "mac": first.get("mac") if len(ifaces) == 1 else None,
        "addresses": first.get("addresses", []) if len(ifaces) == 1 else [],
        "dynamic_addresses": first.get("dynamic_addresses", []) if len(ifaces) == 1 else [],
        "link_state": first.get("link_state") if len(ifaces) == 1 else None,
        "mtu": min([i["mtu"] for i in ifaces if i.get("mtu")] or [None]),
        "mtu_request": first.get("mtu_request"),
        "tag": p["tag"],
        "trunks": list(p["trunks"]),
        "vlan_mode": p["vlan_mode"],
        "external_ids": dict(p["external_ids"], **first.get("external_ids", {}))
        if len(ifaces) == 1 else dict(p["external_ids"]),
        "error": "; ".join(i["error"] for i in ifaces if i.get("error")) or None,
        "kernel": all(i["kernel"] for i in ifaces),
    }
    if len(ifaces) > 1:
        out["bond"] = bond_facts(p, ifaces, bond, lacp)
        out["link_state"] = "up" if any(i["link_state"] == "up" for i in ifaces) else "down"
    return out


def bond_facts(p, ifaces, bond, lacp):
    members = {m["name"]: m for m in (bond or {}).get("members", [])}
    lacp_members = {m["name"]: m for m in (lacp or {}).get("members", [])}
    return {
        "mode": (bond or {}).get("mode") or p["bond_mode"] or "active-backup",
        "lacp": p["lacp"] or "off",
        "lacp_status": (bond or {}).get("lacp_status") or (lacp or {}).get("status"),
        "active_member": (bond or {}).get("active_member"),
        "members": [dict(i, enabled=members.get(i["name"], {}).get("enabled"),
                         active=members.get(i["name"], {}).get("active"),
                         lacp=lacp_members.get(i["name"], {}).get("state"),
                         lacp_bad_pdus=((lacp or {}).get("stats") or {}).get(
                             i["name"], {}).get("RX Bad PDUs"))
                    for i in ifaces],
    }


# a member that is not "current attached" has a partner that is not in sync (lacp/show)
LACP_IN_SYNC = "current attached"
FORWARDS_NOTHING = "no member is enabled, the bond forwards nothing"


def bond_faults(bond):
    """What is wrong with a bond (bond_facts()), from what bond/show, lacp/show and OVSDB said:
    ([sentence], dead), dead when no member can carry a frame (each one disabled by the bond or
    without carrier). When LACP failed, one sentence for it (its members' states inside it),
    not one more per member for the same cause. A healthy bond: ([], False)."""
    members = bond.get("members") or []
    lacp_on = bond.get("lacp") in ("active", "passive")
    failed = lacp_on and bond.get("lacp_status") not in (None, "negotiated")
    out = []
    for m in members:
        if m.get("link_state") == "down":
            out.append("member %s has no carrier (link_state down)" % m["name"])
        elif not failed:
            if m.get("enabled") is False:
                out.append("member %s is up but not enabled by the bond (bond/show)" % m["name"])
            if lacp_on and m.get("lacp") and m["lacp"] != LACP_IN_SYNC:
                out.append("member %s's LACP partner is not in sync (lacp/show: %s)"
                           % (m["name"], m["lacp"]))
    up = [m["name"] for m in members if m.get("enabled") and m.get("link_state") != "down"]
    dead = bool(members) and all(m.get("enabled") is False or m.get("link_state") == "down"
                                 for m in members)
    if failed:
        out.append("LACP is %s here but not negotiated (bond/show lacp_status %s; lacp/show: "
                   "%s): the switch side does not speak LACP on these ports; %s" % (
                       bond["lacp"], bond["lacp_status"], ", ".join(
                           "%s %s%s" % (m["name"], m.get("lacp") or "-",
                                        "" if m.get("enabled") else " (not enabled)")
                           for m in members),
                       "the bond forwards on %s only" % ", ".join(up) if up else
                       FORWARDS_NOTHING))
    mtus = {m.get("mtu") for m in members if m.get("mtu")}
    if len(mtus) > 1:
        out.append("members differ in MTU (%s)" % ", ".join(
            "%s %s" % (m["name"], m.get("mtu")) for m in members))
    # a member without carrier reports no speed (or its last one): only the ones up compare;
    # only where the bond spreads flows over its members (active-backup uses one at a time,
    # and a slower backup is a design)
    speeds = {m.get("link_speed") for m in members
              if m.get("link_speed") and m.get("link_state") != "down"}
    if len(speeds) > 1 and bond.get("mode") in ("balance-slb", "balance-tcp") and not failed:
        out.append("members differ in speed (%s; Interface link_speed): the bond spreads "
                   "flows as if they were equal" % ", ".join(
                       "%s %s" % (m["name"], _speed(m.get("link_speed"))) for m in members))
    # malformed LACP PDUs are counted since ovs-vswitchd started: a cause only beside a member
    # whose LACP is not in sync now (a count alone may be an old event)
    for m in members:
        if m.get("lacp_bad_pdus") and lacp_on and (failed or m.get("lacp") != LACP_IN_SYNC):
            out.append("member %s received %d malformed LACP PDUs (lacp/show-stats RX Bad "
                       "PDUs, since ovs-vswitchd started): check the switch port's LACP "
                       "settings" % (m["name"], m["lacp_bad_pdus"]))
    return out, dead


def _speed(bps):
    if not bps:
        return "unknown"
    return "%g Gb/s" % (bps / 1e9) if bps >= 1e9 else "%g Mb/s" % (bps / 1e6)


def interface(world, iname):
    iface = world["interfaces"].get(iname, {})
    link = world["links"].get(iname, {})
    ofport = iface.get("ofport")
    return {
        "name": iname,
        "ofport": ofport if ofport not in (None, -1) else None,
        "type": iface.get("type") or "system",
        "mac": link.get("mac") or iface.get("mac_in_use"),
        "addresses": list(link.get("addresses", [])),
        "dynamic_addresses": list(link.get("dynamic", [])),
        "link_state": iface.get("link_state") or ("up" if link.get("up") else None),
        "admin_state": iface.get("admin_state"),
        "mtu": iface.get("mtu") or link.get("mtu"),
        "link_speed": iface.get("link_speed"),
        "mtu_request": iface.get("mtu_request"),
        "kernel": iname in world["links"],
        "external_ids": dict(iface.get("external_ids", {})),
        "error": iface.get("error"),
    }


def mtu_mismatches(vswitch):
    """Ports of one vSwitch whose MTU differs from the uplink's (frames that fit one and not
    the other are dropped silently)."""
    uplinks = [p for p in vswitch["ports"] if p["role"] == w.ROLE_UPLINK and p["mtu"]]
    if not uplinks:
        return []
    mtu = uplinks[0]["mtu"]
    return [{"port": p["name"], "role": p["role"], "mtu": p["mtu"], "uplink": uplinks[0]["name"],
             "uplink_mtu": mtu}
            for p in vswitch["ports"] if p["mtu"] and p["mtu"] != mtu
            and p["role"] in (w.ROLE_VNET, w.ROLE_INTERNAL)]


# `dpif/show`: "netdev@ovs-netdev: hit:..." (a datapath), "  vswitch0:" (a bridge in it),
# "    vnet0 1/7: (system)" (OpenFlow port 1, datapath port 7)
_DPIF_TYPE = re.compile(r"^(\w+)@\S+:")
_DPIF_BRIDGE = re.compile(r"^  (\S+):\s*$")
_DPIF_PORT = re.compile(r"^    (\S+) (\d+|LOCAL)/(\d+|none):")


def parse_dpif(text):
    """`ovs-appctl dpif/show` -> {bridge: {type: the datapath it runs on (netdev, system),
    ports: {datapath port number: port name}}}; a bridge ovs-vswitchd could not give a
    datapath is not listed."""
    out, dp, bridge = {}, None, None
    for line in (text or "").splitlines():
        m = _DPIF_TYPE.match(line)
        if m:
            dp, bridge = m.group(1), None
            continue
        m = _DPIF_BRIDGE.match(line)
        if m:
            bridge = m.group(1)
            out[bridge] = {"type": dp, "ports": {}}
            continue
        m = _DPIF_PORT.match(line)
        if m and bridge is not None and m.group(3) != "none":
            out[bridge]["ports"][int(m.group(3))] = m.group(1)
    return out


def parse_dpif_show(text):
    """`ovs-appctl dpif/show` -> {bridge: {datapath port number: port name}}."""
    return {br: d["ports"] for br, d in parse_dpif(text).items()}


def parse_dpif_types(text):
    """`ovs-appctl dpif/show` -> {bridge: the datapath type it really runs on}."""
    return {br: d["type"] for br, d in parse_dpif(text).items() if d["type"]}


def read_ovs(run, world, reread=None):
    """Open vSwitch itself on the host: {version (ovs-vswitchd's), vswitchd ("running", or
    why it does not answer), cur_cfg, next_cfg (OVSDB: what ovs-vswitchd applied of what was
    asked; where it lags, read once more a second later with `reread()`, a fresh world, so
    that a change being applied is not taken for a stuck daemon), datapaths ({bridge: the
    type it really got}, dpif/show), kernel}."""
    out = {"version": None, "vswitchd": "running", "datapaths": None,
           "cur_cfg": world["ovs"].get("cur_cfg"), "next_cfg": world["ovs"].get("next_cfg"),
           "kernel": os.uname()[2]}
    try:
        said = appctl.call(run, "version", timeout=5)
        out["version"] = (said.split() or [None])[-1]
        out["parsed_version"] = fdb.parse_version(said)
        out["datapaths"] = parse_dpif_types(appctl.call(run, "dpif/show", timeout=5))
    except VswitchError as exc:
        out["vswitchd"] = "does not answer (%s)" % " ".join(str(exc).split())
    if reread and isinstance(out["cur_cfg"], int) and isinstance(out["next_cfg"], int) \
            and out["cur_cfg"] < out["next_cfg"]:
        time.sleep(1)
        again = reread()["ovs"]
        out.update(cur_cfg=again.get("cur_cfg"), next_cfg=again.get("next_cfg"))
    return out


def collect(host):
    """vswitch_info on a host: the vSwitches (of `bridge`), their MTU mismatches, Open vSwitch
    itself (read_ovs) and the network files provision.yml persisted."""
    bridge, watch = host.params["bridge"], host.params.get("watch") or 0
    if bridge is not None:
        check_ifname(bridge, "bridge")
    if not 0 <= watch <= 60:
        raise ParamError("watch", "%r is not between 0 and 60 seconds" % watch)
    world = host.read_world()
    w.check_bridge(world, bridge)
    ovs = read_ovs(host.run, world, host.read_world)
    parsed = ovs.pop("parsed_version", None)
    # what only a running ovs-vswitchd answers (bond/show, dpctl, fdb) is not asked of a silent
    # one: OVSDB's side is read all the same, and `ovs` says why the rest is missing
    alive = ovs["vswitchd"] == "running"
    bonds, lacp = read_bonds(host.run, world, bridge) if alive else ({}, {})
    found = vswitches(world, bonds, lacp, [bridge] if bridge else None)
    out = {"vswitches": found,
           "mtu_mismatches": [dict(m, vswitch=vs["name"]) for vs in found
                              for m in mtu_mismatches(vs)],
           "ovs": ovs,
           "network_files": files.network_files()}
    if watch and alive:
        out["rising"] = counters.watch(host.run, world, [vs["name"] for vs in found], watch,
                                       host.params["timeout"], parsed)
    if host.params.get("history"):
        out["history"] = dblog.read_log(host.run, lambda f: files.read_text(f, None),
                                        host.which)
    return out
