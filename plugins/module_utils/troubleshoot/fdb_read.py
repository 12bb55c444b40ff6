# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fdb_info on a host, and the FDB reads locate shares: the ovs-appctl calls (argv lists,
bounded by the task's timeout) whose output fdb.py parses. `run` is a callable argv ->
(rc, stdout, stderr)."""

from __future__ import annotations

import json

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    OvsdbError,
    ParamError,
    ParseError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import appctl, kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import fdb, locate
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    check_ifname,
    normalize_mac,
    require_netaddr,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    check_bridge,
    port_role,
)


def version(run, timeout):
    """ovs-vswitchd's own version (the daemon answers, not the ovs-appctl binary)."""
    try:
        return fdb.parse_version(appctl.call(run, "version", timeout=timeout))
    except OvsdbError:
        return None


def show(run, bridge, ovs_version, timeout):
    """(entries, format) for one bridge: JSON where ovs-vswitchd has it (3.6+), else text;
    JSON that fails or does not parse falls back to text."""
    if fdb.has_json(ovs_version):
        try:
            out = appctl.call(run, "-f", "json", "fdb/show", bridge, timeout=timeout)
            return fdb.parse_show_json(json.loads(out), bridge).get(bridge, []), "json"
        except (OvsdbError, ValueError, KeyError, TypeError):
            pass
    out = appctl.call(run, "fdb/show", bridge, timeout=timeout)
    try:
        return fdb.parse_show_text(out, bridge).get(bridge, []), "text"
    except ParseError as exc:
        raise OvsdbError("fdb/show %s: %s" % (bridge, exc)) from None


def stats(run, bridge, timeout):
    try:
        return fdb.parse_stats(appctl.call(run, "fdb/stats-show", bridge, timeout=timeout))
    except ParseError as exc:
        raise OvsdbError("fdb/stats-show %s: %s" % (bridge, exc)) from None


def role_of(world):
    return lambda pname: port_role(world, pname)


def tables(run, world, names, timeout, ver=None):
    """{bridge: {name, aging_time, table_size, entries (joined), stats, format}} and the
    daemon's version (`ver`, parsed, when the caller read it already)."""
    ver = ver or version(run, timeout)
    out = {}
    for br in names:
        entries, fmt = show(run, br, ver, timeout)
        st = stats(run, br, timeout)
        aging, size = fdb.limits(world, br, st)
        out[br] = {"name": br, "aging_time": aging, "table_size": size,
                   "entries": fdb.join(world, br, entries, role_of(world)),
                   "stats": st, "format": fmt}
    return out, ver


def explain_trace(run, world, table, mac, vlan, timeout):
    """Trace a frame to `mac` through one bridge for each VLAN asked (or where the FDB has it,
    or VLAN 0): never with -generate, so nothing is learned. -> [result]."""
    br = table["name"]
    learned = {e["vlan"]: e for e in table["entries"] if e["mac"] == mac}
    vlans = [vlan] if vlan is not None else (sorted(learned) or [0])
    results = []
    for v in vlans:
        entry = learned.get(v)
        flow, in_port = fdb.trace_flow(world, br, mac, v, entry and entry["port_name"],
                                       role_of(world))
        res = {"bridge": br, "mac": mac, "vlan": v, "in_port": in_port, "flow": flow,
               "verdict": "other", "reason": None, "actions": None,
               "port": None, "port_name": None, "role": None,
               "aging_time": table["aging_time"]}
        if flow is not None:
            res.update(fdb.parse_trace(appctl.call(run, "ofproto/trace", br, flow,
                                                   timeout=timeout)))
            if res["verdict"] == "unicast" and entry is not None:
                res.update(port=entry["port"], port_name=entry["port_name"],
                           role=entry["role"])
        res["sentence"] = fdb.explain_sentence(res)
        results.append(res)
    return results


def validate(params):
    """Normalised (mac, ip, explain, vlan); ParamError naming the option otherwise."""
    require_netaddr()
    mac = normalize_mac(params["mac"], "mac") if params["mac"] is not None else None
    explain = normalize_mac(params["explain"], "explain") \
        if params["explain"] is not None else None
    ip = locate.check_ip(params["ip"], "ip") if params["ip"] is not None else None
    if params["bridge"] is not None:
        check_ifname(params["bridge"], "bridge")
    vlan = params["vlan"]
    if vlan is not None and not 0 <= vlan <= 4095:
        raise ParamError("vlan", "%r is outside the VLAN range 0-4095" % (vlan,))
    return mac, ip, explain, vlan


def collect(host):
    """fdb_info on a host: the FDB of every vSwitch (or `bridge`), joined to port names and
    roles, filtered by MAC or IP, with `explain`'s traces."""
    p = host.params
    mac, ip, explain, vlan = validate(p)
    world = host.read_world()
    check_bridge(world, p["bridge"])
    names = [p["bridge"]] if p["bridge"] else sorted(world["bridges"])
    run = host.run
    found, ver = tables(run, world, names, p["timeout"])
    result = {"ovs_version": ".".join(str(x) for x in ver) if ver else None}
    wanted = None
    if mac:
        wanted = [mac]
    elif ip:
        result["ip_macs"] = locate.macs_for_ip(ip, world, kernel.neighbours(run))
        locate.attached_evidence(world, result["ip_macs"])
        wanted = sorted(result["ip_macs"])
    bridges = []
    for br in names:
        table = found[br]
        if explain:
            table["explain"] = explain_trace(run, world, table, explain, vlan, p["timeout"])
        if wanted is not None:
            table["entries"] = fdb.filter_macs(table["entries"], wanted)
        bridges.append(table)
    result["bridges"] = bridges
    return result
