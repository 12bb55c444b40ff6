# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The world: a plain snapshot of one host that the planner reads and predicts. ovsdb/ reads
bridges, ports and interfaces (by name) from OVSDB, host/kernel.py links and routes from the
kernel; this file holds what every wing asks of it (our mark, a port's role, a vnet found by
MAC or iface-id) and the facts a task returns (`gathered`, `before`, `after`)."""

from __future__ import annotations

import marshal
import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError

# Our mark on every row we create (or adopt): external_ids key -> role. The capture's
# temporary mirrors carry it too, with the value "capture" (capture/targets.py).
MARK = "cloudnet-vswitch"
ROLE_VSWITCH, ROLE_UPLINK, ROLE_VNET, ROLE_INTERNAL = "vswitch", "uplink", "vnet", "internal"
# Keys that libvirt / os-vif write on a VM's interface; never removed by us.
LIBVIRT_KEYS = ("iface-id", "attached-mac", "vm-id", "iface-status", "vm-uuid")

# OVS's own defaults, used to report effective values and to reset in replaced/overridden.
OVS_DEFAULTS = {"mac_aging_time": 300, "mac_table_size": 8192}  # ofproto/ofproto.h

# Declarative column table for the bridge: option -> (column, map key or None).
BRIDGE_COLUMNS = {
    "datapath_type": ("datapath_type", None),
    "fail_mode": ("fail_mode", None),
    "stp": ("stp_enable", None),
    "mac_aging_time": ("other_config", "mac-aging-time"),
    "mac_table_size": ("other_config", "mac-table-size"),
}

# other_config keys owned by a dedicated option; a user map must not set them.
BRIDGE_RESERVED_KEYS = {"mac-aging-time": "mac_aging_time", "mac-table-size": "mac_table_size",
                        "hwaddr": "internal.mac"}


# Vnet options -> (table, column).
VNET_COLUMNS = {
    "tag": ("Port", "tag"),
    "trunks": ("Port", "trunks"),
    "vlan_mode": ("Port", "vlan_mode"),
    "mtu_request": ("Interface", "mtu_request"),
}

WORLD_KEY = {"Bridge": "bridges", "Port": "ports", "Interface": "interfaces"}
_VNET_NAME_RE = re.compile(r"^(vnet|tap|vif|macvtap)\d")


def empty_world():
    return {"ovs": {"external_ids": {}}, "bridges": {}, "ports": {}, "interfaces": {},
            "links": {}, "routes": []}


def new_link():
    """A kernel link the planner predicts (an internal port ovs-vswitchd will create)."""
    return {"mac": None, "addresses": [], "dynamic": [], "master": None, "operstate": None,
            "up": False}


def static_addresses(link):
    """A link's configured addresses: its global ones but those with a lifetime (SLAAC, a DHCP
    lease), which the kernel or a DHCP client keeps and would bring back."""
    dynamic = set(link.get("dynamic") or ())
    return sorted(a for a in link.get("addresses", []) if a not in dynamic)


def new_iface(port, **columns):
    """An Interface row the planner predicts, with ovs-vswitchd's status columns still empty."""
    iface = {"port": port, "type": "", "external_ids": {}, "mtu_request": None, "ofport": None,
             "error": None, "mac_in_use": None, "options": {}, "link_state": None,
             "link_speed": None}
    iface.update(columns)
    return iface


def copy_world(world):
    """A deep copy of a world (plain dicts, lists, strings, numbers): marshal does it in C,
    ten times faster than copy.deepcopy on a 1,000-port host, with every type kept."""
    return marshal.loads(marshal.dumps(world))


def check_bridge(world, bridge, option="bridge"):
    """ParamError naming `option` unless `bridge` (None: any) is a vSwitch of `world`."""
    if bridge is not None and bridge not in world["bridges"]:
        raise ParamError(option, "%r is not a vSwitch on this host (there are: %s)" % (
            bridge, ", ".join(sorted(world["bridges"])) or "none"))


def foreign_owner(world, name):
    """Who else owns bridge `name` (NetworkManager, OVN, ...), or None."""
    br = world["bridges"].get(name)
    if br is None:
        return None
    ids = br["external_ids"]
    if any(k.startswith("NM.") for k in ids):
        return "NetworkManager (external_ids %s)" % sorted(k for k in ids if k.startswith("NM."))
    ovs_ids = world["ovs"].get("external_ids", {})
    integration = ovs_ids.get("ovn-bridge") or ("br-int" if "ovn-remote" in ovs_ids else None)
    if integration == name:
        return "OVN (the integration bridge named by Open_vSwitch external_ids:ovn-bridge)"
    if "bridge-id" in ids or "ovn-bridge-mappings" in ids:
        return "another controller (external_ids %s)" % sorted(
            k for k in ids if k in ("bridge-id", "ovn-bridge-mappings"))
    owner = ids.get("owner") or ids.get("managed-by")
    if owner and owner != MARK:
        return "%s (external_ids owner)" % owner
    return None


def port_role(world, pname):
    """uplink | vnet | internal | other, from our marks, libvirt's keys and the port's shape."""
    port = world["ports"][pname]
    mark = port["external_ids"].get(MARK)
    if mark in (ROLE_UPLINK, ROLE_VNET, ROLE_INTERNAL):
        return mark
    ifaces = [world["interfaces"][i] for i in port["interfaces"] if i in world["interfaces"]]
    if pname == port["bridge"] and any(i["type"] == "internal" for i in ifaces):
        return ROLE_INTERNAL
    if any(k in i["external_ids"] for i in ifaces for k in LIBVIRT_KEYS) or \
            _VNET_NAME_RE.match(pname):
        return ROLE_VNET
    if len(ifaces) > 1 or (ifaces and ifaces[0]["type"] in ("", "system")):
        return ROLE_UPLINK
    return "other"


def plugged_by_libvirt(world, pname):
    return any(k in world["interfaces"][i]["external_ids"] for i in world["ports"][pname]
               ["interfaces"] if i in world["interfaces"] for k in LIBVIRT_KEYS)


def is_ours(row):
    return MARK in row["external_ids"]


def find_vnet(world, vnet):
    """The port name of a desired vnet in the world, or None. attached_mac / iface_id first:
    libvirt's vnetN names change on every VM start."""
    for key, ext in (("attached_mac", "attached-mac"), ("iface_id", "iface-id")):
        if key in vnet:
            for _name, iface in sorted(world["interfaces"].items()):
                value = iface["external_ids"].get(ext)
                if value is not None and iface.get("port") and \
                        (value.lower() if key == "attached_mac" else value) == vnet[key]:
                    return iface["port"]
    name = vnet.get("name")
    port = world["ports"].get(name) if name else None
    if port is not None and port["interfaces"] == [name]:
        return name
    return None


def _number(value):
    """An other_config number as an int (a string someone else wrote stays a string)."""
    return int(value) if value is not None and value.isdigit() else value


def _opt(value):
    return None if value in (None, [], "") else value


def bridge_facts(world, name):
    """One vSwitch in the module's config shape: what `gathered`, `before` and `after` show."""
    br = world["bridges"][name]
    other = dict(br["other_config"])
    facts = {
        "name": name,
        "datapath_type": br["datapath_type"] or "system",
        "fail_mode": _opt(br["fail_mode"]),
        "stp": bool(br["stp_enable"]),
        "mac_aging_time": _number(other.pop("mac-aging-time", None)),
        "mac_table_size": _number(other.pop("mac-table-size", None)),
        "other_config": {k: v for k, v in other.items() if k != "hwaddr"},
        "external_ids": dict(br["external_ids"]),
        "uplink": None,
        "internal": {"addresses": static_addresses(world["links"].get(name, {})),
                     "mac": other.get("hwaddr")},
        "vnets": [],
    }
    for pname in sorted(br["ports"]):
        port = world["ports"][pname]
        role = port_role(world, pname)
        if role == ROLE_UPLINK and facts["uplink"] is None:
            up = {"interfaces": sorted(port["interfaces"]),
                  "other_config": dict(port["other_config"])}
            if len(port["interfaces"]) > 1:
                up.update(bond_name=pname, bond_mode=port["bond_mode"] or "active-backup",
                          lacp=port["lacp"] or "off")
            facts["uplink"] = up
        elif role == ROLE_VNET:
            iface = world["interfaces"].get(port["interfaces"][0], {}) if port["interfaces"] \
                else {}
            ids = iface.get("external_ids", {})
            facts["vnets"].append({
                "name": pname,
                "attached_mac": ids.get("attached-mac", "").lower() or None,
                "iface_id": ids.get("iface-id"),
                "tag": port["tag"],
                "trunks": list(port["trunks"]),
                "vlan_mode": port["vlan_mode"],
                "mtu_request": iface.get("mtu_request"),
                "external_ids": dict(ids),
            })
    return facts


def gather(world, names=None):
    names = sorted(world["bridges"]) if names is None else [n for n in names
                                                            if n in world["bridges"]]
    return [bridge_facts(world, n) for n in names]


def change_counts(before, after, pending):
    """Counts for one line per host: vSwitches, ports added / changed / removed, pending."""
    def ports(facts):
        out = {}
        for vs in facts:
            for v in vs.get("vnets", []):
                out[v["name"]] = (vs["name"], v)
            if vs.get("uplink"):
                name = vs["uplink"].get("bond_name") or vs["uplink"]["interfaces"][0]
                out[name] = (vs["name"], vs["uplink"])
        return out
    b, a = ports(before), ports(after)
    return {"vswitches": len(after), "ports_added": len(set(a) - set(b)),
            "ports_removed": len(set(b) - set(a)),
            "ports_changed": sum(1 for n in set(a) & set(b) if a[n] != b[n]),
            "pending": len(pending)}
