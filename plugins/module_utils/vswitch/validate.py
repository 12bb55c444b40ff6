# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of a vSwitch config: what argument_spec cannot say (names, MACs,
CIDRs, VLANs, cross-field and cross-vSwitch rules). Every error is a ParamError with the path
of the field (`config[1].uplink.interfaces[0]`) and the value."""

from __future__ import annotations

import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    MissingLibrary,
    ParamError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.spec import (
    BOND_MODES,
    CLEAR,
    DATAPATH_TYPES,
    FAIL_MODES,
    LACP_MODES,
    VLAN_MODES,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    BRIDGE_RESERVED_KEYS,
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
                             "'pip install netaddr'", "import failed",
                             package="python3-netaddr")


# Interface, bridge, port and bond names: what Linux and OVS names are made of in practice
# (eth0, enp3s0f1, br-ex, vlan.10, tap1a2b3c4d-5e, vxlan_sys_4789); no shell metacharacters.
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")


def check_ifname(value, path):
    if not isinstance(value, str) or not _IFNAME_RE.match(value):
        raise ParamError(path, "%r is not a valid interface name (1-15 characters: letters, "
                               "digits, '_', '.', '-')" % (value,))
    return value


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


def group_mac(mac):
    """Whether a MAC (aa:bb:cc:dd:ee:ff) is a group address, multicast or broadcast: the
    individual/group bit of its first octet."""
    return bool(int(mac.split(":")[0], 16) & 1)


def _host_mac(value, path):
    """A MAC a host may use as its own: unicast and not all zero."""
    mac = normalize_mac(value, path)
    if group_mac(mac) or mac == "00:00:00:00:00:00":
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
        out["name"] = check_ifname(vnet["name"], path + ".name")
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
    names = [check_ifname(n, "%s.interfaces[%d]" % (path, i)) for i, n in enumerate(ifaces)]
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
        out["bond_name"] = check_ifname(uplink["bond_name"], path + ".bond_name")
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
    out = {"name": check_ifname(vs.get("name"), path + ".name")}
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


def check_timeout(value, path="timeout"):
    if value is None or value < 1:
        raise ParamError(path, "%r is not a number of seconds (1 or more)" % (value,))
    return value


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
