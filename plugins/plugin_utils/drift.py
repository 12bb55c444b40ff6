# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: what differs between a host's vSwitches as the inventory declares them and as they
live, one row per object and field. The vswitch module computes both sides itself: run in check
mode with the inventory's config and state replaced, its `before` is the live state and its
`after` what the inventory would make of it; a field that differs is drift. vSwitches the host
has and the inventory does not list are drift too (replaced never touches them). Pure."""

from __future__ import annotations

import json
import re

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown


def _flat(value, path, out):
    if isinstance(value, dict):
        for key, sub in value.items():
            _flat(sub, path + (key,), out)
    elif isinstance(value, list) and value and all(isinstance(x, dict) and x.get("name")
                                                   for x in value):
        for item in value:                    # vnets: one object each, by port name
            _flat({k: v for k, v in item.items() if k != "name"}, path + (item["name"],), out)
    else:
        out[path] = value


def show(value):
    """A value as the report shows it: unset for nothing (OVS's default applies), JSON for
    lists and maps."""
    if value in (None, [], {}, ""):
        return "unset"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _object(vs, path, vnets):
    if path[:1] == ("vnets",) and len(path) > 1:
        mac = vnets.get(path[1])
        return "%s vnet %s%s" % (vs, path[1], " (%s)" % mac if mac else ""), path[2:]
    return vs, path


def rows(host, before, after, live_names=()):
    """[{host, object, field, declared, live}] sorted: the inventory's vSwitches as the vswitch
    module found them (`before`) against what it would make of them (`after`), and the live
    vSwitches (`live_names`) the inventory does not list."""
    out = []
    b = {vs["name"]: vs for vs in before or []}
    for vs in after or []:
        name = vs["name"]
        if name not in b:
            out.append({"host": host, "object": name, "field": "vSwitch",
                        "declared": "present", "live": "missing"})
            continue
        fb, fa = {}, {}
        _flat(b[name], (), fb)
        _flat(vs, (), fa)
        vnets = {v["name"]: v.get("attached_mac") for v in (b[name].get("vnets") or [])}
        for path in sorted(set(fb) | set(fa), key=lambda p: tuple(str(x) for x in p)):
            live, declared = fb.get(path), fa.get(path)
            if show(live) == show(declared):
                continue
            obj, field = _object(name, path, vnets)
            out.append({"host": host, "object": obj, "field": ".".join(map(str, field)),
                        "declared": show(declared), "live": show(live)})
    listed = {vs["name"] for vs in after or []} | set(b)
    for name in sorted(set(live_names) - listed):
        out.append({"host": host, "object": name, "field": "vSwitch",
                    "declared": "absent (not in the inventory)", "live": "present"})
    return out


# The OVSDB column a drift field lives in (field: its last part), where it is not its own name.
COLUMNS = {"mac_aging_time": "other_config", "mac_table_size": "other_config",
           "mtu": "mtu_request", "stp": "stp_enable", "vSwitch": None}
_INVOKED = re.compile(r"^(\S+) \(invoked by (.+?)\): (.*)$")


def uplink_port(vswitch):
    """The OVSDB Port of a vSwitch's uplink (as the vswitch module returns it): the bond, or
    the one NIC; None without one."""
    up = (vswitch or {}).get("uplink") or {}
    nics = up.get("interfaces") or []
    return up.get("bond_name") or (nics[0] if len(nics) == 1 else None)


def changed_by(row, history, uplink=None):
    """The last transaction in OVSDB's log (vswitch_info's `history`) that touched the drift
    row's object - its port's row, the uplink's Port (`uplink`, for an uplink.* field), or its
    vSwitch's - in the column the field lives in (a vSwitch: created or deleted): 'TIME UTC,
    ovs-vsctl invoked by bash: COMMAND' (or the transaction's comment as it is), None when the
    log does not tell."""
    names = re.findall(r"[\w.-]+", row["object"].split(" (")[0])
    name = names[-1] if names else None
    if row["field"].startswith("uplink.") and uplink:
        name = uplink
    field = row["field"].split(".")[-1]
    column = COLUMNS.get(field, field)
    for txn in reversed((history or {}).get("transactions") or []):
        for r in txn["rows"]:
            if r["row"] != name:
                continue
            if field == "vSwitch":
                hit = r["table"] == "Bridge" and r["op"] in ("insert", "delete")
            else:
                hit = column in r["columns"]
            if hit:
                return "%s UTC, %s" % (txn["time"][:19], _who(txn.get("comment")))
    return None


def _who(comment):
    m = _INVOKED.match(comment or "")
    if m:
        return "%s invoked by %s: %s" % m.groups()
    return comment or "(no comment)"


def _live_boot(vs):
    """(the internal port's addresses, the uplinks' NICs) of a vSwitch as vswitch_info read it."""
    addresses, nics = [], []
    for p in vs.get("ports") or []:
        if p.get("role") == "internal" and p.get("name") == vs["name"]:
            # those with a lifetime (SLAAC, a DHCP lease) come back by themselves, not by a file
            dynamic = set(p.get("dynamic_addresses") or ())
            addresses = [a for a in p.get("addresses") or [] if a not in dynamic]
        elif p.get("role") == "uplink":
            nics += [m["name"] for m in (p.get("bond") or {}).get("members") or []] or \
                [p["name"]]
    return sorted(addresses), sorted(nics)


def boot_rows(host, vswitches, network_files):
    """[{host, object, field, declared, live, changed}]: what the files provision.yml persisted
    (vswitch_info's `network_files`) would bring back at the next boot against what lives - an
    address added by hand is gone after it, one removed comes back, a NIC added to the uplink
    stays down. Its `declared` is the file's. Nothing where the host persists nothing."""
    out = []
    live = {vs["name"]: _live_boot(vs) for vs in vswitches or []}
    persisted = {}
    for f in network_files or []:
        persisted.setdefault(f["vswitch"], f)

    def row(name, field, declared, now, changed="-"):
        out.append({"host": host, "object": name, "field": field, "declared": declared,
                    "live": now, "changed": changed})

    for name, f in sorted(persisted.items()):
        said = ifupdown.boot(f["backend"], f["text"], name)
        written = "%s written %s UTC" % (f["path"], f["modified"])
        if said["error"]:
            row(name, "network file at boot", "readable", "unreadable: %s" % said["error"], written)
            continue
        if name not in live:
            row(name, "vSwitch at boot", "brought up by %s" % f["path"], "missing", written)
            continue
        addresses, nics = live[name]
        if said["addresses"] != addresses:
            row(name, "internal.addresses at boot", show(said["addresses"]), show(addresses),
                written)
        if said["uplinks"] is not None and said["uplinks"] != nics:
            row(name, "uplink.interfaces at boot", show(said["uplinks"]), show(nics), written)
    if persisted:           # this collection's vSwitches only: another manager's bridge
        ours = {vs["name"] for vs in vswitches or [] if vs.get("ours")}   # persists elsewhere
        for name, (addresses, _nics) in sorted(live.items()):
            if name not in persisted and name in ours and addresses:
                row(name, "internal.addresses at boot", "unset (no file)", show(addresses))
    return out
