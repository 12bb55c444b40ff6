# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vSwitch does with a frame, in words: the br_flow for `ovs-appctl ofproto/trace` built
from a frame's headers (never the packet itself and never -generate: with a packet the trace
runs NORMAL's side effects and teaches the MAC table), the trace's text parsed, the datapath
actions walked into the ports the frame leaves by (with the VLAN it carries there), and one
verdict per trace that names the port and the cause. Pure: the trace module (trace_run.py)
does the I/O; every function here is tested on recorded output."""

from __future__ import annotations

import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.fdb import carries
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.info import (
    FORWARDS_NOTHING,
    bond_faults,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import group_mac

# a rule in the trace: " 0. ip,nw_dst=203.0.113.103, priority 100" (table 0), or
# " 0. priority 0" (match-all); NORMAL's lines start with "->", its drops with ">>>>"
_RULE = re.compile(r"^ ?(\d+)\. (?:(.*), )?priority (\d+)(?:, cookie (\S+))?\s*$")
_PUSH = re.compile(r"^push_vlan\(vid=(\d+)")
_ODP_PORT = re.compile(r"^\d+$")
PROTOCOLS = ("arp", "ip", "ip6", "icmp", "icmp6", "tcp", "udp")


def br_flow(frame, in_ofport):
    """The br_flow that describes `frame` entering by OpenFlow port `in_ofport`.

    frame: {src_mac, dst_mac, vlan (None or 0: untagged), protocol (one of PROTOCOLS or None),
    src_ip, dst_ip, src_port, dst_port, icmp_type, arp_op}; missing keys are left out, so OVS
    fills in zeros (the trace says so in its "Flow:" line)."""
    proto = frame.get("protocol")
    six = ":" in (frame.get("src_ip") or frame.get("dst_ip") or "")
    if proto == "ip" and six:
        proto = "ip6"
    if proto == "icmp" and six:
        proto = "icmp6"
    if proto in ("tcp", "udp") and six:
        proto += "6"
    parts = [proto] if proto else []
    parts.append("in_port=%s" % in_ofport)
    if frame.get("vlan"):
        parts.append("dl_vlan=%d" % frame["vlan"])
    for key, field in (("src_mac", "dl_src"), ("dst_mac", "dl_dst")):
        if frame.get(key):
            parts.append("%s=%s" % (field, frame[key]))
    if proto == "arp":
        ips = (("src_ip", "arp_spa"), ("dst_ip", "arp_tpa"))
    elif six:
        ips = (("src_ip", "ipv6_src"), ("dst_ip", "ipv6_dst"))
    else:
        ips = (("src_ip", "nw_src"), ("dst_ip", "nw_dst"))
    if proto:
        for key, field in ips:
            if frame.get(key):
                parts.append("%s=%s" % (field, frame[key]))
    if proto and proto.startswith(("tcp", "udp")):
        for key, field in (("src_port", "tp_src"), ("dst_port", "tp_dst")):
            if frame.get(key) is not None:
                parts.append("%s=%d" % (field, frame[key]))
    if proto in ("icmp", "icmp6") and frame.get("icmp_type") is not None:
        parts.append("%s=%d" % ("icmpv6_type" if proto == "icmp6" else "icmp_type",
                                frame["icmp_type"]))
    if proto == "arp" and frame.get("arp_op") is not None:
        parts.append("arp_op=%d" % frame["arp_op"])
    return ",".join(parts)


def parse(text):
    """`ofproto/trace` output -> {flow, rules: [{table, match, priority, actions}],
    normal: [NORMAL's own words], drops: [the lines OVS marks with >>>> <<<<], actions}."""
    out = {"flow": None, "rules": [], "normal": [], "drops": [], "actions": None}
    rule = None
    for raw in (text or "").splitlines():
        line = raw.rstrip()
        s = line.strip()
        if line.startswith("Flow: ") and out["flow"] is None:
            out["flow"] = line[6:]
        elif line.startswith("Datapath actions:"):
            out["actions"] = line.split(":", 1)[1].strip()
        elif _RULE.match(line):
            m = _RULE.match(line)
            rule = {"table": int(m.group(1)), "match": m.group(2) or "",
                    "priority": int(m.group(3)), "actions": []}
            out["rules"].append(rule)
        elif s.startswith("-> "):
            out["normal"].append(s[3:].strip())
        elif s.startswith(">>>>") and s.endswith("<<<<"):
            out["drops"].append(s.strip("<> "))
        elif s.startswith(">> "):
            out["drops"].append(s[3:].strip())
        elif rule is not None and s and line.startswith("    ") and not s.startswith(
                ("bridge(", "----", "Final flow", "Megaflow")):
            rule["actions"].append(s)
    return out


def _split_actions(actions):
    """Datapath actions split at top-level commas (inside parentheses they stay)."""
    parts, depth, cur = [], 0, ""
    for ch in actions or "":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def walk_actions(actions, vlan, odp_names):
    """The ports a frame leaves by: [{port, vlan}] from the datapath actions, following
    push_vlan / pop_vlan from the VLAN it entered with (None: untagged). A recirc (a
    balance-tcp bond picks its member after it) is one output named `recirc`."""
    outs = []
    for act in _split_actions(actions):
        m = _PUSH.match(act)
        if m:
            vlan = int(m.group(1))
        elif act == "pop_vlan":
            vlan = None
        elif _ODP_PORT.match(act):
            outs.append({"port": odp_names.get(int(act), "datapath port %s" % act),
                         "vlan": vlan})
        elif act.startswith("recirc("):
            outs.append({"port": "recirc", "vlan": vlan})
    return outs


def _vlan_words(vlan):
    return "VLAN %d" % vlan if vlan else "untagged"


def _carrying(world, bridge, vlan, exclude):
    """The bridge's ports (other than exclude) that carry `vlan`, by world (port rows)."""
    names = []
    for pname in world["bridges"].get(bridge, {}).get("ports", []):
        port = world["ports"].get(pname)
        if port is not None and pname != exclude and carries(port, vlan or 0):
            names.append(pname)
    return sorted(names)


def _bond_of(world, bridge):
    bonds = [p for p in world["bridges"].get(bridge, {}).get("ports", [])
             if len(world["ports"].get(p, {}).get("interfaces", [])) > 1]
    return bonds[0] if len(bonds) == 1 else None


def _for_host(world, out, frame):
    """Whether a frame the internal port `out` gets is the host's: a broadcast or multicast,
    or sent to its MAC (unknown: assumed)."""
    dst = (frame.get("dst_mac") or "").lower()
    iface = world["interfaces"].get(out["port"], {})
    mac = ((world.get("links") or {}).get(out["port"], {}).get("mac")
           or iface.get("mac_in_use") or "").lower()
    return not dst or not mac or dst == mac or group_mac(dst)


def dead_bond(bonds, name):
    """Why bond `name` forwards nothing (bonds: {port: info.bond_facts()}), or None when it
    forwards or is no bond."""
    bond = (bonds or {}).get(name)
    if not bond:
        return None
    faults, dead = bond_faults(bond)
    if not dead:
        return None
    said = "; ".join(faults)
    return said if said.endswith(FORWARDS_NOTHING) else \
        "%s%s%s" % (said, "; " if said else "", FORWARDS_NOTHING)


def _annotate(world, out, role_of, size):
    """An output with its role, link state and MTU, and the problem that loses the frame there
    (None if none): link down, or larger than the interface's MTU."""
    port = world["ports"].get(out["port"])
    ifaces = [world["interfaces"].get(i, {}) for i in (port or {}).get("interfaces", [])]
    out["role"] = role_of(out["port"]) if port else None
    out["link_state"] = next((i.get("link_state") for i in ifaces if i.get("link_state")), None)
    mtus = [i.get("mtu") for i in ifaces if isinstance(i.get("mtu"), int)]
    out["mtu"] = min(mtus) if mtus else None
    out["problem"] = None
    if ifaces and all(i.get("link_state") == "down" for i in ifaces):
        out["problem"] = "its link is down"
    elif size and out["mtu"] and size > out["mtu"]:
        out["problem"] = "the packet (%d bytes) is larger than its MTU %d" % (size, out["mtu"])
    return out


def verdict(world, bridge, in_port, frame, parsed, odp_names, role_of, size=None, bonds=None):
    """One trace's verdict: {verdict, reason, rule, outputs, sentence}.

    verdict: `output` (to the port(s) a learned MAC names), `flood` (the destination is not in
    the MAC table: every port on the VLAN), `drop` (nothing leaves: a flow's drop, NORMAL's
    VLAN rules, or no port on the VLAN), `lost` (it leaves, but only by ports that lose it: link
    down, MTU, a bond with no member enabled), `other` (flows other than NORMAL decided: see
    rule/actions). bonds: {bond port: info.bond_facts()} of the bridge's bonds (bond/show and
    lacp/show), to say why a bond forwards nothing."""
    vlan_in = frame.get("vlan") or None
    port_in = world["ports"].get(in_port, {})
    # what VLAN NORMAL puts the frame on: an access port's tag, or the tag it carries
    tag = port_in.get("tag")
    mode = port_in.get("vlan_mode")
    on_vlan = tag if tag is not None and (mode in (None, "access") or not vlan_in) else vlan_in
    seen_as = "on %s" % _vlan_words(on_vlan) if on_vlan else "untagged"
    where = "%s: frame %s from %s (%s)" % (bridge, seen_as, in_port, role_of(in_port) or "port")
    outs = walk_actions(parsed["actions"], vlan_in, odp_names)
    bond = _bond_of(world, bridge)
    for o in outs:
        if o["port"] == "recirc" and bond:
            o["port"] = bond
    outs = [_annotate(world, o, role_of, size) for o in outs]
    for o in outs:
        o["problem"] = o["problem"] or dead_bond(bonds, o["port"])
    res = {"verdict": "other", "reason": None, "rule": None, "outputs": outs,
           "vlan": on_vlan}
    last = parsed["rules"][-1] if parsed["rules"] else None
    normal = any("NORMAL" in a for r in parsed["rules"] for a in r["actions"])
    if last and not normal and (not last["actions"] or last["actions"] == ["drop"]) \
            and not outs:
        rule = "%s%spriority=%d" % (last["match"], "," if last["match"] else "",
                                    last["priority"])
        res.update(verdict="drop", rule=dict(last, text=rule),
                   reason="dropped by flow `%s` (table %d)" % (rule, last["table"]))
    elif parsed["drops"]:
        res.update(verdict="drop", reason=parsed["drops"][0])
    elif not normal and last:
        res.update(verdict="other", rule=dict(last, text=last["match"]),
                   reason="flow `%s` (table %d): %s" % (last["match"] or "match-all",
                                                        last["table"],
                                                        "; ".join(last["actions"])))
    elif any(r.endswith("flooding") for r in parsed["normal"]):
        res.update(verdict="flood", reason="the destination MAC %s is not in the table"
                   % frame.get("dst_mac") if frame.get("dst_mac") != "ff:ff:ff:ff:ff:ff"
                   else "broadcast")
    elif "forwarding to learned port" in parsed["normal"]:
        res.update(verdict="output", reason="forwarding to learned port")
    elif parsed["normal"]:
        res.update(verdict="drop" if not outs else "other", reason=parsed["normal"][-1])
    kernel_only = [o for o in outs if not (o["role"] == "internal" and o["vlan"])]
    dead = [b for b in _carrying(world, bridge, on_vlan, in_port) if dead_bond(bonds, b)]
    onward = [o for o in kernel_only if o["role"] != "internal" or _for_host(world, o, frame)]
    if res["verdict"] in ("output", "flood") and dead and all(o["problem"] for o in onward):
        # NORMAL sends it to the bond, which has no member to send it by: the datapath drops
        res["verdict"] = "lost"
        res["outputs"] = outs = outs + [_annotate(world, {"port": b, "vlan": on_vlan}, role_of,
                                                  size) for b in dead]
        for o in outs:
            o["problem"] = o["problem"] or dead_bond(bonds, o["port"])
    elif res["verdict"] in ("output", "flood") and not kernel_only:
        carriers = _carrying(world, bridge, on_vlan, in_port)
        res["verdict"] = "drop"
        if outs:
            res["reason"] = "no port carries %s but the internal port (the host's kernel " \
                            "gets it tagged, and ignores it)" % _vlan_words(on_vlan)
        elif not carriers:
            res["reason"] = "no port carries %s" % _vlan_words(on_vlan)
        else:
            res["reason"] = res["reason"] or "nothing to send it to"
    elif res["verdict"] in ("output", "flood") and all(o["problem"] for o in kernel_only):
        res["verdict"] = "lost"
    entry = _annotate(world, {"port": in_port}, role_of, size)
    res["entry"] = None
    if dead_bond(bonds, in_port):
        # bond/show's members are all disabled: the bond refuses what arrives ("bonding refused
        # admissibility" in the trace) as it sends nothing
        entry["problem"] = dead_bond(bonds, in_port)
        res.update(verdict="drop", outputs=[], entry=entry,
                   reason="%s: %s (it arrives by that bond)" % (in_port, entry["problem"]))
    if entry["problem"] and entry["mtu"] and size and size > entry["mtu"]:
        # the frame never gets in: a NIC (a veth too) drops what arrives above its MTU
        res.update(verdict="drop", outputs=[], entry=entry,
                   reason="%s: %s (it arrives by that port)" % (in_port, entry["problem"]))
    res["sentence"] = sentence(where, res)
    return res


def lost_at(res):
    """The output a `lost` verdict loses the frame at: the first with a problem, a port that
    leads elsewhere (uplink, vnet) before the host's own internal port; None if none."""
    return next((o for o in sorted(res.get("outputs") or [], key=lambda o: o["role"] == "internal")
                 if o.get("problem")), None)


def _out_words(o):
    words = "%s (%s%s)" % (o["port"], o["role"] or "port",
                           ", tagged %d" % o["vlan"] if o["vlan"] else "")
    return words + (": %s" % o["problem"] if o["problem"] else "")


def sentence(where, res):
    """The verdict in one line: '<bridge>: frame on VLAN 20 from eth1 (uplink), <what>'."""
    outs = ", ".join(_out_words(o) for o in res["outputs"])
    v = res["verdict"]
    if v == "drop":
        said = res["reason"].startswith(("dropped", "dropping"))
        return "%s, %s%s" % (where, res["reason"], "" if said else " → dropped")
    if v == "lost":
        return "%s, output to %s → lost" % (where, outs)
    if v == "flood":
        return "%s, flooded (%s) to %s" % (where, res["reason"], outs)
    if v == "output":
        return "%s, output to %s" % (where, outs)
    return "%s, %s%s" % (where, res["reason"] or "see the trace",
                         " → %s" % outs if outs else "")
