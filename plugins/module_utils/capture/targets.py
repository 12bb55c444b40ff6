# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which interfaces a capture opens, pure: for the names asked and the world (OVSDB + kernel),
a kernel netdev directly, a bond on each member, a port without a netdev through a temporary
OVS Mirror, a patch port refused and replaced by the real ports on either side; and the OVSDB
ops (one transaction each) that add and remove the temporary mirrors."""

from __future__ import annotations

import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    MARK,
    ROLE_UPLINK,
    port_role,
)

METHODS = ("auto", "tcpdump", "mirror")
VLAN_MATCH = ("auto", "always", "never")
# Our mark on the temporary mirror rows (the key the provisioning modules use, this value).
MARK_CAPTURE = "capture"
RUN_KEY = "cloudnet-capture-run"
HEADERS_ONLY_SNAPLEN = 128  # Ethernet + 802.1Q + IPv6 + TCP with options
_NAME_RE = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.:@+-]{0,63}$")
_TRUNK_MODES = ("trunk", "native-tagged", "native-untagged", "dot1q-tunnel")


def _is_patch(world, iname):
    iface = world["interfaces"].get(iname)
    return bool(iface) and iface["type"] == "patch"


def is_capture_row(row):
    return row.get("external_ids", {}).get(MARK) == MARK_CAPTURE


def _wants_vlan(world, pname, match_vlan, method):
    if match_vlan != "auto":
        return match_vlan == "always"
    if method == "mirror":
        return True  # the mirror's output port carries the frames tagged
    if pname is None:
        return True  # a netdev outside OVS: may well be a trunk, matching tags costs nothing
    port = world["ports"][pname]
    return port_role(world, pname) == ROLE_UPLINK or bool(port.get("trunks")) or \
        port.get("vlan_mode") in _TRUNK_MODES


def check_name(value, path):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ParamError(path, "%r is not a valid interface name" % (value,))
    return value


def check_request(names, method="auto", match_vlan="auto"):
    """What resolve() can check without the host: run it before reading the host."""
    if method not in METHODS:
        raise ParamError("method", "%r is not one of %s" % (method, ", ".join(METHODS)))
    if match_vlan not in VLAN_MATCH:
        raise ParamError("match_vlan", "%r is not one of %s" % (match_vlan,
                                                                ", ".join(VLAN_MATCH)))
    if not names:
        raise ParamError("interfaces", "name at least one interface to capture on")
    for i, name in enumerate(names):
        check_name(name, "interfaces[%d]" % i)


def resolve(world, names, method="auto", match_vlan="auto"):
    """The names asked for -> (targets, notes).

    Each target: interface (the file name stem: the name asked for, or a bond member),
    requested, method (tcpdump | mirror), device (the netdev tcpdump opens; None for a mirror
    until its capture port exists), bridge, port, vlan (whether to match tagged frames)."""
    check_request(names, method, match_vlan)
    targets, notes = [], []
    seen = set()

    def add(target):
        if target["interface"] not in seen:
            seen.add(target["interface"])
            targets.append(target)

    for i, name in enumerate(names):
        path = "interfaces[%d]" % i
        check_name(name, path)
        for t in _resolve(world, name, path, method, match_vlan, notes, redirected=False):
            add(t)
    return targets, notes


def _resolve(world, name, path, method, match_vlan, notes, redirected):
    links = world.get("links") or {}
    ports, ifaces = world["ports"], world["interfaces"]
    pname = name if name in ports else (ifaces.get(name) or {}).get("port")
    if pname is None:
        if method == "mirror":
            raise ParamError(path, "%r: method mirror needs an OVS port, and %r is none (OVS "
                                   "ports: %s)" % (name, name, ", ".join(sorted(ports)) or "none"))
        if name in links:
            return _up(links, [_target(name, name, "tcpdump", name, None, None,
                                       _wants_vlan(world, None, match_vlan, "tcpdump"))],
                       path, notes, redirected)
        raise ParamError(path, "%r is neither a kernel interface nor an OVS port on this host"
                               % name)
    port = ports[pname]
    members = port["interfaces"]
    if any(_is_patch(world, m) for m in members) or _is_patch(world, name):
        if redirected:
            return []
        return _redirect_patch(world, name, pname, path, method, match_vlan, notes)
    bridge = port["bridge"]
    if method == "mirror":
        return [_mirror(world, name, pname, match_vlan, notes)]
    if len(members) > 1 and name == pname:  # a bond: one tcpdump per member
        if all(m in links for m in members):
            note = "%s is a bond (%s): captured on each member: %s" % (
                name, port.get("bond_mode") or "active-backup", ", ".join(members))
            if port.get("bond_mode") == "balance-tcp":
                note += " (balance-tcp moves flows between members; merge the member files " \
                        "to see a whole conversation)"
            notes.append(note)
            vlan = _wants_vlan(world, pname, match_vlan, "tcpdump")
            return _up(links, [_target(m, name, "tcpdump", m, bridge, pname, vlan)
                               for m in members], path, notes, True)
        if method == "tcpdump":
            raise ParamError(path, "%r is a bond whose members %s have no kernel netdev: only "
                                   "method mirror can capture it"
                             % (name, ", ".join(m for m in members if m not in links)))
        return [_mirror(world, name, pname, match_vlan, notes)]
    if name in links:
        return _up(links, [_target(name, name, "tcpdump", name, bridge, pname,
                                   _wants_vlan(world, pname, match_vlan, "tcpdump"))],
                   path, notes, redirected)
    if method == "tcpdump":
        raise ParamError(path, "%r has no kernel netdev (type %s): only method mirror can capture "
                               "it" % (name, (ifaces.get(name) or {}).get("type") or "?"))
    return [_mirror(world, name, pname, match_vlan, notes)]


def _up(links, targets, path, notes, optional):
    """Drop targets whose netdev is administratively down (tcpdump cannot open it, and it
    carries nothing): with a note when they came from a bond or a patch port, else an error."""
    out = []
    for t in targets:
        if links.get(t["device"], {}).get("up", True):
            out.append(t)
        elif optional:
            notes.append("%s is down: not captured (it carries no traffic)" % t["device"])
        else:
            raise ParamError(path, "%r is down (tcpdump cannot capture on an interface that "
                                   "is not up)" % t["device"])
    return out


def _target(interface, requested, method, device, bridge, port, vlan):
    return {"interface": interface, "requested": requested, "method": method, "device": device,
            "bridge": bridge, "port": port, "vlan": vlan}


def _mirror(world, name, pname, match_vlan, notes):
    port = world["ports"][pname]
    notes.append("%s is captured through a temporary OVS mirror of port %s on %s (a capture "
                 "port that never sends into the bridge; both removed at the end)"
                 % (name, pname, port["bridge"]))
    if len(port["interfaces"]) > 1 and port.get("bond_mode") == "balance-tcp":
        notes.append("%s is a balance-tcp bond: OVS 3.1 duplicates every outbound frame of a "
                     "mirrored balance-tcp bond, so each frame the host sends appears twice in "
                     "%s.pcap (an artefact of the mirror, not of the network)" % (pname, name))
    return _target(name, name, "mirror", None, port["bridge"], pname,
                   _wants_vlan(world, pname, match_vlan, "mirror"))


def _redirect_patch(world, name, pname, path, method, match_vlan, notes):
    """A patch port cannot be captured (OVS hands traffic through a patch before mirroring
    and no netdev exists): capture the real ports of the bridges on both sides instead."""
    ports, ifaces = world["ports"], world["interfaces"]
    bridges = [ports[pname]["bridge"]]
    for m in ports[pname]["interfaces"]:
        peer = (ifaces.get(m) or {}).get("options", {}).get("peer")
        peer_port = (ifaces.get(peer) or {}).get("port")
        if peer_port in ports and ports[peer_port]["bridge"] not in bridges:
            bridges.append(ports[peer_port]["bridge"])
    out = []
    sides = []
    for br in bridges:
        real = [p for p in world["bridges"][br]["ports"]
                if p in ports and not any(_is_patch(world, m) for m in ports[p]["interfaces"])
                and not is_capture_row(ports[p])]
        sides.append("%s: %s" % (br, ", ".join(real) or "none"))
        for p in real:
            for t in _resolve(world, p, path, "auto" if method == "mirror" else method,
                              match_vlan, notes, redirected=True):
                t["requested"] = name
                out.append(t)
    notes.append("%s is a patch port: OVS never mirrors traffic crossing a patch port and it has "
                 "no netdev, so it is not captured; captured instead on the real ports on "
                 "either side (%s)" % (name, "; ".join(sides)))
    if not out:
        raise ParamError(path, "%r is a patch port and the bridges on its sides have no other "
                               "port to capture" % name)
    return out


def stale_mirrors(world):
    """Notes on capture mirrors of ours already in OVSDB: another capture running, or one
    whose cleanup never ran (the watchdog itself killed). Reported, never removed here."""
    return ["a capture mirror %s (run %s) is already on %s: another capture is running, or "
            "it was left behind; remove it with ovs-vsctl -- --id=@m get Mirror %s -- remove "
            "Bridge %s mirrors @m" % (name, m["external_ids"].get(RUN_KEY, "?"), m["bridge"],
                                      name, m["bridge"])
            for name, m in sorted((world.get("mirrors") or {}).items()) if is_capture_row(m)]


class OpsPlan(object):
    """What the IDL client commits: a list of ops in one transaction."""

    def __init__(self, ops):
        self.ops = ops


def capture_port_name(token, index):
    """A netdev name (<= 15 characters) for the temporary capture port."""
    return ("cncap%s%d" % (token[:8], index))[:15]


def mirror_ops(targets, run_id):
    """One add_mirror op per mirror target (target['capture_port'] and ['mirror'] set)."""
    ops = []
    for t in targets:
        if t["method"] != "mirror":
            continue
        ext = {MARK: MARK_CAPTURE, RUN_KEY: run_id}
        ops.append({"kind": "add_mirror", "bridge": t["bridge"], "name": t["mirror"],
                    "select": [t["port"]], "output_port": t["capture_port"],
                    "external_ids": ext})
    return ops


def unmirror_ops(world, mirrors):
    """The ops that remove our mirrors (and their capture ports) still present in `world`.
    mirrors: [{bridge, name, output_port}]."""
    ops = []
    for m in mirrors:
        row = (world.get("mirrors") or {}).get(m["name"])
        port = world["ports"].get(m["output_port"])
        if row is not None and is_capture_row(row):
            ops.append({"kind": "del_mirror", "bridge": row["bridge"], "name": m["name"]})
        if port is not None and is_capture_row(port):
            ops.append({"kind": "del_port", "bridge": port["bridge"], "name": m["output_port"]})
    return ops


def nft_isolation(table, device):
    """An nftables script: drop everything the kernel would receive on `device` (the capture
    port): tcpdump's packet socket sees frames before the netdev ingress hook, the host's IP
    stack does not."""
    return ("table netdev %s {\n  chain ingress {\n    type filter hook ingress device \"%s\" "
            "priority -500; policy drop;\n  }\n}\n" % (table, device))
