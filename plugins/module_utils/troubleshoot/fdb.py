# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MAC learning table (FDB) of an OVS bridge: parsers for `ovs-appctl fdb/show` (text in
every release; JSON from OVS 3.6, whose shape changed in 4.0), `fdb/stats-show` and
`ofproto/trace`, the join of entries to port names and roles, and the choice of the flow that
`explain` traces. Pure: no I/O, so every function is tested on recorded output.

Shapes handled, from the OVS sources (ofproto/ofproto-dpif.c, tests/ofproto-dpif.at):
- text, up to 3.7: header ` port  VLAN  MAC                Age`, one bridge;
- text, 4.0: header ` Port ...`; with several bridges a leading `Bridge` column that names a
  bridge on its first row only, and a name-only row for a bridge without entries;
- JSON (`ovs-appctl -f json fdb/show BR`), 3.6 and 3.7: a list of {port, vlan, mac, age | static};
- JSON, 4.0: an object keyed by bridge name, each a list as above.
The port is an OpenFlow port number (65534 is LOCAL, the bridge's internal port); a bond is shown
as one of its members.
"""

from __future__ import annotations

import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParseError

# OpenFlow's reserved port numbers that fdb/show can print by name (ofp-port.c).
OFPP_LOCAL = 65534
_RESERVED = {65534: "LOCAL", 65535: "NONE", 65533: "CONTROLLER", 65531: "FLOOD",
             65532: "ALL", 65530: "NORMAL", 65529: "TABLE", 65528: "IN_PORT"}
# OVS's defaults (ofproto/ofproto.h: OFPROTO_MAX_IDLE_DEFAULT, MAC_DEFAULT_MAX) and the clamp
# mac_learning_set_idle_time() applies to mac-aging-time (lib/mac-learning.c).
DEFAULT_AGING, DEFAULT_TABLE_SIZE = 300, 8192
MIN_AGING, MAX_AGING = 15, 3600
# fdb/show has JSON output from this release on (NEWS, v3.6.0).
JSON_SINCE = (3, 6)

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_STATS = (
    ("Current/maximum MAC entries in the table", ("current", "max")),
    ("Current static MAC entries in the table", ("static",)),
    ("Total number of learned MAC entries", ("learned",)),
    ("Total number of expired MAC entries", ("expired",)),
    ("Total number of evicted MAC entries", ("evicted",)),
    ("Total number of port moved MAC entries", ("moved",)),
)


def _entry(port, vlan, mac, age):
    static = age == "static"
    return {"port": str(port), "vlan": int(vlan), "mac": mac.lower(),
            "age": None if static else int(age), "static": static}


def parse_show_text(text, bridge=None):
    """`fdb/show` text -> {bridge: [entry]}. Entries are {port (as printed), vlan, mac, age (int
    or None), static}. Single-bridge output (every release) is filed under `bridge`; the 4.0
    multi-bridge form names its bridges itself."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return {bridge: []}
    header = lines[0].split()
    if header[-3:] != ["VLAN", "MAC", "Age"] or header[-4].lower() != "port":
        raise ParseError("not fdb/show output (header %r)" % lines[0])
    multi = header[0] == "Bridge"
    out = {} if multi else {bridge: []}
    current = bridge
    for line in lines[1:]:
        fields = line.split()
        if multi and len(fields) == 1:  # a bridge with no entries (4.0)
            current = fields[0]
            out.setdefault(current, [])
            continue
        if multi and len(fields) == 5:
            current = fields[0]
            fields = fields[1:]
        if len(fields) != 4 or not _MAC_RE.match(fields[2].lower()) or \
                not fields[1].isdigit() or not (fields[3].isdigit() or fields[3] == "static"):
            raise ParseError("unexpected fdb/show row %r" % line)
        out.setdefault(current, []).append(_entry(*fields))
    return out


def port_label(ofport):
    """An OpenFlow port number as fdb/show's text prints it (65534 -> LOCAL)."""
    return _RESERVED.get(int(ofport), str(int(ofport)))


def parse_show_json(data, bridge=None):
    """`ovs-appctl -f json fdb/show` (already json-decoded) -> {bridge: [entry]}, the same
    entries as the text parser. A list is the 3.6/3.7 form for `bridge`; an object is 4.0's."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = [(bridge, data)]
    else:
        raise ParseError("fdb/show JSON is neither a list nor an object: %r" % (data,))
    out = {}
    for name, rows in items:
        out[name] = [_entry(port_label(r["port"]), r["vlan"], r["mac"],
                            "static" if r.get("static") else r.get("age", 0)) for r in rows]
    return out


def parse_stats(text):
    """`fdb/stats-show BR` -> {current, max, static, learned, expired, evicted, moved}."""
    out = {}
    for line in (text or "").splitlines():
        if ":" not in line:
            continue
        label, _sep, value = line.rpartition(":")
        label = label.strip()
        for known, keys in _STATS:
            if label == known:
                nums = value.strip().split("/")
                if len(nums) != len(keys) or not all(n.strip().isdigit() for n in nums):
                    raise ParseError("unexpected fdb/stats-show line %r" % line)
                out.update(zip(keys, (int(n) for n in nums)))
    return out


def parse_version(text):
    """`ovs-appctl version` ('ovs-vswitchd (Open vSwitch) 3.1.0') -> (3, 1, 0), or None."""
    m = re.search(r"\(Open vSwitch\)\s+(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(x or 0) for x in m.groups()) if m else None


def has_json(version):
    return version is not None and tuple(version[:2]) >= JSON_SINCE


# --------------------------------------------------------------------------- joins

def ofport_names(world, bridge):
    """{fdb/show port label: port name} for one bridge: every interface's ofport (so a bond,
    shown as whichever member OVS lists first, maps to the bond) and LOCAL -> the bridge's
    internal port."""
    out = {}
    for pname in world["bridges"][bridge]["ports"]:
        port = world["ports"].get(pname)
        if port is None:
            continue
        for iname in port["interfaces"]:
            ofport = world["interfaces"].get(iname, {}).get("ofport")
            if isinstance(ofport, int) and ofport >= 0:
                out[port_label(ofport)] = pname
    out.setdefault("LOCAL", bridge)
    return out


def join(world, bridge, entries, role_of):
    """Entries with ofport, port_name and role added. role_of(port_name) is world.port_role
    bound to the world."""
    names = ofport_names(world, bridge)
    out = []
    for e in entries:
        pname = names.get(e["port"])
        ofport = OFPP_LOCAL if e["port"] == "LOCAL" else \
            (int(e["port"]) if e["port"].isdigit() else None)
        out.append(dict(e, ofport=ofport, port_name=pname,
                        role=role_of(pname) if pname in world["ports"] else None))
    return out


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def limits(world, bridge, stats=None):
    """(aging_time, table_size) in effect: other_config or OVS's defaults, aging clamped the
    way OVS clamps it; the table size fdb/stats-show reports wins when known."""
    other = world["bridges"][bridge].get("other_config", {})
    # vswitchd/bridge.c bridge_configure_mac_table(): unset, unparsable or 0 means the default
    aging = _int(other.get("mac-aging-time"), 0) or DEFAULT_AGING
    aging = min(max(aging, MIN_AGING), MAX_AGING)
    size = _int(other.get("mac-table-size"), 0) or DEFAULT_TABLE_SIZE
    if stats and "max" in stats:
        size = stats["max"]
    return aging, size


def filter_macs(entries, macs):
    macs = set(m.lower() for m in macs)
    return [e for e in entries if e["mac"] in macs]


# --------------------------------------------------------------------------- explain

def carries(port, vlan):
    """How port sends/receives VLAN `vlan`: 'untagged', 'tagged', or None."""
    tag = port.get("tag")
    mode = port.get("vlan_mode")
    trunks = port.get("trunks") or []
    if tag is not None and mode in (None, "access"):
        return "untagged" if tag == vlan else None
    if tag is not None and mode in ("native-untagged", "native-tagged"):
        if tag == vlan:
            return "untagged" if mode == "native-untagged" else "tagged"
    if trunks and vlan not in trunks:
        return None
    if vlan == 0:
        return "untagged"
    return "tagged"


_PREFERENCE = {"uplink": 0, "internal": 1, "other": 2, "vnet": 3}


def trace_flow(world, bridge, mac, vlan, exclude, role_of):
    """The br_flow for `ofproto/trace BR FLOW` that asks: a frame to `mac` on `vlan` entering by
    some other port, where does it go? Picks a port that carries the VLAN and is not `exclude`
    (the port the MAC is learned on): the uplink first, then the internal port, then a vnet.
    Returns (flow, in_port_name) or (None, None) when no such port exists."""
    cands = []
    for pname in world["bridges"][bridge]["ports"]:
        port = world["ports"].get(pname)
        if port is None or pname == exclude:
            continue
        how = carries(port, vlan)
        ofports = [world["interfaces"].get(i, {}).get("ofport") for i in port["interfaces"]]
        ofports = sorted(o for o in ofports if isinstance(o, int) and o > 0)
        if how is None or not ofports:
            continue
        cands.append((_PREFERENCE.get(role_of(pname), 9), pname, ofports[0], how))
    if not cands:
        return None, None
    _pref, pname, ofport, how = sorted(cands)[0]
    flow = "in_port=%s" % port_label(ofport)
    if how == "tagged":
        flow += ",dl_vlan=%d" % vlan
    return flow + ",dl_dst=%s" % mac, pname


def parse_trace(text):
    """`ofproto/trace` output -> {verdict: unicast | flood | drop | other, reason, actions}.
    The reason is NORMAL's own words (ofproto-dpif-xlate.c xlate_normal)."""
    reasons = [ln.strip()[3:].strip() for ln in (text or "").splitlines()
               if ln.strip().startswith("-> ")]
    actions = None
    for ln in (text or "").splitlines():
        if ln.startswith("Datapath actions:"):
            actions = ln.split(":", 1)[1].strip()
    verdict = "other"
    reason = reasons[-1] if reasons else None
    for r in reasons:
        if r == "forwarding to learned port":
            verdict, reason = "unicast", r
        elif r.endswith("flooding"):
            verdict, reason = "flood", r
        elif r.endswith("dropping"):
            verdict, reason = "drop", r
    if verdict == "other" and actions == "drop":
        verdict = "drop"
    return {"verdict": verdict, "reason": reason, "actions": actions}


def explain_sentence(ex):
    """One sentence for an explain result (see the fdb_info module's RETURN)."""
    where = "VLAN %d" % ex["vlan"]
    if ex["verdict"] == "unicast":
        return "A frame to %s on %s entering %s by %s goes to %s only (learned on port %s)." % (
            ex["mac"], where, ex["bridge"], ex["in_port"], ex["port_name"] or "?",
            ex["port"] or "?")
    if ex["verdict"] == "flood":
        why = ex["reason"] or "flooding"
        if why.startswith("no learned MAC"):
            why = "the FDB has no entry for it (never learned, or idle for more than the " \
                  "aging time, %s s)" % ex["aging_time"]
        return "A frame to %s on %s entering %s by %s is flooded to every port on that " \
               "VLAN: %s." % (ex["mac"], where, ex["bridge"], ex["in_port"], why)
    if ex["verdict"] == "drop":
        return "A frame to %s on %s entering %s by %s is dropped: %s." % (
            ex["mac"], where, ex["bridge"], ex["in_port"], ex["reason"] or "datapath drop")
    if ex["in_port"] is None:
        return "No port of %s other than the one that learned %s carries %s; nothing to " \
               "trace." % (ex["bridge"], ex["mac"], where)
    return ("A frame to %s on %s entering %s by %s is not switched by NORMAL alone "
            "(datapath actions: %s); see the trace."
            % (ex["mac"], where, ex["bridge"], ex["in_port"], ex["actions"]))
