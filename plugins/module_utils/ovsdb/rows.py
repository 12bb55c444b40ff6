# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one decoder of OVSDB rows: RFC 7047 JSON (one `select` transaction, `ovs-vsctl
--format=json --data=json list`, or the IDL replica's rows turned into the same JSON) into the
engine's plain world (vswitch/world.py), with the uuid of every row by name."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import empty_world

# Only what the engine reads or writes. (The Python IDL does not monitor columns registered
# as "readonly" at all, so the status columns vswitchd writes are registered like the rest.)
COLUMNS = {
    "Open_vSwitch": ["bridges", "next_cfg", "cur_cfg", "external_ids"],
    "Bridge": ["name", "ports", "datapath_type", "fail_mode", "stp_enable", "other_config",
               "external_ids", "mirrors"],
    "Port": ["name", "interfaces", "tag", "trunks", "vlan_mode", "bond_mode", "lacp",
             "other_config", "external_ids"],
    "Interface": ["name", "type", "external_ids", "mtu_request", "options", "ofport", "error",
                  "mac_in_use", "link_state", "admin_state", "mtu", "link_speed"],
    # The capture module's temporary mirrors.
    "Mirror": ["name", "select_src_port", "select_dst_port", "output_port", "external_ids"],
}
OPTIONAL = {"fail_mode", "tag", "vlan_mode", "bond_mode", "lacp", "mtu_request", "ofport",
            "error", "mac_in_use", "link_state"}


# What a read selects: the columns above, each row with its _uuid (references are resolved by
# world_from_json).
SELECT = tuple((table, ["_uuid"] + columns) for table, columns in COLUMNS.items())


def _j_atom(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _j_set(value):
    """OVSDB JSON: ["set", [...]] for 0 or 2+ elements, the bare atom for exactly one."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return [_j_atom(v) for v in value[1]]
    return [_j_atom(value)]


def _j_opt(value):
    items = _j_set(value)
    return items[0] if items else None


def _j_map(value):
    return {k: _j_atom(v) for k, v in value[1]} if isinstance(value, list) else {}


def world_from_json(tables):
    """The engine's world from OVSDB rows in RFC 7047 JSON ({table: [row dicts]}: the IDL
    client's select, or parse_vsctl_lists()), plus {(table, name): uuid}."""
    w, uuids = empty_world(), {}
    root = (tables.get("Open_vSwitch") or [{}])[0]
    w["ovs"]["external_ids"] = _j_map(root.get("external_ids", ["map", []]))
    for key in ("cur_cfg", "next_cfg"):          # ovs-vswitchd applied cur_cfg of next_cfg
        if isinstance(root.get(key), int):
            w["ovs"][key] = root[key]
    ports = {_j_atom(r["_uuid"]): r for r in tables["Port"]}
    ifaces = {_j_atom(r["_uuid"]): r for r in tables["Interface"]}
    for br in tables["Bridge"]:
        name = br["name"]
        uuids[("Bridge", name)] = _j_atom(br["_uuid"])
        members = [ports[u] for u in _j_set(br["ports"]) if u in ports]
        w["bridges"][name] = {
            "datapath_type": br["datapath_type"], "fail_mode": _j_opt(br["fail_mode"]),
            "stp_enable": bool(br["stp_enable"]), "other_config": _j_map(br["other_config"]),
            "external_ids": _j_map(br["external_ids"]),
            "ports": sorted(p["name"] for p in members)}
        for port in members:
            uuids[("Port", port["name"])] = _j_atom(port["_uuid"])
            its = [ifaces[u] for u in _j_set(port["interfaces"]) if u in ifaces]
            w["ports"][port["name"]] = {
                "bridge": name, "interfaces": sorted(i["name"] for i in its),
                "tag": _j_opt(port["tag"]), "trunks": sorted(_j_set(port["trunks"])),
                "vlan_mode": _j_opt(port["vlan_mode"]), "bond_mode": _j_opt(port["bond_mode"]),
                "lacp": _j_opt(port["lacp"]), "other_config": _j_map(port["other_config"]),
                "external_ids": _j_map(port["external_ids"])}
            for i in its:
                uuids[("Interface", i["name"])] = _j_atom(i["_uuid"])
                w["interfaces"][i["name"]] = interface_from_json(i, port["name"])
        mirrors = {_j_atom(r["_uuid"]): r for r in tables.get("Mirror", [])}
        for m in (mirrors[u] for u in _j_set(br.get("mirrors", ["set", []])) if u in mirrors):
            out = [ports[u]["name"] for u in _j_set(m["output_port"]) if u in ports]
            w.setdefault("mirrors", {})[m["name"]] = {
                "bridge": name, "external_ids": _j_map(m["external_ids"]),
                "select_src_port": sorted(ports[u]["name"] for u in _j_set(m["select_src_port"])
                                          if u in ports),
                "select_dst_port": sorted(ports[u]["name"] for u in _j_set(m["select_dst_port"])
                                          if u in ports),
                "output_port": out[0] if out else None}
    return w, uuids


def interface_from_json(row, port):
    """One Interface row (RFC 7047 JSON) as the world holds it, in port `port`."""
    return {"port": port, "type": row["type"], "external_ids": _j_map(row["external_ids"]),
            "mtu_request": _j_opt(row["mtu_request"]), "ofport": _j_opt(row["ofport"]),
            "error": _j_opt(row["error"]), "mac_in_use": _j_opt(row["mac_in_use"]),
            "options": _j_map(row["options"]), "link_state": _j_opt(row["link_state"]),
            "admin_state": _j_opt(row["admin_state"]), "mtu": _j_opt(row["mtu"]),
            "link_speed": _j_opt(row.get("link_speed", ["set", []]))}


def interfaces_of(world, names):
    """The status of the interfaces `names` (after ovs-vswitchd applied a change)."""
    return {n: dict(i, port=None) for n, i in world["interfaces"].items() if n in names}
