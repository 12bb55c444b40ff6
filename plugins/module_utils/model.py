# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure core: validation and normalisation of a vSwitch config, the facts of a host in the
same shape, and the planner that turns (world, desired config, state) into a list of operations,
the predicted world after them, and the equivalent commands.

No I/O here. The "world" is a plain snapshot that ovsdb.py reads from OVSDB (bridges, ports and
interfaces by name) and kernel.py reads from the kernel (links with MACs, addresses, masters and
routes). The planner mutates a private copy of it while it emits operations, so the predicted
`after` is computed by the same code that decides what to change; check mode returns it as is.
"""

from __future__ import annotations

import copy
import marshal
import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    DisruptiveChange,
    MissingLibrary,
    OwnershipError,
    ParamError,
)

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module edge
    netaddr = None
    HAS_NETADDR = False


def require_netaddr():
    """MissingLibrary naming the package, where the host's Python lacks netaddr."""
    if not HAS_NETADDR:
        raise MissingLibrary("netaddr", "python3-netaddr (Debian/Ubuntu, RHEL family) or "
                             "'pip install netaddr'", "import failed")


# Our mark on every row we create (or adopt): external_ids key -> role.
MARK = "cloudnet-vswitch"
ROLE_VSWITCH, ROLE_UPLINK, ROLE_VNET, ROLE_INTERNAL = "vswitch", "uplink", "vnet", "internal"
# Keys that libvirt / os-vif write on a VM's interface; never removed by us.
LIBVIRT_KEYS = ("iface-id", "attached-mac", "vm-id", "iface-status", "vm-uuid")
# The literal that clears an optional column in `merged` (YAML null means "leave as is").
CLEAR = "none"

STATES = ("merged", "replaced", "overridden", "deleted", "gathered", "rendered")
DATAPATH_TYPES = ("system", "netdev")
FAIL_MODES = ("standalone", "secure")
BOND_MODES = ("active-backup", "balance-slb", "balance-tcp")
LACP_MODES = ("off", "active", "passive")
VLAN_MODES = ("access", "trunk", "native-tagged", "native-untagged", "dot1q-tunnel")

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

_WORLD_KEY = {"Bridge": "bridges", "Port": "ports", "Interface": "interfaces"}
# Interface, bridge, port and bond names: what Linux and OVS names are made of in practice
# (eth0, enp3s0f1, br-ex, vlan.10, tap1a2b3c4d-5e, vxlan_sys_4789); no shell metacharacters.
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")
_VNET_NAME_RE = re.compile(r"^(vnet|tap|vif|macvtap)\d")


# --------------------------------------------------------------------------- validation

def check_ifname(value, path):
    if not isinstance(value, str) or not _IFNAME_RE.match(value):
        raise ParamError(path, "%r is not a valid interface name (1-15 characters: letters, "
                               "digits, '_', '.', '-')" % (value,))
    return value


_ifname = check_ifname


_MAC_RE = re.compile(r"^[0-9A-Fa-f]{1,2}([:-][0-9A-Fa-f]{1,2}){5}$"
                     r"|^[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}$")


def normalize_mac(value, path):
    """A MAC written with separators (52:54:00:12:34:56, 52-54-..., 5254.0012.3456). netaddr
    alone would also take a bare number, which is what YAML makes of an unquoted MAC (base 60):
    that is refused with a hint instead of silently becoming another MAC."""
    if isinstance(value, str) and _MAC_RE.match(value) and netaddr.valid_mac(value):
        return str(netaddr.EUI(value, dialect=netaddr.mac_unix_expanded)).lower()
    hint = " (an unquoted MAC in YAML is read as a number: quote it)" \
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()) else ""
    raise ParamError(path, "%r is not a valid MAC address%s" % (value, hint))


def _host_mac(value, path):
    """A MAC a host may use as its own: unicast and not all zero."""
    mac = normalize_mac(value, path)
    if int(mac[:2], 16) & 1 or mac == "00:00:00:00:00:00":
        raise ParamError(path, "%r is a %s MAC; an internal port needs a unicast one"
                         % (value, "zero" if mac == "00:00:00:00:00:00" else "multicast"))
    return mac


def normalize_cidr(value, path):
    """An interface address with its prefix length, e.g. 203.0.113.10/24 or 2001:db8::10/64."""
    if isinstance(value, str) and "/" in value:
        try:
            net = netaddr.IPNetwork(value)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            net = None
        if net is not None and str(value).split("/")[1].isdigit():
            return "%s/%d" % (net.ip, net.prefixlen)
    raise ParamError(path, "%r is not an address with prefix length (CIDR), e.g. "
                           "203.0.113.10/24" % (value,))


def _vlan(value, path):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        else:
            raise ParamError(path, "%r is not a VLAN ID (0-4095)" % (value,))
    if not 0 <= value <= 4095:
        raise ParamError(path, "%r is outside the VLAN range 0-4095" % (value,))
    return value


def _trunks(value, path):
    """A list of VLAN IDs or 'a-b' ranges -> sorted unique list of ints."""
    if not isinstance(value, list):
        raise ParamError(path, "%r is not a list of VLAN IDs" % (value,))
    out = set()
    for i, item in enumerate(value):
        p = "%s[%d]" % (path, i)
        if isinstance(item, str) and re.match(r"^\d+-\d+$", item):
            lo, hi = (_vlan(int(x), p) for x in item.split("-"))
            if lo > hi:
                raise ParamError(p, "%r is an empty VLAN range" % (item,))
            out.update(range(lo, hi + 1))
        else:
            out.add(_vlan(item, p))
    return sorted(out)


def _int_range(value, path, lo, hi, what):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        else:
            raise ParamError(path, "%r is not an integer (%s)" % (value, what))
    if not lo <= value <= hi:
        raise ParamError(path, "%r is outside %d-%d (%s)" % (value, lo, hi, what))
    return value


def _choice(value, path, choices):
    if value not in choices:
        raise ParamError(path, "%r is not one of %s" % (value, ", ".join(choices)))
    return value


def _strmap(value, path):
    if not isinstance(value, dict):
        raise ParamError(path, "%r is not a mapping of strings" % (value,))
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or any(c in k for c in '="'):
            raise ParamError("%s.%s" % (path, k), "%r is not a valid key" % (k,))
        if v is None:
            out[k] = None  # remove this key
        elif isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (str, int, float)):
            out[k] = str(v)
        else:
            raise ParamError("%s.%s" % (path, k), "%r is not a string" % (v,))
    return out


def _clearable(value, path, convert):
    """None: leave as is; 'none': clear; anything else: converted."""
    if value is None:
        return None
    if isinstance(value, str) and value.lower() == CLEAR:
        return CLEAR
    return convert(value, path)


def normalize_vnet(vnet, path):
    if not isinstance(vnet, dict):
        raise ParamError(path, "%r is not a mapping" % (vnet,))
    out = {}
    if vnet.get("name") is not None:
        out["name"] = _ifname(vnet["name"], path + ".name")
    if vnet.get("attached_mac") is not None:
        out["attached_mac"] = normalize_mac(vnet["attached_mac"], path + ".attached_mac")
    if vnet.get("iface_id") is not None:
        if not isinstance(vnet["iface_id"], str) or not vnet["iface_id"].strip():
            raise ParamError(path + ".iface_id", "%r is not a valid iface-id" % (vnet["iface_id"],))
        out["iface_id"] = vnet["iface_id"]
    if not out:
        raise ParamError(path, "a vnet needs at least one of name, attached_mac, iface_id")
    checks = {
        "tag": _vlan,
        "trunks": _trunks,
        "vlan_mode": lambda v, p: _choice(v, p, VLAN_MODES),
        "mtu_request": lambda v, p: _int_range(v, p, 68, 65535, "MTU"),
    }
    for key, convert in checks.items():
        if key == "trunks":
            if vnet.get(key) is not None:
                out[key] = convert(vnet[key], "%s.%s" % (path, key))
        else:
            value = _clearable(vnet.get(key), "%s.%s" % (path, key), convert)
            if value is not None:
                out[key] = value
    if vnet.get("external_ids") is not None:
        out["external_ids"] = _strmap(vnet["external_ids"], path + ".external_ids")
    out["precreate"] = bool(vnet.get("precreate"))
    out["state"] = vnet.get("state") or "present"
    return out


def normalize_uplink(uplink, path):
    if not isinstance(uplink, dict):
        raise ParamError(path, "%r is not a mapping" % (uplink,))
    if uplink.get("state") == "absent":  # the uplink module's state: absent
        return {"state": "absent"}
    ifaces = uplink.get("interfaces")
    if not isinstance(ifaces, list) or not ifaces:
        raise ParamError(path + ".interfaces", "%r: give one NIC, or two or more for a bond"
                         % (ifaces,))
    names = [_ifname(n, "%s.interfaces[%d]" % (path, i)) for i, n in enumerate(ifaces)]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ParamError("%s.interfaces[%d]" % (path, i), "%r is listed twice" % (n,))
    out = {"interfaces": names}
    bond_keys = [k for k in ("bond_name", "bond_mode", "lacp") if uplink.get(k) is not None]
    if len(names) == 1:
        if bond_keys:
            raise ParamError(path + "." + bond_keys[0], "a bond needs two or more interfaces; "
                             "got one (%s)" % names[0])
    else:
        if uplink.get("bond_name") is None:
            raise ParamError(path + ".bond_name", "required with two or more interfaces")
        out["bond_name"] = _ifname(uplink["bond_name"], path + ".bond_name")
        if out["bond_name"] in names:
            raise ParamError(path + ".bond_name", "%r is also a member's name" % out["bond_name"])
        if uplink.get("bond_mode") is not None:
            out["bond_mode"] = _choice(uplink["bond_mode"], path + ".bond_mode", BOND_MODES)
        if uplink.get("lacp") is not None:
            out["lacp"] = _choice(uplink["lacp"], path + ".lacp", LACP_MODES)
    if uplink.get("other_config") is not None:
        out["other_config"] = _strmap(uplink["other_config"], path + ".other_config")
    return out


def normalize_vswitch(vs, path, state):
    if not isinstance(vs, dict):
        raise ParamError(path, "%r is not a mapping" % (vs,))
    out = {"name": _ifname(vs.get("name"), path + ".name")}
    if state == "deleted":
        return out
    if vs.get("datapath_type") is not None:
        out["datapath_type"] = _choice(vs["datapath_type"], path + ".datapath_type",
                                       DATAPATH_TYPES)
    fail_mode = _clearable(vs.get("fail_mode"), path + ".fail_mode",
                           lambda v, p: _choice(v, p, FAIL_MODES))
    if fail_mode is not None:
        out["fail_mode"] = fail_mode
    for key, hi in (("mac_aging_time", 86400 * 365), ("mac_table_size", 1 << 20)):
        value = _clearable(vs.get(key), "%s.%s" % (path, key),
                           lambda v, p, hi=hi, key=key: _int_range(v, p, 1, hi, key))
        if value is not None:
            out[key] = value
    if vs.get("stp") is not None:
        if not isinstance(vs["stp"], bool):
            raise ParamError(path + ".stp", "%r is not a boolean" % (vs["stp"],))
        out["stp"] = vs["stp"]
    for key in ("other_config", "external_ids"):
        if vs.get(key) is not None:
            out[key] = _strmap(vs[key], "%s.%s" % (path, key))
    for key, option in BRIDGE_RESERVED_KEYS.items():
        if key in out.get("other_config", {}):
            raise ParamError("%s.other_config.%s" % (path, key), "set it with the option %s"
                             % option)
    if vs.get("uplink") is not None:
        out["uplink"] = normalize_uplink(vs["uplink"], path + ".uplink")
    if vs.get("internal") is not None:
        internal = vs["internal"]
        if not isinstance(internal, dict):
            raise ParamError(path + ".internal", "%r is not a mapping" % (internal,))
        norm = {}
        if internal.get("addresses") is not None:
            if not isinstance(internal["addresses"], list):
                raise ParamError(path + ".internal.addresses", "%r is not a list"
                                 % (internal["addresses"],))
            norm["addresses"] = [normalize_cidr(a, "%s.internal.addresses[%d]" % (path, i))
                                 for i, a in enumerate(internal["addresses"])]
        mac = internal.get("mac")
        if mac is not None:
            norm["mac"] = "uplink" if mac == "uplink" else _host_mac(mac, path
                                                                     + ".internal.mac")
        out["internal"] = norm
    if vs.get("vnets") is not None:
        if not isinstance(vs["vnets"], list):
            raise ParamError(path + ".vnets", "%r is not a list" % (vs["vnets"],))
        out["vnets"] = [normalize_vnet(v, "%s.vnets[%d]" % (path, i))
                        for i, v in enumerate(vs["vnets"])]
        _no_duplicate_vnets(out["vnets"], path + ".vnets")
    return out


def _no_duplicate_vnets(vnets, path):
    seen = {}
    for i, v in enumerate(vnets):
        for key in ("name", "attached_mac", "iface_id"):
            if key in v:
                if (key, v[key]) in seen:
                    raise ParamError("%s[%d].%s" % (path, i, key), "%r is also given in %s[%d]"
                                     % (v[key], path, seen[(key, v[key])]))
                seen[(key, v[key])] = i


def normalize_config(config, state):
    """Validate and normalise the module's `config`; raise ParamError naming the field."""
    if config is None:
        config = []
    if not isinstance(config, list):
        raise ParamError("config", "%r is not a list of vSwitches" % (config,))
    out = [normalize_vswitch(vs, "config[%d]" % i, state) for i, vs in enumerate(config)]
    seen = {}
    for i, vs in enumerate(out):
        if vs["name"] in seen:
            raise ParamError("config[%d].name" % i, "%r is also config[%d]"
                             % (vs["name"], seen[vs["name"]]))
        seen[vs["name"]] = i
    # A NIC may be the uplink of one vSwitch only; a vnet may sit on one vSwitch only.
    owners, vnet_owners = {}, {}
    for i, vs in enumerate(out):
        for j, nic in enumerate(vs.get("uplink", {}).get("interfaces", [])):
            if nic in owners or nic in seen:
                raise ParamError("config[%d].uplink.interfaces[%d]" % (i, j),
                                 "%r is also used by %s" % (nic, owners.get(nic, nic)))
            owners[nic] = vs["name"]
        for j, v in enumerate(vs.get("vnets", [])):
            for key in ("name", "attached_mac", "iface_id"):
                if key in v and (key, v[key]) in vnet_owners:
                    raise ParamError("config[%d].vnets[%d].%s" % (i, j, key),
                                     "%r is also listed under %s"
                                     % (v[key], vnet_owners[(key, v[key])]))
                if key in v:
                    vnet_owners[(key, v[key])] = vs["name"]
    return out


# --------------------------------------------------------------------------- world helpers

def empty_world():
    return {"ovs": {"external_ids": {}}, "bridges": {}, "ports": {}, "interfaces": {},
            "links": {}, "routes": []}


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


def _plugged_by_libvirt(world, pname):
    return any(k in world["interfaces"][i]["external_ids"] for i in world["ports"][pname]
               ["interfaces"] if i in world["interfaces"] for k in LIBVIRT_KEYS)


def _is_ours(row):
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


# --------------------------------------------------------------------------- facts

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
        "internal": {"addresses": sorted(world["links"].get(name, {}).get("addresses", [])),
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


# --------------------------------------------------------------------------- operations

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
        import shlex

        out = []
        clauses = []
        for op in self.ops:
            clauses.extend(vsctl_clauses(op))
        if clauses:
            argv = ["ovs-vsctl"]
            for c in clauses:
                argv += ["--"] + c
            out.append(" ".join(shlex.quote(a) for a in argv))
        out.extend(" ".join(shlex.quote(a) for a in argv) for argv in self.kernel)
        return out


def _vsctl_value(value):
    """A value in ovs-vsctl's column syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return "[" + ",".join(_vsctl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join('"%s"=%s' % (k, _vsctl_value(v)) for k, v in sorted(value.items())) \
            + "}"
    return '"%s"' % str(value).replace('"', '\\"') if re.search(r'[^\w.\-]', str(value)) \
        else str(value)


def _vsctl_sets(columns):
    """column=value arguments; maps as column:key=value so they merge like our setkey."""
    out = []
    for column, value in sorted(columns.items()):
        if isinstance(value, dict):
            out += ["%s:%s=%s" % (column, k, _vsctl_value(v)) for k, v in sorted(value.items())]
        else:
            out.append("%s=%s" % (column, _vsctl_value(value)))
    return out


def vsctl_clauses(op):
    """ovs-vsctl argv clauses (without the separating '--') for one op."""
    kind = op["kind"]
    if kind == "add_bridge":
        out = [["add-br", op["name"]]]
        for table, columns in (("Bridge", op["columns"]), ("Port", op["port_columns"])):
            sets = _vsctl_sets(columns)
            if sets:
                out.append(["set", table, op["name"]] + sets)
        return out
    if kind == "del_bridge":
        return [["del-br", op["name"]]]
    if kind == "set":
        if op["value"] in (None, [], {}):
            return [["clear", op["table"], op["name"], op["column"]]]
        return [["set", op["table"], op["name"], "%s=%s" % (op["column"],
                                                            _vsctl_value(op["value"]))]]
    if kind == "setkey":
        return [["set", op["table"], op["name"], '%s:%s=%s' % (op["column"], op["key"],
                                                               _vsctl_value(op["value"]))]]
    if kind == "delkey":
        return [["remove", op["table"], op["name"], op["column"], op["key"]]]
    if kind == "add_port":
        ifaces = op["interfaces"]
        if len(ifaces) == 1 and ifaces[0]["name"] == op["name"]:
            out = [["add-port", op["bridge"], op["name"]]]
        elif len(ifaces) > 1:
            out = [["add-bond", op["bridge"], op["name"]] + [i["name"] for i in ifaces]]
        else:  # one interface named unlike its port: create both rows explicitly
            out = [["--id=@%s" % ifaces[0]["name"], "create", "Interface",
                    "name=%s" % ifaces[0]["name"]],
                   ["--id=@%s" % op["name"], "create", "Port", "name=%s" % op["name"],
                    "interfaces=@%s" % ifaces[0]["name"]],
                   ["add", "Bridge", op["bridge"], "ports", "@%s" % op["name"]]]
        sets = _vsctl_sets(op["columns"])
        if sets:
            out.append(["set", "Port", op["name"]] + sets)
        for i in ifaces:
            sets = _vsctl_sets(i["columns"])
            if sets:
                out.append(["set", "Interface", i["name"]] + sets)
        return out
    if kind == "del_port":
        return [["del-port", op["bridge"], op["name"]]]
    if kind == "move_port":
        # ovs-vsctl cannot move a row; the closest equivalent re-adds the port.
        return [["del-port", op["from_bridge"], op["name"]], ["add-port", op["bridge"], op["name"]]]
    if kind == "add_iface":
        out = [["add", "Port", op["port"], "interfaces", "@%s" % op["name"]],
               ["--id=@%s" % op["name"], "create", "Interface", "name=%s" % op["name"]]]
        return out
    if kind == "del_iface":
        return [["remove", "Port", op["port"], "interfaces", "[Interface]%s" % op["name"]]]
    raise ValueError("unknown op %r" % kind)


# --------------------------------------------------------------------------- planner

def copy_world(world):
    """A deep copy of a world (plain dicts, lists, strings, numbers): marshal does it in C,
    ten times faster than copy.deepcopy on a 1,000-port host, with every type kept."""
    return marshal.loads(marshal.dumps(world))


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
        return self.w[_WORLD_KEY[table]][name]

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
        self.w["links"].setdefault(name, {"mac": None, "addresses": [], "master": None,
                                          "operstate": "DOWN", "up": False})

    def _add_port(self, bridge, name, columns, interfaces, record=True):
        self.w["ports"][name] = {"bridge": bridge, "interfaces": [i["name"] for i in interfaces],
                                 "tag": None, "trunks": [], "vlan_mode": None, "bond_mode": None,
                                 "lacp": None, "other_config": {}, "external_ids": {}}
        self.w["ports"][name].update(copy.deepcopy(columns))
        for i in interfaces:
            iface = {"port": name, "type": "", "external_ids": {}, "mtu_request": None,
                     "ofport": None, "error": None, "mac_in_use": None, "options": {},
                     "link_state": None}
            iface.update(copy.deepcopy(i["columns"]))
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
        self.w["interfaces"][name] = {"port": port, "type": "", "external_ids": {},
                                      "mtu_request": None, "ofport": None, "error": None,
                                      "mac_in_use": None, "options": {}, "link_state": None}
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
        target = self.w["links"].setdefault(bridge, {"mac": None, "addresses": [],
                                                     "master": None, "up": False})
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
            argv = ["route", "replace", r["dst"]]
            if r.get("gateway"):
                argv += ["via", r["gateway"]]
            argv += ["dev", bridge]
            if r.get("metric") is not None:
                argv += ["metric", str(r["metric"])]
            if r.get("family") == 6:
                argv = ["-6"] + argv
            self._ip(*argv)
            r["dev"] = bridge
        self.plan.warnings.append("migrating %s's addresses and routes onto %s" % (nic, bridge))

    def _link_up(self, name):
        link = self.w["links"].setdefault(name, {"mac": None, "addresses": [], "master": None,
                                                 "up": False})
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
        if mac is not None or ("uplink" in vs and vs.get("uplink") is None and self.replace):
            self._setkey("Bridge", bridge, "other_config", "hwaddr", mac)
            if mac is not None:
                self.w["links"].setdefault(bridge, {"addresses": [], "up": False})["mac"] = mac
        if "addresses" not in internal and not self.replace:
            return
        want = internal.get("addresses", [])
        link = self.w["links"].setdefault(bridge, {"mac": None, "addresses": [],
                                                   "master": None, "up": False})
        if want:
            self._link_up(bridge)
        for addr in want:
            if addr not in link["addresses"]:
                self._ip("address", "add", addr, "dev", bridge)
                link["addresses"] = sorted(link["addresses"] + [addr])
        if self.replace:
            for addr in list(link["addresses"]):
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
                        _is_ours(self.w["ports"][pname]):
                    self._del_port(pname)

    def _vnet(self, bridge, vnet, path):
        pname = find_vnet(self.w, vnet)
        if vnet.get("state") == "absent":
            if pname:
                port = self.w["ports"][pname]
                if not _is_ours(port) and not self.adopt:
                    raise OwnershipError(path, "port %r was not created by cloudnet.vswitch; "
                                         "set adopt: true to remove it" % pname)
                self._del_port(pname)
            return None
        if pname is None:
            name = vnet.get("name")
            if not name or (name not in self.w["links"] and not vnet.get("precreate")
                            and not self.offline):
                label = "%s/%s" % (bridge, vnet.get("attached_mac") or vnet.get("iface_id")
                                   or name)
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
            if port["bridge"] != bridge:
                if foreign_owner(self.w, port["bridge"]) and not self.adopt:
                    raise OwnershipError(path, "port %r sits on %s, which belongs to %s"
                                         % (pname, port["bridge"],
                                            foreign_owner(self.w, port["bridge"])))
                self._move_port(pname, bridge)
            if self.adopt and not _plugged_by_libvirt(self.w, pname):
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
        if not _is_ours(br) and not self.adopt:
            raise OwnershipError(path, "bridge %r was not created by cloudnet.vswitch; set "
                                 "adopt: true to delete it" % name)
        foreign = [p for p in br["ports"] if p != name and not _is_ours(self.w["ports"][p])]
        if foreign and not self.adopt:
            raise OwnershipError(path, "bridge %r carries ports that cloudnet.vswitch did not "
                                 "create (%s); set adopt: true to delete them with it"
                                 % (name, ", ".join(sorted(foreign))))
        addrs = self.w["links"].get(name, {}).get("addresses", [])
        if addrs:
            self._disruptive(path, "deleting %s removes its addresses %s" % (name,
                                                                             ", ".join(addrs)))
        self._del_bridge(name)

    def purge_stale_vnets(self, bridges):
        for bname in bridges:
            for pname in sorted(self.w["bridges"].get(bname, {}).get("ports", [])):
                if port_role(self.w, pname) != ROLE_VNET:
                    continue
                ifaces = [self.w["interfaces"][i] for i in self.w["ports"][pname]["interfaces"]]
                gone = [i for i in self.w["ports"][pname]["interfaces"]
                        if i not in self.w["links"]]
                if gone or any(i.get("error") for i in ifaces):
                    self.plan.warnings.append("removing stale vnet %s from %s" % (pname, bname))
                    self._del_port(pname)


def summarize(before, after, pending):
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


def plan(world, config, state, **options):
    """Plan one task: returns a Plan whose .world is the predicted world after it."""
    planner = Planner(world, state, **options)
    if state in ("merged", "replaced", "overridden", "rendered"):
        for i, vs in enumerate(config):
            planner.vswitch(vs, "config[%d]" % i)
    if state == "overridden":
        listed = {vs["name"] for vs in config}
        for name in sorted(world["bridges"]):
            if name not in listed and _is_ours(world["bridges"][name]):
                planner.delete_bridge(name, "config (overridden: %s is not listed)" % name)
    if state == "deleted":
        names = [vs["name"] for vs in config] or sorted(
            n for n, b in world["bridges"].items() if _is_ours(b))
        for i, name in enumerate(names):
            planner.delete_bridge(name, "config[%d]" % i if config else "config")
    if planner.purge_stale and state in ("overridden", "deleted"):
        planner.purge_stale_vnets([vs["name"] for vs in config] or
                                  sorted(n for n, b in world["bridges"].items() if _is_ours(b)))
    return planner.plan


# --------------------------------------------------------------------------- guarded apply

# The configuration columns of a row (what re-creating it must write back); the rest of what
# the world holds (ofport, error, link_state, ...) is status that ovs-vswitchd writes.
_CONFIG = {
    "Bridge": ("datapath_type", "fail_mode", "stp_enable", "other_config", "external_ids"),
    "Port": ("tag", "trunks", "vlan_mode", "bond_mode", "lacp", "other_config", "external_ids"),
    "Interface": ("type", "external_ids", "mtu_request", "options"),
}


def _config_of(table, row):
    return {c: copy.deepcopy(row[c]) for c in _CONFIG[table]
            if row.get(c) not in (None, [], {}, "") and not (c == "stp_enable" and not row[c])}


def management_links(world, addresses):
    """{link: address} for the links holding one of `addresses` (the addresses the controller
    reaches the host by; bare IPs, compared without their prefix length)."""
    import netaddr

    wanted = set()
    for a in addresses or ():
        try:
            wanted.add(netaddr.IPAddress(str(a).split("/", 1)[0].strip("[]")))
        except (netaddr.AddrFormatError, ValueError):
            continue
    out = {}
    for name, link in sorted(world["links"].items()):
        for cidr in link.get("addresses", []):
            if netaddr.IPAddress(cidr.split("/")[0]) in wanted:
                out[name] = cidr
    return out


def _op_bridge_and_port(world, op):
    """(bridge, port) an OVSDB op acts on, in `world` (the world before it); port None for
    bridge-level ops."""
    kind = op["kind"]
    if kind in ("add_bridge", "del_bridge"):
        return op["name"], None
    if kind in ("add_port", "del_port", "move_port"):
        return op["bridge"], op["name"]
    if kind in ("add_iface", "del_iface"):
        port = world["ports"].get(op["port"])
        return (port["bridge"] if port else None), op["port"]
    table, name = op.get("table"), op.get("name")
    if table == "Bridge":
        return name, None
    if table == "Interface":
        name = (world["interfaces"].get(name) or {}).get("port")
    port = world["ports"].get(name)
    return (port["bridge"] if port else None), name


def management_reasons(plan, links):
    """Why `plan` touches what carries the management connection: one sentence per reason.
    `links` is management_links() of the world before. Vnet-only changes never count."""
    reasons = []
    before, after = plan.before_world, plan.world
    for link, cidr in sorted(links.items()):
        port = before["interfaces"].get(link, {}).get("port")
        bridge = before["ports"][port]["bridge"] if port in before["ports"] else None
        if link in before["bridges"]:
            bridge = link            # the management address sits on an internal port
        for argv in plan.kernel:
            if "dev" in argv and argv[argv.index("dev") + 1] == link:
                reasons.append("%s, which holds the management address %s: %s"
                               % (link, cidr, " ".join(argv)))
                break
        for op in plan.ops:
            br, pname = _op_bridge_and_port(before, op)
            if op["kind"] in ("add_port", "add_iface") and \
                    link in [i["name"] if isinstance(i, dict) else i
                             for i in op.get("interfaces", [op.get("name")])]:
                reasons.append("%s, which holds the management address %s, becomes a port of "
                               "%s" % (link, cidr, br))
                break
            if bridge is None or br != bridge:
                continue
            world = before if pname in before["ports"] else after
            if pname is not None and pname in world["ports"] and \
                    port_role(world, pname) == ROLE_VNET:
                continue
            what = "%s %s" % (op["kind"], pname or op.get("column") or "")
            reasons.append("%s carries the management address %s (on %s) and the change "
                           "touches it (%s)" % (bridge, cidr, link, what.strip()))
            break
    return reasons


class _Undo(Planner):
    """The planner's emitters, driven by a committed plan's ops instead of a config."""

    def __init__(self, world):
        super().__init__(world, "merged", adopt=True, allow_disruptive=True)

    def ops(self, before, ops):
        kept = []
        start = copy_world(self.w)
        for op in reversed(ops):
            getattr(self, "_undo_" + op["kind"])(before, op, kept)
        # A bridge the undo deletes takes its rows along: drop the ops that restored them.
        gone = {op["name"] for op in self.plan.ops if op["kind"] == "del_bridge"}
        self.plan.ops = [op for op in self.plan.ops if op["kind"] == "del_bridge" or
                         _op_bridge_and_port(start, op)[0] not in gone]
        self.plan.warnings.extend(kept)
        return self.plan

    def _restore_key(self, before, table, name, column, key):
        if name not in self.w[_WORLD_KEY[table]]:
            return
        row = before[_WORLD_KEY[table]].get(name)
        self._setkey(table, name, column, key, row[column].get(key) if row else None)

    def _undo_setkey(self, before, op, kept):
        self._restore_key(before, op["table"], op["name"], op["column"], op["key"])

    _undo_delkey = _undo_setkey

    def _undo_set(self, before, op, kept):
        row = before[_WORLD_KEY[op["table"]]].get(op["name"])
        if row is not None and op["name"] in self.w[_WORLD_KEY[op["table"]]]:
            self._set(op["table"], op["name"], op["column"], copy.deepcopy(row[op["column"]]))

    def _undo_add_port(self, before, op, kept):
        if op["name"] in self.w["ports"] and op["name"] not in before["ports"]:
            self._del_port(op["name"])

    def _undo_add_iface(self, before, op, kept):
        port = self.w["ports"].get(op["port"])
        if port and op["name"] in port["interfaces"] and len(port["interfaces"]) > 1:
            self._del_iface(op["port"], op["name"])

    def _undo_del_iface(self, before, op, kept):
        port = self.w["ports"].get(op["port"])
        if port and op["name"] not in port["interfaces"] and op["name"] not in self.w["interfaces"]:
            self._add_iface(op["port"], op["name"])

    def _undo_move_port(self, before, op, kept):
        port = self.w["ports"].get(op["name"])
        if port and port["bridge"] == op["bridge"] and op["from_bridge"] in self.w["bridges"]:
            self._move_port(op["name"], op["from_bridge"])

    def _readd_port(self, before, pname):
        port = before["ports"][pname]
        if pname in self.w["ports"] or any(i in self.w["interfaces"]
                                           for i in port["interfaces"]):
            return  # back already (libvirt re-plugged it), or its NIC is used elsewhere
        self._add_port(port["bridge"], pname, _config_of("Port", port),
                       [{"name": i, "columns": _config_of("Interface", before["interfaces"][i])}
                        for i in port["interfaces"]])

    def _undo_del_port(self, before, op, kept):
        if op["name"] in before["ports"] and op["bridge"] in self.w["bridges"]:
            self._readd_port(before, op["name"])

    def _undo_add_bridge(self, before, op, kept):
        name = op["name"]
        if name not in self.w["bridges"] or name in before["bridges"]:
            return
        others = [p for p in self.w["bridges"][name]["ports"] if p != name]
        if others:  # plugged since (a VM started on the new vSwitch): keep it and them
            kept.append("kept %s: ports %s were added to it after the change"
                        % (name, ", ".join(others)))
            return
        self._del_bridge(name)

    def _undo_del_bridge(self, before, op, kept):
        name = op["name"]
        if name in self.w["bridges"] or name not in before["bridges"]:
            return
        br = before["bridges"][name]
        self._add_bridge(name, _config_of("Bridge", br))
        self._set("Bridge", name, "external_ids", dict(br["external_ids"]))
        self._set("Port", name, "external_ids", dict(before["ports"][name]["external_ids"]))
        for pname in br["ports"]:
            if pname != name:
                self._readd_port(before, pname)


def undo(world, before, ops):
    """The inverse of a committed plan: ops that bring every row, column and key `ops` touched
    back to what `before` held, planned against the current `world` and committed like any
    plan (verified, so a concurrent change re-plans instead of being overwritten). Rows that
    appeared since (libvirt re-plugging a VM) are left alone."""
    return _Undo(world).ops(before, ops)


def undo_kernel(before, links, routes, names):
    """`ip` argv lists that give the links in `names` back the addresses, master, up state and
    (migrated) routes they had in `before`; addresses the change put on them are removed.
    `links` / `routes` are the kernel now."""
    out = []
    for name in sorted(names):
        was, now = before["links"].get(name), links.get(name)
        if not was or not now:
            continue
        if was.get("master") not in (None, "ovs-system") and now.get("master") != was["master"]:
            out.append(["ip", "link", "set", "dev", name, "master", was["master"]])
        if was.get("up") and not now.get("up"):
            out.append(["ip", "link", "set", "dev", name, "up"])
        for addr in now.get("addresses", []):
            if addr not in was.get("addresses", []):
                out.append(["ip", "address", "del", addr, "dev", name])
        for addr in was.get("addresses", []):
            if addr not in now.get("addresses", []):
                out.append(["ip", "address", "add", addr, "dev", name])

    def key(r):
        return (r["family"], r["dst"], r["dev"], r.get("gateway"), r.get("metric"))

    have = {key(r) for r in routes}
    for r in before["routes"]:
        if r["dev"] in names and r.get("migrate") and key(r) not in have and r["dev"] in links:
            argv = ["route", "replace", r["dst"]]
            if r.get("gateway"):
                argv += ["via", r["gateway"]]
            argv += ["dev", r["dev"]]
            if r.get("metric") is not None:
                argv += ["metric", str(r["metric"])]
            out.append(["ip"] + (["-6"] if r["family"] == 6 else []) + argv)
    return out


def kernel_names(plan):
    """Every link a plan's kernel commands or OVSDB ops name: what undo_kernel must restore."""
    names = set()
    for argv in plan.kernel:
        if "dev" in argv:
            names.add(argv[argv.index("dev") + 1])
    for op in plan.ops:
        if op["kind"] in ("add_bridge", "del_bridge"):
            names.add(op["name"])
        for i in op.get("interfaces", []):
            names.add(i["name"] if isinstance(i, dict) else i)
        if op["kind"] in ("add_iface", "del_iface", "add_port", "del_port", "move_port"):
            names.add(op["name"])
    return names
