# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The trace module on a host: each frame asked about, traced with `ofproto/trace` through the
bridge of the port it enters by (one `dpif/show` for the datapath port names, one trace per
frame, argv lists bounded by the task's timeout), and its verdict (oftrace.py)."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import appctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    info,
    locate,
    oftrace,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    check_ifname,
    normalize_mac,
    require_netaddr,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import port_role

FRAME_KEYS = ("in_port", "src_mac", "dst_mac", "vlan", "protocol", "src_ip", "dst_ip",
              "src_port", "dst_port", "icmp_type", "arp_op", "size")


def _name(where, key):
    return "%s.%s" % (where, key) if where else key


def check_frame(frame, where=""):
    """A frame asked about, normalised; ParamError naming the option (`traces[i].key`, or the
    key alone for the module's top-level frame) and the value."""
    out = {k: frame.get(k) for k in FRAME_KEYS}
    if not out["in_port"]:
        raise ParamError(_name(where, "in_port"), "is required: the port the frame enters by")
    check_ifname(out["in_port"], _name(where, "in_port"))
    if not out["dst_mac"]:
        raise ParamError(_name(where, "dst_mac"), "is required: the MAC the frame is sent to")
    for key in ("src_mac", "dst_mac"):
        if out[key]:
            out[key] = normalize_mac(out[key], _name(where, key))
    for key in ("src_ip", "dst_ip"):
        if out[key]:
            out[key] = locate.check_ip(out[key], _name(where, key))
    if out["protocol"] is not None and out["protocol"] not in oftrace.PROTOCOLS:
        raise ParamError(_name(where, "protocol"), "%r is not one of %s"
                         % (out["protocol"], ", ".join(oftrace.PROTOCOLS)))
    for key, low, high in (("vlan", 0, 4095), ("src_port", 0, 65535), ("dst_port", 0, 65535),
                           ("icmp_type", 0, 255), ("arp_op", 1, 2), ("size", 64, 65535)):
        if out[key] is not None and not low <= out[key] <= high:
            raise ParamError(_name(where, key), "%r is outside %d-%d" % (out[key], low, high))
    return out


def _entry(world, pname, where):
    """(bridge, OpenFlow port number) of the port a frame enters by."""
    port = world["ports"].get(pname)
    if port is None:
        raise ParamError(_name(where, "in_port"), "no port %r on this host's vSwitches" % pname)
    bridge = next((b for b, row in world["bridges"].items() if pname in row["ports"]), None)
    ofports = sorted(o for o in (world["interfaces"].get(i, {}).get("ofport")
                                 for i in port["interfaces"]) if isinstance(o, int) and o > 0)
    if bridge is None or not ofports:
        raise ParamError(_name(where, "in_port"), "port %r has no OpenFlow port number (ofport %s)"
                         % (pname, "-1" if port["interfaces"] else "none"))
    return bridge, ofports[0]


def _bonds(run, world, bridge):
    """{bond port: info.bond_facts()} of the bridge's bonds (bond/show, lacp/show): none read
    on a bridge without a bond."""
    if not any(len(world["ports"].get(p, {}).get("interfaces", [])) > 1
               for p in world["bridges"][bridge]["ports"]):
        return {}
    read = info.read_bonds(run, world, bridge)
    return {p["name"]: p["bond"] for vs in info.vswitches(world, *read, names=[bridge])
            for p in vs["ports"] if p.get("bond")}


def trace(run, world, frame, odp, timeout, bonds=None):
    """One frame: its flow, the trace's text and its verdict. bonds: {bridge: _bonds()}, read
    here where missing."""
    bridge, ofport = _entry(world, frame["in_port"], "")
    bonds = {} if bonds is None else bonds
    if bridge not in bonds:
        bonds[bridge] = _bonds(run, world, bridge)
    flow = oftrace.br_flow(frame, ofport)
    text = appctl.call(run, "ofproto/trace", bridge, flow, timeout=timeout)
    parsed = oftrace.parse(text)
    res = oftrace.verdict(world, bridge, frame["in_port"], frame, parsed, odp.get(bridge, {}),
                          lambda p: port_role(world, p), frame["size"], bonds[bridge])
    return dict(res, bridge=bridge, in_port=frame["in_port"], flow=flow,
                actions=parsed["actions"], trace=text)


def collect(host):
    p = host.params
    require_netaddr()
    asked = p["traces"] or [{k: p.get(k) for k in FRAME_KEYS}]
    where = ["traces[%d]" % i if p["traces"] else "" for i in range(len(asked))]
    frames = [check_frame(f, w) for f, w in zip(asked, where)]
    world = host.read_world()
    for f, w in zip(frames, where):
        _entry(world, f["in_port"], w)          # every port known before any trace runs
    odp = info.parse_dpif_show(appctl.call(host.run, "dpif/show", timeout=p["timeout"]))
    bonds = {}
    return {"traces": [trace(host.run, world, f, odp, p["timeout"], bonds) for f in frames]}
